"""Issue 16, item 4: no backup left behind, no file lost to a second run, a full disk is exit 2.

In-process tests of `privaudit.outputs` and of the CLI around it; the signal tests (SIGTERM)
are in tests/cli/test_interrupts.py.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from privaudit.cli.app import app
from privaudit.errors import ConfigError
from privaudit.outputs import (
    LOCK_NAME,
    atomic_write,
    lock_folders,
    remove_new_folders_on_failure,
    restore_on_failure,
)
from privaudit.reports import write_report

runner = CliRunner()
FAST = ["--no-attacks", "--limit", "60", "-q"]


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_failure_before_the_rewrite_leaves_no_backup(tmp_path: Path) -> None:
    """The backup is a hard link: restoring it onto the same file used to do nothing."""
    old = tmp_path / "report.json"
    old.write_text("previous run")
    with pytest.raises(KeyboardInterrupt), restore_on_failure([old]):
        raise KeyboardInterrupt  # before anything was written
    assert old.read_text() == "previous run"
    assert _names(tmp_path) == ["report.json"]  # no .report.json.XXXX.bak


def test_a_late_failure_after_the_rewrite_leaves_no_backup(tmp_path: Path) -> None:
    old, new = tmp_path / "report.json", tmp_path / "report.html"
    old.write_text("previous json")
    new.write_text("previous html")
    with pytest.raises(ConfigError), restore_on_failure([old, new]):
        write_report("this run", old)  # the html is never rewritten
        raise ConfigError("a late exit 2")
    assert (old.read_text(), new.read_text()) == ("previous json", "previous html")
    assert _names(tmp_path) == ["report.html", "report.json"]


def test_a_file_that_cannot_be_put_back_does_not_hide_the_failure(tmp_path: Path) -> None:
    """An immutable report made the restore raise PermissionError: exit 3, "internal error"."""
    kept, stuck = tmp_path / "report.json", tmp_path / "report.md"
    kept.write_text("previous json")
    stuck.write_text("previous md")
    with pytest.raises(ConfigError, match="cannot write report.md"), restore_on_failure(
            [kept, stuck]):  # fmt: skip
        write_report("this run", kept)
        stuck.unlink()
        stuck.mkdir()  # NOTE: stands in for a file the restore cannot replace
        raise ConfigError("cannot write report.md")
    assert kept.read_text() == "previous json"  # the others are still put back


def test_harden_into_an_existing_model_interrupted_leaves_no_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from privaudit import hardening as hardening_pkg

    hardened = tmp_path / "existing.onnx"
    hardened.write_bytes(b"yesterday's model")

    def interrupted(cfg: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(hardening_pkg, "run_harden", interrupted)
    data = tmp_path / "d.npz"
    np.savez(data, x=np.zeros((10, 28, 28), np.uint8), y=np.arange(10))
    result = runner.invoke(app, ["harden", "--data", str(data), "-o", str(hardened),
                                 "--output-dir", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 130, result.stderr
    assert hardened.read_bytes() == b"yesterday's model"
    assert _names(tmp_path) == ["d.npz", "existing.onnx"]  # the new report folder went too


def test_a_failure_removes_only_the_new_folders_still_empty(tmp_path: Path) -> None:
    existing, new, full = tmp_path / "existing", tmp_path / "a" / "b" / "c", tmp_path / "f" / "g"
    existing.mkdir()
    with pytest.raises(ConfigError), remove_new_folders_on_failure([existing, new, full]):
        new.mkdir(parents=True)
        full.mkdir(parents=True)
        (full / "kept.txt").write_text("something the run must not lose")
        raise ConfigError("a late exit 2")
    assert _names(tmp_path) == ["existing", "f"] and _names(tmp_path / "f") == ["g"]
    with remove_new_folders_on_failure([new]):
        new.mkdir(parents=True)
    assert new.is_dir()  # a run that succeeds keeps its folders


def test_a_failed_command_removes_the_output_folders_it_made(tmp_path: Path) -> None:
    """Issue: assess/harden/sweep with bad data left their new (empty) output folders behind."""
    existing = tmp_path / "existing"
    existing.mkdir()
    data = ["--data", str(tmp_path / "missing.npz"), "-q"]
    for args in (["assess", *data, "-o", str(tmp_path / "new" / "deep")],
                 ["assess", *data, "-o", str(existing)],
                 ["harden", *data, "-o", str(tmp_path / "m" / "h.onnx"), "--output-dir",
                  str(tmp_path / "r")],
                 ["sweep", *data, "--no-attacks", "-o", str(tmp_path / "s")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "missing.npz" in result.stderr, (args, result.stderr)
    assert _names(tmp_path) == ["existing"] and _names(existing) == []


def test_a_folder_in_use_is_refused_with_the_owner_pid(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("the other run's report")
    with lock_folders([out]):
        result = runner.invoke(app, ["assess", *FAST, "-o", str(out)])
        assert (out / LOCK_NAME).read_text().strip() == str(os.getpid())
    assert result.exit_code == 2, result.stderr
    assert f"is in use by another privaudit run (pid {os.getpid()})" in result.stderr
    assert "hint: " in result.stderr
    assert (out / "report.json").read_text() == "the other run's report"
    assert _names(out) == ["report.json"]  # the lock file went with its run


def test_compare_takes_the_folder_lock_too(tmp_path: Path) -> None:
    """`compare -o` wrote into a folder another run held, which later overwrote its file."""
    report = Path(__file__).parent / "reports" / "golden" / "tabular.json"
    out = tmp_path / "out"
    out.mkdir()
    with lock_folders([out]):
        result = runner.invoke(app, ["compare", str(report), str(report), "-o",
                                     str(out / "cmp.md")])  # fmt: skip
    assert result.exit_code == 2 and "is in use by another privaudit run" in result.stderr
    assert _names(out) == []
    fresh = tmp_path / "new" / "deep" / "cmp.md"
    done = runner.invoke(app, ["compare", str(report), str(report), "-o", str(fresh)])
    assert done.exit_code == 0, done.stderr
    assert _names(fresh.parent) == ["cmp.md"]


def test_a_second_process_cannot_take_the_folder(tmp_path: Path) -> None:
    """Two processes, one folder: the second is refused while the first holds it."""
    out = tmp_path / "out"
    out.mkdir()
    holder = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from privaudit.outputs import lock_folders
        with lock_folders([Path({str(out)!r})]):
            print("locked", flush=True)
            sys.stdin.readline()
    """)
    proc = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match=f"pid {proc.pid}"), lock_folders([out]):
            pass
    finally:
        proc.communicate("done\n", timeout=30)
    with lock_folders([out]):  # free again once the holder is done
        pass
    assert _names(out) == []


