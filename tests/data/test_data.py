"""Tests of privaudit.data: formats, layouts, scaling, channels, sizes, normalization, split."""

from __future__ import annotations

import hashlib
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from privaudit.config.choices import Domain
from privaudit.data import (
    Dataset,
    Normalization,
    dataset_from_arrays,
    describe,
    load_data,
    partition_aux_eval,
)
from privaudit.demo import demo_data_path
from privaudit.errors import ConfigError, DataError

MNIST = demo_data_path()  # the package's copy of shared/data/mnist_2k.npz (same SHA-256)
RNG = np.random.default_rng(0)
PIXELS = RNG.random((6, 3, 5, 7)).astype(np.float32)  # (N, C, H, W) reference in [0, 1]
U8 = (RNG.random((6, 3, 5, 7)) * 255).round().astype(np.uint8)


def save_npz(tmp_path: Path, arrays: dict[str, np.ndarray], name: str = "d.npz") -> Path:
    path = tmp_path / name
    np.savez(path, **arrays)  # type: ignore[arg-type]  # NOTE: stubs match ** to allow_pickle
    return path


# --- formats, layouts, scaling ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "expected", "layout_note", "scale_note"),
    [
        (U8, U8 / 255, "layout NCHW", "uint8/255"),
        (U8.transpose(0, 2, 3, 1), U8 / 255, "NHWC→NCHW", "uint8/255"),
        (PIXELS, PIXELS, "layout NCHW", None),
        (PIXELS.transpose(0, 2, 3, 1), PIXELS, "NHWC→NCHW", None),
        (PIXELS.astype(np.float64) * 255, PIXELS, "layout NCHW", "float64 values in [0, 255]"),
        (U8.astype(np.int64).transpose(0, 2, 3, 1), U8 / 255, "NHWC→NCHW", "int64 values"),
    ],
    ids=["u8-nchw", "u8-nhwc", "f32-nchw", "f32-nhwc", "f64-255", "i64-nhwc"],
)
def test_npz_layouts_and_scaling(
    tmp_path: Path,
    stored: np.ndarray,
    expected: np.ndarray,
    layout_note: str,
    scale_note: str | None,
) -> None:
    y = np.arange(6) % 3
    ds = load_data(save_npz(tmp_path, {"x": stored, "y": y}), (None, 3, 5, 7))
    assert ds.x.dtype == np.float32 and ds.x.flags.c_contiguous
    np.testing.assert_allclose(ds.x, expected, atol=1e-6)
    assert ds.y is not None and ds.y.dtype == np.int64 and list(ds.y) == list(y)
    assert layout_note in ds.transforms
    assert any(scale_note in t for t in ds.transforms) if scale_note else len(ds.transforms) == 1


