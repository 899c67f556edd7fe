"""Memory limits of the monolithic path: estimate before allocating, refuse with a clear message.

Peak memory is set by plan generation (household x template arrays) and then by the solver (per candidate
plan). The coefficients below were fitted to generated instances (``bench/memory_bench.py``, 2,000 to
100,000 households, 100 measure sets): the estimate came out 4-20% above the measured peak.
"""

from __future__ import annotations

import os
import resource

from .errors import ResourceLimitError
from .inputs import MB
from .scenario import Scenario

BASE_MB = 300.0  # interpreter, numpy/pandas/scipy, solver libraries
HOUSEHOLD_BYTES = 500.0  # loaded tables, per household
CELL_BYTES = 150.0  # plan generation, per household x template
PAIR_BYTES = 5.0  # dominance pruning, per household x template^2 in one chunk
PRUNE_CHUNK = 512  # households per pruning chunk (plans._prune): blocks of rows with about as many admissible plans
PLAN_BYTES = 2500.0  # model, LP and relax-and-fix MIP, per candidate plan
DEFAULT_SHARE = 0.8  # of physical memory, when the scenario sets no limit


def memory_limit_mb(scenario: Scenario) -> float:
    """The scenario's ``limits.max_memory_mb``, else 80% of this machine's physical memory."""
    if scenario.limits.max_memory_mb is not None:
        return float(scenario.limits.max_memory_mb)
    try:
        return DEFAULT_SHARE * os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / MB
    except (ValueError, OSError, AttributeError):
        return float("inf")


def plans_memory_mb(households: int, templates: int) -> float:
    """Estimated peak while generating and pruning plans."""
    pairs = min(households, PRUNE_CHUNK) * templates**2 * PAIR_BYTES
    return BASE_MB + (households * (HOUSEHOLD_BYTES + templates * CELL_BYTES) + pairs) / MB


def solve_memory_mb(households: int, plans: int) -> float:
    """Estimated peak while building and solving the model of ``plans`` candidate plans."""
    return BASE_MB + (households * HOUSEHOLD_BYTES + plans * PLAN_BYTES) / MB


def check_memory(stage: str, need_mb: float, households: int, scenario: Scenario) -> None:
    """Refuse, before allocating, a stage whose estimated memory exceeds the limit."""
    limit = memory_limit_mb(scenario)
    if need_mb <= limit:
        return
    if scenario.mode == "max_lifted" and not scenario.helpers.capacity_in_model:
        way = "or solve county by county with the decomposed method (solve --method decomposed)"
    else:
        way = "or split the instance: the decomposed method (--method decomposed) does not support " + (
            "mode min_cost" if scenario.mode != "max_lifted" else "helpers.capacity_in_model"
        )
    raise ResourceLimitError(
        f"{households:,} households are too many for the monolithic model on this memory: {stage} needs an estimated "
        f"{need_mb:,.0f} MB, above the limit of {limit:,.0f} MB (limits.max_memory_mb, --max-memory). Raise the limit if the "
        f"machine has the memory, lower plans.max_per_household or plans.max_measures, {way}"
    )


def cap_process_memory(limit_mb: float) -> None:
    """Hard backstop for the command line: the process's data segment may not grow past ``limit_mb``, so an
    allocation beyond it fails with MemoryError (reported as exit code 8) instead of swapping the machine."""
    limit = int(limit_mb * MB)
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
