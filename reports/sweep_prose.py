"""The words of a sweep's reports: the answer, the constraints, how it ran, its provenance."""

from __future__ import annotations

from privaudit.reports.frontier_svg import Curve, FrontierPoint, frontier_chart
from privaudit.reports.prose import gate_status
from privaudit.reports.table import format_float
from privaudit.results import Accuracy, SweepReport

__all__ = [
    "accuracy_note",
    "answer_kind",
    "constraint_pairs",
    "cut_pairs",
    "frontier_svg",
    "method_note",
    "provenance_pairs",
    "sweep_title",
]


def sweep_title(report: SweepReport) -> str:
    """`privaudit sweep: MODEL` (unescaped)."""
    return f"privaudit sweep: {report.model.path}"


def answer_kind(report: SweepReport) -> str:
    """The answer's colour: ``passed`` (met, gate passed), ``failed`` or ``none``."""
    rec = report.recommendation
    if rec.status == "unmet" or (report.gate.active and not report.gate.passed):
        return "failed"
    return "passed" if rec.met else "none"


def constraint_pairs(report: SweepReport) -> list[tuple[str, str]]:
    """The constraints and the gate, as (label, value) pairs."""
    c = report.constraints
    pairs = [
        ("minimum noisy accuracy", _opt(c.min_accuracy)),
        ("minimum strongest-reconstruction MSE", _opt(c.min_attack_mse)),
        ("maximum recovered share", _opt(c.max_recovered)),
        ("frontier measure", "the strongest reconstruction's MSE (higher: more private)"
         if report.frontier_metric == "mse" else "the recovered share (lower: more private)"),
    ]  # fmt: skip
    pairs.append(("gate (on the recommended point)", gate_status(report.gate)[1]))
    pairs += [("gate violation", v.message) for v in report.gate.violations]
    return pairs


def _opt(x: float | None) -> str:
    return "not set" if x is None else f"{x:g}"


def accuracy_note(report: SweepReport) -> str:
    """How the accuracies were measured, and how exact they are."""
    clean = report.points[0].clean_accuracy if report.points else Accuracy(None)
    noisy = next((p.noisy_accuracy for p in report.points if p.noise_sigma > 0
                  and p.noisy_accuracy.samples), Accuracy(None))  # fmt: skip
    if clean.value is None:
        return "Accuracy was not measured (the data has no labels, or the model's output is " \
               "not logits)."
    return (f"Clean accuracy is the model's own ({_pct(clean)} on {clean.samples} samples), the "
            "same at every cut. Noisy accuracy is the head's on the "
            f"{noisy.samples} evaluation samples, with the very noise the attacks invert (the "
            "server's predictions, which the label reference uses too); intervals are 95% "
            "Wilson intervals.")


def _pct(a: Accuracy) -> str:
    if a.value is None:
        return "n/a"
    if a.interval is None:
        return f"{100 * a.value:.1f}%"
    return f"{100 * a.value:.1f}% [{100 * a.interval.low:.1f}, {100 * a.interval.high:.1f}]"


def method_note(report: SweepReport) -> str:
    """What every point holds, in one paragraph."""
    seeds = len(report.seeds)
    attacks = ", ".join(report.attacks) or "none (--no-attacks)"
    return (f"{len(report.cuts)} cuts x {len(report.noise_sigmas)} sigmas x attacks ({attacks}, "
            f"{report.budget} budget) x {seeds} seed{'s' if seeds != 1 else ''}. Each point has "
            "the bound (leakage I_up, the floor (S) and the paper's floor (T)), the reference "
            "reconstructions (prior, label, nearest) and each attack's MSE, PSNR, SSIM and "
            "recovered share (means over seeds; a point's strongest reconstruction is its worst "
            "seed). "
            "A point equals 'privaudit assess --split CUT --noise "
            "SIGMA' on the same data and seed; run that command for reconstructions and dFIL.")


def cut_pairs(report: SweepReport) -> list[tuple[str, str]]:
    """Per cut: its tensor, depth, features, and what its measurements cost."""
    pairs = []
    for c in report.cuts:
        shape = "x".join(str(n) for n in c.feature_shape)
        cost = ", ".join(f"{k} {format_float(v)} s" for k, v in c.seconds.items())
        depth = "n/a" if c.depth is None else f"{c.depth:.2f}"
        pairs.append((c.name, f"tensor {c.cut_tensor}, depth {depth}, features {shape}; "
                              f"torch conversion {c.torch_conversion}; {cost or 'reused'}"))
    return pairs


def provenance_pairs(report: SweepReport) -> list[tuple[str, str]]:
    """Everything needed to reproduce or trust the sweep, as (label, value) pairs, unescaped."""
    p, m, d, e = report.provenance, report.model, report.data, report.execution
    pairs = [
        ("tool version", p.tool_version), ("created at", p.created_at), ("command", p.command),
        ("seed", str(p.seed)), ("attack seeds", ", ".join(str(s) for s in report.seeds)),
        ("device", p.device), ("model", m.path), ("model sha256", m.sha256),
        ("input", f"{m.input_name} {'x'.join(str(n) for n in m.input_shape)}"),
        ("data", d.source), ("data fingerprint", d.fingerprint),
        ("samples (total / aux / eval)", f"{d.n_total} / {d.n_aux} / {d.n_eval}"),
        ("executor", e.executor + (f" at {e.address}" if e.address else "")),
        ("workers x threads per job", f"{e.workers} x {e.threads_per_job}"),
        ("jobs (ran / reused from shards)", f"{e.jobs} ({e.ran} / {e.reused})"),
        ("shards", e.shards or "not kept"),
    ]  # fmt: skip
    if p.threads is not None:
        pairs.insert(pairs.index(("device", p.device)) + 1, ("CPU threads (all jobs)",
                                                             str(p.threads)))
    pairs += [(f"version: {k}", v) for k, v in p.versions.items()]
    pairs += [(f"time: {k} (s)", format_float(v)) for k, v in p.timings.items()]
    return pairs


def frontier_svg(report: SweepReport) -> str:
    """The frontier chart of the report (its stored Pareto flags and recommendation)."""
    recovered = report.frontier_metric == "recovered"
    rec = report.recommendation
    curves = []
    for cut in report.cuts:
        points = tuple(
            FrontierPoint(p.recovered if recovered else p.strongest_mse, p.noisy_accuracy.value,
                          p.noise_sigma, p.pareto,
                          rec.met and (rec.cut, rec.noise_sigma) == (p.cut, p.noise_sigma))
            for p in report.points if p.cut == cut.name
        )  # fmt: skip
        curves.append(Curve(cut.name, points))
    c = report.constraints
    label = ("largest recovered share of any reconstruction (lower: more private)" if recovered
             else "strongest reconstruction's MSE (higher: more private)")  # fmt: skip
    return frontier_chart(curves, label, x_line=c.max_recovered if recovered
                          else c.min_attack_mse, y_line=c.min_accuracy,
                          percent_x=recovered)  # fmt: skip
