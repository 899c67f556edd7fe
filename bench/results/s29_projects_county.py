"""Multi-year county roundings of the 100,000 instance at the proportional share (each upper fund's yearly money
shared by households), one process, one thread: the LP cold, then optimize_multiyear as a county's final task runs it
(warm, emergency money shut), gap 0.5%, 30 s (the cold LP 300 s: the largest county's took 27-31 s). Usage: s29_projects_county.py 39,38,37 (ranks by size, 39 the largest);
the code before through PYTHONPATH=<worktree>."""
import sys, time
import numpy as np
from county_shares import d, hhs, items

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
    lp = block.backend.solve(model.relaxed(), replace(solver_options(quick.solver), keep=True, time_limit=300))
    tl = time.perf_counter() - t
    msgs: list[str] = []
    t = time.perf_counter()
    sol = optimize_multiyear(model, my, d._whole(block)[0], quick, msgs.append, backend=block.backend, warm=True, shut=block.emergency_cols)
    tm = time.perf_counter() - t
    print(f"{c} hh={n} lp={lp.objective:.3f} ({tl:.1f}s) obj={sol.objective:.3f} gap={(lp.objective - sol.objective) / lp.objective:.4%} in {tm:.2f}s | " + " / ".join(msgs), flush=True)
    d._forget(c)
