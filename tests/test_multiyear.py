"""Multi-year planning to a deadline (issue 10): every solve checked by the independent verifier."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import tiny_instance, tiny_scenario
from optimizer.data import Instance, build_instance
from optimizer.generate import generate
from optimizer.multiyear import MultiYearResult, solve_multiyear, verify_multiyear
from optimizer.scenario import Scenario
from optimizer.solve import solve


def _scenario(years: dict[str, object], **sections: object) -> Scenario:
    base: dict[str, object] = {"name": "my", "data": "unused", "plans": {"max_per_household": 4}, "helpers": {"assign": False},
                               "solver": {"time_limit": 120, "gap": 1e-4}, "years": years}  # fmt: skip
    base.update(sections)
    return Scenario.model_validate(base)


def _checked(sc: Scenario, inst: Instance, **kw: object) -> MultiYearResult:
    r = solve_multiyear(sc, inst, **kw)  # type: ignore[arg-type]
    assert verify_multiyear(r, inst, sc) == []
    return r


@pytest.fixture(scope="module")
def small() -> Instance:
    return build_instance(generate(250, seed=11))


def test_one_year_is_the_special_case(small: Instance) -> None:
    years = {"first": 2020, "last": 2020, "delay_by_batch": {}}
    sc = _scenario(years)
    r = _checked(sc, small)
    one = solve(sc.model_copy(update={"years": None}), small)
    gap = max(r.manifest["gap"], one.manifest["gap"], 1e-4)
    assert r.manifest["objective"] == pytest.approx(one.manifest["objective"], rel=2 * gap)
    assert (r.tables["households"]["year"].isin([0, 2020])).all()


def test_delayed_measure_starts_early() -> None:
    inst = tiny_instance()
    sc = tiny_scenario(years={"first": 2018, "last": 2020, "delay_by_batch": {"education": 2}}, helpers={"assign": False})
    r = _checked(sc, inst)
    hh = r.tables["households"]
    edu = hh[hh["measures"].str.contains("education")]
    assert len(edu) > 0
    assert (edu["year"] == 2018).all()  # the only start that takes effect by the deadline
    assert (edu["p_deadline"] > 0).all()


def test_carry_over_rules_bind(small: Instance) -> None:
    years = {"first": 2018, "last": 2020, "shares": [1.0, 0.0, 0.0], "delay_by_batch": {}}
    none = _checked(_scenario({**years, "carry_over": "none"}), small)
    full = _checked(_scenario({**years, "carry_over": "full"}), small)
    sp_none = none.tables["spending"]
    assert sp_none.loc[sp_none["year"] > 2018, "spent"].sum() == 0  # no money after the first year without carry-over
    assert full.manifest["objective"] >= none.manifest["objective"] - 1e-6 * abs(none.manifest["objective"])
    sp_full = full.tables["spending"]
    assert (sp_full["carry_out"] <= sp_full["appropriation"] + sp_full["carry_in"] - sp_full["spent"] + 1.0).all()


def test_verifier_catches_a_corrupted_yearly_budget(small: Instance) -> None:
    sc = _scenario({"first": 2018, "last": 2020, "carry_over": "none"})
    r = _checked(sc, small)
    flows = r.tables["flows"]
    year = int(flows["year"].min())
    flows.loc[flows["year"] == year, "amount"] *= 3.0
    bad = verify_multiyear(r, small, sc)
    assert any(f"overspent in {year}" in b for b in bad)


def test_rolling_horizon_reproduces_the_plan(small: Instance, tmp_path: Path) -> None:
    sc = _scenario({"first": 2019, "last": 2020})
    first = _checked(sc, small)
    first.write(tmp_path / "run")
    again = _checked(sc, small, previous=tmp_path / "run", from_year=2020)
    assert again.manifest["rolling"]["kept_households"] == int((first.tables["households"]["year"] == 2019).sum())
    h1, h2 = first.tables["households"], again.tables["households"]
    early = h1["year"] == 2019
    assert (h2.loc[early.to_numpy(), "plan"].to_numpy() == h1.loc[early, "plan"].to_numpy()).all()
    gap = max(first.manifest["gap"], again.manifest["gap"], 1e-4)
    assert again.manifest["objective"] == pytest.approx(first.manifest["objective"], rel=2 * gap)
