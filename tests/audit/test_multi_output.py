"""A model with several outputs (logits and an embedding): the first output is the logits.

`layers` calls a cut before both outputs clean; `assess`, `harden` and `sweep` measure the
accuracy of the head's (the model's) first output and carry the others along.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import privaudit
from privaudit.model import list_cut_points, load_model, make_session, run_batched

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMOKE = {"noise": 0.1, "budget": "smoke", "seed": 0}


class TwoOutputs(nn.Module):
    """12 columns in; returns (logits, the layer2 embedding)."""

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Linear(12, 16), nn.Tanh())
        self.layer2 = nn.Sequential(nn.Linear(16, 4), nn.Tanh())
        self.head = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.layer2(self.layer1(x))
        return self.head(emb), emb


@pytest.fixture(scope="module")
def net() -> nn.Module:
    torch.manual_seed(0)
    return TwoOutputs().eval()


@pytest.fixture(scope="module")
def two_outputs(tmp_path_factory: pytest.TempPathFactory, net: nn.Module) -> Path:
    path = tmp_path_factory.mktemp("two") / "two_outputs.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.randn(2, 12),), str(path), dynamo=False,
                          input_names=["x"], output_names=["logits", "emb"], opset_version=17,
                          dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}, "emb": {0: "N"}})
    return path


def _data(vectors_like: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return vectors_like[0][:120], vectors_like[1][:120]


def _accuracy(net: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        return float((net(torch.from_numpy(x))[0].argmax(1).numpy() == y).mean())


def test_the_first_output_is_run(two_outputs: Path, net: nn.Module) -> None:
    model = load_model(two_outputs)
    assert [o.name for o in model.graph.output] == ["logits", "emb"]
    assert next(c for c in list_cut_points(model) if c.module == "layer1").clean
    x = np.random.default_rng(0).standard_normal((5, 12)).astype(np.float32)
    with torch.no_grad():
        want = net(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(run_batched(make_session(model), x, 2), want, atol=1e-5)


def test_assess_harden_sweep_score_the_first_output(
    tmp_path: Path, two_outputs: Path, net: nn.Module,
    vectors_like: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = _data(vectors_like)
    report = privaudit.assess(two_outputs, data=(x, y), split="layer1", attacks=["knn"],
                              **SMOKE)
    assert report.utility.clean_accuracy == pytest.approx(_accuracy(net, x, y))
    assert report.attacks[0].mse is not None
    hardened = privaudit.harden(two_outputs, output=tmp_path / "hard.onnx", data=(x, y),
                                split="layer1", attacks=["knn"], harden={"epochs": 2, "k": 2},
                                **SMOKE)
    assert hardened.harden is not None
    assert hardened.harden.after.utility.clean_accuracy is not None
    assert [o.name for o in load_model(tmp_path / "hard.onnx").graph.output] == ["logits", "emb"]
    sweep = privaudit.sweep(two_outputs, data=(x, y), splits=["layer1"], noise=[0.1],
                            attacks=False, budget="smoke", seed=0)
    assert sweep.points[0].clean_accuracy.value == pytest.approx(_accuracy(net, x, y))
