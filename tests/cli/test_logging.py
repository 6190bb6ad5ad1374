"""Issue 18 (6): -v logs each stage with its duration, -vv the details; plain lines off a TTY."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from privaudit.cli.app import app

runner = CliRunner()
FAST = ["--no-attacks", "--budget", "smoke", "--limit", "120"]
# NOTE: "sweep" is a stage only with a noise sweep, which FAST has not
STAGES = ("prepare", "split_check", "features", "bound", "utility", "references", "dfil")
TASKS = ("features", "bound", "dfil")  # the demo's progress tasks without attacks
ROOT = Path(__file__).resolve().parents[2]


def _assess(args: list[str], out: Path) -> tuple[str, str]:
    result = runner.invoke(app, ["assess", *args, "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    return result.stdout, result.stderr


def _log_lines(err: str, level: str) -> list[str]:
    return [line for line in err.splitlines() if re.match(rf"^\d\d:\d\d:\d\d {level} ", line)]


def test_without_v_no_log_lines(tmp_path: Path) -> None:
    out, err = _assess(FAST, tmp_path)
    assert out == ""
    assert not _log_lines(err, "INFO") and not _log_lines(err, "DEBUG")
    assert "stage " not in err


def test_v_logs_each_stage_start_and_end_with_its_duration(tmp_path: Path) -> None:
    out, err = _assess([*FAST, "-v"], tmp_path)
    assert out == ""
    info = _log_lines(err, "INFO")
    for stage in STAGES:
        starts = [i for i, x in enumerate(info) if x.endswith(f" INFO stage {stage} ...")]
        ends = [i for i, x in enumerate(info)
                if re.search(rf" INFO stage {stage} done in \d+\.\d\d s$", x)]
        assert len(starts) == 1 and len(ends) == 1 and starts[0] < ends[0], info
    assert not any(" stage sweep" in x for x in info)
    assert not _log_lines(err, "DEBUG")


def test_vv_adds_cluster_sizes_and_attack_epochs(tmp_path: Path) -> None:
    out, err = _assess(["--attacks", "decoder", "--budget", "smoke", "--limit", "200", "-vv"],
                       tmp_path)
    assert out == ""
    debug = _log_lines(err, "DEBUG")
    assert any(re.search(r"bound: class clustering, 10 clusters, sizes min \d+ / median "
                         r"[\d.]+ / max \d+$", x) for x in debug), debug
    assert any(re.search(r"bound: sigma 0.1 takes the [a-z-]+ clustering \(I_up ", x)
               for x in debug), debug
    epochs = [x for x in debug if re.search(r"decoder epoch \d/2: loss [\d.e-]+$", x)]
    assert len(epochs) == 2, debug  # the smoke budget's decoder trains 2 epochs
    assert _log_lines(err, "INFO")  # -vv keeps the stage lines


def test_quiet_with_v_keeps_the_log_and_drops_the_progress(tmp_path: Path) -> None:
    _, err = _assess([*FAST, "-q", "-v"], tmp_path)
    assert _log_lines(err, "INFO")
    assert not re.search(r"^\w+ \.\.\. done in", err, re.M)
    _, quiet = _assess([*FAST, "-q"], tmp_path / "q")
    assert "done in" not in quiet


def test_off_a_terminal_one_line_per_task_and_nothing_redrawn(tmp_path: Path) -> None:
    """The real CLI with stderr piped (a CI log): no bars, no redraws, no 80-column cuts."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR",
                                                           "TTY_COMPATIBLE")}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "privaudit", "assess", *FAST, "-o",
                           str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert "\r" not in err and "\x1b[" not in err  # no carriage-return frames, no cursor moves
    # no bar is drawn, finished or not (its columns: done/total, elapsed, eta)
    assert not re.search(r"\d+/\d+ \d+:\d\d:\d\d", err) and " eta " not in err
    for task in TASKS:
        lines = [x for x in err.splitlines() if x.startswith(f"{task} ...")]
        assert len(lines) == 1, err
        assert re.fullmatch(rf"{task} \.\.\. done in \d+\.\d s", lines[0]), lines
    floor = next(x for x in err.splitlines() if "MSE floor (any attack)" in x)
    assert "(conditional spectral, Gaussian within each class)" in floor  # one line, not cut
