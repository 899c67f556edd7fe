"""The first priced LP of large multi-year counties: warm from the round LP's basis (as now) against cold by PDLP."""
import sys, time
exec(open("bench/results/s28_pdlp_county.py").read().split("order = np.argsort")[0])  # its setup
from dataclasses import replace as dc_replace
from optimizer.model import MONEY_UNIT
import optimizer.decompose as dd
rng = np.random.default_rng(0)
order = np.argsort(-hhs)
pick = [int(order[k]) for k in map(int, sys.argv[1].split(","))]
Orig = dd.SolveOptions
tot = {"warm": 0.0, "cold_simplex": 0.0, "cold_pdlp": 0.0}
for c, src, s, f, m, n in items(pick):
    v, duals, _ = dd.county_lp(c, src, s, f, m)
    price = duals / MONEY_UNIT * rng.uniform(0.7, 1.3, len(duals))
    cap = m * 3
    res = {}
    t = time.perf_counter(); res["warm"] = dd.county_priced(c, src, s, f, price, cap); tw = time.perf_counter() - t
    dd._forget(c)
    dd._county(c, src, s, f)  # built, not solved
    t = time.perf_counter(); res["cold_simplex"] = dd.county_priced(c, src, s, f, price, cap); tc = time.perf_counter() - t
    dd._forget(c)
    dd._county(c, src, s, f)
    dd.SolveOptions = lambda **kw: Orig(**{**kw, "algorithm": "pdlp"})
    t = time.perf_counter(); res["cold_pdlp"] = dd.county_priced(c, src, s, f, price, cap); tp = time.perf_counter() - t
    dd.SolveOptions = Orig
    dd._forget(c)
    for k, dt in zip(tot, (tw, tc, tp)):
        tot[k] += dt
    print(c, n, round(tw, 2), round(tc, 2), round(tp, 2), [round(r[0], 3) for r in res.values()], flush=True)
print({k: round(v, 2) for k, v in tot.items()})
