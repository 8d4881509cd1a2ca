"""The event log of a Dask run: read and validated by the workers, shuffled by customer once, persisted.

:func:`read_log` is :func:`cjlib.load_events` for a log that does not fit the report process: each worker
reads whole files of the log — Parquet or CSV (``.csv``, ``.tsv``, ``.txt``, ``.gz``, read with the loader's
CSV rules: :func:`cjlib.reading.read_csv_file`) — given as a file, a folder, a glob (``exports/*.csv``) or any
fsspec URL (``s3://bucket/events/``), and validates its rows with the loader's own rules (required columns,
pandera schema, parseable timestamps, the column mapping, the start/end filter). What the loader decides
over the whole log is decided over every file too: the one day/month order of text timestamps, the one
unit of epoch timestamps (files holding seconds and milliseconds are refused as one column holding both
is), and the type of a CSV column (empty in one file, numbers or text in another: as one read of all the
rows types it). A Hive-partitioned Parquet folder (``events/date=2025-01-01/part-0.parquet``) gives its
partition keys as categorical columns, as the loader (pyarrow's dataset) does. A failure anywhere reaches
the caller as one :class:`cjlib.DataError` naming the file, column, rule, the count over every file and
the first example rows (their row numbers count from the log's first row, as in process). A CSV file is
read whole by one worker: split a large export into several files. The rows are then shuffled by customer
(:func:`cjlib.engine.partition`; files sorted by customer id keep their rows, only a customer cut between
two files moving), exact duplicates dropped inside each partition (a customer's rows are all there, so
the result is the loader's), ``event`` and ``channel`` given the whole log's sorted categories in every
partition, and every row numbered by its position in the loader's order (customer, timestamp, input
order) — so per-event results come back in the order ``load_events`` gives, and per-customer results in
sorted customer order.

:func:`save_log` writes that log as a Parquet folder (one file per partition, complete customers,
ordered) and :func:`open_log` reads it back without a second shuffle: the runner validates and shuffles
once per run, and every notebook opens the saved folder (``CJLIB_SHUFFLED_LOG``).

Small facts of the log (rows, customers, time range, event counts, duplicates) are computed on the workers
and kept in :class:`LogFacts`; the report process never holds the events.
"""

from __future__ import annotations

import json
import operator
import re
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from cjlib.engine.core import _ROW, Partitioned, _require_dask, get_client, partition
from cjlib.errors import DataError, DataWarning
from cjlib.reading import _common_types, _csv_kinds, _Listing, _local_path, _pieces, _same_header

SHUFFLED_ENV = "CJLIB_SHUFFLED_LOG"  # set by the runner: the saved, shuffled log every notebook opens
FACTS_FILE = "_cjlib_log.json"
NO_ROWS_LEFT = "the event log has no rows"  # every file read holds rows, none kept by the start/end filter


@dataclass(frozen=True)
class LogFacts:
    """What the workers found in a log: its size, range and names, without the rows.

    Parameters
    ----------
    source : str
        The file or folder read (named in errors and warnings).
    events, customers : int
        Rows kept and distinct customers.
    first_event, last_event : str
        ISO times of the first and last event.
    event_counts : dict
        Rows per event name (sorted by name).
    channels : list of str
        Channel values present (sorted).
    duplicates : int
        Exact duplicate rows found (dropped unless kept).
    duplicates_kept : int
        Of those, the rows kept because the log's timestamps are dates only
        (:func:`cjlib.io.schema.dates_only`).
    key : str
        What was read (path, mapping, filters, id form): :func:`open_log` callers compare it.
    """

    source: str
    events: int
    customers: int
    first_event: str
    last_event: str
    event_counts: dict = field(default_factory=dict)
    channels: list = field(default_factory=list)
    duplicates: int = 0
    key: str = ""
    duplicates_kept: int = 0


# ============================================================================================== reading
def _on_worker(client, fn, *args):
    """``fn(*args)`` run by a worker: only the workers need to read the events' storage. A DataError it
    raises is raised here as it is."""
    return client.submit(fn, *args, pure=False).result()


