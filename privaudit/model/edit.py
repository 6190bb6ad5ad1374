"""Edits of an ONNX file that privaudit writes: metadata, embedded noise, atomic save."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from privaudit.errors import ConfigError, ModelError
from privaudit.model.metadata import EMBEDDED_NOISE
from privaudit.outputs import atomic_write

__all__ = ["embed_noise", "embedded_sigma", "save_model", "set_metadata", "strip_embedded_noise"]

_CLEAN_SUFFIX = "_privaudit_clean"
_NOISE_SUFFIX = "_privaudit_noise"
_UNIT_SUFFIX = "_privaudit_unit_noise"  # N(0, 1) draws, scaled per channel into the noise
_STDS_SUFFIX = "_privaudit_noise_stds"  # the per-channel stds, an initializer


def set_metadata(
    model: onnx.ModelProto, entries: dict[str, str], drop: Sequence[str] = ()
) -> onnx.ModelProto:
    """A copy of `model` with `entries` set in its metadata_props and `drop` removed."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    kept = [(p.key, p.value) for p in out.metadata_props
            if p.key not in entries and p.key not in drop]  # fmt: skip
    del out.metadata_props[:]
    for key, value in [*kept, *entries.items()]:
        out.metadata_props.add(key=key, value=value)
    return out


