"""Solver adapters: one status vocabulary, limits honoured, exit codes of the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, StopsAtTimeLimit, tiny_instance, tiny_scenario, tiny_tables
from optimizer.data import build_instance
from optimizer.errors import SolverUnavailableError
from optimizer.generate import generate
from optimizer.model import build_model
from optimizer.plans import build_plans
from optimizer.solve import solve
from optimizer.solvers import SolveOptions, Status, get_backend
from optimizer.solvers.pulp_cbc import cbc_status
from optimizer.verify import verify


def test_cbc_time_limit_stop_is_not_reported_optimal() -> None:
    # CBC's first line of its solution file says how it ended; a stop on time keeps the incumbent, if any, as feasible
    assert cbc_status("Stopped on time - objective value -12.5", is_mip=True) is Status.FEASIBLE
    assert cbc_status("Stopped on time (no integer solution - continuous used) - objective value -13", is_mip=True) is Status.TIME_LIMIT
    assert cbc_status("Stopped on time - objective value -12.5", is_mip=False) is Status.TIME_LIMIT
    assert cbc_status("Optimal (within gap tolerance) - objective value -12.5", is_mip=True) is Status.OPTIMAL
    assert cbc_status("Integer infeasible - objective value 0", is_mip=True) is Status.INFEASIBLE
    assert cbc_status("Infeasible - objective value 0", is_mip=False) is Status.INFEASIBLE
    assert cbc_status("Unbounded - objective value 0", is_mip=False) is Status.UNBOUNDED


@pytest.mark.parametrize("integer", [False, True])
def test_cbc_gets_every_kind_of_row_and_bound_through_its_mps_file(integer: bool) -> None:
    """Ranged, equality, one-sided and free rows; fixed, free, negative and general integer columns; a row left with
    fixed columns only: CBC's optimum is HiGHS's, and its LP duals have HiGHS's value against the row bounds."""
    import scipy.sparse as sp

    from optimizer.model import LinearModel

    A = sp.csr_matrix(np.array([
        [1.0, 1.0, 0.0, 0.0, 1.0, 0.0],   # ranged 2..7
        [1.0, -1.0, 2.0, 0.0, 0.0, 0.0],  # equality 1
        [0.0, 1.0, 1.0, 1.0, 0.0, 0.0],   # >= -3
        [0.0, 0.0, 0.0, 1.0, 1.0, 0.0],   # free
        [0.0, 0.0, 0.0, 0.0, 0.0, 1.0],   # only the fixed column: 2 <= 2.5
        [-1.0, 0.0, 0.0, 1.0, 0.0, 0.0],  # <= 4 (bounds the column with no upper bound)
    ]))  # fmt: skip
    model = LinearModel(
        sense="max", c=np.array([1.0, 2.0, -0.5, 0.25, 1.5, 3.0]), A=A,
        row_lo=np.array([2.0, 1.0, -3.0, -np.inf, -np.inf, -np.inf]), row_hi=np.array([7.0, 1.0, np.inf, np.inf, 2.5, 4.0]),
        col_lo=np.array([0.0, -2.0, -np.inf, -5.0, 0.0, 2.0]), col_hi=np.array([3.0, 4.0, 6.0, np.inf, 1.0, 2.0]),
        integer=np.array([integer, integer, False, integer, integer, False]),
    )  # fmt: skip
    options = SolveOptions(duals=True, gap=1e-9, time_limit=20)
    cbc, highs = get_backend("pulp").solve(model, options), get_backend("highs", private=True).solve(model, options)
    assert cbc.status is highs.status is Status.OPTIMAL and cbc.x is not None
    assert cbc.objective == pytest.approx(highs.objective, abs=1e-9)
    activity = model.A @ cbc.x
    assert np.all(activity >= model.row_lo - 1e-7) and np.all(activity <= model.row_hi + 1e-7)
    assert np.all(cbc.x >= model.col_lo - 1e-9) and np.all(cbc.x <= model.col_hi + 1e-9)
    if not integer:
        assert cbc.duals is not None and highs.duals is not None
        assert cbc.duals[4] == 0.0  # the fixed column's row is not CBC's
        np.testing.assert_allclose(cbc.duals, highs.duals, atol=1e-9)


def test_cbc_asks_the_gap_of_the_whole_objective_when_most_columns_are_fixed() -> None:
    """A rounding MIP: 400 columns fixed (most of the value), a knapsack of 40 free ones. CBC's plan is within the gap
    of the true optimum, counted on the whole objective, and the bound it reports is above that optimum."""
    import scipy.sparse as sp

    from optimizer.model import LinearModel

    rng = np.random.default_rng(3)
    n_fixed, n_free = 400, 40
    value = np.concatenate([rng.uniform(0.5, 1.0, n_fixed), rng.uniform(0.5, 1.0, n_free)])
    weight = np.concatenate([rng.uniform(1, 3, n_fixed), rng.uniform(1, 3, n_free)])
    ones = np.ones(n_fixed + n_free)
    model = LinearModel(
        sense="max", c=value, A=sp.csr_matrix(weight[None, :]), row_lo=np.array([-np.inf]), row_hi=np.array([weight[:n_fixed].sum() + 25.0]),
        col_lo=np.concatenate([ones[:n_fixed], np.zeros(n_free)]), col_hi=ones, integer=np.ones(n_fixed + n_free, dtype=bool),
    )  # fmt: skip
    exact = get_backend("highs", private=True).solve(model, SolveOptions(gap=0.0, time_limit=30))
    gap = 0.005
    cbc = get_backend("pulp").solve(model, SolveOptions(gap=gap, time_limit=30))
    assert exact.status is cbc.status is Status.OPTIMAL and cbc.x is not None
    assert np.allclose(cbc.x[:n_fixed], 1.0) and float(weight @ cbc.x) <= model.row_hi[0] + 1e-7
    assert cbc.objective >= exact.objective * (1 - gap) - 1e-9
    assert cbc.bound >= exact.objective - 1e-9


