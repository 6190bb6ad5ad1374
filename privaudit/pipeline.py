"""Compose the steps of `assess` (prepare, features, bound, utility, sweep, attacks, gate)."""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata

import numpy as np

from privaudit import __version__
from privaudit import bound as bound_mod
from privaudit import model as model_mod
from privaudit.config import Config, as_dict
from privaudit.errors import PrivauditError
from privaudit.gate import evaluate_gate
from privaudit.prepare import Prepared, encode, prepare
from privaudit.progress import NullProgress, Progress
from privaudit.results import (
    AttackResult,
    AuditReport,
    BoundResult,
    DataInfo,
    ModelInfo,
    Provenance,
)
from privaudit.utility import (
    Features,
    _input_entropy,
    _labels,
    _sweep,
    _utility,
    head_session,
)

log = logging.getLogger(__name__)

SAMPLES_STORED = 12  # evaluation images whose reconstructions go into the report


@dataclass
class Timer:
    """Wall time per named stage, in seconds."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the enclosed block under `name`."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 4)


def run_assess(
    cfg: Config, *, progress: Progress | None = None, sigma_source: str | None = None
) -> AuditReport:
    """Run a full audit: bound, utility, noise sweep and attack battery, then the gate.

    Raises:
        PrivauditError: anything the user can fix (bad model, split, data, config).
    """
    timer = Timer()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    with timer.stage("prepare"):
        prep = prepare(cfg, sigma_source=sigma_source)
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
    enc = model_mod.make_session(prep.split.encoder)
    with timer.stage("features"), progress.task("features", total=None):
        feats = _features(prep, enc, cfg.batch_size)
    with timer.stage("bound"), progress.task("bound", total=None):
        bound, *sweep_bounds = _bounds(cfg, prep, feats, _input_entropy(cfg, prep))
    with timer.stage("utility"):
        head = head_session(prep)
        utility = _utility(cfg, prep, feats, head)
    with timer.stage("sweep"):
        sweep = _sweep(cfg, prep, feats, sweep_bounds, head)
    conversion, attacks = _attacks(cfg, prep, enc, bound, progress, timer, feats)
    report = AuditReport(
        model=_model_info(prep, feats, max_diff, conversion),
        data=_data_info(prep),
        bound=bound,
        sweep=sweep,
        utility=utility,
        attacks=attacks,
        gate=evaluate_gate(cfg.gate, bound, attacks),
        provenance=_provenance(cfg, created, command, timer),
        warnings=tuple(bound.warnings) if bound else (),
        sample_images=_samples(prep) if attacks else (),
    )
    return report, feats


def _samples(prep: Prepared) -> tuple[tuple[float, ...], ...]:
    """The first evaluation images, flat and rounded, to show beside their reconstructions."""
    x = prep.audit.eval.x[:SAMPLES_STORED].reshape(-1, int(np.prod(prep.audit.eval.x.shape[1:])))
    return tuple(tuple(float(v) for v in row) for row in np.round(x.astype(np.float64), 4))


def _check_split(prep: Prepared) -> float | None:
    """head(encoder(x)) vs model(x) on a few audit inputs; ModelError above 1e-4."""
    from privaudit import split as split_mod

    if prep.model is None:
        return None
    sample = prep.norm.apply(prep.dataset.x[: min(8, len(prep.dataset.x))])
    return split_mod.verify_split(prep.model, prep.split, sample, atol=1e-4)


def _features(prep: Prepared, session: object, batch: int) -> Features:
    z = encode(session, prep.norm, prep.audit.aux.x, prep.audit.eval.x, batch=batch)
    shape = tuple(int(d) for d in z.shape[1:])
    return Features(z.reshape(len(z), -1), len(prep.audit.aux.x), shape)


def _bounds(
    cfg: Config, prep: Prepared, feats: Features, entropy: tuple[float, str]
) -> list[BoundResult]:
    """The bound at the deployment sigma (with its interval), then one per sweep sigma.

    One `noise_sweep` call: the clusterings are fitted once for the bound and the sweep.
    """
    h, source = entropy
    return bound_mod.noise_sweep(
        feats.all,
        _labels(prep),
        [prep.sigma, *cfg.noise_sweep],
        input_dim=int(np.prod(prep.audit.aux.x.shape[1:])),
        input_entropy=h,
        input_entropy_source=source,
        covariance=cfg.bound.covariance,
        k=cfg.bound.k,
        bootstrap=cfg.bound.bootstrap,
        seed=cfg.seed,
        interval_sigmas=[prep.sigma],
    )


def _attacks(
    cfg: Config,
    prep: Prepared,
    session: object,
    bound: BoundResult | None,
    progress: Progress,
    timer: Timer,
    feats: Features,
) -> tuple[str, tuple[AttackResult, ...]]:
    from privaudit.targets import build_target

    target, conversion = build_target(prep, session)
    if not cfg.attacks.enabled:
        return conversion, ()
    from attacks.base import Budget, Capability
    from privaudit import battery, runtime

    device = runtime.resolve_device(cfg.device)

    with timer.stage("attacks"):
        results = battery.run_battery(
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
            floor=bound.mse_floor if bound else None,
            n_samples_stored=SAMPLES_STORED,
            missing_reasons={
                Capability.GRADIENTS: f"the encoder could not be converted to torch: {conversion}"
            },
            clean_features=(feats.aux, feats.evaluation),  # the bound's: not queried again
        )
    return conversion, results


def _model_info(
    prep: Prepared, feats: Features, max_diff: float | None, conversion: str
) -> ModelInfo:
    spec = model_mod.image_input(prep.split.encoder)
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
        noise_source=prep.sigma_source,
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


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "privaudit": __version__}
    for pkg in ("torch", "onnx", "onnxruntime", "numpy"):
        try:
            out[pkg] = importlib_metadata.version(pkg)
        except importlib_metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _provenance(cfg: Config, created: str, command: str, timer: Timer) -> Provenance:
    from privaudit import runtime

    device = cfg.device
    try:
        device = str(runtime.resolve_device(cfg.device))
    except PrivauditError:
        pass
    return Provenance(
        tool_version=__version__,
        created_at=created,
        command=command,
        seed=cfg.seed,
        device=device,
        config=as_dict(cfg),
        versions=_versions(),
        timings=dict(timer.seconds),
    )
