"""The nightly allocation job: re-plan what is still open, keep what is committed, publish only verified versions.

One run: take the job lock -> read and validate the registry (nothing is written when a row is bad) -> skip when
the inputs equal those of the current version -> ledger row ``running`` -> solve the open instance with the
churn cap against the current version -> verify -> in one transaction write the version, publish it when its gap
is within ``nightly.max_gap``, and close the ledger row. A job killed anywhere leaves the current version as it
was; its ``running`` ledger row is marked ``abandoned`` by the next run.

With a ``years:`` section the job is the rolling horizon of the multi-year model: the published version's starts
and builds of the years before ``nightly.current_year`` (default ``years.first``), and every commitment, are kept
fixed; the rest is re-planned under the churn cap (counting changes of plan or start year among the open households
whose published start is not kept), checked by :func:`optimizer.multiyear.verify_multiyear` and published the same way.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, and_, case, exists, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from . import storage
from .contract import Level
from .data import Instance, isin
from .decompose import StoredChurn, solve_decomposed, solve_decomposed_years
from .edits import apply_data_edits
from .errors import BusyError, InfeasibleError, InputError, NoSolutionError, NotPublishedError, OptimizerError, VerificationError
from .model import ChurnCap
from .multiyear import Kept, MultiYearResult, Withheld, kept_of, kept_source, kept_violations, previous_of, solve_multiyear, verify_multiyear
from .outputs import _json
from .result import Result
from .scenario import Scenario
from .solve import auto_decomposes, decomposable, solve
from .storage import runs, version_flows, version_households, version_projects, versions
from .verify import verify

if TYPE_CHECKING:
    from .partitioned import Frame

log = logging.getLogger(__name__)

PAUSE_ENV = "OPTIMIZER_PAUSE_AT"  # fault injection for the kill tests: locked, solve or write
PAUSE_SECONDS_ENV = "OPTIMIZER_PAUSE_SECONDS"
# scenario fields that do not change a night's allocation: editing them alone leaves the inputs 'unchanged'
NOT_HASHED = {"name", "description", "data", "limits"}


@dataclass(frozen=True)
class NightlyOutcome:
    """What one nightly run did."""

    run_id: int
    status: str  # published, unchanged or rejected
    version_id: int | None
    counts: dict[str, int]
    objective: float | None = None
    gap: float | None = None
    expected_lifted: float | None = None
    message: str = ""


def counts_text(counts: dict[str, int]) -> str:
    """A version's household counts against the one before, as the job reports them: "households added 20,000, ..."."""
    return "households " + ", ".join(f"{k.removeprefix('households_')} {v:,}" for k, v in counts.items())


