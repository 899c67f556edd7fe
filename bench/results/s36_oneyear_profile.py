# Session 36: where a one-year county's first task (model built from the partitioned folder, then its LP) spends its time, on the 100,000 instance's counties at the proportional share (run from bench/results: ../../.venv/bin/python s36_oneyear_profile.py N, N counties spread over the 40)
import cProfile
import pstats
import os
import sys
import time

os.environ["COUNTY_SHARES_FOLDER"] = "/work/main/bench/results/instances/partitioned-100000-seed7"
import county_shares_1m as cs  # noqa: E402
n = int(sys.argv[1])
pr = cProfile.Profile()
tot = {"lp": 0.0, "warm": 0.0, "final": 0.0}
d, sc = cs.d, cs.sc
for c, src, f, m, households in cs.spread(n):
    pr.enable()
    t = time.perf_counter(); d.county_lp(c, src, sc, f, m); t1 = time.perf_counter()
    d.county_lp(c, src, sc, f, m * 1.05); t2 = time.perf_counter()
    out = d.county_final(c, src, sc, f, m * 1.05, False)
    t3 = time.perf_counter()
    pr.disable()
    tot["lp"] += t1 - t; tot["warm"] += t2 - t1; tot["final"] += t3 - t2
    print(c, households, "first", round(t1 - t, 2), "warm", round(t2 - t1, 2), "final", round(t3 - t2, 2), flush=True)
print({k: round(v, 2) for k, v in tot.items()})
pstats.Stats(pr).sort_stats("tottime").print_stats(30)
