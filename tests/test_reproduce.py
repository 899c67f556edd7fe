"""Determinism and `optimizer reproduce`: the manifest holds everything a re-solve needs, inputs are checked by
hash, and the tables come out byte for byte the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import ROOT
from optimizer.cli import app
from optimizer.data import build_instance
from optimizer.generate import generate
from optimizer.outputs import csv_text, write_csv
from optimizer.scenario import Scenario
from optimizer.solve import solve
from optimizer.verify import verify

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run made with extends, overrides in the file, --set and command-line options; then its scenario files
    are deleted, so that only the manifest can tell how it was made."""
    root = tmp_path_factory.mktemp("reproduce")
    generate(300, seed=4, out=root / "data")
    scenarios = root / "scenarios"
    scenarios.mkdir()
    (scenarios / "base.yaml").write_text("data: ../data\nsolver:\n  gap: 0.001\n")
    (scenarios / "s.yaml").write_text("extends: base.yaml\nname: s\noverrides:\n  funds.level.central: x0.8\n")
    args = ["solve", str(scenarios / "s.yaml"), "--out", str(root / "run"), "--no-report", "--time-limit", "60"]
    result = runner.invoke(app, [*args, "--set", "poverty.line=4100", "--set", "funds.paired=x1.5"])
    assert result.exit_code == 0, result.output
    shutil.rmtree(scenarios)
    return root / "run"


def test_manifest_records_the_resolved_scenario(run: Path) -> None:
    manifest = json.loads((run / "manifest.json").read_text())
    sc = manifest["scenario"]
    assert sc["poverty"]["line"] == 4100 and sc["solver"]["gap"] == 0.001 and sc["solver"]["time_limit"] == 60
    assert sc["data_edits"] == {"funds.level.central": "x0.8", "funds.paired": "x1.5"}
    assert Path(manifest["data"]).is_absolute()
    assert set(manifest["input_hashes"]) == {f"{t}.csv" for t in ("regions", "households", "measures", "projects", "funds", "helpers")}
    assert {"highspy", "pulp", "ortools", "pandas", "numpy"} <= set(manifest["versions"])
    assert manifest["seed"] == 0 and manifest["warm_start"] is False


def test_reproduce_gives_byte_identical_tables(run: Path) -> None:
    result = runner.invoke(app, ["reproduce", str(run)])
    assert result.exit_code == 0, result.output
    assert "byte-identical" in result.output and "households" in result.output and "flows" in result.output


