"""Shared types, dtype table and small helpers of the ONNX op implementations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import onnx
import torch
from torch import Tensor

__all__ = [
    "TORCH_DTYPES",
    "Args",
    "Attrs",
    "OpFn",
    "Out",
    "Prepare",
    "UnsupportedVariant",
    "ints",
    "one_input",
    "opt",
    "torch_pad",
    "unary",
]

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


class UnsupportedVariant(Exception):
    """A supported op used with an attribute value that the interpreter does not implement."""


def opt(args: Args, i: int) -> Tensor | None:
    """Return input `i`, or None when it is omitted."""
    return args[i] if i < len(args) else None


def ints(t: Tensor) -> list[int]:
    """Return a shape-like int tensor as a flat list of Python ints."""
    return [int(v) for v in t.reshape(-1).tolist()]


def torch_pad(begins: Sequence[int], ends: Sequence[int]) -> list[int]:
    """ONNX per-axis (begin, end) pads → F.pad order (last axis first)."""
    out: list[int] = []
    for b, e in zip(reversed(begins), reversed(ends), strict=True):
        out += [b, e]
    return out


def unary(fn: Callable[[Tensor], Tensor]) -> OpFn:
    """Wrap a one-input op without attributes."""

    def op(args: Args, a: Attrs, training: bool) -> Out:
        return fn(args[0])

    return op


def one_input(fn: Callable[[Tensor, Attrs], Tensor]) -> OpFn:
    """Wrap a one-input op that reads attributes."""

    def op(args: Args, a: Attrs, training: bool) -> Out:
        return fn(args[0], a)

    return op
