# Session 35: from the repository root: .venv/bin/python bench/results/s35_projects_fixed.py SEED
"""Experiment: master rounds, then each county's projects rounded at the allocation (y fixed in its cached model),
master rounds again from there; then every county's whole MIP (emergency shut) at both allocations."""
import sys
from dataclasses import replace

import numpy as np

sys.path.insert(0, "bench/results")
from small_counties import allocate, blocks, lists, parts, sc  # noqa: E402

from optimizer import decompose  # noqa: E402
from optimizer.decompose import _build, _county, _with_money  # noqa: E402
from optimizer.solve import solver_options  # noqa: E402
from optimizer.solvers import get_backend  # noqa: E402

A1 = allocate()
be = get_backend("highs")
for c, part, f, m in zip(blocks.counties, parts, lists, A1.alloc):
    block = _county(c, part, sc, f)
    model = _with_money(block, f, m)
    lp = be.solve(model.relaxed(), solver_options(sc.solver))
    yb = model.col_blocks["y"]
    y = lp.x[yb]
    lo, hi = block.model.col_lo.copy(), block.model.col_hi.copy()
    r = np.round(y)
    lo[yb] = r; hi[yb] = r
    print(c, "fractional y", int(((y > 1e-6) & (y < 1 - 1e-6)).sum()), "of", len(y), "built", int(r.sum()))
    block.model = block.model.with_bounds(lo, hi)
    decompose._CACHE[c] = block
A2 = allocate()
print("bounds", A1.bound, A2.bound)
decompose._CACHE.clear()
for name, A in (("plain", A1), ("projects fixed", A2)):
    tot = 0.0
    for i, (c, part, f, m) in enumerate(zip(blocks.counties, parts, lists, A.alloc)):
        block = _build(c, part, sc, f)
        model = _with_money(block, f, m)
        hi = model.col_hi.copy(); hi[block.emergency_cols] = 0.0
        out = be.solve(model.with_bounds(model.col_lo, hi), replace(solver_options(sc.solver), time_limit=30))
        lp = be.solve(model.relaxed(), solver_options(sc.solver))
        print(name, c, "LP", round(lp.objective, 2), "MIP", out.status.value, None if out.x is None else round(out.objective, 2), flush=True)
        tot += out.objective if out.x is not None else float("nan")
    print(name, "total", round(tot, 2))
