"""PDLP route options on multi-year county LPs. usage: ... s28_pdlp_options.py 1,3,20 pre,nopre,rs3,sc1,hi,hi5,hi6"""
import sys, time
exec(open("bench/results/s28_pdlp_county.py").read().split("order = np.argsort")[0])  # its setup
import highspy
from optimizer.solvers import SolveOptions
from optimizer.solvers.highs import _pass, _new_highs
order = np.argsort(-hhs)
pick = [int(order[k]) for k in map(int, sys.argv[1].split(","))]
tols = [x for x in sys.argv[2].split(",")]
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
            hh.setOptionValue("solver", "hipdlp" if tol.startswith("hi") else "pdlp"); hh.setOptionValue("pdlp_optimality_tolerance", float("1e-" + tol[2:]) if tol.startswith("hi") and len(tol) > 2 else 1e-4); hh.setOptionValue("presolve", "off") if tol == "nopre" else None; hh.setOptionValue("pdlp_scaling_mode", int(tol[2:])) if tol.startswith("sc") else None; hh.setOptionValue("pdlp_restart_strategy", int(tol[2:])) if tol.startswith("rs") else None
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
