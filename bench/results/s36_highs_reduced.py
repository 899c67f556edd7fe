# Session 36: the captured county rounding MIPs (s36_capture_all.py) by HiGHS on the same reduced model CBC got in s36_cbc_vs_highs.py (fixed columns taken out, absolute gap 0.5% of the county's value), one thread, 30 s (run from bench/results: ../../.venv/bin/python s36_highs_reduced.py)
import glob, os, time
import numpy as np
from s36_cbc_vs_highs_lib import load, highs_model
tot_t = tot_o = 0.0
for path in sorted(glob.glob("/tmp/s36all/*.npz"), key=lambda p: int(os.path.basename(p)[:-4])):
    z, A = load(path)
    c, clo, chi, rlo, rhi, integer = z["c"], z["col_lo"], z["col_hi"], z["row_lo"], z["row_hi"], z["integer"]
    free = clo != chi
    fixed_part = A[:, ~free] @ clo[~free]
    Af = A[:, free].tocsr(); keep = np.diff(Af.indptr) > 0
    const = float(c[~free] @ clo[~free])
    h = highs_model(c[free], Af[keep], clo[free], chi[free], rlo[keep] - fixed_part[keep], rhi[keep] - fixed_part[keep], integer[free])
    h.setOptionValue("mip_rel_gap", 0.0); h.setOptionValue("mip_abs_gap", 0.005 * (const + 20))
    t = time.perf_counter(); h.run(); dt = time.perf_counter() - t
    o = const - h.getInfo().objective_function_value
    tot_t += dt; tot_o += o
    print(z["county"], f"highs reduced {dt:.2f} s {o:.3f}", flush=True)
print(f"all: {tot_t:.1f} s {tot_o:.2f}")
