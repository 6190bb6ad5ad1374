"""Module paths of ONNX nodes, from dynamo metadata or legacy node names ('layer3.1')."""

from __future__ import annotations

import ast

import onnx

__all__ = ["NAME_SCOPES_KEY", "node_scopes"]

NAME_SCOPES_KEY = "pkg.torch.onnx.name_scopes"


def node_scopes(node: onnx.NodeProto) -> list[str]:
    """Module paths enclosing a node, outermost first (e.g. ['layer3', 'layer3.1']).

    Dynamo exports carry them in the `pkg.torch.onnx.name_scopes` metadata, legacy exports in
    node names such as '/layer3/layer3.0/downsample/downsample.0/Conv'; other graphs have none.

    Args:
        node: an ONNX node.

    Returns:
        Full dotted module paths, or [] when the node carries no module naming.
    """
    for prop in node.metadata_props:
        if prop.key == NAME_SCOPES_KEY:
            return _dynamo_scopes(prop.value)
    if node.name.startswith("/"):
        return _legacy_scopes(node.name)
    return []


def _dynamo_scopes(text: str) -> list[str]:
    try:
        scopes = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return []
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        return []
    return [s for s in scopes[:-1] if s]


def _legacy_scopes(name: str) -> list[str]:
    # NOTE: legacy scopes are relative to the closest called ancestor, except Sequential
    # children, which repeat their parent's segment ('downsample' / 'downsample.0').
    paths: list[str] = []
    previous = ""
    for segment in (s for s in name.split("/")[1:-1] if s):
        if paths and segment.startswith(previous + "."):
            paths.append(paths[-1][: len(paths[-1]) - len(previous)] + segment)
        elif paths:
            paths.append(f"{paths[-1]}.{segment}")
        else:
            paths.append(segment)
        previous = segment
    return paths
