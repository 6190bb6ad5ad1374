"""Compose `harden`: assess, fine-tune the defences and their baselines, write, reassess.

Training data: the whole given dataset (the defender's own data), or with `harden.holdout`
the samples outside a held-out share, on which alone every audit then runs. Assessment: the
same aux/eval split, seeds and attack budget as `assess`, before and after. Every fine-tuned
model (each defence, each noise-only baseline, each seed) is measured with every enabled
attack at the run's budget, trained from scratch on it, and the bound; the sweep, dFIL and
the gate are left to the final audit (method.md §5, scale confound).
"""

from __future__ import annotations

import logging
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
    check_embedded_sigma,
    measure_prepared,
    noise_channels,
    prepare,
)
from privaudit.audit.prepare import NO_LABELS, allocation_stds
from privaudit.config import ChannelLayout, Config, GateConfig
from privaudit.data import Dataset, partition_aux_eval
from privaudit.errors import ConfigError, DataError, ModelError
from privaudit.hardening.defences import DEFENCES, MU_GRID, DefenceSpec, lam_grid
from privaudit.hardening.finetune import FinetuneSettings, fine_tune
from privaudit.hardening.frontier import (
    NO_LOSS,
    NOISE_ONLY,
    budget_floor,
    choose,
    closest,
    compare,
    matches,
    sigma_for_accuracy,
    variant_of,
    winner,
    within_budget,
)
from privaudit.model import (
    broadcast_shape,
    channels_last_view,
    embed_noise,
    is_channels_first_view,
    metadata,
    read_metadata,
    save_model,
    set_metadata,
    split_model,
)
from privaudit.progress import NullProgress, Progress
from privaudit.results import (
    AuditReport,
    Comparison,
    EpochStats,
    HardenResult,
    Variant,
    harden_verdict,
    regression,
)
from privaudit.runtime import derive_seed, resolve_device
from privaudit.threads import resolve_threads, use_threads

__all__ = [
    "MATCH_TRIES",
    "HardenRun",
    "Trained",
    "feature_stats",
    "hold_out",
    "run_harden",
    "train_variant",
]

log = logging.getLogger(__name__)

MATCH_TRIES = 3  # noise-only fine-tunes tried per defence to match its noisy accuracy


@dataclass(frozen=True, eq=False)
class Trained:
    """One fine-tuned configuration: per seed a full model, its history and its audit."""

    variant: Variant
    models: tuple[onnx.ModelProto, ...]
    histories: tuple[tuple[EpochStats, ...], ...]
    reports: tuple[AuditReport, ...]
    noise_scales: tuple[float, ...] | None = None  # seed 0's per-channel scales a_j


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
        """Every enabled attack at the run's budget and the bound; no sweep, dFIL or gate."""
        cfg = self.cfg
        return replace(cfg, noise_sweep=(), gate=GateConfig(),
                       bound=replace(cfg.bound, bootstrap=0, dfil=False))

    @property
    def noise_scales(self) -> tuple[float, ...] | None:
        """The model's own per-channel noise scales a_j (a noise-allocated model), or None."""
        stds, sigma = self.prep.noise_stds, self.prep.noise_sigma
        return None if stds is None else tuple(s / sigma for s in stds)


def run_harden(
    cfg: Config, *, output: Path, progress: Progress | None = None,
    noise_source: str | None = None, memory: InMemory | None = None,
) -> AuditReport:
    """Harden a split model with its defences and report before and after (and baselines).

    The written model is the original graph with the winning defence's fine-tuned weights
    (seed 0's model when `harden.seeds` > 1; the others only enter the variants' means and
    spreads) and the run in its metadata. With `harden.embed_noise` (by default: when the
    input model adds its noise inside its graph) the file also adds the noise at the cut;
    the after-audit measures the same weights with the noise added by the auditor, the same
    channel. The run's torch, onnxruntime and BLAS threads are `cfg.threads` (see
    `privaudit.threads`).

    Args:
        cfg: the run's settings (`cfg.harden` for the fine-tune).
        output: where the hardened ONNX model goes (written atomically; never the input).
        progress: progress sink (None: silent).
        noise_source: where `cfg.noise` came from when not the config (e.g. "flag").
        memory: a model and/or data given in memory instead of files (the Python API).

    Returns:
        The original model's audit with `.harden` holding the hardened model's audit,
        the training history, the variants and the comparisons. The hardened model's
        verdict opens with what hardening did (less private than the original, first).

    Raises:
        PrivauditError: anything the user can fix (no labels: DataError).
    """
    timer, sink = Timer(), progress or NullProgress()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    with use_threads(resolve_threads(cfg.threads)):
        with timer.stage("prepare"):
            prep = prepare(cfg, noise_source=noise_source, memory=memory)
            check_embedded_sigma(prep, cfg.noise_sweep)
        _check(prep, output)
        prep, train = hold_out(cfg, prep)
        _check_cells(cfg.harden.k, train)
        before, feats = measure_prepared(cfg, prep, sink, timer, created, command="harden")
        run = HardenRun(cfg, prep, sink, created, train)
        result = _harden_and_write(run, before, feature_stats(feats, prep), output, timer)
    provenance = replace(before.provenance, timings=dict(timer.seconds))
    report = replace(before, harden=result, provenance=provenance)
    after = replace(result.after, verdict=harden_verdict(report))
    return replace(report, harden=replace(result, after=after))


