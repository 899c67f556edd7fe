"""OR-Tools linear solver wrapper: SCIP for the MIP, GLOP for LPs (and their duals).

CP-SAT is not offered: it needs integer data, and this model has fractional costs and continuous flows.
"""

from __future__ import annotations

import time

import numpy as np
from ortools.init.python import init
from ortools.linear_solver import pywraplp

from ..model import LinearModel
from . import SolveOptions, SolverOutput, Status

_STATUS = {
    pywraplp.Solver.OPTIMAL: Status.OPTIMAL,
    pywraplp.Solver.FEASIBLE: Status.FEASIBLE,
    pywraplp.Solver.INFEASIBLE: Status.INFEASIBLE,
    pywraplp.Solver.UNBOUNDED: Status.UNBOUNDED,
    pywraplp.Solver.NOT_SOLVED: Status.TIME_LIMIT,
    pywraplp.Solver.ABNORMAL: Status.ERROR,
}


class OrtoolsBackend:
    name = "ortools"

    def version(self) -> str:
        return f"ortools {init.OrToolsVersion.version_string()} (SCIP/GLOP)"

    def solve(self, model: LinearModel, options: SolveOptions) -> SolverOutput:
        is_mip = bool(model.integer.any())
        solver = pywraplp.Solver.CreateSolver("SCIP" if is_mip else "GLOP")
        if solver is None:
            return SolverOutput(Status.ERROR, None, float("nan"), float("nan"), 0.0, message="SCIP/GLOP not available")
        solver.SetTimeLimit(int(options.time_limit * 1000))
        if options.threads:
            solver.SetNumThreads(int(options.threads))
        if is_mip:
            solver.SetSolverSpecificParametersAsString(f"randomization/randomseedshift = {int(options.seed)}\n")
        inf = solver.infinity()
        xs = [
            solver.Var(float(max(lo, -inf)), float(min(hi, inf)), bool(integer), f"c{i}")
            for i, (lo, hi, integer) in enumerate(zip(model.col_lo, model.col_hi, model.integer))
        ]
        A = model.A.tocsr()
        cons = []
        for r in range(A.shape[0]):
            lo, hi = model.row_lo[r], model.row_hi[r]
            ct = solver.Constraint(float(lo) if np.isfinite(lo) else -inf, float(hi) if np.isfinite(hi) else inf)
            for j, v in zip(A.indices[A.indptr[r] : A.indptr[r + 1]], A.data[A.indptr[r] : A.indptr[r + 1]]):
                ct.SetCoefficient(xs[j], float(v))
            cons.append(ct)
        obj = solver.Objective()
        for j in np.flatnonzero(model.c):
            obj.SetCoefficient(xs[j], float(model.c[j]))
        obj.SetMaximization() if model.sense == "max" else obj.SetMinimization()
        # no SetHint with options.start: given one, SCIP returned a different (equally good) solution from one call
        # to the next in the same process, which broke byte-identical results; without it, it is deterministic
        params = pywraplp.MPSolverParameters()
        if is_mip:
            params.SetDoubleParam(params.RELATIVE_MIP_GAP, float(options.gap))
        t0 = time.perf_counter()
        code = solver.Solve(params)
        seconds = time.perf_counter() - t0
        status = _STATUS.get(code, Status.ERROR)
        x = np.array([v.solution_value() for v in xs]) if status.has_solution else None
        objective = float(obj.Value()) if x is not None else float("nan")
        if is_mip:
            bound = float(obj.BestBound()) if x is not None else float("nan")
        else:
            bound = objective if status == Status.OPTIMAL else float("nan")
        duals = np.array([c.dual_value() for c in cons]) if (options.duals and not is_mip and status == Status.OPTIMAL) else None
        return SolverOutput(status, x, objective, bound, seconds, duals, str(code))


BACKEND = OrtoolsBackend()
