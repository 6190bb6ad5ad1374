"""Compose the steps of `assess` (prepare, features, bound, utility, sweep, attacks, gate)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
from torch import nn

from privaudit.attacks import (
    Capability,
    Measure,
    Scorer,
    Target,
    as_images,
    run_battery,
    scoring_seed,
)
from privaudit.audit.bounds import check_split, measure_bounds
from privaudit.audit.dfil import TARGET_RSE, measure_dfil
from privaudit.audit.features import Features, extract_features
from privaudit.audit.prepare import InMemory, Prepared, prepare
from privaudit.audit.provenance import Timer, provenance
from privaudit.audit.references import nearest_inputs, score_references
from privaudit.audit.target import build_target
from privaudit.audit.utility import head_session, sweep, utility
from privaudit.config import Budget, ChannelLayout, Config, Domain
from privaudit.errors import ConfigError
from privaudit.gate import evaluate_gate
from privaudit.model import (
    image_input,
    is_channels_first_view,
    make_session,
    metadata,
    transposed_signal,
)
from privaudit.progress import NullProgress, Progress
from privaudit.results import (
    AttackResult,
    AuditReport,
    BoundResult,
    DataInfo,
    Dfil,
    ModelInfo,
    Reference,
    Status,
    build_verdict,
)
from privaudit.results.verdict import (
    floor_refuted_by,
    paper_floor_refuted_by,
    refuted_floor_words,
    refuted_paper_floor_words,
)
from privaudit.runtime import derive_seed, resolve_device
from privaudit.threads import resolve_threads, use_threads

__all__ = [
    "SAMPLES_STORED", "UNCHECKED_FLOOR", "check_embedded_sigma", "data_info", "measure",
    "measure_prepared", "run_assess", "unchecked_floor_warning",
]

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

    The run's torch, onnxruntime and BLAS threads are `cfg.threads` (see `privaudit.threads`).

    Raises:
        PrivauditError: anything the user can fix (bad model, split, data, config).
    """
    timer = Timer()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    with use_threads(resolve_threads(cfg.threads)):
        with timer.stage("prepare"):
            prep = prepare(cfg, noise_source=noise_source, memory=memory)
            check_embedded_sigma(prep, cfg.noise_sweep)
        return measure_prepared(cfg, prep, progress or NullProgress(), timer, created)[0]


