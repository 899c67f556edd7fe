"""The allocation model on hand-made tiny instances, checked against brute-force enumeration."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from conftest import tiny_instance, tiny_scenario, tiny_tables
from optimizer.data import Instance, build_instance
from optimizer.errors import InfeasibleError
from optimizer.generate import generate
from optimizer.model import ChurnCap, build_model
from optimizer.plans import build_plans
from optimizer.scenario import Scenario
from optimizer.solve import solve
from optimizer.verify import verify

BACKENDS = ["highs", "pulp", "ortools"]


def brute_force(instance: Instance, scenario: Scenario) -> float:
    """Best objective over every combination of plans and project builds; flows checked by scipy's linprog."""
    plans = build_plans(instance, scenario)
    _, index = build_model(instance, scenario, plans)
    table = plans.table
    options = [np.flatnonzero(table["hh"].to_numpy() == h) for h in range(instance.n_households)]
    flows = index.flows
    funds = instance.funds.reset_index(drop=True)
    cells = index.cells[["village_id", "category"]]
    cell_pos = {(v, c): i for i, (v, c) in enumerate(zip(cells["village_id"], cells["category"]))}
    cc = plans.category_cost.toarray()
    cats = list(pd.Index(["industry", "relocation", "ecological", "education", "guarantee", "infrastructure", "housing"]))
    projects = instance.projects.reset_index(drop=True)
    n_f = len(flows)
    # rows: balance per cell (equality), fund budget (<=), co-financing (<=)
    a_eq = np.zeros((len(cells), n_f))
    a_eq[flows["cell"].to_numpy(), np.arange(n_f)] = 1.0
    fund_of = pd.Index(funds["fund_id"]).get_indexer(flows["fund_id"])
    a_ub = [np.eye(len(funds))[fund_of].T]
    b_ub = [funds["amount"].to_numpy(dtype=float)]
    share = funds["co_financing"].to_numpy(dtype=float)[fund_of]
    for i in np.flatnonzero(share > 0):
        row = np.where(flows["cell"].to_numpy() == flows["cell"].iat[i], -(1 - share[i]), 0.0)
        row[i] += 1.0
        a_ub.append(row[None, :])
        b_ub.append(np.zeros(1))
    A_ub, B_ub = np.vstack(a_ub), np.concatenate(b_ub)
    best = -np.inf if scenario.mode == "max_lifted" else np.inf
    for builds in itertools.product([0, 1], repeat=len(projects)):
        for combo in itertools.product(*options):
            chosen = table.iloc[list(combo)]
            proj = chosen["project"].to_numpy()
            if any(builds[j] == 0 for j in proj[proj >= 0]):
                continue
            load = np.bincount(proj[proj >= 0], minlength=len(projects))
            if (load > projects["capacity"].to_numpy(dtype=float)).any():
                continue
            need = np.zeros(len(cells))
            for k in combo:
                v = instance.households["village_id"].iat[table["hh"].iat[k]]
                for c in np.flatnonzero(cc[k]):
                    need[cell_pos[(v, cats[c])]] += cc[k, c]
            for j, b in enumerate(builds):
                if b:
                    need[cell_pos[(projects["village_id"].iat[j], projects["category"].iat[j])]] += projects["cost"].astype(float).iat[j]
            p = chosen["p"].sum()
            if scenario.mode == "min_cost":
                if scenario.target.lifted is not None and p < scenario.target.lifted - 1e-9:
                    continue
                value = need.sum()
                if value >= best:
                    continue
            else:
                value = chosen["value"].sum()
                if value <= best:
                    continue
            res = linprog(np.zeros(n_f), A_ub=A_ub, b_ub=B_ub, A_eq=a_eq, b_eq=need, bounds=(0, None), method="highs")
            if res.status == 0:
                best = value
    return float(best)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tiny_optimum_matches_brute_force(backend: str) -> None:
    inst = tiny_instance()
    sc = tiny_scenario(solver={"name": backend, "gap": 1e-6})
    result = solve(sc, inst)
    verify(result)
    assert result.manifest["objective"] == pytest.approx(brute_force(inst, sc), abs=1e-6)
    assert result.manifest["status"] in ("optimal", "feasible")
    assert result.manifest["bound"] >= result.manifest["objective"] - 1e-9


