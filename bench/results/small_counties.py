"""The 900-household multi-year instance of tests/test_decompose_years.py (seed from the command line) split by
county, and the rounds' allocation of its upper money, solved in this process: what the small-county scripts of
bench/README.md share (s34_short_counties.py, s35_full_county_mip.py, s35_projects_fixed.py; run from the
repository root)."""
import sys

from optimizer import decompose
from optimizer.data import build_instance
from optimizer.decompose import split_by_county
from optimizer.generate import generate

sys.path.insert(0, "tests")
from test_decompose_years import _scenario  # noqa: E402

inst = build_instance(generate(900, seed=int(sys.argv[1])))
sc = _scenario()
blocks, parts = split_by_county(inst)
pair_funds = blocks.pairs["fund_id"].to_numpy()
lists = [list(pair_funds[idx]) for idx in blocks.county_pairs()]


def run(kind: str, money: list) -> list:  # type: ignore[type-arg]
    """The counties' LPs (or priced LPs) with ``money``, one after the other, as the master asks."""
    fn = decompose.county_lp if kind == "lp" else decompose.county_priced
    return [fn(c, part, sc, f, *(tuple(m) if kind == "priced" else (m,))) for c, part, f, m in zip(blocks.counties, parts, lists, money)]


def allocate() -> decompose.Allocation:
    """The rounds' allocation (the test's tolerance), with the counties' models as they are cached now."""
    return decompose.master_allocate(blocks, sc, run, tol=sc.solver.gap / 2, max_rounds=60, say=lambda _: None)
