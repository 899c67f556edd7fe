"""Memory limits: estimated before allocating, refused with a clear message (exit 8) that points to the decomposed
method; the command line also caps the process so that an allocation past the limit fails cleanly."""

from __future__ import annotations

import importlib
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import optimizer.limits
from conftest import tiny_instance, tiny_scenario, tiny_tables
from optimizer.cli import app
from optimizer.errors import ResourceLimitError
from optimizer.limits import BASE_MB, plans_memory_mb, solve_memory_mb
from optimizer.solve import solve
from optimizer.verify import verify

runner = CliRunner()
solve_module = importlib.import_module("optimizer.solve")  # the package exports the function under the same name


def _folder(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    for name, df in tiny_tables().items():
        df.to_csv(data / f"{name}.csv", index=False)
    (tmp_path / "s.yaml").write_text("name: s\ndata: data\n")
    return tmp_path / "s.yaml"


def test_estimates_grow_with_households_templates_and_plans() -> None:
    assert plans_memory_mb(0, 100) == pytest.approx(BASE_MB)
    assert plans_memory_mb(1_000_000, 100) > plans_memory_mb(100_000, 100) > plans_memory_mb(100_000, 30)
    assert solve_memory_mb(1_000_000, 6_000_000) > solve_memory_mb(1_000_000, 1_000_000) > BASE_MB
    # a national registry (29.5 million households) does not fit this machine's 24 GB monolithically
    assert plans_memory_mb(29_500_000, 100) > 24_000


def test_plan_generation_over_the_limit_is_refused_before_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("plans were generated")

    monkeypatch.setattr(solve_module, "build_plans", never)
    with pytest.raises(ResourceLimitError) as err:
        solve(tiny_scenario(limits={"max_memory_mb": 100}), tiny_instance())
    msg = str(err.value)
    for piece in ("5 households are too many for the monolithic model", "generating plans", "above the limit of 100 MB",
                  "limits.max_memory_mb, --max-memory", "solve --method decomposed"):
        assert piece in msg, msg
    assert err.value.exit_code == 8
    with pytest.raises(ResourceLimitError, match="the decomposed method \\(--method decomposed\\) does not support mode min_cost"):
        solve(tiny_scenario(mode="min_cost", target={"lifted": 1.0}, limits={"max_memory_mb": 100}), tiny_instance())


def test_model_over_the_limit_is_refused_before_it_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was built")

    monkeypatch.setattr(solve_module, "build_model", never)
    monkeypatch.setattr(optimizer.limits, "PLAN_BYTES", 1e9)  # each plan weighs 1 GB
    with pytest.raises(ResourceLimitError, match=r"building and solving the model of \d+ plans needs an estimated \d+,\d00 MB, above the limit of 5,000"):
        solve(tiny_scenario(limits={"max_memory_mb": 5_000}), tiny_instance())


def test_a_limit_above_the_estimate_solves() -> None:
    result = solve(tiny_scenario(limits={"max_memory_mb": 2 * BASE_MB}), tiny_instance())
    verify(result)
    assert result.manifest["scenario"]["limits"]["max_memory_mb"] == 2 * BASE_MB


def test_cli_max_memory_exits_8_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(optimizer.limits, "cap_process_memory", lambda mb: None)  # in-process: never cap pytest itself
    scenario = _folder(tmp_path)
    result = runner.invoke(app, ["solve", str(scenario), "--out", str(tmp_path / "run"), "--max-memory", "50"])
    assert result.exit_code == 8, result.output
    assert "above the limit of 50 MB" in result.output and "decomposed" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_cli_turns_running_out_of_memory_into_exit_8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With --max-memory the process is capped (RLIMIT_DATA); an allocation past it is a clear error, not a crash."""
    capped: list[float] = []

    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(optimizer.limits, "cap_process_memory", capped.append)  # never cap the test process itself
    monkeypatch.setattr(solve_module, "build_model", exhausted)
    scenario = _folder(tmp_path)
    result = runner.invoke(app, ["solve", str(scenario), "--out", str(tmp_path / "run"), "--max-memory", "4000"])
    assert capped == [4000.0]
    assert result.exit_code == 8, result.output
    assert "out of memory" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_process_cap_makes_large_allocations_fail() -> None:
    code = (
        "import numpy as np\n"
        "from optimizer.limits import cap_process_memory\n"
        "cap_process_memory(700)\n"
        "small = np.ones(1_000_000)\n"
        "try:\n"
        "    np.ones(200_000_000)\n"
        "except MemoryError:\n"
        "    print('refused')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "refused"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_freed_heap_memory_goes_back_to_the_system() -> None:
    """Memory freed in holes of the heap (kept blocks above it) stays resident until release_freed_memory hands it
    back (a fresh interpreter, so that this process's heap does not blur the figures)."""
    code = (
        "from optimizer.clib import release_freed_memory\n"
        "def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4096 / 1e6\n"
        "blocks = [bytearray(b'x' * 65536) for _ in range(3000)]\n"
        "keep = blocks[9::10]\n"
        "del blocks\n"
        "before = rss()\n"
        "release_freed_memory()\n"
        "print(before, rss())\n"
    )
    before, after = map(float, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert before - after > 100  # MB: 2,700 freed blocks of 64 KiB, 177 MB (378 MB resident before, 202 MB after, measured)
