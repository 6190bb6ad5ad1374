"""The CLI as a table: every exit code, stdout vs stderr, files written, fast --help."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from privaudit.cli.app import app

runner = CliRunner()
FAST = ["--no-attacks", "--limit", "300", "-q"]


def _run(args: list[str]) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def data_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 labelled 28x28 images for the conftest TinyCNN."""
    g = np.random.default_rng(0)
    x = (g.random((200, 28, 28)) * 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("data") / "d.npz"
    np.savez(path, x=x, y=np.repeat(np.arange(10), 20))
    return path


def test_version_and_help_do_not_import_torch() -> None:
    code = "import sys; from privaudit.cli.app import app; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    out = subprocess.run(
        [sys.executable, "-m", "privaudit", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("privaudit ")


def test_exit_0_demo_bound_only(tmp_path: Path) -> None:
    code, _, err = _run(["assess", *FAST, "-o", tmp_path, "-f", "json,markdown"])
    assert code == 0, err
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["schema_version"] == 4
    assert report["model"]["split"] == "layer3"
    assert report["bound"]["noise_sigma"] == 0.1
    assert report["bound"]["floor_clustering"] == "class" and report["bound"]["mse_floor"] > 0
    assert {r["name"] for r in report["references"]} == {"prior", "label", "nearest"}
    assert report["verdict"]["next_step"] and report["dfil"]["status"] == "ok"
    assert (tmp_path / "report.md").exists()
    assert "gate: no thresholds configured" in err
    assert err.index("verdict:") < err.index("Reconstruction bound")  # the verdict opens


def test_exit_1_gate_failed_report_still_written(tmp_path: Path) -> None:
    code, _, err = _run(["assess", *FAST, "-o", tmp_path, "--fail-under-floor", "0.5"])
    assert code == 1
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["gate"]["violations"][0]["rule"] == "min_mse_floor"
    assert "gate failed" in err


def test_check_reapplies_gate_without_recomputing(tmp_path: Path) -> None:
    assert _run(["assess", *FAST, "-o", tmp_path])[0] == 0
    saved = tmp_path / "report.json"
    assert _run(["check", saved])[0] == 0
    assert _run(["check", saved, "--fail-over-leakage", "0"])[0] == 1
    assert _run(["check", saved, "--fail-over-leakage", "10"])[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["assess", "--split", "layer9"], "not found"),
        (["assess", "--noise", "-1"], "sigma >= 0"),
        (["assess", "-f", "pdf"], "unknown report format 'pdf'"),
        (["assess", "--attacks", "decodr"], "unknown attack 'decodr'"),
        (["assess", "--budget", "huge"], "attacks.budget"),
        (["assess", "nonexistent.onnx", "--split", "x", "--data", "d.npz"], "not found"),
        (["assess", "--input-shape", "1,a,28"], "input_shape"),
        (["layers", "-f", "xml"], "unknown --format"),
        (["check", "missing.json"], "cannot read report"),
    ],
)
def test_exit_2_user_errors(tmp_path: Path, args: list[str], message: str) -> None:
    code, _, err = _run([*args, "-o", tmp_path] if args[0] == "assess" else args)
    assert code == 2, err
    assert message in err
    assert "Traceback" not in err
    assert "hint" in err or "error" in err


def test_exit_2_unknown_config_key(tmp_path: Path) -> None:
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text("[tool.privaudit.gate]\nmin_mse_flor = 0.1\n")
    code, _, err = _run(["assess", *FAST, "--config", cfg, "-o", tmp_path])
    assert code == 2
    assert "gate.min_mse_flor" in err and "did you mean" in err


def test_exit_2_data_not_matching_model(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((10, 3, 32, 32), np.uint8))
    code, _, err = _run(["assess", *FAST, "--data", bad, "-o", tmp_path])
    assert code == 2
    assert "(N, 1, 28, 28)" in err


def test_exit_3_internal_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from privaudit import audit as audit_pkg

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(audit_pkg, "run_assess", boom)
    code, _, err = _run(["assess", *FAST, "-o", tmp_path])
    assert code == 3
    assert "internal error" in err and "Traceback" not in err
    assert not (tmp_path / "report.json").exists()


