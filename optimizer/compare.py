"""What-if analysis: solve several scenarios side by side, or one scenario over a series of values.

Scenarios that read the same data folder share one loaded instance (data edits are applied per scenario). A
scenario with a ``years:`` section is solved by the multi-year model and summarized by its own figures (expected
out of poverty at the deadline, spending and starts per year, counties below their threshold by the deadline).
"""

from __future__ import annotations

import copy
import numbers
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import charts
from .contract import Batch, Level
from .data import Instance
from .errors import InfeasibleError, InputError, OptimizerError, check_argument
from .multiyear import MultiYearResult, exit_schedule, solve_verified, spending_by_year, starts_by_year
from .outputs import atomic_write_text
from .report import build_table_report
from .result import Result
from .scenario import Scenario, parse_value
from .solve import check_method, solve
from .storage import load_source
from .verify import verify

DEFAULT_EXIT_INCIDENCE = 0.03


def summarize(result: Result | MultiYearResult) -> dict[str, float | str]:
    """The figures a planner compares across scenarios, all read from the result's tables and manifest."""
    if isinstance(result, MultiYearResult):
        return _summarize_years(result)
    m = result.manifest
    row: dict[str, float | str] = {
        "status": m["status"],
        "households expected lifted": m["expected_lifted"],
        "persons expected lifted": m["persons_lifted"],
        "cost (yuan)": m["cost"],
        "gap": m["gap"],
    }
    row.update(_spent_by_level(result.tables["funds"].groupby("level_name")["spent"].sum()))
    regions = result.tables["regions"]
    root = regions[regions["level"] == Level.CENTRAL].iloc[0]
    for b in Batch:
        row[f"spent on {b.value}"] = float(root[f"spend_{b.value}"])
    row["spent on projects"] = float(root["spend_projects"])
    sc = result.scenario
    threshold = sc.target.county_incidence if sc is not None and sc.target.county_incidence else DEFAULT_EXIT_INCIDENCE
    counties = regions[(regions["level"] == Level.COUNTY) & (regions["households"] > 0)]
    row[f"counties at or below {threshold:.0%} incidence"] = float((counties["incidence_after"] <= threshold + 1e-9).sum())
    row["counties"] = float(len(counties))
    return row


def _spent_by_level(by_level: pd.Series) -> dict[str, float | str]:
    """The ``spent at <level> level`` rows, in the levels' order, from yuan spent per level name."""
    return {f"spent at {lv.name.lower()} level": float(by_level[lv.name.lower()]) for lv in Level if lv.name.lower() in by_level.index}


def _summarize_years(result: MultiYearResult) -> dict[str, float | str]:
    """:func:`summarize` of a multi-year result."""
    m = result.manifest
    row: dict[str, float | str] = {
        "status": m["status"],
        charts.HEADLINES[1]: m["expected_out_at_deadline"],
        "objective": m["objective"],
        "cost (yuan)": m["cost"],
        "gap": m["gap"],
    }
    spent = spending_by_year(result)
    row.update(_spent_by_level(spent.groupby("level_name")["total"].sum()))
    for year, total in spent.groupby("year")["total"].sum().items():
        row[f"spent in {year}"] = float(total)
    for year, n in zip(*starts_by_year(result)[["year", "households_starting"]].to_numpy().T):
        row["households never started" if year == "never" else f"households starting in {year}"] = float(n)
    schedule = exit_schedule(result)
    row["counties below their threshold by the deadline"] = float((schedule["exit_year"] > 0).sum())
    row["counties"] = float(len(schedule))
    return row


