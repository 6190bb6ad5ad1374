"""Write a fixed set of privaudit outputs into a folder: is a change behaviour-neutral?

Usage: ``python scripts/report_snapshot.py OUT_DIR`` before and after a change, then
``python scripts/compare_snapshots.py BEFORE AFTER``. Every command goes through the CLI
(``python -m privaudit``), so the same script works on any version with the same commands.
The commands cover the embedded demo (assess with every attack and format, a noise sweep,
--no-attacks, harden with a baseline and a holdout, assess of the hardened model, report and
compare) and a small CNN exported here by torch (legacy exporter, seeded): layers, assess with
the full covariance, and a pre-split pair.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

from privaudit.demo import demo_data_path


def _export_fixture(folder: Path) -> tuple[Path, Path]:
    """A seeded small CNN (ResNet-style names, sigmoid cut at layer3) and labelled data."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("layer1", nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8),
                                             nn.ReLU()))
    model.add_module("layer2", nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1),
                                             nn.BatchNorm2d(16), nn.ReLU()))
    model.add_module("layer3", nn.Sequential(nn.Conv2d(16, 4, 1), nn.Sigmoid()))
    model.add_module("pool", nn.AdaptiveAvgPool2d(1))
    model.add_module("flat", nn.Flatten())
    model.add_module("fc", nn.Linear(4, 10))
    model.eval()
    path = folder / "fixture.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 1, 28, 28),), str(path), dynamo=False,
                          input_names=["input"], output_names=["logits"], opset_version=17,
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    g = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 30).astype(np.int64)
    base = g.random((10, 1, 28, 28)).astype(np.float32)
    x = np.clip(base[y] + 0.1 * g.standard_normal((300, 1, 28, 28)), 0, 1).astype(np.float32)
    data = folder / "fixture.npz"
    np.savez(data, x=x, y=y)
    return path, data


def _run(out: Path, name: str, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "privaudit", *args], cwd=out,
                          capture_output=True, text=True)
    (out / f"{name}.exit").write_text(f"{proc.returncode}\n")
    (out / f"{name}.stdout").write_text(proc.stdout)
    print(f"{name}: exit {proc.returncode}", flush=True)


def main(out: Path) -> None:
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    model, data = _export_fixture(out)
    all_formats = "json,markdown,csv,html"
    _run(out, "layers_demo", "layers", "--format", "json")
    _run(out, "attacks_list", "attacks", "--format", "json")
    _run(out, "demo", "demo", "-q", "-o", "demo", "-f", all_formats)
    _run(out, "assess_all", "assess", "-q", "--budget", "smoke", "--noise-sweep", "0,0.05,0.2",
         "-o", "assess_all", "-f", all_formats)
    _run(out, "assess_bound", "assess", "-q", "--no-attacks", "--noise", "0", "-o",
         "assess_bound", "-f", all_formats)
    _run(out, "harden", "harden", "-q", "--epochs", "2", "--budget", "smoke", "--limit", "600",
         "--baseline", "--baseline-scales", "2", "--holdout", "0.3", "-o", "hardened.onnx",
         "--output-dir", "harden", "-f", all_formats)
    _run(out, "assess_hardened", "assess", "-q", "hardened.onnx", "--data",
         str(demo_data_path()),
         "--no-attacks", "--limit", "600", "-o", "assess_hardened", "-f", "json,markdown")
    _run(out, "rerender", "report", "demo/report.json", "-f", "markdown,html",
         "--output-dir", "rerender")
    _run(out, "compare", "compare", "demo/report.json", "assess_all/report.json")
    _run(out, "layers_fixture", "layers", str(model), "--format", "json")
    _run(out, "assess_fixture", "assess", "-q", str(model), "--split", "layer3", "--data",
         str(data), "--noise", "0.05", "--budget", "smoke", "--covariance", "full",
         "--attacks", "knn,decoder,optimization", "-o", "assess_fixture", "-f", all_formats)
    _run(out, "check_fixture", "check", "assess_fixture/report.json", "--fail-over-leakage",
         "0.01")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
