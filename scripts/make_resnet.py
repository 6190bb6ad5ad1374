"""Train a small residual CNN on the shipped MNIST subset and export it to ONNX with its card.

Usage: ``python scripts/make_resnet.py [--out DIR] [--epochs N] [--seed S]`` (defaults:
benchmarks/models, 30, 0).

Writes ``DIR/resnet_mnist.onnx`` (legacy exporter, opset 17, dynamic batch, eval mode, with
``training=TrainingMode.PRESERVE`` and no constant folding so that every BatchNorm stays a
``BatchNormalization`` node using its running statistics) and ``DIR/resnet_mnist_card.json``.
The model takes normalized input ``(x / 255 - MEAN) / STD`` and is cut after ``block2``,
a residual block whose output is a ReLU: 32x7x7 non-negative, sparse, unbounded features.
Training is seeded and deterministic on 2 CPU threads, on the same data and train/test split
as the demo model (``privaudit.demo.demo_split_indices(SPLIT_SEED)``). The recipe is kept in
this file rather than imported from ``make_demo.py`` so that changing one model's recipe
never changes the other.
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
import torch

# NOTE: the same data, normalization, shifts, ONNX scoring and metadata as the demo model's
# script (run from scripts/, which is then on sys.path)
from make_demo import (
    MAX_SHIFT,
    MEAN,
    STD,
    add_metadata,
    load_data,
    normalize,
    ort_predictions,
    random_shift,
)
from torch import nn
from torch.nn import functional as F

from privaudit.demo import demo_data_path, demo_split_indices
from privaudit.model import metadata

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "benchmarks" / "models"
MODEL_FILE = "resnet_mnist.onnx"
CARD_FILE = "resnet_mnist_card.json"

SPLIT_SEED = 0  # seed of the stratified train/test shuffle (the demo model's split)
TORCH_SEED = 0  # default seed of weight init, batch order and shifts
BATCH, LR, WEIGHT_DECAY, OPSET = 64, 2e-3, 1e-4, 17
SPLIT_NAME = "block2"
SPLIT_TENSOR = "/block2/relu_1/Relu_output_0"
FEATURE_SHAPE = [32, 7, 7]

ARCHITECTURE = [
    "stem: Conv2d(1->16, 3x3, stride 2, pad 1, no bias) + BatchNorm2d + ReLU -> 16x14x14",
    "block1: residual block: Conv2d(16->16, 3x3) + BN + ReLU + Conv2d(16->16, 3x3) + BN,"
    " identity skip, Add + ReLU -> 16x14x14",
    "block2: residual block, stride 2: Conv2d(16->32, 3x3, s2) + BN + ReLU"
    " + Conv2d(32->32, 3x3) + BN, skip Conv2d(16->32, 1x1, s2) + BN, Add + ReLU -> 32x7x7"
    " (the cut: 1568 non-negative values)",
    "block3: residual block: Conv2d(32->32, 3x3) + BN + ReLU + Conv2d(32->32, 3x3) + BN,"
    " identity skip, Add + ReLU -> 32x7x7",
    "pool: global average pool -> 32",
    "fc: Linear(32->10) -> logits",
]


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv + BN, a skip (identity or 1x1 conv + BN), Add, ReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.relu_1 = nn.ReLU()  # NOTE: its own module, so the output node is block*/relu_1/Relu
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        y: torch.Tensor = self.relu_1(out + self.skip(x))
        return y


class ResNetMNIST(nn.Module):
    """Stride-2 stem, three basic blocks (the cut is after ``block2``), global pool, ``fc``.

    The stem downsamples at once (as ResNet's does) to keep training cheap on 2 CPU cores.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16)
        )
        self.stem_relu = nn.ReLU()
        self.block1 = BasicBlock(16, 16)
        self.block2 = BasicBlock(16, 32, stride=2)
        self.block3 = BasicBlock(32, 32)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.block2(self.block1(self.stem_relu(self.stem(x))))
        out: torch.Tensor = self.fc(torch.flatten(self.pool(self.block3(z)), 1))
        return out


