"""The streaming generator (partitioned Parquet by province and county) and its loader."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from optimizer import load_instance, solve, verify
from optimizer.generate import NATIONAL, _Tree, generate, generate_partitioned, regions_and_funds
from optimizer.partitioned import county_households, load_frame, load_partitioned, partition_counties
from optimizer.scenario import Scenario


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("part") / "data"
    generate_partitioned(3000, out, seed=4, provinces=2)
    return out


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_same_seed_same_bytes_from_the_cli_and_the_api(folder: Path, tmp_path: Path) -> None:
    cli = tmp_path / "cli"
    cmd = [sys.executable, "-m", "optimizer.cli", "generate", "--households", "3000", "--provinces", "2", "--seed", "4", "--partitioned", "--out", str(cli)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    names = _files(folder)
    assert names == _files(cli)
    assert any(n.startswith("households/province=P02/county=P02C") for n in names)
    _, mismatch, errors = filecmp.cmpfiles(folder, cli, names, shallow=False)
    assert mismatch == [] and errors == []
    other = tmp_path / "other"
    generate_partitioned(3000, other, seed=5, provinces=2)
    assert not filecmp.cmp(folder / "regions.parquet", other / "regions.parquet", shallow=False)


def test_regions_and_funds_are_those_of_the_partitioned_instance(folder: Path) -> None:
    """The master's benchmark builds its blocks from the regions and funds alone: the same rows as the partitioned
    instance of the same arguments, and its poor households per county, without generating the households."""
    tables, per_county = regions_and_funds(3000, seed=4, provinces=2)
    for name in ("regions", "funds", "measures"):
        written = pd.read_parquet(folder / f"{name}.parquet")
        pd.testing.assert_frame_equal(tables[name], written[tables[name].columns], check_dtype=False)
    counted = county_households(folder)
    pd.testing.assert_series_equal(per_county[per_county > 0].sort_index(), counted.sort_index(), check_names=False, check_dtype=False)
    assert per_county.sum() == 3000


def test_the_generator_never_replaces_a_folder_holding_anything_else(tmp_path: Path) -> None:
    """The partitioned generator replaces its folder whole: a folder that holds anything but a partitioned
    instance (here a notes file beside it) is refused before any work, and the file survives; an empty folder
    and an earlier partitioned instance are written over."""
    from optimizer.errors import InputError

    out = tmp_path / "data"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    with pytest.raises(InputError, match="exists and is not a partitioned instance .*notes.txt.*refusing to replace it"):
        generate_partitioned(300, out, seed=1)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"] and (out / "notes.txt").read_text() == "precious"
    (out / "notes.txt").unlink()
    generate_partitioned(300, out, seed=1)  # empty: written
    generate_partitioned(300, out, seed=2)  # an instance: replaced
    assert partition_counties(out) and not (out / "notes.txt").exists()


def test_the_csv_generator_never_writes_into_a_run_folder_or_a_partitioned_instance(folder: Path, tmp_path: Path) -> None:
    """A run folder holds result tables named like the inputs (households.csv...): generating into it overwrote
    them. It is refused, as is a partitioned instance (CSV beside its Parquet); an existing CSV instance is
    regenerated as before."""
    from optimizer.errors import InputError

    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text("{}")
    (run / "households.csv").write_text("household_id,plan\nH1,dibao\n")
    with pytest.raises(InputError, match="is a run folder; refusing"):
        generate(300, seed=1, out=run)
    assert (run / "households.csv").read_text() == "household_id,plan\nH1,dibao\n" and not (run / "regions.csv").exists()
    with pytest.raises(InputError, match="is a partitioned instance; refusing"):
        generate(300, seed=1, out=folder)
    assert not list(folder.glob("*.csv"))
    generate(300, seed=1, out=tmp_path / "csv")
    generate(300, seed=1, out=tmp_path / "csv")  # regenerated in place
    assert load_instance(tmp_path / "csv").n_households == 300


def test_the_in_memory_generator_still_writes_the_sample(tmp_path: Path) -> None:
    generate(20000, seed=2020, out=tmp_path)
    names = sorted(p.name for p in (ROOT / "data" / "sample").iterdir())
    _, mismatch, errors = filecmp.cmpfiles(tmp_path, ROOT / "data" / "sample", names, shallow=False)
    assert mismatch == [] and errors == []


def test_county_filter_returns_exactly_that_countys_rows(folder: Path) -> None:
    whole = load_instance(folder)
    counties = partition_counties(folder)
    assert len(counties) == int((whole.tree.level == 3).sum())
    tree = whole.tree
    hh_county = tree.ids.to_numpy()[tree.ancestors[tree.pos(whole.households["village_id"]), 3]]
    for county in (counties[0], counties[-1]):
        one = load_partitioned(folder, [county])
        expected = whole.households[hh_county == county].reset_index(drop=True)
        pd.testing.assert_frame_equal(one.households.reset_index(drop=True), expected)
        proj_county = tree.ids.to_numpy()[tree.ancestors[tree.pos(whole.projects["village_id"]), 3]]
        assert list(one.projects["project_id"]) == list(whole.projects.loc[proj_county == county, "project_id"])
        # the county's subtree and its ancestors, nothing of the other counties
        assert set(one.regions["region_id"]) >= {county} and not set(one.regions["region_id"]) & (set(counties) - {county})
        mine = whole.funds[whole.funds["region_id"].str.startswith(county)]
        assert set(mine["fund_id"]) <= set(one.funds["fund_id"])
    pair = load_partitioned(folder, counties[:2])
    assert pair.n_households == int(np.isin(hh_county, counties[:2]).sum())


def test_a_partitioned_instance_loads_solves_and_verifies(folder: Path) -> None:
    scenario = Scenario.model_validate({"name": "part", "data": str(folder), "solver": {"gap": 1e-3}})
    result = solve(scenario)
    verify(result)
    assert result.manifest["households"] == 3000
    assert result.manifest["structured_bound"] >= result.manifest["lp_bound"] * (1 - 1e-9)
    one = load_partitioned(folder, partition_counties(folder)[:1])
    verify(solve(scenario, one))


def test_unknown_county_is_a_clear_error(folder: Path) -> None:
    from optimizer.errors import InputError

    with pytest.raises(InputError, match="unknown county"):
        load_partitioned(folder, ["NOPE"])
    with pytest.raises(InputError, match="unknown county id.*'NOPE'"):  # with the region rows from the driver
        load_partitioned(folder, ["NOPE"], regions=load_frame(folder).regions)


def test_a_county_given_its_region_rows_reads_neither_national_table(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A decomposition's driver holds the regions and funds; given a county's region rows and funds (and no hashes
    to record) the county reads only its own files and measures.parquet: its read no longer grows with the country
    (27.6 ms a county at 1M households, 53.0 ms at 10M, for the national tables alone). The instance is the one read
    with filters, but for the regions that hold only paired funds of other counties, and so is the county's model."""
    import optimizer.partitioned as part
    from optimizer.decompose import plan_blocks
    from optimizer.model import build_model
    from optimizer.plans import build_plans
    from optimizer.storage import county_regions

    frame = load_frame(folder)
    counties = sorted(frame.county_households.index)
    blocks = plan_blocks(frame.funds, frame.tree, counties, frame.county_households.reindex(counties).to_numpy())
    scenario = Scenario(name="part", data=str(folder))
    for i, rows in enumerate(county_regions(frame, counties)):
        filtered = load_partitioned(folder, [counties[i]], funds=blocks.funds[i])
        with monkeypatch.context() as m:
            m.setattr(part, "_restricted", lambda *a: pytest.fail("a county read the national tables"))
            m.setattr(part, "file_sha256", lambda *a: pytest.fail("a county hashed a file"))
            given = load_partitioned(folder, [counties[i]], funds=blocks.funds[i], regions=rows, record_hashes=False)
        assert given.hashes == {} and filtered.hashes
        for table in ("households", "funds", "projects", "helpers", "measures"):
            pd.testing.assert_frame_equal(getattr(given, table), getattr(filtered, table))
        only_filtered = ~filtered.regions["region_id"].isin(given.regions["region_id"])
        assert not filtered.funds["region_id"].isin(filtered.regions.loc[only_filtered, "region_id"]).any()
        pd.testing.assert_frame_equal(given.regions, filtered.regions[~only_filtered].reset_index(drop=True))
        a, _ = build_model(filtered, scenario, build_plans(filtered, scenario))
        b, _ = build_model(given, scenario, build_plans(given, scenario))
        assert (a.A != b.A).nnz == 0 and np.array_equal(a.c, b.c) and np.array_equal(a.row_hi, b.row_hi)


