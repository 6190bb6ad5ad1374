"""Find where an ONNX graph can be cut, cut it into encoder and head, and check the composition."""

from __future__ import annotations

import ast
import difflib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnx.shape_inference
import onnx.utils

from privaudit.errors import ModelError
from privaudit.model import (
    input_specs,
    load_model,
    make_session,
    run_batched,
    run_batched_outputs,
    value_shape,
)

NAME_SCOPES_KEY = "pkg.torch.onnx.name_scopes"
Dim = int | str | None


@dataclass(frozen=True)
class CutPoint:
    """One candidate place to split the model (a row of `privaudit layers`).

    Attributes:
        module: the module whose single leaving tensor this is, or None for a plain tensor.
        tensor: the tensor that would be cut; None for a module without a single leaving tensor.
        op_type: op type of the node producing `tensor` (None when `tensor` is None).
        shape: inferred shape (ints, symbolic names, None where unknown); None when unknown.
        depth: share of graph nodes (in topological order) computed on the encoder side, 0..1.
        clean: whether `tensor` alone carries everything the rest of the graph needs.
        reason: why the cut is not clean, else None.
    """

    module: str | None
    tensor: str | None
    op_type: str | None
    shape: tuple[Dim, ...] | None
    depth: float
    clean: bool
    reason: str | None


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


@dataclass
class _Graph:
    """Connectivity of a (shape-inferred) graph; node indices follow graph (topological) order."""

    model: onnx.ModelProto
    nodes: list[onnx.NodeProto]
    producer: dict[str, int]
    consumers: dict[str, list[int]]
    inputs: list[str]
    outputs: list[str]
    const: set[str]
    values: dict[str, onnx.ValueInfoProto]


def node_scopes(node: onnx.NodeProto) -> list[str]:
    """Module paths enclosing a node, outermost first (e.g. ['layer3', 'layer3.1']).

    Dynamo exports carry them in the `pkg.torch.onnx.name_scopes` metadata, legacy exports in
    node names such as '/layer3/layer3.0/downsample/downsample.0/Conv'; other graphs have none.

    Args:
        node: an ONNX node.

    Returns:
        Full dotted module paths, or [] when the node carries no module naming.
    """
    for prop in node.metadata_props:
        if prop.key == NAME_SCOPES_KEY:
            return _dynamo_scopes(prop.value)
    if node.name.startswith("/"):
        return _legacy_scopes(node.name)
    return []


def _dynamo_scopes(text: str) -> list[str]:
    try:
        scopes = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return []
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        return []
    return [s for s in scopes[:-1] if s]


def _legacy_scopes(name: str) -> list[str]:
    # NOTE: legacy scopes are relative to the closest called ancestor, except Sequential
    # children, which repeat their parent's segment ('downsample' / 'downsample.0').
    paths: list[str] = []
    previous = ""
    for segment in (s for s in name.split("/")[1:-1] if s):
        if paths and segment.startswith(previous + "."):
            paths.append(paths[-1][: len(paths[-1]) - len(previous)] + segment)
        elif paths:
            paths.append(f"{paths[-1]}.{segment}")
        else:
            paths.append(segment)
        previous = segment
    return paths


def _subgraphs(attr: onnx.AttributeProto) -> list[onnx.GraphProto]:
    return [attr.g] if attr.HasField("g") else list(attr.graphs)


def _outer_names(graph: onnx.GraphProto) -> set[str]:
    defined = {v.name for v in graph.input} | {t.name for t in graph.initializer}
    used: set[str] = set()
    for node in graph.node:
        used.update(_node_inputs(node))
        defined.update(node.output)
    return used - defined


def _node_inputs(node: onnx.NodeProto) -> list[str]:
    """Explicit inputs plus outer-scope tensors its subgraphs (If/Loop/Scan bodies) read."""
    names = [t for t in node.input if t]
    for attr in node.attribute:
        for sub in _subgraphs(attr):
            names.extend(sorted(_outer_names(sub) - set(names)))
    return names


def _infer(model: onnx.ModelProto) -> onnx.ModelProto:
    try:
        return onnx.shape_inference.infer_shapes(model)
    except onnx.shape_inference.InferenceError:  # NOTE: shapes are a nicety; go on without
        return model


