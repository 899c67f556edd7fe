"""Decomposition by county (DESIGN §5) on Dask: counties solve their own blocks, a master allocates the money of
funds that span several counties (central, province, city, multi-county paired assistance).

Each county's LP value V_c(a) is a concave function of the upper-level money ``a`` it receives; every county LP
solve returns its value and the shadow prices of that money, a supporting hyperplane (cut) of V_c. The master
LP maximizes the sum of the counties' cut envelopes subject to every upper fund's amount (Kelley's cutting
planes, i.e. Benders for resource allocation). The master optimum is a valid upper bound of the monolithic LP
(so of the MIP); the counties' values at the master's allocation are achievable. The loop stops when the two
meet within the tolerance; then each county solves its MIP (relax-and-fix) with its allocation, in parallel, and
the assembled allocation is verified as one national solution.

Counties that cannot pay their hard floors from a small allocation draw on an emergency fund at a prohibitive
price, so every county LP stays feasible and its cuts steer money towards the floors; the final solution may not
use it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import shutil
import tempfile
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .clib import release_freed_memory
from .contract import ANY_CATEGORY, LIST_SEP, Level
from .data import Instance, cut_rows, household_sizes
from .errors import InfeasibleError, InputError, NoSolutionError, OptimizerError, SolverUnavailableError, VerificationError
from .helpers import Assignment, assign_helpers, join_assignments, poor_villages
from .model import MONEY_UNIT, ChurnCap, LinearModel, ModelIndex, build_model, fund_scopes, kept_plan_columns
from .multiyear import (
    MONEY_TOL,
    Kept,
    MultiYear,
    MultiYearResult,
    Withheld,
    build_multiyear,
    carry_limits,
    churn_changes,
    fix_kept,
    fund_year_check,
    household_totals,
    kept_counts,
    kept_of,
    kept_option_columns,
    kept_paid,
    kept_source,
    kept_violations,
    kept_years,
    multiyear_manifest,
    multiyear_result,
    optimize_multiyear,
    previous_of,
    record_replan,
    refuse_lost_paid,
    spending_table,
    verify_multiyear,
    year_list,
    yearly_appropriations,
)
from .plans import Plans, build_plans
from .regions import RegionTree
from .result import Result, add_sums, fund_table, household_sums, poverty_table, roll_up_regions, run_manifest
from .scenario import Scenario, Years, is_url
from .solvers import Backend, SolveOptions, Status, get_backend
from .spill import read_inputs, read_model, write_inputs, write_model

if TYPE_CHECKING:
    from dask.distributed import Client

    from .partitioned import Frame
    from .solve import Solution

log = logging.getLogger(__name__)
_R = TypeVar("_R", Result, MultiYearResult)

EMERGENCY = "__emergency__"
CHANGES = "__changes__"  # the nightly churn cap, shared by the master like an upper fund (its first year only): MONEY_UNIT "yuan" a change of plan
STALL_ROUNDS = 5  # rounds over which a gap already below STALL_SHARE of the target must still close by a tenth
STALL_SHARE = 0.8
INITIAL_RADIUS = 0.1  # share of the starting allocation the first step may move (1M: 0.94x end to end against 0.25)
INITIAL_RADIUS_YEARS = 0.05  # with years: large first steps cost the warm county LPs most (100,000: rounds 257 s against 372 s at 0.25)
LAGRANGE_EVERY = 4  # rounds between two Lagrangian bounds (each costs one more round of county LPs); the first in round 4
LAGRANGE_EVERY_YEARS = 2  # with years, after the first: their later priced rounds cost little and the bound is what they wait for
ROUNDING_ALLOWANCE = 0.00035  # share of the bound a one-year run's county MIPs may give up in rounding (0.017-0.035% measured)
ONE_YEAR_START_FROM = 20_000  # households: a first multi-year plan's master starts from the one-year rounds' shares
YEARS_ROUNDING_ALLOWANCE = 0.003  # the same for a multi-year run (HiGHS's roundings 0.156-0.287%, CBC's 0.060-0.065%; at 0.0015
# deadline_2020's rounds stopped a round earlier, for 0.96x the time and a plan 0.073% lower: bench notes)
NARROW_SHARE = 0.75  # of the gap left above the counties' LP values, what their narrow roundings may give up (see _to_widen)
WIDENED_LOSS = 0.00035  # share of its LP a widened county's relax-and-fix is counted to give up: the most measured for a run's (see _to_widen)
EMERGENCY_TOL = 0.05  # yuan of emergency money a county's final allocation may round away; more is repaired
HOLD_BACK_CYCLES = 3  # multi-year: times the rounds run again with short counties' money held back; a county short after is an error
FREE_KEPT_YEARS_AFTER = 8  # rounds after which a re-plan whose best allocation leaves counties short frees its kept years' money
# rounds closed on a best allocation whose counties' LPs stay short stop asking for more once the kept years are free,
# this many rounds left them as short and the emergency money's penalty exceeds what the master's bound leaves above it
# (900 households, 2018-2020, short counties' money held back: 55 rounds from round 6 at a 0.0000% gap, none fitting)
SHORT_STALL_ROUNDS = 4
# a multi-year county's first LP from this many rows (its lazy rows left out) goes by PDLP, the crossover and the simplex from its basis: 0.64-0.85x the
# dual simplex's time from 26,500 rows (about 4,000 households) up, 0.68-3.62x between 15,000 and 26,000 (bench/README.md)
PDLP_FROM_ROWS = 26_000
LAZY_ROWS: str | None = "link"  # a multi-year county LP's row block left free until violated (None: all rows from the start)
COUNTY_MIP_SECONDS = 30.0  # multi-year: time for a county's final LP and MIP (the MIP's incumbent is taken at the limit)
# the solver of a multi-year county's roundings (MIPs with most columns fixed at the LP's choice) when the scenario's is
# HiGHS and its solver.rounding is unset: CBC took 0.30x HiGHS's time on the 40 counties of the 100,000-household
# instance, for 0.07% more value (bench/README.md)
ROUNDING_SOLVER = "pulp"
EMERGENCY_PRICE = 1_000.0  # objective lost per 10,000 emergency yuan: far above any plan's value per money
EXTRA_PRICE = 100.0  # per 10,000 yuan (or change of plan) offered to a county short after its repair: below the emergency money's
KEPT_LP_BYTES = 7_600.0  # a county's LP kept by HiGHS between rounds, per household (17.6 MiB at 2,421 households)
BATCHES_PER_WORKER = 8  # tasks per worker in a round of county LPs (Dask's own time: about 2.8 ms a task; a warm county LP 15-30 ms)
WORKER_WAIT_SECONDS = 120.0  # for the workers of a new local cluster, or the first worker of an existing scheduler
PROGRESS_SECONDS = 30.0  # a round of county LPs running longer than this reports how many counties are done, this often
LEAN_SHARE = 0.5  # of limits.max_memory_mb: kept LPs above it are kept as bases only
# a lean run rounds its counties narrowly first (each read back from disk once more) only for a gap below this: at a
# 0.1% gap (1M) it saved 28% of the roundings' and final tasks' time, at 0.5% (10M, where a county's own relax-and-fix
# seldom widens) it cost 311 s and no final task less
LEAN_NARROW_BELOW = 0.0025
_CACHE: dict[str, _County | _Spilled] = {}  # per worker process: county -> its model (lean: on local disk)
_SPILL_DIR: Path | None = None  # per worker process: where its lean counties' models are kept
_ROUNDED: dict[str, _Rounded] = {}  # per worker process: county -> its narrow rounding and the money it was for
_KEYS: dict[str, str] = {}  # per worker process, in a run that keeps its models: county -> what its model is built from (see _county_keys)


class _Rounded(NamedTuple):
    """A one-year county's narrow rounding kept on its worker for its final task: the money it was for, and the
    solution with its point as its nonzeros (a lean worker keeps thousands of them)."""

    money: np.ndarray
    solution: Solution  # x empty
    at: np.ndarray
    values: np.ndarray
    n: int

    @classmethod
    def of(cls, money: np.ndarray, sol: Solution) -> _Rounded:
        at = np.flatnonzero(sol.x)
        return cls(np.array(money, copy=True), replace(sol, x=sol.x[:0]), at, sol.x[at], len(sol.x))

    def whole(self) -> Solution:
        x = np.zeros(self.n)
        x[self.at] = self.values
        return replace(self.solution, x=x)


@dataclass(frozen=True)
class Blocks:
    """The county blocks and the upper funds the master shares among them."""

    counties: list[str]
    households: np.ndarray  # poor households per county
    funds: list[pd.DataFrame]  # per county: its own funds, a copy of every upper fund that may reach it, the emergency fund
    upper: pd.DataFrame  # fund_id, amount (yuan): funds whose scope spans several counties
    pairs: pd.DataFrame  # fund_id, county, pair: which county may receive which upper fund
    withheld: Withheld | None = None  # with years: money of the upper funds already paid outside the plans

    def county_pairs(self) -> list[np.ndarray]:
        """Per county (in :attr:`counties` order), the positions of its rows in :attr:`pairs`, in their order."""
        pos = pd.Index(self.counties).get_indexer(self.pairs["county"])
        order = np.argsort(pos, kind="stable")
        return np.split(order, np.cumsum(np.bincount(pos, minlength=len(self.counties)))[:-1])

    def fund_pos(self) -> np.ndarray:
        """Per pair, the position of its fund in :attr:`upper`."""
        return pd.Index(self.upper["fund_id"]).get_indexer(self.pairs["fund_id"])

    def shares(self, weight: np.ndarray) -> np.ndarray:
        """Per pair, its share of its fund in proportion to ``weight`` (per pair); 0 for a fund that weighs nothing."""
        fund_pos = self.fund_pos()
        return weight / np.maximum(np.bincount(fund_pos, weights=weight, minlength=len(self.upper))[fund_pos], 1e-9)


def plan_blocks(funds: pd.DataFrame, tree: RegionTree, counties: list[str], households: np.ndarray) -> Blocks:
    """Split the funds among the counties that have poor households (from the tree and the funds alone: the
    households are not needed). A copy of an upper fund is held by the county, limited to the parts of the
    fund's scope inside it; its amount is set per round."""
    funds = funds.reset_index(drop=True)
    scopes = fund_scopes(funds, tree)
    county_pos = tree.pos(pd.Series(counties, dtype=object))
    county_of_scope = np.where(tree.level[scopes["region"]] >= Level.COUNTY, tree.ancestors[scopes["region"], Level.COUNTY], -1)
    # a fund is upper when one of its scope regions lies above county level or its scopes span several counties
    span = pd.DataFrame({"fund": scopes["fund"], "county": county_of_scope})
    by_fund = span.groupby("fund")["county"]
    above = (by_fund.min() < 0) | (by_fund.nunique() > 1)
    is_upper = above.reindex(range(len(funds)), fill_value=False).to_numpy(dtype=bool)
    # which counties each upper fund may reach: counties under a scope region, or the county holding the scope
    reach_rows = []
    for lv_above in range(Level.COUNTY):
        sel = (tree.level[scopes["region"]] == lv_above) & is_upper[scopes["fund"]]
        if sel.any():
            m = pd.DataFrame({"fund": scopes["fund"][sel], "region": scopes["region"][sel]}).merge(
                pd.DataFrame({"region": tree.ancestors[county_pos, lv_above], "county": county_pos}), on="region"
            )
            reach_rows.append(m[["fund", "county"]])
    sel = (county_of_scope >= 0) & is_upper[scopes["fund"]]
    reach_rows.append(pd.DataFrame({"fund": scopes["fund"][sel], "county": county_of_scope[sel]}))
    reach = pd.concat(reach_rows, ignore_index=True).drop_duplicates()
    reach = reach[reach["county"].isin(county_pos)].sort_values(["fund", "county"]).reset_index(drop=True)
    reach["pair"] = np.arange(len(reach))
    ids = tree.ids.to_numpy()
    # the copy's targets: the fund's scope regions inside the county, unless a scope region lies above it
    inside = span[(span["county"] >= 0) & is_upper[span["fund"]]].assign(region=ids[scopes["region"]][(span["county"] >= 0) & is_upper[span["fund"]]])
    joined = inside.groupby(["fund", "county"])["region"].agg(LIST_SEP.join)
    has_above = span.loc[span["county"] < 0, "fund"].unique()
    targets = joined.reindex(pd.MultiIndex.from_frame(reach[["fund", "county"]])).fillna("").to_numpy()
    targets = np.where(np.isin(reach["fund"].to_numpy(), has_above), "", targets)
    copies = funds.loc[reach["fund"].to_numpy()].assign(region_id=ids[reach["county"].to_numpy()], targets=targets)
    local_county = span[~is_upper[span["fund"]]].groupby("fund")["county"].first()
    own = funds.loc[local_county.index].assign(county=local_county.to_numpy())
    # a fund held outside its only county (paired assistance from another province) is held by that county in
    # its block, whose regions are the county's subtree and ancestors; its targets keep its scope
    holder = tree.pos(own["region_id"])
    c_own = own["county"].to_numpy()
    inside = np.where(tree.level[holder] >= Level.COUNTY, tree.ancestors[holder, Level.COUNTY] == c_own, tree.ancestors[c_own, tree.level[holder]] == holder)
    own.loc[~inside, "region_id"] = ids[c_own[~inside]]
    emergency = {**{c: funds[c].iloc[0] for c in funds.columns}, "fund_id": EMERGENCY, "name": "emergency", "amount": 1e12,
                 "categories": ANY_CATEGORY, "targets": "", "co_financing": 0.0, "paired": False}  # fmt: skip
    # each county's own funds, its copies of upper funds and its emergency fund, in that order: one table cut in
    # slices (a table built per county: 13.8 s against 2.4 s for 4,000 counties)
    tagged = [
        own,
        copies.assign(county=reach["county"].to_numpy()),
        pd.DataFrame({**{c: [v] * len(counties) for c, v in emergency.items()}, "region_id": list(counties), "county": county_pos}),
    ]
    rows = pd.concat(tagged, ignore_index=True)
    rank = pd.Index(county_pos).get_indexer(rows["county"].to_numpy())
    part = np.repeat(np.arange(len(tagged)), [len(t) for t in tagged])
    mine = np.flatnonzero(rank >= 0)
    rows = rows.drop(columns=["county"]).iloc[mine[np.lexsort((part[mine], rank[mine]))]]
    block_funds = cut_rows(rows, np.bincount(rank[mine], minlength=len(counties)))
    upper = pd.DataFrame({"fund_id": funds["fund_id"].to_numpy()[is_upper], "amount": funds["amount"].to_numpy(dtype=float)[is_upper]})
    pairs = pd.DataFrame({"fund_id": funds["fund_id"].to_numpy()[reach["fund"]], "county": ids[reach["county"]], "pair": reach["pair"].to_numpy()})
    return Blocks(list(counties), np.asarray(households, dtype=float), block_funds, upper.reset_index(drop=True), pairs)


def split_by_county(instance: Instance) -> tuple[Blocks, list[Instance]]:
    """The blocks of an instance held in memory, and one instance per county with households: the county
    subtree and its ancestors, its households, projects and helpers, and the block's funds."""
    tree = instance.tree
    hh_county = pd.Series(tree.ancestors[tree.pos(instance.households["village_id"]), Level.COUNTY], index=instance.households.index)
    sizes = hh_county.value_counts().sort_index()
    counties = [str(c) for c in tree.ids.to_numpy()[sizes.index.to_numpy()]]
    order = np.argsort(counties, kind="stable")
    counties, positions = [counties[i] for i in order], sizes.index.to_numpy()[order]
    blocks = plan_blocks(instance.funds, tree, counties, sizes.to_numpy()[order])
    ids = tree.ids.to_numpy()
    project_county = tree.ancestors[tree.pos(instance.projects["village_id"]), Level.COUNTY]
    helper_county = tree.ancestors[tree.pos(instance.helpers["home_region_id"]), Level.COUNTY]
    instances = []
    for c, funds in zip(positions, blocks.funds):
        keep = (tree.ancestors[:, Level.COUNTY] == c) | np.isin(np.arange(len(ids)), tree.ancestors[c, : Level.COUNTY])
        instances.append(
            instance.replace(
                regions=instance.regions[keep],
                households=instance.households[(hh_county == c).to_numpy()],
                projects=instance.projects[project_county == c],
                funds=funds,
                helpers=instance.helpers[helper_county == c],
            )
        )
    return blocks, instances


def _county_keys(scenario: Scenario, blocks: Blocks, pieces: list[Instance]) -> dict[str, str]:
    """What each county's model is built from, hashed: the scenario's settings that shape a county model, the
    county's tables, and its funds with the upper funds' amounts left out (the master sets those every round). A
    run that keeps its models reuses, in the next run, those whose key is the same (a what-if on upper money)."""
    shaping = scenario.model_dump(mode="json", exclude={"name", "description", "data_edits", "nightly", "limits", "solver"})
    base = hashlib.sha256(json.dumps([shaping, scenario.solver.name], sort_keys=True).encode()).digest()
    upper = blocks.upper["fund_id"]
    keys = {}
    for county, piece in zip(blocks.counties, pieces):
        funds = piece.funds.assign(amount=piece.funds["amount"].where(~piece.funds["fund_id"].isin(upper), 0.0))
        digest = hashlib.sha256(base)
        for table in (piece.households, piece.regions, piece.measures, piece.projects, piece.helpers, funds):
            digest.update(json.dumps([str(c) for c in table.columns]).encode())
            digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
        keys[county] = digest.hexdigest()
    return keys


