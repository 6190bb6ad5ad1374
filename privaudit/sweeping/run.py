"""`privaudit sweep`: prepare once, run the grid's jobs, compose the points and the answer."""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import onnx

from privaudit import demo
from privaudit.audit import InMemory, Prepared, Timer, prepare, provenance
from privaudit.audit.bounds import audit_inputs, input_entropy, pixel_grid_variance, pixels
from privaudit.audit.run import (
    check_embedded_sigma,
    data_info,
    small_audit_warning,
    unchecked_floor_warning,
)
from privaudit.config import Config, as_dict
from privaudit.errors import ConfigError, ModelError
from privaudit.model import image_input, load_model, strip_embedded_noise
from privaudit.progress import NullProgress, Progress
from privaudit.results import (
    Accuracy,
    AttackRun,
    Execution,
    GridPoint,
    Provenance,
    SweepModel,
    SweepReport,
    from_jsonable,
    refuted_floor_words,
)
from privaudit.sweeping.accuracy import model_accuracy
from privaudit.sweeping.answer import answer, constraints_of
from privaudit.sweeping.context import SweepContext
from privaudit.sweeping.executor import JobExecutor, get_executor
from privaudit.sweeping.frontier import summarize
from privaudit.sweeping.grid import Cut, Grid, check_grid_size, make_grid, resolve_cuts
from privaudit.sweeping.schedule import Collected, run_grid
from privaudit.sweeping.shards import ShardStore, settings_digest
from privaudit.threads import resolve_threads, use_threads

__all__ = ["SHARDS", "fewer_workers", "refuted_warnings", "run_sweep", "scratch_folder"]

SHARDS = "shards"  # the shards' folder inside the output folder

log = logging.getLogger(__name__)


def run_sweep(
    cfg: Config,
    *,
    progress: Progress | None = None,
    shards: Path | None = None,
    fresh: bool = False,
    memory: InMemory | None = None,
) -> SweepReport:
    """Sweep cuts x sigmas x attacks x seeds; the frontier and the recommendation.

    The top-level `threads` (default: the CPUs this process may use) are the sweep's in
    all: the driver's own, and the local executor's, which divides them among its jobs
    (`sweep.jobs`, default one job per thread; `sweep.threads` per job, default their share).

    Args:
        cfg: the run's settings (`cfg.sweep`: the grid, the executor, the constraints).
        progress: where the jobs' progress goes (default: silent).
        shards: the folder of finished jobs (a re-run skips them), or None for none.
        fresh: ignore the finished jobs in `shards` (they are overwritten).
        memory: a model and/or data given in memory (the Python API).

    Raises:
        PrivauditError: anything the user can fix (a bad split name, data, settings, or the
            `ray` executor without Ray).
    """
    with use_threads(resolve_threads(cfg.threads)):
        return _sweep(cfg, progress, shards, fresh, memory)


def _sweep(
    cfg: Config, progress: Progress | None, shards: Path | None, fresh: bool,
    memory: InMemory | None,
) -> SweepReport:
    """`run_sweep` inside the run's thread limits."""
    timer, created = Timer(), datetime.now(UTC).isoformat(timespec="seconds")
    check_grid_size(cfg)
    executor = get_executor(cfg)
    with timer.stage("prepare"):
        cuts, notes, prep = _prepare(cfg, memory or InMemory())
        grid = make_grid(cfg, cuts)
        inputs, image = audit_inputs(prep), pixels(prep)
        pixel_grid = pixel_grid_variance(inputs) if image else 0.0
        entropy = input_entropy(cfg, inputs, image=image, grid=pixel_grid)
    store = None if shards is None else ShardStore.create(
        shards, model=prep.model_sha256, data=prep.dataset.fingerprint, budget=cfg.attacks.budget,
        settings=settings_digest(cfg, (prep.norm.mean, prep.norm.std)), fresh=fresh)
    if store is not None and fresh:
        log.debug("sweep: --fresh removed %d shards", store.clear())
    with timer.stage("clean_accuracy"):
        clean, more = _clean_accuracy(cfg, prep, store)
    ctx = SweepContext.create(cfg, prep, grid.cuts, grid.noise_sigmas, entropy, pixel_grid,
                              executor.threads)
    with timer.stage("jobs"), scratch_folder(shards) as scratch:
        found = run_grid(executor, ctx, grid, store, progress or NullProgress(), scratch)
    prov = provenance(cfg, created, "sweep", timer)
    prov = replace(prov, config=as_dict(cfg, sweep=True))
    ignored = tuple(store.ignored) if store is not None else ()
    return _compose(cfg, prep, grid, found, clean, (*notes, *more, *ignored), executor, shards,
                    prov)


