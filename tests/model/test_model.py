"""Tests for privaudit.model: safe loading, input description, onnxruntime sessions."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper
import pytest
import torch
from onnx import TensorProto, helper
from torch import nn

from privaudit.errors import DataError, ModelError
from privaudit.model import (
    InputSpec,
    image_input,
    input_specs,
    load_model,
    make_session,
    output_names,
    read_metadata,
    run_batched,
    run_batched_outputs,
    sha256_file,
    split_model,
    verify_split,
)

OPSET = [helper.make_opsetid("", 17)]


def _tiny(nodes: list[onnx.NodeProto], inits: list[TensorProto] | None = None,
          extra_opsets: list[onnx.OperatorSetIdProto] | None = None,
          inputs: list[onnx.ValueInfoProto] | None = None) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "g",
        inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        initializer=inits or [],
    )
    return helper.make_model(graph, opset_imports=OPSET + (extra_opsets or []), ir_version=8)


def _with_weights() -> onnx.ModelProto:
    w = onnx.numpy_helper.from_array(np.arange(3, dtype=np.float32), "w")
    return _tiny([helper.make_node("Add", ["x", "w"], ["y"])], [w])


def _expect(path: Path, match: str) -> ModelError:
    with pytest.raises(ModelError, match=match) as info:
        load_model(path)
    assert info.value.hint
    return info.value


def test_load_model_reads_both_exporters(tiny_cnn_legacy: Path, tiny_cnn_dynamo: Path) -> None:
    for path in (tiny_cnn_legacy, tiny_cnn_dynamo):
        model = load_model(path)
        assert output_names(model) == ["logits"]
        assert image_input(model) == InputSpec("input", (None, 1, 28, 28), TensorProto.FLOAT)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    _expect(tmp_path / "nope.onnx", "not found")
    _expect(tmp_path, "directory")


@pytest.mark.parametrize("kind", ["empty", "truncated", "random", "text"])
def test_bad_files_are_model_errors(tmp_path: Path, tiny_cnn_legacy: Path, kind: str) -> None:
    data = tiny_cnn_legacy.read_bytes()
    content = {
        "empty": b"",
        "truncated": data[: len(data) // 3],
        "random": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "text": b"this is not a model\nreally not\n",
    }[kind]
    path = tmp_path / f"{kind}.onnx"
    path.write_bytes(content)
    _expect(path, "empty" if kind == "empty" else "ONNX model")


def test_checker_failure(tmp_path: Path) -> None:
    model = _tiny([helper.make_node("Relu", ["undefined"], ["y"])])
    path = tmp_path / "bad.onnx"
    onnx.save(model, path)
    _expect(path, "not a valid ONNX model")


def test_custom_domain_ops_are_named(tmp_path: Path) -> None:
    node = helper.make_node("MyOp", ["x"], ["y"], domain="com.example")
    model = _tiny([node], extra_opsets=[helper.make_opsetid("com.example", 1)])
    path = tmp_path / "custom.onnx"
    onnx.save(model, path)
    _expect(path, r"custom domains: com\.example\.MyOp")


def _save_external(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "m.onnx"
    onnx.save(_with_weights(), path, save_as_external_data=True, all_tensors_to_one_file=True,
              location="w.bin", size_threshold=0)
    return path


def _relocate(path: Path, location: str) -> None:
    model = onnx.load(path, load_external_data=False)
    for entry in model.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = location
    onnx.save(model, path)


def test_external_data_inside_the_folder_loads(tmp_path: Path) -> None:
    model = load_model(_save_external(tmp_path / "ok"))
    weights = onnx.numpy_helper.to_array(model.graph.initializer[0])
    np.testing.assert_array_equal(weights, [0, 1, 2])


@pytest.mark.parametrize("escape", ["dotdot", "absolute", "sneaky"])
def test_external_data_outside_the_folder_is_refused(tmp_path: Path, escape: str) -> None:
    path = _save_external(tmp_path / "sub")
    outside = tmp_path / "w.bin"
    outside.write_bytes((tmp_path / "sub" / "w.bin").read_bytes())
    location = {"dotdot": "../w.bin", "absolute": str(outside),
                "sneaky": "x/../../w.bin"}[escape]
    _relocate(path, location)
    _expect(path, "outside the model's folder")


def test_external_data_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    path = _save_external(tmp_path / "sub")
    outside = tmp_path / "w.bin"
    (tmp_path / "sub" / "w.bin").rename(outside)
    (tmp_path / "sub" / "w.bin").symlink_to(outside)
    _expect(path, "outside the model's folder")


def test_external_data_missing_file(tmp_path: Path) -> None:
    path = _save_external(tmp_path / "gone")
    (tmp_path / "gone" / "w.bin").unlink()
    _expect(path, "not found")


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"abc" * 1_000_000)
    assert sha256_file(path) == hashlib.sha256(b"abc" * 1_000_000).hexdigest()


def test_image_input_picks_the_only_4d_float() -> None:
    image = helper.make_tensor_value_info("img", TensorProto.FLOAT, ["N", 1, 8, 8])
    other = helper.make_tensor_value_info("ids", TensorProto.INT64, ["N"])
    model = _tiny([helper.make_node("Identity", ["img"], ["y"])], inputs=[other, image])
    assert image_input(model).name == "img"
    assert [s.name for s in input_specs(model)] == ["ids", "img"]
    twin = helper.make_tensor_value_info("img2", TensorProto.FLOAT, ["N", 1, 8, 8])
    model = _tiny([helper.make_node("Identity", ["img"], ["y"])], inputs=[image, twin])
    with pytest.raises(ModelError, match="several inputs, cannot tell which is the image"):
        image_input(model)


def test_read_metadata() -> None:
    model = _with_weights()
    onnx.helper.set_model_props(model, {"privaudit.split": "layer3", "owner": "me"})
    assert read_metadata(model) == {"privaudit.split": "layer3", "owner": "me"}


def test_run_batched_matches_one_call(tiny_cnn_legacy: Path) -> None:
    session = make_session(load_model(tiny_cnn_legacy))
    x = np.random.default_rng(0).random((7, 1, 28, 28))  # float64: cast to float32 inside
    whole = session.run(None, {"input": x.astype(np.float32)})[0]
    np.testing.assert_array_equal(run_batched(session, x, batch_size=3), whole)
    with pytest.raises(DataError, match="does not match"):
        run_batched(session, x[:, :, :20], batch_size=3)


def test_bad_session_inputs_are_model_errors() -> None:
    with pytest.raises(ModelError, match="onnxruntime cannot load"):
        make_session(b"not a model")
    two = _tiny([helper.make_node("Add", ["x", "x2"], ["y"])], inputs=[
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3]),
        helper.make_tensor_value_info("x2", TensorProto.FLOAT, ["N", 3])])
    with pytest.raises(ModelError, match="one input"):
        run_batched_outputs(make_session(two), np.zeros((2, 3)), 2)


def test_static_batch_dynamo_export_runs_per_sample(tmp_path: Path, tiny_cnn: nn.Module) -> None:
    path = tmp_path / "static.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(tiny_cnn, (torch.randn(1, 1, 28, 28),), str(path), dynamo=True,
                          input_names=["input"], output_names=["logits"], verbose=False)
    model = load_model(path)
    assert image_input(model).shape == (1, 1, 28, 28)
    x = np.random.default_rng(1).random((5, 1, 28, 28)).astype(np.float32)
    out = run_batched(make_session(model), x, batch_size=5)
    with torch.no_grad():
        expected = tiny_cnn(torch.from_numpy(x)).numpy()
    assert out.shape == (5, 10)
    np.testing.assert_allclose(out, expected, atol=1e-4)
    assert verify_split(model, split_model(model, "layer3"), x) == 0.0


def test_encode_streams_parts_into_one_array_and_features_share_it() -> None:
    from privaudit.audit import encode, extract_features, prepare
    from privaudit.config import Config

    prep = prepare(Config(limit=300))
    session = make_session(prep.split.encoder)
    aux, ev = prep.audit.aux.x, prep.audit.eval.x
    z = encode(session, prep.norm, aux, ev, batch=7)  # both parts end in a partial batch
    want = [run_batched(session, prep.norm.apply(x), 64) for x in (aux, ev)]
    assert z.dtype == np.float32 and z.shape == (300, 8, 7, 7)
    np.testing.assert_allclose(z, np.concatenate(want), rtol=1e-5, atol=1e-6)
    assert encode(session, prep.norm, batch=7).shape == (0,)
    feats = extract_features(prep.audit, prep.norm, session, 64)
    assert feats.all.shape == (300, 392) and feats.shape == (8, 7, 7)
    assert len(feats.aux) == len(aux) and len(feats.evaluation) == len(ev)
    assert np.shares_memory(feats.aux, feats.all) and np.shares_memory(feats.evaluation, feats.all)
    np.testing.assert_allclose(feats.evaluation, want[1].reshape(len(ev), -1), rtol=1e-5, atol=1e-6)
