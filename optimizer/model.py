r"""The allocation model (DESIGN §4), compiled to sparse matrices.

Variables
    x[k] in {0,1}   plan k chosen (each plan belongs to one household h(k))
    y[j] in {0,1}   project j built
    f[l] >= 0       money on flow l = (fund, village, category): fund money spent in that cell
                    (money is in units of MONEY_UNIT = 10,000 yuan throughout the model)

Rows
    assign      sum_{k of h} x[k] = 1                                             for every household h
    balance     sum_k cost[k,c] x[k] + sum_j cost[j] y[j] - sum_l f[l] = 0        for every (village v, category c)
    fund        sum_{l of fund} f[l] <= amount                                    for every fund
    cofin       c_F f[l] - (1 - c_F) sum_{l' in cell(l), l' != l} f[l'] <= 0       for flows of co-financed funds
    link        sum_{k of h tied to j} x[k] - y[j] <= 0                           for every (household, project)
    capacity    sum_{k tied to j} x[k] - capacity[j] y[j] <= 0                    for every project j
    target      sum_k p[k] x[k] >= T                                              (min_cost, count target)
    incidence   sum_{k of county} p[k] x[k] >= poor[c] - rate * rural[c]          (min_cost, per county)

A flow (fund, v, c) exists only when v lies in the fund's scope (the holder's subtree, or the subtrees of
its paired targets) and c is one of its categories, so earmarks and scopes need no extra rows; funds are
held at all six levels, so budgets bind at every level.

Objective: max sum_k value[k] x[k] (expected households lifted, weighted), or, in min_cost mode,
min sum_l f[l] (money spent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .contract import ANY_CATEGORY, LIST_SEP, PLAN_PROJECT_SEP, HelperKind, Level
from .data import Instance, equal_pairs, isin
from .helpers import ClassNetwork, class_network, household_needs
from .plans import CATEGORIES, Plans
from .regions import RegionTree
from .scenario import Scenario

INF = np.inf
MONEY_UNIT = 10_000.0  # yuan per model money unit: keeps coefficients near 1, which makes the LP several times faster


@dataclass(frozen=True)
class LinearModel:
    """A MIP in bulk form: ``row_lo <= A x <= row_hi``, ``col_lo <= x <= col_hi``, some columns integer."""

    sense: str  # "max" or "min"
    c: np.ndarray
    A: sp.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    integer: np.ndarray
    objective_unit: float = 1.0  # multiply the model objective by this to report it (yuan in min_cost mode)
    col_blocks: dict[str, slice] = field(default_factory=dict)
    row_blocks: dict[str, slice] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.A.shape  # type: ignore[return-value]

    def relaxed(self) -> LinearModel:
        """The LP relaxation."""
        return replace(self, integer=np.zeros_like(self.integer))

    def with_bounds(self, col_lo: np.ndarray, col_hi: np.ndarray) -> LinearModel:
        """The same model with other column bounds (used to fix decisions)."""
        return replace(self, col_lo=col_lo, col_hi=col_hi)

    def with_rows(self, block: str, A: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray) -> LinearModel:
        """The model with a block of rows appended (e.g. the nightly churn cap)."""
        n = self.shape[0]
        return replace(
            self,
            A=sp.vstack([self.A, A], format="csr"),
            row_lo=np.concatenate([self.row_lo, lo]),
            row_hi=np.concatenate([self.row_hi, hi]),
            row_blocks={**self.row_blocks, block: slice(n, n + A.shape[0])},
        )


@dataclass(frozen=True)
class ModelIndex:
    """What each column and row stands for, so values and duals join back to ids."""

    plans: pd.DataFrame  # plan table (one row per x column)
    projects: pd.DataFrame  # project_id, village_id, cost, category, capacity (one row per y column)
    flows: pd.DataFrame  # fund_id, village, category (one row per f column)
    cells: pd.DataFrame  # village, category (one row per balance row)
    funds: pd.DataFrame  # fund_id, amount (one row per fund row)
    cofin: pd.DataFrame  # flow (one row per cofin row)
    links: pd.DataFrame  # hh, project (one row per link row)
    counties: pd.DataFrame  # county, poor, rural, need (one row per incidence row)
    household_ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    col_village: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # village of each x and y column

    def col_names(self) -> list[str]:
        hid = self.household_ids[self.plans["hh"].to_numpy()]
        names = [f"x/{h}/{m}" + (f"@{j}" if j >= 0 else "") for h, m, j in zip(hid, self.plans["measures"], self.plans["project"])]
        names += [f"y/{p}" for p in self.projects["project_id"]]
        names += [f"f/{f}/{v}/{c}" for f, v, c in zip(self.flows["fund_id"], self.flows["village_id"], self.flows["category"])]
        names += [f"z/{i}" for i in range(self.n_helper_arcs)]
        return names

    def row_names(self) -> list[str]:
        names = [f"assign/{h}" for h in self.household_ids]
        names += [f"balance/{v}/{c}" for v, c in zip(self.cells["village_id"], self.cells["category"])]
        names += [f"budget/{f}" for f in self.funds["fund_id"]]
        names += [f"cofin/{self.flows['fund_id'].iat[i]}/{self.flows['village_id'].iat[i]}/{self.flows['category'].iat[i]}" for i in self.cofin["flow"]]
        names += [f"link/{self.household_ids[h]}/{self.projects['project_id'].iat[j]}" for h, j in zip(self.links["hh"], self.links["project"])]
        names += [f"capacity/{p}" for p in self.projects["project_id"]]
        names += [f"helper_capacity/{i}" for i in range(self.n_helper_classes)]
        names += [f"skill_demand/{i}" for i in range(self.n_skill_classes)]
        names += ["target/lifted"] * self.n_target
        names += [f"incidence/{c}" for c in self.counties["county_id"]]
        names += [f"coverage/{c}" for c in self.coverage["county_id"]]
        return names

    n_target: int = 0
    coverage: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["county_id"]))  # one row per coverage row
    n_helper_arcs: int = 0
    n_helper_classes: int = 0
    n_skill_classes: int = 0


def fund_scopes(funds: pd.DataFrame, tree: RegionTree) -> pd.DataFrame:
    """(fund position, region position) pairs: the subtrees a fund may spend in."""
    funds = funds.reset_index(drop=True)
    targets = funds["targets"].str.split(LIST_SEP)
    rows_f: list[int] = []
    rows_r: list[str] = []
    for i, (holder, tlist) in enumerate(zip(funds["region_id"], targets)):
        named = [t.strip() for t in tlist if t.strip()]
        for region in named or [holder]:
            rows_f.append(i)
            rows_r.append(region)
    pos = tree.pos(np.asarray(rows_r, dtype=object))
    return pd.DataFrame({"fund": np.asarray(rows_f, dtype=np.int64), "region": pos, "level": tree.level[pos]})


def fund_categories(instance: Instance) -> np.ndarray:
    """``allowed[fund position, category position]``: what each fund may pay for."""
    cats = instance.funds["categories"].str.split(LIST_SEP).reset_index(drop=True)
    long = cats.explode().str.strip()
    long = long[long != ""]
    fund = long.index.to_numpy()
    named = long.to_numpy()
    any_ = named == ANY_CATEGORY
    allowed = np.zeros((len(cats), len(CATEGORIES)), dtype=bool)
    allowed[fund[~any_], pd.Index(CATEGORIES).get_indexer(named[~any_])] = True
    allowed[fund[any_]] = True
    return allowed


def build_flows(instance: Instance, cells: pd.DataFrame) -> pd.DataFrame:
    """Every (fund, cell) pair that the fund's scope and earmarks allow, with the cell's row number, by fund and cell."""
    scopes = fund_scopes(instance.funds, instance.tree)
    allowed = fund_categories(instance)
    village, cat = cells["village"].to_numpy(), cells["cat"].to_numpy()
    funds, cell = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for level in np.unique(scopes["level"].to_numpy()):
        sc = scopes[scopes["level"] == level]
        i, j = equal_pairs(instance.tree.ancestors[village, level], sc["region"].to_numpy())
        cell.append(i)
        funds.append(sc["fund"].to_numpy()[j])
    f, c = np.concatenate(funds), np.concatenate(cell)
    n = max(len(cells), 1)
    key = np.unique((f * n + c)[allowed[f, cat[c]]])
    return pd.DataFrame({"fund": key // n, "cell": key % n})


def build_model(instance: Instance, scenario: Scenario, plans: Plans) -> tuple[LinearModel, ModelIndex]:
    """Compile instance and plans into a :class:`LinearModel` and its :class:`ModelIndex`."""
    tree = instance.tree
    table = plans.table
    n_x = len(table)
    n_h = instance.n_households
    hh_village = tree.pos(instance.households["village_id"])
    plan_village = hh_village[table["hh"].to_numpy()]

    projects = instance.projects.reset_index(drop=True)
    n_y = len(projects)
    proj_village = tree.pos(projects["village_id"])
    proj_cat = pd.Index(CATEGORIES).get_indexer(projects["category"])
    proj_cost = projects["cost"].to_numpy(dtype=float) / MONEY_UNIT

    # balance cells: (village, category) with any possible spending
    cc = plans.category_cost.tocoo()
    spend = pd.DataFrame({"village": np.concatenate([plan_village[cc.row], proj_village]), "cat": np.concatenate([cc.col, proj_cat])})
    cells = spend.drop_duplicates().sort_values(["village", "cat"]).reset_index(drop=True)
    cell_key = cells["village"].to_numpy() * len(CATEGORIES) + cells["cat"].to_numpy()
    cell_of = pd.Index(cell_key)

    flows = build_flows(instance, cells)
    n_f = len(flows)
    net, arcs = _helper_network(instance, scenario, table, hh_village)
    n_z = len(arcs)
    n_cols = n_x + n_y + n_f + n_z
    xs, ys, fs, zs = 0, n_x, n_x + n_y, n_x + n_y + n_f

    blocks_r: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    row0 = 0

    def add(name: str, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        nonlocal row0
        blocks_r.append((name, rows + row0, cols, vals, lo, hi))
        row0 += len(lo)

    # assign
    add("assign", table["hh"].to_numpy(), xs + np.arange(n_x), np.ones(n_x), np.ones(n_h), np.ones(n_h))
    # balance
    plan_cell = cell_of.get_indexer(plan_village[cc.row] * len(CATEGORIES) + cc.col)
    proj_cell = cell_of.get_indexer(proj_village * len(CATEGORIES) + proj_cat)
    add(
        "balance",
        np.concatenate([plan_cell, proj_cell, flows["cell"].to_numpy()]),
        np.concatenate([xs + cc.row, ys + np.arange(n_y), fs + np.arange(n_f)]),
        np.concatenate([cc.data / MONEY_UNIT, proj_cost, -np.ones(n_f)]),
        np.zeros(len(cells)),
        np.zeros(len(cells)),
    )
    # fund budgets
    funds = instance.funds.reset_index(drop=True)
    amount = funds["amount"].to_numpy(dtype=float) / MONEY_UNIT
    add("fund", flows["fund"].to_numpy(), fs + np.arange(n_f), np.ones(n_f), np.full(len(funds), -INF), amount)
    # co-financing: a fund covers at most (1 - c) of each cell it pays into
    share = funds["co_financing"].to_numpy(dtype=float)[flows["fund"].to_numpy()]
    cof_flows = np.flatnonzero(share > 0)
    if len(cof_flows):
        same_cell = flows.reset_index().rename(columns={"index": "other"})[["cell", "other"]]
        own = pd.DataFrame({"row": np.arange(len(cof_flows)), "flow": cof_flows, "cell": flows["cell"].to_numpy()[cof_flows]})
        pairs = own.merge(same_cell, on="cell")
        c_own = share[pairs["flow"].to_numpy()]
        coef = np.where(pairs["other"].to_numpy() == pairs["flow"].to_numpy(), c_own, -(1.0 - c_own))
        add("cofin", pairs["row"].to_numpy(), fs + pairs["other"].to_numpy(), coef, np.full(len(cof_flows), -INF), np.zeros(len(cof_flows)))
    # project links and capacities
    tied = np.flatnonzero(table["project"].to_numpy() >= 0)
    links = table.iloc[tied][["hh", "project"]].drop_duplicates().reset_index(drop=True)
    if len(tied):
        link_of = pd.Index(links["hh"].to_numpy() * max(n_y, 1) + links["project"].to_numpy())
        link_row = link_of.get_indexer(table["hh"].to_numpy()[tied] * max(n_y, 1) + table["project"].to_numpy()[tied])
        add(
            "link",
            np.concatenate([link_row, np.arange(len(links))]),
            np.concatenate([xs + tied, ys + links["project"].to_numpy()]),
            np.concatenate([np.ones(len(tied)), -np.ones(len(links))]),
            np.full(len(links), -INF),
            np.zeros(len(links)),
        )
    cap = projects["capacity"].to_numpy(dtype=float)
    add(
        "capacity",
        np.concatenate([table["project"].to_numpy()[tied], np.arange(n_y)]),
        np.concatenate([xs + tied, ys + np.arange(n_y)]),
        np.concatenate([np.ones(len(tied)), -cap]),
        np.full(n_y, -INF),
        np.zeros(n_y),
    )
    # helpers decided with the plans: a plan needing a skill in a township needs skilled helper capacity there
    if net is not None:
        add("helper_capacity", net.h_idx[arcs], zs + np.arange(n_z), np.ones(n_z), np.full(len(net.hclass), -INF), net.cap.astype(float))
        add(
            "skill_demand",
            np.concatenate([net.demand["dclass"].to_numpy(), net.d_idx[arcs]]),
            np.concatenate([xs + net.demand["plan"].to_numpy(), zs + np.arange(n_z)]),
            np.concatenate([np.ones(len(net.demand)), -np.ones(n_z)]),
            np.full(len(net.dclass), -INF),
            np.zeros(len(net.dclass)),
        )
    # min-cost targets
    p = table["p"].to_numpy()
    p = np.where(p < 1e-9, 0.0, p)  # solvers drop such coefficients anyway (with a warning each time)
    n_target = 0
    counties = pd.DataFrame(columns=["county_id", "poor", "rural", "need"])
    if scenario.mode == "min_cost":
        if scenario.target.lifted is not None:
            add("target", np.zeros(n_x, dtype=np.int64), xs + np.arange(n_x), p, np.array([scenario.target.lifted]), np.array([INF]))
            n_target = 1
        if scenario.target.county_incidence is not None:
            counties = county_table(instance, with_outside=True)
            rate = scenario.target.incidence_limit(instance.regions["western"].to_numpy(dtype=bool)[counties["county"].to_numpy()])
            counties["need"] = np.maximum(counties["poor"] - rate * counties["rural"], 0.0)
            hh_county = tree.ancestors[hh_village, Level.COUNTY]
            row = pd.Index(counties["county"]).get_indexer(hh_county[table["hh"].to_numpy()])
            add("incidence", row, xs + np.arange(n_x), p, counties["need"].to_numpy(), np.full(len(counties), INF))
    coverage = scenario.equity.min_county_coverage
    cov = pd.DataFrame(columns=["county_id"])
    if coverage:
        cov = county_table(instance)
        hh_county = tree.ancestors[hh_village, Level.COUNTY]
        helped = np.flatnonzero(table["measures"].to_numpy() != "none")
        row = pd.Index(cov["county"]).get_indexer(hh_county[table["hh"].to_numpy()[helped]])
        add("coverage", row, xs + helped, np.ones(len(helped)), np.ceil(coverage * cov["poor"].to_numpy() - 1e-9), np.full(len(cov), INF))

    A = sp.csr_matrix(
        (np.concatenate([b[3] for b in blocks_r]), (np.concatenate([b[1] for b in blocks_r]), np.concatenate([b[2] for b in blocks_r]))),
        shape=(row0, n_cols),
    )
    A.sum_duplicates()
    A.eliminate_zeros()
    row_blocks: dict[str, slice] = {}
    start = 0
    for b in blocks_r:
        row_blocks[b[0]] = slice(start, start + len(b[4]))
        start += len(b[4])
    if scenario.mode == "min_cost":
        c = np.concatenate([np.zeros(n_x + n_y), np.ones(n_f), np.zeros(n_z)])
        sense = "min"
    else:
        c = np.concatenate([table["value"].to_numpy(), np.zeros(n_y + n_f + n_z)])
        sense = "max"
    model = LinearModel(
        sense=sense,
        c=c,
        A=A,
        row_lo=np.concatenate([b[4] for b in blocks_r]),
        row_hi=np.concatenate([b[5] for b in blocks_r]),
        col_lo=np.zeros(n_cols),
        col_hi=np.concatenate([np.ones(n_x + n_y), np.full(n_f + n_z, INF)]),
        integer=np.concatenate([np.ones(n_x + n_y, dtype=bool), np.zeros(n_f + n_z, dtype=bool)]),
        objective_unit=MONEY_UNIT if sense == "min" else 1.0,
        col_blocks={"x": slice(xs, ys), "y": slice(ys, fs), "f": slice(fs, zs), "z": slice(zs, n_cols)},
        row_blocks=row_blocks,
    )
    ids = tree.ids.to_numpy()
    flows_named = pd.DataFrame(
        {
            "fund": flows["fund"].to_numpy(),
            "fund_id": funds["fund_id"].to_numpy()[flows["fund"].to_numpy()],
            "cell": flows["cell"].to_numpy(),
            "village": cells["village"].to_numpy()[flows["cell"].to_numpy()],
            "village_id": ids[cells["village"].to_numpy()[flows["cell"].to_numpy()]],
            "category": np.asarray(CATEGORIES)[cells["cat"].to_numpy()[flows["cell"].to_numpy()]],
        }
    )
    index = ModelIndex(
        plans=table,
        projects=projects.assign(village=proj_village),
        flows=flows_named,
        cells=cells.assign(village_id=ids[cells["village"].to_numpy()], category=np.asarray(CATEGORIES)[cells["cat"].to_numpy()]),
        funds=funds[["fund_id", "amount"]],
        cofin=pd.DataFrame({"flow": cof_flows}),
        links=links,
        counties=counties,
        household_ids=instance.households["household_id"].to_numpy(),
        col_village=np.concatenate([plan_village, proj_village]),
        n_target=n_target,
        coverage=cov,
        n_helper_arcs=n_z,
        n_helper_classes=0 if net is None else len(net.hclass),
        n_skill_classes=0 if net is None else len(net.dclass),
    )
    return model, index


def _helper_network(instance: Instance, scenario: Scenario, table: pd.DataFrame, hh_village: np.ndarray) -> tuple[ClassNetwork | None, np.ndarray]:
    """With ``helpers.capacity_in_model``: the helper class network over the plans that need a skill, and the
    arcs (helpers with that skill) that become flow columns z."""
    helpers = instance.helpers.reset_index(drop=True)
    usable = (helpers["kind"] == HelperKind.HOUSEHOLD_HELPER.value).to_numpy()
    if not scenario.helpers.capacity_in_model:
        return None, np.empty(0, dtype=np.int64)
    skilled = np.flatnonzero(table["measures"].to_numpy() != "none")
    hh_rows = table["hh"].to_numpy()[skilled]
    plans = pd.DataFrame({"household_id": instance.households["household_id"].to_numpy()[hh_rows], "measures": table["measures"].to_numpy()[skilled]})
    need = household_needs(instance, plans)
    town = instance.tree.ancestors[hh_village[table["hh"].to_numpy()[skilled]], Level.TOWNSHIP]
    net = class_network(instance, helpers, usable, town, need, use_skills=True)
    net.demand["plan"] = skilled
    return net, np.flatnonzero(net.has_skill)


def county_table(instance: Instance, with_outside: bool = False) -> pd.DataFrame:
    """Poor and rural households per county (rural falls back to the poor count where not given). ``with_outside``
    adds the poor households the instance does not hold (``instance.poor_outside``), as county incidence targets
    count them; a county with only those gets a row too."""
    tree = instance.tree
    county = tree.ancestors[tree.pos(instance.households["village_id"]), Level.COUNTY]
    poor = pd.Series(1.0, index=county).groupby(level=0).sum()
    if with_outside and instance.poor_outside:
        outside = pd.Series(instance.poor_outside, dtype=float)
        poor = poor.add(pd.Series(outside.to_numpy(), index=tree.pos(pd.Series(outside.index, dtype=object))), fill_value=0.0).sort_index()
    villages = tree.villages
    rural_v = instance.regions["rural_households"].to_numpy()[villages]
    rural = pd.Series(rural_v, index=tree.ancestors[villages, Level.COUNTY]).groupby(level=0).sum()
    out = pd.DataFrame({"county": poor.index.to_numpy(), "poor": poor.to_numpy(dtype=float)})
    out["rural"] = rural.reindex(out["county"]).fillna(0).to_numpy(dtype=float)
    out["rural"] = np.where(out["rural"] > 0, out["rural"], out["poor"])
    out["county_id"] = tree.ids.to_numpy()[out["county"].to_numpy()]
    return out


@dataclass(frozen=True)
class ChurnCap:
    """Against a published allocation: at most ``max_changes`` of the households planned there (``previous``:
    household_id, plan) may get another plan now."""

    previous: pd.DataFrame
    max_changes: int
    # reads the published allocation's money (fund_id, village_id, amount): where a decomposition's master starts
    # sharing the upper funds, read only then
    read_flows: Callable[[], pd.DataFrame | None] | None = None


def project_ids(instance: Instance, project: np.ndarray) -> np.ndarray:
    """The ids of the projects that plan rows are tied to (their ``project`` positions), "" for a plan tied to none
    (-1; also where the instance has no project at all)."""
    return np.append(instance.projects["project_id"].to_numpy(dtype=object), "")[project]


def plan_keys(table: pd.DataFrame, instance: Instance) -> np.ndarray:
    """The output's plan label of plan rows (a plans table or rows of it): measures, plus ``@project`` when tied
    to one. The results, the churn cap and a re-plan's kept starts all match plans by it."""
    p = table["project"].to_numpy()
    return table["measures"].to_numpy(dtype=object) + np.where(p >= 0, PLAN_PROJECT_SEP + project_ids(instance, p), "")


