"""Conform raw image arrays to the model input: layout, scale to [0, 1], channels, size."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from privaudit.data.arrays import DEFAULT_MAX_BYTES, check_size
from privaudit.data.dataset import Dataset, subset_indices, subset_note
from privaudit.errors import ConfigError, DataError

__all__ = ["CHW", "check_labels", "check_limit", "conform"]

CHW = tuple[int | None, int | None, int | None]  # per-sample (C, H, W); None = dynamic

_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, the weights Pillow's convert("L") uses
_CHUNK_ELEMS = 1 << 22  # elements converted at a time, to bound temporary memory
_SMALL_DIMS = (1, 3, 4)
_RESIZE_HINT = "resize your data or pass --resize"
# NOTE: the largest value below which data are not taken for 8-bit pixels: a real image set
# (even a dark one) reaches half the 8-bit range somewhere; data on 0-16 or [0, 1.2] do not.
_EIGHT_BIT_LEAST = 128


def _expected_dims(dims: CHW) -> str:
    return "(" + ", ".join(str(d or n) for d, n in zip((None, *dims), "NCHW", strict=True)) + ")"


def conform(
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
    max_bytes: int = DEFAULT_MAX_BYTES,
    data_range: tuple[float, float] | None = None,
    eight_bit: bool = False,
) -> Dataset:
    """Validate, subset, lay out as NCHW, scale to [0, 1], match channels and size.

    The float32 pixels (and a resized copy) are checked against `max_bytes` before they are
    allocated (DataError above it). With `data_range` (low, high), pixels are
    (x - low) / (high - low), and a value outside the range is an error. `eight_bit`: the
    values are decoded 8-bit image files, scaled by 1/255 whatever they span.
    """
    check_limit(limit)
    _check_samples(x, source)
    y = check_labels(y, len(x), source)
    index = subset_indices(len(x), limit)
    record = [*notes, *subset_note(len(index), len(x))]
    if len(index) < len(x):
        x, y = x[index], None if y is None else y[index]
    view, layout_note = _as_nchw(x, want, layout, source)
    target = _check_fit(view.shape, want, resize, source)
    _check_memory(view.shape, want[0], target, max_bytes, source)
    if data_range is None:
        (scale, scale_note), offset = _scale(view, source, eight_bit), 0.0
    else:
        (scale, scale_note), offset = _explicit_range(view, data_range, source), data_range[0]
    pixels = _to_float32(view, scale, offset)
    # NOTE: rounding (here, or in the floats given: pixels un-normalised to 1.0000001 or
    # -1e-7) may leave values a hair outside [0, 1]: `ROUNDING` of the range is let through
    np.clip(pixels, 0.0, 1.0, out=pixels)
    out, channel_notes = _match_channels(pixels, want[0])
    record += [layout_note, *scale_note, *channel_notes]
    if target != view.shape[2:]:
        out, resize_note = _resize(out, target)
        record.append(resize_note)
    return Dataset.from_arrays(out, y, source=source, transforms=record, class_names=class_names)


def check_limit(limit: int | None) -> None:
    """Raise ConfigError unless `limit` (the `--limit` sample count) is None or >= 1."""
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        raise ConfigError(f"--limit must be a positive integer, got {limit}",
                          hint="e.g. --limit 500, or leave it out to use every sample")


def _check_samples(x: np.ndarray, source: str) -> None:
    if x.dtype.kind not in "biuf":
        raise DataError(
            f"{source}: x has dtype {x.dtype}", hint="give images as uint8 (0-255) or float (0-1)"
        )
    if x.ndim == 0 or x.size == 0:
        raise DataError(f"{source}: no samples (x has shape {x.shape})", hint="give non-empty data")


def check_labels(y: np.ndarray | None, n: int, source: str) -> np.ndarray | None:
    """`y` as (n,) int64 class labels (a (n, 1) column is accepted), or None.

    Raises:
        DataError: a label count other than `n`, or labels that are not whole numbers.
    """
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
    if x.ndim == 2 and not (h and w):
        raise DataError(
            f"{source}: x holds flat vectors {x.shape} and the model's image size is dynamic "
            f"{_expected_dims(want)}, so the images' height and width are unknown",
            hint="pass --input-shape C,H,W (e.g. 1,28,28; input_shape in the config), or save x "
            "as (N, H, W) images",
        )
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


def _check_memory(
    shape: tuple[int, ...], channels: int | None, target: tuple[int, int], max_bytes: int,
    source: str,
) -> None:
    """The float32 pixels, and their converted (channels, size) copy, must fit `max_bytes`."""
    n, k, h, w = shape
    c = channels or k
    values = n * k * h * w + (n * c * target[0] * target[1] if (c, *target) != (k, h, w) else 0)
    what = f"{n} samples of ({c}, {target[0]}, {target[1]}) float32 pixels"
    check_size(4 * values, what, max_bytes, source)


def _chunks(n: int, per_sample: int) -> Iterator[slice]:
    step = max(1, _CHUNK_ELEMS // max(1, per_sample))
    for i in range(0, n, step):
        yield slice(i, min(i + step, n))


def _extent(x: np.ndarray, source: str) -> tuple[float, float]:
    """The smallest and largest value of `x` (DataError on NaN or infinite values)."""
    lo, hi, bad, first = math.inf, -math.inf, 0, None
    for part in _chunks(len(x), x[0].size):
        chunk = x[part]
        if x.dtype.kind == "f":
            finite = np.isfinite(chunk)
            count = chunk.size - int(np.count_nonzero(finite))
            if count and first is None:
                where = np.argwhere(~finite)[0]
                first = (int(where[0]) + part.start, *(int(i) for i in where[1:]))
            bad += count
        if not bad:
            lo, hi = min(lo, float(chunk.min())), max(hi, float(chunk.max()))
    if bad:
        at = ", ".join(f"{n} {i}" for n, i in zip(("sample", "channel", "row", "column"),
                                                  first or (), strict=False))
        raise DataError(f"{source}: x contains {bad} NaN or infinite values (the first at "
                        f"{at})", hint="replace or drop the samples with NaN or infinite pixels")
    return lo, hi


def _explicit_range(
    x: np.ndarray, data_range: tuple[float, float], source: str
) -> tuple[float, list[str]]:
    """The factor of `--data-range LOW,HIGH`, checking that every value lies in the range."""
    low, high = data_range
    lo, hi = _extent(x, source)
    slack = ROUNDING * (high - low)  # NOTE: float32 values of the exact bounds pass
    if lo < low - slack or hi > high + slack:
        raise DataError(f"{source}: values in [{_show(lo)}, {_show(hi)}] leave the given data "
                        f"range [{_show(low)}, {_show(high)}]",
                        hint="give the range the pixels were stored on with --data-range")
    return 1 / (high - low), [f"{x.dtype} values on [{low:g}, {high:g}] (--data-range) scaled "
                              "to [0, 1]"]


def _scale(x: np.ndarray, source: str, eight_bit: bool) -> tuple[float, list[str]]:
    """The factor that maps `x` into [0, 1] by the uint8 / [0, 1] / [0, 255] rules.

    Values that exceed 1 but stay below `_EIGHT_BIT_LEAST` are refused rather than divided by
    255 (digits stored on 0-16, floats on [0, 1.2] after augmentation): that guess would shrink
    the model's inputs, hence its features, and overstate privacy. Decoded image files
    (`eight_bit`) are 8-bit pixels whatever their values; so are all-zero data (any factor
    leaves them 0).
    """
    if x.dtype == np.uint8 and eight_bit:
        return 1 / 255, ["uint8/255"]
    lo, hi = _extent(x, source)
    if x.dtype.kind == "f" and -ROUNDING <= lo and hi <= 1 + ROUNDING and (lo < 0 or hi > 1):
        # NOTE: floats on [0, 1] give or take rounding (un-normalised pixels): on [0, 1]
        return 1.0, [f"{x.dtype} values in [{_show(lo)}, {_show(hi)}], within {ROUNDING:g} of "
                     "[0, 1] (rounding), clipped to it"]
    if lo >= 0 and hi <= 1 and x.dtype != np.uint8:
        return 1.0, []
    if lo >= 0 and hi <= 255 and (hi >= _EIGHT_BIT_LEAST or eight_bit or hi == 0):
        return 1 / 255, ["uint8/255" if x.dtype == np.uint8 else
                         f"{x.dtype} values in [0, 255] scaled by 1/255"]
    if lo >= 0 and hi <= 1:  # NOTE: uint8 0s and 1s: a mask, or nearly black 8-bit pixels
        raise DataError(
            f"{source}: {x.dtype} values in [{lo:g}, {hi:g}] may be a 0/1 mask or nearly black "
            "8-bit pixels, so their scale cannot be told",
            hint="give --data-range 0,1 for a 0/1 mask, or --data-range 0,255 for 8-bit "
                 "pixels (data_range in the config)",
        )
    if lo >= 0 and hi <= 255:
        raise DataError(
            f"{source}: {x.dtype} values in [{_show(lo)}, {_show(hi)}] are neither on [0, 1] "
            "nor 8-bit "
            f"pixels (the largest is below {_EIGHT_BIT_LEAST}), so their scale cannot be told",
            hint=f"give the range the model's inputs were scaled from, e.g. --data-range "
                 f"0,{math.ceil(hi)} (data_range in the config), or --data-range 0,255 if "
                 "they are 8-bit pixels",
        )
    raise DataError(
        f"{source}: values in [{_show(lo)}, {_show(hi)}] are outside [0, 1] and [0, 255]",
        hint="give the pixels un-normalised (on [0, 1], or uint8): privaudit applies the "
             "model's own mean and std; or give the range they were scaled from, e.g. "
             f"--data-range {_range_example(lo, hi)} only if that is their range (data_range in "
             "the config)",
    )


ROUNDING = 1e-5  # values this far outside [0, 1] (or a given range, relative) are rounding


def _show(value: float) -> str:
    """`value` in as few digits as tell it apart from its shortest rounding (1.0000001 stays)."""
    short = f"{value:g}"
    return short if float(short) == value else f"{value:.9g}"


def _range_example(lo: float, hi: float) -> str:
    """A `--data-range` that holds [lo, hi]: -1,1 for data about it, else 0 (or lo) to hi."""
    if -1 <= lo < 0 and hi <= 1:
        return "-1,1"
    low = 0 if lo >= 0 else math.floor(lo)
    return f"{low},{math.ceil(hi)}"


def _to_float32(x: np.ndarray, scale: float, offset: float = 0.0) -> np.ndarray:
    """`(x - offset) * scale` as a new C-contiguous float32 array, converted chunk by chunk."""
    out = np.empty(x.shape, np.float32)
    for part in _chunks(len(x), x[0].size):
        if offset:
            shifted = np.subtract(x[part], offset, dtype=np.float64)
            np.multiply(shifted, scale, out=out[part], casting="unsafe")
        else:
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
