"""The leakage-free data set: the churn label and the features as of a cutoff."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjlib.churn import distributed as _dist
from cjlib.churn.window import _as_activity, _as_cutoff, _as_window, _check_classes, _check_window
from cjlib.errors import DataError
from cjlib.stagemap import StageMap
from cjlib.validation import check_events


# ------------------------------------------------------------------------------------------ data set
def label_customers(
    events: pd.DataFrame,
    *,
    cutoff: str | pd.Timestamp,
    window,
    activity_events: Sequence[str] | None = None,
) -> pd.Series:
    """The churn label: 1 when a customer with an event before ``cutoff`` has no activity in the window.

    Parameters
    ----------
    events : DataFrame or Partitioned
        Event log (``customer_id``, ``timestamp``, ``event``).
    cutoff : str or Timestamp
        Start of the window (inclusive).
    window : int, str or Timedelta
        Window length: days (int), ``"30D"`` or a Timedelta of whole days; the window is
        ``[cutoff, cutoff + window)``.
    activity_events : sequence of str, optional
        Events that count as activity (default: every event).

    Returns
    -------
    Series of int
        Indexed by ``customer_id`` (customers with an event before ``cutoff``, sorted), named ``churned``.

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c"],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-10", "2025-01-02", "2025-01-11", "2025-01-05"]),
    ...     "event": ["page_view"] * 5})
    >>> label_customers(ev, cutoff="2025-01-10", window="1D").to_dict()
    {'a': 0, 'b': 1, 'c': 1}
    """
    _check_log(events)
    cut = _as_cutoff(cutoff)
    days = _as_window(window)
    activity = _as_activity(activity_events, events)
    if _dist.is_partitioned(events):
        return _dist.per_customer(events, _labels, cut=cut, days=days, activity=activity)["churned"]
    return _labels(events, cut=cut, days=days, activity=activity)


def _check_log(events) -> None:
    """The log has the required columns and at least one event (a pandas frame or a Partitioned log)."""
    if _dist.is_partitioned(events):
        _dist.check_columns(events)
        n = _dist.facts(events).n_rows
    else:
        check_events(events)
        n = len(events)
    if n == 0:
        raise DataError("the event log is empty", column="timestamp", rule="empty_input")


def _labels(events: pd.DataFrame, *, cut: pd.Timestamp, days: int, activity: list[str] | None) -> pd.Series:
    """:func:`label_customers` after its checks (a per-customer kernel)."""
    ts = events["timestamp"]
    ids = events["customer_id"]
    before = ids[(ts < cut).to_numpy()]
    customers = pd.Index(pd.unique(before), name="customer_id").sort_values()
    in_win = ((ts >= cut) & (ts < cut + pd.Timedelta(days=days))).to_numpy()
    if activity is not None:
        in_win = in_win & events["event"].astype(str).isin(activity).to_numpy()
    active = customers.isin(pd.unique(ids[in_win]))
    return pd.Series((~active).astype(np.int64), index=customers, name="churned")


def _extra_features(ev: pd.DataFrame, cut: pd.Timestamp, window: int, activity: list[str] | None,
                    index: pd.Index) -> pd.DataFrame:
    """Activity recency, recent activity days and the last device, from events before ``cut`` only.

    Over the log in (customer, timestamp) order: a customer's active days are the rows whose (customer,
    day) differs from the row before, the last activity and the last device are the last such rows, so
    no customer id is hashed per row.
    """
    from cjlib.io import ensure_sorted
    from cjlib.journeys import customer_groups

    ev = ensure_sorted(ev)
    starts, cust = customer_groups(ev)
    at = index.get_indexer(ev["customer_id"].array.take(starts))  # each group's row in ``index``
    n = len(index)
    ts = ev["timestamp"]
    day_ns = ts.dt.floor("D").to_numpy().astype("datetime64[ns]").view(np.int64)
    rows = np.flatnonzero(_is_activity(ev, activity)) if activity is not None else np.arange(len(ev))
    c, d = cust[rows], day_ns[rows]
    new_day = np.ones(len(rows), dtype=bool)
    new_day[1:] = (c[1:] != c[:-1]) | (d[1:] != d[:-1])
    recent_from = (cut - pd.Timedelta(days=window)).as_unit("ns").value
    days = _scatter(at, np.bincount(c[new_day], minlength=len(starts)), n)
    recent = _scatter(at, np.bincount(c[new_day & (d >= recent_from)], minlength=len(starts)), n)
    out = pd.DataFrame(index=index)
    if activity is not None:  # with any event as activity it would repeat recency_days
        last = rows[np.flatnonzero(np.r_[c[1:] != c[:-1], True])] if len(rows) else rows
        last_ts = pd.Series(ts.to_numpy()[last], index=index[at[cust[last]]]).reindex(index)
        out["activity_recency_days"] = (cut - last_ts).dt.total_seconds() / 86_400.0
    out["activity_days"] = days
    out["activity_days_recent"] = recent
    first = pd.Series(ts.to_numpy()[starts], index=index[at]).reindex(index)
    with np.errstate(divide="ignore", invalid="ignore"):
        span = np.maximum((cut - first).dt.total_seconds().to_numpy() / 86_400.0, 1.0)
    out["activity_days_per_30d"] = days / span * 30.0
    if "device" in ev.columns:  # groupby().last(): the last device seen (missing ones skipped)
        known = np.flatnonzero(ev["device"].notna().to_numpy())
        kc = cust[known]
        last_dev = known[np.flatnonzero(np.r_[kc[1:] != kc[:-1], True])] if len(known) else known
        dev = pd.Series(ev["device"].iloc[last_dev].to_numpy(), index=index[at[cust[last_dev]]]).reindex(index)
        out["device"] = dev.astype("str")
    return out


def _scatter(at: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per-group values placed at their rows of the index (0 for rows no group has)."""
    out = np.zeros(n, dtype=np.int64)
    out[at] = values
    return out


