"""Labels that are not the model's class indices are refused, not scored (privacy overstated).

A tester's Wine CSV with text labels numbered in sorted order (not the model's order) read
0.0 % accuracy with no warning, and the label reference, built from the wrong classes, rose
from 0.581 to 1.98: a `--fail-under-attack-mse 0.6` gate passed that fails on the right
labels.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from privaudit.audit.utility import check_label_agreement
from privaudit.cli.app import app
from privaudit.demo import tabular_data_path, tabular_model_path
from privaudit.errors import DataError

runner = CliRunner()
Y = np.repeat(np.arange(3), 40)


def test_a_permuted_model_is_refused_with_the_mapping() -> None:
    with pytest.raises(DataError, match=r"accuracy on these labels is 0\.0% .* below the 33%") as e:
        check_label_agreement((Y + 1) % 3, Y, "t.csv", ("a", "b", "c"))
    assert "numbered in sorted order: a→0, b→1, c→2" in e.value.message
    assert "audit without them (--no-labels)" in (e.value.hint or "")


def test_a_permutation_with_stray_predictions_is_refused_naming_the_fit() -> None:
    predicted = np.where(np.arange(len(Y)) % 10 == 0, 7, (Y + 1) % 3)  # 10% elsewhere
    with pytest.raises(DataError, match=r"0\.0% .* another naming \(1→0, 2→1, 0→2|"
                                        r"0\.0% .* another naming \(0→2, 1→0, 2→1"):
        check_label_agreement(predicted, Y, "d.npz")


@pytest.mark.parametrize(
    "predicted",
    [
        Y,  # right
        np.zeros_like(Y),  # an untrained model predicting one class: chance, not below
        np.random.default_rng(0).integers(0, 3, len(Y)),  # unrelated: about chance
        np.where(np.arange(len(Y)) % 5 == 0, 9, Y),  # a model of 10 classes on 3 of them
        np.full(len(Y), 7),  # never a label's class: a warning says so (the labels hold ...)
        # below chance, but no naming fits: an untrained model on structured data
        np.where(np.random.default_rng(1).random(len(Y)) < 0.4, (Y + 1) % 3,
                 np.random.default_rng(2).integers(0, 3, len(Y))),
    ],
    ids=["right", "constant", "unrelated", "more-classes", "outside", "untrained"],
)
def test_labels_a_model_could_predict_pass(predicted: np.ndarray) -> None:
    check_label_agreement(predicted, Y, "d.npz")


def test_too_few_samples_to_tell_pass() -> None:
    y = np.arange(6) % 3  # 0 of 6 right: [0%, 39%] reaches chance (33%)
    check_label_agreement((y + 1) % 3, y, "d.npz")


def _wine_with_text_labels(tmp_path: Path, names: tuple[str, str, str]) -> Path:
    frame = pd.read_csv(tabular_data_path())
    frame["label"] = [names[int(c)] for c in frame["label"]]
    path = tmp_path / "wine_text.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("names", "code"),
    [(("barolo", "grignolino", "barbera"), 2), (("class_0", "class_1", "class_2"), 0)],
    ids=["sorted-order-differs", "sorted-order-matches"],
)
def test_assess_refuses_text_labels_in_another_order(
    tmp_path: Path, names: tuple[str, str, str], code: int
) -> None:
    data = _wine_with_text_labels(tmp_path, names)
    out = tmp_path / "out"
    result = runner.invoke(app, [
        "assess", str(tabular_model_path()), "--data", str(data), "--split", "layer2",
        "--noise", "0.1", "--no-attacks", "-q", "-o", str(out), "-f", "json",
    ])  # fmt: skip
    assert result.exit_code == code, result.stderr
    if code:
        assert "the labels are not the model's class indices" in result.stderr
        assert "barbera→0, barolo→1, grignolino→2" in result.stderr
        assert not (out / "report.json").exists()


def test_no_labels_audits_the_same_table_without_them(tmp_path: Path) -> None:
    data = _wine_with_text_labels(tmp_path, ("barolo", "grignolino", "barbera"))
    out = tmp_path / "out"
    result = runner.invoke(app, [
        "assess", str(tabular_model_path()), "--data", str(data), "--split", "layer2",
        "--noise", "0.1", "--no-labels", "--no-attacks", "-q", "-o", str(out), "-f", "json",
    ])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["utility"]["clean_accuracy"] is None
    label = next(r for r in report["references"] if r["name"] == "label")
    assert label["mse"] is None and "no labels" in label["reason"]
    assert "labels ignored (--no-labels)" in report["data"]["transforms"]
    assert "label" not in report["data"].get("feature_names", [])  # the column stays out
    assert "--no-labels" in runner.invoke(app, ["sweep", "--help"]).stdout



def test_harden_says_labels_false_dropped_them(tmp_path: Path) -> None:
    import privaudit

    with pytest.raises(DataError, match="labels = false in the config drops them"):
        privaudit.harden(tabular_model_path(), output=tmp_path / "new" / "h.onnx",
                         data=tabular_data_path(), split="layer2", noise=0.1, labels=False)
    assert not (tmp_path / "new").exists()  # the folder made for the model is gone again