def test_npy_has_no_labels(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", U8[:, :1])
    ds = load_data(tmp_path / "x.npy", (None, 1, 5, 7))
    assert ds.y is None and ds.x.shape == (6, 1, 5, 7) and describe(ds)["classes"] is None


@pytest.mark.parametrize(
    ("shape", "model", "note"),
    [
        ((2, 3, 8, 3), (None, 3, None, None), "layout NCHW"),  # ambiguous: NCHW wins
        ((2, 8, 8, 1), (None, 1, 8, 8), "NHWC→NCHW"),  # by channel count
        ((2, 3, 8, 8), (None, 1, 8, 8), "layout NCHW"),  # by spatial size, then luma
        ((2, 6, 6, 3), (None, None, None, None), "NHWC→NCHW"),  # by the small-dim heuristic
        ((2, 28, 28), (None, 1, 28, 28), "(N, H, W)→(N, 1, H, W)"),
        ((2, 784), (None, 1, 28, 28), "flat (N, 784)→(N, 1, 28, 28)"),
    ],
)
def test_layout_choice_is_recorded(
    shape: tuple[int, ...], model: tuple[int | None, ...], note: str
) -> None:
    ds = dataset_from_arrays(np.zeros(shape, np.uint8), None, model)
    assert note in ds.transforms
    assert all(m is None or m == d for m, d in zip(model[1:], ds.sample_shape, strict=True))


# --- channels ----------------------------------------------------------------------------------


def test_grayscale_replicated_to_rgb() -> None:
    ds = dataset_from_arrays(U8[:, :1], None, (None, 3, 5, 7))
    assert ds.x.shape == (6, 3, 5, 7) and "grayscale→3 channels (replicated)" in ds.transforms
    np.testing.assert_array_equal(ds.x[:, 0], ds.x[:, 2])


def test_rgb_to_gray_uses_luma() -> None:
    ds = dataset_from_arrays(PIXELS, None, (None, 1, 5, 7))
    luma = 0.299 * PIXELS[:, 0] + 0.587 * PIXELS[:, 1] + 0.114 * PIXELS[:, 2]
    np.testing.assert_allclose(ds.x[:, 0], luma, atol=1e-6)
    assert any(t.startswith("RGB→grayscale") for t in ds.transforms)


def test_rgba_drops_alpha() -> None:
    rgba = np.concatenate([U8, np.full((6, 1, 5, 7), 255, np.uint8)], axis=1)
    ds = dataset_from_arrays(rgba.transpose(0, 2, 3, 1), None, (None, 3, 5, 7))
    np.testing.assert_allclose(ds.x, U8 / 255, atol=1e-6)
    assert "RGBA→RGB (alpha dropped)" in ds.transforms


def test_unconvertible_channels() -> None:
    with pytest.raises(DataError, match="expected 2 channels, found 3"):
        dataset_from_arrays(PIXELS, None, (None, 2, 5, 7))


# --- sizes ----------------------------------------------------------------------------------


def test_shape_mismatch_names_expected_and_found(tmp_path: Path) -> None:
    digits = tmp_path / "digits.npz"  # 8x8 grey images, like shared/data/digits.npz
    np.savez(digits, x=np.zeros((1797, 8, 8), np.uint8))
    with pytest.raises(DataError) as info:
        load_data(digits, (None, 1, 28, 28))
    message = str(info.value)
    assert "(N, 1, 28, 28)" in message and "(1797, 1, 8, 8)" in message
    assert info.value.hint == "resize your data or pass --resize"


@pytest.mark.parametrize(("size", "kind"), [((16, 12), "bilinear"), ((2, 3), "antialiased")])
def test_resize(size: tuple[int, int], kind: str) -> None:
    x = np.full((3, 1, 5, 7), 0.25, np.float32)
    ds = dataset_from_arrays(x, None, (None, 1, *size), resize=True)
    assert ds.x.shape == (3, 1, *size)
    np.testing.assert_allclose(ds.x, 0.25, atol=1e-6)  # constant images stay constant
    note = f"resized 5x7→{size[0]}x{size[1]}"
    assert any(t.startswith(note) and kind in t for t in ds.transforms)


def test_dynamic_spatial_takes_data_size_or_override() -> None:
    assert dataset_from_arrays(U8, None, (None, 3, None, None)).sample_shape == (3, 5, 7)
    assert dataset_from_arrays(U8, None, ("batch", 3, "h", "w")).sample_shape == (3, 5, 7)
    ds = dataset_from_arrays(U8, None, (None, 3, None, None), input_shape_override=(3, 10, 14),
                             resize=True)
    assert ds.sample_shape == (3, 10, 14)
    with pytest.raises(DataError, match=r"expected 10x14 pixels, found 5x7"):
        dataset_from_arrays(U8, None, (None, 3, None, None), input_shape_override=(3, 10, 14))
    with pytest.raises(ConfigError, match="conflicts with the model input"):
        dataset_from_arrays(U8, None, (None, 3, 5, None), input_shape_override=(3, 6, 7))


# --- bad data ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"x": np.array([[[0.5, np.nan]], [[np.inf, -np.inf]]])}, "3 NaN or infinite"),
        ({"x": np.zeros((0, 5, 5), np.uint8)}, "no samples"),
        ({"images": U8, "labels": np.arange(6)}, r"no array 'x'; arrays present: \['images', "),
        ({"x": U8, "y": np.arange(5)}, "y has shape"),
        ({"x": U8, "y": np.linspace(0, 1, 6)}, "integer class labels"),
        ({"x": PIXELS * 300}, "outside"),
        ({"x": PIXELS - 0.5}, "outside"),
        ({"x": np.array(["a", "b"])}, "dtype"),
        ({"x": np.zeros((2, 2, 3, 4, 5))}, "expected"),
    ],
    ids=["nan-inf", "empty", "no-x", "y-length", "y-float", "over-255", "negative", "str", "5d"],
)
def test_bad_data_raises_data_error(
    tmp_path: Path, arrays: dict[str, np.ndarray], match: str
) -> None:
    with pytest.raises(DataError, match=match) as info:
        load_data(save_npz(tmp_path, arrays), (None, None, None, None))
    assert info.value.hint


