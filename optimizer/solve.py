"""The solve pipeline: instance -> plans -> model -> LP bound -> relax-and-fix MIP -> result.

The LP relaxation of this model is nearly integral (a multiple-choice knapsack with few coupling rows has
at most one fractional household per binding row, DESIGN §4), so we solve the LP once for the bound, fix
every decision the LP already made integrally, and let the MIP solver finish the few fractional ones.
Only when that leaves a gap above the target does the full MIP run, warm-started from it.
"""

from __future__ import annotations

import logging
import numbers
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from .contract import LEVEL_NAMES, Category, Level
from .data import Instance
from .edits import apply_data_edits
from .errors import InfeasibleError, InputError, NoSolutionError, check_argument
from .helpers import assign_helpers
from .limits import check_memory, plans_memory_mb, solve_memory_mb
from .model import MONEY_UNIT, ChurnCap, LinearModel, ModelIndex, add_churn_cap, build_model
from .plans import Plans, build_plans, build_templates
from .result import Result, build_result
from .scenario import Scenario, SolverOptions, is_url
from .solvers import Backend, SolveOptions, SolverOutput, Status, get_backend
from .storage import load_source, redact
from .structured import structured_bound

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
DECOMPOSE_FROM = 40_000  # households: from here on, method auto decomposes by county (faster from about 30,000: bench/README.md)
HOUSEHOLDS = Level.VILLAGE + 1  # relax-and-fix's narrowest neighbourhood, below the village: the households with a fractional plan
FLOOR_OF_CATEGORY = {
    Category.GUARANTEE.value: "labourless_guarantee",
    Category.EDUCATION.value: "school_education",
    Category.HOUSING.value: "unsafe_house_renovation",
}


@dataclass(frozen=True)
class Solution:
    """The chosen point and how good it is proven to be."""

    x: np.ndarray
    status: Status
    objective: float
    bound: float
    lp_bound: float
    gap: float
    lp_seconds: float
    mip_seconds: float
    used_full_mip: bool
    stopped: bool = False  # a MIP of the solve stopped at its time limit: the result depends on the machine's speed
    warm_started: bool = False  # its LP started from one kept from an earlier solve