def _analyse(model: onnx.ModelProto) -> _Graph:
    model = _infer(model)
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    nodes = list(graph.node)
    producer = {t: i for i, n in enumerate(nodes) for t in n.output if t}
    consumers: dict[str, list[int]] = defaultdict(list)
    const = set(initializers)
    for i, node in enumerate(nodes):
        names = _node_inputs(node)
        for t in names:
            if producer.get(t, -1) >= i:
                raise ModelError(f"node {node.name or i!r} reads {t!r} before it is computed",
                                 hint="sort the graph topologically (onnx checker) and retry")
            consumers[t].append(i)
        if all(t in const for t in names):
            const.update(t for t in node.output if t)
    values = {v.name: v for v in (*graph.value_info, *graph.input, *graph.output)}
    inputs = [v.name for v in graph.input if v.name not in initializers]
    return _Graph(model, nodes, producer, dict(consumers), inputs,
                  [v.name for v in graph.output], const, values)


def _live_nodes(g: _Graph) -> set[int]:
    """Nodes the graph outputs depend on."""
    live: set[int] = set()
    stack = [g.producer[t] for t in g.outputs if t in g.producer]
    while stack:
        i = stack.pop()
        if i not in live:
            live.add(i)
            stack.extend(g.producer[t] for t in _node_inputs(g.nodes[i]) if t in g.producer)
    return live


def _cut_reasons(g: _Graph) -> dict[str, str | None]:
    """For every non-constant node output: None when it is a clean cut, else the reason.

    A tensor is clean when it is the only activation alive across its producer's position in
    topological order: one sweep over lifetime intervals, O(nodes + edges).
    """
    live, n = _live_nodes(g), len(g.nodes)
    death = {t: max((c for c in cs if c in live), default=-1) for t, cs in g.consumers.items()}
    death.update(dict.fromkeys(g.outputs, n))
    ends: dict[int, list[str]] = defaultdict(list)
    active: dict[str, None] = {}
    for t in g.inputs:
        if death.get(t, -1) >= 0:
            active[t] = None
            ends[death[t]].append(t)
    reasons: dict[str, str | None] = {}
    for p, node in enumerate(g.nodes):
        outs = [t for t in node.output if t and t not in g.const]
        for t in outs:
            if death.get(t, -1) > p:
                active[t] = None
                ends[death[t]].append(t)
        for t in ends.pop(p, []):
            active.pop(t, None)
        for t in outs:
            reasons[t] = _reason(g, t, active)
    return reasons


def _reason(g: _Graph, tensor: str, active: dict[str, None]) -> str | None:
    if tensor in g.outputs:
        return "it is a graph output: nothing to split after it"
    if tensor not in active:
        return "the model outputs do not use it"
    other = next((t for t in active if t != tensor), None)
    if other is None:
        return None
    more = f" (and {len(active) - 2} more)" if len(active) > 2 else ""
    if other in g.inputs:
        return f"crossed by graph input {other!r} (a second input used after the cut){more}"
    if other in g.outputs:
        return f"graph output {other!r} is computed before the cut{more}"
    return f"crossed by tensor {other!r} (skip connection or branch){more}"


def _modules(g: _Graph) -> dict[str, list[str]]:
    """Module name -> tensors leaving it (outputs used outside it), in order of appearance."""
    members: dict[str, set[int]] = {}
    for i, node in enumerate(g.nodes):
        for scope in node_scopes(node):
            members.setdefault(scope, set()).add(i)
    outputs = set(g.outputs)
    leaving: dict[str, list[str]] = {}
    for scope, idx in members.items():
        leaving[scope] = [
            t for i in sorted(idx) for t in g.nodes[i].output
            if t and t not in g.const
            and (t in outputs or any(c not in idx for c in g.consumers.get(t, [])))
        ]
    return leaving


def _display_shape(value: onnx.ValueInfoProto | None) -> tuple[Dim, ...] | None:
    if value is None or not value.type.tensor_type.HasField("shape"):
        return None
    dims = value.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in dims)


