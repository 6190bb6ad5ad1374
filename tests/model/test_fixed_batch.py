"""Models exported with a fixed batch B > 1: every onnxruntime and torch run pads to B.

A legacy export without dynamic axes bakes its example's batch into the input and into every
Reshape built from `x.shape[0]`; such a model only runs on exactly B samples.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

import privaudit
from privaudit.interpreter import to_torch
from privaudit.model import load_model, make_session, run_batched, split_model, verify_split
from privaudit.results import Status

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BATCH = 4


class ReshapingMLP(nn.Module):
    """12 columns in; both halves reshape with the batch, which a static export bakes in."""

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Linear(12, 16), nn.Tanh())
        self.layer2 = nn.Sequential(nn.Linear(8, 4), nn.Tanh())
        self.head = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.layer1(x).reshape(x.shape[0], 2, 8).mean(1)
        z = self.layer2(h)
        out: torch.Tensor = self.head(z.reshape(z.shape[0], 2, 2).reshape(z.shape[0], 4))
        return out


def _export(model: nn.Module, path: Path, dynamic: bool) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        axes = {"x": {0: "N"}, "logits": {0: "N"}} if dynamic else None
        torch.onnx.export(model, (torch.randn(BATCH, 12),), str(path), dynamo=False,
                          input_names=["x"], output_names=["logits"], opset_version=17,
                          dynamic_axes=axes)
    return path


@pytest.fixture(scope="module")
def net() -> nn.Module:
    torch.manual_seed(0)
    return ReshapingMLP().eval()


@pytest.fixture(scope="module")
def batch4(tmp_path_factory: pytest.TempPathFactory, net: nn.Module) -> Path:
    return _export(net, tmp_path_factory.mktemp("b4") / "batch4.onnx", dynamic=False)


def test_onnxruntime_and_torch_run_any_number_of_samples(batch4: Path, net: nn.Module) -> None:
    model = load_model(batch4)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == BATCH
    assert any(n.op_type == "Reshape" for n in model.graph.node)
    x = np.random.default_rng(0).standard_normal((7, 12)).astype(np.float32)  # 4 + 3 padded
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(run_batched(make_session(model), x, 64), want, atol=1e-5)
    np.testing.assert_allclose(run_batched(make_session(model), x[:1], 64), want[:1], atol=1e-5)
    split = split_model(model, "layer2")
    assert verify_split(model, split, x) <= 1e-6
    assert split.head is not None
    encoder, head = to_torch(split.encoder), to_torch(split.head, trainable=False)
    assert encoder.fixed_batch == head.fixed_batch == BATCH
    xt = torch.from_numpy(x).requires_grad_(True)
    out = head(encoder(xt))
    assert isinstance(out, torch.Tensor) and out.shape == (7, 3)
    np.testing.assert_allclose(out.detach().numpy(), want, atol=1e-5)
    out.sum().backward()
    assert xt.grad is not None and bool(xt.grad.abs().sum() > 0)


def test_assess_and_harden_match_the_dynamic_export(
    tmp_path: Path, batch4: Path, net: nn.Module, vectors_like: tuple[np.ndarray, np.ndarray],
) -> None:
    dynamic = _export(net, tmp_path / "dynamic.onnx", dynamic=True)
    x, y = vectors_like[0][:103], vectors_like[1][:103]  # not a multiple of 4 in any part
    opts = {"split": "layer2", "noise": 0.1, "budget": "smoke", "seed": 0,
            "attacks": ["knn", "optimization"]}
    fixed, free = (privaudit.assess(m, data=(x, y), **opts) for m in (batch4, dynamic))
    assert [a.status for a in fixed.attacks] == [Status.OK, Status.OK]
    assert fixed.bound == free.bound and fixed.utility == free.utility
    assert [a.mse for a in fixed.attacks] == pytest.approx([a.mse for a in free.attacks],
                                                           rel=1e-4)
    out = tmp_path / "hardened.onnx"
    report = privaudit.harden(batch4, output=out, data=(x, y), split="layer2", noise=0.1,
                              attacks=["knn"], budget="smoke", harden={"epochs": 2, "k": 2})
    assert report.harden is not None and report.harden.after.utility.clean_accuracy is not None
    tuned = onnx.load(str(out))
    assert tuned.graph.input[0].type.tensor_type.shape.dim[0].dim_value == BATCH
