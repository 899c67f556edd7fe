"""Two nights of a large registry (SQLite, or PostgreSQL with ``--postgres``): the nightly job decomposed by county (churn cap included) against the
same nights solved monolithically.

Night 1 plans the whole registry; between the nights 5% of the open households are committed, 1% exit, 1% register
and every central fund gets 10% more money; night 2 re-plans under the churn cap (``nightly.max_churn``, 5%). With
``--years FIRST LAST`` the nights are multi-year (relocation 5% per county and year, gap 0.5%): night 1 plans from
FIRST, night 2 re-plans from FIRST + 1 keeping night 1's starts and builds of FIRST. Each method runs on a database
of its own, imported from the same generated folder; ``decomposed`` nights have the workers read the registry
county by county (``nightly.by_county``; multi-year ones with the starts and builds they keep), ``decomposed-whole``
ones load it whole and decompose it in memory. Each night runs in a child process whose process tree is sampled for its peak memory (and the driver's).
With ``--postgres`` each method's registry is a database of its own on a throwaway PostgreSQL server
(``tests/pgserver.py``: Debian's ``postgresql``, as the tests use it, ``fsync=off``); the server's processes are
not in the sampled tree. Prints a Markdown table for bench/README.md and writes
``<name>.csv`` and ``<name>.md`` under the results folder.

    .venv/bin/python bench/nightly_scale_bench.py --households 100000
    .venv/bin/python bench/nightly_scale_bench.py --households 40000 --years 2018 2020 --name nightly_years_40k
    .venv/bin/python bench/nightly_scale_bench.py --households 100000 --methods decomposed decomposed-whole --postgres
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from optimizer import storage  # noqa: E402
from optimizer.data import isin  # noqa: E402
from optimizer.generate import generate  # noqa: E402
from optimizer.nightly import run_nightly  # noqa: E402
from optimizer.scenario import Scenario  # noqa: E402
from pgserver import PgServer  # noqa: E402
from results_io import markdown_table, run_sampled, write_results  # noqa: E402

WHOLE = "-whole"  # a method's suffix: nightly.by_county no (the registry loaded whole, then decomposed in memory)


def _between_nights(engine: storage.Engine, version: int, rng: np.random.Generator) -> None:
    current = storage.version_table(engine, storage.version_households, version)
    open_ids = current.loc[~current["committed"].astype(bool), "household_id"].to_numpy()
    n = len(open_ids)
    chosen = rng.choice(open_ids, size=n // 20, replace=False)
    storage.commit(engine, list(chosen))
    rest = open_ids[~isin(open_ids, chosen)]  # np.setdiff1d on object arrays compares pair by pair: > 9 min at 1,000,000
    storage.set_status(engine, list(rng.choice(rest, size=n // 100, replace=False)), "exited")
    reg = storage.read_registry(engine).tables["households"]
    new = reg.sample(n // 100, random_state=1).drop(columns=["status"]).assign(household_id=[f"NEW-{i:06d}" for i in range(n // 100)])
    storage.add_households(engine, new)
    with engine.begin() as conn:
        conn.execute(text("update funds set amount = amount * 1.1 where region_id in (select region_id from regions where level = 0)"))


def night(spec: dict[str, Any]) -> None:
    """One night in this process (a child of :func:`two_nights`, which samples its memory); print its figures as JSON."""
    method = spec["method"]
    module = importlib.import_module("optimizer.solve" if spec["years"] is None else "optimizer.multiyear")
    for name in ["DECOMPOSE_FROM"] + ([] if spec["years"] is None else ["DECOMPOSE_REPLAN_FROM"]):
        setattr(module, name, spec["households"] * 10 if method == "monolithic" else 1)  # whatever its size
    scenario = Scenario.model_validate(spec["scenario"])
    t = time.perf_counter()
    out = run_nightly(spec["url"], scenario)
    seconds = time.perf_counter() - t
    engine = storage.open_db(spec["url"])
    with engine.connect() as conn:
        manifest = json.loads(conn.execute(text("select manifest from versions where version_id = :v"), {"v": out.version_id}).scalar())
    churn = manifest.get("churn", {})
    source = manifest.get("decomposition", {}).get("source", "")
    print(json.dumps({"seconds": round(seconds, 1), "solved_as": manifest["method"] + (", read by county" if "county by county" in source else ""),
                      "objective": manifest["objective"], "bound": manifest["bound"], "gap": manifest["gap"], "version": out.version_id,
                      "changed": out.counts.get("households_changed", 0), "cap": churn.get("max_changes", ""), "status": out.status}))  # fmt: skip


def two_nights(
    folder: Path, method: str, households: int, max_churn: float, time_limit: float, years: list[int] | None, database: Callable[[], str] | None = None
) -> list[dict[str, object]]:
    """Import ``folder`` into a registry of its own (SQLite, or the empty database ``database()`` makes) and run two
    nights on it, each in a child process."""
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="nightly-scale-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'registry.db'}" if database is None else database()
        engine = storage.open_db(url, create=True)
        storage.init_db(engine)
        t = time.perf_counter()
        storage.import_folder(engine, folder)
        print(f"{method}: imported {households:,} households in {time.perf_counter() - t:.1f} s", flush=True)
        spec: dict[str, Any] = {"name": "nightly", "data": "unused", "nightly": {"max_churn": max_churn}, "solver": {"time_limit": time_limit}}
        if method.endswith(WHOLE):
            spec["nightly"]["by_county"] = "no"
        if years is not None:
            spec.update(years={"first": years[0], "last": years[1], "relocation_rate": 0.05}, plans={"max_per_household": 4},
                        solver={"time_limit": time_limit, "gap": 0.005}, helpers={"assign": False})  # fmt: skip
        rng = np.random.default_rng(3)
        version = None
        for n in (1, 2):
            if version is not None:
                _between_nights(engine, version, rng)
            scenario = spec if years is None else {**spec, "nightly": {**spec["nightly"], "current_year": years[0] + n - 1}}
            child = {"url": url, "method": method.removesuffix(WHOLE), "households": households, "years": years, "scenario": scenario}
            figures = run_sampled([sys.executable, __file__, "--night", json.dumps(child)], ROOT, f"{method} night {n}")
            rows.append({"method": method, "night": n, "households": households, **figures})
            print(rows[-1], flush=True)
            version = int(figures["version"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--max-churn", type=float, default=0.05)
    parser.add_argument("--methods", nargs="+", default=["decomposed", "monolithic"], choices=["decomposed", f"decomposed{WHOLE}", "monolithic"],
                        help=f"decomposed: nights read by county by the workers; decomposed{WHOLE}: the registry loaded whole, decomposed in memory")
    parser.add_argument("--night", help=argparse.SUPPRESS)  # a child's night (JSON)
    parser.add_argument("--time-limit", type=float, default=120.0, help="solver.time_limit (the scenario's default: 120 s)")
    parser.add_argument("--years", type=int, nargs=2, metavar=("FIRST", "LAST"), help="multi-year nights over these years")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--name", default="nightly_scale")
    parser.add_argument("--postgres", action="store_true", help="registries on a throwaway PostgreSQL server (tests/pgserver.py) instead of SQLite files")
    args = parser.parse_args()
    if args.night:
        night(json.loads(args.night))
        return
    server = PgServer().start() if args.postgres else None
    try:
        with tempfile.TemporaryDirectory(prefix="nightly-scale-data-") as tmp:
            folder = Path(tmp) / "data"
            generate(args.households, seed=7, out=folder)
            database = None if server is None else server.database
            rows = [r for m in args.methods for r in two_nights(folder, m, args.households, args.max_churn, args.time_limit, args.years, database)]
    finally:
        if server is not None:
            server.stop()
    df = pd.DataFrame(rows)
    columns = [("households", "{r.households:,}"), ("method", "{r.method}"), ("night", "{r.night}"), ("solved as", "{r.solved_as}"),
               ("time (s)", "{r.seconds:.1f}"), ("peak (GiB)", "{r.peak_gib:.2f}"), ("driver peak (GiB)", "{r.driver_peak_gib:.2f}"),
               ("objective", "{r.objective:,.2f}"), ("bound", "{r.bound:,.2f}"), ("gap", "{r.gap:.4%}"),
               ("changed plan", "{r.changed:,}"), ("cap", "{r.cap}")]  # fmt: skip
    write_results(df, args.out, args.name, markdown_table(df, columns))


if __name__ == "__main__":
    main()
