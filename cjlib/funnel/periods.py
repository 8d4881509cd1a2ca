"""This period against the last: a fitted funnel's conversion in the latest full period whose conversion
windows have all closed, against the period before it.

Rules
-----
* **Each period is its own funnel.** A period's units are those with a step-1 event inside it, and a
  unit's progress there is its best attempt (furthest step, the rules of :mod:`cjlib.funnel`) among the
  attempts that *start* in the period. Attempts started in other periods do not count, so a unit active
  in both periods counts in both (as a date range does in Amplitude or PostHog): the periods are then
  not independent samples, and an interval that treats them as independent is wider than it needs to be
  (conservative) when a unit behaves alike in both. :attr:`PeriodComparison.in_both` says how many.
* **Censoring.** With a conversion window ``W`` and the data observed up to ``end``, the current period
  is the latest full period ending on or before ``end − W``: every attempt counted had its whole window
  observed. Units whose step-1 event came after that are left out (their window was still open at
  ``end``): :attr:`PeriodComparison.censored` counts them.
* **No window.** An unbounded window never closes, so each period is cut at its own end: a step counts
  only when it was reached before the period ended (both periods give their units at most the period's
  length), and the current period is the latest full period ending on or before ``end``.
* **Sessions.** A session's attempt cannot go past the session's end, so its clock is the earlier of its
  conversion window and its session. A session is *over* at ``end`` when its last event is at least
  :data:`SESSION_GAP` (30 minutes, the gap that ends a session in :func:`cjlib.journeys.sessionize`; taken as
  the timeout of ``session_id`` sessions too, as GA4's default) before ``end``: any later event would start a
  new session. So for ``unit="session"`` the current period is the latest full period ending on or before
  ``end − min(W, 30 minutes)`` (``end − 30 minutes`` without a window, and no period is cut at its end), and
  a session is left out of a period only when it can still move: it is still running at ``end`` (not over)
  and one of its attempts starting in the period has its window open at ``end`` (started after ``end − W``;
  any attempt without a window). Sessions that ended long before ``end`` count even when their 30-day
  window has not closed. With ``W`` ≤ 30 minutes this is the customers' rule.
* **Periods.** ``freq`` is a duration (``"30D"``, ``"7D"``, ``"12h"``: periods of that length, the current
  one ending at ``end − W`` floored to whole days, hours or minutes as the length allows) or a calendar
  alias: ``"W"`` (weeks from Monday) or ``"MS"`` (``"M"``, ``"ME"``: calendar months). The previous
  period must start on or after the data's first event (for calendar periods: its day), else
  ``ValueError`` says the span is too short.
* **Tests.** Per transition, the difference current − previous with Newcombe's hybrid score interval
  (:func:`cjlib.stats.proportion_difference`) and the pooled two-proportion test; the p-values of every
  transition in the table form one family for Holm's correction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from cjlib.funnel.fitted import Funnel
from cjlib.funnel.matching import _Match, _match, _match_options
from cjlib.profiling import SESSION_GAP
from cjlib.stats import holm, proportion_difference, two_proportion_test
from cjlib.validation import duration

__all__ = ["PeriodComparison", "ShortSpan", "compare_periods", "period_freq", "report_periods"]

_CALENDAR = {"W": "W-SUN", "W-SUN": "W-SUN", "M": "M", "MS": "M", "ME": "M"}
_DAY = pd.Timedelta(days=1)
_REPORT_FREQ = {"day": "1D", "week": "W", "month": "MS"}
_AUTO = ("MS", "W", "1D")  # longest first: the longest period the data can hold twice


class ShortSpan(ValueError):
    """The data's span cannot hold the two periods (a :class:`ValueError`; the message says the dates)."""


