"""A signal read channels-first whose model transposes it first is warned about.

A reviewer's (N, T, C) = (N, 32, 3) Keras-style model, audited without `--layout`, was read
as 32 channels of 3 time steps with no word (documented: sizes cannot tell a signal's axes).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from onnx_cases import export
from torch import nn
from typer.testing import CliRunner

from privaudit.cli import app

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Ntc(nn.Module):
    """Takes (N, T, C) and permutes it to (N, C, T) before a Conv1d, as Keras exports do."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv1d(3, 4, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(4 * 32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x.permute(0, 2, 1)).flatten(1))


@pytest.mark.parametrize(("layout", "warned"), [(None, True), ("channels-last", False)])
def test_a_transposed_signal_input_is_warned_about(tmp_path: Path, layout: str | None,
                                                   warned: bool) -> None:  # fmt: skip
    torch.manual_seed(0)
    export(Ntc(), tmp_path / "ntc.onnx", (torch.zeros(1, 32, 3),))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "sig.npz", x=rng.standard_normal((120, 32, 3)).astype(np.float32),
             y=rng.integers(0, 2, 120))  # fmt: skip
    out = tmp_path / "out"
    args = ["assess", str(tmp_path / "ntc.onnx"), "--split", "encoder", "--data",
            str(tmp_path / "sig.npz"), "--noise", "0.1", "--no-attacks", "-q", "-o", str(out)]
    result = CliRunner().invoke(app, args + (["--layout", layout] if layout else []))
    assert result.exit_code == 0, result.output
    warnings = json.loads((out / "report.json").read_text())["warnings"]
    said = [w for w in warnings if "pass --layout channels-last" in w]
    assert bool(said) == warned, warnings
    if warned:
        assert "(N, 32, 3)" in said[0] and "32 channels of 3 time steps" in said[0]