def test_a_cbc_process_that_hangs_is_stopped_and_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from optimizer.solvers import pulp_cbc

    hang = tmp_path / "cbc"
    hang.write_text("#!/bin/sh\nexec sleep 30\n")
    hang.chmod(0o755)
    monkeypatch.setattr(pulp_cbc, "CBC", str(hang))
    monkeypatch.setattr(pulp_cbc, "GRACE_SECONDS", 0.5)
    inst = tiny_instance()
    sc = tiny_scenario()
    model, _ = build_model(inst, sc, build_plans(inst, sc))
    out = get_backend("pulp").solve(model, SolveOptions(time_limit=0.5))
    assert out.status is Status.TIME_LIMIT and out.x is None and "did not stop" in out.message


def test_a_multiyear_county_rounds_with_cbc_unless_the_scenario_says_otherwise() -> None:
    from optimizer.decompose import _rounding

    assert _rounding(tiny_scenario()).name == "pulp"
    assert _rounding(tiny_scenario(solver={"rounding": "highs"})).name == "highs"
    assert _rounding(tiny_scenario(solver={"name": "ortools"})).name == "ortools"


def test_without_a_runnable_cbc_the_pulp_backend_says_why_and_county_roundings_fall_back_to_highs(tmp_path, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from optimizer.decompose import _rounding
    from optimizer.errors import SolverUnavailableError
    from optimizer.solvers import pulp_cbc

    missing = tmp_path / "bin" / "cbc"
    monkeypatch.setattr(pulp_cbc, "CBC", str(missing))
    with pytest.raises(SolverUnavailableError, match=f"solver 'pulp' is not available: PuLP's CBC binary is not at {missing}"):
        get_backend("pulp")
    with caplog.at_level("WARNING", logger="optimizer.decompose"):
        assert _rounding(tiny_scenario()).name == "highs"
    assert f"county roundings by HiGHS: solver 'pulp' is not available: PuLP's CBC binary is not at {missing}" in caplog.text
    with pytest.raises(SolverUnavailableError, match="CBC binary"):
        _rounding(tiny_scenario(solver={"rounding": "pulp"}))  # asked for by name: no fallback
    plain = tmp_path / "cbc"
    plain.write_text("#!/bin/sh\n")
    monkeypatch.setattr(pulp_cbc, "CBC", str(plain))
    with pytest.raises(SolverUnavailableError, match="is not executable"):
        get_backend("pulp")


@pytest.mark.parametrize("backend", ["highs", "pulp", "ortools"])
def test_lp_duals_have_one_value_per_row_and_match_the_bound(backend: str) -> None:
    inst = tiny_instance()
    sc = tiny_scenario()
    model, _ = build_model(inst, sc, build_plans(inst, sc))
    out = get_backend(backend).solve(model.relaxed(), SolveOptions(duals=True))
    assert out.status is Status.OPTIMAL and out.duals is not None
    assert out.duals.shape == (model.shape[0],)
    assert out.bound == pytest.approx(out.objective)


@pytest.mark.parametrize(("backend", "algorithm"), [("highs", "auto"), ("pulp", "auto"), ("ortools", "auto"), ("highs", "ipm"), ("highs", "pdlp")])
def test_infeasible_model_is_reported_as_such(backend: str, algorithm: str) -> None:
    """By every backend and HiGHS's every algorithm: PDLP has no point to give the crossover for an infeasible LP,
    and the simplex after it, from no basis, says so."""
    t = tiny_tables()
    funds = t["funds"].copy()
    funds["amount"] = "0"
    inst = tiny_instance(funds=funds)
    sc = tiny_scenario()
    model, _ = build_model(inst, sc, build_plans(inst, sc))
    assert get_backend(backend, private=True).solve(model.relaxed(), SolveOptions(algorithm=algorithm)).status is Status.INFEASIBLE


@pytest.mark.parametrize("lean", [False, True])
def test_a_warm_slot_restores_its_own_basis(lean: bool) -> None:
    """Two objectives alternating on one LP (the decomposition's rounds and its priced LPs): each slot re-solves
    from the basis it ended with, so going back to the first objective costs no simplex iteration, and a slot's
    first solve starts from the basis the other one ended with; ``lean`` keeps only the bases and rebuilds the LP
    for each warm solve, with the same effect."""
    inst = build_instance(generate(300, seed=3))
    sc = tiny_scenario()
    model = build_model(inst, sc, build_plans(inst, sc))[0].relaxed()
    priced = replace(model, c=model.c - 0.5 * (np.arange(model.shape[1]) % 3 == 0))
    backend = get_backend("highs", private=True)
    warm = SolveOptions(keep=True, warm=True, lean=lean)
    first = backend.solve(model, warm)
    other = backend.solve(priced, replace(warm, slot="priced"))
    back = backend.solve(model, warm)
    assert other.objective < first.objective - 1e-6 and other.iterations > 0
    cold = get_backend("highs", private=True).solve(priced, SolveOptions(presolve=False))
    assert other.iterations < 0.7 * cold.iterations  # the new slot started from the first one's basis (432-367 against 817)
    assert back.objective == pytest.approx(first.objective, rel=1e-9)
    assert back.iterations == 0
    again = backend.solve(priced, replace(warm, slot="priced"))
    assert again.objective == pytest.approx(other.objective, rel=1e-9) and again.iterations == 0
    # from_last: the slot starts where the last solve ended (here the first objective's optimum), not from its own
    backend.solve(model, warm)
    fresh = backend.solve(priced, replace(warm, slot="priced", from_last=True))
    assert fresh.objective == pytest.approx(other.objective, rel=1e-9) and fresh.iterations > 0
    assert backend.solve(model, warm).iterations == 0  # the first slot's basis was kept all the same


@pytest.mark.parametrize("algorithm", ["ipm", "pdlp"])
@pytest.mark.parametrize("lean", [False, True])
def test_an_interior_point_or_first_order_lp_leaves_a_basis_for_the_warm_simplex(lean: bool, algorithm: str) -> None:
    """``algorithm`` chooses how an LP solved cold is solved: the interior point (a large multi-year LP) or PDLP (a
    multi-year county's first LP) ends with a crossover basis, and the warm re-solves after it are the simplex's from
    that basis (a kept LP keeps its HiGHS options: without resetting them every warm round would have been a new
    interior-point solve)."""
    inst = build_instance(generate(300, seed=3))
    sc = tiny_scenario()
    model = build_model(inst, sc, build_plans(inst, sc))[0].relaxed()
    backend = get_backend("highs", private=True)
    ipm = SolveOptions(keep=True, warm=True, lean=lean, algorithm=algorithm, duals=True)
    first = backend.solve(model, ipm)
    simplex = get_backend("highs", private=True).solve(model, SolveOptions(duals=True))
    assert first.status is Status.OPTIMAL and first.duals is not None and simplex.duals is not None
    assert first.objective == pytest.approx(simplex.objective, rel=1e-9) and simplex.iterations > 0
    # an exact vertex, not PDLP's approximate point (off by about its tolerance, 1e-4)
    assert first.x is not None
    activity = model.A @ first.x
    assert (activity >= model.row_lo - 1e-6).all() and (activity <= model.row_hi + 1e-6).all()
    assert (first.x >= model.col_lo - 1e-9).all() and (first.x <= model.col_hi + 1e-9).all()
    assert backend.solve(model, ipm).iterations == 0  # warm from the crossover's optimal basis
    hi = model.col_hi.copy()
    hi[int(np.argmax(first.x * model.c))] = 0.0
    changed = backend.solve(replace(model, col_hi=hi), ipm)
    cold = get_backend("highs", private=True).solve(replace(model, col_hi=hi), SolveOptions())
    assert changed.objective == pytest.approx(cold.objective, rel=1e-9)
    assert 0 < changed.iterations < cold.iterations  # a few pivots of the simplex from the basis, not a new interior point


def test_a_kept_lp_gets_its_whole_time_limit_on_every_solve() -> None:
    """HiGHS holds its time limit against its object's run clock, which every run of a kept LP adds to: a warm
    re-solve given less time than the kept LP had already run stopped at once ('time_limit', no iteration), as the
    final LPs of the large counties of a multi-year decomposition did, which then came back short."""
    inst = build_instance(generate(2000, seed=3))
    sc = tiny_scenario()
    model = build_model(inst, sc, build_plans(inst, sc))[0].relaxed()
    backend = get_backend("highs", private=True)
    first = backend.solve(model, SolveOptions(keep=True, warm=True))
    assert first.status is Status.OPTIMAL and first.x is not None
    hi = model.col_hi.copy()
    hi[int(np.argmax(first.x * model.c))] = 0.0  # the most valuable column shut: a few dual simplex iterations
    changed = replace(model, col_hi=hi)
    # half of what the first solve took (0.26 s here), 17 times what the re-solve takes (1 iteration, 7.6 ms)
    again = backend.solve(changed, SolveOptions(keep=True, warm=True, time_limit=first.seconds / 2))
    assert again.status is Status.OPTIMAL and again.iterations > 0
    cold = get_backend("highs", private=True).solve(changed, SolveOptions())
    assert again.objective == pytest.approx(cold.objective, rel=1e-9)


class _WarmRunFails(dict):
    """HiGHS's statuses, but the ``fail``-th run ends 'Unknown' (as a warm county LP of the 1M run did)."""

    def __init__(self, statuses: dict, fail: int) -> None:
        super().__init__(statuses)
        self.runs, self.fail = 0, fail

    def get(self, key, default=None):  # type: ignore[no-untyped-def]
        self.runs += 1
        return default if self.runs == self.fail else super().get(key, default)


@pytest.mark.parametrize("lean", [False, True])
def test_a_warm_start_that_ends_in_error_is_solved_again_from_scratch(lean: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A warm start is a shortcut: when HiGHS ends a warm-started LP without an answer, the backend solves it
    again cold (once), with the answer of a cold solve, and keeps that LP for the next warm start."""
    from optimizer.solvers import highs

    inst = build_instance(generate(300, seed=3))
    sc = tiny_scenario()
    model = build_model(inst, sc, build_plans(inst, sc))[0].relaxed()
    priced = replace(model, c=model.c - 0.5 * (np.arange(model.shape[1]) % 3 == 0))
    statuses = _WarmRunFails(highs._STATUS, fail=2)
    monkeypatch.setattr(highs, "_STATUS", statuses)
    backend = get_backend("highs", private=True)
    warm = SolveOptions(keep=True, warm=True, lean=lean, duals=True)
    backend.solve(model, warm)
    with caplog.at_level("WARNING", logger=highs.__name__):
        out = backend.solve(priced, warm)
    assert statuses.runs == 3 and "solving it again from scratch" in caplog.text
    cold = get_backend("highs", private=True).solve(priced, SolveOptions(duals=True))
    assert out.status is Status.OPTIMAL and out.duals is not None
    assert out.objective == pytest.approx(cold.objective, rel=1e-9)
    again = backend.solve(priced, warm)  # kept from the cold solve
    assert again.iterations == 0 and again.objective == pytest.approx(cold.objective, rel=1e-9)
    failing = _WarmRunFails(highs._STATUS, fail=1)
    monkeypatch.setattr(highs, "_STATUS", failing)
    assert get_backend("highs", private=True).solve(model, SolveOptions()).status is Status.ERROR  # a cold solve's error stands
    assert failing.runs == 1


def test_an_lp_without_presolve_has_the_same_optimum() -> None:
    """The decomposition solves a one-year county's first LP without presolve (faster there): same optimum, by
    another path (HiGHS's simplex iterations differ), and the backend's next LP presolves again."""
    inst = build_instance(generate(300, seed=3))
    sc = tiny_scenario()
    model = build_model(inst, sc, build_plans(inst, sc))[0].relaxed()
    backend = get_backend("highs", private=True)
    on = backend.solve(model, SolveOptions(keep=True))
    off = backend.solve(model, SolveOptions(keep=True, presolve=False))
    again = backend.solve(model, SolveOptions())
    assert off.status is on.status is Status.OPTIMAL
    assert off.objective == pytest.approx(on.objective, rel=1e-9)
    assert off.iterations != on.iterations
    assert again.iterations == on.iterations


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(SolverUnavailableError, match="unknown solver 'gurobi'"):
        get_backend("gurobi")


def test_shadow_price_predicts_the_value_of_extra_money() -> None:
    """A fund's shadow price (households per 10,000 yuan) is a supergradient of the LP value (projects fixed):
    10 yuan more gains at most price x 10, 10 yuan less loses at least as much."""
    inst = tiny_instance()
    sc = tiny_scenario()
    base = solve(sc, inst)
    price = base.funds.set_index("fund_id")["shadow_price"]
    assert (price >= 0).all() and price.max() > 0

    def shifted(delta: float) -> object:
        t = tiny_tables()
        funds = t["funds"].copy()
        row = funds["fund_id"] == "F-X1"
        funds.loc[row, "amount"] = str(float(funds.loc[row, "amount"].iat[0]) + delta)
        return tiny_instance(funds=funds)

    def lp_value(instance: object) -> float:
        model, _ = build_model(instance, sc, build_plans(instance, sc))  # type: ignore[arg-type]
        y = model.col_blocks["y"]
        lo, hi = model.col_lo.copy(), model.col_hi.copy()
        built = base.tables["projects"]["built"].to_numpy(dtype=float)
        lo[y] = hi[y] = built
        return get_backend("highs").solve(model.relaxed().with_bounds(lo, hi), SolveOptions()).objective

    value = lp_value(inst)
    gain, loss = lp_value(shifted(10.0)) - value, value - lp_value(shifted(-10.0))
    expected = price["F-X1"] * 10.0 / 10_000
    assert gain <= expected + 1e-9
    assert loss >= expected - 1e-9
    assert loss > 0


def test_county_incidence_target(tmp_path: Path) -> None:
    from optimizer.generate import generate

    folder = tmp_path / "d"
    generate(1200, seed=5, out=folder)
    sc = tiny_scenario(data=str(folder), mode="min_cost", target={"county_incidence": 0.12}, solver={"gap": 1e-3})
    result = solve(sc)
    verify(result)
    counties = result.regions[result.regions["level"] == 3]
    rural = np.where(counties["rural_households"] > 0, counties["rural_households"], counties["households"])
    assert ((counties["households"] - counties["expected_lifted"]) <= 0.12 * rural + 1e-6).all()
    assert result.manifest["bound"] <= result.manifest["objective"] + 1e-6


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "optimizer.cli", *args], capture_output=True, text=True, timeout=300)


def test_cli_exit_3_on_infeasible_floors(tmp_path: Path) -> None:
    tables = tiny_tables()
    tables["funds"]["amount"] = "0"
    folder = tmp_path / "data"
    folder.mkdir()
    for name, df in tables.items():
        df.to_csv(folder / f"{name}.csv", index=False)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"name: s\ndata: {folder}\n")
    out = tmp_path / "run"
    proc = _run("solve", str(scenario), "--out", str(out))
    assert proc.returncode == 3, proc.stderr
    assert "X1" in proc.stderr and "yuan short" in proc.stderr and "labourless_guarantee" in proc.stderr
    assert not out.exists()


def test_cli_exit_4_when_time_runs_out(tmp_path: Path) -> None:
    from optimizer.generate import generate

    folder = tmp_path / "d"
    generate(3000, seed=2, out=folder)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"name: s\ndata: {folder}\n")
    proc = _run("solve", str(scenario), "--time-limit", "0.0001", "--out", str(tmp_path / "run"))
    assert proc.returncode == 4, proc.stderr
    assert "time limit" in proc.stderr


@pytest.mark.parametrize("suffix", [".lp", ".mps"])
def test_export_model_names_rows_and_columns(tmp_path: Path, suffix: str) -> None:
    from optimizer.solvers.highs import write_model

    inst = tiny_instance()
    sc = tiny_scenario(mode="min_cost", target={"lifted": 2.0, "county_incidence": 0.5}, equity={"min_county_coverage": 0.5})
    model, index = build_model(inst, sc, build_plans(inst, sc))
    rows, cols = index.row_names(), index.col_names()
    assert len(rows) == model.shape[0] and len(cols) == model.shape[1]
    for block, prefix in (("assign", "assign/"), ("balance", "balance/"), ("fund", "budget/"), ("capacity", "capacity/"), ("incidence", "incidence/"), ("coverage", "coverage/")):
        sl = model.row_blocks[block]
        assert all(name.startswith(prefix) for name in rows[sl]), block
    path = tmp_path / f"model{suffix}"
    write_model(model, str(path), cols, rows)
    text = path.read_text()
    expected = ["budget/F-CN", "assign/H1"] if suffix == ".mps" else ["budget.F_CN", "assign.H1"]
    assert all(name in text for name in expected)


def test_export_model_refuses_other_names_and_never_leaves_a_file_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model file is .lp or .mps: another name was reported as written though HiGHS wrote nothing, and so was a
    file in a folder that did not exist. Now the name is refused before any work (exit code 2), a missing folder is
    made, and a write that fails leaves an earlier file as it was, with no temporary file beside it."""
    import highspy

    from optimizer.errors import InputError
    from optimizer.solvers.highs import write_model

    proc = _run("export-model", str(ROOT / "scenarios" / "baseline.yaml"), str(tmp_path / "m.txt"))
    assert proc.returncode == 2 and "must end in .lp or .mps" in proc.stderr and not (tmp_path / "m.txt").exists()
    inst = tiny_instance()
    sc = tiny_scenario()
    model, index = build_model(inst, sc, build_plans(inst, sc))
    path = tmp_path / "new" / "m.mps"
    write_model(model, str(path), index.col_names(), index.row_names())
    assert "assign/H1" in path.read_text()
    path.write_text("earlier")
    monkeypatch.setattr(highspy.Highs, "writeModel", lambda self, name: highspy.HighsStatus.kError)
    with pytest.raises(InputError, match="could not write the model"):
        write_model(model, str(path), index.col_names(), index.row_names())
    assert path.read_text() == "earlier" and sorted(p.name for p in path.parent.iterdir()) == ["m.mps"]


def test_export_model_with_helpers_in_the_model(tmp_path: Path) -> None:
    from optimizer.generate import generate

    generate(300, seed=2, out=tmp_path / "d")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"name: s\ndata: {tmp_path / 'd'}\nhelpers:\n  capacity_in_model: true\n")
    proc = _run("export-model", str(scenario), str(tmp_path / "m.lp"))
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "m.lp").read_text()
    assert "skill_demand." in text and "helper_capacity." in text


def test_export_model_of_a_multiyear_scenario(tmp_path: Path) -> None:
    """A scenario with years: exports the multi-year model (it exported the one-year model of the same data), every
    row and column named uniquely with its year; read back, HiGHS finds the multi-year model's LP optimum."""
    import highspy

    from optimizer.data import load_instance
    from optimizer.multiyear import build_multiyear, multiyear_names
    from optimizer.scenario import load_scenario

    generate(150, seed=11, out=tmp_path / "d")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        f"name: s\ndata: {tmp_path / 'd'}\nhelpers: {{assign: false}}\n"
        "years: {first: 2018, last: 2020, relocation_rate: 0.05, monitoring: {cost: 1500, risk_factor: 0.3}}\n"
    )
    proc = _run("export-model", str(scenario), str(tmp_path / "m.mps"))
    assert proc.returncode == 0, proc.stderr
    inst, sc = load_instance(tmp_path / "d"), load_scenario(scenario)
    my = build_multiyear(inst, sc)
    cols, rows = multiyear_names(my, inst)
    assert f"{my.model.shape[1]:,} columns, {my.model.shape[0]:,} rows" in " ".join(proc.stdout.split())
    assert len(set(cols)) == len(cols) == my.model.shape[1] and len(set(rows)) == len(rows) == my.model.shape[0]
    for block, prefix in (("fund", "budget/"), ("balance", "balance/"), ("link", "link/"), ("relocation", "relocation/")):
        assert all(name.startswith(prefix) and name[-5:] in {"/2018", "/2019", "/2020"} for name in rows[my.model.row_blocks[block]]), block
    assert all(name.startswith("once/") for name in rows[my.model.row_blocks["once"]])
    assert any(c.endswith("/monitored") for c in cols) and "budget/F-CN-industry/2019" in rows
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(str(tmp_path / "m.mps"))
    h.changeColsIntegrality(h.getNumCol(), np.arange(h.getNumCol(), dtype=np.int32), np.zeros(h.getNumCol(), dtype=np.uint8))
    h.run()
    lp = get_backend("highs").solve(my.model.relaxed(), SolveOptions())
    assert h.getInfo().objective_function_value == pytest.approx(lp.objective, rel=1e-7)


