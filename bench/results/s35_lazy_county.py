# Session 35: a multi-year county's LPs with its link rows held (decompose.LAZY_ROWS = None) and left free until violated ("link"), at the proportional share: the first LP, a warm re-solve with 1.1x the money, the priced LP, a warm re-solve at 0.95x (run from bench/results: ../../.venv/bin/python s35_lazy_county.py 20,5,0,3, county ranks by size, 0 the largest)
import sys, time
sys.path.insert(0, "/work/main/bench/results")
import numpy as np
from county_shares import items, hhs, d  # noqa: E402
order = np.argsort(-hhs)
for c, src, s, f, m, n in items([int(order[k]) for k in map(int, sys.argv[1].split(","))]):
    res = {}
    for lazy in (None, "link"):
        d.LAZY_ROWS = lazy
        t = time.perf_counter(); v, du, e = d.county_lp(c, src, s, f, m); t1 = time.perf_counter()
        v2, du2, _ = d.county_lp(c, src, s, f, m * 1.1); t2 = time.perf_counter()
        price = du2 / d.MONEY_UNIT
        pv, plp, used = d.county_priced(c, src, s, f, price * 1.05, m * 2); t3 = time.perf_counter()
        v3, du3, _ = d.county_lp(c, src, s, f, m * 0.95); t4 = time.perf_counter()
        d._forget(c)
        res[lazy] = (v, v2, pv, v3, du, du3)
        print(c, n, lazy, "cold", round(t1 - t, 2), "warm", round(t2 - t1, 2), "priced", round(t3 - t2, 2), "warm2", round(t4 - t3, 2), [round(a, 4) for a in (v, v2, pv, v3)], flush=True)
    a, b = res[None], res["link"]
    print("  max |dv|", max(abs(x - y) for x, y in zip(a[:4], b[:4])), "duals max diff", float(np.abs(a[4] - b[4]).max()), float(np.abs(a[5] - b[5]).max()))
