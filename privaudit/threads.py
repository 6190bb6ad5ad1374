"""How many CPU threads a run uses, and handing them to torch, onnxruntime and the BLAS pools.

Covered: torch's intra-op pool (`torch.set_num_threads`), the intra-op pool of every
onnxruntime session made inside the run (`privaudit.model.make_session`), and every BLAS or
OpenMP pool that threadpoolctl finds in the process (OpenBLAS, MKL, BLIS, and the OpenMP
runtime torch itself links). Not covered: torch's inter-op pool (privaudit runs no
`torch.jit.fork` work on it) and onnxruntime's inter-op pool (sessions run sequentially, with 1).
The environment variables (OMP_NUM_THREADS, ...) are left alone: they act only on libraries not
yet loaded, while threadpoolctl, a dependency, sets the loaded ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["available_cores", "pin_threads", "resolve_threads", "session_threads", "use_threads"]

# NOTE: the threads of the run in progress, for the onnxruntime sessions it makes (set by
# use_threads; empty outside a run: then sessions get every available core).
_RUN_THREADS: list[int] = []
# NOTE: the BLAS limit of a worker process lives as long as the process (see pin_threads).
_PINNED: list[object] = []


def available_cores() -> int:
    """The CPUs this process may use: its CPU affinity where the system has one, else all."""
    getter = getattr(os, "sched_getaffinity", None)
    return len(getter(0)) if getter is not None else os.cpu_count() or 1


def resolve_threads(threads: int | None) -> int:
    """A run's threads: `threads`, else the enclosing `use_threads` block's, else every CPU.

    The enclosing block is a caller's limit (a test's, a sweep worker's share); every CPU
    means those this process may use (`available_cores`).
    """
    return threads if threads is not None else session_threads()


def session_threads() -> int:
    """The threads of work started now: the run's (innermost `use_threads`), else every CPU."""
    return _RUN_THREADS[-1] if _RUN_THREADS else available_cores()


@contextmanager
def use_threads(threads: int) -> Iterator[None]:
    """Give torch, the BLAS/OpenMP pools and new onnxruntime sessions `threads` threads.

    Everything is put back as it was when the block ends.

    Args:
        threads: threads per pool (>= 1; `privaudit.config` has validated a user's value).
    """
    import torch  # NOTE: here, so that importing this module never loads torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    _RUN_THREADS.append(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        _RUN_THREADS.pop()
        torch.set_num_threads(before)


def pin_threads(threads: int) -> None:
    """Give torch, BLAS/OpenMP and new sessions `threads` threads for the process's whole life.

    For worker processes (a sweep's); a run in the calling process uses `use_threads`.
    """
    import torch  # NOTE: here, as in use_threads
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    _RUN_THREADS.append(threads)
    _PINNED.append(threadpool_limits(limits=threads))
