"""harden trains the logits of a head that ends in Softmax or LogSoftmax, not its output.

Cross-entropy of probabilities read as logits is at least log((e + C - 1) / e) (0.55 for
three classes) and barely trains; the loss reads the normalization's input instead, and the
written model keeps its final Softmax.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from privaudit.data import Feed, Normalization
from privaudit.hardening import FinetuneSettings, fine_tune
from privaudit.hardening.finetune import logits_head
from privaudit.model import split_model
from privaudit.progress import NullProgress


class Normalized(nn.Module):
    def __init__(self, last: nn.Module) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(4 * 8 * 8, 3)
        self.last = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(self.fc(torch.flatten(self.layer1(x), 1)))


def _export(last: nn.Module, path: Path, opset: int) -> onnx.ModelProto:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Normalized(last).eval(), (torch.rand(2, 1, 8, 8),), str(path),
                          dynamo=False, opset_version=opset, input_names=["input"],
                          output_names=["probs"],
                          dynamic_axes={"input": {0: "batch"}, "probs": {0: "batch"}})
    return onnx.load(path)


def _quadrants() -> tuple[np.ndarray, np.ndarray]:
    """Three easy classes: the bright quadrant of an 8x8 image."""
    rng = np.random.default_rng(0)
    y = np.arange(96) % 3
    x = rng.random((96, 1, 8, 8)).astype(np.float32) * 0.2
    for i, c in enumerate(y):
        x[i, 0, 4 * (c // 2):4 * (c // 2) + 4, 4 * (c % 2):4 * (c % 2) + 4] += 0.8
    return x, y


@pytest.mark.parametrize(("last", "opset"), [(nn.Softmax(dim=1), 17), (nn.Softmax(dim=-1), 11),
                                             (nn.LogSoftmax(dim=1), 17)])  # fmt: skip
def test_harden_trains_the_logits_before_a_final_softmax(
    tmp_path: Path, last: nn.Module, opset: int
) -> None:
    model = _export(last, tmp_path / "m.onnx", opset)
    split = split_model(model, "layer1")
    assert split.head is not None
    head = logits_head(split.head)
    assert head.graph.output[0].name != "probs"
    settings = FinetuneSettings(lam=0.0, loss="bound", k=2, epochs=6, lr=1e-2, batch_size=16,
                                freeze_head=False, noise_sigma=0.01, seed=0)
    x, y = _quadrants()
    done = fine_tune(split, Feed.pixels(Normalization(), (1, 8, 8)), x, y, settings,
                     device=torch.device("cpu"), progress=NullProgress(), label="t")
    floor = math.log((math.e + 2) / math.e)  # probabilities read as logits cannot go below
    assert done.history[-1].task_loss < floor / 2, done.history[-1]
    assert done.history[-1].accuracy == 1.0
    tuned = done.write_back(model)
    assert tuned.graph.node[-1].op_type == model.graph.node[-1].op_type
    out = ort.InferenceSession(tuned.SerializeToString()).run(None, {"input": x[:5]})[0]
    probs = np.exp(out) if isinstance(last, nn.LogSoftmax) else out
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)


def test_a_head_without_a_final_normalization_is_left_as_it_is(tmp_path: Path) -> None:
    model = _export(nn.Identity(), tmp_path / "m.onnx", 17)
    split = split_model(model, "layer1")
    assert split.head is not None and logits_head(split.head) is split.head
