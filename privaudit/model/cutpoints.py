"""Graph connectivity of an ONNX model: where it can be cut cleanly, and what a split name means."""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import onnx
import onnx.shape_inference

from privaudit.errors import ModelError
from privaudit.model.constants import Constants
from privaudit.model.load import subgraphs
from privaudit.model.scopes import node_scopes

__all__ = [
    "ACTIVATION",
    "CONSTANT",
    "SHAPE",
    "CutPoint",
    "Dim",
    "Graph",
    "analyse",
    "batch_shapes",
    "infer_shapes",
    "list_cut_points",
    "node_inputs",
    "quoted",
    "readable_shape",
    "resolve_in",
    "resolve_split",
]

Dim = int | str | None
# What a tensor is (`CutPoint.kind`): computed from the input's values, a constant (from
# initializers and Constant nodes alone), or computed from the input's shape alone (a
# Shape -> Gather -> Concat chain that feeds a Reshape): only activations are computation.
ACTIVATION, CONSTANT, SHAPE = "activation", "constant", "shape"
_SHAPE_OPS = frozenset({"Shape", "Size"})
# dim names that exporters and shape inference make up: shown as "?" (`readable_shape`)
_GENERATED_DIM = re.compile(r"unk__\d+|\bs\d+\b|_dynamic_axes_\d+|__\d+$")


@dataclass(frozen=True)
class CutPoint:
    """One candidate place to split the model (a row of `privaudit layers`).

    Attributes:
        module: the module whose single leaving tensor this is, or None for a plain tensor.
        tensor: the tensor that would be cut; None for a module without a single leaving tensor.
        op_type: op type of the node producing `tensor` (None when `tensor` is None).
        shape: inferred shape (ints, symbolic names, None where unknown); None when unknown.
        depth: share of the computational nodes (in topological order: those computing an
            activation, not constants or shapes) on the encoder side, 0..1.
        clean: whether `tensor` alone carries everything the rest of the graph needs.
        reason: why the cut is not clean, else None.
        kind: `ACTIVATION`, `CONSTANT` or `SHAPE` (what `tensor` is computed from).
    """

    module: str | None
    tensor: str | None
    op_type: str | None
    shape: tuple[Dim, ...] | None
    depth: float
    clean: bool
    reason: str | None
    kind: str = ACTIVATION


@dataclass
class Graph:
    """Connectivity of a (shape-inferred) graph; node indices follow graph (topological) order."""

    model: onnx.ModelProto
    nodes: list[onnx.NodeProto]
    producer: dict[str, int]
    consumers: dict[str, list[int]]
    inputs: list[str]
    outputs: list[str]
    const: set[str]
    values: dict[str, onnx.ValueInfoProto]
    # NOTE: what is derived from the graph once (modules, cut reasons), however often asked
    memo: dict[str, object] = field(default_factory=dict, repr=False, compare=False)



def _outer_names(graph: onnx.GraphProto) -> set[str]:
    defined = {v.name for v in graph.input} | {t.name for t in graph.initializer}
    used: set[str] = set()
    for node in graph.node:
        used.update(node_inputs(node))
        defined.update(node.output)
    return used - defined


