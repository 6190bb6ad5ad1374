"""Shared fixtures: tiny torch models exported to ONNX (both exporters), synthetic data, options."""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from privaudit.threads import use_threads


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", default=False, help="rewrite tests/golden files"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


class TinyCNN(nn.Module):
    """ResNet-style names; layer3 ends in a 4-channel sigmoid bottleneck (the natural cut)."""

    def __init__(self, in_ch: int = 1, classes: int = 10) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(in_ch, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.layer2 = nn.Sequential(
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU()
        )
        self.layer3 = nn.Sequential(nn.Conv2d(16, 4, 1), nn.Sigmoid())
        self.head = nn.Sequential(nn.Conv2d(4, 16, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.pool(self.head(x)), 1))


class BasicBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + x)


class TinyResNet(nn.Module):
    """Skip connections inside layer2/layer3: cuts inside a block are crossed by the skip."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(8))
        self.layer2 = nn.Sequential(BasicBlock(8), BasicBlock(8))
        self.fc = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer2(self.layer1(torch.relu(self.conv1(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class TinyMLP(nn.Module):
    """A tabular split model: 12 columns in; layer2 ends in a 4-unit tanh bottleneck (the cut).

    Linear + BatchNorm1d + GELU, Linear + LayerNorm + Tanh, then the head.
    """

    def __init__(self, features: int = 12, classes: int = 3) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Linear(features, 16), nn.BatchNorm1d(16), nn.GELU())
        self.layer2 = nn.Sequential(nn.Linear(16, 4), nn.LayerNorm(4), nn.Tanh())
        self.head = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.layer2(self.layer1(x)))
        return out


class TinyCNN1d(nn.Module):
    """A signal split model: (2, 32) in; layer2 ends in a 4x8 sigmoid bottleneck (the cut).

    Conv1d + BatchNorm1d + GELU, strided Conv1d + a Linear along time (a MatMul) + Sigmoid,
    then Flatten, LayerNorm, Linear.
    """

    def __init__(self, channels: int = 2, classes: int = 3) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv1d(channels, 8, 5, stride=2, padding=2),
                                    nn.BatchNorm1d(8), nn.GELU())
        self.layer2 = nn.Sequential(nn.Conv1d(8, 4, 3, stride=2, padding=1), nn.Linear(8, 8),
                                    nn.Sigmoid())
        self.head = nn.Sequential(nn.Flatten(), nn.LayerNorm(32), nn.Linear(32, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.layer2(self.layer1(x)))
        return out


def _randomize_bn(model: nn.Module, seed: int) -> None:
    """Give BatchNorm layers non-trivial statistics so folding and eval mode matter."""
    g = torch.Generator().manual_seed(seed)
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d | nn.BatchNorm1d):
            n = mod.num_features
            mod.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            mod.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            mod.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


def export_onnx(
    model: nn.Module,
    path: Path,
    input_shape: tuple[int, ...] = (1, 1, 28, 28),
    *,
    dynamo: bool = False,
    dynamic_spatial: bool = False,
) -> Path:
    """Export `model` (eval mode) with a dynamic batch; input 'input', output 'logits'."""
    model.eval()
    x = torch.randn(*input_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            dims = {0: torch.export.Dim("batch")}
            torch.onnx.export(
                model, (x,), str(path), dynamo=True, input_names=["input"],
                output_names=["logits"], dynamic_shapes=(dims,),
            )
        else:
            axes: dict[int, str] = {0: "batch"}
            if dynamic_spatial:
                axes |= {2: "height", 3: "width"}
            torch.onnx.export(
                model, (x,), str(path), dynamo=False, input_names=["input"],
                output_names=["logits"], opset_version=17,
                dynamic_axes={"input": axes, "logits": {0: "batch"}},
            )
    return path


def _make(cls: type[nn.Module], seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = cls()
    _randomize_bn(model, seed)
    return model.eval()


@pytest.fixture()
def one_torch_thread() -> Iterator[None]:
    """Run a test with one thread (torch, BLAS, onnxruntime), restoring the counts afterwards.

    A run inside (`run_assess`, `run_harden`) with no `threads` of its own inherits the one.

    # NOTE: on shared 2-core runners, 2 OpenMP threads stall (up to ~10x slower) whenever
    # another process holds a core; the tests' tiny networks lose little with one thread.
    """
    with use_threads(1):
        yield


@pytest.fixture(scope="session")
def onnx_export() -> Callable[..., Path]:
    """The export helper, for tests that build their own models."""
    return export_onnx


@pytest.fixture(scope="session")
def tiny_cnn() -> nn.Module:
    return _make(TinyCNN, 0)


@pytest.fixture(scope="session")
def tiny_cnn_legacy(tmp_path_factory: pytest.TempPathFactory, tiny_cnn: nn.Module) -> Path:
    """TinyCNN, legacy exporter: module path in node names (/layer3/layer3.1/Sigmoid)."""
    return export_onnx(tiny_cnn, tmp_path_factory.mktemp("models") / "cnn_legacy.onnx")


@pytest.fixture(scope="session")
def tiny_cnn_dynamo(tmp_path_factory: pytest.TempPathFactory, tiny_cnn: nn.Module) -> Path:
    """TinyCNN, dynamo exporter: module path only in pkg.torch.onnx.name_scopes metadata."""
    return export_onnx(tiny_cnn, tmp_path_factory.mktemp("models") / "cnn_dynamo.onnx", dynamo=True)


@pytest.fixture(scope="session")
def tiny_resnet_legacy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = _make(TinyResNet, 1)
    return export_onnx(model, tmp_path_factory.mktemp("models") / "resnet_legacy.onnx")


@pytest.fixture(scope="session")
def tiny_resnet_dynamo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = _make(TinyResNet, 1)
    return export_onnx(model, tmp_path_factory.mktemp("models") / "resnet_dynamo.onnx", dynamo=True)


@pytest.fixture(scope="session")
def tiny_mlp_legacy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TinyMLP (input (N, 12)), legacy exporter."""
    return export_onnx(_make(TinyMLP, 2), tmp_path_factory.mktemp("models") / "mlp_legacy.onnx",
                       (2, 12))


