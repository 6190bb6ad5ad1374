"""The compact JSON form of the stored samples (schema 4): images as one 8-bit PNG per set.

A report keeps a dozen evaluation inputs (`sample_images`) and each attack's reconstructions
of them. In memory they are flat tuples of floats; as float lists they made the demo's
report.json 780 KB. In an image report each set is written as

    {"encoding": "png", "shape": [N, C, H, W], "data": "<base64 PNG>"}

where the PNG is 8-bit grey, N*C*H rows by W columns (sample after sample, channel after
channel), each pixel ``round(255 * x)``: the same 8-bit pixels the HTML report draws. It
reads back as ``pixel / 255``. A set that is not in [0, 1] everywhere, or whose samples do not
match the model's (C, H, W), stays a list of float lists, as do tabular and signal samples
(a few dozen numbers each, already rounded). Readers take either form in any schema version.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import warnings
from typing import Any

import numpy as np

__all__ = ["MAX_PACKED_VALUES", "PNG", "pack_samples", "png_bytes", "png_pixels",
           "unpack_samples"]  # fmt: skip

PNG = "png"
SCALE = 255
# A packed set decodes to at most this many values: a PNG of a few bytes can declare a
# gigapixel image, and a report is untrusted input (12 RGB 224 x 224 images: 1.8 M values).
MAX_PACKED_VALUES = 1 << 24


def png_bytes(img: np.ndarray) -> bytes:
    """Encode an 8-bit image as PNG (through Pillow).

    Args:
        img: uint8 array, (H, W) grayscale or (H, W, 3) RGB.

    Returns:
        The PNG file: bit depth 8, colour type 0 (grey) or 2 (RGB), no metadata chunks, so the
        same pixels always give the same bytes.

    Raises:
        ValueError: not a uint8 (H, W) or (H, W, 3) array.
    """
    from PIL import Image  # NOTE: here, so that reading the results module stays light

    if img.dtype != np.uint8 or not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise ValueError(f"expected uint8 (H, W) or (H, W, 3), got {img.dtype} {img.shape}")
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def png_pixels(png: bytes, size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode an 8-bit grey or RGB PNG to a uint8 (H, W) or (H, W, 3) array.

    Args:
        png: the PNG file.
        size: the (width, height) it must have, checked before any pixel is decoded.

    Raises:
        ValueError: not a PNG, not 8-bit grey or RGB, or not of `size`.
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():
            # NOTE: a huge declared size is refused below (`size`) before it is decoded
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
                if image.mode not in ("L", "RGB"):
                    raise ValueError(f"expected an 8-bit grey or RGB PNG, got mode {image.mode}")
                if size is not None and image.size != size:
                    raise ValueError(f"expected a {size[0]}x{size[1]} PNG, got "
                                     f"{image.size[0]}x{image.size[1]}")  # fmt: skip
                image.load()
                return np.array(image)
    # NOTE: Pillow's UnidentifiedImageError and truncated or corrupt data are OSErrors
    except (OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(f"not a PNG image ({e})") from None


def pack_samples(report: dict[str, Any]) -> dict[str, Any]:
    """A report's JSON form (and its hardened model's) with image sample sets packed as PNG."""
    out = dict(report)
    model = out.get("model") or {}
    if model.get("domain", "image") == "image":
        shape = tuple(model.get("input_shape") or ())
        out["sample_images"] = _pack(out.get("sample_images"), shape)
        out["attacks"] = [{**a, "reconstructions": _pack(a.get("reconstructions"), shape)}
                          for a in out.get("attacks") or []]  # fmt: skip
    harden = out.get("harden")
    if isinstance(harden, dict) and isinstance(harden.get("after"), dict):
        out["harden"] = {**harden, "after": pack_samples(harden["after"])}
    return out


def unpack_samples(report: dict[str, Any]) -> dict[str, Any]:
    """Undo `pack_samples`: every packed set back to float lists (other sets as they are).

    Raises:
        ValueError: a packed set that is malformed, too large or not the PNG it says.
    """
    out = dict(report)
    if "sample_images" in out:
        out["sample_images"] = _unpack(out["sample_images"], "sample_images")
    attacks = out.get("attacks")
    if isinstance(attacks, list):
        out["attacks"] = [
            {**a, "reconstructions": _unpack(a["reconstructions"], f"attacks[{i}].reconstructions")}
            if isinstance(a, dict) and "reconstructions" in a else a
            for i, a in enumerate(attacks)
        ]  # fmt: skip
    harden = out.get("harden")
    if isinstance(harden, dict) and isinstance(harden.get("after"), dict):
        out["harden"] = {**harden, "after": unpack_samples(harden["after"])}
    return out


def _pack(rows: Any, shape: tuple[int, ...]) -> Any:
    """One set as a packed PNG, or unchanged when it cannot be packed without loss of meaning."""
    if not isinstance(rows, list) or not rows or len(shape) != 3:
        return rows
    size = math.prod(shape)
    if size == 0 or any(not isinstance(r, list) or len(r) != size for r in rows):
        return rows
    try:
        x = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):  # NOTE: a None (NaN) among them
        return rows
    if not np.isfinite(x).all() or x.min() < 0.0 or x.max() > 1.0:
        return rows
    c, h, w = shape
    pixels = np.rint(x * SCALE).astype(np.uint8).reshape(len(rows) * c * h, w)
    data = base64.b64encode(png_bytes(pixels)).decode("ascii")
    return {"encoding": PNG, "shape": [len(rows), *shape], "data": data}


def _unpack(value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        return value
    if value.get("encoding") != PNG:
        raise ValueError(f"{where}: unknown sample encoding {value.get('encoding')!r}")
    n, c, h, w = _shape(value.get("shape"), where)
    if n * c * h * w > MAX_PACKED_VALUES:
        raise ValueError(f"{where}: {n * c * h * w} values, more than {MAX_PACKED_VALUES}")
    try:
        png = base64.b64decode(str(value.get("data")), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{where}: data is not base64") from None
    try:
        pixels = png_pixels(png, size=(w, n * c * h))
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    if pixels.ndim != 2:
        raise ValueError(f"{where}: expected a grey PNG")
    return [_floats(row) for row in pixels.reshape(n, c * h * w)]


def _floats(row: np.ndarray) -> list[float]:
    return [v / SCALE for v in row.tolist()]


def _shape(shape: object, where: str) -> tuple[int, int, int, int]:
    """A packed set's [N, C, H, W]; ValueError unless 4 positive integers."""
    dims = list(shape) if isinstance(shape, list) else []
    if len(dims) != 4 or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                                 for d in dims):  # fmt: skip
        raise ValueError(f"{where}: shape must be 4 positive integers [N, C, H, W]")
    return dims[0], dims[1], dims[2], dims[3]
