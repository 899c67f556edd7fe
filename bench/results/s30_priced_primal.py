"""A county's priced LP (its upper money priced, up to twice its share) from its plain LP's basis: dual against primal simplex."""
import sys, time
sys.path.insert(0, "/work/main/bench/results")
import numpy as np
from county_shares import county_models, highs_of, plain_then_priced

for c, n, block, f, m, model, A in county_models(sys.argv[1]):
    lp = plain_then_priced(block, f, m, model, A, 2)
    cold, basis, rows, duals, capped, key, paying = lp.cold, lp.basis, lp.rows, lp.duals, lp.capped, lp.key, lp.paying
    flows = block.index.flows
    for scale in (0.9, 1.1):
        price = duals * scale  # value per model unit
        per = np.zeros(len(flows)); per[paying] = price[key[paying]]
        cc = model.c.copy(); cc[model.col_blocks["f"]] -= per
        out = []
        for strategy in (1, 4):  # 1: dual simplex, 4: primal simplex
            g = highs_of(cc, A, capped.col_lo, capped.col_hi, capped.row_lo, capped.row_hi, model.sense)
            g.setOptionValue("simplex_strategy", strategy)
            g.setBasis(basis)
            t0 = time.perf_counter(); g.run(); t = time.perf_counter() - t0
            out.append(f"{'dual' if strategy == 1 else 'primal'} {t:.2f} s {g.getInfo().simplex_iteration_count} its obj {g.getInfo().objective_function_value:.3f}")
        print(f"{c} hh={n} cold {cold:.2f} s; prices x{scale}: " + "; ".join(out), flush=True)
