"""Shared fixtures: a hand-made tiny instance (brute-force size) and small generated ones."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

from optimizer.data import Instance, build_instance
from optimizer.scenario import Scenario
from pgserver import PgServer

ROOT = Path(__file__).resolve().parents[1]

# Hypothesis profiles: "fast" (make test) draws few examples, the same ones every run; "long" explores with new
# random examples each run (and keeps failures in .hypothesis/ to replay them). HYPOTHESIS_PROFILE picks one;
# RUN_SLOW=1 (the slow marker's switch) picks "long".
FAST_EXAMPLES = 5
LONG_EXAMPLES = 200
settings.register_profile(
    "fast", max_examples=FAST_EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=LONG_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "long" if os.environ.get("RUN_SLOW") == "1" else "fast"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("RUN_SLOW") == "1" or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: set RUN_SLOW=1 or pass -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def tiny_tables() -> dict[str, pd.DataFrame]:
    """Seven regions on six levels, five households, seven measures, one project, funds on every level."""
    regions = pd.DataFrame(
        [
            ("CN", "", 0, 0, 0, 0, 0),
            ("P1", "CN", 1, 0, 1, 0, 0),
            ("E1", "CN", 1, 0, 0, 0, 0),
            ("C1", "P1", 2, 0, 1, 0, 0),
            ("X1", "C1", 3, 0, 1, 0, 0),
            ("T1", "X1", 4, 0, 1, 0, 0),
            ("V1", "T1", 5, 20, 1, 1, 0),
            ("V2", "T1", 5, 10, 1, 0, 1),
        ],
        columns=["region_id", "parent_id", "level", "rural_households", "western", "poor_village", "ecological_zone"],
    )
    households = pd.DataFrame(
        [
            ("H1", "V1", 3, 3000, 2, 1, 0, 0, 0, 0, "lack_of_capital"),
            ("H2", "V1", 2, 2500, 0, 0, 1, 0, 1, 0, "illness"),
            ("H3", "V1", 4, 3600, 2, 0, 0, 0, 0, 0, "lack_of_skills"),
            ("H4", "V2", 1, 2000, 1, 0, 1, 0, 0, 0, "illness"),
            ("H5", "V2", 3, 3800, 1, 0, 0, 0, 0, 1, "lack_of_skills"),
        ],
        columns=[
            "household_id", "village_id", "size", "income_per_capita", "labour", "school_children",
            "chronic_illness", "unsafe_house", "elderly_only", "in_ecological_zone", "cause",
        ],
    )
    measures = pd.DataFrame(
        [
            ("industry", "production", "industry", 2000, 500, 1200, "work", "", "labour_min:1", "employment;education;medical"),
            ("employment", "production", "industry", 1500, 0, 900, "work", "", "labour_min:1", "industry;education"),
            ("dibao", "social_security", "guarantee", 0, 1600, 1500, "transfer", "living", "", "medical;education"),
            ("medical", "social_security", "guarantee", 1000, 0, 300, "transfer", "medical", "requires_flag:chronic_illness", "dibao;industry"),
            ("education", "education", "education", 1200, 0, 0, "transfer", "education", "min:school_children=1", "industry;employment;dibao"),
            ("ranger", "ecological", "ecological", 500, 0, 1000, "work", "", "labour_min:1;requires_flag:in_ecological_zone", ""),
            ("tourism_job", "production", "industry", 500, 0, 1500, "work", "", "labour_min:1;requires_project:industry_tourism", ""),
        ],
        columns=["measure_id", "batch", "category", "cost_fixed", "cost_per_person", "income_uplift", "income_kind", "covers", "eligibility", "combines_with"],
    )
    projects = pd.DataFrame(
        [("J1", "V1", "industry_tourism", "industry", 3000, 1, "tourism_job", "enable", 0)],
        columns=["project_id", "village_id", "kind", "category", "cost", "capacity", "measure_id", "effect", "uplift_bonus"],
    )
    funds = pd.DataFrame(
        [
            ("F-CN", "CN", 7000, "industry;guarantee", "", 0.2, 0),
            ("F-P1", "P1", 3000, "any", "", 0, 0),
            ("F-C1", "C1", 2000, "education;guarantee", "", 0, 0),
            ("F-X1", "X1", 2600, "any", "", 0, 0),
            ("F-T1", "T1", 3000, "any", "", 0, 0),
            ("F-V1", "V1", 500, "any", "", 0, 0),
            ("F-V2", "V2", 500, "any", "", 0, 0),
            ("F-E1", "E1", 400, "industry", "X1", 0, 1),
        ],
        columns=["fund_id", "region_id", "amount", "categories", "targets", "co_financing", "paired"],
    )
    helpers = pd.DataFrame(
        [("W1", "X1", "household_helper", 5, "agriculture;employment", "county", 0)],
        columns=["helper_id", "home_region_id", "kind", "capacity", "skills", "reach", "paired"],
    )
    return {
        name: df.astype(str)
        for name, df in {
            "regions": regions, "households": households, "measures": measures,
            "projects": projects, "funds": funds, "helpers": helpers,
        }.items()
    }


def tiny_instance(**edits: pd.DataFrame) -> Instance:
    tables = tiny_tables()
    tables.update({k: v.astype(str) for k, v in edits.items()})
    return build_instance(tables, source="tiny")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of 2,000 generated households (seed 3), made once per test module."""
    from optimizer.generate import generate

    folder = tmp_path_factory.mktemp("gen") / "data"
    generate(2000, seed=3, out=folder)
    return folder


