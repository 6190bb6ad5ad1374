"""Shared helpers of the interpreter tests: one-node ONNX graphs and parity with onnxruntime.

Importable from the tests (pytest's `pythonpath` adds tests/support to sys.path); helpers
that are not fixtures live here, since test modules cannot import one another.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from privaudit.interpreter import to_torch

TOL = 1e-5
CONFTEST_MODELS = ["tiny_cnn_legacy", "tiny_cnn_dynamo", "tiny_resnet_legacy", "tiny_resnet_dynamo"]
def session(model: onnx.ModelProto) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def input_names(model: onnx.ModelProto) -> list[str]:
    inits = {t.name for t in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]


def run_torch(module: nn.Module, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    with torch.no_grad():
        out = module(*[torch.from_numpy(np.ascontiguousarray(x)) for x in inputs])
    outs = out if isinstance(out, tuple) else (out,)
    return [o.detach().cpu().numpy() for o in outs]


def assert_matches_ort(
    model: onnx.ModelProto, *inputs: np.ndarray, module: nn.Module | None = None
) -> float:
    """Assert torch(model) == ORT(model) within TOL on `inputs`; return the max abs diff."""
    expected = session(model).run(None, dict(zip(input_names(model), inputs, strict=True)))
    got = run_torch(module if module is not None else to_torch(model).eval(), inputs)
    assert len(got) == len(expected)
    worst = 0.0
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape, (g.shape, e.shape)
        assert g.dtype == e.dtype, (g.dtype, e.dtype)
        if e.dtype.kind in "biu":
            np.testing.assert_array_equal(g, e)
        elif e.size:
            worst = max(worst, float(np.abs(g.astype(np.float64) - e).max()))
    assert worst <= TOL, worst
    return worst


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def export(
    model: nn.Module,
    path: Path,
    args: tuple[torch.Tensor, ...],
    outputs: int = 1,
    opset: int = 17,
) -> onnx.ModelProto:
    """Legacy export in eval mode that keeps BatchNormalization nodes (no constant folding)."""
    model.eval()
    names = [f"x{i}" for i in range(len(args))]
    out_names = [f"y{i}" for i in range(outputs)]
    axes = {n: {0: "batch"} for n in names + out_names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            args,
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=names,
            output_names=out_names,
            dynamic_axes=axes,
            do_constant_folding=False,
        )
    return onnx.load(str(path))


class C:
    """Marks a node input that is an initializer rather than a graph input."""

    def __init__(self, value: Any, dtype: Any = None) -> None:
        self.value = np.asarray(value, dtype=dtype)


def graph_model(
    op: str,
    inputs: Sequence[np.ndarray | C | None],
    attrs: dict[str, Any] | None = None,
    opset: int = 17,
    outputs: Sequence[int] = (TensorProto.FLOAT,),
) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """One-node model: arrays are graph inputs, `C` values initializers, None omitted inputs."""
    names, graph_inputs, feeds, inits = [], [], [], []
    for i, value in enumerate(inputs):
        if value is None:
            names.append("")
        elif isinstance(value, C):
            names.append(f"c{i}")
            inits.append(numpy_helper.from_array(value.value, f"c{i}"))
        else:
            names.append(f"x{i}")
            kind = helper.np_dtype_to_tensor_dtype(value.dtype)
            graph_inputs.append(helper.make_tensor_value_info(f"x{i}", kind, value.shape))
            feeds.append(value)
    out_names = [f"y{i}" for i in range(len(outputs))]
    node = helper.make_node(op, names, out_names, **(attrs or {}))
    graph = helper.make_graph(
        [node],
        "g",
        graph_inputs,
        [
            helper.make_tensor_value_info(n, t, None)
            for n, t in zip(out_names, outputs, strict=True)
        ],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model, feeds


X4 = rand(2, 2, 7, 7)
X3 = rand(2, 6, 8)
I64 = np.int64
INT64_MAX = np.iinfo(np.int64).max
SHAPE = np.array([2, 3, 4], I64)
FT, LT, BT = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
def case(
    name: str,
    op: str,
    inputs: list[Any],
    opset: int = 17,
    out: tuple[int, ...] = (FT,),
    **attrs: Any,
) -> Any:
    """One single-op parity case: `inputs` as for `graph_model`, `out` the output types."""
    return pytest.param(op, inputs, attrs, opset, out, id=name)


def chain_model(nodes: list[onnx.NodeProto], opset: int = 17) -> onnx.ModelProto:
    """Model with graph input 'x' (float, any shape) and output 'y'."""
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", FT, None)],
        [helper.make_tensor_value_info("y", FT, None)],
    )
    ms = helper.make_opsetid("com.microsoft", 1)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), ms])


def single_op_test(cases: list[Any]) -> Any:
    """The parity test of an op family's `cases` (one-node graphs against onnxruntime)."""

    @pytest.mark.parametrize(("op", "inputs", "attrs", "opset", "outputs"), cases)
    def test_single_op_matches_ort(
        op: str, inputs: list[Any], attrs: dict[str, Any], opset: int, outputs: tuple[int, ...]
    ) -> None:
        model, feeds = graph_model(op, inputs, attrs, opset, outputs)
        assert_matches_ort(model, *feeds)

    return test_single_op_matches_ort


class CastIds(nn.Module):
    """Token ids arrive as floats and are cast to int64 inside the model."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(50, 8)
        self.enc = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
        self.head = nn.Linear(8, 2)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.head(self.enc(self.emb(t.long())).mean(1))
