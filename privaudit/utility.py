"""Utility of the noisy deployment: the head's clean and noisy accuracy, and the noise sweep."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from privaudit import entropy as entropy_mod
from privaudit import model as model_mod
from privaudit.config import Config
from privaudit.prepare import Prepared
from privaudit.results import BoundResult, SweepPoint, Utility


@dataclass(frozen=True, eq=False)
class Features:
    """Clean features of the audit data, flattened to (N, m): aux rows first, then eval.

    One array; `aux` and `evaluation` are views of it, so the bound, the utility, the sweep
    and the attacks share the features without a copy.
    """

    all: np.ndarray
    n_aux: int
    shape: tuple[int, ...]  # per-sample feature shape before flattening

    @property
    def aux(self) -> np.ndarray:
        """The attacker's auxiliary samples' features (a view)."""
        return self.all[: self.n_aux]

    @property
    def evaluation(self) -> np.ndarray:
        """The evaluation samples' features (a view)."""
        return self.all[self.n_aux :]


def _input_entropy(cfg: Config, prep: Prepared) -> tuple[float, str]:
    """h(x)/d in nats and its source; computed once per audit (bound and sweep share it)."""
    spec = cfg.bound.input_entropy
    if spec == "certified":
        return entropy_mod.input_entropy_certified(), "certified"
    if spec == "gaussian":
        x = np.concatenate([prep.audit.aux.x, prep.audit.eval.x])
        return entropy_mod.input_entropy_gaussian(x.reshape(len(x), -1)), "gaussian"
    return entropy_mod.input_entropy_from_user(float(spec), cfg.bound.input_entropy_unit), "user"


def _labels(prep: Prepared) -> np.ndarray | None:
    ya, ye = prep.audit.aux.y, prep.audit.eval.y
    return None if ya is None or ye is None else np.concatenate([ya, ye])


def _accuracy(head: object, feats: np.ndarray, y: np.ndarray, shape: tuple[int, ...]) -> float:
    logits = model_mod.run_batched(head, feats.reshape(len(feats), *shape).astype(np.float32), 256)
    return float(np.mean(np.argmax(logits.reshape(len(logits), -1), axis=1) == y))


def _noisy_accuracy(
    head: object,
    feats: np.ndarray,
    y: np.ndarray,
    sigma: float,
    seed: int,
    shape: tuple[int, ...],
    draws: int = 3,
) -> float:
    if sigma == 0:
        return _accuracy(head, feats, y, shape)
    rng = np.random.default_rng(seed)
    accs = [
        _accuracy(
            head, feats + sigma * rng.standard_normal(feats.shape).astype(np.float32), y, shape
        )
        for _ in range(draws)
    ]
    return float(np.mean(accs))


def head_session(prep: Prepared) -> object | None:
    """One onnxruntime session of the head (utility and sweep share it), or None."""
    return model_mod.make_session(prep.split.head) if prep.split.head is not None else None


def _utility(cfg: Config, prep: Prepared, feats: Features, head: object | None) -> Utility:
    y = _labels(prep)
    if y is None or head is None:
        return Utility(None, None)
    shape = feats.shape
    clean = _accuracy(head, feats.all, y, shape)
    noisy = _noisy_accuracy(head, feats.all, y, prep.sigma, cfg.seed, shape)
    return Utility(clean_accuracy=clean, noisy_accuracy=noisy)


def _sweep(
    cfg: Config,
    prep: Prepared,
    feats: Features,
    bounds: Sequence[BoundResult],
    head: object | None,
) -> tuple[SweepPoint, ...]:
    """The sweep's points from its bounds (one per `cfg.noise_sweep` sigma, in order)."""
    y = _labels(prep)
    shape = feats.shape
    points = []
    for sigma, b in zip(cfg.noise_sweep, bounds, strict=True):
        acc = None
        if head is not None and y is not None:
            acc = _noisy_accuracy(head, feats.all, y, sigma, cfg.seed, shape)
        points.append(
            SweepPoint(
                noise_sigma=sigma,
                leakage_bits_per_dim=b.leakage_bits_per_dim,
                cond_entropy_per_dim=b.cond_entropy_per_dim,
                mse_floor=b.mse_floor,
                floor_ratio=b.floor_ratio,
                accuracy=acc,
            )
        )
    return tuple(points)
