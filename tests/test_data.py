"""Validation of input folders: every bad case gives a clear error naming file, line and column."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from conftest import tiny_tables
from optimizer.data import load_instance
from optimizer.errors import InputError

Tables = dict[str, pd.DataFrame]


def _set(table: str, row: int, column: str, value: str) -> Callable[[Tables], None]:
    def edit(t: Tables) -> None:
        t[table].loc[row, column] = value

    return edit


def _append(table: str, values: dict[str, str]) -> Callable[[Tables], None]:
    def edit(t: Tables) -> None:
        t[table] = pd.concat([t[table], pd.DataFrame([values])], ignore_index=True).fillna("")

    return edit


def _drop(table: str, column: str) -> Callable[[Tables], None]:
    def edit(t: Tables) -> None:
        t[table] = t[table].drop(columns=[column])

    return edit


CASES: dict[str, tuple[Callable[[Tables], None], list[str]]] = {
    "unknown parent": (_set("regions", 3, "parent_id", "NOPE"), ["regions.csv line 5", "region_id=C1", "parent_id", "unknown parent 'NOPE'"]),
    "two roots": (_set("regions", 2, "parent_id", ""), ["regions.csv", "exactly one root", "found 2"]),
    "cycle": (_set("regions", 3, "parent_id", "T1"), ["cycle in the region tree"]),
    "level skip": (_set("regions", 5, "parent_id", "C1"), ["regions.csv line 7", "region_id=T1", "column level", "levels must step by one"]),
    "household outside villages": (_set("households", 1, "village_id", "T1"), ["households.csv line 3", "household_id=H2", "village_id", "not a village"]),
    "household unknown village": (_set("households", 0, "village_id", "V9"), ["households.csv line 2", "unknown region 'V9'"]),
    "duplicate household": (_set("households", 2, "household_id", "H1"), ["households.csv line 4", "duplicate id 'H1'", "first on line 2"]),
    "duplicate region": (_set("regions", 7, "region_id", "V1"), ["regions.csv line 9", "duplicate id 'V1'"]),
    "negative amount": (_set("funds", 1, "amount", "-5"), ["funds.csv line 3", "fund_id=F-P1", "column amount", "negative value -5"]),
    "missing amount": (_set("funds", 2, "amount", ""), ["funds.csv line 4", "column amount", "missing value"]),
    "amount not a number": (_set("funds", 2, "amount", "lots"), ["funds.csv line 4", "not a number: 'lots'"]),
    "NaN cost": (_set("measures", 0, "cost_fixed", "nan"), ["measures.csv line 2", "measure_id=industry", "cost_fixed", "missing value"]),
    "negative cost": (_set("projects", 0, "cost", "-1"), ["projects.csv line 2", "project_id=J1", "column cost", "negative value"]),
    "zero size": (_set("households", 3, "size", "0"), ["households.csv line 5", "household_id=H4", "column size", "must be >= 1"]),
    "missing size": (_set("households", 3, "size", ""), ["households.csv line 5", "column size", "missing value"]),
    "fractional size": (_set("households", 3, "size", "2.5"), ["households.csv line 5", "not a whole number"]),
    "unknown fund category": (_set("funds", 0, "categories", "industry;rockets"), ["funds.csv line 2", "fund_id=F-CN", "categories", "'rockets'"]),
    "unknown fund target": (_set("funds", 7, "targets", "X1;X9"), ["funds.csv line 9", "fund_id=F-E1", "targets", "'X9'"]),
    "unknown fund holder": (_set("funds", 0, "region_id", "ZZ"), ["funds.csv line 2", "region_id", "unknown region 'ZZ'"]),
    "eligibility unknown column": (_set("measures", 0, "eligibility", "min:shoe_size=3"), ["measures.csv line 2", "eligibility", "unknown household column 'shoe_size'"]),
    "eligibility unknown key": (_set("measures", 0, "eligibility", "maybe:1"), ["measures.csv line 2", "unknown rule 'maybe:1'"]),
    "unknown combines_with": (_set("measures", 1, "combines_with", "industry;teleport"), ["measures.csv line 3", "combines_with", "'teleport'"]),
    "unknown cause": (_set("households", 0, "cause", "bad_luck"), ["households.csv line 2", "column cause", "unknown value 'bad_luck'"]),
    "bad flag": (_set("households", 0, "chronic_illness", "maybe"), ["households.csv line 2", "chronic_illness", "not a yes/no value"]),
    "missing column": (_drop("households", "income_per_capita"), ["households.csv", "missing required column 'income_per_capita'"]),
    "project unknown measure": (_set("projects", 0, "measure_id", "warp"), ["projects.csv line 2", "unknown measure 'warp'"]),
    "co-financing above cap": (_set("funds", 0, "co_financing", "1.5"), ["funds.csv line 2", "co_financing", "too large"]),
    "root not central": (_set("regions", 0, "level", "1"), ["regions.csv line 2", "root must be level 0"]),
    "missing id": (_append("households", {"household_id": "", "village_id": "V1", "size": "1", "income_per_capita": "1", "labour": "1", "cause": "illness"}), ["households.csv line 7", "missing id"]),
}


def _write(tmp: Path, tables: Tables) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_csv(tmp / f"{name}.csv", index=False)
    return tmp


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_reported_with_file_line_and_column(case: str, tmp_path: Path) -> None:
    edit, expected = CASES[case]
    tables = {k: v.copy() for k, v in tiny_tables().items()}
    edit(tables)
    folder = _write(tmp_path / "data", tables)
    with pytest.raises(InputError) as err:
        load_instance(folder)
    msg = str(err.value)
    for piece in expected:
        assert piece in msg, f"{piece!r} not in {msg!r}"


def test_good_folder_loads(tmp_path: Path) -> None:
    inst = load_instance(_write(tmp_path / "data", tiny_tables()))
    assert inst.n_households == 5
    assert list(inst.tree.ancestor_ids(inst.tree.pos(["V1"]), 3)) == ["X1"]


def test_parquet_is_accepted(tmp_path: Path) -> None:
    folder = tmp_path / "pq"
    folder.mkdir()
    for name, df in tiny_tables().items():
        df.to_parquet(folder / f"{name}.parquet", index=False)
    assert load_instance(folder).n_households == 5


def test_cli_exits_2_without_traceback(tmp_path: Path) -> None:
    tables = tiny_tables()
    tables["regions"].loc[3, "parent_id"] = "NOPE"
    folder = _write(tmp_path / "data", tables)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"name: s\ndata: {folder}\n")
    proc = subprocess.run([sys.executable, "-m", "optimizer.cli", "validate", str(scenario)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown parent 'NOPE'" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_cli_bad_scenario_names_yaml_path(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\ndata: x\nsolver:\n  time_limit: -3\n")
    proc = subprocess.run([sys.executable, "-m", "optimizer.cli", "solve", str(scenario)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "solver.time_limit" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("column", "value"),
    [("head_name", "Zhang San"), ("phone", "13812345678"), ("id_card", "11010519491231002X"), ("note", "110105194912310021")],
)
def test_personal_data_columns_are_refused(tmp_path: Path, column: str, value: str) -> None:
    tables = tiny_tables()
    tables["households"][column] = value
    folder = _write(tmp_path / "data", tables)
    with pytest.raises(InputError) as err:
        load_instance(folder)
    assert column in str(err.value) and "personal data" in str(err.value)
    assert value not in str(err.value)  # the message never repeats the personal value
    assert load_instance(folder, allow_personal_columns=True).n_households == 5
