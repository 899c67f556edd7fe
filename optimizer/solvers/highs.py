"""HiGHS through highspy: the model is passed as arrays in one call (the default backend)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path
from typing import NamedTuple

import highspy
import numpy as np

from ..errors import InputError
from ..model import LinearModel
from . import SolveOptions, SolverOutput, Status

_STATUS = {
    highspy.HighsModelStatus.kOptimal: Status.OPTIMAL,
    highspy.HighsModelStatus.kInfeasible: Status.INFEASIBLE,
    highspy.HighsModelStatus.kUnboundedOrInfeasible: Status.INFEASIBLE,
    highspy.HighsModelStatus.kUnbounded: Status.UNBOUNDED,
    highspy.HighsModelStatus.kTimeLimit: Status.TIME_LIMIT,
    highspy.HighsModelStatus.kIterationLimit: Status.TIME_LIMIT,
    highspy.HighsModelStatus.kInterrupt: Status.TIME_LIMIT,
    highspy.HighsModelStatus.kSolutionLimit: Status.TIME_LIMIT,
}
log = logging.getLogger(__name__)
MODEL_SUFFIXES = (".lp", ".mps")  # the model files HiGHS writes, by their name
GRACE = 1.25  # the HiGHS MIP may overrun its own time limit: cancel it from outside after this factor (+5 s)
# PDLP's stopping tolerance before the crossover ("pdlp" algorithm): tighter took longer (1e-5: 1.31x the time of 1e-4 on
# three multi-year county LPs), looser no shorter (PDLP's checks stop it at about the same iteration)
PDLP_TOLERANCE = 1e-4
LAZY_TOL = 1e-7  # a lazy row violated by more than this (HiGHS's primal feasibility tolerance) is bounded and the LP re-solved


class _Scheduler:
    """HiGHS's thread scheduler is one per process, started by the first run with that run's ``threads``; a later
    run asking for another count fails (status ERROR). A run that asks for another count restarts it when no other
    run is under way in the process, else runs on the one there is."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.threads: int | None = None  # what the scheduler was started with (0: HiGHS's own choice)
        self.running = 0

    @contextmanager
    def run(self, threads: int) -> Iterator[int]:
        """The thread count the run may ask for, held while it runs."""
        with self.lock:
            if self.threads is None:
                self.threads = threads
            elif threads and threads != self.threads:
                if self.running == 0:
                    highspy.Highs.resetGlobalScheduler(True)
                    self.threads = threads
                else:
                    threads = 0  # the scheduler there is
            self.running += 1
        try:
            yield threads
        finally:
            with self.lock:
                self.running -= 1


_SCHEDULER = _Scheduler()


