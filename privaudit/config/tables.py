"""Build frozen dataclasses from TOML tables, type-checked, and turn them back into plain data."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

from privaudit.errors import ConfigError

Hooks = Mapping[type, Callable[[Mapping[str, Any]], Mapping[str, Any]]]
INTERNAL_FIELDS = ("config_path",)  # set by the loader, never by a table


@dataclass(frozen=True)
class _Rules:
    """How a table is read: its per-class rewrites, and whether values may be flag text."""

    hooks: Hooks
    text_lists: bool


def build_dataclass(
    cls: type[Any],
    table: Mapping[str, Any],
    prefix: str,
    hooks: Hooks | None = None,
    *,
    text_lists: bool = False,
) -> Any:
    """Instantiate dataclass `cls` from a TOML `table`, type-checking every value.

    Args:
        cls: a (frozen) dataclass whose annotations say what each key must hold.
        table: the TOML table; lists become tuples, strings become Paths where annotated.
        prefix: the dotted key of `table` (for messages), e.g. ``"gate."``.
        hooks: per-class rewrites of a table before it is checked (e.g. to gather
            free-form sub-tables into one field).
        text_lists: also accept a list as comma-separated text, with numbers as text
            (command-line values such as ``-f json,html``); in a TOML file, lists and numbers
            must have their TOML types.

    Raises:
        ConfigError: unknown key (with the closest name), or a value of the wrong type.
    """
    return _build(cls, table, prefix, _Rules(hooks or {}, text_lists))


def _build(cls: type[Any], table: Mapping[str, Any], prefix: str, rules: _Rules) -> Any:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{prefix.rstrip('.')}: expected a table, got {table!r}")
    if cls in rules.hooks:
        table = rules.hooks[cls](table)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls) if f.init and f.name not in INTERNAL_FIELDS]
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f"did you mean '{prefix}{close[0]}'? " if close else ""
            home = _section_of(cls, hints, names, key)
            if home is not None and not close:  # NOTE: a section's key given at the top
                hint = (f"'{key}' is a key of the {home} section ([tool.privaudit.{home}], "
                        f"or {home}={{'{key}': ...}} in Python); ")
            raise ConfigError(
                f"unknown config key '{prefix}{key}'", hint=f"{hint}valid keys: {', '.join(names)}"
            )
        values[key] = _coerce(value, hints[key], prefix + key, rules)
    return cls(**values)


def _section_of(cls: type[Any], hints: Mapping[str, Any], names: list[str],
                key: str) -> str | None:  # fmt: skip
    """The nested section (a dataclass field of `cls`) that has a key `key`, if one does."""
    for name in names:
        inner = hints[name]
        if is_dataclass(inner) and key in {f.name for f in fields(inner)}:
            return name
    return None


def _coerce(value: Any, hint: Any, key: str, rules: _Rules) -> Any:
    """Check `value` against the annotation `hint`, converting lists to tuples and str to Path."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(value, inner, key, rules)
    if is_dataclass(hint):
        return _build(typing.cast(type, hint), value, key + ".", rules)
    if origin is tuple:
        if isinstance(value, str) and rules.text_lists:
            parts = [v.strip() for v in value.split(",") if v.strip()]
            return tuple(_from_text(v, args[0], key) for v in parts)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return tuple(_coerce(v, args[0], key, rules) for v in value)
    if hint is Path:
        if not isinstance(value, str | Path):
            raise ConfigError(f"{key}: expected a path, got {value!r}")
        return Path(value)
    if origin is not None:  # Mapping[...]
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a table, got {value!r}")
        return {k: dict(v) for k, v in value.items()}
    return _scalar(value, hint, key)


def _from_text(text: str, hint: Any, key: str) -> Any:
    """One element of a comma-separated flag value, as the annotation `hint` wants it."""
    if hint not in (int, float):
        return _scalar(text, hint, key)
    try:
        return hint(text)
    except ValueError:
        kind = "a number" if hint is float else "an integer"
        raise ConfigError(f"{key}: expected {kind}, got {text!r}") from None


def _scalar(value: Any, hint: Any, key: str) -> Any:
    """`value` if it has the type `hint` (an int where a float is wanted becomes a float).

    A number in quotes ("0.1") is text, not a number: a wrong type, as TOML says. A NumPy
    (or torch) scalar, or a 0-d array, is taken as the Python number it holds (API callers
    pass `np.int64(200)` or `np.float32(0.1)` from their own arrays).
    """
    if getattr(value, "shape", None) == () and callable(getattr(value, "item", None)):
        kind = getattr(getattr(value, "dtype", None), "kind", "")
        small = getattr(getattr(value, "dtype", None), "itemsize", 8) < 8
        # NOTE: a float32 0.1 is 0.10000000149 as a float64: its shortest text is what was meant
        value = float(str(value)) if kind == "f" and small else value.item()
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is float:
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if hint is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, hint) or (hint is not bool and isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {hint.__name__}, got {value!r}")
    return value


def plain(value: Any) -> Any:
    """JSON-able copy of dataclasses, Paths, tuples and mappings (recursively)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [plain(x) for x in value]
    if isinstance(value, Mapping):
        return {k: plain(x) for k, x in value.items()}
    return value
