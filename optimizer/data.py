"""Load an input folder (CSV or Parquet) into a validated :class:`Instance`.

Every problem is collected first and reported once, naming the file, the line and the column
(lines count the header as line 1, so line 2 is the first data row).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .contract import (
    ANY_CATEGORY,
    ELIGIBILITY_COLUMNS,
    ELIGIBILITY_KEYS,
    LIST_SEP,
    PROJECT_RULE,
    TABLES,
    Category,
    Cause,
    Column,
    Level,
    ProjectKind,
)
from .errors import InputError
from .regions import RegionTree, build_tree

log = logging.getLogger(__name__)

MAX_LISTED = 20  # problems listed per file before summarising
# Columns that look like personal data: refused unless the caller allows them (they are never needed).
PERSONAL_COLUMN = re.compile(r"(^|_)(name|names|phone|mobile|tel|telephone|id_?card|identity|id_?number|citizen_?id|passport|address)($|_)", re.I)
PERSONAL_VALUE = re.compile(r"^(\d{17}[\dXx]|1[3-9]\d{9})$")  # an 18-character ID-card number, a mobile number
NAMED_TABLES = {"regions", "measures", "funds"}  # their ``name`` column names places, programmes and funds


@dataclass(frozen=True)
class Instance:
    """Validated input tables plus the region tree; ids are strings, flags booleans."""

    regions: pd.DataFrame
    households: pd.DataFrame
    measures: pd.DataFrame
    projects: pd.DataFrame
    funds: pd.DataFrame
    helpers: pd.DataFrame
    tree: RegionTree
    eligibility: pd.DataFrame  # measure_id, column, op, value: one row per rule
    source: str = ""
    hashes: dict[str, str] = field(default_factory=dict)

    @property
    def n_households(self) -> int:
        return len(self.households)

    def replace(self, **tables: pd.DataFrame) -> Instance:
        """A copy with some tables replaced (used by what-if edits); re-validated."""
        data = {name: getattr(self, name) for name in TABLES}
        data.update(tables)
        return build_instance(data, source=self.source, hashes=self.hashes)


def load_instance(folder: str | Path, allow_personal_columns: bool = False) -> Instance:
    """Read the six tables from ``folder`` and validate them.

    Columns that look like names, phone or ID-card numbers are refused unless ``allow_personal_columns``
    (they are then dropped: the optimizer needs none of them). A folder written as partitioned Parquet
    (``households/`` a folder) is read by :func:`optimizer.partitioned.load_partitioned`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"data folder '{folder}' does not exist or is not a folder")
    from .partitioned import is_partitioned, load_partitioned  # it builds on this module

    if is_partitioned(folder):  # partitioned Parquet (optimizer generate --partitioned)
        return load_partitioned(folder, allow_personal_columns=allow_personal_columns)
    raw: dict[str, pd.DataFrame] = {}
    hashes: dict[str, str] = {}
    problems: list[str] = []
    for table in TABLES:
        path = _find(folder, table)
        if path is None:
            problems.append(f"{folder}: missing {table}.csv (or {table}.parquet)")
            continue
        hashes[path.name] = _sha256(path)
        try:
            raw[table] = _read(path)
        except InputError as err:
            problems.extend(err.problems)
            continue
        personal = _personal_columns(table, raw[table])
        if personal and not allow_personal_columns:
            problems.append(
                f"{path.name}: column(s) {', '.join(personal)} look like personal data (names, phone or ID-card numbers); "
                "remove them (the optimizer needs only opaque ids) or pass allow_personal_columns=True"
            )
        raw[table] = raw[table].drop(columns=personal)
    if problems:
        raise InputError(problems)
    log.info("read %s households from %s", f"{len(raw['households']):,}", folder)
    return build_instance(raw, source=str(folder), hashes=hashes)


def build_instance(raw: dict[str, pd.DataFrame], source: str = "", hashes: dict[str, str] | None = None) -> Instance:
    """Type-check, cross-check and index raw tables (all strings or already typed)."""
    problems: list[str] = []
    tables: dict[str, pd.DataFrame] = {}
    for table, columns in TABLES.items():
        df, errs = _coerce(raw[table], columns, f"{table}.csv")
        tables[table] = df
        problems += errs
    if problems:
        raise InputError(problems)

    tree, errs = build_tree(tables["regions"])
    problems += errs
    if problems:
        raise InputError(problems)
    problems += _check_references(tables, tree)
    rules, errs = _parse_eligibility(tables["measures"])
    problems += errs
    if problems:
        raise InputError(problems)
    return Instance(
        regions=tables["regions"],
        households=tables["households"],
        measures=tables["measures"],
        projects=tables["projects"],
        funds=tables["funds"],
        helpers=tables["helpers"],
        tree=tree,
        eligibility=rules,
        source=source,
        hashes=dict(hashes or {}),
    )