def train(model: nn.Module, x01: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> None:
    """AdamW with per-step cosine decay, batch 64, random shifts; seeded batch order."""
    gen = torch.Generator().manual_seed(seed)
    steps = epochs * -(-len(y) // BATCH)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(y), generator=gen)
        total = 0.0
        for start in range(0, len(y), BATCH):
            idx = order[start : start + BATCH]
            loss = F.cross_entropy(model(normalize(random_shift(x01[idx], gen))), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1:3d}/{epochs}  loss {total / len(y):.4f}", file=sys.stderr)


def export(model: nn.Module, path: Path) -> None:
    """Legacy export, opset 17, dynamic batch; BatchNorm kept as eval-mode nodes (not folded)."""
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.zeros(1, 1, 28, 28),),
            str(path),
            dynamo=False,
            input_names=["input"],
            output_names=["logits"],
            opset_version=OPSET,
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            # NOTE: PRESERVE exports the module's current (eval) mode but skips the eval
            # peephole pass that folds BatchNorm into the preceding Conv.
            training=torch.onnx.TrainingMode.PRESERVE,
            do_constant_folding=False,
        )


def check_graph(path: Path, n_bn: int) -> dict[str, int]:
    """Check the exported graph: eval-mode BatchNormalization nodes, Add nodes, the cut tensor."""
    m = onnx.load(str(path))
    counts: dict[str, int] = {}
    for node in m.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    bns = [n for n in m.graph.node if n.op_type == "BatchNormalization"]
    if len(bns) != n_bn:
        raise RuntimeError(f"{len(bns)} BatchNormalization nodes in the graph, expected {n_bn}")
    for bn in bns:
        mode = {a.name: onnx.helper.get_attribute_value(a) for a in bn.attribute}
        if mode.get("training_mode", 0) or len([o for o in bn.output if o]) != 1:
            raise RuntimeError(f"BatchNormalization {bn.name} is in training mode")
    if counts.get("Add", 0) != 3:  # one per block
        raise RuntimeError(f"expected 3 residual Add nodes, found {counts.get('Add', 0)}")
    producer = [n for n in m.graph.node if SPLIT_TENSOR in n.output]
    if len(producer) != 1 or producer[0].op_type != "Relu":
        raise RuntimeError(f"the cut tensor {SPLIT_TENSOR} is not the output of a Relu node")
    return dict(sorted(counts.items()))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=30, help="training epochs (default: 30)")
    p.add_argument(
        "--seed",
        type=int,
        default=TORCH_SEED,
        help="torch seed of weight init, batch order and shifts (default: %(default)s)",
    )
    p.add_argument(
        "--min-accuracy",
        type=float,
        default=0.95,
        help="fail if the ONNX test accuracy is below this (default: 0.95; 0 disables)",
    )
    return p.parse_args(argv)


def export_and_verify(
    model: nn.Module, x_test: torch.Tensor, y_test: torch.Tensor, path: Path
) -> dict[str, Any]:
    """Export, check the graph, then score torch and onnxruntime on the test set."""
    model.eval()
    with torch.no_grad():
        torch_pred = model(x_test).argmax(1).numpy()
    export(model, path)
    op_counts = check_graph(path, sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()))
    ort_pred = ort_predictions(path, x_test.numpy())
    y = y_test.numpy()
    acc, torch_acc = float((ort_pred == y).mean()), float((torch_pred == y).mean())
    if acc != torch_acc:
        raise RuntimeError(f"ONNX test accuracy {acc} != torch test accuracy {torch_acc}")
    return {
        "test_accuracy": acc,
        "test_accuracy_torch": torch_acc,
        "ort_torch_prediction_disagreements": int((ort_pred != torch_pred).sum()),
        "onnx_op_counts": op_counts,
    }


