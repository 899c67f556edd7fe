# Session 36: every captured county rounding MIP (s36_capture_all.py) through the project's backends as the county final calls them (the whole model, gap 0.5%, 30 s, one thread): "pulp" (CBC on an MPS file without the fixed columns) against "highs" (run from bench/results: ../../.venv/bin/python s36_backend_rounding.py [highs,pulp])
import glob, os, sys, time
import numpy as np, scipy.sparse as sp
from optimizer.model import LinearModel
from optimizer.solvers import SolveOptions, get_backend
names = sys.argv[1].split(",") if len(sys.argv) > 1 else ["pulp", "highs"]
tot = {n: [0.0, 0.0] for n in names}
for path in sorted(glob.glob("/tmp/s36all/*.npz"), key=lambda p: int(os.path.basename(p)[:-4])):
    z = np.load(path)
    A = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
    m = LinearModel("max", z["c"], A, z["row_lo"], z["row_hi"], z["col_lo"], z["col_hi"], z["integer"])
    line = [str(z["county"])]
    for n in names:
        t = time.perf_counter(); out = get_backend(n, private=True).solve(m, SolveOptions(time_limit=30, gap=0.005, threads=1)); dt = time.perf_counter() - t
        if out.x is None:
            line.append(f"{n} {out.status.value} {dt:.2f} s: {out.message}"); continue
        act = A @ out.x
        viol = max(float(np.max(np.maximum(z["row_lo"] - act, 0))), float(np.max(np.maximum(act - z["row_hi"], 0))))
        tot[n][0] += dt; tot[n][1] += out.objective
        line.append(f"{n} {out.status.value} {dt:.2f} s {out.objective:.3f} viol {viol:.1e}")
    print(" | ".join(line), flush=True)
print({n: (round(a, 1), round(b, 2)) for n, (a, b) in tot.items()})
