"""JUnit XML reports (`report.junit.xml`, `sweep.junit.xml`) for CI test-report views; pure.

An audit gives two suites: the gate (one case per threshold, a violation is a failure naming
the measured value and the threshold) and the attacks (one case per attack; skipped when it
could not run, a failure when it errored). A `harden` report describes its hardened model,
the one its exit code gates. A sweep gives the constraint check of every grid point and the
gate on the recommended point.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from privaudit.config.choices import ReportFormat
from privaudit.reports.junit_cases import (
    FAILURE,
    PASSED,
    SKIPPED,
    Case,
    Suite,
    attack_cases,
    gate_cases,
    junit_document,
    number,
)
from privaudit.results import AuditReport, Constraints, GridPoint, SweepReport

__all__ = ["JunitReporter", "JunitSweepReporter"]


def _thresholds(config: dict[str, Any]) -> dict[str, Any]:
    gate = config.get("gate")
    return gate if isinstance(gate, dict) else {}


class JunitReporter:
    """`report.junit.xml`: the gate's thresholds and the attacks as JUnit test cases."""

    name: ClassVar[str] = ReportFormat.JUNIT.value
    suffix: ClassVar[str] = ".junit.xml"

    def render(self, report: AuditReport) -> str:
        """The JUnit XML document (UTF-8, counts consistent with the cases)."""
        gated = report.judged
        gate = gate_cases(_thresholds(gated.provenance.config), gated.gate, gated.bound,
                          gated.attacks, gated.dfil, gated.references)  # fmt: skip
        suites = (Suite("privaudit gate", gate),
                  Suite("privaudit attacks", attack_cases(gated.attacks, "privaudit.attacks")))
        m = gated.model
        props = {"model": m.path, "sha256": m.sha256, "split": m.split,
                 "noise_sigma": "none" if gated.bound is None else f"{gated.bound.noise_sigma:g}",
                 "command": report.provenance.command,
                 "tool_version": report.provenance.tool_version}  # fmt: skip
        return junit_document(f"privaudit {report.provenance.command}: {m.path}", suites,
                              report.provenance.created_at, props)  # fmt: skip


class JunitSweepReporter:
    """`sweep.junit.xml`: each grid point's constraint check, and the gate on the pick."""

    name: ClassVar[str] = ReportFormat.JUNIT.value
    suffix: ClassVar[str] = ".junit.xml"

    def render(self, report: SweepReport) -> str:
        """The JUnit XML document (UTF-8, counts consistent with the cases)."""
        met = report.recommendation.status == "met"
        points = tuple(_point_case(p, report.constraints, met) for p in report.points)
        rec = report.recommendation
        # NOTE: as `sweeping.answer.gate_pick`: the gate judges the recommended point only;
        # with none, its one violation says so (and no threshold has a value to show).
        pick = report.point(rec.cut or "", rec.noise_sigma or math.nan) if met else None
        if pick is None:
            gate = gate_cases({}, report.gate, None, (), None)
        else:
            gate = gate_cases(_thresholds(report.provenance.config), report.gate, pick.bound,
                              tuple(r.result for r in pick.runs), None, pick.references)
        props = {"model": report.model.path, "sha256": report.model.sha256,
                 "recommendation": report.recommendation.status, "command": "sweep",
                 "tool_version": report.provenance.tool_version}  # fmt: skip
        suites = (Suite("privaudit sweep points", points), Suite("privaudit gate", gate))
        return junit_document(f"privaudit sweep: {report.model.path}", suites,
                              report.provenance.created_at, props)  # fmt: skip


def _point_case(p: GridPoint, c: Constraints, met: bool) -> Case:
    """A point that misses the constraints fails, unless another point meets them (skipped)."""
    name = f"{p.cut} sigma {p.noise_sigma:g}"
    misses = _misses(p, c)
    output = (f"{name}: noisy accuracy {number(p.noisy_accuracy.value)}, strongest "
              f"{p.strongest or 'none'} MSE {number(p.strongest_mse)}, recovered "
              f"{number(p.recovered)}")  # fmt: skip
    if not misses:
        return Case("privaudit.sweep", name, PASSED, output=output)
    message = f"{name} misses the constraints: " + "; ".join(misses)
    if met:
        return Case("privaudit.sweep", name, SKIPPED, message + " (another point meets them)",
                    output=output)  # fmt: skip
    return Case("privaudit.sweep", name, FAILURE, message, "constraints", output)


def _misses(p: GridPoint, c: Constraints) -> list[str]:
    """What `p` misses, each as 'what measured vs threshold'."""
    checks = (("min_accuracy", c.min_accuracy, p.noisy_accuracy.value, ">=", "noisy accuracy"),
              ("min_attack_mse", c.min_attack_mse, p.strongest_mse, ">=",
               "strongest reconstruction's MSE"),
              ("max_recovered", c.max_recovered, p.recovered, "<=", "recovered share"))
    out = []
    for rule, threshold, value, sign, what in checks:
        if threshold is None:
            continue
        ok = value is not None and (value >= threshold if sign == ">=" else value <= threshold)
        if not ok:
            out.append(f"{what} {number(value)} is not {sign} {threshold:g} ({rule})")
    return out

