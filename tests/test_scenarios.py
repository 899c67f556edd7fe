"""The scenario language: composition, overrides, data edits, clear errors; shipped scenarios; compare, sweep."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, tiny_scenario
from optimizer.compare import Session, compare, parse_set, sweep
from optimizer.edits import apply_data_edits
from optimizer.errors import InfeasibleError, InputError
from optimizer.scenario import load_scenario
from optimizer.solve import solve
from optimizer.verify import verify

# nightly.yaml is the baseline plus the nightly job's options: tests/test_nightly.py covers it
# deadline_*.yaml are multi-year (issue 10): their 20,000-household sample is beyond the test budget
# (bench/README.md), so test_shipped_deadline_scenarios_solve_and_verify_from_the_cli points them at a small
# generated instance
SHIPPED = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml") if p.stem != "nightly" and not p.stem.startswith("deadline_"))
DEADLINE = sorted(p.stem for p in (ROOT / "scenarios").glob("deadline_*.yaml"))

LAUGHS = "data: d\n" + "".join(
    f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}" if i else "lol"] * 10) + "]\n" for i in range(9)
)


def test_alias_bombs_and_deep_nesting_are_refused_before_any_tree_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shape check reads the parser's event stream; composing (where aliases would be shared, then expanded by
    validation and line lookup) and constructing never start. Every bad YAML case itself is in the corpus."""
    import yaml

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a YAML tree was built")

    monkeypatch.setattr(yaml, "compose", refuse)
    monkeypatch.setattr(yaml, "safe_load", refuse)
    for name, text, message in (
        ("laughs", LAUGHS, "expands to more than 10,000 nodes"),
        ("deep", "data: d\nx: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested deeper than 32 levels"),
    ):
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        with pytest.raises(InputError, match=message):
            load_scenario(path)


def test_anchors_and_merge_keys_of_ordinary_size_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("data: d\npoverty: {line: &line 4200}\nequity: {max_cost_per_household: *line}\nplans: {<<: {max_per_household: 5}, max_measures: 2}\n")
    sc = load_scenario(path)
    assert (sc.poverty.line, sc.equity.max_cost_per_household, sc.plans.max_per_household, sc.plans.max_measures) == (4200, 4200, 5, 2)


