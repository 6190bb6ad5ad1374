"""ONNX Resize and Upsample ops: separable nearest and linear interpolation."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from privaudit.interpreter.ops.base import (
    Args,
    Attrs,
    OpFn,
    Out,
    Prepare,
    UnsupportedVariant,
    ints,
    opt,
)

__all__ = ["RESIZE_OPS", "RESIZE_PREPARE"]


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


RESIZE_OPS: dict[str, OpFn] = {
    "Resize": _resize,
    "Upsample": _resize,
}

RESIZE_PREPARE: dict[str, Prepare] = {
    "Resize": _prepare_resize,
    "Upsample": _prepare_upsample,
}
