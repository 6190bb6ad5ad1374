"""Models privaudit cannot audit as a whole: training-mode exports and half-precision floats."""

from __future__ import annotations

from collections.abc import Iterator

import onnx

from privaudit.errors import ModelError
from privaudit.model.constants import Constants

__all__ = [
    "HALF_TYPES",
    "RANDOM_OPS",
    "check_deterministic",
    "check_inference_model",
    "half_precision",
    "training_mode_node",
]

HALF_TYPES = frozenset({onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16})
RANDOM_OPS = frozenset({"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
                        "Multinomial", "Bernoulli"})  # fmt: skip
_RE_EXPORT_EVAL = "re-export the model after model.eval() (torch.onnx.export's default)"
_TRAINING_WHAT = {"BatchNormalization": "batch statistics", "Dropout": "random dropout"}


def check_inference_model(model: onnx.ModelProto, name: str) -> None:
    """Refuse a model whose outputs an audit cannot trust, before anything is measured.

    A model exported in training mode (BatchNormalization on batch statistics, Dropout with
    `training_mode` true) computes each sample's output from the whole batch, or at random;
    a half-precision model (float16, bfloat16) differs from its split parts by its rounding
    and cannot be differentiated in float32.

    Args:
        model: the loaded model.
        name: how to refer to it in messages (its path).

    Raises:
        ModelError: either kind of model, naming the node or tensor that shows it.
    """
    node = training_mode_node(model)
    if node is not None:
        raise ModelError(f"{node.op_type} was exported in training mode "
                         f"({_TRAINING_WHAT[node.op_type]}) in {name} (node {node.name!r})",
                         hint=_RE_EXPORT_EVAL)
    half = half_precision(model)
    if half is not None:
        raise ModelError(f"{name} computes in {half[1]} (tensor {half[0]!r}); privaudit audits "
                         "float32 (or float64) models", hint="convert the model to float32 "
                         "(re-export it after model.float()) and audit that")


def training_mode_node(model: onnx.ModelProto) -> onnx.NodeProto | None:
    """The first BatchNormalization or Dropout node of the main graph in training mode, if any.

    BatchNormalization is in training mode with `training_mode=1` or with its running
    statistics outputs used; Dropout with a `training_mode` input that is a constant true.
    """
    constants = Constants(model.graph)
    nodes: list[onnx.NodeProto] = list(model.graph.node)  # NOTE: typed (protobuf's is Any)
    for node in nodes:
        if node.domain not in ("", "ai.onnx"):
            continue
        if node.op_type == "BatchNormalization" and _bn_training(node):
            return node
        if node.op_type == "Dropout" and _dropout_training(node, constants):
            return node
    return None


def _bn_training(node: onnx.NodeProto) -> bool:
    mode = next((a.i for a in node.attribute if a.name == "training_mode"), 0)
    return bool(mode) or any(node.output[1:])


def _dropout_training(node: onnx.NodeProto, constants: Constants) -> bool:
    if len(node.input) < 3 or not node.input[2]:
        return False
    value = constants.get(node.input[2])
    if value is None:
        return False  # NOTE: computed at run time; onnxruntime's inference default is false
    return bool(value.any())


def half_precision(model: onnx.ModelProto) -> tuple[str, str] | None:
    """(tensor name, type name) of the first float16/bfloat16 tensor of the main graph, or None.

    Looks at the graph's inputs, outputs, initializers, declared values, Constant values and
    Cast targets.
    """
    for name, elem in _elem_types(model.graph):
        if elem in HALF_TYPES:
            return name, onnx.TensorProto.DataType.Name(elem).lower()
    return None


def _elem_types(graph: onnx.GraphProto) -> Iterator[tuple[str, int]]:
    for value in (*graph.input, *graph.output, *graph.value_info):
        yield value.name, value.type.tensor_type.elem_type
    for tensor in graph.initializer:
        yield tensor.name, tensor.data_type
    for node in graph.node:
        for attr in node.attribute:
            if attr.name == "value" and attr.HasField("t"):
                yield node.output[0] if node.output else node.name, attr.t.data_type
            if attr.name == "to" and node.op_type == "Cast" and node.output:
                yield node.output[0], attr.i


def check_deterministic(model: onnx.ModelProto, name: str) -> None:
    """Refuse a model that draws random values in its graph.

    Called after privaudit's own embedded noise is taken out (`strip_embedded_noise`). Its noise
    would be added twice (the audit adds its own sigma), its "clean" accuracy would be a noisy
    one, and onnxruntime repeats the same draw in every new session, so the split check passes
    by chance: a tester's model with `z + 0.1 * randn_like(z)` read decoder MSE 0.0404 where the
    same deployment audited right reads 0.0316.

    Raises:
        ModelError: naming the first random node.
    """
    for node in model.graph.node:
        if node.op_type in RANDOM_OPS and node.domain in ("", "ai.onnx"):
            raise ModelError(
                f"{name} draws random values inside its graph ({node.op_type} node "
                f"{node.name!r}): an audit needs the deterministic model, and adds the "
                "noise itself",
                hint="export the model without its noise and give that noise's std with "
                "--noise (a model hardened with --embed-noise is handled: it records its noise "
                "in its metadata)",
            )
