"""Journeys from an event log: the touches before each conversion (or stage transition), as a paths table.

:func:`paths_from_events` builds the paths table of :mod:`~cjlib.attribution.paths` from an event log, for all
conversions or for one stage transition; :func:`journey_paths` returns it in a :class:`JourneyPaths` with the
conversions left out for want of a touch. :func:`_journeys` (touches grouped into journeys, :class:`_Journeys`)
is shared with :func:`~cjlib.attribution.time_decay`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjlib.attribution.distributed import is_partitioned, log_columns
from cjlib.attribution.paths import _join_paths, _parse_stage, _stage_map, _timedelta_ns
from cjlib.errors import DataError
from cjlib.io import categories_used, ensure_sorted
from cjlib.journeys import customer_groups


def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(values, sort=True)``; a categorical's own codes when its categories are sorted."""
    if isinstance(values.dtype, pd.CategoricalDtype) and values.cat.categories.is_monotonic_increasing \
            and categories_used(values).all():
        return values.cat.codes.to_numpy().astype(np.int64), values.cat.categories
    return pd.factorize(values, sort=True)


def _occurrence_rows(mask: np.ndarray, grp: np.ndarray, n_groups: int, nth: int) -> np.ndarray:
    """Per customer, the row of the ``nth`` True of ``mask`` (-1 when there is none)."""
    cs = np.cumsum(mask)
    first = np.r_[True, grp[1:] != grp[:-1]] if len(grp) else np.zeros(0, bool)
    before = (cs - mask)[first]  # count before each customer's first row
    occ = cs - before[grp]
    rows = np.flatnonzero(mask & (occ == nth))
    out = np.full(n_groups, -1, dtype=np.int64)
    out[grp[rows]] = rows
    return out


@dataclass(frozen=True)
class _Journeys:
    """Touches grouped into journeys, from an event log."""

    names: np.ndarray  # touch labels (object), code → name
    tok: np.ndarray  # code of each touch, journeys contiguous, in time order
    jid: np.ndarray  # journey of each touch (0..n_journeys-1, non-decreasing)
    touch_ts: np.ndarray  # ns
    converted: np.ndarray  # per journey
    value: np.ndarray | None
    end_ts: np.ndarray  # conversion time (ns) of converting journeys, last touch of the others
    customer: np.ndarray  # customer code of each journey
    conversions_without_touches: int


@dataclass(frozen=True)
class _Log:
    """The columns of a sorted event log that journeys are built from, as arrays (one entry per row)."""

    n: int
    customer: np.ndarray  # customer code of each row (0..n_customers-1, non-decreasing)
    customer_start: np.ndarray  # first row of each customer
    ts: np.ndarray  # exact integer ns
    event_codes: np.ndarray
    event_names: np.ndarray  # object, code → name
    touch_codes: np.ndarray  # -1 where the row has no touch
    touch_names: np.ndarray  # object, code → name
    revenue: np.ndarray | None  # NaN → 0; None when the log has no revenue column

    @property
    def n_customers(self) -> int:
        return len(self.customer_start)

    @property
    def has_touch(self) -> np.ndarray:
        return self.touch_codes >= 0

    def is_event(self, names) -> np.ndarray:
        """Rows whose event is one of ``names`` (matched over the distinct names, then their codes)."""
        hit = np.isin(self.event_names, np.asarray(list(names), dtype=object))
        return hit[self.event_codes] & (self.event_codes >= 0) if len(hit) else np.zeros(self.n, bool)


