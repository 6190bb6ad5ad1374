"""Describe an ONNX model: its inputs, outputs and file hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import onnx

from privaudit.errors import ModelError
from privaudit.model.load import RE_EXPORT

__all__ = [
    "InputSpec",
    "image_input",
    "input_specs",
    "output_names",
    "sha256_bytes",
    "sha256_file",
    "value_shape",
]

_FLOAT_TYPES = frozenset(
    {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
     onnx.TensorProto.BFLOAT16}
)


@dataclass(frozen=True)
class InputSpec:
    """One graph input.

    Attributes:
        name: the input tensor name.
        shape: one entry per dimension; None where the dimension is dynamic or unknown.
        elem_type: the onnx.TensorProto element type (e.g. 1 = FLOAT); 0 for non-tensors.
    """

    name: str
    shape: tuple[int | None, ...]
    elem_type: int

    @property
    def is_float(self) -> bool:
        """Whether the element type is a floating-point type."""
        return self.elem_type in _FLOAT_TYPES


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks.

    Args:
        path: the file to hash.

    Returns:
        The 64-character lowercase hex digest.
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of bytes (an in-memory model's serialized form)."""
    return hashlib.sha256(data).hexdigest()


def value_shape(value: onnx.ValueInfoProto) -> tuple[int | None, ...] | None:
    """Shape of a tensor value, None for dynamic dims; None altogether when the rank is unknown.

    Args:
        value: a graph input, output or value_info entry.

    Returns:
        The shape, or None when the value is not a tensor of known rank.
    """
    tensor_type = value.type.tensor_type
    if not value.type.HasField("tensor_type") or not tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim)


def input_specs(model: onnx.ModelProto) -> list[InputSpec]:
    """The graph inputs that are not initializers, in graph order.

    Args:
        model: the ONNX model.

    Returns:
        One InputSpec per real (fed) input.
    """
    initializers = {t.name for t in model.graph.initializer}
    return [
        InputSpec(v.name, value_shape(v) or (), v.type.tensor_type.elem_type)
        for v in model.graph.input
        if v.name not in initializers
    ]


def image_input(model: onnx.ModelProto) -> InputSpec:
    """The input that takes images: the only input, or else the only 4-D float input.

    Args:
        model: the ONNX model.

    Returns:
        The image input.

    Raises:
        ModelError: no input, or several inputs and not exactly one 4-D float among them.
    """
    specs = input_specs(model)
    if len(specs) == 1:
        return specs[0]
    images = [s for s in specs if s.is_float and len(s.shape) == 4]
    if len(images) == 1:
        return images[0]
    if not specs:
        raise ModelError("the model has no input", hint=RE_EXPORT)
    listed = ", ".join(f"{s.name!r} {list(s.shape)}" for s in specs)
    raise ModelError(f"several inputs, cannot tell which is the image (or the data): {listed}",
                     hint="export an encoder with a single data input: (N, C, H, W), (N, C, T) "
                     "or (N, F)")


def output_names(model: onnx.ModelProto) -> list[str]:
    """Names of the graph outputs, in order.

    Args:
        model: the ONNX model.

    Returns:
        The output tensor names.
    """
    return [v.name for v in model.graph.output]
