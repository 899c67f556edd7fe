"""Decomposition by county (DESIGN §5) on Dask: counties solve their own blocks, a master allocates the money of
funds that span several counties (central, province, city, multi-county paired assistance).

Each county's LP value V_c(a) is a concave function of the upper-level money ``a`` it receives; every county LP
solve returns its value and the shadow prices of that money, a supporting hyperplane (cut) of V_c. The master
LP maximizes the sum of the counties' cut envelopes subject to every upper fund's amount (Kelley's cutting
planes, i.e. Benders for resource allocation). The master optimum is a valid upper bound of the monolithic LP
(so of the MIP); the counties' values at the master's allocation are achievable. The loop stops when the two
meet within the tolerance; then each county solves its MIP (relax-and-fix) with its allocation, in parallel, and
the assembled allocation is verified as one national solution.

Counties that cannot pay their hard floors from a small allocation draw on an emergency fund at a prohibitive
price, so every county LP stays feasible and its cuts steer money towards the floors; the final solution may not
use it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .contract import ANY_CATEGORY, LIST_SEP, Level
from .data import Instance
from .errors import InputError, NoSolutionError
from .model import MONEY_UNIT, LinearModel, build_model, fund_scopes
from .plans import build_plans
from .scenario import Scenario
from .solvers import SolveOptions, Status, get_backend

log = logging.getLogger(__name__)

EMERGENCY = "__emergency__"
EMERGENCY_PRICE = 1_000.0  # objective lost per 10,000 emergency yuan: far above any plan's value per money
_CACHE: dict[str, tuple[LinearModel, Any, np.ndarray, np.ndarray, Any]] = {}  # per worker process: county -> model, backend


@dataclass(frozen=True)
class Blocks:
    """The county blocks and the upper funds the master shares among them."""

    counties: list[str]
    instances: list[Instance]
    upper: pd.DataFrame  # fund_id, amount (yuan): funds whose scope spans several counties
    pairs: pd.DataFrame  # fund_id, county, pair: which county may receive which upper fund


def split_by_county(instance: Instance) -> Blocks:
    """One instance per county with households: the county subtree and its ancestors, its own funds, a copy of
    every upper fund that may reach it (amount set per round), and an emergency fund."""
    tree = instance.tree
    funds = instance.funds.reset_index(drop=True)
    scopes = fund_scopes(instance)
    county_of_scope = np.where(tree.level[scopes["region"]] >= Level.COUNTY, tree.ancestors[scopes["region"], Level.COUNTY], -1)
    hh_county = tree.ancestors[tree.pos(instance.households["village_id"]), Level.COUNTY]
    counties = np.unique(hh_county)
    # a fund is upper when one of its scope regions lies above county level or its scopes span several counties
    span = pd.DataFrame({"fund": scopes["fund"], "county": county_of_scope})
    above = span.groupby("fund")["county"].apply(lambda c: bool((c < 0).any() or c.nunique() > 1))
    is_upper = above.reindex(range(len(funds))).fillna(False).to_numpy(dtype=bool)
    # which counties each upper fund may reach: counties under a scope region, or the county holding the scope
    reach_rows = []
    for lv_above in range(Level.COUNTY):
        sel = (tree.level[scopes["region"]] == lv_above) & is_upper[scopes["fund"]]
        if sel.any():
            c_anc = tree.ancestors[counties, lv_above]
            m = pd.DataFrame({"fund": scopes["fund"][sel], "region": scopes["region"][sel]}).merge(
                pd.DataFrame({"region": c_anc, "county": counties}), on="region"
            )
            reach_rows.append(m[["fund", "county"]])
    sel = (county_of_scope >= 0) & is_upper[scopes["fund"]]
    reach_rows.append(pd.DataFrame({"fund": scopes["fund"][sel], "county": county_of_scope[sel]}))
    reach = pd.concat(reach_rows, ignore_index=True).drop_duplicates()
    reach = reach[reach["county"].isin(counties)].sort_values(["fund", "county"]).reset_index(drop=True)
    reach["pair"] = np.arange(len(reach))

    local_county = span[~is_upper[span["fund"]]].groupby("fund")["county"].first()
    instances = []
    for c in counties:
        instances.append(_county_instance(instance, int(c), funds, local_county, reach[reach["county"] == c], scopes))
    ids = tree.ids.to_numpy()
    upper = pd.DataFrame({"fund_id": funds["fund_id"].to_numpy()[is_upper], "amount": funds["amount"].to_numpy(dtype=float)[is_upper]})
    pairs = pd.DataFrame({"fund_id": funds["fund_id"].to_numpy()[reach["fund"]], "county": ids[reach["county"]], "pair": reach["pair"].to_numpy()})
    return Blocks([str(ids[c]) for c in counties], instances, upper.reset_index(drop=True), pairs)


def _county_instance(instance: Instance, county: int, funds: pd.DataFrame, local_county: pd.Series, reach: pd.DataFrame, scopes: pd.DataFrame) -> Instance:
    tree = instance.tree
    ids = tree.ids.to_numpy()
    inside = tree.ancestors[:, Level.COUNTY] == county
    keep = inside | np.isin(np.arange(len(ids)), tree.ancestors[county, : Level.COUNTY])
    regions = instance.regions[keep]
    villages = set(ids[inside & (tree.level == Level.VILLAGE)])
    own = funds[funds.index.isin(local_county[local_county == county].index)]
    # an upper fund's copy is held by the county, limited to the parts of its scope inside the county
    copies = funds.loc[reach["fund"].to_numpy()].copy()
    targets = []
    for f in reach["fund"]:
        regs = scopes.loc[scopes["fund"] == f, "region"].to_numpy()
        within = [str(ids[r]) for r in regs if tree.level[r] >= Level.COUNTY and tree.ancestors[r, Level.COUNTY] == county]
        targets.append(LIST_SEP.join(within) if within and not (tree.level[regs] < Level.COUNTY).any() else "")
    copies["region_id"] = ids[county]
    copies["targets"] = targets
    emergency = pd.DataFrame([{**{c: funds[c].iloc[0] for c in funds.columns}, "fund_id": EMERGENCY, "region_id": ids[county], "name": "emergency",
                               "amount": 1e12, "categories": ANY_CATEGORY, "targets": "", "co_financing": 0.0, "paired": False}])  # fmt: skip
    helpers = instance.helpers[np.isin(tree.ancestors[tree.pos(instance.helpers["home_region_id"]), Level.COUNTY], [county])]
    return instance.replace(
        regions=regions,
        households=instance.households[instance.households["village_id"].isin(villages)],
        projects=instance.projects[instance.projects["village_id"].isin(villages)],
        funds=pd.concat([own, copies, emergency], ignore_index=True),
        helpers=helpers,
    )


def _county_model(county: str, instance: Instance, scenario: Scenario) -> tuple[LinearModel, Any, np.ndarray, np.ndarray, Any]:
    """The county's model (built once per worker), the rows of its upper-fund copies and the emergency columns."""
    if county not in _CACHE:
        plans = build_plans(instance, scenario)
        model, index = build_model(instance, scenario, plans)
        fund_ids = instance.funds["fund_id"].to_numpy()
        rows = model.row_blocks["fund"].start + np.arange(len(fund_ids))
        emergency_cols = model.col_blocks["f"].start + np.flatnonzero(index.flows["fund_id"].to_numpy() == EMERGENCY)
        c = model.c.copy()
        c[emergency_cols] = -EMERGENCY_PRICE if model.sense == "max" else EMERGENCY_PRICE
        # a backend of the county's own keeps its LP: the next round re-solves it warm (only row bounds change)
        _CACHE[county] = (replace(model, c=c), (plans, index, fund_ids), rows, emergency_cols, get_backend(scenario.solver.name, private=True))
    return _CACHE[county]