def run_nightly(
    url: str,
    scenario: Scenario,
    *,
    wait: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> NightlyOutcome:
    """Run the nightly job against the database at ``url`` (see the module docstring)."""
    say = progress or (lambda msg: log.info(msg))
    engine = storage.open_db(url)  # a command-line URL: a relative SQLite path is relative to the working folder
    storage.require_schema(engine)
    try:
        return _locked(engine, scenario, wait, say)
    finally:
        engine.dispose()


def _locked(engine: Engine, scenario: Scenario, wait: float, say: Callable[[str], None]) -> NightlyOutcome:
    with storage.job_lock(engine, wait=wait):
        _pause("locked")
        _abandon_stale(engine)
        url = engine.url.render_as_string(hide_password=False)
        night: Callable[[int], NightlyOutcome]
        scenario_json = json.dumps(scenario.model_dump(mode="json", exclude=NOT_HASHED), sort_keys=True)
        current = storage.current_version(engine)
        _check_against_published(engine, current, scenario)
        _require_open_households(engine, current)
        if by_county(url, scenario, current):
            say(f"checking the registry in {storage.redact(url)}; the workers read it county by county")
            from_year = _from_year(scenario)
            frame = storage.registry_frame(url, replan=None if from_year is None else (current, from_year))  # a bad row stops here, before any write
            input_hash = hashlib.sha256((scenario_json + json.dumps(frame.hashes, sort_keys=True)).encode()).hexdigest()
            kw: dict[str, Any] = {"url": url, "frame": frame, "current": current, "scenario": scenario, "input_hash": input_hash, "say": say}
            if from_year is None:
                night = functools.partial(_run_by_county, engine, **kw)
            else:
                night = functools.partial(_run_multiyear_by_county, engine, from_year=from_year, **kw)
        else:
            say(f"reading the registry from {storage.redact(url)}")
            with engine.connect() as conn:
                hashes = storage.hashes_of(conn)  # before the read: a change after it refuses the version, never slips in
            reg = storage.read_registry(engine)
            input_hash = reg.input_hash(scenario_json)
            if scenario.years is not None:
                multi = multiyear_inputs(engine, reg, scenario)  # a bad row stops here, before any write
                night = functools.partial(_run_multiyear, engine, mi=multi, scenario=scenario, input_hash=input_hash, say=say, hashes=hashes)
            else:
                opened = storage.open_instance(reg)  # a bad row stops here, before any write
                scenario = _net_of_commitments(scenario, opened)
                instance = replace(opened.instance, poor_outside=_poor_outside(reg, opened))  # solve applies the data edits
                night = functools.partial(
                    _run, engine, reg=reg, opened=opened, instance=instance, scenario=scenario, input_hash=input_hash, say=say, hashes=hashes
                )
        if current is not None and _version_hash(engine, current) == input_hash:
            run_id = _ledger(engine, status="unchanged", ended=True, version_id=current, input_hash=input_hash,
                             message="inputs equal those of the current version: no new version")  # fmt: skip
            say(f"inputs unchanged since version {current}: nothing to do")
            return NightlyOutcome(run_id, "unchanged", current, {})
        _refuse_rejected_again(engine, input_hash, current)
        run_id = _ledger(engine, status="running", input_hash=input_hash)
        storage.claim_lock(engine, run_id)
        try:
            return night(run_id)
        except BaseException as err:
            status = "rejected" if isinstance(err, NotPublishedError) else "failed"
            if isinstance(err, OptimizerError):
                message = str(err)
            elif isinstance(err, SQLAlchemyError):
                message = f"{type(getattr(err, 'orig', None) or err).__name__}: {storage.refusal(err)}"
            else:
                message = f"{type(err).__name__}: {err}"
            _close(engine, run_id, status=status, message=message[:4000])
            raise


def by_county(url: str, scenario: Scenario, current: int | None) -> bool:
    """Whether the night is decomposed by county with each worker reading its counties from the registry at ``url``
    (``nightly.by_county``; ``auto``: a night of as many open households as ``solve`` decomposes (a one-year one
    from :data:`optimizer.solve.DECOMPOSE_FROM`, a multi-year one from :data:`optimizer.multiyear.DECOMPOSE_FROM`,
    or :data:`optimizer.multiyear.DECOMPOSE_REPLAN_FROM` once a version is published: ``current``), that the
    decomposition can solve, without data edits, which need the registry loaded whole)."""
    choice = scenario.nightly.by_county
    if choice == "no":
        return False
    fits = {
        "data edits (applied to the registry loaded whole)": bool(scenario.data_edits),
        "mode min_cost or helpers.capacity_in_model (not decomposed)": not decomposable(scenario),
    }
    if choice == "yes":
        why = [k for k, v in fits.items() if v]
        if why:
            raise InputError(f"scenario nightly.by_county: yes, but the scenario has {'; '.join(why)}")
        return True
    if any(fits.values()):
        return False
    return auto_decomposes(scenario, storage.open_households(url), replan=scenario.years is not None and current is not None)


def _require_open_households(engine: Engine, current: int | None) -> None:
    """Refuse, by name, a night with no household to plan (every one exited): it read as an empty households table."""
    h = storage.households
    with engine.connect() as conn:
        n_open, n_all = conn.execute(select(func.sum(case((h.c.status.in_(storage.OPEN_STATUSES), 1), else_=0)), func.count()).select_from(h)).one()
    if not n_open:
        what = f"all {n_all:,} households of the registry have exited" if n_all else "the registry holds no household"
        stays = f"version {current} stays current" if current is not None else "no version is published"
        raise InputError(f"no open household to plan: {what}; {stays} (`optimizer db status returned` re-opens one)")


def _check_against_published(engine: Engine, current: int | None, scenario: Scenario) -> None:
    """Refuse a night that would undo what the published version kept as done: a multi-year night re-planning from a
    year before the one that version re-planned from (its decisions of the years between would be planned again),
    or a one-year night after a multi-year version (its starts of past years would be dropped)."""
    if current is None:
        return
    with engine.connect() as conn:
        manifest = json.loads(conn.execute(select(versions.c.manifest).where(versions.c.version_id == current)).scalar_one())
    if not manifest.get("multiyear"):
        return
    published = (manifest.get("nightly") or {}).get("current_year")
    from_year = _from_year(scenario)
    if from_year is None:
        raise InputError(
            f"scenario '{scenario.name}' has no years: section, but the published version {current} is a multi-year plan: a one-year "
            f"night would drop the starts it kept as done. Run the nightly job with the multi-year scenario, or publish a "
            f"one-year version first (optimizer db ledger, optimizer db publish VERSION)"
        )
    if published is not None and from_year < int(published):
        raise InputError(
            f"scenario nightly.current_year: {from_year} is before {published}, the year from which the published version "
            f"{current} re-planned: the decisions of {from_year} to {int(published) - 1} were kept as done and would be "
            f"planned again. Set nightly.current_year (--from-year) to {published} or later, or publish a version that "
            f"re-planned from {from_year} or earlier (optimizer db ledger, optimizer db publish VERSION)"
        )


def _from_year(scenario: Scenario) -> int | None:
    """The year a multi-year night re-plans from (``nightly.current_year``, by default the first), None without years."""
    yrs = scenario.years
    if yrs is None:
        return None
    return scenario.nightly.current_year or yrs.first


def _run(
    engine: Engine,
    run_id: int,
    *,
    reg: storage.Registry,
    opened: storage.OpenInstance,
    instance: Any,
    scenario: Scenario,
    input_hash: str,
    say: Callable[[str], None],
    hashes: dict[str, str],
) -> NightlyOutcome:
    published = _published_plans(engine, reg.current_version)
    open_ids = instance.households["household_id"]
    previous = published.loc[~published["committed"] & isin(published["household_id"], open_ids), ["household_id", "plan", "helper_id"]].reset_index(drop=True)
    cap = ChurnCap(previous, math.floor(scenario.nightly.max_churn * len(previous)), _flows_reader(engine, reg.current_version))
    say(
        f"{instance.n_households:,} open households ({len(opened.committed):,} committed, {opened.exited:,} exited); "
        f"at most {cap.max_changes:,} of {len(previous):,} planned households may change plan"
    )
    _pause("solve")
    try:
        result = solve(scenario, instance, progress=say, churn=cap if len(previous) else None)
    except InfeasibleError:
        if not len(previous):
            raise
        solve(scenario, instance, progress=lambda _m: None)  # raises its own diagnosis when the cap is not the cause
        raise _churn_infeasible(len(previous), cap.max_changes, scenario, "published plan") from None
    verify(result, apply_data_edits(instance, scenario.data_edits), scenario)  # the instance as solved (edits applied once)
    tables = {**_version_tables(result, opened.committed_projects), "households": [_with_committed(result.households, opened.committed)]}
    return _publish(engine, run_id, scenario, input_hash, result, tables, len(opened.committed), reg.current_version, say, hashes=hashes)


def _run_by_county(
    engine: Engine,
    run_id: int,
    *,
    url: str,
    frame: Frame,
    current: int | None,
    scenario: Scenario,
    input_hash: str,
    say: Callable[[str], None],
) -> NightlyOutcome:
    """A one-year night decomposed by county, each worker reading its counties' open households, published plans and
    committed households from the registry: the driver holds no household (``frame``: what it read, checked and
    hashed). The version is written from the counties' households tables one county at a time, the committed plans
    copied within the database, and only if the registry still hashes as ``frame`` did."""
    by_village, committed, exited = storage.night_counts(url, current)
    tree = frame.tree
    county = tree.ancestor_ids(tree.pos(pd.Series(by_village.index, dtype=object)), Level.COUNTY)
    planned = pd.Series(by_village.to_numpy(), index=county).groupby(level=0).sum()
    n_planned = int(planned.sum())
    churn = StoredChurn(current, planned, math.floor(scenario.nightly.max_churn * n_planned), _flows_reader(engine, current))
    say(
        f"{int(frame.county_households.sum()):,} open households ({committed:,} committed, {exited:,} exited); "
        f"at most {churn.max_changes:,} of {n_planned:,} planned households may change plan"
    )
    _pause("solve")
    try:
        try:
            result = solve_decomposed(scenario, None, url, progress=say, churn=churn, frame=frame)
        except (InfeasibleError, NoSolutionError):
            if not n_planned:
                raise
            solve_decomposed(scenario, None, url, progress=lambda _m: None, frame=frame)  # its own error when the cap is not the cause
            raise _churn_infeasible(n_planned, churn.max_changes, scenario, "published plan") from None
    except NoSolutionError as err:
        how = "nightly.by_county: no loads the registry whole and solves such a night as one model (or names the money it lacks)"
        raise NoSolutionError(f"{err}; {how}", err.cause) from err
    verify(result)  # each county on its worker, the shared funds here
    households = (_with_committed(hh, None) for hh in result.frames("households"))
    tables = {**_version_tables(result, storage.committed_projects(engine)), "households": households}
    return _publish(engine, run_id, scenario, input_hash, result, tables, committed, current, say, hashes=frame.hashes, carry=True)


def _flows_reader(engine: Engine, version: int | None) -> Callable[[], pd.DataFrame] | None:
    """Reads the published version's money by fund and village (and year), once: a decomposed night's master starts
    from it, so that the counties can keep their published plans from the first round (an even split left them
    short under the cap), and a multi-year night's kept years hold what it paid. Read only when one of them asks."""
    return None if version is None else functools.cache(functools.partial(storage.version_table, engine, version_flows, version))


def _publish(
    engine: Engine,
    run_id: int,
    scenario: Scenario,
    input_hash: str,
    result: Result,
    tables: Mapping[str, Iterable[pd.DataFrame]],
    committed: int,
    current: int | None,
    say: Callable[[str], None],
    hashes: dict[str, str],
    carry: bool = False,
) -> NightlyOutcome:
    """Write a one-year night's version (its counts against ``current`` taken from the rows written, the churn cap
    checked) and publish it; see :func:`_write_version`."""
    churn = result.manifest.get("churn") or {}
    allowed = max(int(churn.get("max_changes", 0)), int(churn.get("forced_changes", 0)))
    manifest = {**result.manifest, "nightly": {"run_id": run_id, "committed_households": committed}}
    version_id, counts, expected = _write_version(
        engine, run_id, scenario, input_hash, tables, manifest, committed=committed, current=current, allowed=allowed if churn else None, hashes=hashes,
        carry=carry,
    )
    say(f"published version {version_id}: {expected:,.1f} households expected lifted, gap {result.gap:.3%}; {counts_text(counts)}")
    return NightlyOutcome(run_id, "published", version_id, counts, float(result.manifest["objective"]), float(result.gap), expected)


def _write_version(
    engine: Engine,
    run_id: int,
    scenario: Scenario,
    input_hash: str,
    tables: Mapping[str, Iterable[pd.DataFrame]],
    manifest: dict[str, Any],
    *,
    committed: int | None,
    current: int | None,
    expected: float | None = None,
    allowed: int | None = None,
    hashes: dict[str, str],
    carry: bool = False,
    years: bool = False,
) -> tuple[int, dict[str, int], float]:
    """Write the version, its rows (each table given as frames, written one after the other), the ledger update and
    (when its gap is within ``nightly.max_gap``) the ``current`` pointer in one transaction; return the version,
    its counts against ``current`` (taken from the rows written, :func:`_churn_counts`; the changes of plan checked
    against ``allowed``) and its expected households lifted (by default a one-year version's, from the rows). Nothing
    is written unless the registry still hashes as it did when the night began (``hashes``): a commitment, spending
    or import made while the night ran would otherwise be contradicted by the version it publishes. With ``carry``
    (a one-year night whose workers read the registry) the committed plans are copied from the commitments. A
    multi-year version (``years``) holds its committed households and projects among its rows: they are marked
    here, and counted unless ``committed`` is given. Raise :class:`NotPublishedError` when the gap is too large
    (the version is kept, unpublished)."""
    gap = float(manifest["gap"])
    publish = gap <= scenario.nightly.max_gap + 1e-12
    status = "published" if publish else "rejected"
    objective, bound = float(manifest["objective"]), float(manifest["bound"])
    with _writing(engine, consistent=True) as conn:
        version_id = conn.execute(
            versions.insert().values(
                run_id=run_id, created_at=storage.now(), status=status, scenario_name=scenario.name, input_hash=input_hash,
                objective=objective, bound=bound, gap=gap, expected_lifted=0.0, cost=0.0, households=0, committed_households=0, manifest="{}",
            )  # fmt: skip
        ).inserted_primary_key[0]  # type: ignore[index]
        if storage.hashes_of(conn) != hashes:  # after the first write: no writer can come between (SQLite)
            raise BusyError(
                "the registry changed while the night ran (a commitment, spending or import since it read it): nothing was written; "
                "run the job again"
            )
        if storage.published_in(conn) != current:  # a rollback (db publish) meanwhile: this version was planned against another
            raise BusyError(
                f"version {storage.published_in(conn)} was published while the night ran (it planned against version {current}): "
                "nothing was written; run the job again"
            )
        for table, frames in ((version_households, tables["households"]), (version_projects, tables["projects"]), (version_flows, tables["flows"])):
            for df in frames:
                storage.insert_rows(conn, table, df.assign(version_id=version_id))
        vh, vp = version_households, version_projects
        if years:
            storage.mark_committed(conn, version_id)
        elif carry:
            storage.carry_commitments(conn, version_id)
        if committed is None:
            committed = int(conn.execute(select(func.count()).where(vh.c.version_id == version_id, vh.c.committed)).scalar() or 0)
        totals = select(func.count(), func.sum(vh.c.p_success), func.sum(vh.c.cost + vh.c.monitoring_cost)).where(vh.c.version_id == version_id)
        n, lifted, cost = conn.execute(totals).one()
        cost = float(cost or 0.0) + float(conn.execute(select(func.sum(vp.c.cost)).where(vp.c.version_id == version_id)).scalar() or 0.0)
        counts = _churn_counts(conn, version_id, current, years)
        if allowed is not None and counts["households_changed"] > allowed:
            raise VerificationError([f"churn: {counts['households_changed']} households changed plan, the cap allows {allowed}"])
        expected = float(lifted or 0.0) if expected is None else expected
        manifest = {**manifest, "nightly": {**counts, "committed_households": committed, **manifest.get("nightly", {})}}
        conn.execute(
            update(versions)
            .where(versions.c.version_id == version_id)
            .values(expected_lifted=expected, cost=cost, households=int(n), committed_households=committed,
                    manifest=json.dumps(manifest, sort_keys=True, default=_json))
        )  # fmt: skip
        _pause("write")
        if publish:
            storage.set_current(conn, version_id)
        conn.execute(
            update(runs)
            .where(runs.c.run_id == run_id)
            .values(ended_at=storage.now(), status=status, version_id=version_id, objective=objective, bound=bound, gap=gap, **counts)
        )
    if not publish:
        raise NotPublishedError(
            f"version {version_id} not published: gap {gap:.4%} is above nightly.max_gap {scenario.nightly.max_gap:.4%}; "
            f"version {current} stays current ({_gap_advice(manifest)})"
        )
    return int(version_id), counts, expected


@contextmanager
def _writing(engine: Engine, consistent: bool) -> Iterator[Connection]:
    """A write transaction; ``consistent``: every read in it sees one snapshot (PostgreSQL: repeatable read; SQLite's
    write transaction holds the only write lock once it has written)."""
    with engine.connect() as conn:
        if consistent and engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


@dataclass(frozen=True)
class MultiYearInputs:
    """What a multi-year night plans: the registry's open households plus every household whose start is kept
    (started before the current year in the published version, or committed), funds less what was spent outside
    the plans (taken from the current year on), and the decisions to keep."""

    instance: Instance
    kept: Kept
    withheld: Withheld
    published: pd.DataFrame  # the current version's household plans (empty before the first)
    current_year: int
    current_version: int | None


def multiyear_inputs(engine: Engine, reg: storage.Registry, scenario: Scenario) -> MultiYearInputs:
    """Validate the registry and collect the multi-year re-plan's inputs (no write)."""
    yrs = scenario.years
    current = _from_year(scenario)
    assert yrs is not None and current is not None
    version = reg.current_version
    published = _published_plans(engine, version)
    projects = (
        storage.version_table(engine, version_projects, version)
        if version is not None
        else pd.DataFrame({"project_id": pd.Series(dtype=object), "built_year": pd.Series(dtype=np.int64)})
    )
    comm = reg.commitments
    with engine.connect() as conn:
        problems = storage.replan_problems(conn)
    known = set(reg.tables["households"]["household_id"])
    hh_comm = comm[comm["kind"] == "household"]
    problems += [
        f"table commitments (commitment_id={c}), column ref_id: unknown household '{r}'"
        for c, r in zip(hh_comm["commitment_id"], hh_comm["ref_id"]) if r not in known
    ]  # fmt: skip
    if problems:
        raise InputError(problems, source=reg.source)
    kept = kept_of(published, projects, comm, current, yrs.first, kept_source(version))
    # kept households stay in the plan whatever their status now (their money was spent, or promised, in their year);
    # commitments are decisions inside the model here, not money taken out of the funds
    t = {k: v.copy() for k, v in reg.tables.items()}
    hh = t["households"]
    hh.loc[hh["household_id"].isin(set(kept.starts["household_id"])), "status"] = "registered"
    spent = pd.to_numeric(t["funds"]["spent"], errors="coerce").to_numpy(dtype=float)
    wrong = ~np.isfinite(spent) | (spent < 0)
    if wrong.any():
        raise InputError([f"table funds (fund_id={k}), column spent: must be a non-negative number, not '{x}'"
                          for k, x in zip(t["funds"]["fund_id"][wrong], t["funds"]["spent"][wrong])], source=reg.source)  # fmt: skip
    t["funds"]["committed"] = 0.0
    t["funds"]["spent"] = 0.0  # withheld from the current year on instead of from the whole horizon
    opened = storage.open_instance(replace(reg, tables=t, commitments=reg.commitments.iloc[0:0], charges=reg.charges.iloc[0:0]))
    withheld = Withheld(dict(zip(t["funds"]["fund_id"], spent)), current)
    return MultiYearInputs(
        instance=opened.instance,
        kept=replace(kept, read_flows=_flows_reader(engine, version)),
        withheld=withheld,
        published=published,
        current_year=current,
        current_version=version,
    )


def _run_multiyear(
    engine: Engine, run_id: int, mi: MultiYearInputs, scenario: Scenario, input_hash: str, say: Callable[[str], None], hashes: dict[str, str]
) -> NightlyOutcome:
    """Re-plan the years from ``mi.current_year`` on with everything kept fixed; verify; publish."""
    instance = mi.instance
    say(
        f"{instance.n_households:,} households, years from {mi.current_year} re-planned: {len(mi.kept.starts):,} starts and "
        f"{len(mi.kept.built):,} project builds kept"
    )
    previous = multiyear_previous(mi)
    cap = ChurnCap(previous, math.floor(scenario.nightly.max_churn * len(previous)))
    say(f"at most {cap.max_changes:,} of {len(previous):,} households with a published start from {mi.current_year} on may change plan or start year")
    _pause("solve")
    solve_kw: dict[str, Any] = {"kept": mi.kept, "withheld": mi.withheld}
    try:
        result = solve_multiyear(scenario, instance, progress=say, churn=cap if len(previous) else None, **solve_kw)
    except InfeasibleError:
        if not len(previous):
            raise
        solve_multiyear(scenario, instance, progress=lambda _m: None, **solve_kw)  # its own diagnosis when the cap is not the cause
        raise _churn_infeasible(len(previous), cap.max_changes, scenario, "published plan and start year") from None
    bad = verify_multiyear(result, apply_data_edits(instance, scenario.data_edits), scenario, mi.withheld)
    bad += kept_violations(result, mi.kept)
    return _publish_multiyear(engine, run_id, scenario, input_hash, result, bad, mi.current_year, mi.current_version, say, hashes=hashes)


def _run_multiyear_by_county(
    engine: Engine,
    run_id: int,
    *,
    url: str,
    frame: Frame,
    current: int | None,
    from_year: int,
    scenario: Scenario,
    input_hash: str,
    say: Callable[[str], None],
) -> NightlyOutcome:
    """A multi-year night decomposed by county, each worker reading its counties' households, the published rows
    and the commitments it keeps or caps from the registry (the driver holds no household of the registry; ``frame``:
    what it read, checked and hashed). Each county checks its kept starts and builds and counts its changes; the
    version is written only if the registry still hashes as ``frame`` did."""
    by_village, committed, _ = storage.night_counts(url, current, from_year)
    tree = frame.tree
    county = tree.ancestor_ids(tree.pos(pd.Series(by_village.index, dtype=object)), Level.COUNTY)
    planned = pd.Series(by_village.to_numpy(), index=county).groupby(level=0).sum()
    n_planned = int(planned.sum())
    churn = StoredChurn(current, planned, math.floor(scenario.nightly.max_churn * n_planned), _flows_reader(engine, current), from_year)
    withheld = Withheld(storage.spent_by_fund(url), from_year)
    say(
        f"{int(frame.county_households.sum()):,} households, years from {from_year} re-planned ({committed:,} committed); "
        f"at most {churn.max_changes:,} of {n_planned:,} households with a published start from {from_year} on may change plan or start year"
    )
    _pause("solve")
    kw: dict[str, Any] = {"frame": frame, "withheld": withheld}
    try:
        try:
            result = solve_decomposed_years(scenario, None, url, progress=say, churn=churn, **kw)
        except (InfeasibleError, NoSolutionError):
            if not n_planned:
                raise
            # every published plan free to change: its own error when the cap is not the cause
            solve_decomposed_years(scenario, None, url, progress=lambda _m: None, churn=replace(churn, max_changes=n_planned), **kw)
            raise _churn_infeasible(n_planned, churn.max_changes, scenario, "published plan and start year") from None
    except NoSolutionError as err:
        how = "nightly.by_county: no loads the registry whole and solves such a night as one model (or names the money it lacks)"
        raise NoSolutionError(f"{err}; {how}", err.cause) from err
    return _publish_multiyear(engine, run_id, scenario, input_hash, result, [], from_year, current, say, hashes=frame.hashes)


def _publish_multiyear(
    engine: Engine,
    run_id: int,
    scenario: Scenario,
    input_hash: str,
    result: MultiYearResult,
    bad: list[str],
    from_year: int,
    current: int | None,
    say: Callable[[str], None],
    hashes: dict[str, str],
) -> NightlyOutcome:
    """Check a multi-year night's churn cap (besides the problems ``bad`` found), write its version (committed rows
    marked, counts against ``current`` taken from the rows written) and publish it; see :func:`_write_version`."""
    man = result.manifest
    churn = man.get("churn")
    if churn:
        allowed = max(int(churn["max_changes"]), int(churn.get("forced_changes", 0)))
        if churn["changed"] > allowed:
            bad = [*bad, f"churn: {churn['changed']} households changed plan or start year, the cap allows {allowed}"]
    if bad:
        raise VerificationError(bad)
    rolling = man.get("rolling") or {}
    nightly = {"run_id": run_id, "current_year": from_year, "kept_starts": rolling.get("kept_starts", 0), "kept_builds": rolling.get("kept_builds", 0)}
    expected = float(man["expected_out_at_deadline"])
    version_id, counts, _ = _write_version(
        engine, run_id, scenario, input_hash, _multiyear_version_tables(result), {**man, "nightly": nightly},
        expected=expected, committed=None, current=current, hashes=hashes, years=True,
    )  # fmt: skip
    say(f"published version {version_id}: {expected:,.1f} households expected out of poverty at {scenario.years.last if scenario.years else ''}, "
        f"gap {float(man['gap']):.3%}; {counts_text(counts)}")  # fmt: skip
    return NightlyOutcome(run_id, "published", version_id, counts, float(man["objective"]), float(man["gap"]), expected)


def multiyear_previous(mi: MultiYearInputs) -> pd.DataFrame:
    """The households the churn cap counts on a multi-year night (:func:`optimizer.multiyear.previous_of`)."""
    return previous_of(mi.published, mi.instance.households["household_id"], mi.kept)


def _churn_infeasible(planned: int, max_changes: int, scenario: Scenario, what: str) -> InfeasibleError:
    """The error of a night the churn cap alone makes infeasible."""
    return InfeasibleError(
        f"the churn cap cannot be met: keeping all but {max_changes:,} of the {planned:,} planned households on their "
        f"{what} leaves the floors or targets unpaid; raise nightly.max_churn (now {scenario.nightly.max_churn:g})"
    )


def _multiyear_version_tables(result: MultiYearResult) -> dict[str, Iterable[pd.DataFrame]]:
    """The multi-year result in the version tables' layout (with the start, build and flow years; the committed rows
    are marked in the database, :func:`_write_version`); its households part by part when they are on disk."""
    households = (
        hh.assign(helper_id="", year=hh["year"].astype(int), effect_year=hh["effect_year"].astype(int), committed=False)[[*storage.PLAN_COLUMNS, "committed"]]
        for hh in result.frames("households")
    )
    pr = result.tables["projects"]
    built_year = pd.to_numeric(pr["built_year"].replace("", 0)).astype(int)
    projects = pr.assign(built=pr["built"].astype(bool), built_year=built_year, committed=False)
    return {"households": households, "projects": [projects], "flows": [result.tables["flows"]]}


def version_result(engine: Engine, version: int) -> MultiYearResult:
    """A multi-year version read back from the database in the layout of a multi-year run (households with
    ``started``, projects with ``built_year`` or "", flows per year, money spent per fund and year), so that
    :func:`optimizer.multiyear.verify_multiyear` can check it again."""
    with engine.connect() as conn:
        row = conn.execute(select(versions).where(versions.c.version_id == version)).one()
    manifest = json.loads(row.manifest)
    if not manifest.get("multiyear"):
        raise InputError(f"version {version} is a one-year allocation, not a multi-year one")
    hh = storage.version_table(engine, version_households, version)
    pr = storage.version_table(engine, version_projects, version)
    flows = storage.version_table(engine, version_flows, version)
    spending = flows.groupby(["fund_id", "year"], as_index=False)["amount"].sum().rename(columns={"amount": "spent"})
    tables = {
        "households": hh.assign(started=hh["year"] > 0),
        "projects": pr.assign(built_year=np.where(pr["built_year"] > 0, pr["built_year"].astype(object), "")),
        "flows": flows,
        "spending": spending,
    }
    return MultiYearResult(tables=tables, manifest=manifest)


def _net_of_commitments(scenario: Scenario, opened: storage.OpenInstance) -> Scenario:
    """A min-cost target counts the exits the committed plans already bring."""
    if scenario.mode == "min_cost" and scenario.target.lifted is not None and len(opened.committed):
        done = float(opened.committed["p_success"].sum())
        return scenario.with_overrides({"target.lifted": max(scenario.target.lifted - done, 0.0)})
    return scenario


def _poor_outside(reg: storage.Registry, opened: storage.OpenInstance) -> dict[str, float]:
    """Per county: the committed households still poor (not exited), one each less its plan's expected exit, which
    a county incidence target counts although they are outside the re-plan."""
    hh = reg.tables["households"].set_index("household_id")
    comm = opened.committed
    comm = comm[(hh["status"].reindex(comm["household_id"]) != "exited").to_numpy()]
    if not len(comm):
        return {}
    tree = opened.instance.tree
    county = tree.ancestor_ids(tree.pos(hh["village_id"].reindex(comm["household_id"])), Level.COUNTY)
    left = 1.0 - pd.to_numeric(comm["p_success"]).to_numpy(dtype=float)
    return {str(k): float(v) for k, v in pd.Series(left, index=county).groupby(level=0).sum().items()}


def _published_plans(engine: Engine, version: int | None) -> pd.DataFrame:
    """Every household plan of the current version (empty before the first)."""
    if version is None:
        return pd.DataFrame(
            {"household_id": pd.Series(dtype=object), "plan": pd.Series(dtype=object), "helper_id": pd.Series(dtype=object), "committed": pd.Series(dtype=bool),
             "year": pd.Series(dtype=np.int64), "monitored": pd.Series(dtype=bool), "monitoring_years": pd.Series(dtype=np.int64)}
        )  # fmt: skip
    prev = storage.version_table(engine, version_households, version)
    return prev.assign(committed=prev["committed"].astype(bool))


def _churn_counts(conn: Connection, version: int, current: int | None, years: bool = False) -> dict[str, int]:
    """A one-year version's open households added, changed and unchanged against the ``current`` version (planned
    there, uncommitted), and the households ``current`` planned that ``version`` no longer holds (exited), counted
    from the rows written. A multi-year version counts every household it plans (committed and kept ones too), and a
    change of start year as a change."""
    new, old = version_households.alias("new"), version_households.alias("old")
    mine = new.c.version_id == version if years else and_(new.c.version_id == version, ~new.c.committed)
    n_open = int(conn.execute(select(func.count()).select_from(new).where(mine)).scalar() or 0)
    if current is None:
        return {"households_added": n_open, "households_changed": 0, "households_unchanged": 0, "households_removed": 0}
    planned = and_(old.c.household_id == new.c.household_id, old.c.version_id == current, *([] if years else [~old.c.committed]))
    differ = func.sum(case(((new.c.plan != old.c.plan) | (new.c.year != old.c.year) if years else new.c.plan != old.c.plan, 1), else_=0))
    both, changed = conn.execute(select(func.count(), differ).select_from(new.join(old, planned)).where(mine)).one()
    still = exists().where(new.c.version_id == version, new.c.household_id == old.c.household_id)
    removed = conn.execute(select(func.count()).select_from(old).where(old.c.version_id == current, ~still)).scalar()
    return {
        "households_added": n_open - int(both),
        "households_changed": int(changed or 0),
        "households_unchanged": int(both) - int(changed or 0),
        "households_removed": int(removed or 0),
    }


def _with_committed(open_rows: pd.DataFrame, committed: pd.DataFrame | None) -> pd.DataFrame:
    """A one-year result's households (or a county's) in the version layout, with the ``committed`` plans carried
    over when given."""
    hh = open_rows if "helper_id" in open_rows.columns else open_rows.assign(helper_id="")
    hh = hh.assign(year=0, effect_year=0, p_deadline=0.0, monitored=False, monitoring_years=0, monitoring_cost=0.0)[storage.PLAN_COLUMNS]
    hh = hh.assign(committed=False, helper_id=hh["helper_id"].fillna("").astype(str))
    if committed is None:
        return hh
    return pd.concat([committed.assign(committed=True), hh], ignore_index=True).sort_values("household_id", kind="stable").reset_index(drop=True)


def _version_tables(result: Result, committed_projects: pd.DataFrame) -> dict[str, list[pd.DataFrame]]:
    """A one-year version's projects (the committed ones, ``project_id`` and ``cost`` charged, marked built) and flows."""
    projects = result.tables["projects"].copy()
    done = committed_projects.set_index("project_id")["cost"]
    is_done = projects["project_id"].isin(done.index)
    projects["committed"] = is_done
    projects["built"] = projects["built"].astype(bool) | is_done
    projects["cost"] = np.where(is_done, done.reindex(projects["project_id"]).to_numpy(dtype=float), projects["cost"].to_numpy(dtype=float))
    return {"projects": [projects.assign(built_year=0)], "flows": [result.tables["flows"].assign(year=0)]}


def _ledger(engine: Engine, *, status: str, ended: bool = False, **values: Any) -> int:
    stamp = storage.now()
    with engine.begin() as conn:
        return int(
            conn.execute(
                runs.insert().values(kind="nightly", started_at=stamp, ended_at=stamp if ended else None, status=status,
                                     pid=os.getpid(), host=socket.gethostname(), **values)
            ).inserted_primary_key[0]  # type: ignore[index]
        )  # fmt: skip


def _close(engine: Engine, run_id: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.run_id == run_id).values(ended_at=storage.now(), **values))


