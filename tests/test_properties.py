"""Property-based tests (hypothesis) on random small instances: generated ones (12-40 households, any seed) and
variants of the tiny instance (other fund amounts and incomes), under random scenario options.

Profiles are registered in conftest.py: "fast" in make test, "long" with RUN_SLOW=1 or HYPOTHESIS_PROFILE=long.
Every solve is checked by the verifier. Tolerances come from the gap each solve proves: a solve within relative
gap g is within g of its own optimum, so two optima compare within the sum of their gaps, plus the absolute gap
below which the solvers call any two objectives equal (1e-6; objectives that small are noise to them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, reject
from hypothesis import strategies as st

from conftest import tiny_tables
from optimizer.contract import LIST_SEP
from optimizer.data import build_instance
from optimizer.errors import InfeasibleError
from optimizer.generate import generate
from optimizer.result import Result
from optimizer.scenario import Scenario
from optimizer.solve import solve
from optimizer.verify import verify

Tables = dict[str, pd.DataFrame]
GAP = 1e-6
ABS_GAP = 1e-6  # HiGHS ignores objective differences below its mip_feasibility_tolerance (it missed a plan worth 3.9e-7)
BACKENDS = ("highs", "pulp", "ortools")


@dataclass(frozen=True)
class Spec:
    """A random small instance, small enough to print when a property fails: generated households and seed, or
    the tiny instance with each fund's amount scaled and each household's income replaced."""

    households: int = 0
    seed: int = 0
    fund_factors: tuple[float, ...] = ()
    incomes: tuple[int, ...] = ()

    def tables(self) -> Tables:
        if self.households:
            return {k: v.astype(str) for k, v in generate(self.households, seed=self.seed).items()}
        tables = tiny_tables()
        funds = tables["funds"]
        funds["amount"] = [f"{float(a) * f:.2f}" for a, f in zip(funds["amount"], self.fund_factors)]
        tables["households"]["income_per_capita"] = [str(v) for v in self.incomes]
        return tables


TINY = tiny_tables()
instances = st.one_of(
    st.builds(Spec, households=st.integers(12, 40), seed=st.integers(0, 2**16)),
    st.builds(
        Spec,
        fund_factors=st.lists(st.floats(0.5, 3.0), min_size=len(TINY["funds"]), max_size=len(TINY["funds"])).map(tuple),
        incomes=st.lists(st.integers(300, 5000), min_size=len(TINY["households"]), max_size=len(TINY["households"])).map(tuple),
    ),
)


@st.composite
def options(draw: st.DrawFn) -> dict[str, Any]:
    """Random scenario options (objective weight, floors, income spread, plans per household)."""
    return {
        "objective": {"weight": draw(st.sampled_from(["households", "persons", "depth"]))},
        "floors": {"mode": draw(st.sampled_from(["hard", "soft"]))},
        "probability": {"income_sigma": draw(st.floats(0.1, 0.6))},
        "plans": {"max_per_household": draw(st.integers(2, 8))},
    }


def scenario(**sections: Any) -> Scenario:
    solver = {"gap": GAP, "time_limit": 60, **sections.pop("solver", {})}
    return Scenario.model_validate({"name": "prop", "data": "unused", "solver": solver, **sections})


def solved(tables: Tables, sc: Scenario) -> Result:
    """Solve and verify; an instance whose floors or targets no money can pay is not an example."""
    try:
        result = solve(sc, build_instance(tables))
    except InfeasibleError:
        reject()
    verify(result)
    return result


def within(a: float, b: float, *results: Result) -> bool:
    """a and b agree within the gaps the results prove (plus float noise)."""
    gaps = sum(float(r.manifest["gap"]) for r in results)
    return abs(a - b) <= gaps * max(abs(a), abs(b)) + ABS_GAP


INCIDENCE = st.floats(0.03, 0.3)  # generated counties start at 10-40% poor; the tiny one at 17%


@given(instances, options(), st.sampled_from(["max_lifted", "min_cost"]), INCIDENCE)
def test_every_solution_passes_the_verifier(spec: Spec, opts: dict[str, Any], mode: str, incidence: float) -> None:
    target = {"county_incidence": incidence} if mode == "min_cost" else {}
    result = solved(spec.tables(), scenario(mode=mode, target=target, **opts))
    assert result.manifest["status"] == "optimal"


@given(instances, options(), st.sampled_from(["max_lifted", "min_cost"]), INCIDENCE)
def test_lp_bound_is_never_worse_than_the_integer_optimum(spec: Spec, opts: dict[str, Any], mode: str, incidence: float) -> None:
    target = {"county_incidence": incidence} if mode == "min_cost" else {}
    m = solved(spec.tables(), scenario(mode=mode, target=target, **opts)).manifest
    slack = ABS_GAP  # a MIP bound is valid up to the solver's tolerances
    if mode == "max_lifted":
        assert m["lp_bound"] >= m["bound"] - slack and m["bound"] >= m["objective"] - slack
    else:
        assert m["lp_bound"] <= m["bound"] + slack and m["bound"] <= m["objective"] + slack


@given(instances, options(), st.data())
def test_adding_money_never_lowers_the_optimum(spec: Spec, opts: dict[str, Any], data: st.DataObject) -> None:
    tables = spec.tables()
    before = solved(tables, scenario(**opts))
    region = data.draw(st.sampled_from(sorted(tables["regions"]["region_id"])), label="region")
    amount = data.draw(st.floats(100.0, 200_000.0), label="yuan")
    after = solved(tables, scenario(data_edits={f"funds.add.{region}": amount}, **opts))
    a, b = before.manifest["objective"], after.manifest["objective"]
    assert b >= a or within(a, b, before, after), f"{amount:.0f} more yuan at {region}: objective {a} -> {b}"


@given(instances, st.sampled_from(BACKENDS[1:]))
def test_backends_agree_within_the_gap(spec: Spec, other: str) -> None:
    tables = spec.tables()
    ref = solved(tables, scenario())
    alt = solved(tables, scenario(solver={"name": other}))
    a, b = ref.manifest["objective"], alt.manifest["objective"]
    assert within(a, b, ref, alt), f"highs {a} vs {other} {b}"
    assert a <= alt.manifest["bound"] + ABS_GAP and b <= ref.manifest["bound"] + ABS_GAP


@given(instances, st.floats(0.03, 0.6), st.sampled_from(["county_incidence", "lifted"]), st.data())
def test_removing_a_household_never_raises_the_cost_of_a_target(spec: Spec, level: float, kind: str, data: st.DataObject) -> None:
    """Min-cost mode. With a county incidence target, the removed household leaves its county's poor count, so
    every plan set that met the target still does. With a count target, it could have been the cheap one to
    lift: the target drops by one (a household contributes at most one expected exit)."""
    tables = spec.tables()
    n = len(tables["households"])
    target = float(level) / 2 if kind == "county_incidence" else float(level) * n
    before = solved(tables, scenario(mode="min_cost", target={kind: target}))
    row = data.draw(st.integers(0, n - 1), label="removed row")
    smaller = dict(tables, households=tables["households"].drop(index=row).reset_index(drop=True))
    after_target = target if kind == "county_incidence" else max(target - 1.0, 0.0)
    after = solved(smaller, scenario(mode="min_cost", target={kind: after_target}))
    a, b = before.manifest["objective"], after.manifest["objective"]
    assert b <= a or within(a, b, before, after), f"cost {a} -> {b} after removing row {row}"


def relabel(tables: Tables, seed: int) -> Tables:
    """The same instance with every id renamed to an unrelated opaque one and every table's rows shuffled."""
    rng = np.random.default_rng(seed)
    maps: dict[str, dict[str, str]] = {}
    for table, key, prefix in (("regions", "region_id", "r"), ("households", "household_id", "h"), ("measures", "measure_id", "m"),
                               ("projects", "project_id", "j"), ("funds", "fund_id", "f"), ("helpers", "helper_id", "w")):
        old = tables[table][key].to_numpy()
        maps[table] = dict(zip(old, [f"{prefix}{i:04d}q" for i in rng.permutation(len(old))]))
    refs = {
        "regions": {"region_id": "regions", "parent_id": "regions"},
        "households": {"household_id": "households", "village_id": "regions"},
        "measures": {"measure_id": "measures", "combines_with": "measures"},
        "projects": {"project_id": "projects", "village_id": "regions", "measure_id": "measures"},
        "funds": {"fund_id": "funds", "region_id": "regions", "targets": "regions"},
        "helpers": {"helper_id": "helpers", "home_region_id": "regions"},
    }
    out = {}
    for table, df in tables.items():
        df = df.copy()
        for column, target in refs[table].items():
            mapping = maps[target]
            df[column] = [LIST_SEP.join(mapping.get(v.strip(), v.strip()) for v in str(text).split(LIST_SEP)) for text in df[column]]
        out[table] = df.iloc[rng.permutation(len(df))].reset_index(drop=True)
    return out


@given(instances, st.integers(0, 2**16), st.sampled_from(["max_lifted", "min_cost"]), INCIDENCE)
def test_result_is_invariant_to_row_order_and_id_renaming(spec: Spec, seed: int, mode: str, incidence: float) -> None:
    tables = spec.tables()
    target = {"county_incidence": incidence} if mode == "min_cost" else {}
    sc = scenario(mode=mode, target=target)
    original = solved(tables, sc)
    renamed = solved(relabel(tables, seed), sc)
    for key in ("objective", "lp_bound"):
        a, b = original.manifest[key], renamed.manifest[key]
        assert within(a, b, original, renamed), f"{key}: {a} vs {b} after renaming and shuffling"
    assert original.manifest["households"] == renamed.manifest["households"]
