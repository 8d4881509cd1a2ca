"""The drop-off analyses on a log shuffled by customer (:class:`cjlib.engine.Partitioned`), with the results
of the in-process functions.

Every partition holds complete customers in the loader's order, so each one matches its own units with the
same matcher (:func:`cjlib.funnel.matching._run`) and the report's process merges what they return:

* :func:`fit` (what :class:`cjlib.funnel.Funnel` does with a ``Partitioned`` log) keeps of each partition's
  match only the rows the per-unit summaries read (one row per unit, its entry row, and the partition's
  first and last instants; see :func:`_condense`), and merges them into one match over all units in the
  loader's order (customers sorted; the rows stay partition after partition). The table, segment
  comparison, units, time to convert and cohorts then run on it unchanged.
* The methods that read the events between the steps (drivers, flows, friction, paths, periods) run their
  kernel on every partition (``*_kernel`` below: the in-process code split into its per-unit part and its
  summary) and summarise the summed counts or concatenated per-unit rows in the report's process.
* Every partition's event column gets the log's categories first, so event codes mean the same everywhere.

The engine routes (:func:`cjlib.engine.core._log_wide` calls a function once per partition); nothing here
gathers events.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from cjlib.errors import DataWarning
from cjlib.funnel.matching import (
    _NOT_SEGMENTS,
    _exclusions,
    _Match,
    _normalize_steps,
    _run,
    _warn_ambiguous,
)
from cjlib.partitioned import columns, is_partitioned

__all__ = ["is_partitioned", "columns", "distinct_values", "fit", "join_segments", "customer_segments",
           "cart_table", "paths_around", "period_units"]


# ============================================================================================ plumbing
def _call(part: pd.DataFrame, fn, kw: dict):
    from cjlib.engine.core import _ROW, _plain_strings

    ev = _plain_strings(part.drop(columns=[_ROW], errors="ignore"))
    if not len(ev):
        return None
    with warnings.catch_warnings():  # said once in the report's process, not once per partition
        warnings.simplefilter("ignore", DataWarning)
        return fn(ev, **kw)


def _each(events, fn, **kw) -> list:
    """``fn(partition, **kw)`` on every non-empty partition; the results in partition order."""
    from cjlib.engine.core import _log_wide

    out = _log_wide(events, functools.partial(_call, fn=fn, kw=kw))
    return [o for o in (out if isinstance(out, list) else [out]) if o is not None]


def _customer_order(ids) -> np.ndarray:
    """The stable order that sorts ``ids`` (the loader's customer order; a customer's rows keep theirs)."""
    codes, _ = pd.factorize(pd.Index(ids), sort=True)
    return np.argsort(codes, kind="stable")


def _unique(ev: pd.DataFrame, column: str) -> list:
    s = ev[column]
    if isinstance(s.dtype, pd.CategoricalDtype) and column == "event":
        return list(s.cat.categories)
    return list(pd.unique(s.dropna()))


def distinct_values(events, column: str) -> list:
    """The distinct non-missing values of a column of a pandas or ``Partitioned`` log.

    Parameters
    ----------
    events : DataFrame or Partitioned
        The event log.
    column : str
        One of its columns.

    Returns
    -------
    list
        In order of first appearance (pandas) or partition by partition (``Partitioned``), each value once.

    Examples
    --------
    >>> distinct_values(pd.DataFrame({"v": ["b", None, "a", "b"]}), "v")
    ['b', 'a']
    """
    if not is_partitioned(events):
        return list(pd.unique(events[column].dropna()))
    return list(dict.fromkeys(v for part in _each(events, _unique, column=column) for v in part))


def _event_categories(events) -> np.ndarray:
    """The log's event names, sorted (the categories the loader gives the ``event`` column)."""
    return np.asarray(sorted(set(map(str, distinct_values(events, "event")))), dtype=object)


def _with_cats(ev: pd.DataFrame, cats) -> pd.DataFrame:
    e = ev["event"]
    if isinstance(e.dtype, pd.CategoricalDtype) and list(e.cat.categories) == list(cats):
        return ev
    e = e.cat.set_categories(cats) if isinstance(e.dtype, pd.CategoricalDtype) else e.astype(pd.CategoricalDtype(cats))
    return ev.assign(event=e)


