"""Tests for privaudit.split: module scopes, cut points, resolution, extraction, verification."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from privaudit.errors import ModelError
from privaudit.model import (
    Split,
    list_cut_points,
    load_model,
    load_presplit,
    make_session,
    node_scopes,
    resolve_split,
    split_model,
    verify_split,
)

FIXTURES = ["tiny_cnn_legacy", "tiny_cnn_dynamo", "tiny_resnet_legacy", "tiny_resnet_dynamo"]
X = np.random.default_rng(0).random((4, 1, 28, 28)).astype(np.float32)


def _load(request: pytest.FixtureRequest, fixture: str) -> onnx.ModelProto:
    return load_model(request.getfixturevalue(fixture))


def _producer_op(model: onnx.ModelProto, tensor: str) -> str:
    return next(n.op_type for n in model.graph.node if tensor in n.output)


def _vi(name: str) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", 3])


def _graph_model(nodes: list[onnx.NodeProto], inputs: list[str], outputs: list[str],
                 inits: list[TensorProto] | None = None) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", [_vi(i) for i in inputs], [_vi(o) for o in outputs],
                              initializer=inits or [])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.mark.parametrize(("name", "scopes"), [
    ("/layer3/layer3.1/Relu_1", ["layer3", "layer3.1"]),
    ("/layer3/layer3.0/downsample/downsample.0/Conv",
     ["layer3", "layer3.0", "layer3.0.downsample", "layer3.0.downsample.0"]),
    ("/layer1/layer1.0/conv1/Conv", ["layer1", "layer1.0", "layer1.0.conv1"]),
    ("/features/features.0/features.0.0/Conv", ["features", "features.0", "features.0.0"]),
    ("/Relu", []),
    ("node_relu_3", []),
    ("", []),
])
def test_legacy_scopes(name: str, scopes: list[str]) -> None:
    assert node_scopes(helper.make_node("Relu", ["a"], ["b"], name=name)) == scopes


@pytest.mark.parametrize(("meta", "scopes"), [
    ("['', 'layer2', 'layer2.0', 'layer2.0.bn1', '_native_batch_norm_legit_no_training_2']",
     ["layer2", "layer2.0", "layer2.0.bn1"]),
    ("['', 'relu']", []),
    ("not a python literal [", []),
    ("__import__('os')", []),
])
def test_dynamo_scopes(meta: str, scopes: list[str]) -> None:
    node = helper.make_node("Relu", ["a"], ["b"], name="/ignored/Relu")
    node.metadata_props.add(key="pkg.torch.onnx.name_scopes", value=meta)
    assert node_scopes(node) == scopes


@pytest.mark.parametrize("fixture", ["tiny_cnn_legacy", "tiny_cnn_dynamo"])
def test_layer3_is_the_sigmoid_output(request: pytest.FixtureRequest, fixture: str) -> None:
    model = _load(request, fixture)
    cut = resolve_split(model, "layer3")
    assert _producer_op(model, cut) == "Sigmoid"
    row = next(c for c in list_cut_points(model) if c.module == "layer3")
    assert (row.tensor, row.op_type, row.clean) == (cut, "Sigmoid", True)
    assert row.shape is not None and row.shape[1:] == (4, 14, 14)
    assert 0 < row.depth < 1


def test_node_name_resolves_to_its_output(tiny_cnn_legacy: Path) -> None:
    model = load_model(tiny_cnn_legacy)
    assert resolve_split(model, "/layer3/layer3.1/Sigmoid") == "/layer3/layer3.1/Sigmoid_output_0"


@pytest.mark.parametrize(("fixture", "inner", "skip"), [
    ("tiny_resnet_legacy", "/layer2/layer2.0/Relu_output_0", "/layer1/layer1.0/Relu_1_output_0"),
    ("tiny_resnet_dynamo", "relu_3", "relu_2"),
])
def test_resnet_stage_resolves_but_block_inside_is_crossed(
    request: pytest.FixtureRequest, fixture: str, inner: str, skip: str
) -> None:
    model = _load(request, fixture)
    assert _producer_op(model, resolve_split(model, "layer2")) == "Relu"
    with pytest.raises(ModelError, match=f"crossed by tensor '{skip}'") as info:
        resolve_split(model, inner)
    assert "skip connection" in info.value.message and info.value.hint
    row = next(c for c in list_cut_points(model) if c.tensor == inner)
    assert not row.clean and skip in (row.reason or "")


@pytest.mark.parametrize("fixture", FIXTURES)
def test_split_composes_exactly(request: pytest.FixtureRequest, fixture: str) -> None:
    model = _load(request, fixture)
    helper.set_model_props(model, {"owner": "tests"})
    split = split_model(model, "layer3" if "cnn" in fixture else "layer2")
    assert verify_split(model, split, X) == 0.0
    for part in (split.encoder, split.head):
        assert part is not None
        onnx.checker.check_model(part)
        assert part.opset_import == model.opset_import
        assert {p.key: p.value for p in part.metadata_props} == {"owner": "tests"}
    assert split.head is not None and [i.name for i in split.head.graph.input] == [split.cut_tensor]
    assert (split.input_name, split.output_names) == ("input", ("logits",))
    assert split.feature_shape == ((4, 14, 14) if "cnn" in fixture else (8, 28, 28))


def test_unknown_name_lists_candidates(tiny_cnn_dynamo: Path) -> None:
    with pytest.raises(ModelError, match="'layer9' not found") as info:
        resolve_split(load_model(tiny_cnn_dynamo), "layer9", model_name="cnn.onnx")
    assert info.value.hint is not None
    assert "'layer3'" in info.value.hint and "privaudit layers cnn.onnx" in info.value.hint


@pytest.mark.parametrize(("name", "match"), [
    ("input", "model input: nothing to split"),
    ("logits", "model output 'logits': nothing to split"),
    ("fc", "model output 'logits': nothing to split"),
])
def test_cut_at_input_or_output_refused(tiny_cnn_legacy: Path, name: str, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        split_model(load_model(tiny_cnn_legacy), name)


def test_a_cut_the_model_also_returns_is_refused_for_what_it_is() -> None:
    """`(logits, embedding)`: the embedding is followed by the head, so 'nothing to split'
    was wrong; the cut beside it is clean."""
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Tanh", ["a"], ["emb"]),
             helper.make_node("Neg", ["emb"], ["logits"])]  # fmt: skip
    model = _graph_model(nodes, ["x"], ["logits", "emb"])
    with pytest.raises(ModelError, match="is also an output of the model") as raised:
        split_model(model, "emb")
    assert "without returning it" in (raised.value.hint or "")
    rows = {r.tensor: r for r in list_cut_points(model)}
    assert not rows["emb"].clean and "also a graph output" in (rows["emb"].reason or "")
    assert rows["a"].clean and split_model(model, "a").output_names == ("logits", "emb")


def test_unnamed_model_lists_and_splits_by_tensor(tiny_resnet_dynamo: Path) -> None:
    model = load_model(tiny_resnet_dynamo)
    for node in model.graph.node:
        node.name = ""
        del node.metadata_props[:]
    rows = list_cut_points(model)
    assert all(r.module is None for r in rows)
    assert len(rows) == len(model.graph.node)
    clean = [r.tensor for r in rows if r.clean]
    assert "relu_4" in clean and "relu_3" not in clean
    with pytest.raises(ModelError, match="not found"):
        resolve_split(model, "layer2")
    assert verify_split(model, split_model(model, "relu_4"), X) < 1e-5


def test_list_cut_points_is_fast(tiny_resnet_legacy: Path) -> None:
    model = load_model(tiny_resnet_legacy)
    best = min(_timed(list_cut_points, model) for _ in range(3))
    assert best < 0.1


def _timed(fn: Callable[[onnx.ModelProto], object], model: onnx.ModelProto) -> float:
    start = time.perf_counter()
    fn(model)
    return time.perf_counter() - start


def test_module_with_two_leaving_tensors() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="/blk/Relu"),
             helper.make_node("Sigmoid", ["x"], ["b"], name="/blk/Sigmoid"),
             helper.make_node("Add", ["a", "b"], ["y"], name="/Add")]
    model = _graph_model(nodes, ["x"], ["y"])
    with pytest.raises(ModelError, match="2 tensors leaving it: 'a', 'b'"):
        resolve_split(model, "blk")
    row = next(r for r in list_cut_points(model) if r.module == "blk")
    assert row.tensor is None and not row.clean


def test_second_input_used_after_the_cut_is_refused() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Add", ["a", "z"], ["y"])]
    with pytest.raises(ModelError, match="crossed by graph input 'z'"):
        split_model(_graph_model(nodes, ["x", "z"], ["y"]), "a")


def test_encoder_needing_two_inputs_is_refused() -> None:
    nodes = [helper.make_node("Add", ["x", "z"], ["a"]), helper.make_node("Relu", ["a"], ["y"])]
    with pytest.raises(ModelError, match="would need 2 inputs"):
        split_model(_graph_model(nodes, ["x", "z"], ["y"]), "a")
    # and `privaudit layers` (and `--splits auto`) says so, instead of listing it as clean
    (row,) = [r for r in list_cut_points(_graph_model(nodes, ["x", "z"], ["y"])) if r.tensor == "a"]
    assert not row.clean and row.reason is not None and "would need 2 inputs" in row.reason


def test_verify_detects_a_wrong_head(tiny_cnn_legacy: Path) -> None:
    model = load_model(tiny_cnn_legacy)
    split = split_model(model, "layer3")
    assert split.head is not None
    weight = next(t for t in split.head.graph.initializer if t.name == "fc.bias")
    weight.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(weight) + 1, "fc.bias"))
    with pytest.raises(ModelError, match="differs from model"):
        verify_split(model, split, X)
    headless = Split(split.encoder, None, split.cut_tensor, "input", (), split.feature_shape)
    with pytest.raises(ModelError, match="without a head"):
        verify_split(model, headless, X)


def test_load_presplit(tmp_path: Path, tiny_cnn_legacy: Path) -> None:
    model = load_model(tiny_cnn_legacy)
    at3, at2 = split_model(model, "layer3"), split_model(model, "layer2")
    paths = {}
    for name, part in [("enc3", at3.encoder), ("head3", at3.head), ("head2", at2.head)]:
        assert part is not None
        paths[name] = tmp_path / f"{name}.onnx"
        onnx.save(part, paths[name])
    loaded = load_presplit(paths["enc3"], paths["head3"])
    assert (loaded.cut_tensor, loaded.input_name) == (at3.cut_tensor, "input")
    assert loaded.feature_shape == (4, 14, 14) and loaded.output_names == ("logits",)
    assert verify_split(model, loaded, X) == 0.0
    alone = load_presplit(paths["enc3"])
    assert alone.head is None and alone.output_names == ()
    with pytest.raises(ModelError, match="does not match the encoder output"):
        load_presplit(paths["enc3"], paths["head2"])
    with pytest.raises(ModelError, match="not found"):
        load_presplit(tiny_cnn_legacy.parent / "missing.onnx")


# --- property: every tensor of a random DAG either splits exactly or is refused cleanly ---

@st.composite
def _dags(draw: st.DrawFn) -> onnx.ModelProto:
    inputs = ["x", "x2"][: draw(st.integers(1, 2))]
    available = [*inputs] + (["c"] if draw(st.booleans()) else [])
    nodes, named = [], draw(st.booleans())
    for i in range(draw(st.integers(1, 7))):
        op = draw(st.sampled_from(["Add", "Relu", "Mul"]))
        recent = available + [available[-1]] * 4  # mostly chains, some skips and branches
        args = [draw(st.sampled_from(recent)) for _ in range(1 if op == "Relu" else 2)]
        name = f"/blk{i // 2}/{op}_{i}" if named else ""
        nodes.append(helper.make_node(op, args, [f"t{i}"], name=name))
        available.append(f"t{i}")
    used = {a for n in nodes for a in n.input}
    outputs = [t for t in available if t.startswith("t") and t not in used]
    if draw(st.integers(0, 3)) == 0:
        outputs.append(draw(st.sampled_from([t for t in available if t.startswith("t")])))
    inits = [onnx.numpy_helper.from_array(np.array([0.5, -1.0, 2.0], np.float32), "c")]
    return _graph_model(nodes, inputs, list(dict.fromkeys(outputs)), inits)


def _naively_clean(model: onnx.ModelProto, cut: str) -> bool:
    """Brute force: walking back from the outputs, stopping at `cut`, never reaches an input."""
    producer = {t: n for n in model.graph.node for t in n.output}
    inputs = {i.name for i in model.graph.input}
    outputs = [o.name for o in model.graph.output]
    seen, stack, reached = set(), list(outputs), False
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        if t == cut:
            reached = True
        elif t in inputs:
            return False
        elif t in producer:
            stack.extend(producer[t].input)
    return reached and cut not in outputs


def _run_all(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = make_session(model)
    return session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(_dags())
def test_random_dags_split_exactly_or_refuse(model: onnx.ModelProto) -> None:
    rng = np.random.default_rng(0)
    feeds = {n: rng.standard_normal((3, 3)).astype(np.float32) for n in ("x", "x2")}
    expected = _run_all(model, feeds)
    rows = {r.tensor: r for r in list_cut_points(model) if r.tensor is not None}
    names = [*(t for n in model.graph.node for t in n.output), "x", "blk0", "blk1", "nope"]
    for name in names:
        try:
            split = split_model(model, name)
        except ModelError as e:
            assert name not in rows or not rows[name].clean, e.message  # `layers` agrees
            continue
        z = _run_all(split.encoder, feeds)[0]
        assert split.head is not None
        got = _run_all(split.head, {split.cut_tensor: z})
        for a, b in zip(expected, got, strict=True):
            np.testing.assert_array_equal(a, b)
        if name in rows:
            assert rows[name].clean and _naively_clean(model, name)
    for tensor, row in rows.items():
        if "constant" not in str(row.reason):
            assert row.clean == _naively_clean(model, tensor), (tensor, row)


# --- property: odd names (unicode, markup, separators, empty, look-alikes) never crash ---------

_ODD = st.sampled_from(list("ab/._ |[]<>`*#\\'\"\té中🙂") + ["/", "layer3", "\u200b"])
_NAME = st.lists(_ODD, min_size=1, max_size=6).map("".join)


@st.composite
def _oddly_named(draw: st.DrawFn) -> onnx.ModelProto:
    n = draw(st.integers(2, 7))
    names = draw(st.lists(_NAME, min_size=n + 1, max_size=n + 1, unique=True))
    image, tensors = names[0], names[1:]
    available, nodes = [image], []
    for tensor in tensors:  # a chain, with some skip connections (Add of an earlier tensor)
        op = draw(st.sampled_from(["Relu", "Add", "Sigmoid"]))
        args = [available[-1]] + ([draw(st.sampled_from(available))] if op == "Add" else [])
        name = draw(st.one_of(st.just(""), _NAME, st.sampled_from(names),
                              _NAME.map(lambda s: f"/{s}/{s}.0/Op")))
        node = helper.make_node(op, args, [tensor], name=name)
        if draw(st.booleans()):
            scopes = draw(st.one_of(st.text(max_size=12), st.lists(_NAME, max_size=3).map(repr)))
            node.metadata_props.add(key="pkg.torch.onnx.name_scopes", value=scopes)
        nodes.append(node)
        available.append(tensor)
    used = {a for node in nodes for a in node.input}
    outputs = [t for t in tensors if t not in used] or [tensors[-1]]
    return _graph_model(nodes, [image], outputs)


def _look_alikes(model: onnx.ModelProto) -> list[str]:
    names = [t for n in model.graph.node for t in n.output] + [n.name for n in model.graph.node]
    names += [i.name for i in model.graph.input]
    odd = [f"{s} " for s in names] + [s.upper() for s in names] + [s[:-1] for s in names]
    return [*names, *odd, "", " ", "layer3", "[/]", "<script>"]


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(_oddly_named())
def test_odd_names_split_exactly_or_refuse_cleanly(model: onnx.ModelProto) -> None:
    feeds = {model.graph.input[0].name: np.random.default_rng(0).standard_normal((2, 3))
             .astype(np.float32)}
    try:
        expected: list[np.ndarray] | None = _run_all(model, feeds)
    except ModelError as e:  # e.g. duplicate node names: onnxruntime refuses, cleanly
        assert e.hint
        expected = None
    clean = {r.tensor for r in list_cut_points(model) if r.clean and r.tensor is not None}
    checked: set[str] = set()
    for name in _look_alikes(model):
        try:
            split = split_model(model, name)
        except ModelError as e:
            assert e.message and e.hint, name
            if "is ambiguous" in e.message:  # NOTE: a tensor that a node or module names too
                assert f"--split tensor:{name}" in e.hint or name not in clean, name
                if name in clean:
                    assert split_model(model, f"tensor:{name}").cut_tensor == name
                continue
            assert name not in clean, name
            continue
        if expected is None or split.cut_tensor in checked:
            continue
        checked.add(split.cut_tensor)
        assert split.head is not None
        z = _run_all(split.encoder, feeds)[0]
        got = _run_all(split.head, {split.cut_tensor: z})
        for a, b in zip(expected, got, strict=True):
            np.testing.assert_array_equal(a, b)


# --- issue 16, item 9: models of opset 7 to 21 split ------------------------------------------


@pytest.mark.parametrize("opset", range(7, 22))
def test_every_opset_from_7_to_21_splits(opset: int, tmp_path: Path) -> None:
    """Opsets 7 and 8 (IR 3) list every initializer among the graph inputs."""
    from hostile_models import IR_FOR_OPSET, classifier

    from privaudit.interpreter import to_torch

    path = tmp_path / "m.onnx"
    onnx.save(classifier(opset=opset), path)
    model = load_model(path)
    assert model.ir_version == IR_FOR_OPSET[opset]
    split = split_model(model, "cut")
    x = np.random.default_rng(0).random((4, 1, 8, 8)).astype(np.float32)
    assert verify_split(model, split, x) == 0.0
    for part in (split.encoder, split.head):
        assert part is not None and part.ir_version == model.ir_version
        onnx.checker.check_model(part)
    assert [i.name for i in make_session(split.encoder).get_inputs()] == ["x"]
    to_torch(split.encoder)  # white-box attacks and harden can use the encoder


@pytest.mark.parametrize("opset", [7, 21])
def test_a_torch_export_of_opset_7_splits(
    opset: int, tiny_cnn: torch.nn.Module, tmp_path: Path
) -> None:
    import warnings

    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(tiny_cnn.eval(), (torch.from_numpy(X[:1]),), str(path), dynamo=False,
                          opset_version=opset, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    model = load_model(path)
    assert verify_split(model, split_model(model, "layer3"), X, atol=1e-4) < 1e-4


def test_a_presplit_audit_suggests_a_command_with_its_head(tmp_path: Path,
                                                           tiny_cnn_legacy: Path) -> None:
    """The verdict's next command dropped --head: the re-run had no accuracy, no label."""
    import numpy as np

    import privaudit

    split = split_model(load_model(tiny_cnn_legacy), "layer3")
    assert split.head is not None
    enc, head = tmp_path / "enc.onnx", tmp_path / "head dir" / "head.onnx"
    head.parent.mkdir()
    onnx.save(split.encoder, enc)
    onnx.save(split.head, head)
    x = np.random.default_rng(0).random((60, 1, 28, 28)).astype(np.float32)
    report = privaudit.assess(encoder=enc, head=head, data=(x, np.arange(60) % 10), noise=0.1,
                              attacks=False, bound={"dfil": False, "bootstrap": 0})  # fmt: skip
    assert report.verdict is not None
    assert f"--encoder {enc} --head '{head}' --data" in report.verdict.command


