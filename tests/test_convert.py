"""ONNX → torch interpreter: parity with onnxruntime, op coverage, gradients, write-back."""

from __future__ import annotations

import ast
import copy
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from privaudit.convert import OnnxModule, check_convertible, to_torch
from privaudit.errors import ModelError, UnsupportedOpError

TOL = 1e-5
CONFTEST_MODELS = ["tiny_cnn_legacy", "tiny_cnn_dynamo", "tiny_resnet_legacy", "tiny_resnet_dynamo"]


# --- helpers --------------------------------------------------------------------------------


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _input_names(model: onnx.ModelProto) -> list[str]:
    inits = {t.name for t in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]


def _run_torch(module: nn.Module, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    with torch.no_grad():
        out = module(*[torch.from_numpy(np.ascontiguousarray(x)) for x in inputs])
    outs = out if isinstance(out, tuple) else (out,)
    return [o.detach().cpu().numpy() for o in outs]


def assert_matches_ort(
    model: onnx.ModelProto, *inputs: np.ndarray, module: nn.Module | None = None
) -> float:
    """Assert torch(model) == ORT(model) within TOL on `inputs`; return the max abs diff."""
    expected = _session(model).run(None, dict(zip(_input_names(model), inputs, strict=True)))
    got = _run_torch(module if module is not None else to_torch(model).eval(), inputs)
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


def _rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _export(
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


# --- conftest models: both exporters, full and sliced ---------------------------------------


@pytest.mark.parametrize("fixture", CONFTEST_MODELS)
def test_conftest_models_match_ort(fixture: str, request: pytest.FixtureRequest) -> None:
    model = onnx.load(str(request.getfixturevalue(fixture)))
    assert_matches_ort(model, _rand(4, 1, 28, 28))


def _scopes(node: onnx.NodeProto) -> list[str]:
    meta = {p.key: p.value for p in node.metadata_props}
    if "pkg.torch.onnx.name_scopes" in meta:
        return list(ast.literal_eval(meta["pkg.torch.onnx.name_scopes"]))
    return node.name.split("/")


def _layer2_output(model: onnx.ModelProto) -> str:
    members = [n for n in model.graph.node if "layer2" in _scopes(n)]
    assert members, "no layer2 nodes"
    return str(members[-1].output[0])


@pytest.mark.parametrize("fixture", CONFTEST_MODELS)
def test_encoder_and_head_slices_match_ort(
    fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    path = request.getfixturevalue(fixture)
    cut = _layer2_output(onnx.load(str(path)))
    enc_path, head_path = tmp_path / "enc.onnx", tmp_path / "head.onnx"
    onnx.utils.extract_model(str(path), str(enc_path), ["input"], [cut])
    onnx.utils.extract_model(str(path), str(head_path), [cut], ["logits"])
    enc, head = onnx.load(str(enc_path)), onnx.load(str(head_path))
    x = _rand(3, 1, 28, 28)
    assert_matches_ort(enc, x)
    (z,) = _session(enc).run(None, {"input": x})
    assert_matches_ort(head, z)


# --- purpose-built torch models -------------------------------------------------------------


class ConvZoo(nn.Module):
    """Grouped/dilated conv, BN (kept), PReLU, ConvTranspose, norms, pools, pads, GELU, Gemm."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=2, dilation=2, groups=2)
        self.bn = nn.BatchNorm2d(8)
        self.prelu = nn.PReLU(8)
        self.up = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)
        self.inorm = nn.InstanceNorm2d(4, affine=True)
        self.ln = nn.LayerNorm(4)
        self.fc = nn.Linear(4, 3)
        g = torch.Generator().manual_seed(0)
        self.bn.running_mean = torch.rand(8, generator=g) - 0.5
        self.bn.running_var = torch.rand(8, generator=g) + 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prelu(self.bn(self.conv(x)))
        x = F.leaky_relu(self.inorm(self.up(x)), 0.2)
        x = F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)
        x = F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
        x = F.hardswish(F.pad(x, (1, 0, 2, 1))) + F.hardsigmoid(F.pad(x, (1, 0, 2, 1), "reflect"))
        x = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), "replicate"), 2)
        x = F.gelu(self.ln(x))  # LayerNormalization over W=4; GELU as an Erf expression
        out: torch.Tensor = self.fc(torch.flatten(F.adaptive_max_pool2d(x, 1), 1))
        return out


class Elementwise(nn.Module):
    """Arithmetic, reductions, softmax, clip and tensor manipulation, with 3 outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 5))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a = torch.sqrt(x.abs()) - torch.exp(-x) * torch.log(x.abs() + 1) / (x**2 + 1)
        b = torch.tanh(x) * torch.sigmoid(x) + torch.erf(x)
        c = (
            torch.softmax((a @ self.w).transpose(1, 2), -1)
            + torch.log_softmax(b, 1).mean(-1)[:, None]
        )
        lo, hi = torch.split(x, [2, 4], dim=1)
        d = torch.cat([lo.sum(1, keepdim=True), hi.amax(1, keepdim=True)], 1)
        d = torch.minimum(d, x[:, 1:5:2]).clamp(-0.5, 0.5) + torch.maximum(d, torch.floor(d))
        e = torch.ceil(x[:, ::2, 1:-1]).reshape(x.shape[0], -1) + x.mean(dim=(1, 2)).unsqueeze(1)
        return c, d, e


class Resizer(nn.Module):
    """Resize (nearest, bilinear, align_corners) and shape plumbing; spatial dims dynamic."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, stride=2, padding=1)
        self.fc = nn.Linear(3, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.conv(x))
        y = F.interpolate(y, scale_factor=2.0, mode="nearest")
        y = y + F.interpolate(y, size=(x.shape[2], x.shape[3]), mode="bilinear")
        y = F.interpolate(y, scale_factor=0.5, mode="bilinear", align_corners=True)
        y = y.view(y.size(0), y.size(1), -1).mean(-1)
        out: torch.Tensor = self.fc(y)
        return out


def test_conv_zoo_matches_ort(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = _export(ConvZoo(), tmp_path / "zoo.onnx", (torch.randn(2, 4, 10, 10),))
    ops = {n.op_type for n in model.graph.node}
    assert {"BatchNormalization", "ConvTranspose", "PRelu", "InstanceNormalization"} <= ops
    assert {"LayerNormalization", "Pad", "HardSwish", "HardSigmoid", "Erf"} <= ops
    assert {"MaxPool", "AveragePool", "GlobalMaxPool", "Gemm"} <= ops
    assert_matches_ort(model, _rand(3, 4, 10, 10))


def test_elementwise_matches_ort(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = _export(Elementwise(), tmp_path / "ew.onnx", (torch.randn(2, 6, 8),), outputs=3)
    ops = {n.op_type for n in model.graph.node}
    assert {"Sqrt", "Neg", "Exp", "Log", "Pow", "Div", "Erf", "Softmax", "LogSoftmax"} <= ops
    assert {"MatMul", "Split", "Slice", "Concat", "ReduceSum", "ReduceMax", "Clip"} <= ops
    assert {"Min", "Max", "Floor", "Ceil", "Reshape", "Shape", "Gather", "Unsqueeze"} <= ops
    assert_matches_ort(model, _rand(5, 6, 8))


def test_dynamic_spatial_dims(tmp_path: Path, onnx_export: Callable[..., Path]) -> None:
    torch.manual_seed(0)
    path = onnx_export(Resizer(), tmp_path / "rs.onnx", (1, 1, 16, 16), dynamic_spatial=True)
    model = onnx.load(str(path))
    assert {"Resize", "Shape", "Gather", "Concat", "Reshape"} <= {
        n.op_type for n in model.graph.node
    }
    module = to_torch(model).eval()
    for size in (16, 24):
        assert_matches_ort(model, _rand(2, 1, size, size), module=module)


@pytest.mark.slow
def test_dynamo_unoptimized_export(tmp_path: Path) -> None:
    """dynamo with optimize=False keeps BN and emits sequence/shape plumbing (opset 18+)."""

    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 6, 3, padding=1)
            self.bn = nn.BatchNorm2d(6)
            self.ln = nn.LayerNorm(8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.relu(self.bn(self.conv(x)))
            a, b = y.chunk(2, dim=1)
            z = a * torch.sigmoid(b) + y.mean(dim=(2, 3), keepdim=True)[:, :3]
            z = F.interpolate(z, scale_factor=2, mode="bilinear")
            z = F.gelu(self.ln(z[..., :8]))
            return z.reshape(z.shape[0], -1).softmax(-1)

    torch.manual_seed(0)
    path = tmp_path / "mixed.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Mixed().eval(),
            (torch.randn(2, 3, 8, 8),),
            str(path),
            dynamo=True,
            optimize=False,
            input_names=["input"],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
        )
    model = onnx.load(str(path))
    ops = {n.op_type for n in model.graph.node}
    assert {"SplitToSequence", "SequenceAt", "ReduceMean", "Gelu", "Resize"} <= ops
    assert_matches_ort(model, _rand(3, 3, 8, 8))


# --- single-node graphs: every op and attribute variant -------------------------------------


class C:
    """Marks a node input that is an initializer rather than a graph input."""

    def __init__(self, value: Any, dtype: Any = None) -> None:
        self.value = np.asarray(value, dtype=dtype)


def _graph_model(
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


X4 = _rand(2, 2, 7, 7)
X3 = _rand(2, 6, 8)
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
    """One single-op parity case: `inputs` as for `_graph_model`, `out` the output types."""
    return pytest.param(op, inputs, attrs, opset, out, id=name)


CASES = [
    # Conv / ConvTranspose / Gemm / MatMul
    case(
        "conv-same-upper", "Conv", [X4, C(_rand(3, 2, 3, 3))], auto_pad="SAME_UPPER", strides=[2, 2]
    ),
    case(
        "conv-same-lower",
        "Conv",
        [X4, C(_rand(3, 2, 4, 4)), C(_rand(3))],
        auto_pad="SAME_LOWER",
        strides=[2, 2],
    ),
    case("conv-valid", "Conv", [X4, C(_rand(3, 2, 3, 3))], auto_pad="VALID"),
    case("conv-asym-groups", "Conv", [X4, C(_rand(4, 1, 3, 3))], pads=[0, 1, 2, 1], group=2),
    case("conv1d-dilated", "Conv", [X3, C(_rand(2, 6, 3))], pads=[2, 2], dilations=[2]),
    case(
        "convT-asym",
        "ConvTranspose",
        [X4, C(_rand(2, 3, 3, 3)), C(_rand(3))],
        strides=[2, 2],
        pads=[0, 1, 1, 0],
        output_padding=[1, 1],
    ),
    case(
        "convT-output-shape",
        "ConvTranspose",
        [X4, C(_rand(2, 2, 3, 3))],
        strides=[2, 2],
        output_shape=[14, 15],
    ),
    case(
        "convT-same-upper",
        "ConvTranspose",
        [X4, C(_rand(2, 2, 4, 4))],
        strides=[2, 2],
        auto_pad="SAME_UPPER",
    ),
    case(
        "convT-groups-dil",
        "ConvTranspose",
        [X4, C(_rand(2, 2, 3, 3))],
        group=2,
        dilations=[2, 2],
        pads=[1, 1, 1, 1],
    ),
    case(
        "gemm-transA-alpha-beta",
        "Gemm",
        [_rand(5, 3), C(_rand(5, 4)), C(_rand(1, 4))],
        transA=1,
        alpha=0.5,
        beta=2.0,
    ),
    case("gemm-transB-noC", "Gemm", [_rand(3, 5), C(_rand(4, 5))], transB=1),
    case("matmul-batched", "MatMul", [X3, C(_rand(8, 3))]),
    # elementwise
    case("add-broadcast", "Add", [X4, C(_rand(1, 2, 1, 7))]),
    case("sub", "Sub", [X3, _rand(2, 6, 8, seed=1)]),
    case("mul", "Mul", [X3, C(np.float32(3.0))]),
    case("div", "Div", [X3, C(_rand(8) + 3)]),
    case("div-int", "Div", [np.array([7, -7, 9], I64), C([2, 2, -4], I64)], out=(LT,)),
    case("pow", "Pow", [np.abs(X3) + 0.1, C(np.float32(1.5))]),
    case("pow-int-exp", "Pow", [X3, C(np.int64(3))]),
    case("sqrt", "Sqrt", [np.abs(X3)]),
    case("neg", "Neg", [X3]),
    case("exp", "Exp", [X3]),
    case("log", "Log", [np.abs(X3) + 0.1]),
    case("abs", "Abs", [X3]),
    case("floor", "Floor", [X3 * 3]),
    case("ceil", "Ceil", [X3 * 3]),
    case("min-variadic", "Min", [X3, _rand(2, 6, 8, seed=2), C(_rand(8))]),
    case("max-variadic", "Max", [X3, _rand(2, 6, 8, seed=2), C(_rand(8))]),
    case("equal", "Equal", [np.array([1, 2, 3], I64), C([1, 0, 3], I64)], out=(BT,)),
    case("less", "Less", [X3, C(np.float32(0.0))], out=(BT,)),
    case("greater", "Greater", [X3, C(np.float32(0.0))], out=(BT,)),
    case("not", "Not", [X3 > 0], out=(BT,)),
    case("and", "And", [X3 > 0, X3 < 0.5], out=(BT,)),
    case("or", "Or", [X3 > 0, X3 < -0.5], out=(BT,)),
    case("where", "Where", [X3 > 0, X3, C(np.float32(-1.0))]),
    # activations
    case("relu", "Relu", [X3]),
    case("leaky-relu", "LeakyRelu", [X3], alpha=0.1),
    case("prelu", "PRelu", [X4, C(_rand(2, 1, 1))]),
    case("sigmoid", "Sigmoid", [X3]),
    case("tanh", "Tanh", [X3]),
    case("erf", "Erf", [X3]),
    case("gelu", "Gelu", [X3], opset=20),
    case("gelu-tanh", "Gelu", [X3], opset=20, approximate="tanh"),
    case("hard-sigmoid", "HardSigmoid", [X3 * 3], alpha=0.3, beta=0.4),
    case("hard-swish", "HardSwish", [X3 * 4]),
    case("softmax-13", "Softmax", [X3], opset=13, axis=1),
    case("softmax-11-coerced", "Softmax", [X3], opset=11, axis=1),
    case("log-softmax-11-default", "LogSoftmax", [X3], opset=11),
    case("log-softmax-13", "LogSoftmax", [X3], opset=13),
    # pooling and normalization
    case(
        "maxpool-same-upper",
        "MaxPool",
        [X4],
        kernel_shape=[3, 3],
        strides=[2, 2],
        auto_pad="SAME_UPPER",
    ),
    case(
        "maxpool-asym-dilated",
        "MaxPool",
        [X4],
        kernel_shape=[2, 2],
        pads=[0, 0, 1, 1],
        dilations=[2, 2],
    ),
    case("maxpool-ceil", "MaxPool", [X4], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
    case("maxpool-1d", "MaxPool", [X3], kernel_shape=[3], pads=[1, 1]),
    case("avgpool-asym-exclude", "AveragePool", [X4], kernel_shape=[3, 3], pads=[0, 1, 2, 1]),
    case(
        "avgpool-asym-include",
        "AveragePool",
        [X4],
        kernel_shape=[3, 3],
        pads=[0, 1, 2, 1],
        count_include_pad=1,
    ),
    case(
        "avgpool-ceil-exclude",
        "AveragePool",
        [X4],
        kernel_shape=[3, 3],
        strides=[2, 2],
        pads=[1, 1, 1, 1],
        ceil_mode=1,
    ),
    case(
        "avgpool-include",
        "AveragePool",
        [X4],
        kernel_shape=[3, 3],
        strides=[2, 2],
        pads=[1, 1, 1, 1],
        count_include_pad=1,
    ),
    case("avgpool-same-lower", "AveragePool", [X4], kernel_shape=[2, 2], auto_pad="SAME_LOWER"),
    case("global-avgpool", "GlobalAveragePool", [X4]),
    case("global-maxpool", "GlobalMaxPool", [X4]),
    case(
        "batchnorm",
        "BatchNormalization",
        [X4, C(_rand(2)), C(_rand(2)), C(_rand(2)), C(np.abs(_rand(2)) + 0.5)],
        opset=15,
        epsilon=1e-3,
    ),
    case("layernorm-axis1", "LayerNormalization", [X3, C(_rand(6, 8)), C(_rand(6, 8))], axis=1),
    case("layernorm-nobias-bcast", "LayerNormalization", [X3, C(_rand(1, 8))]),
    case("instancenorm", "InstanceNormalization", [X4, C(_rand(2)), C(_rand(2))], epsilon=1e-4),
    case("dropout-eval", "Dropout", [X3, C(np.float32(0.3))], opset=13),
    case("dropout-mask", "Dropout", [X3], opset=13, out=(FT, BT)),
    case("identity", "Identity", [X3]),
    # tensor manipulation
    case("flatten-0", "Flatten", [X4], axis=0),
    case("flatten-2", "Flatten", [X4], axis=2),
    case("flatten-neg", "Flatten", [X4], axis=-1),
    case("reshape-copy-infer", "Reshape", [X4, C([0, -1, 7], I64)]),
    case("reshape-allowzero", "Reshape", [X4, C([2, 14, 7], I64)], allowzero=1),
    case("transpose-default", "Transpose", [X4]),
    case("transpose-perm", "Transpose", [X4], perm=[0, 2, 3, 1]),
    case("concat", "Concat", [X3, C(_rand(2, 6, 3))], axis=-1),
    case("split-attr-11", "Split", [X3], opset=11, out=(FT, FT), axis=1, split=[1, 5]),
    case("split-input-13", "Split", [X3, C([3, 5], I64)], opset=13, out=(FT, FT), axis=-1),
    case("split-equal-13", "Split", [X3], opset=13, out=(FT, FT, FT), axis=1),
    case(
        "split-num-outputs-18",
        "Split",
        [_rand(2, 7)],
        opset=18,
        out=(FT, FT, FT),
        axis=1,
        num_outputs=3,
    ),
    case(
        "slice-steps",
        "Slice",
        [X3, C([1, -1], I64), C([5, -9], I64), C([1, -1], I64), C([2, -2], I64)],
        opset=13,
    ),
    case(
        "slice-clamped",
        "Slice",
        [X3, C([-100, 2], I64), C([INT64_MAX, 100], I64), C([-1, 1], I64)],
        opset=13,
    ),
    case(
        "slice-reverse-all",
        "Slice",
        [X3, C([-1], I64), C([-INT64_MAX], I64), C([2], I64), C([-1], I64)],
        opset=13,
    ),
    case("slice-attrs-9", "Slice", [X3], opset=9, starts=[0, 1], ends=[1, 6], axes=[0, 2]),
    case(
        "pad-constant", "Pad", [X4, C([0, 0, 1, 2, 0, 0, 2, 0], I64), C(np.float32(0.5))], opset=13
    ),
    case("pad-crop", "Pad", [X4, C([0, 0, -1, 2, 0, 0, 1, -2], I64)], opset=13),
    case("pad-reflect", "Pad", [X4, C([0, 0, 2, 1, 0, 0, 1, 2], I64)], opset=13, mode="reflect"),
    case("pad-edge", "Pad", [X4, C([0, 0, 2, 1, 0, 0, 1, 2], I64)], opset=13, mode="edge"),
    case(
        "pad-wrap-axes-19",
        "Pad",
        [X4, C([1, 2, 2, 1], I64), None, C([2, -1], I64)],
        opset=19,
        mode="wrap",
    ),
    case("pad-attrs-2", "Pad", [X4], opset=2, pads=[0, 0, 1, 1, 0, 0, 1, 1], value=2.0),
    case("clip-attrs-6", "Clip", [X3], opset=6, min=-0.5, max=0.3),
    case("clip-inputs", "Clip", [X3, C(np.float32(-0.2)), C(np.float32(0.4))], opset=13),
    case("clip-max-only", "Clip", [X3, None, C(np.float32(0.1))], opset=13),
    case("clip-none", "Clip", [X3], opset=13),
    # resize / upsample
    case(
        "resize-nearest-asym-floor",
        "Resize",
        [X4, None, C([1, 1, 2, 2], np.float32)],
        opset=13,
        coordinate_transformation_mode="asymmetric",
        nearest_mode="floor",
    ),
    case(
        "resize-nearest-default-down",
        "Resize",
        [X4, C([], np.float32), C([1, 1, 0.5, 0.6], np.float32)],
        opset=13,
    ),
    case(
        "resize-nearest-ceil-sizes",
        "Resize",
        [X4, None, None, C([2, 2, 10, 5], I64)],
        opset=13,
        nearest_mode="round_prefer_ceil",
    ),
    case(
        "resize-nearest-pytorch-hp",
        "Resize",
        [X4, None, C([1, 1, 1.5, 2.5], np.float32)],
        opset=13,
        coordinate_transformation_mode="pytorch_half_pixel",
        nearest_mode="ceil",
    ),
    case(
        "resize-linear-hp-up",
        "Resize",
        [X4, None, C([1, 1, 1.5, 2], np.float32)],
        opset=13,
        mode="linear",
    ),
    case(
        "resize-linear-hp-down",
        "Resize",
        [X4, None, C([1, 1, 0.6, 0.5], np.float32)],
        opset=13,
        mode="linear",
    ),
    case(
        "resize-linear-align",
        "Resize",
        [X4, None, None, C([2, 2, 11, 4], I64)],
        opset=13,
        mode="linear",
        coordinate_transformation_mode="align_corners",
    ),
    case(
        "resize-linear-asym",
        "Resize",
        [X4, None, C([1, 1, 2, 3], np.float32)],
        opset=13,
        mode="linear",
        coordinate_transformation_mode="asymmetric",
    ),
    case(
        "resize-linear-pytorch-hp",
        "Resize",
        [X4, None, None, C([2, 2, 1, 9], I64)],
        opset=13,
        mode="linear",
        coordinate_transformation_mode="pytorch_half_pixel",
    ),
    case(
        "resize-linear-symmetric-19",
        "Resize",
        [X4, None, C([1, 1, 1.7, 2.3], np.float32)],
        opset=19,
        mode="linear",
        coordinate_transformation_mode="half_pixel_symmetric",
    ),
    case(
        "resize-axes-18",
        "Resize",
        [X4, None, C([3], np.float32)],
        opset=18,
        axes=[-1],
        mode="linear",
    ),
    case("resize-10", "Resize", [X4, C([1, 1, 2, 3], np.float32)], opset=10),
    case("upsample-9-nearest", "Upsample", [X4, C([1, 1, 2, 3], np.float32)], opset=9),
    case(
        "upsample-9-linear", "Upsample", [X4, C([1, 1, 2, 2], np.float32)], opset=9, mode="linear"
    ),
    case("upsample-7-attr", "Upsample", [X4], opset=7, scales=[1.0, 1.0, 3.0, 2.0]),
    # reductions
    case("reducemean-attr-13", "ReduceMean", [X4], opset=13, axes=[2, -1], keepdims=0),
    case("reducemean-input-18", "ReduceMean", [X4, C([1], I64)], opset=18),
    case("reducemean-all-18", "ReduceMean", [X4], opset=18, keepdims=0),
    case("reducesum-input-13", "ReduceSum", [X4, C([0, 3], I64)], opset=13, keepdims=1),
    case("reducesum-noop-13", "ReduceSum", [X4, C([], I64)], opset=13, noop_with_empty_axes=1),
    case("reducemax-attr-13", "ReduceMax", [X4], opset=13, axes=[1]),
    case("reducemax-input-18", "ReduceMax", [X4, C([-1, 1], I64)], opset=18, keepdims=0),
    case("reducemin-attr-13", "ReduceMin", [X4], opset=13, axes=[3]),
    # constants and shape plumbing
    case(
        "constant-of-shape-int",
        "ConstantOfShape",
        [C(SHAPE)],
        out=(LT,),
        value=numpy_helper.from_array(np.array([7], I64)),
    ),
    case("constant-of-shape-default", "ConstantOfShape", [np.array([2, 3], I64)]),
    case("shape", "Shape", [X4], out=(LT,)),
    case("shape-start-end", "Shape", [X4], out=(LT,), start=1, end=-1),
    case("gather-neg", "Gather", [X4, C([[-1, 0], [1, 1]], I64)], axis=1),
    case("gather-scalar", "Gather", [np.array([4, 5, 6], I64), C(np.int64(-2))], out=(LT,)),
    case("unsqueeze-attr-11", "Unsqueeze", [X3], opset=11, axes=[0, -1]),
    case("unsqueeze-input-13", "Unsqueeze", [X3, C([1, -1], I64)], opset=13),
    case("squeeze-attr-11", "Squeeze", [_rand(2, 1, 3, 1)], opset=11, axes=[-1]),
    case("squeeze-input-13", "Squeeze", [_rand(2, 1, 3, 1), C([1, 3], I64)], opset=13),
    case("squeeze-all-13", "Squeeze", [_rand(2, 1, 3, 1)], opset=13),
    case("cast-to-int", "Cast", [X3 * 3], out=(LT,), to=LT),
    case("cast-to-float", "Cast", [np.array([1, -2, 3], I64)], to=FT),
    case("cast-to-bool", "Cast", [np.array([0.0, 0.5, -1.0], np.float32)], out=(BT,), to=BT),
    case("castlike", "CastLike", [np.array([1, -2, 3], I64), C(np.zeros(1, np.float32))]),
    case("expand", "Expand", [_rand(2, 1), C([3, 1, 4], I64)]),
    case("range-int", "Range", [C(np.int64(2)), C(np.int64(11)), C(np.int64(3))], out=(LT,)),
    case("range-float", "Range", [C(np.float32(1.0)), C(np.float32(-1.0)), C(np.float32(-0.3))]),
]


@pytest.mark.parametrize(("op", "inputs", "attrs", "opset", "outputs"), CASES)
def test_single_op_matches_ort(
    op: str, inputs: list[Any], attrs: dict[str, Any], opset: int, outputs: tuple[int, ...]
) -> None:
    model, feeds = _graph_model(op, inputs, attrs, opset, outputs)
    check_convertible(model)
    assert_matches_ort(model, *feeds)


@pytest.mark.parametrize(
    ("attr", "value", "dtype"),
    [
        ("value", numpy_helper.from_array(_rand(2, 3)), np.float32),
        ("value_float", 1.5, np.float32),
        ("value_floats", [1.0, -2.0, 0.5], np.float32),
        ("value_int", 3, np.int64),
        ("value_ints", [4, 5, 6], np.int64),
    ],
)
def test_constant_node_variants(attr: str, value: Any, dtype: Any) -> None:
    const = helper.make_node("Constant", [], ["k"], **{attr: value})
    add = helper.make_node("Add", ["x", "k"], ["y"])
    kind = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    graph = helper.make_graph(
        [const, add],
        "g",
        [helper.make_tensor_value_info("x", kind, None)],
        [helper.make_tensor_value_info("y", kind, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    module = to_torch(model)
    assert len(module.params) == 0 and len(list(module.consts.buffers())) == 1
    assert_matches_ort(model, np.arange(6, dtype=dtype).reshape(2, 3), module=module.eval())


# --- rejection of unsupported models --------------------------------------------------------


def _chain_model(nodes: list[onnx.NodeProto], opset: int = 17) -> onnx.ModelProto:
    """Model with graph input 'x' (float, any shape) and output 'y'."""
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", FT, None)],
        [helper.make_tensor_value_info("y", FT, None)],
    )
    ms = helper.make_opsetid("com.microsoft", 1)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), ms])


def test_unsupported_ops_are_named() -> None:
    model = _chain_model(
        [
            helper.make_node("Relu", ["x"], ["a"]),
            helper.make_node("FooBar", ["a"], ["b"]),
            helper.make_node("FusedConv", ["b"], ["c"], domain="com.microsoft"),
            helper.make_node("Resize", ["c", "", "s"], ["y"], mode="cubic"),
        ]
    )
    model.graph.initializer.append(numpy_helper.from_array(np.ones(4, np.float32), "s"))
    for convert in (check_convertible, to_torch, OnnxModule):
        with pytest.raises(UnsupportedOpError) as info:
            convert(model)
        assert info.value.ops == ["FooBar", "Resize (mode=cubic)", "com.microsoft.FusedConv"]
        assert "FooBar" in str(info.value) and info.value.hint


VARIANTS = {
    "MaxPool (extra outputs)": helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[2]),
    "AveragePool (dilations)": helper.make_node(
        "AveragePool", ["x"], ["y"], kernel_shape=[2], dilations=[2]
    ),
    "Cast (to=STRING)": helper.make_node("Cast", ["x"], ["y"], to=TensorProto.STRING),
    "Resize (antialias=1)": helper.make_node("Resize", ["x", "", "s"], ["y"], antialias=1),
    "Constant (attribute ['value_string'])": helper.make_node(
        "Constant", [], ["y"], value_string="a"
    ),
    "If": helper.make_node("If", ["x"], ["y"]),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_unsupported_variants_are_named(name: str) -> None:
    model = _chain_model([VARIANTS[name]], opset=19)
    model.graph.initializer.append(numpy_helper.from_array(np.ones(3, np.float32), "s"))
    with pytest.raises(UnsupportedOpError) as info:
        check_convertible(model)
    assert info.value.ops == [name]


@pytest.mark.parametrize(
    "node",
    [
        helper.make_node("BatchNormalization", list("xsbmv"), ["y"], training_mode=1),
        helper.make_node("BatchNormalization", list("xsbmv"), ["y", "rm", "rv"]),
    ],
    ids=["training_mode-attr", "running-stat-outputs"],
)
def test_training_mode_batchnorm_is_rejected(node: onnx.NodeProto) -> None:
    model = _chain_model([node], opset=15)
    for name in "sbmv":
        model.graph.initializer.append(numpy_helper.from_array(np.ones(2, np.float32), name))
    with pytest.raises(ModelError) as info:
        check_convertible(model)
    assert not isinstance(info.value, UnsupportedOpError)
    assert "training mode" in str(info.value)


def test_legacy_training_export_is_rejected(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).train()
    path = tmp_path / "train.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.randn(2, 1, 5, 5),),
            str(path),
            dynamo=False,
            opset_version=17,
            training=torch.onnx.TrainingMode.TRAINING,
            do_constant_folding=False,
        )
    with pytest.raises(ModelError, match="training mode"):
        to_torch(onnx.load(str(path)))


# --- parameters, buffers, gradients ---------------------------------------------------------


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> onnx.ModelProto:
    """ConvZoo, legacy export with BatchNormalization kept."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("zoo") / "zoo.onnx"
    return _export(ConvZoo(), path, (torch.randn(2, 4, 10, 10),))


@pytest.mark.parametrize("trainable", [True, False])
def test_float_initializers_become_parameters(zoo: onnx.ModelProto, trainable: bool) -> None:
    module = to_torch(zoo, trainable=trainable)
    bn = next(n for n in zoo.graph.node if n.op_type == "BatchNormalization")
    stats = set(bn.input[3:5])
    floats = {t.name for t in zoo.graph.initializer if t.data_type == TensorProto.FLOAT} - stats
    assert {name for name, (is_param, _) in module._keys.items() if is_param} == floats
    assert all("." not in key and ":" not in key for key in module.params)
    assert all(p.requires_grad == trainable for p in module.params.values())
    buffers = dict(module.consts.named_buffers())
    assert {module._keys[name][1] for name in stats} <= set(buffers)
    assert len(module.params) == len(floats)
    state = module.state_dict()  # round-trips through torch's own machinery
    module.load_state_dict(state)


def test_initializer_names_become_safe_unique_keys() -> None:
    names = ["layer1.0.weight", "onnx::Conv_12", "layer1_0_weight", "training", "0w"]
    nodes = [helper.make_node("Add", ["x", names[0]], ["a0"])]
    nodes += [helper.make_node("Add", [f"a{i}", n], [f"a{i + 1}"]) for i, n in enumerate(names[1:])]
    nodes.append(helper.make_node("Identity", [f"a{len(names) - 1}"], ["y"]))
    model = _chain_model(nodes)
    for i, name in enumerate(names):
        value = np.full(3, i, np.float32)
        model.graph.initializer.append(numpy_helper.from_array(value, name))
    module = to_torch(model)
    keys = list(module.params)
    assert len(set(keys)) == len(names)
    assert all(k.isidentifier() for k in keys) and "training" not in keys
    assert module.training is True  # the "training" initializer did not clobber the flag
    assert_matches_ort(model, _rand(2, 3), module=module.eval())


def test_gradients_reach_input_and_weights(tiny_cnn_legacy: Path) -> None:
    model = onnx.load(str(tiny_cnn_legacy))
    module = to_torch(model).train()
    conv_weight = next(n.input[1] for n in model.graph.node if n.op_type == "Conv")
    weight = module.params[module._keys[conv_weight][1]]
    x = torch.from_numpy(_rand(4, 1, 28, 28)).requires_grad_(True)
    out = module(x)
    assert isinstance(out, torch.Tensor)
    F.cross_entropy(out, torch.tensor([0, 1, 2, 3])).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert weight.grad is not None and weight.grad.abs().sum() > 0
    before = {k: p.detach().clone() for k, p in module.params.items()}
    torch.optim.SGD(module.parameters(), lr=0.1).step()
    assert all(not torch.equal(before[k], p) for k, p in module.params.items())


def test_batchnorm_statistics_frozen_in_train_mode(zoo: onnx.ModelProto) -> None:
    module = to_torch(zoo).train()
    buffers = {k: b.clone() for k, b in module.consts.named_buffers()}
    x = _rand(3, 4, 10, 10)
    assert_matches_ort(zoo, x, module=module)  # eval statistics even in .train()
    out = module(torch.from_numpy(x).requires_grad_(True))
    assert isinstance(out, torch.Tensor)
    out.square().sum().backward()
    for key, buf in module.consts.named_buffers():
        assert torch.equal(buf, buffers[key]) and buf.grad is None and not buf.requires_grad


def test_identity_deduplicated_initializers_are_inlined(tmp_path: Path) -> None:
    first, second = nn.Conv2d(2, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1)
    second.load_state_dict(first.state_dict())  # equal weights: the exporter dedups them
    twin = nn.Sequential(first, nn.ReLU(), second)
    model = _export(twin, tmp_path / "twin.onnx", (torch.randn(1, 2, 5, 5),))
    assert sum(n.op_type == "Identity" for n in model.graph.node) == 2
    module = to_torch(model)
    assert len(module.params) == len(model.graph.initializer) == 2
    assert_matches_ort(model, _rand(2, 2, 5, 5), module=module.eval())
    module = copy.deepcopy(module)  # harden fine-tunes a copy
    with torch.no_grad():
        for p in module.params.values():
            p.add_(0.1)
    assert_matches_ort(module.write_back(model), _rand(2, 2, 5, 5), module=module)


def test_dropout_follows_training_flag() -> None:
    model = _chain_model([helper.make_node("Dropout", ["x", "r"], ["y"])], opset=13)
    model.graph.initializer.append(numpy_helper.from_array(np.array(0.5, np.float32), "r"))
    module = to_torch(model)
    x = torch.ones(64, 64)
    assert torch.equal(module.eval()(x), x)
    torch.manual_seed(0)
    y = module.train()(x)
    assert isinstance(y, torch.Tensor)
    assert set(y.unique().tolist()) == {0.0, 2.0}
    assert 0.4 < (y == 0).float().mean().item() < 0.6


def test_forward_checks_input_count(tiny_cnn_legacy: Path) -> None:
    module = to_torch(onnx.load(str(tiny_cnn_legacy)))
    with pytest.raises(ValueError, match="input"):
        module(torch.zeros(1, 1, 28, 28), torch.zeros(1))


# --- write-back -----------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["tiny_cnn_legacy", "tiny_resnet_dynamo"])
def test_write_back_round_trip(fixture: str, request: pytest.FixtureRequest) -> None:
    model = onnx.load(str(request.getfixturevalue(fixture)))
    onnx.helper.set_model_props(model, {"privaudit.test": "kept"})
    original = model.SerializeToString()
    module = to_torch(model)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.params.values():
            p.add_(0.05 * torch.randn_like(p))
    new = module.write_back(model)
    assert model.SerializeToString() == original  # input not mutated
    assert [n.SerializeToString() for n in new.graph.node] == [
        n.SerializeToString() for n in model.graph.node
    ]
    assert [i.name for i in new.graph.input] == [i.name for i in model.graph.input]
    assert [o.name for o in new.graph.output] == [o.name for o in model.graph.output]
    assert list(new.opset_import) == list(model.opset_import)
    assert list(new.metadata_props) == list(model.metadata_props)
    assert [(t.name, t.data_type, list(t.dims)) for t in new.graph.initializer] == [
        (t.name, t.data_type, list(t.dims)) for t in model.graph.initializer
    ]
    assert new.SerializeToString() != original
    assert_matches_ort(new, _rand(4, 1, 28, 28), module=module.eval())


def test_write_back_keeps_float16_dtype() -> None:
    model = _chain_model(
        [
            helper.make_node("Cast", ["x"], ["h"], to=TensorProto.FLOAT16),
            helper.make_node("Mul", ["h", "w"], ["m"]),
            helper.make_node("Cast", ["m"], ["y"], to=TensorProto.FLOAT),
        ]
    )
    model.graph.initializer.append(numpy_helper.from_array(np.full(3, 0.5, np.float16), "w"))
    module = to_torch(model)
    assert module.params["w"].dtype == torch.float16
    with torch.no_grad():
        module.params["w"].fill_(2.0)  # a power of two keeps the float16 product exact
    new = module.write_back(model)
    assert new.graph.initializer[0].data_type == TensorProto.FLOAT16
    np.testing.assert_array_equal(numpy_helper.to_array(new.graph.initializer[0]), 2.0)
    x = np.arange(6, dtype=np.float32).reshape(2, 3) / 4  # exact in float16: ORT computes
    assert_matches_ort(new, x, module=module.eval())  # float16 Mul in float32 on CPU


def test_write_back_rejects_another_model(tiny_cnn_legacy: Path, tiny_resnet_legacy: Path) -> None:
    module = to_torch(onnx.load(str(tiny_cnn_legacy)))
    with pytest.raises(ModelError):
        module.write_back(onnx.load(str(tiny_resnet_legacy)))


# --- device ---------------------------------------------------------------------------------


def _cuda_diff(model: onnx.ModelProto, x: np.ndarray) -> float:
    module = to_torch(model).eval().to("cuda")
    (expected,) = _session(model).run(None, {_input_names(model)[0]: x})
    with torch.no_grad():
        got = module(torch.from_numpy(x).cuda())
    assert isinstance(got, torch.Tensor) and got.device.type == "cuda"
    return float(np.abs(got.cpu().numpy() - expected).max())


@pytest.mark.gpu
def test_cuda_matches_ort(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    for fixture in ("tiny_cnn_legacy", "tiny_resnet_dynamo"):
        model = onnx.load(str(request.getfixturevalue(fixture)))
        assert _cuda_diff(model, _rand(4, 1, 28, 28)) <= 1e-4
    torch.manual_seed(0)  # shape plumbing and Resize on the device
    resizer = _export(Resizer(), tmp_path / "rs.onnx", (torch.randn(1, 1, 16, 16),))
    assert _cuda_diff(resizer, _rand(2, 1, 16, 16)) <= 1e-4
