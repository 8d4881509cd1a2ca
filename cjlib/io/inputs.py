"""Every input a notebook reads, loaded from the shared notebook parameters (:func:`load_inputs`)."""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cjlib import readers
from cjlib.errors import DataError, DataWarning
from cjlib.io.columns import _mapping_parts, _split_options, parse_columns
from cjlib.io.loaders import load_costs, load_customers, load_events, load_feedback
from cjlib.io.order import categories_used, ensure_sorted
from cjlib.io.schema import N_EXAMPLES
from cjlib.stagemap import StageMap, load_stage_map
from cjlib.timestamps import check_timestamp_format


@dataclass(frozen=True)
class Inputs:
    """Everything a notebook reads; optional tables are ``None`` when switched off."""

    events: pd.DataFrame  # or a cjlib.engine.Partitioned in a Dask run (dask_address)
    customers: pd.DataFrame | None
    feedback: pd.DataFrame | None
    costs: pd.DataFrame | None
    stage_map: StageMap
    stitching: readers.Stitching | None = None  # what identity stitching did (events_format ga4 or segment), else None
    unmatched_stages: int = 0  # feedback rows whose ``stage`` names no stage of the map (warned about)
    log: object = None  # a Dask run's cjlib.engine.load.LogFacts (counts the workers found), else None

    @property
    def stitched_ids(self) -> int | None:
        """Anonymous ids whose events joined a known customer (:class:`cjlib.readers.Stitching`); ``None``
        for a plain table, which is not stitched."""
        return None if self.stitching is None else self.stitching.stitched_ids

    @property
    def date_range(self) -> tuple[str, str]:
        """First and last event time, ISO formatted."""
        if self.log is not None:
            return self.log.first_event, self.log.last_event
        ts = self.events["timestamp"]
        return ts.min().isoformat(), ts.max().isoformat()

    @functools.cached_property
    def profile(self):
        """The :class:`cjlib.DataProfile` of these inputs, computed on first use (see :mod:`cjlib.profiling`)."""
        from cjlib.profiling import profile

        return profile(self)

    def summary(self) -> dict:
        """Counts of what was loaded (for findings and metrics)."""
        if self.log is not None:
            n_events, n_customers = self.log.events, self.log.customers
            kept = self.log.duplicates_kept
            dups = self.log.duplicates - kept
        else:
            n_events, n_customers = len(self.events), int(self.events["customer_id"].nunique())
            dups = self.events.attrs.get("duplicates_dropped", 0)
            kept = self.events.attrs.get("duplicates_kept", 0)
        return {
            "events": n_events,
            "customers": n_customers,
            "duplicates_dropped": int(dups),  # exact duplicate rows the loader dropped
            "duplicates_kept": int(kept),  # exact duplicates kept: the timestamps are dates only
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
    dask_address: str = "",
) -> Inputs:
    """Load every input a notebook uses, from the shared notebook parameters.

    Parameters
    ----------
    events_path : str
        The event log: a CSV or Parquet file, a Parquet folder, a folder of CSV files or a glob
        (``exports/*.csv``), local or an fsspec URL to one (``file:///data/events/``, ``s3://bucket/events/``),
        several files read as one holding all their rows (:func:`cjlib.reading.read_table`; a Dask run reads
        them alike).
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
    dask_address : str, default ""
        A Dask scheduler (``"tcp://10.0.0.5:8786"``): the workers read ``events_path`` (Parquet or CSV: a
        file, a folder, Hive-partitioned or not, or a glob; local or an fsspec URL they can all read),
        validate it with the same rules and shuffle it by customer once (:func:`cjlib.engine.load.read_log`;
        a log the runner saved for this run, ``CJLIB_SHUFFLED_LOG``, is opened instead), and ``events`` is
        a :class:`cjlib.engine.Partitioned`; ``log`` holds the counts the workers found. A ga4 or segment
        export is refused (rule ``dask_format``: stitching needs every file at once), naming the line that
        converts it to Parquet once. ``""``: in process.

    Returns
    -------
    Inputs
        ``stitching`` (:class:`cjlib.readers.Stitching`) counts the ids stitching joined for an export
        (``Inputs.stitched_ids``), ``None`` for a table.
        ``unmatched_stages`` counts feedback rows whose ``stage`` names no stage of
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
        id with the events, are warned about (:class:`DataWarning`), on the events between the dates.

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
    if dask_address and dask_address.strip():
        return _load_on_dask(dask_address.strip(), events_path, parts, fmt, stage_map, start, end,
                             events_format, customers_path, feedback_path, costs_path, (start_date, end_date))
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
    if start is not None or end is not None:
        events = _between(events, start, end)
        if len(events) == 0:
            raise DataError(f"no events between start_date={start_date!r} and end_date={end_date!r}",
                            file=events.attrs.get("source"), column="timestamp", rule="empty_input")
        feedback = _between(feedback, start, end) if feedback is not None else None
    # checked on the events the reports read (after the dates), as a Dask run checks the workers' log
    if costs is not None:
        _warn_unknown_cost_channels(costs, events)
    if customers is not None and len(customers):
        ids = pd.unique(events["customer_id"])
        _warn_no_shared_ids(customers, bool(customers["customer_id"].isin(ids).any()), ids[:3], stacklevel=3)
    unmatched = _unmatched_stages(feedback, stage_map) if feedback is not None else 0
    return Inputs(events, customers, feedback, costs, stage_map, stitching, unmatched)


def _load_on_dask(address, events_path, parts, fmt, stage_map, start, end, events_format, customers_path,
                  feedback_path, costs_path, dates=("", "")) -> Inputs:
    """:func:`load_inputs` with the events read, validated and shuffled by the Dask workers."""
    import json
    import os

    from cjlib.engine import load as dload
    from cjlib.engine.core import get_client

    if events_format != "table":
        raise _export_on_dask(events_path, events_format)
    mapping = _split_options(parts["events"])[0]
    customers = load_customers(customers_path, parts["customers"],
                               timestamp_format=fmt["customers"]) if customers_path else None
    feedback = load_feedback(feedback_path, parts["feedback"],
                             timestamp_format=fmt["feedback"]) if feedback_path else None
    costs = load_costs(costs_path, parts["costs"]) if costs_path else None
    client = get_client(address=address)
    ev_numeric = dload.ids_numeric(events_path, mapping.get("customer_id", "customer_id"), client=client)
    kinds = {ev_numeric} | {_numeric_ids(df) for df in (customers, feedback) if df is not None}
    as_text = len(kinds) > 1
    if as_text:
        customers, feedback = (None if df is None else _with_ids(df, _id_text(df["customer_id"]))
                               for df in (customers, feedback))
    key = json.dumps([str(events_path), mapping, fmt["events"], str(start), str(end), as_text])
    saved = os.environ.get(dload.SHUFFLED_ENV, "")
    events = log = None
    if saved:
        events, log = dload.open_log(saved, client=client)
        if log.key != key:  # saved for other inputs: read this run's own
            events = log = None
    if events is None:
        try:
            events, log = dload.read_log(events_path, columns=mapping, timestamp_format=fmt["events"], start=start,
                                         end=end, ids_as_text=as_text, client=client, key=key)
        except DataError as err:  # rows, but none between the dates: the in-process message
            if err.rule != "empty_input" or err.message != dload.NO_ROWS_LEFT or (start is None and end is None):
                raise
            raise DataError(f"no events between start_date={dates[0]!r} and end_date={dates[1]!r}", file=err.file,
                            column="timestamp", rule="empty_input") from None
    _warn_unknown_events(log, stage_map)
    _check_known_events(None, stage_map, log=log)
    if costs is not None and log.channels:
        _warn_unknown_cost_channels(costs, pd.DataFrame({"channel": log.channels}))
    if customers is not None and len(customers):
        _warn_no_shared_ids(customers, *dload.shared_ids(events, customers["customer_id"]))
    if feedback is not None and (start is not None or end is not None):
        feedback = _between(feedback, start, end)
    unmatched = _unmatched_stages(feedback, stage_map) if feedback is not None else 0
    return Inputs(events, customers, feedback, costs, stage_map, None, unmatched, log)


def _export_on_dask(events_path, events_format: str) -> DataError:
    """The refusal of an export in a Dask run: identity stitching joins an anonymous id to the customer it
    is seen with in any file (and sessions may cross files), so no worker can flatten one file alone."""
    from cjlib.paths import resolve

    src = str(events_path) if "://" in str(events_path) else str(resolve(events_path))
    line = (f"python -c \"from cjlib.readers import load_export; load_export({src!r}, {events_format!r})"
            f".events.to_parquet('events.parquet')\"")
    return DataError(f"a Dask run reads a table of the contract, not a {events_format} export (identity stitching "
                     f"needs every file at once): convert it once with {line} and run on events.parquet with "
                     f"events_format table", file=src, parameter="events_format", rule="dask_format")


def _numeric_ids(df: pd.DataFrame) -> bool:
    dt = df["customer_id"].dtype
    return pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt)


def _warn_unknown_events(log, stage_map: StageMap) -> None:
    """The warning of :func:`cjlib.load_events` on event names the stage map does not know, from the counts."""
    unknown = {k: v for k, v in sorted(log.event_counts.items(), key=lambda kv: -kv[1])
               if k not in stage_map.known_events}
    if unknown:
        warnings.warn(f"{log.source}: {sum(unknown.values()):,} event(s) of {len(unknown)} name(s) not in the "
                      f"stage map ({', '.join(list(unknown)[:5])}); they count as activity but belong to no stage",
                      DataWarning, stacklevel=4)


def _check_known_events(events: pd.DataFrame | None, stage_map: StageMap, *, log=None) -> None:
    """:class:`DataError` (rule ``known_events``) when no event name of the log is in the stage map: the
    map (or the ``event`` column mapped) does not describe this log, and every report would be empty.
    A Dask run passes the workers' counts (``log``) instead of the events."""
    if log is not None:
        unknown = sorted((k for k in log.event_counts if k not in stage_map.known_events),
                         key=lambda k: -log.event_counts[k])
        names, source = len(log.event_counts), log.source
    else:
        unknown = events.attrs.get("unknown_events", {})
        names = int(categories_used(events["event"]).sum()) if isinstance(events["event"].dtype,
                                                                          pd.CategoricalDtype) \
            else int(events["event"].nunique())
        source = events.attrs.get("source")
    if names and len(unknown) >= names:
        seen = ", ".join(map(repr, list(unknown)[:5]))
        known = ", ".join(map(repr, sorted(stage_map.known_events)[:8]))
        raise DataError(f"none of the {names} event names in the log is in the stage map {stage_map.source} "
                        f"(the log has {seen}; the map names {known}, …): give the map of this log "
                        f"(stage_map_path) or map your event column (columns: {{events: {{event: ...}}}})",
                        file=source, column="event", rule="known_events")


