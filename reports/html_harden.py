"""The before/after part of the HTML report of a `harden` run."""

from __future__ import annotations

from privaudit.reports import prose
from privaudit.reports.html_parts import esc, pairs_html, para, section, table_html
from privaudit.reports.html_sections import attacks_html
from privaudit.reports.svg import line_chart
from privaudit.reports.table import (
    compare_table,
    comparison_table,
    format_float,
    history_table,
    variant_table,
)
from privaudit.results import AuditReport, HardenResult

BEFORE_AFTER = {"a": "original", "b": "hardened"}


def harden_html(report: AuditReport) -> str:
    """Original vs hardened side by side, variants, CEM vs noise-only, history; empty if no harden.

    Args:
        report: the original model's audit, with ``harden.after`` the hardened model's.
    """
    h = report.harden
    if h is None:
        return ""
    warning = [para("Warning. " + h.regression, "callout")] if h.regression else []
    parts = [
        *warning,
        pairs_html(_settings(h)),
        para(prose.training_data_note(h)),
        "<h3>Original vs hardened</h3>",
        para("delta = hardened - original; change is relative to the original."),
        table_html(compare_table(report, h.after), "compare", BEFORE_AFTER),
        para("Hardened model: " + prose.interval_sentence(h.after), "callout"),
    ]
    if h.variants:
        parts += ["<h3>Variants</h3>", table_html(variant_table(h.variants))]
    if h.comparisons:
        parts += ["<h3>Defences against noise-only</h3>",
                  table_html(comparison_table(h.comparisons))]
        parts += [para(prose.comparison_sentence(c, h.noise_sigma, h.variants), "callout")
                  for c in h.comparisons]
    elif h.comparison is not None:
        parts.append(para(prose.comparison_sentence(h.comparison, h.noise_sigma, h.variants),
                          "callout"))
    if h.grid:
        parts += ["<h3>Grid (--max-accuracy-drop)</h3>", table_html(variant_table(h.grid))]
    parts.append(_history(h))
    hardened = attacks_html(h.after, "hardened-attacks", "Attacks on the hardened model")
    return section("harden", "Hardening: before and after", *parts) + hardened


def _settings(h: HardenResult) -> list[tuple[str, str]]:
    pairs = [
        ("hardened model", h.output_path), ("hardened sha256", h.output_sha256),
        ("noise sigma", format_float(h.noise_sigma)), ("defence", prose.defence_text(h)),
        ("noise per channel", prose.noise_stds_text(h.noise_stds)), ("epochs", str(h.epochs)),
        ("head frozen", "yes" if h.freeze_head else "no"),
        ("noise embedded in the ONNX", "yes" if h.embed_noise else "no"),
    ]  # fmt: skip
    if h.chosen:
        pairs.append(("chosen because", h.chosen))
    return pairs


def _history(h: HardenResult) -> str:
    if not h.history:
        return ""
    epochs = [float(e.epoch) for e in h.history]
    charts = [
        line_chart(list(zip(epochs, [e.task_loss for e in h.history], strict=True)),
                   "task loss", "epoch"),
        line_chart(list(zip(epochs, [e.cem_loss for e in h.history], strict=True)),
                   "CEM loss", "epoch"),
        line_chart(list(zip(epochs, [e.accuracy for e in h.history], strict=True)),
                   "training accuracy (noisy)", "epoch"),
    ]  # fmt: skip
    return (
        f"<h3>{esc('Training history')}</h3>"
        + '<div class="charts">' + "".join(charts) + "</div>"
        + table_html(history_table(h.history))
    )  # fmt: skip
