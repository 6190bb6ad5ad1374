"""A hand-edited or corrupted sweep.json is refused (exit 2), never answered or gated.

A tester's sweep.json with `"points": []` crashed `check` (exit 3), and one with a noisy
accuracy of 1.7 passed `--min-accuracy 0.95` ("noisy accuracy 170.0%").
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from privaudit.errors import DataError
from privaudit.results import SweepReport, read_saved

GOLDEN = json.loads((Path(__file__).parents[1] / "reports" / "golden" / "sweep.json").read_text())


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
    doc = copy.deepcopy(GOLDEN)
    edit(doc)
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="is not a privaudit report") as raised:
        read_saved(path)
    assert words in str(raised.value)


def test_the_golden_sweep_reads() -> None:
    path = Path(__file__).parents[1] / "reports" / "golden" / "sweep.json"
    assert isinstance(read_saved(path), SweepReport)