def test_reproduce_refuses_changed_inputs(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    data = tmp_path / "data"
    shutil.copytree(json.loads((run / "manifest.json").read_text())["data"], data)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["data"] = str(data)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    funds = data / "funds.csv"
    funds.write_text(funds.read_text().replace(",", ", ", 1))  # one byte more, same meaning
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    result = runner.invoke(app, ["reproduce", str(copy)])
    assert result.exit_code == 2, result.output
    assert "funds.csv: changed since the run" in result.output and "cannot be reproduced" in result.output
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == before
    (data / "helpers.csv").unlink()
    result = runner.invoke(app, ["reproduce", str(copy)])
    assert result.exit_code == 2 and "helpers.csv: missing" in result.output
    result = runner.invoke(app, ["reproduce", str(data)])
    assert result.exit_code == 2 and "is not a run folder: manifest.json is missing" in result.output


def test_a_decomposed_run_read_from_a_partitioned_folder_is_reproduced_the_same_way(tmp_path: Path) -> None:
    """A decomposed run whose workers read a partitioned folder matched its helpers county by county; reproduced
    from the whole instance in memory, its helpers were matched nationally and 5 of its 9 tables differed. Its
    manifest also recorded the hashes of regions and funds only. Now every input file is hashed (a changed county
    file is refused, exit 2) and the run is re-solved from the folder as it was, byte for byte."""
    from optimizer.generate import generate_partitioned

    data = tmp_path / "data"
    generate_partitioned(1500, data, seed=3)
    (tmp_path / "s.yaml").write_text("name: part\ndata: data\nsolver:\n  gap: 0.002\n")
    solved = runner.invoke(app, ["solve", str(tmp_path / "s.yaml"), "--method", "decomposed", "--workers", "1", "--out", str(tmp_path / "run"), "--no-report"])
    assert solved.exit_code == 0, solved.output
    recorded = json.loads((tmp_path / "run" / "manifest.json").read_text())["input_hashes"]
    files = sorted(str(p.relative_to(data)) for p in data.rglob("*.parquet"))
    assert sorted(recorded) == files
    again = runner.invoke(app, ["reproduce", str(tmp_path / "run")])
    assert again.exit_code == 0 and "byte-identical" in again.output, again.output
    county_file = data / next(f for f in files if f.startswith("households/"))
    table = pd.read_parquet(county_file)
    table.loc[table.index[0], "size"] += 1
    table.to_parquet(county_file, index=False)
    refused = runner.invoke(app, ["reproduce", str(tmp_path / "run")])
    assert refused.exit_code == 2 and "changed since the run" in refused.output and county_file.name in refused.output, refused.output


def test_a_multiyear_run_decomposed_from_a_partitioned_folder_is_reproduced(tmp_path: Path) -> None:
    """Its re-solve holds the households as the counties' parts on disk: reproduce dropped them (and their folder
    with the re-solve's result) and reported "households: recorded, not produced now", exit 9."""
    from optimizer.generate import generate_partitioned

    generate_partitioned(900, tmp_path / "data", seed=3)
    (tmp_path / "s.yaml").write_text("name: part\ndata: data\nyears: {first: 2018, last: 2020, relocation_rate: 0.05}\nsolver:\n  gap: 0.005\n")
    solved = runner.invoke(app, ["solve", str(tmp_path / "s.yaml"), "--method", "decomposed", "--workers", "1", "--out", str(tmp_path / "run"), "--no-report"])
    assert solved.exit_code == 0, solved.output
    again = runner.invoke(app, ["reproduce", str(tmp_path / "run")])
    assert again.exit_code == 0, again.output
    assert "5 tables byte-identical (households, projects, flows, spending, counties)" in " ".join(again.output.split())


def test_a_multiyear_run_and_its_replan_are_reproduced(tmp_path: Path) -> None:
    """``reproduce`` of a multi-year run re-solved it with the one-year solve, which refuses a years: section (exit
    2 with a message that did not say why). Now it is solved as ``optimizer solve`` solved it and its five tables
    compared; its manifest records the versions. A re-plan from a year is re-planned again from its previous run,
    whose tables' sha256 its manifest records (it was refused whatever the previous run's state); once that run is
    written again, the re-plan is refused, saying so."""
    generate(300, seed=6, out=tmp_path / "data")
    deadline = str(ROOT / "scenarios" / "deadline_2020.yaml")
    base = ["solve", deadline, "--set", f"data={tmp_path / 'data'}", "--no-report"]
    solved = runner.invoke(app, [*base, "--out", str(tmp_path / "run")])
    assert solved.exit_code == 0, solved.output
    assert "versions" in json.loads((tmp_path / "run" / "manifest.json").read_text())
    again = runner.invoke(app, ["reproduce", str(tmp_path / "run")])
    assert again.exit_code == 0, again.output
    assert "5 tables byte-identical (households, projects, flows, spending, counties)" in " ".join(again.output.split())
    # a re-plan written over its previous run (it replaced the run it kept from and named itself as that run), a
    # year too large for a number (an unexpected error), and a manifest whose from-year is text (verify crashed, the
    # re-plan's check of the year was skipped), refused with exit 2 before anything is written (fuzzing pass 13)
    (tmp_path / "link").symlink_to(tmp_path / "run")  # the same folder by another name (it was written over: pass 14)
    for previous in ("run", "link"):
        onto = runner.invoke(app, [*base, "--from-year", "2018", "--previous", str(tmp_path / previous), "--out", str(tmp_path / "run")])
        assert onto.exit_code == 2 and "would replace the previous run" in " ".join(onto.output.split()), onto.output
    huge = runner.invoke(app, [*base, "--from-year", "99999999999999999999", "--previous", str(tmp_path / "run")])
    assert huge.exit_code == 2 and "--from-year" in huge.output, huge.output
    replan = runner.invoke(app, [*base, "--from-year", "2018", "--previous", str(tmp_path / "run"), "--out", str(tmp_path / "replan")])
    assert replan.exit_code == 0, replan.output
    text_year = tmp_path / "text_year"
    shutil.copytree(tmp_path / "replan", text_year)
    manifest = json.loads((text_year / "manifest.json").read_text())
    manifest["rolling"]["from_year"] = "2018"
    (text_year / "manifest.json").write_text(json.dumps(manifest))
    for args in (["verify", str(text_year)], [*base, "--from-year", "2017", "--previous", str(text_year), "--out", str(tmp_path / "r17")]):
        refused = runner.invoke(app, args)
        assert refused.exit_code == 2 and "key 'rolling.from_year' must be a whole number" in " ".join(refused.output.split()), refused.output
    rolling = json.loads((tmp_path / "replan" / "manifest.json").read_text())["rolling"]
    assert sorted(rolling["previous_tables"]) == ["flows.csv", "households.csv", "projects.csv"]
    replanned = runner.invoke(app, ["reproduce", str(tmp_path / "replan")])
    assert replanned.exit_code == 0, replanned.output
    assert "5 tables byte-identical" in " ".join(replanned.output.split())
    cheaper = runner.invoke(app, [*base, "--set", "years.profile=front_loaded", "--out", str(tmp_path / "run")])
    assert cheaper.exit_code == 0, cheaper.output
    refused = runner.invoke(app, ["reproduce", str(tmp_path / "replan")])
    said = " ".join(refused.output.split())
    assert refused.exit_code == 2 and "a re-plan from 2018" in said and "was written again since" in said, refused.output


def test_csv_and_parquet_twins_that_differ_are_named_by_verify_and_reproduce(run: Path, tmp_path: Path) -> None:
    """Two households' plans swapped in the CSV only, its sha256 restated in the manifest: `verify` read the Parquet
    and passed, `reproduce` compared the CSV and said "byte-identical" of the Parquet too (fuzzing pass 13)."""
    from optimizer.data import file_sha256

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    hh = pd.read_csv(copy / "households.csv", dtype=str, keep_default_na=False)
    hh.loc[:1, "plan"] = hh.loc[:1, "plan"].to_numpy()[::-1]
    assert hh.loc[0, "plan"] != hh.loc[1, "plan"]
    hh.to_csv(copy / "households.csv", index=False, lineterminator="\n")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["output_hashes"]["households.csv"] = file_sha256(copy / "households.csv")
    (copy / "manifest.json").write_text(json.dumps(manifest))
    checked = runner.invoke(app, ["verify", str(copy)])
    said = " ".join(checked.output.split())
    assert checked.exit_code == 5 and "households.csv and households.parquet hold different tables (column plan differs)" in said, checked.output
    again = runner.invoke(app, ["reproduce", str(copy)])
    said = " ".join(again.output.split())
    assert again.exit_code == 9 and "hold different tables (column plan differs)" in said, again.output


def test_reproduce_names_the_table_and_rows_that_differ(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "households.parquet").unlink()
    path = copy / "households.csv"
    lines = path.read_text().split("\n")
    cells = lines[4].split(",")
    cells[6] = "0.5"  # p_success of the household on line 5
    lines[4] = ",".join(cells)
    path.write_text("\n".join(lines))
    flows = copy / "flows.csv"
    flows.write_text("\n".join(flows.read_text().split("\n")[:-3]) + "\n")  # two rows fewer
    result = runner.invoke(app, ["reproduce", str(copy)])
    assert result.exit_code == 9, result.output
    household = cells[0]
    assert f"households: 1 of 300 rows differ: line 5 (household_id={household})" in result.output
    assert "flows:" in result.output and "rows recorded" in result.output
    assert "regions" not in result.output.split("differences:")[1]  # identical tables are not listed
    # a byte-order mark, which a spreadsheet may write, is named (the headers looked the same: "columns differ")
    projects = copy / "projects.csv"
    projects.write_text("\ufeff" + projects.read_text())
    said = " ".join(runner.invoke(app, ["reproduce", str(copy)]).output.split())
    assert "projects: the recorded file begins with a UTF-8 byte-order mark" in said and "projects: columns differ" not in said, said
    assert "time limit" not in result.output  # the run was proven: no time limit to blame


def test_a_run_stopped_at_its_time_limit_is_given_as_the_reason_it_differs(run: Path, tmp_path: Path) -> None:
    """A run whose MIP stopped at its time limit may come out otherwise on a re-solve: `reproduce` still reports
    the differences (exit 9) and says what may explain them."""
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    assert manifest["stopped_at_time_limit"] is False
    (copy / "manifest.json").write_text(json.dumps({**manifest, "stopped_at_time_limit": True}))
    flows = copy / "flows.csv"
    flows.write_text("\n".join(flows.read_text().split("\n")[:-2]) + "\n")  # a row fewer
    (copy / "flows.parquet").unlink(missing_ok=True)
    result = runner.invoke(app, ["reproduce", str(copy)])
    assert result.exit_code == 9, result.output
    said = " ".join(result.output.split())
    assert "flows:" in said and "this run's MIP stopped at its time limit (solver.time_limit): where a MIP stops depends on the machine's speed" in said


def test_a_run_solved_warm_in_a_session_is_given_as_the_reason_it_differs(run: Path, tmp_path: Path) -> None:
    """A what-if of a session (compare, sweep, marginal, the Python API's Session) starts its LP from the basis of
    the solve before it, and may end at another optimum of the same value: `reproduce` of such a run written with
    write_run reported the differences (exit 9) without a reason (fuzzing pass 17 F5)."""
    from optimizer.reproduce import warm_start_note

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    assert manifest["warm_start"] is False and warm_start_note(manifest) is None
    (copy / "manifest.json").write_text(json.dumps({**manifest, "warm_start": True}))
    flows = copy / "flows.csv"
    flows.write_text("\n".join(flows.read_text().split("\n")[:-2]) + "\n")  # a row fewer
    (copy / "flows.parquet").unlink(missing_ok=True)
    result = runner.invoke(app, ["reproduce", str(copy)])
    said = " ".join(result.output.split())
    assert result.exit_code == 9 and "this run's LP started from the basis of the solve before it in its session" in said, result.output
    assert "3 of this run's county models were kept" in (warm_start_note({"decomposition": {"kept_models": 3}}) or "")


@pytest.mark.parametrize("backend", ["highs", "pulp", "ortools"])
def test_every_backend_gives_byte_identical_tables_twice(backend: str) -> None:
    """Seeds fixed, no state carried between solves: two solves in one process write the same bytes."""
    inst = build_instance({k: v.astype(str) for k, v in generate(250, seed=12).items()})
    sc = Scenario.model_validate({"name": "det", "data": "unused", "solver": {"name": backend, "gap": 1e-4}})
    first, second = solve(sc, inst), solve(sc, inst)
    verify(first)
    verify(second)
    for name, table in first.tables.items():
        assert csv_text(table) == csv_text(second.tables[name]), f"{backend}: {name} differs between two solves"


def test_tables_are_written_in_chunks_with_the_same_bytes(tmp_path: Path) -> None:
    """A table far longer than one chunk of pandas' writer gives the bytes ``reproduce`` compares against."""
    rng = np.random.default_rng(3)
    n = 60_000
    table = pd.DataFrame({"household_id": [f"H{i:07d}" for i in range(n)], "plan": rng.choice(["a+b", "c", ""], n),
                          "cost": rng.random(n) * 1e4, "p": np.where(rng.random(n) < 0.1, np.nan, rng.random(n))})  # fmt: skip
    write_csv(table, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_bytes() == csv_text(table).encode("utf-8")
