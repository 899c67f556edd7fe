"""How much a perfect start would save the one-year 1M decomposition: phase "a" solves it as shipped and keeps the
final flows; phase "b" solves it again with the master starting from those flows' money per county and upper fund
(decompose.master_allocate's ``start``, as a re-plan's), with the first priced round at LAGRANGE (argv[2], default
4 as shipped). usage: .venv/bin/python bench/results/s38_perfect_start.py a|b [LAGRANGE]"""
import importlib
import sys
import time

import pandas as pd

FOLDER = "/work/main/bench/results/instances/partitioned-1000000-seed7"
FLOWS = "/work/main/bench/results/s38_perfect_start_flows.parquet"

if __name__ == "__main__":
    from optimizer import decompose as D
    from optimizer.partitioned import load_frame
    from optimizer.scenario import Scenario

    solve = importlib.import_module("optimizer.solve").solve
    sc = Scenario(name="bench", data=FOLDER, solver={"time_limit": 1800.0})
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        if not msg.endswith("done"):
            print(f"  {time.perf_counter() - t0:7.1f} s  {msg}", flush=True)

    if sys.argv[1] == "b":
        flows = pd.read_parquet(FLOWS)
        tree = load_frame(FOLDER).tree
        shipped = D.master_allocate
        D.LAGRANGE_EVERY = int(sys.argv[2]) if len(sys.argv) > 2 else D.LAGRANGE_EVERY

        def from_the_end(blocks, scenario, run, **kw):  # type: ignore[no-untyped-def]
            if kw.get("start") is None:
                kw["start"] = D._start_of(blocks, tree, None, flows)
                say(f"the master starts from the final flows of phase a ({kw['start'].sum():,.0f} yuan)")
            return shipped(blocks, scenario, run, **kw)

        D.master_allocate = from_the_end
    res = solve(sc, None, method="decomposed", workers=2, progress=say)
    m = res.manifest
    print({"phase": sys.argv[1:], "seconds": round(time.perf_counter() - t0, 1), "objective": m["objective"], "bound": m["bound"], "gap": m["gap"], "rounds": m["decomposition"]["rounds"]}, flush=True)
    if sys.argv[1] == "a":
        res.tables["flows"][["fund_id", "village_id", "amount"]].to_parquet(FLOWS)
