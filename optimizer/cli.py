"""Command-line interface: parse, call the API, print. Exit codes: 0 solved, 2 bad input, 3 infeasible,
4 no solution within the time limit, 5 verification failed, 6 another nightly job holds the lock, 7 nightly
allocation not published (gap above tolerance), 8 over the memory limit, 9 reproduce found a different table,
1 anything unexpected."""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from .edits import load_scenario_data
from .errors import BusyError, InputError, InterruptedAfterWriting, OptimizerError, ResourceLimitError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Precision poverty alleviation optimizer.")
# no markup: messages carry user text (ids, paths, values) that must print as written, brackets included
console = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)
out_console = Console(markup=False)
_debug = False


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks on errors")] = False) -> None:
    global _debug
    _debug = debug
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


MEMORY_ADVICE = "lower plans.max_per_household or split the run by county (the decomposed method, where available)"


@contextmanager
def _errors(memory_advice: str = MEMORY_ADVICE, database: str | None = None) -> Iterator[None]:
    """Print our errors as messages and exit with their code; tracebacks only with --debug. ``memory_advice``: what
    to do when memory runs out, for the command at hand; ``database``: the URL a refusal of the database names."""
    try:
        yield
    except OptimizerError as err:
        if _debug:
            console.print_exception()
        _say("error: ", str(err), "bold red")
        raise typer.Exit(err.exit_code) from None
    except SQLAlchemyError as err:
        if _debug:
            console.print_exception()
        from .storage import redact, refusal

        first = refusal(err)
        which = f" {redact(database)}" if database else ""
        if "database is locked" in first:  # SQLite's busy timeout ran out: another job (a night publishing) writes
            busy = BusyError(f"the database{which} is busy: another job, such as a night writing its version, held its write lock for the whole "
                             "wait; nothing of this command was kept; run it again")  # fmt: skip
            _say("error: ", str(busy), "bold red")
            raise typer.Exit(busy.exit_code) from None
        why = f"the database{which} refused the operation: {first} (check that it is writable and reachable; nothing of this command was kept)"
        _say("error: ", why, "bold red")
        raise typer.Exit(2) from None
    except MemoryError:
        if _debug:
            console.print_exception()
        limit = ResourceLimitError(
            f"out of memory: the run needed more memory than this machine (or --max-memory) allows; {memory_advice}"
        )
        _say("error: ", str(limit), "bold red")
        raise typer.Exit(limit.exit_code) from None
    except KeyboardInterrupt as err:
        written = f": {err.path} was written whole before it" if isinstance(err, InterruptedAfterWriting) else ""
        _say("interrupted", written, "red")
        raise typer.Exit(130) from None
    except OSError as err:  # the file system refused (read-only, full, not permitted): not a bug of ours
        if _debug:
            console.print_exception()
        where = f"{err.filename}" + (f" -> {err.filename2}" if err.filename2 else "") if err.filename else ""
        _say("error: ", f"{err.strerror or err}{': ' + where if where else ''} (our files are written whole or not at all)", "bold red")
        raise typer.Exit(2) from None


def _say(prefix: str, message: str, style: str) -> None:
    """A styled prefix and the message as plain text on stderr."""
    console.print(Text.assemble((prefix, style), message))


def _progress() -> Callable[[str], None]:
    start = time.perf_counter()

    def say(msg: str) -> None:
        _say(f"{time.perf_counter() - start:7.1f}s ", msg, "dim")

    return say


SetOption = Annotated[Optional[list[str]], typer.Option("--set", help="PATH=VALUE override, e.g. funds.level.central=x0.8 (repeatable)")]
MaxInputOption = Annotated[Optional[float], typer.Option("--max-input-mb", help="largest input file in MB (default 100)")]
FromYearOption = Annotated[
    Optional[int], typer.Option("--from-year", min=1, max=9999, help="multi-year: keep the previous run's decisions before this year")
]
PreviousOption = Annotated[Optional[Path], typer.Option(help="multi-year: run folder whose earlier years are kept (with --from-year)")]