def solve(
    scenario: Scenario,
    instance: Instance | None = None,
    *,
    solver: str | None = None,
    time_limit: float | None = None,
    gap: float | None = None,
    progress: Progress | None = None,
    churn: ChurnCap | None = None,
    method: str = "auto",
    scheduler: str | None = None,
    workers: int = 2,
    warm: bool = False,
    keep: bool = False,
) -> Result:
    """Solve a scenario end to end and return its verified-ready :class:`Result`; ``churn`` caps how many
    households of a published allocation may change plan (the nightly job). ``method`` is ``monolithic``,
    ``decomposed`` (by county on Dask: ``scheduler`` address or a local cluster of ``workers``) or ``auto``
    (decomposed from :data:`DECOMPOSE_FROM` households).

    With ``warm`` (what-if sessions: compare, sweep, marginal) and ``solver.warm_start``, the LP starts from the
    basis kept by the previous solve in this process when only bounds changed: faster, but the allocation may
    then depend on what was solved before. Without it a solve depends only on its scenario and inputs. ``keep`` is
    its counterpart for a decomposed solve on the cluster at ``scheduler`` (see :class:`optimizer.compare.Session`):
    the workers keep the county models for the next solve, which starts a county from its last LP when only
    upper-level money changed."""
    check_argument(scenario, Scenario, "solve: scenario (made by optimizer.load_scenario)")
    check_argument(instance, (Instance, type(None)), "solve: instance (made by optimizer.load_instance, or None to load the scenario's data)")
    check_argument(workers, numbers.Integral, "solve: workers")
    if workers < 1:
        raise InputError(f"solve: workers must be at least 1, not {workers}")
    say = progress or (lambda msg: log.info(msg))
    if scenario.years is not None:
        raise InputError(f"scenario '{scenario.name}' has a years: section: solve it with optimizer.multiyear.solve_multiyear (or `optimizer solve`)")
    given: dict[str, object] = {"solver.name": solver, "solver.time_limit": time_limit, "solver.gap": gap}
    overrides = {k: v for k, v in given.items() if v is not None}
    if overrides:
        scenario = scenario.with_overrides(overrides)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    check_method(method, scheduler)
    folder = worker_source(scenario, instance, method, churn)
    if folder is not None:  # the workers read their counties; the driver never loads the households
        say(f"decomposing {source_name(folder)}: each worker reads its counties")
        with one_model_hint("the registry" if is_url(folder) else "the folder"):
            return _solve_decomposed(scenario, None, folder, say, timings, t0, scheduler, workers, None, False)
    if instance is None:
        say(f"loading {redact(scenario.data_source)}")
        instance = load_source(scenario.data_source, max_file_mb=scenario.limits.max_input_mb)
    instance = apply_data_edits(instance, scenario.data_edits)
    timings["load"] = time.perf_counter() - t0

    fallback: dict[str, str] = {}
    if method == "decomposed" or (method == "auto" and auto_decomposes(scenario, instance.n_households)):
        try:
            with one_model_hint():
                return _solve_decomposed(scenario, instance, None, say, timings, t0, scheduler, workers, churn, keep and churn is None)
        except NoSolutionError as err:
            if method == "decomposed":
                raise
            say(f"the decomposition by county found no allocation ({err.cause}); solving it as one model")
            fallback = {"from": "decomposed", "reason": err.cause}
    elif scheduler is not None:
        say(ONE_MODEL_NOTE)

    t = time.perf_counter()
    n_h = instance.n_households
    templates = len(build_templates(instance.measures, scenario.plans.max_measures).labels)
    check_memory(f"generating plans ({templates} measure sets per household)", plans_memory_mb(n_h, templates), n_h, scenario)
    say(f"generating plans for {n_h:,} households")
    plans = build_plans(instance, scenario)
    timings["plans"] = time.perf_counter() - t

    t = time.perf_counter()
    relaxed = _structured_bound(instance, scenario, plans)
    timings["structured_bound"] = time.perf_counter() - t

    t = time.perf_counter()
    check_memory(f"building and solving the model of {len(plans.table):,} plans", solve_memory_mb(n_h, len(plans.table)), n_h, scenario)
    model, index = build_model(instance, scenario, plans)
    churn_info: dict[str, int] = {}
    if churn is not None:
        model, churn_info = add_churn_cap(model, instance, plans, churn)
    timings["build"] = time.perf_counter() - t
    say(f"model: {model.shape[1]:,} columns, {model.shape[0]:,} rows, {model.A.nnz:,} nonzeros ({plans.table.shape[0]:,} plans)")

    backend = get_backend(scenario.solver.name)
    warm = warm and scenario.solver.warm_start
    sol = optimize(model, index, instance, scenario, say, warm=warm)
    timings["lp"] = sol.lp_seconds
    timings["mip"] = sol.mip_seconds

    t = time.perf_counter()
    duals = shadow_prices(model, sol.x, scenario)
    timings["duals"] = time.perf_counter() - t
    result = build_result(instance, scenario, plans, index, model, sol, duals, backend_version=backend.version(), timings=timings)
    result.manifest["warm_start"] = sol.warm_started  # a session's first solve, or one on new data, starts cold
    result.manifest["method"] = "monolithic"
    if fallback:
        result.manifest["fallback"] = fallback
    result.manifest["structured_bound"] = relaxed
    if scenario.helpers.assign:
        t = time.perf_counter()
        result.attach_helpers(assign_helpers(instance, result.households, None if churn is None else churn.previous))
        timings["helpers"] = time.perf_counter() - t
        h = result.manifest["helpers"]
        say(f"helpers: {h['households_with_helper']:,} households matched, {h['households_short']:,} short")
    if churn is not None:
        result.manifest["churn"] = churn_info
    timings["total"] = time.perf_counter() - t0
    result.manifest["timings"] = {k: round(v, 3) for k, v in timings.items()}
    return result


def decomposable(scenario: Scenario) -> bool:
    """Whether ``auto`` may decompose the scenario by county: a min-cost target and helper capacities in the model
    couple the counties (the decomposed method refuses both)."""
    return scenario.mode == "max_lifted" and not scenario.helpers.capacity_in_model


