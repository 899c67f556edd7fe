"""Killing `optimizer solve` at any moment leaves the previous complete run folder or the new complete one."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optimizer.generate import generate
from optimizer.result import TABLE_NAMES

KILL_AFTER = [0.3, 1.0, 2.0, 3.0, 4.0, 5.0, 6.5]


def _complete(run: Path) -> str:
    manifest = json.loads((run / "manifest.json").read_text())
    for name in TABLE_NAMES:
        assert (run / f"{name}.csv").is_file() and (run / f"{name}.parquet").is_file(), f"{name} missing in {run}"
    return str(manifest["scenario"]["poverty"]["line"])


def test_sigkill_never_leaves_a_partial_run(tmp_path: Path) -> None:
    generate(1500, seed=8, out=tmp_path / "data")
    out = tmp_path / "run"
    first = tmp_path / "first.yaml"
    first.write_text(f"name: r\ndata: {tmp_path / 'data'}\n")
    cmd = [sys.executable, "-m", "optimizer.cli", "solve", "--out", str(out)]
    assert subprocess.run([*cmd, str(first)], capture_output=True, timeout=300).returncode == 0
    assert _complete(out) == "4000.0"
    lines = set()
    for i, delay in enumerate(KILL_AFTER):
        second = tmp_path / f"s{i}.yaml"
        second.write_text(f"name: r\ndata: {tmp_path / 'data'}\npoverty:\n  line: {4100 + i}\n")
        proc = subprocess.Popen([*cmd, str(second)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        lines.add(_complete(out))  # the previous run or the new one, whole
    assert len(lines) >= 1
    # stale temporary folders of killed writers are cleared by the next successful write
    assert subprocess.run([*cmd, str(first)], capture_output=True, timeout=300).returncode == 0
    assert _complete(out) == "4000.0"
    assert not list(tmp_path.glob(".run.tmp-*"))


@pytest.mark.parametrize("name", ["households", "flows"])
def test_written_tables_are_byte_identical_across_runs(tmp_path: Path, name: str) -> None:
    generate(800, seed=3, out=tmp_path / "data")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"name: d\ndata: {tmp_path / 'data'}\n")
    for run in ("a", "b"):
        assert subprocess.run(
            [sys.executable, "-m", "optimizer.cli", "solve", str(scenario), "--out", str(tmp_path / run), "--no-report"], capture_output=True, timeout=300
        ).returncode == 0
    assert (tmp_path / "a" / f"{name}.csv").read_bytes() == (tmp_path / "b" / f"{name}.csv").read_bytes()


def test_a_run_folder_that_cannot_be_made_is_refused_before_solving(tmp_path: Path) -> None:
    """``--out`` under a file was found only when the solved run was written (an unexpected FileExistsError, exit 1,
    the solve lost). It is bad input, named before any solve (exit code 2)."""
    from typer.testing import CliRunner

    from conftest import ROOT
    from optimizer.cli import app

    (tmp_path / "model.mps").write_text("a file")
    result = CliRunner().invoke(app, ["solve", str(ROOT / "scenarios" / "baseline.yaml"), "--out", str(tmp_path / "model.mps" / "run")])
    assert result.exit_code == 2 and "is a file, not a folder" in " ".join(result.output.split()), result.output
    assert "loading" not in result.output and "generating plans" not in result.output  # refused before any work
    assert (tmp_path / "model.mps").read_text() == "a file"


def test_the_current_folder_as_the_run_folder_is_refused_before_solving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fuzzing pass 18: ``--out .`` passed the checks, solved, then failed to swap the current folder (an unexpected
    ValueError, exit 1, the run lost). It, and a folder holding the current one, are refused before any work."""
    from typer.testing import CliRunner

    from conftest import ROOT
    from optimizer.cli import app

    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    for out in (".", "..", str(tmp_path)):
        result = CliRunner().invoke(app, ["solve", str(ROOT / "scenarios" / "baseline.yaml"), "--out", out])
        said = " ".join(result.output.split())
        assert result.exit_code == 2 and "is the current folder (or holds it)" in said and "loading" not in said, (out, result.output)