def ids_numeric(path: str, column: str = "customer_id", *, client=None, address: str | None = None) -> bool:
    """Whether a log types customer ids as numbers, from its first file's schema (no rows read); a CSV
    log's ids are text (the loader reads them as written).

    Parameters
    ----------
    path : str
        As :func:`read_log` takes it.
    column : str, default "customer_id"
        The id column's name in the file.
    client, address : optional
        A distributed client: a worker reads the schema (the report process may not see the storage).

    Returns
    -------
    bool
        ``False`` also when the column is missing (:func:`read_log` then names it).
    """
    client = get_client(client, address)
    if client is not None:
        return _on_worker(client, _ids_numeric_here, _local_path(path), column)
    return _ids_numeric_here(path, column)


def _ids_numeric_here(path: str, column: str) -> bool:
    import fsspec
    import pyarrow.parquet as pq
    import pyarrow.types as pt

    listing = _pieces(path)
    if listing.kind == "csv":
        return False
    with fsspec.open(listing.files[0], "rb") as fh:
        schema = pq.read_schema(fh)
    if column not in schema.names:
        return False
    t = schema.field(column).type
    return bool(pt.is_integer(t) or pt.is_floating(t) or pt.is_decimal(t))


@dataclass(frozen=True)
class _Spec:
    """How every worker reads and validates its rows (the loader's arguments)."""

    file: str
    mapping: dict
    timestamp_format: str | None
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    ids_as_text: bool
    schema: object = None
    kind: str = "parquet"
    text: tuple = ()  # CSV columns read as text (the loader's ids; columns the files type differently)
    key_types: dict = field(default_factory=dict)


def _read_piece(path: str, keys: dict, spec: _Spec):
    """Phase 1: one file as written (Hive partition keys added as the loader adds them); a
    :class:`DataError` is returned, not raised, so every file's failures can be counted."""
    try:
        if spec.kind == "csv":
            from cjlib.reading import read_csv_file

            df = read_csv_file(path, "events", list(spec.text))
        else:
            try:
                df = pd.read_parquet(path, schema=spec.schema) if spec.schema is not None else pd.read_parquet(path)
            except Exception as exc:  # noqa: BLE001 - a corrupt file: one line naming it
                raise DataError(f"cannot read events: {exc}", file=path, rule="readable") from None
        if spec.key_types:
            df = df.assign(**{k: pd.Categorical.from_codes(
                np.full(len(df), t.categories.get_loc(keys[k]) if k in keys else -1, dtype=np.int32), dtype=t)
                for k, t in spec.key_types.items()})
        dictionary = [spec.mapping.get(c, c) for c in ("event", "channel")]
        from cjlib.io.order import _as_category

        return df.assign(**{c: _as_category(df[c]) for c in dictionary if c in df.columns})
    except DataError as err:
        return err


def _shape(raw) -> tuple[int, list[str]] | DataError:
    return raw if isinstance(raw, DataError) else (len(raw), [str(c) for c in raw.columns])


def _kinds(raw, spec: _Spec) -> dict:
    """The type this CSV file gave each column, by its contract name (:func:`cjlib.reading._csv_kinds`; event
    and channel, categoricals already, by their values' type): the report process types every column over
    all files from them, as one read of every row would (:func:`cjlib.reading._common_types`)."""
    from cjlib.io.columns import _rename

    if isinstance(raw, DataError) or spec.kind != "csv":
        return {}
    try:
        df = _rename(raw, spec.mapping, spec.file)
    except DataError:  # named when the file is checked
        return {}
    kinds = _csv_kinds(df, _OWN)
    if len(df):
        kinds.update({c: "null" if df[c].isna().all() else str(df[c].cat.categories.dtype)
                      for c in ("event", "channel") if c in df.columns})
    return kinds


