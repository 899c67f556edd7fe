"""The narrow rounding's MIP of 20 one-year counties of the 1M instance: the whole model with fixed bounds (as now)
against the sub-MIP over the free columns (fixed columns' activity moved into the row bounds)."""
import sys, time
import numpy as np
import scipy.sparse as sp
from dataclasses import replace
sys.path.insert(0, "/work/main/bench/results")
from county_shares_1m import d, sc, spread

items = [(c, src, f, m) for c, src, f, m, _ in spread(20)]
import importlib
S = importlib.import_module("optimizer.solve")
from optimizer.model import LinearModel
from optimizer.solvers import get_backend

def restricted(model, lo, hi):
    free = lo < hi
    fixed_x = np.where(free, 0.0, lo)
    act = model.A @ fixed_x
    A = model.A.tocsc()[:, np.flatnonzero(free)].tocsr()
    rows = np.flatnonzero(np.diff(A.indptr) > 0)
    sub = LinearModel(sense=model.sense, c=model.c[free], A=A[rows], row_lo=model.row_lo[rows] - act[rows], row_hi=model.row_hi[rows] - act[rows],
                      col_lo=lo[free], col_hi=hi[free], integer=model.integer[free])
    return sub, free, fixed_x, float(model.c @ fixed_x)

T = {"full": 0.0, "sub": 0.0, "reduce": 0.0}
for c, src, f, m in items:
    d.county_lp(c, src, sc, f, m)
    block = d._CACHE[c]
    model = d._with_money(block, f, m)
    backend = block.backend
    lp = backend.solve(model.relaxed(), S.SolveOptions(warm=True, keep=True))
    x_lp = lp.x
    frac = S.fractional_columns(model.integer, x_lp)
    hh = block.index.plans["hh"].to_numpy()
    free = S.households_free(model, hh, frac)
    n_int = len(block.index.col_village)
    anc = block.instance.tree.ancestors[block.index.col_village]
    flow_anc = block.instance.tree.ancestors[block.index.flows["village"].to_numpy()]
    touched = np.unique(anc[frac[:n_int], 4 if False else min(S.HOUSEHOLDS, 4)]) if False else np.unique(anc[frac[:n_int], 4])
    free[model.col_blocks["f"]] = np.isin(flow_anc[:, 4], touched)
    x_start = np.where(model.integer, np.round(x_lp), np.maximum(x_lp, 0.0))
    lo, hi = model.col_lo.copy(), model.col_hi.copy()
    lo[~free] = hi[~free] = x_start[~free]
    opts = S.solver_options(sc.solver)
    opts = replace(opts, gap=sc.solver.gap / 2)
    b2 = get_backend("highs")
    t = time.perf_counter(); full = b2.solve(model.with_bounds(lo, hi), opts); tf = time.perf_counter() - t
    t = time.perf_counter(); sub, fr, fx, const = restricted(model, lo, hi); tr = time.perf_counter() - t
    t = time.perf_counter(); out = b2.solve(sub, opts); ts = time.perf_counter() - t
    T["full"] += tf; T["sub"] += ts; T["reduce"] += tr
    print(c, int(frac.sum()), int(free.sum()), sub.shape, f"full {tf*1000:.1f} ms obj {full.objective:.4f}; reduce {tr*1000:.1f} ms, sub {ts*1000:.1f} ms obj {out.objective + const:.4f}", flush=True)
    d._forget(c)
print({k: round(v / len(items) * 1000, 1) for k, v in T.items()}, "ms a county")
