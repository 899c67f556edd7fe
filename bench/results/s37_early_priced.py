"""A county's priced LP stopped early by an iteration limit: how far its objective then (the dual simplex's, a bound
once the basis is dual feasible) lies from the priced LP's optimum, and how much time the stop saves.
usage: .venv/bin/python bench/results/s37_early_priced.py 20,30 (ranks by size, multi-year 100k; the plain LP at the
proportional share, prices its money duals x 0.9 / x 1.1 / U(0.8, 1.2), cap 3x, from the plain LP's basis)"""
import sys, time
sys.path.insert(0, "/work/main/bench/results")
import numpy as np
from county_shares import county_models, highs_of, plain_then_priced

rng = np.random.default_rng(0)
for c, n, block, f, m, model, A in county_models(sys.argv[1]):
    lp = plain_then_priced(block, f, m, model, A, 3)
    flows = block.index.flows
    k = len(lp.rows)
    cap = lp.capped
    for name, scale in (("x0.9", np.full(k, 0.9)), ("x1.1", np.full(k, 1.1)), ("U(.8,1.2)", rng.uniform(0.8, 1.2, k))):
        price = lp.duals * scale
        per = np.zeros(len(flows)); per[lp.paying] = price[lp.key[lp.paying]]
        cc = model.c.copy(); cc[model.col_blocks["f"]] -= per
        g = highs_of(cc, A, cap.col_lo, cap.col_hi, cap.row_lo, cap.row_hi, model.sense)
        g.setBasis(lp.basis)
        t0 = time.perf_counter(); g.run(); t_full = time.perf_counter() - t0
        best = g.getInfo().objective_function_value
        its = g.getInfo().simplex_iteration_count
        line = [f"{c} hh={n} {name}: optimum {best:.4f} in {t_full:.2f} s, {its} iterations"]
        for frac in (0.25, 0.5, 0.75, 0.9):
            e = highs_of(cc, A, cap.col_lo, cap.col_hi, cap.row_lo, cap.row_hi, model.sense)
            e.setBasis(lp.basis)
            e.setOptionValue("simplex_iteration_limit", max(1, int(frac * its)))
            t0 = time.perf_counter(); e.run(); t = time.perf_counter() - t0
            off = e.getInfo().objective_function_value - best
            line.append(f"  {frac:.2f} of the iterations: {t:.2f} s ({t / t_full:.2f} of the time), objective {off:+.4f} ({off / best:+.3%})")
        print("\n".join(line), flush=True)
