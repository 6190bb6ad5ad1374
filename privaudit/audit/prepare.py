"""Resolve a run's inputs: model (or demo), split, normalization, noise sigma and audit data."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx

from privaudit import demo
from privaudit.attacks import check_params
from privaudit.config import (
    DOMAIN_BY_RANK,
    Budget,
    ChannelLayout,
    Config,
    Domain,
    EntropySpec,
    NoiseSource,
)
from privaudit.data import (
    AuditPartition,
    Dataset,
    Feed,
    Layout,
    Normalization,
    dataset_from_arrays,
    input_layout,
    is_8bit,
    load_data,
    partition_aux_eval,
)
from privaudit.errors import ConfigError, DataError, ModelError
from privaudit.model import (
    InputSpec,
    Split,
    channel_scales,
    channels_first_view,
    check_deterministic,
    check_model,
    embedded_sigma,
    image_input,
    is_channels_first_view,
    load_model_and_sha256,
    load_presplit,
    metadata,
    model_sha256,
    read_metadata,
    resolve_split,
    sha256_bytes,
    split_model,
    strip_embedded_noise,
    whiten_split,
)
from privaudit.noise import check_noise_sigma
from privaudit.runtime import resolve_device

__all__ = [
    "IN_MEMORY_DATA",
    "IN_MEMORY_MODEL",
    "InMemory",
    "NO_LABELS",
    "Prepared",
    "audit_partition",
    "check_settings",
    "allocation_scales",
    "allocation_stds",
    "noise_channels",
    "prepare",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Prepared:
    """Everything loaded and checked before measuring anything."""

    model_path: Path
    model_sha256: str
    model: onnx.ModelProto | None  # None for a pre-split pair
    split: Split
    split_name: str
    metadata: dict[str, str]
    norm: Normalization
    feed: Feed  # measured samples -> the model's input (units, shape, normalization)
    noise_sigma: float
    noise_source: str
    audit: AuditPartition
    dataset: Dataset
    is_demo: bool
    # per-channel noise stds at `noise_sigma` (their RMS), from a model hardened with
    # noise-allocation; `split` is then whitened (model.whiten): its cut is z / a_j
    noise_stds: tuple[float, ...] | None = None
    # the model adds its noise in its graph (hardened with --embed-noise), taken out here
    embedded_noise: bool = False
    embedded_at: str | None = None  # the tensor the graph added its noise to, when it did
    embedded_sigma: float | None = None  # that noise's std, read off the graph


@dataclass(frozen=True, eq=False)
class InMemory:
    """Inputs handed over in memory (the Python API) instead of files named in the config.

    Attributes:
        model: an ONNX model (checked like a file), or None: `cfg.model`.
        x: the audit samples as a `.npz`'s `x` would hold them, or None: `cfg.data`.
        y: their class labels, or None.
    """

    model: onnx.ModelProto | None = None
    x: np.ndarray | None = None
    y: np.ndarray | None = None


IN_MEMORY_MODEL = Path("<in-memory model>")
IN_MEMORY_DATA = "<in-memory arrays>"


def prepare(
    cfg: Config, *, noise_source: str | None = None, memory: InMemory | None = None
) -> Prepared:
    """Load the model (the embedded demo when none is given), split it, read the data.

    Args:
        cfg: the run's resolved settings.
        noise_source: where `cfg.noise` came from when not the config (e.g. "flag").
        memory: a model and/or data given in memory, which take the place of files.

    Raises:
        ConfigError, ModelError, DataError: anything the user can fix.
    """
    check_settings(cfg)
    memory = memory or InMemory()
    is_demo = cfg.model is None and cfg.encoder is None and memory.model is None
    if cfg.data is None and memory.x is None and not is_demo:
        raise ConfigError(
            "no audit data given",
            hint="pass --data DATA (a CSV or Parquet table, an .npz or .npy file, or an image "
            "folder)",
        )
    model_path, sha, model, split, split_name, meta, embedded = _split(cfg, memory, is_demo)
    own = None if embedded is None else embedded[1]
    noise_sigma, source = _noise_sigma(cfg, meta, is_demo, noise_source, own)
    split, noise_stds = noise_channels(split, meta, noise_sigma, split_name, model)
    spec = image_input(split.encoder)
    viewed = is_channels_first_view(split.encoder)
    sizes = _first_sizes(cfg.input_shape, viewed)
    layout = input_layout(spec.shape, cfg.domain, sizes, channels_last=viewed)
    integer = _integer_input(spec, layout)
    _check_data_range(cfg, layout)
    _check_entropy(cfg, layout)
    dataset = _dataset(cfg, memory, spec.shape, is_demo, sizes, viewed)
    model_shape = layout.model_dims(dataset.sample_shape)
    norm = _normalization(cfg, meta, model_shape[0], integer=integer)
    _check_units_fit(dataset, norm, None if cfg.mean is not None or cfg.std is not None
                     else "the model's metadata (privaudit.mean, privaudit.std)")
    if norm.integer:
        dataset = _as_8bit(dataset, spec)
    if viewed:
        dataset = _channels_last(dataset, spec)
    return Prepared(
        model_path=model_path,
        model_sha256=sha,
        model=model,
        split=split,
        split_name=split_name,
        metadata=meta,
        norm=norm,
        feed=Feed(norm, dataset.units, model_shape),
        noise_sigma=noise_sigma,
        noise_source=source,
        audit=audit_partition(cfg, dataset),
        dataset=dataset,
        is_demo=is_demo,
        noise_stds=noise_stds,
        embedded_noise=embedded is not None, embedded_at=None if embedded is None else embedded[0],
        embedded_sigma=own,
    )


def check_settings(cfg: Config) -> None:
    """The checks of `cfg` that need torch, made before any work, whatever runs.

    Every `[attacks.<name>]` table is checked even when its attack does not run, and the
    device must exist even when no attack runs (a report never claims a missing CUDA).

    Raises:
        ConfigError: a bad `[attacks.<name>]` table, or an unavailable device.
    """
    check_params(cfg.attacks.params, Budget(cfg.attacks.budget))
    resolve_device(cfg.device)


def audit_partition(cfg: Config, dataset: Dataset) -> AuditPartition:
    """The audit's attacker-auxiliary and evaluation sets of `dataset`, as `cfg` sets them."""
    return partition_aux_eval(
        dataset, eval_fraction=cfg.eval_fraction, max_eval=cfg.max_eval, seed=cfg.seed
    )


