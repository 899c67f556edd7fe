"""Multi-year planning to a deadline (issue 10): every solve checked by the independent verifier."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import StopsAtTimeLimit, tiny_instance, tiny_scenario
from optimizer.contract import Level
from optimizer.data import Instance, build_instance, load_instance
from optimizer.edits import apply_data_edits
from optimizer.generate import generate, write_tables
from optimizer.model import ChurnCap, county_table
from optimizer.multiyear import (
    MultiYear,
    MultiYearResult,
    build_multiyear,
    exit_schedule,
    exit_schedule_line,
    run_multiyear,
    solve_multiyear,
    transfer_only,
    verify_multiyear,
    verify_multiyear_run,
)
from optimizer.scenario import Scenario
from optimizer.solve import solve
from optimizer.solvers import SolveOptions, get_backend


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
    # with money enough for projects too: a project built in a one-year horizon enables plans in that year, as in the
    # one-year model (it enabled them from the next year, so none was ever built: 2.2% lower, fuzzing pass 11)
    from optimizer.edits import apply_data_edits

    rich = apply_data_edits(small, {"funds.level.central": "x4"})
    r, one = _checked(sc, rich), solve(sc.model_copy(update={"years": None}), rich)
    built = int((r.tables["projects"]["built"].astype(str) == "True").sum())
    assert built == int(one.tables["projects"]["built"].sum()) > 0
    assert r.manifest["objective"] == pytest.approx(one.manifest["objective"], rel=2 * max(r.manifest["gap"], one.manifest["gap"], 1e-4))


def test_a_small_model_whose_rounding_misses_the_gap_goes_to_the_full_mip(monkeypatch: pytest.MonkeyPatch) -> None:
    """200 households in 2018-2020 at a 0.5% gap: the LP bound is loose (few households a county share its projects),
    the first rounding lies 0.87% below it, and relax-and-fix, judged against the same bound, could only run its
    whole ladder. The full MIP runs at once instead, tightens the bound and closes the gap; the ladder's result
    (the path before) lies within the new bound."""
    import importlib

    inst = build_instance(generate(200, seed=5))
    sc = _scenario({"first": 2018, "last": 2020, "relocation_rate": 0.05}, solver={"time_limit": 120, "gap": 0.005})
    said: list[str] = []
    r = _checked(sc, inst, method="monolithic", progress=said.append)
    m = r.manifest
    assert any(s.endswith("running the full MIP") for s in said) and not any(s.startswith("relax-and-fix") for s in said)
    assert m["used_full_mip"] and m["bound"] < m["lp_bound"] - 0.1 and m["gap"] <= 0.005
    monkeypatch.setattr(importlib.import_module("optimizer.multiyear"), "FULL_MIP_UP_TO", 0)
    said.clear()
    ladder = _checked(sc, inst, method="monolithic", progress=said.append)
    assert any(s.startswith("relax-and-fix") for s in said)
    assert ladder.manifest["objective"] <= m["bound"] + 1e-6


def test_a_multiyear_mip_stopped_at_its_time_limit_is_recorded(small: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """The multi-year rounding's MIPs, like the one-year ladder's, record a stop at their time limit in the manifest."""
    import importlib

    from optimizer.solvers import get_backend

    sc = _scenario({"first": 2018, "last": 2020}, solver={"time_limit": 120, "gap": 0.005})
    proven = _checked(sc, small, method="monolithic")
    assert proven.manifest["stopped_at_time_limit"] is False
    real = get_backend("highs")
    monkeypatch.setattr(importlib.import_module("optimizer.multiyear"), "get_backend", lambda name=None, private=False: StopsAtTimeLimit(real))
    stopped = _checked(sc, small, method="monolithic")
    assert stopped.manifest["stopped_at_time_limit"] is True


def test_a_large_models_lp_by_the_interior_point_has_the_same_bound(small: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model from ``IPM_FROM_ROWS`` rows on has its LP solved by the interior point (with crossover): here every
    model does, and the LP bound is the simplex's, the plan verified and within the gap. A model with a churn row
    (a capped re-plan: one row over every published plan's columns) keeps the simplex."""
    import importlib

    from optimizer.solvers import highs

    sc = _scenario({"first": 2018, "last": 2020, "relocation_rate": 0.05}, solver={"time_limit": 120, "gap": 0.005})
    simplex = _checked(sc, small, method="monolithic")
    asked: list[str] = []
    solve_lp = highs.HighsBackend.solve

    def recorded(self: highs.HighsBackend, model, options):  # type: ignore[no-untyped-def]
        if not model.integer.any():
            asked.append(options.algorithm)
        return solve_lp(self, model, options)

    monkeypatch.setattr(highs.HighsBackend, "solve", recorded)
    monkeypatch.setattr(importlib.import_module("optimizer.multiyear"), "IPM_FROM_ROWS", 0)
    ipm = _checked(sc, small, method="monolithic")
    assert asked[0] == "ipm"
    assert ipm.manifest["lp_bound"] == pytest.approx(simplex.manifest["lp_bound"], rel=1e-7)
    assert ipm.manifest["gap"] <= 0.005
    asked.clear()
    previous = ipm.tables["households"][["household_id", "plan", "year"]]
    capped = _checked(sc, small, method="monolithic", churn=ChurnCap(previous, 5))
    assert asked[0] == "auto" and capped.manifest["churn"]["changed"] <= 5


def test_whole_plans_proven_infeasible_are_diagnosed_without_the_ladder() -> None:
    """300 households in 2018-2020 whose LP fits only with fractions of plans: the small model's full MIP proves
    that no whole plans fit, and the error says so at once (relax-and-fix ran its whole ladder first before)."""
    from optimizer.errors import InfeasibleError

    inst = build_instance(generate(300, seed=4))
    sc = _scenario({"first": 2018, "last": 2020, "relocation_rate": 0.05}, solver={"time_limit": 120, "gap": 0.005})
    said: list[str] = []
    with pytest.raises(InfeasibleError, match="no solution with whole plans although its LP relaxation has one"):
        solve_multiyear(sc, inst, method="monolithic", progress=said.append)
    assert any(s.endswith("running the full MIP") for s in said) and not any(s.startswith("relax-and-fix") for s in said)


