"""Load input samples (+ labels) as pixels shaped for the model; deterministic aux/eval split."""

from __future__ import annotations

import hashlib
import math
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from privaudit import _imagefolder
from privaudit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import torch

CHW = tuple[int | None, int | None, int | None]  # per-sample (C, H, W); None = dynamic

_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, the weights Pillow's convert("L") uses
_SUBSET_SEED = 0
_CHUNK_ELEMS = 1 << 22  # elements converted at a time, to bound temporary memory
_SMALL_DIMS = (1, 3, 4)
_NORM_HINT = "give --mean/--std as one number or one per channel, with every std > 0"
_RANGE_HINT = "rescale the data to [0, 1] or give it as uint8"
_RESIZE_HINT = "resize your data or pass --resize"


@dataclass(frozen=True)
class Normalization:
    """The model's input normalization: model input = (pixels - mean) / std, per channel.

    Attributes:
        mean: per-channel means on the [0, 1] pixel scale; length 1 (all channels) or C.
        std: per-channel standard deviations, > 0; length 1 or C.
    """

    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
            object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"normalization values must be numbers: {e}", hint=_NORM_HINT) from e
        values = self.mean + self.std
        problems = [
            "mean and std need at least one value each" if not (self.mean and self.std) else "",
            "values must be finite" if not all(math.isfinite(v) for v in values) else "",
            f"std must be > 0, got {self.std}" if any(s <= 0 for s in self.std) else "",
            "mean and std have different lengths"
            if min(len(self.mean), len(self.std)) > 1 and len(self.mean) != len(self.std)
            else "",
        ]
        if any(problems):
            message = "; ".join(p for p in problems if p)
            raise ConfigError(f"invalid normalization: {message}", hint=_NORM_HINT)

    @property
    def is_identity(self) -> bool:
        """True when mean is all 0 and std all 1 (nothing to do)."""
        return set(self.mean) == {0.0} and set(self.std) == {1.0}

    def check_channels(self, c: int) -> None:
        """Check that mean and std have 1 or `c` values.

        Raises:
            DataError: a length is neither 1 nor `c`.
        """
        if len(self.mean) not in (1, c) or len(self.std) not in (1, c):
            raise DataError(
                f"normalization has {len(self.mean)} mean and {len(self.std)} std values "
                f"but the model input has {c} channels",
                hint="give one --mean/--std value per channel, or one for all channels",
            )

    def _params(self, ndim: int, c: int) -> tuple[np.ndarray, np.ndarray]:
        self.check_channels(c)
        shape = (1, -1) + (1,) * (ndim - 2)
        mean, std = (np.asarray(v, np.float32).reshape(shape) for v in (self.mean, self.std))
        return mean, std

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Map pixels to model space.

        Args:
            x: `(N, C, H, W)` pixels in [0, 1].

        Returns:
            `(x - mean) / std` as float32, same shape.
        """
        mean, std = self._params(x.ndim, x.shape[1])
        out: np.ndarray = ((x - mean) / std).astype(np.float32, copy=False)
        return out

    def undo(self, x: np.ndarray) -> np.ndarray:
        """Map model-space values back to pixels: `x * std + mean` (float32, same shape)."""
        mean, std = self._params(x.ndim, x.shape[1])
        out: np.ndarray = (x * std + mean).astype(np.float32, copy=False)
        return out

    def apply_torch(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable `apply` on a `(N, C, H, W)` tensor of pixels in [0, 1]."""
        import torch  # NOTE: lazy, so that loading data does not import torch

        self.check_channels(x.shape[1])
        shape = (1, -1) + (1,) * (x.dim() - 2)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).reshape(shape)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).reshape(shape)
        return (x - mean) / std

    def summary(self) -> str:
        """One line for the provenance record, e.g. "normalized: mean=(0.5,) std=(0.25,)"."""
        return f"normalized: mean={self.mean} std={self.std}"



