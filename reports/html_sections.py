"""The sections of the HTML report for one audited model (verdict to warnings)."""

from __future__ import annotations

import json

import pandas as pd

from privaudit.config.choices import Domain
from privaudit.reports import prose
from privaudit.reports.features import (
    TOP_FEATURES,
    leakage_table,
    raw_samples,
    sample_table,
)
from privaudit.reports.html_parts import details, esc, pairs_html, para, section, table_html
from privaudit.reports.png import sample_grid_uri
from privaudit.reports.svg import Bar, line_chart, mse_chart, signal_plot
from privaudit.reports.table import format_float, sweep_table
from privaudit.results import (
    AttackResult,
    AuditReport,
    Interval,
    Status,
    Verdict,
    model_table,
    strongest_attack,
)

ATTACK_VIEW = ["attack", "kind", "status", "mse", "psnr", "ssim", "recovered", "beats_label",
               "below_floor", "seconds", "reason"]  # fmt: skip


def verdict_html(report: AuditReport) -> str:
    """The plain-words verdict, then the gate's outcome (with every violation).

    A harden report leads with the hardened model's verdict and gate, then the original's.
    """
    audited = [report] if report.harden is None else [report.harden.after, report]
    names = [""] if report.harden is None else ["Hardened model: ", "Original model: "]
    parts = [_plain_verdict(name, prose.audit_verdict(r), i == 0)
             for i, (name, r) in enumerate(zip(names, audited, strict=True))]  # fmt: skip
    found = prose.verdicts(report)
    for _, headline, messages in found:
        items = "".join(f"<li>{esc(m)}</li>" for m in messages)
        parts.append(f"<h3>{esc(headline)}</h3>" + (f"<ul>{items}</ul>" if items else ""))
    return f'<section id="verdict" class="verdict {found[0][0]}">{"".join(parts)}</section>'


def _plain_verdict(name: str, v: Verdict, first: bool) -> str:
    tag = "h2" if first else "h3"
    items = "".join(f"<li>{esc(s)}</li>" for s in v.sentences)
    step = (f'<p><strong>Next step.</strong> {esc(v.next_step)}</p>'
            f"<pre><code>{esc(v.command)}</code></pre>")
    return f"<{tag}>{esc(name + v.headline)}</{tag}><ul>{items}</ul>{step}"


def accuracy_html(report: AuditReport) -> str:
    """The head's accuracy: clean, at the deployed noise, at each swept sigma."""
    title = "Accuracy" + prose.scope(report)
    return section("accuracy", title, pairs_html(prose.accuracy_rows(report)))


def dfil_html(report: AuditReport) -> str:
    """Fisher information leakage: its distribution over the inputs, in words and a chart."""
    parts = [para(prose.dfil_paragraph(report))]
    d = report.dfil
    if d is not None and d.values:
        inverse = sorted(1.0 / v for v in d.values if v > 0)
        points = [((i + 0.5) / len(inverse), v) for i, v in enumerate(inverse)]
        parts.append('<div class="chart">' + line_chart(
            points, "1/dFIL per input, sorted (unbiased attackers)", "share of inputs",
            log_y=True) + "</div>")  # fmt: skip
    return section("dfil", "Fisher information leakage" + prose.scope(report), *parts)


def bound_html(report: AuditReport) -> str:
    """The bound in one paragraph, the privacy interval, and the clusterings tried (folded)."""
    parts = [para(prose.bound_paragraph(report.bound, report))]
    if report.bound is not None and report.bound.terms:
        terms = pd.DataFrame(
            [(t.clustering, t.clusters, t.leakage_nats, t.min_cluster_size)
             for t in report.bound.terms],
            columns=["clustering", "clusters", "leakage (nats)", "smallest cluster"],
        )  # fmt: skip
        parts.append(details("Clusterings tried (the minimum is used)", table_html(terms)))
    who = prose.scope(report)
    interval = section("interval", "Privacy interval" + who, para(prose.interval_sentence(report)))
    return section("bound", "Bound" + who, *parts) + interval


def attacks_html(report: AuditReport, anchor: str, title: str) -> str:
    """References and the summary table, then per attack its metrics and reconstructions."""
    cards = [_attack_card(report, a) for a in report.attacks]
    table = table_html(model_table(report)[ATTACK_VIEW])
    return section(anchor, title, para(prose.references_sentence(report)), table, *cards)


def _attack_card(report: AuditReport, a: AttackResult) -> str:
    head = f'<h3>{esc(a.attack)} <span class="badge {a.status.value}">{a.status.value}</span></h3>'
    if a.status is not Status.OK:
        return f'<div class="attack">{head}{para(prose.attack_outcome(a), "reason")}</div>'
    lines = [para(prose.attack_outcome(a) + _intervals(a))]
    if a.below_floor:
        lines.append(para("Below the floor: the input is not Gaussian within a cluster here.",
                          "warn"))  # fmt: skip
    if a.params:
        params = ", ".join(f"{k}={v}" for k, v in a.params.items())
        lines.append(para(f"{a.n_samples} samples, {format_float(a.seconds)} s; {params}", "muted"))
    if report.model.domain != Domain.IMAGE:
        lines.append(_vector_samples(report, a))
        return f'<div class="attack">{head}{"".join(lines)}</div>'
    uri = sample_grid_uri(report.sample_images, a.reconstructions, report.model.input_shape)
    if uri is None:
        lines.append(para("No reconstructions stored for this attack.", "muted"))
    else:
        alt = f"{a.attack}: originals (top row) and reconstructions (bottom row)"
        lines.append(
            f'<figure><img class="grid" src="{uri}" alt="{esc(alt)}">'
            f"<figcaption>top: originals; bottom: {esc(a.attack)} reconstructions"
            "</figcaption></figure>"
        )
    return f'<div class="attack">{head}{"".join(lines)}</div>'


