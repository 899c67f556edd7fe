"""Multi-year model (2016-2020) decomposed by county against the monolithic multi-year model (issues 8 and 10),
on partitioned instances from ``generate_partitioned(n, seed=7)`` (about 2,500 households per county). Each run
is a fresh process; the decomposed runs read the folder through the Dask workers.

    .venv/bin/python bench/decompose_years_bench.py --sizes 20000 --monolithic-up-to 20000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUN = """
import json, sys, time
from optimizer.multiyear import solve_multiyear
from optimizer.scenario import Scenario
if __name__ == "__main__":
    folder, method, workers, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    sc = Scenario.model_validate({"name": "bench", "data": folder, "helpers": {"assign": False},
        "solver": {"time_limit": limit, "gap": 0.005}, "years": {"first": 2016, "last": 2020, "relocation_rate": 0.05}})
    t = time.perf_counter()
    r = solve_multiyear(sc, method=method, workers=workers)
    m = r.manifest
    if method == "monolithic":
        from optimizer.multiyear import verify_multiyear
        from optimizer.storage import load_source
        assert verify_multiyear(r, load_source(folder), sc) == []
    print(json.dumps({"seconds": time.perf_counter() - t, "objective": m["objective"], "bound": m["bound"], "gap": m["gap"],
                      "rounds": m.get("decomposition", {}).get("rounds"), "columns": m["model"]["columns"]}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20000])
    ap.add_argument("--workers", type=int, nargs="+", default=[2])
    ap.add_argument("--monolithic-up-to", type=int, default=20000)
    ap.add_argument("--time-limit", type=float, default=1800.0)
    args = ap.parse_args()
    from optimizer.generate import generate_partitioned

    print("| households | method | workers | wall time (s) | objective | bound | gap | rounds |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        folder = Path(tempfile.mkdtemp()) / f"inst{n}"
        generate_partitioned(n, folder, seed=7)
        runs = [("decomposed", w) for w in args.workers] + ([("monolithic", 1)] if n <= args.monolithic_up_to else [])
        for method, w in runs:
            t = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", RUN, str(folder), method, str(w), str(args.time_limit)], capture_output=True, text=True,
                                  timeout=args.time_limit * 2 + 600)  # fmt: skip
            if done.returncode != 0:
                why = done.stderr.strip().splitlines()[-1][:120]
                print(f"| {n:,} | {method} | {w} | failed after {time.perf_counter() - t:.0f} s: {why} |||||", flush=True)
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            ww = w if method == "decomposed" else ""
            figures = f"{r['seconds']:.1f} | {r['objective']:,.2f} | {r['bound']:,.2f} | {r['gap']:.3%} | {r['rounds'] or ''}"
            print(f"| {n:,} | {method} | {ww} | {figures} |", flush=True)


if __name__ == "__main__":
    main()
