"""Accuracy intervals, and the server's predictions at many sigmas from one noise draw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from privaudit.attacks import noisy_features
from privaudit.audit.references import server_classes
from privaudit.audit.utility import wilson
from privaudit.model import load_model, make_session, run_batched, split_model
from privaudit.sweeping.accuracy import accuracy_of


@pytest.mark.parametrize(("correct", "n", "low", "high"), [
    (81, 263, 0.2553, 0.3662),  # Wilson (1927) by hand: p = 0.308
    (0, 10, 0.0, 0.2775),  # no success: the interval is not degenerate
    (10, 10, 0.7225, 1.0),
    (50, 100, 0.4038, 0.5962),
])  # fmt: skip
def test_wilson_interval(correct: int, n: int, low: float, high: float) -> None:
    interval = wilson(correct, n)
    assert interval is not None
    assert interval.low == pytest.approx(low, abs=1e-4)
    assert interval.high == pytest.approx(high, abs=1e-4)
    assert wilson(0, 0) is None


def test_accuracy_of() -> None:
    acc = accuracy_of(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4]))
    assert acc.value == 0.75 and acc.samples == 4 and acc.interval is not None


def test_one_draw_gives_each_sigma_exactly_the_battery_s_noisy_features(
    tiny_cnn_legacy: Path, digits_like: tuple[np.ndarray, np.ndarray]
) -> None:
    split = split_model(load_model(tiny_cnn_legacy), "layer3")
    encoder, head = make_session(split.encoder), make_session(split.head)
    z = run_batched(encoder, digits_like[0][:70], 64)
    flat = z.reshape(len(z), -1)
    sigmas = [0.0, 0.05, 0.3]
    got = server_classes(head, flat, z.shape[1:], sigmas, seed=7, rows=16)
    for s in sigmas:
        noisy = noisy_features(torch.from_numpy(flat), s, 7, "eval").numpy()
        logits = run_batched(head, noisy.reshape(z.shape), 64)
        np.testing.assert_array_equal(got[s], np.argmax(logits, axis=1))
