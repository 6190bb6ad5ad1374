"""Cut an ONNX model into encoder and head at a resolved tensor, and check the composition."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnx.utils

from privaudit.errors import ModelError
from privaudit.model.cutpoints import (
    Graph,
    analyse,
    batch_shapes,
    infer_shapes,
    node_inputs,
    quoted,
    resolve_in,
)
from privaudit.model.describe import input_specs, value_shape
from privaudit.model.load import load_model, one_line
from privaudit.model.session import make_session, run_batched, run_batched_outputs

__all__ = ["Split", "load_presplit", "split_model", "verify_split"]


@dataclass(frozen=True, eq=False)
class Split:
    """The model cut in two at one tensor.

    Attributes:
        encoder: graph input -> cut tensor (the part that runs on the client).
        head: cut tensor -> graph outputs; its input is named `cut_tensor`. None when a
            pre-split encoder was given without a head.
        cut_tensor: name of the cut tensor (the encoder's output).
        input_name: name of the encoder's (image) input.
        output_names: the head's outputs (empty without a head).
        feature_shape: per-sample shape of the cut tensor, None for dynamic dims.
    """

    encoder: onnx.ModelProto
    head: onnx.ModelProto | None
    cut_tensor: str
    input_name: str
    output_names: tuple[str, ...]
    feature_shape: tuple[int | None, ...]


def split_model(model: onnx.ModelProto, name: str, *, model_name: str = "MODEL") -> Split:
    """Cut the model at `name` into an encoder (input -> cut) and a head (cut -> outputs).

    Both parts keep the model's opset and metadata_props.

    Args:
        model: the ONNX model.
        name: a module, node or tensor name (see `resolve_split`).
        model_name: how to refer to the model file in hints.

    Returns:
        The split; the head's input is named exactly like the cut tensor.

    Raises:
        ModelError: the name does not resolve to a clean cut, or the encoder would need
            several inputs.
    """
    g = analyse(model)
    cut = resolve_in(g, name, model_name)
    needed = _encoder_inputs(g, cut)
    if len(needed) != 1:
        raise ModelError(f"the encoder up to {cut!r} would need {len(needed)} inputs: "
                         f"{quoted(needed)}", hint="export a model with a single data input")
    value = g.values.get(cut)
    if value is None or value.type.tensor_type.elem_type == 0:
        raise ModelError(f"cannot infer the type of the cut tensor {cut!r}",
                         hint="re-export the model with shape information (value_info)")
    if not value.type.tensor_type.HasField("shape"):
        raise ModelError(f"cannot infer the shape of the cut tensor {cut!r}",
                         hint="cut at a tensor of known shape ('privaudit layers' shows them), "
                         "or re-export the model with shape information (value_info)")
    try:
        extractor = _Extractor(g.model)
        encoder = extractor.extract_model(needed, [cut])
        head = _extract_head(g, extractor, cut)
    except ValueError as e:
        raise ModelError(f"cannot extract the two parts at {cut!r}: {e}",
                         hint="re-export the model without sparse initializers") from e
    for part, which in ((encoder, "encoder"), (head, "head")):
        part.metadata_props.extend(model.metadata_props)
        _list_initializers_as_inputs(part)
        _check_part(part, which, cut)
    shape = value_shape(value)
    feature = shape[1:] if shape else ()
    return Split(encoder, head, cut, needed[0], tuple(g.outputs), feature)


def _extract_head(g: Graph, extractor: _Extractor, cut: str) -> onnx.ModelProto:
    """The part from `cut` to the graph outputs, batch sizes read from the cut.

    A Shape node read only for the batch size (`batch_shapes`) of a tensor the head does not
    compute (the graph input, or an encoder tensor) reads the cut instead, whose batch axis is
    first too: the legacy exporter's ``x.view(x.size(0), -1)`` does not tie the head to the
    input. `verify_split` checks the composition.
    """
    after = _downstream(g, cut)
    outer = {t for i, t in batch_shapes(g).items() if t not in after and t != cut}
    head = extractor.extract_model([cut, *sorted(outer)], list(g.outputs))
    if not outer:
        return head
    rewired = set()
    for node in head.graph.node:
        if node.op_type == "Shape" and node.input and node.input[0] in outer:
            node.input[0] = cut
            rewired.update(node.output)
    stale = [v for v in head.graph.value_info if v.name in rewired]
    for v in stale:  # NOTE: the cut's rank may differ from the tensor's: shapes are inferred again
        head.graph.value_info.remove(v)
    kept = [v for v in head.graph.input if v.name not in outer]
    del head.graph.input[:]
    head.graph.input.extend(kept)
    return head


def _downstream(g: Graph, cut: str) -> set[str]:
    """Tensors computed from `cut` (itself included)."""
    seen, stack = {cut}, [cut]
    while stack:
        for i in g.consumers.get(stack.pop(), []):
            for t in g.nodes[i].output:
                if t and t not in seen:
                    seen.add(t)
                    stack.append(t)
    return seen


class _Extractor(onnx.utils.Extractor):
    """`onnx.utils.Extractor` that follows the outer-scope tensors If/Loop/Scan bodies read.

    onnx's extractor follows explicit node inputs only: a part holding a node whose subgraph
    reads an outer tensor (an activation or an initializer) would miss what computes or holds it.
    """

    def _dfs_search_reachable_nodes(
        self, node_output_name: str, graph_input_names: set[str], reachable: set[int]
    ) -> None:
        stack = [node_output_name]
        while stack:
            name = stack.pop()
            if name in graph_input_names or name not in self.outmap:
                continue
            index = self.outmap[name]
            if index not in reachable:
                reachable.add(index)
                stack.extend(node_inputs(self.graph.node[index]))

    def _collect_reachable_tensors(
        self, nodes: list[onnx.NodeProto]
    ) -> tuple[list[onnx.TensorProto], list[onnx.ValueInfoProto]]:
        initializer, value_info = super()._collect_reachable_tensors(nodes)
        have = {t.name for t in initializer}
        outer = {t for node in nodes for t in node_inputs(node)} - have
        initializer.extend(t for name, t in self.initializers.items() if name in outer)
        have_info = {v.name for v in value_info}
        value_info.extend(v for name, v in self.value_infos.items()
                          if name in outer and name not in have_info)
        return initializer, value_info


_FIRST_IR_WITHOUT_INITIALIZER_INPUTS = 4


def _list_initializers_as_inputs(part: onnx.ModelProto) -> None:
    """List a part's initializers among its graph inputs where its IR version requires it.

    Before IR version 4 (opsets up to 8) every initializer must also be a graph input; the
    extractor lists only the cut's inputs, so the parts of such a model need theirs back.
    """
    if part.ir_version >= _FIRST_IR_WITHOUT_INITIALIZER_INPUTS:
        return
    listed = {v.name for v in part.graph.input}
    part.graph.input.extend(
        onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
        for t in part.graph.initializer
        if t.name not in listed
    )


def _check_part(part: onnx.ModelProto, which: str, cut: str) -> None:
    try:
        onnx.checker.check_model(part)
    except (onnx.checker.ValidationError, ValueError) as e:
        raise ModelError(f"the {which} cut at {cut!r} is not a valid ONNX model: "
                         f"{one_line(e)}", hint="choose another split; 'privaudit layers "
                         "MODEL' lists the clean cuts") from e


def _encoder_inputs(g: Graph, cut: str) -> list[str]:
    """Graph inputs the cut tensor depends on, in graph order."""
    seen: set[str] = set()
    stack = [cut]
    while stack:
        t = stack.pop()
        if t not in seen:
            seen.add(t)
            if t in g.producer:
                stack.extend(node_inputs(g.nodes[g.producer[t]]))
    return [t for t in g.inputs if t in seen]


def verify_split(
    model: onnx.ModelProto, split: Split, x: np.ndarray, atol: float = 1e-5,
    *, batch_size: int = 64,
) -> float:
    """Check that head(encoder(x)) equals model(x) in onnxruntime.

    Args:
        model: the full model.
        split: its split.
        x: (N, ...) sample inputs of the model's input type.
        atol: largest tolerated absolute difference.
        batch_size: samples per onnxruntime call.

    Returns:
        The largest absolute difference over all outputs (0.0 when identical).

    Raises:
        ModelError: no head, NaN or infinite model outputs, or the difference exceeds `atol`
            (a NaN in the composition is a difference).
    """
    if split.head is None:
        raise ModelError("cannot verify a split without a head",
                         hint="pass --head head.onnx, or split the full model with --split")
    session = make_session(model)
    full = run_batched_outputs(session, x, batch_size)
    for out, spec in zip(full, session.get_outputs(), strict=True):
        _check_finite(out, spec.name)
    z = run_batched(make_session(split.encoder), x, batch_size)
    composed = run_batched_outputs(make_session(split.head), z, batch_size)
    diff = max((_max_abs_diff(a, b) for a, b in zip(full, composed, strict=True)), default=0.0)
    if not diff <= atol:
        raise ModelError(f"head(encoder(x)) differs from model(x) by {diff:.3g} (atol {atol:g}) "
                         f"when cut at {split.cut_tensor!r}",
                         hint="choose another split; if the graph is deterministic, "
                         "please report this")
    return diff


def _check_finite(values: np.ndarray, name: str) -> None:
    """Refuse a model output with NaN or infinite values: nothing can be measured from it."""
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        bad = values.size - int(np.count_nonzero(np.isfinite(values)))
        raise ModelError(f"the model's output {name!r} has {bad} NaN or infinite values of "
                         f"{values.size} on sample inputs",
                         hint="check the model's weights (NaN or inf?) and its input "
                         "normalization (--mean/--std)")


def _max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """The largest |a - b|; inf for different shapes or a NaN on either side."""
    if a.shape != b.shape:
        return float("inf")
    a, b = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(invalid="ignore"):
        diff = np.where(a == b, 0.0, np.abs(a - b))  # NOTE: equal infinities are no difference
    value = float(diff.max(initial=0.0))
    return float("inf") if np.isnan(value) else value


def load_presplit(encoder_path: Path, head_path: Path | None = None) -> Split:
    """Load an already split model (`--encoder enc.onnx [--head head.onnx]`).

    Args:
        encoder_path: the encoder (one input, one output).
        head_path: the head (one input, compatible with the encoder output), or None.

    Returns:
        The split; `cut_tensor` is the encoder's output name and `head` may be None.

    Raises:
        ModelError: unloadable files, several inputs/outputs, or a head whose input does not
            match the encoder's output.
    """
    encoder = load_model(encoder_path)
    specs = input_specs(encoder)
    outputs = infer_shapes(encoder).graph.output
    if len(specs) != 1 or len(outputs) != 1:
        raise ModelError(f"the encoder {encoder_path} has {len(specs)} inputs and "
                         f"{len(outputs)} outputs; expected one of each",
                         hint="export the encoder with a single data input and feature output")
    shape = value_shape(outputs[0])
    if shape is None:
        raise ModelError(f"cannot tell the shape of the encoder output {outputs[0].name!r}",
                         hint="re-export the encoder with shape information")
    head = None if head_path is None else load_model(head_path)
    if head is not None:
        _check_head(head, outputs[0], head_path)
    names = tuple(v.name for v in head.graph.output) if head is not None else ()
    return Split(encoder, head, outputs[0].name, specs[0].name, names, shape[1:])


def _check_head(head: onnx.ModelProto, feature: onnx.ValueInfoProto, path: Path | None) -> None:
    specs = input_specs(head)
    if len(specs) != 1:
        raise ModelError(f"the head {path} has {len(specs)} inputs; expected one",
                         hint="export the head with the encoder output as its only input")
    want, got = value_shape(feature), specs[0].shape
    elem = feature.type.tensor_type.elem_type
    dims_clash = want is not None and (
        len(want) != len(got)
        or any(a is not None and b is not None and a != b for a, b in zip(want, got, strict=True))
    )
    if dims_clash or (elem and specs[0].elem_type and elem != specs[0].elem_type):
        raise ModelError(f"the head input {specs[0].name!r} {list(got)} does not match the "
                         f"encoder output {feature.name!r} {list(want or [])}",
                         hint="pass the head that was exported together with this encoder")