ONE_MODEL_NOTE = "auto solves this scenario as one model: the Dask scheduler given (--scheduler) serves a decomposed solve only (--method decomposed)"


def check_method(method: str, scheduler: str | None) -> None:
    """``method`` is auto, monolithic or decomposed; a ``scheduler`` address (the cluster of a decomposed solve) has
    no use with monolithic, and a solve that ``auto`` keeps on one model says so (:data:`ONE_MODEL_NOTE`)."""
    if method not in ("auto", "monolithic", "decomposed"):
        raise InputError(f"method must be auto, monolithic or decomposed, not '{method}'")
    if scheduler is not None and method == "monolithic":
        raise InputError(f"a Dask scheduler ({scheduler}, --scheduler) is the cluster of a decomposed solve: it has no use with --method monolithic")


def auto_decomposes(scenario: Scenario, households: int, replan: bool = False) -> bool:
    """Whether ``auto`` decomposes a scenario of that many households: a one-year one from :data:`DECOMPOSE_FROM`, a
    multi-year one from :data:`optimizer.multiyear.DECOMPOSE_FROM` (a ``replan``, which keeps earlier years or is
    under a churn cap: from :data:`optimizer.multiyear.DECOMPOSE_REPLAN_FROM`)."""
    from . import multiyear

    if scenario.years is None:
        threshold = DECOMPOSE_FROM
    else:
        threshold = multiyear.DECOMPOSE_REPLAN_FROM if replan else multiyear.DECOMPOSE_FROM
    return decomposable(scenario) and households >= threshold


def worker_source(scenario: Scenario, instance: Instance | None = None, method: str = "auto", churn: ChurnCap | None = None) -> str | None:
    """Where the workers of a decomposed solve read their counties themselves (a partitioned folder, or a registry
    database), when that is the path ``solve`` takes (``auto``: from :data:`DECOMPOSE_FROM` households, a
    multi-year scenario from :data:`optimizer.multiyear.DECOMPOSE_FROM`). With data edits the data are loaded whole,
    the edits applied, then decomposed in memory when that large (the workers would read them unedited)."""
    if instance is not None or method == "monolithic" or churn is not None or scenario.data_edits:
        return None
    from .partitioned import county_households, is_partitioned
    from .storage import open_households

    source = scenario.data_source
    if not is_url(source) and not is_partitioned(source):
        return None
    if method == "auto" and not decomposable(scenario):  # before counting the households
        return None
    if method == "auto" and not auto_decomposes(scenario, open_households(source) if is_url(source) else int(county_households(source).sum())):
        return None
    return source


def partitioned_source(scenario: Scenario, instance: Instance | None = None, method: str = "auto", churn: ChurnCap | None = None) -> str | None:
    """The partitioned folder :func:`worker_source` would have the workers read (a database: None)."""
    return None if is_url(scenario.data_source) else worker_source(scenario, instance, method, churn)


def source_name(source: str) -> str:
    """A partitioned folder or a database, named for progress messages (a password hidden)."""
    return f"the registry database {redact(source)}" if is_url(source) else f"the partitioned instance {source}"


@contextmanager
def one_model_hint(whole: str = "") -> Iterator[None]:
    """A decomposition that finds no allocation names the way out (the error's ``cause`` stays the reason); ``whole``
    names the data the one model would load whole."""
    try:
        yield
    except NoSolutionError as err:
        how = f"loads {whole} whole and solves it" if whole else "solves it"
        # the one model also tells a county's rounding that cannot fit its share from budgets that cannot pay the floors
        raise NoSolutionError(f"{err}; --method monolithic {how} as one model (or names the money it lacks)", err.cause) from err


def _solve_decomposed(
    scenario: Scenario,
    instance: Instance | None,
    folder: str | None,
    say: Progress,
    timings: dict[str, float],
    t0: float,
    scheduler: str | None,
    workers: int,
    churn: ChurnCap | None,
    keep: bool,
) -> Result:
    from .decompose import solve_decomposed

    result = solve_decomposed(scenario, instance, folder, scheduler=scheduler, workers=workers, progress=say, churn=churn, keep=keep)
    timings["decomposed"] = result.manifest["timings"]["decomposed"]
    timings["total"] = time.perf_counter() - t0
    result.manifest["timings"] = {k: round(v, 3) for k, v in timings.items()}
    return result

