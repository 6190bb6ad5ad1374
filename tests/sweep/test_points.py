"""What a sweep point measures: the allocation at its cut, accuracies on the same samples.

A noise-allocation model is swept with its per-channel noise at the cut it was hardened at.

A tester's sweep of such a model (stds 0.01, 0.01, 0.01, 0.5995 at layer2, RMS 0.3) read
leakage 0.1637 bits/dim and floor 0.4219, its uniform-noise answer, where `assess` gives
0.7173 and 0.135: the sweep overstated privacy about fourfold.
"""

from __future__ import annotations

from pathlib import Path

import onnx

import privaudit
from privaudit.demo import tabular_data_path, tabular_model_path
from privaudit.model import metadata


def _allocated(tmp_path: Path) -> Path:
    model = onnx.load(str(tabular_model_path()))
    onnx.helper.set_model_props(model, {
        **{p.key: p.value for p in model.metadata_props},
        metadata.NOISE_SIGMAS: "0.01,0.01,0.01,0.5995", metadata.SPLIT: "layer2",
    })  # fmt: skip
    path = tmp_path / "allocated.onnx"
    onnx.save(model, str(path))
    return path


def test_the_sweep_audits_the_allocation_as_assess_does(tmp_path: Path) -> None:
    path = _allocated(tmp_path)
    one = privaudit.assess(path, data=tabular_data_path(), noise=0.3, attacks=False,
                           device="cpu")  # fmt: skip
    assert one.model.noise_stds is not None and max(one.model.noise_stds) > 0.5
    swept = privaudit.sweep(path, data=tabular_data_path(), splits=["layer1", "layer2"],
                            noise=[0.3], attacks=False, device="cpu", sweep={"jobs": 1})
    at = {p.cut: p for p in swept.points}
    assert at["layer2"].bound is not None and one.bound is not None
    assert at["layer2"].bound.leakage_bits_per_dim == one.bound.leakage_bits_per_dim
    assert at["layer2"].bound.mse_floor == one.bound.mse_floor
    # another cut of the model is audited with one sigma for every channel
    other = privaudit.assess(path, data=tabular_data_path(), split="layer1", noise=0.3,
                             attacks=False, device="cpu")  # fmt: skip
    assert other.model.noise_stds is None
    assert at["layer1"].bound is not None and other.bound is not None
    assert at["layer1"].bound.mse_floor == other.bound.mse_floor


def test_every_points_accuracy_is_on_the_same_evaluation_samples() -> None:
    """A tester's sweep scored sigma 0 on all 178 rows and sigma 0.5 on the 36 evaluation
    rows, so layer2 read 100 % with noise against 99.4 % without, and the noise-free points
    fell off the frontier."""
    swept = privaudit.sweep(tabular_model_path(), data=tabular_data_path(), splits=["layer2"],
                            noise=[0.0, 0.5], attacks=False, device="cpu", sweep={"jobs": 1})
    clean, noisy = swept.points
    assert clean.noisy_accuracy.samples == noisy.noisy_accuracy.samples
    assert 0 < noisy.noisy_accuracy.samples < clean.clean_accuracy.samples