def _is_activity(ev: pd.DataFrame, activity: list[str]) -> np.ndarray:
    """Rows whose event (as text) is one of ``activity``: a lookup over a categorical's categories."""
    col = ev["event"]
    if isinstance(col.dtype, pd.CategoricalDtype):
        lut = np.asarray(col.cat.categories.astype(str).isin(activity), dtype=bool)
        codes = col.cat.codes.to_numpy()
        return (codes >= 0) & lut[np.maximum(codes, 0)] if len(lut) else np.zeros(len(col), dtype=bool)
    return col.astype(str).isin(activity).to_numpy()


def features_at(
    events: pd.DataFrame,
    *,
    as_of: str | pd.Timestamp,
    window,
    activity_events: Sequence[str] | None = None,
    customers: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    stage_map: StageMap | None = None,
    exclude: Sequence[str] | None = None,
    keep: pd.Index | None = None,
) -> pd.DataFrame:
    """The churn features of every customer with an event before ``as_of``, from events before it only.

    :func:`make_dataset` uses it at the cutoff (with the label of the window after it); the at-risk
    list uses it at the data's end, where no label exists yet.

    Parameters
    ----------
    events, activity_events, customers, feedback, stage_map, exclude
        As in :func:`make_dataset`.
    as_of : str or Timestamp
        Only events and feedback strictly before it are used.
    window : int, str or Timedelta
        The churn window, days or whole-day duration (``activity_days_recent`` counts the active days in
        the window before ``as_of``).
    keep : Index, optional
        Only these customers' rows, in this order (``X.reindex(keep)``); on a Partitioned log the
        partitions send only these rows.

    Returns
    -------
    DataFrame
        The ``X`` of :func:`make_dataset`, indexed by ``customer_id`` (sorted; ``keep``'s order with
        ``keep``).
    """
    cut = _as_cutoff(as_of)
    days = _as_window(window)
    activity = _as_activity(activity_events, events)
    if _dist.is_partitioned(events):
        return _features_on_partitions(events, cut=cut, days=days, activity=activity, customers=customers,
                                       feedback=feedback, stage_map=stage_map, exclude=exclude, keep=keep)
    # Only the past goes in: every feature is computed from this frame.
    past = events.loc[(events["timestamp"] < cut).to_numpy()].reset_index(drop=True)
    if len(past) == 0:
        raise DataError(f"no events before {cut}", column="timestamp", rule="cutoff_outside_data")
    X = _features(past, cut=cut, days=days, activity=activity, customers=customers,
                  feedback=_feedback_before(feedback, cut), stage_map=stage_map, exclude=exclude)
    return X if keep is None else X.reindex(keep)