def _load(scenario: Path, set_: list[str] | None, **limits: float | None) -> Any:
    """The scenario with ``--set`` overrides and the limits given on the command line (recorded in the manifest)."""
    import optimizer as api

    from .scenario import parse_assignments

    overrides = parse_assignments(set_ or [])
    overrides.update({f"limits.{k}": v for k, v in limits.items() if v is not None})
    return api.load_scenario(scenario, overrides=overrides)


@app.command()
def solve(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    solver: Annotated[Optional[str], typer.Option(help="highs (default), pulp or ortools")] = None,
    out: Annotated[Optional[Path], typer.Option(help="run folder (default out/<scenario name>)")] = None,
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="seconds")] = None,
    gap: Annotated[Optional[float], typer.Option(help="relative MIP gap, e.g. 0.001")] = None,
    set_: SetOption = None,
    max_memory: Annotated[Optional[float], typer.Option("--max-memory", help="MB the solve may use (default 80% of physical memory)")] = None,
    max_input_mb: MaxInputOption = None,
    report: Annotated[bool, typer.Option("--report/--no-report", help="write report.html into the run folder")] = True,
    method: Annotated[
        str,
        typer.Option(
            help="auto (decomposed from 40,000 households; multi-year from 10,000, a multi-year re-plan from 40,000), "
            "monolithic or decomposed (by county, on Dask)"
        ),
    ] = "auto",
    scheduler: Annotated[Optional[str], typer.Option(help="decomposed: address of an existing Dask scheduler (default: a local cluster)")] = None,
    workers: Annotated[int, typer.Option(help="decomposed: workers of the local Dask cluster", min=1)] = 2,
    from_year: FromYearOption = None,
    previous: PreviousOption = None,
) -> None:
    """Solve a scenario, verify the result and write the run folder (with report.html)."""
    import optimizer as api

    from .limits import cap_process_memory
    from .outputs import check_target
    from .result import gap_note

    with _errors():
        say = _progress()
        sc = _load(scenario, set_, max_memory_mb=max_memory, max_input_mb=max_input_mb)
        for warning in sc.unused_settings():
            _say("warning: ", warning, "yellow")
        if sc.limits.max_memory_mb is not None:
            cap_process_memory(sc.limits.max_memory_mb)
        if sc.years is not None or from_year is not None or previous is not None:
            from .multiyear import run_multiyear

            run_multiyear(sc, out=out, solver=solver, time_limit=time_limit, gap=gap, previous=previous, from_year=from_year, progress=say, report=report,
                          method=method, scheduler=scheduler, workers=workers)  # fmt: skip
            return
        target = out or Path("out") / sc.name
        check_target(target)
        result = api.solve(sc, solver=solver, time_limit=time_limit, gap=gap, progress=say, method=method, scheduler=scheduler, workers=workers)
        say("verifying the result")
        api.verify(result)
        from .report import REPORT, write_with_report

        write_with_report(lambda page: api.write_run(result, target, report_page=page), result, report)
        say(f"wrote {target}" + (f" with its {REPORT}" if report else ""))
        _summary(result.manifest, result.summary_by_level())
        note = gap_note(result.manifest, gap if gap is not None else sc.solver.gap)
        if note:
            _say("note: ", note, "yellow")


