"""Where a sweep's jobs run: the Executor interface, the local executor and the registry.

An executor runs `CutJob`s and `AttackJob`s and hands back each finished one; the driver
(`privaudit.sweeping.run`) decides what to submit and writes every result as a shard. Jobs are
seeded by their coordinates, so no executor changes a number, only how fast they come.
`local` runs jobs in this process (one worker) or in spawned worker processes that share the
cores; `ray` (`privaudit.sweeping.ray_cluster`) submits them as Ray tasks.
"""

from __future__ import annotations

import difflib
import itertools
import uuid
from collections import deque
from contextlib import ExitStack
from pathlib import Path
from typing import Any, ClassVar, Protocol

from privaudit.audit import Features
from privaudit.config import Config, Executor
from privaudit.errors import ConfigError
from privaudit.sweeping.context import (
    FeaturesFile,
    JobFailure,
    SweepContext,
    guarded,
    open_features,
    pin_worker_threads,
    raise_failure,
    release_memory,
    store_features,
    threads_for,
    worker_threads,
)
from privaudit.sweeping.grid import AttackJob, CutJob
from privaudit.sweeping.jobs import run_attack_job, run_cut_job
from privaudit.sweeping.ray_cluster import RayExecutor
from privaudit.sweeping.workers import WorkerPool
from privaudit.threads import resolve_threads

__all__ = ["EXECUTORS", "JobExecutor", "LocalExecutor", "Job", "get_executor"]

Job = CutJob | AttackJob


class JobExecutor(Protocol):
    """Runs a sweep's jobs; `next_done` hands back each finished job with its result.

    A cut job's result is `(CutOutput, features handle)`; the handle goes into the
    `AttackJob`s of that cut and, once they are done, back to `release`.
    """

    name: ClassVar[str]
    workers: int  # jobs at once
    threads: int  # torch/onnxruntime/BLAS threads per job
    address: str | None  # the cluster, for executors that have one

    def start(self, ctx: SweepContext, scratch: Path) -> None:
        """Start the workers, giving each the context; `scratch` holds temporary files."""

    def submit(self, job: Job) -> None:
        """Queue `job`."""

    def next_done(self) -> tuple[Job, Any]:
        """Wait for the next finished job; a failed job's error is raised here."""

    def release(self, handle: object) -> None:
        """Free a cut's features once no job needs them."""

    def close(self) -> None:
        """Stop every worker (also mid-job: after Ctrl-C, finished shards are kept)."""


class LocalExecutor:
    """Worker processes on this machine; one worker runs the jobs in this process.

    `sweep.jobs` workers (default, and at most: one per thread of the run's `threads`, itself
    by default the cores this process may use) share those threads: each job gets
    threads // workers threads for torch, onnxruntime and BLAS, so the machine is never
    oversubscribed (`sweep.threads` overrides, and then `sweep.jobs` is taken as given).
    Workers are spawned (never forked: torch and onnxruntime hold threads), get the context
    once, and map the cuts' features from files
    instead of copying them. A script that runs a sweep with several workers needs the usual
    `if __name__ == "__main__":` guard (Python's rule for spawned processes).
    """

    name: ClassVar[str] = Executor.LOCAL.value

    def __init__(self, cfg: Config) -> None:
        cores = resolve_threads(cfg.threads)
        # NOTE: more workers than threads would oversubscribe the machine, unless the
        # threads per job are set on purpose (`sweep.threads`)
        asked = cfg.sweep.jobs or cores
        self.workers = asked if cfg.sweep.threads else min(asked, cores)
        self.threads = cfg.sweep.threads or threads_for(self.workers, cores)
        self.address: str | None = None
        self._inline: deque[Job] = deque()
        self._pool: WorkerPool | None = None
        self._sent: dict[int, Job] = {}
        self._tags = itertools.count()
        self._stack = ExitStack()
        self._ctx: SweepContext | None = None

    def start(self, ctx: SweepContext, scratch: Path) -> None:
        """Enter the thread limits (one worker) or start the worker processes."""
        self._ctx = ctx
        if self.workers == 1:
            self._stack.enter_context(worker_threads(self.threads))
            return
        self._pool = WorkerPool(self.workers, _init_worker, (ctx, str(scratch)), _pool_job,
                                release_memory)  # fmt: skip

    def submit(self, job: Job) -> None:
        """Queue a job (in this process) or send it to the pool."""
        if self._pool is None:
            self._inline.append(job)
            return
        tag = next(self._tags)
        self._sent[tag] = job
        self._pool.submit(tag, job)

    def next_done(self) -> tuple[Job, Any]:
        """Run the next queued job here, or wait for the pool's next result."""
        if self._pool is None:
            assert self._ctx is not None
            # NOTE: last in, first out: a cut's attack jobs run before the next cut job, so
            # one cut's features at a time are in memory.
            job = self._inline.pop()
            result = guarded(_run, self._ctx, job)
            release_memory()
        else:
            tag, result = self._pool.get()
            job = self._sent.pop(tag)
        if isinstance(result, JobFailure):
            raise_failure(result)
        return job, result

    def release(self, handle: object) -> None:
        """Remove a cut's features file."""
        if isinstance(handle, FeaturesFile):
            Path(handle.path).unlink(missing_ok=True)

    def close(self) -> None:
        """Terminate the workers (a job in progress is dropped; its shard was never written)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._stack.close()


def _run(ctx: SweepContext, job: Job) -> Any:
    """Run a job in this process: a cut job's features stay in memory."""
    if isinstance(job, CutJob):
        return run_cut_job(ctx, job)
    return run_attack_job(ctx, open_features(_features(job)), job)


def _features(job: AttackJob) -> Features | FeaturesFile:
    assert isinstance(job.features, Features | FeaturesFile)
    return job.features


# NOTE: a worker process's context and scratch folder, set once by its initializer.
_WORKER: dict[str, Any] = {}


def _init_worker(ctx: SweepContext, scratch: str) -> None:
    """Set up a worker process: its threads are pinned for its life."""
    pin_worker_threads(ctx.threads)
    _WORKER.update(ctx=ctx, scratch=Path(scratch))


def _pool_job(job: Job) -> Any:
    """Run a job in a worker process; a cut's features go to a file the others map."""
    ctx: SweepContext = _WORKER["ctx"]
    if isinstance(job, CutJob):
        def cut() -> Any:
            out, feats = run_cut_job(ctx, job)
            return out, store_features(feats, _WORKER["scratch"], uuid.uuid4().hex)
        return guarded(cut)
    return guarded(lambda: run_attack_job(ctx, open_features(_features(job)), job))


# NOTE: RayExecutor imports the optional `ray` package only when it is set up.
EXECUTORS: dict[str, Any] = {c.name: c for c in (LocalExecutor, RayExecutor)}


def get_executor(cfg: Config) -> JobExecutor:
    """The executor `cfg.sweep.executor` names, set up for `cfg`.

    Raises:
        ConfigError: an unknown executor, or `ray` without the `ray` package (the hint gives
            the install command).
    """
    name = cfg.sweep.executor
    if name not in EXECUTORS:
        close = difflib.get_close_matches(name, list(EXECUTORS), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(f"unknown executor {name!r}",
                          hint=f"{hint}choose from: {', '.join(EXECUTORS)}")  # fmt: skip
    executor: JobExecutor = EXECUTORS[name](cfg)
    return executor