def test_export_model_of_a_replan(tmp_path: Path) -> None:
    """``export-model --from-year --previous`` writes the re-plan's model (it had no such options: the model exported
    was the first plan's): read back, its kept starts are fixed and its LP optimum is the re-plan's LP optimum.
    Either option alone, or on a one-year scenario, is refused."""
    import highspy

    from optimizer.data import load_instance
    from optimizer.multiyear import kept_model, read_previous
    from optimizer.scenario import load_scenario

    generate(150, seed=11, out=tmp_path / "d")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"name: s\ndata: {tmp_path / 'd'}\nhelpers: {{assign: false}}\nyears: {{first: 2019, last: 2020}}\n")
    solved = _run("solve", str(scenario), "--out", str(tmp_path / "run"), "--no-report", "--set", "funds.level.central=x0.7")
    assert solved.returncode == 0, solved.stderr
    proc = _run("export-model", str(scenario), str(tmp_path / "m.mps"), "--from-year", "2020", "--previous", str(tmp_path / "run"), "--set", "funds.level.central=x0.7")
    assert proc.returncode == 0, proc.stderr
    sc = load_scenario(scenario, overrides={"funds.level.central": "x0.7"})
    from optimizer.edits import apply_data_edits

    inst = apply_data_edits(load_instance(tmp_path / "d"), sc.data_edits)
    kept = read_previous(tmp_path / "run", 2020)
    my, model, fixed = kept_model(inst, sc, kept)
    assert fixed["kept_households"] == len(kept.starts) > 0
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(str(tmp_path / "m.mps"))
    assert h.getNumCol() == model.shape[1] and int((np.asarray(h.getLp().col_lower_) > 0.5).sum()) == int((model.col_lo > 0.5).sum()) >= len(kept.starts)
    h.changeColsIntegrality(h.getNumCol(), np.arange(h.getNumCol(), dtype=np.int32), np.zeros(h.getNumCol(), dtype=np.uint8))
    h.run()
    lp = get_backend("highs").solve(model.relaxed(), SolveOptions())
    assert h.getInfo().objective_function_value == pytest.approx(lp.objective, rel=1e-7)
    alone = _run("export-model", str(scenario), str(tmp_path / "n.mps"), "--from-year", "2020")
    assert alone.returncode == 2 and "--from-year and --previous go together" in alone.stderr
    one_year = tmp_path / "one.yaml"
    one_year.write_text(f"name: one\ndata: {tmp_path / 'd'}\n")
    refused = _run("export-model", str(one_year), str(tmp_path / "n.mps"), "--from-year", "2020", "--previous", str(tmp_path / "run"))
    assert refused.returncode == 2 and "no years: section" in refused.stderr and not (tmp_path / "n.mps").exists()