def test_unreadable_files(tmp_path: Path) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "x.csv").write_text("1,2\n")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    for name in ["obj.npy", "x.csv", "broken.npz", "missing.npz"]:
        with pytest.raises(DataError):
            load_data(tmp_path / name, (None, 1, 2, 2))
    with pytest.raises(DataError, match=r"needs tabular vectors \(N, F\), signals"):
        load_data(tmp_path / "obj.npy", (None, 1, 2, 2, 2))


def test_float_labels_with_integer_values_are_accepted() -> None:
    ds = dataset_from_arrays(U8, np.array([0.0, 1, 2, 0, 1, 2]), (None, 3, 5, 7))
    assert ds.y is not None and ds.y.tolist() == [0, 1, 2, 0, 1, 2]


# --- image folders ----------------------------------------------------------------------------


def write_folder(root: Path, suffix: str, mode: str = "RGB", per_class: int = 3) -> np.ndarray:
    """Three classes of 8x8 images; returns the written pixels (N, H, W, C) uint8."""
    written = []
    for k, name in enumerate(["cat", "dog", "eel"]):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            arr = np.full((8, 8, 3), 40 * k + 10 * i, np.uint8)
            arr[:, :4, 0] = 200
            im = Image.fromarray(arr).convert(mode)
            im.save(root / name / f"{i}{suffix}")
            written.append(np.asarray(im).reshape(8, 8, -1))
    return np.stack(written)


@pytest.mark.parametrize(("suffix", "lossless"), [(".png", True), (".JPG", False), (".bmp", True)])
def test_image_folder(tmp_path: Path, suffix: str, lossless: bool) -> None:
    pixels = write_folder(tmp_path / "imgs", suffix)
    ds = load_data(tmp_path / "imgs", (None, 3, 8, 8))
    assert ds.class_names == ("cat", "dog", "eel") and ds.y is not None
    assert ds.y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    expected = pixels.transpose(0, 3, 1, 2) / 255
    if lossless:
        np.testing.assert_allclose(ds.x, expected, atol=1e-6)
    np.testing.assert_allclose(ds.x.mean(axis=(2, 3)), expected.mean(axis=(2, 3)), atol=0.02)
    assert ds.transforms[0] == "image folder: 9 images in 3 classes"


def test_gray_image_folder_to_rgb_model_and_limit(tmp_path: Path) -> None:
    write_folder(tmp_path / "imgs", ".png", mode="L", per_class=4)
    ds = load_data(tmp_path / "imgs", (None, 3, None, None), limit=6)
    assert ds.x.shape == (6, 3, 8, 8) and "grayscale→3 channels (replicated)" in ds.transforms
    assert "random subset of 6 of 12 samples (seed 0)" in ds.transforms


def test_unlabeled_folder_and_mixed_sizes(tmp_path: Path) -> None:
    for i, size in enumerate([(8, 8), (8, 8), (10, 6)]):
        Image.new("RGBA", size, (255, 0, 0, 128)).save(tmp_path / f"{i}.png")
    with pytest.raises(DataError, match="different sizes: 8x8 .2, e.g. 0.png., 6x10 .1"):
        load_data(tmp_path, (None, 3, None, None))
    ds = load_data(tmp_path, (None, 1, 4, 4), resize=True)
    assert ds.y is None and ds.x.shape == (3, 1, 4, 4)
    np.testing.assert_allclose(ds.x, 0.299, atol=0.01)
    assert "alpha channel dropped from 3 images" in ds.transforms