def _id_text(ids: pd.Series) -> pd.Series:
    """Customer ids as text: integers (and floats holding integers) without a decimal point."""
    if pd.api.types.is_float_dtype(ids.dtype) and bool(((ids.dropna() % 1) == 0).all()):
        ids = ids.astype("Int64")
    return ids.astype("str")


def _common_ids(events: pd.DataFrame, *others: pd.DataFrame | None) -> tuple:
    """``events`` and the other tables with one representation of ``customer_id``: as loaded when every
    table types it alike (all numbers or all text), else as text everywhere (events re-sorted)."""
    tables = [events, *others]

    def numeric(df: pd.DataFrame) -> bool:
        dt = df["customer_id"].dtype
        return pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt)

    kinds = {numeric(df) for df in tables if df is not None}
    if len(kinds) > 1:
        tables = [None if df is None else _with_ids(df, _id_text(df["customer_id"])) for df in tables]
        tables[0] = ensure_sorted(tables[0])
    return tuple(tables)


def _warn_no_shared_ids(customers: pd.DataFrame, shared: bool, first_ids, stacklevel: int = 4) -> None:
    """Warn when no customer_id of ``customers`` is an event's (``first_ids``: the log's first three ids in
    the loader's order, named in the warning)."""
    if shared:
        return
    ev_ids = ", ".join(map(repr, first_ids))
    cu_ids = ", ".join(map(repr, customers["customer_id"].head(3)))
    warnings.warn(f"{customers.attrs.get('source', 'customers')}: no customer_id matches an event's "
                  f"(events: {ev_ids}, …; customers: {cu_ids}, …); customer attributes attach to no one",
                  DataWarning, stacklevel=stacklevel)


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
