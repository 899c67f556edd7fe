"""Helper assignment: one helper per household within reach and capacity, best skill match, shortages."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_instance, tiny_scenario
from optimizer.errors import VerificationError
from optimizer.helpers import CLOSENESS, SHORTAGE_COST, SKILL_WEIGHT, assign_helpers, household_needs
from optimizer.solve import solve
from optimizer.verify import verify

HELPERS = pd.DataFrame(
    [
        ("W1", "T1", "household_helper", 2, "health;social_work", "township", 0),
        ("W2", "X1", "household_helper", 2, "agriculture;education", "county", 0),
        ("W3", "P1", "household_helper", 1, "employment", "county", 0),
        ("W9", "E1", "household_helper", 3, "health", "county", 1),
        ("S1", "X1", "first_secretary", 1, "agriculture", "county", 0),
    ],
    columns=["helper_id", "home_region_id", "kind", "capacity", "skills", "reach", "paired"],
)


def _instance(helpers: pd.DataFrame = HELPERS) -> object:
    return tiny_instance(helpers=helpers)


def brute_force(instance, households: pd.DataFrame) -> int:  # type: ignore[no-untyped-def]
    """Best total score over every assignment of households to household helpers (or none), by enumeration."""
    need = household_needs(instance, households)
    helpers = instance.helpers[instance.helpers["kind"] == "household_helper"].reset_index(drop=True)
    tree = instance.tree
    level = {"township": 4, "county": 3}
    options = []
    for h, village in enumerate(households["village_id"]):
        vpos = int(tree.pos([village])[0])
        choices = [None]
        for j, w in helpers.iterrows():
            home = int(tree.pos([w["home_region_id"]])[0])
            if w["paired"]:
                ok = tree.ancestors[vpos, 3] == tree.pos(["X1"])[0]  # the paired fund F-E1 targets X1
            elif tree.level[home] >= level[w["reach"]]:
                ok = tree.ancestors[vpos, level[w["reach"]]] == tree.ancestors[home, level[w["reach"]]]
            else:
                ok = tree.ancestors[vpos, tree.level[home]] == home
            if ok:
                score = SKILL_WEIGHT * (need[h] in w["skills"].split(";")) + CLOSENESS.get(int(tree.level[home]), 1)
                choices.append((j, score))
        options.append(choices)
    best = -(10**9)
    for combo in itertools.product(*options):
        load = np.zeros(len(helpers), dtype=int)
        total = 0
        for c in combo:
            if c is None:
                total -= SHORTAGE_COST
            else:
                load[c[0]] += 1
                total += c[1]
        if (load <= helpers["capacity"].to_numpy()).all():
            best = max(best, total)
    return best


def test_assignment_matches_brute_force() -> None:
    inst = _instance()
    result = solve(tiny_scenario(), inst)
    verify(result)
    hh = result.households
    a = assign_helpers(inst, hh)
    ours = int(a.households["match_score"].sum()) - SHORTAGE_COST * int((a.households["helper_id"] == "").sum())
    assert ours == brute_force(inst, hh)
    assert (a.households["helper_id"] != "").all()  # 8 capacity for 5 households
    assert a.helpers.set_index("helper_id").loc["S1", "load"] == 1  # the only poor village... has its secretary


def test_capacity_and_reach_bind_and_shortage_is_reported() -> None:
    helpers = HELPERS.copy()
    helpers["capacity"] = [1, 1, 0, 0, 0]  # 2 slots for 5 households, no first secretary
    inst = _instance(helpers)
    result = solve(tiny_scenario(), inst)
    verify(result)
    hh = result.households
    assert (hh["helper_id"] != "").sum() == 2
    short = result.tables["shortage"]
    assert short.loc[short["skill"] != "first_secretary", "households"].sum() == 3
    assert short.loc[short["skill"] == "first_secretary", "households"].sum() == 1
    assert result.tables["dispatch"]["households"].sum() == 3 + 0  # households; secretaries are not dispatched
    assert set(result.tables["dispatch"]["relation"]) <= {"county", "city", "province", "paired", "elsewhere", "recruit"}


def test_dispatch_prefers_idle_helpers_nearby() -> None:
    # W1 (township T1) is full; W2 (county X1, agriculture only) idles; households needing agriculture get W2 first
    helpers = HELPERS.copy()
    helpers.loc[helpers["helper_id"] == "W2", "capacity"] = 5
    inst = _instance(helpers)
    result = solve(tiny_scenario(), inst)
    a = assign_helpers(inst, result.households)
    assert (a.households["helper_id"] != "").all()
    assert a.helpers.set_index("helper_id").loc["W2", "utilization"] <= 1


def test_verifier_catches_bad_helper_assignments() -> None:
    result = solve(tiny_scenario(), _instance())
    hh = result.tables["households"]
    bad = hh.copy()
    bad.loc[:, "helper_id"] = "W3"  # capacity 1, and W3 is not everyone's
    result.tables["households"] = bad
    with pytest.raises(VerificationError, match="over capacity"):
        verify(result)


def test_default_tiny_helpers_assign(tiny) -> None:  # type: ignore[no-untyped-def]
    result = solve(tiny_scenario(), tiny)
    verify(result)
    assert "helper_id" in result.households.columns


def test_helper_capacity_in_the_model_limits_skilled_plans(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Deciding plans and helpers together: never better than plans alone, every skilled plan has skilled
    capacity within reach (the model's rows), and the result still verifies."""
    from optimizer.generate import generate
    from optimizer.helpers import class_network, household_needs
    from optimizer.scenario import Scenario

    generate(1500, seed=12, out=tmp_path / "d")
    base = {"name": "j", "data": str(tmp_path / "d")}
    alone = solve(Scenario.model_validate(base))
    joint = solve(Scenario.model_validate({**base, "helpers": {"capacity_in_model": True}}))
    verify(joint)
    assert joint.manifest["objective"] <= alone.manifest["objective"] + 1e-6
    # independent check: a flow of skilled helpers covers every (township, skill) demand of the chosen plans
    inst = joint.instance
    hh = joint.households
    skilled = hh[hh["measures"] != "none"].reset_index(drop=True)
    town = inst.tree.ancestors[inst.tree.pos(skilled["village_id"]), 4]
    helpers = inst.helpers.reset_index(drop=True)
    net = class_network(inst, helpers, (helpers["kind"] == "household_helper").to_numpy(), town, household_needs(inst, skilled), use_skills=True)
    arcs = np.flatnonzero(net.has_skill)
    from optimizer.solvers.flow import solve_min_cost_flow

    nh, nd = len(net.hclass), len(net.dclass)
    tails = np.concatenate([net.h_idx[arcs], np.arange(nh)])
    heads = np.concatenate([nh + net.d_idx[arcs], np.full(nh, nh + nd)])
    caps = np.concatenate([net.count[net.d_idx[arcs]], net.cap])
    supplies = np.concatenate([net.cap, -net.count, [-(net.cap.sum() - net.count.sum())]])
    flow = solve_min_cost_flow(tails, heads, caps, np.concatenate([np.zeros(len(arcs)), np.ones(nh)]), supplies)
    served = np.bincount(net.d_idx[arcs], weights=flow[: len(arcs)], minlength=nd)
    assert (served >= net.count - 1e-9).all()