@dataclass(frozen=True)
class Stored:
    """Where a worker reads a county's rows: a partitioned folder, or a registry database's URL; with the block's funds
    and the county's region rows (its subtree and ancestors), which the driver holds."""

    where: str
    funds: pd.DataFrame
    regions: pd.DataFrame | None = None  # a partitioned county without them reads them from the folder
    night: bool = False  # a database's, read by the nightly job: with its committed households and published plans
    version: int | None = None  # the nightly job's: the published version whose plans the churn cap keeps
    from_year: int | None = None  # a multi-year night's: the year it re-plans from (what the version started before is kept)
    withheld: Withheld | None = None  # a multi-year night's: money spent outside the plans, of the county's own funds
    helpers: pd.DataFrame | None = None  # a registry's, one year: the county's shares of the helpers homed above it


@dataclass(frozen=True)
class StoredChurn:
    """The churn cap of a night whose counties the workers read from the registry (:class:`Stored`): the published
    version, its open households' uncommitted plans counted by county (the driver holds no plan), and the cap."""

    version: int | None
    planned: pd.Series  # county -> households planned in ``version``, uncommitted and still open
    max_changes: int
    read_flows: Callable[[], pd.DataFrame | None] | None = None  # reads ``version``'s money: where the master starts
    from_year: int | None = None  # a multi-year night's: the workers also read the starts and builds it keeps


@dataclass
class _County:
    """A county's model, kept by the worker that solves it (built once, re-solved warm every round)."""

    instance: Instance | None  # None between rounds in lean mode (one year): the final task reads it back
    plans: Plans | None
    model: LinearModel
    index: ModelIndex
    fund_rows: pd.Series  # fund_id -> row of its fund constraint (multi-year: of its first year; one row per year)
    emergency_cols: np.ndarray
    backend: Any
    my: MultiYear | None = None  # the multi-year model's columns, when the scenario has years
    kept_cols: np.ndarray | None = None  # under a churn cap: the columns of its households' published plans still offered
    kept: int = 0  # under a churn cap: how many households can keep their published plan (multi-year: two columns with monitoring)
    fixed: Kept | None = None  # a multi-year re-plan's kept starts and builds, checked in the county's result
    previous: pd.DataFrame | None = None  # under a churn cap: the published plans (multi-year: whose changes its result counts; one year: their helpers)
    key: str | None = None  # in a run that keeps its models: what the model is built from; a later run with the same key reuses it

    @property
    def years(self) -> int:
        return 1 if self.my is None else len(self.my.years)

    def changes_at(self, fund_ids: list[str]) -> int | None:
        """Where the churn cap's changes sit in the money arrays (their first year), or None without a cap."""
        return fund_ids.index(CHANGES) * self.years if self.kept_cols is not None and CHANGES in fund_ids else None

    def money_rows(self, fund_ids: list[str]) -> np.ndarray:
        """The budget rows of ``fund_ids``, fund by fund and year by year (the order of the money arrays)."""
        return (self.fund_rows.loc[fund_ids].to_numpy()[:, None] + np.arange(self.years)[None, :]).ravel()

    def money_offsets(self, fund_ids: list[str]) -> np.ndarray:
        """What each money row counts beside the money (model units): the churn row, -sum of the kept plans'
        columns <= changes - kept, counts the changes of plan as the kept plans not chosen."""
        out = np.zeros(len(fund_ids) * self.years)
        at = self.changes_at(fund_ids)
        if at is not None:
            out[at] = -float(self.kept)
        return out


@dataclass(frozen=True)
class Replanned:
    """A county's block held in memory with what a re-plan keeps of a published version: its households' published
    plans under the churn cap (``previous``: household_id, plan, and year with years) and, with years, the starts
    and builds kept (``kept``) and the money withheld from the county's own funds (``withheld``)."""

    instance: Instance
    previous: pd.DataFrame | None = None
    kept: Kept | None = None
    withheld: Withheld | None = None


@dataclass(frozen=True)
class _Spilled:
    """A lean county between rounds: its model's arrays on the worker's local disk (``path``) and, for its final
    task, its instance, plans and model index beside them (``inputs``; None when they could not be written), the rest
    of its slim block (flows, rows, LP bases) here. See :mod:`optimizer.spill`."""

    path: Path
    inputs: Path | None
    block: _County

    def unlink(self) -> None:
        self.path.unlink(missing_ok=True)
        if self.inputs is not None:
            self.inputs.unlink(missing_ok=True)


def _clear_cache() -> None:
    """Forget the county models this worker process holds (run on every worker by the driver)."""
    global _SPILL_DIR
    _CACHE.clear()
    _ROUNDED.clear()
    _KEYS.clear()
    if _SPILL_DIR is not None:
        shutil.rmtree(_SPILL_DIR, ignore_errors=True)
        _SPILL_DIR = None


async def _last_heartbeat(dask_worker: Any) -> None:
    """Stop this worker's heartbeats and send one last, answered, before our local cluster closes (run on every
    worker by :func:`close_local_cluster`): a heartbeat still waiting for a busy scheduler when its worker closes its connections
    was logged with a ``CommClosedError`` traceback (10M and 30M runs; 6 of 14 closes of a cluster holding 12,000
    scattered keys, none of 20 with this)."""
    dask_worker.periodic_callbacks["heartbeat"].stop()
    await dask_worker.heartbeat()


def _keep_counties(keys: dict[str, str]) -> int:
    """Keep only the county models this worker built, in an earlier run, from what ``keys`` (county -> key) says
    this run's counties are built from; later builds are stamped with those keys. Returns how many it kept."""
    _ROUNDED.clear()
    for county, kept in list(_CACHE.items()):
        block = kept.block if isinstance(kept, _Spilled) else kept
        if block.key is None or keys.get(county) != block.key:
            _forget(county)
    _KEYS.clear()
    _KEYS.update(keys)
    return len(_CACHE)


def _forget(county: str) -> _County | _Spilled | None:
    """Drop what this worker keeps of ``county`` (a lean county's file too) and return it."""
    kept = _CACHE.pop(county, None)
    _ROUNDED.pop(county, None)
    if isinstance(kept, _Spilled):
        kept.unlink()
    return kept


def _county(county: str, source: Instance | Replanned | Stored, scenario: Scenario, fund_ids: list[str], lean: bool = False) -> _County:
    """The county's model; ``source`` is its block instance (with its published plans under a churn cap), or
    where its rows are stored (:class:`Stored`), read here on the worker. ``fund_ids`` are the upper funds the master
    gives it money of (multi-year: year by year; the master carries it over, and so may the county under full
    carry-over). With ``lean``, a one-year county keeps only its model and flows between rounds, on the worker's
    local disk with its instance and plans for its final task."""
    kept = _CACHE.get(county)
    if kept is None:
        block = _build(county, source, scenario, fund_ids)
        _CACHE[county] = _spill(county, block) if lean and block.my is None else block
        return block
    return replace(kept.block, model=read_model(kept.path, kept.block.model)) if isinstance(kept, _Spilled) else kept


def _unspilled(kept: _Spilled, county: str, source: Instance | Replanned | Stored, scenario: Scenario, fund_ids: list[str]) -> _County:
    """A lean county's whole block again for its final task: read back from its worker's disk (reading, validating
    and planning the county again took 0.16 s a county of the 1M instance), else built from its data."""
    if kept.inputs is None:
        return replace(_build(county, source, scenario, fund_ids), backend=kept.block.backend)
    instance, plans, index = read_inputs(kept.inputs, scenario.plans.max_measures)
    return replace(kept.block, instance=instance, plans=plans, index=index, model=read_model(kept.path, kept.block.model))


def _whole(block: _County) -> tuple[Instance, Plans]:
    """The instance and plans of a county block that was not slimmed (its final task rebuilds a slim one)."""
    if block.instance is None or block.plans is None:
        raise RuntimeError("a slim county block reached its final task without being rebuilt")
    return block.instance, block.plans


def _spill(county: str, block: _County) -> _Spilled:
    """What a lean one-year county's rounds need: the model's arrays written to this worker's local disk, the
    flows' funds (priced rounds), rows and solver's bases kept in memory: a worker's memory then grows less with its
    counties (1.86 MB a county at 2,500 households against 4.40 MB kept in memory, measured in one process). Its
    instance, plans and index go to that disk too, for its final task (:func:`optimizer.spill.write_inputs`)."""
    global _SPILL_DIR
    if _SPILL_DIR is None:
        _SPILL_DIR = Path(tempfile.mkdtemp(prefix="optimizer-counties-", dir=_worker_directory()))
    ix = block.index
    slim = {k: _empty_like(getattr(ix, k)) for k in ("plans", "projects", "cells", "funds", "cofin", "links", "counties")}
    # the priced rounds need only the flows' funds, as codes; with the fresh empty tables a worker's resident memory
    # grew 0.25 MB a lean county of 2,500 households, as much as with nothing kept, against 1.06 MB (one process)
    flows = pd.DataFrame({"fund_id": pd.Categorical(ix.flows["fund_id"])})
    index = replace(ix, **slim, flows=flows, household_ids=ix.household_ids[:0].copy(), col_village=ix.col_village[:0].copy())
    path = _SPILL_DIR / f"{county}.npz"
    inputs = path.with_suffix(".arrows")
    assert block.instance is not None and block.plans is not None
    written = write_inputs(inputs, block.instance, block.plans, ix)
    return _Spilled(path, inputs if written else None, replace(block, instance=None, plans=None, index=index, model=write_model(path, block.model)))


def _empty_like(frame: pd.DataFrame) -> pd.DataFrame:
    """An empty frame with ``frame``'s columns and types, sharing no memory with it: an empty slice (even
    copied) of an Arrow-backed column keeps the column's whole buffers alive."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in frame.dtypes.items()})


def _worker_directory() -> str | None:
    """The Dask worker's local directory (removed with the worker), or None outside a worker (the system's)."""
    try:
        from distributed import get_worker

        return str(get_worker().local_directory)
    except (ImportError, ValueError):
        return None


def _read_stored(county: str, source: Stored, households_required: bool = True) -> Instance:
    """A county's rows where ``source`` says (a night's published plans aside): its partitioned files, or its open
    rows of the registry; without ``households_required``, a county without open households reads too."""
    if not is_url(source.where):
        from .partitioned import load_partitioned

        # the driver holds the files' hashes (and, from a run's driver, the county's region rows)
        return load_partitioned(
            source.where, [county], funds=source.funds, regions=source.regions, record_hashes=False, households_required=households_required
        )
    if source.regions is None:
        raise ValueError(f"county {county}: a registry's county is read with its region rows from the driver")
    from .storage import load_registry_county

    return load_registry_county(source.where, county, source.regions, source.funds, source.helpers, households_required=households_required)


def _build(county: str, source: Instance | Replanned | Stored, scenario: Scenario, fund_ids: list[str]) -> _County:
    """Read (or take) the county's instance and build its plans and model (see :func:`_county`)."""
    if isinstance(source, Instance):
        replan = Replanned(source)
    elif isinstance(source, Replanned):
        replan = source
    elif not (is_url(source.where) and source.night):
        replan = Replanned(_read_stored(county, source))
    elif source.regions is None:
        raise ValueError(f"county {county}: a registry's county is read with its region rows from the driver")
    elif source.from_year is not None:
        from .storage import load_registry_replan

        assert scenario.years is not None
        instance, published, built, commitments, paid = load_registry_replan(
            source.where, county, source.regions, source.funds, source.version, source.from_year
        )
        fixed = replace(kept_of(published, built, commitments, source.from_year, scenario.years.first, kept_source(source.version)), paid=paid)
        previous = previous_of(published, instance.households["household_id"], fixed)
        replan = Replanned(instance, previous if len(previous) else None, fixed, source.withheld)
    else:
        from .storage import load_registry_night

        instance, previous = load_registry_night(source.where, county, source.regions, source.funds, source.version, source.helpers)
        replan = Replanned(instance, previous if len(previous) else None)
    instance = replan.instance
    my = None
    if scenario.years is not None:
        kept = replan.kept
        my = build_multiyear(instance, scenario, withheld=replan.withheld, kept=kept)
        if kept is not None:
            my = replace(my, model=fix_kept(my, instance, kept)[0])
        model, index, plans = my.model, my.index, my.plans
    else:
        plans = build_plans(instance, scenario)
        model, index = build_model(instance, scenario, plans)
    T = 1 if my is None else len(my.years)
    ids = instance.funds["fund_id"].to_numpy()
    rows = pd.Series(model.row_blocks["fund"].start + np.arange(len(ids)) * T, index=ids)
    emergency_cols = model.col_blocks["f"].start + np.flatnonzero(index.flows["fund_id"].to_numpy() == EMERGENCY)
    c = model.c.copy()
    c[emergency_cols] = -EMERGENCY_PRICE if model.sense == "max" else EMERGENCY_PRICE
    col_hi = model.col_hi
    if my is not None and fund_ids and scenario.years is not None and scenario.years.carry_over != "full":
        # under a capped rule the master carries the upper funds' money (the cap is national); with full
        # carry-over a county may carry its own share too (cumulative spending stays within the allocations)
        col_hi = col_hi.copy()
        upper = pd.Index(ids).get_indexer(fund_ids)
        col_hi[model.col_blocks["c"].start + (upper[:, None] * T + np.arange(T)[None, :]).ravel()] = 0.0
    model = replace(model, c=c, col_hi=col_hi)
    kept_cols, n_kept = None, 0
    previous = replan.previous
    if previous is not None:  # the churn row, its changes (the right-hand side) given by the master like money
        if my is None:
            kept_cols = kept_plan_columns(model, instance, plans, previous)
            n_kept = len(kept_cols)
        else:
            kept_cols, n_kept, _ = kept_option_columns(model, my, instance, previous)
        # one row a year, as a fund's: the master gives changes in the first year only, the others stay empty
        A = sp.csr_matrix((-np.ones(len(kept_cols)), (np.zeros(len(kept_cols), dtype=np.int64), kept_cols)), shape=(T, model.shape[1]))
        rows[CHANGES] = model.shape[0]
        model = model.with_rows("churn", A, np.full(T, -np.inf), np.concatenate([[-float(n_kept)], np.zeros(T - 1)]))
    if my is not None:
        my = replace(my, model=model)
    # a backend of the county's own keeps its LP: the next round re-solves it warm (only row bounds change)
    backend = get_backend(scenario.solver.name, private=True)
    return _County(
        instance, plans, model, index, rows, emergency_cols, backend, my, kept_cols, n_kept, replan.kept, previous, _KEYS.get(county)
    )


def _with_money(block: _County, fund_ids: list[str], money: np.ndarray) -> LinearModel:
    hi = block.model.row_hi.copy()
    hi[block.money_rows(fund_ids)] = money / MONEY_UNIT + block.money_offsets(fund_ids)
    return replace(block.model, row_hi=hi)


def _with_extra(model: LinearModel, rows: np.ndarray, extra: np.ndarray) -> LinearModel:
    """``model`` with one more column per money row (``rows``): up to ``extra`` (model units) more there, at
    :data:`EXTRA_PRICE` a unit."""
    n, k = model.shape[1], len(rows)
    more = sp.csr_matrix((-np.ones(k), (rows, np.arange(k))), shape=(model.shape[0], k))
    return replace(
        model,
        A=sp.hstack([model.A, more], format="csr"),
        c=np.concatenate([model.c, np.full(k, -EXTRA_PRICE if model.sense == "max" else EXTRA_PRICE)]),
        col_lo=np.concatenate([model.col_lo, np.zeros(k)]),
        col_hi=np.concatenate([model.col_hi, extra]),
        integer=np.concatenate([model.integer, np.zeros(k, dtype=bool)]),
        col_blocks={**model.col_blocks, "extra": slice(n, n + k)},
    )


def county_extra(county: str, source: Any, scenario: Scenario, fund_ids: list[str], money: np.ndarray, extra: np.ndarray) -> np.ndarray | None:
    """How much more than ``money`` of each upper fund and year (at most ``extra``, yuan; changes of plan under a
    churn cap) a multi-year county short after its repair needs to pay its floors: its rounding with that much more
    offered at a price above any plan's value per money, so that it takes only what its floors need. None when it
    is short even so. Built cold (the county's final task let its model go)."""
    block = _build(county, source, scenario, fund_ids)
    assert block.my is not None and block.instance is not None
    wide = _with_extra(_with_money(block, fund_ids, money), block.money_rows(fund_ids), extra / MONEY_UNIT)
    quick = scenario.with_overrides({"solver.time_limit": min(scenario.solver.time_limit, COUNTY_MIP_SECONDS)})
    try:
        sol = optimize_multiyear(
            wide, replace(block.my, model=wide), block.instance, quick, lambda _msg: None, shut=block.emergency_cols, whole=False, rounding=_rounding(scenario)
        )
    except NoSolutionError:
        return None
    if float(sol.x[block.emergency_cols].sum() * MONEY_UNIT) > EMERGENCY_TOL:
        return None
    return np.asarray(sol.x[wide.col_blocks["extra"]] * MONEY_UNIT)


