"""The bad-input corpus (tests/bad_inputs/cases.yaml) through the real command line.

Every case must end with exit code 2 and its expected message, never a traceback, and leave its folder exactly
as it was: no output folder created, an existing run folder untouched. Cases run in-process (typer's CliRunner
on ``optimizer.cli.app``); those marked ``subprocess`` also run in a fresh interpreter through
``python -m optimizer.cli``, the way a user runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from conftest import tiny_tables
from optimizer.cli import app

CORPUS = Path(__file__).parent / "bad_inputs" / "cases.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))["cases"]
BY_ID = {case["id"]: case for case in CASES}
DEFAULT_SCENARIO = "name: case\ndata: ../data\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


def _tables(case: dict[str, Any]) -> dict[str, pd.DataFrame]:
    tables = {k: v.copy() for k, v in tiny_tables().items()}
    for op in case.get("tables", []):
        ((kind, spec),) = op.items()
        name = spec["table"]
        if kind == "set":
            tables[name].loc[spec["row"], spec["column"]] = str(spec["value"])
        elif kind == "append":
            tables[name] = pd.concat([tables[name], pd.DataFrame([spec["values"]])], ignore_index=True).fillna("")
        elif kind == "drop_column":
            tables[name] = tables[name].drop(columns=[spec["column"]])
        elif kind == "add_column":
            tables[name][spec["column"]] = str(spec["value"])
        elif kind == "no_rows":
            tables[name] = tables[name].iloc[0:0]
        else:
            raise AssertionError(f"unknown table mutation {kind!r}")
    return tables


def _files(case: dict[str, Any], data: Path) -> None:
    for op in case.get("files", []):
        ((kind, spec),) = op.items()
        if kind == "remove":
            (data / spec).unlink()
        elif kind == "write":
            (data / spec["file"]).write_text(spec["text"], encoding="utf-8")
        elif kind == "replace":
            path = data / spec["file"]
            text = path.read_text(encoding="utf-8")
            assert spec["old"] in text, f"{spec['old']!r} not in {path.name}"
            path.write_text(text.replace(spec["old"], spec["new"], 1), encoding="utf-8")
        elif kind == "encode":
            path = data / spec["file"]
            path.write_bytes(path.read_text(encoding="utf-8").encode(spec["encoding"], spec.get("errors", "strict")))
        elif kind == "binary":
            (data / spec["file"]).write_bytes(PNG * 40)
        elif kind == "grow":
            path = data / spec["file"]
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            target = int(spec["mb"] * 1_000_000)
            block = "".join(lines[1:]) * max(1, (1 << 20) // max(1, len("".join(lines[1:]))))
            with path.open("a", encoding="utf-8") as fh:
                while fh.tell() < target - len(block):
                    fh.write(block)
                fh.write(block[: target - fh.tell()].rsplit("\n", 1)[0] + "\n")
        elif kind == "parquet":
            table = spec["table"]
            pd.read_csv(data / f"{table}.csv", dtype=str, keep_default_na=False).to_parquet(data / f"{table}.parquet", index=False)
            if not spec["keep_csv"]:
                (data / f"{table}.csv").unlink()
        else:
            raise AssertionError(f"unknown file mutation {kind!r}")


def _generated(spec: dict[str, int], scenarios: Path) -> str:
    ((kind, n),) = spec.items()
    if kind == "nested_lists":
        return DEFAULT_SCENARIO + "x: " + "[" * n + "]" * n + "\n"
    if kind == "nested_maps":
        return DEFAULT_SCENARIO + "".join(f"{'  ' * i}k{i}:\n" for i in range(n)) + "  " * n + "leaf: 1\n"
    if kind == "wide_aliases":
        mapping = ", ".join(f"{chr(97 + i)}: {i}" for i in range(12))
        return DEFAULT_SCENARIO.replace("name: case\n", "") + f"x: &x {{{mapping}}}\noverrides: {{a: [{', '.join(['*x'] * n)}]}}\n"
    if kind == "pad":
        return DEFAULT_SCENARIO + "# " + "x" * n + "\n"
    if kind == "chain":
        for i in range(n):
            (scenarios / f"step{i}.yaml").write_text(f"extends: step{i + 1}.yaml\n" if i + 1 < n else DEFAULT_SCENARIO)
        return "extends: step0.yaml\n"
    raise AssertionError(f"unknown generator {kind!r}")


def build_case(case: dict[str, Any], root: Path) -> Path:
    """Write the case folder (data/, scenarios/case.yaml, extras, a previous run folder); return the scenario path."""
    data = root / "data"
    data.mkdir(parents=True)
    for name, df in _tables(case).items():
        df.to_csv(data / f"{name}.csv", index=False, lineterminator="\n")
    _files(case, data)
    scenarios = root / "scenarios"
    scenarios.mkdir()
    text = _generated(case["generate"], scenarios) if "generate" in case else case.get("scenario", DEFAULT_SCENARIO)
    (scenarios / "case.yaml").write_bytes(text.encode(case.get("encoding", "utf-8")))
    for rel, content in case.get("extra", {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content)
    for rel, target in case.get("symlinks", {}).items():
        os.symlink(root / target, root / rel)
    run = root / "run"  # a previous, complete-looking run folder that a failed solve must leave alone
    run.mkdir()
    (run / "manifest.json").write_text('{"scenario_name": "previous"}\n')
    (run / "households.csv").write_text("household_id,plan\nH1,none\n")
    return root / case.get("scenario_path", "scenarios/case.yaml")


def snapshot(root: Path) -> dict[str, tuple[bool, int, int]]:
    """Every path under ``root`` with its kind, size and modification time (symlinks not followed)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), root)] = (name in dirnames, st.st_size, st.st_mtime_ns)
    return out


