"""Multi-year county roundings of the 100,000 instance at the proportional share (each upper fund's yearly money
shared by households), one process, one thread: the LP cold, then optimize_multiyear as a county's final task runs it
(warm, emergency money shut), gap 0.5%, 30 s. Usage: s29_projects_county.py 39,38,37 (ranks by size, 39 the largest);
the code before through PYTHONPATH=<worktree>."""
import sys, time
import numpy as np
from optimizer.partitioned import load_frame
from optimizer.storage import county_regions
from optimizer import decompose as d
from optimizer.scenario import Scenario
from optimizer.multiyear import yearly_appropriations

folder = "/work/main/bench/results/instances/partitioned-100000-seed7"
frame = load_frame(folder)
allc = sorted(frame.county_households.index)
hhs = frame.county_households.reindex(allc).to_numpy()
blocks = d.plan_blocks(frame.funds, frame.tree, allc, hhs)
places = county_regions(frame, allc)
sc = Scenario(name="p", data=folder, years={"first": 2016, "last": 2020, "relocation_rate": 0.05}, helpers={"assign": False}).with_overrides({"solver.threads": 1})
approp = yearly_appropriations(frame.funds["fund_id"], frame.funds["amount"].to_numpy(dtype=float), sc.years)
fpos = {f: i for i, f in enumerate(frame.funds["fund_id"])}
pairs = blocks.pairs
h = hhs[pairs["county"].map({c: i for i, c in enumerate(allc)}).to_numpy()]
share = h / pairs.assign(h=h).groupby("fund_id")["h"].transform("sum").to_numpy()
money_pairs = share[:, None] * approp[pairs["fund_id"].map(fpos).to_numpy()]  # pairs x T
cp = blocks.county_pairs()
fund_ids = pairs["fund_id"].to_numpy()

def items(which):
    out = []
    for i in which:
        c = allc[i]
        src = d.Stored(folder, blocks.funds[i], places[i])
        out.append((c, src, sc, list(fund_ids[cp[i]]), money_pairs[cp[i]].ravel(), hhs[i]))
    return out

def model_of(c, src, s, f, m):
    block = d._county(c, src, s, f)
    model = d._with_money(block, f, m).relaxed()
    d._forget(c)
    return model

from dataclasses import replace
from optimizer.multiyear import optimize_multiyear
from optimizer.solve import solver_options

order = np.argsort(hhs)
for k in [int(a) for a in sys.argv[1].split(",")]:
    c, src, s, f, m, n = items([order[k]])[0]
    block = d._county(c, src, s, f)
    model = d._with_money(block, f, m)
    my = replace(block.my, model=model)
    quick = s.with_overrides({"solver.time_limit": 30, "solver.gap": 0.005})
    t = time.perf_counter()
    lp = block.backend.solve(model.relaxed(), replace(solver_options(quick.solver), keep=True))
    tl = time.perf_counter() - t
    msgs: list[str] = []
    t = time.perf_counter()
    sol = optimize_multiyear(model, my, d._whole(block)[0], quick, msgs.append, backend=block.backend, warm=True, shut=block.emergency_cols)
    tm = time.perf_counter() - t
    print(f"{c} hh={n} lp={lp.objective:.3f} ({tl:.1f}s) obj={sol.objective:.3f} gap={(lp.objective - sol.objective) / lp.objective:.4%} in {tm:.2f}s | " + " / ".join(msgs), flush=True)
    d._forget(c)
