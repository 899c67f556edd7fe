"""Three simulated nights on the sample against SQLite and a real PostgreSQL server: time per step and churn.

Between nights a tenth of the open households and three built projects are committed, 250,000 yuan is spent,
300 households exit and 200 register. Prints a Markdown table for bench/README.md.

    .venv/bin/python bench/nightly_bench.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from optimizer import storage  # noqa: E402
from optimizer.data import isin  # noqa: E402
from optimizer.nightly import run_nightly  # noqa: E402
from optimizer.scenario import Scenario  # noqa: E402
from pgserver import PgServer  # noqa: E402


def nights(url: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    engine = storage.open_db(url, create=True)
    t = time.perf_counter()
    storage.init_db(engine)
    storage.import_folder(engine, ROOT / "data" / "sample")
    rows.append({"step": "init + import 20,000 households", "seconds": time.perf_counter() - t})
    rng = np.random.default_rng(11)
    scenario = Scenario(name="nightly", data="unused")
    version: int | None = None
    for night in range(3):
        if version is not None:
            t = time.perf_counter()
            current = storage.version_table(engine, storage.version_households, version)
            open_plans = current[~current["committed"].astype(bool)]
            chosen = rng.choice(open_plans["household_id"].to_numpy(), size=len(open_plans) // 10, replace=False)
            projects = storage.version_table(engine, storage.version_projects, version)
            built = projects.loc[projects["built"].astype(bool) & ~projects["committed"].astype(bool), "project_id"].to_numpy()[:3]
            storage.commit(engine, list(chosen), list(built))
            storage.record_spending(engine, "F-CN-industry", 250_000.0)
            rest = open_plans["household_id"].to_numpy()[~isin(open_plans["household_id"], chosen)]
            storage.set_status(engine, list(rng.choice(rest, size=300, replace=False)), "exited")
            reg = storage.read_registry(engine).tables["households"]
            new = reg.sample(200, random_state=night).drop(columns=["status"]).assign(household_id=[f"N{night}-{i:04d}" for i in range(200)])
            storage.add_households(engine, new)
            step = f"between nights: commit {len(chosen):,} households + {len(built)} projects, 300 exits, 200 new"
            rows.append({"step": step, "seconds": time.perf_counter() - t})
        t = time.perf_counter()
        out = run_nightly(url, scenario)
        c = out.counts
        rows.append(
            {
                "step": f"night {night + 1}: version {out.version_id}",
                "seconds": time.perf_counter() - t,
                "lifted": out.expected_lifted,
                "gap": out.gap,
                "changed": f"{c['households_changed']:,} of {c['households_changed'] + c['households_unchanged']:,}",
                "added/removed": f"{c['households_added']:,} / {c['households_removed']:,}",
            }
        )
        version = out.version_id
    t = time.perf_counter()
    again = run_nightly(url, scenario)
    rows.append({"step": f"rerun, unchanged inputs: {again.status}", "seconds": time.perf_counter() - t})
    return rows


def main() -> None:
    server = PgServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, url in (("SQLite", f"sqlite:///{tmp}/registry.db"), ("PostgreSQL", server.database())):
                print(f"\n{name}\n\n| step | seconds | expected lifted | gap | changed | added / removed |\n|---|---:|---:|---:|---:|---:|")
                for r in nights(url):
                    lifted = f"{r['lifted']:,.1f}" if "lifted" in r else ""
                    gap = f"{r['gap']:.3%}" if "gap" in r else ""
                    print(f"| {r['step']} | {r['seconds']:.1f} | {lifted} | {gap} | {r.get('changed', '')} | {r.get('added/removed', '')} |")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
