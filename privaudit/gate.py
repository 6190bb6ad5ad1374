"""Evaluate the CI gate thresholds against an audit report; a pure function."""

from __future__ import annotations

import math
from collections.abc import Iterator

from privaudit.config import ATTACK_RULES, GateConfig
from privaudit.results import (
    AttackResult,
    AuditReport,
    BoundResult,
    Dfil,
    GateResult,
    Reference,
    Status,
    Violation,
)
from privaudit.results.verdict import (
    FAILED_TO_LEARN,
    MIN_GATED_SAMPLES,
    Reconstruction,
    floor_refuted_by,
    paper_floor_refuted_by,
    refuted_floor_words,
    refuted_paper_floor_words,
    unusable_reason,
)

__all__ = ["FAILED_TO_LEARN", "MIN_GATED_SAMPLES", "evaluate_gate", "evaluate_report",
           "unusable_reason"]


def evaluate_gate(
    gate: GateConfig,
    bound: BoundResult | None,
    attacks: tuple[AttackResult, ...],
    dfil: Dfil | None = None,
    references: tuple[Reference, ...] = (),
) -> GateResult:
    """Check every configured threshold; a value equal to its threshold passes.

    Missing or NaN values fail (a gate must never pass by not measuring). An attack that
    errored fails any active gate; a skipped one fails only with ``strict``. The attack
    thresholds (`min_attack_mse`, `max_recovered`) also hold the reference reconstructions
    to them: the server gets the label reference for free and anyone the prior, so a gate
    that checked the attacks alone would pass where these reconstruct better.

    Args:
        gate: thresholds; all None means no gate (passes, ``active`` False).
        bound: the bound of the audit (None when it was not computed).
        attacks: the battery's results.
        dfil: the Fisher information leakage (None when it was not measured).
        references: the reference reconstructions (those without an MSE are not checked:
            the label reference needs labels and logits).

    Returns:
        The violations found, in rule order.
    """
    if not gate.active:
        return GateResult(active=False)
    refuted = floor_refuted_by(bound, attacks, references)
    paper = paper_floor_refuted_by(bound, attacks, references)
    found = [*_bound_rules(gate, bound, refuted, paper), *_attack_rules(gate, attacks),
             *_reference_rules(gate, references), *_dfil_rule(gate, dfil)]
    return GateResult(active=True, violations=tuple(found))


def evaluate_report(gate: GateConfig, report: AuditReport) -> GateResult:
    """Apply `gate` to a saved report (``privaudit check``) without recomputing anything.

    A `harden` report is gated on its hardened model, as `privaudit harden`'s exit code is.
    """
    gated = report.judged
    return evaluate_gate(gate, gated.bound, gated.attacks, gated.dfil, gated.references)


# NOTE: the rules that rest on the estimate of h(x), which a reconstruction below the floor
# refutes (`floor_refuted_by`); the leakage I_up does not depend on it
_ENTROPY_RULES = ("min_cond_entropy", "min_mse_floor")


def _bound_rules(
    gate: GateConfig, bound: BoundResult | None, refuted: Reconstruction | None,
    paper: Reconstruction | None = None,
) -> Iterator[Violation]:
    """The bound's rules; those resting on h(x) fail where a reconstruction refutes it.

    Below the floor (S): both; below the paper's floor (T): the conditional entropy.
    """
    checks = (
        ("min_cond_entropy", gate.min_cond_entropy, "cond_entropy_per_dim", "nats/dim", True),
        ("min_mse_floor", gate.min_mse_floor, "mse_floor", "", True),
        ("max_leakage", gate.max_leakage, "leakage_bits_per_dim", "bits/dim", False),
    )
    for rule, threshold, attr, unit, at_least in checks:
        if threshold is None:
            continue
        value = None if bound is None else getattr(bound, attr)
        if rule == "max_leakage" and bound is not None:
            value, invalid = gated_leakage(bound)
            if invalid is not None:
                yield Violation(rule, "bound", value, threshold, f"bound: {rule} needs a "
                                f"bound: {invalid}")  # fmt: skip
                continue
        violation = _compare(rule, "bound", value, threshold, at_least, unit)
        if violation is None and refuted is not None and rule in _ENTROPY_RULES:
            assert bound is not None
            words = refuted_floor_words(bound, refuted)
            violation = Violation(rule, "bound", value, threshold, f"bound: {rule} does not "
                                  f"hold: {words} (gate on the attacks instead)")  # fmt: skip
        if violation is None and paper is not None and rule == "min_cond_entropy":
            assert bound is not None
            violation = Violation(rule, "bound", value, threshold, f"bound: {rule} does not "
                                  f"hold: {refuted_paper_floor_words(bound, paper)} (gate on "
                                  "the attacks instead)")  # fmt: skip
        if violation is not None:
            if bound is not None and bound.vacuous:
                violation = _vacuous(violation)
            yield violation


def gated_leakage(bound: BoundResult) -> tuple[float | None, str | None]:
    """The leakage the gate reads, bits per input dimension, and why it is no bound, or None.

    The plug-in I_up, or the upper end of its bootstrap interval when the plug-in lies below
    the whole interval (small clusters bias it low: the report says so). With the full
    covariance and clusters smaller than the features, I_up is an estimate that
    underestimates I(x; z), which no leakage threshold may pass.
    """
    chosen = next((t for t in bound.terms if t.clustering == bound.clustering), None)
    if bound.covariance == "full" and chosen is not None and (
            chosen.min_cluster_size < bound.feature_dim):  # fmt: skip
        return bound.leakage_bits_per_dim, (
            f"with the full covariance and {bound.clustering} clusters of {chosen.min_cluster_size}"
            f" samples, fewer than the m = {bound.feature_dim} features, I_up is an estimate "
            "that underestimates the leakage (audit with --covariance diagonal)")
    iv, nats = bound.leakage_interval, bound.leakage_nats
    if iv is None or nats is None or bound.input_dim <= 0 or not nats < iv.low:
        return bound.leakage_bits_per_dim, None
    return iv.high / (bound.input_dim * math.log(2)), None