def node_inputs(node: onnx.NodeProto) -> list[str]:
    """Explicit inputs plus outer-scope tensors its subgraphs (If/Loop/Scan bodies) read."""
    names = [t for t in node.input if t]
    for attr in node.attribute:
        for sub in subgraphs(attr):
            names.extend(sorted(_outer_names(sub) - set(names)))
    return names


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with inferred shapes (value_info), or unchanged when inference fails."""
    try:
        return onnx.shape_inference.infer_shapes(model)
    except onnx.shape_inference.InferenceError:  # NOTE: shapes are a nicety; go on without
        return model


def analyse(model: onnx.ModelProto) -> Graph:
    """Connectivity of `model` after shape inference; ModelError if not topologically sorted."""
    model = infer_shapes(model)
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    nodes = list(graph.node)
    producer = {t: i for i, n in enumerate(nodes) for t in n.output if t}
    consumers: dict[str, list[int]] = defaultdict(list)
    const = set(initializers)
    for i, node in enumerate(nodes):
        names = node_inputs(node)
        for t in names:
            if producer.get(t, -1) >= i:
                raise ModelError(f"node {node.name or i!r} reads {t!r} before it is computed",
                                 hint="sort the graph topologically (onnx checker) and retry")
            consumers[t].append(i)
        if all(t in const for t in names):
            const.update(t for t in node.output if t)
    values = {v.name: v for v in (*graph.value_info, *graph.input, *graph.output)}
    inputs = [v.name for v in graph.input if v.name not in initializers]
    return Graph(model, nodes, producer, dict(consumers), inputs,
                  [v.name for v in graph.output], const, values)


def _live_nodes(g: Graph) -> set[int]:
    """Nodes the graph outputs depend on."""
    live: set[int] = set()
    stack = [g.producer[t] for t in g.outputs if t in g.producer]
    while stack:
        i = stack.pop()
        if i not in live:
            live.add(i)
            stack.extend(g.producer[t] for t in node_inputs(g.nodes[i]) if t in g.producer)
    return live


def _cut_reasons(g: Graph) -> dict[str, str | None]:
    """For every non-constant node output: None when it is a clean cut, else the reason.

    Computed once per analysed graph (`_reasons`), however often asked.
    """
    if "reasons" not in g.memo:
        g.memo["reasons"] = _reasons(g)
    return g.memo["reasons"]  # type: ignore[return-value]


def _reasons(g: Graph) -> dict[str, str | None]:
    """`_cut_reasons`, computed.

    A tensor is clean when it is the only activation alive across its producer's position in
    topological order: one sweep over lifetime intervals, O(nodes + edges). Reading a tensor
    only for its batch size (`batch_shapes`) does not keep it alive: the head takes the batch
    size from the cut instead, and what is computed from such sizes alone (`_floating`) may
    cross the cut, the head computes it again.
    """
    live, n = _live_nodes(g), len(g.nodes)
    soft = batch_shapes(g)
    floating = _floating(g, soft)
    death = {t: max((c for c in cs if c in live and soft.get(c) != t), default=-1)
             for t, cs in g.consumers.items()}  # fmt: skip
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
            if death.get(t, -1) > p and (t not in floating or t in g.outputs):
                active[t] = None
                ends[death[t]].append(t)
        for t in ends.pop(p, []):
            active.pop(t, None)
        for t in outs:
            reasons[t] = (_SHAPES if t in floating and t not in g.outputs
                          else _reason(g, t, active, live, soft))
    return _one_input(g, reasons)


def _one_input(g: Graph, reasons: dict[str, str | None]) -> dict[str, str | None]:
    """`reasons`, with clean cuts whose encoder would need several graph inputs marked.

    The tensors after a second input joins are clean cuts of the graph, but their encoder
    takes both inputs, and privaudit audits an encoder of one data input (`split_model`).
    """
    if len(g.inputs) < 2:
        return reasons
    needs: dict[str, frozenset[str]] = {t: frozenset({t}) for t in g.inputs}
    for node in g.nodes:
        deps = frozenset().union(*(needs.get(t, frozenset()) for t in node_inputs(node)))
        needs.update({t: deps for t in node.output if t})
    for t, reason in reasons.items():
        needed = [i for i in g.inputs if i in needs.get(t, ())]
        if reason is None and len(needed) > 1:
            reasons[t] = (f"its encoder would need {len(needed)} inputs, "
                          f"{quoted(needed)}; privaudit audits one data input")
    return reasons


_SHAPES = "it holds shapes, not the input's values"


def _reason(
    g: Graph, tensor: str, active: dict[str, None], live: set[int], soft: dict[int, str]
) -> str | None:
    if tensor in g.outputs:
        if any(c in live for c in g.consumers.get(tensor, [])):
            return ("it is also a graph output (the model returns it beside what follows): "
                    "privaudit cannot cut at a tensor the model returns")
        return "it is a graph output: nothing to split after it"
    if tensor not in active:
        return "the model outputs do not use it"
    other = next((t for t in active if t != tensor), None)
    if other is None:
        return _value_reason(g, tensor)
    more = f" (and {len(active) - 2} more)" if len(active) > 2 else ""
    if other in g.outputs:
        return f"graph output {other!r} is computed before the cut{more}"
    who = "graph input" if other in g.inputs else "tensor"
    pos = g.producer[tensor]
    after = [c for c in g.consumers.get(other, []) if c > pos and c in live and c not in soft]
    if after and all(g.nodes[c].op_type in _SHAPE_OPS for c in after):
        uses = ", ".join(dict.fromkeys(_shape_use(g, c) for c in after))
        return f"crossed by {who} {other!r} through its shape ({uses}){more}"
    source = _shape_source(g, other)
    if source is not None:
        measured = g.nodes[source].input[0]
        who = "graph input" if measured in g.inputs else "tensor"
        return (f"crossed by {other!r}, computed from the shape of {who} {measured!r} "
                f"({_shape_use(g, source)}){more}")
    if other in g.inputs:
        again = "a second input" if len(g.inputs) > 1 else "it is"
        return f"crossed by graph input {other!r} ({again} used after the cut){more}"
    return f"crossed by tensor {other!r} (skip connection or branch){more}"


def batch_shapes(g: Graph) -> dict[int, str]:
    """Shape nodes whose result serves only as the batch size: node index -> the tensor read.

    That is a Shape of a tensor whose first axis is the batch (the first graph input, or a
    tensor shape inference gives the input's batch dimension) that keeps only axis 0
    (``start=0, end=1``), or whose every reader is a Gather of index 0 or a Slice ``[0:1]``:
    the legacy exporter's ``x.view(x.size(0), -1)``. Any tensor with the batch axis first gives
    the same value, so the head of a split reads the cut instead (see `split_model`).
    """
    batch = _batch_dim(g)
    consts = Constants(g.model.graph)
    main = g.inputs[0] if g.inputs else None
    found: dict[int, str] = {}
    for i, node in enumerate(g.nodes):
        if node.op_type != "Shape" or not node.input or not node.input[0]:
            continue
        source = node.input[0]
        first = _display_shape(g.values.get(source))
        if source != main and not (
                first and batch is not None and first[0] == batch):
            continue
        start, end = _shape_range(node)
        if (start, end) == (0, 1):
            found[i] = source
            continue
        readers = g.consumers.get(node.output[0], [])
        if start == 0 and end is None and readers and all(
                _reads_first(g.nodes[c], consts) for c in readers):
            found[i] = source
    return found


def _floating(g: Graph, soft: dict[int, str]) -> set[str]:
    """Outputs of the `batch_shapes` nodes and of nodes computed from them and constants alone."""
    floating: set[str] = set()
    for i, node in enumerate(g.nodes):
        variable = [t for t in node_inputs(node) if t not in g.const]
        if i in soft or (variable and all(t in floating for t in variable)):
            floating.update(t for t in node.output if t)
    return floating


def _shape_range(node: onnx.NodeProto) -> tuple[int, int | None]:
    """A Shape node's ``start`` and ``end`` attributes (opset 15), ``(0, None)`` by default."""
    attrs = {a.name: a.i for a in node.attribute if a.type == onnx.AttributeProto.INT}
    return attrs.get("start", 0), attrs.get("end")


def _reads_first(node: onnx.NodeProto, consts: Constants) -> bool:
    """Whether `node`, reading a shape vector, keeps only its first entry (the batch size)."""
    ints = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute
            if a.type in (onnx.AttributeProto.INT, onnx.AttributeProto.INTS)}
    if node.op_type == "Gather" and len(node.input) == 2:
        indices = consts.get(node.input[1])
        return ints.get("axis", 0) in (0, -1) and indices is not None and (
            indices.size > 0 and bool((indices == 0).all()))
    if node.op_type == "Slice":
        if len(node.input) == 1:  # NOTE: before opset 10, starts/ends/axes are attributes
            parts = [ints.get(k) for k in ("starts", "ends", "axes")]
        else:
            parts = [consts.get(t) if t else None
                     for t in [*node.input[1:4], *[""] * (4 - len(node.input))]]
            steps = consts.get(node.input[4]) if len(node.input) > 4 and node.input[4] else None
            if steps is not None and list(np.ravel(steps)) != [1]:
                return False
        starts, ends, axes = (None if v is None else [int(x) for x in np.ravel(v)]
                              for v in parts)
        return starts == [0] and ends == [1] and axes in (None, [0], [-1])
    return False