def cut_feature_stats(model: ResNetMNIST, x_test: torch.Tensor) -> dict[str, float]:
    """Statistics of the cut features (``block2`` output) on the test images."""
    model.eval()
    with torch.no_grad():
        z = model.block2(model.block1(model.stem_relu(model.stem(x_test)))).flatten(1)
    return {
        "mean": round(float(z.mean()), 4),
        "per_dim_std_mean": round(float(z.std(0).mean()), 4),
        "overall_std": round(float(z.std()), 4),
        "max": round(float(z.max()), 4),
        "zero_fraction": round(float((z == 0).float().mean()), 4),
    }


def main(argv: list[str] | None = None) -> int:
    """Train, export, verify with onnxruntime, write model and card; return the exit code."""
    args = parse_args(argv)
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)

    x01, y = load_data()
    train_idx, test_idx = demo_split_indices(SPLIT_SEED)
    model = ResNetMNIST()
    t0 = time.perf_counter()
    train(model, x01[train_idx], y[train_idx], args.epochs, args.seed)
    train_seconds = time.perf_counter() - t0

    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / MODEL_FILE
    x_test = normalize(x01[test_idx])
    scores = export_and_verify(model, x_test, y[test_idx], onnx_path)
    scores["cut_features_test"] = cut_feature_stats(model, x_test)
    acc = scores["test_accuracy"]
    add_metadata(
        onnx_path,
        {
            metadata.MEAN: str(MEAN),
            metadata.STD: str(STD),
            metadata.SPLIT: SPLIT_NAME,
            metadata.TEST_ACCURACY: repr(acc),
        },
    )
    card = build_card(model, args, len(train_idx), len(test_idx), scores, train_seconds)
    (args.out / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    print(
        f"test accuracy {acc:.4f} (onnxruntime = torch), {train_seconds:.1f} s training; "
        f"wrote {onnx_path} and {args.out / CARD_FILE}",
        file=sys.stderr,
    )
    if acc < args.min_accuracy:
        print(f"error: test accuracy {acc:.4f} < {args.min_accuracy}", file=sys.stderr)
        return 1
    return 0


def build_card(
    model: nn.Module,
    args: argparse.Namespace,
    n_train: int,
    n_test: int,
    scores: dict[str, Any],
    train_seconds: float,
) -> dict[str, Any]:
    """The model card: architecture, recipe, split, measured accuracy and versions."""
    data_path = demo_data_path()
    return {
        "name": "privaudit benchmark residual CNN (MNIST subset)",
        "model_file": MODEL_FILE,
        "data_file": f"privaudit/demo/{data_path.name}",
        "data_sha256": hashlib.sha256(data_path.read_bytes()).hexdigest(),
        "architecture": ARCHITECTURE,
        "n_params": sum(p.numel() for p in model.parameters()),
        "input": {
            "name": "input",
            "shape": ["batch", 1, 28, 28],
            "normalization": "(pixel / 255 - mean) / std",
        },
        "output": {"name": "logits", "shape": ["batch", 10]},
        "mean": MEAN,
        "std": STD,
        "split": SPLIT_NAME,
        "split_tensor": SPLIT_TENSOR,
        "split_feature_shape": FEATURE_SHAPE,
        "train_size": n_train,
        "test_size": n_test,
        "split_seed": SPLIT_SEED,
        "split_function": f"privaudit.demo.demo_split_indices(seed={SPLIT_SEED})",
        "torch_seed": args.seed,
        "epochs": args.epochs,
        "batch_size": BATCH,
        "optimizer": f"AdamW(lr={LR}, weight_decay={WEIGHT_DECAY}), cosine decay to 0 per step",
        "augmentation": f"random shifts of up to +-{MAX_SHIFT} px (zero pad + crop)",
        **scores,
        "train_seconds": round(train_seconds, 2),
        "threads": torch.get_num_threads(),
        "exporter": (
            f"torch.onnx.export(dynamo=False), opset {OPSET}, dynamic batch, eval mode,"
            " training=TrainingMode.PRESERVE, do_constant_folding=False (BatchNorm not folded)"
        ),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": ort.__version__,
            "numpy": np.__version__,
        },
    }


if __name__ == "__main__":
    sys.exit(main())
