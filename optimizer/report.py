"""A self-contained HTML report of a run: headline figures, charts (inline SVG) and drill-down tables.

Every number comes from the run's tables and manifest; nothing is recomputed differently. The page makes
no network request: styles, the small filter script and the charts are inline.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from . import charts, multiyear
from .contract import LEVEL_NAMES, Level
from .errors import InputError
from .multiyear import MultiYearResult, read_multiyear_run
from .outputs import REPORT, atomic_write_text, changed_outputs, read_manifest, read_run
from .result import Result, gap_note

SECTIONS = ("headline", "poverty", "spending", "budgets", "regions", "projects", "plans")
MULTIYEAR_SECTIONS = ("headline", "spending", "starts", "exit", "plans")
MULTIYEAR_HOUSEHOLD_COLUMNS = ["household_id", "village_id", "plan", "year", "effect_year", "cost", "p_deadline"]
MAX_HOUSEHOLD_ROWS = 200

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
header{background:#1b6ca8;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}header p{margin:4px 0 0;opacity:.85}
main{max-width:1100px;margin:0 auto;padding:12px 24px 40px}section{background:#fff;border-radius:8px;padding:14px 20px;margin:14px 0;
box-shadow:0 1px 2px rgba(0,0,0,.08)}h2{font-size:17px;margin:4px 0 10px}.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{flex:1 1 150px;background:#f0f5fa;border-radius:6px;padding:10px 12px}.card .v{font-size:22px;font-weight:600}
.card .k{font-size:12px;color:#4a5868}table{border-collapse:collapse;font-size:12.5px;width:100%}th,td{padding:3px 7px;
border-bottom:1px solid #e5e8ec;text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f0f3f6}
details{margin:2px 0 2px 14px}summary{cursor:pointer;font-size:13px}svg{max-width:100%;height:auto}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:10px}input{padding:4px 8px;margin:4px 0 8px;width:260px}.note{font-size:12px;color:#56606b}
"""

SCRIPT = """
document.querySelectorAll('input[data-filter]').forEach(function (box) {
  box.addEventListener('input', function () {
    var q = box.value.toLowerCase();
    document.querySelectorAll(box.dataset.filter + ' tbody tr').forEach(function (tr) {
      tr.style.display = tr.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
    });
  });
});
"""


def build_report(result: Result) -> str:
    """The report of ``result`` as one HTML string."""
    m = result.manifest
    t = result.tables
    parts = [
        _headline(m),
        _section("poverty", "Poverty before and after", _table(t["poverty"], pct=["P0", "P1", "P2"]) + charts.to_svg(charts.poverty_measures(result))),
        _section(
            "spending",
            "Spending by level and by batch",
            '<div class="grid">' + charts.to_svg(charts.spending_by_level(result)) + charts.to_svg(charts.spending_by_batch(result)) + "</div>",
        ),
        _section("budgets", "Budget use and shadow prices", charts.to_svg(charts.budget_use(result)) + _funds(t["funds"])),
        _section("regions", "Expected lifted and incidence by region", charts.to_svg(charts.incidence(result)) + _drilldown(t["regions"])),
        _section("projects", "Projects built by type", _projects(result)),
        _section(
            "plans",
            "Plans by measure",
            charts.to_svg(charts.plans_by_measure(result)) + _households(result.head("households", MAX_HOUSEHOLD_ROWS), int(m["households"])),
        ),
    ]
    if "helpers" in t and "helpers" in m:
        parts.append(_section("helpers", "Helpers: one responsible person per household", _helpers(m["helpers"], t)))
    title = html.escape(f"{m.get('scenario_name', 'run')}: allocation report")
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head><body>'
        f"<header><h1>{title}</h1><p>{html.escape(_subtitle(m))}</p>{_gap_note(m)}</header><main>{''.join(parts)}</main>"
        f"<script>{SCRIPT}</script></body></html>"
    )


def build_table_report(title: str, table: pd.DataFrame, chart_svg: str) -> str:
    """A self-contained page for a comparison or a sweep: the side-by-side table and its chart."""
    body = _section("comparison", title, chart_svg + _table(table.reset_index(), money=[]))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{CSS}</style></head>'
        f"<body><header><h1>{html.escape(title)}</h1></header><main>{body}</main></body></html>"
    )


