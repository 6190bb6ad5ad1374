"""The project's vocabularies, each defined once: every other module imports them from here.

Config validation, the estimators, the attack registry and the reporters' prose all key on
these names, so a name changes in one place. StrEnum members compare equal to their strings
("diagonal" == Covariance.DIAGONAL), which is what TOML and the CLI hand in.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ATTACK_NAMES",
    "AttackName",
    "Budget",
    "CemLoss",
    "ChannelLayout",
    "Covariance",
    "DOMAIN_BY_RANK",
    "Defence",
    "Device",
    "Domain",
    "EntropySource",
    "EntropySpec",
    "EntropyUnit",
    "Executor",
    "NoiseSource",
    "ReportFormat",
    "values",
]


class Domain(StrEnum):
    """What a model's input holds; it follows from the input's rank (`--domain` overrides it)."""

    TABULAR = "tabular"  # (N, F): feature vectors, each value in its own units
    SIGNAL = "signal"  # (N, C, T): channels over time, in their own units
    IMAGE = "image"  # (N, C, H, W): pixels, on [0, 1] once read


class ChannelLayout(StrEnum):
    """Where a model's image or signal input keeps its channels (`--layout`)."""

    AUTO = "auto"  # channels last when an image input's sizes say so, else first
    CHANNELS_FIRST = "channels-first"  # (N, C, H, W), (N, C, T): as privaudit computes
    CHANNELS_LAST = "channels-last"  # (N, H, W, C), (N, T, C): fed through a Transpose


DOMAIN_BY_RANK: dict[int, Domain] = {2: Domain.TABULAR, 3: Domain.SIGNAL, 4: Domain.IMAGE}


class Covariance(StrEnum):
    """How the feature covariance enters bound (L) (docs/method.md §3)."""

    DIAGONAL = "diagonal"  # per-dimension variances: a valid bound (Hadamard), the default
    FULL = "full"  # sample covariances: tighter, an estimate when samples are few


class EntropySource(StrEnum):
    """Where the input entropy h(x) came from (docs/method.md §3)."""

    CERTIFIED = "certified"  # -log 256 per dim for 8-bit data: always valid, very loose
    GAUSSIAN = "gaussian"  # max entropy at the data's covariance: optimistic
    USER = "user"  # a value the user supplied


class EntropySpec(StrEnum):
    """The named values of `bound.input_entropy` (a number is also accepted)."""

    GAUSSIAN = EntropySource.GAUSSIAN.value
    CERTIFIED = EntropySource.CERTIFIED.value


class EntropyUnit(StrEnum):
    """Unit of a user-given input entropy."""

    NATS = "nats"  # nats per input dimension
    BITS = "bits"  # a density model's bits per dimension on 8-bit data


class Device(StrEnum):
    """Where attacks and fine-tuning compute."""

    AUTO = "auto"  # CUDA when available, else the CPU
    CPU = "cpu"
    CUDA = "cuda"


class Budget(StrEnum):
    """How much compute the attack battery spends (epochs, steps)."""

    SMOKE = "smoke"
    STANDARD = "standard"
    THOROUGH = "thorough"


class CemLoss(StrEnum):
    """Forms of the CEM loss (docs/method.md §5)."""

    BOUND = "bound"  # the diagonal mixture term of bound (L) itself
    HINGE = "hinge"  # the paper's official surrogate, class-correct


class Defence(StrEnum):
    """What `harden` trains against (registry: `privaudit.hardening.DEFENCES`)."""

    CEM = "cem"  # conditional entropy maximization: lambda * the CEM loss
    ADVERSARIAL = "adversarial"  # minus mu * the loss of a decoder trained alongside
    NOISE_ALLOCATION = "noise-allocation"  # learned per-channel noise stds, lambda * bound (L)
    CEM_ADVERSARIAL = "cem+adversarial"  # both terms


class AttackName(StrEnum):
    """The attacks of the battery; the registry `privaudit.attacks.ATTACKS` keys on these."""

    KNN = "knn"
    LINEAR = "linear"
    DECODER = "decoder"
    OPTIMIZATION = "optimization"
    GAN = "gan"


ATTACK_NAMES: tuple[str, ...] = tuple(a.value for a in AttackName)


class ReportFormat(StrEnum):
    """The report formats; the registry `privaudit.reports.REPORTERS` keys on these."""

    JSON = "json"
    MARKDOWN = "markdown"
    CSV = "csv"
    HTML = "html"
    JUNIT = "junit"  # JUnit XML, for CI test-report views


class Executor(StrEnum):
    """Where `privaudit sweep` runs its jobs; `privaudit.sweeping.EXECUTORS` keys on these."""

    LOCAL = "local"  # worker processes on this machine
    RAY = "ray"  # tasks on a Ray cluster (the `ray` extra)


class NoiseSource(StrEnum):
    """Where a run's noise std came from (recorded in the report)."""

    FLAG = "flag"
    CONFIG = "config"
    METADATA = "model metadata"
    GRAPH = "model graph"  # the noise a model adds in its graph (`--embed-noise`), read off it
    DEMO = "demo default"
    API = "argument"


def values(vocabulary: type[StrEnum]) -> tuple[str, ...]:
    """The plain string values of a vocabulary, in definition order."""
    return tuple(member.value for member in vocabulary)
