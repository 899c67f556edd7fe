"""Multi-year county LPs of the 100,000 instance at the proportional share (all rows held), written as MPS: Clp (the
CBC binary PuLP ships) by its dual simplex, primal simplex and barrier against HiGHS's dual simplex on the same
file, one thread each, one after the other. usage: s37_clp_lp.py 20,30,36 (ranks by size)."""
import subprocess, sys, time
sys.path.insert(0, "/work/main/bench/results")
import highspy
import pulp
from county_shares import county_models
from optimizer.solvers.highs import write_model

CBC = pulp.apis.coin_api.PULP_CBC_CMD.pulp_cbc_path
for c, n, block, f, m, model, A in county_models(sys.argv[1]):
    path = f"/tmp/s37clp/{c}.mps"
    write_model(model, path, [f"C{j}" for j in range(model.shape[1])], [f"R{i}" for i in range(model.shape[0])])
    h = highspy.Highs(); h.setOptionValue("output_flag", False); h.setOptionValue("threads", 1)
    h.readModel(path)
    t0 = time.perf_counter(); h.run(); t_h = time.perf_counter() - t0
    line = [f"{c} hh={n} rows={model.shape[0]} cols={model.shape[1]}: HiGHS {t_h:.2f} s obj {h.getInfo().objective_function_value:.4f} its {h.getInfo().simplex_iteration_count}"]
    for how in ("-dualSimplex", "-primalSimplex", "-barrier"):
        t0 = time.perf_counter()
        out = subprocess.run([CBC, path, "-max", "-threads", "1", how, "-solu", f"/tmp/s37clp/{c}.sol"], capture_output=True, text=True, timeout=900)
        t = time.perf_counter() - t0
        obj = [l for l in out.stdout.splitlines() if "Objective" in l or "objective" in l][-1:]
        line.append(f"  Clp {how}: {t:.2f} s  {obj}")
    print("\n".join(line), flush=True)
