"""Channels-last inputs, audited through a Transpose that privaudit adds and takes out again.

privaudit computes on channels-first samples (images `(N, C, H, W)`, signals `(N, C, T)`):
SSIM's windows, per-channel normalization, channel conversion, resizing and the attacks'
decoders all read the axes that way. A model taking `(N, H, W, C)` images or `(N, T, C)`
signals (TensorFlow/Keras and many exporters: a permute inside the graph) is given a
channels-first input of the same name, whose values a `Transpose` node hands to the original
graph: every number is computed on the real pixels, and the model computes exactly what it
computed before. `channels_last_view` undoes the edit, so that `harden` writes a model with
the user's own input layout.
"""

from __future__ import annotations

from collections.abc import Iterable

import onnx

from privaudit.config.choices import ChannelLayout
from privaudit.errors import ConfigError, ModelError
from privaudit.model.describe import image_input
from privaudit.model.load import subgraphs

__all__ = [
    "CHANNEL_COUNTS",
    "channels_first_view",
    "channels_last_view",
    "is_channels_first_view",
    "looks_channels_last",
    "transposed_signal",
]

# NOTE: the node privaudit adds; its name marks a model as a channels-first view
_NODE = "privaudit_channels_last"
_SUFFIX = "_privaudit_channels_last"
# an image input whose last axis has this many entries (grey, RGB, RGBA) and its second more
# than 4 takes its channels last
CHANNEL_COUNTS = frozenset({1, 3, 4})


def transposed_signal(model: onnx.ModelProto) -> tuple[int, int] | None:
    """(A, B) of a signal input (N, A, B), A > B, that the model first transposes to (N, B, A).

    Sizes cannot tell a signal's axes apart, but such a model most likely takes (N, T, C)
    (Keras exports keep channels last): read channels-first, it would be A channels of B
    steps. None for any other model, a channels-first view (`channels_first_view`) included.
    """
    if is_channels_first_view(model):
        return None
    spec = image_input(model)
    first = next((n for n in model.graph.node if spec.name in n.input), None)
    if first is None or first.op_type != "Transpose" or len(spec.shape) != 3:
        return None
    perm = next((list(a.ints) for a in first.attribute if a.name == "perm"), None)
    a, b = spec.shape[1], spec.shape[2]
    if perm != [0, 2, 1] or not (isinstance(a, int) and isinstance(b, int) and a > b):
        return None
    return a, b


def looks_channels_last(shape: tuple[int | None, ...]) -> bool:
    """Whether an image input `(N, A, B, C)` takes its channels last, by its sizes alone.

    True when its last axis has 1, 3 or 4 entries and its second more than 4 (read as
    `(N, C, H, W)` it would be H channels of W x C pixels), or is dynamic as is its third
    (`(N, ?, ?, 3)`: a fixed width of 3 under a dynamic channel count and height is no
    image). Signals (`(N, C, T)`: a channel count says nothing there) and other shapes are
    channels-first.
    """
    if len(shape) != 4 or shape[-1] not in CHANNEL_COUNTS:
        return False
    first, second = shape[1], shape[2]
    return first > 4 if first is not None else second is None


