"""Decomposition by county on a Dask LocalCluster: the assembled national solution verifies and matches the
monolithic optimum within the gap; the blocks partition the instance."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer import load_instance, solve, verify
from optimizer.decompose import EMERGENCY, split_by_county
from optimizer.errors import InputError
from optimizer.generate import generate
from optimizer.scenario import Scenario


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("dec") / "data"
    generate(3000, seed=5, out=folder)
    return load_instance(folder)


def test_blocks_partition_households_and_share_upper_funds(instance) -> None:  # type: ignore[no-untyped-def]
    blocks = split_by_county(instance)
    assert len(blocks.counties) >= 3
    ids = np.concatenate([b.households["household_id"].to_numpy() for b in blocks.instances])
    assert sorted(ids) == sorted(instance.households["household_id"])
    # every upper fund reaches some county, and every block holds a copy of each fund that reaches it
    assert (blocks.pairs.groupby("fund_id")["county"].nunique() >= 1).all()
    for county, block in zip(blocks.counties, blocks.instances):
        held = set(block.funds["fund_id"])
        assert set(blocks.pairs.loc[blocks.pairs["county"] == county, "fund_id"]) <= held
        assert EMERGENCY in held
    local = set(instance.funds["fund_id"]) - set(blocks.upper["fund_id"])
    assert local == set().union(*[set(b.funds["fund_id"]) for b in blocks.instances]) - set(blocks.upper["fund_id"]) - {EMERGENCY}


def test_decomposed_matches_monolithic_within_the_gap(instance) -> None:  # type: ignore[no-untyped-def]
    scenario = Scenario(name="dec", data="unused")
    mono = solve(scenario, instance, method="monolithic")
    dec = solve(scenario, instance, method="decomposed", workers=2)
    verify(dec)
    gap = scenario.solver.gap
    assert dec.manifest["method"] == "decomposed" and dec.manifest["decomposition"]["rounds"] >= 1
    assert dec.manifest["gap"] <= gap + 1e-9
    # the decomposed bound is a valid bound of the monolithic optimum, and the two optima agree within the gap
    assert dec.manifest["bound"] >= mono.manifest["objective"] - 1e-6
    assert dec.manifest["objective"] == pytest.approx(mono.manifest["objective"], rel=gap)


def test_decomposed_refuses_what_couples_counties(instance) -> None:  # type: ignore[no-untyped-def]
    scenario = Scenario(name="dec", data="unused", mode="min_cost", target={"lifted": 100})
    with pytest.raises(InputError, match="supports mode max_lifted only"):
        solve(scenario, instance, method="decomposed")
