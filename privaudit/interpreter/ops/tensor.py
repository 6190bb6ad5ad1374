"""ONNX tensor ops: reshaping, splitting, slicing, padding, gathering and shape plumbing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import onnx
import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

from privaudit.interpreter.ops.base import (
    TORCH_DTYPES,
    Args,
    Attrs,
    OpFn,
    Out,
    Prepare,
    UnsupportedVariant,
    ints,
    one_input,
    opt,
    torch_pad,
)

__all__ = ["TENSOR_OPS", "TENSOR_PREPARE"]


def _flatten(args: Args, a: Attrs, training: bool) -> Out:
    x = args[0]
    axis = a.get("axis", 1)
    axis += x.dim() if axis < 0 else 0
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


def _reshape(args: Args, a: Attrs, training: bool) -> Out:
    x = args[0]
    shape = ints(args[1]) if len(args) > 1 else list(a["shape"])
    if not a.get("allowzero", 0):  # 0 copies the input dimension
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _transpose(args: Args, a: Attrs, training: bool) -> Out:
    x = args[0]
    return x.permute(a.get("perm", list(range(x.dim() - 1, -1, -1))))


def _split(args: Args, a: Attrs, training: bool) -> Out:
    x, sizes = args[0], opt(args, 1)
    axis = a.get("axis", 0)
    if sizes is not None:
        split = ints(sizes)
    elif "split" in a:
        split = a["split"]
    else:  # equal parts; with opset 18 num_outputs the last one may be smaller
        n, dim = a["_n_out"], x.shape[axis]
        size = -(-dim // n)
        split = [size] * (n - 1) + [dim - size * (n - 1)]
    return tuple(torch.split(x, split, axis))


def _split_to_sequence(args: Args, a: Attrs, training: bool) -> Out:
    x, split_t = args[0], opt(args, 1)
    axis = a.get("axis", 0) % x.dim()
    if split_t is None:  # size-1 pieces, squeezed unless keepdims
        parts = list(torch.split(x, 1, axis))
        if not a.get("keepdims", 1):
            parts = [p.squeeze(axis) for p in parts]
    else:
        sizes = ints(split_t)
        parts = list(torch.split(x, sizes[0] if split_t.dim() == 0 else sizes, axis))
    # NOTE: an ONNX sequence is kept as a Python list in the tensor environment.
    return (cast(Tensor, parts),)


def _sequence_at(args: Args, a: Attrs, training: bool) -> Out:
    return cast(list[Tensor], args[0])[int(args[1].item())]


def _prepare_split(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    return a | {"_n_out": a.get("num_outputs") or len(outputs)}


def _slice(args: Args, a: Attrs, training: bool) -> Out:
    x = args[0]
    if "starts" in a:  # opset < 10: attributes
        starts, ends, axes_t, steps_t = a["starts"], a["ends"], None, None
        axes = a.get("axes", list(range(len(starts))))
    else:
        starts, ends, axes_t, steps_t = ints(args[1]), ints(args[2]), opt(args, 3), opt(args, 4)
        axes = ints(axes_t) if axes_t is not None else list(range(len(starts)))
    steps = ints(steps_t) if steps_t is not None else [1] * len(starts)
    index = [slice(None)] * x.dim()
    flips: list[tuple[int, int, int, int]] = []
    for ax, s, e, st in zip(axes, starts, ends, steps, strict=True):
        ax %= x.dim()
        lo, hi, _ = slice(s, e, st).indices(x.shape[ax])  # ONNX clamping == Python's
        if st > 0:
            index[ax] = slice(lo, hi, st)
        else:
            flips.append((ax, lo, len(range(lo, hi, st)), -st))
    y = x[tuple(index)]
    for ax, lo, count, step in flips:  # torch has no negative steps: flip, then step forward
        first = x.shape[ax] - 1 - lo
        sub = [slice(None)] * y.dim()
        sub[ax] = slice(first, first + count * step, step)
        y = y.flip(ax)[tuple(sub)]
    return y


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def _pad(args: Args, a: Attrs, training: bool) -> Out:
    x, rank = args[0], args[0].dim()
    if "pads" in a:  # opset < 11: attributes
        pads, value, axes_t = list(a["pads"]), float(a.get("value", 0.0)), None
    else:
        cv, axes_t = opt(args, 2), opt(args, 3)
        pads, value = ints(args[1]), cv.item() if cv is not None and cv.numel() else 0
    axes = [ax % rank for ax in ints(axes_t)] if axes_t is not None else list(range(rank))
    begins, ends = [0] * rank, [0] * rank
    for i, ax in enumerate(axes):
        begins[ax], ends[ax] = pads[i], pads[i + len(axes)]
    tp = torch_pad(begins, ends)
    while len(tp) > 2 and tp[-1] == 0 and tp[-2] == 0:  # torch's reflect/edge pad only
        del tp[-2:]  # the trailing dims, so drop unpadded leading ones
    mode = a["_mode"]
    return F.pad(x, tp, value=value) if mode == "constant" else F.pad(x, tp, mode=mode)


def _prepare_pad(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    mode = a.get("mode", "constant")
    if mode not in _PAD_MODES:
        raise UnsupportedVariant(f"mode={mode}")
    return a | {"_mode": _PAD_MODES[mode]}


def _constant_of_shape(args: Args, a: Attrs, training: bool) -> Out:
    shape = args[0]
    return torch.full(ints(shape), a["_fill"], dtype=a["_dtype"], device=shape.device)


def _prepare_constant_of_shape(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    value: Tensor = a.get("value", torch.zeros(1))
    return a | {"_fill": value.reshape(-1)[0].item(), "_dtype": value.dtype}


def _shape(args: Args, a: Attrs, training: bool) -> Out:
    x = args[0]
    dims = x.shape[a.get("start", 0) : a.get("end")]  # ONNX clamping == Python slicing
    return torch.tensor(dims, dtype=torch.int64, device=x.device)


def _gather(args: Args, a: Attrs, training: bool) -> Out:
    x, idx = args[0], args[1]
    axis = a.get("axis", 0) % x.dim()
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    out = x.index_select(axis, idx.reshape(-1))
    return out.reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1 :])


def _axes(args: Args, a: Attrs) -> list[int] | None:
    """The `axes` attribute (older opsets) or input 1 (opset 13+); None when neither is given."""
    if "axes" in a:
        return list(a["axes"])
    axes_t = opt(args, 1)
    return ints(axes_t) if axes_t is not None else None


def _unsqueeze(args: Args, a: Attrs, training: bool) -> Out:
    x, axes = args[0], _axes(args, a) or []
    rank = x.dim() + len(axes)
    for ax in sorted(ax % rank for ax in axes):
        x = x.unsqueeze(ax)
    return x


def _squeeze(args: Args, a: Attrs, training: bool) -> Out:
    x, axes = args[0], _axes(args, a)
    if axes is None:
        return x.squeeze()
    return x.squeeze(tuple(ax % x.dim() for ax in axes))


def _prepare_cast(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    if a["to"] not in TORCH_DTYPES:
        raise UnsupportedVariant(f"to={onnx.TensorProto.DataType.Name(a['to'])}")
    return a | {"_dtype": TORCH_DTYPES[a["to"]]}


def _expand(args: Args, a: Attrs, training: bool) -> Out:
    x = args[0]
    return x.expand(torch.broadcast_shapes(x.shape, tuple(ints(args[1]))))


def _range(args: Args, a: Attrs, training: bool) -> Out:
    start, limit, delta = args[0], args[1], args[2]
    return torch.arange(
        start.item(), limit.item(), delta.item(), dtype=start.dtype, device=start.device
    )


TENSOR_OPS: dict[str, OpFn] = {
    # tensor manipulation
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Transpose": _transpose,
    "Concat": lambda args, a, t: torch.cat(list(args), a["axis"]),
    "Split": _split,
    "SplitToSequence": _split_to_sequence,
    "SequenceAt": _sequence_at,
    "Slice": _slice,
    "Pad": _pad,
    # shape plumbing (int64 tensors)
    "ConstantOfShape": _constant_of_shape,
    "Shape": _shape,
    "Gather": _gather,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Cast": one_input(lambda x, a: x.to(a["_dtype"])),
    "CastLike": lambda args, a, t: args[0].to(args[1].dtype),
    "Expand": _expand,
    "Range": _range,
}

TENSOR_PREPARE: dict[str, Prepare] = {
    "Split": _prepare_split,
    "Pad": _prepare_pad,
    "ConstantOfShape": _prepare_constant_of_shape,
    "Cast": _prepare_cast,
}
