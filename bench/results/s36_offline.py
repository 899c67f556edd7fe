# Session 36: the captured county rounding MIP (s36_capture.py) solved by HiGHS with options (run from bench/results: ../../.venv/bin/python s36_offline.py RANK key=value ...)
import sys, time
import numpy as np, scipy.sparse as sp, highspy
z = np.load(f"/tmp/s36_mip_{sys.argv[1]}.npz")
A = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"])).tocsc()
h = highspy.Highs(); h.setOptionValue("threads", 1)
lp = highspy.HighsLp(); lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
lp.col_cost_ = z["c"]; lp.col_lower_ = z["col_lo"]; lp.col_upper_ = z["col_hi"]; lp.row_lower_ = z["row_lo"]; lp.row_upper_ = z["row_hi"]
lp.sense_ = highspy.ObjSense.kMaximize
lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise; lp.a_matrix_.start_ = A.indptr; lp.a_matrix_.index_ = A.indices; lp.a_matrix_.value_ = A.data
lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in z["integer"]]
h.passModel(lp)
h.setOptionValue("mip_rel_gap", 0.001)
for kv in sys.argv[2:]:
    k, v = kv.split("=")
    v = {"true": True, "false": False}.get(v, v)
    try: v = int(v)
    except (ValueError, TypeError):
        try: v = float(v)
        except (ValueError, TypeError): pass
    h.setOptionValue(k, v)
t = time.perf_counter(); h.run(); print("time", round(time.perf_counter() - t, 2), h.getInfo().objective_function_value, h.getInfo().mip_dual_bound, "lp", float(z["c"] @ z["lpx"]))
