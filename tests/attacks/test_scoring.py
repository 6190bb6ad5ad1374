"""The one scoring rule: references, recovered shares and 'beats label', paired by seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from privaudit.attacks import Scorer
from privaudit.results import Status

RNG = np.random.default_rng(0)
TRUTH = torch.from_numpy(RNG.random((200, 1, 8, 8), dtype=np.float32))
MEAN = TRUTH.mean(0, keepdim=True).expand_as(TRUTH).clone()


def _scorer() -> Scorer:
    return Scorer(TRUTH, floor=None, n_stored=3, seed=5)


def _noisy(scale: float, seed: int = 1) -> torch.Tensor:
    noise = torch.from_numpy(np.random.default_rng(seed).normal(0, scale, TRUTH.shape))
    return (TRUTH + noise.float()).clamp(0, 1)


def test_prior_is_the_no_information_level_and_recovers_nothing() -> None:
    scorer = _scorer()
    prior = scorer.reference("prior", MEAN)
    variance = float(((TRUTH - MEAN) ** 2).mean())
    assert prior.mse == pytest.approx(variance, rel=1e-6) and prior.recovered == pytest.approx(0.0)
    iv = prior.mse_interval
    assert iv is not None and iv.low <= prior.mse <= iv.high


def test_recovered_share_and_its_paired_interval() -> None:
    scorer = _scorer()
    prior = scorer.reference("prior", MEAN)
    perfect = scorer.attack("perfect", TRUTH.clone(), 0.0, {})
    assert perfect.status is Status.OK and perfect.mse == 0.0 and perfect.recovered == 1.0
    good = scorer.attack("good", _noisy(0.05), 0.0, {})
    assert good.recovered == pytest.approx(1 - good.mse / prior.mse)  # type: ignore[operator]
    iv = good.recovered_interval
    assert iv is not None and iv.low <= good.recovered <= iv.high  # type: ignore[operator]
    assert iv.high - iv.low < 0.1  # paired resamples: the shared per-image variation cancels


def test_beats_label_only_beyond_the_interval() -> None:
    scorer = _scorer()
    scorer.reference("prior", MEAN)
    label = scorer.reference("label", _noisy(0.2, seed=2))
    assert label.recovered is not None and 0 < label.recovered < 1
    assert scorer.attack("much better", _noisy(0.05), 0.0, {}).beats_label is True
    assert scorer.attack("same", _noisy(0.2, seed=3), 0.0, {}).beats_label is False
    assert scorer.attack("worse", _noisy(0.4), 0.0, {}).beats_label is False


def test_without_references_nothing_is_claimed() -> None:
    result = _scorer().attack("alone", _noisy(0.05), 0.0, {})
    assert result.recovered is None and result.beats_label is None
    missing = _scorer().reference("label", None, "needs a head and labels: no head")
    assert missing.mse is None and missing.reason == "needs a head and labels: no head"
