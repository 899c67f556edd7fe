# Session 36: capture a multi-year county's rounding MIP (the model fix_and_solve passes to HiGHS) at the proportional share, with its LP point, to try roundings offline (run from bench/results: ../../.venv/bin/python s36_capture.py RANK; writes /tmp/s36_mip_RANK.npz)
import sys, time
sys.path.insert(0, "/work/main/bench/results")
import numpy as np
import scipy.sparse as sp
from county_shares import items, hhs, d  # noqa: E402
from optimizer.solvers import highs as H
order = np.argsort(-hhs)
k = int(sys.argv[1])
c, src, s, f, m, n = items([int(order[k])])[0]
d.county_lp(c, src, s, f, m)
block = d._CACHE[c]
got = []
orig = H.HighsBackend.solve
def spy(self, model, options):
    t = time.perf_counter(); out = orig(self, model, options)
    got.append((model, options, out, time.perf_counter() - t))
    return out
H.HighsBackend.solve = spy
out = d.county_final(c, src, s, f, m, False)
H.HighsBackend.solve = orig
for model, o, r, t in got:
    print(model.shape, int(model.integer.sum()), "fixed", int((model.col_lo == model.col_hi).sum()), o.gap, o.time_limit, r.status, r.objective, round(t, 2))
lp = got[0][2]
mip_model, _, mip_out, _ = [g for g in got if g[0].integer.any() and not (g[1].warm)][0] if any(g[0].integer.any() for g in got) else got[-1]
mm = mip_model
np.savez(f"/tmp/s36_mip_{k}.npz", c=mm.c, data=mm.A.data, indices=mm.A.indices, indptr=mm.A.indptr, shape=mm.A.shape, row_lo=mm.row_lo, row_hi=mm.row_hi,
         col_lo=mm.col_lo, col_hi=mm.col_hi, integer=mm.integer, lpx=lp.x, mipx=mip_out.x, hh=block.my.options["hh"].to_numpy(), xs=mm.col_blocks["x"].stop,
         ys=mm.col_blocks["y"].start, ye=mm.col_blocks["y"].stop, **{f"rb_{k2}": np.array([v.start, v.stop]) for k2, v in mm.row_blocks.items()})
print(c, n, out["objective"], out["lp_bound"], round(out["seconds"], 2))
