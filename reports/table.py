"""The shared tables (pandas DataFrames, fixed column order) and the one float formatter."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from privaudit.results import AuditReport, Comparison, EpochStats, Status, Variant, format_gain

COMPARE_COLUMNS: tuple[str, ...] = ("metric", "a", "b", "delta", "change")
SWEEP_COLUMNS: tuple[str, ...] = (
    "noise_sigma", "leakage_bits_per_dim", "cond_entropy_per_dim", "mse_floor", "paper_floor",
    "floor_ratio", "accuracy",
)  # fmt: skip
VARIANT_COLUMNS: tuple[str, ...] = (
    "label", "defence", "lam", "mu", "loss", "noise_sigma", "seeds", "clean_accuracy",
    "noisy_accuracy", "noisy_accuracy_std", "strongest_attack", "strongest_mse",
    "strongest_mse_std", "recovered", "decoder_mse", "decoder_mse_std", "leakage_bits_per_dim",
    "mse_floor", "paper_floor", "feature_mean", "feature_std", "within_class_share",
)  # fmt: skip
COMPARISON_COLUMNS: tuple[str, ...] = (
    "defence", "equal_sigma_gain", "equal_sigma_accuracy_delta", "frontier_label",
    "frontier_accuracy_delta", "frontier_gain",
)  # fmt: skip
HISTORY_COLUMNS: tuple[str, ...] = ("epoch", "task_loss", "cem_loss", "adversary_loss", "accuracy")
_TEXT_COLUMNS = frozenset({"label", "defence", "loss", "strongest_attack", "frontier_label",
                           "equal_sigma_gain", "frontier_gain"})
NUMERIC_COLUMNS = frozenset(
    {*SWEEP_COLUMNS, *VARIANT_COLUMNS, *COMPARISON_COLUMNS, *HISTORY_COLUMNS, "clean_accuracy",
     "noisy_accuracy", "mse", "psnr", "ssim", "recovered", "seconds", "n_samples", "lam", "a",
     "b", "mse_raw", "r2", "correlation", "exact_match", "noisy_accuracy_low",
     "noisy_accuracy_high", "prior_mse", "label_mse", "nearest_mse",
     "strongest_mse"} - _TEXT_COLUMNS
)  # fmt: skip
HEADERS = {
    "noise_sigma": "sigma", "clean_accuracy": "clean acc.", "noisy_accuracy": "noisy acc.",
    "leakage_bits_per_dim": "leakage (bits/dim)", "cond_entropy_per_dim": "h(x|z)/d (nats)",
    "mse_floor": "MSE floor (S)", "paper_floor": "paper's floor (T)",
    "floor_ratio": "floor ratio", "recovered": "recovered", "beats_label": "beats label",
    "mse": "MSE", "psnr": "PSNR (dB)", "ssim": "SSIM", "below_floor": "below floor",
    "n_samples": "samples", "seconds": "seconds",
    "noisy_accuracy_std": "noisy acc. std", "decoder_mse": "decoder MSE",
    "decoder_mse_std": "decoder MSE std", "within_class_share": "within-class share",
    "lam": "lambda", "task_loss": "task loss", "cem_loss": "CEM loss",
    "feature_mean": "feature mean", "feature_std": "feature std", "mse_raw": "MSE (own units)",
    "r2": "R²", "exact_match": "exact match",
    "noisy_accuracy_low": "noisy acc. low", "noisy_accuracy_high": "noisy acc. high",
    "prior_mse": "prior MSE", "label_mse": "label MSE", "nearest_mse": "nearest MSE",
    "strongest": "strongest reconstruction",
    "pareto": "Pareto", "meets": "meets constraints",
    "strongest_attack": "strongest attack", "strongest_mse": "strongest MSE",
    "strongest_mse_std": "strongest MSE std", "adversary_loss": "adversary MSE",
    "equal_sigma_gain": "gain vs noise-only (same sigma)",
    "equal_sigma_accuracy_delta": "acc. delta (points)",
    "frontier_label": "matched noise-only model", "frontier_accuracy_delta": "acc. delta to it",
    "frontier_gain": "gain vs noise-only (matched accuracy)",
}  # fmt: skip

# BoundResult fields compared between two runs, in this order.
_BOUND_METRICS: tuple[str, ...] = (
    "leakage_bits_per_dim", "leakage_nats", "cond_entropy_per_dim", "mse_floor",
    "paper_floor", "certified_mse_floor", "floor_ratio",
)  # fmt: skip


# NOTE: characters that reorder or hide text (bidirectional controls): a name holding one
# could make a report read other than it is written ("Trojan Source"); and control characters
# but tab and newline: a model named "x\x1b[31m.onnx" ran its escape sequence on `cat sweep.md`
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible_controls(text: str, *, lines: bool = True) -> str:
    """`text` with its control and bidirectional characters shown as code points: <U+001B>.

    `lines`: tabs and newlines are kept (False: shown too, for a text that must stay one line,
    such as a command whose quoted path holds a newline).
    """
    shown = _HIDDEN.sub(_code_point, text)
    return shown if lines else re.sub("[\t\n]", _code_point, shown)


def _code_point(m: re.Match[str]) -> str:
    return f"<U+{ord(m.group()):04X}>"


def format_float(x: float | int | None) -> str:
    """Format a number with 4 significant digits; ``"n/a"`` for None or NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.4g}"


