"""A county's priced LP from the plain LP's basis with its money rows one-sided (as shipped: -inf <= used <= money)
against boxed (their least possible activity <= used <= money; the lower bound is implied, so the LP is the same),
which lets the dual simplex flip a money row to its lower bound where the prices turn its dual's sign.
usage: .venv/bin/python bench/results/s38_boxed_money.py 20,30 [1m]  (ranks by size; multi-year 100k, or with
"1m" the one-year counties of the 1M instance spread over the 400)"""
import sys, time
sys.path.insert(0, "/work/main/bench/results")
import numpy as np
import scipy.sparse as sp

one_year = len(sys.argv) > 2 and sys.argv[2] == "1m"
if one_year:
    from county_shares_1m import d, sc, spread
    from county_shares import highs_of, plain_then_priced  # noqa: F401  (the 100k frame loads too: a few seconds)
    def county_models(ranks):
        chosen = spread(20)
        for k in [int(a) for a in ranks.split(",")]:
            c, src, f, m, n = chosen[k]
            block = d._county(c, src, sc, f)
            model = d._with_money(block, f, m).relaxed()
            yield c, n, block, f, m, model, sp.csr_matrix(model.A)
            d._forget(c)
else:
    from county_shares import county_models, highs_of, plain_then_priced, d


def least_activity(A, lo, hi):
    """Each row's least activity over the column bounds (-inf where unbounded)."""
    A = sp.csr_matrix(A)
    pos = A.multiply(A > 0).tocsr(); neg = A.multiply(A < 0).tocsr()
    with np.errstate(invalid="ignore"):
        lo_part = pos @ np.where(np.isfinite(lo), lo, -1e300)
        hi_part = neg @ np.where(np.isfinite(hi), hi, 1e300)
    out = lo_part + hi_part
    return np.where(np.abs(out) > 1e200, -np.inf, out)


rng = np.random.default_rng(0)
for c, n, block, f, m, model, A in county_models(sys.argv[1]):
    lp = plain_then_priced(block, f, m, model, A, 3, crash=one_year)
    flows = block.index.flows
    k = len(lp.rows)
    cap = lp.capped
    least = least_activity(A, cap.col_lo, cap.col_hi)[lp.rows]
    print(f"{c} hh={n}: plain LP {lp.cold:.2f} s; money rows {k}, with a finite least activity {int(np.isfinite(least).sum())}", flush=True)
    for name, scale in (("x0.9", np.full(k, 0.9)), ("x1.1", np.full(k, 1.1)), ("U(.8,1.2)", rng.uniform(0.8, 1.2, k))):
        price = lp.duals * scale
        per = np.zeros(len(flows)); per[lp.paying] = price[lp.key[lp.paying]]
        cc = model.c.copy(); cc[model.col_blocks["f"]] -= per
        line = [f"  {name}:"]
        for label, boxed in (("one-sided", False), ("boxed", True), ("one-sided", False), ("boxed", True)):
            rlo = cap.row_lo.copy()
            if boxed:
                rlo[lp.rows] = np.maximum(rlo[lp.rows], least)
            g = highs_of(cc, A, cap.col_lo, cap.col_hi, rlo, cap.row_hi, model.sense)
            g.setBasis(lp.basis)
            t0 = time.perf_counter(); g.run(); t = time.perf_counter() - t0
            info = g.getInfo()
            line.append(f"{label} {t:.2f} s {info.simplex_iteration_count} it {info.objective_function_value:.4f}")
        print(" | ".join(line), flush=True)
