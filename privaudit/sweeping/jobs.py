"""What a sweep's jobs compute, with the very functions `assess` uses, wherever they run.

A cut job extracts the cut's features once and measures every sigma's point from them: the
bound (one `noise_sweep`: clusterings and spectra fitted once, an interval at every sigma),
the server's predictions (one noise draw scaled per sigma) that give both the noisy accuracy
and the label reference, the prior reference, and the nearest reference (one more pass over
the same draw, whose search a `knn` job at the run's seed takes). An attack job runs one
attack at one seed on those features through `run_battery`, scored against the references
of its own seed: so a point equals `privaudit assess --split CUT --noise SIGMA --seed SEED`
on the same data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from privaudit.attacks import Capability, Scorer, as_images, run_battery, scoring_seed
from privaudit.audit import (
    Features,
    Prepared,
    Timer,
    build_target,
    extract_features,
    torch_encoder,
)
from privaudit.audit.bounds import audit_inputs, check_split, measure_bounds
from privaudit.audit.references import (
    nearest_inputs,
    score_label,
    score_nearest,
    score_prior,
    server_classes,
)
from privaudit.audit.run import measure
from privaudit.audit.utility import head_classes
from privaudit.config import Budget
from privaudit.model import make_session
from privaudit.progress import NullProgress
from privaudit.results import Accuracy, AttackResult, BoundResult, CutInfo, Reference
from privaudit.runtime import resolve_device
from privaudit.sweeping.accuracy import accuracy_of
from privaudit.sweeping.context import SweepContext
from privaudit.sweeping.grid import AttackJob, CutJob

__all__ = ["CutOutput", "PointMeasure", "run_attack_job", "run_cut_job"]


@dataclass(frozen=True)
class PointMeasure:
    """A cut job's measurements at one sigma (a point shard), with what it knows of the cut."""

    noise_sigma: float
    info: CutInfo
    labelled: bool  # labels and a head whose output is logits: accuracy and label reference
    bound: BoundResult
    noisy_accuracy: Accuracy  # on the evaluation samples (at sigma 0 too: the same samples)
    references: tuple[Reference, ...]


@dataclass(frozen=True)
class CutOutput:
    """A cut job's result: the cut and its points (none when only features were asked).

    `nearest` holds the `nearest` reference's search at each sigma of the points (at the
    run's seed), for the `knn` jobs at that seed.
    """

    cut: str
    info: CutInfo
    labelled: bool
    points: tuple[PointMeasure, ...]
    nearest: dict[float, np.ndarray] = field(default_factory=dict)


def run_cut_job(ctx: SweepContext, job: CutJob) -> tuple[CutOutput, Features]:
    """Extract the cut's features and, if asked, measure every sigma's point from them.

    Returns:
        The measurements, and the features (the executor hands them to the attack jobs).

    Raises:
        PrivauditError: a split that does not reproduce the model, bad features, bad labels.
    """
    prep, timer = ctx.prepared(job.cut), Timer()
    with timer.stage("split_check"):
        max_diff = check_split(prep)
    encoder = make_session(prep.split.encoder, threads=ctx.threads)
    with timer.stage("features"):
        feats = extract_features(prep.audit, prep.feed, encoder, ctx.cfg.batch_size)
    _, conversion = torch_encoder(prep)
    head = _measured_head(ctx, prep, feats)
    points: tuple[PointMeasure, ...] = ()
    nearest: dict[float, np.ndarray] = {}
    info = CutInfo(job.cut, prep.split.cut_tensor, ctx.cut(job.cut).depth, feats.shape,
                   max_diff, conversion, {})  # fmt: skip
    if job.points:
        measured, nearest = _measure_points(ctx, prep, feats, head, timer)
        info = CutInfo(info.name, info.cut_tensor, info.depth, info.feature_shape, max_diff,
                       conversion, dict(timer.seconds))  # fmt: skip
        points = tuple(_point(info, head is not None, *m) for m in measured)
    return CutOutput(job.cut, info, head is not None, points, nearest), feats


_Measured = tuple[float, BoundResult, Accuracy, tuple[Reference, ...]]