def _started_and_built_before(my: MultiYear, inst: Instance, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From a solution ``x`` of ``my``: per household, project and year, the share started on the project that year;
    per project and year, the share built before it (also read by bench/results/s32_link_lp.py)."""
    opt, T = my.options, len(my.years)
    proj = my.plans.table["project"].to_numpy()[opt["plan"].to_numpy()]
    tied = proj >= 0
    n_y = len(inst.projects)
    started = np.zeros((len(inst.households), n_y, T))
    np.add.at(started, (opt["hh"].to_numpy()[tied], proj[tied], opt["year_ix"].to_numpy()[tied]), x[my.model.col_blocks["x"]][tied])
    built = x[my.model.col_blocks["y"]].reshape(n_y, T)
    return started, np.cumsum(built, axis=1) - built


def test_the_lp_starts_no_more_of_a_household_on_a_project_than_was_built_before() -> None:
    """The link rows count a household's options on a project cumulatively: in the LP relaxation, the share of a
    household started on project j by year u never exceeds the share of j built before u. Counted year by year
    only, this LP started households a third in each of three years on projects built a third (cumulative excess
    0.67) and its value was 0.39% higher."""
    inst = build_instance(generate(600, seed=5))
    sc = _scenario({"first": 2016, "last": 2020, "relocation_rate": 0.05})
    my = build_multiyear(inst, sc)
    x = get_backend("highs").solve(my.model.relaxed(), SolveOptions()).x
    started, built_before = _started_and_built_before(my, inst, x)
    assert started.sum() > 1.0  # households do start on projects
    assert (np.cumsum(started, axis=2) <= built_before[None, :, :] + 1e-6).all()
    capacity = inst.projects["capacity"].to_numpy(dtype=float)
    assert (np.cumsum(started.sum(axis=0), axis=1) <= capacity[:, None] * built_before + 1e-6).all()


def test_delayed_measure_starts_early() -> None:
    inst = tiny_instance()
    sc = tiny_scenario(years={"first": 2018, "last": 2020, "delay_by_batch": {"education": 2}}, helpers={"assign": False})
    r = _checked(sc, inst)
    hh = r.tables["households"]
    edu = hh[hh["measures"].str.contains("education")]
    assert len(edu) > 0
    assert (edu["year"] == 2018).all()  # the only start that takes effect by the deadline
    assert (edu["p_deadline"] > 0).all()


def test_data_without_projects_solves_writes_and_verifies(tmp_path: Path) -> None:
    """No village project at all (a county of the decomposition may hold none): every plan is untied, and the run
    is written with an empty project column and read back verified (the plan labels indexed the empty project
    table and failed)."""
    tables = generate(150, seed=5)
    tables["projects"] = tables["projects"].iloc[:0]
    write_tables(tables, tmp_path / "data")
    sc = _scenario({"first": 2018, "last": 2020}, data=str(tmp_path / "data"))
    r = run_multiyear(sc, out=tmp_path / "run", progress=lambda _m: None)
    hh = r.tables["households"]
    assert len(hh) == len(tables["households"]) and hh["started"].any()
    assert (hh["project_id"] == "").all() and not hh["plan"].str.contains("@").any()
    again = verify_multiyear_run(tmp_path / "run")
    assert again.manifest["objective"] == pytest.approx(r.manifest["objective"])


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
    # any verified plan will do: the MIP without carry-over takes 25 s to prove 0.01%, under a second to 0.5%
    sc = _scenario({"first": 2018, "last": 2020, "carry_over": "none"}, solver={"time_limit": 120, "gap": 0.005})
    r = _checked(sc, small)
    flows = r.tables["flows"]
    year = int(flows["year"].min())
    flows.loc[flows["year"] == year, "amount"] *= 3.0
    bad = verify_multiyear(r, small, sc)
    assert any(f"overspent in {year}" in b for b in bad)
    # NaN passed every comparison of the multi-year verifier too
    flows.loc[flows.index[0], "amount"] = float("nan")
    assert any("flows table: column amount is not a finite number" in b for b in verify_multiyear(r, small, sc))
    nan_objective = MultiYearResult(tables=r.tables, manifest={**r.manifest, "expected_out_at_deadline": float("nan")})
    assert "manifest: expected_out_at_deadline is nan, not a number" in verify_multiyear(nan_objective, small, sc)
    stopped = MultiYearResult(tables=r.tables, manifest={**r.manifest, "status": "time_limit"})
    assert "manifest: status 'time_limit' is not that of a solution (optimal or feasible)" in verify_multiyear(stopped, small, sc)


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


def test_a_replan_keeps_plans_that_its_settings_would_prune_now(small: Instance, tmp_path: Path) -> None:
    """Re-planned with one candidate plan a household (the first run had four), and again with soft floors: the
    kept starts of 2019 are offered and kept all the same, where the re-plan refused them before."""
    sc = _scenario({"first": 2019, "last": 2020})
    first = _checked(sc, small)
    first.write(tmp_path / "run")
    h1 = first.tables["households"]
    early = (h1["year"] == 2019).to_numpy()
    for change in ({"plans.max_per_household": 1}, {"floors.mode": "soft", "plans.max_per_household": 2}):
        narrow = sc.with_overrides(change)
        again = _checked(narrow, small, previous=tmp_path / "run", from_year=2020)
        h2 = again.tables["households"]
        assert again.manifest["rolling"]["kept_households"] == int(early.sum()) > 0
        assert (h2.loc[early, "plan"].to_numpy() == h1.loc[early, "plan"].to_numpy()).all()
        assert (h2.loc[early, "year"] == 2019).all()


def test_a_replan_refuses_a_previous_run_edited_or_malformed(small: Instance, tmp_path: Path) -> None:
    """A previous run whose households table changed since it was written is refused by name; one whose manifest
    was made to match its edits is read strictly: each bad cell and duplicated household named by file and row,
    exit 2, where a bad year crashed and an unreadable 'started' un-kept a start silently. A one-year run is
    refused as such."""
    import json

    from optimizer.data import file_sha256
    from optimizer.errors import InputError
    from optimizer.outputs import write_run

    sc = _scenario({"first": 2019, "last": 2020})
    first = _checked(sc, small)
    first.write(tmp_path / "run")
    path = tmp_path / "run" / "households.csv"
    hh = pd.read_csv(path, dtype=str, keep_default_na=False)
    started = hh.index[hh["started"] == "True"]
    hh.loc[started[0], "year"] = "abc"
    hh.loc[started[1], "started"] = "maybe"
    twice = hh.loc[started[2], "household_id"]
    hh = pd.concat([hh, hh.loc[[started[2]]]])
    hh.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"households.csv: changed or damaged since the run wrote it .*solve it again"):
        solve_multiyear(sc, small, previous=tmp_path / "run", from_year=2020)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    manifest["output_hashes"]["households.csv"] = file_sha256(path)
    (tmp_path / "run" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError) as err:
        solve_multiyear(sc, small, previous=tmp_path / "run", from_year=2020)
    problems = "\n".join(err.value.problems)
    assert f"row {started[0] + 2}, column year: 'abc' is not a whole number" in problems
    assert f"row {started[1] + 2}, column started: 'maybe' is neither True nor False" in problems
    assert problems.count(f"household {twice} appears more than once") == 2
    write_run(solve(sc.model_copy(update={"years": None}), small), tmp_path / "one")
    with pytest.raises(InputError, match="a one-year run"):
        solve_multiyear(sc, small, previous=tmp_path / "one", from_year=2020)


def test_an_infeasible_replan_names_the_years_short_and_what_it_keeps(small: Instance, tmp_path: Path) -> None:
    """Every fund cut to a fifth in every year, kept years included: the re-plan cannot pay the starts it keeps. The
    error names county, category and year short and says the kept starts are what must be paid, where it gave one
    generic sentence before; a first plan on the cut money is short of its hard floors alone."""
    from optimizer.errors import InfeasibleError

    sc = _scenario({"first": 2019, "last": 2020})
    _checked(sc, small).write(tmp_path / "run")
    poor = apply_data_edits(small, {f"funds.level.{level}": "x0.2" for level in ("central", "province", "city", "county")})
    with pytest.raises(InfeasibleError) as err:
        solve_multiyear(sc, poor, previous=tmp_path / "run", from_year=2020)
    msg = str(err.value)
    assert "hard floors, targets and kept starts" in msg and " in 2019 (target or kept start)" in msg
    assert "This re-plan from 2020 keeps" in msg and "change the money from 2020 on instead" in msg
    assert float(err.value.shortfalls["shortfall"].sum()) > 0
    with pytest.raises(InfeasibleError, match=r"cannot pay for the hard floors; ") as first:  # a first plan keeps nothing
        solve_multiyear(sc, poor)
    assert "kept" not in str(first.value)
    # what the years change (fuzzing pass 11: the same total money, appropriated earlier, paid every floor)
    assert "carry-over moves money to later years, never to earlier ones" in str(first.value)


def test_a_replan_may_not_go_back_before_its_previous_replan(small: Instance, tmp_path: Path) -> None:
    """A re-plan from 2020 keeps the starts of 2019 as done; a re-plan from 2019 of that re-plan would plan them
    again, and is refused as the nightly job refuses it (it was solved, and changed kept starts); from 2020 it runs."""
    from optimizer.errors import InputError

    sc = _scenario({"first": 2019, "last": 2020})
    _checked(sc, small).write(tmp_path / "first")
    _checked(sc, small, previous=tmp_path / "first", from_year=2020).write(tmp_path / "r2020")
    with pytest.raises(InputError, match=r"--from-year 2019 is before 2020, the year from which the previous run .*r2020 re-planned"):
        solve_multiyear(sc, small, previous=tmp_path / "r2020", from_year=2019)
    assert _checked(sc, small, previous=tmp_path / "r2020", from_year=2020).manifest["rolling"]["from_year"] == 2020


def test_a_multiyear_lp_stopped_at_the_time_limit_says_so_at_once(small: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """The LP relaxation stopped by the time limit: the solve stops there, naming the scenario's limit, where it
    fell back to the general solve with the whole limit again (twice the time asked for)."""
    import importlib
    from dataclasses import replace

    from optimizer.errors import NoSolutionError
    from optimizer.solvers import Status

    real = get_backend("highs")
    calls: list[bool] = []

    class LpStops:
        name = "highs"

        def version(self) -> str:
            return "its LPs stop at the time limit"

        def solve(self, model, options):  # type: ignore[no-untyped-def]
            calls.append(bool(model.integer.any()))
            out = real.solve(model, options)
            return out if model.integer.any() else replace(out, status=Status.TIME_LIMIT, x=None, message="Time limit reached")

    monkeypatch.setattr(importlib.import_module("optimizer.multiyear"), "get_backend", lambda name=None, private=False: LpStops())
    with pytest.raises(NoSolutionError, match=r"time limit of 120 s: the multi-year LP relaxation did not finish"):
        solve_multiyear(_scenario({"first": 2019, "last": 2020}), small, method="monolithic")
    assert calls == [False]


def test_the_verifier_checks_the_counties_and_spending_tables(small: Instance) -> None:
    """What planners read in counties.csv (expected poor by year, threshold, exit year) and spending.csv
    (appropriation, carry-in, carry-out) is recomputed; before, any value there verified."""
    from dataclasses import replace as copied

    sc = _scenario({"first": 2019, "last": 2020})
    r = _checked(sc, small)
    cases = [
        ("counties", "exit_year", 2019, "exit_year 2019 differs from"),
        ("counties", "poor_2020", 1.0, "poor_2020 1.0 differs from"),
        ("counties", "threshold", 0.5, "threshold 0.5 differs from"),
        ("spending", "appropriation", 1e9, "spending table's appropriation differs"),
        ("spending", "carry_out", 1e9, "spending table's carry-out exceeds"),
        ("spending", "carry_in", 5.0, "spending table's carry-in differs"),
        ("spending", "level_name", "province", "spending table's level differs from the level of the fund's holder"),  # fuzzing pass 13
    ]
    for table, col, value, said in cases:
        edited = r.tables[table].copy()
        edited.loc[edited.index[0], col] = value
        bad = verify_multiyear(copied(r, tables={**r.tables, table: edited}), small, sc)
        assert any(said in b for b in bad), (table, col, bad)


def test_a_replan_refuses_data_without_the_households_it_keeps(small: Instance, tmp_path: Path) -> None:
    """Two households started in 2019 are gone from the data of the re-plan from 2020: their 2019 money was spent,
    and the re-plan spent it again from 2020 on (full carry-over). Refused by name now."""
    from optimizer.errors import InputError

    sc = _scenario({"first": 2019, "last": 2020})
    first = _checked(sc, small)
    first.write(tmp_path / "run")
    hh = first.tables["households"]
    gone = sorted(hh.loc[hh["started"].astype(bool) & (hh["year"] == 2019), "household_id"].head(2))
    tables = generate(250, seed=11)
    tables["households"] = tables["households"][~tables["households"]["household_id"].isin(gone)]
    with pytest.raises(InputError, match=rf"started 2 household plans before 2020 that the data no longer holds \({gone[0]}, {gone[1]}\)"):
        solve_multiyear(sc, build_instance(tables), previous=tmp_path / "run", from_year=2020)


def test_a_replan_keeps_the_money_of_a_moved_household_and_of_a_measure_now_free(small: Instance, tmp_path: Path) -> None:
    """Two changes of the data between a run and its re-plan that verify refused (exit 5, "a bug"), fuzzing pass 13:
    a household whose start was kept moved to another village (its start's money stays where it was
    paid, and the verifier looked for it in the new village), and a kept start's measures that cost nothing today
    (the verifier lost what they were paid, the manifest's cost kept it)."""
    sc = _scenario({"first": 2019, "last": 2020})
    first = _checked(sc, small)
    first.write(tmp_path / "run")
    h1 = first.tables["households"]
    kept = h1[h1["started"].astype(bool) & (h1["year"] == 2019) & (h1["cost"] > 0)]
    tables = generate(250, seed=11)
    hh = tables["households"]
    mover = kept["household_id"].iat[0]
    home = hh.loc[hh["household_id"] == mover, "village_id"].iat[0]
    elsewhere = hh.loc[hh["village_id"] != home, "village_id"].iat[0]
    tables["households"] = hh.assign(village_id=np.where(hh["household_id"] == mover, elsewhere, hh["village_id"]))
    moved = build_instance(tables)
    again = _checked(sc, moved, previous=tmp_path / "run", from_year=2020)
    assert again.tables["households"].set_index("household_id").at[mover, "cost"] == pytest.approx(float(kept["cost"].iat[0]))
    # a kept start's one measure free today (others of its category are not, so its village's cells stay): it is
    # still charged what it was paid, in the cost and the kept year
    alone = kept[kept["measures"].isin(["employment", "tourism_job", "pv_dividend", "dibao", "medical"])]
    mover, free = alone["household_id"].iat[0], alone["measures"].iat[0]
    tables = generate(250, seed=11)
    at = tables["measures"]["measure_id"] == free
    tables["measures"] = tables["measures"].assign(cost_fixed=np.where(at, 0.0, tables["measures"]["cost_fixed"]),
                                                   cost_per_person=np.where(at, 0.0, tables["measures"]["cost_per_person"]))  # fmt: skip
    cheaper = build_instance(tables)
    again = _checked(sc, cheaper, previous=tmp_path / "run", from_year=2020)
    h2 = again.tables["households"].set_index("household_id")
    assert h2.at[mover, "cost"] == pytest.approx(float(alone["cost"].iat[0])) and h2.at[mover, "cost"] > 0


def test_a_replan_charges_kept_starts_what_they_were_paid(small: Instance, tmp_path: Path) -> None:
    """Medical twice as dear, every other measure 5% dearer and two kept households larger by two people: the re-plan
    from 2020 charges the starts of 2019 what the first run paid them, and each (village, category) of 2019 holds
    what the first run paid there, so 2019 spends what it spent, category by category (before, it re-priced them:
    more money spent in 2019, or an infeasible re-plan; then, charged their paid total at today's split over
    categories, a re-plan whose relative prices moved could still be short in a kept year). The result verifies; a
    kept row's cost raised by hand does not."""
    sc = _scenario({"first": 2019, "last": 2020})
    first = _checked(sc, small)
    first.write(tmp_path / "run")
    h1 = first.tables["households"]
    kept = h1[h1["started"].astype(bool) & (h1["year"] == 2019)]
    bigger = kept.sort_values("cost")["household_id"].head(2).tolist()
    tables = generate(250, seed=11)
    factor = np.where(tables["measures"]["measure_id"] == "medical", 2.0, 1.05)
    tables["measures"] = tables["measures"].assign(cost_fixed=lambda m: m["cost_fixed"] * factor, cost_per_person=lambda m: m["cost_per_person"] * factor)
    grown = tables["households"]["household_id"].isin(bigger)
    tables["households"] = tables["households"].assign(size=np.where(grown, tables["households"]["size"] + 2, tables["households"]["size"]))
    dearer = build_instance(tables)
    again = _checked(sc, dearer, previous=tmp_path / "run", from_year=2020)
    h2 = again.tables["households"].set_index("household_id")
    assert h2.loc[kept["household_id"], "cost"].to_numpy() == pytest.approx(kept["cost"].to_numpy())
    by_cell = [r.tables["flows"].query("year == 2019").groupby(["village_id", "category"])["amount"].sum() for r in (first, again)]
    pd.testing.assert_series_equal(by_cell[1], by_cell[0], atol=0.05)
    fresh = _checked(sc, dearer)  # today's prices, nothing kept: the same starts cost more
    h3 = fresh.tables["households"].set_index("household_id")
    same = h3.loc[kept["household_id"], "plan"].to_numpy() == kept["plan"].to_numpy()
    assert (h3.loc[kept["household_id"], "cost"].to_numpy()[same] > kept["cost"].to_numpy()[same]).all() and same.any()
    tampered = again.tables["households"].copy()
    row = tampered.index[tampered["household_id"] == bigger[0]][0]
    tampered.loc[row, "cost"] += 100.0
    bad = verify_multiyear(MultiYearResult(tables={**again.tables, "households": tampered}, manifest=again.manifest), dearer, sc)
    assert any(b.startswith("spending of a kept year not covered by the fund money of that year: 2019: ") for b in bad), bad
    # 500 yuan moved between two kept households of one village (its total unchanged), the file's hash made to match:
    # verify of the folder compares the kept rows with the previous run, which still holds what the re-plan read
    import json

    from optimizer.data import file_sha256
    from optimizer.errors import VerificationError

    write_tables(tables, tmp_path / "dearer")
    on_disk = _scenario({"first": 2019, "last": 2020}, data=str(tmp_path / "dearer"))
    _checked(on_disk, load_instance(tmp_path / "dearer"), previous=tmp_path / "run", from_year=2020).write(tmp_path / "again")
    verify_multiyear_run(tmp_path / "again")
    path = tmp_path / "again" / "households.csv"
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    pair = kept.groupby("village_id")["household_id"].agg(list).map(lambda ids: ids[:2])
    a_id, b_id = next(ids for ids in pair if len(ids) == 2)
    for hid, delta in ((a_id, 500.0), (b_id, -500.0)):
        rows.loc[rows["household_id"] == hid, "cost"] = str(float(rows.loc[rows["household_id"] == hid, "cost"].iloc[0]) + delta)
    rows.to_csv(path, index=False)
    manifest = json.loads((tmp_path / "again" / "manifest.json").read_text())
    manifest["output_hashes"]["households.csv"] = file_sha256(path)
    (tmp_path / "again" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(VerificationError, match=f"kept start re-priced: household {a_id} was paid"):
        verify_multiyear_run(tmp_path / "again")


def test_a_nights_kept_starts_carry_what_the_version_paid() -> None:
    """kept_of takes the published version's cost of a start and build before the current year, and gives a
    commitment of that same start the cost the version paid; a commitment of another plan has none (today's price)."""
    from optimizer.multiyear import kept_of

    published = pd.DataFrame({"household_id": ["H1", "H2", "H3"], "plan": ["a", "b", "c"], "year": [2019, 2019, 2020], "monitored": False,
                              "monitoring_years": 0, "cost": [100.0, 200.0, 300.0], "committed": False})  # fmt: skip
    built = pd.DataFrame({"project_id": ["P1", "P2"], "built_year": [2019, 2019], "cost": [5000.0, 7000.0]})
    commitments = pd.DataFrame({"kind": ["household", "household", "project"], "ref_id": ["H1", "H2", "P2"], "plan": ["a", "z", ""], "year": [2019, 2019, 2019],
                                "monitored": False, "monitoring_years": 0})  # fmt: skip
    kept = kept_of(published, built, commitments, 2020, 2019, "version 1")
    cost = kept.starts.set_index("household_id")["cost"]
    assert cost["H1"] == 100.0 and np.isnan(cost["H2"]) and "H3" not in cost.index
    assert kept.built.set_index("project_id")["cost"].to_dict() == {"P1": 5000.0, "P2": 7000.0}


def test_kept_starts_before_a_moved_first_year_are_refused_as_such(small: Instance, tmp_path: Path) -> None:
    """The re-plan's scenario now starts in 2020, after the kept starts of 2019: each is named with that reason (it
    read "its registry row, the measures or the years changed"), and the count is of all of them, not of the lines shown."""
    from optimizer.errors import InputError

    sc = _scenario({"first": 2019, "last": 2020})
    first = _checked(sc, small)
    first.write(tmp_path / "run")
    n = int((first.tables["households"]["year"] == 2019).sum())
    assert n > 21
    with pytest.raises(InputError) as err:
        solve_multiyear(_scenario({"first": 2020, "last": 2020}), small, previous=tmp_path / "run", from_year=2020)
    assert f"({n:,} problems)" in str(err.value) and err.value.problems[-1] == f"... and {n - 20} more"
    assert all(p.endswith("started in 2019 is not among its options (it lies before years.first (2020) of the scenario)") for p in err.value.problems[:20])


def test_a_misspelt_county_in_the_exit_schedule_is_a_warning_in_max_lifted_mode(small: Instance) -> None:
    """In max-lifted mode the schedule is only reported (a registry county whose households all exited keeps its
    entry), so an unknown id is not refused, but it no longer passes unnoticed; min-cost mode refuses it."""
    from optimizer.errors import InputError

    years = {"first": 2019, "last": 2020, "county_exit": {"P01C01X99": 2020}}
    said: list[str] = []
    _checked(_scenario(years), small, progress=said.append)
    assert "warning: years.county_exit names no county with poor households in the data: P01C01X99 (reported only)" in said
    with pytest.raises(InputError, match="unknown or non-poor county id.*P01C01X99"):
        solve_multiyear(_scenario(years, mode="min_cost", target={"county_incidence": 0.2}), small)


def test_carry_over_rules_are_strictly_ordered_and_the_cap_is_verified(small: Instance) -> None:
    """All money in the first year, relocation housing limited to 1% of a county's poor per year: households
    that wait for housing need money carried into later years. No carry-over < capped (20% of the first year's
    money into the second, nothing into the third) < full, each proven by an objective above the previous
    rule's bound; the full solution carries more than the cap, and the verifier rejects it under the capped rule."""
    years = {"first": 2018, "last": 2020, "shares": [1.0, 0.0, 0.0], "delay_by_batch": {}, "relocation_rate": 0.01, "carry_cap": 0.2}
    runs = {rule: _checked(_scenario({**years, "carry_over": rule}), small) for rule in ("none", "capped", "full")}
    assert runs["capped"].manifest["objective"] > runs["none"].manifest["bound"] + 1e-6
    assert runs["full"].manifest["objective"] > runs["capped"].manifest["bound"] + 1e-6
    sp = runs["full"].tables["spending"]
    assert (sp["carry_out"] > 0.2 * sp["appropriation"] + 1.0).any()
    capped = _scenario({**years, "carry_over": "capped"})
    bad = verify_multiyear(runs["full"], small, capped)
    assert bad[:-1] and all("overspent in" in b and "(appropriation plus carry-over)" in b for b in bad[:-1])
    assert bad[-1] == "spending table's carry-out exceeds what the year leaves or the carry-over rule (capped) allows"
    assert verify_multiyear(runs["full"], small, _scenario({**years, "carry_over": "full"})) == []


def _expected_poor(r: MultiYearResult, inst: Instance, sc: Scenario, year: int) -> pd.Series:
    """Expected poor households per county in ``year``, recomputed here from the household table: a started plan
    counts from its effect year with p_success, less the yearly return risk (higher for transfer-only plans);
    the empty plan counts with its p_success every year."""
    yrs = sc.years
    assert yrs is not None
    hh = r.tables["households"]
    m = inst.measures.set_index("measure_id")

    def transfer_only(label: str) -> bool:
        parts = [x for x in label.split("+") if x != "none" and m.loc[x, "income_uplift"] > 0]
        return bool(parts) and all(m.loc[x, "income_kind"] == "transfer" for x in parts)

    risk = np.where(hh["measures"].map(transfer_only), yrs.return_risk_transfer, yrs.return_risk_work)
    started, effect, p = hh["started"].to_numpy(dtype=bool), hh["effect_year"].to_numpy(), hh["p_success"].to_numpy()
    out = np.where(~started, p, np.where(effect <= year, p * (1.0 - risk) ** np.maximum(year - effect, 0), 0.0))
    tree = inst.tree
    county = tree.ids.to_numpy()[tree.ancestors[tree.pos(hh["village_id"]), Level.COUNTY]]
    return pd.Series(1.0 - out, index=county).groupby(level=0).sum()


def test_county_exit_schedule_holds_and_an_earlier_year_never_costs_less() -> None:
    """Min-cost mode: every county at or below 12% expected incidence at the deadline, county P01C01X02 from its
    year on. Checked on each solution with the probabilities recomputed here; moving P01C01X02's year from 2020
    to 2017 never lowers the cost (each cost is at least the previous one's proven lower bound, and the LP
    bounds never decrease), and here it rises every time; the verifier rejects the 2020 plan under the 2017 year."""
    inst = build_instance(generate(500, seed=2))
    counties = county_table(inst).set_index("county_id")
    costs, bounds, lp_bounds, runs = [], [], [], []
    for year in (2020, 2019, 2018, 2017):
        sc = _scenario(
            {"first": 2016, "last": 2020, "profile": "front_loaded", "relocation_rate": 0.05, "county_exit": {"P01C01X02": year}},
            mode="min_cost", target={"county_incidence": 0.12}, solver={"gap": 0.002, "time_limit": 60},
        )  # fmt: skip
        r = _checked(sc, inst)
        for y in range(2016, 2021):
            poor = _expected_poor(r, inst, sc, y).reindex(counties.index)
            due = pd.Series({"P01C01X01": 2020, "P01C01X02": year}).reindex(counties.index) <= y
            assert (poor[due] <= 0.12 * counties.loc[due, "rural"] + 1e-6).all(), (year, y)
        exits = r.tables["counties"].set_index("county_id")["exit_year"]
        assert 0 < exits["P01C01X02"] <= year and 0 < exits["P01C01X01"] <= 2020
        runs.append((r, sc))
        costs.append(r.manifest["objective"])
        bounds.append(r.manifest["bound"])
        lp_bounds.append(r.manifest["lp_bound"])
    for i in range(1, len(costs)):
        assert costs[i] >= bounds[i - 1] - 1e-6 and lp_bounds[i] >= lp_bounds[i - 1] - 1e-6
        assert costs[i] > costs[i - 1]
    # the plan made for 2020 does not get P01C01X02 out from 2017 on (the 2017 LP bound is above its cost)
    assert lp_bounds[-1] > costs[0]
    bad = verify_multiyear(runs[0][0], inst, runs[-1][1])
    assert bad and all(b.startswith("county P01C01X02 above its incidence threshold in 20") for b in bad)
    line = exit_schedule_line(exit_schedule(runs[-1][0]))
    assert line.startswith("county exit schedule of 2 counties: ") and "not by the deadline" not in line and "late" not in line, line


def test_the_exit_schedule_line_counts_years_and_names_a_few_counties_not_out() -> None:
    """A national run has thousands of counties: one progress line counts them by exit year and names at most ten
    of those not out by the deadline and of those late against their target."""
    schedule = pd.DataFrame(
        {"county_id": [f"C{i:02d}" for i in range(14)], "exit_year": [2018, 2018, 2019] + [0] * 11, "status": ["on time", "on time", "late"] + ["late"] * 11}
    )
    line = exit_schedule_line(schedule)
    assert line.startswith("county exit schedule of 14 counties: 2 in 2018, 1 in 2019; 11 not by the deadline (C03, C04,"), line
    assert "C12 and 1 more); 12 late against their target (C02," in line and "C13" not in line, line


# monitoring and re-support (years.monitoring): 150 households, 2018-2020, no delays, gap 0.5%
MON_YEARS = {"first": 2018, "last": 2020, "delay_by_batch": {}}
MON_SOLVER = {"time_limit": 60, "gap": 0.005}


@pytest.fixture(scope="module")
def mon_small() -> Instance:
    return build_instance(generate(150, seed=11))


@pytest.fixture(scope="module")
def mon_rich(mon_small: Instance) -> tuple[Instance, Scenario, MultiYearResult, MultiYearResult]:
    """Three times the guarantee money: solved without and with monitoring at 1,500 yuan a year (risk x0.3)."""
    rich = apply_data_edits(mon_small, {"funds.category.guarantee": "x3"})
    off = _checked(_scenario(MON_YEARS, solver=MON_SOLVER), rich)
    sc = _scenario({**MON_YEARS, "monitoring": {"cost": 1500, "risk_factor": 0.3}}, solver=MON_SOLVER)
    return rich, sc, off, _checked(sc, rich)


def test_monitoring_off_or_useless_leaves_the_optimum_unchanged(mon_small: Instance) -> None:
    off = _checked(_scenario(MON_YEARS, solver=MON_SOLVER), mon_small)
    assert not off.tables["households"]["monitored"].any() and off.manifest["monitoring_cost"] == 0
    for mon in ({"cost": 1e7, "risk_factor": 0.3}, {"cost": 0, "risk_factor": 1.0}):  # offered, never worth it / no effect
        on = _checked(_scenario({**MON_YEARS, "monitoring": mon}, solver=MON_SOLVER), mon_small)
        assert on.manifest["model"]["options"] > off.manifest["model"]["options"]
        gap = max(on.manifest["gap"], off.manifest["gap"], 1e-4)
        assert on.manifest["objective"] == pytest.approx(off.manifest["objective"], rel=2 * gap)
        assert on.manifest["bound"] >= off.manifest["objective"] - 1e-6 and off.manifest["bound"] >= on.manifest["objective"] - 1e-6


def test_monitoring_goes_to_transfer_exits_first_and_raises_the_deadline_count(
    mon_rich: tuple[Instance, Scenario, MultiYearResult, MultiYearResult],
) -> None:
    rich, sc, off, on = mon_rich
    hh = on.tables["households"]
    transfer = transfer_only(rich, hh["measures"])
    exits = hh["started"].to_numpy(dtype=bool) & (hh["effect_year"].to_numpy() < 2020)
    mon = hh["monitored"].to_numpy(dtype=bool)
    assert (mon <= exits).all() and mon.any()
    share_transfer = mon[exits & transfer].mean()
    share_work = mon[exits & ~transfer].mean() if (exits & ~transfer).any() else 0.0
    assert share_transfer > share_work
    assert (hh.loc[mon, "monitoring_cost"] == 1500 * (2020 - hh.loc[mon, "effect_year"])).all()
    assert on.manifest["expected_out_at_deadline"] > off.manifest["expected_out_at_deadline"] + 0.5
    g = on.tables["flows"]
    assert g.loc[g["category"] == "guarantee", "amount"].sum() >= hh["monitoring_cost"].sum() - 1.0


def test_verifier_catches_corrupted_monitoring(mon_rich: tuple[Instance, Scenario, MultiYearResult, MultiYearResult]) -> None:
    rich, sc, _, on = mon_rich
    hh = on.tables["households"]
    mon = np.flatnonzero(hh["monitored"].to_numpy(dtype=bool))
    never = np.flatnonzero(~hh["started"].to_numpy(dtype=bool))

    def corrupted(edit: Callable[[pd.DataFrame, pd.DataFrame], None]) -> list[str]:
        tables = {k: v.copy() for k, v in on.tables.items()}
        edit(tables["households"], tables["flows"])
        return verify_multiyear(MultiYearResult(tables=tables, manifest=on.manifest), rich, sc)

    def unflag(h: pd.DataFrame, f: pd.DataFrame) -> None:
        h.loc[mon[0], "monitored"] = False

    bad = corrupted(unflag)
    assert any("monitoring cost differs" in b for b in bad) and any("probability at the deadline" in b for b in bad)
    assert any("monitoring years given for a household that is not monitored" in b for b in bad)

    def longer(h: pd.DataFrame, f: pd.DataFrame) -> None:  # monitored before its plan took effect
        h.loc[mon[0], "monitoring_years"] = 2020 - h.loc[mon[0], "effect_year"] + 1

    assert any("in years before its effect" in b for b in corrupted(longer))

    def shorter(h: pd.DataFrame, f: pd.DataFrame) -> None:  # monitored from a year later: its first year's money is then unexplained
        h.loc[mon[0], "monitoring_years"] -= 1
        h.loc[mon[0], "monitoring_cost"] -= 1500.0

    if (hh.loc[mon, "monitoring_years"] > 1).iloc[0]:
        bad = corrupted(shorter)
        assert any("probability at the deadline" in b for b in bad) and any("spending not matched" in b for b in bad)
    if len(never):
        def flag_unstarted(h: pd.DataFrame, f: pd.DataFrame) -> None:
            h.loc[never[0], "monitored"] = True

        assert any("monitored without a plan" in b for b in corrupted(flag_unstarted))

    def unpaid(h: pd.DataFrame, f: pd.DataFrame) -> None:  # the last monitored year's money taken out of the flows
        row = h.iloc[mon[0]]
        cell = f.index[(f["village_id"] == row["village_id"]) & (f["category"] == "guarantee") & (f["year"] == 2020)]
        f.loc[cell[0], "amount"] -= 1500.0

    assert any("spending not matched" in b for b in corrupted(unpaid))
    assert verify_multiyear(on, rich, sc) == []


def test_rolling_horizon_decides_monitoring_of_the_years_ahead(
    mon_rich: tuple[Instance, Scenario, MultiYearResult, MultiYearResult], tmp_path: Path
) -> None:
    """A re-plan from 2020 (no delays): a start of 2018 has been at risk in 2019; monitored then, it stays monitored;
    not monitored then, it may be monitored from 2020 on (one year, at the reduced risk in that year only). A start
    of 2019, at risk from 2020 on, is monitored or not as the re-plan decides. Planned first without monitoring and
    re-planned with it, exits of both years take it up, each for 2020 only."""
    rich, sc, off, on = mon_rich
    for name, first in (("off", off), ("on", on)):
        first.write(tmp_path / name)
    from_on = _checked(sc, rich, previous=tmp_path / "on", from_year=2020)
    from_off = _checked(sc, rich, previous=tmp_path / "off", from_year=2020)
    h_on, h_off = on.tables["households"], off.tables["households"]
    early_on, early_off = (h_on["started"] & (h_on["year"] == 2018)).to_numpy(), (h_off["started"] & (h_off["year"] == 2018)).to_numpy()
    assert h_on.loc[early_on, "monitored"].any()
    again_on, again_off = from_on.tables["households"], from_off.tables["households"]
    assert (again_on.loc[early_on, ["plan", "year"]].to_numpy() == h_on.loc[early_on, ["plan", "year"]].to_numpy()).all()
    was = early_on & h_on["monitored"].to_numpy(dtype=bool)
    assert (again_on.loc[was, ["monitored", "monitoring_years"]].to_numpy() == h_on.loc[was, ["monitored", "monitoring_years"]].to_numpy()).all()
    assert (again_off.loc[early_off, ["plan", "year"]].to_numpy() == h_off.loc[early_off, ["plan", "year"]].to_numpy()).all()
    late = again_off[early_off & again_off["monitored"].to_numpy(dtype=bool)]
    assert len(late) and (late["monitoring_years"] == 1).all() and (late["monitoring_cost"] == 1500).all()
    # its chance at the deadline: a year at the full risk (2019), then one at the reduced risk (2020)
    risk = np.where(transfer_only(rich, late["measures"]), 0.06, 0.02)
    assert np.allclose(late["p_deadline"], late["p_success"] * (1 - risk) * (1 - 0.3 * risk))
    last = (h_off["started"] & (h_off["year"] == 2019)).to_numpy()
    assert (again_off.loc[last, ["plan", "year"]].to_numpy() == h_off.loc[last, ["plan", "year"]].to_numpy()).all()
    taken = again_off[last & again_off["monitored"].to_numpy(dtype=bool)]
    assert len(taken) and (taken["monitoring_years"] == 1).all() and (taken["monitoring_cost"] == 1500).all()
    assert from_off.manifest["objective"] > off.manifest["objective"]
    assert from_off.manifest["rolling"]["kept_households"] == int((h_off["started"] & (h_off["year"] < 2020)).sum())


def test_monitoring_taken_up_late_is_kept_by_the_next_replan(mon_small: Instance, tmp_path: Path) -> None:
    """2017-2020 without delays, the guarantee money tripled: planned without monitoring, re-planned from 2019 with it
    (starts of 2017 may then be monitored in 2019-2020 only, two of their three years at risk), then re-planned from
    2020 on that run: each start monitored from 2019 stays so, with its two years, its cost and its chance at the
    deadline; the model names such a variant by its first year."""
    from optimizer.multiyear import build_multiyear, multiyear_names, read_previous

    rich = apply_data_edits(mon_small, {"funds.category.guarantee": "x3"})
    years = {"first": 2017, "last": 2020, "delay_by_batch": {}}
    sc = _scenario({**years, "monitoring": {"cost": 1500, "risk_factor": 0.3}}, solver=MON_SOLVER)
    _checked(_scenario(years, solver=MON_SOLVER), rich).write(tmp_path / "plain")
    second = _checked(sc, rich, previous=tmp_path / "plain", from_year=2019)
    second.write(tmp_path / "second")
    h2 = second.tables["households"]
    late = (h2["year"] == 2017).to_numpy() & h2["started"].to_numpy(dtype=bool) & h2["monitored"].to_numpy(dtype=bool)
    assert late.any() and (h2.loc[late, "monitoring_years"] == 2).all() and (h2.loc[late, "monitoring_cost"] == 3000).all()
    risk = np.where(transfer_only(rich, h2.loc[late, "measures"]), 0.06, 0.02)
    assert np.allclose(h2.loc[late, "p_deadline"], h2.loc[late, "p_success"] * (1 - risk) * (1 - 0.3 * risk) ** 2)
    third = _checked(sc, rich, previous=tmp_path / "second", from_year=2020)
    h3 = third.tables["households"].set_index("household_id")
    kept = h2[late].set_index("household_id")
    cols = ["plan", "year", "monitored", "monitoring_years", "monitoring_cost", "p_deadline"]
    assert (h3.loc[kept.index, cols].to_numpy() == kept[cols].to_numpy()).all()
    kept_run = read_previous(tmp_path / "second", 2020)
    my = build_multiyear(rich, sc, kept=kept_run)
    names = multiyear_names(my, rich)[0]
    h = kept.index[0]
    assert f"x/{h}/{kept.loc[h, 'plan']}/2017/monitored-from-2019" in names and len(set(names)) == len(names)
    # monitoring dearer from the re-plan of 2020 on: each (village, category) of 2017-2019 holds what it was paid
    # there, 2019's year monitored at 1,500 included (it was charged at the new price: more money spent in 2019, or
    # an infeasible re-plan)
    dearer = _checked(sc.with_overrides({"years.monitoring.cost": 2500}), rich, previous=tmp_path / "second", from_year=2020)
    by_cell = [r.tables["flows"].query("year < 2020").groupby(["year", "village_id", "category"])["amount"].sum() for r in (second, dearer)]
    pd.testing.assert_series_equal(by_cell[1], by_cell[0], atol=0.05)


def test_what_a_years_section_asks_of_the_data_is_checked_before_any_model(small: Instance, tmp_path: Path) -> None:
    """Delays of unknown measures, exit years of unknown counties or outside the years and an exit schedule without
    its threshold are all reported at once, by solve_multiyear before any model is built and by `optimizer validate`
    (exit 2, naming the scenario file; it said "ok" while solve then refused). Unknown batch names and negative delays
    are refused by the schema (an unknown batch was silently ignored)."""
    from pydantic import ValidationError
    from typer.testing import CliRunner

    from optimizer.cli import app
    from optimizer.errors import InputError

    county = str(county_table(small)["county_id"].iloc[0])
    years = {"first": 2018, "last": 2020, "delay_by_measure": {"NOPE": 1}, "county_exit": {"NOWHERE": 2019, county: 2030}}
    sc = _scenario(years, mode="min_cost", target={"lifted": 10.0})
    with pytest.raises(InputError) as err:
        solve_multiyear(sc, small)
    assert err.value.problems == [
        "scenario years.delay_by_measure: unknown measure(s) NOPE",
        "scenario years.county_exit: unknown or non-poor county id(s) NOWHERE",
        "scenario years.county_exit needs target.county_incidence (the threshold to get below)",
        f"scenario years.county_exit.{county}: year 2030 outside 2018..2020",
    ]
    generate(250, seed=11, out=tmp_path / "d")
    (tmp_path / "s.yaml").write_text(f"name: s\ndata: {tmp_path / 'd'}\nyears: {{first: 2018, last: 2020, delay_by_measure: {{NOPE: 1}}}}\n")
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "s.yaml")])
    assert result.exit_code == 2 and "unknown measure(s) NOPE" in result.output and "s.yaml" in result.output, result.output
    for wrong in ({"delay_by_batch": {"educaton": 2}}, {"delay_by_measure": {"industry": -1}}):
        with pytest.raises(ValidationError):
            _scenario({"first": 2018, "last": 2020, **wrong})