@pytest.mark.parametrize("backend", BACKENDS)
def test_min_cost_matches_brute_force(backend: str) -> None:
    inst = tiny_instance()
    sc = tiny_scenario(mode="min_cost", target={"lifted": 3.0}, solver={"name": backend, "gap": 1e-6})
    said: list[str] = []
    result = solve(sc, inst, progress=said.append)
    verify(result)
    assert result.households["p_success"].sum() >= 3.0 - 1e-9
    assert result.manifest["objective"] == pytest.approx(brute_force(inst, sc), rel=1e-6)
    if backend == "highs":  # the progress line's LP bound is in yuan, as the objective (it was in 10,000 yuan: fuzzing)
        bound = float(next(m for m in said if m.startswith("LP bound")).split()[2].replace(",", ""))
        assert bound == pytest.approx(result.manifest["lp_bound"], rel=1e-6) and bound > 1000


def _with_funds(**amounts: float) -> Instance:
    t = tiny_tables()
    funds = t["funds"].copy()
    for fid, amount in amounts.items():
        funds.loc[funds["fund_id"] == fid.replace("_", "-"), "amount"] = str(amount)
    return tiny_instance(funds=funds)


@pytest.mark.parametrize("fund", ["F_CN", "F_P1", "F_C1", "F_X1", "F_T1", "F_V1"])
def test_tightening_one_level_lowers_the_optimum(fund: str) -> None:
    """Each of the six levels binds: cutting only that level's fund lowers the optimum, and it still verifies."""
    sc = tiny_scenario()
    base = solve(sc, tiny_instance())
    cut = solve(sc, _with_funds(**{fund: 0.0}))
    verify(cut)
    assert cut.manifest["objective"] < base.manifest["objective"] - 1e-6
    spent = cut.funds.set_index("fund_id").loc[fund.replace("_", "-"), "spent"]
    assert spent == 0


def test_earmarks_are_respected() -> None:
    result = solve(tiny_scenario(), tiny_instance())
    flows = result.tables["flows"]
    cn = flows[flows["fund_id"] == "F-CN"]
    assert set(cn["category"]) <= {"industry", "guarantee"}
    c1 = flows[flows["fund_id"] == "F-C1"]
    assert set(c1["category"]) <= {"education", "guarantee"}


def test_paired_fund_only_reaches_its_targets() -> None:
    # the eastern partner E1 holds money but may only spend it under its target county X1
    t = tiny_tables()
    funds = t["funds"].copy()
    funds.loc[funds["fund_id"] == "F-E1", "targets"] = "V2"
    funds.loc[funds["fund_id"] == "F-E1", "categories"] = "any"
    result = solve(tiny_scenario(), tiny_instance(funds=funds))
    verify(result)
    e1 = result.tables["flows"].query("fund_id == 'F-E1'")
    assert set(e1["village_id"]) <= {"V2"}
    # without its target list the fund could reach nothing (E1 has no villages)
    funds.loc[funds["fund_id"] == "F-E1", "targets"] = ""
    alone = solve(tiny_scenario(), tiny_instance(funds=funds))
    assert alone.funds.set_index("fund_id").loc["F-E1", "spent"] == 0
    assert alone.manifest["objective"] <= result.manifest["objective"] + 1e-9


def test_co_financing_caps_the_share_of_a_fund() -> None:
    result = solve(tiny_scenario(), tiny_instance())
    flows = result.tables["flows"]
    cell = flows.groupby(["village_id", "category"])["amount"].transform("sum")
    cn = flows["fund_id"] == "F-CN"
    assert (flows.loc[cn, "amount"] <= 0.8 * cell[cn] + 1e-6).all()
    # dropping co-financing can only help
    t = tiny_tables()
    funds = t["funds"].copy()
    funds["co_financing"] = "0"
    free = solve(tiny_scenario(), tiny_instance(funds=funds))
    assert free.manifest["objective"] >= result.manifest["objective"] - 1e-9


