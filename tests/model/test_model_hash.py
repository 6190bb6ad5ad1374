"""The model hash covers external data: reports and sweep shards change with the weights.

A tester changed the weights in a dynamo export's `model.onnx.data` (the `.onnx` file itself
unchanged) and re-ran a sweep in the same folder: it reused the old shards, reporting
leakage 0.2359 bits/dim and a floor of 0.3217 where the new weights give 0.4299 and 0.2157.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx

import privaudit
from privaudit.demo import tabular_data_path, tabular_model_path
from privaudit.model import load_model, model_sha256, sha256_file


def _with_external_data(tmp_path: Path) -> Path:
    model = onnx.load(str(tabular_model_path()))
    path = tmp_path / "ext" / "m.onnx"
    path.parent.mkdir()
    onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
              location="m.onnx.data", size_threshold=0)
    return path


def _scale_weights(data: Path, factor: float) -> None:
    raw = bytearray(data.read_bytes())
    head = np.frombuffer(bytes(raw[:256]), np.float32) * factor
    raw[:256] = head.astype(np.float32).tobytes()
    data.write_bytes(bytes(raw))


def test_a_change_in_external_data_changes_the_hash(tmp_path: Path) -> None:
    path = _with_external_data(tmp_path)
    load_model(path)  # NOTE: checks the locations first, as every command does
    before, onnx_file = model_sha256(path), sha256_file(path)
    _scale_weights(path.parent / "m.onnx.data", 0.3)
    assert sha256_file(path) == onnx_file  # the .onnx file did not change ...
    assert model_sha256(path) != before  # ... its model did


def test_without_external_data_it_is_the_files_own_hash(tmp_path: Path) -> None:
    copy = tmp_path / "m.onnx"
    shutil.copy(tabular_model_path(), copy)
    assert model_sha256(copy) == sha256_file(copy)


def test_a_sweep_does_not_reuse_shards_of_other_weights(tmp_path: Path) -> None:
    path = _with_external_data(tmp_path)
    opts = {"data": tabular_data_path(), "splits": ["layer2"], "noise": [0.1],
            "attacks": False, "shards": tmp_path / "shards", "device": "cpu",
            "sweep": {"jobs": 1}}
    first = privaudit.sweep(path, **opts)
    _scale_weights(path.parent / "m.onnx.data", 0.3)
    second = privaudit.sweep(path, **opts)
    assert second.model.sha256 != first.model.sha256
    assert second.points[0].bound != first.points[0].bound