def county_lp(county: str, instance: Instance, scenario: Scenario, fund_ids: list[str], money: np.ndarray) -> tuple[float, np.ndarray]:
    """The county's LP value with ``money`` (yuan) of each upper fund, and the value of one more model unit of each."""
    model, (_plans, _index, ids), rows, _em, backend = _county_model(county, instance, scenario)
    pos = pd.Index(ids).get_indexer(fund_ids)
    hi = model.row_hi.copy()
    hi[rows[pos]] = money / MONEY_UNIT
    out = backend.solve(replace(model.relaxed(), row_hi=hi), SolveOptions(time_limit=scenario.solver.time_limit, duals=True, keep=True, warm=True))
    if out.status != Status.OPTIMAL or out.duals is None:
        raise NoSolutionError(f"county {county}: LP {out.status.value} ({out.message})")
    return float(out.objective), np.abs(out.duals[rows[pos]])


def county_mip(county: str, instance: Instance, scenario: Scenario, fund_ids: list[str], money: np.ndarray) -> dict[str, Any]:
    """The county's allocation with its final money: chosen plans, built projects and flows, by id."""
    from .solve import optimize

    model, (plans, index, ids), rows, em, _backend = _county_model(county, instance, scenario)
    pos = pd.Index(ids).get_indexer(fund_ids)
    hi = model.row_hi.copy()
    hi[rows[pos]] = money / MONEY_UNIT
    sol = optimize(replace(model, row_hi=hi), index, instance, scenario, lambda _msg: None)
    x = sol.x
    xb, yb, fb = (model.col_blocks[k] for k in ("x", "y", "f"))
    used = np.bincount(pd.Index(fund_ids).get_indexer(index.flows["fund_id"]) + 1, weights=x[fb], minlength=len(fund_ids) + 1)[1:] * MONEY_UNIT
    chosen = plans.table.iloc[np.flatnonzero(x[xb] > 0.5)]
    hh_ids = instance.households["household_id"].to_numpy()
    proj_ids = instance.projects["project_id"].to_numpy()
    flows = index.flows[["fund_id", "village_id", "category"]].assign(amount=x[fb])
    return {
        "plans": pd.DataFrame({"household_id": hh_ids[chosen["hh"].to_numpy()], "template": chosen["template"].to_numpy(),
                               "project_id": np.where(chosen["project"] >= 0, proj_ids[np.maximum(chosen["project"].to_numpy(), 0)], "")}),  # fmt: skip
        "built": proj_ids[x[yb] > 0.5],
        "flows": flows[flows["amount"] > 1e-9],
        "objective": sol.objective,
        "emergency": float(x[em].sum() * MONEY_UNIT),
        "used": used,
    }


