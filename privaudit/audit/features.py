"""The audit's clean encoder features, extracted once and shared by every measurement."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from privaudit.data import AuditPartition, Feed
from privaudit.errors import ModelError
from privaudit.model import run_batched

__all__ = ["FEATURE_LIMIT", "Features", "audit_labels", "check_finite", "encode",
           "extract_features"]

# NOTE: the bound sums squares of features in float32 (largest 3.4e38); features this large
# come from a broken model or normalization, never from a working encoder.
FEATURE_LIMIT = 1e15


@dataclass(frozen=True, eq=False)
class Features:
    """Clean features of the audit data, flattened to (N, m): aux rows first, then eval.

    One array; `aux` and `evaluation` are views of it, so the bound, the utility, the sweep
    and the attacks share the features without a copy.
    """

    all: np.ndarray
    n_aux: int
    shape: tuple[int, ...]  # per-sample feature shape before flattening

    @property
    def aux(self) -> np.ndarray:
        """The attacker's auxiliary samples' features (a view)."""
        return self.all[: self.n_aux]

    @property
    def evaluation(self) -> np.ndarray:
        """The evaluation samples' features (a view)."""
        return self.all[self.n_aux :]


def encode(session: object, feed: Feed, *parts: np.ndarray, batch: int) -> np.ndarray:
    """Clean encoder features of measured samples (pixels, standardised features), stacked.

    The feed (units, shape, normalization) is applied one batch at a time and each batch's
    features are written into one array allocated after the first batch, so memory is the
    features plus one batch of samples and its features: no normalized copy of the data, no
    list of batches to join.

    Args:
        session: the encoder's onnxruntime session.
        feed: measured samples -> the model's input.
        parts: sample arrays, encoded in order into consecutive rows of the result.
        batch: samples per onnxruntime call.

    Returns:
        (sum of the parts' N, ...) features; (0,) float32 when there are no images.
    """
    total, out, row = sum(len(x) for x in parts), None, 0
    for x in parts:
        for i in range(0, len(x), batch):
            z = run_batched(session, feed.apply(x[i : i + batch]), batch)
            if out is None:
                out = np.empty((total, *z.shape[1:]), z.dtype)
            out[row : row + len(z)] = z
            row += len(z)
    return out if out is not None else np.zeros((0,), np.float32)


def extract_features(
    audit: AuditPartition, feed: Feed, session: object, batch: int
) -> Features:
    """The clean features of the auxiliary then the evaluation samples, in one array."""
    z = encode(session, feed, audit.aux.x, audit.eval.x, batch=batch)
    check_finite(z, _output_name(session), "the encoder's output (the features)",
                 limit=FEATURE_LIMIT)
    shape = tuple(int(d) for d in z.shape[1:])
    return Features(z.reshape(len(z), -1), len(audit.aux.x), shape)


def audit_labels(audit: AuditPartition) -> np.ndarray | None:
    """Labels of the audit features' rows (aux, then eval), or None when unlabelled."""
    ya, ye = audit.aux.y, audit.eval.y
    return None if ya is None or ye is None else np.concatenate([ya, ye])


def check_finite(values: np.ndarray, tensor: str, what: str, *, limit: float | None = None) -> None:
    """Refuse NaN or infinite values (and, with `limit`, values beyond +-limit) in a tensor.

    Args:
        values: the tensor's values on the audit samples.
        tensor: its name in the graph, named in the message.
        what: what it is, e.g. "the head's output on noisy features (sigma 0.1)".
        limit: the largest magnitude accepted, or None.

    Raises:
        ModelError: a value is NaN, infinite or beyond the limit.
    """
    finite = np.isfinite(values)
    bad = values.size - int(np.count_nonzero(finite))
    if bad:
        raise ModelError(
            f"{what}, tensor {tensor!r}, has {bad} NaN or infinite values of {values.size}",
            hint="check the model's weights (NaN or inf?) and its input normalization "
            "(--mean/--std)",
        )
    if limit is not None and values.size and float(np.abs(values).max()) > limit:
        raise ModelError(
            f"{what}, tensor {tensor!r}, reaches {float(np.abs(values).max()):.3g}, beyond "
            f"{limit:g}: too large to measure",
            hint="check the model's weights and its input normalization (--mean/--std)",
        )


def _output_name(session: object) -> str:
    """The name of a session's first output tensor."""
    return str(session.get_outputs()[0].name)  # type: ignore[attr-defined]
