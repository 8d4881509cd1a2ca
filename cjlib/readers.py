"""Readers for the exports people have: GA4's BigQuery export and Segment / RudderStack messages.

Each reader flattens its export into the event log of the data contract, resolves who is who (identity
stitching), gives each event the channel of its session by GA4's default channel group
(:func:`cjlib.channels.channel_group`), and hands the flat frame to the validation every event log goes
through (:func:`cjlib.io.events_from_frame`): the same rules, the same one-line :class:`cjlib.DataError`
naming the file, the column, the rule and example rows.

Both readers take one file or a folder of files (read recursively, in name order; names starting with
``.`` or ``_`` are skipped): Parquet, newline-delimited JSON or a JSON array (``.json``, ``.jsonl``,
``.ndjson``, each optionally ``.gz``). They return the columns of :data:`COLUMNS` that hold any value:

===================  =========================================================================================
``customer_id``      the known user id (GA4 ``user_id``, Segment ``userId``), else the anonymous id
                     (``user_pseudo_id``, ``anonymousId``), after stitching (below)
``timestamp``        naive UTC (GA4: ``event_timestamp``, microseconds since the epoch; Segment: the ISO 8601
                     ``timestamp``)
``event``            GA4 ``event_name``; Segment ``event`` of track calls, ``page_view`` for page calls and
                     ``screen_view`` for screen calls (identify, alias and group calls are no events)
``channel``          the session's channel (below)
``revenue``          GA4 ``ecommerce.purchase_revenue``; Segment ``properties.revenue``, else
                     ``properties.total``
``session_id``       GA4: ``user_pseudo_id`` and the ``ga_session_id`` parameter (unique per device, hence per
                     customer); Segment: ``anonymousId`` and RudderStack's ``context.sessionId``, else visits
                     cut by 30 minutes without an event (GA4's session timeout)
``page_location``    GA4 ``page_location`` parameter; Segment ``context.page.url`` (``properties.url``)
``device_category``  GA4 ``device.category``; Segment ``context.device.type``
``country``          GA4 ``geo.country``; Segment ``context.location.country``
``source``,          the session's traffic source as the channel grouping saw it: ``(direct)`` / ``(none)``
``medium``,          for direct visits, the referrer's host and ``referral`` for visits from another site
``campaign``
``item_count``       units of the event's items (GA4 ``ecommerce.total_item_quantity``, else the ``quantity``
                     of its ``items``; Segment: the ``quantity`` of ``properties.products``; 1 per item
                     without one); missing for events without items
===================  =========================================================================================

**Channels.** GA4 credits a session's events to the session's traffic source, so every event of a session
gets one channel: from the session's first event that carries campaign data (GA4:
``collected_traffic_source.manual_source`` / ``manual_medium`` / ``manual_campaign_name``, else the
``source`` / ``medium`` / ``campaign`` event parameters; Segment: ``context.campaign``; a Google Ads click id
without a source — GA4's ``gclid``, a ``gclid=`` in a Segment page URL — is ``google`` / ``cpc``, as
auto-tagging records it), else its first referrer from another site (GA4 ``page_referrer``, Segment
``context.page.referrer``), else Direct. Unlike GA4's reports, a direct session keeps Direct (GA4 credits
it to the user's last campaign): attribution sees every session's own touch. ``traffic_source`` (the
user's first source) is not used: it describes the user, not the session. The grouping approximates
GA4's own (:data:`cjlib.channels.GA4_NOTE`).

**Events left out.** Events with neither an anonymous nor a user id (GA4's cookieless pings) and Segment
messages whose ``messageId`` repeats an earlier one are dropped, with a :class:`cjlib.DataWarning`.

**Identity stitching.** An anonymous id that is ever seen with a known user id joins that customer: GA4
rows with ``user_id`` beside ``user_pseudo_id``; Segment identify calls (and any call) holding both
``userId`` and ``anonymousId``, and alias calls (``previousId`` → ``userId``, followed through chains).
An id linked to several users joins the first it was seen with. So the events before a login count in
the customer's journey. :class:`Stitching` counts what moved; :func:`cjlib.load_inputs` keeps it as
``Inputs.stitching``.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cjlib.errors import DataError, DataWarning, row_examples
from cjlib.paths import resolve

__all__ = ["FORMATS", "COLUMNS", "Stitching", "Export", "check_format", "load_export", "read_ga4",
           "read_segment"]

FORMATS = ("table", "ga4", "segment")
COLUMNS = ("customer_id", "timestamp", "event", "channel", "revenue", "session_id", "page_location",
           "device_category", "country", "source", "medium", "campaign", "item_count")
SESSION_GAP = pd.Timedelta("30min")  # GA4's default session timeout; Segment visits are cut by it
_KINDS = {".parquet": "parquet", ".pq": "parquet", ".json": "json", ".jsonl": "json", ".ndjson": "json"}
_NO_VALUE = ("", "(not set)", "(direct)", "(none)")  # GA4's placeholders: no source, medium or campaign
_HOST = r"^\s*(?:[A-Za-z][A-Za-z0-9+.\-]*:)?(?://)?(?:[^@/?#\s]*@)?(?:www\.)?(?P<host>[^:/?#\s]+)"
_GA4_DAY = re.compile(r"^events_(intraday_)?(\d{8})")


# ============================================================================================ results
@dataclass(frozen=True)
class Stitching:
    """What identity stitching did.

    Attributes
    ----------
    stitched_ids : int
        Ids whose events joined another customer: anonymous ids that logged in (and ids merged by alias).
    stitched_events : int
        Events that moved to a known customer with them.
    anonymous_ids : int
        Anonymous ids (``user_pseudo_id``, ``anonymousId``) with events.
    customers : int
        Customers after stitching.
    dropped_events : int
        Events with neither an anonymous nor a user id (e.g. GA4's cookieless pings), left out.
    """

    stitched_ids: int
    stitched_events: int
    anonymous_ids: int
    customers: int
    dropped_events: int = 0


@dataclass(frozen=True)
class Export:
    """An export read by :func:`load_export`: the validated event log and what stitching did."""

    events: pd.DataFrame
    stitching: Stitching
    events_format: str


# ============================================================================================ public API
def check_format(events_format: object) -> str:
    """``events_format`` in lower case (``""`` and ``None`` mean ``"table"``), else :class:`DataError`
    (parameter ``events_format``, rule ``events_format``).

    Parameters
    ----------
    events_format : object
        The requested format: one of :data:`FORMATS` in any case, ``""`` or ``None``.

    Returns
    -------
    str
        ``"table"``, ``"ga4"`` or ``"segment"``.

    Examples
    --------
    >>> check_format("GA4"), check_format("")
    ('ga4', 'table')
    """
    if events_format is None or (isinstance(events_format, str) and not events_format.strip()):
        return "table"
    if isinstance(events_format, str) and events_format.strip().lower() in FORMATS:
        return events_format.strip().lower()
    raise DataError(f"must be one of {', '.join(FORMATS)}, got {events_format!r}", parameter="events_format",
                    rule="events_format")


def load_export(path: str | Path, events_format: str, columns: Mapping[str, str] | None = None, *,
                rules=None, stage_map=None, keep_duplicates: bool = False) -> Export:
    """Read a GA4 or Segment export into the validated event log, and count what stitching did.

    Parameters
    ----------
    path : str or Path
        A file or a folder of files (see the module); relative paths as :func:`cjlib.paths.resolve`.
    events_format : {"ga4", "segment"}
    columns : mapping, optional
        Contract name → a column of the flattened log (:data:`COLUMNS`), applied after flattening; an
        entry naming a column the reader fills replaces it (``{"channel": "medium"}`` makes the raw medium
        the channel).
    rules : str, Path or ChannelRules, optional
        Channel rules (:func:`cjlib.channels.load_rules`); default GA4's default channel group.
    stage_map, keep_duplicates
        As for :func:`cjlib.load_events`.

    Returns
    -------
    Export

    Raises
    ------
    DataError
        A missing, empty or unreadable file (rules ``file_exists``, ``empty_input``, ``file_type``,
        ``readable``), a missing field (``missing_column``, naming the export's field), a timestamp or
        amount that is no number (``numeric``), and everything :func:`cjlib.load_events` checks.
    """
    from cjlib.io import events_from_frame

    fmt = check_format(events_format)
    if fmt == "table":
        raise DataError("load_export reads ga4 or segment exports; use cjlib.load_events for a table",
                        parameter="events_format", rule="events_format")
    files, name = _files(path, fmt)
    flat, stitching = (_ga4 if fmt == "ga4" else _segment)(files, name, rules)
    flat = flat[[c for c in COLUMNS if c in flat.columns and (c in ("customer_id", "timestamp", "event")
                                                              or flat[c].notna().any())]]
    events = events_from_frame(flat, name, {k: v for k, v in (columns or {}).items() if k != "timestamp_format"},
                               stage_map=stage_map, keep_duplicates=keep_duplicates, replace=True)
    return Export(events, stitching, fmt)


def read_ga4(path: str | Path, *, rules=None, stage_map=None, keep_duplicates: bool = False) -> pd.DataFrame:
    """A GA4 BigQuery export (``events_YYYYMMDD`` tables as Parquet or newline-delimited JSON, one file or
    a folder) as the validated event log of the data contract (columns: see :mod:`cjlib.readers`).

    ``rules`` are channel rules (default GA4's default channel group). Stitching counts:
    :func:`load_export` or ``cjlib.load_inputs(..., events_format="ga4").stitching``.

    Parameters
    ----------
    path : str or Path
        The export file or folder.
    rules : str, Path or ChannelRules, optional
        Channel rules (:func:`cjlib.channels.load_rules`); default GA4's default channel group.
    stage_map : StageMap, optional
        Used to count events it does not name (default: ``data/stage_map.yml``).
    keep_duplicates : bool, default False
        Keep exact duplicate rows instead of dropping them.

    Returns
    -------
    DataFrame
        The event log (``load_export(path, "ga4", ...).events``).
    """
    return load_export(path, "ga4", rules=rules, stage_map=stage_map, keep_duplicates=keep_duplicates).events


def read_segment(path: str | Path, *, rules=None, stage_map=None, keep_duplicates: bool = False) -> pd.DataFrame:
    """A Segment or RudderStack export (messages as newline-delimited JSON or a JSON array, one file or a
    folder) as the validated event log of the data contract (columns: see :mod:`cjlib.readers`).

    ``rules`` are channel rules (default GA4's default channel group). Stitching counts:
    :func:`load_export` or ``cjlib.load_inputs(..., events_format="segment").stitching``.

    Parameters
    ----------
    path : str or Path
        The export file or folder.
    rules : str, Path or ChannelRules, optional
        Channel rules (:func:`cjlib.channels.load_rules`); default GA4's default channel group.
    stage_map : StageMap, optional
        Used to count events it does not name (default: ``data/stage_map.yml``).
    keep_duplicates : bool, default False
        Keep exact duplicate rows instead of dropping them.

    Returns
    -------
    DataFrame
        The event log (``load_export(path, "segment", ...).events``).
    """
    return load_export(path, "segment", rules=rules, stage_map=stage_map, keep_duplicates=keep_duplicates).events


# ============================================================================================ files
def _kind(f: Path) -> str | None:
    name = f.name.lower()
    name = name[:-3] if name.endswith(".gz") else name
    return _KINDS.get(Path(name).suffix)


def _files(path: object, fmt: str) -> tuple[list[Path], str]:
    """The files of an export (a file, or a folder's files in name order) and the name errors show."""
    what = f"{fmt} export"
    if path is None or (isinstance(path, str) and not path.strip()):
        raise DataError(f"no {what} given: events_path is required", parameter="events_path", rule="file_exists")
    p = resolve(path)
    if not p.exists():
        raise DataError(f"{what} not found", file=str(p), rule="file_exists")
    if not p.is_dir():
        if _kind(p) is None:
            raise DataError(f"unsupported file type {p.suffix!r} for a {what}: use .parquet, .json, .jsonl or "
                            ".ndjson (optionally .gz), or a folder of them", file=str(p), rule="file_type")
        return [p], str(p)
    files = sorted((f for f in p.rglob("*") if f.is_file() and _kind(f)
                    and not any(part.startswith((".", "_")) for part in f.relative_to(p).parts)),
                   key=lambda f: str(f.relative_to(p)))
    if fmt == "ga4":  # an intraday table whose day also has its daily table is a partial copy of it
        daily = {m.group(2) for f in files if (m := _GA4_DAY.match(f.name)) and not m.group(1)}
        files = [f for f in files if not ((m := _GA4_DAY.match(f.name)) and m.group(1) and m.group(2) in daily)]
    if not files:
        raise DataError(f"{what} folder holds no .parquet, .json, .jsonl or .ndjson files", file=str(p),
                        rule="empty_input")
    return files, str(p)


def _read(f: Path):
    """One file as an Arrow table (nested records stay nested)."""
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    try:
        if _kind(f) == "parquet":
            table = pq.read_table(f)
        else:
            with pa.input_stream(str(f), compression="detect") as stream:
                data = stream.read()
            start = data.lstrip()[:1]
            if not start:
                raise DataError("the file is empty", file=str(f), rule="empty_input")
            if start == b"[":
                rows = json.loads(data)
                if not all(isinstance(r, dict) for r in rows):
                    raise DataError("a JSON array of events must hold objects only", file=str(f), rule="readable")
                table = pa.Table.from_pylist(rows)
            else:
                opts = pj.ReadOptions(block_size=int(min(max(len(data) + 1, 1 << 20), 2**31 - 1)))
                table = pj.read_json(pa.BufferReader(data), read_options=opts)
    except DataError:
        raise
    except UnicodeDecodeError as exc:
        raise DataError(f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(f),
                        rule="encoding") from None
    except Exception as exc:  # corrupt Parquet, malformed JSON, a field whose type changes between events
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read the export: {first}", file=str(f), rule="readable") from None
    if table.num_rows == 0:
        raise DataError("the file has no events", file=str(f), rule="empty_input")
    return table


# ============================================================================================ fields
def _get(table, path: str):
    """The Arrow array at a dotted path of nested records (``"device.category"``), ``None`` when absent. A
    flat column named by the path itself (``device.category`` or ``device_category``) also counts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = table.column_names
    head, *rest = path.split(".")
    if head not in names:
        flat = next((n for n in (path, path.replace(".", "_")) if n in names), None)
        return table.column(flat).combine_chunks() if flat else None
    arr = table.column(head).combine_chunks()
    for part in rest:
        if not pa.types.is_struct(arr.type) or arr.type.get_field_index(part) < 0:
            return None
        arr = pc.struct_field(arr, part)
    return arr


def _text(arr, n: int) -> pd.Series:
    """Text values (numbers written as text; ``""`` and GA4's ``(not set)`` placeholders missing)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if arr is None or pa.types.is_null(arr.type):
        return pd.Series(np.full(n, np.nan), dtype="str")
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    arr = pc.utf8_trim_whitespace(arr)
    placeholder = pc.fill_null(pc.is_in(pc.utf8_lower(arr), value_set=pa.array(_NO_VALUE)), False)
    arr = pc.if_else(placeholder, pa.scalar(None, arr.type), arr)
    return pd.Series(pd.StringDtype("pyarrow", na_value=np.nan).__from_arrow__(arr))


def _pick(table, n: int, *paths: str) -> pd.Series:
    """The text at the first of ``paths`` that holds a value, row by row."""
    out = _text(None, n)
    for path in paths:
        out = out.fillna(_text(_get(table, path), n))
    return out


def _number(arr, n: int, file: str, field: str) -> pd.Series:
    """Numbers (BigQuery writes INT64 as JSON text); a value that is no number raises :class:`DataError`."""
    import pyarrow as pa

    if arr is None or pa.types.is_null(arr.type):
        return pd.Series(np.full(n, np.nan))
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        return pd.Series(arr.to_pandas(), dtype="float64")
    raw = pd.Series(arr.to_pandas(), dtype="str").str.strip()
    out = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = (out.isna() & raw.notna() & (raw != "")).to_numpy()
    if bad.any():
        raise DataError(f"{int(bad.sum()):,} value(s) are not numbers", file=file, column=field, rule="numeric",
                        examples=row_examples(raw.rename(field).to_frame(), bad, [field]))
    return out


def _host(urls: pd.Series) -> pd.Series:
    """The lower-case host of each URL, without ``www.`` (Arrow's vectorized regex)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(urls.to_numpy(dtype=object, na_value=None), type=pa.string())
    host = pc.struct_field(pc.extract_regex(pc.utf8_lower(arr), _HOST), "host")
    return pd.Series(pd.StringDtype("pyarrow", na_value=np.nan).__from_arrow__(host), index=urls.index)


def _list_rows(lst):
    """(parent row of each element, the flattened elements) of an Arrow list array."""
    import pyarrow.compute as pc

    return pc.list_parent_indices(lst).to_numpy(), pc.list_flatten(lst)


def _units(items, n: int, file: str, field: str) -> pd.Series:
    """Units per row of a list of item records: the sum of their ``quantity`` (1 where missing); missing
    for rows without items."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if items is None or not (pa.types.is_list(items.type) or pa.types.is_large_list(items.type)):
        return pd.Series(np.full(n, np.nan))
    rows, flat = _list_rows(items)
    qty = pc.struct_field(flat, "quantity") if pa.types.is_struct(flat.type) and \
        flat.type.get_field_index("quantity") >= 0 else None
    q = _number(qty, len(flat), file, f"{field}.quantity").fillna(1.0).to_numpy()
    out = np.bincount(rows, weights=q, minlength=n).astype(float)
    out[np.bincount(rows, minlength=n) == 0] = np.nan
    return pd.Series(out)


# ============================================================================================ GA4
_GA4_TEXT_PARAMS = ("page_location", "page_referrer", "source", "medium", "campaign", "gclid")


def _ga4_params(table, file: str) -> dict[str, pd.Series]:
    """The event parameters the reader uses, one column each (``ga_session_id`` a number)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = table.num_rows
    params = _get(table, "event_params")
    out = {k: _text(None, n) for k in _GA4_TEXT_PARAMS}
    out["ga_session_id"] = pd.Series(np.full(n, np.nan))
    if params is None or not (pa.types.is_list(params.type) or pa.types.is_large_list(params.type)):
        return out
    rows, flat = _list_rows(params)
    if not pa.types.is_struct(flat.type) or flat.type.get_field_index("key") < 0:
        raise DataError("event_params must be a list of {key, value} records", file=file, column="event_params",
                        rule="ga4_schema")
    keys = _text(pc.struct_field(flat, "key"), len(flat)).to_numpy(dtype=object, na_value=None)
    value = pc.struct_field(flat, "value") if flat.type.get_field_index("value") >= 0 else None

    def field(name: str):
        ok = value is not None and value.type.get_field_index(name) >= 0
        return pc.struct_field(value, name) if ok else None

    m = len(flat)
    as_text = _text(field("string_value"), m)
    for other in ("int_value", "double_value", "float_value"):
        as_text = as_text.fillna(_text(field(other), m))
    as_number = _number(field("int_value"), m, file, "event_params.value.int_value")
    for other in ("double_value", "float_value"):
        as_number = as_number.fillna(_number(field(other), m, file, f"event_params.value.{other}"))
    for key in (*_GA4_TEXT_PARAMS, "ga_session_id"):
        at = np.flatnonzero(keys == key)
        if not len(at):
            continue
        col = as_number if key == "ga_session_id" else as_text
        target = out[key].copy()
        target.iloc[rows[at]] = col.iloc[at].to_numpy()  # a key repeated on one event: the last one counts
        out[key] = target
    return out


def _ga4_table(table, file: str) -> pd.DataFrame:
    """One GA4 export file flattened: one row per event, raw fields, before sessions and stitching."""
    n = table.num_rows
    for req in ("event_timestamp", "event_name", "user_pseudo_id"):
        if _get(table, req) is None:
            raise DataError(f"the GA4 export has no '{req}' field (fields: {', '.join(table.column_names[:12])})",
                            file=file, column=req, rule="missing_column")
    ts = _number(_get(table, "event_timestamp"), n, file, "event_timestamp")
    p = _ga4_params(table, file)

    def pick(*paths: str) -> pd.Series:
        return _pick(table, n, *paths)

    units = _number(_get(table, "ecommerce.total_item_quantity"), n, file, "ecommerce.total_item_quantity")
    return pd.DataFrame({
        "anonymous_id": _text(_get(table, "user_pseudo_id"), n),
        "user_id": _text(_get(table, "user_id"), n),
        "ts_us": ts,
        "event": _text(_get(table, "event_name"), n),
        "ga_session_id": p["ga_session_id"],
        "page_location": p["page_location"],
        "referrer": p["page_referrer"],
        "utm_source": pick("collected_traffic_source.manual_source").fillna(p["source"]),
        "utm_medium": pick("collected_traffic_source.manual_medium").fillna(p["medium"]),
        "utm_campaign": pick("collected_traffic_source.manual_campaign_name").fillna(p["campaign"]),
        "gclid": pick("collected_traffic_source.gclid").fillna(p["gclid"]),
        "revenue": _number(_get(table, "ecommerce.purchase_revenue"), n, file, "ecommerce.purchase_revenue"),
        "item_count": units.fillna(_units(_get(table, "items"), n, file, "items")),
        "device_category": pick("device.category"),
        "country": pick("geo.country"),
    })


def _ga4(files: list[Path], name: str, rules) -> tuple[pd.DataFrame, Stitching]:
    """Every file of a GA4 export flattened, sessions and channels resolved, identities stitched."""
    raw = pd.concat([_ga4_table(_read(f), str(f)) for f in files], ignore_index=True)
    if raw["ts_us"].isna().any():
        bad = raw["ts_us"].isna().to_numpy()
        raise DataError(f"{int(bad.sum()):,} event(s) have no event_timestamp", file=name, column="event_timestamp",
                        rule="not_null", examples=row_examples(raw, bad, ["anonymous_id", "user_id", "event"]))
    raw["timestamp"] = pd.to_datetime(raw["ts_us"].round().astype("int64"), unit="us")
    raw = _drop_idless(raw, name)
    session = raw["ga_session_id"].astype("Int64").astype("str")
    raw["session_id"] = (raw["anonymous_id"] + ":" + session).where(raw["ga_session_id"].notna())
    customer, stitching = _stitch(raw["anonymous_id"], raw["user_id"], _links(raw, raw["anonymous_id"]),
                                  int(raw.attrs.get("dropped", 0)))
    return _finish(raw, customer, rules), stitching


# ============================================================================================ Segment
def _segment_table(table, file: str) -> pd.DataFrame:
    """One Segment / RudderStack file flattened: one row per message, raw fields."""
    n = table.num_rows
    for req in ("type", "timestamp"):
        if _get(table, req) is None:
            raise DataError(f"the Segment export has no '{req}' field (fields: "
                            f"{', '.join(table.column_names[:12])})", file=file, column=req, rule="missing_column")
    if _get(table, "anonymousId") is None and _get(table, "userId") is None:
        raise DataError("the Segment export has neither 'anonymousId' nor 'userId'", file=file,
                        column="anonymousId", rule="missing_column")

    def pick(*paths: str) -> pd.Series:
        return _pick(table, n, *paths)

    revenue = _number(_get(table, "properties.revenue"), n, file, "properties.revenue")
    total = _number(_get(table, "properties.total"), n, file, "properties.total")
    return pd.DataFrame({
        "message_id": pick("messageId"),
        "type": pick("type").str.lower(),
        "anonymous_id": pick("anonymousId"),
        "user_id": pick("userId"),
        "previous_id": pick("previousId"),
        "ts_text": pick("timestamp"),
        "event": pick("event"),
        "context_session": pick("context.sessionId"),
        "page_location": pick("context.page.url", "properties.url"),
        "referrer": pick("context.page.referrer", "properties.referrer"),
        "utm_source": pick("context.campaign.source"),
        "utm_medium": pick("context.campaign.medium"),
        "utm_campaign": pick("context.campaign.name"),
        "gclid": pick("context.page.url", "properties.url").where(lambda u: u.str.contains(r"[?&]gclid=", regex=True)),
        "revenue": revenue.fillna(total),
        "item_count": _units(_get(table, "properties.products"), n, file, "properties.products"),
        "device_category": pick("context.device.type"),
        "country": pick("context.location.country"),
    })


def _segment(files: list[Path], name: str, rules) -> tuple[pd.DataFrame, Stitching]:
    """Every file of a Segment export flattened, identities stitched, sessions and channels resolved."""
    from cjlib.timestamps import parse_timestamps

    raw = pd.concat([_segment_table(_read(f), str(f)) for f in files], ignore_index=True)
    dup = (raw["message_id"].notna() & raw["message_id"].duplicated()).to_numpy()
    if dup.any():  # Segment delivers at least once; messageId is its deduplication key
        warnings.warn(f"{name}: dropped {int(dup.sum()):,} message(s) whose messageId repeats an earlier one",
                      DataWarning, stacklevel=4)
        raw = raw.loc[~dup].reset_index(drop=True)
    raw["timestamp"] = parse_timestamps(raw["ts_text"], file=name, column="timestamp")
    kind = raw["type"]
    alias = raw.loc[kind == "alias"]
    links = pd.concat([_links(raw, raw["anonymous_id"]),
                       pd.DataFrame({"from": alias["previous_id"], "to": alias["user_id"],
                                     "timestamp": alias["timestamp"]})], ignore_index=True)
    unknown = sorted(set(kind.dropna()) - {"track", "page", "screen", "identify", "alias", "group"})
    if unknown or kind.isna().any():
        bad = (~kind.isin(["track", "page", "screen", "identify", "alias", "group"])).to_numpy()
        raise DataError(f"{int(bad.sum()):,} message(s) have a type that is none of track, page, screen, identify, "
                        f"alias, group", file=name, column="type", rule="segment_type",
                        examples=row_examples(raw, bad, ["type", "event", "anonymous_id", "user_id"]))
    raw["event"] = raw["event"].mask(kind == "page", "page_view").mask(kind == "screen", "screen_view")
    missing = ((kind == "track") & raw["event"].isna()).to_numpy()
    if missing.any():
        raise DataError(f"{int(missing.sum()):,} track call(s) have no event name", file=name, column="event",
                        rule="not_null", examples=row_examples(raw, missing, ["type", "anonymous_id", "ts_text"]))
    raw = raw.loc[kind.isin(["track", "page", "screen"]).to_numpy()].reset_index(drop=True)
    raw = _drop_idless(raw, name)
    device = raw["anonymous_id"].fillna(raw["user_id"])
    raw["session_id"] = _segment_sessions(raw, device)
    customer, stitching = _stitch(raw["anonymous_id"], raw["user_id"], links, int(raw.attrs.get("dropped", 0)))
    return _finish(raw, customer, rules), stitching


def _segment_sessions(raw: pd.DataFrame, device: pd.Series) -> pd.Series:
    """Session per message: the device and RudderStack's ``context.sessionId`` where given, else the
    device's visits cut by :data:`SESSION_GAP` without a message."""
    order = np.lexsort((raw["timestamp"].to_numpy(), pd.factorize(device)[0]))
    dev = device.to_numpy(dtype=object)[order]
    ts = raw["timestamp"].to_numpy()[order].astype("datetime64[ns]").view(np.int64)
    new = np.ones(len(order), dtype=bool)
    new[1:] = (dev[1:] != dev[:-1]) | ((ts[1:] - ts[:-1]) > SESSION_GAP.value)
    number = np.empty(len(order), dtype=np.int64)
    number[order] = np.cumsum(new) - 1
    visit = device + ":v" + pd.Series(number, index=raw.index).astype("str")
    return (device + ":" + raw["context_session"]).fillna(visit)


# ============================================================================================ shared
def _drop_idless(raw: pd.DataFrame, name: str) -> pd.DataFrame:
    """Events with neither an anonymous nor a user id are left out (warned about, counted)."""
    idless = (raw["anonymous_id"].isna() & raw["user_id"].isna()).to_numpy()
    out = raw.loc[~idless].reset_index(drop=True) if idless.any() else raw
    if idless.any():
        warnings.warn(f"{name}: left out {int(idless.sum()):,} event(s) with neither an anonymous nor a user id "
                      f"(e.g. cookieless pings): they belong to no customer", DataWarning, stacklevel=4)
        if len(out) == 0:
            raise DataError("no event has an anonymous or a user id", file=name, column="customer_id",
                            rule="empty_input")
    out.attrs["dropped"] = int(idless.sum())
    return out


def _links(raw: pd.DataFrame, anonymous: pd.Series) -> pd.DataFrame:
    """(anonymous id → user id, when) for every row holding both."""
    both = (anonymous.notna() & raw["user_id"].notna()).to_numpy()
    return pd.DataFrame({"from": anonymous[both], "to": raw["user_id"][both], "timestamp": raw["timestamp"][both]})


def _stitch(anonymous: pd.Series, user: pd.Series, links: pd.DataFrame, dropped: int) -> tuple[pd.Series, Stitching]:
    """Customer id per row: the row's user id, else the user its anonymous id was first seen with; links
    are followed through chains (alias calls make them: anonymous → user → a later user id)."""
    links = links.dropna(subset=["from", "to"])
    links = links.loc[(links["from"] != links["to"]).to_numpy()]
    first = links.sort_values("timestamp", kind="stable", na_position="last").drop_duplicates("from")
    target = pd.Series(first["to"].to_numpy(dtype=object), index=first["from"].to_numpy(dtype=object))
    own = user.fillna(anonymous)  # whom each event names
    codes, uniq = pd.factorize(own)
    ids = pd.Series(np.asarray(uniq, dtype=object))
    for _ in range(32):  # each round follows one link; a cycle of aliases stops after 32
        nxt = ids.map(target)
        moved = (nxt.notna() & (nxt != ids)).to_numpy()
        if not moved.any():
            break
        ids = nxt.where(moved, ids)
    customer = pd.Series(ids.to_numpy()[codes], index=own.index, dtype="str")
    moved_rows = (customer != own).to_numpy()
    return customer, Stitching(stitched_ids=int(own[moved_rows].nunique()), stitched_events=int(moved_rows.sum()),
                               anonymous_ids=int(anonymous.nunique()), customers=int(customer.nunique()),
                               dropped_events=dropped)


def _first_in_session(codes: np.ndarray, order: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Rows where ``mask`` holds that come first in their session (``order``: rows by session, then time)."""
    rows = order[mask[order]]
    return rows[~pd.Series(codes[rows]).duplicated().to_numpy()]


def _finish(raw: pd.DataFrame, customer: pd.Series, rules) -> pd.DataFrame:
    """The flat event log: each session's traffic source found (see the module), grouped into channels."""
    from cjlib.channels import channel_group

    n = len(raw)
    key = raw["session_id"].fillna("row:" + pd.Series(np.arange(n), index=raw.index).astype("str"))
    codes, uniq = pd.factorize(key)
    m = len(uniq)
    order = np.lexsort((raw["timestamp"].to_numpy(), codes))
    auto = (raw["gclid"].notna() & raw["utm_source"].isna() & raw["utm_medium"].isna()).to_numpy()
    source = raw["utm_source"].mask(auto, "google")
    medium = raw["utm_medium"].mask(auto, "cpc")
    referrer = np.flatnonzero(raw["referrer"].notna().to_numpy())  # hosts are compared only where needed
    ref_host = pd.Series(np.nan, index=raw.index, dtype="str")
    ref_host.iloc[referrer] = _host(raw["referrer"].iloc[referrer]).to_numpy()
    page_host = _host(raw["page_location"].iloc[referrer]).to_numpy(dtype=object, na_value=None)
    external = np.zeros(n, dtype=bool)
    external[referrer] = ref_host.iloc[referrer].notna().to_numpy() & (
        ref_host.iloc[referrer].to_numpy(dtype=object, na_value=None) != page_host)

    s = pd.DataFrame({c: pd.Series(pd.NA, index=range(m), dtype="str")
                      for c in ("source", "medium", "campaign", "referrer")})
    tagged = _first_in_session(codes, order, (source.notna() | medium.notna()).to_numpy())
    at = codes[tagged]
    for col, values in (("source", source), ("medium", medium), ("campaign", raw["utm_campaign"])):
        s.iloc[at, s.columns.get_loc(col)] = values.to_numpy(dtype=object)[tagged]
    has_tag = np.zeros(m, dtype=bool)
    has_tag[at] = True
    referred = _first_in_session(codes, order, external)
    referred = referred[~has_tag[codes[referred]]]
    at = codes[referred]
    s.iloc[at, s.columns.get_loc("referrer")] = raw["referrer"].to_numpy(dtype=object)[referred]
    channel = channel_group(s["source"], s["medium"], s["campaign"], referrer=s["referrer"], rules=rules)
    s.iloc[at, s.columns.get_loc("source")] = ref_host.to_numpy(dtype=object)[referred]  # as GA4 records them
    s.iloc[at, s.columns.get_loc("medium")] = "referral"
    direct = (s["source"].isna() & s["medium"].isna()).to_numpy()
    s.loc[direct, "source"], s.loc[direct, "medium"] = "(direct)", "(none)"

    def per_row(values) -> np.ndarray:
        return np.asarray(values, dtype=object)[codes]

    return pd.DataFrame({
        "customer_id": customer.to_numpy(),
        "timestamp": raw["timestamp"].to_numpy(),
        "event": raw["event"].to_numpy(),
        "channel": per_row(channel),
        "revenue": raw["revenue"].to_numpy(dtype=float),
        "session_id": raw["session_id"].to_numpy(),
        "page_location": raw["page_location"].to_numpy(),
        "device_category": raw["device_category"].to_numpy(),
        "country": raw["country"].to_numpy(),
        "source": per_row(s["source"]),
        "medium": per_row(s["medium"]),
        "campaign": per_row(s["campaign"]),
        "item_count": raw["item_count"].to_numpy(dtype=float),
    }).astype({c: "str" for c in ("customer_id", "event", "channel", "session_id", "page_location",
                                   "device_category", "country", "source", "medium", "campaign")})
