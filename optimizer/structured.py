r"""The exact structured LP of DESIGN §4: a multiple-choice knapsack under laminar budgets, solved by a greedy.

The *laminar LP*: every household h picks a convex mix of its plans (``sum_k x[h,k] = 1``, ``x >= 0``); every
node r of a tree holds ``budget[r]`` money that may be spent in any village of its subtree (one budget row per
node, no categories); maximize ``sum value[k] x[k]``.

It is solved exactly, without a general solver:

1. per household, the upper concave hull of its plans' (cost, value) points: the cheapest plan is a
   mandatory base (its cost must be paid; it is treated as a segment of infinite slope), then segments of
   strictly decreasing positive slope;
2. all segments are sorted once by slope; then, level by level from the villages to the root, each node's
   surviving segments (still in slope order) are bought until the node's budget is used, the last one
   fractionally (a group-wise cumulative sum per level, no re-sort). What a node cannot pay goes up.

Money held lower down can pay for less, so spending it first on the best segments it can reach is optimal
(exchange argument); the LP optimum has at most one fractional household per node whose budget binds.
The shadow price of a node's money is the smallest cut-off slope on its path to the root.

:func:`structured_bound` maps the full model (earmarks, co-financing, paired assistance, projects, floors)
to a laminar relaxation and returns a valid upper bound on its LP (hence MIP) optimum; :func:`value_curve`
(one block) and :func:`block_value_curves` (every county at once) give a block's expected households lifted
as a concave, piecewise-linear function of the extra money it receives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .contract import Level
from .data import Instance
from .errors import InfeasibleError, InputError
from .model import MONEY_UNIT, LinearModel, fund_scopes
from .plans import Plans
from .scenario import Scenario

REL_TOL = 1e-12  # remainders below this share of what was due are treated as paid


@dataclass(frozen=True)
class Laminar:
    """A laminar budget LP.

    ``plan_hh[k]``, ``cost[k]``, ``value[k]``: household, cost and value of plan row k (any order);
    ``hh_node[h]``: the node (a leaf, e.g. a village) where household h's spending lands;
    ``ancestors[n, L]``: node n's ancestor at depth L (itself at its own depth, -1 below it), as
    :attr:`RegionTree.ancestors`; ``budget[n]``: money held at node n, spendable in its subtree.
    """

    plan_hh: np.ndarray
    cost: np.ndarray
    value: np.ndarray
    hh_node: np.ndarray
    ancestors: np.ndarray
    budget: np.ndarray

    @property
    def n_households(self) -> int:
        return len(self.hh_node)

    @property
    def depth(self) -> int:
        return int(self.ancestors.shape[1])


@dataclass(frozen=True)
class LaminarSolution:
    """The LP optimum of a :class:`Laminar` problem.

    Household h takes plan ``plan[h]`` with weight ``1 - theta[h]`` and ``next_plan[h]`` (-1 when none) with
    weight ``theta[h]``. Per node: ``spent`` (money of its own budget used), ``cutoff`` (slope of the first
    segment its budget could not pay: 0 when money is left, inf when it ran out on mandatory costs) and
    ``shadow_price`` (objective per extra unit of money held there).
    """

    value: float
    plan: np.ndarray
    next_plan: np.ndarray
    theta: np.ndarray
    spent: np.ndarray
    cutoff: np.ndarray
    shadow_price: np.ndarray

    @property
    def fractional(self) -> int:
        """Households whose LP choice mixes two plans."""
        return int((self.theta > 0).sum())

    def weights(self, n_plans: int) -> np.ndarray:
        """The LP point: weight x of every plan row."""
        x = np.zeros(n_plans)
        np.add.at(x, self.plan, 1.0 - self.theta)
        mixed = self.theta > 0
        np.add.at(x, self.next_plan[mixed], self.theta[mixed])
        return x


@dataclass(frozen=True)
class Hull:
    """Upper concave hulls of every household's plans: ``vertex`` lists plan rows household by household,
    cheapest first; ``start[h]`` is where household h's vertices begin (``start[n_households]`` = end)."""

    vertex: np.ndarray
    start: np.ndarray


