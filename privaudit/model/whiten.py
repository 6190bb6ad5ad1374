"""Per-channel noise as whitening: a split whose cut carries z / a, so one sigma fits all.

A model hardened with `--defence noise-allocation` adds noise of std sigma_j = sigma * a_j to
channel j of the cut (axis 1), with mean a_j^2 = 1. Dividing channel j by a_j turns that
channel into z_j / a_j + sigma * eps: the same noisy observation up to an invertible,
per-channel rescaling, so every information quantity (leakage, floor, dFIL) and every attack's
best achievable error are unchanged, while all of them can keep working with one scalar sigma.
`whiten_split` makes that change in the two ONNX parts: the encoder ends in Mul(z, 1/a) and
the head starts with Mul(z', a), so head(encoder(x)) is the model's output as before.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import numpy_helper

from privaudit.errors import ModelError
from privaudit.model.split import Split

__all__ = ["broadcast_shape", "channel_scales", "whiten_split"]

_RAW_SUFFIX = "_privaudit_raw"  # the encoder's unwhitened cut inside the whitened encoder
_UNWHITENED_SUFFIX = "_privaudit_unwhitened"  # the head's rescaled input
_INV_SCALE_SUFFIX = "_privaudit_inv_scale"
MIN_SCALE = 1e-6  # the smallest per-channel std, as a share of their RMS, that can whiten
_SCALE_SUFFIX = "_privaudit_scale"


def channel_scales(stds: Sequence[float]) -> tuple[float, np.ndarray]:
    """The RMS sigma of per-channel stds and the scales a_j = std_j / sigma (mean a_j^2 = 1).

    Raises:
        ModelError: an empty list, or a std that is not finite and > 0.
    """
    values = np.asarray(stds, np.float64)
    if values.ndim != 1 or not len(values) or not (np.isfinite(values).all() and
                                                   (values > 0).all()):
        raise ModelError(f"per-channel noise stds must be finite and > 0, got {list(stds)}",
                         hint="re-harden the model, or correct privaudit.noise_sigmas in its "
                         "metadata: one std > 0 per channel of the cut (--noise only rescales "
                         "them)")
    sigma = float(np.sqrt(np.mean(values**2)))
    scales = values / sigma
    if not (math.isfinite(sigma) and scales.min() >= MIN_SCALE):
        # NOTE: the whitened cut divides by the scales: a tester's 1e-300 made it infinite
        raise ModelError(f"per-channel noise stds {list(stds)} span too much: the smallest is "
                         f"{scales.min():.3g} of their RMS (at least {MIN_SCALE:g})",
                         hint="re-harden the model, or correct privaudit.noise_sigmas in its "
                         "metadata")  # fmt: skip
    return sigma, scales


def broadcast_shape(feature_shape: tuple[int | None, ...], channels: int) -> tuple[int, ...]:
    """(1, C, 1, ...): per-channel constants for a batch of features of `feature_shape`.

    Raises:
        ModelError: the features have no channel axis, or a different number of channels.
    """
    if not feature_shape:
        raise ModelError("per-channel noise needs features with a channel axis (N, C, ...)",
                         hint="audit at the split the model was hardened at (its metadata "
                         "names it), or remove privaudit.noise_sigmas from its metadata")
    if feature_shape[0] is not None and feature_shape[0] != channels:
        raise ModelError(f"the model carries {channels} per-channel noise stds but its cut has "
                         f"{feature_shape[0]} channels",
                         hint="audit at the split the model was hardened at (its metadata "
                         "names it), or correct privaudit.noise_sigmas in its metadata")
    return (1, channels, *(1,) * (len(feature_shape) - 1))


def _elem_type(model: onnx.ModelProto, name: str) -> int:
    for value in (*model.graph.output, *model.graph.input, *model.graph.value_info):
        if value.name == name:
            return int(value.type.tensor_type.elem_type)
    return onnx.TensorProto.FLOAT


def _constant(name: str, values: np.ndarray, elem_type: int) -> onnx.TensorProto:
    dtype = onnx.helper.tensor_dtype_to_np_dtype(elem_type)
    return numpy_helper.from_array(values.astype(dtype), name)


def _rename_uses(graph: onnx.GraphProto, old: str, new: str) -> None:
    """Every node input `old` becomes `new`, in subgraphs too (their outer-scope reads)."""
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                _rename_uses(attr.g, old, new)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    _rename_uses(sub, old, new)


def whiten_split(split: Split, scales: np.ndarray) -> Split:
    """The split with cut z / a instead of z (module doc); `split` is left unchanged.

    Args:
        split: the model's split (with or without a head).
        scales: (C,) a_j > 0, one per channel (axis 1) of the cut.

    Returns:
        The new split: same cut name, input, outputs and feature shape.

    Raises:
        ModelError: the cut has no channel axis or another number of channels.
    """
    shape = broadcast_shape(split.feature_shape, len(scales))
    cut = split.cut_tensor
    a = np.asarray(scales, np.float64).reshape(shape)
    encoder = onnx.ModelProto()
    encoder.CopyFrom(split.encoder)
    elem = _elem_type(encoder, cut)
    raw = cut + _RAW_SUFFIX
    for node in encoder.graph.node:
        for i, name in enumerate(node.output):
            if name == cut:
                node.output[i] = raw
    _rename_uses(encoder.graph, cut, raw)
    encoder.graph.initializer.append(_constant(cut + _INV_SCALE_SUFFIX, 1.0 / a, elem))
    encoder.graph.node.append(onnx.helper.make_node(
        "Mul", [raw, cut + _INV_SCALE_SUFFIX], [cut], name=cut + "_privaudit_whiten"))
    head = None
    if split.head is not None:
        head = onnx.ModelProto()
        head.CopyFrom(split.head)
        unwhitened = cut + _UNWHITENED_SUFFIX
        _rename_uses(head.graph, cut, unwhitened)
        head.graph.initializer.append(_constant(cut + _SCALE_SUFFIX, a, elem))
        head.graph.node.insert(0, onnx.helper.make_node(
            "Mul", [cut, cut + _SCALE_SUFFIX], [unwhitened], name=cut + "_privaudit_unwhiten"))
    for part in (encoder, head):
        if part is not None and part.ir_version < 4:  # initializers are graph inputs there
            const = part.graph.initializer[-1]
            part.graph.input.append(
                onnx.helper.make_tensor_value_info(const.name, const.data_type, list(const.dims)))
    return Split(encoder, head, cut, split.input_name, split.output_names, split.feature_shape)
