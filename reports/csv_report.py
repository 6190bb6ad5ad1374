"""Tidy CSV: one row per model x attack, numbers at full precision (machine-readable)."""

from __future__ import annotations

from typing import ClassVar

import pandas as pd

from privaudit.config.choices import ReportFormat
from privaudit.reports.table import NUMERIC_COLUMNS, raw_cells
from privaudit.results import (
    INTERVAL_METRICS,
    AuditReport,
    attack_table,
    feature_table,
    python_strings,
)

# NOTE: every text column of every CSV written (report.csv, sweep.csv, compare's): a cut name
# is as untrusted as a split name
TEXT_COLUMNS = ("role", "model", "sha256", "split", "cut", "kind", "attack", "status", "reason",
                "metric", "feature")
FEATURE_EXTRA = ("feature", "mse_raw", "r2", "correlation", "exact_match")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CsvReporter:
    """`report.csv`: the shared attack table, one row per model x attack.

    Columns follow `results.table.ATTACK_COLUMNS` (each metric with its interval's `_low` and
    `_high`); numbers are written in full (``repr``), booleans as ``true``/``false``, missing
    values as empty cells, shares as fractions. A harden report adds rows for the
    hardened model, the variants and the lambda grid (role column). A tabular or signal
    report adds the columns `feature`, `mse_raw`, `r2`, `correlation`, `exact_match` and one row
    per model x reconstruction x feature (its `feature` filled in; `mse` that feature's).
    """

    name: ClassVar[str] = ReportFormat.CSV.value
    suffix: ClassVar[str] = ".csv"

    @python_strings
    def render(self, report: AuditReport) -> str:
        """CSV text with a header row, LF line ends and empty cells for missing values."""
        table = with_features(attack_table(report), report)
        text: str = defuse_formulas(raw_cells(table)).to_csv(index=False, lineterminator="\n")
        return text


def with_features(table: pd.DataFrame, report: AuditReport) -> pd.DataFrame:
    """The attack table, then one row per reconstruction x feature (none for images)."""
    features = feature_table(report)
    if features.empty:
        return table
    common = table.drop_duplicates("role").set_index("role")
    per_row = {"kind", "attack", "status", "reason", "beats_label", "below_floor", "n_samples",
               "seconds", *(f"{m}{end}" for m in INTERVAL_METRICS for end in ("", "_low", "_high"))}
    keep = [c for c in table.columns if c not in per_row]
    rows = features.join(common[[c for c in keep if c != "role"]], on="role")
    rows["status"] = "ok"
    columns = [*table.columns, *FEATURE_EXTRA]
    out = pd.concat([table, rows], ignore_index=True).reindex(columns=columns)
    out["n_samples"] = out["n_samples"].astype("Int64")  # NOTE: stays a count beside empty cells
    return out


def defuse_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula (``=``, ``+``, ...) with ``'``.

    Model paths, split names and error messages are untrusted (OWASP "CSV injection").
    """
    out = df.copy()
    for col in out.columns:
        if col in TEXT_COLUMNS and col not in NUMERIC_COLUMNS:
            out[col] = [f"'{v}" if str(v).startswith(_FORMULA_START) else v for v in out[col]]
    return out