def format_delta(x: float | None) -> str:
    """Format a signed difference like `format_float` (``+0.01``, ``-3``); ``"n/a"`` if missing."""
    if x is None or math.isnan(x):
        return "n/a"
    return f"{x:+.4g}"


def format_change(x: float | None) -> str:
    """Format a relative change as a signed percentage (``+35%``); ``"n/a"`` if missing."""
    if x is None or math.isnan(x) or math.isinf(x):
        return "n/a"
    return f"{100 * x:+.3g}%"


def compare_table(a: AuditReport, b: AuditReport) -> pd.DataFrame:
    """Two runs side by side: one row per metric with ``a``, ``b``, ``delta`` = b - a, ``change``.

    Metrics: the noise sigma, clean/noisy accuracy, the bound's numbers, then each attack's
    MSE, PSNR, SSIM and recovered share (attacks of `a` in order, then those only `b` ran; an
    attack that succeeded in neither run is left out), then each reference reconstruction's
    MSE and recovered share (what `compare --fail-if-less-private` also judges).
    """
    rows = [_compare_row("noise_sigma", _sigma(a), _sigma(b))]
    rows.append(_compare_row("clean_accuracy", a.utility.clean_accuracy, b.utility.clean_accuracy))
    rows.append(_compare_row("noisy_accuracy", a.utility.noisy_accuracy, b.utility.noisy_accuracy))
    rows += [_compare_row(n, _bound_value(a, n), _bound_value(b, n)) for n in _BOUND_METRICS]
    attacks = ({r.attack: r for r in a.attacks if r.status is Status.OK},
               {r.attack: r for r in b.attacks if r.status is Status.OK})
    references = ({r.name: r for r in a.references if r.mse is not None},
                  {r.name: r for r in b.references if r.mse is not None})
    names = [r.attack for r in (*a.attacks, *b.attacks)]
    rows += _measured_rows(attacks, names, ("mse", "psnr", "ssim", "recovered"), "{}")
    names = [r.name for r in (*a.references, *b.references)]
    rows += _measured_rows(references, names, ("mse", "recovered"), "{} reference")
    return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))


def _measured_rows(
    measured: tuple[dict[str, Any], dict[str, Any]], names: list[str],
    metrics: tuple[str, ...], label: str,
) -> list[dict[str, object]]:  # fmt: skip
    """A row per name (A's order, then B's new ones) and metric that A or B measured.

    `measured` maps each run's names to the results that succeeded; a name measured in
    neither run gets no row.
    """
    rows = []
    for name in dict.fromkeys(names):
        for metric in metrics:
            va, vb = (None if name not in m else getattr(m[name], metric) for m in measured)
            if va is not None or vb is not None:
                rows.append(_compare_row(f"{label.format(name)} {metric}", va, vb))
    return rows


