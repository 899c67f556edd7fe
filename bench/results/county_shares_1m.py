"""One-year county tasks of the 1M instance at the proportional share (each upper fund's money shared by poor
households), one process, one thread: what the one-year county scripts of bench/README.md share
(s31_final_1m.py, s31_submip.py, s31_priced_extra_1y.py; s36_oneyear_*.py on the 100,000 instance, whose folder
COUNTY_SHARES_FOLDER names)."""
import os

from optimizer import decompose as d
from optimizer.partitioned import load_frame
from optimizer.scenario import Scenario
from optimizer.storage import county_regions

folder = os.environ.get("COUNTY_SHARES_FOLDER", "/work/main/bench/results/instances/partitioned-1000000-seed7")
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


def spread(count):
    """``count`` counties spread evenly over the 400: (name, its source for the workers' tasks, its upper funds, its
    money, its households)."""
    pick = list(range(0, len(allc), len(allc) // count))[:count]
    places = county_regions(frame, [allc[i] for i in pick])
    return [(allc[i], d.Stored(folder, blocks.funds[i], places[k]), list(fund_ids[cp[i]]), money_pairs[cp[i]], hhs[i]) for k, i in enumerate(pick)]