class HighsBackend:
    name = "highs"

    def version(self) -> str:
        return f"highspy {version('highspy')}"

    def __init__(self) -> None:
        self._kept: tuple[LinearModel, highspy.Highs] | None = None  # the last LP, for a warm re-solve
        self._lean: bytes | None = None  # kept lean: only the last LP's matrix key (its basis is in _bases)
        self._slot = ""  # the slot whose basis the kept LP holds
        self._bases: dict[str, highspy.HighsBasis] = {}  # the other slots' last bases (of the kept LP's matrix)
        self._bounded: np.ndarray | None = None  # of the kept LP's lazy rows, those bounded (None: all its rows are)

    def solve(self, model: LinearModel, options: SolveOptions) -> SolverOutput:
        is_mip = bool(model.integer.any())
        kept, lean = None, None
        if not is_mip:  # a kept LP serves one warm re-solve
            kept, self._kept = self._kept, None
            lean, self._lean = self._lean, None
        key = _matrix_key(model) if not is_mip and (lean is not None or (options.keep and options.lean)) else None  # hashed once a solve
        from_lean = options.warm and lean is not None and lean == key
        from_kept = options.warm and not from_lean and kept is not None and _same_matrix(kept[0], model)
        started = from_lean or from_kept
        lazy = model.row_blocks.get(options.lazy or "") if not is_mip and not options.lean else None
        bounded = None
        if not is_mip:  # goes with the kept LP
            bounded, self._bounded = self._bounded, None
        if lazy is not None:
            n_lazy = lazy.stop - lazy.start
            bounded = bounded if from_kept and bounded is not None else np.full(n_lazy, from_kept)  # a kept LP without lazy rows bounds all
        full, model = model, _freed(model, lazy, bounded)  # ``model``: what HiGHS holds
        if from_lean:  # kept lean: a new copy, from its slot's basis
            h = _new_highs(options)
            _pass(h, model)
            last = self._bases.get(self._slot)
            own = self._bases.pop(options.slot, None)
            # a slot's first solve starts where the last one ended, as a kept LP does
            start = last if options.from_last or own is None else own
            if start is not None:
                h.setBasis(start)
            self._slot = options.slot
        elif from_kept:
            assert kept is not None
            h = kept[1]
            if options.slot != self._slot:
                self._bases[self._slot] = h.getBasis()
                own = self._bases.pop(options.slot, None)
                if own is not None and not options.from_last:
                    h.setBasis(own)
                self._slot = options.slot
            costs = np.flatnonzero(kept[0].c != model.c)
            if len(costs):
                h.changeColsCost(len(costs), costs.astype(np.int32), np.asarray(model.c, dtype=float)[costs])
            changed = np.flatnonzero((kept[0].col_lo != model.col_lo) | (kept[0].col_hi != model.col_hi))
            if len(changed):
                h.changeColsBounds(len(changed), changed.astype(np.int32), model.col_lo[changed], model.col_hi[changed])
            rows = np.flatnonzero((kept[0].row_lo != model.row_lo) | (kept[0].row_hi != model.row_hi))
            if len(rows):
                h.changeRowsBounds(len(rows), rows.astype(np.int32), model.row_lo[rows], model.row_hi[rows])  # type: ignore[attr-defined]
        else:
            if not is_mip:  # a new LP: the saved bases belonged to the one it replaces
                self._bases.clear()
                self._slot = options.slot
            h = _new_highs(options)
            _pass(h, model)
            simplex = options.algorithm in ("auto", "simplex")  # a crash basis is a start for the simplex only
            crash = _crash_basis(model) if options.crash and not is_mip and simplex else None
            if crash is not None:
                h.setBasis(crash)
        h.setOptionValue("output_flag", bool(options.verbose))
        # HiGHS (1.16) holds the time limit against its object's run clock, which every run of a kept LP adds to: a
        # county's kept LP past its 30 s of rounds stopped its final LP at once ('time_limit') and came back short
        h.setOptionValue("time_limit", h.getRunTime() + float(options.time_limit))
        h.setOptionValue("mip_rel_gap", float(options.gap))
        h.setOptionValue("random_seed", int(options.seed))
        h.setOptionValue("presolve", "choose" if options.presolve or is_mip else "off")
        if not is_mip:  # set every time: a kept LP keeps its options, and a warm start is the simplex's
            algorithm = "auto" if started else options.algorithm
            h.setOptionValue("solver", {"auto": "choose", "simplex": "simplex", "pdlp": "pdlp"}.get(algorithm, "ipm"))
            h.setOptionValue("run_crossover", "off" if algorithm == "ipm-no-crossover" else "on")
        if is_mip and options.start is not None:
            sol = highspy.HighsSolution()
            sol.col_value = np.asarray(options.start, dtype=float)
            sol.value_valid = True
            h.setSolution(sol)
        t0 = time.perf_counter()
        # the MIP may overrun its time limit (DESIGN §5): cancel it from outside; the simplex keeps its limit, and the
        # interrupt callback, called at every iteration, costs an LP about 7% of its time (measured on county LPs)
        h.HandleUserInterrupt = is_mip
        watchdog = threading.Timer(options.time_limit * GRACE + 5.0, h.cancelSolve)
        watchdog.daemon = True
        if is_mip:
            watchdog.start()
        try:
            with _SCHEDULER.run(int(options.threads)) as threads:
                h.setOptionValue("threads", threads)
                if not is_mip and not started and options.algorithm == "pdlp":
                    _first_order(h)
                else:
                    h.run()
                iterations = -1 if is_mip else int(h.getInfo().simplex_iteration_count)
                if lazy is not None:
                    assert bounded is not None
                    iterations += _bound_violated(h, full, lazy, bounded)
                    model = _freed(full, lazy, bounded)
        finally:
            watchdog.cancel()
        seconds = time.perf_counter() - t0
        status = _STATUS.get(h.getModelStatus(), Status.ERROR)
        if status == Status.ERROR and started:
            # a warm start is only a shortcut: HiGHS 1.16 ended a warm county LP of the 1M run 'Unknown' (the same LP
            # every retry); the LP itself, solved from scratch, has its answer
            log.warning("HiGHS ended a warm-started LP '%s' after %.2f s: solving it again from scratch", h.modelStatusToString(h.getModelStatus()), seconds)
            again = self.solve(full, replace(options, warm=False))
            return replace(again, seconds=again.seconds + seconds)
        info = h.getInfo()
        has_primal = int(info.primal_solution_status) == int(highspy.SolutionStatus.kSolutionStatusFeasible)
        if status == Status.TIME_LIMIT and has_primal:
            status = Status.FEASIBLE
        if status == Status.OPTIMAL and is_mip and info.mip_gap > options.gap + 1e-9:
            status = Status.FEASIBLE
        sol = h.getSolution()
        x = np.asarray(sol.col_value) if status.has_solution else None
        objective = float(info.objective_function_value) if status.has_solution else float("nan")
        if is_mip:
            bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else float("nan")
        else:
            bound = objective if status == Status.OPTIMAL else float("nan")
        duals = None
        if options.duals and not is_mip and status == Status.OPTIMAL:
            duals = np.asarray(sol.row_dual)
        if options.keep and not is_mip:
            if options.lean:
                self._bases[self._slot] = h.getBasis()
                self._lean = key
            else:
                self._kept = (model, h)
                self._bounded = bounded if lazy is not None else None
        return SolverOutput(status, x, objective, bound, seconds, duals, h.modelStatusToString(h.getModelStatus()), iterations, started)


