"""CEM fine-tune of a copy of the split model: task loss on noisy features + lambda * CEM loss.

The encoder (and the head, unless frozen) run in the ONNX-to-torch interpreter; their trained
weights go back into a copy of the original ONNX model, which also gets the run's metadata and,
optionally, the noise as graph nodes at the cut (method.md §5). Nothing here prints.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import Tensor

from privaudit.audit import check_label_range
from privaudit.data import Feed
from privaudit.errors import DataError, ModelError
from privaudit.hardening.cem_loss import ClusterTable, cem_loss, fit_clusters
from privaudit.interpreter import OnnxModule, to_torch
from privaudit.model import Split, image_input
from privaudit.noise import add_noise
from privaudit.progress import Progress, ProgressTask
from privaudit.results import EpochStats

__all__ = [
    "FinetuneSettings",
    "Finetuned",
    "cem_scale",
    "fine_tune",
    "model_inputs",
    "step_losses",
]

_REFERENCE_LR = 1e-3  # official: CEM gradient scaled by min(1, 0.001 / lr)


@dataclass(frozen=True)
class FinetuneSettings:
    """One fine-tune run.

    Attributes:
        lam: lambda, weight of the CEM loss (0: noise-only fine-tune).
        loss: "bound" | "hinge" (ignored when lam == 0).
        k: k-means cells per class.
        epochs: passes over the training data; CEM is off in epoch 1 (no cells yet).
        lr: Adam learning rate, cosine-decayed to 0 over all steps.
        batch_size: samples per step.
        freeze_head: train the encoder only.
        noise_sigma: std of the feature noise during training (the deployment's), > 0.
        seed: seed of the initial shuffles, noise draws and k-means.
    """

    lam: float
    loss: str
    k: int
    epochs: int
    lr: float
    batch_size: int
    freeze_head: bool
    noise_sigma: float
    seed: int


@dataclass(frozen=True, eq=False)
class Finetuned:
    """The trained parts (torch interpreters of the encoder and head) and their history."""

    encoder: OnnxModule
    head: OnnxModule
    history: tuple[EpochStats, ...]
    epoch_seconds: tuple[float, ...]

    def write_back(self, model: onnx.ModelProto) -> onnx.ModelProto:
        """A copy of the full `model` with the trained encoder and head initializers.

        The encoder and head were cut from `model`, so they share its initializer names;
        graph, names, opset and metadata stay unchanged.
        """
        return self.head.write_back(self.encoder.write_back(model))


def _first(out: Tensor | tuple[Tensor, ...]) -> Tensor:
    return out[0] if isinstance(out, tuple) else out


def cem_scale(lr: float) -> float:
    """Official scaling of the CEM gradient at the current learning rate: min(1, 0.001/lr)."""
    return min(1.0, _REFERENCE_LR / lr) if lr > 0 else 1.0


def step_losses(
    encoder: OnnxModule, head: OnnxModule, x: Tensor, y: Tensor, classes: Tensor,
    table: ClusterTable | None, settings: FinetuneSettings, noise_gen: torch.Generator,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Forward one batch: task loss on noisy features, CEM loss on the clean ones.

    Args:
        encoder: trainable encoder interpreter.
        head: head interpreter.
        x: (B, C, H, W) normalized model inputs.
        y: (B,) int64 class labels as the head's logits index them.
        classes: (B,) class ids 0..C-1 of the cell table.
        table: the previous epoch's cells, or None (CEM off).
        settings: lambda, loss form, noise std.
        noise_gen: generator of the standard normal noise draws (on the features' device).

    Returns:
        (task loss, CEM loss (0 when off), logits, detached features).
    """
    z = _first(encoder(x))
    logits = _first(head(add_noise(z, settings.noise_sigma, noise_gen)))
    task = F.cross_entropy(logits, y)
    if table is None or settings.lam == 0:
        return task, task.new_zeros(()), logits, z.detach()
    cem = cem_loss(settings.loss, z, classes, table, settings.noise_sigma)
    return task, cem, logits, z.detach()


@dataclass
class _Loop:
    """Mutable state of one fine-tune."""

    encoder: OnnxModule
    head: OnnxModule
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    gen: torch.Generator
    noise_gen: torch.Generator
    table: ClusterTable | None = None


def _check_labels(loop: _Loop, x: Tensor, y: np.ndarray) -> None:
    """The head's first output must be (N, classes) logits that the labels index.

    The range check is the one every command makes (`check_label_range`).
    """
    with torch.no_grad():
        logits = _first(loop.head(_first(loop.encoder(x[:1]))))
    if logits.dim() != 2:
        raise DataError(
            f"the head's output {tuple(logits.shape)} is not (N, classes) logits",
            hint="harden needs a classifier whose first output is (N, classes) logits",
        )
    check_label_range(y, int(logits.shape[1]), "the fine-tuning data")


def _setup(split: Split, settings: FinetuneSettings, device: torch.device, steps: int) -> _Loop:
    if split.head is None:
        raise ModelError("harden needs the head as well as the encoder",
                         hint="pass the full model with --split")
    torch.manual_seed(settings.seed)
    encoder = to_torch(split.encoder, trainable=True).to(device).train()
    head = to_torch(split.head, trainable=not settings.freeze_head).to(device).train()
    params = [p for p in (*encoder.parameters(), *head.parameters()) if p.requires_grad]
    opt = torch.optim.Adam(params, lr=settings.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
    gen = torch.Generator().manual_seed(settings.seed)
    noise_gen = torch.Generator(device=device).manual_seed(settings.seed + 1)
    return _Loop(encoder, head, opt, sched, gen, noise_gen)


def _epoch(
    loop: _Loop, x: Tensor, y: Tensor, classes: Tensor, settings: FinetuneSettings, epoch: int
) -> EpochStats:
    """One pass; collects the detached features and refits the cells when lambda > 0."""
    perm = torch.randperm(len(x), generator=loop.gen).to(x.device)
    totals = torch.zeros(3, dtype=torch.float64, device=x.device)
    feats: list[Tensor] = []
    for idx in perm.split(settings.batch_size):
        task, cem, logits, z = step_losses(
            loop.encoder, loop.head, x[idx], y[idx], classes[idx], loop.table, settings,
            loop.noise_gen,
        )
        scale = cem_scale(loop.opt.param_groups[0]["lr"])
        loop.opt.zero_grad(set_to_none=True)
        (task + settings.lam * scale * cem).backward()
        loop.opt.step()
        loop.sched.step()
        correct = (logits.detach().argmax(1) == y[idx]).sum()
        totals += torch.stack([task.detach() * len(idx), cem.detach() * len(idx), correct])
        if settings.lam > 0:
            feats.append(z.reshape(len(idx), -1))
    task_mean, cem_mean, acc = (totals / len(x)).tolist()
    if not math.isfinite(task_mean + cem_mean):
        raise DataError("fine-tuning diverged (loss is not finite)", hint="lower --lr or --lambda")
    if feats:
        z_all = torch.cat(feats).cpu().numpy()
        loop.table = fit_clusters(
            z_all, classes[perm].cpu().numpy(), int(classes.max()) + 1, settings.k,
            seed=settings.seed + epoch, start=loop.table,
        ).to(x.device)
    return EpochStats(epoch=epoch, task_loss=task_mean, cem_loss=cem_mean, accuracy=acc)


def fine_tune(
    split: Split, feed: Feed, x: np.ndarray, y: np.ndarray,
    settings: FinetuneSettings, *, device: torch.device, progress: Progress, label: str,
) -> Finetuned:
    """Fine-tune encoder (and head) with L_task(head(f(x) + eps), y) + lambda * L_C.

    Adam with cosine decay over all steps; CEM off in epoch 1, then the cells fitted on
    epoch e's own (detached) features drive epoch e + 1. The CEM gradient is scaled by
    min(1, 0.001 / lr) as in the official code; since L_C depends on the encoder only,
    the scaling and the CEM gradient reach the encoder only.

    Args:
        split: the model's split (encoder and head ModelProtos; left unchanged).
        feed: measured samples -> the model's input (units, shape, normalization).
        x: (N, ...) training samples as measured: pixels in [0, 1], or standardised
            tabular vectors and signals.
        y: (N,) integer class labels (the head's logit indices).
        settings: the run's settings.
        device: where to train.
        progress: progress sink; one task unit per epoch.
        label: task description, e.g. "cem lambda 4 seed 0".

    Returns:
        The trained interpreters and the per-epoch history.

    Raises:
        DataError: labels missing the head's classes, or the loss diverged.
        ModelError, UnsupportedOpError: the graph cannot be trained.
    """
    n_batches = math.ceil(len(x) / settings.batch_size)
    loop = _setup(split, settings, device, settings.epochs * n_batches)
    xs = model_inputs(feed, x, split.encoder).to(device)
    _check_labels(loop, xs, np.asarray(y))
    ys = torch.from_numpy(np.asarray(y, np.int64)).to(device)
    classes = torch.from_numpy(np.unique(y, return_inverse=True)[1].reshape(-1)).to(device)
    history, seconds = [], []
    with progress.task(f"fine-tune {label}", total=settings.epochs) as task:
        for epoch in range(1, settings.epochs + 1):
            start = time.perf_counter()
            stats = _epoch(loop, xs, ys, classes, settings, epoch)
            seconds.append(time.perf_counter() - start)
            history.append(stats)
            _report(task, stats)
    loop.encoder.eval()
    loop.head.eval()
    return Finetuned(loop.encoder, loop.head, tuple(history), tuple(seconds))


def model_inputs(feed: Feed, x: np.ndarray, encoder: onnx.ModelProto) -> Tensor:
    """The encoder's inputs for measured samples `x`: floats, or integer pixels 0..255.

    An integer input gets the whole-number pixels as an integer tensor, so that the
    interpreter computes as onnxruntime does (integer division truncates, for one).
    """
    xs = feed.apply_torch(torch.from_numpy(np.ascontiguousarray(x, np.float32)))
    if not feed.integer:
        return xs
    uint8 = image_input(encoder).elem_type == onnx.TensorProto.UINT8
    return xs.to(torch.uint8 if uint8 else torch.int64)


def _report(task: ProgressTask, stats: EpochStats) -> None:
    task.advance()
    task.set_info(
        f"task {stats.task_loss:.3f}  cem {stats.cem_loss:.3f}  acc {stats.accuracy:.3f}"
    )
