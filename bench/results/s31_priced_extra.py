"""A county's priced LP from its plain LP's basis: as the rounds solve it now (money rows opened to the cap, flow
costs less the price) against the same LP with a buy and a sell column per money row (rows at the round's money,
flow costs unchanged: the plain LP's basis stays primal feasible and only the new columns price out).
usage: .venv/bin/python bench/results/s31_priced_extra.py 39,38,30,20  (county ranks by size, multi-year 100k)"""
import sys, time
sys.path.insert(0, "/work/main/bench/results")
import numpy as np
import scipy.sparse as sp
from county_shares import county_models, highs_of, plain_then_priced

rng = np.random.default_rng(0)
tot = {}
for c, n, block, f, m, model, A in county_models(sys.argv[1]):
    lp = plain_then_priced(block, f, m, model, A, 3)
    cold, basis, rows, duals, capped, key, paying = lp.cold, lp.basis, lp.rows, lp.duals, lp.capped, lp.key, lp.paying
    flows = block.index.flows
    k = len(rows)
    for name, scale in (("x0.9", np.full(k, 0.9)), ("x1.1", np.full(k, 1.1)), ("U(.8,1.2)", rng.uniform(0.8, 1.2, k))):
        price = duals * scale  # value per model unit
        # now: money rows at the cap, flow costs less the price
        per = np.zeros(len(flows)); per[paying] = price[key[paying]]
        cc = model.c.copy(); cc[model.col_blocks["f"]] -= per
        g = highs_of(cc, A, capped.col_lo, capped.col_hi, capped.row_lo, capped.row_hi, model.sense)
        g.setBasis(basis)
        t0 = time.perf_counter(); g.run(); t_now = time.perf_counter() - t0
        term_now = g.getInfo().objective_function_value
        it_now = g.getInfo().simplex_iteration_count
        # buy / sell columns: row - buy + sell <= money; buy <= cap - money, sell <= money
        money = model.row_hi[rows]
        room = capped.row_hi[rows] - money
        E = sp.csr_matrix((np.concatenate([-np.ones(k), np.ones(k)]), (np.concatenate([rows, rows]), np.arange(2 * k))), shape=(A.shape[0], 2 * k))
        A2 = sp.hstack([A, E], format="csr")
        c2 = np.concatenate([model.c, -price, price])
        lo2 = np.concatenate([model.col_lo, np.zeros(2 * k)])
        hi2 = np.concatenate([model.col_hi, room, np.maximum(money - block.money_offsets(f) if hasattr(block, "money_offsets") else money, 0.0)])
        out = []
        for strategy in (0, 4):
            e = highs_of(c2, A2, lo2, hi2, model.row_lo, model.row_hi, model.sense)
            e.setOptionValue("simplex_strategy", strategy)
            b2 = basis.__class__()
            b2.col_status = list(basis.col_status) + [basis.col_status[0].__class__.kLower] * (2 * k)
            b2.row_status = list(basis.row_status)
            b2.valid = True
            e.setBasis(b2)
            t0 = time.perf_counter(); e.run(); t = time.perf_counter() - t0
            term = e.getInfo().objective_function_value - float(price @ money)
            out.append((strategy, round(t, 2), e.getInfo().simplex_iteration_count, round(term, 3)))
            tot[("extra", strategy)] = tot.get(("extra", strategy), 0.0) + t
        tot["now"] = tot.get("now", 0.0) + t_now
        print(f"{c} hh={n} cold {cold:.2f} s; {name}: now {t_now:.2f} s {it_now} its term {term_now:.3f}; buy/sell (strategy, s, its, term) {out}", flush=True)
print({str(k): round(v, 2) for k, v in tot.items()})
