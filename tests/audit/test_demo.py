"""The shipped demo: data checksum, ONNX structure, held-out accuracy, metadata, regeneration."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from privaudit.demo import (
    DEMO_DIR,
    demo_card,
    demo_data_path,
    demo_model_path,
    demo_split_indices,
)

MNIST_SHA256 = "9ef1e128a8d0be31dd6c8ebb6fa2c9d2e4f3ae0fe8f2a068d0989d0314a56889"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model() -> onnx.ModelProto:
    return onnx.load(str(demo_model_path()))


@pytest.fixture(scope="module")
def session() -> ort.InferenceSession:
    return ort.InferenceSession(str(demo_model_path()), providers=["CPUExecutionProvider"])


def _metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def test_data_checksum_matches_readme() -> None:
    digest = hashlib.sha256(demo_data_path().read_bytes()).hexdigest()
    assert digest == MNIST_SHA256
    assert MNIST_SHA256 in (DEMO_DIR / "README.md").read_text(encoding="utf-8")


def test_data_arrays() -> None:
    with np.load(demo_data_path()) as d:
        x, y = d["x"], d["y"]
    assert x.shape == (2000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (2000,) and np.bincount(y).tolist() == [200] * 10


def test_split_is_stratified_disjoint_and_seeded() -> None:
    train, test = demo_split_indices()
    y = np.load(demo_data_path())["y"]
    assert (len(train), len(test)) == (1600, 400)
    assert np.intersect1d(train, test).size == 0
    assert np.union1d(train, test).tolist() == list(range(2000))
    assert np.bincount(y[test]).tolist() == [40] * 10
    again = demo_split_indices(0)
    assert np.array_equal(again[1], test) and np.array_equal(again[0], train)
    assert not np.array_equal(demo_split_indices(1)[1], test)


def test_import_stays_light() -> None:
    code = "import sys, privaudit.demo; print('torch' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]


def test_model_interface(session: ort.InferenceSession) -> None:
    (inp,) = session.get_inputs()
    (out,) = session.get_outputs()
    assert inp.name == "input" and out.name == "logits"
    assert isinstance(inp.shape[0], str) and inp.shape[1:] == [1, 28, 28]
    logits = session.run(["logits"], {"input": np.zeros((3, 1, 28, 28), np.float32)})[0]
    assert logits.shape == (3, 10)


def test_layer3_ends_in_8x7x7_sigmoid(model: onnx.ModelProto) -> None:
    assert model.opset_import[0].version == 17
    layer3 = [n for n in model.graph.node if "/layer3/" in n.name]
    assert layer3, "no node name contains '/layer3/'"
    last = layer3[-1]
    assert last.op_type == "Sigmoid"
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {
        v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in inferred.graph.value_info
    }
    assert shapes[last.output[0]][1:] == [8, 7, 7]
    assert last.output[0] == demo_card()["split_tensor"]
    assert not any(n.op_type == "BatchNormalization" for n in model.graph.node)


def test_metadata(model: onnx.ModelProto) -> None:
    meta = _metadata(model)
    assert meta["privaudit.mean"] == "0.1307"
    assert meta["privaudit.std"] == "0.3081"
    assert meta["privaudit.demo"] == "1"
    assert meta["privaudit.split"] == "layer3"
    assert float(meta["privaudit.test_accuracy"]) == demo_card()["test_accuracy"]


def test_heldout_accuracy_matches_card(
    session: ort.InferenceSession, model: onnx.ModelProto
) -> None:
    meta = _metadata(model)
    mean, std = float(meta["privaudit.mean"]), float(meta["privaudit.std"])
    _, test = demo_split_indices(demo_card()["split_seed"])
    with np.load(demo_data_path()) as d:
        x, y = d["x"][test], d["y"][test]
    inputs = ((x[:, None].astype(np.float32) / 255.0 - mean) / std).astype(np.float32)
    logits = session.run(["logits"], {"input": inputs})[0]
    accuracy = float((logits.argmax(1) == y).mean())
    assert accuracy >= 0.95
    assert accuracy == pytest.approx(demo_card()["test_accuracy"], abs=1e-9)


def test_card_fields() -> None:
    card = demo_card()
    assert (card["train_size"], card["test_size"], card["split_seed"]) == (1600, 400, 0)
    assert (card["mean"], card["std"], card["split"]) == (0.1307, 0.3081, "layer3")
    assert card["epochs"] == 40 and card["n_params"] > 0
    assert card["data_sha256"] == MNIST_SHA256
    assert {"torch", "onnx", "onnxruntime"} <= card["versions"].keys()


def test_readme_states_the_card_accuracy() -> None:
    readme = (DEMO_DIR / "README.md").read_text(encoding="utf-8")
    assert f"{100 * demo_card()['test_accuracy']:.2f}%" in readme
    assert re.search(r"CC BY-SA 3\.0", readme)


@pytest.mark.slow
def test_make_demo_regenerates_files(
    make_demo_args: list[str], run_once: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    # NOTE: the same run as the README's `python scripts/make_demo.py` in tests/test_readme.py
    done = run_once([sys.executable, "scripts/make_demo.py", *make_demo_args], REPO, 300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = Path(make_demo_args[make_demo_args.index("--out") + 1])
    model = onnx.load(str(out / "demo_cnn.onnx"))
    onnx.checker.check_model(model)
    assert _metadata(model)["privaudit.split"] == "layer3"
    card = (out / "demo_card.json").read_text(encoding="utf-8")
    assert '"epochs": 1' in card
