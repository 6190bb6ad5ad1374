"""Device choice ("auto"/"cpu"/"cuda"), deterministic per-component seeding, mixed precision."""

from __future__ import annotations

import random
import zlib

import numpy as np
import torch

from privaudit.config import Device, values
from privaudit.errors import ConfigError

__all__ = ["derive_seed", "resolve_device", "seed_everything", "use_amp"]


def resolve_device(name: str) -> torch.device:
    """Turn a user's device name into a torch device.

    Args:
        name: "auto" (CUDA when available, else CPU), "cpu" or "cuda" (also "cuda:N").

    Returns:
        The device.

    Raises:
        ConfigError: unknown name, or CUDA requested but not available.
    """
    key = name.strip().lower()
    if key == Device.AUTO:
        return torch.device(Device.CUDA if torch.cuda.is_available() else Device.CPU)
    if key == Device.CPU:
        return torch.device(Device.CPU)
    if key == Device.CUDA or key.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device: expected an available device, got {name!r} (CUDA is not available)",
                hint="use --device auto or --device cpu, or install a CUDA build of torch",
            )
        return torch.device(key)
    raise ConfigError(
        f"device: expected one of {', '.join(values(Device))}, got {name!r}",
        hint="use --device auto, cpu or cuda",
    )


def derive_seed(run_seed: int, component: str) -> int:
    """A stable 31-bit seed for one component (an attack, the feature noise, ...).

    Args:
        run_seed: the run's seed (from config or --seed).
        component: a stable name, e.g. "decoder" or "features".

    Returns:
        A seed in [0, 2^31).
    """
    # NOTE: zlib.crc32, not hash(): str hashes are salted per process, so hash() would
    # change the numbers on every run. Keying on the component name means adding an
    # attack never changes another attack's numbers.
    return zlib.crc32(f"{run_seed}:{component}".encode()) & 0x7FFF_FFFF


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's, torch's (CPU and CUDA) random generators and make a numpy one.

    Args:
        seed: the seed, e.g. from `derive_seed`.

    Returns:
        A fresh numpy Generator seeded with `seed` (numpy's global state is left alone).
    """
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return np.random.default_rng(seed)


def use_amp(device: torch.device) -> bool:
    """Whether to train with mixed precision (torch.autocast) on `device`: only on CUDA."""
    return device.type == Device.CUDA