def kept_plan_columns(model: LinearModel, instance: Instance, plans: Plans, previous: pd.DataFrame) -> np.ndarray:
    """The x columns of the published plans (``previous``: household_id, plan) that are still offered; a previous
    plan not offered any more (eligibility or prices changed) has none: its household must change."""
    hh_ids = instance.households["household_id"].to_numpy()
    prev = previous[isin(previous["household_id"], hh_ids)]
    rows = pd.DataFrame({"household_id": hh_ids[plans.table["hh"].to_numpy()], "plan": plan_keys(plans.table, instance)})
    rows["col"] = np.arange(len(rows)) + model.col_blocks["x"].start
    return rows.merge(prev[["household_id", "plan"]], on=["household_id", "plan"], how="inner")["col"].to_numpy()


def add_churn_cap(model: LinearModel, instance: Instance, plans: Plans, cap: ChurnCap) -> tuple[LinearModel, dict[str, int]]:
    """Append the row ``sum of x[h, previous plan of h] >= kept`` so that at most ``cap.max_changes`` households
    change plan. A previous plan that is no longer offered is a forced change and counts against the cap; when
    forced changes exceed it, all other households keep their plan."""
    kept = kept_plan_columns(model, instance, plans, cap.previous)
    n_prev = int(isin(cap.previous["household_id"], instance.households["household_id"].to_numpy()).sum())
    forced = n_prev - len(kept)
    allowed = max(cap.max_changes - forced, 0)
    need = float(max(len(kept) - allowed, 0))
    A = sp.csr_matrix((np.ones(len(kept)), (np.zeros(len(kept), dtype=np.int64), kept)), shape=(1, model.shape[1]))
    info = {"previous_households": n_prev, "max_changes": int(cap.max_changes), "forced_changes": int(forced)}
    return model.with_rows("churn", A, np.array([need]), np.array([INF])), info
