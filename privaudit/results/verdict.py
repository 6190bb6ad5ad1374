"""The verdict: what an audit concludes, in plain words, with one next step and its command.

A pure function of the report, so that every format (console, Markdown, HTML) opens with the
same words, and an older report re-rendered gets one too.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath

from privaudit.config import Domain
from privaudit.results.schema import (
    AttackResult,
    AuditReport,
    BoundResult,
    Comparison,
    HardenResult,
    Interval,
    Reference,
    Status,
    Variant,
    Verdict,
)

__all__ = ["WIDE", "Reconstruction", "below_floor", "build_verdict", "cluster_words",
           "compared_mse_words",
           "floor_refuted_by", "floor_vacuity", "format_gain", "harden_verdict",
           "lower_beyond_noise", "lowest_reference", "mse_units", "paper_floor_refuted_by",
           "refuted_floor_words",
           "refuted_paper_floor_words", "regression", "unusable_reason",
           "strongest_attack", "strongest_reconstruction"]

WIDE = 5.0  # an interval wider than this (best MSE / floor) calls for stronger attacks
FLOOR_SLACK = 0.05  # a hardened floor (S) lower by more than this share is a regression
IN_MEMORY = "<in-memory"


FAILED_TO_LEARN = -0.1  # an attack this much worse than guessing the mean input learned nothing
MIN_GATED_SAMPLES = 10  # an attack scored on fewer evaluation samples cannot pass a gate


def unusable_reason(a: AttackResult) -> str | None:
    """Why an attack's result cannot pass an attack threshold (`{rule}` left to fill), or None.

    It did much worse than guessing the mean input (it did not train), or it was scored on
    too few evaluation samples. The gate, the sweep's privacy constraints and `compare`
    follow this rule.
    """
    if a.recovered is not None and a.recovered < FAILED_TO_LEARN:
        return (f"did worse than guessing the mean input (recovered {a.recovered:.0%}), so it "
                "learned nothing and its result cannot pass {rule}: measure at a larger "
                "--budget")
    if 0 < a.n_samples < MIN_GATED_SAMPLES:
        return (f"scored on {a.n_samples} evaluation sample{'' if a.n_samples == 1 else 's'}, "
                f"too few to gate {{rule}} on (at least {MIN_GATED_SAMPLES}): audit more "
                "samples")
    return None


def strongest_attack(attacks: Sequence[AttackResult]) -> AttackResult | None:
    """The successful attack with the lowest MSE, or None when none succeeded."""
    ok = [a for a in attacks if a.status is Status.OK and a.mse is not None]
    return min(ok, key=lambda a: float(a.mse or 0.0), default=None)


def build_verdict(report: AuditReport) -> Verdict:
    """The verdict of an audit report (see the module docstring)."""
    best, bound = strongest_attack(report.attacks), report.bound
    floor = None if bound is None else bound.mse_floor
    found = strongest_reconstruction(report)
    refuted = floor_refuted_by(bound, report.attacks, report.references)
    width = None if refuted else _width(None if found is None else found.mse, floor)
    interval = _refuted_sentence(bound, refuted) if refuted else _interval_sentence(
        bound, found, width)
    sentences = [s for s in (_attack_sentence(report, best), interval,
                             _accuracy_sentence(report)) if s]  # fmt: skip
    step, command = _next_step(report, best, width, refuted is not None)
    headline = _refuted_headline(report, best, refuted) if refuted else _headline(
        report, best, found, width)
    return Verdict(
        headline=headline + _reference_clause(report, best),
        sentences=tuple(sentences),
        next_step=step,
        command=command,
        strongest=None if best is None else best.attack,
        recovered=None if best is None else best.recovered,
        floor=floor,
        best_mse=None if best is None else best.mse,
        width=width,
        bound_vacuous=_vacuous(bound),
    )


def cluster_words(clustering: str | None) -> str:
    """What the floor (S) conditions on, in words: 'class', 'k-means cell of the features'."""
    return {"kmeans": "k-means cell of the features"}.get(clustering or "", clustering or "cluster")


def _vacuous(bound: BoundResult | None) -> bool:
    return bound is not None and (bound.vacuous or bound.floor_vacuous)


# NOTE: what an MSE of each domain is measured in (`privaudit.data.units`)
_MSE_UNITS = {
    Domain.IMAGE.value: "per pixel on [0, 1]",
    Domain.TABULAR.value: "per column, standardised",
    Domain.SIGNAL.value: "per channel and time step, standardised",
}


def mse_units(domain: str) -> str:
    """What the MSEs of a report on `domain` data are measured in, e.g. 'per pixel on [0, 1]'."""
    return _MSE_UNITS.get(domain, f"of {domain} data")


def floor_vacuity(bound: BoundResult) -> str:
    """Why the conditional spectral floor of a bound with noise is vacuous, as a clause.

    Either the features carry too much, or the audit's clusters hold too few samples to
    estimate any spread of the input within them (their prior, tr Cov(x|c), is 0).
    """
    if bound.floor_prior is None or not bound.floor_prior > 0:
        return ("the audit's clusters are too small to estimate how the input varies within "
                "them (see the clustering warnings), so no floor can be estimated: audit more "
                "data")
    per_dim = _num((bound.leakage_nats or 0.0) / bound.input_dim)
    return f"the features carry {per_dim} nats per input dimension (I_up / d), too much for any " \
        "floor to survive"


def _width(mse: float | None, floor: float | None) -> float | None:
    if mse is None or floor is None or not floor > 0:
        return None
    return mse / floor


@dataclass(frozen=True)
class Reconstruction:
    """The best known reconstruction of an audit: an attack's, or a reference's when lower."""

    name: str  # the attack, or "label reference", "nearest reference", ...
    mse: float
    recovered: float | None
    interval: Interval | None  # the MSE's bootstrap interval


def lowest_reference(references: Sequence[Reference]) -> Reference | None:
    """The reference reconstruction with the lowest finite MSE (None without one)."""
    known = [r for r in references if r.mse is not None and math.isfinite(r.mse)]
    return min(known, key=lambda r: float(r.mse or 0.0), default=None)


def strongest_reconstruction(report: AuditReport) -> Reconstruction | None:
    """The strongest attack, or a reference that reconstructs better.

    The server reconstructs the label reference for free, anyone the prior and anyone with
    auxiliary data the nearest, so the best possible attack does at least as well as each; a
    reference that beats every attack is named "label reference", "prior reference" or
    "nearest reference" (on a tie the attack stays). None without a
    successful attack.
    """
    best = strongest_attack(report.attacks)
    if best is None or best.mse is None:
        return None
    ref = lowest_reference(report.references)
    if ref is not None and ref.mse is not None and ref.mse < best.mse:
        return _of_reference(ref)
    return Reconstruction(str(best.attack), float(best.mse), best.recovered, best.mse_interval)


def _of_reference(ref: Reference) -> Reconstruction:
    """A reference (with an MSE) as a reconstruction named "<name> reference"."""
    assert ref.mse is not None
    return Reconstruction(f"{ref.name} reference", float(ref.mse), ref.recovered,
                          ref.mse_interval)  # fmt: skip


def floor_refuted_by(
    bound: BoundResult | None, attacks: Sequence[AttackResult], references: Sequence[Reference]
) -> Reconstruction | None:
    """The lowest reconstruction (attack or reference) whose MSE lies below the floor (S).

    The floor holds only if the input is Gaussian within each cluster (method.md §3b); a
    reconstruction below it shows that it is not (several modes within a class, discrete
    columns), and then the floor, and the conditional entropy built on the same estimate of
    h(x), overstate privacy. None when no floor is stated or none lies below it.
    """
    if bound is None or bound.vacuous or bound.floor_vacuous or bound.mse_floor is None:
        return None
    floor = bound.mse_floor
    if not floor > 0:
        return None
    return _lowest_below(floor, attacks, references)


def _lowest_below(
    floor: float, attacks: Sequence[AttackResult], references: Sequence[Reference]
) -> Reconstruction | None:
    """The lowest reconstruction, of a successful attack or a reference, below `floor`."""
    found = [Reconstruction(f"{a.attack} attack", float(a.mse), a.recovered, a.mse_interval)
             for a in attacks if a.status is Status.OK and a.mse is not None]  # fmt: skip
    found += [_of_reference(r) for r in references
              if r.mse is not None and math.isfinite(r.mse)]  # fmt: skip
    return min((r for r in found if r.mse < floor), key=lambda r: r.mse, default=None)


def paper_floor_refuted_by(
    bound: BoundResult | None, attacks: Sequence[AttackResult], references: Sequence[Reference]
) -> Reconstruction | None:
    """The lowest reconstruction whose MSE lies below the paper's floor (T).

    (T) is exp(2 h(x|z)/d) / (2 pi e), from the conditional entropy h(x|z) = h(x) - I_up; an
    error of MSE m leaves h(x|z)/d at most log(2 pi e m) / 2, so a reconstruction below (T)
    shows that h(x), and with it the conditional entropy, was overstated. None when (T) is
    not stated or none lies below it.
    """
    if bound is None or bound.vacuous or bound.paper_floor is None:
        return None
    floor = bound.paper_floor
    if not (math.isfinite(floor) and floor > 0):
        return None
    return _lowest_below(floor, attacks, references)


def refuted_paper_floor_words(bound: BoundResult, by: Reconstruction) -> str:
    """'the decoder reaches MSE 0.064, below the paper's floor (T) 0.2 ...' as a clause."""
    h = _num(bound.input_entropy_per_dim)
    return (f"the {by.name} reaches MSE {_num(by.mse)}, below the paper's floor (T) "
            f"{_num(bound.paper_floor)}: the input entropy h(x)/d = {h} nats "
            f"({bound.input_entropy_source}) is more than this data has, so the "
            "conditional entropy and (T) overstate privacy")


