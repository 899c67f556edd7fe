"""Command-line interface: parse, call the API, print. Exit codes: 0 solved, 2 bad input, 3 infeasible,
4 no solution within the time limit, 5 verification failed, 1 anything unexpected."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from .edits import apply_data_edits
from .errors import OptimizerError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Precision poverty alleviation optimizer.")
console = Console(stderr=True)
out_console = Console()
_debug = False


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks on errors")] = False) -> None:
    global _debug
    _debug = debug
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@contextmanager
def _errors() -> Iterator[None]:
    """Print our errors as messages and exit with their code; tracebacks only with --debug."""
    try:
        yield
    except OptimizerError as err:
        if _debug:
            console.print_exception()
        console.print(f"[bold red]error:[/] {err}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(err.exit_code) from None
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        raise typer.Exit(130) from None


def _progress() -> Callable[[str], None]:
    start = time.perf_counter()

    def say(msg: str) -> None:
        console.print(f"[dim]{time.perf_counter() - start:7.1f}s[/] {msg}", highlight=False)

    return say


@app.command()
def solve(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    solver: Annotated[Optional[str], typer.Option(help="highs (default), pulp or ortools")] = None,
    out: Annotated[Optional[Path], typer.Option(help="run folder (default out/<scenario name>)")] = None,
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="seconds")] = None,
    gap: Annotated[Optional[float], typer.Option(help="relative MIP gap, e.g. 0.001")] = None,
    report: Annotated[bool, typer.Option("--report/--no-report", help="write report.html into the run folder")] = True,
) -> None:
    """Solve a scenario, verify the result and write the run folder (with report.html)."""
    import optimizer as api

    with _errors():
        say = _progress()
        sc = api.load_scenario(scenario)
        result = api.solve(sc, solver=solver, time_limit=time_limit, gap=gap, progress=say)
        say("verifying the result")
        api.verify(result)
        target = out or Path("out") / sc.name
        api.write_run(result, target)
        say(f"wrote {target}")
        if report:
            from .report import write_report

            say(f"wrote {write_report(target, result)}")
        _summary(result.manifest, result.summary_by_level())


@app.command()
def validate(scenario: Annotated[Path, typer.Argument(help="scenario YAML file")]) -> None:
    """Check a scenario and its data without solving."""
    import optimizer as api

    with _errors():
        sc = api.load_scenario(scenario)
        inst = apply_data_edits(api.load_instance(sc.data_path), sc.data_edits)
        out_console.print(
            f"ok: scenario '{sc.name}', {inst.n_households:,} households, {len(inst.tree.ids):,} regions, "
            f"{len(inst.measures)} measures, {len(inst.projects):,} projects, {len(inst.funds):,} funds, {len(inst.helpers):,} helpers"
        )


@app.command()
def verify(run_dir: Annotated[Path, typer.Argument(help="run folder written by solve")]) -> None:
    """Recompute every constraint and the objective of a run from its files and inputs."""
    import optimizer as api

    with _errors():
        result = api.verify_run(run_dir)
        m = result.manifest
        out_console.print(f"ok: {run_dir} verified ({m['households']:,} households, objective {m['objective']:,.4f})")


@app.command("compare")
def compare_cmd(
    scenarios: Annotated[list[Path], typer.Argument(help="two or more scenario YAML files")],
    out: Annotated[Path, typer.Option(help="folder for compare.csv and compare.svg")] = Path("out/compare"),
) -> None:
    """Solve scenarios side by side; print and write the comparison table and chart."""
    import optimizer as api

    from .compare import Session, compare, comparison_chart, write_outputs

    with _errors():
        loaded = [api.load_scenario(s) for s in scenarios]
        table, _ = compare(loaded, Session(progress=_progress()))
        _print_frame(table, "scenarios compared")
        say = _progress()
        written = write_outputs(table, comparison_chart(table), out, "compare", "Scenarios compared")
        say("wrote " + ", ".join(map(str, written)))


@app.command("sweep")
def sweep_cmd(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    set_: Annotated[str, typer.Option("--set", help="PATH=V1,V2,... e.g. funds.level.central=x0.6,x0.8,x1")],
    out: Annotated[Path, typer.Option(help="folder for sweep.csv and sweep.svg")] = Path("out/sweep"),
) -> None:
    """Solve one scenario for each value of a field; write the curve of households lifted."""
    import optimizer as api

    from .compare import Session, parse_set, sweep, sweep_chart, write_outputs

    with _errors():
        path, values = parse_set(set_)
        table, _ = sweep(api.load_scenario(scenario), path, values, Session(progress=_progress()))
        _print_frame(table.set_index(path).T, f"sweep of {path}")
        say = _progress()
        written = write_outputs(table.set_index(path), sweep_chart(table, path), out, "sweep", f"Sweep of {path}")
        say("wrote " + ", ".join(map(str, written)))


@app.command("marginal")
def marginal_cmd(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    amount: Annotated[float, typer.Option(help="extra yuan to place")] = 10_000_000,
    level: Annotated[str, typer.Option(help="level of the candidate regions")] = "county",
    top: Annotated[int, typer.Option(help="candidates to re-solve")] = 3,
    out: Annotated[Path, typer.Option(help="folder for marginal.csv")] = Path("out/marginal"),
) -> None:
    """Where would AMOUNT more yuan lift most? Rank regions by shadow price, re-solve the best with the money added."""
    import optimizer as api

    from .compare import Session
    from .contract import Level
    from .errors import InputError
    from .marginal import next_money
    from .outputs import atomic_write_text

    with _errors():
        names = {lv.name.lower(): lv for lv in Level}
        if level not in names:
            raise InputError(f"--level must be one of {', '.join(names)}")
        table = next_money(api.load_scenario(scenario), amount, names[level], top, Session(progress=_progress()))
        _print_frame(table.set_index("region_id").T, f"where {amount:,.0f} more yuan lifts most")
        out_console.print(f"wrote {atomic_write_text(out / 'marginal.csv', table.to_csv(index=False, lineterminator=chr(10)))}")


def _print_frame(df: Any, title: str) -> None:
    t = Table(title=title)
    t.add_column("")
    for col in df.columns:
        t.add_column(str(col), justify="right")
    for name, row in df.iterrows():
        t.add_row(str(name), *[f"{v:,.4g}" if isinstance(v, float) and abs(v) < 1 else (f"{v:,.1f}" if isinstance(v, float) else str(v)) for v in row])
    out_console.print(t)


@app.command("export-model")
def export_model(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    out: Annotated[Path, typer.Argument(help="model file to write: .lp or .mps")],
) -> None:
    """Write the scenario's model with named rows and columns (budget/<fund>, balance/<village>/<category>, ...)."""
    import optimizer as api

    from .model import build_model
    from .plans import build_plans
    from .solvers.highs import write_model

    with _errors():
        sc = api.load_scenario(scenario)
        inst = apply_data_edits(api.load_instance(sc.data_path), sc.data_edits)
        model, index = build_model(inst, sc, build_plans(inst, sc))
        write_model(model, str(out), index.col_names(), index.row_names())
        out_console.print(f"wrote {out}: {model.shape[1]:,} columns, {model.shape[0]:,} rows")