@dataclass(frozen=True, eq=False)
class Dataset:
    """Input samples in pixel space, with provenance.

    Attributes:
        x: `(N, C, H, W)` float32 pixels in [0, 1]; the model's normalization is applied
            only when feeding the model.
        y: `(N,)` int64 class labels, or None.
        source: where the samples came from (a path).
        fingerprint: sha256 (hex) over the shape, the bytes of `x` and the labels.
        transforms: human-readable record of every conversion applied, in order.
        class_names: class folder names (image folders only), indexed by label.
    """

    x: np.ndarray
    y: np.ndarray | None
    source: str
    fingerprint: str
    transforms: tuple[str, ...] = ()
    class_names: tuple[str, ...] = ()

    @classmethod
    def from_arrays(
        cls,
        x: np.ndarray,
        y: np.ndarray | None,
        *,
        source: str,
        transforms: Sequence[str] = (),
        class_names: Sequence[str] = (),
    ) -> Dataset:
        """A Dataset of `(N, C, H, W)` float32 pixels and `(N,)` labels, fingerprinted."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 4 or (y is not None and y.shape != (len(x),)):
            raise ValueError(f"need x (N, C, H, W) and y (N,), got {x.shape}, {_shape(y)}")
        h = hashlib.sha256(repr(x.shape).encode())
        h.update(x.data)
        if y is not None:
            y = np.ascontiguousarray(y, dtype=np.int64)
            h.update(y.data)
        return cls(x, y, source, h.hexdigest(), tuple(transforms), tuple(class_names))

    def __len__(self) -> int:
        return len(self.x)

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """Per-sample (C, H, W)."""
        c, h, w = self.x.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int | None:
        """Number of distinct labels, or None when unlabeled."""
        return None if self.y is None else len(np.unique(self.y))

    def subset(self, index: np.ndarray, *notes: str) -> Dataset:
        """The samples at `index` (in that order), with `notes` appended to the transforms."""
        y = None if self.y is None else self.y[index]
        return Dataset.from_arrays(
            self.x[index], y, source=self.source, transforms=self.transforms + notes,
            class_names=self.class_names,
        )


def _shape(a: np.ndarray | None) -> tuple[int, ...] | None:
    return None if a is None else tuple(a.shape)


def _expected_dims(dims: CHW) -> str:
    return "(" + ", ".join(str(d or n) for d, n in zip((None, *dims), "NCHW", strict=True)) + ")"


def model_sample_shape(
    input_shape: Sequence[int | str | None], override: tuple[int, int, int] | None = None
) -> CHW:
    """Per-sample (C, H, W) the model takes, dynamic dims filled from `--input-shape`.

    Args:
        input_shape: the model input shape with batch dim; None, a name or <= 0 = dynamic.
        override: (C, H, W) from `--input-shape`; fills dynamic dims, must equal fixed ones.

    Raises:
        DataError: the model input is not 4-D.
        ConfigError: `override` is malformed or conflicts with a fixed dim.
    """
    if len(input_shape) != 4:
        raise DataError(
            f"model input has shape {tuple(input_shape)}; privaudit needs images (N, C, H, W)",
            hint="export the model with a 4-D image input",
        )
    model = tuple(d if isinstance(d, int) and d > 0 else None for d in input_shape[1:])
    dims: CHW = (model[0], model[1], model[2])
    if override is None:
        return dims
    if len(override) != 3 or not all(isinstance(v, int) and v > 0 for v in override):
        raise ConfigError(f"--input-shape must be three positive integers C,H,W, got {override}")
    if any(m is not None and m != o for m, o in zip(dims, override, strict=True)):
        raise ConfigError(
            f"--input-shape {override} conflicts with the model input {_expected_dims(dims)}",
            hint="drop --input-shape or make it equal the model's fixed sizes",
        )
    return override


def load_data(
    path: Path | str,
    input_shape: Sequence[int | str | None],
    *,
    limit: int | None = None,
    input_shape_override: tuple[int, int, int] | None = None,
    resize: bool = False,
) -> Dataset:
    """Load samples from an image folder, `.npz` (`x`, optional `y`) or `.npy` file.

    Args:
        path: a folder (one subfolder per class), an `.npz` or an `.npy` file.
        input_shape: the model input shape including batch, e.g. (None, 1, 28, 28).
        limit: keep a deterministic random subset (seed 0) of this many samples.
        input_shape_override: (C, H, W) from `--input-shape`, for dynamic dims.
        resize: resize (bilinear) to the model's spatial size instead of failing.

    Returns:
        The samples as `(N, C, H, W)` float32 in [0, 1], with what was done recorded.

    Raises:
        DataError: unreadable data, or data that does not fit the model input.
        ConfigError: bad `limit` or `input_shape_override`.
    """
    path, want = Path(path), model_sample_shape(input_shape, input_shape_override)
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be a positive integer, got {limit}")
    if path.is_dir():
        return _load_folder(path, want, limit=limit, resize=resize)
    if not path.is_file():
        raise DataError(f"data not found: {path}", hint="check the --data path")
    if path.suffix.lower() not in (".npz", ".npy"):
        raise DataError(
            f"unsupported data file {path.name}",
            hint="give an image folder, an .npz with arrays x (and y), or an .npy file",
        )
    x, y = _read_arrays(path)
    return _conform(x, y, want, source=str(path), limit=limit, resize=resize)


def dataset_from_arrays(
    x: np.ndarray,
    y: np.ndarray | None,
    input_shape: Sequence[int | str | None],
    *,
    source: str = "<arrays>",
    limit: int | None = None,
    input_shape_override: tuple[int, int, int] | None = None,
    resize: bool = False,
) -> Dataset:
    """Like `load_data`, for arrays already in memory (`x` as an `.npz` would hold it)."""
    want = model_sample_shape(input_shape, input_shape_override)
    return _conform(np.asarray(x), y, want, source=source, limit=limit, resize=resize)


def _read_arrays(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        loaded = np.load(path, mmap_mode="r", allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return loaded, None
        with loaded as npz:
            if "x" not in npz.files:
                raise DataError(
                    f"{path} has no array 'x'; arrays present: {npz.files or 'none'}",
                    hint="save the inputs as np.savez(path, x=images, y=labels)",
                )
            return npz["x"], npz["y"] if "y" in npz.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(
            f"cannot read {path}: {e}", hint="save plain numeric arrays with np.save/np.savez"
        ) from e


def _load_folder(root: Path, want: CHW, *, limit: int | None, resize: bool) -> Dataset:
    paths, y, names = _imagefolder.list_images(root)
    index = subset_indices(len(paths), limit)
    labels = f"in {len(names)} classes" if names else "(unlabeled)"
    notes = [f"image folder: {len(paths)} images {labels}"] + _subset_note(len(index), len(paths))
    size = (want[1], want[2]) if want[1] and want[2] else None
    x, read_notes = _imagefolder.read_images([paths[i] for i in index], size=size, resize=resize)
    y = None if y is None else y[index]
    return _conform(
        x, y, want, source=str(root), resize=resize, layout="NHWC" if x.ndim == 4 else None,
        notes=notes + read_notes, class_names=names,
    )


def subset_indices(n: int, limit: int | None) -> np.ndarray:
    """Sorted indices of a seeded (seed 0) random subset of `limit` of `n` samples (all if None).

    A random subset, not the first `limit`, so that class-sorted files keep every class.
    """
    if limit is None or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(_SUBSET_SEED).permutation(n)[:limit])


def _subset_note(kept: int, n: int) -> list[str]:
    return [f"random subset of {kept} of {n} samples (seed {_SUBSET_SEED})"] if kept < n else []


def _conform(
    x: np.ndarray,
    y: np.ndarray | None,
    want: CHW,
    *,
    source: str,
    resize: bool,
    limit: int | None = None,
    layout: str | None = None,
    notes: Sequence[str] = (),
    class_names: Sequence[str] = (),
) -> Dataset:
    """Validate, subset, lay out as NCHW, scale to [0, 1], match channels and size."""
    _check_samples(x, source)
    y = _check_labels(y, len(x), source)
    index = subset_indices(len(x), limit)
    record = [*notes, *_subset_note(len(index), len(x))]
    if len(index) < len(x):
        x, y = x[index], None if y is None else y[index]
    view, layout_note = _as_nchw(x, want, layout, source)
    target = _check_fit(view.shape, want, resize, source)
    scale, scale_note = _scale(view, source)
    out, channel_notes = _match_channels(_to_float32(view, scale), want[0])
    record += [layout_note, *scale_note, *channel_notes]
    if target != view.shape[2:]:
        out, resize_note = _resize(out, target)
        record.append(resize_note)
    return Dataset.from_arrays(out, y, source=source, transforms=record, class_names=class_names)


def _check_samples(x: np.ndarray, source: str) -> None:
    if x.dtype.kind not in "biuf":
        raise DataError(
            f"{source}: x has dtype {x.dtype}", hint="give images as uint8 (0-255) or float (0-1)"
        )
    if x.ndim == 0 or x.size == 0:
        raise DataError(f"{source}: no samples (x has shape {x.shape})", hint="give non-empty data")


def _check_labels(y: np.ndarray | None, n: int, source: str) -> np.ndarray | None:
    if y is None:
        return None
    y = np.asarray(y)
    y = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
    if y.shape != (n,):
        raise DataError(
            f"{source}: y has shape {y.shape} but x has {n} samples",
            hint="give exactly one class label per sample in y",
        )
    integral = y.dtype.kind in "biu" or (
        y.dtype.kind == "f" and bool(np.all(np.isfinite(y)) and np.all(y == np.round(y)))
    )
    if not integral:
        raise DataError(
            f"{source}: y must hold integer class labels, found {y.dtype} values",
            hint="save integer class indices in y, or leave y out",
        )
    return y.astype(np.int64)


def _as_nchw(x: np.ndarray, want: CHW, layout: str | None, source: str) -> tuple[np.ndarray, str]:
    """A (N, C, H, W) view of `x` and a note on how it was read."""
    c, h, w = want
    if x.ndim == 2 and c == 1 and h and w and x.shape[1] == h * w:
        return x.reshape(-1, 1, h, w), f"flat (N, {h * w})→(N, 1, {h}, {w})"
    if x.ndim == 3:
        return x[:, None], "(N, H, W)→(N, 1, H, W)"
    if x.ndim != 4:
        raise DataError(
            f"{source}: x has shape {x.shape}; expected (N, H, W), (N, C, H, W) or (N, H, W, C)",
            hint="reshape x to hold one image per sample",
        )
    if (layout or _guess_layout(x.shape, want)) == "NHWC":
        return x.transpose(0, 3, 1, 2), "NHWC→NCHW"
    return x, "layout NCHW"


def _guess_layout(shape: tuple[int, ...], want: CHW) -> str:
    """NCHW or NHWC: by the model's channel count, else its spatial size, else small dims."""
    c, h, w = want
    _, d1, d2, d3 = shape
    evidence = [
        (c is not None, d1 == c, d3 == c),
        (h is not None and w is not None, (d2, d3) == (h, w), (d1, d2) == (h, w)),
        (True, d1 in _SMALL_DIMS, d3 in _SMALL_DIMS),
    ]
    for known, nchw, nhwc in evidence:
        if known and nchw != nhwc:
            return "NCHW" if nchw else "NHWC"
    return "NCHW"