# NOTE: last, where the graph adds its own noise (--embed-noise) and its sigma, or None
_Embedded = tuple[str, float | None] | None
_Loaded = tuple[Path, str, onnx.ModelProto | None, Split, str, dict[str, str], _Embedded]


def _split(cfg: Config, memory: InMemory, is_demo: bool) -> _Loaded:
    """The model's path, hash, proto (None for a pre-split pair), split, name and metadata.

    Last, the tensor its graph added noise to (hardened with --embed-noise), which
    `strip_embedded_noise` took out, and that noise's std read off the graph; or None.
    """
    if cfg.encoder is not None and memory.model is None:
        split = load_presplit(cfg.encoder, cfg.head)
        check_deterministic(split.encoder, str(cfg.encoder))
        meta = read_metadata(split.encoder)
        encoder = _layout_view(split.encoder, cfg, meta, str(cfg.encoder))
        if encoder is not split.encoder:  # NOTE: an identity encoder's output is renamed too
            split = replace(split, encoder=encoder, cut_tensor=encoder.graph.output[0].name)
        return cfg.encoder, model_sha256(cfg.encoder), None, split, "presplit", meta, None
    if memory.model is not None:
        path, raw = IN_MEMORY_MODEL, check_model(memory.model, str(IN_MEMORY_MODEL))
        sha = sha256_bytes(memory.model.SerializeToString())
    else:
        chosen = demo.demo_model_path() if is_demo else cfg.model
        assert chosen is not None
        raw, sha = load_model_and_sha256(chosen)
        path = chosen
    # NOTE: a model hardened with --embed-noise adds its noise inside the graph; the audit
    # needs the deterministic encoder (it adds the same sigma itself, read from metadata).
    model = strip_embedded_noise(raw)
    noisy = None if model is raw else (
        read_metadata(raw).get(metadata.EMBEDDED_NOISE, ""), embedded_sigma(raw))
    check_deterministic(model, str(path))
    meta = read_metadata(model)
    model = _layout_view(model, cfg, meta, str(path))
    split_name = cfg.split or meta.get(metadata.SPLIT) or _no_split(path)
    split = split_model(model, split_name, model_name=str(path))
    return path, sha, model, split, split_name, meta, noisy


