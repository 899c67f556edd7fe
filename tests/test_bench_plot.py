"""bench/plot_scaling.py draws the scaling curves of issue 8 from decompose_bench.py results and refuses files that
are not such results with a message naming them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "plot_scaling.py"
RUNS = [
    {"households": 10_000, "method": "monolithic", "workers": "", "seconds": 4.0, "peak_gib": 0.4},
    {"households": 10_000, "method": "decomposed", "workers": 2, "seconds": 7.5, "peak_gib": 0.9},
    {"households": 100_000, "method": "decomposed", "workers": 2, "seconds": 98.0, "peak_gib": 2.1},
    {"households": 100_000, "method": "decomposed", "workers": 2, "seconds": 90.0, "peak_gib": 2.0},
]


def _plot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_scaling_curves_are_drawn_per_series(tmp_path: Path) -> None:
    pd.DataFrame(RUNS).to_csv(tmp_path / "small.csv", index=False)
    pd.DataFrame(RUNS[2:3]).assign(households=1_000_000, seconds=400.0).to_csv(tmp_path / "lean.csv", index=False)
    out = tmp_path / "fig" / "scaling.png"
    done = _plot(str(tmp_path / "small.csv"), f"{tmp_path / 'lean.csv'}:lean", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "5 runs in 3 series" in done.stderr  # monolithic; decomposed, 2 workers; decomposed, 2 workers, lean
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind


def test_a_file_that_is_not_a_result_is_named(tmp_path: Path) -> None:
    pd.DataFrame({"households": [1], "seconds": [2.0]}).to_csv(tmp_path / "other.csv", index=False)
    out = tmp_path / "scaling.png"
    out.write_bytes(b"old figure")
    done = _plot(str(tmp_path / "other.csv"), "--out", str(out))
    assert done.returncode != 0
    assert "other.csv: missing column(s) method, workers, peak_gib" in done.stderr
    assert out.read_bytes() == b"old figure"  # nothing written over the earlier figure


def test_end_to_end_time_is_plotted_where_measured(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("plot_scaling", SCRIPT)
    assert spec is not None and spec.loader is not None
    plot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plot)
    pd.DataFrame(RUNS[:2]).to_csv(tmp_path / "old.csv", index=False)
    pd.DataFrame(RUNS[2:]).assign(end_to_end_seconds=[99.5, ""]).to_csv(tmp_path / "new.csv", index=False)
    runs = plot.read_runs([str(tmp_path / "old.csv"), str(tmp_path / "new.csv")])
    assert runs["seconds"].astype(float).tolist() == [4.0, 7.5, 99.5, 90.0]  # solve time where no end to end
