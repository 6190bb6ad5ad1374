"""Tidy CSV: one row per model x attack, numbers in the shared format."""

from __future__ import annotations

from typing import ClassVar

import pandas as pd

from privaudit.config.choices import ReportFormat
from privaudit.reports.table import NUMERIC_COLUMNS, formatted
from privaudit.results import AuditReport, attack_table

TEXT_COLUMNS = ("role", "model", "sha256", "split", "attack", "status", "reason", "metric")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CsvReporter:
    """`report.csv`: the shared attack table, one row per model x attack.

    Columns follow `reports._table.ATTACK_COLUMNS`; a harden report adds rows for the
    hardened model, the variants and the lambda grid (role column).
    """

    name: ClassVar[str] = ReportFormat.CSV.value
    suffix: ClassVar[str] = ".csv"

    def render(self, report: AuditReport) -> str:
        """CSV text with a header row, LF line ends and ``n/a`` for missing numbers."""
        table = defuse_formulas(formatted(attack_table(report)))
        text: str = table.to_csv(index=False, lineterminator="\n")
        return text


def defuse_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula (``=``, ``+``, ...) with ``'``.

    Model paths, split names and error messages are untrusted (OWASP "CSV injection").
    """
    out = df.copy()
    for col in out.columns:
        if col in TEXT_COLUMNS and col not in NUMERIC_COLUMNS:
            out[col] = [f"'{v}" if str(v).startswith(_FORMULA_START) else v for v in out[col]]
    return out
