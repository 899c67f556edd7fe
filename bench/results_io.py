"""Where the benchmark scripts put what they measured: ``<name>.csv`` (every column) and ``<name>.md`` (the
table quoted in bench/README.md), both under the results folder; the table is printed too."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_results(df: pd.DataFrame, out: Path, name: str, lines: list[str]) -> str:
    """Write ``df`` as ``out/<name>.csv`` and the markdown ``lines`` as ``out/<name>.md``; print and return the table."""
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / f"{name}.csv", index=False)
    table = "\n".join(lines) + "\n"
    (out / f"{name}.md").write_text(table)
    print(table)
    return table