def _check_piece(raw, offset: int, spec: _Spec, casts: dict):
    """Phase 2: rows numbered from the log's first row, columns renamed and typed as over every file
    (``casts``), required columns and the pandera rules checked (the loader's steps before the timestamps)."""
    from cjlib.io.columns import _rename
    from cjlib.io.order import _as_category
    from cjlib.io.schema import _require, _validate

    if isinstance(raw, DataError):
        return raw
    try:
        df = _rename(raw.set_axis(pd.RangeIndex(offset, offset + len(raw))), spec.mapping, spec.file)
        typed = {c: _as_category(df[c].astype(object).astype(t)) if c in ("event", "channel")
                 else df[c].astype(t) for c, t in casts.items() if c in df.columns and _kind_of(df[c]) != t}
        df = df.assign(**typed) if typed else df
        _require(df, "events", spec.file)
        return _validate(df, "events", spec.file)
    except DataError as err:
        return err


# typed by the loader itself, whatever the file; the timestamp column is typed over every file first, as in
# process (epochs in one file and text in another are text, which the loader then refuses to read as epochs),
# and event and channel by their categories' values (codes in one file, names in another: text)
_OWN = ("customer_id", "event", "channel")


def _kind_of(s: pd.Series) -> str:
    """A column's type as a cast names it (a categorical: its values' type)."""
    return str(s.cat.categories.dtype) if isinstance(s.dtype, pd.CategoricalDtype) else str(s.dtype)


def _evidence(piece, spec: _Spec):
    """What the report process needs from a checked piece to decide as the loader decides over the whole
    log: the day/month evidence of text timestamps and the magnitudes of epoch timestamps (their one unit)."""
    from cjlib.timestamps import _epoch_evidence, _is_epoch

    if isinstance(piece, DataError):
        return piece
    order = _order_evidence(piece["timestamp"]) if spec.timestamp_format is None else None
    ts = piece["timestamp"]
    unit = _epoch_evidence(ts) if len(piece) and _is_epoch(ts, spec.timestamp_format) else None
    return {"order": order, "unit": unit}


def _order_evidence(ts: pd.Series) -> dict | None:
    """Rows proving day-first, month-first, or reading two ways (counts, first examples), as
    :func:`cjlib.timestamps._decide_order` counts them; ``None`` for a column of no day/month text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from cjlib.errors import row_examples
    from cjlib.timestamps import _as_text, _extract

    dt = ts.dtype
    if isinstance(dt, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dt) or (
            pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt)):
        return None
    text = _as_text(ts)
    found = _extract(text)
    ok = found.is_valid().to_numpy(zero_copy_only=False)
    if not ok.any():
        return None
    found = found.filter(pa.array(ok))
    a, b = (pc.cast(found.field(g), pa.int64()).to_numpy() for g in ("a", "b"))
    masks = {"day": (a > 12) & (a <= 31) & (b <= 12), "month": (b > 12) & (b <= 31) & (a <= 12),
             "two": (a <= 12) & (b <= 12) & (a != b)}
    frame = text[ok].rename("timestamp").to_frame()
    return {k: (int(m.sum()), row_examples(frame, m, ["timestamp"], 3)) for k, m in masks.items()}


def _decided_order(evidence: list, spec: _Spec) -> str | None:
    """The day/month order of the whole log's text timestamps, or the loader's :class:`DataError` when its
    values prove both orders or neither while some read two ways; ``None``: nothing to decide."""
    from cjlib.timestamps import _HOW

    ev = [e["order"] for e in evidence if e["order"] is not None]
    if not ev:
        return None
    n = {k: sum(e[k][0] for e in ev) for k in ("day", "month", "two")}
    ex = {k: [x for e in ev for x in e[k][1]] for k in ("day", "month", "two")}
    if n["day"] and n["month"]:
        raise DataError(f"the column mixes day-first values (day above 12 first, {n['day']:,} row(s)) and "
                        f"month-first values ({n['month']:,} row(s)); {_HOW}", file=spec.file, column="timestamp",
                        rule="consistent_timestamp", examples=ex["day"][:2] + ex["month"][:2])
    if n["day"] or n["month"]:
        return "dayfirst" if n["day"] else "monthfirst"
    if n["two"]:
        raise DataError(f"day/month order cannot be told: {n['two']:,} value(s) read as a date either way and "
                        f"none has a day above 12; {_HOW}", file=spec.file, column="timestamp",
                        rule="ambiguous_timestamp", examples=ex["two"][:3])
    return None


def _decided_unit(evidence: list, spec: _Spec) -> str | None:
    """The one unit of the whole log's epoch timestamps (:func:`cjlib.timestamps._epoch_unit` over every
    file's values, as the loader decides over its one column), or its :class:`DataError` when the files
    hold values of two units' ranges; ``None``: no file holds epochs."""
    from cjlib.timestamps import _epoch_unit

    ev = [e["unit"] for e in evidence if e.get("unit") is not None]
    return _epoch_unit(ev, spec.file) if ev else None