@pytest.fixture(scope="module")
def mon_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, MultiYearResult]:
    """``mon_rich``'s monitored scenario solved from files by the command line's path: a run folder with its report."""
    root = tmp_path_factory.mktemp("mon_run")
    write_tables(generate(150, seed=11), root / "data")
    sc = _scenario({**MON_YEARS, "monitoring": {"cost": 1500, "risk_factor": 0.3}}, solver=MON_SOLVER, data=str(root / "data"),
                   data_edits={"funds.category.guarantee": "x3"})  # fmt: skip
    return root / "run", run_multiyear(sc, out=root / "run", progress=lambda _m: None)


def _forged(run: Path, to: Path, **edits: object) -> Path:
    """A copy of a run folder whose manifest.json alone is edited (its tables' sha256 still hold)."""
    import json
    import shutil

    shutil.copytree(run, to)
    manifest = json.loads((to / "manifest.json").read_text())
    (to / "manifest.json").write_text(json.dumps({**manifest, **edits}))
    return to


def test_verify_checks_the_multiyear_manifests_figures(mon_run: tuple[Path, MultiYearResult], tmp_path: Path) -> None:
    """A multi-year run folder whose manifest.json alone was edited (cost, bound, gap, households, years, monitoring)
    passed `optimizer verify` (fuzzing pass 11), and its report showed the false figures."""
    from optimizer.errors import VerificationError
    from optimizer.verify import verify_run

    run, r = mon_run
    man = r.manifest
    assert man["monitored"] > 0 and verify_run(run) is not None
    cases = [
        ({"cost": 1000.0}, "manifest: cost is 1000.0 but"),
        ({"bound": man["objective"] - 1.0}, "manifest: the bound"),
        ({"gap": -0.5}, "manifest: gap -0.5 is negative"),
        ({"gap": 0.0, "bound": man["objective"] * 1.2}, "manifest: gap 0 is below the"),
        ({"households": 10}, "manifest: households is 10 but 150.0 recomputed"),
        ({"years": [2018, 2019]}, "manifest: years [2018, 2019] are not the scenario's years.first..last [2018, 2020]"),
        ({"monitored": man["monitored"] + 1}, "manifest: monitored is"),
        ({"monitoring_cost": man["monitoring_cost"] + 1500.0}, "manifest: monitoring_cost is"),
        ({"objective": man["objective"] + 1.0, "bound": man["bound"] + 1.0}, "manifest: objective is"),
    ]
    for i, (edits, said) in enumerate(cases):
        with pytest.raises(VerificationError) as err:
            verify_run(_forged(run, tmp_path / str(i), **edits))
        assert any(v.startswith(said) for v in err.value.violations), (edits, err.value.violations)


