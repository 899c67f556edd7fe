"""The nightly allocation job: re-plan what is still open, keep what is committed, publish only verified versions.

One run: take the job lock -> read and validate the registry (nothing is written when a row is bad) -> skip when
the inputs equal those of the current version -> ledger row ``running`` -> solve the open instance with the
churn cap against the current version -> verify -> in one transaction write the version, publish it when its gap
is within ``nightly.max_gap``, and close the ledger row. A job killed anywhere leaves the current version as it
was; its ``running`` ledger row is marked ``abandoned`` by the next run.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select, update

from . import storage
from .edits import apply_data_edits
from .errors import InfeasibleError, InputError, NotPublishedError, OptimizerError, VerificationError
from .model import ChurnCap
from .outputs import _json
from .result import Result
from .scenario import Scenario
from .solve import solve
from .storage import runs, version_flows, version_households, version_projects, versions
from .verify import verify

log = logging.getLogger(__name__)

PAUSE_ENV = "OPTIMIZER_PAUSE_AT"  # fault injection for the kill tests: locked, solve or write
PAUSE_SECONDS_ENV = "OPTIMIZER_PAUSE_SECONDS"


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
    if scenario.target.county_incidence is not None:
        raise InputError(
            "the nightly job does not support target.county_incidence yet (committed households are outside the re-plan); "
            "use target.lifted or mode max_lifted"
        )
    try:
        return _locked(engine, scenario, wait, say)
    finally:
        engine.dispose()


def _locked(engine: Engine, scenario: Scenario, wait: float, say: Callable[[str], None]) -> NightlyOutcome:
    with storage.job_lock(engine, wait=wait):
        _pause("locked")
        _abandon_stale(engine)
        say(f"reading the registry from {storage.redact(str(engine.url))}")
        reg = storage.read_registry(engine)
        opened = storage.open_instance(reg)  # a bad row stops here, before any write
        scenario = _net_of_commitments(scenario, opened)
        instance = apply_data_edits(opened.instance, scenario.data_edits)
        input_hash = reg.input_hash(json.dumps(scenario.model_dump(mode="json"), sort_keys=True))
        if reg.current_version is not None and _version_hash(engine, reg.current_version) == input_hash:
            run_id = _ledger(engine, status="unchanged", ended=True, version_id=reg.current_version, input_hash=input_hash,
                             message="inputs equal those of the current version: no new version")  # fmt: skip
            say(f"inputs unchanged since version {reg.current_version}: nothing to do")
            return NightlyOutcome(run_id, "unchanged", reg.current_version, {})
        run_id = _ledger(engine, status="running", input_hash=input_hash)
        storage.claim_lock(engine, run_id)
        try:
            return _run(engine, run_id, reg, opened, instance, scenario, input_hash, say)
        except BaseException as err:
            status = "rejected" if isinstance(err, NotPublishedError) else "failed"
            message = str(err) if isinstance(err, OptimizerError) else f"{type(err).__name__}: {err}"
            _close(engine, run_id, status=status, message=message[:4000])
            raise


def _run(
    engine: Engine,
    run_id: int,
    reg: storage.Registry,
    opened: storage.OpenInstance,
    instance: Any,
    scenario: Scenario,
    input_hash: str,
    say: Callable[[str], None],
) -> NightlyOutcome:
    published = _published_plans(engine, reg.current_version)
    open_ids = instance.households["household_id"]
    previous = published.loc[~published["committed"] & published["household_id"].isin(open_ids), ["household_id", "plan"]].reset_index(drop=True)
    cap = ChurnCap(previous, math.floor(scenario.nightly.max_churn * len(previous)))
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
        raise InfeasibleError(
            f"the churn cap cannot be met: keeping all but {cap.max_changes:,} of the {len(previous):,} planned households on their "
            f"published plan leaves the floors or targets unpaid; raise nightly.max_churn (now {scenario.nightly.max_churn:g})"
        ) from None
    verify(result, instance, scenario)
    tables = _version_tables(result, opened)
    counts = _churn_counts(previous, published, result, tables["households"])
    allowed = max(cap.max_changes, result.manifest.get("churn", {}).get("forced_changes", 0))
    if counts["households_changed"] > allowed:
        raise VerificationError([f"churn: {counts['households_changed']} households changed plan, the cap allows {allowed}"])
    publish = result.gap <= scenario.nightly.max_gap + 1e-12
    status = "published" if publish else "rejected"
    manifest = {**result.manifest, "nightly": {**counts, "run_id": run_id, "committed_households": len(opened.committed)}}
    with engine.begin() as conn:
        version_id = conn.execute(
            versions.insert().values(
                run_id=run_id,
                created_at=storage.now(),
                status=status,
                scenario_name=scenario.name,
                input_hash=input_hash,
                objective=float(result.manifest["objective"]),
                bound=float(result.manifest["bound"]),
                gap=float(result.gap),
                expected_lifted=float(tables["households"]["p_success"].sum()),
                cost=float(tables["households"]["cost"].sum() + tables["projects"]["cost"].sum()),
                households=len(tables["households"]),
                committed_households=len(opened.committed),
                manifest=json.dumps(manifest, sort_keys=True, default=_json),
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        for table, df in ((version_households, tables["households"]), (version_projects, tables["projects"]), (version_flows, tables["flows"])):
            if len(df):
                conn.execute(table.insert(), storage._records(df.assign(version_id=version_id), [c.name for c in table.columns]))
        _pause("write")
        if publish:
            storage.set_current(conn, version_id)
        conn.execute(
            update(runs)
            .where(runs.c.run_id == run_id)
            .values(ended_at=storage.now(), status=status, version_id=version_id, objective=float(result.manifest["objective"]),
                    bound=float(result.manifest["bound"]), gap=float(result.gap), **counts)
        )  # fmt: skip
    expected = float(tables["households"]["p_success"].sum())
    if not publish:
        raise NotPublishedError(
            f"version {version_id} not published: gap {result.gap:.4%} is above nightly.max_gap {scenario.nightly.max_gap:.4%}; "
            f"version {reg.current_version} stays current"
        )
    say(f"published version {version_id}: {expected:,.1f} households expected lifted, gap {result.gap:.3%}, {counts}")
    return NightlyOutcome(run_id, status, int(version_id), counts, float(result.manifest["objective"]), float(result.gap), expected)


def _net_of_commitments(scenario: Scenario, opened: storage.OpenInstance) -> Scenario:
    """A min-cost target counts the exits the committed plans already bring."""
    if scenario.mode == "min_cost" and scenario.target.lifted is not None and len(opened.committed):
        done = float(opened.committed["p_success"].sum())
        return scenario.with_overrides({"target.lifted": max(scenario.target.lifted - done, 0.0)})
    return scenario


def _published_plans(engine: Engine, version: int | None) -> pd.DataFrame:
    """Every household plan of the current version (empty before the first)."""
    if version is None:
        return pd.DataFrame({"household_id": pd.Series(dtype=object), "plan": pd.Series(dtype=object), "committed": pd.Series(dtype=bool)})
    prev = storage.version_table(engine, version_households, version)
    return prev.assign(committed=prev["committed"].astype(bool))


def _churn_counts(previous: pd.DataFrame, published: pd.DataFrame, result: Result, new_version: pd.DataFrame) -> dict[str, int]:
    """Open households added, changed and unchanged against the current version, and households it planned
    that the new version no longer holds (exited)."""
    now = result.households[["household_id", "plan"]]
    both = now.merge(previous, on="household_id", how="inner", suffixes=("", "_prev"))
    changed = int((both["plan"] != both["plan_prev"]).sum())
    return {
        "households_added": int((~now["household_id"].isin(previous["household_id"])).sum()),
        "households_changed": changed,
        "households_unchanged": int(len(both) - changed),
        "households_removed": int((~published["household_id"].isin(new_version["household_id"])).sum()),
    }


def _version_tables(result: Result, opened: storage.OpenInstance) -> dict[str, pd.DataFrame]:
    """The version as published: committed plans carried over, the open ones from the result."""
    hh = result.households.copy()
    if "helper_id" not in hh.columns:
        hh["helper_id"] = ""
    hh = hh[storage.PLAN_COLUMNS].assign(committed=False)
    carried = opened.committed.assign(committed=True)
    households = pd.concat([carried, hh], ignore_index=True).sort_values("household_id", kind="stable").reset_index(drop=True)
    households["helper_id"] = households["helper_id"].fillna("").astype(str)
    projects = result.tables["projects"].copy()
    done = opened.committed_projects.set_index("project_id")["cost"]
    is_done = projects["project_id"].isin(done.index)
    projects["committed"] = is_done
    projects["built"] = projects["built"].astype(bool) | is_done
    projects["cost"] = np.where(is_done, done.reindex(projects["project_id"]).to_numpy(dtype=float), projects["cost"].to_numpy(dtype=float))
    return {"households": households, "projects": projects, "flows": result.tables["flows"]}


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


def _version_hash(engine: Engine, version: int) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(versions.c.input_hash).where(versions.c.version_id == version)).scalar()


def _pause(stage: str) -> None:
    """Fault injection for the kill tests: stop at a named stage while the process holds its resources."""
    if os.environ.get(PAUSE_ENV) == stage:
        print(f"paused at {stage}", file=sys.stderr, flush=True)
        time.sleep(float(os.environ.get(PAUSE_SECONDS_ENV, "3600")))
