"""A multi-year county LP with and without its empty rows (the first year's link rows), cold and warm after a random +-12% change of its money."""
import sys, time
sys.path.insert(0, "/work/main/bench/results")
import numpy as np
from county_shares import county_models, d, highs_of
rng = np.random.default_rng(1)
for c, n, block, f, m, model, A in county_models(sys.argv[1]):
    m2 = m * rng.uniform(0.88, 1.12, size=len(m))
    model2 = d._with_money(block, f, m2).relaxed()
    nonempty = np.diff(A.indptr) > 0
    for label, rows in (("all rows", np.arange(A.shape[0])), ("no empty rows", np.flatnonzero(nonempty))):
        res = []
        for rep in range(2):
            h = highs_of(model.c, A[rows], model.col_lo, model.col_hi, model.row_lo[rows], model.row_hi[rows], model.sense)
            t0 = time.perf_counter(); h.run(); cold = time.perf_counter() - t0
            # warm: the changed money's bounds
            h.changeRowsBounds(len(rows), np.arange(len(rows), dtype=np.int32), model2.row_lo[rows], model2.row_hi[rows])
            h.changeColsBounds(A.shape[1], np.arange(A.shape[1], dtype=np.int32), model2.col_lo, model2.col_hi)
            t0 = time.perf_counter(); h.run(); warm = time.perf_counter() - t0
            res.append((cold, warm, h.getInfo().objective_function_value))
        print(c, n, label, len(rows), " ".join(f"cold {a:.2f} warm {b:.2f} obj {o:.3f}" for a, b, o in res), flush=True)
