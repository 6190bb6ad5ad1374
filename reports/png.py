"""Image grids of samples for the HTML report, as PNG data URIs (encoded through Pillow)."""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence

import numpy as np

from privaudit.results import png_bytes, png_pixels

__all__ = ["PNG_SIGNATURE", "data_uri", "grid_image", "png_bytes", "png_pixels",
           "sample_grid_uri", "to_image"]  # fmt: skip

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GRID_TARGET_PX = 84  # tiles are scaled up (nearest neighbour) to about this size: x3 for 28 px
GAP_PX = 4  # white gap between tiles, after scaling
GAP_VALUE = 255


def data_uri(png: bytes) -> str:
    """The ``data:image/png;base64,...`` URI of a PNG file."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def to_image(flat: Sequence[float], shape: Sequence[int]) -> np.ndarray | None:
    """Turn one flattened sample in [0, 1] into a displayable uint8 image.

    Args:
        flat: C*H*W values in [0, 1] (clipped), channel-first order.
        shape: (C, H, W) per-sample input shape.

    Returns:
        (H, W) for one channel, (H, W, 3) for three, the first channel as grayscale for any
        other count; None when `shape` is not (C, H, W) or does not match ``len(flat)``.
    """
    if len(shape) != 3 or math.prod(shape) != len(flat) or 0 in shape:
        return None
    x = np.clip(np.asarray(flat, dtype=np.float64).reshape(tuple(shape)), 0.0, 1.0)
    x8 = np.rint(x * 255.0).astype(np.uint8)
    return x8.transpose(1, 2, 0) if shape[0] == 3 else x8[0]


def grid_image(rows: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    """Tile equally shaped images into one picture, scaled up for visibility.

    Args:
        rows: rows of images, all (H, W) or all (H, W, 3), uint8.

    Returns:
        uint8 grid with `GAP_PX` white gaps; each tile scaled by ``max(1, 84 // max(H, W))``.
    """
    first = rows[0][0]
    scale = max(1, GRID_TARGET_PX // max(first.shape[:2]))
    tile_h, tile_w = first.shape[0] * scale, first.shape[1] * scale
    n_cols = max(len(r) for r in rows)
    shape = (len(rows) * (tile_h + GAP_PX) - GAP_PX, n_cols * (tile_w + GAP_PX) - GAP_PX)
    grid = np.full(shape + first.shape[2:], GAP_VALUE, dtype=np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            big = img.repeat(scale, axis=0).repeat(scale, axis=1)
            top, left = i * (tile_h + GAP_PX), j * (tile_w + GAP_PX)
            grid[top : top + tile_h, left : left + tile_w] = big
    return grid


def sample_grid_uri(
    originals: Sequence[Sequence[float]],
    reconstructions: Sequence[Sequence[float]],
    shape: Sequence[int],
) -> str | None:
    """PNG data URI of originals (top row) over reconstructions (bottom row).

    Pairs are taken by position; extra items on either side are dropped.

    Returns:
        None when there is nothing to show or the images do not match `shape`.
    """
    n = min(len(originals), len(reconstructions))
    top = [to_image(x, shape) for x in originals[:n]]
    bottom = [to_image(x, shape) for x in reconstructions[:n]]
    if n == 0 or any(img is None for img in top + bottom):
        return None
    rows = [[img for img in top if img is not None], [img for img in bottom if img is not None]]
    return data_uri(png_bytes(grid_image(rows)))
