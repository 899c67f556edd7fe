"""Multi-year model (issue 10): pruned plan-year options (the earliest ``max_start_years`` working starts per plan)
versus the monolithic model (every working start year of every plan), on generated instances.

    .venv/bin/python bench/multiyear_bench.py 2000 5000
"""

from __future__ import annotations

import sys
import time

from optimizer.data import build_instance
from optimizer.generate import generate
from optimizer.multiyear import solve_multiyear, verify_multiyear
from optimizer.scenario import Scenario


def scenario(max_start_years: int | None) -> Scenario:
    years = {"first": 2016, "last": 2020, "relocation_rate": 0.05, "max_start_years": max_start_years}
    return Scenario.model_validate(
        {"name": "bench", "data": "unused", "helpers": {"assign": False}, "solver": {"time_limit": 600, "gap": 0.005}, "years": years}
    )


def main(sizes: list[int]) -> None:
    print("| households | model | options | columns | rows | seconds | objective | gap |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        inst = build_instance(generate(n, seed=1))
        for label, k in (("pruned (3 earliest starts per plan)", 3), ("monolithic (all working starts)", None)):
            sc = scenario(k)
            t = time.perf_counter()
            r = solve_multiyear(sc, inst)
            sec = time.perf_counter() - t
            assert verify_multiyear(r, inst, sc) == []
            m = r.manifest
            size = f"{m['model']['options']:,} | {m['model']['columns']:,} | {m['model']['rows']:,}"
            print(f"| {n:,} | {label} | {size} | {sec:.1f} | {m['objective']:,.1f} | {m['gap']:.3%} |", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [2000])