def _finish_piece(piece, spec: _Spec, order: str | None, unit: str | None = None):
    """Phase 3: timestamps parsed in the log's one day/month order (epochs in its one unit), the loader's
    types, the date filter."""
    from cjlib.io.order import _as_category

    if isinstance(piece, DataError):
        return piece
    try:
        df = piece.assign(timestamp=_timestamps(piece["timestamp"], spec, order, unit))
        cats = {c: _as_category(df[c]) for c in ("event", "channel") if c in df.columns}
        if spec.ids_as_text:
            from cjlib.io.inputs import _id_text

            cats["customer_id"] = _id_text(df["customer_id"])
        elif df["customer_id"].dtype == object:
            cats["customer_id"] = df["customer_id"].astype(str)
        df = df.assign(**cats)
        keep = np.ones(len(df), bool)
        if spec.start is not None:
            keep &= (df["timestamp"] >= spec.start).to_numpy()
        if spec.end is not None:
            keep &= (df["timestamp"] < spec.end).to_numpy()
        return df.loc[keep].reset_index(drop=True) if not keep.all() else df.reset_index(drop=True)
    except DataError as err:
        return err


def _timestamps(raw: pd.Series, spec: _Spec, order: str | None, unit: str | None = None) -> pd.Series:
    """:func:`cjlib.io.schema._to_utc_naive` with the order and the epoch unit decided over the whole log
    (the message of an unparseable value as the loader words it, which names no order it was not given)."""
    from cjlib.timestamps import _parse, check_timestamp_format

    fmt = check_timestamp_format(spec.timestamp_format, spec.file)
    if fmt is not None or order is None:
        return _parse(raw, fmt, spec.file, "timestamp", unit)
    try:
        return _parse(raw, order, spec.file, "timestamp", unit)
    except DataError as err:
        raise DataError(err.message.replace(f" with timestamp_format {order!r}", ""), file=err.file,
                        column=err.column, rule=err.rule, examples=err.examples) from None


_PHASE = {"file_exists": 0, "file_type": 0, "readable": 0, "encoding": 0, "empty_input": 0,
          "duplicate_header": 0, "schema_mismatch": 0, "duplicate_column": 1, "missing_column": 1}


def _raise_failures(client, futures) -> None:
    """Raise the failures of one phase as the loader would meet them: its earliest step first, then the
    first file failing it (:func:`_merged_error` counts it over every file)."""
    errors = [e for e in client.gather(client.map(_failure, futures, pure=False)) if e is not None]
    if errors:
        step = min(_PHASE.get(e.rule, 2) for e in errors)
        raise _merged_error([e for e in errors if _PHASE.get(e.rule, 2) == step])


def _failure(piece):
    return piece if isinstance(piece, DataError) else None


def _merged_error(errors: list[DataError]) -> DataError:
    """The first file's error, its count and examples completed by the other files failing the same rule."""
    first = errors[0]
    same = [e for e in errors if (e.column, e.rule, re.sub(r"^[\d,]+ ", "", e.message))
            == (first.column, first.rule, re.sub(r"^[\d,]+ ", "", first.message))]
    m = re.match(r"^([\d,]+) ", first.message)
    if len(same) < 2 or not m:
        return first
    total = sum(int(re.match(r"^([\d,]+) ", e.message).group(1).replace(",", "")) for e in same)
    examples = [x for e in same for x in e.examples][:5]
    return DataError(f"{total:,} " + first.message[m.end():], file=first.file, column=first.column,
                     rule=first.rule, examples=examples, parameter=first.parameter)


