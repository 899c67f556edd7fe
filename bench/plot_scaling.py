"""Scaling curves from ``decompose_bench.py`` results: wall time and peak memory against households, one line per
method and worker count, with issue 8's targets marked and a linear extrapolation from the largest size run.

    .venv/bin/python bench/plot_scaling.py bench/results/decompose_small.csv bench/results/decompose_1m_malloc.csv \\
        bench/results/decompose_1m_lean.csv:lean --out bench/results/scaling.png

A file name may end in ``:LABEL`` to tell its runs apart (e.g. lean workers). Every run is a marker; the line of a
series goes through the median of its runs at each size.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

COLUMNS = ("households", "method", "workers", "seconds", "peak_gib")
TARGETS = [  # issue 8, on this 2-core machine: (households, seconds, GiB or None, label)
    (1_000_000, 120.0, None, "1M in 2 min"),
    (30_000_000, 1800.0, 16.0, "30M in 30 min, 16 GiB"),
]


def read_runs(specs: list[str]) -> pd.DataFrame:
    """The runs of every ``FILE[:LABEL]``, with a ``series`` column naming method, workers and label; ``seconds``
    is a run's end-to-end time (with the writing of its run folder) where the file has it."""
    frames = []
    for spec in specs:
        path, _, label = spec.partition(":")
        try:
            df = pd.read_csv(path, dtype={"workers": "string"}, keep_default_na=False)
        except (OSError, pd.errors.ParserError) as err:
            raise SystemExit(f"{path}: cannot read it ({err})") from None
        missing = [c for c in COLUMNS if c not in df.columns]
        if missing:
            raise SystemExit(f"{path}: missing column(s) {', '.join(missing)} (not a decompose_bench.py result)")
        if "end_to_end_seconds" in df.columns:
            whole = pd.to_numeric(df["end_to_end_seconds"], errors="coerce")
            df["seconds"] = whole.where(whole.notna(), pd.to_numeric(df["seconds"]))
        workers = df["workers"].str.strip()
        series = df["method"] + np.where(workers != "", ", " + workers + np.where(workers == "1", " worker", " workers"), "")
        frames.append(df.assign(series=series + (f", {label}" if label else ""), source=path))
    return pd.concat(frames, ignore_index=True)


def scaling_figure(runs: pd.DataFrame) -> matplotlib.figure.Figure:
    """Two log-log panels, wall time and peak memory against households."""
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.2), dpi=100)
    for ax, column, unit in ((axes[0], "seconds", "wall time (s), end to end where measured"), (axes[1], "peak_gib", "peak memory (GiB)")):
        for i, (name, group) in enumerate(runs.groupby("series", sort=True)):
            color = f"C{i}"
            ax.scatter(group["households"], group[column], color=color, alpha=0.45, s=18)
            median = group.groupby("households")[column].median()
            ax.plot(median.index, median.to_numpy(), marker="o", color=color, label=name)
            if name.startswith("decomposed") and len(median) and median.index[-1] < TARGETS[-1][0]:
                n, v = median.index[-1], float(median.iloc[-1])  # linear in households from the largest size run
                ax.plot([n, TARGETS[-1][0]], [v, v * TARGETS[-1][0] / n], color=color, linestyle=":", linewidth=1)
        for n, seconds, gib, label in TARGETS:
            value = seconds if column == "seconds" else gib
            if value is not None:
                ax.scatter([n], [value], marker="x", color="crimson", s=60, zorder=5)
                ax.annotate(f"target: {label}", (n, value), textcoords="offset points", xytext=(-10, 8), ha="right", fontsize=8, color="crimson")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("households")
        ax.set_ylabel(unit)
        ax.grid(True, which="major", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].legend(fontsize=8, frameon=False)
    axes[0].set_title("dotted: linear in households from the largest run", fontsize=8, loc="left")
    fig.tight_layout()
    return fig


def save(fig: matplotlib.figure.Figure, out: Path) -> None:
    """Write the figure (format from the suffix) through a temporary file, so a failed write leaves the old one."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=out.suffix)
    os.close(fd)
    try:
        fig.savefig(tmp, format=out.suffix.lstrip("."))
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", help="decompose_bench.py CSV files, each optionally FILE:LABEL")
    ap.add_argument("--out", type=Path, default=Path("bench/results/scaling.png"), help="figure file (.png or .svg)")
    args = ap.parse_args(argv)
    runs = read_runs(args.results)
    save(scaling_figure(runs), args.out)
    print(f"{args.out}: {len(runs)} runs in {runs['series'].nunique()} series", file=sys.stderr)


if __name__ == "__main__":
    main()