def county_kept(county: str, source: Any, scenario: Scenario, fund_ids: list[str], lean: bool = False) -> int:
    """How many of the county's published plans are still offered (built here, the block stays for the rounds):
    the others are forced changes, which count against the churn cap before the master shares the rest."""
    block = _county(county, source, scenario, fund_ids, lean)
    return block.kept


def county_lp(
    county: str, source: Any, scenario: Scenario, fund_ids: list[str], money: np.ndarray, lean: bool = False, lazy: bool = True
) -> tuple[float, np.ndarray, float]:
    """The county's LP value with ``money`` (yuan) of each upper fund (multi-year: of each fund and year), the
    value of one more model unit of each and the emergency money (yuan) the LP needs (``lean``: between rounds the
    worker keeps the LP's basis, not the solver's copy of it; ``lazy``: :data:`LAZY_ROWS` left free until violated)."""
    block = _county(county, source, scenario, fund_ids, lean)
    # a one-year county's first LP is solved without presolve (19% less HiGHS time on 20 counties of the 1M instance;
    # the multi-year county LPs gained from presolve, 6%), from the crash basis of the monolithic LP: the 1M run's
    # first round 67 s against 80 s, 0.98x end to end (its county MIPs took 8% more work; bench/README.md). A large
    # multi-year county's first LP goes by PDLP and a crossover to the simplex (PDLP_FROM_ROWS). The later re-solves
    # start from a basis
    one_year = block.my is None
    model = _with_money(block, fund_ids, money).relaxed()
    rows = _lazy_rows(block, model, lazy)
    options = SolveOptions(
        time_limit=scenario.solver.time_limit, threads=scenario.solver.threads, duals=True, keep=True, warm=True, lean=lean,
        presolve=not one_year, crash=one_year, lazy=rows, algorithm="pdlp" if not one_year and _rows_held(model, rows) >= PDLP_FROM_ROWS else "auto",
    )
    out = block.backend.solve(model, options)
    if out.status != Status.OPTIMAL or out.duals is None or out.x is None:
        raise NoSolutionError(f"county {county}: LP {out.status.value} ({out.message})")
    return float(out.objective), np.abs(out.duals[block.money_rows(fund_ids)]), float(out.x[block.emergency_cols].sum() * MONEY_UNIT)


def _lazy_rows(block: _County, model: LinearModel, lazy: bool) -> str | None:
    """The row block a county's LPs leave free until violated (unless not ``lazy``: the driver's choice): a multi-year
    county's project links (most of its rows, few of them binding: the LP of 4,286 households took 0.71x the time, 951
    of its 17,212 links bounded; bench notes). Whole plans need none of them (the capacity rows imply them when
    projects are whole)."""
    return LAZY_ROWS if lazy and block.my is not None and LAZY_ROWS in model.row_blocks else None


def _rows_held(model: LinearModel, lazy: str | None) -> int:
    """The rows of ``model`` its LP starts with, ``lazy``'s left out."""
    left = model.row_blocks[lazy] if lazy is not None else slice(0, 0)
    return int(model.shape[0] - (left.stop - left.start))


def county_round(county: str, source: Any, scenario: Scenario, fund_ids: list[str], money: np.ndarray, lean: bool = False) -> tuple[float, float, float]:
    """A one-year county's first rounding with ``money``: only its households with a fractional plan are rounded
    (relax-and-fix's narrowest try, about a tenth of a second; widening it around their villages took 0.3-2.1 s
    where it was needed, 19 of 65 counties of the 1M instance). Returns the LP value, the rounding's value and the
    emergency money (yuan) it needs; the worker keeps the rounding for the county's final task, which widens it only
    when asked (:func:`_to_widen`: where the run's gap needs it)."""
    from .solve import optimize

    kept = _CACHE.get(county)
    block = _unspilled(kept, county, source, scenario, fund_ids) if isinstance(kept, _Spilled) else _county(county, source, scenario, fund_ids, lean)
    instance, _ = _whole(block)
    model = _with_money(block, fund_ids, money)
    sol = optimize(model, block.index, instance, scenario, lambda _msg: None, warm=True, backend=block.backend, narrow=True, lean=lean)
    _ROUNDED[county] = _Rounded.of(money, sol)
    clean, emergency = _without_emergency(block, model, sol)
    return float(sol.lp_bound), clean.objective, emergency


def _without_emergency(block: _County, model: LinearModel, sol: Solution) -> tuple[Solution, float]:
    """``sol`` with the county's emergency money taken out (its penalty is not value) and valued again, and the
    emergency money (yuan) it used: at most EMERGENCY_TOL of it is rounded away, more makes the county short. Its
    bound and gap follow the new value (the gap the solver gave, of the value with the penalty, was the verifier's
    violation: above what the county's objective and bound leave)."""
    from .solve import relative_gap

    x = sol.x.copy()
    x[block.emergency_cols] = 0.0
    objective = float(model.c @ x)
    bound = max(sol.bound, objective) if model.sense == "max" else min(sol.bound, objective)
    clean = replace(sol, x=x, objective=objective, bound=bound, gap=relative_gap(model.sense, objective, bound))
    return clean, float(sol.x[block.emergency_cols].sum() * MONEY_UNIT)


def county_priced(
    county: str, source: Any, scenario: Scenario, fund_ids: list[str], price: np.ndarray, cap: np.ndarray, lean: bool = False, lazy: bool = True
) -> tuple[float, float, np.ndarray]:
    """The county's term of the Lagrangian bound: max over its upper-fund money a <= ``cap`` (yuan) of its LP
    value minus ``price`` (value per yuan) times a; with the LP value and the money a (yuan) of the point that
    attains it (a point of the county's value function the master can mix)."""
    block = _county(county, source, scenario, fund_ids, lean)
    model = _with_money(block, fund_ids, cap)
    c = model.c.copy()
    flows = block.index.flows
    T = block.years
    key = pd.Index(fund_ids).get_indexer(flows["fund_id"]) * T + (flows["year"].to_numpy() - int(block.my.years[0]) if block.my is not None else 0)
    paying = np.flatnonzero(pd.Index(fund_ids).get_indexer(flows["fund_id"]) >= 0)
    per_unit = np.zeros(len(flows))
    per_unit[paying] = price[key[paying]] * MONEY_UNIT
    sign = 1.0 if model.sense == "max" else -1.0
    c[model.col_blocks["f"]] -= sign * per_unit
    constant = 0.0
    at = block.changes_at(fund_ids)
    if at is not None and block.kept_cols is not None:  # the changes, kept - sum of the kept columns, at their price
        change = price[at] * MONEY_UNIT
        c[block.kept_cols] += sign * change
        constant = -sign * change * block.kept
    # the rounds' LP keeps its basis
    options = SolveOptions(
        time_limit=scenario.solver.time_limit, threads=scenario.solver.threads, keep=True, warm=True, slot="priced", lean=lean,
        lazy=_lazy_rows(block, model, lazy),
    )
    out = block.backend.solve(replace(model, c=c).relaxed(), options)
    if out.status != Status.OPTIMAL or out.x is None:
        raise NoSolutionError(f"county {county}: priced LP {out.status.value} ({out.message})")
    used = np.maximum(model.A[block.money_rows(fund_ids)] @ out.x - block.money_offsets(fund_ids), 0.0) * MONEY_UNIT
    return float(out.objective) + constant, float(model.c @ out.x), used


def county_final(
    county: str,
    source: Any,
    scenario: Scenario,
    fund_ids: list[str],
    money: np.ndarray,
    helpers: bool,
    last: bool = True,
    thorough: bool = False,
    parts: str | None = None,
    widen: bool = True,
) -> dict[str, Any]:
    """The county's allocation with its final money (relax-and-fix), as result tables checked by the verifier
    against the county's inputs with that money; only ``emergency`` and ``used`` when it needed emergency money
    (and ``seconds``, the task's time on its worker, with ``full_mip`` when the MIP ran on the whole county).
    Unless ``last``, the worker keeps the county's model for more rounds. A multi-year county rounds only the
    households its LP left fractional unless ``thorough`` (see :func:`_county_final_years`). A one-year county
    also returns its households' ``sums`` (what the manifest adds up); with ``parts`` (a folder the driver reads
    too) it writes its households table there, helpers included, and returns the file (``part``), not the table.
    Unless ``widen``, a one-year county keeps its rounding by :func:`county_round` with that money, if its worker has it."""
    t0 = time.perf_counter()
    rounded = _ROUNDED.pop(county, None)
    narrow = None if widen or rounded is None or not np.array_equal(rounded.money, money) else rounded.whole()
    kept = _CACHE.get(county)
    try:  # kept lean: the same block again, its LP re-solved from the kept bases
        if isinstance(kept, _Spilled):
            block = _unspilled(kept, county, source, scenario, fund_ids)
        else:
            block = kept if kept is not None else _build(county, source, scenario, fund_ids)
    finally:
        if last:  # the county's last task (a repair, or Dask's retry, builds it again): its model and kept LP go with it
            _forget(county)
    if block.my is not None:
        out = _county_final_years(county, block, scenario, fund_ids, money, thorough, parts)
    else:
        out = _county_final_year(county, block, scenario, fund_ids, money, helpers, parts, narrow)
    if last:
        del block, kept
        release_freed_memory()  # else each dropped county leaves the worker's heap fragmented (11.3–11.5 MB a lean county at 1M)
    return {**out, "seconds": time.perf_counter() - t0}


def _county_final_year(
    county: str, block: _County, scenario: Scenario, fund_ids: list[str], money: np.ndarray, helpers: bool, parts: str | None, narrow: Solution | None
) -> dict[str, Any]:
    """:func:`county_final` of a one-year county (``narrow``: its rounding with this money, kept as it is)."""
    from .partitioned import write_part
    from .result import build_result
    from .solve import optimize, shadow_prices
    from .verify import verify

    instance, plans = _whole(block)
    model = _with_money(block, fund_ids, money)
    sol = narrow or optimize(model, block.index, instance, scenario, lambda _msg: None, warm=True, backend=block.backend)  # from the last round's LP
    used = _used(block, model, sol.x, fund_ids)
    sol, emergency = _without_emergency(block, model, sol)  # at most EMERGENCY_TOL yuan, well within the verifier's tolerance
    if emergency > EMERGENCY_TOL:
        return {"emergency": emergency, "used": used, "full_mip": sol.used_full_mip, "stopped": sol.stopped}
    x, objective = sol.x, sol.objective
    # the county's shadow prices at its money, for its regions' marginal values (the national table takes each
    # region's best over its counties); its funds' own shadow prices are not the national ones of the upper funds
    duals = shadow_prices(model, x, scenario, backend=block.backend)
    held = instance.funds.copy()
    amount = pd.Series(money, index=fund_ids).reindex(held["fund_id"])
    held["amount"] = np.where(amount.notna(), amount.fillna(0.0), np.where(held["fund_id"] == EMERGENCY, 0.0, held["amount"]))
    own = replace(instance, funds=held)  # this county with its money (only amounts changed: no re-validation)
    result = build_result(own, scenario, plans, block.index, model, sol, duals, backend_version="", timings={})
    assignment = None
    if helpers:
        assignment = assign_helpers(instance, result.households, block.previous)
        checked = replace(result, tables=dict(result.tables))
        checked.attach_helpers(assignment)
        result = checked
    verify(result, own, scenario)
    size = household_sizes(instance, result.households)
    out: dict[str, Any] = {"sums": household_sums(result.households, size, scenario.poverty.line)}
    tables = {k: result.tables[k] for k in ("projects", "flows", "regions", "marginal")}
    tables["funds"] = result.tables["funds"].loc[result.tables["funds"]["fund_id"] != EMERGENCY, ["fund_id", "shadow_price"]]
    if parts is not None:
        # a name of its own: a reopening's or a repair's task writes beside the part it may replace
        out["part"] = write_part(result.households, Path(parts) / f"{county}-{uuid.uuid4().hex}.parquet")
        if assignment is not None:
            assignment = replace(assignment, households=_empty_like(assignment.households))
    else:
        tables["households"] = result.households.drop(columns=["helper_id", "need", "match_score"], errors="ignore")
    tables["regions"] = tables["regions"].drop(columns=["first_secretary_id"], errors="ignore")
    tables["flows"] = tables["flows"][tables["flows"]["fund_id"] != EMERGENCY]
    return {**out, "emergency": 0.0, "used": used, "tables": tables, "assignment": assignment, "objective": objective, "full_mip": sol.used_full_mip,
            "stopped": sol.stopped, "plans": len(plans.table), "columns": model.shape[1], "rows": model.shape[0], "nonzeros": model.A.nnz}  # fmt: skip


def _used(block: _County, model: LinearModel, x: np.ndarray, fund_ids: list[str]) -> np.ndarray:
    """Yuan the county spends of each upper fund (multi-year: of each fund and year, fund by fund)."""
    flows = block.index.flows
    spent = pd.Series(x[model.col_blocks["f"]] * MONEY_UNIT)
    if block.my is None:
        used = spent.groupby(flows["fund_id"].to_numpy()).sum().reindex(fund_ids).fillna(0.0).to_numpy(copy=True)
    else:
        by = spent.groupby([flows["fund_id"].to_numpy(), flows["year"].to_numpy()]).sum()
        full = pd.MultiIndex.from_arrays([np.repeat(fund_ids, block.years), np.tile(block.my.years, len(fund_ids))])
        used = by.reindex(full).fillna(0.0).to_numpy(copy=True)
    at = block.changes_at(fund_ids)
    if at is not None and block.kept_cols is not None:
        used[at] = max(block.kept - float(x[block.kept_cols].sum()), 0.0) * MONEY_UNIT
    return used


def _county_final_years(
    county: str, block: _County, scenario: Scenario, fund_ids: list[str], money: np.ndarray, thorough: bool, parts: str | None = None
) -> dict[str, Any]:
    """:func:`county_final` of a multi-year county: its MIP with the yearly money of the upper funds, its result
    tables checked by :func:`verify_multiyear` against that money (with ``parts``, its households table written
    there, and its ``totals`` returned). First only the households with a fractional
    option are rounded (the rest kept at the LP's choice); when no such rounding fits the money, the county comes
    back short and the repair gives it money other counties left (:func:`_repair`). With ``thorough`` (a repair
    that did not pay it), the MIP over the whole county with the emergency money shut, then if that finds nothing the
    general relax-and-fix and MIP, in full time."""
    from .partitioned import write_part

    instance, plans = _whole(block)
    assert block.my is not None
    model = _with_money(block, fund_ids, money)
    my = replace(block.my, model=model)
    quick = scenario.with_overrides({"solver.time_limit": min(scenario.solver.time_limit, COUNTY_MIP_SECONDS)})
    sol = None
    rounding = _rounding(scenario)
    if not thorough:
        with contextlib.suppress(NoSolutionError):  # no whole-plan rounding within the time; from the last round's LP
            sol = optimize_multiyear(
                model, my, instance, quick, lambda _msg: None, backend=block.backend, warm=True, shut=block.emergency_cols, rounding=rounding
            )
    full_mip = sol is None
    if sol is None:  # within the quick time unless thorough (over a large county, 2,500 households: 440 s and more on a slow day)
        sol = _county_mip(model, block.emergency_cols, scenario if thorough else quick)
    if sol is None:
        sol = optimize_multiyear(model, my, instance, scenario, lambda _msg: None)
    full_mip = full_mip or sol.used_full_mip
    used = _used(block, model, sol.x, fund_ids)
    sol, emergency = _without_emergency(block, model, sol)
    if emergency > EMERGENCY_TOL:
        return {"emergency": emergency, "used": used, "full_mip": full_mip, "stopped": sol.stopped}
    objective = sol.objective
    ids = instance.funds["fund_id"].to_numpy()
    approp = my.appropriation.copy()
    approp[pd.Index(ids).get_indexer(fund_ids)] = money.reshape(len(fund_ids), block.years) / MONEY_UNIT
    approp[ids == EMERGENCY] = 0.0
    result = multiyear_result(instance, scenario, replace(my, appropriation=approp), model, sol)
    bad = verify_multiyear(result, instance, scenario, appropriation=approp * MONEY_UNIT, from_year=None if block.fixed is None else block.fixed.from_year)
    bad += [] if block.fixed is None else kept_violations(result, block.fixed)
    if bad:
        raise VerificationError([f"county {county}: {b}" for b in bad])
    tables = {k: result.tables[k] for k in ("households", "projects", "flows", "counties")}
    tables["flows"] = tables["flows"][tables["flows"]["fund_id"] != EMERGENCY]
    out: dict[str, Any] = {"totals": household_totals(tables["households"])}
    if parts is not None:
        out["part"] = write_part(tables.pop("households"), Path(parts) / f"{county}-{uuid.uuid4().hex}.parquet")
    return {**out, "emergency": 0.0, "used": used, "tables": tables, "objective": objective, "lp_bound": sol.lp_bound, "full_mip": full_mip,
            "stopped": sol.stopped, "plans": len(plans.table), "columns": model.shape[1], "rows": model.shape[0], "nonzeros": model.A.nnz,
            "options": len(my.options), "kept_counts": None if block.fixed is None else kept_counts(block.fixed, instance),
            "changed": 0 if block.previous is None else churn_changes(result, block.previous), "rounding": rounding.version()}  # fmt: skip