def measure_rows(instance: Instance, households: pd.DataFrame) -> pd.DataFrame:
    """One row per (household, measure) of a plan table with ``household_id`` and ``measures`` ("a+b",
    "none"): ``row`` (position in ``households``), measure, size, cost, batch and category."""
    m = instance.measures.set_index("measure_id")
    size = instance.households.set_index("household_id")["size"].reindex(households["household_id"]).to_numpy(dtype=float)
    long = pd.DataFrame({"row": np.arange(len(households)), "size": size, "measure": households["measures"].astype(str).str.split("+").to_numpy()})
    long = long.explode("measure")
    long = long[long["measure"].isin(m.index)].reset_index(drop=True)
    long["cost"] = m["cost_fixed"].reindex(long["measure"]).to_numpy() + m["cost_per_person"].reindex(long["measure"]).to_numpy() * long["size"]
    long["batch"] = m["batch"].reindex(long["measure"]).to_numpy()
    long["category"] = m["category"].reindex(long["measure"]).to_numpy()
    return long


def rule_passes(values: np.ndarray, op: str, value: object) -> np.ndarray:
    """Which household values satisfy one parsed eligibility rule (``==``, ``>=`` or ``<=``)."""
    if op == "==":
        return np.asarray(values == value)
    if op == ">=":
        return np.asarray(values.astype(float) >= float(value))  # type: ignore[arg-type]
    return np.asarray(values.astype(float) <= float(value))  # type: ignore[arg-type]


def _personal_columns(table: str, df: pd.DataFrame) -> list[str]:
    """Columns outside the contract whose name or values look like personal data."""
    known = {c.name for c in TABLES[table]}
    out = []
    for col in df.columns:
        if col in known and not (col == "name" and table not in NAMED_TABLES):
            continue
        sample = df[col].astype(str).head(1000)
        if PERSONAL_COLUMN.search(str(col)) or sample.str.fullmatch(PERSONAL_VALUE).any():
            out.append(str(col))
    return out


def _find(folder: Path, table: str) -> Path | None:
    for ext in (".csv", ".parquet"):
        path = folder / f"{table}{ext}"
        if path.is_file():
            return path
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read(path: Path) -> pd.DataFrame:
    """Read one file as strings (empty string for missing), so that typing is ours to report."""
    try:
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
            return df.astype(object).where(df.notna(), "").astype(str)
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"{path}: cannot be read as a table: {first}") from None


def _coerce(df: pd.DataFrame, columns: list[Column], source: str) -> tuple[pd.DataFrame, list[str]]:
    """Check and convert each contract column; collect problems with file, line and column."""
    problems: list[str] = []
    out: dict[str, pd.Series] = {}
    df = df.reset_index(drop=True)
    key = columns[0].name
    keys = df[key].astype(str) if key in df.columns else pd.Series([""] * len(df))
    for col in columns:
        if col.name not in df.columns:
            if col.required:
                problems.append(f"{source}: missing required column '{col.name}'")
                continue
            values = pd.Series([col.default] * len(df), dtype=object)
            raw = values.astype(str)
        else:
            raw = df[col.name].astype(str).str.strip()
        series, bad = _convert(raw, col)
        for i, why in bad[:MAX_LISTED]:
            problems.append(f"{source} line {i + 2} ({key}={keys.iat[i]}), column {col.name}: {why}")
        if len(bad) > MAX_LISTED:
            problems.append(f"{source}: column {col.name}: {len(bad) - MAX_LISTED} more rows with the same kind of problem")
        out[col.name] = series
    if key in out and not problems:
        dup = out[key].duplicated(keep="first").to_numpy()
        for i in np.flatnonzero(dup)[:MAX_LISTED]:
            first = int(np.flatnonzero(out[key].to_numpy() == out[key].iat[i])[0])
            problems.append(f"{source} line {i + 2}, column {key}: duplicate id '{out[key].iat[i]}' (first on line {first + 2})")
    return pd.DataFrame(out), problems


