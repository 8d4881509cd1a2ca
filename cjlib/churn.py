"""Churn prediction: leakage-free data sets, calibrated models, honest evaluation and an action list.

The label
    At a ``cutoff``, a customer who had at least one event before it is **churned** (``y = 1``) when they
    have no *activity event* in ``[cutoff, cutoff + window_days)`` — the start is inclusive, the end
    exclusive. Activity is any event by default; ``activity_events=["purchase"]`` gives purchase churn.
    Customers with no event before ``cutoff`` are not in the data set.

Leakage-free by construction
    :func:`make_dataset` hands :func:`cjlib.features.customer_features` only the events (and feedback)
    strictly before ``cutoff``, so changing or deleting anything at or after ``cutoff`` cannot change
    ``X``. Out-of-time validation (:func:`out_of_time_validation`) trains at ``cutoff − window_days`` —
    whose labels end at ``cutoff`` — and tests at ``cutoff``: the model never sees the test window.

Models (:func:`make_model`)
    ``"logistic"``: median imputation (+ missing indicators), standardization, one-hot encoding and an
    L2 logistic regression. ``"gbm"``: the same encoding and a regularized
    :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (shallow trees, L2, early stopping) wrapped
    in :class:`~sklearn.calibration.CalibratedClassifierCV` (sigmoid, 3 folds). Every preprocessing step
    lives inside the returned :class:`~sklearn.pipeline.Pipeline`.

    Class imbalance: we do **not** reweight or resample by default. Reweighting moves the predicted
    probabilities away from the real churn rate, and churn is rarely rare enough to need it; instead
    the evaluation is imbalance-aware (PR AUC beside the base rate, lift by decile, stratified folds).
    ``class_weight="balanced"`` is available; the model is then always wrapped in
    ``CalibratedClassifierCV`` so the probabilities are calibrated back to the observed rate.

The customer-base baseline
    BG/NBD (:mod:`cjlib.bgnbd`) fitted on the activity occasions before ``cutoff``; its score is
    P(no activity in the window). Raw P(alive) is *not* used: it equals 1 for every customer without a
    repeat occasion (BG/NBD lets customers drop out only after a repeat purchase), so it ranks one-time
    buyers as the safest customers however long ago they bought.

Explanations
    :func:`permutation_importance_table` (drop in ROC AUC when a feature is shuffled),
    :func:`partial_dependence_table` (average predicted churn as one feature varies) and
    :func:`risk_table`: per customer, the churn probability and the top reasons — the features whose
    replacement by a typical value (median for numbers, most frequent value for categories) lowers this
    customer's predicted churn probability the most (a local perturbation, model-agnostic).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cjlib.bgnbd import BGNBD, fit_bgnbd, rfm_summary
from cjlib.errors import DataError
from cjlib.stagemap import StageMap

__all__ = [
    "CANDIDATES",
    "DESIGNS",
    "MODELS",
    "N_SPLITS",
    "activity_gap_days",
    "choose_model",
    "cross_validation",
    "features_at",
    "validate",
    "ChurnResult",
    "bgnbd_scores",
    "calibration_table",
    "churn_by_segment",
    "classification_metrics",
    "curve_table",
    "default_cutoff",
    "label_customers",
    "lift_table",
    "make_dataset",
    "make_model",
    "out_of_time_validation",
    "partial_dependence_table",
    "plan_window",
    "WindowPlan",
    "MIN_CLASS",
    "permutation_importance_table",
    "risk_table",
]

MODELS = ("logistic", "gbm")
MIN_CLASS = 10  # fewest churned / active customers a data set needs for a model to be fitted and evaluated
_DAY = pd.Timedelta(days=1)


def _threads(n_threads: int | None):
    """Limit OpenMP/BLAS threads while fitting and predicting (``None``: leave them as they are).

    The data sets are small; on a busy machine parallel OpenMP threads in gradient boosting spin and
    slow a fit down more than tenfold, so the functions here default to one thread.
    """
    from contextlib import nullcontext

    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime first, or the limit would miss it)
    from threadpoolctl import threadpool_limits

    if n_threads is None:
        return nullcontext()
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)) or n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer or None, got {n_threads!r}")
    return threadpool_limits(limits=int(n_threads))


# ------------------------------------------------------------------------------------------ validation
def _as_cutoff(cutoff) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(cutoff)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cutoff must be a date like '2025-10-01' or a Timestamp, got {cutoff!r}") from exc
    if pd.isna(ts):
        raise ValueError(f"cutoff must be a date like '2025-10-01' or a Timestamp, got {cutoff!r}")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def _as_window(window_days) -> int:
    if isinstance(window_days, bool) or not isinstance(window_days, (int, np.integer)) or window_days < 1:
        raise ValueError(f"window_days must be a positive integer number of days, got {window_days!r}")
    return int(window_days)


def _as_activity(activity_events, events: pd.DataFrame) -> list[str] | None:
    if activity_events is None:
        return None
    if isinstance(activity_events, str):
        activity_events = [e.strip() for e in activity_events.split(",") if e.strip()]
    names = [str(e) for e in activity_events]
    if not names:
        return None
    present = set(map(str, pd.unique(events["event"].dropna())))
    unknown = sorted(set(names) - present)
    if unknown:
        raise ValueError(f"activity_events {unknown} do not occur in the event log; events are {sorted(present)}")
    return names


def _check_events(events: pd.DataFrame) -> None:
    for col in ("customer_id", "timestamp", "event"):
        if col not in events.columns:
            raise ValueError(f"events must have a {col!r} column (columns: {list(events.columns)})")
    if len(events) == 0:
        raise DataError("the event log is empty", column="timestamp", rule="empty_input")


def default_cutoff(events: pd.DataFrame, window_days: int) -> pd.Timestamp:
    """The latest cutoff whose whole window the data covers: midnight after the last event day − window.

    Parameters
    ----------
    events : DataFrame
        Event log with a ``timestamp`` column.
    window_days : int
        Length of the churn window in days.

    Returns
    -------
    Timestamp
        ``floor(last event, day) + 1 day − window_days``.

    Examples
    --------
    >>> ev = pd.DataFrame({"timestamp": pd.to_datetime(["2025-01-01 10:00", "2025-12-31 23:00"])})
    >>> default_cutoff(ev, 90)
    Timestamp('2025-10-03 00:00:00')
    """
    window = _as_window(window_days)
    last = pd.Timestamp(events["timestamp"].max())
    return last.floor("D") + _DAY - pd.Timedelta(days=window)


def _check_window(events: pd.DataFrame, cutoff: pd.Timestamp, window: int) -> None:
    ts = events["timestamp"]
    first, last = pd.Timestamp(ts.min()), pd.Timestamp(ts.max())
    if cutoff <= first or cutoff > last:
        raise DataError(f"cutoff {cutoff} is outside the data: it must be after the first event ({first}) "
                        f"and not after the last ({last})", column="timestamp", rule="cutoff_outside_data")
    end = cutoff + pd.Timedelta(days=window)
    covered = last.floor("D") + _DAY
    if end > covered:
        raise DataError(f"the churn window [{cutoff}, {end}) runs past the end of the data ({last}): "
                        f"customers would look churned only because the log stops; use a cutoff on or "
                        f"before {covered - pd.Timedelta(days=window)} or a shorter churn window (the report's "
                        f"churn_window_days; window_days in cjlib.churn)",
                        column="timestamp", rule="window_past_data")
    in_window = ((ts >= cutoff) & (ts < end)).to_numpy()
    if not in_window.any():
        raise DataError(f"no events at all in the churn window [{cutoff}, {end}): the label would call "
                        f"everyone churned", column="timestamp", rule="empty_window")


def _check_classes(y: pd.Series, name: str, when: pd.Timestamp, window: int, min_class: int) -> None:
    churned = int(np.asarray(y).sum())
    active = len(y) - churned
    if min(churned, active) < min_class:
        few, k = ("churned", churned) if churned < active else ("active", active)
        raise DataError(f"in the {name} window ({window} days from {when:%Y-%m-%d}) only {k:,} of the "
                        f"{len(y):,} customers {'churned' if few == 'churned' else 'stayed active'}; a churn "
                        f"model needs {min_class} or more customers of each outcome (churned, active)",
                        column="event", rule="too_few_per_class")


DESIGNS = ("out_of_time", "cross_validation")
MIN_WINDOW_DAYS = 7  # the shortest churn window a fitted plan uses
GAP_PERCENTILE = 80  # the fitted window covers this percentile of the gaps between a customer's active days


def activity_gap_days(events: pd.DataFrame, activity_events: Sequence[str] | None = None, *,
                      percentile: float = GAP_PERCENTILE) -> float:
    """A high percentile of the days between a customer's consecutive active days.

    An active day is a calendar day with an activity event (any event by default). Only customers with
    two or more active days have gaps.

    Parameters
    ----------
    events : DataFrame
        Event log (``customer_id``, ``timestamp``, ``event``).
    activity_events : sequence of str, optional
        Events that count as activity (default: every event).
    percentile : float, default 80

    Returns
    -------
    float
        Days; NaN when no customer has a second active day.

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "b"], "event": ["x"] * 5,
    ...     "timestamp": pd.to_datetime(["2025-01-01 09:00", "2025-01-11 09:00", "2025-01-11 18:00", "2025-01-01 09:00", "2025-01-31 09:00"])})
    >>> activity_gap_days(ev, percentile=50)
    20.0
    """
    act = events if activity_events is None else events[events["event"].astype(str).isin(list(activity_events)).to_numpy()]
    days = pd.DataFrame({"c": act["customer_id"].to_numpy(), "d": act["timestamp"].dt.floor("D").to_numpy()})
    days = days.drop_duplicates().sort_values(["c", "d"], kind="stable")
    same = days["c"].to_numpy()[1:] == days["c"].to_numpy()[:-1]
    gaps = (np.diff(days["d"].to_numpy()) / np.timedelta64(1, "D"))[same]
    return float(np.percentile(gaps, percentile)) if len(gaps) else float("nan")


@dataclass(frozen=True)
class WindowPlan:
    """The churn window, the cutoffs and the validation design this log allows (:func:`plan_window`).

    Attributes
    ----------
    window_days : int
        The churn window.
    cutoff : Timestamp
        Start of the evaluation's label window (the latest whose window the data covers, unless given).
    train_cutoff : Timestamp or None
        ``cutoff − window_days`` for the out-of-time design; None for cross-validation.
    design : {"out_of_time", "cross_validation"}
        Out of time when the history before ``cutoff`` holds two windows (a training history and a
        training label window); otherwise customer-split cross-validation at ``cutoff``.
    given : bool
        Whether the window was given (else fitted to the customers' gaps between active days).
    reason : str
        One sentence: how the window and the design were chosen.
    span_days : float
        Days the log covers (first event to the end of the last event's day).
    longest_days : int
        The longest window that fits this log (and cutoff) with cross-validation.
    gap_days : float
        The :data:`GAP_PERCENTILE` th percentile of the gaps between active days (NaN without repeats).
    as_of : Timestamp
        The end of the data (midnight after the last event day): the date the action list is scored at.
    """

    window_days: int
    cutoff: pd.Timestamp
    train_cutoff: pd.Timestamp | None
    design: str
    given: bool
    reason: str
    span_days: float
    longest_days: int
    gap_days: float
    as_of: pd.Timestamp


def _longest(first: pd.Timestamp, covered: pd.Timestamp, cutoff: pd.Timestamp | None) -> int:
    """Longest whole-day window with one window of history before the cutoff and one after it."""
    if cutoff is None:
        return int(((covered - first) / _DAY) // 2)
    return int(min((cutoff - first) / _DAY, (covered - cutoff) / _DAY))


def plan_window(events: pd.DataFrame, window_days: int | None = None, *, cutoff=None,
                activity_events: Sequence[str] | None = None) -> WindowPlan:
    """Fit the churn window and the validation design to the log.

    Without a window (``None`` or 0) it is the :data:`GAP_PERCENTILE` th percentile of the gaps between a
    customer's consecutive active days, rounded up to whole weeks and at least :data:`MIN_WINDOW_DAYS`
    days — a customer who is quiet for longer than most returning customers ever are counts as churned —
    and capped at the longest window that fits. The design is out of time when the history before the
    cutoff holds two windows, else customer-split cross-validation at the cutoff, which needs one
    window of history before the cutoff and one window after it.

    Parameters
    ----------
    events : DataFrame
        Event log (``customer_id``, ``timestamp``, ``event``).
    window_days : int, optional
        The window asked for (a report's ``churn_window_days``); ``None`` or 0 fits one.
    cutoff : str or Timestamp, optional
        A fixed evaluation cutoff (default: the latest whose window the data covers).
    activity_events : sequence of str, optional
        Events that count as activity (for the gaps).

    Returns
    -------
    WindowPlan

    Raises
    ------
    DataError
        Rule ``window_too_long``: the given window does not fit (the message names the longest that
        does); rule ``span_too_short``: not even a :data:`MIN_WINDOW_DAYS`-day window fits.

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "event": ["x"] * 3,
    ...     "timestamp": pd.to_datetime(["2025-01-01 00:00", "2025-02-12 00:00", "2025-06-29 12:00"])})
    >>> p = plan_window(ev)
    >>> p.window_days, p.design, str(p.cutoff.date())
    (42, 'out_of_time', '2025-05-19')
    >>> plan_window(ev, 61).design
    'cross_validation'
    """
    given = window_days is not None and window_days != 0
    ts = events["timestamp"]
    first, last = pd.Timestamp(ts.min()), pd.Timestamp(ts.max())
    covered = last.floor("D") + _DAY
    cut_given = None if cutoff is None or (isinstance(cutoff, str) and not cutoff.strip()) else _as_cutoff(cutoff)
    if cut_given is not None and not first < cut_given < covered:
        raise DataError(f"cutoff {cut_given:%Y-%m-%d} is outside the data ({first:%Y-%m-%d} to {last:%Y-%m-%d})",
                        column="timestamp", rule="cutoff_outside_data")
    span = (covered - first) / _DAY
    longest = _longest(first, covered, cut_given)
    gap = activity_gap_days(events, _as_activity(activity_events, events) if activity_events else None)
    if longest < MIN_WINDOW_DAYS:
        raise DataError(f"the log covers {span:,.0f} days{'' if cut_given is None else ' around the cutoff'}: a "
                        f"churn model needs a window of at least {MIN_WINDOW_DAYS} days of history before the "
                        f"cutoff and one after it", column="timestamp", rule="span_too_short")
    if given:
        window = _as_window(window_days)
        if window > longest:
            where = "" if cut_given is None else f" with cutoff {cut_given:%Y-%m-%d}"
            raise DataError(f"churn_window_days {window} does not fit this log ({span:,.0f} days{where}): a churn "
                            f"model needs one window of history before the cutoff and one after it; the longest "
                            f"window that fits is {longest} days", column="timestamp", rule="window_too_long")
        reason = f"The churn window is {window} days, as given."
    else:
        fitted = MIN_WINDOW_DAYS if gap != gap else max(MIN_WINDOW_DAYS, int(math.ceil(gap / 7.0) * 7))
        window = min(fitted, longest)
        if gap != gap:
            reason = (f"No customer was active on two different days, so the churn window is the shortest "
                      f"used, {window} days.")
        else:
            reason = (f"The churn window is {window} days: {GAP_PERCENTILE} % of the gaps between a customer's "
                      f"active days are {gap:,.0f} days or shorter")
            reason += (", rounded up to whole weeks." if window == fitted else
                       f"; {fitted} days would not fit the log's {span:,.0f} days, so it is capped at the longest "
                       f"that fits.")
    w = pd.Timedelta(days=window)
    cut = covered - w if cut_given is None else cut_given
    oot = (cut - w) - first >= w
    design = "out_of_time" if oot else "cross_validation"
    return WindowPlan(window, cut, cut - w if oot else None, design, given, reason, span, longest, gap, covered)


# ------------------------------------------------------------------------------------------ data set
def label_customers(
    events: pd.DataFrame,
    *,
    cutoff: str | pd.Timestamp,
    window_days: int,
    activity_events: Sequence[str] | None = None,
) -> pd.Series:
    """The churn label: 1 when a customer with an event before ``cutoff`` has no activity in the window.

    Parameters
    ----------
    events : DataFrame
        Event log (``customer_id``, ``timestamp``, ``event``).
    cutoff : str or Timestamp
        Start of the window (inclusive).
    window_days : int
        Window length in days; the window is ``[cutoff, cutoff + window_days)``.
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
    >>> label_customers(ev, cutoff="2025-01-10", window_days=1).to_dict()
    {'a': 0, 'b': 1, 'c': 1}
    """
    _check_events(events)
    cut = _as_cutoff(cutoff)
    window = _as_window(window_days)
    activity = _as_activity(activity_events, events)
    ts = events["timestamp"]
    ids = events["customer_id"]
    before = ids[(ts < cut).to_numpy()]
    customers = pd.Index(pd.unique(before), name="customer_id").sort_values()
    in_win = ((ts >= cut) & (ts < cut + pd.Timedelta(days=window))).to_numpy()
    if activity is not None:
        in_win = in_win & events["event"].astype(str).isin(activity).to_numpy()
    active = customers.isin(pd.unique(ids[in_win]))
    return pd.Series((~active).astype(np.int64), index=customers, name="churned")


def _extra_features(ev: pd.DataFrame, cut: pd.Timestamp, window: int, activity: list[str] | None,
                    index: pd.Index) -> pd.DataFrame:
    """Activity recency, recent activity days and the last device, from events before ``cut`` only."""
    act = ev if activity is None else ev[ev["event"].astype(str).isin(activity).to_numpy()]
    day = act["timestamp"].dt.floor("D")
    g = pd.DataFrame({"customer_id": act["customer_id"].to_numpy(), "day": day.to_numpy()})
    days = g.drop_duplicates().groupby("customer_id", sort=False).size().reindex(index).fillna(0)
    recent_from = cut - pd.Timedelta(days=window)
    recent = (g[g["day"] >= recent_from].drop_duplicates().groupby("customer_id", sort=False).size()
              .reindex(index).fillna(0))
    out = pd.DataFrame(index=index)
    last_ts = act.groupby("customer_id", sort=False)["timestamp"].max().reindex(index)
    if activity is not None:  # with any event as activity it would repeat recency_days
        out["activity_recency_days"] = (cut - last_ts).dt.total_seconds() / 86_400.0
    out["activity_days"] = days.astype(np.int64)
    out["activity_days_recent"] = recent.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        span = np.maximum((cut - ev.groupby("customer_id", sort=False)["timestamp"].min().reindex(index))
                          .dt.total_seconds().to_numpy() / 86_400.0, 1.0)
    out["activity_days_per_30d"] = days.to_numpy() / span * 30.0
    if "device" in ev.columns:
        dev = ev.groupby("customer_id", sort=False)["device"].last().reindex(index)
        out["device"] = dev.astype("str")
    return out


def features_at(
    events: pd.DataFrame,
    *,
    as_of: str | pd.Timestamp,
    window_days: int,
    activity_events: Sequence[str] | None = None,
    customers: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    stage_map: StageMap | None = None,
    exclude: Sequence[str] | None = None,
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
    window_days : int
        The churn window (``activity_days_recent`` counts the active days in the window before
        ``as_of``).

    Returns
    -------
    DataFrame
        The ``X`` of :func:`make_dataset`, indexed by ``customer_id`` (sorted).
    """
    from cjlib.features import customer_features

    cut = _as_cutoff(as_of)
    window = _as_window(window_days)
    activity = _as_activity(activity_events, events)
    # Only the past goes in: every feature is computed from this frame.
    past = events.loc[(events["timestamp"] < cut).to_numpy()].reset_index(drop=True)
    if len(past) == 0:
        raise DataError(f"no events before {cut}", column="timestamp", rule="cutoff_outside_data")
    fb = None
    if feedback is not None:
        fb = feedback.loc[(feedback["timestamp"] < cut).to_numpy()].reset_index(drop=True)
    X = customer_features(past, customers=customers, feedback=fb, cutoff=cut, stage_map=stage_map,
                          exclude=exclude)
    X = X.drop(columns=[c for c in ("furthest_stage_name",) if c in X.columns])
    for col in X.columns:  # dates (e.g. signup_date) become days before the cutoff
        if pd.api.types.is_datetime64_any_dtype(X[col]):
            X[col] = (cut - X[col]).dt.total_seconds() / 86_400.0
    extra = _extra_features(past, cut, window, activity, X.index)
    X = X.join(extra.drop(columns=[c for c in (exclude or ()) if c in extra.columns]))
    X = X.sort_index()
    X.index.name = "customer_id"
    return X


def make_dataset(
    events: pd.DataFrame,
    *,
    cutoff: str | pd.Timestamp,
    window_days: int,
    activity_events: Sequence[str] | None = None,
    customers: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    stage_map: StageMap | None = None,
    exclude: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Features as of ``cutoff`` and the churn label of the window after it.

    Parameters
    ----------
    events : DataFrame
        Event log as :func:`cjlib.load_events` returns it (not modified).
    cutoff : str or Timestamp
        Features use only events and feedback strictly before it; the label window starts at it.
    window_days : int
        Label window ``[cutoff, cutoff + window_days)`` (start inclusive, end exclusive).
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
        ``window_days`` before ``cutoff``), ``activity_days_per_30d``, and ``device`` (the last one seen)
        when the log has it. ``X.attrs`` holds ``cutoff``, ``window_days`` and ``activity_events``.
    y : Series of int
        ``churned``: 1 when the customer has no activity event in the window; aligned with ``X``.

    Raises
    ------
    DataError
        The cutoff is outside the data (no event before it, or after the last event); the window runs
        past the end of the data or holds no event at all; every customer has the same label.
    ValueError
        Bad ``cutoff``, ``window_days`` or ``activity_events`` (unknown events).

    Examples
    --------
    >>> from cjlib.synth import generate
    >>> d = generate(300, seed=1)
    >>> X, y = make_dataset(d.events, cutoff="2025-09-01", window_days=60)
    >>> X.index.equals(y.index), set(y.unique()) == {0, 1}
    (True, True)
    """
    _check_events(events)
    cut = _as_cutoff(cutoff)
    window = _as_window(window_days)
    activity = _as_activity(activity_events, events)
    _check_window(events, cut, window)

    y = label_customers(events, cutoff=cut, window_days=window, activity_events=activity)
    if y.nunique() < 2:
        which = "churned" if y.iloc[0] == 1 else "active"
        raise DataError(f"all {len(y):,} customers are {which} in [{cut}, {cut + pd.Timedelta(days=window)}) "
                        f"(activity: {activity or 'any event'}): a churn model needs both classes; change "
                        f"cutoff, churn_window_days (window_days in cjlib.churn) or activity_events",
                        column="event", rule="single_class")

    X = features_at(events, as_of=cut, window_days=window, activity_events=activity, customers=customers,
                    feedback=feedback, stage_map=stage_map, exclude=exclude)
    y = y.reindex(X.index)
    X.attrs.update(cutoff=cut.isoformat(), window_days=window, activity_events=activity)
    y.attrs.update(X.attrs)
    return X, y


# ------------------------------------------------------------------------------------------ models
def _split_columns(X: pd.DataFrame) -> tuple[list[str], list[str]]:
    num = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])]
    num += [c for c in X.columns if pd.api.types.is_bool_dtype(X[c])]
    cat = [c for c in X.columns if c not in num]
    return num, cat


def make_model(kind: str = "gbm", X: pd.DataFrame | None = None, *, class_weight: str | None = None,
               seed: int = 0):
    """An unfitted churn model: one scikit-learn Pipeline holding every preprocessing step.

    Parameters
    ----------
    kind : {"logistic", "gbm"}, default "gbm"
        L2 logistic regression, or regularized histogram gradient boosting with sigmoid calibration.
    X : DataFrame, optional
        Training features, used only to tell numeric from categorical columns (default: numeric columns
        by dtype at fit time, everything else one-hot encoded).
    class_weight : {None, "balanced"}, default None
        ``None`` (the default) fits the data as it is, which keeps probabilities calibrated.
        ``"balanced"`` reweights the classes and always adds a 3-fold sigmoid calibration on top.
    seed : int, default 0
        Seed of every random step (boosting's validation split, calibration folds).

    Returns
    -------
    sklearn.pipeline.Pipeline
        ``prep`` (ColumnTransformer: median imputation with missing indicators and scaling for numbers,
        one-hot for categories) → ``model``.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if kind not in MODELS:
        raise ValueError(f"model kind must be one of {list(MODELS)}, got {kind!r}")
    if class_weight not in (None, "balanced"):
        raise ValueError(f"class_weight must be None or 'balanced', got {class_weight!r}")
    if X is not None:
        num, cat = _split_columns(X)
        num_sel, cat_sel = num, cat
    else:
        num_sel = make_column_selector(dtype_include="number")
        cat_sel = make_column_selector(dtype_exclude="number")
    numeric = make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                            StandardScaler())
    categorical = make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                                OneHotEncoder(handle_unknown="ignore", min_frequency=20, sparse_output=False))
    prep = ColumnTransformer([("num", numeric, num_sel), ("cat", categorical, cat_sel)],
                             verbose_feature_names_out=False)
    if kind == "logistic":
        est = LogisticRegression(C=1.0, max_iter=2000, class_weight=class_weight)
        calibrate = class_weight is not None
    else:
        est = HistGradientBoostingClassifier(learning_rate=0.1, max_iter=300, max_leaf_nodes=15,
                                             min_samples_leaf=40, l2_regularization=1.0, max_bins=63,
                                             early_stopping=True, validation_fraction=0.15,
                                             n_iter_no_change=20, class_weight=class_weight,
                                             random_state=seed)
        calibrate = True
    if calibrate:
        est = CalibratedClassifierCV(est, method="sigmoid",
                                     cv=StratifiedKFold(3, shuffle=True, random_state=seed))
    return Pipeline([("prep", prep), ("model", est)])