def _log_arrays(events: pd.DataFrame, touch_col: str) -> _Log:
    ev = ensure_sorted(events)
    customer_start, customer = customer_groups(ev)
    ecodes, enames = _factorize(ev["event"])
    tcodes, tnames = _factorize(ev[touch_col])
    revenue = None
    if "revenue" in ev.columns:
        revenue = np.nan_to_num(ev["revenue"].to_numpy(dtype=float, na_value=np.nan), nan=0.0)
    return _Log(n=len(ev), customer=customer, customer_start=customer_start,
                ts=ev["timestamp"].to_numpy().astype("datetime64[ns]", copy=False).view(np.int64),
                event_codes=ecodes, event_names=np.asarray(pd.Index(enames).astype(str), dtype=object),
                touch_codes=tcodes, touch_names=np.asarray(tnames.astype(str), dtype=object), revenue=revenue)


@dataclass(frozen=True)
class _Touches:
    """Which touch rows make journeys: those before a conversion (``converting``, keyed by the conversion's
    row ``target``) and those of customers after their last conversion (``tail``)."""

    converting: np.ndarray  # row mask: a touch of a converting journey, within the window of its conversion
    target: np.ndarray  # per row: the row of the conversion its converting journey ends at
    tail: np.ndarray  # row mask: a touch with no later conversion (window not applied yet)
    conversion_rows: np.ndarray  # sorted rows of every conversion


def _conversion_touches(log: _Log, conversion_events: tuple[str, ...], window: int) -> _Touches:
    """Conversion mode: each conversion ends the journey of the touches since the previous one."""
    rows = np.arange(log.n)
    is_conv = log.is_event(conversion_events)
    is_touch = log.has_touch & ~is_conv
    # next conversion row at or after each row (n where none), and whether it is the same customer's
    candidate = np.where(is_conv, rows, log.n)
    next_conv = np.minimum.accumulate(candidate[::-1])[::-1] if log.n else candidate
    customer_end = np.r_[log.customer_start[1:], log.n][log.customer]
    has_next = next_conv < customer_end
    t_conv = log.ts[np.minimum(next_conv, max(log.n - 1, 0))]
    return _Touches(converting=is_touch & has_next & (t_conv - log.ts <= window), target=next_conv,
                    tail=is_touch & ~has_next, conversion_rows=np.flatnonzero(is_conv))


def _stage_touches(log: _Log, sm, stage, window: int) -> _Touches:
    """Stage mode: from the row reaching the source stage up to the row reaching the target stage."""
    src, tgt = (sm.stage(s) for s in _parse_stage(stage, sm))
    src_row = _occurrence_rows(log.is_event(src.events), log.customer, log.n_customers, src.nth)
    tgt_row = _occurrence_rows(log.is_event(tgt.events), log.customer, log.n_customers, tgt.nth)
    at_risk = (src_row >= 0) & ((tgt_row < 0) | (tgt_row > src_row))
    converted = at_risk & (tgt_row >= 0)  # per customer
    rows = np.arange(log.n)
    target = tgt_row[log.customer]
    after_source = log.has_touch & at_risk[log.customer] & (rows >= src_row[log.customer])
    before_target = after_source & converted[log.customer] & (rows < target)
    t_target = log.ts[np.maximum(target, 0)]
    return _Touches(converting=before_target & (t_target - log.ts <= window), target=target,
                    tail=after_source & ~converted[log.customer], conversion_rows=tgt_row[converted])


def _check_columns(events, touch_col: str) -> None:
    """The columns journeys need, on a pandas or partitioned log (a missing one: :class:`DataError`)."""
    cols = set(log_columns(events))
    for c in ("customer_id", "timestamp", "event", touch_col):
        if c not in cols:
            raise DataError(f"events lack the column {c!r}", column=c, rule="missing_column")


