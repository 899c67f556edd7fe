"""Final tasks of 20 one-year counties of the 1M instance (LP, narrow rounding, final), one process: where the time goes."""
import cProfile, pstats, sys, time
import numpy as np
sys.path.insert(0, "/tmp/prof")
from optimizer.partitioned import load_frame
from optimizer.storage import county_regions
from optimizer import decompose as d
from optimizer.scenario import Scenario

folder = "/work/main/bench/results/instances/partitioned-1000000-seed7"
frame = load_frame(folder)
allc = sorted(frame.county_households.index)
hhs = frame.county_households.reindex(allc).to_numpy()
blocks = d.plan_blocks(frame.funds, frame.tree, allc, hhs)
sc = Scenario(name="p", data=folder).with_overrides({"solver.threads": 1})
pairs = blocks.pairs
fpos = {f: i for i, f in enumerate(frame.funds["fund_id"])}
amount = frame.funds["amount"].to_numpy(dtype=float)
h = hhs[pairs["county"].map({c: i for i, c in enumerate(allc)}).to_numpy()]
share = h / pairs.assign(h=h).groupby("fund_id")["h"].transform("sum").to_numpy()
money_pairs = share * amount[pairs["fund_id"].map(fpos).to_numpy()]
cp = blocks.county_pairs()
fund_ids = pairs["fund_id"].to_numpy()
pick = list(range(0, 400, 20))
places = county_regions(frame, [allc[i] for i in pick])
items = [(allc[i], d.Stored(folder, blocks.funds[i], places[k]), list(fund_ids[cp[i]]), money_pairs[cp[i]]) for k, i in enumerate(pick)]
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