def test_the_min_cost_objective_is_the_money_of_the_flows(mon_rich: tuple[Instance, Scenario, MultiYearResult, MultiYearResult]) -> None:
    """Min-cost mode: the manifest's objective is what the flows pay (the plans, projects and monitoring), its cost
    that too; a forged pair (objective and cost 1,000,000, bound below) verified before."""
    rich, _, off, _ = mon_rich
    target = round(0.8 * off.manifest["expected_out_at_deadline"], 1)
    sc = _scenario(MON_YEARS, solver=MON_SOLVER, mode="min_cost", target={"lifted": target})
    r = _checked(sc, rich)
    assert r.manifest["objective"] == pytest.approx(r.tables["flows"]["amount"].sum(), abs=1.0)
    assert r.manifest["objective"] == pytest.approx(r.manifest["cost"], abs=1.0)
    forged = MultiYearResult(tables=r.tables, manifest={**r.manifest, "objective": 1e6, "cost": 1e6, "bound": 0.99e6})
    bad = verify_multiyear(forged, rich, sc)
    assert any(b.startswith("manifest: objective is 1,000,000.000000 but") and b.endswith("recomputed from the flows") for b in bad), bad
    assert any(b.startswith("manifest: cost is 1000000.0 but") for b in bad), bad


def test_the_multiyear_verifier_checks_each_plan_and_flow_as_the_one_year_one_does(
    mon_rich: tuple[Instance, Scenario, MultiYearResult, MultiYearResult],
) -> None:
    """Earmarks, fund scope, eligibility, hard floors, project ties, p_success and each household's value were not
    checked by verify_multiyear (fuzzing pass 11): tables that broke them verified."""
    rich, sc, _, on = mon_rich
    hh, flows = on.tables["households"], on.tables["flows"]
    funds = rich.funds.set_index("fund_id")
    tree = rich.tree

    def corrupted(table: str, edit: Callable[[pd.DataFrame], None]) -> list[str]:
        tables = {k: v.copy() for k, v in on.tables.items()}
        edit(tables[table])
        return verify_multiyear(MultiYearResult(tables=tables, manifest=on.manifest), rich, sc)

    def said(bad: list[str], what: str) -> bool:
        return any(b.startswith(what) for b in bad)

    # a fund paying a category outside its earmarks
    narrow = np.flatnonzero(~funds["categories"].reindex(flows["fund_id"]).astype(str).str.contains("industry|\\*").to_numpy())
    assert said(corrupted("flows", lambda f: f.__setitem__("category", f["category"].where(f.index != narrow[0], "industry"))),
                "fund spends on a category outside its earmarks")  # fmt: skip
    # a fund without paired targets paying a village outside its region
    holder = tree.pos(funds["region_id"].reindex(flows["fund_id"]))
    unpaired = (funds["targets"].reindex(flows["fund_id"]).astype(str).str.strip() == "").to_numpy()
    outside = tree.ancestors[tree.villages][:, tree.level[holder]] != holder  # villages x flows
    row = np.flatnonzero(unpaired & outside.any(axis=0))[0]
    elsewhere = tree.ids[tree.villages[np.argmax(outside[:, row])]]
    bad = corrupted("flows", lambda f: f.__setitem__("village_id", f["village_id"].where(f.index != row, elsewhere)))
    assert said(bad, "fund spends outside its region or paired targets")
    # an ineligible measure, and a labourless household's living guarantee taken away (hard floors)
    labour = rich.households.set_index("household_id")["labour"].reindex(hh["household_id"]).to_numpy()
    guarantee = np.flatnonzero((labour == 0) & hh["measures"].str.contains("dibao").to_numpy())[0]
    bad = corrupted("households", lambda h: h.__setitem__("measures", h["measures"].where(h.index != guarantee, "employment")))
    assert said(bad, "measure employment given to ineligible households") and said(bad, "hard floor unmet: household without labour")
    # a plan tied to a project of another village (this instance's plans use none)
    other = rich.projects.loc[rich.projects["village_id"] != hh["village_id"].iat[0], "project_id"].iat[0]
    bad = corrupted("households", lambda h: h.__setitem__("project_id", h["project_id"].where(h.index != 0, other)))
    assert said(bad, "plan tied to a project in another village")
    # p_success raised with p_deadline to match; one household's value moved to another
    started = np.flatnonzero(hh["started"].to_numpy(dtype=bool) & (hh["p_deadline"] > 0).to_numpy())[0]

    def more_likely(h: pd.DataFrame) -> None:
        scale = 0.99 / h.loc[started, "p_success"]
        h.loc[started, ["p_success", "p_deadline"]] = [0.99, h.loc[started, "p_deadline"] * scale]

    assert said(corrupted("households", more_likely), "success probability differs from the recomputed one")

    def shifted(h: pd.DataFrame) -> None:
        h.loc[h.index[0], "value"] += 0.5
        h.loc[h.index[1], "value"] -= 0.5

    assert said(corrupted("households", shifted), "household value differs from its plan's at its start year")
    assert verify_multiyear(on, rich, sc) == []


