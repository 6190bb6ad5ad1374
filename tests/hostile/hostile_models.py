"""Hostile and unusual ONNX models for the corpus (issue 16): small graphs built by onnx.helper.

Most are 8x8 one-channel image classifiers (`classifier`) with something wrong or unusual;
the others are the embedded demo model edited (integer inputs, NaN weights). Every builder
returns an `onnx.ModelProto` that passes the ONNX checker unless its name says otherwise.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from privaudit.demo import demo_model_path

__all__ = [
    "IR_FOR_OPSET",
    "classifier",
    "demo_with_integer_input",
    "demo_with_weights",
    "if_node",
    "not_logits",
    "tabular_classifier",
    "unsorted",
]

SIDE = 8  # the helper models take (N, 1, 8, 8) images
# NOTE: the IR version each opset came with; IR < 4 lists initializers among graph inputs.
IR_FOR_OPSET = {7: 3, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8, 17: 8,
                18: 8, 19: 9, 20: 9, 21: 10}  # fmt: skip


def _value(
    name: str, shape: list[int | str] | None, elem: int = TensorProto.FLOAT
) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def classifier(
    *,
    opset: int = 17,
    classes: int = 10,
    feature_scale: float = 1.0,
    head_fill: float | None = None,
    input_side: int | str = SIDE,
) -> onnx.ModelProto:
    """Conv -> Relu -> Conv -> Sigmoid ("cut", times `feature_scale`) -> Flatten -> Gemm.

    A model whose input side is not 8 (or dynamic) pools the cut globally before the head,
    so that its shapes still infer.

    Args:
        opset: the default-domain opset (7..21), with the IR version it came with.
        classes: the head's outputs.
        feature_scale: multiplies the features at the cut (1e20: features beyond any scale).
        head_fill: fills the head's weights with this value (NaN, inf), None: random.
        input_side: the declared height and width (an int, or a name for dynamic sizes).
    """
    pooled = input_side != SIDE
    flat = 2 if pooled else 2 * SIDE * SIDE
    g = np.random.default_rng(0)
    inits = {
        "w1": g.standard_normal((4, 1, 3, 3)).astype(np.float32) * 0.5,
        "b1": np.zeros(4, np.float32),
        "w2": g.standard_normal((2, 4, 1, 1)).astype(np.float32),
        "b2": np.zeros(2, np.float32),
        "scale": np.array(feature_scale, np.float32),
        "wf": g.standard_normal((classes, flat)).astype(np.float32) * 0.1,
        "bf": np.zeros(classes, np.float32),
    }
    if head_fill is not None:
        inits["wf"] = np.full_like(inits["wf"], head_fill)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2"),
        helper.make_node("Sigmoid", ["c2"], ["s2"], name="sigmoid"),
        helper.make_node("Mul", ["s2", "scale"], ["cut"], name="cut"),
        helper.make_node("GlobalAveragePool" if pooled else "Identity", ["cut"], ["pool"],
                         name="pool"),
        helper.make_node("Flatten", ["pool"], ["flat"], axis=1, name="flat"),
        helper.make_node("Gemm", ["flat", "wf", "bf"], ["logits"], transB=1, name="fc"),
    ]
    inputs = [_value("x", ["N", 1, input_side, input_side])]
    if IR_FOR_OPSET[opset] < 4:
        inputs += [_value(k, list(v.shape)) for k, v in inits.items()]
    graph = helper.make_graph(
        nodes, "classifier", inputs, [_value("logits", ["N", classes])],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=IR_FOR_OPSET[opset])


def tabular_classifier(features: int = 4, classes: int = 3) -> onnx.ModelProto:
    """A split MLP over `features` columns: Gemm -> Tanh ("cut") -> Gemm logits."""
    g = np.random.default_rng(0)
    inits = {"w1": g.standard_normal((3, features)).astype(np.float32),
             "b1": np.zeros(3, np.float32),
             "wf": g.standard_normal((classes, 3)).astype(np.float32),
             "bf": np.zeros(classes, np.float32)}
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1, name="fc1"),
             helper.make_node("Tanh", ["h"], ["cut"], name="cut"),
             helper.make_node("Gemm", ["cut", "wf", "bf"], ["logits"], transB=1, name="fc")]
    graph = helper.make_graph(
        nodes, "mlp", [_value("x", ["N", features])], [_value("logits", ["N", classes])],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def not_logits() -> onnx.ModelProto:
    """A head whose output is a feature map (N, 2, 8, 8), not (N, classes) logits."""
    model = classifier()
    graph = model.graph
    del graph.node[-3:]
    graph.node.append(helper.make_node("Relu", ["cut"], ["maps"], name="maps"))
    del graph.output[:]
    graph.output.append(_value("maps", ["N", 2, SIDE, SIDE]))
    kept = {"w1", "b1", "w2", "b2", "scale"}
    initializers = [t for t in graph.initializer if t.name in kept]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    return model


def if_node() -> onnx.ModelProto:
    """An If node inside the encoder (onnxruntime runs it; the torch interpreter cannot)."""
    then_g = helper.make_graph([helper.make_node("Relu", ["a"], ["t"])], "then", [],
                               [_value("t", None)])
    else_g = helper.make_graph([helper.make_node("Sigmoid", ["a"], ["e"])], "else", [],
                               [_value("e", None)])
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu"),
        helper.make_node("ReduceSum", ["a"], ["s"], keepdims=0, name="sum"),
        helper.make_node("Greater", ["s", "zero"], ["c"], name="gt"),
        helper.make_node("If", ["c"], ["b"], then_branch=then_g, else_branch=else_g, name="if"),
        helper.make_node("Sigmoid", ["b"], ["cut"], name="cut"),
        helper.make_node("Flatten", ["cut"], ["flat"], axis=1, name="flat"),
        helper.make_node("Gemm", ["flat", "wf", "bf"], ["logits"], transB=1, name="fc"),
    ]
    g = np.random.default_rng(0)
    inits = [numpy_helper.from_array(np.array(0, np.float32), "zero"),
             numpy_helper.from_array(g.standard_normal((10, SIDE * SIDE)).astype(np.float32), "wf"),
             numpy_helper.from_array(np.zeros(10, np.float32), "bf")]
    graph = helper.make_graph(nodes, "if", [_value("x", ["N", 1, SIDE, SIDE])],
                              [_value("logits", ["N", 10])], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def unsorted() -> onnx.ModelProto:
    """A graph whose nodes are not in topological order (invalid: the checker refuses it)."""
    model = classifier()
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend([nodes[1], nodes[0], *nodes[2:]])
    return model


def demo_with_integer_input(elem: int) -> onnx.ModelProto:
    """The demo model behind an integer input: Cast, /255, (x - mean) / std, as exporters do.

    It expects the raw 8-bit pixels 0..255; its metadata carries no normalization.
    """
    model = onnx.load(str(demo_model_path()))
    image = model.graph.input[0]
    old, image.name = image.name, "raw"
    image.type.tensor_type.elem_type = elem
    nodes = [
        helper.make_node("Cast", ["raw"], ["raw_float"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["raw_float", "c255"], ["pixels"]),
        helper.make_node("Sub", ["pixels", "mnist_mean"], ["centred"]),
        helper.make_node("Div", ["centred", "mnist_std"], [old]),
    ]
    for name, value in (("c255", 255.0), ("mnist_mean", 0.1307), ("mnist_std", 0.3081)):
        model.graph.initializer.append(numpy_helper.from_array(np.array(value, np.float32), name))
    for node in reversed(nodes):
        model.graph.node.insert(0, node)
    del model.metadata_props[:]
    helper.set_model_props(model, {"privaudit.split": "layer3"})
    return model


def demo_with_weights(prefix: str, value: float) -> onnx.ModelProto:
    """The demo model with every weight whose name starts with `prefix` set to `value`."""
    model = onnx.load(str(demo_model_path()))
    for init in model.graph.initializer:
        if init.name.startswith(prefix):
            filled = np.full_like(numpy_helper.to_array(init), value)
            init.CopyFrom(numpy_helper.from_array(filled, init.name))
    return model