def _journeys(events, *, conversion_events, window, touch_col, stage, stage_map, collapse_repeats) -> _Journeys:
    """Touches grouped into journeys (see :func:`paths_from_events` for the two modes)."""
    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"events must be a DataFrame, got {type(events)}")
    _check_columns(events, touch_col)
    window = _timedelta_ns(window, "window")
    sm = _stage_map(stage_map)
    log = _log_arrays(events, touch_col)
    if stage is None:
        conv_ev = sm.conversion_events if conversion_events is None else (
            (conversion_events,) if isinstance(conversion_events, str) else tuple(conversion_events))
        if not conv_ev:
            raise ValueError("conversion_events must name at least one event")
        touches = _conversion_touches(log, conv_ev, window)
    else:
        touches = _stage_touches(log, sm, stage, window)
    # a non-converting journey: a customer's tail touches within the window of the last of them
    tail = touches.tail
    last_tail_ts = np.full(log.n_customers, int(log.ts.min()) if log.n else 0, dtype=np.int64)
    np.maximum.at(last_tail_ts, log.customer[tail], log.ts[tail])
    in_tail = tail & (last_tail_ts[log.customer] - log.ts <= window)
    # journey key of each row: its conversion's row, or n + customer for the non-converting journey
    key = np.where(touches.converting, touches.target, log.n + log.customer)
    selected = np.flatnonzero(touches.converting | in_tail)
    return _group_journeys(log, key, selected, touches.conversion_rows, last_tail_ts, collapse_repeats)


def _group_journeys(log: _Log, key: np.ndarray, selected: np.ndarray, conversion_rows: np.ndarray,
                    last_tail_ts: np.ndarray, collapse_repeats: bool) -> _Journeys:
    """Order the selected touch rows into journeys by key (rows < n: a conversion's row) and describe each."""
    order = selected[np.argsort(key[selected], kind="stable")]
    k, tok, touch_ts = key[order], log.touch_codes[order].astype(np.int64), log.ts[order]
    if collapse_repeats and len(k):
        keep = np.r_[True, (k[1:] != k[:-1]) | (tok[1:] != tok[:-1])]
        k, tok, touch_ts = k[keep], tok[keep], touch_ts[keep]
    new_journey = np.r_[True, k[1:] != k[:-1]] if len(k) else np.zeros(0, bool)  # k is sorted: journeys are runs
    jid, journey_key = np.cumsum(new_journey) - 1, k[new_journey]
    converted = journey_key < log.n
    conv_row = journey_key[converted]  # conversion_rows is sorted: search it for each converting journey
    at = np.searchsorted(conversion_rows, conv_row) if len(conversion_rows) else np.zeros(0, int)
    row = conversion_rows[at]
    value = np.zeros(len(journey_key))
    end = np.zeros(len(journey_key), dtype=np.int64)
    cust = np.zeros(len(journey_key), dtype=np.int64)
    if log.revenue is not None:
        value[converted] = log.revenue[row]
    end[converted] = log.ts[row]
    cust[converted] = log.customer[row]
    cust[~converted] = journey_key[~converted] - log.n
    end[~converted] = last_tail_ts[cust[~converted]]
    without = int(len(conversion_rows) - converted.sum())
    return _Journeys(log.touch_names, tok, jid.astype(np.int64), touch_ts, converted,
                     value if log.revenue is not None else None, end, cust, without)