def test_verify_names_a_damaged_cell_of_a_multiyear_run(mon_run: tuple[Path, MultiYearResult], tmp_path: Path) -> None:
    """A cell that is not of its column's kind ended `optimizer verify` with "unexpected error: ValueError" (exit 1):
    it is the changed file's violation, named by file, row and column."""
    import shutil

    from optimizer.errors import VerificationError
    from optimizer.verify import verify_run

    run, _ = mon_run
    for table, col, value, said in [("households", "p_success", "x", "is not a number"), ("flows", "year", "abc", "is not a whole number"),
                                    ("spending", "year", "x", "is not a whole number"), ("households", "started", "maybe", "is neither True nor False")]:  # fmt: skip
        to = tmp_path / f"{table}_{col}"
        shutil.copytree(run, to)
        frame = pd.read_csv(to / f"{table}.csv", dtype=str, keep_default_na=False)
        frame.loc[0, col] = value
        frame.to_csv(to / f"{table}.csv", index=False)
        with pytest.raises(VerificationError) as err:
            verify_run(to)
        assert err.value.violations == [
            f"{table}.csv: changed or damaged since the run wrote it (its sha256 differs from manifest.json's output_hashes)",
            f"{to / table}.csv, row 2, column {col}: {value!r} {said}",
        ]


