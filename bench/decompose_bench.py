"""Decomposed (by county, on Dask) against monolithic, by size: wall time, peak memory, objective, bound, gap.

    .venv/bin/python bench/decompose_bench.py --sizes 10000 100000 1000000 --workers 2 1 --monolithic-up-to 100000

Each size is generated once as partitioned Parquet (seed 7) under ``bench/results/instances/``; every run is a
fresh process (the decomposed ones read the folder through the workers, the monolithic ones load it whole) whose
process tree (driver, Dask scheduler and workers) is sampled for the peak of its summed resident memory. End to end
is load, plans, solve, verify and writing the run folder (CSV and Parquet, as ``optimizer solve``). Writes
``bench/results/<name>.csv`` and ``<name>.md`` (``--name``, default ``decompose``).

With ``--years FIRST LAST`` the scenario plans year by year (``optimizer.multiyear``; relocation capacity
``--relocation-rate`` per county and year): the decomposed run is verified on the workers county by county and
on the driver fund by fund and year, the monolithic one by ``verify_multiyear``, and the run folder is written as
``optimizer solve`` writes a multi-year run (without its HTML report). ``bench/decompose_years_bench.py`` runs it
with the multi-year defaults.

With ``--registry`` each instance is imported once into a SQLite registry beside it, and the decomposition with the
workers reading the database county by county is compared with the driver loading the registry whole and
decomposing it in memory (``decomposed-whole``), for each worker count.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd

from results_io import instance_folder, run_sampled, write_results

if TYPE_CHECKING:
    from optimizer.data import Instance
    from optimizer.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
TIME_LIMIT = 1800.0  # seconds per solve: the monolithic LP at 100,000 households needs several minutes
WHOLE = "-whole"  # a method's suffix: the data loaded whole by the driver (a registry database), then decomposed


def one(
    folder: str, method: str, workers: int, max_memory_mb: float | None, gap: float | None = None, years: Years | None = None, time_limit: float = TIME_LIMIT
) -> None:
    """Solve, verify and write one instance (the run folder as ``optimizer solve`` writes it, into a temporary
    folder); print the figures as JSON (run in its own process)."""
    from optimizer.errors import NoSolutionError
    from optimizer.scenario import Scenario
    from optimizer.storage import load_source

    solver = {"time_limit": time_limit, **({"gap": gap} if gap is not None else {})}
    limits = {"max_memory_mb": max_memory_mb}
    if years is None:
        scenario = Scenario(name="bench", data=folder, solver=solver, limits=limits)
    else:  # no helpers, as the multi-year runs on record
        plan_years = {"first": years.first, "last": years.last, "relocation_rate": years.relocation_rate}
        scenario = Scenario(name="bench", data=folder, solver=solver, limits=limits, years=plan_years, helpers={"assign": False})
    whole = method.endswith(WHOLE) or (years is not None and method == "monolithic")  # the driver loads the data whole
    t = time.perf_counter()

    def say(msg: str) -> None:
        print(f"  {time.perf_counter() - t:7.1f} s  {msg}", file=sys.stderr, flush=True)

    instance = load_source(folder) if whole else None
    solve_verify_write = _one_year if years is None else _multi_year
    try:
        solved, verified, result = solve_verify_write(scenario, instance, method.removesuffix(WHOLE), workers, say)
    except NoSolutionError as e:  # a row of its own: the time and memory it took to find nothing (the monolithic 1M)
        stopped = time.perf_counter() - t
        nothing = {"objective": math.nan, "bound": math.nan, "gap": math.nan, "rounds": ""}
        print(json.dumps({"seconds": stopped, "verify_seconds": 0.0, "write_seconds": 0.0, "end_to_end_seconds": stopped, **nothing, "stopped": str(e)}))
        return
    done = time.perf_counter() - t
    solved, verified = solved - t, verified - t
    m = result.manifest
    figures: dict[str, Any] = {"seconds": solved, "verify_seconds": verified - solved, "write_seconds": done - verified, "end_to_end_seconds": done}
    figures.update(objective=m["objective"], bound=m["bound"], gap=m["gap"])
    decomposition = m.get("decomposition", {})
    figures["rounds"] = decomposition.get("rounds", "")
    figures["stopped"] = ";".join(decomposition["stopped_at_time_limit"]) if decomposition else str(m["stopped_at_time_limit"])
    print(json.dumps(figures), flush=True)


def _one_year(scenario: Scenario, instance: Instance | None, method: str, workers: int, say: Callable[[str], None]) -> tuple[float, float, Any]:
    """Solve and verify a one-year scenario, write its run folder; the clock when solved and when verified."""
    from optimizer.outputs import write_run
    from optimizer.solve import solve
    from optimizer.verify import verify

    result = solve(scenario, instance, method=method, workers=workers, progress=say)
    solved = time.perf_counter()
    verify(result)
    verified = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="decompose-bench-") as tmp:
        write_run(result, Path(tmp) / "run")
    return solved, verified, result


def _multi_year(scenario: Scenario, instance: Instance | None, method: str, workers: int, say: Callable[[str], None]) -> tuple[float, float, Any]:
    """Solve a multi-year scenario; verify it where ``optimizer solve`` does (a decomposed run on its workers and
    driver, as it is solved); write its run folder; the clock when solved and when verified."""
    from optimizer.multiyear import solve_multiyear, verify_multiyear

    result = solve_multiyear(scenario, instance, method=method, workers=workers, progress=say)
    solved = time.perf_counter()
    if instance is not None:
        bad = verify_multiyear(result, instance, scenario)
        if bad:
            raise SystemExit(f"the multi-year result does not verify: {bad[:3]}")
    verified = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="decompose-bench-") as tmp:
        result.write(Path(tmp) / "run")
    return solved, verified, result


def measured(
    folder: Path | str,
    method: str,
    workers: int,
    max_memory_mb: float | None = None,
    gap: float | None = None,
    years: Years | None = None,
    time_limit: float = TIME_LIMIT,
) -> dict[str, float]:
    """Run :func:`one` in a child process; add the peak of the summed RSS of its process tree, of the driver's alone
    and of the largest other process (a worker) alone (GiB)."""
    cmd = [sys.executable, __file__, "--one", str(folder), method, str(workers), *([f"--max-memory-mb={max_memory_mb}"] if max_memory_mb else [])]
    cmd += [f"--gap={gap}"] if gap is not None else []
    cmd += [] if years is None else ["--years", str(years.first), str(years.last), f"--relocation-rate={years.relocation_rate}"]
    cmd += [f"--time-limit={time_limit}"]
    return run_sampled(cmd, ROOT, f"{method} with {workers} worker(s) on {folder}")


class Years(NamedTuple):
    """The years a multi-year run plans (``--years``) and its relocation capacity per county and year."""

    first: int
    last: int
    relocation_rate: float


def main(defaults: dict[str, Any] | None = None) -> None:
    """The command line; ``defaults`` replaces the options' defaults (the multi-year front sets its own)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--workers", type=int, nargs="+", default=[2, 1])
    ap.add_argument("--monolithic-up-to", type=int, default=100_000)
    ap.add_argument("--name", default="decompose", help="results file name under bench/results")
    ap.add_argument("--max-memory-mb", type=float, default=None, help="limits.max_memory_mb of the scenario (a low one makes the workers lean)")
    ap.add_argument("--gap", type=float, default=None, help="solver.gap of the scenario (default the scenario's, 0.1%%)")
    ap.add_argument("--years", type=int, nargs=2, metavar=("FIRST", "LAST"), help="plan year by year, FIRST to LAST (the multi-year model)")
    ap.add_argument("--relocation-rate", type=float, default=0.05, help="with --years: relocation capacity per county and year, a share of its poor households")
    ap.add_argument("--registry", action="store_true",
                    help="import each instance into a SQLite registry and compare the workers reading it county by county with the driver loading it whole")
    ap.add_argument("--registry-url", help="with --registry: the database to import into and read (e.g. a PostgreSQL one) instead of a SQLite file")
    ap.add_argument("--time-limit", type=float, default=TIME_LIMIT, help="solver.time_limit of the scenario (seconds)")
    ap.add_argument("--one", nargs=3, metavar=("FOLDER", "METHOD", "WORKERS"))
    ap.set_defaults(**(defaults or {}))
    args = ap.parse_args()
    years = None if args.years is None else Years(args.years[0], args.years[1], args.relocation_rate)
    if years is not None and args.registry:
        ap.error("--registry compares one-year runs only")
    if args.one:
        one(args.one[0], args.one[1], int(args.one[2]), args.max_memory_mb, args.gap, years, args.time_limit)
        return
    rows = []
    for n in args.sizes:
        folder = instance_folder(OUT, n)
        source: Path | str = folder
        runs = [("monolithic", 1)] if n <= args.monolithic_up_to else []
        runs += [("decomposed", w) for w in args.workers]
        if args.registry:
            source = _registry(folder, args.registry_url)
            runs = [(m, w) for w in args.workers for m in ("decomposed", f"decomposed{WHOLE}")]
        for method, workers in runs:
            print(f"{n:,} households: {method}, {workers} worker(s)", flush=True)
            figures = measured(source, method, workers, args.max_memory_mb, args.gap, years, args.time_limit)
            row = {"households": n, "method": method, "workers": workers if method != "monolithic" else "", **figures}
            row["years"] = "" if years is None else f"{years.first}-{years.last}"
            print(f"  {row}", flush=True)
            rows.append(row)
            write_results(pd.DataFrame(rows), OUT, args.name, _markdown(rows))


