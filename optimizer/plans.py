"""From measures to plans (DESIGN §3): per household, the eligible measure sets and their success chance.

A *template* is a set of measures that may be combined (every pair listed in ``combines_with``); a *plan*
is a template applied to one household, optionally tied to one village project that enables or boosts one
of its measures. Everything is computed as household x template arrays; only the (small) template
catalogue is enumerated in Python.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import ndtr

from .contract import LIST_SEP, PLAN_PROJECT_SEP, PROJECT_RULE, Category, Effect, Guarantee, IncomeKind
from .data import Instance, rule_passes
from .errors import InfeasibleError
from .limits import PRUNE_CHUNK
from .scenario import Scenario

CATEGORIES = [c.value for c in Category]
PROJECT_PLANS = 2  # plans kept per household and project


@dataclass(frozen=True)
class Templates:
    """The measure-set catalogue: ``member[t, m]`` is True when template t contains measure m."""

    member: np.ndarray
    labels: list[str]
    fixed: np.ndarray  # template x category: fixed cost
    per_person: np.ndarray  # template x category: cost per person
    work: np.ndarray  # per template: work uplift per person
    transfer: np.ndarray  # per template: transfer uplift per person
    covers: np.ndarray  # template x guarantee (bool)


@dataclass(frozen=True)
class Plans:
    """Candidate plans, one row each, sorted by household then project then cost.

    ``table`` columns: hh (household position), template, project (position or -1), cost, p (success
    probability), value (objective coefficient), floors_unmet, income_after (mean income per person with
    the plan), measures (label).
    ``category_cost`` is plans x categories (CSR), in the order of :data:`CATEGORIES`.
    """

    table: pd.DataFrame
    category_cost: sp.csr_matrix
    templates: Templates


def build_templates(measures: pd.DataFrame, max_measures: int) -> Templates:
    """Enumerate the empty set, single measures and cliques of ``combines_with`` up to ``max_measures``."""
    ids = list(measures["measure_id"])
    index = {m: i for i, m in enumerate(ids)}
    pairs = np.zeros((len(ids), len(ids)), dtype=bool)
    for i, text in enumerate(measures["combines_with"]):
        for other in (s.strip() for s in str(text).split(LIST_SEP) if s.strip()):
            pairs[i, index[other]] = pairs[index[other], i] = True
    sets: list[tuple[int, ...]] = [()]
    for size in range(1, max_measures + 1):
        for combo in itertools.combinations(range(len(ids)), size):
            if all(pairs[a, b] for a, b in itertools.combinations(combo, 2)):
                sets.append(combo)
    member = np.zeros((len(sets), len(ids)), dtype=bool)
    for t, combo in enumerate(sets):
        member[t, list(combo)] = True
    cat = np.array([CATEGORIES.index(c) for c in measures["category"]])
    onehot = np.zeros((len(ids), len(CATEGORIES)))
    onehot[np.arange(len(ids)), cat] = 1.0
    memf = member.astype(float)
    kind = measures["income_kind"].to_numpy()
    uplift = measures["income_uplift"].to_numpy(dtype=float)
    guarantees = [g.value for g in Guarantee]
    covers_m = np.array([[g in str(text).split(LIST_SEP) for g in guarantees] for text in measures["covers"]], dtype=float)
    return Templates(
        member=member,
        labels=["+".join(ids[i] for i in combo) or "none" for combo in sets],
        fixed=memf @ (onehot * measures["cost_fixed"].to_numpy(dtype=float)[:, None]),
        per_person=memf @ (onehot * measures["cost_per_person"].to_numpy(dtype=float)[:, None]),
        work=memf @ np.where(kind == IncomeKind.WORK.value, uplift, 0.0),
        transfer=memf @ np.where(kind == IncomeKind.TRANSFER.value, uplift, 0.0),
        covers=(memf @ covers_m) > 0,
    )


def in_catalogue_order(labels: pd.Series, measure_ids: Sequence[str] | None = None) -> np.ndarray:
    """Plan labels ("a+b", "a+b@J7", "none") with their measures in the order of ``measure_ids``, the catalogue's
    (sorted by id when None: a key for comparing labels). :func:`build_templates` names a plan's measures in the
    catalogue's row order, so a label stored under another row order of ``measures.csv`` names the same plan again;
    a label with a measure the catalogue lacks is left as it is (and is refused where it is matched)."""
    order = None if measure_ids is None else {m: i for i, m in enumerate(measure_ids)}

    def one(label: str) -> str:
        measures, sep, project = label.partition(PLAN_PROJECT_SEP)
        ids = measures.split("+")
        if order is None:
            return "+".join(sorted(ids)) + sep + project
        if any(m not in order for m in ids):
            return label
        return "+".join(sorted(ids, key=order.__getitem__)) + sep + project

    codes, distinct = pd.factorize(pd.Series(labels).astype(str))  # a few distinct labels among many households
    return np.array([one(label) for label in distinct], dtype=object)[codes]


def eligibility(instance: Instance) -> np.ndarray:
    """Household x measure eligibility from the declarative rules (project requirements aside)."""
    hh = instance.households
    ok = np.ones((len(hh), len(instance.measures)), dtype=bool)
    col_of = {m: i for i, m in enumerate(instance.measures["measure_id"])}
    for rule in instance.eligibility.itertuples(index=False):
        if rule.column == PROJECT_RULE:
            continue
        ok[:, col_of[rule.measure_id]] &= rule_passes(hh[rule.column].to_numpy(), rule.op, rule.value)
    return ok


def project_only_measures(instance: Instance) -> list[str]:
    """Measures offered only through a built project: declared ``requires_project`` or enabled by one."""
    rules = instance.eligibility
    declared = rules.loc[rules["column"] == PROJECT_RULE, "measure_id"]
    projects = instance.projects
    enabled = projects.loc[projects["effect"] == Effect.ENABLE.value, "measure_id"]
    return sorted(set(declared) | set(enabled))


def build_plans(instance: Instance, scenario: Scenario, decided: pd.DataFrame | None = None) -> Plans:
    """Generate, score and prune every household's candidate plans. ``decided`` (household_id, plan label as the
    outputs write it) holds plans decided before, such as a re-plan's kept starts: each stays a candidate while its
    household is eligible for its measures (and its project exists), whatever the pruning, the hard floors or the
    cost cap, so that changing those settings cannot drop a decision already taken."""
    tpl = build_templates(instance.measures, scenario.plans.max_measures)
    kept = _kept_cells(instance, tpl, decided)
    hh = instance.households
    eligible_m = eligibility(instance)
    projects = instance.projects
    enabled_by_project = np.isin(instance.measures["measure_id"], project_only_measures(instance))
    project_only = tpl.member[:, enabled_by_project].sum(axis=1)

    # template t is eligible for h when every member measure is
    need = tpl.member.sum(axis=1)
    have = eligible_m.astype(np.int32) @ tpl.member.T.astype(np.int32)
    eligible_t = have == need[None, :]
    base_ok = eligible_t & (project_only == 0)[None, :]

    scorer = _Scorer(instance, scenario, tpl)
    value, p, unmet, after = scorer.score(np.arange(len(hh)), np.zeros(len(hh)), np.zeros(len(hh)), base_ok)
    hard = scenario.floors.mode == "hard"
    keep = base_ok & ((unmet == 0) if hard else True)
    cost = scorer.cost(np.arange(len(hh)))
    cap = scenario.equity.max_cost_per_household
    if cap is not None:
        keep &= cost <= cap + 1e-9
    keep = _prune(keep, cost, value, p, scenario.plans.max_per_household, *scorer.dominance())
    plain = kept["project"].to_numpy() < 0
    h_k, t_k = kept["hh"].to_numpy()[plain], kept["template"].to_numpy()[plain]
    keep[h_k, t_k] |= base_ok[h_k, t_k]
    no_plan = ~keep.any(axis=1)
    if no_plan.any():
        _no_plan_error(instance, scenario, np.flatnonzero(no_plan), base_ok, unmet)
    h_idx, t_idx = np.nonzero(keep)
    frames = [
        pd.DataFrame(
            {
                "hh": h_idx,
                "template": t_idx,
                "project": -1,
                "cost": cost[h_idx, t_idx],
                "p": p[h_idx, t_idx],
                "value": value[h_idx, t_idx],
                "floors_unmet": unmet[h_idx, t_idx],
                "income_after": after[h_idx, t_idx],
            }
        )
    ]
    if len(projects):
        tied = _project_plans(instance, scenario, tpl, scorer, eligible_t, project_only, enabled_by_project, kept[~plain])
        if len(tied):  # none (no household in a village with a project): its columns have no type to join with
            frames.append(tied)
    table = pd.concat(frames, ignore_index=True)
    table = table.sort_values(["hh", "project", "cost", "template"], kind="stable").reset_index(drop=True)
    table["measures"] = np.asarray(tpl.labels, dtype=object)[table["template"].to_numpy()]
    size = hh["size"].to_numpy(dtype=float)[table["hh"].to_numpy()]
    t = table["template"].to_numpy()
    category_cost = sp.csr_matrix(tpl.fixed[t] + tpl.per_person[t] * size[:, None])
    category_cost.eliminate_zeros()
    return Plans(table=table, category_cost=category_cost, templates=tpl)


class _Scorer:
    """Success probability and objective value of templates for households (DESIGN §3)."""

    def __init__(self, instance: Instance, scenario: Scenario, tpl: Templates):
        hh = instance.households
        self.tpl = tpl
        self.line = scenario.poverty.line
        self.sigma = scenario.probability.income_sigma
        self.helper = scenario.probability.helper_uplift
        self.factor = scenario.probability.uncovered_guarantee_factor
        self.tw = scenario.objective.transfer_exit_weight
        self.penalty = scenario.floors.penalty if scenario.floors.mode == "soft" else 0.0
        self.income = hh["income_per_capita"].to_numpy(dtype=float)
        self.size = hh["size"].to_numpy(dtype=float)
        self.labour = hh["labour"].to_numpy() > 0
        g = [x.value for x in Guarantee]
        needs = np.zeros((len(hh), len(g)), dtype=bool)
        needs[:, g.index("education")] = hh["school_children"].to_numpy() > 0
        needs[:, g.index("medical")] = hh["chronic_illness"].to_numpy()
        needs[:, g.index("housing")] = hh["unsafe_house"].to_numpy()
        self.needs = needs
        floors = np.zeros_like(needs)
        if scenario.floors.labourless_guarantee:
            floors[:, g.index("living")] = ~self.labour
        if scenario.floors.school_education:
            floors[:, g.index("education")] = needs[:, g.index("education")]
        if scenario.floors.unsafe_house_renovation:
            floors[:, g.index("housing")] = needs[:, g.index("housing")]
        self.floors = floors
        weight = scenario.objective.weight
        if weight == "persons":
            self.weight = self.size
        elif weight == "depth":
            self.weight = np.maximum(self.line - self.income, 0.0) / self.line
        else:
            self.weight = np.ones(len(hh))

    def _p_income(self, mean: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            z = (np.log(np.maximum(mean, 1e-9) / self.line) - 0.5 * self.sigma**2) / self.sigma
        return ndtr(z)

    def score(self, rows: np.ndarray, extra_work: np.ndarray, extra_transfer: np.ndarray, where: np.ndarray) -> tuple[np.ndarray, ...]:
        """Objective value, success probability, unmet floors and mean income after, for ``rows`` x all templates,
        computed where ``where`` (rows x templates) is set and 0 elsewhere: a household is eligible for about a
        fifth of the templates, and the probabilities are most of the work of building plans."""
        tpl = self.tpl
        r, t = np.nonzero(where)
        h = rows[r]
        base_work, ew = tpl.work[t], extra_work[r]
        work = base_work + ew
        work = work + np.where((base_work > 0) | (ew > 0), self.helper, 0.0)
        income = self.income[h]
        after = income + work + tpl.transfer[t] + extra_transfer[r]
        p_total = self._p_income(after)
        p_work = self._p_income(income + work)
        uncovered = ~tpl.covers[t]  # pairs x guarantees
        missing = (self.needs[h] & uncovered).sum(axis=1, dtype=np.int32)
        guarantee = self.factor**missing
        p = p_total * guarantee
        value = np.where(self.labour[h], p_work + self.tw * (p_total - p_work), p_total) * guarantee
        unmet = (self.floors[h] & uncovered).sum(axis=1, dtype=np.int32)
        value = value * self.weight[h] - self.penalty * unmet
        value[np.abs(value) < 1e-9] = 0.0  # no objective noise below what any solver can see

        def dense(flat: np.ndarray) -> np.ndarray:
            out = np.zeros(where.shape, dtype=flat.dtype)
            out[r, t] = flat
            return out

        return dense(value), dense(p), dense(unmet), dense(after)

    def cost(self, rows: np.ndarray) -> np.ndarray:
        """Total cost of every template for ``rows``."""
        tpl = self.tpl
        return tpl.fixed.sum(axis=1)[None, :] + self.size[rows][:, None] * tpl.per_person.sum(axis=1)[None, :]

    def dominance(self) -> tuple[np.ndarray, np.ndarray]:
        """``D[s, a, b]``: template a costs no more than b in every category for a household of the s-th size
        present, and each household's s."""
        sizes, of_household = np.unique(self.size, return_inverse=True)
        s = sizes[:, None, None]
        cost = self.tpl.fixed[None, :, :] + s * self.tpl.per_person[None, :, :]  # size x t x cat
        return (cost[:, :, None, :] <= cost[:, None, :, :] + 1e-9).all(axis=3), of_household