def test_own_model_with_split_and_data(
    tiny_cnn_legacy: Path, data_npz: Path, tmp_path: Path
) -> None:
    code, _, err = _run(
        [
            "assess",
            tiny_cnn_legacy,
            "--split",
            "layer3",
            "--data",
            data_npz,
            "--noise",
            "0.05",
            *FAST,
            "-o",
            tmp_path,
        ]
    )
    assert code == 0, err
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["model"]["cut_tensor"].endswith("Sigmoid_output_0")
    assert report["model"]["split_max_diff"] <= 1e-5
    assert report["model"]["noise_source"] == "flag"
    assert report["data"]["n_total"] == 200


def test_own_model_needs_data_and_noise(
    tiny_cnn_legacy: Path, data_npz: Path, tmp_path: Path
) -> None:
    base = ["assess", tiny_cnn_legacy, "--split", "layer3", "-o", tmp_path]
    code, _, err = _run(base)
    assert code == 2 and "no audit data" in err
    code, _, err = _run([*base, "--data", data_npz])
    assert code == 2 and "no noise sigma" in err


def test_layers_json_and_table(tiny_cnn_dynamo: Path) -> None:
    code, out, _ = _run(["layers", tiny_cnn_dynamo, "-f", "json"])
    assert code == 0
    rows = json.loads(out)
    assert any(r["module"] == "layer3" and r["clean"] for r in rows)
    code, out, _ = _run(["layers", tiny_cnn_dynamo])
    assert code == 0 and "layer3" in out


def test_report_and_compare(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert _run(["assess", *FAST, "-o", a])[0] == 0
    assert _run(["assess", *FAST, "--noise", "0.2", "-o", b])[0] == 0
    code, _, err = _run(["report", a / "report.json", "-f", "html,markdown,csv"])
    assert code == 0, err
    assert (a / "report.html").read_text().startswith("<!DOCTYPE html>")
    code, out, _ = _run(["compare", a / "report.json", b / "report.json"])
    assert code == 0 and "0.2" in out


def test_output_dir_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = _run(["assess", *FAST, "-o", blocker / "sub"])
    assert code == 2 and "cannot write to output folder" in err


def test_black_box_parts_work_when_the_encoder_cannot_be_converted(
    onnx_export: Callable[..., Path], data_npz: Path, tmp_path: Path
) -> None:
    """An op the torch interpreter lacks (Elu): white-box skipped with the reason, rest runs."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ELU(), nn.Flatten(), nn.Linear(4 * 14 * 14, 10)
    )
    path = onnx_export(model, tmp_path / "elu.onnx")
    code, _, err = _run([
        "assess", path, "--split", "2", "--data", data_npz, "--noise", "0.1", "--limit", "100",
        "--attacks", "knn,optimization", "-q", "-o", tmp_path / "out",
    ])
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert "Elu" in report["model"]["torch_conversion"]
    knn, opt = report["attacks"]
    assert knn["status"] == "ok" and report["bound"]["leakage_nats"] > 0
    assert opt["status"] == "skipped" and "Elu" in opt["reason"]


@pytest.mark.gpu
def test_assess_demo_on_cuda(tmp_path: Path) -> None:
    code, _, err = _run(["assess", "--budget", "smoke", "--device", "cuda", "-q", "-o", tmp_path])
    assert code == 0, err
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["provenance"]["device"].startswith("cuda")
    rows = {row["attack"]: row for row in report["attacks"]}
    assert set(rows) == {"knn", "decoder", "optimization", "gan"}
    for row in rows.values():
        assert row["status"] == "ok", row
        assert np.isfinite(row["mse"]) and row["mse"] >= report["bound"]["mse_floor"]


def test_attacks_table_shows_each_budgets_parameters() -> None:
    """It showed the standard budget's alone, where the README promises them per budget."""
    from privaudit.attacks.decoder import DecoderParams
    from privaudit.config import Budget

    result = runner.invoke(app, ["attacks"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    epochs = "/".join(str(DecoderParams.for_budget(b).epochs) for b in Budget)
    assert f"epochs={epochs}" in result.stdout and "smoke / standard / thorough" in result.stdout
