"""The first LP of multi-year county tasks (decompose.county_lp: read, plans, model, HiGHS) of the 100,000 instance
at the proportional share, one process, one thread, by the dual simplex and by PDLP's route (PDLP, crossover,
simplex), alternating which goes first. Usage: s33_pdlp_threshold.py 0 2  (this process's part of the 40 counties,
taken largest first in turn: part 0 of 2 is ranks 39, 37, ...)."""
import sys, time
sys.path.insert(0, "/work/main/bench/results")
import numpy as np
from county_shares import d, hhs, items

part, parts = int(sys.argv[1]), int(sys.argv[2])
order = np.argsort(-hhs)[part::parts]
for k, (c, src, s, f, m, n) in enumerate(items(order)):
    res = {}
    for variant in (("simplex", "pdlp") if k % 2 == 0 else ("pdlp", "simplex")):
        d.PDLP_FROM_ROWS = 10**9 if variant == "simplex" else 0
        t = time.perf_counter()
        value, _, _ = d.county_lp(c, src, s, f, m)
        res[variant] = (time.perf_counter() - t, value)
        rows = d._CACHE[c].model.shape[0]
        d._forget(c)
    print(c, n, rows, f"{res['simplex'][0]:.2f}", f"{res['pdlp'][0]:.2f}", f"{res['pdlp'][0] / res['simplex'][0]:.3f}", f"{res['simplex'][1]:.4f}", f"{res['pdlp'][1]:.4f}", flush=True)