def test_the_multiyear_manifest_and_report_name_the_solver(mon_run: tuple[Path, MultiYearResult]) -> None:
    """Every multi-year report.html showed "solver None": its manifest had only solver_version."""
    run, r = mon_run
    assert r.manifest["solver"] == "highs"
    assert "solver highs" in (run / "report.html").read_text()


def test_the_verifier_checks_the_start_years_max_start_years_offers(small: Instance) -> None:
    """With years.max_start_years 1 a plan is offered only in its first possible year: a household's start moved to
    a later year (its effect year with it) was verified before."""
    from dataclasses import replace as copied

    sc = _scenario({"first": 2019, "last": 2020, "delay_by_batch": {}, "max_start_years": 1}, floors={"mode": "soft"})
    r = _checked(sc, small)
    hh = r.tables["households"]
    movable = hh["started"].astype(bool) & (hh["project_id"].astype(str) == "") & (hh["year"] == 2019)
    assert movable.any()
    moved = hh.copy()
    moved.loc[movable, "year"] = 2020
    moved.loc[movable, "effect_year"] = moved.loc[movable, "effect_year"] + 1
    bad = verify_multiyear(copied(r, tables={**r.tables, "households": moved}), small, sc)
    assert any("plan started in a year years.max_start_years (1) does not offer" in b for b in bad), bad


