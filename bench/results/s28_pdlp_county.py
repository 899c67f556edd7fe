# The scripts of "PDLP and a crossover for a large multi-year county's first LP" (bench/README.md), joined:
# usage: .venv/bin/python bench/results/s28_pdlp_county.py 1,3,10,20,30,39 1e-4  (county ranks by size, then PDLP
# tolerances or variants: nopre (PDLP without presolve), hi / hi5 / hi6 (hipdlp at 1e-4 / 1e-5 / 1e-6), rs3 (restart
# strategy 3), sc1 (scaling mode 1), each at 1e-4 otherwise)
"""Multi-year county LPs of the 100k instance at the proportional share, one process."""
import numpy as np
from county_shares import allc, d, hhs, items, model_of  # noqa: F401
import sys, time
import highspy
from optimizer.solvers import SolveOptions
from optimizer.solvers.highs import _pass, _new_highs
order = np.argsort(-hhs)
pick = [int(order[k]) for k in map(int, sys.argv[1].split(","))]
tols = sys.argv[2].split(",")


def configure(hh, tol):
    """PDLP as the variant ``tol`` asks (see the usage above)."""
    hi = tol.startswith("hi")
    hh.setOptionValue("solver", "hipdlp" if hi else "pdlp")
    tolerance = float("1e-" + tol[2:]) if hi and len(tol) > 2 else 1e-4 if hi or not tol[0].isdigit() else float(tol)
    hh.setOptionValue("pdlp_optimality_tolerance", tolerance)
    if tol == "nopre":
        hh.setOptionValue("presolve", "off")
    if tol.startswith("rs"):
        hh.setOptionValue("pdlp_restart_strategy", int(tol[2:]))
    if tol.startswith("sc"):
        hh.setOptionValue("pdlp_scaling_mode", int(tol[2:]))

tot = {}
for c, src, s, f, m, n in items(pick):
    model = model_of(c, src, s, f, m)
    line = [c, n]
    for tol in [None] + tols:
        hh = _new_highs(SolveOptions(threads=1)); _pass(hh, model)
        hh.setOptionValue("output_flag", False); hh.setOptionValue("threads", 1)
        t = time.perf_counter()
        if tol is None:
            hh.setOptionValue("solver", "simplex"); hh.run(); parts = ()
        else:
            configure(hh, tol)
            hh.run(); t1 = time.perf_counter()
            sol = hh.getSolution(); hh.crossover(sol); t2 = time.perf_counter()
            b = hh.getBasis(); hh.setOptionValue("solver", "simplex"); hh.setOptionValue("presolve", "off")
            hh.setBasis(b); hh.run(); t3 = time.perf_counter()
            parts = (round(t1 - t, 2), round(t2 - t1, 2), round(t3 - t2, 2))
        dt = time.perf_counter() - t
        tot[tol] = tot.get(tol, 0) + dt
        line.append((tol, round(dt, 2), parts, round(hh.getInfo().objective_function_value, 3), hh.getInfo().simplex_iteration_count))
    print(*line, flush=True)
print({k: round(v, 2) for k, v in tot.items()}, {k: round(v / tot[None], 3) for k, v in tot.items()})
