"""One household, one responsible helper: assign helpers and first secretaries, report shortages and dispatch.

Households are grouped into classes (township, skill the plan needs most) and helpers into classes (home
unit, reach, skills). A min-cost flow sends helper capacity to household classes: each unit of flow is one
household, its cost ``MAX_SCORE - score`` where the score rewards the needed skill and closeness of the home
unit; a shortage source at a prohibitive cost keeps the flow feasible, and what it sends is the shortage.
Flows are then split back to individual households and helpers in bulk. Shortages are covered by a second
flow (a transport problem) from helpers left idle elsewhere, preferring the county, then the city, the
province and the paired partner, with local recruitment as the last resort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .contract import LIST_SEP, Category, Cause, HelperKind, Level, Reach, Skill
from .data import Instance, equal_pairs, group_ranks, isin, measure_rows
from .regions import RegionTree
from .solvers.flow import solve_min_cost_flow

SKILL_OF_CATEGORY = {
    Category.INDUSTRY.value: Skill.AGRICULTURE.value,
    Category.RELOCATION.value: Skill.CONSTRUCTION.value,
    Category.ECOLOGICAL.value: Skill.AGRICULTURE.value,
    Category.EDUCATION.value: Skill.EDUCATION.value,
    Category.GUARANTEE.value: Skill.SOCIAL_WORK.value,
    Category.INFRASTRUCTURE.value: Skill.CONSTRUCTION.value,
    Category.HOUSING.value: Skill.CONSTRUCTION.value,
}
SKILL_OF_CAUSE = {
    Cause.ILLNESS.value: Skill.HEALTH.value,
    Cause.DISABILITY.value: Skill.HEALTH.value,
    Cause.LACK_OF_SKILLS.value: Skill.EMPLOYMENT.value,
    Cause.LACK_OF_CAPITAL.value: Skill.AGRICULTURE.value,
    Cause.LACK_OF_LABOUR.value: Skill.SOCIAL_WORK.value,
    Cause.EDUCATION_BURDEN.value: Skill.EDUCATION.value,
    Cause.DISASTER.value: Skill.CONSTRUCTION.value,
    Cause.HARSH_ENVIRONMENT.value: Skill.CONSTRUCTION.value,
}
SKILL_WEIGHT = 10  # score for having the needed skill
CLOSENESS = {Level.TOWNSHIP: 3, Level.COUNTY: 2}  # home unit level -> score; anything farther scores 1
MAX_SCORE = SKILL_WEIGHT + 3
SHORTAGE_COST = 1000
DISPATCH_COST = {"county": 1, "city": 2, "province": 3, "paired": 4, "elsewhere": 6, "recruit": 20}


@dataclass(frozen=True)
class Assignment:
    """Helper and first-secretary assignment with the shortage and dispatch tables."""

    households: pd.DataFrame  # household_id, helper_id ("" when short), need, match_score
    helpers: pd.DataFrame  # helper_id, kind, home_region_id, capacity, load, utilization
    secretaries: pd.DataFrame  # village_id, first_secretary_id ("" when short)
    shortage: pd.DataFrame  # township_id, skill, households
    dispatch: pd.DataFrame  # from_unit, relation, to_township, skill, households


def household_needs(instance: Instance, households: pd.DataFrame) -> np.ndarray:
    """The skill each household's plan needs most: that of its costliest measure, else of its main cause."""
    m = instance.measures.set_index("measure_id")
    skill = m["skill"] if "skill" in m.columns else pd.Series("", index=m.index)
    skill = skill.where(skill.astype(str) != "", m["category"].map(SKILL_OF_CATEGORY))
    long = measure_rows(instance, households)
    top = long.sort_values(["row", "cost"], ascending=[True, False], kind="stable").drop_duplicates("row")
    need = instance.households.set_index("household_id")["cause"].reindex(households["household_id"]).map(SKILL_OF_CAUSE).to_numpy(dtype=object)
    need[top["row"].to_numpy()] = skill.reindex(top["measure"]).to_numpy()
    return need


def poor_villages(tree: RegionTree, regions: pd.DataFrame) -> np.ndarray:
    """The positions in ``tree`` of the poor villages (``regions`` in the tree's order): one first secretary each."""
    return tree.villages[regions["poor_village"].to_numpy(dtype=bool)[tree.villages]]


