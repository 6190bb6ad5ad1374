"""Per-feature tables of tabular and signal reports: which columns (channels) leak, and samples.

Tabular reports rank the columns by how much of each the strongest reconstruction explains
(R^2 per column and attack: the question a data owner asks); signal reports rank the channels
by correlation. Values of samples are shown in the data's own units.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from privaudit.config.choices import Domain
from privaudit.results import AttackResult, AuditReport, FeatureScore, Status, strongest_attack

__all__ = ["TOP_FEATURES", "feature_metric", "leakage_table", "raw_samples", "sample_table"]

TOP_FEATURES = 4  # columns shown with their sample values


def feature_metric(report: AuditReport) -> tuple[str, str]:
    """The per-feature score a domain ranks by: (FeatureScore field, display name)."""
    if report.model.domain == Domain.SIGNAL:
        return "correlation", "correlation"
    return "r2", "R²"


def _scored(report: AuditReport) -> list[tuple[str, tuple[FeatureScore, ...]]]:
    """(name, per-feature scores) of the label and nearest references and every attack.

    Only successful attacks; not the prior, whose scores say nothing of a feature.
    """
    named = [(f"{r.name} (reference)", r.features) for r in report.references
             if r.name in ("label", "nearest") and r.features]  # fmt: skip
    named += [(a.attack, a.features) for a in report.attacks
              if a.status is Status.OK and a.features]  # fmt: skip
    return named


def leakage_table(report: AuditReport) -> pd.DataFrame:
    """One row per feature, most leaking first, with its scores.

    The domain's score per reconstruction, then the strongest attack's MSE (standardised and
    in the data's own units) and exact-match rate. Empty when the report has no per-feature
    scores (images, or no successful attack).
    """
    field, label = feature_metric(report)
    scored = _scored(report)
    best = strongest_attack(report.attacks)
    if not scored or best is None or not best.features:
        return pd.DataFrame()
    rows = []
    for j, f in enumerate(best.features):
        row: dict[str, object] = {"feature": f.name}
        row |= {f"{label} {name}": getattr(s[j], field) for name, s in scored}
        row |= {"MSE": f.mse, "MSE (own units)": f.mse_raw}
        if any(g.exact_match is not None for g in best.features):
            row["exact match"] = f.exact_match
        rows.append(row)
    attacks = [f"{label} {a.attack}" for a in report.attacks
               if a.status is Status.OK and a.features]  # fmt: skip
    order = sorted(range(len(rows)), key=lambda i: -_rank(rows[i], attacks))
    return pd.DataFrame([rows[i] for i in order])


def _rank(row: dict[str, object], attacks: list[str]) -> float:
    values = [v for k in attacks if isinstance(v := row.get(k), float) and math.isfinite(v)]
    return max(values, default=-math.inf)


def raw_samples(report: AuditReport, values: tuple[tuple[float, ...], ...]) -> np.ndarray:
    """Stored samples (flat, measured) in the data's own units: (n, F) or (n, C, T)."""
    d, shape = report.data, report.model.input_shape
    if not values or not d.feature_std:
        return np.zeros((0, *shape))
    x = np.asarray(values, dtype=np.float64).reshape(len(values), *shape)
    scale = (1, -1) + (1,) * (x.ndim - 2)
    raw: np.ndarray = x * np.asarray(d.feature_std).reshape(scale) + np.asarray(
        d.feature_mean).reshape(scale)
    return raw


def sample_table(report: AuditReport, attack: AttackResult | None = None) -> pd.DataFrame:
    """Stored evaluation rows: true and reconstructed values of the most leaking columns.

    Reconstructed by `attack` (default the strongest), in the data's own units; empty when
    there is nothing to show.
    """
    attack = attack or strongest_attack(report.attacks)
    table = leakage_table(report)
    if report.model.domain != Domain.TABULAR or attack is None or table.empty:
        return pd.DataFrame()
    true = raw_samples(report, report.sample_images)
    rec = raw_samples(report, attack.reconstructions)
    n = min(len(true), len(rec))
    names = list(report.data.feature_names)
    top = [names.index(str(f)) for f in table["feature"].head(TOP_FEATURES)]
    rows = []
    for i in range(n):
        row: dict[str, object] = {"sample": i}
        for j in top:
            row[f"{names[j]} true"] = float(true[i, j])
            row[f"{names[j]} {attack.attack}"] = float(rec[i, j])
        rows.append(row)
    return pd.DataFrame(rows)
