"""JUnit XML for CI test-report readers: test cases from a report, and the XML document; pure.

The document follows the JUnit XML that Jenkins, GitLab and the GitHub test-report actions read
(the Ant/Surefire form): ``<testsuites>`` of ``<testsuite name tests failures errors skipped
time timestamp>``, each of ``<testcase name classname time>`` holding at most one
``<failure>`` or ``<skipped>`` and a ``<system-out>``. The counts are computed from the cases,
so they always agree with them.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from privaudit.config import ATTACK_RULES
from privaudit.results import (
    AttackResult,
    BoundResult,
    Dfil,
    GateResult,
    Reference,
    Status,
    Violation,
)

__all__ = [
    "Case", "Suite", "attack_cases", "gate_cases", "junit_document", "number",
]

PASSED, FAILURE, SKIPPED = "passed", "failure", "skipped"
_BOUND_RULES = {"min_cond_entropy": ("cond_entropy_per_dim", ">=", " nats/dim"),
                "min_mse_floor": ("mse_floor", ">=", ""),
                "max_leakage": ("leakage_bits_per_dim", "<=", " bits/dim")}  # fmt: skip
_SIGN = {"min_attack_mse": ">=", "max_recovered": "<=", "min_dfil_mse": ">="}
# NOTE: XML 1.0 cannot hold these characters at all, not even escaped; a file or tensor name
# may contain them, so they are written as visible escapes instead.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Case:
    """One test case: what was checked, its outcome and the numbers behind it."""

    classname: str
    name: str
    outcome: str = PASSED  # "passed" | "failure" | "skipped"
    message: str = ""  # the one-line reason of a failure or skip
    kind: str = ""  # the failure's type, e.g. the gate rule
    output: str = ""  # <system-out>: the measured numbers
    seconds: float = 0.0


@dataclass(frozen=True)
class Suite:
    """A named group of cases (the gate, the attacks, a sweep's points)."""

    name: str
    cases: tuple[Case, ...]


def number(value: float | None) -> str:
    """A number in four significant digits, or "none" when missing or not finite."""
    return "none" if value is None or not math.isfinite(value) else f"{value:.4g}"


def gate_cases(
    thresholds: Mapping[str, Any],
    gate: GateResult,
    bound: BoundResult | None,
    attacks: Sequence[AttackResult],
    dfil: Dfil | None,
    references: Sequence[Reference] = (),
) -> tuple[Case, ...]:
    """The gate's cases: one per configured threshold (per attack and reference for some).

    The attack rules have a case per attack and per reference with an MSE, as
    `privaudit.gate` checks them. Then one per violation no threshold covers (an attack that
    errored, a skip under ``strict``). A case fails when the gate holds a violation of its
    rule and subject; its message is the violation's, which names the measured value and the
    threshold.
    """
    violations = {(v.rule, v.subject): v for v in gate.violations}
    # NOTE: a report written before the gate held the references to the attack rules has no
    # verdict on them: a reference that misses a threshold without a violation is left out,
    # never shown as passed (`privaudit check` gates such a report again, references included)
    checks = [c for c in _checks(thresholds, bound, attacks, dfil, references)
              if (c[0], c[1]) in violations or not c[1].endswith(" reference")
              or _passes(c[0], c[2], c[3])]  # fmt: skip
    cases = [_gate_case(rule, subject, value, threshold, violations.pop((rule, subject), None))
             for rule, subject, value, threshold in checks]  # fmt: skip
    cases += [_gate_case(v.rule, v.subject, v.value, v.threshold, v) for v in violations.values()]
    return tuple(cases)


def _checks(
    thresholds: Mapping[str, Any],
    bound: BoundResult | None,
    attacks: Sequence[AttackResult],
    dfil: Dfil | None,
    references: Sequence[Reference],
) -> list[tuple[str, str, float | None, float]]:
    """(rule, subject, measured value, threshold) of every configured number."""
    out: list[tuple[str, str, float | None, float]] = []
    for rule, threshold in thresholds.items():
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            continue  # NOTE: `strict` (a flag) and unset (None) thresholds
        if rule in _BOUND_RULES:
            value = None if bound is None else getattr(bound, _BOUND_RULES[rule][0])
            out.append((rule, "bound", value, float(threshold)))
        elif rule in ATTACK_RULES:
            attr = "mse" if rule == "min_attack_mse" else "recovered"
            out += [(rule, a.attack, getattr(a, attr), float(threshold))
                    for a in attacks if a.status is Status.OK]  # fmt: skip
            out += [(rule, f"{r.name} reference", getattr(r, attr), float(threshold))
                    for r in references if r.mse is not None]  # fmt: skip
        elif rule == "min_dfil_mse":
            value = dfil.inverse_p05 if dfil is not None and dfil.status is Status.OK else None
            out.append((rule, "dfil", value, float(threshold)))
    return out


def _passes(rule: str, value: float | None, threshold: float) -> bool:
    if value is None or math.isnan(value):
        return False
    return value >= threshold if _SIGN[rule] == ">=" else value <= threshold


def _gate_case(
    rule: str, subject: str, value: float | None, threshold: float | None, v: Violation | None
) -> Case:
    sign = _BOUND_RULES[rule][1] if rule in _BOUND_RULES else _SIGN.get(rule, "")
    checked = f"{rule} {sign} {threshold:g}" if threshold is not None else rule
    output = f"{subject}: measured {number(value)}, threshold {checked}"
    if v is None:
        return Case("privaudit.gate", f"{subject}: {checked}", output=output + ": passed")
    return Case("privaudit.gate", f"{subject}: {checked}", FAILURE, v.message, rule,
                output + ": failed")  # fmt: skip


def attack_cases(attacks: Sequence[AttackResult], classname: str) -> tuple[Case, ...]:
    """One case per attack: passed when it ran, skipped with its reason, failed if it errored."""
    return tuple(_attack_case(a, classname) for a in attacks)


def _attack_case(a: AttackResult, classname: str) -> Case:
    if a.status is Status.SKIPPED:
        return Case(classname, a.attack, SKIPPED, f"{a.attack} skipped: {a.reason}",
                    seconds=a.seconds)  # fmt: skip
    if a.status is Status.ERROR:
        return Case(classname, a.attack, FAILURE, f"{a.attack} failed: {a.reason}",
                    "attack_error", seconds=a.seconds)  # fmt: skip
    interval = (f" [{number(a.mse_interval.low)}, {number(a.mse_interval.high)}]"
                if a.mse_interval is not None else "")  # fmt: skip
    output = (f"{a.attack}: MSE {number(a.mse)}{interval}, PSNR {number(a.psnr)} dB, "
              f"SSIM {number(a.ssim)}, recovered {number(a.recovered)}, "
              f"{a.n_samples} samples")  # fmt: skip
    return Case(classname, a.attack, output=output, seconds=a.seconds)


def junit_document(
    name: str, suites: Sequence[Suite], timestamp: str, properties: Mapping[str, str]
) -> str:
    """The whole JUnit XML document, counts computed from the cases."""
    root = ET.Element("testsuites", name=_text(name))
    for suite in suites:
        root.append(_suite(suite, timestamp, properties))
    cases = [c for s in suites for c in s.cases]
    _counts(root, cases)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _suite(suite: Suite, timestamp: str, properties: Mapping[str, str]) -> ET.Element:
    node = ET.Element("testsuite", name=_text(suite.name))
    _counts(node, suite.cases)
    node.set("timestamp", _timestamp(timestamp))
    props = ET.SubElement(node, "properties")
    for key, value in properties.items():
        ET.SubElement(props, "property", name=_text(key), value=_text(value))
    for case in suite.cases:
        node.append(_case(case))
    return node


def _counts(node: ET.Element, cases: Sequence[Case]) -> None:
    node.set("tests", str(len(cases)))
    node.set("failures", str(sum(c.outcome == FAILURE for c in cases)))
    node.set("errors", "0")
    node.set("skipped", str(sum(c.outcome == SKIPPED for c in cases)))
    node.set("time", _seconds(sum(c.seconds for c in cases)))


def _case(case: Case) -> ET.Element:
    node = ET.Element("testcase", name=_text(case.name), classname=_text(case.classname),
                      time=_seconds(case.seconds))  # fmt: skip
    if case.outcome == FAILURE:
        ET.SubElement(node, "failure", message=_text(case.message),
                      type=_text(case.kind)).text = _text(case.message)  # fmt: skip
    elif case.outcome == SKIPPED:
        ET.SubElement(node, "skipped", message=_text(case.message))
    if case.output:
        ET.SubElement(node, "system-out").text = _text(case.output)
    return node


def _seconds(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) and value >= 0 else "0.000"


def _timestamp(created_at: str) -> str:
    """ISO 8601 without a zone, as the Ant schema wants (privaudit's times are UTC)."""
    match = re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", created_at)
    return match.group(0) if match else "1970-01-01T00:00:00"


def _text(value: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group(0)):02x}", str(value))
