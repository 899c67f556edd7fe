"""Prototype: a multi-year county LP from its townships' LPs (money shared by households) through a crossover."""
import sys, time
sys.path.insert(0, "/work/main/bench/results")
import numpy as np, highspy
from county_shares import county_models, d, highs_of
from optimizer.contract import Level

for c, n, block, f, m, model, A in county_models(sys.argv[1]):
    my, tree = block.my, d._whole(block)[0].tree
    nr, nc = A.shape
    town = np.full(nc, -1)
    cv = my.index.col_village
    town[: len(cv)] = tree.ancestors[cv, Level.TOWNSHIP]
    fb = model.col_blocks["f"]
    town[fb] = tree.ancestors[my.index.flows["village"].to_numpy(), Level.TOWNSHIP]
    shared_col = town < 0
    towns = np.unique(town[~shared_col])
    # households per township (assign rows: one per household)
    xb = model.col_blocks["x"]
    hh = my.options["hh"].to_numpy()
    hh_town = np.zeros(hh.max() + 1, dtype=int); hh_town[hh] = town[xb]
    share = {t: float((hh_town == t).sum()) / len(hh_town) for t in towns}
    # row -> township if all its local columns are in one township and it has no shared column
    Acoo = A.tocoo()
    rt_min = np.full(nr, np.iinfo(np.int64).max); rt_max = np.full(nr, -2)
    ct = town[Acoo.col]
    np.minimum.at(rt_min, Acoo.row, ct); np.maximum.at(rt_max, Acoo.row, ct)
    local_row = (rt_min == rt_max) & (rt_min >= 0)
    print(f"{c} hh={n}: {len(towns)} townships, {int((~local_row).sum())} shared rows, {int(shared_col.sum())} shared cols", flush=True)
    t0 = time.perf_counter()
    hfull = highs_of(model.c, A, model.col_lo, model.col_hi, model.row_lo, model.row_hi, model.sense)
    hfull.run(); cold = time.perf_counter() - t0
    opt = hfull.getInfo().objective_function_value
    print(f"  cold county LP {cold:.2f} s, {hfull.getInfo().simplex_iteration_count} its, objective {opt:.3f}", flush=True)
    # townships' LPs
    t0 = time.perf_counter()
    x = np.zeros(nc); ydual = np.zeros(nr); ywt = np.zeros(nr)
    sub_obj = 0.0
    for t in towns:
        cols = np.flatnonzero((town == t) | shared_col)
        rows = np.flatnonzero((local_row & (rt_min == t)) | (~local_row))
        sub = A[rows][:, cols]
        keep = np.diff(sub.indptr) > 0
        rows, sub = rows[keep], sub[keep]
        sc = share[t]
        rlo, rhi = model.row_lo[rows].copy(), model.row_hi[rows].copy()
        shr = ~local_row[rows]
        rlo[shr] = np.where(np.isfinite(rlo[shr]), rlo[shr] * sc, rlo[shr]); rhi[shr] = np.where(np.isfinite(rhi[shr]), rhi[shr] * sc, rhi[shr])
        clo, chi = model.col_lo[cols].copy(), model.col_hi[cols].copy()
        shc = shared_col[cols]
        clo[shc] = np.where(np.isfinite(clo[shc]), clo[shc] * sc, clo[shc]); chi[shc] = np.where(np.isfinite(chi[shc]), chi[shc] * sc, chi[shc])
        h = highs_of(model.c[cols], sub, clo, chi, rlo, rhi, model.sense)
        h.run()
        st = h.getModelStatus()
        if st != highspy.HighsModelStatus.kOptimal:
            print("  township", t, st); continue
        sol = h.getSolution()
        x[cols] += np.asarray(sol.col_value)
        rd = np.asarray(sol.row_dual)
        ydual[rows] += rd * np.where(shr, sc, 1.0); ywt[rows] += np.where(shr, sc, 1.0)
        sub_obj += h.getInfo().objective_function_value
    subs = time.perf_counter() - t0
    ydual = np.where(ywt > 0, ydual / np.maximum(ywt, 1e-12), 0.0)
    print(f"  townships' LPs {subs:.2f} s, sum {sub_obj:.3f} ({(opt - sub_obj) / opt:.3%} below)", flush=True)
    for mode in ("primal+dual", "primal"):
        t0 = time.perf_counter()
        h = highs_of(model.c, A, model.col_lo, model.col_hi, model.row_lo, model.row_hi, model.sense)
        sol = highspy.HighsSolution()
        sol.col_value = x; sol.row_value = A @ x; sol.value_valid = True
        if mode == "primal+dual":
            sol.row_dual = ydual; sol.col_dual = model.c - A.T @ ydual; sol.dual_valid = True
        else:
            sol.dual_valid = False
        st = h.crossover(sol)
        tc = time.perf_counter() - t0
        its0 = h.getInfo().simplex_iteration_count
        h.setOptionValue("solver", "simplex"); h.setOptionValue("presolve", "off")
        h.run()
        tt = time.perf_counter() - t0
        print(f"  {mode}: crossover {st} {tc:.2f} s, then simplex: {tt:.2f} s in all, {h.getInfo().simplex_iteration_count} its, objective {h.getInfo().objective_function_value:.3f}; with townships {subs + tt:.2f} s against {cold:.2f}", flush=True)