def write_report(run_dir: str | Path, result: Result | MultiYearResult | None = None) -> Path:
    """Write ``report.html`` into the run folder (atomically) and return its path; a multi-year run folder gets
    the multi-year report."""
    run_dir = Path(run_dir)
    if result is None:
        manifest = read_manifest(run_dir)
        changed = changed_outputs(run_dir, manifest)
        if changed:
            raise InputError(changed, source=f"{run_dir}: its files are not those the run wrote, so a report would show figures it did not produce")
        result = read_multiyear_run(run_dir) if manifest.get("multiyear") else read_run(run_dir)
    return atomic_write_text(run_dir / REPORT, report_page(result))


def report_page(result: Result | MultiYearResult) -> str:
    """The report of a run as one HTML string (the multi-year report for a multi-year run)."""
    return build_multiyear_report(result) if isinstance(result, MultiYearResult) else build_report(result)


def write_with_report(write: Callable[[str | None], Path], result: Result | MultiYearResult, report: bool) -> Path:
    """Write a run with ``write`` (given the report page, or None) with its report in the same swap when ``report``.
    A report that cannot be built does not cost the run: the run is written without it, then the error raised."""
    if not report:
        return write(None)
    try:
        page = report_page(result)
    except Exception:
        write(None)
        raise
    return write(page)


def build_multiyear_report(result: MultiYearResult) -> str:
    """The report of a multi-year run as one HTML string: headline, spending per year by level and category,
    households starting plans per year, and the county exit schedule."""
    m = result.manifest
    first, last = (int(y) for y in m["years"])
    budget = multiyear.budget_by_year(result)
    spending = multiyear.spending_by_year(result)
    starts = multiyear.starts_by_year(result)
    schedule = multiyear.exit_schedule(result)
    cards = [
        _card("households", "registered poor households", m["households"], f"{m['households']:,}"),
        _card("expected_out", f"households expected out of poverty at {last}", float(m["expected_out_at_deadline"]), f"{m['expected_out_at_deadline']:,.1f}"),
        _card("cost", "cost (yuan)", float(m["cost"]), f"{float(m['cost']):,.0f}"),
        _card("gap", "gap to the bound", float(m["gap"]), f"{float(m['gap']):.3%}"),
    ]
    on_time, with_target = int((schedule["status"] == "on time").sum()), int((schedule["target_year"] > 0).sum())
    if with_target:
        cards.append(_card("counties_on_time", "counties out by their target year", on_time, f"{on_time} of {with_target}"))
    else:
        out = int((schedule["exit_year"] > 0).sum())
        cards.append(_card("counties_out", f"of {len(schedule)} counties expected out by {last} (no targets set)", out, f"{out}"))
    rolling = m.get("rolling") or {}
    note = (
        f'<p class="note">Rolling horizon: decisions before {rolling["from_year"]} kept from {html.escape(str(rolling.get("previous")))} '
        f"({rolling.get('kept_households', 0):,} household starts, {rolling.get('kept_projects', 0):,} projects).</p>"
        if rolling.get("from_year")
        else ""
    )
    year_cards = "".join(_card(f"spent_{int(r.year)}", f"spent in {int(r.year)} (yuan)", float(r.spent), f"{r.spent:,.0f}") for r in budget.itertuples())
    start_cards = "".join(
        _card(f"starts_{r.year}", f"households starting in {r.year}" if r.year != "never" else "never started (empty plan)", int(r.households_starting),
              f"{r.households_starting:,}")
        for r in starts.itertuples()
    )  # fmt: skip
    exit_table = _table(schedule, pct=["threshold", "incidence_before", "incidence_at_deadline"], money=["poor"], rows_pct=False)
    exit_cells = "".join(f'<span hidden data-key="exit_{html.escape(str(r.county_id))}" data-value="{int(r.exit_year)}"></span>' for r in schedule.itertuples())
    parts = [
        _section("headline", "Headline", '<div class="cards">' + "".join(cards) + "</div>" + note),
        _section(
            "spending",
            f"Spending per year, {first}–{last}, by level and category",
            '<div class="cards">' + year_cards + "</div>"
            + '<div class="grid">' + charts.to_svg(charts.years_spending(result, "level")) + charts.to_svg(charts.years_spending(result, "category")) + "</div>"
            + "<h3>Appropriations, carry-over and spending per year (all funds)</h3>"
            + _table(budget, money=["appropriation", "carry_in", "spent", "carry_out"])
            + "<h3>Spent per year by level of the paying fund and category (yuan)</h3>"
            + _table(spending, money=[c for c in spending.columns if c not in ("year", "level_name")]),
        ),  # fmt: skip
        _section(
            "starts",
            "Households starting plans per year",
            '<div class="cards">' + start_cards + "</div>" + charts.to_svg(charts.years_starts(result)) + _table(starts, money=["cost"]),
        ),
        _section(
            "exit",
            "County exit schedule: expected exit year against the target",
            '<p class="note">Exit year: the first year from which the county\'s expected incidence stays at or below its threshold through '
            "the deadline (0: not at the deadline). Target year: <code>years.county_exit</code>, else the deadline when "
            "<code>target.county_incidence</code> is set; in min-cost mode the model holds every county to it.</p>"
            + charts.to_svg(charts.years_exit(result))
            + '<input data-filter="#exit-table" placeholder="filter counties">'
            + exit_table.replace("<table>", '<table id="exit-table">', 1)
            + exit_cells,
        ),
        _section("plans", "Plans by household: start year, effect year, chance of being out at the deadline",
                 _households(result.head("households", MAX_HOUSEHOLD_ROWS), result.rows("households"), MULTIYEAR_HOUSEHOLD_COLUMNS)),  # fmt: skip
    ]
    title = html.escape(f"{m.get('scenario_name', 'run')}: multi-year allocation report, {first}–{last}")
    sub = f"{_subtitle(m)} · deadline {last}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head><body>'
        f"<header><h1>{title}</h1><p>{html.escape(sub)}</p>{_gap_note(m)}</header><main>{''.join(parts)}</main>"
        f"<script>{SCRIPT}</script></body></html>"
    )


