"""Read an input folder written as partitioned Parquet (``optimizer generate --partitioned``), whole or for
a set of counties, so that a worker can load one county without reading the others.

Layout: ``regions.parquet`` (with ``province``, ``city`` and ``county`` ancestor columns), ``measures.parquet``,
``funds.parquet``, and ``households``, ``projects`` and ``helpers`` as Hive-partitioned datasets
``<table>/province=<id>/county=<id>/*.parquet``. County filters are pyarrow dataset filters on the partition
columns, so only the chosen counties' files are opened.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .contract import LIST_SEP, TABLES, Level
from .data import Instance, _coerce, _first_line, _personal_columns, build_instance, file_sha256, lists_as_text, repeated_columns, target_problems
from .errors import InputError
from .inputs import TableRows
from .regions import RegionTree, build_tree

PARTITION = ds.partitioning(pa.schema([("province", pa.string()), ("county", pa.string())]), flavor="hive")
SPLIT_TABLES = ("households", "projects", "helpers")
WHOLE_TABLES = ("regions", "measures", "funds")
ANCESTOR_COLUMNS = ("province", "city", "county")
KEYS = {"households": "household_id", "projects": "project_id", "helpers": "helper_id"}
VALIDATE_BATCH = 500_000  # households per batch of counties when a partitioned folder is checked in pieces
SHOWN_DUPLICATES = 10


def partition_dir(province: str, county: str) -> str:
    """The folder of one county's rows inside a partitioned table."""
    return f"province={province}/county={county}"


def is_partitioned(folder: str | Path) -> bool:
    """Whether ``folder`` holds a partitioned instance (a ``households`` folder rather than a file)."""
    return (Path(folder) / "households").is_dir()


def partition_counties(folder: str | Path, table: str = "households") -> list[str]:
    """Ids of the counties that have a partition of ``table``, in order (from the folder names alone)."""
    return sorted(p.name.split("=", 1)[1] for p in (Path(folder) / table).glob("province=*/county=*") if p.is_dir())


def county_households(folder: str | Path) -> pd.Series:
    """Households per county (county id -> rows, counties without any left out), from the Parquet footers alone."""
    counts = dict.fromkeys(partition_counties(folder), 0)
    for path in _split_files(Path(folder), "households"):
        with _parquet(path):
            counts[path.parent.name.split("=", 1)[1]] += pq.ParquetFile(path).metadata.num_rows
    sizes = pd.Series(counts, dtype=np.int64)
    return sizes[sizes > 0]


def _split_files(folder: Path, table: str) -> list[Path]:
    """The Parquet files of a partitioned table, in path order."""
    return sorted((folder / table).glob("province=*/county=*/*.parquet"))


@dataclass(frozen=True)
class Frame:
    """What the decomposition's driver holds of a partitioned instance: the region tree, the funds and the
    households per county, never the households themselves; and the sha256 of every input file."""

    regions: pd.DataFrame
    funds: pd.DataFrame
    tree: RegionTree
    county_households: pd.Series  # county id -> households, from the Parquet footers
    hashes: dict[str, str]
    # a registry's: township position -> the households it plans, counted by the database (where the helpers homed
    # above the counties are needed: storage.upper_helper_shares)
    town_households: pd.Series | None = None


def load_frame(folder: str | Path) -> Frame:
    """The regions and funds of a partitioned instance, type-checked, and its household counts per county."""
    folder = Path(folder)
    if not is_partitioned(folder):
        raise InputError(f"'{folder}' is not a partitioned instance (no households/ folder)")
    problems: list[str] = []
    tables: dict[str, pd.DataFrame] = {}
    hashes: dict[str, str] = {}
    for table in ("regions", "funds"):
        path = folder / f"{table}.parquet"
        if not path.is_file():
            raise InputError(f"{folder}: missing {table}.parquet")
        hashes[path.name] = file_sha256(path)
        raw = _read_parquet(path).drop(columns=list(ANCESTOR_COLUMNS), errors="ignore")
        tables[table], errs = _coerce(raw, TABLES[table], TableRows(f"{path}"))
        problems += errs
    if problems:
        raise InputError(problems)
    tree, errs = build_tree(tables["regions"], f"{folder / 'regions.parquet'}")
    unknown = sorted(set(tables["funds"]["region_id"]) - set(tables["regions"]["region_id"]))
    if unknown:
        errs.append(f"{folder / 'funds.parquet'}: unknown region_id {', '.join(map(repr, unknown[:10]))}")
    if not errs:  # what a county's own load cannot see: targets anywhere, the folder's layout (ids: duplicate_ids)
        errs += target_problems(tables["funds"], set(tree.ids), TableRows(f"{folder / 'funds.parquet'}"))
        errs += layout_problems(folder, tree)
    households = county_households(folder)
    errs += households_missing(folder, households)
    if errs:
        raise InputError(errs, source=str(folder))
    # every input file's hash, as a whole load records them: a run read by the workers is reproduced on the same data
    for path in [folder / "measures.parquet", *(f for table in SPLIT_TABLES for f in _split_files(folder, table))]:
        if path.is_file():
            hashes[str(path.relative_to(folder))] = file_sha256(path)
    return Frame(tables["regions"], tables["funds"], tree, households, hashes)


