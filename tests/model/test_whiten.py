"""Per-channel noise: whitened splits, per-channel embedded noise, and audits that read them.

The audit of a model whose metadata gives per-channel noise stds sigma / c_j at its cut z
must equal the audit of the *same* network cut one node later, at c * z, with one sigma:
the two describe the same channel, and the second needs no whitening code at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from privaudit.audit import prepare, run_assess
from privaudit.config import AttacksConfig, BoundConfig, Config
from privaudit.errors import ModelError
from privaudit.model import (
    broadcast_shape,
    channel_scales,
    embed_noise,
    metadata,
    save_model,
    set_metadata,
    split_model,
    strip_embedded_noise,
    whiten_split,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIGMA = 0.1
# 1 / c_j with mean square 1, so that the stds sigma / c_j have RMS sigma exactly
INV_C = np.array([0.6, np.sqrt(2 - 0.36), 0.6, np.sqrt(2 - 0.36)])


class ScaledCNN(nn.Module):
    """Conv features -> 4-channel sigmoid cut (layer3) -> per-channel scale c (scale) -> head."""

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU())
        self.layer3 = nn.Sequential(nn.Conv2d(8, 4, 3, stride=2, padding=1), nn.Sigmoid())
        self.scale = Scale(torch.tensor(1.0 / INV_C, dtype=torch.float32).view(1, 4, 1, 1))
        self.fc = nn.Linear(4 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.scale(self.layer3(self.layer1(x))), 1))


class Scale(nn.Module):
    def __init__(self, c: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("c", c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.c


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory, onnx_export) -> Path:  # type: ignore[no-untyped-def]
    torch.manual_seed(3)
    return onnx_export(ScaledCNN(), tmp_path_factory.mktemp("w") / "scaled.onnx")


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString())
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_whitened_split_divides_the_cut_and_the_head_undoes_it(scaled: Path) -> None:
    split = split_model(onnx.load(scaled), "layer3")
    sigma, a = channel_scales(SIGMA * INV_C)
    assert sigma == pytest.approx(SIGMA) and np.mean(a**2) == pytest.approx(1.0)
    white = whiten_split(split, a)
    assert (white.cut_tensor, white.feature_shape) == (split.cut_tensor, split.feature_shape)
    x = np.random.default_rng(0).random((5, 1, 28, 28)).astype(np.float32)
    z, zw = _run(split.encoder, x), _run(white.encoder, x)
    np.testing.assert_allclose(zw * a.reshape(1, 4, 1, 1), z, rtol=1e-6, atol=1e-7)
    assert split.head is not None and white.head is not None
    np.testing.assert_allclose(_run(white.head, zw), _run(split.head, z), rtol=1e-5, atol=1e-5)
    # the input split is left as it was
    np.testing.assert_array_equal(_run(split.encoder, x), z)


def test_per_channel_embedded_noise_has_each_channels_std_and_strips_back(scaled: Path) -> None:
    model = onnx.load(scaled)
    split = split_model(model, "layer3")
    stds = SIGMA * INV_C
    noisy = embed_noise(model, split.cut_tensor, SIGMA,
                        stds.reshape(broadcast_shape(split.feature_shape, 4)))
    encoder = split_model(noisy, "layer3").encoder
    x = np.random.default_rng(1).random((16, 1, 28, 28)).astype(np.float32)
    session = ort.InferenceSession(encoder.SerializeToString())
    clean = _run(split.encoder, x)
    draws = np.stack([session.run(None, {"input": x})[0] - clean for _ in range(40)])
    np.testing.assert_allclose(draws.std(axis=(0, 1, 3, 4)), stds, rtol=0.05)
    assert not np.allclose(draws[0], draws[1])
    stripped = strip_embedded_noise(noisy)
    assert list(stripped.graph.node) == list(model.graph.node)
    assert list(stripped.graph.initializer) == list(model.graph.initializer)
    assert list(stripped.graph.input) == list(model.graph.input)


@pytest.mark.parametrize("bad", [[], [0.1, 0.0], [0.1, float("nan")], [-0.1, 0.2]])
def test_channel_scales_refuse_stds_that_are_not_positive(bad: list[float]) -> None:
    with pytest.raises(ModelError, match="finite and > 0"):
        channel_scales(bad)


def test_broadcast_shape_needs_the_cuts_channel_count() -> None:
    assert broadcast_shape((4, 7, 7), 4) == (1, 4, 1, 1)
    assert broadcast_shape((12,), 12) == (1, 12)
    with pytest.raises(ModelError, match="3 per-channel noise stds but its cut has 4"):
        broadcast_shape((4, 7, 7), 3)
    with pytest.raises(ModelError, match="channel axis"):
        broadcast_shape((), 3)


def _cfg(model: Path, data: Path, split: str, noise: float | None) -> Config:
    return Config(model=model, split=split, data=data, noise=noise, device="cpu",
                  attacks=AttacksConfig(enabled=("knn",), budget="smoke"),
                  bound=BoundConfig(bootstrap=0, k=2, dfil=False))


def test_an_allocated_model_audits_like_the_same_channel_with_one_sigma(
    scaled: Path, tmp_path: Path, digits_like: tuple[np.ndarray, np.ndarray]
) -> None:
    data = tmp_path / "d.npz"
    np.savez(data, x=digits_like[0], y=digits_like[1])
    allocated = tmp_path / "allocated.onnx"
    stds = ",".join(f"{s:.12g}" for s in SIGMA * INV_C)
    save_model(set_metadata(onnx.load(scaled), {metadata.NOISE_SIGMAS: stds}), allocated)
    by_metadata = run_assess(_cfg(allocated, data, "layer3", None))
    one_sigma = run_assess(_cfg(scaled, data, "scale", SIGMA))
    assert by_metadata.model.noise_stds == pytest.approx(tuple(SIGMA * INV_C))
    assert by_metadata.model.noise_source == "model metadata"
    assert one_sigma.model.noise_stds is None
    a, b = by_metadata.bound, one_sigma.bound
    assert a is not None and b is not None and a.noise_sigma == pytest.approx(SIGMA)
    assert a.leakage_bits_per_dim == pytest.approx(b.leakage_bits_per_dim, rel=1e-4)
    assert a.mse_floor == pytest.approx(b.mse_floor, rel=1e-4)
    assert by_metadata.utility.noisy_accuracy == pytest.approx(one_sigma.utility.noisy_accuracy)
    knn = [next(r.mse for r in rep.attacks if r.attack == "knn") for rep in (by_metadata,
                                                                             one_sigma)]
    assert knn[0] == pytest.approx(knn[1], rel=1e-4)
    # and it is not the same as ignoring the allocation: one sigma at the unscaled cut
    plain = run_assess(_cfg(scaled, data, "layer3", SIGMA))
    assert plain.bound is not None
    assert abs(plain.bound.leakage_bits_per_dim - a.leakage_bits_per_dim) > 1e-3 * abs(
        a.leakage_bits_per_dim)


def test_a_noise_flag_rescales_every_channel_alike(scaled: Path, tmp_path: Path,
                                                   digits_like: tuple[np.ndarray, np.ndarray]
                                                   ) -> None:
    data = tmp_path / "d.npz"
    np.savez(data, x=digits_like[0], y=digits_like[1])
    allocated = tmp_path / "allocated.onnx"
    stds = ",".join(f"{s:.12g}" for s in SIGMA * INV_C)
    save_model(set_metadata(onnx.load(scaled), {metadata.NOISE_SIGMAS: stds}), allocated)
    prep = prepare(_cfg(allocated, data, "layer3", 0.3))
    assert prep.noise_sigma == 0.3 and prep.noise_stds == pytest.approx(tuple(0.3 * INV_C))
    off = prepare(_cfg(allocated, data, "layer3", 0.0))
    assert off.noise_stds is None


def test_bad_per_channel_stds_in_metadata_are_a_model_error(
    scaled: Path, tmp_path: Path, digits_like: tuple[np.ndarray, np.ndarray]
) -> None:
    data = tmp_path / "d.npz"
    np.savez(data, x=digits_like[0], y=digits_like[1])
    for value, match in (("0.1,abc", "not a list of numbers"), ("0.1,0.1,0.1", "3 per-channel"),
                         ("0.1,0,0.1,0.1", "finite and > 0"),
                         ("1e-300,0.1,0.1,0.1", "span too much")):
        path = tmp_path / "bad.onnx"
        save_model(set_metadata(onnx.load(scaled), {metadata.NOISE_SIGMAS: value}), path)
        with pytest.raises(ModelError, match=match) as raised:
            prepare(_cfg(path, data, "layer3", None))
        # NOTE: a hint that leads somewhere: --noise rescales the stds, it cannot drop them
        assert raised.value.hint is not None and "metadata" in raised.value.hint
        assert "--noise" not in raised.value.hint.replace("--noise only rescales", "")


def test_the_allocation_is_found_by_its_cut_whatever_name_recorded_or_asked(
    scaled: Path, tmp_path: Path, digits_like: tuple[np.ndarray, np.ndarray]
) -> None:
    """`layer3`, its last node and its output tensor are one cut: the allocation recorded
    under any of them is audited under any other (ignoring it overstated privacy 6.5x in a
    tester's case), another cut has none, and a recorded cut the model lacks is an error."""
    data = tmp_path / "d.npz"
    np.savez(data, x=digits_like[0], y=digits_like[1])
    model = onnx.load(scaled)
    tensor = split_model(model, "layer3").cut_tensor
    node = next(n.name for n in model.graph.node if tensor in n.output)
    stds = ",".join(f"{s:.12g}" for s in SIGMA * INV_C)
    for recorded in ("layer3", node, tensor):
        path = tmp_path / "allocated.onnx"
        save_model(set_metadata(onnx.load(scaled), {metadata.NOISE_SIGMAS: stds,
                                                   metadata.SPLIT: recorded}), path)  # fmt: skip
        for asked in ("layer3", node, tensor):
            prep = prepare(_cfg(path, data, asked, None))
            assert prep.noise_stds == pytest.approx(tuple(SIGMA * INV_C)), (recorded, asked)
        assert prepare(_cfg(path, data, "layer1", SIGMA)).noise_stds is None
    path = tmp_path / "stale.onnx"
    save_model(set_metadata(onnx.load(scaled), {metadata.NOISE_SIGMAS: stds,
                                               metadata.SPLIT: "layer9"}), path)  # fmt: skip
    with pytest.raises(ModelError, match="names no cut of this model"):
        prepare(_cfg(path, data, "layer3", None))