def _prepare(cfg: Config, memory: InMemory) -> tuple[list[Cut], list[str], Prepared]:
    """Resolve the cuts on the whole model, then prepare the run once (data, partition).

    Raises:
        ConfigError: a pre-split pair (a sweep needs the whole model to cut).
        ModelError: an unknown or unclean split, or a model without any clean cut.
    """
    if cfg.encoder is not None and memory.model is None:
        raise ConfigError("a sweep cuts a whole model, not a pre-split pair (--encoder/--head)",
                          hint="give the whole ONNX model as MODEL, or run 'privaudit assess "
                          "--encoder ... --noise-sweep ...'")  # fmt: skip
    path = cfg.model or demo.demo_model_path()
    raw = memory.model if memory.model is not None else load_model(path)
    model = strip_embedded_noise(raw)  # NOTE: `prepare` checks that it is deterministic
    name = "MODEL" if memory.model is not None else str(path)
    cuts, notes = resolve_cuts(model, cfg.sweep.splits, model_name=name)
    if not cuts:
        raise ModelError(f"{name} has no clean cut to sweep",
                         hint=f"list the cut points with 'privaudit layers {name}'")
    noise = cfg.noise if cfg.noise is not None else cfg.sweep.noise[0]
    prep = prepare(replace(cfg, split=cuts[0].name, noise=noise), memory=_same(memory, raw))
    check_embedded_sigma(prep, cfg.sweep.noise, [c.tensor for c in cuts], sweep=True)
    return cuts, notes, prep


def _same(memory: InMemory, model: onnx.ModelProto) -> InMemory:
    """`memory` with the model as loaded (so an in-memory model is checked once)."""
    return memory if memory.model is None else replace(memory, model=model)


def _clean_accuracy(
    cfg: Config, prep: Prepared, store: ShardStore | None
) -> tuple[Accuracy, tuple[str, ...]]:
    """The model's accuracy on the audit samples: from its shard, or measured once."""
    key = None if store is None else store.key("clean", seed=cfg.seed)
    if store is not None and key is not None:
        saved = store.load(key)
        if isinstance(saved, dict):
            return from_jsonable(Accuracy, saved.get("accuracy")), tuple(saved.get("notes", ()))
    accuracy, notes = model_accuracy(prep, threads=resolve_threads(cfg.threads),
                                     batch=cfg.batch_size)
    if store is not None and key is not None:
        store.save(key, {"accuracy": accuracy, "notes": notes})
    return accuracy, notes


@contextmanager
def scratch_folder(shards: Path | None) -> Iterator[Path]:
    """A temporary folder next to the shards (or in the system's), removed at the end."""
    if shards is not None:
        shards.mkdir(parents=True, exist_ok=True)
        _remove_stale_scratch(shards)
    with tempfile.TemporaryDirectory(prefix=f".scratch-{os.getpid()}-", dir=shards) as folder:
        yield Path(folder)


def _remove_stale_scratch(shards: Path) -> None:
    """Remove the scratch folders of runs that were killed (their process is gone).

    A killed run (SIGKILL, a crash of the machine) cannot remove its own; each is named after
    its process, so a live run's is left alone.
    """
    for folder in shards.glob(".scratch-*"):
        pid = folder.name.split("-")[1]
        if folder.is_dir() and not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    if os.name == "nt":  # NOTE: os.kill(pid, 0) would end the process there: keep it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # NOTE: it exists, owned by someone else
    return True


