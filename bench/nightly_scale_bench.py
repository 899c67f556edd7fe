"""Two nights of a large registry (SQLite): the nightly job decomposed by county (churn cap included) against the
same nights solved monolithically.

Night 1 plans the whole registry; between the nights 5% of the open households are committed, 1% exit, 1% register
and every central fund gets 10% more money; night 2 re-plans under the churn cap (``nightly.max_churn``, 5%). With
``--years FIRST LAST`` the nights are multi-year (relocation 5% per county and year, gap 0.5%): night 1 plans from
FIRST, night 2 re-plans from FIRST + 1 keeping night 1's starts and builds of FIRST. Each method runs on a database
of its own, imported from the same generated folder. Prints a Markdown table for bench/README.md and writes
``<name>.csv`` and ``<name>.md`` under the results folder.

    .venv/bin/python bench/nightly_scale_bench.py --households 100000
    .venv/bin/python bench/nightly_scale_bench.py --households 40000 --years 2018 2020 --name nightly_years_40k
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from optimizer import storage  # noqa: E402
from optimizer.generate import generate  # noqa: E402
from optimizer.nightly import run_nightly  # noqa: E402
from optimizer.scenario import Scenario  # noqa: E402
from results_io import markdown_table, write_results  # noqa: E402


def _between_nights(engine: storage.Engine, version: int, rng: np.random.Generator) -> None:
    current = storage.version_table(engine, storage.version_households, version)
    open_ids = current.loc[~current["committed"].astype(bool), "household_id"].to_numpy()
    n = len(open_ids)
    chosen = rng.choice(open_ids, size=n // 20, replace=False)
    storage.commit(engine, list(chosen))
    rest = np.setdiff1d(open_ids, chosen)
    storage.set_status(engine, list(rng.choice(rest, size=n // 100, replace=False)), "exited")
    reg = storage.read_registry(engine).tables["households"]
    new = reg.sample(n // 100, random_state=1).drop(columns=["status"]).assign(household_id=[f"NEW-{i:06d}" for i in range(n // 100)])
    storage.add_households(engine, new)
    with engine.begin() as conn:
        conn.execute(text("update funds set amount = amount * 1.1 where region_id in (select region_id from regions where level = 0)"))


def two_nights(folder: Path, method: str, households: int, max_churn: float, time_limit: float, years: list[int] | None) -> list[dict[str, object]]:
    module = importlib.import_module("optimizer.solve" if years is None else "optimizer.multiyear")
    names = ["DECOMPOSE_FROM"] + ([] if years is None else ["DECOMPOSE_CAPPED_FROM"])
    saved = {name: getattr(module, name) for name in names}
    for name in names:
        setattr(module, name, households * 10 if method == "monolithic" else 1)  # whatever its size
    rows: list[dict[str, object]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="nightly-scale-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'registry.db'}"
            engine = storage.open_db(url)
            storage.init_db(engine)
            t = time.perf_counter()
            storage.import_folder(engine, folder)
            print(f"{method}: imported {households:,} households in {time.perf_counter() - t:.1f} s", flush=True)
            spec: dict[str, object] = {"name": "nightly", "data": "unused", "nightly": {"max_churn": max_churn}, "solver": {"time_limit": time_limit}}
            if years is not None:
                spec.update(years={"first": years[0], "last": years[1], "relocation_rate": 0.05}, plans={"max_per_household": 4},
                            solver={"time_limit": time_limit, "gap": 0.005}, helpers={"assign": False})  # fmt: skip
            scenario = Scenario.model_validate(spec)
            rng = np.random.default_rng(3)
            version = None
            for night in (1, 2):
                if version is not None:
                    _between_nights(engine, version, rng)
                t = time.perf_counter()
                current = None if years is None else {"nightly.current_year": years[0] + night - 1}
                out = run_nightly(url, scenario if current is None else scenario.with_overrides(current))
                seconds = time.perf_counter() - t
                with engine.connect() as conn:
                    manifest = json.loads(conn.execute(text("select manifest from versions where version_id = :v"), {"v": out.version_id}).scalar())
                churn = manifest.get("churn", {})
                rows.append({"method": method, "night": night, "households": households, "seconds": round(seconds, 1), "solved_as": manifest["method"],
                             "objective": manifest["objective"], "bound": manifest["bound"], "gap": manifest["gap"],
                             "changed": out.counts.get("households_changed", 0), "cap": churn.get("max_changes", ""), "status": out.status})  # fmt: skip
                print(rows[-1], flush=True)
                version = out.version_id
    finally:
        for name, value in saved.items():
            setattr(module, name, value)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--max-churn", type=float, default=0.05)
    parser.add_argument("--methods", nargs="+", default=["decomposed", "monolithic"], choices=["decomposed", "monolithic"])
    parser.add_argument("--time-limit", type=float, default=120.0, help="solver.time_limit (the scenario's default: 120 s)")
    parser.add_argument("--years", type=int, nargs=2, metavar=("FIRST", "LAST"), help="multi-year nights over these years")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--name", default="nightly_scale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nightly-scale-data-") as tmp:
        folder = Path(tmp) / "data"
        generate(args.households, seed=7, out=folder)
        rows = [r for m in args.methods for r in two_nights(folder, m, args.households, args.max_churn, args.time_limit, args.years)]
    df = pd.DataFrame(rows)
    columns = [("households", "{r.households:,}"), ("method", "{r.method}"), ("night", "{r.night}"), ("solved as", "{r.solved_as}"),
               ("time (s)", "{r.seconds:.1f}"), ("objective", "{r.objective:,.2f}"), ("bound", "{r.bound:,.2f}"), ("gap", "{r.gap:.4%}"),
               ("changed plan", "{r.changed:,}"), ("cap", "{r.cap}")]  # fmt: skip
    write_results(df, args.out, args.name, markdown_table(df, columns))


if __name__ == "__main__":
    main()