def test_a_name_meaning_two_tensors_is_refused_and_a_kind_says_which() -> None:
    """A reviewer's model (2026-12-08): nodes `/layer1/MatMul`, `/layer1/Relu` (module layer1,
    leaving tensor `a1`) and a deeper tensor literally named `layer1`. `--split layer1`
    silently took the tensor, a far more private cut than the module the user meant."""
    nodes = [helper.make_node("Relu", ["x"], ["a1"], name="/layer1/Relu"),
             helper.make_node("Sigmoid", ["a1"], ["layer1"], name="/layer2/Sigmoid"),
             helper.make_node("Relu", ["layer1"], ["y"], name="/head/Relu")]  # fmt: skip
    model = _graph_model(nodes, ["x"], ["y"])
    with pytest.raises(ModelError, match="is ambiguous: it names tensor 'layer1', module "
                       "'layer1' \\(tensor 'a1'\\)") as e:  # fmt: skip
        split_model(model, "layer1")
    assert "--split tensor:layer1 or --split module:layer1" in (e.value.hint or "")
    assert split_model(model, "module:layer1").cut_tensor == "a1"
    assert split_model(model, "tensor:layer1").cut_tensor == "layer1"
    assert split_model(model, "/layer2/Sigmoid").cut_tensor == "layer1"  # one meaning
    assert split_model(model, "node:/layer1/Relu").cut_tensor == "a1"
    with pytest.raises(ModelError, match="the model has no node named 'layer1'"):
        split_model(model, "node:layer1")


