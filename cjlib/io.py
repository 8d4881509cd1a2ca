"""Load and validate the inputs: events, customers, feedback, channel costs.

Every loader reads CSV, a Parquet file or a partitioned Parquet folder; maps the user's column names onto
the contract's (``columns={"customer_id": "user_pseudo_id", ...}``); validates (pandera schemas plus a few
rules pandera cannot express); and returns a new DataFrame. Bad input raises :class:`cjlib.DataError`
naming the file, the column, the rule and up to five offending rows.

Conventions of the loaded frames (documented in ``data/README.md``):

- Timestamps become timezone-naive UTC: offsets and time zones are converted to UTC and dropped; naive
  values are taken to be UTC already; integer epochs are read in s, ms, us or ns by their magnitude.
- ``event`` and ``channel`` become categoricals.
- Events end ordered by (customer, timestamp, original row order): ties keep the input order.
- Exact duplicate rows are dropped by default (``keep_duplicates=True`` keeps them); the count is warned
  about and kept in ``attrs["duplicates_dropped"]``.
- Events not named in the stage map are counted and warned about (``attrs["unknown_events"]``), not fatal.
"""

from __future__ import annotations

import functools
import json
import os
import re
import warnings
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import yaml

from cjlib import readers
from cjlib.errors import DataError, DataWarning, row_examples
from cjlib.paths import resolve
from cjlib.readers import read_ga4, read_segment  # the export formats (events_format ga4, segment)
from cjlib.reading import column_names, read_table, read_text
from cjlib.stagemap import StageMap, load_stage_map
from cjlib.timestamps import check_timestamp_format, parse_timestamps

__all__ = [
    "load_events",
    "load_customers",
    "load_feedback",
    "load_costs",
    "load_inputs",
    "events_from_frame",
    "read_ga4",
    "read_segment",
    "parse_columns",
    "ensure_sorted",
    "Inputs",
]

REQUIRED = {
    "events": ["customer_id", "timestamp", "event"],
    "customers": ["customer_id"],
    "feedback": ["customer_id", "timestamp", "score"],
    "costs": ["channel", "spend"],
}
N_EXAMPLES = 5
OPTIONS = ("timestamp_format",)  # keys of a column mapping that are options, not column names
MAX_AMOUNT = 1e15  # revenue, cost and spend must be finite and below this (in absolute value)


# ---------------------------------------------------------------------------------------------- reading
def parse_columns(columns: Mapping[str, str] | str | Path | None) -> dict:
    """Normalise a column mapping (contract name → the data's name).

    Accepts a dict, YAML/JSON text (``"{customer_id: user_pseudo_id}"``), the path of a YAML/JSON file,
    or ``None``/``""`` for no mapping. A mapping is either flat (``{"customer_id": "user_pseudo_id"}``) or
    per table (``{"events": {...}, "customers": {...}, "feedback": {...}, "costs": {...}}``);
    :func:`load_inputs` applies a flat one to each table that has the named column. The key
    ``timestamp_format`` (``dayfirst``, ``monthfirst`` or a strftime format) is an option, not a column:
    at the top level it applies to every table, inside a table's part to that table.

    Raises
    ------
    DataError
        (a ``ValueError``; rule ``column_mapping``, parameter ``columns``) Not a mapping; a per-table
        mapping naming another table; flat and per-table entries mixed; a bad ``timestamp_format``; a
        mapping file that is missing or not UTF-8 text.

    Examples
    --------
    >>> parse_columns("{customer_id: user_pseudo_id, timestamp: event_timestamp}")
    {'customer_id': 'user_pseudo_id', 'timestamp': 'event_timestamp'}
    >>> parse_columns("{events: {event: event_name}}")
    {'events': {'event': 'event_name'}}
    >>> parse_columns("{events: {event: event_name, timestamp_format: dayfirst}}")
    {'events': {'event': 'event_name', 'timestamp_format': 'dayfirst'}}
    """
    if columns is None or (isinstance(columns, str) and not columns.strip()):
        return {}
    if isinstance(columns, Mapping):
        return _checked_mapping(dict(columns), columns)
    if not isinstance(columns, (str, os.PathLike)):
        raise _mapping_error(f"columns must be a mapping as YAML/JSON text or a file, got {columns!r}")
    text, source = str(columns), None
    candidate = resolve(text) if len(text) < 4096 and "\n" not in text and ":" not in text else None
    if candidate is not None and candidate.is_file():
        text, source = read_text(candidate, "column mapping", "columns"), str(candidate)
    elif candidate is not None and candidate.suffix.lower() in {".yml", ".yaml", ".json"}:
        raise DataError("column mapping file not found", file=str(candidate), parameter="columns",
                        rule="file_exists")
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        where = "this file is not valid YAML/JSON" if source else f"got {columns!r}"
        raise _mapping_error(f"columns must be a mapping as YAML/JSON text or a file, {where}", source) from None
    if not isinstance(parsed, Mapping):
        raise _mapping_error(f"columns must be a mapping as YAML/JSON text or a file, got {columns!r}", source)
    return _checked_mapping(dict(parsed), columns, source)


def _mapping_error(message: str, file: str | None = None) -> DataError:
    """A :class:`DataError` about the ``columns`` parameter. Its text starts with the message itself, which
    names ``columns`` (the report runner prefixes "parameter 'columns':"); ``rule`` and ``parameter`` are set."""
    err = DataError(f"{message} (rule column_mapping)", file=file)
    err.rule, err.parameter = "column_mapping", "columns"
    return err


