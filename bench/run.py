"""Benchmark of the core model (issue 3): build speed, solution quality, baselines.

For each size it generates an instance (fixed seed), then measures in the same run:
  * our vectorized build (plans -> scipy.sparse) against the same model built per element with PuLP;
  * our solve (HiGHS, relax-and-fix) objective against the LP bound (gap);
  * expected households lifted against a cost-effectiveness greedy and an equal split.
Usage: python bench/run.py [--sizes 10000 100000] [--seed 7] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from naive_pulp import build_naive  # noqa: E402
from optimizer.baselines import equal_split, greedy  # noqa: E402
from optimizer.data import build_instance  # noqa: E402
from optimizer.generate import generate  # noqa: E402
from optimizer.model import build_model  # noqa: E402
from optimizer.plans import build_plans  # noqa: E402
from optimizer.scenario import Scenario  # noqa: E402
from optimizer.solve import solve  # noqa: E402
from optimizer.verify import verify  # noqa: E402


def run(size: int, seed: int, time_limit: float) -> dict[str, float]:
    tables = generate(size, seed=seed)
    instance = build_instance({k: v.astype(str) for k, v in tables.items()}, source=f"generated n={size} seed={seed}")
    scenario = Scenario.model_validate({"name": f"bench-{size}", "data": "unused", "solver": {"time_limit": time_limit, "gap": 1e-3}})
    row: dict[str, float] = {"households": size}

    t = time.perf_counter()
    plans = build_plans(instance, scenario)
    row["plans_s"] = time.perf_counter() - t
    t = time.perf_counter()
    model, index = build_model(instance, scenario, plans)
    row["build_s"] = time.perf_counter() - t
    row["columns"], row["rows"], row["nonzeros"] = model.shape[1], model.shape[0], model.A.nnz

    t = time.perf_counter()
    prob = build_naive(instance, plans, index)
    row["pulp_build_s"] = time.perf_counter() - t
    row["pulp_columns"] = len(prob.variables())
    row["build_speedup"] = row["pulp_build_s"] / row["build_s"]
    del prob

    t = time.perf_counter()
    result = solve(scenario, instance, method="monolithic")  # the core model; auto would decompose from DECOMPOSE_FROM
    row["solve_total_s"] = time.perf_counter() - t
    verify(result)
    m = result.manifest
    row.update(objective=m["objective"], bound=m["bound"], gap=m["gap"], lifted=m["expected_lifted"])
    row.update({f"t_{k}": v for k, v in m["timings"].items()})

    t = time.perf_counter()
    g = greedy(instance, plans, index)
    row["greedy_s"] = time.perf_counter() - t
    e = equal_split(instance, plans)
    row.update(greedy_lifted=g.expected_lifted, greedy_feasible=float(g.feasible), equal_lifted=e.expected_lifted)
    row["vs_greedy"] = m["expected_lifted"] / g.expected_lifted
    row["vs_equal"] = m["expected_lifted"] / e.expected_lifted
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in args.sizes:
        print(f"--- {size:,} households", flush=True)
        row = run(size, args.seed, args.time_limit)
        print(json.dumps(row, indent=1), flush=True)
        rows.append(row)
    df = pd.DataFrame(rows)
    df.to_csv(args.out / "core.csv", index=False)
    table = markdown(df)
    (args.out / "core.md").write_text(table)
    print(table)


def markdown(df: pd.DataFrame) -> str:
    """The headline table of bench/README.md."""
    lines = [
        "| households | columns | our build (s) | PuLP build (s) | build speed-up | LP (s) | MIP (s) | total solve (s) | gap to LP bound "
        "| expected lifted | greedy | equal split | vs greedy | vs equal split |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in df.itertuples():
        lines.append(
            f"| {r.households:,.0f} | {r.columns:,.0f} | {r.build_s:.2f} | {r.pulp_build_s:.1f} | {r.build_speedup:.0f}x | {r.t_lp:.1f} "
            f"| {r.t_mip:.1f} | {r.solve_total_s:.1f} | {r.gap:.4%} | {r.lifted:,.1f} | {r.greedy_lifted:,.1f} | {r.equal_lifted:,.1f} "
            f"| +{r.vs_greedy - 1:.1%} | +{r.vs_equal - 1:.1%} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
