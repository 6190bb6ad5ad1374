"""Finished jobs on disk: one JSON shard per job under OUTPUT_DIR/shards/, written atomically.

A shard is keyed by everything its numbers depend on: the model's hash, the data's
fingerprint, the job's coordinates (cut, sigma, attack, seed), the budget, the privaudit
version and a digest of the settings that change results (the run seed, the aux/eval
partition, the bound and attack parameters, normalization, the device as resolved: `auto`
on a CUDA machine is not `auto` on a CPU). A re-run finds the
shards of finished jobs and skips them, so a sweep resumes after Ctrl-C or a crash; a shard
whose key differs in anything is simply not found.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from privaudit import __version__
from privaudit.config import Config
from privaudit.outputs import atomic_write
from privaudit.results import to_jsonable
from privaudit.runtime import resolve_device

__all__ = ["SHARD_VERSION", "ShardStore", "settings_digest"]

log = logging.getLogger(__name__)

SHARD_VERSION = 4  # 2: a point carries the `nearest` reference; 3: the noise stream (float32),
# decoding in batches of 64; 4: exact matches snapped to a column's values, the floor's joint
# Gaussianity warning (results of version 3 lack them: not reused)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SHARD_NAME = re.compile(r"--[0-9a-f]{16}\.json$")  # `path`'s names end so


def settings_digest(cfg: Config, norm: tuple[tuple[float, ...], tuple[float, ...]]) -> str:
    """A digest of the settings, besides the key's own fields, that change a job's numbers.

    Args:
        cfg: the run's settings.
        norm: the normalization (mean, std) actually applied (flags, or the model's metadata).
    """
    relevant = {
        "seed": cfg.seed, "eval_fraction": cfg.eval_fraction, "max_eval": cfg.max_eval,
        "limit": cfg.limit, "input_shape": cfg.input_shape, "resize": cfg.resize,
        "norm": norm, "device": str(resolve_device(cfg.device)), "bound": to_jsonable(cfg.bound),
        "attack_params": {k: dict(v) for k, v in sorted(cfg.attacks.params.items())},
    }  # fmt: skip
    text = json.dumps(relevant, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ShardStore:
    """The shards of one sweep's identity (model, data, budget, version, settings).

    Attributes:
        folder: OUTPUT_DIR/shards.
        identity: the key fields every job of the sweep shares.
        fresh: ignore existing shards (a fresh run `clear`s them first).
        ignored: why the shards found but not reused were not (unreadable, or tampered).
    """

    folder: Path
    identity: dict[str, str]
    fresh: bool = False
    ignored: list[str] = field(default_factory=list)  # why shards were not reused, for the report

    @classmethod
    def create(
        cls, folder: Path, *, model: str, data: str, budget: str, settings: str, fresh: bool
    ) -> ShardStore:
        """The store of a sweep with these identity fields."""
        identity = {"model_sha256": model, "data_fingerprint": data, "budget": budget,
                    "privaudit": __version__, "settings": settings}  # fmt: skip
        return cls(folder, identity, fresh)

    def clear(self) -> int:
        """Remove the folder's shards (a `--fresh` run starts from none); how many it removed.

        Only files named as shards are removed, so that a later run without `--fresh` cannot
        resume from the shards this run meant to discard.
        """
        if not self.folder.is_dir():
            return 0
        gone = 0
        for path in self.folder.glob("*.json"):
            if _SHARD_NAME.search(path.name) and path.is_file():
                path.unlink(missing_ok=True)
                gone += 1
        return gone

    def ignore(self, path: Path, why: str) -> None:
        """Record (and log) a shard that is not reused: the sweep's report warns of it."""
        log.debug("ignoring shard %s: %s", path, why)
        self.ignored.append(f"a shard was not reused and its job ran again ({path.name}: {why})")

    def key(self, kind: str, **coordinates: object) -> dict[str, Any]:
        """The full key of one job: its kind and coordinates, and the sweep's identity."""
        return {"kind": kind, **coordinates, **self.identity}

    def path(self, key: dict[str, Any]) -> Path:
        """The shard file of `key`: readable coordinates, then a hash of the whole key."""
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        parts = [str(key["kind"])] + [
            f"{k}={key[k]}" for k in ("cut", "noise_sigma", "attack", "seed") if k in key
        ]
        readable = _UNSAFE.sub("_", "--".join(parts))[:120]
        return self.folder / f"{readable}--{digest}.json"

    def load(self, key: dict[str, Any]) -> Any | None:
        """The value of a finished job, or None (no shard, `fresh`, or an unreadable one)."""
        path = self.path(key)
        if self.fresh or not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
        except (OSError, ValueError, RecursionError) as e:
            self.ignore(path, f"unreadable: {e}")
            return None
        if not isinstance(doc, dict) or doc.get("shard_version") != SHARD_VERSION or (
            doc.get("key") != key
        ):
            return None
        return doc.get("value")

    def save(self, key: dict[str, Any], value: object) -> None:
        """Write a finished job's value atomically (a reader never sees half a shard)."""
        doc = {"shard_version": SHARD_VERSION, "key": key, "value": to_jsonable(value)}
        atomic_write((json.dumps(doc, indent=1, allow_nan=False) + "\n").encode(), self.path(key))


def _no_constant(name: str) -> float:
    """A shard holds NaN or Infinity, which `save` never writes (allow_nan=False)."""
    raise ValueError(f"{name} is not a value privaudit writes")