def _shape_use(g: Graph, index: int) -> str:
    """How a Shape (or Size) node's result is used, e.g. ``Shape -> Gather axis 2``."""
    node = g.nodes[index]
    if node.op_type != "Shape":
        return node.op_type
    start, end = _shape_range(node)
    if (start, end) != (0, None):
        return f"Shape[{start}:{'' if end is None else end}]"
    consts = Constants(g.model.graph)
    uses = []
    for c in g.consumers.get(node.output[0], []):
        reader = g.nodes[c]
        value = consts.get(reader.input[1]) if len(reader.input) > 1 else None
        if reader.op_type == "Gather" and value is not None:
            axes = ", ".join(str(int(v)) for v in np.ravel(value))
            uses.append(f"Shape -> Gather axis {axes}")
        elif reader.op_type == "Slice" and value is not None:
            ends = consts.get(reader.input[2]) if len(reader.input) > 2 else None
            stop = "" if ends is None else ", ".join(str(int(v)) for v in np.ravel(ends))
            uses.append(f"Shape -> Slice [{int(np.ravel(value)[0])}:{stop}]")
        else:
            uses.append(f"Shape -> {reader.op_type}")
    return ", ".join(dict.fromkeys(uses)) or "Shape"


def _shape_source(g: Graph, tensor: str) -> int | None:
    """The Shape node a shape tensor is computed from (the first found), else None."""
    stack, seen = [tensor], set()
    while stack:
        t = stack.pop()
        i = g.producer.get(t)
        if i is None or i in seen or t in g.const:
            continue
        seen.add(i)
        node = g.nodes[i]
        if node.op_type == "Shape":
            return i
        if node.op_type in _SHAPE_OPS:
            return None
        stack.extend(node_inputs(node))
    return None


