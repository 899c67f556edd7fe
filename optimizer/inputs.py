"""Reading untrusted input files: size limits and text decoding with messages that name the file and line.

Both loaders (data tables and scenario YAML) read through here, so a file that is too large, binary, UTF-16 or
Latin-1 is refused the same way: before any parsing, with the limit or the fix in the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

MB = 1_000_000  # limits are stated in MB of 10^6 bytes
DEFAULT_MAX_INPUT_MB = 100.0  # per input file: households.csv of about 1.5 million households


@dataclass(frozen=True)
class TableRows:
    """Where a table's rows are, for messages: its file (or database table) and, for a CSV whose blank lines or
    multi-line fields put rows elsewhere than line ``row + 2``, the line each data row starts on. The rows of a
    database table (``numbered=False``) have no order worth naming: their keys say which they are."""

    file: str
    lines: np.ndarray | None = None
    numbered: bool = True

    def where(self, i: int) -> str:
        """Row ``i`` as ``line N`` of a CSV file (the header is line 1), ``row N`` of anything numbered else."""
        if not self.numbered:
            return ""
        if not self.file.endswith(".csv"):
            return f"row {i + 1}"
        return f"line {int(self.lines[i]) if self.lines is not None else i + 2}"

    def at(self, i: int) -> str:
        """Row ``i`` with its file: ``households.csv line 7``."""
        return f"{self.file} {self.where(i)}".rstrip()


def check_size(path: Path, size: int, limit_bytes: float, option: str) -> None:
    """Refuse a file larger than ``limit_bytes``; the message names the limit and the option that raises it."""
    if size > limit_bytes:
        raise InputError(f"{path}: {size / MB:,.1f} MB is larger than the limit of {limit_bytes / MB:g} MB ({option})")


def read_bytes(path: Path, limit_bytes: float, option: str, what: str = "file") -> bytes:
    """The bytes of ``path`` (a ``what``), refused before reading when larger than ``limit_bytes``."""
    try:
        size = path.stat().st_size
        check_size(path, size, limit_bytes, option)
        if path.is_dir():
            raise InputError(f"{path}: is a folder, not a file")
        return path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read {what} {path}: {err.strerror or err}") from None


def decode_utf8(raw: bytes, path: Path) -> str:
    """UTF-8 text (an optional byte-order mark is accepted); anything else is refused with the line of the
    first bad byte and the fix."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(raw) >= 2 and (raw[1:2] == b"\x00" or raw[0:1] == b"\x00")):
        raise InputError(f"{path}: looks like UTF-16 text; save it as UTF-8")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise InputError(f"{path} line {_line_of(raw, nul)}: contains a NUL byte (a binary file?); inputs must be UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        at = f"byte 0x{raw[err.start]:02x} at offset {err.start}"
        raise InputError(f"{path} line {_line_of(raw, err.start)}: not UTF-8 text ({at}; Latin-1 or GBK?); save the file as UTF-8") from None


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1
