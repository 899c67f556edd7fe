"""The registry and the published allocations in a database: SQLAlchemy Core tables, migrated by Alembic.

SQLite (a file) is the embedded default and PostgreSQL the production target; both are tested for real.
Registry tables mirror the data contract (``contract.TABLES``) plus the operational columns: household
``status``, fund ``spent`` and ``committed``. Commitments fix a household's plan or a project and charge its
cost to the funds that paid for it in the version it came from. Result tables hold every allocation version;
``published`` points at the current one, and ``runs`` is the nightly job's ledger.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    exists,
    false,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from .contract import TABLES, HelperKind, Level
from .data import Instance, _coerce, build_instance, cut_rows, equal_pairs, group_ranks, isin, load_instance, measure_rows
from .errors import BusyError, InputError, check_argument
from .helpers import served_regions
from .inputs import DEFAULT_MAX_INPUT_MB, TableRows
from .regions import RegionTree, build_tree
from .scenario import is_url

STATUSES = ("registered", "exited", "returned")
OPEN_STATUSES = ("registered", "returned")
if TYPE_CHECKING:
    from .partitioned import Frame  # pyarrow.dataset: its import alone maps about 1 GB of address space (RLIMIT_DATA)

LOCK_NAME = "nightly"
PG_LOCK_KEY = 0x706F7665  # an arbitrary constant: pg_advisory_lock key of the nightly job
MONEY_TOL = 0.5  # yuan
BUSY_TIMEOUT_MS = 30_000  # how long a SQLite statement waits for another job's write lock

metadata = MetaData()

_TYPES: dict[str, Any] = {"id": String(64), "ref": String(64), "str": Text(), "list": Text(), "enum": String(32)}
_TYPES.update({"int": Integer(), "float": Float(), "bool": Boolean()})


def _contract_table(name: str, *extra: Column[Any]) -> Table:
    cols = TABLES[name]
    columns: list[Column[Any]] = [Column(cols[0].name, _TYPES["id"], primary_key=True)]
    columns += [Column(c.name, _TYPES[c.kind], nullable=True) for c in cols[1:]]
    return Table(name, metadata, *columns, *extra)


regions = _contract_table("regions")
households = _contract_table("households", Column("status", String(16), nullable=False, server_default="registered"))
measures = _contract_table("measures")
projects = _contract_table("projects")
funds = _contract_table(
    "funds",
    Column("spent", Float(), nullable=False, server_default="0"),
    Column("committed", Float(), nullable=False, server_default="0"),
)
helpers = _contract_table("helpers")
REGISTRY: dict[str, Table] = {"regions": regions, "households": households, "measures": measures, "projects": projects, "funds": funds, "helpers": helpers}

versions = Table(
    "versions",
    metadata,
    Column("version_id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # published (at creation) or rejected
    Column("scenario_name", Text, nullable=False),
    Column("input_hash", String(64), nullable=False),
    Column("objective", Float, nullable=False),
    Column("bound", Float, nullable=False),
    Column("gap", Float, nullable=False),
    Column("expected_lifted", Float, nullable=False),
    Column("cost", Float, nullable=False),
    Column("households", Integer, nullable=False),
    Column("committed_households", Integer, nullable=False),
    Column("manifest", Text, nullable=False),
)


def _monitoring_columns() -> list[Column[Any]]:
    """The monitoring columns of ``version_households`` and ``commitments`` (migration 0003; new objects per table)."""
    return [
        Column("monitored", Boolean, nullable=False, server_default=false()),
        Column("monitoring_years", Integer, nullable=False, server_default="0"),
        Column("monitoring_cost", Float, nullable=False, server_default="0"),
    ]


version_households = Table(
    "version_households",
    metadata,
    Column("version_id", Integer, ForeignKey("versions.version_id"), primary_key=True),
    Column("household_id", String(64), primary_key=True),
    Column("village_id", String(64), nullable=False),
    Column("plan", Text, nullable=False),
    Column("measures", Text, nullable=False),
    Column("project_id", String(64), nullable=False),
    Column("cost", Float, nullable=False),
    Column("p_success", Float, nullable=False),
    Column("value", Float, nullable=False),
    Column("income_before", Float, nullable=False),
    Column("income_after", Float, nullable=False),
    Column("helper_id", String(64), nullable=False),
    Column("committed", Boolean, nullable=False),
    # multi-year versions only (0 in one-year versions): start year (0: never started), the year the plan takes
    # effect, and the probability of being out of poverty at the deadline
    Column("year", Integer, nullable=False, server_default="0"),
    Column("effect_year", Integer, nullable=False, server_default="0"),
    Column("p_deadline", Float, nullable=False, server_default="0"),
    # multi-year versions with years.monitoring (false / 0 otherwise): monitored from the effect year + 1 to the
    # deadline, for how many years and at what cost in all
    *_monitoring_columns(),
)
version_projects = Table(
    "version_projects",
    metadata,
    Column("version_id", Integer, ForeignKey("versions.version_id"), primary_key=True),
    Column("project_id", String(64), primary_key=True),
    Column("village_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("category", String(32), nullable=False),
    Column("built", Boolean, nullable=False),
    Column("cost", Float, nullable=False),
    Column("committed", Boolean, nullable=False),
    Column("built_year", Integer, nullable=False, server_default="0"),  # multi-year: year built (0: one-year or not built)
)
version_flows = Table(
    "version_flows",
    metadata,
    Column("version_id", Integer, ForeignKey("versions.version_id"), primary_key=True),
    Column("fund_id", String(64), primary_key=True),
    Column("village_id", String(64), primary_key=True),
    Column("category", String(32), primary_key=True),
    Column("amount", Float, nullable=False),
    Column("year", Integer, primary_key=True, server_default="0"),  # multi-year: the year the money flows (0: one-year)
)
commitments = Table(
    "commitments",
    metadata,
    Column("commitment_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # household or project
    Column("ref_id", String(64), nullable=False),
    Column("version_id", Integer, ForeignKey("versions.version_id"), nullable=False),
    Column("village_id", String(64), nullable=False),
    Column("plan", Text, nullable=False),
    Column("measures", Text, nullable=False),
    Column("project_id", String(64), nullable=False),
    Column("cost", Float, nullable=False),
    Column("p_success", Float, nullable=False),
    Column("value", Float, nullable=False),
    Column("income_before", Float, nullable=False),
    Column("income_after", Float, nullable=False),
    Column("helper_id", String(64), nullable=False),
    Column("committed_at", String(32), nullable=False),
    # multi-year: the start (a project: build) year the commitment keeps, as in version_households
    Column("year", Integer, nullable=False, server_default="0"),
    Column("effect_year", Integer, nullable=False, server_default="0"),
    Column("p_deadline", Float, nullable=False, server_default="0"),
    *_monitoring_columns(),  # a committed multi-year plan keeps its monitoring choice
    UniqueConstraint("kind", "ref_id", name="uq_commitment"),
)
commitment_charges = Table(
    "commitment_charges",
    metadata,
    Column("commitment_id", Integer, ForeignKey("commitments.commitment_id"), primary_key=True),
    Column("fund_id", String(64), primary_key=True),
    Column("amount", Float, nullable=False),
)
runs = Table(
    "runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # nightly or publish
    Column("started_at", String(32), nullable=False),
    Column("ended_at", String(32), nullable=True),
    Column("status", String(16), nullable=False),  # running, published, unchanged, rejected, failed, abandoned
    Column("version_id", Integer, nullable=True),
    Column("input_hash", String(64), nullable=True),
    Column("objective", Float, nullable=True),
    Column("bound", Float, nullable=True),
    Column("gap", Float, nullable=True),
    Column("households_added", Integer, nullable=True),
    Column("households_changed", Integer, nullable=True),
    Column("households_unchanged", Integer, nullable=True),
    Column("households_removed", Integer, nullable=True),
    Column("pid", Integer, nullable=True),
    Column("host", String(255), nullable=True),
    Column("message", Text, nullable=True),
)
published = Table(
    "published",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("version_id", Integer, ForeignKey("versions.version_id"), nullable=False),
    Column("published_at", String(32), nullable=False),
)
lock_holder = Table(
    "job_lock",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("run_id", Integer, nullable=True),
    Column("pid", Integer, nullable=False),
    Column("host", String(255), nullable=False),
    Column("started_at", String(32), nullable=False),
)
PLAN_COLUMNS = [c.name for c in version_households.columns if c.name not in ("version_id", "committed")]
# a county's rows, read by a decomposed solve's worker (migration 0004)
Index("ix_households_village_id", households.c.village_id)
Index("ix_projects_village_id", projects.c.village_id)
Index("ix_helpers_home_region_id", helpers.c.home_region_id)
Index("ix_commitments_project_id", commitments.c.project_id)
Index("ix_commitments_helper_id", commitments.c.helper_id)


HASH_ROWS = 50_000  # rows fetched at a time while a table is hashed
WRITE_ROWS = 50_000  # rows inserted at a time into a version's tables


def now() -> str:
    """UTC time stamp as stored in the ledger."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------------------------------------------------------
