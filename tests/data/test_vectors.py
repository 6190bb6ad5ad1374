"""Tabular vectors and signals: tables (CSV, Parquet), arrays, layouts, units, the model feed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from privaudit.config import Domain
from privaudit.data import (
    PARQUET_HINT,
    Feed,
    Normalization,
    Units,
    dataset_from_arrays,
    input_layout,
    load_data,
)
from privaudit.errors import ConfigError, DataError

TABLE = (None, 3)  # a tabular model input (N, 3)


def _csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


@pytest.fixture()
def table(tmp_path: Path) -> Path:
    g = np.random.default_rng(0)
    frame = pd.DataFrame({
        "age": g.integers(20, 70, 40), "income": g.normal(5e4, 1e4, 40),
        "grade": g.integers(0, 5, 40), "label": np.arange(40) % 2, "note": ["x"] * 40,
    })
    return _csv(tmp_path / "t.csv", frame)


# ---------------------------------------------------------------- layouts


@pytest.mark.parametrize(
    ("shape", "domain", "model", "sample"),
    [
        ((None, 30), None, Domain.TABULAR, (30,)),
        ((None, 2, 64), None, Domain.SIGNAL, (2, 64)),
        ((None, 1, 28, 28), None, Domain.IMAGE, (1, 28, 28)),
        ((None, 64), "signal", Domain.SIGNAL, (1, 64)),
        ((None, 2, 5), "tabular", Domain.TABULAR, (10,)),
        ((None, 1, 4, 50), "signal", Domain.SIGNAL, (4, 50)),
        ((None, 28, 28), "image", Domain.IMAGE, (1, 28, 28)),
        ((None, 2, 3, 2, 2), "tabular", Domain.TABULAR, (24,)),
    ],
)
def test_layout_from_rank_and_domain(
    shape: tuple[int | None, ...], domain: str | None, model: Domain, sample: tuple[int, ...]
) -> None:
    layout = input_layout(shape, domain)
    assert layout.domain == model and layout.shape == sample
    assert layout.model_dims(sample) == tuple(d for d in shape[1:])


def test_layout_refusals() -> None:
    with pytest.raises(DataError, match=r"needs tabular vectors \(N, F\), signals"):
        input_layout((None, 2, 3, 4, 5))
    with pytest.raises(DataError, match="cannot hold signal data"):
        input_layout((None, 3, 4, 5), "signal")
    with pytest.raises(ConfigError, match="dynamic"):
        input_layout((None, 2, None), "tabular")
    with pytest.raises(ConfigError, match="must be 1 positive integers"):
        input_layout((None, None), None, (2, 3))
    assert input_layout((None, None), None, (7,)).shape == (7,)


# ---------------------------------------------------------------- tables


def test_csv_reads_features_in_their_own_units(table: Path) -> None:
    ds = load_data(table, TABLE, columns=("age", "income", "grade"))
    assert ds.domain == Domain.TABULAR and ds.x.shape == (40, 3) and ds.x.dtype == np.float32
    assert np.allclose(ds.x.mean(0), 0, atol=1e-6) and np.allclose(ds.x.std(0), 1, atol=1e-5)
    raw = pd.read_csv(table)[["age", "income", "grade"]].to_numpy()
    assert np.allclose(ds.units.to_raw(ds.x), raw, rtol=1e-5, atol=1e-5)
    assert ds.units.names == ("age", "income", "grade")
    assert ds.units.discrete == (False, False, True)  # 50 ages are too many levels
    assert ds.y is not None and ds.y.tolist() == (np.arange(40) % 2).tolist()
    assert any("labels from column 'label'" in t for t in ds.transforms)


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_csv_with_another_delimiter_reads_the_same(table: Path, sep: str) -> None:
    other = table.with_name("other.csv")
    pd.read_csv(table).to_csv(other, sep=sep, index=False)
    columns = ("age", "income", "grade")
    ds, same = load_data(other, TABLE, columns=columns), load_data(table, TABLE, columns=columns)
    assert ds.units.names == columns and np.array_equal(ds.x, same.x)
    assert ds.y is not None and same.y is not None and np.array_equal(ds.y, same.y)
    assert any(f"CSV separated by {sep!r}" in t for t in ds.transforms)
    assert not any("separated" in t for t in same.transforms)  # a comma CSV's record as before


def test_csv_delimiter_sniffing_keeps_commas_and_single_columns(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a;b": [1.0, 2, 3], "c": [3.0, 1, 2]})  # a ';' inside a name
    ds = load_data(_csv(tmp_path / "c.csv", frame), (None, 2))
    assert ds.units.names == ("a;b", "c")
    one = load_data(_csv(tmp_path / "one.csv", frame[["c"]]), (None, 1), limit=2)
    assert one.units.names == ("c",) and one.x.shape == (2, 1)


def test_non_numeric_column_is_named(table: Path) -> None:
    with pytest.raises(DataError, match="feature column 'note' is not numeric") as e:
        load_data(table, (None, 4))
    assert "row 1 holds 'x'" in str(e.value) and "--columns" in (e.value.hint or "")


@pytest.mark.parametrize(("names", "picked"), [(("y", "target"), "y"), (("target",), "target"),
                                                (("label", "y"), "label")])
def test_default_label_columns(tmp_path: Path, names: tuple[str, ...], picked: str) -> None:
    frame = pd.DataFrame({"a": [1.0, 2, 3], "b": [3.0, 1, 2]})
    for i, name in enumerate(names):
        frame[name] = [i, i, i]
    ds = load_data(_csv(tmp_path / "l.csv", frame), (None, 2 + len(names) - 1))
    assert any(f"labels from column {picked!r}" in t for t in ds.transforms)


def test_label_column_flag_and_text_labels(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 2, 3, 4], "kind": ["red", "blue", "red", "green"]})
    path = _csv(tmp_path / "k.csv", frame)
    ds = load_data(path, (None, 1), label_column="kind")
    assert ds.y is not None and ds.y.tolist() == [2, 0, 2, 1]
    assert ds.class_names == ("blue", "green", "red")
    with pytest.raises(DataError, match="names column 'knd'") as e:
        load_data(path, (None, 1), label_column="knd")
    assert "did you mean 'kind'" in (e.value.hint or "")
    unlabelled = load_data(_csv(tmp_path / "u.csv", frame[["a"]]), (None, 1))
    assert unlabelled.y is None and any("unlabelled" in t for t in unlabelled.transforms)


def test_label_problems_name_the_row(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 2, 3], "label": [0, None, 1]})
    with pytest.raises(DataError, match="label column 'label' is empty in row 2"):
        load_data(_csv(tmp_path / "m.csv", frame), (None, 1))
    frame = pd.DataFrame({"a": [1.0, 2, 3], "label": [0, 1.5, 1]})
    with pytest.raises(DataError, match="holds 1.5 in row 2, not a class index"):
        load_data(_csv(tmp_path / "f.csv", frame), (None, 1))
    frame = pd.DataFrame({"a": [1.0, 2, 3], "label": [0, 1e20, 1]})  # int64 wrapped it
    with pytest.raises(DataError, match="holds 1e[+]20 in row 2, not a class index"):
        load_data(_csv(tmp_path / "big.csv", frame), (None, 1))


def test_columns_select_and_order(table: Path) -> None:
    ds = load_data(table, (None, 2), columns=("grade", "age"))
    assert ds.units.names == ("grade", "age")
    with pytest.raises(DataError, match="--columns names column 'agee'"):
        load_data(table, (None, 1), columns=("agee",))
    with pytest.raises(DataError, match="both the label and a feature"):
        load_data(table, (None, 1), columns=("label",))
    with pytest.raises(DataError, match=r"expects tabular input \(N, 3\), found data \(N, 2\)"):
        load_data(table, TABLE, columns=("grade", "age"))


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_names_row_and_column(tmp_path: Path, value: float) -> None:
    frame = pd.DataFrame({"a": np.arange(6.0), "b": np.arange(6.0), "label": [0, 1] * 3})
    frame.loc[4, "b"] = value
    path = _csv(tmp_path / "n.csv", frame)
    with pytest.raises(DataError, match=r"1 NaN or infinite values, the first at row 5, "
                                        r"column 'b'"):
        load_data(path, (None, 2))
    kept = load_data(path, (None, 2), limit=3)  # only the kept rows are read: row 5 is not one
    assert len(kept) == 3 and "random subset of 3 of 6 samples (seed 0)" in kept.transforms


def test_csv_size_limit(table: Path) -> None:
    with pytest.raises(DataError, match="max_data_gb"):
        load_data(table, TABLE, columns=("age", "income", "grade"), max_bytes=1000)


def test_constant_columns_are_left_unscaled(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 2, 3, 4], "c": [7.0] * 4})
    ds = load_data(_csv(tmp_path / "c.csv", frame), (None, 2))
    assert ds.units.std[1] == 1.0 and np.all(ds.x[:, 1] == 0)
    assert any("1 constant features left unscaled ('c')" in t for t in ds.transforms)


def test_parquet(tmp_path: Path, table: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyarrow")
    path = tmp_path / "t.parquet"
    pd.read_csv(table).drop(columns="note").to_parquet(path)
    ds = load_data(path, TABLE)
    assert ds.x.shape == (40, 3) and ds.units.names == ("age", "income", "grade")
    assert np.array_equal(ds.x, load_data(table, TABLE, columns=("age", "income", "grade")).x)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # the engine is not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DataError, match="needs the optional Parquet engine") as e:
        load_data(path, TABLE)
    assert e.value.hint == PARQUET_HINT and "privaudit[parquet]" in PARQUET_HINT


def test_a_categorical_label_keeps_its_declared_order(tmp_path: Path, table: Path) -> None:
    """A reviewer (2026-12-08): a Parquet label column of categories declared in the model's
    order (low, mid, high) was numbered in sorted text order (high, low, mid), and refused as
    labels in another order. The declared order is kept; numeric categories are indices."""
    pytest.importorskip("pyarrow")
    frame = pd.read_csv(table).drop(columns="note")
    frame["label"] = pd.Categorical(np.array(["low", "mid", "high"])[np.arange(40) % 3],
                                    categories=["low", "mid", "high"], ordered=True)
    path = tmp_path / "c.parquet"
    frame.to_parquet(path)
    ds = load_data(path, TABLE)
    assert ds.class_names == ("low", "mid", "high") and list(ds.y[:3]) == [0, 1, 2]
    frame["label"] = pd.Categorical(np.arange(40) % 3)
    frame.to_parquet(path)
    ds = load_data(path, TABLE)
    assert ds.class_names == () and list(ds.y[:4]) == [0, 1, 2, 0]


def test_table_options_need_a_table(tmp_path: Path) -> None:
    np.savez(tmp_path / "v.npz", x=np.ones((4, 3)))
    with pytest.raises(DataError, match="--label-column names columns of a CSV or Parquet"):
        load_data(tmp_path / "v.npz", TABLE, label_column="y")
    with pytest.raises(DataError, match="is a table, but the model takes images"):
        load_data(_csv(tmp_path / "i.csv", pd.DataFrame({"a": [1.0]})), (None, 1, 1, 1))
    with pytest.raises(DataError, match="unsupported data: a folder for a model with tabular"):
        load_data(tmp_path, TABLE)


# ---------------------------------------------------------------- arrays and signals


def test_signals_from_arrays() -> None:
    g = np.random.default_rng(0)
    x = (g.normal(100, 20, (30, 2, 16))).astype(np.float32)
    x[:, 1] *= 0.01  # channels in different units
    ds = dataset_from_arrays(x, np.arange(30) % 3, (None, 2, 16))
    assert ds.domain == Domain.SIGNAL and ds.units.names == ("ch0", "ch1")
    assert np.allclose(ds.x.std(axis=(0, 2)), 1, atol=1e-5)
    assert ds.units.data_range == pytest.approx(float(x.max() - x.min()), rel=1e-6)
    flat = dataset_from_arrays(x.reshape(30, -1), None, (None, 2, 16))
    assert np.array_equal(flat.x, ds.x) and "(32,)→(2, 16) per sample" in flat.transforms
    one = dataset_from_arrays(x[:, 0], None, (None, 16), domain="signal")
    assert one.x.shape == (30, 1, 16)
    ranged = dataset_from_arrays(x, None, (None, 2, 16), data_range=(0.0, 1000.0))
    assert ranged.units.data_range == 1000.0


def test_signals_laid_out_time_first_are_transposed_never_reshaped() -> None:
    """A reviewer (2026-12-08): (N, T, C) signals for a channels-first (N, C, T) model were
    reshaped, mixing channels and time steps (channel means 32.4, 35.3, 26.8 for data whose
    channels average 0.1, 98.6, -4.2). They are transposed now; other shapes are refused."""
    g = np.random.default_rng(0)
    x = g.normal([[0.1], [98.6], [-4.2]], 1.0, (40, 3, 16)).astype(np.float32)
    want = dataset_from_arrays(x, None, (None, 3, 16))
    got = dataset_from_arrays(x.transpose(0, 2, 1).copy(), None, (None, 3, 16))
    assert np.array_equal(got.x, want.x) and got.units.mean == want.units.mean
    assert got.units.mean == pytest.approx((0.1, 98.6, -4.2), abs=0.3)
    assert any("transposed to (N, C, T)" in t for t in got.transforms)
    with pytest.raises(DataError, match="a reshape would mix channels and time steps"):
        dataset_from_arrays(x.reshape(40, 6, 8), None, (None, 3, 16))


def test_the_fingerprint_sees_the_units_of_tables_and_signals() -> None:
    """A reviewer (2026-12-08): data scaled or shifted per column standardises to the same
    values, so its fingerprint was the same and a sweep reused the old data's shards (99.4%
    accuracy where the model gets 33%); a signal's --data-range (its PSNR peak) neither.
    Both change the fingerprint now; the same data keeps it."""
    g = np.random.default_rng(1)
    x = g.normal(5.0, 2.0, (50, 4)).astype(np.float32)
    base = dataset_from_arrays(x, None, (None, 4)).fingerprint
    assert dataset_from_arrays(x.copy(), None, (None, 4)).fingerprint == base
    moved = x * np.float32([1, 1, 1, 1000]) + np.float32([100, 0, 0, 0])
    assert dataset_from_arrays(moved, None, (None, 4)).fingerprint != base
    s = g.normal(0.0, 1.0, (20, 2, 8)).astype(np.float32)
    ranges = {dataset_from_arrays(s, None, (None, 2, 8), data_range=r).fingerprint
              for r in (None, (-10.0, 10.0), (0.0, 100.0))}  # fmt: skip
    assert len(ranges) == 3


def test_signal_nan_names_sample_channel_and_step() -> None:
    x = np.zeros((5, 2, 8), np.float32)
    x[3, 1, 6] = np.nan
    with pytest.raises(DataError, match=r"the first at x\[3, 1, 6\]: row 3, channel 'ch1', "
                                        "time step 6"):
        dataset_from_arrays(x, None, (None, 2, 8))


def test_values_beyond_float32_are_refused() -> None:
    x = np.ones((4, 2))
    x[1, 0] = 1e300
    with pytest.raises(DataError, match="beyond float32"):
        dataset_from_arrays(x, None, (None, 2))


def test_wrong_channel_count() -> None:
    with pytest.raises(DataError, match=r"expects signal input \(N, 3, 8\)"):
        dataset_from_arrays(np.ones((4, 2, 8)), None, (None, 3, 8))


# ---------------------------------------------------------------- the feed and units


def test_feed_maps_measured_samples_to_the_model_input() -> None:
    units = Units(mean=(10.0, -5.0), std=(2.0, 0.5), names=("a", "b"))
    norm = Normalization(mean=(9.0, -5.0), std=(4.0, 1.0))  # the model's own standardisation
    feed = Feed(norm, units, (2,))
    x = np.array([[0.5, -2.0]], np.float32)  # raw: 11, -6
    assert np.allclose(feed.apply(x), [[0.5, -1.0]])
    assert torch.allclose(feed.apply_torch(torch.from_numpy(x)), torch.tensor([[0.5, -1.0]]))
    reshaped = Feed(Normalization(), Units(mean=(0.0,), std=(1.0,)), (2, 3))
    assert reshaped.apply(np.arange(6, dtype=np.float32)[None, None]).shape == (1, 2, 3)
    pixels = Feed.pixels(Normalization(mean=(0.5,), std=(0.25,)), (1, 2, 2))
    assert np.array_equal(pixels.apply(np.ones((1, 1, 2, 2), np.float32)), np.full((1, 1, 2, 2),
                                                                                   2.0))


# ---------------------------------------------------------------- images in their own range


def test_images_with_an_explicit_data_range() -> None:
    g = np.random.default_rng(0)
    x = g.uniform(-1, 1, (6, 1, 4, 4)).astype(np.float32)
    with pytest.raises(DataError, match="outside") as e:
        dataset_from_arrays(x, None, (None, 1, 4, 4))
    assert "--data-range" in (e.value.hint or "")
    ds = dataset_from_arrays(x, None, (None, 1, 4, 4), data_range=(-1.0, 1.0))
    assert np.allclose(ds.x, (x + 1) / 2, atol=1e-6) and ds.x.min() >= 0 and ds.x.max() <= 1
    assert any("--data-range" in t for t in ds.transforms)
    with pytest.raises(DataError, match=r"leave the given data range \[0, 0.5\]"):
        dataset_from_arrays(x, None, (None, 1, 4, 4), data_range=(0.0, 0.5))


def test_a_csv_whose_lines_are_not_its_rows_is_counted_by_its_rows(tmp_path: Path) -> None:
    """A free-text column with line breaks inside quotes, and blank lines, made a tester's
    300 rows read as 500 ("300 of 500") and `--limit 50` keep 32 of them."""
    g = np.random.default_rng(0)
    rows = [",".join(str(v) for v in row) + f",{i % 2}"
            for i, row in enumerate(g.normal(size=(300, 3)).round(4))]  # fmt: skip
    notes = tmp_path / "notes.csv"
    notes.write_text("\n".join(["a,b,c,y,note", *(r + (',"line1\nline2\nline3"' if i % 3 == 0
                                                       else ",plain")
                                                  for i, r in enumerate(rows))]) + "\n\n\n",
                     encoding="utf-8")  # fmt: skip
    plain = tmp_path / "plain.csv"  # the same rows, one line each
    plain.write_text("\n".join(["a,b,c,y,note", *(r + ",x" for r in rows)]) + "\n",
                     encoding="utf-8")  # fmt: skip
    read = {f: load_data(f, (None, 3), columns=("a", "b", "c"), label_column="y")
            for f in (notes, plain)}  # fmt: skip
    assert len(read[notes].x) == 300 and not any("subset" in t for t in read[notes].transforms)
    np.testing.assert_array_equal(read[notes].x, read[plain].x)
    some = {f: load_data(f, (None, 3), columns=("a", "b", "c"), label_column="y", limit=50)
            for f in (notes, plain)}  # fmt: skip
    assert len(some[notes].x) == 50
    assert any("random subset of 50 of 300 samples" in t for t in some[notes].transforms)
    np.testing.assert_array_equal(some[notes].x, some[plain].x)  # the same rows kept


def test_a_table_without_a_header_is_refused_not_short_of_its_first_row(tmp_path: Path) -> None:
    """A reviewer (2026-12-08): Wine rows without a header were read with the first row as
    column names ('14.23', '1.71', ...): 177 of 178 rows, with no word. A first line of
    numbers only is refused; column names 0, 1, 2 ... (pandas' own) are a header."""
    rows = np.random.default_rng(0).normal(5.0, 1.0, (12, 3)).round(2)
    bare = tmp_path / "bare.csv"
    bare.write_text("\n".join(",".join(f"{v:g}" for v in r) for r in rows) + "\n")
    with pytest.raises(DataError, match="the first line holds numbers only"):
        load_data(bare, (None, 3))
    counted = _csv(tmp_path / "counted.csv", pd.DataFrame(rows))
    assert len(load_data(counted, (None, 3))) == 12


def test_old_mac_line_ends_are_rows_and_keep_limit(tmp_path: Path, table: Path) -> None:
    """A reviewer (2026-12-08): a CSV whose lines end in a lone CR counted 0 lines, so
    --limit was ignored (every row audited, no subset note) and the size check skipped."""
    columns = ("age", "income", "grade")
    mac = tmp_path / "mac.csv"
    mac.write_bytes(table.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r"))
    got, want = (load_data(p, TABLE, columns=columns, limit=10) for p in (mac, table))
    assert len(got) == 10 and np.array_equal(got.x, want.x) and np.array_equal(got.y, want.y)
    assert any("random subset of 10 of 40" in t for t in got.transforms)


def test_no_labels_reads_no_labels(tmp_path: Path, table: Path) -> None:
    """A reviewer (2026-12-08): --no-labels ("audits any data without its labels") still
    refused a label column with empty rows, and an .npz whose y was text or of another
    length. The labels are neither read nor checked now."""
    frame = pd.read_csv(table)
    frame.loc[3, "label"] = None
    holes = _csv(tmp_path / "holes.csv", frame)
    columns = ("age", "income", "grade")
    with pytest.raises(DataError, match="is empty in row 4"):
        load_data(holes, TABLE, columns=columns)
    ds = load_data(holes, TABLE, columns=columns, labels=False)
    assert ds.y is None and ds.x.shape == (40, 3)
    assert any("label column 'label' not read" in t for t in ds.transforms)
    npz = tmp_path / "text.npz"
    np.savez(npz, x=frame[list(columns)].to_numpy(), y=np.array(["a", "b"]))
    with pytest.raises(DataError):
        load_data(npz, TABLE)
    assert load_data(npz, TABLE, labels=False).y is None


def test_text_labels_named_like_missing_values_are_classes(tmp_path: Path, table: Path) -> None:
    """A reviewer (2026-12-08): classes NA, EU, AS (regions) were read as missing labels
    (pandas' NA texts) and refused; they are classes now. An empty label is still missing."""
    frame = pd.read_csv(table)
    frame["label"] = np.array(["NA", "EU", "AS", "null"])[np.arange(40) % 4]
    got = load_data(_csv(tmp_path / "regions.csv", frame), TABLE, columns=("age", "income",
                                                                            "grade"))  # fmt: skip
    assert got.class_names == ("AS", "EU", "NA", "null")
    assert list(got.y[:4]) == [2, 1, 0, 3]
    frame.loc[5, "label"] = ""
    with pytest.raises(DataError, match="is empty in row 6"):
        load_data(_csv(tmp_path / "hole.csv", frame), TABLE, columns=("age", "income", "grade"))


def test_rows_ending_in_a_delimiter_are_refused_not_shifted(tmp_path: Path, table: Path) -> None:
    """A reviewer (2026-12-08): a comma at the end of every data row made pandas take the
    first field for an index and shift every column ("the label column is empty in row 1")."""
    lines = table.read_text().splitlines()
    trailing = tmp_path / "trailing.csv"
    trailing.write_text("\n".join([lines[0], *(line + "," for line in lines[1:])]) + "\n")
    with pytest.raises(DataError, match="one field more than the header line"):
        load_data(trailing, TABLE, columns=("age", "income", "grade"))


@pytest.mark.parametrize("limit", [None, 10])
def test_a_line_of_spaces_is_no_row_and_no_subset(tmp_path: Path, table: Path,
                                                  limit: int | None) -> None:
    """A reviewer (2026-12-08): a line of spaces (which pandas skips) was counted as a row,
    and the record claimed "random subset of 40 of 41 samples" where all were kept."""
    lines = table.read_text().splitlines()
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("\n".join([*lines[:5], "   ", *lines[5:]]) + "\n")
    columns = ("age", "income", "grade")
    got, want = (load_data(p, TABLE, columns=columns, limit=limit) for p in (spaced, table))
    assert np.array_equal(got.x, want.x) and np.array_equal(got.y, want.y)
    subset = [t for t in got.transforms if t.startswith("random subset")]
    assert subset == ([] if limit is None else ["random subset of 10 of 40 samples (seed 0)"])


def test_one_sample_is_too_few_in_words(tmp_path: Path, table: Path) -> None:
    """One row said "each of the 0 left for the auxiliary set is identical to an evaluation
    sample"; it says that an audit needs 2 samples."""
    from privaudit.data import partition_aux_eval

    one = load_data(_csv(tmp_path / "one.csv", pd.read_csv(table).head(1)), TABLE,
                    columns=("age", "income", "grade"))  # fmt: skip
    with pytest.raises(DataError, match="1 sample: an audit needs at least 2"):
        partition_aux_eval(one)


def test_text_labels_of_an_npz_are_numbered_as_a_tables(tmp_path: Path) -> None:
    """A reviewer (2026-12-08): text labels were accepted in a CSV and refused in an .npz.
    They are numbered in sorted order in both, and the record lists the numbering."""
    x = np.random.default_rng(0).normal(size=(30, 3)).astype(np.float32)
    path = tmp_path / "t.npz"
    np.savez(path, x=x, y=np.array(["b", "a", "c"])[np.arange(30) % 3])
    ds = load_data(path, TABLE)
    assert ds.class_names == ("a", "b", "c") and list(ds.y[:3]) == [1, 0, 2]
    assert "text labels numbered in sorted order: 0=a, 1=b, 2=c" in ds.transforms


def test_labels_that_are_numbers_stay_numbers(tmp_path: Path, table: Path) -> None:
    """A reviewer (2026-12-08): 12 class indices stored as text in an .npz ("0" ... "11"),
    numbered in sorted text order ("10" before "2"), read 14% accuracy where the model has
    100%, exit 0; a CSV's numeric labels with NA cells became text the same way. Whole-number
    texts are class indices; NA among numbers is a missing label."""
    x = np.random.default_rng(0).normal(size=(36, 3)).astype(np.float32)
    y = np.arange(36) % 12
    path = tmp_path / "digits.npz"
    np.savez(path, x=x, y=y.astype(str))
    ds = load_data(path, TABLE)
    assert ds.class_names == () and np.array_equal(ds.y, y)
    frame = pd.read_csv(table)
    frame["label"] = (np.arange(40) % 12).astype(object)
    frame.loc[7, "label"] = "NA"
    with pytest.raises(DataError, match="is empty in row 8"):
        load_data(_csv(tmp_path / "na.csv", frame), TABLE, columns=("age", "income", "grade"))


def test_numbers_that_rise_or_are_named_are_a_header(tmp_path: Path) -> None:
    """A reviewer (2026-12-08): spectra with wavelength column names (400.0, 410.5, ...) and
    a table of years whose label column --label-column names were refused as headerless."""
    g = np.random.default_rng(0)
    spectra = pd.DataFrame(g.normal(size=(12, 3)), columns=["400.0", "410.5", "421.0"])
    assert len(load_data(_csv(tmp_path / "s.csv", spectra), TABLE)) == 12
    years = pd.DataFrame(g.normal(size=(12, 3)), columns=["2012", "2010", "2011"])
    years["2022"] = np.arange(12) % 2
    path = _csv(tmp_path / "y.csv", years)
    with pytest.raises(DataError, match="the first line holds numbers only"):
        load_data(path, (None, 4))
    ds = load_data(path, TABLE, label_column="2022")
    assert ds.y is not None and list(ds.y[:3]) == [0, 1, 0]
