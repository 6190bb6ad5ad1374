"""The published JSON Schemas (draft 2020-12) of report.json and sweep.json.

They are derived from the frozen result dataclasses, field by field, so they cannot drift
from what `to_dict` writes and `from_dict` reads: `scripts/make_schemas.py` writes them into
the package (`privaudit/results/schemas/`) and a test checks the shipped files are current.
`privaudit schema` prints the shipped file. A float may be null (NaN and infinities are
written as null); a field with a default may be absent (older version-3 reports lack it).
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import MISSING, fields, is_dataclass
from enum import Enum
from importlib import resources
from typing import Any

from privaudit.results.schema import SCHEMA_VERSION, AuditReport
from privaudit.results.sweep import SWEEP_KIND, SWEEP_SCHEMA_VERSION, SweepReport

__all__ = ["SCHEMA_KINDS", "build_schema", "schema_text", "shipped_schema"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_KINDS: dict[str, tuple[type, str]] = {
    "report": (AuditReport, "report.schema.json"),
    "sweep": (SweepReport, "sweep.schema.json"),
}
_CONSTANTS: dict[tuple[str, str], Any] = {
    ("AuditReport", "schema_version"): SCHEMA_VERSION,
    ("SweepReport", "schema_version"): SWEEP_SCHEMA_VERSION,
    ("SweepReport", "kind"): SWEEP_KIND,
}
# NOTE: image sample sets are packed as one PNG each in report.json (`results.samples`);
# vector and signal sets stay float lists.
_PACKED = {"$ref": "#/$defs/PackedSamples"}
_PACKED_FIELDS = {("AuditReport", "sample_images"), ("AttackResult", "reconstructions")}
_PACKED_DEF: dict[str, Any] = {
    "type": "object",
    "description": "An image sample set packed as one base64 8-bit PNG (pixel / 255).",
    "properties": {"encoding": {"const": "png"},
                   "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                   "data": {"type": "string"}},
    "required": ["encoding", "shape", "data"], "additionalProperties": False,
}
_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": ["number", "null"]},  # NOTE: NaN and infinities are written as null
    Any: {},
}


def build_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a saved report of `kind` ("report" or "sweep").

    Raises:
        KeyError: an unknown kind.
    """
    root, filename = SCHEMA_KINDS[kind]
    defs: dict[str, Any] = {}
    _define(root, defs)
    return {
        "$schema": DIALECT,
        "$id": f"urn:privaudit:schemas:{filename}",
        "title": f"privaudit {filename.split('.')[0]}.json",
        "description": _doc(root),
        "$ref": f"#/$defs/{root.__name__}",
        "$defs": dict(sorted(defs.items())),
    }


def schema_text(kind: str) -> str:
    """`build_schema(kind)` as the shipped file's text (indented JSON, newline at the end)."""
    return json.dumps(build_schema(kind), indent=2) + "\n"


def shipped_schema(kind: str) -> str:
    """The schema file shipped in the package for `kind`.

    Raises:
        KeyError: an unknown kind.
    """
    filename = SCHEMA_KINDS[kind][1]
    return resources.files("privaudit.results").joinpath("schemas", filename).read_text("utf-8")


def _define(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    """Add `cls` (a dataclass) and everything it holds to `defs`; return a reference to it."""
    name = cls.__name__
    if name not in defs:
        defs[name] = {}  # NOTE: placeholder first: AuditReport holds itself (harden.after)
        hints = typing.get_type_hints(cls)
        props, required = {}, []
        for f in fields(cls):
            constant = _CONSTANTS.get((name, f.name))
            props[f.name] = {"const": constant} if constant is not None else _type(
                hints[f.name], defs)
            if (name, f.name) in _PACKED_FIELDS:
                defs["PackedSamples"] = _PACKED_DEF
                props[f.name] = {"anyOf": [props[f.name], _PACKED]}
            if f.default is MISSING and f.default_factory is MISSING:
                required.append(f.name)
        defs[name] = {"type": "object", "description": _doc(cls), "properties": props,
                      "required": required, "additionalProperties": False}  # fmt: skip
    return {"$ref": f"#/$defs/{name}"}


def _type(hint: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """The schema of one field's type hint."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        assert len(inner) == 1, f"unsupported union {hint}"
        return _nullable(_type(inner[0], defs))
    if is_dataclass(hint) and isinstance(hint, type):
        return _define(hint, defs)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return {"enum": [m.value for m in hint]}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _type(args[0], defs)}
        return {"type": "array", "prefixItems": [_type(a, defs) for a in args],
                "minItems": len(args), "maxItems": len(args)}  # fmt: skip
    if origin is dict or hint is dict:
        values = _type(args[1], defs) if args else {}
        return {"type": "object", "additionalProperties": values}
    assert hint in _SCALARS, f"no JSON Schema for {hint!r}"
    return dict(_SCALARS[hint])


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    if isinstance(kind, list):
        return {**schema, "type": kind if "null" in kind else [*kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _doc(cls: type) -> str:
    return (cls.__doc__ or cls.__name__).strip().splitlines()[0]