def load_partitioned(
    folder: str | Path,
    counties: Iterable[str] | None = None,
    allow_personal_columns: bool = False,
    funds: pd.DataFrame | None = None,
    regions: pd.DataFrame | None = None,
    record_hashes: bool = True,
    households_required: bool = True,
) -> Instance:
    """Load a partitioned instance, whole (``counties`` None) or restricted to ``counties``.

    Restricted, the instance holds those counties' subtrees and their ancestors, their households,
    projects and helpers, every fund held in a kept region, and paired-assistance funds whose targets
    include kept regions (targets outside them are dropped). Funds held above the counties keep their
    full amount: how much of it these counties may use is for the caller (the decomposition) to decide; it may
    pass the ``funds`` table to use instead, and the counties' ``regions`` rows (subtrees and ancestors, as
    :func:`optimizer.storage.county_regions` gives them), validated with the rest: then neither national table is
    read. Unless ``record_hashes``, the files' sha256 are not computed (a decomposition's driver has them). Without
    ``households_required``, counties without households are valid (their first secretaries alone are assigned)."""
    folder = Path(folder)
    if not is_partitioned(folder):
        raise InputError(f"'{folder}' is not a partitioned instance (no households/ folder)")
    wanted = None if counties is None else sorted(set(counties))
    problems: list[str] = []
    hashes: dict[str, str] = {}
    raw: dict[str, pd.DataFrame] = {}
    for table in WHOLE_TABLES:
        path = folder / f"{table}.parquet"
        if not path.is_file():
            problems.append(f"{folder}: missing {table}.parquet")
            continue
        if record_hashes:
            hashes[path.name] = file_sha256(path)
        if wanted is None or table == "measures":
            raw[table] = _read_parquet(path)
    if problems:
        raise InputError(problems)
    places = None
    if wanted is not None:
        if regions is None:
            raw["regions"], raw["funds"] = _restricted(folder, wanted)
        else:
            raw["regions"] = regions.sort_values("level", kind="stable").reset_index(drop=True)  # as _restricted orders them
        places = _places(folder, raw["regions"], wanted)
    if funds is not None:
        raw["funds"] = funds
    for table in SPLIT_TABLES:
        if not (folder / table).is_dir():
            problems.append(f"{folder}: missing {table}/ (partitioned by province and county)")
            continue
        with _parquet(folder / table):
            raw[table], files = _read_split(folder / table, wanted, places)
        if record_hashes:
            hashes.update({str(f.relative_to(folder)): file_sha256(f) for f in files})
    if problems:
        raise InputError(problems)
    if wanted is not None:
        _misfiled(folder, raw, wanted)
    raw["regions"] = raw["regions"].drop(columns=[c for c in ANCESTOR_COLUMNS if c in raw["regions"].columns])
    for table, df in raw.items():
        personal = _personal_columns(table, df)
        if personal and not allow_personal_columns:
            problems.append(
                f"{table}: column(s) {', '.join(personal)} look like personal data (names, phone or ID-card numbers); "
                "remove them (the optimizer needs only opaque ids) or pass allow_personal_columns=True"
            )
        raw[table] = df.drop(columns=personal)
    if problems:
        raise InputError(problems)
    label = str(folder) if wanted is None else f"{folder} (counties {', '.join(wanted[:5])}{', ...' if len(wanted) > 5 else ''})"
    rows = {table: TableRows(f"{table}.parquet") for table in WHOLE_TABLES} | {table: TableRows(f"{table}/ (its files in order)") for table in SPLIT_TABLES}
    instance = build_instance(raw, source=label, hashes=hashes, rows=rows, households_required=households_required)
    if wanted is None:
        layout = layout_problems(folder, instance.tree) + households_missing(folder, county_households(folder))
        if layout:
            raise InputError(layout, source=str(folder))
    return instance


