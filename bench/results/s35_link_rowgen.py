# Session 35: run from bench/results: ../../.venv/bin/python s35_link_rowgen.py 20,30 (county ranks by size)
import sys, time
sys.path.insert(0, "/work/main/bench/results")
import numpy as np, scipy.sparse as sp
from county_shares import county_models, highs_of
for c, n, block, f, m, model, A in county_models(sys.argv[1]):
    h = highs_of(model.c, A, model.col_lo, model.col_hi, model.row_lo, model.row_hi, model.sense)
    t = time.perf_counter(); h.run(); full = time.perf_counter() - t
    ref = h.getInfo().objective_function_value; it_full = h.getInfo().simplex_iteration_count
    lk = model.row_blocks["link"]
    keep = np.ones(A.shape[0], bool); keep[lk] = False
    keep &= np.diff(A.indptr) > 0
    L = A[lk]; Llo = model.row_lo[lk]; Lhi = model.row_hi[lk]
    nonempty = np.diff(L.indptr) > 0
    Ak = A[keep]
    h2 = highs_of(model.c, Ak, model.col_lo, model.col_hi, model.row_lo[keep], model.row_hi[keep], model.sense)
    t = time.perf_counter(); h2.run()
    added = np.zeros(L.shape[0], bool); passes = 0; its = [h2.getInfo().simplex_iteration_count]
    while True:
        x = np.asarray(h2.getSolution().col_value)
        act = L @ x
        viol = nonempty & ~added & (act > Lhi + 1e-7)
        if not viol.any():
            break
        # add violated rows, and (optionally) all rows of the same (hh, project)
        idx = np.flatnonzero(viol)
        if len(sys.argv) > 2:
            g = idx // 5
            idx = np.flatnonzero(np.isin(np.arange(L.shape[0]) // 5, g) & nonempty & ~added)
        sub = L[idx].tocsr()
        h2.addRows(len(idx), Llo[idx], Lhi[idx], sub.nnz, sub.indptr[:-1].astype(np.int32), sub.indices.astype(np.int32), sub.data)
        added[idx] = True
        h2.run(); passes += 1; its.append(h2.getInfo().simplex_iteration_count)
    rg = time.perf_counter() - t
    print(c, n, "full", round(full, 2), it_full, round(ref, 4), "| rowgen", round(rg, 2), passes, "passes", int(added.sum()), "of", int(nonempty.sum()), "rows", its, round(h2.getInfo().objective_function_value, 4), flush=True)
