"""The interpreter as a module: whole models, rejection, parameters, gradients, write-back."""

from __future__ import annotations

import ast
import copy
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from onnx import TensorProto, helper, numpy_helper
from onnx_cases import (
    CONFTEST_MODELS,
    assert_matches_ort,
    chain_model,
    export,
    input_names,
    rand,
    session,
)
from torch import nn

from privaudit.errors import ModelError, UnsupportedOpError
from privaudit.interpreter.module import OnnxModule, check_convertible, to_torch


@pytest.mark.parametrize("fixture", CONFTEST_MODELS)
def test_conftest_models_match_ort(fixture: str, request: pytest.FixtureRequest) -> None:
    model = onnx.load(str(request.getfixturevalue(fixture)))
    assert_matches_ort(model, rand(4, 1, 28, 28))


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
    x = rand(3, 1, 28, 28)
    assert_matches_ort(enc, x)
    (z,) = session(enc).run(None, {"input": x})
    assert_matches_ort(head, z)


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
    model = export(ConvZoo(), tmp_path / "zoo.onnx", (torch.randn(2, 4, 10, 10),))
    ops = {n.op_type for n in model.graph.node}
    assert {"BatchNormalization", "ConvTranspose", "PRelu", "InstanceNormalization"} <= ops
    assert {"LayerNormalization", "Pad", "HardSwish", "HardSigmoid", "Erf"} <= ops
    assert {"MaxPool", "AveragePool", "GlobalMaxPool", "Gemm"} <= ops
    assert_matches_ort(model, rand(3, 4, 10, 10))


