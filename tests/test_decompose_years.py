"""The multi-year model decomposed by county (issues 8 and 10): the master shares every upper fund's yearly
appropriation among the counties and carries it over; the assembled plan passes the national multi-year
verifier and agrees with the monolithic multi-year optimum within the gaps."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from optimizer.data import Instance, build_instance
from optimizer.decompose import (
    _CACHE,
    EMERGENCY_TOL,
    FREE_KEPT_YEARS_AFTER,
    SHORT_STALL_ROUNDS,
    _build,
    _county_mip,
    _Ledger,
    _repair,
    _unused,
    _used,
    _with_money,
    county_final,
    county_lp,
    left_after,
    split_by_county,
)
from optimizer.errors import InputError, NoSolutionError
from optimizer.generate import generate, generate_partitioned
from optimizer.model import MONEY_UNIT, ChurnCap
from optimizer.multiyear import (
    Kept,
    MultiYearResult,
    Withheld,
    churn_changes,
    kept_violations,
    read_multiyear_run,
    read_previous,
    solve_multiyear,
    verify_multiyear,
)
from optimizer.result import gap_note
from optimizer.scenario import Scenario
from optimizer.solvers import SolveOptions


def _scenario(data: str = "unused", **years: object) -> Scenario:
    spec: dict[str, object] = {"first": 2018, "last": 2020, "relocation_rate": 0.05, **years}
    return Scenario.model_validate(
        {"name": "dec_years", "data": data, "plans": {"max_per_household": 4}, "helpers": {"assign": False},
         "solver": {"time_limit": 120, "gap": 0.005}, "years": spec}  # fmt: skip
    )


@pytest.fixture(scope="module")
def small() -> Instance:
    return build_instance(generate(900, seed=4))


@pytest.fixture(scope="module")
def mono(small: Instance) -> MultiYearResult:
    return solve_multiyear(_scenario(), small, method="monolithic")


def test_decomposed_years_match_the_monolithic_model(small: Instance, mono: MultiYearResult) -> None:
    sc = _scenario()
    said: list[str] = []
    dec = solve_multiyear(sc, small, method="decomposed", workers=2, progress=said.append)
    assert verify_multiyear(dec, small, sc) == []  # the national verifier on the assembled plan
    m, d = mono.manifest, dec.manifest
    assert d["method"] == "decomposed" and d["decomposition"]["counties"] >= 3
    assert d["stopped_at_time_limit"] == bool(d["decomposition"]["stopped_at_time_limit"]) and m["stopped_at_time_limit"] in (True, False)
    # each side's bound is valid for the other's solution, and the optima agree within the two gaps; the
    # decomposed gap is larger here (counties of about 300 households each round within their own money)
    assert d["bound"] >= m["objective"] - 1e-6
    assert m["bound"] >= d["objective"] - 1e-6
    assert d["objective"] == pytest.approx(m["objective"], rel=d["gap"] + m["gap"] + 1e-9)
    assert d["gap"] == pytest.approx((d["bound"] - d["objective"]) / d["bound"])
    # two counties of about 300 households, short after rounding, were rounded over all their households by the
    # repair and gave up 6-8% of their LPs (a gap of 5.1%); held back with the money their roundings need, they round
    # again and the gap is 1.3% (measured)
    assert any("2 counties rounded over all their households after the repair need" in m and "held back" in m for m in said)
    # every Lagrangian bound, in the rounds run again too, lies above the counties' LPs it bounds (with the held
    # counties' money capped at the master's share, a term fell below its LP: 590.38 against 597.99)
    priced = [re.search(r"\(Lagrangian ([\d,.]+)\), counties ([\d,.]+)", m) for m in said]
    pairs = [(float(p[1].replace(",", "")), float(p[2].replace(",", ""))) for p in priced if p]
    assert len(pairs) >= 2 and all(bound >= counties - 0.01 for bound, counties in pairs)
    assert d["gap"] <= 0.02
    # what the command line tells a planner: the decomposed gap is above the one asked, the monolithic one within it
    note = gap_note(d, sc.solver.gap)
    assert d["gap"] > sc.solver.gap and note is not None and f"{d['gap']:.3%} is above the 0.500% asked" in note and "--method monolithic" in note
    assert m["gap"] <= sc.solver.gap and gap_note(m, sc.solver.gap) is None
    assert d["objective"] == pytest.approx(dec.tables["households"]["value"].sum())
    assert sorted(dec.tables["households"]["household_id"]) == sorted(small.households["household_id"])
    assert d["expected_out_at_deadline"] == pytest.approx(dec.tables["households"]["p_deadline"].sum())
    # the national spending table is the flows, fund by fund and year by year
    spent = dec.tables["flows"].groupby(["fund_id", "year"])["amount"].sum()
    table = dec.tables["spending"].set_index(["fund_id", "year"])["spent"]
    assert np.allclose(table.reindex(spent.index).to_numpy(), spent.to_numpy(), atol=0.01)


def test_short_counties_whose_needs_overlap_are_asked_again_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two counties short after their repair, each offered all the upper money but its own share, each take some of
    the same fund's money: together more than there is. Asked again one after the other, each offered what the other
    does not hold, they fit, and the assembled plan verifies (seed 4 did this before the cumulative project links
    made its counties' LPs tighter). The rounds run again with their money held back close on an allocation whose
    counties' LPs stay short; they stop asking for more rounds once the kept years are free and a few rounds left
    them as short (before: 55 rounds at a 0.0000% gap). The county LPs hold all their link rows here: with them left
    free until violated the LPs end at other vertices of the same value, and this seed's counties take another path;
    and HiGHS rounds them (with CBC's roundings, the default, one of the two short counties is repaired at once and
    the other rounded over all its households: none is asked again in turn)."""
    from optimizer import decompose

    monkeypatch.setattr(decompose, "LAZY_ROWS", None)
    inst = build_instance(generate(900, seed=2))
    sc = _scenario().with_overrides({"solver.rounding": "highs"})
    said: list[str] = []
    dec = solve_multiyear(sc, inst, method="decomposed", workers=2, progress=said.append)
    assert any("more of the upper money together than there is: asked again one after the other" in m for m in said)
    assert any("held back" in m for m in said)
    stayed = [m for m in said if f"short at the best allocation, no less in {SHORT_STALL_ROUNDS} rounds" in m]
    assert stayed and stayed[0].startswith(f"round {FREE_KEPT_YEARS_AFTER + SHORT_STALL_ROUNDS}:")
    assert sum(m.endswith("yuan short: more rounds") for m in said) <= FREE_KEPT_YEARS_AFTER + SHORT_STALL_ROUNDS
    assert verify_multiyear(dec, inst, sc) == []
    assert dec.manifest["objective"] <= dec.manifest["bound"] + 1e-6
    assert dec.manifest["rounding_solver"].startswith("highspy")