def list_cut_points(model: onnx.ModelProto) -> list[CutPoint]:
    """Candidate cut points: one row per module, and every other node output, in graph order.

    Args:
        model: the ONNX model (legacy, dynamo or unnamed export).

    Returns:
        Rows ordered by depth; a tensor leaving several modules appears once per module.
    """
    g = _analyse(model)
    reasons, leaving, n = _cut_reasons(g), _modules(g), max(len(g.nodes), 1)
    by_tensor: dict[str, list[str]] = defaultdict(list)
    rows: list[tuple[int, CutPoint]] = []
    for module, tensors in leaving.items():
        if len(tensors) == 1:
            by_tensor[tensors[0]].append(module)
            continue
        last = max(i for i, node in enumerate(g.nodes) if module in node_scopes(node))
        why = f"{len(tensors)} tensors leave it: {_quoted(tensors)}" if tensors else "no output"
        rows.append((last, CutPoint(module, None, None, None, (last + 1) / n, False, why)))
    for p, node in enumerate(g.nodes):
        for t in (t for t in node.output if t):
            reason = reasons.get(t, "a constant: it does not depend on the input")
            shape = _display_shape(g.values.get(t))
            modules: list[str | None] = [*by_tensor.get(t, [])] or [None]
            rows.extend(
                (p, CutPoint(m, t, node.op_type, shape, (p + 1) / n, reason is None, reason))
                for m in modules
            )
    return [row for _, row in sorted(rows, key=lambda r: r[0])]


