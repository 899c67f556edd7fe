# Session 35: from the repository root: .venv/bin/python bench/results/s35_projects_fixed.py SEED
"""Experiment: master rounds, then each county's projects rounded at the allocation (y fixed in its cached model),
master rounds again from there; then every county's whole MIP (emergency shut) at both allocations."""
import sys, time
from dataclasses import replace
import numpy as np
from optimizer import decompose
from optimizer.data import build_instance
from optimizer.decompose import _build, _with_money, split_by_county, _county
from optimizer.generate import generate
from optimizer.solvers import get_backend
from optimizer.solve import solver_options
sys.path.insert(0, "tests")
from test_decompose_years import _scenario  # noqa: E402

inst = build_instance(generate(900, seed=int(sys.argv[1])))
sc = _scenario()
blocks, parts = split_by_county(inst)
pair_funds = blocks.pairs["fund_id"].to_numpy()
lists = [list(pair_funds[idx]) for idx in blocks.county_pairs()]
def run(kind, money):
    fn = decompose.county_lp if kind == "lp" else decompose.county_priced
    return [fn(c, part, sc, f, *(tuple(m) if kind == "priced" else (m,))) for c, part, f, m in zip(blocks.counties, parts, lists, money)]
A1 = decompose.master_allocate(blocks, sc, run, tol=sc.solver.gap / 2, max_rounds=60, say=lambda _: None)
be = get_backend("highs")
ybounds = []
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
    ybounds.append((lo, hi))
    block.model = block.model.with_bounds(lo, hi)
    decompose._CACHE[c] = block
A2 = decompose.master_allocate(blocks, sc, run, tol=sc.solver.gap / 2, max_rounds=60, say=lambda _: None, start=np.vstack([a.reshape(1, -1) for a in A1.alloc]) if False else None)
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
