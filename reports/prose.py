"""Plain-language sentences shared by the Markdown and HTML reports (unescaped plain text)."""

from __future__ import annotations

from privaudit.config import Covariance, EntropySource
from privaudit.reports.table import format_change, format_float
from privaudit.results import (
    AttackResult,
    AuditReport,
    BoundResult,
    Comparison,
    GateResult,
    HardenResult,
    Status,
)

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


def verdict(gate: GateResult) -> tuple[str, str]:
    """The gate's outcome as (kind, headline); kind is ``passed``, ``failed`` or ``none``."""
    if not gate.active:
        return "none", "No gate configured: this audit reports numbers but passes or fails nothing."
    if gate.passed:
        return "passed", "Gate passed: every configured threshold holds."
    n = len(gate.violations)
    return "failed", f"Gate failed: {n} violation{'s' if n != 1 else ''}."


def verdicts(report: AuditReport) -> list[tuple[str, str, tuple[str, ...]]]:
    """(kind, headline, violation messages) per audited model; for harden, the hardened first."""
    if report.harden is None:
        return [(*verdict(report.gate), _messages(report.gate))]
    after, before = report.harden.after.gate, report.gate
    (k1, h1), (k2, h2) = verdict(after), verdict(before)
    return [
        (k1, f"Hardened model: {h1}", _messages(after)),
        (k2, f"Original model: {h2}", _messages(before)),
    ]


def _messages(gate: GateResult) -> tuple[str, ...]:
    return tuple(v.message for v in gate.violations)


def scope(report: AuditReport) -> str:
    """Heading suffix naming the model a section is about (harden reports hold two)."""
    return " (original model)" if report.harden is not None else ""


def bound_paragraph(bound: BoundResult | None) -> str:
    """The bound in one paragraph: numbers, assumptions, and what it guarantees."""
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
    return " ".join(_bound_sentences(bound))


def _bound_sentences(b: BoundResult) -> list[str]:
    source = ENTROPY_SOURCES.get(b.input_entropy_source, repr(b.input_entropy_source))
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
        f"The input entropy h(x) = {format_float(b.input_entropy_per_dim)} nats per dimension "
        f"comes from {source}, so h(x|z) >= {format_float(b.cond_entropy_per_dim)} nats per "
        f"dimension.",
        f"Hence no attacker, whatever its method or computing power, can reconstruct the "
        f"{b.input_dim}-dimensional input with a mean squared error per pixel (on [0, 1]) below "
        f"{format_float(b.mse_floor)}, given that h(x) source; the features shrink the "
        f"no-information floor by a factor {format_float(b.floor_ratio)}.",
        f"With the certified h(x) the floor is {format_float(b.certified_mse_floor)}, valid "
        f"unconditionally. The floor is a guarantee, usually loose: real attacks do worse.",
    ]


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


def best_attack(attacks: tuple[AttackResult, ...]) -> AttackResult | None:
    """The successful attack with the lowest MSE, or None when none succeeded."""
    ok = [a for a in attacks if a.status is Status.OK and a.mse is not None]
    return min(ok, key=lambda a: a.mse or 0.0) if ok else None


def interval_sentence(report: AuditReport) -> str:
    """Where the true best-possible error lies: between the floor and the best attack's MSE."""
    best = best_attack(report.attacks)
    floor = None if report.bound is None else report.bound.mse_floor
    if best is None:
        why = "No attack succeeded" if report.attacks else "No attack was run"
        return (
            f"{why}, so only the lower end is known: the best possible "
            f"reconstruction error is at least {format_float(floor)}."
        )
    if report.bound is not None and report.bound.vacuous:
        return (
            f"The bound is vacuous, so there is no lower end: the '{best.attack}' attack already "
            f"reaches an MSE of {format_float(best.mse)}, and a stronger attack may do better."
        )
    text = (
        f"The error of the best possible attack lies between the floor {format_float(floor)} "
        f"(no attacker can do better) and {format_float(best.mse)}, the MSE that the "
        f"'{best.attack}' attack already reaches."
    )
    if best.below_floor and report.bound is not None:
        text += (
            f" That attack beat the floor computed with the estimated h(x): the estimate was "
            f"too optimistic. The certified floor {format_float(report.bound.certified_mse_floor)}"
            f" still holds."
        )
    return text


def attack_outcome(a: AttackResult) -> str:
    """One attack's status in words: its metrics, or why it was skipped or failed."""
    if a.status is Status.OK:
        mse, psnr, ssim = (format_float(v) for v in (a.mse, a.psnr, a.ssim))
        return f"MSE {mse}, PSNR {psnr} dB, SSIM {ssim}"
    return f"{a.status.value}: {a.reason or 'no reason given'}"


def comparison_sentence(c: Comparison, noise_sigma: float) -> str:
    """CEM against noise-only fine-tuning, in words (method.md section 5, scale confound)."""
    parts = []
    if c.equal_sigma_mse_gain is not None:
        acc = c.equal_sigma_accuracy_delta
        acc_text = "" if acc is None else f", at {acc:+.3g} accuracy points"
        parts.append(
            f"At equal noise (sigma = {format_float(noise_sigma)}), CEM changed the decoder's "
            f"MSE by {format_change(c.equal_sigma_mse_gain)} over a noise-only fine-tune{acc_text}."
        )
    if c.frontier_mse_gain is not None:
        parts.append(
            f"Against the noise-only frontier at CEM's accuracy (frontier MSE "
            f"{format_float(c.frontier_mse_at_cem_accuracy)}), the change is "
            f"{format_change(c.frontier_mse_gain)}."
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
    pairs += [(f"version: {k}", v) for k, v in p.versions.items()]
    pairs += [(f"time: {k} (s)", format_float(v)) for k, v in p.timings.items()]
    return pairs


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


def _floats(values: tuple[float, ...]) -> str:
    return ", ".join(format_float(v) for v in values) or "none"


def all_warnings(report: AuditReport) -> list[str]:
    """The report's and the bound's warnings, each once, in order."""
    # NOTE: the pipeline copies the bound's warnings into the report's; show them once.
    bound = report.bound.warnings if report.bound else ()
    return list(dict.fromkeys((*report.warnings, *bound)))
