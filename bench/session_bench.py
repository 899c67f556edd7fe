"""What-if re-solves in an analyst's session at county-decomposition scale (issue 8: a provincial run must be
interactive): the base scenario solved in a :class:`optimizer.compare.Session`, then a what-if on upper-level money
in the same session (its workers kept the county models), against the same what-if solved in a fresh session.

    .venv/bin/python bench/session_bench.py --sizes 100000 1000000 --what-if funds.level.central=x0.9

Instances as in ``decompose_bench.py`` (partitioned Parquet, seed 7, under ``bench/results/instances/``), each
loaded whole by the session once (the load is timed apart). Every figure comes from one process per size, run one
after the other; writes ``bench/results/<name>.csv`` and ``<name>.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from results_io import instance_folder, markdown_table, write_results

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"


def one(folder: str, what_if: str, workers: int) -> None:
    """Base, warm what-if and fresh what-if of one instance; print the figures as JSON (run in its own process)."""
    from optimizer.compare import Session
    from optimizer.scenario import Scenario, parse_value

    key, value = what_if.split("=", 1)
    base = Scenario(name="base", data=folder, solver={"time_limit": 1800.0})
    edited = base.with_overrides({"name": "what-if", key: parse_value(value, "--what-if")})
    t = time.perf_counter()

    def say(msg: str) -> None:
        print(f"  {time.perf_counter() - t:7.1f} s  {msg}", file=sys.stderr, flush=True)

    figures: dict[str, float] = {}
    with Session(progress=say, workers=workers) as session:
        session.instance(base)
        figures["load_seconds"] = time.perf_counter() - t
        for name, scenario in (("base", base), ("warm", edited)):
            s = time.perf_counter()
            result = session.solve(scenario)
            figures[f"{name}_seconds"] = time.perf_counter() - s
            m = result.manifest
            figures.update({f"{name}_objective": m["objective"], f"{name}_gap": m["gap"], f"{name}_rounds": m["decomposition"]["rounds"]})
            figures[f"{name}_kept"] = m["decomposition"].get("kept_models", 0)
    with Session(progress=say, workers=workers) as fresh:
        fresh.instance(edited)
        s = time.perf_counter()
        m = fresh.solve(edited).manifest
        figures.update(fresh_seconds=time.perf_counter() - s, fresh_objective=m["objective"], fresh_gap=m["gap"], fresh_rounds=m["decomposition"]["rounds"])
    figures["counties"] = m["decomposition"]["counties"]
    print(json.dumps(figures), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    ap.add_argument("--what-if", default="funds.level.central=x0.9", help="one scenario override KEY=VALUE on upper-level money")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--name", default="session")
    ap.add_argument("--one", nargs=2, metavar=("FOLDER", "WHAT_IF"))
    args = ap.parse_args()
    if args.one:
        one(args.one[0], args.one[1], args.workers)
        return
    rows = []
    for n in args.sizes:
        folder = instance_folder(OUT, n)
        print(f"{n:,} households: base, then {args.what_if} warm in the same session and in a fresh one", flush=True)
        cmd = [sys.executable, __file__, "--one", str(folder), args.what_if, f"--workers={args.workers}"]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(f"the session run of {n:,} households failed (exit {done.returncode})")
        rows.append({"households": n, "what_if": args.what_if, "workers": args.workers, **json.loads(done.stdout.strip().splitlines()[-1])})
        df = pd.DataFrame(rows).assign(ratio=lambda d: d["warm_seconds"] / d["fresh_seconds"], diff=lambda d: d["warm_objective"] / d["fresh_objective"] - 1)
        columns = [("households", "{r.households:,}"), ("what-if", "{r.what_if}"), ("load (s)", "{r.load_seconds:.1f}"),
                   ("base (s)", "{r.base_seconds:.1f}"), ("what-if, same session (s)", "{r.warm_seconds:.1f}"),
                   ("what-if, fresh session (s)", "{r.fresh_seconds:.1f}"), ("same / fresh", "{r.ratio:.2f}"),
                   ("models kept", "{r.warm_kept:,} of {r.counties:,}"), ("rounds same / fresh", "{r.warm_rounds} / {r.fresh_rounds}"),
                   ("objective same / fresh", "{r.warm_objective:,.2f} / {r.fresh_objective:,.2f}"), ("difference", "{r.diff:+.4%}"),
                   ("gap same / fresh", "{r.warm_gap:.4%} / {r.fresh_gap:.4%}")]  # fmt: skip
        write_results(df, OUT, args.name, markdown_table(df, columns))


if __name__ == "__main__":
    main()
