"""Single self-contained HTML report: inline CSS, PNG data URIs, inline SVG, no JavaScript."""

from __future__ import annotations

from importlib import resources
from string import Template
from typing import ClassVar

from privaudit.config.choices import ReportFormat
from privaudit.reports import prose
from privaudit.reports.html_harden import harden_html
from privaudit.reports.html_parts import esc
from privaudit.reports.html_sections import (
    accuracy_html,
    attacks_html,
    bound_html,
    chart_html,
    dfil_html,
    features_html,
    provenance_html,
    sweep_html,
    verdict_html,
    warnings_html,
)
from privaudit.results import AuditReport, python_strings

# NOTE: read once at import, so that render() itself does no I/O.
PAGE = Template(
    resources.files("privaudit.reports").joinpath("templates/report.html").read_text("utf-8")
)


class HtmlReporter:
    """`report.html`: one file that opens offline; every user-supplied string is escaped.

    Top to bottom: the verdict and the gate, accuracy, the bound, the privacy interval, the
    references and attacks with reconstruction grids, the MSE-vs-floor chart, dFIL, the noise
    sweep, before/after for harden runs, provenance, warnings.
    """

    name: ClassVar[str] = ReportFormat.HTML.value
    suffix: ClassVar[str] = ".html"

    @python_strings
    def render(self, report: AuditReport) -> str:
        """The whole HTML document."""
        body = [
            _header(report),
            verdict_html(report),
            accuracy_html(report),
            bound_html(report),
            attacks_html(report, "attacks", "Attacks" + prose.scope(report)),
            features_html(report),
            chart_html(report),
            dfil_html(report),
            sweep_html(report),
            harden_html(report),
            provenance_html(report),
            warnings_html(report),
            f"<footer>privaudit {esc(report.provenance.tool_version)}, "
            f"report schema {report.schema_version}</footer>",
        ]
        title = f"privaudit {report.provenance.command}: {report.model.path}"
        return PAGE.substitute(title=esc(title), body="\n".join(p for p in body if p))


def _header(report: AuditReport) -> str:
    m, p = report.model, report.provenance
    what = "Hardening report" if report.harden is not None else "Privacy audit"
    return (
        f"<header><h1>{esc(what)}</h1>"
        f"<p>model {esc(m.path)} (sha256 {esc(m.sha256[:12])}), split at {esc(m.split)}; "
        f"{esc(p.created_at)}</p></header>"
    )
