"""The Reporter protocol and the one place reports are written to disk (atomically)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import ClassVar, Protocol

from privaudit.outputs import atomic_write
from privaudit.results import AuditReport

# NOTE: a str holds a surrogate code point only when it is lone (an undecodable byte of a file
# name, or a "\\ud800" escape in a saved report's JSON): UTF-8 cannot encode it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class Reporter(Protocol):
    """Renders a report as text; must be a pure function of the report."""

    name: ClassVar[str]  # --format value and registry key
    suffix: ClassVar[str]  # file suffix, e.g. ".json"

    def render(self, report: AuditReport) -> str:
        """Return the whole document."""
        ...


def write_report(text: str, path: Path | str, *, hint: str | None = None) -> None:
    """Write `text` to `path` atomically ("-" = stdout): temp file in the same folder, then replace.

    A reader never sees a half-written file, and an interrupted write leaves nothing behind.
    Lone surrogates, which UTF-8 cannot encode, are written as U+FFFD (the replacement
    character). `hint` replaces the hint of a failed write (that of the output folders),
    for a command whose option names the file.
    """
    text = _LONE_SURROGATE.sub("\ufffd", text)
    if str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    atomic_write(text.encode("utf-8"), Path(path), hint=hint)
