"""The 100,000 multi-year run with the master starting from a one-year decomposition's allocation (each pair's share
of its fund, the same share in every year)."""
import sys, time
import numpy as np
import pandas as pd
from optimizer import decompose as d
from optimizer.multiyear import solve_multiyear
from optimizer.scenario import Scenario

FOLDER = "/work/main/bench/results/instances/partitioned-100000-seed7"
orig = d.master_allocate
ONE = {}

def wrapped(blocks, scenario, run_counties, **kw):
    if scenario.years is None:
        out = orig(blocks, scenario, run_counties, **kw)
        if "share" not in ONE:
            amount = np.zeros(len(blocks.pairs))
            for idx, a in zip(blocks.county_pairs(), out.alloc):
                amount[idx] = np.asarray(a)
            p = blocks.pairs.assign(amount=amount)
            p["share"] = p["amount"] / p.groupby("fund_id")["amount"].transform("sum").clip(lower=1e-9)
            ONE["share"] = p.set_index(["fund_id", "county"])["share"]
        return out
    approp = d._upper_yearly(blocks, scenario)
    fund_pos = pd.Index(blocks.upper["fund_id"]).get_indexer(blocks.pairs["fund_id"])
    share = ONE["share"].reindex(pd.MultiIndex.from_frame(blocks.pairs[["fund_id", "county"]])).fillna(0.0).to_numpy()
    kw["start"] = approp[fund_pos] * share[:, None]
    print(f"starting from the one-year allocation's shares ({kw['start'].sum():,.0f} yuan)", flush=True)
    return orig(blocks, scenario, run_counties, **kw)

d.master_allocate = wrapped

def main():
    t = time.perf_counter()
    say = lambda m: print(f"{time.perf_counter()-t:7.1f} {m}", flush=True) if "MIPs:" not in m or "work" in m else None
    one = Scenario(name="bench", data=FOLDER, helpers={"assign": False}, solver={"time_limit": 1800, "gap": 0.005})
    d.solve_decomposed(one, folder=FOLDER, workers=2, progress=say)
    print("one-year", round(time.perf_counter() - t, 1), flush=True)
    t = time.perf_counter()
    sc = Scenario(name="bench", data=FOLDER, years={"first": 2016, "last": 2020, "relocation_rate": 0.05}, helpers={"assign": False},
                  solver={"time_limit": 1800, "gap": 0.005})
    r = solve_multiyear(sc, method="decomposed", workers=2, progress=say)
    print("multi-year", round(time.perf_counter() - t, 1), r.manifest["objective"], r.manifest["bound"], r.manifest["gap"], flush=True)

if __name__ == "__main__":
    main()