@app.command()
def validate(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")], set_: SetOption = None, max_input_mb: MaxInputOption = None
) -> None:
    """Check a scenario and its data without solving (a partitioned folder that solve would decompose: in batches
    of counties, never whole)."""
    import pandas as pd

    from .model import county_table
    from .multiyear import check_years, exit_schedule_warning
    from .partitioned import county_households, validate_partitioned
    from .solve import partitioned_source

    with _errors():
        sc = _load(scenario, set_, max_input_mb=max_input_mb)
        counts, how, folder = None, "", partitioned_source(sc)
        if folder is not None:
            counts, how = validate_partitioned(folder, progress=_progress()), ", checked in batches of counties"
        if counts is None:
            inst = load_scenario_data(sc)
            counts = {"households": inst.n_households, "regions": len(inst.tree.ids), "measures": len(inst.measures),
                      "projects": len(inst.projects), "funds": len(inst.funds), "helpers": len(inst.helpers)}  # fmt: skip
            measure_ids, county_ids = inst.measures["measure_id"], county_table(inst)["county_id"]
        else:
            assert folder is not None
            measure_ids, county_ids = pd.read_parquet(Path(folder) / "measures.parquet", columns=["measure_id"])["measure_id"], county_households(folder).index
        check_years(sc, measure_ids, county_ids, source=str(scenario))
        for warning in [*sc.unused_settings(), exit_schedule_warning(sc, county_ids)]:
            if warning:
                _say("warning: ", warning, "yellow")
        out_console.print(f"ok: scenario '{sc.name}', " + ", ".join(f"{v:,} {k}" for k, v in counts.items()) + how)


@app.command()
def verify(run_dir: Annotated[Path, typer.Argument(help="run folder written by solve")]) -> None:
    """Recompute every constraint and the objective of a run from its files and inputs."""
    import optimizer as api

    with _errors():
        result = api.verify_run(run_dir)
        m = result.manifest
        out_console.print(f"ok: {run_dir} verified ({m['households']:,} households, objective {m['objective']:,.4f})")


@app.command()
def reproduce(run_dir: Annotated[Path, typer.Argument(help="run folder written by solve")]) -> None:
    """Re-solve a run from its manifest on the same inputs (checked by hash) and compare every table byte for byte."""
    from .errors import NotReproducedError
    from .reproduce import reproduce as rerun

    with _errors():
        rep = rerun(run_dir, progress=_progress())
        for change in rep.version_changes:
            _say("note: ", f"version differs from the run: {change}", "yellow")
        if not rep.identical:
            why = f"\n{rep.why}" if rep.why else ""
            raise NotReproducedError(f"{run_dir} not reproduced; differences:\n" + "\n".join(f"  - {d}" for d in rep.differences) + why)
        out_console.print(f"reproduced {run_dir}: {len(rep.tables)} tables byte-identical ({', '.join(rep.tables)})")


@app.command("compare")
def compare_cmd(
    scenarios: Annotated[list[Path], typer.Argument(help="two or more scenario YAML files")],
    out: Annotated[Path, typer.Option(help="folder for compare.csv and compare.svg")] = Path("out/compare"),
) -> None:
    """Solve scenarios side by side; print and write the comparison table and chart."""
    import optimizer as api

    from .compare import Session, compare, comparison_chart, write_outputs
    from .outputs import check_not_a_run

    with _errors():
        check_not_a_run(out, "compare")
        loaded = [api.load_scenario(s) for s in scenarios]
        with Session(progress=_progress()) as session:  # its cluster, if a solve decomposed, stops with it
            table, _ = compare(loaded, session)
        _print_frame(table, "scenarios compared")
        say = _progress()
        written = write_outputs(table, comparison_chart(table), out, "compare", "Scenarios compared")
        say("wrote " + ", ".join(map(str, written)))


