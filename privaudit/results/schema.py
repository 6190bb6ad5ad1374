"""Frozen result dataclasses of an audit, and their versioned JSON form (to_dict/from_dict)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from privaudit.results.samples import pack_samples
from privaudit.results.serialize import json_text, to_jsonable

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "READABLE_VERSIONS",
    "SCHEMA_VERSION",
    "AttackResult",
    "AuditReport",
    "BoundResult",
    "Comparison",
    "DataInfo",
    "Dfil",
    "EpochStats",
    "FeatureScore",
    "GateResult",
    "HardenResult",
    "Interval",
    "MixtureTerm",
    "ModelInfo",
    "Provenance",
    "Reference",
    "Status",
    "SweepPoint",
    "Utility",
    "Variant",
    "Verdict",
    "Violation",
    "register_html_view",
    "to_dict",
]

# History: 1 = initial; 2 = harden.holdout and harden.fine_tune_samples (additive: a version 1
# report still loads, with holdout 0); 3 = the conditional spectral floor (S) becomes
# `bound.mse_floor` (the theorem's unconditional floor moves to `bound.paper_floor`), the
# reference reconstructions, each attack's recovered share, dFIL and the verdict (versions
# 1 and 2 load through `migrate`: their floor becomes the paper's, (S) is unknown). Bump and
# note here on every JSON shape change. Version 3 was extended additively (every new field has
# a default, so older version-3 reports load unchanged): `model.domain`, the data's feature
# units (`data.feature_names`, `feature_mean`, `feature_std`, `discrete`, `data_range`) and
# per-feature scores of attacks and references (`features`), for tabular vectors and signals.
# 4 = compact samples: in an image report `sample_images` and each attack's `reconstructions`
# are one base64 8-bit PNG per set (`results.samples`), no longer float lists; the dataclasses
# are unchanged (floats in memory), and versions 1-3 load as before; and
# `provenance.threads`, the CPU threads the run used (null in older reports).
SCHEMA_VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)


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

    def below(self, other: Interval) -> bool:
        """Whether this interval lies wholly below `other` (the two do not overlap)."""
        return self.high < other.low


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
    # The conditional spectral floor (S), method.md §3b: the floor the privacy interval, the
    # gate and the verdict use. It is the lower end of its interval when there is one, else
    # the estimate; None in reports older than schema 3. 0 when sigma = 0.
    mse_floor: float | None
    mse_floor_estimate: float | None  # (S) itself
    mse_floor_interval: Interval | None  # its jackknife interval
    floor_clustering: str | None  # what (S) conditions on: "class" | "kmeans"
    floor_prior: float | None  # sum_c pi_c tr Cov(x|c) / d: knowing the cluster alone
    floor_vacuous: bool  # (S) under 1e-6 of floor_prior: no block's factor survives
    paper_floor: float  # theorem (T) with a Gaussian h(x) of all the data: can overstate
    paper_floor_interval: Interval | None
    # theorem (T) with the certified h(x) of 8-bit data (always valid, loose); None for data in
    # its own units (tabular vectors, signals), which has no certified h(x)
    certified_mse_floor: float | None
    floor_ratio: float  # exp(-2 I_up / d); 0 when vacuous
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeatureScore:
    """How well one input feature (a tabular column, a signal channel) is reconstructed.

    Over the evaluation samples (and a signal's time steps). MSE is in standardised units (the
    feature divided by its standard deviation over the audit data) and in the data's own.
    """

    name: str
    mse: float  # standardised units: guessing the feature's mean costs about 1
    mse_raw: float  # the data's own units (mse * std^2)
    r2: float | None  # 1 - SSE / SST about the evaluation mean; None for a constant feature
    correlation: float | None  # Pearson, reconstruction vs truth; None when either is constant
    exact_match: float | None = None  # share rounded to the true value (discrete columns only)


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
    below_floor: bool = False  # MSE under the floor: its Gaussian assumption failed here
    samples: tuple[int, ...] = ()  # indices (into the evaluation set) of the stored reconstructions
    reconstructions: tuple[tuple[float, ...], ...] = ()  # flattened x_hat of `samples`, in [0, 1]
    recovered: float | None = None  # 1 - MSE / MSE(prior): the share of the variance recovered
    recovered_interval: Interval | None = None
    beats_label: bool | None = None  # MSE below the label reference's, beyond their interval
    features: tuple[FeatureScore, ...] = ()  # per column / channel (tabular vectors, signals)


@dataclass(frozen=True)
class Reference:
    """A reconstruction that needs no training (method.md §3c), scored like an attack.

    `prior` is the auxiliary mean (the MSE of knowing nothing); `label` the auxiliary mean of
    the class the head predicts from the noisy features (what the server learns anyway).
    """

    name: str  # "prior" | "label" | "nearest"
    mse: float | None
    mse_interval: Interval | None = None
    psnr: float | None = None
    ssim: float | None = None
    reason: str | None = None  # why it could not be computed
    recovered: float | None = None  # 1 - MSE / MSE(prior) (0 for the prior itself)
    features: tuple[FeatureScore, ...] = ()  # per column / channel (tabular vectors, signals)


@dataclass(frozen=True)
class Dfil:
    """Fisher information leakage per evaluation sample (method.md §3d).

    dFIL(x) = tr(J^T J) / (sigma^2 d), J the encoder's Jacobian; 1/dFIL(x) bounds the MSE of an
    *unbiased* attacker on x (Cramer-Rao); learned attackers are biased and can beat it.
    """

    status: Status
    reason: str | None = None
    probes: int = 0  # Hutchinson probes per sample
    relative_standard_error: float | None = None  # of the mean dFIL, from the probes
    mean: float | None = None
    median: float | None = None
    p05: float | None = None
    p95: float | None = None
    inverse_mean: float | None = None  # mean over samples of 1/dFIL
    inverse_p05: float | None = None  # 5th percentile of 1/dFIL (the gate's min_dfil_mse)
    values: tuple[float, ...] = ()  # dFIL of every evaluation sample
    seconds: float = 0.0


@dataclass(frozen=True)
class Verdict:
    """The audit's conclusion in plain words, with the numbers it rests on (pure: see verdict)."""

    headline: str
    sentences: tuple[str, ...]
    next_step: str
    command: str
    strongest: str | None = None  # the attack with the lowest MSE
    recovered: float | None = None  # its recovered share
    floor: float | None = None
    best_mse: float | None = None
    # NOTE: the interval's width: its upper end (best_mse, or a reference's MSE when lower,
    # see verdict.strongest_reconstruction) / floor
    width: float | None = None
    bound_vacuous: bool = False


