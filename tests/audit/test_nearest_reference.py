"""The `nearest` reference: a training-free attack scored in every audit, `--no-attacks` too.

A bound-only audit (`--no-attacks`, the pre-commit hook, a CI gate on the floor) had nothing
that could refute the floor (S) when the input has several modes within a class: classes of 8
tight blobs each through an identity encoder at sigma 0.3 read (S) 0.0494, unrefuted, and
`--fail-under-floor 0.01` passed, while the auxiliary input with the nearest features
reconstructs at MSE 0.0004. The `nearest` reference is that lookup; it is the `knn` attack's
rule at its defaults, so the two agree exactly. Since 2026-12-08 the floor also sees such
columns itself (their within-class negentropy) and leaves them out: its value is then 0.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from knn_searches import count_knn_searches
from onnx_cases import export
from torch import nn
from typer.testing import CliRunner

import privaudit
from privaudit.cli import app
from privaudit.results import floor_refuted_by

D, CLASSES, BLOBS, N = 16, 4, 8, 600

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _blobs() -> tuple[np.ndarray, np.ndarray]:
    """Each class: 8 tight blobs around its own centre (several modes within a class)."""
    g = np.random.default_rng(0)
    centres = g.normal(0, 3, (CLASSES, 1, D)) + g.normal(0, 3, (CLASSES, BLOBS, D))
    y, b = g.integers(0, CLASSES, N), g.integers(0, BLOBS, N)
    x = centres[y, b] + g.normal(0, 0.05, (N, D))
    return x.astype(np.float32), y.astype(np.int64)


def _identity_model(x: np.ndarray, y: np.ndarray, path: Path) -> onnx.ModelProto:
    """An identity encoder on the standardised input, a nearest-class-mean head."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    z = (x - mean) / std
    means = np.stack([z[y == c].mean(axis=0) for c in range(CLASSES)])
    encoder, head = nn.Linear(D, D), nn.Linear(D, CLASSES)
    with torch.no_grad():
        encoder.weight.copy_(torch.diag(torch.tensor(1 / std)))
        encoder.bias.copy_(torch.tensor(-mean / std))
        head.weight.copy_(torch.tensor(means))
        head.bias.copy_(torch.tensor(-0.5 * (means**2).sum(axis=1)))
    model = nn.Sequential()
    model.add_module("encoder", encoder)
    model.add_module("head", head)
    return export(model, path, (torch.zeros(1, D),))


def test_a_bound_only_audit_refutes_a_floor_the_nearest_input_beats(tmp_path: Path) -> None:
    x, y = _blobs()
    model, data = tmp_path / "blobs.onnx", tmp_path / "blobs.npz"
    _identity_model(x, y, model)
    np.savez(data, x=x, y=y)
    runner = CliRunner()
    out = tmp_path / "audit"
    result = runner.invoke(app, ["assess", str(model), "--split", "encoder", "--data", str(data),
                                 "--noise", "0.3", "--no-attacks", "-o", str(out), "-q",
                                 "-f", "json,csv"])
    assert result.exit_code == 0, result.output
    report = privaudit.load_report(out / "report.json")
    assert report.attacks == ()
    nearest = next(r for r in report.references if r.name == "nearest")
    bound = report.bound
    assert bound is not None and nearest.mse is not None and nearest.mse < 0.001
    # NOTE: every column is multimodal within its class (8 tight blobs), which the floor now
    # sees for itself: the columns leave the floor, 0, and the nearest input refutes nothing
    assert bound.mse_floor == 0
    assert any("16 of 16 input dimensions are far from Gaussian" in w for w in bound.warnings)
    assert floor_refuted_by(bound, report.attacks, report.references) is None
    # a Gaussian reading of these columns (0.0494 before) is what the nearest input refutes
    read = dataclasses.replace(bound, mse_floor=0.0494)
    refuted = floor_refuted_by(read, report.attacks, report.references)
    assert refuted is not None and refuted.name == "nearest reference"
    with (out / "report.csv").open(encoding="utf-8") as fh:
        rows = {row["attack"]: row for row in csv.DictReader(fh) if not row["feature"]}
    assert rows["nearest"]["below_floor"] == "false"  # NOTE: nothing lies below 0
    # the gate on the floor fails, whatever its threshold
    gate = runner.invoke(app, ["check", str(out / "report.json"), "--fail-under-floor", "0.01"])
    assert gate.exit_code == 1, gate.output
    assert "min_mse_floor" in gate.output


def test_nearest_equals_the_knn_attack_at_its_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """And the search is made once: knn takes the reference's (`tests/attacks/test_battery.py`
    checks that it is knn's own, to the bit)."""
    searches = count_knn_searches(monkeypatch)
    report = privaudit.assess(None, split="layer3", noise=0.1, attacks=["knn"], budget="smoke",
                              limit=300, bound={"dfil": False})  # fmt: skip
    (knn,) = report.attacks
    nearest = next(r for r in report.references if r.name == "nearest")
    assert knn.mse is not None and nearest.mse is not None
    assert (nearest.mse, nearest.ssim, nearest.recovered) == (knn.mse, knn.ssim, knn.recovered)
    assert searches == []  # knn made no search of its own
    config = tmp_path / "k3.toml"
    config.write_text("[tool.privaudit.attacks.knn]\nk = 3\n", encoding="utf-8")
    k3 = privaudit.assess(None, split="layer3", noise=0.1, attacks=["knn"], budget="smoke",
                          limit=300, bound={"dfil": False}, config=config)  # fmt: skip
    assert searches and k3.attacks[0].mse != knn.mse  # k=3 is not the reference's search


def test_a_bound_only_audit_says_its_floor_was_not_tested_by_an_attack() -> None:
    """Data that breaks the floor's assumption in ways a lookup does not show (README, What
    the floor cannot see) passed a floor gate with no word; now the audit says so."""
    from privaudit.audit import UNCHECKED_FLOOR

    bound_only = privaudit.assess(None, split="layer3", noise=0.1, attacks=False, limit=300,
                                  bound={"dfil": False})  # fmt: skip
    assert bound_only.bound is not None and (bound_only.bound.mse_floor or 0) > 0
    assert UNCHECKED_FLOOR in bound_only.warnings
    attacked = privaudit.assess(None, split="layer3", noise=0.1, attacks=["knn"], limit=300,
                                budget="smoke", bound={"dfil": False})  # fmt: skip
    assert UNCHECKED_FLOOR not in attacked.warnings