def _layout_view(
    model: onnx.ModelProto, cfg: Config, meta: dict[str, str], name: str
) -> onnx.ModelProto:
    """`model` seen channels-first (`channels_first_view`) when its input keeps them last.

    The layout is `cfg.layout`, else (auto) the one `harden` recorded in the metadata, else
    guessed from the sizes (`--input-shape` filling dynamic ones). A `--domain` other than the
    input rank's own reads the values in the model's own order: no view.

    Raises:
        ConfigError: channels-last asked for with such a domain, or for a tabular input.
    """
    layout = cfg.layout
    if layout == ChannelLayout.AUTO and meta.get(metadata.LAYOUT) == ChannelLayout.CHANNELS_LAST:
        layout = ChannelLayout.CHANNELS_LAST
    try:
        rank = len(image_input(model).shape)
    except ModelError:
        return model  # NOTE: no single data input: the split's own checks say why, later
    if cfg.domain is not None and DOMAIN_BY_RANK.get(rank) != cfg.domain:
        if cfg.layout == ChannelLayout.CHANNELS_LAST:
            raise ConfigError(
                f"layout channels-last with domain {cfg.domain}: {name}'s input values are "
                "read in the model's own order, so they have no channel axis to move",
                hint="drop --layout (or layout in the config), or --domain",
            )
        return model
    return channels_first_view(model, layout, name, cfg.input_shape)


def _first_sizes(sizes: tuple[int, ...] | None, viewed: bool) -> tuple[int, ...] | None:
    """`--input-shape` (the model's own order) in the channels-first order of the audit."""
    if sizes is None or not viewed or len(sizes) < 2:
        return sizes
    return (sizes[-1], *sizes[:-1])


# NOTE: the data record's line for `labels = false`; harden names it when it lacks labels
NO_LABELS = "labels ignored (--no-labels)"


def _dataset(
    cfg: Config,
    memory: InMemory,
    shape: tuple[int | None, ...],
    is_demo: bool,
    sizes: tuple[int, ...] | None,
    channels_last: bool,
) -> Dataset:
    """The audit data: arrays in memory, `cfg.data`, or the demo's data for the demo model.

    `sizes` is `--input-shape` in the audit's order; `channels_last`: the model keeps its
    channels last (data in its own layout is transposed). With `labels = false`
    (`--no-labels`) its labels are dropped, fingerprint included.
    """
    max_bytes = int(cfg.max_data_gb * 1e9)
    data_range = None if cfg.data_range is None else (cfg.data_range[0], cfg.data_range[1])
    if memory.x is not None:
        dataset = dataset_from_arrays(
            memory.x, memory.y, shape, source=IN_MEMORY_DATA, limit=cfg.limit,
            input_shape_override=sizes, resize=cfg.resize, max_bytes=max_bytes,
            domain=cfg.domain, data_range=data_range, channels_last=channels_last,
            labels=cfg.labels,
        )
    else:
        dataset = load_data(
            cfg.data or demo.demo_data_path(), shape, limit=cfg.limit,
            input_shape_override=sizes, resize=cfg.resize, max_bytes=max_bytes,
            domain=cfg.domain, label_column=cfg.label_column, columns=cfg.columns,
            data_range=data_range, channels_last=channels_last, labels=cfg.labels,
        )
    if cfg.labels:
        return dataset
    return Dataset.from_arrays(dataset.x, None, source=dataset.source,
                               transforms=(*dataset.transforms, NO_LABELS),
                               domain=dataset.domain, units=dataset.units)  # fmt: skip


def _check_entropy(cfg: Config, layout: Layout) -> None:
    """The certified h(x) exists for 8-bit pixels only, never for data in its own units."""
    if cfg.bound.input_entropy == EntropySpec.CERTIFIED and layout.domain != Domain.IMAGE:
        raise ConfigError(
            "bound.input_entropy = certified needs 8-bit data: its bound h(x) >= -log 256 per "
            "dimension holds for 8-bit pixels dequantised on [0, 1], but this model takes "
            f"{layout.domain.value} data, measured in its own units (standardised), which has "
            "no such grid and no certified h(x)",
            hint="use gaussian (the default), or give h(x)/d in nats per standardised "
            "dimension (--input-entropy VALUE)",
        )


