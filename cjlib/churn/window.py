"""The churn window and the cutoffs: argument checks, activity gaps and :func:`plan_window`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjlib.churn import distributed as _dist
from cjlib.errors import DataError
from cjlib.features import as_cutoff as _as_cutoff
from cjlib.validation import duration

MIN_CLASS = 10  # fewest churned / active customers a data set needs for a model to be fitted and evaluated
_DAY = pd.Timedelta(days=1)


# ------------------------------------------------------------------------------------------ validation
def _as_window(window, name: str = "window") -> int:
    """A churn window in whole days: an int (days), a duration string like ``"49D"`` or a Timedelta.

    >>> _as_window(49), _as_window("49D"), _as_window(pd.Timedelta(weeks=7))
    (49, 49, 49)
    """
    what = f"{name} must be a positive whole number of days: an int (days), '49D' or a Timedelta"
    if isinstance(window, (int, np.integer)) and not isinstance(window, bool):
        if window < 1:
            raise ValueError(f"{what}, got {window!r}")
        return int(window)
    td = duration(name, window, allow_none=False, positive=True) if not isinstance(window, bool) else None
    if td is None or td % _DAY != pd.Timedelta(0):
        raise ValueError(f"{what}, got {window!r}")
    return int(td / _DAY)


def _as_activity(activity_events, events: pd.DataFrame) -> list[str] | None:
    if activity_events is None:
        return None
    if isinstance(activity_events, str):
        activity_events = [e.strip() for e in activity_events.split(",") if e.strip()]
    names = [str(e) for e in activity_events]
    if not names:
        return None
    if _dist.is_partitioned(events):
        present = _dist.facts(events).events_before()
    else:
        present = set(map(str, pd.unique(events["event"].dropna())))
    unknown = sorted(set(names) - present)
    if unknown:
        raise ValueError(f"activity_events {unknown} do not occur in the event log; events are {sorted(present)}")
    return names



def default_cutoff(events: pd.DataFrame, window) -> pd.Timestamp:
    """The latest cutoff whose whole window the data covers: midnight after the last event day − window.

    Parameters
    ----------
    events : DataFrame or Partitioned
        Event log with a ``timestamp`` column.
    window : int, str or Timedelta
        The churn window: days (int), ``"90D"`` or a Timedelta of whole days.

    Returns
    -------
    Timestamp
        ``floor(last event, day) + 1 day − window``.

    Examples
    --------
    >>> ev = pd.DataFrame({"timestamp": pd.to_datetime(["2025-01-01 10:00", "2025-12-31 23:00"])})
    >>> default_cutoff(ev, 90)
    Timestamp('2025-10-03 00:00:00')
    """
    days = _as_window(window)
    last = _span(events)[1]
    return last.floor("D") + _DAY - pd.Timedelta(days=days)


def _span(events) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first and last event of a pandas or Partitioned log."""
    if _dist.is_partitioned(events):
        f = _dist.facts(events)
        return f.first, f.last
    ts = events["timestamp"]
    return pd.Timestamp(ts.min()), pd.Timestamp(ts.max())


def _check_window(events, cutoff: pd.Timestamp, window: int) -> None:
    first, last = _span(events)
    if cutoff <= first or cutoff > last:
        raise DataError(f"cutoff {cutoff} is outside the data: it must be after the first event ({first}) "
                        f"and not after the last ({last})", column="timestamp", rule="cutoff_outside_data")
    end = cutoff + pd.Timedelta(days=window)
    covered = last.floor("D") + _DAY
    if end > covered:
        raise DataError(f"the churn window [{cutoff}, {end}) runs past the end of the data ({last}): "
                        f"customers would look churned only because the log stops; use a cutoff on or "
                        f"before {covered - pd.Timedelta(days=window)} or a shorter churn window (the report's "
                        f"churn_window_days; window in cjlib.churn)",
                        column="timestamp", rule="window_past_data")
    if _dist.is_partitioned(events):
        any_in = _dist.any_between(events, cutoff, end)
    else:
        ts = events["timestamp"]
        any_in = ((ts >= cutoff) & (ts < end)).to_numpy().any()
    if not any_in:
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
TAIL_SHARE = 0.7  # a last week with fewer active customers than this share of the weeks before looks cut short


def activity_gap_days(events: pd.DataFrame, activity_events: Sequence[str] | None = None, *,
                      percentile: float = GAP_PERCENTILE) -> float:
    """A high percentile of the days between a customer's consecutive active days.

    An active day is a calendar day with an activity event (any event by default). Only customers with
    two or more active days have gaps.

    Parameters
    ----------
    events : DataFrame or Partitioned
        Event log (``customer_id``, ``timestamp``, ``event``).
    activity_events : sequence of str, optional
        Events that count as activity (default: every event).
    percentile : float, default 80

    Returns
    -------
    float
        Days; NaN when no customer has a second active day. On a Partitioned log the partitions count
        their gaps and the percentile is taken over the summed counts (the same number).

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "b"], "event": ["x"] * 5,
    ...     "timestamp": pd.to_datetime(["2025-01-01 09:00", "2025-01-11 09:00", "2025-01-11 18:00", "2025-01-01 09:00", "2025-01-31 09:00"])})
    >>> activity_gap_days(ev, percentile=50)
    20.0
    """
    if _dist.is_partitioned(events):
        counts = _dist.run(events, _dist.gap_counts, reduce="sum", gaps=_gaps, activity_events=activity_events)
        if counts is None:
            return float("nan")
        return _dist.percentile_of_counts(counts.index.to_numpy(), counts["count"].to_numpy(), percentile)
    gaps = _gaps(events, activity_events)
    return float(np.percentile(gaps, percentile)) if len(gaps) else float("nan")