@app.command("sweep")
def sweep_cmd(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    set_: Annotated[
        list[str],
        typer.Option("--set", help="PATH=V1,V2,... the field swept, e.g. funds.level.central=x0.6,x0.8,x1; further --set PATH=VALUE: held"),
    ],
    out: Annotated[Path, typer.Option(help="folder for sweep.csv and sweep.svg")] = Path("out/sweep"),
) -> None:
    """Solve one scenario for each value of a field; write the curve of households lifted (an infeasible value:
    an empty column and a warning; exit 3 when every value is)."""
    from .compare import Session, parse_set, sweep, sweep_chart, write_outputs
    from .errors import InfeasibleError, InputError
    from .outputs import check_not_a_run

    with _errors():
        check_not_a_run(out, "sweep")
        path, values = parse_set(set_[0])
        twice = [item for item in set_[1:] if item.partition("=")[0].strip() == path]
        if twice:
            raise InputError(f"--set {twice[0]}: {path} is the field swept (the first --set); a further --set holds another field")
        held = _load(scenario, set_[1:])
        with Session(progress=_progress()) as session:
            table, results = sweep(held, path, values, session, skip_infeasible=True)
        infeasible = [r for r in results if isinstance(r, InfeasibleError)]
        if len(infeasible) == len(results):
            raise infeasible[0]
        _print_frame(table.set_index(path).T, f"sweep of {path}")
        for err in infeasible:
            _say("warning: ", f"{err} (its column is empty)", "yellow")
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
    from .outputs import atomic_write_text, check_not_a_run

    with _errors():
        check_not_a_run(out, "marginal")
        names = {lv.name.lower(): lv for lv in Level}
        if level not in names:
            raise InputError(f"--level must be one of {', '.join(names)}")
        with Session(progress=_progress()) as session:
            table = next_money(api.load_scenario(scenario), amount, names[level], top, session)
        _print_frame(table.set_index("region_id").T, f"where {amount:,.0f} more yuan lifts most")
        out_console.print(f"wrote {atomic_write_text(out / 'marginal.csv', table.to_csv(index=False, lineterminator=chr(10)))}")


def _print_frame(df: Any, title: str) -> None:
    t = Table(title=title)
    t.add_column("")
    for col in df.columns:
        t.add_column(str(col), justify="right")
    rows = [[str(name), *[_cell(str(name), v) for v in row]] for name, row in df.iterrows()]
    _print_whole(t, rows)


def _cell(what: str, v: Any) -> str:
    """A figure of the row ``what`` as a planner reads it: a gap as a percentage, counts and yuan whole."""
    if not isinstance(v, float):
        return str(v)
    if math.isnan(v):  # a swept value that was infeasible has no figures
        return "—"
    if "gap" in what:
        return f"{v:.4%}"
    if v.is_integer():
        return f"{v:,.0f}"
    return f"{v:,.4g}" if abs(v) < 1 else f"{v:,.1f}"


def _print_whole(t: Table, rows: list[list[str]]) -> None:
    """Print ``t`` with ``rows``, every cell whole: wider than the terminal (or the 80 columns of a pipe) the lines
    run on, where rich would cut figures and headers short."""
    for i, column in enumerate(t.columns):
        column.no_wrap = True
        column.min_width = max([len(str(column.header)), *(len(r[i]) for r in rows)])
    for r in rows:
        t.add_row(*r)
    out_console.print(t, crop=False)


@app.command("export-model")
def export_model(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    out: Annotated[Path, typer.Argument(help="model file to write: .lp or .mps")],
    set_: SetOption = None,
    from_year: FromYearOption = None,
    previous: PreviousOption = None,
) -> None:
    """Write the scenario's model with named rows and columns (budget/<fund>, balance/<village>/<category>, ...; with
    years: the multi-year model, budget/<fund>/<year>, ...; with --from-year and --previous: the re-plan's, its kept
    decisions fixed by their columns' bounds)."""
    from .errors import InputError
    from .model import build_model
    from .outputs import check_can_make
    from .plans import build_plans
    from .solvers.highs import check_model_path, write_model

    with _errors():
        check_model_path(out)
        check_can_make(out, "model file")
        sc = _load(scenario, set_)
        if (from_year is None) != (previous is None):
            raise InputError("--from-year and --previous go together: the year re-planned from and the run whose earlier years are kept")
        inst = load_scenario_data(sc)
        if sc.years is not None:  # the multi-year model of a scenario with years:
            from .multiyear import check_from_year, check_kept_present, in_catalogue, kept_model, multiyear_names, read_previous

            kept = None
            if previous is not None and from_year is not None:
                check_from_year(from_year, sc.years.first, sc.years.last)
                kept = read_previous(previous, from_year)
                check_kept_present(kept, inst)
                kept, _ = in_catalogue(kept, None, inst)
            my, model, _ = kept_model(inst, sc, kept)
            cols, rows = multiyear_names(my, inst)
        elif from_year is not None:
            raise InputError("--from-year and --previous re-plan a multi-year scenario: this one has no years: section")
        else:
            model, index = build_model(inst, sc, build_plans(inst, sc))
            cols, rows = index.col_names(), index.row_names()
        write_model(model, str(out), cols, rows)
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
    from .outputs import check_can_make

    with _errors("generate fewer households, or stream them to disk with --partitioned"):
        check_can_make(out, swapped=partitioned or national)  # a partitioned folder is written beside it, then renamed
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


