"""A small pool of spawned worker processes that notices when a worker dies, and can kill all.

`multiprocessing.Pool` loses a task silently when its worker dies (the driver would wait
forever) and `concurrent.futures` cannot stop a running task; a sweep needs both: a worker
killed by the system is an error at once, and Ctrl-C stops every worker mid-job.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
from collections.abc import Callable
from typing import Any

from privaudit.errors import ResourceError

__all__ = ["WorkerDied", "WorkerPool"]

_POLL = 0.2  # seconds between checks of the workers' health while waiting


class WorkerDied(ResourceError):
    """A worker process ended while the sweep still needed it (most often: killed for memory)."""


class WorkerPool:
    """`size` spawned processes running `handler(task)` for each submitted task, in any order.

    Args:
        size: worker processes.
        initializer: run once in each worker, with `initargs`, before its first task.
        initargs: its arguments, sent to each worker through a queue once it has started.
        handler: runs one task in a worker; its result comes back through `get`.
        after: runs in a worker after each task (e.g. to free memory).
    """

    def __init__(
        self,
        size: int,
        initializer: Callable[..., None],
        initargs: tuple[Any, ...],
        handler: Callable[[Any], Any],
        after: Callable[[], None],
    ) -> None:
        spawn = multiprocessing.get_context("spawn")
        self._tasks: Any = spawn.Queue()
        self._results: Any = spawn.Queue()
        # NOTE: the initializer's arguments (a sweep's whole context: megabytes) go through a
        # queue, never in the processes' own arguments: those travel down a pipe whose read
        # end the parent holds open until it has written them all (CPython's spawn), so a
        # worker that died while starting blocked the sweep for ever once they exceeded the
        # pipe's 64 KiB. A queue is written by a background thread; `get` sees the death.
        self._setup: Any = spawn.Queue()
        for _ in range(size):
            self._setup.put(initargs)
        self._procs = [
            spawn.Process(target=_serve, daemon=True, name=f"privaudit-sweep-{i}",
                          args=(self._tasks, self._results, self._setup, initializer,
                                handler, after))
            for i in range(size)
        ]  # fmt: skip
        for proc in self._procs:
            proc.start()

    def submit(self, tag: object, task: object) -> None:
        """Queue `task`; its result comes back from `get` with `tag`."""
        self._tasks.put((tag, task))

    def get(self) -> tuple[Any, Any]:
        """The next (tag, result), whichever task finishes first.

        Raises:
            WorkerDied: a worker ended (killed, out of memory, or crashed on start).
        """
        while True:
            try:
                tagged: tuple[Any, Any] = self._results.get(timeout=_POLL)
                return tagged
            except queue.Empty:
                dead = [p for p in self._procs if not p.is_alive()]
                if dead:
                    raise WorkerDied(_died(dead[0].name, dead[0].exitcode),
                                     hint=RESOURCE_HINT) from None

    def close(self) -> None:
        """Stop every worker now, mid-task if need be, and wait for them to end."""
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for q in (self._tasks, self._results, self._setup):
            q.close()
            q.cancel_join_thread()


# NOTE: the hint of every sweep failure that is the machine's, not the user's input
RESOURCE_HINT = ("re-run the same command to resume from the finished jobs, with fewer workers "
                 "(--jobs) or fewer samples (--limit) if memory ran out")


def _died(name: str, code: int | None) -> str:
    """What a dead worker's exit code says (a negative code is the signal that ended it)."""
    if code is not None and code < 0:
        how = f"was killed by signal {-code}"
        if -code == signal.SIGKILL:
            how += " (the system's out-of-memory killer sends it)"
    else:
        how = f"ended unexpectedly (exit code {code})"
    return f"sweep worker {name} {how}; finished jobs are kept as shards"


def _serve(
    tasks: Any, results: Any, setup: Any, initializer: Callable[..., None],
    handler: Callable[[Any], Any], after: Callable[[], None],
) -> None:  # fmt: skip
    """A worker's life: set up once, then run tasks until told to stop (None)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # NOTE: Ctrl-C is the driver's to handle
    initializer(*setup.get())
    while True:
        item = tasks.get()
        if item is None:
            return
        tag, task = item
        results.put((tag, handler(task)))
        after()