# ------------------------------------------------------------------------------------------ evaluation
def _check_scores(y_true, score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(float)
    s = np.asarray(score, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"y_true and score must be 1-d and of equal length, got {y.shape} and {s.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold 0/1 labels")
    if np.isnan(s).any():
        raise ValueError("score holds NaN")
    return y.astype(int), s


def lift_table(y_true, score, *, n_bins: int = 10) -> pd.DataFrame:
    """Lift and cumulative gains by score bin (decile by default), highest risk first.

    Customers are ranked by ``score`` from highest to lowest (ties keep their input order) and cut into
    ``n_bins`` groups of equal size (sizes differ by at most one; customer at rank ``i`` of ``n`` goes to
    bin ``floor(i * n_bins / n) + 1``).

    Parameters
    ----------
    y_true : array-like of 0/1
        1 = churned.
    score : array-like of float
        Higher = more at risk.
    n_bins : int, default 10

    Returns
    -------
    DataFrame
        Index ``bin`` (1 = highest scores): ``customers``, ``churners``, ``churn_rate``, ``lift``
        (churn_rate / base rate), ``cum_customers_share``, ``cum_churners_share`` (gains: share of all
        churners captured so far), ``cum_lift``, ``min_score``, ``max_score``.

    Examples
    --------
    >>> lift_table([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], n_bins=2)["lift"].tolist()
    [1.0, 1.0]
    """
    y, s = _check_scores(y_true, score)
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or not 1 <= n_bins <= len(y):
        raise ValueError(f"n_bins must be an integer between 1 and the number of customers, got {n_bins!r}")
    order = np.argsort(-s, kind="stable")
    n = len(y)
    b = np.arange(n) * n_bins // n  # 0-based bin by rank
    ys, ss = y[order], s[order]
    cnt = np.bincount(b, minlength=n_bins)
    ch = np.bincount(b, weights=ys, minlength=n_bins)
    base = y.mean()
    rate = ch / cnt
    out = pd.DataFrame({
        "customers": cnt,
        "churners": ch.astype(np.int64),
        "churn_rate": rate,
        "lift": rate / base if base > 0 else np.nan,
        "cum_customers_share": np.cumsum(cnt) / n,
        "cum_churners_share": np.cumsum(ch) / ch.sum() if ch.sum() > 0 else np.nan,
        "cum_lift": (np.cumsum(ch) / np.cumsum(cnt)) / base if base > 0 else np.nan,
        "min_score": pd.Series(ss).groupby(b).min().to_numpy(),
        "max_score": pd.Series(ss).groupby(b).max().to_numpy(),
    }, index=pd.RangeIndex(1, n_bins + 1, name="bin"))
    return out


def calibration_table(y_true, prob, *, n_bins: int = 10) -> pd.DataFrame:
    """Observed churn rate against mean predicted probability in equal-size bins of the prediction.

    Returns
    -------
    DataFrame
        Index ``bin`` (1 = lowest predictions): ``customers``, ``mean_predicted``, ``observed_rate``,
        ``gap`` (observed − predicted).
    """
    y, p = _check_scores(y_true, prob)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("prob must lie in [0, 1]")
    order = np.argsort(p, kind="stable")
    n = len(y)
    b = np.empty(n, np.int64)
    b[order] = np.arange(n) * n_bins // n
    cnt = np.bincount(b, minlength=n_bins)
    mp = np.bincount(b, weights=p, minlength=n_bins) / cnt
    obs = np.bincount(b, weights=y, minlength=n_bins) / cnt
    return pd.DataFrame({"customers": cnt, "mean_predicted": mp, "observed_rate": obs, "gap": obs - mp},
                        index=pd.RangeIndex(1, n_bins + 1, name="bin"))


def classification_metrics(y_true, prob, *, n_bins: int = 10) -> dict[str, float]:
    """ROC AUC, PR AUC (average precision) with the base rate, Brier score and top-bin lift.

    Returns
    -------
    dict
        ``n``, ``base_rate`` (churn share: the PR AUC of a random score), ``roc_auc``, ``pr_auc``,
        ``brier``, ``brier_base`` (Brier of always predicting the base rate), ``top_decile_lift``,
        ``top_decile_capture`` (share of churners in the top bin).
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y, p = _check_scores(y_true, prob)
    if len(np.unique(y)) < 2:
        raise DataError("y_true holds a single class: AUCs are undefined", column="churned", rule="single_class")
    base = float(y.mean())
    lt = lift_table(y, p, n_bins=n_bins)
    return {
        "n": len(y),
        "base_rate": base,
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, np.clip(p, 0, 1))),
        "brier_base": base * (1 - base),
        "top_decile_lift": float(lt["lift"].iloc[0]),
        "top_decile_capture": float(lt["cum_churners_share"].iloc[0]),
    }


def curve_table(y_true, scores: Mapping[str, np.ndarray] | pd.DataFrame, *, kind: str = "roc") -> pd.DataFrame:
    """ROC or precision–recall curve points for several scores, in long form for plotting.

    Parameters
    ----------
    y_true : array-like of 0/1
    scores : mapping or DataFrame
        Score name → scores (higher = more at risk).
    kind : {"roc", "pr"}, default "roc"

    Returns
    -------
    DataFrame
        ``model``, and ``fpr``, ``tpr`` (ROC) or ``recall``, ``precision`` (PR).
    """
    from sklearn.metrics import precision_recall_curve, roc_curve

    if kind not in ("roc", "pr"):
        raise ValueError(f"kind must be 'roc' or 'pr', got {kind!r}")
    parts = []
    for name in scores:
        y, s = _check_scores(y_true, np.asarray(scores[name]))
        if kind == "roc":
            a, b, _ = roc_curve(y, s)
            parts.append(pd.DataFrame({"model": name, "fpr": a, "tpr": b}))
        else:
            prec, rec, _ = precision_recall_curve(y, s)
            parts.append(pd.DataFrame({"model": name, "recall": rec, "precision": prec}))
    return pd.concat(parts, ignore_index=True)


# ------------------------------------------------------------------------------------------ validation run
CANDIDATES = ("logistic", "gbm", "bgnbd")  # the models validation compares and the list may use
N_SPLITS = 5  # customer-split folds when the history holds no out-of-time check
_TRAINING = "out-of-time training set"  # how a failure of the earlier (training) window starts
AUC_TIE = 0.0005  # ROC AUCs this close read the same at three decimals: the simpler model is chosen


@dataclass(frozen=True)
class ChurnResult:
    """A validation run: the fitted models, the held-out scores, their evaluation and the model chosen.

    Attributes
    ----------
    model : str
        The chosen model (``"gbm"``, ``"logistic"`` or ``"bgnbd"``); see ``reason``.
    models : dict
        Kind → fitted Pipeline: trained at ``train_cutoff`` (out of time) or on the first fold's training
        customers (cross-validation).
    bgnbd : BGNBD or None
        The BG/NBD baseline fitted on the activity occasions before ``cutoff`` (None when it cannot be
        fitted; ``info["bgnbd_why"]`` says why). It uses no label, so cross-validation fits it once.
    X_train, y_train, X_test, y_test : DataFrame / Series
        Out of time: the training set at ``train_cutoff`` and the test set at ``cutoff`` (test columns
        aligned to training). Cross-validation: both are the data set at ``cutoff``.
    scores : DataFrame
        Held-out customers × ``logistic``, ``gbm``, ``bgnbd``: predicted churn probabilities (out of fold
        under cross-validation).
    metrics : DataFrame
        Index model, :func:`classification_metrics` columns.
    cutoff : Timestamp
    train_cutoff : Timestamp or None
        None under cross-validation.
    window_days : int
    activity_events : list of str or None
    design : {"out_of_time", "cross_validation"}
    reason : str
        One sentence: why ``model`` was chosen (:func:`choose_model`).
    explain_index : Index or None
        The held-out customers explanations use with ``fitted`` (the first fold under cross-validation;
        None = every test customer).
    """

    model: str
    models: dict
    bgnbd: BGNBD | None
    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series
    scores: pd.DataFrame
    metrics: pd.DataFrame
    cutoff: pd.Timestamp
    train_cutoff: pd.Timestamp | None
    window_days: int
    activity_events: list | None = None
    info: dict = field(default_factory=dict)
    design: str = "out_of_time"
    reason: str = ""
    explain_index: pd.Index | None = None

    @property
    def fitted(self):
        """The fitted Pipeline to explain: the chosen model's, or boosting's when BG/NBD is chosen."""
        return self.models[self.model if self.model in self.models else "gbm"]

    @property
    def explained(self) -> str:
        """The kind :attr:`fitted` is."""
        return self.model if self.model in self.models else "gbm"

    @property
    def X_explain(self) -> pd.DataFrame:
        """Held-out features for :attr:`fitted` (permutation importance, partial dependence)."""
        return self.X_test if self.explain_index is None else self.X_test.loc[self.explain_index]

    @property
    def y_explain(self) -> pd.Series:
        return self.y_test if self.explain_index is None else self.y_test.loc[self.explain_index]

    @property
    def probability(self) -> pd.Series:
        """The chosen model's churn probability per held-out customer."""
        return self.scores[self.model].rename("churn_probability")

    @property
    def bgnbd_summary(self) -> dict | None:
        """``{"r", "alpha", "a", "b", "time_unit", "standard_errors", "roc_auc"}`` of the baseline (for ``report.record``);
        None when BG/NBD could not be fitted."""
        if self.bgnbd is None:
            return None
        return {**self.bgnbd.params, "time_unit": self.bgnbd.time_unit,
                "standard_errors": dict(self.bgnbd.standard_errors),
                "roc_auc": float(self.metrics.loc["bgnbd", "roc_auc"])}


def choose_model(metrics: pd.DataFrame, requested: str = "auto") -> tuple[str, str]:
    """The model for the at-risk list and the sentence saying why.

    ``"auto"`` takes the highest validation ROC AUC among the rows of ``metrics`` (logistic, boosting,
    BG/NBD; AUCs within :data:`AUC_TIE`, equal at three decimals, go to the first in that order). A requested model is honoured, and the
    sentence says so whenever another model scored higher — a model worse than a baseline is never
    used silently.

    Parameters
    ----------
    metrics : DataFrame
        :attr:`ChurnResult.metrics` (index model, column ``roc_auc``).
    requested : {"auto", "gbm", "logistic", "bgnbd"}

    Returns
    -------
    (str, str)
        The model and one sentence.

    Examples
    --------
    >>> m = pd.DataFrame({"roc_auc": [0.737, 0.680, 0.718]}, index=["logistic", "gbm", "bgnbd"])
    >>> choose_model(m)[0]
    'logistic'
    >>> choose_model(m, "gbm")[1]
    'Boosting was asked for (parameter model) and is used, though it ranks churners worse on validation than logistic regression (ROC AUC 0.680 against 0.737) and BG/NBD (0.718).'
    """
    if requested not in ("auto", *CANDIDATES):
        raise ValueError(f"model must be 'auto' or one of {list(CANDIDATES)}, got {requested!r}")
    auc = metrics["roc_auc"].astype(float)
    order = [k for k in CANDIDATES if k in auc.index]
    top = max(auc[k] for k in order)
    best = next(k for k in order if auc[k] >= top - AUC_TIE)  # within display precision: the simpler model
    if requested == "auto":
        tied = [k for k in order if k != best and auc[k] >= top - AUC_TIE]
        if tied:
            return best, (f"{NAMES[best][0].upper() + NAMES[best][1:]} drives the list: it ranks churners as well as "
                          f"{' and '.join(NAMES[k] for k in tied)} on validation (ROC AUC {auc[best]:.3f}) and is the "
                          f"simpler model.")
        rivals = [k for k in order if k != best]
        vs = " and ".join(f"{NAMES[k]} ({auc[k]:.3f})" for k in rivals)
        return best, (f"{NAMES[best][0].upper() + NAMES[best][1:]} drives the list: it ranks churners best on "
                      f"validation (ROC AUC {auc[best]:.3f}" + (f", against {vs})." if rivals else ")."))
    if requested not in auc.index:
        raise DataError(f"model {requested!r} could not be validated on this data", column="event",
                        rule="model_unavailable")
    better = [k for k in order if auc[k] > auc[requested] + 1e-12]
    name = NAMES[requested][0].upper() + NAMES[requested][1:]
    if not better:
        return requested, f"{name} was asked for and is also the best on validation (ROC AUC {auc[requested]:.3f})."
    first, rest = better[0], better[1:]
    tail = "".join(f" and {NAMES[k]} ({auc[k]:.3f})" for k in rest)
    return requested, (f"{name} was asked for (parameter model) and is used, though it ranks churners worse on "
                       f"validation than {NAMES[first]} (ROC AUC {auc[requested]:.3f} against {auc[first]:.3f})"
                       f"{tail}.")


NAMES = {"logistic": "logistic regression", "gbm": "boosting", "bgnbd": "BG/NBD"}


def bgnbd_scores(events: pd.DataFrame, *, cutoff, window_days: int, activity_events=None,
                 customer_ids=None, time_unit: str = "days") -> tuple[pd.DataFrame, BGNBD]:
    """Fit BG/NBD on the activity occasions before ``cutoff`` and score the window after it.

    The model is fitted on the customers with at least one activity occasion before ``cutoff``; customers
    without one (for purchase churn: those who never bought) are scored as ``x = 0`` with their first
    event as time zero.

    Returns
    -------
    scores : DataFrame
        Indexed by ``customer_id``: ``frequency``, ``recency``, ``T``, ``has_activity``, ``p_alive``,
        ``expected_activity`` (expected activity days in the window) and ``p_no_activity`` (the churn
        score; raw P(alive) ranks one-time buyers as safe, so it is not used as the score).
    model : BGNBD
    """
    cut = _as_cutoff(cutoff)
    window = _as_window(window_days)
    activity = _as_activity(activity_events, events) if activity_events is not None else None
    # T ends on the last observed day, as in Fader, Hardie & Lee's CDNOW summaries and lifetimes
    rfm = rfm_summary(events, cutoff=cut, activity_events=activity, time_unit=time_unit,
                      customer_ids=customer_ids, observation_end="last_day")
    # fit on customers with at least one activity occasion (BG/NBD's customers: a first transaction);
    # customers without one (never purchased, for purchase churn) are scored as x = 0 from their first event
    fit_on = rfm[rfm["has_activity"]] if rfm["has_activity"].sum() >= 2 else rfm
    m = fit_bgnbd(fit_on["frequency"], fit_on["recency"], fit_on["T"], time_unit=time_unit)
    t = window / (7.0 if time_unit == "weeks" else 1.0)
    x, tx, T = rfm["frequency"], rfm["recency"], rfm["T"]
    out = rfm.assign(p_alive=m.p_alive(x, tx, T), expected_activity=m.expected_purchases(t, x, tx, T),
                     p_no_activity=m.p_no_purchase(t, x, tx, T))
    return out, m


def _bgnbd_column(events, cut, window, activity, index) -> tuple[np.ndarray | None, BGNBD | None, dict]:
    try:
        bg, bgm = bgnbd_scores(events, cutoff=cut, window_days=window, activity_events=activity,
                               customer_ids=index)
        if not np.isfinite(bg["p_no_activity"].to_numpy(dtype=float)).all():
            raise ValueError("BG/NBD gave undefined scores for some customers")
        return bg["p_no_activity"].to_numpy(), bgm, {"bgnbd_scores": bg}
    except ValueError as exc:
        return None, None, {"bgnbd_why": str(exc)}


def _evaluate(scores: dict, y: pd.Series, index: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame]:
    scores = pd.DataFrame(scores, index=index)
    metrics = pd.DataFrame({k: classification_metrics(y, scores[k]) for k in scores}).T
    metrics.index.name = "model"
    metrics["n"] = metrics["n"].astype(np.int64)
    return scores, metrics


def _align(X_te: pd.DataFrame, X_tr: pd.DataFrame) -> pd.DataFrame:
    """Test columns in the training order; a column the test period lacks (a channel) means zero of it."""
    X_te = X_te.reindex(columns=X_tr.columns)
    for c in X_tr.columns:
        if X_te[c].isna().all() and not X_tr[c].isna().all() and pd.api.types.is_numeric_dtype(X_tr[c]):
            X_te[c] = 0
    return X_te


def out_of_time_validation(
    events: pd.DataFrame,
    *,
    cutoff: str | pd.Timestamp,
    window_days: int,
    activity_events: Sequence[str] | None = None,
    customers: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    stage_map: StageMap | None = None,
    model: str = "auto",
    class_weight: str | None = None,
    seed: int = 0,
    n_threads: int | None = 1,
    exclude: Sequence[str] | None = None,
    min_class: int = MIN_CLASS,
) -> ChurnResult:
    """Train at ``cutoff − window_days``, test at ``cutoff``; compare logistic, GBM and BG/NBD.

    The training labels come from ``[cutoff − window_days, cutoff)``, so nothing at or after ``cutoff``
    is used to fit; the test set's features are also from before ``cutoff`` and its labels from the
    window after it. Both feature models are fitted (the logistic baseline is cheap) and BG/NBD beside
    them; :func:`choose_model` picks the one the result's :attr:`ChurnResult.probability` uses.

    Parameters
    ----------
    events, cutoff, window_days, activity_events, customers, feedback, stage_map, exclude
        As in :func:`make_dataset`.
    model : {"auto", "gbm", "logistic", "bgnbd"}, default "auto"
        See :func:`choose_model`.
    class_weight : {None, "balanced"}, default None
        See :func:`make_model`.
    seed : int, default 0
    n_threads : int or None, default 1
        OpenMP/BLAS threads while fitting (``None`` leaves the library defaults).
    min_class : int, default :data:`MIN_CLASS`
        Fewest churned and fewest active customers each of the two data sets must hold: fewer cannot
        fit a calibrated model (3-fold calibration, early stopping) or evaluate one.

    Returns
    -------
    ChurnResult
        BG/NBD is left out (``bgnbd`` None, no ``bgnbd`` score or metrics row, the reason in
        ``info["bgnbd_why"]``) when it cannot be fitted, e.g. no customer has a repeat activity day.

    Raises
    ------
    DataError
        As :func:`make_dataset`, for either cutoff (e.g. no events before ``cutoff − window_days``,
        rule ``cutoff_outside_data``); rule ``too_few_per_class`` when a data set holds fewer than
        ``min_class`` churned or active customers.
    """
    cut = _as_cutoff(cutoff)
    window = _as_window(window_days)
    train_cut = cut - pd.Timedelta(days=window)
    kw = {"window_days": window, "activity_events": activity_events, "customers": customers, "feedback": feedback,
          "stage_map": stage_map, "exclude": exclude}
    X_te, y_te = make_dataset(events, cutoff=cut, **kw)
    _check_classes(y_te, "test", cut, window, min_class)
    try:
        X_tr, y_tr = make_dataset(events, cutoff=train_cut, **kw)
        _check_classes(y_tr, "training", train_cut, window, min_class)
    except DataError as exc:
        raise DataError(f"{_TRAINING} at cutoff − churn_window_days (window_days in cjlib.churn) "
                        f"= {train_cut}: {exc.message}",
                        column=exc.column, rule=exc.rule) from exc
    activity = X_te.attrs["activity_events"]
    X_te = _align(X_te, X_tr)
    fitted, scores = {}, {}
    with _threads(n_threads):
        for kind in MODELS:
            pipe = make_model(kind, X_tr, class_weight=class_weight, seed=seed).fit(X_tr, y_tr)
            fitted[kind] = pipe
            scores[kind] = pipe.predict_proba(X_te)[:, 1]
    bg, bgm, info = _bgnbd_column(events, cut, window, activity, X_te.index)
    if bg is not None:
        scores["bgnbd"] = bg
    scores, metrics = _evaluate(scores, y_te, X_te.index)
    chosen, reason = choose_model(metrics, model)
    return ChurnResult(model=chosen, models=fitted, bgnbd=bgm, X_train=X_tr, y_train=y_tr, X_test=X_te,
                       y_test=y_te, scores=scores, metrics=metrics, cutoff=cut, train_cutoff=train_cut,
                       window_days=window, activity_events=activity, info=info, design="out_of_time",
                       reason=reason)


def cross_validation(
    events: pd.DataFrame,
    *,
    cutoff: str | pd.Timestamp,
    window_days: int,
    activity_events: Sequence[str] | None = None,
    customers: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    stage_map: StageMap | None = None,
    model: str = "auto",
    class_weight: str | None = None,
    seed: int = 0,
    n_threads: int | None = 1,
    exclude: Sequence[str] | None = None,
    min_class: int = MIN_CLASS,
    n_splits: int = N_SPLITS,
) -> ChurnResult:
    """Customer-split cross-validation at ``cutoff``, for histories too short for an out-of-time check.

    The data set at ``cutoff`` (features from before it, labels from the window after it) is split into
    ``n_splits`` stratified folds of customers; each feature model is fitted on the other folds and
    scores the held-out one, so every customer gets an out-of-fold probability. BG/NBD uses no label
    and is fitted once on the occasions before ``cutoff``. Unlike the out-of-time check, the models are
    tested on the same period they were trained on, so drift between periods is not measured (the
    report says so).

    Parameters
    ----------
    As :func:`out_of_time_validation`, plus ``n_splits`` (default :data:`N_SPLITS`; fewer when a class
    holds fewer customers).

    Returns
    -------
    ChurnResult
        ``design="cross_validation"``, ``train_cutoff=None``; ``models`` are the first fold's and
        ``explain_index`` its held-out customers.
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    cut = _as_cutoff(cutoff)
    window = _as_window(window_days)
    X, y = make_dataset(events, cutoff=cut, window_days=window, activity_events=activity_events,
                        customers=customers, feedback=feedback, stage_map=stage_map, exclude=exclude)
    _check_classes(y, "cross-validation", cut, window, min_class)
    activity = X.attrs["activity_events"]
    folds = int(min(n_splits, y.sum(), len(y) - y.sum()))
    split = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y))
    scores = {k: np.empty(len(X)) for k in MODELS}
    fitted = {}
    with _threads(n_threads):
        for kind in MODELS:
            base = make_model(kind, X, class_weight=class_weight, seed=seed)
            for i, (tr, te) in enumerate(split):
                pipe = clone(base).fit(X.iloc[tr], y.iloc[tr])
                scores[kind][te] = pipe.predict_proba(X.iloc[te])[:, 1]
                if i == 0:
                    fitted[kind] = pipe
    bg, bgm, info = _bgnbd_column(events, cut, window, activity, X.index)
    if bg is not None:
        scores["bgnbd"] = bg
    info["n_splits"] = folds
    scores, metrics = _evaluate(scores, y, X.index)
    chosen, reason = choose_model(metrics, model)
    return ChurnResult(model=chosen, models=fitted, bgnbd=bgm, X_train=X, y_train=y, X_test=X, y_test=y,
                       scores=scores, metrics=metrics, cutoff=cut, train_cutoff=None, window_days=window,
                       activity_events=activity, info=info, design="cross_validation", reason=reason,
                       explain_index=X.index[split[0][1]])


def validate(events: pd.DataFrame, plan: WindowPlan, **kw) -> ChurnResult:
    """The validation ``plan`` calls for: :func:`out_of_time_validation` or :func:`cross_validation`.

    When the out-of-time training set cannot be built (e.g. the earlier window holds no event or one
    class), it falls back to cross-validation at the same cutoff; ``info["fallback"]`` says why and the
    result's ``design`` is ``"cross_validation"``.

    Parameters
    ----------
    events : DataFrame
    plan : WindowPlan
        From :func:`plan_window` (window, cutoff and design).
    **kw
        Passed on (``activity_events``, ``customers``, ``feedback``, ``stage_map``, ``model``, ``seed``,
        ``exclude``, …).
    """
    if plan.design == "out_of_time":
        try:
            return out_of_time_validation(events, cutoff=plan.cutoff, window_days=plan.window_days, **kw)
        except DataError as exc:
            if not exc.message.startswith(_TRAINING):
                raise  # the test set itself cannot be built: cross-validation on it cannot either
            res = cross_validation(events, cutoff=plan.cutoff, window_days=plan.window_days, **kw)
            res.info["fallback"] = exc.message
            return res
    return cross_validation(events, cutoff=plan.cutoff, window_days=plan.window_days, **kw)


# ------------------------------------------------------------------------------------------ explanations
def permutation_importance_table(model, X: pd.DataFrame, y, *, n_repeats: int = 5, max_samples: int = 5000,
                                 seed: int = 0, n_threads: int | None = 1) -> pd.DataFrame:
    """Drop in ROC AUC when each feature is shuffled (sklearn's permutation importance), largest first.

    Parameters
    ----------
    model : fitted Pipeline
    X, y : DataFrame, Series
        Held-out data (the test set), raw feature columns.
    n_repeats : int, default 5
    max_samples : int, default 5000
        Rows drawn (with ``seed``) from ``X`` to keep it fast.
    seed : int, default 0

    Returns
    -------
    DataFrame
        Index ``feature``: ``importance`` (mean AUC drop), ``std``, ``rank`` (1 = most important).
    """
    from sklearn.inspection import permutation_importance

    with _threads(n_threads):
        r = permutation_importance(model, X, np.asarray(y), scoring="roc_auc", n_repeats=n_repeats,
                                   random_state=seed, max_samples=min(max_samples, len(X)) / len(X), n_jobs=1)
    out = pd.DataFrame({"importance": r.importances_mean, "std": r.importances_std},
                       index=pd.Index(X.columns, name="feature"))
    out = out.sort_values(["importance", "std"], ascending=[False, True], kind="stable")
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def partial_dependence_table(model, X: pd.DataFrame, features: Sequence[str], *, grid_resolution: int = 20,
                             max_samples: int = 2000, seed: int = 0, n_threads: int | None = 1) -> pd.DataFrame:
    """Average predicted churn probability as each numeric feature varies over its 5–95 % range.

    The grid is the feature's observed (non-missing) values between its 5 % and 95 % quantiles, or
    ``grid_resolution`` evenly spaced points there when there are more. Non-numeric features are skipped.
    Uses ``sklearn.inspection.partial_dependence`` (brute force) on up to ``max_samples`` rows.

    Returns
    -------
    DataFrame
        ``feature``, ``value``, ``churn_probability`` (long form).
    """
    from sklearn.inspection import partial_dependence

    Xs = X.sample(n=min(max_samples, len(X)), random_state=seed) if len(X) > max_samples else X
    parts = []
    for f in features:
        if f not in X.columns:
            raise ValueError(f"feature {f!r} is not a column of X")
        if not pd.api.types.is_numeric_dtype(X[f]) or X[f].nunique() < 2:
            continue
        Xf = Xs.astype({f: float}) if pd.api.types.is_integer_dtype(Xs[f]) else Xs  # sklearn refuses ints
        # the grid from the observed values only (sklearn's percentiles turn NaN when values are missing)
        vals = X[f].to_numpy(dtype=float)
        lo, hi = np.nanquantile(vals, [0.05, 0.95])
        uniq = np.unique(vals[np.isfinite(vals) & (vals >= lo) & (vals <= hi)])
        grid = uniq if len(uniq) <= grid_resolution else np.linspace(lo, hi, grid_resolution)
        if len(grid) < 2:
            continue
        with _threads(n_threads):
            pdp = partial_dependence(model, Xf, [f], custom_values={f: grid}, kind="average", method="brute")
        parts.append(pd.DataFrame({"feature": f, "value": np.asarray(pdp["grid_values"][0], dtype=float),
                                   "churn_probability": np.asarray(pdp["average"][0])}))
    if not parts:
        return pd.DataFrame(columns=["feature", "value", "churn_probability"])
    return pd.concat(parts, ignore_index=True)


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return "missing"
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
    return str(v)


def risk_table(model, X: pd.DataFrame, *, top_n: int = 3, reference: pd.DataFrame | None = None,
               features: Sequence[str] | None = None, n_threads: int | None = 1) -> pd.DataFrame:
    """Per customer: churn probability, risk decile and the top reasons, highest risk first.

    A reason is a feature whose replacement by a *typical* value — the median (numbers) or most frequent
    value (categories) of ``reference`` — lowers this customer's predicted churn probability; its size
    is that drop (a local, one-feature-at-a-time perturbation; it works for any model, interactions are
    not split). Features whose replacement would *raise* the risk are never reasons.

    Parameters
    ----------
    model : fitted Pipeline
    X : DataFrame
        Customers to score (raw feature columns).
    top_n : int, default 3
        Reasons per customer.
    reference : DataFrame, optional
        Where the typical values come from (default ``X``).
    features : sequence of str, optional
        Candidate reason features (default: every column; the top features by permutation importance
        keep it fast and the reasons meaningful).
    n_threads : int or None, default 1
        OpenMP/BLAS threads while predicting.

    Returns
    -------
    DataFrame
        Index ``customer_id``: ``churn_probability``, ``risk_decile`` (1 = highest risk),
        ``reason_1`` … (text "feature = value (typical t)"), ``reason_1_effect`` … (drop in probability,
        NaN when fewer reasons), sorted by probability descending.
    """
    if top_n < 1:
        raise ValueError(f"top_n must be at least 1, got {top_n!r}")
    ref = X if reference is None else reference
    cols = list(features) if features is not None else list(X.columns)
    missing = [c for c in cols if c not in X.columns]
    if missing:
        raise ValueError(f"features {missing} are not columns of X")
    with _threads(n_threads):
        p, deltas, typical = _perturb(model, X, ref, cols)
    order = np.argsort(-deltas, axis=1, kind="stable")[:, :top_n]
    out = pd.DataFrame({"churn_probability": p}, index=X.index)
    rank = pd.Series(p, index=X.index).rank(ascending=False, method="first").to_numpy()
    out["risk_decile"] = ((rank - 1) * 10 // len(X) + 1).astype(np.int64)
    vals = {c: X[c].to_numpy() for c in cols}
    for k in range(min(top_n, len(cols))):
        j = order[:, k]
        eff = deltas[np.arange(len(X)), j]
        pos = eff > 1e-4
        text = np.array([f"{cols[jj]} = {_fmt(vals[cols[jj]][i])} (typical {_fmt(typical[cols[jj]])})"
                         for i, jj in enumerate(j)], dtype=object)
        out[f"reason_{k + 1}"] = pd.array(np.where(pos, text, None), dtype="str")
        out[f"reason_{k + 1}_effect"] = np.where(pos, eff, np.nan)
    out.index.name = "customer_id"
    return out.sort_values("churn_probability", ascending=False, kind="stable")


def _perturb(model, X: pd.DataFrame, ref: pd.DataFrame, cols: list[str]):
    """Predicted probability and, per feature, its drop when the feature is set to a typical value."""
    p = model.predict_proba(X)[:, 1]
    deltas = np.zeros((len(X), len(cols)))
    typical = {}
    for j, c in enumerate(cols):
        if pd.api.types.is_numeric_dtype(ref[c]):
            t = ref[c].median()
        else:
            mode = ref[c].mode(dropna=True)
            t = mode.iloc[0] if len(mode) else np.nan
        typical[c] = t
        same = (X[c] == t).to_numpy(dtype=bool, na_value=False)
        if same.all():
            continue
        Xm = X.copy()
        Xm[c] = pd.Series([t] * len(X), index=X.index).astype(X[c].dtype) if not pd.isna(t) else X[c]
        deltas[:, j] = p - model.predict_proba(Xm)[:, 1]
        deltas[same, j] = 0.0
    return p, deltas, typical


def churn_by_segment(y, labels: pd.Series, *, prob: pd.Series | None = None) -> pd.DataFrame:
    """Churn rate (and mean predicted probability) per segment, e.g. persona.

    Parameters
    ----------
    y : Series of 0/1
        Churn label indexed by ``customer_id``.
    labels : Series
        Segment per ``customer_id``; customers missing from it are grouped as ``"unknown"``.
    prob : Series, optional
        Predicted churn probability indexed like ``y``.

    Returns
    -------
    DataFrame
        Index = segment (sorted by name): ``customers``, ``churners``, ``churn_rate``,
        ``share_of_churners`` and, with ``prob``, ``mean_predicted``.
    """
    seg = labels.reindex(y.index).astype("object").where(lambda s: s.notna(), "unknown").astype(str)
    df = pd.DataFrame({"segment": seg.to_numpy(), "y": np.asarray(y, dtype=float)}, index=y.index)
    if prob is not None:
        df["p"] = prob.reindex(y.index).to_numpy(dtype=float)
    g = df.groupby("segment", sort=True)
    out = pd.DataFrame({"customers": g.size(), "churners": g["y"].sum().astype(np.int64),
                        "churn_rate": g["y"].mean()})
    out["share_of_churners"] = out["churners"] / max(out["churners"].sum(), 1)
    if prob is not None:
        out["mean_predicted"] = g["p"].mean()
    out.index.name = labels.name or "segment"
    return out