def _measure_points(
    ctx: SweepContext, prep: Prepared, feats: Features, head: object | None, timer: Timer
) -> tuple[list[_Measured], dict[float, np.ndarray]]:
    """The bound, accuracy and references at every sigma, and each sigma's `nearest` search."""
    sigmas, seed = ctx.noise_sigmas, ctx.cfg.seed
    with timer.stage("bound"):
        bounds = measure_bounds(ctx.cfg, prep, feats, sigmas, interval_at=sigmas,
                                entropy=ctx.entropy, inputs=audit_inputs(prep),
                                grid=ctx.grid)  # fmt: skip
    predicted: dict[float, np.ndarray] = {}
    accuracies = {s: Accuracy(None) for s in sigmas}
    if head is not None:
        with timer.stage("accuracy"):
            predicted = server_classes(head, feats.evaluation, feats.shape, sigmas, seed)
            assert prep.audit.eval.y is not None
            # NOTE: sigma 0 too: every point's accuracy is on the same evaluation samples
            accuracies.update({s: accuracy_of(predicted[s], prep.audit.eval.y)
                               for s in sigmas})  # fmt: skip
    out: list[_Measured] = []
    with timer.stage("references"):
        scorer = Scorer(as_images(prep.audit.eval.x), None, 0, scoring_seed(seed), measure(prep))
        prior = score_prior(prep, scorer)  # NOTE: once: it does not depend on sigma
        nearest = nearest_inputs(feats.aux, feats.evaluation, sigmas, seed,
                                 device=resolve_device(ctx.cfg.device))
        for s, bound in zip(sigmas, bounds, strict=True):
            at = ctx.prepared(prep.split_name, s)
            label = score_label(at, feats, head, seed, scorer, predicted=predicted.get(s))
            near = score_nearest(at, feats, seed, scorer, nearest=nearest.get(s))
            out.append((s, bound, accuracies[s], (prior, label, near)))
    return out, nearest


def _point(info: CutInfo, labelled: bool, sigma: float, bound: BoundResult, acc: Accuracy,
           refs: tuple[Reference, ...]) -> PointMeasure:  # fmt: skip
    return PointMeasure(sigma, info, labelled, bound, acc, refs)


def _measured_head(ctx: SweepContext, prep: Prepared, feats: Features) -> object | None:
    """The head's session when its predictions can be scored: labels, logits (as `assess`)."""
    if prep.split.head is None or prep.audit.aux.y is None or prep.audit.eval.y is None:
        return None
    head = make_session(prep.split.head, threads=ctx.threads)
    return head if head_classes(head, feats) is not None else None


def run_attack_job(ctx: SweepContext, feats: Features, job: AttackJob) -> AttackResult:
    """Run one attack at one seed, exactly as `assess` runs it in its battery.

    `prior` and `label` are scored first with the same seed, so the recovered share and the
    comparison with the label reference pair with the attack's own scoring.
    """
    prep = ctx.prepared(job.cut, job.noise_sigma)
    session = make_session(prep.split.encoder, threads=ctx.threads)
    target, conversion = build_target(prep, session)
    scorer = Scorer(as_images(prep.audit.eval.x), job.floor, 0, scoring_seed(job.seed),
                    measure(prep))
    head = make_session(prep.split.head, threads=ctx.threads) if (
        job.labelled and prep.split.head is not None) else None
    score_prior(prep, scorer)  # NOTE: what the scorer needs: no `nearest` search per attack
    score_label(prep, feats, head, job.seed, scorer)
    cfg = ctx.cfg
    (result,) = run_battery(
        target, prep.audit.aux.x, prep.audit.aux.y, prep.audit.eval.x,
        attacks=[job.attack], budget=Budget(cfg.attacks.budget),
        params_tables={k: dict(v) for k, v in cfg.attacks.params.items()},
        seed=job.seed, device=resolve_device(cfg.device), progress=NullProgress(),
        floor=job.floor, n_samples_stored=0,
        missing_reasons={
            Capability.GRADIENTS: f"the encoder could not be converted to torch: {conversion}"
        },
        clean_features=(feats.aux, feats.evaluation), scorer=scorer,
        nearest=_nearest_of(ctx, job),
    )  # fmt: skip
    return result


def _nearest_of(ctx: SweepContext, job: AttackJob) -> np.ndarray | None:
    """The cut job's `nearest` search, where it is this job's own (its seed is the run's)."""
    if job.seed != ctx.cfg.seed or not isinstance(job.nearest, np.ndarray):
        return None
    return job.nearest
