"""CBC, the binary PuLP ships. The model goes to CBC as an MPS file written by :func:`highs.write_model` (the
writer ``export-model`` uses; no Python object per coefficient), without its fixed columns (their part moves into
the row bounds, and the gap asked still counts the whole objective), and CBC's own status line is read, so that a
time-limit stop is never reported as optimal. On the decomposition's county rounding MIPs (most columns fixed at the
LP's choice) CBC took 0.30x HiGHS's time for 0.07% more value (40 counties of the 100,000-household multi-year
instance, bench/README.md)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pulp

from ..model import LinearModel
from . import SolveOptions, SolverOutput, Status
from .highs import write_model

# CBC accepts a new incumbent only if it beats the last by its cutoff increment, which it otherwise sets itself
# (around 1e-5): a better plan worth less than that was missed while CBC reported "optimal" (found by the
# property tests: 0.0335774 reported with gap 1e-6 where 0.0335793 was feasible). Set it, and count it in the bound.
CUTOFF_INCREMENT = 1e-9
# an absolute gap above this leaves CBC its own increment (1e-5 unless the costs are integral, so within the gap):
# any increment given, even 0.06, kept it searching for 30 s on a county rounding that it closed in 0.8 s at its own
OWN_INCREMENT_ABOVE = 1e-3
CBC = pulp.apis.coin_api.PULP_CBC_CMD.pulp_cbc_path  # the binary PuLP ships (its class, not an instance: PuLP 3 warns
# that the class goes in PuLP 4, whose CBC comes as a separate package)
GRACE_SECONDS = 60.0  # past its time limit, CBC's process is stopped (it stops itself at the limit; this is for a hang)
FEASIBILITY_TOL = 1e-7  # a row without free columns violated by more (relative to its bound) makes the model infeasible


def unavailable() -> str | None:
    """Why CBC cannot run here (PuLP ships no binary for this platform, or it is not executable), else None."""
    if not CBC or not Path(CBC).is_file():
        return f"PuLP's CBC binary is not at {CBC} (PuLP ships none for this platform; pip install another PuLP 3 wheel)"
    if not os.access(CBC, os.X_OK):
        return f"PuLP's CBC binary at {CBC} is not executable"
    return None


class PulpBackend:
    name = "pulp"

    def version(self) -> str:
        return f"pulp {pulp.__version__} / CBC"

    def solve(self, model: LinearModel, options: SolveOptions) -> SolverOutput:
        t0 = time.perf_counter()
        is_mip = bool(model.integer.any())
        sign = 1.0 if model.sense == "min" else -1.0  # CBC minimizes
        free = model.col_lo != model.col_hi
        A = model.A.tocsc()
        x = model.col_lo.copy()
        x[free] = 0.0
        fixed_rows = A @ np.where(free, 0.0, model.col_lo)
        sub = A[:, free].tocsr()
        held = (np.diff(sub.indptr) > 0) & (np.isfinite(model.row_lo) | np.isfinite(model.row_hi))
        if _violated(fixed_rows[~held], model.row_lo[~held], model.row_hi[~held]):
            return SolverOutput(Status.INFEASIBLE, None, float("nan"), float("nan"), time.perf_counter() - t0, message="rows of fixed columns violated")
        if not held.any() and not free.any():  # nothing left to choose
            value = float(model.c @ x)
            return SolverOutput(Status.OPTIMAL, x, value, value, time.perf_counter() - t0, np.zeros(model.shape[0]) if options.duals else None)
        constant = sign * float(model.c[~free] @ model.col_lo[~free])
        # CBC's relative gap counts only the free columns' part of the objective (an offset in the file made it stall:
        # no rounding in 30 s where it found one in 0.8 s without): the fixed part, less the most the free part can
        # weigh, is a floor of the whole objective's size, so the gap asked of it, in absolute terms, is never looser
        weighed = free & (model.c != 0)
        span = np.abs(model.c[weighed]) * np.maximum(np.abs(model.col_lo[weighed]), np.abs(model.col_hi[weighed]))
        floor = max(abs(constant) - float(span.sum()), 0.0) if np.all(np.isfinite(span)) else 0.0
        allowable = float(options.gap) * floor
        reduced = LinearModel(
            "min", sign * model.c[free], sub[held], model.row_lo[held] - fixed_rows[held], model.row_hi[held] - fixed_rows[held],
            model.col_lo[free], model.col_hi[free], model.integer[free],
        )  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="cbc-") as tmp:
            mps, sol = Path(tmp) / "model.mps", Path(tmp) / "solution.txt"
            n_rows, n_cols = reduced.shape
            write_model(reduced, str(mps), [f"C{j}" for j in range(n_cols)], [f"R{i}" for i in range(n_rows)])
            cmd = [CBC, str(mps), "-sec", f"{float(options.time_limit):g}", "-timeMode", "elapsed"]
            cmd += ["-threads", str(int(options.threads) or 1), "-randomSeed", str(int(options.seed) + 1), "-randomCbcSeed", str(int(options.seed) + 1)]
            if is_mip:
                cmd += ["-ratioGap", f"{float(options.gap):g}", "-allowableGap", f"{allowable:.17g}"]
                cmd += [] if allowable > OWN_INCREMENT_ABOVE else ["-increment", f"{CUTOFF_INCREMENT:g}"]
            cmd += ["-solve", "-printingOptions", "all", "-solution", str(sol)]
            try:
                run = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=float(options.time_limit) + GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                said = f"CBC did not stop within {GRACE_SECONDS:g} s of its {float(options.time_limit):g} s limit"
                return SolverOutput(Status.TIME_LIMIT, None, float("nan"), float("nan"), time.perf_counter() - t0, message=said)
            if options.verbose:
                print(run.stdout)
            if not sol.exists():
                return SolverOutput(Status.ERROR, None, float("nan"), float("nan"), time.perf_counter() - t0, message=(run.stdout + run.stderr)[-500:])
            status_line, col_values, row_duals = read_solution(sol, reduced.shape)
        seconds = time.perf_counter() - t0
        status = cbc_status(status_line, is_mip)
        if not status.has_solution:
            return SolverOutput(status, None, float("nan"), float("nan"), seconds, message=status_line)
        x[free] = col_values
        objective = float(model.c @ x)
        if status == Status.OPTIMAL:
            # CBC proved optimality within its gaps but does not print its bound: derive the weakest one (its relative
            # gap may count against the bound, larger than the plan by up to the gap)
            gap = min(float(options.gap), 0.5)
            slack = max(gap * abs(float(reduced.c @ col_values)) / (1 - gap), allowable, CUTOFF_INCREMENT) if is_mip else 0.0
            bound = objective - sign * slack
        else:
            bound = float("nan")
        duals = None
        if options.duals and not is_mip and status == Status.OPTIMAL:
            duals = np.zeros(model.shape[0])
            duals[held] = sign * row_duals
        return SolverOutput(status, x, objective, bound, seconds, duals, status_line)


def _violated(activity: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
    return bool(np.any(activity < lo - FEASIBILITY_TOL * np.maximum(1.0, np.abs(lo))) or np.any(activity > hi + FEASIBILITY_TOL * np.maximum(1.0, np.abs(hi))))


def read_solution(path: Path, shape: tuple[int, int]) -> tuple[str, np.ndarray, np.ndarray]:
    """CBC's solution file (``printingOptions all``): its status line, the columns' values and the rows' duals."""
    lines = pd.Series(path.read_text().splitlines(), dtype=object)
    status_line = str(lines.iloc[0]).strip() if len(lines) else ""
    values, duals = np.zeros(shape[1]), np.zeros(shape[0])
    if len(lines) > 1:
        # "**" in front marks a value outside its bounds (within CBC's tolerance)
        fields = lines.iloc[1:].str.replace(r"^\s*\*\*", "", regex=True).str.split(expand=True)
        name = fields[1].astype(str)
        pos = name.str[1:].astype(np.int64).to_numpy()
        is_col = name.str[0].eq("C").to_numpy()
        values[pos[is_col]] = fields[2].to_numpy(dtype=float)[is_col]
        duals[pos[~is_col]] = fields[3].to_numpy(dtype=float)[~is_col]
    return status_line, values, duals


def cbc_status(line: str, is_mip: bool) -> Status:
    """Our status from the first line of CBC's solution file."""
    if line.startswith("Optimal"):
        return Status.OPTIMAL
    if line.startswith(("Infeasible", "Integer infeasible")):
        return Status.INFEASIBLE
    if line.startswith("Unbounded"):
        return Status.UNBOUNDED
    if line.startswith("Stopped"):
        # an LP stopped early has no proven point; a MIP keeps its incumbent unless it had none
        return Status.FEASIBLE if is_mip and "no integer solution" not in line else Status.TIME_LIMIT
    return Status.ERROR


BACKEND = PulpBackend()
