"""A model taking channels-last images (N, H, W, C) is refused, never audited as N, C, H, W.

Read as (N, C, H, W), a (N, 28, 28, 1) input would be 28 channels of 28 x 1 pixels: every
image metric (SSIM, ...) would be computed on the wrong pixels, and exit 0.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from privaudit.cli.app import app
from privaudit.config.choices import Domain
from privaudit.data.layout import input_layout
from privaudit.errors import ModelError

runner = CliRunner()


class ChannelsLast(nn.Module):
    """Takes (N, H, W, 1) images and permutes them to NCHW inside the graph."""

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(4 * 8 * 8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.layer1(x.permute(0, 3, 1, 2)), 1))


@pytest.mark.parametrize("shape", [("N", 28, 28, 1), ("N", 32, 32, 3), (1, 224, 224, 4)])
def test_a_channels_last_image_input_is_refused(shape: tuple[object, ...]) -> None:
    with pytest.raises(ModelError, match=r"channels-last images \(N, H, W, C\)") as info:
        input_layout(shape)
    assert "NCHW input" in (info.value.hint or "")


@pytest.mark.parametrize("shape", [("N", 1, 28, 28), ("N", 3, 32, 32), ("N", 4, 8, 3),
                                   ("N", None, None, 1), ("N", 1, 1, 1)])  # fmt: skip
def test_channels_first_and_undecidable_inputs_are_images(shape: tuple[object, ...]) -> None:
    assert input_layout(shape).domain == Domain.IMAGE


def test_assess_refuses_a_channels_last_model_with_either_data_layout(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = tmp_path / "nhwc.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(ChannelsLast().eval(), (torch.rand(2, 8, 8, 1),), str(path),
                          dynamo=False, opset_version=17, input_names=["input"],
                          output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    x = np.random.default_rng(0).random((40, 8, 8, 1)).astype(np.float32)
    for name, data in (("nhwc", x), ("nchw", x.transpose(0, 3, 1, 2))):
        np.savez(tmp_path / f"{name}.npz", x=data, y=np.arange(40) % 3)
        result = runner.invoke(app, ["assess", str(path), "--split", "layer1", "--data",
                                     str(tmp_path / f"{name}.npz"), "--noise", "0.1",
                                     "--no-attacks", "-o", str(tmp_path / name)])  # fmt: skip
        assert result.exit_code == 2, (name, result.stderr)
        assert "error: the model takes channels-last images (N, H, W, C) = (N, 8, 8, 1)" in (
            result.stderr)
        assert "Traceback" not in result.stderr