def validate_partitioned(folder: str | Path, progress: Callable[[str], None] | None = None, batch: int = VALIDATE_BATCH) -> dict[str, int]:
    """Check a partitioned instance without loading it whole: the regions and funds (``load_frame``), then the
    counties in batches of about ``batch`` households, each batch loaded and checked as a decomposed solve's workers
    load their counties, and the ids that must be unique across counties. A batch with problems is checked again
    county by county, so that each problem names its county and a row of that county's files. Raises
    :class:`InputError` with every problem found; returns the row count of every table."""
    folder = Path(folder)
    frame = load_frame(folder)
    say = progress or (lambda msg: None)
    counties = sorted(set().union(*(partition_counties(folder, table) for table in SPLIT_TABLES)))
    sizes = frame.county_households.reindex(counties, fill_value=0).to_numpy()
    group = (np.cumsum(sizes) - sizes) // max(batch, 1)  # by the households before each county
    counts = dict.fromkeys(SPLIT_TABLES, 0)
    measures = 0
    problems: list[str] = []
    for g in np.unique(group):
        chosen = [c for c, k in zip(counties, group) if k == g]
        try:
            instance = load_partitioned(folder, chosen)
        except InputError as batch_err:
            found = len(problems)
            for county in chosen:  # the batch again, county by county: each problem with its county and row
                try:
                    load_partitioned(folder, [county])
                except InputError as err:
                    problems += [f"county {county}: {p}" for p in err.problems]
            if len(problems) == found:  # only the counties together fail (an id in two of them: also reported below)
                problems += [f"counties {chosen[0]} to {chosen[-1]}: {p}" for p in batch_err.problems]
        else:
            measures = len(instance.measures)
            for table in SPLIT_TABLES:
                counts[table] += len(getattr(instance, table))
        say(f"checked {int(np.searchsorted(group, g, side='right')):,} of {len(counties):,} counties")
    problems += duplicate_ids(folder)
    if problems:
        raise InputError(problems, source=str(folder))
    return {"households": counts["households"], "regions": len(frame.regions), "measures": measures, "projects": counts["projects"],
            "funds": len(frame.funds), "helpers": counts["helpers"]}  # fmt: skip


def layout_problems(folder: Path, tree: RegionTree) -> list[str]:
    """What a partitioned folder's layout says wrong before any county is read: a partition of a county that
    ``regions.parquet`` does not hold, or under another province's folder (no county's load would read its rows, or
    the wrong one would), and a regions, funds or measures CSV beside the Parquet tables (which alone are read)."""
    problems = []
    for table in SPLIT_TABLES:
        for place in sorted(p for p in (folder / table).glob("province=*/county=*") if p.is_dir()):
            province, county = place.parent.name.split("=", 1)[1], place.name.split("=", 1)[1]
            pos = int(tree.pos([county])[0])
            if pos < 0 or tree.level[pos] != Level.COUNTY:
                problems.append(f"{place}: {county!r} is not a county of regions.parquet (a partition is named county=<its county's region_id>)")
                continue
            home = str(tree.ancestor_ids(np.array([pos]), Level.PROVINCE)[0])
            if home != province:
                problems.append(f"{place}: county {county} lies in province {home}; its files belong under {table}/province={home}/county={county}")
    for name in ("regions", "funds", "measures"):
        if (folder / f"{name}.csv").exists():
            problems.append(f"{folder}: {name}.csv beside the partitioned tables; a partitioned folder reads {name}.parquet only, so remove or convert it")
    return problems


def households_missing(folder: Path, households: pd.Series) -> list[str]:
    """Counties whose households partition holds no rows, or that have projects but no households partition: a
    county without poor households has no partition, so a file is missing (its households were solved without a
    word). ``households``: rows per county (:func:`county_households`)."""
    places = set(partition_counties(folder))
    empty = sorted(places - set(households.index))
    orphans = sorted(set(partition_counties(folder, "projects")) - places)
    return [f"{folder / 'households'}: county {c}'s partition holds no rows; a county without poor households has none (a file missing?)" for c in empty] + [
        f"{folder / 'projects'}: county {c} has projects but no households partition (a households file missing?)" for c in orphans
    ]


