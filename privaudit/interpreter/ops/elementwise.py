"""ONNX elementwise math and reduction ops (arithmetic, comparisons, logic, Clip)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor

from privaudit.interpreter.ops.base import Args, Attrs, OpFn, Out, ints, opt, unary

__all__ = ["ELEMENTWISE_OPS"]


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


_UNARY: dict[str, Callable[[Tensor], Tensor]] = {
    "Sqrt": torch.sqrt,
    "Neg": torch.neg,
    "Exp": torch.exp,
    "Log": torch.log,
    "Abs": torch.abs,
    "Floor": torch.floor,
    "Ceil": torch.ceil,
    "Not": torch.logical_not,
    "Erf": torch.erf,
    "Identity": lambda x: x,
}

ELEMENTWISE_OPS: dict[str, OpFn] = {
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
    **{name: unary(fn) for name, fn in _UNARY.items()},
    "ReduceMean": _reduce(torch.mean),
    "ReduceSum": _reduce(torch.sum),
    "ReduceMax": _reduce(torch.amax),
    "ReduceMin": _reduce(torch.amin),
    "Clip": _clip,
}