def _gaps(events: pd.DataFrame, activity_events: Sequence[str] | None) -> np.ndarray:
    """Days between each customer's consecutive active days (a per-customer kernel)."""
    act = events if activity_events is None else events[events["event"].astype(str).isin(list(activity_events)).to_numpy()]
    days = pd.DataFrame({"c": act["customer_id"].to_numpy(), "d": act["timestamp"].dt.floor("D").to_numpy()})
    days = days.drop_duplicates().sort_values(["c", "d"], kind="stable")
    same = days["c"].to_numpy()[1:] == days["c"].to_numpy()[:-1]
    return (np.diff(days["d"].to_numpy()) / np.timedelta64(1, "D"))[same]


@dataclass(frozen=True)
class WindowPlan:
    """The churn window, the cutoffs and the validation design this log allows (:func:`plan_window`).

    Attributes
    ----------
    window : Timedelta
        The churn window (whole days; :attr:`window_days` is the count reports record).
    cutoff : Timestamp
        Start of the evaluation's label window (the latest whose window the data covers, unless given).
    train_cutoff : Timestamp or None
        ``cutoff − window`` for the out-of-time design; None for cross-validation.
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
    last_week_share : float or None
        Customers active in the log's last 7 days over the median of the four 7-day blocks before them
        (:func:`last_week_share`; None on a log shorter than 35 days or with fewer than 20 customers a week,
        so two plans of one log compare equal).
    """

    window: pd.Timedelta
    cutoff: pd.Timestamp
    train_cutoff: pd.Timestamp | None
    design: str
    given: bool
    reason: str
    span_days: float
    longest_days: int
    gap_days: float
    as_of: pd.Timestamp
    last_week_share: float | None = None

    @property
    def window_days(self) -> int:
        """The churn window in whole days (the report's ``churn_window_days_used``)."""
        return int(self.window / _DAY)