# Connecting and migrating
# ---------------------------------------------------------------------------------------------------------------
def normalize_url(url: str, base_dir: str | Path | None = None) -> str:
    """Use the psycopg 3 driver for PostgreSQL and resolve a relative SQLite path against ``base_dir``."""
    url = os.path.expandvars(url)
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and base_dir is not None:
        rel = url[len("sqlite:///") :]
        if rel and rel != ":memory:":
            url = "sqlite:///" + str((Path(base_dir) / rel).resolve())
    return url


def refusal(err: SQLAlchemyError) -> str:
    """What the database said, its first line: SQLAlchemy's message goes on with the statement and its parameters
    (household rows, when it was writing them), which neither a message nor the ledger may repeat."""
    text = str(getattr(err, "orig", None) or err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and manifests."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"://[^@/]*@", "://***@", url)


def open_db(url: str, base_dir: str | Path | None = None, create: bool = False) -> Engine:
    """Connect (and check the connection), with a clear error for a bad URL or an unreachable server. A SQLite file
    is made only with ``create`` (``optimizer db init``): a mistyped path would leave an empty database behind."""
    url = normalize_url(url, base_dir)
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError as err:
        raise InputError(f"database URL '{redact(url)}' is not valid: {err}") from None
    if backend not in ("sqlite", "postgresql"):
        raise InputError(f"database URL '{redact(url)}': only sqlite and postgresql are supported, not {backend}")
    try:
        engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ImportError) as err:
        raise InputError(f"database URL '{redact(url)}' cannot be used: {err}") from None
    if engine.dialect.name == "sqlite":
        db = engine.url.database or ""
        if db and db != ":memory:" and not Path(db).parent.is_dir():
            raise InputError(f"database URL '{redact(url)}': folder {Path(db).parent} does not exist")
        if db and db != ":memory:" and not create and not Path(db).is_file():
            raise InputError(f"database URL '{redact(url)}': no database file {db}; make one with `optimizer db init --db URL`")
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except (OperationalError, SQLAlchemyError) as err:
        first = str(err.orig if hasattr(err, "orig") and err.orig else err).strip().splitlines()[0]
        raise InputError(f"cannot connect to database '{redact(url)}': {first}") from None
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def _alembic_config(conn: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    cfg.attributes["connection"] = conn
    return cfg


def init_db(engine: Engine) -> str:
    """Create or upgrade the schema to the newest migration; returns the revision."""
    from alembic import command

    rev, where = schema_revision(engine), redact(str(engine.url))
    if rev is not None and rev not in known_revisions():
        raise _newer_schema(where, rev)
    own = sorted(set(inspect(engine).get_table_names()) - {"alembic_version"})
    if rev is None and own:
        raise InputError(
            f"database '{where}' already holds tables of its own ({', '.join(own[:8])}{', ...' if len(own) > 8 else ''}) and no optimizer schema: "
            "db init makes a registry in an empty database only; give it a new SQLite file or another PostgreSQL database"
        )
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "head")
    return schema_revision(engine) or ""


def schema_revision(engine: Engine) -> str | None:
    """The migration the database is at (None for a database the optimizer never initialised)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest migration shipped with this version of the optimizer."""
    return known_revisions()[-1]


def known_revisions() -> list[str]:
    """The migrations shipped with this version of the optimizer, oldest first."""
    from alembic.script import ScriptDirectory

    with create_engine("sqlite://").connect() as conn:
        return [str(s.revision) for s in reversed(list(ScriptDirectory.from_config(_alembic_config(conn)).walk_revisions()))]


def _newer_schema(where: str, rev: str) -> InputError:
    return InputError(
        f"database '{where}' is at schema revision {rev}, which this optimizer does not know (it knows up to {head_revision()}): "
        "a newer optimizer made or upgraded it; use that version, or upgrade this one"
    )


def require_schema(engine: Engine) -> None:
    """Refuse a database whose schema is missing, older than this program's, or without one of its tables."""
    rev, head = schema_revision(engine), head_revision()
    where = redact(str(engine.url))
    if rev is None:
        raise InputError(f"database '{where}' has no optimizer schema: run `optimizer db init --db URL` first")
    if rev not in known_revisions():
        raise _newer_schema(where, rev)
    if rev != head:
        raise InputError(f"database '{where}' is at schema revision {rev}, this optimizer needs {head}: run `optimizer db init --db URL` to upgrade")
    missing = sorted(set(metadata.tables) - set(inspect(engine).get_table_names()))
    if missing:  # dropped outside the optimizer: every later statement on them would fail half-way through a job
        raise InputError(f"database '{where}' lacks table(s) {', '.join(missing)} of schema revision {rev} (changed outside the optimizer?); "
                         "restore it from a backup, or make a new registry with `optimizer db init` and `optimizer db import`")  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# Registry: import, read, edit
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Imported:
    """What :func:`import_folder` did: per table the rows ``inserted``, ``updated`` (changed), ``unchanged`` and
    ``absent`` (in the registry, not in the folder: kept; for households only open ones count, as they stay
    planned); the ids of those open households, of the folder's households the registry holds as exited (they
    stay exited), and of the committed households the folder puts in another village than their commitment's
    (their committed plans stay where they were committed)."""

    counts: dict[str, dict[str, int]]
    absent: list[str]
    exited: list[str]
    moved: list[str]


def import_folder(engine: Engine, folder: str | Path, allow_personal_columns: bool = False) -> Imported:
    """Validate a data folder and upsert its six tables into the registry (new households are ``registered``; a
    household's status is never changed by an import). All or nothing: one transaction."""
    require_schema(engine)
    instance = load_instance(folder, allow_personal_columns=allow_personal_columns)
    counts: dict[str, dict[str, int]] = {}
    with engine.begin() as conn:
        c = commitments.c
        placed = pd.DataFrame(conn.execute(select(c.ref_id, c.village_id).where(c.kind == "household")).all(), columns=["household_id", "committed_in"])
        for name, table in REGISTRY.items():
            counts[name], stored = _upsert(conn, table, getattr(instance, name), name)
            if name == "households":
                status = stored[["household_id", "status"]]
        f = funds.c
        short = conn.execute(select(f.fund_id, f.amount, f.spent, f.committed).where(f.amount < f.spent + f.committed - 0.005)).all()
        if short:  # every later night would fail on them; nothing of the import is kept
            raise InputError(
                [f"funds (fund_id={i}), column amount: {a:,.2f} is less than the {s + c:,.2f} already spent ({s:,.2f}) and committed ({c:,.2f})"
                 for i, a, s, c in short],
                source=str(folder),
            )  # fmt: skip
    in_folder = isin(status["household_id"], instance.households["household_id"].to_numpy())
    ids = status["household_id"].astype(str)
    absent = sorted(ids[~in_folder & status["status"].isin(OPEN_STATUSES).to_numpy()])
    counts["households"]["absent"] = len(absent)  # open ones only: they stay planned
    now_in = instance.households[["household_id", "village_id"]].merge(placed, on="household_id")
    moved = sorted(now_in.loc[now_in["village_id"] != now_in["committed_in"], "household_id"].astype(str))
    return Imported(counts, absent, sorted(ids[in_folder & (status["status"] == "exited").to_numpy()]), moved)