def paths_from_events(
    events: pd.DataFrame,
    *,
    conversion_events: Sequence[str] | str | None = None,
    window: str | pd.Timedelta | None = "30D",
    touch_col: str = "channel",
    stage: str | tuple[str, str] | None = None,
    stage_map=None,
    collapse_repeats: bool = False,
) -> pd.DataFrame:
    """Build a paths table from an event log.

    A *touch* is an event row with a non-missing ``touch_col`` (the channel, or with ``touch_col="event"``
    the event itself). Consecutive duplicate touches are kept (``email > email > search``); the Markov
    model collapses repeats itself, and ``collapse_repeats=True`` collapses them here.

    **Conversion mode** (``stage=None``). Rows whose ``event`` is a conversion event are conversions and
    never touches. Each conversion makes one converting journey: the customer's touches that come before it
    (in the log's order) and after the customer's previous conversion, no earlier than ``window`` before
    it. Each customer's touches after its last conversion (all touches for a customer who never converted),
    no earlier than ``window`` before the last of them, make one non-converting journey. A conversion with
    no touch in its window makes an empty journey, which is dropped (counted in
    :attr:`JourneyPaths.conversions_without_touches` of :func:`journey_paths`).

    **Stage mode** (``stage="source>target"`` or ``(source, target)``, stage names of the stage map). A
    customer enters at the row where it reaches the source stage (the first event listed under it, or its
    ``nth`` occurrence: ``purchase>retention`` starts at the first purchase and converts at the second).
    The converting journey is the touches from that row (inclusive) up to the row reaching the target
    stage (exclusive), within ``window`` before the target; a customer that never reaches the target
    makes a non-converting journey of its touches from the source row on, within ``window`` of its last
    touch. Customers that never reach the source stage, or reach the target at or before it, are left out.
    Every touch row counts here, conversion events included (the first purchase's channel is a touch of
    purchase → retention).

    Parameters
    ----------
    events : DataFrame or Partitioned
        Event log after :func:`cjlib.load_events` (``customer_id``, ``timestamp``, ``event``,
        ``touch_col``, optional ``revenue``). Sorted by (customer, timestamp) here if it is not already;
        never modified.
    conversion_events : str or sequence of str, optional
        Conversion mode only; default: the stage map's ``conversion_events``.
    window : str, Timedelta or None, default "30D"
        How far before the conversion (or the last touch) touches count; ``None`` for no limit.
    touch_col : str, default "channel"
        The column whose values are the touches (any strings: a ``>`` or ``\\`` in a value is escaped
        in ``path``, see :func:`join_path`).
    stage : str or tuple, optional
        Restrict to one stage transition (see above).
    stage_map : StageMap or path, optional
        Default ``data/stage_map.yml``.
    collapse_repeats : bool, default False
        Collapse consecutive identical touches within a journey.

    Returns
    -------
    DataFrame
        The paths table: ``path``, ``conversions``, ``nulls`` and ``value`` (the converting journeys'
        revenue; only when ``events`` has ``revenue``), identical paths aggregated, sorted by ``path``.
        Every model takes it; :func:`journey_paths` returns it with the conversions left out.
    """
    return journey_paths(events, conversion_events=conversion_events, window=window, touch_col=touch_col,
                         stage=stage, stage_map=stage_map, collapse_repeats=collapse_repeats).table


@dataclass(frozen=True)
class JourneyPaths:
    """What :func:`journey_paths` returns: the paths table and the conversions it leaves out.

    Attributes
    ----------
    table : DataFrame
        The paths table of :func:`paths_from_events` (``path``, ``conversions``, ``nulls``, optional
        ``value``), the one every model takes.
    conversions_without_touches : int
        Conversions with no touch in their window: empty journeys, in no path.
    """

    table: pd.DataFrame
    conversions_without_touches: int

    @property
    def converting_journeys(self) -> int:
        """Journeys that end in a conversion (the table's ``conversions``, summed)."""
        return int(self.table["conversions"].sum())

    @property
    def journeys(self) -> int:
        """Journeys in the table, converting or not (each is one path's ``conversions`` or ``nulls``)."""
        return self.converting_journeys + int(self.table["nulls"].sum())


