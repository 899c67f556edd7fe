"""The independent verifier (DESIGN §7).

It recomputes every constraint and the objective from the output tables, the input data and the scenario
alone: it does not use plans, the model matrices or anything the solver returned. It shares only the
data loader and the contract with the rest of the program.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import erfc

from .contract import ANY_CATEGORY, LEVEL_NAMES, LIST_SEP, PLAN_PROJECT_SEP, PROJECT_RULE, Effect, IncomeKind, Level
from .data import Instance, file_sha256, isin, plan_measures, rule_passes
from .edits import apply_data_edits, load_scenario_data
from .errors import InputError, VerificationError, check_argument
from .helpers import CLOSENESS, DISPATCH_COST, SKILL_WEIGHT, household_needs, reach_regions
from .outputs import INPUTS_DIFFER, MANIFEST, changed_outputs, read_manifest, read_run, twin_differences
from .result import Result
from .scenario import Scenario, is_url, recorded_scenario
from .solve import relative_gap
from .solvers import BACKENDS, Status
from .storage import load_source, redact, registry_hashes

MONEY_TOL = 0.5  # yuan, absolute, plus a relative 1e-7
PROB_TOL = 1e-7
SHOWN = 10


def verify_run(run_dir: str | Path) -> Result:
    """Verify a run folder against the inputs named in its manifest; raise on any violation. A multi-year run
    folder is checked by :func:`optimizer.multiyear.verify_multiyear_run`.

    Its files are first checked against the sha256 the run recorded: a changed or damaged file is a violation
    (with the recomputed ones, when it can still be read), and an input that changed since the run is refused
    (:class:`InputError`) rather than reported as the run's violation."""
    check_argument(run_dir, (str, Path), "verify_run: run_dir")
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    scenario = recorded_scenario(manifest, str(run_dir / MANIFEST))
    check_folder_inputs(manifest, scenario.data_source, run_dir, "verified")
    loaded = _database_inputs(manifest, scenario.data_source, run_dir)
    changed = changed_outputs(run_dir, manifest)
    if not changed and not manifest.get("multiyear"):  # the Parquet tables are verified: the CSV twins must say the same
        changed = twin_differences(run_dir)
    try:
        if manifest.get("multiyear"):
            from .multiyear import verify_multiyear_run

            checked = verify_multiyear_run(run_dir)
            result = Result(tables=checked.tables, manifest=checked.manifest)
        else:
            result = read_run(run_dir)
            instance = load_scenario_data(scenario) if loaded is None else apply_data_edits(loaded, scenario.data_edits)
            verify(result, instance, scenario)
    except VerificationError as err:
        raise VerificationError(changed + err.violations) from None
    except InputError as err:
        raise InputError(err.problems + changed, source=err.source) from None
    if changed:
        raise VerificationError(changed)
    return result


def _database_inputs(manifest: dict[str, object], source: str, run_dir: Path) -> Instance | None:
    """Refuse a run solved from a registry database that changed since (a payment recorded, a household exited):
    its violations against today's registry would be blamed on the run. Returns the registry when it was read whole
    to hash it (the verifier checks against it; None otherwise)."""
    recorded = manifest.get("input_hashes")
    if not is_url(source) or not isinstance(recorded, dict) or not recorded:
        return None
    if any(str(k).endswith("(by key)") for k in recorded):  # hashed as its workers read it, county by county
        check_inputs(source, recorded, run_dir, registry_hashes(source), "verified")
        return None
    loaded = load_source(source)
    check_inputs(source, recorded, run_dir, loaded.hashes, "verified")
    return loaded


def check_folder_inputs(manifest: dict[str, object], source: str, run_dir: Path, purpose: str) -> None:
    """Refuse a run solved on data that were not its scenario's files (:func:`optimizer.outputs.inputs_differ`), or
    whose input folder's files (a database is not checked here) differ from those it recorded: they are checked
    before they are read, since a changed file may not even load."""
    differ = manifest.get(INPUTS_DIFFER)
    if differ:
        raise InputError(
            f"the run was not solved on its scenario's data ({differ}), so it cannot be {purpose} from them; "
            "check its Result in Python with optimizer.verify(result), which uses the data it was solved on",
            source=str(run_dir),
        )
    recorded = manifest.get("input_hashes")
    if isinstance(recorded, dict) and recorded and not is_url(source):
        now = {n: file_sha256(Path(source) / n) for n in recorded if (Path(source) / n).is_file()}
        check_inputs(source, recorded, run_dir, now, purpose)


def check_inputs(source: str, recorded: dict[str, str], run_dir: Path, now: dict[str, str], purpose: str = "reproduced") -> None:
    """Refuse when an input recorded in the manifest (a file, or a table of a database) is missing from ``now``
    or its sha256 differs."""
    problems = []
    where = redact(source)
    for name, digest in sorted(recorded.items()):
        if name not in now:
            problems.append(f"{where}/{name}: missing (it was read by the run)")
        elif now[name] != digest:
            problems.append(f"{where}/{name}: changed since the run (sha256 {digest[:12]}... recorded, {now[name][:12]}... now)")
    if problems:
        raise InputError(problems, source=f"{run_dir}: the inputs differ from those recorded, so the run cannot be {purpose}")


def verify(result: Result, instance: Instance | None = None, scenario: Scenario | None = None) -> None:
    """Raise :class:`VerificationError` listing every violated constraint (silent when all hold).

    ``instance`` is the data as solved, with the scenario's data edits applied
    (:func:`optimizer.edits.load_scenario_data`); by default the result's own. A ``scenario`` whose data edits differ
    from the result's needs its own ``instance``: the result's would check it against other money."""
    check_argument(result, Result, "verify: result (a one-year Result; a multi-year one is checked by optimizer.multiyear.verify_multiyear)")
    check_argument(instance, (Instance, type(None)), "verify: instance")
    check_argument(scenario, (Scenario, type(None)), "verify: scenario")
    if instance is None and scenario is not None and result.scenario is not None and scenario.data_edits != result.scenario.data_edits:
        raise InputError(
            "verify: the scenario's data edits differ from those the result was solved with; give the instance they make "
            "(optimizer.edits.load_scenario_data(scenario)) as well"
        )
    instance = instance or result.instance
    scenario = scenario or result.scenario
    if instance is None and (result.manifest.get("decomposition") or {}).get("verified"):
        _shared_funds(result)  # each county was verified on its worker against its inputs and its share of the money
        return
    if instance is None or scenario is None:
        raise InputError(
            "verify needs the instance and the scenario the result was solved with (a Result read back by read_run carries "
            "neither: check a run folder with optimizer.verify_run(run_dir))"
        )
    v = _Checker(result, instance, scenario)
    v.run()
    if v.violations:
        raise VerificationError(v.violations)


