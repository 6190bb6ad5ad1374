"""Load a run's Config: defaults < [tool.privaudit] in pyproject.toml < command-line flags."""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from privaudit.config.choices import ATTACK_NAMES
from privaudit.config.settings import PATH_KEYS, AttacksConfig, Config, ConflictError, choice
from privaudit.config.tables import build_dataclass
from privaudit.errors import ConfigError

__all__ = ["find_pyproject", "load_config"]


def find_pyproject(start: Path) -> Path | None:
    """Walk up from `start` to the first pyproject.toml that has a [tool.privaudit] table."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        document = _read_toml(candidate) if candidate.is_file() else {}
        if _has_table(document):
            return candidate
        _refuse_misnamed(document, candidate)
    return None


def _has_table(document: Mapping[str, Any]) -> bool:
    """Whether a parsed TOML document has a [tool.privaudit] entry."""
    tool = document.get("tool", {})
    return isinstance(tool, Mapping) and "privaudit" in tool


def _refuse_misnamed(document: Mapping[str, Any], path: Path) -> None:
    """A table that was meant to be [tool.privaudit] (a typo, or no `tool.`) is an error.

    Ignored, it would switch every setting, the gate's thresholds included, off in silence.

    Raises:
        ConfigError: naming the table and where the settings belong.
    """
    tool = document.get("tool", {})
    names = [f"tool.{k}" for k in tool if k != "privaudit"] if isinstance(tool, Mapping) else []
    names += [str(k) for k in document if k != "tool"]
    near = difflib.get_close_matches("tool.privaudit", names, n=1, cutoff=0.8)
    wrong = near[0] if near else ("privaudit" if "privaudit" in document else None)
    if wrong is not None:
        raise ConfigError(f"{path}: [{wrong}] is not read; privaudit's settings go under "
                          "[tool.privaudit]", hint=f"rename [{wrong}...] to [tool.privaudit...]")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as e:
        raise ConfigError(
            f"cannot read config {path}: {e.strerror or e}", hint="check the --config path"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ConfigError(
            f"cannot read config {path}: not valid UTF-8 TOML ({e})", hint="fix the TOML syntax"
        ) from None


def load_config(
    path: Path | None,
    overrides: Mapping[str, Any],
    *,
    cwd: Path | None = None,
    search: bool = True,
    given: str = "on the command line",
) -> Config:
    """Build the run's Config: defaults < `[tool.privaudit]` < `overrides`.

    Args:
        path: explicit config file (`--config`), or None to search upward from `cwd`.
        overrides: flag values keyed by dotted config key (``"gate.min_mse_floor"``); None
            values mean "flag not given" and are ignored.
        cwd: where relative flag paths and the search start (default: the current folder).
        search: with no `path`, look for a pyproject.toml (False: defaults and overrides only).
        given: where the overrides came from, for the hint of a bad one ("in the arguments"
            for the Python API).

    Raises:
        ConfigError: unreadable file, unknown key, or invalid value.
    """
    cwd = cwd or Path.cwd()
    if path is not None and path.is_dir():
        raise ConfigError(f"config {path} is a folder, not a file",
                          hint="give the pyproject.toml (or another .toml file) with --config")
    if path is not None and not path.is_file():
        raise ConfigError(f"config file not found: {path}", hint="check the --config path")
    found = path or (find_pyproject(cwd) if search else None)
    table: dict[str, Any] = {}
    if found is not None:
        document = _read_toml(found)
        if path is not None:
            _refuse_no_table(document, path)
        table = _resolve_paths(_privaudit_table(document, found), found.parent)
        # NOTE: the file on its own first, every key, even those a flag overrides or whose
        # attack does not run: a typo must never lie in wait. Values that only conflict
        # together are checked once the flags are in (a flag wins, as everywhere).
        try:
            _build(table, f"fix the value in {found}; README.md lists every key",
                   text_lists=False)  # fmt: skip
        except ConflictError:
            pass
    flags = {k: v for k, v in overrides.items() if v is not None}
    merged = _merge(table, _nest(_resolve_paths(flags, cwd)))
    cfg = _build(merged, f"fix the value {given}; README.md lists every key", text_lists=True)
    return replace(cfg, config_path=found)


def _build(table: Mapping[str, Any], hint: str, *, text_lists: bool) -> Config:
    """The Config of a merged table; errors without a hint of their own get `hint`."""
    try:
        cfg: Config = build_dataclass(Config, table, prefix="", text_lists=text_lists,
                                      hooks={AttacksConfig: _split_attack_tables})
    except ConfigError as e:
        if e.hint is None:  # NOTE: say where the value came from and where the keys are listed
            e.hint = hint
        raise
    return cfg


def _refuse_no_table(document: Mapping[str, Any], path: Path) -> None:
    """A file given with --config must hold [tool.privaudit]: else nothing in it is read.

    Raises:
        ConfigError: the file has no [tool.privaudit] table.
    """
    if not _has_table(document):
        _refuse_misnamed(document, path)
        raise ConfigError(f"config {path} has no [tool.privaudit] table, so none of it would "
                          "be read", hint="put the settings under [tool.privaudit] (and "
                          "[tool.privaudit.gate], ...): README.md lists every key")


def _privaudit_table(document: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The `[tool.privaudit]` table of a parsed TOML document ({} when there is none)."""
    tool = document.get("tool", {})
    table = tool.get("privaudit", {}) if isinstance(tool, Mapping) else {}
    if not isinstance(table, Mapping):
        raise ConfigError(
            f"{path}: tool.privaudit must be a table, got {table!r}",
            hint="write the settings under a [tool.privaudit] header",
        )
    return dict(table)


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return out


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) and key != "params":
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve_paths(table: Mapping[str, Any], root: Path) -> dict[str, Any]:
    out = dict(table)
    for key in PATH_KEYS:
        if isinstance(out.get(key), str | Path):
            out[key] = (root / Path(out[key]).expanduser()).resolve()
    return out


def _split_attack_tables(table: Mapping[str, Any]) -> dict[str, Any]:
    """Gather `[attacks.<name>]` sub-tables into AttacksConfig.params."""
    own = {k: v for k, v in table.items() if k in ("enabled", "budget", "params")}
    params = dict(own.get("params", {}))
    for key, value in table.items():
        if key not in own:
            if not isinstance(value, Mapping):
                choice("attacks", key, ("enabled", "budget", *ATTACK_NAMES), what="key")
            params[key] = value
    own["params"] = params
    return own