@dataclass(frozen=True)
class PeriodComparison:
    """A funnel in the current period against the previous one (:func:`compare_periods`).

    Attributes
    ----------
    table : DataFrame
        One row per transition: each step from the required step before it (step k−1 → k when no step is
        optional), then conversion from step 1 to each later step not already paired (1 → k); a unit
        converts on a transition when its best attempt in the period is at both steps. ``from_step``, ``to_step``, ``units_previous`` (units at
        ``from_step`` in the previous period), ``converted_previous`` (of them, at ``to_step``),
        ``rate_previous``, the same three for the current period, ``difference`` (rate current − rate
        previous), ``ci_low``, ``ci_high`` (Newcombe), ``z``, ``p_value``, ``p_adjusted`` (Holm over the
        table's rows) and ``significant`` (``p_adjusted < 1 − confidence``). Rates and tests are NaN when a
        period has no unit at ``from_step``.
    reached : DataFrame
        ``step``, ``previous``, ``current``: units reaching each step in each period (step 1: entering).
    previous_start, previous_end, current_start, current_end : Timestamp
        The periods, ``[start, end)``; ``previous_end == current_start``.
    end : Timestamp
        The data is taken as observed up to this instant (the last event unless given).
    freq : str
        The period as given.
    window : Timedelta or None
        The funnel's conversion window.
    censored : int
        Units left out: those whose step-1 event came after ``current_end`` (up to ``end``) and are not counted
        in the current period (with a window on customers, their window, or their period's, was still open
        at ``end``; without one, their period is not over), and for sessions also those still running at
        ``end`` with an attempt in a period whose window was open (the module's rules).
    in_both : int
        Units counted in both periods.
    confidence : float
        Level of the intervals; ``significant`` uses ``1 − confidence`` as the level of the tests.
    unit : str
        ``"customer"`` or ``"session"``.
    note : str
        The censoring rule in one sentence, with this comparison's dates.
    """

    table: pd.DataFrame
    reached: pd.DataFrame
    previous_start: pd.Timestamp
    previous_end: pd.Timestamp
    current_start: pd.Timestamp
    current_end: pd.Timestamp
    end: pd.Timestamp
    freq: str
    window: pd.Timedelta | None
    censored: int
    in_both: int
    confidence: float
    unit: str
    note: str

    @property
    def calendar(self) -> str | None:
        """``"W"`` or ``"M"`` for calendar periods, ``None`` for periods of a fixed length."""
        code = _calendar(self.freq)
        return None if code is None else code[0]


def _calendar(freq) -> str | None:
    return _CALENDAR.get(freq.strip()) if isinstance(freq, str) else None


def _floor_unit(length: pd.Timedelta) -> str | None:
    """The coarsest of day, hour, minute that divides ``length`` (periods then start on round times)."""
    for unit in ("D", "h", "min"):
        if length % pd.Timedelta(1, unit=unit) == pd.Timedelta(0):
            return unit
    return None


def _session_clock(window: pd.Timedelta | None, unit: str) -> bool:
    """Whether the session rule's clock (the session's end) comes before the window's."""
    return unit == "session" and (window is None or window > SESSION_GAP)


def _gap_text() -> str:
    return f"{SESSION_GAP / pd.Timedelta(minutes=1):g} minutes"


def _clock(window: pd.Timedelta | None, unit: str) -> pd.Timedelta | None:
    """How long before the data's end the current period ends: the window, or for sessions the earlier of
    the window and :data:`SESSION_GAP` (``None``: at the end)."""
    return SESSION_GAP if _session_clock(window, unit) else window


def _bounds(first: pd.Timestamp, end: pd.Timestamp, freq, window: pd.Timedelta | None, unit: str = "customer"):
    """(previous_start, current_start, current_end) of the two periods, or ``ValueError`` when the data's span
    cannot hold them (``unit``: the session rule's clock, see the module's rules)."""
    clock = _clock(window, unit)
    stop = end - clock if clock is not None else end
    code = _calendar(freq)
    if code is not None:
        cur = pd.Period(stop, freq=code) - 1
        bounds = ((cur - 1).start_time, cur.start_time, (cur + 1).start_time)
        earliest = first.normalize()
    else:
        try:
            length = duration("freq", freq, allow_none=False, positive=True)
        except ValueError as exc:
            raise ValueError(f"freq must be a positive duration like '30D' or a calendar alias, one of "
                             f"{list(_CALENDAR)}; got {freq!r}") from exc
        floor = _floor_unit(length)
        stop = stop.floor(floor) if floor else stop
        bounds = (stop - 2 * length, stop - length, stop)
        earliest = first
    if bounds[0] < earliest:
        if _session_clock(window, unit):
            why = (f"the data's end ({end:%Y-%m-%d %H:%M}) minus {_gap_text()}, so that every session counted "
                   f"could have ended")
        elif window is not None:
            why = (f"the data's end ({end:%Y-%m-%d %H:%M}) minus the {_span(window)} conversion window, so that "
                   f"every window counted has closed")
        else:
            why = f"the data's end ({end:%Y-%m-%d %H:%M})"
        raise ShortSpan(
            f"freq={freq!r}: the data cannot hold two full {_period_name(freq)}s: they would run from {bounds[0]:%Y-%m-%d %H:%M} "
            f"to {bounds[2]:%Y-%m-%d %H:%M}, ending by {why}, but the first event is at {first:%Y-%m-%d %H:%M}")
    return bounds