def _checked_mapping(mapping: dict, given: object, source: str | None = None) -> dict:
    """``mapping`` if it is flat (name → name) or per table (table → flat mapping), each part with valid
    options, else :class:`DataError`."""
    options = {k: _checked_option(k, mapping.pop(k), source) for k in OPTIONS if k in mapping}
    nested = [k for k, v in mapping.items() if isinstance(v, Mapping) or (v is None and k in REQUIRED)]
    if not nested:
        bad = next((k for k, v in mapping.items() if not isinstance(v, str)), None)
        if bad is not None:
            raise _mapping_error(f"columns: '{bad}' must map to a column name, got {mapping[bad]!r}", source)
        return {**mapping, **options}
    if len(nested) < len(mapping):
        flat = next(k for k in mapping if k not in nested)
        raise _mapping_error(f"columns must be either flat ({{customer_id: user_pseudo_id}}) or per table "
                             f"({{events: {{...}}, customers: {{...}}}}), not both: '{flat}' is flat, "
                             f"'{nested[0]}' is a table, in {given!r}", source)
    unknown = [k for k in nested if k not in REQUIRED]
    if unknown:
        raise _mapping_error(f"columns names the table '{unknown[0]}'; tables are {', '.join(REQUIRED)}", source)
    parts = {k: _checked_mapping(dict(v or {}), v, source) for k, v in mapping.items()}
    for k, part in parts.items():
        if any(isinstance(v, Mapping) for v in part.values()):
            raise _mapping_error(f"columns: the '{k}' part must be flat (contract name: your column name)", source)
    return {**parts, **options}


def _checked_option(key: str, value: object, source: str | None) -> str | None:
    try:
        return check_timestamp_format(value)
    except DataError as exc:
        raise _mapping_error(f"columns: {exc.message}", source) from None


def _is_per_table(columns: Mapping) -> bool:
    tables = [v for k, v in columns.items() if k not in OPTIONS]
    return bool(tables) and all(isinstance(v, Mapping) for v in tables)


def _table_mapping(columns: Mapping, table: str, present: list[str] | None = None) -> dict[str, str]:
    """The part of a (flat or per-table) mapping that applies to ``table``, options included.

    With ``present`` (the table's column names), a flat mapping keeps only the entries whose column the
    table has; a per-table mapping is used as it is (each of its entries must name a column). Options at
    the top level apply to every table unless its part sets them.
    """
    options = {k: v for k, v in columns.items() if k in OPTIONS and v is not None}
    if _is_per_table(columns):
        return {**options, **(columns.get(table) or {})}
    if present is None:
        return dict(columns)
    return {k: v for k, v in columns.items() if v in present or k in OPTIONS}


def _split_options(mapping: Mapping) -> tuple[dict[str, str], dict[str, str]]:
    """(renames, options) of one table's mapping."""
    return ({k: v for k, v in mapping.items() if k not in OPTIONS},
            {k: v for k, v in mapping.items() if k in OPTIONS and v is not None})


def _rename(df: pd.DataFrame, mapping: Mapping[str, str], file: str) -> pd.DataFrame:
    """Rename the data's columns to the contract's; every entry must name a column of ``df``."""
    if not mapping:
        return df
    missing = {k: v for k, v in mapping.items() if v not in df.columns}
    if missing:
        k, v = next(iter(missing.items()))
        raise DataError(
            f"the column mapping names '{v}' for '{k}', but the data has no such column "
            f"(columns: {', '.join(map(str, df.columns[:12]))})",
            file=file,
            column=k,
            rule="missing_column",
        )
    clash = [k for k, v in mapping.items() if k != v and k in df.columns and k not in mapping.values()]
    if clash:
        raise DataError(f"the column mapping renames '{mapping[clash[0]]}' to '{clash[0]}', but the data "
                        f"already has a '{clash[0]}' column", file=file, column=clash[0], rule="duplicate_column")
    return df.rename(columns={v: k for k, v in mapping.items()})


def _examples(df: pd.DataFrame, mask: np.ndarray | pd.Series, cols: list[str] | None = None) -> list[str]:
    return row_examples(df, mask, cols, N_EXAMPLES)


def _require(df: pd.DataFrame, table: str, file: str) -> None:
    for col in REQUIRED[table]:
        if col not in df.columns:
            raise DataError(
                f"required column is missing (columns present: {', '.join(map(str, df.columns[:12]))})",
                file=file,
                column=col,
                rule="missing_column",
            )


# ------------------------------------------------------------------------------------------- timestamps
def _to_utc_naive(raw: pd.Series, file: str, column: str, timestamp_format: str | None = None) -> pd.Series:
    """Parse a timestamp column to timezone-naive UTC (:func:`cjlib.timestamps.parse_timestamps`: one
    day/month order per column); unparseable or ambiguous values raise :class:`DataError`."""
    return parse_timestamps(raw, timestamp_format=timestamp_format, file=file, column=column)


# ------------------------------------------------------------------------------------------- validation
def _schema(table: str) -> pa.DataFrameSchema:
    not_null = {c: pa.Column(nullable=False, required=True) for c in REQUIRED[table]}

    def amount(name: str, nullable: bool) -> pa.Column:  # ≥ 0, finite and below MAX_AMOUNT
        checks = [pa.Check.ge(0, error=f"non_negative_{name}"), pa.Check.lt(MAX_AMOUNT, error=f"finite_{name}")]
        return pa.Column(float, checks, nullable=nullable, required=not nullable, coerce=True)

    if table == "events":
        not_null["revenue"] = amount("revenue", True)
        not_null["cost"] = amount("cost", True)
    elif table == "feedback":
        not_null["score"] = pa.Column(float, pa.Check(lambda v: np.isfinite(v), error="finite_score"),
                                      nullable=False, coerce=True)
    elif table == "costs":
        not_null["spend"] = amount("spend", False)
    return pa.DataFrameSchema(not_null, name=table)