def test_cbc_finds_improvements_smaller_than_its_default_cutoff_increment() -> None:
    """Found by the property tests: with its default cutoff increment CBC reported 0.0335774 as optimal within
    gap 1e-6 while HiGHS and SCIP found 0.0335793 (a plan worth 2e-6 more). The adapter sets the increment."""
    t = tiny_tables()
    t["funds"]["amount"] = [f"{float(a) * f:.2f}" for a, f in zip(t["funds"]["amount"], (1.515625, *[0.5] * 7))]
    t["households"]["income_per_capita"] = "300"
    inst = tiny_instance(funds=t["funds"], households=t["households"])
    results = {b: solve(tiny_scenario(plans={"max_per_household": 6}, solver={"name": b, "gap": 1e-6}), inst) for b in ("highs", "pulp")}
    for r in results.values():
        verify(r)
    a, b = (results[k].manifest for k in ("highs", "pulp"))
    assert b["objective"] == pytest.approx(a["objective"], rel=1e-9, abs=1e-12)
    assert a["objective"] <= b["bound"] + 1e-12


def test_highs_stays_silent_on_tiny_coefficients(capfd: pytest.CaptureFixture[str]) -> None:
    """HiGHS warns on stdout about matrix values below its tolerance when the model is passed (the decomposition's
    cuts carry such shadow prices); a quiet solve must print nothing, before and during the solve."""
    import scipy.sparse as sp

    from optimizer.model import LinearModel

    A = sp.csr_matrix(np.array([[1.0, 1e-18], [1.0, 2.0]]))
    model = LinearModel(sense="max", c=np.ones(2), A=A, row_lo=np.full(2, -np.inf), row_hi=np.array([1.0, 3.0]),
                        col_lo=np.zeros(2), col_hi=np.full(2, np.inf), integer=np.zeros(2, dtype=bool))  # fmt: skip
    out = get_backend("highs").solve(model, SolveOptions(time_limit=10))
    assert out.status == Status.OPTIMAL and out.objective == pytest.approx(2.0)
    assert capfd.readouterr().out == ""


