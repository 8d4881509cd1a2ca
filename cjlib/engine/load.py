"""The event log of a Dask run: read and validated by the workers, shuffled by customer once, persisted.

:func:`read_log` is :func:`cjlib.load_events` for a log that does not fit the report process: each worker
reads Parquet files (a file, a folder, or any fsspec URL such as ``s3://bucket/events/``) and validates
its rows with the loader's own rules (required columns, pandera schema, parseable timestamps, the column
mapping, the start/end filter); a failure anywhere reaches the caller as one :class:`cjlib.DataError`
naming the file, column, rule, the count over every file and the first example rows (their row numbers
count from the log's first row, as in process). The rows are then shuffled by customer
(:func:`cjlib.engine.partition`), exact duplicates dropped inside each partition (a customer's rows are all
there, so the result is the loader's), and every row numbered by its position in the loader's order
(customer, timestamp, input order) — so per-event results come back in the order ``load_events`` gives,
and per-customer results in sorted customer order.

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

SHUFFLED_ENV = "CJLIB_SHUFFLED_LOG"  # set by the runner: the saved, shuffled log every notebook opens
FACTS_FILE = "_cjlib_log.json"


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


# ============================================================================================== reading
def _pieces(path: str) -> tuple[list[str], str, object]:
    """The Parquet files of ``path`` in the loader's order, the name errors give, and the unified schema
    when local files differ only in width (:func:`cjlib.reading._partition_schema`)."""
    import fsspec

    from cjlib.paths import resolve
    from cjlib.reading import _partition_schema

    remote = "://" in str(path)
    if not remote:
        p = resolve(path)
        if not p.exists():
            raise DataError("events file not found", file=str(p), rule="file_exists")
        if p.is_dir():
            files = sorted(p.rglob("*.parquet"))
            if not files:
                raise DataError("events folder holds no .parquet files", file=str(p), rule="empty_input")
            return [str(f) for f in files], str(p), _partition_schema(p, files, "events")
        if p.suffix.lower() not in {".parquet", ".pq"}:
            raise DataError(f"a Dask run reads Parquet (a file, a folder or a URL); convert {p.name} once, "
                            f"e.g. pandas.read_csv(...).to_parquet('events.parquet')", file=str(p),
                            rule="file_type")
        return [str(p)], str(p), None
    fs, root = fsspec.core.url_to_fs(str(path))
    files = sorted(fs.glob(root.rstrip("/") + "/**/*.parquet")) if fs.isdir(root) else [root]
    if not files:
        raise DataError("events folder holds no .parquet files", file=str(path), rule="empty_input")
    return [fs.unstrip_protocol(f) for f in files], str(path), None


def _local_path(path: str) -> str:
    """A local path resolved here (:func:`cjlib.paths.resolve`), a URL as it is."""
    from cjlib.paths import resolve

    return str(path) if "://" in str(path) else str(resolve(path))


def _on_worker(client, fn, *args):
    """``fn(*args)`` run by a worker: only the workers need to read the events' storage. A DataError it
    raises is raised here as it is."""
    return client.submit(fn, *args, pure=False).result()


def _listing(path: str) -> tuple[list[str], str, object, list[int]]:
    """:func:`_pieces` and each file's rows (from the footers), as a worker sees the storage."""
    files, source, schema = _pieces(path)
    return files, source, schema, _row_counts(files)


def _row_counts(files: list[str]) -> list[int]:
    """Rows of each Parquet file, from its footer (no data is read)."""
    import fsspec
    import pyarrow.parquet as pq

    out = []
    for f in files:
        with fsspec.open(f, "rb") as fh:
            out.append(int(pq.read_metadata(fh).num_rows))
    return out


