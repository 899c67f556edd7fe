# Session 36: a one-year county's MIPs (county_round's narrow rounding and county_final's) on the 100,000 instance's counties at the proportional share, each captured as HiGHS gets it and solved again by the "highs" and "pulp" (CBC) backends, gap as asked, one thread (run from bench/results: ../../.venv/bin/python s36_oneyear_rounding.py N, N counties spread over the 40)
import sys, time
import numpy as np
from optimizer import decompose as d
from optimizer.partitioned import load_frame
from optimizer.scenario import Scenario
from optimizer.storage import county_regions
from optimizer.solvers import get_backend
from optimizer.solvers import highs as H
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
got = []
orig = H.HighsBackend.solve
def spy(self, model, options):
    if model.integer.any() and not options.warm:
        got.append((model, options))
    return orig(self, model, options)
H.HighsBackend.solve = spy
for k, i in enumerate(pick):
    c, src, f, m = allc[i], d.Stored(folder, blocks.funds[i], places[k]), list(fund_ids[cp[i]]), money_pairs[cp[i]]
    d.county_lp(c, src, sc, f, m)
    d.county_round(c, src, sc, f, m)
    d.county_final(c, src, sc, f, m, False, widen=True)
H.HighsBackend.solve = orig
tot = {"highs": [0.0, 0.0], "pulp": [0.0, 0.0]}
for model, options in got:
    line = [f"{model.shape} free {int((model.col_lo != model.col_hi).sum())} gap {options.gap:g}"]
    for name in tot:
        t = time.perf_counter(); out = get_backend(name, private=True).solve(model, options); dt = time.perf_counter() - t
        tot[name][0] += dt; tot[name][1] += out.objective if out.x is not None else 0.0
        line.append(f"{name} {out.status.value} {dt:.2f} s {out.objective:.3f}")
    print(" | ".join(line), flush=True)
print({k: (round(a, 2), round(b, 3)) for k, (a, b) in tot.items()}, len(got), "MIPs")