def _rounding(scenario: Scenario) -> Backend:
    """The backend of a multi-year county's roundings: the scenario's ``solver.rounding``, else :data:`ROUNDING_SOLVER`
    where its solver is HiGHS and it can run here (else HiGHS, said once), else its solver."""
    opts = scenario.solver
    if opts.rounding is not None or opts.name != "highs":
        return get_backend(opts.rounding or opts.name)
    try:
        return get_backend(ROUNDING_SOLVER)
    except SolverUnavailableError as err:
        _say_once(f"county roundings by HiGHS: {err}")
        return get_backend(opts.name)


@functools.cache
def _say_once(message: str) -> None:
    log.warning(message)


def _county_mip(model: LinearModel, emergency_cols: np.ndarray, scenario: Scenario) -> Solution | None:
    """The MIP over the whole county with its emergency money shut, or None when it finds no solution in the
    scenario's time: where rounding only the fractional households did not fit the county's money, HiGHS's own
    search over every household with the money as hard limits does best (a county of 344 households, 3 years: 17.7 s
    to 213.57 within the 0.5% gap, against 70.9 s to 213.48 for relax-and-fix and a MIP with the emergency money open
    at its penalty, which keeps the MIP's heuristics busy)."""
    from .solve import Solution, _clean, relative_gap, solver_options

    hi = model.col_hi.copy()
    hi[emergency_cols] = 0.0
    t = time.perf_counter()
    out = get_backend(scenario.solver.name).solve(model.with_bounds(model.col_lo, hi), solver_options(scenario.solver))
    if not out.status.has_solution or out.x is None:
        return None
    x = _clean(out.x, model.integer)
    objective = float(model.c @ x)
    g = relative_gap(model.sense, objective, out.bound)
    return Solution(x, out.status, objective, out.bound, out.bound, g, 0.0, time.perf_counter() - t, True, out.status.stopped)


class Allocation(NamedTuple):
    """What the master's rounds return: each county's money per upper fund (aligned with its pairs; multi-year: per
    pair and year, pair by pair), the best bound, the rounds' history and the prices (value per yuan, per upper fund
    and year) of the Lagrangian bound that gave the best bound (None when no priced round set it)."""

    alloc: list[np.ndarray]
    bound: float
    history: pd.DataFrame
    prices: np.ndarray | None


def master_allocate(
    blocks: Blocks,
    scenario: Scenario,
    run_counties: Callable[[str, list[np.ndarray]], list[Any]],
    *,
    tol: float,
    max_rounds: int,
    say: Callable[[str], None],
    settle: Callable[[list[np.ndarray], float, float], float | None] | None = None,
    start: np.ndarray | None = None,
    held: np.ndarray | None = None,
    kept_years: int = 0,
) -> Allocation:
    """Kelley's cutting planes over the counties' LP value functions, with a Lagrangian bound every few rounds
    (:class:`Allocation`). With years, the master holds every upper fund's yearly
    appropriation and carries its unspent money forward under the scenario's rule. When the rounds close,
    ``settle(allocation, bound, its value)`` may ask for more rounds down to a smaller tolerance (it returns it).
    ``start`` (yuan per pair and year) is where a re-plan starts: what the earlier plan gave each county; its first
    ``kept_years`` years (a re-plan's kept years, whose decisions that money paid) stay there in every step where
    the fund-year still holds it (the bound's master and the prices are free), unless the best allocation still
    leaves counties short after :data:`FREE_KEPT_YEARS_AFTER` rounds. ``held`` (yuan per upper fund and
    year) is kept out of the allocation."""
    pairs = blocks.pairs
    n_pairs, n_c = len(pairs), len(blocks.counties)
    county_pos = pd.Index(blocks.counties).get_indexer(pairs["county"])
    fund_pos = blocks.fund_pos()
    yrs = scenario.years
    approp = _upper_yearly(blocks, scenario)  # upper funds x years
    if held is not None:
        approp = left_after(approp, held)
    n_up, T = approp.shape
    carry_hi = np.zeros_like(approp) if yrs is None else carry_limits(yrs, approp)
    carry_hi[(blocks.upper["fund_id"] == CHANGES).to_numpy()] = 0.0
    n_a = n_pairs * T
    pair_year = (np.arange(n_pairs)[:, None] * T + np.arange(T)[None, :]).ravel()
    fund_year = (fund_pos[:, None] * T + np.arange(T)[None, :]).ravel()  # per money column: its fund-year row
    of_county = [pair_year.reshape(n_pairs, T)[idx].ravel() for idx in blocks.county_pairs()]
    # start: every upper fund's yearly money split among the counties it may reach in proportion to their poor households
    share = blocks.shares(blocks.households[county_pos])
    if start is None:
        given, a = None, (approp[fund_pos] * share[:, None]).ravel()
    else:
        given = _given(start, approp, fund_pos)
        a = _from_start(start, given, approp, fund_pos, share).ravel()
    pinned = _pinned_years(given, approp, fund_pos, kept_years)
    a_start = a.copy()
    cuts: list[tuple[int, np.ndarray, float]] = []  # (county, slope over its own money columns of_county[c], intercept)
    prices = None  # of the Lagrangian bound that gave the best bound
    points: list[tuple[int, np.ndarray, float]] = []  # (county, its money at an evaluated point, its LP value there)
    best = (-np.inf, a.copy())
    best_short = 0.0  # emergency money (yuan) the counties' LPs need at the best allocation
    shorts: list[float] = []  # best_short after each round
    mixed = (-np.inf, a.copy())  # the best mix of the evaluated points (never below best)
    # multi-year: a mixed allocation's county roundings took longer (100k: 380.4 s of work against 225.2 s, three
    # counties falling back to a MIP over the whole county) for a mix worth 0.005% more than the best round's
    mixing = yrs is None
    history = []
    backend = get_backend(scenario.solver.name)
    bound = np.inf
    first_step = INITIAL_RADIUS if yrs is None else INITIAL_RADIUS_YEARS
    radius = first_step * np.repeat(a.reshape(n_pairs, T).mean(axis=1), T)  # trust region around the best allocation
    expected = -np.inf  # what the master predicted for the point being evaluated
    ceiling = STALL_SHARE * scenario.solver.gap  # a stalled run may stop here, leaving the rest for the rounding
    A_money, A_carry = _fund_year_rows(fund_year, n_up, T)
    A_fund = sp.hstack([A_money, sp.csr_matrix((n_up * T, n_c)), A_carry])
    for r in range(1, max_rounds + 1):
        t = time.perf_counter()
        results = run_counties("lp", [a[sel] for sel in of_county])
        total, short = 0.0, 0.0
        for c, (value, slope, emergency) in enumerate(results):  # noqa: B007
            cuts.append((c, slope, value - float(slope @ a[of_county[c]]) / MONEY_UNIT))
            points.append((c, a[of_county[c]], value))
            total += value
            short += emergency if emergency > EMERGENCY_TOL else 0.0
        if total > best[0] + 1e-9:
            if r > 1 and total - best[0] >= 0.5 * (expected - best[0]):
                radius *= 2.0  # the model predicted well: a serious step, widen
            best = (total, a.copy())
            best_short = short
        elif r > 1:
            radius *= 0.5  # a null step: the new cuts stay, the region shrinks
        # master: max sum theta_c  s.t.  theta_c - slope.a <= intercept (every cut), the fund-year rows; its money in
        # model units, as the counties' slopes (in yuan, the 30M master's rows spanned 1e-5 to 4e10 and HiGHS took
        # minutes a round)
        n_cuts = len(cuts)
        cut_c = np.array([c for c, _, _ in cuts])
        cols = [of_county[c] for c in cut_c]
        slopes = sp.csr_matrix(
            (np.concatenate([s for _, s, _ in cuts]), (np.repeat(np.arange(n_cuts), [len(x) for x in cols]), np.concatenate(cols))), shape=(n_cuts, n_a)
        )
        A_cut = sp.hstack([-slopes, sp.csr_matrix((np.ones(n_cuts), (np.arange(n_cuts), cut_c)), shape=(n_cuts, n_c)), sp.csr_matrix((n_cuts, n_up * T))])
        n_cols = n_a + n_c + n_up * T
        master = LinearModel(
            sense="max",
            c=np.concatenate([np.zeros(n_a), np.ones(n_c), np.zeros(n_up * T)]),
            A=sp.vstack([A_cut, A_fund], format="csr"),
            row_lo=np.full(n_cuts + n_up * T, -np.inf),
            row_hi=np.concatenate([np.array([b for _, _, b in cuts]), approp.ravel() / MONEY_UNIT]),
            col_lo=np.concatenate([np.zeros(n_a), np.full(n_c, -np.inf), np.zeros(n_up * T)]),
            col_hi=np.concatenate([np.full(n_a + n_c, np.inf), carry_hi.ravel() / MONEY_UNIT]),
            integer=np.zeros(n_cols, dtype=bool),
        )
        opts = SolveOptions(time_limit=scenario.solver.time_limit, presolve=False)
        t_master = time.perf_counter()
        free = backend.solve(master, opts)  # without the trust region: a valid upper bound
        # never narrower than half a yuan: the best point is a solver's, within its tolerance of the fund rows, and
        # held to it the master was infeasible (by 5e-8, a re-plan's rounds run again with short counties held back)
        reach = np.maximum(radius, MONEY_TOL)
        lo = np.concatenate([np.maximum(best[1] - reach, 0.0) / MONEY_UNIT, master.col_lo[n_a:]])
        hi = np.concatenate([(best[1] + reach) / MONEY_UNIT, master.col_hi[n_a:]])
        out = backend.solve(master.with_bounds(lo, hi), replace(opts, duals=True))
        step = out
        if r >= FREE_KEPT_YEARS_AFTER and best_short > 0.0:
            pinned[:] = False  # still short: the earlier plan's money may not pay the kept decisions now (costs edited?)
        if pinned.any():
            # the kept years' money stays where the kept decisions were paid: moved, it left counties a few yuan short
            # there for dozens of rounds (an uncapped re-plan of 60,000 households: 45 rounds); prices from the step without
            lo[:n_a][pinned] = hi[:n_a][pinned] = a_start[pinned] / MONEY_UNIT
            step = backend.solve(master.with_bounds(lo, hi), opts)
        failed = next((o for o in (free, out, step) if o.status != Status.OPTIMAL or o.x is None), None)
        if failed is not None or step.x is None:
            failed = failed or step
            raise NoSolutionError(f"decomposition master: {failed.status.value} ({failed.message})")
        master_seconds = time.perf_counter() - t_master
        bound = min(bound, float(free.objective))
        expected = float(step.objective)
        mixed = max(mixed, _inner(points, of_county, A_money, A_carry, approp, carry_hi, backend, opts) if mixing else mixed, best, key=lambda m: m[0])
        gap = max(bound - mixed[0], 0.0) / max(abs(bound), 1e-9)
        lagrangian = np.nan
        if _priced_round(r, yrs is not None) and gap > tol and out.duals is not None:
            # the cutting-plane bound closes slowly; pricing the upper funds at the master's duals gives
            # L(price) = sum_c max_a [V_c(a) - price.a] + price.appropriation + max_carry carry.(price_next - price),
            # another valid bound, tight at the optimal prices. The duals of the master within its trust region, where
            # its cuts are close to the counties' values, not of the master without it, whose optimum lies where the
            # cuts are loose (100,000 households: round 4's bound 78,004.06 against 78,075.85, 4 rounds against 8)
            price = np.abs(out.duals[n_cuts:]) / MONEY_UNIT  # value per yuan
            rise = np.maximum(np.diff(price.reshape(n_up, T), axis=1), 0.0)
            # no fund carries out of a year more than was appropriated up to it: under full carry-over a price rising
            # from one year to the next then costs a finite term (before, that round's bound was skipped)
            most = np.minimum(carry_hi, np.cumsum(approp, axis=1))[:, :-1]
            carried = float((most[rise > 0] * rise[rise > 0]).sum())
            if np.isfinite(carried):
                cap = np.cumsum(approp, axis=1).ravel()  # a county cannot get more of a year than appropriated up to it
                terms = run_counties("priced", [np.vstack([price[fund_year[sel]], cap[fund_year[sel]]]) for sel in of_county])
                lagrangian = float(sum(term for term, _, _ in terms) + price @ approp.ravel() + carried)
                if lagrangian < bound:
                    bound, prices = lagrangian, price.reshape(n_up, T).copy()
                points.extend((c, used, value) for c, (_, value, used) in enumerate(terms))
                if mixing:
                    mixed = max(mixed, _inner(points, of_county, A_money, A_carry, approp, carry_hi, backend, opts), key=lambda m: m[0])
                gap = max(bound - mixed[0], 0.0) / max(abs(bound), 1e-9)
        history.append({"round": r, "bound": bound, "counties_sum": total, "best": best[0], "mixed": mixed[0], "gap": gap,
                        "lagrangian": lagrangian, "seconds": time.perf_counter() - t, "master_seconds": master_seconds})  # fmt: skip
        priced = f" (Lagrangian {lagrangian:,.2f})" if np.isfinite(lagrangian) else ""
        say(f"round {r}: master bound {bound:,.2f}{priced}, counties {total:,.2f} (best {best[0]:,.2f}, mixed {mixed[0]:,.2f}), gap {gap:.4%}")
        closing = gap <= tol or _stalled(history, ceiling)
        shorts.append(best_short)
        if closing and not mixing and best_short > 0.0:
            # the emergency money's price is far above any plan's value per money: a bound that the best allocation's
            # penalty alone exceeds leaves no allocation where the counties fit
            stuck = (r >= FREE_KEPT_YEARS_AFTER + SHORT_STALL_ROUNDS and shorts[-1 - SHORT_STALL_ROUNDS] - best_short <= EMERGENCY_TOL
                     and best_short * EMERGENCY_PRICE / MONEY_UNIT > bound - best[0])  # fmt: skip
            if stuck:
                say(f"round {r}: the counties' LPs stay {best_short:,.2f} yuan short at the best allocation, no less in "
                    f"{SHORT_STALL_ROUNDS} rounds: the county roundings and repairs take it from here")
            elif r < max_rounds:
                # kept decisions (a re-plan) may leave a year no slack: the counties' LPs needing emergency money there
                # cost little value but no rounding can pay them, so the rounds go on until some allocation fits
                say(f"round {r}: at the best allocation the counties' LPs are {best_short:,.2f} yuan short: more rounds")
                closing = False
        if closing:
            again = None if settle is None else settle([mixed[1][sel] for sel in of_county], bound, mixed[0])
            if again is None:
                break
            tol, ceiling = again, 0.0  # the rounding has shown that a stalled tail must still close
        a = np.maximum(step.x[:n_a], 0.0) * MONEY_UNIT
    alloc = [mixed[1][sel] for sel in of_county]
    return Allocation(alloc, bound, pd.DataFrame(history), prices)


def left_after(approp: np.ndarray, held: np.ndarray) -> np.ndarray:
    """What the master may share of each upper fund and year (yuan, funds x years) when ``held`` is kept for short
    counties. A year held beyond its appropriation was paid with money carried into it, so the years before have that
    much less (cut at the year alone, the master shared that money again and the assembled plan overspent)."""
    left = approp - held
    for t in range(left.shape[1] - 1, 0, -1):
        short = np.minimum(left[:, t], 0.0)
        left[:, t] -= short
        left[:, t - 1] += short
    return np.maximum(left, 0.0)


def _one_year_start(
    blocks: Blocks, scenario: Scenario, run: Callable[..., list[Any]], tol: float, say: Callable[[str], None]
) -> np.ndarray:
    """A first multi-year plan's starting allocation (yuan per pair and year): each county's share of every upper
    fund from the one-year rounds (the same counties, all years' money at once, at the multi-year run's tolerance),
    the same share in every year. The multi-year rounds from there closed at round 4 instead of round 6 at 100,000
    households (2016-2020; a one-year round costs a tenth of a multi-year one: bench/README.md)."""
    t = time.perf_counter()
    one = scenario.model_copy(update={"years": None})
    rounds = master_allocate(blocks, one, lambda kind, money: run(kind, money, one), tol=tol, max_rounds=LAGRANGE_EVERY * 2, say=lambda _msg: None)
    given = np.zeros(len(blocks.pairs))
    for idx, money in zip(blocks.county_pairs(), rounds.alloc):
        given[idx] = money
    say(f"the master starts from each county's share of the upper funds in the one-year rounds ({len(rounds.history)} rounds, {time.perf_counter() - t:.1f} s)")
    return _upper_yearly(blocks, scenario)[blocks.fund_pos()] * blocks.shares(given)[:, None]


