"""Issue 16, items 2, 3, 6: a number is right or it is not printed.

Labels that do not fit the head, NaN or infinite outputs anywhere, and a sigma the bound
cannot resolve are errors (exit 2 on the command line); 0.1.0 reported "accuracy 0 %" or
"10 %", NaN floors, and leaked numpy RuntimeWarnings, all with exit 0.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import onnx
import pytest
from hostile_models import classifier, demo_with_weights, not_logits

from privaudit.audit import InMemory, run_assess
from privaudit.config import AttacksConfig, BoundConfig, Config, HardenConfig
from privaudit.demo import demo_data_path
from privaudit.errors import ConfigError, DataError, ModelError
from privaudit.model import split_model, verify_split

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CFG = Config(split="cut", noise=0.1, device="cpu", attacks=AttacksConfig(enabled=()),
             bound=BoundConfig(bootstrap=20))
RNG = np.random.default_rng(0)
X = (RNG.random((80, 1, 8, 8)) * 255).astype(np.uint8)
Y = np.arange(80) % 10


def _assess(model: onnx.ModelProto, y: np.ndarray | None = Y, **cfg: object) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # NOTE: none may reach the user
        return run_assess(dataclasses.replace(CFG, **cfg),  # type: ignore[arg-type]
                          memory=InMemory(model=model, x=X, y=y))


@pytest.mark.parametrize(("label", "shown"), [(10, "0..10"), (-1, "-1..9"),
                                              (2**62, "0..4611686018427387904")])
def test_labels_outside_the_heads_classes_are_an_error(label: int, shown: str) -> None:
    y = Y.copy()
    y[::8] = label
    with pytest.raises(DataError, match=f"labels {shown} do not fit the head's 10 outputs"):
        _assess(classifier(), y)


def test_harden_refuses_them_with_the_same_check(tmp_path: object) -> None:
    from privaudit.hardening import run_harden

    y = Y.copy()
    y[::8] = 10
    cfg = dataclasses.replace(CFG, harden=HardenConfig(epochs=2))
    with pytest.raises(DataError, match="labels 0..10 do not fit the head's 10 outputs"):
        run_harden(cfg, output=tmp_path / "h.onnx",  # type: ignore[operator]
                   memory=InMemory(model=classifier(), x=X, y=y))


def test_labels_0_to_9_cannot_be_a_two_output_heads_classes() -> None:
    with pytest.raises(DataError, match="do not fit the head's 2 outputs"):
        _assess(classifier(classes=2))


def test_fewer_label_classes_than_outputs_are_warned_about() -> None:
    report = _assess(classifier(), Y % 2)
    assert any("the labels hold 2 classes but the head scores 10" in w
               for w in report.warnings)  # type: ignore[attr-defined]
    assert not any("labels hold" in w for w in _assess(classifier()).warnings)  # type: ignore[attr-defined]


def test_a_head_without_logits_gets_no_accuracy() -> None:
    report = _assess(not_logits(), noise_sweep=(0.2,))
    assert report.utility.clean_accuracy is None  # type: ignore[attr-defined]
    assert report.sweep[0].accuracy is None  # type: ignore[attr-defined]
    assert any("accuracy not measured" in w for w in report.warnings)  # type: ignore[attr-defined]


@pytest.mark.parametrize("fill", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_nan_or_inf_model_outputs_are_an_error_naming_the_tensor(fill: float) -> None:
    with pytest.raises(ModelError, match="the model's output 'logits' has 80 NaN or infinite"):
        _assess(classifier(head_fill=fill), limit=None)


def test_the_split_check_does_not_take_nan_for_nan() -> None:
    model = demo_with_weights("fc.", float("nan"))
    x = np.random.default_rng(0).random((4, 1, 28, 28)).astype(np.float32)
    with pytest.raises(ModelError, match="'logits' has 40 NaN"):
        verify_split(model, split_model(model, "layer3"), x)


def test_nan_features_of_a_presplit_encoder_name_the_tensor(tmp_path: object) -> None:
    encoder = split_model(demo_with_weights("layer3.3", float("nan")), "layer3").encoder
    path = tmp_path / "enc.onnx"  # type: ignore[operator]
    onnx.save(encoder, path)
    data = np.load(demo_data_path())
    cfg = dataclasses.replace(CFG, split=None, encoder=path, limit=60)
    with pytest.raises(ModelError, match=r"the encoder's output \(the features\), tensor "
                       "'/layer3/layer3.4/Sigmoid_output_0', has"):
        run_assess(cfg, memory=InMemory(x=data["x"], y=data["y"]))


def test_head_outputs_that_overflow_under_noise_are_an_error() -> None:
    with pytest.raises(ModelError, match=r"noisy features \(sigma 1e\+12\)"):
        _assess(classifier(head_fill=1e30), noise=1e12)  # logits of 1e44 overflow float32


@pytest.mark.parametrize("sigma", [1e-200, 1e-30, 1e-17])
def test_a_sigma_too_small_for_the_features_is_refused(sigma: float) -> None:
    with pytest.raises(ConfigError, match=f"noise sigma {sigma:g} is negligible") as err:
        _assess(classifier(), noise=sigma)
    assert err.value.hint is not None and "or a sigma of at least" in err.value.hint
    with pytest.raises(ConfigError, match="is negligible"):
        _assess(classifier(), noise_sweep=(0.1, sigma))


def test_the_smallest_accepted_sigma_gives_finite_numbers() -> None:
    report = _assess(classifier(), noise=1e-14)
    bound = report.bound  # type: ignore[attr-defined]
    assert not bound.vacuous and np.isfinite(bound.leakage_nats)
    assert 0 <= bound.mse_floor < 1e-20


@pytest.mark.parametrize("key", ["noise", "noise_sweep"])
def test_a_sigma_that_overflows_is_refused(key: str) -> None:
    value: object = 1e300 if key == "noise" else (0.1, 1e300)
    with pytest.raises(ConfigError, match="is above 1e\\+12"):
        dataclasses.replace(CFG, **{key: value})


@pytest.mark.parametrize("std", [1e-45, 1e-7, 1e7])
def test_a_normalization_std_out_of_range_is_refused(std: float) -> None:
    with pytest.raises(ConfigError, match="std must be in"):
        _assess(classifier(), std=(std,))
