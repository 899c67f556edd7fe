# Session 36: where a one-year county's first task (model built from the partitioned folder, then its LP) spends its time, on the 100,000 instance's counties at the proportional share (run from bench/results: ../../.venv/bin/python s36_oneyear_profile.py N, N counties spread over the 40)
import cProfile, pstats, sys, time
from optimizer import decompose as d
from optimizer.partitioned import load_frame
from optimizer.scenario import Scenario
from optimizer.storage import county_regions
folder = "/work/main/bench/results/instances/partitioned-100000-seed7"
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
n = int(sys.argv[1])
pick = list(range(0, len(allc), len(allc) // n))[:n]
places = county_regions(frame, [allc[i] for i in pick])
pr = cProfile.Profile()
tot = {"lp": 0.0, "warm": 0.0, "final": 0.0}
for k, i in enumerate(pick):
    c, src, f, m = allc[i], d.Stored(folder, blocks.funds[i], places[k]), list(fund_ids[cp[i]]), money_pairs[cp[i]]
    pr.enable()
    t = time.perf_counter(); d.county_lp(c, src, sc, f, m); t1 = time.perf_counter()
    d.county_lp(c, src, sc, f, m * 1.05); t2 = time.perf_counter()
    out = d.county_final(c, src, sc, f, m * 1.05, False)
    t3 = time.perf_counter()
    pr.disable()
    tot["lp"] += t1 - t; tot["warm"] += t2 - t1; tot["final"] += t3 - t2
    print(c, hhs[i], "first", round(t1 - t, 2), "warm", round(t2 - t1, 2), "final", round(t3 - t2, 2), flush=True)
print({k: round(v, 2) for k, v in tot.items()})
pstats.Stats(pr).sort_stats("tottime").print_stats(30)
