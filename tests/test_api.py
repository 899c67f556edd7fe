"""The Python API as analysts call it: arguments of the wrong kind, what-ifs on data changed in memory, edits given
as a mapping, and refusals before any solve. Found by a fuzzing pass over the API; each case here failed before
(a deep AttributeError or TypeError, a silently dropped edit, a lost run folder, a run that `optimizer verify`
blamed for a bug)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import folder_scenario
from optimizer import load_instance, load_scenario, load_source, read_run, solve, verify, verify_run, write_run
from optimizer.compare import Session, compare, parse_set, sweep
from optimizer.errors import InputError
from optimizer.marginal import next_money
from optimizer.multiyear import Withheld, solve_multiyear, verify_multiyear, yearly_appropriations
from optimizer.reproduce import reproduce
from optimizer.scenario import Years


def test_arguments_of_the_wrong_kind_are_named_at_the_door(small: Path, tmp_path: Path) -> None:
    sc = folder_scenario(small)
    cases = [
        (lambda: solve("scenarios/baseline.yaml"), r"solve: scenario \(made by optimizer.load_scenario\) must be of type Scenario, not str"),  # type: ignore[arg-type]
        (lambda: solve(sc, str(small)), "solve: instance"),  # type: ignore[arg-type]
        (lambda: solve(sc, method="decomposed", workers=0), "workers must be at least 1"),
        (lambda: verify(None), "verify: result"),  # type: ignore[arg-type]
        (lambda: write_run(None, tmp_path / "x"), "write_run: result"),  # type: ignore[arg-type]
        (lambda: read_run(None), "read_run: run_dir"),  # type: ignore[arg-type]
        (lambda: verify_run(None), "verify_run: run_dir"),  # type: ignore[arg-type]
        (lambda: load_scenario(None), "load_scenario: path"),  # type: ignore[arg-type]
        (lambda: load_instance(None), "load_instance: folder"),  # type: ignore[arg-type]
        (lambda: Session(workers=0), "workers at least 1"),
        (lambda: Session(keep=-1), "keep must be at least 0"),
        (lambda: compare(sc), "compare: scenarios"),  # type: ignore[arg-type]
        (lambda: compare([sc, None]), r"compare: scenarios\[1\]"),  # type: ignore[list-item]
        (lambda: sweep(sc, None, [1]), "sweep: path"),  # type: ignore[arg-type]
        (lambda: sc.with_overrides([]), "overrides must be a mapping"),  # type: ignore[arg-type]
        (lambda: next_money(sc, "1e6"), r"the extra money \(amount, --amount\) must be of type Real"),  # type: ignore[arg-type]
        (lambda: next_money(sc, 1e6, level=7), "the level"),  # type: ignore[arg-type]
        (lambda: next_money(sc, 1e6, top=1.5), r"--top\) must be of type Integral"),  # type: ignore[arg-type]
        (lambda: parse_set("funds.level.central=x0.8,x1.2,"), "value 3 is empty"),
        (lambda: Session().solve("scenarios/baseline.yaml"), "Session.solve: scenario"),  # type: ignore[arg-type]
        (lambda: Session().solve_any("scenarios/baseline.yaml"), "Session.solve_any: scenario"),  # type: ignore[arg-type]
        (lambda: compare([sc, sc.with_overrides({"name": "b"})], "session"), "compare: session"),  # type: ignore[arg-type]
        (lambda: sweep(sc, "poverty.line", [1], "session"), "sweep: session"),  # type: ignore[arg-type]
        (lambda: next_money(sc, 1e6, session="s"), "next_money: session"),  # type: ignore[arg-type]
        (lambda: next_money(sc, 1e6, base="x"), "next_money: base"),  # type: ignore[arg-type]
    ]
    for call, message in cases:
        with pytest.raises(InputError, match=message):
            call()
    assert load_source(Path(small)).n_households == 2000  # a Path is a folder too (it was a TypeError in re.match)
    Session(keep=np.int64(3), workers=np.int64(1)).close()  # numbers from numpy are numbers (a sweep's values are)


def test_next_money_refuses_the_result_of_another_scenario_as_its_base(small: Path) -> None:
    """A base solved with half the central money gave that scenario's marginal values, ranking and objective for
    this one's table (from the what-if notebook, which passes compare's results as bases). Refused now; the base of
    the same question under another name is accepted."""
    sc = folder_scenario(small)
    with Session() as session:
        cut = session.solve(sc.with_overrides({"funds.level.central": "x0.5"}))
        with pytest.raises(InputError, match="next_money: base was solved for another scenario"):
            next_money(sc, 1e6, top=1, session=session, base=cut)
        same = session.solve(sc.with_overrides({"name": "renamed"}))
        table = next_money(sc, 1e6, top=1, session=session, base=same)
    assert len(table) == 1


def test_write_run_refuses_formats_it_cannot_write_and_keeps_the_run_there(small: Path, tmp_path: Path) -> None:
    result = solve(folder_scenario(small))
    verify(result)
    run = write_run(result, tmp_path / "run")
    before = sorted(p.name for p in run.iterdir())
    for formats in ((), ("xlsx",), "csv"):
        with pytest.raises(InputError, match="formats must name one or more of csv, parquet"):
            write_run(result, run, formats=formats)  # type: ignore[arg-type]
    assert sorted(p.name for p in run.iterdir()) == before  # it was replaced by a folder holding the manifest only
    verify_run(run)


def test_a_run_on_data_changed_in_memory_is_verified_in_memory_and_refused_from_files(small: Path, tmp_path: Path) -> None:
    sc = folder_scenario(small)
    inst = load_instance(small)
    rich = inst.replace(funds=inst.funds.assign(amount=inst.funds["amount"] * 3))
    assert rich.changed and not inst.changed
    result = solve(sc, rich)
    verify(result)
    run = write_run(result, tmp_path / "rich")
    assert json.loads((run / "manifest.json").read_text())["inputs_differ"] == "funds replaced in memory (Instance.replace)"
    for check in (verify_run, reproduce):
        with pytest.raises(InputError, match="not solved on its scenario's data"):
            check(run)
    # another folder's data given with the scenario (a copy: its files could change apart from the scenario's)
    other = tmp_path / "other"
    shutil.copytree(small, other)
    run2 = write_run(solve(sc, load_instance(other)), tmp_path / "other-run")
    with pytest.raises(InputError, match=f"solved on the data of {other}"):
        verify_run(run2)
    # the scenario's own edits are not a change: the run verifies from its files
    edited = solve(sc.with_overrides({"funds.level.central": "x2"}), inst)
    verify_run(write_run(edited, tmp_path / "edited"))
    # a multi-year run records it too (it failed verification from the files: its result holds no instance)
    two = sc.with_overrides({"years.first": 2019, "years.last": 2020})
    planned = solve_multiyear(two, rich)
    assert verify_multiyear(planned, rich, two) == []
    assert planned.manifest["inputs_differ"] == "funds replaced in memory (Instance.replace)"
    with pytest.raises(InputError, match="not solved on its scenario's data"):
        verify_run(planned.write(tmp_path / "rich-years"))


def test_data_edits_given_as_a_mapping_and_edits_past_the_data_limit(small: Path) -> None:
    sc = folder_scenario(small)
    kept = sc.with_overrides({"data_edits": {"funds.level.central": "x0.5"}})
    assert kept.data_edits == {"funds.level.central": "x0.5"}  # it was silently dropped
    years = sc.with_overrides({"years.first": 2018, "years.last": 2020})  # it said "'years' is not a section"
    assert years.years is not None and (years.years.first, years.years.last) == (2018, 2020)
    with pytest.raises(InputError, match="data_edits must be a mapping"):
        sc.with_overrides({"data_edits": "x"})
    with pytest.raises(InputError, match="unknown data override"):
        sc.with_overrides({"data_edits": {"bogus": 1}})
    with pytest.raises(InputError, match="value must be a non-negative number of at most 1e"):
        sc.with_overrides({"funds.fund.F-CN-industry": 1e300})
    fund = load_instance(small).funds["fund_id"].iat[0]
    with pytest.raises(InputError, match=f"overrides: funds.fund.{fund}: makes an amount of .* yuan, above the data's limit"):
        solve(sc.with_overrides({f"funds.fund.{fund}": "x1e300"}))  # it named funds.csv, a file nobody touched


def test_money_withheld_is_checked_where_it_is_given() -> None:
    with pytest.raises(InputError, match="non-negative number of yuan per fund"):
        Withheld({"F1": -1e9}, from_year=2018)  # it added money
    with pytest.raises(InputError, match="from_year must be of type Integral"):
        Withheld({"F1": 1.0}, from_year=2018.5)  # type: ignore[arg-type]
    years = Years(first=2018, last=2020)
    with pytest.raises(InputError, match="a year outside the horizon 2018-2020"):
        yearly_appropriations(["F1"], [100.0], years, Withheld({"F1": 1.0}, from_year=1999))  # type: ignore[arg-type]
    assert yearly_appropriations(["F1"], [300.0], years, Withheld({"F1": 30.0}, from_year=2019)).sum() == pytest.approx(270.0)  # type: ignore[arg-type]


def test_a_manifest_without_its_scenario_is_not_a_run(small: Path, tmp_path: Path) -> None:
    run = write_run(solve(folder_scenario(small)), tmp_path / "run")
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["scenario"]
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="key 'scenario' is missing"):
        read_run(run)
    (run / "manifest.json").write_text(json.dumps({**manifest, "scenario": {}, "multiyear": True}))
    with pytest.raises(InputError, match="is a multi-year run folder: read it with optimizer.multiyear.read_multiyear_run"):
        read_run(run)  # it said: missing funds.parquet