def _prune(
    keep: np.ndarray, cost: np.ndarray, value: np.ndarray, p: np.ndarray, k: int, dom: np.ndarray, size_of: np.ndarray, chunk: int = PRUNE_CHUNK
) -> np.ndarray:
    """Drop dominated plans (another costs no more in every category with as much value and p), cap at k.
    ``dom[size_of[row]]`` says which template costs no more than which for that row's household size; rows
    side by side in blocks of ``chunk`` with about as many admissible plans each keep the pairwise arrays small."""
    n, t = keep.shape
    out = np.zeros_like(keep)
    counts = keep.sum(axis=1)
    order = np.argsort(counts, kind="stable")  # rows with as many admissible plans side by side: narrow blocks
    for start in range(0, n, chunk):
        rows = order[start : start + chunk]
        m = int(counts[rows].max())
        if m == 0:
            continue
        cols = np.argsort(~keep[rows], axis=1, kind="stable")[:, :m]  # each row's admissible templates first, in order
        kp = np.take_along_axis(keep[rows], cols, axis=1)
        v, pr, c = (np.take_along_axis(a[rows], cols, axis=1) for a in (value, p, cost))
        d = dom[size_of[rows][:, None, None], cols[:, :, None], cols[:, None, :]]
        # a dominates b: cheaper-or-equal everywhere, value and p at least as high, strictly better somewhere
        # (or equal and first in template order)
        d &= kp[:, :, None]
        d &= v[:, :, None] >= v[:, None, :] - 1e-12
        d &= pr[:, :, None] >= pr[:, None, :] - 1e-12
        d &= (v[:, :, None] > v[:, None, :] + 1e-12) | (c[:, :, None] < c[:, None, :] - 1e-9) | (cols[:, :, None] < cols[:, None, :])
        d &= ~np.eye(m, dtype=bool)[None]
        block = np.zeros((len(rows), t), dtype=bool)
        np.put_along_axis(block, cols, kp & ~d.any(axis=1), axis=1)
        out[rows] = block
    return _cap(out, cost, value, k)