def below_floor(bound: BoundResult | None, reference: Reference) -> bool:
    """Whether `reference` lies below the floor (S) (`floor_refuted_by` of it alone)."""
    return floor_refuted_by(bound, (), (reference,)) is not None


def refuted_floor_words(bound: BoundResult, by: Reconstruction) -> str:
    """'the decoder reaches MSE 0.064, below the floor 0.0776 ...' as a clause."""
    cells = cluster_words(bound.floor_clustering)
    head = f"the {by.name} reaches MSE {_num(by.mse)}, below the floor {_num(bound.mse_floor)}"
    floor = bound.mse_floor
    if by.interval is not None and floor is not None and by.interval.high >= floor:
        # NOTE: a tester's exactly Gaussian classes: a label reference's luck on 60 rows
        return (f"{head}, though its 95% interval reaches the floor: by chance on these "
                f"evaluation samples, or because the input is not Gaussian within each {cells} "
                "(several modes, or discrete values) as the floor assumes; either way no "
                "floor holds for this data")
    return (f"{head}: most likely the input is not Gaussian within each {cells} (several "
            "modes, or discrete values) as the floor assumes, so no floor holds for this data")


def _pct(share: float | None) -> str:
    return "n/a" if share is None or math.isnan(share) else f"{100 * share:.0f}%"


