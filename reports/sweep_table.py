"""The tables of a sweep (pandas, fixed column order): its points, its runs, two sweeps compared."""

from __future__ import annotations

import pandas as pd

from privaudit.reports.table import COMPARE_COLUMNS
from privaudit.results import GridPoint, Reference, Status, SweepReport, below_floor

__all__ = [
    "POINT_COLUMNS",
    "RUN_COLUMNS",
    "points_table",
    "runs_table",
    "sweep_compare_table",
]

POINT_COLUMNS: tuple[str, ...] = (
    "cut", "noise_sigma", "clean_accuracy", "noisy_accuracy", "noisy_accuracy_low",
    "noisy_accuracy_high", "leakage_bits_per_dim", "mse_floor", "paper_floor", "prior_mse",
    "label_mse", "nearest_mse", "strongest", "strongest_mse", "recovered", "pareto", "meets",
)  # fmt: skip
RUN_COLUMNS: tuple[str, ...] = (
    "cut", "noise_sigma", "clean_accuracy", "noisy_accuracy", "leakage_bits_per_dim",
    "mse_floor", "paper_floor", "pareto", "recommended", "kind", "attack", "seed", "status",
    "mse", "psnr", "ssim", "recovered", "beats_label", "below_floor", "seconds", "reason",
)  # fmt: skip
# The per-point numbers two sweeps are compared on, in this order.
_COMPARED = ("noisy_accuracy", "strongest_mse", "recovered", "leakage_bits_per_dim", "mse_floor")


def _reference(point: GridPoint, name: str) -> Reference | None:
    return next((r for r in point.references if r.name == name), None)


def _point_cells(p: GridPoint) -> dict[str, object]:
    b, interval = p.bound, p.noisy_accuracy.interval
    prior, label, near = _reference(p, "prior"), _reference(p, "label"), _reference(p, "nearest")
    return {
        "cut": p.cut, "noise_sigma": p.noise_sigma, "clean_accuracy": p.clean_accuracy.value,
        "noisy_accuracy": p.noisy_accuracy.value,
        "noisy_accuracy_low": None if interval is None else interval.low,
        "noisy_accuracy_high": None if interval is None else interval.high,
        "leakage_bits_per_dim": None if b is None else b.leakage_bits_per_dim,
        "mse_floor": None if b is None else b.mse_floor,
        "paper_floor": None if b is None else b.paper_floor,
        "prior_mse": None if prior is None else prior.mse,
        "label_mse": None if label is None else label.mse,
        "nearest_mse": None if near is None else near.mse,
        "strongest": p.strongest or "", "strongest_mse": p.strongest_mse,
        "recovered": p.recovered, "pareto": p.pareto, "meets": p.meets,
    }  # fmt: skip


def points_table(report: SweepReport) -> pd.DataFrame:
    """One row per (cut, sigma), columns in `POINT_COLUMNS` order (raw values)."""
    return pd.DataFrame([_point_cells(p) for p in report.points], columns=list(POINT_COLUMNS))


def runs_table(report: SweepReport) -> pd.DataFrame:
    """One tidy row per point x (reference, or attack x seed): the CSV's rows."""
    rec = report.recommendation
    rows = []
    for p in report.points:
        common = {k: v for k, v in _point_cells(p).items() if k in RUN_COLUMNS}
        common["recommended"] = rec.met and (rec.cut, rec.noise_sigma) == (p.cut, p.noise_sigma)
        for r in p.references:
            ok = r.mse is not None
            rows.append(common | {
                "kind": "reference", "attack": r.name, "seed": report.provenance.seed,
                "status": (Status.OK if ok else Status.SKIPPED).value, "mse": r.mse,
                "psnr": r.psnr, "ssim": r.ssim, "recovered": r.recovered, "beats_label": None,
                "below_floor": below_floor(p.bound, r),
                "seconds": 0.0, "reason": r.reason or "",
            })  # fmt: skip
        for run in p.runs:
            a = run.result
            rows.append(common | {
                "kind": "attack", "attack": a.attack, "seed": run.seed,
                "status": a.status.value, "mse": a.mse, "psnr": a.psnr, "ssim": a.ssim,
                "recovered": a.recovered, "beats_label": a.beats_label,
                "below_floor": a.below_floor, "seconds": a.seconds, "reason": a.reason or "",
            })  # fmt: skip
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS))


def sweep_compare_table(a: SweepReport, b: SweepReport) -> pd.DataFrame:
    """Two sweeps point by point: one row per (cut, sigma, metric), `COMPARE_COLUMNS` order.

    Points of `a` in order, then those only `b` has; a metric missing in both is left out.
    """
    keys = [(p.cut, p.noise_sigma) for p in a.points]
    keys += [(p.cut, p.noise_sigma) for p in b.points if (p.cut, p.noise_sigma) not in keys]
    rows = []
    for cut, sigma in keys:
        pa, pb = a.point(cut, sigma), b.point(cut, sigma)
        ca = {} if pa is None else _point_cells(pa)
        cb = {} if pb is None else _point_cells(pb)
        for metric in _COMPARED:
            va, vb = _number(ca.get(metric)), _number(cb.get(metric))
            if va is None and vb is None:
                continue
            delta = None if va is None or vb is None else vb - va
            change = delta / abs(va) if delta is not None and va else None
            rows.append({"metric": f"{cut} sigma {sigma:g} {metric}", "a": va, "b": vb,
                         "delta": delta, "change": change})  # fmt: skip
    return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
