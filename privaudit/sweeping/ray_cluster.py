"""The `ray` executor: a sweep's jobs as tasks on an existing Ray cluster (the `ray` extra).

The context goes into Ray's object store once (`ray.put`); each cut job is a task whose
second return value, the cut's features, stays in the object store once and is passed by
reference to that cut's attack tasks (Ray moves it to a node once, and shares it there
without a copy). Attack tasks ask for a fraction of a GPU (`sweep.gpus_per_task`) when the
cluster has GPUs. Results come back to the driver, which writes the shards: no shared file
system is needed.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from privaudit.audit import Features
from privaudit.config import Config, Executor
from privaudit.errors import ConfigError, ResourceError
from privaudit.sweeping.context import (
    JobFailure,
    SweepContext,
    guarded,
    raise_failure,
    release_memory,
    worker_threads,
)
from privaudit.sweeping.grid import AttackJob, CutJob
from privaudit.sweeping.jobs import run_attack_job, run_cut_job
from privaudit.sweeping.workers import RESOURCE_HINT

__all__ = ["INSTALL", "RayExecutor", "import_ray"]

INSTALL = "pip install 'privaudit[ray]'"
Job = CutJob | AttackJob


def import_ray() -> Any:
    """The `ray` package.

    Raises:
        ConfigError: Ray is not installed (the hint gives the install command).
    """
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray, which is not installed",
                          hint=f"install it with: {INSTALL}") from None
    return ray


class RayExecutor:
    """Ray tasks on the cluster at `sweep.ray_address` (None: `RAY_ADDRESS`, else local).

    `sweep.jobs` caps the tasks in flight (default: the cluster's CPUs); each task takes
    `sweep.threads` CPUs (default 1) and as many threads, plus `sweep.gpus_per_task` GPUs for
    attacks on a cluster with GPUs.
    """

    name: ClassVar[str] = Executor.RAY.value

    def __init__(self, cfg: Config) -> None:
        self._ray = import_ray()
        self.address: str | None = cfg.sweep.ray_address
        self.workers = cfg.sweep.jobs or 0  # set from the cluster when it starts
        self.threads = cfg.sweep.threads or 1
        self._gpus = cfg.sweep.gpus_per_task
        self._queue: deque[Job] = deque()
        self._flight: dict[Any, tuple[Job, Any]] = {}
        self._remote: dict[str, Any] = {}
        self._ctx: Any = None

    def start(self, ctx: SweepContext, scratch: Path) -> None:
        """Connect, put the context into the object store, declare the two tasks."""
        ray = self._ray
        ray.init(address=self.address, logging_level=logging.ERROR, log_to_driver=False,
                 configure_logging=False)  # fmt: skip
        resources = ray.cluster_resources()
        self.workers = self.workers or max(1, int(resources.get("CPU", 1)))
        gpus = self._gpus if resources.get("GPU", 0) > 0 else 0
        self._ctx = ray.put(ctx)
        self._remote = {
            "cut": ray.remote(ray_cut_task).options(num_cpus=self.threads, num_returns=2),
            "attack": ray.remote(ray_attack_task).options(num_cpus=self.threads, num_gpus=gpus),
        }

    def submit(self, job: Job) -> None:
        """Queue a job; at most `workers` are in flight."""
        self._queue.append(job)
        self._launch()

    def _launch(self) -> None:
        while self._queue and len(self._flight) < self.workers:
            job = self._queue.popleft()
            if isinstance(job, CutJob):
                out, feats = self._remote["cut"].remote(self._ctx, job)
                self._flight[out] = (job, feats)
            else:
                ref = self._remote["attack"].remote(self._ctx, job.features,
                                                    replace(job, features=None))  # fmt: skip
                self._flight[ref] = (job, None)

    def next_done(self) -> tuple[Job, Any]:
        """Wait for the next finished task (short waits: Ctrl-C is handled at once)."""
        ready: list[Any] = []
        while not ready:
            ready, _ = self._ray.wait(list(self._flight), num_returns=1, timeout=0.2)
        job, feats = self._flight.pop(ready[0])
        errors = self._ray.exceptions
        try:
            value = self._ray.get(ready[0])
        except (errors.OutOfMemoryError, errors.WorkerCrashedError, errors.NodeDiedError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ResourceError(f"a Ray task of the sweep lost its worker: {first}",
                                hint=RESOURCE_HINT) from None
        except errors.RayError as e:
            raise RuntimeError(f"a Ray task of the sweep failed: {e}") from None
        self._launch()
        if isinstance(value, JobFailure):
            raise_failure(value)
        return job, (value, feats) if isinstance(job, CutJob) else value

    def release(self, handle: object) -> None:
        """Nothing to do: a cut's features leave the object store with their last reference."""

    def close(self) -> None:
        """Cancel the tasks still in flight and disconnect (the cluster keeps running)."""
        for ref in self._flight:
            self._ray.cancel(ref, force=True)
        self._flight.clear()
        self._queue.clear()
        if self._ray.is_initialized():
            self._ray.shutdown()


def ray_cut_task(ctx: SweepContext, job: CutJob) -> tuple[Any, Features | None]:
    """A cut job as a Ray task: (its output or failure, its features for the object store)."""
    with worker_threads(ctx.threads):
        result = guarded(run_cut_job, ctx, job)
    release_memory()
    return (result, None) if isinstance(result, JobFailure) else result


def ray_attack_task(ctx: SweepContext, feats: Features, job: AttackJob) -> Any:
    """An attack job as a Ray task (Ray hands over the cut's features from its store)."""
    with worker_threads(ctx.threads):
        result = guarded(run_attack_job, ctx, feats, job)
    release_memory()
    return result