# ============================================================================================ shuffling
def _dedupe_part(part: pd.DataFrame, keep_duplicates: bool):
    """Exact duplicates of an ordered partition (all of a customer's rows are in it): (partition, count)."""
    from cjlib.io.schema import _duplicated

    dup = _duplicated(part.drop(columns=[_ROW]))
    n = int(dup.sum())
    if n and not keep_duplicates:
        part = part.loc[~dup].reset_index(drop=True)
    return part, n


def _part_facts(part: pd.DataFrame) -> dict:
    """The customers of an ordered partition (in order) with their row counts, and its small aggregates."""
    from cjlib.io.order import categories_used
    from cjlib.journeys import customer_groups

    starts, _ = customer_groups(part)
    ts = part["timestamp"]
    return {
        "categories": {c: part[c].cat.categories[categories_used(part[c])] for c in ("event", "channel")
                       if c in part.columns and isinstance(part[c].dtype, pd.CategoricalDtype)},
        "ids": part["customer_id"].to_numpy()[starts],
        "counts": np.diff(np.r_[starts, len(part)]).astype(np.int64),
        "first": ts.min() if len(part) else None, "last": ts.max() if len(part) else None,
        "events": part["event"].astype(str).value_counts(sort=False),
        "channels": sorted(map(str, pd.unique(part["channel"].dropna()))) if "channel" in part.columns else [],
    }


def _renumber(part: pd.DataFrame, start: np.ndarray, dtypes: dict) -> pd.DataFrame:
    """Rows numbered by their place in the whole log's order: each customer's first row in the sorted log
    plus the row's place within the customer; ``event`` and ``channel`` given the log's categories
    (``dtypes``: every value present in any partition, sorted, as the loader types them), so partitions
    read from different files concatenate to the loader's column."""
    part = part.assign(**{c: part[c].cat.set_categories(t.categories) if isinstance(part[c].dtype, pd.CategoricalDtype)
                          else part[c].astype(t) for c, t in dtypes.items() if c in part.columns and not (
                              part[c].dtype == t and part[c].dtype.categories.dtype == t.categories.dtype)})
    counts = np.diff(np.r_[np.flatnonzero(np.r_[True, part["customer_id"].to_numpy()[1:]
                                                 != part["customer_id"].to_numpy()[:-1]]), len(part)]) \
        if len(part) else np.zeros(0, np.int64)
    first = np.repeat(start, counts)
    within = np.arange(len(part), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)  # 0 rows: none
    return part.assign(**{_ROW: first + within})


def _category_types(piece) -> dict:
    """The type of the event and channel values of a read file holding rows (the shuffle may change it
    where a file holds none)."""
    return {c: piece[c].cat.categories.dtype for c in ("event", "channel") if c in piece.columns and len(piece)}


def _sorted_union(indexes: list, types: list) -> pd.Index:
    """The values of several category indexes, once each, sorted (as :func:`cjlib.io.order._as_category` sorts);
    of the files' one type when they share it (``types``: so a column empty everywhere keeps its type)."""
    every = pd.Index(np.concatenate([np.asarray(i, dtype=object) for i in indexes])) if indexes else pd.Index([])
    every = every.unique()
    try:
        if len({str(t) for t in types}) == 1:
            return pd.Index(every.sort_values().tolist(), dtype=types[0])
        return pd.Index(every.sort_values().tolist())
    except TypeError:  # categories of mixed types: as the loader's object categoricals order them
        return pd.Index(pd.Series(list(every), dtype=object).astype("category").cat.categories.tolist())