def test_highs_runs_with_another_thread_count_than_the_run_before() -> None:
    """HiGHS starts one thread scheduler per process with the first run's ``threads``; a later run asking for
    another count failed with status ERROR (an analyst changing solver.threads between two solves; a county task
    on one thread in a process that solved before)."""
    import scipy.sparse as sp

    from optimizer.model import LinearModel

    model = LinearModel(sense="max", c=np.array([1.0, 2.0, 3.0]), A=sp.csr_matrix(np.array([[2.0, 3.0, 4.0]])), row_lo=np.array([-np.inf]),
                        row_hi=np.array([6.0]), col_lo=np.zeros(3), col_hi=np.ones(3), integer=np.ones(3, dtype=bool))  # fmt: skip
    backend = get_backend("highs")
    for threads in (2, 1, 0, 1, 2):
        for m in (model, model.relaxed()):
            out = backend.solve(m, SolveOptions(time_limit=10, threads=threads))
            assert out.status == Status.OPTIMAL, (threads, out.message)
            assert out.objective == pytest.approx(4.0 if m is model else 13 / 3)


@pytest.mark.parametrize("households,seed", [(2000, 3), (4000, 1)])  # the households alone miss half the gap / reach it
def test_relax_and_fix_tries_the_households_with_a_fractional_plan_first(households: int, seed: int) -> None:
    """The narrowest neighbourhood comes first (only the households with a fractional plan move, with the money of
    their villages); a wider one is tried only while the best allocation misses its gap, and the result keeps
    within the target of the LP bound and passes the verifier."""
    from optimizer.scenario import Scenario

    instance = build_instance(generate(households, seed=seed))
    scenario = Scenario(name="rf", data="unused", solver={"gap": 0.001})
    said: list[str] = []
    result = solve(scenario, instance, progress=said.append)
    tries = [m for m in said if m.startswith("relax-and-fix around")]
    assert tries and "households with a fractional plan" in tries[0]
    first = re.search(r"([0-9.]+)% below the LP bound", tries[0])
    assert (first is None or float(first.group(1)) / 100 > 0.001 / 2) == (len(tries) > 1), tries
    assert result.gap <= 0.001 + 1e-12
    verify(result, instance, scenario)