def _convert(raw: pd.Series, col: Column) -> tuple[pd.Series, list[tuple[int, str]]]:
    bad: list[tuple[int, str]] = []
    empty = (raw == "") | raw.str.lower().isin(["nan", "none", "null"])
    if col.kind in ("id", "ref"):
        if col.kind == "id":
            bad += [(int(i), "missing id") for i in np.flatnonzero(empty)]
        return raw.where(~empty, ""), bad
    if col.kind in ("int", "float"):
        num = pd.to_numeric(raw.where(~empty, None), errors="coerce")
        missing = empty & col.required & (col.default is None or col.required)
        for i in np.flatnonzero(missing):
            bad.append((int(i), "missing value"))
        notnum = (~empty) & num.isna()
        bad += [(int(i), f"not a number: '{raw.iat[i]}'") for i in np.flatnonzero(notnum)]
        num = num.fillna(col.default if col.default is not None else 0.0)
        inf = ~np.isfinite(num.to_numpy(dtype=float))
        bad += [(int(i), f"not a finite number: '{raw.iat[i]}'") for i in np.flatnonzero(inf)]
        if col.kind == "int":
            frac = np.isfinite(num.to_numpy(dtype=float)) & (num % 1 != 0)
            bad += [(int(i), f"not a whole number: '{raw.iat[i]}'") for i in np.flatnonzero(frac)]
        if col.minimum is not None:
            low = num < col.minimum
            bad += [(int(i), f"{_neg(col, raw.iat[i])} (must be >= {col.minimum:g})") for i in np.flatnonzero(low)]
        if col.maximum is not None:
            high = num > col.maximum
            bad += [(int(i), f"value {raw.iat[i]} is too large (must be <= {col.maximum:g})") for i in np.flatnonzero(high)]
        bad.sort()
        if col.kind == "int":
            return num.where(np.isfinite(num), 0).astype(np.int64), bad
        return num.astype(float), bad
    if col.kind == "bool":
        low = raw.str.lower()
        truthy = low.isin(["1", "true", "yes", "y", "t", "1.0"])
        falsy = low.isin(["0", "false", "no", "n", "f", "0.0", ""])
        bad += [(int(i), f"not a yes/no value (use 0 or 1): '{raw.iat[i]}'") for i in np.flatnonzero(~(truthy | falsy))]
        return truthy, bad
    if col.kind == "enum":
        assert col.enum is not None
        allowed = [e.value for e in col.enum]
        val = raw.where(~empty, str(col.default) if col.default is not None else "")
        wrong = ~val.isin(allowed)
        bad += [(int(i), f"unknown value '{val.iat[i]}' (allowed: {', '.join(allowed)})") for i in np.flatnonzero(wrong)]
        return val, bad
    if col.kind == "list":
        val = raw.where(~empty, "")
        if col.enum is not None:
            choices = {str(e.value) for e in col.enum}
            if col.enum is Category:
                choices.add(ANY_CATEGORY)
            for row, text in enumerate(val.to_numpy()):
                items = [t.strip() for t in text.split(LIST_SEP) if t.strip()]
                if col.required and not items:
                    bad.append((row, "empty list"))
                unknown = [t for t in items if t not in choices]
                if unknown:
                    bad.append((row, f"unknown value(s) {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(choices))})"))
        return val, bad
    return raw.where(~empty, str(col.default or "")), bad


def _neg(col: Column, text: str) -> str:
    return f"negative value {text}" if col.minimum == 0 else f"value {text} is too small"