def _num(x: float | None) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.3g}"


def _headline(report: AuditReport, best: AttackResult | None, found: Reconstruction | None,
              width: float | None) -> str:  # fmt: skip
    bound = report.bound
    if bound is not None and bound.vacuous:
        return ("No noise is added (sigma = 0): the features can reveal the input without limit, "
                "so no floor holds; only the attacks measure privacy.")
    if _vacuous(bound):
        assert bound is not None
        return f"The bound is vacuous at this cut: {floor_vacuity(bound)}; only the attacks " \
            "measure privacy."
    given = _given(bound)
    if best is None or found is None:
        floor = _num(None if bound is None else bound.mse_floor)
        ref = lowest_reference(report.references)  # NOTE: a reference needs no attack
        if ref is not None:
            return (f"No attack succeeded or ran, but the best possible attack's MSE lies "
                    f"between the floor {floor} and {_num(ref.mse)}, which the {ref.name} "
                    f"reference reaches without one{given}.")
        return (f"No attack succeeded or ran: only the floor speaks, MSE >= {floor} per "
                f"dimension{given}.")
    span = f", an interval {width:.1f} times wide" if width is not None else ""
    by = f" (the {found.name}'s)" if found.name != best.attack else ""
    return (f"The strongest attack, {best.attack}, recovers {_pct(best.recovered)} of the input's "
            f"variance: the best possible attack's MSE lies between "
            f"{_num(None if bound is None else bound.mse_floor)} and {_num(found.mse)}{by}{span}"
            f"{given}.")