def _structured_bound(instance: Instance, scenario: Scenario, plans: Plans) -> float | None:
    """The laminar relaxation's bound (DESIGN §4), a valid upper bound found without a solver; None in
    min_cost mode or when even the relaxation cannot pay the floors (the LP then diagnoses it)."""
    if scenario.mode != "max_lifted":
        return None
    try:
        return structured_bound(instance, scenario, plans)
    except InfeasibleError:
        return None


def optimize(
    model: LinearModel,
    index: ModelIndex,
    instance: Instance,
    scenario: Scenario,
    say: Progress,
    warm: bool = False,
    backend: Backend | None = None,
    households_first: bool = True,
    narrow: bool = False,
    lean: bool = False,
) -> Solution:
    """LP bound, relax-and-fix, and the full MIP only if the gap is still above target (``warm``: see :func:`solve`;
    ``backend``: one that kept this LP, e.g. a county's in the decomposition, instead of the shared one).
    ``households_first=False`` starts relax-and-fix at the villages (the multi-year model, whose plan columns are
    plan-year options, tries its households itself). ``narrow`` stops after the households' own neighbourhood,
    whatever its gap (the decomposition's first rounding of a county: the run's gap decides which counties widen).
    ``lean``: the backend keeps the LP's basis, not its copy of the LP (a lean worker rounds thousands of counties)."""
    opts = scenario.solver
    backend = backend or get_backend(opts.name)
    deadline = time.perf_counter() + opts.time_limit
    base = solver_options(opts)

    say(f"solving the LP relaxation with {backend.name}")
    # cold, from the crash basis (generated 10,000 and 40,000 households: 1.8 s -> 1.24 s, 26.1 s -> 18.4 s of HiGHS)
    lp = backend.solve(model.relaxed(), replace(base, time_limit=_left(deadline), keep=True, lean=lean, warm=warm, crash=True))
    if lp.status == Status.INFEASIBLE:
        raise diagnose_infeasible(model, index, instance, scenario)
    if lp.status != Status.OPTIMAL or lp.x is None:
        raise NoSolutionError(
            f"no solution within the time limit of {opts.time_limit:g} s: the LP relaxation did not finish ({lp.message}); "
            "raise solver.time_limit in the scenario (or --time-limit of optimizer solve)"
        )
    lp_bound = lp.objective
    integer = model.integer
    x_lp = lp.x
    fractional = fractional_columns(integer, x_lp)
    say(f"LP bound {lp_bound * model.objective_unit:,.2f} in {lp.seconds:.1f} s; {int(fractional.sum()):,} fractional decisions")

    t = time.perf_counter()
    best: SolverOutput | None = None
    # relax-and-fix: keep the LP's integral decisions, and the money flowing into other places, except around the
    # fractional ones, where the MIP may move households and money: first only the households with a fractional
    # plan (and the money of their villages), then their whole village, township and county; last, the same with
    # every flow free. A wider neighbourhood is tried while the best so far misses the gap it must reach
    anc = instance.tree.ancestors[index.col_village]
    flow_anc = instance.tree.ancestors[index.flows["village"].to_numpy()]
    n_int = len(index.col_village)
    hh = index.plans["hh"].to_numpy()
    x_start = np.where(integer, np.round(x_lp), np.maximum(x_lp, 0.0))
    attempts = [(HOUSEHOLDS, True)] * households_first + [(level, True) for level in (Level.VILLAGE, Level.TOWNSHIP, Level.COUNTY)] + [(Level.COUNTY, False)]
    tried: list[np.ndarray] = []
    stopped = False
    for level, fix_flows in (attempts[:1] if narrow else attempts) if fractional.any() else []:
        touched = np.unique(anc[fractional[:n_int], min(level, Level.VILLAGE)])
        if level == HOUSEHOLDS:
            free = households_free(model, hh, fractional)
        else:
            free = ~integer if not fix_flows else np.zeros(model.shape[1], dtype=bool)
            free[:n_int] = np.isin(anc[:, level], touched)
        if fix_flows:
            free[model.col_blocks["f"]] = np.isin(flow_anc[:, min(level, Level.VILLAGE)], touched)
        if any(np.array_equal(free, before) for before in tried):  # e.g. a village that is its whole township
            continue
        tried.append(free)
        lo, hi = model.col_lo.copy(), model.col_hi.copy()
        lo[~free] = hi[~free] = x_start[~free]
        fixed = backend.solve(model.with_bounds(lo, hi), replace(base, time_limit=_left(deadline), gap=opts.gap / 2))
        stopped |= fixed.status.stopped
        what = "decisions and flows" if fix_flows else "decisions, all flows free"
        around = f"{len(touched)} village(s)' households with a fractional plan" if level == HOUSEHOLDS else f"{len(touched)} {LEVEL_NAMES[Level(level)]}(s)"
        below = f", {relative_gap(model.sense, fixed.objective, lp_bound):.4%} below the LP bound" if fixed.status.has_solution else ""
        say(f"relax-and-fix around {around}, {int(free.sum()):,} free {what}: {fixed.status.value}{below}")
        if fixed.status.has_solution and (best is None or _better(model.sense, fixed.objective, best.objective)):
            best = fixed
        if free.all() and (fixed.status.has_solution or np.isfinite(fixed.bound)):  # every county touched: this was the full MIP
            lp_bound = _tighter(model.sense, lp_bound, fixed.bound)
        # the households alone must reach half the gap (the cheap try); a wider neighbourhood the whole gap
        if best is not None and relative_gap(model.sense, best.objective, lp_bound) <= (opts.gap / 2 if level == HOUSEHOLDS else opts.gap):
            break
    if not fractional.any():
        best = SolverOutput(Status.OPTIMAL, x_lp, lp.objective, lp.objective, 0.0)
    used_full = False
    if best is None or (relative_gap(model.sense, best.objective, lp_bound) > opts.gap and not narrow):
        used_full = True
        start = best.x if best is not None else None
        say("relax-and-fix left a gap above target: running the full MIP")
        full = backend.solve(model, replace(base, time_limit=_left(deadline), start=start))
        stopped |= full.status.stopped
        if full.status == Status.INFEASIBLE:
            raise diagnose_infeasible(model, index, instance, scenario)
        if full.status.has_solution and (best is None or _better(model.sense, full.objective, best.objective)):
            best = full
        if full.status.has_solution or np.isfinite(full.bound):
            lp_bound = _tighter(model.sense, lp_bound, full.bound)
    mip_seconds = time.perf_counter() - t
    if best is None or best.x is None:
        raise NoSolutionError(f"no feasible allocation found within the time limit of {opts.time_limit:g} s")
    x = _clean(best.x, integer)
    objective = float(model.c @ x)
    g = relative_gap(model.sense, objective, lp_bound)
    status = Status.OPTIMAL if g <= opts.gap + 1e-12 else Status.FEASIBLE
    return Solution(x, status, objective, lp_bound, lp.objective, g, lp.seconds, mip_seconds, used_full, stopped, lp.warm_started)


