"""HTML building blocks: escaping, tables from the shared DataFrames, sections."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape

import pandas as pd

from privaudit.reports.table import formatted, headers, visible_controls


def esc(text: object) -> str:
    """Escape untrusted text for HTML element content and quoted attributes.

    Bidirectional control characters are shown as their code points (`visible_controls`).
    """
    return escape(visible_controls(str(text)), quote=True)


def table_html(
    df: pd.DataFrame, css_class: str = "", labels: Mapping[str, str] | None = None
) -> str:
    """An HTML table of `df` (display headers, shared number format); every cell escaped.

    Args:
        df: one of the `reports._table` tables.
        css_class: class of the ``<table>``.
        labels: display names overriding the default headers, e.g. ``{"a": "original"}``.
    """
    shown = formatted(df)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers(df, labels))
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>"
        for row in shown.itertuples(index=False, name=None)
    )
    cls = f' class="{esc(css_class)}"' if css_class else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def pairs_html(pairs: Iterable[tuple[str, str]]) -> str:
    """A two-column key/value table; both sides escaped."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in pairs)
    return f'<table class="pairs"><tbody>{rows}</tbody></table>'


def section(anchor: str, title: str, *body: str) -> str:
    """A ``<section>`` with an ``<h2>``; `body` parts are trusted HTML (already escaped)."""
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{"".join(body)}</section>'


def para(text: str, css_class: str = "") -> str:
    """A paragraph of untrusted plain text."""
    cls = f' class="{esc(css_class)}"' if css_class else ""
    return f"<p{cls}>{esc(text)}</p>"


def details(summary: str, body: str) -> str:
    """A folded block; `summary` is escaped, `body` is trusted HTML."""
    return f"<details><summary>{esc(summary)}</summary>{body}</details>"