@dataclass(frozen=True, eq=False)
class _Candidate:
    """One defence's kept model, the grid it was chosen from, and why."""

    spec: DefenceSpec
    trained: Trained
    grid: tuple[Trained, ...]
    why: str | None


def _harden_and_write(
    run: HardenRun,
    before: AuditReport,
    before_stats: tuple[float, float, float | None],
    output: Path,
    timer: Timer,
) -> HardenResult:
    """Fine-tune the defences (and the baselines), write the winner, assess it, compare."""
    h, prep = run.cfg.harden, run.prep
    with timer.stage("fine_tune"):
        candidates = [_defence(run, DEFENCES[name], before) for name in h.defence]
        frontier = _baselines(run) if h.baseline else []
        comparisons = [_compare(run, c.trained, frontier) for c in candidates] if frontier \
            else []
    index, chosen = _winner(run, candidates, comparisons, before)
    log.debug("harden: writing the %s model (%s)", candidates[index].spec.name,
              chosen or "the only defence, at its settings")
    kept = candidates[index].trained
    model = _final_model(run, kept)
    with timer.stage("write"):
        embed = _embeds(h.embed_noise, prep)
        written = _embedded(run, model, kept) if embed else model
        # NOTE: a channels-last model was audited through a Transpose; it is written as it came
        sha = save_model(channels_last_view(written), output)
    with timer.stage("assess_after"):
        after_prep = replace(  # NOTE: the written model adds its noise iff it was embedded
            _variant_prep(prep, model, prep.noise_sigma, output, sha), embedded_noise=embed,
            embedded_at=prep.split.cut_tensor if embed else None,
            embedded_sigma=prep.noise_sigma if embed else None)
        after, _ = measure_prepared(run.cfg, after_prep, run.progress, Timer(), run.created,
                                    command="harden")
    # NOTE: the budget is judged on what was written and measured, not on a mean over seeds
    reference = before.utility.clean_accuracy or 0.0
    floor = budget_floor(h.max_accuracy_drop or 0.0, reference)
    met = None if h.max_accuracy_drop is None else (
        within_budget(kept.variant, h.max_accuracy_drop, reference)
        and (after.utility.noisy_accuracy or 0.0) >= floor)
    missed = () if met is not False else (
        f"--max-accuracy-drop {h.max_accuracy_drop:g} not met: the written model's noisy "
        f"accuracy is {after.utility.noisy_accuracy or 0.0:.4g}, under {floor:.4g}; {chosen}",)
    after = replace(after, warnings=(*after.warnings, *_dropped_noise(h.embed_noise, prep),
                                     *missed, *_collapsed(before, after, prep)))
    original = variant_of("original", 0.0, NO_LOSS, prep.noise_sigma, [before], [before_stats],
                          defence="original", noise_stds=prep.noise_stds)
    stds = allocation_stds(prep.noise_sigma, kept.noise_scales)
    return HardenResult(
        output_path=str(output), output_sha256=sha, noise_sigma=prep.noise_sigma,
        lam=kept.variant.lam, loss=h.loss, k=h.k, epochs=h.epochs, freeze_head=h.freeze_head,
        embed_noise=embed, history=kept.histories[0], after=after,
        variants=(original, *(c.trained.variant for c in candidates),
                  *(f.variant for f in frontier)),
        comparison=comparisons[index] if comparisons else None,
        grid=tuple(g.variant for c in candidates for g in c.grid), chosen=chosen,
        holdout=h.holdout, fine_tune_samples=len(run.train),
        defence=candidates[index].spec.name, mu=kept.variant.mu,
        comparisons=tuple(comparisons), noise_stds=stds,
        regression=regression(before, after), accuracy_budget_met=met,
    )


CHANCE_MARGIN = 0.02  # an accuracy within this of the most frequent class's share is chance


