"""The monolithic multi-year LP: IPX (with crossover) against PDLP + crossover + simplex, one thread."""
import sys, time
from dataclasses import replace
from optimizer.data import build_instance
from optimizer.generate import generate
from optimizer.scenario import Scenario
from optimizer.multiyear import build_multiyear
from optimizer.solvers import SolveOptions, get_backend
n = int(sys.argv[1])
inst = build_instance(generate(n, seed=7))
sc = Scenario(name="m", data="unused", years={"first": 2016, "last": 2020, "relocation_rate": 0.05}, helpers={"assign": False})
my = build_multiyear(inst, sc)
model = my.model.relaxed()
print(n, "rows", model.shape, flush=True)
for alg in sys.argv[2].split(","):
    t = time.perf_counter()
    out = get_backend("highs", private=True).solve(model, SolveOptions(threads=1, algorithm=alg, time_limit=900))
    print(alg, round(time.perf_counter() - t, 2), out.status.value, round(out.objective, 3), out.iterations, flush=True)
