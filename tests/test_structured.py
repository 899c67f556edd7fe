"""The exact structured LP (DESIGN §4) against HiGHS, brute force and the full model's LP bound."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.data import Instance, build_instance
from optimizer.errors import InfeasibleError
from optimizer.generate import generate, laminar_instance
from optimizer.model import MONEY_UNIT, build_model
from optimizer.plans import build_plans
from optimizer.scenario import Scenario
from optimizer.solve import solve
from optimizer.solvers import SolveOptions, get_backend
from optimizer.structured import (
    Laminar,
    block_relaxation,
    block_value_curves,
    concave_hulls,
    lagrangian_bound,
    laminar_model,
    laminar_relaxation,
    solve_laminar,
    structured_bound,
    value_curve,
)
from optimizer.verify import verify


def _instance(n: int, seed: int, provinces: int = 1) -> Instance:
    return build_instance({k: v.astype(str) for k, v in generate(n, seed=seed, provinces=provinces).items()}, source="test")


def _scenario(**sections: object) -> Scenario:
    return Scenario.model_validate({"name": "s", "data": "unused", "helpers": {"assign": False}, "solver": {"gap": 1e-4}, **sections})


def _highs_lp(problem: Laminar) -> float:
    out = get_backend("highs").solve(laminar_model(problem), SolveOptions(time_limit=120))
    assert out.status.value == "optimal"
    return out.objective


def _hull_by_hand(cost: np.ndarray, value: np.ndarray) -> list[int]:
    """Upper concave hull with free disposal, one household, the slow obvious way."""
    order = sorted(range(len(cost)), key=lambda i: (cost[i], -value[i], i))
    hull: list[int] = []
    for i in order:
        if hull and (cost[i] == cost[hull[-1]] or value[i] <= value[hull[-1]]):
            continue
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            if (value[b] - value[a]) / (cost[b] - cost[a]) <= (value[i] - value[b]) / (cost[i] - cost[b]):
                hull.pop()
            else:
                break
        hull.append(i)
    return hull


def test_concave_hulls_match_a_per_household_scan() -> None:
    rng = np.random.default_rng(4)
    n = 400
    counts = rng.integers(1, 8, size=n)
    hh = np.repeat(np.arange(n), counts)
    cost = rng.integers(0, 6, size=len(hh)).astype(float)  # many ties in cost
    value = np.round(rng.random(len(hh)), 1)  # and in value
    shuffle = rng.permutation(len(hh))  # plans in any order
    hull = concave_hulls(hh[shuffle], cost[shuffle], value[shuffle], n)
    for h in range(n):
        rows = shuffle[hull.vertex[hull.start[h] : hull.start[h + 1]]]
        mine = np.flatnonzero(hh == h)
        expected = mine[_hull_by_hand(cost[mine], value[mine])]
        assert list(zip(cost[rows], value[rows])) == list(zip(cost[expected], value[expected])), h


@pytest.mark.parametrize("seed", [1, 2])
def test_structured_lp_equals_highs_on_the_laminar_family(seed: int) -> None:
    problem = laminar_instance(3000, seed=seed)
    sol = solve_laminar(problem)
    assert sol.value == pytest.approx(_highs_lp(problem), rel=1e-6)
    x = sol.weights(len(problem.cost))
    assert x @ problem.value == pytest.approx(sol.value, rel=1e-12)
    assert np.bincount(problem.plan_hh, weights=x) == pytest.approx(np.ones(problem.n_households))
    # the shadow prices are an optimal dual: the Lagrangian bound at them equals the optimum
    assert lagrangian_bound(problem, sol.shadow_price) == pytest.approx(sol.value, rel=1e-9)
    # every budget respected, at most one fractional household per budget row
    assert (sol.spent <= problem.budget * (1 + 1e-12) + 1e-12).all()
    assert sol.fractional <= int((problem.budget > 0).sum())


def test_structured_lp_equals_highs_on_a_relaxed_generated_instance() -> None:
    inst = _instance(2500, seed=5, provinces=2)
    sc = _scenario()
    problem = laminar_relaxation(inst, sc, build_plans(inst, sc))
    sol = solve_laminar(problem)
    assert sol.value == pytest.approx(_highs_lp(problem), rel=1e-6)
    assert lagrangian_bound(problem, sol.shadow_price) == pytest.approx(sol.value, rel=1e-9)


@pytest.mark.parametrize(
    ("seed", "provinces", "sections"),
    [
        (2, 2, {}),
        (3, 1, {"floors": {"mode": "soft"}}),
        (4, 1, {"objective": {"weight": "persons"}, "equity": {"min_county_coverage": 0.5}, "helpers": {"capacity_in_model": True}}),
    ],
)
def test_structured_bound_is_above_the_full_lp_bound(seed: int, provinces: int, sections: dict[str, object]) -> None:
    inst = _instance(1500, seed=seed, provinces=provinces)
    sc = _scenario(**sections)
    plans = build_plans(inst, sc)
    model, _ = build_model(inst, sc, plans)
    lp = get_backend("highs").solve(model.relaxed(), SolveOptions(time_limit=120))
    assert lp.status.value == "optimal"
    assert structured_bound(inst, sc, plans) >= lp.objective * (1 - 1e-9)


def test_solve_records_the_structured_bound_above_its_lp_bound() -> None:
    # the default gap: the bounds' order needs no tight MIP (at 1e-4 the full MIP ran, 28 s of this test's 28.3)
    result = solve(_scenario(solver={"gap": 1e-3}), _instance(1200, seed=1))
    verify(result)
    m = result.manifest
    assert m["structured_bound"] >= m["lp_bound"] * (1 - 1e-9)
    assert m["lp_bound"] >= m["objective"] - 1e-6


def test_structured_bound_is_none_in_min_cost_mode(tiny: Instance) -> None:
    sc = Scenario.model_validate({"name": "t", "data": "u", "mode": "min_cost", "target": {"lifted": 1.0}, "helpers": {"assign": False}})
    assert solve(sc, tiny).manifest["structured_bound"] is None


def test_value_curve_is_the_block_lp_with_extra_money() -> None:
    inst = _instance(3000, seed=6)
    sc = _scenario()
    plans = build_plans(inst, sc)
    tree = inst.tree
    county = str(tree.ids[np.flatnonzero(tree.level == 3)[0]])
    curve = value_curve(inst, sc, plans, county)
    assert np.all(np.diff(curve.money) > 0)
    assert curve.slope(curve.min_money) == pytest.approx((curve.value[1] - curve.value[0]) / (curve.money[1] - curve.money[0]) * MONEY_UNIT)
    assert curve.slope(curve.money[-1] + 1.0) == 0.0
    slopes = np.diff(curve.value) / np.diff(curve.money)
    assert np.all(np.diff(slopes) <= 1e-12)  # concave
    block = block_relaxation(inst, sc, plans, county)
    pos = int(tree.pos([county])[0])
    for extra in (curve.min_money, curve.min_money + 1e5, curve.min_money + 2e6, curve.money[-1] + 1e6):
        budget = block.budget.copy()
        budget[pos] += extra / MONEY_UNIT
        expected = solve_laminar(Laminar(block.plan_hh, block.cost, block.value, block.hh_node, block.ancestors, budget)).value
        assert float(curve(extra)) == pytest.approx(expected, rel=1e-9)
    if curve.min_money > 0:
        assert float(curve(0.0)) == -np.inf
    # all blocks at once give the same curves
    every = block_value_curves(inst, sc, plans)
    assert set(every["region_id"]) == set(tree.ids[np.flatnonzero(tree.level == 3)])
    for region in (county, str(every["region_id"].iloc[-1])):
        one = value_curve(inst, sc, plans, region)
        rows = every[every["region_id"] == region]
        assert rows["money"].to_numpy() == pytest.approx(one.money, rel=1e-12, abs=1e-6)
        assert rows["value"].to_numpy() == pytest.approx(one.value, rel=1e-12)


def test_infeasible_when_the_root_cannot_pay_the_cheapest_plans() -> None:
    problem = laminar_instance(500, seed=3)
    problem = Laminar(problem.plan_hh, problem.cost + 1.0, problem.value, problem.hh_node, problem.ancestors, problem.budget * 0.0)
    with pytest.raises(InfeasibleError):
        solve_laminar(problem)


def test_structured_bound_of_the_tiny_instance_bounds_its_optimum(tiny: Instance) -> None:
    sc = _scenario(plans={"max_per_household": 4})
    result = solve(sc, tiny)
    assert structured_bound(tiny, sc, build_plans(tiny, sc)) >= result.manifest["lp_bound"] - 1e-9