def test_project_enables_its_measure_and_is_paid_for() -> None:
    t = tiny_tables()
    funds = t["funds"].copy()
    funds["amount"] = "100000"
    result = solve(tiny_scenario(), tiny_instance(funds=funds))
    verify(result)
    hh = result.households.set_index("household_id")
    users = hh[hh["measures"].str.contains("tourism_job")]
    built = result.tables["projects"].set_index("project_id").loc["J1", "built"]
    assert len(users) <= 1  # capacity 1
    if len(users):
        assert built and (users["project_id"] == "J1").all()
    # without the project the measure is never offered
    plans = build_plans(tiny_instance(projects=t["projects"].iloc[0:0]), tiny_scenario())
    assert not plans.table["measures"].str.contains("tourism_job").any()


def test_hard_floors_give_guarantee_education_and_housing() -> None:
    result = solve(tiny_scenario(), tiny_instance())
    hh = result.households.set_index("household_id")
    assert "dibao" in hh.loc["H2", "measures"]  # no labour: living guarantee
    assert "education" in hh.loc["H1", "measures"]  # school child


def test_soft_floors_trade_off_with_penalty() -> None:
    t = tiny_tables()
    funds = t["funds"].copy()
    funds["amount"] = (funds["amount"].astype(float) * 0.2).astype(str)
    inst = tiny_instance(funds=funds)
    with pytest.raises(InfeasibleError) as err:
        solve(tiny_scenario(), inst)
    assert "yuan" in str(err.value) and "X1" in str(err.value)
    soft = solve(tiny_scenario(floors={"mode": "soft", "penalty": 0.5}), inst)
    verify(soft)


def test_infeasible_diagnosis_names_region_floor_and_shortfall() -> None:
    t = tiny_tables()
    funds = t["funds"].copy()
    funds["amount"] = "0"
    with pytest.raises(InfeasibleError) as err:
        solve(tiny_scenario(), tiny_instance(funds=funds))
    msg = str(err.value)
    assert "X1" in msg and "labourless_guarantee" in msg and "school_education" in msg
    short = err.value.shortfalls
    assert short is not None and short["shortfall"].sum() > 0


def test_infeasible_with_unlimited_money_and_no_target_names_the_floors_and_coverage() -> None:
    """A max_lifted scenario sets no target, yet its infeasibility with unlimited money blamed "the targets"
    (fuzzing pass 10): it names the floors and the equity coverage, and the limits in their way."""
    with pytest.raises(InfeasibleError, match=r"the hard floors or equity.min_county_coverage need plans that other limits") as err:
        solve(tiny_scenario(equity={"min_county_coverage": 1.0, "max_cost_per_household": 1.0}, floors={"mode": "soft"}), tiny_instance())
    assert "target" not in str(err.value)


def test_verifier_catches_corrupted_solutions() -> None:
    from optimizer.errors import VerificationError

    result = solve(tiny_scenario(), tiny_instance())
    for corrupt in (
        lambda r: r.tables["flows"].loc.__setitem__((0, "amount"), r.tables["flows"]["amount"].iat[0] + 1000),
        lambda r: r.tables["households"].loc.__setitem__((1, "measures"), "industry"),
        lambda r: r.tables["households"].loc.__setitem__((0, "p_success"), 0.99),
        lambda r: r.tables.__setitem__("households", r.tables["households"].iloc[1:]),
    ):
        bad = type(result)(tables={k: v.copy() for k, v in result.tables.items()}, manifest=dict(result.manifest), instance=result.instance, scenario=result.scenario)
        corrupt(bad)
        with pytest.raises(VerificationError):
            verify(bad)


def test_verifier_catches_money_spent_outside_a_fund_scope() -> None:
    from optimizer.errors import VerificationError

    result = solve(tiny_scenario(), tiny_instance())
    flows = result.tables["flows"]
    row = flows.index[flows["fund_id"] == "F-V1"][0]
    flows.loc[row, "village_id"] = "V2"  # a village fund paying in another village
    with pytest.raises(VerificationError, match="outside its region"):
        verify(result)


