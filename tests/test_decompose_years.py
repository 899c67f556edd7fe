"""The multi-year model decomposed by county (issues 8 and 10): the master shares every upper fund's yearly
appropriation among the counties and carries it over; the assembled plan passes the national multi-year
verifier and agrees with the monolithic multi-year optimum within the gaps."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from optimizer.data import Instance, build_instance
from optimizer.decompose import _CACHE, _unused, county_final, county_lp, split_by_county
from optimizer.errors import InputError
from optimizer.generate import generate, generate_partitioned
from optimizer.multiyear import read_multiyear_run, solve_multiyear, verify_multiyear
from optimizer.scenario import Scenario


def _scenario(data: str = "unused", **years: object) -> Scenario:
    spec: dict[str, object] = {"first": 2018, "last": 2020, "relocation_rate": 0.05, **years}
    return Scenario.model_validate(
        {"name": "dec_years", "data": data, "plans": {"max_per_household": 4}, "helpers": {"assign": False},
         "solver": {"time_limit": 120, "gap": 0.005}, "years": spec}  # fmt: skip
    )


@pytest.fixture(scope="module")
def small() -> Instance:
    return build_instance(generate(900, seed=4))


def test_decomposed_years_match_the_monolithic_model(small: Instance) -> None:
    sc = _scenario()
    mono = solve_multiyear(sc, small, method="monolithic")
    dec = solve_multiyear(sc, small, method="decomposed", workers=2)
    assert verify_multiyear(dec, small, sc) == []  # the national verifier on the assembled plan
    m, d = mono.manifest, dec.manifest
    assert d["method"] == "decomposed" and d["decomposition"]["counties"] >= 3
    # each side's bound is valid for the other's solution, and the optima agree within the two gaps; the
    # decomposed gap is larger here (counties of about 300 households each round within their own money)
    assert d["bound"] >= m["objective"] - 1e-6
    assert m["bound"] >= d["objective"] - 1e-6
    assert d["objective"] == pytest.approx(m["objective"], rel=d["gap"] + m["gap"] + 1e-9)
    assert d["gap"] == pytest.approx((d["bound"] - d["objective"]) / d["bound"])
    assert d["objective"] == pytest.approx(dec.tables["households"]["value"].sum())
    assert sorted(dec.tables["households"]["household_id"]) == sorted(small.households["household_id"])
    assert d["expected_out_at_deadline"] == pytest.approx(dec.tables["households"]["p_deadline"].sum())
    # the national spending table is the flows, fund by fund and year by year
    spent = dec.tables["flows"].groupby(["fund_id", "year"])["amount"].sum()
    table = dec.tables["spending"].set_index(["fund_id", "year"])["spent"]
    assert np.allclose(table.reindex(spent.index).to_numpy(), spent.to_numpy(), atol=0.01)


def test_a_county_rounds_its_lp_without_emergency_money(small: Instance) -> None:
    """With ample upper money a county's LP needs no emergency money, and its rounding (a MIP over the households
    with fractional options, the emergency money shut) is whole, paid, verified on the county and close to it."""
    sc = _scenario()
    blocks, parts = split_by_county(small)
    c, part = blocks.counties[0], parts[0]
    fund_ids = list(blocks.pairs.loc[blocks.pairs["county"] == c, "fund_id"])
    money = np.full(len(fund_ids) * 3, 5e6)
    try:
        value, _ = county_lp(c, part, sc, fund_ids, money)
        final = county_final(c, part, sc, fund_ids, money, False)
    finally:
        _CACHE.clear()
    assert final["emergency"] == 0.0 and "tables" in final  # verify_multiyear ran on the county with this money
    assert value - sc.solver.gap * value <= final["objective"] <= value + 1e-6
    assert np.isin(final["tables"]["households"]["year"].dropna(), [2018, 2019, 2020]).all()


def test_the_master_carries_upper_money_into_later_years(small: Instance) -> None:
    """All money appropriated in the first year with full carry-over: counties cannot carry the upper funds'
    money themselves, so plans started in later years are paid by what the master carried."""
    sc = _scenario(shares=[1.0, 0.0, 0.0], carry_over="full")
    dec = solve_multiyear(sc, small, method="decomposed", workers=2)
    assert verify_multiyear(dec, small, sc) == []
    sp = dec.tables["spending"]
    later = sp[(sp["year"] > 2018) & (sp["level"] < 3)]  # upper funds: above county level
    assert later["spent"].sum() > 0 and (later["appropriation"] == 0).all()
    assert (later["spent"] <= later["carry_in"] + 0.5).all()
    # without carry-over the same money can only be spent in 2018
    none = _scenario(shares=[1.0, 0.0, 0.0], carry_over="none")
    dec_none = solve_multiyear(none, small, method="decomposed", workers=2)
    assert verify_multiyear(dec_none, small, none) == []
    assert dec_none.tables["flows"]["year"].eq(2018).all()
    # the LP with carry-over relaxes the one without: the counties' best LP value without it stays below the bound
    # with it, and the rounded allocations differ by no more than the rounding (each county within the gap)
    assert dec_none.manifest["decomposition"]["history"][-1]["best"] < dec.manifest["bound"]
    assert dec_none.manifest["objective"] <= dec.manifest["objective"] * (1 + none.solver.gap)


def test_unused_money_respects_the_carry_rule() -> None:
    approp = np.array([[10.0, 10.0, 10.0]])
    used = np.array([[4.0, 14.0, 8.0]])  # year 2 spends 4 carried from year 1
    assert _unused(approp, used, "none").tolist() == [[6.0, 0.0, 2.0]]
    # with carry-over, year 1's rest is partly needed by year 2: cumulatively only what every later year can spare
    assert _unused(approp, used, "full").tolist() == [[2.0, 0.0, 2.0]]  # 2 by 2018, still 2 by 2019, 4 by 2020
    assert _unused(approp, used, "capped").tolist() == [[2.0, 0.0, 2.0]]


def test_decomposed_years_refuse_the_rolling_horizon(small: Instance, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="decomposed method does not re-plan"):
        solve_multiyear(_scenario(), small, method="decomposed", previous=tmp_path, from_year=2019)
    with pytest.raises(InputError, match="max_lifted"):
        solve_multiyear(_scenario().with_overrides({"mode": "min_cost", "target.lifted": 10.0}), small, method="decomposed")


def test_partitioned_multiyear_from_the_command_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`optimizer solve --method decomposed` on a partitioned folder: the workers read their counties, the run
    folder is written, and `optimizer verify` re-checks it against the whole instance."""
    folder = tmp_path / "parts"
    generate_partitioned(1500, folder, seed=3)
    scenario = tmp_path / "deadline.yaml"
    scenario.write_text(
        f"name: deadline_parts\ndata: {folder}\nplans: {{max_per_household: 4}}\nhelpers: {{assign: false}}\n"
        "solver: {gap: 0.005}\nyears: {first: 2018, last: 2020, relocation_rate: 0.05}\n"
    )
    out = tmp_path / "run"
    cli = [sys.executable, "-m", "optimizer.cli"]
    done = subprocess.run([*cli, "solve", str(scenario), "--method", "decomposed", "--out", str(out), "--no-report"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "each worker reads its counties" in done.stderr + done.stdout
    run = read_multiyear_run(out)
    assert run.manifest["method"] == "decomposed" and run.manifest["decomposition"]["source"].startswith("partitioned")
    check = subprocess.run([*cli, "verify", str(out)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr[-2000:]
