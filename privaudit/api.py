"""The Python API: `assess`, `harden`, `sweep`, `load_report` and `load_sweep`.

The same runs as the command line, configured by keyword arguments instead of flags, with
models and data given as paths or in memory. Errors raise the `privaudit.errors` types
(never `SystemExit`); nothing is printed and no report file is written: the returned
`AuditReport` has `to_dict()`, `to_json()`, `to_dataframe()` and an HTML view in notebooks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import onnx

import privaudit.reports  # noqa: F401  NOTE: registers the HTML view of every AuditReport
from privaudit.config import Config, NoiseSource, load_config
from privaudit.errors import ConfigError, DataError
from privaudit.outputs import (
    check_model_output,
    check_writable_dir,
    refuse_overwrite,
    remove_new_folders_on_failure,
    restore_on_failure,
)
from privaudit.progress import NullProgress, Progress
from privaudit.results import AuditReport, SweepReport, read_report, read_saved

# NOTE: the runs (privaudit.audit, privaudit.hardening) import torch: they load inside
# `assess` and `harden`, so that `load_report` and `import privaudit.api` stay light.

__all__ = ["assess", "harden", "load_report", "load_sweep", "sweep"]

ModelLike = str | Path | onnx.ModelProto | bytes | None
DataLike = str | Path | np.ndarray | tuple[Any, ...] | Mapping[str, Any] | None
_SECTIONS = ("bound", "attacks", "gate", "harden", "sweep")


def assess(
    model: ModelLike = None,
    *,
    data: DataLike = None,
    split: str | None = None,
    noise: float | None = None,
    attacks: Sequence[str] | bool | None = None,
    budget: str | None = None,
    config: str | Path | bool | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> AuditReport:
    """Audit a split model: the bound, accuracy with and without noise, the attack battery.

    Args:
        model: an ONNX model: a path, an `onnx.ModelProto` or its serialized bytes; None
            audits the embedded demo model.
        data: the audit data: a path (CSV or Parquet table, `.npz`, `.npy`, image folder), an
            array `x` (images, tabular vectors (N, F) or signals (N, C, T) in their own units), a
            tuple `(x, y)` or a mapping with `x` and optional `y`; None only for the demo model.
        split: the module, node or tensor to cut at (default: the model's metadata).
        noise: the std of the noise added to the features (default: the model's metadata).
        attacks: attack names to run, True for all, False or [] for none (the bound only).
        budget: the attacks' compute budget: "smoke", "standard" (default) or "thorough".
        config: a TOML file with `[tool.privaudit]`, True to search for pyproject.toml as
            the command line does, None (default) for the built-in defaults.
        progress: a `privaudit.progress.Progress` to report to (default: silent).
        **options: any other config key (`seed=1`, `device="cpu"`, `limit=500`,
            `noise_sweep=(0.05, 0.1)`), sections as mappings (`bound={"k": 3}`,
            `gate={"max_leakage": 0.5}`).

    Returns:
        The audit report; `report.gate` holds the gate's outcome when thresholds were given.

    Raises:
        ConfigError, ModelError, DataError: anything the caller can fix.
    """
    from privaudit.audit import InMemory, run_assess

    cfg, (proto, x, y) = _resolve(model, data, split, noise, attacks, budget, config, options)
    return run_assess(
        cfg, progress=_progress(progress), noise_source=_source(noise),
        memory=InMemory(model=proto, x=x, y=y),
    )


def harden(
    model: ModelLike = None,
    *,
    output: str | Path,
    data: DataLike = None,
    split: str | None = None,
    noise: float | None = None,
    attacks: Sequence[str] | bool | None = None,
    budget: str | None = None,
    config: str | Path | bool | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> AuditReport:
    """Harden a split model with CEM plus noise, write it to `output`, audit before and after.

    Takes the arguments of `assess` (labelled data is required), plus `output`, the path of
    the hardened ONNX model (checked before any work, written atomically, never over the
    input; a run that fails leaves neither the model nor a folder it made). Fine-tuning settings
    go in `harden={"lam": 4, "epochs": 10, "baseline": True, ...}`.

    Returns:
        The original model's report; `report.harden` holds the hardened model's audit
        (`report.harden.after`), the training history and the baselines.

    Raises:
        ConfigError, ModelError, DataError: anything the caller can fix.
    """
    from privaudit.audit import InMemory
    from privaudit.hardening import run_harden

    cfg, (proto, x, y) = _resolve(model, data, split, noise, attacks, budget, config, options)
    if not isinstance(output, str | Path):
        raise ConfigError(f"output: expected a path, got {type(output).__name__}",
                          hint="e.g. output='hardened.onnx'")
    path = Path(output).expanduser().resolve()
    # NOTE: as the command line: checked before the work, and all or nothing after it
    with remove_new_folders_on_failure([path.parent]):
        check_model_output(path, flag="output=")
        refuse_overwrite([path], {"model": cfg.model, "data": cfg.data}, flag="output=")
        with restore_on_failure([path]):
            return run_harden(
                cfg, output=path, progress=_progress(progress),
                noise_source=_source(noise), memory=InMemory(model=proto, x=x, y=y),
            )  # fmt: skip


def sweep(
    model: ModelLike = None,
    *,
    data: DataLike = None,
    splits: Sequence[str] | str | None = None,
    noise: Sequence[float] | None = None,
    attacks: Sequence[str] | bool | None = None,
    budget: str | None = None,
    min_accuracy: float | None = None,
    min_attack_mse: float | None = None,
    max_recovered: float | None = None,
    shards: str | Path | None = None,
    fresh: bool = False,
    config: str | Path | bool | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> SweepReport:
    """Where to cut and how much noise: every (cut, sigma), the frontier, one recommendation.

    Args:
        model: the whole ONNX model (a path, `onnx.ModelProto` or its bytes); None: the demo.
        data: the audit data, as for `assess`.
        splits: cut names (a list, or one comma-separated string as on the command line), or
            "auto" (the clean cuts `privaudit layers` lists, at most 6).
        noise: the sigmas (default 0, 0.05, 0.1, 0.2).
        attacks: attack names, True for all, False or [] for none.
        budget: the attacks' compute budget.
        min_accuracy: constraint on the noisy accuracy (0-1).
        min_attack_mse: constraint on the strongest reconstruction's MSE (attacks and
            references).
        max_recovered: constraint on the largest recovered share (likewise).
        shards: a folder that keeps every finished job (a re-run resumes from it); None
            keeps nothing on disk.
        fresh: ignore the finished jobs in `shards`.
        config: as for `assess`.
        progress: as for `assess`.
        **options: any other config key, e.g. `seed=1`, `limit=500`, and the sweep's own as
            `sweep={"seeds": 3, "jobs": 2, "executor": "ray", "ray_address": "..."}`. With
            more than one local job, call it under `if __name__ == "__main__":` in a script.

    Returns:
        The sweep: `points` (one per cut x sigma), `recommendation`, `to_json()`.

    Raises:
        ConfigError, ModelError, DataError: anything the caller can fix.
    """
    from privaudit.audit import InMemory
    from privaudit.sweeping import run_sweep

    own = {"splits": _names(splits), "noise": noise,
           "min_accuracy": min_accuracy, "min_attack_mse": min_attack_mse,
           "max_recovered": max_recovered}  # fmt: skip
    table = {**{k: v for k, v in own.items() if v is not None}, **options.pop("sweep", {})}
    if not isinstance(fresh, bool):  # NOTE: fresh="no" is truthy, and fresh drops every shard
        raise ConfigError(f"fresh: expected True or False, got {fresh!r}",
                          hint="fresh=True ignores the finished jobs in shards=")
    if shards is not None and not isinstance(shards, str | Path):
        raise ConfigError(f"shards: expected a folder path, got {type(shards).__name__}",
                          hint="shards='sweep-shards' keeps the finished jobs there")
    cfg, (proto, x, y) = _resolve(model, data, None, None, attacks, budget, config,
                                  {**options, "sweep": table})  # fmt: skip
    if shards is None:
        return run_sweep(cfg, progress=_progress(progress), fresh=fresh,
                         memory=InMemory(model=proto, x=x, y=y))  # fmt: skip
    folder = Path(shards).expanduser().resolve()
    with remove_new_folders_on_failure([folder]):
        check_writable_dir(folder, flag="shards=")  # NOTE: before the work, not after it
        return run_sweep(cfg, progress=_progress(progress), shards=folder, fresh=fresh,
                         memory=InMemory(model=proto, x=x, y=y))  # fmt: skip


def load_sweep(path: str | Path) -> SweepReport:
    """Read a `sweep.json` written by privaudit.

    Raises:
        DataError: missing, unreadable, or not a privaudit sweep.
    """
    saved = read_saved(Path(path), hint="pass the sweep.json written by 'privaudit sweep'")
    if not isinstance(saved, SweepReport):
        raise DataError(f"{path} is an audit report (report.json), not a sweep",
                        hint="read it with privaudit.load_report")
    return saved


def load_report(path: str | Path) -> AuditReport:
    """Read a `report.json` written by privaudit (any readable schema version).

    Raises:
        DataError: missing, unreadable, or not a privaudit report.
        ConfigError: `path` is not a path (a str or a Path).
    """
    if not isinstance(path, str | PurePath):
        raise ConfigError(f"load_report: expected a path (str or Path), got "
                          f"{type(path).__name__}",
                          hint="pass the path to a report.json, e.g. 'out/report.json'")
    return read_report(Path(path))


def _resolve(
    model: ModelLike,
    data: DataLike,
    split: str | None,
    noise: float | None,
    attacks: Sequence[str] | bool | None,
    budget: str | None,
    config: str | Path | bool | None,
    options: Mapping[str, Any],
) -> tuple[Config, tuple[onnx.ModelProto | None, np.ndarray | None, np.ndarray | None]]:
    """The run's Config (defaults < config file < arguments) and its in-memory inputs."""
    proto, model_path = _model(model)
    x, y, data_path = _data(data)
    flat: dict[str, Any] = {"model": model_path, "data": data_path, "split": split,
                            "noise": noise, "attacks.budget": budget}
    if attacks is not None:
        flat["attacks.enabled"] = _attack_names(attacks)
    for key, value in options.items():
        if key in _SECTIONS and isinstance(value, Mapping):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    if not isinstance(config, str | Path | bool | None):
        raise ConfigError(f"config: expected a TOML file's path, True or None, got "
                          f"{type(config).__name__}",
                          hint="config='pyproject.toml', or True to search as the command does")
    path = None if isinstance(config, bool) or config is None else Path(config)
    cfg = load_config(path, flat, search=config is True, given="in the arguments")
    return cfg, (proto, x, y)


def _model(model: ModelLike) -> tuple[onnx.ModelProto | None, Path | None]:
    if model is None:
        return None, None
    if isinstance(model, onnx.ModelProto):
        return model, None
    if isinstance(model, bytes):
        proto = onnx.ModelProto()
        try:
            proto.ParseFromString(model)
        except Exception as e:  # NOTE: protobuf's DecodeError has no stable public base
            raise ConfigError("model: the bytes are not a serialized ONNX model",
                              hint="pass onnx_model.SerializeToString() or a path") from e
        return proto, None
    if isinstance(model, str | Path):
        return None, Path(model)
    raise ConfigError(f"model: expected a path, an onnx.ModelProto or bytes, got "
                      f"{type(model).__name__}",
                      hint="e.g. privaudit.assess('model.onnx', data=...)")


def _data(data: DataLike) -> tuple[np.ndarray | None, np.ndarray | None, Path | None]:
    if data is None:
        return None, None, None
    if isinstance(data, str | Path):
        return None, None, Path(data)
    if isinstance(data, Mapping):
        if "x" not in data:
            raise ConfigError("data: a mapping needs the key 'x'", hint="data={'x': x, 'y': y}")
        x, y = data["x"], data.get("y")
    elif isinstance(data, tuple):
        if len(data) not in (1, 2):
            raise ConfigError(f"data: expected (x,) or (x, y), got a tuple of {len(data)}",
                              hint="data=(x, y)")
        x, y = data[0], data[1] if len(data) == 2 else None
    else:
        x, y = data, None
    return _array(x, "x"), None if y is None else _array(y, "y"), None


def _array(value: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"data: {name} is not an array ({e})", hint="pass numpy arrays") from e


def _progress(progress: Progress | None) -> Progress:
    """The caller's progress, checked: something else failed deep inside the run."""
    if progress is None:
        return NullProgress()
    if not callable(getattr(progress, "task", None)):
        raise ConfigError(f"progress: expected a privaudit.progress.Progress, got "
                          f"{type(progress).__name__}",
                          hint="leave it out (silent) or pass an object with task(...)")
    return progress


def _names(splits: Sequence[str] | str | None) -> Sequence[str] | None:
    """Cut names from a list, or from one comma-separated string as `--splits` takes them."""
    if isinstance(splits, str):
        return [s.strip() for s in splits.split(",") if s.strip()]
    return splits


def _attack_names(attacks: Sequence[str] | bool) -> tuple[str, ...] | None:
    if attacks is True:
        return None  # NOTE: the default, every attack
    if attacks is False:
        return ()
    if isinstance(attacks, str):
        return tuple(a for a in attacks.split(",") if a)
    if not isinstance(attacks, Sequence) or not all(isinstance(a, str) for a in attacks):
        raise ConfigError(f"attacks: expected attack names, True or False, got {attacks!r}",
                          hint='e.g. attacks=["knn", "decoder"], or attacks=False for none')
    return tuple(attacks)


def _source(noise: float | None) -> str | None:
    return NoiseSource.API.value if noise is not None else None