def _finish(client, parts: list, source: str, key: str, keep_duplicates: bool, dedupe: bool = True,
            types: list = ()):
    """Deduplicate, gather the facts, number the rows in the loader's order; the log and its facts
    (``types``: :func:`_category_types` of every file read)."""
    dd = _require_dask()
    dated = False  # a log of dates only keeps its exact duplicates: they may be two events of one day
    if dedupe and not keep_duplicates:
        from cjlib.io.schema import dates_only

        dated = all(client.gather(client.map(lambda p: dates_only(p["timestamp"]), parts, pure=False)))
    if dedupe:
        pairs = client.map(_dedupe_part, parts, keep_duplicates=keep_duplicates or dated, pure=False)
        parts = client.map(operator.itemgetter(0), pairs, pure=False)
        dups = sum(client.gather(client.map(operator.itemgetter(1), pairs, pure=False)))
        del pairs
    else:
        dups = 0
    facts = client.gather(client.map(_part_facts, parts, pure=False))
    ids = [f["ids"] for f in facts]
    counts = np.concatenate([f["counts"] for f in facts]) if facts else np.zeros(0, np.int64)
    every = pd.Index(np.concatenate(ids)) if ids else pd.Index([])
    if every.has_duplicates:
        raise RuntimeError("a customer is split across partitions: the shuffle did not group customers")
    order = every.argsort()  # the loader's order: customers sorted, then their rows as they are
    start = np.empty(len(every), np.int64)
    start[order] = np.r_[0, np.cumsum(counts[order])[:-1]] if len(every) else np.zeros(0, np.int64)
    bounds = np.r_[0, np.cumsum([len(i) for i in ids])]
    dtypes = {c: pd.CategoricalDtype(_sorted_union([f["categories"][c] for f in facts if c in f["categories"]],
                                                   [t[c] for t in types if c in t]))
              for c in ("event", "channel") if any(c in f["categories"] for f in facts)}
    parts = [client.submit(_renumber, p, start[a:b], dtypes, pure=False)
             for p, a, b in zip(parts, bounds[:-1], bounds[1:])]
    meta = client.submit(lambda p: p.iloc[:0], parts[0], pure=False).result()
    ddf = dd.from_delayed(parts, meta=meta, verify_meta=False)
    names = pd.concat([f["events"] for f in facts]).groupby(level=0, sort=True).sum()
    stamps = [(f["first"], f["last"]) for f in facts if f["first"] is not None]
    if not stamps:
        raise DataError(NO_ROWS_LEFT, file=source, rule="empty_input")
    log = LogFacts(source=source, events=int(counts.sum()), customers=len(every),
                   first_event=min(a for a, _ in stamps).isoformat(), last_event=max(b for _, b in stamps).isoformat(),
                   event_counts={str(k): int(v) for k, v in names.items() if v > 0},
                   channels=sorted({c for f in facts for c in f["channels"]}), duplicates=int(dups), key=key,
                   duplicates_kept=int(dups) if dated else 0)
    return Partitioned(ddf, client, log.events, None), log


def read_log(path: str, *, columns: Mapping[str, str] | None = None, timestamp_format: str | None = None,
             start: pd.Timestamp | None = None, end: pd.Timestamp | None = None, ids_as_text: bool = False,
             keep_duplicates: bool = False, client=None, address: str | None = None,
             npartitions: int | None = None, key: str = "") -> tuple[Partitioned, LogFacts]:
    """Read, validate and shuffle an event log on the workers (see the module).

    Parameters
    ----------
    path : str
        A Parquet or CSV file, a folder of them (Parquet, Hive-partitioned or not; else ``*.csv``), or a glob
        (``exports/*.csv``): local or any fsspec URL every worker can read. A relative path is taken as
        :func:`cjlib.paths.resolve` takes it.
    columns : mapping, optional
        Contract name → the file's column (options removed), as :func:`cjlib.load_events` takes it.
    timestamp_format : str, optional
        As :func:`cjlib.load_events`.
    start, end : Timestamp, optional
        Keep events with ``start <= timestamp < end`` (naive UTC).
    ids_as_text : bool, default False
        Customer ids as text (the other tables type them differently: :func:`cjlib.load_inputs`).
    keep_duplicates : bool, default False
        Keep exact duplicate rows.
    client, address : optional
        Where to run (:func:`cjlib.engine.get_client`); a distributed client is required.
    npartitions : int, optional
        Partitions of the shuffle (default: one per file, at least two).
    key : str, optional
        Recorded in the facts (what was read, for :func:`open_log`'s callers).

    Returns
    -------
    (Partitioned, LogFacts)

    Raises
    ------
    DataError
        What :func:`cjlib.load_events` raises for the same rows (counted over every file), also a file
        that is neither Parquet nor CSV (rule ``file_type``), CSV files naming different columns
        (``schema_mismatch``) and a filter that keeps no row (``empty_input``).
    """
    dd = _require_dask()
    client = get_client(client, address)
    if client is None:
        raise ValueError("read_log needs a distributed client (dask_address)")
    listing = _on_worker(client, _pieces, _local_path(path))
    mapping = dict(columns or {})
    text = tuple(mapping.get(c, c) for c in ("customer_id", "session_id")) if listing.kind == "csv" else ()
    spec = _Spec(listing.source, mapping, timestamp_format, start, end, ids_as_text, listing.schema,
                 listing.kind, text, listing.key_types)
    pieces, order, unit = _validated(client, listing, spec)
    pieces = [client.submit(_finish_piece, p, spec, order, unit, pure=False) for p in pieces]
    _raise_failures(client, pieces)
    types = client.gather(client.map(_category_types, pieces, pure=False))
    meta = client.submit(lambda p: p.iloc[:0], pieces[0], pure=False).result()
    with _as_loaded():
        ddf = dd.from_delayed(pieces, meta=meta, verify_meta=False)
        n_files = len(listing.files)
        shuffled = partition(ddf, client=client, npartitions=npartitions or max(n_files, 2), persist=False)
        parts = client.compute(shuffled.ddf.to_delayed())  # one future per ordered partition
        del pieces, ddf
        parted, facts = _finish(client, parts, listing.source, key, keep_duplicates, types=types)
    if facts.duplicates and not facts.duplicates_kept:
        verb = "found" if keep_duplicates else "dropped"
        warnings.warn(f"{listing.source}: {verb} {facts.duplicates:,} exact duplicate row(s)"
                      + ("" if keep_duplicates else " (keep_duplicates=True keeps them)"), DataWarning, stacklevel=2)
    return parted, facts