def _check_references(t: dict[str, pd.DataFrame], tree: RegionTree) -> list[str]:
    """Cross-table checks: every reference names a row of the right kind."""
    problems: list[str] = []

    def report(table: str, key: str, mask: np.ndarray, column: str, why: str) -> None:
        df = t[table]
        for i in np.flatnonzero(mask)[:MAX_LISTED]:
            problems.append(f"{table}.csv line {i + 2} ({key}={df[key].iat[i]}), column {column}: {why.format(v=df[column].iat[i])}")
        if mask.sum() > MAX_LISTED:
            problems.append(f"{table}.csv: column {column}: {int(mask.sum()) - MAX_LISTED} more rows with the same problem")

    level = tree.level
    for table, key, col in (("households", "household_id", "village_id"), ("projects", "project_id", "village_id")):
        pos = tree.pos(t[table][col])
        report(table, key, pos < 0, col, "unknown region '{v}'")
        report(table, key, (pos >= 0) & (level[np.maximum(pos, 0)] != Level.VILLAGE), col, "region '{v}' is not a village (level 5)")
    known_measures = pd.Index(t["measures"]["measure_id"])
    report("projects", "project_id", ~t["projects"]["measure_id"].isin(known_measures).to_numpy(), "measure_id", "unknown measure '{v}'")
    report("funds", "fund_id", (tree.pos(t["funds"]["region_id"]) < 0), "region_id", "unknown region '{v}'")
    report("helpers", "helper_id", (tree.pos(t["helpers"]["home_region_id"]) < 0), "home_region_id", "unknown region '{v}'")
    ids = set(tree.ids)
    for i, text in enumerate(t["funds"]["targets"].to_numpy()):
        unknown = [r for r in _split(text) if r not in ids]
        if unknown:
            fid = t["funds"]["fund_id"].iat[i]
            problems.append(f"funds.csv line {i + 2} (fund_id={fid}), column targets: unknown region(s) {', '.join(map(repr, unknown))}")
    measure_set = set(known_measures)
    for i, text in enumerate(t["measures"]["combines_with"].to_numpy()):
        unknown = [m for m in _split(text) if m not in measure_set]
        if unknown:
            names = ", ".join(map(repr, unknown))
            problems.append(f"measures.csv line {i + 2} (measure_id={known_measures[i]}), column combines_with: unknown measure(s) {names}")
    rural = t["regions"]["rural_households"].to_numpy()
    hh_per_village = np.bincount(np.maximum(tree.pos(t["households"]["village_id"]), 0), minlength=len(tree.ids))
    short = (level == Level.VILLAGE) & (rural > 0) & (rural < hh_per_village)
    report("regions", "region_id", short, "rural_households", "{v} is fewer than the village's registered poor households")
    return problems


def _split(text: str) -> list[str]:
    return [s.strip() for s in str(text).split(LIST_SEP) if s.strip()]


def _parse_eligibility(measures: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Turn each measure's declarative rule string into (column, op, value) rows."""
    rows: list[tuple[str, str, str, object]] = []
    problems: list[str] = []
    causes = {c.value for c in Cause}
    for i, (mid, text) in enumerate(zip(measures["measure_id"], measures["eligibility"])):
        where = f"measures.csv line {i + 2} (measure_id={mid}), column eligibility"
        for item in _split(text):
            key, sep, value = item.partition(":")
            key, value = key.strip(), value.strip()
            if not sep or key not in ELIGIBILITY_KEYS:
                problems.append(f"{where}: unknown rule '{item}' (keys: {', '.join(ELIGIBILITY_KEYS)})")
                continue
            if key == "requires_project":
                kinds = {k.value for k in ProjectKind}
                if value not in kinds:
                    problems.append(f"{where}: unknown project kind '{value}' in '{item}' (kinds: {', '.join(sorted(kinds))})")
                else:
                    rows.append((mid, PROJECT_RULE, "requires", value))
                continue
            if key == "requires_cause":
                if value not in causes:
                    problems.append(f"{where}: unknown cause '{value}' in '{item}'")
                else:
                    rows.append((mid, "cause", "==", value))
                continue
            if key in ("requires_flag", "excludes_flag"):
                column, number = value, "1" if key == "requires_flag" else "0"
                op = ">=" if key == "requires_flag" else "<="
            elif key in ("labour_min", "labour_max"):
                column, number, op = "labour", value, ">=" if key == "labour_min" else "<="
            else:
                column, _, number = value.partition("=")
                column, op = column.strip(), ">=" if key == "min" else "<="
            if column not in ELIGIBILITY_COLUMNS:
                problems.append(f"{where}: rule '{item}' names unknown household column '{column}' (known: {', '.join(ELIGIBILITY_COLUMNS)})")
                continue
            try:
                rows.append((mid, column, op, float(number)))
            except ValueError:
                problems.append(f"{where}: rule '{item}' needs a number, got '{number}'")
    return pd.DataFrame(rows, columns=["measure_id", "column", "op", "value"]), problems