def _freed(model: LinearModel, lazy: slice | None, bounded: np.ndarray | None) -> LinearModel:
    """``model`` with the rows of ``lazy`` not ``bounded`` free (what HiGHS holds of an LP solved with lazy rows)."""
    if lazy is None or bounded is None or bounded.all():
        return model
    rows = np.arange(lazy.start, lazy.stop)[~bounded]
    lo, hi = model.row_lo.copy(), model.row_hi.copy()
    lo[rows], hi[rows] = -np.inf, np.inf
    return replace(model, row_lo=lo, row_hi=hi)


def _bound_violated(h: highspy.Highs, model: LinearModel, lazy: slice, bounded: np.ndarray) -> int:
    """Row generation: bound the free rows of ``lazy`` that the optimum in ``h`` violates (marked in ``bounded``) and
    re-solve from its basis until it violates none: then it is ``model``'s optimum. Returns the re-solves' simplex
    iterations."""
    A, lo, hi = model.A[lazy], model.row_lo[lazy], model.row_hi[lazy]
    iterations = 0
    while h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
        act = A @ np.asarray(h.getSolution().col_value)
        violated = ~bounded & ((act > hi + LAZY_TOL) | (act < lo - LAZY_TOL))
        if not violated.any():
            break
        rows = (lazy.start + np.flatnonzero(violated)).astype(np.int32)
        h.changeRowsBounds(len(rows), rows, lo[violated], hi[violated])  # type: ignore[attr-defined]
        bounded |= violated
        h.run()
        iterations += int(h.getInfo().simplex_iteration_count)
    return iterations