def _validated(client, listing: _Listing, spec: _Spec) -> tuple[list, str | None, str | None]:
    """Phases 1 and 2 on every file (read, then checked), and what the whole log decides: the CSV columns'
    common types (before any row is checked, so errors show the values as in process), the day/month order
    of its timestamps and the unit of its epochs. A CSV column the files type differently (numbers in one,
    text in another) is read again as text, as one read of all its rows would give it."""
    import dataclasses

    for _ in range(2):
        keys = listing.keys or [{}] * len(listing.files)
        raws = [client.submit(_read_piece, f, k, spec, pure=False) for f, k in zip(listing.files, keys)]
        shapes = client.gather(client.map(_shape, raws, pure=False))
        _raise_failures(client, raws)
        if listing.kind == "csv":
            _same_header(listing, [cols for _, cols in shapes])
        counts = np.array([n for n, _ in shapes], dtype=np.int64)
        if not counts.sum():
            raise DataError("events file has no rows", file=listing.source, rule="empty_input")
        casts, mixed = _common_types(client.gather(client.map(_kinds, raws, spec=spec, pure=False)))
        if mixed:  # read again as text
            spec = dataclasses.replace(spec, text=spec.text + tuple(spec.mapping.get(c, c) for c in mixed))
            continue
        offsets = np.r_[0, np.cumsum(counts)[:-1]]
        pieces = [client.submit(_check_piece, r, int(o), spec, casts, pure=False) for r, o in zip(raws, offsets)]
        del raws
        evidence = client.gather(client.map(_evidence, pieces, spec=spec, pure=False))
        _raise_failures(client, pieces)
        return pieces, _decided_order(evidence, spec), _decided_unit(evidence, spec)
    raise RuntimeError("CSV columns typed differently after reading them as text")  # not reached


# ============================================================================================ customers
def _ids_found(part: pd.DataFrame, ids) -> tuple[bool, np.ndarray]:
    """Whether any customer of an ordered partition is in ``ids``, and its first three customers."""
    own = part["customer_id"]
    return bool(own.isin(ids).any()), pd.unique(own)[:3]