def test_a_crash_basis_gives_the_same_lp_optimum_in_fewer_iterations() -> None:
    """``SolveOptions.crash``: each household's best plan basic, every other row's slack basic, is dual feasible,
    so HiGHS's dual simplex needs fewer iterations than from the slack basis for the same optimum; a model without
    an ``assign`` block is solved from the slack basis."""
    import highspy

    from optimizer.scenario import Scenario
    from optimizer.solvers.highs import _crash_basis

    instance = build_instance(generate(2000, seed=3))
    scenario = Scenario(name="crash", data="unused")
    lp = build_model(instance, scenario, build_plans(instance, scenario))[0].relaxed()
    slack = get_backend("highs", private=True).solve(lp, SolveOptions(time_limit=60, presolve=False))
    crash = get_backend("highs", private=True).solve(lp, SolveOptions(time_limit=60, presolve=False, crash=True))
    assert slack.status == crash.status == Status.OPTIMAL
    assert crash.objective == pytest.approx(slack.objective, rel=1e-9)
    assert crash.iterations < slack.iterations
    basis = _crash_basis(lp)
    assert basis is not None
    rows = lp.row_blocks["assign"]
    basic = np.array([s == highspy.HighsBasisStatus.kBasic for s in basis.col_status])
    A = lp.A[rows].tocsr()
    per_row = np.add.reduceat(basic[A.indices].astype(int), A.indptr[:-1])
    assert (per_row == 1).all()  # one basic plan per household, its best
    best = np.maximum.reduceat(lp.c[A.indices], A.indptr[:-1])
    assert np.allclose(lp.c[A.indices][basic[A.indices]], best)
    assert basic.sum() + sum(s == highspy.HighsBasisStatus.kBasic for s in basis.row_status) == lp.shape[0]
    no_block = replace(lp, row_blocks={})
    assert _crash_basis(no_block) is None
    out = get_backend("highs", private=True).solve(no_block, SolveOptions(time_limit=60, presolve=False, crash=True))
    assert out.iterations == slack.iterations and out.objective == pytest.approx(slack.objective, rel=1e-9)