def test_folder_mixing_gray_and_color(tmp_path: Path) -> None:
    Image.new("L", (8, 8), 100).save(tmp_path / "a.png")
    Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / "b.png")
    ds = load_data(str(tmp_path), (None, 3, 8, 8))
    np.testing.assert_allclose(ds.x[:, :, 0, 0] * 255, [[100] * 3, [10, 20, 30]], atol=1e-4)
    assert "1 grayscale images replicated to RGB (folder mixes gray and color)" in ds.transforms


def test_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "cls").mkdir()
    with pytest.raises(DataError, match="no PNG/JPEG/BMP images"):
        load_data(tmp_path, (None, 1, 8, 8))
    (tmp_path / "cls" / "bad.png").write_bytes(b"nope")
    with pytest.raises(DataError, match="cannot read image"):
        load_data(tmp_path, (None, 1, 8, 8))
    Image.new("L", (8, 8)).save(tmp_path / "loose.png")
    with pytest.raises(DataError, match="mixes image files"):
        load_data(tmp_path, (None, 1, 8, 8))


# --- normalization ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "norm",
    [Normalization(), Normalization((0.1307,), (0.3081,)), Normalization((0.4, 0.5, 0.6), (0.2,))],
)
def test_normalization_round_trip_and_torch(norm: Normalization) -> None:
    z = norm.apply(PIXELS)
    assert z.dtype == np.float32 and z.shape == PIXELS.shape
    np.testing.assert_allclose(norm.undo(z), PIXELS, atol=1e-6)
    t = torch.from_numpy(PIXELS).requires_grad_()
    zt = norm.apply_torch(t)
    np.testing.assert_allclose(zt.detach().numpy(), z, atol=1e-6)
    zt.sum().backward()
    assert t.grad is not None and torch.isfinite(t.grad).all()


def test_normalization_is_per_channel() -> None:
    z = Normalization((0.0, 0.5, 1.0), (1.0, 0.5, 2.0)).apply(np.ones((1, 3, 1, 1), np.float32))
    assert z.ravel().tolist() == [1.0, 1.0, 0.0]


@pytest.mark.parametrize(
    ("mean", "std"), [((0.5,), (0.0,)), ((np.nan,), (1.0,)), ((), (1.0,)), ((0, 0), (1, 1, 1))]
)
def test_normalization_rejects_bad_values(mean: tuple[float, ...], std: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError):
        Normalization(mean, std)


def test_normalization_channel_count() -> None:
    with pytest.raises(DataError, match="3 channels"):
        Normalization((0.5, 0.5), (0.2,)).apply(PIXELS)


# --- real data ----------------------------------------------------------------------------------


def test_mnist_limit_keeps_every_class() -> None:
    ds = load_data(MNIST, (None, 1, 28, 28), limit=300)
    again = load_data(MNIST, (None, 1, 28, 28), limit=300)
    assert ds.x.shape == (300, 1, 28, 28) and 0 <= ds.x.min() and ds.x.max() <= 1
    assert ds.y is not None and set(ds.y.tolist()) == set(range(10))
    assert ds.fingerprint == again.fingerprint
    assert describe(ds)["n"] == 300 and describe(ds)["classes"] == 10


def test_digits_resized_to_rgb_model(tmp_path: Path) -> None:
    digits = tmp_path / "digits.npz"  # 8x8 grey images, like shared/data/digits.npz
    np.savez(digits, x=np.random.default_rng(0).integers(0, 17, (60, 8, 8), dtype=np.uint8))
    ds = load_data(digits, (None, 3, 16, 16), limit=50, resize=True, data_range=(0, 16))
    assert ds.x.shape == (50, 3, 16, 16) and float(ds.x.max()) == pytest.approx(1.0)
    assert ds.transforms[-1] == "resized 8x8→16x16 (bilinear)"


