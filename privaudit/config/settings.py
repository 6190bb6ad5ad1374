"""Frozen, validated settings of a run (defaults; `privaudit.config.load` layers the rest)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from privaudit.config.choices import (
    ATTACK_NAMES,
    Budget,
    CemLoss,
    ChannelLayout,
    Covariance,
    Defence,
    Device,
    Domain,
    EntropySpec,
    EntropyUnit,
    Executor,
    ReportFormat,
    values,
)
from privaudit.config.tables import plain
from privaudit.errors import ConfigError
from privaudit.noise import check_noise_sigma

__all__ = [
    "ATTACK_RULES",
    "AUTO_SPLITS",
    "GUARD_KEYS",
    "PATH_KEYS",
    "AttacksConfig",
    "BoundConfig",
    "Config",
    "ConflictError",
    "GateConfig",
    "HardenConfig",
    "SweepConfig",
    "as_dict",
    "check_positive",
    "check_range",
    "check_recovered",
    "check_share",
    "choice",
]

PATH_KEYS = ("model", "encoder", "head", "data", "output_dir")
GUARD_KEYS = ("max_data_gb",)  # resource limits: not recorded in the report (see as_dict)
# NOTE: the gate thresholds held to every attack that ran and to every reference
ATTACK_RULES = ("min_attack_mse", "max_recovered")
class ConflictError(ConfigError):
    """Values valid each on its own that cannot go together (a flag may settle it)."""


MAX_THREADS = 1024  # threads per pool: far more crashed onnxruntime (1e6) or hung it (5,000)


def check_threads(key: str, threads: int | None) -> None:
    """Refuse more threads than any machine's pools take (`MAX_THREADS`)."""
    if threads is not None and threads > MAX_THREADS:
        raise ConfigError(f"{key}: at most {MAX_THREADS} threads, got {threads}",
                          hint="leave it out for every CPU this process may use")


@dataclass(frozen=True)
class BoundConfig:
    """How the conditional-entropy bound is estimated (method.md §3)."""

    covariance: str = Covariance.DIAGONAL.value  # valid bound, default; "full": tighter estimate
    k: int = 5  # k-means cells per class (and for unlabeled data)
    bootstrap: int = 200  # bootstrap replicates for the intervals
    input_entropy: str = EntropySpec.GAUSSIAN.value  # a named source, or a number (with the unit)
    input_entropy_unit: str = EntropyUnit.NATS.value  # per dim; "bits": per dim of 8-bit data
    dfil: bool = True  # also measure Fisher information leakage (method.md §3d)

    def __post_init__(self) -> None:
        choice("bound.covariance", self.covariance, values(Covariance))
        choice("bound.input_entropy_unit", self.input_entropy_unit, values(EntropyUnit))
        check_positive("bound.k", self.k)
        check_positive("bound.bootstrap", self.bootstrap, allow_zero=True)
        if self.input_entropy not in values(EntropySpec):
            try:
                value = float(self.input_entropy)
            except ValueError:
                raise ConfigError(
                    f"bound.input_entropy: expected 'gaussian', 'certified' or a number, "
                    f"got {self.input_entropy!r}",
                    hint="e.g. --input-entropy certified, or --input-entropy 1.2 "
                    "--entropy-unit bits",
                ) from None
            if not math.isfinite(value):
                raise ConfigError(f"bound.input_entropy: expected a finite number, got {value}")


@dataclass(frozen=True)
class AttacksConfig:
    """Which attacks run, with what compute budget and per-attack parameters."""

    enabled: tuple[str, ...] = ATTACK_NAMES
    budget: str = Budget.STANDARD.value
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # [attacks.<name>]

    def __post_init__(self) -> None:
        choice("attacks.budget", self.budget, values(Budget))
        for name in (*self.enabled, *self.params):
            choice("attacks", name, ATTACK_NAMES, what="attack")