_RULES = {"not_nullable": "not_null", "coerce_dtype": "numeric", "dtype": "numeric"}


def _validate(df: pd.DataFrame, table: str, file: str) -> pd.DataFrame:
    """Run the table's pandera schema; turn the first failure into a one-line :class:`DataError`."""
    try:
        return _schema(table).validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
        first = fc.iloc[0]
        column = first["column"] if isinstance(first["column"], str) else None
        check = str(first["check"])
        rule = _RULES.get(check.split("(")[0], check.split("(")[0])
        n = int((fc["column"] == first["column"]).sum()) if column else len(fc)
        index = fc.loc[fc["column"] == first["column"], "index"].dropna()
        mask = df.index.isin(index.astype(int).tolist()) if len(index) else np.zeros(len(df), bool)
        what = {
            "not_null": "value(s) are missing",
            "numeric": "value(s) are not numbers",
            "non_negative_revenue": "value(s) are negative (revenue must be ≥ 0)",
            "non_negative_cost": "value(s) are negative (cost must be ≥ 0)",
            "non_negative_spend": "value(s) are negative (spend must be ≥ 0)",
            "finite_revenue": f"value(s) are infinite or absurd (revenue must be below {MAX_AMOUNT:.0e})",
            "finite_cost": f"value(s) are infinite or absurd (cost must be below {MAX_AMOUNT:.0e})",
            "finite_spend": f"value(s) are infinite or absurd (spend must be below {MAX_AMOUNT:.0e})",
            "finite_score": "value(s) are infinite",
        }.get(rule, f"value(s) fail {check}")
        raise DataError(f"{n:,} {what}", file=file, column=column, rule=rule,
                        examples=_examples(df, mask, list(dict.fromkeys(REQUIRED[table] + ([column] if column else []))))) from None


def _duplicated(df: pd.DataFrame) -> np.ndarray:
    """``df.duplicated()`` (later copies of an exact duplicate row) for events in the loader's order.

    Exact copies share customer and timestamp, so in (customer, timestamp) order they sit in runs of
    tied rows: only rows tied with a neighbour are candidates. Among those, a 64-bit row hash narrows
    the candidates, and only rows whose hashes collide are compared exactly.
    """
    n = len(df)
    ts = df["timestamp"].to_numpy()
    tie = ~neighbours_differ(df["customer_id"]) & (ts[1:] == ts[:-1])
    cand = np.zeros(n, dtype=bool)
    cand[1:] |= tie
    cand[:-1] |= tie
    dup = np.zeros(n, dtype=bool)
    rows = np.flatnonzero(cand)
    if len(rows):
        h = pd.util.hash_pandas_object(df.iloc[rows], index=False).to_numpy()
        rows = rows[pd.Series(h).duplicated(keep=False).to_numpy()]
        dup[rows] = df.iloc[rows].duplicated(keep="first").to_numpy()
    return dup


def _dedupe(df: pd.DataFrame, keep_duplicates: bool, file: str) -> pd.DataFrame:
    dup = _duplicated(df)
    n = int(dup.sum())
    if n and not keep_duplicates:
        warnings.warn(f"{file}: dropped {n:,} exact duplicate row(s) (keep_duplicates=True keeps them)",
                      DataWarning, stacklevel=3)
        df = df.loc[~dup].reset_index(drop=True)
    df.attrs["duplicates"] = n
    df.attrs["duplicates_dropped"] = 0 if keep_duplicates else n
    return df


def _arrow(values: pd.Series):
    """The pyarrow array behind an Arrow-backed Series (pandas' default ``str``), else ``None``."""
    return getattr(values.array, "_pa_array", None)


# [weak reference to an Arrow array, its neighbours_differ, whether it is non-decreasing (None: not asked)]
_ID_STRUCTURE: list[list] = []
_ID_STRUCTURE_SIZE = 64  # a Dask worker holds several partitions, each with its own id array


def _arrow_structure(arr, order: bool = False) -> tuple[np.ndarray, bool | None]:
    """``(arr[i + 1] != arr[i], arr is non-decreasing)`` for a null-free Arrow array, memoized.

    Arrow arrays are immutable, so the answer for one array object never changes; the most recent answers
    (up to ``_ID_STRUCTURE_SIZE``) are kept by weak reference (the loader computes them, so every analysis
    on a loaded log skips the string comparisons). Order is worked out only when ``order`` asks for it, and
    only where neighbours differ.
    """
    _ID_STRUCTURE[:] = [e for e in _ID_STRUCTURE if e[0]() is not None]
    entry = next((e for e in _ID_STRUCTURE if e[0]() is arr), None)
    if entry is None:
        import pyarrow.compute as pc

        n = len(arr)
        differ = pc.not_equal(arr.slice(1), arr.slice(0, n - 1)).to_numpy(zero_copy_only=False)
        differ.flags.writeable = False
        entry = [weakref.ref(arr), differ, None]
        _ID_STRUCTURE.insert(0, entry)
        del _ID_STRUCTURE[_ID_STRUCTURE_SIZE:]
    if order and entry[2] is None:
        import pyarrow.compute as pc

        at = np.flatnonzero(entry[1])
        entry[2] = not pc.any(pc.less(arr.take(at + 1), arr.take(at))).as_py() if len(at) else True
    return entry[1], entry[2]


