"""The sections of the HTML report for one audited model (verdict to warnings)."""

from __future__ import annotations

import json

import pandas as pd

from privaudit.reports import prose
from privaudit.reports.html_parts import details, esc, pairs_html, para, section, table_html
from privaudit.reports.png import sample_grid_uri
from privaudit.reports.svg import Bar, line_chart, mse_chart
from privaudit.reports.table import format_float, sweep_table
from privaudit.results import AttackResult, AuditReport, Interval, Status, model_table

ATTACK_VIEW = ["attack", "status", "mse", "psnr", "ssim", "below_floor", "seconds", "reason"]


def verdict_html(report: AuditReport) -> str:
    """The gate's outcome first: passed, failed (with every violation) or not configured.

    A harden report leads with the hardened model's gate, then the original's.
    """
    found = prose.verdicts(report)
    parts = []
    for i, (_, headline, messages) in enumerate(found):
        tag = "h2" if i == 0 else "h3"
        items = "".join(f"<li>{esc(m)}</li>" for m in messages)
        parts.append(f"<{tag}>{esc(headline)}</{tag}>" + (f"<ul>{items}</ul>" if items else ""))
    return f'<section id="verdict" class="verdict {found[0][0]}">{"".join(parts)}</section>'


def bound_html(report: AuditReport) -> str:
    """The bound in one paragraph, the privacy interval, and the clusterings tried (folded)."""
    parts = [para(prose.bound_paragraph(report.bound))]
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
    """A summary table, then per attack its metrics and a grid of originals over reconstructions."""
    cards = [_attack_card(report, a) for a in report.attacks]
    table = table_html(model_table(report)[ATTACK_VIEW])
    return section(anchor, title, table, *cards)


def _attack_card(report: AuditReport, a: AttackResult) -> str:
    head = f'<h3>{esc(a.attack)} <span class="badge {a.status.value}">{a.status.value}</span></h3>'
    if a.status is not Status.OK:
        return f'<div class="attack">{head}{para(prose.attack_outcome(a), "reason")}</div>'
    lines = [para(prose.attack_outcome(a) + _intervals(a))]
    if a.below_floor:
        lines.append(para("Below the floor computed with the estimated h(x).", "warn"))
    if a.params:
        params = ", ".join(f"{k}={v}" for k, v in a.params.items())
        lines.append(para(f"{a.n_samples} samples, {format_float(a.seconds)} s; {params}", "muted"))
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


def _intervals(a: AttackResult) -> str:
    named = (("MSE", a.mse_interval), ("PSNR", a.psnr_interval), ("SSIM", a.ssim_interval))
    shown = [f"{name} {_interval(i)}" for name, i in named if i is not None]
    return f" ({'; '.join(shown)})" if shown else ""


def _interval(i: Interval) -> str:
    return f"{i.level:.0%} CI {format_float(i.low)} to {format_float(i.high)}"


def chart_html(report: AuditReport) -> str:
    """Each attack's MSE against the floor and the certified floor, on a log axis."""
    bars = [
        Bar(a.attack, a.mse if a.status is Status.OK else None, a.status.value)
        for a in report.attacks
    ]
    b = report.bound
    floors = (None, None) if b is None else (b.mse_floor, b.certified_mse_floor)
    svg = mse_chart(bars, *floors)
    text = (
        "Bars further right mean worse reconstructions (more privacy). No attack can get left of "
        "the certified floor; the floor line assumes the stated h(x) source."
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
        line_chart([(p.noise_sigma, p.mse_floor) for p in pts], "MSE floor", "sigma", log_y=True),
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