# ============================================================================================= the fit
@dataclass(frozen=True)
class _Source:
    """What a Funnel fitted on a ``Partitioned`` log needs to run a kernel again on its partitions."""

    events: object   # the Partitioned log
    cats: np.ndarray  # the log's event names
    args: dict       # _run's arguments


def _local_match(ev: pd.DataFrame, cats, args: dict) -> _Match:
    a = dict(args)
    return _run(_with_cats(ev, cats), a.pop("steps"), a.pop("window"), a.pop("mode"), a.pop("unit"),
                a.pop("stage_map"), **a)


def _condense(m: _Match) -> _Match:
    """``m`` on the rows its per-unit summaries read: one row per unit (its entry row, the first step-1 event,
    which carries the segment values the summaries break down by; the unit's first row when it never entered)
    and the rows of the first and last instants (the data's span).

    The condensed unit starts at that row (a unit's rows are contiguous and its customer is the same on every
    row). The per-unit summaries read ``pos`` only as "at the step" (``pos >= 0``), so a condensed ``pos``
    points at that row instead of the matched one: the rows between the steps are the kernels' business
    (drivers, flows, friction, paths and periods run on the partitions, never on this match). Of the columns,
    the condensed rows keep what a segment can be (not the timestamp, which ``ts`` holds, nor the session id),
    and ``pos`` is int32 (it indexes the condensed rows)."""
    prep = m.prep
    start = np.where(m.first_entry >= 0, m.first_entry, prep.unit_start).astype(np.int64)
    span = np.asarray([np.argmin(prep.ts), np.argmax(prep.ts)] if len(prep.ts) else [], np.int64)
    start[prep.unit[span]] = prep.unit_start[prep.unit[span]]  # a span row's unit keeps its rows from the first
    pos = np.where(m.pos >= 0, start[:, None], -1) if m.pos.size else m.pos
    m = replace(m, pos=pos)
    prep = replace(prep, unit_start=start)
    keep = np.unique(np.concatenate([start, m.first_entry[m.first_entry >= 0], span]))

    def at(a):
        return np.where(a >= 0, np.searchsorted(keep, np.maximum(a, 0)), a)

    ev = prep.ev.iloc[keep].drop(columns=[c for c in _NOT_SEGMENTS if c != "customer_id"], errors="ignore")
    small = replace(prep, ev=_compact(ev.reset_index(drop=True)), unit=prep.unit[keep],
                    unit_start=np.searchsorted(keep, prep.unit_start), ts=prep.ts[keep], ev_codes=prep.ev_codes[keep],
                    member=np.asfortranarray(prep.member[keep]),
                    xmember=None if prep.xmember is None else prep.xmember[keep])
    return replace(m, prep=small, pos=at(m.pos).astype(np.int32), first_entry=at(m.first_entry))


def _compact(ev: pd.DataFrame) -> pd.DataFrame:
    """Text columns with few values (segments) as categoricals: the same values, a fraction of the memory in
    the report's process (``customer_id`` and id-like columns stay as they are)."""
    cats = {c: ev[c].astype("category") for c in ev.columns
            if c != "customer_id" and (ev[c].dtype == object or pd.api.types.is_string_dtype(ev[c].dtype))
            and not isinstance(ev[c].dtype, pd.CategoricalDtype) and ev[c].nunique() * 4 <= len(ev)}
    return ev.assign(**cats) if cats else ev


def _fit_kernel(ev: pd.DataFrame, *, cats, args: dict) -> _Match:
    return _condense(_local_match(ev, cats, args))