# NOTE: dividing such data by 255 shrank the digits model's inputs 16-fold: its leakage read
# 0.0033 bits/dim against 0.344 on the right scale, and a leakage gate passed that should fail.
@pytest.mark.parametrize(
    ("x", "span", "hint"),
    [
        (np.random.default_rng(0).integers(0, 17, (20, 8, 8), dtype=np.uint8), "[0, 16]",
         "--data-range 0,16"),
        (np.random.default_rng(0).random((20, 8, 8)) * 1.2, "[", "--data-range 0,2"),
        (np.random.default_rng(0).integers(0, 2, (20, 8, 8), dtype=np.uint8), "[0, 1]",
         "--data-range 0,1"),
        (np.random.default_rng(0).integers(0, 100, (20, 8, 8)), "[0, 99]", "--data-range 0,99"),
    ],
    ids=["uint8-0-16", "float-0-1.2", "uint8-binary", "int64-0-99"],
)
def test_values_of_unknown_scale_are_refused_not_divided_by_255(
    tmp_path: Path, x: np.ndarray, span: str, hint: str
) -> None:
    path = save_npz(tmp_path, {"x": x})
    with pytest.raises(DataError, match="scale cannot be told") as err:
        load_data(path, (None, 1, 8, 8))
    assert span in err.value.message and hint in (err.value.hint or "")
    stated = load_data(path, (None, 1, 8, 8), data_range=(0, float(np.ceil(x.max()))))
    np.testing.assert_allclose(stated.x[:, 0], x / np.ceil(x.max()), atol=1e-6)


def test_values_beyond_8_bit_get_a_range_that_holds_them(tmp_path: Path) -> None:
    """12-bit data in uint16 was told to try `--data-range -1,1`."""
    x = np.random.default_rng(0).integers(0, 4096, (20, 8, 8)).astype(np.uint16)
    x[0, 0, 0] = 4095
    path = save_npz(tmp_path, {"x": x})
    with pytest.raises(DataError, match=r"outside \[0, 1\] and \[0, 255\]") as err:
        load_data(path, (None, 1, 8, 8))
    assert "--data-range 0,4095" in (err.value.hint or "")


def test_pixels_a_rounding_outside_0_1_are_pixels_on_0_1(tmp_path: Path) -> None:
    """A reviewer (2026-12-08): float pixels on [0, 1] un-normalised with a one-ulp error
    (-1e-7, or 1.0000001) were refused with hints that rescaled them (--data-range -1,1 read
    them at 16% accuracy, and the gate passed), one in words that contradicted themselves
    ("values in [0, 1] are neither on [0, 1] nor ..."). They are clipped to [0, 1] now; an
    exact --data-range of float32 bounds passes; messages show the digits that differ."""
    x = np.random.default_rng(0).random((20, 8, 8)).astype(np.float32)
    plain = load_data(save_npz(tmp_path, {"x": x}), (None, 1, 8, 8))
    for bad in (np.float32(-1e-7), np.float32(1.0000001)):
        off = x.copy()
        off[3, 4, 5] = bad
        ds = load_data(save_npz(tmp_path, {"x": off}, "off.npz"), (None, 1, 8, 8))
        want = plain.x.copy()
        want[3, 0, 4, 5] = np.clip(bad, 0, 1)
        np.testing.assert_array_equal(ds.x, want)
        assert any("(rounding), clipped to it" in t for t in ds.transforms)
    normed = (x - 0.1307) / 0.3081  # NOTE: data normalised already, with MNIST's mean and std
    path = save_npz(tmp_path, {"x": normed}, "normed.npz")
    with pytest.raises(DataError, match=r"outside \[0, 1\] and \[0, 255\]") as err:
        load_data(path, (None, 1, 8, 8))
    assert "give the pixels un-normalised" in (err.value.hint or "")
    exact = (float(normed.min()), float(normed.max()))
    ranged = load_data(path, (None, 1, 8, 8), data_range=exact)
    assert float(ranged.x.min()) == 0.0 and float(ranged.x.max()) == 1.0
    with pytest.raises(DataError, match=r"leave the given data range \[-0.4, 2.8\]") as err:
        load_data(path, (None, 1, 8, 8), data_range=(-0.4, 2.8))


def test_dark_image_files_and_zeros_are_still_8_bit(tmp_path: Path) -> None:
    for k, name in enumerate(["a", "b"]):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        Image.fromarray(np.full((8, 8), 20 + k, np.uint8)).save(tmp_path / "imgs" / name / "0.png")
    ds = load_data(tmp_path / "imgs", (None, 1, 8, 8))
    assert float(ds.x.max()) == pytest.approx(21 / 255)
    zeros = dataset_from_arrays(np.zeros((2, 8, 8), np.uint8), None, (None, 1, 8, 8))
    assert float(zeros.x.max()) == 0.0 and "uint8/255" in zeros.transforms


