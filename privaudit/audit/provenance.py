"""What makes a run reproducible and trustworthy: stage timings, versions, the provenance record."""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata

from privaudit import __version__
from privaudit.config import Config, as_dict
from privaudit.results import Provenance
from privaudit.runtime import resolve_device
from privaudit.threads import resolve_threads

__all__ = ["Timer", "provenance", "versions"]

log = logging.getLogger(__name__)


@dataclass
class Timer:
    """Wall time per named stage, in seconds."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the enclosed block under `name`; its start and end are logged (INFO, `-v`)."""
        log.info("stage %s ...", name)
        start, ended = time.perf_counter(), False
        try:
            yield
            ended = True
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 4)
            how = "done in" if ended else "stopped after"
            log.info("stage %s %s %.2f s", name, how, self.seconds[name])


def versions() -> dict[str, str]:
    """The versions of Python, privaudit and the libraries whose numbers it depends on."""
    out = {"python": platform.python_version(), "privaudit": __version__}
    for pkg in ("torch", "onnx", "onnxruntime", "numpy"):
        try:
            out[pkg] = importlib_metadata.version(pkg)
        except importlib_metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def provenance(cfg: Config, created: str, command: str, timer: Timer) -> Provenance:
    """The provenance record of a run, with the device as resolved (never an unavailable one).

    Raises:
        ConfigError: `cfg.device` is not available (`prepare` has refused it already).
    """
    return Provenance(
        tool_version=__version__,
        created_at=created,
        command=command,
        seed=cfg.seed,
        device=str(resolve_device(cfg.device)),
        config=as_dict(cfg),
        versions=versions(),
        timings=dict(timer.seconds),
        threads=resolve_threads(cfg.threads),
    )