def _check_data_range(cfg: Config, layout: Layout) -> None:
    """`data_range` gives the range of pixels or of a signal; a table's columns have none."""
    if cfg.data_range is not None and layout.domain == Domain.TABULAR:
        raise ConfigError(
            "--data-range gives the range of image pixels or of a signal, but the model takes "
            f"tabular vectors {layout.describe()}, each column in its own units",
            hint="leave out --data-range (data_range in the config): columns are standardised "
            "over the audit data",
        )


def _no_split(path: Path) -> str:
    raise ConfigError(
        "no split given", hint=f"pass --split NAME; list candidates with 'privaudit layers {path}'"
    )


def _noise_sigma(
    cfg: Config, meta: dict[str, str], is_demo: bool, source: str | None, own: float | None
) -> tuple[float, str]:
    """The audited sigma and where it came from.

    The flag or config, the metadata, else the noise the graph adds itself (`own`: a model
    hardened with --embed-noise whose metadata lost its sigma).
    """
    if cfg.noise is not None:
        return cfg.noise, source or NoiseSource.CONFIG.value
    if metadata.NOISE_SIGMA not in meta and metadata.NOISE_SIGMAS in meta:
        sigma, _ = channel_scales(_meta_floats(meta, metadata.NOISE_SIGMAS, ()))
        return check_noise_sigma(sigma, metadata.NOISE_SIGMAS), NoiseSource.METADATA.value
    if metadata.NOISE_SIGMA in meta:
        try:
            value = float(meta[metadata.NOISE_SIGMA])
        except ValueError:
            raise ModelError(
                f"model metadata {metadata.NOISE_SIGMA}={meta[metadata.NOISE_SIGMA]!r} is not a "
                "number",
                hint="pass --noise explicitly",
            ) from None
        return check_noise_sigma(value, metadata.NOISE_SIGMA), NoiseSource.METADATA.value
    if own is not None:
        return check_noise_sigma(own, "the graph's noise"), NoiseSource.GRAPH.value
    if is_demo:
        return 0.1, NoiseSource.DEMO.value
    raise ConfigError(
        "no noise sigma given and the model carries none",
        hint="pass --noise SIGMA (the std of the noise added to the features; 0 for none)",
    )


def noise_channels(
    split: Split, meta: dict[str, str], noise_sigma: float, split_name: str,
    model: onnx.ModelProto | None,
) -> tuple[Split, tuple[float, ...] | None]:
    """The split to audit and the per-channel noise stds, from `privaudit.noise_sigmas`.

    A model hardened with noise allocation adds noise of std sigma * a_j to channel j of the
    cut (mean a_j^2 = 1; the metadata holds the stds, their RMS is the model's sigma). The
    allocation's shape a_j is kept at the audited `noise_sigma` (a `--noise` flag rescales
    all channels alike), and the split is whitened (`model.whiten`): its cut carries z / a_j,
    on which the noise is `noise_sigma` everywhere, so that the bound, the floor, dFIL and
    every attack measure the same channel with one sigma.

    Returns:
        (`split` itself, None) without per-channel stds or at sigma 0; else the whitened
        split and the stds sigma * a_j.

    Raises:
        ModelError: stds that are not numbers > 0, or do not match the cut's channels.
    """
    scales = allocation_scales(split, meta, split_name, model)
    stds = allocation_stds(noise_sigma, scales)
    return (split, None) if stds is None else (whiten_split(split, np.asarray(scales)), stds)


def allocation_stds(
    noise_sigma: float, scales: tuple[float, ...] | None
) -> tuple[float, ...] | None:
    """The per-channel noise stds sigma * a_j, or None (uniform noise, or no noise at all)."""
    if scales is None or noise_sigma == 0:
        return None
    return tuple(float(noise_sigma * a) for a in scales)