@dataclass(frozen=True)
class GateConfig:
    """CI gate thresholds; no threshold set means no gate (exit 0)."""

    min_cond_entropy: float | None = None  # conditional-entropy bound h(x|z)/d, nats/dim
    min_mse_floor: float | None = None  # the conditional spectral floor (S)
    max_leakage: float | None = None  # leakage upper bound I_up, bits per input dimension
    min_attack_mse: float | None = None  # every OK attack and reference: MSE >= this
    max_recovered: float | None = None  # no OK attack or reference may recover more of it
    min_dfil_mse: float | None = None  # 5th percentile of 1/dFIL (unbiased attackers)
    strict: bool = False  # a skipped attack is a violation too

    def __post_init__(self) -> None:
        for key in ("min_cond_entropy", "min_mse_floor", "max_leakage", "min_attack_mse",
                    "min_dfil_mse"):
            value = getattr(self, key)
            if value is not None and not math.isfinite(value):
                raise ConfigError(f"gate.{key}: expected a finite threshold, got {value}")
        check_mse_threshold("gate.min_attack_mse", self.min_attack_mse)
        check_mse_threshold("gate.min_dfil_mse", self.min_dfil_mse)
        check_mse_threshold("gate.min_mse_floor", self.min_mse_floor)
        if self.max_leakage is not None and self.max_leakage < 0:  # NOTE: every audit fails it
            raise ConfigError(f"gate.max_leakage: expected a leakage >= 0 bits per input "
                              f"dimension, got {self.max_leakage:g}", hint="e.g. 0.5")
        check_recovered("gate.max_recovered", self.max_recovered)

    @property
    def active(self) -> bool:
        """True when at least one threshold is set, or `strict` (skipped attacks fail)."""
        return self.strict or any(
            v is not None
            for v in (
                self.min_cond_entropy,
                self.min_mse_floor,
                self.max_leakage,
                self.min_attack_mse,
                self.max_recovered,
                self.min_dfil_mse,
            )
        )


@dataclass(frozen=True)
class HardenConfig:
    """Fine-tuning settings: the defences (CEM, method.md §5; adversarial; noise allocation)."""

    defence: tuple[str, ...] = (Defence.CEM.value,)  # several: each trained, the best kept
    lam: float = 4.0  # lambda, weight of the CEM loss (4 suits the bound form on the demo)
    loss: str = CemLoss.BOUND.value  # diagonal mixture leakage; "hinge": the official surrogate
    k: int = 5  # k-means centroids per class
    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 64
    freeze_head: bool = False
    embed_noise: bool | None = None  # noise inside the hardened graph (None: as the input's)
    baseline: bool = False  # also fine-tune noise-only models (the frontier)
    baseline_scales: tuple[float, ...] = (1.5, 2.0, 3.0)
    max_accuracy_drop: float | None = None  # points; tries a grid of lambda values
    seeds: int = 1  # fine-tune seeds (mean and spread reported)
    holdout: float = 0.0  # share of the data kept out of fine-tuning for the audits (0: none)
    mu: float = 1.0  # adversarial: weight of the decoder's reconstruction loss
    adversary_reset: int = 200  # adversarial: the decoder restarts every this many steps

    def __post_init__(self) -> None:
        if not self.defence:
            raise ConfigError("harden.defence: expected at least one defence",
                              hint=f"choose from {', '.join(values(Defence))}")
        for name in self.defence:
            choice("harden.defence", name, values(Defence))
        if len(set(self.defence)) != len(self.defence):
            raise ConfigError(f"harden.defence: a defence is named twice in {list(self.defence)}",
                              hint="name each defence once")
        check_positive("harden.mu", self.mu, allow_zero=True)
        check_positive("harden.adversary_reset", self.adversary_reset)
        choice("harden.loss", self.loss, values(CemLoss))
        check_positive("harden.lam", self.lam, allow_zero=True)
        for key in ("k", "epochs", "lr", "batch_size", "seeds"):
            check_positive(f"harden.{key}", getattr(self, key))
        for scale in self.baseline_scales:
            check_positive("harden.baseline_scales", scale)
        if self.max_accuracy_drop is not None:
            check_positive("harden.max_accuracy_drop", self.max_accuracy_drop, allow_zero=True)
        check_share("harden.holdout", self.holdout, allow_zero=True,
               hint="e.g. --holdout 0.3 audits on 30% of the data, fine-tunes on the rest")
        self._check_cem_runs()

    def _check_cem_runs(self) -> None:
        """CEM is off in the first epoch (no cells yet): with one epoch it would never run."""
        uses_cells = [d for d in self.defence if d != Defence.ADVERSARIAL]
        if self.epochs == 1 and self.lam > 0 and uses_cells:
            raise ConflictError(
                f"harden.epochs 1 with {', '.join(uses_cells)}: the CEM loss starts in epoch 2, "
                "once the first epoch's features give it its cells, so it would never run "
                "(only noise-only fine-tuning would)",
                hint="use --epochs 2 or more (default 10), or --defence adversarial",
            )

AUTO_SPLITS = "auto"  # `sweep.splits`: the clean cuts `privaudit layers` lists, thinned


