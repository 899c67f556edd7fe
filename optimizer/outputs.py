"""Write and read run folders atomically: a reader sees the previous complete run or the new one, never half."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .clib import libc
from .data import Instance, _first_line, file_sha256
from .errors import InputError, InterruptedAfterWriting, check_argument
from .result import OPTIONAL_TABLES, TABLE_NAMES, Result

if TYPE_CHECKING:
    # only an annotation: loading it with the package took 1.65 GB of address space against 0.60 GB (test_limits caps it)
    import pyarrow.dataset as ds

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
REPORT = "report.html"
OUTPUT_HASHES = "output_hashes"
INPUTS_DIFFER = "inputs_differ"  # why a run's tables were not those of its scenario's data (the run is checked in memory only)
FORMATS = ("csv", "parquet")
# run-table columns that hold ids or labels (text), besides every ``*_id``
TEXT_COLUMNS = ("plan", "measures", "measure", "need", "skill", "skills", "kind", "category", "categories", "best_category", "best_village",
                "to_township", "from_unit", "relation", "level_name")  # fmt: skip
# Manifest keys that verify, report and reproduce read, with the JSON type each must have when present.
MANIFEST_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("objective", "bound", "lp_bound", "gap", "expected_lifted", "persons_lifted", "cost", "expected_out_at_deadline"), (int, float)),
    "households": (int,),
    **dict.fromkeys(("scenario", "input_hashes", OUTPUT_HASHES, "helpers", "timings", "decomposition", "versions"), (dict,)),
    "rolling": (dict, type(None)),
    **dict.fromkeys(("data", "scenario_name", "status", "method", "solver_version", INPUTS_DIFFER), (str,)),
    "years": (list,),
}
_RENAME_EXCHANGE = 2


def write_run(result: Result, out: str | Path, formats: tuple[str, ...] = ("csv", "parquet"), report_page: str | None = None) -> Path:
    """Write every table (CSV and Parquet) and the manifest into ``out``, replacing it atomically; with
    ``report_page`` (:func:`optimizer.report.report_page`), the run's ``report.html`` in the same swap, so that no
    one sees the run without it (an interrupt just after the swap left the new run without its report).

    An existing ``out`` is replaced only when it is a run folder (it has a manifest) or empty: a mistyped
    ``--out`` never swaps away a data or scenario folder."""
    check_argument(result, Result, "write_run: result")
    check_argument(out, (str, Path), "write_run: out")
    check_argument(report_page, (str, type(None)), "write_run: report_page")
    unknown = [f for f in formats if f not in FORMATS] if isinstance(formats, tuple | list) else [formats]
    if unknown or not formats:
        raise InputError(f"write_run: formats must name one or more of {', '.join(FORMATS)}, not {formats!r}")
    out = Path(out)
    check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        for name in result.names():
            data = result.on_disk(name)
            if data is not None:
                _write_parts(data, tmp / name, formats)
                continue
            df = result.tables[name]
            if "csv" in formats:
                write_csv(df, tmp / f"{name}.csv")
            if "parquet" in formats:
                df.to_parquet(tmp / f"{name}.parquet", index=False)
        written = {f.name: file_sha256(f) for f in sorted(tmp.iterdir())}  # what verify, report and reproduce check first
        manifest = {**result.manifest, OUTPUT_HASHES: written}
        differ = inputs_differ(result.instance, str(result.manifest.get("data") or ""))
        if differ:
            manifest[INPUTS_DIFFER] = differ
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=_json) + "\n")
        if report_page is not None:
            (tmp / REPORT).write_text(report_page, encoding="utf-8", newline="")
        for f in tmp.iterdir():
            _fsync(f)
        replace_dir(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def inputs_differ(inst: Instance | None, data: str) -> str:
    """Why the data ``inst`` (a result's, when it holds them) are not the files ``data`` of its scenario, or ""
    when they are."""
    if inst is None:
        return ""
    if inst.changed:
        return inst.changed
    if data and inst.source and Path(inst.source).is_dir() and Path(data).is_dir() and Path(inst.source).resolve() != Path(data).resolve():
        return f"solved on the data of {inst.source}, not on the scenario's {data}"
    return ""


def _write_parts(data: ds.Dataset, stem: Path, formats: tuple[str, ...]) -> None:
    """A table held as parts (one Parquet file per county) into one CSV and one Parquet file, a part at a time:
    never the whole table in memory."""
    with contextlib.ExitStack() as stack:
        parquet = stack.enter_context(pq.ParquetWriter(stem.with_suffix(".parquet"), data.schema)) if "parquet" in formats else None
        csv = stack.enter_context(open(stem.with_suffix(".csv"), "w", encoding="utf-8", newline="")) if "csv" in formats else None
        if csv is not None:
            data.schema.empty_table().to_pandas().to_csv(csv, **CSV_OPTIONS)
        for fragment in data.get_fragments():
            table = fragment.to_table(schema=data.schema)
            if parquet is not None:
                parquet.write_table(table)
            if csv is not None:
                table.to_pandas().to_csv(csv, header=False, **CSV_OPTIONS)


def check_target(out: Path) -> None:
    """Refuse a run-folder target that exists and is neither a run folder nor empty, or is not writable, or is (or
    holds) the current folder, or that cannot be made where it is (its nearest existing parent is a file, or not
    writable); checked before solving too."""
    here = Path.cwd()
    if Path(os.path.abspath(out)) in (here, *here.parents):  # '--out .' solved, then failed to swap it (fuzzing pass 18)
        raise InputError(f"output folder {out}: is the current folder (or holds it), which a run folder replaces whole; choose a folder inside it (out/)")
    if out.exists() and not (out.is_dir() and ((out / MANIFEST).is_file() or not any(out.iterdir()))):
        raise InputError(f"output folder {out}: exists and is not a run folder (no {MANIFEST}); refusing to replace it, choose another folder")
    check_writable(out, "cannot be replaced")
    check_can_make(out)


def check_writable(out: Path, what: str) -> None:
    """Refuse an existing folder that is read-only, immutable (chattr +i) or append-only (chattr +a): it could
    neither be written into nor swapped away, which was found only after the work."""
    if out.is_dir() and not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"output folder {out}: {what} (it is not writable); choose another folder")
    if out.is_dir() and _inode_flags(out) & _APPEND_ONLY:  # os.access says yes: only renames and deletions fail
        raise InputError(f"output folder {out}: {what} (it is append-only, chattr +a); choose another folder")


_GET_FLAGS = 0x80086601  # Linux FS_IOC_GETFLAGS
_IMMUTABLE, _APPEND_ONLY = 0x10, 0x20  # FS_IMMUTABLE_FL, FS_APPEND_FL


def _inode_flags(path: Path) -> int:
    """The file system's inode flags of ``path`` (0 where the system or the file system has none)."""
    import array
    import fcntl

    flags = array.array("l", [0])
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return 0
    try:
        fcntl.ioctl(fd, _GET_FLAGS, flags, True)
    except OSError:
        return 0
    finally:
        os.close(fd)
    return int(flags[0])


def check_can_make(out: Path, what: str = "output folder", swapped: bool = True) -> None:
    """Refuse an output (``what``: folder or file) that cannot be made where it is, before any work: its nearest
    existing parent is a file, or not writable (a read-only file system included); or, for an output ``swapped`` in
    (written beside it, then renamed), its folder is append-only (chattr +a: a file or folder can be made there, but
    not renamed, and the finished output was left there under its temporary name)."""
    parent = next((p for p in Path(os.path.abspath(out)).parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise InputError(f"{what} {out}: {parent} is a file, not a folder; choose another {what.split()[-1]}")
    if parent is not None and not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{what} {out}: cannot write in {parent}; choose another {what.split()[-1]}")
    if swapped and parent == Path(os.path.abspath(out)).parent and _inode_flags(parent) & _APPEND_ONLY:
        kind = what.split()[-1]
        raise InputError(f"{what} {out}: {parent} is append-only (chattr +a), and the {kind} is renamed into place there; choose another {kind}")


def check_not_a_run(out: Path, stem: str) -> None:
    """Refuse a what-if's folder (compare, sweep, marginal: the ``stem`` of the files it writes) that is a run folder
    (its tables are that run's record, and ``marginal.csv`` is one of them), a file, one holding a file of the
    what-if's that cannot be replaced, or that cannot be made; checked before solving."""
    if (out / MANIFEST).is_file():
        raise InputError(f"output folder {out}: is a run folder (its tables are that run's record); choose another folder")
    if out.exists() and not out.is_dir():
        raise InputError(f"output folder {out}: is a file, not a folder; choose another folder")
    check_writable(out, "cannot be written into")
    # a table or chart of its own that is immutable or append-only, or not a file (a folder named compare.svg),
    # could not be replaced: the what-if failed after all its solves, half written (a read-only file can: a rename
    # needs only the folder writable)
    own = [out / f"{stem}.{kind}" for kind in ("csv", "svg", "html")] if out.is_dir() else []
    locked = [p.name for p in own if p.is_file() and _inode_flags(p) & (_IMMUTABLE | _APPEND_ONLY)]
    if locked:
        raise InputError(f"output folder {out}: {', '.join(locked)} cannot be replaced (immutable or append-only); choose another folder")
    other = [p.name for p in own if p.exists() and not p.is_file()]
    if other:
        raise InputError(f"output folder {out}: {', '.join(other)} is not a file (a folder?), where {stem} writes its result; choose another folder")
    check_can_make(out, swapped=False)  # its files are swapped in inside it


CSV_OPTIONS: dict[str, Any] = {"index": False, "lineterminator": "\n"}


def csv_text(table: pd.DataFrame) -> str:
    """A table as the CSV text written into run folders (``reproduce`` compares against the same bytes)."""
    return table.to_csv(**CSV_OPTIONS)


def write_csv(table: pd.DataFrame, path: Path) -> None:
    """:func:`csv_text` into ``path``, in chunks: a national table's text would be gigabytes at once."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        table.to_csv(fh, **CSV_OPTIONS)


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a flushed temporary file in the same folder, then rename:
    a reader sees the previous file or the complete new one, never a partial write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _remove_stale(out: Path) -> None:
    """Remove temporary folders that a killed writer of ``out`` left behind (their process is gone)."""
    for stale in out.parent.glob(f".{out.name}.tmp-*"):
        pid = stale.name.split(".tmp-", 1)[1].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def replace_dir(new: Path, target: Path) -> None:
    """Put folder ``new`` at ``target`` atomically (Linux renameat2 exchange when target exists)."""
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        _remove_previous(new, target)  # ``new`` now holds the previous run
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.rename(target, old)
    os.rename(new, target)
    _remove_previous(old, target)


def _remove_previous(path: Path, target: Path) -> None:
    """Remove the folder ``target`` replaced; say so when some of it cannot be (an immutable file in it), which was
    silent. An interrupt here comes with ``target`` written whole (a leftover goes with the next write)."""
    try:
        shutil.rmtree(path, ignore_errors=True)
    except KeyboardInterrupt:
        raise InterruptedAfterWriting(str(target)) from None
    if path.exists():
        log.warning("the replaced folder could not be removed entirely: %s is left (a file in it cannot be deleted)", path)


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """The manifest of a run folder, with a clear error when the folder is not a run folder."""
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        raise InputError(f"{run_dir} is not a run folder: {MANIFEST} is missing")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not valid JSON: {err}") from None
    if not isinstance(manifest, dict):
        raise InputError(f"{path}: not a run manifest (a JSON object is expected)")
    wrong = [f"key '{k}' must be {' or '.join(t.__name__ for t in kinds)}, not {type(manifest[k]).__name__} ({manifest[k]!r:.40})"
             for k, kinds in MANIFEST_TYPES.items() if k in manifest and (not isinstance(manifest[k], kinds) or isinstance(manifest[k], bool))]  # fmt: skip
    rolling = manifest.get("rolling")
    before = rolling.get("from_year") if isinstance(rolling, dict) else None
    if before is not None and (not isinstance(before, int) or isinstance(before, bool)):  # a re-plan's year: compared and counted with
        wrong.append(f"key 'rolling.from_year' must be a whole number (the year re-planned from), not {type(before).__name__} ({before!r:.40})")
    if "scenario" not in manifest:
        wrong.append("key 'scenario' is missing: every run records the scenario it solved")
    if wrong:
        raise InputError(wrong, source=str(path))
    return manifest


def changed_outputs(run_dir: str | Path, manifest: dict[str, Any]) -> list[str]:
    """The files of a run folder that are missing or differ from what the run wrote, by the sha256 its manifest
    records, and its tables that the manifest does not record (every table of a manifest without hashes)."""
    problems = []
    recorded = manifest.get(OUTPUT_HASHES) or {}
    for name, digest in sorted(recorded.items()):
        path = Path(run_dir) / Path(name).name
        if not path.is_file():
            problems.append(f"{name}: missing from the run folder (the run wrote it)")
        elif file_sha256(path) != digest:
            problems.append(f"{name}: changed or damaged since the run wrote it (its sha256 differs from {MANIFEST}'s {OUTPUT_HASHES})")
    tables = sorted(f.name for f in Path(run_dir).iterdir() if f.suffix in (".csv", ".parquet") and f.name not in recorded)
    problems += [f"{name}: not among the tables {MANIFEST}'s {OUTPUT_HASHES} records (the run did not write it, or its record was removed)" for name in tables]
    return problems


def is_text_column(name: str) -> bool:
    """Whether a run table's column holds ids or labels (text, whatever its cells look like)."""
    return name.endswith("_id") or name in TEXT_COLUMNS


def read_table(path: Path, also_text: tuple[str, ...] = ()) -> pd.DataFrame:
    """One table of a run folder (Parquet or CSV), or a clear error naming the file. A CSV's ids and labels
    (``*_id`` and :data:`TEXT_COLUMNS`, and ``also_text``) are read as text, as written: numeric household ids
    read as numbers failed ``verify``, and zero-padded ones lost their zeros."""
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        header = pd.read_csv(path, nrows=0).columns
        text = {c: str for c in header if is_text_column(c) or c in also_text}
        return pd.read_csv(path, keep_default_na=False, dtype=text)
    except (OSError, ValueError, pa.ArrowException) as err:
        raise InputError(f"{path}: cannot be read as a run table: {_first_line(err)}") from None


def read_run(run_dir: str | Path) -> Result:
    """Read a run folder back (Parquet when present, else CSV)."""
    check_argument(run_dir, (str, Path), "read_run: run_dir")
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if manifest.get("multiyear"):
        raise InputError(f"{run_dir} is a multi-year run folder: read it with optimizer.multiyear.read_multiyear_run")
    tables: dict[str, pd.DataFrame] = {}
    for name in TABLE_NAMES + OPTIONAL_TABLES:
        pq, csv = run_dir / f"{name}.parquet", run_dir / f"{name}.csv"
        if pq.is_file() or csv.is_file():
            tables[name] = read_table(pq if pq.is_file() else csv)
        elif name in TABLE_NAMES:
            raise InputError(f"{run_dir}: missing {name}.parquet / {name}.csv")
    return Result(tables=tables, manifest=manifest)


def twin_differences(run_dir: Path) -> list[str]:
    """The tables of a one-year run folder whose CSV and Parquet twins differ (``verify`` reads the Parquet and
    ``reproduce`` compares the CSV, so an edit of either one, its sha256 restated in the manifest, passed both)."""
    out = []
    for name in TABLE_NAMES + OPTIONAL_TABLES:
        pq, csv = run_dir / f"{name}.parquet", run_dir / f"{name}.csv"
        if not (pq.is_file() and csv.is_file()):
            continue
        table, twin = read_table(pq), read_table(csv)
        differ = [c for c in table.columns if c not in twin.columns or not _same_column(table[c], twin[c])] if len(table) == len(twin) else ["rows"]
        if differ or list(table.columns) != list(twin.columns):
            what = f"column {differ[0]}" if differ and differ[0] != "rows" else "rows" if differ else "columns"
            out.append(f"{csv.name} and {pq.name} hold different tables ({what} differs): a run writes each table twice, the same")
    return out


def _same_column(a: pd.Series, b: pd.Series) -> bool:
    """Whether a column read from Parquet and from CSV holds the same values (numbers as numbers, the rest as text)."""
    if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
        return bool(np.array_equal(a.to_numpy(dtype=float), b.to_numpy(dtype=float), equal_nan=True))
    return bool((a.astype(str).to_numpy() == b.astype(str).to_numpy()).all())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _exchange(a: Path, b: Path) -> bool:
    fn = getattr(libc(), "renameat2", None)
    if fn is None:
        return False
    at_fdcwd = -100
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(rc == 0)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
