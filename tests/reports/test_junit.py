"""JUnit XML reports: valid against a strict JUnit schema, counts consistent, numbers named.

Three independent readers check every document: `xmlschema` against `junit.xsd` (the JUnit
XML CI readers take, made strict), `junitparser` (what Python CI tooling reads it with) and
`xml.etree` with the counting rules written out here.
"""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import xmlschema
from junitparser import Failure, JUnitXml, Skipped
from typer.testing import CliRunner

from privaudit.cli.app import app
from privaudit.config import GateConfig
from privaudit.gate import evaluate_report
from privaudit.reports import get_reporter, get_sweep_reporter
from privaudit.results import (
    AuditReport,
    GateResult,
    Status,
    SweepReport,
    Violation,
    read_saved,
)
from privaudit.results.published import shipped_schema

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
SCHEMA = xmlschema.XMLSchema(HERE / "junit.xsd")
FAST = ["--limit", "300", "-q"]
runner = CliRunner()


def check_junit(text: str) -> ET.Element:
    """Validate a JUnit document three ways; return its root."""
    SCHEMA.validate(text)
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        counts = {"tests": len(cases), "errors": sum(c.find("error") is not None for c in cases),
                  "failures": sum(c.find("failure") is not None for c in cases),
                  "skipped": sum(c.find("skipped") is not None for c in cases)}  # fmt: skip
        for key, n in counts.items():
            assert int(suite.get(key, "-1")) == n, (suite.get("name"), key)
            totals[key] += n
        assert abs(float(suite.get("time", "")) -
                   sum(float(c.get("time", "")) for c in cases)) < 0.01 * (len(cases) + 1)
        for case in cases:
            assert case.get("name") and case.get("classname") and case.get("time") is not None
            outcomes = [e for e in case if e.tag in ("failure", "error", "skipped")]
            assert len(outcomes) <= 1
            assert all(o.get("message") for o in outcomes)
    assert {k: int(root.get(k, "-1")) for k in totals} == totals
    parsed = JUnitXml.fromstring(text)
    assert sum(s.tests for s in parsed) == totals["tests"]
    assert sum(s.failures for s in parsed) == totals["failures"]
    assert sum(s.skipped for s in parsed) == totals["skipped"]
    results = [r for s in parsed for c in s for r in c.result]
    assert sum(isinstance(r, Failure) for r in results) == totals["failures"]
    assert sum(isinstance(r, Skipped) for r in results) == totals["skipped"]
    return root


def _cases(root: ET.Element, suite: str) -> dict[str, ET.Element]:
    node = root.find(f"testsuite[@name='{suite}']")
    assert node is not None, suite
    return {c.get("name", ""): c for c in node.findall("testcase")}


@pytest.mark.parametrize("golden", sorted(GOLDEN.glob("*.junit.xml")), ids=lambda p: p.name)
def test_every_golden_junit_report_is_valid(golden: Path) -> None:
    check_junit(golden.read_text(encoding="utf-8"))


def test_goldens_cover_audits_harden_and_sweeps() -> None:
    names = {p.name for p in GOLDEN.glob("*.junit.xml")}
    assert {"report.junit.xml", "harden.junit.xml", "sweep.junit.xml"} <= names


def test_gate_violation_is_a_failure_naming_measured_and_threshold() -> None:
    report = read_saved(GOLDEN / "report.json")
    assert isinstance(report, AuditReport)
    root = check_junit(get_reporter("junit").render(report))
    gate = _cases(root, "privaudit gate")
    assert set(gate) == {"decoder: min_attack_mse >= 0.05", "knn: min_attack_mse >= 0.05",
                         "prior reference: min_attack_mse >= 0.05",
                         "label reference: min_attack_mse >= 0.05",
                         "nearest reference: min_attack_mse >= 0.05"}
    failure = gate["decoder: min_attack_mse >= 0.05"].find("failure")
    assert failure is not None and failure.get("type") == "min_attack_mse"
    assert "0.0315" in failure.get("message", "") and "0.05" in failure.get("message", "")
    passed = gate["knn: min_attack_mse >= 0.05"]
    assert passed.find("failure") is None and "measured 0.0612" in passed.findtext("system-out", "")
    attacks = _cases(root, "privaudit attacks")
    assert [a.attack for a in report.attacks] == list(attacks)
    assert attacks["optimization"].find("skipped") is not None
    gan = attacks["gan"].find("failure")
    assert gan is not None and "critic diverged" in gan.get("message", "")
    assert float(attacks["decoder"].get("time", "")) == pytest.approx(3.25)
    assert "MSE 0.0315" in attacks["decoder"].findtext("system-out", "")


