"""Reading a table file: CSV, a Parquet file or a partitioned Parquet folder, into a DataFrame as written.

The loaders (:mod:`cjlib.io`) read every file through :func:`read_table`, which turns each way a file can
be unreadable into a one-line :class:`cjlib.DataError` naming it: no path given (``""`` never reads the
current folder), missing, empty, an unsupported type, not UTF-8 text (rule ``encoding``), a column name
repeated in the header (``duplicate_header``: pandas would silently read the second as ``event.1``), and
Parquet partitions whose columns differ (``schema_mismatch``; partitions that differ only in width, such
as int64 and double, are read with one widened schema).
"""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

import pandas as pd

from cjlib import paths
from cjlib.errors import DataError, DataWarning
from cjlib.paths import resolve

__all__ = ["read_table", "read_text", "column_names", "read_csv_file", "is_csv"]


def read_text(path: Path, what: str, parameter: str | None = None) -> str:
    """The UTF-8 text of a small file; :class:`DataError` naming the file when it is not UTF-8 or unreadable.

    Parameters
    ----------
    path : Path
        The file.
    what : str
        What it is, for the message (``"column mapping"``).
    parameter : str, optional
        The parameter that named the file, recorded on the error.

    Returns
    -------
    str
        The file's text.
    """
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"the {what} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8",
                        file=str(path), parameter=parameter, rule="encoding") from None
    except OSError as exc:
        raise DataError(f"cannot read the {what}: {exc.strerror or exc}", file=str(path), parameter=parameter,
                        rule="readable") from None


def column_names(path: str | Path) -> list[str] | None:
    """A table file's column names, read from its header or schema only (``None`` if unreadable: the
    loader then says why).

    Parameters
    ----------
    path : str or Path
        A CSV/TSV file, a Parquet file or a Parquet folder (resolved by :func:`cjlib.paths.resolve`).

    Returns
    -------
    list of str or None
        The column names, or ``None`` when the file is missing, empty or cannot be read.
    """
    p = resolve(path)
    try:
        if p.is_dir() or p.suffix.lower() in {".parquet", ".pq"}:
            import pyarrow.dataset as ds

            return list(ds.dataset(p, format="parquet", partitioning="hive").schema.names)
        sep = "\t" if ".tsv" in p.name.lower() else ","
        return [str(c) for c in pd.read_csv(p, sep=sep, nrows=0).columns]
    except Exception:  # missing, empty or corrupt: the loader raises the DataError
        return None


def _path(path: object, what: str) -> Path:
    """``path`` resolved (:func:`cjlib.paths.resolve`); :class:`DataError` (rule ``file_exists``) when it
    is empty or not a path at all, so ``""`` never reads the current folder."""
    if path is None or (isinstance(path, str) and not path.strip()):
        raise DataError(f"no {what} file given: {what}_path is required", parameter=f"{what}_path",
                        rule="file_exists")
    if not isinstance(path, (str, os.PathLike)):
        raise DataError(f"the {what} path must be a file or folder name, got {type(path).__name__} {path!r}",
                        parameter=f"{what}_path", rule="file_exists")
    return resolve(path)