DbOption = Annotated[
    str, typer.Option("--db", envvar="OPTIMIZER_DB", help="database URL: sqlite:///path.db or postgresql://user@host/db (or env OPTIMIZER_DB)")
]
db_app = typer.Typer(no_args_is_help=True, help="The registry database: init, import, export, publish, ledger, commit, status, spend.")
app.add_typer(db_app, name="db")
HouseholdOption = Annotated[Optional[list[str]], typer.Option("--household", help="household id (repeatable)")]
IdsFileOption = Annotated[Optional[Path], typer.Option("--ids-file", help="file of household ids, one per line")]


def _registry(db: str) -> Engine:
    """The registry database at ``db``, at this optimizer's schema revision."""
    from . import storage

    engine = storage.open_db(db)
    storage.require_schema(engine)
    return engine


def _seconds(value: float) -> float:
    """A number of seconds, at least 0 (nan, which passes a range check, is refused by name)."""
    if math.isnan(value) or value < 0:
        raise typer.BadParameter(f"must be a number of seconds, at least 0 ({value} given)")
    return value


@app.command()
def nightly(
    db: DbOption,
    scenario: Annotated[Path, typer.Option("--scenario", help="scenario YAML file (its data: is ignored; the database is the data)")],
    wait: Annotated[
        float, typer.Option(callback=_seconds, help="seconds to wait for a running job's lock before giving up (exit 6; inf: no limit)")
    ] = 0.0,
    from_year: Annotated[
        Optional[int],
        typer.Option("--from-year", min=1, max=9999, help="multi-year scenarios: the year being planned (sets nightly.current_year); earlier years are kept"),
    ] = None,
) -> None:
    """Re-plan what is open in the registry, keep commitments, cap churn; publish the new version when verified.
    With a years: section, keep the published version's decisions of the years before nightly.current_year and
    re-plan the rest (rolling horizon).
    Exit codes: 0 published or unchanged, 2 bad input, 3 infeasible, 4 no solution in time, 5 verification failed,
    6 another job holds the lock, 7 solved but not published (gap above nightly.max_gap)."""
    import optimizer as api

    from .nightly import counts_text, run_nightly

    with _errors(database=db):
        say = _progress()
        sc = api.load_scenario(scenario, overrides={"nightly.current_year": from_year} if from_year is not None else None)
        outcome = run_nightly(db, sc, wait=wait, progress=say)
        if outcome.status == "unchanged":
            out_console.print(f"unchanged: version {outcome.version_id} stays current (run {outcome.run_id})")
        else:
            what = f"expected out of poverty at {sc.years.last}" if sc.years is not None else "expected lifted"
            out_console.print(
                f"published version {outcome.version_id} (run {outcome.run_id}): {outcome.expected_lifted:,.1f} households {what}, "
                f"gap {outcome.gap:.3%}; {counts_text(outcome.counts)}"
            )


@db_app.command("init")
def db_init(db: DbOption) -> None:
    """Create the tables, or upgrade them to this version's schema (Alembic migrations)."""
    from . import storage

    with _errors(database=db):
        rev = storage.init_db(storage.open_db(db, create=True))
        out_console.print(f"ok: {storage.redact(db)} at schema revision {rev}")


