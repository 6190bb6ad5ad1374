"""A hand-edited or corrupted sweep.json or report.json is refused (exit 2), never rendered,
answered or gated.

A tester's sweep.json with `"points": []` crashed `check` (exit 3), and one with a noisy
accuracy of 1.7 passed `--min-accuracy 0.95` ("noisy accuracy 170.0%"). Another tester's
report.json edits made `privaudit report` fail with an internal error (exit 3) on files
that the loader took: a domain privaudit does not have, and per-feature scores of columns
the data no longer names; an MSE of 1e400 (infinity) passed `check`, and
`schema_version: true` read as version 1.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from privaudit.cli import app
from privaudit.errors import DataError
from privaudit.results import AuditReport, SweepReport, read_saved

GOLDENS = Path(__file__).parents[1] / "reports" / "golden"
GOLDEN = json.loads((GOLDENS / "sweep.json").read_text())
TABULAR = json.loads((GOLDENS / "tabular.json").read_text(encoding="utf-8"))


def _refused(tmp_path: Path, golden: dict[str, Any], edit: Any, name: str) -> tuple[Path, str]:
    """The edited document saved as `name`, and the words of the DataError reading it."""
    doc = copy.deepcopy(golden)
    edit(doc)
    path = tmp_path / name
    path.write_text(json.dumps(doc).replace("Infinity", "1e400"), encoding="utf-8")
    with pytest.raises(DataError, match="is not a privaudit report") as raised:
        read_saved(path)
    return path, str(raised.value)


def _accuracy(doc: dict[str, Any], value: float) -> None:
    doc["points"][0]["noisy_accuracy"]["value"] = value


def _no_points(doc: dict[str, Any]) -> None:
    doc["points"] = []


def _twice(doc: dict[str, Any]) -> None:
    doc["points"].append(copy.deepcopy(doc["points"][0]))


@pytest.mark.parametrize(("edit", "words"), [
    (lambda d: _accuracy(d, 1.7), "SweepReport.points[0].noisy_accuracy.value is 1.7, above 1"),
    (lambda d: _accuracy(d, -0.2), "SweepReport.points[0].noisy_accuracy.value is -0.2, below 0"),
    (lambda d: d["points"][1]["clean_accuracy"].update(value=3.0), "clean_accuracy.value is 3.0"),
    (_no_points, "it holds no points"),
    (_twice, "it holds a (cut, sigma) point twice"),
    (lambda d: d["constraints"].update(max_recovered=-1.0), "max_recovered is -1.0, below 0"),
    (lambda d: d.update(schema_version=True), "unsupported sweep schema_version True"),
])  # fmt: skip
def test_a_tampered_sweep_is_refused(tmp_path: Path, edit: Any, words: str) -> None:
    assert words in _refused(tmp_path, GOLDEN, edit, "sweep.json")[1]


def _names(doc: dict[str, Any]) -> None:
    doc["data"]["feature_names"] = doc["data"]["feature_names"][:2]
    for key in ("feature_mean", "feature_std", "discrete"):
        doc["data"][key] = doc["data"][key][:2]


@pytest.mark.parametrize(("edit", "words"), [
    (lambda d: d["model"].update(domain="audio"), "model.domain 'audio' is none of"),
    (_names, "name features that data.feature_names does not hold"),
    (lambda d: d["data"].update(feature_std=d["data"]["feature_std"][:1]),
     "data.feature_std has 1 entries"),
    (lambda d: d["attacks"][0].update(mse=1e400), "is inf, not finite"),
    (lambda d: d.update(schema_version=True), "unsupported report schema_version True"),
])  # fmt: skip
def test_a_report_whose_parts_disagree_is_refused(tmp_path: Path, edit: Any, words: str) -> None:
    path, said = _refused(tmp_path, TABULAR, edit, "report.json")
    assert words in said
    result = CliRunner().invoke(app, ["report", str(path), "-f", "html,markdown",
                                      "-o", str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_golden_tabular_report_reads() -> None:
    assert isinstance(read_saved(GOLDENS / "tabular.json"), AuditReport)


def test_the_golden_sweep_reads() -> None:
    path = Path(__file__).parents[1] / "reports" / "golden" / "sweep.json"
    assert isinstance(read_saved(path), SweepReport)


def _text_refused(tmp_path: Path, text: str) -> str:
    path = tmp_path / "report.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match="is not a privaudit report") as raised:
        read_saved(path)
    result = CliRunner().invoke(app, ["check", str(path), "--fail-over-leakage", "0.5"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    return str(raised.value)


@pytest.mark.parametrize(("edit", "words"), [
    (lambda d: d["bound"].update(leakage_bits_per_dim=-0.5), "leakage_bits_per_dim is -0.5"),
    (lambda d: d["bound"].update(leakage_nats=-3.0), "leakage_nats is -3.0, below 0"),
    (lambda d: d["attacks"][0].update(n_samples=-5), "n_samples is -5, below 0"),
    (lambda d: d["attacks"][0].update(n_samples=True), "expected int"),
    (lambda d: d.update(schema_version=float(d["schema_version"])), "unsupported report"),
])
def test_a_report_edited_to_pass_a_gate_is_refused(tmp_path: Path, edit: Any,
                                                   words: str) -> None:  # fmt: skip
    """A reviewer (2026-12-08): a negative leakage passed `--fail-over-leakage`, a negative
    sample count escaped the small-audit rule, `n_samples: true` read as 1, and a float
    schema_version ended in an internal error (exit 3)."""
    doc = copy.deepcopy(TABULAR)
    edit(doc)
    assert words in _text_refused(tmp_path, json.dumps(doc))


def test_duplicate_keys_and_huge_integers_are_refused(tmp_path: Path) -> None:
    """Readers disagree on which of two equal keys counts (Python's last, a human the first);
    a 400-digit integer ended in an OverflowError (exit 3)."""
    text = json.dumps(TABULAR)
    twice = text.replace('"leakage_bits_per_dim": ',
                         '"leakage_bits_per_dim": 0.9, "leakage_bits_per_dim": ', 1)
    assert "appears twice" in _text_refused(tmp_path, twice)
    huge = json.dumps({**TABULAR, "bound": {**TABULAR["bound"], "input_dim": 1}}).replace(
        '"input_dim": 1', '"input_dim": 1' + "0" * 400)
    assert "401 digits" in _text_refused(tmp_path, huge)


def test_a_report_saved_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    """Windows editors add a UTF-8 BOM; such a report was refused as not a report."""
    path = tmp_path / "report.json"
    path.write_bytes(b"\xef\xbb\xbf" + (GOLDENS / "tabular.json").read_bytes())
    assert isinstance(read_saved(path), AuditReport)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A 300 MB report.json loaded whole (700 MB of memory) before anything was checked."""
    from privaudit.results.read import MAX_REPORT_BYTES

    path = tmp_path / "report.json"
    with path.open("wb") as f:  # NOTE: sparse: no disk space taken
        f.truncate(MAX_REPORT_BYTES + 1)
    with pytest.raises(DataError, match="at most 256 MiB are read"):
        read_saved(path)