def read_table(path: str | Path, what: str, dictionary: list[str] | None = None,
               text: list[str] | None = None) -> tuple[pd.DataFrame, str]:
    """Read CSV, a Parquet file or a Parquet folder (a Hive-partitioned folder, ``date=2025-01-01/…``,
    gives its keys as categorical columns after the files' own; a Dask run adds them alike:
    :func:`cjlib.engine.load.read_log`); ``dictionary`` names Parquet columns to read as
    categoricals straight from their dictionary pages (no per-row strings are built); ``text`` names CSV
    columns read as text as written (identifiers: ``00017`` stays ``00017``, not the number 17, so
    exports join back to the source).

    Parameters
    ----------
    path : str or Path
        The file or folder (resolved by :func:`cjlib.paths.resolve`).
    what : str
        The table (``"events"``, ``"customers"``, …), named in the messages and in the parameter
        ``<what>_path``.
    dictionary : list of str, optional
        Parquet columns read as categoricals.
    text : list of str, optional
        CSV columns read as text.

    Returns
    -------
    df : DataFrame
        The rows read (at least one).
    name : str
        The resolved path, for messages.

    Raises
    ------
    DataError
        No path, a missing, empty or unreadable file, an unsupported file type, or a repeated column name.
    """
    p = _path(path, what)
    name = str(p)
    if not p.exists():
        hint = "; run `make data` first to write the sample" if p.is_relative_to(paths.SAMPLE_DIR) else ""
        raise DataError(f"{what} file not found{hint}", file=name, rule="file_exists")
    try:
        if p.is_dir():
            parts = sorted(p.rglob("*.parquet"))
            if not parts:
                raise DataError(f"{what} folder holds no .parquet files", file=name, rule="empty_input")
            schema = _partition_schema(p, parts, what)
            df = pd.read_parquet(p, read_dictionary=dictionary or None, schema=schema)
        elif p.suffix.lower() in {".parquet", ".pq"}:
            df = pd.read_parquet(p, read_dictionary=dictionary or None)
        elif is_csv(p.name):
            df = _read_csv(name, what, text)
        else:
            raise DataError(
                f"unsupported file type {p.suffix!r}: use .csv, .parquet or a Parquet folder",
                file=name,
                rule="file_type",
            )
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - empty, not UTF-8, corrupt or unreadable: one line
        raise _read_error(exc, what, name) from None
    _check_header([str(c) for c in df.columns], name)
    if len(df) == 0:
        raise DataError(f"{what} file has no rows", file=name, rule="empty_input")
    return df, name


def is_csv(name: str) -> bool:
    """Whether :func:`read_table` reads a file of this name as CSV (``.csv``, ``.tsv``, ``.txt``, ``.gz``).

    Parameters
    ----------
    name : str
        A file name or path.

    Returns
    -------
    bool
    """
    name = str(name).rsplit("/", 1)[-1]
    return Path(name).suffix.lower() in {".csv", ".txt", ".gz", ".tsv"} or name.endswith(".csv.gz")


def read_csv_file(path: str | Path, what: str, text: list[str] | None = None) -> pd.DataFrame:
    """One CSV file read with :func:`read_table`'s rules and messages, from a local path or any fsspec URL
    (a Dask worker reads each file of a CSV log with it); a file with a header and no rows gives no rows.

    Parameters
    ----------
    path : str or Path
        The file (a path as it is, not resolved) or URL; ``.gz`` is decompressed, ``.tsv`` is tab-separated.
    what : str
        The table, named in messages.
    text : list of str, optional
        Columns read as text, as :func:`read_table` takes them.

    Returns
    -------
    DataFrame
        The rows as written, on a fresh RangeIndex.

    Raises
    ------
    DataError
        An empty, unreadable or not UTF-8 file, or a repeated column name (the rules of :func:`read_table`).
    """
    name = str(path)
    try:
        df = _read_csv(name, what, text)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - empty, not UTF-8, corrupt or unreadable: one line
        raise _read_error(exc, what, name) from None
    _check_header([str(c) for c in df.columns], name)
    return df


def _read_csv(name: str, what: str, text: list[str] | None) -> pd.DataFrame:
    """A CSV file (path or URL) after the empty and repeated-header checks; reading errors propagate."""
    import fsspec

    sep = "\t" if ".tsv" in name.rsplit("/", 1)[-1].lower() else ","
    fs, inner = fsspec.core.url_to_fs(name)
    if fs.size(inner) == 0:
        raise DataError(f"{what} file is empty", file=name, rule="empty_input")
    header = _csv_header(name, sep)
    _check_header(header, name)
    return pd.read_csv(name, sep=sep, low_memory=False, dtype={c: str for c in (text or ()) if c in header})


def _read_error(exc: Exception, what: str, name: str) -> DataError:
    """A reading failure as :func:`read_table` words it (empty, not UTF-8, or unreadable)."""
    if isinstance(exc, pd.errors.EmptyDataError):
        return DataError(f"{what} file is empty", file=name, rule="empty_input")
    if isinstance(exc, UnicodeDecodeError):
        return _encoding_error(exc, what, name)
    return DataError(f"cannot read {what}: {exc}", file=name, rule="readable")