def _attack_rules(gate: GateConfig, attacks: tuple[AttackResult, ...]) -> Iterator[Violation]:
    if not any(a.status is Status.OK for a in attacks):
        # NOTE: no attack measured anything (none ran: --no-attacks, or all skipped or
        # errored): an attack threshold must not pass by not measuring
        ran = "no attack ran" if not attacks else "no attack succeeded"
        for rule in ATTACK_RULES:
            threshold = getattr(gate, rule)
            if threshold is not None:
                yield Violation(rule, "attacks", None, threshold,
                                f"attacks: {rule} needs an attack's result, {ran} "
                                f"(threshold {threshold:g})")  # fmt: skip
    for a in attacks:
        if a.status is Status.ERROR:
            yield Violation("attack_error", a.attack, None, None, f"{a.attack} failed: {a.reason}")
        elif a.status is Status.SKIPPED and gate.strict:
            yield Violation("strict", a.attack, None, None, f"{a.attack} skipped: {a.reason}")
        elif a.status is Status.OK:
            yield from _reconstruction_rules(gate, a.attack, a.mse, a.recovered)
            yield from _unusable(gate, a)


def _unusable(gate: GateConfig, a: AttackResult) -> Iterator[Violation]:
    """The attack thresholds fail on an attack whose result cannot speak for the features.

    Either it did much worse than guessing the mean input, so it did not train (a smoke budget
    on a hardened model: decoder recovered -70%, and `--fail-under-attack-mse 0.04` passed
    where the standard budget's decoder reaches 0.0316); or it was scored on too few samples
    (a tester's audit of 2 rows passed `--fail-over-recovered 0.1` on one sample). An
    `n_samples` of 0 is not recorded (a result built by hand).
    """
    why = unusable_reason(a)
    if why is None:
        return
    for rule in ATTACK_RULES:
        threshold = getattr(gate, rule)
        if threshold is not None:
            yield Violation(rule, a.attack, None, threshold,
                            f"{a.attack}: {why.format(rule=rule)}")


def _reference_rules(gate: GateConfig, references: tuple[Reference, ...]) -> Iterator[Violation]:
    for r in references:
        if r.mse is not None:
            yield from _reconstruction_rules(gate, f"{r.name} reference", r.mse, r.recovered)


def _reconstruction_rules(
    gate: GateConfig, subject: str, mse: float | None, recovered: float | None
) -> Iterator[Violation]:
    checks = (
        ("min_attack_mse", gate.min_attack_mse, mse, True, ""),
        ("max_recovered", gate.max_recovered, recovered, False, "of the variance"),
    )
    for rule, threshold, value, at_least, unit in checks:
        if threshold is not None:
            violation = _compare(rule, subject, value, threshold, at_least, unit)
            if violation is not None:
                yield violation


def _dfil_rule(gate: GateConfig, dfil: Dfil | None) -> Iterator[Violation]:
    threshold = gate.min_dfil_mse
    if threshold is None:
        return
    value = None if dfil is None or dfil.status is not Status.OK else dfil.inverse_p05
    violation = _compare("min_dfil_mse", "dfil", value, threshold, True, "")
    if violation is not None and dfil is not None and dfil.reason:
        violation = Violation(violation.rule, violation.subject, None, threshold,
                              f"{violation.message} ({dfil.reason})")
    if violation is not None:
        yield violation


def _compare(
    rule: str, subject: str, value: float | None, threshold: float, at_least: bool, unit: str
) -> Violation | None:
    sign = ">=" if at_least else "<="
    unit = f" {unit}" if unit else ""
    if value is None or math.isnan(value):
        message = f"{subject}: {rule} needs a value, none was measured (threshold {threshold:g})"
        return Violation(rule, subject, value, threshold, message)
    ok = value >= threshold if at_least else value <= threshold
    if ok:
        return None
    shown, limit = _distinct(value, threshold)
    message = f"{subject}: {rule} {shown}{unit} is not {sign} {limit}{unit}"
    return Violation(rule, subject, value, threshold, message)


def _distinct(value: float, threshold: float) -> tuple[str, str]:
    """A violation's value and threshold as text, the value on the threshold's right side.

    The value gets 4 significant digits, or as many more as it takes to read on the same side
    of the threshold as it lies; the threshold its shortest exact form. 0.26155 against
    0.2616 reads '0.26155' (never '0.2616 is not >= 0.2616'), 0.123456789 against 0.1234568
    reads '0.12345679' (never '0.1235').
    """
    limit = f"{threshold:g}" if float(f"{threshold:g}") == threshold else repr(threshold)
    side = (value > threshold) - (value < threshold)
    shown = repr(value)
    for digits in range(4, 18):
        shown = f"{value:.{digits}g}"
        shown_side = (float(shown) > threshold) - (float(shown) < threshold)
        if shown_side == side and shown != limit:
            break
    return shown, limit


def _vacuous(v: Violation) -> Violation:
    message = f"{v.message}; sigma = 0 makes the bound vacuous: add noise or run 'privaudit harden'"
    return Violation(v.rule, v.subject, v.value, v.threshold, message)