@pytest.mark.parametrize("table", ["households", "projects", "funds.parquet", "regions.parquet"])
def test_an_unreadable_parquet_file_is_bad_input_naming_the_file(folder: Path, tmp_path: Path, table: str, capfd: pytest.CaptureFixture[str]) -> None:
    """A corrupt file of a partitioned instance (a whole table, or one county's part of a split table) is bad
    input whose message names the file, whether the driver reads it (``load_frame``: regions, funds and the
    households' row counts; the ids of the split tables) or a worker (``load_partitioned`` for its county), and so
    is a decomposed solve's:
    exit code 2, not an unexpected error or a county that "failed after 2 retries"; its worker neither retries the
    county nor logs the error with its traceback (Dask's "Compute Failed", three times)."""
    import shutil

    from optimizer.errors import InputError
    from optimizer.partitioned import load_frame

    copy = tmp_path / "data"
    shutil.copytree(folder, copy)
    county = partition_counties(copy)[0]
    bad = copy / table if table.endswith(".parquet") else next((copy / table).glob(f"province=*/county={county}/*.parquet"))
    bad.write_bytes(bad.read_bytes()[:100])  # cut short: no Parquet footer
    with pytest.raises(InputError, match="cannot be read as a Parquet table") as err:
        load_partitioned(copy, [county])
    assert str(bad) in str(err.value)
    if table != "projects":  # the driver reads the others
        with pytest.raises(InputError, match="cannot be read as a Parquet table") as err:
            load_frame(copy)
        assert str(bad) in str(err.value)
    else:  # the driver reads only its ids (repeated across counties?), its county's worker the rest: either names it
        capfd.readouterr()
        with pytest.raises(InputError, match="cannot be read as a Parquet table") as err:
            solve(Scenario(name="bad", data=str(copy)), method="decomposed", workers=1)
        assert str(bad) in str(err.value) and err.value.exit_code == 2
        logged = capfd.readouterr().err
        assert "Compute Failed" not in logged and "Traceback" not in logged, logged


