"""Fine-tune a copy of the split model against a defence: task loss on noisy features + terms.

The encoder (and the head, unless frozen) run in the ONNX-to-torch interpreter; their trained
weights go back into a copy of the original ONNX model, which also gets the run's metadata and,
optionally, the noise as graph nodes at the cut (method.md §5). The defence's terms
(`defences`): lambda * the CEM loss, minus mu * an adversary decoder's loss, and learned
per-channel noise stds. Nothing here prints.
"""

from __future__ import annotations

import logging
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
from privaudit.hardening.adversary import Adversary
from privaudit.hardening.allocation import NoiseAllocation
from privaudit.hardening.cem_loss import ClusterTable, cem_loss, fit_clusters
from privaudit.interpreter import OnnxModule, to_torch
from privaudit.model import Split, image_input
from privaudit.noise import add_noise
from privaudit.progress import Progress, ProgressTask
from privaudit.results import EpochStats

__all__ = [
    "FinetuneSettings",
    "Finetuned",
    "StepLosses",
    "TrainState",
    "cem_scale",
    "fine_tune",
    "logits_head",
    "model_inputs",
    "step_losses",
]

log = logging.getLogger(__name__)

_REFERENCE_LR = 1e-3  # official: CEM gradient scaled by min(1, 0.001 / lr)
# NOTE: the allocation's logits move faster than the weights: at the weights' lr (1e-3) the
# per-channel stds stayed within 3% of 1 in 10 epochs on the demo; 3e-2 lets them spread.
_ALLOCATION_LR = 3e-2
_ADVERSARY_STEPS = 1  # decoder updates per decoder turn (every adversary.EVERY encoder steps)


@dataclass(frozen=True)
class FinetuneSettings:
    """One fine-tune run.

    Attributes:
        lam: lambda, weight of the CEM loss (0: none).
        loss: "bound" | "hinge" (ignored when lam == 0; the allocation always uses "bound").
        k: k-means cells per class.
        epochs: passes over the training data; CEM is off in epoch 1 (no cells yet).
        lr: Adam learning rate, cosine-decayed to 0 over all steps.
        batch_size: samples per step.
        freeze_head: train the encoder only.
        noise_sigma: std of the feature noise during training (the deployment's), > 0; with
            per-channel scales a_j, the RMS of the stds sigma * a_j.
        seed: seed of the initial shuffles, noise draws, k-means and adversary.
        mu: weight of the adversary decoder's reconstruction loss (0: no adversary).
        allocate: learn the per-channel noise scales (starting from `noise_scales`).
        noise_scales: per-channel scales a_j (mean a_j^2 = 1) of the model's noise, kept
            fixed unless `allocate`; None: 1 everywhere.
        adversary_reset: encoder steps between the adversary's re-initialisations.
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
    mu: float = 0.0
    allocate: bool = False
    noise_scales: tuple[float, ...] | None = None
    adversary_reset: int = 200


@dataclass(frozen=True, eq=False)
class Finetuned:
    """The trained parts (torch interpreters of the encoder and head) and their history.

    `noise_scales` are the per-channel scales a_j of the noise the model was trained with
    (learned with `allocate`), or None for one sigma everywhere.
    """

    encoder: OnnxModule
    head: OnnxModule
    history: tuple[EpochStats, ...]
    epoch_seconds: tuple[float, ...]
    noise_scales: tuple[float, ...] | None = None

    def write_back(self, model: onnx.ModelProto) -> onnx.ModelProto:
        """A copy of the full `model` with the trained encoder and head initializers.

        The encoder and head were cut from `model`, so they share its initializer names;
        graph, names, opset and metadata stay unchanged.
        """
        return self.head.write_back(self.encoder.write_back(model))


@dataclass(frozen=True)
class StepLosses:
    """One batch's losses: task, CEM (0 when off), adversary (0 without one)."""

    task: Tensor
    cem: Tensor
    adversary: Tensor
    logits: Tensor
    features: Tensor  # detached, whitened by the noise scales when there are any


def _first(out: Tensor | tuple[Tensor, ...]) -> Tensor:
    return out[0] if isinstance(out, tuple) else out