def write_model(model: LinearModel, path: str, col_names: list[str], row_names: list[str]) -> None:
    """Write the model with its structured names (``.lp`` or ``.mps`` by the file name), for any other solver; into a
    temporary file beside ``path``, renamed when complete (an earlier file there is never left half-written)."""
    target = Path(path)
    check_model_path(target)
    if target.suffix == ".lp":  # HiGHS writes LP names of letters, digits, '_' and '.' only (else it renames all)
        col_names, row_names = _lp_safe(col_names), _lp_safe(row_names)
    lp = _to_lp(model)
    lp.col_names_ = col_names
    lp.row_names_ = row_names
    with _quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"{path}: cannot create its folder ({err})") from None
    tmp = target.with_name(f".{target.stem}.tmp-{os.getpid()}{target.suffix}")  # the suffix tells HiGHS the format
    try:
        status = h.writeModel(str(tmp))
        if status != highspy.HighsStatus.kOk or not tmp.is_file():
            raise InputError(f"{path}: HiGHS could not write the model (status {status.name})")
        os.replace(tmp, target)
    finally:
        with suppress(OSError):  # on a read-only file system, EROFS: it would hide the error above
            tmp.unlink(missing_ok=True)


def _first_order(h: highspy.Highs) -> None:
    """Solve the LP in ``h`` by PDLP (first order) to :data:`PDLP_TOLERANCE`, move its point to a basis (IPX's crossover)
    and end with the simplex from there: an exact vertex with its duals, as the simplex alone gives. Where PDLP or the
    crossover fails, the simplex starts without that basis."""
    h.setOptionValue("pdlp_optimality_tolerance", PDLP_TOLERANCE)
    h.run()
    if h.getModelStatus() in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt):
        return
    sol = h.getSolution()
    if not (sol.value_valid and sol.dual_valid) or h.crossover(sol) == highspy.HighsStatus.kError:
        h.clearSolver()  # PDLP's point or the crossover's basis, if any, is no start
    h.setOptionValue("solver", "simplex")
    h.setOptionValue("presolve", "off")
    h.run()


def check_model_path(path: Path) -> None:
    """A model file is named ``.lp`` or ``.mps`` (the format HiGHS writes) and is not a folder, checked before any work."""
    if path.suffix not in MODEL_SUFFIXES:
        raise InputError(f"{path}: a model file must end in {' or '.join(MODEL_SUFFIXES)}, not '{path.suffix or '(no suffix)'}'")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; name a model file to write")


def _new_highs(options: SolveOptions) -> highspy.Highs:
    """A HiGHS instance, silent unless ``verbose`` before the model is passed (passModel warns on stdout)."""
    with _quiet_stdout():  # HiGHS prints a banner on construction, before options can silence it
        h = highspy.Highs()
    h.setOptionValue("output_flag", bool(options.verbose))
    return h


def _lp_safe(names: list[str]) -> list[str]:
    return [re.sub(r"[^A-Za-z0-9_.]", "_", n.replace("/", ".")) for n in names]


def _matrix_key(model: LinearModel) -> bytes:
    """A digest of the matrix and sense: what a lean backend keeps to know its next LP is the same one (the
    model itself may live elsewhere between rounds, e.g. spilled to disk)."""
    key = hashlib.blake2b(f"{model.sense} {model.A.shape} {model.A.format}".encode(), digest_size=16)
    for part in (model.A.indptr, model.A.indices, model.A.data):
        key.update(np.ascontiguousarray(part).data)
    return key.digest()


_STATUS_OF = np.array([highspy.HighsBasisStatus(i) for i in range(5)], dtype=object)  # kLower, kBasic, kUpper, kZero, kNonbasic
_VAR_TYPE_OF = np.array([highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger], dtype=object)