# --- split --------------------------------------------------------------------------------------


def labelled(n_per_class: int = 20, classes: int = 5) -> Dataset:
    y = np.repeat(np.arange(classes), n_per_class)
    x = np.random.default_rng(1).random((len(y), 1, 4, 4)).astype(np.float32)
    return Dataset.from_arrays(x, y, source="synthetic")


def sample_hashes(ds: Dataset) -> set[str]:
    return {hashlib.sha1(s.tobytes()).hexdigest() for s in ds.x}


def test_split_is_disjoint_stratified_and_seeded() -> None:
    ds = labelled()
    split = partition_aux_eval(ds, eval_fraction=0.2)
    assert len(split.eval) == 20 and len(split.aux) == 80
    assert not sample_hashes(split.aux) & sample_hashes(split.eval)
    assert split.eval.y is not None and np.bincount(split.eval.y).tolist() == [4] * 5
    again = partition_aux_eval(ds, eval_fraction=0.2)
    assert again.eval.fingerprint == split.eval.fingerprint
    assert again.aux.fingerprint == split.aux.fingerprint
    assert partition_aux_eval(ds, seed=1).eval.fingerprint != split.eval.fingerprint
    assert partition_aux_eval(ds, max_eval=7).eval.x.shape[0] == 7


def test_split_removes_aux_duplicates_of_eval_images() -> None:
    base = labelled(4, 2)
    assert base.y is not None
    x, y = np.concatenate([base.x] * 3), np.concatenate([base.y] * 3)  # every image 3 times
    ds = Dataset.from_arrays(x, y, source="dups")
    split = partition_aux_eval(ds, eval_fraction=0.25)
    assert not sample_hashes(split.aux) & sample_hashes(split.eval)
    removed = 24 - len(split.eval) - len(split.aux)
    assert removed > 0
    note = f"removed {removed} auxiliary images identical to evaluation images"
    assert note in split.aux.transforms
    rows = Dataset.from_arrays(x.reshape(len(x), -1), y, source="dups", domain=Domain.TABULAR)
    table = partition_aux_eval(rows, eval_fraction=0.25)
    assert f"removed {removed} auxiliary rows identical to evaluation rows" in (
        table.aux.transforms)


def test_split_unlabeled_and_errors() -> None:
    ds = Dataset.from_arrays(PIXELS, None, source="x")
    split = partition_aux_eval(ds, eval_fraction=0.5)
    assert len(split.aux) == len(split.eval) == 3 and split.aux.y is None
    with pytest.raises(DataError, match="cannot split 5 samples into aux and eval: each of the "
                                        "4 left for the auxiliary set is identical"):
        partition_aux_eval(Dataset.from_arrays(np.zeros((5, 1, 2, 2)), None, source="same"))
    with pytest.raises(ConfigError):
        partition_aux_eval(ds, eval_fraction=1.0)


# --- property -----------------------------------------------------------------------------------


@st.composite
def array_cases(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int | None, ...], bool]:
    n, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    c = draw(st.sampled_from([1, 3, 4]))
    layout = draw(st.sampled_from(["NCHW", "NHWC", "NHW"]))
    shape = {"NCHW": (n, c, h, w), "NHWC": (n, h, w, c), "NHW": (n, h, w)}[layout]
    if draw(st.booleans()):
        x = draw(hnp.arrays(np.uint8, shape))
    else:
        values = st.one_of(
            st.floats(0, 1, width=32), st.floats(-2, 300, width=32), st.floats(width=32)
        )
        x = draw(hnp.arrays(np.float32, shape, elements=values))
    dim = st.one_of(st.none(), st.integers(1, 6))
    model = (None, draw(st.sampled_from([None, 1, 3])), draw(dim), draw(dim))
    return x, model, draw(st.booleans())


@settings(max_examples=40, deadline=None)
@given(array_cases())
def test_arrays_load_or_raise_data_error(
    case: tuple[np.ndarray, tuple[int | None, ...], bool],
) -> None:
    x, model, resize = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.npz"
        np.savez(path, x=x)
        try:
            ds = load_data(path, model, resize=resize)
        except DataError:
            return
    assert ds.x.dtype == np.float32 and len(ds) == len(x)
    assert 0.0 <= float(ds.x.min()) and float(ds.x.max()) <= 1.0
    assert all(m is None or m == d for m, d in zip(model[1:], ds.sample_shape, strict=True))


