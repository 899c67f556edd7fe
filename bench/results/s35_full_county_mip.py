# Session 35: from the repository root: .venv/bin/python bench/results/s35_full_county_mip.py SEED (each county's whole MIP, emergency money shut, at the rounds' allocation)
import sys
import time
from dataclasses import replace

sys.path.insert(0, "bench/results")
from small_counties import allocate, blocks, lists, parts, sc  # noqa: E402

from optimizer import decompose  # noqa: E402
from optimizer.decompose import _build, _with_money  # noqa: E402
from optimizer.solve import solver_options  # noqa: E402
from optimizer.solvers import get_backend  # noqa: E402

alloc = allocate().alloc
decompose._CACHE.clear()
be = get_backend("highs")
for c, part, f, m in zip(blocks.counties, parts, lists, alloc):
    block = _build(c, part, sc, f)
    model = _with_money(block, f, m)
    lp = be.solve(model.relaxed(), solver_options(sc.solver))
    hi = model.col_hi.copy(); hi[block.emergency_cols] = 0.0
    t = time.perf_counter()
    out = be.solve(model.with_bounds(model.col_lo, hi), replace(solver_options(sc.solver), time_limit=60))
    print(c, "LP", round(lp.objective, 3), "full MIP shut:", out.status.value, None if out.x is None else round(out.objective, 3), round(time.perf_counter() - t, 2), "s", "ints", int(model.integer.sum()), flush=True)
