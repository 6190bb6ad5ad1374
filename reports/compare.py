"""Two audit runs side by side with deltas (``privaudit compare A.json B.json``); pure."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence

import pandas as pd

from privaudit.errors import ConfigError
from privaudit.reports import prose
from privaudit.reports.csv_report import defuse_formulas
from privaudit.reports.html_parts import esc, pairs_html, para, section, table_html
from privaudit.reports.html_report import PAGE
from privaudit.reports.markdown_parts import md_escape, md_table
from privaudit.reports.sweep_table import sweep_compare_table
from privaudit.reports.table import compare_table, raw_cells
from privaudit.results import AuditReport, SweepReport, mse_units, python_strings

COMPARE_FORMATS = ("markdown", "html", "json", "csv")
COMPARE_SCHEMA_VERSION = 1
AB = {"a": "A", "b": "B"}


@python_strings
def render_compare(
    a: AuditReport | SweepReport, b: AuditReport | SweepReport, fmt: str,
    findings: Sequence[str] | None = None, measured: Sequence[str] = (),
) -> str:
    """Render runs `a` and `b` side by side: each metric's A and B value, delta = B - A, change.

    Two audit reports are compared metric by metric, two sweeps point by point.

    Args:
        a: the reference run (e.g. the main branch's report or sweep).
        b: the run compared against it, of the same kind.
        fmt: one of `COMPARE_FORMATS`.
        findings: what makes B less private than A (`--fail-if-less-private`: none found is
            an empty list); None when that was not asked.
        measured: how the two audits were measured differently (data, seed, budget, bound
            settings: `privaudit.regression.measured_differently`), said on a line of its own.

    Raises:
        ConfigError: unknown format, or a sweep compared with an audit report.
    """
    if fmt not in COMPARE_FORMATS:
        several = "," in fmt and all(f.strip() in COMPARE_FORMATS for f in fmt.split(","))
        raise ConfigError(
            f"compare writes one format at a time, got {fmt!r}" if several
            else f"unknown compare format {fmt!r}",
            hint=f"choose one of: {', '.join(COMPARE_FORMATS)}" + (
                " (run compare once per format)" if several else ""),
        )  # fmt: skip
    if isinstance(a, SweepReport) and isinstance(b, SweepReport):
        return _render(_sweep_view(a, b), fmt)
    if isinstance(a, AuditReport) and isinstance(b, AuditReport):
        return _render(_audit_view(a, b, findings, measured), fmt)
    raise ConfigError("cannot compare a sweep (sweep.json) with an audit report (report.json)",
                      hint="compare two report.json files, or two sweep.json files")


_View = tuple[str, list[tuple[str, str]], pd.DataFrame, dict[str, object], dict[str, object],
              dict[str, object] | None]


def _render(view: _View, fmt: str) -> str:
    renderers: dict[str, Callable[[_View], str]] = {
        "markdown": _markdown, "html": _html, "json": _json, "csv": _csv,
    }  # fmt: skip
    return renderers[fmt](view)


def _audit_view(a: AuditReport, b: AuditReport, findings: Sequence[str] | None,
                measured: Sequence[str] = ()) -> _View:  # fmt: skip
    title = f"privaudit compare: {a.model.path} vs {b.model.path}"
    pairs = _verdicts(a, b)
    if measured:
        pairs.append(("measured", f"A and B were measured differently ({'; '.join(measured)}):"
                                  " the deltas compare two audits, not only two models"))
    regression = None
    if findings is not None:  # NOTE: what `--fail-if-less-private` decided, beside the numbers
        regression = {"less_private": bool(findings), "findings": list(findings)}
        pairs.append(("regression", "; ".join(f"less private: {f}" for f in findings)
                      or "not less private"))
    return title, pairs, compare_table(a, b), _identity(a), _identity(b), regression


def _sweep_view(a: SweepReport, b: SweepReport) -> _View:
    title = f"privaudit compare: sweep of {a.model.path} vs sweep of {b.model.path}"
    pairs = [("A", _sweep_label(a)), ("B", _sweep_label(b)),
             ("A answer", a.recommendation.headline), ("B answer", b.recommendation.headline)]
    da, db = _sweep_domain(a), _sweep_domain(b)
    if da != db:
        pairs.append(("units", f"A's MSEs are {mse_units(da)} ({da} data), B's "
                               f"{mse_units(db)} ({db} data): their deltas mean nothing"))
    ga, gb = _grid_words(a), _grid_words(b)
    if ga != gb:
        pairs.append(("grids", f"A ran {ga}, B {gb}: a point's numbers come from different "
                               "attacks, budgets or seeds"))
    return (title, pairs, sweep_compare_table(a, b), _sweep_identity(a), _sweep_identity(b),
            None)


_RANKS = {1: "tabular", 2: "signal", 3: "image"}  # NOTE: the domain follows the input's rank


def _sweep_domain(report: SweepReport) -> str:
    """The sweep's data domain: `--domain` as recorded, else by the input's rank."""
    given = report.provenance.config.get("domain")
    return str(given) if given else _RANKS.get(len(report.model.input_shape), "image")


def _grid_words(report: SweepReport) -> str:
    seeds = len(report.seeds)
    attacks = ", ".join(report.attacks) or "no attacks"
    return f"{attacks} at the {report.budget} budget, {seeds} seed{'' if seeds == 1 else 's'}"


def _sweep_label(report: SweepReport) -> str:
    m = report.model
    return f"{m.path} (sha256 {m.sha256[:12]}, sweep, {report.provenance.created_at})"


def _sweep_identity(report: SweepReport) -> dict[str, object]:
    rec = report.recommendation
    return {
        "path": report.model.path, "sha256": report.model.sha256, "kind": "sweep",
        "created_at": report.provenance.created_at, "recommendation": rec.status,
        "cut": rec.cut, "noise_sigma": rec.noise_sigma,
    }  # fmt: skip


def run_label(report: AuditReport) -> str:
    """Who a run is: model path, short hash, split and creation time (unescaped)."""
    m = report.model
    return f"{m.path} (sha256 {m.sha256[:12]}, split {m.split}, {report.provenance.created_at})"


def _verdicts(a: AuditReport, b: AuditReport) -> list[tuple[str, str]]:
    pairs = [
        ("A", run_label(a)), ("B", run_label(b)),
        ("A gate", prose.gate_status(a.gate)[1]), ("B gate", prose.gate_status(b.gate)[1]),
    ]  # fmt: skip
    sa, sb = _sigma(a), _sigma(b)
    if sa is not None and sb is not None and sa != sb:
        pairs.append(("noise", f"A was audited at sigma {sa:g}, B at sigma {sb:g}: the two "
                               "deployments add different noise, not only different models"))
    da, db = a.model.domain, b.model.domain
    if da != db:  # NOTE: `compare --fail-if-less-private` refuses such a pair (exit 2)
        pairs.append(("units", f"A's MSEs are {mse_units(da)} ({da} data), B's "
                               f"{mse_units(db)} ({db} data): their deltas mean nothing"))
    return pairs


def _sigma(report: AuditReport) -> float | None:
    """The noise sigma the compared model was audited at (a harden report: its hardened one)."""
    bound = report.judged.bound
    return None if bound is None else bound.noise_sigma


def _markdown(view: _View) -> str:
    _, pairs, table, _, _, _ = view
    lines = ["# privaudit compare", ""]
    lines += [f"- **{k}**: {md_escape(v)}" for k, v in pairs]
    lines += ["", "delta = B - A; change is relative to A.", ""]
    lines.append(md_table(table, AB))
    return "\n".join(lines) + "\n"


def _html(view: _View) -> str:
    title, pairs, table, _, _, _ = view
    body = (
        "<header><h1>privaudit compare</h1></header>"
        + section("runs", "Runs", pairs_html(pairs))
        + section("deltas", "Side by side", para("delta = B - A; change is relative to A."),
                  table_html(table, "compare", AB))
    )
    return PAGE.substitute(title=esc(title), body=body)


def _json(view: _View) -> str:
    _, _, table, a, b, regression = view
    rows = [
        {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        for row in table.astype(object).to_dict(orient="records")
    ]
    doc: dict[str, object] = {"compare_schema_version": COMPARE_SCHEMA_VERSION, "a": a, "b": b,
                              "rows": rows}  # fmt: skip
    if regression is not None:
        doc["regression"] = regression
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def _identity(report: AuditReport) -> dict[str, object]:
    m = report.model
    return {
        "path": m.path, "sha256": m.sha256, "split": m.split,
        "created_at": report.provenance.created_at, "gate_passed": report.gate.passed,
        "gate_active": report.gate.active,
    }  # fmt: skip


def _csv(view: _View) -> str:
    table = defuse_formulas(raw_cells(view[2]))
    text: str = table.to_csv(index=False, lineterminator="\n")
    return text
