"""What-if analysis: solve several scenarios side by side, or one scenario over a series of values.

Scenarios that read the same data folder share one loaded instance (data edits are applied per scenario).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from . import charts
from .contract import Batch, Level
from .data import Instance
from .errors import InputError
from .outputs import atomic_write_text
from .report import build_table_report
from .result import Result
from .scenario import Scenario, parse_value
from .solve import solve
from .storage import load_source
from .verify import verify

DEFAULT_EXIT_INCIDENCE = 0.03


def summarize(result: Result) -> dict[str, float | str]:
    """The figures a planner compares across scenarios, all read from the result's tables and manifest."""
    m = result.manifest
    row: dict[str, float | str] = {
        "status": m["status"],
        "households expected lifted": m["expected_lifted"],
        "persons expected lifted": m["persons_lifted"],
        "cost (yuan)": m["cost"],
        "gap": m["gap"],
    }
    by_level = result.tables["funds"].groupby("level_name")["spent"].sum()
    for lv in Level:
        name = lv.name.lower()
        if name in by_level.index:
            row[f"spent at {name} level"] = float(by_level[name])
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


class Session:
    """Solves scenarios, loading each data folder once."""

    def __init__(self, progress: Callable[[str], None] | None = None):
        self._instances: dict[str, Instance] = {}
        self.progress = progress

    def instance(self, scenario: Scenario) -> Instance:
        key = scenario.data_source
        if key not in self._instances:
            self._instances[key] = load_source(scenario.data_source, max_file_mb=scenario.limits.max_input_mb)
        return self._instances[key]

    def solve(self, scenario: Scenario) -> Result:
        result = solve(scenario, self.instance(scenario), progress=self.progress, warm=True)
        verify(result)
        return result


def compare(scenarios: Sequence[Scenario], session: Session | None = None) -> tuple[pd.DataFrame, list[Result]]:
    """Side-by-side table (one column per scenario) and the results."""
    session = session or Session()
    results = [session.solve(sc) for sc in scenarios]
    table = pd.DataFrame({r.manifest["scenario_name"]: summarize(r) for r in results})
    return table, results


def sweep(scenario: Scenario, path: str, values: Sequence[object], session: Session | None = None) -> tuple[pd.DataFrame, list[Result]]:
    """Solve ``scenario`` once per value of the dotted ``path``; one row per value."""
    session = session or Session()
    rows, results = [], []
    for value in values:
        result = session.solve(scenario.with_overrides({path: value}))
        results.append(result)
        rows.append({path: value, **summarize(result)})
    return pd.DataFrame(rows), results


def parse_set(text: str) -> tuple[str, list[object]]:
    """``PATH=V1,V2,...`` with YAML scalars (numbers, booleans, factors like x0.8)."""
    path, sep, raw = text.partition("=")
    if not sep or not path or not raw:
        raise InputError(f"--set '{text}': expected PATH=V1,V2,... (e.g. funds.level.central=x0.6,x0.8,x1.0)")
    values = [parse_value(v.strip(), f"--set {path.strip()}") for v in raw.split(",") if v.strip()]
    return path.strip(), values


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