def _collapsed(before: AuditReport, after: AuditReport, prep: Prepared) -> tuple[str, ...]:
    """A warning when fine-tuning broke the model: its clean accuracy fell to chance level.

    A reviewer's `--lr 1e6` left 10.8% accuracy on ten classes, exit 0 and no word, while
    the verdict read lower leakage and a higher floor than the original's: true of a model
    nobody would deploy.
    """
    y = prep.audit.eval.y
    was, now = before.utility.clean_accuracy, after.utility.clean_accuracy
    if y is None or not len(y) or was is None or now is None:
        return ()
    chance = float(np.bincount(y).max()) / len(y)
    if now > chance + CHANCE_MARGIN or was <= chance + CHANCE_MARGIN:
        return ()
    return (f"the hardened model's clean accuracy fell to chance level ({now:.4g}, where "
            f"always answering the most frequent class scores {chance:.4g}; the original had "
            f"{was:.4g}): fine-tuning broke it, and its privacy numbers describe a model nobody "
            "would deploy; lower --lr or --lambda",)


def _check_cells(k: int, train: Dataset) -> None:
    """Refuse more CEM cells per class (`--k`) than the largest class has samples.

    A cell needs a sample: `--k 100000` on 40 samples a class sized its tables by k and ran
    out of memory (several GB), or ran on for minutes, with a hint that did not name --k.
    """
    if train.y is None or not len(train.y):
        return
    largest = int(np.bincount(train.y).max())
    if k > largest:
        raise ConfigError(f"harden.k: {k} cells per class, but the largest class has "
                          f"{largest} fine-tuning samples (a cell needs at least one)",
                          hint=f"give --k {largest} or less (k-means cells of each class's "
                               "features; the default is 5)")


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
    """Collect every reason harden cannot run, then raise them together.

    Raises:
        ModelError: a float64 model (fine-tuning runs in float32).
        DataError: no labels (with any other reason).
        ConfigError: the other reasons.
    """
    if prep.model is not None and _double(prep.model):
        raise ModelError("cannot harden a float64 model: harden fine-tunes float32 models "
                         "(assess audits float64 ones)",
                         hint="export the model in float32 (e.g. model.float() before "
                         "torch.onnx.export)")
    problems = []
    if prep.dataset.y is None:
        dropped = NO_LABELS in prep.dataset.transforms
        problems.append("the data has no labels (harden trains the task loss on them)"
                        + ("; labels = false in the config drops them" if dropped else ""))
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


def _double(model: onnx.ModelProto) -> bool:
    """Whether the model's input or any of its initializers is float64."""
    double = onnx.TensorProto.DOUBLE
    inputs = [v.type.tensor_type.elem_type for v in model.graph.input]
    return double in inputs or any(t.data_type == double for t in model.graph.initializer)


def _defence(run: HardenRun, spec: DefenceSpec, before: AuditReport) -> _Candidate:
    """One defence's model: at lambda / mu, or the most private of its grid within budget."""
    h = run.cfg.harden
    sigma = run.prep.noise_sigma
    if h.max_accuracy_drop is None:
        lam, mu = _knobs(run, spec)
        return _Candidate(spec, train_variant(run, spec.name, spec, lam, mu, sigma), (), None)
    grid = []
    for value in (lam_grid(_loss(run, spec)) if spec.grid == "lam" else MU_GRID):
        lam, mu = _knobs(run, spec, value)
        label = f"{spec.name} {'lambda' if spec.grid == 'lam' else 'mu'} {value:g}"
        grid.append(train_variant(run, label, spec, lam, mu, sigma))
    reference = before.utility.clean_accuracy or 0.0
    index, why = choose([g.variant for g in grid], h.max_accuracy_drop, reference)
    log.debug("harden: %s grid chose %s", spec.name, why)
    kept = grid[index]
    return _Candidate(spec, replace(kept, variant=replace(kept.variant, label=spec.name)),
                      tuple(grid), why)


def _knobs(run: HardenRun, spec: DefenceSpec, value: float | None = None) -> tuple[float, float]:
    """(lambda, mu) of a defence: the config's, with `value` for its grid parameter."""
    h = run.cfg.harden
    lam = (h.lam if value is None or spec.grid != "lam" else value) if spec.cem else 0.0
    mu = (h.mu if value is None or spec.grid != "mu" else value) if spec.adversarial else 0.0
    return lam, mu


def _loss(run: HardenRun, spec: DefenceSpec) -> str:
    """The CEM loss form a defence trains with (the allocation: always the bound)."""
    return "bound" if spec.allocation else run.cfg.harden.loss