def test_a_reference_the_stored_gate_never_judged_is_left_out_never_shown_as_passed() -> None:
    report = read_saved(GOLDEN / "report.json")
    assert isinstance(report, AuditReport)
    # NOTE: as a report from before the gate checked the references: the label reference
    # misses the threshold and the stored gate holds no violation for it
    label = next(r for r in report.references if r.name == "label")
    older = dataclasses.replace(report, references=tuple(
        dataclasses.replace(r, mse=0.04) if r is label else r for r in report.references))
    gate = _cases(check_junit(get_reporter("junit").render(older)), "privaudit gate")
    assert "label reference: min_attack_mse >= 0.05" not in gate
    assert gate["prior reference: min_attack_mse >= 0.05"].find("failure") is None
    fresh = dataclasses.replace(older, gate=evaluate_report(GateConfig(min_attack_mse=0.05),
                                                            older))
    failed = _cases(check_junit(get_reporter("junit").render(fresh)), "privaudit gate")[
        "label reference: min_attack_mse >= 0.05"].find("failure")
    assert failed is not None and "0.04 is not >= 0.05" in failed.get("message", "")


def test_unmatched_violations_and_hostile_names_still_make_valid_xml() -> None:
    report = read_saved(GOLDEN / "report.json")
    assert isinstance(report, AuditReport)
    evil = "dec\x1boder<&>\x00"
    attacks = tuple(dataclasses.replace(a, attack=evil) if a.attack == "gan" else a
                    for a in report.attacks)  # fmt: skip
    gate = GateResult(True, (Violation("attack_error", evil, None, None, f"{evil} failed: x"),))
    root = check_junit(get_reporter("junit").render(
        dataclasses.replace(report, attacks=attacks, gate=gate)))
    gate_cases = _cases(root, "privaudit gate")
    assert "dec\\x1boder<&>\\x00: attack_error" in gate_cases
    assert int(root.get("failures", "")) == 2  # the errored attack, in the gate and as an attack


