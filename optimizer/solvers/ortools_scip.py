"""OR-Tools backend: SCIP for the MIP, GLOP for LPs (and their duals), built from the sparse arrays in one call.

CP-SAT is not offered: it needs integer data, and this model has fractional costs and continuous flows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ortools.init.python import init
from ortools.linear_solver.python import model_builder_helper as mbh

from ..model import LinearModel
from . import SolveOptions, SolverOutput, Status

_STATUS = {
    mbh.SolveStatus.OPTIMAL: Status.OPTIMAL,
    mbh.SolveStatus.FEASIBLE: Status.FEASIBLE,
    mbh.SolveStatus.INFEASIBLE: Status.INFEASIBLE,
    mbh.SolveStatus.UNBOUNDED: Status.UNBOUNDED,
    mbh.SolveStatus.NOT_SOLVED: Status.TIME_LIMIT,
}


def _build(model: LinearModel, col_lo: np.ndarray, col_hi: np.ndarray, integer: np.ndarray) -> mbh.ModelBuilderHelper:
    """The model as an OR-Tools model; ``integer`` marks the columns kept integral."""
    helper = mbh.ModelBuilderHelper()
    # the helper's stubs spell the array type wrongly (dtype in the shape slot), hence Any
    vectors: list[Any] = [np.asarray(v, dtype=float) for v in (col_lo, col_hi, model.c, model.row_lo, model.row_hi)]
    lo, hi, c, row_lo, row_hi = vectors
    helper.fill_model_from_sparse_data(lo, hi, c, row_lo, row_hi, model.A.tocsr().astype(float))
    for j in np.flatnonzero(integer):  # one call per integer column: the helper has no array setter for it
        helper.set_var_integrality(int(j), True)
    helper.set_maximize(model.sense == "max")
    return helper


def _run(helper: mbh.ModelBuilderHelper, solver_name: str, time_limit: float, params: str, verbose: bool) -> mbh.ModelSolverHelper:
    solver = mbh.ModelSolverHelper(solver_name)
    solver.set_time_limit_in_seconds(max(float(time_limit), 0.001))
    if params:
        solver.set_solver_specific_parameters(params)
    solver.enable_output(verbose)
    solver.solve(helper)
    return solver


class OrtoolsBackend:
    name = "ortools"

    def version(self) -> str:
        return f"ortools {init.OrToolsVersion.version_string()} (SCIP/GLOP)"

    def solve(self, model: LinearModel, options: SolveOptions) -> SolverOutput:
        is_mip = bool(model.integer.any())
        name = "SCIP" if is_mip else "GLOP"
        if not mbh.ModelSolverHelper(name).solver_is_supported():
            return SolverOutput(Status.ERROR, None, float("nan"), float("nan"), 0.0, message=f"{name} not available")
        # no hint from options.start: SCIP returned different (equally good) solutions from one call to the next
        # when given one; SCIP's threads setting is not exposed, it runs on one core
        params = (
            f"limits/gap = {float(options.gap)}\nrandomization/randomseedshift = {int(options.seed)}\n" if is_mip else ""
        )
        solver = _run(_build(model, model.col_lo, model.col_hi, model.integer), name, options.time_limit, params, options.verbose)
        seconds = float(solver.wall_time())
        status = _STATUS.get(solver.status(), Status.ERROR)
        if not status.has_solution:
            return SolverOutput(status, None, float("nan"), float("nan"), seconds, message=solver.status_string())
        x = np.asarray(solver.variable_values(), dtype=float)
        objective = float(solver.objective_value())
        if not is_mip:
            duals = np.asarray(solver.dual_values(), dtype=float) if options.duals and status == Status.OPTIMAL else None
            return SolverOutput(status, x, objective, objective if status == Status.OPTIMAL else float("nan"), seconds, duals)
        bound = float(solver.best_objective_bound())
        # SCIP splits the continuous columns (fund flows) between equally good values differently from one call
        # to the next in one process; re-solving the LP over the fixed integer choices with GLOP pins them down
        fixed = np.round(x[model.integer])
        lo, hi = np.array(model.col_lo, dtype=float), np.array(model.col_hi, dtype=float)
        lo[model.integer] = hi[model.integer] = fixed
        polish = _run(_build(model, lo, hi, np.zeros_like(model.integer)), "GLOP", options.time_limit, "", False)
        seconds += float(polish.wall_time())
        if _STATUS.get(polish.status()) == Status.OPTIMAL:
            polished = float(polish.objective_value())
            if (polished >= objective - 1e-7 * max(1.0, abs(objective))) if model.sense == "max" else (
                polished <= objective + 1e-7 * max(1.0, abs(objective))
            ):
                x, objective = np.asarray(polish.variable_values(), dtype=float), polished
                x[model.integer] = fixed
        return SolverOutput(status, x, objective, bound, seconds, None, solver.status_string())


BACKEND = OrtoolsBackend()
