"""Helper assignment at scale (issue 5): time to assign one helper per household and a first secretary per
poor village on generated instances, and the next night's assignment given these helpers (a twentieth of the
households gone): its time, the share of households that keep their helper, and the share an assignment that
ignores them keeps by chance. Plans come from ``build_plans`` (each household's highest-value plan,
ignoring budgets: the assignment only needs the measures, and solving a 1,000,000-household allocation is
not what is timed here).

Usage: python bench/helpers_bench.py [--sizes 100000 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from optimizer.data import build_instance
from optimizer.generate import generate
from optimizer.helpers import assign_helpers
from optimizer.plans import build_plans
from optimizer.scenario import Scenario


def run(size: int, seed: int) -> dict[str, float]:
    t = time.perf_counter()
    tables = generate(size, seed=seed)
    instance = build_instance({k: v.astype(str) for k, v in tables.items()})
    plans = build_plans(instance, Scenario.model_validate({"name": "bench", "data": "unused"})).table
    best = plans.sort_values(["hh", "value"], kind="stable").groupby("hh").tail(1).sort_values("hh")
    households = pd.DataFrame(
        {
            "household_id": instance.households["household_id"].to_numpy()[best["hh"].to_numpy()],
            "village_id": instance.households["village_id"].to_numpy()[best["hh"].to_numpy()],
            "measures": best["measures"].to_numpy(),
        }
    )
    prep = time.perf_counter() - t
    t = time.perf_counter()
    a = assign_helpers(instance, households)
    seconds = time.perf_counter() - t
    hh = a.households
    # the next night: a twentieth of the households exited, the others keep their plans and, where no score is
    # lost, their helpers
    fewer = households[households.index % 20 != 0].reset_index(drop=True)
    t = time.perf_counter()
    again = assign_helpers(instance, fewer, hh[["household_id", "helper_id"]]).households
    again_s = time.perf_counter() - t
    fresh = assign_helpers(instance, fewer).households
    was = fewer["household_id"].map(hh.set_index("household_id")["helper_id"])
    assert again["match_score"].sum() == fresh["match_score"].sum(), "keeping helpers must cost no match score"
    return {
        "households": size,
        "helpers": len(instance.helpers),
        "prepare_s": round(prep, 1),
        "assign_s": round(seconds, 2),
        "matched_share": round(float((hh["helper_id"] != "").mean()), 4),
        "skill_match_share": round(float((hh["match_score"] >= 10).mean()), 4),
        "short": int(a.shortage.loc[a.shortage["skill"] != "first_secretary", "households"].sum()),
        "villages_with_secretary": round(float((a.secretaries["first_secretary_id"] != "").mean()), 4),
        "dispatch_rows": len(a.dispatch),
        "next_night_assign_s": round(again_s, 2),
        "kept_share": round(float((again["helper_id"] == was).mean()), 4),
        "kept_by_chance": round(float((fresh["helper_id"] == was).mean()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rows = [run(n, args.seed) for n in args.sizes]
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