class Session:
    """Solves scenarios, loading each data folder once; a scenario solved again (the same settings and data edits
    under any name, e.g. a sweep's value that an earlier comparison already asked) is answered from the session's
    last ``keep`` results.

    A scenario large enough to decompose by county (``method``: ``auto``, ``decomposed`` or ``monolithic``, as for
    :func:`optimizer.solve.solve`) runs on a Dask cluster that lives as long as the session: a local one of
    ``workers`` processes, started at the first such solve, or the one at ``scheduler``. Its workers keep the
    county models between solves, so a what-if on upper-level money starts every county from its last LP instead
    of reading, planning, building and solving it cold. Close the session (``close()``, or use it in a ``with``
    block) to stop its cluster."""

    def __init__(
        self,
        progress: Callable[[str], None] | None = None,
        keep: int = 8,
        *,
        method: str = "auto",
        workers: int = 2,
        scheduler: str | None = None,
    ):
        check_method(method, scheduler)  # a bad method or a useless scheduler, named before any solve
        check_argument(keep, numbers.Integral, "Session: keep")
        check_argument(workers, numbers.Integral, "Session: workers")
        if keep < 0 or workers < 1:
            raise InputError(f"Session: keep must be at least 0 and workers at least 1, not keep={keep}, workers={workers}")
        self._instances: dict[str, Instance] = {}
        self._results: OrderedDict[str, Result | MultiYearResult] = OrderedDict()
        self.progress = progress
        self.keep = keep
        self.method = method
        self.workers = workers
        self._scheduler = scheduler
        self._cluster: Any = None
        self._stop: weakref.finalize | None = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the session's local cluster, if it started one (a ``scheduler`` given is left running, its workers
        holding the county models until the next decomposed solve on it, which clears or reuses them)."""
        if self._stop is not None:
            self._stop()
            self._stop, self._cluster = None, None

    def _cluster_for(self, scenario: Scenario, households: int) -> str | None:
        """The scheduler a solve of ``scenario`` decomposes on, or None when it solves one model."""
        from .solve import auto_decomposes

        if self.method == "monolithic" or (self.method == "auto" and not auto_decomposes(scenario, households)):
            return None
        if self._scheduler is not None:
            return self._scheduler
        if self._cluster is None:
            from .decompose import _local_cluster, close_local_cluster

            self._cluster = _local_cluster(self.workers)
            self._stop = weakref.finalize(self, close_local_cluster, self._cluster)
        return str(self._cluster.scheduler_address)

    def instance(self, scenario: Scenario) -> Instance:
        key = scenario.data_source
        if key not in self._instances:
            self._instances[key] = load_source(scenario.data_source, max_file_mb=scenario.limits.max_input_mb)
        return self._instances[key]

    def solve(self, scenario: Scenario) -> Result:
        """A one-year scenario, solved warm from the session's last LP and verified."""
        check_argument(scenario, Scenario, "Session.solve: scenario (a Scenario: optimizer.load_scenario(path))")
        if scenario.years is not None:
            raise InputError(f"scenario '{scenario.name}' has a years: section: use Session.solve_any for multi-year scenarios")
        result = self.solve_any(scenario)
        assert isinstance(result, Result)
        return result

    def solve_any(self, scenario: Scenario) -> Result | MultiYearResult:
        """A one-year scenario as :meth:`solve`, a multi-year one (a ``years:`` section) by the multi-year model,
        verified by :func:`optimizer.multiyear.verify_multiyear`."""
        check_argument(scenario, Scenario, "Session.solve_any: scenario (a Scenario: optimizer.load_scenario(path))")
        key = question(scenario)
        if key in self._results:
            self._results.move_to_end(key)
            if self.progress is not None:
                self.progress(f"scenario '{scenario.name}': the same settings were solved earlier in this session; reusing that result")
            return _copy_as(self._results[key], scenario)
        result: Result | MultiYearResult
        instance = self.instance(scenario)
        scheduler = self._cluster_for(scenario, instance.n_households)
        keep = scheduler is not None
        if scenario.years is None:
            result = solve(scenario, instance, progress=self.progress, warm=True, method=self.method, scheduler=scheduler, workers=self.workers, keep=keep)
            verify(result)
        else:
            result = solve_verified(scenario, instance, progress=self.progress, method=self.method, scheduler=scheduler, workers=self.workers, keep=keep)
        if self.keep > 0:
            self._results[key] = _copy_as(result, scenario)
            while len(self._results) > self.keep:
                self._results.popitem(last=False)
        return result


def _copy_as(result: Result | MultiYearResult, scenario: Scenario) -> Result | MultiYearResult:
    """``result`` as the result of ``scenario`` (the same settings, perhaps under another name: its manifest and
    scenario name it), with tables and a manifest of its own: a caller editing them leaves the session's copy as it
    was (pandas' copy-on-write makes the copies cheap)."""
    manifest = {**copy.deepcopy(result.manifest), "scenario_name": scenario.name, "scenario": scenario.model_dump(mode="json")}
    tables = {k: v.copy(deep=False) for k, v in result.tables.items()}
    twin: Result | MultiYearResult
    if isinstance(result, Result):
        twin = replace(result, tables=tables, manifest=manifest, scenario=scenario)
    else:
        twin = replace(result, tables=tables, manifest=manifest)
    if twin.parts:  # tables on disk live as long as the result that wrote them: the copy holds it
        weakref.finalize(twin, _holds, result)
    return twin


def _holds(_result: object) -> None:
    """Nothing: its argument, held by a finalizer, lives as long as the object finalized."""


