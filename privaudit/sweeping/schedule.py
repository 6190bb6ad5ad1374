"""Run a sweep's grid on an executor: skip finished shards, submit the rest, keep each result.

A cut job is submitted for every cut that still has work; when it finishes, its point
shards are written and its attack jobs submitted with its features; each attack job's result
is written as a shard the moment it comes back. So an interrupted sweep keeps every job that
finished, and the next run starts from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

from privaudit.config import AttackName
from privaudit.progress import Progress
from privaudit.results import AttackResult, Status, from_jsonable, out_of_range
from privaudit.sweeping.context import SweepContext
from privaudit.sweeping.executor import JobExecutor
from privaudit.sweeping.grid import AttackJob, Cut, CutJob, Grid
from privaudit.sweeping.jobs import CutOutput, PointMeasure
from privaudit.sweeping.shards import ShardStore

__all__ = ["Collected", "load_result", "run_grid"]


Coords = tuple[float, str, int]  # sigma, attack, seed


@dataclass
class Collected:
    """Every result of the grid, by coordinates, and how many jobs ran or were reused."""

    points: dict[tuple[str, float], PointMeasure] = field(default_factory=dict)
    runs: dict[tuple[str, float, str, int], AttackResult] = field(default_factory=dict)
    ran: int = 0
    reused: int = 0


@dataclass
class _CutState:
    """What a cut still waits for: its attack jobs, and its features once extracted."""

    missing: list[Coords]
    left: int = 0
    handle: object = None


def run_grid(
    executor: JobExecutor,
    ctx: SweepContext,
    grid: Grid,
    store: ShardStore | None,
    progress: Progress,
    scratch: Path,
) -> Collected:
    """Run every job of `grid` that has no shard yet; the executor is closed at the end.

    Args:
        executor: where jobs run (not started yet).
        ctx: the context every job starts from.
        grid: the grid.
        store: the shards (None: keep nothing on disk, run everything).
        progress: the progress bar of the jobs that run.
        scratch: a folder for temporary files (features shared between local workers).

    Returns:
        The results.
    """
    found = Collected()
    states = {c.name: _plan(c, grid, ctx.cfg.seed, store, found) for c in grid.cuts}
    todo = [c for c in grid.cuts if states[c.name].missing or _points_missing(c, grid, found)]
    total = len(todo) + sum(len(states[c.name].missing) for c in todo)
    found.reused = len(found.runs) + len(grid.cuts) - len(todo)
    if not todo:
        return found
    executor.start(ctx, scratch)
    try:
        with progress.task("sweep jobs", total=total) as bar:
            if found.reused:
                bar.set_info(f"{found.reused} finished jobs reused")
            for cut in todo:
                executor.submit(CutJob(cut.name, points=_points_missing(cut, grid, found)))
            outstanding = len(todo)
            while outstanding:
                job, result = executor.next_done()
                outstanding -= 1
                found.ran += 1
                bar.advance()
                if isinstance(job, CutJob):
                    outstanding += _cut_done(executor, job, result, states[job.cut], ctx,
                                             store, found)  # fmt: skip
                else:
                    _attack_done(executor, job, result, states[job.cut], ctx, store, found)
    finally:
        executor.close()
    return found


def _plan(cut: Cut, grid: Grid, run_seed: int, store: ShardStore | None,
          found: Collected) -> _CutState:  # fmt: skip
    """Load a cut's finished shards into `found`; the attack jobs it still misses."""
    for s in grid.noise_sigmas:
        value = load_result(store, _point_key(store, cut, s, run_seed), PointMeasure)
        if value is not None:
            found.points[(cut.name, s)] = value
    missing = []
    for s, attack, seed in product(grid.noise_sigmas, grid.attacks, grid.seeds):
        result = load_result(store, _attack_key(store, cut, s, attack, seed), AttackResult)
        if result is None:
            missing.append((s, attack, seed))
        else:
            found.runs[(cut.name, s, attack, seed)] = result
    return _CutState(missing)


def _points_missing(cut: Cut, grid: Grid, found: Collected) -> bool:
    return any((cut.name, s) not in found.points for s in grid.noise_sigmas)


def _cut_done(
    executor: JobExecutor, job: CutJob, result: Any, state: _CutState, ctx: SweepContext,
    store: ShardStore | None, found: Collected,
) -> int:  # fmt: skip
    """Keep a cut's points, submit its attack jobs; returns how many were submitted."""
    out, handle = result
    assert isinstance(out, CutOutput)
    cut = ctx.cut(job.cut)
    for point in out.points:
        found.points[(cut.name, point.noise_sigma)] = point
        if store is not None:
            store.save(_point_key(store, cut, point.noise_sigma, ctx.cfg.seed), point)
    state.handle, state.left = handle, len(state.missing)
    for s, attack, seed in state.missing:
        floor = found.points[(cut.name, s)].bound.mse_floor
        # NOTE: the cut job's search is the `knn` attack's at the run's seed (k=1, clean)
        near = out.nearest.get(s) if attack == AttackName.KNN and seed == ctx.cfg.seed else None
        executor.submit(AttackJob(cut.name, s, attack, seed, floor, out.labelled, handle,
                                  near))  # fmt: skip
    if not state.missing:
        executor.release(handle)
    return len(state.missing)


def _attack_done(
    executor: JobExecutor, job: AttackJob, result: Any, state: _CutState, ctx: SweepContext,
    store: ShardStore | None, found: Collected,
) -> None:  # fmt: skip
    """Keep an attack job's result; free the cut's features after its last job."""
    assert isinstance(result, AttackResult)
    cut = ctx.cut(job.cut)
    found.runs[(cut.name, job.noise_sigma, job.attack, job.seed)] = result
    if store is not None:
        store.save(_attack_key(store, cut, job.noise_sigma, job.attack, job.seed), result)
    state.left -= 1
    if state.left == 0:
        executor.release(state.handle)
        state.handle = None


def _point_key(store: ShardStore | None, cut: Cut, sigma: float, seed: int) -> dict[str, Any]:
    if store is None:
        return {}
    return store.key("point", cut=cut.name, tensor=cut.tensor, noise_sigma=sigma, seed=seed)


def _attack_key(store: ShardStore | None, cut: Cut, sigma: float, attack: str,
                seed: int) -> dict[str, Any]:  # fmt: skip
    if store is None:
        return {}
    return store.key("attack", cut=cut.name, tensor=cut.tensor, noise_sigma=sigma,
                     attack=attack, seed=seed)  # fmt: skip


def load_result(store: ShardStore | None, key: dict[str, Any], cls: type[Any]) -> Any:
    """A finished job's result from its shard, or None (no store, no shard, or unreadable)."""
    if store is None:
        return None
    value = store.load(key)
    if value is None:
        return None
    try:
        result = from_jsonable(cls, value)
    except (ValueError, TypeError, KeyError) as e:
        store.ignore(store.path(key), f"does not parse: {e}")
        return None
    bad = out_of_range(result)
    if bad is None and isinstance(result, AttackResult) and result.status is Status.OK and (
            result.mse is None):  # fmt: skip
        bad = "an attack that ran has no MSE"
    if bad is not None:
        store.ignore(store.path(key), f"holds a value privaudit never writes: {bad}")
        return None
    return result
