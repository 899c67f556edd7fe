"""Multi-year county roundings (as s29_projects_county.py) with HiGHS's mip_pool_soft_limit set for every MIP.
Usage: s33_mip_pool.py 39,30 [limit]  (no limit: HiGHS's default)."""
import sys
import highspy
from optimizer.solvers import highs as H

if len(sys.argv) > 2:
    limit = int(sys.argv[2])
    new = H._new_highs

    def _new_highs(options):
        h = new(options)
        h.setOptionValue("mip_pool_soft_limit", limit)
        return h

    H._new_highs = _new_highs
sys.argv = sys.argv[:2]
exec(open("/work/main/bench/results/s29_projects_county.py").read())