def _projects(result: Result) -> str:
    """The chart of projects built by type; a line when the data offer none (an empty chart read as a failure)."""
    if result.rows("projects") == 0:
        return '<p class="note">No candidate projects in the data: every plan is a household plan.</p>'
    return charts.to_svg(charts.projects_by_kind(result))


def _subtitle(m: dict) -> str:
    method = f" · method {m['method']}" if m.get("method") else ""
    return f"status {m.get('status')} · solver {m.get('solver')}{method} · {m.get('households', 0):,} households · mode {m.get('mode')}"


def _gap_note(m: dict) -> str:
    """Why a verified allocation is not proven within the gap asked, as the command line says it (empty otherwise)."""
    asked = ((m.get("scenario") or {}).get("solver") or {}).get("gap")
    note = gap_note(m, float(asked)) if isinstance(asked, (int, float)) and "gap" in m else None
    return f'<p class="note" id="gap-note">{html.escape(note)}</p>' if note else ""


def _section(key: str, title: str, body: str) -> str:
    return f'<section id="{key}"><h2>{html.escape(title)}</h2>{body}</section>'


def _card(key: str, label: str, value: float, text: str) -> str:
    return f'<div class="card"><div class="v" data-key="{key}" data-value="{value!r}">{html.escape(text)}</div><div class="k">{html.escape(label)}</div></div>'


def _headline(m: dict) -> str:
    lifted = float(m["expected_lifted"])
    cost = float(m["cost"])
    per = cost / lifted if lifted > 0 else float("nan")
    cards = [
        _card("households", "registered poor households", m["households"], f"{m['households']:,}"),
        _card("expected_lifted", "households expected lifted", lifted, f"{lifted:,.1f}"),
        _card("persons_lifted", "persons expected lifted", float(m["persons_lifted"]), f"{m['persons_lifted']:,.1f}"),
        _card("cost", "cost (yuan)", cost, f"{cost:,.0f}"),
        _card("cost_per_lifted", "yuan per household lifted", per, f"{per:,.0f}"),
        _card("gap", "gap to the bound", float(m["gap"]), f"{float(m['gap']):.3%}"),
    ]
    return _section("headline", "Headline", '<div class="cards">' + "".join(cards) + "</div>")


