"""Cold one-year county LPs of the 1M instance: the crash basis and the dual simplex (as county_lp) against PDLP,
the crossover and the simplex. usage: .venv/bin/python bench/results/s28_pdlp_one_year.py 20"""
import sys
import time
import numpy as np
from optimizer.partitioned import load_frame
from optimizer.storage import county_regions
from optimizer import decompose as d
from optimizer.scenario import Scenario

folder = "/work/main/bench/results/instances/partitioned-1000000-seed7"
n = int(sys.argv[1])
frame = load_frame(folder)
counties = sorted(frame.county_households.index)[:n]
allc = sorted(frame.county_households.index)
blocks = d.plan_blocks(frame.funds, frame.tree, allc, frame.county_households.reindex(allc).to_numpy())
places = county_regions(frame, allc)
sc = Scenario(name="p", data=folder).with_overrides({"solver.threads": 1})
hh = blocks.households
amount = dict(zip(blocks.upper["fund_id"], blocks.upper["amount"]))
pairs = blocks.pairs
share = pairs.assign(h=hh[pairs["county"].map({c: i for i, c in enumerate(allc)}).to_numpy()])
share["money"] = share["h"] / share.groupby("fund_id")["h"].transform("sum") * share["fund_id"].map(amount)
cp = blocks.county_pairs()
fund_ids = pairs["fund_id"].to_numpy()
items = []
for i, c in enumerate(allc[:n]):
    src = d.Stored(folder, blocks.funds[i], places[i])
    items.append((c, src, sc, list(fund_ids[cp[i]]), share["money"].to_numpy()[cp[i]]))
from optimizer.solvers import SolveOptions, get_backend
models = []
for c, src, s, f, m in items:
    block = d._county(c, src, s, f)
    models.append(d._with_money(block, f, m).relaxed())
    d._forget(c)
tot = {"crash": 0.0, "pdlp": 0.0}
for rep in range(2):
    for model in models:
        for k in (("crash", "pdlp") if rep == 0 else ("pdlp", "crash")):
            opts = SolveOptions(threads=1, presolve=False, crash=True) if k == "crash" else SolveOptions(threads=1, algorithm="pdlp")
            t = time.perf_counter(); out = get_backend("highs", private=True).solve(model, opts); tot[k] += time.perf_counter() - t
print(tot, tot["pdlp"] / tot["crash"])