def _given(bound: BoundResult | None) -> str:
    """The floor's one assumption, as the clause a headline ends with (none for a 0 floor).

    A headline that says where the best attack's MSE lies must not drop it: data whose
    columns each look Gaussian can still break it jointly (a rotated hypercube read a floor
    40 times what decoding reaches, a reviewer measured), and only the attacks see that.
    """
    if bound is None or bound.mse_floor is None or not bound.mse_floor > 0:
        return ""
    return f", if the input is Gaussian within each {cluster_words(bound.floor_clustering)}"


def _refuted_headline(report: AuditReport, best: AttackResult | None,
                      refuted: Reconstruction) -> str:  # fmt: skip
    bound = report.bound
    assert bound is not None
    lead = (f"The strongest attack, {best.attack}, recovers {_pct(best.recovered)} of the "
            "input's variance. " if best is not None else "")
    words = refuted_floor_words(bound, refuted)
    return (f"{lead}{words[0].upper()}{words[1:]}; the best possible attack's MSE is at most "
            f"{_num(refuted.mse)}, and only the attacks measure privacy.")


def _refuted_sentence(bound: BoundResult | None, refuted: Reconstruction) -> str:
    assert bound is not None
    return (f"The floor {_num(bound.mse_floor)} and the conditional entropy rest on that "
            "assumption and are void here: do not gate on them (--fail-under-floor, "
            "--fail-under-bound), gate on the attacks (--fail-under-attack-mse).")


def _reference(report: AuditReport, name: str) -> Reference | None:
    """The report's reference reconstruction called `name`, when it has an MSE."""
    return next((r for r in report.references if r.name == name and r.mse is not None), None)


# NOTE: what each reference reconstructs each input as, in words
_REFERENCE_WORDS = {
    "label": "the mean input of the class the server predicts anyway",
    "nearest": "the auxiliary input whose features lie nearest, a plain lookup,",
    "prior": "the mean input",
}


def _reference_clause(report: AuditReport, best: AttackResult | None) -> str:
    """A headline clause when a reference reconstructs better than every attack.

    What the server gets for free (label), or a lookup in auxiliary data (nearest), is then
    the best known reconstruction, and the headline must not leave the weaker attack's
    recovered share as the last word.
    """
    ref = lowest_reference(report.references)
    if best is None or best.mse is None or ref is None or ref.mse is None:
        return ""
    if not ref.mse < best.mse:
        return ""
    what = _REFERENCE_WORDS.get(ref.name, f"the {ref.name} reconstruction")
    return (f" The {ref.name} reference does better than every attack: {what} reaches MSE "
            f"{_num(ref.mse)}, recovering {_pct(ref.recovered)} of the variance.")


def _attack_sentence(report: AuditReport, best: AttackResult | None) -> str:
    if best is None:
        return ""
    label = _reference(report, "label")
    prior = _reference(report, "prior")
    text = f"The {best.attack} attack reaches MSE {_num(best.mse)}"
    if prior is not None:
        text += f", against {_num(prior.mse)} for guessing the mean input (prior)"
    if _learns_nothing(best):
        return text + ": it recovers nothing beyond the mean input."
    if label is not None:
        beats = ("beats", "it learns more than the class") if best.beats_label else (
            "does not clearly beat", "it shows little beyond the class")
        text += (f"; it {beats[0]} the label reference ({_num(label.mse)}, the mean input of "
                 f"the class the server predicts anyway): {beats[1]}")
    return text + "."


def _learns_nothing(best: AttackResult) -> bool:
    """The strongest attack does no better than guessing the mean input (recovered <= 0).

    It may still "beat" a label reference that does worse than the mean (an untrained head),
    which says nothing about the features.
    """
    return best.recovered is not None and math.isfinite(best.recovered) and best.recovered <= 0


def _interval_sentence(
    bound: BoundResult | None, best: Reconstruction | None, width: float | None
) -> str:
    if bound is None or bound.vacuous or bound.mse_floor is None:
        return ""
    if _vacuous(bound):
        return ""
    if bound.mse_floor == 0:
        return ("The floor is 0: no input dimension has a density, their grid can be "
                "recovered by rounding, or none is near Gaussian within the classes (see the "
                "warnings), so only the attacks measure privacy.")
    text = (f"No attack can do better than MSE {_num(bound.mse_floor)} per dimension, if the "
            f"input is Gaussian within each {cluster_words(bound.floor_clustering)}")
    if best is not None and width is not None:
        who = best.name if best.name.endswith(" reference") else f"{best.name} attack"
        text += f"; the {who} is within {width:.1f} times that floor"
        if width > WIDE:
            text += ", so a stronger attack may get closer"
    return text + "."


def _accuracy_sentence(report: AuditReport) -> str:
    u = report.utility
    if u.clean_accuracy is None:
        return "Accuracy: not measured (the data has no labels or the model no head)."
    sigma = _num(None if report.bound is None else report.bound.noise_sigma)
    noisy = "n/a" if u.noisy_accuracy is None else f"{100 * u.noisy_accuracy:.1f}%"
    return f"Accuracy: {100 * u.clean_accuracy:.1f}% clean, {noisy} with the noise (sigma {sigma})."


def _next_step(
    report: AuditReport, best: AttackResult | None, width: float | None, refuted: bool = False
) -> tuple[str, str]:
    bound = report.bound
    sigma = 0.0 if bound is None else bound.noise_sigma
    base = _base_command(report)
    own = report.model.embedded_noise  # NOTE: its graph adds its noise: no other sigma
    if bound is not None and bound.vacuous:
        if own:  # NOTE: it refuses any sigma but its own: the sweep is of its original
            return ("Add noise at the cut: this model adds its own, so a noise sweep of the "
                    "model it was hardened from (privaudit.hardened_from in its metadata) shows "
                    "the privacy and accuracy of each sigma.",
                    f"{_base_command(report, 'assess', ORIGINAL)} --noise-sweep 0.05,0.1,0.2 "
                    "--no-attacks")
        return ("Add noise at the cut; a noise sweep shows the privacy and accuracy of each sigma.",
                f"{base} --noise-sweep 0.05,0.1,0.2 --no-attacks")
    if not report.attacks:
        return ("Run the attacks to measure what an attacker actually recovers.",
                f"{base} --noise {sigma:g}")
    if best is not None and _learns_nothing(best):
        return ("No attack recovers more than guessing the mean input: confirm it with stronger "
                "attacks.", f"{base} --noise {sigma:g} --budget thorough")
    if best is not None and best.beats_label:
        return (HARDEN_STEP,
                f"{_base_command(report, 'harden')} --noise {sigma:g} --baseline "
                f"-o {_hardened_name(report)}")
    if refuted:
        return ("No floor holds for this data: measure it with stronger attacks.",
                f"{base} --noise {sigma:g} --budget thorough")
    if width is None or width > WIDE:
        return ("Narrow the interval with stronger attacks.",
                f"{base} --noise {sigma:g} --budget thorough")
    sweep = f"--noise {sigma:g} --noise-sweep {sigma / 2:g},{sigma:g},{2 * sigma:g}"
    if own:
        return ("The attacks learn little beyond the predicted class; this model adds its own "
                "noise, so a noise sweep of the model it was hardened from (privaudit."
                "hardened_from in its metadata) shows whether less noise keeps that with more "
                "accuracy.", f"{_base_command(report, 'assess', ORIGINAL)} {sweep}")
    return ("The attacks learn little beyond the predicted class; a noise sweep shows whether "
            "less noise keeps that with more accuracy.", f"{base} {sweep}")


HARDEN_STEP = ("An attack recovers more than the class: harden the encoder, and compare it with "
               "simply adding more noise.")


