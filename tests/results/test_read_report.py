"""A hand-edited report.json whose parts disagree is refused (exit 2), never rendered or gated.

A tester's edits made `privaudit report` fail with an internal error (exit 3) on files that
the loader took: a domain privaudit does not have, and per-feature scores of columns the
data no longer names; an MSE of 1e400 (infinity) passed `check`, and `schema_version: true`
read as version 1.
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
from privaudit.results import AuditReport, read_saved

GOLDEN = Path(__file__).parents[1] / "reports" / "golden" / "tabular.json"
TABULAR = json.loads(GOLDEN.read_text(encoding="utf-8"))


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
    doc = copy.deepcopy(TABULAR)
    edit(doc)
    path = tmp_path / "report.json"
    path.write_text(json.dumps(doc).replace("Infinity", "1e400"), encoding="utf-8")
    with pytest.raises(DataError, match="is not a privaudit report") as raised:
        read_saved(path)
    assert words in str(raised.value)
    result = CliRunner().invoke(app, ["report", str(path), "-f", "html,markdown",
                                      "-o", str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_golden_tabular_report_reads() -> None:
    assert isinstance(read_saved(GOLDEN), AuditReport)
