"""Resolve a run's inputs: model (or demo), split, normalization, noise sigma and audit data."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from privaudit import data as data_mod
from privaudit import model as model_mod
from privaudit import split as split_mod
from privaudit.config import Config, check_sigma
from privaudit.errors import ConfigError, ModelError
from privaudit.onnx_edit import strip_embedded_noise

log = logging.getLogger(__name__)

META_SIGMA = "privaudit.noise_sigma"
META_MEAN = "privaudit.mean"
META_STD = "privaudit.std"
META_SPLIT = "privaudit.split"


@dataclass(frozen=True, eq=False)
class Prepared:
    """Everything loaded and checked before measuring anything."""

    model_path: Path
    model_sha256: str
    model: onnx.ModelProto | None  # None for a pre-split pair
    split: split_mod.Split
    split_name: str
    metadata: dict[str, str]
    norm: data_mod.Normalization
    sigma: float
    sigma_source: str
    audit: data_mod.AuditSplit
    dataset: data_mod.Dataset
    is_demo: bool


def prepare(cfg: Config, *, sigma_source: str | None = None) -> Prepared:
    """Load the model (the embedded demo when none is given), split it, read the data.

    Args:
        cfg: the run's resolved settings.
        sigma_source: "flag" when --noise was given on the command line (for the report).

    Raises:
        ConfigError, ModelError, DataError: anything the user can fix.
    """
    is_demo = cfg.model is None and cfg.encoder is None
    model_path, data_path = _paths(cfg, is_demo)
    if cfg.encoder is not None:
        split = split_mod.load_presplit(cfg.encoder, cfg.head)
        model, split_name = None, "presplit"
        metadata = model_mod.read_metadata(split.encoder)
    else:
        # NOTE: a model hardened with --embed-noise adds its noise inside the graph; the audit
        # needs the deterministic encoder (it adds the same sigma itself, read from metadata).
        model = strip_embedded_noise(model_mod.load_model(model_path))
        metadata = model_mod.read_metadata(model)
        split_name = cfg.split or metadata.get(META_SPLIT) or _no_split(model_path)
        split = split_mod.split_model(model, split_name, model_name=str(model_path))
    sigma, source = _sigma(cfg, metadata, is_demo, sigma_source)
    spec = model_mod.image_input(split.encoder)
    dataset = data_mod.load_data(
        data_path,
        spec.shape,
        limit=cfg.limit,
        input_shape_override=cfg.input_shape,
        resize=cfg.resize,
    )
    norm = _normalization(cfg, metadata, dataset.x.shape[1])
    audit = audit_split(cfg, dataset)
    return Prepared(
        model_path=model_path,
        model_sha256=model_mod.sha256_file(model_path),
        model=model,
        split=split,
        split_name=split_name,
        metadata=metadata,
        norm=norm,
        sigma=sigma,
        sigma_source=source,
        audit=audit,
        dataset=dataset,
        is_demo=is_demo,
    )


def audit_split(cfg: Config, dataset: data_mod.Dataset) -> data_mod.AuditSplit:
    """The audit's attacker-auxiliary and evaluation sets of `dataset`, as `cfg` sets them."""
    return data_mod.split_aux_eval(
        dataset, eval_fraction=cfg.eval_fraction, max_eval=cfg.max_eval, seed=cfg.seed
    )


def _paths(cfg: Config, is_demo: bool) -> tuple[Path, Path]:
    from privaudit import demo

    if is_demo:
        return demo.demo_model_path(), cfg.data or demo.demo_data_path()
    model_path = cfg.model if cfg.model is not None else cfg.encoder
    assert model_path is not None
    if cfg.data is None:
        raise ConfigError(
            "no audit data given", hint="pass --data DATA (an image folder, .npz or .npy file)"
        )
    return model_path, cfg.data


def _no_split(path: Path) -> str:
    raise ConfigError(
        "no split given", hint=f"pass --split NAME; list candidates with 'privaudit layers {path}'"
    )


def _sigma(
    cfg: Config, metadata: dict[str, str], is_demo: bool, source: str | None
) -> tuple[float, str]:
    if cfg.noise is not None:
        return cfg.noise, source or "config"
    if META_SIGMA in metadata:
        try:
            value = float(metadata[META_SIGMA])
        except ValueError:
            raise ModelError(
                f"model metadata {META_SIGMA}={metadata[META_SIGMA]!r} is not a number",
                hint="pass --noise explicitly",
            ) from None
        check_sigma(value, META_SIGMA)
        return value, "model metadata"
    if is_demo:
        return 0.1, "demo default"
    raise ConfigError(
        "no noise sigma given and the model carries none",
        hint="pass --noise SIGMA (the std of the noise added to the features; 0 for none)",
    )


def _normalization(cfg: Config, metadata: dict[str, str], channels: int) -> data_mod.Normalization:
    mean = cfg.mean if cfg.mean is not None else _meta_floats(metadata, META_MEAN, (0.0,))
    std = cfg.std if cfg.std is not None else _meta_floats(metadata, META_STD, (1.0,))
    norm = data_mod.Normalization(mean=tuple(mean), std=tuple(std))
    norm.check_channels(channels)
    return norm


def _meta_floats(
    metadata: dict[str, str], key: str, default: tuple[float, ...]
) -> tuple[float, ...]:
    if key not in metadata:
        return default
    try:
        return tuple(float(v) for v in metadata[key].replace(",", " ").split())
    except ValueError:
        raise ModelError(
            f"model metadata {key}={metadata[key]!r} is not a list of numbers",
            hint=f"pass --{key.split('.')[-1]} explicitly",
        ) from None


def encode(
    session: object, norm: data_mod.Normalization, *parts: np.ndarray, batch: int
) -> np.ndarray:
    """Clean encoder features of pixel-space images (N, C, H, W) in [0, 1], parts stacked.

    Normalization is applied one batch at a time and each batch's features are written into
    one array allocated after the first batch, so memory is the features plus one batch of
    images and its features: no normalized copy of the data, no list of batches to join.

    Args:
        session: the encoder's onnxruntime session.
        norm: the model's input normalization.
        parts: image arrays, encoded in order into consecutive rows of the result.
        batch: samples per onnxruntime call.

    Returns:
        (sum of the parts' N, ...) features; (0,) float32 when there are no images.
    """
    total, out, row = sum(len(x) for x in parts), None, 0
    for x in parts:
        for i in range(0, len(x), batch):
            z = model_mod.run_batched(session, norm.apply(x[i : i + batch]), batch)
            if out is None:
                out = np.empty((total, *z.shape[1:]), z.dtype)
            out[row : row + len(z)] = z
            row += len(z)
    return out if out is not None else np.zeros((0,), np.float32)
