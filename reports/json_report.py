"""Canonical, versioned JSON report (the only format that round-trips)."""

from __future__ import annotations

from typing import ClassVar

from privaudit.config.choices import ReportFormat
from privaudit.results import AuditReport


class JsonReporter:
    """`report.json`: every field at full precision, ``schema_version`` first."""

    name: ClassVar[str] = ReportFormat.JSON.value
    suffix: ClassVar[str] = ".json"

    def render(self, report: AuditReport) -> str:
        """Indented JSON text; NaN and infinities become null."""
        return report.to_json()
