"""The result of `privaudit sweep`: one point per (cut, sigma), the frontier, the recommendation.

Frozen dataclasses with their own versioned JSON form (`sweep.json`), told apart from an
audit's `report.json` by ``"kind": "sweep"``. Pure data: the frontier and the recommendation
are computed by `privaudit.sweeping.frontier` and stored here, so reporters only render.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from privaudit.results.schema import (
    AttackResult,
    BoundResult,
    DataInfo,
    GateResult,
    Interval,
    Provenance,
    Reference,
    Status,
)
from privaudit.results.serialize import json_text, to_jsonable

if TYPE_CHECKING:
    from privaudit.results.verdict import Reconstruction

__all__ = [
    "SWEEP_KIND",
    "SWEEP_SCHEMA_VERSION",
    "Accuracy",
    "AttackRun",
    "AttackSummary",
    "Constraints",
    "CutInfo",
    "Execution",
    "GridPoint",
    "Recommendation",
    "SweepModel",
    "SweepReport",
    "sweep_to_dict",
]

# History: 1 = initial. Bump and note here on every JSON shape change of sweep.json.
SWEEP_SCHEMA_VERSION = 1
SWEEP_KIND = "sweep"


@dataclass(frozen=True)
class Accuracy:
    """An accuracy with its 95% Wilson score interval over the samples it was measured on."""

    value: float | None  # None: not measured (no labels, or the head's output is not logits)
    interval: Interval | None = None
    samples: int = 0


@dataclass(frozen=True)
class SweepModel:
    """The swept model (before any cut)."""

    path: str
    sha256: str
    input_name: str
    input_shape: tuple[int, ...]  # per sample (C, H, W)


@dataclass(frozen=True)
class CutInfo:
    """One cut of the sweep: where it is, its features, and what measuring it cost."""

    name: str  # as the user gave it (module, node or tensor name)
    cut_tensor: str
    depth: float | None  # share of the graph's nodes on the encoder side (`privaudit layers`)
    feature_shape: tuple[int, ...]
    split_max_diff: float | None  # max |model(x) - head(encoder(x))| on sample inputs
    torch_conversion: str  # "ok", or why the encoder could not be converted to torch
    seconds: dict[str, float]  # its cut job's stages: features, bound, accuracy, references


@dataclass(frozen=True)
class AttackRun:
    """One attack job's result: an attack at one seed (its reconstructions are not kept)."""

    seed: int
    result: AttackResult


@dataclass(frozen=True)
class AttackSummary:
    """One attack at one point, over its seeds: means and spreads of the successful runs."""

    attack: str
    status: Status  # ok when at least one seed succeeded
    seeds: int  # successful seeds
    mse: float | None = None
    mse_std: float | None = None
    psnr: float | None = None
    ssim: float | None = None
    recovered: float | None = None
    recovered_std: float | None = None
    beats_label: bool | None = None  # at every successful seed
    below_floor: bool = False  # at some seed
    reason: str | None = None  # why no seed succeeded


@dataclass(frozen=True)
class GridPoint:
    """Everything measured at one (cut, sigma)."""

    cut: str
    noise_sigma: float
    clean_accuracy: Accuracy  # the model's own, the same at every cut
    noisy_accuracy: Accuracy  # on the evaluation samples, with the noise the attacks invert
    bound: BoundResult | None
    references: tuple[Reference, ...]  # prior and label, at the run seed
    runs: tuple[AttackRun, ...]  # one per attack x seed
    attacks: tuple[AttackSummary, ...]  # one per attack
    # NOTE: the strongest reconstruction: the attack (mean over seeds) or reference ("label
    # reference", "prior reference") with the lowest MSE, which the frontier ranks by
    strongest: str | None = None
    strongest_mse: float | None = None
    recovered: float | None = None  # the largest recovered share of any of them
    pareto: bool = False  # no other point is both more accurate and more private
    meets: bool | None = None  # meets the constraints (None: no constraint given)

    def floor_refuted_by(self) -> Reconstruction | None:
        """The lowest attack run or reference below the floor (S), which then does not hold.

        As `verdict.floor_refuted_by`; None when none lies below it.
        """
        from privaudit.results.verdict import floor_refuted_by

        return floor_refuted_by(self.bound, [r.result for r in self.runs], self.references)


@dataclass(frozen=True)
class Constraints:
    """What the recommendation must meet; None: not constrained."""

    min_accuracy: float | None = None
    min_attack_mse: float | None = None
    max_recovered: float | None = None


@dataclass(frozen=True)
class Recommendation:
    """The answer: the cut and sigma to deploy, or the closest point when none qualifies."""

    status: str  # "met" | "unmet" | "unconstrained"
    headline: str
    cut: str | None = None  # the recommended (met) or closest (unmet) point
    noise_sigma: float | None = None
    shortfalls: tuple[str, ...] = ()  # what the closest point misses by (unmet)
    command: str = ""  # the full audit of that point

    @property
    def met(self) -> bool:
        """True when a point meets every constraint."""
        return self.status == "met"


@dataclass(frozen=True)
class Execution:
    """How the jobs ran; never changes a number (jobs are seeded by their coordinates)."""

    executor: str  # "local" | "ray"
    workers: int
    threads_per_job: int
    jobs: int  # every job of the grid (cut jobs and attack jobs)
    ran: int  # computed in this run
    reused: int  # read from finished shards
    shards: str  # the shards folder
    address: str | None = None  # the Ray cluster


@dataclass(frozen=True)
class SweepReport:
    """The complete result of one `privaudit sweep` (the canonical `sweep.json`)."""

    model: SweepModel
    data: DataInfo
    cuts: tuple[CutInfo, ...]
    noise_sigmas: tuple[float, ...]
    attacks: tuple[str, ...]
    seeds: tuple[int, ...]
    budget: str
    frontier_metric: str  # "mse" (the strongest reconstruction's MSE) | "recovered"
    points: tuple[GridPoint, ...]  # cut-major, sigmas ascending
    constraints: Constraints
    recommendation: Recommendation
    gate: GateResult  # the gate, on the recommended point
    provenance: Provenance
    execution: Execution
    warnings: tuple[str, ...] = ()
    kind: str = SWEEP_KIND
    schema_version: int = SWEEP_SCHEMA_VERSION

    def point(self, cut: str, noise_sigma: float) -> GridPoint | None:
        """The point at (`cut`, `noise_sigma`), or None."""
        return next((p for p in self.points if p.cut == cut and p.noise_sigma == noise_sigma),
                    None)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form as Python data (see `sweep_to_dict`)."""
        return sweep_to_dict(self)

    def to_json(self) -> str:
        """The canonical JSON text, exactly as `sweep.json` holds it."""
        return json_text(sweep_to_dict(self))


def sweep_to_dict(report: SweepReport) -> dict[str, Any]:
    """``schema_version`` and ``kind`` first, NaN as null, tuples as lists."""
    data: dict[str, Any] = to_jsonable(report)
    head = {"schema_version": data.pop("schema_version"), "kind": data.pop("kind")}
    return {**head, **data}
