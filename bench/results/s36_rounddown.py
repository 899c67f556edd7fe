# Session 36: on a captured county rounding MIP (s36_capture.py), each fractional household fixed to one option (its cheapest of all, or of those its LP mixes, or the largest of its mix), the rest of the MIP kept: feasible? value? (run from bench/results: ../../.venv/bin/python s36_rounddown.py RANK)
import sys, time
import numpy as np, scipy.sparse as sp, highspy
z = np.load(f"/tmp/s36_mip_{sys.argv[1]}.npz")
A = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
xs, hh, lpx = int(z["xs"]), z["hh"], z["lpx"]
lo, hi = z["col_lo"].copy(), z["col_hi"].copy()
free_x = np.flatnonzero(lo[:xs] != hi[:xs])
fh = np.unique(hh[free_x])
print("free x", len(free_x), "fractional households", len(fh), "free y", int(((lo != hi) & z["integer"])[z["ys"]:z["ye"]].sum()))
bal = slice(*z["rb_balance"])
money = np.asarray(-A[bal][:, :xs].sum(axis=0)).ravel() if False else np.asarray(A[bal][:, :xs].sum(axis=0)).ravel()
c = z["c"]

def run(lo_, hi_, integer=True, label=""):
    Ac = A.tocsc()
    h = highspy.Highs(); h.setOptionValue("output_flag", False); h.setOptionValue("threads", 1); h.setOptionValue("mip_rel_gap", 0.005)
    lp = highspy.HighsLp(); lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
    lp.col_cost_ = c; lp.col_lower_ = lo_; lp.col_upper_ = hi_; lp.row_lower_ = z["row_lo"]; lp.row_upper_ = z["row_hi"]
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise; lp.a_matrix_.start_ = Ac.indptr; lp.a_matrix_.index_ = Ac.indices; lp.a_matrix_.value_ = Ac.data
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in z["integer"]]
    h.passModel(lp)
    t = time.perf_counter(); h.run()
    print(label, h.getModelStatus(), round(time.perf_counter() - t, 2), h.getInfo().objective_function_value, "LP", float(c @ lpx))

for rule in ("cheapest", "cheapest_mixed", "largest_mixed"):
    l2, h2 = lo.copy(), hi.copy()
    l2[free_x] = 0.0; h2[free_x] = 0.0
    for g in fh:
        opts = free_x[hh[free_x] == g]
        mixed = opts[lpx[opts] > 1e-6]
        if rule == "cheapest": pick = opts[np.argmin(money[opts])]
        elif rule == "cheapest_mixed": pick = mixed[np.argmin(money[mixed])]
        else: pick = mixed[np.argmax(lpx[mixed])]
        l2[pick] = h2[pick] = 1.0
    run(l2, h2, True, rule + " MIP (projects integer)")
    run(l2, h2, False, rule + " LP")

# which row block makes the round-down LP infeasible: each block freed in turn
import itertools
blocks = {k[3:]: z[k] for k in z.files if k.startswith("rb_")}
l2, h2 = lo.copy(), hi.copy()
l2[free_x] = 0.0; h2[free_x] = 0.0
for g in fh:
    opts = free_x[hh[free_x] == g]
    mixed = opts[lpx[opts] > 1e-6]
    pick = mixed[np.argmin(money[mixed])]
    l2[pick] = h2[pick] = 1.0
row_lo0, row_hi0 = z["row_lo"].copy(), z["row_hi"].copy()
for name, (a, b) in blocks.items():
    rl, rh = row_lo0.copy(), row_hi0.copy()
    rl[a:b] = -np.inf; rh[a:b] = np.inf
    Ac = A.tocsc()
    h = highspy.Highs(); h.setOptionValue("output_flag", False)
    lp = highspy.HighsLp(); lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
    lp.col_cost_ = c; lp.col_lower_ = l2; lp.col_upper_ = h2; lp.row_lower_ = rl; lp.row_upper_ = rh
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise; lp.a_matrix_.start_ = Ac.indptr; lp.a_matrix_.index_ = Ac.indices; lp.a_matrix_.value_ = Ac.data
    h.passModel(lp); h.run()
    print("freed", name, b - a, h.getModelStatus())