def _quoted(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(s) for s in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def resolve_split(model: onnx.ModelProto, name: str, *, model_name: str = "MODEL") -> str:
    """Resolve a module, node or tensor name to the one tensor to cut, and check the cut.

    Args:
        model: the ONNX model.
        name: a tensor name, a node name with one output, or a module name (e.g. 'layer3').
        model_name: how to refer to the model file in hints.

    Returns:
        The cut tensor name.

    Raises:
        ModelError: unknown name (with close candidates), a module without a single leaving
            tensor, a cut at the graph input or output, or a cut that another tensor crosses.
    """
    return _resolve(_analyse(model), name, model_name)


def _resolve(g: _Graph, name: str, model_name: str) -> str:
    tensor = _lookup(g, name, model_name)
    if tensor in g.inputs:
        raise ModelError(f"split {name!r} is at the model input: nothing to split",
                         hint=f"pick a layer inside the model; see `privaudit layers {model_name}`")
    if tensor in g.outputs:
        raise ModelError(f"split {name!r} is at the model output {tensor!r}: nothing to split",
                         hint=f"pick an earlier layer; see `privaudit layers {model_name}`")
    if tensor in g.const:
        raise ModelError(f"split {name!r} is a constant ({tensor!r}), not an activation",
                         hint=f"pick a layer output; see `privaudit layers {model_name}`")
    reason = _cut_reasons(g).get(tensor)
    if reason is not None:
        raise ModelError(f"cannot split at {name!r} (tensor {tensor!r}): {reason}",
                         hint=_nearest_clean(g, tensor, model_name))
    return tensor


def _lookup(g: _Graph, name: str, model_name: str) -> str:
    if name in g.producer or name in g.inputs or name in g.const:
        return name
    named = [n for n in g.nodes if name and n.name == name]
    if named:
        outs = [t for n in named for t in n.output if t]
        if len(outs) != 1:
            raise ModelError(f"node {name!r} has {len(outs)} outputs: {_quoted(outs)}",
                             hint="pass one of these tensor names to --split")
        return str(outs[0])
    leaving = _modules(g)
    if name in leaving:
        if not leaving[name]:
            raise ModelError(f"module {name!r} has no activation leaving it",
                             hint=f"pick another layer; see `privaudit layers {model_name}`")
        if len(leaving[name]) != 1:
            raise ModelError(f"module {name!r} has {len(leaving[name])} tensors leaving it: "
                             f"{_quoted(leaving[name])}",
                             hint="pass one of these tensors, or an enclosing module, to --split")
        return leaving[name][0]
    candidates = [*leaving, *(t for t in g.producer if t not in g.const)]
    close = difflib.get_close_matches(name, candidates, n=5, cutoff=0.5)
    shown = f"closest: {_quoted(close)}; " if close else ""
    raise ModelError(f"split {name!r} not found in the model (no such module, node or tensor)",
                     hint=f"{shown}list them with `privaudit layers {model_name}`")


def _nearest_clean(g: _Graph, tensor: str, model_name: str) -> str:
    clean = [t for t, r in _cut_reasons(g).items() if r is None]
    pos = g.producer[tensor]
    before = [t for t in clean if g.producer[t] < pos][-1:]
    after = [t for t in clean if g.producer[t] > pos][:1]
    if not before + after:
        return "this graph has no single-tensor cut; export the encoder and head separately"
    return (f"cut at a clean tensor instead, e.g. {_quoted(before + after)}; list them "
            f"with `privaudit layers {model_name}`")


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
    g = _analyse(model)
    cut = _resolve(g, name, model_name)
    needed = _encoder_inputs(g, cut)
    if len(needed) != 1:
        raise ModelError(f"the encoder up to {cut!r} would need {len(needed)} inputs: "
                         f"{_quoted(needed)}", hint="export a model with a single image input")
    value = g.values.get(cut)
    if value is None or value.type.tensor_type.elem_type == 0:
        raise ModelError(f"cannot infer the type of the cut tensor {cut!r}",
                         hint="re-export the model with shape information (value_info)")
    try:
        extractor = onnx.utils.Extractor(g.model)
        encoder = extractor.extract_model(needed, [cut])
        head = extractor.extract_model([cut], list(g.outputs))
    except ValueError as e:
        raise ModelError(f"cannot extract the two parts at {cut!r}: {e}",
                         hint="re-export the model without sparse initializers") from e
    for part, which in ((encoder, "encoder"), (head, "head")):
        part.metadata_props.extend(model.metadata_props)
        _check_part(part, which, cut)
    shape = value_shape(value)
    feature = shape[1:] if shape else ()
    return Split(encoder, head, cut, needed[0], tuple(g.outputs), feature)


def _check_part(part: onnx.ModelProto, which: str, cut: str) -> None:
    try:
        onnx.checker.check_model(part)
    except (onnx.checker.ValidationError, ValueError) as e:
        raise ModelError(f"the {which} cut at {cut!r} is not a valid ONNX model: {e}",
                         hint="choose another split (control-flow subgraphs may not cut)") from e


def _encoder_inputs(g: _Graph, cut: str) -> list[str]:
    """Graph inputs the cut tensor depends on, in graph order."""
    seen: set[str] = set()
    stack = [cut]
    while stack:
        t = stack.pop()
        if t not in seen:
            seen.add(t)
            if t in g.producer:
                stack.extend(_node_inputs(g.nodes[g.producer[t]]))
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
        ModelError: no head, or the difference exceeds `atol` (NaN counts as a difference).
    """
    if split.head is None:
        raise ModelError("cannot verify a split without a head",
                         hint="pass --head head.onnx, or split the full model with --split")
    full = run_batched_outputs(make_session(model), x, batch_size)
    z = run_batched(make_session(split.encoder), x, batch_size)
    composed = run_batched_outputs(make_session(split.head), z, batch_size)
    diff = max((_max_abs_diff(a, b) for a, b in zip(full, composed, strict=True)), default=0.0)
    if not diff <= atol:
        raise ModelError(f"head(encoder(x)) differs from model(x) by {diff:.3g} (atol {atol:g}) "
                         f"when cut at {split.cut_tensor!r}",
                         hint="choose another split; if the graph is deterministic, "
                         "please report this")
    return diff


def _max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("inf")
    a, b = a.astype(np.float64), b.astype(np.float64)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    diff = np.where(same, 0.0, np.abs(a - b))
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
    outputs = _infer(encoder).graph.output
    if len(specs) != 1 or len(outputs) != 1:
        raise ModelError(f"the encoder {encoder_path} has {len(specs)} inputs and "
                         f"{len(outputs)} outputs; expected one of each",
                         hint="export the encoder with a single image input and feature output")
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