def embed_noise(
    model: onnx.ModelProto, cut: str, noise_sigma: float, stds: np.ndarray | None = None
) -> onnx.ModelProto:
    """A copy of `model` that adds N(0, sigma^2) noise to the cut tensor inside the graph.

    The producer of `cut` is renamed (node `<name>_privaudit_clean`, output
    `<cut>_privaudit_clean`), and `RandomNormalLike(scale=noise_sigma)` + `Add` write the noisy sum
    under the original tensor *and node* name. So every consumer reads the noisy features
    (the head gets them), and a split by module, node or tensor name still resolves to the
    noisy tensor: the device-side encoder carries the noise and deployment cannot forget it.
    With per-channel `stds`, `RandomNormalLike(scale=1)` is multiplied by them (an
    initializer shaped to broadcast over the cut) before the `Add`.
    The new nodes copy the producer's name prefix and metadata, so module scopes hold.
    `EMBEDDED_NOISE` records the cut so that `strip_embedded_noise` can undo it.

    Args:
        model: the full model.
        cut: the cut tensor (an output of a node, not a graph input or output).
        noise_sigma: noise std in feature units, > 0 (the RMS of `stds` when given).
        stds: per-channel noise stds, shaped to broadcast over the cut, e.g. (1, C, 1, 1).

    Returns:
        The new model.

    Raises:
        ModelError: `cut` is not produced by a node of the graph.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    nodes = list(out.graph.node)
    pos = next((i for i, n in enumerate(nodes) if cut in n.output), None)
    if pos is None:
        raise ModelError(f"cannot embed noise: no node computes {cut!r}")
    producer, clean, eps = nodes[pos], cut + _CLEAN_SUFFIX, cut + _NOISE_SUFFIX
    name = producer.name or cut
    producer.output[list(producer.output).index(cut)] = clean
    producer.name = name + _CLEAN_SUFFIX
    if stds is None:
        added = [onnx.helper.make_node("RandomNormalLike", [clean], [eps],
                                       name=name + _NOISE_SUFFIX, mean=0.0,
                                       scale=float(noise_sigma))]
    else:
        unit, const = cut + _UNIT_SUFFIX, cut + _STDS_SUFFIX
        elem = next((v.type.tensor_type.elem_type for v in (*out.graph.value_info,
                     *out.graph.output) if v.name == cut), onnx.TensorProto.FLOAT)
        dtype = onnx.helper.tensor_dtype_to_np_dtype(elem or onnx.TensorProto.FLOAT)
        out.graph.initializer.append(numpy_helper.from_array(np.asarray(stds, dtype), const))
        if out.ir_version < 4:  # NOTE: before IR 4 every initializer is a graph input too
            out.graph.input.append(onnx.helper.make_tensor_value_info(
                const, elem or onnx.TensorProto.FLOAT, list(np.shape(stds))))
        added = [onnx.helper.make_node("RandomNormalLike", [clean], [unit],
                                       name=name + _UNIT_SUFFIX, mean=0.0, scale=1.0),
                 onnx.helper.make_node("Mul", [unit, const], [eps], name=name + _NOISE_SUFFIX)]
    add = onnx.helper.make_node("Add", [clean, eps], [cut], name=name)
    for node in (*added, add):
        node.metadata_props.extend(producer.metadata_props)
    del out.graph.node[:]
    out.graph.node.extend([*nodes[: pos + 1], *added, add, *nodes[pos + 1 :]])
    onnx.checker.check_model(out)
    return set_metadata(out, {EMBEDDED_NOISE: cut})


def strip_embedded_noise(model: onnx.ModelProto) -> onnx.ModelProto:
    """Undo `embed_noise`: the deterministic model, for auditing (its sigma stays in metadata).

    Returns `model` itself when it carries no embedded noise.
    """
    cut = {p.key: p.value for p in model.metadata_props}.get(EMBEDDED_NOISE)
    if cut is None:
        return model
    out = onnx.ModelProto()
    out.CopyFrom(model)
    noise_nodes = {cut, cut + _NOISE_SUFFIX, cut + _UNIT_SUFFIX}
    kept = [n for n in out.graph.node if not (set(n.output) & noise_nodes)]
    stds = [t for t in out.graph.initializer if t.name == cut + _STDS_SUFFIX]
    for t in stds:
        out.graph.initializer.remove(t)
    for v in [v for v in out.graph.input if v.name == cut + _STDS_SUFFIX]:
        out.graph.input.remove(v)
    for node in kept:
        if cut + _CLEAN_SUFFIX in node.output:
            node.output[list(node.output).index(cut + _CLEAN_SUFFIX)] = cut
            node.name = node.name.removesuffix(_CLEAN_SUFFIX)
    del out.graph.node[:]
    out.graph.node.extend(kept)
    entries = [(p.key, p.value) for p in out.metadata_props if p.key != EMBEDDED_NOISE]
    del out.metadata_props[:]
    for key, value in entries:
        out.metadata_props.add(key=key, value=value)
    return out


def embedded_sigma(model: onnx.ModelProto) -> float | None:
    """The noise std that `embed_noise` put in `model`'s graph, read off the graph itself.

    The `RandomNormalLike` node's scale, or the root mean square of the per-channel stds it
    is multiplied by: the model's own sigma even when its metadata lost `privaudit.noise_sigma`.
    None when the model carries no embedded noise (or it cannot be read).
    """
    cut = {p.key: p.value for p in model.metadata_props}.get(EMBEDDED_NOISE)
    if cut is None:
        return None
    stds = next((t for t in model.graph.initializer if t.name == cut + _STDS_SUFFIX), None)
    if stds is not None:
        values = numpy_helper.to_array(stds).astype(np.float64)
        return float(np.sqrt(np.mean(values**2))) if values.size else None
    node = next((n for n in model.graph.node if cut + _NOISE_SUFFIX in n.output), None)
    if node is None or node.op_type != "RandomNormalLike":
        return None
    scale = next((a.f for a in node.attribute if a.name == "scale"), 1.0)
    return float(scale)


def save_model(model: onnx.ModelProto, path: Path) -> str:
    """Write `model` atomically (temporary file in the same folder, then os.replace).

    Returns:
        The sha256 (hex) of the written file.

    Raises:
        ConfigError: the folder cannot be written.
    """
    data = model.SerializeToString()
    try:
        atomic_write(data, path)
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror or e}",
                          hint="choose a writable output path with -o") from None
    return hashlib.sha256(data).hexdigest()