def _concat_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Row-concatenated frames, a categorical column keeping a categorical of the sorted union of categories."""
    frames = list(frames)
    for c in frames[0].columns:
        if all(isinstance(f[c].dtype, pd.CategoricalDtype) for f in frames):
            cats = sorted(set().union(*(f[c].cat.categories for f in frames)), key=str)
            if any(list(f[c].cat.categories) != cats for f in frames):
                frames = [f.assign(**{c: f[c].cat.set_categories(cats)}) for f in frames]
    return pd.concat(frames, ignore_index=True)


def _merge(ms: list[_Match]) -> _Match:
    """One match over the units of partitions' condensed matches, units in the loader's order (customers
    sorted, as in process). The rows stay partition after partition (a condensed unit's rows need not be
    next to the next unit's: every per-unit summary reads a unit's row through ``unit_start``, ``pos`` or
    ``first_entry``). Each field is concatenated and the partitions' copies of it released before the next
    (``ms`` is emptied), so the merge holds little more than its result."""
    ro = np.r_[0, np.cumsum([len(m.prep.ts) for m in ms])[:-1]].astype(np.int64)
    uo = np.r_[0, np.cumsum([len(m.level) for m in ms])[:-1]].astype(np.int64)
    first = replace(ms[0], prep=None)
    p0 = replace(ms[0].prep, ev=None, unit=None, unit_start=None, ts=None, ev_codes=None, member=None, xmember=None)
    got = {f: [getattr(m, f) for m in ms] for f in ("level", "pos", "done", "first_entry", "end", "entry")}
    got.update({f: [getattr(m.prep, f) for m in ms] for f in ("ev", "unit", "unit_start", "ts", "ev_codes",
                                                             "member", "xmember")})
    ms.clear()

    def cat(field: str, offsets=None, order=None):
        arrays = got.pop(field)
        if arrays[0] is None:
            return None
        out = np.concatenate([a if offsets is None else np.where(a >= 0, a + o, a) for a, o in zip(arrays, offsets)]
                             if offsets is not None else arrays)
        arrays.clear()
        return out if order is None else out[order]

    ev = _concat_frames(got.pop("ev"))
    unit_start = cat("unit_start", ro)
    perm = _customer_order(ev["customer_id"].array.take(unit_start))  # new unit i is old unit perm[i]
    rank = np.empty(len(perm), np.int64)
    rank[perm] = np.arange(len(perm), dtype=np.int64)
    prep = replace(p0, ev=ev, unit=rank[cat("unit", uo)], unit_start=unit_start[perm], ts=cat("ts"),
                   ev_codes=cat("ev_codes"), member=np.asfortranarray(cat("member")), xmember=cat("xmember"))
    return replace(first, prep=prep, level=cat("level", order=perm), pos=cat("pos", ro, perm),
                   done=cat("done", order=perm), first_entry=cat("first_entry", ro, perm),
                   end=cat("end", order=perm), entry=cat("entry", order=perm))


def fit(events, steps, *, window, mode, unit, stage_map, optional, exclude, open) -> tuple[_Match, _Source]:
    """:class:`cjlib.funnel.Funnel`'s match on a ``Partitioned`` log: the per-unit part of every partition's
    match, merged in the loader's order (see the module), and what the event-level methods need.

    Parameters
    ----------
    events : Partitioned
        The shuffled log.
    steps, window, mode, unit, stage_map, optional, exclude, open
        As :class:`cjlib.funnel.Funnel` takes them (``stage_map`` resolved).

    Returns
    -------
    (match, source)
        The merged match (its rows: the ones each unit's summaries read) and the :class:`_Source` of the
        event-level methods.
    """
    norm = _normalize_steps(steps)
    xnorm = [tuple(names) for names, _, _ in _exclusions(steps, exclude)]
    _warn_ambiguous(norm + xnorm, stage_map, stacklevel=4)
    cats = _event_categories(events)
    args = dict(steps=steps, window=window, mode=mode, unit=unit, stage_map=stage_map, optional=optional,
                exclude=exclude, open=open)
    parts = _each(events, _fit_kernel, cats=cats, args=args)
    if not parts:  # no events: the matcher's own answer on an empty log
        from cjlib.engine.core import _ROW

        empty = events.ddf._meta.drop(columns=[_ROW], errors="ignore")
        return _local_match(empty, cats, args), _Source(events, cats, args)
    return _merge(parts), _Source(events, cats, args)


def _required(m: _Match) -> _Match:
    from cjlib.funnel.fitted import _required_view

    return _required_view(m)


# ===================================================================================== event-level methods
def _drivers_kernel(ev, *, src: _Source, from_step, to_step, exclude_step_events) -> tuple:
    from cjlib.funnel.segments import _driver_counts

    return _driver_counts(_required(_local_match(ev, src.cats, src.args)), from_step=from_step, to_step=to_step,
                          exclude_step_events=exclude_step_events)


def drivers(funnel, *, from_step, to_step, min_support: int, exclude_step_events: bool):
    """:meth:`cjlib.funnel.Funnel.drivers` of a funnel fitted on a ``Partitioned`` log: every partition counts
    the units (and converters) doing each event; the counts are summed, then tested.

    Parameters
    ----------
    funnel : Funnel
        Fitted on a ``Partitioned`` log.
    from_step, to_step, min_support, exclude_step_events
        As :func:`cjlib.funnel.dropoff_drivers` takes them.

    Returns
    -------
    Drivers
    """
    from cjlib.funnel.matching import _check_positive, _transition
    from cjlib.funnel.segments import _driver_table

    _check_positive("min_support", min_support)
    src, req = funnel._parted, _required(funnel._match)
    a, b = _transition(req, from_step, to_step)  # a wrong step fails here, not on a worker
    E = len(src.cats)
    total = [a, b, np.zeros(E, np.int64), np.zeros(E), 0, 0]
    for c in _each(src.events, _drivers_kernel, src=_strip(src), from_step=from_step, to_step=to_step,
                   exclude_step_events=exclude_step_events):
        for i in range(2, 6):
            total[i] = total[i] + c[i]
    return _driver_table(req.prep.labels, src.cats, tuple(total), min_support)


def _strip(src: _Source) -> _Source:
    """The source without its log (a kernel gets the partition itself)."""
    return replace(src, events=None)


def _flows_kernel(ev, *, src: _Source, depth: int) -> tuple:
    from cjlib.funnel.flows import _flow_counts, _flow_units

    _, last_lab, cols = _flow_units(_required(_local_match(ev, src.cats, src.args)), depth)
    return _flow_counts(last_lab, cols, depth=depth)


def flows(funnel, *, depth: int, top: int):
    """:meth:`cjlib.funnel.Funnel.flows` of a funnel fitted on a ``Partitioned`` log: each partition counts
    its droppers' paths and flow links; the counts are added up (the report's process never holds a row per
    dropper).

    Parameters
    ----------
    funnel : Funnel
        Fitted on a ``Partitioned`` log.
    depth, top
        As :func:`cjlib.funnel.where_droppers_go` takes them.

    Returns
    -------
    DropoffFlows
    """
    from cjlib.funnel.flows import (
        _add_flow_counts,
        _check_depth_top,
        _flow_summary,
        _flow_tables,
        _flow_units,
    )

    _check_depth_top(depth, top)
    src = funnel._parted
    parts = _each(src.events, _flows_kernel, src=_strip(src), depth=depth)
    if not parts:
        _, last_lab, cols = _flow_units(_required(funnel._match), depth)
        return _flow_summary(funnel._match.prep.labels, last_lab, cols, depth=depth, top=top)
    return _flow_tables(_required(funnel._match).prep.labels, *_add_flow_counts(parts), top=top)


def _friction_kernel(ev, *, src: _Source, errs) -> list:
    from cjlib.funnel.flows import _friction_units

    return _friction_units(_required(_local_match(ev, src.cats, src.args)), errs)


def friction(funnel, *, error_events, long_dwell):
    """:meth:`cjlib.funnel.Funnel.friction` of a funnel fitted on a ``Partitioned`` log: each partition gives
    per unit and transition (moved on, looped, met an error, dwell); the threshold and rates are taken over all.

    Parameters
    ----------
    funnel : Funnel
        Fitted on a ``Partitioned`` log.
    error_events, long_dwell
        As :func:`cjlib.funnel.friction` takes them.

    Returns
    -------
    Friction
    """
    from cjlib.funnel.flows import _error_events, _friction_table
    from cjlib.funnel.matching import _parse_window

    src, labels = funnel._parted, _required(funnel._match).prep.labels
    if len(labels) < 2:
        raise ValueError("steps: friction needs at least 2 steps")
    dwell_fixed = None if long_dwell is None else _parse_window(long_dwell, "long_dwell")
    errs = _error_events(src.cats, src.args["stage_map"], error_events)
    parts = _each(src.events, _friction_kernel, src=_strip(src), errs=errs)
    spans = []
    for k in range(len(labels) - 1):
        got = [p[k] for p in parts] or [(np.zeros(0, bool), np.zeros(0, bool), np.zeros(0, bool), np.zeros(0, np.int64))]
        spans.append(tuple(np.concatenate([g[i] for g in got]) for i in range(4)))
    return _friction_table(labels, spans, errs, dwell_fixed)


def _paths_kernel(ev, *, src: _Source, kw: dict) -> dict:
    from cjlib.funnel.paths import _path_labels

    out = _path_labels(_local_match(ev, src.cats, src.args), **kw)
    lab = out["lab"]  # label indices (a few dozen values): int16 is a quarter of the memory
    return dict(out, lab=lab.astype(np.int16)) if lab.max(initial=0) < 2**15 - 1 else out


def paths_around(funnel, *, step, event, between, direction, depth, top, collapse_repeats, converted):
    """:func:`cjlib.funnel.paths_around` of a funnel fitted on a ``Partitioned`` log: each partition labels the
    paths of its units at the anchor; the label rows are stacked and summarised (counts only: unit order
    does not matter).

    Parameters
    ----------
    funnel : Funnel
        Fitted on a ``Partitioned`` log.
    step, event, between, direction, depth, top, collapse_repeats, converted
        As :func:`cjlib.funnel.paths_around` takes them (checked there).

    Returns
    -------
    PathsAround
    """
    from cjlib.funnel.matching import _transition
    from cjlib.funnel.paths import _path_labels, _paths_result

    src, m = funnel._parted, funnel._match
    if between is not None:
        _transition(m, between[0], between[1])  # a wrong step fails here, not on a worker
    kw = dict(step=step, event=event, between=between, direction=direction, depth=depth,
              collapse_repeats=collapse_repeats, converted=converted)
    parts = _each(src.events, _paths_kernel, src=_strip(src), kw=kw)
    if not parts:
        parts = [_path_labels(m, **kw)]
    first = parts[0]
    reached = None if first["reached"] is None else sum(p["reached"] for p in parts)
    seen = set().union(*(p["step_events"] for p in parts))
    merged = dict(first, lab=np.concatenate([p["lab"] for p in parts]), conv=np.concatenate([p["conv"] for p in parts]),
                  reached=reached, step_events=tuple(str(c) for c in src.cats if c in seen))
    return _paths_result(merged, src.cats, direction=direction, depth=depth, top=top,
                         collapse_repeats=collapse_repeats, converted=converted, unit=m.prep.unit_kind)


def _periods_kernel(ev, *, src: _Source, bounds, cut) -> tuple:
    from cjlib.funnel.periods import _period_units

    return _period_units(_local_match(ev, src.cats, src.args), bounds, cut)


def period_units(funnel, bounds: tuple, cut: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`cjlib.funnel.compare_periods`' per-unit part on a ``Partitioned`` log: each partition matches its
    units in both periods; the rows are stacked (only their sums are read) and the censored units summed.

    Parameters
    ----------
    funnel : Funnel
        Fitted on a ``Partitioned`` log.
    bounds : tuple of int
        (previous start, current start, current end, end) in ns.
    cut : bool
        Events from a period's end on do not count (no window).

    Returns
    -------
    (ndarray, ndarray, int)
        Units at each step in the previous and current period, units censored.
    """
    src = funnel._parted
    parts = _each(src.events, _periods_kernel, src=_strip(src), bounds=bounds, cut=cut)
    K = len(funnel._match.prep.labels)
    if not parts:
        return np.zeros((0, K), bool), np.zeros((0, K), bool), 0
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            int(sum(p[2] for p in parts)))


