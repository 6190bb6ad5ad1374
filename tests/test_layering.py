"""Layering: core never imports attacks/ or reports/; reports/ imports results, errors, outputs."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWED_CORE = {
    "battery.py", "pipeline.py", "cli.py", "cli_run.py", "cli_saved.py", "cli_harden.py",
    "harden_pipeline.py",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_does_not_import_families() -> None:
    offenders = []
    for path in sorted((ROOT / "privaudit").glob("*.py")):
        if path.name in ALLOWED_CORE:
            continue
        bad = {n for n in _imports(path) if n.split(".")[0] in ("attacks", "reports")}
        if bad:
            offenders.append(f"{path.name}: {sorted(bad)}")
    assert not offenders, offenders


def test_reports_import_only_results() -> None:
    for path in sorted((ROOT / "reports").glob("*.py")):
        for name in _imports(path):
            if name.startswith("privaudit"):
                allowed = ("privaudit.results", "privaudit.errors", "privaudit.outputs")
                assert name in allowed, (path.name, name)


def test_attacks_do_not_import_reports() -> None:
    for path in sorted((ROOT / "attacks").glob("*.py")):
        assert not any(n.startswith("reports") for n in _imports(path)), path.name