def _longest(first: pd.Timestamp, covered: pd.Timestamp, cutoff: pd.Timestamp | None) -> int:
    """Longest whole-day window with one window of history before the cutoff and one after it."""
    if cutoff is None:
        return int(((covered - first) / _DAY) // 2)
    return int(min((cutoff - first) / _DAY, (covered - cutoff) / _DAY))


def plan_window(events: pd.DataFrame, window=None, *, cutoff=None,
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
    events : DataFrame or Partitioned
        Event log (``customer_id``, ``timestamp``, ``event``).
    window : int, str or Timedelta, optional
        The window asked for: days (a report's ``churn_window_days``), ``"49D"`` or a Timedelta of whole
        days; ``None`` or 0 fits one.
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
    >>> plan_window(ev, "61D").design
    'cross_validation'
    """
    given = window is not None and (isinstance(window, str) or bool(window))
    first, last = _span(events)
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
        days = _as_window(window)
        if days > longest:
            where = "" if cut_given is None else f" with cutoff {cut_given:%Y-%m-%d}"
            raise DataError(f"churn_window_days {days} does not fit this log ({span:,.0f} days{where}): a churn "
                            f"model needs one window of history before the cutoff and one after it; the longest "
                            f"window that fits is {longest} days", column="timestamp", rule="window_too_long")
        reason = f"The churn window is {days} days, as given."
    else:
        fitted = MIN_WINDOW_DAYS if gap != gap else max(MIN_WINDOW_DAYS, int(math.ceil(gap / 7.0) * 7))
        days = min(fitted, longest)
        if gap != gap:
            reason = (f"No customer was active on two different days, so the churn window is the shortest "
                      f"used, {days} days.")
        else:
            reason = (f"The churn window is {days} days: {GAP_PERCENTILE} % of the gaps between a customer's "
                      f"active days are {gap:,.0f} days or shorter")
            reason += (", rounded up to whole weeks." if days == fitted else
                       f"; {fitted} days would not fit the log's {span:,.0f} days, so it is capped at the longest "
                       f"that fits.")
    w = pd.Timedelta(days=days)
    cut = covered - w if cut_given is None else cut_given
    oot = (cut - w) - first >= w
    design = "out_of_time" if oot else "cross_validation"
    return WindowPlan(w, cut, cut - w if oot else None, design, given, reason, span, longest, gap, covered,
                      _measured(last_week_share(events, covered)) if span >= 35 else None)


def _measured(x: float) -> float | None:
    return None if x != x else x


def _week_actives(part: pd.DataFrame, *, end: pd.Timestamp) -> pd.DataFrame:
    """Distinct customers with an event in each of the five 7-day blocks before ``end`` (0 = the last)."""
    ts = part["timestamp"]
    block = ((end - ts) // pd.Timedelta(days=7)).to_numpy()
    keep = (ts < end).to_numpy() & (block < 5)
    pairs = pd.DataFrame({"block": block[keep], "c": part["customer_id"].to_numpy()[keep]}).drop_duplicates()
    return pairs.groupby("block").size().reindex(range(5), fill_value=0).rename_axis("block").to_frame("customers")


def last_week_share(events, end) -> float:
    """Customers active in the 7 days before ``end`` over the median of the four 7-day blocks before those:
    well below 1 when the export cut the last week short (the label window then ends in missing data).

    Parameters
    ----------
    events : DataFrame or Partitioned
        Event log (``customer_id``, ``timestamp``).
    end : str or Timestamp
        The data's end (exclusive; :attr:`WindowPlan.as_of`).

    Returns
    -------
    float
        The share; NaN when the four earlier blocks hold fewer than 20 customers (median).

    Examples
    --------
    >>> days = pd.date_range("2025-01-01", periods=35)
    >>> ev = pd.DataFrame({"customer_id": [f"c{i}" for i in range(40)] * 35,
    ...                    "timestamp": days.repeat(40)})
    >>> cut_short = ev[(ev["timestamp"] < "2025-01-29") | ev["customer_id"].isin([f"c{i}" for i in range(14)])]
    >>> last_week_share(ev, "2025-02-05"), last_week_share(cut_short, "2025-02-05")
    (1.0, 0.35)
    """
    end = pd.Timestamp(end)
    if _dist.is_partitioned(events):
        counts = _dist.run(events, _week_actives, reduce="sum", end=end)
        counts = counts["customers"].reindex(range(5), fill_value=0) if counts is not None else pd.Series(0, range(5))
    else:
        counts = _week_actives(events, end=end)["customers"]
    base = float(np.median(counts.to_numpy()[1:5]))
    return float(counts.iloc[0]) / base if base >= 20 else float("nan")



def activity_list(activity_events: str | Sequence[str] | None) -> list[str] | None:
    """The activity events a report's ``activity_events`` parameter names (``None``: any event counts).

    Parameters
    ----------
    activity_events : str, sequence of str or None
        Comma-separated names (``"purchase, signup"``) or a list; blank names are dropped.

    Returns
    -------
    list of str or None
        ``None`` when no name is left (every event is activity).

    Examples
    --------
    >>> activity_list(" purchase, ,signup")
    ['purchase', 'signup']
    >>> activity_list("") is None
    True
    """
    if activity_events is None:
        return None
    parts = activity_events.split(",") if isinstance(activity_events, str) else activity_events
    return [str(e).strip() for e in parts if str(e).strip()] or None


def plan_window_or_reason(events: pd.DataFrame, window=None, *, cutoff=None,
                          activity_events: Sequence[str] | None = None) -> tuple[WindowPlan | None, str | None]:
    """:func:`plan_window` for a report: the plan, or ``None`` and the sentence saying why none fits.

    A window or cutoff that was *given* and does not fit is a bad parameter, so its ``DataError`` is
    raised (one line, the run stops); a fitted window that finds no room is a property of the data, and
    the report says so and leaves the model out.

    Parameters
    ----------
    events : DataFrame or Partitioned
    window : int, str, Timedelta or None
        As in :func:`plan_window` (a report's ``churn_window_days``; ``None`` or 0 fits one).
    cutoff : str or Timestamp, optional
        ``""`` or ``None``: the latest whose window the data covers.
    activity_events : sequence of str, optional

    Returns
    -------
    (WindowPlan, None) or (None, str)

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "b"], "event": ["x", "x"],
    ...                    "timestamp": pd.to_datetime(["2025-01-01", "2025-01-05"])})
    >>> plan_window_or_reason(ev)
    (None, 'the log covers 5 days: a churn model needs a window of at least 7 days of history before the cutoff and one after it.')
    """
    cutoff = None if isinstance(cutoff, str) and not cutoff.strip() else cutoff
    if window or cutoff is not None:  # given parameters that do not fit raise
        return plan_window(events, window, cutoff=cutoff, activity_events=activity_events), None
    return _or_reason(plan_window, events, window, cutoff=cutoff, activity_events=activity_events)


def _or_reason(fit, *args, errors: type[Exception] | tuple = DataError, **kw) -> tuple[object | None, str | None]:
    """``(fit(*args, **kw), None)``, or ``(None, sentence)`` when it raises one of ``errors``: the
    ``…_or_reason`` form of a churn step for a report (:func:`cjlib.findings.churn.no_model_sentence`)."""
    from cjlib.findings.churn import no_model_sentence

    try:
        return fit(*args, **kw), None
    except errors as exc:
        return None, no_model_sentence(exc)