def folder_scenario(folder: Path, **solver: object) -> Scenario:
    """The default scenario on the data of ``folder``, solved to a 0.1% gap."""
    return Scenario.model_validate({"name": "small", "data": str(folder), "solver": {"gap": 1e-3, "time_limit": 120, **solver}})


def tiny_scenario(**sections: object) -> Scenario:
    base = {"name": "tiny", "data": "unused", "plans": {"max_per_household": 4}, "solver": {"time_limit": 60, "gap": 1e-6}}
    base.update(sections)  # type: ignore[arg-type]
    return Scenario.model_validate(base)


@pytest.fixture
def tiny() -> Instance:
    return tiny_instance()


@pytest.fixture
def in_process():  # type: ignore[no-untyped-def]
    """Makes the decomposition master's ``run_counties`` for (blocks, parts, scenario): the counties solved one after
    another in this process (no Dask; seconds where a LocalCluster takes tens); the county cache cleared after."""
    from optimizer import decompose

    def make(blocks, parts, scenario):  # type: ignore[no-untyped-def]
        fund_ids = blocks.pairs["fund_id"].to_numpy()
        lists = [list(fund_ids[idx]) for idx in blocks.county_pairs()]

        def run(kind: str, money: list[np.ndarray]) -> list[object]:
            fn = decompose.county_lp if kind == "lp" else decompose.county_priced
            return [fn(c, part, scenario, f, *(tuple(m) if kind == "priced" else (m,))) for c, part, f, m in zip(blocks.counties, parts, lists, money)]

        return run

    yield make
    decompose._CACHE.clear()


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    # no skip: when the server cannot start, the tests fail and say why
    server = PgServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh registry database: a SQLite file, or a database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    return str(request.getfixturevalue("pg").database())


class StopsAtTimeLimit:
    """A backend whose MIPs report that they stopped at their time limit with what they found (LPs as they are):
    what a slower machine would see."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.name = "highs"

    def version(self) -> str:
        return "stops at its time limit"

    def solve(self, model: object, options: object) -> object:
        from dataclasses import replace

        from optimizer.solvers import Status

        out = self.inner.solve(model, options)  # type: ignore[attr-defined]
        return replace(out, status=Status.FEASIBLE) if model.integer.any() and out.status is Status.OPTIMAL else out  # type: ignore[attr-defined]
