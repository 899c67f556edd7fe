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


def markdown_table(df: pd.DataFrame, columns: list[tuple[str, str]]) -> list[str]:
    """The lines of a Markdown table of ``df``: ``columns`` are (header, format of a row ``r``, e.g. "{r.gap:.3%}");
    a column whose values are text is left-aligned, the others right-aligned."""
    text = [not pd.api.types.is_numeric_dtype(df[fmt.split("{r.")[1].split(":")[0].split("}")[0]]) for _, fmt in columns]
    lines = ["| " + " | ".join(h for h, _ in columns) + " |", "|" + "|".join("---" if t else "---:" for t in text) + "|"]
    lines += ["| " + " | ".join(fmt.format(r=r) for _, fmt in columns) + " |" for r in df.itertuples()]
    return lines