def listed(items: list[object]) -> str:
    """A few of the offending ``items`` (the first ten), and how many more."""
    return ", ".join(map(str, items[:SHOWN])) + (f" (+{len(items) - SHOWN} more)" if len(items) > SHOWN else "")


def non_finite(tables: dict[str, pd.DataFrame], manifest: dict[str, object]) -> list[str]:
    """Every number in the tables and the manifest's figures is a number: NaN passes every ``abs(a - b) > tol``.
    (A bound or gap may be infinite: a solve stopped before it had one.)"""
    out = []
    for name, df in tables.items():
        for col in df.columns:
            if pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col]):
                bad = ~np.isfinite(df[col].to_numpy(dtype=float))
                if bad.any():
                    out.append(f"{name} table: column {col} is not a finite number in the rows of: {listed(list(df.loc[bad, df.columns[0]]))}")
    for key in ("objective", "expected_lifted", "expected_out_at_deadline", "persons_lifted", "cost", "bound", "gap"):
        value = manifest.get(key)
        if value is None:
            continue
        number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
        if math.isnan(number) or (key not in ("bound", "gap") and not math.isfinite(number)):
            out.append(f"manifest: {key} is {value!r}, not a number")
    return out


def manifest_labels(manifest: dict[str, object]) -> list[str]:
    """The manifest's status is one a written run has (a solution: optimal, or feasible when stopped) and its
    solver one the scenario can name, the one its recorded scenario names."""
    out = []
    solution = (Status.OPTIMAL.value, Status.FEASIBLE.value)
    if "status" in manifest and manifest["status"] not in solution:
        out.append(f"manifest: status {manifest['status']!r} is not that of a solution ({' or '.join(solution)})")
    if "solver" in manifest:
        scenario = manifest.get("scenario")
        section = scenario.get("solver") if isinstance(scenario, dict) else None
        named = section.get("name") if isinstance(section, dict) else None
        if manifest["solver"] not in BACKENDS:
            out.append(f"manifest: solver {manifest['solver']!r} is none of {', '.join(BACKENDS)}")
        elif named is not None and manifest["solver"] != named:
            out.append(f"manifest: solver {manifest['solver']!r} is not the recorded scenario's ({named!r})")
    return out


