r"""Multi-year planning to a deadline (issue 10): annual budgets, delayed effects, return risk.

The one-year model (:func:`optimizer.model.build_model`) is compiled once and its row blocks are expanded over
the years ``first..last`` (T years):

Variables
    x[o]        option o = (plan k of household h, start year t); one option per household (the empty plan
                has a single option, "never")
    y[j,t]      project j built in year t (at most once); it enables plans from year t+1 (from t with one year)
    f[l,t]      money on flow l = (fund, village, category) in year t
    c[F,t]      money of fund F carried from year t into year t+1

Rows
    assign      sum_{o of h} x[o] = 1
    balance     per (village, category, t): plan costs of options starting in t + projects built in t - flows of t = 0
    fund        per (F, t): sum_l f[l,t] + c[F,t] - c[F,t-1] <= appropriation[F,t]
    carry       c[F,t] <= cap * appropriation[F,t] (capped), c = 0 (none), free (full); c[F,last] = 0
    cofin       the one-year co-financing rows, per year
    link        per (h, j, t): sum_{k of h tied to j, u<=t} x[k,u] - sum_{s<t} y[j,s] <= 0  (tight, cumulative;
                s<=t with one year)
    capacity    per (j, t): sum_{o tied to j, started by t} x[o] - capacity[j] sum_{s<t} y[j,s] <= 0  (cumulative)
    once        per j: sum_t y[j,t] <= 1
    relocation  per (county, t): households starting a relocation plan in t <= rate * poor households
    target      min_cost: expected out of poverty at the deadline >= target (and per county incidence; and a county
                exit schedule: county c at or below its threshold in every year from its year Y to the deadline,
                counting in each year only options whose effect has started by then, discounted by the return risk)

An option (k, t) works when ``t + delay(k) <= last``; its probability of being out of poverty at the deadline
is ``p_k * (1 - r_k) ** (last - t - delay(k))``, with r_k the yearly return risk (higher for transfer-only
exits). Its value is that probability plus ``early_weight`` times the expected household-years out of poverty
before the deadline (so that, money allowing, a plan is best started early), weighted like the one-year value;
with one year (T = 1) it is the one-year value exactly. Starts that cannot work by the deadline are dropped,
except the first year for plans that never work in time (value 0, so hard floors stay feasible).

Monitoring and re-support (``years.monitoring``, off by default): every option that takes effect before the
deadline also has a monitored variant, a separate column in the same assign row. It pays ``cost`` per year in
each year at risk (effect year + 1 .. deadline) into the balance row of its village and ``monitoring.category``
for that year, and its risk is ``risk_factor * r_k`` in its probability and value. In a re-plan from year Y, a
kept start that was not monitored in its years at risk before Y also has a variant monitored from Y on (the last
``monitoring_years`` years only; see :func:`monitoring_choices`). With T = 1 (or monitoring off) no variant
exists and the model is unchanged.
"""

from __future__ import annotations

import functools
import logging
import math
import numbers
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .contract import LEVEL_NAMES, Category, Level
from .data import Instance, isin, run_positions
from .edits import apply_data_edits
from .errors import InfeasibleError, InputError, NoSolutionError, VerificationError, check_argument
from .model import INF, MONEY_UNIT, ChurnCap, LinearModel, ModelIndex, build_model, county_table, plan_keys, project_ids
from .outputs import INPUTS_DIFFER, MANIFEST, OUTPUT_HASHES, changed_outputs, inputs_differ, is_text_column, read_manifest
from .plans import CATEGORIES, Plans, build_plans, in_catalogue_order
from .regions import RegionTree
from .result import Tables, gap_note, versions
from .scenario import Scenario, Years, is_url
from .solve import (
    Progress,
    Solution,
    _better,
    _clean,
    _tighter,
    diagnose_infeasible,
    fractional_columns,
    households_free,
    optimize,
    relative_gap,
    solver_options,
)
from .solvers import Backend, SolveOptions, SolverOutput, Status, get_backend
from .storage import load_source

log = logging.getLogger(__name__)
MONEY_TOL = 0.5  # yuan
DECOMPOSE_FROM = 10_000  # households: from here on, method auto decomposes the multi-year model by county
# a re-plan that keeps earlier years (a night after the first, under the churn cap, or optimizer solve --from-year Y
# --previous DIR) stays one model longer: its kept years and published plans leave fewer choices. One model against
# decomposed, 2018-2020 from 2019 (2026-12-04, bench/README.md): under the cap 10,000 households 5.0 s against 11.0 s
# (2026-12-02), 40,000 68.0 s against 13.4 s; without it 20,000 7.0 s against 6.5 s, 40,000 14.7 s against 12.8 s,
# 100,000 47.4 s against 25.5 s (the one model's objective 0.05-0.14% higher, its gap under 0.05%)
DECOMPOSE_REPLAN_FROM = 40_000
# a county's rounding with its emergency money open (when none fits without) gets at least this long: after a first
# rounding that used the county's time (most likely HiGHS's cumulative clock, since fixed in solvers/highs.py) it had
# 1 s, found nothing, and the county's fallback, the MIP over all its households, ran 440 s and more (100,000
# households, 2016-2020, 2026-12-03)
EMERGENCY_ROUNDING_SECONDS = 10.0
FULL_MIP_UP_TO = 25_000  # integer columns: a multi-year model this small whose first rounding misses the gap goes to the full MIP
# rows: a multi-year model's LP this large is solved by HiGHS's interior point (with crossover), not its dual simplex:
# 5,000 / 10,000 / 20,000 households (35,160 / 67,976 / 134,780 rows) took 12.2 / 32.9 / 104.4 s against 17.9 / 100.6 s
# and over 300 s; a re-plan of 40,000 from 2019 16.3 s against 49.2 s (2026-12-04). Not with a churn row (block "churn",
# one model's or a county's), one row over every published plan's columns (the same re-plan capped: 64.6 s against
# 49.9 s), nor for the county LPs of the decomposition's rounds
# (the 100,000 instance's first round was 13 s shorter with it, its warm rounds from the crossover's bases 11 s longer)
IPM_FROM_ROWS = 26_000
PROJECT_ROUNDING_LPS = 5  # a county's MIP: at most this many LPs rounding its fractional projects first
KEPT_FROM = ("households.csv", "projects.csv", "flows.csv")  # the tables of a previous run that a re-plan reads
INCIDENCE_TOL = 1e-6  # expected poor households per rural household: a county exactly at its threshold is out


@dataclass(frozen=True)
class MultiYear:
    """The multi-year model with what each column stands for."""

    model: LinearModel
    index: ModelIndex
    plans: Plans
    options: pd.DataFrame  # plan, hh, year, delay, works, p_deadline, value, cost (one row per x column)
    years: np.ndarray
    appropriation: np.ndarray  # funds x years, model money units
    project_cost: np.ndarray  # per project, yuan: today's price, or what a kept build was paid (see kept_prices)


@dataclass
class MultiYearResult(Tables):
    """Output tables (households with ``year``, spending per year, projects, flows, counties) and a manifest; a
    national decomposed run keeps its households table on disk as ``parts`` (see :class:`optimizer.result.Tables`)."""

    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    parts: dict[str, list[Path]] = field(default_factory=dict, repr=False)

    def write(self, folder: str | Path, report_page: str | None = None) -> Path:
        """Write every table as CSV and the manifest as JSON (and ``report_page`` as its report), replacing
        ``folder`` atomically (a reader sees the previous complete run or this one)."""
        from .outputs import write_run
        from .result import Result

        return write_run(Result(tables=self.tables, manifest=self.manifest, parts=self.parts), folder, formats=("csv",), report_page=report_page)


def year_list(years: Years) -> np.ndarray:
    """The planning years, first to last."""
    return np.arange(years.first, years.last + 1)


def year_shares(years: Years) -> np.ndarray:
    """The share of a fund's amount appropriated in each year: ``shares`` normalized, or the profile's."""
    T = years.last - years.first + 1
    if years.shares is not None:
        w = np.asarray(years.shares, dtype=float)
    elif years.profile == "even":
        w = np.ones(T)
    elif years.profile == "front_loaded":
        w = np.arange(T, 0, -1, dtype=float)
    else:
        w = np.arange(1, T + 1, dtype=float)
    return w / w.sum()


def carry_limits(years: Years, approp: np.ndarray) -> np.ndarray:
    """Upper bounds of the money each fund may carry out of each year (funds x years, same unit as ``approp``)."""
    if years.carry_over == "none":
        hi = np.zeros_like(approp)
    elif years.carry_over == "capped":
        hi = years.carry_cap * approp
    else:
        hi = np.full_like(approp, np.inf)
    hi[:, -1] = 0.0
    return hi