def _cap(keep: np.ndarray, cost: np.ndarray, value: np.ndarray, k: int) -> np.ndarray:
    """Keep at most k plans per row: the cheapest, the most valuable, then the best value per yuan."""
    over = np.flatnonzero(keep.sum(axis=1) > k)
    if len(over) == 0:
        return keep
    keep_o = keep[over]
    big = np.float64(1e30)
    c = np.where(keep_o, cost[over], big)
    v = np.where(keep_o, value[over], -big)
    cheapest = c.argmin(axis=1)
    best = v.argmax(axis=1)
    rows = np.arange(len(over))
    base_v = v[rows, cheapest]
    base_c = c[rows, cheapest]
    eff = np.where(keep_o, (v - base_v[:, None]) / np.maximum(c - base_c[:, None], 1.0), -big)
    eff[rows, cheapest] = big
    eff[rows, best] = big / 2
    order = np.argsort(-eff, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(order.shape[1])[None, :].repeat(len(order), axis=0), axis=1)
    out = keep.copy()
    out[over] = keep_o & (rank < k)
    return out


def _project_plans(
    instance: Instance,
    scenario: Scenario,
    tpl: Templates,
    scorer: _Scorer,
    eligible_t: np.ndarray,
    project_only: np.ndarray,
    enabled: np.ndarray,
    kept: pd.DataFrame,
) -> pd.DataFrame:
    """Plans tied to one project of the household's village: the project enables or boosts a measure; the ``kept``
    ones (hh, template, project) stay whenever their household is eligible (:func:`build_plans`)."""
    hh = instance.households
    pr = instance.projects.reset_index(drop=True)
    measure_pos = pd.Index(instance.measures["measure_id"]).get_indexer(pr["measure_id"])
    pairs = pd.DataFrame({"hh": np.arange(len(hh)), "village_id": hh["village_id"].to_numpy()}).merge(
        pd.DataFrame({"project": np.arange(len(pr)), "village_id": pr["village_id"].to_numpy()}), on="village_id"
    )
    if pairs.empty:
        return pd.DataFrame(columns=["hh", "template", "project", "cost", "p", "value", "floors_unmet", "income_after"])
    h, j = pairs["hh"].to_numpy(), pairs["project"].to_numpy()
    m = measure_pos[j]
    contains = tpl.member[:, m].T  # pairs x templates
    # other project-only measures than m would need a second project
    other_only = project_only[None, :] - (tpl.member[:, m].T & enabled[m][:, None])
    ok = eligible_t[h] & contains & (other_only == 0)
    at = pairs.reset_index().merge(kept, on=["hh", "project"])
    pair_k, t_k = at["index"].to_numpy(), at["template"].to_numpy()
    may_keep = ok[pair_k, t_k]
    bonus = pr["uplift_bonus"].to_numpy(dtype=float)[j]
    is_work = instance.measures["income_kind"].to_numpy()[m] == IncomeKind.WORK.value
    value, p, unmet, after = scorer.score(h, np.where(is_work, bonus, 0.0), np.where(is_work, 0.0, bonus), ok)
    if scenario.floors.mode == "hard":
        ok &= unmet == 0
    cost = scorer.cost(h)
    if scenario.equity.max_cost_per_household is not None:
        ok &= cost <= scenario.equity.max_cost_per_household + 1e-9
    ok = _cap(ok, cost, value, PROJECT_PLANS)
    ok[pair_k, t_k] |= may_keep
    r, t = np.nonzero(ok)
    return pd.DataFrame(
        {
            "hh": h[r],
            "template": t,
            "project": j[r],
            "cost": cost[r, t],
            "p": p[r, t],
            "value": value[r, t],
            "floors_unmet": unmet[r, t],
            "income_after": after[r, t],
        }
    )


