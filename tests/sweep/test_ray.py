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


@pytest.mark.parametrize(("address", "target"), [
    ("10.0.0.5:6379", ("10.0.0.5", 6379)), ("ray://head:10001", ("head", 10001)),
    ("[::1]:6379", ("::1", 6379)), (":6379", ("127.0.0.1", 6379)), (None, None), ("auto", None),
    ("local", None), ("head", None), ("head:x", None), ("http://head:8265", None),
])  # fmt: skip
def test_the_address_checked_before_ray_connects(address: str | None,
                                                 target: tuple[str, int] | None) -> None:
    from privaudit.sweeping.ray_cluster import host_port

    assert host_port(address) == target


def test_a_listening_address_passes_and_a_slow_connect_is_cut_short() -> None:
    """ray.init retried an unreachable cluster for minutes: the address is checked first, and
    the connection itself runs under a time limit."""
    import socket
    import time

    from privaudit.errors import ConfigError
    from privaudit.sweeping.ray_cluster import TooLong, at_most, check_reachable

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        check_reachable(f"127.0.0.1:{s.getsockname()[1]}", timeout=2)
        port = s.getsockname()[1]
    with pytest.raises(ConfigError, match=f"cannot reach the Ray cluster at 127.0.0.1:{port}"):
        check_reachable(f"127.0.0.1:{port}", timeout=2)
    start = time.monotonic()
    with pytest.raises(TooLong), at_most(1):
        time.sleep(10)
    assert time.monotonic() - start < 5
    with at_most(None):
        pass