def neighbours_differ(values: pd.Series) -> np.ndarray:
    """``values[i + 1] != values[i]`` for each i, as a bool array of length ``len(values) - 1``.

    Arrow-backed strings are compared by Arrow's vectorized kernels, ten times faster than hashing them,
    and the answer is memoized per (immutable) Arrow array. The result may be read-only.
    """
    n = len(values)
    if n < 2:
        return np.zeros(0, dtype=bool)
    arr = _arrow(values)
    if arr is not None and arr.null_count == 0:
        return _arrow_structure(arr)[0]
    v = values.to_numpy()
    return v[1:] != v[:-1]


def _is_sorted(events: pd.DataFrame) -> bool:
    """Whether rows are ordered by (customer_id, timestamp) with a 0..n-1 RangeIndex (one linear pass)."""
    idx = events.index
    if not (isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1):
        return False
    ids = events["customer_id"]
    if len(ids) < 2:
        return True
    arr = _arrow(ids)
    if arr is not None:
        if arr.null_count:
            return False
        differ, ascending = _arrow_structure(arr, order=True)
        if not ascending:
            return False
    else:
        if ids.isna().any():
            return False
        v = ids.to_numpy()
        try:
            if (v[1:] < v[:-1]).any():
                return False
        except TypeError:  # ids of mixed types: let the sort decide
            return False
        differ = v[1:] != v[:-1]
    ts = events["timestamp"].to_numpy()
    return not ((ts[1:] < ts[:-1]) & ~differ).any()


def ensure_sorted(events: pd.DataFrame) -> pd.DataFrame:
    """Return ``events`` ordered by (customer_id, timestamp, current row order) with a fresh RangeIndex.

    Stable: rows with equal customer and timestamp keep their order. Returns the frame itself when it
    is already in that order (checked in one linear pass, without sorting).
    """
    if _is_sorted(events):
        return events
    cust_codes, uniques = pd.factorize(events["customer_id"], sort=False)
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[pd.Index(uniques).argsort()] = np.arange(len(uniques))  # each customer's place in sorted order
    order = np.lexsort((events["timestamp"].to_numpy(), rank[cust_codes]))  # stable: ties keep row order
    attrs = dict(events.attrs)
    out = events.iloc[order].reset_index(drop=True)
    out.attrs.update(attrs)
    return out


def categories_used(values: pd.Series) -> np.ndarray:
    """For a categorical Series, whether each of its categories occurs (a bool per category; missing
    values count for none), without hashing the rows."""
    n_cats = len(values.cat.categories)
    codes = values.cat.codes.to_numpy()
    if codes.dtype.itemsize <= 2:  # count codes directly; -1 (missing) lands past the categories
        return np.bincount(codes.view(f"u{codes.dtype.itemsize}"), minlength=n_cats)[:n_cats] > 0
    used = np.zeros(n_cats, dtype=bool)
    u = pd.unique(codes)
    used[u[u >= 0]] = True
    return used


