# IPX (interior point with crossover) against PDLP's route and the dual simplex for multi-year county LPs of the 100k
# instance at the proportional share, one process, one thread.
# usage: .venv/bin/python bench/results/s31_ipm_county.py 1,3,10,20
import sys, time
import numpy as np
from county_shares import hhs, items, model_of
from optimizer.solvers import SolveOptions
from optimizer.solvers.highs import _pass, _new_highs
order = np.argsort(-hhs)
pick = [int(order[k]) for k in map(int, sys.argv[1].split(","))]
variants = sys.argv[2].split(",") if len(sys.argv) > 2 else ["simplex", "pdlp", "ipm"]
tot = {}
for c, src, s, f, m, n in items(pick):
    model = model_of(c, src, s, f, m)
    line = [c, n, model.shape]
    for v in variants:
        hh = _new_highs(SolveOptions(threads=1)); _pass(hh, model)
        hh.setOptionValue("output_flag", False); hh.setOptionValue("threads", 1)
        t = time.perf_counter()
        if v == "simplex":
            hh.setOptionValue("solver", "simplex"); hh.run()
        elif v == "pdlp":
            hh.setOptionValue("solver", "pdlp"); hh.setOptionValue("pdlp_optimality_tolerance", 1e-4); hh.run()
            sol = hh.getSolution(); hh.crossover(sol)
            b = hh.getBasis(); hh.setOptionValue("solver", "simplex"); hh.setOptionValue("presolve", "off")
            hh.setBasis(b); hh.run()
        elif v.startswith("ipm"):
            hh.setOptionValue("solver", "ipm"); hh.setOptionValue("run_crossover", "on")
            if v == "ipm-nopre":
                hh.setOptionValue("presolve", "off")
            if v.startswith("ipm-tol"):
                hh.setOptionValue("ipm_optimality_tolerance", float(v[7:]))
            hh.run()
        dt = time.perf_counter() - t
        tot[v] = tot.get(v, 0) + dt
        info = hh.getInfo()
        line.append((v, round(dt, 2), round(info.objective_function_value, 3), info.simplex_iteration_count, info.ipm_iteration_count, hh.getBasis().valid))
    print(*line, flush=True)
print({k: round(v, 2) for k, v in tot.items()}, {k: round(v / tot["simplex"], 3) for k, v in tot.items() if "simplex" in tot})
