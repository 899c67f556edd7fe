"""bench/results/s31_priced_extra.py for one-year counties of the 1M instance at the proportional share.
usage: .venv/bin/python bench/results/s31_priced_extra_1y.py 20  (how many counties, spread over the 400)"""
import sys, time
sys.path.insert(0, "/work/main/bench/results")
import numpy as np
import scipy.sparse as sp
from county_shares import highs_of
from optimizer.partitioned import load_frame
from optimizer.storage import county_regions
from optimizer import decompose as d
from optimizer.scenario import Scenario
from optimizer.solvers.highs import _crash_basis

folder = "/work/main/bench/results/instances/partitioned-1000000-seed7"
frame = load_frame(folder)
allc = sorted(frame.county_households.index)
hhs = frame.county_households.reindex(allc).to_numpy()
blocks = d.plan_blocks(frame.funds, frame.tree, allc, hhs)
sc = Scenario(name="p", data=folder).with_overrides({"solver.threads": 1})
pairs = blocks.pairs
fpos = {f: i for i, f in enumerate(frame.funds["fund_id"])}
amount = frame.funds["amount"].to_numpy(dtype=float)
h = hhs[pairs["county"].map({c: i for i, c in enumerate(allc)}).to_numpy()]
share = h / pairs.assign(h=h).groupby("fund_id")["h"].transform("sum").to_numpy()
money_pairs = share * amount[pairs["fund_id"].map(fpos).to_numpy()]
cp = blocks.county_pairs()
fund_ids = pairs["fund_id"].to_numpy()
count = int(sys.argv[1])
pick = list(range(0, len(allc), len(allc) // count))[:count]
places = county_regions(frame, [allc[i] for i in pick])
rng = np.random.default_rng(0)
tot = {}
for j, i in enumerate(pick):
    c = allc[i]; f = list(fund_ids[cp[i]]); m = money_pairs[cp[i]]
    block = d._county(c, d.Stored(folder, blocks.funds[i], places[j]), sc, f)
    model = d._with_money(block, f, m).relaxed()
    A = sp.csr_matrix(model.A)
    hg = highs_of(model.c, A, model.col_lo, model.col_hi, model.row_lo, model.row_hi, model.sense)
    hg.setOptionValue("presolve", "off"); hg.setBasis(_crash_basis(model))
    t0 = time.perf_counter(); hg.run(); cold = time.perf_counter() - t0
    basis = hg.getBasis()
    rows = block.money_rows(f)
    duals = np.abs(np.asarray(hg.getSolution().row_dual)[rows])
    capped = d._with_money(block, f, 3 * m).relaxed()
    flows = block.index.flows
    key = d.pd.Index(f).get_indexer(flows["fund_id"])
    paying = np.flatnonzero(key >= 0)
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
        print(f"{c} hh={hhs[i]} cold {cold:.3f}; {name}: now {t_now:.3f} s {it_now} its {term_now:.4f}; buy/sell {t_e:.3f} s {e.getInfo().simplex_iteration_count} its {term_e:.4f}", flush=True)
    d._forget(c)
print({k: round(v, 2) for k, v in tot.items()}, round(tot["buysell"] / tot["now"], 3))