@dataclass(frozen=True)
class Decomposed:
    """The assembled solution vector of the national model and how it was proven."""

    x: np.ndarray
    bound: float
    rounds: int
    history: pd.DataFrame  # round, bound, counties_sum, gap, seconds


def master_allocate(
    blocks: Blocks,
    scenario: Scenario,
    run_counties: Callable[[str, list[np.ndarray]], list[Any]],
    *,
    tol: float,
    max_rounds: int,
    say: Callable[[str], None],
) -> tuple[list[np.ndarray], float, pd.DataFrame]:
    """Kelley's cutting planes over the counties' LP value functions; returns each county's money per upper fund
    (aligned with its pairs), the master bound and the convergence history."""
    pairs = blocks.pairs
    n_pairs, n_c = len(pairs), len(blocks.counties)
    county_pos = pd.Index(blocks.counties).get_indexer(pairs["county"])
    fund_pos = pd.Index(blocks.upper["fund_id"]).get_indexer(pairs["fund_id"])
    amount = blocks.upper["amount"].to_numpy(dtype=float)
    # start: every upper fund split among the counties it may reach in proportion to their poor households
    weight = np.array([b.n_households for b in blocks.instances], dtype=float)[county_pos]
    a = amount[fund_pos] * weight / np.maximum(np.bincount(fund_pos, weights=weight, minlength=len(amount))[fund_pos], 1e-9)
    cut_rows: list[tuple[int, np.ndarray, float]] = []  # (county, slope over pairs, intercept)
    best = (-np.inf, a.copy())
    history = []
    backend = get_backend(scenario.solver.name)
    bound = np.inf
    radius = a.copy()  # trust region around the best allocation
    expected = -np.inf  # what the master predicted for the point being evaluated
    for r in range(1, max_rounds + 1):
        t = time.perf_counter()
        results = run_counties("lp", [a[county_pos == c] for c in range(n_c)])
        total = 0.0
        for c, (value, slope) in enumerate(results):  # noqa: B007
            sel = np.flatnonzero(county_pos == c)
            slope_units = slope / MONEY_UNIT  # value per yuan
            cut_rows.append((c, _scatter(sel, slope_units, n_pairs), value - float(slope_units @ a[sel])))
            total += value
        if total > best[0] + 1e-9:
            if r > 1 and total - best[0] >= 0.5 * (expected - best[0]):
                radius *= 2.0  # the model predicted well: a serious step, widen
            best = (total, a.copy())
        elif r > 1:
            radius *= 0.5  # a null step: the new cuts stay, the region shrinks
        # master: max sum theta_c  s.t.  theta_c - slope.a <= intercept (every cut),  sum_c a_fc <= amount_f
        n_cuts = len(cut_rows)
        cut_c = np.array([c for c, _, _ in cut_rows])
        slopes = sp.csr_matrix(np.vstack([s for _, s, _ in cut_rows]))
        A_cut = sp.hstack([-slopes, sp.csr_matrix((np.ones(n_cuts), (np.arange(n_cuts), cut_c)), shape=(n_cuts, n_c))])
        A_fund = sp.hstack([sp.csr_matrix((np.ones(n_pairs), (fund_pos, np.arange(n_pairs))), shape=(len(amount), n_pairs)), sp.csr_matrix((len(amount), n_c))])
        master = LinearModel(
            sense="max",
            c=np.concatenate([np.zeros(n_pairs), np.ones(n_c)]),
            A=sp.vstack([A_cut, A_fund], format="csr"),
            row_lo=np.full(n_cuts + len(amount), -np.inf),
            row_hi=np.concatenate([np.array([b for _, _, b in cut_rows]), amount]),
            col_lo=np.concatenate([np.zeros(n_pairs), np.full(n_c, -np.inf)]),
            col_hi=np.full(n_pairs + n_c, np.inf),
            integer=np.zeros(n_pairs + n_c, dtype=bool),
        )
        opts = SolveOptions(time_limit=scenario.solver.time_limit)
        free = backend.solve(master, opts)  # without the trust region: a valid upper bound
        lo = np.concatenate([np.maximum(best[1] - radius, 0.0), master.col_lo[n_pairs:]])
        hi = np.concatenate([best[1] + radius, master.col_hi[n_pairs:]])
        out = backend.solve(master.with_bounds(lo, hi), opts)
        if free.status != Status.OPTIMAL or out.status != Status.OPTIMAL or out.x is None:
            raise NoSolutionError(f"decomposition master: {out.status.value} ({out.message})")
        bound = min(bound, float(free.objective))
        expected = float(out.objective)
        gap = max(bound - best[0], 0.0) / max(abs(bound), 1e-9)
        history.append({"round": r, "bound": bound, "counties_sum": total, "best": best[0], "gap": gap, "seconds": time.perf_counter() - t})
        say(f"round {r}: master bound {bound:,.2f}, counties {total:,.2f} (best {best[0]:,.2f}), gap {gap:.4%}")
        if gap <= tol:
            break
        a = np.maximum(out.x[:n_pairs], 0.0)
    alloc = [best[1][county_pos == c] for c in range(n_c)]
    return alloc, bound, pd.DataFrame(history)


