"""Report formats: the REPORTERS registry and get_reporter(name)."""

from __future__ import annotations

import difflib

from privaudit.errors import ConfigError
from reports._prose import training_data_note
from reports.base import Reporter, write_report
from reports.csv_report import CsvReporter
from reports.html_report import HtmlReporter
from reports.json_report import JsonReporter
from reports.markdown_report import MarkdownReporter

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


__all__ = ["REPORTERS", "Reporter", "get_reporter", "training_data_note", "write_report"]