def shared_ids(parted: Partitioned, ids: pd.Series) -> tuple[bool, np.ndarray]:
    """Whether a log shares a customer id with ``ids``, tested by the workers (only ``ids`` is sent).

    Parameters
    ----------
    parted : Partitioned
        From :func:`read_log` or :func:`open_log`.
    ids : Series
        Customer ids (a customers table's), typed as the log's.

    Returns
    -------
    (bool, ndarray)
        Any shared id; the log's first three customer ids in the loader's order (sorted), for messages.
    """
    import dask

    client = parted.client
    wanted = client.scatter(pd.unique(ids), broadcast=True)
    found = client.gather(client.compute([dask.delayed(_ids_found, pure=False)(d, wanted)
                                          for d in parted.ddf.to_delayed()]))
    first = np.concatenate([f for _, f in found]) if found else np.zeros(0)
    return any(hit for hit, _ in found), pd.unique(np.sort(first))[:3]


# ======================================================================================== save and open
def _write_part(part: pd.DataFrame, path: str) -> int:
    part.to_parquet(path, index=False)
    return len(part)


def save_log(parted: Partitioned, facts: LogFacts, folder: str) -> str:
    """Write a shuffled log as a Parquet folder, one file per partition, with its facts beside it.

    Parameters
    ----------
    parted : Partitioned
        From :func:`read_log`.
    facts : LogFacts
        Its facts.
    folder : str
        A folder (or fsspec URL) every worker can write and read.

    Returns
    -------
    str
        ``folder``.
    """
    import dask

    client = parted.client
    paths = _on_worker(client, _make_folder, folder, parted.npartitions)
    client.gather(client.compute([dask.delayed(_write_part, pure=False)(d, p)
                                  for d, p in zip(parted.ddf.to_delayed(), paths)]))
    _on_worker(client, _write_facts, folder, {**asdict(facts), "files": paths})
    return folder


def _make_folder(folder: str, n: int) -> list[str]:
    import fsspec

    fs, root = fsspec.core.url_to_fs(folder)
    fs.makedirs(root, exist_ok=True)
    width = len(str(n))
    return [fs.unstrip_protocol(f"{root.rstrip('/')}/part.{i:0{width}d}.parquet") for i in range(n)]


def _write_facts(folder: str, saved: dict) -> None:
    import fsspec

    fs, root = fsspec.core.url_to_fs(folder)
    with fs.open(f"{root.rstrip('/')}/{FACTS_FILE}", "w") as fh:
        json.dump(saved, fh)


def _open_part(path: str) -> pd.DataFrame:
    """A saved partition, checked to be in the loader's order (put back in it if a writer changed it)."""
    part = pd.read_parquet(path)
    rows = part[_ROW].to_numpy()
    if len(rows) > 1 and not (rows[1:] > rows[:-1]).all():
        part = part.iloc[np.argsort(rows, kind="stable")].reset_index(drop=True)
    return _categorized(part)


def _categorized(part: pd.DataFrame) -> pd.DataFrame:
    from cjlib.engine.core import _categorize, _plain_strings

    return _plain_strings(_categorize(part))


def _read_facts(folder: str) -> dict:
    import fsspec

    fs, root = fsspec.core.url_to_fs(folder)
    with fs.open(f"{root.rstrip('/')}/{FACTS_FILE}") as fh:
        return json.load(fh)


def open_log(folder: str, *, client=None, address: str | None = None) -> tuple[Partitioned, LogFacts]:
    """A log saved by :func:`save_log`, read back by the workers with no second shuffle.

    Parameters
    ----------
    folder : str
        The saved folder.
    client, address : optional
        Where to run (a distributed client is required).

    Returns
    -------
    (Partitioned, LogFacts)
    """
    dd = _require_dask()
    client = get_client(client, address)
    saved = _on_worker(client, _read_facts, folder)
    files = saved.pop("files")
    parts = client.map(_open_part, files, pure=False)
    meta = client.submit(lambda p: p.iloc[:0], parts[0], pure=False).result()
    facts = LogFacts(**saved)
    with _as_loaded():
        return Partitioned(dd.from_delayed(parts, meta=meta, verify_meta=False), client, facts.events, None), facts


def _as_loaded():
    """Dask's frames built with the loader's column types: Dask would turn every object column into
    strings (``dataframe.convert-string``), so booleans with gaps (objects, as pandas reads them) would
    become the text ``"True"``."""
    import dask

    return dask.config.set({"dataframe.convert-string": False})