def test_highs_receives_the_model_as_built() -> None:
    """The arrays handed to HiGHS (``Highs.passModel``) are the model's: costs, bounds (infinite ones included),
    matrix, sense and which columns are integer, as HiGHS reads them back; and the same for a minimisation."""
    import highspy

    from optimizer.scenario import Scenario
    from optimizer.solvers.highs import _pass

    instance = build_instance(generate(300, seed=5))
    scenario = Scenario(name="pass", data="unused")
    model = build_model(instance, scenario, build_plans(instance, scenario))[0]
    assert model.integer.any() and not model.integer.all() and np.isinf(model.row_lo).any() and np.isinf(model.col_hi).any()
    for m in (model, replace(model, sense="min", c=-model.c)):
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        _pass(h, m)
        lp = h.getLp()
        assert (lp.num_row_, lp.num_col_) == m.shape
        for got, want in ((lp.col_cost_, m.c), (lp.col_lower_, m.col_lo), (lp.col_upper_, m.col_hi), (lp.row_lower_, m.row_lo), (lp.row_upper_, m.row_hi)):
            got = np.asarray(got)
            assert np.array_equal(np.isinf(got), np.isinf(want)) and np.array_equal(got[np.isfinite(got)], want[np.isfinite(want)])
        csc = m.A.tocsc()
        assert np.array_equal(lp.a_matrix_.start_, csc.indptr) and np.array_equal(lp.a_matrix_.index_, csc.indices)
        assert np.array_equal(lp.a_matrix_.value_, csc.data)
        assert [int(v) for v in lp.integrality_] == m.integer.astype(int).tolist()
        assert lp.sense_ == (highspy.ObjSense.kMaximize if m.sense == "max" else highspy.ObjSense.kMinimize)


