"""Reproduce a run: re-solve the scenario recorded in its manifest on the same inputs and compare every table.

The manifest holds the fully resolved scenario (``extends``, ``overrides``, ``--set`` and command-line options
applied), the absolute data folder, the sha256 of every input file, the solver, its seed and the versions.
Inputs are checked against their hashes first: a run is never "reproduced" on other data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .data import Instance
from .edits import apply_data_edits
from .errors import InputError
from .outputs import MANIFEST, changed_outputs, csv_text, read_manifest, twin_differences
from .result import OPTIONAL_TABLES, TABLE_NAMES, Result, versions
from .scenario import Scenario, recorded_scenario
from .solve import solve
from .storage import load_source, registry_hashes
from .verify import check_folder_inputs, check_inputs, verify

if TYPE_CHECKING:
    from .multiyear import MultiYearResult

SHOWN_ROWS = 5
BOM = "\ufeff"
COMPARED_FIGURES = ("status", "objective", "bound", "lp_bound", "gap", "expected_lifted", "persons_lifted", "cost", "projects_built")
MULTIYEAR_TABLES = ("households", "projects", "flows", "spending", "counties")
MULTIYEAR_FIGURES = ("status", "objective", "bound", "lp_bound", "gap", "expected_out_at_deadline", "cost", "monitored", "monitoring_cost")


@dataclass
class Reproduction:
    """What ``reproduce`` found: tables compared, differences (empty when identical), version changes."""

    run_dir: Path
    tables: list[str]
    differences: list[str] = field(default_factory=list)
    version_changes: list[str] = field(default_factory=list)
    why: str | None = None  # what may explain the differences without any change of inputs or code
    result: Result | MultiYearResult | None = field(default=None, repr=False)

    @property
    def identical(self) -> bool:
        return not self.differences


def reproduce(run_dir: str | Path, progress: Callable[[str], None] | None = None) -> Reproduction:
    """Re-solve the run in ``run_dir`` from its manifest and compare its tables byte for byte.

    Raises :class:`InputError` when the manifest is unusable or an input file changed since the run."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    scenario = recorded_scenario(manifest, str(run_dir / MANIFEST))
    source = scenario.data_source
    recorded = manifest.get("input_hashes")
    if not isinstance(recorded, dict) or not recorded:
        raise InputError("the manifest records no input hashes; this run cannot be reproduced", source=str(run_dir / MANIFEST))
    check_folder_inputs(manifest, source, run_dir, "reproduced")
    method = str(manifest.get("method", "monolithic"))
    multiyear = bool(manifest.get("multiyear"))
    rolling = manifest.get("rolling") or {}
    replan = _replan_of(rolling, manifest, run_dir) if multiyear and rolling.get("from_year") is not None else {}
    instance = None
    read_by = str((manifest.get("decomposition") or {}).get("source", ""))
    if read_by.startswith("the registry database") and not replan:  # the workers read it county by county; its tables hashed in key order
        check_inputs(source, recorded, run_dir, registry_hashes(source))
    elif replan or not read_by.startswith("partitioned"):  # a re-plan loads its data whole
        instance = load_source(source, max_file_mb=scenario.limits.max_input_mb)
        check_inputs(source, recorded, run_dir, instance.hashes)  # a database, or files changed since the check
    # else the workers read their counties again, as the run did (one year: its helpers were matched county by county)
    result: Result | MultiYearResult
    if multiyear:
        result = _solve_years(scenario, instance, method, progress, replan)
    else:
        result = solve(scenario, instance, progress=progress, method=method)
        verify(result)
    rep = Reproduction(run_dir, [], result=result)
    rep.differences += changed_outputs(run_dir, manifest)  # the recorded tables are compared as CSV; their Parquet twins too
    if not multiyear:  # and hold what the CSV holds (their sha256 may have been restated in the manifest)
        rep.differences += twin_differences(run_dir)
    produced = set(result.names())  # a decomposed run from a partitioned folder holds its households as parts on disk
    listed = MULTIYEAR_TABLES if multiyear else (*TABLE_NAMES, *OPTIONAL_TABLES)
    for name in [n for n in listed if n in produced or _recorded_table(run_dir, n) is not None]:
        rep.tables.append(name)
        old, new = _recorded_table(run_dir, name), csv_text(result.table(name)) if name in produced else None
        if old != new:
            rep.differences.append(describe_difference(name, old, new))
    for key in MULTIYEAR_FIGURES if multiyear else COMPARED_FIGURES:
        if key in manifest and not _same(manifest[key], result.manifest.get(key)):
            rep.differences.append(f"manifest {key}: {manifest[key]!r} recorded, {result.manifest.get(key)!r} now")
    if rep.differences:
        rep.why = "\n".join(n for n in (time_limit_note(manifest), warm_start_note(manifest)) if n) or None
    if "versions" in manifest:  # multi-year runs record them since 2026-12-02
        now = {**versions(), "solver": result.manifest.get("solver_version", "")}
        then = {**manifest["versions"], "solver": manifest.get("solver_version", "")}
        rep.version_changes = [f"{k} {then.get(k, '?')} -> {v}" for k, v in now.items() if then.get(k) != v]
    return rep


