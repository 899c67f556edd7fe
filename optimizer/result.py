"""Turn a solution vector into the output tables (DESIGN §6) and the run manifest."""

from __future__ import annotations

import functools
import platform
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import __version__
from .contract import LEVEL_NAMES, Batch, Level
from .data import Instance, household_sizes, measure_rows
from .model import MONEY_UNIT, LinearModel, ModelIndex, plan_keys, project_ids
from .plans import Plans
from .regions import RegionTree
from .scenario import Scenario

if TYPE_CHECKING:
    import pyarrow.dataset as ds

    from .helpers import Assignment
    from .solve import Solution

PER_10K = 10_000.0
TABLE_NAMES = ("households", "projects", "funds", "flows", "regions", "poverty")
OPTIONAL_TABLES = ("marginal", "helpers", "shortage", "dispatch")


class Tables:
    """Output tables by name, a table held as ``parts`` on disk (one Parquet file per county, written by the counties'
    workers on a national decomposed run) included: read whole only when asked, written and summed part by part."""

    tables: dict[str, pd.DataFrame]
    parts: dict[str, list[Path]]

    def on_disk(self, name: str) -> ds.Dataset | None:
        """The parts of a table that is held on disk only, as one dataset (None when it is in memory)."""
        if name in self.tables or name not in self.parts:
            return None
        from .partitioned import read_parts

        return read_parts(self.parts[name])

    def table(self, name: str) -> pd.DataFrame:
        """An output table; one held as parts on disk is read into memory (and kept there)."""
        data = self.on_disk(name)
        if data is not None:
            self.tables[name] = data.to_table().to_pandas()
        return self.tables[name]

    def names(self) -> list[str]:
        """Every table's name, those held as parts included."""
        return [*self.tables, *(k for k in self.parts if k not in self.tables)]

    def head(self, name: str, n: int) -> pd.DataFrame:
        """The first ``n`` rows of a table, reading only the parts they are in."""
        data = self.on_disk(name)
        return self.tables[name].head(n) if data is None else data.head(n).to_pandas()

    def rows(self, name: str) -> int:
        """A table's number of rows (of a table on disk, from its parts' metadata)."""
        data = self.on_disk(name)
        return len(self.tables[name]) if data is None else int(data.count_rows())

    def frames(self, name: str, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """A table (its ``columns``) part by part: the whole table once when it is in memory."""
        data = self.on_disk(name)
        if data is None:
            yield self.tables[name] if columns is None else self.tables[name][columns]
            return
        for fragment in data.get_fragments():
            yield fragment.to_table(columns=columns, schema=data.schema).to_pandas()

    def value_counts(self, name: str, column: str) -> pd.Series:
        """How often each value of one column occurs, reading that column part by part."""
        if name in self.tables:
            return self.tables[name][column].value_counts()
        counts = [frame[column].value_counts() for frame in self.frames(name, [column])]
        return pd.concat(counts).groupby(level=0, sort=False).sum() if counts else pd.Series(dtype="int64")


@dataclass
class Result(Tables):
    """Everything a run produced: output tables keyed by name, and the manifest.

    A national decomposed run keeps its households table on disk as ``parts`` (:class:`Tables`): :meth:`table`
    reads it whole when asked, ``write_run`` streams it."""

    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    instance: Instance | None = field(default=None, repr=False)
    scenario: Scenario | None = field(default=None, repr=False)
    parts: dict[str, list[Path]] = field(default_factory=dict, repr=False)

    @property
    def households(self) -> pd.DataFrame:
        return self.table("households")

    @property
    def regions(self) -> pd.DataFrame:
        return self.tables["regions"]

    @property
    def funds(self) -> pd.DataFrame:
        return self.tables["funds"]

    @property
    def expected_lifted(self) -> float:
        return float(self.manifest["expected_lifted"])

    @property
    def gap(self) -> float:
        return float(self.manifest["gap"])

    def attach_helpers(self, assignment: Assignment, sums: dict[str, float] | None = None) -> None:
        """Add the helper assignment: households gain helper_id and match_score, villages their first secretary.
        With ``sums`` (:func:`household_sums` of households that already carry their helpers, e.g. parts written
        by the counties) the households table is left as it is."""
        if sums is None:
            hh = self.tables["households"].drop(columns=["helper_id", "need", "match_score"], errors="ignore")
            self.tables["households"] = hh.merge(assignment.households, on="household_id", how="left", validate="one_to_one")
            sums = helper_sums(self.tables["households"])
        regions = self.tables["regions"].drop(columns=["first_secretary_id"], errors="ignore")
        sec = assignment.secretaries.rename(columns={"village_id": "region_id"})
        self.tables["regions"] = regions.merge(sec, on="region_id", how="left").fillna({"first_secretary_id": ""})
        self.tables["helpers"] = assignment.helpers
        self.tables["shortage"] = assignment.shortage
        self.tables["dispatch"] = assignment.dispatch
        self.manifest["helpers"] = {
            "households_with_helper": int(sums["with_helper"]),
            "skill_match_share": float(sums["skill_matched"] / sums["households"]) if sums["households"] else 0.0,
            "households_short": int(assignment.shortage.loc[assignment.shortage["skill"] != "first_secretary", "households"].sum()),
            "poor_villages": int(len(assignment.secretaries)),
            "villages_with_first_secretary": int((assignment.secretaries["first_secretary_id"] != "").sum()),
        }

    def summary_by_level(self) -> pd.DataFrame:
        """Money available and spent by the level that holds it."""
        f = self.tables["funds"]
        return f.groupby("level_name", sort=False)[["amount", "spent"]].sum().reindex([LEVEL_NAMES[lv] for lv in Level]).dropna()


def build_result(
    instance: Instance,
    scenario: Scenario,
    plans: Plans,
    index: ModelIndex,
    model: LinearModel,
    sol: Solution,
    duals: dict[str, np.ndarray],
    backend_version: str,
    timings: dict[str, float],
) -> Result:
    """Assemble households, projects, funds, flows and regions tables plus the manifest."""
    x = sol.x
    xb, yb, fb = (model.col_blocks[k] for k in ("x", "y", "f"))
    chosen = np.flatnonzero(x[xb] > 0.5)
    table = plans.table.iloc[chosen].reset_index(drop=True)
    hh = instance.households
    order = np.argsort(table["hh"].to_numpy(), kind="stable")
    table = table.iloc[order].reset_index(drop=True)
    tied_id = project_ids(instance, table["project"].to_numpy())
    households = pd.DataFrame(
        {
            "household_id": hh["household_id"].to_numpy()[table["hh"].to_numpy()],
            "village_id": hh["village_id"].to_numpy()[table["hh"].to_numpy()],
            "plan": plan_keys(table, instance),
            "measures": table["measures"].to_numpy(),
            "project_id": tied_id,
            "cost": table["cost"].to_numpy().round(2),
            "p_success": table["p"].to_numpy(),
            "value": table["value"].to_numpy(),
            "income_before": hh["income_per_capita"].to_numpy()[table["hh"].to_numpy()],
            "income_after": table["income_after"].to_numpy().round(2),
        }
    )
    built = x[yb] > 0.5
    projects = instance.projects[["project_id", "village_id", "kind", "category"]].assign(
        built=built, cost=np.where(built, instance.projects["cost"].to_numpy(), 0.0)
    )
    flows = index.flows[["fund_id", "village_id", "category"]].assign(amount=x[fb] * MONEY_UNIT)
    flows = flows[flows["amount"] > 1e-4].reset_index(drop=True)
    flows["amount"] = flows["amount"].round(4)

    funds = fund_table(instance.tree, instance.funds, flows, duals["fund"] * PER_10K / MONEY_UNIT)
    regions = region_table(instance, households, projects)
    size = hh["size"].to_numpy()[table["hh"].to_numpy()]
    sums = household_sums(households, size, scenario.poverty.line)
    status = {"status": sol.status.value, "objective": sol.objective * model.objective_unit, "bound": sol.bound * model.objective_unit,
              "lp_bound": sol.lp_bound * model.objective_unit, "gap": sol.gap, "used_full_mip": sol.used_full_mip,
              "stopped_at_time_limit": sol.stopped}  # fmt: skip
    model_size = {"columns": int(model.shape[1]), "rows": int(model.shape[0]), "nonzeros": int(model.A.nnz), "plans": int(len(plans.table))}
    manifest = run_manifest(scenario, instance.hashes, backend_version, status, sums, projects, timings, model_size)
    tables = {
        "households": households,
        "projects": projects,
        "funds": funds,
        "flows": flows,
        "regions": regions,
        "poverty": poverty_table(sums),
        "marginal": marginal_table(instance, index, duals["balance"] * PER_10K / MONEY_UNIT),
    }
    return Result(tables=tables, manifest=manifest, instance=instance, scenario=scenario)


def fund_table(tree: RegionTree, funds_in: pd.DataFrame, flows: pd.DataFrame, shadow_price: np.ndarray) -> pd.DataFrame:
    """Every fund with its level, amount, money spent (from the flows) and shadow price per 10,000 yuan."""
    holder = tree.pos(funds_in["region_id"])
    spent = flows.groupby("fund_id")["amount"].sum().reindex(funds_in["fund_id"]).fillna(0.0).to_numpy()
    return pd.DataFrame(
        {
            "fund_id": funds_in["fund_id"].to_numpy(),
            "region_id": funds_in["region_id"].to_numpy(),
            "level": tree.level[holder],
            "level_name": [LEVEL_NAMES[Level(v)] for v in tree.level[holder]],
            "categories": funds_in["categories"].to_numpy(),
            "paired": funds_in["paired"].to_numpy(),
            "amount": funds_in["amount"].to_numpy(),
            "spent": spent.round(2),
            "shadow_price": np.asarray(shadow_price, dtype=float).round(6),
        }
    )


def run_manifest(
    scenario: Scenario,
    hashes: dict[str, str],
    backend_version: str,
    status: dict[str, Any],
    sums: dict[str, float],
    projects: pd.DataFrame,
    timings: dict[str, float],
    model_size: dict[str, int],
) -> dict[str, Any]:
    """The manifest of a run: what was solved, with which software, how well, and the headline figures.
    ``status``: status, objective, bound, lp_bound, gap, used_full_mip, stopped_at_time_limit; ``sums``: :func:`household_sums`."""
    return {
        "scenario": scenario.model_dump(mode="json"),
        "scenario_name": scenario.name,
        "data": scenario.data_source,
        "input_hashes": hashes,
        "solver": scenario.solver.name,
        "solver_version": backend_version,
        "versions": versions(),
        "status": status["status"],
        "mode": scenario.mode,
        "objective": status["objective"],
        "bound": status["bound"],
        "lp_bound": status["lp_bound"],
        "gap": status["gap"],
        "used_full_mip": status["used_full_mip"],
        "stopped_at_time_limit": status["stopped_at_time_limit"],
        "expected_lifted": float(sums["expected_lifted"]),
        "persons_lifted": float(sums["persons_lifted"]),
        "households": int(sums["households"]),
        "persons": int(sums["persons"]),
        "cost": float(sums["cost"] + projects["cost"].sum()),
        "projects_built": int(projects["built"].sum()),
        "seed": scenario.solver.seed,
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "model": model_size,
    }


def marginal_table(instance: Instance, index: ModelIndex, cell_value: np.ndarray) -> pd.DataFrame:
    """Per region: expected households lifted per extra 10,000 yuan of unearmarked money held there, i.e. the
    best shadow price of any (village, category) in its subtree, and where that is."""
    tree = instance.tree
    cells = index.cells
    village, village_id, category = cells["village"].to_numpy(), cells["village_id"].to_numpy(), cells["category"].to_numpy()
    value = np.asarray(cell_value, dtype=float)
    # per region the first cell by value (highest), then village id, then table order (lexsort is stable)
    by_id = pd.factorize(village_id, sort=True)[0]
    parts = []
    for level in range(6):
        region = tree.ancestors[village, level]
        order = np.lexsort((by_id, -value, region))
        first = order[np.r_[True, region[order][1:] != region[order][:-1]]] if len(order) else order
        parts.append(
            pd.DataFrame(
                {
                    "region_id": tree.ids.to_numpy()[region[first]],
                    "level": level,
                    "value_per_10k": value[first].round(6),
                    "best_village": village_id[first],
                    "best_category": category[first],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def gap_note(manifest: dict[str, Any], asked: float) -> str | None:
    """What to tell a planner whose allocation is verified but not proven within the gap asked (None when it is)."""
    gap = float(manifest["gap"])
    if gap <= asked + 1e-12:
        return None
    why = (
        "the counties round their whole plans within the money the master gave them, and small counties give up most "
        "(--method monolithic solves an instance that fits as one model)"
        if manifest.get("method") == "decomposed"
        else "the solver stopped at its time limit (solver.time_limit, or --time-limit of optimizer solve, gives it more)"
    )
    return f"gap {gap:.3%} is above the {asked:.3%} asked (solver.gap): the allocation is verified, not proven within the gap; {why}"


def household_sums(households: pd.DataFrame, size: np.ndarray, line: float) -> dict[str, float]:
    """What the manifest, the poverty table and the helper summary add up over the households table (``size``:
    persons per row, ``line``: the poverty line). Sums of disjoint blocks add up to the sums of their union, so a
    decomposed run needs the counties' sums, not their tables."""
    p = households["p_success"].to_numpy(dtype=float)
    out = {
        "households": float(len(households)),
        "persons": float(size.sum()),
        "expected_lifted": float(p.sum()),
        "persons_lifted": float((p * size).sum()),
        "persons_poor_after": float(((1.0 - p) * size).sum()),
        "cost": float(households["cost"].sum()),
    }
    for when in ("before", "after"):
        gap = np.clip((line - households[f"income_{when}"].to_numpy(dtype=float)) / line, 0.0, None)
        for k, term in (("P0", gap > 0), ("P1", gap), ("P2", gap**2)):
            out[f"{k}_{when}"] = float((term * size).sum())
    if "helper_id" in households:
        out.update(helper_sums(households))
    return out


def helper_sums(households: pd.DataFrame) -> dict[str, float]:
    """Households, those with a helper and those whose helper has their skill (a household of a county without
    helpers has none)."""
    return {
        "households": float(len(households)),
        "with_helper": float((households["helper_id"].fillna("") != "").sum()),
        "skill_matched": float((households["match_score"] >= 10).sum()),
    }


def add_sums(parts: list[dict[str, float]]) -> dict[str, float]:
    """The sums of disjoint blocks' households (a block without helpers adds none with a helper)."""
    keys = sorted(set().union(*parts))
    return {k: float(sum(p.get(k, 0.0) for p in parts)) for k in keys}


def poverty_table(sums: dict[str, float]) -> pd.DataFrame:
    """Foster-Greer-Thorbecke P0, P1, P2 over registered persons, before and after (mean income with the plan),
    plus the expected headcount share after, from the success probabilities (``sums``: :func:`household_sums`)."""
    persons = sums["persons"] or np.nan
    rows = [(when, *(sums[f"{k}_{when}"] / persons for k in ("P0", "P1", "P2"))) for when in ("before", "after")]
    df = pd.DataFrame(rows, columns=["when", "P0", "P1", "P2"]).set_index("when").T
    df.loc["expected_headcount"] = [1.0, sums["persons_poor_after"] / persons]
    return df.rename_axis("measure").reset_index().rename_axis(columns=None)  # as read back from the run folder


def region_table(instance: Instance, households: pd.DataFrame, projects: pd.DataFrame) -> pd.DataFrame:
    """Per region at every level: poor households, expected lifted, spending by batch, incidence."""
    tree = instance.tree
    n_r = len(tree.ids)
    v = tree.pos(households["village_id"])
    size = household_sizes(instance, households)
    long = measure_rows(instance, households)
    village = v[long["row"].to_numpy()]
    columns: dict[str, np.ndarray] = {}
    per_village: dict[str, np.ndarray] = {
        "households": np.bincount(v, minlength=n_r).astype(float),
        "persons": np.bincount(v, weights=size, minlength=n_r),
        "expected_lifted": np.bincount(v, weights=households["p_success"].to_numpy(), minlength=n_r),
        "persons_lifted": np.bincount(v, weights=households["p_success"].to_numpy() * size, minlength=n_r),
    }
    batches = [b.value for b in Batch]
    batch = pd.Index(batches).get_indexer(long["batch"])
    known = batch >= 0
    spend = np.bincount(village[known] * len(batches) + batch[known], weights=long["cost"].to_numpy()[known], minlength=n_r * len(batches))
    for i, name in enumerate(batches):
        per_village[f"spend_{name}"] = spend[i :: len(batches)]
    pv = tree.pos(projects["village_id"])
    per_village["spend_projects"] = np.bincount(pv, weights=projects["cost"].to_numpy(dtype=float), minlength=n_r)
    per_village["projects_built"] = np.bincount(pv, weights=projects["built"].to_numpy(dtype=float), minlength=n_r)
    per_village["rural_households"] = np.where(tree.level == Level.VILLAGE, instance.regions["rural_households"].to_numpy(dtype=float), 0.0)
    for name, values in per_village.items():
        columns[name] = _sum_up(tree, values)
    out = pd.DataFrame({"region_id": tree.ids.to_numpy(), "parent_id": instance.regions["parent_id"].to_numpy(), "level": tree.level, **columns})
    return _finish_regions(out)


def _sum_up(tree: RegionTree, per_village: np.ndarray) -> np.ndarray:
    """Per region, the sum of a per-village quantity over the villages of its subtree."""
    total = np.zeros(len(tree.ids))
    for level in range(6):
        total += np.bincount(tree.ancestors[tree.villages, level], weights=per_village[tree.villages], minlength=len(tree.ids))
    return total


REGION_COUNTS = ("households", "persons", "projects_built", "rural_households")  # whole numbers, summed as floats


def _finish_regions(out: pd.DataFrame) -> pd.DataFrame:
    """Add total spending and the incidence of poverty before and after to the additive per-region columns, and
    give the counts their integer type."""
    out[list(REGION_COUNTS)] = np.rint(out[list(REGION_COUNTS)].to_numpy(dtype=float)).astype(np.int64)
    out["spend_total"] = out[[c for c in out.columns if c.startswith("spend_") and c != "spend_total"]].sum(axis=1)
    rural = np.where(out["rural_households"] > 0, out["rural_households"], out["households"])
    with np.errstate(divide="ignore", invalid="ignore"):
        out["incidence_before"] = np.where(rural > 0, out["households"] / rural, 0.0)
        out["incidence_after"] = np.where(rural > 0, (out["households"] - out["expected_lifted"]) / rural, 0.0)
    return out


def roll_up_regions(regions: pd.DataFrame, tree: RegionTree, parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The national region table from the region tables of disjoint blocks (each holding its villages and their
    ancestors): additive columns are summed per region; rural households come from the full region tree, so
    that regions without poor households still count in their ancestors' incidence."""
    fixed = ("region_id", "parent_id", "level", "rural_households", "spend_total")
    additive = [c for c in parts[0].columns if c not in fixed and not c.startswith("incidence_")]
    summed = pd.concat([p[["region_id", *additive]] for p in parts], ignore_index=True).groupby("region_id", sort=False)[additive].sum()
    out = pd.DataFrame({"region_id": tree.ids.to_numpy(), "parent_id": regions["parent_id"].to_numpy(), "level": tree.level})
    out = out.join(summed.reindex(out["region_id"]).fillna(0.0).reset_index(drop=True))
    rural = np.where(tree.level == Level.VILLAGE, regions["rural_households"].to_numpy(dtype=float), 0.0)
    out.insert(out.columns.get_loc("projects_built") + 1, "rural_households", _sum_up(tree, rural))
    return _finish_regions(out)

def versions() -> dict[str, str]:
    """Versions of Python and of every library that shapes the results (solver libraries by metadata, not imported)."""
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
    # read once per process: the metadata lookups cost a county's final task in the decomposition about 8 ms
    out = {"optimizer": __version__, "python": platform.python_version()}
    for dist in ("numpy", "pandas", "scipy", "networkx", "pyarrow", "highspy", "pulp", "ortools"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out