def cem_scale(lr: float) -> float:
    """Official scaling of the CEM gradient at the current learning rate: min(1, 0.001/lr)."""
    return min(1.0, _REFERENCE_LR / lr) if lr > 0 else 1.0


@dataclass
class TrainState:
    """Mutable state of one fine-tune: modules, optimizer, generators, cells, defence parts."""

    encoder: OnnxModule
    head: OnnxModule
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    gen: torch.Generator
    noise_gen: torch.Generator
    table: ClusterTable | None = None
    allocation: NoiseAllocation | None = None
    scales: Tensor | None = None  # fixed per-channel scales (no allocation learned)
    adversary: Adversary | None = None

    def noise_scales(self) -> Tensor | None:
        """The per-channel scales of this step's noise (learned or fixed), or None."""
        return self.allocation() if self.allocation is not None else self.scales


def step_losses(
    loop: TrainState, x: Tensor, y: Tensor, classes: Tensor, target: Tensor,
    settings: FinetuneSettings,
) -> StepLosses:
    """Forward one batch: task loss on noisy features, the defence's terms.

    The CEM loss reads the clean features whitened by the noise scales (z_j / a_j at one
    sigma: the bound with per-channel sigma_j); the adversary first takes its own decoder
    steps on the detached noisy features, then its loss reads them with their gradient.

    Args:
        loop: the fine-tune's modules and state.
        x: (B, ...) model inputs.
        y: (B,) int64 class labels as the head's logits index them.
        classes: (B,) class ids 0..C-1 of the cell table.
        target: (B, ...) the inputs in data units, the adversary's reconstruction target.
        settings: lambda, mu, loss form, noise std.
    """
    z = _first(loop.encoder(x))
    scales = loop.noise_scales()
    noisy = add_noise(z, settings.noise_sigma, loop.noise_gen, scales)
    logits = _first(loop.head(noisy))
    task = F.cross_entropy(logits, y)
    white = z if scales is None else z / scales
    zero = task.new_zeros(())
    cem = zero
    if loop.table is not None and settings.lam > 0:
        form = "bound" if settings.allocate else settings.loss
        cem = cem_loss(form, white, classes, loop.table, settings.noise_sigma)
    adversary = zero
    if loop.adversary is not None:
        loop.adversary.fit(noisy, target)
        adversary = loop.adversary.loss(noisy, target)
    return StepLosses(task, cem, adversary, logits, white.detach())


def _check_labels(loop: TrainState, x: Tensor, y: np.ndarray) -> None:
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


_NORMALIZERS = frozenset({"Softmax", "LogSoftmax"})


def logits_head(head: onnx.ModelProto) -> onnx.ModelProto:
    """The head to train: its first output read before a final Softmax or LogSoftmax.

    The task loss is the cross-entropy of logits: on a head that ends in a Softmax over the
    classes it would read probabilities as logits and barely train; cross-entropy of the
    Softmax's (or LogSoftmax's) input is the right loss for both. Only the graph output moves:
    the initializers, hence `Finetuned.write_back` into the full model, are unchanged.

    Args:
        head: the head of the split (cut tensor -> outputs).

    Returns:
        `head` itself when its first output is not such a normalization, else a copy.
    """
    if not head.graph.output:
        return head
    output = head.graph.output[0]
    node = next((n for n in head.graph.node if output.name in n.output), None)
    if node is None or node.op_type not in _NORMALIZERS or node.domain not in ("", "ai.onnx"):
        return head
    opset = next((o.version for o in head.opset_import if o.domain in ("", "ai.onnx")), 13)
    axis = next((a.i for a in node.attribute if a.name == "axis"), -1 if opset >= 13 else 1)
    dims = output.type.tensor_type.shape.dim
    rank = len(dims) if output.type.tensor_type.HasField("shape") else 2
    if rank != 2 or axis not in (1, -1):
        return head
    out = onnx.ModelProto()
    out.CopyFrom(head)
    logits = onnx.helper.make_empty_tensor_value_info(node.input[0])
    out.graph.output[0].CopyFrom(logits)
    log.info("harden: the task loss reads %r, the input of the final %s", node.input[0],
             node.op_type)
    return out


