"""Findings that cannot lie: the small layer every report sentence and chart title goes through.

A report reader trusts the sentences most, so a sentence is only written when the numbers earn it:

- no best/worst/most/least from ties, from groups under a minimum size, or from a single group
  (:func:`ranking`, :func:`leader`);
- no rate from a zero denominator (:func:`rate`);
- no trend between two undefined ends, or between two zeros (:func:`trend`);
- no share of a total too small to share (:func:`share`);
- NaN, inf and None never reach text (:func:`pct`, :func:`number`, :func:`duration` refuse them, and
  :func:`problems` finds any that slipped through; :func:`cjlib.report.finding` checks every finding).

Each guard returns ``None`` when the finding is not earned; the caller then writes nothing, or the one
sentence that says why. Per-report sentence builders live in the submodules (``cjlib.findings.dropoff``
…) and are tested on their own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "MIN_GROUP",
    "source_lines",
    "Unearned",
    "Ranking",
    "is_number",
    "rate",
    "ranking",
    "leader",
    "trend",
    "share",
    "rates_differ",
    "pct",
    "number",
    "duration",
    "p_value",
    "times",
    "problems",
    "join",
    "paragraphs",
    "see_above",
]

MIN_GROUP = 30  # default smallest group a best/worst may be named from


class Unearned(ValueError):
    """A value a finding cannot state (NaN, inf, None): the caller must not write that sentence."""


def is_number(x) -> bool:
    """Whether ``x`` is a finite real number (not None, NaN, NaT or inf).

    Parameters
    ----------
    x : object
        Any value.

    Returns
    -------
    bool
        ``True`` when ``float(x)`` is finite; ``False`` for None, bools, NaN, NaT, inf and non-numbers.
    """
    if x is None or isinstance(x, (bool, np.bool_)):
        return False
    try:
        f = float(x)
    except (TypeError, ValueError):
        return False
    return math.isfinite(f)


# -------------------------------------------------------------------------------------------- guards
def rate(numerator, denominator) -> float | None:
    """``numerator / denominator``, or ``None`` when the denominator is zero or either is not a number.

    Parameters
    ----------
    numerator, denominator : float
        The two counts (or any numbers).

    Returns
    -------
    float or None
        The ratio, or ``None`` when it is not earned (zero denominator or a non-number).

    Examples
    --------
    >>> rate(3, 4), rate(3, 0), rate(float("nan"), 4)
    (0.75, None, None)
    """
    if not (is_number(numerator) and is_number(denominator)) or float(denominator) == 0:
        return None
    return float(numerator) / float(denominator)


@dataclass(frozen=True)
class Ranking:
    """The earned top and bottom of a comparison; a side is ``None`` when a tie or size rule forbids
    naming it."""

    best: object | None
    best_value: float | None
    worst: object | None
    worst_value: float | None
    groups: int

    @property
    def spread(self) -> float | None:
        """best_value − worst_value when both are named."""
        if self.best is None or self.worst is None:
            return None
        return self.best_value - self.worst_value


def _eligible(values, sizes, min_size: int) -> pd.Series:
    v = pd.Series(values, dtype="object") if not isinstance(values, pd.Series) else values
    v = pd.to_numeric(v, errors="coerce").astype(float)
    keep = np.isfinite(v.to_numpy())
    if sizes is not None:
        s = pd.Series(sizes) if not isinstance(sizes, pd.Series) else sizes
        s = pd.to_numeric(s.reindex(v.index), errors="coerce").fillna(0).to_numpy()
        keep &= s >= min_size
    return v[keep]


def ranking(values: Mapping | pd.Series, sizes: Mapping | pd.Series | None = None, *,
            min_size: int = MIN_GROUP, higher_is_better: bool = True, tolerance: float = 0.0) -> Ranking | None:
    """The best and worst of ``values`` (label → number) that a finding may name.

    Groups whose value is not a number, or whose size (``sizes``, same labels) is under ``min_size``,
    are left out. ``None`` when fewer than two groups remain or all remaining values are equal (within
    ``tolerance``). A side is ``None`` when two groups tie for it.

    Parameters
    ----------
    values : Mapping or pandas.Series
        Label → value; non-numbers are left out.
    sizes : Mapping or pandas.Series, optional
        Label → group size; groups under ``min_size`` are left out (default ``None``: no size rule).
    min_size : int
        Smallest group that may be ranked (default ``MIN_GROUP``, 30).
    higher_is_better : bool
        Whether the largest value is the best (default ``True``).
    tolerance : float
        Values within this of the top (bottom) tie for it (default ``0.0``).

    Returns
    -------
    Ranking or None
        The earned best and worst, or ``None`` when fewer than two groups remain or all are equal.

    Examples
    --------
    >>> r = ranking({"mobile": 0.10, "desktop": 0.20, "tablet": 0.20}, {"mobile": 500, "desktop": 400, "tablet": 40})
    >>> r.worst, r.best is None   # desktop and tablet tie for best
    ('mobile', True)
    >>> ranking({"a": 0.5, "b": 0.5}) is None
    True
    """
    v = _eligible(values, sizes, min_size)
    if len(v) < 2:
        return None
    hi, lo = v.max(), v.min()
    if hi - lo <= tolerance:
        return None
    top = v[v >= hi - tolerance] if higher_is_better else v[v <= lo + tolerance]
    bottom = v[v <= lo + tolerance] if higher_is_better else v[v >= hi - tolerance]
    best = top.index[0] if len(top) == 1 else None
    worst = bottom.index[0] if len(bottom) == 1 else None
    return Ranking(best, float(top.iloc[0]) if best is not None else None,
                   worst, float(bottom.iloc[0]) if worst is not None else None, len(v))


def leader(values: Mapping | pd.Series, sizes: Mapping | pd.Series | None = None, *, min_size: int = MIN_GROUP,
           largest: bool = True, tolerance: float = 0.0) -> tuple[object, float] | None:
    """The one group with the largest (or smallest) value, or ``None`` on a tie, a single group, or
    nothing eligible.

    Parameters
    ----------
    values : Mapping or pandas.Series
        Label → value.
    sizes : Mapping or pandas.Series, optional
        Label → group size (default ``None``: no size rule).
    min_size : int
        Smallest group that may lead (default ``MIN_GROUP``, 30).
    largest : bool
        Lead by the largest value, else the smallest (default ``True``).
    tolerance : float
        Values within this of the leader tie with it (default ``0.0``).

    Returns
    -------
    tuple of (object, float) or None
        ``(label, value)`` of the leader, or ``None`` when it is not earned.

    Examples
    --------
    >>> leader({"email": 12.0, "search": 30.0, "social": 8.0}, largest=False)
    ('social', 8.0)
    >>> leader({"email": 12.0, "search": 12.0}) is None
    True
    """
    r = ranking(values, sizes, min_size=min_size, higher_is_better=largest, tolerance=tolerance)
    if r is None or r.best is None:
        return None
    return r.best, r.best_value


def trend(first, last, *, tolerance: float = 0.0) -> str | None:
    """The direction from ``first`` to ``last``: ``"rose"``, ``"fell"`` or ``"held"``; ``None`` when an
    end is not a number or both are zero (no trend between two undefined ends).

    Parameters
    ----------
    first, last : float
        The values at the two ends.
    tolerance : float
        A change no larger than this counts as ``"held"`` (default ``0.0``).

    Returns
    -------
    str or None
        ``"rose"``, ``"fell"`` or ``"held"``, or ``None`` when the trend is not earned.

    Examples
    --------
    >>> trend(0.02, 0.03), trend(0.0, 0.0), trend(float("nan"), 0.1)
    ('rose', None, None)
    """
    if not (is_number(first) and is_number(last)):
        return None
    a, b = float(first), float(last)
    if a == 0 and b == 0:
        return None
    if abs(b - a) <= tolerance:
        return "held"
    return "rose" if b > a else "fell"


def share(part, total, *, min_total: float = MIN_GROUP) -> float | None:
    """``part / total`` when ``total`` is at least ``min_total`` (a share of 3 conversions is noise).

    Parameters
    ----------
    part, total : float
        The part and the total it is a share of.
    min_total : float
        Smallest total a share may be taken of (default ``MIN_GROUP``, 30).

    Returns
    -------
    float or None
        The share, or ``None`` when either is not a number or ``total`` is under ``min_total`` (or not positive).
    """
    if not (is_number(part) and is_number(total)) or float(total) < min_total or float(total) <= 0:
        return None
    return float(part) / float(total)


def rates_differ(rate1, n1, rate2, n2, *, alpha: float = 0.05) -> bool:
    """Whether two rates over ``n1`` and ``n2`` units differ beyond chance (two-sided pooled
    two-proportion z-test at ``alpha``): "X churns most, Y least" needs more than 86.1 % against 86.0 %.

    Parameters
    ----------
    rate1, rate2 : float
        The two rates (0–1).
    n1, n2 : int
        The units each rate is over.
    alpha : float
        Significance level (default ``0.05``).

    Returns
    -------
    bool
        ``True`` when p < ``alpha``; ``False`` otherwise, or when any input is not a number or a size is not positive.

    Examples
    --------
    >>> rates_differ(0.861, 11000, 0.860, 12000), rates_differ(0.30, 500, 0.20, 500)
    (False, True)
    """
    from cjlib.stats import two_proportion_test

    if not all(is_number(v) for v in (rate1, n1, rate2, n2)) or min(n1, n2) <= 0:
        return False
    _, p = two_proportion_test(float(rate1) * n1, n1, float(rate2) * n2, n2)
    return bool(np.isfinite(p) and p < alpha)


# ----------------------------------------------------------------------------------------- formatting
def _need(x, what: str = "value") -> float:
    if not is_number(x):
        raise Unearned(f"{what} {x!r} is not a finite number")
    return float(x)


def pct(x, digits: int = 0) -> str:
    """A rate as a percentage (``0.1234`` → ``"12%"``); raises :class:`Unearned` on NaN/inf/None.

    Parameters
    ----------
    x : float
        The rate (``0.12`` is 12 %).
    digits : int
        Decimals after the point (default ``0``).

    Returns
    -------
    str
        The percentage text.
    """
    return f"{_need(x, 'rate'):.{digits}%}"


def number(x, fmt: str = ",.0f") -> str:
    """A number formatted with ``fmt``; raises :class:`Unearned` on NaN/inf/None.

    Parameters
    ----------
    x : float
        The number.
    fmt : str
        A format spec (default ``",.0f"``: thousands separators, no decimals).

    Returns
    -------
    str
        The formatted number.
    """
    return format(_need(x, "number"), fmt)


def times(ratio, digits: int = 1) -> str:
    """A ratio as ``"2.1×"``; raises :class:`Unearned` on NaN/inf/None.

    Parameters
    ----------
    ratio : float
        The ratio.
    digits : int
        Decimals after the point (default ``1``).

    Returns
    -------
    str
        The ratio followed by ``×``.
    """
    return f"{_need(ratio, 'ratio'):.{digits}f}×"


def p_value(p) -> str:
    """``"p < 0.001"`` or ``"p = 0.042"``.

    Parameters
    ----------
    p : float
        The p-value; raises :class:`Unearned` on NaN/inf/None.

    Returns
    -------
    str
        ``"p < 0.001"`` under 0.001, else ``"p = "`` with three decimals.
    """
    p = _need(p, "p-value")
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def duration(t) -> str:
    """A duration in minutes, hours or days (``Timedelta``, offset string or hours as a number is not
    accepted: pass a Timedelta). Raises :class:`Unearned` on NaT.

    Parameters
    ----------
    t : pandas.Timedelta
        The duration; raises :class:`Unearned` on None or NaT.

    Returns
    -------
    str
        Minutes under an hour, hours under 48 hours, else days, one decimal.

    Examples
    --------
    >>> duration(pd.Timedelta(minutes=11.4)), duration(pd.Timedelta(hours=5)), duration(pd.Timedelta(days=14))
    ('11.4 min', '5.0 h', '14.0 days')
    """
    if t is None or pd.isna(t):
        raise Unearned("duration is undefined")
    h = pd.Timedelta(t).total_seconds() / 3600
    return f"{h * 60:.1f} min" if h < 1 else f"{h:.1f} h" if h < 48 else f"{h / 24:.1f} days"


def see_above(section: str, where: str) -> str:
    """The one sentence under a section heading whose reason was said once above, under ``where``.

    Parameters
    ----------
    section : str
        The section that is not shown.
    where : str
        The heading above under which the reason was given.

    Returns
    -------
    str
        The sentence.

    Examples
    --------
    >>> see_above("model comparison", "Journeys built from the log")
    '*Not shown (model comparison):* see why under *Journeys built from the log* above.'
    """
    return f"*Not shown ({section}):* see why under *{where}* above."


def join(names, conj: str = "and") -> str:
    """``["a", "b", "c"]`` → ``"a, b and c"``.

    Parameters
    ----------
    names : iterable
        The items (each turned to ``str``).
    conj : str
        The word before the last item (default ``"and"``).

    Returns
    -------
    str
        The joined list; the one item alone, or ``""`` when empty.
    """
    names = [str(n) for n in names]
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {conj} {names[-1]}"


def paragraphs(*texts: str | None) -> str:
    """The earned texts (``None``, ``""`` and blank skipped) as one finding, a paragraph each (``""``
    when none).

    Parameters
    ----------
    *texts : str or None

    Returns
    -------
    str

    Examples
    --------
    >>> print(paragraphs("One.", None, " ", "Two."))
    One.
    <BLANKLINE>
    Two.
    >>> paragraphs(None, "")
    ''
    """
    return "\n\n".join(t for t in texts if t and t.strip())


# -------------------------------------------------------------------------------------------- checks
_UNDEFINED = re.compile(r"(?<![\w.])(nan|NaN|NAN|inf|-inf|Infinity|None|NaT|<NA>)(?![\w])")
_ZERO_TREND = re.compile(r"from\s+0(?:\.0+)?\s*%[^.;]*?\bto\s+0(?:\.0+)?\s*%")
_EMPTY_PCT = re.compile(r"(?<![\w])[–-]%")


def problems(text: str) -> list[str]:
    """What in ``text`` a finding must never say: NaN/inf/None as a value, a trend between two zeros,
    a percentage of nothing. Empty list: the text is clean.

    Parameters
    ----------
    text : str
        The finding text to check.

    Returns
    -------
    list of str
        One message per problem found; empty when the text is clean.

    Examples
    --------
    >>> problems("Conversion fell from 0.0% (2016-11) to 0.0% (2018-09)")
    ['trend between two zero ends: from 0.0% (2016-11) to 0.0%']
    >>> problems("Median time: nan days")
    ["undefined value 'nan'"]
    >>> problems("12% of 300 carts are abandoned")
    []
    """
    out = []
    for m in _UNDEFINED.finditer(text):
        out.append(f"undefined value {m.group(1)!r}")
    for m in _ZERO_TREND.finditer(text):
        out.append(f"trend between two zero ends: {m.group(0)}")
    for m in _EMPTY_PCT.finditer(text):
        out.append(f"percentage of nothing: {m.group(0)}")
    return out


def source_lines(data) -> list[str]:
    """What reading the log did, for the reports that show customers and channels (00, 02): exact duplicate
    rows dropped, how many
    anonymous ids identity stitching joined to the customers they later logged in as, and that the
    channels approximate GA4's default channel group. Empty for a plain table.

    Parameters
    ----------
    data : cjlib.Inputs

    Returns
    -------
    list of str
        A line on exact duplicate rows dropped on loading (when ``data.summary()`` counts any in
        ``duplicates_dropped``), the stitching line, a line on events with no id (when any) and the GA4
        channel note; nothing more when ``data.stitching`` is ``None``.

    Examples
    --------
    >>> from types import SimpleNamespace as N
    >>> st = N(stitched_ids=208, anonymous_ids=331, customers=256, stitched_events=3000, dropped_events=0)
    >>> print(source_lines(N(stitching=st))[0])
    Identity stitching: 208 of the 331 anonymous ids logged in later, so their earlier events count in those customers' journeys (256 customers).
    >>> source_lines(N(stitching=None))
    []
    >>> source_lines(N(stitching=None, summary=lambda: {"duplicates_dropped": 7710}))
    ['7,710 exact duplicate event rows (every column equal) were dropped on loading; the counts here are of the rows kept.']
    >>> source_lines(N(stitching=None, summary=lambda: {"duplicates_dropped": 0, "duplicates_kept": 255}))
    ['255 event rows repeat another in every column; the timestamps are dates only, so they are kept as separate events of the same day.']
    """
    summary = data.summary() if callable(getattr(data, "summary", None)) else {}
    dup = summary.get("duplicates_dropped") if isinstance(summary, Mapping) else None
    dropped = ([f"{number(dup)} exact duplicate event rows (every column equal) were dropped on loading; the "
                "counts here are of the rows kept."] if is_number(dup) and dup > 0 else [])
    kept = summary.get("duplicates_kept") if isinstance(summary, Mapping) else None
    if is_number(kept) and kept > 0:  # dates without a time of day: two equal rows may be two events of a day
        dropped.append(f"{number(kept)} event rows repeat another in every column; the timestamps are dates only, "
                       "so they are kept as separate events of the same day.")
    st = getattr(data, "stitching", None)
    if st is None:
        return dropped
    from cjlib.channels import GA4_NOTE

    lines = dropped + [f"Identity stitching: {number(st.stitched_ids)} of the {number(st.anonymous_ids)} anonymous ids logged in "
             f"later, so their earlier events count in those customers' journeys ({number(st.customers)} customers)."]
    if st.dropped_events:
        lines.append(f"{number(st.dropped_events)} events carried no id at all and are left out.")
    return lines + [GA4_NOTE]