def _scatter(idx: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n)
    out[idx] = values
    return out


def solve_decomposed(
    scenario: Scenario,
    instance: Instance,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    tol: float | None = None,
    max_rounds: int = 60,
    progress: Callable[[str], None] | None = None,
) -> tuple[Decomposed, Any, Any, Any]:
    """Decompose by county on Dask (a LocalCluster, or the scheduler at ``scheduler``) and assemble the national
    solution; returns it with the national plans, model and index it is expressed in."""
    say = progress or (lambda msg: log.info(msg))
    if scenario.mode != "max_lifted":
        raise InputError("--method decomposed supports mode max_lifted only (a min-cost target couples all counties)")
    if scenario.helpers.capacity_in_model:
        raise InputError("--method decomposed does not support helpers.capacity_in_model (helpers may reach across counties)")
    from dask.distributed import Client, LocalCluster

    tol = scenario.solver.gap / 2 if tol is None else tol  # the other half is for the counties' rounding
    blocks = split_by_county(instance)
    say(f"decomposing into {len(blocks.counties)} counties; {len(blocks.upper)} upper-level funds shared by the master ({len(blocks.pairs)} fund-county pairs)")
    cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR)
    client = Client(scheduler or cluster)
    try:
        addrs = sorted(client.scheduler_info()["workers"])
        pin = {c: [addrs[i % len(addrs)]] for i, c in enumerate(blocks.counties)}
        inst_f = {c: client.scatter(inst, workers=pin[c]) for c, inst in zip(blocks.counties, blocks.instances)}
        fund_lists = {c: list(blocks.pairs.loc[blocks.pairs["county"] == c, "fund_id"]) for c in blocks.counties}

        def run(kind: str, money: list[np.ndarray]) -> list[Any]:
            fn = county_lp if kind == "lp" else county_mip
            futures = [client.submit(fn, c, inst_f[c], scenario, fund_lists[c], m, workers=pin[c], allow_other_workers=True, retries=2, pure=False)
                       for c, m in zip(blocks.counties, money)]  # fmt: skip
            out = []
            for c, fut in zip(blocks.counties, futures):
                try:
                    out.append(fut.result())
                except NoSolutionError:
                    raise
                except Exception as err:  # a worker error after its retries: name the county, never drop it
                    raise NoSolutionError(f"county {c} failed after 2 retries: {type(err).__name__}: {err}") from None
            return out

        alloc, bound, history = master_allocate(blocks, scenario, run, tol=tol, max_rounds=max_rounds, say=say)
        say(f"solving {len(blocks.counties)} county MIPs with their allocations")
        finals = run("mip", alloc)
        finals = _repair(blocks, alloc, finals, lambda c, money: run_one(client, inst_f, pin, c, scenario, fund_lists[c], money), say)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    plans = build_plans(instance, scenario)
    model, index = build_model(instance, scenario, plans)
    x = _assemble(instance, plans, model, index, finals)
    return Decomposed(x, bound, len(history), history), plans, model, index


