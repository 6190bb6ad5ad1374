"""Load and check an ONNX model safely, describe its inputs, and run it with onnxruntime."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import onnx
import onnx.external_data_helper
import onnxruntime as ort
from google.protobuf.message import DecodeError
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from privaudit.errors import DataError, ModelError

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
_FLOAT_TYPES = frozenset(
    {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
     onnx.TensorProto.BFLOAT16}
)
_ORT_DTYPES: dict[str, type[np.generic]] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}
# NOTE: onnxruntime raises these pybind classes, which do not share a useful Python base.
_ORT_ERRORS = (ort_state.Fail, ort_state.InvalidArgument, ort_state.RuntimeException,
               ort_state.InvalidGraph, ort_state.InvalidProtobuf, ort_state.NoSuchFile,
               ort_state.NotImplemented, ort_state.EPFail)
_RE_EXPORT = "re-export it with torch.onnx.export (or your toolchain's ONNX exporter)"


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


def load_model(path: Path) -> onnx.ModelProto:
    """Load an ONNX file and check it, without executing or unpickling anything.

    External data is only read after every location was checked to lie inside the model's folder.

    Args:
        path: the .onnx file.

    Returns:
        The checked model with its external data (if any) loaded.

    Raises:
        ModelError: missing, empty or non-ONNX file, invalid graph, custom-domain ops, or
            external data outside the model's folder.
    """
    path = Path(path)
    _check_file(path)
    try:
        # NOTE: binary protobuf only, whatever the file extension (no text/JSON parsing paths).
        model = onnx.load(str(path), format="protobuf", load_external_data=False)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise ModelError(f"{path} is not an ONNX model ({_first_line(e)})",
                         hint=f"pass the .onnx file itself; {_RE_EXPORT}") from e
    if model.ir_version == 0 or not model.HasField("graph"):
        raise ModelError(f"{path} is not an ONNX model (no IR version or graph)",
                         hint=f"pass the .onnx file itself; {_RE_EXPORT}")
    _check_domains(model, path)
    external = _check_external_locations(model, path.parent)
    _check_graph(str(path) if external else model, path)
    if external:
        try:
            onnx.external_data_helper.load_external_data_for_model(model, str(path.parent))
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot read the external data of {path}: {_first_line(e)}",
                             hint="save the model and its external data again") from e
    return model


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ModelError(f"model file not found: {path}", hint="check the path to the .onnx file")
    if path.is_dir():
        raise ModelError(f"{path} is a directory, not an ONNX file",
                         hint="pass the .onnx file inside it")
    if path.stat().st_size == 0:
        raise ModelError(f"{path} is empty", hint=f"{_RE_EXPORT}; the export may have failed")


def _check_graph(model: onnx.ModelProto | str, path: Path) -> None:
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as e:
        raise ModelError(f"{path} is not a valid ONNX model: {_first_line(e)}",
                         hint=_RE_EXPORT) from e


def _check_domains(model: onnx.ModelProto, path: Path) -> None:
    allowed = STANDARD_DOMAINS | {f.domain for f in model.functions}
    nodes = [*_walk_nodes(model.graph.node)]
    for function in model.functions:
        nodes.extend(_walk_nodes(function.node))
    custom = sorted({f"{n.domain}.{n.op_type}" for n in nodes if n.domain not in allowed})
    if custom:
        raise ModelError(f"{path} uses ops from custom domains: {', '.join(custom)}",
                         hint=f"{_RE_EXPORT} using standard ONNX ops only")


def _subgraphs(attr: onnx.AttributeProto) -> list[onnx.GraphProto]:
    return [attr.g] if attr.HasField("g") else list(attr.graphs)


def _walk_nodes(nodes: Iterable[onnx.NodeProto]) -> Iterator[onnx.NodeProto]:
    for node in nodes:
        yield node
        for attr in node.attribute:
            for sub in _subgraphs(attr):
                yield from _walk_nodes(sub.node)


def _node_tensors(nodes: Iterable[onnx.NodeProto]) -> Iterator[onnx.TensorProto]:
    for node in nodes:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            for sub in _subgraphs(attr):
                yield from _graph_tensors(sub)


def _graph_tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    yield from _node_tensors(graph.node)


def _walk_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    yield from _graph_tensors(model.graph)
    for function in model.functions:
        yield from _node_tensors(function.node)


def _check_external_locations(model: onnx.ModelProto, base: Path) -> bool:
    """Refuse external-data locations that escape `base`; return whether there are any."""
    found = False
    root = base.resolve()
    for tensor in _walk_tensors(model):
        if not onnx.external_data_helper.uses_external_data(tensor):
            continue
        found = True
        location = {e.key: e.value for e in tensor.external_data}.get("location", "")
        if not _is_safe_location(location, root):
            raise ModelError(
                f"tensor {tensor.name!r} points to external data outside the model's folder: "
                f"{location!r}",
                hint="keep the external data file next to the .onnx file and save it with a "
                "relative location",
            )
        if not (root / location).is_file():
            raise ModelError(f"external data file {location!r} of tensor {tensor.name!r} "
                             f"not found in {base}",
                             hint="copy the external data file next to the .onnx file")
    return found


def _is_safe_location(location: str, root: Path) -> bool:
    if not location or "\x00" in location:
        return False
    if PurePosixPath(location).is_absolute() or PureWindowsPath(location).is_absolute():
        return False
    if PureWindowsPath(location).drive or location.startswith(("/", "\\")):
        return False
    normal = os.path.normpath(location.replace("\\", "/"))
    if normal == ".." or normal.startswith("../"):
        return False
    # NOTE: resolve() follows symlinks, so a link inside the folder cannot point outside it.
    return (root / normal).resolve().is_relative_to(root)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


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
        raise ModelError("the model has no input", hint=_RE_EXPORT)
    listed = ", ".join(f"{s.name!r} {list(s.shape)}" for s in specs)
    raise ModelError(f"several inputs, cannot tell which is the image: {listed}",
                     hint="export an encoder with a single image input (N, C, H, W)")


def output_names(model: onnx.ModelProto) -> list[str]:
    """Names of the graph outputs, in order.

    Args:
        model: the ONNX model.

    Returns:
        The output tensor names.
    """
    return [v.name for v in model.graph.output]


def read_metadata(model: onnx.ModelProto) -> dict[str, str]:
    """The model-level metadata_props as a dict.

    Args:
        model: the ONNX model.

    Returns:
        Key to value; later duplicates win.
    """
    return {p.key: p.value for p in model.metadata_props}


def make_session(model: onnx.ModelProto | bytes, *, threads: int = 2) -> ort.InferenceSession:
    """An onnxruntime CPU session.

    Args:
        model: the model, or its serialized bytes.
        threads: intra-op threads (2 matches the reference CI machine).

    Returns:
        The inference session.

    Raises:
        ModelError: onnxruntime refuses the model.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    data = model if isinstance(model, bytes) else model.SerializeToString()
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except _ORT_ERRORS as e:
        raise ModelError(f"onnxruntime cannot load the model: {_first_line(e)}",
                         hint=f"check the opset and ops against onnxruntime {ort.__version__}, "
                         f"or {_RE_EXPORT}") from e


