"""`privaudit.sweep` from Python: inputs in memory, no files unless asked, a sweep read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import privaudit
import privaudit.sweeping  # noqa: F401  NOTE: the package does not shadow the API's function


def test_sweep_in_memory_and_load_it_back(
    tiny_cnn_legacy: Path, digits_like: tuple[np.ndarray, np.ndarray], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    report = privaudit.sweep(
        onnx.load(str(tiny_cnn_legacy)), data=digits_like, splits="layer3", noise=[0, 0.1],
        attacks=["knn"], budget="smoke", min_accuracy=0.0, max_recovered=1.0,
        sweep={"jobs": 1}, device="cpu",
    )  # fmt: skip
    assert isinstance(report, privaudit.SweepReport)
    assert [(p.cut, p.noise_sigma) for p in report.points] == [("layer3", 0.0), ("layer3", 0.1)]
    assert report.recommendation.met
    assert report.recommendation.command.startswith("privaudit assess MODEL --split layer3")
    assert not list(tmp_path.iterdir())  # nothing written without `shards`
    (tmp_path / "sweep.json").write_text(report.to_json())
    assert privaudit.load_sweep(tmp_path / "sweep.json") == report
    with pytest.raises(privaudit.DataError, match="not a sweep"):
        privaudit.load_sweep(Path(__file__).parents[1] / "reports" / "golden" / "report.json")
    with pytest.raises(privaudit.DataError, match="is a sweep"):
        privaudit.load_report(tmp_path / "sweep.json")


def test_splits_as_one_comma_separated_string(
    tiny_cnn_legacy: Path, digits_like: tuple[np.ndarray, np.ndarray]
) -> None:
    with pytest.raises(privaudit.ModelError, match="split 'nosuch' not found"):
        privaudit.sweep(tiny_cnn_legacy, data=digits_like, splits="layer3, nosuch",
                        attacks=False, device="cpu")  # fmt: skip


def test_shards_checked_before_any_work_and_a_new_folder_left_behind_on_failure(
    tiny_cnn_legacy: Path, digits_like: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(privaudit.ConfigError, match="not a folder") as caught:
        privaudit.sweep(tiny_cnn_legacy, data=digits_like, splits="layer3",
                        attacks=False, shards=tmp_path / "file", device="cpu")  # fmt: skip
    assert caught.value.hint is not None and "shards=" in caught.value.hint
    with pytest.raises(privaudit.ModelError, match="nosuch"):
        privaudit.sweep(tiny_cnn_legacy, data=digits_like, splits="nosuch", attacks=False,
                        shards=tmp_path / "new" / "shards", device="cpu")  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