def _registry(folder: Path, url: str | None = None) -> str:
    """A registry holding the instance in ``folder``: the database at ``url`` (imported into when it holds no
    household yet), else a SQLite file made once beside the folder."""
    from optimizer import storage

    if url is not None:
        engine = storage.open_db(url, create=True)
        storage.init_db(engine)
        if storage.count(engine, storage.households) == 0:
            t = time.perf_counter()
            storage.import_folder(engine, folder)
            print(f"imported {folder.name} into {storage.redact(url)} in {time.perf_counter() - t:.1f} s", flush=True)
        engine.dispose()
        return url
    path = folder.with_name(f"{folder.name}.db")
    if not path.is_file():
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.unlink(missing_ok=True)
        engine = storage.open_db(f"sqlite:///{tmp}", create=True)
        storage.init_db(engine)
        t = time.perf_counter()
        storage.import_folder(engine, folder)
        engine.dispose()
        tmp.rename(path)
        print(f"imported {folder.name} into {path.name} in {time.perf_counter() - t:.1f} s", flush=True)
    return f"sqlite:///{path}"


def _markdown(rows: list[dict]) -> list[str]:
    """The table of ``rows``; with a column of the years planned when a row planned several."""
    years = any(r["years"] for r in rows)
    lines = [("| years " if years else "") + "| households | method | workers | solve (s) | verify (s) | write (s) | end to end (s) | peak memory (GiB) "
             "| driver / largest worker (GiB) | objective | bound | gap | rounds |",
             ("|---" if years else "") + "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        lines.append((f"| {r['years']} " if years else "") + f"| {r['households']:,} | {r['method']} | {r['workers']} | {r['seconds']:.1f} "
                     f"| {r['verify_seconds']:.1f} | {r['write_seconds']:.1f} | {r['end_to_end_seconds']:.1f} | {r['peak_gib']:.2f} "
                     f"| {r['driver_peak_gib']:.2f} / {r['worker_peak_gib']:.2f} | {_shown(r['objective'], ',.2f')} | {_shown(r['bound'], ',.2f')} "
                     f"| {_shown(r['gap'], '.4%')} | {r['rounds']} |")  # fmt: skip
    return lines


def _shown(value: float, spec: str) -> str:
    """``value`` in ``spec``; a dash for a run that found no solution."""
    return "—" if math.isnan(value) else format(value, spec)

if __name__ == "__main__":
    main()
