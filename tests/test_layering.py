"""The house: layers by package, front doors, no private names across modules, no stray names.

Every module belongs to a unit: a subpackage of `privaudit` (`bound`, `model`, ...), the
`attacks` and `reports` families (installed as `privaudit.attacks` / `privaudit.reports`), or
one of the few top-level modules (`errors`, `noise`, ...). `LAYERS` says which units each
unit may import, every import counted, lazy ones included; nothing is exempt.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {name: ROOT / name for name in ("privaudit", "attacks", "reports")}

_BASE = {"errors"}
_CORE = _BASE | {"config", "noise", "results"}
_MEASURE = _CORE | {"attacks", "bound", "data", "demo", "gate", "interpreter", "model", "outputs",
                    "progress", "runtime", "threads"}  # fmt: skip
LAYERS: dict[str, set[str]] = {
    "errors": set(),
    "progress": set(),
    "threads": set(),
    "demo": set(),
    "noise": _BASE | {"threads"},  # a large draw is shared among the run's threads
    "config": _BASE | {"noise"},
    "results": _BASE | {"config"},
    "outputs": _BASE,
    "runtime": _BASE | {"config"},
    "gate": _CORE,
    "regression": _CORE,
    "model": _CORE | {"outputs", "threads"},
    "interpreter": _BASE,
    "data": _BASE | {"config"},
    "bound": _CORE,
    "attacks": _CORE | {"progress", "runtime"},
    "reports": _CORE | {"outputs"},
    "audit": _MEASURE,
    "hardening": _MEASURE | {"audit"},
    "sweeping": {"errors", "config", "results", "attacks", "audit", "demo", "gate", "model",
                 "outputs", "progress", "runtime", "threads"},
    "api": _MEASURE | {"audit", "hardening", "reports", "sweeping"},
    "cli": _MEASURE | {"audit", "hardening", "regression", "reports", "sweeping"},
    "__main__": {"cli"},
    "__init__": _BASE | {"api", "results"},
}
# Inside the bound package the closed forms sit at the bottom: a module may import only the
# modules listed before it (estimation builds on the math, never the other way round).
BOUND_ORDER = ["leakage", "spectral", "moments", "entropy", "spectra", "clustering", "resample",
               "candidates", "bootstrap", "floor", "gaussianity", "estimate",
               "__init__"]  # fmt: skip


def _modules() -> Iterator[tuple[str, str, Path]]:
    """(unit, module stem, path) of every source module."""
    for family, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).parts
            if family != "privaudit":
                unit = family
            elif len(parts) == 1:
                unit = path.stem
            else:
                unit = parts[0]
            yield unit, path.stem, path


def _imports(path: Path) -> Iterator[ast.ImportFrom | ast.Import]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node


def _targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The privaudit modules an import reaches ('privaudit.x.y'), name imports included."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.module == "privaudit" and node.level == 0:
        return [f"privaudit.{a.name}" for a in node.names]
    return [node.module or ""]


def _unit(target: str) -> str | None:
    parts = target.split(".")
    if parts[0] != "privaudit":
        return None
    if len(parts) == 1:
        return "__init__"
    # NOTE: the version string is the one name any module may take from the package root,
    # which imports only `errors` itself (its API loads lazily: see test_api).
    return None if parts[1] == "__version__" else parts[1]


def test_every_unit_has_a_layer() -> None:
    units = {unit for unit, _, _ in _modules()}
    assert units == set(LAYERS), units ^ set(LAYERS)


def test_layers_by_package() -> None:
    offenders = []
    for unit, _, path in _modules():
        allowed = LAYERS[unit] | {unit}
        for node in _imports(path):
            for target in _targets(node):
                used = _unit(target)
                if used is not None and used not in allowed:
                    offenders.append(f"{path.relative_to(ROOT)}: {unit} imports {target}")
    assert not offenders, "\n".join(offenders)


def test_bound_builds_on_its_closed_forms() -> None:
    offenders = []
    for unit, stem, path in _modules():
        if unit != "bound":
            continue
        below = BOUND_ORDER[: BOUND_ORDER.index(stem)]
        for node in _imports(path):
            for target in _targets(node):
                parts = target.split(".")
                if parts[:2] == ["privaudit", "bound"] and len(parts) > 2 and parts[2] not in below:
                    offenders.append(f"bound.{stem} imports {target}")
    assert not offenders, offenders


def test_no_private_names_across_modules() -> None:
    """A name another module uses is public in its package: never import `_x`."""
    offenders = []
    folders = [*SOURCES.values(), ROOT / "tests", ROOT / "benchmarks", ROOT / "scripts"]
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            for node in _imports(path):
                names = [a.name for a in node.names]
                module = node.module if isinstance(node, ast.ImportFrom) else None
                parts = (module or "").split(".") + names
                bad = [p for p in parts if p.startswith("_") and p not in
                       ("__future__", "__version__", "__main__", "__init__")]
                if bad:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {bad}")
    assert not offenders, "\n".join(offenders)


SUBPACKAGES = sorted(
    f"privaudit.{p.parent.relative_to(ROOT / 'privaudit')}".replace("/", ".")
    for p in (ROOT / "privaudit").rglob("__init__.py")
    if p.parent != ROOT / "privaudit"
) + ["privaudit.attacks", "privaudit.reports"]


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_each_subpackage_names_its_api(name: str) -> None:
    package = importlib.import_module(name)
    exported = getattr(package, "__all__", None)
    assert exported, f"{name} has no __all__"
    assert sorted(exported) == sorted(set(exported)), f"{name}.__all__ repeats a name"
    missing = [n for n in exported if not hasattr(package, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"


def test_few_modules_at_the_top() -> None:
    top = sorted(p.name for p in (ROOT / "privaudit").glob("*.py"))
    assert len(top) <= 12, top
