"""Read CSV and Parquet tables with pandas: the label column, the feature columns, checked.

The label column is `--label-column`, else the first of `label`, `y`, `target` that exists
(none: unlabelled). The features are `--columns` in that order, else every other column. A
feature column that is not numeric, or a missing label, is an error naming the column (and
the row); NaN and infinite values are checked later with the other formats (`vectors`).
Sizes are checked before the data is parsed: a CSV's rows are counted by its line breaks, a
Parquet file's come from its metadata, and with `--limit` only the kept rows are parsed. A
CSV's delimiter is sniffed from its header line: a comma, else a semicolon, tab or bar.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from privaudit.data.arrays import check_size
from privaudit.data.dataset import subset_indices, subset_note
from privaudit.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LABEL_NAMES", "PARQUET_HINT", "TABLE_SUFFIXES", "Table", "number_texts",
           "numbering_note", "read_table"]

LABEL_NAMES = ("label", "y", "target")  # the label column's default names, in this order
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
PARQUET_HINT = "install the Parquet engine: pip install 'privaudit[parquet]'"
_CHUNK = 1 << 20
_DELIMITERS = ",;\t|"  # a CSV's delimiters, sniffed from its header line (a comma first)
_CSV_HINT = "give a CSV file with a header line, its values separated by commas (or ';', tabs)"


@dataclass(frozen=True, eq=False)
class Table:
    """The rows kept from a table file.

    Attributes:
        x: (N, F) float64 feature values in their own units (not yet checked for NaN).
        y: (N,) int64 labels, or None.
        names: the F feature column names.
        rows: (N,) the rows' 1-based numbers in the file (after the header).
        class_names: the label texts, indexed by label (text labels only).
        notes: the provenance record of the reading.
    """

    x: np.ndarray
    y: np.ndarray | None
    names: tuple[str, ...]
    rows: np.ndarray
    class_names: tuple[str, ...]
    notes: tuple[str, ...]


def read_table(
    path: Path,
    *,
    label_column: str | None,
    columns: Sequence[str] | None,
    limit: int | None,
    max_bytes: int,
    labels: bool = True,
) -> Table:
    """The kept rows of a CSV or Parquet file, as features and labels.

    Args:
        path: a `.csv`, `.parquet` or `.pq` file.
        label_column: the label column's name, or None for the default names.
        columns: the feature columns, or None for every column but the label.
        limit: keep a seeded random subset of this many rows (only they are parsed).
        max_bytes: refuse tables whose kept rows would take more memory than this.
        labels: read the label column (False, `--no-labels`: it is left out of the features
            and not read, so labels that are missing or bad do not matter).

    Raises:
        DataError: unreadable file, unknown or non-numeric columns, bad labels, no rows, data
            above the size limit, or a Parquet file without the Parquet engine installed.
    """
    parquet = path.suffix.lower() != ".csv"
    sep = "," if parquet else _csv_delimiter(path)
    header, n, lines_are_rows = _parquet_shape(path) if parquet else _csv_shape(path, sep)
    if not parquet:
        _check_header(header, path, [*([label_column] if label_column else []), *(columns or [])])
    label, features = _pick_columns(header, label_column, columns, str(path))
    index = subset_indices(n, limit)
    wanted = [*features, *([label] if label else [])]
    # NOTE: a Parquet file, or a CSV whose lines are not its rows (quoted line breaks, blank
    # lines: `n` counts lines, at least the rows), is read whole, then subset by its rows
    whole = parquet or not lines_are_rows
    parsed = n if whole else len(index)
    width = len(wanted) if parquet else len(header)  # NOTE: a CSV is parsed whole-row
    what = f"{parsed} rows of {width} columns as float64 (twice, while parsing)"
    check_size(2 * 8 * parsed * width, what, max_bytes, str(path))
    if parquet:
        frame = _read_parquet(path, wanted)
    else:
        frame = _read_csv(path, sep, np.arange(n) if whole else index, n)
        if not whole and len(frame) != len(index):  # NOTE: lines pandas skips (blank ones)
            whole, frame = True, _read_csv(path, sep, np.arange(n), n)
        _check_fields(frame, path)
        column = frame[label] if labels and label is not None else None
        if column is not None and bool(column.isna().any()) and _text(column.dropna()):
            # NOTE: pandas reads the text labels NA, N/A, null, nan as missing: class names
            # (North America...) that a table of text labels may hold; read them as text.
            # Among numbers they stay missing labels (NA marks a missing class index)
            texts = _read_csv(path, sep, np.arange(n) if whole else index, n, text=label)[label]
            if len(texts) == len(frame):
                frame[label] = texts.where(texts.str.strip() != "", None).to_numpy()
    if whole:
        n = len(frame)
        index = subset_indices(n, limit)
        if len(index) < n:
            frame = frame.iloc[index]
    if len(frame) == 0:
        raise DataError(f"{path}: no samples (the table has no rows)", hint="give non-empty data")
    rows = (index if len(frame) == len(index) else np.arange(len(frame))) + 1
    x = _features(frame, features, rows, str(path))
    y, class_names = (None, ()) if label is None or not labels else _labels(
        frame[label], label, rows, path)
    kind = "Parquet" if parquet else "CSV" if sep == "," else f"CSV separated by {sep!r}"
    notes = [f"{kind}: {len(features)} feature columns"
             + (f", labels from column {label!r}" if y is not None else
                f", label column {label!r} not read" if label else ", unlabelled")]
    notes += subset_note(len(frame), n)
    if class_names:
        notes.append(numbering_note(class_names))
    return Table(x, y, tuple(features), rows, class_names, tuple(notes))


def _csv_delimiter(path: Path) -> str:
    """The delimiter of a CSV file, sniffed from its header line; a comma when in doubt.

    A comma wins whenever the header holds one outside quotes (`csv.Sniffer` prefers it), so
    a comma-separated file reads as it always did; a header of one name reads as one column.
    """
    try:
        with path.open("rb") as fh:
            line = fh.readline(_CHUNK)
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}", hint=_CSV_HINT) from e
    header = line.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")
    try:
        return csv.Sniffer().sniff(header, delimiters=_DELIMITERS).delimiter
    except csv.Error:  # NOTE: no delimiter at all: a single column
        return ","


def _csv_shape(path: Path, sep: str) -> tuple[list[str], int, bool]:
    """The header's column names, the lines after it, and whether each line is one data row.

    It is not where a quoted field holds a line break (a free-text column) or a line is
    blank (pandas skips those): then the lines are more than the rows.
    """
    import pandas as pd

    try:
        header = [str(c) for c in pd.read_csv(path, sep=sep, nrows=0).columns]
        with path.open("rb") as fh:
            lines, returns, tail, simple = 0, 0, b"", True
            while chunk := fh.read(_CHUNK):
                lines += chunk.count(b"\n")
                returns += chunk.count(b"\r")
                seen = tail + chunk
                simple = simple and b'"' not in chunk and b"\n\n" not in seen and (
                    b"\n\r\n" not in seen)  # fmt: skip
                tail = seen[-2:]
    except (OSError, ValueError, UnicodeDecodeError) as e:  # NOTE: pandas' errors subclass these
        raise DataError(f"cannot read {path}: {_first_line(e)}", hint=_CSV_HINT) from e
    if not lines and returns:  # NOTE: old Mac line ends (a lone CR each): read whole, then cut
        last = tail[-1:] or b"\r"
        return header, max(0, returns + (last != b"\r") - 1), False
    last = tail[-1:] or b"\n"
    return header, max(0, lines + (last != b"\n") - 1), simple


def _check_header(header: list[str], path: Path, named: list[str]) -> None:
    """Refuse a first line of numbers only: a table without a header, whose first row is lost.

    pandas would take it for the column names (a reviewer's Wine rows without a header: 177
    of 178 audited, with features named '14.23', '1.71', ...). Numbers that rise from one
    column to the next (years, wavelengths, 0, 1, 2 ...) are names, as are any that
    --label-column or --columns name (`named`).
    """
    def number(name: str) -> float | None:
        # NOTE: pandas renames a repeated name '1.71' as '1.71.1'
        try:
            return float(re.sub(r"\.\d+$", "", name) if name.count(".") > 1 else name)
        except ValueError:
            return None

    found = [number(name.strip()) for name in header]
    values = [v for v in found if v is not None]
    if not found or len(values) < len(found) or set(named) & set(header):
        return
    if len(values) > 1 and all(a < b for a, b in zip(values, values[1:], strict=False)):
        return  # NOTE: rising: names (0, 1, 2 ... as pandas writes them; years; wavelengths)
    raise DataError(f"{path}: the first line holds numbers only ({_listed_names(header)}): "
                    "a table needs a header line of column names",
                    hint="add a header line naming the columns (and the label column, e.g. "
                         "label), or save the data as an .npz with arrays x and y")


def _listed_names(names: Sequence[str], limit: int = 4) -> str:
    return ", ".join(repr(n) for n in names[:limit]) + (", ..." if len(names) > limit else "")


def _parquet_shape(path: Path) -> tuple[list[str], int, bool]:
    """The column names and row count from a Parquet file's metadata (nothing else read)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs the optional Parquet engine (pyarrow), "
                        "which is not installed", hint=PARQUET_HINT) from None
    try:
        meta = pq.ParquetFile(path).metadata
        return [str(n) for n in meta.schema.to_arrow_schema().names], int(meta.num_rows), True
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read {path}: {_first_line(e)}",
                        hint="give a Parquet file written by pandas or pyarrow") from e


