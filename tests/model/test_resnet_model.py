"""The committed benchmark ResNet (benchmarks/models): graph, cut, metadata, measured accuracy.

Offline and fast: it loads the committed files, it never trains (scripts/make_resnet.py does).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from privaudit.demo import demo_data_path, demo_split_indices
from privaudit.interpreter import to_torch
from privaudit.model import metadata, split_model

MODELS = Path(__file__).resolve().parents[2] / "benchmarks" / "models"
MODEL_PATH = MODELS / "resnet_mnist.onnx"
CARD_PATH = MODELS / "resnet_mnist_card.json"


@pytest.fixture(scope="module")
def model() -> onnx.ModelProto:
    return onnx.load(str(MODEL_PATH))


@pytest.fixture(scope="module")
def card() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(CARD_PATH.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def test_images(card: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The test split, normalized as the model expects: (N, 1, 28, 28) float32 and labels."""
    _, test = demo_split_indices(card["split_seed"])
    with np.load(demo_data_path()) as d:
        x, y = d["x"][test], d["y"][test]
    x01 = x.astype(np.float32)[:, None] / np.float32(255.0)
    xn = ((x01 - np.float32(card["mean"])) / np.float32(card["std"])).astype(np.float32)
    return xn, y.astype(np.int64)


def test_model_checks_and_keeps_batchnorm_and_residual_adds(model: onnx.ModelProto) -> None:
    onnx.checker.check_model(model)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("BatchNormalization") >= 5  # not folded into the convolutions
    assert ops.count("Add") >= 3  # one skip connection per residual block
    for node in model.graph.node:
        if node.op_type == "BatchNormalization":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            assert attrs.get("training_mode", 0) == 0
            assert [o for o in node.output if o] == node.output[:1]  # eval mode: one output


def test_metadata_carries_split_and_normalization(
    model: onnx.ModelProto, card: dict[str, Any]
) -> None:
    meta = metadata.read_metadata(model)
    assert meta[metadata.SPLIT] == card["split"] == "block2"
    assert float(meta[metadata.MEAN]) == card["mean"]
    assert float(meta[metadata.STD]) == card["std"]
    assert float(meta[metadata.TEST_ACCURACY]) == card["test_accuracy"]
    assert metadata.DEMO not in meta


def test_cut_resolves_to_a_relu(model: onnx.ModelProto, card: dict[str, Any]) -> None:
    split = split_model(model, metadata.read_metadata(model)[metadata.SPLIT])
    assert split.cut_tensor == card["split_tensor"]
    assert list(split.feature_shape) == card["split_feature_shape"]
    producers = [n for n in model.graph.node if split.cut_tensor in n.output]
    assert [n.op_type for n in producers] == ["Relu"]
    assert split.head is not None


def test_card_accuracy_matches_onnxruntime(
    card: dict[str, Any], test_images: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = test_images
    sess = ort.InferenceSession(str(MODEL_PATH), providers=["CPUExecutionProvider"])
    logits = np.asarray(sess.run(["logits"], {"input": x})[0])
    acc = float((logits.argmax(1) == y).mean())
    assert len(y) == card["test_size"]
    assert acc == pytest.approx(card["test_accuracy"], abs=1e-6)


def test_encoder_runs_in_the_torch_interpreter(
    model: onnx.ModelProto, test_images: tuple[np.ndarray, np.ndarray]
) -> None:
    split = split_model(model, "block2")
    x = test_images[0][:32]
    sess = ort.InferenceSession(
        split.encoder.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    want = np.asarray(sess.run(None, {split.input_name: x})[0])
    module = to_torch(split.encoder, trainable=False).eval()
    with torch.no_grad():
        got = module(torch.from_numpy(x))
    assert isinstance(got, torch.Tensor) and got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-4)
    assert (want >= 0).all() and (want == 0).mean() > 0.1  # ReLU: non-negative and sparse
