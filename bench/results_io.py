"""Where the benchmark scripts put what they measured: ``<name>.csv`` (every column) and ``<name>.md`` (the
table quoted in bench/README.md), both under the results folder; the table is printed too."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pandas as pd
import psutil


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


def instance_folder(out: Path, n: int) -> Path:
    """The partitioned instance of ``n`` households (seed 7) under ``out/instances``, generated the first time."""
    from optimizer.generate import generate_partitioned

    folder = out / "instances" / f"partitioned-{n}-seed7"
    if not folder.is_dir():
        generate_partitioned(n, out=folder, seed=7)
    return folder


def run_sampled(cmd: list[str], cwd: Path, what: str) -> dict[str, float]:
    """Run ``cmd`` (whose last line of output is a JSON object of figures) and sample its process tree every 0.5 s:
    add the peak of the tree's summed resident memory, of the first process's alone (the driver) and of the largest
    other one (a Dask worker), in GiB. ``what`` names the run in the error when it fails."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=cwd)
    root, peak, driver, other = psutil.Process(proc.pid), 0, 0, 0
    while proc.poll() is None:
        try:
            rss = [p.memory_info().rss for p in [root, *root.children(recursive=True)] if p.is_running()]
            peak, driver, other = max(peak, sum(rss)), max(driver, rss[0]), max(other, *rss[1:], 0)
        except (psutil.Error, IndexError):
            pass
        time.sleep(0.5)
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed (exit {proc.returncode})")
    return {**json.loads(out.strip().splitlines()[-1]), "peak_gib": peak / 2**30, "driver_peak_gib": driver / 2**30, "worker_peak_gib": other / 2**30}