def _read_csv(
    path: Path, sep: str, index: np.ndarray, n: int, text: str | None = None
) -> pd.DataFrame:
    """The rows `index` of the CSV (all when `n` of them); `text`: that column alone, as text."""
    import pandas as pd

    keep = None if len(index) == n else set((index + 1).tolist())  # NOTE: row 0 is the header
    # NOTE: every column is parsed (no usecols), so that a row with too many fields is an
    # error rather than quietly shifted into the named columns.
    only = {} if text is None else {"usecols": [text], "dtype": str, "keep_default_na": False}
    try:
        return pd.read_csv(path, sep=sep, **only,
                           skiprows=None if keep is None else (lambda i: i > 0 and i not in keep))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read {path}: {_first_line(e)}", hint=_CSV_HINT) from e


def _text(column: pd.Series) -> bool:
    """Whether a column's values are text, not numbers (an empty column counts as text)."""
    import pandas as pd

    return not (len(column) and bool(pd.to_numeric(column, errors="coerce").notna().all()))


def _check_fields(frame: pd.DataFrame, path: Path) -> None:
    """Refuse rows of one field more than the header (a delimiter at the end of each line).

    pandas takes the first field for a row index then, and shifts every column by one: a
    reviewer's file read its label column from the last feature's place ("the label column
    is empty in row 1 (178 rows without a label)").
    """
    import pandas as pd

    if not isinstance(frame.index, pd.RangeIndex):
        raise DataError(f"{path}: the data rows have one field more than the header line (a "
                        "delimiter at the end of each row?)",
                        hint="remove the delimiter that ends each row, or name the extra "
                             "column in the header")


