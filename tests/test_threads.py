"""Issue 18 (6): `--threads`/`threads` reaches torch, BLAS and onnxruntime, and the report."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from threadpoolctl import threadpool_info
from typer.testing import CliRunner

from privaudit import demo
from privaudit.audit import run_assess
from privaudit.cli.app import app
from privaudit.config import load_config
from privaudit.hardening import run_harden
from privaudit.model import make_session
from privaudit.progress import NullProgress
from privaudit.sweeping import run_sweep
from privaudit.threads import available_cores, resolve_threads, session_threads, use_threads

runner = CliRunner()
FAST = ["--no-attacks", "--budget", "smoke", "--limit", "120", "-q"]
# NOTE: a count that differs from the default, so that "reached" cannot be the default.
OTHER = 1 if available_cores() > 1 else 2


def _intra_op(model: onnx.ModelProto | bytes) -> int:
    return int(make_session(model).get_session_options().intra_op_num_threads)


def test_default_is_the_cpus_this_process_may_use() -> None:
    import os

    assert available_cores() == len(os.sched_getaffinity(0))
    assert resolve_threads(None) == available_cores()
    assert resolve_threads(3) == 3
    assert load_config(None, {}, search=False).threads is None


def test_use_threads_sets_torch_blas_and_sessions_and_restores_them() -> None:
    model = demo.demo_model_path().read_bytes()
    before = torch.get_num_threads()
    with use_threads(OTHER):
        assert torch.get_num_threads() == OTHER
        assert _intra_op(model) == OTHER
        assert all(pool["num_threads"] == OTHER for pool in threadpool_info())
        assert resolve_threads(None) == OTHER  # nested work inherits the limit
    assert torch.get_num_threads() == before
    assert session_threads() == available_cores()
    assert _intra_op(model) == available_cores()
    assert int(make_session(model, threads=3).get_session_options().intra_op_num_threads) == 3


class _Recorder(NullProgress):
    """A real Progress that notes the process's thread settings whenever a stage opens."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int, int, int]] = []
        self.model = demo.demo_model_path().read_bytes()

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[object]:  # type: ignore[override]
        blas = min((p["num_threads"] for p in threadpool_info()), default=OTHER)
        self.seen.append((description, torch.get_num_threads(), _intra_op(self.model), blas))
        with super().task(description, total) as t:
            yield t


def test_a_run_uses_its_threads_everywhere_and_records_them() -> None:
    cfg = load_config(None, {"threads": OTHER, "attacks.enabled": (), "limit": 120,
                             "attacks.budget": "smoke"}, search=False)  # fmt: skip
    before = torch.get_num_threads()
    recorder = _Recorder()
    report = run_assess(cfg, progress=recorder)
    assert {d for d, *_ in recorder.seen} >= {"features", "bound", "dfil"}
    assert all(seen[1:] == (OTHER, OTHER, OTHER) for seen in recorder.seen), recorder.seen
    assert report.provenance.threads == OTHER
    assert report.provenance.config["threads"] == OTHER
    assert torch.get_num_threads() == before


def test_cli_records_the_threads_in_every_report(tmp_path: Path) -> None:
    result = runner.invoke(app, ["assess", *FAST, "--threads", str(OTHER), "-o", str(tmp_path),
                                 "-f", "json,markdown"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["provenance"]["threads"] == OTHER
    assert f"| CPU threads | {OTHER} |" in (tmp_path / "report.md").read_text()


def test_cli_default_records_the_available_cpus(tmp_path: Path) -> None:
    result = runner.invoke(app, ["assess", *FAST, "-o", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["provenance"]["threads"] == available_cores()
    assert report["provenance"]["config"]["threads"] is None


@pytest.mark.parametrize("command", ["assess", "harden"])
@pytest.mark.parametrize("value", ["0", "-2", "1.5", "two", "1025", "1000000"])
def test_bad_threads_exit_2_with_a_hint(command: str, value: str, tmp_path: Path) -> None:
    result = runner.invoke(app, [command, f"--threads={value}", "-o" if command == "assess"
                                 else "--output-dir", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error:") and lines[1].startswith("hint:")
    assert "threads" in lines[0]
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("value", ["0", "-1", "2.5", '"4"', "1000000"])
def test_bad_threads_in_the_config_exit_2(value: str, tmp_path: Path) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text(f"[tool.privaudit]\nthreads = {value}\n")
    result = runner.invoke(app, ["assess", "--config", str(config), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error: threads:") and "\nhint: " in result.stderr


def test_config_threads_reach_the_report(tmp_path: Path) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text(f"[tool.privaudit]\nthreads = {OTHER}\n")
    result = runner.invoke(app, ["assess", *FAST, "--config", str(config), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    assert json.loads((tmp_path / "report.json").read_text())["provenance"]["threads"] == OTHER


def test_harden_fine_tunes_with_its_threads_and_logs_its_choice(
    tiny_cnn_legacy: Path, digits_like: tuple[np.ndarray, np.ndarray], tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = tmp_path / "d.npz"
    np.savez(data, x=digits_like[0], y=digits_like[1])
    cfg = load_config(None, {"model": tiny_cnn_legacy, "split": "layer3", "data": data,
                             "noise": 0.1, "device": "cpu", "threads": OTHER,
                             "attacks.enabled": (), "bound.bootstrap": 0, "harden.epochs": 2,
                             "harden.k": 2, "harden.max_accuracy_drop": 50.0}, search=False)
    recorder = _Recorder()
    with caplog.at_level(logging.DEBUG, logger="privaudit"):
        report = run_harden(cfg, output=tmp_path / "h.onnx", progress=recorder)
    tunes = [s for s in recorder.seen if s[0].startswith("fine-tune")]
    assert tunes and all(s[1:] == (OTHER, OTHER, OTHER) for s in tunes), recorder.seen
    assert report.provenance.threads == OTHER
    assert report.harden is not None and report.harden.after.provenance.threads == OTHER
    messages = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("fine-tune epoch 2: task ") for m in messages) >= 4  # the grid
    assert any(m.startswith("harden: cem grid chose ") for m in messages), messages
    assert any(m.startswith("harden: writing the cem model (") for m in messages), messages


def test_sweep_divides_the_top_level_threads_among_its_jobs(
    tiny_cnn_legacy: Path, digits_like: tuple[np.ndarray, np.ndarray], tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = tmp_path / "d.npz"
    np.savez(data, x=digits_like[0], y=digits_like[1])
    cfg = load_config(None, {"model": tiny_cnn_legacy, "data": data, "sweep.splits": "layer3",
                             "sweep.noise": "0.1", "attacks.enabled": (), "device": "cpu",
                             "threads": OTHER}, search=False)  # fmt: skip
    with caplog.at_level(logging.DEBUG, logger="privaudit"):
        report = run_sweep(cfg)
    assert report.provenance.threads == OTHER
    assert (report.execution.workers, report.execution.threads_per_job) == (OTHER, 1)
    assert any(r.getMessage().startswith("sweep: recommendation ") for r in caplog.records)
