"""`privaudit layers` on real torch exports: constants and shape chains hidden, depth over
computation, readable symbolic shapes, --all and --clean-only.

The kinds are checked against onnxruntime, not against the code's own rules: every tensor of
the model is read out for two inputs of the same shape and one of another shape; a tensor
whose values follow the input's values is an activation, the others are constants or shapes.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import helper, shape_inference
from torch import nn
from typer.testing import CliRunner

from privaudit.cli.app import app
from privaudit.model import ACTIVATION, list_cut_points, load_model, readable_shape
from privaudit.model.cutpoints import CONSTANT, SHAPE

runner = CliRunner()


class ReshapingNet(nn.Module):
    """Scalars (Constant nodes in a legacy export) and a reshape by the activation's own shape
    (a Shape -> Gather -> Unsqueeze -> Concat chain into Reshape), on a spatially dynamic input."""

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU())
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.layer2(self.layer1(x * 0.5 + 1.0))
        n, c = h.shape[0], h.shape[1]
        return self.head(h.reshape(n, c, -1).mean(-1))


def _export(path: Path, axes: dict[int, str] | list[int]) -> Path:
    torch.manual_seed(0)
    model = ReshapingNet().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(2, 1, 12, 12),), str(path), dynamo=False,
                          opset_version=17, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": axes, "y": [0] if isinstance(axes, list) else
                                        {0: "batch"}},
                          do_constant_folding=False)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dynamic axes named by the user: batch, height, width."""
    folder = tmp_path_factory.mktemp("layers")
    return _export(folder / "named.onnx", {0: "batch", 2: "height", 3: "width"})


