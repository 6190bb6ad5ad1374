"""`compare --fail-if-less-private`: the regression rules as a table, then the CLI on real runs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from privaudit.cli.app import app
from privaudit.errors import ConfigError
from privaudit.regression import less_private
from privaudit.results import AuditReport, Interval, Status, read_saved

GOLDEN = Path(__file__).resolve().parents[1] / "reports" / "golden"
runner = CliRunner()


def _golden(name: str = "report") -> AuditReport:
    report = read_saved(GOLDEN / f"{name}.json")
    assert isinstance(report, AuditReport) and report.bound is not None
    return report


def _bound(report: AuditReport, **changes: Any) -> AuditReport:
    assert report.bound is not None
    return dataclasses.replace(report, bound=dataclasses.replace(report.bound, **changes))


def _attack(report: AuditReport, name: str, **changes: Any) -> AuditReport:
    attacks = tuple(dataclasses.replace(a, **changes) if a.attack == name else a
                    for a in report.attacks)  # fmt: skip
    return dataclasses.replace(report, attacks=attacks)


def _no_intervals(report: AuditReport) -> AuditReport:
    attacks = tuple(dataclasses.replace(a, mse_interval=None) for a in report.attacks)
    return dataclasses.replace(report, attacks=attacks)


def _label(report: AuditReport, **changes: Any) -> AuditReport:
    refs = tuple(dataclasses.replace(r, **changes) if r.name == "label" else r
                 for r in report.references)  # fmt: skip
    return dataclasses.replace(report, references=refs)


def _no_ref_intervals(report: AuditReport) -> AuditReport:
    refs = tuple(dataclasses.replace(r, mse_interval=None) for r in report.references)
    return dataclasses.replace(report, references=refs)


OLD = _golden()  # decoder: MSE 0.0315 [0.028, 0.035]; floor 0.003593; leakage in bits/dim
FLOOR = OLD.bound.mse_floor if OLD.bound else None
LEAK = OLD.bound.leakage_bits_per_dim if OLD.bound else None
assert FLOOR and LEAK

CASES = [
    ("same report", OLD, OLD, 0.05, []),
    ("floor 3% lower, within 5%", OLD, _bound(OLD, mse_floor=FLOOR * 0.97), 0.05, []),
    ("floor 10% lower", OLD, _bound(OLD, mse_floor=FLOOR * 0.9), 0.05, [("mse_floor", "bound")]),
    ("floor lower, zero tolerance", OLD, _bound(OLD, mse_floor=FLOOR * 0.999), 0.0,
     [("mse_floor", "bound")]),
    ("floor higher", OLD, _bound(OLD, mse_floor=FLOOR * 2), 0.0, []),
    ("floor lost", OLD, _bound(OLD, mse_floor=None), 0.05, [("mse_floor", "bound")]),
    ("no old floor", _bound(OLD, mse_floor=None), OLD, 0.05, []),
    ("leakage 4% higher, within 5%", OLD, _bound(OLD, leakage_bits_per_dim=LEAK * 1.04), 0.05,
     []),
    ("leakage 20% higher", OLD, _bound(OLD, leakage_bits_per_dim=LEAK * 1.2), 0.05,
     [("leakage_bits_per_dim", "bound")]),
    ("leakage unbounded", OLD, _bound(OLD, leakage_bits_per_dim=None, vacuous=True), 0.05,
     [("leakage_bits_per_dim", "bound")]),
    ("leakage lower", OLD, _bound(OLD, leakage_bits_per_dim=LEAK / 2), 0.0, []),
    ("decoder lower, intervals overlap", OLD,
     _attack(OLD, "decoder", mse=0.027, mse_interval=Interval(0.024, 0.0285)), 0.0, []),
    ("decoder lower, intervals apart", OLD,
     _attack(OLD, "decoder", mse=0.02, mse_interval=Interval(0.018, 0.022)), 0.05,
     [("attack_mse", "decoder")]),
    ("decoder higher, intervals apart", OLD,
     _attack(OLD, "decoder", mse=0.05, mse_interval=Interval(0.045, 0.055)), 0.0, []),
    ("no intervals, 3% lower, within 5%", _no_intervals(OLD),
     _attack(_no_intervals(OLD), "decoder", mse=0.0315 * 0.97), 0.05, []),
    ("no intervals, 10% lower", _no_intervals(OLD),
     _attack(_no_intervals(OLD), "decoder", mse=0.0315 * 0.9), 0.05, [("attack_mse", "decoder")]),
    ("one side without intervals uses the tolerance", OLD,
     _attack(OLD, "decoder", mse=0.0315 * 0.9, mse_interval=None), 0.05,
     [("attack_mse", "decoder")]),
    # a regression gate never passes by not measuring: A's result with none in B is a finding
    ("attack gone from the new run", OLD,
     dataclasses.replace(OLD, attacks=OLD.attacks[:1]), 0.0, [("attack_mse", "decoder")]),
    ("no attack in the new run", OLD, dataclasses.replace(OLD, attacks=()), 0.05,
     [("attack_mse", "knn"), ("attack_mse", "decoder")]),
    ("attack skipped in the new run", OLD,
     _attack(OLD, "decoder", status=Status.SKIPPED, mse=None, reason="needs gradients"), 0.05,
     [("attack_mse", "decoder")]),
    ("attack failed in the new run", OLD,
     _attack(OLD, "decoder", status=Status.ERROR, mse=None, reason="diverged"), 0.05,
     [("attack_mse", "decoder")]),
    ("attack without an MSE in the new run", OLD, _attack(OLD, "decoder", mse=float("nan")),
     0.05, [("attack_mse", "decoder")]),
    ("attack only in the new run", dataclasses.replace(OLD, attacks=OLD.attacks[:1]), OLD, 0.05,
     []),
    ("attack skipped in the old run", _attack(OLD, "decoder", status=Status.SKIPPED, mse=None),
     OLD, 0.05, []),
    ("label reference gone from the new run", OLD,
     dataclasses.replace(OLD, references=tuple(r for r in OLD.references if r.name != "label")),
     0.05,
     [("reference_mse", "label reference")]),
    ("label reference not computed in the new run", OLD,
     _label(OLD, mse=None, mse_interval=None, reason="no labels"), 0.05,
     [("reference_mse", "label reference")]),
    ("label reference only in the new run", _label(OLD, mse=None, reason="no labels"), OLD,
     0.05, []),
    # the label reference is the server's for free: no attack better, yet less private
    ("label reference 20% lower", _no_ref_intervals(OLD),
     _label(_no_ref_intervals(OLD), mse=0.0523 * 0.8), 0.05,
     [("reference_mse", "label reference")]),
    ("label reference lower, intervals overlap", OLD,
     _label(OLD, mse=0.051, mse_interval=Interval(0.047, 0.055)), 0.0, []),
    ("label reference 3% lower, within 5%", _no_ref_intervals(OLD),
     _label(_no_ref_intervals(OLD), mse=0.0523 * 0.97), 0.05, []),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "tolerance", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_less_private_table(old: AuditReport, new: AuditReport, tolerance: float,
                            expected: list[tuple[str, str]]) -> None:
    found = less_private(old, new, tolerance)
    assert [(r.quantity, r.subject) for r in found] == expected
    for r in found:  # each names the numbers, before and after
        assert r.old is not None and f"{r.old:.4g}" in r.message


def test_harden_reports_are_compared_on_the_hardened_model() -> None:
    assert OLD.harden is None
    worse = _bound(OLD, mse_floor=FLOOR / 10)
    hardened_old = _fake_harden(OLD, OLD)
    assert less_private(hardened_old, _fake_harden(OLD, worse), 0.05)
    assert not less_private(_fake_harden(worse, OLD), hardened_old, 0.05)  # originals ignored


def _fake_harden(original: AuditReport, after: AuditReport) -> AuditReport:
    from privaudit.results import HardenResult

    harden = HardenResult("h.onnx", "ab" * 32, 0.1, 4.0, "bound", 5, 1, False, False, (), after)
    return dataclasses.replace(original, harden=harden)


def test_a_result_missing_in_b_names_a_s_mse() -> None:
    found = less_private(OLD, dataclasses.replace(OLD, attacks=OLD.attacks[:1]))
    assert [r.message for r in found] == [
        "attack decoder: no result in B to compare with A's MSE 0.0315 (in B: not run)"]
    assert found[0].new is None


TABULAR = _golden("tabular")
SIGNAL = _golden("signal")


@pytest.mark.parametrize(("old", "new"), [(OLD, TABULAR), (TABULAR, OLD), (TABULAR, SIGNAL)],
                         ids=["image-tabular", "tabular-image", "tabular-signal"])
def test_reports_in_different_units_are_refused(old: AuditReport, new: AuditReport) -> None:
    with pytest.raises(ConfigError, match="their MSEs are in different units") as err:
        less_private(old, new)
    assert err.value.hint is not None and "same kind of data" in err.value.hint


def test_the_same_kind_of_data_on_another_model_compares() -> None:
    other = dataclasses.replace(TABULAR, model=dataclasses.replace(
        TABULAR.model, path="hardened.onnx", sha256="cd" * 32))
    assert less_private(TABULAR, other) == ()


@pytest.mark.parametrize("tolerance", [-0.1, 1.0, float("nan")])
def test_bad_tolerance(tolerance: float) -> None:
    with pytest.raises(ConfigError, match="--tolerance"):
        less_private(OLD, OLD, tolerance)


# The CLI on real runs -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real demo audits (bound only): the deployed sigma 0.1, and 0.05, which leaks more."""
    out = {}
    for name, sigma in (("private", "0.1"), ("leaky", "0.05")):
        folder = tmp_path_factory.mktemp(name)
        result = runner.invoke(app, ["assess", "--no-attacks", "--limit", "300", "-q",
                                     "--noise", sigma, "-o", str(folder)])  # fmt: skip
        assert result.exit_code == 0, result.stderr
        out[name] = folder / "report.json"
    return out