def channels_first_view(
    model: onnx.ModelProto,
    layout: str = ChannelLayout.AUTO,
    name: str = "the model",
    sizes: tuple[int, ...] | None = None,
) -> onnx.ModelProto:
    """`model` itself when its data input takes channels first, else a channels-first view.

    Args:
        model: the model (or encoder), with one data input (`image_input`).
        layout: `ChannelLayout.AUTO` (by `looks_channels_last`), `CHANNELS_FIRST` or
            `CHANNELS_LAST`.
        name: the model's name in messages.
        sizes: the per-sample input shape `--input-shape` gives (the model's own order),
            which fills the dynamic sizes `AUTO` judges.

    Returns:
        A copy whose input (same name, element type) is `(N, C, *spatial)` and whose first node
        transposes it to the original `(N, *spatial, C)` input, when the input takes its
        channels last; otherwise `model`.

    Raises:
        ConfigError: `--layout channels-last` for an input of rank other than 3 or 4.
    """
    if layout == ChannelLayout.CHANNELS_FIRST:
        return model
    try:
        spec = image_input(model)
    except ModelError:  # NOTE: no single data input: the split's own checks say why, later
        return model
    shape = spec.shape
    if sizes is not None and len(sizes) == len(shape) - 1:
        shape = (shape[0], *(d if d is not None else s for d, s in zip(shape[1:], sizes,
                                                                       strict=True)))
    if layout == ChannelLayout.AUTO and not looks_channels_last(shape):
        return model
    rank = len(spec.shape)
    if rank not in (3, 4):
        raise ConfigError(
            f"layout channels-last: {name}'s input {spec.name!r} has rank {rank}; channels "
            "come last only in signals (N, T, C) and images (N, H, W, C)",
            hint="drop --layout (or layout in the config): tabular inputs have no channel axis",
        )
    out = onnx.ModelProto()
    out.CopyFrom(model)
    value = next(v for v in out.graph.input if v.name == spec.name)
    inner = spec.name + _SUFFIX
    _rename_uses(out.graph.node, spec.name, inner)
    _rewire_outputs(out, spec.name, inner)
    dims = list(value.type.tensor_type.shape.dim)
    moved = [dims[0], dims[-1], *dims[1:-1]]
    _set_dims(value, moved)
    perm = [0, *range(2, rank), 1]
    node = onnx.helper.make_node("Transpose", [spec.name], [inner], name=_NODE, perm=perm)
    out.graph.node.insert(0, node)
    return out


def is_channels_first_view(model: onnx.ModelProto) -> bool:
    """Whether `model` is a `channels_first_view` of a channels-last model."""
    return _added(model) is not None


def _added(model: onnx.ModelProto) -> onnx.NodeProto | None:
    """The Transpose `channels_first_view` put in front of the graph, or None."""
    return next((n for n in model.graph.node if n.name == _NODE and n.op_type == "Transpose"),
                None)  # fmt: skip


def channels_last_view(model: onnx.ModelProto) -> onnx.ModelProto:
    """Undo `channels_first_view`: the model with its original channels-last input.

    Returns `model` itself when it is not such a view. Everything else (trained weights,
    embedded noise, metadata) is kept.
    """
    node = _added(model)
    if node is None:
        return model
    out = onnx.ModelProto()
    out.CopyFrom(model)
    outer, inner = node.input[0], node.output[0]
    kept = [n for n in out.graph.node if n.name != _NODE]
    _rename_uses(kept, inner, outer)
    _rewire_outputs(out, inner, outer)
    del out.graph.node[:]
    out.graph.node.extend(kept)
    value = next(v for v in out.graph.input if v.name == outer)
    dims = list(value.type.tensor_type.shape.dim)
    _set_dims(value, [dims[0], *dims[2:], dims[1]])
    return out


def _rename_uses(nodes: Iterable[onnx.NodeProto], old: str, new: str) -> None:
    """Every use of tensor `old` by `nodes` and their subgraphs reads `new`.

    If/Loop/Scan bodies see the outer scope, except where a body declares `old` itself.
    """
    for node in nodes:
        for i, used in enumerate(node.input):
            if used == old:
                node.input[i] = new
        for attr in node.attribute:
            for sub in subgraphs(attr):
                own = {v.name for v in sub.input} | {t.name for t in sub.initializer}
                if old not in own:
                    _rename_uses(sub.node, old, new)


def _rewire_outputs(model: onnx.ModelProto, old: str, new: str) -> None:
    """A graph output that is the input itself (an identity model) follows the rename."""
    for value in model.graph.output:
        if value.name == old:
            value.name = new


def _set_dims(value: onnx.ValueInfoProto, dims: list[onnx.TensorShapeProto.Dimension]) -> None:
    copies = []
    for d in dims:
        c = onnx.TensorShapeProto.Dimension()
        c.CopyFrom(d)
        copies.append(c)
    shape = value.type.tensor_type.shape
    del shape.dim[:]
    shape.dim.extend(copies)