def test_a_mip_stopped_at_its_time_limit_is_recorded_and_explains_a_difference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a MIP stops at its time limit depends on the machine's speed: the manifest records that the solve
    stopped there, and `reproduce` gives it as the reason a re-solve may differ; a proven solve records that it did not."""
    import importlib

    from optimizer.reproduce import time_limit_note

    solve_module = importlib.import_module("optimizer.solve")
    inst = build_instance(generate(300, seed=3))
    sc = tiny_scenario()
    proven = solve(sc, inst)
    verify(proven)
    assert proven.manifest["stopped_at_time_limit"] is False and time_limit_note(proven.manifest) is None
    real = get_backend("highs")
    monkeypatch.setattr(solve_module, "get_backend", lambda name=None, private=False: StopsAtTimeLimit(real))
    stopped = solve(sc, inst)
    verify(stopped)
    assert stopped.manifest["stopped_at_time_limit"] is True
    note = time_limit_note(stopped.manifest)
    assert note is not None and "this run's MIP stopped at its time limit (solver.time_limit)" in note
    counties = {"stopped_at_time_limit": True, "decomposition": {"stopped_at_time_limit": ["A", "B"]}}
    assert "the MIPs of 2 of this run's counties (A, B) stopped at their time limit" in (time_limit_note(counties) or "")


def test_highs_lazy_rows_give_the_whole_lps_optimum_and_duals_bounding_only_the_violated_ones() -> None:
    """Row generation (SolveOptions.lazy): the rows of the block start free and are bounded where the optimum violates
    them, so the LP ends at the whole LP's optimum with its duals (0 on rows never bounded); a kept LP's warm re-solve
    with other bounds keeps the rows bounded so far and bounds more as needed; a solve without ``lazy`` holds them all."""
    import scipy.sparse as sp

    from optimizer.model import LinearModel

    # max x0 + x1 + x2, x <= 1; lazy rows x0 <= 0.5, x1 <= 0.3, x2 <= 2 (never binding); x0 + x1 + x2 <= 10
    A = sp.csr_matrix(np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 1.0, 1.0]]))
    model = LinearModel(sense="max", c=np.ones(3), A=A, row_lo=np.full(4, -np.inf), row_hi=np.array([0.5, 0.3, 2.0, 10.0]),
                        col_lo=np.zeros(3), col_hi=np.ones(3), integer=np.zeros(3, dtype=bool), row_blocks={"lazy": slice(0, 3), "sum": slice(3, 4)})  # fmt: skip
    whole = get_backend("highs").solve(model, SolveOptions(duals=True))
    backend = get_backend("highs")
    lazy = backend.solve(model, SolveOptions(duals=True, keep=True, lazy="lazy"))
    assert lazy.status == whole.status == Status.OPTIMAL and lazy.objective == pytest.approx(whole.objective) == pytest.approx(1.8)
    assert lazy.duals is not None and whole.duals is not None
    np.testing.assert_allclose(np.abs(lazy.duals), np.abs(whole.duals), atol=1e-9)
    assert list(backend._bounded) == [True, True, False]  # type: ignore[attr-defined]
    tighter = replace(model, row_hi=np.array([0.2, 0.3, 0.4, 10.0]))  # the third row now binds: bounded warm
    warm = backend.solve(tighter, SolveOptions(duals=True, keep=True, warm=True, lazy="lazy"))
    assert warm.objective == pytest.approx(0.9) and list(backend._bounded) == [True, True, True]  # type: ignore[attr-defined]
    plain = backend.solve(model, SolveOptions(keep=True, warm=True))  # without lazy: the whole LP, every row held
    assert plain.objective == pytest.approx(1.8) and backend._bounded is None  # type: ignore[attr-defined]