def _records(df: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    out = df[columns].astype(object)
    return [dict(zip(columns, (v.item() if isinstance(v, np.generic) else v for v in row))) for row in out.itertuples(index=False)]


def insert_rows(conn: Connection, table: Table, df: pd.DataFrame) -> None:
    """Insert ``df``'s rows into ``table`` :data:`WRITE_ROWS` at a time (a row's dict takes about 1 kB: a million at
    once would hold a gigabyte); columns ``df`` lacks take their defaults."""
    columns, block = [c.name for c in table.columns if c.name in df.columns], WRITE_ROWS
    for start in range(0, len(df), block):
        conn.execute(table.insert(), _records(df.iloc[start : start + block], columns))


def _upsert(conn: Connection, table: Table, df: pd.DataFrame, name: str) -> tuple[dict[str, int], pd.DataFrame]:
    """Insert the rows of ``df`` new to ``table`` and update those whose values changed (see :func:`import_folder`);
    return the counts and the rows as they were stored before (households with their status)."""
    cols = [c.name for c in TABLES[name]]
    key = cols[0]
    stored = [table.c[c] for c in cols] + ([table.c.status] if name == "households" else [])
    old = pd.DataFrame(conn.execute(select(*stored)).all(), columns=[c.name for c in stored])
    both = df[cols].merge(old, on=key, how="left", suffixes=("", "_old"), indicator=True, validate="one_to_one")
    known = (both["_merge"] == "both").to_numpy()
    changed = known & np.any([_differs(both[c.name], both[f"{c.name}_old"], c.kind) for c in TABLES[name][1:]], axis=0)
    if (~known).any():
        insert_rows(conn, table, df.loc[~known, cols])
    if changed.any():
        stmt = table.update().where(table.c[key] == bindparam("_key")).values({c: bindparam(c) for c in cols[1:]})
        conn.execute(stmt, [{**r, "_key": r[key]} for r in _records(df.loc[changed], cols)])
    absent = int((~isin(old[key], df[key].to_numpy())).sum())
    return {"inserted": int((~known).sum()), "updated": int(changed.sum()), "unchanged": int((known & ~changed).sum()), "absent": absent}, old


def _differs(new: pd.Series, old: pd.Series, kind: str) -> np.ndarray:
    """Whether each value of an imported column differs from the stored one (missing on both sides is the same)."""
    if kind in ("int", "float", "bool"):
        a, b = (pd.to_numeric(x.astype(object), errors="coerce").to_numpy(dtype=float) for x in (new, old))
        return ~np.isclose(a, b, rtol=1e-12, atol=0.0, equal_nan=True)
    a, b = new.astype(object), old.astype(object)
    missing = a.isna().to_numpy() & b.isna().to_numpy()
    return ~missing & (a.astype(str).to_numpy() != b.astype(str).to_numpy())


def add_households(engine: Engine, df: pd.DataFrame) -> int:
    """Register new households (contract columns); existing ids are refused."""
    cols = [c.name for c in TABLES["households"] if c.name in df.columns]
    with engine.begin() as conn:
        existing = set(conn.execute(select(households.c.household_id)).scalars())
        dup = sorted(set(df["household_id"]) & existing)
        if dup:
            raise InputError(f"households already registered: {', '.join(dup[:10])}")
        conn.execute(households.insert(), [{**r, "status": "registered"} for r in _records(df, cols)])
    return len(df)


def set_status(engine: Engine, household_ids: list[str], status: str) -> int:
    """Mark households registered, exited or returned; all or none (an unknown id refuses the lot)."""
    if status not in STATUSES:
        raise InputError(f"unknown household status '{status}' (allowed: {', '.join(STATUSES)})")
    ids = list(dict.fromkeys(household_ids))
    if not ids:
        raise InputError("no household ids given")
    with engine.begin() as conn:
        known = set(conn.execute(select(households.c.household_id)).scalars())
        unknown = [i for i in ids if i not in known]
        if unknown:
            are = "id is" if len(unknown) == 1 else "ids are"
            raise InputError(f"{len(unknown):,} household {are} not in the registry: {', '.join(unknown[:10])}{' …' if len(unknown) > 10 else ''}")
        conn.execute(update(households).where(households.c.household_id == bindparam("_id")).values(status=status), [{"_id": i} for i in ids])
    return len(ids)


def record_spending(engine: Engine, fund_id: str, amount: float) -> None:
    """Money paid out of a fund outside any optimizer commitment: no longer available to re-plan."""
    if not np.isfinite(amount) or amount < 0:
        raise InputError(f"spending on fund {fund_id}: amount must be a non-negative number, not {amount}")
    with engine.begin() as conn:
        row = conn.execute(select(funds.c.amount, funds.c.spent, funds.c.committed).where(funds.c.fund_id == fund_id)).first()
        if row is None:
            raise InputError(f"spending: unknown fund '{fund_id}'")
        left = float(row.amount) - float(row.spent) - float(row.committed)
        if amount > left + 0.005:
            raise InputError(
                f"spending on fund {fund_id}: {amount:,.4f} yuan is more than its {max(left, 0.0):,.4f} left (amount {float(row.amount):,.2f}, "
                f"spent {float(row.spent):,.2f}, committed {float(row.committed):,.2f}); import the fund's new amount first if it grew"
            )
        conn.execute(update(funds).where(funds.c.fund_id == fund_id).values(spent=funds.c.spent + amount))


@dataclass(frozen=True)
class Registry:
    """Everything the nightly job reads, as plain tables (values as stored, not yet validated)."""

    tables: dict[str, pd.DataFrame]  # the six registry tables, sorted by key
    commitments: pd.DataFrame
    charges: pd.DataFrame
    current_version: int | None
    source: str

    def input_hash(self, scenario_json: str) -> str:
        """Hash of the registry content, the commitments and the scenario: equal inputs give equal hashes."""
        digest = hashlib.sha256(scenario_json.encode())
        for name in (*REGISTRY, "commitments", "charges"):
            df = self.tables[name] if name in self.tables else getattr(self, name)
            df = df.drop(columns=["commitment_id", "committed_at", "version_id"], errors="ignore")
            digest.update(name.encode())
            digest.update(df.to_csv(index=False, lineterminator="\n").encode())
        return digest.hexdigest()


def read_registry(engine: Engine) -> Registry:
    """Read the registry, the commitments and the current version pointer in one consistent snapshot."""
    require_schema(engine)
    tables: dict[str, pd.DataFrame] = {}
    with engine.connect() as conn, conn.begin():
        for name, table in REGISTRY.items():
            tables[name] = _frame(conn, table)
        comm = _frame(conn, commitments)
        charges = _frame(conn, commitment_charges)
        cur = published_in(conn)
    return Registry(tables, comm, charges, cur, redact(str(engine.url)))


def _frame(conn: Connection, table: Table, where: Any = None) -> pd.DataFrame:
    """A table's rows (those ``where`` selects), sorted by key."""
    rows = conn.execute(select(table) if where is None else select(table).where(where)).all()
    df = pd.DataFrame(rows, columns=[c.name for c in table.columns])
    keys = [c.name for c in table.primary_key.columns]
    # sorted here, not by ORDER BY: the database's collation must not change the row order
    return df.sort_values(keys, kind="stable").reset_index(drop=True) if len(df) else df


@dataclass(frozen=True)
class OpenInstance:
    """What is still open to plan: the instance without exited or committed households, funds net of what is
    spent and committed, committed projects free (already paid) and their users' capacity taken."""

    instance: Instance
    committed: pd.DataFrame  # committed household plans, in the version_households layout
    committed_projects: pd.DataFrame  # project_id, cost (already charged)
    exited: int


def _registry_problems(households_status: pd.DataFrame, unknown_refs: pd.DataFrame) -> list[str]:
    """Households with a status the registry does not know (``household_id``, ``status``) and household
    commitments whose household is not registered (``commitment_id``, ``ref_id``)."""
    allowed = ", ".join(STATUSES)
    bad = households_status[~households_status["status"].isin(STATUSES)]
    problems = [
        f"table households (household_id={k}), column status: unknown status '{s}' (allowed: {allowed})" for k, s in zip(bad["household_id"], bad["status"])
    ]
    refs = zip(unknown_refs["commitment_id"], unknown_refs["ref_id"])
    return problems + [f"table commitments (commitment_id={c}), column ref_id: unknown household '{r}'" for c, r in refs]


def _open_funds(f: pd.DataFrame, net: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """The funds with what is left to plan as their amount (amount less spent and committed), and the problems;
    unless ``net`` (a multi-year night: its commitments are decisions inside the model, and what was spent is
    withheld from the current year on), the amounts as they are."""
    problems: list[str] = []
    for col in ("spent", "committed"):
        v = pd.to_numeric(f[col], errors="coerce")
        wrong = ~np.isfinite(v.to_numpy(dtype=float)) | (v.to_numpy(dtype=float) < 0)
        for k, x in zip(f.loc[wrong, "fund_id"], f.loc[wrong, col]):
            problems.append(f"table funds (fund_id={k}), column {col}: must be a non-negative number, not '{x}'")
    if problems or not net:
        return f.drop(columns=["spent", "committed"]), problems
    amount = pd.to_numeric(f["amount"], errors="coerce")
    left = amount - f["spent"].astype(float) - f["committed"].astype(float)
    over = (left < -MONEY_TOL).to_numpy()
    for k, a, x in zip(f.loc[over, "fund_id"], amount[over], left[over]):
        problems.append(f"table funds (fund_id={k}), column amount: {a:,.2f} is less than spent + committed ({-x:,.2f} over)")
    return f.assign(amount=left.clip(lower=0).where(amount.notna(), f["amount"])).drop(columns=["spent", "committed"]), problems


def _free_capacity(t: dict[str, pd.DataFrame], done: set[str], users: pd.Series, busy: pd.Series) -> None:
    """Committed projects (``done``) are already paid, so free here; a project's capacity is less its committed
    users (``users``: project_id -> households) and a helper's less its committed households (``busy``)."""
    p = t["projects"]
    p["cost"] = p["cost"].where(~p["project_id"].isin(done), 0.0)
    cap = pd.to_numeric(p["capacity"], errors="coerce")
    p["capacity"] = (cap - users.reindex(p["project_id"]).fillna(0).to_numpy()).clip(lower=0).where(cap.notna(), p["capacity"])
    h = t["helpers"]
    hcap = pd.to_numeric(h["capacity"], errors="coerce")
    h["capacity"] = (hcap - busy.reindex(h["helper_id"]).fillna(0).to_numpy()).clip(lower=0).where(hcap.notna(), h["capacity"])


def _registry_instance(t: dict[str, pd.DataFrame], source: str, hashes: dict[str, str], households_required: bool = True) -> Instance:
    """The instance of registry tables as stored (missing values as empty cells), problems worded by table."""
    raw = {name: df.astype(object).where(df.notna(), "") for name, df in t.items()}
    try:
        return build_instance(raw, source=source, hashes=hashes, rows={name: _table_rows(name) for name in raw}, households_required=households_required)
    except InputError as err:
        raise InputError(err.problems, source=source) from None


def open_instance(reg: Registry) -> OpenInstance:
    """Validate the registry and derive the open instance; problems name the table, the key and the column."""
    t = {k: v.copy() for k, v in reg.tables.items()}
    hh = t["households"]
    comm = reg.commitments
    hh_comm = comm[comm["kind"] == "household"]
    pj_comm = comm[comm["kind"] == "project"]
    problems = _registry_problems(hh, hh_comm[~hh_comm["ref_id"].isin(set(hh["household_id"]))])
    t["funds"], more = _open_funds(t["funds"])
    problems += more
    if problems:
        raise InputError(problems, source=reg.source)
    committed_ids = set(hh_comm["ref_id"])
    open_hh = hh[hh["status"].isin(OPEN_STATUSES) & ~isin(hh["household_id"], committed_ids)]
    t["households"] = open_hh.drop(columns=["status"])
    users = hh_comm.loc[hh_comm["project_id"] != "", "project_id"].value_counts()
    busy = hh_comm.loc[hh_comm["helper_id"] != "", "helper_id"].value_counts()
    _free_capacity(t, set(pj_comm["ref_id"]), users, busy)
    hashes = {f"{name}@db": hashlib.sha256(reg.tables[name].to_csv(index=False).encode()).hexdigest() for name in REGISTRY}
    instance = _registry_instance(t, reg.source, hashes)
    committed = hh_comm.rename(columns={"ref_id": "household_id"})[PLAN_COLUMNS].reset_index(drop=True)
    return OpenInstance(instance, committed, pj_comm[["ref_id", "cost"]].rename(columns={"ref_id": "project_id"}), int((hh["status"] == "exited").sum()))


# ---------------------------------------------------------------------------------------------------------------
# The registry read county by county (a decomposed solve's driver and workers)
# ---------------------------------------------------------------------------------------------------------------
_ENGINES: dict[str, Engine] = {}  # per process (a Dask worker): one engine and its connection pool per database
SHOWN_ORPHANS = 10


def _engine(url: str) -> Engine:
    if url not in _ENGINES:
        _ENGINES[url] = open_db(url)
    return _ENGINES[url]


def _open_households(county_villages: Any = None) -> Any:
    """The condition on the households still open to plan (registered or returned, not committed), in the
    villages given if any."""
    committed = exists().where(commitments.c.kind == "household", commitments.c.ref_id == households.c.household_id)
    cond = and_(households.c.status.in_(OPEN_STATUSES), ~committed)
    return cond if county_villages is None else and_(households.c.village_id.in_(county_villages), cond)


def _replanned_households(version: int | None, from_year: int, county_villages: Any = None) -> Any:
    """The condition on the households a multi-year night re-planning from ``from_year`` plans, whatever their
    status: those open to plan, the committed ones and those that started before ``from_year`` in ``version`` (their
    starts are kept), in the villages given if any."""
    vh = version_households
    committed = exists().where(commitments.c.kind == "household", commitments.c.ref_id == households.c.household_id)
    started = exists().where(vh.c.version_id == version, vh.c.household_id == households.c.household_id, vh.c.year > 0, vh.c.year < from_year)
    cond = or_(households.c.status.in_(OPEN_STATUSES), committed, *([started] if version is not None else []))
    return cond if county_villages is None else and_(households.c.village_id.in_(county_villages), cond)


def replan_problems(conn: Connection) -> list[str]:
    """Commitments a multi-year night cannot keep: plans (other than the empty one) and builds committed from a
    one-year version, which have no start or build year."""
    kind, year = commitments.c.kind, commitments.c.year
    stmt = select(commitments.c.commitment_id, kind, commitments.c.ref_id).where(
        year == 0, or_(and_(kind == "household", commitments.c.measures != "none"), kind == "project")
    )
    rows = sorted(conn.execute(stmt).all(), key=lambda r: (r[1] != "household", r[0]))
    return [
        f"table commitments (commitment_id={c}), column year: household {r} was committed from a one-year version (no start year); "
        "a multi-year night keeps plans with their year only"
        if k == "household" else f"table commitments (commitment_id={c}), column year: project {r} was committed from a one-year version (no build year)"
        for c, k, r in rows
    ]  # fmt: skip


def open_households(url: str) -> int:
    """How many households of the registry at ``url`` are open to plan (what ``solve`` would decompose)."""
    engine = _engine(url)
    require_schema(engine)
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(households).where(_open_households())).scalar() or 0)