def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text("999999999\n")  # a SIGKILLed run: the file, but no lock
    result = runner.invoke(app, ["assess", *FAST, "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert _names(out) == ["report.json"]


def _full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write of a report or model fails as on a full disk (ENOSPC)."""
    import privaudit.outputs as outputs

    real = os.fdopen

    class Full:
        def __init__(self, fd: int, mode: str) -> None:
            self._fh = real(fd, mode)

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: Any) -> None:
            self._fh.close()

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs.os, "fdopen", Full)


def test_a_full_disk_is_exit_2_and_keeps_the_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("previous run")
    _full_disk(monkeypatch)
    result = runner.invoke(app, ["assess", *FAST, "-o", str(out), "-f", "json,html"])
    assert result.exit_code == 2, result.stderr
    assert "No space left on device (the disk or quota is full)" in result.stderr
    assert "hint: free some disk space" in result.stderr
    assert "internal error" not in result.stderr
    assert (out / "report.json").read_text() == "previous run"
    assert _names(out) == ["report.json"]


def test_atomic_write_names_the_file_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _full_disk(monkeypatch)
    with pytest.raises(ConfigError, match="cannot write .*model.onnx: No space left"):
        atomic_write(b"bytes", tmp_path / "model.onnx")
    assert _names(tmp_path) == []


def test_a_report_left_by_an_earlier_run_is_pointed_out(tmp_path: Path) -> None:
    """A report.html of sigma 0.1 beside a new report.json of sigma 0.3 read as one run."""
    out = tmp_path / "out"
    first = runner.invoke(app, ["assess", *FAST, "-o", str(out), "-f", "json,html"])
    assert first.exit_code == 0 and "earlier run" not in first.stderr
    again = runner.invoke(app, ["assess", *FAST, "--noise", "0.3", "-o", str(out)])
    assert again.exit_code == 0
    assert f"note: {out / 'report.html'} is from an earlier run (this run wrote -f json)" in (
        again.stderr)


def test_an_output_that_is_a_pipe_or_a_device_is_refused(tmp_path: Path) -> None:
    """A tester's `harden -o /dev/null` replaced /dev/null with an 81 KB regular file (the
    temp file was renamed over it, exit 0); a named pipe became a file the same way."""
    import os

    from privaudit.errors import ConfigError
    from privaudit.outputs import atomic_write, check_model_output

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="exists and is not a regular file"):
        check_model_output(fifo)
    with pytest.raises(ConfigError, match="exists and is not a regular file"):
        atomic_write(b"x", fifo)
    assert fifo.is_fifo()
    result = runner.invoke(app, ["harden", "--split", "layer3", "--noise", "0.1", "--limit",
                                 "60", "--no-attacks", "-o", str(fifo)])  # fmt: skip
    assert result.exit_code == 2 and "is not a regular file" in result.stderr
    assert fifo.is_fifo()
    refused = runner.invoke(app, ["assess", "--no-attacks", "--limit", "60", "-f", "json",
                                  "-o", str(tmp_path / "out")])  # fmt: skip
    assert refused.exit_code == 0, refused.stderr
    (tmp_path / "out" / "report.json").unlink()
    os.mkfifo(tmp_path / "out" / "report.json")
    again = runner.invoke(app, ["assess", "--no-attacks", "--limit", "60", "-f", "json",
                                "-o", str(tmp_path / "out")])  # fmt: skip
    assert again.exit_code == 2 and "is not a regular file" in again.stderr


def test_a_folder_in_a_reports_place_fails_with_one_message(tmp_path: Path) -> None:
    """A folder named report.md: the write failed, and putting back the folder (which was
    never replaced) printed a first, misleading line before the error."""
    report = tmp_path / "saved" / "report.json"
    report.parent.mkdir()
    report.write_bytes((Path(__file__).parent / "reports" / "golden" / "tabular.json").read_bytes())
    (tmp_path / "report.md").mkdir()
    (tmp_path / "report.html").write_text("OLD")
    result = runner.invoke(app, ["report", str(report), "-f", "html,markdown", "-o",
                                 str(tmp_path)])  # fmt: skip
    assert result.exit_code == 2 and "could not put" not in result.stderr
    assert result.stderr.count("error:") == 1 and "report.md" in result.stderr
    assert (tmp_path / "report.html").read_text() == "OLD" and (tmp_path / "report.md").is_dir()