_FLOAT_TYPES = frozenset({onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE,
                          onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16})


def _value_reason(g: Graph, tensor: str) -> str | None:
    """Why the values of a cut nothing crosses cannot be features, else None.

    Features are float (noise is added to them and attacks differentiate through them) and
    keep the input's batch axis first (privaudit runs and concatenates them by sample). A
    tensor whose type or shape shape inference cannot tell is no cut (`split_model` needs
    both); a batch axis it cannot tell is given the benefit of the doubt.
    """
    value = g.values.get(tensor)
    elem = value.type.tensor_type.elem_type if value is not None else 0
    if elem and elem not in _FLOAT_TYPES:
        name = onnx.TensorProto.DataType.Name(elem).lower()
        return f"it holds {name} values, not float features"
    if value is None or not elem:  # NOTE: `split_model` cannot cut there: no type to give
        return "shape inference cannot tell its type (an operator it does not know?)"
    if not value.type.tensor_type.HasField("shape"):
        return "shape inference cannot tell its shape"
    shape = _display_shape(value)
    batch = _batch_dim(g)
    if shape is None or batch is None:
        return None
    if not shape:
        return "it is a scalar: it has no batch axis"
    first = shape[0]
    if first == batch or first is None:
        return None
    if isinstance(batch, str):
        moved = batch in shape[1:]
        if isinstance(first, int) or moved:
            where = f" (the batch {batch!r} is axis {shape.index(batch)})" if moved else ""
            return f"its first axis ({first}) is not the batch axis{where}"
        return None  # NOTE: another symbol, e.g. made up by shape inference after a Reshape
    if isinstance(first, int):
        if len(_display_shape(g.values.get(g.inputs[0])) or ()) == 1:
            return (f"the model input has no batch axis (shape ({batch},)): privaudit feeds "
                    "inputs of (N, ...) samples")
        return f"its first axis ({first}) is not the batch axis (the input's batch is {batch})"
    return None


def _batch_dim(g: Graph) -> Dim:
    """The first dimension (size or symbol) of the first graph input, None when unknown."""
    value = g.values.get(g.inputs[0]) if g.inputs else None
    shape = _display_shape(value)
    return shape[0] if shape else None


def _modules(g: Graph) -> dict[str, list[str]]:
    """Module name -> tensors leaving it (outputs used outside it), in order of appearance.

    Computed once per analysed graph, however often asked.
    """
    if "modules" not in g.memo:
        g.memo["modules"] = _leaving(g)
    return g.memo["modules"]  # type: ignore[return-value]