@dataclass(frozen=True)
class SweepConfig:
    """`privaudit sweep`: the grid of cuts x sigmas, where its jobs run, the constraints."""

    splits: tuple[str, ...] = (AUTO_SPLITS,)  # cut names, or "auto"
    noise: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2)  # the sigmas of the grid
    seeds: int = 1  # attack seeds per point: the run seed, seed + 1, ...
    jobs: int | None = None  # jobs at once (None: local cores / the Ray cluster's CPUs)
    threads: int | None = None  # threads per job (None: local cores // jobs; Ray: 1)
    executor: str = Executor.LOCAL.value
    ray_address: str | None = None  # None: RAY_ADDRESS, else a local Ray instance
    gpus_per_task: float = 0.25  # GPUs per attack task on a Ray cluster that has GPUs
    min_accuracy: float | None = None  # constraints of the recommendation
    min_attack_mse: float | None = None
    max_recovered: float | None = None

    def __post_init__(self) -> None:
        if not self.splits or (AUTO_SPLITS in self.splits and len(self.splits) > 1):
            raise ConfigError(f"sweep.splits: expected cut names or 'auto', got "
                              f"{list(self.splits)}", hint="e.g. --splits layer1,layer2,layer3 "
                              "or --splits auto")
        if not self.noise:
            raise ConfigError("sweep.noise: expected at least one sigma, got none",
                              hint="e.g. --noise 0,0.05,0.1,0.2")
        object.__setattr__(self, "noise",
                           tuple(check_noise_sigma(s, "sweep.noise") for s in self.noise))
        check_positive("sweep.seeds", self.seeds)
        for key in ("jobs", "threads"):
            if getattr(self, key) is not None:
                check_positive(f"sweep.{key}", getattr(self, key))
        check_threads("sweep.threads", self.threads)
        choice("sweep.executor", self.executor, values(Executor), what="executor")
        check_positive("sweep.gpus_per_task", self.gpus_per_task)
        for key in ("min_accuracy", "min_attack_mse"):
            value = getattr(self, key)
            if value is not None and not math.isfinite(value):
                raise ConfigError(f"sweep.{key}: expected a finite threshold, got {value}")
        if self.min_accuracy is not None and not 0 <= self.min_accuracy <= 1:
            raise ConfigError(f"sweep.min_accuracy: expected a share in [0, 1], got "
                              f"{self.min_accuracy}", hint="e.g. --min-accuracy 0.9 (90%)")
        check_mse_threshold("sweep.min_attack_mse", self.min_attack_mse)
        check_recovered("sweep.max_recovered", self.max_recovered)

    @property
    def constrained(self) -> bool:
        """True when at least one constraint of the recommendation is set."""
        return any(v is not None for v in (self.min_accuracy, self.min_attack_mse,
                                            self.max_recovered))


