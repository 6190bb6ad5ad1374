"""Read an image folder (one subfolder per class, PNG/JPEG/BMP) into a uint8 array and labels."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from privaudit.data.arrays import DEFAULT_MAX_BYTES, check_size
from privaudit.errors import DataError

__all__ = ["IMAGE_SUFFIXES", "list_images", "read_images"]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp"})
_GRAY_MODES = frozenset({"1", "L", "LA", "La"})
_ALPHA_MODES = frozenset({"LA", "La", "RGBA", "RGBa", "PA"})
_RESIZE_HINT = "resize your data or pass --resize"


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _images_under(folder: Path, root: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and _visible(p, root)
    )


def list_images(root: Path) -> tuple[list[Path], np.ndarray | None, tuple[str, ...]]:
    """List the images of a folder in a fixed order, with labels from the class subfolders.

    Classes are the visible subfolders of `root` sorted by name (torchvision's ImageFolder
    order); a folder without subfolders holds unlabeled images.

    Args:
        root: the image folder.

    Returns:
        The image paths, their labels `(N,)` int64 (None when unlabeled), and the class names.

    Raises:
        DataError: no images, or image files next to class subfolders.
    """
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if classes and loose:
        raise DataError(
            f"{root} mixes image files ({loose[0].name}, ...) with class subfolders",
            hint="move every image into its class subfolder, or use a folder without subfolders",
        )
    if not classes:
        paths, labels = _images_under(root, root), None
    else:
        per_class = [_images_under(root / name, root) for name in classes]
        paths = [p for files in per_class for p in files]
        labels = np.repeat(np.arange(len(classes)), [len(f) for f in per_class]).astype(np.int64)
    if not paths:
        raise DataError(
            f"no PNG/JPEG/BMP images found in {root}",
            hint="point --data at a folder with one subfolder of images per class",
        )
    return paths, labels, tuple(classes)


def _open(path: Path, max_bytes: int) -> tuple[Image.Image, bool]:
    """Decode one image as 8-bit grayscale ("L") or RGB; also say whether alpha was dropped.

    Its size is checked from the header, before decoding: RGB pixels above `max_bytes` (what
    the folder's size limit leaves), or Pillow's decompression-bomb warning, are a DataError.
    """
    try:
        with warnings.catch_warnings(), Image.open(path) as im:
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            check_size(im.width * im.height * 3, f"the images up to {path.name}, "
                       f"{im.width}x{im.height} pixels", max_bytes, str(path.parent))
            im.load()
            mode = im.mode
            if mode.startswith(("I", "F")):
                raise DataError(
                    f"{path}: image mode {mode} (16-bit or float) is not supported",
                    hint="convert the images to 8-bit grayscale or RGB",
                )
            out = im.convert("L" if mode in _GRAY_MODES else "RGB")
    except (OSError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as e:
        raise DataError(
            f"cannot read image {path}: {e}", hint="remove or re-save the broken file"
        ) from e
    return out, mode in _ALPHA_MODES or (mode == "P" and "transparency" in im.info)


def _size_error(sizes: Counter[tuple[int, int]], first: dict[tuple[int, int], Path]) -> DataError:
    listing = ", ".join(f"{h}x{w} ({n}, e.g. {first[(h, w)].name})" for (h, w), n in sizes.items())
    return DataError(f"images have different sizes: {listing}", hint=_RESIZE_HINT)


def read_images(
    paths: list[Path], *, size: tuple[int, int] | None, resize: bool,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[np.ndarray, list[str]]:
    """Decode images into one uint8 array.

    Args:
        paths: the image files, in order.
        size: the model's (H, W) when fixed, else None.
        resize: resize (bilinear, antialiased by Pillow) images whose size differs from
            `size`, or, when `size` is None, from the first image's size.
        max_bytes: refuse images whose decoded pixels, together, would take more memory
            (checked from each file's header before decoding it).

    Returns:
        `(N, H, W)` uint8 when every image is grayscale, else `(N, H, W, 3)` uint8 (NHWC),
        and human-readable notes on what was done.

    Raises:
        DataError: unreadable images, or differing sizes without `resize`.
    """
    target = size if (resize and size is not None) else None
    arrays: list[np.ndarray] = []
    sizes: Counter[tuple[int, int]] = Counter()
    first: dict[tuple[int, int], Path] = {}
    resized = alpha = total = 0
    for path in paths:
        im, had_alpha = _open(path, max_bytes - total)
        total += im.width * im.height * len(im.getbands())
        alpha += had_alpha
        hw = (im.height, im.width)
        sizes[hw] += 1
        first.setdefault(hw, path)
        target = target or hw
        if hw != target and resize:
            im, resized = im.resize((target[1], target[0]), Image.Resampling.BILINEAR), resized + 1
        arrays.append(np.asarray(im))
    if len(sizes) > 1 and not resize:
        raise _size_error(sizes, first)
    notes = [f"alpha channel dropped from {alpha} images"] if alpha else []
    if resized and target is not None:
        notes.append(f"resized {resized} images to {target[0]}x{target[1]} (bilinear, Pillow)")
    return _stack(arrays, notes), notes


def _stack(arrays: list[np.ndarray], notes: list[str]) -> np.ndarray:
    """Stack decoded images; grayscale ones are replicated to RGB when the folder mixes both."""
    n_gray = sum(a.ndim == 2 for a in arrays)
    if 0 < n_gray < len(arrays):
        arrays = [np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a for a in arrays]
        notes.append(f"{n_gray} grayscale images replicated to RGB (folder mixes gray and color)")
    return np.stack(arrays)
