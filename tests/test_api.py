"""The public Python API: names, torch-free import, in-memory runs, errors, the README example."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

import privaudit
from privaudit import demo

README = Path(__file__).resolve().parents[1] / "README.md"


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[start:end]


def test_all_equals_the_names_the_readme_documents() -> None:
    table = [line for line in _section("## Python API").splitlines() if line.startswith("| `")]
    documented = {
        name
        for line in table
        for name in re.findall(r"`privaudit\.(\w+)", line.split("|")[1])
    }
    assert documented == set(privaudit.__all__)
    assert all(hasattr(privaudit, name) for name in privaudit.__all__)


def test_import_is_free_of_torch() -> None:
    code = (
        "import sys, privaudit; privaudit.AuditReport; privaudit.load_report; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    bare = subprocess.run([sys.executable, "-c", "import sys, privaudit; print('torch' in "
                           "sys.modules, 'numpy' in sys.modules)"], capture_output=True,
                          text=True, check=True)  # fmt: skip
    assert bare.stdout.split() == ["False", "False"]


def test_readme_example_runs(tmp_path: Path) -> None:
    block = re.search(r"```python\n(.*?)```", _section("## Python API"), re.S)
    assert block
    result = subprocess.run([sys.executable, "-c", block.group(1)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "floor" in result.stdout and "decoder" in result.stdout
    assert json.loads((tmp_path / "report.json").read_text())["schema_version"] >= 2


def test_readme_tabular_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", _section("## Python API"), re.S)
    assert len(blocks) == 2 and "tabular_model_path" in blocks[1]
    result = subprocess.run([sys.executable, "-c", blocks[1]], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    domain, *scores = result.stdout.split(maxsplit=1)
    assert domain == "tabular" and scores[0].count(",") == 12  # 13 columns


@pytest.fixture(scope="module")
def in_memory() -> privaudit.AuditReport:
    data = np.load(demo.demo_data_path())
    model = onnx.load(str(demo.demo_model_path()))
    return privaudit.assess(model, data={"x": data["x"], "y": data["y"]}, noise=0.1,
                            attacks=["knn"], budget="smoke", limit=400)


def test_in_memory_model_and_arrays(in_memory: privaudit.AuditReport) -> None:
    report = in_memory
    assert report.model.path == "<in-memory model>"
    assert report.model.sha256 == __import__("hashlib").sha256(
        onnx.load(str(demo.demo_model_path())).SerializeToString()).hexdigest()
    assert report.data.source == "<in-memory arrays>" and report.data.n_total == 400
    assert report.model.noise_source == "argument" and report.bound is not None
    assert [a.attack for a in report.attacks] == ["knn"]


def test_same_numbers_as_the_files(in_memory: privaudit.AuditReport) -> None:
    """The same model and data given as paths give the same numbers."""
    from_files = privaudit.assess(demo.demo_model_path(), data=demo.demo_data_path(), noise=0.1,
                                  attacks=["knn"], budget="smoke", limit=400)
    assert from_files.bound.leakage_nats == in_memory.bound.leakage_nats
    assert from_files.attacks[0].mse == in_memory.attacks[0].mse
    assert from_files.data.fingerprint == in_memory.data.fingerprint


def test_report_views(in_memory: privaudit.AuditReport) -> None:
    report = in_memory
    assert json.loads(report.to_json()) == report.to_dict()
    assert report.to_dict()["schema_version"] == report.schema_version
    frame = report.to_dataframe()
    assert list(frame["attack"]) == ["prior", "label", "nearest", "knn"]
    assert list(frame["kind"]) == ["reference", "reference", "reference", "attack"]
    assert frame["mse"][3] == report.attacks[0].mse
    html = report._repr_html_()
    assert html is not None and html.startswith("<!DOCTYPE html>")


def test_load_report_round_trips(tmp_path: Path, in_memory: privaudit.AuditReport) -> None:
    path = tmp_path / "report.json"
    path.write_text(in_memory.to_json())
    assert privaudit.load_report(path).to_json() == in_memory.to_json()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"model": "missing.onnx", "data": "missing.npz"}, privaudit.ModelError),
        ({"budget": "huge"}, privaudit.ConfigError),
        ({"bound": {"kk": 3}}, privaudit.ConfigError),
        ({"model": 42}, privaudit.ConfigError),
        ({"model": b"not onnx at all"}, privaudit.PrivauditError),
        ({"data": (np.zeros((4, 3)),)}, privaudit.PrivauditError),
        ({"data": {"y": [1]}}, privaudit.ConfigError),
        ({"noise": -1.0}, privaudit.ConfigError),
        ({"progress": "yes"}, privaudit.ConfigError),
        ({"config": 5}, privaudit.ConfigError),
        ({"attacks": 5}, privaudit.ConfigError),
        ({"attacks": ["knn", 3]}, privaudit.ConfigError),
        ({"seed": "x"}, privaudit.ConfigError),
    ],
)
def test_errors_raise_the_projects_types(kwargs: dict[str, object], error: type) -> None:
    with pytest.raises(error) as caught:
        privaudit.assess(**{"attacks": False, **kwargs})  # type: ignore[arg-type]
    assert isinstance(caught.value, privaudit.PrivauditError)
    assert caught.value.message
    assert "command line" not in (caught.value.hint or "")  # a caller of the API has none


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"fresh": "no"}, "fresh: expected True or False"),  # "no" is truthy: it dropped the shards
    ({"shards": 5}, "shards: expected a folder path"),
])  # fmt: skip
def test_sweep_refuses_arguments_of_the_wrong_type(tmp_path: Path, kwargs: dict[str, object],
                                                   words: str) -> None:  # fmt: skip
    with pytest.raises(privaudit.ConfigError, match=words):
        privaudit.sweep(splits="layer3", noise=0.1, attacks=False, limit=60,
                        **{"shards": tmp_path / "s", **kwargs})  # type: ignore[arg-type]
    assert not (tmp_path / "s").exists()


def test_numpy_scalars_are_numbers() -> None:
    """A reviewer (2026-12-08): `limit=np.int64(200)`, `seed=np.int64(1)` and
    `noise=np.float32(0.1)` (values taken from the caller's own arrays) were refused as not
    numbers. They are the numbers they hold (a float32 0.1 is 0.1, not 0.10000000149)."""
    from privaudit.config import load_config

    cfg = load_config(None, {"limit": np.int64(200), "seed": np.int64(1),
                             "noise": np.float32(0.1), "noise_sweep": (np.float16(0.5),)},
                      search=False)  # fmt: skip
    assert (cfg.limit, cfg.seed, cfg.noise, cfg.noise_sweep) == (200, 1, 0.1, (0.5,))
    assert type(cfg.limit) is int and type(cfg.noise) is float
    with pytest.raises(privaudit.ConfigError, match="limit: expected int"):
        load_config(None, {"limit": np.bool_(True)}, search=False)


def test_load_report_of_something_else(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("[1, 2]")
    with pytest.raises(privaudit.DataError):
        privaudit.load_report(path)


def test_harden_checks_its_output_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(privaudit.ConfigError, match="output: expected a path, got int"):
        privaudit.harden(output=5, noise=0.1, attacks=False)  # type: ignore[arg-type]
    (tmp_path / "file").write_text("x")
    with pytest.raises(privaudit.ConfigError, match="cannot write to output folder") as caught:
        privaudit.harden(output=tmp_path / "file" / "h.onnx", noise=0.1, attacks=False)
    assert caught.value.hint is not None and "output=" in caught.value.hint
    data = tmp_path / "data.npz"
    np.savez(data, x=np.zeros((4, 1, 28, 28), np.float32), y=np.zeros(4, np.int64))
    with pytest.raises(privaudit.ConfigError, match="would overwrite the input data"):
        privaudit.harden(output=data, data=data, noise=0.1, attacks=False)
    assert data.stat().st_size > 0 and sorted(p.name for p in tmp_path.iterdir()) == [
        "data.npz", "file"]


@pytest.mark.parametrize("path", [123, None, b"out/report.json"])
def test_load_report_refuses_what_is_not_a_path(path: object) -> None:
    """`load_report(123)` raised a bare TypeError, where `assess(123)` names the argument."""
    with pytest.raises(privaudit.ConfigError, match="load_report: expected a path"):
        privaudit.load_report(path)  # type: ignore[arg-type]