def run_batched_outputs(
    session: ort.InferenceSession, x: np.ndarray, batch_size: int
) -> list[np.ndarray]:
    """Run a single-input session over `x` in batches and concatenate every output.

    A static batch dimension of 1 (e.g. a dynamo export without dynamic_shapes) is
    detected and handled with one call per sample.

    Args:
        session: a session with exactly one input.
        x: (N, ...) samples; cast to the input's element type.
        batch_size: samples per call (>= 1).

    Returns:
        One (N, ...) array per session output.

    Raises:
        DataError: `x` does not match the input's shape.
        ModelError: the session has several inputs or onnxruntime fails while running.
    """
    inputs = session.get_inputs()
    if len(inputs) != 1:
        names = [i.name for i in inputs]
        raise ModelError(f"expected a model with one input, got {len(inputs)}: {names}",
                         hint="export the encoder and head with a single input each")
    spec = inputs[0]
    if not spec.shape:
        raise ModelError(f"model input {spec.name!r} has no batch dimension",
                         hint="export the model with a leading batch dimension (N, ...)")
    x = np.asarray(x, dtype=_ORT_DTYPES.get(spec.type))
    _check_data_shape(x, list(spec.shape), spec.name)
    step = 1 if spec.shape[0] == 1 else max(1, int(batch_size))
    chunks: list[list[np.ndarray]] = []
    for start in range(0, len(x), step):
        try:
            chunks.append(session.run(None, {spec.name: x[start : start + step]}))
        except _ORT_ERRORS as e:
            raise ModelError(f"onnxruntime failed on samples {start}..{start + step - 1}: "
                             f"{_first_line(e)}", hint=_RE_EXPORT) from e
    if not chunks:
        raise DataError("no samples to run", hint="pass at least one input sample")
    return [np.concatenate([c[k] for c in chunks]) for k in range(len(chunks[0]))]


def run_batched(session: ort.InferenceSession, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Run a single-input, single-output session over `x` in batches.

    Args:
        session: a session with one input and one output.
        x: (N, ...) samples; cast to the input's element type.
        batch_size: samples per call (>= 1); a static batch of 1 falls back to per-sample calls.

    Returns:
        The (N, ...) output.

    Raises:
        DataError: `x` does not match the input's shape.
        ModelError: the session does not have exactly one input and one output, or fails.
    """
    outputs = session.get_outputs()
    if len(outputs) != 1:
        raise ModelError(f"expected a model with one output, got {len(outputs)}: "
                         f"{[o.name for o in outputs]}",
                         hint="split the model so that the encoder has a single output")
    return run_batched_outputs(session, x, batch_size)[0]


def _check_data_shape(x: np.ndarray, shape: list[int | str | None], name: str) -> None:
    fixed = [d if isinstance(d, int) else None for d in shape]
    mismatch = x.ndim != len(fixed) or any(
        d is not None and d != s for d, s in zip(fixed[1:], x.shape[1:], strict=True)
    )
    if mismatch:
        raise DataError(
            f"input data of shape {list(x.shape)} does not match model input {name!r} "
            f"{[d if d is not None else '?' for d in fixed]}",
            hint="reshape or resize the samples to the model's input shape (N first)",
        )
