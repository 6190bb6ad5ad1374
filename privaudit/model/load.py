"""Load and check an ONNX file safely: no code execution, no unpickling, no path traversal."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import onnx
import onnx.external_data_helper
from google.protobuf.message import DecodeError

from privaudit.errors import ModelError
from privaudit.model.inference import check_inference_model

__all__ = [
    "RE_EXPORT",
    "STANDARD_DOMAINS",
    "check_model",
    "first_line",
    "load_model",
    "load_model_and_sha256",
    "model_sha256",
    "one_line",
    "subgraphs",
    "unique_node_names",
]

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
RE_EXPORT = "re-export it with torch.onnx.export (or your toolchain's ONNX exporter)"


def load_model(path: Path) -> onnx.ModelProto:
    """Load an ONNX file and check it, without executing or unpickling anything.

    External data is only read after every location was checked to lie inside the model's folder.

    Args:
        path: the .onnx file.

    Returns:
        The checked model with its external data (if any) loaded.

    Nodes that share a name (onnxruntime refuses them) are renamed apart (`unique_node_names`).

    Raises:
        ModelError: missing, empty or non-ONNX file, invalid graph, custom-domain ops,
            external data outside the model's folder, or a model exported in training mode
            or in half precision (`check_inference_model`).
    """
    return _load(Path(path))[0]


def load_model_and_sha256(path: Path) -> tuple[onnx.ModelProto, str]:
    """`load_model(path)` and `model_sha256(path)`, the file parsed once for both."""
    path = Path(path)
    model, locations = _load(path)
    return model, _digest(path, locations)


def model_sha256(path: Path) -> str:
    """Hex SHA-256 of a model: its .onnx file, and its external data files when it has any.

    A model whose weights live in external data files (torch's dynamo export writes
    `model.onnx.data`) changes without its .onnx file changing; the reports' model hash and
    the sweep's shard keys must change with it. Without external data it is the file's own
    SHA-256.

    Raises:
        ModelError: as `load_model`, for the file and its external data locations.
    """
    path = Path(path)
    return _digest(path, _check_external_locations(_parse(path), path))


def _load(path: Path) -> tuple[onnx.ModelProto, list[str]]:
    """The checked model with its external data loaded, and that data's locations."""
    model = _parse(path)
    _check_domains(model, path)
    locations = _check_external_locations(model, path)
    _check_graph(str(path) if locations else model, path)
    if locations:
        try:
            onnx.external_data_helper.load_external_data_for_model(model, str(path.parent))
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot read the external data of {path}: {first_line(e)}",
                             hint="save the model and its external data again") from e
    check_inference_model(model, str(path))
    unique_node_names(model)
    return model, locations


def _parse(path: Path) -> onnx.ModelProto:
    """The model file's protobuf, its external data not read (ModelError if it is not one)."""
    _check_file(path)
    try:
        # NOTE: binary protobuf only, whatever the file extension (no text/JSON parsing paths).
        model = onnx.load(str(path), format="protobuf", load_external_data=False)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise ModelError(f"{path} is not an ONNX model ({first_line(e)})",
                         hint=f"pass the .onnx file itself; {RE_EXPORT}") from e
    if model.ir_version == 0 or not model.HasField("graph"):
        raise ModelError(f"{path} is not an ONNX model (no IR version or graph)",
                         hint=f"pass the .onnx file itself; {RE_EXPORT}")
    return model


def _digest(path: Path, locations: list[str]) -> str:
    """SHA-256 of the file, then of each external data file after its location's name."""
    digest = hashlib.sha256()
    _update(digest, path)  # NOTE: alone, the file's own SHA-256
    for location in locations:
        digest.update(b"\0" + location.encode() + b"\0")
        _update(digest, path.parent / location)
    return digest.hexdigest()


def _update(digest: Any, file: Path) -> None:
    with file.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)


def check_model(model: onnx.ModelProto, name: str) -> onnx.ModelProto:
    """Check an in-memory model as `load_model` checks a file; it must hold all its data.

    Args:
        model: the model.
        name: how to refer to it in messages.

    Returns:
        `model` itself, or a copy whose duplicate node names are renamed apart.

    Raises:
        ModelError: not a ModelProto, no graph, custom-domain ops, external data, invalid
            graph, training-mode or half-precision model.
    """
    if not isinstance(model, onnx.ModelProto):
        raise ModelError(f"{name} is not an ONNX model ({type(model).__name__})",
                         hint="pass an onnx.ModelProto or the path of an .onnx file")
    path = Path(name)
    if model.ir_version == 0 or not model.HasField("graph"):
        raise ModelError(f"{name} is not an ONNX model (no IR version or graph)", hint=RE_EXPORT)
    _check_domains(model, path)
    if any(onnx.external_data_helper.uses_external_data(t) for t in _walk_tensors(model)):
        raise ModelError(f"{name} refers to external data files",
                         hint="pass the model's path instead, so its data files can be found")
    _check_graph(model, path)
    check_inference_model(model, name)
    if not _duplicate_names(model.graph):
        return model
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    unique_node_names(copy)
    return copy


