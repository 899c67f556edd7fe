"""PuLP with CBC. PuLP builds one Python object per coefficient, so this backend suits small models and
LP/MPS export; CBC's own status is read so that a time-limit stop is never reported as optimal."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pulp

from ..model import LinearModel
from . import SolveOptions, SolverOutput, Status

# CBC accepts a new incumbent only if it beats the last by its cutoff increment, which it otherwise sets itself
# (around 1e-5): a better plan worth less than that was missed while CBC reported "optimal" (found by the
# property tests: 0.0335774 reported with gap 1e-6 where 0.0335793 was feasible). Set it, and count it in the bound.
CUTOFF_INCREMENT = 1e-9


class PulpBackend:
    name = "pulp"

    def version(self) -> str:
        return f"pulp {pulp.__version__} / CBC"

    def solve(self, model: LinearModel, options: SolveOptions) -> SolverOutput:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            prob, cons = build_problem(model)
        is_mip = bool(model.integer.any())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            solver = pulp.PULP_CBC_CMD(
                msg=bool(options.verbose),
                timeLimit=float(options.time_limit),
                gapRel=float(options.gap) if is_mip else None,
                threads=int(options.threads) or None,
                timeMode="elapsed",
                options=[f"randomSeed {int(options.seed) + 1}", f"randomCbcSeed {int(options.seed) + 1}", f"increment {CUTOFF_INCREMENT:g}"],
            )
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # PuLP 3.x announces its 4.0 API
            prob.solve(solver)
        seconds = time.perf_counter() - t0
        status = _status(prob.status, prob.sol_status)
        variables = prob.variables()
        x = None
        if status.has_solution:
            order = {v.name: i for i, v in enumerate(variables)}
            vals = np.array([v.varValue or 0.0 for v in variables])
            x = np.zeros(model.shape[1])
            idx = np.array([order[f"c{i}"] for i in range(model.shape[1]) if f"c{i}" in order], dtype=np.int64)
            present = np.array([f"c{i}" in order for i in range(model.shape[1])])
            x[present] = vals[idx]
        objective = float(model.c @ x) if x is not None else float("nan")
        if status == Status.OPTIMAL:
            # CBC proved optimality within gapRel but PuLP does not expose its bound: derive the weakest one
            slack = max(float(options.gap) * abs(objective), CUTOFF_INCREMENT) if is_mip else 0.0
            bound = objective + slack if model.sense == "max" else objective - slack
        else:
            bound = float("nan")
        duals = None
        if options.duals and not is_mip and status == Status.OPTIMAL:
            duals = np.array([c.pi if c is not None and c.pi is not None else 0.0 for c in cons])
        return SolverOutput(status, x, objective, bound, seconds, duals, pulp.LpStatus[prob.status])


def _status(status: int, sol_status: int) -> Status:
    if sol_status == pulp.LpSolutionOptimal:
        return Status.OPTIMAL
    if sol_status == pulp.LpSolutionIntegerFeasible:
        return Status.FEASIBLE  # CBC stopped (time limit) with an incumbent: PuLP calls this "Optimal"
    if sol_status == pulp.LpSolutionInfeasible or status == pulp.LpStatusInfeasible:
        return Status.INFEASIBLE
    if sol_status == pulp.LpSolutionUnbounded:
        return Status.UNBOUNDED
    if status == pulp.LpStatusNotSolved:
        return Status.TIME_LIMIT
    return Status.ERROR


def build_problem(model: LinearModel) -> tuple[pulp.LpProblem, list[pulp.LpConstraint | None]]:
    """The model as a PuLP problem, one object per variable, row and coefficient (rows keep their order)."""
    sense = pulp.LpMaximize if model.sense == "max" else pulp.LpMinimize
    prob = pulp.LpProblem("allocation", sense)
    xs = [
        prob.add_variable(
            f"c{i}",
            lowBound=None if not np.isfinite(lo) else float(lo),
            upBound=None if not np.isfinite(hi) else float(hi),
            cat=pulp.LpInteger if integer else pulp.LpContinuous,
        )
        for i, (lo, hi, integer) in enumerate(zip(model.col_lo, model.col_hi, model.integer))
    ]
    prob += pulp.LpAffineExpression([(xs[i], float(v)) for i, v in enumerate(model.c) if v != 0])
    A = model.A.tocsr()
    cons: list[pulp.LpConstraint | None] = []
    for r in range(A.shape[0]):
        sl = slice(A.indptr[r], A.indptr[r + 1])
        expr = pulp.LpAffineExpression([(xs[j], float(v)) for j, v in zip(A.indices[sl], A.data[sl])])
        lo, hi = model.row_lo[r], model.row_hi[r]
        if np.isfinite(lo) and np.isfinite(hi) and lo == hi:
            con = expr == float(lo)
        elif np.isfinite(hi):
            con = expr <= float(hi)
        elif np.isfinite(lo):
            con = expr >= float(lo)
        else:
            cons.append(None)
            continue
        name = f"r{r}"
        prob.addConstraint(con, name)
        cons.append(prob.get_constraint_by_name(name))
    return prob, cons


BACKEND = PulpBackend()