def _eligibility_raised(inst: Instance) -> Instance:
    rules = inst.eligibility.copy()
    rules.loc[rules["measure_id"] == "medical", "value"] = 5.0  # H2 and H4 have one chronic illness
    return replace(inst, eligibility=rules)


def _funds_changed(inst: Instance, fund: str, column: str, value: object) -> Instance:
    funds = inst.funds.copy()
    funds.loc[funds["fund_id"] == fund, column] = value
    return replace(inst, funds=funds)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda r, i: (r.tables["households"].loc.__setitem__((4, "measures"), "ranger+nosuch"), i)[1], "unknown measure in a plan: nosuch$"),
        (lambda r, i: _eligibility_raised(i), r"measure medical given to ineligible households \(chronic_illness >= 5.0\): H2, H4$"),
        (lambda r, i: _funds_changed(i, "F-E1", "categories", "education"), "fund spends on a category outside its earmarks: F-E1:industry$"),
        (lambda r, i: _funds_changed(i, "F-T1", "co_financing", 0.75), "co-financing share exceeded: F-T1->V1$"),  # 3,000 of 10,500
    ],
    ids=["unknown measure", "ineligible", "earmark", "co-financing"],
)
def test_the_verifier_names_each_offender(corrupt, message: str) -> None:  # type: ignore[no-untyped-def]
    """Each check names what breaks it (a household, a measure, a fund and its village or category), and only that."""
    from optimizer.errors import VerificationError

    result = solve(tiny_scenario(), tiny_instance())
    verify(result)
    instance = corrupt(result, result.instance)
    with pytest.raises(VerificationError) as err:
        verify(result, instance)
    assert any(re.search(message, v) for v in err.value.violations), err.value.violations


def test_instance_without_projects_solves_and_verifies() -> None:
    """Found by random instances: build_result indexed the empty project list (IndexError)."""
    t = tiny_tables()
    no_projects = t["projects"].iloc[0:0]
    measures = t["measures"][t["measures"]["measure_id"] != "tourism_job"]  # it needs a project
    result = solve(tiny_scenario(), tiny_instance(projects=no_projects, measures=measures))
    verify(result)
    assert (result.households["project_id"] == "").all() and len(result.tables["projects"]) == 0


@pytest.mark.parametrize("values", ["solved", "ties", "some missing"])
def test_the_marginal_table_names_each_regions_best_cell(values: str) -> None:
    """Per region and level, the (village, category) cell of highest value below it, ties to the smallest village id
    then to the first cell, a missing value last; regions in order, level by level."""
    from optimizer.result import PER_10K, marginal_table

    instance = build_instance(generate(400, seed=11))
    scenario = Scenario(name="m", data="unused")
    model, index = build_model(instance, scenario, build_plans(instance, scenario))
    rng = np.random.default_rng(3)
    value = {"solved": rng.random(len(index.cells)), "ties": np.round(rng.random(len(index.cells)), 1)}.get(values)
    if value is None:
        value = np.where(rng.random(len(index.cells)) < 0.3, np.nan, rng.random(len(index.cells)))
    table = marginal_table(instance, index, value * PER_10K)
    tree = instance.tree
    cells = index.cells.assign(value=value * PER_10K)
    for level in range(6):
        cells["region"] = tree.ancestors[cells["village"].to_numpy(), level]
        ranked = cells.sort_values(["region", "value", "village_id"], ascending=[True, False, True], kind="stable", na_position="last")
        best = ranked.drop_duplicates("region")
        mine = table[table["level"] == level]
        assert list(mine["region_id"]) == list(tree.ids.to_numpy()[best["region"].to_numpy()])
        assert list(mine["best_village"]) == list(best["village_id"]) and list(mine["best_category"]) == list(best["category"])
        np.testing.assert_array_equal(mine["value_per_10k"].to_numpy(), best["value"].to_numpy().round(6))


