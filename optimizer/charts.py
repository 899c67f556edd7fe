"""Charts of a run, drawn with matplotlib from the run's tables (used by the HTML report and by notebooks).

Every function takes a :class:`~optimizer.result.Result` (or its tables) and returns a matplotlib Figure.
"""

from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from . import multiyear  # noqa: E402
from .contract import LEVEL_NAMES, Batch, Level  # noqa: E402
from .multiyear import MultiYearResult  # noqa: E402
from .result import Result  # noqa: E402

PALETTE = ["#1b6ca8", "#e07b39", "#3a9d5d", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]
LEVEL_ORDER = [LEVEL_NAMES[lv] for lv in Level]


def _fig(width: float = 7.0, height: float = 3.2) -> tuple[Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def spending_by_level(result: Result) -> Figure:
    """Money spent from funds held at each level, stacked by spending category."""
    flows = result.tables["flows"].merge(result.tables["funds"][["fund_id", "level_name"]], on="fund_id")
    pivot = flows.pivot_table(index="level_name", columns="category", values="amount", aggfunc="sum", fill_value=0.0)
    pivot = pivot.reindex([lv for lv in LEVEL_ORDER if lv in pivot.index]) / 1e6
    fig, ax = _fig()
    bottom = np.zeros(len(pivot))
    for i, cat in enumerate(pivot.columns):
        ax.bar(pivot.index, pivot[cat], bottom=bottom, label=cat, color=PALETTE[i % len(PALETTE)])
        bottom += pivot[cat].to_numpy()
    ax.set_ylabel("million yuan")
    ax.set_title("Spending by level of the paying fund")
    if len(pivot.columns):
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def spending_by_batch(result: Result) -> Figure:
    """Household-measure spending by batch plus village projects, per province (per city if only one), stacked."""
    regions = result.tables["regions"]
    served = regions[regions["households"] > 0]
    level = Level.PROVINCE if (served["level"] == Level.PROVINCE).sum() > 1 else Level.CITY
    provinces = served[served["level"] == level]
    cols = [f"spend_{b.value}" for b in Batch] + ["spend_projects"]
    fig, ax = _fig()
    bottom = np.zeros(len(provinces))
    for i, col in enumerate(cols):
        values = provinces[col].to_numpy() / 1e6
        ax.bar(provinces["region_id"].astype(str), values, bottom=bottom, label=col.removeprefix("spend_"), color=PALETTE[i % len(PALETTE)])
        bottom += values
    ax.set_ylabel("million yuan")
    ax.set_title("Spending by batch and village projects")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def budget_use(result: Result) -> Figure:
    """Available and spent money per level."""
    by = result.tables["funds"].groupby("level_name")[["amount", "spent"]].sum()
    by = by.reindex([lv for lv in LEVEL_ORDER if lv in by.index]) / 1e6
    fig, ax = _fig()
    x = np.arange(len(by))
    ax.bar(x - 0.2, by["amount"], width=0.4, label="available", color="#b8c9dc")
    ax.bar(x + 0.2, by["spent"], width=0.4, label="spent", color=PALETTE[0])
    ax.set_xticks(x, by.index)
    ax.set_ylabel("million yuan")
    ax.set_title("Budget use by level")
    ax.legend(frameon=False, fontsize=8)
    return fig


def incidence(result: Result, level: Level = Level.COUNTY) -> Figure:
    """Poverty incidence before and expected after, for every region of one level."""
    regions = result.tables["regions"]
    at = regions[(regions["level"] == level) & (regions["households"] > 0)].sort_values("incidence_before", ascending=False)
    fig, ax = _fig(height=3.4)
    x = np.arange(len(at))
    ax.bar(x, at["incidence_before"] * 100, color="#d9d9d9", label="before")
    ax.bar(x, at["incidence_after"] * 100, color=PALETTE[1], label="expected after", width=0.5)
    ax.set_xticks(x, at["region_id"].astype(str), rotation=90, fontsize=6 if len(at) > 30 else 8)
    ax.set_ylabel("% of rural households")
    ax.set_title(f"Poverty incidence by {LEVEL_NAMES[level]}")
    ax.legend(frameon=False, fontsize=8)
    return fig


def plans_by_measure(result: Result) -> Figure:
    """How many households receive each measure."""
    plans = result.value_counts("households", "measures").rename_axis("measure").reset_index(name="households")
    each = plans.assign(measure=plans["measure"].astype(str).str.split("+")).explode("measure")
    counts = each[each["measure"] != "none"].groupby("measure")["households"].sum().sort_values(kind="stable")
    fig, ax = _fig(height=0.25 * len(counts) + 1.0)
    ax.barh(counts.index, counts.to_numpy(), color=PALETTE[2])
    ax.set_xlabel("households")
    ax.set_title("Plans by measure")
    return fig


def projects_by_kind(result: Result) -> Figure:
    """Candidate and built projects by kind."""
    pr = result.tables["projects"]
    built = pr["built"].astype(str).str.lower().isin(["true", "1"])
    by = pd.DataFrame({"candidates": pr.groupby("kind").size(), "built": pr[built.to_numpy()].groupby("kind").size()}).fillna(0)
    fig, ax = _fig()
    x = np.arange(len(by))
    ax.bar(x - 0.2, by["candidates"], width=0.4, color="#d9d9d9", label="candidates")
    ax.bar(x + 0.2, by["built"], width=0.4, color=PALETTE[4], label="built")
    ax.set_xticks(x, by.index)
    ax.set_title("Village projects")
    ax.legend(frameon=False, fontsize=8)
    return fig


def poverty_measures(result: Result) -> Figure:
    """FGT P0, P1, P2 before and after."""
    pov = result.tables["poverty"].set_index("measure").loc[["P0", "P1", "P2"]]
    fig, ax = _fig(width=5.0)
    x = np.arange(3)
    ax.bar(x - 0.2, pov["before"], width=0.4, color="#d9d9d9", label="before")
    ax.bar(x + 0.2, pov["after"], width=0.4, color=PALETTE[0], label="after (mean income with plan)")
    ax.set_xticks(x, ["headcount P0", "gap P1", "severity P2"])
    ax.set_title("Poverty measures (persons)")
    ax.legend(frameon=False, fontsize=8)
    return fig


def years_spending(result: MultiYearResult, by: str = "level") -> Figure:
    """A multi-year run: money spent per year, stacked by the level of the paying fund (``by="level"``) or by the
    category it pays for (``by="category"``)."""
    table = multiyear.spending_by_year(result)
    cats = [c for c in table.columns if c not in ("year", "level_name", "total")]
    if by == "level":
        pivot = table.pivot_table(index="year", columns="level_name", values="total", aggfunc="sum", fill_value=0.0)
        pivot = pivot[[lv for lv in LEVEL_ORDER if lv in pivot.columns]]
    else:
        pivot = table.groupby("year")[cats].sum()
    pivot = pivot.reindex(multiyear.run_years(result), fill_value=0.0) / 1e6
    fig, ax = _fig()
    bottom = np.zeros(len(pivot))
    labels = pivot.index.astype(str)
    for i, col in enumerate(pivot.columns):
        ax.bar(labels, pivot[col], bottom=bottom, label=col, color=PALETTE[i % len(PALETTE)])
        bottom += pivot[col].to_numpy()
    ax.set_ylabel("million yuan")
    ax.set_title("Spending per year by " + ("level of the paying fund" if by == "level" else "category"))
    if len(pivot.columns):
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def years_starts(result: MultiYearResult) -> Figure:
    """A multi-year run: households starting a plan per year and plans taking effect."""
    t = multiyear.starts_by_year(result)
    t = t[t["year"] != "never"]
    fig, ax = _fig()
    x = np.arange(len(t))
    ax.bar(x - 0.2, t["households_starting"], width=0.4, color=PALETTE[0], label="starting a plan")
    ax.bar(x + 0.2, t["taking_effect"], width=0.4, color=PALETTE[2], label="plan taking effect")
    ax.set_xticks(x, t["year"])
    ax.set_ylabel("households")
    ax.set_title("Households starting plans per year")
    ax.legend(frameon=False, fontsize=8)
    return fig


def years_exit(result: MultiYearResult, max_counties: int = 12) -> Figure:
    """A multi-year run: each county's expected incidence per year against its threshold (the counties with a
    target first, then the highest incidence at the deadline; at most ``max_counties``)."""
    c = result.tables["counties"]
    sched = multiyear.exit_schedule(result)
    order = sched.assign(has=sched["target_year"] > 0).sort_values(["has", "incidence_at_deadline"], ascending=[False, False]).index[:max_counties]
    years = multiyear.run_years(result)
    fig, ax = _fig(height=3.4)
    for i, row in enumerate(order):
        rural = float(c.loc[row, "rural"])
        path = [float(c.loc[row, "poor"]) / rural] + [float(c.loc[row, f"poor_{y}"]) / rural for y in years]
        ax.plot(["before", *map(str, years)], np.array(path) * 100, marker="o", ms=3, color=PALETTE[i % len(PALETTE)], label=str(c.loc[row, "county_id"]))
    if len(order):
        shown = sched["threshold"].loc[order]
        label = "threshold" if shown.nunique() == 1 else "lowest threshold"
        ax.axhline(float(shown.min()) * 100, color="#444", lw=0.8, ls="--", label=label)
    ax.set_ylabel("expected % of rural households poor")
    ax.set_title("Expected incidence by county and year")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def to_svg(fig: Figure) -> str:
    """The figure as an inline SVG element (no XML prologue), and the figure closed. Its text stays text, drawn by
    the browser in the reader's fonts: region names in Chinese were boxes, our font lacking their glyphs (whose
    warnings are then beside the point)."""
    buf = io.StringIO()
    with warnings.catch_warnings(), matplotlib.rc_context({"svg.fonttype": "none"}):
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        fig.tight_layout()
        fig.savefig(buf, format="svg")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


HEADLINES = ("households expected lifted", "households expected out at the deadline")  # one year, multi-year


def _headline(figures: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Per scenario (a row of ``figures``): households expected lifted (one year), else expected out of poverty at
    the deadline (multi-year); and the label naming the ones present."""
    present = [h for h in HEADLINES if h in figures.columns]
    values = figures[present[0]].astype(float)
    for h in present[1:]:
        values = values.fillna(figures[h].astype(float))
    return values.to_numpy(), " / ".join(present)


def comparison(table: pd.DataFrame) -> Figure:
    """Households expected lifted (multi-year: out at the deadline) and cost per scenario (a ``compare`` table: one
    column per scenario)."""
    fig, ax = _fig()
    names = list(table.columns)
    x = np.arange(len(names))
    lifted, label = _headline(table.T)
    cost = table.loc["cost (yuan)"].astype(float).to_numpy() / 1e6
    ax.bar(x - 0.2, lifted, width=0.4, color=PALETTE[0], label=label)
    ax.set_ylabel("households")
    ax2 = ax.twinx()
    ax2.bar(x + 0.2, cost, width=0.4, color=PALETTE[1], label="cost (million yuan)")
    ax2.set_ylabel("million yuan")
    ax.set_xticks(x, names, rotation=20, ha="right", fontsize=8)
    ax.set_title("Scenarios compared")
    fig.legend(loc="upper right", fontsize=7, frameon=False)
    return fig


def sweep_curve(table: pd.DataFrame, path: str) -> Figure:
    """Households expected lifted (multi-year: out at the deadline) against the swept value."""
    fig, ax = _fig()
    labels = table[path].astype(str).to_numpy()
    lifted, label = _headline(table)
    ax.plot(np.arange(len(table)), lifted, marker="o", color=PALETTE[0])
    ax.set_xticks(np.arange(len(table)), labels)
    ax.set_xlabel(path)
    ax.set_ylabel(label)
    ax.set_title(f"Sweep of {path}")
    return fig