@st.composite
def raw_cases(draw: st.DrawFn) -> dict[str, object]:
    """Anything an .npz could hold: odd dtypes and ranks, empty axes, NaN, bad labels."""
    dtype = draw(st.sampled_from([np.uint8, np.int8, np.int16, np.uint16, np.int64, np.float16,
                                  np.float32, np.float64, np.bool_, np.complex64]))
    rank = draw(st.sampled_from([3, 4, 4, 4, 2, 5, 1, 0]))
    sizes = st.integers(1, 5) | st.just(0) if draw(st.integers(0, 9)) == 9 else st.integers(1, 5)
    shape = tuple(draw(sizes) for _ in range(rank))
    x = draw(hnp.arrays(dtype, shape, elements=_elements(draw, dtype)))
    n = shape[0] if shape else 0
    length = st.integers(0, 6) if draw(st.integers(0, 3)) == 3 else st.just(n)
    labels = hnp.arrays(st.sampled_from([np.int64, np.int8, np.uint8, np.float32, np.bool_]),
                        st.tuples(length) | st.tuples(length, st.integers(1, 2)))
    dim = st.one_of(st.none(), st.integers(1, 5))
    override = st.tuples(*[st.integers(-1, 5)] * 3) if draw(st.integers(0, 5)) == 5 else st.none()
    return {
        "x": x, "y": draw(st.none() | labels),
        "model": (None, draw(st.sampled_from([None, 1, 3, 4])), draw(dim), draw(dim)),
        "limit": draw(st.none() | st.integers(1, 6) | st.integers(-1, 0)),
        "resize": draw(st.booleans()),
        "override": draw(override),
    }


def _elements(draw: st.DrawFn, dtype: type) -> st.SearchStrategy[object] | None:
    """Pixel values: mostly in range, sometimes anything the dtype holds (NaN, inf, huge)."""
    if np.dtype(dtype).kind != "f" or draw(st.integers(0, 3)) == 3:
        return None
    width = 8 * np.dtype(dtype).itemsize
    return st.floats(0, 1, width=width) | st.floats(0, 255, width=width)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(raw_cases())
def test_any_array_gives_pixels_or_a_clean_error(case: dict[str, object]) -> None:
    x, y, model = case["x"], case["y"], case["model"]
    assert isinstance(x, np.ndarray) and isinstance(model, tuple)
    try:
        ds = dataset_from_arrays(
            x, y, model, limit=case["limit"], resize=bool(case["resize"]),  # type: ignore[arg-type]
            input_shape_override=case["override"],  # type: ignore[arg-type]
        )
    except (DataError, ConfigError) as e:
        assert e.message and e.hint, e.message
        return
    assert ds.x.dtype == np.float32 and ds.x.ndim == 4 and len(ds) >= 1
    assert np.isfinite(ds.x).all() and 0.0 <= ds.x.min() and ds.x.max() <= 1.0
    assert ds.y is None or (ds.y.dtype == np.int64 and ds.y.shape == (len(ds),))
    want = case["override"] or model[1:]
    assert all(m is None or m == d for m, d in zip(want, ds.sample_shape, strict=True))