def allocation_scales(
    split: Split, meta: dict[str, str], split_name: str, model: onnx.ModelProto | None
) -> tuple[float, ...] | None:
    """The noise allocation's scales a_j at `split`'s cut, or None (uniform noise there).

    A model hardened with noise allocation records the cut it was hardened at
    (`privaudit.split`): the allocation is that cut's, so another cut of the model (a sweep's,
    or another `--split`) is audited with one sigma for every channel. The recorded name and
    the audited one are compared by the tensor they cut in `model` (`layer2`, a node of it
    and its output tensor are one cut).

    Raises:
        ModelError: a recorded cut that names no cut of `model` (the allocation cannot be
            placed, and uniform noise would overstate the privacy of the cut it belongs to).
    """
    if metadata.NOISE_SIGMAS not in meta:
        return None
    at = meta.get(metadata.SPLIT)
    if at is not None and at not in (split_name, split.cut_tensor):
        if model is None:  # NOTE: a pre-split pair: its encoder's output is the only cut
            return None
        try:
            tensor = resolve_split(model, at)
        except ModelError as e:
            raise ModelError(
                f"the model's noise allocation ({metadata.NOISE_SIGMAS}) belongs to the cut "
                f"{at!r} ({metadata.SPLIT}), which names no cut of this model: {e.message}",
                hint=f"correct {metadata.SPLIT} in the model's metadata to the cut the noise "
                     "is added at (`privaudit layers` lists them)",
            ) from e
        if tensor != split.cut_tensor:
            return None
    _, scales = channel_scales(_meta_floats(meta, metadata.NOISE_SIGMAS, ()))
    return tuple(float(a) for a in scales)


UNITS_OFF_MEAN = 10.0  # a feature's mean this many of the model's stds from the model's mean
UNITS_OFF_SPREAD = 20.0  # a feature's spread this many times the model's std


def _check_units_fit(dataset: Dataset, norm: Normalization, said: str | None) -> None:
    """Refuse table or signal features far outside the model's own normalisation of them.

    A reviewer's Wine columns in reverse order (proline, about 750, fed as alcohol, whose
    normalisation is 13 +- 0.8), or already standardised, were audited at chance accuracy
    with no word, and the leakage read 0: privacy overstated. A continuous feature (not a
    discrete one: one-hot, binary, counts) whose mean lies beyond `UNITS_OFF_MEAN` of the
    model's stds from the model's mean, or whose spread is above `UNITS_OFF_SPREAD` times the
    model's std, is refused. A narrower spread is not (a cohort narrower than the training
    population); nor is anything when the normalisation is one value for every feature, or
    none (mean 0, std 1), or given by --mean/--std (`said` None: the user's own word).

    Raises:
        DataError: a feature beyond either, named with its numbers.
    """
    units = dataset.units
    if (said is None or units.identity or norm.integer or len(norm.std) == 1
            or (set(norm.mean) == {0.0} and set(norm.std) == {1.0})):  # fmt: skip
        return
    count = len(units.mean)
    mean = np.broadcast_to(np.asarray(norm.mean, np.float64), (count,))
    std = np.broadcast_to(np.asarray(norm.std, np.float64), (count,))
    shift = (np.asarray(units.mean) - mean) / std
    spread = np.asarray(units.std) / std
    axes = (0, *range(2, dataset.x.ndim))
    continuous = (dataset.x.std(axis=axes) > 0) & ~np.asarray(
        units.discrete or (False,) * count, bool)  # fmt: skip
    off = continuous & ((np.abs(shift) > UNITS_OFF_MEAN) | (spread > UNITS_OFF_SPREAD))
    if not off.any():
        return
    j = int(np.argmax(np.where(off, np.abs(shift) + np.log(np.maximum(spread, 1.0)), -np.inf)))
    said_mean = units.mean[j] if abs(units.mean[j]) > 1e-9 * units.std[j] else 0.0  # NOTE: -9e-16
    raise DataError(
        f"{dataset.source}: {int(off.sum())} of {count} features do not fit the model's "
        f"normalisation from {said}: {units.names[j]!r} has mean {said_mean:.4g} and std "
        f"{units.std[j]:.4g} where it expects {mean[j]:.4g} +- {std[j]:.4g}, "
        f"{abs(shift[j]):.3g} of its stds away (columns in another order, or data already "
        "standardised?)",
        hint="give the features in the model's order (--columns) and in their own units; if "
             "they are right (another population), give the model's normalisation with "
             "--mean/--std to audit them anyway")


