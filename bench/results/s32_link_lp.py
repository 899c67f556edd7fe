# The multi-year LP relaxation of small generated instances (2016-2020): households started on a project by year u
# against the share of it built before u (excess > 0: the per-year links let the LP start more than was built).
import sys
sys.path.insert(0, "tests")  # run from the repository root
import numpy as np
from optimizer.data import build_instance
from optimizer.generate import generate
from optimizer.multiyear import build_multiyear
from optimizer.scenario import Scenario
from optimizer.solvers import SolveOptions, get_backend
from test_multiyear import _started_and_built_before
for n, seed in [(400, 3), (600, 5), (800, 7), (1000, 11)]:
    inst = build_instance(generate(n, seed=seed))
    sc = Scenario.model_validate({"name": "my", "data": "unused", "plans": {"max_per_household": 4}, "helpers": {"assign": False},
        "solver": {"time_limit": 120, "gap": 1e-4}, "years": {"first": 2016, "last": 2020, "relocation_rate": 0.05}})
    my = build_multiyear(inst, sc)
    out = get_backend("highs").solve(my.model.relaxed(), SolveOptions())
    started, before = _started_and_built_before(my, inst, out.x)
    excess = (np.cumsum(started, axis=2) - before[None]).max()
    print(n, seed, round(started.sum(), 2), round(float(excess), 4), out.objective, flush=True)
