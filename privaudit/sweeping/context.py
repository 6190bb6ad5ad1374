"""What every job of a sweep shares (the prepared run), and how a worker sets itself up.

The context travels once to each worker (a local process's initializer, or Ray's object
store), never with each job. A worker keeps the split of each cut it meets, so its jobs on
one cut split the model once. Features travel separately: a cut job's, handed to its
attack jobs by the executor (in memory, as a memory-mapped file, or as a Ray object).
"""

from __future__ import annotations

import ctypes
import gc
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from privaudit.audit import Features, Prepared
from privaudit.audit.prepare import allocation_scales, allocation_stds
from privaudit.config import Config
from privaudit.errors import (
    AttackError,
    ConfigError,
    DataError,
    ModelError,
    PrivauditError,
    ResourceError,
)
from privaudit.model import split_model, whiten_split
from privaudit.sweeping.grid import Cut
from privaudit.sweeping.workers import RESOURCE_HINT
from privaudit.threads import available_cores, pin_threads, use_threads

__all__ = [
    "FeaturesFile",
    "JobFailure",
    "SweepContext",
    "available_cores",
    "guarded",
    "open_features",
    "pin_worker_threads",
    "raise_failure",
    "release_memory",
    "store_features",
    "threads_for",
    "worker_threads",
]


@dataclass(frozen=True, eq=False)
class SweepContext:
    """The prepared run every job starts from.

    Attributes:
        cfg: the run's settings.
        prep: the prepared run (whole model, normalization, audit partition); its dataset
            keeps only the few samples the split check needs.
        cuts: the grid's cuts.
        noise_sigmas: the grid's sigmas.
        entropy: h(x)/d in nats and its source, the same at every cut.
        grid: the images' `pixel_grid_variance` (0 for vectors and signals), the same too.
        threads: torch, onnxruntime and BLAS threads of each job.
        token: this sweep's identity in a worker's caches.
    """

    cfg: Config
    prep: Prepared
    cuts: tuple[Cut, ...]
    noise_sigmas: tuple[float, ...]
    entropy: tuple[float, str]
    grid: float
    threads: int
    token: str = ""

    @classmethod
    def create(cls, cfg: Config, prep: Prepared, cuts: tuple[Cut, ...],
               noise_sigmas: tuple[float, ...], entropy: tuple[float, str], grid: float,
               threads: int) -> SweepContext:  # fmt: skip
        """A context whose prepared run keeps no more of the dataset than its audit sets."""
        light = replace(prep.dataset, x=prep.dataset.x[:8])
        return cls(cfg, replace(prep, dataset=light), cuts, noise_sigmas, entropy, grid,
                   threads, uuid.uuid4().hex)  # fmt: skip

    def cut(self, name: str) -> Cut:
        """The grid's cut called `name`."""
        return next(c for c in self.cuts if c.name == name)

    def prepared(self, cut: str, noise_sigma: float | None = None) -> Prepared:
        """The prepared run split at `cut` (cached per worker), at `noise_sigma`.

        At the cut a noise-allocation model was hardened at, the split is whitened and the
        noise is sigma * a_j per channel, as `assess` audits it (`noise_channels`); every
        sigma of that cut shares the one whitened split, and so its features.
        """
        key = (self.token, cut)
        if key not in _SPLITS:
            if len(_SPLITS) >= _KEEP_SPLITS:
                _SPLITS.pop(next(iter(_SPLITS)))
            assert self.prep.model is not None
            split = split_model(self.prep.model, self.cut(cut).tensor,
                                model_name=str(self.prep.model_path))  # fmt: skip
            scales = allocation_scales(split, self.prep.metadata, cut, self.prep.model)
            if scales is not None:
                split = whiten_split(split, np.asarray(scales))
            _SPLITS[key] = (replace(self.prep, split=split, split_name=cut, noise_stds=None),
                            scales)  # fmt: skip
        prep, scales = _SPLITS[key]
        if noise_sigma is None:
            return prep
        return replace(prep, noise_sigma=noise_sigma,
                       noise_stds=allocation_stds(noise_sigma, scales))


