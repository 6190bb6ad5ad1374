"""The tidy table of a report: one row per model x attack (`AuditReport.to_dataframe`).

Raw values (floats, None for missing), columns in `ATTACK_COLUMNS` order; the reporters
format them. pandas is imported when a table is built, not with this module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from privaudit.config.choices import AttackName
from privaudit.results.schema import (
    AttackResult,
    AuditReport,
    BoundResult,
    Interval,
    Reference,
    Status,
    Variant,
)
from privaudit.results.verdict import below_floor

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ATTACK",
    "ATTACK_COLUMNS",
    "FEATURE_COLUMNS",
    "INTERVAL_METRICS",
    "REFERENCE",
    "attack_table",
    "feature_table",
    "model_table",
    "python_strings",
]

ATTACK_COLUMNS: tuple[str, ...] = (
    "role", "model", "sha256", "split", "noise_sigma", "clean_accuracy", "noisy_accuracy",
    "leakage_bits_per_dim", "mse_floor", "paper_floor", "kind", "attack", "status",
    "mse", "mse_low", "mse_high", "psnr", "psnr_low", "psnr_high", "ssim", "ssim_low",
    "ssim_high", "recovered", "recovered_low", "recovered_high", "beats_label", "below_floor",
    "n_samples", "seconds", "reason",
)  # fmt: skip
# the 95% bootstrap interval of each metric: its `_low` and `_high` columns (None: none)
INTERVAL_METRICS: tuple[str, ...] = ("mse", "psnr", "ssim", "recovered")
ATTACK, REFERENCE = "attack", "reference"  # the row kinds: a reconstruction by an attack, or not
_P = ParamSpec("_P")
_R = TypeVar("_R")


def python_strings(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `fn` with pandas' text columns stored as Python strings, whatever is installed.

    # NOTE: pandas 3 stores text in pyarrow when pyarrow is installed (it is, with the
    # `parquet` extra), and pyarrow refuses text UTF-8 cannot encode: a file name with an
    # undecodable byte (a lone surrogate) would make every table fail. Python storage takes
    # any text, as without pyarrow; it is set for the call only, never for the caller.
    """

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        import pandas as pd

        with pd.option_context("mode.string_storage", "python"):
            return fn(*args, **kwargs)

    return wrapper

FEATURE_COLUMNS: tuple[str, ...] = (
    "role", "kind", "attack", "feature", "mse", "mse_raw", "r2", "correlation", "exact_match",
)  # fmt: skip

@python_strings
def attack_table(report: AuditReport) -> pd.DataFrame:
    """One tidy row per model x attack, columns in `ATTACK_COLUMNS` order.

    A harden report gives the original model's rows (role ``original``), the hardened
    model's (``hardened``), and one ``decoder`` row per measured variant (``variant``) and
    per lambda tried (``grid``). Any other report gives rows with role ``audited``.
    """
    import pandas as pd

    if report.harden is None:
        return model_table(report)
    h = report.harden
    rows = [*_model_rows(report, "original"), *_model_rows(h.after, "hardened")]
    rows += [_variant_row(report, v, "variant") for v in h.variants]
    rows += [_variant_row(report, v, "grid") for v in h.grid]
    return pd.DataFrame(rows, columns=list(ATTACK_COLUMNS))


@python_strings
def model_table(report: AuditReport, role: str = "audited") -> pd.DataFrame:
    """The rows of `report`'s own attacks and references (no hardened model or variants)."""
    import pandas as pd

    return pd.DataFrame(list(_model_rows(report, role)), columns=list(ATTACK_COLUMNS))


def _model_rows(report: AuditReport, role: str) -> Iterator[dict[str, object]]:
    bound = report.bound
    common: dict[str, object] = {
        "role": role,
        "model": report.model.path,
        "sha256": report.model.sha256,
        "split": report.model.split,
        "noise_sigma": None if bound is None else bound.noise_sigma,
        "clean_accuracy": report.utility.clean_accuracy,
        "noisy_accuracy": report.utility.noisy_accuracy,
        "leakage_bits_per_dim": None if bound is None else bound.leakage_bits_per_dim,
        "mse_floor": None if bound is None else bound.mse_floor,
        "paper_floor": None if bound is None else bound.paper_floor,
    }
    for r in report.references:
        yield common | _reference_cells(r, report.data.n_eval, bound)
    for a in report.attacks:
        yield common | _attack_cells(a)