def test_verifier_accepts_a_solution_that_spends_nothing() -> None:
    """Found by the property tests: with no measure given and no money flowing, the verifier crashed on empty
    arrays. A min-cost target that the households already meet, with soft floors, spends nothing."""
    result = solve(tiny_scenario(mode="min_cost", target={"county_incidence": 0.9}, floors={"mode": "soft"}), tiny_instance())
    assert (result.households["measures"] == "none").all() and result.tables["flows"].empty
    verify(result)


def test_kept_plans_are_undominated_and_do_not_depend_on_the_pruning_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """No kept plan of a household is dominated by another of its plans without a project (no more in any
    category, as much value and probability, better somewhere), and the blocks the pruning works in change nothing."""
    import optimizer.plans as plans_module
    from optimizer.data import build_instance, equal_pairs
    from optimizer.generate import generate

    instance = build_instance(generate(1500, seed=21))
    scenario = Scenario(name="t", data=".").with_overrides({"plans.max_per_household": 20})
    plans = build_plans(instance, scenario)
    table = plans.table
    own = np.flatnonzero(table["project"].to_numpy() < 0)
    hh = table["hh"].to_numpy()[own]
    cc = plans.category_cost[own].toarray()
    v, p = table["value"].to_numpy()[own], table["p"].to_numpy()[own]
    a, b = equal_pairs(hh, hh)  # every pair of plans of one household
    a, b = a[a != b], b[a != b]
    dominated = (cc[a] <= cc[b] + 1e-9).all(axis=1) & (v[a] >= v[b] - 1e-12) & (p[a] >= p[b] - 1e-12)
    dominated &= (v[a] > v[b] + 1e-12) | (cc[a].sum(axis=1) < cc[b].sum(axis=1) - 1e-9)
    assert len(a) > 1000 and not dominated.any()

    prune = plans_module._prune
    for chunk in (7, 100_000):
        monkeypatch.setattr(plans_module, "_prune", lambda *args, chunk=chunk: prune(*args, chunk=chunk))
        assert build_plans(instance, scenario).table.equals(table)


def test_a_churn_cap_holds_on_data_without_projects() -> None:
    """The churn cap matches the published plans by their labels; with no village project at all the labels
    indexed the empty project table (the same failure as the multi-year result's). A second solve with more money
    may change at most 3 of the first solve's plans."""
    tables = generate(200, seed=6)
    tables["projects"] = tables["projects"].iloc[:0]
    inst = build_instance(tables)
    sc = tiny_scenario(helpers={"assign": False}, solver={"time_limit": 60, "gap": 1e-4})
    first = solve(sc, inst)
    verify(first)
    previous = first.tables["households"][["household_id", "plan"]]
    assert not previous["plan"].str.contains("@").any()
    richer = inst.replace(funds=inst.funds.assign(amount=inst.funds["amount"] * 1.5))
    free = solve(sc, richer)
    capped = solve(sc, richer, churn=ChurnCap(previous, 3))
    verify(capped)
    changed = previous.merge(capped.tables["households"][["household_id", "plan"]], on="household_id", suffixes=("", "_now"))
    assert 0 < (changed["plan"] != changed["plan_now"]).sum() <= 3
    assert capped.manifest["objective"] <= free.manifest["objective"] + 1e-6


def test_projects_in_villages_without_households_leave_the_plans_as_they_are() -> None:
    """Found by fuzzing (pass 15): with projects, but none in a village with a household (a county down to its last
    few households), the empty table of project plans turned the plan table's columns to text and building the
    plans failed (IndexError: a by-county night failed its county, exit 4; one model, exit 1). The plans are those
    of the data without those projects."""
    tables = generate(300, seed=6)
    tables["households"] = tables["households"][~tables["households"]["village_id"].isin(tables["projects"]["village_id"])]
    assert len(tables["households"]) and len(tables["projects"])
    inst = build_instance(tables)
    sc = tiny_scenario(helpers={"assign": False})
    plans = build_plans(inst, sc)
    assert (plans.table["project"] == -1).all() and plans.table["template"].dtype.kind == "i"
    result = solve(sc, inst)
    verify(result)
    alone = solve(sc, inst.replace(projects=inst.projects.iloc[:0]))
    assert result.manifest["objective"] == pytest.approx(alone.manifest["objective"], rel=1e-9)