def _as_category(values: pd.Series) -> pd.Series:
    """``values.astype("category")``: categories sorted, only values present. A column the reader already
    dictionary-encoded is re-ordered through its (few) categories instead of re-encoding every row."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype("category")
    cats = values.cat.categories
    codes = values.cat.codes.to_numpy()
    used = categories_used(values)
    try:
        keep = cats[used].sort_values()
    except TypeError:  # categories of mixed types
        return values.astype(object).astype("category")
    if keep.equals(cats):
        return values
    lut = np.full(len(cats) + 1, -1, dtype=codes.dtype)  # the last slot maps code -1 to -1
    lut[cats.get_indexer(keep)] = np.arange(len(keep))
    cat = pd.Categorical.from_codes(lut[codes], dtype=pd.CategoricalDtype(keep), validate=False)
    return pd.Series(cat, index=values.index, name=values.name)


# ---------------------------------------------------------------------------------------------- loaders
def load_events(
    path: str | Path,
    columns: Mapping[str, str] | str | None = None,
    *,
    stage_map: StageMap | None = None,
    keep_duplicates: bool = False,
    timestamp_format: str | None = None,
) -> pd.DataFrame:
    """Load and validate an event log.

    Parameters
    ----------
    path : str or Path
        CSV, Parquet file or Parquet folder; a relative path is taken from the current directory when
        it exists there, else from the project root (:func:`cjlib.paths.resolve`).
    columns : dict or str, optional
        Contract name → the data's column name (``{"customer_id": "user_pseudo_id"}``), or the same as
        YAML/JSON text or a file; each entry must name a column of the file. Of a per-table mapping only
        the ``events`` part is used. Its ``timestamp_format`` key is read like the keyword.
    stage_map : StageMap, optional
        Used to count events it does not name (default: ``data/stage_map.yml``).
    keep_duplicates : bool, default False
        Keep exact duplicate rows instead of dropping them.
    timestamp_format : str, optional
        ``"dayfirst"``, ``"monthfirst"`` or a strftime format (``"%d/%m/%Y %H:%M:%S"``) for text
        timestamps; by default a ``dd/mm/yyyy``-like column takes the one order its values prove (a day
        above 12) and stops with :class:`DataError` when they prove none or both.

    Returns
    -------
    DataFrame
        ``customer_id``, ``timestamp`` (naive UTC), ``event`` and ``channel`` (categoricals), ``revenue``
        (float) and any other columns, ordered by (customer, timestamp, input order), RangeIndex.

    Raises
    ------
    DataError
        Missing, empty or unreadable file (not UTF-8, a repeated header, Parquet partitions that
        differ), missing required column, null id or event, unparseable or ambiguous timestamp, negative,
        infinite or absurd revenue or cost.
    """
    mapping, options = _split_options(_table_mapping(parse_columns(columns), "events"))
    fmt = check_timestamp_format(timestamp_format) or options.get("timestamp_format")
    df, file = read_table(path, "events", dictionary=[mapping.get(c, c) for c in ("event", "channel")],
                          text=[mapping.get(c, c) for c in ("customer_id", "session_id")])
    return events_from_frame(df, file, mapping, stage_map=stage_map, keep_duplicates=keep_duplicates,
                             timestamp_format=fmt)


def events_from_frame(df: pd.DataFrame, file: str, mapping: Mapping[str, str] | None = None, *,
                      stage_map: StageMap | None = None, keep_duplicates: bool = False,
                      timestamp_format: str | None = None, replace: bool = False) -> pd.DataFrame:
    """The validation of :func:`load_events` on a frame already read from ``file`` (the readers of
    :mod:`cjlib.readers` hand their flattened exports to it).

    ``mapping`` (contract name → the frame's column, options removed) renames columns first; with
    ``replace=True`` an entry naming a contract column the frame already has replaces it (``{channel:
    medium}`` on a flattened export uses the raw medium as the channel). Raises what :func:`load_events`
    raises, naming ``file``.
    """
    mapping = dict(mapping or {})
    fmt = timestamp_format
    if replace:
        df = df.drop(columns=[k for k, v in mapping.items() if k != v and k in df.columns and v in df.columns])
    df = _rename(df, mapping, file)
    _require(df, "events", file)
    df = _validate(df, "events", file)
    df = df.assign(timestamp=_to_utc_naive(df["timestamp"], file, "timestamp", fmt))
    cats = {c: _as_category(df[c]) for c in ("event", "channel") if c in df.columns}
    if "customer_id" in df.columns and df["customer_id"].dtype == object:
        cats["customer_id"] = df["customer_id"].astype(str)
    attrs = dict(df.attrs)
    df = ensure_sorted(df.assign(**cats).reset_index(drop=True))  # stable, so duplicates keep input order
    df = _dedupe(df, keep_duplicates, file)
    df.attrs.update(attrs, source=file)
    sm = stage_map or load_stage_map()
    counts = df["event"].value_counts(sort=False)
    unknown = counts[~counts.index.isin(list(sm.known_events)) & (counts > 0)]
    df.attrs["unknown_events"] = {str(k): int(v) for k, v in unknown.sort_values(ascending=False).items()}
    if len(unknown):
        names = ", ".join(list(df.attrs["unknown_events"])[:5])
        warnings.warn(
            f"{file}: {int(unknown.sum()):,} event(s) of {len(unknown)} name(s) not in the stage map "
            f"({names}); they count as activity but belong to no stage",
            DataWarning,
            stacklevel=2,
        )
    return df


def _load_simple(path, columns, table: str, ts_cols: tuple[str, ...] = (),
                 timestamp_format: str | None = None) -> pd.DataFrame:
    mapping, options = _split_options(_table_mapping(parse_columns(columns), table))
    fmt = check_timestamp_format(timestamp_format) or options.get("timestamp_format")
    df, file = read_table(path, table, text=[mapping.get("customer_id", "customer_id")])
    df = _rename(df, mapping, file)
    _require(df, table, file)
    df = _validate(df, table, file)
    for col in ts_cols:
        if col in df.columns:
            df = df.assign(**{col: _to_utc_naive(df[col], file, col, fmt)})
    df = df.reset_index(drop=True)
    df.attrs["source"] = file
    return df


def load_customers(path: str | Path, columns: Mapping[str, str] | str | None = None, *,
                   timestamp_format: str | None = None) -> pd.DataFrame:
    """Load customer attributes: ``customer_id`` (unique) plus any attributes.

    Date-like attribute ``signup_date`` is parsed to naive UTC (``timestamp_format`` as in
    :func:`load_events`). Raises :class:`DataError` on a missing id column, null ids or duplicate ids.
    """
    df = _load_simple(path, columns, "customers", ("signup_date",), timestamp_format)
    dup = df["customer_id"].duplicated(keep=False).to_numpy()
    if dup.any():
        raise DataError(f"{int(df['customer_id'][dup].nunique()):,} customer id(s) appear more than once",
                        file=df.attrs["source"], column="customer_id", rule="unique",
                        examples=_examples(df, dup, ["customer_id"]))
    return df


def load_feedback(path: str | Path, columns: Mapping[str, str] | str | None = None, *,
                  timestamp_format: str | None = None) -> pd.DataFrame:
    """Load satisfaction feedback: ``customer_id``, ``timestamp``, ``score`` (+ ``scale``, ``stage``, …).

    ``scale`` is ``"csat"`` (1–5) or ``"nps"`` (0–10); without it every score is taken as CSAT. Scores
    outside their scale's range (or infinite) raise :class:`DataError`. ``timestamp_format`` as in
    :func:`load_events`.
    """
    df = _load_simple(path, columns, "feedback", ("timestamp",), timestamp_format)
    if "scale" not in df.columns:
        df = df.assign(scale="csat")
    scale = df["scale"].astype(str).str.lower()
    lo = np.where(scale == "nps", 0, 1)
    hi = np.where(scale == "nps", 10, 5)
    bad = ~((df["score"] >= lo) & (df["score"] <= hi)).to_numpy()
    if bad.any():
        raise DataError(f"{int(bad.sum()):,} score(s) outside their scale (csat 1–5, nps 0–10)",
                        file=df.attrs["source"], column="score", rule="score_range",
                        examples=_examples(df, bad, ["customer_id", "score", "scale"]))
    out = df.assign(scale=scale)
    out.attrs.update(df.attrs)
    return out


def load_costs(path: str | Path, columns: Mapping[str, str] | str | None = None) -> pd.DataFrame:
    """Load channel costs: ``channel``, ``spend`` (≥ 0, finite, below 1e15), optional ``period``.

    ``period`` is the month the spend belongs to: ``YYYY-MM``, ``YYYY/MM``, a date ``YYYY-MM-DD`` or a
    date/time column; it becomes ``YYYY-MM`` text. Any other value (a missing one included) raises
    :class:`DataError` (rule ``period_format``) naming the rows.
    """
    df = _load_simple(path, columns, "costs")
    if "period" not in df.columns:
        return df
    out = df.assign(period=_month_text(df["period"], df))
    out.attrs.update(df.attrs)
    return out


_MONTH = r"^\s*(\d{4})[-/](0[1-9]|1[0-2])(?:[-/](0[1-9]|[12]\d|3[01])(?:[ T].*)?)?\s*$"


def _month_text(period: pd.Series, df: pd.DataFrame) -> pd.Series:
    """``period`` as ``YYYY-MM`` text, or :class:`DataError` naming the rows that are no month."""
    if isinstance(period.dtype, (pd.DatetimeTZDtype, pd.PeriodDtype)) or pd.api.types.is_datetime64_dtype(
            period.dtype):
        months = period.dt.strftime("%Y-%m").astype("str")
        bad = months.isna().to_numpy()
    else:
        parts = period.astype("string").str.extract(_MONTH)
        months = (parts[0] + "-" + parts[1]).astype("str")
        bad = parts[0].isna().to_numpy()
    if bad.any():
        raise DataError(f"{int(bad.sum()):,} period value(s) are no month: use YYYY-MM (2025-01) or a date "
                        f"(2025-01-31)", file=df.attrs["source"], column="period", rule="period_format",
                        examples=_examples(df, bad, ["channel", "period", "spend"]))
    return months


# -------------------------------------------------------------------------------------------- all inputs
@dataclass(frozen=True)
class Inputs:
    """Everything a notebook reads; optional tables are ``None`` when switched off."""

    events: pd.DataFrame
    customers: pd.DataFrame | None
    feedback: pd.DataFrame | None
    costs: pd.DataFrame | None
    stage_map: StageMap
    stitching: readers.Stitching | None = None  # what identity stitching did (events_format ga4 or segment), else None

    @property
    def stitched_ids(self) -> int | None:
        """Anonymous ids whose events joined a known customer (:class:`cjlib.readers.Stitching`); ``None``
        for a plain table, which is not stitched."""
        return None if self.stitching is None else self.stitching.stitched_ids

    @property
    def date_range(self) -> tuple[str, str]:
        """First and last event time, ISO formatted."""
        ts = self.events["timestamp"]
        return ts.min().isoformat(), ts.max().isoformat()

    @functools.cached_property
    def profile(self):
        """The :class:`cjlib.DataProfile` of these inputs, computed on first use (see :mod:`cjlib.profiling`)."""
        from cjlib.profiling import profile

        return profile(self)

    def summary(self) -> dict:
        """Counts of what was loaded (for findings and metrics)."""
        return {
            "events": len(self.events),
            "customers": int(self.events["customer_id"].nunique()),
            "first_event": self.date_range[0],
            "last_event": self.date_range[1],
            "has_customers": self.customers is not None,
            "has_feedback": self.feedback is not None,
            "has_costs": self.costs is not None,
            "has_channel": "channel" in self.events.columns,
        }


def _parse_date(value: object, name: str) -> pd.Timestamp | None:
    """``start_date``/``end_date`` as naive UTC (``None`` for ``""``); ISO 8601 only, so ``01/02/2025`` is
    never read one way or the other; else :class:`DataError` (rule ``parseable_date``) naming the parameter."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    ts = None
    if isinstance(value, str) and re.match(r"^\s*\d{4}-\d{2}(-\d{2})?([ T]|$)", value):
        try:
            ts = pd.Timestamp(value.strip())
        except (ValueError, TypeError, OverflowError):
            ts = None
    elif isinstance(value, (pd.Timestamp, np.datetime64)) or hasattr(value, "isoformat"):
        ts = pd.Timestamp(value)
    if ts is None or pd.isna(ts):
        raise DataError(f"must be a date like 2025-01-31 (ISO 8601), got {value!r}", parameter=name,
                        rule="parseable_date")
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts


def load_inputs(
    *,
    events_path: str,
    customers_path: str = "",
    feedback_path: str = "",
    costs_path: str = "",
    columns: Mapping | str | None = None,
    stage_map_path: str = "",
    start_date: str = "",
    end_date: str = "",
    timestamp_format: str | None = None,
    events_format: str = "table",
    channel_rules: str | Path | None = None,
) -> Inputs:
    """Load every input a notebook uses, from the shared notebook parameters.

    Parameters
    ----------
    events_path : str
        The event log (CSV, Parquet file or folder).
    customers_path, feedback_path, costs_path : str, optional
        The optional tables; ``""`` switches one off (``None``).
    columns : dict or str, optional
        Contract name → the data's column name, as a dict, YAML/JSON text or a file (see
        :func:`parse_columns`). Per table (``{"events": {...}, "customers": {...}, "feedback": {...},
        "costs": {...}}``) each part applies to its table and must name columns it has. Flat
        (``{"customer_id": "user_pseudo_id"}``) an entry applies to each loaded table that has the
        column, so an identity entry is a no-op; an entry no loaded table has raises :class:`DataError`.
    stage_map_path : str, optional
        The stage map (default ``data/stage_map.yml``).
    start_date, end_date : str, optional
        Keep events and feedback with ``start_date <= timestamp < end_date`` (ISO 8601 dates;
        ``start_date`` must come before ``end_date``).
    timestamp_format : str, optional
        For every table whose part of ``columns`` sets none (see :func:`load_events`).
    events_format : {"table", "ga4", "segment"}, default "table"
        How ``events_path`` is written: a table of the contract (CSV/Parquet), a GA4 BigQuery export or a
        Segment / RudderStack export (read by :func:`cjlib.readers.load_export`: flattened, identities
        stitched, channels by GA4's default channel group). For an export, the ``events`` part of
        ``columns`` applies to the flattened columns (:data:`cjlib.readers.COLUMNS`), after flattening.
    channel_rules : str or Path, optional
        A channel rules file for the export readers (:func:`cjlib.channels.load_rules`); default GA4's
        default channel group.

    Returns
    -------
    Inputs
        ``stitching`` (:class:`cjlib.readers.Stitching`) counts the ids stitching joined for an export
        (``Inputs.stitched_ids``), ``None`` for a table.
        ``feedback.attrs["unmatched_stages"]`` counts feedback rows whose ``stage`` names no stage of
        the map (warned about: :func:`cjlib.scorecard.feedback_stages` drops them). When the tables type
        ``customer_id`` differently (integers in one, text in another), every table's ids become text,
        so ``1`` meets ``"1"``.

    Raises
    ------
    DataError
        Any loader's; also an empty ``events_path`` (rule ``file_exists``), a bad ``start_date`` or
        ``end_date`` (``parseable_date``) or one after the other (``date_range``), a log none of whose
        event names is in the stage map (``known_events``). Dates are checked
        before any file is read. Cost channels the events never name, and customer tables sharing no
        id with the events, are warned about (:class:`DataWarning`).

    Relative paths are taken from the current directory when they exist there, else from the project
    root (:func:`cjlib.paths.resolve`).
    """
    if events_path is None or (isinstance(events_path, str) and not events_path.strip()):
        raise DataError("events_path is required: the event log to read (CSV, Parquet file or folder)",
                        parameter="events_path", rule="file_exists")
    start, end = _parse_date(start_date, "start_date"), _parse_date(end_date, "end_date")
    if start is not None and end is not None and start >= end:
        raise DataError(f"start_date {start_date!r} must come before end_date {end_date!r}",
                        parameter="start_date", rule="date_range")
    timestamp_format = check_timestamp_format(timestamp_format)
    events_format = readers.check_format(events_format)
    files = {t: p for t, p in (("events", events_path), ("customers", customers_path),
                               ("feedback", feedback_path), ("costs", costs_path)) if p}
    parts = _mapping_parts(parse_columns(columns), files,
                           None if events_format == "table" else list(readers.COLUMNS))
    fmt = {t: parts[t].get("timestamp_format") or timestamp_format for t in parts}
    stage_map = load_stage_map(stage_map_path or None)
    stitching = None
    if events_format == "table":
        events = load_events(events_path, parts["events"], stage_map=stage_map, timestamp_format=fmt["events"])
    else:
        export = readers.load_export(events_path, events_format, _split_options(parts["events"])[0],
                                     rules=channel_rules or None, stage_map=stage_map)
        events, stitching = export.events, export.stitching
    _check_known_events(events, stage_map)
    customers = load_customers(customers_path, parts["customers"],
                               timestamp_format=fmt["customers"]) if customers_path else None
    feedback = load_feedback(feedback_path, parts["feedback"],
                             timestamp_format=fmt["feedback"]) if feedback_path else None
    costs = load_costs(costs_path, parts["costs"]) if costs_path else None
    events, customers, feedback = _common_ids(events, customers, feedback)
    if costs is not None:
        _warn_unknown_cost_channels(costs, events)
    if start is not None or end is not None:
        events = _between(events, start, end)
        if len(events) == 0:
            raise DataError(f"no events between start_date={start_date!r} and end_date={end_date!r}",
                            file=events.attrs.get("source"), column="timestamp", rule="empty_input")
        feedback = _between(feedback, start, end) if feedback is not None else None
    if feedback is not None:
        feedback.attrs["unmatched_stages"] = _unmatched_stages(feedback, stage_map)
    return Inputs(events, customers, feedback, costs, stage_map, stitching)


def _check_known_events(events: pd.DataFrame, stage_map: StageMap) -> None:
    """:class:`DataError` (rule ``known_events``) when no event name of the log is in the stage map: the
    map (or the ``event`` column mapped) does not describe this log, and every report would be empty."""
    unknown = events.attrs.get("unknown_events", {})
    names = int(categories_used(events["event"]).sum()) if isinstance(events["event"].dtype, pd.CategoricalDtype) \
        else int(events["event"].nunique())
    if names and len(unknown) >= names:
        seen = ", ".join(map(repr, list(unknown)[:5]))
        known = ", ".join(map(repr, sorted(stage_map.known_events)[:8]))
        raise DataError(f"none of the {names} event names in the log is in the stage map {stage_map.source} "
                        f"(the log has {seen}; the map names {known}, …): give the map of this log "
                        f"(stage_map_path) or map your event column (columns: {{events: {{event: ...}}}})",
                        file=events.attrs.get("source"), column="event", rule="known_events")


def _id_text(ids: pd.Series) -> pd.Series:
    """Customer ids as text: integers (and floats holding integers) without a decimal point."""
    if pd.api.types.is_float_dtype(ids.dtype) and bool(((ids.dropna() % 1) == 0).all()):
        ids = ids.astype("Int64")
    return ids.astype("str")


def _common_ids(events: pd.DataFrame, *others: pd.DataFrame | None) -> tuple:
    """``events`` and the other tables with one representation of ``customer_id``: as loaded when every
    table types it alike (all numbers or all text), else as text everywhere (events re-sorted). A
    customers table sharing no id with the events is warned about."""
    tables = [events, *others]

    def numeric(df: pd.DataFrame) -> bool:
        dt = df["customer_id"].dtype
        return pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt)

    kinds = {numeric(df) for df in tables if df is not None}
    if len(kinds) > 1:
        tables = [None if df is None else _with_ids(df, _id_text(df["customer_id"])) for df in tables]
        tables[0] = ensure_sorted(tables[0])
    customers = tables[1] if len(tables) > 1 else None
    if customers is not None and len(customers) and not customers["customer_id"].isin(
            pd.unique(tables[0]["customer_id"])).any():
        ev_ids = ", ".join(map(repr, pd.unique(tables[0]["customer_id"])[:3]))
        cu_ids = ", ".join(map(repr, customers["customer_id"].head(3)))
        warnings.warn(f"{customers.attrs.get('source', 'customers')}: no customer_id matches an event's "
                      f"(events: {ev_ids}, …; customers: {cu_ids}, …); customer attributes attach to no one",
                      DataWarning, stacklevel=3)
    return tuple(tables)