def _abandon_stale(engine: Engine) -> None:
    """Runs still marked running while we hold the lock were killed: say so in the ledger."""
    with engine.begin() as conn:
        stale = list(conn.execute(select(runs.c.run_id).where(runs.c.status == "running")).scalars())
        if stale:
            why = "the job stopped before finishing (killed or crashed)"
            conn.execute(update(runs).where(runs.c.run_id.in_(stale)).values(status="abandoned", message=why))
    for run_id in stale:
        log.warning("run %s was abandoned (killed or crashed); the current version is unaffected", run_id)


def _refuse_rejected_again(engine: Engine, input_hash: str, current: int | None) -> None:
    """Raise :class:`NotPublishedError` without solving when a version of these very inputs was rejected for its gap
    since the current version was published (its churn cap was against the same version): the same solve would
    store the same rejected version again every night. Changing ``nightly.max_gap`` or ``solver.time_limit``
    changes the inputs."""
    with engine.connect() as conn:
        published = conn.execute(select(func.coalesce(func.max(runs.c.run_id), 0)).where(runs.c.status == "published")).scalar()
        row = conn.execute(
            select(versions.c.version_id, versions.c.gap, versions.c.manifest)
            .where(versions.c.input_hash == input_hash, versions.c.status == "rejected", versions.c.run_id > published)
            .order_by(versions.c.version_id.desc())
            .limit(1)
        ).first()
    if row is None:
        return
    message = (
        f"inputs equal those of version {row.version_id}, rejected for its gap {row.gap:.4%}: not solved again; "
        f"version {current} stays current ({_gap_advice(json.loads(row.manifest))})"
    )
    _ledger(engine, status="rejected", ended=True, version_id=row.version_id, gap=row.gap, input_hash=input_hash, message=message)
    raise NotPublishedError(message)


def _gap_advice(manifest: dict[str, Any]) -> str:
    """What would close a rejected night's gap: more time when the solver stopped at its limit, else a wider
    ``nightly.max_gap`` (the rounding of the LP cannot prove less on these inputs)."""
    if manifest.get("stopped_at_time_limit"):
        return "the solver stopped at solver.time_limit: raise it, or raise nightly.max_gap"
    return "the solve finished within its time: more time gives the same gap; raise nightly.max_gap, or change the registry"


def _version_hash(engine: Engine, version: int) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(versions.c.input_hash).where(versions.c.version_id == version)).scalar()


def _pause(stage: str) -> None:
    """Fault injection for the kill tests: stop at a named stage while the process holds its resources."""
    if os.environ.get(PAUSE_ENV) == stage:
        print(f"paused at {stage}", file=sys.stderr, flush=True)
        time.sleep(float(os.environ.get(PAUSE_SECONDS_ENV, "3600")))