def _period_name(freq) -> str:
    """``"month"``, ``"week"`` or ``"7-day period"``."""
    code = _calendar(freq)
    if code is not None:
        return "month" if code == "M" else "week"
    return f"{_span(duration('freq', freq, allow_none=False, positive=True))} period"


def _span(t: pd.Timedelta) -> str:
    """``"30-day"``, ``"12-hour"``, ``"10-minute"``: a window as an adjective."""
    days, hours = t / _DAY, t / pd.Timedelta(hours=1)
    if days >= 1 and days == round(days):
        return f"{days:g}-day"
    return f"{hours:g}-hour" if hours >= 1 or hours == 0 else f"{t / pd.Timedelta(minutes=1):g}-minute"


def _end(m: _Match, end) -> pd.Timestamp:
    if end is None:
        return pd.Timestamp(int(m.prep.ts.max()))
    t = pd.Timestamp(end)
    if t is pd.NaT or pd.isna(t):
        raise ValueError(f"end must be a timestamp, got {end!r}")
    return t.tz_convert("UTC").tz_localize(None) if t.tzinfo is not None else t


def _period_at(m: _Match, lo: int, hi: int, cut: bool) -> np.ndarray:
    """(units, steps) bool: the unit is at the step in its best attempt among those starting in ``[lo, hi)``
    (ns), by the funnel's rules and options; with ``cut``, events from ``hi`` on do not count."""
    prep = m.prep
    member = np.array(prep.member, copy=True, order="F")
    ts = prep.ts
    member[:, 0] &= (ts >= lo) & (ts < hi)
    if cut:
        member[ts >= hi, :] = False
    pm = replace(prep, member=member)
    if m.has_options:
        return _match_options(pm, m.window, m.mode, m.optional, m.exclusions, m.open).at_step
    return _match(pm, m.window, m.mode).at_step


def _running(m: _Match, end: int) -> np.ndarray:
    """Per row: its session can still move at ``end`` (ns): the session is still running (its last event
    less than :data:`SESSION_GAP` before ``end``, or after it) and the row's window is open at ``end``."""
    prep = m.prep
    if not len(prep.ts):
        return np.zeros(0, bool)
    last = np.maximum.reduceat(prep.ts, prep.unit_start)
    moving = (last > end - SESSION_GAP.value)[prep.unit]
    if m.window is not None:
        moving &= prep.ts > end - int(m.window)
    return moving