def unique_node_names(model: onnx.ModelProto) -> None:
    """Rename nodes apart that share a name in one graph (onnxruntime refuses such a graph).

    The first node keeps its name; a later one gets a free `<name>_<k>` (k = 1, 2, ...), which
    keeps a legacy export's module path ('/layer1/Relu' -> '/layer1/Relu_1'). Subgraphs are
    renamed the same way, each on its own. Unnamed nodes stay unnamed.
    """
    _rename_apart(model.graph)


def _duplicate_names(graph: onnx.GraphProto) -> bool:
    names = [n.name for n in graph.node if n.name]
    return len(set(names)) != len(names) or any(
        _duplicate_names(sub) for n in graph.node for a in n.attribute for sub in subgraphs(a))


def _rename_apart(graph: onnx.GraphProto) -> None:
    taken = {n.name for n in graph.node if n.name}
    seen: set[str] = set()
    for node in graph.node:
        if node.name in seen:
            k = 1
            while f"{node.name}_{k}" in taken:
                k += 1
            node.name = f"{node.name}_{k}"
            taken.add(node.name)
        elif node.name:
            seen.add(node.name)
        for attr in node.attribute:
            for sub in subgraphs(attr):
                _rename_apart(sub)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ModelError(f"model file not found: {path}", hint="check the path to the .onnx file")
    if path.is_dir():
        raise ModelError(f"{path} is a directory, not an ONNX file",
                         hint="pass the .onnx file inside it")
    if path.stat().st_size == 0:
        raise ModelError(f"{path} is empty", hint=f"{RE_EXPORT}; the export may have failed")


def _check_graph(model: onnx.ModelProto | str, path: Path) -> None:
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as e:
        raise ModelError(f"{path} is not a valid ONNX model: {first_line(e)}",
                         hint=RE_EXPORT) from e


def _check_domains(model: onnx.ModelProto, path: Path) -> None:
    allowed = STANDARD_DOMAINS | {f.domain for f in model.functions}
    nodes = [*_walk_nodes(model.graph.node)]
    for function in model.functions:
        nodes.extend(_walk_nodes(function.node))
    custom = sorted({f"{n.domain}.{n.op_type}" for n in nodes if n.domain not in allowed})
    if custom:
        raise ModelError(f"{path} uses ops from custom domains: {', '.join(custom)}",
                         hint=f"{RE_EXPORT} using standard ONNX ops only")


def subgraphs(attr: onnx.AttributeProto) -> list[onnx.GraphProto]:
    """The subgraphs an attribute holds (If/Loop/Scan bodies), in order."""
    return [attr.g] if attr.HasField("g") else list(attr.graphs)


def _walk_nodes(nodes: Iterable[onnx.NodeProto]) -> Iterator[onnx.NodeProto]:
    for node in nodes:
        yield node
        for attr in node.attribute:
            for sub in subgraphs(attr):
                yield from _walk_nodes(sub.node)


def _node_tensors(nodes: Iterable[onnx.NodeProto]) -> Iterator[onnx.TensorProto]:
    for node in nodes:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            for sub in subgraphs(attr):
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


def _check_external_locations(model: onnx.ModelProto, path: Path) -> list[str]:
    """Refuse external-data locations that escape the model's folder; the sorted locations."""
    found: set[str] = set()
    base = path.parent
    root = base.resolve()
    for tensor in _walk_tensors(model):
        if not onnx.external_data_helper.uses_external_data(tensor):
            continue
        location = {e.key: e.value for e in tensor.external_data}.get("location", "")
        if not _is_safe_location(location, root):
            raise ModelError(
                f"{path}: tensor {tensor.name!r} points to external data outside the model's "
                f"folder: {location!r}",
                hint="keep the external data file next to the .onnx file and save it with a "
                "relative location",
            )
        if not (root / location).is_file():
            raise ModelError(f"external data file {location!r} of tensor {tensor.name!r} "
                             f"not found in {base}",
                             hint="copy the external data file next to the .onnx file")
        found.add(location)
    return sorted(found)


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


def one_line(error: BaseException) -> str:
    """An exception's whole message on one line (its type name when the message is empty).

    onnx's checker spreads one sentence over several lines ("... however input 'a' of node:"
    and the node on the next ones); the first line alone would end mid-sentence.
    """
    text = " ".join(str(error).split())
    return text or type(error).__name__


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (its type name when the message is empty)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