def check_embedded_sigma(
    prep: Prepared, others: Sequence[float] = (), cuts: Sequence[str] = (), *,
    sweep: bool = False,
) -> None:
    """Refuse to audit (or harden) a model with `--embed-noise` elsewhere than its own noise.

    Its graph adds its noise whatever the server is told: `--noise 0.5` on a model that adds
    0.1 audited a deployment that cannot happen (noisy accuracy 25.5%, attacks at 0.5), and
    so did a cut before the noisy tensor, whose features the device sends without noise.

    Args:
        prep: the prepared run.
        others: more sigmas the run measures (`--noise-sweep`, a sweep's grid).
        cuts: more cut tensors the run measures (a sweep's), besides `prep`'s.
        sweep: the run is a sweep, whose grid defaults to other sigmas and cuts: the hints
            name the flags that give it the model's own.

    Raises:
        ConfigError: the audited sigma or cut, or one of `others` or `cuts`, is not the one
            in the graph.
    """
    if not prep.embedded_noise:
        return
    noisy = prep.embedded_at
    # NOTE: the cut is checked even when the metadata lost its sigma: the device sends clean
    # features before the noisy tensor whatever --noise says
    for cut in (prep.split.cut_tensor, *cuts):
        if noisy and cut != noisy:
            where = prep.metadata.get(metadata.SPLIT)
            flag = "--splits" if sweep else "--split"
            raise ConfigError(
                f"{prep.model_path} adds its noise inside its graph at {noisy} (hardened with "
                f"--embed-noise): a cut at {cut} describes a deployment it cannot have",
                hint=f"split it where its noise is ({f'{flag} {where} or ' if where else ''}"
                "the tensor above), or audit the model it was hardened from")  # fmt: skip
    embedded = prep.embedded_sigma  # NOTE: the graph's own, even when the metadata lost it
    if embedded is None:
        try:
            embedded = float(prep.metadata[metadata.NOISE_SIGMA])
        except (KeyError, ValueError):
            return  # NOTE: `prepare` has refused a sigma that is not a number when it reads it
    for sigma in (prep.noise_sigma, *others):
        # NOTE: the graph stores its scale in float32
        if math.isclose(embedded, sigma, rel_tol=1e-6, abs_tol=1e-12):
            continue
        audited = sigma == prep.noise_sigma
        if sweep:
            keep = (f"give --noise {embedded:g} alone (the model's own sigma; the default grid "
                    "holds others)")
        else:
            keep = ("leave --noise out (the model's own sigma is used)" if audited else
                    "leave the other sigmas out")
        raise ConfigError(
            f"{prep.model_path} adds noise of sigma {embedded:g} inside its graph (hardened "
            f"with --embed-noise): an audit at sigma {sigma:g} describes a deployment it "
            "cannot have",
            hint=keep + "; for another sigma, start from the model it "
            "was hardened from, without the noise (its sha256 is privaudit.hardened_from in "
            "the metadata)",
        )


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
        max_diff = check_split(prep)
    enc = make_session(prep.split.encoder)
    with timer.stage("features"), progress.task("features", total=None):
        feats = extract_features(prep.audit, prep.feed, enc, cfg.batch_size)
    with timer.stage("bound"), progress.task("bound", total=None):
        sigmas = [prep.noise_sigma, *cfg.noise_sweep]
        bound, *sweep_bounds = measure_bounds(cfg, prep, feats, sigmas,
                                              interval_at=[prep.noise_sigma])
    with timer.stage("utility"):
        head = head_session(prep)
        accuracy, notes = utility(cfg, prep, feats, head)
    measured = head if accuracy.clean_accuracy is not None else None
    with timer.stage("sweep") if cfg.noise_sweep else nullcontext():  # NOTE: no "sweep (s) 0"
        points = sweep(cfg, prep, feats, sweep_bounds, measured)
    target, conversion = build_target(prep, enc)
    scorer = Scorer(as_images(prep.audit.eval.x), bound.mse_floor, SAMPLES_STORED,
                    scoring_seed(cfg.seed), measure(prep))  # fmt: skip
    with timer.stage("references"):
        device = resolve_device(cfg.device)
        # NOTE: searched once, for the `nearest` reference and the `knn` attack at k=1
        nearest = nearest_inputs(feats.aux, feats.evaluation, [prep.noise_sigma], cfg.seed,
                                 device=device).get(prep.noise_sigma)  # fmt: skip
        references = score_references(prep, feats, measured, cfg.seed, scorer, device=device,
                                      nearest=nearest)  # fmt: skip
    attacks = _attacks(cfg, prep, target, conversion, progress, timer, feats, scorer, nearest)
    with timer.stage("dfil"), progress.task("dfil", total=None):
        dfil = _dfil(cfg, prep, target.torch_encoder, conversion)
    report = AuditReport(
        model=_model_info(prep, feats, max_diff, conversion),
        data=data_info(prep),
        bound=bound,
        sweep=points,
        utility=accuracy,
        attacks=attacks,
        gate=evaluate_gate(cfg.gate, bound, attacks, dfil, references),
        provenance=provenance(cfg, created, command, timer),
        warnings=(*(bound.warnings if bound else ()), *notes, *small_audit_warning(prep, attacks),
                  *layout_warning(prep),
                  *_refuted_warning(bound, attacks, references),
                  *unchecked_floor_warning(bound, attacks, references), *_dfil_warning(dfil)),
        sample_images=_samples(prep) if attacks else (),
        references=references,
        dfil=dfil,
    )
    return replace(report, verdict=build_verdict(report)), feats


def measure(prep: Prepared) -> Measure:
    """How the battery and the references score this run's inputs (domain and units)."""
    units = prep.dataset.units
    return Measure(domain=prep.dataset.domain, names=units.names, mean=units.mean,
                   std=units.std, discrete=units.discrete, data_range=units.data_range,
                   levels=units.levels)


def _refuted_warning(bound: BoundResult | None, attacks: tuple[AttackResult, ...],
                     references: tuple[Reference, ...]) -> tuple[str, ...]:  # fmt: skip
    """A warning when a reconstruction lies below the floor, which then does not hold."""
    by = floor_refuted_by(bound, attacks, references)
    if bound is not None and by is not None:
        return (f"the floor does not hold: {refuted_floor_words(bound, by)}; gate on the "
                "attacks (--fail-under-attack-mse), not on the floor or the conditional "
                "entropy",)  # fmt: skip
    paper = paper_floor_refuted_by(bound, attacks, references)
    if bound is None or paper is None:
        return ()
    return (f"the paper's floor (T) does not hold: {refuted_paper_floor_words(bound, paper)}; "
            "gate on the attacks (--fail-under-attack-mse), not on the conditional entropy",)


UNCHECKED_FLOOR = (
    "no attack measured anything, so the floor (S) was checked against the reference "
    "reconstructions only: data that is not Gaussian within each class in ways a lookup does "
    "not show (sparse or heavy-tailed columns, many modes, curved shapes, integer grids, few "
    "grey levels) has beaten it 2 to 58 times (README, The bound); run the attacks before "
    "trusting a floor gate"
)