def _leaving(g: Graph) -> dict[str, list[str]]:
    """`_modules`, computed."""
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
    g = analyse(model)
    reasons, leaving = _cut_reasons(g), _modules(g)
    kinds = _kinds(g)
    depth = _depths(g, kinds)
    by_tensor: dict[str, list[str]] = defaultdict(list)
    rows: list[tuple[int, CutPoint]] = []
    for module, tensors in leaving.items():
        if len(tensors) == 1:
            by_tensor[tensors[0]].append(module)
            continue
        last = max(i for i, node in enumerate(g.nodes) if module in node_scopes(node))
        why = f"{len(tensors)} tensors leave it: {quoted(tensors)}" if tensors else "no output"
        rows.append((last, CutPoint(module, None, None, None, depth[last], False, why)))
    for p, node in enumerate(g.nodes):
        for t in (t for t in node.output if t):
            kind = kinds[t]
            reason = reasons.get(t, "a constant: it does not depend on the input")
            if kind == SHAPE and reason is None:
                reason = _SHAPES
            shape = _display_shape(g.values.get(t))
            modules: list[str | None] = [*by_tensor.get(t, [])] or [None]
            rows.extend(
                (p, CutPoint(m, t, node.op_type, shape, depth[p], reason is None, reason, kind))
                for m in modules
            )
    return [row for _, row in sorted(rows, key=lambda r: r[0])]


def _kinds(g: Graph) -> dict[str, str]:
    """`CONSTANT`, `SHAPE` or `ACTIVATION` for every node output.

    A tensor is a shape when a Shape (or Size) node computes it from an activation, or when
    every non-constant input of its node is a shape (Gather, Unsqueeze, Concat, ... on shapes,
    ConstantOfShape of one): its values do not depend on the input's values.
    """
    kinds: dict[str, str] = {}
    for node in g.nodes:
        variable = [t for t in node_inputs(node) if t not in g.const]
        shape = node.op_type in _SHAPE_OPS or (
            bool(variable) and all(kinds.get(t) == SHAPE for t in variable))
        for t in (t for t in node.output if t):
            kinds[t] = CONSTANT if t in g.const else SHAPE if shape else ACTIVATION
    return kinds


def _depths(g: Graph, kinds: dict[str, str]) -> list[float]:
    """Per node: the share of computational nodes (computing an activation) up to it, 0..1."""
    computes = [any(kinds.get(t) == ACTIVATION for t in node.output if t) for node in g.nodes]
    total = max(sum(computes), 1)
    depth, seen = [], 0
    for flag in computes:
        seen += flag
        depth.append(seen / total)
    return depth


def readable_shape(shape: tuple[Dim, ...] | None) -> str:
    """A shape as `privaudit layers` prints it, e.g. ``N×8×H×W``.

    A symbolic first dimension is the batch (``N``); dimension names that exporters and shape
    inference make up (``unk__0``, ``s77``, ``x_dynamic_axes_1``) and unknown ones are ``?``;
    other names are kept (``H``, ``height``). An unknown shape is ``?``.
    """
    if shape is None:
        return "?"
    dims = [_readable_dim(d, first=i == 0) for i, d in enumerate(shape)]
    return "×".join(dims) if dims else "scalar"


def _readable_dim(dim: Dim, *, first: bool) -> str:
    if isinstance(dim, int):
        return str(dim)
    if first:
        return "N"
    if dim is None or not dim.strip() or _GENERATED_DIM.search(dim):
        return "?"
    return dim


def quoted(names: list[str], limit: int = 8) -> str:
    """Up to `limit` names, quoted and comma-separated, with the total when cut short."""
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
    return resolve_in(analyse(model), name, model_name)


def resolve_in(g: Graph, name: str, model_name: str) -> str:
    """`resolve_split` on an already analysed graph."""
    tensor = _lookup(g, name, model_name)
    if tensor in g.inputs:
        raise ModelError(f"split {name!r} is at the model input: nothing to split",
                         hint=f"pick a layer inside the model; see `privaudit layers {model_name}`")
    if tensor in g.outputs and not g.consumers.get(tensor):
        raise ModelError(f"split {name!r} is at the model output {tensor!r}: nothing to split",
                         hint=f"pick an earlier layer; see `privaudit layers {model_name}`")
    if tensor in g.outputs:
        raise ModelError(f"split {name!r} (tensor {tensor!r}) is also an output of the model, "
                         "which privaudit cannot cut at",
                         hint="export the model without returning it (the logits alone), or cut "
                              f"next to it; see `privaudit layers {model_name}`")
    if tensor in g.const:
        raise ModelError(f"split {name!r} is a constant ({tensor!r}), not an activation",
                         hint=f"pick a layer output; see `privaudit layers {model_name}`")
    reason = _cut_reasons(g).get(tensor)
    if reason is not None:
        raise ModelError(f"cannot split at {name!r} (tensor {tensor!r}): {reason}",
                         hint=_nearest_clean(g, tensor, model_name))
    return tensor


KINDS = ("tensor", "node", "module")  # what a split name may be, in the order tried