def _setup(
    split: Split, settings: FinetuneSettings, device: torch.device, steps: int,
    shapes: tuple[tuple[int, ...], tuple[int, ...]],
) -> TrainState:
    if split.head is None:
        raise ModelError("harden needs the head as well as the encoder",
                         hint="pass the full model with --split")
    torch.manual_seed(settings.seed)
    encoder = to_torch(split.encoder, trainable=True).to(device).train()
    if not any(True for _ in encoder.parameters()):
        raise ModelError("the encoder has no weights to fine-tune: none of its constants is read "
                         "as a weight (a Conv, Gemm or MatMul weight, a bias, a norm's scale)",
                         hint="harden trains the encoder's weights; export it with its weights "
                              "as initializers, or cut later (`privaudit layers MODEL`)")
    # NOTE: the head's input is the cut's activation: an Add or Mul on it is a weight
    head = to_torch(logits_head(split.head), trainable=not settings.freeze_head, data_input=False)
    head = head.to(device).train()
    params = [p for p in (*encoder.parameters(), *head.parameters()) if p.requires_grad]
    opt = torch.optim.Adam(params, lr=settings.lr)
    feature_shape, input_shape = shapes
    initial = None if settings.noise_scales is None else np.asarray(settings.noise_scales)
    allocation = scales = None
    if settings.allocate:
        allocation = NoiseAllocation(feature_shape[0], len(feature_shape), initial).to(device)
        opt.add_param_group({"params": list(allocation.parameters()), "lr": _ALLOCATION_LR})
    elif initial is not None:
        shape = (1, len(initial), *(1,) * (len(feature_shape) - 1))
        scales = torch.as_tensor(initial, dtype=torch.float32, device=device).view(shape)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
    gen = torch.Generator().manual_seed(settings.seed)
    noise_gen = torch.Generator(device=device).manual_seed(settings.seed + 1)
    adversary = None
    if settings.mu > 0:
        adversary = Adversary(feature_shape, input_shape, steps=_ADVERSARY_STEPS,
                              reset=settings.adversary_reset, seed=settings.seed + 2,
                              device=device)
    return TrainState(encoder, head, opt, sched, gen, noise_gen, allocation=allocation,
                 scales=scales, adversary=adversary)


def _epoch(
    loop: TrainState, data: tuple[Tensor, Tensor, Tensor, Tensor], settings: FinetuneSettings,
    epoch: int,
) -> EpochStats:
    """One pass; collects the detached features and refits the cells when lambda > 0.

    `data` is (model inputs, labels, class ids, inputs in data units).
    """
    x, y, classes, target = data
    perm = torch.randperm(len(x), generator=loop.gen).to(x.device)
    totals = torch.zeros(4, dtype=torch.float64, device=x.device)
    feats: list[Tensor] = []
    for idx in perm.split(settings.batch_size):
        out = step_losses(loop, x[idx], y[idx], classes[idx], target[idx], settings)
        scale = cem_scale(loop.opt.param_groups[0]["lr"])
        loop.opt.zero_grad(set_to_none=True)
        (out.task + settings.lam * scale * out.cem - settings.mu * out.adversary).backward()
        loop.opt.step()
        loop.sched.step()
        if loop.adversary is not None:
            loop.adversary.encoder_stepped()
        correct = (out.logits.detach().argmax(1) == y[idx]).sum()
        totals += torch.stack([out.task.detach() * len(idx), out.cem.detach() * len(idx),
                               out.adversary.detach() * len(idx), correct])
        if settings.lam > 0:
            feats.append(out.features.reshape(len(idx), -1))
    task_mean, cem_mean, adversary_mean, acc = (totals / len(x)).tolist()
    if not math.isfinite(task_mean + cem_mean + adversary_mean):
        raise DataError("fine-tuning diverged (loss is not finite)",
                        hint="lower --lr, --lambda or --mu")
    if feats:
        z_all = torch.cat(feats).cpu().numpy()
        loop.table = fit_clusters(
            z_all, classes[perm].cpu().numpy(), int(classes.max()) + 1, settings.k,
            seed=settings.seed + epoch, start=loop.table,
        ).to(x.device)
    return EpochStats(epoch=epoch, task_loss=task_mean, cem_loss=cem_mean, accuracy=acc,
                      adversary_loss=adversary_mean if loop.adversary is not None else None,
                      noise_scales=None if loop.allocation is None else loop.allocation.values())