def question(scenario: Scenario) -> str:
    """What ``scenario`` asks, whatever its name: two scenarios of the same question have the same solution."""
    # relative paths (data:, included files) resolve against the scenario's folder, which the dump leaves out
    return f"{scenario.base_dir}\n{scenario.data_source}\n{scenario.model_copy(update={'name': ''}).model_dump_json()}"


def compare(scenarios: Sequence[Scenario], session: Session | None = None) -> tuple[pd.DataFrame, list[Result | MultiYearResult]]:
    """Side-by-side table (one column per scenario, named by the scenario's name) and the results."""
    check_argument(scenarios, (list, tuple), "compare: scenarios (a list of Scenario)")
    for i, sc in enumerate(scenarios):
        check_argument(sc, Scenario, f"compare: scenarios[{i}]")
    if len(scenarios) < 2:
        raise InputError(f"compare needs two or more scenarios, got {len(scenarios)}")
    names = [sc.name for sc in scenarios]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"scenario name(s) {', '.join(map(repr, repeated))} given more than once: each names a column of the comparison; "
                         "give every scenario its own name: field")  # fmt: skip
    check_argument(session, (Session, type(None)), "compare: session")
    session = session or Session()
    results = []
    for sc in scenarios:
        with _naming(f"scenario '{sc.name}'"):
            results.append(session.solve_any(sc))
    table = pd.DataFrame({r.manifest["scenario_name"]: summarize(r) for r in results})
    return table, results


def sweep(
    scenario: Scenario, path: str, values: Sequence[object], session: Session | None = None, skip_infeasible: bool = False
) -> tuple[pd.DataFrame, list[Result | MultiYearResult | InfeasibleError]]:
    """Solve ``scenario`` once per value of the dotted ``path``; one row per value (every value checked first).
    An infeasible value stops the sweep, or with ``skip_infeasible`` is a row of status ``infeasible`` with empty
    figures, its error (which says why) in place of its result: where the curve ends is an answer too."""
    check_argument(scenario, Scenario, "sweep: scenario")
    check_argument(path, str, "sweep: path (a dotted scenario path such as funds.level.central)")
    check_argument(values, (list, tuple, range, np.ndarray, pd.Series), "sweep: values")
    variants = []
    for value in values:
        try:
            variants.append(scenario.with_overrides({path: value}))
        except InputError as err:
            raise InputError([f"{path}={value}: {p}" for p in err.problems], source=err.source) from None
    check_argument(session, (Session, type(None)), "sweep: session")
    session = session or Session()
    rows: list[dict[str, object]] = []
    results: list[Result | MultiYearResult | InfeasibleError] = []
    for value, variant in zip(values, variants):
        try:
            with _naming(f"{path}={value}"):
                result = session.solve_any(variant)
        except InfeasibleError as err:
            if not skip_infeasible:
                raise
            results.append(err)
            rows.append({path: value, "status": "infeasible"})
            continue
        results.append(result)
        rows.append({path: value, **summarize(result)})
    return pd.DataFrame(rows), results


@contextmanager
def _naming(what: str) -> Iterator[None]:
    """Our errors while solving one of several scenarios say which one (an infeasible swept value was not named)."""
    try:
        yield
    except OptimizerError as err:
        err.args = (f"{what}: {err.args[0]}" if err.args else what, *err.args[1:])
        raise


def parse_set(text: str) -> tuple[str, list[object]]:
    """``PATH=V1,V2,...`` with YAML scalars (numbers, booleans, factors like x0.8)."""
    path, sep, raw = text.partition("=")
    if not sep or not path or not raw:
        raise InputError(f"--set '{text}': expected PATH=V1,V2,... (e.g. funds.level.central=x0.6,x0.8,x1.0)")
    items = [v.strip() for v in raw.split(",")]
    if "" in items:
        raise InputError(f"--set '{text}': value {items.index('') + 1} is empty (a comma too many?)")
    return path.strip(), [parse_value(v, f"--set {path.strip()}") for v in items]


def write_outputs(table: pd.DataFrame, svg: str, out: Path, name: str, title: str) -> list[Path]:
    """Write ``<name>.csv``, ``<name>.svg`` and the self-contained ``<name>.html`` (table and chart) into ``out``."""
    return [
        atomic_write_text(out / f"{name}.csv", table.to_csv(lineterminator="\n")),
        atomic_write_text(out / f"{name}.svg", svg),
        atomic_write_text(out / f"{name}.html", build_table_report(title, table, svg)),
    ]


def comparison_chart(table: pd.DataFrame) -> str:
    return charts.to_svg(charts.comparison(table))


def sweep_chart(table: pd.DataFrame, path: str) -> str:
    return charts.to_svg(charts.sweep_curve(table, path))
