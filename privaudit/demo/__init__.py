"""Shipped demos: a small split CNN on an MNIST subset, and a split MLP on the Wine table.

Regenerate the models and their cards with ``python scripts/make_demo.py`` and
``python scripts/make_tabular_demo.py``. Provenance and licence of the data are in the
``README.md`` next to each data file (``tabular/README.md`` for the Wine table). Importing
this module is cheap: it imports neither torch nor numpy (numpy is imported inside the
functions).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "CARD_FILE",
    "DATA_FILE",
    "DEMO_DIR",
    "MODEL_FILE",
    "TABULAR_CARD_FILE",
    "TABULAR_DATA_FILE",
    "TABULAR_DIR",
    "TABULAR_MODEL_FILE",
    "TEST_FRACTION",
    "demo_card",
    "demo_data_path",
    "demo_model_path",
    "demo_split_indices",
    "stratified_split",
    "tabular_card",
    "tabular_data_path",
    "tabular_labels",
    "tabular_model_path",
    "tabular_split_indices",
]

DEMO_DIR: Path = Path(__file__).resolve().parent
"""Folder holding the shipped demo files."""

MODEL_FILE = "demo_cnn.onnx"
DATA_FILE = "mnist_2k.npz"
CARD_FILE = "demo_card.json"
TEST_FRACTION = 0.2
"""Share of each class held out for testing (40 of 200 images per class, 400 in all)."""


TABULAR_DIR: Path = DEMO_DIR / "tabular"
"""Folder holding the tabular demo: the Wine table, its split MLP and card."""

TABULAR_MODEL_FILE = "wine_mlp.onnx"
TABULAR_DATA_FILE = "wine.csv"
TABULAR_CARD_FILE = "wine_card.json"


def demo_model_path() -> Path:
    """Path of the demo CNN (ONNX, input ``(batch, 1, 28, 28)`` normalized, output logits)."""
    return DEMO_DIR / MODEL_FILE


def demo_data_path() -> Path:
    """Path of the MNIST subset: ``x`` (2000, 28, 28) uint8 0-255, ``y`` (2000,) uint8."""
    return DEMO_DIR / DATA_FILE


def demo_card() -> dict[str, Any]:
    """The demo model's card (training recipe, split, measured test accuracy, versions)."""
    card: dict[str, Any] = json.loads((DEMO_DIR / CARD_FILE).read_text(encoding="utf-8"))
    return card


def demo_split_indices(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/test split of the demo data, as used to train the demo model.

    A permutation of all indices is drawn with ``np.random.default_rng(seed)``; for each
    class, the first ``round(TEST_FRACTION * n_class)`` of its members in that order go to
    the test set, the rest to the training set.

    Args:
        seed: seed of the shuffle (the shipped model used 0).

    Returns:
        ``(train, test)``: sorted int64 index arrays into the npz arrays, disjoint and
        covering all 2000 images (1600 train, 400 test: 160 / 40 per class).
    """
    import numpy as np  # NOTE: kept out of module import so `import privaudit.demo` stays light

    with np.load(demo_data_path()) as data:
        y = np.asarray(data["y"])
    return stratified_split(y, seed)


def stratified_split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The demos' stratified train/test split of labels `y` (see `demo_split_indices`)."""
    import numpy as np

    perm = np.random.default_rng(seed).permutation(len(y))
    test_parts = []
    for c in np.unique(y):
        members = perm[y[perm] == c]
        test_parts.append(members[: round(TEST_FRACTION * len(members))])
    test = np.sort(np.concatenate(test_parts)).astype(np.int64)
    train = np.setdiff1d(np.arange(len(y), dtype=np.int64), test)
    return train, test


def tabular_model_path() -> Path:
    """Path of the Wine split MLP (ONNX, input ``(batch, 13)`` standardised, output logits)."""
    return TABULAR_DIR / TABULAR_MODEL_FILE


def tabular_data_path() -> Path:
    """Path of the Wine table: 178 rows, 13 feature columns in their own units, ``label``."""
    return TABULAR_DIR / TABULAR_DATA_FILE


def tabular_card() -> dict[str, Any]:
    """The Wine model's card (training recipe, split, measured test accuracy, versions)."""
    card: dict[str, Any] = json.loads(
        (TABULAR_DIR / TABULAR_CARD_FILE).read_text(encoding="utf-8"))
    return card


def tabular_labels() -> np.ndarray:
    """The Wine table's labels (cultivar 0, 1, 2), in row order."""
    import csv

    import numpy as np

    with tabular_data_path().open(newline="", encoding="utf-8") as fh:
        return np.asarray([int(row["label"]) for row in csv.DictReader(fh)], dtype=np.int64)


def tabular_split_indices(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/test split of the Wine rows (as `demo_split_indices`: 20% per class).

    Returns:
        ``(train, test)``: sorted int64 row indices (0-based, after the header), disjoint and
        covering all 178 rows (142 train, 36 test).
    """
    return stratified_split(tabular_labels(), seed)
