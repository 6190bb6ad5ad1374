"""Models and cuts privaudit cannot audit are refused in one line (exit 2), never half-run.

Training-mode and half-precision exports are refused when the model is loaded; a cut whose
first axis is not the batch, or that holds integers, is never a clean cut; cuts through graphs
with If/Loop bodies that read outer tensors extract whole; duplicate node names are renamed.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from onnx_cases import CastIds
from torch import nn
from typer.testing import CliRunner

from privaudit.cli.app import app
from privaudit.errors import ModelError
from privaudit.model import (
    check_model,
    list_cut_points,
    load_model,
    make_session,
    one_line,
    resolve_split,
    split_model,
    verify_split,
)

runner = CliRunner()


def _export(model: nn.Module, path: Path, x: torch.Tensor, **kwargs: object) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          **kwargs)  # type: ignore[arg-type]  # fmt: skip
    return path


def _assess(model: Path, split: str, data: Path, out: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["assess", str(model), "--split", split, "--data", str(data),
                                 "--noise", "0.1", "--no-attacks", "-o", str(out)])  # fmt: skip
    return result.exit_code, result.stderr


class BnDropNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                    nn.Dropout(0.3))  # fmt: skip
        self.fc = nn.Linear(4 * 8 * 8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.layer1(x), 1))


def _images(tmp_path: Path) -> Path:
    x = np.random.default_rng(0).random((40, 1, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "img.npz", x=x, y=np.arange(40) % 3)
    return tmp_path / "img.npz"


def test_a_training_mode_export_is_refused_by_assess_and_layers(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = BnDropNet()
    path = _export(model.train(), tmp_path / "train.onnx", torch.rand(2, 1, 8, 8),
                   training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    with pytest.raises(ModelError, match="BatchNormalization was exported in training mode"):
        load_model(path)
    code, err = _assess(path, "layer1", _images(tmp_path), tmp_path / "out")
    assert code == 2, err
    assert "error: BatchNormalization was exported in training mode" in err
    assert "model.eval()" in err and "Traceback" not in err
    layers = runner.invoke(app, ["layers", str(path)])
    assert layers.exit_code == 2 and "training mode" in layers.stderr


def test_a_training_mode_dropout_alone_is_refused_and_an_eval_export_is_not(
    tmp_path: Path,
) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Dropout(0.5), nn.Linear(5, 2))
    train = _export(model.train(), tmp_path / "drop.onnx", torch.rand(2, 6),
                    training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    with pytest.raises(ModelError, match="Dropout was exported in training mode") as e:
        load_model(train)
    assert "model.eval()" in (e.value.hint or "")
    load_model(_export(model.eval(), tmp_path / "eval.onnx", torch.rand(2, 6)))
    load_model(_export(BnDropNet().eval(), tmp_path / "bn.onnx", torch.rand(2, 1, 8, 8)))


class SeqFirst(nn.Module):
    """Features laid out (T, N, C) inside: their first axis is time, not the batch."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.proj(x.permute(2, 0, 1)))
        return self.head(h.mean(0))


@pytest.mark.parametrize("dynamic", [True, False])
def test_a_cut_whose_first_axis_is_not_the_batch_is_not_clean(
    tmp_path: Path, dynamic: bool
) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 4, 16)
    path = tmp_path / "seq.onnx"
    if dynamic:
        _export(SeqFirst().eval(), path, x)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(SeqFirst().eval(), (x,), str(path), dynamo=False,
                              opset_version=17, input_names=["input"], output_names=["logits"])
    model = load_model(path)
    rows = {r.tensor: r for r in list_cut_points(model) if r.tensor}
    tanh = next(t for t in rows if t.startswith("/Tanh"))
    assert not rows[tanh].clean
    assert "is not the batch axis" in (rows[tanh].reason or "")
    mean = next(t for t in rows if t.startswith("/ReduceMean"))
    assert rows[mean].clean, rows[mean].reason
    with pytest.raises(ModelError, match="not the batch axis"):
        resolve_split(model, tanh)
    if dynamic:
        signals = np.random.default_rng(0).normal(size=(40, 4, 16)).astype(np.float32)
        np.savez(tmp_path / "sig.npz", x=signals, y=np.arange(40) % 3)
        code, err = _assess(path, tanh, tmp_path / "sig.npz", tmp_path / "out")
        assert code == 2 and "not the batch axis" in err, err