def _normalization(
    cfg: Config, meta: dict[str, str], channels: int, *, integer: bool
) -> Normalization:
    mean = cfg.mean if cfg.mean is not None else _meta_floats(meta, metadata.MEAN, (0.0,))
    std = cfg.std if cfg.std is not None else _meta_floats(meta, metadata.STD, (1.0,))
    norm = Normalization(mean=tuple(mean), std=tuple(std), integer=integer)
    norm.check_channels(channels)
    return norm


# NOTE: integer inputs wide enough for 8-bit pixels 0..255; int8, bool and others cannot.
_PIXEL_INTS = frozenset({onnx.TensorProto.UINT8, onnx.TensorProto.UINT16, onnx.TensorProto.INT16,
                         onnx.TensorProto.UINT32, onnx.TensorProto.INT32, onnx.TensorProto.UINT64,
                         onnx.TensorProto.INT64})


def _integer_input(spec: InputSpec, layout: Layout) -> bool:
    """Whether the model's image input takes whole numbers (raw 8-bit pixels), not floats.

    Raises:
        ModelError: an input type that cannot hold pixels (int8, bool, strings, ...), or an
            integer input of a tabular or signal model (its values have no 8-bit grid).
    """
    if spec.is_float:
        return False
    if layout.domain != Domain.IMAGE:
        name = onnx.TensorProto.DataType.Name(spec.elem_type) if spec.elem_type else "unknown"
        raise ModelError(
            f"the model input {spec.name!r} has element type {name}; privaudit audits "
            f"{layout.domain.value} models with a float input, whose values it can reconstruct "
            "and differentiate", hint="export the model with a float input (cast inside the "
            "model if it needs integers)")
    if spec.elem_type in _PIXEL_INTS:
        return True
    name = onnx.TensorProto.DataType.Name(spec.elem_type) if spec.elem_type else "unknown"
    raise ModelError(f"the model input {spec.name!r} has element type {name}, which cannot "
                     "hold image pixels", hint="export the model with a float (or uint8) input")


def _as_8bit(dataset: Dataset, spec: InputSpec) -> Dataset:
    """The dataset of an integer-input model: its pixels must be 8-bit, fed as 0..255.

    Raises:
        DataError: pixels between the 256 levels of 8-bit data (they would need rounding,
            which privaudit never does).
    """
    name = onnx.TensorProto.DataType.Name(spec.elem_type).lower()
    if not is_8bit(dataset.x):
        raise DataError(
            f"{dataset.source}: the model input {spec.name!r} takes whole-number pixels "
            f"({name}), but the data holds values between the 256 levels of 8-bit images",
            hint="give the 8-bit images (uint8 0-255) the model was made for; privaudit never "
            "rounds or truncates pixels",
        )
    note = f"fed to the {name} input as whole-number pixels 0..255"
    return replace(dataset, transforms=(*dataset.transforms, note))


def _channels_last(dataset: Dataset, spec: InputSpec) -> Dataset:
    """The dataset of a channels-last model, its Transpose recorded (`channels_first_view`)."""
    last, first = _AXES[len(spec.shape)]
    note = (f"fed to the channels-last input {spec.name!r} {last} through a Transpose: "
            f"audited as {first}")
    return replace(dataset, transforms=(*dataset.transforms, note))


_AXES = {3: ("(N, T, C)", "(N, C, T)"), 4: ("(N, H, W, C)", "(N, C, H, W)")}


def _meta_floats(meta: dict[str, str], key: str, default: tuple[float, ...]) -> tuple[float, ...]:
    if key not in meta:
        return default
    try:
        return tuple(float(v) for v in meta[key].replace(",", " ").split())
    except ValueError:
        flag = key.split(".")[-1]
        raise ModelError(
            f"model metadata {key}={meta[key]!r} is not a list of numbers",
            hint=f"pass --{flag} explicitly" if flag in ("mean", "std") else
            f"correct {key} in the model's metadata (numbers, comma-separated)",
        ) from None

