"""Build the attacker's Target from a prepared run: ORT query function and torch encoder."""

from __future__ import annotations

import logging

import numpy as np
import onnx
import torch
from torch import nn

from privaudit.attacks import Capability, Target
from privaudit.audit.features import encode
from privaudit.audit.prepare import Prepared
from privaudit.config import Domain
from privaudit.data import Feed
from privaudit.errors import PrivauditError
from privaudit.interpreter import to_torch
from privaudit.model import image_input

__all__ = ["MeasuredEncoder", "build_target", "torch_encoder"]

log = logging.getLogger(__name__)


class MeasuredEncoder(nn.Module):
    """Measured samples -> the model's input (`Feed`) -> encoder -> features (differentiable).

    Measured samples are pixels in [0, 1] for images, standardised features for tabular
    vectors and signals. A float64 model gets its input in float64 and gives float32 features,
    as onnxruntime's features are read (`encode`).
    """

    def __init__(self, encoder: nn.Module, feed: Feed, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.encoder = encoder
        self.feed = feed
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features of measured samples `x` (N, ...)."""
        out: torch.Tensor | tuple[torch.Tensor, ...] = self.encoder(
            self.feed.apply_torch(x).to(self.dtype))
        first = out[0] if isinstance(out, tuple) else out
        return first.float() if first.is_floating_point() else first


def torch_encoder(prep: Prepared) -> tuple[nn.Module | None, str]:
    """The encoder as a torch module on measured samples, or None and the reason it failed."""
    if prep.norm.integer:  # NOTE: rounding to whole pixels has no gradient: no white box
        return None, ("the encoder takes whole-number (integer) pixels, so it has no gradient "
                      "with respect to its input")
    try:
        module = to_torch(prep.split.encoder, trainable=False)
    except PrivauditError as e:
        log.info("encoder not convertible to torch: %s", e)
        return None, str(e)
    double = image_input(prep.split.encoder).elem_type == onnx.TensorProto.DOUBLE
    dtype = torch.float64 if double else torch.float32
    return MeasuredEncoder(module, prep.feed, dtype).eval(), "ok"


def build_target(prep: Prepared, session: object, batch: int = 256) -> tuple[Target, str]:
    """The Target the battery attacks, and the torch-conversion status ("ok" or why not)."""
    module, conversion = torch_encoder(prep)
    caps = {Capability.QUERY}
    if module is not None:
        caps.add(Capability.GRADIENTS)
    if prep.audit.aux.y is not None:
        caps.add(Capability.LABELS)
    sample = encode(session, prep.feed, prep.audit.aux.x[:1], batch=batch)

    def query(x: np.ndarray) -> np.ndarray:
        return encode(session, prep.feed, x, batch=batch)

    target = Target(
        input_shape=tuple(int(d) for d in prep.audit.aux.x.shape[1:]),
        feature_shape=tuple(int(d) for d in sample.shape[1:]),
        noise_sigma=prep.noise_sigma,
        query=query,
        torch_encoder=module,
        capabilities=frozenset(caps),
        domain=prep.dataset.domain,
        bounds=_bounds(prep),
    )
    return target, conversion


def _bounds(prep: Prepared) -> tuple[np.ndarray, np.ndarray] | None:
    """The range the attacker clips reconstructions to: None for pixels (always [0, 1]).

    For tabular vectors and signals, each feature's observed range over the auxiliary data,
    which the attacker holds (measured units).
    """
    if prep.dataset.domain == Domain.IMAGE:
        return None
    x = prep.audit.aux.x
    axes = (0, *range(2, x.ndim))
    shape = (x.shape[1],) + (1,) * (x.ndim - 2)
    return x.min(axis=axes).reshape(shape), x.max(axis=axes).reshape(shape)
