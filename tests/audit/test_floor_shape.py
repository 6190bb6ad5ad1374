"""`assess` weighs how far a table's columns are from Gaussian before it trusts the floor.

A reviewer's near-binary columns (0 or 1 plus noise of std 0.02, so that none counts as
discrete) through an identity encoder at sigma 0.2 read a floor of 0.131 where the posterior
mean reaches 0.021, and `--fail-under-floor 0.1` passed. The first version of the check ran
only when some other column was discrete (the audit passed no continuity flags otherwise):
this test goes through `assess` itself, with every column continuous.
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
D, N = 16, 400


class Identity(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(D, D)
        self.head = nn.Linear(D, 3)
        with torch.no_grad():
            self.encoder.weight.copy_(torch.eye(D))
            self.encoder.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


@pytest.mark.parametrize(("kind", "floored"), [("nearbin", False), ("gauss", True)])
def test_near_binary_columns_leave_the_floor_in_a_real_audit(tmp_path: Path, kind: str,
                                                             floored: bool) -> None:  # fmt: skip
    rng = np.random.default_rng(3)
    x = (rng.integers(0, 2, (N, D)) + 0.02 * rng.standard_normal((N, D)) if kind == "nearbin"
         else rng.standard_normal((N, D)))  # fmt: skip
    np.savez(tmp_path / "data.npz", x=x.astype(np.float32), y=rng.integers(0, 3, N))
    torch.manual_seed(0)
    export(Identity(), tmp_path / "id.onnx", (torch.zeros(1, D),))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "assess", str(tmp_path / "id.onnx"), "--split", "encoder", "--data",
        str(tmp_path / "data.npz"), "--noise", "0.2", "--no-attacks", "-q", "-o", str(out),
        "--fail-under-floor", "0.01"])  # fmt: skip
    assert (out / "report.json").exists(), result.output
    report = json.loads((out / "report.json").read_text())
    floor = report["bound"]["mse_floor"]
    far = [w for w in report["bound"]["warnings"] if "far from Gaussian" in w]
    assert (floor > 0.01) == floored and bool(far) != floored, (floor, far)  # MMSE 0.038
    assert result.exit_code == (0 if floored else 1), result.output
