"""Issue 7: Ctrl-C exits 130 leaving nothing behind; outputs are all or nothing; inputs stay.

The SIGINT tests start the real CLI in a subprocess, wait until it is working, and send SIGINT.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from privaudit import demo
from privaudit.cli.app import app
from privaudit.cli.errors import interrupt_signals
from privaudit.errors import Interrupted
from privaudit.outputs import restore_on_failure
from privaudit.reports import write_report

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(folder: Path) -> list[str]:
    """Every file in `folder`: reports, models and temp files alike (none may be left)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _interrupt(
    args: list[str], out: Path, *, settle: float = 3.0, presses: int = 1,
    sig: signal.Signals = signal.SIGINT,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m privaudit ARGS`, wait until it works, send SIGINT, and wait for the end.

    "Working": the output folder exists (the CLI made it after loading its config and
    checking the outputs), then `settle` more seconds so that the pipeline is running.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "privaudit", *args], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(settle)
    assert proc.poll() is None, "finished before it could be interrupted: make it slower"
    for _ in range(presses):
        proc.send_signal(sig)
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.slow
def test_sigint_during_assess_exits_130_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    model = demo.demo_model_path()
    before = _sha(model)
    # NOTE: a thorough budget on all 2000 demo images runs for minutes, so SIGINT always
    # lands mid-run however fast the machine; the test itself takes a few seconds.
    done = _interrupt(["assess", "--budget", "thorough", "-f", "json,html", "-o", str(out)], out)
    assert done.returncode == 130, done.stderr
    assert "interrupted" in done.stderr and "Traceback" not in done.stderr
    assert _leftovers(out) == []
    assert _sha(model) == before


@pytest.mark.slow
def test_ctrl_c_twice_still_exits_130_and_cleans_up(tmp_path: Path) -> None:
    """A second Ctrl-C must not kill the cleanup or the exit (it used to give -2)."""
    out = tmp_path / "out"
    done = _interrupt(["assess", "--budget", "thorough", "-o", str(out)], out, presses=2)
    assert done.returncode == 130, done.stderr
    assert _leftovers(out) == []


@pytest.mark.slow
def test_sigint_during_harden_exits_130_and_writes_no_model(tmp_path: Path) -> None:
    out = tmp_path / "out"
    hardened = tmp_path / "models" / "hardened.onnx"
    hardened.parent.mkdir()
    model = demo.demo_model_path()
    before = _sha(model)
    done = _interrupt(["harden", "--data", str(demo.demo_data_path()), "--epochs", "50",
                       "--budget", "thorough", "-o", str(hardened), "--output-dir", str(out)],
                      out)
    assert done.returncode == 130, done.stderr
    assert "interrupted" in done.stderr and "Traceback" not in done.stderr
    assert _leftovers(out) == []
    assert _leftovers(hardened.parent) == []  # no model, no temp model
    assert _sha(model) == before


@pytest.mark.slow
def test_sigterm_during_assess_exits_143_and_writes_nothing(tmp_path: Path) -> None:
    """Issue 16: SIGTERM (a CI timeout, `kill`) is treated like Ctrl-C, with exit 143."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("previous run")
    done = _interrupt(["assess", "--budget", "thorough", "-f", "json,html", "-o", str(out)],
                      out, sig=signal.SIGTERM)
    assert done.returncode == 143, done.stderr
    assert "terminated" in done.stderr and "Traceback" not in done.stderr
    assert _leftovers(out) == ["report.json"]  # no backup, no lock, no temp file
    assert (out / "report.json").read_text() == "previous run"


_SIGTERM_AFTER_THE_MODEL = """
import os, signal, sys, time
from privaudit import hardening

def run_harden(cfg, *, output, **kwargs):
    output.write_bytes(b"a complete hardened model")
    os.kill(os.getpid(), signal.SIGTERM)  # e.g. a CI timeout, during the after-audit
    time.sleep(60)

hardening.run_harden = run_harden
from privaudit.cli.app import app
sys.argv = ["privaudit", "harden", *sys.argv[1:]]
app()
"""


def test_sigterm_after_harden_wrote_its_model_removes_it(tmp_path: Path) -> None:
    """Issue 16: a harden stopped by SIGTERM used to leave its model without a report."""
    hardened, out, data = tmp_path / "hardened.onnx", tmp_path / "out", tmp_path / "d.npz"
    np.savez(data, x=np.zeros((10, 28, 28), np.uint8), y=np.arange(10))
    done = subprocess.run(
        [sys.executable, "-c", _SIGTERM_AFTER_THE_MODEL, "--data", str(data), "-o",
         str(hardened), "--output-dir", str(out), "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 143, done.stderr
    assert "terminated: no report or model was written" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]  # nor the folder it made
    assert _leftovers(out) == []


# --- all or nothing, in-process ---------------------------------------------------------------


def test_restore_on_failure_puts_back_what_was_there(tmp_path: Path) -> None:
    old, new = tmp_path / "report.json", tmp_path / "report.html"
    old.write_text("previous run")
    with pytest.raises(KeyboardInterrupt), restore_on_failure([old, new]):
        write_report("half of this run", old)
        write_report("the other half", new)
        (tmp_path / ".report.html.abc.tmp").write_text("a temp file of an interrupted write")
        raise KeyboardInterrupt
    assert old.read_text() == "previous run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_restore_on_failure_keeps_a_complete_run(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text("previous run")
    with restore_on_failure([path]):
        write_report("this run", path)
    assert path.read_text() == "this run"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no backup left


def test_write_report_interrupted_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_report("text", tmp_path / "report.json")
    assert list(tmp_path.iterdir()) == []


def test_report_files_are_readable_like_any_new_file(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    write_report("text", tmp_path / "report.json")
    assert (tmp_path / "report.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_harden_interrupted_after_writing_the_model_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C between the model write and the reports: the new model file goes away again."""
    from privaudit import hardening as hardening_pkg

    hardened = tmp_path / "hardened.onnx"
    out = tmp_path / "out"

    def write_then_interrupt(cfg: object, *, output: Path, **kwargs: object) -> None:
        output.write_bytes(b"a complete hardened model")
        (output.parent / f".{output.name}.x1.tmp").write_bytes(b"a temp file")
        raise KeyboardInterrupt

    monkeypatch.setattr(hardening_pkg, "run_harden", write_then_interrupt)
    data = tmp_path / "d.npz"
    np.savez(data, x=np.zeros((10, 28, 28), np.uint8), y=np.arange(10))
    result = runner.invoke(app, ["harden", "--data", str(data), "-o", str(hardened),
                                 "--output-dir", str(out), "-q"])
    assert result.exit_code == 130, result.stderr
    assert "interrupted" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]  # nor the folder it made
    assert _leftovers(out) == []


def test_a_previous_hardened_model_survives_a_failed_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from privaudit import hardening as hardening_pkg
    from privaudit.errors import ModelError

    hardened = tmp_path / "hardened.onnx"
    hardened.write_bytes(b"yesterday's model")

    def replace_then_fail(cfg: object, *, output: Path, **kwargs: object) -> None:
        write_report("today's model", output)  # atomic, as harden.save_model writes
        raise ModelError("the after-audit failed", hint="a test")

    monkeypatch.setattr(hardening_pkg, "run_harden", replace_then_fail)
    data = tmp_path / "d.npz"
    np.savez(data, x=np.zeros((10, 28, 28), np.uint8), y=np.arange(10))
    result = runner.invoke(app, ["harden", "--data", str(data), "-o", str(hardened),
                                 "--output-dir", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 2, result.stderr
    assert hardened.read_bytes() == b"yesterday's model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz", "hardened.onnx"]


# --- inputs never change ----------------------------------------------------------------------


def test_every_command_leaves_the_input_model_unchanged(
    tmp_path: Path, tiny_cnn_legacy: Path
) -> None:
    model = tmp_path / "cnn.onnx"
    model.write_bytes(tiny_cnn_legacy.read_bytes())
    data = tmp_path / "d.npz"
    g = np.random.default_rng(0)
    np.savez(data, x=(g.random((80, 28, 28)) * 255).astype(np.uint8), y=np.arange(80) % 10)
    inputs = {p: _sha(p) for p in (model, data)}
    out = tmp_path / "out"
    base = [str(model), "--split", "layer3", "--data", str(data), "--noise", "0.1",
            "--no-attacks", "-q"]
    for args in (
        ["layers", str(model)],
        ["assess", *base, "-o", str(out), "-f", "json,markdown,csv,html"],
        ["report", str(out / "report.json"), "-f", "html,markdown", "--output-dir",
         str(tmp_path / "again")],
        ["check", str(out / "report.json"), "--fail-over-leakage", "100"],
        ["compare", str(out / "report.json"), str(out / "report.json")],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.stderr)
        assert {p: _sha(p) for p in inputs} == inputs, args
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "cnn.onnx", "d.npz", "out"]


@pytest.mark.slow
def test_harden_leaves_the_input_model_unchanged(tmp_path: Path, tiny_cnn_legacy: Path) -> None:
    model = tmp_path / "cnn.onnx"
    model.write_bytes(tiny_cnn_legacy.read_bytes())
    data = tmp_path / "d.npz"
    g = np.random.default_rng(0)
    np.savez(data, x=(g.random((80, 28, 28)) * 255).astype(np.uint8), y=np.arange(80) % 10)
    before = _sha(model)
    result = runner.invoke(app, [
        "harden", str(model), "--split", "layer3", "--data", str(data), "--noise", "0.1",
        "--epochs", "2", "--budget", "smoke", "--no-attacks", "-q",
        "-o", str(tmp_path / "hardened.onnx"), "--output-dir", str(tmp_path / "out"),
    ])
    assert result.exit_code == 0, result.stderr
    assert _sha(model) == before
    assert (tmp_path / "hardened.onnx").stat().st_size > 0


def test_ctrl_c_raises_a_subclass_never_keyboard_interrupt_itself() -> None:
    """Under `python -m`, an exact KeyboardInterrupt made the process end by SIGINT (-2) after
    a clean exit 130 (6 of 80 double Ctrl-Cs during the decoder); the subclass never did."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(KeyboardInterrupt) as caught, interrupt_signals():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        assert type(caught.value) is Interrupted
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def test_the_command_process_ignores_a_signal_once_its_work_is_done() -> None:
    """A tester's Ctrl-C in the half second between the last 'wrote' and the process's end
    exited 130, which promises that nothing was written, over the new sweep.json."""
    from privaudit.cli import errors

    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with interrupt_signals():
            pass
        assert {signal.getsignal(s) for s in saved} == set(saved.values())  # in-process: back
        errors.own_process()
        with interrupt_signals():
            pass
        assert {signal.getsignal(s) for s in saved} == {signal.SIG_IGN}  # the CLI's: ignored
    finally:
        errors._PROCESS["owned"] = False
        for s, handler in saved.items():
            signal.signal(s, handler)