# NOTE: a worker process's splits, by (sweep token, cut): jobs of one cut split the model once.
# Bounded, as a Ray worker serves sweep after sweep.
_SPLITS: dict[tuple[str, str], tuple[Prepared, tuple[float, ...] | None]] = {}
_KEEP_SPLITS = 8


@dataclass(frozen=True)
class FeaturesFile:
    """A cut's features in a `.npy` file, which local workers map instead of copying."""

    path: str
    n_aux: int
    shape: tuple[int, ...]


def store_features(feats: Features, folder: Path, name: str) -> FeaturesFile:
    """Write `feats` to `folder/name.npy` for the attack jobs of other processes."""
    path = folder / f"{name}.npy"
    np.save(path, feats.all)
    return FeaturesFile(str(path), feats.n_aux, feats.shape)


def open_features(handle: Features | FeaturesFile) -> Features:
    """The features a handle stands for (a file is memory-mapped, never written back)."""
    if isinstance(handle, Features):
        return handle
    # NOTE: copy-on-write: writable for torch, while the file stays as the cut job wrote it.
    return Features(np.load(handle.path, mmap_mode="c"), handle.n_aux, handle.shape)


def threads_for(workers: int, cores: int | None = None) -> int:
    """Threads per job when `workers` jobs share the cores: never more threads than cores."""
    return max(1, (cores or available_cores()) // max(1, workers))


@contextmanager
def worker_threads(threads: int) -> Iterator[None]:
    """Give torch, BLAS and new onnxruntime sessions `threads` threads inside the block.

    An in-process run enters it for its jobs; worker processes use `pin_worker_threads`.
    """
    with use_threads(threads):
        yield


def pin_worker_threads(threads: int) -> None:
    """Set a worker process's torch, BLAS and onnxruntime threads for its whole life."""
    pin_threads(threads)


def release_memory() -> None:
    """Give a finished job's memory back to the system, so that a worker's peak stays one job's.

    # NOTE: without it, glibc keeps the freed arenas of each job and a worker's resident set
    # creeps up job after job (measured +60 MiB over 3 decoder jobs at the demo's layer1).
    """
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:  # NOTE: not glibc (musl): nothing to trim
            pass


@dataclass(frozen=True)
class JobFailure:
    """A job that raised: what the driver re-raises (a user's error, or a bug: `internal`)."""

    error: str
    message: str
    hint: str | None = None
    internal: bool = False


def guarded(run: Callable[..., Any], *args: Any) -> Any:
    """`run(*args)`, or the JobFailure it raised (exceptions do not cross processes intact)."""
    try:
        return run(*args)
    except PrivauditError as e:
        return JobFailure(type(e).__name__, e.message, e.hint)
    except MemoryError:
        return JobFailure(ResourceError.__name__, "a sweep job ran out of memory", RESOURCE_HINT)
    except Exception as e:  # NOTE: the job boundary; the driver raises it as an internal error
        return JobFailure(type(e).__name__, f"{e!r}\n{traceback.format_exc()}", internal=True)


_KINDS: dict[str, type[PrivauditError]] = {
    "ConfigError": ConfigError, "DataError": DataError, "AttackError": AttackError,
    "ResourceError": ResourceError,
}  # fmt: skip


def raise_failure(failure: JobFailure) -> NoReturn:
    """Raise a failed job's error in the driver: a user's error as its kind, a bug as such.

    Raises:
        PrivauditError: the job's (ModelError for model errors and any other kind).
        RuntimeError: an internal error of the job (a bug), with its traceback.
    """
    if failure.internal:
        raise RuntimeError(f"a sweep job failed: {failure.message}")
    raise _KINDS.get(failure.error, ModelError)(failure.message, hint=failure.hint)
