# Session 36: what s36_cbc_vs_highs.py and s36_highs_reduced.py share
import glob, os, subprocess, sys, time
import numpy as np, scipy.sparse as sp, highspy, pulp

def load(path):
    z = np.load(path)
    A = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
    return z, A

def highs_model(c, A, clo, chi, rlo, rhi, integer):
    Ac = sp.csc_matrix(A)
    h = highspy.Highs(); h.setOptionValue("output_flag", False); h.setOptionValue("threads", 1)
    h.setOptionValue("mip_rel_gap", 0.005); h.setOptionValue("time_limit", 30.0)
    lp = highspy.HighsLp(); lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
    lp.col_cost_ = -c; lp.col_lower_ = clo; lp.col_upper_ = chi; lp.row_lower_ = rlo; lp.row_upper_ = rhi
    lp.sense_ = highspy.ObjSense.kMinimize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise; lp.a_matrix_.start_ = Ac.indptr; lp.a_matrix_.index_ = Ac.indices; lp.a_matrix_.value_ = Ac.data
    lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer]
    h.passModel(lp)
    return h

def violation(A, x, rlo, rhi, clo, chi):
    r = A @ x
    return max(float(np.max(np.maximum(rlo - r, 0), initial=0)), float(np.max(np.maximum(r - rhi, 0), initial=0)), float(np.max(np.maximum(clo - x, 0))), float(np.max(np.maximum(x - chi, 0))))

