"""Utility of the noisy deployment: the head's clean and noisy accuracy, and the noise sweep."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from privaudit.audit.features import Features, audit_labels
from privaudit.audit.prepare import Prepared
from privaudit.config import Config
from privaudit.model import make_session, run_batched
from privaudit.noise import add_noise
from privaudit.results import BoundResult, SweepPoint, Utility

__all__ = ["accuracy", "head_session", "noisy_accuracy", "sweep", "utility"]

NOISE_DRAWS = 3  # noisy accuracy is averaged over this many noise draws


def accuracy(head: object, feats: np.ndarray, y: np.ndarray, shape: tuple[int, ...]) -> float:
    """The head's accuracy on (N, m) features of per-sample `shape` against labels `y`."""
    z = feats.reshape(len(feats), *shape).astype(np.float32)
    logits = run_batched(head, z, 256)
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
    accs = [accuracy(head, add_noise(feats, noise_sigma, rng), y, shape) for _ in range(draws)]
    return float(np.mean(accs))


def head_session(prep: Prepared) -> object | None:
    """One onnxruntime session of the head (utility and sweep share it), or None."""
    return make_session(prep.split.head) if prep.split.head is not None else None


def utility(cfg: Config, prep: Prepared, feats: Features, head: object | None) -> Utility:
    """Clean accuracy and accuracy at the deployment's noise (labels and a head needed)."""
    y = audit_labels(prep.audit)
    if y is None or head is None:
        return Utility(None, None)
    clean = accuracy(head, feats.all, y, feats.shape)
    noisy = noisy_accuracy(head, feats.all, y, prep.noise_sigma, cfg.seed, feats.shape)
    return Utility(clean_accuracy=clean, noisy_accuracy=noisy)


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
