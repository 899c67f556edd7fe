# Session 36: every captured county rounding MIP (s36_capture_all.py) solved by HiGHS as the county final does (the whole model, its presolve) and by CBC on the model with its fixed columns taken out (PuLP's CBC binary on an MPS file), gap 0.5%, one thread, 30 s; objectives, times, row violations (run from bench/results: ../../.venv/bin/python s36_cbc_vs_highs.py)
import glob
import os
import subprocess
import time

import numpy as np
import pulp

from s36_cbc_vs_highs_lib import highs_model, load, violation

CBC = pulp.apis.coin_api.PULP_CBC_CMD.pulp_cbc_path

rows = []
for path in sorted(glob.glob("/tmp/s36all/*.npz"), key=lambda p: int(os.path.basename(p)[:-4])):
    z, A = load(path)
    c, clo, chi, rlo, rhi, integer = z["c"], z["col_lo"], z["col_hi"], z["row_lo"], z["row_hi"], z["integer"]
    h = highs_model(c, A, clo, chi, rlo, rhi, integer)
    t = time.perf_counter(); h.run(); th = time.perf_counter() - t
    xh = np.asarray(h.getSolution().col_value) if h.getInfo().primal_solution_status == 2 else None
    oh = float(c @ xh) if xh is not None else float("nan")
    # CBC on the free columns: fixed ones moved to the row bounds, rows without a free column dropped; its gap absolute, 0.5% of the whole county's value
    t = time.perf_counter()
    free = clo != chi
    fixed_part = A[:, ~free] @ clo[~free]
    Af = A[:, free].tocsr()
    keep = np.diff(Af.indptr) > 0
    Ar = Af[keep]
    hr = highs_model(c[free], Ar, clo[free], chi[free], rlo[keep] - fixed_part[keep], rhi[keep] - fixed_part[keep], integer[free])
    mps = "/tmp/s36_cbc.mps"; sol = "/tmp/s36_cbc.sol"
    hr.writeModel(mps)
    tw = time.perf_counter() - t
    r = subprocess.run([CBC, mps, "-allowableGap", f"{0.005 * abs(oh):.6f}", "-threads", "1", "-seconds", "30", "-solve", "-solu", sol], capture_output=True, text=True)
    tc = time.perf_counter() - t
    xc = None
    if os.path.exists(sol):
        vals = {}
        lines = open(sol).read().splitlines()
        for line in lines[1:]:
            p = line.split()
            if p and p[0] == "**": p = p[1:]
            vals[p[1]] = float(p[2])
        xf = np.array([vals.get(f"c{i}", 0.0) for i in range(int(free.sum()))])
        xc = clo.copy(); xc[free] = xf
        os.remove(sol)
    oc = float(c @ xc) if xc is not None else float("nan")
    vc = violation(A, xc, rlo, rhi, clo, chi) if xc is not None else float("nan")
    vh = violation(A, xh, rlo, rhi, clo, chi) if xh is not None else float("nan")
    status = lines[0][:40] if xc is not None else r.stdout[-200:]
    rows.append((str(z["county"]), int(z["households"]), int(free.sum()), int(keep.sum()), th, oh, tc, tw, oc, vh, vc))
    print(f"{z['county']} {int(z['households'])} free {int(free.sum())} rows {int(keep.sum())} | highs {th:.2f} s {oh:.3f} viol {vh:.1e} | cbc {tc:.2f} s (write {tw:.2f}) {oc:.3f} viol {vc:.1e} | {status}", flush=True)
th, tc = sum(r[4] for r in rows), sum(r[6] for r in rows)
oh, oc = sum(r[5] for r in rows), sum(r[8] for r in rows)
print(f"all: highs {th:.1f} s {oh:.2f}; cbc {tc:.1f} s {oc:.2f}; ratio {tc / th:.2f}")