def _orphans(conn: Connection, table: Table, column: str) -> list[str]:
    """Rows of ``table`` whose ``column`` names no region (no county would read them), as a whole load names them."""
    key = next(iter(table.primary_key.columns))
    ref = table.c[column]
    stmt = select(key, ref).where(~exists().where(regions.c.region_id == ref)).order_by(key).limit(SHOWN_ORPHANS + 1)
    rows = conn.execute(stmt).all()
    return [f"table {table.name} ({key.name}={k}), column {column}: unknown region '{r}'" for k, r in rows[:SHOWN_ORPHANS]] + (
        [f"table {table.name}: more rows with an unknown {column}"] if len(rows) > SHOWN_ORPHANS else []
    )


def registry_hashes(url: str) -> dict[str, str]:
    """The sha256 of every registry table, the commitments and their charges, read in key order a block of rows at
    a time (the tables are never held whole): what a run whose workers read the registry by county records."""
    with _engine(url).connect() as conn:
        return hashes_of(conn)


def hashes_of(conn: Connection) -> dict[str, str]:
    """:func:`registry_hashes` read through ``conn`` (e.g. inside the transaction that writes a version)."""
    out: dict[str, str] = {}
    for table in (*REGISTRY.values(), commitments, commitment_charges):
        digest = hashlib.sha256()
        keys = list(table.primary_key.columns)
        result = conn.execute(select(table).order_by(*keys).execution_options(yield_per=HASH_ROWS))
        for rows in result.partitions():
            digest.update("".join("\t".join("" if v is None else repr(v) for v in row) + "\n" for row in rows).encode())
        out[f"{table.name}@db (by key)"] = digest.hexdigest()
    return out


def registry_counties(url: str) -> pd.Index:
    """The ids of the counties with households open to plan in the registry at ``url`` (checked as by
    :func:`registry_frame`)."""
    return registry_frame(url, hashed=False).county_households.index


def registry_frame(url: str, hashed: bool = True, replan: tuple[int | None, int] | None = None) -> Frame:
    """What a decomposed solve's driver holds of a registry database: the region tree, the funds with what is left
    to plan, and the open households per county, counted by the database; the households themselves stay there.
    Checked as :func:`open_instance` checks the whole registry (statuses, commitments, funds), and every household,
    project and helper must name a known region (else no county would read it). With ``replan`` (a multi-year
    night's published version and the year it re-plans from): the households that night plans, the funds' amounts
    as they are (:func:`_open_funds`), and its commitments checked (:func:`replan_problems`)."""
    from .partitioned import Frame

    engine = _engine(url)
    require_schema(engine)
    source = redact(str(engine.url))
    with engine.connect() as conn, conn.begin():
        bad_status = conn.execute(select(households.c.household_id, households.c.status).where(households.c.status.not_in(STATUSES))).all()
        registered = exists().where(households.c.household_id == commitments.c.ref_id)
        unknown = conn.execute(select(commitments.c.commitment_id, commitments.c.ref_id).where(commitments.c.kind == "household", ~registered)).all()
        problems = _registry_problems(pd.DataFrame(bad_status, columns=["household_id", "status"]), pd.DataFrame(unknown, columns=["commitment_id", "ref_id"]))
        problems += _orphans(conn, projects, "village_id") + _orphans(conn, helpers, "home_region_id")
        region_rows = _frame(conn, regions)
        fund_rows, more = _open_funds(_frame(conn, funds), net=replan is None)
        problems += more + ([] if replan is None else replan_problems(conn))
        planned = _open_households() if replan is None else _replanned_households(*replan)
        per_village = pd.DataFrame(
            conn.execute(select(households.c.village_id, func.count()).where(planned).group_by(households.c.village_id)).all(),
            columns=["village_id", "households"],
        )
    if problems:
        raise InputError(problems, source=source)
    tables = {}
    for name, df in (("regions", region_rows), ("funds", fund_rows)):
        tables[name], errs = _coerce(df.astype(object).where(df.notna(), ""), TABLES[name], _table_rows(name))
        problems += errs
    if problems:
        raise InputError(problems, source=source)
    tree, errs = build_tree(tables["regions"], _table_rows("regions"))
    unknown_holders = sorted(set(tables["funds"]["region_id"]) - set(tables["regions"]["region_id"]))
    errs += [f"table funds: unknown region_id {', '.join(map(repr, unknown_holders[:SHOWN_ORPHANS]))}"] if unknown_holders else []
    if errs:
        raise InputError(errs, source=source)
    at = tree.pos(per_village["village_id"])
    not_village = (at < 0) | (tree.level[at] != Level.VILLAGE)
    if not_village.any():  # no county would read them
        where = ", ".join(map(repr, per_village["village_id"][not_village].head(SHOWN_ORPHANS)))
        n = int(per_village["households"][not_village].sum())
        raise InputError(f"table households: {n:,} open households name a village_id that is not a known village ({where})", source=source)
    ids = tree.ids.to_numpy()
    counts = pd.Series(per_village["households"].to_numpy(dtype=np.int64), index=ids[tree.ancestors[at, Level.COUNTY]]).groupby(level=0).sum()
    towns = pd.Series(per_village["households"].to_numpy(dtype=float), index=tree.ancestors[at, Level.TOWNSHIP]).groupby(level=0).sum()
    return Frame(tables["regions"], tables["funds"], tree, counts.sort_index(), registry_hashes(url) if hashed else {}, towns)