def _lookup(g: Graph, name: str, model_name: str) -> str:
    """The tensor `name` means: a tensor, a node's one output or a module's leaving tensor.

    A name that means different tensors as two of these is refused; `tensor:NAME`,
    `node:NAME` or `module:NAME` says which (when NAME itself is no such name). A node or
    module of no single tensor counts as a meaning too: it is refused on its own, and makes
    the name ambiguous beside another.
    """
    kind, _, rest = name.partition(":")
    wanted = None
    if kind in KINDS and rest and not any(_meanings(g, name)):
        wanted, name = kind, rest
    found, problems = _meanings(g, name, only=wanted)
    tensors = dict.fromkeys(found.values())
    if len(tensors) + len(problems) > 1:
        said = [f"{k} {name!r}" + (f" (tensor {t!r})" if k != "tensor" else "")
                for k, t in found.items()]
        said += [f"{k} {name!r} ({why})" for k, (why, _) in problems.items()]
        raise ModelError(f"split {name!r} is ambiguous: it names {', '.join(said)}",
                         hint="say which: " + " or ".join(
                             f"--split {k}:{name}" for k in (*found, *problems)))  # fmt: skip
    if problems:
        ((kind_, (why, hint)),) = problems.items()
        raise ModelError(f"{kind_} {name!r} {why}", hint=hint.format(model=model_name))
    if tensors:
        return next(iter(tensors))
    if wanted is not None:
        raise ModelError(f"split {wanted}:{name}: the model has no {wanted} named {name!r}",
                         hint=f"list them with `privaudit layers {model_name}`")
    leaving = _modules(g)
    candidates = [*leaving, *(t for t in g.producer if t not in g.const)]
    close = difflib.get_close_matches(name, candidates, n=5, cutoff=0.5)
    shown = f"closest: {quoted(close)}; " if close else ""
    raise ModelError(f"split {name!r} not found in the model (no such module, node or tensor)",
                     hint=f"{shown}list them with `privaudit layers {model_name}`")


def _meanings(
    g: Graph, name: str, only: str | None = None
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """What `name` means: {kind: tensor}, and {kind: (why, hint)} where it has no one tensor.

    The kinds are tensor, node and module; a node of several outputs, or a module with no
    or several tensors leaving it, is a problem rather than a meaning.
    """
    out: dict[str, str] = {}
    problems: dict[str, tuple[str, str]] = {}
    if only in (None, "tensor") and (name in g.producer or name in g.inputs or name in g.const):
        out["tensor"] = name
    named = [n for n in g.nodes if name and n.name == name] if only in (None, "node") else []
    if named:
        outs = [t for n in named for t in n.output if t]
        if len(outs) == 1:
            out["node"] = str(outs[0])
        elif len(named) > 1:  # NOTE: ONNX does not require node names to be unique
            problems["node"] = (f"names {len(named)} nodes of the graph (their outputs: "
                                f"{quoted(outs)})", "pass one of these tensor names to --split")
        else:
            problems["node"] = (f"has {len(outs)} outputs: {quoted(outs)}",
                                "pass one of these tensor names to --split")
    leaving = _modules(g) if only in (None, "module") else {}
    if name in leaving:
        if len(leaving[name]) == 1:
            out["module"] = leaving[name][0]
        elif not leaving[name]:
            problems["module"] = ("has no activation leaving it",
                                  "pick another layer; see `privaudit layers {model}`")
        else:
            problems["module"] = (f"has {len(leaving[name])} tensors leaving it: "
                                  f"{quoted(leaving[name])}",
                                  "pass one of these tensors, or an enclosing module, to --split")
    return out, problems


def _nearest_clean(g: Graph, tensor: str, model_name: str) -> str:
    if "has no batch axis" in (_cut_reasons(g).get(tensor) or ""):
        return ("export the model with a batch axis first, e.g. torch.onnx.export(..., "
                "dynamic_axes={'x': {0: 'batch'}}) with x of shape (N, features)")
    clean = [t for t, r in _cut_reasons(g).items() if r is None]
    pos = g.producer[tensor]
    before = [t for t in clean if g.producer[t] < pos][-1:]
    after = [t for t in clean if g.producer[t] > pos][:1]
    if not before + after:
        return "this graph has no single-tensor cut; export the encoder and head separately"
    return (f"cut at a clean tensor instead, e.g. {quoted(before + after)}; list them "
            f"with `privaudit layers {model_name}`")

