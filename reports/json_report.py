"""Canonical, versioned JSON report (the only format that round-trips)."""

from __future__ import annotations

import json
from typing import ClassVar

from privaudit.results import AuditReport, to_dict


class JsonReporter:
    """`report.json`: every field at full precision, ``schema_version`` first."""

    name: ClassVar[str] = "json"
    suffix: ClassVar[str] = ".json"

    def render(self, report: AuditReport) -> str:
        """Indented JSON text; NaN and infinities become null."""
        return json.dumps(to_dict(report), indent=2, allow_nan=False) + "\n"