def test_a_replan_keeps_its_plans_when_the_measures_rows_were_reordered(tmp_path: Path) -> None:
    """Plan labels name their measures in the catalogue's row order: a re-plan whose measures.csv lists the same
    measures in another order refused every kept multi-measure plan as "not among its options" (fuzzing pass 14
    #5). The kept plans are matched whatever the order, the re-plan verifies, and so does its run folder."""
    tables = generate(250, seed=11)
    write_tables(tables, tmp_path / "data")
    sc = _scenario({"first": 2019, "last": 2020}).with_overrides({"data": str(tmp_path / "data")})
    first = _checked(sc, load_instance(tmp_path / "data"))
    first.write(tmp_path / "run")
    h1 = first.tables["households"]
    kept = h1[h1["started"].astype(bool) & (h1["year"] == 2019)]
    assert kept["plan"].str.contains("+", regex=False).any()  # multi-measure plans among the kept: their labels change
    write_tables({**tables, "measures": tables["measures"].iloc[::-1].reset_index(drop=True)}, tmp_path / "reordered")
    sc2 = sc.with_overrides({"data": str(tmp_path / "reordered")})
    again = _checked(sc2, load_instance(tmp_path / "reordered"), previous=tmp_path / "run", from_year=2020)
    h2 = again.tables["households"].set_index("household_id").loc[kept["household_id"]]
    assert (h2["year"].to_numpy() == kept["year"].to_numpy()).all() and (h2["measures"] != kept["measures"].to_numpy()).any()
    again.write(tmp_path / "again")
    verify_multiyear_run(tmp_path / "again")