def county_regions(frame: Frame, counties: list[str]) -> list[pd.DataFrame]:
    """Each county's region rows, as a county's own read needs them: its subtree and its ancestors."""
    tree = frame.tree
    mine = tree.ancestors[:, Level.COUNTY]
    order = np.argsort(mine, kind="stable")
    at = tree.pos(pd.Series(counties, dtype=object))
    lo, hi = np.searchsorted(mine[order], at, side="left"), np.searchsorted(mine[order], at, side="right")
    rows = [np.sort(np.concatenate([tree.ancestors[c, : Level.COUNTY], order[a:b]])) for c, a, b in zip(at, lo, hi)]
    # one take of the rows of every county, then a slice each (a take per county: 7.8 s against 0.6 s for 4,000)
    taken = frame.regions.iloc[np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)]
    return cut_rows(taken, np.array([len(r) for r in rows], dtype=np.int64))


def _county_places(county_regions: pd.DataFrame) -> tuple[list[str], list[str]]:
    """A county's villages (where its households and projects are) and its regions from the county down (where its
    helpers live), from its region rows."""
    levels = pd.to_numeric(county_regions["level"]).to_numpy()
    ids = county_regions["region_id"]
    return ids[levels == Level.VILLAGE].tolist(), ids[levels >= Level.COUNTY].tolist()


