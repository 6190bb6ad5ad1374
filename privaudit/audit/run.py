"""Compose the steps of `assess` (prepare, features, bound, utility, sweep, attacks, gate)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
from torch import nn

from privaudit.attacks import Capability, Scorer, Target, as_images, run_battery, scoring_seed
from privaudit.audit.dfil import measure_dfil
from privaudit.audit.features import Features, audit_labels, extract_features
from privaudit.audit.prepare import InMemory, Prepared, prepare
from privaudit.audit.provenance import Timer, provenance
from privaudit.audit.references import score_references
from privaudit.audit.target import build_target
from privaudit.audit.utility import head_session, sweep, utility
from privaudit.bound import (
    DEQUANTIZATION_VARIANCE,
    input_entropy_certified,
    input_entropy_from_user,
    input_entropy_gaussian,
    noise_sweep,
)
from privaudit.config import Budget, Config, EntropySource, EntropySpec
from privaudit.gate import evaluate_gate
from privaudit.model import image_input, make_session, verify_split
from privaudit.progress import NullProgress, Progress
from privaudit.results import (
    AttackResult,
    AuditReport,
    BoundResult,
    DataInfo,
    Dfil,
    ModelInfo,
    build_verdict,
)
from privaudit.runtime import derive_seed, resolve_device

__all__ = ["SAMPLES_STORED", "measure_prepared", "run_assess"]

log = logging.getLogger(__name__)

SAMPLES_STORED = 12  # evaluation images whose reconstructions go into the report


def run_assess(
    cfg: Config,
    *,
    progress: Progress | None = None,
    noise_source: str | None = None,
    memory: InMemory | None = None,
) -> AuditReport:
    """Run a full audit: bound, utility, noise sweep and attack battery, then the gate.

    Raises:
        PrivauditError: anything the user can fix (bad model, split, data, config).
    """
    timer = Timer()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    with timer.stage("prepare"):
        prep = prepare(cfg, noise_source=noise_source, memory=memory)
    return measure_prepared(cfg, prep, progress or NullProgress(), timer, created)[0]


def measure_prepared(
    cfg: Config,
    prep: Prepared,
    progress: Progress,
    timer: Timer,
    created: str,
    command: str = "assess",
) -> tuple[AuditReport, Features]:
    """Measure a prepared (model, split, data), the part shared by `assess` and `harden`.

    Returns:
        The audit report and the clean audit features it extracted (harden reuses them).
    """
    with timer.stage("split_check"):
        max_diff = _check_split(prep)
    enc = make_session(prep.split.encoder)
    with timer.stage("features"), progress.task("features", total=None):
        feats = extract_features(prep.audit, prep.norm, enc, cfg.batch_size)
    with timer.stage("bound"), progress.task("bound", total=None):
        bound, *sweep_bounds = _bounds(cfg, prep, feats, _inputs(prep))
    with timer.stage("utility"):
        head = head_session(prep)
        accuracy, notes = utility(cfg, prep, feats, head)
    with timer.stage("sweep"):
        measured = head if accuracy.clean_accuracy is not None else None
        points = sweep(cfg, prep, feats, sweep_bounds, measured)
    target, conversion = build_target(prep, enc)
    scorer = Scorer(as_images(prep.audit.eval.x), bound.mse_floor, SAMPLES_STORED,
                    scoring_seed(cfg.seed))  # fmt: skip
    with timer.stage("references"):
        references = score_references(prep, feats, measured, cfg.seed, scorer)
    attacks = _attacks(cfg, prep, target, conversion, progress, timer, feats, scorer)
    with timer.stage("dfil"), progress.task("dfil", total=None):
        dfil = _dfil(cfg, prep, target.torch_encoder, conversion)
    report = AuditReport(
        model=_model_info(prep, feats, max_diff, conversion),
        data=_data_info(prep),
        bound=bound,
        sweep=points,
        utility=accuracy,
        attacks=attacks,
        gate=evaluate_gate(cfg.gate, bound, attacks, dfil),
        provenance=provenance(cfg, created, command, timer),
        warnings=(*(bound.warnings if bound else ()), *notes),
        sample_images=_samples(prep) if attacks else (),
        references=references,
        dfil=dfil,
    )
    return replace(report, verdict=build_verdict(report)), feats


def _samples(prep: Prepared) -> tuple[tuple[float, ...], ...]:
    """The first evaluation images, flat and rounded, to show beside their reconstructions."""
    x = prep.audit.eval.x[:SAMPLES_STORED].reshape(-1, int(np.prod(prep.audit.eval.x.shape[1:])))
    return tuple(tuple(float(v) for v in row) for row in np.round(x.astype(np.float64), 4))


def _check_split(prep: Prepared) -> float | None:
    """head(encoder(x)) vs model(x) on a few audit inputs; ModelError above 1e-4."""
    if prep.model is None:
        return None
    sample = prep.norm.apply(prep.dataset.x[: min(8, len(prep.dataset.x))])
    return verify_split(prep.model, prep.split, sample, atol=1e-4)


def _inputs(prep: Prepared) -> np.ndarray:
    """(n, d) the audit inputs in the rows' order of the features: aux, then eval."""
    x = np.concatenate([prep.audit.aux.x, prep.audit.eval.x])
    return x.reshape(len(x), -1)