def unchecked_floor_warning(
    bound: BoundResult | None, attacks: Sequence[AttackResult], references: Sequence[Reference]
) -> tuple[str, ...]:
    """A warning when a floor is stated and no attack succeeded to test its assumption."""
    if bound is None or bound.vacuous or bound.floor_vacuous or not (bound.mse_floor or 0) > 0:
        return ()
    if any(a.status is Status.OK for a in attacks):
        return ()
    if floor_refuted_by(bound, attacks, references) is not None:
        return ()  # NOTE: the refuted floor has its own warning
    return (UNCHECKED_FLOOR,)


SMALL_EVAL = 100  # fewer evaluation samples of vectors or signals than this get a warning
SMALL_AUX = 50  # fewer auxiliary samples than this (or than evaluation ones) get a warning


def layout_warning(prep: Prepared) -> tuple[str, ...]:
    """A warning when a signal input read channels-first looks like (N, T, C) to the model.

    Sizes cannot tell a signal's axes apart; a model that first transposes its input is the
    sign (`privaudit.model.transposed_signal`).
    """
    found = transposed_signal(prep.split.encoder) if (
        prep.dataset.domain == Domain.SIGNAL) else None  # fmt: skip
    if found is None:
        return ()
    a, b = found
    return (f"the model transposes its signal input (N, {a}, {b}) first, and privaudit reads it "
            f"as {a} channels of {b} time steps: if its axes are (N, T, C), {a} steps of {b} "
            "channels (Keras exports keep channels last), pass --layout channels-last",)


def small_audit_warning(prep: Prepared, attacks: Sequence[AttackResult]) -> tuple[str, ...]:
    """A warning on an attacker with few auxiliary samples, or a small table or signal audit.

    The first in any domain (an `eval_fraction` near 1 left a tester's attacker 6 samples,
    and an attack gate passed on it); the second is common: a table of a few hundred rows.
    Each is about the attacks' training and scores, so none when no attack ran (`--no-attacks`,
    or every attack skipped).
    """
    n_aux, n_eval = len(prep.audit.aux.x), len(prep.audit.eval.x)
    ran = any(a.status is not Status.SKIPPED for a in attacks)
    if not ran:
        return ()
    if n_aux < SMALL_AUX or n_aux < n_eval:
        return (f"the attacker holds few auxiliary samples: {n_aux}, against {n_eval} "
                "evaluation ones; the attacks learn from them, so their MSE can overstate "
                "privacy (a real attacker may hold more): lower eval_fraction or max_eval, or "
                "audit more samples, before you gate on the attacks",)  # fmt: skip
    if prep.dataset.domain == Domain.IMAGE or n_eval >= SMALL_EVAL:
        return ()
    return (f"a small audit: {n_eval} evaluation and {n_aux} auxiliary samples; the attacks "
            "learn from few samples and their MSE and per-feature R^2 are uncertain (see the "
            "intervals): audit more rows if you have them",)


def _samples(prep: Prepared) -> tuple[tuple[float, ...], ...]:
    """The first evaluation samples, flat and rounded, to show beside their reconstructions."""
    x = prep.audit.eval.x[:SAMPLES_STORED].reshape(-1, int(np.prod(prep.audit.eval.x.shape[1:])))
    return tuple(tuple(float(v) for v in row) for row in np.round(x.astype(np.float64), 4))


def _attacks(
    cfg: Config,
    prep: Prepared,
    target: Target,
    conversion: str,
    progress: Progress,
    timer: Timer,
    feats: Features,
    scorer: Scorer,
    nearest: np.ndarray | None,
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
            nearest=nearest,
        )
    return results


def _dfil_warning(dfil: Dfil | None) -> tuple[str, ...]:
    """A warning when dFIL's probes stopped at their cap short of their precision target.

    The README promised probes until the relative standard error is 2%; the tabular demo
    stopped at 128 probes with 2.9%, and nothing said so.
    """
    rse = None if dfil is None or dfil.status is not Status.OK else dfil.relative_standard_error
    if rse is None or rse <= TARGET_RSE:
        return ()
    return (f"dFIL stopped at its {dfil.probes if dfil else 0} probes with a relative "
            f"standard error of {100 * rse:.1f}% on its mean, above the {100 * TARGET_RSE:g}% "
            "it aims at: its numbers (and a --fail-under-dfil-mse gate) are that much less "
            "exact",)


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
        domain=prep.dataset.domain.value,
        noise_stds=prep.noise_stds,
        embedded_noise=prep.embedded_noise,
        layout=(ChannelLayout.CHANNELS_LAST if is_channels_first_view(prep.split.encoder)
                else ChannelLayout.CHANNELS_FIRST).value,
    )


def data_info(prep: Prepared) -> DataInfo:
    """Where the audit data came from, its split sizes and the transforms applied."""
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
        feature_names=ds.units.names,
        feature_mean=ds.units.mean,
        feature_std=ds.units.std,
        discrete=ds.units.discrete,
        data_range=ds.units.data_range,
    )
