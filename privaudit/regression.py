"""Decide whether a new audit is less private than an old one (`compare --fail-if-less-private`).

A pure function of two reports. The new model leaks more when its MSE floor is lower, when an
attack or a reference reconstruction does better (its MSE is lower beyond both bootstrap
intervals, or beyond the tolerance when either has none), or when its leakage bound (bits per
dimension) is higher beyond the tolerance. Harden reports are compared on their hardened
models, the ones their gates judge. A quantity the old report measured and the new one cannot
(a floor or a leakage that became unknown or unbounded, an attack that succeeded before and
has no result now, a reference that could not be computed now) counts as less private: a
regression gate must never pass by not measuring. Two reports whose MSEs are in different
units (pixels on [0, 1] against standardised features) are refused, not compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from privaudit.errors import ConfigError
from privaudit.results import (
    AttackResult,
    AuditReport,
    BoundResult,
    Interval,
    Reference,
    Status,
    mse_units,
)
from privaudit.results.verdict import lower_beyond_noise, unusable_reason

__all__ = [
    "DEFAULT_TOLERANCE", "Regression", "check_comparable", "check_tolerance",
    "less_private", "measured_differently",
]

DEFAULT_TOLERANCE = 0.05  # relative: 5 %


@dataclass(frozen=True)
class Regression:
    """One way the new model is less private than the old, with both numbers."""

    quantity: str  # "mse_floor" | "leakage_bits_per_dim" | "attack_mse" | "reference_mse"
    subject: str  # "bound", the attack's name, or "label reference", "prior reference", ...
    old: float | None
    new: float | None
    message: str


def check_tolerance(tolerance: float) -> float:
    """The relative tolerance, checked.

    Raises:
        ConfigError: not a finite number in [0, 1).
    """
    if not (math.isfinite(tolerance) and 0.0 <= tolerance < 1.0):
        raise ConfigError(f"--tolerance: expected a relative tolerance in [0, 1), got "
                          f"{tolerance:g}", hint="e.g. --tolerance 0.05 (5 %)")  # fmt: skip
    return tolerance


def check_comparable(old: AuditReport, new: AuditReport) -> None:
    """Refuse two reports whose MSEs are in different units (their kinds of data differ).

    Images are measured in pixels on [0, 1], tabular vectors and signals standardised per
    feature (`privaudit.data.units`): an MSE of one says nothing about the other's. The same
    kind of data audited on another model (original against hardened) compares.

    Raises:
        ConfigError: the two reports' data are of different kinds (`model.domain`), or they
            were measured differently (`measured_differently`: data, seed, bound settings,
            budget).
    """
    a, b = old.judged.model.domain, new.judged.model.domain
    if a != b:
        raise ConfigError(
            f"cannot compare {_kind(a)} with {_kind(b)}: their MSEs are in different units",
            hint="compare two reports of the same kind of data, e.g. the original and the "
            "hardened model audited on the same data",
        )
    differ = measured_differently(old, new)
    if differ:
        raise ConfigError(
            f"A and B were measured differently ({'; '.join(differ)}): a weaker or other "
            "audit of B would pass as more private",
            hint="audit both models with the same data, --seed, --budget and bound settings",
        )


def measured_differently(old: AuditReport, new: AuditReport) -> list[str]:
    """How two audits' measurements differ: data, split, seed, bound or budget (empty: alike).

    A smoke audit's weaker attacks made a model read as +243% harder to invert than the same
    model's standard audit, and `--fail-if-less-private` passed.
    """
    a, b = old.judged, new.judged
    out = []
    if a.data.fingerprint != b.data.fingerprint:
        out.append(f"data {a.data.source} vs {b.data.source}, different samples")
    elif (a.data.n_aux, a.data.n_eval) != (b.data.n_aux, b.data.n_eval):
        # NOTE: the same data split otherwise (eval_fraction, max_eval): an attacker with
        # fewer auxiliary samples is weaker, and B would pass as more private
        out.append(f"audit split {a.data.n_aux} vs {b.data.n_aux} auxiliary and "
                   f"{a.data.n_eval} vs {b.data.n_eval} evaluation samples")
    if a.provenance.seed != b.provenance.seed:
        out.append(f"seed {a.provenance.seed} vs {b.provenance.seed}")
    if a.bound is not None and b.bound is not None:
        # NOTE: the full covariance gives a lower leakage than the diagonal form on the same
        # features, fewer bootstrap replicates another interval (so another floor): read
        # one way round, the same model passed; the other way, it regressed by 184%
        sa, sb = _bound_settings(a), _bound_settings(b)
        out += [f"bound {k} {sa.get(k)!r} vs {sb.get(k)!r}" for k in BOUND_SETTINGS
                if sa.get(k) != sb.get(k)]  # fmt: skip
    ba, bb = _budget(a), _budget(b)
    if ba != bb and a.attacks and b.attacks:  # NOTE: a budget without attacks measures nothing
        out.append(f"budget {ba} vs {bb}")
    elif ba == bb:  # NOTE: the same budget, other settings of an attack (epochs 15 vs 1)
        theirs = {r.attack: r.params for r in b.attacks if r.status is Status.OK}
        for r in a.attacks:
            other = theirs.get(r.attack)
            if r.status is Status.OK and other is not None and dict(other) != dict(r.params):
                keys = sorted(k for k in {*r.params, *other} if r.params.get(k) != other.get(k))
                diff = ", ".join(f"{k} {r.params.get(k)!r} vs {other.get(k)!r}" for k in keys)
                out.append(f"attack {r.attack}'s settings {diff}")
    return out


BOUND_SETTINGS = ("covariance", "k", "bootstrap", "input_entropy", "input_entropy_unit")


def _bound_settings(report: AuditReport) -> dict[str, object]:
    """The settings the bound was measured with (its covariance from the bound itself)."""
    given = report.provenance.config.get("bound")
    settings = dict(given) if isinstance(given, dict) else {}
    assert report.bound is not None
    return {**settings, "covariance": report.bound.covariance}


def _budget(report: AuditReport) -> str:
    attacks = report.provenance.config.get("attacks")
    return str(attacks.get("budget")) if isinstance(attacks, dict) else "unknown"


def _kind(domain: str) -> str:
    """E.g. 'an image report (MSE per pixel on [0, 1])'."""
    article = "an" if domain[:1] in "aeiou" else "a"
    return f"{article} {domain} report (MSE {mse_units(domain)})"


def less_private(
    old: AuditReport, new: AuditReport, tolerance: float = DEFAULT_TOLERANCE
) -> tuple[Regression, ...]:
    """Every way `new` leaks more than `old` (empty: not less private).

    An attack or a reference with a result in `old` and none in `new` (not run, skipped,
    failed, or no MSE) is one too; one only in `new` is not.

    Args:
        old: the baseline report (e.g. the main branch's).
        new: the report of the candidate model.
        tolerance: relative slack on the floor, the leakage, and the attack MSEs that have no
            intervals; in [0, 1).

    Raises:
        ConfigError: a tolerance outside [0, 1), or reports in different units
            (`check_comparable`).
    """
    check_tolerance(tolerance)
    check_comparable(old, new)
    old, new = old.judged, new.judged
    found = [*_floor(old.bound, new.bound, tolerance), *_leakage(old.bound, new.bound, tolerance)]
    new_attacks = {a.attack: a for a in new.attacks}
    for a in old.attacks:
        found += _attack(a, new_attacks.get(a.attack), tolerance)
    # NOTE: the label reference is what the server reconstructs for free: a model whose
    # predicted class gives more away is less private even if no attack improved
    new_refs = {r.name: r for r in new.references}
    for r in old.references:
        found += _reference(r, new_refs.get(r.name), tolerance)
    return tuple(found)


def _known(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _floor(old: BoundResult | None, new: BoundResult | None, tol: float) -> list[Regression]:
    a = None if old is None else old.mse_floor
    b = None if new is None else new.mse_floor
    if not _known(a):
        return []
    assert a is not None
    if not _known(b):
        return [Regression("mse_floor", "bound", a, b,
                           f"MSE floor: {a:.4g} before, not measured now")]  # fmt: skip
    assert b is not None
    if b < a * (1 - tol):
        return [Regression("mse_floor", "bound", a, b, f"MSE floor lower: {a:.4g} -> {b:.4g} "
                           f"({_change(a, b)}, tolerance {tol:.0%})")]  # fmt: skip
    return []


def _leakage(old: BoundResult | None, new: BoundResult | None, tol: float) -> list[Regression]:
    a = None if old is None else old.leakage_bits_per_dim
    b = None if new is None else new.leakage_bits_per_dim
    if not _known(a):
        return []
    assert a is not None
    if not _known(b):
        why = "unbounded (sigma = 0)" if new is not None and new.vacuous else "not measured"
        return [Regression("leakage_bits_per_dim", "bound", a, b,
                           f"leakage: {a:.4g} bits/dim before, {why} now")]  # fmt: skip
    assert b is not None
    if b > a * (1 + tol):
        return [Regression("leakage_bits_per_dim", "bound", a, b,
                           f"leakage higher: {a:.4g} -> {b:.4g} bits/dim ({_change(a, b)}, "
                           f"tolerance {tol:.0%})")]  # fmt: skip
    return []


def _attack(old: AttackResult, new: AttackResult | None, tol: float) -> list[Regression]:
    if old.status is not Status.OK or not _known(old.mse):
        return []
    if new is None or new.status is not Status.OK or not _known(new.mse):
        state = "not run" if new is None else new.status.value
        return [_unmeasured("attack_mse", old.attack, f"attack {old.attack}", old.mse, state)]
    why = unusable_reason(new)
    if why is not None:  # NOTE: a B attack that learned nothing makes B read more private
        state = why.format(rule="the comparison")
        return [_unmeasured("attack_mse", old.attack, f"attack {old.attack}", old.mse, state)]
    return _reconstruction("attack_mse", old.attack, old.mse, old.mse_interval, new.mse,
                           new.mse_interval, tol)  # fmt: skip


def _reference(old: Reference, new: Reference | None, tol: float) -> list[Regression]:
    subject = f"{old.name} reference"
    if not _known(old.mse):
        return []
    if new is None or not _known(new.mse):
        state = ("absent: B may predate this reference, so re-audit it" if new is None
                 else "not computed")
        return [_unmeasured("reference_mse", subject, subject, old.mse, state)]
    return _reconstruction("reference_mse", subject, old.mse, old.mse_interval,
                           new.mse, new.mse_interval, tol)  # fmt: skip


def _unmeasured(
    quantity: str, subject: str, label: str, old: float | None, state: str
) -> Regression:
    """A reconstruction A scored that B has no MSE for: the gate must not pass unmeasured."""
    assert old is not None
    return Regression(quantity, subject, old, None,
                      f"{label}: no result in B to compare with A's MSE {old:.4g} "
                      f"(in B: {state})")  # fmt: skip


def _reconstruction(
    quantity: str, subject: str, a: float | None, i: Interval | None, b: float | None,
    j: Interval | None, tol: float,
) -> list[Regression]:  # fmt: skip
    """A reconstruction's MSE lower now: beyond both intervals, or the tolerance without."""
    if not (_known(a) and _known(b)):
        return []
    assert a is not None and b is not None
    if not lower_beyond_noise(b, j, a, i, tol):
        return []
    if i is not None and j is not None:
        return [Regression(quantity, subject, a, b,
                           f"{subject}: MSE lower: {a:.4g} [{i.low:.4g}, {i.high:.4g}] "
                           f"-> {b:.4g} [{j.low:.4g}, {j.high:.4g}], intervals apart")]
    return [Regression(quantity, subject, a, b,
                       f"{subject}: MSE lower: {a:.4g} -> {b:.4g} ({_change(a, b)}, "
                       f"no intervals, tolerance {tol:.0%})")]  # fmt: skip


def _change(a: float, b: float) -> str:
    return f"{(b - a) / abs(a):+.1%}" if a else f"{b - a:+.3g}"
