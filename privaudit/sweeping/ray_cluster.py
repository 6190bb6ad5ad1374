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
import os
import signal
import socket
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
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

__all__ = ["INSTALL", "RayExecutor", "TooLong", "at_most", "check_reachable", "host_port",
           "import_ray"]

INSTALL = "pip install 'privaudit[ray]'"
CONNECT_SECONDS = 10.0  # the cluster's address must accept a TCP connection within this
INIT_SECONDS = 30  # then ray.init must connect within this (Unix, main thread: SIGALRM)
UNREACHABLE_HINT = ("check the address (the head node's HOST:PORT, port 6379 unless its "
                    "'ray start --head' set another) and that the cluster is up: run 'ray status' "
                    "on the head node")  # fmt: skip
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
        check_reachable(self.address or os.environ.get("RAY_ADDRESS"))
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
        try:
            with at_most(INIT_SECONDS if self.address else None):
                ray.init(address=self.address, logging_level=logging.ERROR,
                         log_to_driver=False, configure_logging=False)  # fmt: skip
        except TooLong:
            if ray.is_initialized():
                ray.shutdown()
            raise ConfigError(f"the Ray cluster at {self.address} did not answer within "
                              f"{INIT_SECONDS} s", hint=UNREACHABLE_HINT) from None
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


def check_reachable(address: str | None, timeout: float = CONNECT_SECONDS) -> None:
    """Refuse a cluster address that accepts no TCP connection within `timeout` seconds.

    ray.init retries an unreachable cluster for many minutes, printing only its own warnings
    (a reviewer's `--ray-address 127.0.0.1:1` hung 7 minutes). `None`, `auto` and `local`
    (Ray finds or starts the cluster itself) and an address that is not HOST:PORT are left
    to Ray.

    Raises:
        ConfigError: the connection was refused, failed or timed out.
    """
    target = host_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout):
            pass
    except OSError as e:
        why = f"no answer within {timeout:g} s" if isinstance(e, TimeoutError) else (
            e.strerror or str(e) or type(e).__name__)
        raise ConfigError(f"cannot reach the Ray cluster at {address}: {why}",
                          hint=UNREACHABLE_HINT) from None


def host_port(address: str | None) -> tuple[str, int] | None:
    """(host, port) of a `HOST:PORT` or `ray://HOST:PORT` address, else None."""
    if not address or address in ("auto", "local"):
        return None
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if "://" in rest or not sep or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


class TooLong(BaseException):
    """ray.init ran past its time (a BaseException: Ray's retries catch every Exception)."""


@contextmanager
def at_most(seconds: int | None) -> Iterator[None]:
    """Raise `TooLong` in the block once `seconds` have passed (None: no limit).

    By SIGALRM, so only on Unix and in the main thread (elsewhere without a limit); the
    signal is handled once Ray's connection attempt in progress returns to Python.
    """
    usable = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if seconds is None or not usable:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise TooLong

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


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