@dataclass(frozen=True)
class ModelInfo:
    """The audited model and where it was split."""

    path: str
    sha256: str
    split: str  # the name the user gave (module, node or tensor), or "presplit"
    cut_tensor: str
    input_name: str
    input_shape: tuple[int, ...]  # per sample, measured: (F,), (C, T) or (C, H, W)
    feature_shape: tuple[int, ...]  # per sample
    split_max_diff: float | None  # max |model(x) - head(encoder(x))| on sample inputs
    torch_conversion: str  # "ok" or the reason the encoder could not be converted
    noise_source: str  # "flag" | "config" | "model metadata"
    domain: str = "image"  # "tabular" | "signal" | "image": from the input's rank or --domain
    # per-channel noise stds (axis 1 of the cut) of a noise-allocation model, at the audited
    # sigma (their RMS); the audit then measures the features whitened by them
    noise_stds: tuple[float, ...] | None = None
    # the graph adds its own noise at the cut (hardened with --embed-noise): no other sigma
    embedded_noise: bool = False
    # where the model's input keeps its channels: "channels-last" when it was audited through
    # a Transpose (its `input_shape` is then the audited, channels-first one)
    layout: str = "channels-first"


@dataclass(frozen=True)
class DataInfo:
    """Where the audit data came from and what was done to it."""

    source: str
    fingerprint: str
    n_total: int
    n_aux: int
    n_eval: int
    classes: int | None
    transforms: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    # Tabular vectors and signals, per feature (column / channel): measured = (raw - mean) / std
    feature_names: tuple[str, ...] = ()
    feature_mean: tuple[float, ...] = ()  # the data's own units
    feature_std: tuple[float, ...] = ()
    discrete: tuple[bool, ...] = ()  # integer-valued with at most 20 values (exact matches)
    data_range: float | None = None  # high - low in the data's own units (signals: PSNR peak)