def _commands(case: dict[str, Any], scenario: Path, root: Path) -> list[list[str]]:
    args = [str(a) for a in case.get("args", [])]
    commands = []
    for command in case.get("commands", ["validate", "solve"]):
        if command == "validate":
            commands.append(["validate", str(scenario), *args])
        elif "out" in case:  # the case is about this --out
            commands.append(["solve", str(scenario), "--out", str(root / case["out"]), *args])
        else:  # into an existing run folder, and into a new one
            commands += [["solve", str(scenario), "--out", str(root / "run"), *args], ["solve", str(scenario), "--out", str(root / "new_run"), *args]]
    return commands


def _check(case: dict[str, Any], code: int, output: str, command: list[str]) -> None:
    where = f"{case['id']}: optimizer {' '.join(command[:1])}"
    assert code == case.get("exit", 2), f"{where} exited {code}:\n{output}"
    assert "Traceback" not in output, f"{where} printed a traceback:\n{output}"
    for piece in case["expect"]:
        assert piece in output, f"{where}: {piece!r} not in:\n{output}"
    for piece in case.get("forbid", []):
        assert piece not in output, f"{where}: {piece!r} must never be printed:\n{output}"


def test_corpus_is_large_and_well_formed() -> None:
    assert len(CASES) >= 60
    assert len(BY_ID) == len(CASES), "case ids must be unique"
    assert all(case.get("expect") for case in CASES), "every case states its expected message"
    kinds = {case["id"].split("-")[0] for case in CASES}
    assert {"data", "file", "scenario", "yaml", "extends", "edit", "cli"} <= kinds


@pytest.mark.parametrize("case_id", [c["id"] for c in CASES])
def test_bad_input_exits_2_with_its_message_and_writes_nothing(case_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = BY_ID[case_id]
    root = tmp_path / "case"
    scenario = build_case(case, root)
    monkeypatch.chdir(root)  # so that a default out/<name> would appear inside the case folder
    before = snapshot(root)
    runner = CliRunner()
    for command in _commands(case, scenario, root):
        result = runner.invoke(app, command)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"{case_id}: unexpected {type(result.exception).__name__}: {result.exception}\n{result.output}")
        _check(case, result.exit_code, result.output, command)
        assert snapshot(root) == before, f"{case_id}: optimizer {command[0]} changed the folder"


@pytest.mark.parametrize("case_id", [c["id"] for c in CASES if c.get("subprocess")])
def test_bad_input_in_a_fresh_interpreter(case_id: str, tmp_path: Path) -> None:
    case = BY_ID[case_id]
    root = tmp_path / "case"
    scenario = build_case(case, root)
    before = snapshot(root)
    command = _commands(case, scenario, root)[0 if "out" in case else -2 if "solve" in case.get("commands", ["solve"]) else 0]
    proc = subprocess.run([sys.executable, "-m", "optimizer.cli", *command], capture_output=True, text=True, timeout=120, cwd=root)
    _check(case, proc.returncode, proc.stdout + proc.stderr, command)
    assert snapshot(root) == before