def _winner(
    run: HardenRun, candidates: list[_Candidate], comparisons: list[Comparison],
    before: AuditReport,
) -> tuple[int, str | None]:
    """Which defence's model is written, and why (None: one defence at its settings)."""
    h = run.cfg.harden
    variants = [c.trained.variant for c in candidates]
    if h.max_accuracy_drop is not None:
        index, why = choose(variants, h.max_accuracy_drop, before.utility.clean_accuracy or 0.0)
        if len(candidates) == 1:
            return index, candidates[0].why
        return index, why
    if len(candidates) == 1:
        return 0, None
    return winner(variants, comparisons)


def _baselines(run: HardenRun) -> list[Trained]:
    """Noise-only fine-tunes at sigma and sigma * each baseline scale: the frontier."""
    scales = (1.0, *(s for s in run.cfg.harden.baseline_scales if s != 1.0))
    noise_sigma = run.prep.noise_sigma
    return [
        train_variant(run, f"noise-only x{s:.1f}", None, 0.0, 0.0, noise_sigma * s)
        for s in scales
    ]


def _compare(run: HardenRun, trained: Trained, frontier: list[Trained]) -> Comparison:
    """The defence against noise-only, at equal sigma and at matched accuracy.

    Matched: a noise-only model within MATCH_POINTS of the defence's noisy accuracy,
    fine-tuned for it when none is yet. Up to MATCH_TRIES noise-only models are added to
    `frontier`, each at the sigma that the frontier so far predicts for that accuracy.
    """
    target = trained.variant
    for _ in range(MATCH_TRIES):
        near = closest([f.variant for f in frontier], target.noisy_accuracy)
        if near is None or matches(near, target.noisy_accuracy):
            break
        sigma = sigma_for_accuracy([f.variant for f in frontier], target.noisy_accuracy)
        if sigma is None or any(np.isclose(sigma, f.variant.noise_sigma) for f in frontier):
            break
        label = f"noise-only sigma {sigma:.4g} (for {target.label})"
        frontier.append(train_variant(run, label, None, 0.0, 0.0, sigma))
    return compare(target, frontier[0].variant, [f.variant for f in frontier])


def train_variant(
    run: HardenRun, label: str, spec: DefenceSpec | None, lam: float, mu: float,
    noise_sigma: float,
) -> Trained:
    """Fine-tune one configuration for every seed and measure each resulting model.

    Args:
        run: the shared settings, data and progress.
        label: the variant's name, e.g. "cem" or "noise-only x1.5".
        spec: the defence (None: noise-only).
        lam: lambda (0: no CEM loss).
        mu: adversarial weight (0: no adversary).
        noise_sigma: training and deployment noise std (RMS of the per-channel stds).

    Returns:
        The models, histories and audits (every enabled attack and the bound) per seed,
        aggregated.
    """
    h, prep = run.cfg.harden, run.prep
    assert prep.model is not None and run.train.y is not None
    device = resolve_device(run.cfg.device)
    split = prep.split if prep.noise_stds is None else split_model(prep.model, prep.split_name)
    allocate = spec is not None and spec.allocation
    loss = "bound" if allocate else h.loss
    models, histories, reports, stats, scales = [], [], [], [], []
    for i in range(h.seeds):
        settings = FinetuneSettings(
            lam=lam, loss=loss, k=h.k, epochs=h.epochs, lr=h.lr, batch_size=h.batch_size,
            freeze_head=h.freeze_head, noise_sigma=noise_sigma,
            seed=derive_seed(run.cfg.seed, f"harden-{i}"), mu=mu, allocate=allocate,
            noise_scales=run.noise_scales, adversary_reset=h.adversary_reset,
        )
        done = fine_tune(split, prep.feed, run.train.x, run.train.y, settings,
                         device=device, progress=run.progress, label=f"{label} seed {i}")
        model = _with_scales(done.write_back(prep.model), noise_sigma, done.noise_scales)
        vprep = _variant_prep(prep, model, noise_sigma, Path(f"<{label} seed {i}>"), "")
        report, feats = measure_prepared(run.variant_cfg, vprep, run.progress, Timer(),
                                         run.created, command="harden")
        reports.append(report)
        models.append(model)
        histories.append(done.history)
        stats.append(feature_stats(feats, vprep))
        scales.append(done.noise_scales)
    variant = variant_of(label, lam, loss if lam > 0 else NO_LOSS, noise_sigma, reports, stats,
                         defence=NOISE_ONLY if spec is None else spec.name, mu=mu,
                         noise_stds=allocation_stds(noise_sigma, scales[0]))
    return Trained(variant, tuple(models), tuple(histories), tuple(reports), scales[0])


