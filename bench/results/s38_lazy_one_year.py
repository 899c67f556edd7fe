# Session 38: a ONE-YEAR county's LPs (1M instance, proportional share, one process, one thread) with its project
# link rows held (as shipped) against left free until violated (as the multi-year counties do): first LP, warm
# re-solve at 1.1x the money, priced LP, warm re-solve at 0.95x, then the narrow rounding and the final task.
# Usage (from /work/main): .venv/bin/python bench/results/s38_lazy_one_year.py N   (N counties spread over the 400)
import sys, time, tempfile
sys.path.insert(0, "/work/main/bench/results")
import numpy as np
from county_shares_1m import d, sc, spread

shipped = d._lazy_rows
def lazy_too(block, model, lazy):
    return "link" if lazy and "link" in model.row_blocks else None

items = spread(int(sys.argv[1]))
parts = tempfile.mkdtemp()
tot = {"held": np.zeros(7), "free": np.zeros(7)}
vals = {}
for mode in ("held", "free", "held", "free"):
    d._lazy_rows = shipped if mode == "held" else lazy_too
    for c, src, f, m, n in items:
        d._forget(c)
        t = [time.perf_counter()]
        v, du, e = d.county_lp(c, src, sc, f, m); t.append(time.perf_counter())
        v2, du2, _ = d.county_lp(c, src, sc, f, m * 1.1); t.append(time.perf_counter())
        pv, plp, used = d.county_priced(c, src, sc, f, du2 / d.MONEY_UNIT * 1.05, m * 2); t.append(time.perf_counter())
        v3, du3, _ = d.county_lp(c, src, sc, f, m * 0.95); t.append(time.perf_counter())
        lp, rv, em = d.county_round(c, src, sc, f, m * 0.95); t.append(time.perf_counter())
        out = d.county_final(c, src, sc, f, m * 0.95, True, last=True, parts=parts, widen=False); t.append(time.perf_counter())
        tot[mode] += np.r_[np.diff(t), t[-1] - t[0]]
        key = (mode, c)
        vals[key] = (v, v2, pv, v3, lp, rv, out.get("objective", np.nan))
    print(mode, "s in all (cold, warm, priced, warm, rounding, final, all):", np.round(tot[mode], 2), flush=True)
diff = max(max(abs(a - b) for a, b in zip(vals[("held", c)][:4], vals[("free", c)][:4])) for c, *_ in items)
print("max |LP value difference| held vs free:", diff)
print("rounding values held / free:", sum(vals[("held", c)][5] for c, *_ in items), sum(vals[("free", c)][5] for c, *_ in items))