def test_a_float16_model_is_refused_up_front(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = BnDropNet().eval().half()
    path = _export(model, tmp_path / "half.onnx", torch.rand(2, 1, 8, 8).half())
    with pytest.raises(ModelError, match="computes in float16") as e:
        load_model(path)
    assert "float32" in (e.value.hint or "")
    code, err = _assess(path, "layer1", _images(tmp_path), tmp_path / "out")
    assert code == 2 and "error:" in err and "float16" in err and "Traceback" not in err
    assert runner.invoke(app, ["layers", str(path)]).exit_code == 2
    with pytest.raises(ModelError, match="float16"):
        check_model(onnx.load(str(path)), "in-memory")


def test_an_integer_tensor_is_never_a_clean_cut(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = _export(CastIds().eval(), tmp_path / "ids.onnx", torch.rand(2, 12) * 50)
    model = load_model(path)
    rows = {r.tensor: r for r in list_cut_points(model) if r.tensor}
    cast = next(t for t in rows if t.startswith("/Cast"))
    assert not rows[cast].clean and "int64 values" in (rows[cast].reason or "")
    with pytest.raises(ModelError, match="int64 values, not float features"):
        split_model(model, cast)
    split_model(model, "enc")  # NOTE: the float features after the embedding still cut


def _tabular(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto]) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _weights(seed: int) -> list[onnx.TensorProto]:
    g = np.random.default_rng(seed)
    return [numpy_helper.from_array(g.normal(0, 0.5, (5, 4)).astype(np.float32), "W1"),
            numpy_helper.from_array(g.normal(0, 0.5, (4, 3)).astype(np.float32), "W2"),
            numpy_helper.from_array(g.normal(0, 0.5, (4, 4)).astype(np.float32), "Wl")]


def test_a_cut_after_an_if_whose_branches_read_outer_tensors_extracts_whole() -> None:
    out = helper.make_tensor_value_info
    then = helper.make_graph([helper.make_node("Relu", ["a"], ["o1"])], "then", [],
                             [out("o1", TensorProto.FLOAT, None)])
    other = helper.make_graph([helper.make_node("MatMul", ["a", "Wl"], ["o2"])], "else", [],
                              [out("o2", TensorProto.FLOAT, None)])
    model = _tabular([
        helper.make_node("MatMul", ["x", "W1"], ["a"], name="l1"),
        helper.make_node("If", ["flag"], ["feat"], name="branch", then_branch=then,
                         else_branch=other),
        helper.make_node("MatMul", ["feat", "W2"], ["logits"], name="head")],
        [*_weights(0), numpy_helper.from_array(np.array(False), "flag")])
    split = split_model(model, "feat")
    assert "a" in {o for n in split.encoder.graph.node for o in n.output}
    assert "Wl" in {t.name for t in split.encoder.graph.initializer}
    x = np.random.default_rng(1).normal(size=(8, 5)).astype(np.float32)
    assert verify_split(model, split, x) <= 1e-5


def test_a_loop_output_of_unknown_shape_is_no_clean_cut_but_the_cut_before_it_is() -> None:
    info = helper.make_tensor_value_info
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("MatMul", ["h_in", "Wl"], ["m"]),
         helper.make_node("Tanh", ["m"], ["h_out"])], "body",
        [info("i", TensorProto.INT64, []), info("cond_in", TensorProto.BOOL, []),
         info("h_in", TensorProto.FLOAT, None)],
        [info("cond_out", TensorProto.BOOL, []), info("h_out", TensorProto.FLOAT, None)])
    model = _tabular([
        helper.make_node("MatMul", ["x", "W1"], ["a"], name="l1"),
        helper.make_node("Loop", ["trip", "cond", "a"], ["feat"], name="loop", body=body),
        helper.make_node("MatMul", ["feat", "W2"], ["logits"], name="head")],
        [*_weights(2), numpy_helper.from_array(np.array(3, np.int64), "trip"),
         numpy_helper.from_array(np.array(True), "cond")])
    rows = {r.tensor: r for r in list_cut_points(model) if r.tensor}
    assert not rows["feat"].clean and "shape" in (rows["feat"].reason or "")
    with pytest.raises(ModelError, match="cannot tell its shape"):
        split_model(model, "feat")
    split = split_model(model, "a")  # NOTE: the head's Loop body reads the initializer Wl
    assert "Wl" in {t.name for t in split.head.graph.initializer}  # type: ignore[union-attr]
    x = np.random.default_rng(3).normal(size=(8, 5)).astype(np.float32)
    assert verify_split(model, split, x) <= 1e-5


def test_a_checker_message_over_several_lines_is_kept_whole_on_one() -> None:
    error = ValueError("Nodes in a graph must be topologically sorted, however input 'a' of "
                       "node: \nname: l2 OpType: If\n is not output of any previous nodes.")
    text = one_line(error)
    assert "\n" not in text and text.endswith("is not output of any previous nodes.")