def _misfiled(folder: Path, raw: dict[str, pd.DataFrame], counties: list[str]) -> None:
    """Refuse rows of these counties' partitions whose village lies in another county (regions.parquet, read only
    for them): the county's own load would call it an unknown region, and only a whole load would place it."""
    known = set(raw["regions"]["region_id"])
    away = {t: raw[t][~raw[t]["village_id"].astype(str).isin(known)] for t in ("households", "projects") if "village_id" in raw[t].columns}
    villages = sorted({v for rows in away.values() for v in rows["village_id"].astype(str)})
    if not villages:
        return
    found = _read_parquet(folder / "regions.parquet", [("region_id", "in", villages)])
    if not {"province", "county"} <= set(found.columns):
        return
    home = found.set_index("region_id")[["province", "county"]]
    problems = []
    for table, rows in away.items():
        key = KEYS[table]
        for k, v in rows[[key, "village_id"]].astype(str).head(20).itertuples(index=False):
            if v in home.index:
                province, county = home.loc[v, "province"], home.loc[v, "county"]
                problems.append(f"{folder / table} (counties {', '.join(counties[:5])}): {key} {k}'s village {v} lies in county {county}; "
                                f"its row belongs under {table}/province={province}/county={county}")  # fmt: skip
    if problems:
        raise InputError(problems)


def duplicate_ids(folder: Path) -> list[str]:
    """Ids of households, projects or helpers that appear more than once in the whole folder (a county's own load
    only sees its own rows), each with the counties that hold it."""
    problems = []
    for table, key in KEYS.items():
        files = _split_files(folder, table)
        if not files:
            continue
        with _parquet(folder / table):
            ids = _dataset(folder / table, files).to_table(columns=[key, "county"])
        seen = pc.value_counts(ids[key])
        repeated = seen.filter(pc.greater(seen.field("counts"), 1)).field("values")
        if len(repeated):
            twice = ids.filter(pc.is_in(ids[key], value_set=repeated)).to_pandas()
            where = twice.groupby(key, sort=True)["county"].agg(lambda c: ", ".join(sorted(set(c))))
            shown = "; ".join(f"{k} (county {v})" for k, v in where.head(SHOWN_DUPLICATES).items())
            more = f" and {len(where) - SHOWN_DUPLICATES:,} more" if len(where) > SHOWN_DUPLICATES else ""
            problems.append(f"{folder / table}: {len(where):,} {key} value(s) appear more than once: {shown}{more}")
    return problems


def _read_split(base: Path, counties: list[str] | None, places: list[str] | None) -> tuple[pd.DataFrame, list[Path]]:
    """One partitioned table, files in path order (so rows come out in the writer's order), filtered on the
    county partition column (``places``: the counties' partition folders, when known); the partition
    columns are dropped."""
    pattern = ["province=*/county=*"] if places is None else sorted(places)
    files = sorted(f for p in pattern for f in base.glob(f"{p}/*.parquet"))
    if not files:  # no file for these counties (a county without projects, say): the table without rows, not without columns
        return pd.DataFrame({c.name: pd.Series(dtype=object) for c in TABLES[base.name]}), []
    dataset = _dataset(base, files)
    expr = None if counties is None else ds.field("county").isin(counties)
    used = [Path(f.path) for f in dataset.get_fragments(filter=expr)] if expr is not None else files
    table = lists_as_text(dataset.to_table(filter=expr))
    df = table.drop_columns([c for c in ("province", "county") if c in table.column_names]).to_pandas()
    return df, used


def _dataset(base: Path, files: list[Path]) -> ds.Dataset:
    """A partitioned table's files as one dataset with every file's columns (Arrow would take the first file's and
    drop a column the first one lacks; one that a file lacks is null in its rows, an empty cell as in a CSV)."""
    schemas = [_decoded(_schema(f)) for f in files]
    try:
        schema = pa.unify_schemas(schemas + [PARTITION.schema], promote_options="permissive") if files else None
    except pa.ArrowException:  # Arrow names the column, not the files: name the first file whose type differs
        first: dict[str, tuple[pa.DataType, Path]] = {}
        for path, sch in zip(files, schemas):
            for field in sch:
                kind, where = first.setdefault(field.name, (field.type, path))
                if not _compatible(kind, field.type):
                    raise InputError(f"{path}: column {field.name} is {field.type} where {where} has {kind}; write it with one type in every file") from None
        raise
    return ds.dataset([str(f) for f in files], schema=schema, format="parquet", partitioning=PARTITION, partition_base_dir=str(base))


def _decoded(schema: pa.Schema) -> pa.Schema:
    """``schema`` with its dictionary-encoded columns (a pandas categorical written to Parquet) as their values'
    type: a county's file may encode a column that another holds as plain text."""
    if not any(pa.types.is_dictionary(f.type) for f in schema):
        return schema
    return pa.schema([f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema])