def fine_tune(
    split: Split, feed: Feed, x: np.ndarray, y: np.ndarray,
    settings: FinetuneSettings, *, device: torch.device, progress: Progress, label: str,
) -> Finetuned:
    """Fine-tune encoder (and head) with L_task(head(f(x) + eps), y) + the defence's terms.

    Adam with cosine decay over all steps. The CEM loss (lambda) is off in epoch 1, then
    the cells fitted on epoch e's own (detached) features drive epoch e + 1; its gradient is
    scaled by min(1, 0.001 / lr) as in the official code, and reaches the encoder (and the
    noise allocation) only. With mu > 0 an adversary decoder trains alongside and the
    encoder subtracts mu times its loss; with `allocate` the per-channel noise scales are
    learned too (`defences`).

    Args:
        split: the model's split (encoder and head ModelProtos; left unchanged), with the
            cut unwhitened (the model's own features).
        feed: measured samples -> the model's input (units, shape, normalization).
        x: (N, ...) training samples as measured: pixels in [0, 1], or standardised
            tabular vectors and signals.
        y: (N,) integer class labels (the head's logit indices).
        settings: the run's settings.
        device: where to train.
        progress: progress sink; one task unit per epoch.
        label: task description, e.g. "cem lambda 4 seed 0".

    Returns:
        The trained interpreters, the per-epoch history and the noise scales.

    Raises:
        DataError: labels missing the head's classes, or the loss diverged.
        ModelError, UnsupportedOpError: the graph cannot be trained.
    """
    n_batches = math.ceil(len(x) / settings.batch_size)
    feature_shape = tuple(int(d) for d in _feature_shape(split, feed, x))
    loop = _setup(split, settings, device, settings.epochs * n_batches,
                  (feature_shape, tuple(int(d) for d in x.shape[1:])))
    xs = model_inputs(feed, x, split.encoder).to(device)
    _check_labels(loop, xs, np.asarray(y))
    ys = torch.from_numpy(np.asarray(y, np.int64)).to(device)
    classes = torch.from_numpy(np.unique(y, return_inverse=True)[1].reshape(-1)).to(device)
    target = torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(device)
    history, seconds = [], []
    with progress.task(f"fine-tune {label}", total=settings.epochs) as task:
        for epoch in range(1, settings.epochs + 1):
            start = time.perf_counter()
            stats = _epoch(loop, (xs, ys, classes, target), settings, epoch)
            seconds.append(time.perf_counter() - start)
            history.append(stats)
            _report(task, stats)
    loop.encoder.eval()
    loop.head.eval()
    scales = (loop.allocation.values() if loop.allocation is not None
              else settings.noise_scales)
    return Finetuned(loop.encoder, loop.head, tuple(history), tuple(seconds), scales)


def _feature_shape(split: Split, feed: Feed, x: np.ndarray) -> tuple[int, ...]:
    """The cut's per-sample shape: from the split, or one forward pass when dynamic."""
    if split.feature_shape and all(d is not None for d in split.feature_shape):
        return tuple(int(d) for d in split.feature_shape if d is not None)
    with torch.no_grad():
        z = _first(to_torch(split.encoder)(model_inputs(feed, x[:1], split.encoder)))
    return tuple(z.shape[1:])


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
    adversary = "" if stats.adversary_loss is None else f"  adv {stats.adversary_loss:.4f}"
    info = (f"task {stats.task_loss:.3f}  cem {stats.cem_loss:.3f}{adversary}  "
            f"acc {stats.accuracy:.3f}")
    task.set_info(info)
    log.debug("fine-tune epoch %d: %s", stats.epoch, info)
