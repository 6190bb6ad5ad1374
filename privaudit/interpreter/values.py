"""Read ONNX protos as torch values: opset, tensors, attributes, constants, op variants."""

from __future__ import annotations

from typing import Any, Final, cast

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import Tensor

from privaudit.errors import ModelError
from privaudit.interpreter.ops import OPS, PREPARE
from privaudit.interpreter.ops.base import TORCH_DTYPES, Attrs, UnsupportedVariant

__all__ = [
    "DEFAULT_DOMAINS",
    "prepare_attrs",
    "read_attrs",
    "read_constant",
    "read_opset",
    "read_tensor",
    "unsupported_ops",
]

DEFAULT_DOMAINS: Final = ("", "ai.onnx")


def read_opset(model: onnx.ModelProto) -> int:
    """Opset version of the default ONNX domain."""
    for entry in model.opset_import:
        if entry.domain in DEFAULT_DOMAINS:
            return int(entry.version)
    raise ModelError("the model imports no default-domain ONNX opset", hint="re-export the model")


def read_tensor(proto: onnx.TensorProto) -> Tensor:
    """Tensor value of an ONNX TensorProto (initializer or attribute)."""
    dtype = TORCH_DTYPES.get(proto.data_type)
    if dtype is None:
        kind = onnx.helper.tensor_dtype_to_string(proto.data_type)
        raise ModelError(
            f"tensor {proto.name!r} has unsupported element type {kind}",
            hint="export the model with float32/int64 tensors",
        )
    arr = numpy_helper.to_array(proto)
    if dtype == torch.bfloat16:  # numpy has no bfloat16; go through float32 (exact)
        return torch.from_numpy(arr.astype(np.float32)).to(dtype)
    return torch.from_numpy(np.array(arr, copy=True))


def read_attrs(node: onnx.NodeProto) -> Attrs:
    """Node attributes as Python values (strings decoded, tensors as torch tensors)."""
    out: Attrs = {}
    for attr in node.attribute:
        value: Any = onnx.helper.get_attribute_value(attr)
        if attr.type == onnx.AttributeProto.STRING:
            value = value.decode()
        elif attr.type == onnx.AttributeProto.TENSOR:
            value = read_tensor(value)
        elif attr.type in (onnx.AttributeProto.INTS, onnx.AttributeProto.FLOATS):
            value = list(value)
        out[attr.name] = value
    return out


def read_constant(node: onnx.NodeProto) -> Tensor:
    """Value of a Constant node (value / value_float(s) / value_int(s))."""
    attrs = read_attrs(node)
    if "value" in attrs:
        return cast(Tensor, attrs["value"])
    for key, dtype in (("value_float", torch.float32), ("value_floats", torch.float32)):
        if key in attrs:
            return torch.tensor(attrs[key], dtype=dtype)
    for key in ("value_int", "value_ints"):
        if key in attrs:
            return torch.tensor(attrs[key], dtype=torch.int64)
    raise UnsupportedVariant(f"attribute {sorted(attrs)}")


def prepare_attrs(node: onnx.NodeProto, opset: int) -> Attrs:
    """Attributes of `node`, validated and completed for its op implementation."""
    attrs = read_attrs(node)
    prepare = PREPARE.get(node.op_type)
    return prepare(attrs, opset, list(node.output)) if prepare else attrs


def unsupported_ops(model: onnx.ModelProto) -> list[str]:
    """Names of the ops (or op variants) of `model` that the interpreter cannot run."""
    opset, bad = read_opset(model), []
    for node in model.graph.node:
        if node.domain not in DEFAULT_DOMAINS:
            bad.append(f"{node.domain}.{node.op_type}")
        elif node.op_type != "Constant" and node.op_type not in OPS:
            bad.append(node.op_type)
        else:
            try:
                read_constant(node) if node.op_type == "Constant" else prepare_attrs(node, opset)
            except UnsupportedVariant as exc:
                bad.append(f"{node.op_type} ({exc})")
    return bad