# ========================================================================================== segments, carts
def _segments_kernel(ev, *, by, customers):
    from cjlib.scorecard import customer_segments as _segments

    return _segments(ev, by=list(by), customers=customers)


def customer_segments(events, *, by, customers: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`cjlib.scorecard.customer_segments` with ``by`` given, on a ``Partitioned`` log: per partition,
    concatenated in the loader's customer order.

    Parameters
    ----------
    events : Partitioned
        The shuffled log.
    by : list of str
        Event or customer columns (``"acquisition_channel"``: the first channel).
    customers : DataFrame, optional
        Customer attributes.

    Returns
    -------
    DataFrame
        Index ``customer_id``, one column per segment.
    """
    parts = _each(events, _segments_kernel, by=tuple(by), customers=customers)
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in by}, index=pd.Index([], name="customer_id"))
    out = pd.concat(parts)
    return out.iloc[_customer_order(out.index)]


def _join_part(part: pd.DataFrame, by: tuple, customers) -> pd.DataFrame:
    if not len(part):
        return part.assign(**{c: pd.Series(dtype="str", index=part.index) for c in by})
    from cjlib.engine.core import _ROW, _plain_strings

    seg = _segments_kernel(_plain_strings(part.drop(columns=[_ROW], errors="ignore")), by=by, customers=customers)
    return part.join(seg, on="customer_id")


def join_segments(events, by, customers: pd.DataFrame | None = None):
    """``events`` with the customer-level columns ``by`` joined per customer, on the workers
    (:func:`cjlib.funnel.report_segments` on a ``Partitioned`` log).

    Parameters
    ----------
    events : Partitioned
        The shuffled log.
    by : list of str
        The columns to join (customer columns, first-event values, ``acquisition_channel``).
    customers : DataFrame, optional
        Customer attributes (small: sent with every partition's task).

    Returns
    -------
    Partitioned
        The same partitions with the columns added, persisted.
    """
    by = tuple(by)
    meta = events.ddf._meta.assign(**{c: pd.Series(dtype="str") for c in by})  # customer_segments' labels: text
    ddf = events.ddf.map_partitions(_join_part, by=by, customers=customers, meta=meta)
    ddf = events.client.persist(ddf) if events.client is not None else ddf.persist()
    return replace(events, ddf=ddf)


def _carts_kernel(ev, *, carts, buys, limit) -> tuple:
    from cjlib.funnel.carts import _cart_table
    from cjlib.journeys import customer_starts, session_keys

    sess = session_keys(ev).to_numpy()
    starts = np.flatnonzero(customer_starts(ev))
    first = sess[starts]
    n_sessions = np.r_[first[1:], sess.max() + 1] - first
    return _cart_table(ev, carts, buys, limit), ev["customer_id"].array.take(starts), first, n_sessions


def cart_table(events, carts: tuple, buys: tuple, limit: int) -> pd.DataFrame:
    """:attr:`cjlib.funnel.CartAbandonment.table` of a ``Partitioned`` log (unsorted): each partition's carts,
    their sessions renumbered as in the whole log (sessions count in the loader's customer order).

    Parameters
    ----------
    events : Partitioned
        The shuffled log.
    carts, buys : tuple of str
        The cart and purchase events.
    limit : int
        The recovery window in ns.

    Returns
    -------
    DataFrame
    """
    parts = _each(events, _carts_kernel, carts=carts, buys=buys, limit=limit)
    if not parts:
        from cjlib.engine.core import _ROW
        from cjlib.funnel.carts import _cart_table

        return _cart_table(events.ddf._meta.drop(columns=[_ROW], errors="ignore"), carts, buys, limit)
    ids = np.concatenate([np.asarray(p[1], dtype=object) for p in parts])
    local_first = np.concatenate([p[2] for p in parts]).astype(np.int64)
    n = np.concatenate([p[3] for p in parts]).astype(np.int64)
    order = _customer_order(ids)
    first = np.empty(len(ids), np.int64)
    first[order] = np.r_[0, np.cumsum(n[order])[:-1]]
    shift = pd.Series(first - local_first, index=pd.Index(ids))
    table = pd.concat([p[0] for p in parts], ignore_index=True)
    table["session"] = table["session"].to_numpy() + shift.reindex(table["customer_id"]).to_numpy()
    return table