def test_cli_exit_1_and_one_line_per_change(runs: dict[str, Path]) -> None:
    result = runner.invoke(app, ["compare", str(runs["private"]), str(runs["leaky"]),
                                 "--fail-if-less-private"])  # fmt: skip
    assert result.exit_code == 1, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("less private:")]
    assert len(lines) == 2
    assert "MSE floor lower" in lines[0] and "leakage higher" in lines[1]
    assert "bits/dim" in lines[1] and "->" in lines[1]
    assert result.stdout.startswith("# privaudit compare")  # the comparison is still written


def test_cli_exit_0_when_not_less_private(runs: dict[str, Path], tmp_path: Path) -> None:
    for a, b in ((runs["leaky"], runs["private"]), (runs["private"], runs["private"])):
        result = runner.invoke(app, ["compare", str(a), str(b), "--fail-if-less-private",
                                     "--tolerance", "0", "-f", "json", "-o",
                                     str(tmp_path / f"{a.parent.name}-{b.parent.name}.json")])
        assert result.exit_code == 0, result.stderr
        assert "not less private" in result.stderr
    assert json.loads((tmp_path / f"{runs['private'].parent.name}-"
                       f"{runs['private'].parent.name}.json").read_text())["rows"]


def test_cli_exit_2_for_bad_inputs(runs: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 3, "model": 1}')
    cases = [
        ([str(runs["private"]), str(tmp_path / "missing.json")], "cannot read report"),
        ([str(runs["private"]), str(broken)], "is not a privaudit report"),
        ([str(runs["private"]), str(GOLDEN / "sweep.json")], "not sweeps"),
        ([str(GOLDEN / "sweep.json"), str(GOLDEN / "sweep.json")], "not sweeps"),
        ([str(runs["private"]), str(runs["private"]), "--tolerance", "1.5"], "--tolerance"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["compare", *args, "--fail-if-less-private"])
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len([ln for ln in result.stderr.splitlines() if ln.startswith("error:")]) == 1
    alone = runner.invoke(app, ["compare", str(runs["private"]), str(runs["private"]),
                                "--tolerance", "0.1"])  # fmt: skip
    assert alone.exit_code == 2 and "needs --fail-if-less-private" in alone.stderr


@pytest.fixture(scope="module")
def knn_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real demo audit at the deployed sigma 0.1 whose knn attack ran (the smoke budget)."""
    folder = tmp_path_factory.mktemp("knn")
    result = runner.invoke(app, ["assess", "--attacks", "knn", "--budget", "smoke", "--limit",
                                 "300", "-q", "--noise", "0.1", "-o", str(folder)])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return folder / "report.json"


def test_b_s_attack_that_learned_nothing_is_no_result(knn_run: Path, tmp_path: Path) -> None:
    """A tester's B decoder at -230% recovered passed as B's (higher) MSE: not less private."""
    doc = json.loads(knn_run.read_text())
    doc["attacks"][0].update(recovered=-2.3, mse=doc["attacks"][0]["mse"] * 3.3)
    other = tmp_path / "report.json"
    other.write_text(json.dumps(doc))
    result = runner.invoke(app, ["compare", str(knn_run), str(other), "--fail-if-less-private"])
    assert result.exit_code == 1, result.stderr
    assert "attack knn: no result in B" in result.stderr
    assert "did worse than guessing the mean input" in result.stderr


def test_cli_exit_1_when_b_ran_no_attack_a_measured(runs: dict[str, Path], knn_run: Path) -> None:
    result = runner.invoke(app, ["compare", str(knn_run), str(runs["private"]),
                                 "--fail-if-less-private"])  # fmt: skip
    assert result.exit_code == 1, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("less private:")]
    assert lines and all("attack knn: no result in B to compare with A's MSE" in ln
                         for ln in lines), lines  # fmt: skip
    assert "not less private" not in result.stderr


def test_cli_an_attack_only_in_b_is_no_regression(runs: dict[str, Path], knn_run: Path) -> None:
    result = runner.invoke(app, ["compare", str(runs["private"]), str(knn_run),
                                 "--fail-if-less-private"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "not less private" in result.stderr


def test_cli_exit_2_for_reports_in_different_units(tmp_path: Path) -> None:
    out = tmp_path / "cmp.md"
    for a, b, kind in (("report", "tabular", "an image report (MSE per pixel on [0, 1])"),
                       ("tabular", "report", "a tabular report (MSE per column, standardised)")):
        result = runner.invoke(app, ["compare", str(GOLDEN / f"{a}.json"),
                                     str(GOLDEN / f"{b}.json"), "--fail-if-less-private",
                                     "-o", str(out)])  # fmt: skip
        assert result.exit_code == 2, result.stderr
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert lines[0].startswith(f"error: cannot compare {kind} with")
        assert "different units" in lines[0]
        assert lines[1].startswith("hint: ") and len(lines) == 2, lines
        assert not out.exists()  # refused before anything is written


def test_a_plain_compare_of_different_units_says_its_deltas_mean_nothing() -> None:
    from privaudit.reports.compare import render_compare

    text = render_compare(OLD, TABULAR, "markdown")
    assert ("**units**: A's MSEs are per pixel on \\[0, 1\\] (image data), B's per column, "
            "standardised (tabular data): their deltas mean nothing") in text
    assert "**units**" not in render_compare(TABULAR, TABULAR, "markdown")


def test_compare_shows_a_harden_report_by_its_hardened_model(tmp_path: Path) -> None:
    """The table showed the original model (every delta +0) while the gate judged the other."""
    worse = _bound(OLD, mse_floor=FLOOR / 10)
    (tmp_path / "a.json").write_text(OLD.to_json())
    (tmp_path / "b.json").write_text(_fake_harden(OLD, worse).to_json())
    shown = runner.invoke(app, ["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"),
                                "-f", "json"])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.stdout)
    rows = {r["metric"]: r for r in view["rows"]}
    assert rows["mse_floor"]["b"] == pytest.approx(FLOOR / 10)  # the hardened model's


def test_compare_output_records_the_regression_gate_and_the_references(tmp_path: Path) -> None:
    """The file a pipeline keeps said nothing of what made the exit code 1."""
    worse = _bound(OLD, mse_floor=FLOOR / 10)
    (tmp_path / "a.json").write_text(OLD.to_json())
    (tmp_path / "b.json").write_text(worse.to_json())
    args = ["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "-f", "json",
            "-o", str(tmp_path / "cmp.json")]  # fmt: skip
    assert runner.invoke(app, [*args, "--fail-if-less-private"]).exit_code == 1
    doc = json.loads((tmp_path / "cmp.json").read_text())
    assert doc["regression"]["less_private"] is True
    assert "floor lower" in doc["regression"]["findings"][0]
    metrics = {r["metric"] for r in doc["rows"]}
    assert {"label reference mse", "prior reference mse", "decoder recovered"} <= metrics
    assert runner.invoke(app, args).exit_code == 0
    assert "regression" not in json.loads((tmp_path / "cmp.json").read_text())  # not asked


@pytest.mark.parametrize(("edit", "words"), [
    (lambda d: d["provenance"]["config"]["attacks"].update(budget="standard"),
     "budget smoke vs standard"),
    (lambda d: d["provenance"].update(seed=1), "seed 0 vs 1"),
    (lambda d: d["data"].update(fingerprint="0" * 64), "different samples"),
    (lambda d: d["data"].update(n_aux=6, n_eval=d["data"]["n_eval"] + d["data"]["n_aux"] - 6),
     "audit split"),
    (lambda d: d["attacks"][0]["params"].update(k=3), "attack knn's settings k 1 vs 3"),
    (lambda d: d["bound"].update(covariance="full"), "bound covariance 'diagonal' vs 'full'"),
    (lambda d: d["provenance"]["config"]["bound"].update(bootstrap=20),
     "bound bootstrap"),
    (lambda d: d["provenance"]["config"]["bound"].update(input_entropy="1.5"),
     "bound input_entropy"),
])  # fmt: skip
def test_reports_measured_differently_are_not_gated(knn_run: Path, tmp_path: Path, edit: Any,
                                                    words: str) -> None:  # fmt: skip
    """A standard-budget audit against a smoke one of the same model read +243% in MSE, and
    `--fail-if-less-private` passed it: a weaker audit of B passed as more private."""
    doc = json.loads(knn_run.read_text())
    edit(doc)
    other = tmp_path / "report.json"
    other.write_text(json.dumps(doc))
    result = runner.invoke(app, ["compare", str(knn_run), str(other), "--fail-if-less-private"])
    assert result.exit_code == 2
    assert "A and B were measured differently" in result.stderr and words in result.stderr
    assert runner.invoke(app, ["compare", str(knn_run), str(knn_run),
                               "--fail-if-less-private"]).exit_code == 0  # fmt: skip
    plain = runner.invoke(app, ["compare", str(knn_run), str(other)])  # NOTE: said, not gated
    assert plain.exit_code == 0 and "A and B were measured differently" in plain.stdout
    assert words in plain.stdout.replace("\\_", "_")