HULL_BLOCK = 1 << 18  # households per block of the hull computation (keeps its arrays in cache-sized pieces)


def concave_hulls(plan_hh: np.ndarray, cost: np.ndarray, value: np.ndarray, n_households: int) -> Hull:
    """Per household, the vertices of the upper concave hull of its (cost, value) points, with free disposal
    of money: the cheapest (most valuable among the cheapest) plan, then plans of strictly decreasing
    positive slope. Every household needs at least one plan.

    Plans are laid out as a households x K table (K = most plans of a household), sorted by cost within each
    row, and processed in blocks of :data:`HULL_BLOCK` households (see :func:`_hull_block`)."""
    hh = np.asarray(plan_hh, dtype=np.int64)
    counts = np.bincount(hh, minlength=n_households)
    if (counts == 0).any():
        raise InputError(f"{int((counts == 0).sum())} household(s) have no plan")
    k = int(counts.max())
    plan: np.ndarray | None = None  # None: plan row = household * k + slot (k plans each, in household order)
    if len(hh) == n_households * k and (len(hh) < 2 or bool(np.all(hh[1:] >= hh[:-1]))):
        costs, values = cost.reshape(n_households, k), value.reshape(n_households, k)
    else:
        rows = np.argsort(hh, kind="stable")
        start = np.r_[0, np.cumsum(counts)]
        flat = hh[rows] * k + (np.arange(len(hh)) - start[hh[rows]])
        plan = np.full(n_households * k, -1, dtype=np.int64)
        plan[flat] = rows
        plan = plan.reshape(n_households, k)
        missing = plan < 0
        costs = np.where(missing, np.inf, cost[np.maximum(plan, 0)])
        values = np.where(missing, -np.inf, value[np.maximum(plan, 0)])
    vertex, top = [], []
    for lo in range(0, n_households, HULL_BLOCK):
        hi = min(n_households, lo + HULL_BLOCK)
        c, v = costs[lo:hi], values[lo:hi]
        p = None if plan is None else plan[lo:hi]
        if not bool(np.all(c[:, 1:] > c[:, :-1])):
            order = np.lexsort((-v, c), axis=1)  # by cost, the most valuable first among equal costs
            if p is None:
                p = lo * k + np.arange((hi - lo) * k).reshape(hi - lo, k)
            p, c, v = (np.take_along_axis(x, order, axis=1) for x in (p, c, v))
        alive = _hull_block(c.T.copy(), v.T.copy()).T
        vertex.append(lo * k + np.flatnonzero(alive) if p is None else p[alive])
        top.append(alive.sum(axis=1) - 1)
    return Hull(vertex=np.concatenate(vertex), start=np.r_[0, np.cumsum(np.concatenate(top) + 1)])


