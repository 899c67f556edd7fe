"""Multi-year county LPs of the 100k instance: cold as county_lp solves them (presolve, no crash) against the crash basis."""
import sys, time
from dataclasses import replace
import numpy as np, pandas as pd
import optimizer.decompose as d
from optimizer.partitioned import load_frame
from optimizer.scenario import Scenario
from optimizer.solvers import SolveOptions

folder = "/work/main/bench/results/instances/partitioned-100000-seed7"
sc = Scenario.model_validate({"name": "bench", "data": folder, "helpers": {"assign": False}, "solver": {"time_limit": 600, "gap": 0.005, "threads": 1},
                              "years": {"first": 2016, "last": 2020, "relocation_rate": 0.05}})
frame = load_frame(folder)
counties = sorted(frame.county_households.index)
blocks = d.plan_blocks(frame.funds, frame.tree, counties, frame.county_households.reindex(counties).to_numpy())
fund_ids = blocks.pairs["fund_id"].to_numpy()
lists = {c: list(fund_ids[idx]) for c, idx in zip(blocks.counties, blocks.county_pairs())}
src = {c: d.Stored(folder, f, None, False, None, None, None) for c, f in zip(blocks.counties, blocks.funds)}
approp = d._upper_yearly(blocks, sc)
pairs = blocks.pairs
cp = pd.Index(blocks.counties).get_indexer(pairs["county"]); fp = pd.Index(blocks.upper["fund_id"]).get_indexer(pairs["fund_id"])
w = blocks.households[cp]; share = w / np.bincount(fp, weights=w)[fp]
a = (approp[fp] * share[:, None]).ravel()
T = approp.shape[1]
pair_year = (np.arange(len(pairs))[:, None] * T + np.arange(T)[None, :])
money = {c: a[pair_year[idx].ravel()] for c, idx in zip(blocks.counties, blocks.county_pairs())}
hh = frame.county_households.reindex(counties)
pick = [c for c in hh.sort_values().index[[5, 15, 25, 35]]]
modes = sys.argv[1:] or ["now", "crash_nopre", "crash_pre"]
for c in pick:
    block = d._build(c, src[c], sc, lists[c])
    model = d._with_money(block, lists[c], money[c]).relaxed()
    row = [c, int(hh[c]), model.shape]
    for mode in modes:
        from optimizer.solvers.highs import HighsBackend
        be = HighsBackend()
        opts = SolveOptions(time_limit=600, threads=1, duals=True, presolve=(mode != "crash_nopre"), crash=mode.startswith("crash"),
                            algorithm="ipm" if mode == "ipm" else "auto")
        t = time.perf_counter()
        out = be.solve(model, opts)
        row += [mode, round(time.perf_counter() - t, 2), round(out.objective, 3), out.iterations]
    print(*row, flush=True)
