"""Markdown summary that fits a GitHub job summary and a pull-request comment."""

from __future__ import annotations

import json
from typing import ClassVar

from privaudit.config.choices import Domain, ReportFormat
from privaudit.reports import prose
from privaudit.reports.features import leakage_table, sample_table
from privaudit.reports.markdown_parts import md_code_block, md_escape, md_pairs, md_table
from privaudit.reports.table import (
    compare_table,
    comparison_table,
    format_float,
    history_table,
    sweep_table,
    variant_table,
)
from privaudit.results import AuditReport, HardenResult, Verdict, model_table, python_strings

ATTACK_VIEW = ["attack", "kind", "status", "mse", "psnr", "ssim", "recovered", "beats_label",
               "below_floor", "seconds", "reason"]  # fmt: skip
ICONS = {"passed": "✅", "failed": "❌", "none": "➖"}


class MarkdownReporter:
    """`report.md`: verdict, accuracy, bound, attacks, references, dFIL, sweep, provenance."""

    name: ClassVar[str] = ReportFormat.MARKDOWN.value
    suffix: ClassVar[str] = ".md"

    @python_strings
    def render(self, report: AuditReport) -> str:
        """The whole Markdown document (GitHub-flavoured; untrusted text escaped)."""
        parts = [
            f"# privaudit {md_escape(report.provenance.command)}: {md_escape(report.model.path)}",
            *audit_md(report),
            verdict_md(report),
            f"## Accuracy{prose.scope(report)}",
            md_pairs(prose.accuracy_rows(report)),
            f"## Bound{prose.scope(report)}",
            md_escape(prose.bound_paragraph(report.bound, report)),
            f"**Privacy interval.** {md_escape(prose.interval_sentence(report))}",
            f"## Attacks{prose.scope(report)}",
            md_escape(prose.references_sentence(report)),
            md_table(model_table(report)[ATTACK_VIEW]),
            *features_md(report),
            f"## Fisher information leakage{prose.scope(report)}",
            md_escape(prose.dfil_paragraph(report)),
        ]
        if report.sweep:
            parts += ["## Noise sweep", md_table(sweep_table(report))]
        if report.harden is not None:
            parts += harden_md(report, report.harden)
        parts += warnings_md(report)
        parts.append(provenance_md(report))
        return "\n\n".join(parts) + "\n"


def features_md(report: AuditReport) -> list[str]:
    """The per-column (tabular) or per-channel (signal) table and sample values, or nothing."""
    table = leakage_table(report)
    if table.empty:
        return []
    title = ("Per-column leakage" if report.model.domain == Domain.TABULAR
             else "Per-channel reconstruction")
    parts = [f"## {title}{prose.scope(report)}", md_escape(prose.feature_sentence(report)),
             md_table(table)]
    samples = sample_table(report)
    if not samples.empty:
        parts += ["Sample values (the data's own units), true and reconstructed:",
                  md_table(samples)]
    return parts


def audit_md(report: AuditReport) -> list[str]:
    """The plain-words verdict of each audited model (the hardened model's first)."""
    audited = [report] if report.harden is None else [report.harden.after, report]
    titles = ["Verdict"] if report.harden is None else [
        "Verdict (hardened model)", "Verdict (original model)"]
    return [_verdict_block(title, prose.audit_verdict(r)) for title, r in zip(titles, audited,
            strict=True)]  # fmt: skip


def _verdict_block(title: str, v: Verdict) -> str:
    lines = [f"**{title}.** {md_escape(v.headline)}", ""]
    lines += [f"- {md_escape(s)}" for s in v.sentences]
    lines += ["", f"**Next step.** {md_escape(v.next_step)}", "", md_code_block(v.command, "bash")]
    return "\n".join(lines)


def verdict_md(report: AuditReport) -> str:
    """The gate's headline and one bullet per violation (hardened model first for harden)."""
    blocks = []
    for kind, headline, messages in prose.verdicts(report):
        lines = [f"**{ICONS[kind]} {md_escape(headline)}**"]
        if messages:
            lines += ["", *(f"- {md_escape(m)}" for m in messages)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def harden_md(report: AuditReport, h: HardenResult) -> list[str]:
    """Before/after table, variants, the CEM-vs-noise-only sentence and the training history."""
    settings = (
        f"Hardened model: {md_escape(h.output_path)} (sha256 {md_escape(h.output_sha256)}), "
        f"defence {md_escape(prose.defence_text(h))}, {h.epochs} epochs, "
        f"sigma {format_float(h.noise_sigma)}; noise per channel: "
        f"{md_escape(prose.noise_stds_text(h.noise_stds))}."
    )
    table = md_table(compare_table(report, h.after), {"a": "original", "b": "hardened"})
    interval = md_escape("Hardened model: " + prose.interval_sentence(h.after))
    note = md_escape(prose.training_data_note(h))
    parts = ["## Hardening: before and after"]
    if h.regression:
        parts.append(f"**Warning.** {md_escape(h.regression)}")
    parts += [settings, note, table]
    parts.append(f"**Privacy interval.** {interval}")
    if h.chosen:
        parts.append(f"Chosen: {md_escape(h.chosen)}")
    if h.variants:
        parts += ["### Variants", md_table(variant_table(h.variants))]
    if h.comparisons:
        parts += ["### Defences against noise-only", md_table(comparison_table(h.comparisons))]
        parts += [md_escape(prose.comparison_sentence(c, h.noise_sigma, h.variants))
                  for c in h.comparisons]
    elif h.comparison is not None:
        parts.append(md_escape(prose.comparison_sentence(h.comparison, h.noise_sigma, h.variants)))
    if h.grid:
        parts += ["### Grid (--max-accuracy-drop)", md_table(variant_table(h.grid))]
    if h.history:
        parts.append(_details("Training history", md_table(history_table(h.history))))
    return parts


def warnings_md(report: AuditReport) -> list[str]:
    """A bulleted warnings section (report and bound warnings), or nothing."""
    found = prose.all_warnings(report)
    if not found:
        return []
    return ["## Warnings", "\n".join(f"- {md_escape(w)}" for w in found)]


def provenance_md(report: AuditReport) -> str:
    """Provenance and the resolved config, folded in a ``<details>`` block."""
    config = json.dumps(report.provenance.config, indent=2, sort_keys=True, default=str)
    body = md_pairs(prose.provenance_pairs(report)) + "\n\n" + md_code_block(config, "json")
    return _details("Provenance", body)


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"