@db_app.command("import")
def db_import(
    folder: Annotated[Path, typer.Argument(help="data folder (six CSV or Parquet tables)")],
    db: DbOption,
    absent_ids: Annotated[
        Optional[Path], typer.Option("--absent-ids", help="write the ids of the registry's open households the folder lacks, one per line (for db status)")
    ] = None,
) -> None:
    """Validate a data folder and upsert it into the registry (one transaction; new households are registered, and
    no household's status changes)."""
    from . import storage
    from .outputs import atomic_write_text

    with _errors(database=db):
        done = storage.import_folder(storage.open_db(db), folder)
        for k, v in done.counts.items():
            out_console.print(f"imported {k}: {v['inserted']:,} new, {v['updated']:,} changed, {v['unchanged']:,} unchanged")
        if absent_ids is not None:
            atomic_write_text(absent_ids, "".join(f"{i}\n" for i in done.absent))
        if done.absent:
            where = f"their ids are in {absent_ids}" if absent_ids is not None else "--absent-ids FILE writes their ids"
            _say("warning: ", f"{len(done.absent):,} open households of the registry are not in {folder}: they stay open and planned ({where}); "
                 "mark those that left poverty with `optimizer db status exited --ids-file FILE`", "yellow")  # fmt: skip
        if done.exited:
            _say("warning: ", f"{len(done.exited):,} households of {folder} are exited in the registry and stay so ({_first(done.exited)}); "
                 "`optimizer db status returned` re-opens those back in poverty", "yellow")  # fmt: skip
        if done.moved:
            _say("warning: ", f"{len(done.moved):,} committed households are in another village in {folder} than in their commitments "
                 f"({_first(done.moved)}): their committed plans and charges stay in the village they were committed in; county "
                 "incidence counts them where the registry now puts them", "yellow")  # fmt: skip
        kept = [f"{v['absent']:,} {k}" for k, v in done.counts.items() if k != "households" and v["absent"]]
        if kept:
            _say("warning: ", f"rows of the registry not in {folder} are kept, and the next night uses them: {', '.join(kept)}", "yellow")


def _first(ids: list[str], n: int = 10) -> str:
    """Up to ``n`` ids, and an ellipsis when there are more."""
    return ", ".join(ids[:n]) + (", …" if len(ids) > n else "")


@db_app.command("export")
def db_export(
    version: Annotated[str, typer.Argument(help="version number, 'current', or 'registry' for what a re-plan sees, as a data folder")],
    folder: Annotated[Path, typer.Argument(help="folder to write (replaced atomically)")],
    db: DbOption,
) -> None:
    """Write a version's tables (or the registry) to a folder."""
    from . import storage

    with _errors(database=db):
        engine = _registry(db)
        path = storage.export_registry(engine, folder) if version == "registry" else storage.export_version(engine, version, folder)
        out_console.print(f"wrote {path}")


@db_app.command("publish")
def db_publish(version: Annotated[str, typer.Argument(help="version number to make current (a rollback)")], db: DbOption) -> None:
    """Make an earlier (or any verified) version the current one."""
    from . import storage

    with _errors(database=db):
        engine = _registry(db)
        out_console.print(f"version {storage.publish(engine, version)} is current")


