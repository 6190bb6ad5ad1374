"""Train the shipped tabular demo, a split MLP on the Wine table, and export it with its card.

Usage: ``python scripts/make_tabular_demo.py [--out DIR] [--epochs N] [--seed S]`` (defaults:
privaudit/demo/tabular, 300, 0).

Writes ``DIR/wine_mlp.onnx`` (legacy exporter, opset 17, dynamic batch) and
``DIR/wine_card.json``. The model takes the 13 Wine columns standardised with the training
rows' mean and standard deviation (recorded in its metadata as ``privaudit.mean`` and
``privaudit.std``, so privaudit reads the table in its own units and standardises it) and is
cut after ``layer2``, a 4-unit tanh bottleneck that receives Gaussian noise of sigma
``NOISE_SIGMA`` during training (recorded as ``privaudit.noise_sigma``: the deployment's noise).
Training is full-batch, seeded and deterministic on 2 CPU threads; the train/test split is
``privaudit.demo.tabular_split_indices(SPLIT_SEED)``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import torch

# NOTE: the demo model's script (run from scripts/, which is then on sys.path)
from make_demo import add_metadata
from torch import nn
from torch.nn import functional as F

from privaudit.demo import (
    TABULAR_CARD_FILE,
    TABULAR_DIR,
    TABULAR_MODEL_FILE,
    tabular_data_path,
    tabular_split_indices,
)
from privaudit.model import metadata

SPLIT_SEED = 0  # seed of the stratified train/test shuffle
TORCH_SEED = 0  # weight init and training noise
LR, WEIGHT_DECAY, OPSET = 1e-2, 1e-2, 17
NOISE_SIGMA = 0.1  # Gaussian noise added at the cut in training; the deployment's sigma
SPLIT_NAME = "layer2"
ARCHITECTURE = [
    "layer1: Linear(13->32) + ReLU",
    "layer2: Linear(32->4) + Tanh (the cut: 4 values in (-1, 1), fewer than the 13 inputs)",
    "head: Linear(4->16) + ReLU + Linear(16->3) -> logits",
]


class WineMLP(nn.Module):
    """A split MLP: ``layer1``, ``layer2`` (the tanh bottleneck, client side), ``head``."""

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Linear(13, 32), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Linear(32, 4), nn.Tanh())
        self.head = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
        self.noise_sigma = 0.0  # set while training: the noise at the cut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.layer2(self.layer1(x))
        if self.training and self.noise_sigma > 0:
            z = z + self.noise_sigma * torch.randn_like(z)
        out: torch.Tensor = self.head(z)
        return out


def load_table() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The 13 feature columns (float64, own units), the labels, and the column names."""
    frame = pd.read_csv(tabular_data_path())
    names = [c for c in frame.columns if c != "label"]
    return frame[names].to_numpy(np.float64), frame["label"].to_numpy(np.int64), names


def train(model: WineMLP, x: torch.Tensor, y: torch.Tensor, epochs: int) -> None:
    """Full-batch Adam with cosine decay, Gaussian noise of NOISE_SIGMA at the cut."""
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    model.train()
    model.noise_sigma = NOISE_SIGMA
    for epoch in range(epochs):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (epoch + 1) % 50 == 0:
            print(f"epoch {epoch + 1:4d}/{epochs}  loss {loss.item():.4f}", file=sys.stderr)
    model.noise_sigma = 0.0
    model.eval()


def export(model: nn.Module, path: Path) -> None:
    """Legacy (TorchScript) export, opset 17, dynamic batch."""
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 13),), str(path), dynamo=False,
                          input_names=["input"], output_names=["logits"], opset_version=OPSET,
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


