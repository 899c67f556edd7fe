# Session 36: capture every county's first rounding MIP (the model fix_and_solve passes to HiGHS, not solved here) at the proportional share, the scenario's gap 0.5% (run from bench/results: ../../.venv/bin/python s36_capture_all.py RANKS, "0-39:2" every second from 0; writes /tmp/s36all/RANK.npz)
import os, sys, time
sys.path.insert(0, "/work/main/bench/results")
import numpy as np
import county_shares as cs
from county_shares import items, hhs, d  # noqa: E402
from optimizer.solvers import highs as H
cs.sc = cs.sc.with_overrides({"solver.gap": 0.005})
os.makedirs("/tmp/s36all", exist_ok=True)
order = np.argsort(-hhs)
span, step = sys.argv[1].split(":")
a, b = map(int, span.split("-"))
class Got(Exception):
    pass
orig = H.HighsBackend.solve
for k in range(a, b + 1, int(step)):
    c, src, s, f, m, n = items([int(order[k])])[0]
    s = cs.sc
    t = time.perf_counter(); d.county_lp(c, src, s, f, m); lp_t = time.perf_counter() - t
    block = d._CACHE[c]
    def spy(self, model, options, k=k, c=c, block=block):
        if not model.integer.any() or options.warm:
            return orig(self, model, options)
        mm = model
        np.savez(f"/tmp/s36all/{k}.npz", c=mm.c, data=mm.A.data, indices=mm.A.indices, indptr=mm.A.indptr, shape=mm.A.shape, row_lo=mm.row_lo, row_hi=mm.row_hi,
                 col_lo=mm.col_lo, col_hi=mm.col_hi, integer=mm.integer, hh=block.my.options["hh"].to_numpy(), xs=mm.col_blocks["x"].stop, gap=options.gap, county=c, households=n)
        raise Got()
    H.HighsBackend.solve = spy
    try:
        d.county_final(c, src, s, f, m, False)
        print(k, c, "no MIP (integral LP)", flush=True)
    except Got:
        print(k, c, n, "captured; LP", round(lp_t, 2), flush=True)
    finally:
        H.HighsBackend.solve = orig
        d._forget(c)
