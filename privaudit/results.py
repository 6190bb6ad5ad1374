"""Frozen result dataclasses of an audit, and their versioned JSON form (to_dict/from_dict)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1  # history: 1 = initial. Bump and note here on every JSON shape change.


class Status(StrEnum):
    """Outcome of one attack."""

    OK = "ok"
    SKIPPED = "skipped"  # a needed capability is missing; `reason` says which
    ERROR = "error"  # the attack raised AttackError; `reason` holds the message


@dataclass(frozen=True)
class Interval:
    """A bootstrap confidence interval (percentile method)."""

    low: float
    high: float
    level: float = 0.95


@dataclass(frozen=True)
class MixtureTerm:
    """Leakage upper bound I_up obtained with one choice of clustering (method.md eq. L)."""

    clustering: str  # "single" | "class" | "kmeans" | "class-kmeans"
    clusters: int
    leakage_nats: float  # I_up, nats per sample
    min_cluster_size: int


@dataclass(frozen=True)
class BoundResult:
    """The conditional-entropy bound on reconstruction error (method.md §2-3).

    All per-dimension quantities are per *input* dimension d, in nats, pixels on [0, 1].
    """

    noise_sigma: float
    input_dim: int  # d
    feature_dim: int  # m
    n_samples: int
    covariance: str  # "diagonal" | "full"
    vacuous: bool  # sigma == 0: leakage unbounded, floor 0
    leakage_nats: float | None  # I_up per sample (min over clusterings); None when vacuous
    leakage_bits_per_dim: float | None
    leakage_interval: Interval | None  # bootstrap interval of I_up, nats
    clustering: str | None  # the clustering that gave the minimum
    terms: tuple[MixtureTerm, ...]
    input_entropy_per_dim: float  # h(x)/d, nats
    input_entropy_source: str  # "certified" | "gaussian" | "user"
    cond_entropy_per_dim: float | None  # (h(x) - I_up)/d, nats
    mse_floor: float  # exp(2 h(x|z)/d) / (2 pi e); 0 when vacuous
    mse_floor_interval: Interval | None
    certified_mse_floor: float  # the floor with the certified h(x) (always valid)
    floor_ratio: float  # exp(-2 I_up / d); 0 when vacuous
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class AttackResult:
    """One attack's outcome, scored uniformly by the battery on the evaluation set."""

    attack: str
    status: Status
    mse: float | None = None
    psnr: float | None = None
    ssim: float | None = None
    mse_interval: Interval | None = None
    psnr_interval: Interval | None = None
    ssim_interval: Interval | None = None
    n_samples: int = 0
    seconds: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    below_floor: bool = False  # MSE under the (estimated-h(x)) floor: that estimate was optimistic
    samples: tuple[int, ...] = ()  # indices (into the evaluation set) of the stored reconstructions
    reconstructions: tuple[tuple[float, ...], ...] = ()  # flattened x_hat of `samples`, in [0, 1]