def _compose(
    cfg: Config, prep: Prepared, grid: Grid, found: Collected, clean: Accuracy,
    notes: tuple[str, ...], executor: JobExecutor, shards: Path | None, prov: Provenance,
) -> SweepReport:  # fmt: skip
    """The report: the points, the frontier, the recommendation and the gate."""
    points = [_point(grid, found, c.name, s, clean) for c in grid.cuts for s in grid.noise_sigmas]
    constraints = constraints_of(cfg.sweep)
    a = answer(points, constraints, cfg.gate, str(prep.model_path), prep.dataset.source,
               prov.config)
    r = a.recommendation
    log.debug("sweep: recommendation %s: cut %s, sigma %s (%s)", r.status, r.cut,
              r.noise_sigma, r.headline)
    spec = image_input(prep.split.encoder)
    return SweepReport(
        model=SweepModel(str(prep.model_path), prep.model_sha256, spec.name,
                         tuple(int(d) for d in prep.dataset.x.shape[1:])),
        data=data_info(prep),
        cuts=tuple(found.points[(c.name, grid.noise_sigmas[0])].info for c in grid.cuts),
        noise_sigmas=grid.noise_sigmas, attacks=grid.attacks, seeds=grid.seeds,
        budget=cfg.attacks.budget, frontier_metric=a.metric, points=a.points,
        constraints=constraints, recommendation=a.recommendation, gate=a.gate,
        provenance=prov,
        execution=Execution(executor.name, executor.workers, executor.threads,
                            len(grid.cuts) + grid.points * len(grid.attacks) * len(grid.seeds),
                            found.ran, found.reused, str(shards or ""), executor.address),
        warnings=(*notes, *fewer_workers(cfg, executor), *_ignored_noise(cfg),
                  *small_audit_warning(prep, [r.result for p in points for r in p.runs]),
                  *_bound_warnings(a.points), *refuted_warnings(a.points),
                  *dict.fromkeys(w for p in a.points for w in unchecked_floor_warning(
                      p.bound, [r.result for r in p.runs], p.references))),
    )  # fmt: skip


def _ignored_noise(cfg: Config) -> tuple[str, ...]:
    """A warning when the config's `noise` (assess's sigma) is not in the sweep's grid.

    A tester's `noise = 0.2` under [tool.privaudit] was dropped silently: the sweep measures
    `sweep.noise` (`--noise`), by default 0, 0.05, 0.1 and 0.2.
    """
    if cfg.noise is None or any(math.isclose(cfg.noise, s) for s in cfg.sweep.noise):
        return ()
    grid = ", ".join(f"{s:g}" for s in cfg.sweep.noise)
    return (f"noise = {cfg.noise:g} (assess's sigma) is not in the sweep's grid ({grid}): a "
            "sweep measures sweep.noise (--noise), so set that to sweep it",)


def _point(grid: Grid, found: Collected, cut: str, sigma: float, clean: Accuracy) -> GridPoint:
    measured = found.points[(cut, sigma)]
    runs = tuple(AttackRun(seed, found.runs[(cut, sigma, a, seed)])
                 for a in grid.attacks for seed in grid.seeds)  # fmt: skip
    noisy = measured.noisy_accuracy
    if sigma == 0 and noisy.value is None:  # NOTE: a shard of a build that left it to clean
        noisy = clean
    if not measured.labelled:
        noisy = Accuracy(None)
    # NOTE: its strongest reconstruction and recovered share are set by `answer`
    return GridPoint(cut, sigma, clean, noisy, measured.bound, measured.references, runs,
                     summarize(runs, grid.attacks))


def fewer_workers(cfg: Config, executor: JobExecutor) -> tuple[str, ...]:
    """A note when the local executor runs fewer workers than `--jobs` asked for."""
    asked = cfg.sweep.jobs
    if executor.name != "local" or asked is None or executor.workers >= asked:
        return ()
    return (f"--jobs {asked} is more than the {executor.workers} threads this run may use: "
            f"{executor.workers} workers ran, so as not to oversubscribe the machine (set "
            "--threads, or sweep.threads per job, to choose otherwise)",)


def refuted_warnings(points: tuple[GridPoint, ...]) -> tuple[str, ...]:
    """A warning per point whose floor (S) a reconstruction lies below (as `assess` warns)."""
    out = []
    for p in points:
        by = p.floor_refuted_by()
        if p.bound is not None and by is not None:
            out.append(f"the floor does not hold at {p.cut}, sigma {p.noise_sigma:g}: "
                       f"{refuted_floor_words(p.bound, by)}; gate on the attacks")
    return tuple(out)


def _bound_warnings(points: tuple[GridPoint, ...]) -> tuple[str, ...]:
    """The bound's warnings at noisy points, each once, with where it arose."""
    where: dict[str, list[str]] = {}
    for p in points:
        if p.bound is None or p.noise_sigma == 0:
            continue
        for w in p.bound.warnings:
            where.setdefault(w, []).append(f"{p.cut} at sigma {p.noise_sigma:g}")
    return tuple(f"{w} ({', '.join(at)})" for w, at in where.items())
