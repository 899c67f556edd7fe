# The re-plan of tests/test_decompose_years.py (900 households, 2018-2020, from 2019) under churn caps, one model
# against decomposed (2 workers). usage: .venv/bin/python bench/results/s32_replan_caps.py 5,4,3
import sys, tempfile, time
from pathlib import Path
sys.path.insert(0, "tests")  # run from the repository root
from test_decompose_years import _scenario, _replan_inputs
from optimizer.data import build_instance
from optimizer.generate import generate
from optimizer.model import ChurnCap
from optimizer.multiyear import solve_multiyear
if __name__ == "__main__":
    small = build_instance(generate(900, seed=4))
    sc = _scenario()
    mono = solve_multiyear(sc, small, method="monolithic")
    kept, previous, withheld = _replan_inputs(small, mono, Path(tempfile.mkdtemp()))
    for n in map(int, sys.argv[1].split(",")):
        one = solve_multiyear(sc, small, method="monolithic", kept=kept, withheld=withheld, churn=ChurnCap(previous, n))
        said = []
        t = time.perf_counter()
        try:
            run = solve_multiyear(sc, small, method="decomposed", workers=2, kept=kept, withheld=withheld, churn=ChurnCap(previous, n), progress=said.append)
            res = (round(time.perf_counter() - t, 1), round(run.manifest["objective"], 2), f"{run.manifest['gap']:.3%}", len(run.manifest["decomposition"]["history"]))
        except Exception as e:
            res = ("error after", round(time.perf_counter() - t, 1), str(e)[:160])
        print(n, "one", round(one.manifest["timings"]["total"], 1), round(one.manifest["objective"], 2), "dec", res, [m[:90] for m in said if "held back" in m], flush=True)
