"""Two audit runs side by side with deltas (``privaudit compare A.json B.json``); pure."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

from privaudit.errors import ConfigError
from privaudit.reports import prose
from privaudit.reports.csv_report import defuse_formulas
from privaudit.reports.html_parts import esc, pairs_html, para, section, table_html
from privaudit.reports.html_report import PAGE
from privaudit.reports.markdown_parts import md_escape, md_table
from privaudit.reports.table import compare_table, formatted
from privaudit.results import AuditReport, python_strings

COMPARE_FORMATS = ("markdown", "html", "json", "csv")
COMPARE_SCHEMA_VERSION = 1
AB = {"a": "A", "b": "B"}


@python_strings
def render_compare(a: AuditReport, b: AuditReport, fmt: str) -> str:
    """Render runs `a` and `b` side by side: each metric's A and B value, delta = B - A, change.

    Args:
        a: the reference run (e.g. the main branch's report).
        b: the run compared against it.
        fmt: one of `COMPARE_FORMATS`.

    Raises:
        ConfigError: unknown format.
    """
    renderers: dict[str, Callable[[AuditReport, AuditReport], str]] = {
        "markdown": _markdown, "html": _html, "json": _json, "csv": _csv,
    }  # fmt: skip
    if fmt not in renderers:
        raise ConfigError(
            f"unknown compare format {fmt!r}", hint=f"choose from: {', '.join(COMPARE_FORMATS)}"
        )
    return renderers[fmt](a, b)


def run_label(report: AuditReport) -> str:
    """Who a run is: model path, short hash, split and creation time (unescaped)."""
    m = report.model
    return f"{m.path} (sha256 {m.sha256[:12]}, split {m.split}, {report.provenance.created_at})"


def _verdicts(a: AuditReport, b: AuditReport) -> list[tuple[str, str]]:
    return [
        ("A", run_label(a)), ("B", run_label(b)),
        ("A gate", prose.gate_status(a.gate)[1]), ("B gate", prose.gate_status(b.gate)[1]),
    ]  # fmt: skip


def _markdown(a: AuditReport, b: AuditReport) -> str:
    lines = ["# privaudit compare", ""]
    lines += [f"- **{k}**: {md_escape(v)}" for k, v in _verdicts(a, b)]
    lines += ["", "delta = B - A; change is relative to A.", ""]
    lines.append(md_table(compare_table(a, b), AB))
    return "\n".join(lines) + "\n"


def _html(a: AuditReport, b: AuditReport) -> str:
    table = table_html(compare_table(a, b), "compare", AB)
    body = (
        "<header><h1>privaudit compare</h1></header>"
        + section("runs", "Runs", pairs_html(_verdicts(a, b)))
        + section("deltas", "Side by side", para("delta = B - A; change is relative to A."), table)
    )
    title = esc(f"privaudit compare: {a.model.path} vs {b.model.path}")
    return PAGE.substitute(title=title, body=body)


def _json(a: AuditReport, b: AuditReport) -> str:
    rows = [
        {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        for row in compare_table(a, b).astype(object).to_dict(orient="records")
    ]
    doc = {
        "compare_schema_version": COMPARE_SCHEMA_VERSION,
        "a": _identity(a),
        "b": _identity(b),
        "rows": rows,
    }
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def _identity(report: AuditReport) -> dict[str, object]:
    m = report.model
    return {
        "path": m.path, "sha256": m.sha256, "split": m.split,
        "created_at": report.provenance.created_at, "gate_passed": report.gate.passed,
        "gate_active": report.gate.active,
    }  # fmt: skip


def _csv(a: AuditReport, b: AuditReport) -> str:
    table = defuse_formulas(formatted(compare_table(a, b)))
    text: str = table.to_csv(index=False, lineterminator="\n")
    return text