def _period_units(m: _Match, bounds: tuple, cut: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """(:func:`_period_at` of the previous and of the current period, units left out) for ``bounds`` =
    (previous start, current start, current end, end) in ns; partitions of complete units concatenate / sum.

    Sessions still able to move at ``end`` (:func:`_running` at an attempt's step-1 event in the period) are
    taken out of that period (the module's rules); customers keep the window rule alone."""
    p0, c0, c1, end = bounds
    at_prev = _period_at(m, p0, c0, cut)
    at_cur = _period_at(m, c0, c1, cut)
    ts, step1, unit = m.prep.ts, m.prep.member[:, 0], m.prep.unit
    left = np.zeros(len(at_cur), bool)
    left[unit[step1 & (ts >= c1) & (ts <= end)]] = True  # entered after the current period
    if m.prep.unit_kind == "session":
        moving = step1 & _running(m, end)
        for at, lo, hi in ((at_prev, p0, c0), (at_cur, c0, c1)):
            gone = unit[moving & (ts >= lo) & (ts < hi)]
            at[gone] = False
            left[gone] = True
    censored = int((left & ~at_cur[:, 0]).sum())  # units counted in the current period are not left out
    return at_prev, at_cur, censored


def _transitions(optional) -> list[tuple[int, int]]:
    """Each step from the required step before it, then step 1 to each later step not already paired."""
    K = len(optional)
    last_required, pairs = 0, []
    for k in range(1, K):
        pairs.append((last_required, k))
        if not optional[k]:
            last_required = k
    return pairs + [(0, k) for k in range(1, K) if (0, k) not in pairs]


def _table(labels: list[str], optional, prev: np.ndarray, cur: np.ndarray, confidence: float) -> pd.DataFrame:
    """The per-transition comparison (``prev``, ``cur``: :func:`_period_at` of each period)."""
    pairs = _transitions(optional)
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    n0, n1 = prev[:, a].sum(axis=0), cur[:, a].sum(axis=0)
    x0, x1 = (prev[:, a] & prev[:, b]).sum(axis=0), (cur[:, a] & cur[:, b]).sum(axis=0)
    diff, lo, hi = proportion_difference(x1, n1, x0, n0, confidence=confidence)
    z, p = two_proportion_test(x1, n1, x0, n0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r0 = np.where(n0 > 0, x0 / np.maximum(n0, 1), np.nan)
        r1 = np.where(n1 > 0, x1 / np.maximum(n1, 1), np.nan)
    adj = holm(p)
    return pd.DataFrame({
        "from_step": [labels[i] for i in a], "to_step": [labels[i] for i in b],
        "units_previous": n0, "converted_previous": x0, "rate_previous": r0,
        "units_current": n1, "converted_current": x1, "rate_current": r1,
        "difference": diff, "ci_low": lo, "ci_high": hi, "z": z, "p_value": p, "p_adjusted": adj,
        "significant": np.nan_to_num(adj, nan=1.0) < 1 - confidence,
    })


def _note(window, current_end: pd.Timestamp, end: pd.Timestamp, censored: int, unit: str) -> str:
    units = f"{censored:,} {unit}{' entering' if censored == 1 else 's entering'}"
    verb = "is" if censored == 1 else "are"
    if _session_clock(window, unit):
        clock = (f"with the session (after {_gap_text()} without an event) or with its {_span(window)} conversion "
                 f"window, whichever comes first" if window is not None else
                 f"with the session (after {_gap_text()} without an event), there being no conversion window")
        inside = " inside their window" if window is not None else ""
        head = (f"A session's attempt ends {clock}, so only sessions still running at the data's end "
                f"({end:%Y-%m-%d %H:%M}) could still move")
        if not censored:
            return head + "; none was left out."
        return (f"{head}: {censored:,} session{'' if censored == 1 else 's'} "
                f"{verb} left out, entering on or after {current_end:%Y-%m-%d} (after the current period) or still "
                f"running at the end{inside}.")
    if window is not None:
        head = (f"Only {unit}s whose {_span(window)} conversion window had closed by the data's end "
                f"({end:%Y-%m-%d}) are counted")
        if not censored:
            return head + f"; no {unit} was left out."
        return f"{head}: {units} on or after {current_end:%Y-%m-%d} {verb} left out, their window still open."
    head = "Without a conversion window, a step counts only when reached before its period ended"
    if not censored:
        return head + "."
    return f"{head}; {units} on or after {current_end:%Y-%m-%d} {verb} left out, their period not over."


def compare_periods(funnel: Funnel, *, freq="30D", end=None, confidence: float = 0.95) -> PeriodComparison:
    """The funnel's conversion in the current period against the previous one (the module's rules).

    The current period is the latest full period ending on or before ``end − window`` (``end`` without a
    window), so every unit counted had its whole conversion window observed; units entering later are
    censored (left out and counted in :attr:`PeriodComparison.censored`). Without a window each period's
    funnel stops at the period's end. Sessions (``unit="session"``) stop at their session's end instead: the
    current period ends by ``end − min(window, 30 minutes)``, and only sessions still running at ``end``
    inside their window are left out of a period (the module's rules).

    Parameters
    ----------
    funnel : Funnel
        A fitted :class:`cjlib.funnel.Funnel` of at least two steps.
    freq : str or Timedelta, default "30D"
        The period: a positive duration (``"30D"``, ``"7D"``, ``"12h"``) or a calendar alias, ``"W"``
        (weeks from Monday) or ``"MS"`` (also ``"M"``, ``"ME"``: calendar months).
    end : str or Timestamp, optional
        The instant the data is observed to (default: its last event); timezone-aware values are taken
        to UTC.
    confidence : float, default 0.95
        Level of the Newcombe intervals; the tests' significance level is ``1 − confidence``.

    Returns
    -------
    PeriodComparison

    Raises
    ------
    ValueError
        Fewer than two steps, an open funnel, or a ``freq`` that is neither a duration nor a calendar alias.
    ShortSpan
        A :class:`ValueError`: the data's span cannot hold the two periods (it says the dates).

    Examples
    --------
    Two weeks ending two days (the window) before the last event; ``z`` enters too late to be counted:

    >>> ev = pd.DataFrame({"customer_id": list("aabccdeez"),
    ...     "event": ["product_view", "purchase", "product_view", "product_view", "purchase", "product_view",
    ...               "product_view", "purchase", "product_view"],
    ...     "timestamp": pd.to_datetime(["2025-01-04", "2025-01-05", "2025-01-06", "2025-01-12", "2025-01-12 12:00",
    ...                                  "2025-01-13", "2025-01-14", "2025-01-15", "2025-01-20"], format="mixed")})
    >>> pc = compare_periods(Funnel(ev, ["product_view", "event:purchase"], window="2D"), freq="7D")
    >>> [str(t.date()) for t in (pc.previous_start, pc.current_start, pc.current_end)], pc.censored
    (['2025-01-04', '2025-01-11', '2025-01-18'], 1)
    >>> pc.reached
               step  previous  current
    0  product_view         2        3
    1      purchase         1        2
    >>> round(float(pc.table["difference"].iloc[0]), 4)
    0.1667
    """
    if not isinstance(funnel, Funnel):
        raise TypeError(f"funnel must be a fitted cjlib.funnel.Funnel, got {type(funnel).__name__}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    m: _Match = funnel._match
    labels = list(m.prep.labels)
    if len(labels) < 2:
        raise ValueError("steps: comparing periods needs a funnel of at least 2 steps")
    if not len(m.prep.ts):
        raise ShortSpan("the data has no events")
    if m.open:
        raise ValueError("open funnels cannot be compared by period: an attempt may start at any step, so a period's "
                         "attempts are not told apart by their step-1 event")
    window = None if m.window is None else pd.Timedelta(int(m.window), unit="ns")
    unit = m.prep.unit_kind
    end_ts = _end(m, end)
    first = pd.Timestamp(int(m.prep.ts.min())) if len(m.prep.ts) else end_ts
    p0, c0, c1 = _bounds(first, end_ts, freq, window, unit)
    ns = [int(t.as_unit("ns").value) for t in (p0, c0, c1)]
    bounds = (ns[0], ns[1], ns[2], int(end_ts.as_unit("ns").value))
    cut = window is None and unit != "session"  # a session's end bounds its attempt
    if getattr(funnel, "_parted", None) is not None:  # fitted on a cjlib.engine.Partitioned log
        from cjlib.funnel.distributed import period_units

        at_prev, at_cur, censored = period_units(funnel, bounds, cut)
    else:
        at_prev, at_cur, censored = _period_units(m, bounds, cut)
    return PeriodComparison(
        table=_table(labels, m.optional or (False,) * len(labels), at_prev, at_cur, confidence),
        reached=pd.DataFrame({"step": labels, "previous": at_prev.sum(axis=0), "current": at_cur.sum(axis=0)}),
        previous_start=p0, previous_end=c0, current_start=c0, current_end=c1, end=end_ts, freq=freq,
        window=window, censored=censored, in_both=int((at_prev[:, 0] & at_cur[:, 0]).sum()),
        confidence=confidence, unit=unit, note=_note(window, c1, end_ts, censored, unit))


def period_freq(compare_period: str, funnel: Funnel, *, end=None) -> str | None:
    """The ``freq`` of a ``compare_period`` report parameter.

    ``"day"``, ``"week"``, ``"month"`` are ``"D"``, ``"W"``, ``"MS"``; ``"auto"`` is the longest of month,
    week and day of which the data holds two full periods before its open windows (for sessions: before
    the earlier of the window and the last 30 minutes; ``None`` when not even two days fit, or the data has
    no events); ``""`` is ``None`` (switched off); anything else is passed on as written (a duration
    such as ``"30D"``, or a pandas alias).

    Parameters
    ----------
    compare_period : str
        The parameter.
    funnel : Funnel
        The funnel compared (read only for ``"auto"``).
    end : str or Timestamp, optional
        As in :func:`compare_periods`.

    Returns
    -------
    str or None

    Examples
    --------
    >>> period_freq("Month", None), period_freq(" 14D ", None), period_freq("", None)
    ('MS', '14D', None)
    """
    text = str(compare_period or "").strip()
    key = text.lower()
    if key in _REPORT_FREQ:
        return _REPORT_FREQ[key]
    if key != "auto":
        return text or None
    m = funnel._match
    if not len(m.prep.ts):
        return None
    window = None if m.window is None else pd.Timedelta(int(m.window), unit="ns")
    end_ts = _end(m, end)
    first = pd.Timestamp(int(m.prep.ts.min()))
    for freq in _AUTO:
        try:
            _bounds(first, end_ts, freq, window, m.prep.unit_kind)
        except ShortSpan:
            continue
        return freq
    return None


def report_periods(funnel: Funnel, compare_period: str, *, end=None,
                   confidence: float = 0.95) -> tuple[PeriodComparison | None, str | None]:
    """03's comparison of this period against the last, or the one sentence why there is none.

    Parameters
    ----------
    funnel : Funnel
        The funnel compared.
    compare_period : str
        The report parameter (:func:`period_freq`).
    end : str or Timestamp, optional
        As in :func:`compare_periods`.
    confidence : float, default 0.95
        As in :func:`compare_periods`.

    Returns
    -------
    (PeriodComparison or None, str or None)
        The comparison and ``None``, or ``None`` and the reason: the parameter is ``""``, the funnel has
        one step or is open, the data's span cannot hold two periods, or a period has no entrant.

    Raises
    ------
    ValueError
        A ``compare_period`` that is none of the accepted values.
    """
    if not str(compare_period or "").strip():
        return None, "compare_period is '' (switched off)."
    if not len(funnel._match.prep.ts):
        return None, "the data has no events."
    if len(funnel.labels) < 2:
        return None, "the funnel has a single step, so there is no conversion to compare."
    if funnel._match.open:
        return None, ("the funnel is open (units may enter at any step), so a period's attempts are not told apart "
                      "by their step-1 event.")
    freq = period_freq(compare_period, funnel, end=end)
    if freq is None:
        m = funnel._match
        first, last = pd.Timestamp(int(m.prep.ts.min())), _end(m, end)
        window = None if m.window is None else pd.Timedelta(int(m.window), unit="ns")
        if _session_clock(window, m.prep.unit_kind):
            win = f" before its last {_gap_text()}, in which a session may still be running at its end"
        else:
            win = "" if window is None else f" before the last {_span(window)} conversion window, still open at its end"
        return None, (f"the data ({first:%Y-%m-%d} to {last:%Y-%m-%d}) cannot hold two full days (the shortest "
                      f"periods compared){win}.")
    try:
        pc = compare_periods(funnel, freq=freq, end=end, confidence=confidence)
    except ShortSpan as exc:
        return None, str(exc).split(": ", 1)[-1].rstrip(".") + "."
    for name, start, stop, n in (("previous", pc.previous_start, pc.previous_end, pc.reached["previous"].iloc[0]),
                                 ("current", pc.current_start, pc.current_end, pc.reached["current"].iloc[0])):
        if n == 0:
            return None, (f"no {pc.unit} entered the funnel in the {name} period ({start:%Y-%m-%d} to "
                          f"{stop - pd.Timedelta(1):%Y-%m-%d}){_entries_outside(funnel, start, stop)}, so there is "
                          "no conversion to compare.")
    return pc, None


def _entries_outside(funnel: Funnel, start: pd.Timestamp, stop: pd.Timestamp) -> str:
    """``": entries stop after …"`` when every step-1 event is before ``start`` (``": entries start on …"``
    when all are from ``stop`` on; ``": no … entered it at any time"`` without one), else ``""``; ``""`` on a
    Dask fit too (its match keeps only some rows)."""
    if getattr(funnel, "_parted", None) is not None:
        return ""
    prep = funnel._match.prep
    t = prep.ts[prep.member[:, 0]]
    if not len(t):
        return f": no {funnel.unit} entered it at any time"
    first, last = pd.Timestamp(int(t.min())), pd.Timestamp(int(t.max()))
    if last < start:
        return f": entries stop after {last:%Y-%m-%d}, the last day a {funnel.unit} entered it"
    if first >= stop:
        return f": entries start on {first:%Y-%m-%d}, the first day a {funnel.unit} entered it"
    return ""