@dataclass(frozen=True)
class Config:
    """All settings of one run. Paths are absolute once loaded."""

    model: Path | None = None
    split: str | None = None
    encoder: Path | None = None
    head: Path | None = None
    data: Path | None = None
    domain: str | None = None  # tabular | signal | image; None: from the model input's rank
    layout: str = ChannelLayout.AUTO.value  # auto | channels-first | channels-last
    label_column: str | None = None  # CSV/Parquet: the label column (default label, y, target)
    labels: bool = True  # false: the data's labels are ignored (no accuracy, no label reference)
    columns: tuple[str, ...] | None = None  # CSV/Parquet: the feature columns, in order
    data_range: tuple[float, ...] | None = None  # (low, high): the values' range (images: pixels)
    noise: float | None = None  # the noise std (flag --noise); None: from the model's metadata
    noise_sweep: tuple[float, ...] = ()
    mean: tuple[float, ...] | None = None  # None: from model metadata, else (0,)
    std: tuple[float, ...] | None = None
    input_shape: tuple[int, ...] | None = None  # per-sample model input, for dynamic dims
    resize: bool = False
    limit: int | None = None
    max_data_gb: float = 4.0  # the audit data's largest size in memory, checked before reading
    eval_fraction: float = 0.2
    max_eval: int | None = 500
    batch_size: int = 256
    seed: int = 0
    device: str = Device.AUTO.value
    threads: int | None = None  # torch/onnxruntime/BLAS threads (None: the CPUs we may use)
    output_dir: Path = Path("privaudit-out")
    formats: tuple[str, ...] = ("json",)
    bound: BoundConfig = field(default_factory=BoundConfig)
    attacks: AttacksConfig = field(default_factory=AttacksConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    harden: HardenConfig = field(default_factory=HardenConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    config_path: Path | None = None

    def __post_init__(self) -> None:
        choice("device", self.device, values(Device))
        if self.domain is not None:
            choice("domain", self.domain, values(Domain))
        choice("layout", self.layout, values(ChannelLayout))
        if self.data_range is not None:
            check_range("data_range", self.data_range)
        if self.columns is not None and not self.columns:
            raise ConfigError("columns: expected at least one column name, got none",
                              hint="e.g. --columns age,income, or leave it out for every column")
        if self.split is not None and not str(self.split).strip():
            # NOTE: an empty name fell back on the model's own split without a word
            raise ConfigError("split: expected a layer name, got an empty one",
                              hint="e.g. --split layer3 (see `privaudit layers MODEL`), or leave "
                                   "it out for the split in the model's metadata")
        if not self.formats:
            raise ConfigError("formats: expected at least one report format, got none",
                              hint=f"e.g. -f json,html; choose from: "
                              f"{', '.join(values(ReportFormat))}")
        for fmt in self.formats:
            choice("formats", fmt, values(ReportFormat), what="report format")
        check_positive("max_data_gb", self.max_data_gb)
        if self.noise is not None:  # NOTE: the checked value: -0 reads 0
            object.__setattr__(self, "noise", check_noise_sigma(self.noise, "noise"))
        object.__setattr__(self, "noise_sweep",
                           tuple(check_noise_sigma(s, "noise_sweep") for s in self.noise_sweep))
        check_positive("batch_size", self.batch_size)
        for key in ("limit", "max_eval"):
            if getattr(self, key) is not None:
                check_positive(key, getattr(self, key))
        check_positive("seed", self.seed, allow_zero=True)
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads: expected a positive whole number, got {self.threads}",
                              hint="e.g. --threads 4; leave it out for every CPU this process "
                              "may use")
        check_threads("threads", self.threads)
        check_share("eval_fraction", self.eval_fraction, allow_zero=False,
               hint="e.g. eval_fraction = 0.2 (a fifth of the samples are the private ones)")
        if self.std is not None and any(not s > 0 for s in self.std):
            raise ConfigError(
                f"std: expected positive values, got {list(self.std)}",
                hint="give every channel's std as a number > 0, e.g. --std 0.5",
            )


def choice(key: str, value: object, allowed: tuple[str, ...], *, what: str = "value") -> None:
    """Raise ConfigError unless `value` is one of `allowed`, suggesting the closest."""
    if value not in allowed:
        close = difflib.get_close_matches(str(value), allowed, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(
            f"{key}: unknown {what} {value!r}", hint=f"{hint}choose from: {', '.join(allowed)}"
        )


def check_range(key: str, value: tuple[float, ...]) -> None:
    """Raise ConfigError unless `value` is two finite numbers, low < high."""
    if len(value) != 2 or not all(math.isfinite(v) for v in value) or not value[0] < value[1]:
        raise ConfigError(f"{key}: expected two finite numbers LOW,HIGH with LOW < HIGH, got "
                          f"{list(value)}", hint="e.g. --data-range -1,1 or --data-range 0,4095")


def check_mse_threshold(key: str, value: float | None) -> None:
    """Refuse a negative MSE threshold: every MSE passes it, so it gates nothing.

    Raises:
        ConfigError: `value` is below 0.
    """
    if value is not None and value < 0:
        raise ConfigError(f"{key}: expected an MSE >= 0, got {value:g}",
                          hint="an MSE per input dimension, e.g. 0.03")


def check_share(key: str, value: float, *, allow_zero: bool, hint: str) -> None:
    """Raise ConfigError unless `value` is a share in (0, 1), or [0, 1) with `allow_zero`."""
    if not (0 <= value if allow_zero else 0 < value) or not value < 1:
        low = "[0" if allow_zero else "(0"
        raise ConfigError(f"{key}: expected a number in {low}, 1), got {value}", hint=hint)


def check_recovered(key: str, value: float | None) -> None:
    """Raise ConfigError unless `value` is None or a share of the variance in [0, 1].

    A recovered share is 1 - MSE / MSE(prior), at most 1: a threshold above 1 (a percentage
    given as 50) would pass every reconstruction, so it is refused rather than read.
    """
    if value is not None and not 0 <= value <= 1:
        raise ConfigError(f"{key}: expected a share in [0, 1], got {value:g}",
                          hint="a share of the variance between 0 and 1, e.g. 0.5 for 50%")


def check_positive(key: str, value: float, *, allow_zero: bool = False) -> None:
    """Raise ConfigError unless `value` is finite and > 0 (or >= 0 with `allow_zero`)."""
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        kind = "non-negative" if allow_zero else "positive"
        raise ConfigError(f"{key}: expected a {kind} number, got {value!r}")


def as_dict(cfg: Config, *, sweep: bool = False) -> dict[str, Any]:
    """JSON-able view of the resolved config (for the report's provenance).

    Resource limits (`GUARD_KEYS`) are left out: they decide whether a run may start, never
    a number of its report, so a report reads the same under any limit that lets it run.
    The `sweep` section is left out too, except for a sweep's own report (`sweep=True`).
    """
    result: dict[str, Any] = plain(cfg)
    for key in GUARD_KEYS:
        result.pop(key, None)
    if not sweep:
        result.pop("sweep", None)
    return result