def _county_tables(
    conn: Connection, county_regions: pd.DataFrame, county_funds: pd.DataFrame, planned: Any, upper: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """A county's registry tables as stored: the households ``planned`` selects (their status dropped), its projects
    and helpers (with ``upper``, its shares of helpers homed above it: :func:`upper_helper_shares`), every measure,
    its regions and its block's funds."""
    villages, inside = _county_places(county_regions)
    own = _frame(conn, helpers, helpers.c.home_region_id.in_(inside))
    return {
        "regions": county_regions,
        "households": _frame(conn, households, planned).drop(columns=["status"]),
        "measures": _frame(conn, measures),
        "projects": _frame(conn, projects, projects.c.village_id.in_(villages)),
        "funds": county_funds,
        "helpers": own if upper is None or upper.empty else pd.concat([own, upper[own.columns]], ignore_index=True),
    }


def upper_helper_shares(url: str, tree: RegionTree, town_households: pd.Series, poor_villages: np.ndarray) -> dict[str, pd.DataFrame]:
    """Helpers homed above county level (a city's, a province's) shared among the counties under their home unit:
    the capacity of a unit's first secretaries in proportion to the counties' poor villages (``poor_villages``: their
    positions in ``tree``) that their own first secretaries cannot cover, that of its household helpers in proportion
    to the open households (``town_households``: by township position, :func:`registry_frame`'s) that their own
    helpers' free capacity leaves without one (to all by open households where every county has room), both counted
    by reach (:func:`_uncovered`), each less the
    households committed to them. A unit's helpers of one kind are one pool, split by largest remainder and cut from
    their capacities in order: each county's worker assigns its share as one of its own helpers, and the shares of a
    helper add up to its free capacity. Per county, the helper rows with the share as capacity. Work teams, which
    serve no household, and helpers homed outside the tree's counties' ancestors (paired partners) are not shared."""
    upper_ids = tree.ids.to_numpy()[tree.level < Level.COUNTY].tolist()
    above = helpers.c.home_region_id.in_(upper_ids)
    secretaries = helpers.c.kind == HelperKind.FIRST_SECRETARY.value
    cadres = (helpers.c.kind == HelperKind.HOUSEHOLD_HELPER.value) & ~above
    with _engine(url).connect() as conn, conn.begin():
        h = _frame(conn, helpers, above & helpers.c.kind.in_([HelperKind.HOUSEHOLD_HELPER.value, HelperKind.FIRST_SECRETARY.value]))
        theirs = commitments.c.helper_id.in_(select(helpers.c.helper_id).where(above))  # a subquery: they may be many
        held = select(commitments.c.helper_id, func.count()).where(commitments.c.kind == "household", theirs).group_by(commitments.c.helper_id)
        busy = pd.Series(dict(conn.execute(held).all()), dtype=float)
        by_reach = (helpers.c.home_region_id, helpers.c.reach)
        own = select(*by_reach, func.sum(helpers.c.capacity)).where(~above, secretaries).group_by(*by_reach)
        own_secretaries = pd.DataFrame(conn.execute(own).all(), columns=["home", "reach", "capacity"])
        room = select(*by_reach, func.sum(helpers.c.capacity)).where(cadres).group_by(*by_reach)
        room = pd.DataFrame(conn.execute(room).all(), columns=["home", "reach", "capacity"])
        taken = commitments.join(helpers, commitments.c.helper_id == helpers.c.helper_id)
        held_own = select(*by_reach, func.count()).select_from(taken).where(commitments.c.kind == "household", cadres).group_by(*by_reach)
        held_own = pd.DataFrame(conn.execute(held_own).all(), columns=["home", "reach", "held"])
    own_free = room.merge(held_own, on=["home", "reach"], how="left").fillna({"held": 0})
    own_free = own_free.assign(capacity=(pd.to_numeric(own_free["capacity"]) - own_free["held"]).clip(lower=0))
    county_households = town_households.groupby(tree.ids.to_numpy()[tree.ancestors[town_households.index.to_numpy(dtype=np.int64), Level.COUNTY]]).sum()
    poor_by_town = pd.Series(1.0, index=tree.ancestors[poor_villages, Level.TOWNSHIP]).groupby(level=0).sum()
    if h.empty:
        return {}
    uncovered, short = _uncovered(tree, poor_by_town, own_secretaries).rename("uncovered"), _uncovered(tree, town_households, own_free).rename("short")
    serves = pd.concat([county_households.rename("households"), uncovered, short], axis=1).fillna(0.0)
    counties = serves[(serves > 0).any(axis=1)]
    # a pool per home unit and kind: shared helper by helper, every first secretary of a city (capacity 1) went to
    # the same county, the one with the most poor villages
    home = tree.pos(h["home_region_id"]).astype(np.int64)
    group, keys = pd.factorize(home * 2 + (h["kind"].to_numpy() == HelperKind.FIRST_SECRETARY.value))
    pool_home, pool_secretaries = keys // 2, (keys % 2).astype(bool)
    free = (pd.to_numeric(h["capacity"], errors="coerce").fillna(0).to_numpy() - busy.reindex(h["helper_id"]).fillna(0).to_numpy()).clip(min=0).round()
    pool_free = np.bincount(group, weights=free, minlength=len(keys))
    at = tree.pos(pd.Series(counties.index, dtype=object))
    # household helpers to the counties whose open households their own helpers' free capacity leaves without one
    # (by open households alone, a county its own helpers covered took a share, and 16 households were short
    # elsewhere against none loaded whole); by open households where the unit's counties all have room (skills).
    # A city's pools first, then what they leave to a province's, then the centre's (each level split against the
    # counties' own helpers alone, a county its city covered took a province's share too: fuzzing pass 18)
    need = {False: counties["short"].to_numpy(dtype=float), True: counties["uncovered"].to_numpy(dtype=float)}
    open_count = counties["households"].to_numpy(dtype=float)
    pools, shares_of = [], []
    for lv in np.unique(tree.level[pool_home])[::-1]:
        mine = np.flatnonzero(tree.level[pool_home] == lv)
        i, j = equal_pairs(pool_home[mine], tree.ancestors[at, lv])
        pool, county = mine[i], j
        secretary = pool_secretaries[pool]
        want = np.where(secretary, need[True][county], need[False][county])
        want_in_pool = np.bincount(pool, weights=want, minlength=len(keys))
        weight = np.where(secretary | (want_in_pool[pool] > 0), want, open_count[county])
        keep = weight > 0  # a county with nothing it could serve gets no share
        pool, county, weight, secretary = pool[keep], county[keep], weight[keep], secretary[keep]
        share = _largest_remainder(pool, county, weight, pool_free)
        for kind in (False, True):
            given = np.bincount(county[secretary == kind], weights=share[secretary == kind], minlength=len(counties))
            need[kind] = np.maximum(need[kind] - given, 0.0)
        pools.append((pool, county, weight))
        shares_of.append(share)
    pool, county, weight = (np.concatenate([p[k] for p in pools]) for k in range(3))
    share = np.concatenate(shares_of)
    total = np.bincount(pool, weights=weight, minlength=len(keys))
    # each pool's county shares cut from its helpers' capacities, both laid end to end in pool order
    members = np.flatnonzero(total[group] > 0)
    members = members[np.argsort(group[members], kind="stable")]
    by_pool = np.lexsort((county, pool))
    ends_h, ends_c = np.cumsum(free[members]), np.cumsum(share[by_pool])
    cuts = np.unique(np.concatenate([ends_h, ends_c]))
    cuts = cuts[cuts > 0]
    starts = np.concatenate([[0.0], cuts[:-1]])
    helper = members[np.searchsorted(ends_h, starts, side="right")]
    piece_county = county[by_pool][np.searchsorted(ends_c, starts, side="right")]
    out = h.iloc[helper].assign(capacity=(cuts - starts).astype(np.int64), county_id=counties.index.to_numpy()[piece_county])
    out = out.groupby(["county_id", "helper_id"], sort=False, as_index=False).agg({**{c: "first" for c in h.columns if c != "helper_id"}, "capacity": "sum"})
    return {c: df.drop(columns=["county_id"])[list(h.columns)].reset_index(drop=True) for c, df in out.groupby("county_id", sort=False)}


def _largest_remainder(pool: np.ndarray, county: np.ndarray, weight: np.ndarray, pool_free: np.ndarray) -> np.ndarray:
    """Each (pool, county) pair's whole share of its pool's free capacity (``pool_free``, by pool) in proportion to
    ``weight``, by largest remainder (the shares of a pool add up to its capacity)."""
    total = np.bincount(pool, weights=weight, minlength=len(pool_free))
    quota = pool_free[pool] * weight / np.maximum(total[pool], 1e-9)
    share = np.floor(quota + 1e-9)
    left = pool_free - np.bincount(pool, weights=share, minlength=len(pool_free))
    order = np.lexsort((county, -(quota - share), pool))  # largest remainders first, within each pool
    extra = np.zeros(len(order))
    extra[order] = group_ranks(pool[order]) < np.round(left[pool[order]])
    return share + extra


def _uncovered(tree: RegionTree, demand: pd.Series, own: pd.DataFrame) -> pd.Series:
    """County id -> what of ``demand`` (a count per township position: poor villages, open households) its own
    helpers (``own``: home, reach and capacity, homed at county level or below) cannot cover, by reach: one whose
    reach is its township covers that township only (counted by capacity alone, a county whose helpers all lived
    in one township counted its other townships as covered, and their villages or households went without one)."""
    home = tree.pos(own["home"].astype(str))
    own = own[home >= 0]
    home = home[home >= 0]
    serves = served_regions(tree, home, own["reach"].astype(str).to_numpy())
    capacity = pd.Series(pd.to_numeric(own["capacity"], errors="coerce").fillna(0).to_numpy(dtype=float), index=serves).groupby(level=0).sum()
    left = (demand - capacity.reindex(demand.index).fillna(0.0)).clip(lower=0)  # after the township-reach helpers
    county_left = left.groupby(tree.ancestors[left.index.to_numpy(dtype=np.int64), Level.COUNTY]).sum()
    uncovered = (county_left - capacity.reindex(county_left.index).fillna(0.0)).clip(lower=0)  # after the county-reach ones
    return pd.Series(uncovered.to_numpy(), index=tree.ids.to_numpy()[uncovered.index.to_numpy(dtype=np.int64)])


def load_registry_county(
    url: str,
    county: str,
    county_regions: pd.DataFrame,
    county_funds: pd.DataFrame,
    upper: pd.DataFrame | None = None,
    households_required: bool = True,
) -> Instance:
    """One county of the registry at ``url`` as :func:`open_instance` opens the whole: its open households, its
    projects (committed ones free, their committed users' capacity taken), its helpers (less their committed
    households; with ``upper``, its shares of the helpers homed above it), every measure, its regions (subtree and
    ancestors, from the driver) and its block's funds. Without ``households_required``, a county without open
    households is valid."""
    villages, inside = _county_places(county_regions)
    kind = commitments.c.kind
    with _engine(url).connect() as conn, conn.begin():
        t = _county_tables(conn, county_regions, county_funds, _open_households(villages), upper)
        here = select(projects.c.project_id).where(projects.c.village_id.in_(villages))
        done = set(conn.execute(select(commitments.c.ref_id).where(kind == "project", commitments.c.ref_id.in_(here))).scalars())
        used = select(commitments.c.project_id, func.count()).where(kind == "household", commitments.c.project_id.in_(here)).group_by(commitments.c.project_id)
        mine = select(helpers.c.helper_id).where(helpers.c.home_region_id.in_(inside))
        held = select(commitments.c.helper_id, func.count()).where(kind == "household", commitments.c.helper_id.in_(mine)).group_by(commitments.c.helper_id)
        users = pd.Series(dict(conn.execute(used).all()), dtype=float)
        busy = pd.Series(dict(conn.execute(held).all()), dtype=float)
    _free_capacity(t, done, users, busy)
    return _registry_instance(t, f"{redact(url)} (county {county})", {}, households_required)


def load_registry_night(
    url: str, county: str, county_regions: pd.DataFrame, county_funds: pd.DataFrame, version: int | None, upper: pd.DataFrame | None = None
) -> tuple[Instance, pd.DataFrame]:
    """One county as the nightly job re-plans it (:func:`load_registry_county`, with the committed households still
    poor that its county incidence target counts, as ``poor_outside``) and the published, uncommitted plans of its
    open households in ``version`` (household_id, plan, helper_id; none before the first version): the churn cap's,
    and the helpers they keep where they can."""
    instance = load_registry_county(url, county, county_regions, county_funds, upper)
    villages, _ = _county_places(county_regions)
    vh = version_households
    mine = commitments.join(households, households.c.household_id == commitments.c.ref_id)
    poor = (
        select(func.count(), func.sum(1.0 - commitments.c.p_success))
        .select_from(mine)
        .where(commitments.c.kind == "household", households.c.status != "exited", households.c.village_id.in_(villages))
    )
    open_ids = select(households.c.household_id).where(_open_households(villages))
    with _engine(url).connect() as conn, conn.begin():
        n_poor, left = conn.execute(poor).one()
        published = select(vh.c.household_id, vh.c.plan, vh.c.helper_id).where(vh.c.version_id == version, ~vh.c.committed, vh.c.household_id.in_(open_ids))
        rows = [] if version is None else conn.execute(published).all()
    previous = pd.DataFrame(rows, columns=["household_id", "plan", "helper_id"], dtype=object).sort_values("household_id", kind="stable").reset_index(drop=True)
    return (replace(instance, poor_outside={county: float(left)}) if n_poor else instance), previous


def load_registry_replan(
    url: str, county: str, county_regions: pd.DataFrame, county_funds: pd.DataFrame, version: int | None, from_year: int
) -> tuple[Instance, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """One county as a multi-year night re-planning from ``from_year`` plans it (as ``nightly.multiyear_inputs``
    opens the whole registry): the households of :func:`_replanned_households`, its projects and helpers with their
    full capacity (commitments are decisions inside the model), every measure, its regions and its block's funds
    (amounts as they are); with its households' rows of ``version``, its projects' rows of ``version`` and its
    commitments (households' and projects', in commitment order): what the night keeps of them; and what ``version``
    paid in its villages before ``from_year`` (village_id, category, year, amount; None without a version)."""
    villages, _ = _county_places(county_regions)
    vh, vp, kind = version_households, version_projects, commitments.c.kind
    here = select(projects.c.project_id).where(projects.c.village_id.in_(villages))
    mine = select(households.c.household_id).where(households.c.village_id.in_(villages))
    with _engine(url).connect() as conn, conn.begin():
        t = _county_tables(conn, county_regions, county_funds, _replanned_households(version, from_year, villages))
        ref = commitments.c.ref_id
        comm = _frame(conn, commitments, or_(and_(kind == "household", ref.in_(mine)), and_(kind == "project", ref.in_(here))))
        published = _frame(conn, vh, and_(vh.c.version_id == version, vh.c.household_id.in_(mine)))
        built = _frame(conn, vp, and_(vp.c.version_id == version, vp.c.project_id.in_(here)))
        vf = version_flows
        flows = _frame(conn, vf, and_(vf.c.version_id == version, vf.c.village_id.in_(villages), vf.c.year < from_year))
    instance = _registry_instance(t, f"{redact(url)} (county {county})", {})
    paid = None if version is None else flows.reindex(columns=["village_id", "category", "year", "amount"])
    if paid is not None and len(paid):
        paid = paid.groupby(["village_id", "category", "year"], as_index=False, sort=False)["amount"].sum()
    published = published.drop(columns=["version_id"]).assign(committed=published["committed"].astype(bool))
    return instance, published, built.drop(columns=["version_id"]), comm, paid


def spent_by_fund(url: str) -> dict[str, float]:
    """Yuan spent out of each fund outside the plans (checked non-negative by :func:`registry_frame`)."""
    with _engine(url).connect() as conn:
        return {str(k): float(v) for k, v in conn.execute(select(funds.c.fund_id, funds.c.spent)).all()}


def night_counts(url: str, version: int | None, from_year: int | None = None) -> tuple[pd.Series, int, int]:
    """What a night read by county counts before it solves: the open households planned (uncommitted) in ``version``
    by village, and the committed and the exited households. A multi-year night re-planning from ``from_year`` does
    not count the households whose start before that year it keeps."""
    vh = version_households
    with _engine(url).connect() as conn, conn.begin():
        planned: list[Any] = []
        if version is not None:
            kept = [] if from_year is None else [~and_(vh.c.year > 0, vh.c.year < from_year)]
            stmt = (
                select(households.c.village_id, func.count())
                .select_from(vh.join(households, households.c.household_id == vh.c.household_id))
                .where(vh.c.version_id == version, ~vh.c.committed, _open_households(), *kept)
                .group_by(households.c.village_id)
            )
            planned = list(conn.execute(stmt).all())
        committed = conn.execute(select(func.count()).select_from(commitments).where(commitments.c.kind == "household")).scalar()
        exited = conn.execute(select(func.count()).select_from(households).where(households.c.status == "exited")).scalar()
    by_village = pd.Series({str(v): int(n) for v, n in planned}, dtype=np.int64)
    return by_village, int(committed or 0), int(exited or 0)


def committed_projects(engine: Engine) -> pd.DataFrame:
    """The committed projects (project_id, cost charged)."""
    with engine.connect() as conn:
        rows = conn.execute(select(commitments.c.ref_id, commitments.c.cost).where(commitments.c.kind == "project").order_by(commitments.c.ref_id)).all()
    return pd.DataFrame(rows, columns=["project_id", "cost"]).astype({"project_id": object, "cost": float})


def carry_commitments(conn: Connection, version: int) -> None:
    """Copy the committed household plans into ``version``'s rows, within the database."""
    cols = [c for c in PLAN_COLUMNS if c != "household_id"]
    rows = select(literal(version), commitments.c.ref_id, *(commitments.c[c] for c in cols), true()).where(commitments.c.kind == "household")
    conn.execute(insert(version_households).from_select(["version_id", "household_id", *cols, "committed"], rows))


def mark_committed(conn: Connection, version: int) -> None:
    """Mark a multi-year version's committed households and projects (its rows hold them: commitments are
    decisions inside a multi-year night's model), within the database."""
    for table, kind, key in ((version_households, "household", "household_id"), (version_projects, "project", "project_id")):
        done = exists().where(commitments.c.kind == kind, commitments.c.ref_id == table.c[key])
        conn.execute(update(table).where(table.c.version_id == version, done).values(committed=True))


def published_in(conn: Connection) -> int | None:
    """The published version's id (None before the first); a pointer to a version the database does not hold (the
    database changed outside the optimizer, where SQLite's foreign keys are off by default) is refused, not read as none."""
    cur = conn.execute(select(published.c.version_id).where(published.c.name == "current")).scalar()
    if cur is not None and conn.execute(select(versions.c.version_id).where(versions.c.version_id == cur)).scalar() is None:
        raise InputError(f"the published version {cur} does not exist in the database (changed outside the optimizer?); "
                         "publish one of its versions again with `optimizer db publish VERSION`")  # fmt: skip
    return None if cur is None else int(cur)


def current_version(engine: Engine) -> int | None:
    """The published version's id (None before the first)."""
    with engine.connect() as conn:
        return published_in(conn)


def _table_rows(name: str) -> TableRows:
    """A registry table's rows, named by their keys in messages: 'table households (household_id=H1)'."""
    return TableRows(f"table {name}", numbered=False)


def load_source(source: str | Path, max_file_mb: float = DEFAULT_MAX_INPUT_MB) -> Instance:
    """The instance of a data folder (files above ``max_file_mb`` refused), or the open instance of a database
    registry (``Scenario.data_source``)."""
    check_argument(source, (str, Path), "load_source: source")
    if isinstance(source, str) and is_url(source):
        return open_instance(read_registry(open_db(source))).instance
    return load_instance(source, max_file_mb=max_file_mb)


# ---------------------------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------------------------
def version_table(engine: Engine, table: Table, version: int) -> pd.DataFrame:
    """One result table of a version, sorted by key."""
    with engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.version_id == version)).all()
    df = pd.DataFrame(rows, columns=[c.name for c in table.columns]).drop(columns=["version_id"])
    keys = [c.name for c in table.primary_key.columns if c.name != "version_id"]
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