def test_sweep_points_fail_only_when_no_point_meets_the_constraints() -> None:
    sweep = read_saved(GOLDEN / "sweep.json")
    assert isinstance(sweep, SweepReport)
    root = check_junit(get_sweep_reporter("junit").render(sweep))
    points = _cases(root, "privaudit sweep points")
    assert len(points) == len(sweep.points) and root.get("failures") == "0"
    miss = points["layer2 sigma 0.1"].find("skipped")
    assert miss is not None and "0.02 is not >= 0.03" in miss.get("message", "")  # the worst seed
    unmet = dataclasses.replace(
        sweep, recommendation=dataclasses.replace(sweep.recommendation, status="unmet"))
    root = check_junit(get_sweep_reporter("junit").render(unmet))
    failures = [c for c in _cases(root, "privaudit sweep points").values()
                if c.find("failure") is not None]  # fmt: skip
    assert len(failures) == 2 and root.get("failures") == "2"


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real demo audit (one quick attack) with a failing and a passing threshold."""
    out = tmp_path_factory.mktemp("junit")
    result = runner.invoke(app, ["assess", "--attacks", "knn", "--budget", "smoke", *FAST,
                                 "-o", str(out), "-f", "json,junit", "--fail-over-leakage", "1",
                                 "--fail-under-attack-mse", "0.5"])  # fmt: skip
    assert result.exit_code == 1, result.output + result.stderr
    return out


def test_assess_writes_junit_with_its_gate(audited: Path) -> None:
    root = check_junit((audited / "report.junit.xml").read_text(encoding="utf-8"))
    report = read_saved(audited / "report.json")
    assert isinstance(report, AuditReport) and report.bound is not None
    gate = _cases(root, "privaudit gate")
    leak = gate["bound: max_leakage <= 1"]
    assert leak.find("failure") is None
    assert f"{report.bound.leakage_bits_per_dim:.4g}" in leak.findtext("system-out", "")
    knn = gate["knn: min_attack_mse >= 0.5"].find("failure")
    assert knn is not None and "is not >= 0.5" in knn.get("message", "")
    # NOTE: the references are held to the attack thresholds too: guessing the mean (prior),
    # the predicted class's mean (label) and the nearest auxiliary input all reconstruct
    # better than MSE 0.5 here
    for ref in ("prior", "label", "nearest"):
        failed = gate[f"{ref} reference: min_attack_mse >= 0.5"].find("failure")
        assert failed is not None and "is not >= 0.5" in failed.get("message", "")
    assert int(root.get("failures", "")) == len(report.gate.violations) == 4
    assert list(_cases(root, "privaudit attacks")) == ["knn"]
    assert report.attacks[0].status is Status.OK


def test_check_writes_junit_with_its_own_thresholds(audited: Path, tmp_path: Path) -> None:
    saved = audited / "report.json"
    result = runner.invoke(app, ["check", str(saved), "--fail-over-leakage", "0", "-f", "junit",
                                 "-o", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 1, result.stderr
    root = check_junit((tmp_path / "report.junit.xml").read_text(encoding="utf-8"))
    gate = _cases(root, "privaudit gate")
    assert list(gate) == ["bound: max_leakage <= 0"]  # the check's thresholds, not the run's
    assert gate["bound: max_leakage <= 0"].find("failure") is not None
    result = runner.invoke(app, ["check", str(saved), "-f", "junit", "-o", str(tmp_path)])
    assert result.exit_code == 0
    assert check_junit((tmp_path / "report.junit.xml").read_text()).get("failures") == "0"


def test_report_rerenders_junit_and_bad_formats_exit_2(audited: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(audited / "report.json"), "-f", "junit",
                                 "--output-dir", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "report.junit.xml").read_text() == \
        (audited / "report.junit.xml").read_text()
    bad = runner.invoke(app, ["check", str(audited / "report.json"), "-f", "junt"])
    assert bad.exit_code == 2
    assert "did you mean 'junit'" in bad.stderr and "Traceback" not in bad.output + bad.stderr


def test_a_real_harden_run_writes_junit_of_the_hardened_model(
    tiny_cnn_legacy: Path, digits_like: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    data = tmp_path / "data.npz"
    np.savez(data, x=digits_like[0], y=digits_like[1])
    out = tmp_path / "report"
    result = runner.invoke(app, [
        "harden", str(tiny_cnn_legacy), "--split", "layer3", "--data", str(data), "--noise",
        "0.05", "--device", "cpu", "--budget", "smoke", "--attacks", "knn", "--epochs", "2",
        "--train-batch-size", "32", "--k", "2", "-q", "--output-dir", str(out),
        "-o", str(tmp_path / "h.onnx"), "-f", "json,junit", "--fail-under-attack-mse", "10",
    ])  # fmt: skip
    assert result.exit_code == 1, result.stderr  # every MSE is under 10: the gate fails
    report = read_saved(out / "report.json")
    assert isinstance(report, AuditReport) and report.harden is not None
    after = report.harden.after
    saved = json.loads((out / "report.json").read_text(encoding="utf-8"))
    jsonschema.validate(saved, json.loads(shipped_schema("report")))  # the schema, too
    root = check_junit((out / "report.junit.xml").read_text(encoding="utf-8"))
    assert root.get("name", "").startswith("privaudit harden: ")
    knn = _cases(root, "privaudit gate")["knn: min_attack_mse >= 10"].find("failure")
    assert knn is not None and f"{after.attacks[0].mse:.4g}" in knn.get("message", "")
    attacks = _cases(root, "privaudit attacks")
    assert list(attacks) == ["knn"] and float(attacks["knn"].get("time", "")) == pytest.approx(
        after.attacks[0].seconds, abs=1e-3)
