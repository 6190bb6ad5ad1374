"""Issue 16, item 12: every hostile input of the corpus meets the contract.

The contract, per case: the exit code of the table; no traceback; no RuntimeWarning (neither
raised nor printed); for exit 2 exactly one `error:` line with the expected text, then one
`hint:` line and nothing after; otherwise no `error:` line at all (a hostile name cannot
forge one); nothing partial written (no report, model, temp, backup or lock file after a
failure; no temp, backup or lock file after a success); no input changed, nothing new among
them. The signal and concurrency cases run the real CLI in processes of their own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest
from corpus import CASES, SIGNAL_CASES, add_reports, build
from typer.testing import CliRunner

from privaudit.cli.app import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
LEFTOVER = re.compile(r"^\..*\.(tmp|bak)$|^\.privaudit\.lock$")


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus, with a saved report of the demo model to tamper with."""
    folder = build(tmp_path_factory.mktemp("hostile"))
    run = folder / "run"
    result = runner.invoke(app, ["assess", str(folder / "demo.onnx"), "--data",
                                 str(folder / "demo.npz"), "--noise", "0.1", "--no-attacks",
                                 "--limit", "60", "-q", "-o", str(run)])
    assert result.exit_code == 0, result.stderr
    add_reports(folder, json.loads((run / "report.json").read_text()))
    return folder


def _snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under `folder`."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _found(message: str, text: str) -> bool:
    if message.startswith("re:"):
        return re.search(message[3:], text) is not None
    return message in text


def test_the_corpus_covers_every_category() -> None:
    categories = {case.category for case in CASES.values()}
    assert categories == {"model", "data", "config", "report", "name", "table"}
    assert len(CASES) + len(SIGNAL_CASES) >= 80
    assert {case.code for case in CASES.values()} == {0, 1, 2}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_meets_the_contract(name: str, kit: Path, tmp_path: Path) -> None:
    case = CASES[name]
    out = tmp_path / "out"
    args = [a.format(kit=kit, out=out) for a in shlex.split(case.args)]
    before = _snapshot(kit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = runner.invoke(app, args)
    text = result.stderr + result.stdout
    assert result.exit_code == case.code, text
    assert "Traceback" not in text and "RuntimeWarning" not in text, text
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [i for i, line in enumerate(lines) if line.startswith("error:")]
    if case.code == 2:
        assert len(errors) == 1, lines
        assert errors[0] + 2 == len(lines) and lines[-1].startswith("hint: "), lines
        assert _found(case.message, lines[errors[0]]), lines
        assert _files(out) == []
    else:
        assert errors == [], lines
        assert _found(case.message, text), text
        assert [p.name for p in _files(out) if LEFTOVER.match(p.name)] == []
    assert _snapshot(kit) == before


def test_a_formula_column_name_is_defused_in_every_report(kit: Path, tmp_path: Path) -> None:
    """Issue 15: table column names are untrusted text in the per-column reports."""
    out = tmp_path / "out"
    args = ["assess", str(kit / "mlp.onnx"), "--split", "cut", "--noise", "0.1", "--data",
            str(kit / "formula.csv"), "--attacks", "knn", "--budget", "smoke", "-q", "-o",
            str(out), "-f", "csv,html,markdown"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    cells = [c for line in (out / "report.csv").read_text().splitlines()
             for c in line.split(",")]  # fmt: skip
    assert "'=cmd|' /C calc'!A0" in cells and "=cmd|' /C calc'!A0" not in cells
    html = (out / "report.html").read_text()
    assert "=cmd|&#x27; /C calc&#x27;!A0" in html and "<script" not in html


# --- signals and concurrent runs: the real CLI in processes of its own ------------------------


def _start(args: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "privaudit", *args], cwd=ROOT, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _running_in(proc: subprocess.Popen[str], out: Path, settle: float = 2.0) -> None:
    """Wait until `proc` holds the output folder's lock, then `settle` seconds more."""
    deadline = time.monotonic() + 60
    while not (out / ".privaudit.lock").exists() and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    time.sleep(settle)
    assert proc.poll() is None, "finished before it could be interrupted"


def _long_assess(out: Path) -> list[str]:
    # NOTE: a thorough budget on the 2000 demo images runs for minutes: a signal always
    # lands mid-run, however fast the machine.
    return ["assess", "--budget", "thorough", "-f", "json,html", "-o", str(out)]


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["sigterm during assess", "sigint during assess"])
def test_a_signal_leaves_the_previous_report(
    sig: signal.Signals, code: int, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("previous run")
    proc = _start(_long_assess(out))
    _running_in(proc, out)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and "RuntimeWarning" not in stderr
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]
    assert (out / "report.json").read_text() == "previous run"


@pytest.mark.slow
def test_a_second_run_into_a_folder_in_use_is_refused(tmp_path: Path) -> None:
    """"second run into a folder in use": neither run clobbers or deletes the other's files."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("previous run")
    first = _start(_long_assess(out))
    try:
        _running_in(first, out, settle=0.5)
        second = runner.invoke(app, ["assess", "--no-attacks", "--limit", "60", "-q",
                                     "-o", str(out)])
        assert second.exit_code == 2, second.stderr
        assert f"is in use by another privaudit run (pid {first.pid})" in second.stderr
        assert (out / "report.json").read_text() == "previous run"
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    assert first.returncode == 143
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]


_SIGTERM_AFTER_THE_MODEL = textwrap.dedent("""
    import os, signal, sys, time
    from privaudit import hardening

    def run_harden(cfg, *, output, **kwargs):
        output.write_bytes(b"a complete hardened model")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(60)

    hardening.run_harden = run_harden
    from privaudit.cli.app import app
    sys.argv = ["privaudit", "harden", *sys.argv[1:]]
    app()
""")


def test_sigterm_after_harden_wrote_its_model(kit: Path, tmp_path: Path) -> None:
    """"sigterm after harden wrote its model": the model goes again, exit 143."""
    model, out = tmp_path / "hardened.onnx", tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", _SIGTERM_AFTER_THE_MODEL, "--data", str(kit / "ok.npz"),
         "-o", str(model), "--output-dir", str(out), "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 143, done.stderr
    assert list(tmp_path.iterdir()) == []  # the report folder it created went too


def test_a_lock_left_by_a_killed_run_is_taken_over(kit: Path, tmp_path: Path) -> None:
    """"lock left by a killed run": the system released its lock; the file is reused."""
    out = tmp_path / "out"
    out.mkdir()
    (out / ".privaudit.lock").write_text("4194303\n")
    result = runner.invoke(app, ["assess", str(kit / "net.onnx"), "--split", "cut", "--noise",
                                 "0.1", "--data", str(kit / "ok.npz"), "--no-attacks", "-q",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]


def test_a_full_disk_while_writing_reports(
    kit: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """"full disk while writing reports": exit 2 with a hint; the previous report stays."""
    import errno

    import privaudit.outputs as outputs

    def full(fd: int, mode: str) -> object:
        os.close(fd)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs.os, "fdopen", full)
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("previous run")
    result = runner.invoke(app, ["assess", str(kit / "net.onnx"), "--split", "cut", "--noise",
                                 "0.1", "--data", str(kit / "ok.npz"), "--no-attacks", "-q",
                                 "-o", str(out), "-f", "json,html"])
    assert result.exit_code == 2, result.stderr
    assert "the disk or quota is full" in result.stderr and "hint: " in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]
    assert (out / "report.json").read_text() == "previous run"
