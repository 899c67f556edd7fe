"""The scenario language: composition, overrides, data edits, clear errors; shipped scenarios; compare, sweep."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import ROOT, tiny_scenario
from optimizer.compare import Session, compare, parse_set, sweep
from optimizer.edits import apply_data_edits
from optimizer.errors import InputError
from optimizer.scenario import load_scenario
from optimizer.solve import solve
from optimizer.verify import verify

# nightly.yaml is the baseline plus the nightly job's options: tests/test_nightly.py covers it
# deadline_*.yaml are multi-year (issue 10): tests/test_multiyear.py covers the model on small instances; the
# 20,000-household sample is beyond the test budget (bench/README.md)
SHIPPED = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml") if p.stem != "nightly" and not p.stem.startswith("deadline_"))

BAD: dict[str, tuple[str, list[str]]] = {
    "unknown top key": ("data: d\nsolvr:\n  gap: 0.1\n", ["solvr (line 2)", "did you mean 'solver'"]),
    "unknown nested key": ("data: d\nsolver:\n  gapp: 0.1\n", ["solver.gapp (line 3)", "did you mean 'gap'"]),
    "wrong type": ("data: d\nsolver:\n  time_limit: soon\n", ["solver.time_limit (line 3)", "valid number"]),
    "negative time": ("data: d\nsolver:\n  time_limit: -1\n", ["solver.time_limit", "greater than 0"]),
    "unknown solver": ("data: d\nsolver:\n  name: gurobi\n", ["solver.name (line 3)", "'highs', 'pulp' or 'ortools'"]),
    "bad mode": ("data: d\nmode: maximize\n", ["mode (line 2)", "'max_lifted' or 'min_cost'"]),
    "min_cost without target": ("data: d\nmode: min_cost\n", ["min_cost needs target.lifted or target.county_incidence"]),
    "incidence above one": ("data: d\ntarget:\n  county_incidence: 3\n", ["target.county_incidence", "less than 1"]),
    "missing data": ("name: x\n", ["data", "Field required"]),
    "not a mapping": ("- a\n- b\n", ["must be a YAML mapping"]),
    "broken yaml": ("data: [unclosed\n", ["not valid YAML"]),
    "python tag": ("data: !!python/object/apply:os.system ['echo hi']\n", ["not valid YAML"]),
    "bad floors mode": ("data: d\nfloors:\n  mode: sometimes\n", ["floors.mode (line 3)", "'hard' or 'soft'"]),
    "bad weight": ("data: d\nobjective:\n  weight: votes\n", ["objective.weight (line 3)"]),
    "plans out of range": ("data: d\nplans:\n  max_per_household: 0\n", ["plans.max_per_household", "greater than or equal to 1"]),
    "sigma out of range": ("data: d\nprobability:\n  income_sigma: 0\n", ["probability.income_sigma", "greater than 0"]),
    "typo in probability": ("data: d\nprobability:\n  income_sigm: 0.2\n", ["probability.income_sigm", "did you mean 'income_sigma'"]),
    "override through a scalar": ("data: d\nname: x\noverrides:\n  name.first: y\n", ["'name.first' goes through 'name'"]),
    "override unknown field": ("data: d\noverrides:\n  solver.speed: 3\n", ["solver.speed", "did you mean"]),
    "extends a missing file": ("extends: nowhere.yaml\ndata: d\n", ["cannot read scenario file", "nowhere.yaml"]),
    "extends escapes by ..": ("extends: ../outside.yaml\ndata: d\n", ["leaves the scenario folder"]),
    "extends not a string": ("extends: [a, b]\ndata: d\n", ["extends must be a file name"]),
    "extends itself": ("extends: case.yaml\ndata: d\n", ["extends forms a cycle"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_scenarios_give_their_message(case: str, tmp_path: Path) -> None:
    text, expected = BAD[case]
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (tmp_path / "outside.yaml").write_text("data: d\n")
    path = folder / "case.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_scenario(path)
    for piece in expected:
        assert piece in str(err.value), f"{piece!r} not in {err.value}"


def test_extends_escape_through_a_symlink_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (tmp_path / "secret.yaml").write_text("data: d\n")
    os.symlink(tmp_path / "secret.yaml", folder / "link.yaml")
    (folder / "case.yaml").write_text("extends: link.yaml\n")
    with pytest.raises(InputError, match="leaves the scenario folder"):
        load_scenario(folder / "case.yaml")


def test_extends_chain_merges_and_overrides_apply_last(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("data: d\nsolver:\n  gap: 0.01\n  time_limit: 50\noverrides:\n  funds.paired: x2\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nsolver:\n  gap: 0.02\noverrides:\n  poverty.line: 4200\n")
    (tmp_path / "c.yaml").write_text("extends: b.yaml\nname: c\noverrides:\n  solver.threads: 1\n")
    sc = load_scenario(tmp_path / "c.yaml", overrides={"solver.seed": 5})
    assert (sc.solver.gap, sc.solver.time_limit, sc.solver.threads, sc.solver.seed) == (0.02, 50, 1, 5)
    assert sc.poverty.line == 4200
    assert sc.data_edits == {"funds.paired": "x2"}
    assert sc.data_path == tmp_path / "d"


def test_data_edits_scale_funds_and_change_measures(tiny) -> None:  # type: ignore[no-untyped-def]
    edited = apply_data_edits(tiny, {"funds.level.central": "x0.5", "funds.fund.F-V1": 50, "measures.industry.income_uplift": "x2"})
    funds = edited.funds.set_index("fund_id")["amount"]
    assert funds["F-CN"] == pytest.approx(3500) and funds["F-V1"] == 50
    assert edited.measures.set_index("measure_id").loc["industry", "income_uplift"] == 2400
    off = apply_data_edits(tiny, {"measures.medical.enabled": False})
    result = solve(tiny_scenario(), off)
    assert not result.households["measures"].str.contains("medical").any()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"funds.level.county_seat": "x2"}, "unknown level 'county_seat'"),
        ({"funds.region.ZZ": "x2"}, "no fund is held at region 'ZZ'"),
        ({"funds.fund.F-XX": 5}, "unknown fund 'F-XX'"),
        ({"funds.level.central": 5}, "expected a factor like 'x0.8'"),
        ({"funds.paired": "xabc"}, "not a factor"),
        ({"measures.warp.cost_fixed": 1}, "unknown measure 'warp'"),
        ({"measures.industry.colour": 1}, "unknown measure field 'colour'"),
        ({"measures.industry.enabled": "no"}, "enabled must be true or false"),
        ({"funds.sideways": "x2"}, "unknown fund override"),
    ],
)
def test_bad_data_edits_name_the_override(tiny, edit: dict[str, object], message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match=message):
        apply_data_edits(tiny, edit)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenarios_solve_and_verify(name: str) -> None:
    sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    text = (ROOT / "scenarios" / f"{name}.yaml").read_text()
    assert text.startswith("#"), "every shipped scenario states its question in a header comment"
    result = solve(sc)
    verify(result)
    assert result.manifest["gap"] <= sc.solver.gap + 1e-9


def test_compare_and_sweep_from_the_api(tiny) -> None:  # type: ignore[no-untyped-def]
    base = tiny_scenario()
    session = Session()
    session._instances[base.data_source] = tiny
    table, results = compare([base, base.with_overrides({"funds.level.central": "x0.5", "name": "cut"})], session)
    assert list(table.columns) == ["tiny", "cut"]
    assert table.loc["households expected lifted", "cut"] < table.loc["households expected lifted", "tiny"]
    path, values = parse_set("funds.level.central=x0.5,x1,x1.5")
    curve, _ = sweep(base, path, values, session)
    lifted = curve["households expected lifted"].to_numpy()
    assert (lifted[1:] >= lifted[:-1] - 1e-9).all()
    cold, _ = sweep(base.with_overrides({"solver.warm_start": False}), path, values, session)
    assert cold["households expected lifted"].to_numpy() == pytest.approx(lifted, rel=1e-6)
    with pytest.raises(InputError, match="PATH=V1,V2"):
        parse_set("nothing")


def test_next_money_prediction_agrees_with_a_re_solve(tmp_path: Path) -> None:
    """Shadow price x amount predicts the gain of adding the money at the best county, within the gap."""
    from optimizer.contract import Level
    from optimizer.generate import generate
    from optimizer.marginal import next_money
    from optimizer.scenario import Scenario

    generate(2000, seed=9, out=tmp_path / "d")
    sc = Scenario.model_validate({"name": "m", "data": str(tmp_path / "d"), "solver": {"gap": 1e-4}})
    table = next_money(sc, 50_000, Level.COUNTY, top=2)
    best = table.iloc[0]
    objective = 2000.0
    tolerance = 2 * 1e-4 * objective + 0.05 * best["predicted_gain"]
    assert best["predicted_gain"] > 0
    assert abs(best["objective_gain"] - best["predicted_gain"]) <= tolerance
    assert (table["objective_gain"] <= table["predicted_gain"] + 2 * 1e-4 * objective).all()


def test_equity_rules_and_western_targets(tmp_path: Path) -> None:
    from optimizer.generate import generate
    from optimizer.scenario import Scenario

    generate(1500, seed=6, out=tmp_path / "d")
    base = {"name": "e", "data": str(tmp_path / "d")}
    plain = solve(Scenario.model_validate(base))
    capped = solve(Scenario.model_validate({**base, "equity": {"max_cost_per_household": 45000, "min_county_coverage": 0.9}}))
    verify(capped)
    assert capped.households["cost"].max() <= 45000
    regions = capped.regions
    assert capped.manifest["objective"] <= plain.manifest["objective"] + 1e-6
    helped = (capped.households["measures"] != "none").groupby(capped.households["village_id"].str.slice(0, 9)).mean()
    assert (helped >= 0.9 - 1e-9).all()
    west = solve(Scenario.model_validate({**base, "mode": "min_cost", "target": {"county_incidence": 0.12, "county_incidence_western": 0.2}}))
    verify(west)
    assert west.manifest["objective"] > 0 and len(regions) > 0
