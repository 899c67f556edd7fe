"""Report size and time on a large run folder (issue 7): does a 1,000,000-household run give a report under
10 MB in under a minute?

Solving a 1,000,000-household allocation is not what is timed here, so the run folder is built from each
household's highest-value plan with no projects and no money flows (budgets ignored; the folder is not a
verified allocation). Its tables have the real sizes: one row per household, region and fund.
Usage: python bench/report_bench.py [--households 1000000] [--out /tmp/report-bench]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from optimizer.data import build_instance
from optimizer.generate import generate
from optimizer.model import build_model
from optimizer.outputs import write_run
from optimizer.plans import build_plans
from optimizer.report import write_report
from optimizer.result import build_result
from optimizer.scenario import Scenario
from optimizer.solve import Solution
from optimizer.solvers import Status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("/tmp/report-bench"))
    args = parser.parse_args()
    tables = generate(args.households, seed=args.seed)
    instance = build_instance({k: v.astype(str) for k, v in tables.items()})
    scenario = Scenario.model_validate({"name": "report-bench", "data": "unused"})
    plans = build_plans(instance, scenario)
    model, index = build_model(instance, scenario, plans)
    table = plans.table
    own = table[table["project"] < 0]
    best = own.sort_values(["hh", "value"], kind="stable").groupby("hh").tail(1).index.to_numpy()
    x = np.zeros(model.shape[1])
    x[best] = 1.0
    objective = float(model.c @ x)
    sol = Solution(x, Status.FEASIBLE, objective, objective, objective, 0.0, 0.0, 0.0, False)
    result = build_result(instance, scenario, plans, index, model, sol, np.zeros(len(instance.funds)), "none", {})
    run = write_run(result, args.out)
    t = time.perf_counter()
    path = write_report(run)  # reads the run folder back, as `optimizer report RUN_DIR` does
    seconds = time.perf_counter() - t
    print(f"households {args.households:,}: report {path.stat().st_size / 1e6:.2f} MB written in {seconds:.1f} s")


if __name__ == "__main__":
    main()
