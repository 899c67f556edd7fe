"""Monolithic against decomposed (1 and 2 Dask workers) on one scenario: time, objective, bound, gap, rounds.

    .venv/bin/python bench/decompose_bench.py [scenarios/baseline.yaml]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from optimizer import load_instance, solve, verify
from optimizer.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    sc = load_scenario(sys.argv[1] if len(sys.argv) > 1 else ROOT / "scenarios" / "baseline.yaml")
    inst = load_instance(sc.data_path)
    runs = [
        ("monolithic (LP, relax-and-fix)", "monolithic", 1),
        ("decomposed, 1 Dask worker", "decomposed", 1),
        ("decomposed, 2 Dask workers", "decomposed", 2),
    ]
    print("| method | seconds | objective | bound | gap | rounds |\n|---|---:|---:|---:|---:|---:|")
    for label, method, workers in runs:
        t = time.perf_counter()
        result = solve(sc, inst, method=method, workers=workers)
        seconds = time.perf_counter() - t
        verify(result)
        m = result.manifest
        rounds = m.get("decomposition", {}).get("rounds", "")
        print(f"| {label} | {seconds:.1f} | {m['objective']:,.2f} | {m['bound']:,.2f} | {m['gap']:.3%} | {rounds} |", flush=True)


if __name__ == "__main__":
    main()