def _encoding_error(exc: UnicodeDecodeError, what: str, name: str) -> DataError:
    return DataError(f"the {what} file is not UTF-8 text ({exc.reason}: byte 0x{exc.object[exc.start]:02x} at "
                     f"position {exc.start:,}); save it as UTF-8", file=name, rule="encoding")


def _csv_header(name: str, sep: str) -> list[str]:
    """The column names of a CSV's first line (a path or URL), as written (pandas renames a repeated name
    ``event.1``)."""
    import fsspec

    gz = "gzip" if name.lower().endswith(".gz") else None
    with fsspec.open(name, "rt", encoding="utf-8-sig", newline="", compression=gz) as f:
        return next(csv.reader(f, delimiter=sep), [])


def _check_header(names: list[str], file: str) -> None:
    """:class:`DataError` (rule ``duplicate_header``) when a column name appears twice."""
    seen: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        seen.setdefault(n, []).append(i + 1)
    dup = next(((n, at) for n, at in seen.items() if len(at) > 1), None)
    if dup:
        n, at = dup
        raise DataError(f"the header names '{n}' {len(at)} times (columns {', '.join(map(str, at))}); "
                        f"every column needs its own name", file=file, column=n, rule="duplicate_header")


def _type_class(t) -> str:
    """A Parquet column type as a class: strings, integers and floats, timestamps and dates are each one
    class whatever their width or unit (``null``: a column holding no value, compatible with any)."""
    import pyarrow.types as pt

    if pt.is_dictionary(t):
        t = t.value_type
    if pt.is_null(t):
        return "null"
    if pt.is_string(t) or pt.is_large_string(t) or getattr(pt, "is_string_view", lambda _: False)(t):
        return "text"
    if pt.is_integer(t) or pt.is_floating(t) or pt.is_decimal(t):
        return "numbers"
    if pt.is_timestamp(t):
        return f"timestamps in {t.tz}" if t.tz else "timestamps"
    if pt.is_date(t):
        return "dates"
    return str(t)


def _partition_schema(folder: Path, files: list[Path], what: str):
    """The schema to read a Parquet folder with: ``None`` when every file has the same one, a unified
    schema when files differ only in width (int64 and double, string and large_string), else
    :class:`DataError` (rule ``schema_mismatch``) naming the files and the column. A column that holds
    no value in some files is warned about, naming them."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    if len(files) < 2:
        return None
    schemas = [pq.read_schema(f).remove_metadata() for f in files]
    if all(sc.equals(schemas[0]) for sc in schemas[1:]):
        return None
    rel = [str(f.relative_to(folder)) for f in files]
    columns = list(dict.fromkeys(n for sc in schemas for n in sc.names))
    for col in columns:
        kinds = [_type_class(sc.field(col).type) if col in sc.names else None for sc in schemas]
        lacking = [r for r, k in zip(rel, kinds) if k is None]
        if lacking:
            having = next(r for r, k in zip(rel, kinds) if k is not None)
            raise DataError(f"Parquet partitions differ: column '{col}' is missing from {_few(lacking)} but "
                            f"present in {having}; write every partition with the same columns",
                            file=str(folder), column=col, rule="schema_mismatch")
        classes = {k for k in kinds if k != "null"}
        if len(classes) > 1:
            a, b = sorted(classes)[:2]
            fa, fb = (next(r for r, k in zip(rel, kinds) if k == c) for c in (a, b))
            raise DataError(f"Parquet partitions differ: column '{col}' holds {a} in {fa} but {b} in {fb}; write "
                            f"every partition with the same types", file=str(folder), column=col,
                            rule="schema_mismatch")
        empty = [r for r, k in zip(rel, kinds) if k == "null"]
        if empty and classes:
            warnings.warn(f"{folder}: column '{col}' holds no value in {len(empty)} of {len(files)} partition "
                          f"file(s) ({_few(empty)})", DataWarning, stacklevel=4)
    found = ds.dataset(folder, format="parquet", partitioning="hive").schema.remove_metadata()
    return pa.unify_schemas([found, *schemas], promote_options="permissive")


def _few(names: list[str], n: int = 3) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")
