"""A head that reads the input only for its batch size (``x.view(x.size(0), -1)``) still splits.

The legacy exporter turns ``h.view(x.size(0), -1)`` into ``Shape(input) -> Gather(0)`` feeding
the Reshape: the graph input crosses every cut, but only for the batch size, which the head
takes from the cut instead. Any other use of the input's shape after the cut is refused, and
says which axes it reads.
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
from privaudit.errors import ModelError
from privaudit.model import list_cut_points, load_model, resolve_split, split_model, verify_split

runner = CliRunner()


class ViewByInput(nn.Module):
    """``fc(h.view(x.size(0), -1))``; `spatial` also scales by ``x.size(3)`` after the cut."""

    def __init__(self, *, spatial: bool = False, sliced: bool = False) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.Sigmoid())
        self.fc = nn.Linear(4 * 4 * 4, 3)
        self.spatial, self.sliced = spatial, sliced

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.layer1(x)
        flat = h.reshape(*x.shape[:1], -1) if self.sliced else h.view(x.size(0), -1)
        out = self.fc(flat)
        return out / x.size(3) if self.spatial else out


class InputSkip(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(64, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.layer1(x) + x, 1))


def _export(model: nn.Module, path: Path, *, opset: int = 13, dims: tuple[int, ...] = (0,)) -> Path:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (torch.rand(2, 1, 8, 8),), str(path), dynamo=False,
                          opset_version=opset, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {d: f"d{d}" for d in dims},
                                        "logits": {0: "d0"}})  # fmt: skip
    return path


def _images(tmp_path: Path) -> Path:
    x = np.random.default_rng(0).random((40, 1, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "img.npz", x=x, y=np.arange(40) % 3)
    return tmp_path / "img.npz"


@pytest.mark.parametrize("opset", [13, 17])
@pytest.mark.parametrize("sliced", [False, True])
def test_a_cut_crossed_only_by_the_batch_size_is_clean_and_splits(
    tmp_path: Path, opset: int, sliced: bool
) -> None:
    torch.manual_seed(0)
    path = _export(ViewByInput(sliced=sliced), tmp_path / "m.onnx", opset=opset)
    model = load_model(path)
    rows = {r.module: r for r in list_cut_points(model)}
    assert rows["layer1"].clean and rows["layer1.0"].clean, rows["layer1"].reason
    for name in ("layer1", "layer1.0"):
        split = split_model(model, name)
        assert [v.name for v in split.head.graph.input] == [split.cut_tensor]
        x = np.random.default_rng(1).random((37, 1, 8, 8)).astype(np.float32)
        assert verify_split(model, split, x, batch_size=16) <= 1e-5


def test_assess_audits_a_legacy_view_by_input_size(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = _export(ViewByInput(), tmp_path / "m.onnx")
    result = runner.invoke(app, ["assess", str(path), "--split", "layer1", "--data",
                                 str(_images(tmp_path)), "--noise", "0.1", "--no-attacks",
                                 "-o", str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out" / "report.json").is_file()


def test_a_cut_crossed_by_a_spatial_size_is_refused_and_names_the_axis(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = _export(ViewByInput(spatial=True), tmp_path / "m.onnx", dims=(0, 2, 3))
    with pytest.raises(ModelError, match=r"crossed by graph input 'input' through its shape "
                                         r"\(Shape -> Gather axis 3\)") as info:  # fmt: skip
        resolve_split(load_model(path), "layer1")
    assert "second input" not in str(info.value)


def test_the_only_input_crossing_the_cut_is_not_called_a_second_input(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = _export(InputSkip(), tmp_path / "m.onnx")
    with pytest.raises(ModelError, match="crossed by graph input 'input'") as info:
        resolve_split(load_model(path), "layer1")
    assert "second input" not in str(info.value)