def _compatible(a: pa.DataType, b: pa.DataType) -> bool:
    """Whether Arrow's permissive promotion merges columns of types ``a`` and ``b`` (numbers with numbers, text with
    text, either with null)."""
    try:
        pa.unify_schemas([pa.schema([("c", a)]), pa.schema([("c", b)])], promote_options="permissive")
    except pa.ArrowException:
        return False
    return True


def _places(folder: Path, regions: pd.DataFrame, counties: list[str]) -> list[str]:
    """The partition folders of ``counties``: each with its province, up the parents in ``regions`` (which hold the
    counties and their ancestors)."""
    parent = dict(zip(regions["region_id"], regions["parent_id"]))
    level = dict(zip(regions["region_id"], pd.to_numeric(regions["level"])))
    unknown = [c for c in counties if level.get(c) != Level.COUNTY]
    if unknown:
        raise InputError(f"{folder}: unknown county id(s) {', '.join(map(repr, unknown[:10]))}")
    places = []
    for county in counties:
        province = county
        while level.get(province, Level.PROVINCE) > Level.PROVINCE:
            province = parent[province]
        places.append(partition_dir(province, county))
    return places


def _restricted(folder: Path, counties: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Regions and funds for a set of counties, read with row filters (the national tables stay on disk): the
    counties' subtrees, their ancestors, the funds held there or targeting them, and those funds' holders."""
    regions_path, funds_path = folder / "regions.parquet", folder / "funds.parquet"
    inside = _read_parquet(regions_path, [("county", "in", counties)])
    unknown = sorted(set(counties) - set(inside.loc[inside["level"] == 3, "region_id"]))
    if unknown:
        raise InputError(f"{folder}: unknown county id(s) {', '.join(map(repr, unknown[:10]))}")
    upper_ids = sorted((set(inside["province"]) | set(inside["city"])) - {""})
    upper = _read_parquet(regions_path, [[("region_id", "in", upper_ids)], [("parent_id", "=", "")]])
    kept_ids = set(inside["region_id"]) | set(upper["region_id"])
    funds = _read_parquet(funds_path, [[("region_id", "in", sorted(kept_ids))], [("targets", "!=", "")]])
    targets = funds["targets"].fillna("").astype(str)
    has_targets = targets.str.strip() != ""
    restricted = targets.copy()
    for i in np.flatnonzero(has_targets.to_numpy()):  # one per paired-assistance fund
        restricted.iat[i] = LIST_SEP.join(t for t in (x.strip() for x in targets.iat[i].split(LIST_SEP)) if t in kept_ids)
    reaches = np.where(has_targets, restricted != "", funds["region_id"].isin(kept_ids))
    funds = funds[reaches].assign(targets=restricted[reaches]).reset_index(drop=True)
    holders = sorted(set(funds["region_id"]) - kept_ids)  # e.g. the eastern partner of a paired fund
    parts = [inside, upper]
    if holders:
        parts.append(_read_parquet(regions_path, [("region_id", "in", holders)]))
    regions = pd.concat(parts, ignore_index=True).sort_values("level", kind="stable").reset_index(drop=True)
    return regions, funds


def _schema(path: Path) -> pa.Schema:
    """One Parquet file's columns (its footer); unreadable, bad input naming it."""
    with _parquet(path):
        schema = pq.read_schema(path)
    repeated_columns(path, schema.names)
    return schema


def _read_parquet(path: Path, filters: list[Any] | None = None) -> pd.DataFrame:
    """One Parquet file as a frame, with Arrow's row ``filters`` if any; unreadable, bad input naming it."""
    _schema(path)
    with _parquet(path):
        return lists_as_text(pq.read_table(path, filters=filters)).to_pandas()


@contextmanager
def _parquet(what: Path) -> Iterator[None]:
    """Arrow's errors while reading ``what`` (a file, or a partitioned table's folder: Arrow names the file) as bad
    input, worded as the folder loader words them."""
    try:
        yield
    except (OSError, ValueError, pa.ArrowException) as err:
        raise InputError(f"{what}: cannot be read as a Parquet table: {_first_line(err)}") from None


def write_part(table: pd.DataFrame, path: Path) -> Path:
    """One block's share of an output table as one Parquet file, written whole or not at all (a retried task
    writes it again)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def read_parts(paths: list[Path]) -> ds.Dataset:
    """The blocks' parts of one output table as one dataset, in the order given, under one schema (a column
    that a block lacks, or holds only nulls in, takes the type the others give it)."""
    schemas = [pq.read_schema(p) for p in paths]
    schema = pa.unify_schemas(schemas, promote_options="permissive").remove_metadata() if schemas else pa.schema([])
    return ds.dataset([str(p) for p in paths], schema=schema, format="parquet")
