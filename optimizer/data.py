"""Load an input folder (CSV or Parquet) into a validated :class:`Instance`.

Every problem is collected first and reported once, naming the file, the line and the column
(lines count the header as line 1, so line 2 is the first data row).
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import hashlib
import io
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .contract import (
    ANY_CATEGORY,
    ELIGIBILITY_COLUMNS,
    ELIGIBILITY_KEYS,
    LIST_SEP,
    PLAN_PROJECT_SEP,
    PROJECT_RULE,
    TABLES,
    Category,
    Cause,
    Column,
    Level,
    ProjectKind,
)
from .errors import InputError, check_argument
from .inputs import DEFAULT_MAX_INPUT_MB, MB, TableRows, check_size, decode_utf8, read_bytes
from .regions import RegionTree, build_tree

log = logging.getLogger(__name__)

MAX_LISTED = 20  # problems listed per file before summarising
# tables of persons: a cell that is not the number, yes/no or listed value its column holds may be a name or an ID
# number written in the wrong column, so messages name its row, key and column but do not repeat its text (ids and
# references to regions are shown: they are opaque codes, and a planner needs them to find the row)
PERSONAL_TABLES = ("households", "helpers")
HIDDEN = "<not shown: a cell of a table of persons>"
# Columns that look like personal data: refused unless the caller allows them (they are never needed).
PERSONAL_COLUMN = re.compile(r"(^|_)(name|names|phone|mobile|tel|telephone|id_?card|identity|id_?number|citizen_?id|passport|address)($|_)", re.I)
PERSONAL_VALUE = re.compile(r"^(\d{17}[\dXx]|1[3-9]\d{9})$")  # an 18-character ID-card number, a mobile number
NAMED_TABLES = {"regions", "measures", "funds"}  # their ``name`` column names places, programmes and funds
NONEMPTY_TABLES = ("regions", "households", "measures")  # without rows there is nothing to plan
_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default text type ("str")
# what an empty cell reads as, lower-cased (nulls are empty too); a tuple, as an Arrow array made at import would
# start Arrow's memory pool, whose reserved address space counts against the --max-memory cap (RLIMIT_DATA)
_EMPTY_TEXT = ("", "nan", "none", "null")


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
    # county id -> expected poor households that these tables do not hold but county incidence targets count (the
    # nightly job's committed households: one each, less its plan's expected exit)
    poor_outside: dict[str, float] = field(default_factory=dict)
    # why these tables are not those of the files at ``source`` (tables replaced in memory); empty when they are
    changed: str = ""

    @property
    def n_households(self) -> int:
        return len(self.households)

    def replace(self, **tables: pd.DataFrame) -> Instance:
        """A copy with some tables replaced, re-validated. It no longer is what its files hold, so a run solved on it
        records that and is not verified or reproduced from those files (``changed``)."""
        data = {name: getattr(self, name) for name in TABLES}
        data.update(tables)
        built = build_instance(data, source=self.source, hashes=self.hashes)
        why = self.changed or f"{', '.join(sorted(tables))} replaced in memory (Instance.replace)"
        return dataclasses.replace(built, poor_outside=self.poor_outside, changed=why)


def load_instance(folder: str | Path, allow_personal_columns: bool = False, max_file_mb: float = DEFAULT_MAX_INPUT_MB) -> Instance:
    """Read the six tables from ``folder`` and validate them.

    Columns that look like names, phone or ID-card numbers are refused unless ``allow_personal_columns``
    (they are then dropped: the optimizer needs none of them). A file larger than ``max_file_mb`` (MB of
    10^6 bytes; for Parquet its uncompressed size) is refused before it is read. A folder written as partitioned
    Parquet (``households/`` a folder) is read by :func:`optimizer.partitioned.load_partitioned`."""
    check_argument(folder, (str, Path), "load_instance: folder")
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"data folder '{folder}' does not exist or is not a folder")
    from .partitioned import is_partitioned, load_partitioned  # it builds on this module

    if is_partitioned(folder):  # partitioned Parquet (optimizer generate --partitioned)
        return load_partitioned(folder, allow_personal_columns=allow_personal_columns)
    raw: dict[str, pd.DataFrame] = {}
    hashes: dict[str, str] = {}
    rows: dict[str, TableRows] = {}
    problems: list[str] = []
    for table in TABLES:
        found = [folder / f"{table}{ext}" for ext in (".csv", ".parquet") if (folder / f"{table}{ext}").is_file()]
        if not found:
            odd = [p for p in (folder / f"{table}.csv", folder / f"{table}.parquet") if p.exists()]
            problems.append(f"{odd[0]}: not a file (a folder?)" if odd else f"{folder}: missing {table}.csv (or {table}.parquet)")
            continue
        if len(found) > 1:
            problems.append(f"{folder}: both {table}.csv and {table}.parquet exist; keep one so that it is clear which is read")
            continue
        path = found[0]
        try:
            raw[table], hashes[path.name], lines = _read(path, max_file_mb * MB)
        except InputError as err:
            problems.extend(err.problems)
            continue
        rows[table] = TableRows(path.name, lines)
        personal = _personal_columns(table, raw[table])
        if personal and not allow_personal_columns:
            problems.append(
                f"{path.name}: column(s) {', '.join(personal)} look like personal data (names, phone or ID-card numbers); "
                "remove them (the optimizer needs only opaque ids) or pass allow_personal_columns=True"
            )
        raw[table] = raw[table].drop(columns=personal)
        _warn_unread_columns(path, raw[table].columns, [c.name for c in TABLES[table]])
    if problems:
        raise InputError(problems)
    log.info("read %s households from %s", f"{len(raw['households']):,}", folder)
    return build_instance(raw, source=str(folder), hashes=hashes, rows=rows)


def _warn_unread_columns(path: Path, columns: pd.Index, known: list[str]) -> None:
    """A column the optimizer does not read may be a misspelt optional one, whose default is then used instead."""
    unread = [str(c) for c in columns if str(c) not in known]
    if unread:
        close = {c: difflib.get_close_matches(c, known, n=1) for c in unread}
        listed = ", ".join(f"'{c}'" + (f" (did you mean '{close[c][0]}'?)" if close[c] else "") for c in unread)
        log.warning("%s: column(s) %s not read by the optimizer; they are ignored", path, listed)


def build_instance(
    raw: dict[str, pd.DataFrame],
    source: str = "",
    hashes: dict[str, str] | None = None,
    rows: dict[str, TableRows] | None = None,
    households_required: bool = True,
) -> Instance:
    """Type-check, cross-check and index raw tables (all strings or already typed); ``rows`` says where each table's
    rows were read from, for the messages (``<table>.csv`` with a row on each line by default). Without
    ``households_required``, a households table without rows is valid (a county whose first secretaries alone are
    assigned)."""
    problems: list[str] = []
    tables: dict[str, pd.DataFrame] = {}
    rows = {table: TableRows(f"{table}.csv") for table in TABLES} | (rows or {})
    for table, columns in TABLES.items():
        df, errs = _coerce(raw[table], columns, rows[table], echo=table not in PERSONAL_TABLES)
        tables[table] = df
        problems += errs
        if table in NONEMPTY_TABLES and len(df) == 0 and (households_required or table != "households"):
            problems.append(f"{rows[table].file}: no rows (at least one is needed)")
    if problems:
        raise InputError(problems)

    tree, errs = build_tree(tables["regions"], rows["regions"])
    problems += errs
    if problems:
        raise InputError(problems)
    problems += _check_references(tables, tree, rows)
    rules, errs = parse_eligibility(tables["measures"], rows["measures"])
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
    m = instance.measures
    size = household_sizes(instance, households)
    row, measure = plan_measures(households["measures"])
    pos = pd.Index(m["measure_id"]).get_indexer(measure)
    known = pos >= 0  # "none" and unknown labels give no row
    row, measure, pos = row[known], measure[known], pos[known]
    cost = m["cost_fixed"].to_numpy(dtype=float)[pos] + m["cost_per_person"].to_numpy(dtype=float)[pos] * size[row]
    return pd.DataFrame(
        {"row": row, "size": size[row], "measure": measure, "cost": cost, "batch": m["batch"].to_numpy()[pos], "category": m["category"].to_numpy()[pos]}
    )


def cut_rows(frame: pd.DataFrame, sizes: np.ndarray) -> list[pd.DataFrame]:
    """``frame`` cut into consecutive slices of ``sizes`` rows, each indexed from 0 (per-group tables taken once and
    sliced: a take per group on an Arrow-backed table costs about a millisecond each)."""
    ends = np.cumsum(sizes)
    return [frame.iloc[e - n : e].reset_index(drop=True) for n, e in zip(sizes, ends)]


def household_sizes(instance: Instance, households: pd.DataFrame) -> np.ndarray:
    """Persons in each household of a table with ``household_id`` (NaN for one the instance does not hold)."""
    at = pd.Index(instance.households["household_id"]).get_indexer(households["household_id"])
    return np.where(at >= 0, instance.households["size"].to_numpy(dtype=float)[at], np.nan)


def plan_measures(labels: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each measure of each plan label ("a+b", "none"): the label's position and the measure, label by label."""
    # a few distinct labels among many households: split each label once, then repeat its measures per row
    codes, distinct = pd.factorize(labels.astype(str))
    parts = [label.split("+") for label in distinct]
    lengths = np.array([len(p) for p in parts], dtype=np.int64)
    count = lengths[codes]
    first = (np.cumsum(lengths) - lengths)[codes]
    flat = np.array([x for p in parts for x in p], dtype=object)
    row = np.repeat(np.arange(len(labels)), count)
    at = np.repeat(first, count) + run_positions(count)
    return row, flat[at] if len(flat) else np.empty(0, dtype=object)


