"""One-year county tasks of the 1M instance (20 counties at the proportional share, one process, one thread):
the first LP task and the final task, timed and profiled by own time."""
import cProfile, pstats, sys, time, tempfile
sys.path.insert(0, "/work/main/bench/results")
from county_shares_1m import d, sc, spread

items = [(c, src, f, m) for c, src, f, m, _ in spread(20)]
parts = tempfile.mkdtemp()

def first():
    for c, src, f, m in items:
        d._forget(c)
        d.county_lp(c, src, sc, f, m)

def rounding():
    for c, src, f, m in items:
        d.county_round(c, src, sc, f, m)

def final():
    for c, src, f, m in items:
        d.county_final(c, src, sc, f, m, True, last=True, parts=parts, widen=False)

for label, fn in (("first", first), ("round", rounding), ("final", final)):
    t = time.perf_counter(); fn(); print(label, "ms a county", round((time.perf_counter() - t) / 20 * 1000, 1))
for label, fn in (("first", first), ("final", final)):
    if label == "final":
        rounding()
    cProfile.run(f"{fn.__name__}()", f"/tmp/prof/{label}.prof")
    p = pstats.Stats(f"/tmp/prof/{label}.prof"); p.sort_stats(sys.argv[1] if len(sys.argv) > 1 else "tottime").print_stats(35)
