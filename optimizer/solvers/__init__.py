"""Solver backends behind one small interface; nothing outside this package imports a solver library.

Each backend maps its own termination codes onto :class:`Status` in one table, so results speak one
vocabulary whichever backend ran.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..errors import SolverUnavailableError

if TYPE_CHECKING:  # the model module imports the helper network, which uses solvers.flow
    from ..model import LinearModel


class Status(str, Enum):
    OPTIMAL = "optimal"  # proven within the requested gap
    FEASIBLE = "feasible"  # stopped (time limit) with a solution
    INFEASIBLE = "infeasible"
    TIME_LIMIT = "time_limit"  # stopped without a solution
    UNBOUNDED = "unbounded"
    ERROR = "error"

    @property
    def has_solution(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)

    @property
    def stopped(self) -> bool:
        """Ended at its time limit before proving its answer: where it stops, and so what it returns, depends on
        the machine's speed and load."""
        return self in (Status.FEASIBLE, Status.TIME_LIMIT)


@dataclass(frozen=True)
class SolveOptions:
    time_limit: float = 120.0
    gap: float = 1e-3
    threads: int = 0
    seed: int = 0
    start: np.ndarray | None = None  # a feasible point to start from (MIP)
    duals: bool = False  # LP only: return row duals
    keep: bool = False  # LP only: keep this LP so that a later ``warm`` solve of the same matrix can start from it
    warm: bool = False  # LP only: re-solve the kept LP with new bounds or costs (backends without it solve cold)
    slot: str = ""  # LP only, with ``warm``: start from the basis the last solve in this slot ended with (e.g. two
    # alternating objectives on one matrix each keep their own basis); backends without bases ignore it
    from_last: bool = False  # with ``warm`` and ``slot``: start from the basis the last solve ended with, not the
    # slot's own (dropped), still keeping the last solve's basis for its slot (the shadow prices' LP after each LP)
    lean: bool = False  # with ``keep``: keep only the basis, not the solver's copy of the LP (rebuilt for the next warm
    # solve: a little slower, a fraction of the memory)
    verbose: bool = False
    algorithm: str = "auto"  # LP solved cold only: "simplex", "ipm", "ipm-no-crossover" or "pdlp" (first order, then
    # crossover and simplex to a vertex) (HiGHS; a warm start is the simplex's, and other backends ignore it)
    presolve: bool = True  # LP only: False solves it without presolve (HiGHS; other backends ignore it)
    crash: bool = False  # LP only, solved cold: start from the model's assignment rows (block "assign"), each with its
    # best column basic (see highs._crash_basis; HiGHS then skips presolve; other backends ignore it)
    lazy: str | None = None  # LP only: a row block whose rows HiGHS leaves free until a solution violates them, then
    # bounds for good (row generation: an optimum of the whole LP with optimal duals, 0 on the rows never bounded; a kept
    # LP keeps which are bounded; other backends, lean LPs and MIPs take the whole model)


@dataclass(frozen=True)
class SolverOutput:
    status: Status
    x: np.ndarray | None
    objective: float
    bound: float  # best proven bound in the model's sense (nan if none)
    seconds: float
    duals: np.ndarray | None = None
    message: str = ""
    iterations: int = -1  # LP: simplex iterations of this solve (-1 where the backend does not say)
    warm_started: bool = False  # the LP started from one kept from an earlier solve (a what-if's)


class Backend(Protocol):
    name: str

    def version(self) -> str: ...

    def solve(self, model: LinearModel, options: SolveOptions) -> SolverOutput: ...


BACKENDS = {"highs": "highs", "pulp": "pulp_cbc", "ortools": "ortools_scip"}


def get_backend(name: str, private: bool = False) -> Backend:
    """The backend called ``name`` (highs, pulp, ortools); a clear error when it cannot load. ``private`` gives an
    instance of its own, whose kept LP (for warm re-solves) no other caller replaces."""
    if name not in BACKENDS:
        raise SolverUnavailableError(f"unknown solver '{name}' (choose from: {', '.join(BACKENDS)})")
    try:
        module = importlib.import_module(f".{BACKENDS[name]}", __name__)
    except ImportError as err:
        raise SolverUnavailableError(f"solver '{name}' is not available: {err}") from None
    why = getattr(module, "unavailable", lambda: None)()  # a backend that runs a program checks it is there
    if why is not None:
        raise SolverUnavailableError(f"solver '{name}' is not available: {why}")
    return type(module.BACKEND)() if private else module.BACKEND  # type: ignore[no-any-return]