@dataclass(frozen=True)
class SweepPoint:
    """One sigma of the privacy-utility sweep."""

    noise_sigma: float
    leakage_bits_per_dim: float | None
    cond_entropy_per_dim: float | None
    mse_floor: float | None  # (S), point estimate; None in reports older than schema 3
    paper_floor: float  # theorem (T), the paper's form
    floor_ratio: float
    accuracy: float | None  # head accuracy on noisy features (labels needed)


@dataclass(frozen=True)
class Utility:
    """The head's accuracy on the audit data (labels needed)."""

    clean_accuracy: float | None
    noisy_accuracy: float | None  # at the deployment sigma, averaged over noise draws


@dataclass(frozen=True)
class Violation:
    """One failed gate rule."""

    rule: str  # config key, e.g. "min_mse_floor"
    subject: str  # "bound", "decoder", ...
    value: float | None
    threshold: float | None  # None for rules without a number (attack errors, strict)
    message: str


@dataclass(frozen=True)
class GateResult:
    """Outcome of the CI gate; `active` is False when no threshold was configured."""

    active: bool = False
    violations: tuple[Violation, ...] = ()

    @property
    def passed(self) -> bool:
        """True when no rule is violated."""
        return not self.violations


@dataclass(frozen=True)
class Provenance:
    """Everything needed to reproduce or trust a run."""

    tool_version: str
    created_at: str  # ISO-8601 UTC, set once by the pipeline
    command: str  # "assess" | "harden"
    seed: int
    device: str
    config: dict[str, Any]
    versions: dict[str, str]
    timings: dict[str, float]  # seconds per stage
    threads: int | None = None  # CPU threads of torch, onnxruntime, BLAS (sweep: all jobs')


@dataclass(frozen=True)
class EpochStats:
    """One fine-tuning epoch (means over the epoch's batches)."""

    epoch: int
    task_loss: float
    cem_loss: float
    accuracy: float  # training accuracy on noisy features
    adversary_loss: float | None = None  # the adversary decoder's MSE (adversarial defences)
    noise_scales: tuple[float, ...] | None = None  # learned a_j at the epoch's end (allocation)


@dataclass(frozen=True)
class Variant:
    """One fine-tuned model (a defence or noise-only), measured like every other.

    Same data, seeds and budget: every enabled attack, trained from scratch on it, and the
    bound. Seed-dependent numbers are means over the fine-tune seeds, with their standard deviation.
    """

    label: str  # e.g. "cem", "noise-only x1.0", "original"
    lam: float
    loss: str  # "bound" | "hinge" | "none"
    noise_sigma: float
    seeds: int
    clean_accuracy: float
    noisy_accuracy: float
    noisy_accuracy_std: float
    decoder_mse: float | None
    decoder_mse_std: float | None
    leakage_bits_per_dim: float | None
    mse_floor: float | None  # (S), point estimate, the mean over seeds; None before schema 3
    paper_floor: float  # theorem (T), the mean over seeds
    feature_mean: float
    feature_std: float
    within_class_share: float | None  # within-class share of feature variance
    defence: str | None = None  # "cem", "adversarial", ..., "noise-only", "original"
    mu: float = 0.0  # adversarial weight
    # the attack with the lowest MSE, per seed ("decoder/optimization" when seeds differ)
    strongest_attack: str | None = None
    strongest_mse: float | None = None  # its MSE, mean over seeds
    strongest_mse_std: float | None = None
    recovered: float | None = None  # its recovered share (1 - MSE / prior MSE), mean
    seed_noisy_accuracy: tuple[float, ...] = ()  # per fine-tune seed
    seed_strongest_mse: tuple[float, ...] = ()  # per fine-tune seed
    noise_stds: tuple[float, ...] | None = None  # seed 0's per-channel stds (allocation)


@dataclass(frozen=True)
class Comparison:
    """A defence against noise-only fine-tuning (method.md §5, scale confound).

    Gains are paired by fine-tune seed (defence seed i against noise-only seed i) and given
    as mean and standard deviation over the seeds. Schema 3 compares the strongest attack's
    MSE on each model; older reports the decoder's (`attack`).
    """

    equal_sigma_mse_gain: float | None  # defence MSE / noise-only (same sigma) - 1
    equal_sigma_accuracy_delta: float | None  # points, defence - noise-only
    # the MSE of the noise-only model matched to the defence's noisy accuracy (within
    # MATCH_POINTS); older reports: the frontier interpolated at CEM's accuracy
    frontier_mse_at_cem_accuracy: float | None
    frontier_mse_gain: float | None  # defence MSE / matched noise-only MSE - 1 (any sign)
    note: str
    defence: str = "cem"
    # NOTE: whose MSE: "strongest" (of all attacks, or a reference when lower) or "decoder"
    attack: str = "decoder"
    equal_sigma_mse_gain_std: float | None = None
    frontier_mse_gain_std: float | None = None
    frontier_label: str | None = None  # the matched noise-only variant
    frontier_accuracy_delta: float | None = None  # points, defence - matched noise-only