def _table(df: pd.DataFrame, pct: list[str] | None = None, money: list[str] | None = None, rows_pct: bool = True) -> str:
    def fmt(col: str, v: object) -> str:
        if isinstance(v, float):
            if math.isnan(v):  # no figure: a swept value that was infeasible
                return "—"
            if money and col in money:
                return f"{v:,.0f}"
            if pct and (col in pct or (rows_pct and col in ("before", "after"))):
                return f"{v:.2%}"
            return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{fmt(c, v)}</td>" for c, v in zip(df.columns, row)) + "</tr>" for row in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _funds(funds: pd.DataFrame) -> str:
    by_level = (
        funds.assign(left=funds["spent"] < funds["amount"] - 0.5)  # half a yuan: rounding, not money left
        .groupby("level_name", sort=False)
        .agg(amount=("amount", "sum"), spent=("spent", "sum"), highest_shadow_price=("shadow_price", "max"), funds_unspent=("left", "sum"))
    )
    by_level = by_level.reindex([LEVEL_NAMES[lv] for lv in Level]).dropna().reset_index()
    top = funds.sort_values("shadow_price", ascending=False).head(30)[["fund_id", "level_name", "categories", "amount", "spent", "shadow_price"]]
    return (
        '<p class="note">Shadow price: expected households lifted per extra 10,000 yuan in that fund (LP with project decisions fixed); '
        "a level shows the highest of its funds' (an earmarked fund may bind while another of the level has money left: "
        "funds_unspent counts those).</p>"
        + _table(by_level, money=["amount", "spent"])
        + "<h3>Funds with the highest shadow price</h3>"
        + _table(top, money=["amount", "spent"])
    )


def _drilldown(regions: pd.DataFrame) -> str:
    """Nested province > city > county > township details, villages as tables at the bottom."""
    cols = ["region_id", "households", "expected_lifted", "spend_total", "incidence_before", "incidence_after"]
    r = regions[regions["households"] > 0]
    children = {pid: g for pid, g in r.groupby("parent_id", sort=True)}

    def row_text(row: pd.Series) -> str:
        return (
            f"{row['region_id']}: {row['households']:,.0f} households, {row['expected_lifted']:,.1f} expected lifted, "
            f"incidence {row['incidence_before']:.1%} → {row['incidence_after']:.1%}"
        )

    def node(row: pd.Series) -> str:
        kids = children.get(row["region_id"])
        if kids is None or kids.empty:
            return ""
        if int(row["level"]) == Level.TOWNSHIP:
            villages = _table(kids[cols], pct=["incidence_before", "incidence_after"], money=["spend_total"])
            return f"<details><summary>{html.escape(row_text(row))}</summary>{villages}</details>"
        inner = "".join(node(k) for _, k in kids.iterrows())
        return f"<details><summary>{html.escape(row_text(row))}</summary>{inner}</details>"

    counties = r[r["level"] == Level.COUNTY][cols]
    table = _table(counties, pct=["incidence_before", "incidence_after"], money=["spend_total"]).replace("<table>", '<table id="county-table">', 1)
    roots = r[r["level"] == Level.PROVINCE]
    tree = "".join(node(row) for _, row in roots.iterrows())
    return (
        '<h3>Counties</h3><input data-filter="#county-table" placeholder="filter counties">'
        + table
        + "<h3>Drill down: province, city, county, township, villages</h3>"
        + tree
    )


def _helpers(summary: dict, t: dict[str, pd.DataFrame]) -> str:
    cards = [
        _card("households_with_helper", "households with a helper", summary["households_with_helper"], f"{summary['households_with_helper']:,}"),
        _card("skill_match_share", "helpers with the needed skill", summary["skill_match_share"], f"{summary['skill_match_share']:.1%}"),
        _card("households_short", "households without a helper", summary["households_short"], f"{summary['households_short']:,}"),
        _card(
            "villages_with_first_secretary",
            f"of {summary['poor_villages']:,} poor villages with a first secretary",
            summary["villages_with_first_secretary"],
            f"{summary['villages_with_first_secretary']:,}",
        ),
    ]
    shortage = t["shortage"].sort_values("households", ascending=False).head(20)
    dispatch = t["dispatch"].sort_values("households", ascending=False).head(20)
    return (
        '<div class="cards">' + "".join(cards) + "</div><h3>Largest shortages (township, skill)</h3>" + _table(shortage)
        + "<h3>Recommended dispatch (nearest idle helpers first, then local recruitment)</h3>" + _table(dispatch)
    )


def _households(first: pd.DataFrame, total: int, columns: list[str] | None = None) -> str:
    sample = first[columns or ["household_id", "village_id", "plan", "cost", "p_success"]]
    return f"<h3>Households (first {len(sample)} of {total:,}; all are in households.csv)</h3>" + _table(sample, money=["cost"])
