"""Run ONNX models with onnxruntime on the CPU: sessions and batched inference."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from privaudit.errors import DataError, ModelError
from privaudit.model.load import RE_EXPORT, first_line
from privaudit.threads import session_threads

__all__ = ["make_session", "run_batched", "run_batched_outputs"]

_ORT_DTYPES: dict[str, type[np.generic]] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint64)": np.uint64,
    "tensor(uint32)": np.uint32,
    "tensor(uint16)": np.uint16,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}
# NOTE: onnxruntime raises these pybind classes, which do not share a useful Python base.
_ORT_ERRORS = (ort_state.Fail, ort_state.InvalidArgument, ort_state.RuntimeException,
               ort_state.InvalidGraph, ort_state.InvalidProtobuf, ort_state.NoSuchFile,
               ort_state.NotImplemented, ort_state.EPFail)


def make_session(
    model: onnx.ModelProto | bytes, *, threads: int | None = None
) -> ort.InferenceSession:
    """An onnxruntime CPU session.

    Args:
        model: the model, or its serialized bytes.
        threads: intra-op threads (None: the run's `threads`, see `privaudit.threads`).

    Returns:
        The inference session.

    Raises:
        ModelError: onnxruntime refuses the model.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads if threads is not None else session_threads()
    options.inter_op_num_threads = 1
    # NOTE: idle intra-op threads sleep instead of spinning after each run: privaudit
    # interleaves runs with numpy and torch work on the same cores, which a spinning pool
    # slowed (the sweep's noisy accuracies at the demo's layer1: 0.093 s spinning, 0.071 s not)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    data = model if isinstance(model, bytes) else model.SerializeToString()
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except _ORT_ERRORS as e:
        raise ModelError(f"onnxruntime cannot load the model: {first_line(e)}",
                         hint=f"check the opset and ops against onnxruntime {ort.__version__}, "
                         f"or {RE_EXPORT}") from e


def run_batched_outputs(
    session: ort.InferenceSession, x: np.ndarray, batch_size: int,
    outputs: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """Run a single-input session over `x` in batches and concatenate its outputs.

    A static batch dimension B (e.g. an export without dynamic axes: 1, 4, ...) is detected:
    every call then gets exactly B samples, the last one padded by repeating its last sample,
    and the padded rows' outputs are dropped.

    Args:
        session: a session with exactly one input.
        x: (N, ...) samples; cast to the input's element type.
        batch_size: samples per call (>= 1).
        outputs: the names of the outputs to fetch (None: every output).

    Returns:
        One (N, ...) array per output fetched, in order.

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
    x = _as_input(x, _ORT_DTYPES.get(spec.type), spec.name)
    _check_data_shape(x, list(spec.shape), spec.name)
    fixed = _fixed_batch(list(spec.shape))
    step = fixed or max(1, int(batch_size))
    chunks: list[list[np.ndarray]] = []
    for start in range(0, len(x), step):
        part = x[start : start + step]
        try:
            out = session.run(outputs, {spec.name: _pad_rows(part, fixed)})
        except _ORT_ERRORS as e:
            raise ModelError(f"onnxruntime failed on samples {start}..{start + len(part) - 1}: "
                             f"{first_line(e)}", hint=_failed_hint(spec.shape)) from e
        chunks.append([o[: len(part)] for o in out] if fixed else out)
    if not chunks:
        raise DataError("no samples to run", hint="pass at least one input sample")
    return [np.concatenate([c[k] for c in chunks]) for k in range(len(chunks[0]))]


def _failed_hint(shape: Sequence[object]) -> str:
    """RE_EXPORT; for a signal or image input whose channel count is dynamic, the layout too."""
    if len(shape) in (3, 4) and not isinstance(shape[1], int):
        return (RE_EXPORT + "; a model whose input keeps its channels last (N, H, W, C) or "
                "(N, T, C) needs --layout channels-last")
    return RE_EXPORT


def run_batched(session: ort.InferenceSession, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Run a single-input session over `x` in batches and return its first output.

    The first output is the encoder's features or the head's logits; a model with several
    outputs (e.g. logits and an embedding) has the others left unfetched.

    Args:
        session: a session with one input.
        x: (N, ...) samples; cast to the input's element type.
        batch_size: samples per call (>= 1); a static batch B gets calls of B samples.

    Returns:
        The (N, ...) first output.

    Raises:
        DataError: `x` does not match the input's shape.
        ModelError: the session does not have exactly one input, or fails.
    """
    first = session.get_outputs()[0].name
    return run_batched_outputs(session, x, batch_size, outputs=[first])[0]


def _fixed_batch(shape: Sequence[object]) -> int | None:
    """The static batch size of an input of `shape` (its first dimension), or None if dynamic."""
    first = shape[0] if shape else None
    return first if isinstance(first, int) and first > 0 else None


def _pad_rows(x: np.ndarray, rows: int | None) -> np.ndarray:
    """`x` (n <= rows samples) padded to `rows` by repeating its last sample (None: as is)."""
    if rows is None or len(x) == rows:
        return x
    return np.concatenate([x, np.repeat(x[-1:], rows - len(x), axis=0)])


def _as_input(x: np.ndarray, dtype: type[np.generic] | None, name: str) -> np.ndarray:
    """`x` as the input's element type; floats go to an integer type only if they are whole.

    Raises:
        DataError: float values that an integer input would truncate (never done silently).
    """
    x = np.asarray(x)
    if dtype is None or np.dtype(dtype).kind not in "iu" or x.dtype.kind != "f":
        return np.asarray(x, dtype=dtype)
    info = np.iinfo(np.dtype(dtype))
    whole = bool(np.isfinite(x).all()) and bool(np.array_equal(x, np.rint(x)))
    if not whole or (x.size and (x.min() < info.min or x.max() > info.max)):
        raise DataError(
            f"model input {name!r} takes {np.dtype(dtype).name} values, but the values given "
            "are not whole numbers in its range: they would be truncated",
            hint="give the model the integer pixels it was exported for (8-bit data)",
        )
    return x.astype(dtype)


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