def ids_numeric(path: str, column: str = "customer_id", *, client=None, address: str | None = None) -> bool:
    """Whether a Parquet log types customer ids as numbers, from its first file's schema (no rows read).

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

    files = _pieces(path)[0]
    with fsspec.open(files[0], "rb") as fh:
        schema = pq.read_schema(fh)
    if column not in schema.names:
        return False
    t = schema.field(column).type
    return bool(pt.is_integer(t) or pt.is_floating(t) or pt.is_decimal(t))


@dataclass(frozen=True)
class _Spec:
    """How every worker validates its rows (the loader's arguments)."""

    file: str
    mapping: dict
    timestamp_format: str | None
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    ids_as_text: bool
    schema: object = None


def _read_piece(path: str, offset: int, spec: _Spec):
    """One Parquet file read and validated like :func:`cjlib.load_events` (rows numbered from the log's first
    row); a :class:`DataError` is returned, not raised, so every file's failures can be counted."""
    from cjlib.io.columns import _rename
    from cjlib.io.order import _as_category
    from cjlib.io.schema import _require, _to_utc_naive, _validate

    try:
        mapping = spec.mapping
        dictionary = [mapping.get(c, c) for c in ("event", "channel")]
        try:
            df = pd.read_parquet(path, schema=spec.schema) if spec.schema is not None else pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - a corrupt file: one line naming it
            raise DataError(f"cannot read events: {exc}", file=path, rule="readable") from None
        cats = {c: _as_category(df[c]) for c in dictionary if c in df.columns}
        df = df.assign(**cats).set_axis(pd.RangeIndex(offset, offset + len(df)))
        df = _rename(df, mapping, spec.file)
        _require(df, "events", spec.file)
        df = _validate(df, "events", spec.file)
        df = df.assign(timestamp=_to_utc_naive(df["timestamp"], spec.file, "timestamp", spec.timestamp_format))
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
    from cjlib.journeys import customer_groups

    starts, _ = customer_groups(part)
    ts = part["timestamp"]
    return {
        "ids": part["customer_id"].to_numpy()[starts],
        "counts": np.diff(np.r_[starts, len(part)]).astype(np.int64),
        "first": ts.min() if len(part) else None, "last": ts.max() if len(part) else None,
        "events": part["event"].astype(str).value_counts(sort=False),
        "channels": sorted(map(str, pd.unique(part["channel"].dropna()))) if "channel" in part.columns else [],
    }


def _renumber(part: pd.DataFrame, start: np.ndarray) -> pd.DataFrame:
    """Rows numbered by their place in the whole log's order: each customer's first row in the sorted log
    plus the row's place within the customer."""
    counts = np.diff(np.r_[np.flatnonzero(np.r_[True, part["customer_id"].to_numpy()[1:]
                                                 != part["customer_id"].to_numpy()[:-1]]), len(part)]) \
        if len(part) else np.zeros(0, np.int64)
    first = np.repeat(start, counts)
    within = np.arange(len(part), dtype=np.int64) - np.repeat(np.r_[0, np.cumsum(counts)[:-1]], counts)
    return part.assign(**{_ROW: first + within})


def _finish(client, parts: list, source: str, key: str, keep_duplicates: bool, dedupe: bool = True):
    """Deduplicate, gather the facts, number the rows in the loader's order; the log and its facts."""
    dd = _require_dask()
    if dedupe:
        pairs = client.map(_dedupe_part, parts, keep_duplicates=keep_duplicates, pure=False)
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
    parts = [client.submit(_renumber, p, start[a:b], pure=False) for p, a, b in zip(parts, bounds[:-1], bounds[1:])]
    meta = client.submit(lambda p: p.iloc[:0], parts[0], pure=False).result()
    ddf = dd.from_delayed(parts, meta=meta, verify_meta=False)
    names = pd.concat([f["events"] for f in facts]).groupby(level=0, sort=True).sum()
    stamps = [(f["first"], f["last"]) for f in facts if f["first"] is not None]
    if not stamps:
        raise DataError("the event log has no rows", file=source, rule="empty_input")
    log = LogFacts(source=source, events=int(counts.sum()), customers=len(every),
                   first_event=min(a for a, _ in stamps).isoformat(), last_event=max(b for _, b in stamps).isoformat(),
                   event_counts={str(k): int(v) for k, v in names.items() if v > 0},
                   channels=sorted({c for f in facts for c in f["channels"]}), duplicates=int(dups), key=key)
    return Partitioned(ddf, client, log.events, None), log


def read_log(path: str, *, columns: Mapping[str, str] | None = None, timestamp_format: str | None = None,
             start: pd.Timestamp | None = None, end: pd.Timestamp | None = None, ids_as_text: bool = False,
             keep_duplicates: bool = False, client=None, address: str | None = None,
             npartitions: int | None = None, key: str = "") -> tuple[Partitioned, LogFacts]:
    """Read, validate and shuffle an event log on the workers (see the module).

    Parameters
    ----------
    path : str
        A Parquet file or folder, local or any fsspec URL every worker can read.
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
        that is not Parquet (rule ``file_type``) and a filter that keeps no row (``empty_input``).
    """
    dd = _require_dask()
    client = get_client(client, address)
    if client is None:
        raise ValueError("read_log needs a distributed client (dask_address)")
    files, source, schema, counts = _on_worker(client, _listing, _local_path(path))
    offsets = np.r_[0, np.cumsum(counts)]
    spec = _Spec(source, dict(columns or {}), timestamp_format, start, end, ids_as_text, schema)
    pieces = [client.submit(_read_piece, f, int(o), spec, pure=False) for f, o in zip(files, offsets[:-1])]
    errors = [e for e in client.gather(client.map(_failure, pieces, pure=False)) if e is not None]
    if errors:
        raise _merged_error(errors)
    meta = client.submit(lambda p: p.iloc[:0], pieces[0], pure=False).result()
    ddf = dd.from_delayed(pieces, meta=meta, verify_meta=False)
    shuffled = partition(ddf, client=client, npartitions=npartitions or max(len(files), 2), persist=False)
    parts = client.compute(shuffled.ddf.to_delayed())  # one future per ordered partition
    del pieces, ddf
    parted, facts = _finish(client, parts, source, key, keep_duplicates)
    if facts.duplicates:
        verb = "found" if keep_duplicates else "dropped"
        warnings.warn(f"{source}: {verb} {facts.duplicates:,} exact duplicate row(s)"
                      + ("" if keep_duplicates else " (keep_duplicates=True keeps them)"), DataWarning, stacklevel=2)
    return parted, facts


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
    return Partitioned(dd.from_delayed(parts, meta=meta, verify_meta=False), client, facts.events, None), facts