def test_validation_in_batches_of_counties_counts_what_a_whole_load_counts_and_names_each_problem(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``optimizer validate`` checks a partitioned folder that solve would decompose in batches of counties, never
    whole: the same row counts as a whole load, and a bad value named with its county and row, an id repeated
    across two counties (which no county's own load sees) with the id and both counties."""
    import importlib
    import shutil

    from typer.testing import CliRunner

    from optimizer.cli import app
    from optimizer.errors import InputError
    from optimizer.partitioned import validate_partitioned

    whole = load_partitioned(folder)
    said: list[str] = []
    counts = validate_partitioned(folder, progress=said.append, batch=700)
    assert counts == {"households": whole.n_households, "regions": len(whole.tree.ids), "measures": len(whole.measures),
                      "projects": len(whole.projects), "funds": len(whole.funds), "helpers": len(whole.helpers)}  # fmt: skip
    assert len(said) >= 3 and said[-1].endswith(f"of {len(partition_counties(folder))} counties")

    bad = tmp_path / "data"
    shutil.copytree(folder, bad)
    first, second = (next((bad / "households").glob(f"province=*/county={c}/*.parquet")) for c in partition_counties(bad)[:2])
    a, b = pd.read_parquet(first), pd.read_parquet(second)
    a.loc[a.index[4], "size"] = -3
    b.loc[b.index[0], "household_id"] = a["household_id"].iloc[0]
    a.to_parquet(first, index=False)
    b.to_parquet(second, index=False)
    with pytest.raises(InputError) as err:
        validate_partitioned(bad, batch=700)
    text = str(err.value)
    c1, c2 = partition_counties(bad)[:2]
    assert f"county {c1}: households/ (its files in order) row 5 " in text and "column size" in text
    assert f"1 household_id value(s) appear more than once: {a['household_id'].iloc[0]} (county {c1}, {c2})" in text
    a.loc[a.index[4], "size"] = 3  # only the repeated id is left: the batch fails, no county alone does
    a.to_parquet(first, index=False)
    with pytest.raises(InputError) as err:
        validate_partitioned(bad)
    assert f"counties {c1} to " in str(err.value) and "appear more than once" in str(err.value)

    monkeypatch.setattr(importlib.import_module("optimizer.solve"), "DECOMPOSE_FROM", 1000)  # solve would decompose this folder
    scenario = tmp_path / "part.yaml"
    scenario.write_text(f"name: part\ndata: {folder}\n")
    result = CliRunner().invoke(app, ["validate", str(scenario)])
    assert result.exit_code == 0, result.output
    assert f"{whole.n_households:,} households" in result.output and "checked in batches of counties" in result.output


def test_national_shape_gives_the_issues_region_counts() -> None:
    tree = _Tree.build(30_000_000, 31, np.random.default_rng(0), NATIONAL)
    count = {lv: len(tree.ids[lv]) for lv in tree.ids}
    assert 300 <= count[2] <= 360 and 2_600 <= count[3] <= 3_000
    assert 36_000 <= count[4] <= 44_000 and 450_000 <= count[5] <= 550_000


def test_a_table_held_as_parts_reads_and_writes_as_the_table_it_stands_for(tmp_path: Path) -> None:
    """Counties' households parts (one county without helpers, so without their columns) read back whole, in order,
    under one schema; the run folder written from the parts holds the same CSV bytes and Parquet rows as one written
    from the concatenated table; head and value counts read only what they need."""
    from optimizer.outputs import write_run
    from optimizer.partitioned import write_part
    from optimizer.result import Result

    rng = np.random.default_rng(3)

    def county(c: str, n: int, helpers: bool) -> pd.DataFrame:
        df = pd.DataFrame({"household_id": [f"{c}H{i:03d}" for i in range(n)], "measures": rng.choice(["none", "train", "train+loan"], n),
                           "cost": rng.uniform(0, 5000, n).round(2), "p_success": rng.uniform(0, 1, n)})  # fmt: skip
        if helpers:
            df["helper_id"] = [f"{c}K{i % 4}" for i in range(n)]
            df["match_score"] = rng.integers(0, 20, n).astype(float)
        return df

    blocks = [county("C1", 7, True), county("C2", 5, False), county("C3", 9, True)]
    paths = [write_part(df, tmp_path / f"C{i}.parquet") for i, df in enumerate(blocks)]
    assert not list(tmp_path.glob(".*"))  # no temporary file left beside the parts
    manifest = {"households": 21}
    parted = Result(tables={"poverty": pd.DataFrame({"measure": ["P0"], "before": [0.5]})}, manifest=manifest, parts={"households": paths})
    whole = pd.concat(blocks, ignore_index=True)
    whole["helper_id"] = whole["helper_id"].fillna("").replace("", None)  # what a column a part lacks reads as
    assert parted.names() == ["poverty", "households"]
    assert parted.head("households", 10)["household_id"].tolist() == whole["household_id"].head(10).tolist()
    counts = parted.value_counts("households", "measures")
    assert counts.sort_index().to_dict() == whole["measures"].value_counts().sort_index().to_dict()
    assert "households" not in parted.tables  # head and counts did not read the whole table

    out = write_run(parted, tmp_path / "run")
    memory = write_run(Result(tables={"poverty": parted.tables["poverty"], "households": whole}, manifest=manifest), tmp_path / "memory")
    assert (out / "households.csv").read_bytes() == (memory / "households.csv").read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(out / "households.parquet"), pd.read_parquet(memory / "households.parquet"), check_dtype=False)
    loaded = parted.households
    assert loaded["household_id"].tolist() == whole["household_id"].tolist()
    assert loaded["helper_id"].isna().sum() == 5 and np.isclose(loaded["cost"].sum(), whole["cost"].sum())


def test_sums_of_counties_with_and_without_helpers_are_the_sums_of_their_union() -> None:
    """The manifest's and the poverty table's figures from the counties' sums equal those of the whole table, also
    when one county has no helpers (its households count, none of them with a helper)."""
    from optimizer.result import add_sums, household_sums, poverty_table

    rng = np.random.default_rng(5)

    def county(n: int, helpers: bool) -> pd.DataFrame:
        df = pd.DataFrame({"p_success": rng.uniform(0, 1, n), "cost": rng.uniform(0, 5000, n), "income_before": rng.uniform(1000, 4000, n),
                           "income_after": rng.uniform(2000, 6000, n)})  # fmt: skip
        if helpers:
            df["helper_id"] = np.where(rng.uniform(size=n) < 0.8, "K1", "")
            df["match_score"] = rng.integers(0, 20, n).astype(float)
        return df

    blocks, sizes = [county(30, True), county(20, False), county(25, True)], [rng.integers(1, 6, n) for n in (30, 20, 25)]
    summed = add_sums([household_sums(b, s, 2952.0) for b, s in zip(blocks, sizes)])
    whole = household_sums(pd.concat(blocks, ignore_index=True), np.concatenate(sizes), 2952.0)
    assert summed.keys() == whole.keys() and all(summed[k] == pytest.approx(whole[k], rel=1e-12) for k in whole)
    assert summed["households"] == 75 and summed["with_helper"] == sum((b["helper_id"] != "").sum() for b in (blocks[0], blocks[2]))
    pd.testing.assert_frame_equal(poverty_table(summed), poverty_table(whole), rtol=1e-12)


def _broken(folder: Path, tmp_path: Path, name: str) -> Path:
    import shutil

    copy = tmp_path / name
    shutil.copytree(folder, copy)
    return copy


def test_a_decomposed_solve_refuses_what_only_the_whole_folder_shows(folder: Path, tmp_path: Path) -> None:
    """Found by fuzzing: the decomposed solve reads each county alone, so it accepted an id repeated in two counties
    (its run held two households with one id), a fund target naming no region (dropped), a partition of a county
    that regions.parquet does not hold (a crash, exit 1) or under another province's folder (a county's rows read
    by none), and a funds.csv beside funds.parquet (ignored). Each is refused now before any county is solved, and
    by validate and the whole load too. So is a county's file with a column named twice (Arrow's "Can't unify
    schema with duplicate field names", naming no file, in the driver's check of the ids). Fuzzing pass 13: a
    county whose households file is missing (it was solved without them, exit 0), and a column of another type in
    one county's file (Arrow's message named the folder, not the file)."""
    import shutil

    from optimizer.errors import InputError
    from optimizer.partitioned import validate_partitioned

    c1, c2 = partition_counties(folder)[:2]
    other = next(c for c in partition_counties(folder) if c[:3] != c1[:3])

    def repeated(d: Path) -> None:
        first, second = (next((d / "households").glob(f"province=*/county={c}/*.parquet")) for c in (c1, c2))
        b = pd.read_parquet(second)
        b.loc[b.index[0], "household_id"] = pd.read_parquet(first)["household_id"].iloc[0]
        b.to_parquet(second, index=False)

    def target(d: Path) -> None:
        funds = pd.read_parquet(d / "funds.parquet")
        row = funds.index[funds["targets"].fillna("") != ""][0]
        funds.loc[row, "targets"] = funds.loc[row, "targets"] + ";NOPE"
        funds.to_parquet(d / "funds.parquet", index=False)

    def unknown_county(d: Path) -> None:
        place = next((d / "households").glob(f"province=*/county={c1}"))
        place.rename(place.with_name(f"county={c1.lower()}"))

    def moved(d: Path) -> None:
        place = next((d / "households").glob(f"province=*/county={c1}"))
        shutil.move(str(place), str(d / "households" / f"province={other[:3]}" / place.name))

    def csv_twin(d: Path) -> None:
        pd.read_parquet(d / "funds.parquet").assign(amount=0.0).to_csv(d / "funds.csv", index=False)

    def named_twice(d: Path) -> None:
        import pyarrow.parquet as pq

        part = next((d / "households").glob(f"province=*/county={c2}/*.parquet"))
        table = pq.read_table(part)
        pq.write_table(table.append_column("size", table.column("size")), part)

    def households_gone(d: Path) -> None:  # its projects and helpers are there: it was solved without its households
        next((d / "households").glob(f"province=*/county={c1}/*.parquet")).unlink()

    def households_dir_gone(d: Path) -> None:
        shutil.rmtree(next((d / "households").glob(f"province=*/county={c1}")))

    def drifted(d: Path) -> None:
        part = next((d / "households").glob(f"province=*/county={c2}/*.parquet"))
        pd.read_parquet(part).astype({"size": str}).to_parquet(part, index=False)

    cases = {
        "households_gone": (households_gone, f"county {c1}'s partition holds no rows; a county without poor households has none (a file missing?)"),
        "households_dir_gone": (households_dir_gone, f"county {c1} has projects but no households partition (a households file missing?)"),
        "drifted": (drifted, f"county={c2}/part-0.parquet: column size is large_string where"),
        "repeated": (repeated, "household_id value(s) appear more than once"),
        "target": (target, "column targets: unknown region(s) 'NOPE'"),
        "unknown_county": (unknown_county, f"'{c1.lower()}' is not a county of regions.parquet"),
        "moved": (moved, f"county {c1} lies in province {c1[:3]}; its files belong under households/province={c1[:3]}/county={c1}"),
        "csv_twin": (csv_twin, "funds.csv beside the partitioned tables"),
        "named_twice": (named_twice, "column(s) 'size' appear more than once in the header"),
    }
    for name, (break_it, said) in cases.items():
        bad = _broken(folder, tmp_path, name)
        break_it(bad)
        scenario = Scenario.model_validate({"name": name, "data": str(bad), "helpers": {"assign": False}})
        with pytest.raises(InputError) as err:
            solve(scenario, method="decomposed", workers=2)
        assert said in str(err.value), (name, str(err.value))
        for check in (validate_partitioned, load_partitioned):
            with pytest.raises(InputError) as err:
                check(bad)
            assert said in str(err.value) or name == "repeated" and "duplicate id" in str(err.value), (name, check, str(err.value))
    # a county without a projects file has no projects when read alone, as in the whole folder (it was read as a
    # table without columns: "missing required column 'project_id'" and seven more, on the decomposed path only)
    bad = _broken(folder, tmp_path, "no_projects")
    next((bad / "projects").glob(f"province=*/county={c1}/*.parquet")).unlink()
    assert len(load_partitioned(bad, [c1]).projects) == 0 and len(load_partitioned(bad).projects) > 0


def test_a_county_without_households_prices_its_funds_at_zero(folder: Path, tmp_path: Path) -> None:
    """A county with regions and funds but no registered poor households (its split tables removed): the decomposed
    run left its funds' shadow price empty, and `verify` of its own run folder failed (exit 5). Now they are 0."""
    import shutil

    from optimizer import verify_run, write_run

    empty = partition_counties(folder)[1]
    bad = _broken(folder, tmp_path, "empty")
    for table in ("households", "projects", "helpers"):
        for place in (bad / table).glob(f"province=*/county={empty}"):
            shutil.rmtree(place)
    scenario = Scenario.model_validate({"name": "empty", "data": str(bad), "helpers": {"assign": False}, "solver": {"gap": 5e-3}})
    result = solve(scenario, method="decomposed", workers=2)
    funds = result.tables["funds"]
    own = funds[funds["region_id"].astype(str).str.startswith(empty)]
    assert len(own) and np.isfinite(funds["shadow_price"].to_numpy(dtype=float)).all() and (own["shadow_price"] == 0).all()
    verify_run(write_run(result, tmp_path / "run"))


def test_an_optional_column_one_file_lacks_is_its_default_in_that_files_rows(folder: Path, tmp_path: Path) -> None:
    """Found by fuzzing: a county's households file without the optional unsafe_house column. validate refused 368
    'nan' values that are in no file, while the decomposed solve read the county with the default; and when the
    first file lacked it, the whole load dropped the column for every county. Now the whole load, validate and a
    county's own load agree: that county's rows take the default (0), the others keep theirs."""
    from optimizer.partitioned import validate_partitioned

    original = load_partitioned(folder).households.set_index("household_id")["unsafe_house"]
    for which in (0, 1):  # the first county's file (the one Arrow took the columns from), then another
        bad = _broken(folder, tmp_path, f"optional{which}")
        county = partition_counties(bad)[which]
        path = next((bad / "households").glob(f"province=*/county={county}/*.parquet"))
        pd.read_parquet(path).drop(columns=["unsafe_house"]).to_parquet(path, index=False)
        flags = load_partitioned(bad).households.set_index("household_id")["unsafe_house"]
        mine = load_partitioned(bad, [county]).households["household_id"]
        assert not flags[mine].any() and not load_partitioned(bad, [county]).households["unsafe_house"].any()
        others = original.index.difference(mine)
        assert original[others].any() and (flags[others] == original[others]).all()
        validate_partitioned(bad)


def test_a_categorical_column_in_one_countys_file_reads_as_its_text(folder: Path, tmp_path: Path) -> None:
    """Found by fuzzing (pass 13): a county's households file written from pandas with categorical columns (Parquet
    dictionary encoding) was refused as "large_string where ... has dictionary<values=string ...>" by the whole load,
    validate and the decomposed solve. Its values are text: the load gives the same households as the original."""
    from optimizer.partitioned import validate_partitioned

    bad = _broken(folder, tmp_path, "categorical")
    county = partition_counties(bad)[1]
    path = next((bad / "households").glob(f"province=*/county={county}/*.parquet"))
    pd.read_parquet(path).astype({"village_id": "category", "cause": "category"}).to_parquet(path, index=False)
    original = load_partitioned(folder).households
    pd.testing.assert_frame_equal(load_partitioned(bad).households, original)
    pd.testing.assert_frame_equal(load_partitioned(bad, [county]).households, load_partitioned(folder, [county]).households)
    validate_partitioned(bad)


def test_a_household_filed_under_another_county_is_named_so(folder: Path, tmp_path: Path) -> None:
    """Found by fuzzing: a household whose village lies in another county, filed under this county's partition, was
    'unknown region' to the county's own load (a decomposed solve's worker, validate's batches); now the message
    says where its row belongs."""
    from optimizer.errors import InputError

    c1, c2 = partition_counties(folder)[:2]
    bad = _broken(folder, tmp_path, "misfiled")
    there = load_partitioned(folder, [c1]).households["village_id"].iloc[0]
    path = next((bad / "households").glob(f"province=*/county={c2}/*.parquet"))
    rows = pd.read_parquet(path)
    rows.loc[rows.index[0], "village_id"] = there
    rows.to_parquet(path, index=False)
    with pytest.raises(InputError, match=rf"household_id {rows['household_id'].iloc[0]}'s village {there} lies in county {c1}; its row belongs under "
                                         rf"households/province={c1[:3]}/county={c1}"):  # fmt: skip
        load_partitioned(bad, [c2])