def _replan_of(rolling: dict[str, Any], manifest: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """A re-plan's ``previous`` run folder, ``from_year`` and ``withheld`` money, to re-plan it again from that run:
    refused unless that folder still holds the tables the re-plan read (their sha256 recorded in ``rolling``)."""
    from .multiyear import previous_run, withheld_of

    previous, why = previous_run(rolling)
    if previous is None:
        raise InputError(f"a re-plan from {rolling['from_year']} (--from-year, --previous) cannot be reproduced: {why}", source=str(run_dir / MANIFEST))
    return {"previous": previous, "from_year": int(rolling["from_year"]), "withheld": withheld_of(manifest)}


def _solve_years(
    scenario: Scenario, instance: Instance | None, method: str, progress: Callable[[str], None] | None, replan: dict[str, Any]
) -> MultiYearResult:
    """A multi-year run solved again as ``optimizer solve`` solved it (a re-plan from its previous run, ``replan``:
    :func:`_replan_of`), verified (a decomposed run from a partitioned folder county by county on its workers)."""
    from .errors import VerificationError
    from .multiyear import solve_multiyear, verify_multiyear

    out = solve_multiyear(scenario, instance, progress=progress, method=method, **replan)
    if instance is not None:
        bad = verify_multiyear(out, apply_data_edits(instance, scenario.data_edits), scenario)
        if bad:
            raise VerificationError(bad)
    return out  # with its households' parts on disk, which live as long as it does


def time_limit_note(manifest: dict[str, object]) -> str | None:
    """Why a run whose solve stopped at a time limit may not come out the same (None when it did not stop)."""
    if not manifest.get("stopped_at_time_limit"):
        return None
    decomposition = manifest.get("decomposition")
    counties = decomposition.get("stopped_at_time_limit") if isinstance(decomposition, dict) else None
    if counties:
        shown = ", ".join(counties[:SHOWN_ROWS]) + (" ..." if len(counties) > SHOWN_ROWS else "")
        what = f"the MIPs of {len(counties)} of this run's counties ({shown}) stopped at their time limit"
    else:
        what = "this run's MIP stopped at its time limit (solver.time_limit)"
    return f"{what}: where a MIP stops depends on the machine's speed and load, so a re-solve may differ without any change of inputs or code"


def warm_start_note(manifest: dict[str, object]) -> str | None:
    """Why a run solved in a what-if session from what the solve before it kept (an LP basis, county models) may
    not come out the same when solved alone (None when it started cold)."""
    decomposition = manifest.get("decomposition")
    kept = decomposition.get("kept_models") if isinstance(decomposition, dict) else None
    if manifest.get("warm_start") is True:
        what = "this run's LP started from the basis of the solve before it in its session (solver.warm_start)"
    elif kept:
        what = f"{kept:,} of this run's county models were kept from the solve before it in its session"
    else:
        return None
    return f"{what}: a solve from scratch may end at another optimum of the same value, within the gap, and so another allocation"


def describe_difference(name: str, old: str | None, new: str | None) -> str:
    """Which rows of table ``name`` differ, named by line and by the row's first column (an opaque id)."""
    if old is None:
        return f"{name}: not in the recorded run, produced now"
    if new is None:
        return f"{name}: recorded, not produced now"
    parts = []
    if old.startswith(BOM):  # invisible in the header it is part of: the headers would look the same
        parts.append("the recorded file begins with a UTF-8 byte-order mark (saved again by another program?)")
        old = old[len(BOM) :]
    a = np.asarray(old.rstrip("\n").split("\n"), dtype=object)
    b = np.asarray(new.rstrip("\n").split("\n"), dtype=object)
    if a[0] != b[0]:
        return f"{name}: " + "; ".join([*parts, f"columns differ ({a[0]} recorded, {b[0]} now)"])
    n = min(len(a), len(b))
    rows = np.flatnonzero(a[1:n] != b[1:n]) + 1
    if len(rows):
        shown = ", ".join(f"line {i + 1} ({a[0].split(',')[0]}={a[i].split(',')[0]})" for i in rows[:SHOWN_ROWS])
        parts.append(f"{len(rows)} of {n - 1} rows differ: {shown}" + (" ..." if len(rows) > SHOWN_ROWS else ""))
    if len(a) != len(b):
        parts.append(f"{len(a) - 1} rows recorded, {len(b) - 1} now")
    return f"{name}: " + "; ".join(parts)


def _recorded_table(run_dir: Path, name: str) -> str | None:
    csv, parquet = run_dir / f"{name}.csv", run_dir / f"{name}.parquet"
    if csv.is_file():
        return csv.read_text(encoding="utf-8")
    if parquet.is_file():
        return csv_text(pd.read_parquet(parquet))
    return None


def _same(a: object, b: object) -> bool:
    both_nan = isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b)
    return both_nan or a == b
