"""Naive allocation policies to measure the optimizer against (bench and notebooks).

* ``greedy``: a cost-effectiveness greedy. Everyone starts on their cheapest admissible plan; then plan
  upgrades are taken in order of value gained per yuan while some fund can pay, lowest level first
  (village money before township ... before central and paired money), respecting scopes, earmarks and
  co-financing. Project-tied plans are left out (a greedy cannot price a shared project).
* ``equal_split``: every fund's money is split evenly over the poor households in its scope, and each
  household takes the best plan its share can buy. Earmarks are ignored, which flatters this policy.

Both return the chosen plan row per household (indices into ``plans.table``) and the expected lifted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .data import Instance
from .model import ModelIndex
from .plans import Plans


@dataclass(frozen=True)
class Allocation:
    plan_rows: np.ndarray  # one row of plans.table per household
    expected_lifted: float
    value: float
    cost: float
    feasible: bool


def _summarise(plans: Plans, rows: np.ndarray, feasible: bool) -> Allocation:
    t = plans.table.iloc[rows]
    return Allocation(rows, float(t["p"].sum()), float(t["value"].sum()), float(t["cost"].sum()), feasible)


def greedy(instance: Instance, plans: Plans, index: ModelIndex) -> Allocation:
    """Cost-effectiveness greedy that fills budgets in order (see module docstring)."""
    table = plans.table
    own = table[table["project"] < 0]
    cc = plans.category_cost.tocsr()
    flows = index.flows
    funds = instance.funds.reset_index(drop=True)
    remaining = funds["amount"].to_numpy(dtype=float).copy()
    share = 1.0 - funds["co_financing"].to_numpy(dtype=float)
    level = instance.tree.level[instance.tree.pos(funds["region_id"])]
    # per cell: flows ordered lowest level first
    order = np.lexsort((flows["fund"].to_numpy(), -level[flows["fund"].to_numpy()], flows["cell"].to_numpy()))
    cell_flows: dict[int, np.ndarray] = {}
    fl_cell = flows["cell"].to_numpy()[order]
    for cell, idx in pd.Series(order).groupby(fl_cell):
        cell_flows[int(cell)] = idx.to_numpy()
    flow_fund = flows["fund"].to_numpy()
    cells = index.cells
    cell_of = pd.Index(cells["village"].to_numpy() * 100 + cells["cat"].to_numpy())
    hh_village = instance.tree.pos(instance.households["village_id"])
    cell_total = np.zeros(len(cells))
    paid_flow = np.zeros(len(flows))

    def pay(k: int) -> list[tuple[int, float]] | None:
        h = table["hh"].iat[k]
        sl = slice(cc.indptr[k], cc.indptr[k + 1])
        done: list[tuple[int, float]] = []
        for cat, amount in zip(cc.indices[sl], cc.data[sl]):
            cell = int(cell_of.get_loc(hh_village[h] * 100 + cat))
            cell_total[cell] += amount
            left = amount
            for f in cell_flows.get(cell, ()):
                fund = flow_fund[f]
                cap = min(remaining[fund], share[fund] * cell_total[cell] - paid_flow[f])
                take = min(left, max(cap, 0.0))
                if take > 0:
                    remaining[fund] -= take
                    paid_flow[f] += take
                    done.append((f, take))
                    left -= take
                if left <= 1e-9:
                    break
            if left > 1e-9:
                refund(done, k)
                return None
        return done

    def refund(done: list[tuple[int, float]], k: int) -> None:
        for f, amount in done:
            remaining[flow_fund[f]] += amount
            paid_flow[f] -= amount
        sl = slice(cc.indptr[k], cc.indptr[k + 1])
        h = table["hh"].iat[k]
        for cat, amount in zip(cc.indices[sl], cc.data[sl]):
            cell_total[int(cell_of.get_loc(hh_village[h] * 100 + cat))] -= amount

    cheapest = own.groupby("hh")["cost"].idxmin()
    current = np.full(instance.n_households, -1, dtype=np.int64)
    payments: dict[int, list[tuple[int, float]]] = {}
    feasible = True
    for h, k in cheapest.items():
        done = pay(int(k))
        if done is None:
            feasible = False
            continue
        current[int(h)] = int(k)
        payments[int(h)] = done
    base = table.loc[cheapest.to_numpy(), ["hh", "cost", "value"]].set_index("hh")
    gain = own["value"].to_numpy() - base["value"].reindex(own["hh"]).to_numpy()
    extra = own["cost"].to_numpy() - base["cost"].reindex(own["hh"]).to_numpy()
    eff = np.where(extra > 0, gain / np.maximum(extra, 1e-9), -np.inf)
    candidates = own.index.to_numpy()[np.argsort(-eff, kind="stable")]
    value = table["value"].to_numpy()
    for k in candidates[np.isfinite(np.sort(-eff))]:
        h = int(table["hh"].iat[k])
        cur = current[h]
        if cur < 0 or value[k] <= value[cur]:
            continue
        refund(payments[h], int(cur))
        done = pay(int(k))
        if done is None:
            payments[h] = pay(int(cur)) or []
            continue
        current[h] = k
        payments[h] = done
    return _summarise(plans, current[current >= 0], feasible and bool((current >= 0).all()))


def equal_split(instance: Instance, plans: Plans) -> Allocation:
    """Split every fund evenly over the households in its scope; each buys the best plan it can afford."""
    tree = instance.tree
    funds = instance.funds.reset_index(drop=True)
    hh_village = tree.pos(instance.households["village_id"])
    budget = np.zeros(instance.n_households)
    for _, fund in funds.iterrows():
        scopes = [t for t in str(fund["targets"]).split(";") if t.strip()] or [fund["region_id"]]
        inside = np.zeros(instance.n_households, dtype=bool)
        for region in scopes:
            pos = int(tree.pos([region])[0])
            inside |= tree.ancestors[hh_village, tree.level[pos]] == pos
        if inside.any():
            budget[inside] += fund["amount"] / inside.sum()
    own = plans.table[plans.table["project"] < 0]
    affordable = own[own["cost"].to_numpy() <= budget[own["hh"].to_numpy()] + 1e-9]
    best = affordable.sort_values(["hh", "value"], kind="stable").groupby("hh").tail(1)
    cheapest = own.loc[own.groupby("hh")["cost"].idxmin()]
    chosen = pd.concat([best, cheapest[~cheapest["hh"].isin(best["hh"])]]).sort_values("hh")
    return _summarise(plans, chosen.index.to_numpy(), True)
