"""A multi-year re-plan (the rolling horizon of a night after the first) decomposed by county against the same
re-plan solved as one model.

``generate_partitioned(n, seed=7)``, 2018-2020, relocation 5% per county and year, gap 0.5%: a first plan
(decomposed, not timed, kept under the instance folder for later runs), then re-planned from 2019 with its 2018
starts and builds kept, 0.5% of the first three funds withheld from 2019 on, and at most 5% of the other
households changing plan or start year (``--no-cap``: any may change, as a re-plan by ``optimizer solve --from-year
Y --previous DIR``). Each method verifies its result (``verify_multiyear``, the kept decisions).
Writes ``<name>.csv`` and ``<name>.md`` under the results folder.

    .venv/bin/python bench/replan_years_bench.py --households 40000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from optimizer.data import isin  # noqa: E402
from optimizer.generate import generate_partitioned  # noqa: E402
from optimizer.model import ChurnCap  # noqa: E402
from optimizer.multiyear import (  # noqa: E402
    Withheld,
    kept_violations,  # noqa: E402
    read_previous,
    solve_multiyear,
    verify_multiyear,
)
from optimizer.partitioned import load_partitioned  # noqa: E402
from optimizer.scenario import Scenario  # noqa: E402
from results_io import markdown_table, write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=40_000)
    parser.add_argument("--methods", nargs="+", default=["decomposed", "monolithic"], choices=["decomposed", "monolithic"])
    parser.add_argument("--instances", type=Path, default=ROOT / "bench" / "results" / "instances")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--name", default="replan_years")
    parser.add_argument("--no-cap", action="store_true", help="no churn cap: any household may change plan or start year")
    args = parser.parse_args()
    n = args.households
    folder = args.instances / f"replan_{n}"
    if not folder.exists():
        generate_partitioned(n, folder, seed=7)
    scenario = Scenario.model_validate(
        {"name": "replan", "data": str(folder), "plans": {"max_per_household": 4}, "helpers": {"assign": False},
         "solver": {"time_limit": 1800, "gap": 0.005}, "years": {"first": 2018, "last": 2020, "relocation_rate": 0.05}}  # fmt: skip
    )
    instance = load_partitioned(str(folder))
    first = args.instances / f"replan_{n}_first"
    if not first.exists():
        solve_multiyear(scenario, instance, method="decomposed").write(first)
    kept = read_previous(first, 2019)
    hh = pd.read_csv(first / "households.csv", dtype={"household_id": str}, keep_default_na=False)
    previous = hh[~isin(hh["household_id"], kept.starts["household_id"])][["household_id", "plan", "year"]].astype({"year": np.int64})
    funds = instance.funds.head(3)
    withheld = Withheld({f: 0.005 * a for f, a in zip(funds["fund_id"], funds["amount"])}, 2019)
    cap = None if args.no_cap else ChurnCap(previous, int(0.05 * len(previous)))
    rows = []
    for method in args.methods:
        t = time.perf_counter()
        result = solve_multiyear(scenario, instance, method=method, workers=2, kept=kept, withheld=withheld, churn=cap)
        seconds = time.perf_counter() - t
        bad = verify_multiyear(result, instance, scenario, withheld) + kept_violations(result, kept)
        m = result.manifest
        capped = {"cap": "", "changed": ""} if cap is None else {"cap": f"{cap.max_changes:,}", "changed": f"{m['churn']['changed']:,}"}
        rows.append({"households": n, "method": method, "seconds": round(seconds, 1), "objective": m["objective"], "bound": m["bound"], "gap": m["gap"],
                     "rounds": m.get("decomposition", {}).get("rounds", ""), "kept_starts": len(kept.starts), **capped, "verified": not bad})  # fmt: skip
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    columns = [("households", "{r.households:,}"), ("method", "{r.method}"), ("time (s)", "{r.seconds:.1f}"), ("objective", "{r.objective:,.2f}"),
               ("bound", "{r.bound:,.2f}"), ("gap", "{r.gap:.3%}"), ("rounds", "{r.rounds}"), ("kept starts", "{r.kept_starts:,}"),
               ("changed", "{r.changed}"), ("cap", "{r.cap}")]  # fmt: skip
    write_results(df, args.out, args.name, markdown_table(df, columns))


if __name__ == "__main__":
    main()
