"""Multi-year county models of the 100,000 instance at the proportional share (each upper fund's yearly money shared
by households), one process, one thread: what the county scripts of bench/README.md share (s28_pdlp_county.py, s30_priced_primal.py,
s29_projects_county.py, s31_priced_extra.py)."""
import time

import highspy
import numpy as np
import scipy.sparse as sp
from optimizer.partitioned import load_frame
from optimizer.storage import county_regions
from optimizer import decompose as d
from optimizer.scenario import Scenario
from optimizer.multiyear import yearly_appropriations

folder = "/work/main/bench/results/instances/partitioned-100000-seed7"
frame = load_frame(folder)
allc = sorted(frame.county_households.index)
hhs = frame.county_households.reindex(allc).to_numpy()
blocks = d.plan_blocks(frame.funds, frame.tree, allc, hhs)
places = county_regions(frame, allc)
sc = Scenario(name="p", data=folder, years={"first": 2016, "last": 2020, "relocation_rate": 0.05}, helpers={"assign": False}).with_overrides({"solver.threads": 1})
approp = yearly_appropriations(frame.funds["fund_id"], frame.funds["amount"].to_numpy(dtype=float), sc.years)
fpos = {f: i for i, f in enumerate(frame.funds["fund_id"])}
pairs = blocks.pairs
h = hhs[pairs["county"].map({c: i for i, c in enumerate(allc)}).to_numpy()]
share = h / pairs.assign(h=h).groupby("fund_id")["h"].transform("sum").to_numpy()
money_pairs = share[:, None] * approp[pairs["fund_id"].map(fpos).to_numpy()]  # pairs x T
cp = blocks.county_pairs()
fund_ids = pairs["fund_id"].to_numpy()

def items(which):
    out = []
    for i in which:
        c = allc[i]
        src = d.Stored(folder, blocks.funds[i], places[i])
        out.append((c, src, sc, list(fund_ids[cp[i]]), money_pairs[cp[i]].ravel(), hhs[i]))
    return out

def model_of(c, src, s, f, m):
    block = d._county(c, src, s, f)
    model = d._with_money(block, f, m).relaxed()
    d._forget(c)
    return model


def highs_of(c, A, clo, chi, rlo, rhi, sense):
    """A silent one-thread HiGHS holding the LP (the county scripts that call HiGHS directly)."""
    h = highspy.Highs(); h.setOptionValue("output_flag", False); h.setOptionValue("threads", 1)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
    lp.col_cost_ = c; lp.col_lower_ = clo; lp.col_upper_ = chi; lp.row_lower_ = rlo; lp.row_upper_ = rhi
    lp.sense_ = highspy.ObjSense.kMaximize if sense == "max" else highspy.ObjSense.kMinimize
    Ac = sp.csc_matrix(A)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = Ac.indptr; lp.a_matrix_.index_ = Ac.indices; lp.a_matrix_.value_ = Ac.data
    h.passModel(lp)
    return h


def county_models(ranks):
    """Each county of ``ranks`` ("39,38": ranks by size, 39 the largest) at its share: its name, households, block,
    funds, money, relaxed model and that model's matrix (CSR); the county's block is forgotten after."""
    order = np.argsort(hhs)
    for k in [int(a) for a in ranks.split(",")]:
        c, src, s, f, m, n = items([order[k]])[0]
        block = d._county(c, src, s, f)
        model = d._with_money(block, f, m).relaxed()
        yield c, n, block, f, m, model, sp.csr_matrix(model.A)
        d._forget(c)


def plain_then_priced(block, f, m, model, A, cap_times, crash=False):
    """The county's plain LP solved once (cold, or from the crash basis without presolve) and what its priced LPs
    need: the time, the basis, the money rows and their duals, the model with the money at ``cap_times`` its share,
    each flow's money row among ``f``'s (fund by fund and year by year) and the flows those funds pay."""
    from types import SimpleNamespace
    from optimizer.solvers.highs import _crash_basis

    h = highs_of(model.c, A, model.col_lo, model.col_hi, model.row_lo, model.row_hi, model.sense)
    if crash:
        h.setOptionValue("presolve", "off"); h.setBasis(_crash_basis(model))
    t0 = time.perf_counter(); h.run(); cold = time.perf_counter() - t0
    rows = block.money_rows(f)
    flows = block.index.flows
    fund = d.pd.Index(f).get_indexer(flows["fund_id"])
    year = flows["year"].to_numpy() - int(block.my.years[0]) if block.my is not None else 0
    return SimpleNamespace(cold=cold, basis=h.getBasis(), rows=rows, duals=np.abs(np.asarray(h.getSolution().row_dual)[rows]),
                           capped=d._with_money(block, f, cap_times * m).relaxed(), key=fund * block.years + year, paying=np.flatnonzero(fund >= 0))