def run_positions(counts: np.ndarray) -> np.ndarray:
    """For runs of ``counts[i]`` elements laid one after the other, each element's position within its run."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def group_ranks(groups: np.ndarray) -> np.ndarray:
    """Each element's position among the equal values before it, ``groups`` sorted."""
    return np.arange(len(groups)) - np.searchsorted(groups, groups, side="left")


def isin(values: pd.Series | pd.Index | np.ndarray, allowed: object) -> np.ndarray:
    """``values.isin(allowed)`` as a boolean array for id columns of household scale: pandas' ``isin`` on Arrow
    strings builds one Python scalar per allowed value (1,000,000 ids here: 3.97 s against 0.70 s this way)."""
    pool = pd.Index(list(allowed) if isinstance(allowed, set | frozenset) else allowed).unique()  # type: ignore[call-overload]
    return np.asarray(pool.get_indexer(values) >= 0)


def equal_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with ``a[i] == b[j]`` (integer keys), i ascending and, for one i, j ascending: the pairs and order
    of ``merge(how="inner")`` without pandas' overhead on the small tables of a county."""
    order = np.argsort(b, kind="stable")
    lo = np.searchsorted(b[order], a, side="left")
    n = np.searchsorted(b[order], a, side="right") - lo
    i = np.repeat(np.arange(len(a)), n)
    return i, order[np.repeat(lo, n) + run_positions(n)]


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


