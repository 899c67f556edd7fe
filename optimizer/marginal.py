"""Where would the next money lift most? Shadow prices rank the regions of one level; the best candidates are
then re-solved with the extra money actually added (an unearmarked fund held at that region), because a dual
is only exact for small amounts."""

from __future__ import annotations

import math
import numbers

import pandas as pd

from .compare import Session, question
from .contract import LEVEL_NAMES, MAX_YUAN, Level
from .errors import InputError, check_argument
from .result import Result
from .scenario import Scenario


def next_money(
    scenario: Scenario, amount: float, level: Level = Level.COUNTY, top: int = 3, session: Session | None = None, base: Result | None = None
) -> pd.DataFrame:
    """For the ``top`` regions of ``level`` with the highest marginal value: predicted gain (shadow price x
    amount, an upper bound for the LP) and actual gain in expected households lifted from a re-solve."""
    check_argument(scenario, Scenario, "next_money: scenario")
    check_argument(session, (Session, type(None)), "next_money: session")
    check_argument(base, (Result, type(None)), "next_money: base (the Result of the scenario, or None)")
    if base is not None and base.scenario is not None and question(base.scenario) != question(scenario):
        raise InputError(
            "next_money: base was solved for another scenario (its settings, data or data edits differ): its marginal values "
            "and objective would be another scenario's; give this scenario's result, or none"
        )
    check_argument(amount, numbers.Real, "the extra money (amount, --amount)")
    check_argument(top, numbers.Integral, "the number of candidates to re-solve (top, --top)")
    if level not in tuple(Level):
        raise InputError(f"the level (level, --level) must be one of {', '.join(f'{int(lv)} ({n})' for lv, n in LEVEL_NAMES.items())}, got {level!r}")
    level = Level(level)
    if not (math.isfinite(amount) and 0 < amount <= MAX_YUAN):
        raise InputError(f"the extra money (amount, --amount) must be a positive number of yuan, at most {MAX_YUAN:.0e}, got {float(amount)!r}")
    if top < 1:
        raise InputError(f"the number of candidates to re-solve (top, --top) must be at least 1, got {top}")
    if scenario.mode != "max_lifted":
        raise InputError(
            f"scenario '{scenario.name}' is in {scenario.mode} mode: its shadow prices are yuan saved per yuan, not households lifted; "
            "marginal values answer where more money lifts most (mode max_lifted). For the money a target needs, sweep it, e.g. "
            "`optimizer sweep SCENARIO --set target.lifted=...`"
        )
    if scenario.years is not None:
        raise InputError(
            f"scenario '{scenario.name}' has a years: section: marginal values are computed for one-year scenarios; re-solve a "
            "multi-year one with the money added instead, e.g. `optimizer sweep SCENARIO --set funds.add.REGION=0,10000000`"
        )
    if session is None:
        with Session() as own:  # its cluster, if a solve decomposed, stops with it
            return next_money(scenario, amount, level, top, own, base)
    base = base or session.solve(scenario)
    marginal = base.tables["marginal"]
    candidates = marginal[marginal["level"] == int(level)].sort_values(["value_per_10k", "region_id"], ascending=[False, True]).head(top)
    rows = []
    for region, value in zip(candidates["region_id"], candidates["value_per_10k"]):
        extra = session.solve(scenario.with_overrides({f"funds.add.{region}": float(amount), "name": f"{scenario.name}+{region}"}))
        rows.append(
            {
                "region_id": region,
                "level": LEVEL_NAMES[level],
                "value_per_10k": value,
                "predicted_gain": value * amount / 10_000.0,
                "objective_gain": extra.manifest["objective"] - base.manifest["objective"],
                "lifted_gain": extra.manifest["expected_lifted"] - base.manifest["expected_lifted"],
                "gap": max(extra.manifest["gap"], base.manifest["gap"]),
            }
        )
    columns = ["region_id", "level", "value_per_10k", "predicted_gain", "objective_gain", "lifted_gain", "gap"]
    return pd.DataFrame(rows, columns=columns).sort_values("objective_gain", ascending=False, kind="stable").reset_index(drop=True)