def _with_scales(
    model: onnx.ModelProto, sigma: float, scales: tuple[float, ...] | None
) -> onnx.ModelProto:
    """`model` with its per-channel noise stds (sigma * a_j) in metadata, when it has any."""
    if scales is None:
        return model
    stds = allocation_stds(sigma, scales) or ()
    return set_metadata(model, {metadata.NOISE_SIGMA: f"{sigma:.10g}",
                                metadata.NOISE_SIGMAS: ",".join(f"{s:.10g}" for s in stds)})


def _embeds(embed_noise: bool | None, prep: Prepared) -> bool:
    """Whether the hardened model adds its noise inside its graph.

    `harden.embed_noise`, or when unset, what the input model does: a model that added its
    noise itself was written without it, and deployed in its place ran with no noise at all
    while the after-audit assumed sigma.
    """
    return prep.embedded_noise if embed_noise is None else embed_noise


def _dropped_noise(embed_noise: bool | None, prep: Prepared) -> tuple[str, ...]:
    """A warning when the input model adds its noise in its graph and the output does not."""
    if embed_noise is not False or not prep.embedded_noise:
        return ()
    return (f"{prep.model_path} adds its noise inside its graph, the hardened model does not "
            f"(--no-embed-noise): deployed in its place, it runs with no noise unless sigma "
            f"{prep.noise_sigma:g} is added at the cut; these numbers assume it is",)


def _embedded(run: HardenRun, model: onnx.ModelProto, kept: Trained) -> onnx.ModelProto:
    """The model with its noise added inside the graph (per channel when allocated)."""
    prep = run.prep
    stds = None
    if kept.noise_scales is not None:
        shape = broadcast_shape(prep.split.feature_shape, len(kept.noise_scales))
        stds = np.asarray(allocation_stds(prep.noise_sigma, kept.noise_scales)).reshape(shape)
    return embed_noise(model, prep.split.cut_tensor, prep.noise_sigma, stds)


def _variant_prep(
    prep: Prepared, model: onnx.ModelProto, noise_sigma: float, path: Path, sha: str
) -> Prepared:
    """`prep` with another full model (same split name and data) and noise std.

    The split is whitened when the model carries per-channel noise stds (as `assess` does).
    """
    meta = read_metadata(model)
    split, stds = noise_channels(split_model(model, prep.split_name, model_name=str(path)),
                                 meta, noise_sigma, prep.split_name, model)
    return replace(prep, model=model, split=split, noise_sigma=noise_sigma, model_path=path,
                   model_sha256=sha, metadata=meta, noise_stds=stds)


def feature_stats(feats: Features, prep: Prepared) -> tuple[float, float, float | None]:
    """Mean and std of the audit's clean features, and the within-class share of variance."""
    z = feats.all.astype(np.float64)
    y = audit_labels(prep.audit)
    if y is None:
        return float(z.mean()), float(z.std()), None
    total = z.var(0).sum()
    within = sum((y == c).mean() * z[y == c].var(0).sum() for c in np.unique(y))
    return float(z.mean()), float(z.std()), float(within / total) if total > 0 else None


def _final_model(run: HardenRun, kept: Trained) -> onnx.ModelProto:
    """Seed 0's model of the kept defence, the run recorded in its metadata.

    `assess` reads the sigma (and the per-channel stds) back.
    """
    h, prep = run.cfg.harden, run.prep
    chosen = kept.variant
    entries = {
        metadata.NOISE_SIGMA: f"{prep.noise_sigma:.10g}",
        metadata.DEFENCE: chosen.defence or "", metadata.MU: f"{chosen.mu:g}",
        metadata.LAMBDA: f"{chosen.lam:g}", metadata.K: str(h.k), metadata.LOSS: chosen.loss,
        metadata.SPLIT: prep.split_name, metadata.EPOCHS: str(h.epochs),
        metadata.HARDENED_FROM: prep.model_sha256,
        metadata.MEAN: ",".join(f"{v:.10g}" for v in prep.norm.mean),
        metadata.STD: ",".join(f"{v:.10g}" for v in prep.norm.std),
    }
    stds = allocation_stds(prep.noise_sigma, kept.noise_scales)
    if stds is not None:
        entries[metadata.NOISE_SIGMAS] = ",".join(f"{s:.10g}" for s in stds)
    if prep.model is not None and is_channels_first_view(prep.model):
        entries[metadata.LAYOUT] = ChannelLayout.CHANNELS_LAST.value  # NOTE: as it is written
    # NOTE: what described the original model alone (the demo's flag, its test accuracy)
    return set_metadata(kept.models[0], entries, drop=(metadata.DEMO, metadata.TEST_ACCURACY))