def _with_ids(df: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    out = df.assign(customer_id=ids)
    out.attrs.update(df.attrs)
    return out


def _warn_unknown_cost_channels(costs: pd.DataFrame, events: pd.DataFrame) -> None:
    """Warn, naming them, about cost channels that no event has (their spend buys no visit)."""
    if "channel" not in events.columns:
        return
    seen = set(map(str, pd.unique(events["channel"].dropna())))
    unknown = sorted({str(c) for c in pd.unique(costs["channel"].dropna())} - seen)
    if unknown:
        warnings.warn(f"{costs.attrs.get('source', 'costs')}: {len(unknown)} cost channel(s) appear in no "
                      f"event ({', '.join(map(repr, unknown[:5]))}{', …' if len(unknown) > 5 else ''}); "
                      f"their spend buys no visit in the data", DataWarning, stacklevel=3)


def _between(df: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp | None) -> pd.DataFrame:
    """Rows with ``start <= timestamp < end`` (either bound may be ``None``), attrs kept."""
    m = np.ones(len(df), bool)
    if start is not None:
        m &= (df["timestamp"] >= start).to_numpy()
    if end is not None:
        m &= (df["timestamp"] < end).to_numpy()
    out = df.loc[m].reset_index(drop=True)
    out.attrs.update(df.attrs)
    return out


def _mapping_parts(mapping: dict, files: Mapping[str, str],
                   events_columns: list[str] | None = None) -> dict[str, dict[str, str]]:
    """Each table's part of the column mapping (see :func:`load_inputs`).

    A flat entry that no loaded table has raises :class:`DataError` before anything is loaded, naming
    the entry and each table's columns, so a typo is caught. ``events_columns``: the columns an export
    reader gives (the events file's own fields are not what the mapping names).
    """
    tables = ("events", "customers", "feedback", "costs")
    if _is_per_table(mapping) or not mapping:
        return {t: _table_mapping(mapping, t) for t in tables}
    present = {t: events_columns if t == "events" and events_columns else column_names(p) for t, p in files.items()}
    if all(cols is not None for cols in present.values()):
        unused = [k for k, v in mapping.items()
                  if k not in OPTIONS and not any(v in cols for cols in present.values())]
        if unused:
            k = unused[0]
            have = "; ".join(f"{resolve(files[t]).name}: {', '.join(cols[:12])}" for t, cols in present.items())
            raise DataError(f"the column mapping names '{mapping[k]}' for '{k}', but no input has such a "
                            f"column ({have})", file=", ".join(str(resolve(p)) for p in files.values()),
                            column=k, rule="missing_column")
    return {t: _table_mapping(mapping, t, present.get(t)) for t in tables}


def _unmatched_stages(feedback: pd.DataFrame, stage_map: StageMap) -> int:
    """Count feedback rows whose ``stage`` is not a stage of the map, and warn about them with examples."""
    if "stage" not in feedback.columns:
        return 0
    stage = feedback["stage"].dropna().astype(str)
    other = stage[~stage.isin(stage_map.stage_names)]
    if len(other):
        top = other.value_counts().sort_index(kind="stable").sort_values(ascending=False, kind="stable")
        examples = ", ".join(f"{v!r} ({n:,})" for v, n in top.head(N_EXAMPLES).items())
        warnings.warn(
            f"{feedback.attrs.get('source', 'feedback')}: {len(other):,} of {len(feedback):,} feedback row(s) "
            f"have a stage that is no stage of the stage map ({examples}); the map's stages are "
            f"{', '.join(stage_map.stage_names)}; these rows count in no stage's satisfaction",
            DataWarning,
            stacklevel=3,
        )
    return int(len(other))


def read_json_or_yaml(text: str) -> object:
    """Parse a parameter given as JSON or YAML text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return yaml.safe_load(text)
