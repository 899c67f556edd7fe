"""The 100,000 multi-year run twice: as it is, then with the master starting from the first run's final allocation
(the best start the rounds could have): how many rounds does a perfect first allocation save?"""
import sys, time
import numpy as np
from optimizer import decompose as d
from optimizer.multiyear import solve_multiyear
from optimizer.scenario import Scenario

FOLDER = "/work/main/bench/results/instances/partitioned-100000-seed7"
orig = d.master_allocate
CAPTURED = {}

def wrapped(blocks, scenario, run_counties, **kw):
    if "alloc" in CAPTURED and kw.get("start") is None:
        T = len(range(scenario.years.first, scenario.years.last + 1))
        start = np.zeros((len(blocks.pairs), T))
        for idx, a in zip(blocks.county_pairs(), CAPTURED["alloc"]):
            start[idx] = np.asarray(a).reshape(len(idx), T)
        kw["start"] = start
        print(f"starting from the first run's allocation ({start.sum():,.0f} yuan)", flush=True)
    out = orig(blocks, scenario, run_counties, **kw)
    CAPTURED.setdefault("alloc", out.alloc)
    return out

d.master_allocate = wrapped

def main():
    sc = Scenario(name="bench", data=FOLDER, years={"first": 2016, "last": 2020, "relocation_rate": 0.05}, helpers={"assign": False},
                  solver={"time_limit": 1800, "gap": 0.005})
    for k in range(2):
        t = time.perf_counter()
        r = solve_multiyear(sc, method="decomposed", workers=2,
                            progress=lambda m: print(f"{time.perf_counter()-t:7.1f} {m}", flush=True) if "MIPs:" not in m or "work" in m else None)
        print("run", k + 1, round(time.perf_counter() - t, 1), r.manifest["objective"], r.manifest["bound"], r.manifest["gap"], flush=True)

if __name__ == "__main__":
    main()