@app.command("report")
def report_cmd(run_dir: Annotated[Path, typer.Argument(help="run folder written by solve")]) -> None:
    """Write the self-contained HTML report of a run folder (RUN_DIR/report.html)."""
    from .report import write_report

    with _errors():
        out_console.print(f"wrote {write_report(run_dir)}")


@app.command()
def generate(
    households: Annotated[Optional[int], typer.Option(help="number of poor households (default 20000; 30000000 with --national)", min=1)] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    provinces: Annotated[Optional[int], typer.Option(help="number of provinces (default 1; 31 with --national)", min=1)] = None,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("data/generated"),
    partitioned: Annotated[
        bool, typer.Option("--partitioned", help="stream to partitioned Parquet (households, projects, helpers by province and county)")
    ] = False,
    national: Annotated[
        bool,
        typer.Option("--national", help="national shape: about 330 cities, 2,800 counties, 500,000 villages at 30 million households; implies --partitioned"),
    ] = False,
) -> None:
    """Write a synthetic instance to OUT: six CSV tables, or partitioned Parquet streamed county by county
    (--partitioned, --national); the same arguments give the same bytes."""
    from .generate import NATIONAL, NATIONAL_HOUSEHOLDS, NATIONAL_PROVINCES, generate_partitioned
    from .generate import generate as gen

    with _errors():
        say = _progress()
        n = households or (NATIONAL_HOUSEHOLDS if national else 20000)
        p = provinces or (NATIONAL_PROVINCES if national else 1)
        say(f"generating {n:,} households in {p} province(s) (seed {seed})")
        if partitioned or national:
            counts = generate_partitioned(n, out, seed=seed, provinces=p, shape=NATIONAL if national else None, progress=say)
            say(f"wrote {out} (partitioned Parquet): " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        else:
            tables = gen(n, seed=seed, provinces=p, out=out)
            say(f"wrote {out}: " + ", ".join(f"{k} {len(v):,}" for k, v in tables.items()))


def _summary(manifest: dict[str, Any], by_level: Any) -> None:
    t = Table(title=f"{manifest['scenario_name']}: {manifest['status']}", show_header=False)
    t.add_column("what")
    t.add_column("value", justify="right")
    t.add_row("households", f"{manifest['households']:,}")
    t.add_row("expected lifted", f"{manifest['expected_lifted']:,.1f} ({manifest['expected_lifted'] / manifest['households']:.1%})")
    t.add_row("persons expected lifted", f"{manifest['persons_lifted']:,.1f}")
    t.add_row("cost (yuan)", f"{manifest['cost']:,.0f}")
    t.add_row("objective / bound", f"{manifest['objective']:,.3f} / {manifest['bound']:,.3f}")
    t.add_row("gap", f"{manifest['gap']:.4%}")
    if manifest.get("structured_bound") is not None:
        t.add_row("structured bound (no solver)", f"{manifest['structured_bound']:,.3f}")
    t.add_row("projects built", f"{manifest['projects_built']:,}")
    t.add_row("solver", f"{manifest['solver']} ({manifest['solver_version']})")
    t.add_row("time (s)", ", ".join(f"{k} {v:.1f}" for k, v in manifest["timings"].items()))
    out_console.print(t)
    lv = Table(title="money by level (yuan)")
    for col in ("level", "available", "spent", "used"):
        lv.add_column(col, justify="right" if col != "level" else "left")
    for level, row in by_level.iterrows():
        lv.add_row(str(level), f"{row['amount']:,.0f}", f"{row['spent']:,.0f}", f"{row['spent'] / max(row['amount'], 1):.1%}")
    out_console.print(lv)


def run() -> None:
    """Entry point that also turns unexpected errors into exit code 1 with a short message."""
    try:
        app()
    except SystemExit:
        raise
    except Exception as err:  # noqa: BLE001 - last-resort guard for the CLI only
        if _debug:
            raise
        console.print(f"[bold red]unexpected error:[/] {type(err).__name__}: {err} (run with --debug for the traceback)")
        sys.exit(1)


if __name__ == "__main__":
    run()
