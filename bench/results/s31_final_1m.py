"""Final tasks of 20 one-year counties of the 1M instance (LP, narrow rounding, final), one process: where the time goes."""
import cProfile, pstats, sys, time
sys.path.insert(0, "/work/main/bench/results")
from county_shares_1m import d, sc, spread

items = [(c, src, f, m) for c, src, f, m, _ in spread(20)]
import tempfile
parts = tempfile.mkdtemp()

def prep():
    for c, src, f, m in items:
        d.county_lp(c, src, sc, f, m)
        d.county_round(c, src, sc, f, m)

def final():
    for c, src, f, m in items:
        d.county_final(c, src, sc, f, m, True, last=True, parts=parts, widen=False)

prep(); t = time.perf_counter(); final(); print("final 20", time.perf_counter() - t)
prep()
cProfile.run("final()", "/tmp/prof/final.prof")
p = pstats.Stats("/tmp/prof/final.prof"); p.sort_stats("cumulative").print_stats(40)

import collections, functools
import optimizer.decompose as D, optimizer.partitioned as P
import importlib
V = importlib.import_module("optimizer.verify"); R = importlib.import_module("optimizer.result"); S = importlib.import_module("optimizer.solve")
T = collections.Counter()
def wrap(mod, name, label):
    f = getattr(mod, name)
    @functools.wraps(f)
    def g(*a, **k):
        t = time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            T[label] += time.perf_counter() - t
    setattr(mod, name, g)
wrap(D, "assign_helpers", "helpers")
wrap(R, "build_result", "build_result")
wrap(V, "verify", "verify")
wrap(S, "optimize", "optimize")
wrap(S, "shadow_prices", "shadow_prices")
wrap(P, "write_part", "write_part")
wrap(D, "household_sums", "household_sums")
wrap(D, "household_sizes", "household_sizes")
wrap(D, "_county_final_year", "total")
prep(); final()
print({k: round(v / 20 * 1000, 1) for k, v in T.items()}, "ms a county")
