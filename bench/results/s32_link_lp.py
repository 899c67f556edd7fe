# The multi-year LP relaxation of small generated instances (2016-2020): households started on a project by year u
# against the share of it built before u (excess > 0: the per-year links let the LP start more than was built).
import sys
import numpy as np
from optimizer.data import build_instance
from optimizer.generate import generate
from optimizer.multiyear import build_multiyear
from optimizer.scenario import Scenario
from optimizer.solvers import SolveOptions, get_backend
for n, seed in [(400, 3), (600, 5), (800, 7), (1000, 11)]:
    inst = build_instance(generate(n, seed=seed))
    sc = Scenario.model_validate({"name": "my", "data": "unused", "plans": {"max_per_household": 4}, "helpers": {"assign": False},
        "solver": {"time_limit": 120, "gap": 1e-4}, "years": {"first": 2016, "last": 2020, "relocation_rate": 0.05}})
    my = build_multiyear(inst, sc)
    out = get_backend("highs").solve(my.model.relaxed(), SolveOptions())
    x = out.x
    opt, T = my.options, len(my.years)
    proj = my.plans.table["project"].to_numpy()[opt["plan"].to_numpy()]
    tied = proj >= 0
    n_y = len(inst.projects)
    started = np.zeros((len(inst.households), n_y, T))
    np.add.at(started, (opt["hh"].to_numpy()[tied], proj[tied], opt["year_ix"].to_numpy()[tied]), x[my.model.col_blocks["x"]][tied])
    built = x[my.model.col_blocks["y"]].reshape(n_y, T)
    before = np.cumsum(built, axis=1) - built
    excess = (np.cumsum(started, axis=2) - before[None]).max()
    print(n, seed, round(started.sum(), 2), round(built.sum(), 2), round(float(excess), 4), out.objective, flush=True)