def run_carry(years: Years, approp: np.ndarray, spent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Carry every fund's unspent money forward under the scenario's rule (all of it, capped, or none): the
    money carried out of each year and where a year spends more than its appropriation plus what came in
    (funds x years, yuan)."""
    carry = np.zeros_like(approp)
    over = np.zeros(approp.shape, dtype=bool)
    cap = carry_limits(years, approp)
    came_in = np.zeros(len(approp))
    for t in range(approp.shape[1]):  # a few years: the funds are vectorized
        avail = approp[:, t] + came_in
        over[:, t] = spent[:, t] > avail + MONEY_TOL + 1e-7 * avail
        carry[:, t] = np.minimum(np.maximum(avail - spent[:, t], 0.0), cap[:, t])
        came_in = carry[:, t]
    return carry, over


def spending_table(funds: pd.DataFrame, tree: RegionTree, years: np.ndarray, approp: np.ndarray, spent: np.ndarray, carry: np.ndarray) -> pd.DataFrame:
    """Per fund and year: its level, appropriation, carry-in, spending (:func:`spent_by_year`) and carry-out (yuan)."""
    T = len(years)
    level = tree.level[tree.pos(funds["region_id"])]
    spending = pd.DataFrame(
        {
            "year": np.tile(years, len(funds)),
            "fund_id": np.repeat(funds["fund_id"].to_numpy(), T),
            "level": np.repeat(level, T),
            "level_name": [LEVEL_NAMES[Level(v)] for v in np.repeat(level, T)],
            "appropriation": approp.ravel().round(2),
            "carry_in": np.concatenate([np.zeros((len(funds), 1)), carry[:, :-1]], axis=1).ravel().round(2),
        }
    )
    spending["spent"] = spent.ravel().round(2)
    spending["carry_out"] = carry.ravel().round(2)
    return spending


def spent_by_year(flows: pd.DataFrame, fund_ids: np.ndarray, years: np.ndarray) -> np.ndarray:
    """Money spent per fund and year (funds x years, yuan) from a flow table with ``year``."""
    spent = flows.groupby(["fund_id", "year"])["amount"].sum()
    full = pd.MultiIndex.from_arrays([np.repeat(fund_ids, len(years)), np.tile(years, len(fund_ids))])
    return spent.reindex(full).fillna(0.0).to_numpy().reshape(len(fund_ids), len(years))


def fund_year_check(years: Years, fund_ids: np.ndarray, approp: np.ndarray, flows: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Every fund's yearly spending against its appropriation plus carry-over under the rule, recomputed from the
    flows (an unknown fund in the flows is reported too); with the spending and carry-over (funds x years, yuan)."""
    bad = [] if flows["fund_id"].isin(fund_ids).all() else ["flow from an unknown fund"]
    yl = year_list(years)
    spent = spent_by_year(flows, fund_ids, yl)
    carry, over = run_carry(years, approp, spent)
    avail = approp + np.concatenate([np.zeros((len(fund_ids), 1)), carry[:, :-1]], axis=1)
    f, t = np.nonzero(over)
    bad += [f"fund {fund_ids[i]} overspent in {yl[j]}: {spent[i, j]:,.2f} > {avail[i, j]:,.2f} (appropriation plus carry-over)" for i, j in zip(f, t)]
    return bad, spent, carry


@dataclass(frozen=True)
class Withheld:
    """Money already paid out of funds outside the plans (the registry's ``funds.spent``): taken from the
    appropriations of the years from ``from_year`` on, in proportion to them, so that earlier years keep what
    they had when their decisions were taken."""

    amount: dict[str, float]  # yuan by fund_id
    from_year: int

    def __post_init__(self) -> None:
        check_argument(self.amount, dict, "Withheld: amount (yuan by fund_id)")
        check_argument(self.from_year, numbers.Integral, "Withheld: from_year")
        bad = [f"{k}: {v!r}" for k, v in self.amount.items() if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 <= v < math.inf]
        if bad:
            raise InputError(f"Withheld: money withheld must be a non-negative number of yuan per fund, not {', '.join(bad[:5])}")


def appropriations(instance: Instance, years: Years, withheld: Withheld | None = None) -> np.ndarray:
    """Yuan per fund and year: each fund's amount split by ``shares`` or by the profile, less what is withheld."""
    return yearly_appropriations(instance.funds["fund_id"], instance.funds["amount"].to_numpy(dtype=float), years, withheld)


def yearly_appropriations(fund_ids: pd.Series, amount: np.ndarray, years: Years, withheld: Withheld | None = None) -> np.ndarray:
    """:func:`appropriations` of the funds ``fund_ids`` with their ``amount`` (yuan): the decomposition's master
    holds the upper funds only."""
    approp = np.asarray(amount, dtype=float)[:, None] * year_shares(years)[None, :]
    if withheld is None or not any(withheld.amount.values()):
        return approp
    fund_ids = pd.Series(fund_ids).reset_index(drop=True)
    unknown = sorted(set(withheld.amount) - set(fund_ids))
    if unknown:
        raise InputError(f"money withheld from unknown fund(s): {', '.join(unknown)}")
    if not years.first <= withheld.from_year <= years.last:
        raise InputError(f"money withheld from {withheld.from_year}, a year outside the horizon {years.first}-{years.last}")
    t0 = withheld.from_year - years.first
    held = fund_ids.map(withheld.amount).fillna(0.0).to_numpy(dtype=float)
    rest = approp[:, t0:].sum(axis=1)
    over = held > rest + MONEY_TOL
    if over.any():
        raise InputError(
            [f"fund {f}: {h:,.2f} yuan spent outside the plans is more than its {r:,.2f} yuan appropriated from {years.first + t0} on"
             for f, h, r in zip(fund_ids[over], held[over], rest[over])]
        )  # fmt: skip
    scale = np.where(rest > 0, 1.0 - np.minimum(held, rest) / np.maximum(rest, 1e-12), 1.0)
    approp[:, t0:] *= scale[:, None]
    return approp


def unknown_exit_counties(scenario: Scenario, county_ids: Iterable[str] | None) -> list[str]:
    """The ids of ``years.county_exit`` that are not among ``county_ids`` (the counties with poor households; none
    when they are not given): refused in min-cost mode, where the schedule is a constraint, a warning otherwise."""
    if scenario.years is None or county_ids is None:
        return []
    return sorted(set(scenario.years.county_exit) - set(county_ids))


def exit_schedule_warning(scenario: Scenario, county_ids: Iterable[str] | None) -> str | None:
    """The warning for ``years.county_exit`` entries of max-lifted mode that name no county with poor households
    (a misspelt id would otherwise pass unnoticed: the schedule is only reported there)."""
    unknown = unknown_exit_counties(scenario, county_ids) if scenario.mode != "min_cost" else []
    if not unknown:
        return None
    return f"years.county_exit names no county with poor households in the data: {', '.join(unknown[:10])}{' ...' if len(unknown) > 10 else ''} (reported only)"


def _warn_exit_schedule(scenario: Scenario, county_ids: Iterable[str], say: Progress) -> None:
    warning = exit_schedule_warning(scenario, county_ids)
    if warning:
        say(f"warning: {warning}")


def check_years(
    scenario: Scenario, measure_ids: Iterable[str] | None = None, county_ids: Iterable[str] | None = None, source: str | None = None
) -> None:
    """Refuse (:class:`InputError`, naming ``source``, all problems at once) what the scenario's ``years:`` section
    asks that the data does not hold (checked before any model is built, and by ``optimizer validate``): delays of
    unknown measures (of ``measure_ids``, when given), exit years outside the years and, in min-cost mode, where
    the schedule is a constraint, exit years of counties without poor households (``county_ids``, when given; a
    county block of the decomposition holds only its own) or without the threshold to get below. (In max-lifted mode
    the schedule is only reported: a county of a nightly registry whose households have all exited keeps its
    entry.)"""
    yrs = scenario.years
    if yrs is None:
        return
    problems = []
    unknown = [] if measure_ids is None else sorted(set(yrs.delay_by_measure) - set(measure_ids))
    if unknown:
        problems.append(f"scenario years.delay_by_measure: unknown measure(s) {', '.join(unknown)}")
    unknown = [] if scenario.mode != "min_cost" else unknown_exit_counties(scenario, county_ids)
    if unknown:
        problems.append(f"scenario years.county_exit: unknown or non-poor county id(s) {', '.join(unknown)}")
    if yrs.county_exit and scenario.mode == "min_cost" and scenario.target.county_incidence is None:
        problems.append("scenario years.county_exit needs target.county_incidence (the threshold to get below)")
    problems += [f"scenario years.county_exit.{cid}: year {year} outside {yrs.first}..{yrs.last}"
                 for cid, year in yrs.county_exit.items() if not yrs.first <= year <= yrs.last]  # fmt: skip
    if problems:
        raise InputError(problems, source=source)


def measure_delays(instance: Instance, years: Years) -> np.ndarray:
    """Delay in years of every measure (in the order of ``instance.measures``)."""
    m = instance.measures
    d = m["batch"].map(years.delay_by_batch).fillna(0).to_numpy(dtype=np.int64)
    by_id = m["measure_id"].map(years.delay_by_measure)
    return np.where(by_id.notna(), by_id.fillna(0).to_numpy(), d).astype(np.int64)


def transfer_only(instance: Instance, measures_label: pd.Series) -> np.ndarray:
    """True for plans whose income uplift comes from transfers only (a higher return risk)."""
    kind = instance.measures.set_index("measure_id")["income_kind"].astype(str)
    uplift = instance.measures.set_index("measure_id")["income_uplift"].astype(float)
    labels = pd.Series(measures_label.unique())
    work = labels.map(lambda s: any(kind.get(m) == "work" and uplift.get(m, 0) > 0 for m in s.split("+")))
    transfer = labels.map(lambda s: any(kind.get(m) == "transfer" and uplift.get(m, 0) > 0 for m in s.split("+")))
    flag = pd.Series((~work & transfer).to_numpy(), index=labels.to_numpy())
    return flag.reindex(measures_label.to_numpy()).to_numpy(dtype=bool)


def plan_delays(instance: Instance, plans: Plans, years: Years) -> np.ndarray:
    """Per plan: years from its start until it takes effect (its slowest measure's delay)."""
    member = plans.templates.member.astype(np.int64)
    tpl_delay = np.where(member.any(axis=1), (member * measure_delays(instance, years)[None, :]).max(axis=1), 0)
    return tpl_delay[plans.table["template"].to_numpy()]


def survival(risk: np.ndarray, years: Years, effect_year: np.ndarray, monitoring_years: np.ndarray, year: int | np.ndarray) -> np.ndarray:
    """Chance that a household out of poverty from ``effect_year`` is still out in ``year``: it may return in each
    year at risk (effect year + 1 .. ``year``) with chance ``risk``, or ``years.monitoring.risk_factor`` times that
    in the years it is monitored (the last ``monitoring_years`` years up to the deadline ``years.last``)."""
    factor = years.monitoring.risk_factor if years.monitoring is not None else 1.0
    elapsed = np.maximum(np.asarray(year) - effect_year, 0)
    monitored = np.minimum(np.maximum(np.asarray(year) - (years.last - monitoring_years), 0), elapsed)
    return (1.0 - risk) ** (elapsed - monitored) * (1.0 - risk * factor) ** monitored


def deadline_weight(risk: np.ndarray, years: Years, effect_year: np.ndarray, monitoring_years: np.ndarray) -> np.ndarray:
    """What a plan's one-year value is multiplied by when it takes effect in ``effect_year``: its chance of still
    being out of poverty at the deadline plus ``years.early_weight`` times the expected household-years out of
    poverty before it (see :func:`survival`)."""
    exposure = np.maximum(years.last - effect_year, 0)
    survive = survival(risk, years, effect_year, monitoring_years, years.last)
    out_in = (survival(risk, years, effect_year, monitoring_years, effect_year + i) for i in range(years.last - years.first + 1))
    years_out = sum(np.where(i < exposure, out, 0.0) for i, out in enumerate(out_in))
    return np.asarray(survive + years.early_weight * years_out, dtype=float)


def build_options(
    instance: Instance,
    scenario: Scenario,
    plans: Plans,
    from_year: int | None = None,
    can_monitor: np.ndarray | None = None,
    late: pd.DataFrame | None = None,
    kept: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The (plan, start year) options kept per plan, with their value at the deadline. A plan without a start
    from ``from_year`` on (the rolling horizon's first re-planned year) that could still work gets one there that
    never works (value 0), so that hard floors stay feasible for households not started before it. A re-plan's
    ``kept`` starts (plan, year) are options whatever ``years.max_start_years`` and the rolling rule offer now, as
    their run offered them (a start an earlier re-plan made at its own first year was refused by the next). With
    ``years.monitoring``, every option taking effect before the deadline also has a variant monitored in all its
    years at risk (households flagged in ``can_monitor``, default all), and the options in ``late`` (hh, plan,
    year_ix, monitoring_years: kept starts of a re-plan) one monitored in their last ``monitoring_years`` years
    only."""
    yrs = scenario.years
    assert yrs is not None
    table = plans.table
    T = yrs.last - yrs.first + 1
    k = np.arange(len(table))
    delay = plan_delays(instance, plans, yrs)
    empty = (table["measures"] == "none").to_numpy()
    tied = table["project"].to_numpy() >= 0
    last_start = T - 1 - delay  # last year index at which the plan still works
    first_start = np.where(tied, project_lag(T), 0)
    earliest = np.maximum(first_start, (from_year or yrs.first) - yrs.first)
    ok_t = []
    for t in range(T):
        ok = ~empty & (t >= first_start) & (t <= last_start)
        if yrs.max_start_years is not None:
            ok &= t < first_start + yrs.max_start_years
        ok_t.append(ok)
    has_later = np.logical_or.reduce([ok_t[t] & (t >= earliest) for t in range(T)])
    parts = []
    for t in range(T):
        late_start = ~empty & (last_start < first_start) & (t == first_start)  # never works in time: value 0
        rolling = ~empty & ~has_later & (t == earliest)  # no start left from from_year on (equals ``late_start`` without it)
        sel = ok_t[t] | late_start | rolling
        works = ok_t[t] | (rolling & (t <= last_start))
        parts.append(pd.DataFrame({"plan": k[sel], "year_ix": t, "works": works[sel]}))
    parts.append(pd.DataFrame({"plan": k[empty], "year_ix": 0, "works": True}))
    if kept is not None and len(kept):
        kp, t = kept["plan"].to_numpy(), kept["year"].to_numpy() - yrs.first
        inside = (t >= 0) & (t < T) & ~empty[kp] & (t >= first_start[kp])
        kp, t = kp[inside], t[inside]
        parts.append(pd.DataFrame({"plan": kp, "year_ix": t, "works": t <= last_start[kp]}))
    opt = pd.concat(parts, ignore_index=True).drop_duplicates(["plan", "year_ix"])
    opt["hh"] = table["hh"].to_numpy()[opt["plan"].to_numpy()]
    pk = opt["plan"].to_numpy()
    opt["empty"] = empty[pk]
    opt["delay"] = delay[pk]
    opt["risk"] = np.where(opt["empty"], 0.0, np.where(transfer_only(instance, table["measures"]), yrs.return_risk_transfer, yrs.return_risk_work)[pk])
    exposure = np.maximum(T - 1 - opt["year_ix"].to_numpy() - opt["delay"].to_numpy(), 0)
    opt["monitored"] = False
    opt["monitoring_years"] = 0
    mon = yrs.monitoring
    if mon is not None:
        # the re-supported variant of an option that takes effect before the deadline: monitored in every year
        # at risk (effect year + 1 .. deadline), its return risk multiplied by risk_factor, cost paid per year
        sel = opt["works"].to_numpy() & ~opt["empty"].to_numpy() & (exposure > 0) & (opt["risk"].to_numpy() > 0)
        if can_monitor is not None:
            sel &= can_monitor[opt["hh"].to_numpy()]
        variants = [opt[sel].assign(monitored=True, monitoring_years=exposure[sel])]
        if late is not None and len(late):  # monitored from a later year on: fewer years than all those at risk
            cand = opt[sel].drop(columns="monitoring_years").assign(exposure=exposure[sel])
            cand = cand.merge(late[["hh", "plan", "year_ix", "monitoring_years"]], on=["hh", "plan", "year_ix"])
            m = cand["monitoring_years"].to_numpy()
            variants.append(cand[(m > 0) & (m < cand["exposure"].to_numpy())].drop(columns="exposure").assign(monitored=True))
        opt = pd.concat([opt, *variants], ignore_index=True).drop_duplicates(["hh", "plan", "year_ix", "monitoring_years"])
    opt = opt.sort_values(["hh", "plan", "year_ix", "monitoring_years"], kind="stable").reset_index(drop=True)
    opt["monitoring_cost"] = opt["monitoring_years"].to_numpy() * (mon.cost if mon is not None else 0.0)
    pk = opt["plan"].to_numpy()
    opt["year"] = yrs.first + opt["year_ix"].to_numpy()
    effect = opt["year"].to_numpy() + opt["delay"].to_numpy()
    risk = opt["risk"].to_numpy()  # 0 for the empty plan: "out" (its p) in every year
    m_years = opt["monitoring_years"].to_numpy()
    works = opt["works"].to_numpy()
    opt["p_deadline"] = np.where(works, table["p"].to_numpy()[pk] * survival(risk, yrs, effect, m_years, yrs.last), 0.0)
    opt["value"] = np.where(works, table["value"].to_numpy()[pk] * deadline_weight(risk, yrs, effect, m_years), 0.0)
    return opt


def project_lag(T: int) -> int:
    """Years from a project's build to the first plan it enables: the next year (DESIGN: built in t, enables plans
    from t + 1), or the same year when the horizon is one year, which is then the one-year model (where a project
    and its plans go together)."""
    return 1 if T > 1 else 0


def out_by(options: pd.DataFrame, plans: Plans, year: int, years: Years) -> np.ndarray:
    """Per option: probability of being out of poverty in ``year`` (0 until the plan's effect has started)."""
    effect = options["year"].to_numpy() + options["delay"].to_numpy()
    started = options["empty"].to_numpy() | (effect <= year)
    p = plans.table["p"].to_numpy()[options["plan"].to_numpy()]
    out = p * survival(options["risk"].to_numpy(), years, effect, options["monitoring_years"].to_numpy(), year)
    return np.where(started & options["works"].to_numpy(), out, np.where(options["empty"], p, 0.0))


def build_multiyear(
    instance: Instance, scenario: Scenario, plans: Plans | None = None, withheld: Withheld | None = None, kept: Kept | None = None
) -> MultiYear:
    """Compile the multi-year model (see the module docstring); ``withheld`` money is not appropriated; in a re-plan
    (``kept``) every plan has a start from ``kept.from_year`` on and the kept starts their late monitoring variants
    (see :func:`build_options`; :func:`fix_kept` then fixes what is kept)."""
    yrs = scenario.years
    if yrs is None:
        raise InputError("scenario has no 'years' section: multi-year planning needs years.first and years.last")
    if scenario.helpers.capacity_in_model:
        raise InputError("scenario helpers.capacity_in_model is not supported with years: (multi-year planning)")
    check_years(scenario, instance.measures["measure_id"])
    plans = plans if plans is not None else build_plans(instance, scenario, kept.starts if kept is not None else None)
    one = scenario.with_overrides({"mode": "max_lifted", "target.lifted": None, "target.county_incidence": None, "target.county_incidence_western": None})
    base, bidx = build_model(instance, one, plans)
    tree = instance.tree
    hh_village = tree.pos(instance.households["village_id"])
    mon_cell = np.full(len(hh_village), -1, dtype=np.int64)  # per household: its village's balance cell paying monitoring
    if yrs.monitoring is not None:
        cells = bidx.cells
        cat = cells["cat"].to_numpy() == CATEGORIES.index(yrs.monitoring.category)
        mon_cell = pd.Series(np.flatnonzero(cat), index=cells["village"].to_numpy()[cat]).reindex(hh_village).fillna(-1).to_numpy(dtype=np.int64)
    from_year = kept.from_year if kept is not None else None
    kept_rows = _kept_starts(kept, instance, plans) if kept is not None else None
    late = None if kept is None or kept_rows is None or yrs.monitoring is None else _late_monitoring(kept_rows, kept.from_year, instance, plans, yrs)
    opt = build_options(instance, scenario, plans, from_year, can_monitor=mon_cell >= 0, late=late, kept=kept_rows)
    opt["cost"], project_cost = kept_prices(instance, plans, opt, kept)
    paid = kept_paid(kept) if kept is not None else None
    years = year_list(yrs)
    T = len(years)
    n_past = 0 if paid is None or from_year is None else int(np.clip(from_year - yrs.first, 0, T))
    if paid is None:  # kept starts and builds charged what they were paid, spread over categories at today's prices
        hh_ids = instance.households["household_id"].to_numpy()[opt["hh"].to_numpy()]
        plan_scale = _price_ratio(opt["cost"].to_numpy(), plans.table["cost"].to_numpy(dtype=float)[opt["plan"].to_numpy()], hh_ids, "household")
        project_scale = _price_ratio(project_cost, instance.projects["cost"].to_numpy(dtype=float), instance.projects["project_id"].to_numpy(), "project")
    else:  # the kept years' cells are paid what the previous plan paid there (below)
        plan_scale, project_scale = np.ones(len(opt)), np.ones(len(instance.projects))
    n_o = len(opt)
    n_x, n_y = plans.table.shape[0], len(instance.projects)
    n_f = base.col_blocks["f"].stop - base.col_blocks["f"].start
    n_fund = len(instance.funds)
    xs, ys, fs, cs = 0, n_o, n_o + n_y * T, n_o + n_y * T + n_f * T
    n_cols = cs + n_fund * T
    opt_year = opt["year_ix"].to_numpy()
    opt_plan = opt["plan"].to_numpy()

    blocks: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    row0 = 0

    def add(name: str, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        nonlocal row0
        blocks.append((name, np.asarray(rows, dtype=np.int64) + row0, np.asarray(cols, dtype=np.int64), np.asarray(vals, dtype=float), lo, hi))
        row0 += len(lo)

    def block(name: str) -> tuple[sp.coo_matrix, np.ndarray, np.ndarray]:
        s = base.row_blocks[name]
        return base.A[s].tocoo(), base.row_lo[s], base.row_hi[s]

    # plan -> its options (CSR over plans), to expand x entries of a one-year block
    by_plan = sp.csr_matrix((np.ones(n_o), (opt_plan, np.arange(n_o))), shape=(n_x, n_o))

    def x_entries(coo: sp.coo_matrix, year: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        isx = coo.col < n_x
        r, k, v = coo.row[isx], coo.col[isx], coo.data[isx]
        counts = np.diff(by_plan.indptr)[k]
        starts = np.repeat(by_plan.indptr[k], counts)
        o = by_plan.indices[starts + run_positions(counts)]
        rr, vv = np.repeat(r, counts), np.repeat(v, counts)
        if year is not None:
            keep = opt_year[o] == year
            return rr[keep], o[keep], vv[keep]
        return rr, o, vv

    # assign
    coo, lo, hi = block("assign")
    r, o, v = x_entries(coo, None)
    add("assign", r, xs + o, v, lo, hi)
    # balance per year
    coo, lo, hi = block("balance")
    n_cells = len(lo)
    isy = (coo.col >= n_x) & (coo.col < n_x + n_y)
    isf = coo.col >= n_x + n_y
    rows_b, cols_b, vals_b = [], [], []
    for t in range(T):
        r, o, v = x_entries(coo, t)
        rows_b += [r + t * n_cells, coo.row[isy] + t * n_cells, coo.row[isf] + t * n_cells]
        cols_b += [xs + o, ys + (coo.col[isy] - n_x) * T + t, fs + (coo.col[isf] - n_x - n_y) * T + t]
        # a start or build kept from before from_year is charged what it was paid (kept_prices)
        paid_y = project_scale[coo.col[isy] - n_x] if from_year is not None and years[t] < from_year else 1.0
        vals_b += [v * plan_scale[o], coo.data[isy] * paid_y, coo.data[isf]]
    mo = np.flatnonzero(opt["monitored"].to_numpy())
    if len(mo):  # monitoring paid in every monitored year (the last monitoring_years ones) from its village's cell
        n_m = opt["monitoring_years"].to_numpy()[mo]
        o = np.repeat(mo, n_m)
        t_m = T - np.repeat(n_m, n_m) + run_positions(n_m)
        assert yrs.monitoring is not None
        rows_b.append(mon_cell[opt["hh"].to_numpy()[o]] + t_m * n_cells)
        cols_b.append(xs + o)
        vals_b.append(np.full(len(o), yrs.monitoring.cost / MONEY_UNIT))
    rows_bal, cols_bal, vals_bal = np.concatenate(rows_b), np.concatenate(cols_b), np.concatenate(vals_b)
    bal = np.zeros(n_cells * T)
    if n_past and kept is not None and paid is not None:  # a kept year's cell: what the previous plan paid there, not its kept starts now
        keep = (rows_bal >= n_past * n_cells) | (cols_bal >= fs)
        rows_bal, cols_bal, vals_bal = rows_bal[keep], cols_bal[keep], vals_bal[keep]
        bal[: n_past * n_cells] = -_paid_cells(paid, bidx.cells, yrs.first, n_past, kept) / MONEY_UNIT
    add("balance", rows_bal, cols_bal, vals_bal, bal, bal.copy())
    # fund budgets per year with carry-over
    approp = appropriations(instance, yrs, withheld) / MONEY_UNIT
    coo, _, _ = block("fund")
    fund_rows, fund_cols, fund_vals = [], [], []
    for t in range(T):
        fund_rows += [coo.row * T + t, np.arange(n_fund) * T + t]
        fund_cols += [fs + (coo.col - n_x - n_y) * T + t, cs + np.arange(n_fund) * T + t]
        fund_vals += [coo.data, np.ones(n_fund)]
        if t > 0:
            fund_rows.append(np.arange(n_fund) * T + t)
            fund_cols.append(cs + np.arange(n_fund) * T + t - 1)
            fund_vals.append(-np.ones(n_fund))
    add("fund", np.concatenate(fund_rows), np.concatenate(fund_cols), np.concatenate(fund_vals), np.full(n_fund * T, -INF), approp.ravel())
    if "cofin" in base.row_blocks:
        coo, lo, hi = block("cofin")
        n_c = len(lo)
        add(
            "cofin",
            np.concatenate([coo.row + t * n_c for t in range(T)]),
            np.concatenate([fs + (coo.col - n_x - n_y) * T + t for t in range(T)]),
            np.tile(coo.data, T),
            np.tile(lo, T),
            np.tile(hi, T),
        )
    # projects: link (tight, built in an earlier year), capacity over all years, built at most once
    table = plans.table
    links = bidx.links
    if n_y:
        tied_o = np.flatnonzero(table["project"].to_numpy()[opt_plan] >= 0)
        if len(tied_o):
            proj = table["project"].to_numpy()[opt_plan[tied_o]]
            hh = opt["hh"].to_numpy()[tied_o]
            link_of = pd.Index(links["hh"].to_numpy() * n_y + links["project"].to_numpy())
            li = link_of.get_indexer(hh * n_y + proj)
            # cumulative: an option starting in t counts in the rows of years u = t..T-1 (started by u <= built before u)
            n_rep = T - opt_year[tied_o]
            u_o = np.repeat(opt_year[tied_o], n_rep) + run_positions(n_rep)
            x_cols = np.repeat(xs + tied_o, n_rep)
            uy, sy = np.nonzero(np.arange(T)[:, None] >= np.arange(T)[None, :] + project_lag(T))  # year u, year s <= u - lag

            def started_by_built_before(name: str, group: np.ndarray, project: np.ndarray, times: np.ndarray) -> None:
                """Rows per (group g, year u): the tied options of g (``group`` per option) started by u <= ``times[g]``
                x project[g] built before u."""
                n_g = len(project)
                add(
                    name,
                    np.concatenate([np.repeat(group, n_rep) * T + u_o, (np.arange(n_g)[:, None] * T + uy[None, :]).ravel()]),
                    np.concatenate([x_cols, (ys + project[:, None] * T + sy[None, :]).ravel()]),
                    np.concatenate([np.ones(len(x_cols)), -np.repeat(times, len(uy))]),
                    np.full(n_g * T, -INF),
                    np.zeros(n_g * T),
                )

            started_by_built_before("link", li, links["project"].to_numpy(), np.ones(len(links)))
            # per (j, u), the same way: households on j started by u <= capacity * built before u
            started_by_built_before("capacity", proj, np.arange(n_y), instance.projects["capacity"].to_numpy(dtype=float))
        add("once", np.repeat(np.arange(n_y), T), ys + np.arange(n_y * T), np.ones(n_y * T), np.full(n_y, -INF), np.ones(n_y))
    # relocation capacity per county and year
    hh_county = tree.ancestors[hh_village, Level.COUNTY]
    counties = county_table(instance)
    if yrs.relocation_rate is not None:
        reloc_m = instance.measures.loc[instance.measures["category"] == Category.RELOCATION.value, "measure_id"]
        has_reloc = np.asarray(plans.templates.member[:, instance.measures["measure_id"].isin(reloc_m).to_numpy()].any(axis=1), dtype=bool)
        ro = np.flatnonzero(has_reloc[table["template"].to_numpy()[opt_plan]])
        crow = pd.Index(counties["county"]).get_indexer(hh_county[opt["hh"].to_numpy()[ro]])
        capacity = np.floor(yrs.relocation_rate * counties["poor"].to_numpy())
        add("relocation", crow * T + opt_year[ro], xs + ro, np.ones(len(ro)), np.full(len(counties) * T, -INF), np.repeat(capacity, T))
    # min-cost targets at the deadline and the county exit schedule
    n_target = 0
    if scenario.mode == "min_cost":
        p_end = opt["p_deadline"].to_numpy()
        if scenario.target.lifted is not None:
            add("target", np.zeros(n_o), xs + np.arange(n_o), p_end, np.array([scenario.target.lifted]), np.array([INF]))
            n_target = 1
        schedule = _exit_schedule(instance, scenario, counties)
        rows_i, cols_i, vals_i = [], [], []
        need: list[float] = []
        opt_county = hh_county[opt["hh"].to_numpy()]
        rate = scenario.target.incidence_limit(instance.regions["western"].to_numpy(dtype=bool)[counties["county"].to_numpy()])
        for year in years:  # out by its year and staying out: every year from the county's year to the deadline
            sel_c = np.flatnonzero((schedule > 0) & (schedule <= year))
            if not len(sel_c):
                continue
            row_of = pd.Series(np.arange(len(sel_c)) + len(need), index=counties["county"].to_numpy()[sel_c])
            o = np.flatnonzero(np.isin(opt_county, counties["county"].to_numpy()[sel_c]))
            rows_i.append(row_of.reindex(opt_county[o]).to_numpy())
            cols_i.append(xs + o)
            vals_i.append(out_by(opt, plans, int(year), yrs)[o])
            need += list(np.maximum(counties["poor"].to_numpy()[sel_c] - rate[sel_c] * counties["rural"].to_numpy()[sel_c], 0.0))
        if need:
            add("incidence", np.concatenate(rows_i), np.concatenate(cols_i), np.concatenate(vals_i), np.asarray(need), np.full(len(need), INF))

    A = sp.csr_matrix(
        (np.concatenate([b[3] for b in blocks]), (np.concatenate([b[1] for b in blocks]), np.concatenate([b[2] for b in blocks]))), shape=(row0, n_cols)
    )
    A.sum_duplicates()
    row_blocks, start = {}, 0
    for b in blocks:
        row_blocks[b[0]] = slice(start, start + len(b[4]))
        start += len(b[4])
    col_hi = np.concatenate([np.ones(n_o + n_y * T), np.full(n_f * T, INF), carry_limits(yrs, approp).ravel()])
    if scenario.mode == "min_cost":
        c = np.concatenate([np.zeros(n_o + n_y * T), np.ones(n_f * T), np.zeros(n_fund * T)])
        sense = "min"
    else:
        c = np.concatenate([opt["value"].to_numpy(), np.zeros(n_y * T + n_f * T + n_fund * T)])
        sense = "max"
    model = LinearModel(
        sense=sense,
        c=c,
        A=A,
        row_lo=np.concatenate([b[4] for b in blocks]),
        row_hi=np.concatenate([b[5] for b in blocks]),
        col_lo=np.zeros(n_cols),
        col_hi=col_hi,
        integer=np.concatenate([np.ones(n_o + n_y * T, dtype=bool), np.zeros((n_f + n_fund) * T, dtype=bool)]),
        objective_unit=MONEY_UNIT if sense == "min" else 1.0,
        col_blocks={"x": slice(xs, ys), "y": slice(ys, fs), "f": slice(fs, cs), "c": slice(cs, n_cols)},
        row_blocks=row_blocks,
    )
    flows_t = bidx.flows.loc[np.repeat(np.arange(n_f), T)].reset_index(drop=True).assign(year=np.tile(years, n_f))
    plan_village = hh_village[opt["hh"].to_numpy()]
    proj_village = np.repeat(bidx.col_village[n_x:], T)
    cells_t = pd.concat([bidx.cells.assign(year=y) for y in years], ignore_index=True)  # balance rows are year-major
    index = replace(bidx, flows=flows_t, cells=cells_t, col_village=np.concatenate([plan_village, proj_village]), n_target=n_target, n_helper_arcs=0)
    return MultiYear(model, index, plans, opt, years, approp, project_cost)


def kept_prices(instance: Instance, plans: Plans, options: pd.DataFrame, kept: Kept | None) -> tuple[np.ndarray, np.ndarray]:
    """What each option's plan and each project cost (yuan): today's price from the data, except for a start or
    build that a re-plan keeps from before ``kept.from_year`` with a recorded ``cost``, which costs what it was paid.
    Past years' money is spent: a household's new size or a measure's new price must not re-price it (which would
    spend money again, or leave the kept years short)."""
    plan_cost = plans.table["cost"].to_numpy(dtype=float)[options["plan"].to_numpy()]
    project_cost = instance.projects["cost"].to_numpy(dtype=float).copy()
    if kept is None:
        return plan_cost, project_cost
    starts = kept.starts
    if "cost" in starts.columns:
        starts = starts[(starts["year"].to_numpy() < kept.from_year) & starts["cost"].notna().to_numpy()]
        hh_pos = pd.Index(instance.households["household_id"]).get_indexer(starts["household_id"])
        of_kept = np.flatnonzero(isin(options["hh"], hh_pos[hh_pos >= 0]))
        labels = plan_keys(plans.table.iloc[options["plan"].to_numpy()[of_kept]], instance)
        keys = pd.DataFrame({"hh": options["hh"].to_numpy()[of_kept], "plan": labels, "year": options["year"].to_numpy()[of_kept], "at": of_kept})
        recorded = pd.DataFrame({"hh": hh_pos, "plan": starts["plan"].to_numpy(), "year": starts["year"].to_numpy(), "paid": starts["cost"].to_numpy(float)})
        paid = keys.merge(recorded, on=["hh", "plan", "year"])
        plan_cost[paid["at"].to_numpy()] = paid["paid"].to_numpy()
    built = kept.built
    if "cost" in built.columns:
        built = built[(built["built_year"].to_numpy() < kept.from_year) & built["cost"].notna().to_numpy()]
        pos = pd.Index(instance.projects["project_id"]).get_indexer(built["project_id"])
        project_cost[pos[pos >= 0]] = built["cost"].to_numpy(dtype=float)[pos >= 0]
    return plan_cost, project_cost


def kept_paid(kept: Kept) -> pd.DataFrame | None:
    """What the previous plan paid before ``kept.from_year`` per (village_id, category, year), yuan: ``kept.paid``
    (a county's part), else summed from its flows; None when they are not known (its kept starts are then charged
    their recorded cost spread over categories at today's prices)."""
    if kept.paid is not None:
        return kept.paid
    flows = kept.read_flows() if kept.read_flows is not None else None
    if flows is None or "category" not in flows.columns:
        return None
    past = flows[flows["year"].to_numpy() < kept.from_year]
    return past.groupby(["village_id", "category", "year"], as_index=False, sort=False)["amount"].sum()


def _paid_cells(paid: pd.DataFrame, cells: pd.DataFrame, first_year: int, n_past: int, kept: Kept) -> np.ndarray:
    """Yuan per balance row of the first ``n_past`` years (year-major over ``cells``) from ``paid``; money paid
    where the model has no cell now (a village gone, a category nothing can spend on there) is refused."""
    at = pd.MultiIndex.from_frame(cells[["village_id", "category"]]).get_indexer(
        pd.MultiIndex.from_arrays([paid["village_id"].astype(str), paid["category"].astype(str)])
    )
    t = paid["year"].to_numpy(dtype=np.int64) - first_year
    amount = paid["amount"].to_numpy(dtype=float)
    inside = (t >= 0) & (t < n_past)
    refuse_lost_paid(paid[inside & (at < 0)], kept)
    out = np.zeros(n_past * len(cells))
    ok = inside & (at >= 0)
    np.add.at(out, t[ok] * len(cells) + at[ok], amount[ok])
    return out


def refuse_lost_paid(lost: pd.DataFrame, kept: Kept) -> None:
    """Refuse money an earlier plan paid in a kept year (rows of :func:`kept_paid`) where the data no longer lets any
    plan or project spend: the re-plan would spend it again."""
    lost = lost[lost["amount"].to_numpy(dtype=float) > MONEY_TOL]
    if len(lost):
        raise InputError(
            [f"the previous plan paid {a:,.2f} yuan in {y} to village {v} for {c}, which the data no longer lets any plan or project spend "
             "(the village or its spending on that category is gone): the re-plan would spend it again"
             for v, c, y, a in lost[["village_id", "category", "year", "amount"]].head(20).itertuples(index=False)],
            source=kept.source, total=len(lost),
        )  # fmt: skip


def _price_ratio(paid: np.ndarray, today: np.ndarray, ids: np.ndarray, what: str) -> np.ndarray:
    """Per column (of the ``what`` ``ids``), what it was paid over what it costs today, by which its money entries
    are scaled (1 at today's price; a kept decision that costs nothing today but was paid cannot be charged so)."""
    unpriced = (today <= 0) & (paid > MONEY_TOL)
    if unpriced.any():
        named = sorted(set(map(str, ids[unpriced])))
        raise InputError(
            f"{len(named):,} {what}(s) kept from the previous plan ({', '.join(named[:10])}{', ...' if len(named) > 10 else ''}) were paid but cost "
            "nothing at today's prices, and the previous plan's money by village and category is not known here (no flows.csv): their money "
            f"cannot be charged; give the {'measures' if what == 'household' else 'projects'} their cost back, or plan from the first year"
        )
    return np.divide(paid, today, out=np.ones_like(paid), where=today > 0)


def multiyear_names(my: MultiYear, instance: Instance) -> tuple[list[str], list[str]]:
    """Column and row names of the multi-year model (``optimizer export-model``): the one-year names with the year
    appended (``x/<household>/<measures>[@<project>]/<start year>[/monitored|/monitored-from-<year>]``, ``budget/<fund>/<year>``,
    ``balance/<village>/<category>/<year>``, ...), ``carry/<fund>/<year>`` and ``once/<project>``; rows of the
    min-cost targets are numbered within their block."""
    ix, opt, years = my.index, my.options, [str(y) for y in my.years]
    model = my.model
    T = len(years)
    hid = instance.households["household_id"].to_numpy()
    pids = instance.projects["project_id"].to_numpy().astype(str)
    fund_ids = instance.funds["fund_id"].to_numpy()
    table = my.plans.table
    pk = opt["plan"].to_numpy()
    tied = table["project"].to_numpy()[pk]
    # a variant monitored in fewer years than all those at risk (a re-plan's late monitoring) names its first one
    partial = opt["monitored"].to_numpy() & (opt["monitoring_years"].to_numpy() < T - 1 - opt["year_ix"].to_numpy() - opt["delay"].to_numpy())
    mon_from = int(my.years[-1]) + 1 - opt["monitoring_years"].to_numpy()
    suffix = np.where(partial, [f"/monitored-from-{y}" for y in mon_from], np.where(opt["monitored"].to_numpy(), "/monitored", ""))
    cols = [
        f"x/{h}/{m}" + (f"@{pids[j]}" if j >= 0 else "") + f"/{y}" + sfx
        for h, m, j, y, sfx in zip(hid[opt["hh"].to_numpy()], table["measures"].to_numpy()[pk], tied, opt["year"], suffix)
    ]
    cols += [f"y/{p}/{y}" for p in pids for y in years]
    cols += [f"f/{f}/{v}/{c}/{y}" for f, v, c, y in zip(ix.flows["fund_id"], ix.flows["village_id"], ix.flows["category"], ix.flows["year"])]
    cols += [f"carry/{f}/{y}" for f in fund_ids for y in years]
    flow_names = [f"{f}/{v}/{c}" for f, v, c in zip(ix.flows["fund_id"][::T], ix.flows["village_id"][::T], ix.flows["category"][::T])]
    named = {
        "assign": [f"assign/{h}" for h in hid],
        "balance": [f"balance/{v}/{c}/{y}" for v, c, y in zip(ix.cells["village_id"], ix.cells["category"], ix.cells["year"])],
        "fund": [f"budget/{f}/{y}" for f in ix.funds["fund_id"] for y in years],
        "cofin": [f"cofin/{flow_names[i]}/{y}" for y in years for i in ix.cofin["flow"]],
        "link": [f"link/{hid[h]}/{pids[j]}/{y}" for h, j in zip(ix.links["hh"], ix.links["project"]) for y in years],
        "capacity": [f"capacity/{p}/{y}" for p in pids for y in years],
        "once": [f"once/{p}" for p in pids],
        "relocation": [f"relocation/{c}/{y}" for c in county_table(instance)["county_id"] for y in years],
    }
    rows = [""] * model.shape[0]
    for block, sl in model.row_blocks.items():
        names = named.get(block) or [f"{block}/{i}" for i in range(sl.stop - sl.start)]
        assert len(names) == sl.stop - sl.start, block
        rows[sl] = names
    return cols, rows


def _exit_schedule(instance: Instance, scenario: Scenario, counties: pd.DataFrame) -> np.ndarray:
    """Per county: the year by which it must be below its incidence limit (0: no requirement)."""
    yrs = scenario.years
    assert yrs is not None
    out = np.zeros(len(counties), dtype=np.int64)
    if scenario.target.county_incidence is not None:
        out[:] = yrs.last
    given = counties["county_id"].map(yrs.county_exit)
    return np.where(given.notna(), given.fillna(0).to_numpy(), out).astype(np.int64)


def solve_multiyear(
    scenario: Scenario,
    instance: Instance | None = None,
    *,
    progress: Progress | None = None,
    previous: Path | str | None = None,
    from_year: int | None = None,
    kept: Kept | None = None,
    withheld: Withheld | None = None,
    churn: ChurnCap | None = None,
    method: str = "auto",
    scheduler: str | None = None,
    workers: int = 2,
    keep: bool = False,
) -> MultiYearResult:
    """Solve a scenario with a ``years`` section; with ``previous`` (a run folder) and ``from_year``, keep what
    that run decided for the years before ``from_year`` and re-plan the rest (rolling horizon). ``kept`` gives
    the decisions to keep directly (the nightly job reads them from the published version); ``withheld`` is
    money already paid outside the plans; ``churn`` caps how many households of a published version (its
    ``previous`` with household_id, plan, year) may change plan or start year (see :func:`add_churn_row`).
    ``method``: ``monolithic``, ``decomposed`` (by county on Dask, see
    :func:`optimizer.decompose.solve_decomposed_years`) or ``auto`` (decomposed from :data:`DECOMPOSE_FROM`
    households in max-lifted mode without helper capacities in the model, from :data:`DECOMPOSE_REPLAN_FROM` for a
    re-plan that keeps earlier years or is under a ``churn`` cap; when that
    decomposition finds no allocation, e.g. a small county that cannot round within its share of the money and of
    the changes, ``auto`` solves it as one model and says so in the manifest's ``fallback``). A re-plan of a
    partitioned folder loads it whole (the kept decisions and the published plans are held in memory). ``keep``: as
    :func:`optimizer.solve.solve`'s, for a decomposed solve of an instance in memory that re-plans nothing."""
    from .decompose import solve_decomposed_years
    from .solve import ONE_MODEL_NOTE, auto_decomposes, check_method, one_model_hint, source_name, worker_source

    check_argument(scenario, Scenario, "solve_multiyear: scenario (made by optimizer.load_scenario)")
    check_argument(instance, (Instance, type(None)), "solve_multiyear: instance")
    check_argument(from_year, (numbers.Integral, type(None)), "solve_multiyear: from_year (--from-year)")
    check_argument(previous, (str, Path, type(None)), "solve_multiyear: previous (--previous)")
    check_argument(withheld, (Withheld, type(None)), "solve_multiyear: withheld")
    say = progress or (lambda msg: log.info(msg))
    t0 = time.perf_counter()
    check_method(method, scheduler)
    rolling = previous is not None or from_year is not None or kept is not None or withheld is not None or churn is not None
    folder = None if rolling else worker_source(scenario, instance, method)
    if folder is not None:  # the workers read their counties; the driver never loads the households
        from .partitioned import county_households
        from .storage import registry_counties

        county_ids = registry_counties(folder) if is_url(folder) else county_households(folder).index
        check_years(scenario, county_ids=county_ids)
        _warn_exit_schedule(scenario, county_ids, say)
        say(f"decomposing {source_name(folder)} by county: each worker reads its counties")
        with one_model_hint("the registry" if is_url(folder) else "the folder"):
            return solve_decomposed_years(scenario, None, folder, scheduler=scheduler, workers=workers, progress=say)
    if previous is not None:
        if from_year is None:
            raise InputError("--previous needs --from-year")
        if kept is not None:
            raise InputError("give either a previous run folder or the decisions to keep, not both")
        kept = read_previous(Path(previous), from_year)
    elif from_year is not None and kept is None:
        raise InputError("--from-year needs --previous RUN_DIR (the run whose earlier years are kept)")
    if instance is None:
        instance = load_source(scenario.data_source)
    instance = apply_data_edits(instance, scenario.data_edits)
    county_ids = county_table(instance)["county_id"]
    check_years(scenario, instance.measures["measure_id"], county_ids)
    _warn_exit_schedule(scenario, county_ids, say)
    if previous is not None and kept is not None:
        check_kept_present(kept, instance)
    kept, churn = in_catalogue(kept, churn, instance)
    replan = churn is not None or (kept is not None and kept_years(scenario, kept.from_year) > 0)
    if method == "decomposed" or (method == "auto" and auto_decomposes(scenario, instance.n_households, replan=replan)):
        if kept is not None and scenario.years is not None:
            check_from_year(kept.from_year, scenario.years.first, scenario.years.last)
        try:
            with one_model_hint():
                result = solve_decomposed_years(
                    scenario, instance, scheduler=scheduler, workers=workers, progress=say, kept=kept, withheld=withheld, churn=churn,
                    keep=keep and not rolling,
                )
            fixed_info = {} if kept is None else kept_counts(kept, instance)
        except NoSolutionError as err:
            if method == "decomposed":
                raise
            say(f"the decomposition by county found no allocation ({err.cause}); solving it as one model")
            result, fixed_info = _one_model(scenario, instance, kept, withheld, churn, say, t0)
            result.manifest["fallback"] = {"from": "decomposed", "reason": err.cause}
    else:
        if scheduler is not None:
            say(ONE_MODEL_NOTE)
        result, fixed_info = _one_model(scenario, instance, kept, withheld, churn, say, t0)
    if kept is None:
        record_replan(result.manifest, None, None, fixed_info, withheld)
    else:
        record_replan(result.manifest, kept.from_year, kept.source, fixed_info, withheld, kept.tables)
    if churn is not None:
        result.manifest["churn"] = {**result.manifest["churn"], "changed": churn_changes(result, churn.previous)}
    differ = inputs_differ(instance, str(result.manifest.get("data") or ""))
    if differ:  # written with the run: verify and reproduce refuse its folder, as a one-year run's
        result.manifest[INPUTS_DIFFER] = differ
    return result


def check_kept_present(kept: Kept, instance: Instance) -> None:
    """Refuse a re-plan of a previous run whose kept starts or builds the data no longer holds: their money was spent
    in their years, and without their rows the re-plan would spend it again."""
    gone_h = sorted(set(kept.starts["household_id"]) - set(instance.households["household_id"]))
    gone_p = sorted(set(kept.built["project_id"]) - set(instance.projects["project_id"]))
    problems = [
        f"the previous run started {len(ids):,} {what} before {kept.from_year} that the data no longer holds ({', '.join(ids[:5])}"
        f"{', ...' if len(ids) > 5 else ''}): their money was spent in those years, and a re-plan without their rows would spend it "
        "again; put the rows back (a kept decision is not planned again), or plan from the first year"
        for ids, what in ((gone_h, "household plans"), (gone_p, "project builds")) if ids
    ]  # fmt: skip
    if problems:
        raise InputError(problems, source=f"--previous {kept.source}")


def record_replan(
    manifest: dict[str, Any], from_year: int | None, source: str | None, counts: dict[str, int], withheld: Withheld | None, tables: dict[str, str] | None = None
) -> None:
    """Record in ``manifest`` what a re-plan kept (``counts``: :func:`kept_counts`), from where (``tables``: the
    sha256 of a previous run's tables it read) and the money it withheld."""
    manifest["rolling"] = {"from_year": from_year, "previous": source, **counts}
    if tables:
        manifest["rolling"]["previous_tables"] = tables
    if withheld is not None:
        manifest["withheld"] = {"from_year": withheld.from_year, "amount": {k: v for k, v in sorted(withheld.amount.items()) if v}}


def _one_model(
    scenario: Scenario, instance: Instance, kept: Kept | None, withheld: Withheld | None, churn: ChurnCap | None, say: Progress, t0: float
) -> tuple[MultiYearResult, dict[str, int]]:
    """The multi-year plan or re-plan as one model, with what it fixed of the kept decisions (timings: ``total``
    since ``t0``)."""
    t_start = time.perf_counter()
    my, model, fixed_info = kept_model(instance, scenario, kept, withheld)
    churn_info: dict[str, int] = {}
    if churn is not None:
        model, churn_info = add_churn_row(model, my, instance, churn)
    t_build = time.perf_counter() - t_start
    say(f"multi-year model: {model.shape[1]:,} columns, {model.shape[0]:,} rows, {model.A.nnz:,} nonzeros ({len(my.options):,} plan-year options)")
    try:
        sol = optimize_multiyear(model, my, instance, scenario, say)
    except InfeasibleError as err:
        raise kept_infeasible(err, kept, fixed_info) from None
    result = multiyear_result(instance, scenario, my, model, sol)
    result.manifest["method"] = "monolithic"
    if churn is not None:
        result.manifest["churn"] = churn_info
    result.manifest["timings"] = {
        "build": round(t_build, 3),
        "lp": round(sol.lp_seconds, 3),
        "mip": round(sol.mip_seconds, 3),
        "total": round(time.perf_counter() - t0, 3),
    }
    return result, fixed_info


def kept_model(instance: Instance, scenario: Scenario, kept: Kept | None, withheld: Withheld | None = None) -> tuple[MultiYear, LinearModel, dict[str, int]]:
    """The multi-year model of a plan, or of a re-plan with the ``kept`` decisions fixed (:func:`fix_kept`, and what
    it fixed: :func:`kept_counts`)."""
    my = build_multiyear(instance, scenario, withheld=withheld, kept=kept)
    if kept is None:
        return my, my.model, {}
    model, fixed = fix_kept(my, instance, kept)
    return my, model, fixed


def optimize_multiyear(
    model: LinearModel,
    my: MultiYear,
    instance: Instance,
    scenario: Scenario,
    say: Progress,
    backend: Any = None,
    warm: bool = False,
    shut: np.ndarray | None = None,
    whole: bool = True,
    rounding: Backend | None = None,
) -> Solution:
    """LP bound, then a MIP over only the households with a fractional option (all their plan-year options free,
    every other household kept at its LP choice), first with the money flowing into villages without such a
    household kept at the LP's (a smaller MIP), and if that misses the gap with all flows free (the better of the
    two is kept); if that misses the gap too, the general :func:`optimizer.solve.optimize` (village/township/county
    relax-and-fix, then the full MIP).
    With ``warm``, the LP starts from the one ``backend`` kept. ``shut`` (a county of the decomposition): columns
    the MIP holds at zero where the LP left them at zero (its emergency money: a rounding that buys feasibility
    with it keeps the MIP's heuristics busy for long); such a county rounds its fractional projects first
    (:func:`_projects_rounded`), and the rounding is returned whatever its gap (the national
    gap is reported), the better of it and the whole county's MIP started from it when the rounding misses the gap
    and the county model has at most :data:`FULL_MIP_UP_TO` integer columns (unless not ``whole``: a county's need
    measured with priced extra money, whose objective is not its value); when no rounding fits without emergency
    money, the one that needs the least (the decomposition repairs the county with money other counties left).
    ``rounding``: the backend of those roundings' MIPs (``backend`` by default)."""
    opts = scenario.solver
    backend = backend or get_backend(opts.name)
    base = solver_options(opts)
    t0 = time.perf_counter()
    ipm = model.shape[0] >= IPM_FROM_ROWS and "churn" not in model.row_blocks
    # a county keeps its LP for rounding its projects from it (see _projects_rounded)
    lp = backend.solve(model.relaxed(), replace(base, warm=warm, keep=shut is not None, algorithm="ipm" if ipm else "auto"))
    lp_seconds = time.perf_counter() - t0
    if lp.status == Status.INFEASIBLE:
        raise diagnose_infeasible(model, my.index, instance, scenario, forced=_forced(model, my))
    if lp.status.stopped and lp.x is None:
        raise NoSolutionError(
            f"no solution within the time limit of {opts.time_limit:g} s: the multi-year LP relaxation did not finish ({lp.message}); "
            "raise solver.time_limit in the scenario (or --time-limit of optimizer solve)"
        )
    if lp.status != Status.OPTIMAL or lp.x is None:
        say(f"multi-year LP: {lp.status.value}; falling back to the general solve")
        return optimize(model, my.index, instance, _time_left(scenario, t0), say, households_first=False)
    integer = model.integer
    frac = fractional_columns(integer, lp.x)
    say(f"LP bound {lp.objective * model.objective_unit:,.2f} in {lp_seconds:.1f} s; {int(frac.sum()):,} fractional decisions")
    if not frac.any():
        x = _clean(lp.x, integer)
        return Solution(x, Status.OPTIMAL, float(model.c @ x), lp.objective, lp.objective, 0.0, lp_seconds, 0.0, False)
    county = shut is not None
    if shut is not None and "churn" not in model.row_blocks and frac[model.col_blocks["y"]].any():  # (a county under a churn cap
        # spends its few changes on the households it rounds: moving those of a rounded project can exhaust them)
        lp, frac = _projects_rounded(model, backend, base, lp, frac, shut, opts.gap / 2, say)
    xb = model.col_blocks["x"]
    hh = my.options["hh"].to_numpy()
    frac_hh = np.unique(hh[frac[xb]])
    free = households_free(model, hh, frac) | ~integer
    lo, hi = model.col_lo.copy(), model.col_hi.copy()
    start = np.where(integer, np.round(lp.x), lp.x)
    lo[~free] = hi[~free] = start[~free]
    hi_open, whole_hi = hi.copy(), model.col_hi.copy()  # whole_hi: the whole county's MIP, nothing fixed
    if shut is not None:
        unused = shut[np.abs(lp.x[shut]) <= 1e-9]
        hi[unused] = whole_hi[unused] = 0.0
    t1 = time.perf_counter()
    sub_gap = opts.gap if county else opts.gap / 2
    # first with the money flowing into other villages kept at the LP's (a small MIP), then with all flows free
    touched = np.unique(instance.tree.ancestors[my.index.col_village[frac[: len(my.index.col_village)]], Level.VILLAGE])
    fb = model.col_blocks["f"]
    outside = np.zeros(model.shape[1], dtype=bool)
    outside[fb] = ~np.isin(instance.tree.ancestors[my.index.flows["village"].to_numpy(), Level.VILLAGE], touched)

    stopped = False

    def fix_and_solve(keep_flows: bool, hi_v: np.ndarray, what: str, at_least: float = 1.0) -> SolverOutput:
        nonlocal stopped
        lo_k, hi_k = lo.copy(), hi_v.copy()
        if keep_flows:
            lo_k[outside] = hi_k[outside] = np.maximum(lp.x[outside], 0.0)
        left = max(opts.time_limit - lp_seconds - (time.perf_counter() - t1), at_least)
        out = (rounding or backend).solve(model.with_bounds(lo_k, hi_k), replace(base, gap=sub_gap, time_limit=left))
        stopped |= out.status.stopped
        seconds = time.perf_counter() - t1
        say(f"multi-year fix-and-solve over {len(frac_hh):,} households with fractional options, {what}: {out.status.value} in {seconds:.1f} s")
        return out

    usable = []
    for keep_flows in (True, False):
        out = fix_and_solve(keep_flows, hi, "flows into other villages kept" if keep_flows else "all flows free")
        if out.status.has_solution and out.x is not None and (shut is None or float(out.x[shut].sum()) <= 1e-6):  # 0.01 yuan of emergency money
            usable.append(out)
            if relative_gap(model.sense, out.objective, lp.objective) <= sub_gap:
                break
    if county and not usable:
        # no whole plans for these households fit the county's money (the LP split them across categories or years
        # it spent to the last yuan): the rounding that needs the least emergency money (its penalty puts that
        # first), fast, for the decomposition's repair to pay from what the other counties left
        out = fix_and_solve(False, hi_open, "emergency money open", min(EMERGENCY_ROUNDING_SECONDS, opts.time_limit))
        if out.status.has_solution:
            usable.append(out)
    sign = 1.0 if model.sense == "max" else -1.0
    fixed = max(usable, key=lambda o: sign * o.objective) if usable else out
    mip_seconds = time.perf_counter() - t1
    xf = fixed.x if fixed.status.has_solution else None
    small = integer.sum() <= FULL_MIP_UP_TO
    if xf is not None:
        x = _clean(xf, integer)
        obj = float(model.c @ x)
        g = relative_gap(model.sense, obj, lp.objective)
        quick = Solution(x, Status.OPTIMAL if g <= opts.gap else Status.FEASIBLE, obj, lp.objective, lp.objective, g, lp_seconds, mip_seconds, False, stopped)
        if g <= opts.gap or (county and not small):
            return quick
    missed = f"gap {g:.3%} above target {opts.gap:.3%}" if xf is not None else f"no rounding ({fixed.status.value})"
    # a county's rounding that fits its money but misses the gap: the whole county's MIP from it too, its emergency
    # money shut (3 counties of 300 households, 3 years: one rounded 4.2% below its LP, 0.9% below after that MIP)
    from_rounding = shut is not None and whole and xf is not None and float(xf[shut].sum()) <= 1e-6
    if county and xf is not None and not (small and from_rounding):
        return quick
    if small:
        # a small model's LP bound is loose (few households a county share its projects), so relax-and-fix, judged
        # against it, runs its whole ladder in vain; the full MIP also tightens the bound
        say(f"{missed}: running the full MIP")
        left = max(opts.time_limit - lp_seconds - mip_seconds, 1.0)
        hi_full = whole_hi if from_rounding else model.col_hi
        full = backend.solve(model.with_bounds(model.col_lo, hi_full), replace(base, time_limit=left, start=xf, gap=opts.gap / 2))
        stopped |= full.status.stopped
        if full.status.has_solution and full.x is not None:
            x = _clean(xf if xf is not None and not _better(model.sense, full.objective, obj) else full.x, integer)
            obj, bound = float(model.c @ x), _tighter(model.sense, lp.objective, full.bound)
            g = relative_gap(model.sense, obj, bound)
            status = Status.OPTIMAL if g <= opts.gap + 1e-12 else Status.FEASIBLE
            return Solution(x, status, obj, bound, lp.objective, g, lp_seconds, time.perf_counter() - t1, True, stopped)
        if from_rounding:
            return quick
        if full.status == Status.INFEASIBLE:  # proven: diagnose at once instead of running the ladder first
            raise _no_whole_plans(diagnose_infeasible(model, my.index, instance, scenario, forced=_forced(model, my)))
        say(f"full MIP: {full.status.value}; running the general solve")
    else:
        say(f"{missed}: running the general solve")
    try:
        general = optimize(model, my.index, instance, _time_left(scenario, t0), say, households_first=False)
    except InfeasibleError as err:
        raise _no_whole_plans(err) from None
    return replace(general, stopped=general.stopped or stopped)


def _projects_rounded(
    model: LinearModel, backend: Backend, base: SolveOptions, lp: SolverOutput, frac: np.ndarray, shut: np.ndarray, most: float, say: Progress
) -> tuple[SolverOutput, np.ndarray]:
    """A county's LP (kept by ``backend``) with its fractional projects rounded (half built or more: built, else
    not; none of them when that leaves no room), re-solved warm until none is fractional, and its fractional
    decisions; the LP as it was, with its own (``frac``), when no rounding fits or the rounding gives up more than
    ``most`` (a share of the LP). Its objective stays the LP's: the bound. Households that share a project built in part split their plans in
    its proportion, so each such project draws dozens of them into the MIP (a county of 7,055 households: 510 with a
    fractional option, 30 after its projects were rounded). In a small county a project may carry much of the LP's
    value (one of 270 households over three years: 8.0% of it), and its MIP over all households does better."""
    assert lp.x is not None
    yb = model.col_blocks["y"]
    lo, hi = model.col_lo.copy(), model.col_hi.copy()
    hi[shut[np.abs(lp.x[shut]) <= 1e-9]] = 0.0
    x: np.ndarray = lp.x
    out = lp
    cols = np.arange(yb.start, yb.stop)
    opts = replace(base, warm=True, keep=True)
    relaxed = model.relaxed()
    for _ in range(PROJECT_ROUNDING_LPS):
        y = x[yb]
        part = fractional_columns(model.integer[yb], y)
        if not part.any():
            break
        lo_y, hi_y = lo.copy(), hi.copy()
        lo_y[cols[part & (y >= 0.5)]] = 1.0
        hi_y[cols[part & (y < 0.5)]] = 0.0
        out = backend.solve(relaxed.with_bounds(lo_y, hi_y), opts)
        if out.status != Status.OPTIMAL or out.x is None:  # no money to build them all: none of them then
            hi_y = hi.copy()
            hi_y[cols[part]] = 0.0
            out = backend.solve(relaxed.with_bounds(lo, hi_y), opts)
            lo_y = lo
        if out.status != Status.OPTIMAL or out.x is None:
            say(f"rounding the fractional projects: {out.status.value}; kept the LP as it was")
            return lp, frac
        x, lo, hi = out.x, lo_y, hi_y
    loss = relative_gap(model.sense, out.objective, lp.objective)
    if loss > most:
        say(f"rounding the fractional projects gave up {loss:.3%} of the LP: kept the LP as it was")
        return lp, frac
    rounded = fractional_columns(model.integer, x)
    say(f"projects rounded: LP {out.objective:,.2f}; {int(rounded.sum()):,} fractional decisions")
    return replace(out, objective=lp.objective), rounded


def _time_left(scenario: Scenario, t0: float) -> Scenario:
    """``scenario`` with what is left since ``t0`` of its solver time limit (the whole solve's): the general solve a
    multi-year model falls back to must not start the clock again."""
    left = max(scenario.solver.time_limit - (time.perf_counter() - t0), 1.0)
    return scenario.model_copy(update={"solver": scenario.solver.model_copy(update={"time_limit": left})})


def _forced(model: LinearModel, my: MultiYear) -> str:
    """What makes a multi-year model spend besides its floors: its targets, and in a re-plan its kept starts (plan-year
    options held at 1)."""
    return "target or kept start" if model.col_lo[: len(my.options)].any() else "target"


def _no_whole_plans(err: InfeasibleError) -> InfeasibleError:
    """The error to raise when the MIP has no solution: the diagnosis when money is short, else why whole plans fail
    where the LP's fractions fit."""
    short = err.shortfalls
    if isinstance(short, pd.DataFrame) and float(short["shortfall"].sum()) > MONEY_TOL:
        return err
    return InfeasibleError(
        "the multi-year model has no solution with whole plans although its LP relaxation has one: the hard floors (or "
        "targets, or kept decisions) cannot all be paid with whole plans from the yearly appropriations in the years their "
        "plans must start (delayed measures start early); try more money in the first years (years.profile: front_loaded "
        "or years.shares), carry_over: full, shorter delays, or floors.mode: soft"
    )


def kept_infeasible(err: InfeasibleError, kept: Kept | None, counts: dict[str, int]) -> InfeasibleError:
    """``err`` of a re-plan, with what it kept: the kept decisions are paid (what they were paid) from the money of their
    years as the scenario sets it now, so a change applied to every year (a cut, say) may leave them unpaid."""
    if kept is None or not (counts.get("kept_starts") or counts.get("kept_builds")):
        return err
    starts, builds = counts.get("kept_starts", 0), counts.get("kept_builds", 0)
    note = f"This re-plan from {kept.from_year} keeps {starts:,} starts and {builds:,} project builds of {kept.source}"
    if err.shortfalls is None:  # not money: a capacity or target the kept starts break
        note += ", which the scenario as it is now must still admit; or plan again from the first year."
    else:
        note += (
            ", charged what that run paid them, from the appropriations of their years as the scenario sets them now: a change to every "
            f"year's money can leave them unpaid, and what they spent is not there for the households left to plan from {kept.from_year} at "
            f"today's prices; change the money from {kept.from_year} on instead (years.shares, or the Python API's Withheld), or plan "
            "again from the first year."
        )
    return InfeasibleError(f"{err}\n{note}", shortfalls=err.shortfalls)


@dataclass(frozen=True)
class Kept:
    """Decisions kept from an earlier plan (rolling horizon): household starts (household_id, plan, year, and their
    monitoring where known: ``monitored``, ``monitoring_years``, and ``committed``) and projects built (project_id,
    built_year), fixed in the re-plan; any other start or build before ``from_year`` is forbidden. Kept decisions
    may lie in later years too (the nightly job's commitments). An optional ``cost`` column of either (yuan; NaN:
    unknown) is what the start or build was paid: one before ``from_year`` is charged that, not today's price
    (see :func:`kept_prices`)."""

    starts: pd.DataFrame
    built: pd.DataFrame
    from_year: int
    source: str
    # reads the earlier plan's money (fund_id, village_id, category, year, amount; None when it has none): what the
    # kept years hold (kept_paid), and where a decomposed re-plan's master starts; read only when asked
    read_flows: Callable[[], pd.DataFrame | None] | None = None
    # a previous run folder's: the sha256 of the tables kept from (its manifest's), recorded so that the re-plan
    # can be reproduced from that run while it holds them
    tables: dict[str, str] = field(default_factory=dict)
    # what the earlier plan paid before from_year per (village_id, category, year, amount): a county's part of it,
    # given by the driver; otherwise read with read_flows (see kept_paid)
    paid: pd.DataFrame | None = None


def in_catalogue(kept: Kept | None, churn: ChurnCap | None, instance: Instance) -> tuple[Kept | None, ChurnCap | None]:
    """``kept`` and ``churn`` with their plan labels in the instance's catalogue order (:func:`in_catalogue_order`):
    a previous run or a published version made before the rows of ``measures.csv`` were reordered names the same
    plans (its kept plans were "not among its options" before)."""
    ids = instance.measures["measure_id"].tolist()
    if kept is not None:
        kept = replace(kept, starts=kept.starts.assign(plan=in_catalogue_order(kept.starts["plan"], ids)))
    if churn is not None:
        churn = replace(churn, previous=churn.previous.assign(plan=in_catalogue_order(churn.previous["plan"], ids)))
    return kept, churn


def kept_years(scenario: Scenario, from_year: int | None) -> int:
    """How many of the scenario's years a re-plan from ``from_year`` keeps (none for a first night's commitments
    alone, whose ``from_year`` is the first year)."""
    return 0 if from_year is None or scenario.years is None else max(from_year - scenario.years.first, 0)


def read_previous(previous: Path, from_year: int) -> Kept:
    """The decisions of a previous multi-year run folder before ``from_year``. The run's households, projects and
    flows tables must be as it wrote them (its manifest's hashes) and well formed: a re-plan keeps what they say."""
    manifest = read_manifest(previous)
    if not manifest.get("multiyear"):
        raise InputError(f"--previous {previous}: a one-year run; a re-plan from a year keeps the starts of a multi-year run (a scenario with years:)")
    rolling = manifest.get("rolling") or {}
    before = rolling.get("from_year")
    if isinstance(before, int) and from_year < before:
        raise InputError(
            f"--from-year {from_year} is before {before}, the year from which the previous run {previous} re-planned: its decisions of "
            f"{from_year} to {before - 1} were kept as done and would be planned again. Re-plan from {before} or later, or from "
            f"the run it kept them from ({rolling.get('previous')})"
        )
    changed = [c for c in changed_outputs(previous, manifest) if c.split(":")[0] in KEPT_FROM]
    if changed:
        raise InputError(
            "; ".join(changed) + ". A re-plan keeps what that run decided: solve it again, or record what was done in the registry "
            "(db commit) and re-plan with optimizer nightly",
            source=f"--previous {previous}",
        )
    try:
        prev_h = pd.read_csv(previous / "households.csv", dtype=str, keep_default_na=False)
        prev_p = pd.read_csv(previous / "projects.csv", dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise InputError(f"--previous {previous}: cannot read the previous run ({e})") from e
    for col in ("household_id", "plan", "year", "started"):
        if col not in prev_h.columns:
            raise InputError(f"--previous {previous}/households.csv: missing column '{col}' (not a multi-year run)")
    h_path, p_path = f"{previous}/households.csv", f"{previous}/projects.csv"
    problems: list[str] = []
    year = _run_numbers(prev_h, "year", h_path, problems)
    started = _flags(prev_h, "started", h_path, problems)
    none = np.zeros(len(prev_h), dtype=np.int64)
    monitored = _flags(prev_h, "monitored", h_path, problems) if "monitored" in prev_h.columns else none.astype(bool)
    monitoring_years = _run_numbers(prev_h, "monitoring_years", h_path, problems) if "monitoring_years" in prev_h.columns else none
    cost = _run_numbers(prev_h, "cost", h_path, problems, whole=False) if "cost" in prev_h.columns else np.full(len(prev_h), np.nan)
    twice = prev_h["household_id"].duplicated(keep=False).to_numpy()
    problems += [f"{h_path}, row {i + 2}: household {prev_h['household_id'].iat[i]} appears more than once" for i in np.flatnonzero(twice)[:20]]
    built = prev_p.iloc[0:0].assign(built_year=0)
    if "built_year" in prev_p.columns:
        given = prev_p["built_year"].str.strip() != ""
        built_year = _run_numbers(prev_p[given], "built_year", p_path, problems)
        built = prev_p[given].assign(built_year=built_year)
    built = built.assign(cost=_run_numbers(built, "cost", p_path, problems, whole=False) if "cost" in built.columns else np.nan)
    if problems:
        raise InputError(problems)
    early = prev_h.assign(year=year, monitored=monitored, monitoring_years=monitoring_years, cost=cost)[started & (year < from_year)]
    built = built[built["built_year"] < from_year]

    @functools.cache  # read once, when a re-plan asks (the kept years' money, a decomposed master's start)
    def read_flows() -> pd.DataFrame | None:
        try:
            text = {"fund_id": str, "village_id": str, "category": str}
            flows = pd.read_csv(previous / "flows.csv", dtype=text, usecols=["fund_id", "village_id", "category", "year", "amount"])
            return flows.astype({"year": np.int64, "amount": float})
        except (OSError, ValueError, pd.errors.ParserError):
            return None  # only a starting point: a run folder without it (or with a cell unread) is re-planned all the same

    return Kept(
        starts=early[["household_id", "plan", "year", "monitored", "monitoring_years", "cost"]].reset_index(drop=True),
        built=built[["project_id", "built_year", "cost"]].astype({"built_year": int}).reset_index(drop=True),
        from_year=from_year,
        source=str(previous.resolve()),  # the record names the run wherever the command ran
        read_flows=read_flows,
        tables={k: v for k, v in sorted((manifest.get(OUTPUT_HASHES) or {}).items()) if k in KEPT_FROM},
    )


def _run_numbers(frame: pd.DataFrame, col: str, path: str, problems: list[str], whole: bool = True, signed: bool = False) -> np.ndarray:
    """Column ``col`` of a run table read as text, as integers (``whole``), non-negative amounts or, ``signed``, any
    numbers; each cell that is not one is added to ``problems`` by row (the file's line) and value."""
    num = pd.to_numeric(frame[col].str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(num) | ((num != np.round(num)) if whole else (num < 0) & ~signed))
    what = "a whole number" if whole else "a number" if signed else "an amount (a number, 0 or more)"
    problems += [f"{path}, row {frame.index[i] + 2}, column {col}: {frame[col].iat[i]!r} is not {what}" for i in bad[:20]]
    num = np.where(np.isfinite(num), num, 0)
    return num.astype(np.int64) if whole else num


def _flags(frame: pd.DataFrame, col: str, path: str, problems: list[str]) -> np.ndarray:
    """Column ``col`` of a run table read as text, as booleans (True/False, 1/0); other cells go to ``problems``."""
    text = frame[col].str.strip().str.lower()
    bad = np.flatnonzero(~text.isin(["true", "false", "1", "0"]).to_numpy())
    problems += [f"{path}, row {frame.index[i] + 2}, column {col}: {frame[col].iat[i]!r} is neither True nor False" for i in bad[:20]]
    return text.isin(["true", "1"]).to_numpy()


def check_from_year(from_year: int, first: int, last: int) -> None:
    """Refuse a re-plan from a year outside the scenario's years ``first``..``last``."""
    if not first <= from_year <= last:
        raise InputError(f"--from-year {from_year} lies outside the scenario's years {first}..{last}")


def kept_counts(kept: Kept, instance: Instance) -> dict[str, int]:
    """The manifest's record of a re-plan: kept starts of the instance's households, the previous run's starts
    before ``kept.from_year`` and its builds kept before it; and every start and build kept (later ones too)."""
    pos = pd.Index(instance.projects["project_id"]).get_indexer(kept.built["project_id"])
    when = kept.built["built_year"].to_numpy(dtype=np.int64)
    return {
        "kept_households": int(isin(kept.starts["household_id"], instance.households["household_id"].to_numpy()).sum()),
        "previous_started_before": int((kept.starts["year"] < kept.from_year).sum()),
        "kept_projects": int(((pos >= 0) & (when < kept.from_year)).sum()),
        "kept_starts": len(kept.starts),
        "kept_builds": len(kept.built),
    }


def kept_source(version: int | None) -> str:
    """Where a multi-year night's kept decisions come from: the published ``version``, or the commitments alone."""
    return f"version {version}" if version is not None else "commitments"


def kept_of(published: pd.DataFrame, built: pd.DataFrame, commitments: pd.DataFrame, from_year: int, first_year: int, source: str) -> Kept:
    """What a multi-year night keeps (its households' and projects' rows only need be given): the published
    version's starts before ``from_year`` (``published``: its household rows) and builds before it (``built``: its
    project rows), and every commitment (``commitments``: household and project rows, in commitment order), which
    overrides the version. A committed plan that never started keeps the empty plan, whose single option lies in
    ``first_year``; a committed plan keeps its monitoring choice."""
    past = published[(published["year"] > 0) & (published["year"] < from_year)]
    past = past.assign(cost=past["cost"] if "cost" in past.columns else np.nan)
    past = past[["household_id", "plan", "year", "monitored", "monitoring_years", "cost"]]
    past = past.astype({"monitored": bool, "monitoring_years": int, "cost": float}).assign(committed=False)
    hh_comm, pj_comm = commitments[commitments["kind"] == "household"], commitments[commitments["kind"] == "project"]
    comm_starts = pd.DataFrame({
        "household_id": hh_comm["ref_id"], "plan": hh_comm["plan"], "year": np.where(hh_comm["year"] > 0, hh_comm["year"], first_year),
        "monitored": hh_comm["monitored"].astype(bool).to_numpy(), "monitoring_years": hh_comm["monitoring_years"].astype(int).to_numpy(),
        "committed": True,
    })  # fmt: skip
    comm_starts["cost"] = _paid(past, comm_starts, ["household_id", "plan", "year"])  # a committed start the version paid
    starts = pd.concat([past, comm_starts], ignore_index=True).drop_duplicates("household_id", keep="last")
    early = built[(built["built_year"] > 0) & (built["built_year"] < from_year)]
    early = early.assign(cost=early["cost"] if "cost" in early.columns else np.nan)[["project_id", "built_year", "cost"]]
    comm_builds = pj_comm[["ref_id", "year"]].set_axis(["project_id", "built_year"], axis=1)
    comm_builds = comm_builds.assign(cost=_paid(early, comm_builds, ["project_id", "built_year"]))
    builds = pd.concat([early, comm_builds], ignore_index=True).drop_duplicates("project_id", keep="last")
    return Kept(starts.astype({"year": int}).reset_index(drop=True), builds.astype({"built_year": int}).reset_index(drop=True), from_year, source)


def _paid(paid: pd.DataFrame, decisions: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """The ``cost`` of ``paid`` for each of ``decisions`` with the same ``keys`` (NaN where none)."""
    return paid.drop_duplicates(keys).set_index(keys)["cost"].reindex(pd.MultiIndex.from_frame(decisions[keys])).to_numpy(dtype=float)


def previous_of(published: pd.DataFrame, household_ids: Iterable[Any], kept: Kept) -> pd.DataFrame:
    """The households the churn cap counts on a multi-year night: planned in the published version (its rows
    ``published``), planned again (``household_ids``), neither committed nor with a kept start; their published plan
    and start year (0: never)."""
    keep = ~published["committed"].astype(bool) & isin(published["household_id"], np.asarray(list(household_ids), dtype=object))
    keep &= ~isin(published["household_id"], kept.starts["household_id"])
    return published.loc[keep, ["household_id", "plan", "year"]].astype({"year": np.int64}).reset_index(drop=True)


def kept_violations(result: MultiYearResult, kept: Kept) -> list[str]:
    """Kept decisions the result does not hold (recomputed from its tables): a kept start with another plan,
    year, or monitoring other than its choices (:func:`monitoring_choices`), a kept build in another year, or a
    start or build before ``kept.from_year`` that was not kept."""
    bad: list[str] = []
    last = int(result.manifest["years"][1])
    hh = result.table("households").set_index("household_id")
    starts = kept.starts[isin(kept.starts["household_id"], hh.index)]
    year = hh["year"].reindex(starts["household_id"]).to_numpy(dtype=np.int64)
    empty = (hh["measures"].reindex(starts["household_id"]) == "none").to_numpy()
    plan = in_catalogue_order(hh["plan"].reindex(starts["household_id"]))  # either's catalogue order (by id)
    same = (plan == in_catalogue_order(starts["plan"])) & ((year == starts["year"].to_numpy()) | empty)
    bad += [f"kept start changed: household {h} ({p} in {y})" for h, p, y in starts[~same][["household_id", "plan", "year"]].head(20).itertuples(index=False)]
    if "cost" in starts.columns:  # what a start before from_year was paid stays its cost (kept_prices)
        paid = starts["cost"].to_numpy(dtype=float)
        now = pd.to_numeric(hh["cost"].reindex(starts["household_id"])).to_numpy(dtype=float)
        repriced = same & (starts["year"].to_numpy() < kept.from_year) & np.isfinite(paid) & (np.abs(now - paid) > MONEY_TOL)
        bad += [f"kept start re-priced: household {h} was paid {c:,.2f} yuan, now {n:,.2f}"
                for h, c, n in zip(starts["household_id"][repriced].head(20), paid[repriced], now[repriced])]  # fmt: skip
    if "monitored" in starts.columns and "monitoring_years" in hh.columns:
        of = hh.reindex(starts["household_id"])
        now = monitoring_years_of(of, last)
        choices = monitoring_choices(starts, of["effect_year"].to_numpy(dtype=np.int64), kept.from_year, last)
        mon = (choices != now[:, None]).all(axis=1)
        bad += [f"kept start changed its monitoring: household {h}" for h in starts["household_id"][same & mon].head(20)]
    early = hh[(hh["year"] > 0) & (hh["year"] < kept.from_year)]
    extra = sorted(set(early.index) - set(kept.starts["household_id"]))
    bad += [f"household {h} starts before {kept.from_year} though no start was kept for it" for h in extra[:20]]
    pr = result.tables["projects"]
    built_year = pd.to_numeric(pr["built_year"].replace("", 0)).astype(int)
    when = pd.Series(built_year.to_numpy(), index=pr["project_id"].to_numpy())
    moved = kept.built[when.reindex(kept.built["project_id"]).fillna(-1).to_numpy() != kept.built["built_year"].to_numpy()]
    bad += [f"kept project build changed: {p} (built in {y})" for p, y in moved.head(20).itertuples(index=False)]
    new_early = set(pr["project_id"][(built_year > 0) & (built_year < kept.from_year)]) - set(kept.built["project_id"])
    bad += [f"project {p} built before {kept.from_year} though no build was kept for it" for p in sorted(new_early)[:20]]
    return bad


def monitoring_choices(starts: pd.DataFrame, effect_year: np.ndarray, from_year: int, last: int) -> np.ndarray:
    """Per kept start (household_id, plan, year, ``monitored``, and ``monitoring_years`` and ``committed`` where
    known; ``effect_year`` per start): the two monitoring choices (years monitored, the last ones up to the
    deadline ``last``; twice the same when there is no choice) a re-plan from ``from_year`` may take. A start
    whose years at risk (effect year + 1 .. deadline) all lie ahead decides again between none and all of them; one
    not monitored when some have passed may be monitored from ``from_year`` on; otherwise, and for a committed
    plan, the choice stays (monitoring is not stopped halfway)."""
    effect_year = np.asarray(effect_year, dtype=np.int64)
    full = np.maximum(last - effect_year, 0)
    monitored = _truthy(starts["monitored"]) if "monitored" in starts.columns else np.zeros(len(starts), dtype=bool)
    given = pd.to_numeric(starts["monitoring_years"], errors="coerce").fillna(0).to_numpy() if "monitoring_years" in starts.columns else np.zeros(len(starts))
    kept_m = np.where(monitored, np.where(given > 0, given, full), 0).astype(np.int64)
    committed = _truthy(starts["committed"]) if "committed" in starts.columns else np.zeros(len(starts), dtype=bool)
    before = ~committed & (starts["year"].to_numpy() < from_year)
    is_open = before & (effect_year + 1 >= from_year)
    late = before & ~is_open & (kept_m == 0) & (from_year <= last)
    first = np.where(is_open, 0, kept_m)
    second = np.where(is_open, full, np.where(late, last - from_year + 1, kept_m))
    return np.stack([first, second], axis=1)


def _kept_starts(kept: Kept, instance: Instance, plans: Plans) -> pd.DataFrame:
    """The kept starts with their household's and plan's positions (``hh``, ``plan``) in ``plans``; a start whose
    plan the table lacks is left out (:func:`fix_kept` refuses it by name)."""
    labels = pd.DataFrame({"hh": plans.table["hh"].to_numpy(), "plan_label": plan_keys(plans.table, instance), "plan": np.arange(len(plans.table))})
    starts = kept.starts.rename(columns={"plan": "plan_label"})
    starts = starts.assign(hh=pd.Index(instance.households["household_id"]).get_indexer(starts["household_id"]))
    return starts[starts["hh"] >= 0].merge(labels, on=["hh", "plan_label"])


def _late_monitoring(starts: pd.DataFrame, from_year: int, instance: Instance, plans: Plans, years: Years) -> pd.DataFrame:
    """The kept starts' options (``starts``: :func:`_kept_starts`) as (hh, plan, year_ix) with the years monitored
    they may take in a re-plan (see :func:`monitoring_choices`) where that is fewer than all their years at risk:
    monitored from the re-plan's year on, or from an earlier re-plan's."""
    delay = plan_delays(instance, plans, years)[starts["plan"].to_numpy()]
    choices = monitoring_choices(starts, starts["year"].to_numpy() + delay, from_year, years.last)
    both = pd.DataFrame({"hh": np.repeat(starts["hh"].to_numpy(), 2), "plan": np.repeat(starts["plan"].to_numpy(), 2),
                         "year_ix": np.repeat(starts["year"].to_numpy() - years.first, 2), "monitoring_years": choices.ravel()})  # fmt: skip
    return both[both["monitoring_years"] > 0].drop_duplicates()


def fix_kept(my: MultiYear, instance: Instance, kept: Kept) -> tuple[LinearModel, dict[str, int]]:
    """Bounds that fix the kept starts and builds and forbid any other start or build before ``kept.from_year``;
    a kept start keeps the variants of its monitoring choices (:func:`monitoring_choices`). A kept start of a
    household in the instance that has no such (plan, year) option is refused: the re-plan would otherwise change
    the past silently."""
    from_year = kept.from_year
    check_from_year(from_year, int(my.years[0]), int(my.years[-1]))
    model = my.model
    lo, hi = model.col_lo.copy(), model.col_hi.copy()
    opt = my.options
    hh_ids = instance.households["household_id"].to_numpy()
    keys = pd.DataFrame(
        {"household_id": hh_ids[opt["hh"].to_numpy()], "plan": plan_keys(my.plans.table, instance)[opt["plan"].to_numpy()], "year": opt["year"].to_numpy()}
    )
    keys["col"] = np.arange(len(opt))
    keys["option_monitoring_years"] = opt["monitoring_years"].to_numpy()
    keys["effect_year"] = keys["year"].to_numpy() + opt["delay"].to_numpy()
    starts = kept.starts[isin(kept.starts["household_id"], hh_ids)]
    starts = starts.assign(monitored=_truthy(starts["monitored"]) if "monitored" in starts.columns else False)
    kept_cols = keys.merge(starts, on=["household_id", "plan", "year"])
    choices = monitoring_choices(kept_cols, kept_cols["effect_year"].to_numpy(), from_year, int(my.years[-1]))
    kept_cols = kept_cols[(choices == kept_cols["option_monitoring_years"].to_numpy()[:, None]).any(axis=1)]
    missing = starts[~isin(starts["household_id"], kept_cols["household_id"])]
    if len(missing):
        first = int(my.years[0])

        def why(y: int, m: bool) -> str:
            if y < first:
                return f"it lies before years.first ({first}) of the scenario"
            return f"its registry row, the measures{', years.monitoring' if m else ''} or the years changed"

        raise InputError(
            [f"household {h}: the kept plan {p} started in {y}{' with monitoring' if m else ''} is not among its options ({why(y, m)})"
             for h, p, y, m in missing[["household_id", "plan", "year", "monitored"]].head(20).itertuples(index=False)]
            + ([f"... and {len(missing) - 20} more"] if len(missing) > 20 else []),
            source=kept.source, total=len(missing),
        )  # fmt: skip
    before = keys["year"].to_numpy() < from_year
    hi[keys["col"].to_numpy()[before & ~opt["empty"].to_numpy()]] = 0.0
    # a kept household takes one of its kept columns (two where it has a monitoring choice): the assign row holds the sum
    hi[keys["col"].to_numpy()[isin(keys["household_id"], kept_cols["household_id"].to_numpy())]] = 0.0
    cols = kept_cols["col"].to_numpy()
    hi[cols] = 1.0
    lo[cols[~kept_cols["household_id"].duplicated(keep=False).to_numpy()]] = 1.0
    T = len(my.years)
    n_y = len(instance.projects)
    ys = model.col_blocks["y"].start
    built = kept.built
    pos = pd.Index(instance.projects["project_id"]).get_indexer(built["project_id"])
    when = built["built_year"].to_numpy(dtype=np.int64)
    for t in range(T):
        if my.years[t] < from_year:
            hi[ys + np.arange(n_y) * T + t] = 0.0
        sel = (pos >= 0) & (when == my.years[t])
        lo[ys + pos[sel] * T + t] = hi[ys + pos[sel] * T + t] = 1.0
    return model.with_bounds(lo, hi), kept_counts(kept, instance)



def add_churn_row(model: LinearModel, my: MultiYear, instance: Instance, cap: ChurnCap) -> tuple[LinearModel, dict[str, int]]:
    """Append ``sum_h (1 - x[h, old plan, old year]) <= cap.max_changes`` over the households of ``cap.previous``
    (household_id, plan, year; year 0 for the empty plan) that are in the instance, written as
    ``sum x[old options] >= kept - allowed``; with monitoring both variants of the old (plan, year) count as
    keeping it. An old option that no longer exists or is forbidden (bound 0) is a forced change and counts
    against the cap; when forced changes exceed it, every other household keeps its option."""
    cols, n_kept, n_prev = kept_option_columns(model, my, instance, cap.previous)
    forced = n_prev - n_kept
    allowed = max(cap.max_changes - forced, 0)
    need = float(max(n_kept - allowed, 0))
    A = sp.csr_matrix((np.ones(len(cols)), (np.zeros(len(cols), dtype=np.int64), cols)), shape=(1, model.shape[1]))
    info = {"previous_households": n_prev, "max_changes": int(cap.max_changes), "forced_changes": int(forced)}
    return model.with_rows("churn", A, np.array([need]), np.array([INF])), info


def kept_option_columns(model: LinearModel, my: MultiYear, instance: Instance, previous: pd.DataFrame) -> tuple[np.ndarray, int, int]:
    """The x columns of the published (plan, start year) options (``previous``: household_id, plan, year; year 0 for
    the empty plan) still open in ``model`` (both monitoring variants of one), how many households keep one that
    way, and how many of ``previous``'s households are in the instance: the others of those must change."""
    hh_ids = instance.households["household_id"].to_numpy()
    prev = previous[isin(previous["household_id"], hh_ids)].drop_duplicates("household_id")
    opt = my.options
    empty = opt["empty"].to_numpy()
    cols = model.col_blocks["x"].start + np.arange(len(opt))
    keys = pd.DataFrame(
        {"household_id": hh_ids[opt["hh"].to_numpy()], "plan": plan_keys(my.plans.table, instance)[opt["plan"].to_numpy()],
         "year": np.where(empty, 0, opt["year"].to_numpy()), "col": cols}
    )[model.col_hi[cols] > 0]  # fmt: skip
    old = prev[["household_id", "plan", "year"]].astype({"year": np.int64})
    old = old.assign(year=np.where(old["plan"].to_numpy() == "none", 0, old["year"].to_numpy()))
    kept = keys.merge(old, on=["household_id", "plan", "year"], how="inner")
    return kept["col"].to_numpy(), int(kept["household_id"].nunique()), int(len(prev))


def churn_changes(result: MultiYearResult, previous: pd.DataFrame) -> int:
    """Households of ``previous`` (household_id, plan, year) in the result whose plan or start year differs,
    recomputed from the result's household table (the empty plan has year 0 in both)."""
    hh = result.table("households")
    now = pd.DataFrame({"household_id": hh["household_id"], "plan": hh["plan"], "year": hh["year"].astype(np.int64)})
    both = now.merge(previous[["household_id", "plan", "year"]].astype({"year": np.int64}), on="household_id", suffixes=("", "_prev"))
    return int(((both["plan"] != both["plan_prev"]) | (both["year"] != both["year_prev"])).sum())


def _truthy(col: pd.Series) -> np.ndarray:
    return col.astype(str).str.lower().isin(["true", "1"]).to_numpy()


def multiyear_result(instance: Instance, scenario: Scenario, my: MultiYear, model: LinearModel, sol: Solution) -> MultiYearResult:
    """Households (with ``year``), projects (with ``built_year``), flows per year, spending per year and
    fund with carry-over, and each county's expected poor per year and exit year."""
    yrs = scenario.years
    assert yrs is not None
    x = sol.x
    T = len(my.years)
    opt = my.options
    chosen = np.flatnonzero(x[model.col_blocks["x"]] > 0.5)
    o = opt.iloc[chosen].sort_values("hh").reset_index(drop=True)
    table = my.plans.table.iloc[o["plan"].to_numpy()].reset_index(drop=True)
    hh = instance.households
    started = ~o["empty"].to_numpy()
    households = pd.DataFrame(
        {
            "household_id": hh["household_id"].to_numpy()[o["hh"].to_numpy()],
            "village_id": hh["village_id"].to_numpy()[o["hh"].to_numpy()],
            "plan": plan_keys(table, instance),
            "measures": table["measures"].to_numpy(),
            "project_id": project_ids(instance, table["project"].to_numpy()),
            "started": started,
            "year": np.where(started, o["year"].to_numpy(), 0),
            "effect_year": np.where(started, o["year"].to_numpy() + o["delay"].to_numpy(), 0),
            "cost": o["cost"].to_numpy().round(2),
            "p_success": table["p"].to_numpy(),
            "p_deadline": o["p_deadline"].to_numpy(),
            "value": o["value"].to_numpy(),
            "income_before": hh["income_per_capita"].to_numpy()[o["hh"].to_numpy()],
            "income_after": table["income_after"].to_numpy().round(2),
            "monitored": o["monitored"].to_numpy(dtype=bool),
            "monitoring_years": o["monitoring_years"].to_numpy(dtype=np.int64),
            "monitoring_cost": o["monitoring_cost"].to_numpy(dtype=float).round(2),
        }
    )
    yb = x[model.col_blocks["y"]].reshape(-1, T) > 0.5
    built_year = np.where(yb.any(axis=1), my.years[np.argmax(yb, axis=1)], 0)
    projects = instance.projects[["project_id", "village_id", "kind", "category"]].assign(
        built=yb.any(axis=1),
        built_year=np.where(yb.any(axis=1), built_year.astype(object), ""),
        cost=np.where(yb.any(axis=1), my.project_cost, 0.0),
    )
    flows = my.index.flows[["fund_id", "village_id", "category", "year"]].assign(amount=x[model.col_blocks["f"]] * MONEY_UNIT)
    flows = flows[flows["amount"] > 1e-4].reset_index(drop=True)
    flows["amount"] = flows["amount"].round(4)
    carry = x[model.col_blocks["c"]].reshape(-1, T) * MONEY_UNIT
    spent = spent_by_year(flows, instance.funds["fund_id"].to_numpy(), my.years)
    spending = spending_table(instance.funds, instance.tree, my.years, my.appropriation * MONEY_UNIT, spent, carry)
    counties = county_schedule(instance, scenario, households)
    unit = model.objective_unit
    status = {"status": sol.status.value, "objective": sol.objective * unit, "bound": sol.bound * unit, "lp_bound": sol.lp_bound * unit,
              "gap": sol.gap, "used_full_mip": sol.used_full_mip, "stopped_at_time_limit": sol.stopped}  # fmt: skip
    size = {"columns": int(model.shape[1]), "rows": int(model.shape[0]), "nonzeros": int(model.A.nnz), "options": int(len(opt))}
    tables = {"households": households, "projects": projects, "flows": flows, "spending": spending, "counties": counties}
    return MultiYearResult(tables=tables, manifest=multiyear_manifest(scenario, instance.hashes, tables, status, size))


def multiyear_manifest(
    scenario: Scenario,
    hashes: dict[str, str],
    tables: dict[str, pd.DataFrame],
    status: dict[str, Any],
    size: dict[str, int],
    totals: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The run manifest of a multi-year result: scenario, inputs, solver status and the totals of its tables
    (``totals``: :func:`household_totals` of the households table when it is not among ``tables``)."""
    yrs = scenario.years
    assert yrs is not None
    t = household_totals(tables["households"]) if totals is None else totals
    return {
        "scenario": scenario.model_dump(mode="json"),
        "scenario_name": scenario.name,
        "data": scenario.data_source,
        "input_hashes": hashes,
        "multiyear": True,
        "years": [int(yrs.first), int(yrs.last)],
        "mode": scenario.mode,
        **status,
        "expected_out_at_deadline": t["expected_out_at_deadline"],
        "households": int(t["households"]),
        "cost": float(t["cost"] + tables["projects"]["cost"].sum()),
        "monitored": int(t["monitored"]),
        "monitoring_cost": t["monitoring_cost"],
        "model": size,
        "solver": scenario.solver.name,
        "solver_version": get_backend(scenario.solver.name).version(),
        "versions": versions(),
    }


def household_totals(households: pd.DataFrame) -> dict[str, float]:
    """What the manifest adds up over a multi-year households table; the totals of disjoint blocks add up to those
    of their union, so a decomposed run needs the counties' totals, not their tables."""
    monitoring = float(households["monitoring_cost"].sum())
    return {
        "expected_out_at_deadline": float(households["p_deadline"].sum()),
        "households": float(len(households)),
        "cost": float(households["cost"].sum()) + monitoring,
        "monitored": float(households["monitored"].sum()),
        "monitoring_cost": monitoring,
    }


def county_schedule(instance: Instance, scenario: Scenario, households: pd.DataFrame) -> pd.DataFrame:
    """Per county and year: expected poor households, incidence, and the county's expected exit year (the first
    year from which its expected incidence stays at or below the threshold through the deadline, as the min-cost
    schedule requires; 0 when not at or below it at the deadline)."""
    yrs = scenario.years
    assert yrs is not None
    tree = instance.tree
    counties = county_table(instance)
    limit = scenario.target.incidence_limit(instance.regions["western"].to_numpy(dtype=bool)[counties["county"].to_numpy()])
    if scenario.target.county_incidence is None:
        limit = np.full(len(counties), 0.03)
    hh = instance.households.set_index("household_id").loc[households["household_id"]]
    county = tree.ancestors[tree.pos(hh["village_id"]), Level.COUNTY]
    row = pd.Index(counties["county"]).get_indexer(county)
    risk = _risk(instance, scenario, households)
    out = counties[["county_id", "poor", "rural"]].copy()
    out["threshold"] = limit
    exit_year = np.zeros(len(counties), dtype=np.int64)
    rural = counties["rural"].to_numpy(dtype=float)
    for year in year_list(yrs):
        prob = _out_in(households, risk, yrs, int(year))
        poor = counties["poor"].to_numpy() - np.bincount(row, weights=prob, minlength=len(counties))
        out[f"poor_{year}"] = poor.round(3)
        below = poor - limit * rural <= INCIDENCE_TOL * np.maximum(rural, 1.0)
        exit_year = np.where(below, np.where(exit_year == 0, year, exit_year), 0)  # back above: not out yet
    out["exit_year"] = exit_year
    return out


def _spending_problems(spending: pd.DataFrame, fund_ids: np.ndarray, yrs: Years, approp: np.ndarray, spent: np.ndarray) -> list[str]:
    """The spending table as planners read it, against the funds and flows: one row per fund and year, each fund's
    appropriation as the scenario splits it, carry-in the year before's carry-out, and carry-out within what is
    left of the year's money and the carry-over rule (``approp``, ``spent``: funds x years, yuan)."""
    years = year_list(yrs)
    cols = ["appropriation", "carry_in", "carry_out"]
    full = pd.MultiIndex.from_arrays([np.repeat(fund_ids, len(years)), np.tile(years, len(fund_ids))])
    table = spending.astype({"year": np.int64}).set_index(["fund_id", "year"])
    if len(table) != len(full) or not table.index.isin(full).all():
        return ["spending table does not hold one row per fund and planning year"]
    app, came_in, carried = (table[c].reindex(full).to_numpy(dtype=float).reshape(len(fund_ids), len(years)) for c in cols)
    tol = MONEY_TOL + 1e-7 * np.abs(app)
    bad = []
    if (np.abs(app - approp) > tol).any():
        bad.append("spending table's appropriation differs from the funds' amounts split over the years")
    if (np.abs(came_in[:, 0]) > tol[:, 0]).any() or (np.abs(came_in[:, 1:] - carried[:, :-1]) > tol[:, 1:]).any():
        bad.append("spending table's carry-in differs from the year before's carry-out")
    left = np.minimum(approp + came_in - spent, carry_limits(yrs, approp))
    if ((carried > left + tol) | (carried < -tol)).any():
        bad.append(f"spending table's carry-out exceeds what the year leaves or the carry-over rule ({yrs.carry_over}) allows")
    return bad


def _county_problems(counties: pd.DataFrame, instance: Instance, scenario: Scenario, households: pd.DataFrame) -> list[str]:
    """The counties table (each county's expected poor by year, threshold and exit year) against the same schedule
    recomputed from the households table."""
    want = county_schedule(instance, scenario, households).set_index("county_id")
    got = counties.astype({"county_id": str}).set_index("county_id")
    if got.index.duplicated().any() or set(got.index) != set(want.index):
        return ["counties table does not hold one row per county"]
    got = got.reindex(want.index)
    bad = []
    for col in [c for c in want.columns if c not in ("county",)]:
        if col not in got.columns:
            bad.append(f"counties table lacks column {col}")
            continue
        g, w = pd.to_numeric(got[col], errors="coerce").to_numpy(dtype=float), want[col].to_numpy(dtype=float)
        off = ~(np.abs(g - w) <= 2e-3 + 1e-9 * np.abs(w))
        bad += [f"county {c}: {col} {x} differs from {y:g} recomputed from the households and the scenario"
                for c, x, y in zip(want.index[off], got[col][off], w[off])][:10]
    return bad


def read_multiyear_run(run_dir: str | Path) -> MultiYearResult:
    """Read a multi-year run folder (its CSV tables and manifest) back."""
    from .outputs import read_manifest, read_table

    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if not manifest.get("multiyear"):
        raise InputError(f"{run_dir} is not a multi-year run folder (its manifest has no 'multiyear')")
    tables: dict[str, pd.DataFrame] = {}
    for name in ("households", "projects", "flows", "spending", "counties"):
        path = run_dir / f"{name}.csv"
        if not path.is_file():
            raise InputError(f"{run_dir}: missing {name}.csv")
        tables[name] = read_table(path, ("built_year",))
    return MultiYearResult(tables=tables, manifest=manifest)


RUN_FLAGS = {"started", "monitored", "built"}
RUN_WHOLE = {"year", "effect_year", "monitoring_years", "exit_year", "level"}


def damaged_cells(result: MultiYearResult, run_dir: str | Path) -> list[str]:
    """Each cell of a multi-year run's tables as read back that is not of its column's kind (a number, a whole
    number, True or False; a built project's ``built_year`` a whole number), by file, row and column (a damaged cell
    stopped verify with a ValueError before); the flags are read as booleans."""
    problems: list[str] = []
    for name, frame in result.tables.items():
        path = f"{Path(run_dir) / name}.csv"
        for col in [c for c in frame.columns if not is_text_column(c) and c != "built_year"]:  # built_year: below
            text = frame[[col]].astype(str)
            if col in RUN_FLAGS:
                frame[col] = _flags(text, col, path, problems)
            elif not (pd.api.types.is_integer_dtype if col in RUN_WHOLE else pd.api.types.is_numeric_dtype)(frame[col]):
                frame[col] = _run_numbers(text, col, path, problems, whole=col in RUN_WHOLE, signed=True)
        if "built_year" in frame.columns and "built" in frame.columns:
            given = frame["built"].to_numpy(dtype=bool) | (frame["built_year"].astype(str).str.strip() != "").to_numpy()
            _run_numbers(frame.loc[given, ["built_year"]].astype(str), "built_year", path, problems)
    return problems


def withheld_of(manifest: dict[str, Any]) -> Withheld | None:
    """The money a run withheld, as its manifest records it (:func:`record_replan`)."""
    w = manifest.get("withheld")
    return Withheld({str(k): float(v) for k, v in w["amount"].items()}, int(w["from_year"])) if w else None


def previous_run(rolling: dict[str, Any]) -> tuple[Path | None, str]:
    """The previous run folder a re-plan read (its manifest's ``rolling`` record) while it still holds the tables the
    re-plan read; else None and why not."""
    previous, tables = rolling.get("previous"), rolling.get("previous_tables")
    if not isinstance(tables, dict) or not tables or not isinstance(previous, str):
        return None, "its manifest records no previous run folder's tables (a night's version, or a re-plan written before 2026-12-07)"
    if not (Path(previous) / MANIFEST).is_file():
        return None, f"its previous run {previous} is gone"
    now = read_manifest(Path(previous)).get(OUTPUT_HASHES) or {}
    changed = sorted(k for k, v in tables.items() if now.get(k) != v)
    if changed:
        return None, f"its previous run {previous} was written again since ({', '.join(changed)} differ from what the re-plan read)"
    return Path(previous), ""


def verify_multiyear_run(run_dir: str | Path) -> MultiYearResult:
    """Verify a multi-year run folder with :func:`verify_multiyear` against the scenario, the data (with the
    scenario's data edits) and the money withheld recorded in its manifest; a re-plan whose previous run folder
    still holds what it read, also against the decisions it kept from there (:func:`kept_violations`: plan, year,
    monitoring and cost as that run recorded them). Raise on any violation."""
    from .scenario import recorded_scenario

    result = read_multiyear_run(run_dir)
    damaged = damaged_cells(result, run_dir)
    if damaged:
        raise VerificationError(damaged)
    scenario = recorded_scenario(result.manifest, f"{run_dir}/manifest.json")
    instance = apply_data_edits(load_source(scenario.data_source, max_file_mb=scenario.limits.max_input_mb), scenario.data_edits)
    bad = verify_multiyear(result, instance, scenario, withheld_of(result.manifest))
    rolling = result.manifest.get("rolling") or {}
    previous = previous_run(rolling)[0] if rolling.get("from_year") is not None else None
    if previous is not None:
        bad += kept_violations(result, read_previous(previous, int(rolling["from_year"])))
    if bad:
        raise VerificationError(bad)
    return result


def run_years(result: MultiYearResult) -> list[int]:
    first, last = result.manifest["years"]
    return list(range(int(first), int(last) + 1))


def spending_by_year(result: MultiYearResult) -> pd.DataFrame:
    """Yuan spent per year by the level of the paying fund (rows) and the category it pays for (columns), with
    a ``total`` column; from the flows."""
    flows = result.tables["flows"]
    level = result.tables["spending"].drop_duplicates("fund_id").set_index("fund_id")["level_name"]
    f = flows.assign(level_name=flows["fund_id"].map(level), amount=flows["amount"].astype(float))
    pivot = f.pivot_table(index=["year", "level_name"], columns="category", values="amount", aggfunc="sum", fill_value=0.0)
    order = {name: i for i, name in enumerate(LEVEL_NAMES[lv] for lv in Level)}
    pivot = pivot.reset_index()
    pivot = pivot.assign(_o=pivot["level_name"].map(order)).sort_values(["year", "_o"]).drop(columns="_o")
    pivot.columns.name = None
    pivot["total"] = pivot.drop(columns=["year", "level_name"]).sum(axis=1)
    return pivot.reset_index(drop=True)


def budget_by_year(result: MultiYearResult) -> pd.DataFrame:
    """Per year: money appropriated, carried in, spent and carried out, summed over the funds."""
    cols = ["appropriation", "carry_in", "spent", "carry_out"]
    by = result.tables["spending"].astype({c: float for c in cols}).groupby("year")[cols].sum()
    return by.reindex(run_years(result), fill_value=0.0).rename_axis("year").reset_index()


def starts_by_year(result: MultiYearResult) -> pd.DataFrame:
    """Per planning year: households starting a plan, plans taking effect, the cost of the plans started and
    the households they are expected to have out of poverty at the deadline; a last row ``never`` for the
    households left with the empty plan. Read part by part when the households table is on disk."""
    years = run_years(result)
    first, n = years[0], len(years)
    # rows: starting, taking effect, cost, expected out; columns: the years, then never
    sums = np.zeros((4, n + 1))
    for hh in result.frames("households", ["started", "year", "effect_year", "cost", "p_deadline"]):
        started = hh["started"].astype(str).str.lower().isin(["true", "1"]).to_numpy()
        slot = np.where(started, hh["year"].astype(int).to_numpy() - first, n)
        ok = ~started | ((slot >= 0) & (slot < n))
        effect = hh["effect_year"].astype(int).to_numpy() - first
        took = started & (effect >= 0) & (effect < n)
        sums[0] += np.bincount(slot[ok], minlength=n + 1)
        sums[1, :n] += np.bincount(effect[took], minlength=n)
        sums[2] += np.bincount(slot[ok], weights=hh["cost"].astype(float).to_numpy()[ok], minlength=n + 1)
        sums[3] += np.bincount(slot[ok], weights=hh["p_deadline"].astype(float).to_numpy()[ok], minlength=n + 1)
    sums[2, n] = 0.0
    return pd.DataFrame(
        {
            "year": [*(str(y) for y in years), "never"],
            "households_starting": sums[0].astype(int),
            "taking_effect": sums[1].astype(int),
            "cost": sums[2],
            "expected_out_at_deadline": sums[3],
        }
    )


def exit_schedule(result: MultiYearResult) -> pd.DataFrame:
    """Per county: its expected exit year (the first year its expected incidence is at or below its threshold)
    against its target year (``years.county_exit``, else the deadline under ``target.county_incidence``, else
    none) and whether it is on time, late or has no target."""
    c = result.tables["counties"]
    sc = result.manifest.get("scenario", {})
    last = int(result.manifest["years"][1])
    schedule = (sc.get("years") or {}).get("county_exit") or {}
    has_target = (sc.get("target") or {}).get("county_incidence") is not None
    target = c["county_id"].map(schedule).fillna(last if has_target else 0).astype(int)
    exit_year = c["exit_year"].astype(int)
    status = np.where(target == 0, "no target", np.where((exit_year > 0) & (exit_year <= target), "on time", "late"))
    rural = c["rural"].astype(float)
    return pd.DataFrame(
        {
            "county_id": c["county_id"],
            "poor": c["poor"].astype(float),
            "threshold": c["threshold"].astype(float),
            "incidence_before": c["poor"].astype(float) / rural,
            "incidence_at_deadline": c[f"poor_{last}"].astype(float) / rural,
            "target_year": target,
            "exit_year": exit_year,
            "status": status,
        }
    )


def exit_schedule_line(schedule: pd.DataFrame, named: int = 10) -> str:
    """One progress line for :func:`exit_schedule`: how many counties exit in each year, how many not by the
    deadline and how many late against their target, naming up to ``named`` of those (a national run has thousands
    of counties; the whole schedule is ``counties.csv``)."""
    years = schedule.loc[schedule["exit_year"] > 0, "exit_year"].value_counts().sort_index()
    parts = [", ".join(f"{n:,} in {y}" for y, n in years.items())] if len(years) else []

    def some(ids: pd.Series) -> str:
        more = f" and {len(ids) - named:,} more" if len(ids) > named else ""
        return ", ".join(ids.iloc[:named].astype(str)) + more

    never = schedule.loc[schedule["exit_year"] == 0, "county_id"]
    if len(never):
        parts.append(f"{len(never):,} not by the deadline ({some(never)})")
    late = schedule.loc[schedule["status"] == "late", "county_id"]
    if len(late):
        parts.append(f"{len(late):,} late against their target ({some(late)})")
    return f"county exit schedule of {len(schedule):,} counties: " + ("; ".join(parts) or "none") + " (counties.csv)"


def _risk(instance: Instance, scenario: Scenario, households: pd.DataFrame) -> np.ndarray:
    """Per household of an output table: its yearly return risk when not monitored."""
    yrs = scenario.years
    assert yrs is not None
    return np.where(transfer_only(instance, households["measures"].astype(str)), yrs.return_risk_transfer, yrs.return_risk_work)


def _monitored(households: pd.DataFrame) -> np.ndarray:
    """Per household: the ``monitored`` flag of the output table (False when the table has none)."""
    if "monitored" not in households.columns:
        return np.zeros(len(households), dtype=bool)
    return _truthy(households["monitored"])


def monitoring_years_of(households: pd.DataFrame, last: int) -> np.ndarray:
    """Per household of an output table: the years it is monitored (the table's ``monitoring_years``; without that
    column, every year from its effect to the deadline when ``monitored``)."""
    monitored = _monitored(households)
    if "monitoring_years" in households.columns:
        return np.where(monitored, households["monitoring_years"].to_numpy(dtype=np.int64), 0)
    return np.where(monitored, np.maximum(last - households["effect_year"].to_numpy(dtype=np.int64), 0), 0)


def _out_in(households: pd.DataFrame, risk: np.ndarray, years: Years, year: int) -> np.ndarray:
    """Per household: probability of being out of poverty in ``year``, from the output table."""
    started = households["started"].astype(str).str.lower().isin(["true", "1"]).to_numpy()
    eff = households["effect_year"].to_numpy(dtype=np.int64)
    p = households["p_success"].to_numpy(dtype=float)
    kept = survival(risk, years, eff, monitoring_years_of(households, years.last), year)
    return np.where(~started, p, np.where(started & (eff <= year), p * kept, 0.0))


def verify_multiyear(
    result: MultiYearResult,
    instance: Instance,
    scenario: Scenario,
    withheld: Withheld | None = None,
    appropriation: np.ndarray | None = None,
    from_year: int | None = None,
) -> list[str]:
    """Recompute from the output tables and the inputs (not the model): household costs from the measures (a start
    or build before a re-plan's ``from_year``, default the manifest's ``rolling.from_year``, costs what its table
    says it was paid, spread over its measures as they cost today: see :func:`kept_prices`),
    spending per (year, village, category) against the flows, every fund's yearly spending against its
    appropriation plus carry-over under the scenario's rule, delays against the deadline, projects built before
    the plans that need them, project capacities, relocation per county and year, and the objective.
    ``appropriation`` (funds x years, yuan) replaces the funds' split by the profile (a county of the
    decomposition, with the yearly money the master gave it). Returns the violations (empty when sound)."""
    from .verify import check_plans, holder_levels, listed, manifest_labels, non_finite

    yrs = scenario.years
    assert yrs is not None
    bad = non_finite({k: v for k, v in result.tables.items() if k != "households"}, result.manifest)
    hh_out = result.table("households")
    bad += non_finite({"households": hh_out}, {}) + manifest_labels(result.manifest)
    if bad:
        return bad
    flows = result.tables["flows"]
    spending = result.tables["spending"]
    projects = result.tables["projects"]
    hh_in = instance.households.set_index("household_id")
    if hh_out["household_id"].duplicated().any() or set(hh_out["household_id"]) != set(hh_in.index):
        return ["households in the output differ from the registered ones (missing, unknown or repeated)"]
    m = instance.measures.set_index("measure_id")
    started = _truthy(hh_out["started"])
    year = hh_out["year"].to_numpy(dtype=np.int64)
    from_year = from_year if from_year is not None else (result.manifest.get("rolling") or {}).get("from_year")
    paid_before = started & (year < from_year) if from_year is not None else np.zeros(len(hh_out), dtype=bool)
    # what holds for a plan whatever its year (the one-year verifier's rules): eligibility, complementarity and hard
    # floors (not for a kept start: decided under the settings of its run), project ties, fund scope, earmarks,
    # co-financing per (year, village, category), income after and p_success
    plan_bad, facts = check_plans(hh_out, projects, flows, instance, scenario, ("year", "village_id", "category"), paid_before)
    bad += plan_bad
    if facts is None:
        return bad
    long = facts.long.assign(delay=measure_delays(instance, yrs)[pd.Index(instance.measures["measure_id"]).get_indexer(facts.long["measure"])])
    cost = np.bincount(long["row"].to_numpy(), weights=long["cost"].to_numpy(), minlength=len(hh_out))
    paid = hh_out["cost"].to_numpy(dtype=float)
    if (~paid_before & (np.abs(cost - paid) > MONEY_TOL)).any():
        bad.append("household cost differs from its measures' cost")
    long["cost"] *= np.where(paid_before, np.divide(paid, cost, out=np.ones_like(cost), where=cost > 0), 1.0)[long["row"].to_numpy()]
    # a kept start whose measures cost nothing today keeps what it was paid (its measures' rows cannot carry it)
    unpriced = np.flatnonzero(paid_before & (cost <= 0) & (paid > MONEY_TOL))
    if (started & ((year < yrs.first) | (year > yrs.last))).any() or (~started & (cost > 0)).any():
        bad.append("plan started outside the planning years (or a paid plan never started)")
    delay = np.zeros(len(hh_out), dtype=np.int64)
    np.maximum.at(delay, long["row"].to_numpy(), long["delay"].to_numpy())
    late = started & (year + delay > yrs.last)
    p_dead = hh_out["p_deadline"].to_numpy(dtype=float)
    if (late & (p_dead > 1e-9)).any():
        bad.append("plan counted as effective at the deadline though its delay ends after it")
    if (started & (hh_out["effect_year"].to_numpy(dtype=np.int64) != year + delay)).any():
        bad.append("effect year differs from start year plus the measures' delay")
    if yrs.max_start_years is not None:  # the start years offered (build_options): a kept start was offered by its run
        first = np.where(hh_out["project_id"].astype(str).to_numpy() != "", project_lag(yrs.last - yrs.first + 1), 0)
        t = year - yrs.first
        offered = (t < first + yrs.max_start_years) | (t == np.maximum(first, (from_year or yrs.first) - yrs.first))
        if (started & ~paid_before & ~offered).any():
            bad.append(f"plan started in a year years.max_start_years ({yrs.max_start_years}) does not offer: "
                       f"{listed(list(hh_out['household_id'][started & ~paid_before & ~offered]))}")
    # monitoring: only of a plan that takes effect before the deadline, in its last years at risk (effect year + 1
    # .. deadline), at years.monitoring.cost per year (its money is checked with the spending below)
    monitored = _monitored(hh_out)
    mon_years = monitoring_years_of(hh_out, yrs.last)
    if monitored.any():
        if yrs.monitoring is None:
            bad.append("households monitored though the scenario has no years.monitoring")
        elif (monitored & (~started | late | (mon_years < 1) | (mon_years > yrs.last - (year + delay)))).any():
            bad.append("household monitored without a plan that takes effect before the deadline, or in years before its effect")
    if "monitoring_years" in hh_out.columns and (~monitored & (hh_out["monitoring_years"].to_numpy(dtype=np.int64) != 0)).any():
        bad.append("monitoring years given for a household that is not monitored")
    mon_cost = np.where(monitored & (mon_years > 0), mon_years * (yrs.monitoring.cost if yrs.monitoring is not None else 0.0), 0.0)
    if "monitoring_cost" in hh_out.columns and (np.abs(hh_out["monitoring_cost"].to_numpy(dtype=float) - mon_cost) > MONEY_TOL).any():
        bad.append("monitoring cost differs from the years monitored at years.monitoring.cost")
    risk = _risk(instance, scenario, hh_out)
    expect = np.where(late, 0.0, _out_in(hh_out, risk, yrs, yrs.last))
    if (np.abs(expect - p_dead) > 1e-6).any():
        bad.append("probability at the deadline differs from p_success discounted by the return risk")
    # value: the plan's one-year value (recomputed by check_plans) weighted by its chance of staying out to the
    # deadline and its years out before it (deadline_weight), from its start year, delay, risk and monitoring; 0
    # when it takes effect after the deadline. A household never started is out with its plan's p in every year
    effect = np.where(started, year + delay, yrs.first)
    value = np.where(late, 0.0, facts.value * deadline_weight(np.where(started, risk, 0.0), yrs, effect, mon_years))
    off = ~(np.abs(hh_out["value"].to_numpy(dtype=float) - value) <= 1e-6 * np.maximum(1.0, np.abs(value)))
    if off.any():
        bad.append(f"household value differs from its plan's at its start year, delay, return risk and monitoring: {listed(list(hh_out['household_id'][off]))}")
    # spending per (year, village, category) equals the money flowing in
    long = long.assign(year=year[long["row"].to_numpy()], village_id=hh_out["village_id"].to_numpy()[long["row"].to_numpy()])
    built = projects[projects["built"].astype(str).str.lower().isin(["true", "1"])]
    pr_in = instance.projects.set_index("project_id")
    mrow = np.repeat(np.flatnonzero(mon_cost > 0), mon_years[mon_cost > 0])
    n_m = mon_years[mon_cost > 0]
    monitoring = pd.DataFrame(
        {"year": yrs.last + 1 - mon_years[mrow] + run_positions(n_m),
         "village_id": hh_out["village_id"].to_numpy()[mrow],
         "category": yrs.monitoring.category if yrs.monitoring is not None else "", "cost": yrs.monitoring.cost if yrs.monitoring is not None else 0.0}
    )  # fmt: skip
    kept_build = pd.to_numeric(built["built_year"]).to_numpy() < (from_year or 0)
    cost_in = pr_in["cost"].reindex(built["project_id"]).to_numpy(dtype=float)
    if (~kept_build & ~(np.abs(built["cost"].to_numpy(dtype=float) - cost_in) <= MONEY_TOL)).any() or (
        ~_truthy(projects["built"]) & (projects["cost"].to_numpy(dtype=float) != 0)
    ).any():
        bad.append("project cost differs from its input cost (0 when not built)")
    decided = pd.concat(
        [
            long[["year", "village_id", "category", "cost"]],
            pd.DataFrame({"year": built["built_year"].astype(int).to_numpy(), "village_id": pr_in["village_id"].reindex(built["project_id"]).to_numpy(),
                          "category": pr_in["category"].reindex(built["project_id"]).to_numpy(),
                          "cost": np.where(kept_build, built["cost"].to_numpy(dtype=float), cost_in)}),
            pd.DataFrame({"year": year[unpriced], "village_id": hh_out["village_id"].to_numpy()[unpriced], "category": "", "cost": paid[unpriced]}),
        ],
        ignore_index=True,
    )  # fmt: skip
    spent_on = pd.concat([decided, monitoring], ignore_index=True)
    ahead, flows_ahead = spent_on["year"].to_numpy() >= (from_year or 0), flows["year"].to_numpy() >= (from_year or 0)
    need = spent_on[ahead].groupby(["year", "village_id", "category"])["cost"].sum()
    paid_in = flows[flows_ahead].groupby(["year", "village_id", "category"])["amount"].sum()
    both = pd.concat([need.rename("need"), paid_in.rename("paid")], axis=1).fillna(0.0)
    if ((both["need"] - both["paid"]).abs() > MONEY_TOL + 1e-7 * both["need"]).any():
        bad.append("spending not matched by fund money in (year, village, category)")
    # a re-plan's kept years hold what the previous plan paid there (kept_paid): a year's money covers its kept starts
    # and builds (their monitoring was paid at its price then). By year, not by village: a household may have moved
    # since its start was paid, and its money stays where it was paid
    kept_need = decided[decided["year"].to_numpy() < (from_year or 0)].groupby("year")["cost"].sum()
    kept_in = flows[~flows_ahead].groupby("year")["amount"].sum()
    kept_both = pd.concat([kept_need.rename("need"), kept_in.rename("paid")], axis=1).fillna(0.0)
    if (kept_both["paid"] < kept_both["need"] - MONEY_TOL - 1e-7 * kept_both["need"]).any():
        short = kept_both[kept_both["paid"] < kept_both["need"] - MONEY_TOL - 1e-7 * kept_both["need"]].head(5)
        bad.append("spending of a kept year not covered by the fund money of that year: " + "; ".join(
            f"{y}: {n:,.2f} yuan of kept starts and builds, {q:,.2f} paid" for y, n, q in short[["need", "paid"]].itertuples()))
    # yearly budgets with carry-over, recomputed from the appropriations
    approp = appropriations(instance, yrs, withheld) if appropriation is None else appropriation
    fund_bad, spent_fy, _ = fund_year_check(yrs, instance.funds["fund_id"].to_numpy(), approp, flows)
    bad += fund_bad
    spent = flows.groupby(["fund_id", "year"])["amount"].sum()
    out = spending.set_index(["fund_id", "year"])["spent"]
    if (np.abs(out.reindex(spent.index).fillna(0.0).to_numpy() - spent.to_numpy()) > MONEY_TOL).any():
        bad.append("spending table differs from the flows")
    if {"level", "level_name"} <= set(spending.columns):  # the per-year spending by level that planners read
        level, names = holder_levels(instance, spending["fund_id"])
        if ((pd.to_numeric(spending["level"], errors="coerce").to_numpy() != level) | (spending["level_name"].astype(str).to_numpy() != names)).any():
            bad.append("spending table's level differs from the level of the fund's holder")
    # a county of the decomposition carries within the master's money (its table is not the run's); a night's stored
    # version keeps what it spent only
    if appropriation is None and {"appropriation", "carry_in", "carry_out"} <= set(spending.columns):
        bad += _spending_problems(spending, instance.funds["fund_id"].to_numpy(), yrs, approp, spent_fy)
    if "counties" in result.tables:  # a night's version holds no counties table
        bad += _county_problems(result.tables["counties"], instance, scenario, hh_out)
    # projects: built once, before the plans that need them, within capacity
    tied = hh_out[hh_out["project_id"].astype(str) != ""]
    by = pd.Series(pd.to_numeric(built["built_year"]).to_numpy(), index=built["project_id"].to_numpy())
    when = by.reindex(tied["project_id"].astype(str)).to_numpy()
    if (~np.isfinite(when) | (when + project_lag(yrs.last - yrs.first + 1) > tied["year"].to_numpy(dtype=float))).any():
        bad.append("plan started before (or without) the project it needs was built")
    load = tied["project_id"].value_counts()
    if (load > pr_in["capacity"].reindex(load.index).fillna(0)).any():
        bad.append("project over capacity")
    # relocation per county and year
    if yrs.relocation_rate is not None:
        reloc = set(m.index[m["category"] == Category.RELOCATION.value])
        has = long[long["measure"].isin(reloc)]["row"].unique()
        tree = instance.tree
        county = tree.ancestors[tree.pos(hh_out["village_id"].to_numpy()[has]), Level.COUNTY]
        counts = pd.Series(1, index=pd.MultiIndex.from_arrays([county, year[has]])).groupby(level=[0, 1]).sum()
        ct = county_table(instance).set_index("county")
        capacity = np.floor(yrs.relocation_rate * ct["poor"].reindex(counts.index.get_level_values(0)).to_numpy())
        if (counts.to_numpy() > capacity).any():
            bad.append("relocation over a county's yearly capacity")
    # min-cost targets: expected out at the deadline, and every scheduled county at or below its threshold in
    # every year from its year on (recomputed from the household table)
    if scenario.mode == "min_cost":
        if scenario.target.lifted is not None and float(p_dead.sum()) < scenario.target.lifted - 1e-6 * max(1.0, scenario.target.lifted):
            bad.append(f"expected out of poverty at the deadline {float(p_dead.sum()):,.3f} is below target.lifted {scenario.target.lifted:,.3f}")
        counties = county_table(instance)
        schedule = _exit_schedule(instance, scenario, counties)
        if (schedule > 0).any():
            tree = instance.tree
            row = pd.Index(counties["county"]).get_indexer(tree.ancestors[tree.pos(hh_out["village_id"].to_numpy()), Level.COUNTY])
            limit = scenario.target.incidence_limit(instance.regions["western"].to_numpy(dtype=bool)[counties["county"].to_numpy()])
            rural = counties["rural"].to_numpy(dtype=float)
            for y in year_list(yrs):
                poor = counties["poor"].to_numpy() - np.bincount(row, weights=_out_in(hh_out, risk, yrs, int(y)), minlength=len(counties))
                over = (schedule > 0) & (schedule <= y) & (poor - limit * rural > INCIDENCE_TOL * np.maximum(rural, 1.0))
                bad += [f"county {c} above its incidence threshold in {y} ({p:,.2f} expected poor of {r:,.0f}, threshold {t:.2%}; its year is {s})"
                        for c, p, r, t, s in zip(counties["county_id"][over], poor[over], rural[over], limit[over], schedule[over])]  # fmt: skip
    # objective and the manifest's figures
    total = float(decided["cost"].sum() + monitoring["cost"].sum())
    objective = float(value.sum()) if scenario.mode == "max_lifted" else float(flows["amount"].sum())
    bad += _manifest_problems(result.manifest, scenario, objective, total, len(hh_out), int(monitored.sum()), float(mon_cost.sum()))
    if abs(float(p_dead.sum()) - result.manifest["expected_out_at_deadline"]) > 1e-6 * max(1.0, float(p_dead.sum())):
        bad.append("reported expected households out at the deadline differs from the household table")
    return bad


def _manifest_problems(
    manifest: dict[str, Any], scenario: Scenario, objective: float, cost: float, households: int, monitored: int, monitoring_cost: float
) -> list[str]:
    """The manifest's figures against those recomputed from the tables and the inputs: the objective (max-lifted:
    the households' values; min-cost: the money of the flows, what the plans, projects and monitoring cost), the
    bound on its right side with a gap not below what they leave, cost, households, years and monitoring."""
    from .verify import bound_violations

    yrs = scenario.years
    assert yrs is not None
    bad = []
    money = scenario.mode == "min_cost"
    reported = float(manifest["objective"])
    if not abs(objective - reported) <= 1e-6 * max(1.0, abs(objective)) + (MONEY_TOL if money else 0.0):
        bad.append(f"manifest: objective is {reported:,.6f} but {objective:,.6f} recomputed from the " + ("flows" if money else "households' values"))
    bad += bound_violations(manifest, "min" if money else "max")
    figures = {"cost": (cost, MONEY_TOL + 1e-6 * cost), "households": (households, 0.0), "monitored": (monitored, 0.0),
               "monitoring_cost": (monitoring_cost, MONEY_TOL + 1e-7 * monitoring_cost)}  # fmt: skip
    for key, (value, tol) in figures.items():
        if key in manifest and not abs(float(manifest[key]) - value) <= tol:
            bad.append(f"manifest: {key} is {manifest[key]} but {float(value)} recomputed")
    if manifest.get("years") != [yrs.first, yrs.last]:
        bad.append(f"manifest: years {manifest.get('years')} are not the scenario's years.first..last [{yrs.first}, {yrs.last}]")
    return bad


def solve_verified(scenario: Scenario, instance: Instance, **kw: Any) -> MultiYearResult:
    """:func:`solve_multiyear` of an instance held in memory (``kw``: its options), then :func:`verify_multiyear`
    against that instance with the scenario's data edits; any violation raises :class:`VerificationError`."""
    say = kw.get("progress") or (lambda msg: log.info(msg))
    result = solve_multiyear(scenario, instance, **kw)
    say("verifying the multi-year result")
    bad = verify_multiyear(result, apply_data_edits(instance, scenario.data_edits), scenario)
    if bad:
        raise VerificationError(bad)
    return result


def run_multiyear(
    scenario: Scenario,
    *,
    out: Path | None = None,
    solver: str | None = None,
    time_limit: float | None = None,
    gap: float | None = None,
    previous: Path | None = None,
    from_year: int | None = None,
    progress: Progress | None = None,
    report: bool = True,
    method: str = "auto",
    scheduler: str | None = None,
    workers: int = 2,
) -> MultiYearResult:
    """The CLI path: solve, verify (raises on any violation), write ``out`` (default ``out/<name>``) with its
    ``report.html`` (unless ``report`` is false) and print the county exit schedule. A partitioned instance
    decomposed by county is verified county by county on the workers (and every fund's yearly budget on the
    driver): the driver never loads its households."""
    from .solve import worker_source

    given: dict[str, object] = {"solver.name": solver, "solver.time_limit": time_limit, "solver.gap": gap}
    overrides = {k: v for k, v in given.items() if v is not None}
    if overrides:
        scenario = scenario.with_overrides(overrides)
    say = progress or (lambda msg: log.info(msg))
    from .outputs import check_target

    target = out or Path("out") / scenario.name
    check_target(target)  # before solving: never replace a folder that is not a run
    written = Path(os.path.realpath(target))
    if previous is not None and Path(os.path.realpath(previous)) in (written, *written.parents):
        raise InputError(f"--out {target} would replace the previous run {previous} that this re-plan keeps decisions from (and the new run "
                         "would name itself as its previous one, never to be reproduced); write the re-plan into another folder")  # fmt: skip
    kw: dict[str, Any] = {"progress": say, "previous": previous, "from_year": from_year, "method": method, "scheduler": scheduler, "workers": workers}
    if previous is None and from_year is None and worker_source(scenario, None, method) is not None:
        result = solve_multiyear(scenario, **kw)
    else:
        result = solve_verified(scenario, load_source(scenario.data_source), **kw)
    from .report import REPORT, write_with_report

    target = out or Path("out") / scenario.name
    folder = write_with_report(lambda page: result.write(target, report_page=page), result, report)
    man = result.manifest
    say(
        f"objective {man['objective']:,.2f} (bound {man['bound']:,.2f}, gap {man['gap']:.3%}); "
        f"expected out at the deadline {man['expected_out_at_deadline']:,.1f}"
    )
    note = gap_note(man, scenario.solver.gap)
    if note:
        say(note)
    say(exit_schedule_line(exit_schedule(result)))
    say(f"wrote {folder}" + (f" with its {REPORT}" if report else ""))
    return result
