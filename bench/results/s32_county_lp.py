# Cold dual simplex of multi-year county LPs of the 100k instance at the proportional share (one process, one
# thread): time, LP value, iterations. usage: .venv/bin/python bench/results/s32_county_lp.py 39,20,10 (ranks by size)
import sys, time
sys.path.insert(0, "/work/main/bench/results")
import scipy.sparse as sp
from county_shares import county_models, highs_of
for c, n, block, f, m, model, A in county_models(sys.argv[1]):
    h = highs_of(model.c, A, model.col_lo, model.col_hi, model.row_lo, model.row_hi, model.sense)
    t = time.perf_counter(); h.run(); dt = time.perf_counter() - t
    print(c, n, model.shape, round(dt, 2), round(h.getInfo().objective_function_value, 4), h.getInfo().simplex_iteration_count, flush=True)
