"""When the head's first output has far more columns than the labels hold classes, say why.

privaudit scores the head's first output; a model that returns (reconstruction, logits)
would be scored on 64 "classes" of 3 labels: the warning says the first output may not be
the logits and how to fix the export.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
from typer.testing import CliRunner

from privaudit.audit import label_warnings
from privaudit.cli.app import app

runner = CliRunner()


class ReconstructionFirst(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.decoder = nn.Linear(4 * 8 * 8, 64)
        self.fc = nn.Linear(4 * 8 * 8, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.flatten(self.layer1(x), 1)
        return self.decoder(h), self.fc(h)


def test_far_more_columns_than_classes_says_the_first_output_may_not_be_the_logits() -> None:
    (text,) = label_warnings(np.arange(300) % 10, 784)
    assert "the labels hold 10 classes but the head's first output has 784 columns" in text
    assert "may not be the model's logits" in text and "logits as its first output" in text
    (few,) = label_warnings(np.arange(300) % 2, 10)
    assert "the head scores 10" in few and "logits" not in few


def test_assess_warns_when_the_first_output_is_a_reconstruction(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(ReconstructionFirst().eval(), (torch.rand(2, 1, 8, 8),), str(path),
                          dynamo=False, opset_version=17, input_names=["input"],
                          output_names=["recon", "logits"],
                          dynamic_axes={"input": {0: "b"}, "recon": {0: "b"}, "logits": {0: "b"}})
    x = np.random.default_rng(0).random((40, 1, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "img.npz", x=x, y=np.arange(40) % 3)
    result = runner.invoke(app, ["assess", str(path), "--split", "layer1", "--data",
                                 str(tmp_path / "img.npz"), "--noise", "0.1", "--no-attacks",
                                 "-o", str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "may not be the model's logits" in " ".join(result.output.split())
