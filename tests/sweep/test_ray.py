"""The Ray executor on a real local cluster gives exactly the local executor's results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from privaudit.config import Config
from privaudit.results import SweepReport
from privaudit.sweeping import run_sweep


def _numbers(report: SweepReport) -> list[object]:
    """Everything a sweep measured, without timings."""
    out: list[object] = []
    for p in report.points:
        out += [p.cut, p.noise_sigma, p.clean_accuracy, p.noisy_accuracy, p.bound, p.references,
                p.attacks, p.pareto, p.strongest_mse]
        out += [(r.seed, r.result.attack, r.result.mse, r.result.psnr, r.result.ssim,
                 r.result.recovered, r.result.beats_label) for r in p.runs]
    return out


@pytest.mark.slow
def test_ray_cluster_equals_local(
    ray_address: str, sweep_settings: Callable[..., Config], tmp_path: Path
) -> None:
    small = {"sweep.splits": "layer3", "sweep.noise": "0.1,0.2", "sweep.jobs": 2}
    local = run_sweep(sweep_settings(**small), shards=tmp_path / "local")
    cfg = sweep_settings(**small, **{"sweep.executor": "ray", "sweep.ray_address": ray_address})
    remote = run_sweep(cfg, shards=tmp_path / "ray")
    assert remote.execution.executor == "ray" and remote.execution.address == ray_address
    assert remote.execution.ran == local.execution.ran == 1 + 2 * 2  # a cut job, 4 attack jobs
    assert local.execution.executor == "local" and local.execution.workers == 2
    assert _numbers(remote) == _numbers(local)
    assert all(r.result.mse is not None for p in remote.points for r in p.runs)