def _read(path: Path, limit_bytes: float) -> tuple[pd.DataFrame, str, np.ndarray | None]:
    """Read one file as strings (empty string for missing), so that typing is ours to report; also its sha256 and,
    for a CSV whose blank lines or multi-line fields put rows off their ``row + 2`` line, each row's line.

    The size limit is checked before reading; CSV must be UTF-8 with unique column names."""
    option = "limits.max_input_mb in the scenario, --max-input-mb on the command line"
    if path.suffix == ".parquet":
        check_size(path, path.stat().st_size, limit_bytes, option)
        try:
            file = pq.ParquetFile(path)
            meta = file.metadata
            check_size(path, sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)), limit_bytes, option + "; uncompressed size")
            repeated_columns(path, file.schema_arrow.names)
            table = lists_as_text(pq.read_table(path))
        except (OSError, ValueError, pa.ArrowException) as err:
            raise InputError(f"{path}: cannot be read as a Parquet table: {_first_line(err)}") from None
        names = table.column_names
        df = pa.table([_float_text(c) if pa.types.is_floating(c.type) else c for c in table.columns], names=names).to_pandas()
        return df.astype(object).where(df.notna(), "").astype(str), file_sha256(path), None
    data = read_bytes(path, limit_bytes, option)
    text = decode_utf8(data, path)
    if "\r" in text:  # CRLF, or CR alone (old Mac and some spreadsheet exports): lines as the reader and the messages count them
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(f"{path}: the file is empty (it needs at least the header line)")
    repeated_columns(path, next(csv.reader(io.StringIO(text.split("\n", 1)[0])), []), " line 1")
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as err:
        raise InputError(f"{path}{_parser_problem(str(err))}") from None
    except (pd.errors.EmptyDataError, ValueError) as err:
        raise InputError(f"{path}: cannot be read as a table: {_first_line(err)}") from None
    at = _record_lines(text) if text.count("\n") + (not text.endswith("\n")) != len(df) + 1 else None
    return df, hashlib.sha256(data).hexdigest(), at if at is not None and len(at) == len(df) else None


