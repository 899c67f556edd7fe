"""The decomposition's master alone, by size: its seconds a round with synthetic county values (no county LP runs),
so that the master's growth with the number of counties is measured at national scale in a minute or two.

    .venv/bin/python bench/master_bench.py --sizes 1000000 10000000 30000000 --rounds 6

The blocks (counties, upper funds, fund-county pairs) are those of ``generate_partitioned(N, seed=7)``, built from its
regions and funds alone (:func:`optimizer.generate.regions_and_funds`). Each county's LP value is replaced by a smooth
concave function of its upper-fund money, ``V(a) = H (1 - exp(-(g.a + own) / S))`` with ``H`` 0.9 a household,
``S`` 3,000 yuan a household, ``own`` 500 yuan a household and ``g`` drawn in U(0.5, 1.5) per pair; a priced task's
term is solved exactly (the funds taken in the order of price over weight). Per size and round the table gives the
round's seconds, those of the master's LPs (cutting planes with and without the trust region), the rest (the best
mix of the evaluated allocations and the bookkeeping) and the seconds a county against those of the smallest size:
a ratio near 1 is a master growing linearly with the counties. Writes ``bench/results/<name>.csv`` and ``.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from results_io import markdown_table, write_results

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
SEED = 7


class SyntheticCounties:
    """Concave county values over their upper-fund money (see the module's docstring), answering the master's
    ``lp`` tasks (value, slope per model unit, emergency money) and ``priced`` ones (term, value, money used)."""

    def __init__(self, households: np.ndarray, pairs: list[int], seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.top, self.scale, self.own = 0.9 * households, 3_000.0 * households, 500.0 * households
        self.weight = [rng.uniform(0.5, 1.5, k) for k in pairs]

    def value(self, c: int, money: np.ndarray) -> tuple[float, np.ndarray]:
        """The county's value at ``money`` (yuan per pair) and its gradient (value per yuan)."""
        left = np.exp(-(self.weight[c] @ money + self.own[c]) / self.scale[c])
        return float(self.top[c] * (1.0 - left)), self.top[c] / self.scale[c] * left * self.weight[c]

    def priced(self, c: int, price: np.ndarray, cap: np.ndarray) -> tuple[float, float, np.ndarray]:
        """max over 0 <= a <= cap of V(a) - price.a: its term, V there and that a."""
        g, a, z = self.weight[c], np.zeros(len(price)), 0.0
        for j in np.argsort(price / g):
            ratio = price[j] / g[j]  # value per unit of weighted money this fund costs
            best = np.inf if ratio <= 0 else -self.scale[c] * np.log(ratio * self.scale[c] / self.top[c]) - self.own[c]
            step = min(max(best - z, 0.0), cap[j] * g[j])
            if step <= 0:
                break
            a[j], z = step / g[j], z + step
        v, _ = self.value(c, a)
        return v - float(price @ a), v, a


def measure(households: int, rounds: int, gap: float) -> list[dict[str, Any]]:
    """The master's rounds on the blocks of ``households`` (seed 7) with synthetic counties: one row a round."""
    from optimizer.decompose import master_allocate, plan_blocks
    from optimizer.generate import regions_and_funds
    from optimizer.model import MONEY_UNIT
    from optimizer.regions import build_tree
    from optimizer.scenario import Scenario

    tables, per_county = regions_and_funds(households, seed=SEED)
    per_county = per_county[per_county > 0]
    tree, _ = build_tree(tables["regions"])
    blocks = plan_blocks(tables["funds"], tree, per_county.index.tolist(), per_county.to_numpy(dtype=float))
    synthetic = SyntheticCounties(blocks.households, [len(p) for p in blocks.county_pairs()], SEED)
    county_seconds = np.zeros(0)

    def run(kind: str, money: list[np.ndarray] | None) -> list[Any]:
        nonlocal county_seconds
        t = time.perf_counter()
        assert money is not None
        if kind == "lp":
            out: list[Any] = []
            for c, a in enumerate(money):
                v, slope = synthetic.value(c, a)
                out.append((v, slope * MONEY_UNIT, 0.0))
        else:
            out = [synthetic.priced(c, m[0], m[1]) for c, m in enumerate(money)]
        county_seconds = np.append(county_seconds, time.perf_counter() - t)
        return out

    scenario = Scenario(name="master-bench", data="unused", solver={"gap": gap})
    seen: list[int] = []  # county task calls before each round's record
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        seen.append(len(county_seconds))
        print(f"{households:,} households, {time.perf_counter() - t0:7.1f} s: {msg}", flush=True)

    history = master_allocate(blocks, scenario, run, tol=gap / 2, max_rounds=rounds, say=say).history
    # a round's county tasks (one; two in a priced round) ran inside its seconds: the synthetic ones are taken out
    tasks = np.add.reduceat(county_seconds, np.concatenate([[0], seen[:-1]])) if len(seen) else np.zeros(0)
    return [
        {
            "households": households,
            "counties": len(blocks.counties),
            "pairs": len(blocks.pairs),
            "round": int(h["round"]),
            "master_seconds": h["seconds"] - task,
            "lp_seconds": h["master_seconds"],
            "mix_and_rest_seconds": h["seconds"] - task - h["master_seconds"],
            "gap": h["gap"],
        }
        for (_, h), task in zip(history.iterrows(), tasks)
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000, 30_000_000])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--gap", type=float, default=0.005, help="solver.gap; the rounds stop at half of it")
    ap.add_argument("--name", default="master", help="results file name under bench/results")
    args = ap.parse_args()
    rounds = pd.DataFrame([row for n in args.sizes for row in measure(n, args.rounds, args.gap)])
    rounds.to_csv(OUT / f"{args.name}_rounds.csv", index=False)
    sizes = rounds.groupby("households", sort=False).agg(
        counties=("counties", "first"), pairs=("pairs", "first"), rounds=("round", "max"), master=("master_seconds", "sum"),
        lps=("lp_seconds", "sum"), rest=("mix_and_rest_seconds", "sum"), last=("master_seconds", "last"), gap=("gap", "last"),
    ).reset_index()  # fmt: skip
    sizes["per_county_ms"] = 1000 * sizes["master"] / sizes["counties"]
    sizes["ratio"] = sizes["per_county_ms"] / sizes["per_county_ms"].iloc[0]
    lines = markdown_table(sizes, [
        ("households", "{r.households:,}"), ("counties", "{r.counties:,}"), ("fund-county pairs", "{r.pairs:,}"), ("rounds", "{r.rounds}"),
        ("master (s)", "{r.master:.1f}"), ("its LPs (s)", "{r.lps:.1f}"), ("mix and rest (s)", "{r.rest:.1f}"), ("last round (s)", "{r.last:.1f}"),
        ("ms a county", "{r.per_county_ms:.2f}"), ("vs smallest", "{r.ratio:.2f}x"), ("gap", "{r.gap:.4%}"),
    ])  # fmt: skip
    write_results(sizes, OUT, args.name, lines)


if __name__ == "__main__":
    main()
