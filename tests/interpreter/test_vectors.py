"""The interpreter on tabular and signal models: MLPs and 1-D CNNs of both torch exporters.

Issue 15: `harden` and the white-box attacks need the ops torch's exporters write for MLPs
and 1-D CNNs (Gemm or MatMul, 1-D Conv, BatchNorm1d, LayerNorm, GELU) to match onnxruntime.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx_cases import assert_matches_ort, rand

from privaudit.interpreter import to_torch

MODELS = {
    "tiny_mlp_legacy": (12,),
    "tiny_mlp_dynamo": (12,),
    "tiny_cnn1d_legacy": (2, 32),
    "tiny_cnn1d_dynamo": (2, 32),
}


@pytest.mark.parametrize("fixture", list(MODELS))
def test_vector_and_signal_models_match_ort(fixture: str, request: pytest.FixtureRequest) -> None:
    model = onnx.load(str(request.getfixturevalue(fixture)))
    assert_matches_ort(model, rand(5, *MODELS[fixture]))


def test_the_exporters_write_the_ops_of_issue_15(request: pytest.FixtureRequest) -> None:
    ops = {f: {n.op_type for n in onnx.load(str(request.getfixturevalue(f))).graph.node}
           for f in MODELS}  # fmt: skip
    every = set().union(*ops.values())
    assert {"Gemm", "MatMul", "Conv"} <= every  # Linear on 2-D and 3-D tensors; Conv1d
    assert "BatchNormalization" in ops["tiny_mlp_legacy"]  # BatchNorm1d after a Linear
    assert "LayerNormalization" in every
    assert {"Gelu", "Erf"} & every  # GELU: an op at opset 20, erf-based before


@pytest.mark.parametrize("fixture", list(MODELS))
def test_gradients_flow_to_the_input(fixture: str, request: pytest.FixtureRequest) -> None:
    module = to_torch(onnx.load(str(request.getfixturevalue(fixture))), trainable=False).eval()
    x = torch.from_numpy(rand(3, *MODELS[fixture])).requires_grad_(True)
    out = module(x)
    (out[0] if isinstance(out, tuple) else out).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_conv1d_weights_are_one_dimensional(tiny_cnn1d_legacy: Path) -> None:
    model = onnx.load(str(tiny_cnn1d_legacy))
    weights = {t.name: t for t in model.graph.initializer}
    kernels = [np.asarray(weights[n.input[1]].dims) for n in model.graph.node
               if n.op_type == "Conv"]  # fmt: skip
    assert kernels and all(len(k) == 3 for k in kernels)
