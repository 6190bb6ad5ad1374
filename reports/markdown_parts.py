"""Markdown building blocks: escaping untrusted text, and tables from the shared DataFrames."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import pandas as pd

from privaudit.reports.table import formatted, headers, visible_controls

# Characters that would start Markdown syntax inside a line or a table cell.
_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")
_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))


def md_escape(text: object) -> str:
    """Make untrusted text inert in GitHub Markdown, as one line.

    HTML-significant characters become entities (so ``<script>`` shows as text), Markdown
    punctuation and ``|`` get a backslash, line breaks become spaces, and bidirectional
    control characters show as their code points.
    """
    s = " ".join(visible_controls(str(text)).split())  # NOTE: newlines would end a table row
    for char, entity in _ENTITIES:
        s = s.replace(char, entity)
    return _SPECIAL.sub(r"\\\1", s)


def md_table(df: pd.DataFrame, labels: Mapping[str, str] | None = None) -> str:
    """A GitHub table of `df` (display headers, shared number format); cells are escaped.

    `labels` overrides display names of columns, e.g. ``{"a": "original"}``.
    """
    shown = formatted(df)
    lines = [_row(headers(df, labels)), "|" + "---|" * len(df.columns)]
    lines += [_row(row) for row in shown.itertuples(index=False, name=None)]
    return "\n".join(lines)


def _row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(md_escape(c) for c in cells) + " |"


def md_pairs(pairs: Iterable[tuple[str, object]]) -> str:
    """A two-column key/value table; both sides are escaped."""
    lines = ["| | |", "|---|---|"]
    lines += [f"| {md_escape(k)} | {md_escape(v)} |" for k, v in pairs]
    return "\n".join(lines)


def md_code_block(text: str, lang: str = "") -> str:
    """A fenced block that `text` cannot close early (the fence outgrows any backtick run).

    Control characters but tab and newline show as their code points (`visible_controls`).
    """
    text = visible_controls(text)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"
