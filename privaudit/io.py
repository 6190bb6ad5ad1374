"""File-system helpers for outputs and saved reports: writability checks, reading report.json."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from privaudit.errors import ConfigError, DataError
from privaudit.results import AuditReport, from_dict


def check_writable_dir(folder: Path) -> None:
    """Create `folder` if needed and prove a file can be written there.

    Raises:
        ConfigError: the folder cannot be created or written.
    """
    try:
        if folder.exists() and not folder.is_dir():
            raise OSError("exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".privaudit-probe-"):
            pass
    except OSError as e:
        raise ConfigError(
            f"cannot write to output folder {folder}: {e.strerror or e}",
            hint="choose a writable folder with --output-dir",
        ) from None


def read_report(path: Path) -> AuditReport:
    """Load a report.json written by privaudit.

    Raises:
        DataError: missing, unreadable, not JSON, or not a privaudit report of this schema.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise DataError(f"cannot read report {path}: {e.strerror or e}", hint="check the path") from None
    try:
        return from_dict(json.loads(text))
    except (ValueError, TypeError, KeyError) as e:
        raise DataError(
            f"{path} is not a privaudit report: {e}",
            hint="pass the report.json written by 'privaudit assess'",
        ) from None
