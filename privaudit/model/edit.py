"""Edits of an ONNX file that privaudit writes: metadata, embedded noise, atomic save."""

from __future__ import annotations

import hashlib
from pathlib import Path

import onnx

from privaudit.errors import ConfigError, ModelError
from privaudit.model.metadata import EMBEDDED_NOISE
from privaudit.outputs import atomic_write

__all__ = ["embed_noise", "save_model", "set_metadata", "strip_embedded_noise"]

_CLEAN_SUFFIX = "_privaudit_clean"
_NOISE_SUFFIX = "_privaudit_noise"


def set_metadata(model: onnx.ModelProto, entries: dict[str, str]) -> onnx.ModelProto:
    """A copy of `model` whose metadata_props have `entries` set (other keys kept)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    kept = [(p.key, p.value) for p in out.metadata_props if p.key not in entries]
    del out.metadata_props[:]
    for key, value in [*kept, *entries.items()]:
        out.metadata_props.add(key=key, value=value)
    return out


def embed_noise(model: onnx.ModelProto, cut: str, noise_sigma: float) -> onnx.ModelProto:
    """A copy of `model` that adds N(0, sigma^2) noise to the cut tensor inside the graph.

    The producer of `cut` is renamed (node `<name>_privaudit_clean`, output
    `<cut>_privaudit_clean`), and `RandomNormalLike(scale=noise_sigma)` + `Add` write the noisy sum
    under the original tensor *and node* name. So every consumer reads the noisy features
    (the head gets them), and a split by module, node or tensor name still resolves to the
    noisy tensor: the device-side encoder carries the noise and deployment cannot forget it.
    The new nodes copy the producer's name prefix and metadata, so module scopes hold.
    `EMBEDDED_NOISE` records the cut so that `strip_embedded_noise` can undo it.

    Args:
        model: the full model.
        cut: the cut tensor (an output of a node, not a graph input or output).
        noise_sigma: noise std in feature units, > 0.

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
    rnd = onnx.helper.make_node("RandomNormalLike", [clean], [eps], name=name + _NOISE_SUFFIX,
                                mean=0.0, scale=float(noise_sigma))
    add = onnx.helper.make_node("Add", [clean, eps], [cut], name=name)
    for node in (rnd, add):
        node.metadata_props.extend(producer.metadata_props)
    del out.graph.node[:]
    out.graph.node.extend([*nodes[: pos + 1], rnd, add, *nodes[pos + 1 :]])
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
    noise_nodes = {cut, cut + _NOISE_SUFFIX}
    kept = [n for n in out.graph.node if not (set(n.output) & noise_nodes)]
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
