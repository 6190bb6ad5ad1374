"""Torch implementations of the ONNX operators supported by the ONNX-to-torch interpreter."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import onnx
import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

from privaudit.errors import ModelError

Attrs = dict[str, Any]
# NOTE: omitted optional inputs arrive as None. They are typed `Tensor` so that the hot path
# needs no per-call asserts; optional slots are read through `opt`, which admits None.
Args = Sequence[Tensor]
Out = Tensor | tuple[Tensor, ...]
OpFn = Callable[[Args, Attrs, bool], Out]
Prepare = Callable[[Attrs, int, Sequence[str]], Attrs]

TORCH_DTYPES: dict[int, torch.dtype] = {
    onnx.TensorProto.FLOAT: torch.float32,
    onnx.TensorProto.DOUBLE: torch.float64,
    onnx.TensorProto.FLOAT16: torch.float16,
    onnx.TensorProto.BFLOAT16: torch.bfloat16,
    onnx.TensorProto.INT8: torch.int8,
    onnx.TensorProto.INT16: torch.int16,
    onnx.TensorProto.INT32: torch.int32,
    onnx.TensorProto.INT64: torch.int64,
    onnx.TensorProto.UINT8: torch.uint8,
    onnx.TensorProto.BOOL: torch.bool,
}

# Input slots that hold configuration, not weights: float initializers there stay frozen buffers.
CONFIG_SLOTS: dict[str, tuple[int, ...]] = {
    "BatchNormalization": (3, 4),
    "Resize": (1, 2, 3),
    "Upsample": (1,),
    "Clip": (1, 2),
    "Dropout": (1, 2),
    "Pad": (2,),
}


class UnsupportedVariant(Exception):
    """A supported op used with an attribute value that the interpreter does not implement."""


def opt(args: Args, i: int) -> Tensor | None:
    """Return input `i`, or None when it is omitted."""
    return args[i] if i < len(args) else None


def ints(t: Tensor) -> list[int]:
    """Return a shape-like int tensor as a flat list of Python ints."""
    return [int(v) for v in t.reshape(-1).tolist()]


def _unary(fn: Callable[[Tensor], Tensor]) -> OpFn:
    def op(args: Args, a: Attrs, training: bool) -> Out:
        return fn(args[0])

    return op


def _binary(fn: Callable[[Tensor, Tensor], Tensor]) -> OpFn:
    def op(args: Args, a: Attrs, training: bool) -> Out:
        return fn(args[0], args[1])

    return op


def _variadic(fn: Callable[[Tensor, Tensor], Tensor]) -> OpFn:
    def op(args: Args, a: Attrs, training: bool) -> Out:
        return functools.reduce(fn, args)

    return op


def _div(x: Tensor, y: Tensor) -> Tensor:
    if x.is_floating_point():
        return x / y
    return torch.div(x, y, rounding_mode="trunc")  # ONNX integer division truncates


def _pow(x: Tensor, y: Tensor) -> Tensor:
    return torch.pow(x, y).to(x.dtype)  # ONNX keeps the base's type


def _torch_pad(begins: Sequence[int], ends: Sequence[int]) -> list[int]:
    """ONNX per-axis (begin, end) pads → F.pad order (last axis first)."""
    out: list[int] = []
    for b, e in zip(reversed(begins), reversed(ends), strict=True):
        out += [b, e]
    return out


def _pads(
    a: Attrs, x: Tensor, kernel: Sequence[int], strides: Sequence[int], dil: Sequence[int]
) -> tuple[list[int], list[int]]:
    """Begin/end spatial pads of a Conv or pooling node, resolving auto_pad for `x`."""
    nd = len(kernel)
    mode = a.get("auto_pad", "NOTSET")
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        begins: list[int] = []
        ends: list[int] = []
        for size, k, s, d in zip(x.shape[2:], kernel, strides, dil, strict=True):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            begins.append(total // 2 if mode == "SAME_UPPER" else total - total // 2)
            ends.append(total - begins[-1])
        return begins, ends
    if mode == "VALID":
        return [0] * nd, [0] * nd
    pads = a.get("pads", [0] * 2 * nd)
    return list(pads[:nd]), list(pads[nd:])


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONVT = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_MAXPOOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVGPOOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _conv(args: Args, a: Attrs, training: bool) -> Out:
    x, w, b = args[0], args[1], opt(args, 2)
    nd = w.dim() - 2
    strides, dil = a.get("strides", [1] * nd), a.get("dilations", [1] * nd)
    begins, ends = _pads(a, x, w.shape[2:], strides, dil)
    if begins != ends:  # NOTE: torch convs only pad symmetrically
        x, begins = F.pad(x, _torch_pad(begins, ends)), [0] * nd
    return _CONV[nd](x, w, b, strides, begins, dil, a.get("group", 1))


def _convt_pads(
    a: Attrs, x: Tensor, w: Tensor, strides: Sequence[int], dil: Sequence[int], outpad: list[int]
) -> tuple[list[int], list[int]]:
    """Begin/end pads of a ConvTranspose node (explicit, or derived from output_shape/auto_pad)."""
    nd = w.dim() - 2
    mode = a.get("auto_pad", "NOTSET")
    shape = a.get("output_shape")
    if shape is None and mode in ("SAME_UPPER", "SAME_LOWER"):
        shape = [n * s for n, s in zip(x.shape[2:], strides, strict=True)]
    if shape is not None:
        dims = zip(x.shape[2:], w.shape[2:], strides, dil, outpad, shape[-nd:], strict=True)
        totals = [s * (n - 1) + p + (k - 1) * d + 1 - o for n, k, s, d, p, o in dims]
        upper = mode == "SAME_UPPER"
        begins = [t // 2 if upper else t - t // 2 for t in totals]
        return begins, [t - b for t, b in zip(totals, begins, strict=True)]
    if mode == "VALID":
        return [0] * nd, [0] * nd
    pads = a.get("pads", [0] * 2 * nd)
    return list(pads[:nd]), list(pads[nd:])


def _conv_transpose(args: Args, a: Attrs, training: bool) -> Out:
    x, w, b = args[0], args[1], opt(args, 2)
    nd = w.dim() - 2
    strides, dil = a.get("strides", [1] * nd), a.get("dilations", [1] * nd)
    outpad = list(a.get("output_padding", [0] * nd))
    group = a.get("group", 1)
    begins, ends = _convt_pads(a, x, w, strides, dil, outpad)
    limits = zip(outpad, strides, dil, begins, strict=True)
    if begins == ends and all(0 <= p < max(s, d) and q >= 0 for p, s, d, q in limits):
        return _CONVT[nd](x, w, b, strides, begins, outpad, group, dil)
    # General case: full transposed conv, then crop (negative pad) and output_padding.
    y = _CONVT[nd](x, w, None, strides, 0, 0, group, dil)
    ends = [p - e for p, e in zip(outpad, ends, strict=True)]
    y = F.pad(y, _torch_pad([-p for p in begins], ends))
    return y if b is None else y + b.reshape(-1, *[1] * nd)


def _gemm(args: Args, a: Attrs, training: bool) -> Out:
    x, w, c = args[0], args[1], opt(args, 2)
    if a.get("transA", 0):
        x = x.t()
    alpha, beta, trans_b = a.get("alpha", 1.0), a.get("beta", 1.0), a.get("transB", 0)
    bias_ok = c is None or (c.dim() == 1 and c.shape[0] == w.shape[0])
    if trans_b and alpha == 1.0 and beta == 1.0 and bias_ok:
        return F.linear(x, w, c)
    y = x @ (w.t() if trans_b else w)
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c if beta == 1.0 else beta * c)
    return y


def _maxpool(args: Args, a: Attrs, training: bool) -> Out:
    x, k = args[0], a["kernel_shape"]
    nd = len(k)
    strides, dil = a.get("strides", [1] * nd), a.get("dilations", [1] * nd)
    begins, ends = _pads(a, x, k, strides, dil)
    if begins != ends or any(2 * p > kk for p, kk in zip(begins, k, strict=True)):
        x, begins = F.pad(x, _torch_pad(begins, ends), value=-math.inf), [0] * nd
    return _MAXPOOL[nd](x, k, strides, begins, dil, ceil_mode=bool(a.get("ceil_mode", 0)))


def _avgpool(args: Args, a: Attrs, training: bool) -> Out:
    x, k = args[0], a["kernel_shape"]
    nd = len(k)
    strides = a.get("strides", [1] * nd)
    begins, ends = _pads(a, x, k, strides, [1] * nd)
    ceil, include = bool(a.get("ceil_mode", 0)), bool(a.get("count_include_pad", 0))
    pool = _AVGPOOL[nd]
    if begins == ends and all(2 * p <= kk for p, kk in zip(begins, k, strict=True)):
        return pool(x, k, strides, begins, ceil, include)
    tp = _torch_pad(begins, ends)
    y = pool(F.pad(x, tp), k, strides, 0, ceil, True)
    if include:
        return y
    ones = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
    return y / pool(F.pad(ones, tp), k, strides, 0, ceil, True)  # mean over real pixels only


def _global_pool(fn: Callable[[Tensor, tuple[int, ...], bool], Tensor]) -> OpFn:
    def op(args: Args, a: Attrs, training: bool) -> Out:
        x = args[0]
        return fn(x, tuple(range(2, x.dim())), True)

    return op


def _batchnorm(args: Args, a: Attrs, training: bool) -> Out:
    x, scale, bias, mean, var = args[:5]
    # NOTE: running statistics always; a fine-tune on a few thousand images must not move them.
    return F.batch_norm(x, mean, var, scale, bias, False, 0.0, a.get("epsilon", 1e-5))


def _layernorm(args: Args, a: Attrs, training: bool) -> Out:
    x, scale, bias = args[0], args[1], opt(args, 2)
    shape = x.shape[a.get("axis", -1) % x.dim() :]
    eps = a.get("epsilon", 1e-5)
    if scale.shape == shape and (bias is None or bias.shape == shape):
        return F.layer_norm(x, shape, scale, bias, eps)
    y = F.layer_norm(x, shape, None, None, eps) * scale
    return y if bias is None else y + bias


def _instancenorm(args: Args, a: Attrs, training: bool) -> Out:
    return F.instance_norm(args[0], weight=args[1], bias=args[2], eps=a.get("epsilon", 1e-5))


def _softmax(log: bool) -> OpFn:
    fn = torch.log_softmax if log else torch.softmax

    def op(args: Args, a: Attrs, training: bool) -> Out:
        x = args[0]
        if not a["_legacy"]:
            return fn(x, a.get("axis", -1))
        # Opset < 13 coerces the input to 2-D at `axis` (default 1).
        axis = a.get("axis", 1) % x.dim()
        return fn(x.reshape(math.prod(x.shape[:axis]), -1), 1).reshape(x.shape)

    return op


def _prepare_softmax(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    return a | {"_legacy": opset < 13}


def _prepare_batchnorm(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    if a.get("training_mode", 0) or any(outputs[1:]):
        raise ModelError(
            "BatchNormalization was exported in training mode (batch statistics)",
            hint="re-export the model after model.eval() (torch.onnx.export's default)",
        )
    return a


def _prepare_single_output(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    if any(outputs[1:]):
        raise UnsupportedVariant("extra outputs")
    return a


def _prepare_avgpool(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    if any(d != 1 for d in a.get("dilations", [])):
        raise UnsupportedVariant("dilations")
    return a


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
    tp = _torch_pad(begins, ends)
    while len(tp) > 2 and tp[-1] == 0 and tp[-2] == 0:  # torch's reflect/edge pad only
        del tp[-2:]  # the trailing dims, so drop unpadded leading ones
    mode = a["_mode"]
    return F.pad(x, tp, value=value) if mode == "constant" else F.pad(x, tp, mode=mode)


def _prepare_pad(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    mode = a.get("mode", "constant")
    if mode not in _PAD_MODES:
        raise UnsupportedVariant(f"mode={mode}")
    return a | {"_mode": _PAD_MODES[mode]}


def _source_coords(a: Attrs, out: int, inp: int, scale: float) -> Tensor:
    """Input coordinate (float64) of each output index along one resized axis."""
    d = torch.arange(out, dtype=torch.float64)
    mode = a["coordinate_transformation_mode"]
    if mode == "asymmetric":
        return d / scale
    if mode == "align_corners":
        return d * 0 if out == 1 else d * (inp - 1) / (out - 1)
    if mode == "pytorch_half_pixel" and out == 1:
        return d * 0
    if mode == "half_pixel_symmetric":
        adjust = out / (scale * inp)
        return inp / 2 * (1 - adjust) + (d + 0.5) / scale - 0.5
    return (d + 0.5) / scale - 0.5  # half_pixel, pytorch_half_pixel


_ROUNDING: dict[str, Callable[[Tensor], Tensor]] = {
    "round_prefer_floor": lambda p: torch.ceil(p - 0.5),
    "round_prefer_ceil": lambda p: torch.floor(p + 0.5),
    "floor": torch.floor,
    "ceil": torch.ceil,
}


def _resize_axis(x: Tensor, ax: int, out: int, scale: float, a: Attrs) -> Tensor:
    """Resize `x` along `ax` to `out` samples (separable nearest or linear interpolation)."""
    inp = x.shape[ax]
    pos = _source_coords(a, out, inp, scale)
    if a["mode"] == "nearest":
        rounding = a["nearest_mode"]
        if rounding == "simple":  # Upsample / Resize-10, as onnxruntime implements them
            rounding = "ceil" if scale < 1 else "floor"
        idx = _ROUNDING[rounding](pos).clamp(0, inp - 1).long()
        return x.index_select(ax, idx.to(x.device))
    pos = pos.clamp(0, inp - 1)
    lo_idx = pos.floor()
    shape = [1] * x.dim()
    shape[ax] = out
    w = (pos - lo_idx).to(dtype=x.dtype, device=x.device).reshape(shape)
    lo_idx = lo_idx.long().to(x.device)
    lo = x.index_select(ax, lo_idx)
    hi = x.index_select(ax, (lo_idx + 1).clamp(max=inp - 1))
    return lo + (hi - lo) * w


def _resize(args: Args, a: Attrs, training: bool) -> Out:
    x = args[0]
    if a["_legacy"]:  # Upsample, Resize-10: (X, scales) or a scales attribute
        scales_t, sizes_t = (None if "scales" in a else args[1]), None
        scales = list(a["scales"]) if "scales" in a else None
    else:
        scales_t, sizes_t, scales = opt(args, 2), opt(args, 3), None
    axes = [ax % x.dim() for ax in a.get("axes", range(x.dim()))]
    if scales_t is not None and scales_t.numel():
        scales = [float(s) for s in scales_t.reshape(-1).tolist()]
    if sizes_t is not None and sizes_t.numel():
        sizes = ints(sizes_t)
        scales = [o / x.shape[ax] for ax, o in zip(axes, sizes, strict=True)]
    else:
        assert scales is not None, "Resize needs scales or sizes"
        sizes = [math.floor(x.shape[ax] * s) for ax, s in zip(axes, scales, strict=True)]
    for ax, out, scale in zip(axes, sizes, scales, strict=True):
        if out != x.shape[ax] or scale != 1.0:
            x = _resize_axis(x, ax, out, scale, a)
    return x


def _prepare_resize(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    legacy = opset < 11 or "_upsample" in a
    defaults = {
        "mode": "nearest",
        "coordinate_transformation_mode": "asymmetric" if legacy else "half_pixel",
        "nearest_mode": "simple" if legacy else "round_prefer_floor",
    }
    a = defaults | a | {"_legacy": legacy}
    if a["mode"] not in ("nearest", "linear", "bilinear", "trilinear"):
        raise UnsupportedVariant(f"mode={a['mode']}")
    if a["coordinate_transformation_mode"] == "tf_crop_and_resize":
        raise UnsupportedVariant("coordinate_transformation_mode=tf_crop_and_resize")
    if a.get("antialias", 0):
        raise UnsupportedVariant("antialias=1")
    if a.get("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise UnsupportedVariant(f"keep_aspect_ratio_policy={a['keep_aspect_ratio_policy']}")
    return a


def _prepare_upsample(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    return _prepare_resize(a | {"_upsample": True}, opset, outputs)


def _reduce(fn: Callable[[Tensor, tuple[int, ...], bool], Tensor]) -> OpFn:
    def op(args: Args, a: Attrs, training: bool) -> Out:
        x, axes = args[0], a.get("axes")
        if axes is None:  # opset 18 (ReduceSum: 13) moved axes to an input
            axes_t = opt(args, 1)
            axes = ints(axes_t) if axes_t is not None else []
        if not axes:
            if a.get("noop_with_empty_axes", 0):
                return x
            axes = range(x.dim())
        return fn(x, tuple(axes), bool(a.get("keepdims", 1)))

    return op


def _clip(args: Args, a: Attrs, training: bool) -> Out:
    lo: Tensor | float | None = opt(args, 1)
    hi: Tensor | float | None = opt(args, 2)
    if "min" in a or "max" in a:  # opset < 11: attributes
        lo, hi = a.get("min"), a.get("max")
    if lo is None and hi is None:
        return args[0]
    return torch.clamp(args[0], lo, hi)  # type: ignore[arg-type]


def _dropout(args: Args, a: Attrs, training: bool) -> Out:
    x, ratio = args[0], opt(args, 1)
    p = float(ratio.item()) if ratio is not None else a.get("ratio", 0.5)
    if training and p > 0.0:
        mask = torch.rand_like(x) >= p
        y = x * mask / (1.0 - p)
    else:
        y = mask = x
        if a["_mask"]:
            mask = torch.ones_like(x, dtype=torch.bool)
    return (y, mask) if a["_mask"] else y


def _prepare_dropout(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    return a | {"_mask": len(outputs) > 1 and bool(outputs[1])}


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


def _hard_sigmoid(args: Args, a: Attrs, training: bool) -> Out:
    return torch.clamp(args[0] * a.get("alpha", 0.2) + a.get("beta", 0.5), 0.0, 1.0)


def _prelu(args: Args, a: Attrs, training: bool) -> Out:
    x = args[0]
    return torch.where(x >= 0, x, x * args[1])


def _arg(fn: Callable[[Tensor, Attrs], Tensor]) -> OpFn:
    """Wrap a one-input op that reads attributes."""

    def op(args: Args, a: Attrs, training: bool) -> Out:
        return fn(args[0], a)

    return op


_UNARY: dict[str, Callable[[Tensor], Tensor]] = {
    "Sqrt": torch.sqrt,
    "Neg": torch.neg,
    "Exp": torch.exp,
    "Log": torch.log,
    "Abs": torch.abs,
    "Floor": torch.floor,
    "Ceil": torch.ceil,
    "Not": torch.logical_not,
    "Relu": F.relu,
    "Sigmoid": torch.sigmoid,
    "Tanh": torch.tanh,
    "Erf": torch.erf,
    "HardSwish": F.hardswish,
    "Identity": lambda x: x,
}

OPS: dict[str, OpFn] = {
    # arithmetic and elementwise
    "Add": _binary(torch.add),
    "Sub": _binary(torch.sub),
    "Mul": _binary(torch.mul),
    "Div": _binary(_div),
    "Pow": _binary(_pow),
    "MatMul": _binary(torch.matmul),
    "Equal": _binary(torch.eq),
    "Less": _binary(torch.lt),
    "Greater": _binary(torch.gt),
    "And": _binary(torch.logical_and),
    "Or": _binary(torch.logical_or),
    "Min": _variadic(torch.minimum),
    "Max": _variadic(torch.maximum),
    "Where": lambda args, a, t: torch.where(args[0], args[1], args[2]),
    **{name: _unary(fn) for name, fn in _UNARY.items()},
    # activations with attributes
    "LeakyRelu": _arg(lambda x, a: F.leaky_relu(x, a.get("alpha", 0.01))),
    "Gelu": _arg(lambda x, a: F.gelu(x, approximate=a.get("approximate", "none"))),
    "HardSigmoid": _hard_sigmoid,
    "PRelu": _prelu,
    "Softmax": _softmax(log=False),
    "LogSoftmax": _softmax(log=True),
    # layers
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "Gemm": _gemm,
    "MaxPool": _maxpool,
    "AveragePool": _avgpool,
    "GlobalAveragePool": _global_pool(torch.mean),
    "GlobalMaxPool": _global_pool(torch.amax),
    "BatchNormalization": _batchnorm,
    "LayerNormalization": _layernorm,
    "InstanceNormalization": _instancenorm,
    "Dropout": _dropout,
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
    "Resize": _resize,
    "Upsample": _resize,
    "ReduceMean": _reduce(torch.mean),
    "ReduceSum": _reduce(torch.sum),
    "ReduceMax": _reduce(torch.amax),
    "ReduceMin": _reduce(torch.amin),
    "Clip": _clip,
    # shape plumbing (int64 tensors)
    "ConstantOfShape": _constant_of_shape,
    "Shape": _shape,
    "Gather": _gather,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Cast": _arg(lambda x, a: x.to(a["_dtype"])),
    "CastLike": lambda args, a, t: args[0].to(args[1].dtype),
    "Expand": _expand,
    "Range": _range,
}

PREPARE: dict[str, Prepare] = {
    "Softmax": _prepare_softmax,
    "LogSoftmax": _prepare_softmax,
    "BatchNormalization": _prepare_batchnorm,
    "LayerNormalization": _prepare_single_output,
    "MaxPool": _prepare_single_output,
    "AveragePool": _prepare_avgpool,
    "Split": _prepare_split,
    "Pad": _prepare_pad,
    "Resize": _prepare_resize,
    "Upsample": _prepare_upsample,
    "Dropout": _prepare_dropout,
    "ConstantOfShape": _prepare_constant_of_shape,
    "Cast": _prepare_cast,
}