def test_extends_chain_merges_and_overrides_apply_last(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("data: d\nsolver:\n  gap: 0.01\n  time_limit: 50\noverrides:\n  funds.paired: x2\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nsolver:\n  gap: 0.02\noverrides:\n  poverty.line: 4200\n")
    (tmp_path / "c.yaml").write_text("extends: b.yaml\nname: c\noverrides:\n  solver.threads: 1\n")
    sc = load_scenario(tmp_path / "c.yaml", overrides={"solver.seed": 5})
    assert (sc.solver.gap, sc.solver.time_limit, sc.solver.threads, sc.solver.seed) == (0.02, 50, 1, 5)
    assert sc.poverty.line == 4200
    assert sc.data_edits == {"funds.paired": "x2"}
    assert sc.data_path == tmp_path / "d"


def test_data_edits_scale_funds_and_change_measures(tiny) -> None:  # type: ignore[no-untyped-def]
    edited = apply_data_edits(tiny, {"funds.level.central": "x0.5", "funds.fund.F-V1": 50, "measures.industry.income_uplift": "x2"})
    funds = edited.funds.set_index("fund_id")["amount"]
    assert funds["F-CN"] == pytest.approx(3500) and funds["F-V1"] == 50
    assert edited.measures.set_index("measure_id").loc["industry", "income_uplift"] == 2400
    off = apply_data_edits(tiny, {"measures.medical.enabled": False})
    result = solve(tiny_scenario(), off)
    assert not result.households["measures"].str.contains("medical").any()


def test_data_edits_name_ids_with_dots() -> None:
    """Region, fund and measure ids may hold dots (codes such as P01.C01): their edits were refused as "unknown fund
    override", and optimizer marginal, which writes funds.add.<region>, failed after solving (fuzzing pass 10)."""
    from conftest import tiny_instance, tiny_tables

    t = tiny_tables()
    dotted = {"X1": "P1.X1"}
    for table, col in (("regions", "region_id"), ("regions", "parent_id"), ("funds", "region_id"), ("funds", "targets"), ("helpers", "home_region_id")):
        t[table][col] = t[table][col].replace(dotted)
    t["funds"]["fund_id"] = t["funds"]["fund_id"].replace({"F-X1": "F.X1"})
    t["measures"]["measure_id"] = t["measures"]["measure_id"].replace({"ranger": "eco.ranger"})
    inst = tiny_instance(**{k: t[k] for k in ("regions", "funds", "helpers", "measures")})
    edited = apply_data_edits(inst, {"funds.region.P1.X1": "x2", "funds.fund.F.X1": "x1.5", "funds.add.P1.X1": 100, "measures.eco.ranger.cost_fixed": 600})
    amounts = edited.funds.set_index("fund_id")["amount"]
    assert amounts["F.X1"] == pytest.approx(2600 * 3) and amounts["F-extra-P1.X1"] == 200  # added, then the region's doubled
    assert edited.measures.set_index("measure_id").loc["eco.ranger", "cost_fixed"] == 600
    verify(solve(tiny_scenario(), edited))


def test_a_section_given_as_a_mapping_in_overrides_is_merged_into_it(tmp_path: Path) -> None:
    """``with_overrides({"solver": {"time_limit": 100}})`` replaced the whole section: solver.gap fell back to its
    default, and ``{"years": {...}}`` dropped years.relocation_rate (no relocation limit in the model). A mapping is
    now merged, as ``extends`` merges; a file's ``overrides:`` likewise."""
    sc = load_scenario(ROOT / "scenarios" / "deadline_2020.yaml")
    assert sc.years is not None and sc.years.relocation_rate is not None
    timed = sc.with_overrides({"solver": {"time_limit": 100}})
    assert (timed.solver.gap, timed.solver.time_limit) == (sc.solver.gap, 100)
    front = sc.with_overrides({"years": {"profile": "front_loaded"}})
    assert front.years is not None and (front.years.profile, front.years.relocation_rate) == ("front_loaded", sc.years.relocation_rate)
    (tmp_path / "s.yaml").write_text("data: d\nsolver: {gap: 0.02}\noverrides:\n  solver: {time_limit: 50}\n")
    assert (load_scenario(tmp_path / "s.yaml").solver.gap, load_scenario(tmp_path / "s.yaml").solver.time_limit) == (0.02, 50)


# solving every shipped scenario on the 20,000-household sample took 20-36 s each on a slow day (the default suite
# then passed 15 minutes): the baseline stays in the default suite, the others solve there on generated data
@pytest.mark.parametrize("name", [n if n == "baseline" else pytest.param(n, marks=pytest.mark.slow) for n in SHIPPED])
def test_shipped_scenarios_solve_and_verify(name: str) -> None:
    sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    text = (ROOT / "scenarios" / f"{name}.yaml").read_text()
    assert text.startswith("#"), "every shipped scenario states its question in a header comment"
    result = solve(sc)
    verify(result)
    assert result.manifest["gap"] <= sc.solver.gap + 1e-9


@pytest.mark.parametrize("name", [n for n in SHIPPED if n != "baseline"])
def test_shipped_scenarios_solve_and_verify_on_generated_data(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each shipped one-year scenario, its data pointed at 2,000 generated households, solves within its gap and
    verifies (on the sample: the slow test above)."""
    from optimizer.generate import generate

    folder = tmp_path_factory.getbasetemp() / "shipped_data"
    if not folder.exists():
        generate(2000, seed=3, out=folder)
    sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml", overrides={"data": str(folder)})
    if sc.target.lifted is not None:  # a target in households of the sample's 20,000: the same share of 2,000
        sc = sc.with_overrides({"target.lifted": sc.target.lifted / 10})
    result = solve(sc)
    verify(result)
    assert result.manifest["gap"] <= sc.solver.gap + 1e-9


@pytest.fixture(scope="module")
def deadline_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from optimizer.generate import generate

    folder = tmp_path_factory.mktemp("deadline") / "data"
    generate(500, seed=2, out=folder)
    return folder


@pytest.mark.parametrize("name", DEADLINE)
def test_shipped_deadline_scenarios_solve_and_verify_from_the_cli(name: str, deadline_data: Path, tmp_path: Path) -> None:
    """Each shipped deadline_*.yaml, its data pointed at 500 generated households (`--set data=...`): `optimizer
    solve --out` exits 0 within the scenario's gap, and `optimizer verify` re-checks the folder from its manifest."""
    import json

    from typer.testing import CliRunner

    from optimizer.cli import app

    path = ROOT / "scenarios" / f"{name}.yaml"
    assert path.read_text().startswith("#"), "every shipped scenario states its question in a header comment"
    sc = load_scenario(path)
    assert sc.years is not None and sc.years.last == 2020
    runner = CliRunner()
    solved = runner.invoke(app, ["solve", str(path), "--set", f"data={deadline_data}", "--out", str(tmp_path / "run"), "--no-report"])
    assert solved.exit_code == 0, solved.output
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["multiyear"] and manifest["years"] == [sc.years.first, 2020] and manifest["households"] == 500
    assert manifest["gap"] <= sc.solver.gap + 1e-9 and manifest["scenario"]["name"] == name
    assert (manifest["monitored"] > 0) == (sc.years.monitoring is not None)
    checked = runner.invoke(app, ["verify", str(tmp_path / "run")])
    assert checked.exit_code == 0 and "verified (500 households" in " ".join(checked.output.split()), checked.output
    if name == "deadline_2020":  # and it checks: a household's cost changed in the folder is caught (exit 5)
        hh = tmp_path / "run" / "households.csv"
        lines = hh.read_text().splitlines()
        header, row = lines[0].split(","), lines[1].split(",")
        row[header.index("cost")] = str(float(row[header.index("cost")]) + 100.0)
        hh.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
        broken = runner.invoke(app, ["verify", str(tmp_path / "run")])
        assert broken.exit_code == 5 and "household cost differs" in broken.output, broken.output


def test_a_sweep_holds_the_fields_of_its_further_sets(deadline_data: Path, tmp_path: Path) -> None:
    """``sweep --set A=v1,v2 --set B=w``: B holds for every value of A. Before, the second --set replaced the
    first, and the "sweep" was one solve of w."""
    from typer.testing import CliRunner

    from optimizer.cli import app

    out = tmp_path / "sweep"
    argv = ["sweep", str(ROOT / "scenarios" / "baseline.yaml"), "--set", "poverty.line=3000,3500", "--set", f"data={deadline_data}", "--out", str(out)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "sweep.csv")
    assert table["poverty.line"].tolist() == [3000, 3500]
    assert (table["counties"] == 2).all() and (table["households expected lifted"] < 500).all()  # the 500 generated, not the sample
    assert table["households expected lifted"].iloc[0] > table["households expected lifted"].iloc[1]  # a higher line lifts fewer
    # an infeasible value is an empty column with a warning (the sweep stopped, and wrote none of the values it had
    # solved); when every value is, the sweep fails as one solve does (exit 3)
    held = ["--set", f"data={deadline_data}", "--out", str(out)]
    lift_all = str(ROOT / "scenarios" / "min_cost_lift_all.yaml")
    some = CliRunner().invoke(app, ["sweep", lift_all, "--set", "target.lifted=10,100000", *held])
    assert some.exit_code == 0, some.output
    assert "warning: target.lifted=100000: infeasible" in " ".join(some.output.split())
    table = pd.read_csv(out / "sweep.csv")
    assert table["status"].tolist() == ["optimal", "infeasible"] and table["cost (yuan)"].isna().tolist() == [False, True]
    none = CliRunner().invoke(app, ["sweep", lift_all, "--set", "target.lifted=90000,100000", *held])
    assert none.exit_code == 3 and "target.lifted=90000: infeasible" in " ".join(none.output.split()), none.output


@pytest.mark.parametrize(
    "command",
    [["marginal", "scenarios/baseline.yaml"], ["compare", "scenarios/baseline.yaml", "scenarios/education_first.yaml"],
     ["sweep", "scenarios/baseline.yaml", "--set", "funds.level.central=x0.8,x1"]],  # fmt: skip
)
def test_a_what_if_never_writes_into_a_run_folder(tmp_path: Path, command: list[str]) -> None:
    """``marginal --out RUN_DIR`` overwrote the run's own marginal.csv (a result table); compare and sweep would add
    their files to the run's record. A run folder is refused before any solve (exit code 2), untouched."""
    from typer.testing import CliRunner

    from optimizer.cli import app

    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text("{}")
    (run / "marginal.csv").write_text("fund_id,shadow_price\nF1,0.5\n")
    result = CliRunner().invoke(app, [command[0], *[str(ROOT / a) if a.endswith(".yaml") else a for a in command[1:]], "--out", str(run)])
    assert result.exit_code == 2 and "is a run folder" in result.output, result.output
    assert sorted(p.name for p in run.iterdir()) == ["manifest.json", "marginal.csv"]
    assert (run / "marginal.csv").read_text() == "fund_id,shadow_price\nF1,0.5\n"


@pytest.mark.parametrize(
    ("name", "option", "said"),
    [("baseline.yaml", ["--top", "0"], "(top, --top) must be at least 1"), ("baseline.yaml", ["--amount", "-5"], "(amount, --amount) must be a positive"),
     ("baseline.yaml", ["--amount", "1.0000001e12"], "(amount, --amount) must be a positive number of yuan, at most 1e+12, got 1000000100000.0"),
     ("min_cost_lift_all.yaml", [], "is in min_cost mode: its shadow prices are yuan saved per yuan, not households lifted")],  # fmt: skip
)
def test_marginal_refuses_its_bad_options_before_any_solve(tmp_path: Path, name: str, option: list[str], said: str) -> None:
    """``--top 0`` ended in a KeyError and ``--amount -5`` in a data-edit message, both after a full solve; ``--amount
    1e13`` blamed a data edit the user never wrote, and a min-cost scenario's answer counted yuan as households
    (fuzzing pass 13)."""
    from typer.testing import CliRunner

    from optimizer.cli import app

    result = CliRunner().invoke(app, ["marginal", str(ROOT / "scenarios" / name), *option, "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and said in " ".join(result.output.split()), result.output
    assert result.output.startswith("error:") and not (tmp_path / "m").exists()  # no progress of a solve before it


@pytest.mark.parametrize(
    ("args", "said"),
    [(["compare", "baseline.yaml"], "compare needs two or more scenarios, got 1"),
     (["compare", "baseline.yaml", "baseline.yaml"], "'baseline' given more than once: each names a column"),
     (["sweep", "baseline.yaml", "--set", "poverty.line=3500,abc"], "poverty.line=abc: poverty.line: Input should be a valid number"),
     (["compare", "baseline.yaml", "education_first.yaml", "--out", "FILE"], "is a file, not a folder"),
     (["sweep", "baseline.yaml", "--set", "poverty.line=3500", "--out", "FILE"], "is a file, not a folder"),
     (["sweep", "baseline.yaml", "--set", "poverty.line=3500,3600", "--set", "poverty.line=3700"], "poverty.line is the field swept (the first --set)"),
     (["sweep", "baseline.yaml", "--set", "poverty.line=3500,3600", "--set", "solver.gap=abc"], "solver.gap (given on the command line (--set, --from-year) or by overrides=, not in the file): Input should be a valid number"),
     (["export-model", "baseline.yaml", "DIR.lp"], "DIR.lp: is a folder; name a model file to write"),
     (["nightly", "--db", "DB", "--scenario", "nightly.yaml", "--wait", "-1"], "must be a number of seconds, at least 0 (-1.0"),
     (["nightly", "--db", "DB", "--scenario", "nightly.yaml", "--wait", "nan"], "must be a number of seconds, at least 0 (nan")],  # fmt: skip
)
def test_what_ifs_refuse_what_they_cannot_finish_before_any_solve(tmp_path: Path, args: list[str], said: str) -> None:
    """One scenario to compare, two of the same name (one column held the second's figures under the first's
    name), a sweep value that is not a number (found after the values before it were solved), an --out or a model
    file that cannot be written (found after every solve), a negative wait or one of nan: each refused first, with exit code 2."""
    from typer.testing import CliRunner

    from optimizer.cli import app

    (tmp_path / "FILE").write_text("x")
    (tmp_path / "DIR.lp").mkdir()
    paths = {"FILE": str(tmp_path / "FILE"), "DIR.lp": str(tmp_path / "DIR.lp"), "DB": f"sqlite:///{tmp_path / 'x.db'}"}
    argv = [str(ROOT / "scenarios" / a) if a.endswith(".yaml") else paths.get(a, a) for a in args]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2 and said in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output and not (tmp_path / "x.db").exists()


def test_numbers_from_numpy_are_numbers_and_booleans_are_not() -> None:
    """A sweep over ``np.arange`` gives numpy integers, which count as numbers; YAML's true does not (it was read
    as 1: a poverty line of 1 yuan)."""
    import numpy as np

    from optimizer.errors import InputError
    from optimizer.scenario import Scenario

    sc = Scenario(name="x", data="d")
    assert sc.with_overrides({"plans.max_per_household": np.int64(4)}).plans.max_per_household == 4
    with pytest.raises(InputError, match="poverty.line: Value error, a number is needed, not true or false"):
        sc.with_overrides({"poverty.line": True})


def test_what_if_tables_print_figures_whole_and_as_planners_read_them() -> None:
    """The compare table on a pipe (80 columns): a gap as a percentage, counts and yuan whole, no cell cut short."""
    from optimizer import cli

    names = [f"a_scenario_with_a_long_name_{i}" for i in range(3)]
    table = pd.DataFrame({n: ["optimal", 0.000171, 223_806_180.0, 8.0, 15_665.37] for n in names}, index=["status", "gap", "cost (yuan)", "counties", "lifted"])
    with cli.out_console.capture() as captured:
        cli._print_frame(table, "scenarios compared")
    shown = captured.get()
    assert "…" not in shown and all(n in shown for n in names), shown
    assert "0.0171%" in shown and "223,806,180 " in shown and " 8 " in shown and "15,665.4" in shown, shown


def test_compare_and_sweep_from_the_api(tiny, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Compare and sweep through one session; a sweep value with the settings of a scenario solved before (the cut)
    is that result under the sweep's name, not a second solve."""
    import optimizer.compare as compare_module

    solved: list[str] = []
    real_solve = compare_module.solve
    monkeypatch.setattr(compare_module, "solve", lambda sc, *a, **kw: solved.append(sc.name) or real_solve(sc, *a, **kw))
    base = tiny_scenario()
    session = Session()
    session._instances[base.data_source] = tiny
    cut = base.with_overrides({"funds.level.central": "x0.5", "name": "cut"})
    table, results = compare([base, cut], session)
    assert list(table.columns) == ["tiny", "cut"]
    assert table.loc["households expected lifted", "cut"] < table.loc["households expected lifted", "tiny"]
    path, values = parse_set("funds.level.central=x0.5,x1,x1.5")
    curve, swept = sweep(base, path, values, session)
    assert solved == ["tiny", "cut", "tiny", "tiny"]  # x0.5 was the cut's settings
    assert swept[0].manifest["scenario_name"] == "tiny" and swept[0].tables["households"].equals(results[1].tables["households"])
    assert swept[0].manifest["scenario"]["data_edits"] == {"funds.level.central": "x0.5"}
    results[1].tables["households"]["plan"] = "edited"  # a caller's edit does not reach the session's copy
    results[1].manifest["helpers"]["households_short"] = -1  # nor of the manifest's sections (fuzzing pass 10)
    again = session.solve_any(cut)
    assert (again.tables["households"]["plan"] != "edited").all() and again.manifest["helpers"]["households_short"] >= 0 and len(solved) == 4
    lifted = curve["households expected lifted"].to_numpy()
    assert (lifted[1:] >= lifted[:-1] - 1e-9).all()
    cold, _ = sweep(base.with_overrides({"solver.warm_start": False}), path, values, session)
    assert len(solved) == 7
    assert cold["households expected lifted"].to_numpy() == pytest.approx(lifted, rel=1e-6)
    with pytest.raises(InputError, match="PATH=V1,V2"):
        parse_set("nothing")
    # an infeasible scenario or swept value is named (it was not: which one to fix?)
    nothing = {f"funds.level.{level}": "x0" for level in ("central", "province", "city", "county", "township", "village")}
    broke = base.with_overrides({**nothing, "name": "broke"})
    with pytest.raises(InfeasibleError, match=r"^scenario 'broke': infeasible"):
        compare([base, broke], session)
    only_county = base.with_overrides({k: v for k, v in nothing.items() if k != "funds.level.county"})
    with pytest.raises(InfeasibleError, match=r"^funds.level.county=x0: infeasible"):
        sweep(only_county, "funds.level.county", ["x10", "x0"], session)
    # or, asked to, the sweep goes on: the infeasible value is a row without figures, its error in place of a result
    # (the command line wrote nothing of the values it had solved)
    curve, swept = sweep(only_county, "funds.level.county", ["x0", "x10"], session, skip_infeasible=True)
    assert list(curve["status"]) == ["infeasible", "optimal"] and curve.loc[0, "households expected lifted"] != curve.loc[0, "households expected lifted"]
    assert isinstance(swept[0], InfeasibleError) and str(swept[0]).startswith("funds.level.county=x0: infeasible")
    assert not isinstance(swept[1], InfeasibleError) and swept[1].manifest["expected_lifted"] == curve.loc[1, "households expected lifted"]


def test_compare_and_sweep_solve_multiyear_scenarios() -> None:
    """A scenario with a years: section is compared and swept by the multi-year model (the session verifies each
    result with verify_multiyear) and summarized by its own figures: the same money front-loaded leaves more households
    out of poverty at the deadline than back-loaded and spends more in the first year; beside a one-year scenario
    each column keeps its own rows; the charts plot the figure each scenario has. `marginal` refuses it, naming the
    sweep that answers its question."""
    from optimizer.charts import comparison, sweep_curve
    from optimizer.data import build_instance
    from optimizer.generate import generate
    from optimizer.marginal import next_money

    instance = build_instance(generate(200, seed=11))
    years = tiny_scenario(helpers={"assign": False}, solver={"gap": 0.005}, years={"first": 2018, "last": 2020, "delay_by_batch": {"education": 1}})
    session = Session()
    session._instances[years.data_source] = instance
    path, values = parse_set("years.profile=front_loaded,even,back_loaded")
    curve, results = sweep(years, path, values, session)
    assert [r.manifest["scenario"]["years"]["profile"] for r in results] == ["front_loaded", "even", "back_loaded"]  # type: ignore[union-attr]
    out = curve["households expected out at the deadline"].to_numpy()
    assert out[0] > out[2] and "households expected lifted" not in curve.columns
    assert curve["spent in 2018"].iloc[0] > curve["spent in 2018"].iloc[2]
    starts = curve[[f"households starting in {y}" for y in (2018, 2019, 2020)]].sum(axis=1) + curve["households never started"]
    assert (starts == 200).all() and (curve["counties"] == 1).all()
    one_year = years.model_copy(update={"years": None, "name": "one year"})
    table, _ = compare([years.with_overrides({"name": "deadline"}), one_year], session)
    assert table.loc["households expected out at the deadline", "deadline"] == pytest.approx(out[1])
    assert table.loc["households expected lifted", "one year"] > 0 and pd.isna(table.loc["households expected lifted", "deadline"])
    assert pd.isna(table.loc["spent in 2018", "one year"])
    bars = [p.get_height() for p in comparison(table).axes[0].patches]
    assert bars == pytest.approx([out[1], table.loc["households expected lifted", "one year"]])
    assert list(sweep_curve(curve, path).axes[0].lines[0].get_ydata()) == pytest.approx(out)
    with pytest.raises(InputError, match="optimizer sweep SCENARIO --set funds.add.REGION"):  # one-year shadow prices only
        next_money(years, 10_000_000)


def test_a_what_if_on_money_starts_its_lp_from_the_last_lp_optimum(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a session, the LP of a scenario that changes only money starts from the previous scenario's optimal LP
    basis (the shadow prices' LP, with the projects fixed, keeps a basis of its own), so it takes far fewer simplex
    iterations than from scratch, to the same optimum."""
    from optimizer.data import build_instance
    from optimizer.generate import generate
    from optimizer.solvers import highs

    lps: list[tuple[bool, int, float]] = []  # (warm, iterations, objective) of each relaxation solve
    solve_lp = highs.HighsBackend.solve

    def recorded(self, model, options):  # type: ignore[no-untyped-def]
        out = solve_lp(self, model, options)
        if not model.integer.any() and not options.duals and options.keep:
            lps.append((options.warm, out.iterations, out.objective))
        return out

    monkeypatch.setattr(highs.HighsBackend, "solve", recorded)
    instance = build_instance(generate(3000, seed=5))
    recorded_warm = []
    for warm in (True, False):
        base = tiny_scenario(helpers={"assign": False}, solver={"warm_start": warm, "gap": 1e-3})
        session = Session()
        session._instances[base.data_source] = instance
        for factor in ("x1", "x0.9"):
            result = session.solve(base.with_overrides({"funds.level.central": factor}))
            verify(result)
            recorded_warm.append(result.manifest["warm_start"])
    (w0, _, _), (w1, it_warm, obj_warm), (c0, _, _), (c1, it_cold, obj_cold) = lps
    assert w0 and w1 and not c0 and not c1
    # the manifest says whether the LP started warm, not whether it was asked to (the first solve said so: fuzzing)
    assert recorded_warm == [False, True, False, False]
    assert obj_warm == pytest.approx(obj_cold, rel=1e-9)
    assert it_warm < it_cold / 6  # 306 against 3,670 (942 when the next LP started from the shadow prices' basis)


def test_next_money_prediction_agrees_with_a_re_solve(tmp_path: Path) -> None:
    """Shadow price x amount predicts the gain of adding the money at the best county, within the gap."""
    from optimizer.contract import Level
    from optimizer.generate import generate
    from optimizer.marginal import next_money
    from optimizer.scenario import Scenario

    generate(1000, seed=9, out=tmp_path / "d")  # 4.4 s; 2,000 households took 87 s (the MIP's last 0.01% of gap)
    sc = Scenario.model_validate({"name": "m", "data": str(tmp_path / "d"), "solver": {"gap": 1e-4}})
    table = next_money(sc, 50_000, Level.COUNTY, top=2)
    best = table.iloc[0]
    objective = 1000.0
    tolerance = 2 * 1e-4 * objective + 0.05 * best["predicted_gain"]
    assert best["predicted_gain"] > 0
    assert abs(best["objective_gain"] - best["predicted_gain"]) <= tolerance
    assert (table["objective_gain"] <= table["predicted_gain"] + 2 * 1e-4 * objective).all()


def test_equity_rules_and_western_targets(tmp_path: Path) -> None:
    from optimizer.generate import generate
    from optimizer.scenario import Scenario

    generate(1500, seed=6, out=tmp_path / "d")
    base = {"name": "e", "data": str(tmp_path / "d")}
    plain = solve(Scenario.model_validate(base))
    capped = solve(Scenario.model_validate({**base, "equity": {"max_cost_per_household": 45000, "min_county_coverage": 0.9}}))
    verify(capped)
    assert capped.households["cost"].max() <= 45000
    regions = capped.regions
    assert capped.manifest["objective"] <= plain.manifest["objective"] + 1e-6
    helped = (capped.households["measures"] != "none").groupby(capped.households["village_id"].str.slice(0, 9)).mean()
    assert (helped >= 0.9 - 1e-9).all()
    west = solve(Scenario.model_validate({**base, "mode": "min_cost", "target": {"county_incidence": 0.12, "county_incidence_western": 0.2}}))
    verify(west)
    assert west.manifest["objective"] > 0 and len(regions) > 0


def test_a_data_edit_number_in_exponent_form_is_a_number() -> None:
    """YAML reads 1e6 (no dot) as text: a data edit given so was refused as 'expected a factor like x0.8 or a number'."""
    from optimizer.scenario import Scenario

    sc = Scenario.model_validate({"name": "e", "data": "d", "data_edits": {"funds.add.P01": "1e6", "funds.fund.F": "x0.5", "measures.m.enabled": False}})
    assert sc.data_edits == {"funds.add.P01": 1e6, "funds.fund.F": "x0.5", "measures.m.enabled": False}


def test_a_target_its_mode_never_reads_is_a_warning(tmp_path: Path) -> None:
    """target.lifted in mode max_lifted was accepted and ignored without a word (fuzzing pass 8): validate and solve
    now warn, and a min-cost scenario with it does not."""
    from typer.testing import CliRunner

    from optimizer.cli import app
    from optimizer.generate import generate

    generate(300, seed=3, out=tmp_path / "d")
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\ndata: {tmp_path / 'd'}\ntarget: {{lifted: 50}}\n")
    said = "target.lifted is the target of mode min_cost; mode max_lifted does not read it"
    for args in (["validate", str(path)], ["solve", str(path), "--out", str(tmp_path / "run"), "--no-report"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0 and said in " ".join(result.output.split()), result.output
    assert load_scenario(path, overrides={"mode": "min_cost"}).unused_settings() == []
    # a carry-over cap without carry_over: capped (fuzzing pass 11)
    years = {"years": {"first": 2016, "last": 2018, "carry_over": "full", "carry_cap": 0.5}}
    cap_said = "years.carry_cap caps carry_over: capped; carry_over: full does not read it"
    assert f"{cap_said} (set carry_over: capped to cap it)" in load_scenario(path, overrides=years).unused_settings()
    assert not any("carry_cap" in w for w in load_scenario(path, overrides={**years, "years.carry_over": "capped"}).unused_settings())