def test_a_first_plan_starts_its_master_from_the_one_year_shares(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """From ONE_YEAR_START_FROM households (lowered here) a first multi-year plan runs the one-year rounds first, on the
    same counties, and its master starts from each county's share of every upper fund there: the plan verifies and
    agrees with the monolithic optimum within the two gaps. (Seed 8: its counties' roundings fit their money, where
    seed 4's went through the repairs and hold-backs, 45 s against 5 s.)"""
    from optimizer import decompose

    monkeypatch.setattr(decompose, "ONE_YEAR_START_FROM", 500)
    inst = build_instance(generate(900, seed=8))
    sc = _scenario()
    said: list[str] = []
    dec = solve_multiyear(sc, inst, method="decomposed", workers=2, progress=said.append)
    assert any(m.startswith("the master starts from each county's share of the upper funds in the one-year rounds") for m in said)
    assert verify_multiyear(dec, inst, sc) == []
    d, m = dec.manifest, solve_multiyear(sc, inst, method="monolithic").manifest
    assert d["method"] == "decomposed" and d["bound"] >= m["objective"] - 1e-6 and m["bound"] >= d["objective"] - 1e-6
    assert d["objective"] == pytest.approx(m["objective"], rel=d["gap"] + m["gap"] + 1e-9)


def test_a_county_rounds_its_lp_without_emergency_money(small: Instance) -> None:
    """With ample upper money a county's LP needs no emergency money, and its rounding (a MIP over the households
    with fractional options, the emergency money shut) is whole, paid, verified on the county and close to it."""
    sc = _scenario()
    blocks, parts = split_by_county(small)
    c, part = blocks.counties[0], parts[0]
    fund_ids = list(blocks.pairs.loc[blocks.pairs["county"] == c, "fund_id"])
    money = np.full(len(fund_ids) * 3, 5e6)
    try:
        value, _, _ = county_lp(c, part, sc, fund_ids, money)
        final = county_final(c, part, sc, fund_ids, money, False)
    finally:
        _CACHE.clear()
    assert final["emergency"] == 0.0 and "tables" in final  # verify_multiyear ran on the county with this money
    assert value - sc.solver.gap * value <= final["objective"] <= value + 1e-6
    assert np.isin(final["tables"]["households"]["year"].dropna(), [2018, 2019, 2020]).all()


def test_a_county_rounds_its_fractional_projects_before_its_households(small: Instance) -> None:
    """Households sharing a project the county's LP built in part split their plans in its proportion: the county
    rounds its projects first (half built or more: built, else not), re-solving its LP warm, so that its MIP searches
    fewer households. The rounded LP is feasible without emergency money and keeps the first LP's value as its bound;
    a rounding that gives up more than allowed leaves the LP as it was."""
    from optimizer.multiyear import _projects_rounded

    sc = _scenario()
    blocks, parts = split_by_county(small)
    c, part = blocks.counties[1], parts[1]
    fund_ids = list(blocks.pairs.loc[blocks.pairs["county"] == c, "fund_id"])
    money = np.full(len(fund_ids) * 3, 1e5)  # short enough that the LP builds two projects in part (measured)
    block = _build(c, part, sc, fund_ids)
    model = _with_money(block, fund_ids, money)
    y, integer = model.col_blocks["y"], model.integer
    options = SolveOptions(time_limit=60, gap=0.005)
    lp = block.backend.solve(model.relaxed(), SolveOptions(keep=True))
    assert lp.x is not None
    before = integer & (np.abs(lp.x - np.round(lp.x)) > 1e-7)
    said: list[str] = []
    out, frac = _projects_rounded(model, block.backend, options, lp, before, block.emergency_cols, 0.02, said.append)
    assert out.x is not None and before[y].sum() >= 2
    assert np.allclose(out.x[y], np.round(out.x[y]), atol=1e-9) and not frac[y].any()
    assert frac.sum() < before.sum() and np.array_equal(frac, integer & (np.abs(out.x - np.round(out.x)) > 1e-7))
    ax = model.A @ out.x
    assert (ax <= model.row_hi + 1e-6).all() and (ax >= model.row_lo - 1e-6).all() and out.x[block.emergency_cols].sum() == 0.0
    rounded = float(model.c @ out.x)
    assert out.objective == lp.objective and rounded < lp.objective  # the bound kept; rounding costs
    assert said == [f"projects rounded: LP {rounded:,.2f}; {int(frac.sum()):,} fractional decisions"]
    loss = (lp.objective - rounded) / lp.objective  # 1.4% here (measured)
    said.clear()
    again = block.backend.solve(model.relaxed(), SolveOptions(keep=True))
    back, frac_back = _projects_rounded(model, block.backend, options, again, before, block.emergency_cols, loss / 2, said.append)
    assert back is again and np.array_equal(frac_back, before)
    assert said == [f"rounding the fractional projects gave up {loss:.3%} of the LP: kept the LP as it was"]


def test_a_large_county_solves_its_first_lp_by_pdlp_to_the_simplex_optimum(small: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """A multi-year county LP of PDLP_FROM_ROWS rows or more is first solved by PDLP, the crossover and the simplex
    from its basis: the same LP value and duals as the simplex alone, and a basis its later rounds and its rounding
    start from."""
    from optimizer import decompose
    from optimizer.solvers import highs

    sc = _scenario()
    blocks, parts = split_by_county(small)
    c, part = blocks.counties[0], parts[0]
    fund_ids = list(blocks.pairs.loc[blocks.pairs["county"] == c, "fund_id"])
    money = np.full(len(fund_ids) * 3, 5e5)
    ran: list[int] = []
    first_order = highs._first_order
    monkeypatch.setattr(highs, "_first_order", lambda h: ran.append(len(out)) or first_order(h))
    out: dict[int, tuple[float, np.ndarray, float, dict[str, object]]] = {}
    for rows in (10**9, 0):  # the simplex alone, then PDLP first
        monkeypatch.setattr(decompose, "PDLP_FROM_ROWS", rows)
        try:
            value, duals, _ = county_lp(c, part, sc, fund_ids, money)
            again = county_lp(c, part, sc, fund_ids, money * 1.1)[0]  # warm, from the kept basis
            final = county_final(c, part, sc, fund_ids, money, False)
        finally:
            _CACHE.clear()
        out[rows] = (value, duals, again, final)
    assert ran == [1]  # the first LP of the second run only: the warm re-solve is the simplex's
    (v0, d0, a0, f0), (v1, d1, a1, f1) = out[10**9], out[0]
    assert v1 == pytest.approx(v0, rel=1e-9) and a1 == pytest.approx(a0, rel=1e-9) and a1 > v1
    assert np.allclose(d1, d0, atol=1e-6 * max(1.0, np.abs(d0).max()))
    assert f0["emergency"] == f1["emergency"] == 0.0 and "tables" in f0 and "tables" in f1  # each verified on the county
    assert v1 * (1 - sc.solver.gap) <= f1["objective"] <= v1 + 1e-6


def test_a_county_lp_with_lazy_links_has_the_whole_lps_values_and_cuts(small: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """A multi-year county's LPs leave their project link rows free until violated (decompose.LAZY_ROWS): the first
    LP, a warm re-solve with more money and the priced LP at one price have the values of the LPs holding every link
    row, with most link rows never bounded; the money duals still give the master valid cuts (the LP with more money
    is below the first LP's value plus its duals times the extra money; such LPs are degenerate, so the duals need
    not be the same), and the county rounds within the gap."""
    from optimizer import decompose

    sc = _scenario()
    blocks, parts = split_by_county(small)
    c, part = blocks.counties[0], parts[0]
    fund_ids = list(blocks.pairs.loc[blocks.pairs["county"] == c, "fund_id"])
    money = np.full(len(fund_ids) * 3, 5e5)
    price = None
    out = {}
    for lazy in (None, "link"):
        monkeypatch.setattr(decompose, "LAZY_ROWS", lazy)
        try:
            value, duals, _ = county_lp(c, part, sc, fund_ids, money)
            again, more, _ = county_lp(c, part, sc, fund_ids, money * 1.3)
            price = more / MONEY_UNIT * 1.1 if price is None else price
            priced = decompose.county_priced(c, part, sc, fund_ids, price, money * 2)[0]
            bounded = _CACHE[c].backend._bounded  # type: ignore[union-attr]
            final = county_final(c, part, sc, fund_ids, money, False)
        finally:
            _CACHE.clear()
        assert again <= value + duals @ (0.3 * money / MONEY_UNIT) + 1e-6  # a valid cut
        out[lazy] = (value, again, priced, bounded, final)
    (v0, a0, p0, b0, f0), (v1, a1, p1, b1, f1) = out[None], out["link"]
    assert b0 is None and b1 is not None and 0 < b1.sum() < len(b1) / 2
    assert v1 == pytest.approx(v0, rel=1e-9) and a1 == pytest.approx(a0, rel=1e-9) and p1 == pytest.approx(p0, rel=1e-9) and a1 > v1
    assert f0["emergency"] == f1["emergency"] == 0.0 and "tables" in f1 and v1 * (1 - sc.solver.gap) <= f1["objective"] <= v1 + 1e-6


def test_a_county_without_projects_rounds_and_builds_its_tables(small: Instance) -> None:
    """A county block holding no village project (its plans all untied) rounds and builds its verified tables on
    its worker (the plan labels indexed the empty project table: every such county failed its final task)."""
    sc = _scenario()
    blocks, parts = split_by_county(small)
    c, part = blocks.counties[0], parts[0].replace(projects=parts[0].projects.iloc[:0])
    fund_ids = list(blocks.pairs.loc[blocks.pairs["county"] == c, "fund_id"])
    money = np.full(len(fund_ids) * 3, 5e6)
    try:
        county_lp(c, part, sc, fund_ids, money)
        final = county_final(c, part, sc, fund_ids, money, False)
    finally:
        _CACHE.clear()
    assert final["emergency"] == 0.0 and "tables" in final
    households = final["tables"]["households"]
    assert households["started"].any() and (households["project_id"] == "").all()


def test_a_county_whose_lp_spent_its_money_to_the_yuan_comes_back_short_at_once(small: Instance) -> None:
    """A county LP that spends an upper fund's money to the last yuan may split households across plans that no
    whole plan can pay: the county's quick rounding then comes back short at once (no general MIP over the county)
    for the repair to pay, and a little more money is enough to round it."""
    sc = _scenario()
    blocks, parts = split_by_county(small)
    c, part = blocks.counties[0], parts[0]
    fund_ids = list(blocks.pairs.loc[blocks.pairs["county"] == c, "fund_id"])
    block = _build(c, part, sc, fund_ids)
    money = np.full(len(fund_ids) * 3, 5e6)
    for share in (1.0, 0.4):  # what the county's LP spends with ample money, then with two fifths of that
        model = _with_money(block, fund_ids, money * share)
        money = _used(block, model, block.backend.solve(model.relaxed(), SolveOptions()).x, fund_ids)
    try:
        value, _, _ = county_lp(c, part, sc, fund_ids, money)
        short = county_final(c, part, sc, fund_ids, money, False)
        more = county_final(c, part, sc, fund_ids, money * 1.02, False)
    finally:
        _CACHE.clear()
    assert short["emergency"] > EMERGENCY_TOL and "tables" not in short and not short["full_mip"]
    assert more["emergency"] == 0.0 and "tables" in more and more["objective"] >= value * (1 - sc.solver.gap)
    # the thorough rounding's first try, the MIP over every household with the money as hard limits, fits that
    # money where rounding the fractional households alone did not; with a hundredth of it the floors cannot be paid
    model = _with_money(block, fund_ids, money)
    whole = _county_mip(model, block.emergency_cols, sc)
    assert whole is not None and whole.used_full_mip and whole.gap <= sc.solver.gap
    assert whole.x[block.emergency_cols].sum() == 0.0 and whole.objective <= value + 1e-6
    assert whole.objective == pytest.approx(float(model.c @ whole.x)) and whole.bound >= whole.objective
    assert _county_mip(_with_money(block, fund_ids, money * 0.01), block.emergency_cols, sc) is None


def test_a_county_whose_first_roundings_used_its_time_still_gets_time_to_round_with_emergency_money(small: Instance, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """On a slow day a county's first rounding may use all its time and find nothing: its rounding with the
    emergency money open then had 1 s, found nothing either, and the county fell back to the MIP over all its
    households, which ran 440 s and more at 100,000 households. That rounding now gets at least
    ``EMERGENCY_ROUNDING_SECONDS`` (within the time limit) and the county comes back short at once; a county whose
    quick rounding finds nothing at all runs that MIP within the quick time (unless thorough)."""
    import time
    from dataclasses import replace

    from optimizer import decompose, multiyear
    from optimizer.solvers import SolverOutput, Status

    sc = _scenario().with_overrides({"solver.time_limit": 3.0})
    blocks, parts = split_by_county(small)
    c, part = blocks.counties[0], parts[0]
    fund_ids = list(blocks.pairs.loc[blocks.pairs["county"] == c, "fund_id"])
    block = _build(c, part, sc, fund_ids)
    money = np.full(len(fund_ids) * 3, 5e6)
    for share in (1.0, 0.2):  # the money its LP spends to the yuan (its first roundings cannot fit it)
        model = _with_money(block, fund_ids, money * share)
        money = _used(block, model, block.backend.solve(model.relaxed(), SolveOptions()).x, fund_ids)
    model = _with_money(block, fund_ids, money)
    limits: list[float] = []

    class Slow:  # the first two roundings use up their time and find nothing, as on a slow machine
        def solve(self, m, options):  # type: ignore[no-untyped-def]
            if not m.integer.any():
                return block.backend.solve(m, options)
            limits.append(options.time_limit)
            if len(limits) <= 2:
                time.sleep(options.time_limit)
                return SolverOutput(Status.TIME_LIMIT, None, float("nan"), float("nan"), options.time_limit)
            return block.backend.solve(m, options)

    instance = decompose._whole(block)[0]
    sol = multiyear.optimize_multiyear(model, replace(block.my, model=model), instance, sc, lambda _m: None, backend=Slow(), shut=block.emergency_cols)
    assert len(limits) == 3 and limits[1] == 1.0  # the second rounding had the last second
    assert limits[2] == min(multiyear.EMERGENCY_ROUNDING_SECONDS, 3.0)  # not 1 s
    assert float(sol.x[block.emergency_cols].sum()) > 0.0  # a rounding with emergency money: the county comes back short
    # no quick rounding at all: the MIP over the whole county runs within the quick time
    seen: list[float] = []

    def no_rounding(*_a, **_k):  # type: ignore[no-untyped-def]
        raise NoSolutionError("nothing within the time")

    def whole_mip(m, shut, scenario):  # type: ignore[no-untyped-def]
        seen.append(scenario.solver.time_limit)
        return None

    monkeypatch.setattr(decompose, "optimize_multiyear", lambda *a, **k: no_rounding() if "shut" in k else multiyear.optimize_multiyear(*a, **k))
    monkeypatch.setattr(decompose, "_county_mip", whole_mip)
    wide = sc.with_overrides({"solver.time_limit": 120.0})
    out = decompose._county_final_years(c, block, wide, fund_ids, money, thorough=False)
    assert seen == [decompose.COUNTY_MIP_SECONDS] and "used" in out  # then the general rounding, as before
    decompose._county_final_years(c, block, wide, fund_ids, money, thorough=True)
    assert seen[1] == 120.0  # thorough: the scenario's time


def test_a_small_county_whose_rounding_misses_the_gap_runs_its_whole_mip(small: Instance, in_process, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """At the master's allocation the third county (300 households) rounds its fractional households 1.3% below its
    LP (measured; 4.2% before the cumulative project links); a county this small then runs the MIP over all its
    households from that rounding and keeps the better (1.0% below its LP, measured: with whole plans the county
    cannot reach its LP), verified on the county."""
    from optimizer import decompose, multiyear

    sc = _scenario()
    blocks, parts = split_by_county(small)
    alloc = decompose.master_allocate(blocks, sc, in_process(blocks, parts, sc), tol=sc.solver.gap / 2, max_rounds=60, say=lambda _: None).alloc
    c, part, money = blocks.counties[2], parts[2], alloc[2]
    fund_ids = list(blocks.pairs.loc[blocks.pairs["county"] == c, "fund_id"])
    value, _, _ = county_lp(c, part, sc, fund_ids, money)
    finals, small_enough = {}, multiyear.FULL_MIP_UP_TO
    for whole in (False, True):
        monkeypatch.setattr(multiyear, "FULL_MIP_UP_TO", small_enough if whole else 0)
        finals[whole] = county_final(c, part, sc, fund_ids, money, False)
        assert finals[whole]["emergency"] == 0.0 and "tables" in finals[whole]  # verified on the county
    rounded, better = finals[False], finals[True]
    assert rounded["objective"] < value * (1 - sc.solver.gap) and not rounded["full_mip"]
    assert better["full_mip"] and rounded["objective"] < better["objective"] <= value + 1e-6
    assert better["objective"] >= value * (1 - 3 * sc.solver.gap)


def test_multiyear_rounds_price_the_upper_funds_every_second_round_from_the_fourth(small: Instance, mono: MultiYearResult, in_process, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Multi-year rounds reach their allocation in about six rounds and then waited for round 8's Lagrangian bound:
    they price the upper funds in rounds 4, 6, 8, ... (one-year rounds in 4, 8, 12, ...), and every such bound stays
    above the monolithic model's LP optimum."""
    from optimizer import decompose

    monkeypatch.setattr(decompose, "STALL_SHARE", 0.0)  # no stall: the rounds run to the limit
    sc = _scenario()
    blocks, parts = split_by_county(small)
    history = decompose.master_allocate(blocks, sc, in_process(blocks, parts, sc), tol=1e-9, max_rounds=9, say=lambda _: None).history
    assert len(history) == 9
    priced = history.dropna(subset=["lagrangian"])
    assert list(priced["round"]) == [4, 6, 8]
    assert (priced["lagrangian"] >= mono.manifest["lp_bound"] * (1 - 1e-9)).all()
    assert [r for r in range(1, 13) if decompose._priced_round(r, years=False)] == [4, 8, 12]


def test_the_first_multiyear_step_moves_each_county_by_at_most_a_twentieth_of_its_start(small: Instance, in_process) -> None:  # type: ignore[no-untyped-def]
    """Multi-year rounds start from a trust region of 5% of each county's starting money per fund (a quarter in one
    year): larger first steps cost the warm county LPs many iterations (100,000 households: rounds 1-6 in 257 s
    against 372 s)."""
    from optimizer import decompose

    sc = _scenario()
    blocks, parts = split_by_county(small)
    run = in_process(blocks, parts, sc)
    given: list[list[np.ndarray]] = []

    def recorded(kind: str, money: list[np.ndarray]) -> list[object]:
        if kind == "lp":
            given.append([m.copy() for m in money])
        return run(kind, money)

    decompose.master_allocate(blocks, sc, recorded, tol=1e-9, max_rounds=2, say=lambda _: None)
    assert len(given) == 2
    T = 3  # 2018-2020
    moved = False
    for first, second in zip(*given):
        start = first.reshape(-1, T)
        step = np.abs(second.reshape(-1, T) - start)
        assert (step <= decompose.INITIAL_RADIUS_YEARS * start.mean(axis=1, keepdims=True) + 1e-6).all()
        moved |= bool((step > 1e-6).any())
    assert moved  # the master did take a step


def test_multiyear_rounds_reopen_when_the_county_roundings_give_up_more_than_they_left(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Multi-year rounds stop at the gap less what a multi-year rounding was measured to give up; when the county
    MIPs give up more, the master goes on to a smaller tolerance and the county MIPs run again, as in one year.
    Here the rounds are made to close at twice the gap asked; the assembled plan verifies nationally."""
    from optimizer import decompose

    sc = _scenario()
    monkeypatch.setattr(decompose, "YEARS_ROUNDING_ALLOWANCE", -sc.solver.gap)
    monkeypatch.setattr(decompose, "INITIAL_RADIUS_YEARS", 0.5)  # a path measured to close without a short county, then reopen
    instance = build_instance(generate(2000, seed=2))
    said: list[str] = []
    run = decompose.solve_decomposed_years(sc, instance, workers=2, progress=said.append)
    reopened = [m for m in said if "more rounds, to" in m]
    assert len(reopened) == 1
    history = pd.DataFrame(run.manifest["decomposition"]["history"])
    first_close = int(np.flatnonzero(history["gap"] <= 2 * sc.solver.gap)[0])
    assert len(history) > first_close + 1  # rounds after the first closing
    assert sum("solving" in m and "county MIPs" in m for m in said) >= 2
    assert verify_multiyear(run, instance, sc) == []
    assert run.manifest["objective"] <= run.manifest["bound"] * (1 + 1e-9)


def test_a_short_multiyear_county_is_repaired_with_money_left_then_rounded_in_full(small: Instance) -> None:
    """The repair re-solves a short county with what it used plus what the others left (quick), then, still
    short, with the MIP over the whole county, else the general relax-and-fix and MIP (thorough); with nothing left anywhere it goes straight to the
    thorough rounding, and a county still short after it is an error that names it."""
    sc = _scenario()
    blocks, _ = split_by_county(small)
    calls: list[tuple[str, float, bool]] = []
    funds = blocks.pairs["fund_id"]
    # each pair's even part of its fund's yearly money (three years, the same share each)
    even = (funds.map(blocks.upper.set_index("fund_id")["amount"]) / funds.map(funds.value_counts()) / 3).to_numpy()

    def finals(used_share: float) -> list[dict[str, object]]:
        """Every county used ``used_share`` of its even part of every fund in every year; the first is 5 yuan short."""
        return [{"emergency": 5.0 if i == 0 else 0.0, "used": np.repeat(used_share * even[idx], 3), "county": c}
                for i, (c, idx) in enumerate(zip(blocks.counties, blocks.county_pairs()))]  # fmt: skip

    def rerun(still_short: int):  # type: ignore[no-untyped-def]
        def call(asks: list[tuple[str, np.ndarray, bool]]) -> list[dict[str, object]]:
            assert len(asks) == 1  # one county short: one at a time
            c, money, thorough = asks[0]
            calls.append((c, float(money.sum()), thorough))
            return [{"emergency": 5.0 if len(calls) <= still_short else 0.0, "used": money, "county": c}]

        return call

    first = blocks.counties[0]
    start = finals(0.5)
    out = _repair(blocks, sc, start, rerun(1), lambda _m: None)
    assert [(c, t) for c, _, t in calls] == [(first, False), (first, True)]
    assert calls[0][1] == calls[1][1] > start[0]["used"].sum()  # what it used and half of every fund left by all
    assert out[0]["emergency"] == 0.0 and all(a is b for a, b in zip(out[1:], start[1:]))  # the others untouched
    calls.clear()
    _repair(blocks, sc, finals(1.0), rerun(0), lambda _m: None)  # every yuan used: no quick retry
    assert [t for _, _, t in calls] == [True]
    calls.clear()
    with pytest.raises(NoSolutionError, match=first):
        _repair(blocks, sc, finals(0.5), rerun(2), lambda _m: None)


def test_several_short_counties_are_repaired_at_once_with_even_shares_of_the_money_left(small: Instance) -> None:
    """Nine counties of the 100,000-household multi-year run came back short (12,301-493,844 yuan) with 89-112
    million yuan of their funds left, and their repairs ran one after the other on one worker. Several short
    counties are now re-solved at once, each offered an even share of what is left (together never more than is
    left); one still short then gets all that is left after them, alone, and then the thorough rounding."""
    sc = _scenario()
    blocks, _ = split_by_county(small)
    funds = blocks.pairs["fund_id"]
    even = (funds.map(blocks.upper.set_index("fund_id")["amount"]) / funds.map(funds.value_counts()) / 3).to_numpy()
    finals = [{"emergency": 5.0 if i < 2 else 0.0, "used": np.repeat(0.5 * even[idx], 3), "county": c}
              for i, (c, idx) in enumerate(zip(blocks.counties, blocks.county_pairs()))]  # fmt: skip
    batches: list[list[tuple[str, np.ndarray, bool]]] = []

    def rerun(asks: list[tuple[str, np.ndarray, bool]]) -> list[dict[str, object]]:
        batches.append(asks)
        # the second county still short with its share: it needs more than half of what is left
        return [{"emergency": 5.0 if c == blocks.counties[1] and len(batches) == 1 else 0.0, "used": m, "county": c} for c, m, _ in asks]

    ledger = _Ledger(blocks, sc, finals)
    left = {c: ledger.left_for(c) for c in blocks.counties[:2]}
    out = _repair(blocks, sc, finals, rerun, lambda _m: None)
    assert [[(c, t) for c, _, t in b] for b in batches] == [[(blocks.counties[0], False), (blocks.counties[1], False)], [(blocks.counties[1], False)]]
    for (c, money, _), f in zip(batches[0], finals):
        assert money == pytest.approx(f["used"] + left[c] / 2)  # an even share each
    after = _Ledger(blocks, sc, out)  # the money used once both are repaired
    assert batches[1][0][1] == pytest.approx(finals[1]["used"] + _Ledger(blocks, sc, [out[0], *finals[1:]]).left_for(blocks.counties[1]))
    # the offers together never overspend (full carry-over: up to each year, what was appropriated up to it)
    assert (np.cumsum(after.used, axis=1) <= np.cumsum(after.approp, axis=1) * (1 + 1e-9) + 1e-6).all()
    assert [o["emergency"] for o in out] == [0.0] * len(out) and all(a is b for a, b in zip(out[2:], finals[2:]))


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


def test_decomposed_years_refuse_min_cost(small: Instance) -> None:
    with pytest.raises(InputError, match="max_lifted"):
        solve_multiyear(_scenario().with_overrides({"mode": "min_cost", "target.lifted": 10.0}), small, method="decomposed")


def _replan_inputs(small: Instance, mono: MultiYearResult, tmp_path) -> tuple[Kept, pd.DataFrame, Withheld]:  # type: ignore[no-untyped-def]
    """A re-plan of ``mono`` from 2019: its 2018 starts and builds kept, the other households' (plan, year) as the
    published plans, 20,000 yuan withheld from an upper fund and from a county's own fund."""
    mono.write(tmp_path / "first")
    kept = read_previous(tmp_path / "first", 2019)
    hh = mono.tables["households"]
    previous = hh.loc[~hh["household_id"].isin(kept.starts["household_id"]), ["household_id", "plan", "year"]].astype({"year": np.int64})
    county_fund = small.funds.loc[small.funds["region_id"] == "P01C01X02", "fund_id"].iloc[0]
    return kept, previous, Withheld({"F-CN-industry": 20_000.0, county_fund: 20_000.0}, 2019)


def test_a_decomposed_replan_keeps_the_past_the_churn_cap_and_the_withheld_money(small: Instance, mono: MultiYearResult, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The rolling horizon decomposed by county (the nightly job's re-plan of a large registry): re-planned from 2019
    with the 2018 starts and builds of a first plan kept, 20,000 yuan withheld from an upper fund and from a
    county's own fund, and at most 90 of the other households changing plan or start year (with 5, see below). The assembled plan
    holds all three and verifies, and it agrees with the monolithic re-plan within the gaps."""
    sc = _scenario()
    kept, previous, withheld = _replan_inputs(small, mono, tmp_path)
    cap = ChurnCap(previous, 90)
    whole = solve_multiyear(sc, small, method="monolithic", kept=kept, withheld=withheld, churn=cap)
    dec = solve_multiyear(sc, small, method="decomposed", workers=2, kept=kept, withheld=withheld, churn=cap)
    assert dec.manifest["method"] == "decomposed" and len(kept.starts) > 100
    assert dec.manifest["rounding_solver"].startswith("pulp")  # CBC rounds the counties by default
    for run in (whole, dec):
        assert verify_multiyear(run, small, sc, withheld) == []
        assert kept_violations(run, kept) == []
        assert run.manifest["churn"]["changed"] == churn_changes(run, previous) <= 90
        assert run.manifest["rolling"] == whole.manifest["rolling"]
        assert run.manifest["withheld"] == {"from_year": 2019, "amount": withheld.amount}
        appropriated = run.tables["spending"].set_index(["fund_id", "year"])["appropriation"]
        for fund in withheld.amount:
            amount = float(small.funds.set_index("fund_id").loc[fund, "amount"])
            assert appropriated[fund].loc[[2019, 2020]].sum() == pytest.approx(amount * 2 / 3 - 20_000.0, abs=0.05)
    assert {k: v for k, v in dec.manifest["churn"].items() if k != "changed"} == {"previous_households": len(previous), "max_changes": 90, "forced_changes": 0}
    m, d = whole.manifest, dec.manifest
    assert d["bound"] >= m["objective"] - 1e-6 and m["bound"] >= d["objective"] - 1e-6


def test_a_decomposed_replan_charges_kept_starts_and_builds_what_they_were_paid(small: Instance, mono: MultiYearResult, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Medical a quarter dearer, the other measures and the projects 3% dearer since the first plan: the decomposed
    re-plan from 2019 charges the starts and builds of 2018 it keeps what the first plan paid them (each county checks
    it, with its kept decisions), and each county's cells of 2018 hold what the first plan paid there (the driver
    gives each its part), so 2018 spends what it spent, category by category, and the assembled plan verifies."""
    sc = _scenario()
    mono.write(tmp_path / "first")
    kept = read_previous(tmp_path / "first", 2019)
    tables = generate(900, seed=4)
    factor = np.where(tables["measures"]["measure_id"] == "medical", 1.25, 1.03)
    tables["measures"] = tables["measures"].assign(cost_fixed=lambda m: m["cost_fixed"] * factor, cost_per_person=lambda m: m["cost_per_person"] * factor)
    tables["projects"] = tables["projects"].assign(cost=lambda p: p["cost"] * 1.03)
    dearer = build_instance(tables)
    run = solve_multiyear(sc, dearer, method="decomposed", workers=2, kept=kept)
    assert run.manifest["method"] == "decomposed" and len(kept.built) > 0
    assert verify_multiyear(run, dearer, sc) == [] and kept_violations(run, kept) == []
    by_cell = [r.tables["flows"].query("year == 2018").groupby(["village_id", "category"])["amount"].sum() for r in (mono, run)]
    pd.testing.assert_series_equal(by_cell[1], by_cell[0], atol=0.05)
    built = run.tables["projects"].set_index("project_id")["cost"]
    assert built.reindex(kept.built["project_id"]).to_numpy() == pytest.approx(kept.built["cost"].to_numpy())


def _kept_years_free(monkeypatch: pytest.MonkeyPatch) -> None:
    """The master's steps as before 2026-12-04: a re-plan's kept years free to move (counties then come out of the
    rounds short, which the hold-back and the fallback below must handle)."""
    import importlib

    def free(start, approp, fund_pos, kept_years):  # type: ignore[no-untyped-def]
        return np.zeros(len(fund_pos) * approp.shape[1], dtype=bool)

    monkeypatch.setattr(importlib.import_module("optimizer.decompose"), "_pinned_years", free)


def test_a_replan_whose_counties_round_short_holds_back_their_money(small: Instance, mono: MultiYearResult, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The re-plan above with at most 5 changes: one of the three counties cannot round within its share of the money
    and of the changes even with what the others left (1,720.42 yuan short after its repair, measured). It says what
    more its floors need; that and its allocation are held back for it, the rounds share the rest again, and the plan
    then rounds. With 7 changes, the rounds run again leave the other two short in turn: they are held back with the
    first (two hold-backs). Each plan holds the kept decisions and the cap, verifies, and agrees with the one model
    within the gaps. HiGHS rounds the counties (with CBC's roundings, the default, the repair pays the counties short
    under 5 changes and one hold-back settles those under 7)."""
    sc = _scenario().with_overrides({"solver.rounding": "highs"})
    kept, previous, withheld = _replan_inputs(small, mono, tmp_path)
    for n, times in ((5, 1), (7, 2)):
        cap = ChurnCap(previous, n)
        whole = solve_multiyear(sc, small, method="monolithic", kept=kept, withheld=withheld, churn=cap)
        said: list[str] = []
        run = solve_multiyear(sc, small, method="decomposed", workers=2, kept=kept, withheld=withheld, churn=cap, progress=said.append)
        assert sum("held back" in m for m in said) == times, said
        assert verify_multiyear(run, small, sc, withheld) == [] and kept_violations(run, kept) == []
        assert run.manifest["churn"]["changed"] == churn_changes(run, previous) <= n
        gap = run.manifest["gap"] + whole.manifest["gap"]
        assert run.manifest["objective"] >= whole.manifest["objective"] * (1 - gap) - 1e-6
        assert whole.manifest["objective"] >= run.manifest["objective"] * (1 - gap) - 1e-6


def test_money_held_beyond_a_years_appropriation_comes_out_of_the_years_before() -> None:
    """Held back for short counties: what is held beyond a year's appropriation was carried into it, so the master
    shares that much less of the years before (cut at the year alone, it shared that money again: a re-plan held
    back twice overspent a fund's 2020 money by 186.26 yuan)."""
    approp = np.array([[100.0, 100.0, 100.0], [50.0, 50.0, 50.0]])
    held = np.array([[0.0, 30.0, 250.0], [10.0, 20.0, 30.0]])
    left = left_after(approp, held)
    assert left.tolist() == [[20.0, 0.0, 0.0], [40.0, 30.0, 20.0]]
    assert (np.cumsum(left + held, axis=1)[:, -1] <= approp.sum(axis=1) + 1e-9).all()
    assert left_after(approp, np.full_like(approp, 500.0)).tolist() == np.zeros_like(approp).tolist()


def test_a_replan_whose_start_no_longer_pays_its_kept_year_frees_that_money(small: Instance, mono: MultiYearResult, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The master's steps keep the kept year's money where the earlier plan paid the kept decisions; when that money
    does not pay them (simulated: the earlier plan read as having given half of it), the counties are short there,
    and after FREE_KEPT_YEARS_AFTER rounds (lowered to 2 here) the steps free it: the re-plan still ends verified,
    with every kept decision, within the gaps of the one model (held where it was, 60 rounds later the counties were
    still short and the hold-back's master found no allocation)."""
    import importlib

    decompose = importlib.import_module("optimizer.decompose")
    real = decompose._start_of

    def half_of_the_kept_year(blocks, tree, years, flows):  # type: ignore[no-untyped-def]
        start = real(blocks, tree, years, flows)
        start[:, 0] *= 0.5
        return start

    monkeypatch.setattr(decompose, "_start_of", half_of_the_kept_year)
    monkeypatch.setattr(decompose, "FREE_KEPT_YEARS_AFTER", 2)
    sc = _scenario()
    kept, _, withheld = _replan_inputs(small, mono, tmp_path)
    whole = solve_multiyear(sc, small, method="monolithic", kept=kept, withheld=withheld)
    said: list[str] = []
    run = solve_multiyear(sc, small, method="decomposed", workers=2, kept=kept, withheld=withheld, progress=said.append)
    rounds = run.manifest["decomposition"]["history"]
    # short in the kept year (its penalty), then not, long before the rounds' limit; the county MIPs then ran
    fits = [r["round"] for r in rounds if r["counties_sum"] > 0]
    assert rounds[1]["counties_sum"] < 0 and fits and fits[0] < 30, fits[:1]
    assert any("solving" in m and "county MIPs" in m for m in said)
    assert verify_multiyear(run, small, sc, withheld) == [] and kept_violations(run, kept) == []
    gap = run.manifest["gap"] + whole.manifest["gap"]
    assert run.manifest["objective"] >= whole.manifest["objective"] * (1 - gap) - 1e-6


def test_a_replan_that_no_county_split_can_round_falls_back_to_one_model(small: Instance, mono: MultiYearResult, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The re-plan above when a short county's floors could not be paid even with all of the upper money (simulated:
    its worker finds no rounding with more), where one model re-plans. ``--method decomposed`` says so and names the
    way out; ``auto`` (its threshold lowered here) re-plans as one model, which holds the kept decisions and the cap,
    and records why."""
    import importlib

    def no_rounding(*_args):  # type: ignore[no-untyped-def]
        return None  # a local function: Dask ships it to the workers by value

    monkeypatch.setattr(importlib.import_module("optimizer.decompose"), "county_extra", no_rounding)
    _kept_years_free(monkeypatch)  # so that counties come out short
    sc = _scenario()
    kept, previous, withheld = _replan_inputs(small, mono, tmp_path)
    cap = ChurnCap(previous, 5)
    with pytest.raises(NoSolutionError, match=r"county P01C01X\d+: .*more than all upper-level money can give.*--method monolithic solves it as one model"):
        solve_multiyear(sc, small, method="decomposed", workers=2, kept=kept, withheld=withheld, churn=cap)
    monkeypatch.setattr(importlib.import_module("optimizer.multiyear"), "DECOMPOSE_REPLAN_FROM", 300)
    said: list[str] = []
    run = solve_multiyear(sc, small, workers=2, kept=kept, withheld=withheld, churn=cap, progress=said.append)
    assert any(m.startswith("decomposing into 3 counties") for m in said)
    assert run.manifest["method"] == "monolithic" and run.manifest["fallback"]["from"] == "decomposed"
    assert "more than all upper-level money can give" in run.manifest["fallback"]["reason"]
    assert verify_multiyear(run, small, sc, withheld) == [] and kept_violations(run, kept) == []
    assert run.manifest["churn"]["changed"] == churn_changes(run, previous) <= 5


def test_auto_decomposes_a_replan_later_than_a_first_plan(small: Instance, mono: MultiYearResult, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A multi-year first plan decomposes from DECOMPOSE_FROM households, a re-plan (earlier years kept, or under the
    churn cap) from DECOMPOSE_REPLAN_FROM (its one model is faster below that); one year from
    optimizer.solve.DECOMPOSE_FROM whatever it re-plans. With the first threshold lowered below this instance, its
    re-plan without a cap still solves as one model; with the second lowered too, it decomposes."""
    import importlib

    from optimizer import multiyear

    solve = importlib.import_module("optimizer.solve")  # the package exports a function of that name
    sc = _scenario()
    one_year = Scenario.model_validate({"name": "one", "data": "unused"})
    for threshold, replan in ((multiyear.DECOMPOSE_FROM, False), (multiyear.DECOMPOSE_REPLAN_FROM, True)):
        assert not solve.auto_decomposes(sc, threshold - 1, replan=replan) and solve.auto_decomposes(sc, threshold, replan=replan)
        assert solve.auto_decomposes(one_year, solve.DECOMPOSE_FROM, replan=replan) and not solve.auto_decomposes(one_year, solve.DECOMPOSE_FROM - 1, replan=replan)
    assert multiyear.DECOMPOSE_FROM < multiyear.DECOMPOSE_REPLAN_FROM
    monkeypatch.setattr(importlib.import_module("optimizer.multiyear"), "DECOMPOSE_FROM", 300)
    kept, _, withheld = _replan_inputs(small, mono, tmp_path)
    for lowered in (False, True):
        if lowered:
            monkeypatch.setattr(importlib.import_module("optimizer.multiyear"), "DECOMPOSE_REPLAN_FROM", 300)
        said: list[str] = []
        run = solve_multiyear(sc, small, workers=2, kept=kept, withheld=withheld, progress=said.append)
        assert run.manifest["method"] == ("decomposed" if lowered else "monolithic") and any(m.startswith("decomposing") for m in said) == lowered
        assert verify_multiyear(run, small, sc, withheld) == [] and kept_violations(run, kept) == []


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
    assert "INFO distributed" not in done.stderr  # the cluster's own chatter stays out of the run's log
    run = read_multiyear_run(out)
    assert run.manifest["method"] == "decomposed" and run.manifest["decomposition"]["source"].startswith("partitioned")
    check = subprocess.run([*cli, "verify", str(out)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr[-2000:]


def test_a_partitioned_multiyear_run_keeps_its_households_on_disk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Decomposed from a partitioned folder, the counties write their households tables to disk and the driver
    holds none: the manifest, the starts per year, the report and the written run come from the parts, and match
    the same folder loaded whole and decomposed in memory (the same counties, so the same plans); the national
    verifier reads the parts; the parts go with the result."""
    import gc

    from optimizer.multiyear import household_totals, starts_by_year
    from optimizer.report import write_report
    from optimizer.storage import load_source

    folder = tmp_path / "data"
    generate_partitioned(1500, folder, seed=3)
    sc = _scenario(str(folder))
    disk = solve_multiyear(sc, method="decomposed", workers=2)
    assert "households" not in disk.tables and len(disk.parts["households"]) == disk.manifest["decomposition"]["counties"]
    whole = load_source(str(folder))
    memory = solve_multiyear(sc, whole, method="decomposed", workers=2)
    assert "households" in memory.tables and not memory.parts
    for key in ("objective", "bound", "expected_out_at_deadline", "households", "cost", "monitored", "monitoring_cost"):
        assert disk.manifest[key] == pytest.approx(memory.manifest[key], rel=1e-12), key
    totals = household_totals(memory.tables["households"])
    assert disk.manifest["expected_out_at_deadline"] == pytest.approx(totals["expected_out_at_deadline"], rel=1e-12)
    assert disk.rows("households") == len(memory.tables["households"]) == disk.manifest["households"]
    pd.testing.assert_frame_equal(starts_by_year(disk), starts_by_year(memory), rtol=1e-12)
    assert starts_by_year(disk)["households_starting"].sum() == len(whole.households)
    run = disk.write(tmp_path / "run")
    assert write_report(run, disk).is_file() and "households" not in disk.tables  # written and reported part by part
    written = pd.read_csv(run / "households.csv")
    expected = pd.read_csv(memory.write(tmp_path / "memory") / "households.csv")
    pd.testing.assert_frame_equal(written, expected)
    assert verify_multiyear(disk, whole, sc) == []  # reads the parts whole
    assert "households" in disk.tables
    parts = disk.parts["households"][0].parent
    del disk
    gc.collect()
    assert not parts.exists()


def test_a_session_starts_a_multiyear_what_if_from_the_county_models_it_kept(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A what-if session's decomposed multi-year solves: the second, with more central money, starts every county
    from the model its worker kept (the repaired ones too), passes the multi-year verifier and agrees with the same
    what-if solved afresh within their gaps. (Seed 12: a county of the first solve is short after rounding and
    repaired, as on seed 4, in a third of its time.)"""
    from optimizer.compare import Session

    generate(900, seed=12, out=tmp_path / "data")
    base = _scenario(str(tmp_path / "data"))
    more = base.with_overrides({"name": "more", "funds.level.central": "x1.2"})
    said: list[str] = []
    with Session(method="decomposed", workers=2, progress=said.append) as session:
        first = session.solve_any(base)
        assert any("short after rounding" in m for m in said)
        warm = session.solve_any(more)
    n = first.manifest["decomposition"]["counties"]
    assert [r.manifest["decomposition"]["kept_models"] for r in (first, warm)] == [0, n]
    fresh = solve_multiyear(more, method="decomposed", workers=2)
    assert warm.manifest["objective"] == pytest.approx(fresh.manifest["objective"], rel=max(warm.manifest["gap"], fresh.manifest["gap"]))
    assert warm.manifest["objective"] > first.manifest["objective"]


def test_a_county_short_of_what_its_kept_starts_need_says_so(small: Instance, mono: MultiYearResult, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A re-plan with soft floors and 40% less money than the kept 2018 starts were paid: a county cannot pay what it
    keeps. Its error blamed "its hard floors", which were soft (fuzzing pass 16); it names the kept starts now."""
    from optimizer.errors import NoSolutionError

    mono.write(tmp_path / "first")
    kept = read_previous(tmp_path / "first", 2019)
    poorer = small.replace(funds=small.funds.assign(amount=small.funds["amount"] * 0.6))
    soft = _scenario().with_overrides({"floors.mode": "soft"})
    with pytest.raises(NoSolutionError, match=r"county P01C01X\d+: the starts and builds it keeps need [\d,.]+ yuan more than") as err:
        solve_multiyear(soft, poorer, method="decomposed", workers=2, kept=kept)
    assert "hard floors" not in str(err.value).split(";")[0]
