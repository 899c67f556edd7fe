# Session 36: where a multi-year county's final task spends its time (LP at the proportional share, then county_final under cProfile; run from bench/results: ../../.venv/bin/python s36_final_profile.py 20,5 county ranks by size, 0 the largest)
import cProfile, pstats, sys, time
sys.path.insert(0, "/work/main/bench/results")
import numpy as np
from county_shares import items, hhs, d  # noqa: E402
order = np.argsort(-hhs)
for c, src, s, f, m, n in items([int(order[k]) for k in map(int, sys.argv[1].split(","))]):
    t = time.perf_counter(); d.county_lp(c, src, s, f, m); t1 = time.perf_counter()
    pr = cProfile.Profile(); pr.enable()
    out = d.county_final(c, src, s, f, m, False)
    pr.disable()
    print(c, n, "lp", round(t1 - t, 2), "final", round(out["seconds"], 2), "objective", out.get("objective"), "lp_bound", out.get("lp_bound"), flush=True)
    pstats.Stats(pr).sort_stats("cumulative").print_stats(35)
