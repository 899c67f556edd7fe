"""Peak memory of a monolithic solve against the estimate that ``limits.py`` checks before allocating (issue 9).

Each size runs in a fresh interpreter: generate (seed 7), load, generate plans, build, solve (LP, relax-and-fix),
and report the peak resident memory after plan generation and after the solve, beside the two estimates.

Usage: python bench/memory_bench.py [--sizes 2000 10000 40000 100000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, tempfile
from pathlib import Path
from optimizer.data import load_instance
from optimizer.generate import generate
from optimizer.limits import plans_memory_mb, solve_memory_mb
from optimizer.model import build_model
from optimizer.plans import build_plans, build_templates
from optimizer.scenario import Scenario
from optimizer.solve import optimize

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 * 1.048576  # KiB -> MB

n = int(sys.argv[1])
with tempfile.TemporaryDirectory() as tmp:
    generate(n, seed=7, out=Path(tmp))
    sc = Scenario.model_validate({"name": "mem", "data": tmp, "solver": {"time_limit": 3600}})
    inst = load_instance(tmp)
    templates = len(build_templates(inst.measures, sc.plans.max_measures).labels)
    plans = build_plans(inst, sc)
    after_plans = peak()
    model, index = build_model(inst, sc, plans)
    optimize(model, index, inst, sc, lambda msg: None)
    print(json.dumps({"households": n, "templates": templates, "plans": len(plans.table), "peak_plans": after_plans,
                      "peak_solve": peak(), "estimate_plans": plans_memory_mb(n, templates),
                      "estimate_solve": solve_memory_mb(n, len(plans.table))}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000, 40000, 100000])
    args = parser.parse_args()
    print("| households | plans | peak after plans (MB) | estimate (MB) | peak after solve (MB) | estimate (MB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        out = subprocess.run([sys.executable, "-c", CHILD, str(n)], capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"| {r['households']:,} | {r['plans']:,} | {r['peak_plans']:,.0f} | {r['estimate_plans']:,.0f} | "
            f"{r['peak_solve']:,.0f} | {max(r['estimate_plans'], r['estimate_solve']):,.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
