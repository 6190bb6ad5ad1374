"""Compose `harden`: assess, fine-tune (CEM, lambda grid, noise-only frontier), write, reassess.

Training data: the whole given dataset (the defender's own data), or with `harden.holdout`
the samples outside a held-out share, on which alone every audit then runs. Assessment: the
same aux/eval split, seeds and attack budget as `assess`, before and after. Variants (every
fine-tuned model, per seed) are measured more cheaply, with the decoder attack and the bound
only, on that same split (method.md §5, scale confound).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnx

from privaudit.audit import (
    Features,
    InMemory,
    Prepared,
    Timer,
    audit_labels,
    audit_partition,
    measure_prepared,
    prepare,
)
from privaudit.config import AttackName, CemLoss, Config, GateConfig
from privaudit.data import Dataset, partition_aux_eval
from privaudit.errors import ConfigError, DataError
from privaudit.hardening.finetune import FinetuneSettings, fine_tune
from privaudit.hardening.frontier import NO_LOSS, against_frontier, choose, variant_of
from privaudit.model import (
    embed_noise,
    metadata,
    read_metadata,
    save_model,
    set_metadata,
    split_model,
)
from privaudit.progress import NullProgress, Progress
from privaudit.results import AuditReport, EpochStats, HardenResult, Variant
from privaudit.runtime import derive_seed, resolve_device

__all__ = [
    "GRIDS",
    "HardenRun",
    "Trained",
    "feature_stats",
    "hold_out",
    "run_harden",
    "train_variant",
]

# NOTE: lambda grids per loss form for --max-accuracy-drop (method.md §5: the forms need
# different ranges). Measured on the demo (sigma 0.1, 10 epochs): hinge 0.5-2 and bound 2-8
# span "barely private" to "about -1.5 accuracy points"; see benchmarks/harden_demo.py.
GRIDS = {CemLoss.BOUND.value: (1.0, 2.0, 4.0, 8.0), CemLoss.HINGE.value: (0.25, 0.5, 1.0, 2.0)}


@dataclass(frozen=True, eq=False)
class Trained:
    """One fine-tuned configuration: per seed a full model, its history and its audit."""

    variant: Variant
    models: tuple[onnx.ModelProto, ...]
    histories: tuple[tuple[EpochStats, ...], ...]
    reports: tuple[AuditReport, ...]


@dataclass(frozen=True, eq=False)
class HardenRun:
    """What every fine-tune of one `harden` run shares.

    `train` is the fine-tuning data: `prep.dataset` itself, or with `harden.holdout` the
    samples outside it (`prep` then audits the held-out share alone).
    """

    cfg: Config
    prep: Prepared
    progress: Progress
    created: str
    train: Dataset

    @property
    def variant_cfg(self) -> Config:
        """Decoder attack and bound only, no sweep, bootstrap, dFIL or gate (cheaper, module doc).

        With attacks switched off (`--no-attacks`) the variants get the bound only.
        """
        cfg = self.cfg
        enabled = (AttackName.DECODER.value,) if cfg.attacks.enabled else ()
        return replace(cfg, noise_sweep=(), gate=GateConfig(),
                       attacks=replace(cfg.attacks, enabled=enabled),
                       bound=replace(cfg.bound, bootstrap=0, dfil=False))


def run_harden(
    cfg: Config, *, output: Path, progress: Progress | None = None,
    noise_source: str | None = None, memory: InMemory | None = None,
) -> AuditReport:
    """Harden a split model with CEM and report before and after (and the baselines).

    The written model is the original graph with the fine-tuned weights (seed 0's model
    when `harden.seeds` > 1; the others only enter the variants' means and spreads) and the
    run in its metadata. With `harden.embed_noise` the file also adds the noise at the cut
    (see `harden.embed_noise`); the after-audit measures the same weights with the noise
    added by the auditor, the same channel.

    Args:
        cfg: the run's settings (`cfg.harden` for the fine-tune).
        output: where the hardened ONNX model goes (written atomically; never the input).
        progress: progress sink (None: silent).
        noise_source: where `cfg.noise` came from when not the config (e.g. "flag").
        memory: a model and/or data given in memory instead of files (the Python API).

    Returns:
        The original model's audit with `.harden` holding the hardened model's audit,
        the training history, the variants and the comparison.

    Raises:
        PrivauditError: anything the user can fix (no labels: DataError).
    """
    timer, sink = Timer(), progress or NullProgress()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    with timer.stage("prepare"):
        prep = prepare(cfg, noise_source=noise_source, memory=memory)
    _check(prep, output)
    prep, train = hold_out(cfg, prep)
    before, feats = measure_prepared(cfg, prep, sink, timer, created, command="harden")
    run = HardenRun(cfg, prep, sink, created, train)
    result = _harden_and_write(run, before, feature_stats(feats, prep), output, timer)
    provenance = replace(before.provenance, timings=dict(timer.seconds))
    return replace(before, harden=result, provenance=provenance)


def _harden_and_write(
    run: HardenRun,
    before: AuditReport,
    before_stats: tuple[float, float, float | None],
    output: Path,
    timer: Timer,
) -> HardenResult:
    """Fine-tune (and the baselines), write the hardened file, assess it, compare."""
    h, prep = run.cfg.harden, run.prep
    with timer.stage("fine_tune"):
        cem, grid, chosen = _harden(run, before)
        baselines = _baselines(run) if h.baseline else []
    model = _final_model(run, cem)
    with timer.stage("write"):
        embedded = (
            embed_noise(model, prep.split.cut_tensor, prep.noise_sigma) if h.embed_noise else None
        )
        sha = save_model(embedded or model, output)
    with timer.stage("assess_after"):
        after_prep = _variant_prep(prep, model, prep.noise_sigma, output, sha)
        after, _ = measure_prepared(run.cfg, after_prep, run.progress, Timer(), run.created,
                                    command="harden")
    original = variant_of("original", 0.0, NO_LOSS, prep.noise_sigma, [before], [before_stats])
    frontier = [b.variant for b in baselines]
    return HardenResult(
        output_path=str(output), output_sha256=sha, noise_sigma=prep.noise_sigma,
        lam=cem.variant.lam, loss=h.loss, k=h.k, epochs=h.epochs, freeze_head=h.freeze_head,
        embed_noise=h.embed_noise, history=cem.histories[0], after=after,
        variants=(original, cem.variant, *frontier),
        comparison=against_frontier(cem.variant, frontier) if frontier else None,
        grid=tuple(g.variant for g in grid), chosen=chosen, holdout=h.holdout,
        fine_tune_samples=len(run.train),
    )


def hold_out(cfg: Config, prep: Prepared) -> tuple[Prepared, Dataset]:
    """`prep` auditing the held-out share of the data, and the data to fine-tune on.

    With `harden.holdout` = 0 nothing is held out: both are the whole dataset. Otherwise a
    stratified, seeded share of the samples is held out (fine-tuning samples identical to a
    held-out one are dropped), and the audits, before, of the variants and after, run on it
    alone, with their own aux/eval split: no audited sample is ever fine-tuned on.

    Raises:
        DataError: too few samples to hold out that share and still audit it.
    """
    share = cfg.harden.holdout
    if share == 0:
        return prep, prep.dataset
    seed = derive_seed(cfg.seed, "holdout")
    try:
        parts = partition_aux_eval(prep.dataset, eval_fraction=share, seed=seed,
                               names=("fine-tuning", "held-out"))
        audit = audit_partition(cfg, parts.eval)
    except DataError as e:
        raise DataError(f"cannot hold out {share:g} of {len(prep.dataset)} samples: {e}",
                        hint="give more samples or a larger --holdout") from None
    return replace(prep, dataset=parts.eval, audit=audit), parts.aux


def _check(prep: Prepared, output: Path) -> None:
    """Collect every reason harden cannot run, then raise them together."""
    problems = []
    if prep.dataset.y is None:
        problems.append("the data has no labels (harden trains the task loss on them)")
    if prep.model is None or prep.split.head is None:
        problems.append("harden needs the full model (MODEL --split), not --encoder/--head")
    if prep.noise_sigma == 0:
        problems.append("the noise sigma is 0; CEM needs noise (method.md §3)")
    if output.resolve() == prep.model_path.resolve():
        problems.append(f"the output {output} is the input model, which is never overwritten")
    if problems:
        error = DataError if prep.dataset.y is None else ConfigError
        raise error("cannot harden: " + "; ".join(problems),
                    hint="give labelled data (.npz with y, or class folders), the full model, "
                    "--noise SIGMA > 0 and -o NEW.onnx")


def _harden(run: HardenRun, before: AuditReport) -> tuple[Trained, list[Trained], str | None]:
    """The CEM model: at cfg.lam, or the most private of the lambda grid within the budget."""
    h = run.cfg.harden
    if h.max_accuracy_drop is None:
        return train_variant(run, "cem", h.lam, h.loss, run.prep.noise_sigma), [], None
    grid = [train_variant(run, f"cem lambda {lam:g}", lam, h.loss, run.prep.noise_sigma)
            for lam in GRIDS[h.loss]]
    reference = before.utility.clean_accuracy or 0.0
    index, why = choose([g.variant for g in grid], h.max_accuracy_drop, reference)
    kept = grid[index]
    return replace(kept, variant=replace(kept.variant, label="cem")), grid, why


def _baselines(run: HardenRun) -> list[Trained]:
    """Noise-only fine-tunes at sigma and sigma * each baseline scale: the frontier."""
    scales = (1.0, *(s for s in run.cfg.harden.baseline_scales if s != 1.0))
    noise_sigma = run.prep.noise_sigma
    return [
        train_variant(run, f"noise-only x{s:.1f}", 0.0, NO_LOSS, noise_sigma * s) for s in scales
    ]


def train_variant(
    run: HardenRun, label: str, lam: float, loss: str, noise_sigma: float
) -> Trained:
    """Fine-tune one configuration for every seed and measure each resulting model.

    Args:
        run: the shared settings, data and progress.
        label: the variant's name, e.g. "cem" or "noise-only x1.5".
        lam: lambda (0: noise-only).
        loss: "bound" | "hinge" ("none" with lam 0).
        noise_sigma: training and deployment noise std.

    Returns:
        The models, histories and audits (decoder and bound only) per seed, aggregated.
    """
    h, prep = run.cfg.harden, run.prep
    assert prep.model is not None and run.train.y is not None
    device = resolve_device(run.cfg.device)
    models, histories, reports, stats = [], [], [], []
    for i in range(h.seeds):
        settings = FinetuneSettings(
            lam=lam, loss=loss if lam > 0 else h.loss, k=h.k, epochs=h.epochs, lr=h.lr,
            batch_size=h.batch_size, freeze_head=h.freeze_head, noise_sigma=noise_sigma,
            seed=derive_seed(run.cfg.seed, f"harden-{i}"),
        )
        done = fine_tune(prep.split, prep.feed, run.train.x, run.train.y, settings,
                         device=device, progress=run.progress, label=f"{label} seed {i}")
        model = done.write_back(prep.model)
        vprep = _variant_prep(prep, model, noise_sigma, Path(f"<{label} seed {i}>"), "")
        report, feats = measure_prepared(run.variant_cfg, vprep, run.progress, Timer(),
                                         run.created, command="harden")
        reports.append(report)
        models.append(model)
        histories.append(done.history)
        stats.append(feature_stats(feats, vprep))
    variant = variant_of(label, lam, loss if lam > 0 else NO_LOSS, noise_sigma, reports, stats)
    return Trained(variant, tuple(models), tuple(histories), tuple(reports))


def _variant_prep(
    prep: Prepared, model: onnx.ModelProto, noise_sigma: float, path: Path, sha: str
) -> Prepared:
    """`prep` with another full model (same split name, data and split) and noise std."""
    split = split_model(model, prep.split_name, model_name=str(path))
    return replace(prep, model=model, split=split, noise_sigma=noise_sigma, model_path=path,
                   model_sha256=sha, metadata=read_metadata(model))


def feature_stats(feats: Features, prep: Prepared) -> tuple[float, float, float | None]:
    """Mean and std of the audit's clean features, and the within-class share of variance."""
    z = feats.all.astype(np.float64)
    y = audit_labels(prep.audit)
    if y is None:
        return float(z.mean()), float(z.std()), None
    total = z.var(0).sum()
    within = sum((y == c).mean() * z[y == c].var(0).sum() for c in np.unique(y))
    return float(z.mean()), float(z.std()), float(within / total) if total > 0 else None


def _final_model(run: HardenRun, cem: Trained) -> onnx.ModelProto:
    """Seed 0's CEM model with the run recorded in its metadata (sigma read back by assess)."""
    h, prep = run.cfg.harden, run.prep
    entries = {
        metadata.NOISE_SIGMA: f"{prep.noise_sigma:.10g}",
        metadata.LAMBDA: f"{cem.variant.lam:g}", metadata.K: str(h.k), metadata.LOSS: h.loss,
        metadata.SPLIT: prep.split_name, metadata.EPOCHS: str(h.epochs),
        metadata.HARDENED_FROM: prep.model_sha256,
        metadata.MEAN: ",".join(f"{v:.10g}" for v in prep.norm.mean),
        metadata.STD: ",".join(f"{v:.10g}" for v in prep.norm.std),
    }
    return set_metadata(cem.models[0], entries)