def _priced_round(r: int, years: bool) -> bool:
    """Whether round ``r`` also prices the upper funds for a Lagrangian bound: from round :data:`LAGRANGE_EVERY` on,
    every :data:`LAGRANGE_EVERY` rounds, or with years every :data:`LAGRANGE_EVERY_YEARS` (multi-year rounds reach
    their allocation in about six rounds and then waited for round 8's bound)."""
    every = LAGRANGE_EVERY_YEARS if years else LAGRANGE_EVERY
    return r >= LAGRANGE_EVERY and (r - LAGRANGE_EVERY) % every == 0


def _given(start: np.ndarray, approp: np.ndarray, fund_pos: np.ndarray) -> np.ndarray:
    """What a re-plan's ``start`` (yuan per pair and year) gives of each upper fund and year."""
    given = np.zeros_like(approp)
    np.add.at(given, fund_pos, start)
    return given


def _pinned_years(given: np.ndarray | None, approp: np.ndarray, fund_pos: np.ndarray, kept_years: int) -> np.ndarray:
    """Which money columns (pairs x years, pair by pair) the master's steps keep at the start: those of the first
    ``kept_years`` years of the fund-years that still hold what the earlier plan ``given`` (:func:`_given`; elsewhere
    the start was scaled down, and the rounds must find the money)."""
    n_pairs, T = len(fund_pos), approp.shape[1]
    if given is None or not kept_years:
        return np.zeros(n_pairs * T, dtype=bool)
    # half a yuan over (the earlier plan's flows are written to the cent) is still held: the start, scaled down by
    # _from_start, then stays within a few cents of it (strictly, 60,000 households: most kept years free, 20 rounds)
    holds = given <= approp * (1 + 1e-9) + MONEY_TOL
    return (holds[fund_pos] & (np.arange(T)[None, :] < kept_years)).ravel()


def _from_start(start: np.ndarray, given: np.ndarray, approp: np.ndarray, fund_pos: np.ndarray, share: np.ndarray) -> np.ndarray:
    """A re-plan's first allocation (pairs x years): what the earlier plan gave each county of each upper fund and
    year (``given`` in all, :func:`_given`), scaled down where the fund-year has less now, and the rest shared in
    proportion to poor households. The kept decisions pin a county's money in the years before the re-plan; the
    even split left their counties' LPs short there for the first 15-19 rounds (40,000 and 100,000 households)."""
    scale = np.where(given > approp, approp / np.maximum(given, 1e-9), 1.0)
    left = approp - np.minimum(given, approp)
    return start * scale[fund_pos] + left[fund_pos] * share[:, None]


def _start_of(blocks: Blocks, tree: RegionTree, years: Years | None, flows: pd.DataFrame) -> np.ndarray:
    """Yuan per pair and year that an earlier plan's ``flows`` (fund_id, village_id, amount; with years, year) gave
    each county of each upper fund."""
    T = 1 if years is None else len(year_list(years))
    pos = tree.pos(flows["village_id"].astype(str))
    county = np.where(pos >= 0, tree.ancestor_ids(np.maximum(pos, 0), Level.COUNTY), "")
    t = np.zeros(len(flows), dtype=np.int64) if years is None else flows["year"].to_numpy(dtype=np.int64) - years.first
    pair = pd.MultiIndex.from_frame(blocks.pairs[["fund_id", "county"]]).get_indexer(pd.MultiIndex.from_arrays([flows["fund_id"].astype(str), county]))
    ok = (pair >= 0) & (t >= 0) & (t < T)
    out = np.zeros((len(blocks.pairs), T))
    np.add.at(out, (pair[ok], t[ok]), flows["amount"].to_numpy(dtype=float)[ok])
    return out