def resolve_version(engine: Engine, version: str | int) -> int:
    """A version number, or ``current`` for the published one; unknown versions are refused."""
    with engine.connect() as conn:
        if str(version) == "current":
            cur = published_in(conn)
            if cur is None:
                raise InputError("no version has been published yet")
            return int(cur)
        try:
            v = int(version)
        except ValueError:
            raise InputError(f"version must be a number or 'current', not '{version}'") from None
        if conn.execute(select(versions.c.version_id).where(versions.c.version_id == v)).scalar() is None:
            raise InputError(f"unknown version {v}")
        return v


def publish(engine: Engine, version: str | int) -> int:
    """Make a version current (a rollback when it is an earlier one) and record it in the ledger."""
    v = resolve_version(engine, version)
    with engine.begin() as conn:
        status = conn.execute(select(versions.c.status).where(versions.c.version_id == v)).scalar()
        if status == "rejected":
            raise InputError(f"version {v} was rejected by the nightly job (gap above tolerance) and cannot be published")
        clash = _contradicted_commitments(conn, v)
        if clash:
            raise InputError(
                f"version {v} contradicts {len(clash)} commitment(s) made since it was written ({', '.join(clash[:5])}"
                f"{', ...' if len(clash) > 5 else ''}): published, it would show those households without their committed plans; "
                "run the nightly job instead, which keeps every commitment"
            )
        set_current(conn, v)
        stamp = now()
        conn.execute(
            runs.insert().values(kind="publish", started_at=stamp, ended_at=stamp, status="published", version_id=v, pid=os.getpid(), host=socket.gethostname())
        )
    return v


def _contradicted_commitments(conn: Connection, version: int) -> list[str]:
    """The committed households whose committed plan (and start year) ``version`` does not hold, as 'id: why'."""
    vh, c = version_households, commitments
    rows = conn.execute(
        select(c.c.ref_id, c.c.plan, c.c.year, vh.c.plan, vh.c.year)
        .select_from(c.outerjoin(vh, (vh.c.household_id == c.c.ref_id) & (vh.c.version_id == version)))
        .where(c.c.kind == "household")
        .order_by(c.c.ref_id)
    ).all()
    out = []
    for ref, plan, year, v_plan, v_year in rows:
        if v_plan is None:
            out.append(f"{ref}: not in the version")
        elif v_plan != plan or int(v_year or 0) != int(year or 0):
            since, v_since = (f" from {y}" if y else "" for y in (year, v_year))
            out.append(f"{ref}: committed to {plan}{since}, the version says {v_plan}{v_since}")
    return out


def set_current(conn: Connection, version: int) -> None:
    """Point ``current`` at a version (inside the caller's transaction)."""
    conn.execute(delete(published).where(published.c.name == "current"))
    conn.execute(published.insert().values(name="current", version_id=version, published_at=now()))


def ledger(engine: Engine, limit: int = 20) -> pd.DataFrame:
    """The newest ledger rows."""
    with engine.connect() as conn:
        rows = conn.execute(select(runs).order_by(runs.c.run_id.desc()).limit(limit)).all()
    df = pd.DataFrame(rows, columns=[c.name for c in runs.columns])
    whole = [c.name for c in runs.columns if isinstance(c.type, Integer)]
    return df.astype(dict.fromkeys(whole, "Int64"))  # counts stay whole numbers where some rows have none


def export_version(engine: Engine, version: str | int, folder: str | Path) -> Path:
    """Write a version's households, projects and flows (CSV and Parquet; a multi-year version: CSV in the layout of a
    multi-year run folder, which `optimizer solve --from-year Y --previous DIR` reads) and its manifest into a run folder."""
    from .outputs import write_run
    from .result import Result

    v = resolve_version(engine, version)
    with engine.connect() as conn:
        row = conn.execute(select(versions).where(versions.c.version_id == v)).one()
    manifest = {**json.loads(row.manifest), "version_id": v, "version_status": row.status, "created_at": row.created_at}
    # its data were the registry as it was that night, not the files its scenario's data: names (verify refuses it so)
    manifest.update(data=redact(engine.url.render_as_string(hide_password=False)), inputs_differ=f"version {v} of a registry database, as it was that night")
    if manifest.get("multiyear"):  # the layout of a multi-year run folder: `solve --from-year Y --previous` reads it
        from .nightly import version_result

        tables = {k: df for k, df in version_result(engine, v).tables.items() if k != "spending"}
        return write_run(Result(tables=tables, manifest=manifest), folder, formats=("csv",))
    one_year = {"households": version_households, "projects": version_projects, "flows": version_flows}
    multiyear_only = ["year", "effect_year", "p_deadline", "built_year", "monitored", "monitoring_years", "monitoring_cost"]
    tables = {k: version_table(engine, t, v).drop(columns=multiyear_only, errors="ignore") for k, t in one_year.items()}
    return write_run(Result(tables=tables, manifest=manifest), folder)


def export_registry(engine: Engine, folder: str | Path) -> Path:
    """Write what a re-plan sees (open households, funds net of spending and commitments) as a data folder that
    ``optimizer solve`` reads: solving it equals solving with the database as data source."""
    from .generate import write_tables

    held = sorted(f"{name}{ext}" for name in REGISTRY for ext in (".csv", ".parquet") if (Path(folder) / f"{name}{ext}").exists())
    if held:  # the folder it was imported from, say: imported again, the spent and committed money would count twice
        raise InputError(f"{folder}: holds input tables ({', '.join(held)}); the registry's export (open households, money net of "
                         "spending and commitments) is written only into a new or empty folder")  # fmt: skip
    instance = open_instance(read_registry(engine)).instance
    write_tables({name: getattr(instance, name) for name in REGISTRY}, Path(folder))
    return Path(folder)


