"""bench/results/s31_priced_extra.py for one-year counties of the 1M instance at the proportional share.
usage: .venv/bin/python bench/results/s31_priced_extra_1y.py 20  (how many counties, spread over the 400)"""
import sys, time
sys.path.insert(0, "/work/main/bench/results")
import numpy as np
import scipy.sparse as sp
from county_shares import highs_of, plain_then_priced
from county_shares_1m import d, sc, spread

rng = np.random.default_rng(0)
tot = {}
for c, src, f, m, n in spread(int(sys.argv[1])):
    block = d._county(c, src, sc, f)
    model = d._with_money(block, f, m).relaxed()
    A = sp.csr_matrix(model.A)
    lp = plain_then_priced(block, f, m, model, A, 3, crash=True)
    cold, basis, rows, duals, capped, key, paying = lp.cold, lp.basis, lp.rows, lp.duals, lp.capped, lp.key, lp.paying
    flows = block.index.flows
    k = len(rows)
    for name, scale in (("x0.9", np.full(k, 0.9)), ("x1.1", np.full(k, 1.1)), ("U(.8,1.2)", rng.uniform(0.8, 1.2, k))):
        price = duals * scale
        per = np.zeros(len(flows)); per[paying] = price[key[paying]]
        cc = model.c.copy(); cc[model.col_blocks["f"]] -= per
        g = highs_of(cc, A, capped.col_lo, capped.col_hi, capped.row_lo, capped.row_hi, model.sense)
        g.setBasis(basis)
        t0 = time.perf_counter(); g.run(); t_now = time.perf_counter() - t0
        term_now, it_now = g.getInfo().objective_function_value, g.getInfo().simplex_iteration_count
        money = model.row_hi[rows]
        room = capped.row_hi[rows] - money
        E = sp.csr_matrix((np.concatenate([-np.ones(k), np.ones(k)]), (np.concatenate([rows, rows]), np.arange(2 * k))), shape=(A.shape[0], 2 * k))
        e = highs_of(np.concatenate([model.c, -price, price]), sp.hstack([A, E], format="csr"), np.concatenate([model.col_lo, np.zeros(2 * k)]),
                     np.concatenate([model.col_hi, room, np.maximum(money, 0.0)]), model.row_lo, model.row_hi, model.sense)
        b2 = basis.__class__()
        b2.col_status = list(basis.col_status) + [basis.col_status[0].__class__.kLower] * (2 * k)
        b2.row_status = list(basis.row_status); b2.valid = True
        e.setBasis(b2)
        t0 = time.perf_counter(); e.run(); t_e = time.perf_counter() - t0
        term_e = e.getInfo().objective_function_value - float(price @ money)
        tot["now"] = tot.get("now", 0.0) + t_now; tot["buysell"] = tot.get("buysell", 0.0) + t_e
        print(f"{c} hh={n} cold {cold:.3f}; {name}: now {t_now:.3f} s {it_now} its {term_now:.4f}; buy/sell {t_e:.3f} s {e.getInfo().simplex_iteration_count} its {term_e:.4f}", flush=True)
    d._forget(c)
print({k: round(v, 2) for k, v in tot.items()}, round(tot["buysell"] / tot["now"], 3))
