"""One loader per table: events, customers, feedback, costs."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from cjlib.errors import DataError, DataWarning
from cjlib.io.columns import _rename, _split_options, _table_mapping, parse_columns
from cjlib.io.order import _as_category, ensure_sorted
from cjlib.io.schema import _dedupe, _examples, _require, _to_utc_naive, _validate
from cjlib.reading import read_table
from cjlib.stagemap import StageMap, load_stage_map
from cjlib.timestamps import check_timestamp_format


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
        CSV, Parquet file or Parquet folder, a folder or glob of CSV files, or an fsspec URL to one
        (``file://…``, ``s3://…``); a relative path is taken from the current directory when it exists
        there, else from the project root (:func:`cjlib.paths.resolve`).
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
        above 12) and stops with :class:`DataError` when they prove none or both. Integer epochs take one
        unit (s, ms, us or ns by magnitude) and stop when their values fall in two units' ranges.

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
    out = events_from_frame(df, file, mapping, stage_map=stage_map, keep_duplicates=keep_duplicates,
                            timestamp_format=fmt)
    del df
    _release_arrow_memory()
    return out


def _release_arrow_memory() -> None:
    """Hand the memory Arrow's allocator kept after the read back to the operating system.

    Reading Parquet decodes every column into Arrow buffers; the numeric ones are then copied into pandas
    and their buffers freed, but Arrow's pool (mimalloc) keeps freed pages for reuse by Arrow, which a
    notebook rarely does again: at 10 M events that is ~160 MB held for the life of the process."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:  # noqa: BLE001 - an allocator without the call: nothing to give back
        pass


def events_from_frame(df: pd.DataFrame, file: str, mapping: Mapping[str, str] | None = None, *,
                      stage_map: StageMap | None = None, keep_duplicates: bool = False,
                      timestamp_format: str | None = None, replace: bool = False) -> pd.DataFrame:
    """The validation of :func:`load_events` on a frame already read from ``file`` (the readers of
    :mod:`cjlib.readers` hand their flattened exports to it).

    ``mapping`` (contract name → the frame's column, options removed) renames columns first; with
    ``replace=True`` an entry naming a contract column the frame already has replaces it (``{channel:
    medium}`` on a flattened export uses the raw medium as the channel). Raises what :func:`load_events`
    raises, naming ``file``.

    Parameters
    ----------
    df : DataFrame
        The events as read.
    file : str
        Where they came from: named in errors and warnings and kept in ``attrs["source"]``.
    mapping : dict, optional
        Contract name → the frame's column (no options).
    stage_map : StageMap, optional
        Used to count events it does not name (default: ``data/stage_map.yml``).
    keep_duplicates : bool, default False
        Keep exact duplicate rows instead of dropping them.
    timestamp_format : str, optional
        As in :func:`load_events`.
    replace : bool, default False
        Let a mapping entry replace a contract column the frame already has.

    Returns
    -------
    DataFrame
        As :func:`load_events` returns: validated, timestamps naive UTC, ``event``/``channel``
        categorical, sorted by (customer, timestamp, input order); ``attrs["unknown_events"]`` counts
        the events the stage map does not name (name → rows), which also warn (:class:`DataWarning`).
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

    Parameters
    ----------
    path : str or Path
        CSV, Parquet file or Parquet folder (resolved as in :func:`load_events`).
    columns : dict or str, optional
        Column mapping as in :func:`load_events`; of a per-table mapping the ``customers`` part is used.
    timestamp_format : str, optional
        For a text ``signup_date``, as in :func:`load_events` (the keyword wins over the mapping's).

    Returns
    -------
    DataFrame
        One row per customer, RangeIndex; ``attrs["source"]`` is the file read.
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

    Parameters
    ----------
    path : str or Path
        CSV, Parquet file or Parquet folder (resolved as in :func:`load_events`).
    columns : dict or str, optional
        Column mapping as in :func:`load_events`; of a per-table mapping the ``feedback`` part is used.
    timestamp_format : str, optional
        For a text ``timestamp``, as in :func:`load_events` (the keyword wins over the mapping's).

    Returns
    -------
    DataFrame
        The feedback rows, ``timestamp`` naive UTC and ``scale`` lower case (``"csat"`` where the file
        has no ``scale`` column), RangeIndex; ``attrs["source"]`` is the file read.
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

    Parameters
    ----------
    path : str or Path
        CSV, Parquet file or Parquet folder (resolved as in :func:`load_events`).
    columns : dict or str, optional
        Column mapping as in :func:`load_events`; of a per-table mapping the ``costs`` part is used.

    Returns
    -------
    DataFrame
        The cost rows (``period`` as ``YYYY-MM`` text when present), RangeIndex; ``attrs["source"]`` is
        the file read.
    """
    df = _load_simple(path, columns, "costs")
    if "period" not in df.columns:
        return df
    out = df.assign(period=_month_text(df["period"], df))
    out.attrs.update(df.attrs)
    return out


def with_personas(customers: pd.DataFrame | None, personas_path: str | Path = "") -> pd.DataFrame | None:
    """``customers`` with the ``persona`` column of a personas file joined on ``customer_id``.

    Parameters
    ----------
    customers : DataFrame or None
        Loaded customer attributes (None: the personas alone are the customer table).
    personas_path : str or Path, default ""
        A CSV/Parquet with ``customer_id`` and ``persona`` (01_personas' assignments), read by
        :func:`load_customers`; ``""`` gives ``customers`` unchanged.

    Returns
    -------
    DataFrame or None
        Every row of ``customers`` (a left join: ``persona`` NaN where the file has none).

    Raises
    ------
    DataError
        What :func:`load_customers` raises; a file without a ``persona`` column (rule ``missing_column``).
    """
    if not personas_path:
        return customers
    personas = load_customers(personas_path)
    if "persona" not in personas.columns:
        raise DataError("required column is missing (a personas file holds customer_id and persona)",
                        file=personas.attrs["source"], column="persona", rule="missing_column")
    personas = personas[["customer_id", "persona"]]
    return personas if customers is None else customers.merge(personas, on="customer_id", how="left")


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