def _feedback_before(feedback: pd.DataFrame | None, cut: pd.Timestamp) -> pd.DataFrame | None:
    if feedback is None:
        return None
    return feedback.loc[(feedback["timestamp"] < cut).to_numpy()].reset_index(drop=True)


def _features_on_partitions(events, *, cut, days, activity, customers, feedback, stage_map, exclude,
                            keep) -> pd.DataFrame:
    """:func:`features_at` of a Partitioned log: each partition's customers, then the columns of the
    whole log (:func:`cjlib.churn.distributed.merge_features`)."""
    from cjlib.stagemap import load_stage_map

    f = _dist.facts(events)
    if not f.first < cut:
        raise DataError(f"no events before {cut}", column="timestamp", rule="cutoff_outside_data")
    sm = stage_map or load_stage_map()
    X = _dist.per_customer(events, _past_features, cut=cut, days=days, activity=activity, customers=customers,
                           feedback=_feedback_before(feedback, cut), stage_map=sm, exclude=exclude,
                           keep=keep)
    seen = f.events_before(cut)
    X = _dist.merge_features(X, channels=f.channels_before(cut), other=[e for e in sm.other_events if e in seen])
    X = X if keep is None else X.reindex(keep)
    _dist.release_memory(events)  # the partitions' rows and the merge's copies
    return X


def _past_features(part: pd.DataFrame, *, cut, keep, **kw) -> pd.DataFrame:
    """One partition's :func:`features_at` rows (only ``keep``'s customers when given)."""
    past = part.loc[(part["timestamp"] < cut).to_numpy()].reset_index(drop=True)
    if len(past) == 0:
        return pd.DataFrame(index=pd.Index([], name="customer_id"))
    X = _features(past, cut=cut, **kw)
    return X if keep is None else X.loc[X.index.isin(keep)]


def _features(past: pd.DataFrame, *, cut: pd.Timestamp, days: int, activity: list[str] | None, customers,
              feedback, stage_map, exclude) -> pd.DataFrame:
    """:func:`features_at` of the events (and feedback) before ``cut`` (a per-customer kernel)."""
    from cjlib.features import customer_features

    X = customer_features(past, customers=customers, feedback=feedback, cutoff=cut, stage_map=stage_map,
                          exclude=exclude)
    X = X.drop(columns=[c for c in ("furthest_stage_name",) if c in X.columns])
    for col in X.columns:  # dates (e.g. signup_date) become days before the cutoff
        if pd.api.types.is_datetime64_any_dtype(X[col]):
            X[col] = (cut - X[col]).dt.total_seconds() / 86_400.0
    extra = _extra_features(past, cut, days, activity, X.index)
    X = X.join(extra.drop(columns=[c for c in (exclude or ()) if c in extra.columns]))
    X = X.sort_index()
    X.index.name = "customer_id"
    return X