def test_duplicate_node_names_are_renamed_apart_on_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 3))
    raw = onnx.load(str(_export(net.eval(), tmp_path / "mlp.onnx", torch.rand(2, 5))))
    relus = [n for n in raw.graph.node if n.op_type == "Relu"]
    for node in relus:
        node.name = "dup"
    onnx.save(raw, str(tmp_path / "dup.onnx"))
    model = load_model(tmp_path / "dup.onnx")
    names = [n.name for n in model.graph.node if n.name]
    assert len(names) == len(set(names)) and {"dup", "dup_1"} <= set(names)
    make_session(model)
    cut = relus[0].output[0]
    x = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
    assert verify_split(model, split_model(model, cut), x) <= 1e-5
    renamed = check_model(raw, "in-memory")
    assert renamed is not raw and [n.name for n in raw.graph.node].count("dup") == 2
    table = np.random.default_rng(1).normal(size=(40, 5)).astype(np.float32)
    np.savez(tmp_path / "tab.npz", x=table, y=np.arange(40) % 3)
    code, err = _assess(tmp_path / "dup.onnx", cut, tmp_path / "tab.npz", tmp_path / "out")
    assert code == 0, err


class NoisyInside(nn.Module):
    """A user's own noise in the graph: `z + 0.1 * randn_like(z)` after the encoder."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(5, 8), nn.Tanh())
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.enc(x)
        return self.head(z + 0.1 * torch.randn_like(z))


def test_a_model_that_draws_random_values_is_refused(tmp_path: Path) -> None:
    """Its noise was added twice (decoder MSE 0.0404 where the deployment reads 0.0316), its
    'clean' accuracy was a noisy one, and the split check passed only because onnxruntime
    repeats one draw per session."""
    torch.manual_seed(0)
    path = _export(NoisyInside().eval(), tmp_path / "noisy.onnx", torch.randn(4, 5))
    table = np.random.default_rng(1).normal(size=(40, 5)).astype(np.float32)
    np.savez(tmp_path / "tab.npz", x=table, y=np.arange(40) % 3)
    code, err = _assess(path, "enc", tmp_path / "tab.npz", tmp_path / "out")
    assert code == 2 and "draws random values inside its graph (RandomNormalLike" in err
    assert "--noise" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "report.json").exists()


def test_a_float64_model_is_audited_white_box_and_refused_by_harden(tmp_path: Path) -> None:
    """A float64 export crashed `assess` (exit 3) in dFIL and the white-box attacks, whose
    float32 inputs met float64 weights (a reviewer, 2026-12-08); harden now says why not."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).eval().double()
    path = _export(model, tmp_path / "f64.onnx", torch.rand(2, 6, dtype=torch.float64))
    split = load_model(path).graph.node[1].output[0]  # NOTE: after the first Gemm's ReLU
    x = np.random.default_rng(0).standard_normal((120, 6))
    np.savez(tmp_path / "tab.npz", x=x, y=np.arange(120) % 3)
    out = tmp_path / "out"
    result = runner.invoke(app, ["assess", str(path), "--split", split, "--data",
                                 str(tmp_path / "tab.npz"), "--noise", "0.1", "--attacks",
                                 "optimization", "--budget", "smoke", "-q", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["dfil"]["status"] == "ok" and report["attacks"][0]["status"] == "ok"
    hardened = runner.invoke(app, ["harden", str(path), "--split", split, "--data",
                                   str(tmp_path / "tab.npz"), "--noise", "0.1", "-o",
                                   str(tmp_path / "h.onnx")])  # fmt: skip
    assert hardened.exit_code == 2 and "float64" in hardened.stderr
    assert "Traceback" not in hardened.stderr and not (tmp_path / "h.onnx").exists()


def test_a_model_without_a_batch_axis_says_so() -> None:
    """An input of shape (8,) read as "its first axis (16) is not the batch axis (the input's
    batch is 8)", with a hint to export the encoder and head separately."""
    w = numpy_helper.from_array(np.ones((8, 16), np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["z"]),
             helper.make_node("ReduceSum", ["z"], ["y"], keepdims=0)]  # fmt: skip
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                         [8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(ModelError, match="the model input has no batch axis") as e:
        split_model(model, "z")
    assert "dynamic_axes" in (e.value.hint or "")


def test_a_cut_of_unknown_type_is_not_listed_clean() -> None:
    """After an `ai.onnx.ml` Scaler, which shape inference does not know, `layers` listed the
    cuts as clean and `assess` refused them ("cannot infer the type of the cut tensor")."""
    w = numpy_helper.from_array(np.ones((4, 5), np.float32), "w")
    nodes = [helper.make_node("Scaler", ["x"], ["xs"], domain="ai.onnx.ml", offset=[0.0] * 4,
                              scale=[2.0] * 4),
             helper.make_node("MatMul", ["xs", "w"], ["h"]), helper.make_node("Relu", ["h"], ["z"]),
             helper.make_node("ReduceSum", ["z"], ["y"], axes=[1])]  # fmt: skip
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N", 4])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, ["N", 1])], [w])  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11),
                                                    helper.make_opsetid("ai.onnx.ml", 3)])
    rows = {r.tensor: r for r in list_cut_points(model)}
    for tensor in ("xs", "h", "z"):
        assert not rows[tensor].clean and "cannot tell its type" in (rows[tensor].reason or "")
        with pytest.raises(ModelError, match="cannot tell its type"):
            split_model(model, tensor)