def _crash_basis(model: LinearModel) -> highspy.HighsBasis | None:
    """A starting basis for an assignment-shaped LP: in every row of the block ``assign`` (one plan per household)
    its best column by objective is basic and the row sits at its bound; every other column sits at a finite
    bound, every other row is basic. With the objective on the assignment columns only (the other columns cost
    nothing or are penalised), all reduced costs then have the right sign: the dual simplex starts dual feasible
    instead of from the slack basis (the LP of 40,000 generated households: 42% fewer iterations, 29% less time).
    None when the model has no such block."""
    rows = model.row_blocks.get("assign")
    if rows is None or rows.stop <= rows.start:
        return None
    A = model.A[rows]
    counts = np.diff(A.indptr)
    if (counts == 0).any():
        return None
    sign = 1.0 if model.sense == "max" else -1.0
    order = np.lexsort((-sign * model.c[A.indices], np.repeat(np.arange(len(counts)), counts)))
    best = A.indices[order[np.concatenate([[0], np.cumsum(counts)[:-1]])]]
    lo, hi = model.col_lo, model.col_hi
    col = np.where(np.isfinite(lo), 0, np.where(np.isfinite(hi), 2, 3))
    col[best] = 1
    row = np.ones(model.shape[0], dtype=np.int64)
    row[rows] = 0
    basis = highspy.HighsBasis()
    basis.col_status = _STATUS_OF[col].tolist()
    basis.row_status = _STATUS_OF[row].tolist()
    basis.valid = True
    return basis


def _same_matrix(a: LinearModel, b: LinearModel) -> bool:
    """Same matrix and sense (bounds and costs may differ): the kept LP can be re-solved from its basis."""
    if a.A is b.A:
        return a.sense == b.sense
    return (
        a.A.shape == b.A.shape
        and a.A.nnz == b.A.nnz
        and a.sense == b.sense
        and np.array_equal(a.A.indptr, b.A.indptr)
        and np.array_equal(a.A.indices, b.A.indices)
        and np.array_equal(a.A.data, b.A.data)
    )


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _pass(h: highspy.Highs, model: LinearModel) -> None:
    """Give HiGHS the model as arrays: a county's model of 39,085 columns in 2.3 ms, where filling a ``HighsLp``
    field by field (:func:`_to_lp`, still used to write models with their names) took 13.6 ms."""
    a = _arrays(model)
    status = h.passModel(
        int(model.shape[1]), int(model.shape[0]), len(a.value), int(highspy.MatrixFormat.kColwise), int(a.sense), 0.0,
        a.c, a.col_lo, a.col_hi, a.row_lo, a.row_hi, a.start, a.row_of, a.value,
        model.integer.astype(np.int32),  # full length even for an LP: HiGHS reads one entry per column (0: continuous)
    )  # fmt: skip
    if status == highspy.HighsStatus.kError:
        raise RuntimeError(f"HiGHS refused a model of {model.shape[0]} rows and {model.shape[1]} columns")


def _to_lp(model: LinearModel) -> highspy.HighsLp:
    a = _arrays(model)
    lp = highspy.HighsLp()
    lp.num_col_ = model.shape[1]
    lp.num_row_ = model.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_, lp.row_lower_, lp.row_upper_ = a.c, a.col_lo, a.col_hi, a.row_lo, a.row_hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.start, a.row_of, a.value
    lp.sense_ = a.sense
    if model.integer.any():
        lp.integrality_ = _VAR_TYPE_OF[model.integer.astype(np.intp)].tolist()
    return lp


class _Arrays(NamedTuple):
    """A model's data in the types HiGHS takes: float64 costs and bounds, the column-wise matrix with int32 indices."""

    c: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    row_lo: np.ndarray
    row_hi: np.ndarray
    start: np.ndarray
    row_of: np.ndarray  # each nonzero's row
    value: np.ndarray
    sense: highspy.ObjSense


def _arrays(model: LinearModel) -> _Arrays:
    csc = model.A.tocsc()
    c, col_lo, col_hi, row_lo, row_hi = (np.ascontiguousarray(v, dtype=np.float64) for v in (model.c, model.col_lo, model.col_hi, model.row_lo, model.row_hi))
    sense = highspy.ObjSense.kMaximize if model.sense == "max" else highspy.ObjSense.kMinimize
    start, row_of, value = csc.indptr.astype(np.int32), csc.indices.astype(np.int32), np.ascontiguousarray(csc.data, dtype=np.float64)
    return _Arrays(c, col_lo, col_hi, row_lo, row_hi, start, row_of, value, sense)


BACKEND = HighsBackend()
