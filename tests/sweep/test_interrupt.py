"""Ctrl-C or SIGTERM stops a sweep's workers at once and keeps every finished job; a re-run
resumes from them. The real CLI runs in a subprocess with two worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_sweep_keeps_its_shards_and_resumes(
    tiny_cnn_legacy: Path, sweep_data: Path, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    config = tmp_path / "slow.toml"
    config.write_text("[tool.privaudit.attacks.decoder]\nepochs = 6\n")
    out = tmp_path / "out"
    args = [sys.executable, "-m", "privaudit", "sweep", str(tiny_cnn_legacy), "--data",
            str(sweep_data), "--splits", "layer2,layer3", "--noise", "0.1,0.2",
            "--attacks", "decoder", "--budget", "smoke", "--jobs", "2", "--device", "cpu",
            "--config", str(config), "-o", str(out), "-q"]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(args, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 240
    while not list(out.glob("shards/attack--*")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.1)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    assert "run the same command again to resume" in stderr
    kept = {p.name for p in out.glob("shards/attack--*")}
    assert 1 <= len(kept) < 4
    assert not (out / "sweep.json").exists()
    assert not [p for p in (out / "shards").iterdir() if p.name.startswith(".")]  # no scratch
    assert not (out / ".privaudit.lock").exists()
    if sig != signal.SIGINT:
        return
    rerun = subprocess.run(args, cwd=ROOT, env=env, text=True, capture_output=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["execution"]["reused"] >= len(kept)
    assert doc["execution"]["ran"] == doc["execution"]["jobs"] - doc["execution"]["reused"]
    assert kept <= {p.name for p in out.glob("shards/attack--*")}