def _fund_year_rows(fund_year: np.ndarray, n_up: int, T: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The master's fund-year rows, money given out in year t + carried out of t - carried into t <= appropriation
    of t: their part over the money columns (``fund_year``: each one's row) and over the carry columns (one per fund
    and year)."""
    carry_cols = np.arange(n_up * T)
    later = carry_cols[(carry_cols % T) < T - 1]
    money = sp.csr_matrix((np.ones(len(fund_year)), (fund_year, np.arange(len(fund_year)))), shape=(n_up * T, len(fund_year)))
    carry = sp.csr_matrix(
        (np.concatenate([np.ones(n_up * T), -np.ones(len(later))]), (np.concatenate([carry_cols, later + 1]), np.concatenate([carry_cols, later]))),
        shape=(n_up * T, n_up * T),
    )
    return money, carry


def _inner(
    points: list[tuple[int, np.ndarray, float]],
    of_county: list[np.ndarray],
    A_money: sp.csr_matrix,
    A_carry: sp.csr_matrix,
    approp: np.ndarray,
    carry_hi: np.ndarray,
    backend: Any,
    opts: SolveOptions,
) -> tuple[float, np.ndarray]:
    """The best mix, county by county, of the allocations evaluated so far (Dantzig-Wolfe's inner approximation),
    and its value. A county's LP value is concave in its money, so given the mix of its evaluated allocations it is
    worth at least the same mix of their values: a value the counties can reach, often above every round's own
    allocation (the cutting planes' master jumps about; the mix averages its jumps, and the Lagrangian rounds' points
    lie on the optimal face). The mixes must fit every fund-year's money, carried over as in the master
    (:func:`_fund_year_rows`)."""
    n_a, n_up_t = A_money.shape[1], approp.size
    county = np.array([c for c, _, _ in points])
    cols = [of_county[c] for c in county]
    # money in model units: the LP's rows and bounds stay near 1
    P = sp.csr_matrix(
        (np.concatenate([m for _, m, _ in points]) / MONEY_UNIT, (np.concatenate(cols), np.repeat(np.arange(len(points)), [len(x) for x in cols]))),
        shape=(n_a, len(points)),
    )
    n_c, n_p = len(of_county), len(points)
    convex = sp.csr_matrix((np.ones(n_p), (county, np.arange(n_p))), shape=(n_c, n_p))
    mix = LinearModel(
        sense="max",
        c=np.concatenate([np.array([v for _, _, v in points]), np.zeros(n_up_t)]),
        A=sp.vstack([sp.hstack([convex, sp.csr_matrix((n_c, n_up_t))]), sp.hstack([A_money @ P, A_carry])], format="csr"),
        row_lo=np.concatenate([np.ones(n_c), np.full(n_up_t, -np.inf)]),
        row_hi=np.concatenate([np.ones(n_c), approp.ravel() / MONEY_UNIT]),
        col_lo=np.zeros(n_p + n_up_t),
        col_hi=np.concatenate([np.full(n_p, np.inf), carry_hi.ravel() / MONEY_UNIT]),
        integer=np.zeros(n_p + n_up_t, dtype=bool),
    )
    out = backend.solve(mix, replace(opts, algorithm="ipm"))
    if out.status != Status.OPTIMAL or out.x is None:
        return -np.inf, np.zeros(n_a)
    w = np.maximum(out.x[:n_p], 0.0)
    return float(out.objective), np.asarray(P @ w).ravel() * MONEY_UNIT


def _stalled(history: list[dict[str, float]], ceiling: float) -> bool:
    """The tail of the cutting planes: the gap is within ``ceiling`` (the gap the run may end with) and the last
    :data:`STALL_ROUNDS` rounds closed less than a tenth of it; more rounds would cost more than the county
    MIPs' rounding can lose."""
    if len(history) <= STALL_ROUNDS or history[-1]["gap"] > ceiling:
        return False
    return bool(history[-1 - STALL_ROUNDS]["gap"] - history[-1]["gap"] < 0.1 * history[-1]["gap"])


def _upper_yearly(blocks: Blocks, scenario: Scenario) -> np.ndarray:
    """Yuan per upper fund and year (one column without years): the appropriations less what is withheld, and the
    churn cap's changes in the first year."""
    upper = blocks.upper
    amount = upper["amount"].to_numpy(dtype=float)
    if scenario.years is None:
        return amount[:, None]
    approp = yearly_appropriations(upper["fund_id"], amount, scenario.years, blocks.withheld)
    changes = (upper["fund_id"] == CHANGES).to_numpy()
    approp[changes] = 0.0
    approp[changes, 0] = amount[changes]
    return approp


@dataclass
class _Run:
    """What the decomposition returns before assembly: the counties' final results and the loop's record."""

    blocks: Blocks
    finals: list[dict[str, Any]]
    bound: float
    history: pd.DataFrame
    regions: pd.DataFrame
    funds: pd.DataFrame
    tree: RegionTree
    hashes: dict[str, str]
    source: str  # where the counties' rows came from
    churn: dict[str, int] | None = None  # under a churn cap: planned households, the cap and the forced changes
    approp: np.ndarray | None = None  # with years: yuan per fund (of ``funds``) and year, less what was withheld
    prices: np.ndarray | None = None  # value per yuan per upper fund (of ``blocks.upper``) and year: the best Lagrangian bound's
    kept_models: int | None = None  # with keep: the county models kept from the run before that this one started from
    secretaries: tuple[Assignment, ...] = ()  # read counties without open households: their first secretaries


@contextlib.contextmanager
def _dask_warnings_only() -> Iterator[None]:
    """Dask's own loggers at warning level or above while we run a cluster: LocalCluster's ``silence_logs`` quiets
    Dask's handlers only, so with the root logger configured (the command line) the scheduler's and nannies' INFO
    records reached it, 34 lines a night of a 45,000-household registry. Worker errors still show."""
    import distributed  # noqa: F401  (its import sets its loggers' levels)

    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


@_dask_warnings_only()
def _decompose(
    scenario: Scenario,
    instance: Instance | None,
    folder: str | Path | None,
    scheduler: str | None,
    workers: int,
    tol: float | None,
    max_rounds: int,
    say: Callable[[str], None],
    parts: str | None = None,
    churn: ChurnCap | StoredChurn | None = None,
    kept: Kept | None = None,
    withheld: Withheld | None = None,
    frame: Frame | None = None,
    keep: bool = False,
) -> _Run:
    """Split by county, run the master's rounds and the county MIPs on Dask, repair short counties (with ``parts``,
    a folder the workers can write, one-year counties leave their households tables there). Under a ``churn`` cap
    the master shares the changes of plan the cap allows as it shares money (in the first year, with years). With
    years, ``kept`` starts and builds are fixed in their counties and ``withheld`` money is not appropriated (see
    :func:`optimizer.multiyear.solve_multiyear`). A re-plan needs the instance in memory, but for a night on a
    registry the workers read (:class:`StoredChurn`; with years, the workers read the starts and builds kept too,
    and ``withheld`` comes with it). ``frame``: what the driver already read of ``folder``. With ``keep`` (an instance
    in memory on the cluster at ``scheduler``, neither a re-plan nor lean), the workers keep the county models for the
    next run: a county built from the same data and settings (:func:`_county_keys`) starts that run from its last
    LP instead of being read, planned, built and solved cold."""
    stored_churn = churn if isinstance(churn, StoredChurn) else None
    replan = stored_churn is None and (churn is not None or kept is not None or withheld is not None)
    if replan and instance is None:
        raise InputError("a re-plan (churn cap, kept decisions or withheld money) is decomposed for an instance held in memory only")
    stored_years = stored_churn is not None and stored_churn.from_year is not None
    if stored_churn is not None and (instance is not None or not is_url(str(folder)) or kept is not None or (scenario.years is not None) != stored_years):
        raise ValueError("a StoredChurn caps a night whose workers read a registry database (with years: its from_year, and no kept decisions)")
    if (kept is not None or withheld is not None) and scenario.years is None:
        raise InputError("kept decisions and withheld money belong to a scenario with years:")
    if scenario.mode != "max_lifted":
        raise InputError("--method decomposed supports mode max_lifted only (a min-cost target couples all counties)")
    if scenario.helpers.capacity_in_model:
        raise InputError("--method decomposed does not support helpers.capacity_in_model (helpers may reach across counties)")
    from dask.distributed import Client, as_completed

    from .partitioned import duplicate_ids, load_frame
    from .storage import county_regions, registry_frame

    one_year = scenario.years is None
    if tol is None:
        # what the rounds leave for the counties' rounding: the most a rounding was measured to give up (the
        # rounds reopen when it gives up more), never less than half the gap; a quarter where multi-year counties
        # round their projects first (not under a churn cap: optimize_multiyear), which gives up more in rounding
        # for county MIPs twice as fast (a round at 100,000 households takes 20-30 s, the county MIPs 115-170 s)
        allowance = ROUNDING_ALLOWANCE if one_year else YEARS_ROUNDING_ALLOWANCE
        capped = churn is not None and (stored_churn is None or bool(stored_churn.planned.sum()))  # a first night: no cap
        floor = 2 if one_year or capped else 4
        tol = max(scenario.solver.gap / floor, scenario.solver.gap - allowance)
    if scenario.solver.threads == 0:
        # a worker is one thread, one per core: HiGHS's MIP would start a thread of its own beside it (the relax-and-fix
        # final tasks of 60 counties of the 1M instance took 74.1 s of CPU time so against 69.1 s, for the same result)
        scenario = scenario.with_overrides({"solver.threads": 1})
    if instance is not None:
        blocks, pieces = split_by_county(instance)
        regions, funds, tree, hashes = instance.regions, instance.funds, instance.tree, instance.hashes
        source = "in memory"
    elif folder is not None:
        from_db = is_url(str(folder))
        if frame is None:
            frame = registry_frame(str(folder)) if from_db else load_frame(folder)
            repeated = [] if from_db else duplicate_ids(Path(folder))  # ids in two counties: no county's own load sees them
            if repeated:
                raise InputError(repeated, source=str(folder))
        counties = sorted(frame.county_households.index)
        blocks = plan_blocks(frame.funds, frame.tree, counties, frame.county_households.reindex(counties).to_numpy())
        regions, funds, tree, hashes = frame.regions, frame.funds, frame.tree, frame.hashes
        # each county's region rows from the driver: read by each county, the national regions and funds files cost
        # it a time that grew with the country (27.6 ms a county at 1M households, 53.0 ms at 10M)
        places = county_regions(frame, counties)
        source = "the registry database, read by the workers county by county" if from_db else "partitioned Parquet, read by the workers"
    else:
        raise ValueError("the decomposition needs an instance, a partitioned folder or a registry database")
    # with years, before any county is built: an unknown withheld fund, or more withheld than is left, is bad input
    approp = None if scenario.years is None else yearly_appropriations(funds["fund_id"], funds["amount"].to_numpy(dtype=float), scenario.years, withheld)
    if withheld is not None and scenario.years is not None:
        upper = set(blocks.upper["fund_id"])
        blocks = replace(blocks, withheld=Withheld({f: a for f, a in withheld.amount.items() if a and f in upper}, withheld.from_year))
    say(f"decomposing into {len(blocks.counties)} counties; {len(blocks.upper)} upper-level funds shared by the master ({len(blocks.pairs)} fund-county pairs)")
    lean = _lean(blocks, scenario)
    if lean:
        say("the workers keep each county's LP basis between rounds, not the LP itself, and a one-year county's model on their local disk "
            "(the LPs would take over half of limits.max_memory_mb)")
    if keep and (scheduler is None or instance is None or replan):
        raise ValueError("keep needs an instance in memory and a scheduler that outlives the run, and no re-plan")
    if keep and lean:
        say("lean workers keep no county models for the next solve")
        keep = False
    cluster = None if scheduler else _local_cluster(workers, trim=lean)
    client = Client(cluster) if scheduler is None else _connect(scheduler)
    failed, kept_models = True, None
    try:
        if scheduler is not None:
            _await_workers(client, scheduler)
        # the workers are those that answer: the client's cached scheduler identity, left as it was when a refresh
        # fails, once listed none of the workers just waited for (CI, two test processes on two cores)
        if keep:
            kept_by_worker = client.run(_keep_counties, _county_keys(scenario, blocks, pieces))
            kept_models = sum(kept_by_worker.values())
            addrs = sorted(kept_by_worker)
            say(f"{kept_models:,} of {len(blocks.counties):,} county models kept from the last run start warm")
        else:
            addrs = sorted(client.run(_clear_cache))  # workers of an existing cluster may hold the counties of an earlier run
        if client.run_on_scheduler(_steals):
            say("the scheduler steals work between workers: a stolen task rebuilds its counties cold on the other worker "
                "(start it with distributed.scheduler.work-stealing: False)")
        pin = _pinned(blocks.counties, blocks.households, addrs)
        night, version, from_year = (False, None, None) if stored_churn is None else (True, stored_churn.version, stored_churn.from_year)
        shares: dict[str, pd.DataFrame] = {}
        if instance is None and is_url(str(folder)) and one_year and scenario.helpers.assign:
            from .storage import upper_helper_shares

            assert frame is not None and frame.town_households is not None  # a registry's frame counts them
            shares = upper_helper_shares(str(folder), tree, frame.town_households, poor_villages(tree, regions))
        data: list[Any] = pieces if instance is not None else [
            Stored(str(folder), f, r, night, version, from_year, None if from_year is None else _own_withheld(withheld, f, blocks.upper), shares.get(c))
            for c, f, r in zip(blocks.counties, blocks.funds, places)
        ]  # fmt: skip
        planned = None
        if stored_churn is not None and stored_churn.planned.sum():
            planned = stored_churn.planned.reindex(blocks.counties, fill_value=0).to_numpy(dtype=np.int64)
            blocks = _with_changes(blocks, planned)
        if replan:
            data, planned = _replanned(pieces, blocks, churn.previous if isinstance(churn, ChurnCap) else None, kept, withheld)
            if churn is not None:
                blocks = _with_changes(blocks, planned)
        sources = _scatter_pinned(client, dict(zip(blocks.counties, data)), pin)
        fund_ids = blocks.pairs["fund_id"].to_numpy()
        fund_lists = {c: list(fund_ids[idx]) for c, idx in zip(blocks.counties, blocks.county_pairs())}
        per_county_helpers = instance is None and scenario.helpers.assign and scenario.years is None
        # what a county's emergency money stands for (soft floors and a re-plan's shortfall blamed the hard floors)
        keeps = kept is not None or (stored_churn is not None and stored_churn.from_year is not None)
        must_pay = " and ".join(["its hard floors"] * (scenario.floors.mode == "hard") + ["the starts and builds it keeps"] * keeps) or "its plans"

        def on_worker(task: Callable[..., Any], c: str, *args: Any, pinned: bool = True) -> Any:
            """``task(c, its source, scenario, its funds, *args)`` on the county's worker (one task per county;
            unless ``pinned``, on any)."""
            where = {"workers": pin[c], "allow_other_workers": True} if pinned else {}
            return client.submit(_refusing, task, c, sources[c], scenario, fund_lists[c], *args, **where, retries=2, pure=False)

        def final(c: str, money: np.ndarray, last: bool = True, thorough: bool = False, pinned: bool = True, widen: bool = True) -> Any:
            """A county's final task (one per county: a county MIP takes far longer than a task's own overhead)."""
            return on_worker(county_final, c, money, per_county_helpers, last, thorough, parts, widen, pinned=pinned)

        def run_finals(money: list[np.ndarray], last: bool, short_ok: bool = False, bound: float | None = None) -> list[Any]:
            """The counties' final tasks with ``money``. Given the rounds' ``bound``, one-year counties first round their
            households with a fractional plan alone (a lean worker, which reads each county back from its disk for it,
            only under a gap below :data:`LEAN_NARROW_BELOW`), and only those whose losses the run's gap cannot carry
            widen their rounding."""
            widen = np.ones(len(blocks.counties), dtype=bool)
            if bound is not None and one_year and (not lean or scenario.solver.gap < LEAN_NARROW_BELOW):
                t = time.perf_counter()
                lp, value, emergency = np.array(run("round", money), dtype=float).reshape(-1, 3).T
                widen = _to_widen(lp, value, emergency, bound, scenario.solver.gap)
                say(f"county roundings of the households with a fractional plan: {time.perf_counter() - t:.1f} s, gave up "
                    f"{max(lp.sum() - value.sum(), 0.0) / max(abs(lp.sum()), 1e-9):.4%} of the LP value; "
                    f"{int(widen.sum())} of {len(widen)} counties widen theirs (the gap allows the others)")
            say(f"solving {len(blocks.counties)} county MIPs with their allocations (each verified on its worker)")
            t = time.perf_counter()
            futures: list[Any] = [final(c, m, last, widen=bool(w)) for c, m, w in zip(blocks.counties, money, widen)]
            where = {fut.key: i for i, fut in enumerate(futures)}
            out: list[Any] = [None] * len(futures)
            # counted as they finish (read in order, one slow county held back the count of all after it)
            for done, fut in enumerate(as_completed(futures), start=1):
                i = where[fut.key]
                futures[i] = None  # let go once read: a worker keeps a task's result while a future holds it
                out[i] = _outcome(fut, f"county {blocks.counties[i]}")
                if done % max(1, len(futures) // 10) == 0:
                    say(f"county MIPs: {done} of {len(futures)} done")
            say(_final_summary(blocks.counties, out, time.perf_counter() - t))

            def rerun(asks: list[tuple[str, np.ndarray, bool]]) -> list[dict[str, Any]]:
                """Repairs: where the counties' models are kept (``last`` false) on their workers, which keep them, else on any."""
                futures = [final(c, m, last, thorough=t, pinned=not last) for c, m, t in asks]
                return [_outcome(fut, f"county {c}") for (c, _, _), fut in zip(asks, futures)]

            return _repair(blocks, scenario, out, rerun, say, short_ok, must_pay)

        def held_back(
            alloc: list[np.ndarray], finals: list[dict[str, Any]], short: list[int], what: str, cycles: int = HOLD_BACK_CYCLES
        ) -> tuple[list[np.ndarray], list[dict[str, Any]], pd.DataFrame]:
            """Counties (multi-year) whose rounding does not fit their allocation (``short``; ``what`` says how): each
            says what more of the upper money (and of the changes) rounding its fractional households needs beyond its
            allocation (:func:`county_extra`); its allocation and that are held back, the rounds share the rest again
            from the last allocation, and each such county gets what was held for it on top of its new share. Counties
            short after that are held back with these (a county that fits now is held at what it has), up to
            ``cycles`` times in all."""
            ledger = _Ledger(blocks, scenario, finals)
            rows = [ledger.rows[blocks.counties[i]] for i in short]
            who = f"{len(short)} {'county' if len(short) == 1 else 'counties'} {what} {'needs' if len(short) == 1 else 'need'}"

            def needed(i: int, got: np.ndarray | None, blame: str) -> np.ndarray:
                if got is None:
                    raise NoSolutionError(f"county {blocks.counties[i]}: {must_pay} need {finals[i]['emergency']:,.2f} yuan more than {blame}")
                return got

            def holding(got: list[np.ndarray], skip: int = -1) -> np.ndarray:
                """What the short counties hold (their allocations and what they need beyond), but the ``skip``-th."""
                held = np.zeros_like(ledger.approp)
                for k, (i, r, g) in enumerate(zip(short, rows, got)):
                    if k != skip:
                        np.add.at(held, r, (alloc[i] + g).reshape(-1, ledger.T))
                return held

            # every such county asked at once (each on its worker), all the money but its own share offered to it
            asked = [on_worker(county_extra, blocks.counties[i], alloc[i], np.maximum(ledger.approp[r].ravel() - alloc[i], 0.0)) for i, r in zip(short, rows)]
            got = [needed(i, _outcome(fut, f"county {blocks.counties[i]}"), "all upper-level money can give") for i, fut in zip(short, asked)]
            held = holding(got)
            if (held > ledger.approp * (1 + 1e-9) + EMERGENCY_TOL).any():
                # together they hold more than there is (the master would share what is left of nothing, and the assembled
                # plan overspend): asked again one after the other, each offered what the others do not hold (their
                # allocations, and what the earlier ones were shown to need)
                say(f"{who} more of the upper money together than there is: asked again one after the other")
                got = [np.zeros_like(alloc[i]) for i in short]
                for k, (i, r) in enumerate(zip(short, rows)):
                    offer = np.maximum((ledger.approp - holding(got, skip=k))[r].ravel() - alloc[i], 0.0)
                    asked_again = _outcome(on_worker(county_extra, blocks.counties[i], alloc[i], offer), f"county {blocks.counties[i]}")
                    got[k] = needed(i, asked_again, "the upper-level money the other short counties leave")
                held = holding(got)
            more = {i: alloc[i] + g for i, g in zip(short, got)}  # what its rounding was shown to fit in: kept for it whatever the new rounds give
            extra = float(sum(g.sum() for g in got))
            say(f"{who} {extra:,.2f} more of the upper money (or changes): their money is held back for them, the rounds run again")
            again = np.zeros((len(blocks.pairs), ledger.T))
            for i, (c_pairs, a) in enumerate(zip(blocks.county_pairs(), alloc)):
                again[c_pairs] = 0.0 if i in more else a.reshape(-1, ledger.T)
            off = [more.get(i, np.zeros_like(a)) for i, a in enumerate(alloc)]

            def on_top(kind: str, money: list[np.ndarray] | None) -> list[Any]:
                """The rounds' county tasks with what is held for the short counties on top of their share (a priced
                task's term then bounds its county's with the held money priced in)."""
                if kind == "lp" and money is not None:
                    return run(kind, [m + o for m, o in zip(money, off)])
                if kind != "priced" or money is None:
                    return run(kind, money)
                # the county's money is its share a plus the held o: max_a V(a + o) - price.a = max_b V(b) - price.b + price.o,
                # b up to the cap plus o (capped at the master's cap alone, the term could fall below the county's LP value)
                got = run(kind, [np.vstack([m[0], m[1] + o]) for m, o in zip(money, off)])
                return [(term + float(m[0] @ o), value, used - o) for (term, value, used), m, o in zip(got, money, off)]

            rounds = master_allocate(blocks, scenario, on_top, tol=tol, max_rounds=max_rounds, say=say, start=again, held=held)
            new = [a + o for a, o in zip(rounds.alloc, off)]
            finals = run_finals(new, last=not keep, short_ok=cycles > 1)
            still = [i for i, f in enumerate(finals) if f["emergency"] > EMERGENCY_TOL]
            if not still:
                return new, finals, rounds.history
            # the new shares took money from other counties, now short themselves
            new, finals, later = held_back(new, finals, sorted(set(short) | set(still)), "short after the rounds run again", cycles - 1)
            return new, finals, pd.concat([rounds.history, later], ignore_index=True)

        settled: list[tuple[list[np.ndarray], list[dict[str, Any]]]] = []

        def settle(alloc: list[np.ndarray], bound: float, value: float) -> float | None:
            """The county MIPs at the allocation the rounds closed on; more rounds (once) when their rounding gave up
            more than the rounds left for it. The workers keep their counties' models for those rounds (unless lean).
            A multi-year county that rounds short, or that the repair rounded over all its households, ends the
            rounds here: what follows them holds its money back."""
            finals = run_finals(alloc, last=lean, short_ok=not one_year, bound=bound)
            settled.append((alloc, finals))
            if any(f["emergency"] > EMERGENCY_TOL or f.get("thorough") for f in finals):
                return None
            objective, _, g = _assembled(finals, bound)
            target = scenario.solver.gap
            if g <= target or len(settled) > 1:
                return None
            loss = max(value - objective, 0.0) / max(abs(bound), 1e-9)
            again = max(min(target / 2, target - 1.25 * loss), target / 10)
            say(f"the county MIPs gave up {loss:.4%} in rounding, a gap of {g:.4%} against the {target:.2%} asked: more rounds, to {again:.4%}")
            return again

        batches = _batches(blocks.counties, pin)

        def run(kind: str, money: list[np.ndarray] | None, tasks: Scenario = scenario) -> list[Any]:
            """A round of ``lp`` or ``round`` tasks (each county's money), ``priced`` ones (its prices and caps, two rows)
            or ``kept`` ones (no money), in batches (``tasks``: the scenario the counties build their models of)."""
            out: list[Any] = [None] * len(blocks.counties)
            futures = []
            lazy = LAZY_ROWS is not None  # the driver's: a test may set it
            for batch in batches:
                named = [(i, blocks.counties[i]) for i in batch]
                given = [() if money is None else tuple(money[i]) if kind == "priced" else (money[i],) for i in batch]
                items = [(c, sources[c], tasks, fund_lists[c], *g) for (i, c), g in zip(named, given)]
                where = pin[named[0][1]]
                futures.append(client.submit(_refusing, county_batch, kind, items, lean=lean, lazy=lazy, workers=where, allow_other_workers=True, retries=2,
                                             pure=False))  # fmt: skip
            batch_of = {fut.key: batch for batch, fut in zip(batches, futures)}
            done, last = 0, time.perf_counter()
            for fut in as_completed(futures):
                batch = batch_of[fut.key]
                who = f"a task of {len(batch)} counties ({blocks.counties[batch[0]]} to {blocks.counties[batch[-1]]})"
                for i, value in zip(batch, _outcome(fut, who)):
                    out[i] = value
                done += len(batch)
                if time.perf_counter() - last >= PROGRESS_SECONDS and done < len(out):
                    say(f"county {({'lp': 'LPs', 'priced': 'priced LPs', 'kept': 'models', 'round': 'roundings'})[kind]}: {done:,} of {len(out):,} done")
                    last = time.perf_counter()
            return out

        churn_info = None
        if churn is not None and planned is not None:
            offered = np.array(run("kept", None), dtype=float)
            forced = int(planned.sum() - offered.sum())
            allowed = max(churn.max_changes - forced, 0)
            amount = np.where(blocks.upper["fund_id"] == CHANGES, allowed * MONEY_UNIT, blocks.upper["amount"])
            blocks = replace(blocks, upper=blocks.upper.assign(amount=amount))
            churn_info = {"previous_households": int(planned.sum()), "max_changes": int(churn.max_changes), "forced_changes": forced}
            say(f"churn cap: {allowed:,} changes of plan to share among the counties ({forced:,} of the {int(planned.sum()):,} planned households must change)")
        start = None
        # a re-plan's earlier money, read only here, when it decomposes (the kept decisions', or the churn cap's)
        read_flows = kept.read_flows if kept is not None else None if churn is None else churn.read_flows
        earlier = None if read_flows is None else read_flows()
        if earlier is not None and len(earlier):
            start = _start_of(blocks, tree, scenario.years, earlier)
            say(f"the master starts from the upper-level money the earlier plan gave each county ({start.sum():,.0f} yuan)")
        elif not one_year and not replan and churn is None and not keep and blocks.households.sum() >= ONE_YEAR_START_FROM:
            start = _one_year_start(blocks, scenario, run, tol, say)
            client.run(_clear_cache)  # the one-year county models go; the multi-year rounds build their own
        from_year = kept.from_year if kept is not None else None if stored_churn is None else stored_churn.from_year
        alloc, bound, history, prices = master_allocate(
            blocks, scenario, run, tol=tol, max_rounds=max_rounds, say=say, settle=settle, start=start, kept_years=kept_years(scenario, from_year)
        )
        reused = bool(settled) and all(np.array_equal(x, y) for x, y in zip(settled[-1][0], alloc))  # else no settling, or the rounds ran out after it
        if not reused or not one_year:
            finals = settled[-1][1] if reused else run_finals(alloc, last=not keep, short_ok=not one_year, bound=bound)
            short = [i for i, f in enumerate(finals) if f["emergency"] > EMERGENCY_TOL]
            if short:
                alloc, finals, rounds = held_back(alloc, finals, short, "short after rounding")  # the first rounds' bound stays: it bounds the whole problem
                history = pd.concat([history, rounds], ignore_index=True)
            elif _assembled(finals, bound)[2] > scenario.solver.gap and (whole := [i for i, f in enumerate(finals) if f.get("thorough")]):
                # counties the repair rounded over all their households with the money as it was (their early years'
                # money split for the LP, not for whole plans) may give up more than the gap allows: held back as
                # the short ones, the better of the two allocations kept
                settled.append((alloc, finals))
                with contextlib.suppress(NoSolutionError):
                    alloc, finals, rounds = held_back(alloc, finals, whole, "rounded over all their households after the repair")
                    history = pd.concat([history, rounds], ignore_index=True)
            settled.append((alloc, finals))
        complete = [fs for _, fs in settled if all(f["emergency"] <= EMERGENCY_TOL for f in fs)]  # not a short county's first rounding
        finals = max(complete, key=lambda fs: sum(f["objective"] for f in fs))  # a reopening's MIPs may round worse
        if parts is not None:  # the parts of the MIPs not kept and of the repaired counties' first roundings
            written = {Path(f["part"]) for f in finals if "part" in f}
            for path in Path(parts).glob("*.parquet"):
                if path not in written:
                    path.unlink()
        secretaries = _idle_secretaries(client, str(folder), frame, blocks, shares, say) if per_county_helpers and frame is not None else ()
        failed = False
    finally:
        if failed or not keep:
            with contextlib.suppress(Exception):  # never hide why the run stopped
                client.run(_clear_cache)
        client.close()
        if cluster is not None:
            close_local_cluster(cluster)
    return _Run(blocks, finals, bound, history, regions, funds, tree, hashes, source, churn_info, approp, prices, kept_models, secretaries)


def _idle_secretaries(
    client: Any, where: str, frame: Frame, blocks: Blocks, shares: dict[str, pd.DataFrame], say: Callable[[str], None]
) -> tuple[Assignment, ...]:
    """First secretaries for the poor villages of the counties the decomposition solved no model of (every household
    exited, or none registered), one task each on the workers, which read the counties' helpers (a registry's: with
    ``shares`` of those homed above them)."""
    from .storage import county_regions

    tree = frame.tree
    counties = sorted(set(tree.ids.to_numpy()[tree.ancestors[poor_villages(tree, frame.regions), Level.COUNTY]]) - set(blocks.counties))
    if not counties:
        return ()
    say(f"{len(counties)} {'county' if len(counties) == 1 else 'counties'} without open households: first secretaries for their poor villages")
    nothing = frame.funds.iloc[:0]
    futures = [
        client.submit(_refusing, county_secretaries, c, Stored(where, nothing, r, helpers=shares.get(c)), retries=2, pure=False)
        for c, r in zip(counties, county_regions(frame, counties))
    ]  # fmt: skip
    return tuple(_outcome(fut, f"county {c}") for c, fut in zip(counties, futures))


def county_secretaries(county: str, source: Stored) -> Assignment:
    """The first secretaries of the poor villages of a county without open households, from its helpers (no
    household to plan, so no model)."""
    instance = _read_stored(county, source, households_required=False)
    return assign_helpers(instance, pd.DataFrame({"household_id": [], "village_id": [], "measures": []}, dtype=object))


def _replanned(
    pieces: list[Instance], blocks: Blocks, previous: pd.DataFrame | None, kept: Kept | None, withheld: Withheld | None
) -> tuple[list[Any], np.ndarray]:
    """Each county's block with its part of a re-plan (:class:`Replanned`): its households' published plans, the
    starts and builds kept (every county gets ``kept.from_year``: no other start before it), the money withheld
    from its own funds; and how many published plans each county has."""

    def county_of(table: str, key: str) -> pd.Series:
        return pd.concat([pd.Series(i, index=getattr(p, table)[key].to_numpy()) for i, p in enumerate(pieces)])

    def by_county(frame: pd.DataFrame, key: str, where_is: pd.Series) -> dict[int, pd.DataFrame]:
        where = where_is.reindex(frame[key].to_numpy()).to_numpy()
        have = ~np.isnan(where)
        return {int(i): g.reset_index(drop=True) for i, g in frame[have].groupby(where[have].astype(np.int64))}

    household_county = county_of("households", "household_id")
    prev = {} if previous is None else by_county(previous, "household_id", household_county)
    starts = {} if kept is None else by_county(kept.starts, "household_id", household_county)
    built = {} if kept is None else by_county(kept.built, "project_id", county_of("projects", "project_id"))
    paid = None if kept is None else kept_paid(kept)
    paid_by: dict[int, pd.DataFrame] = {}
    if kept is not None and paid is not None:  # each county's part of what the earlier plan paid in the kept years
        villages = [p.regions.loc[p.regions["level"] == Level.VILLAGE, "region_id"].to_numpy() for p in pieces]
        village_county = pd.concat([pd.Series(i, index=v) for i, v in enumerate(villages)])
        refuse_lost_paid(paid[~paid["village_id"].isin(village_county.index)], kept)
        paid_by = by_county(paid, "village_id", village_county)
    data = []
    for i, p in enumerate(pieces):
        county_kept = None
        if kept is not None:
            # the earlier plan's flows only start the master: a county's task need not carry the nation's
            county_kept = replace(kept, starts=starts.get(i, kept.starts.iloc[:0]), built=built.get(i, kept.built.iloc[:0]), read_flows=None,
                                  paid=None if paid is None else paid_by.get(i, paid.iloc[:0]))  # fmt: skip
        data.append(Replanned(p, prev.get(i), county_kept, _own_withheld(withheld, p.funds, blocks.upper)))
    planned = np.array([0 if i not in prev else len(prev[i]) for i in range(len(pieces))], dtype=np.int64)
    return data, planned


def _own_withheld(withheld: Withheld | None, funds: pd.DataFrame, upper: pd.DataFrame) -> Withheld | None:
    """The money withheld from a county's own funds (of its block's ``funds``, not the ``upper`` ones the master shares)."""
    if withheld is None:
        return None
    ids = set(funds["fund_id"]) - set(upper["fund_id"])
    return Withheld({f: a for f, a in withheld.amount.items() if a and f in ids}, withheld.from_year)


def _with_changes(blocks: Blocks, planned: np.ndarray) -> Blocks:
    """The blocks with the churn cap as one more upper fund reaching the counties with planned households (its amount
    is set once the counties have counted the plans still offered)."""
    with_plans = [c for c, n in zip(blocks.counties, planned) if n > 0]
    pairs = pd.concat([blocks.pairs, pd.DataFrame({"fund_id": CHANGES, "county": with_plans})], ignore_index=True)
    upper = pd.concat([blocks.upper, pd.DataFrame({"fund_id": [CHANGES], "amount": [0.0]})], ignore_index=True)
    return replace(blocks, upper=upper, pairs=pairs.assign(pair=np.arange(len(pairs))))


def _connect(scheduler: str) -> Client:
    """A client of the existing cluster at ``scheduler``; an address that is malformed or does not answer (within
    Dask's connect timeout) is the user's input, reported as such."""
    from dask.distributed import Client

    try:
        return Client(scheduler)
    except (OSError, ValueError) as err:
        raise InputError(
            f"--scheduler {scheduler}: {err}; start a scheduler there (`dask scheduler`) or leave --scheduler out to run a local cluster"
        ) from None


def _await_workers(client: Client, scheduler: str) -> None:
    """Wait until the existing ``scheduler`` has a worker: one without is the user's to start."""
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
    except TimeoutError:
        raise InputError(f"--scheduler {scheduler}: no worker joined within {WORKER_WAIT_SECONDS:g} s; start one (`dask worker {scheduler}`)") from None


def _scatter_pinned(client: Client, data: dict[str, Any], pin: dict[str, list[str]]) -> dict[str, Any]:
    """Each county's data sent to its worker: one call per worker, under random keys. Dask would otherwise hash
    every item to name it, and a county's funds are slices of Arrow arrays whose whole buffers get hashed:
    quadratic in the counties."""
    futures: dict[str, Any] = {}
    for where in sorted({tuple(w) for w in pin.values()}):
        names = [c for c in data if tuple(pin[c]) == where]
        futures.update(zip(names, client.scatter([data[c] for c in names], workers=list(where), hash=False)))
    return futures


@dataclass(frozen=True)
class _Refused:
    """A county task's bad input or infeasibility, returned rather than raised: Dask would run it twice more to the
    same end and log each failure, traceback included, as a worker's error."""

    error: OptimizerError


def _refusing(task: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``task(*args, **kwargs)`` on a worker (every county task is submitted through it), its bad input or
    infeasibility as :class:`_Refused`."""
    try:
        return task(*args, **kwargs)
    except (InputError, InfeasibleError) as err:
        return _Refused(err)


def _outcome(future: Any, who: str) -> Any:
    """A task's result; a worker error after its retries becomes a :class:`NoSolutionError` naming ``who`` (a
    county is never dropped), the optimizer's own errors pass as they are."""
    try:
        value = future.result()
    except OptimizerError:
        raise
    except Exception as err:
        raise NoSolutionError(f"{who} failed after 2 retries: {type(err).__name__}: {err}") from None
    if isinstance(value, _Refused):
        raise value.error
    return value


def county_batch(kind: str, items: list[tuple[Any, ...]], lean: bool = False, lazy: bool = True) -> list[Any]:
    """Several counties' ``lp``, ``priced``, ``kept`` or ``round`` tasks (``items``: each one's arguments), one after the
    other, as one Dask task: with a task of its own per county, a round of 400 counties spent about 1.1 s in Dask
    alone (400 tasks that do nothing, 2 workers; 0.12 s in 16 batches), a fifth of a warm round at 1M. An error
    names its county (the optimizer's own errors keep their class: bad input stays bad input) and drops what the
    worker kept of it: Dask's retry then starts that county from its data. ``lazy``: the driver's choice for the LPs
    (:data:`LAZY_ROWS` set)."""
    tasks: dict[str, Callable[..., Any]] = {"lp": county_lp, "priced": county_priced, "kept": county_kept, "round": county_round}
    fn = tasks[kind]
    options = {"lean": lean, **({"lazy": lazy} if kind in ("lp", "priced") else {})}
    out = []
    for args in items:
        try:
            out.append(fn(*args, **options))
        except Exception as err:
            _forget(args[0])
            if isinstance(err, InputError):  # e.g. a county's unreadable file: bad input, named by its county
                raise InputError(err.problems, source=f"county {args[0]}" + (f" ({err.source})" if err.source else ""), total=err.total) from None
            if isinstance(err, OptimizerError):
                raise
            raise RuntimeError(f"county {args[0]}: {type(err).__name__}: {err}") from err
    return out


def _pinned(counties: list[str], households: np.ndarray, workers: list[str]) -> dict[str, list[str]]:
    """The worker of each county (it keeps the county's model for every round): the largest counties first, each to
    the worker with the fewest households so far, so that the rounds' work, which grows with a county's households,
    is shared evenly (taken in turn, the 8 counties of a 20,000-household instance gave one worker 12% more
    households than the other)."""
    if not workers:
        raise RuntimeError("no Dask worker answered the driver: the cluster lost its workers after they started")
    load = np.zeros(len(workers))
    pin = {}
    for i in np.argsort(-np.asarray(households, dtype=float), kind="stable"):
        w = int(np.argmin(load))
        load[w] += households[i]
        pin[counties[i]] = [workers[w]]
    return pin


def _batches(counties: list[str], pin: dict[str, list[str]]) -> list[np.ndarray]:
    """The counties (positions) of each round's tasks: up to :data:`BATCHES_PER_WORKER` per worker, each of the
    counties pinned to that worker."""
    by_worker: dict[str, list[int]] = {}
    for i, c in enumerate(counties):
        by_worker.setdefault(pin[c][0], []).append(i)
    return [b for idx in by_worker.values() for b in np.array_split(np.array(idx), min(len(idx), BATCHES_PER_WORKER))]


def _to_widen(lp: np.ndarray, value: np.ndarray, emergency: np.ndarray, bound: float, gap: float) -> np.ndarray:
    """Which counties widen their first rounding (``value`` against their ``lp`` values): those that need emergency
    money, then the largest losses, until the others' losses and what the widened ones may still give up (the most a
    run's relax-and-fix was measured to give up, :data:`WIDENED_LOSS` of their LP, within the gap) fit in
    :data:`NARROW_SHARE` of what the gap leaves above the counties' LP values; all of them when no such choice
    fits. A widened county that gives up more shows in the assembled gap, and the rounds reopen."""
    must = emergency > EMERGENCY_TOL
    loss = np.where(must, np.inf, np.maximum(lp - value, 0.0))
    worst = np.minimum(loss, min(gap, WIDENED_LOSS) * np.abs(lp))  # what a widened county may still give up
    allowed = NARROW_SHARE * (gap * abs(bound) - max(bound - lp.sum(), 0.0))
    order = np.argsort(-loss, kind="stable")  # the counties short of money first
    # the run's loss after widening the first k of them, for k = 0..n
    kept = np.concatenate([np.cumsum(loss[order][::-1])[::-1], [0.0]])
    widened = np.concatenate([[0.0], np.cumsum(worst[order])])
    fits = np.flatnonzero(kept + widened <= allowed)  # never before every short county: their losses are infinite
    k = int(fits[0]) if len(fits) else len(order)
    widen = np.zeros(len(order), dtype=bool)
    widen[order[:k]] = True
    return widen


def _final_summary(counties: list[str], finals: list[dict[str, Any]], wall: float) -> str:
    """How the county MIPs' time was spent: in all, on the slowest counties (a long tail leaves workers idle)."""
    seconds = np.array([f["seconds"] for f in finals])
    slow = np.argsort(-seconds, kind="stable")[:3]
    named = ", ".join(f"{counties[i]} {seconds[i]:.1f} s" + (" (MIP on the whole county)" if finals[i]["full_mip"] else "") for i in slow)
    said = f"county MIPs: {seconds.sum():,.1f} s of work in {wall:,.1f} s; slowest {named}"
    stopped = _stopped_counties(counties, finals)
    if stopped:
        more = " ..." if len(stopped) > 3 else ""
        said += f"; {len(stopped)} stopped at their time limit ({', '.join(stopped[:3])}{more}), so their roundings depend on the machine's speed"
    rounded = [i for i, f in enumerate(finals) if "lp_bound" in f]  # multi-year counties not short
    if not rounded:
        return said
    lp = np.array([finals[i]["lp_bound"] for i in rounded])
    given = lp - np.array([finals[i]["objective"] for i in rounded])
    loss = np.maximum(given, 0.0) / np.maximum(np.abs(lp), 1e-9)
    most = ", ".join(f"{counties[rounded[j]]} {loss[j]:.2%}" for j in np.argsort(-loss, kind="stable")[:3])
    return f"{said}; rounding gave up {given.sum() / max(abs(lp.sum()), 1e-9):.3%} of their LP value, most {most}"


def _local_cluster(workers: int, trim: bool = False) -> Any:
    """A LocalCluster of ``workers`` single-threaded processes, without work stealing. Unless ``trim`` (lean workers: memory first), their C
    library keeps its default memory tuning: Dask sets MALLOC_TRIM_THRESHOLD_ in its workers to hand freed memory
    back sooner, which also fixes glibc's mmap threshold, so every array above 128 KiB is mapped and unmapped again;
    county tasks ran 14% slower with it (40 cold counties of the 1M instance: 19.7 s against 16.9 s).

    Those workers are forked from a server process that imported this package once (multiprocessing's forkserver,
    started by the first such cluster of this process): a spawned worker imported it anew, about 1.3 s of the 2.5 s a
    cluster cost, where a later cluster of the same process (what-ifs without a session, the test suite) now starts in
    0.1 s. Lean workers are still spawned: a forked worker has its server's environment, not the trim variable."""
    import os

    import dask
    from dask.distributed import LocalCluster

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    saved = None
    method = "spawn" if trim else "forkserver"
    if not trim:
        environ.pop("MALLOC_TRIM_THRESHOLD_", None)
        # a nanny also writes its variables into this process's environment, which later workers inherit
        saved = os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    try:
        # no work stealing: a county's tasks are pinned to the worker that keeps its model; a batch stolen by the
        # other worker rebuilt its counties there cold (at 10M 1,471 of 4,000 counties ended up on both workers)
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ, "distributed.scheduler.work-stealing": False,
                              "distributed.worker.multiprocessing-method": method}):  # fmt: skip
            if method == "forkserver":
                _preload_forkserver()
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR)
    finally:
        if saved is not None:
            os.environ["MALLOC_TRIM_THRESHOLD_"] = saved
    # its workers may register after it returns (on a busy machine a run once found none to pin its counties to); a
    # what-if session's first solve, pinning to the one there was, would leave the second nothing kept on the other
    try:
        cluster.wait_for_workers(workers, timeout=WORKER_WAIT_SECONDS)
    except TimeoutError as err:
        close_local_cluster(cluster)
        raise RuntimeError(f"the local Dask cluster did not start its {workers} workers within {WORKER_WAIT_SECONDS:g} s ({err})") from None
    return cluster