def test_outputs_that_cannot_be_made_or_written_are_named_with_exit_code_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by fuzzing: export-model and generate into a place that cannot hold their output ended as unexpected
    errors (exit 1; export-model's own message hidden by the cleanup of its temporary file), found after building
    the model; so did a report on a read-only file system. The first two are refused before any work, and a file
    system's refusal is named with its path (exit 2)."""
    import errno

    from typer.testing import CliRunner

    from conftest import ROOT
    from optimizer.cli import app

    (tmp_path / "a-file").write_text("a file")
    under_file = tmp_path / "a-file" / "x"
    runner = CliRunner()
    for args in (["export-model", str(ROOT / "scenarios" / "baseline.yaml"), str(under_file / "model.lp")], ["generate", "--households", "50", "--out", str(under_file)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "is a file, not a folder" in " ".join(result.output.split()), result.output
        assert "loading" not in result.output and "generating" not in result.output
    import optimizer.report

    def read_only(run_dir: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "run" / ".report.html.tmp"))

    monkeypatch.setattr(optimizer.report, "write_report", read_only)
    result = runner.invoke(app, ["report", str(tmp_path / "run")])
    assert result.exit_code == 2 and "Read-only file system: " in result.output and "unexpected" not in result.output, result.output


def test_a_run_folder_that_cannot_be_replaced_is_refused_before_the_solve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by fuzzing: `solve --out` onto an existing run folder that could not be swapped away (immutable,
    chattr +i) failed after the whole solve, an unexpected error (exit 1). A run folder that is not writable is
    refused before any work (exit 2); the folder is left as it was."""
    import os

    from typer.testing import CliRunner

    from conftest import ROOT
    from optimizer import outputs
    from optimizer.cli import app

    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text("{}")
    access = os.access
    monkeypatch.setattr(outputs.os, "access", lambda p, mode: False if Path(p) == run and mode & os.W_OK else access(p, mode))
    result = CliRunner().invoke(app, ["solve", str(ROOT / "scenarios" / "baseline.yaml"), "--out", str(run)])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and f"output folder {run}: cannot be replaced (it is not writable)" in said, result.output
    assert "loading" not in said and (run / "manifest.json").read_text() == "{}"
    # append-only (chattr +a): writable for os.access, but the folder cannot be renamed (fuzzing pass 16: found after
    # the solve, the new run lost)
    monkeypatch.setattr(outputs.os, "access", access)
    assert outputs._inode_flags(run) & outputs._APPEND_ONLY == 0  # the flags read (0 where the file system has none)
    monkeypatch.setattr(outputs, "_inode_flags", lambda p: outputs._APPEND_ONLY if Path(p) == run else 0)
    result = CliRunner().invoke(app, ["solve", str(ROOT / "scenarios" / "baseline.yaml"), "--out", str(run)])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and f"output folder {run}: cannot be replaced (it is append-only, chattr +a)" in said, result.output
    # a new run folder in an append-only folder: made there under a temporary name, it could not be renamed into
    # place (fuzzing pass 17: found after the solve, the run left under its temporary name)
    monkeypatch.setattr(outputs, "_inode_flags", lambda p: outputs._APPEND_ONLY if Path(p) == tmp_path else 0)
    result = CliRunner().invoke(app, ["solve", str(ROOT / "scenarios" / "baseline.yaml"), "--out", str(tmp_path / "new")])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and f"output folder {tmp_path / 'new'}: {tmp_path} is append-only (chattr +a)" in said, result.output
    assert "loading" not in said and not (tmp_path / "new").exists()


def test_what_ifs_refuse_a_folder_they_cannot_write_before_solving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fuzzing pass 15: compare, sweep and marginal solved every scenario before they found that their existing
    --out folder was immutable (exit 2 after all the work). Refused before any solve now."""
    import os

    from typer.testing import CliRunner

    from conftest import ROOT
    from optimizer import outputs
    from optimizer.cli import app

    out = tmp_path / "whatif"
    out.mkdir()
    access = os.access
    monkeypatch.setattr(outputs.os, "access", lambda p, mode: False if Path(p) == out and mode & os.W_OK else access(p, mode))
    baseline = str(ROOT / "scenarios" / "baseline.yaml")
    for args in (["compare", baseline, str(ROOT / "scenarios" / "central_cut_20pct.yaml")], ["sweep", baseline, "--set", "funds.level.central=0.5,1"], ["marginal", baseline]):
        result = CliRunner().invoke(app, [*args, "--out", str(out)])
        said = " ".join(result.output.split())
        assert result.exit_code == 2 and f"output folder {out}: cannot be written into (it is not writable)" in said, (args, result.output)
        assert "loading" not in said
    # a folder that is writable but holds a result file that is not (fuzzing pass 16: the what-if solved, then
    # replaced its table but not its chart, and failed)
    # (a read-only file of its own, or any file not its own, is no reason: a rename replaces it)
    (out / "compare.svg").write_text("old")
    (out / "notes.txt").write_text("theirs")
    monkeypatch.setattr(outputs.os, "access", access)
    locked = {out / "compare.svg": outputs._IMMUTABLE, out / "notes.txt": outputs._IMMUTABLE}
    monkeypatch.setattr(outputs, "_inode_flags", lambda p: locked.get(Path(p), 0))
    result = CliRunner().invoke(app, ["compare", baseline, str(ROOT / "scenarios" / "central_cut_20pct.yaml"), "--out", str(out)])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and f"output folder {out}: compare.svg cannot be replaced (immutable or append-only)" in said, result.output
    # a folder with the name of one of its files (fuzzing pass 17: solved, then replaced the table and failed)
    monkeypatch.setattr(outputs, "_inode_flags", lambda p: 0)
    (out / "sweep.html").mkdir()
    result = CliRunner().invoke(app, ["sweep", baseline, "--set", "funds.level.central=0.5,1", "--out", str(out)])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and f"output folder {out}: sweep.html is not a file" in said and "loading" not in said, result.output
    # an append-only parent does not stop a what-if: its folder is made there, its files renamed inside it
    monkeypatch.setattr(outputs, "_inode_flags", lambda p: outputs._APPEND_ONLY if Path(p) == tmp_path else 0)
    outputs.check_not_a_run(tmp_path / "elsewhere", "compare")


def test_a_replaced_run_that_cannot_be_removed_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Fuzzing pass 15: a run folder replaced by a new one, holding a file that cannot be deleted (chattr +i), was
    left as a hidden folder beside the new run without a word. The new run is written and the leftover named."""
    from optimizer import outputs

    old, new = tmp_path / "run", tmp_path / ".run.tmp"
    for d, text in ((old, "old"), (new, "new")):
        d.mkdir()
        (d / "manifest.json").write_text(text)
    monkeypatch.setattr(outputs.shutil, "rmtree", lambda path, ignore_errors=False: None)
    with caplog.at_level("WARNING", logger="optimizer.outputs"):
        outputs.replace_dir(new, old)
    assert (old / "manifest.json").read_text() == "new"
    assert "the replaced folder could not be removed entirely" in caplog.text


def test_a_run_is_swapped_in_with_its_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fuzzing pass 17: an interrupt just after the run folder was swapped in ended with "interrupted" (exit 130)
    while the new run was in place without its report.html, written after the swap. The report is written into
    the new folder before the swap now, one-year and multi-year; a report that cannot be built leaves the run
    written without it, and the error is reported."""
    import os

    from typer.testing import CliRunner

    import optimizer.report
    from optimizer import outputs
    from optimizer.cli import app

    generate(300, seed=3, out=tmp_path / "data")
    swapped: list[list[str]] = []
    replace = outputs.replace_dir
    monkeypatch.setattr(outputs, "replace_dir", lambda new, target: (swapped.append(sorted(os.listdir(new))), replace(new, target))[1])
    for name, years in (("one", ""), ("years", "years:\n  first: 2019\n  last: 2020\n")):
        (tmp_path / f"{name}.yaml").write_text(f"name: {name}\ndata: {tmp_path / 'data'}\n{years}")
        result = CliRunner().invoke(app, ["solve", str(tmp_path / f"{name}.yaml"), "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        assert "report.html" in swapped[-1] and "manifest.json" in swapped[-1], swapped
        assert f"wrote {tmp_path / name} with its report.html" in " ".join(result.output.split())
    monkeypatch.setattr(optimizer.report, "build_report", lambda result: 1 / 0)
    result = CliRunner().invoke(app, ["solve", str(tmp_path / "one.yaml"), "--out", str(tmp_path / "broken")])
    assert result.exit_code == 1 and isinstance(result.exception, ZeroDivisionError), result.output  # an unexpected error: a bug
    assert (tmp_path / "broken" / "manifest.json").is_file() and not (tmp_path / "broken" / "report.html").exists()


def test_an_interrupt_once_the_new_run_is_in_place_says_it_was_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fuzzing pass 18: an interrupt while the replaced run folder was being removed said only "interrupted" (exit
    130), though the new run was in place, whole. It says so now; the replaced folder goes with the write."""
    import shutil

    from typer.testing import CliRunner

    from optimizer import outputs
    from optimizer.cli import app

    generate(300, seed=3, out=tmp_path / "data")
    (tmp_path / "s.yaml").write_text(f"name: s\ndata: {tmp_path / 'data'}\n")
    run = tmp_path / "run"
    assert CliRunner().invoke(app, ["solve", str(tmp_path / "s.yaml"), "--out", str(run), "--no-report"]).exit_code == 0
    before = json.loads((run / "manifest.json").read_text())["scenario"]["poverty"]["line"]
    real, calls = shutil.rmtree, []

    def interrupted(path: object, *args: object, **kwargs: object) -> None:
        calls.append(path)
        if len(calls) == 1:
            raise KeyboardInterrupt
        real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(outputs.shutil, "rmtree", interrupted)
    result = CliRunner().invoke(app, ["solve", str(tmp_path / "s.yaml"), "--out", str(run), "--no-report", "--set", "poverty.line=4200"])
    said = " ".join(result.output.split())
    assert result.exit_code == 130 and f"interrupted: {run} was written whole before it" in said, result.output
    assert json.loads((run / "manifest.json").read_text())["scenario"]["poverty"]["line"] == 4200 != before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run")]
