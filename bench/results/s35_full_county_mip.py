# Session 35: from the repository root: .venv/bin/python bench/results/s35_full_county_mip.py SEED (each county's whole MIP, emergency money shut, at the rounds' allocation)
import sys, time
from dataclasses import replace
import numpy as np
from optimizer import decompose
from optimizer.data import build_instance
from optimizer.decompose import _build, _with_money, split_by_county
from optimizer.generate import generate
from optimizer.solvers import get_backend, SolveOptions
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
alloc = decompose.master_allocate(blocks, sc, run, tol=sc.solver.gap / 2, max_rounds=60, say=lambda _: None).alloc
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