def _preload_forkserver() -> None:
    """Have the forkserver import this module before it forks a worker. Dask sets its own preload list the first time
    it is asked for the context in a process, so it is asked first and its list replaced; the server reads the list
    when it starts, so one already running keeps its own."""
    from distributed.utils import get_mp_context

    get_mp_context().set_forkserver_preload(["distributed", __name__])


def close_local_cluster(cluster: Any) -> None:
    """Close a cluster made by :func:`_local_cluster`, its workers' heartbeats stopped first (:func:`_last_heartbeat`)."""
    from dask.distributed import Client

    with contextlib.suppress(Exception), Client(cluster) as client:
        client.run(_last_heartbeat)
    cluster.close()


def _steals(dask_scheduler: Any) -> bool:
    """Whether the scheduler runs Dask's work stealing (run on the scheduler)."""
    return "stealing" in dask_scheduler.extensions


def _lean(blocks: Blocks, scenario: Scenario) -> bool:
    """Whether the counties' kept LPs (about :data:`KEPT_LP_BYTES` per household and year, measured) would take more than
    :data:`LEAN_SHARE` of the memory limit: then the workers keep only their bases between rounds."""
    from .limits import memory_limit_mb

    years = 1 if scenario.years is None else len(year_list(scenario.years))
    return float(blocks.households.sum()) * years * KEPT_LP_BYTES > LEAN_SHARE * memory_limit_mb(scenario) * 1e6


def _assembled(finals: list[dict[str, Any]], bound: float) -> tuple[float, float, float]:
    """Objective, bound (never below the objective) and gap of the counties' final allocations."""
    objective = sum(f["objective"] for f in finals)
    bound = max(bound, objective)
    return objective, bound, max(bound - objective, 0.0) / max(abs(bound), 1e-9)


def _gap_of(run: _Run, scenario: Scenario) -> tuple[float, float, float, str]:
    """Objective, bound, gap and status of the assembled allocation."""
    objective, bound, g = _assembled(run.finals, run.bound)
    return objective, bound, g, (Status.OPTIMAL if g <= scenario.solver.gap + 1e-12 else Status.FEASIBLE).value


def _stopped_counties(counties: list[str], finals: list[dict[str, Any]]) -> list[str]:
    """The counties whose final MIP stopped at its time limit: their roundings depend on the machine's speed."""
    return [c for c, f in zip(counties, finals) if f["stopped"]]


