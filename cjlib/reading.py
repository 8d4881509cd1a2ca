"""Reading a table file: CSV, a Parquet file, a partitioned Parquet folder, or a folder or glob of CSV
files (``exports/*.csv``), into a DataFrame as written.

The loaders (:mod:`cjlib.io`) read every file through :func:`read_table`, which turns each way a file can
be unreadable into a one-line :class:`cjlib.DataError` naming it: no path given (``""`` never reads the
current folder), missing, empty, an unsupported type, not UTF-8 text (rule ``encoding``), a column name
repeated in the header (``duplicate_header``: pandas would silently read the second as ``event.1``), and
Parquet partitions whose columns differ (``schema_mismatch``; partitions that differ only in width, such
as int64 and double, are read with one widened schema). Several CSV files are read as one file holding all
their rows: the same columns in each (``schema_mismatch``), each column typed over every file. A Dask run
(:func:`cjlib.engine.load.read_log`) lists and reads a log's files with the same functions (``_pieces``,
:func:`read_csv_file`, ``_common_types``), so both give the same log.
"""

from __future__ import annotations

import csv
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
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
        A CSV/TSV file, a Parquet file, a folder of Parquet or CSV files or a glob (``exports/*.csv``),
        resolved by :func:`cjlib.paths.resolve`, or an fsspec URL to one.

    Returns
    -------
    list of str or None
        The column names, or ``None`` when the file is missing, empty or cannot be read.
    """
    if _is_url(path):
        return _url_column_names(str(path))
    p = resolve(path)
    try:
        if (_is_glob(str(path)) and not p.exists()) or (p.is_dir() and not any(p.rglob("*.parquet"))):
            with warnings.catch_warnings():  # a glob of Parquet files: the loader warns about their schemas
                warnings.simplefilter("ignore")
                first = _pieces(_local_path(str(path))).files[0]
            return column_names(first)  # a glob or a folder of CSV files: every file has the first's columns
        if p.is_dir() or p.suffix.lower() in {".parquet", ".pq"}:
            import pyarrow.dataset as ds

            return list(ds.dataset(p, format="parquet", partitioning="hive").schema.names)
        return _csv_header(str(p), _separator(str(p)))
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
    :func:`cjlib.engine.load.read_log`), a folder of CSV files or a glob (``exports/*.csv``: CSV or
    Parquet files), read as one file holding all their rows in file order (sorted names), each column
    typed as one read of every row types it; ``dictionary`` names Parquet columns to read as
    categoricals straight from their dictionary pages (no per-row strings are built); ``text`` names CSV
    columns read as text as written (identifiers: ``00017`` stays ``00017``, not the number 17, so
    exports join back to the source).

    Parameters
    ----------
    path : str or Path
        The file, folder or glob (resolved by :func:`cjlib.paths.resolve`; a relative glob from the current
        folder when it matches there, else from the project root), or an fsspec URL to one
        (``file:///data/events/``, ``s3://bucket/events/*.csv``), read with the same rules and named as
        given.
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
        No path, a missing, empty or unreadable file, an unsupported file type, a repeated column name, or
        CSV files naming different columns (``schema_mismatch``).
    """
    if _is_url(path):
        return _read_url(str(path), what, dictionary, text)
    p = _path(path, what)
    name = str(p)
    pattern = _is_glob(str(path)) and not p.exists()
    if pattern:
        name = _local_path(str(path))
    elif not p.exists():
        hint = "; run `make data` first to write the sample" if p.is_relative_to(paths.SAMPLE_DIR) else ""
        raise DataError(f"{what} file not found{hint}", file=name, rule="file_exists")
    try:
        if pattern or (p.is_dir() and not any(p.rglob("*.parquet"))):  # a glob, or a folder of CSV files
            listing = _pieces(name, what)
            if listing.kind == "csv":
                df = _read_csv_files(listing, what, text)
            else:
                df = pd.read_parquet(listing.files, read_dictionary=dictionary or None, schema=listing.schema)
        elif p.is_dir():
            parts = sorted(p.rglob("*.parquet"))
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
    return _with_rows(df, what, name), name


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


def _with_rows(df: pd.DataFrame, what: str, name: str) -> pd.DataFrame:
    """A table as read, once its header is checked and it has rows (else :class:`DataError` naming ``name``)."""
    _check_header([str(c) for c in df.columns], name)
    if len(df) == 0:
        raise DataError(f"{what} file has no rows", file=name, rule="empty_input")
    return df


def _read_csv(name: str, what: str, text: list[str] | None) -> pd.DataFrame:
    """A CSV file (path or URL) after the empty and repeated-header checks; reading errors propagate."""
    import fsspec

    fs, inner = fsspec.core.url_to_fs(name)
    if fs.size(inner) == 0:
        raise DataError(f"{what} file is empty", file=name, rule="empty_input")
    sep = _separator(name)
    header = _csv_header(name, sep)
    _check_header(header, name)
    df = pd.read_csv(name, sep=sep, low_memory=False, dtype={c: str for c in (text or ()) if c in header})
    return _decimal_commas(df, set(text or ())) if sep == ";" else df


_DECIMAL_COMMA = r"-?\d+,\d+|-?\d+"


def _separator(name: str) -> str:
    """A CSV file's field separator: a tab for ``.tsv``, else whichever of ``,``, ``;``, tab and ``|`` its
    header line holds most often (``,`` for a one-column file). Spreadsheets in many locales save
    ``;``-separated files with decimal commas (:func:`_decimal_commas`)."""
    if ".tsv" in name.rsplit("/", 1)[-1].lower():
        return "\t"
    import fsspec

    gz = "gzip" if name.lower().endswith(".gz") else None
    with fsspec.open(name, "rt", encoding="utf-8-sig", newline="", compression=gz) as f:
        line = f.readline()
    counts = {s: line.count(s) for s in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)  # a tie keeps the earlier: the comma
    return best if counts[best] else ","


def _decimal_commas(df: pd.DataFrame, keep: set[str]) -> pd.DataFrame:
    """Text columns of a ``;``-separated file whose every value is a number written with a decimal comma
    (``12,50``; at least one with a comma) as numbers; columns read as text on purpose (``keep``) stay."""
    for c in df.columns:
        if c in keep or df[c].dtype.kind in "biufcmM":
            continue
        v = df[c].dropna().astype(str).str.strip()
        if len(v) and v.str.contains(",", regex=False).any() and v.str.fullmatch(_DECIMAL_COMMA).all():
            df[c] = pd.to_numeric(df[c].astype(str).str.strip().str.replace(",", ".", regex=False), errors="coerce")
    return df


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


def _partition_schema(folder: Path | str, files: list, what: str, fs=None):
    """The schema to read a Parquet folder with: ``None`` when every file has the same one, a unified
    schema when files differ only in width (int64 and double, string and large_string), else
    :class:`DataError` (rule ``schema_mismatch``) naming the files and the column. A column that holds
    no value in some files is warned about, naming them. ``fs``: the fsspec filesystem of a URL (``folder``
    and ``files`` are then paths inside it)."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    if len(files) < 2:
        return None
    schemas = [pq.read_schema(str(f), filesystem=fs).remove_metadata() for f in files]
    if all(sc.equals(schemas[0]) for sc in schemas[1:]):
        return None
    rel = [str(f)[len(str(folder).rstrip("/")) + 1:] for f in files]
    shown = fs.unstrip_protocol(str(folder)) if fs is not None else str(folder)
    columns = list(dict.fromkeys(n for sc in schemas for n in sc.names))
    for col in columns:
        kinds = [_type_class(sc.field(col).type) if col in sc.names else None for sc in schemas]
        lacking = [r for r, k in zip(rel, kinds) if k is None]
        if lacking:
            having = next(r for r, k in zip(rel, kinds) if k is not None)
            raise DataError(f"Parquet partitions differ: column '{col}' is missing from {_few(lacking)} but "
                            f"present in {having}; write every partition with the same columns",
                            file=shown, column=col, rule="schema_mismatch")
        classes = {k for k in kinds if k != "null"}
        if len(classes) > 1:
            a, b = sorted(classes)[:2]
            fa, fb = (next(r for r, k in zip(rel, kinds) if k == c) for c in (a, b))
            raise DataError(f"Parquet partitions differ: column '{col}' holds {a} in {fa} but {b} in {fb}; write "
                            f"every partition with the same types", file=shown, column=col,
                            rule="schema_mismatch")
        empty = [r for r, k in zip(rel, kinds) if k == "null"]
        if empty and classes:
            warnings.warn(f"{shown}: column '{col}' holds no value in {len(empty)} of {len(files)} partition "
                          f"file(s) ({_few(empty)})", DataWarning, stacklevel=4)
    found = ds.dataset(str(folder), filesystem=fs, format="parquet", partitioning="hive").schema.remove_metadata()
    return pa.unify_schemas([found, *schemas], promote_options="permissive")


def _few(names: list[str], n: int = 3) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


# ================================================================= a log of several files: in process and on Dask
@dataclass(frozen=True)
class _Listing:
    """The files of a log (a file, a folder or a glob) in the loader's order, and what each is read with:
    :func:`read_table` reads them here, :func:`cjlib.engine.load.read_log` on the workers."""

    files: list  # in the loader's order
    source: str  # named in errors
    kind: str  # "parquet" or "csv"
    schema: object = None  # a unified Parquet schema (files differing only in width), else None
    keys: list = field(default_factory=list)  # per file: {partition key: value} of a Hive-partitioned folder
    key_types: dict = field(default_factory=dict)  # partition key -> CategoricalDtype, as the loader types it


_HIDDEN = (".", "_")  # file names the loader (pyarrow's dataset discovery) skips


def _kind(name: str) -> str | None:
    if name.rsplit("/", 1)[-1].lower().endswith((".parquet", ".pq")):
        return "parquet"
    return "csv" if is_csv(name) else None


def _is_glob(path: str) -> bool:
    return any(ch in str(path) for ch in "*?[")


def _pieces(path: str, what: str = "events") -> _Listing:
    """The files of ``path`` (a file, a folder, a glob; local or any fsspec URL) in the loader's order."""
    import fsspec

    remote = "://" in str(path)
    fs, root = fsspec.core.url_to_fs(str(path))
    name = (lambda f: fs.unstrip_protocol(f)) if remote else str
    if _is_glob(path):
        files = [name(f) for f in sorted(fs.glob(root)) if not f.rsplit("/", 1)[-1].startswith(_HIDDEN)]
        if not files:
            raise DataError("no file matches the pattern", file=str(path), rule="file_exists")
        kinds = {_kind(f) for f in files}
        if len(kinds) > 1 or None in kinds:
            raise DataError("the pattern matches files that are not all Parquet or all CSV (.csv, .tsv, .txt, "
                            ".gz): match one kind", file=str(path), rule="file_type")
        kind = kinds.pop()
        schema = _files_schema(files, fs, remote, what=what) if kind == "parquet" else None
        return _Listing(files, str(path), kind, schema)
    if not fs.exists(root):
        raise DataError(f"{what} file not found", file=str(path), rule="file_exists")
    if not fs.isdir(root):
        kind = _kind(root)
        if kind is None:
            raise DataError(f"unsupported file type {Path(root).suffix!r}: use .csv, .parquet or a Parquet folder",
                            file=str(path), rule="file_type")
        return _Listing([name(root)], str(path), kind)
    every = [f for f in sorted(fs.find(root)) if not any(
        part.startswith(_HIDDEN) for part in f[len(root.rstrip("/")):].strip("/").split("/"))]
    if any(_kind(f) == "parquet" for f in every):
        return _hive(str(path), fs, root, name, remote, what)
    csvs = [name(f) for f in every if _kind(f) == "csv"]
    if not csvs:
        raise DataError(f"{what} folder holds no .parquet or .csv files", file=str(path), rule="empty_input")
    return _Listing(csvs, str(path), "csv")


def _hive(source: str, fs, root: str, name, remote: bool, what: str = "events") -> _Listing:
    """A Parquet folder as the loader reads it (pyarrow's dataset with Hive partitioning): its files, and
    each file's partition keys (``date=2025-01-01/``) with their types, so the workers add them as the
    loader does: categorical columns after the file's own, categories in order of first appearance."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    dataset = ds.dataset(root, filesystem=fs if remote else None, format="parquet", partitioning="hive")
    frags = list(dataset.get_fragments())
    files = [name(f.path) for f in frags]
    keys = [{k: v for k, v in ds.get_partition_keys(f.partition_expression).items() if v is not None}
            for f in frags]
    own = set(frags[0].physical_schema.names) if frags else set()
    types = {}
    for fld in (f for f in dataset.schema if f.name not in own):  # the partition keys
        seen = list(dict.fromkeys(k[fld.name] for k in keys if fld.name in k))
        types[fld.name] = pd.CategoricalDtype(pd.Index(pa.array(seen, type=fld.type).to_pandas()))
    schema = _files_schema(files, fs, remote, root, what)
    if schema is not None and types:  # the files hold no partition column: read them with their own fields
        schema = pa.schema([f for f in schema if f.name not in types])
    return _Listing(files, source, "parquet", schema, keys if types else [], types)


def _files_schema(files: list[str], fs, remote: bool, folder: str | None = None, what: str = "events"):
    """:func:`_partition_schema` of the Parquet files of a listing (schema_mismatch, widening), local or
    at a URL (``fs``: its fsspec filesystem), so a URL's files are read as a local folder's are."""
    if not remote:
        paths = [Path(f) for f in files]
        return _partition_schema(Path(folder) if folder else Path(os.path.commonpath([str(p.parent) for p in paths])),
                                 paths, what)
    inner = [fs._strip_protocol(f) for f in files]
    return _partition_schema(folder or os.path.commonpath([f.rsplit("/", 1)[0] or "/" for f in inner]), inner, what, fs)


def _is_url(path: object) -> bool:
    """Whether ``path`` is an fsspec URL (``file://``, ``s3://``, ``memory://``), read through fsspec."""
    return isinstance(path, str) and "://" in path


def _read_url(url: str, what: str, dictionary: list[str] | None, text: list[str] | None) -> tuple[pd.DataFrame, str]:
    """:func:`read_table` of an fsspec URL: its files listed as a Dask run lists them (:func:`_pieces`) and
    read as a local file, folder or glob is (the URL named in messages)."""
    import fsspec

    try:
        listing = _pieces(url, what)
        if listing.kind == "csv":
            df = _read_csv_files(listing, what, text)
        else:
            fs, root = fsspec.core.url_to_fs(url)
            opts = {"filesystem": fs, "read_dictionary": dictionary or None}
            inner = [fs._strip_protocol(f) for f in listing.files]
            if _is_glob(url):
                df = pd.read_parquet(inner, schema=listing.schema, **opts)
            elif fs.isdir(root):  # pyarrow's dataset, Hive keys and all, as a local folder is read
                df = pd.read_parquet(root, schema=_partition_schema(root, inner, what, fs), **opts)
            else:
                df = pd.read_parquet(root, **opts)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - empty, not UTF-8, corrupt or unreadable: one line
        raise _read_error(exc, what, url) from None
    return _with_rows(df, what, url), url


def _url_column_names(url: str) -> list[str] | None:
    """:func:`column_names` of an fsspec URL (``None`` when it cannot be read)."""
    import fsspec
    import pyarrow.dataset as ds

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            listing = _pieces(url)
        if listing.kind == "csv":
            first = listing.files[0]
            return _csv_header(first, _separator(first))
        fs, root = fsspec.core.url_to_fs(url)
        where = root if fs.isdir(root) and not _is_glob(url) else fs._strip_protocol(listing.files[0])
        return list(ds.dataset(where, filesystem=fs, format="parquet", partitioning="hive").schema.names)
    except Exception:  # noqa: BLE001 - missing, empty or corrupt: the loader raises the DataError
        return None


def _local_path(path: str) -> str:
    """A local path resolved here (:func:`cjlib.paths.resolve`; a relative glob from the current folder when
    it matches there, else from the project root), a URL as it is."""
    import glob

    if "://" in str(path):
        return str(path)
    if _is_glob(path):
        p = Path(path).expanduser()
        if p.is_absolute():
            return str(p)
        return str(Path.cwd() / p) if glob.glob(str(Path.cwd() / p)) else str(paths.PROJ_ROOT / p)
    return str(resolve(path))


def _csv_kinds(df: pd.DataFrame, skip=()) -> dict[str, str]:
    """The type one CSV file gave each column (but ``skip``): ``null`` when it holds no value, ``bool+null``
    for booleans with gaps (pandas reads them as objects), else the dtype's name; a file of no row gives
    no evidence (one read of every row would not see it)."""
    kinds = {}
    for c in df.columns if len(df) else ():
        if c not in skip:
            s = df[c]
            kinds[c] = "null" if s.dtype in (np.float64, object) and s.isna().all() else \
                "bool+null" if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) == "boolean" \
                else str(s.dtype)
    return kinds


def _common_types(kinds: list[dict]) -> tuple[dict, list[str]]:
    """CSV columns typed alike in every file (``kinds``: :func:`_csv_kinds` per file), as one read of all
    the rows would type them: a column empty in some files takes the others' type (integers then become
    floats, booleans objects), integers and floats become floats. Columns typed otherwise differently
    (numbers here, text there) are returned to be read as text, which is what one read of their mixed
    values gives."""
    casts, mixed = {}, []
    names = list(dict.fromkeys(c for k in kinds for c in k))
    for col in names:
        ks = [k[col] for k in kinds if col in k]  # the files holding rows
        if "bool+null" in ks:  # booleans with gaps (pandas reads them as objects)
            ks = [k for k in ks if k != "bool+null"] + ["bool", "null"]
        types = list(dict.fromkeys(k for k in ks if k != "null"))
        numeric = [t for t in types if t in ("int64", "float64")]
        if not types:
            casts[col] = "float64"
        elif len(types) == 1:
            t = types[0]
            casts[col] = t if "null" not in ks else {"int64": "float64", "bool": "object"}.get(t, t)
        elif len(numeric) == len(types):
            casts[col] = "float64"
        else:
            mixed.append(col)
    return casts, mixed


def _same_header(listing: _Listing, headers: list[list[str]]) -> None:
    """:class:`DataError` (rule ``schema_mismatch``) when the CSV files of a log name different columns."""
    first = headers[0]
    for f, cols in zip(listing.files, headers):
        if set(cols) != set(first):
            col = next(iter(sorted(set(cols) ^ set(first))))
            lacking, having = (f, listing.files[0]) if col in first else (listing.files[0], f)
            raise DataError(f"CSV files differ: column '{col}' is missing from {lacking} but present in {having}; "
                            f"write every file with the same columns", file=listing.source, column=col,
                            rule="schema_mismatch")


def _read_csv_files(listing: _Listing, what: str, text: list[str] | None) -> pd.DataFrame:
    """The CSV files of a log as one read of all their rows gives them (the rules a Dask run applies to its
    files: :func:`cjlib.engine.load.read_log`): each file read with :func:`read_csv_file` (the first
    failing file's error), the same columns in every file (``schema_mismatch``), and each column typed over
    every file (:func:`_common_types`; a column typed numbers in one file and text in another is read again
    as text). Rows in file order, on a fresh RangeIndex."""
    text = list(text or ())
    frames = [read_csv_file(f, what, text) for f in listing.files]
    _same_header(listing, [[str(c) for c in df.columns] for df in frames])
    kinds = [_csv_kinds(df, text) for df in frames]
    casts, mixed = _common_types(kinds)
    if mixed:  # the files holding such a column as numbers (or booleans) read it again as text
        again = [i for i, k in enumerate(kinds) if any(k.get(c) not in ("str", "object", "null") for c in mixed)]
        for i in again:
            frames[i] = read_csv_file(listing.files[i], what, text + mixed)
            kinds[i] = _csv_kinds(frames[i], text)
        casts, mixed = _common_types(kinds)
    frames = [df.astype({c: t for c, t in casts.items() if str(df[c].dtype) != t})
              for df in frames if len(df)] or frames[:1]  # a file of no row adds no row (nor a type)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
