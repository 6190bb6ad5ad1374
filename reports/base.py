"""The Reporter protocol and the one place reports are written to disk (atomically)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import ClassVar, Protocol

from privaudit.results import AuditReport


class Reporter(Protocol):
    """Renders a report as text; must be a pure function of the report."""

    name: ClassVar[str]  # --format value and registry key
    suffix: ClassVar[str]  # file suffix, e.g. ".json"

    def render(self, report: AuditReport) -> str:
        """Return the whole document."""
        ...


def write_report(text: str, path: Path | str) -> None:
    """Write `text` to `path` atomically ("-" = stdout): temp file in the same folder, then replace.

    A reader never sees a half-written file, and an interrupted write leaves nothing behind.
    """
    if str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _file_mode())  # NOTE: mkstemp makes 0600; a report is an ordinary file
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_mode() -> int:
    """The mode `open()` would give a new file: 0o666 minus the process umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask
