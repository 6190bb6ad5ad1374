"""Plain-language sentences shared by the Markdown and HTML reports (unescaped plain text)."""

from __future__ import annotations

from collections.abc import Sequence

from privaudit.config import Covariance, Domain, EntropySource
from privaudit.reports.table import format_float, format_gain, format_share
from privaudit.results import (
    AttackResult,
    AuditReport,
    BoundResult,
    Comparison,
    GateResult,
    HardenResult,
    Status,
    Variant,
    Verdict,
    build_verdict,
    cluster_words,
    compared_mse_words,
    floor_refuted_by,
    floor_vacuity,
    lowest_reference,
    refuted_floor_words,
    strongest_attack,
    strongest_reconstruction,
)
from privaudit.results.verdict import Reconstruction

ENTROPY_SOURCES: dict[str, str] = {
    EntropySource.CERTIFIED: "the certified bound for 8-bit data on [0, 1] (h(x) >= -log 256 "
    "per dimension: always valid, very loose)",
    EntropySource.GAUSSIAN: "a Gaussian fit of the audit data (the maximum entropy at that "
    "covariance: an optimistic estimate)",
    EntropySource.USER: "a value supplied by the user",
}
COVARIANCES: dict[str, str] = {
    Covariance.DIAGONAL: "per-dimension feature variances (the diagonal form: conservative, by "
    "Hadamard's inequality)",
    Covariance.FULL: "full feature covariances (tighter, but only an estimate when samples are "
    "few)",
}


def gate_status(gate: GateResult) -> tuple[str, str]:
    """The gate's outcome as (kind, headline); kind is ``passed``, ``failed`` or ``none``."""
    if not gate.active:
        return "none", "No gate configured: nothing passes or fails on these numbers."
    if gate.passed:
        return "passed", "Gate passed: every configured threshold holds."
    n = len(gate.violations)
    return "failed", f"Gate failed: {n} violation{'s' if n != 1 else ''}."


def audit_verdict(report: AuditReport) -> Verdict:
    """The report's verdict (rebuilt for a report that has none)."""
    return report.verdict or build_verdict(report)


def verdicts(report: AuditReport) -> list[tuple[str, str, tuple[str, ...]]]:
    """(kind, headline, violation messages) per audited model; for harden, the hardened first."""
    if report.harden is None:
        return [(*gate_status(report.gate), _messages(report.gate))]
    after, before = report.harden.after.gate, report.gate
    (k1, h1), (k2, h2) = gate_status(after), gate_status(before)
    return [
        (k1, f"Hardened model: {h1}", _messages(after)),
        (k2, f"Original model: {h2}", _messages(before)),
    ]


def _messages(gate: GateResult) -> tuple[str, ...]:
    return tuple(v.message for v in gate.violations)


def scope(report: AuditReport) -> str:
    """Heading suffix naming the model a section is about (harden reports hold two)."""
    return " (original model)" if report.harden is not None else ""


def bound_paragraph(bound: BoundResult | None, report: AuditReport | None = None) -> str:
    """The bound in one paragraph: numbers, assumptions, and what it guarantees.

    With `report`, a floor that one of its reconstructions lies below is said not to hold.
    """
    if bound is None:
        return "The entropy bound was not computed for this run, so no floor is certified."
    if bound.vacuous:
        return (
            "No noise is added to the features (sigma = 0). A deterministic encoder can reveal "
            "its input without limit, so the bound is vacuous: the MSE floor is 0 and nothing "
            "is guaranteed against a strong attacker; only the attacks below measure privacy. "
            "Add noise at the cut (noise_sigma > 0) or run 'privaudit harden' to obtain a "
            "guarantee."
        )
    refuted = None if report is None else floor_refuted_by(bound, report.attacks,
                                                            report.references)
    return " ".join(_bound_sentences(bound, refuted))


def _bound_sentences(b: BoundResult, refuted: Reconstruction | None = None) -> list[str]:
    cov = COVARIANCES.get(b.covariance, repr(b.covariance))
    interval = b.leakage_interval
    ci = (
        f", {interval.level:.0%} bootstrap interval {format_float(interval.low)} to "
        f"{format_float(interval.high)}"
        if interval is not None
        else ""
    )
    if interval is not None and b.leakage_nats is not None and interval.low > b.leakage_nats:
        ci += ", wholly above the point value: small clusters bias it low, see the warnings"
    return [
        f"With Gaussian noise of sigma = {format_float(b.noise_sigma)} added to the "
        f"{b.feature_dim} features, they reveal at most {format_float(b.leakage_nats)} nats per "
        f"sample ({format_float(b.leakage_bits_per_dim)} bits per input dimension{ci}), "
        f"estimated from {b.n_samples} samples with {cov}"
        f"{f' and the {b.clustering} clustering' if b.clustering else ''}.",
        *floor_sentences(b, refuted),
    ]


def floor_sentences(b: BoundResult, refuted: Reconstruction | None = None) -> list[str]:
    """The floors in words: (S) with its one assumption, the paper's (T), the certified one.

    A floor that a reconstruction (`refuted`) lies below is said not to hold.
    """
    out, cells = [], cluster_words(b.floor_clustering)
    if refuted is not None:
        out.append(
            f"The conditional spectral floor would be {format_float(b.mse_floor)} if the input "
            f"were Gaussian within each {cells}, its one assumption; but "
            f"{refuted_floor_words(b, refuted)}."
        )
    elif b.mse_floor is None:
        out.append("This report predates the conditional spectral floor (schema 3): its only "
                   "floor is the paper's form below, which can overstate privacy.")
    elif b.floor_vacuous:
        out.append(f"The conditional spectral floor is vacuous here: {floor_vacuity(b)}.")
    elif b.mse_floor == 0:
        out.append("The conditional spectral floor is 0 here: no input dimension has a density "
                   "(each takes a few values, or one value in many rows), or their values lie "
                   "on a grid whose spacing the noise does not hide, so rounding may recover "
                   "them, or none is near Gaussian within the classes, the floor's assumption "
                   "(see the warnings).")
    else:
        ci = b.mse_floor_interval
        spread = (f" (estimate {format_float(b.mse_floor_estimate)}, {ci.level:.0%} jackknife "
                  f"interval {format_float(ci.low)} to {format_float(ci.high)}: the lower end "
                  "is the floor used)") if ci is not None else ""
        out.append(
            f"No attacker, whatever its method, can reconstruct the {b.input_dim}-dimensional "
            f"input with a mean squared error per dimension below {format_float(b.mse_floor)}"
            f"{spread}: the conditional spectral floor, which conditions on the "
            f"{cells} and bounds each block of the input's principal directions. "
            f"Its one assumption: the input is Gaussian within each {cells} "
            f"(knowing the {cells} alone allows MSE "
            f"{format_float(b.floor_prior)})."
        )
    source = ENTROPY_SOURCES.get(b.input_entropy_source, repr(b.input_entropy_source))
    certified = (
        f"With the certified h(x) it is {format_float(b.certified_mse_floor)}: valid with no "
        "assumption for the input dequantised on its 8-bit grid, and very loose (on the 8-bit "
        "pixels themselves an attack can do up to 1.3e-6 better, so it bounds nothing there)."
        if b.certified_mse_floor is not None else
        "There is no certified form: that needs 8-bit data, and this data is in its own units."
    )
    out.append(
        f"The paper's form of the floor, with h(x) from {source} over all the data, is "
        f"{format_float(b.paper_floor)}; it can overstate privacy on clustered data (classes), "
        f"so it is shown for reference only. {certified}"
    )
    return out


def training_data_note(h: HardenResult) -> str:
    """What the before/after audit of `harden` ran on: held-out samples, or the training data."""
    if h.holdout > 0:
        return (
            f"Both audits ran on {h.after.data.n_total} held-out samples "
            f"({h.holdout:.0%} of the data) that fine-tuning never saw; the encoder was "
            f"fine-tuned on the other {h.fine_tune_samples}."
        )
    return (
        "Both audits use the data the encoder was fine-tuned on, so the hardened model's "
        "accuracy and attack numbers are measured on its own training data; for held-out "
        f"numbers, rerun with '--holdout 0.3', or run 'privaudit assess {h.output_path} "
        "--data HELD_OUT'."
    )


def interval_sentence(report: AuditReport) -> str:
    """Where the true best-possible error lies: between the floor and the best attack's MSE."""
    refuted = floor_refuted_by(report.bound, report.attacks, report.references)
    if report.bound is not None and refuted is not None:
        text = (f"There is no lower end: {refuted_floor_words(report.bound, refuted)}. The best "
                f"possible attack's MSE is at most {format_float(refuted.mse)}, which the "
                f"{refuted.name} reaches; a stronger attack may do better.")
        certified = report.bound.certified_mse_floor
        if certified is not None:
            text += f" The certified floor {format_float(certified)} still holds."
        return text
    best = strongest_attack(report.attacks)
    floor = None if report.bound is None else report.bound.mse_floor
    if best is None:
        why = "No attack succeeded" if report.attacks else "No attack was run"
        ref = lowest_reference(report.references)
        if ref is not None:
            return (f"{why}, but the error of the best possible attack still lies between the "
                    f"floor {format_float(floor)} and {format_float(ref.mse)}, the MSE that the "
                    f"{ref.name} reference reaches without an attack.")
        return (
            f"{why}, so only the lower end is known: the best possible "
            f"reconstruction error is at least {format_float(floor)}."
        )
    if report.bound is not None and (report.bound.vacuous or report.bound.floor_vacuous):
        return (
            f"The bound is vacuous, so there is no lower end: the '{best.attack}' attack already "
            f"reaches an MSE of {format_float(best.mse)}, and a stronger attack may do better."
        )
    found = strongest_reconstruction(report)
    end = best.mse if found is None else found.mse
    width = f", an interval {end / floor:.1f} times wide" if floor and end is not None else ""
    who = (f"the {found.name} already reaches, lower than any attack's"
           if found is not None and found.name != best.attack
           else f"the '{best.attack}' attack already reaches")
    text = (
        f"The error of the best possible attack lies between the floor {format_float(floor)} "
        f"(no attacker can do better) and {format_float(end)}, the MSE that {who}{width}."
    )
    if best.below_floor:
        text += (" That attack beat the floor: the input is not Gaussian within a cluster here, "
                 "the floor's one assumption.")
        certified = None if report.bound is None else report.bound.certified_mse_floor
        if certified is not None:
            text += f" The certified floor {format_float(certified)} still holds."
    return text


def attack_outcome(a: AttackResult) -> str:
    """One attack's status in words: its metrics, or why it was skipped or failed."""
    if a.status is Status.OK:
        mse, psnr, ssim = (format_float(v) for v in (a.mse, a.psnr, a.ssim))
        text = f"MSE {mse}, PSNR {psnr} dB, SSIM {ssim}"
        if a.recovered is not None:
            text += f"; recovers {format_share(a.recovered)} of the variance"
        if a.beats_label is not None:
            text += "; beats the label reference" if a.beats_label else (
                "; does not clearly beat the label reference")
        return text
    return f"{a.status.value}: {a.reason or 'no reason given'}"


def references_sentence(report: AuditReport) -> str:
    """The reference reconstructions in words, or why they are missing."""
    refs = {r.name: r for r in report.references}
    if not refs:
        return "No reference reconstructions in this report (it predates schema 3)."
    prior, label, nearest = refs.get("prior"), refs.get("label"), refs.get("nearest")
    count = "Three" if nearest is not None else "Two"
    text = (f"{count} reconstructions need no training: guessing the auxiliary mean (prior) "
            f"gives MSE {format_float(prior.mse if prior else None)}, the no-information level")
    if label is not None and label.mse is not None:
        text += (f"; the auxiliary mean of the class the head predicts from the noisy features "
                 f"(label), which the server learns anyway, gives {format_float(label.mse)}")
    elif label is not None:
        text += f"; the label reference is missing ({label.reason})"
    if nearest is not None and nearest.mse is not None:
        text += (f"; the auxiliary input whose clean features lie nearest the noisy ones "
                 f"(nearest) gives {format_float(nearest.mse)}")
    elif nearest is not None:
        text += f"; the nearest reference is missing ({nearest.reason})"
    return (text + ". An attack's recovered share is 1 - MSE / MSE(prior); an attack that does "
            "not beat label has learned nothing beyond the class." + units_sentence(report))


def units_sentence(report: AuditReport) -> str:
    """What an MSE is measured in, for data in its own units (empty for images)."""
    if report.model.domain == Domain.IMAGE:
        return ""
    what = "column" if report.model.domain == Domain.TABULAR else "channel"
    psnr = (" PSNR is on the signals' data range in their own units; there is no SSIM."
            if report.model.domain == Domain.SIGNAL else " PSNR and SSIM do not apply.")
    # NOTE: a column's mean is the prior's guess for it, so the prior costs about 1; a
    # channel's values share one scale while each position has its own mean, which the
    # prior guesses, so it can cost much less (0.52 on digits read as 64-sample signals)
    scale = ("guessing the mean costs about 1 and 1 - MSE reads as the share recovered"
             if report.model.domain == Domain.TABULAR else
             "guessing a channel's mean value costs about 1; the prior guesses each "
             "position's own mean, which costs less where positions differ, and the recovered "
             "share is taken against it")
    return (f" Every MSE is per value on the standardised scale: each {what} divided by its "
            f"standard deviation over the audit data, so {scale} (the report also gives each "
            f"{what}'s MSE in the data's own units).{psnr}")


def feature_sentence(report: AuditReport) -> str:
    """What the per-feature table shows, and which feature leaks most."""
    tabular = report.model.domain == Domain.TABULAR
    what, metric = ("column", "R²") if tabular else ("channel", "correlation")
    best = strongest_attack(report.attacks)
    if best is None or not best.features:
        return f"No attack succeeded, so no {what} was scored."
    key = (lambda f: f.r2) if tabular else (lambda f: f.correlation)
    ranked = sorted((f for f in best.features if key(f) is not None), key=lambda f: -(key(f) or 0))
    lead = ""
    if ranked:
        top = ranked[0]
        lead = (f" The {best.attack} attack explains most of {what} {top.name!r}: "
                f"{metric} {format_float(key(top))}.")
    explain = ("R² is 1 - SSE / SST over the evaluation rows (1: recovered exactly; 0: no better "
               "than the column's mean); the label reference shows what the predicted class "
               "alone explains" if tabular else "correlation of each channel's reconstruction "
               "with the original over the evaluation samples and time steps")
    return (f"Each {what}, most leaking first: {metric} per attack ({explain}), then the "
            f"strongest attack's MSE, standardised and in the data's own units.{lead}")


def dfil_paragraph(report: AuditReport) -> str:
    """Fisher information leakage in words, labelled as a bound for unbiased attackers only."""
    d = report.dfil
    if d is None:
        return "Fisher information leakage (dFIL) was not measured for this run."
    if d.status is not Status.OK:
        return f"Fisher information leakage (dFIL) was skipped: {d.reason}."
    return (
        f"Fisher information leakage (dFIL, Maeng et al. 2023) per evaluation input: median "
        f"{format_float(d.median)}, 5th to 95th percentile {format_float(d.p05)} to "
        f"{format_float(d.p95)}. An unbiased attacker's MSE per dimension on an input is at "
        f"least 1/dFIL: on average {format_float(d.inverse_mean)}, and above "
        f"{format_float(d.inverse_p05)} for 95% of the inputs. This holds for unbiased "
        "attackers only: learned attackers are biased and can do better (compare the attacks). "
        f"Hutchinson trace estimate with {d.probes} probes per input; relative standard error "
        f"of the mean {_percent(d.relative_standard_error)}."
    )


def _percent(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2g}%"


def accuracy_rows(report: AuditReport) -> list[tuple[str, str]]:
    """(setting, accuracy) pairs: clean, at the deployment's noise, at each swept sigma."""
    u = report.utility
    sigma = format_float(report.bound.noise_sigma if report.bound else None)
    rows = [("clean", _acc(u.clean_accuracy)), (f"noise sigma {sigma} (deployed)",
            _acc(u.noisy_accuracy))]  # fmt: skip
    deployed = None if report.bound is None else report.bound.noise_sigma
    rows += [(f"noise sigma {format_float(p.noise_sigma)}", _acc(p.accuracy))
             for p in report.sweep if p.noise_sigma != deployed]  # fmt: skip
    return rows


def _acc(x: float | None) -> str:
    return "n/a (no labels or no head)" if x is None else f"{100 * x:.2f}%"


def defence_text(h: HardenResult) -> str:
    """The kept defence and its knobs, e.g. ``cem (lambda 4, loss bound, k 5)``."""
    knobs = []
    if h.lam > 0:
        knobs += [f"lambda {format_float(h.lam)}", f"loss {h.loss}", f"k {h.k}"]
    if h.mu > 0:
        knobs.append(f"mu {format_float(h.mu)}")
    return f"{h.defence} ({', '.join(knobs)})" if knobs else h.defence


def noise_stds_text(stds: tuple[float, ...] | None) -> str:
    """Per-channel noise stds as a short list, or ``"one sigma for every channel"``."""
    if not stds:
        return "one sigma for every channel"
    return ", ".join(format_float(s) for s in stds)


def comparison_sentence(c: Comparison, noise_sigma: float,
                        variants: Sequence[Variant] = ()) -> str:  # fmt: skip
    """A defence against noise-only fine-tuning, in words (method.md section 5, scale confound).

    Schema-3 comparisons are of the strongest attack, paired by seed, against a measured
    noise-only model matched in accuracy; older ones of the decoder against an
    interpolated frontier (their note says which).
    """
    parts = []
    whose = compared_mse_words(c, variants)
    name = "CEM" if c.defence == "cem" else c.defence
    if c.equal_sigma_mse_gain is not None:
        acc = c.equal_sigma_accuracy_delta
        acc_text = "" if acc is None else f", at {acc:+.3g} accuracy points"
        parts.append(
            f"At equal noise (sigma = {format_float(noise_sigma)}), {name} changed {whose} "
            f"MSE by {format_gain(c.equal_sigma_mse_gain, c.equal_sigma_mse_gain_std)} over a "
            f"noise-only fine-tune{acc_text}."
        )
    if c.frontier_mse_gain is not None:
        matched = (f"noise-only at matched accuracy ({c.frontier_label}, "
                   f"{c.frontier_accuracy_delta:+.2g} points; its MSE "
                   if c.frontier_label is not None and c.frontier_accuracy_delta is not None
                   else "the noise-only frontier at its accuracy (frontier MSE ")
        parts.append(
            f"Against {matched}{format_float(c.frontier_mse_at_cem_accuracy)}), the change is "
            f"{format_gain(c.frontier_mse_gain, c.frontier_mse_gain_std)}."
        )
    if c.note:
        parts.append(c.note)
    return " ".join(parts) or "No comparison with noise-only fine-tuning was measured."


def provenance_pairs(report: AuditReport) -> list[tuple[str, str]]:
    """Everything needed to reproduce or trust the run, as (label, value) pairs, unescaped."""
    p, m, d = report.provenance, report.model, report.data
    pairs = [
        ("tool version", p.tool_version), ("created at", p.created_at), ("command", p.command),
        ("seed", str(p.seed)), ("device", p.device), ("model", m.path),
        ("model sha256", m.sha256), ("split", m.split), ("cut tensor", m.cut_tensor),
        ("input", f"{m.input_name} {_shape(m.input_shape)}"),
        ("features", _shape(m.feature_shape)),
        ("split check (max abs diff)", format_float(m.split_max_diff)),
        ("torch conversion", m.torch_conversion), ("noise sigma from", m.noise_source),
        ("data", d.source), ("data fingerprint", d.fingerprint),
        ("samples (total / aux / eval)", f"{d.n_total} / {d.n_aux} / {d.n_eval}"),
        ("classes", "n/a" if d.classes is None else str(d.classes)),
        ("transforms", ", ".join(d.transforms) or "none"),
        ("normalization mean / std", f"{_floats(d.mean)} / {_floats(d.std)}"),
    ]  # fmt: skip
    if p.threads is not None:
        pairs.insert(pairs.index(("device", p.device)) + 1, ("CPU threads", str(p.threads)))
    if m.noise_stds:
        pairs.insert(pairs.index(("noise sigma from", m.noise_source)) + 1, (
            "noise per channel", f"{_floats(m.noise_stds)} (RMS sigma; the features are "
            "audited whitened: channel j divided by std_j / sigma)"))
    pairs += [(f"version: {k}", v) for k, v in p.versions.items()]
    pairs += [(f"time: {k} (s)", format_float(v)) for k, v in p.timings.items()]
    return pairs


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


def _floats(values: tuple[float, ...]) -> str:
    return ", ".join(format_float(v) for v in values) or "none"


def all_warnings(report: AuditReport) -> list[str]:
    """The report's and the bound's warnings, each once, in order.

    A harden report's warnings are the original model's; the hardened model's own follow,
    marked as such (a refuted floor of the hardened model, its noise left out of the graph).
    """
    found = list(dict.fromkeys(_warnings_of(report)))
    if report.harden is not None:
        seen = set(found)
        found += [f"hardened model: {w}" for w in dict.fromkeys(_warnings_of(report.harden.after))
                  if w not in seen]  # fmt: skip
    return found


def _warnings_of(report: AuditReport) -> tuple[str, ...]:
    # NOTE: the pipeline copies the bound's warnings into the report's; show them once.
    bound = report.bound.warnings if report.bound else ()
    return (*report.warnings, *bound)