@pytest.fixture(scope="session")
def tiny_mlp_dynamo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TinyMLP (input (N, 12)), dynamo exporter."""
    return export_onnx(_make(TinyMLP, 2), tmp_path_factory.mktemp("models") / "mlp_dynamo.onnx",
                       (2, 12), dynamo=True)


@pytest.fixture(scope="session")
def tiny_cnn1d_legacy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TinyCNN1d (input (N, 2, 32)), legacy exporter."""
    return export_onnx(_make(TinyCNN1d, 3),
                       tmp_path_factory.mktemp("models") / "cnn1d_legacy.onnx", (2, 2, 32))


@pytest.fixture(scope="session")
def tiny_cnn1d_dynamo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TinyCNN1d (input (N, 2, 32)), dynamo exporter."""
    return export_onnx(_make(TinyCNN1d, 3),
                       tmp_path_factory.mktemp("models") / "cnn1d_dynamo.onnx", (2, 2, 32),
                       dynamo=True)


@pytest.fixture(scope="session")
def vectors_like() -> tuple[np.ndarray, np.ndarray]:
    """Synthetic labelled vectors (240, 12) in their own units (means 50, stds 0.1 to 100)."""
    g = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 80).astype(np.int64)
    centres = g.standard_normal((3, 12))
    scale = np.geomspace(0.1, 100, 12)
    x = 50 + scale * (centres[y] + 0.7 * g.standard_normal((240, 12)))
    return x.astype(np.float32), y


@pytest.fixture(scope="session")
def signals_like() -> tuple[np.ndarray, np.ndarray]:
    """Synthetic labelled signals (240, 2, 32) in their own units: a class's frequency + noise."""
    g = np.random.default_rng(1)
    y = np.repeat(np.arange(3), 80).astype(np.int64)
    t = np.linspace(0, 1, 32)
    phase = g.uniform(0, 6.3, (240, 2, 1))
    x = np.sin(2 * np.pi * (y[:, None, None] + 1) * t + phase) * np.array([20.0, 0.5])[:, None]
    x = x + np.array([100.0, -3.0])[:, None] + 0.1 * g.standard_normal((240, 2, 32))
    return x.astype(np.float32), y


@pytest.fixture(scope="session")
def digits_like() -> tuple[np.ndarray, np.ndarray]:
    """Synthetic labelled images (200, 1, 28, 28) in [0, 1] from a fixed generator."""
    g = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 20).astype(np.int64)
    base = g.random((10, 1, 28, 28)).astype(np.float32)
    x = np.clip(base[y] + 0.1 * g.standard_normal((200, 1, 28, 28)), 0, 1).astype(np.float32)
    return x, y


@pytest.fixture(scope="session")
def run_once() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run a command in a folder once per session; the same command again gets that result.

    The README's benchmark commands and tests/test_benchmarks.py share their quick runs.
    """
    done: dict[tuple[tuple[str, ...], str], subprocess.CompletedProcess[str]] = {}

    def run(
        argv: Sequence[str], cwd: Path, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        key = (tuple(argv), str(cwd))
        if key not in done:
            done[key] = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True,
                                       timeout=timeout)
        return done[key]

    return run


@pytest.fixture(scope="session")
def make_demo_args(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Flags that make scripts/make_demo.py quick and keep it out of the checkout.

    tests/audit/test_demo.py and the README's command share the run (see `run_once`).
    """
    out = tmp_path_factory.mktemp("make_demo")
    return ["--out", str(out), "--epochs", "1", "--min-accuracy", "0"]