@dataclass(frozen=True)
class HardenResult:
    """What `harden` did and what it achieved, before vs after."""

    output_path: str
    output_sha256: str
    noise_sigma: float
    lam: float
    loss: str
    k: int
    epochs: int
    freeze_head: bool
    embed_noise: bool
    history: tuple[EpochStats, ...]
    after: AuditReport
    variants: tuple[Variant, ...] = ()  # original, CEM, noise-only frontier, lambda grid
    comparison: Comparison | None = None
    grid: tuple[Variant, ...] = ()  # --max-accuracy-drop: every lambda tried
    chosen: str | None = None  # why the kept model was chosen
    holdout: float = 0.0  # share of the data kept out of fine-tuning for the audits
    fine_tune_samples: int = 0  # samples fine-tuned on (0: not recorded, version 1)
    defence: str = "cem"  # the defence of the written model (the winner when several ran)
    mu: float = 0.0  # its adversarial weight
    comparisons: tuple[Comparison, ...] = ()  # one per defence trained (`comparison`: winner's)
    noise_stds: tuple[float, ...] | None = None  # the written model's per-channel noise stds
    # why the hardened model is less private than the original at the same sigma, or None
    regression: str | None = None
    # --max-accuracy-drop: whether the written model kept within it (None: not asked)
    accuracy_budget_met: bool | None = None


@dataclass(frozen=True)
class AuditReport:
    """The complete result of one `assess` run (the canonical JSON report).

    For `harden`, this is the original model's audit and `harden.after` the hardened one's.
    """

    model: ModelInfo
    data: DataInfo
    bound: BoundResult | None
    sweep: tuple[SweepPoint, ...]
    utility: Utility
    attacks: tuple[AttackResult, ...]
    gate: GateResult
    provenance: Provenance
    warnings: tuple[str, ...] = ()
    harden: HardenResult | None = None
    sample_images: tuple[tuple[float, ...], ...] = ()  # originals of AttackResult.samples, flat
    references: tuple[Reference, ...] = ()  # prior and label (method.md §3c)
    dfil: Dfil | None = None
    verdict: Verdict | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def judged(self) -> AuditReport:
        """What its gate judges and a comparison weighs: a `harden` report's hardened model."""
        return self if self.harden is None else self.harden.after

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form as Python data (see `to_dict`)."""
        return to_dict(self)

    def to_json(self) -> str:
        """The canonical JSON text, exactly as `report.json` holds it."""
        return json_text(to_dict(self))

    def to_dataframe(self) -> pd.DataFrame:
        """One tidy row per model x attack (pandas), the rows of the CSV report, unformatted."""
        from privaudit.results.table import attack_table  # NOTE: the table module imports this

        return attack_table(self)

    def _repr_html_(self) -> str | None:
        """The HTML report, for notebooks; None when no HTML view is registered."""
        return _HTML_VIEWS[0](self) if _HTML_VIEWS else None


# NOTE: the HTML report lives in privaudit.reports, which builds on this package; it registers
# its renderer here when imported (the public API imports it), so results never imports it.
_HTML_VIEWS: list[Callable[[AuditReport], str]] = []


def register_html_view(render: Callable[[AuditReport], str]) -> None:
    """Make `render` the HTML view of every AuditReport (`_repr_html_` in notebooks)."""
    _HTML_VIEWS[:] = [render]


def to_dict(report: AuditReport) -> dict[str, Any]:
    """The canonical JSON form: ``schema_version`` first, NaN as null, tuples as lists.

    Image samples and reconstructions are packed as PNG (`results.samples.pack_samples`).
    """
    data: dict[str, Any] = to_jsonable(report)
    return pack_samples({"schema_version": data.pop("schema_version"), **data})