def test_a_replan_of_a_replan_keeps_the_starts_max_start_years_no_longer_offers(small: Instance, tmp_path: Path) -> None:
    """With years.max_start_years 1 a re-plan from 2019 starts in 2019 the plans whose only offered year is past
    (the rolling rule); re-planned again from 2020, those kept 2019 starts were refused as "not among its options"
    (fuzzing pass 18). A kept start is an option as its run offered it."""
    sc = _scenario({"first": 2018, "last": 2020, "delay_by_batch": {}, "max_start_years": 1}, floors={"mode": "soft"}, solver={"time_limit": 120, "gap": 0.005})
    first = _checked(sc, small)
    first.write(tmp_path / "first")
    second = _checked(sc, small, previous=tmp_path / "first", from_year=2019)
    hh = second.tables["households"]
    rolled = hh[hh["started"].astype(bool) & (hh["year"] == 2019) & (hh["project_id"].astype(str) == "")]
    assert len(rolled)  # starts in 2019 that max_start_years 1 offers only through the rolling rule
    second.write(tmp_path / "second")
    third = _checked(sc, small, previous=tmp_path / "second", from_year=2020)
    kept = third.tables["households"].set_index("household_id").loc[rolled["household_id"]]
    assert (kept["year"].to_numpy() == 2019).all() and (kept["plan"].to_numpy() == rolled["plan"].to_numpy()).all()