def _decomposition_record(run: _Run) -> dict[str, Any]:
    record = {"counties": len(run.blocks.counties), "rounds": len(run.history), "source": run.source,
              "verified": "each county on its worker; the shared funds on the driver", "history": run.history.round(6).to_dict("records"),
              "stopped_at_time_limit": _stopped_counties(run.blocks.counties, run.finals)}  # fmt: skip
    if run.kept_models is not None:
        record["kept_models"] = run.kept_models
    return record


def solve_decomposed(
    scenario: Scenario,
    instance: Instance | None = None,
    folder: str | Path | None = None,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    tol: float | None = None,
    max_rounds: int = 60,
    progress: Callable[[str], None] | None = None,
    churn: ChurnCap | StoredChurn | None = None,
    frame: Frame | None = None,
    keep: bool = False,
) -> Result:
    """Decompose by county on Dask (a LocalCluster, or the scheduler at ``scheduler``) and assemble the national
    result from the counties' verified results.

    Give ``instance`` (held in memory: county blocks are sent to the workers, and helpers are assigned
    nationally afterwards) or ``folder``, a partitioned instance or a registry database's URL: the driver then reads
    only regions, funds and the household counts; each worker reads its counties' rows (from the Parquet files, or
    the database) and assigns their helpers.
    ``churn`` (with ``instance``, or a :class:`StoredChurn` with a database ``folder``) caps the changes of plan
    nationally, as :func:`optimizer.solve.solve` does; ``frame``, what the driver already read of ``folder``. With
    ``keep`` (``instance`` given and a ``scheduler`` that outlives the run, as a what-if session's), the workers keep
    the county models for the next solve (see :func:`_decompose`)."""
    say = progress or (lambda msg: log.info(msg))
    if scenario.years is not None:
        raise InputError("a scenario with years: is decomposed by solve_decomposed_years")
    t0 = time.perf_counter()
    parts = _parts_folder(instance, scheduler)
    with _removed_on_failure(parts):
        run = _decompose(scenario, instance, folder, scheduler, workers, tol, max_rounds, say, parts, churn, frame=frame, keep=keep)
    finals = run.finals
    upper = None if run.prices is None else pd.Series(run.prices[:, 0] * MONEY_UNIT, index=run.blocks.upper["fund_id"].to_numpy())
    result = _kept_with(_assemble(scenario, run.regions, run.funds, run.tree, run.hashes, finals, upper), parts)
    objective, bound, g, status = _gap_of(run, scenario)
    record = _decomposition_record(run)
    result.manifest.update(
        status=status, objective=objective, bound=bound, lp_bound=bound, gap=g,
        solver_version=get_backend(scenario.solver.name).version(), method="decomposed",
        model={k: int(sum(f[k] for f in finals)) for k in ("columns", "rows", "nonzeros", "plans")},
        decomposition=record, stopped_at_time_limit=bool(record["stopped_at_time_limit"]),
    )  # fmt: skip
    if run.churn is not None:
        result.manifest["churn"] = run.churn
    if instance is not None:
        result.instance = instance
        if scenario.helpers.assign:
            result.attach_helpers(assign_helpers(instance, result.households, churn.previous if isinstance(churn, ChurnCap) else None))
    else:
        assignments = [f["assignment"] for f in finals if f["assignment"] is not None] + list(run.secretaries)
        if assignments:
            result.attach_helpers(join_assignments(assignments), add_sums([f["sums"] for f in finals]) if result.parts else None)
    result.manifest["timings"] = {"decomposed": round(time.perf_counter() - t0, 3)}
    say(f"decomposed: objective {objective:,.2f}, bound {bound:,.2f}, gap {g:.3%} after {len(run.history)} rounds")
    return result


def solve_decomposed_years(
    scenario: Scenario,
    instance: Instance | None = None,
    folder: str | Path | None = None,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    tol: float | None = None,
    max_rounds: int = 60,
    progress: Callable[[str], None] | None = None,
    kept: Kept | None = None,
    withheld: Withheld | None = None,
    churn: ChurnCap | StoredChurn | None = None,
    frame: Frame | None = None,
    keep: bool = False,
) -> MultiYearResult:
    """The multi-year model decomposed by county: the master shares every upper fund's yearly appropriation
    (and carries it over) among the counties, each county solves its multi-year model with its yearly money and
    verifies it on its worker; the driver assembles the tables and checks every fund's yearly budget. Read from a
    folder on this machine's cluster, the households table stays on disk as the counties' parts. A re-plan
    (``kept`` decisions, ``withheld`` money, a ``churn`` cap: see :func:`optimizer.multiyear.solve_multiyear`)
    needs ``instance``, but for a night whose workers read the registry database ``folder`` (a
    :class:`StoredChurn` with its ``from_year``: each county checks the starts and builds it keeps and counts its
    changes of plan); ``frame``, what the driver already read of ``folder``; ``keep`` as for :func:`solve_decomposed`."""
    say = progress or (lambda msg: log.info(msg))
    yrs = scenario.years
    if yrs is None:
        raise InputError("solve_decomposed_years needs a scenario with a years: section")
    _rounding(scenario)  # a rounding solver asked for that cannot run here stops the run before it starts
    t0 = time.perf_counter()
    parts = _parts_folder(instance, scheduler)
    with _removed_on_failure(parts):
        run = _decompose(scenario, instance, folder, scheduler, workers, tol, max_rounds, say, parts, churn, kept, withheld, frame, keep)
    tables, on_disk = _joined(run.finals, ("households", "projects", "flows", "counties"))
    result = _kept_with(MultiYearResult(tables=tables, manifest={}, parts=on_disk), parts)
    years = year_list(yrs)
    fund_ids = run.funds["fund_id"].to_numpy()
    approp = run.approp
    assert approp is not None  # a scenario with years
    bad, spent, carry = fund_year_check(yrs, fund_ids, approp, tables["flows"])
    if bad:
        raise VerificationError(bad)
    tables["spending"] = spending_table(run.funds, run.tree, years, approp, spent, carry)
    objective, bound, g, status = _gap_of(run, scenario)
    record = _decomposition_record(run)
    state = {"status": status, "objective": objective, "bound": bound, "lp_bound": bound, "gap": g, "used_full_mip": False,
             "stopped_at_time_limit": bool(record["stopped_at_time_limit"])}  # fmt: skip
    size = {k: int(sum(f[k] for f in run.finals)) for k in ("columns", "rows", "nonzeros", "options")}
    manifest = multiyear_manifest(scenario, run.hashes, tables, state, size, add_sums([f["totals"] for f in run.finals]))
    rounding = ", ".join(sorted({f["rounding"] for f in run.finals}))  # as each worker found its solvers
    manifest.update(method="decomposed", decomposition=record, rounding_solver=rounding,
                    timings={"decomposed": round(time.perf_counter() - t0, 3)})  # fmt: skip
    if run.churn is not None:
        manifest["churn"] = {**run.churn, "changed": sum(f["changed"] for f in run.finals)}
    if isinstance(churn, StoredChurn) and churn.from_year is not None:
        counts = pd.DataFrame([f["kept_counts"] for f in run.finals]).sum().astype(int).to_dict()
        record_replan(manifest, churn.from_year, kept_source(churn.version), counts, withheld)
    say(f"decomposed: objective {objective:,.2f}, bound {bound:,.2f}, gap {g:.3%} after {len(run.history)} rounds")
    result.manifest = manifest
    return result


class _Ledger:
    """The upper funds' money per year: appropriated, used by the counties' final allocations, and what is left
    to give (under the carry rule)."""

    def __init__(self, blocks: Blocks, scenario: Scenario, finals: list[dict[str, Any]]) -> None:
        self.rule = "none" if scenario.years is None else scenario.years.carry_over
        self.approp = _upper_yearly(blocks, scenario)
        self.T = self.approp.shape[1]
        fund_pos = blocks.fund_pos()
        self.rows = {c: fund_pos[idx] for c, idx in zip(blocks.counties, blocks.county_pairs())}
        self.used = np.zeros_like(self.approp)
        for c, f in zip(blocks.counties, finals):
            np.add.at(self.used, self.rows[c], f["used"].reshape(-1, self.T))

    def left_for(self, county: str) -> np.ndarray:
        """What the county may still receive, per pair and year (the order of its money)."""
        return _unused(self.approp, self.used, self.rule)[self.rows[county]].ravel()

    def change(self, county: str, before: np.ndarray, after: np.ndarray) -> None:
        np.add.at(self.used, self.rows[county], (after - before).reshape(-1, self.T))


def _repair(
    blocks: Blocks,
    scenario: Scenario,
    finals: list[dict[str, Any]],
    rerun: Callable[[list[tuple[str, np.ndarray, bool]]], list[dict[str, Any]]],
    say: Callable[[str], None],
    short_ok: bool = False,
    must_pay: str = "its hard floors",
) -> list[dict[str, Any]]:
    """Rounding can leave a county a little short of its floors: re-solve it with what it used plus what all counties
    left unused of the same funds (multi-year: of the same fund and year, without taking what a later year needs
    carried to it). Several short counties are first re-solved at once, each offered an even share of
    what is left (their offers together cannot overspend); the rest one county at a time, each offered all that is
    left then. A multi-year county still short then gets the thorough rounding (its result marked ``thorough``: the
    caller may hold it back when it gives up too much); one short even so is an error, or with ``short_ok`` stays
    short in the list returned (the caller holds back what it needs). ``rerun`` solves a list of (county, money,
    thorough) at once; ``must_pay`` names what a county short must pay (its hard floors, the starts it keeps)."""
    ledger = _Ledger(blocks, scenario, finals)
    out = list(finals)
    pair_funds = blocks.pairs["fund_id"].to_numpy()
    is_money = [np.repeat(pair_funds[idx] != CHANGES, ledger.T) for idx in blocks.county_pairs()]  # not changes of plan
    short = [i for i, f in enumerate(finals) if f["emergency"] > EMERGENCY_TOL]
    for i in short:
        left = ledger.left_for(blocks.counties[i])[is_money[i]].sum()
        say(f"county {blocks.counties[i]} is {finals[i]['emergency']:,.2f} yuan short after rounding; {left:,.0f} yuan of its funds are left unused elsewhere")

    def worth(i: int, extra: np.ndarray) -> bool:
        """With years and nothing left anywhere, the quick rounding would come back as short as before."""
        return extra[is_money[i]].sum() > EMERGENCY_TOL or scenario.years is None

    if len(short) > 1:
        offers = {i: ledger.left_for(blocks.counties[i]) / len(short) for i in short}
        asked = [i for i in short if worth(i, offers[i])]
        for i, again in zip(asked, rerun([(blocks.counties[i], finals[i]["used"] + offers[i], False) for i in asked])):
            if again["emergency"] <= EMERGENCY_TOL:
                ledger.change(blocks.counties[i], finals[i]["used"], again["used"])
                out[i] = again
        fixed = sum(out[i]["emergency"] <= EMERGENCY_TOL for i in short)
        say(f"{fixed} of the {len(short)} short counties repaired at once, each with a {1 / len(short):.1%} share of the money left")
    for i in short:
        c, f = blocks.counties[i], finals[i]
        if out[i]["emergency"] <= EMERGENCY_TOL:
            continue
        extra = ledger.left_for(c)
        again = rerun([(c, f["used"] + extra, False)])[0] if worth(i, extra) else f
        if again["emergency"] > EMERGENCY_TOL and scenario.years is not None:
            say(f"county {c} is {again['emergency']:,.2f} yuan short with that money: the general relax-and-fix and MIP over the county")
            again = {**rerun([(c, f["used"] + extra, True)])[0], "thorough": True}
        if again["emergency"] > EMERGENCY_TOL and short_ok:
            say(f"county {c} is {again['emergency']:,.2f} yuan short after the repair")
            out[i] = again
            continue
        if again["emergency"] > EMERGENCY_TOL:
            changes = ~is_money[i]
            capped = f" under the churn cap ({(f['used'] + extra)[changes].sum() / MONEY_UNIT:,.1f} changes of plan left for it)" if changes.any() else ""
            raise NoSolutionError(f"county {c}: {must_pay} need {again['emergency']:,.2f} yuan more than the upper-level money left for it{capped}")
        ledger.change(c, f["used"], again["used"])
        out[i] = again
    return out


def _unused(approp: np.ndarray, used: np.ndarray, rule: str) -> np.ndarray:
    """Money per fund and year that one county may receive on top of what it uses, all years together, without
    overspending any year: each year's own rest without carry-over; with carry-over, the cumulative extra may
    reach in every year what every later year can spare of the cumulative rest."""
    own = np.maximum(approp - used, 0.0)
    if rule == "none":
        return own
    spare = np.maximum(np.minimum.accumulate(np.cumsum(approp - used, axis=1)[:, ::-1], axis=1)[:, ::-1], 0.0)
    extra = np.diff(spare, axis=1, prepend=0.0)
    return extra if rule == "full" else np.minimum(own, extra)


def _assemble(
    scenario: Scenario, regions: pd.DataFrame, funds: pd.DataFrame, tree: RegionTree, hashes: dict[str, str], finals: list[dict[str, Any]],
    upper: pd.Series | None = None,
) -> Result:
    """The national result tables from the counties' tables (what they share, the upper funds, is checked by
    :func:`optimizer.verify.verify`); ``upper``: the upper funds' prices of the best Lagrangian bound (per 10,000 yuan)."""
    tables, parts = _joined(finals, ("households", "projects", "flows"))
    sums = add_sums([f["sums"] for f in finals])
    # a county's own fund has its county's price; an upper fund the price of the best Lagrangian bound, a national
    # price that proves the bound, else the best of the counties' prices of their copies (one more 10,000 yuan, given
    # where it lifts most at this allocation: at an allocation within the gap, far from it: 0.139 for a fund the
    # monolithic model prices at 0.040 and the Lagrangian bound at 0.053, on the 3,000-household test instance)
    prices = pd.concat([f["tables"]["funds"] for f in finals], ignore_index=True).groupby("fund_id")["shadow_price"].max()
    if upper is not None:
        prices.update(upper)
    # a fund no county task priced (its county has no households, so nothing it holds can be spent) is worth 0
    tables["funds"] = fund_table(tree, funds, tables["flows"], prices.reindex(funds["fund_id"]).fillna(0.0).to_numpy(dtype=float))
    tables["regions"] = roll_up_regions(regions, tree, [f["tables"]["regions"] for f in finals])
    tables["poverty"] = poverty_table(sums)
    tables["marginal"] = _best_marginal(tree, [f["tables"]["marginal"] for f in finals])
    status = {"status": "", "objective": 0.0, "bound": 0.0, "lp_bound": 0.0, "gap": 0.0, "used_full_mip": False, "stopped_at_time_limit": False}
    manifest = run_manifest(scenario, hashes, "", status, sums, tables["projects"], {}, {})
    return Result(tables=tables, manifest=manifest, scenario=scenario, parts=parts)


def _joined(finals: list[dict[str, Any]], names: tuple[str, ...]) -> tuple[dict[str, pd.DataFrame], dict[str, list[Path]]]:
    """The counties' tables ``names`` concatenated, and the households table's parts (in county order) instead of
    the table when every county wrote its households to disk."""
    on_disk = bool(finals) and all("part" in f for f in finals)
    tables = {k: pd.concat([f["tables"][k] for f in finals], ignore_index=True) for k in names if not (on_disk and k == "households")}
    return tables, ({"households": [Path(f["part"]) for f in finals]} if on_disk else {})


def _parts_folder(instance: Instance | None, scheduler: str | None) -> str | None:
    """Where the counties write their households tables (a new temporary folder) when they read them from a folder
    on this machine's cluster: the driver then holds the national tables that are as long as the counties, not the
    households (30 million at most). None when the driver sends the rows, or the workers may be elsewhere."""
    return tempfile.mkdtemp(prefix="optimizer-parts-") if instance is None and scheduler is None else None


def _kept_with(result: _R, parts: str | None) -> _R:
    """``result``, the folder ``parts`` removed when it is garbage-collected: the parts live as long as the result."""
    if parts is not None:
        weakref.finalize(result, shutil.rmtree, parts, True)
    return result


@contextlib.contextmanager
def _removed_on_failure(parts: str | None) -> Iterator[None]:
    """The folder ``parts`` removed if what runs inside fails."""
    try:
        yield
    except BaseException:
        if parts is not None:
            shutil.rmtree(parts, ignore_errors=True)
        raise


def _best_marginal(tree: RegionTree, tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The national marginal table from the counties' own (:func:`optimizer.result.marginal_table`): a region's best
    value over the counties below it (a county's ancestors appear in every county under them), level by level in
    the tree's order, as the monolithic table."""
    rows = pd.concat(tables, ignore_index=True)
    best = rows.sort_values(["region_id", "value_per_10k", "best_village"], ascending=[True, False, True], kind="stable").drop_duplicates("region_id")
    order = np.lexsort((tree.pos(best["region_id"]), best["level"].to_numpy()))
    return best.iloc[order].reset_index(drop=True)