def _npy_header(shape: tuple[int, ...]) -> bytes:
    """A valid .npy header for float32 `shape`: it may promise more data than follows."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f4", "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sampled_from([b"", b"\x93NUMPY\x01\x00", _npy_header((99_999_999, 1, 28, 28)),
                        _npy_header((2, 1, 4, 4)), b"PK\x03\x04"]),
       st.binary(max_size=200), st.sampled_from([".npy", ".npz"]))
def test_any_file_content_loads_or_raises_data_error(
    magic: bytes, body: bytes, suffix: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"d{suffix}"
        path.write_bytes(magic + body)
        try:
            ds = load_data(path, (None, 1, None, None))
        except DataError as e:
            assert e.hint
            return
    assert ds.x.dtype == np.float32


# --- issue 16, items 5 and 10: sizes are checked before reading, --limit applies while reading --


def _many(tmp_path: Path, n: int) -> Path:
    """A compressed .npz of n distinct 8x8 images: small on disk, n * 64 bytes in memory."""
    x = np.zeros((n, 1, 8, 8), np.uint8)
    for i, column in enumerate(np.unravel_index(np.arange(n), (251, 251, 251))):
        x[:, 0, 0, i] = column
    path = tmp_path / "many.npz"
    np.savez_compressed(path, x=x, y=(np.arange(n) % 10).astype(np.uint8))
    return path


def test_limit_reads_only_the_kept_samples(tmp_path: Path) -> None:
    import tracemalloc

    path = _many(tmp_path, 1_000_000)  # 64 MB of pixels in a ~1 MB file
    tracemalloc.start()
    try:
        ds = load_data(path, (None, 1, 8, 8), limit=100)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(ds) == 100 and peak < 32e6  # 0.1.0 decompressed all 64 MB first
    assert ds.transforms[0] == "random subset of 100 of 1000000 samples (seed 0)"


@pytest.mark.parametrize("suffix", [".npz", ".npy"])
def test_the_kept_samples_are_those_of_the_seeded_subset(tmp_path: Path, suffix: str) -> None:
    from privaudit.data import subset_indices

    x, y = (RNG.random((300, 1, 5, 7)) * 255).astype(np.uint8), np.arange(300) % 7
    path = tmp_path / f"d{suffix}"
    np.savez(path, x=x, y=y) if suffix == ".npz" else np.save(path, x)
    ds, full = load_data(path, (None, 1, 5, 7), limit=40), load_data(path, (None, 1, 5, 7))
    index = subset_indices(300, 40)
    np.testing.assert_array_equal(ds.x, full.x[index])
    if suffix == ".npz":
        np.testing.assert_array_equal(ds.y, y[index])


def test_data_above_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = _many(tmp_path, 300_000)  # 19.2 MB of pixels
    with pytest.raises(DataError, match=r"19.2 MB|0.0192 GB") as err:
        load_data(path, (None, 1, 8, 8), max_bytes=10**7)
    assert "above the limit max_data_gb = 0.01" in err.value.message
    assert err.value.hint is not None and "--max-data-gb" in err.value.hint
    assert len(load_data(path, (None, 1, 8, 8), limit=1000, max_bytes=10**7)) == 1000


def test_a_header_that_declares_more_than_the_file_holds_is_refused(tmp_path: Path) -> None:
    import zipfile

    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1, 8, 8), np.uint8))
    header["shape"] = (10**9, 1, 8, 8)
    member = tmp_path / "x.npy"
    with member.open("wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        fh.write(bytes(64))
    with zipfile.ZipFile(tmp_path / "forged.npz", "w") as archive:
        archive.write(member, "x.npy")
    with pytest.raises(DataError, match="a corrupt or forged file"):
        load_data(tmp_path / "forged.npz", (None, 1, 8, 8))
    with pytest.raises(DataError, match="cannot read"):
        load_data(member, (None, 1, 8, 8))


@pytest.mark.parametrize("override", [(1, 100_000, 100_000), (3, 20_000, 20_000)])
def test_a_huge_input_size_is_refused_before_allocating(override: tuple[int, int, int]) -> None:
    with pytest.raises(DataError, match="above the limit max_data_gb = 4"):
        dataset_from_arrays(U8[:, :1], None, (None, None, None, None),
                            input_shape_override=override, resize=True)


def test_an_image_that_declares_billions_of_pixels_is_refused(tmp_path: Path) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    def png(path: Path, side: int) -> None:
        ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))

    folder = tmp_path / "imgs"
    folder.mkdir()
    png(folder / "bomb.png", 40_000)  # 1.6 G pixels in 45 bytes: Pillow's own limit
    with pytest.raises(DataError, match="bomb.png"):
        load_data(folder, (None, 1, 8, 8))
    png(folder / "bomb.png", 5_000)  # 25 M pixels: below Pillow's limit, above ours
    with pytest.raises(DataError, match="above the limit max_data_gb = 0.05"):
        load_data(folder, (None, 1, 8, 8), max_bytes=5 * 10**7)