# ---------------------------------------------------------------------------------------------------------------
# Commitments
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Committed:
    """What ``commit`` fixed: the charges to funds (kind, ref_id, fund_id, amount) and every project committed."""

    charges: pd.DataFrame
    projects: list[str]


def commit(engine: Engine, household_ids: list[str] | None = None, project_ids: list[str] | None = None) -> Committed:
    """Commit plans and projects of the current version: fix them and charge their cost to the funds that pay
    for them there (in proportion to the version's flows into their village and category). A plan's project is
    committed with it (left open, a later night could drop the project the committed plan needs)."""
    household_ids, project_ids = list(dict.fromkeys(household_ids or [])), list(dict.fromkeys(project_ids or []))
    v = resolve_version(engine, "current")
    plans = version_table(engine, version_households, v)
    projs = version_table(engine, version_projects, v)
    flows = version_table(engine, version_flows, v)
    reg = read_registry(engine)
    done = reg.commitments
    # a project already committed (with an earlier plan that needs it, say) stays so: named again, it is skipped
    already = set(done.loc[done["kind"] == "project", "ref_id"])
    needed = plans.loc[isin(plans["household_id"], household_ids) & (plans["project_id"] != ""), "project_id"]
    project_ids = [p for p in project_ids if p not in already] + sorted(set(needed) - set(project_ids) - already)
    problems = [f"household '{h}' has no plan in the current version {v}" for h in sorted(set(household_ids) - set(plans["household_id"]))]
    none = plans.loc[isin(plans["household_id"], household_ids) & (plans["plan"] == "none"), "household_id"]
    problems += [f"household '{h}' gets no measure in the current version {v} (plan none): there is nothing to commit" for h in sorted(none)]
    built = projs.loc[projs["built"].astype(bool), "project_id"]
    problems += [f"project '{p}' is not built in the current version {v}" for p in sorted(set(project_ids) - set(built))]
    status = reg.tables["households"].set_index("household_id")["status"]
    gone = [h for h in household_ids if status.get(h) == "exited"]
    problems += [f"household '{h}' has exited: its plan cannot be committed" for h in gone]
    again = sorted(set(household_ids) & set(done.loc[done["kind"] == "household", "ref_id"]))
    problems += [f"household '{i}' is already committed" for i in again]
    if problems:
        raise InputError(problems)
    rows = plans[isin(plans["household_id"], household_ids)].copy()
    raw = {name: df.astype(object).where(df.notna(), "") for name, df in reg.tables.items()}
    raw["households"] = raw["households"].drop(columns=["status"])
    raw["funds"] = raw["funds"].drop(columns=["spent", "committed"])
    instance = build_instance(raw, source=reg.source)
    long = measure_rows(instance, rows)
    # the version's cost of each plan, split over its categories as today's measure costs split it
    today = long.groupby("row")["cost"].transform("sum").to_numpy()
    planned_cost = rows["cost"].to_numpy(dtype=float)[long["row"].to_numpy()]
    long["cost"] = np.where(today > 0, long["cost"].to_numpy() * planned_cost / np.where(today > 0, today, 1.0), 0.0)
    long["ref_id"] = rows["household_id"].to_numpy()[long["row"].to_numpy()]
    long["village_id"] = rows["village_id"].to_numpy()[long["row"].to_numpy()]
    pj = projs[projs["project_id"].isin(project_ids)]
    costs = pd.concat(
        [
            long.assign(kind="household")[["kind", "ref_id", "village_id", "category", "cost"]],
            pd.DataFrame(
                {"kind": "project", "ref_id": pj["project_id"], "village_id": pj["village_id"], "category": pj["category"], "cost": pj["cost"].astype(float)}
            ),
        ],
        ignore_index=True,
    )
    # a multi-year version pays a plan from the flows of its start year (a project: of its build year)
    costs["year"] = np.concatenate([rows["year"].to_numpy(dtype=np.int64)[long["row"].to_numpy()], pj["built_year"].to_numpy(dtype=np.int64)])
    cell = ["village_id", "category", "year"]
    share = flows.assign(share=flows["amount"] / flows.groupby(cell)["amount"].transform("sum"))
    charged = costs.merge(share[[*cell, "fund_id", "share"]], on=cell, how="inner")
    charged["amount"] = charged["cost"] * charged["share"]
    charges = charged.groupby(["kind", "ref_id", "fund_id"], as_index=False)["amount"].sum()
    stamp = now()
    with engine.begin() as conn:
        records = [
            {**{c: r[c] for c in PLAN_COLUMNS if c != "household_id"}, "kind": "household", "ref_id": r["household_id"], "version_id": v, "committed_at": stamp}
            for r in rows.to_dict("records")
        ]
        records += [
            {
                "kind": "project", "ref_id": r["project_id"], "version_id": v, "village_id": r["village_id"], "plan": r["kind"], "measures": "",
                "project_id": r["project_id"], "cost": float(r["cost"]), "p_success": 0.0, "value": 0.0, "income_before": 0.0,
                "income_after": 0.0, "helper_id": "", "committed_at": stamp, "year": int(r["built_year"]), "effect_year": 0, "p_deadline": 0.0,
                "monitored": False, "monitoring_years": 0, "monitoring_cost": 0.0,
            }
            for r in pj.to_dict("records")
        ]  # fmt: skip
        if records:
            conn.execute(commitments.insert(), records)
        if published_in(conn) != v:  # after the first write, no night can publish in between (SQLite's write lock)
            raise BusyError(
                f"a night published version {published_in(conn)} while these plans of version {v} were being committed: nothing was "
                "committed; check the new version's plans and commit again"
            )
        id_rows = conn.execute(select(commitments.c.commitment_id, commitments.c.kind, commitments.c.ref_id)).all()
        ids = pd.DataFrame(id_rows, columns=["commitment_id", "kind", "ref_id"])
        charges = charges.merge(ids, on=["kind", "ref_id"], how="left")
        if len(charges):
            conn.execute(commitment_charges.insert(), _records(charges, ["commitment_id", "fund_id", "amount"]))
            per_fund = charges.groupby("fund_id")["amount"].sum()
            for fund_id, amount in per_fund.items():
                conn.execute(update(funds).where(funds.c.fund_id == fund_id).values(committed=funds.c.committed + float(amount)))
    return Committed(charges, project_ids)


# ---------------------------------------------------------------------------------------------------------------
# The job lock
# ---------------------------------------------------------------------------------------------------------------
@contextmanager
def job_lock(engine: Engine, wait: float = 0.0, poll: float = 0.5) -> Iterator[None]:
    """Hold the nightly lock for the duration: a PostgreSQL advisory lock, or an exclusive lock on a file beside
    the SQLite database. Both die with the process, so a killed job never leaves a stale lock. A job that finds
    the lock taken waits up to ``wait`` seconds, then raises :class:`BusyError` naming the holder."""
    deadline = time.monotonic() + wait
    if engine.dialect.name == "postgresql":
        conn = engine.connect()
        try:
            while not conn.execute(text("select pg_try_advisory_lock(:k)"), {"k": PG_LOCK_KEY}).scalar():
                conn.rollback()
                _busy_or_sleep(engine, deadline, poll)
            conn.commit()
            _record_holder(engine)
            yield
        finally:
            # a pooled connection outlives close(): unlock explicitly, then drop the session (a killed process's
            # session ends with it, and so does its lock)
            try:
                conn.rollback()
                conn.execute(text("select pg_advisory_unlock(:k)"), {"k": PG_LOCK_KEY})
                conn.commit()
            finally:
                conn.invalidate()
                conn.close()
        return
    db = engine.url.database or ""
    if not db or db == ":memory:":
        raise InputError("the nightly job needs a database file or server, not an in-memory SQLite database")
    fd = os.open(db + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                _busy_or_sleep(engine, deadline, poll)
        _record_holder(engine)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _busy_or_sleep(engine: Engine, deadline: float, poll: float) -> None:
    if time.monotonic() >= deadline:
        with engine.connect() as conn:
            h = conn.execute(select(lock_holder).where(lock_holder.c.name == LOCK_NAME)).first()
        run = f"run {h.run_id} " if h is not None and h.run_id is not None else ""  # a night has no run before it solves
        who = f"{run}(pid {h.pid} on {h.host}, started {h.started_at})" if h is not None else "another process"
        raise BusyError(f"another nightly job holds the lock: {who}; wait for it, or pass --wait SECONDS")
    time.sleep(poll)


def _record_holder(engine: Engine, run_id: int | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(delete(lock_holder).where(lock_holder.c.name == LOCK_NAME))
        conn.execute(lock_holder.insert().values(name=LOCK_NAME, run_id=run_id, pid=os.getpid(), host=socket.gethostname(), started_at=now()))


def claim_lock(engine: Engine, run_id: int) -> None:
    """Name the run that holds the lock (after its ledger row exists)."""
    with engine.begin() as conn:
        conn.execute(update(lock_holder).where(lock_holder.c.name == LOCK_NAME).values(run_id=run_id))


def count(engine: Engine, table: Table) -> int:
    """Rows in a table (used by tests and the CLI's summaries)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)

