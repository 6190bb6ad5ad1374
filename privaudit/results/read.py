"""Read a saved report.json back, refusing anything that is not a privaudit report."""

from __future__ import annotations

import json
from pathlib import Path

from privaudit.errors import DataError
from privaudit.results.schema import AuditReport, from_dict

__all__ = ["read_report"]

_REPORT_HINT = "pass the report.json written by 'privaudit assess' (or harden)"


def read_report(path: Path) -> AuditReport:
    """Load a report.json written by privaudit.

    Raises:
        DataError: missing, unreadable, not UTF-8 JSON, or not a privaudit report of this schema.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise DataError(
            f"cannot read report {path}: {e.strerror or e}",
            hint="check the path to the report.json",
        ) from None
    except UnicodeDecodeError:
        raise DataError(
            f"{path} is not a privaudit report (not UTF-8 text)", hint=_REPORT_HINT
        ) from None
    try:
        report = from_dict(json.loads(text))
    except RecursionError:
        raise DataError(
            f"{path} is not a privaudit report (JSON nested too deeply)", hint=_REPORT_HINT
        ) from None
    except (ValueError, TypeError, KeyError) as e:
        raise DataError(f"{path} is not a privaudit report: {e}", hint=_REPORT_HINT) from None
    _check_mappings(report, path)
    return report


def _check_mappings(report: AuditReport, path: Path) -> None:
    """Check the value types of the report's free-form mappings, which from_dict passes through.

    Raises:
        DataError: a timing that is not a number, or a version that is not a string.
    """
    p = report.provenance
    bad = [
        f"provenance.timings.{k}"
        for k, v in p.timings.items()
        if isinstance(v, bool) or not isinstance(v, int | float)
    ]
    bad += [f"provenance.versions.{k}" for k, v in p.versions.items() if not isinstance(v, str)]
    if bad:
        raise DataError(
            f"{path} is not a privaudit report: wrong value type at {', '.join(bad)}",
            hint=_REPORT_HINT,
        )
