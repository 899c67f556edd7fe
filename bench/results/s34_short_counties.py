"""Session 34: the emergency money each county of a small multi-year instance needs at the rounds' allocation, by
category and year, and its spending by fund and year (`python bench/results/s34_short_counties.py SEED` from the
repository root; the counties solved in this process, as tests/conftest.py's in_process)."""

import sys
from dataclasses import replace

import pandas as pd

sys.path.insert(0, "bench/results")
from small_counties import allocate, blocks, lists, parts, sc  # noqa: E402

from optimizer import decompose  # noqa: E402
from optimizer.decompose import MONEY_UNIT, _build, _with_money  # noqa: E402
from optimizer.multiyear import optimize_multiyear  # noqa: E402

alloc = allocate().alloc
decompose._CACHE.clear()
for c, part, f, m in zip(blocks.counties, parts, lists, alloc):
    block = _build(c, part, sc, f)
    assert block.my is not None
    model = _with_money(block, f, m)
    sol = optimize_multiyear(model, replace(block.my, model=model), block.instance, sc, lambda _m: None, shut=block.emergency_cols, whole=False)
    flows = block.index.flows
    spent = sol.x[model.col_blocks["f"]] * MONEY_UNIT
    emergency = flows["fund_id"].to_numpy() == decompose.EMERGENCY
    print(c, "emergency", round(float(spent[emergency].sum()), 2), "objective", round(sol.objective, 2))
    short = flows.assign(amount=spent)[emergency & (spent > 0.01)]
    if len(short):
        print(short.groupby(["category", "year"])["amount"].sum())
    print(pd.Series(spent).groupby([flows["fund_id"].to_numpy(), flows["year"].to_numpy()]).sum().unstack().round(0).to_string())