def _after_harden_step(report: AuditReport, base: Verdict) -> Verdict:
    """The hardened model's next step: harden the original again, not the hardened model.

    Its own audit would say "harden the encoder" of the model just written (a reviewer saw
    `privaudit harden hardened.onnx ... -o hardened.onnx` suggested); the original is hardened
    again, with twice the noise, against noise-only.
    """
    if base.next_step != HARDEN_STEP or report.bound is None:
        return base
    sigma = 2 * report.bound.noise_sigma
    return replace(base, next_step=(
        "An attack still recovers more than the class: harden the original again with more "
        "noise (or a larger --lambda), and compare it with simply adding more noise."),
        command=f"{_base_command(report, 'harden')} --noise {sigma:g} --baseline "
                f"-o {_hardened_name(report)}")


def _hardened_name(report: AuditReport) -> str:
    """Where the suggested `harden` writes: hardened.onnx, unless that is the model's own name.

    harden never overwrites its input, so it would refuse the suggestion.
    """
    name = "hardened.onnx"
    return "hardened-again.onnx" if PurePath(report.model.path).name == name else name


# NOTE: the placeholder for the model a model with embedded noise was hardened from
ORIGINAL = "ORIGINAL_MODEL"


def _base_command(report: AuditReport, command: str = "assess", model: str | None = None) -> str:
    """`privaudit COMMAND MODEL --split S --data D` for this report's model (or `model`)."""
    m, source = report.model, report.data.source
    if model is None:
        model = "MODEL" if m.path.startswith(IN_MEMORY) else shlex.quote(m.path)
    data = "DATA" if source.startswith(IN_MEMORY) else shlex.quote(source)
    # NOTE: a layout given by hand is needed again, and a channels-last one always (the model
    # a hardened one came from has no record of it)
    layout = report.provenance.config.get("layout")
    if layout in (None, "auto") and m.layout == "channels-last":
        layout = m.layout
    data += f" --layout {shlex.quote(str(layout))}" if layout not in (None, "auto") else ""
    if m.split == "presplit":
        head = report.provenance.config.get("head")  # NOTE: the head's path is in the config
        pair = f" --head {shlex.quote(str(head))}" if head and model != "MODEL" else ""
        return f"privaudit {command} --encoder {model}{pair} --data {data}"
    return f"privaudit {command} {model} --split {shlex.quote(m.split)} --data {data}"


def regression(before: AuditReport, after: AuditReport) -> str | None:
    """Why the hardened model is less private than the original at the same sigma, or None.

    Less private, by the rule of `compare --fail-if-less-private` at its default tolerance:
    its best known reconstruction (the strongest attack, or a reference when lower, or the
    lowest reference when no attack ran: `_best_known`) reaches a lower MSE, beyond both 95%
    intervals (without intervals: by more than `FLOOR_SLACK`); its floor (S) is lower, or its
    leakage bound higher, by more than `FLOOR_SLACK`. (A tester's -0.0003% change in the
    strongest MSE and +0.3% in the leakage read as "LESS private", where `compare` said not.)
    """
    reasons = []
    b, a = _best_known(before), _best_known(after)
    if b is not None and a is not None and _lower(a, b):
        refs = " reference" in a.name or " reference" in b.name
        what = "best reconstruction" if refs else "strongest attack"
        apart = ("beyond both 95% intervals" if a.interval is not None and b.interval is not None
                 else f"more than {FLOOR_SLACK:.0%} lower")  # fmt: skip
        reasons.append(f"its {what} reaches MSE {a.mse:.4g} ({a.name}), below the original's "
                       f"{b.mse:.4g} ({b.name}), {apart}")
    fb = None if before.bound is None else before.bound.mse_floor
    fa = None if after.bound is None else after.bound.mse_floor
    if fb is not None and fa is not None and fa < fb * (1 - FLOOR_SLACK):
        reasons.append(f"its MSE floor (S) is {_num(fa)}, below the original's {_num(fb)}")
    lb = None if before.bound is None else before.bound.leakage_bits_per_dim
    la = None if after.bound is None else after.bound.leakage_bits_per_dim
    if lb is not None and la is not None and la > lb * (1 + FLOOR_SLACK):
        reasons.append(f"its leakage bound is {_num(la)} bits per input dimension, above the "
                       f"original's {_num(lb)}")
    if not reasons:
        return None
    sigma = _num(None if after.bound is None else after.bound.noise_sigma)
    return (f"The hardened model is LESS private than the original at the same sigma ({sigma}): "
            + "; ".join(reasons) + ".")