def _hull_block(c: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Which points (K x households, sorted by cost in each column, inf cost where missing) are hull vertices.

    Points on or below the chord of their neighbours (for the last one: worth no more than the previous one)
    lie below the hull, so all of them can be dropped at once; passes repeat over the households whose hull
    changed. Every step is a contiguous vector operation over households."""
    k, n = c.shape
    alive = np.isfinite(c)
    rows = np.arange(n)  # households whose hull may still change
    while len(rows):
        full = len(rows) == n
        a, cr, vr = (alive, c, v) if full else (alive[:, rows], c[:, rows], v[:, rows])
        if full and bool(a.all()):  # first pass without gaps: the neighbours are the adjacent slots
            cp, vp, has_p = _shift(cr, 1), _shift(vr, 1), _shift(a, 1)
            cn, vn, has_n = _shift(cr, -1), _shift(vr, -1), _shift(a, -1)
        else:
            cp, vp, has_p = _carry(a, cr, vr, range(k))
            cn, vn, has_n = _carry(a, cr, vr, range(k - 1, -1, -1))
        with np.errstate(divide="ignore", invalid="ignore"):
            slope_in = np.where(has_p & (cr > cp), (vr - vp) / (cr - cp), -np.inf)
            slope_out = np.where(has_n, np.where(cn > cr, (vn - vr) / (cn - cr), -np.inf), 0.0)
        drop = a & has_p & (slope_in <= slope_out)
        changed = drop.any(axis=0)
        if full:
            alive &= ~drop
        else:
            alive[:, rows] = a & ~drop
        rows = rows[changed]
    return alive


def _shift(x: np.ndarray, by: int) -> np.ndarray:
    """Rows of ``x`` moved down (``by`` = 1) or up (-1) one slot, zero-filled."""
    out = np.zeros_like(x)
    if by > 0:
        out[by:] = x[:-by]
    else:
        out[:by] = x[-by:]
    return out


def _carry(alive: np.ndarray, c: np.ndarray, v: np.ndarray, slots: range) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every slot, cost and value of the nearest alive slot before it in the order ``slots``."""
    out_c, out_v, out_has = np.empty_like(c), np.empty_like(v), np.empty(c.shape, dtype=bool)
    run_c, run_v = np.zeros(c.shape[1]), np.zeros(c.shape[1])
    run_has = np.zeros(c.shape[1], dtype=bool)
    for j in slots:
        out_c[j], out_v[j], out_has[j] = run_c, run_v, run_has
        a = alive[j]
        run_c = np.where(a, c[j], run_c)
        run_v = np.where(a, v[j], run_v)
        run_has = run_has | a
    return out_c, out_v, out_has


@dataclass
class _Items:
    """Segments not yet fully paid, in decreasing slope order (base costs first, with infinite slope)."""

    item: np.ndarray  # position in the full segment list
    node: np.ndarray  # node of the level being processed
    left: np.ndarray  # money still to pay


@dataclass(frozen=True)
class _Segments:
    """Every household's base cost and hull segments, household by household, cheapest first."""

    hh: np.ndarray  # household (int32)
    length: np.ndarray  # money
    slope: np.ndarray  # value per money (inf for the base)
    base: np.ndarray  # the household's cheapest plan (bool)


def _segments(problem: Laminar, hull: Hull) -> _Segments:
    vert = hull.vertex
    counts = np.diff(hull.start)
    hh = np.repeat(np.arange(problem.n_households, dtype=np.int32), counts)
    base = np.zeros(len(vert), dtype=bool)
    base[hull.start[:-1]] = True
    c = problem.cost[vert]
    length = np.where(base, c, c - np.r_[0.0, c[:-1]])
    del c
    with np.errstate(divide="ignore", invalid="ignore"):
        v = problem.value[vert]
        slope = np.where(base, np.inf, (v - np.r_[0.0, v[:-1]]) / length)
    return _Segments(hh, length, slope, base)


def _greedy(problem: Laminar, hull: Hull, top: int) -> tuple[_Items, np.ndarray, np.ndarray, _Segments]:
    """Pay segments level by level from the leaves up to depth ``top`` (inclusive).

    Returns the segments left unpaid (in slope order, with their node at depth ``top``), per-node money spent
    and cutoff slope, and the segments."""
    seg = _segments(problem, hull)
    length, slope = seg.length, seg.slope
    ancestors = problem.ancestors.astype(np.int32) if len(problem.budget) < 2**31 else problem.ancestors
    paid = np.flatnonzero(length > 0)  # free base plans need no money
    order = paid[np.argsort(-slope[paid])]  # strictly decreasing within a household, so no tie-break is needed
    del paid
    if len(length) < 2**31:
        order = order.astype(np.int32)
    if (ancestors[problem.hh_node, problem.depth - 1] != problem.hh_node).any():
        raise InputError("every household must sit on a node of the deepest level (a village)")
    leaf = problem.hh_node.astype(ancestors.dtype)[seg.hh[order]]
    live = _Items(item=order, node=leaf, left=length[order])
    n_nodes = len(problem.budget)
    spent = np.zeros(n_nodes)
    cutoff = np.zeros(n_nodes)
    for level in range(problem.depth - 1, top - 1, -1):
        node = ancestors[:, level][live.node]
        room = problem.budget[node]
        cum = pd.Series(live.left).groupby(node, sort=False).cumsum().to_numpy()
        before = cum - live.left
        take = np.minimum(live.left, np.maximum(room - before, 0.0))
        spent += np.bincount(node, weights=take, minlength=n_nodes)
        left = live.left - take
        left[left <= REL_TOL * live.left] = 0.0  # rounding, not money
        # cutoff: slope of the first segment in each node's order that its money (maybe none) left unpaid
        first = (left > 0) & (before <= room)
        cutoff[node[first]] = slope[live.item[first]]
        alive = left > 0
        live = _Items(item=live.item[alive], node=node[alive], left=left[alive])
    return live, spent, cutoff, seg


def _prices(problem: Laminar, cutoff: np.ndarray) -> np.ndarray:
    """Shadow price of every node's money: the smallest cutoff on its path to the root."""
    anc = problem.ancestors
    vals = np.where(anc >= 0, cutoff[np.maximum(anc, 0)], np.inf)
    price = vals.min(axis=1)
    return np.where(np.isfinite(price), price, 0.0)


def solve_laminar(problem: Laminar) -> LaminarSolution:
    """The exact LP optimum of a laminar budget problem (raises :class:`InfeasibleError` when the budgets
    cannot pay every household's cheapest plan)."""
    hull = concave_hulls(problem.plan_hh, problem.cost, problem.value, problem.n_households)
    live, spent, cutoff, seg = _greedy(problem, hull, 0)
    base_left = live.left[seg.base[live.item]]
    if len(base_left):
        raise InfeasibleError(
            f"infeasible: {len(base_left):,} household(s) cannot be paid their cheapest plan; "
            f"{base_left.sum():,.4f} money units short in total"
        )
    # households buy a prefix of their segments: full ones, then at most one in part
    length = seg.length
    left = np.zeros(len(length))
    left[live.item] = live.left
    n_full = np.bincount(seg.hh, weights=(~seg.base & (left == 0)).astype(float), minlength=problem.n_households).astype(np.int64)
    part = np.flatnonzero(~seg.base & (left > 0) & (left < length))
    theta = np.zeros(problem.n_households)
    theta[seg.hh[part]] = (length[part] - left[part]) / length[part]
    plan = hull.vertex[hull.start[:-1] + n_full]
    nxt = np.full(problem.n_households, -1, dtype=np.int64)
    more = hull.start[:-1] + n_full + 1 < hull.start[1:]
    nxt[more] = hull.vertex[hull.start[:-1][more] + n_full[more] + 1]
    value = float(problem.value[plan].sum() + (theta * np.where(more, problem.value[np.maximum(nxt, 0)] - problem.value[plan], 0.0)).sum())
    return LaminarSolution(value, plan, nxt, theta, spent, cutoff, _prices(problem, cutoff))


def lagrangian_bound(problem: Laminar, price: np.ndarray) -> float:
    """Upper bound of the laminar LP for any node prices >= 0: sum of budget x price, plus every household's
    best plan when money in its village costs the smallest price on the village's path to the root.
    Equal to the LP optimum at :attr:`LaminarSolution.shadow_price` (strong duality), a check of both."""
    anc = problem.ancestors[problem.hh_node]
    village_price = np.where(anc >= 0, price[np.maximum(anc, 0)], np.inf).min(axis=1)
    reduced = problem.value - problem.cost * village_price[problem.plan_hh]
    best = np.full(problem.n_households, -np.inf)
    np.maximum.at(best, problem.plan_hh, reduced)
    return float(problem.budget @ price + best.sum())


def laminar_model(problem: Laminar) -> LinearModel:
    """The same LP for a general solver: plan columns x, flow columns f[node, village] for every node with
    money and every village below it, rows ``sum_k x = 1`` per household, ``spend - inflow <= 0`` per
    village, ``sum f <= budget`` per node."""
    n_p, n_h = len(problem.cost), problem.n_households
    villages, hh_v = np.unique(problem.hh_node, return_inverse=True)
    n_v = len(villages)
    pairs_v, pairs_n = [], []
    for level in range(problem.depth):
        node = problem.ancestors[villages, level]
        ok = node >= 0
        ok[ok] = problem.budget[node[ok]] > 0
        pairs_v.append(np.flatnonzero(ok))
        pairs_n.append(node[ok])
    fv, fn = np.concatenate(pairs_v), np.concatenate(pairs_n)
    funded, f_row = np.unique(fn, return_inverse=True)
    n_f = len(fv)
    rows = np.concatenate([problem.plan_hh, n_h + hh_v[problem.plan_hh], n_h + fv, n_h + n_v + f_row])
    cols = np.concatenate([np.arange(n_p), np.arange(n_p), n_p + np.arange(n_f), n_p + np.arange(n_f)])
    vals = np.concatenate([np.ones(n_p), problem.cost, -np.ones(n_f), np.ones(n_f)])
    n_rows = n_h + n_v + len(funded)
    A = sp.csr_matrix((vals, (rows, cols)), shape=(n_rows, n_p + n_f))
    return LinearModel(
        sense="max",
        c=np.concatenate([problem.value, np.zeros(n_f)]),
        A=A,
        row_lo=np.concatenate([np.ones(n_h), np.full(n_v + len(funded), -np.inf)]),
        row_hi=np.concatenate([np.ones(n_h), np.zeros(n_v), problem.budget[funded]]),
        col_lo=np.zeros(n_p + n_f),
        col_hi=np.concatenate([np.full(n_p, np.inf), np.full(n_f, np.inf)]),
        integer=np.zeros(n_p + n_f, dtype=bool),
        col_blocks={"x": slice(0, n_p), "f": slice(n_p, n_p + n_f)},
        row_blocks={"assign": slice(0, n_h), "balance": slice(n_h, n_h + n_v), "budget": slice(n_h + n_v, n_rows)},
    )


# ---------------------------------------------------------------------------------------------------------------
# The full model's laminar relaxation
# ---------------------------------------------------------------------------------------------------------------


def fund_holders(instance: Instance) -> np.ndarray:
    """Node of every fund in the relaxation: its holder, or for a paired-assistance fund the lowest common
    ancestor of its targets (every yuan it may spend lies in that subtree)."""
    tree = instance.tree
    scopes = fund_scopes(instance.funds, instance.tree)
    holder = tree.ancestors[tree.pos(instance.funds["region_id"]), 0].copy()  # the root, unless a lower one fits
    fund = scopes["fund"].to_numpy()
    region = scopes["region"].to_numpy()
    for level in range(1, len(Level)):
        anc = tree.ancestors[region, level]
        g = pd.DataFrame({"fund": fund, "anc": anc}).groupby("fund")["anc"].agg(["min", "max"])
        same = (g["min"] == g["max"]) & (g["min"] >= 0)
        holder[g.index[same].to_numpy()] = g["min"][same].to_numpy()
    return holder


def laminar_relaxation(instance: Instance, scenario: Scenario, plans: Plans) -> Laminar:
    """A laminar LP whose optimum bounds the full model's LP (hence MIP) optimum from above (max_lifted mode).

    Relaxed: earmarks (any fund pays any category), co-financing rows, paired-assistance scopes (the fund is
    held at the lowest common ancestor of its targets), helper, coverage and capacity rows. Floors and cost
    caps are already in the plan set (plans that break a hard floor are not generated), so every household
    keeps exactly its plans. A project-tied plan is charged ``cost_j / min(capacity_j, n_j)`` of its project
    j (n_j households have a plan tied to j): the full model needs ``y_j >= sum x / capacity_j`` and
    ``y_j >= x_h`` for each of them, so the project costs at least that much per unit of tied plans.
    Money is in model units (:data:`MONEY_UNIT` yuan)."""
    if scenario.mode != "max_lifted":
        raise InputError("the structured bound is defined for mode max_lifted only")
    tree = instance.tree
    table = plans.table
    cost = table["cost"].to_numpy(dtype=float).copy()
    proj = table["project"].to_numpy()
    tied = proj >= 0
    if tied.any():
        projects = instance.projects.reset_index(drop=True)
        users = pd.DataFrame({"project": proj[tied], "hh": table["hh"].to_numpy()[tied]}).drop_duplicates()
        n_users = np.bincount(users["project"].to_numpy(), minlength=len(projects))
        share = projects["cost"].to_numpy(dtype=float) / np.maximum(np.minimum(projects["capacity"].to_numpy(dtype=float), n_users), 1.0)
        cost[tied] += share[proj[tied]]
    budget = np.bincount(fund_holders(instance), weights=instance.funds["amount"].to_numpy(dtype=float), minlength=len(tree.ids))
    return Laminar(
        plan_hh=table["hh"].to_numpy(dtype=np.int64),
        cost=cost / MONEY_UNIT,
        value=table["value"].to_numpy(dtype=float),
        hh_node=tree.pos(instance.households["village_id"]),
        ancestors=tree.ancestors,
        budget=budget / MONEY_UNIT,
    )


def structured_bound(instance: Instance, scenario: Scenario, plans: Plans) -> float:
    """A valid upper bound on the full model's LP (and MIP) optimum from the laminar relaxation, in
    objective units (max_lifted mode)."""
    return solve_laminar(laminar_relaxation(instance, scenario, plans)).value


# ---------------------------------------------------------------------------------------------------------------
# Value curves
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueCurve:
    """Objective of one block against extra money received at its top node (yuan): concave, piecewise
    linear through ``(money[i], value[i])``, flat after the last point, infeasible below ``money[0]``
    (the money still needed for the households' cheapest plans)."""

    region_id: str
    money: np.ndarray
    value: np.ndarray

    @property
    def min_money(self) -> float:
        return float(self.money[0])

    def __call__(self, amount: np.ndarray | float) -> np.ndarray:
        """Value at ``amount`` yuan received (-inf below :attr:`min_money`)."""
        a = np.asarray(amount, dtype=float)
        out = np.interp(a, self.money, self.value)
        return np.where(a < self.money[0] - 1e-9 * max(1.0, abs(self.money[0])), -np.inf, out)

    def slope(self, amount: float) -> float:
        """Objective per extra 10,000 yuan just after ``amount`` (0 past the last point)."""
        i = int(np.searchsorted(self.money, amount, side="right"))
        if i >= len(self.money):
            return 0.0
        if i == 0:
            return float("inf")
        return float((self.value[i] - self.value[i - 1]) / (self.money[i] - self.money[i - 1]) * MONEY_UNIT)


def value_curves(problem: Laminar, level: int, unit: float = 1.0) -> pd.DataFrame:
    """Breakpoints of every depth-``level`` node's value curve: ``node, money, value`` sorted by node then
    money, money counted from 0 (extra money received at the node, in ``unit`` per problem unit; the first
    point of a node is where its own budgets have paid everything they can, ``money`` > 0 there when the
    node's households still need money for their cheapest plans). Budgets above ``level`` are ignored."""
    hull = concave_hulls(problem.plan_hh, problem.cost, problem.value, problem.n_households)
    live, _, _, seg = _greedy(problem, hull, level)
    paid = seg.length.copy()
    paid[live.item] -= live.left
    hh_top = problem.ancestors[problem.hh_node, level]
    gain = np.zeros(len(paid))
    gain[~seg.base] = seg.slope[~seg.base] * paid[~seg.base]
    got = np.bincount(seg.hh, weights=gain, minlength=problem.n_households)
    base = problem.value[hull.vertex[hull.start[:-1]]]
    nodes = np.unique(hh_top)
    v0 = pd.Series(base + got).groupby(hh_top).sum().reindex(nodes).to_numpy()
    # leftover segments, still in slope order: grouped by node (stable), mandatory ones first
    node = live.node
    order = np.argsort(node, kind="stable")
    node, item, left = node[order], live.item[order], live.left[order]
    mandatory = seg.base[item]
    need = np.bincount(np.searchsorted(nodes, node[mandatory]), weights=left[mandatory], minlength=len(nodes))
    opt = ~mandatory
    node, item, left = node[opt], item[opt], left[opt]
    g = np.searchsorted(nodes, node)
    money = need[g] + _group_cumsum(left, g)
    value = v0[g] + _group_cumsum(left * seg.slope[item], g)
    out = pd.DataFrame(
        {
            "node": np.concatenate([nodes, node]),
            "money": np.concatenate([need, money]) * unit,
            "value": np.concatenate([v0, value]),
            "_k": np.concatenate([np.zeros(len(nodes)), np.ones(len(node))]),
        }
    )
    out["_i"] = np.arange(len(out))
    return out.sort_values(["node", "_k", "_i"], kind="stable").drop(columns=["_k", "_i"]).reset_index(drop=True)


def _group_cumsum(x: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Cumulative sum within runs of equal ``group`` (grouped, e.g. sorted)."""
    if not len(x):
        return np.zeros(0)
    total = np.cumsum(x)
    start = np.r_[True, group[1:] != group[:-1]]
    run = np.cumsum(start) - 1
    return total - (total - x)[start][run]


def block_budgets(instance: Instance, level: int) -> np.ndarray:
    """Money of every region (model units) that belongs to the block of its ancestor at ``level``: funds
    held inside a block whose whole scope lies inside it. Funds held above ``level``, or reaching beyond
    their block (paired assistance, held by the eastern partner), are the blocks' *extra* money, left to
    whoever shares it out among blocks."""
    tree = instance.tree
    scopes = fund_scopes(instance.funds, instance.tree)
    holder = tree.pos(instance.funds["region_id"])
    block = tree.ancestors[holder, level]
    scope_block = tree.ancestors[scopes["region"].to_numpy(), level]
    inside = pd.Series(scope_block == block[scopes["fund"].to_numpy()]).groupby(scopes["fund"].to_numpy()).all()
    own = (block >= 0) & inside.reindex(np.arange(len(holder)), fill_value=False).to_numpy()
    amount = instance.funds["amount"].to_numpy(dtype=float) / MONEY_UNIT
    return np.bincount(fund_holders(instance)[own], weights=amount[own], minlength=len(tree.ids))


def block_relaxation(instance: Instance, scenario: Scenario, plans: Plans, region: str) -> Laminar:
    """The laminar relaxation of one block (a region's subtree, e.g. a county): its households and its own
    money (:func:`block_budgets`)."""
    full = laminar_relaxation(instance, scenario, plans)
    tree = instance.tree
    pos = int(tree.pos([region])[0])
    if pos < 0:
        raise InputError(f"unknown region '{region}'")
    level = int(tree.level[pos])
    inside = tree.ancestors[:, level] == pos
    hh_in = np.flatnonzero(inside[full.hh_node])
    new_hh = np.full(full.n_households, -1, dtype=np.int64)
    new_hh[hh_in] = np.arange(len(hh_in))
    rows = np.flatnonzero(new_hh[full.plan_hh] >= 0)
    return Laminar(
        plan_hh=new_hh[full.plan_hh[rows]],
        cost=full.cost[rows],
        value=full.value[rows],
        hh_node=full.hh_node[hh_in],
        ancestors=full.ancestors,
        budget=np.where(inside, block_budgets(instance, level), 0.0),
    )


def block_value_curves(instance: Instance, scenario: Scenario, plans: Plans, level: int = Level.COUNTY) -> pd.DataFrame:
    """Every block's value curve at once (blocks = regions of ``level`` with households): ``region_id``,
    ``money`` (extra yuan received), ``value`` (objective), breakpoints sorted by region then money; each
    block spends its own money (:func:`block_budgets`) first."""
    full = laminar_relaxation(instance, scenario, plans)
    problem = Laminar(full.plan_hh, full.cost, full.value, full.hh_node, full.ancestors, block_budgets(instance, level))
    table = value_curves(problem, level, unit=MONEY_UNIT)
    region_id = instance.tree.ids.to_numpy()[table["node"].to_numpy()]
    return table.drop(columns="node").assign(region_id=region_id)[["region_id", "money", "value"]]


def value_curve(instance: Instance, scenario: Scenario, plans: Plans, region: str) -> ValueCurve:
    """Expected households lifted (objective units) in ``region``'s block against the extra money (yuan) it
    receives from above, from the laminar relaxation: an upper bound of the block's true value function,
    exact for laminar data."""
    problem = block_relaxation(instance, scenario, plans, region)
    if problem.n_households == 0:
        return ValueCurve(region, np.zeros(1), np.zeros(1))
    level = int(instance.tree.level[instance.tree.pos([region])[0]])
    table = value_curves(problem, level, unit=MONEY_UNIT)
    return ValueCurve(region, table["money"].to_numpy(), table["value"].to_numpy())