def journey_paths(
    events: pd.DataFrame,
    *,
    conversion_events: Sequence[str] | str | None = None,
    window: str | pd.Timedelta | None = "30D",
    touch_col: str = "channel",
    stage: str | tuple[str, str] | None = None,
    stage_map=None,
    collapse_repeats: bool = False,
) -> JourneyPaths:
    """:func:`paths_from_events` with the number of conversions it leaves out for want of a touch.

    Parameters
    ----------
    events : DataFrame or Partitioned
        Event log after :func:`cjlib.load_events`, or shuffled onto a cluster (:class:`cjlib.engine.Partitioned`:
        each partition's paths tables are summed by path, equal to the in-process table).
    conversion_events, window, touch_col, stage, stage_map, collapse_repeats
        As :func:`paths_from_events` takes them.

    Returns
    -------
    JourneyPaths
        ``table`` (the paths table) and ``conversions_without_touches``.

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "event": ["ad_click", "purchase", "purchase"],
    ...                    "channel": ["email", None, None],
    ...                    "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"])})
    >>> jp = journey_paths(ev, conversion_events="purchase")
    >>> jp.table["path"].tolist(), jp.journeys, jp.conversions_without_touches
    (['email'], 1, 1)
    """
    if not isinstance(collapse_repeats, bool):
        raise ValueError(f"collapse_repeats must be True or False, got {collapse_repeats!r}")
    _timedelta_ns(window, "window")  # a bad value is named as this function's parameter
    if is_partitioned(events):  # per customer on the workers, the paths tables summed by path
        from cjlib import engine

        _check_columns(events, touch_col)
        return engine.journey_paths(events, conversion_events=conversion_events, window=window,
                                    touch_col=touch_col, stage=stage, stage_map=_stage_map(stage_map),
                                    collapse_repeats=collapse_repeats)
    j = _journeys(events, conversion_events=conversion_events, window=window, touch_col=touch_col,
                  stage=stage, stage_map=stage_map, collapse_repeats=collapse_repeats)
    return JourneyPaths(_paths_table(j), int(j.conversions_without_touches))


def _path_groups(tok: np.ndarray, jid: np.ndarray, n_j: int, n_names: int) -> tuple[np.ndarray, np.ndarray]:
    """Group journeys with the same touch sequence: (group per journey, one journey per group).

    A sequence of up to ``lmax`` touches is read as an integer in base ``n_names + 1`` (digits are the
    touch codes + 1, so the encoding is exact and unique); only longer sequences are compared as joined
    strings. ``jid`` must be sorted and every journey must have a touch.
    """
    if n_j == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    base = n_names + 1
    lmax = max(int(62 // np.log2(base)) - 1, 0)
    starts = np.flatnonzero(np.r_[True, jid[1:] != jid[:-1]])
    length = np.diff(np.r_[starts, len(tok)])
    pos = np.arange(len(tok)) - np.repeat(starts, length)
    short = length <= lmax
    power = np.array([base**i for i in range(max(lmax, 1))], dtype=np.int64)
    digit = np.where(short[jid], (tok + 1) * power[np.minimum(pos, len(power) - 1)], 0)
    key = np.add.reduceat(digit, starts)
    group = np.empty(n_j, np.int64)
    g_short, first_short = np.unique(key[short], return_index=True)
    group[short] = np.searchsorted(g_short, key[short])
    long_j = np.flatnonzero(~short)
    reps = np.flatnonzero(short)[first_short]
    if len(long_j):
        t = np.isin(jid, long_j)
        text = _join_paths(tok[t], jid[t], n_j, np.arange(n_names).astype(str))[long_j]
        g_long, _ = pd.factorize(text)
        group[long_j] = len(g_short) + g_long
        _, first_long = np.unique(g_long, return_index=True)
        reps = np.r_[reps, long_j[first_long]]
    return group, reps


def _paths_table(j: _Journeys) -> pd.DataFrame:
    n_j = len(j.converted)
    group, reps = _path_groups(j.tok, j.jid, n_j, len(j.names))
    keep = np.zeros(n_j, bool)
    keep[reps] = True
    t = keep[j.jid]  # touches of one journey per distinct path: only those are joined into strings
    strings = _join_paths(j.tok[t], j.jid[t], n_j, j.names)[reps]
    G = len(reps)
    df = pd.DataFrame({"path": strings,
                       "conversions": np.bincount(group, weights=j.converted.astype(float), minlength=G),
                       "nulls": np.bincount(group, weights=(~j.converted).astype(float), minlength=G)})
    if j.value is not None:
        df["value"] = np.bincount(group, weights=np.where(j.converted, j.value, 0.0), minlength=G)
    return df.sort_values("path", kind="stable", ignore_index=True)