def _lower(a: Reconstruction, b: Reconstruction) -> bool:
    """Whether `a` reaches a lower MSE than `b` beyond noise (`compare`'s rule)."""
    return lower_beyond_noise(a.mse, a.interval, b.mse, b.interval, FLOOR_SLACK)


def lower_beyond_noise(
    new: float, new_interval: Interval | None, old: float, old_interval: Interval | None,
    tolerance: float,
) -> bool:  # fmt: skip
    """Whether MSE `new` is lower than `old` beyond noise.

    Beyond both intervals (they do not overlap), or by more than `tolerance` (relative)
    where either has none. The rule of `compare --fail-if-less-private` and of harden's
    "LESS private".
    """
    if new_interval is not None and old_interval is not None:
        return new_interval.below(old_interval)
    return new < old * (1 - tolerance)


def _best_known(report: AuditReport) -> Reconstruction | None:
    """The strongest reconstruction, or the lowest reference when no attack succeeded."""
    found = strongest_reconstruction(report)
    ref = lowest_reference(report.references)
    if found is not None or ref is None or ref.mse is None:
        return found
    return _of_reference(ref)


def harden_verdict(report: AuditReport) -> Verdict:
    """The hardened model's verdict: its own audit's, opened by what hardening achieved.

    A hardened model less private than the original says so first (its headline); then the
    defence kept and its gain over noise-only fine-tuning with its spread.
    """
    h = report.harden
    assert h is not None
    base = _after_harden_step(report, build_verdict(h.after))
    lead = regression(report, h.after)
    told = _defence_sentence(h)
    if lead is None:
        return replace(base, sentences=(told, *base.sentences))
    return replace(base, headline=lead, sentences=(base.headline, told, *base.sentences))


def format_gain(mean: float | None, spread: float | None) -> str:
    """A relative gain with its spread, ``+29.1% ± 3.0%``; ``"n/a"`` when not measured."""
    if mean is None or math.isnan(mean):
        return "n/a"
    text = f"{100 * mean:+.1f}%"
    return text if spread is None or math.isnan(spread) else f"{text} ± {100 * spread:.1f}%"


def compared_mse_words(c: Comparison, variants: Sequence[Variant] = ()) -> str:
    """Whose MSE a defence comparison is of, e.g. "the strongest attack's".

    "the strongest reconstruction's" when a reference took an attack's place in a variant
    (see `hardening.frontier.strongest_reconstruction`).
    """
    if c.attack != "strongest":
        return f"the {c.attack}'s"
    if any("reference" in (v.strongest_attack or "") for v in variants):
        return "the strongest reconstruction's (attack or reference)"
    return "the strongest attack's"


def _defence_sentence(h: HardenResult) -> str:
    knobs = [f"lambda {h.lam:g}"] if h.lam > 0 else []
    knobs += [f"mu {h.mu:g}"] if h.mu > 0 else []
    name = f"{h.defence} ({', '.join(knobs)})" if knobs else h.defence
    c = h.comparison
    seeds = next((v.seeds for v in h.variants if v.defence == h.defence), 1)
    if c is None:
        return (f"Hardened with {name}; no noise-only baseline was measured, so nothing shows "
                "it beats simply adding more noise (--baseline measures that).")
    which = compared_mse_words(c, h.variants)
    equal = format_gain(c.equal_sigma_mse_gain, c.equal_sigma_mse_gain_std)
    parts = [f"Hardened with {name}: {which} MSE changes by {equal} against noise-only "
             "fine-tuning at the same sigma"]
    if c.frontier_mse_gain is None:
        parts.append("; no noise-only model matched its accuracy, so no gain over the "
                     "noise-only frontier is claimed")
    else:
        gain = format_gain(c.frontier_mse_gain, c.frontier_mse_gain_std)
        label = f" ({c.frontier_label})" if c.frontier_label else ""  # NOTE: older reports
        parts.append(f", and by {gain} against noise-only at matched accuracy{label}")
    return "".join(parts) + f" ({seeds} seed{'s' if seeds != 1 else ''})."