def _read_parquet(path: Path, wanted: list[str]) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_parquet(path, columns=wanted)
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs the optional Parquet engine (pyarrow), "
                        "which is not installed", hint=PARQUET_HINT) from None
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read {path}: {_first_line(e)}",
                        hint="give a Parquet file written by pandas or pyarrow") from e


def _pick_columns(
    header: list[str], label_column: str | None, columns: Sequence[str] | None, source: str
) -> tuple[str | None, list[str]]:
    """The label column (or None) and the feature columns, checked against the header."""
    if label_column is not None:
        _check_known([label_column], header, source, "--label-column")
        label: str | None = label_column
    else:
        label = next((c for c in LABEL_NAMES if c in header), None)
    if columns is not None:
        _check_known(list(columns), header, source, "--columns")
        if label is not None and label in columns:
            raise DataError(f"{source}: column {label!r} is both the label and a feature",
                            hint="leave it out of --columns, or name another --label-column")
        if len(set(columns)) != len(columns):
            raise DataError(f"{source}: --columns names a column twice",
                            hint="name each feature column once")
        return label, list(columns)
    features = [c for c in header if c != label]
    if not features:
        raise DataError(f"{source}: no feature columns (only the label {label!r})",
                        hint="give a table with feature columns besides the label")
    return label, features