def _kept_cells(instance: Instance, tpl: Templates, decided: pd.DataFrame | None) -> pd.DataFrame:
    """The positions (hh, template, project or -1) of the ``decided`` plans whose household, measure set and project
    the instance still has; the others cannot be offered, and whoever keeps them says so."""
    if decided is None or decided.empty:
        return pd.DataFrame({"hh": np.zeros(0, dtype=np.int64), "template": np.zeros(0, dtype=np.int64), "project": np.zeros(0, dtype=np.int64)})
    label = decided["plan"].astype(str)
    measures, project = label.str.partition(PLAN_PROJECT_SEP).iloc[:, [0, 2]].T.to_numpy()
    hh = pd.Index(instance.households["household_id"]).get_indexer(decided["household_id"])
    template = pd.Index(tpl.labels).get_indexer(measures)
    pos = pd.Index(instance.projects["project_id"]).get_indexer(project) if len(instance.projects) else np.full(len(decided), -1)
    pos = np.where(project == "", -1, np.where(pos < 0, -2, pos))
    cells = pd.DataFrame({"hh": hh, "template": template, "project": pos})
    return cells[(hh >= 0) & (template >= 0) & (pos >= -1)].drop_duplicates().reset_index(drop=True)


def _no_plan_error(instance: Instance, scenario: Scenario, rows: np.ndarray, base_ok: np.ndarray, unmet: np.ndarray) -> None:
    hh = instance.households
    examples = ", ".join(hh["household_id"].iloc[rows[:5]])
    raise InfeasibleError(
        f"{len(rows)} household(s) have no eligible plan that meets the hard floors"
        + (f" within equity.max_cost_per_household {scenario.equity.max_cost_per_household:,.0f} yuan" if scenario.equity.max_cost_per_household else "")
        + f" (e.g. {examples}); check the measures catalogue's eligibility, raise the cost cap or set floors.mode: soft"
    )