def run_one(client: Any, inst_f: dict[str, Any], pin: dict[str, list[str]], county: str, scenario: Scenario, funds: list[str], money: np.ndarray) -> Any:
    """One county MIP on its worker."""
    return client.submit(county_mip, county, inst_f[county], scenario, funds, money, workers=pin[county], allow_other_workers=True, pure=False).result()


def _repair(
    blocks: Blocks, alloc: list[np.ndarray], finals: list[dict[str, Any]], rerun: Callable[[str, np.ndarray], Any], say: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Rounding can leave a county a little short of its floors: give it what other counties left unused of the
    same funds, one county at a time, and re-solve it."""
    pairs = blocks.pairs
    amount = blocks.upper.set_index("fund_id")["amount"]
    used = pd.concat([pd.Series(f["used"], index=pairs.loc[pairs["county"] == c, "fund_id"].to_numpy()) for c, f in zip(blocks.counties, finals)])
    left = (amount - used.groupby(level=0).sum().reindex(amount.index).fillna(0.0)).clip(lower=0.0)
    out = list(finals)
    for i, (c, f) in enumerate(zip(blocks.counties, finals)):
        if f["emergency"] <= 0.5:
            continue
        funds = pairs.loc[pairs["county"] == c, "fund_id"].to_numpy()
        extra = left.reindex(funds).to_numpy()
        say(f"county {c} is {f['emergency']:,.0f} yuan short after rounding: re-solving with {extra.sum():,.0f} yuan left unused elsewhere")
        again = rerun(c, alloc[i] + extra)
        if again["emergency"] > 0.5:
            raise NoSolutionError(f"county {c}: its hard floors need {again['emergency']:,.0f} yuan more than the upper-level money left for it")
        left.loc[funds] = np.maximum(left.loc[funds].to_numpy() - (again["used"] - f["used"]), 0.0)
        out[i] = again
    return out


def _assemble(instance: Instance, plans: Any, model: LinearModel, index: Any, finals: list[dict[str, Any]]) -> np.ndarray:
    """Put the counties' decisions into the national model's column space."""
    x = np.zeros(model.shape[1])
    hh_ids = instance.households["household_id"].to_numpy()
    proj_ids = instance.projects["project_id"].to_numpy()
    table = plans.table
    key = pd.DataFrame(
        {"household_id": hh_ids[table["hh"].to_numpy()], "template": table["template"].to_numpy(),
         "project_id": np.where(table["project"] >= 0, proj_ids[np.maximum(table["project"].to_numpy(), 0)], ""), "col": np.arange(len(table))}
    )  # fmt: skip
    chosen = pd.concat([f["plans"] for f in finals], ignore_index=True).merge(key, on=["household_id", "template", "project_id"], how="left")
    if chosen["col"].isna().any() or len(chosen) != len(hh_ids):
        raise NoSolutionError("decomposition: a county chose a plan the national model does not have (plans differ between blocks)")
    x[model.col_blocks["x"].start + chosen["col"].to_numpy(dtype=np.int64)] = 1.0
    built = np.concatenate([f["built"] for f in finals])
    x[model.col_blocks["y"].start + pd.Index(proj_ids).get_indexer(built)] = 1.0
    flows = pd.concat([f["flows"] for f in finals], ignore_index=True)
    flows = flows[flows["fund_id"] != EMERGENCY]
    fidx = index.flows[["fund_id", "village_id", "category"]].assign(col=np.arange(len(index.flows)))
    merged = flows.merge(fidx, on=["fund_id", "village_id", "category"], how="left")
    if merged["col"].isna().any():
        raise NoSolutionError("decomposition: a county used a flow the national model does not have")
    x[model.col_blocks["f"].start + merged["col"].to_numpy(dtype=np.int64)] = merged["amount"].to_numpy()
    return x