def _check_known(names: list[str], header: list[str], source: str, flag: str) -> None:
    for name in names:
        if name not in header:
            close = difflib.get_close_matches(name, header, n=1)
            guess = f"did you mean {close[0]!r}? " if close else ""
            shown = ", ".join(repr(c) for c in header[:12]) + (", ..." if len(header) > 12 else "")
            raise DataError(f"{source}: {flag} names column {name!r}, which the table lacks",
                            hint=f"{guess}its columns: {shown}")


def _features(frame: pd.DataFrame, names: list[str], rows: np.ndarray, source: str) -> np.ndarray:
    """(N, F) float64 values of the feature columns (DataError on a non-numeric column)."""
    import pandas as pd

    for name in names:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            continue
        parsed = pd.to_numeric(column, errors="coerce")
        bad = np.flatnonzero(parsed.isna().to_numpy() & column.notna().to_numpy())
        example = (f" (row {int(rows[bad[0]])} holds {str(column.iloc[bad[0]])[:40]!r})"
                   if len(bad) else "")
        raise DataError(
            f"{source}: feature column {name!r} is not numeric{example}",
            hint="encode it as numbers, or leave it out with --columns (name the numeric "
            "feature columns)",
        )
    values: np.ndarray = frame[names].to_numpy(dtype=np.float64, na_value=np.nan)
    return values


def _labels(
    column: pd.Series, name: str, rows: np.ndarray, path: Path
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer class labels of the label column; text labels become their sorted index."""
    import pandas as pd

    missing = np.flatnonzero(column.isna().to_numpy())
    if len(missing):
        raise DataError(f"{path}: the label column {name!r} is empty in row "
                        f"{int(rows[missing[0]])} ({len(missing)} rows without a label)",
                        hint="drop the rows without a label, or fill them in")
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.cat.categories
        if not pd.api.types.is_numeric_dtype(categories.dtype):
            # NOTE: a categorical column (Parquet) declares its classes' order: kept, not sorted
            codes = column.cat.codes.to_numpy().astype(np.int64)
            return codes, tuple(str(c) for c in categories)
        column = column.astype(categories.dtype)
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype=np.float64)
        # NOTE: beyond 2^31 no head has that many classes, and int64 would wrap around
        fractional = np.flatnonzero((values != np.rint(values)) | (np.abs(values) >= 2**31))
        if len(fractional):
            raise DataError(f"{path}: the label column {name!r} holds {values[fractional[0]]:g} "
                            f"in row {int(rows[fractional[0]])}, not a class index",
                            hint="give integer class indices (or class names) as labels, or "
                            "name the right column with --label-column")
        return values.astype(np.int64), ()
    return number_texts(column.astype(str).to_numpy())


def number_texts(texts: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Text class labels as (N,) int64 indices in sorted order, and the class names."""
    names, labels = np.unique(texts, return_inverse=True)
    return labels.astype(np.int64).reshape(-1), tuple(str(n) for n in names)


def numbering_note(names: Sequence[str], limit: int = 10) -> str:
    """The record of `number_texts`' numbering: 'text labels numbered in sorted order: 0=a, ...'."""
    shown = ", ".join(f"{i}={n}" for i, n in enumerate(names[:limit]))
    return ("text labels numbered in sorted order: " + shown
            + (", ..." if len(names) > limit else ""))


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
