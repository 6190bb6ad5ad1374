"""Fixtures of the sweep tests: a small model and data on disk, settings, a real Ray cluster."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from privaudit.config import Config, load_config


@pytest.fixture(scope="session")
def sweep_data(tmp_path_factory: pytest.TempPathFactory,
               digits_like: tuple[np.ndarray, np.ndarray]) -> Path:  # fmt: skip
    """The synthetic labelled digits as an .npz file (200 samples, 10 classes)."""
    path = tmp_path_factory.mktemp("sweep-data") / "digits.npz"
    x, y = digits_like
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture(scope="session")
def sweep_settings(tiny_cnn_legacy: Path, sweep_data: Path) -> Callable[..., Config]:
    """Settings of a small sweep (2 cuts x 2 sigmas, knn and decoder at the smoke budget)."""

    def make(**overrides: Any) -> Config:
        flags = {"model": tiny_cnn_legacy, "data": sweep_data, "sweep.splits": "layer2,layer3",
                 "sweep.noise": "0,0.1", "attacks.enabled": "knn,decoder",
                 "attacks.budget": "smoke", "device": "cpu", "sweep.jobs": 1,
                 "sweep.threads": 1, **overrides}  # fmt: skip
        return load_config(None, flags, search=False)

    return make


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """A real local Ray cluster on 127.0.0.1 with 2 CPUs, stopped at the end of the session.

    Skipped only when Ray is not installed (`pip install 'privaudit[ray]'`).
    """
    pytest.importorskip("ray", reason="the ray extra is not installed")
    from ray_cluster import local_ray_cluster

    # NOTE: a short folder: Ray's socket paths must stay under the system's 107 characters.
    temp = Path(tempfile.mkdtemp(prefix="pa-ray-"))
    try:
        with local_ray_cluster(temp, cpus=2) as address:
            yield address
    finally:
        shutil.rmtree(temp, ignore_errors=True)