@python_strings
def feature_table(report: AuditReport) -> pd.DataFrame:
    """One tidy row per model x reconstruction x input feature (tabular column, signal channel).

    Columns in `FEATURE_COLUMNS` order: the reconstruction (`kind` attack or reference, its
    name), the feature, its MSE standardised and in the data's own units, R^2, correlation and
    exact-match rate. Empty for images (they have no per-feature scores).
    """
    import pandas as pd

    audited = [(report, "original" if report.harden else "audited")]
    if report.harden is not None:
        audited.append((report.harden.after, "hardened"))
    rows = []
    for part, role in audited:
        named = [(REFERENCE, r.name, r.features) for r in part.references]
        named += [(ATTACK, a.attack, a.features) for a in part.attacks]
        rows += [{"role": role, "kind": kind, "attack": name, "feature": f.name, "mse": f.mse,
                  "mse_raw": f.mse_raw, "r2": f.r2, "correlation": f.correlation,
                  "exact_match": f.exact_match}
                 for kind, name, scores in named for f in scores]  # fmt: skip
    return pd.DataFrame(rows, columns=list(FEATURE_COLUMNS))


def _attack_cells(a: AttackResult) -> dict[str, object]:
    return {
        "kind": ATTACK, "attack": a.attack, "status": a.status.value, "mse": a.mse,
        "psnr": a.psnr, "ssim": a.ssim, "recovered": a.recovered, "beats_label": a.beats_label,
        "below_floor": a.below_floor, "n_samples": a.n_samples, "seconds": a.seconds,
        "reason": a.reason or "",
        **_bounds("mse", a.mse_interval), **_bounds("psnr", a.psnr_interval),
        **_bounds("ssim", a.ssim_interval), **_bounds("recovered", a.recovered_interval),
    }  # fmt: skip


def _bounds(metric: str, interval: Interval | None) -> dict[str, object]:
    """The `_low` and `_high` cells of a metric's interval (None when it has none)."""
    low, high = (None, None) if interval is None else (interval.low, interval.high)
    return {f"{metric}_low": low, f"{metric}_high": high}


def _reference_cells(r: Reference, n_eval: int, bound: BoundResult | None) -> dict[str, object]:
    ok = r.mse is not None
    return {
        "kind": REFERENCE, "attack": r.name, "status": (Status.OK if ok else Status.SKIPPED).value,
        "mse": r.mse, "psnr": r.psnr, "ssim": r.ssim, "recovered": r.recovered,
        "beats_label": None,
        "below_floor": below_floor(bound, r),
        "n_samples": n_eval if ok else 0, "seconds": 0.0,
        "reason": r.reason or "", **_bounds("mse", r.mse_interval),
    }  # fmt: skip


def _variant_row(report: AuditReport, v: Variant, role: str) -> dict[str, object]:
    """A variant's strongest attack (its decoder in reports before schema 3's defences)."""
    strongest = v.strongest_mse is not None
    measured = strongest or v.decoder_mse is not None
    attack = v.strongest_attack if strongest else AttackName.DECODER.value
    return {
        "role": role, "model": v.label, "sha256": "", "split": report.model.split,
        "noise_sigma": v.noise_sigma, "clean_accuracy": v.clean_accuracy,
        "noisy_accuracy": v.noisy_accuracy, "leakage_bits_per_dim": v.leakage_bits_per_dim,
        "mse_floor": v.mse_floor, "paper_floor": v.paper_floor, "kind": ATTACK,
        "attack": attack,
        "status": (Status.OK if measured else Status.SKIPPED).value,
        "mse": v.strongest_mse if strongest else v.decoder_mse,
        "psnr": None, "ssim": None, "recovered": v.recovered, "beats_label": None,
        "below_floor": False, "n_samples": 0, "seconds": None,
        "reason": "" if measured else "not measured",
    }  # fmt: skip