def _input_entropy(cfg: Config, inputs: np.ndarray) -> tuple[float, str]:
    """h(x)/d in nats and its source; computed once per audit (bound and sweep share it)."""
    spec = cfg.bound.input_entropy
    if spec == EntropySpec.CERTIFIED:
        return input_entropy_certified(), EntropySource.CERTIFIED.value
    if spec == EntropySpec.GAUSSIAN:
        return input_entropy_gaussian(inputs), EntropySource.GAUSSIAN.value
    value = input_entropy_from_user(float(spec), cfg.bound.input_entropy_unit)
    return value, EntropySource.USER.value


def _bounds(
    cfg: Config, prep: Prepared, feats: Features, inputs: np.ndarray
) -> list[BoundResult]:
    """The bound at the deployment sigma (with its interval), then one per sweep sigma.

    One `noise_sweep` call: the clusterings are fitted once for the bound and the sweep.
    """
    h, source = _input_entropy(cfg, inputs)
    return noise_sweep(
        feats.all,
        audit_labels(prep.audit),
        [prep.noise_sigma, *cfg.noise_sweep],
        input_dim=int(np.prod(prep.audit.aux.x.shape[1:])),
        input_entropy=h,
        input_entropy_source=source,
        covariance=cfg.bound.covariance,
        k=cfg.bound.k,
        bootstrap=cfg.bound.bootstrap,
        seed=cfg.seed,
        interval_at=[prep.noise_sigma],
        x=inputs,
        delta=DEQUANTIZATION_VARIANCE,
    )


def _attacks(
    cfg: Config,
    prep: Prepared,
    target: Target,
    conversion: str,
    progress: Progress,
    timer: Timer,
    feats: Features,
    scorer: Scorer,
) -> tuple[AttackResult, ...]:
    if not cfg.attacks.enabled:
        return ()
    device = resolve_device(cfg.device)
    with timer.stage("attacks"):
        results = run_battery(
            target,
            prep.audit.aux.x,
            prep.audit.aux.y,
            prep.audit.eval.x,
            attacks=list(cfg.attacks.enabled),
            budget=Budget(cfg.attacks.budget),
            params_tables={k: dict(v) for k, v in cfg.attacks.params.items()},
            seed=cfg.seed,
            device=device,
            progress=progress,
            floor=scorer.floor,
            n_samples_stored=SAMPLES_STORED,
            missing_reasons={
                Capability.GRADIENTS: f"the encoder could not be converted to torch: {conversion}"
            },
            clean_features=(feats.aux, feats.evaluation),  # the bound's: not queried again
            scorer=scorer,
        )
    return results


def _dfil(cfg: Config, prep: Prepared, encoder: nn.Module | None, conversion: str) -> Dfil | None:
    """DFIL over the evaluation inputs (None when switched off with `bound.dfil`)."""
    if not cfg.bound.dfil:
        return None
    return measure_dfil(
        encoder, prep.audit.eval.x, prep.noise_sigma, seed=derive_seed(cfg.seed, "dfil"),
        device=resolve_device(cfg.device), reason=conversion,
    )


def _model_info(
    prep: Prepared, feats: Features, max_diff: float | None, conversion: str
) -> ModelInfo:
    spec = image_input(prep.split.encoder)
    return ModelInfo(
        path=str(prep.model_path),
        sha256=prep.model_sha256,
        split=prep.split_name,
        cut_tensor=prep.split.cut_tensor,
        input_name=spec.name,
        input_shape=tuple(int(d) for d in prep.dataset.x.shape[1:]),
        feature_shape=feats.shape,
        split_max_diff=max_diff,
        torch_conversion=conversion,
        noise_source=prep.noise_source,
        noise_stds=prep.noise_stds,
    )


def _data_info(prep: Prepared) -> DataInfo:
    ds = prep.dataset
    classes = None if ds.y is None else int(len(np.unique(ds.y)))
    return DataInfo(
        source=ds.source,
        fingerprint=ds.fingerprint,
        n_total=len(ds.x),
        n_aux=len(prep.audit.aux.x),
        n_eval=len(prep.audit.eval.x),
        classes=classes,
        transforms=tuple(ds.transforms) + tuple(prep.audit.aux.transforms[len(ds.transforms) :]),
        mean=prep.norm.mean,
        std=prep.norm.std,
    )
