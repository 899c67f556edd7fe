"""Min-cost flow (OR-Tools ``SimpleMinCostFlow``), arcs passed in bulk as arrays."""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow

from ..errors import OptimizerError


def solve_min_cost_flow(tails: np.ndarray, heads: np.ndarray, capacities: np.ndarray, costs: np.ndarray, supplies: np.ndarray) -> np.ndarray:
    """Flow on every arc of a min-cost flow with integer capacities, costs and node supplies (sum zero)."""
    mcf = min_cost_flow.SimpleMinCostFlow()
    if len(tails):
        mcf.add_arcs_with_capacity_and_unit_cost(
            tails.astype(np.int32), heads.astype(np.int32), capacities.astype(np.int64), costs.astype(np.int64)
        )
    mcf.set_nodes_supplies(np.arange(len(supplies), dtype=np.int32), supplies.astype(np.int64))
    status = mcf.solve()
    if status != mcf.OPTIMAL:
        raise OptimizerError(f"min-cost flow did not solve (status {status})")
    return np.asarray(mcf.flows(np.arange(len(tails), dtype=np.int64)), dtype=np.int64)
