# Session 36: a one-year county's MIPs (county_round's narrow rounding and county_final's) on the 100,000 instance's counties at the proportional share, each captured as HiGHS gets it and solved again by the "highs" and "pulp" (CBC) backends, gap as asked, one thread (run from bench/results: ../../.venv/bin/python s36_oneyear_rounding.py N, N counties spread over the 40)
import os
import sys
import time

os.environ["COUNTY_SHARES_FOLDER"] = "/work/main/bench/results/instances/partitioned-100000-seed7"
import county_shares_1m as cs  # noqa: E402
from optimizer.solvers import get_backend
from optimizer.solvers import highs as H

d, sc = cs.d, cs.sc
n = int(sys.argv[1])
got = []
orig = H.HighsBackend.solve
def spy(self, model, options):
    if model.integer.any() and not options.warm:
        got.append((model, options))
    return orig(self, model, options)
H.HighsBackend.solve = spy
for c, src, f, m, _ in cs.spread(n):
    d.county_lp(c, src, sc, f, m)
    d.county_round(c, src, sc, f, m)
    d.county_final(c, src, sc, f, m, False, widen=True)
H.HighsBackend.solve = orig
tot = {"highs": [0.0, 0.0], "pulp": [0.0, 0.0]}
for model, options in got:
    line = [f"{model.shape} free {int((model.col_lo != model.col_hi).sum())} gap {options.gap:g}"]
    for name in tot:
        t = time.perf_counter(); out = get_backend(name, private=True).solve(model, options); dt = time.perf_counter() - t
        tot[name][0] += dt; tot[name][1] += out.objective if out.x is not None else 0.0
        line.append(f"{name} {out.status.value} {dt:.2f} s {out.objective:.3f}")
    print(" | ".join(line), flush=True)
print({k: (round(a, 2), round(b, 3)) for k, (a, b) in tot.items()}, len(got), "MIPs")