def served_regions(tree: RegionTree, home: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """The region whose subtree each helper serves, from its home (positions in ``tree``) and reach ("township",
    else county): a home at or below the reach level serves its ancestor at that level; a higher unit serves its
    own subtree."""
    level = np.where(np.asarray(reach, dtype=object) == Reach.TOWNSHIP.value, Level.TOWNSHIP, Level.COUNTY)
    return np.where(tree.level[home] >= level, tree.ancestors[home, np.minimum(level, Level.VILLAGE)], home)


def reach_regions(instance: Instance, helpers: pd.DataFrame) -> pd.DataFrame:
    """(helper row, region position) pairs: the subtrees each helper may serve."""
    tree = instance.tree
    home = tree.pos(helpers["home_region_id"])
    rows = pd.DataFrame({"helper": np.arange(len(helpers)), "region": served_regions(tree, home, helpers["reach"].to_numpy())})
    # paired partners have no poor villages or households of their own: they serve the targets of their paired funds
    has_poor = np.zeros(len(tree.ids), dtype=bool)
    villages = np.union1d(tree.pos(instance.households["village_id"].unique()), np.flatnonzero(instance.regions["poor_village"].to_numpy(dtype=bool)))
    for lv in range(6):
        has_poor[tree.ancestors[villages, lv]] = True
    foreign = ~has_poor[home]
    if foreign.any():
        funds = instance.funds
        targets = funds.assign(target=funds["targets"].str.split(LIST_SEP)).explode("target")
        targets = targets[targets["target"].astype(str).str.strip() != ""]
        pairs = pd.DataFrame({"helper": np.flatnonzero(foreign), "region_id": helpers["home_region_id"].to_numpy()[foreign]})
        pairs = pairs.merge(targets[["region_id", "target"]], on="region_id")
        extra = pd.DataFrame({"helper": pairs["helper"].to_numpy(), "region": tree.pos(pairs["target"].to_numpy())})
        rows = pd.concat([rows[~foreign[rows["helper"].to_numpy()]], extra], ignore_index=True)
    return rows


def join_assignments(parts: list[Assignment]) -> Assignment:
    """The assignments of disjoint blocks (counties) as one; a helper shared out among them (a registry's helpers
    homed above county level) is one row with the capacity and load of all its shares."""
    joined = {k: pd.concat([getattr(a, k) for a in parts], ignore_index=True) for k in Assignment.__dataclass_fields__}
    h = joined["helpers"]
    if h["helper_id"].duplicated().any():
        h = h.groupby("helper_id", sort=False, as_index=False).agg(
            kind=("kind", "first"), home_region_id=("home_region_id", "first"), capacity=("capacity", "sum"), skills=("skills", "first"), load=("load", "sum")
        )
        h["utilization"] = _utilization(h)
        joined["helpers"] = h
    return Assignment(**joined)


def _utilization(helpers: pd.DataFrame) -> np.ndarray:
    """Each helper's load as a share of its capacity (0 for a helper without capacity)."""
    capacity = helpers["capacity"].to_numpy()
    return np.where(capacity > 0, helpers["load"].to_numpy() / np.maximum(capacity, 1), 0.0)


def assign_helpers(instance: Instance, households: pd.DataFrame, previous: pd.DataFrame | None = None) -> Assignment:
    """Assign one helper to every household of ``households`` (a solve's output) and one first secretary
    to every poor village, within reach and capacity, maximising skill match then closeness. With ``previous``
    (household_id, helper_id: a published allocation's), a household keeps its helper wherever that costs no
    match score (see :func:`_match`): the responsible helper stays the same from one night to the next."""
    tree = instance.tree
    helpers = instance.helpers.reset_index(drop=True)
    need = household_needs(instance, households)
    hh_town = tree.ancestors[tree.pos(households["village_id"]), Level.TOWNSHIP]
    cadres = helpers["kind"].to_numpy() == HelperKind.HOUSEHOLD_HELPER.value
    prev = None
    if previous is not None and "helper_id" in previous.columns:
        was = previous.set_index("household_id")["helper_id"].reindex(households["household_id"]).fillna("").astype(str)
        prev = pd.Index(helpers["helper_id"]).get_indexer(was)
        prev[prev >= 0] = np.where(cadres[prev[prev >= 0]], prev[prev >= 0], -1)
    helper_of, score, short, idle = _match(instance, helpers, cadres, hh_town, need, use_skills=True, prev=prev)
    ids = np.append(helpers["helper_id"].to_numpy(dtype=object), "")  # -1, no helper: ""
    hh_out = pd.DataFrame(
        {
            "household_id": households["household_id"].to_numpy(),
            "helper_id": ids[helper_of],
            "need": need,
            "match_score": score,
        }
    )
    load = np.bincount(helper_of[helper_of >= 0], minlength=len(helpers))
    poor_v = poor_villages(tree, instance.regions)
    secretaries = helpers["kind"].to_numpy() == HelperKind.FIRST_SECRETARY.value
    sec_of, _, sec_short, _ = _match(instance, helpers, secretaries, tree.ancestors[poor_v, Level.TOWNSHIP], np.full(len(poor_v), ""), use_skills=False)
    load += np.bincount(sec_of[sec_of >= 0], minlength=len(helpers))
    helpers_out = helpers[["helper_id", "kind", "home_region_id", "capacity", "skills"]].assign(load=load)
    helpers_out["utilization"] = _utilization(helpers_out)
    sec_out = pd.DataFrame(
        {
            "village_id": tree.ids.to_numpy()[poor_v],
            "first_secretary_id": ids[sec_of],
        }
    )
    shortage = short.assign(township_id=tree.ids.to_numpy()[short["township"].to_numpy()])[["township_id", "skill", "households"]]
    sec_short = sec_short.assign(township_id=tree.ids.to_numpy()[sec_short["township"].to_numpy()], skill="first_secretary")
    shortage = pd.concat([shortage, sec_short[["township_id", "skill", "households"]]], ignore_index=True)
    return Assignment(hh_out, helpers_out, sec_out, shortage, dispatch(instance, helpers, short, idle))


@dataclass(frozen=True)
class ClassNetwork:
    """Helper classes (home unit, reach, skills), demand classes (township, skill) and the arcs between them."""

    hp: pd.DataFrame  # usable helpers with their class
    hclass: pd.DataFrame  # one row per helper class
    cap: np.ndarray  # capacity per helper class
    demand: pd.DataFrame  # item, township, skill, dclass
    dclass: pd.DataFrame  # one row per demand class
    count: np.ndarray  # items per demand class
    h_idx: np.ndarray  # arc tails (helper class)
    d_idx: np.ndarray  # arc heads (demand class)
    has_skill: np.ndarray  # the arc's helpers have the skill the demand class needs
    score: np.ndarray  # match score of the arc
    keep_arc: np.ndarray  # with previous helpers: per keep arc, the arc it doubles (helper class of the items' previous helper to their class)
    keep_count: np.ndarray  # per keep arc, the items it may carry
    item_keep: np.ndarray  # per item, its keep arc (-1: no previous helper, or one whose class does not reach it)
    class_of: np.ndarray  # helper row -> its class (-1: not usable), and -1 once more at the end (no helper)

def class_network(
    instance: Instance, helpers: pd.DataFrame, usable: np.ndarray, town: np.ndarray, need: np.ndarray, use_skills: bool, prev: np.ndarray | None = None
) -> ClassNetwork:
    """Group helpers and demand items into classes and connect every helper class to the classes it reaches; with
    ``prev`` (each item's previous helper, a row of ``helpers`` or -1), a keep arc beside each arc from the class of
    some items' previous helper to their class, for those items."""
    tree = instance.tree
    n = len(town)
    hp = helpers[usable].reset_index().rename(columns={"index": "helper"})
    home = tree.pos(hp["home_region_id"])
    hp["home_level"] = tree.level[home]
    hp["hclass"] = pd.factorize(hp["home_region_id"] + "|" + hp["reach"] + "|" + (hp["skills"] if use_skills else ""))[0]
    hclass = hp.drop_duplicates("hclass").set_index("hclass").sort_index()
    cap = hp.groupby("hclass")["capacity"].sum().reindex(hclass.index).to_numpy()
    need_code = pd.factorize(np.asarray(need, dtype=object), use_na_sentinel=False)[0]
    # one class per (township, need), numbered in order of first appearance
    dcode = pd.factorize(np.asarray(town, dtype=np.int64) * (int(need_code.max(initial=0)) + 1) + need_code)[0]
    demand = pd.DataFrame({"item": np.arange(n), "township": town, "skill": need, "dclass": dcode})
    first = np.unique(dcode, return_index=True)[1]
    dclass = demand.iloc[first].set_index("dclass")
    count = np.bincount(dcode, minlength=len(first))

    reach = reach_regions(instance, helpers.loc[hclass["helper"].to_numpy()].reset_index(drop=True))
    r_class = hclass.index.to_numpy()[reach["helper"].to_numpy()]
    r_region = reach["region"].to_numpy()
    tails, heads = [], []
    for lv in np.unique(tree.level[r_region]):
        at = tree.level[r_region] == lv
        i, j = equal_pairs(r_region[at], tree.ancestors[dclass["township"].to_numpy(), lv])
        tails.append(r_class[at][i])
        heads.append(j)
    h_all = np.concatenate(tails) if tails else np.zeros(0, dtype=np.int64)
    d_all = np.concatenate(heads) if heads else np.zeros(0, dtype=np.int64)
    kept = np.sort(np.unique(h_all * max(len(dclass), 1) + d_all, return_index=True)[1])  # first of each arc, in order
    h_idx, d_idx = h_all[kept].astype(np.int64), d_all[kept].astype(np.int64)
    skills = hclass["skills"].astype(str).str.split(LIST_SEP).to_numpy()
    has_skill = np.array([s in sk for s, sk in zip(dclass["skill"].to_numpy()[d_idx], skills[h_idx])], dtype=bool) if use_skills else np.zeros(len(h_idx), bool)
    closeness = pd.Series(hclass["home_level"].to_numpy()[h_idx]).map(CLOSENESS).fillna(1).to_numpy(dtype=np.int64)
    arc_score = SKILL_WEIGHT * has_skill + closeness
    class_of = np.full(len(helpers) + 1, -1, dtype=np.int64)  # the last entry: no previous helper
    class_of[hp["helper"].to_numpy()] = hp["hclass"].to_numpy()
    was = class_of[np.full(n, -1) if prev is None else prev]
    # keep arcs: one per (previous helper class, demand class) of some items, where that class reaches them
    arc_keys = h_idx * max(len(dclass), 1) + d_idx
    order = np.argsort(arc_keys, kind="stable")
    wanted = was * max(len(dclass), 1) + dcode
    at = np.minimum(np.searchsorted(arc_keys[order], wanted), max(len(order) - 1, 0))
    reached = (was >= 0) & (arc_keys[order][at] == wanted) if len(order) else np.zeros(n, dtype=bool)
    keys = np.unique(wanted[reached])
    keep_arc = order[np.searchsorted(arc_keys[order], keys)]
    item_keep = np.full(n, -1, dtype=np.int64)
    item_keep[reached] = np.searchsorted(keys, wanted[reached])
    keep_count = np.bincount(item_keep[reached], minlength=len(keys))
    return ClassNetwork(
        hp, hclass, cap, demand, dclass, count, h_idx, d_idx, has_skill, arc_score, keep_arc, keep_count, item_keep, class_of
    )


def _match(
    instance: Instance, helpers: pd.DataFrame, usable: np.ndarray, town: np.ndarray, need: np.ndarray, use_skills: bool, prev: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Min-cost flow from helper classes to (township, need) classes; returns helper per demand item, score,
    the shortage by class and the idle capacity by helper class. ``prev``: each item's previous helper (row of
    ``helpers``, -1 for none), kept where that costs no score."""
    net = class_network(instance, helpers, usable, town, need, use_skills, prev)
    hp, hclass, cap, demand, dclass, count = net.hp, net.hclass, net.cap, net.demand, net.dclass, net.count
    h_idx, d_idx, arc_score = net.h_idx, net.d_idx, net.score
    n, m, k = len(town), len(net.h_idx), len(net.keep_arc)
    nh, nd = len(hclass), len(dclass)
    src, sink = nh + nd, nh + nd + 1
    kh, kd = h_idx[net.keep_arc], d_idx[net.keep_arc]
    tails = np.concatenate([h_idx, kh, np.full(nd, src), np.arange(nh), [src]])
    heads = np.concatenate([nh + d_idx, nh + kd, nh + np.arange(nd), np.full(nh, sink), [sink]])
    caps = np.concatenate([np.minimum(cap[h_idx], count[d_idx]), np.minimum(cap[kh], net.keep_count), count, cap, [n]])
    # lexicographic: match score first; among allocations of equal score, the most items kept in their previous
    # helper's class. A keep arc costs one unit less than the arc it doubles, on a scale where one point of score
    # outweighs what any simple cycle of the residual network can keep: its keep arcs, two per class it passes
    scale = min(int(net.keep_count.sum()), 2 * min(nh, nd) + 4) + 1
    base = (MAX_SCORE - arc_score) * scale
    costs = np.concatenate([base + (k > 0), base[net.keep_arc], np.full(nd, SHORTAGE_COST * scale), np.zeros(nh), [0]])
    supplies = np.concatenate([cap, -count, [n], [-(cap.sum())]])
    flow = solve_min_cost_flow(tails, heads, caps, costs, supplies)
    arc_of = _items_arcs(demand["dclass"].to_numpy(), d_idx, flow[:m], net.item_keep, net.keep_arc, flow[m : m + k])
    matched = arc_of >= 0
    capacity = np.zeros(len(net.class_of), dtype=np.int64)
    capacity[hp["helper"].to_numpy()] = hp["capacity"].to_numpy()
    cls, score = np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.int64)
    cls[matched], score[matched] = h_idx[arc_of[matched]], arc_score[arc_of[matched]]
    helper_of = _individuals(cls, np.full(n, -1) if prev is None else np.asarray(prev), capacity, net.class_of)
    flow = flow[m + k :]  # the shortage and idle arcs

    shortage = pd.DataFrame({"township": dclass["township"].to_numpy(), "skill": dclass["skill"].to_numpy(), "households": flow[:nd]})
    idle_cap = flow[nd : nd + nh]
    idle = pd.DataFrame({"home_region_id": hclass["home_region_id"].to_numpy(), "skills": hclass["skills"].to_numpy(), "idle": idle_cap})
    return helper_of, score, shortage[shortage["households"] > 0].reset_index(drop=True), idle[idle["idle"] > 0].reset_index(drop=True)


def _items_arcs(
    dclass: np.ndarray, d_idx: np.ndarray, used: np.ndarray, item_keep: np.ndarray, keep_arc: np.ndarray, kept: np.ndarray
) -> np.ndarray:
    """The arc that serves each item (-1: short): a keep arc's flow goes to its own items, the arcs' flow into a
    class to its other items, in item order."""
    n = len(dclass)
    arc_of = np.full(n, -1, dtype=np.int64)
    mine = np.flatnonzero(item_keep >= 0)
    mine = mine[np.argsort(item_keep[mine], kind="stable")]
    taken = mine[group_ranks(item_keep[mine]) < kept[item_keep[mine]]]
    arc_of[taken] = keep_arc[item_keep[taken]]
    rest = np.setdiff1d(np.arange(n), taken)
    rest = rest[np.argsort(dclass[rest], kind="stable")]
    arcs = np.flatnonzero(used > 0)
    arcs = arcs[np.argsort(d_idx[arcs], kind="stable")]
    seq = np.repeat(arcs, used[arcs])  # the arcs into each class, one entry per item they serve
    n_class = int(dclass.max(initial=-1)) + 1
    start = np.searchsorted(d_idx[seq], np.arange(n_class))
    into = np.bincount(d_idx[seq], minlength=n_class)
    rank = group_ranks(dclass[rest])
    served = rank < into[dclass[rest]]
    arc_of[rest[served]] = seq[start[dclass[rest[served]]] + rank[served]]
    return arc_of


def _individuals(cls: np.ndarray, prev: np.ndarray, capacity: np.ndarray, class_of: np.ndarray) -> np.ndarray:
    """Each item's helper within the class the flow gave it (-1: none): the items of the class of their previous
    helper get that helper back, up to its capacity, and the rest fill the room left in helper order."""
    n = len(capacity)
    helper_of = np.full(len(cls), -1, dtype=np.int64)
    matched = cls >= 0
    same = matched & (prev >= 0) & (class_of[np.maximum(prev, 0)] == cls)
    stay = np.flatnonzero(same)
    stay = stay[np.argsort(prev[stay], kind="stable")]
    stay = stay[group_ranks(prev[stay]) < capacity[prev[stay]]]
    fill = np.setdiff1d(np.flatnonzero(matched), stay)
    room = capacity - np.bincount(prev[stay], minlength=n)
    # the helpers' free places one after the other, class by class: the k-th item of a class takes the class's k-th
    # place (found by the places' running end, never one array entry per place: a capacity of 10^9 took 16 GB)
    order = np.flatnonzero(class_of >= 0)
    order = order[np.argsort(class_of[order], kind="stable")]
    end = np.cumsum(room[order])
    before = np.concatenate([[0], end])[np.searchsorted(class_of[order], np.arange(int(class_of.max(initial=-1)) + 1))]
    fill = fill[np.argsort(cls[fill], kind="stable")]
    helper_of[stay] = prev[stay]
    helper_of[fill] = order[np.searchsorted(end, before[cls[fill]] + group_ranks(cls[fill]), side="right")]
    return helper_of


def dispatch(instance: Instance, helpers: pd.DataFrame, shortage: pd.DataFrame, idle: pd.DataFrame) -> pd.DataFrame:
    """Cover shortages (township, skill) from idle helper capacity as a transport problem, nearest first."""
    cols = ["from_unit", "relation", "to_township", "skill", "households"]
    if shortage.empty:
        return pd.DataFrame(columns=cols)
    tree = instance.tree
    src = idle.assign(skill=idle["skills"].astype(str).str.split(LIST_SEP)).explode("skill")
    src = src.groupby(["home_region_id", "skill"], as_index=False)["idle"].sum()
    pairs = shortage.merge(src, on="skill", how="left").dropna(subset=["home_region_id"])
    t_pos = pairs["township"].to_numpy(dtype=np.int64)
    h_pos = tree.pos(pairs["home_region_id"])
    relation = np.full(len(pairs), "elsewhere", dtype=object)
    for name, lv in (("province", Level.PROVINCE), ("city", Level.CITY), ("county", Level.COUNTY)):
        h_lv = tree.level[h_pos]
        same = (h_lv >= lv) & (tree.ancestors[h_pos, np.minimum(lv, 5)] == tree.ancestors[t_pos, lv])
        relation[same] = name
    paired = isin(pairs["home_region_id"].to_numpy(), helpers.loc[helpers["paired"].astype(bool), "home_region_id"].unique())
    relation[paired & (relation == "elsewhere")] = "paired"
    pairs = pairs.assign(relation=relation)
    ns, nsrc = len(shortage), len(src)
    key = pd.Index(shortage["township"].astype(str) + "|" + shortage["skill"])
    d_of = key.get_indexer(pairs["township"].astype(str) + "|" + pairs["skill"])
    s_key = pd.Index(src["home_region_id"] + "|" + src["skill"])
    o_of = s_key.get_indexer(pairs["home_region_id"] + "|" + pairs["skill"])
    need = shortage["households"].to_numpy(dtype=np.int64)
    supply = src["idle"].to_numpy(dtype=np.int64)
    recruit = nsrc + ns  # node that recruits locally for any shortage
    sink = recruit + 1
    tails = np.concatenate([o_of, np.full(ns, recruit), np.arange(nsrc), [recruit]])
    heads = np.concatenate([nsrc + d_of, nsrc + np.arange(ns), np.full(nsrc, sink), [sink]])
    caps = np.concatenate([np.minimum(supply[o_of], need[d_of]), need, supply, [need.sum()]])
    costs = np.concatenate([pd.Series(relation).map(DISPATCH_COST).to_numpy(dtype=np.int64), np.full(ns, DISPATCH_COST["recruit"]), np.zeros(nsrc), [0]])
    supplies = np.concatenate([supply, -need, [need.sum()], [-supply.sum()]])
    flow = solve_min_cost_flow(tails, heads, caps, costs, supplies)
    moved = pairs.assign(households=flow[: len(pairs)])
    moved = moved[moved["households"] > 0]
    out = pd.DataFrame(
        {
            "from_unit": moved["home_region_id"].to_numpy(),
            "relation": moved["relation"].to_numpy(),
            "to_township": tree.ids.to_numpy()[moved["township"].to_numpy(dtype=np.int64)],
            "skill": moved["skill"].to_numpy(),
            "households": moved["households"].to_numpy(),
        }
    )
    rec = flow[len(pairs) : len(pairs) + ns]
    recruit_rows = pd.DataFrame(
        {
            "from_unit": "recruit locally",
            "relation": "recruit",
            "to_township": tree.ids.to_numpy()[shortage["township"].to_numpy(dtype=np.int64)],
            "skill": shortage["skill"].to_numpy(),
            "households": rec,
        }
    )
    return pd.concat([out, recruit_rows[recruit_rows["households"] > 0]], ignore_index=True)[cols]