SIGNAL_SAMPLES, SIGNAL_CHANNELS = 4, 3  # plotted per attack: samples x channels


def _vector_samples(report: AuditReport, a: AttackResult) -> str:
    """A tabular attack's reference to the per-column table; a signal attack's line plots."""
    if report.model.domain == Domain.TABULAR:
        return para("Per-column scores and sample values are in the per-column leakage table.",
                    "muted")
    true, rec = raw_samples(report, report.sample_images), raw_samples(report, a.reconstructions)
    names = report.data.feature_names
    n, channels = min(len(true), len(rec), SIGNAL_SAMPLES), min(len(names), SIGNAL_CHANNELS)
    if n == 0:
        return para("No reconstructions stored for this attack.", "muted")
    plots = [signal_plot(true[i, c].tolist(), rec[i, c].tolist(), f"sample {i}, {names[c]}")
             for i in range(n) for c in range(channels)]  # fmt: skip
    return (f'<figure><div class="charts">{"".join(plots)}</div><figcaption>dark: original; '
            f"dashed blue: {esc(a.attack)} reconstruction (the data's own units)</figcaption>"
            "</figure>")


def features_html(report: AuditReport) -> str:
    """Tabular: the per-column leakage table and sample values; signals: per-channel scores."""
    table = leakage_table(report)
    if table.empty:
        return ""
    tabular = report.model.domain == Domain.TABULAR
    what, title = ("column", "Per-column leakage") if tabular else ("channel", "Per-channel "
                                                                   "reconstruction")
    best = strongest_attack(report.attacks)
    parts = [para(prose.feature_sentence(report)), table_html(table)]
    samples = sample_table(report)
    if not samples.empty and best is not None:
        parts.append(para(f"{len(samples)} evaluation rows, in the data's own units: the true "
                          f"values of the {min(TOP_FEATURES, len(table))} most leaking columns and "
                          f"the {best.attack} attack's reconstruction."))
        parts.append(table_html(samples))
    anchor = f"{what}s"
    return section(anchor, title + prose.scope(report), *parts)


def _intervals(a: AttackResult) -> str:
    named = (("MSE", a.mse_interval), ("PSNR", a.psnr_interval), ("SSIM", a.ssim_interval))
    shown = [f"{name} {_interval(i)}" for name, i in named if i is not None]
    return f" ({'; '.join(shown)})" if shown else ""


def _interval(i: Interval) -> str:
    return f"{i.level:.0%} CI {format_float(i.low)} to {format_float(i.high)}"


def chart_html(report: AuditReport) -> str:
    """Each attack's and reference's MSE against the floor and the certified floor, log axis."""
    bars = [Bar(f"{r.name} (reference)", r.mse, r.reason or "", reference=True)
            for r in report.references]  # fmt: skip
    bars += [
        Bar(a.attack, a.mse if a.status is Status.OK else None, a.status.value)
        for a in report.attacks
    ]
    b = report.bound
    floors = (None, None) if b is None else (b.mse_floor, b.certified_mse_floor)
    svg = mse_chart(bars, *floors)
    text = (
        "Bars further right mean worse reconstructions (more privacy); grey bars are the "
        "references, which need no attack. The certified floor holds for the input dequantised "
        "on its 8-bit grid (no attack on that input gets left of it); the floor line assumes "
        "a Gaussian input within each cluster."
    )
    if b is None or b.vacuous:
        text = "Bars further right mean worse reconstructions. No floor is drawn: " + (
            "the bound was not computed." if b is None else "the bound is vacuous (sigma = 0)."
        )
    note = para(text, "muted")
    title = "Attack MSE against the floor" + prose.scope(report)
    return section("chart", title, f'<div class="chart">{svg}</div>', note)


def sweep_html(report: AuditReport) -> str:
    """The privacy-utility sweep over sigma: three small charts and the table; empty if none."""
    if not report.sweep:
        return ""
    pts = report.sweep
    leakage = [(p.noise_sigma, p.leakage_bits_per_dim) for p in pts]
    charts = [
        line_chart(leakage, "leakage (bits/dim)", "sigma"),
        line_chart([(p.noise_sigma, p.mse_floor) for p in pts], "MSE floor (S)", "sigma",
                   log_y=True),
        line_chart([(p.noise_sigma, p.accuracy) for p in pts], "noisy accuracy", "sigma"),
    ]
    row = '<div class="charts">' + "".join(charts) + "</div>"
    return section("sweep", "Noise sweep", row, table_html(sweep_table(report)))


def provenance_html(report: AuditReport) -> str:
    """Model hash, split, data, versions, seed, device, timings, and the resolved config."""
    config = json.dumps(report.provenance.config, indent=2, sort_keys=True, default=str)
    return section(
        "provenance", "Provenance",
        pairs_html(prose.provenance_pairs(report)),
        details("Resolved configuration", f"<pre>{esc(config)}</pre>"),
    )  # fmt: skip


def warnings_html(report: AuditReport) -> str:
    """Every warning of the run and of the bound, or a line saying there were none."""
    found = prose.all_warnings(report)
    if not found:
        return section("warnings", "Warnings", para("None."))
    items = "".join(f"<li>{esc(w)}</li>" for w in found)
    return section("warnings", "Warnings", f'<ul class="warnings">{items}</ul>')