def make_dataset(
    events: pd.DataFrame,
    *,
    cutoff: str | pd.Timestamp,
    window: int | str | pd.Timedelta,
    activity_events: Sequence[str] | None = None,
    customers: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    stage_map: StageMap | None = None,
    exclude: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Features as of ``cutoff`` and the churn label of the window after it.

    Parameters
    ----------
    events : DataFrame or Partitioned
        Event log as :func:`cjlib.load_events` returns it (not modified), or the log shuffled by customer
        (:class:`cjlib.engine.Partitioned`): every per-customer step then runs on its partitions
        (:mod:`cjlib.churn.distributed`) and gives the same result.
    cutoff : str or Timestamp
        Features use only events and feedback strictly before it; the label window starts at it.
    window : int, str or Timedelta
        Label window ``[cutoff, cutoff + window)`` (start inclusive, end exclusive): days, ``"90D"``
        or a Timedelta of whole days.
    activity_events : sequence of str or comma-separated str, optional
        Events that count as activity for the label (default: every event). ``["purchase"]`` gives
        purchase churn.
    customers : DataFrame, optional
        Customer attributes (static; date columns become days before ``cutoff``).
    feedback : DataFrame, optional
        CSAT/NPS feedback; only rows before ``cutoff`` are used.
    stage_map : StageMap, optional
        For stage shares and conversion events (default ``data/stage_map.yml``).
    exclude : sequence of str, optional
        Customer (and event) attribute columns never to use as features: identifiers and codes, and
        outcome-like columns (reports fill it from the data profile, see
        :func:`cjlib.features.excluded_attributes`). ``"device"`` here drops the last-device feature.

    Returns
    -------
    X : DataFrame
        Indexed by ``customer_id`` (every customer with an event before ``cutoff``, sorted): the columns
        of :func:`cjlib.features.customer_features` (``furthest_stage_name`` dropped: it repeats
        ``furthest_stage``), plus — with ``activity_events`` — ``activity_recency_days`` (days since the
        last activity event, NaN if none), and always ``activity_days`` (distinct days with activity), ``activity_days_recent`` (those in the
        ``window`` before ``cutoff``), ``activity_days_per_30d``, and ``device`` (the last one seen)
        when the log has it.
    y : Series of int
        ``churned``: 1 when the customer has no activity event in the window; aligned with ``X``.

    Raises
    ------
    DataError
        The cutoff is outside the data (no event before it, or after the last event); the window runs
        past the end of the data or holds no event at all; every customer has the same label.
    ValueError
        Bad ``cutoff``, ``window`` or ``activity_events`` (unknown events).

    Examples
    --------
    >>> from cjlib.synth import generate
    >>> d = generate(300, seed=1)
    >>> X, y = make_dataset(d.events, cutoff="2025-09-01", window=60)
    >>> X.index.equals(y.index), set(y.unique()) == {0, 1}
    (True, True)
    """
    _check_log(events)
    cut = _as_cutoff(cutoff)
    window = _as_window(window, "window")
    activity = _as_activity(activity_events, events)
    _check_window(events, cut, window)

    y = label_customers(events, cutoff=cut, window=window, activity_events=activity)
    if y.nunique() < 2:
        raise DataError(_single_class(events, y, cut, window, activity), column="event", rule="single_class")

    X = features_at(events, as_of=cut, window=window, activity_events=activity, customers=customers,
                    feedback=feedback, stage_map=stage_map, exclude=exclude)
    y = y.reindex(X.index)
    y.index = X.index  # one index object for both (380,000 customer ids are ~14 MB each)
    return X, y


def _day(t: pd.Timestamp) -> str:
    return f"{t:%Y-%m-%d}" if t == t.normalize() else str(t)


def _single_class(events, y: pd.Series, cut: pd.Timestamp, window: int, activity) -> str:
    """Why every customer has one label; when every customer is active on the log's last day (an export
    that stamps each customer on its own day), that is said, since no window ending there can show churn."""
    which = "churned" if y.iloc[0] == 1 else "active"
    text = (f"all {len(y):,} customers are {which} in the churn window [{_day(cut)}, "
            f"{_day(cut + pd.Timedelta(days=window))}) (activity: {', '.join(activity) if activity else 'any event'})")
    if which == "active" and isinstance(events, pd.DataFrame):
        ts = events["timestamp"]
        last = ts.max().normalize()
        on_last = events.loc[(ts >= last).to_numpy() & (_is_activity(events, activity) if activity else True),
                             "customer_id"].nunique()
        if on_last >= len(y):
            return (f"every one of the {len(y):,} customers has an event on the log's last day ({last:%Y-%m-%d}), "
                    "so no one can be seen to lapse in a window that ends there (an export that stamps every "
                    "customer on its day looks like this): a churn model needs both classes; leave that day out "
                    "(end_date) or count only real activity (activity_events)")
    return text + (": a churn model needs both classes; change cutoff, churn_window_days (window in "
                   "cjlib.churn) or activity_events")


def _labelled(events: pd.DataFrame, name: str, *, cutoff: pd.Timestamp, window: int, min_class: int,
              **kw) -> tuple[pd.DataFrame, pd.Series]:
    """:func:`make_dataset` at ``cutoff`` holding at least ``min_class`` churned and active customers
    (else the ``too_few_per_class`` DataError naming the ``name`` window); ``kw`` as make_dataset's."""
    X, y = make_dataset(events, cutoff=cutoff, window=window, **kw)
    _check_classes(y, name, cutoff, window, min_class)
    return X, y
