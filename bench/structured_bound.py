"""How close the structured bound (laminar relaxation, DESIGN §4) comes to the full model's LP bound.

For each instance (generated with seed 7, and the sample) it measures in one run: the full model's LP
relaxation with HiGHS (the bound every solve reports), the structured bound, and, to see where the
difference comes from, the LP of the same instance with co-financing removed and then with every fund
unearmarked ("any"), the relaxations the structured bound makes one by one.
Usage: python bench/structured_bound.py [--sizes 2000 10000] [--sample data/sample]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from optimizer.data import Instance, build_instance, load_instance
from optimizer.generate import generate
from optimizer.model import build_model
from optimizer.plans import build_plans
from optimizer.scenario import Scenario
from optimizer.solvers import SolveOptions, get_backend
from optimizer.structured import structured_bound
from results_io import write_results  # noqa: E402

SCENARIO = Scenario.model_validate({"name": "bound", "data": "unused"})


def _lp(instance: Instance) -> tuple[float, float]:
    plans = build_plans(instance, SCENARIO)
    model, _ = build_model(instance, SCENARIO, plans)
    out = get_backend("highs").solve(model.relaxed(), SolveOptions(time_limit=1800))
    return out.objective, out.seconds


def measure(name: str, instance: Instance) -> dict[str, object]:
    row: dict[str, object] = {"instance": name, "households": instance.n_households}
    t = time.perf_counter()
    plans = build_plans(instance, SCENARIO)
    row["plans_s"] = time.perf_counter() - t
    t = time.perf_counter()
    row["structured_bound"] = structured_bound(instance, SCENARIO, plans)
    row["structured_s"] = time.perf_counter() - t
    row["lp_bound"], row["lp_s"] = _lp(instance)
    row["excess"] = row["structured_bound"] / row["lp_bound"] - 1  # type: ignore[operator]
    funds = instance.funds.assign(co_financing=0.0)
    row["lp_no_cofinancing"], _ = _lp(instance.replace(funds=funds))
    row["lp_no_cofinancing_any_category"], _ = _lp(instance.replace(funds=funds.assign(categories="any")))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[2_000, 10_000])
    parser.add_argument("--sample", default="data/sample", help="input folder to measure too (empty: none)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.sizes:
        inst = build_instance({k: v.astype(str) for k, v in generate(n, seed=7).items()}, source=f"generated {n}")
        rows.append(measure(f"generated, seed 7, {n:,}", inst))
        print(json.dumps(rows[-1], indent=1), flush=True)
    if args.sample:
        rows.append(measure("data/sample", load_instance(args.sample)))
        print(json.dumps(rows[-1], indent=1), flush=True)
    df = pd.DataFrame(rows)
    lines = [
        "| instance | households | LP bound (HiGHS) | LP time (s) | structured bound | structured time (s) | above the LP bound "
        "| LP without co-financing | LP without co-financing and earmarks |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in df.to_dict("records"):
        lines.append(
            f"| {r['instance']} | {r['households']:,} | {r['lp_bound']:,.2f} | {r['lp_s']:.1f} | {r['structured_bound']:,.2f} | {r['structured_s']:.3f} "
            f"| +{r['excess']:.2%} | {r['lp_no_cofinancing']:,.2f} | {r['lp_no_cofinancing_any_category']:,.2f} |"
        )
    write_results(df, args.out, "structured_bound", lines)


if __name__ == "__main__":
    main()