def _compare_row(metric: str, a: float | None, b: float | None) -> dict[str, object]:
    delta = None if a is None or b is None else b - a
    change = delta / abs(a) if delta is not None and a else None
    return {"metric": metric, "a": a, "b": b, "delta": delta, "change": change}


def _sigma(report: AuditReport) -> float | None:
    return None if report.bound is None else report.bound.noise_sigma


def _bound_value(report: AuditReport, name: str) -> float | None:
    value = None if report.bound is None else getattr(report.bound, name)
    return None if value is None else float(value)


def sweep_table(report: AuditReport) -> pd.DataFrame:
    """The noise sweep, one row per sigma, columns in `SWEEP_COLUMNS` order."""
    rows = [{c: getattr(p, c) for c in SWEEP_COLUMNS} for p in report.sweep]
    return pd.DataFrame(rows, columns=list(SWEEP_COLUMNS))


def variant_table(variants: tuple[Variant, ...]) -> pd.DataFrame:
    """Fine-tuned variants (or the lambda grid), columns in `VARIANT_COLUMNS` order."""
    rows = [{c: getattr(v, c) for c in VARIANT_COLUMNS} for v in variants]
    return pd.DataFrame(rows, columns=list(VARIANT_COLUMNS))


def comparison_table(comparisons: tuple[Comparison, ...]) -> pd.DataFrame:
    """Each defence against noise-only, gains as ``+29.1% ± 3.0%`` (mean ± spread over seeds)."""
    rows = [{
        "defence": c.defence,
        "equal_sigma_gain": format_gain(c.equal_sigma_mse_gain, c.equal_sigma_mse_gain_std),
        "equal_sigma_accuracy_delta": c.equal_sigma_accuracy_delta,
        "frontier_label": c.frontier_label or "none within 1 point",
        "frontier_accuracy_delta": c.frontier_accuracy_delta,
        "frontier_gain": format_gain(c.frontier_mse_gain, c.frontier_mse_gain_std),
    } for c in comparisons]  # fmt: skip
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))


def history_table(history: tuple[EpochStats, ...]) -> pd.DataFrame:
    """Fine-tuning history, one row per epoch, columns in `HISTORY_COLUMNS` order."""
    rows = [{c: getattr(e, c) for c in HISTORY_COLUMNS} for e in history]
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def formatted(df: pd.DataFrame) -> pd.DataFrame:
    """The display form of a table: every cell a string, numbers through the shared formatters."""
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        out[col] = [_cell(col, v) for v in df[col].tolist()]
    return out


def raw_cells(df: pd.DataFrame) -> pd.DataFrame:
    """The machine form of a table (CSV): every cell a string that reads back exactly.

    Numbers at full precision (``repr``: the shortest text that gives the same float back),
    booleans as ``true``/``false``, missing values (None, NaN) as empty cells; no percentages,
    no rounding.
    """
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        out[col] = [_raw(v) for v in df[col].tolist()]
    return out


def _raw(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def headers(df: pd.DataFrame, labels: Mapping[str, str] | None = None) -> list[str]:
    """Display names of `df`'s columns: `labels`, else `HEADERS`, else the raw name."""
    names = {**HEADERS, **(labels or {})}
    return [names.get(c, c) for c in df.columns]


def format_share(x: float | None) -> str:
    """A share as a percentage (``61%``); ``"n/a"`` when missing."""
    return "n/a" if x is None or math.isnan(x) else f"{100 * x:.0f}%"


def _cell(col: str, value: object) -> str:
    if col == "recovered" and not isinstance(value, str):
        return format_share(_number(value))
    if col == "delta":
        return format_delta(_number(value))
    if col == "change":
        return format_change(_number(value))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a" if col in NUMERIC_COLUMNS else ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return format_float(value)
    return str(value)


def _number(value: object) -> float | None:
    if value is None or isinstance(value, str):
        return None
    return float(value)  # type: ignore[arg-type]
