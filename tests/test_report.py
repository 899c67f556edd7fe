"""The HTML report: numbers match the run's tables, every section is there, and a real browser renders it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import tiny_instance, tiny_scenario
from optimizer import solve, write_run
from optimizer.generate import generate
from optimizer.report import SECTIONS, build_report, write_report
from optimizer.scenario import Scenario
from optimizer.verify import verify

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
MAX_PNG_BYTES = 3_000_000
MAX_HTML_BYTES = 2_000_000


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("report")
    generate(3000, seed=4, provinces=2, out=base / "data")
    result = solve(Scenario.model_validate({"name": "report-test", "data": str(base / "data")}))
    verify(result)
    run = write_run(result, base / "run")
    write_report(run, result)
    return run


def test_headline_figures_match_the_tables(run_dir: Path) -> None:
    from optimizer import read_run

    result = read_run(run_dir)
    html = (run_dir / "report.html").read_text()
    shown = {k: float(v) for k, v in re.findall(r'data-key="(\w+)" data-value="([^"]+)"', html)}
    hh = result.tables["households"]
    assert shown["households"] == len(hh)
    assert shown["expected_lifted"] == pytest.approx(hh["p_success"].sum(), rel=1e-9)
    cost = hh["cost"].sum() + result.tables["projects"]["cost"].sum()
    assert shown["cost"] == pytest.approx(cost, rel=1e-9)
    assert shown["cost_per_lifted"] == pytest.approx(cost / hh["p_success"].sum(), rel=1e-9)
    assert shown["gap"] == pytest.approx(result.manifest["gap"])
    assert shown["persons_lifted"] == pytest.approx(result.manifest["persons_lifted"])


def test_report_is_self_contained_with_every_section(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text()
    for section in SECTIONS:
        assert f'id="{section}"' in html
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html), "the report must not load anything from the network"
    assert html.count("<svg") >= 7
    assert len(html.encode()) < MAX_HTML_BYTES


def test_tiny_run_report_builds() -> None:
    result = solve(tiny_scenario(), tiny_instance())
    assert "Headline" in build_report(result)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_real_browser_renders_without_console_errors(run_dir: Path, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium); CI installs it and runs this test")
    png = tmp_path / "report.png"
    url = (run_dir / "report.html").resolve().as_uri()
    common = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    shot = subprocess.run(
        [*common, "--enable-logging=stderr", "--v=0", f"--screenshot={png}", "--window-size=1200,3000", url],
        capture_output=True, text=True, timeout=120,
    )
    assert png.is_file() and 10_000 < png.stat().st_size < MAX_PNG_BYTES, shot.stderr[-2000:]
    console = [line for line in shot.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    for section in SECTIONS:
        assert f'id="{section}"' in dom
    assert "households expected lifted" in dom