def test_a_tensor_named_like_a_node_of_two_outputs_is_ambiguous_not_refused() -> None:
    """A reviewer (2026-12-08): tensor `foo` beside a Split node named `foo` (outputs p, q):
    `--split foo` failed on the node ("has 2 outputs") before it could say the name is
    ambiguous, where `tensor:foo` works."""
    nodes = [helper.make_node("Relu", ["x"], ["foo"], name="r"),
             helper.make_node("Split", ["foo"], ["p", "q"], name="foo", axis=1,
                              num_outputs=2),
             helper.make_node("Add", ["p", "q"], ["y"], name="add")]  # fmt: skip
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N", 4])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, ["N", 2])])  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(ModelError, match="ambiguous: it names tensor 'foo', node 'foo' "
                       "\\(has 2 outputs") as e:  # fmt: skip
        split_model(model, "foo")
    assert "--split tensor:foo" in (e.value.hint or "")
    assert split_model(model, "tensor:foo").cut_tensor == "foo"
    with pytest.raises(ModelError, match="node 'foo' has 2 outputs"):
        split_model(model, "node:foo")


def test_a_node_name_two_nodes_share_is_refused_saying_so() -> None:
    """ONNX does not require unique node names: `--split dup` where two nodes are named
    `dup` (one output each) is refused as naming two nodes, not as one node of two outputs."""
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="dup"),
             helper.make_node("Neg", ["a"], ["b"], name="dup"),
             helper.make_node("Relu", ["b"], ["y"], name="out")]  # fmt: skip
    model = _graph_model(nodes, ["x"], ["y"])
    with pytest.raises(ModelError, match="node 'dup' names 2 nodes of the graph \\(their "
                       "outputs: 'a', 'b'\\)") as e:  # fmt: skip
        split_model(model, "dup")
    assert "tensor names" in (e.value.hint or "")
    assert split_model(model, "a").cut_tensor == "a"