def _check_fit(
    shape: tuple[int, ...], want: CHW, resize: bool, source: str
) -> tuple[int, int]:
    """Collect every mismatch with the model input; return the target (H, W)."""
    _, k, h, w = shape
    c, th, tw = want
    target = (th or h, tw or w)
    bad_channels = c is not None and k != c and (k, c) not in {(1, 3), (3, 1), (4, 3), (4, 1)}
    bad_size = target != (h, w) and not resize
    problems = [f"expected {c} channels, found {k}"] if bad_channels else []
    problems += [f"expected {target[0]}x{target[1]} pixels, found {h}x{w}"] if bad_size else []
    if problems:
        hint = _RESIZE_HINT
        if bad_channels:
            size = " and resize it, or pass --resize" if bad_size else ""
            hint = f"convert the data to {c} channels (1 and 3 are converted for you){size}"
        raise DataError(
            f"{source}: the model expects input {_expected_dims(want)}, found data "
            f"{tuple(shape)} (as N, C, H, W): " + "; ".join(problems),
            hint=hint,
        )
    return target


def _chunks(n: int, per_sample: int) -> Iterator[slice]:
    step = max(1, _CHUNK_ELEMS // max(1, per_sample))
    for i in range(0, n, step):
        yield slice(i, min(i + step, n))


def _scale(x: np.ndarray, source: str) -> tuple[float, list[str]]:
    """The factor that maps `x` into [0, 1] by the uint8 / [0, 1] / [0, 255] rules."""
    if x.dtype == np.uint8:
        return 1 / 255, ["uint8/255"]
    lo, hi, bad = math.inf, -math.inf, 0
    for part in _chunks(len(x), x[0].size):
        chunk = x[part]
        if x.dtype.kind == "f":
            bad += chunk.size - int(np.count_nonzero(np.isfinite(chunk)))
        if not bad:
            lo, hi = min(lo, float(chunk.min())), max(hi, float(chunk.max()))
    if bad:
        raise DataError(f"{source}: x contains {bad} NaN or infinite values", hint=_RANGE_HINT)
    if lo >= 0 and hi <= 1:
        return 1.0, []
    if lo >= 0 and hi <= 255:
        return 1 / 255, [f"{x.dtype} values in [0, 255] scaled by 1/255"]
    raise DataError(
        f"{source}: values in [{lo:g}, {hi:g}] are outside [0, 1] and [0, 255]", hint=_RANGE_HINT
    )



def _to_float32(x: np.ndarray, scale: float) -> np.ndarray:
    """`x * scale` as a new C-contiguous float32 array, converted chunk by chunk."""
    out = np.empty(x.shape, np.float32)
    for part in _chunks(len(x), x[0].size):
        np.multiply(x[part], np.float32(scale), out=out[part], casting="unsafe")
    return out


def _match_channels(x: np.ndarray, c: int | None) -> tuple[np.ndarray, list[str]]:
    """Convert `(N, K, H, W)` pixels to the model's `c` channels (checked by `_check_fit`)."""
    k = x.shape[1]
    if c is None or k == c:
        return x, []
    notes = []
    if k == 4:
        x, k = x[:, :3], 3
        notes.append("RGBA→RGB (alpha dropped)")
    if k == 3 and c == 1:
        luma = np.einsum("nchw,c->nhw", x, np.asarray(_LUMA, np.float32))[:, None]
        x = np.clip(luma, 0.0, 1.0, out=luma)
        notes.append("RGB→grayscale (luma 0.299, 0.587, 0.114)")
    elif k == 1 and c == 3:
        x = np.repeat(x, 3, axis=1)
        notes.append("grayscale→3 channels (replicated)")
    return np.ascontiguousarray(x), notes


def _resize(x: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, str]:
    """Bilinear resize of `(N, C, H, W)` pixels, antialiased when shrinking."""
    import torch  # NOTE: lazy, so that loading data does not import torch
    from torch.nn import functional

    n, c, h, w = x.shape
    shrink = size[0] < h or size[1] < w
    out = np.empty((n, c, *size), np.float32)
    for part in _chunks(n, c * max(h * w, size[0] * size[1])):
        with torch.no_grad():
            t = functional.interpolate(
                torch.from_numpy(x[part]), size=size, mode="bilinear", align_corners=False,
                antialias=shrink,
            )
        out[part] = t.clamp_(0.0, 1.0).numpy()
    kind = "bilinear, antialiased" if shrink else "bilinear"
    return out, f"resized {h}x{w}→{size[0]}x{size[1]} ({kind})"


@dataclass(frozen=True, eq=False)
class AuditSplit:
    """Disjoint attacker-auxiliary and evaluation sets.

    Attributes:
        aux: the attacker's auxiliary data (may be used to train attacks).
        eval: held-out samples the attacks must reconstruct; never shown to attacks.
    """

    aux: Dataset
    eval: Dataset


def split_aux_eval(
    ds: Dataset, *, eval_fraction: float = 0.2, max_eval: int | None = None, seed: int = 0
) -> AuditSplit:
    """Split into auxiliary and evaluation sets, stratified by label, disjoint by content.

    Aux samples whose bytes equal an evaluation sample are dropped from the aux side and
    counted in `aux.transforms`.

    Args:
        ds: the loaded data.
        eval_fraction: share of samples for evaluation, in (0, 1).
        max_eval: cap on the number of evaluation samples.
        seed: seed of the split.

    Returns:
        The split; both sides are in a seeded random order.

    Raises:
        ConfigError: bad `eval_fraction` or `max_eval`.
        DataError: a side would be empty.
    """
    if not 0 < eval_fraction < 1 or (max_eval is not None and max_eval < 1):
        raise ConfigError(
            f"need 0 < eval_fraction < 1 and max_eval >= 1, got {eval_fraction}, {max_eval}"
        )
    n = len(ds)
    n_eval = max(1, min(round(eval_fraction * n), max_eval or n, n - 1))
    rng = np.random.default_rng(seed)
    if ds.y is None:
        eval_idx = rng.permutation(n)[:n_eval]
    else:
        eval_idx = _stratified_pick(ds.y, n_eval, rng)
    rest = np.ones(n, bool)
    rest[eval_idx] = False
    aux_idx, removed = _drop_duplicates(ds.x, rng.permutation(np.flatnonzero(rest)), eval_idx)
    if len(aux_idx) == 0:
        raise DataError(
            f"{ds.source}: cannot split {n} samples ({removed} duplicates) into aux and eval",
            hint="give more distinct samples",
        )
    how = f"of {n} ({'stratified by label' if ds.y is not None else 'random'}, seed {seed})"
    dup = [f"removed {removed} aux images identical to evaluation images"] if removed else []
    return AuditSplit(
        aux=ds.subset(aux_idx, f"split: {len(aux_idx)} auxiliary {how}", *dup),
        eval=ds.subset(eval_idx, f"split: {len(eval_idx)} evaluation {how}"),
    )


def _stratified_pick(y: np.ndarray, n_eval: int, rng: np.random.Generator) -> np.ndarray:
    """`n_eval` indices with class shares as in `y` (largest-remainder rounding), shuffled."""
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    quota = n_eval * counts / counts.sum()
    take = np.floor(quota).astype(np.int64)
    take[np.argsort(take - quota, kind="stable")[: n_eval - int(take.sum())]] += 1
    picks = [rng.permutation(np.flatnonzero(inverse == k))[:t] for k, t in enumerate(take)]
    return rng.permutation(np.concatenate(picks))


def _drop_duplicates(
    x: np.ndarray, aux_idx: np.ndarray, eval_idx: np.ndarray
) -> tuple[np.ndarray, int]:
    """Remove aux indices whose sample bytes equal an evaluation sample's (blake2b hash)."""
    held_out = {_digest(x[i]) for i in eval_idx}
    keep = np.array([_digest(x[i]) not in held_out for i in aux_idx], dtype=bool)
    return aux_idx[keep], int(len(aux_idx) - keep.sum())


def _digest(sample: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(sample).data, digest_size=16).digest()


def describe(ds: Dataset) -> dict[str, object]:
    """Provenance of a dataset for the report (JSON-ready).

    Returns:
        source, n, shape (C, H, W), classes (distinct labels or None), class_names,
        fingerprint and transforms.
    """
    return {
        "source": ds.source,
        "n": len(ds),
        "shape": list(ds.sample_shape),
        "classes": ds.num_classes,
        "class_names": list(ds.class_names),
        "fingerprint": ds.fingerprint,
        "transforms": list(ds.transforms),
    }