def scores(model: WineMLP, path: Path, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Test accuracy in torch and onnxruntime (must agree), and with the deployment's noise."""
    xt = torch.from_numpy(x.astype(np.float32))
    with torch.no_grad():
        torch_pred = model(xt).argmax(1).numpy()
        z = model.layer2(model.layer1(xt))
        gen = torch.Generator().manual_seed(0)
        noisy = [(model.head(z + NOISE_SIGMA * torch.randn(z.shape, generator=gen))
                  .argmax(1).numpy() == y).mean() for _ in range(20)]  # fmt: skip
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ort_pred = np.asarray(sess.run(["logits"], {"input": x.astype(np.float32)})[0]).argmax(1)
    acc, torch_acc = float((ort_pred == y).mean()), float((torch_pred == y).mean())
    if acc != torch_acc:
        raise RuntimeError(f"ONNX test accuracy {acc} != torch test accuracy {torch_acc}")
    return {"test_accuracy": acc, "test_accuracy_torch": torch_acc,
            "test_accuracy_noisy": round(float(np.mean(noisy)), 4),
            "ort_torch_prediction_disagreements": int((ort_pred != torch_pred).sum())}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=TABULAR_DIR,
                   help="output folder (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=300, help="training epochs (default: 300)")
    p.add_argument("--seed", type=int, default=TORCH_SEED,
                   help="torch seed of weight init and training noise (default: %(default)s)")
    p.add_argument("--min-accuracy", type=float, default=0.9,
                   help="fail if the ONNX test accuracy is below this (default: 0.9; 0 disables)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Train, export, verify with onnxruntime, write model and card; return the exit code."""
    args = parse_args(argv)
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    raw, y, names = load_table()
    train_idx, test_idx = tabular_split_indices(SPLIT_SEED)
    mean, std = raw[train_idx].mean(axis=0), raw[train_idx].std(axis=0)
    x = (raw - mean) / std
    model = WineMLP()
    t0 = time.perf_counter()
    train(model, torch.from_numpy(x[train_idx].astype(np.float32)),
          torch.from_numpy(y[train_idx]), args.epochs)
    train_seconds = time.perf_counter() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / TABULAR_MODEL_FILE
    export(model, path)
    measured = scores(model, path, x[test_idx], y[test_idx])
    acc = measured["test_accuracy"]
    add_metadata(path, {
        metadata.DEMO: "tabular", metadata.SPLIT: SPLIT_NAME,
        metadata.MEAN: ",".join(f"{v:.10g}" for v in mean),
        metadata.STD: ",".join(f"{v:.10g}" for v in std),
        metadata.NOISE_SIGMA: str(NOISE_SIGMA), metadata.TEST_ACCURACY: repr(acc),
    })  # fmt: skip
    card = build_card(model, args, names, (len(train_idx), len(test_idx)), measured,
                      train_seconds, (mean, std))
    (args.out / TABULAR_CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", "utf-8")
    print(f"test accuracy {acc:.4f} (onnxruntime = torch), with noise "
          f"{measured['test_accuracy_noisy']:.4f}; {train_seconds:.1f} s training; wrote {path}",
          file=sys.stderr)
    if acc < args.min_accuracy:
        print(f"error: test accuracy {acc:.4f} < {args.min_accuracy}", file=sys.stderr)
        return 1
    return 0


def build_card(
    model: nn.Module, args: argparse.Namespace, names: list[str], sizes: tuple[int, int],
    measured: dict[str, Any], train_seconds: float, norm: tuple[np.ndarray, np.ndarray],
) -> dict[str, Any]:
    """The demo card: architecture, recipe, split, measured accuracy and versions."""
    data = tabular_data_path()
    return {
        "name": "privaudit tabular demo: split MLP on the Wine table",
        "model_file": TABULAR_MODEL_FILE,
        "data_file": data.name,
        "data_sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
        "architecture": ARCHITECTURE,
        "n_params": sum(p.numel() for p in model.parameters()),
        "input": {"name": "input", "shape": ["batch", 13], "columns": names,
                  "normalization": "(value - mean) / std per column (train rows)"},
        "output": {"name": "logits", "shape": ["batch", 3]},
        "mean": [round(float(v), 10) for v in norm[0]],
        "std": [round(float(v), 10) for v in norm[1]],
        "split": SPLIT_NAME,
        "split_tensor": "/layer2/layer2.1/Tanh_output_0",
        "split_feature_shape": [4],
        "noise_sigma": NOISE_SIGMA,
        "train_size": sizes[0],
        "test_size": sizes[1],
        "split_seed": SPLIT_SEED,
        "split_function": f"privaudit.demo.tabular_split_indices(seed={SPLIT_SEED})",
        "torch_seed": args.seed,
        "epochs": args.epochs,
        "batch_size": "full batch",
        "optimizer": f"Adam(lr={LR}, weight_decay={WEIGHT_DECAY}), cosine decay to 0",
        "training_noise": f"N(0, {NOISE_SIGMA}^2) added at the cut",
        **measured,
        "train_seconds": round(train_seconds, 2),
        "threads": torch.get_num_threads(),
        "exporter": f"torch.onnx.export(dynamo=False), opset {OPSET}, dynamic batch, eval mode",
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "onnx": onnx.__version__, "onnxruntime": ort.__version__,
                     "numpy": np.__version__, "pandas": pd.__version__},
    }


if __name__ == "__main__":
    sys.exit(main())
