"""Report formats: the REPORTERS registry, get_reporter(name) and the one writer of report files.

Each reporter is a pure `render(report) -> str` (JSON, Markdown, CSV, HTML); `write_report`
alone writes files (atomically). Importing this package registers the HTML report as the
notebook view of every `AuditReport`.
"""

from __future__ import annotations

import difflib

from privaudit.errors import ConfigError
from privaudit.reports.base import Reporter, write_report
from privaudit.reports.csv_report import CsvReporter
from privaudit.reports.html_report import HtmlReporter
from privaudit.reports.json_report import JsonReporter
from privaudit.reports.markdown_report import MarkdownReporter
from privaudit.reports.prose import training_data_note
from privaudit.results import register_html_view

REPORTERS: dict[str, type[Reporter]] = {
    r.name: r for r in (JsonReporter, MarkdownReporter, CsvReporter, HtmlReporter)
}


def get_reporter(name: str) -> Reporter:
    """Instantiate the reporter registered under `name`.

    Raises:
        ConfigError: unknown format, with the closest names.
    """
    if name not in REPORTERS:
        close = difflib.get_close_matches(name, REPORTERS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(
            f"unknown report format {name!r}", hint=f"{hint}choose from: {', '.join(REPORTERS)}"
        )
    return REPORTERS[name]()


register_html_view(HtmlReporter().render)

__all__ = [
    "REPORTERS",
    "Reporter",
    "get_reporter",
    "training_data_note",
    "write_report",
]