def holder_levels(instance: Instance, fund_ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The level and level name of each fund's holder, recomputed from the inputs (an unknown fund's: those of the
    tree's first region)."""
    tree = instance.tree
    holder = instance.funds.set_index("fund_id")["region_id"].reindex(fund_ids).fillna("")
    level = tree.level[np.maximum(tree.pos(holder), 0)]
    return level, np.array([LEVEL_NAMES[Level(lv)] for lv in range(6)], dtype=object)[level]


def bound_violations(manifest: dict[str, object], sense: str) -> list[str]:
    """The manifest's bound lies on the right side of its objective (above it when maximising, ``sense`` "max"), and
    its gap is neither negative nor outside what its objective and bound give by the usual formulas (the larger or
    the smaller of the two as denominator)."""
    obj, bound, gap = manifest.get("objective"), manifest.get("bound"), manifest.get("gap")
    if not manifest.get("status") or not isinstance(obj, int | float) or not isinstance(bound, int | float):
        return []
    out = []

    def wrong_side(value: float) -> bool:
        return value < obj - 1e-6 * max(1.0, abs(obj)) if sense == "max" else value > obj + MONEY_TOL + 1e-9 * abs(obj)

    if wrong_side(bound):
        out.append(f"manifest: the bound {bound:,.6f} is on the wrong side of the objective {obj:,.6f}")
    for key in ("lp_bound", "structured_bound"):  # bounds of relaxations: on the bound's side too
        other = manifest.get(key)
        if isinstance(other, int | float) and not isinstance(other, bool) and wrong_side(other):
            out.append(f"manifest: {key} {other:,.6f} is on the wrong side of the objective {obj:,.6f}")
    if isinstance(gap, int | float):
        if not gap >= -1e-9:
            out.append(f"manifest: gap {gap} is negative")
        # the least of the usual formulas (the larger of objective and bound as denominator): a gap of 0 beside a
        # bound far off passed
        least = relative_gap(sense, float(obj), float(bound))
        if gap < least - 1e-6:
            out.append(f"manifest: gap {float(gap):.6g} is below the {least:.6g} that its objective and bound leave")
        # nor above the most of them (the smaller as denominator): a gap of 0.5 beside 0.00049 passed
        most = least * max(abs(bound), abs(obj), 1e-9) / max(min(abs(bound), abs(obj)), 1e-9) if math.isfinite(least) else math.inf
        if gap > most + 1e-6:
            out.append(f"manifest: gap {float(gap):.6g} is above the {most:.6g} that its objective and bound leave")
    return out


@dataclass(frozen=True)
class PlanFacts:
    """What :func:`check_plans` recomputes of each household's plan (rows in the households table's order)."""

    households: pd.DataFrame  # the input households, aligned with the output's rows
    long: pd.DataFrame  # one row per (household row, measure given): row, measure, category, cost, ...
    p_success: np.ndarray  # the plan's chance of lifting the household (its one-year probability)
    value: np.ndarray  # the plan's one-year objective value: weighted, less the soft floors' penalty


def check_plans(
    households: pd.DataFrame,
    projects: pd.DataFrame,
    flows: pd.DataFrame,
    instance: Instance,
    scenario: Scenario,
    cells: Sequence[str] = ("village_id", "category"),
    settled: np.ndarray | None = None,
) -> tuple[list[str], PlanFacts | None]:
    """The rules each plan and flow obeys whatever the horizon, for a multi-year verifier to share with this one:
    village, eligibility, complementarity, hard floors, project ties, fund scope, earmarks and co-financing (per
    ``cells`` of the flows), income after and success probability. ``households`` must hold the registered
    households once each. ``settled`` rows (a re-plan's kept starts, decided under other settings) are exempt from
    the complementarity and floor rules. Returns the violations and the recomputed facts (None when the plans
    cannot be read: a household in another village or an unknown measure)."""
    v = _Checker(Result(tables={"households": households, "projects": projects, "flows": flows}, manifest={}), instance, scenario)
    facts = v.plans(households, cells, np.zeros(len(households), dtype=bool) if settled is None else settled)
    return v.violations, facts


def _shared_funds(result: Result) -> None:
    """What the counties of a decomposed run share: no fund spends more than it holds, by the flows table."""
    funds, flows = result.tables["funds"], result.tables["flows"]
    spent = flows.groupby("fund_id")["amount"].sum().reindex(funds["fund_id"]).fillna(0.0).to_numpy()
    amount = funds["amount"].to_numpy(dtype=float)
    over = funds["fund_id"].to_numpy()[spent > amount + MONEY_TOL + 1e-7 * np.abs(amount)]
    problems = [f"fund spends more than it holds: {', '.join(map(str, over[:SHOWN]))}"] if len(over) else []
    unknown = flows.loc[~flows["fund_id"].isin(funds["fund_id"]), "fund_id"].unique()
    if len(unknown):
        problems.append(f"flow from an unknown fund: {', '.join(map(str, unknown[:SHOWN]))}")
    if problems:
        raise VerificationError(problems)


def _pairs(frame: pd.DataFrame, rows: np.ndarray, a: str, sep: str, b: str) -> pd.Series:
    """"a{sep}b" of the offending ``rows`` of ``frame`` (built for those only: most checks find none)."""
    bad = frame.loc[rows]
    return bad[a].astype(str) + sep + bad[b].astype(str)


class _Checker:
    def __init__(self, result: Result, instance: Instance, scenario: Scenario):
        self.r, self.inst, self.sc = result, instance, scenario
        self.violations: list[str] = []

    def fail(self, what: str, offenders: pd.Series | np.ndarray | list[str]) -> None:
        items = list(offenders)
        if items:
            self.violations.append(f"{what}: {listed(items)}")

    @functools.cached_property
    def _built(self) -> np.ndarray:
        """Whether the output builds each input project (in the input's order; a project it omits is not built)."""
        flag = self.r.tables["projects"].set_index("project_id")["built"].astype(str).str.lower().isin(["true", "1"])
        return flag.reindex(self.inst.projects["project_id"]).fillna(False).to_numpy(dtype=bool)

    def run(self) -> None:
        self._finite()
        if self.violations:
            return
        hh_out = self.r.households
        hh_in = self.inst.households
        # one plan per household, for exactly the registered households
        counts = hh_out["household_id"].value_counts()
        self.fail("household with more than one plan", counts.index[counts > 1])
        self.fail("household missing from the output", hh_in.loc[~isin(hh_in["household_id"], hh_out["household_id"]), "household_id"])
        self.fail("unknown household in the output", hh_out.loc[~isin(hh_out["household_id"], hh_in["household_id"]), "household_id"])
        if self.violations:
            return
        facts = self.plans(hh_out, ("village_id", "category"), np.zeros(len(hh_out), dtype=bool))
        if facts is None:
            return
        hh, long = facts.households, facts.long
        self._costs(hh_out, long)
        self._projects(hh_out, long)
        self._money(long)
        self._probabilities(hh_out, facts)
        self._targets(hh_out, hh)
        self._equity(hh_out)
        if "helper_id" in hh_out.columns:
            missing = [t for t in ("helpers", "shortage") if t not in self.r.tables]
            if missing:  # an assignment comes with both tables (a deleted one ended in a KeyError)
                self.violations.append(f"households have helpers but the run has no {' or '.join(missing)} table")
            else:
                self._helpers(hh_out)
        self._marginal()
        self._summaries(hh_out, hh, long)

    def plans(self, hh_out: pd.DataFrame, cells: Sequence[str], settled: np.ndarray) -> PlanFacts | None:
        """The checks of :func:`check_plans`, on the registered households (once each)."""
        hh = self.inst.households.set_index("household_id").loc[hh_out["household_id"]].reset_index()
        before = len(self.violations)
        self.fail("household in the wrong village", hh_out.loc[hh_out["village_id"].to_numpy() != hh["village_id"].to_numpy(), "household_id"])
        long = self._measures_long(hh_out, hh)
        if len(self.violations) > before:
            return None
        # the label analysts read, and that a re-plan and the churn cap match plans by, names the measures checked
        tie = hh_out["project_id"].astype(str).to_numpy(dtype=object)
        label = hh_out["measures"].astype(str).to_numpy(dtype=object) + np.where(tie != "", PLAN_PROJECT_SEP + tie, "")
        self.fail("plan label differs from its measures and project", hh_out.loc[hh_out["plan"].astype(str).to_numpy(dtype=object) != label, "household_id"])
        self._eligibility(long, hh)
        self._combinations(hh_out[~settled])
        covers = self._covers(long, len(hh))
        self._floors(hh_out, hh, covers, settled)
        self._project_ties(hh_out, long)
        self._project_facts()
        self._fund_rules(cells)
        p, value = self._plan_scores(hh_out, hh, long, covers)
        return PlanFacts(households=hh, long=long, p_success=p, value=value)

    def _finite(self) -> None:
        self.violations += non_finite(self.r.tables, self.r.manifest) + manifest_labels(self.r.manifest)

    def _summaries(self, hh_out: pd.DataFrame, hh: pd.DataFrame, long: pd.DataFrame) -> None:
        """The tables and figures that add up the plans (funds, regions, poverty, the manifest) say what the plans
        and flows say: analysts read these, not the plans."""
        flows = self.r.tables["flows"]
        pr_in = self.inst.projects
        built = self._built
        project_cost = np.where(built, pr_in["cost"].to_numpy(dtype=float), 0.0)
        p = hh_out["p_success"].to_numpy(dtype=float)
        size = hh["size"].to_numpy(dtype=float)
        funds = self.r.tables.get("funds")
        if funds is not None:
            spent = flows.groupby("fund_id")["amount"].sum().reindex(funds["fund_id"]).fillna(0.0).to_numpy()
            off = ~(np.abs(funds["spent"].to_numpy(dtype=float) - spent) <= 0.01 + 1e-9 * spent)
            self.fail("funds table: spent differs from the fund's flows", funds.loc[off, "fund_id"])
            self._fund_facts(funds)
        regions = self.r.tables.get("regions")
        if regions is not None:
            self._regions(regions, hh_out, long, built, project_cost, p, size)
        poverty = self.r.tables.get("poverty")
        if poverty is not None:
            self._fgt(poverty, hh_out, hh, size)
        if poverty is not None and "expected_headcount" in set(poverty["measure"]):
            after = float(poverty.set_index("measure").loc["expected_headcount", "after"])
            if size.sum() > 0 and abs(after - ((1.0 - p) * size).sum() / size.sum()) > 1e-9:
                self.violations.append(f"poverty table: expected headcount after is {after:.9f}, recomputed {((1.0 - p) * size).sum() / size.sum():.9f}")
        man = self.r.manifest
        cost = float(long["cost"].sum() + project_cost.sum())
        figures = {"households": (float(len(hh_out)), 0.0), "projects_built": (float(built.sum()), 0.0), "persons": (float(size.sum()), 0.0),
                   "cost": (cost, MONEY_TOL + 1e-7 * cost), "persons_lifted": (float((p * size).sum()), 1e-6 * max(1.0, float((p * size).sum())))}  # fmt: skip
        for key, (value, tol) in figures.items():
            if key in man and not abs(float(man[key]) - value) <= tol:
                self.violations.append(f"manifest: {key} is {man[key]} but {float(value)} recomputed")
        self.violations += bound_violations(man, "max" if self.sc.mode == "max_lifted" else "min")

    def _fgt(self, poverty: pd.DataFrame, hh_out: pd.DataFrame, hh: pd.DataFrame, size: np.ndarray) -> None:
        """The poverty table's P0, P1 and P2 (Foster-Greer-Thorbecke over registered persons) before (the registered
        incomes) and after (the plans' mean incomes, checked with the plans)."""
        if not size.sum() > 0:
            return
        table = poverty.set_index("measure")
        line = self.sc.poverty.line
        incomes = {"before": hh["income_per_capita"].to_numpy(dtype=float), "after": hh_out["income_after"].to_numpy(dtype=float)}
        for when, income in incomes.items():
            gap = np.clip((line - income) / line, 0.0, None)
            for k, term in (("P0", gap > 0), ("P1", gap), ("P2", gap**2)):
                want = float((term * size).sum() / size.sum())
                got = float(table[when].get(k, np.nan)) if when in table.columns else np.nan
                if not abs(got - want) <= 1e-9:
                    self.violations.append(f"poverty table: {k} {when} is {got:.9f}, recomputed {want:.9f}")

    def _project_facts(self) -> None:
        """Each project's village, kind and category are the input's: the report's project tables read them."""
        out = self.r.tables["projects"]
        held = self.inst.projects.set_index("project_id").reindex(out["project_id"])
        wrong = np.zeros(len(out), dtype=bool)
        for col in ("village_id", "kind", "category"):
            wrong |= out[col].astype(str).to_numpy() != held[col].astype(str).to_numpy()
        self.fail("projects table: village, kind or category differs from the input's", out.loc[wrong, "project_id"])

    def _fund_facts(self, funds: pd.DataFrame) -> None:
        """Each fund's amount (with the run's data edits), holder and level are the input's: the report's budget
        tables read them."""
        held = self.inst.funds.set_index("fund_id").reindex(funds["fund_id"])
        unknown = held["region_id"].isna().to_numpy()
        self.fail("funds table: unknown fund", funds.loc[unknown, "fund_id"])
        amount = held["amount"].to_numpy(dtype=float)
        off = ~unknown & ~(np.abs(funds["amount"].to_numpy(dtype=float) - amount) <= MONEY_TOL + 1e-9 * np.abs(amount))
        self.fail("funds table: amount differs from the input's", funds.loc[off, "fund_id"])
        level, names = holder_levels(self.inst, funds["fund_id"])
        wrong = ~unknown & ((funds["region_id"].astype(str).to_numpy() != held["region_id"].astype(str).to_numpy())
                            | (funds["level"].to_numpy() != level) | (funds["level_name"].astype(str).to_numpy() != names))  # fmt: skip
        self.fail("funds table: holder or level differs from the input's", funds.loc[wrong, "fund_id"])
        paired = funds["paired"].astype(str).str.lower().isin(["true", "1"]).to_numpy()
        terms = ~unknown & ((funds["categories"].astype(str).to_numpy() != held["categories"].astype(str).to_numpy())
                            | (paired != held["paired"].eq(True).to_numpy()))  # fmt: skip
        self.fail("funds table: categories or paired differ from the input's", funds.loc[terms, "fund_id"])

    def _regions(
        self, regions: pd.DataFrame, hh_out: pd.DataFrame, long: pd.DataFrame, built: np.ndarray, project_cost: np.ndarray, p: np.ndarray, size: np.ndarray
    ) -> None:
        """Each region's households, persons, expected households and persons lifted, spending, projects built, rural
        households and incidence before and after, summed over its subtree."""
        tree = self.inst.tree
        n_r = len(tree.ids)
        v = tree.pos(hh_out["village_id"])
        pv = tree.pos(self.inst.projects["village_id"])
        per_village = {
            "households": np.bincount(v, minlength=n_r).astype(float),
            "persons": np.bincount(v, weights=size, minlength=n_r),
            "expected_lifted": np.bincount(v, weights=p, minlength=n_r),
            "persons_lifted": np.bincount(v, weights=p * size, minlength=n_r),
            "spend_total": np.bincount(v[long["row"].to_numpy()], weights=long["cost"].to_numpy(dtype=float), minlength=n_r)
            + np.bincount(pv, weights=project_cost, minlength=n_r),
            "projects_built": np.bincount(pv, weights=built.astype(float), minlength=n_r),
            "rural_households": np.where(tree.level == Level.VILLAGE, self.inst.regions["rural_households"].to_numpy(dtype=float), 0.0),
        }
        villages = tree.villages
        up = tree.ancestors[villages]  # each village's region at every level, itself included
        totals = {k: np.sum([np.bincount(up[:, lv], weights=w[villages], minlength=n_r) for lv in range(6)], axis=0) for k, w in per_village.items()}
        rows = tree.pos(regions["region_id"])
        self.fail("regions table: unknown region", regions.loc[rows < 0, "region_id"])
        if self.violations:
            return
        for col, want in totals.items():
            if col in regions.columns:
                got = regions[col].to_numpy(dtype=float)
                off = ~(np.abs(got - want[rows]) <= (MONEY_TOL if col.startswith("spend") else 1e-6) + 1e-7 * np.abs(want[rows]))
                self.fail(f"regions table: {col} differs from its households' sum", regions.loc[off, "region_id"])
        rural = totals["rural_households"][rows]
        base = np.where(rural > 0, rural, totals["households"][rows])
        poor = {"incidence_before": totals["households"][rows], "incidence_after": totals["households"][rows] - totals["expected_lifted"][rows]}
        for col, count in poor.items():
            if col in regions.columns:
                with np.errstate(divide="ignore", invalid="ignore"):
                    want_inc = np.where(base > 0, count / base, 0.0)
                off = ~(np.abs(regions[col].to_numpy(dtype=float) - want_inc) <= 1e-6)
                self.fail(f"regions table: {col} differs from the recomputed one", regions.loc[off, "region_id"])

    def _measures_long(self, hh_out: pd.DataFrame, hh: pd.DataFrame) -> pd.DataFrame:
        row, measure = plan_measures(hh_out["measures"])
        given = measure != "none"
        row, measure = row[given], measure[given]
        m = self.inst.measures
        pos = pd.Index(m["measure_id"]).get_indexer(measure)
        self.fail("unknown measure in a plan", pd.unique(measure[pos < 0]))
        long = pd.DataFrame({"row": row, "measure": measure})
        if self.violations:
            return long
        for col in ("batch", "category", "cost_fixed", "cost_per_person", "income_uplift", "income_kind"):
            long[col] = m[col].to_numpy()[pos]
        long["size"] = hh["size"].to_numpy()[row]
        long["cost"] = long["cost_fixed"] + long["cost_per_person"] * long["size"]
        long["household_id"] = hh_out["household_id"].to_numpy()[row]
        long["village_id"] = hh_out["village_id"].to_numpy()[row]
        return long

    def _eligibility(self, long: pd.DataFrame, hh: pd.DataFrame) -> None:
        measure, row, ids = long["measure"].to_numpy(), long["row"].to_numpy(), long["household_id"].to_numpy()
        for rule in self.inst.eligibility.itertuples(index=False):
            if rule.column == PROJECT_RULE:
                continue
            sel = np.flatnonzero(measure == rule.measure_id)
            ok = rule_passes(hh[rule.column].to_numpy()[row[sel]], rule.op, rule.value)
            self.fail(f"measure {rule.measure_id} given to ineligible households ({rule.column} {rule.op} {rule.value})", ids[sel[~ok]])

    def _combinations(self, hh_out: pd.DataFrame) -> None:
        allowed = set()
        for mid, text in zip(self.inst.measures["measure_id"], self.inst.measures["combines_with"]):
            for other in (s.strip() for s in str(text).split(LIST_SEP) if s.strip()):
                allowed |= {(mid, other), (other, mid)}
        labels = hh_out["measures"].astype(str)
        bad_labels = []
        for label in labels.unique():  # a few dozen distinct measure sets, however many households
            ms = [m for m in label.split("+") if m != "none"]
            if len(ms) > self.sc.plans.max_measures or any((a, b) not in allowed for i, a in enumerate(ms) for b in ms[i + 1 :]):
                bad_labels.append(label)
        self.fail("plan combines measures that are not complementary", hh_out.loc[labels.isin(bad_labels), "household_id"])

    def _covers(self, long: pd.DataFrame, n: int) -> dict[str, np.ndarray]:
        covers = self.inst.measures.set_index("measure_id")["covers"].astype(str).str.split(LIST_SEP)  # per measure, not per row
        out = {}
        for g in ("living", "education", "medical", "housing"):
            has = covers.apply(lambda items, g=g: g in items).reindex(long["measure"], fill_value=False).to_numpy(dtype=bool)
            out[g] = np.bincount(long["row"].to_numpy()[has], minlength=n) > 0
        return out

    def _floors(self, hh_out: pd.DataFrame, hh: pd.DataFrame, covers: dict[str, np.ndarray], settled: np.ndarray) -> None:
        if self.sc.floors.mode != "hard":
            return
        f = self.sc.floors
        ids = hh_out["household_id"]
        covers = {g: c | settled for g, c in covers.items()}  # a settled plan counts as meeting every floor
        if f.labourless_guarantee:
            self.fail("hard floor unmet: household without labour lacks a living guarantee", ids[(hh["labour"].to_numpy() == 0) & ~covers["living"]])
        if f.school_education:
            self.fail("hard floor unmet: school children without education support", ids[(hh["school_children"].to_numpy() > 0) & ~covers["education"]])
        if f.unsafe_house_renovation:
            self.fail("hard floor unmet: unsafe house without safe housing", ids[hh["unsafe_house"].to_numpy().astype(bool) & ~covers["housing"]])

    def _costs(self, hh_out: pd.DataFrame, long: pd.DataFrame) -> None:
        cost = np.bincount(long["row"].to_numpy(), weights=long["cost"].to_numpy(), minlength=len(hh_out))
        bad = np.abs(cost - hh_out["cost"].to_numpy(dtype=float)) > MONEY_TOL
        self.fail("household cost differs from its measures' cost", hh_out.loc[bad, "household_id"])

    def _projects(self, hh_out: pd.DataFrame, long: pd.DataFrame) -> None:
        """Project costs and capacities (a multi-year run has its own: a kept build keeps its price, capacity is by year)."""
        pr_in = self.inst.projects.set_index("project_id")
        pr_out = self.r.tables["projects"].set_index("project_id")
        built = self._built
        cost_out = pr_out["cost"].reindex(pr_in.index).fillna(0).to_numpy(dtype=float)
        self.fail("project cost differs from its input cost", pr_in.index[np.abs(cost_out - np.where(built, pr_in["cost"], 0.0)) > MONEY_TOL])
        pid = hh_out["project_id"].fillna("").astype(str)
        load = pid[pid.isin(pr_in.index)].value_counts().reindex(pr_in.index).fillna(0)
        self.fail("project over capacity", pr_in.index[load.to_numpy() > pr_in["capacity"].to_numpy()])

    def _project_ties(self, hh_out: pd.DataFrame, long: pd.DataFrame) -> None:
        """A tied plan's project is known, built, in its village and serves one of its measures; a measure that needs
        a built project has one."""
        pr_in = self.inst.projects.set_index("project_id")
        built_s = pd.Series(self._built, index=pr_in.index)
        tied = hh_out[hh_out["project_id"].fillna("").astype(str) != ""]
        pid = tied["project_id"].astype(str)
        known = pid.isin(pr_in.index)
        self.fail("plan tied to an unknown project", tied.loc[~known, "household_id"])
        tied, pid = tied[known], pid[known]
        self.fail("plan tied to a project that is not built", tied.loc[~built_s.reindex(pid).to_numpy(), "household_id"])
        elsewhere = pr_in["village_id"].reindex(pid).to_numpy() != tied["village_id"].to_numpy()
        self.fail("plan tied to a project in another village", tied.loc[elsewhere, "household_id"])
        pm = pr_in["measure_id"].reindex(pid).to_numpy()
        has_m = [m in str(label).split("+") for m, label in zip(pm, tied["measures"])]
        self.fail("plan tied to a project whose measure it does not use", tied.loc[~np.asarray(has_m, dtype=bool), "household_id"])
        rules = self.inst.eligibility
        enabled = set(pr_in.loc[pr_in["effect"] == Effect.ENABLE.value, "measure_id"]) | set(rules.loc[rules["column"] == PROJECT_RULE, "measure_id"])
        tmeasure = pd.Series(pr_in["measure_id"].reindex(hh_out["project_id"].fillna("").astype(str)).to_numpy(), dtype=object).fillna("")
        needs = long[long["measure"].isin(enabled)]
        ok = tmeasure.to_numpy()[needs["row"].to_numpy()] == needs["measure"].to_numpy()
        self.fail("measure that needs a built project given without one", needs.loc[~ok, "household_id"])

    def _fund_rules(self, cells: Sequence[str]) -> None:
        """Each flow is from a known fund, not negative, into a village within the fund's region or paired targets,
        on a category of its earmarks, and at most (1 - co-financing) of its cell (``cells``: the flows' columns
        that make one, the year's too in a multi-year run)."""
        tree = self.inst.tree
        flows = self.r.tables["flows"]
        funds = self.inst.funds.set_index("fund_id")
        before = len(self.violations)
        self.fail("flow from an unknown fund", flows.loc[~flows["fund_id"].isin(funds.index), "fund_id"].unique())
        self.fail("negative flow", flows.loc[flows["amount"] < -1e-9, "fund_id"].unique())
        if len(self.violations) > before:
            return
        # scope: the village must lie under the holder or one of its paired targets
        vpos = tree.pos(flows["village_id"])
        self.fail("flow into an unknown or non-village region", flows.loc[(vpos < 0) | (tree.level[np.maximum(vpos, 0)] != Level.VILLAGE), "village_id"])
        scope = funds["targets"].astype(str).str.split(LIST_SEP).explode().str.strip()
        scope = scope.where(scope != "", funds["region_id"].reindex(scope.index)).rename("scope").reset_index()
        pairs = flows[["fund_id"]].assign(flow=np.arange(len(flows)), village=np.maximum(vpos, 0)).merge(scope, on="fund_id")
        spos = tree.pos(pairs["scope"])
        inside = tree.ancestors[pairs["village"].to_numpy(), tree.level[spos]] == spos
        in_scope = np.bincount(pairs["flow"].to_numpy()[inside], minlength=len(flows)) > 0
        self.fail("fund spends outside its region or paired targets", _pairs(flows, ~in_scope, "fund_id", "->", "village_id"))
        earmarks = funds["categories"].astype(str).str.split(LIST_SEP).explode()  # by fund: a multi-year run has a flow per year
        any_cat = earmarks.index[(earmarks == ANY_CATEGORY).to_numpy()]
        ok_cat = pd.MultiIndex.from_arrays([flows["fund_id"], flows["category"]]).isin(pd.MultiIndex.from_arrays([earmarks.index, earmarks.to_numpy()]))
        ok_cat |= flows["fund_id"].isin(any_cat).to_numpy()
        self.fail("fund spends on a category outside its earmarks", _pairs(flows, ~ok_cat, "fund_id", ":", "category"))
        # co-financing: a fund pays at most (1 - c) of a cell
        share = funds["co_financing"].reindex(flows["fund_id"]).to_numpy(dtype=float)
        cell_total = flows.groupby(list(cells))["amount"].transform("sum").to_numpy()
        over = flows["amount"].to_numpy() > (1 - share) * cell_total + MONEY_TOL
        self.fail("co-financing share exceeded", _pairs(flows, over, "fund_id", "->", "village_id"))

    def _money(self, long: pd.DataFrame) -> None:
        """Every fund within its amount, and each (village, category) paid exactly what its plans and projects cost."""
        flows = self.r.tables["flows"]
        funds = self.inst.funds.set_index("fund_id")
        if not flows["fund_id"].isin(funds.index).all():
            return  # an unknown fund: said by _fund_rules
        spent = flows.groupby("fund_id")["amount"].sum()
        amount = funds["amount"].reindex(spent.index)
        self.fail("fund overspent", spent.index[spent > amount + MONEY_TOL + 1e-7 * amount])
        # balance: spending in each (village, category) equals the money flowing in
        pr = self.r.tables["projects"]
        pr_built = pr[pr["built"].astype(str).str.lower().isin(["true", "1"])]
        need = pd.concat(
            [long[["village_id", "category", "cost"]], pr_built[["village_id", "category", "cost"]]], ignore_index=True
        ).groupby(["village_id", "category"])["cost"].sum()
        paid = flows.groupby(["village_id", "category"])["amount"].sum()
        both = pd.concat([need.rename("need"), paid.rename("paid")], axis=1).fillna(0.0)
        off = (both["need"] - both["paid"]).abs() > MONEY_TOL + 1e-7 * both["need"]
        self.fail("spending not matched by fund money in (village, category)", [f"{v}/{c}" for v, c in both.index[off]])

    def _plan_scores(self, hh_out: pd.DataFrame, hh: pd.DataFrame, long: pd.DataFrame, covers: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Each plan's income after, success probability (checked against the table) and one-year objective value
        (returned with the probability), from the household, its measures and its project."""
        sc = self.sc
        n = len(hh_out)
        rows = long["row"].to_numpy()
        work_m = (long["income_kind"] == IncomeKind.WORK.value).to_numpy()
        uplift = long["income_uplift"].to_numpy(dtype=float)
        work = np.bincount(rows[work_m], weights=uplift[work_m], minlength=n).astype(float)
        transfer = np.bincount(rows[~work_m], weights=uplift[~work_m], minlength=n).astype(float)
        pr_in = self.inst.projects.set_index("project_id")
        pid = hh_out["project_id"].fillna("").astype(str)
        bonus = pr_in["uplift_bonus"].reindex(pid).fillna(0.0).to_numpy(dtype=float)
        bonus_m = pr_in["measure_id"].reindex(pid).fillna("").to_numpy()
        kind = self.inst.measures.set_index("measure_id")["income_kind"].reindex(bonus_m).fillna("").to_numpy()
        work += np.where(kind == IncomeKind.WORK.value, bonus, 0.0)
        transfer += np.where(kind == IncomeKind.TRANSFER.value, bonus, 0.0)
        work += np.where(work > 0, sc.probability.helper_uplift, 0.0)
        income = hh["income_per_capita"].to_numpy(dtype=float)
        if "income_before" in hh_out.columns:
            off = ~(np.abs(hh_out["income_before"].to_numpy(dtype=float) - income) <= 0.01)
            self.fail("income before differs from the registered income", hh_out.loc[off, "household_id"])
        if "income_after" in hh_out.columns:
            off = np.abs(hh_out["income_after"].to_numpy(dtype=float) - (income + work + transfer)) > 0.01
            self.fail("income after the plan differs from income plus the measures' uplift", hh_out.loc[off, "household_id"])
        p_all = _p_clear(income + work + transfer, sc)
        p_work = _p_clear(income + work, sc)
        missing = (
            ((hh["school_children"].to_numpy() > 0) & ~covers["education"]).astype(int)
            + (hh["chronic_illness"].to_numpy().astype(bool) & ~covers["medical"]).astype(int)
            + (hh["unsafe_house"].to_numpy().astype(bool) & ~covers["housing"]).astype(int)
        )
        factor = sc.probability.uncovered_guarantee_factor**missing
        p = p_all * factor
        bad = np.abs(p - hh_out["p_success"].to_numpy(dtype=float)) > PROB_TOL
        self.fail("success probability differs from the recomputed one", hh_out.loc[bad, "household_id"])
        labour = hh["labour"].to_numpy() > 0
        value = np.where(labour, p_work + sc.objective.transfer_exit_weight * (p_all - p_work), p_all) * factor
        weight = {"households": np.ones(n), "persons": hh["size"].to_numpy(dtype=float)}.get(
            sc.objective.weight, np.maximum(sc.poverty.line - income, 0.0) / sc.poverty.line
        )
        unmet = self._unmet(hh, covers) if sc.floors.mode == "soft" else np.zeros(n)
        return p, value * weight - sc.floors.penalty * unmet

    def _probabilities(self, hh_out: pd.DataFrame, facts: PlanFacts) -> None:
        """The manifest's expected households lifted and objective, from the recomputed plans."""
        sc = self.sc
        expected = float(facts.p_success.sum())
        reported = float(self.r.manifest.get("expected_lifted", expected))
        if abs(expected - reported) > 1e-6 * max(1.0, expected):
            self.violations.append(f"expected households lifted is {reported:.6f} in the manifest but {expected:.6f} recomputed")
        if sc.mode == "max_lifted":
            objective = float(facts.value.sum())
        else:
            objective = float(self.r.tables["flows"]["amount"].sum())
        reported = float(self.r.manifest.get("objective", objective))
        if abs(objective - reported) > 1e-6 * max(1.0, abs(objective)) + (MONEY_TOL if sc.mode == "min_cost" else 0.0):
            self.violations.append(f"objective is {reported:.6f} in the manifest but {objective:.6f} recomputed")

    def _unmet(self, hh: pd.DataFrame, covers: dict[str, np.ndarray]) -> np.ndarray:
        f = self.sc.floors
        unmet = np.zeros(len(hh))
        if f.labourless_guarantee:
            unmet += (hh["labour"].to_numpy() == 0) & ~covers["living"]
        if f.school_education:
            unmet += (hh["school_children"].to_numpy() > 0) & ~covers["education"]
        if f.unsafe_house_renovation:
            unmet += hh["unsafe_house"].to_numpy().astype(bool) & ~covers["housing"]
        return unmet

    def _targets(self, hh_out: pd.DataFrame, hh: pd.DataFrame) -> None:
        t = self.sc.target
        if self.sc.mode != "min_cost":
            return
        p = hh_out["p_success"].to_numpy(dtype=float)
        if t.lifted is not None and p.sum() < t.lifted - 1e-6:
            self.violations.append(f"target not reached: {p.sum():.3f} households expected lifted < {t.lifted}")
        if t.county_incidence is not None:
            tree = self.inst.tree
            county = tree.ancestor_ids(tree.pos(hh["village_id"]), Level.COUNTY)
            poor = pd.Series(1.0, index=county).groupby(level=0).sum()
            outside = pd.Series(self.inst.poor_outside, dtype=float)  # e.g. the nightly job's committed households
            poor = poor.add(outside, fill_value=0.0)
            remaining = poor - pd.Series(p, index=county).groupby(level=0).sum().reindex(poor.index).fillna(0.0)
            villages = tree.villages
            rural_v = self.inst.regions["rural_households"].to_numpy(dtype=float)[villages]
            rural = pd.Series(rural_v, index=tree.ancestor_ids(villages, Level.COUNTY)).groupby(level=0).sum().reindex(poor.index).fillna(0.0)
            rural = rural.where(rural > 0, poor)
            western = self.inst.regions.set_index("region_id")["western"].reindex(poor.index).to_numpy(dtype=bool)
            over = remaining > t.incidence_limit(western) * rural + 1e-6
            self.fail("county above its incidence target", poor.index[over.to_numpy()])

    def _equity(self, hh_out: pd.DataFrame) -> None:
        eq = self.sc.equity
        if eq.max_cost_per_household is not None:
            self.fail("household plan above equity.max_cost_per_household", hh_out.loc[hh_out["cost"] > eq.max_cost_per_household + MONEY_TOL, "household_id"])
        if eq.min_county_coverage:
            tree = self.inst.tree
            county = tree.ancestor_ids(tree.pos(hh_out["village_id"]), Level.COUNTY)
            helped = pd.Series((hh_out["measures"].astype(str) != "none").to_numpy(dtype=float), index=county).groupby(level=0)
            short = helped.sum() < np.ceil(eq.min_county_coverage * helped.size() - 1e-9)
            self.fail(f"county below the minimum coverage {eq.min_county_coverage:.0%}", short.index[short.to_numpy()])


    def _helpers(self, hh_out: pd.DataFrame) -> None:
        """One helper per household within reach and capacity, one first secretary per poor village."""
        tree = self.inst.tree
        helpers = self.inst.helpers.reset_index(drop=True)
        hid = hh_out["helper_id"].fillna("").astype(str)
        pos = pd.Index(helpers["helper_id"]).get_indexer(hid)
        assigned = hid != ""
        self.fail("household assigned to an unknown helper", hh_out.loc[assigned & (pos < 0), "household_id"])
        kinds = np.append(helpers["kind"].to_numpy(dtype=object), "")  # -1, no such helper: ""
        ok = assigned.to_numpy() & (pos >= 0)
        wrong_kind = ok & (kinds[pos] != "household_helper")
        self.fail("household assigned to a helper who is not a household helper", hh_out.loc[wrong_kind, "household_id"])
        reach = reach_regions(self.inst, helpers)
        village = tree.pos(hh_out["village_id"])
        pairs = pd.DataFrame({"row": np.flatnonzero(ok), "helper": pos[ok]}).merge(reach, on="helper")
        inside = tree.ancestors[village[pairs["row"].to_numpy()], tree.level[pairs["region"].to_numpy()]] == pairs["region"].to_numpy()
        reached = np.zeros(len(hh_out), dtype=bool)
        reached[pairs["row"].to_numpy()[inside]] = True
        self.fail("household assigned to a helper out of reach", hh_out.loc[ok & ~reached, "household_id"])
        regions = self.r.tables["regions"]
        sec = regions.loc[regions["level"] == Level.VILLAGE, ["region_id", "first_secretary_id"]] if "first_secretary_id" in regions else None
        load = np.bincount(pos[ok], minlength=len(helpers))
        if sec is not None:
            poor = self.inst.regions.set_index("region_id")["poor_village"].reindex(sec["region_id"]).fillna(False).to_numpy(dtype=bool)
            sid = sec["first_secretary_id"].fillna("").astype(str).to_numpy()
            spos = pd.Index(helpers["helper_id"]).get_indexer(sid)
            has = sid != ""
            not_secretary = has & ((spos < 0) | (kinds[spos] != "first_secretary"))
            self.fail("first secretary who is not a first secretary", sec.loc[not_secretary, "region_id"])
            self.fail("first secretary in a village that is not poor", sec.loc[has & ~poor, "region_id"])
            short_sec = int(self.r.tables["shortage"].query("skill == 'first_secretary'")["households"].sum())
            if int((poor & ~has).sum()) != short_sec:
                self.violations.append(f"{int((poor & ~has).sum())} poor villages lack a first secretary but the shortage table lists {short_sec}")
            load += np.bincount(spos[has & (spos >= 0)], minlength=len(helpers))
        self.fail("helper over capacity", helpers.loc[load > helpers["capacity"].to_numpy(), "helper_id"])
        short = int(self.r.tables["shortage"].query("skill != 'first_secretary'")["households"].sum())
        if int((~assigned).sum()) != short:
            self.violations.append(f"{int((~assigned).sum())} households lack a helper but the shortage table lists {short}")
        table = self.r.tables["helpers"]
        want = pd.Series(load, index=helpers["helper_id"].to_numpy()).reindex(table["helper_id"]).to_numpy(dtype=float)
        off = ~(table["load"].to_numpy(dtype=float) == want)
        self.fail("helpers table: load differs from the households and villages assigned", table.loc[off, "helper_id"])
        # the match score: the needed skill, then closeness of the helper's home unit (0 without a helper)
        skills = helpers["skills"].fillna("").astype(str).str.split(LIST_SEP).explode().str.strip()
        has_skill = isin(hid.to_numpy(dtype=object) + "|" + hh_out["need"].fillna("").astype(str).to_numpy(dtype=object),
                         helpers["helper_id"].reindex(skills.index).to_numpy(dtype=object) + "|" + skills.to_numpy(dtype=object))  # fmt: skip
        close = np.array([CLOSENESS.get(Level(lv), 1) for lv in range(6)])[tree.level[np.maximum(tree.pos(helpers["home_region_id"]), 0)]]
        score = np.where(ok, SKILL_WEIGHT * has_skill + np.append(close, 0)[pos], 0)
        self.fail("household match_score differs from its helper's skill and closeness", hh_out.loc[hh_out["match_score"].to_numpy() != score, "household_id"])
        need = np.asarray(household_needs(self.inst, hh_out), dtype=object)
        given = hh_out["need"].fillna("").astype(str).to_numpy(dtype=object)
        self.fail("household need is not the skill its plan needs", hh_out.loc[given != need, "household_id"])
        self._dispatch()
        summary = self.r.manifest.get("helpers")
        if isinstance(summary, dict):
            n_sec = int(has.sum()) if sec is not None else 0
            n_poor = int(poor.sum()) if sec is not None else 0
            figures = {"households_with_helper": int(assigned.sum()), "households_short": short, "poor_villages": n_poor,
                       "villages_with_first_secretary": n_sec}  # fmt: skip
            for key, value in figures.items():
                if key in summary and summary[key] != value:
                    self.violations.append(f"manifest: helpers.{key} is {summary[key]} but {value} recomputed")
            share = float((score >= SKILL_WEIGHT).sum() / len(hh_out)) if len(hh_out) else 0.0
            if "skill_match_share" in summary and not abs(float(summary["skill_match_share"]) - share) <= 1e-9:
                self.violations.append(f"manifest: helpers.skill_match_share is {summary['skill_match_share']} but {share:.6g} recomputed")

    def _dispatch(self) -> None:
        """The dispatch table covers the households' shortage of each township and skill, no more, no less."""
        sent = self.r.tables.get("dispatch")
        if sent is None:
            return
        short = self.r.tables["shortage"]
        short = short[short["skill"] != "first_secretary"]
        count = pd.to_numeric(sent["households"], errors="coerce").to_numpy(dtype=float)
        self.fail("dispatch table: households not a whole number above 0", sent.loc[~((count > 0) & (count == np.round(count))), "to_township"])
        self.fail("dispatch table: unknown relation", sent.loc[~isin(sent["relation"], np.array(list(DISPATCH_COST), dtype=object)), "to_township"])
        key = ["township", "skill"]
        want = short.groupby([short["township_id"].astype(str).rename("township"), short["skill"].astype(str)])["households"].sum()
        where = pd.MultiIndex.from_arrays([sent["to_township"].astype(str), sent["skill"].astype(str)], names=key)
        got = pd.Series(count, index=where).groupby(level=key).sum()
        both = pd.concat([want.rename("short"), got.rename("sent")], axis=1).fillna(0.0)
        off = both.index[(both["short"] - both["sent"]).abs().to_numpy() > 1e-9]
        self.fail("dispatch table: households sent differ from the township's shortage of that skill", [f"{t} ({k})" for t, k in off])

    def _marginal(self) -> None:
        """The marginal table rolls up the tree: a region's value is the best of the regions below it, found at its
        best village, which lies inside it (the shadow prices themselves are the solver's)."""
        m = self.r.tables.get("marginal")
        if m is None or not len(m):
            return
        tree = self.inst.tree
        pos, village = tree.pos(m["region_id"].astype(str)), tree.pos(m["best_village"].astype(str))
        known = (pos >= 0) & (village >= 0)
        self.fail("marginal table: unknown region or best village", m.loc[~known, "region_id"])
        if not known.all():
            return
        level = tree.level[pos]
        self.fail("marginal table: level is not the region's", m.loc[pd.to_numeric(m["level"], errors="coerce").to_numpy() != level, "region_id"])
        inside = (tree.level[village] == Level.VILLAGE) & (tree.ancestors[village, level] == pos)
        self.fail("marginal table: best village outside its region", m.loc[~inside, "region_id"])
        value = m["value_per_10k"].to_numpy(dtype=float)
        of_region = pd.Series(value, index=pos).groupby(level=0).max()
        at_best = of_region.reindex(village).to_numpy()
        self.fail("marginal table: value differs from its best village's", m.loc[~(np.abs(value - at_best) <= 1e-6), "region_id"])
        upper = level > 0
        children = pd.Series(value[upper], index=tree.parent[pos[upper]]).groupby(level=0).max()
        best_below = children.reindex(pos).to_numpy()
        rolled = np.isnan(best_below) | (np.abs(value - best_below) <= 1e-6)
        self.fail("marginal table: value is not the best of the regions below it", m.loc[~rolled & (level < Level.VILLAGE), "region_id"])


def _p_clear(mean_income: np.ndarray, sc: Scenario) -> np.ndarray:
    """P(realised income >= line) for a mean-preserving log-normal income."""
    s = sc.probability.income_sigma
    with np.errstate(divide="ignore"):
        z = (np.log(np.maximum(mean_income, 1e-9)) - np.log(sc.poverty.line) - s * s / 2) / s
    return 0.5 * erfc(-z / np.sqrt(2.0))