def fractional_columns(integer: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The integer columns an LP solution ``x`` leaves strictly between 0 and 1 (binary decisions to round)."""
    return integer & (np.abs(x) > 1e-7) & (np.abs(x - 1) > 1e-7)


def households_free(model: LinearModel, hh: np.ndarray, fractional: np.ndarray) -> np.ndarray:
    """Relax-and-fix's narrowest neighbourhood: every plan column (multi-year: plan-year option) of a household with
    a fractional one, and the fractional project columns (``hh``: the household of each column of block x)."""
    xb, yb = model.col_blocks["x"], model.col_blocks["y"]
    free = np.zeros(model.shape[1], dtype=bool)
    free[xb] = np.isin(hh, hh[fractional[xb]])
    free[yb] = fractional[yb]
    return free


def shadow_prices(model: LinearModel, x: np.ndarray, scenario: Scenario, backend: Backend | None = None) -> dict[str, np.ndarray]:
    """Shadow prices of the fund and balance rows (objective per model money unit), from the LP with the
    project decisions fixed and plan choices relaxed (``backend``: one that kept this model's LP, e.g. a county's)."""
    backend = backend or get_backend(scenario.solver.name)
    y = model.col_blocks["y"]
    lo, hi = model.col_lo.copy(), model.col_hi.copy()
    lo[y] = hi[y] = x[y]
    # from the LP's optimal basis, in a slot of its own: the next what-if's LP (same matrix, other money) starts from
    # that LP basis, not from this one with the projects fixed (3.6 s against 8.0-15.3 s on the sample); and this one
    # from the LP's, not from the last what-if's (0.3 s against 3.7-7.9 s)
    options = SolveOptions(
        time_limit=scenario.solver.time_limit, duals=True, warm=True, keep=scenario.solver.warm_start, slot="duals", from_last=True
    )
    out = backend.solve(model.relaxed().with_bounds(lo, hi), options)
    prices = {}
    for block in ("fund", "balance"):
        rows = model.row_blocks[block]
        prices[block] = np.full(rows.stop - rows.start, np.nan) if out.duals is None else np.abs(out.duals[rows])
    return prices


def _short_of_helpers(phase1: LinearModel, model: LinearModel, backend: Backend, scenario: Scenario) -> int:
    """With the helpers' skills and capacities in the model: how many (township, skill) groups lack helpers when
    that alone stands in the way (the model is feasible without those rows), else 0."""
    rows = model.row_blocks.get("skill_demand")
    if rows is None:
        return 0
    hi = phase1.row_hi.copy()
    hi[rows] = np.inf
    out = backend.solve(replace(phase1, row_hi=hi), SolveOptions(time_limit=scenario.solver.time_limit))
    if not out.status.has_solution or out.x is None:
        return 0
    return int(((phase1.A[rows] @ out.x) > 1e-6).sum())


def diagnose_infeasible(model: LinearModel, index: ModelIndex, instance: Instance, scenario: Scenario, forced: str = "target") -> InfeasibleError:
    """Find the least emergency money per (village, category) that makes the floors and targets payable; money short
    in a category no floor asks for is put down to ``forced`` (what else makes the model spend)."""
    rows = model.row_blocks["balance"]
    n_cells = rows.stop - rows.start
    slack = sp.csr_matrix((-np.ones(n_cells), (np.arange(rows.start, rows.stop), np.arange(n_cells))), shape=(model.shape[0], n_cells))
    phase1 = LinearModel(
        sense="min",
        c=np.concatenate([np.zeros(model.shape[1]), np.ones(n_cells)]),
        A=sp.hstack([model.A, slack], format="csr"),
        row_lo=model.row_lo,
        row_hi=model.row_hi,
        col_lo=np.concatenate([model.col_lo, np.zeros(n_cells)]),
        col_hi=np.concatenate([model.col_hi, np.full(n_cells, np.inf)]),
        integer=np.zeros(model.shape[1] + n_cells, dtype=bool),
    )
    backend = get_backend(scenario.solver.name)
    out = backend.solve(phase1, SolveOptions(time_limit=scenario.solver.time_limit))
    if not out.status.has_solution or out.x is None:
        short_of_helpers = _short_of_helpers(phase1, model, backend, scenario)
        if short_of_helpers:
            # what asks for those plans: the hard floors, the coverage, the targets; and what would lift each
            asks = [("the hard floors", "set floors.mode: soft")] if scenario.floors.mode == "hard" else []
            if scenario.equity.min_county_coverage:
                asks.append(("equity.min_county_coverage", "lower equity.min_county_coverage"))
            if scenario.mode == "min_cost":
                asks.append(("the targets", "lower the targets"))
            what = " and ".join(a for a, _ in asks) or "the plans"
            return InfeasibleError(
                f"infeasible even with unlimited money: the plans that {what} need call for household helpers with a skill "
                f"that no helper within reach has room for, in {short_of_helpers:,} (township, skill) group(s) (helpers.capacity_in_model: "
                f"add helpers to helpers.csv, {''.join(f'{fix}, ' for _, fix in asks)}or set helpers.capacity_in_model: false)"
            )
        if "year" in index.cells.columns:  # a multi-year model: its capacities and kept starts bind too
            return InfeasibleError(
                "infeasible even with unlimited money: the targets or the county exit schedule ask for more expected exits than "
                "any plan can give, or the starts it must keep exceed a capacity (relocation per county and year: "
                "years.relocation_rate; projects) (lower target.lifted, raise target.county_incidence, move years.county_exit later, "
                "or raise years.relocation_rate)"
            )
        if scenario.mode != "min_cost":  # no targets: the floors or the equity coverage are what cannot be met
            return InfeasibleError(
                "infeasible even with unlimited money: the hard floors or equity.min_county_coverage need plans that other "
                "limits (projects' capacities, equity.max_cost_per_household, the churn cap) leave no room for (floors.mode: "
                "soft lets such households go without; lower equity.min_county_coverage)"
            )
        return InfeasibleError(
            "infeasible even with unlimited money: the targets ask for more expected exits than any plan can give "
            "(lower target.lifted / raise target.county_incidence)"
        )
    short = out.x[model.shape[1] :] * MONEY_UNIT
    cells = index.cells.assign(shortfall=short)
    cells = cells[cells["shortfall"] > 0.5]
    county = instance.tree.ancestors[cells["village"].to_numpy(), 3]
    cells = cells.assign(county_id=instance.tree.ids.to_numpy()[county])
    keys = ["county_id", "category", *(["year"] if "year" in cells.columns else [])]  # a multi-year model's cells by year
    by = cells.groupby(keys, sort=True)["shortfall"].sum().reset_index()
    by["floor"] = by["category"].map(FLOOR_OF_CATEGORY).fillna(forced)
    when = [f" in {y}" for y in by["year"]] if "year" in by.columns else [""] * len(by)
    lines = [f"  - {r.county_id}: {r.shortfall:,.0f} yuan short for {r.category}{w} ({r.floor})" for r, w in zip(by.itertuples(), when)][:30]
    total = float(short.sum())
    what = "hard floors" if scenario.mode == "max_lifted" else "targets and hard floors"
    what = what if forced == "target" else "hard floors, targets and kept starts"
    timing = ""
    if "year" in by.columns:  # money by year: the years it comes in may be what is short, not the sum
        timing = ("\n(carry-over moves money to later years, never to earlier ones, and a plan is started only in years "
                  "where it takes effect by the deadline, or in its first year when it never does: money appropriated "
                  "later, long delays or years.max_start_years can leave a floor unpaid; see years.shares or years.profile)")  # fmt: skip
    return InfeasibleError(
        f"infeasible: the budgets cannot pay for the {what}; least extra money needed is {total:,.0f} yuan:\n" + "\n".join(lines) + timing,
        shortfalls=by,
    )


def solver_options(opts: SolverOptions) -> SolveOptions:
    """The backend's options for a MIP under the scenario's solver settings (time limit, gap, threads, seed)."""
    return SolveOptions(time_limit=opts.time_limit, gap=opts.gap, threads=opts.threads, seed=opts.seed)


def _left(deadline: float) -> float:
    return max(1e-3, deadline - time.perf_counter())


def relative_gap(sense: str, objective: float, bound: float) -> float:
    """The gap between an objective and its bound, relative to the larger of the two (inf when either is not finite)."""
    if not np.isfinite(bound) or not np.isfinite(objective):
        return float("inf")
    diff = bound - objective if sense == "max" else objective - bound
    return max(0.0, diff) / max(abs(bound), abs(objective), 1e-9)


def _better(sense: str, a: float, b: float) -> bool:
    return a > b if sense == "max" else a < b


def _tighter(sense: str, a: float, b: float) -> float:
    if not np.isfinite(b):
        return a
    return min(a, b) if sense == "max" else max(a, b)


def _clean(x: np.ndarray, integer: np.ndarray) -> np.ndarray:
    out = x.copy()
    out[integer] = np.round(out[integer])
    out[~integer] = np.maximum(out[~integer], 0.0)
    return out

