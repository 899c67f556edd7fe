"""One-year county LPs of the 1M instance re-solved warm (money x 1.05 then x 0.97, as rounds 2-8 do), 40 counties,
one process, one thread: the time a county and where it goes."""
import cProfile, pstats, sys, time
sys.path.insert(0, "/work/main/bench/results")
from county_shares_1m import d, sc, spread

items = [(c, src, f, m) for c, src, f, m, _ in spread(40)]
for c, src, f, m in items:
    d.county_lp(c, src, sc, f, m)

def warm(scale):
    for c, src, f, m in items:
        d.county_lp(c, src, sc, f, m * scale)

for s in (1.05, 0.97):
    t = time.perf_counter(); warm(s); print("warm", s, "ms a county", round((time.perf_counter() - t) / 40 * 1000, 1))
cProfile.run("warm(1.03)", "/tmp/prof/warm.prof")
p = pstats.Stats("/tmp/prof/warm.prof"); p.sort_stats("tottime").print_stats(25)
