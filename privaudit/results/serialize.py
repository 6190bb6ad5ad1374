"""Generic JSON conversion of the frozen result dataclasses (NaN -> null, tuples <-> lists)."""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, fields, is_dataclass
from enum import Enum
from typing import Any, TypeVar

T = TypeVar("T")


def to_jsonable(value: Any) -> Any:
    """Recursively turn dataclasses, enums, tuples and non-finite floats into JSON values."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "dtype") and hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()  # NOTE: a numpy scalar (np.float64, np.bool_) as its Python value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, tuple | list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


def from_jsonable(cls: type[T], data: Any) -> T:
    """Rebuild dataclass `cls` from `to_jsonable` output, guided by its type hints.

    Raises:
        ValueError: `data` does not have the shape `cls` expects.
    """
    return typing.cast(T, _convert(cls, data, cls.__name__))


def _convert(hint: Any, data: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if data is None:
            if type(None) in args:
                return None
            data = float("nan")
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], data, where)
    if is_dataclass(hint):
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object")
        hints = typing.get_type_hints(hint)
        known = {f.name for f in fields(hint)}
        unknown = sorted(k for k in data if k not in known)
        if unknown:
            raise ValueError(f"{where}: unknown field {unknown[0]!r}")
        missing = [f.name for f in fields(hint) if f.name not in data
                   and f.default is MISSING and f.default_factory is MISSING]  # fmt: skip
        if missing:
            raise ValueError(f"{where}: the field {missing[0]!r} is missing")
        kwargs = {k: _convert(hints[k], v, f"{where}.{k}") for k, v in data.items()}
        # NOTE: is_dataclass narrows `hint` to a dataclass instance or class; here it is the
        # class (a type hint), which mypy cannot tell, so call it through a cast.
        return typing.cast(Callable[..., Any], hint)(**kwargs)
    if origin is tuple:
        if not isinstance(data, list):
            raise ValueError(f"{where}: expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, where) for v in data)
        return tuple(_convert(a, v, where) for a, v in zip(args, data, strict=True))
    if origin is dict or hint is dict:
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object")
        return dict(data)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(data)
    if hint is float:
        if data is None:
            return float("nan")
        if isinstance(data, int | float) and not isinstance(data, bool):
            return float(data)
        raise ValueError(f"{where}: expected a number")
    if hint in (int, str, bool) and (not isinstance(data, hint) or (
            hint is int and isinstance(data, bool))):  # fmt: skip
        raise ValueError(f"{where}: expected {hint.__name__}")
    return data


def dumps(value: Any) -> str:
    """Stable, indented JSON text (sorted keys are NOT used: field order is the schema order)."""
    return json_text(to_jsonable(value))


def json_text(data: Any) -> str:
    """JSON text indented by 2, except that a list of numbers (or booleans, nulls) is one line.

    Objects and lists of objects or strings are indented as ``json.dumps(indent=2)`` does;
    the numbers of a vector (a sample, per-sample values, a mean per channel) stay together
    on one line instead of one number per line.

    Raises:
        ValueError: a NaN or infinity (`to_jsonable` turns them into null first).
    """
    return _json(data, 0) + "\n"


def _json(value: Any, level: int) -> str:
    if isinstance(value, dict) and value:
        inner = "  " * (level + 1)
        items = [f"{inner}{json.dumps(str(k))}: {_json(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    if isinstance(value, list | tuple) and value:
        if not any(isinstance(v, dict | list | tuple | str) for v in value):
            return json.dumps(list(value), allow_nan=False)
        inner = "  " * (level + 1)
        items = [inner + _json(v, level + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * level + "]"
    return json.dumps(value, allow_nan=False)