@pytest.fixture(scope="module")
def unnamed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dynamic axes as a list: the exporter names them x_dynamic_axes_1, ..."""
    folder = tmp_path_factory.mktemp("layers")
    return _export(folder / "unnamed.onnx", [0, 2, 3])


def _every_tensor(model: onnx.ModelProto, x: np.ndarray) -> dict[str, np.ndarray]:
    """Run the model with every node output made a graph output."""
    inferred = shape_inference.infer_shapes(model)
    typed = {v.name: v for v in inferred.graph.value_info}
    outputs = [o.name for o in model.graph.output]
    extra = [typed[t] for n in model.graph.node for t in n.output
             if t and t not in outputs and t in typed]  # fmt: skip
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(
        helper.make_tensor_value_info(v.name, v.type.tensor_type.elem_type, None) for v in extra)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(probe.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])  # fmt: skip
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"x": x}), strict=True))


def test_kinds_agree_with_what_onnxruntime_computes(named: Path) -> None:
    model = onnx.load(named)
    g = np.random.default_rng(0)
    a = _every_tensor(model, g.standard_normal((2, 1, 12, 12)).astype(np.float32))
    b = _every_tensor(model, g.standard_normal((2, 1, 12, 12)).astype(np.float32))
    c = _every_tensor(model, g.standard_normal((3, 1, 16, 20)).astype(np.float32))
    rows = {r.tensor: r for r in list_cut_points(model) if r.tensor is not None}
    assert set(a) <= set(rows)
    kinds = {kind: {t for t in a if rows[t].kind == kind} for kind in (ACTIVATION, CONSTANT, SHAPE)}
    assert all(kinds.values()), kinds  # the export has all three
    for t in a:
        same_values = np.array_equal(a[t], b[t])
        assert same_values == (rows[t].kind != ACTIVATION), (t, rows[t].kind)
        if rows[t].kind == CONSTANT:  # nor on the input's shape
            assert np.array_equal(a[t], c[t]), t
    assert any(not np.array_equal(a[t], c[t]) for t in kinds[SHAPE])  # shapes follow the shape
    ops = {rows[t].op_type for t in kinds[CONSTANT] | kinds[SHAPE]}
    assert {"Constant", "Shape", "Gather", "Concat"} <= ops
    assert not {"Constant", "Shape"} & {rows[t].op_type for t in kinds[ACTIVATION]}


def test_depth_counts_computational_nodes_only(named: Path) -> None:
    model = onnx.load(named)
    rows = [r for r in list_cut_points(model) if r.tensor is not None]
    computing = [n for n in model.graph.node
                 if any(r.tensor in n.output and r.kind == ACTIVATION for r in rows)]  # fmt: skip
    assert len(computing) < len(model.graph.node) - 10  # constants and shapes are many here
    activations = [r for r in rows if r.kind == ACTIVATION]
    depths = [r.depth for r in activations]
    assert depths == sorted(depths) and depths[-1] == 1.0
    distinct = sorted(set(depths))
    assert distinct == pytest.approx([(i + 1) / len(computing) for i in range(len(computing))])
    layer2 = next(r for r in list_cut_points(model) if r.module == "layer2")
    assert layer2.depth == pytest.approx(6 / 9)  # conv, relu, mul, add, conv, relu (of 9)
    assert layer2.depth == pytest.approx(
        [i for i, n in enumerate(computing, 1) if layer2.tensor in n.output][0] / 9)


@pytest.mark.parametrize(("shape", "text"), [
    (("batch", 8, "unk__0", "unk__1"), "N×8×?×?"),
    (("batch", 1, "height", "width"), "N×1×height×width"),
    (("N", 8, "H", "W"), "N×8×H×W"),
    (("x_dynamic_axes_1", 1, "x_dynamic_axes_2", "x_dynamic_axes_3"), "N×1×?×?"),
    (("s0", 3, "s77"), "N×3×?"),
    ((None, 4), "N×4"),
    ((2, None, "unk__12"), "2×?×?"),
    ((), "scalar"),
    (None, "?"),
])  # fmt: skip
def test_readable_shape(shape: tuple | None, text: str) -> None:
    assert readable_shape(shape) == text


def _layers(*args: str) -> str:
    result = runner.invoke(app, ["layers", *args], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_default_view_hides_constants_and_shape_chains(named: Path) -> None:
    shown = _layers(str(named))
    everything = _layers(str(named), "--all")
    for hidden in ("/Constant_output_0", "/Shape_output_0", "/Gather_output_0", "/Concat_output_0"):
        assert hidden not in shown and hidden in everything
    assert "/Reshape_output_0" in shown and "/Mul_output_0" in shown  # computation stays
    assert "N×1×height×width" in shown  # the input's own dim names, the batch as N
    assert "N×8×?×?" in shown and "unk__" not in everything


def test_exporter_dim_names_print_as_question_marks(unnamed: Path) -> None:
    text = _layers(str(unnamed), "--all")
    assert "dynamic_axes" not in text and "unk__" not in text
    assert "N×1×?×?" in text and "N×3" in text


def test_json_follows_the_same_view(named: Path) -> None:
    default = json.loads(_layers(str(named), "-f", "json"))
    everything = json.loads(_layers(str(named), "-f", "json", "--all"))
    assert {r["kind"] for r in default} == {ACTIVATION}
    assert {r["kind"] for r in everything} == {ACTIVATION, CONSTANT, SHAPE}
    assert default == [r for r in everything if r["kind"] == ACTIVATION]
    clean = json.loads(_layers(str(named), "-f", "json", "--clean-only"))
    assert clean and all(r["clean"] for r in clean)
    assert clean == [r for r in default if r["clean"]]
    assert not any(r["clean"] for r in everything if r["kind"] != ACTIVATION)


def test_clean_only_lists_the_cuts_that_split(named: Path) -> None:
    from privaudit.model import split_model, verify_split

    model = load_model(named)
    text = _layers(str(named), "--clean-only")
    assert "graph output" not in text and "crossed" not in text and "no:" not in text
    clean = json.loads(_layers(str(named), "-f", "json", "--clean-only"))
    x = np.random.default_rng(1).random((3, 1, 12, 12)).astype(np.float32)
    for row in clean:
        assert verify_split(model, split_model(model, row["tensor"]), x) < 1e-5


def test_a_dynamo_export_prints_readably(tiny_cnn_dynamo: Path) -> None:
    text = _layers(str(tiny_cnn_dynamo), "--all")
    assert "N×4×14×14" in text and "batch" not in text
