"""The sweep's report formats: JSON (canonical), Markdown, CSV and HTML; each a pure render."""

from __future__ import annotations

import json
from typing import ClassVar, Protocol

from privaudit.config.choices import ReportFormat
from privaudit.reports import sweep_prose as sp
from privaudit.reports.csv_report import defuse_formulas
from privaudit.reports.html_parts import details, esc, pairs_html, para, section, table_html
from privaudit.reports.html_report import PAGE
from privaudit.reports.markdown_parts import md_code_block, md_escape, md_pairs, md_table
from privaudit.reports.sweep_table import points_table, runs_table
from privaudit.reports.table import raw_cells, visible_controls
from privaudit.results import SweepReport

__all__ = [
    "CsvSweepReporter",
    "HtmlSweepReporter",
    "JsonSweepReporter",
    "MarkdownSweepReporter",
    "SweepReporter",
]

POINT_VIEW = ["cut", "noise_sigma", "clean_accuracy", "noisy_accuracy", "noisy_accuracy_low",
              "noisy_accuracy_high", "leakage_bits_per_dim", "mse_floor", "paper_floor",
              "prior_mse", "label_mse", "nearest_mse", "strongest", "strongest_mse", "recovered",
              "pareto", "meets"]  # fmt: skip


class SweepReporter(Protocol):
    """Renders a sweep as text; a pure function of the sweep."""

    name: ClassVar[str]  # --format value and registry key
    suffix: ClassVar[str]  # file suffix, e.g. ".json"

    def render(self, report: SweepReport) -> str:
        """Return the whole document."""
        ...


class JsonSweepReporter:
    """`sweep.json`: every field at full precision, ``schema_version`` and ``kind`` first."""

    name: ClassVar[str] = ReportFormat.JSON.value
    suffix: ClassVar[str] = ".json"

    def render(self, report: SweepReport) -> str:
        """Indented JSON text; NaN and infinities become null."""
        return report.to_json()


class CsvSweepReporter:
    """`sweep.csv`: one tidy row per point x (reference, or attack x seed)."""

    name: ClassVar[str] = ReportFormat.CSV.value
    suffix: ClassVar[str] = ".csv"

    def render(self, report: SweepReport) -> str:
        """CSV text: header row, LF line ends, full-precision numbers, empty missing cells."""
        text: str = defuse_formulas(raw_cells(runs_table(report))).to_csv(
            index=False, lineterminator="\n")
        return text


class MarkdownSweepReporter:
    """`sweep.md`: the answer, the constraints, the points, how it ran."""

    name: ClassVar[str] = ReportFormat.MARKDOWN.value
    suffix: ClassVar[str] = ".md"

    def render(self, report: SweepReport) -> str:
        """The whole Markdown document (GitHub-flavoured; untrusted text escaped)."""
        rec = report.recommendation
        parts = [f"# {md_escape(sp.sweep_title(report))}", f"**{md_escape(rec.headline)}**"]
        if rec.command:
            parts.append(md_code_block(visible_controls(rec.command, lines=False), "bash"))
        parts += ["## Constraints", md_pairs(sp.constraint_pairs(report)),
                  "## Points", md_escape(sp.method_note(report)),
                  md_table(points_table(report)[POINT_VIEW]),
                  md_escape(sp.accuracy_note(report)), "## Cuts", md_pairs(sp.cut_pairs(report))]
        if report.warnings:
            parts += ["## Warnings", "\n".join(f"- {md_escape(w)}" for w in report.warnings)]
        config = json.dumps(report.provenance.config, indent=2, sort_keys=True, default=str)
        body = md_pairs(sp.provenance_pairs(report)) + "\n\n" + md_code_block(config, "json")
        parts.append(f"<details><summary>Provenance</summary>\n\n{body}\n\n</details>")
        return "\n\n".join(parts) + "\n"


class HtmlSweepReporter:
    """`sweep.html`: the answer, the frontier chart (SVG), the table of points, provenance."""

    name: ClassVar[str] = ReportFormat.HTML.value
    suffix: ClassVar[str] = ".html"

    def render(self, report: SweepReport) -> str:
        """The whole HTML document; one file that opens offline, every string escaped."""
        rec, m = report.recommendation, report.model
        answer = f"<h2>{esc(_line(rec.headline))}</h2>"
        if rec.command:
            answer += f"<pre><code>{esc(_line(rec.command))}</code></pre>"
        kind = sp.answer_kind(report)
        body = [
            f"<header><h1>Where to cut and how much noise</h1><p>model {esc(_line(m.path))} "
            f"(sha256 {esc(m.sha256[:12])}); {esc(report.provenance.created_at)}</p></header>",
            f'<section id="answer" class="verdict {esc(kind)}">{answer}</section>',
            section("frontier", "Frontier", para(sp.method_note(report)),
                    f'<div class="chart">{sp.frontier_svg(report)}</div>'),
            section("constraints", "Constraints", _pairs(sp.constraint_pairs(report))),
            section("points", "Points", para(sp.accuracy_note(report)),
                    table_html(points_table(report)[POINT_VIEW], "points")),
            section("cuts", "Cuts", _pairs(sp.cut_pairs(report))),
            _warnings(report),
            section("provenance", "Provenance", _pairs(sp.provenance_pairs(report)),
                    details("resolved config", "<pre><code>" + esc(json.dumps(
                        report.provenance.config, indent=2, sort_keys=True, default=str))
                        + "</code></pre>")),
            f"<footer>privaudit {esc(report.provenance.tool_version)}, sweep schema "
            f"{report.schema_version}</footer>",
        ]  # fmt: skip
        return PAGE.substitute(title=esc(_line(sp.sweep_title(report))),
                               body="\n".join(p for p in body if p))  # fmt: skip


def _line(text: str) -> str:
    """`text` kept on one line: a newline in a model's name forged a line in `cat sweep.html`."""
    line: str = visible_controls(text, lines=False)
    return line


def _pairs(pairs: list[tuple[str, str]]) -> str:
    html: str = pairs_html((_line(k), _line(v)) for k, v in pairs)
    return html


def _warnings(report: SweepReport) -> str:
    if not report.warnings:
        return ""
    items = "".join(f"<li>{esc(_line(w))}</li>" for w in report.warnings)
    return section("warnings", "Warnings", f"<ul>{items}</ul>")
