"""Utility of the noisy deployment: the head's clean and noisy accuracy, and the noise sweep."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from privaudit.audit.features import Features, audit_labels, check_finite
from privaudit.audit.prepare import Prepared
from privaudit.config import Config
from privaudit.errors import DataError
from privaudit.model import make_session, run_batched
from privaudit.noise import add_noise
from privaudit.results import BoundResult, SweepPoint, Utility

__all__ = [
    "accuracy",
    "check_label_range",
    "head_classes",
    "head_session",
    "noisy_accuracy",
    "sweep",
    "utility",
]

NOISE_DRAWS = 3  # noisy accuracy is averaged over this many noise draws


def accuracy(
    head: object, feats: np.ndarray, y: np.ndarray, shape: tuple[int, ...],
    what: str = "the head's output on clean features",
) -> float:
    """The head's accuracy on (N, m) features of per-sample `shape` against labels `y`.

    Raises:
        ModelError: the head's output holds NaN or infinite values (`what` names it).
    """
    z = feats.reshape(len(feats), *shape).astype(np.float32)
    logits = run_batched(head, z, 256)
    check_finite(logits, str(head.get_outputs()[0].name), what)  # type: ignore[attr-defined]
    return float(np.mean(np.argmax(logits.reshape(len(logits), -1), axis=1) == y))


def noisy_accuracy(
    head: object,
    feats: np.ndarray,
    y: np.ndarray,
    noise_sigma: float,
    seed: int,
    shape: tuple[int, ...],
    draws: int = NOISE_DRAWS,
) -> float:
    """The head's accuracy on noisy features, averaged over `draws` seeded noise draws."""
    if noise_sigma == 0:
        return accuracy(head, feats, y, shape)
    rng = np.random.default_rng(seed)
    what = f"the head's output on noisy features (sigma {noise_sigma:g})"
    accs = [accuracy(head, add_noise(feats, noise_sigma, rng), y, shape, what)
            for _ in range(draws)]
    return float(np.mean(accs))


def head_session(prep: Prepared) -> object | None:
    """One onnxruntime session of the head (utility and sweep share it), or None."""
    return make_session(prep.split.head) if prep.split.head is not None else None


def utility(
    cfg: Config, prep: Prepared, feats: Features, head: object | None
) -> tuple[Utility, tuple[str, ...]]:
    """Clean accuracy and accuracy at the deployment's noise (labels and a head needed).

    Returns:
        The accuracies (None when they cannot be measured) and warnings about them.

    Raises:
        DataError: labels outside the head's classes 0..C-1.
        ModelError: NaN or infinite head outputs.
    """
    y = audit_labels(prep.audit)
    if y is None or head is None:
        return Utility(None, None), ()
    classes = head_classes(head, feats)
    if classes is None:
        return Utility(None, None), (_NOT_LOGITS,)
    check_label_range(y, classes, prep.dataset.source)
    clean = accuracy(head, feats.all, y, feats.shape)
    noisy = noisy_accuracy(head, feats.all, y, prep.noise_sigma, cfg.seed, feats.shape)
    return Utility(clean_accuracy=clean, noisy_accuracy=noisy), _label_warnings(y, classes)


_NOT_LOGITS = ("accuracy not measured: the head's first output is not (N, classes) logits, so "
               "its argmax cannot be compared with the labels")


def head_classes(head: object, feats: Features) -> int | None:
    """How many classes the head scores: C of its first output (N, C); None if not 2-D."""
    z = feats.all[:1].reshape(1, *feats.shape).astype(np.float32)
    logits = run_batched(head, z, 1)
    return int(logits.shape[1]) if logits.ndim == 2 else None


def check_label_range(y: np.ndarray, classes: int, source: str) -> None:
    """The one label check of every command: labels must be class indices 0..classes-1.

    Raises:
        DataError: a label outside 0..classes-1 (the head cannot score it, so accuracy and
            fine-tuning would be meaningless).
    """
    outside = (y < 0) | (y >= classes)
    if outside.any():
        raise DataError(
            f"{source}: labels {int(y.min())}..{int(y.max())} do not fit the head's {classes} "
            f"outputs (class indices 0..{classes - 1}); {int(outside.sum())} of {len(y)} "
            "samples have a label outside",
            hint="give the class indices the head was trained with (y in the .npz; for image "
            "folders the sorted subfolder names), or leave the labels out",
        )


def _label_warnings(y: np.ndarray, classes: int) -> tuple[str, ...]:
    """A warning when the labels use fewer classes than the head scores."""
    present = len(np.unique(y))
    if present >= classes:
        return ()
    return (f"the labels hold {present} classes but the head scores {classes}: unless the data "
            "covers only some classes, the labels may not be the head's class indices "
            "(check their order), and the accuracy would be wrong",)


def sweep(
    cfg: Config,
    prep: Prepared,
    feats: Features,
    bounds: Sequence[BoundResult],
    head: object | None,
) -> tuple[SweepPoint, ...]:
    """The sweep's points from its bounds (one per `cfg.noise_sweep` sigma, in order)."""
    y = audit_labels(prep.audit)
    points = []
    for noise_sigma, b in zip(cfg.noise_sweep, bounds, strict=True):
        acc = None
        if head is not None and y is not None:
            acc = noisy_accuracy(head, feats.all, y, noise_sigma, cfg.seed, feats.shape)
        points.append(
            SweepPoint(
                noise_sigma=noise_sigma,
                leakage_bits_per_dim=b.leakage_bits_per_dim,
                cond_entropy_per_dim=b.cond_entropy_per_dim,
                mse_floor=b.mse_floor_estimate,
                paper_floor=b.paper_floor,
                floor_ratio=b.floor_ratio,
                accuracy=acc,
            )
        )
    return tuple(points)
