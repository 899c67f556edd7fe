"""Benchmark of the exact structured LP (DESIGN §4, issue 8) against HiGHS on the laminar family.

Instances: ``optimizer.generate.laminar_instance`` (the generator's region tree with villages of about 50
households, 5 plans per household, money at every region of all six levels, one budget row per region).
For each size in ``--compare`` it solves, in one run and on the same instance, the structured greedy and the
same LP with HiGHS (dual simplex; interior point without crossover), and reports times, ratios, the relative
difference of the optimum and the fractional households. For each size in ``--alone`` it runs the greedy
alone in a fresh process and reports its time and the peak resident memory of that process.
Usage: python bench/structured_lp.py [--compare 10000 100000] [--alone 1000000 10000000] [--cap 600]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.generate import laminar_instance
from optimizer.solvers import SolveOptions, get_backend
from optimizer.structured import lagrangian_bound, laminar_model, solve_laminar

SEED = 7


def _fractional(x: np.ndarray, plan_hh: np.ndarray) -> int:
    """Households with more than one plan at a weight strictly between 0 and 1."""
    mixed = (x > 1e-6) & (x < 1 - 1e-6)
    return int(len(np.unique(plan_hh[mixed])))


def compare(size: int, cap: float) -> dict[str, object]:
    problem = laminar_instance(size, seed=SEED)
    row: dict[str, object] = {"households": size, "plans": len(problem.cost), "budget_rows": int((problem.budget > 0).sum())}
    times = []
    for _ in range(3):
        t = time.perf_counter()
        sol = solve_laminar(problem)
        times.append(time.perf_counter() - t)
    row["structured_s"] = float(np.median(times))  # median of 3 (the machine is shared)
    row["structured_value"] = sol.value
    row["structured_fractional"] = sol.fractional
    row["dual_gap"] = lagrangian_bound(problem, sol.shadow_price) - sol.value
    t = time.perf_counter()
    model = laminar_model(problem)
    row["model_build_s"] = time.perf_counter() - t
    row["lp_columns"], row["lp_rows"] = model.shape[1], model.shape[0]
    highs = get_backend("highs")
    for name in ("simplex", "ipm-no-crossover"):
        out = highs.solve(model, SolveOptions(time_limit=cap, algorithm=name))
        key = name.replace("-", "_")
        row[f"{key}_status"] = out.status.value
        row[f"{key}_s"] = out.seconds
        if out.x is not None and out.status.value == "optimal":
            row[f"{key}_value"] = out.objective
            row[f"{key}_rel_diff"] = (out.objective - sol.value) / abs(sol.value)
            row[f"{key}_fractional"] = _fractional(out.x[: len(problem.cost)], problem.plan_hh)
        row[f"{key}_ratio"] = out.seconds / row["structured_s"]  # type: ignore[operator]
    return row


def alone(size: int, repeat: int) -> dict[str, object]:
    """One size in this process (called through a subprocess so that peak memory is its own); the solve is
    repeated and the median and best wall times reported (the machine is shared)."""
    t = time.perf_counter()
    problem = laminar_instance(size, seed=SEED)
    gen_s = time.perf_counter() - t
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        sol = solve_laminar(problem)
        times.append(time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {
        "households": size,
        "plans": len(problem.cost),
        "generate_s": gen_s,
        "structured_s": float(np.median(times)),
        "structured_best_s": min(times),
        "repeats": repeat,
        "value": sol.value,
        "fractional": sol.fractional,
        "peak_before_solve_gib": before,
        "peak_rss_gib": peak,
    }


def _formatter(row: dict[str, object]):  # type: ignore[no-untyped-def]
    def cell(key: str, fmt: str) -> str:
        v = row.get(key)
        return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, fmt)

    return cell


def markdown(cmp: pd.DataFrame, solo: pd.DataFrame) -> str:
    lines = [
        "| households | plans | budget rows | structured (s) | HiGHS simplex (s) | simplex / structured | HiGHS IPM, no crossover (s) "
        "| IPM / structured | optimum: structured | rel. diff. simplex | rel. diff. IPM | fractional households: structured / simplex |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in cmp.to_dict("records"):
        cell = _formatter(r)
        simplex = cell("simplex_s", ".1f") if r["simplex_status"] == "optimal" else f"> {r['simplex_s']:.0f} (stopped)"
        ipm = cell("ipm_no_crossover_s", ".1f") if r["ipm_no_crossover_status"] == "optimal" else f"> {r['ipm_no_crossover_s']:.0f} (stopped)"
        lines.append(
            f"| {r['households']:,} | {r['plans']:,} | {r['budget_rows']:,} | {r['structured_s']:.3f} | {simplex} | {r['simplex_ratio']:,.0f}x "
            f"| {ipm} | {r['ipm_no_crossover_ratio']:,.0f}x | {r['structured_value']:,.4f} | {cell('simplex_rel_diff', '.1e')} "
            f"| {cell('ipm_no_crossover_rel_diff', '.1e')} | {r['structured_fractional']} / {cell('simplex_fractional', '.0f')} |"
        )
    lines += ["", "| households | plans | structured LP, median (s) | best (s) | repeats | peak RSS of the process (GiB) | peak before the solve (GiB) |"]
    lines += ["|---:|---:|---:|---:|---:|---:|---:|"]
    for r in solo.to_dict("records"):
        lines.append(
            f"| {r['households']:,} | {r['plans']:,} | {r['structured_s']:.2f} | {r['structured_best_s']:.2f} | {r['repeats']} | {r['peak_rss_gib']:.2f} "
            f"| {r['peak_before_solve_gib']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--alone", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--cap", type=float, default=600.0, help="HiGHS time limit per solve (s)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--repeat", type=int, default=3, help="solves per size in --alone")
    parser.add_argument("--reuse-compare", action="store_true", help="take the comparison from the last run's CSV instead of re-running HiGHS")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(alone(args.one, args.repeat)))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    cmp_rows = pd.read_csv(args.out / "structured_compare.csv").to_dict("records") if args.reuse_compare else []
    for size in [] if args.reuse_compare else args.compare:
        print(f"--- compare at {size:,} households", flush=True)
        cmp_rows.append(compare(size, args.cap))
        print(json.dumps(cmp_rows[-1], indent=1), flush=True)
    solo_rows = []
    for size in args.alone:
        print(f"--- structured alone at {size:,} households", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--one", str(size), "--repeat", str(args.repeat)], capture_output=True, text=True, check=True)
        solo_rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(solo_rows[-1], indent=1), flush=True)
    cmp, solo = pd.DataFrame(cmp_rows), pd.DataFrame(solo_rows)
    cmp.to_csv(args.out / "structured_compare.csv", index=False)
    solo.to_csv(args.out / "structured_alone.csv", index=False)
    table = markdown(cmp, solo)
    (args.out / "structured.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