def repeated_columns(path: Path, names: list[str], where: str = "") -> None:
    """Refuse a table whose header names a column twice (which of the two would be read is anyone's guess)."""
    stripped = [name.strip() for name in names]
    repeated = sorted({name for name in stripped if stripped.count(name) > 1})
    if repeated:
        raise InputError(f"{path}{where}: column(s) {', '.join(map(repr, repeated))} appear more than once in the header")


def lists_as_text(table: pa.Table) -> pa.Table:
    """A Parquet list column (``list<string>``: a fund's categories, say) as the text list a CSV cell holds, its items
    joined by ``;`` (it was read as "['industry']", or refused by a cast that named no column)."""
    for i, column in enumerate(table.schema):
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            table = table.set_column(i, column.name, pc.binary_join(pc.cast(table.column(i), pa.list_(pa.string())), LIST_SEP))
    return table


def _record_lines(text: str) -> np.ndarray:
    """The line on which each data row of a CSV text starts, skipping blank lines as pandas does."""
    reader = csv.reader(io.StringIO(text))
    starts, last = [], 0
    for record in reader:
        if record:
            starts.append(last + 1)
        last = reader.line_num
    return np.asarray(starts[1:], dtype=np.int64)


def _parser_problem(message: str) -> str:
    """pandas' tokenizer message as ' line N: what is wrong' (lines count the header as line 1)."""
    quote = re.search(r"EOF inside string starting at row (\d+)", message)
    if quote:
        return f" line {int(quote.group(1)) + 1}: a quote opens a field that never closes (a stray \" character?)"
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if fields:
        return f" line {fields.group(2)}: {fields.group(3)} fields where the header has {fields.group(1)} (a stray comma or quote?)"
    return f": cannot be read as a table: {message.strip().splitlines()[0] if message.strip() else 'parser error'}"


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _coerce(df: pd.DataFrame, columns: list[Column], rows: TableRows, echo: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """Check and convert each contract column; collect problems with file, line and column (and the bad text,
    ``echo``: see ``PERSONAL_TABLES``)."""
    problems: list[str] = []
    source = rows.file
    out: dict[str, pd.Series] = {}
    df = df.reset_index(drop=True)
    key = columns[0].name
    keys = df[key].astype(str).fillna("") if key in df.columns else pd.Series([""] * len(df))
    for col in columns:
        if col.name not in df.columns:
            if col.required:
                problems.append(f"{source}: missing required column '{col.name}'")
                continue
            series, bad = _convert(pd.Series([col.default] * len(df), dtype=object).astype(str), col, echo)
        else:
            series, bad = _convert(df[col.name], col, echo)
        for i, why in bad[:MAX_LISTED]:
            problems.append(f"{rows.at(i)} ({key}={keys.iat[i]}), column {col.name}: {why}")
        if len(bad) > MAX_LISTED:
            problems.append(f"{source}: column {col.name}: {len(bad) - MAX_LISTED} more rows with the same kind of problem")
        out[col.name] = series
    if key in out and not problems:
        dup = out[key].duplicated(keep="first").to_numpy()
        for i in np.flatnonzero(dup)[:MAX_LISTED]:
            first = int(np.flatnonzero(out[key].to_numpy() == out[key].iat[i])[0])
            first_on = f" (first on {rows.where(first)})" if rows.numbered else ""
            problems.append(f"{rows.at(i)}, column {key}: duplicate id '{out[key].iat[i]}'{first_on}")
    return pd.DataFrame(out), problems


def _convert(column: pd.Series, col: Column, echo: bool = True) -> tuple[pd.Series, list[tuple[int, str]]]:
    """A column as the contract's kind, and the rows that are not (row, why; the bad text in ``why`` when
    ``echo``). Typed columns (Parquet, the database) are checked as they are; text is parsed."""

    def shown(text: object) -> str:
        return f"'{text}'" if echo else HIDDEN

    typed_number = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if col.kind in ("int", "float") and typed_number:
        num = column.astype(float)
        return _numbers(num, num.isna().to_numpy(), np.zeros(len(num), dtype=bool), column, col, shown)
    if col.kind == "bool" and not column.isna().any():
        if pd.api.types.is_bool_dtype(column) or (pd.api.types.is_integer_dtype(column) and column.isin([0, 1]).all()):
            return column.astype(bool), []
    text = pc.utf8_trim_whitespace(_arrow_text(column))
    low = pc.utf8_lower(text)
    # a null of a typed text column (Parquet, the database) is an empty cell, as in a CSV
    empty_cells = pc.or_(pc.is_null(low), pc.is_in(low, value_set=pa.array(_EMPTY_TEXT)))
    empty = empty_cells.to_numpy(zero_copy_only=False)
    bad: list[tuple[int, str]] = []
    if col.kind in ("id", "ref"):
        if col.kind == "id":  # a word that reads as an empty cell ("none", "null", "nan") is no id either: say why
            words = pc.fill_null(text, "").to_numpy(zero_copy_only=False)
            bad += [(int(i), f"missing id ('{words[i]}' reads as an empty cell)" if words[i] else "missing id") for i in np.flatnonzero(empty)]
        return _text_series(pc.if_else(empty_cells, "", text)), bad
    raw = _text_series(text)
    if col.kind in ("int", "float"):
        num = pd.to_numeric(raw.where(~empty, None), errors="coerce")
        return _numbers(num, empty, ~empty & num.isna().to_numpy(), raw, col, shown)
    if col.kind == "bool":
        yes = ["1", "true", "yes", "y", "t", "1.0"]
        truthy = pc.is_in(low, value_set=pa.array(yes)).to_numpy(zero_copy_only=False)
        falsy = pc.is_in(low, value_set=pa.array(["0", "false", "no", "n", "f", "0.0"])).to_numpy(zero_copy_only=False)
        bad += [(int(i), f"not a yes/no value (use 0 or 1): {shown(raw.iat[i])}") for i in np.flatnonzero(~(truthy | falsy | empty))]
        # an empty cell (or a null, or a column one Parquet file of a table lacks) is the column's default
        return pd.Series(truthy | (empty & (str(col.default).lower() in yes))), bad
    if col.kind == "enum":
        assert col.enum is not None
        allowed = [e.value for e in col.enum]
        val = pc.if_else(empty_cells, str(col.default) if col.default is not None else "", text)
        wrong = ~pc.is_in(val, value_set=pa.array(allowed)).to_numpy(zero_copy_only=False)
        bad += [(int(i), f"unknown value {shown(val[int(i)].as_py())} (allowed: {', '.join(allowed)})") for i in np.flatnonzero(wrong)]
        return _text_series(val), bad
    if col.kind == "list":
        val = pc.if_else(empty_cells, "", text)
        split = pc.split_pattern(val, LIST_SEP)
        items = pc.utf8_trim_whitespace(pc.list_flatten(split)).to_numpy(zero_copy_only=False)
        row = pc.list_parent_indices(split).to_numpy(zero_copy_only=False)
        kept = items != ""
        items, row = items[kept], row[kept]
        if col.required:
            bad += [(int(i), "empty list") for i in np.flatnonzero(np.bincount(row, minlength=len(empty)) == 0)]
        if col.enum is not None:
            choices = {str(e.value) for e in col.enum}
            if col.enum is Category:
                choices.add(ANY_CATEGORY)
            unknown = ~np.isin(items, sorted(choices))
            for r in np.unique(row[unknown]):
                names = items[unknown & (row == r)]
                bad.append((int(r), f"unknown value(s) {', '.join(map(repr, names)) if echo else HIDDEN} (allowed: {', '.join(sorted(choices))})"))
        bad.sort()
        # one spelling for every reader: items trimmed, empty ones dropped ("a; b;" is "a;b")
        sep = re.escape(LIST_SEP)
        val = pc.replace_substring_regex(pc.replace_substring_regex(pc.utf8_trim_whitespace(val), rf"\s*{sep}[\s{sep}]*", LIST_SEP), rf"^{sep}|{sep}$", "")
        return _text_series(val), bad
    return _text_series(pc.if_else(empty_cells, str(col.default or ""), text)), bad


def _arrow_text(column: pd.Series) -> pa.Array:
    """A column as Arrow strings (nulls kept): text is checked with Arrow's kernels, one call a column, where
    pandas' string methods cost about 0.2 ms a call whatever the length (checking a county's tables took 79 ms)."""
    if pd.api.types.is_float_dtype(column):
        return _float_text(pa.array(column))
    if not (isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow"):
        column = column.astype(_TEXT)
    return pa.array(column.array)


def _float_text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Floats as text, whole ones without ".0": an id column written as floats by pandas (numeric region codes
    with a gap) reads "100000", the id a CSV or an integer column gives, not "100000.0"."""
    return pc.cast(values, pa.string())


def _text_series(text: pa.Array) -> pd.Series:
    """Arrow strings as a pandas column of the default text type."""
    return pd.Series(text, dtype=_TEXT)


def _numbers(
    num: pd.Series, empty: np.ndarray, notnum: np.ndarray, text: pd.Series, col: Column, shown: Callable[[object], str]
) -> tuple[pd.Series, list[tuple[int, str]]]:
    """A numeric column checked against the contract (missing, finite, whole, range); ``shown`` quotes a cell
    that is not a number (numbers out of range are shown as they are)."""
    bad: list[tuple[int, str]] = []
    if col.required:
        bad += [(int(i), "missing value") for i in np.flatnonzero(empty)]
    bad += [(int(i), f"not a number: {shown(text.iat[i])}") for i in np.flatnonzero(notnum)]
    num = num.fillna(col.default if col.default is not None else 0.0)
    values = num.to_numpy(dtype=float)
    finite = np.isfinite(values)
    bad += [(int(i), f"not a finite number: '{text.iat[i]}'") for i in np.flatnonzero(~finite)]
    if col.kind == "int":
        bad += [(int(i), f"not a whole number: '{text.iat[i]}'") for i in np.flatnonzero(finite & (values % 1 != 0))]
    given = ~notnum & ~(empty & col.required)  # the rows above are reported once, not again as out of range
    if col.minimum is not None:
        bad += [(int(i), f"{_neg(col, text.iat[i])} (must be >= {col.minimum:g})") for i in np.flatnonzero(given & (values < col.minimum))]
    if col.maximum is not None:
        bad += [(int(i), f"value {text.iat[i]} is too large (must be <= {col.maximum:g})") for i in np.flatnonzero(given & (values > col.maximum))]
    bad.sort()
    if col.kind == "int":
        return num.where(np.isfinite(num), 0).astype(np.int64), bad
    return num.astype(float), bad


def _neg(col: Column, text: str) -> str:
    return f"negative value {text}" if col.minimum == 0 else f"value {text} is too small"


def _check_references(t: dict[str, pd.DataFrame], tree: RegionTree, rows: dict[str, TableRows]) -> list[str]:
    """Cross-table and cross-column checks: every reference names a row of the right kind, no household counts more
    workers or school children than members (``rows``: where each table's rows are)."""
    problems: list[str] = []

    def report(table: str, key: str, mask: np.ndarray, column: str, why: str) -> None:
        df = t[table]
        for i in np.flatnonzero(mask)[:MAX_LISTED]:
            problems.append(f"{rows[table].at(i)} ({key}={df[key].iat[i]}), column {column}: {why.format(v=df[column].iat[i])}")
        if mask.sum() > MAX_LISTED:
            problems.append(f"{rows[table].file}: column {column}: {int(mask.sum()) - MAX_LISTED} more rows with the same problem")

    level = tree.level
    for table, key, col in (("households", "household_id", "village_id"), ("projects", "project_id", "village_id")):
        pos = tree.pos(t[table][col])
        report(table, key, pos < 0, col, "unknown region '{v}'")
        report(table, key, (pos >= 0) & (level[np.maximum(pos, 0)] != Level.VILLAGE), col, "region '{v}' is not a village (level 5)")
    known_measures = pd.Index(t["measures"]["measure_id"])
    in_labels = known_measures.str.contains("[+" + re.escape(PLAN_PROJECT_SEP + LIST_SEP) + "]", regex=True)
    report("measures", "measure_id", np.asarray(in_labels), "measure_id",
           f"'{{v}}' cannot name a measure: a plan's label joins its measures with '+' and its project with '{PLAN_PROJECT_SEP}', "
           f"and lists separate them with '{LIST_SEP}'")  # fmt: skip
    report("projects", "project_id", ~t["projects"]["measure_id"].isin(known_measures).to_numpy(), "measure_id", "unknown measure '{v}'")
    report("funds", "fund_id", (tree.pos(t["funds"]["region_id"]) < 0), "region_id", "unknown region '{v}'")
    report("helpers", "helper_id", (tree.pos(t["helpers"]["home_region_id"]) < 0), "home_region_id", "unknown region '{v}'")
    problems += target_problems(t["funds"], set(tree.ids), rows["funds"])
    measure_set = set(known_measures)
    for i, text in enumerate(t["measures"]["combines_with"].to_numpy()):
        unknown = [m for m in _split(text) if m not in measure_set]
        if unknown:
            listed = ", ".join(map(repr, unknown))
            problems.append(f"{rows['measures'].at(i)} (measure_id={known_measures[i]}), column combines_with: unknown measure(s) {listed}")
    size = t["households"]["size"].to_numpy()
    for col in ("labour", "school_children"):
        report("households", "household_id", t["households"][col].to_numpy() > size, col, "{v} is more than the household's size")
    rural = t["regions"]["rural_households"].to_numpy()
    hh_per_village = np.bincount(np.maximum(tree.pos(t["households"]["village_id"]), 0), minlength=len(tree.ids))
    short = (level == Level.VILLAGE) & (rural > 0) & (rural < hh_per_village)
    report("regions", "region_id", short, "rural_households", "{v} is fewer than the village's registered poor households")
    return problems


def _split(text: str) -> list[str]:
    return [s.strip() for s in str(text).split(LIST_SEP) if s.strip()]


def target_problems(funds: pd.DataFrame, ids: set[str], rows: TableRows) -> list[str]:
    """The funds whose ``targets`` name a region not in ``ids``, by row."""
    problems = []
    for i, text in enumerate(funds["targets"].to_numpy()):
        unknown = [r for r in _split(text) if r not in ids]
        if unknown:
            problems.append(f"{rows.at(i)} (fund_id={funds['fund_id'].iat[i]}), column targets: unknown region(s) {', '.join(map(repr, unknown))}")
    return problems


def parse_eligibility(measures: pd.DataFrame, rows: TableRows = TableRows("measures.csv")) -> tuple[pd.DataFrame, list[str]]:
    """Turn each measure's declarative rule string into (column, op, value) rows."""
    rules: list[tuple[str, str, str, object]] = []
    problems: list[str] = []
    causes = {c.value for c in Cause}
    for i, (mid, text) in enumerate(zip(measures["measure_id"], measures["eligibility"])):
        where = f"{rows.at(i)} (measure_id={mid}), column eligibility"
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
                    rules.append((mid, PROJECT_RULE, "requires", value))
                continue
            if key == "requires_cause":
                if value not in causes:
                    problems.append(f"{where}: unknown cause '{value}' in '{item}'")
                else:
                    rules.append((mid, "cause", "==", value))
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
                bound = float(number)
            except ValueError:
                bound = math.nan
            if math.isfinite(bound):
                rules.append((mid, column, op, bound))
            else:
                problems.append(f"{where}: rule '{item}' needs a finite number, got '{number}'")
    return pd.DataFrame(rules, columns=["measure_id", "column", "op", "value"]), problems
