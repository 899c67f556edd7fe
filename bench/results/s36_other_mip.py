# Session 36: a captured county rounding MIP (s36_capture.py) written as MPS and solved by SCIP and CBC (through OR-Tools' model builder and PuLP's CBC binary) beside HiGHS, gap 0.5%, one thread (run from bench/results: ../../.venv/bin/python s36_other_mip.py RANK)
import subprocess, sys, time
import numpy as np, scipy.sparse as sp, highspy
z = np.load(f"/tmp/s36_mip_{sys.argv[1]}.npz")
A = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"])).tocsc()
h = highspy.Highs(); h.setOptionValue("output_flag", False); h.setOptionValue("threads", 1); h.setOptionValue("mip_rel_gap", 0.005)
lp = highspy.HighsLp(); lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
lp.col_cost_ = -z["c"]; lp.col_lower_ = z["col_lo"]; lp.col_upper_ = z["col_hi"]; lp.row_lower_ = z["row_lo"]; lp.row_upper_ = z["row_hi"]
lp.sense_ = highspy.ObjSense.kMinimize
lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise; lp.a_matrix_.start_ = A.indptr; lp.a_matrix_.index_ = A.indices; lp.a_matrix_.value_ = A.data
lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in z["integer"]]
h.passModel(lp)
mps = f"/tmp/s36_mip_{sys.argv[1]}.mps"
h.writeModel(mps)
t = time.perf_counter(); h.run(); print("highs", round(time.perf_counter() - t, 2), -h.getInfo().objective_function_value, flush=True)
from ortools.linear_solver.python import model_builder as mb
m = mb.Model(); m.import_from_mps_file(mps)
for name in ("scip", "cbc"):
    s = mb.Solver(name)
    if not s.solver_is_supported():
        print(name, "not supported"); continue
    s.set_solver_specific_parameters("limits/gap = 0.005\nlp/threads = 1" if name == "scip" else "")
    t = time.perf_counter(); st = s.solve(m); print(name, st, round(time.perf_counter() - t, 2), -s.objective_value if st in (mb.SolveStatus.OPTIMAL, mb.SolveStatus.FEASIBLE) else None, flush=True)
import pulp
cbc = pulp.apis.PULP_CBC_CMD().path
t = time.perf_counter(); r = subprocess.run([cbc, mps, "-ratioGap", "0.005", "-threads", "1", "-solve", "-quit"], capture_output=True, text=True)
print("cbc cmd", round(time.perf_counter() - t, 2), [l for l in r.stdout.splitlines() if "Objective value" in l or "Result" in l])
