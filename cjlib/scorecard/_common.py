"""Helpers the scorecard modules share: stage progress, calendar periods, conversion events, t intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cjlib.stagemap import StageMap
from cjlib.validation import check_choice

# pandas' aliases accepted for ``freq``, and the period each one means here (calendar month, Monday week)
FREQS = {"M": "M", "MS": "M", "ME": "M", "W": "W", "W-MON": "W"}
UNITS = {"reach_share": "share", "top_channel_share": "share", "sessions_with_stage": "share",
         "click_through": "share", "conversion_rate": "share", "repeat_purchase_rate": "share",
         "retention_m1": "share", "retention_m3": "share", "new_customers_per_month": "count",
         "engagement_per_session": "rate", "cost_per_click": "money", "cost_per_conversion": "money",
         "revenue": "money", "aov": "money", "nps": "points"}


def period_freq(freq: str) -> str:
    """``"M"`` (calendar month) or ``"W"`` (Monday week) for a pandas alias in :data:`FREQS`.

    Parameters
    ----------
    freq : str
        ``"M"``, ``"MS"``, ``"ME"``, ``"W"`` or ``"W-MON"`` (another value raises ``ValueError``).

    Returns
    -------
    str
        ``"M"`` or ``"W"``.

    Examples
    --------
    >>> period_freq("MS"), period_freq("W")
    ('M', 'W')
    """
    return FREQS[check_choice("freq", freq, tuple(FREQS))]


def progress(table: pd.DataFrame):
    """Per stage i: has_i (reached), moved_i (an event of stage i+1 at or after first reaching i) and the
    days from first reaching i to that event (NaN if none).

    Parameters
    ----------
    table : DataFrame
        :func:`cjlib.journeys.stage_progress`'s table: customers × (``reached``/``next``, stage), times
        (NaT where none).

    Returns
    -------
    has, moved : ndarray of bool
        Customers × stages; ``moved`` is False in the last stage.
    days : ndarray of float
        Customers × stages: days from first reaching stage i to moving on to i+1 where ``moved``, else NaN.
    """
    t = table["reached"].to_numpy().astype("datetime64[ns]")
    nxt = table["next"].to_numpy().astype("datetime64[ns]")
    has = ~np.isnat(t)
    moved = has & ~np.isnat(nxt)
    moved[:, -1:] = False
    days = np.where(moved, (nxt - t) / np.timedelta64(1, "D"), np.nan)
    return has, moved, days


def period_key(ts: pd.Series, freq: str) -> np.ndarray:
    """Integer period of each timestamp: months since 1970-01 (``M``) or Monday-weeks since 1970-01-05 (``W``).

    Parameters
    ----------
    ts : Series
        Naive timestamps.
    freq : str
        ``"M"`` or ``"W"`` (any value but ``"M"`` gives weeks), as from :func:`period_freq`.

    Returns
    -------
    ndarray of int64
        One period number per timestamp.

    Examples
    --------
    >>> period_key(pd.Series(pd.to_datetime(["1970-02-15", "2025-01-01"])), "M").tolist()
    [1, 660]
    """
    a = ts.to_numpy().astype("datetime64[ns]")
    if freq == "M":
        return a.astype("datetime64[M]").astype(np.int64)
    return (a.astype("datetime64[D]").astype(np.int64) - 4) // 7


def period_label(keys, freq: str) -> list[str]:
    """``YYYY-MM`` (``M``) or the week's Monday ``YYYY-MM-DD`` (``W``) of integer periods from :func:`period_key`.

    Parameters
    ----------
    keys : array-like of int
        Period numbers from :func:`period_key`.
    freq : str
        ``"M"`` or ``"W"``, as given to :func:`period_key`.

    Returns
    -------
    list of str
        One label per key.

    Examples
    --------
    >>> period_label([660], "M"), period_label([0], "W")
    (['2025-01'], ['1970-01-05'])
    """
    keys = np.asarray(keys, dtype=np.int64)
    if freq == "M":
        return [str(k) for k in keys.astype("datetime64[M]")]
    return [str(k) for k in (keys * 7 + 4).astype("datetime64[D]")]


def conversion_mask(events: pd.DataFrame, sm: StageMap) -> np.ndarray:
    """True on the events the map declares conversion events.

    Parameters
    ----------
    events : DataFrame
        Events with an ``event`` column.
    sm : StageMap
        The map whose ``conversion_events`` count.

    Returns
    -------
    ndarray of bool
        One flag per event.
    """
    ev = events["event"]
    if isinstance(ev.dtype, pd.CategoricalDtype):  # decided once per category, not per event
        hit = ev.cat.categories.astype(str).isin(list(sm.conversion_events))
        return np.append(np.asarray(hit, dtype=bool), False)[ev.cat.codes.to_numpy()]
    return ev.astype(str).isin(list(sm.conversion_events)).to_numpy()


def text_values(values: pd.Series, dtype=str) -> np.ndarray:
    """``values.astype(dtype).to_numpy()``, converting a categorical's categories rather than every row.

    Parameters
    ----------
    values : Series
        Any Series (a categorical takes the fast path).
    dtype : str or type, default str
        ``str`` or ``"string"``.

    Returns
    -------
    ndarray of object
        The same values (and missing values) as ``values.astype(dtype).to_numpy()``.

    Examples
    --------
    >>> text_values(pd.Series(["b", "a", None], dtype="category"), "string").tolist()
    ['b', 'a', <NA>]
    """
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype(dtype).to_numpy()
    cats = np.asarray(values.cat.categories.astype(dtype).to_numpy(), dtype=object)
    missing = pd.Series([None], dtype=values.dtype).astype(dtype).to_numpy()  # what a missing value becomes
    return np.append(cats, missing)[values.cat.codes.to_numpy()]


def feedback_scale(feedback: pd.DataFrame) -> np.ndarray:
    """The scale of each feedback row in lower case; ``"csat"`` for every row when there is no ``scale`` column
    (the loader's rule).

    Parameters
    ----------
    feedback : DataFrame
        Feedback rows, with or without a ``scale`` column.

    Returns
    -------
    ndarray of object
        One scale (``"csat"``, ``"nps"``, …) per row.
    """
    if "scale" not in feedback.columns:
        return np.full(len(feedback), "csat", dtype=object)
    return feedback["scale"].astype(str).str.lower().to_numpy()


def t_interval(mean, sd, n, confidence):
    """Student-t interval of means (NaN where ``n <= 1``).

    Parameters
    ----------
    mean, sd, n : array-like
        Sample means, standard deviations and sizes (broadcast together).
    confidence : float
        Confidence level (``0.95``).

    Returns
    -------
    lo, hi : ndarray
        ``mean ∓ t × sd / √n`` with ``n − 1`` degrees of freedom.
    """
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)) * np.asarray(sd) / np.sqrt(n)
    half = np.where(n > 1, half, np.nan)
    return np.asarray(mean) - half, np.asarray(mean) + half
