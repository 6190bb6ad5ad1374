"""A sweep point is what `privaudit assess --split CUT --noise SIGMA` measures, to the last bit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from knn_searches import count_knn_searches

from privaudit.audit import run_assess
from privaudit.config import BoundConfig, Config
from privaudit.results import AttackResult
from privaudit.sweeping import run_sweep


def _scored(a: AttackResult) -> AttackResult:
    """An attack's numbers without its timing and stored reconstructions."""
    return replace(a, seconds=0.0, samples=(), reconstructions=())


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_a_point_equals_assess(sweep_settings: Callable[..., Config]) -> None:
    cfg = sweep_settings(**{"sweep.splits": "layer2,layer3", "sweep.noise": "0,0.1,0.2"})
    sweep = run_sweep(cfg)
    for cut, sigma in (("layer3", 0.1), ("layer2", 0.2)):
        audit = run_assess(replace(cfg, split=cut, noise=sigma, bound=BoundConfig(dfil=False)))
        point = sweep.point(cut, sigma)
        assert point is not None and audit.bound is not None
        assert point.bound == audit.bound  # I_up, both floors, their intervals, the warnings
        assert point.references == audit.references
        assert [_scored(r.result) for r in point.runs] == [_scored(a) for a in audit.attacks]
        assert point.clean_accuracy.value == audit.utility.clean_accuracy
        # NOTE: by design the noisy accuracies differ in how they are measured: assess averages
        # 3 draws over every sample, the sweep reads the server's predictions on the evaluation
        # samples; assess's value lies in the sweep's interval.
        interval, noisy = point.noisy_accuracy.interval, audit.utility.noisy_accuracy
        assert interval is not None and noisy is not None
        assert interval.low <= noisy <= interval.high


@pytest.mark.usefixtures("one_torch_thread")
def test_knn_at_the_run_seed_takes_the_cut_jobs_search(
    sweep_settings: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cut job's `nearest` search is the knn job's at the run's seed: made once."""
    searches = count_knn_searches(monkeypatch)
    cfg = sweep_settings(**{"sweep.splits": "layer3", "sweep.noise": "0.1",
                            "attacks.enabled": "knn", "sweep.seeds": 2})  # fmt: skip
    point = run_sweep(cfg).point("layer3", 0.1)
    assert point is not None
    runs = {r.seed: r.result for r in point.runs}
    nearest = next(r for r in point.references if r.name == "nearest")
    assert runs[cfg.seed].mse is not None and runs[cfg.seed].mse == nearest.mse
    assert len(searches) == 1  # the other seed's job searched, with its own noise draw
    assert runs[cfg.seed + 1].mse is not None and runs[cfg.seed + 1].mse != nearest.mse


@pytest.mark.usefixtures("one_torch_thread")
def test_the_configs_noise_outside_the_grid_is_said(sweep_settings: Callable[..., Config]) -> None:
    """A tester's `noise = 0.2` under [tool.privaudit] was dropped silently by the sweep."""
    cfg = sweep_settings(**{"sweep.splits": "layer3", "sweep.noise": "0.1",
                            "attacks.enabled": "knn", "noise": 0.2})  # fmt: skip
    report = run_sweep(cfg)
    assert report.noise_sigmas == (0.1,)
    assert any(w.startswith("noise = 0.2 (assess's sigma) is not in the sweep's grid (0.1)")
               for w in report.warnings)  # fmt: skip
    inside = run_sweep(replace(cfg, noise=0.1))
    assert not any("assess's sigma" in w for w in inside.warnings)
