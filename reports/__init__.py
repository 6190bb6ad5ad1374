"""Report formats: the REPORTERS registry, get_reporter(name) and the one writer of report files.

Each reporter is a pure `render(report) -> str` (JSON, Markdown, CSV, HTML, JUnit XML);
`write_report` alone writes files (atomically). A sweep's formats are the SWEEP_REPORTERS
(`sweep.json`, ...), under the same names. Importing this package registers the HTML report as the
notebook view of every `AuditReport`.
"""

from __future__ import annotations

import difflib

from privaudit.errors import ConfigError
from privaudit.reports.base import Reporter, write_report
from privaudit.reports.csv_report import CsvReporter
from privaudit.reports.html_report import HtmlReporter
from privaudit.reports.json_report import JsonReporter
from privaudit.reports.junit_report import JunitReporter, JunitSweepReporter
from privaudit.reports.markdown_report import MarkdownReporter
from privaudit.reports.prose import training_data_note
from privaudit.reports.sweep_report import (
    CsvSweepReporter,
    HtmlSweepReporter,
    JsonSweepReporter,
    MarkdownSweepReporter,
    SweepReporter,
)
from privaudit.results import register_html_view

REPORTERS: dict[str, type[Reporter]] = {
    r.name: r for r in (JsonReporter, MarkdownReporter, CsvReporter, HtmlReporter, JunitReporter)
}
SWEEP_REPORTERS: dict[str, type[SweepReporter]] = {
    r.name: r
    for r in (JsonSweepReporter, MarkdownSweepReporter, CsvSweepReporter, HtmlSweepReporter,
              JunitSweepReporter)
}


def get_reporter(name: str) -> Reporter:
    """Instantiate the reporter registered under `name`.

    Raises:
        ConfigError: unknown format, with the closest names.
    """
    _check_format(name)
    return REPORTERS[name]()


def get_sweep_reporter(name: str) -> SweepReporter:
    """Instantiate the sweep reporter registered under `name`.

    Raises:
        ConfigError: unknown format, with the closest names.
    """
    _check_format(name)
    return SWEEP_REPORTERS[name]()


def _check_format(name: str) -> None:
    if name not in REPORTERS:
        close = difflib.get_close_matches(name, REPORTERS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(
            f"unknown report format {name!r}", hint=f"{hint}choose from: {', '.join(REPORTERS)}"
        )


register_html_view(HtmlReporter().render)

__all__ = [
    "REPORTERS",
    "SWEEP_REPORTERS",
    "Reporter",
    "SweepReporter",
    "get_reporter",
    "get_sweep_reporter",
    "training_data_note",
    "write_report",
]
