"""The feature noise: one keyed stream, read in any pieces, and `add_noise`'s float32 draw."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from privaudit.attacks import noise_stream, noisy_features
from privaudit.noise import NOISE_ROWS, NoiseStream, add_drawn_noise, add_noise


def _pieces(stream: NoiseStream, n: int, width: int, cuts: list[int], threads: int) -> np.ndarray:
    bounds = [0, *sorted(set(cuts)), n]
    parts = [stream.rows(a, b, width, threads=threads) for a, b in itertools.pairwise(bounds)]
    return np.concatenate(parts)


@pytest.mark.parametrize("width", [1, 13, 3000])
def test_rows_are_the_same_however_they_are_read(width: int) -> None:
    """At once, in uneven pieces across block edges, backwards, in one or two threads: the
    same values, bit for bit (the battery reads a part at once, the references in blocks)."""
    n = 5 * NOISE_ROWS + 7
    stream = NoiseStream(2024)
    whole = stream.rows(0, n, width, threads=1)
    assert whole.shape == (n, width) and whole.dtype == np.float32
    rng = np.random.default_rng(0)
    for _ in range(4):
        cuts = [int(c) for c in rng.integers(1, n, size=5)]
        assert np.array_equal(_pieces(stream, n, width, cuts, threads=1), whole)
    assert np.array_equal(stream.rows(0, n, width, threads=2), whole)
    backwards = [stream.rows(a, min(a + 17, n), width, threads=1) for a in range(0, n, 17)][::-1]
    assert np.array_equal(np.concatenate(backwards[::-1]), whole)
    assert stream.rows(9, 9, width).shape == (0, width)


def test_a_large_draw_shared_among_threads_equals_one_thread() -> None:
    """Past the size where the blocks are drawn in parallel, the threads change nothing."""
    stream = NoiseStream(7)
    n, width = 9 * NOISE_ROWS + 3, 2048  # ~1.2 million values: drawn in parallel
    one = stream.rows(0, n, width, threads=1)
    assert np.array_equal(stream.rows(0, n, width, threads=2), one)
    assert np.array_equal(stream.rows(NOISE_ROWS // 2, n - 1, width, threads=3),
                          one[NOISE_ROWS // 2 : n - 1])  # fmt: skip


def test_the_stream_is_standard_normal_and_its_blocks_independent() -> None:
    """Mean 0, variance 1, normal quantiles; rows of neighbouring blocks and of two keys
    uncorrelated (each block has its own generator: a shared one would repeat values)."""
    n, width = 8 * NOISE_ROWS, 500
    draw = NoiseStream(11).rows(0, n, width).astype(np.float64)
    values = draw.ravel()
    se = 1 / math.sqrt(values.size)
    assert abs(values.mean()) < 5 * se
    assert abs(values.var() - 1) < 5 * math.sqrt(2) * se
    for q, z in ((0.025, -1.959964), (0.5, 0.0), (0.975, 1.959964)):
        assert abs(np.quantile(values, q) - z) < 0.02
    blocks = draw.reshape(8, NOISE_ROWS * width)
    corr = np.corrcoef(blocks)[np.triu_indices(8, 1)]
    assert np.abs(corr).max() < 5 / math.sqrt(NOISE_ROWS * width)
    other = NoiseStream(12).rows(0, n, width).astype(np.float64).ravel()
    assert abs(np.corrcoef(values, other)[0, 1]) < 5 * se
    assert not np.array_equal(blocks[0], blocks[1])


def test_noisy_features_are_the_stream_scaled_by_sigma() -> None:
    """The attacks' noisy features: clean + sigma * the part's stream, in float32; sigma 0
    the clean features in float32; the aux and eval parts draw different noise."""
    clean = torch.from_numpy(np.random.default_rng(3).normal(size=(70, 4, 5)).astype(np.float32))
    z = noisy_features(clean, 0.3, 5, "eval").numpy()
    draw = noise_stream(5, "eval").rows(0, 70, 20)
    expected = clean.numpy().reshape(70, 20) + np.float32(0.3) * draw
    assert z.shape == (70, 4, 5) and z.dtype == np.float32
    assert np.array_equal(z.reshape(70, 20), expected)
    same = noisy_features(clean.double(), 0.0, 5, "eval")
    assert same.dtype == torch.float32 and torch.equal(same, clean)
    aux = noisy_features(clean, 0.3, 5, "aux").numpy()
    assert not np.allclose(aux, z)


def test_add_drawn_noise_gives_add_noise_s_values() -> None:
    """One draw scaled for several sigmas equals `add_noise` from the same generator state."""
    clean = np.random.default_rng(1).normal(size=(6, 9)).astype(np.float32)
    for sigma in (0.05, 0.1, 2.0):
        drawn = np.random.default_rng(4).standard_normal(clean.shape, dtype=np.float32)
        direct = add_noise(clean, sigma, np.random.default_rng(4))
        assert direct.dtype == np.float32
        assert np.array_equal(add_drawn_noise(clean, sigma, drawn), direct)
    assert add_noise(clean, 0.0, np.random.default_rng(4)) is clean


def test_rows_refuse_a_range_that_is_not_one() -> None:
    """A negative start or width, or stop before start, is an error, not an empty draw."""
    for start, stop, width in ((-3, 5, 2), (5, 4, 2), (0, 4, -1)):
        with pytest.raises(ValueError, match="expected 0 <= start <= stop"):
            NoiseStream(1).rows(start, stop, width)


@pytest.mark.parametrize("scales", [None, "channel", "float64", "wider", "grad"])
def test_torch_noise_equals_the_plain_expression(scales: str | None) -> None:
    """The tensor path, in place where it can be, gives `clean + sigma * (draw * scales)` to
    the last bit, of the same dtype and shape; scales that need a graph still get one."""
    clean = torch.randn(4, 3, 5, 5)
    given = {
        None: None,
        "channel": torch.rand(1, 3, 1, 1) + 0.5,
        "float64": torch.rand(1, 3, 1, 1, dtype=torch.float64) + 0.5,
        "wider": torch.rand(2, 4, 3, 5, 5) + 0.5,  # broadcasts beyond clean's shape
        "grad": (torch.rand(1, 3, 1, 1) + 0.5).requires_grad_(),
    }[scales]
    got = add_noise(clean, 0.3, torch.Generator().manual_seed(9), given)
    draw = torch.randn(clean.shape, generator=torch.Generator().manual_seed(9))
    expected = clean + 0.3 * (draw if given is None else draw * given)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert torch.equal(got, expected)
    if scales == "grad":
        assert given is not None
        got.sum().backward()
        assert given.grad is not None and given.grad.shape == given.shape