def test_elementwise_matches_ort(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = export(Elementwise(), tmp_path / "ew.onnx", (torch.randn(2, 6, 8),), outputs=3)
    ops = {n.op_type for n in model.graph.node}
    assert {"Sqrt", "Neg", "Exp", "Log", "Pow", "Div", "Erf", "Softmax", "LogSoftmax"} <= ops
    assert {"MatMul", "Split", "Slice", "Concat", "ReduceSum", "ReduceMax", "Clip"} <= ops
    assert {"Min", "Max", "Floor", "Ceil", "Reshape", "Shape", "Gather", "Unsqueeze"} <= ops
    assert_matches_ort(model, rand(5, 6, 8))


def test_dynamic_spatial_dims(tmp_path: Path, onnx_export: Callable[..., Path]) -> None:
    torch.manual_seed(0)
    path = onnx_export(Resizer(), tmp_path / "rs.onnx", (1, 1, 16, 16), dynamic_spatial=True)
    model = onnx.load(str(path))
    assert {"Resize", "Shape", "Gather", "Concat", "Reshape"} <= {
        n.op_type for n in model.graph.node
    }
    module = to_torch(model).eval()
    for size in (16, 24):
        assert_matches_ort(model, rand(2, 1, size, size), module=module)


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
    assert_matches_ort(model, rand(3, 3, 8, 8))


@pytest.mark.parametrize(
    ("attr", "value", "dtype"),
    [
        ("value", numpy_helper.from_array(rand(2, 3)), np.float32),
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


def test_unsupported_ops_are_named() -> None:
    model = chain_model(
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
    model = chain_model([VARIANTS[name]], opset=19)
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
    model = chain_model([node], opset=15)
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


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> onnx.ModelProto:
    """ConvZoo, legacy export with BatchNormalization kept."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("zoo") / "zoo.onnx"
    return export(ConvZoo(), path, (torch.randn(2, 4, 10, 10),))


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
    # NOTE: after a Relu: Adds straight on the input would be a normalisation, not weights
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", names[0]],
                                                                      ["a0"])]
    nodes += [helper.make_node("Add", [f"a{i}", n], [f"a{i + 1}"]) for i, n in enumerate(names[1:])]
    nodes.append(helper.make_node("Identity", [f"a{len(names) - 1}"], ["y"]))
    model = chain_model(nodes)
    for i, name in enumerate(names):
        value = np.full(3, i, np.float32)
        model.graph.initializer.append(numpy_helper.from_array(value, name))
    module = to_torch(model)
    keys = list(module.params)
    assert len(set(keys)) == len(names)
    assert all(k.isidentifier() for k in keys) and "training" not in keys
    assert module.training is True  # the "training" initializer did not clobber the flag
    assert_matches_ort(model, rand(2, 3), module=module.eval())


def test_gradients_reach_input_and_weights(tiny_cnn_legacy: Path) -> None:
    model = onnx.load(str(tiny_cnn_legacy))
    module = to_torch(model).train()
    conv_weight = next(n.input[1] for n in model.graph.node if n.op_type == "Conv")
    weight = module.params[module._keys[conv_weight][1]]
    x = torch.from_numpy(rand(4, 1, 28, 28)).requires_grad_(True)
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
    x = rand(3, 4, 10, 10)
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
    model = export(twin, tmp_path / "twin.onnx", (torch.randn(1, 2, 5, 5),))
    assert sum(n.op_type == "Identity" for n in model.graph.node) == 2
    module = to_torch(model)
    assert len(module.params) == len(model.graph.initializer) == 2
    assert_matches_ort(model, rand(2, 2, 5, 5), module=module.eval())
    module = copy.deepcopy(module)  # harden fine-tunes a copy
    with torch.no_grad():
        for p in module.params.values():
            p.add_(0.1)
    assert_matches_ort(module.write_back(model), rand(2, 2, 5, 5), module=module)


def test_dropout_follows_training_flag() -> None:
    model = chain_model([helper.make_node("Dropout", ["x", "r"], ["y"])], opset=13)
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
    assert_matches_ort(new, rand(4, 1, 28, 28), module=module.eval())


def test_write_back_keeps_float16_dtype() -> None:
    model = chain_model(
        [
            # NOTE: a Relu first: a Mul straight on the input is a normalisation, not a weight
            helper.make_node("Relu", ["x"], ["r"]),
            helper.make_node("Cast", ["r"], ["h"], to=TensorProto.FLOAT16),
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


def _cuda_diff(model: onnx.ModelProto, x: np.ndarray) -> float:
    module = to_torch(model).eval().to("cuda")
    (expected,) = session(model).run(None, {input_names(model)[0]: x})
    with torch.no_grad():
        got = module(torch.from_numpy(x).cuda())
    assert isinstance(got, torch.Tensor) and got.device.type == "cuda"
    return float(np.abs(got.cpu().numpy() - expected).max())


@pytest.mark.gpu
def test_cuda_matches_ort(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    for fixture in ("tiny_cnn_legacy", "tiny_resnet_dynamo"):
        model = onnx.load(str(request.getfixturevalue(fixture)))
        assert _cuda_diff(model, rand(4, 1, 28, 28)) <= 1e-4
    torch.manual_seed(0)  # shape plumbing and Resize on the device
    resizer = export(Resizer(), tmp_path / "rs.onnx", (torch.randn(1, 1, 16, 16),))
    assert _cuda_diff(resizer, rand(2, 1, 16, 16)) <= 1e-4


class _Normed(nn.Module):
    """An MLP as a reviewer exported it: a normalisation baked in, GELU, RMSNorm, a scale."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("m", torch.linspace(-1.0, 1.0, 13))
        self.register_buffer("s", torch.linspace(0.5, 2.0, 13))
        self.fc1, self.fc2 = nn.Linear(13, 32), nn.Linear(32, 3)
        self.gain = nn.Parameter(torch.linspace(0.5, 1.5, 32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.fc1((x - self.m) / self.s)) * 0.5
        h = h / torch.sqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6) * self.gain
        return self.fc2(h)


@pytest.mark.parametrize("dynamo", [False, True])
def test_only_weights_are_trained_not_exponents_epsilons_or_a_baked_normalisation(
    tmp_path: Path, dynamo: bool
) -> None:
    """A reviewer (2026-12-08): every float initializer was trained. A dynamo export's Pow
    exponent became NaN within 5 steps (harden: "fine-tuning diverged"), an RMSNorm epsilon
    went from 1e-6 to 0.0039, a baked-in mean/std and a `* 0.5` changed. Only the weights
    (the Linear layers' and the RMSNorm gain) are parameters now, for both exporters."""
    torch.manual_seed(0)
    net, path = _Normed().eval(), tmp_path / "normed.onnx"
    x = torch.randn(4, 13)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(net, (x,), str(path), dynamo=True, input_names=["input"],
                              dynamic_shapes=({0: torch.export.Dim("batch")},))  # fmt: skip
        else:
            torch.onnx.export(net, (x,), str(path), dynamo=False, input_names=["input"],
                              dynamic_axes={"input": {0: "batch"}})  # fmt: skip
    model = onnx.load(str(path), load_external_data=True)
    module = to_torch(model)
    trained = sorted(sorted(p.shape) for p in module.params.values())
    assert trained == sorted(sorted(s) for s in ([32, 13], [32], [32], [3, 32], [3])), trained
    assert_matches_ort(model, rand(5, 13), module=module.eval())
    frozen = [b for b in module.consts.buffers() if b.is_floating_point()]
    assert any(b.numel() == 13 for b in frozen)  # NOTE: the baked-in mean and std
    assert any(b.numel() == 1 and float(b) == 2.0 for b in frozen) or not dynamo  # the exponent


def test_weights_held_by_constant_nodes_are_trained_and_written_back(
    tiny_cnn_legacy: Path
) -> None:
    """A reviewer (2026-12-08): a model whose weights are Constant nodes (no initializers)
    made harden fail with an internal error ("optimizer got an empty parameter list"), or,
    when only the encoder's were, train the head alone. Constant weights are trained and
    written back into their nodes."""
    model = onnx.load(str(tiny_cnn_legacy))
    weights = {t.name for t in model.graph.initializer}
    consts = [helper.make_node("Constant", [], [t.name], value=t) for t in model.graph.initializer]
    nodes = list(model.graph.node)
    del model.graph.initializer[:], model.graph.node[:]
    model.graph.node.extend(consts + nodes)
    module = to_torch(model)
    reference = to_torch(onnx.load(str(tiny_cnn_legacy)))
    assert len(module.params) == len(reference.params) > 0
    x = rand(3, *[d.dim_value or 1 for d in model.graph.input[0].type.tensor_type.shape.dim][1:])
    assert_matches_ort(model, x, module=module.eval())
    with torch.no_grad():
        for p in module.params.values():
            p.mul_(0.5)
    new = module.write_back(model)
    assert not new.graph.initializer
    changed = {n.output[0] for n, old in zip(new.graph.node, model.graph.node, strict=True)
               if n.op_type == "Constant" and n != old}  # fmt: skip
    assert changed == {n for n in weights if n in {r for r, _ in module._param_refs}}
    assert_matches_ort(new, x, module=module.eval())


def test_a_scalar_factor_after_a_layer_stays_and_a_heads_first_scale_trains() -> None:
    """A reviewer (2026-12-08): `fc(x) * 0.1` had its 0.1 trained (the bias rule took any
    constant after a MatMul, a Mul's too), and a head's first per-channel scale stayed
    frozen, taken for a normalisation of its input (the cut). A Mul's literal stays; a head
    (`data_input=False`) trains what acts on its input."""
    w = numpy_helper.from_array(rand(3, 3), "w")
    tenth = numpy_helper.from_array(np.array(0.1, np.float32), "tenth")
    scale = numpy_helper.from_array(rand(3) + 0.5, "scale")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]),
             helper.make_node("Mul", ["m", "tenth"], ["t"]),
             helper.make_node("Mul", ["t", "scale"], ["y"])]  # fmt: skip
    model = chain_model(nodes)
    model.graph.initializer.extend([w, tenth, scale])
    module = to_torch(model)
    assert sorted(n for n, (p, _) in module._keys.items() if p) == ["scale", "w"]
    head = chain_model([helper.make_node("Mul", ["x", "scale"], ["s"]),
                        helper.make_node("MatMul", ["s", "w"], ["y"])])  # fmt: skip
    head.graph.initializer.extend([w, scale])
    params = {n for n, (p, _) in to_torch(head, data_input=False)._keys.items() if p}
    assert params == {"scale", "w"}
    assert {n for n, (p, _) in to_torch(head)._keys.items() if p} == {"w"}  # the data's scale