@db_app.command("ledger")
def db_ledger(
    db: DbOption,
    limit: Annotated[int, typer.Option(min=1, help="rows to show")] = 20,
    csv: Annotated[bool, typer.Option("--csv", help="print every column as CSV (for scripts and monitoring)")] = False,
) -> None:
    """Show the newest runs: status, version, gap and household counts."""
    import pandas as pd

    from . import storage

    with _errors(database=db):
        engine = _registry(db)
        df = storage.ledger(engine, limit)
        if csv:
            sys.stdout.write(df.to_csv(index=False, lineterminator="\n"))
            return
        t = Table(title="ledger, newest first")
        cols = ["run_id", "kind", "status", "version_id", "started_at", "gap", *(f"households_{k}" for k in ("added", "changed", "unchanged", "removed"))]
        for c in cols:
            t.add_column(c.removeprefix("households_").replace("_id", ""))
        rows = []
        for row in df.itertuples(index=False):
            cells = ["" if pd.isna(getattr(row, c)) else str(getattr(row, c)) for c in cols]
            cells[4] = cells[4][:19]
            cells[5] = "" if pd.isna(row.gap) else f"{row.gap:.3%}"
            cells[6:] = ["" if pd.isna(getattr(row, c)) else f"{int(getattr(row, c)):,}" for c in cols[6:]]
            rows.append(cells)
        _print_whole(t, rows)
        for row in df.itertuples(index=False):
            if isinstance(row.message, str) and row.message:
                out_console.print(f"run {row.run_id}: {row.message}", highlight=False)


@db_app.command("commit")
def db_commit(
    db: DbOption,
    household: HouseholdOption = None,
    project: Annotated[Optional[list[str]], typer.Option(help="project id to commit (repeatable)")] = None,
    ids_file: IdsFileOption = None,
) -> None:
    """Commit plans and projects of the current version: they stay fixed and their cost is charged to their funds."""
    from . import storage

    with _errors(database=db):
        ids = _ids(household, ids_file)
        if not ids and not project:
            raise InputError("nothing to commit: give --household, --ids-file or --project")
        engine = _registry(db)
        done = storage.commit(engine, ids, list(project or []))
        needed, skipped = len(set(done.projects) - set(project or [])), sorted(set(project or []) - set(done.projects))
        also = f" ({needed:,} needed by the plans)" if needed else ""
        also += f"; already committed: {', '.join(skipped)}" if skipped else ""
        out_console.print(f"committed {len(ids):,} households and {len(done.projects):,} projects{also}; {done.charges['amount'].sum():,.2f} yuan charged")


@db_app.command("status")
def db_status(
    status: Annotated[str, typer.Argument(help="exited (out of poverty: no longer planned), returned (back in poverty) or registered")],
    db: DbOption,
    household: HouseholdOption = None,
    ids_file: IdsFileOption = None,
) -> None:
    """Mark households exited, returned or registered: the next night plans the open ones (registered, returned)."""
    from . import storage

    with _errors(database=db):
        ids = _ids(household, ids_file)
        engine = _registry(db)
        out_console.print(f"marked {storage.set_status(engine, ids, status):,} households {status}")


def _ids(given: list[str] | None, ids_file: Path | None) -> list[str]:
    """Household ids from repeated options and a file of one id per line."""
    ids = list(given or [])
    if ids_file is not None:
        try:
            ids += [line.strip() for line in ids_file.read_text(encoding="utf-8-sig").splitlines() if line.strip()]  # a BOM is not part of an id
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"{ids_file}: cannot read the ids: {err}") from None
        if not ids:
            raise InputError(f"{ids_file}: no household ids in the file")
    return ids


@db_app.command("spend", context_settings={"ignore_unknown_options": True})  # "-5" is an amount (refused below), not an option
def db_spend(
    fund: Annotated[str, typer.Argument(help="fund id")],
    amount: Annotated[float, typer.Argument(help="yuan paid out of the fund")],
    db: DbOption,
) -> None:
    """Record money spent from a fund outside the optimizer's plans: it is no longer available to re-plan."""
    from . import storage

    with _errors(database=db):
        engine = _registry(db)
        storage.record_spending(engine, fund, amount)
        out_console.print(f"recorded {amount:,.2f} yuan spent from {fund}")


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
        _say("unexpected error: ", f"{type(err).__name__}: {err} (run with --debug for the traceback)", "bold red")
        sys.exit(1)


if __name__ == "__main__":
    run()
