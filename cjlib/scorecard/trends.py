"""Retention by cohort and KPIs by period (month or Monday week)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlib.io import ensure_sorted
from cjlib.journeys import customer_starts
from cjlib.scorecard import distributed as _dist
from cjlib.scorecard._common import (
    conversion_mask,
    feedback_scale,
    period_freq,
    period_key,
    period_label,
)
from cjlib.stagemap import StageMap
from cjlib.stats import nps
from cjlib.validation import check_choice, resolve_stage_map

__all__ = ["cohort_retention", "kpi_trends"]


def _customer_codes(ev: pd.DataFrame) -> np.ndarray:
    """Customer numbers 0, 1, … in order of appearance on a log grouped by customer (as ``pd.factorize``)."""
    return np.cumsum(customer_starts(ev), dtype=np.int64) - 1


def _unique_pairs(cust: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``np.unique(np.c_[cust, k], axis=0)`` for non-negative customer numbers, on one int64 key."""
    if not len(k):
        return np.empty((0, 2), np.int64)
    k0, width = int(k.min()), int(k.max() - k.min()) + 1
    u = np.unique(cust.astype(np.int64) * width + (k - k0))
    return np.c_[u // width, u % width + k0]


def _pair_starts_per_period(cust_or_starts: np.ndarray, key: np.ndarray) -> pd.Series:
    """Distinct (customer, period) pairs per period, on rows in (customer, time) order. The first argument
    is either customer-start flags or customer numbers of the rows."""
    c = cust_or_starts
    new = np.ones(len(key), bool)
    if len(key) > 1:
        same_cust = ~c[1:] if c.dtype == bool else c[1:] == c[:-1]
        new[1:] = ~(same_cust & (key[1:] == key[:-1]))
    return pd.Series(key[new]).value_counts()


def cohort_retention(events: pd.DataFrame, *, stage_map: StageMap | str | None = None,
                     based_on: str = "conversion", freq: str = "M") -> pd.DataFrame:
    """The retention curve by cohort.

    ``based_on="conversion"``: a customer's cohort is the period of their first conversion event, and
    they are retained in period offset ``k`` when they have a conversion event in period cohort + k.
    ``based_on="activity"``: the same with any event. Offset 0 is 1 by construction. Only offsets whose
    period is not after the log's last period are listed (the last one may be partial).

    Parameters
    ----------
    events : DataFrame or Partitioned
        The loaded event log, or a log partitioned on a Dask cluster (:func:`cjlib.engine.partition`).
    stage_map : StageMap, str or None
        The map (its conversion events), a YAML path, or None for the default map.
    based_on : {"conversion", "activity"}
        What makes a customer active in a period.
    freq : str, default "M"
        A pandas alias: ``"M"``/``"MS"``/``"ME"`` (calendar months) or ``"W"`` (weeks starting Monday).

    Returns
    -------
    DataFrame
        Columns ``cohort`` (``YYYY-MM``, or the week's Monday for ``freq="W"``), ``offset`` (int),
        ``customers`` (cohort size), ``retained``, ``share``; sorted by cohort and offset.
    """
    check_choice("based_on", based_on, ("conversion", "activity"))
    freq = period_freq(freq)
    sm = resolve_stage_map(stage_map)
    if _dist.is_partitioned(events):  # (cohort, offset) counts from the workers, in value_counts' order
        tab, last = _dist.retention_counts(events, sm, based_on, freq)
    else:
        pairs, last = retention_pairs(ensure_sorted(events), sm, based_on, freq)
        cohort = pd.Series(pairs[:, 1]).groupby(pairs[:, 0]).transform("min").to_numpy()
        offset = pairs[:, 1] - cohort
        tab = pd.DataFrame({"cohort": cohort, "offset": offset}).value_counts().rename("retained")
    sizes = tab.xs(0, level="offset") if len(tab) else pd.Series(dtype=int)
    rows = [(c, o) for c in sizes.index for o in range(int(last - c) + 1)]
    idx = pd.MultiIndex.from_tuples(rows, names=["cohort", "offset"])
    out = tab.reindex(idx, fill_value=0).reset_index()
    out["customers"] = sizes.reindex(out["cohort"]).to_numpy()
    out["share"] = out["retained"] / out["customers"]
    out["cohort"] = period_label(out["cohort"], freq)
    return out[["cohort", "offset", "customers", "retained", "share"]]


def period_counts(ev: pd.DataFrame, sm: StageMap, freq: str):
    """:func:`kpi_trends`' counts on a log in the loader's order (the whole log in process, one partition
    of complete customers on a cluster, where the counts add up).

    Parameters
    ----------
    ev : DataFrame
        Complete customers in (customer, timestamp) order.
    sm : StageMap
    freq : str
        ``"M"`` or ``"W"``.

    Returns
    -------
    out : DataFrame
        Index every period from the first to the last event: ``active_customers``, ``new_customers``,
        ``converters``, ``orders`` (int).
    rev_sum, n_rev : Series or None
        Revenue and orders with revenue per period with conversions (None without ``revenue``).
    days : (datetime64[D], datetime64[D])
        The first and the last day with an event.
    """
    key = period_key(ev["timestamp"], freq)
    first = customer_starts(ev)
    conv = conversion_mask(ev, sm)
    out = pd.DataFrame(index=np.arange(key.min(), key.max() + 1))
    # the log is in (customer, time) order, so a (customer, period) pair's rows are adjacent
    out["active_customers"] = _pair_starts_per_period(first, key)
    out["new_customers"] = pd.Series(key[first]).value_counts()
    out["converters"] = _pair_starts_per_period(np.cumsum(first)[conv], key[conv])
    out["orders"] = pd.Series(key[conv]).value_counts()
    out = out.fillna(0).astype(int)
    rev_sum = n_rev = None
    if "revenue" in ev.columns:
        rev = ev["revenue"].to_numpy(dtype=float)
        rev_sum = pd.Series(np.nan_to_num(rev[conv]), index=key[conv]).groupby(level=0).sum()
        n_rev = pd.Series(~np.isnan(rev[conv]), index=key[conv]).groupby(level=0).sum()
    ts = ev["timestamp"].to_numpy().astype("datetime64[D]")
    return out, rev_sum, n_rev, (ts.min(), ts.max())


def retention_pairs(ev: pd.DataFrame, sm: StageMap, based_on: str, freq: str):
    """The distinct (customer number, period) pairs :func:`cohort_retention` counts, and the last period.

    Parameters
    ----------
    ev : DataFrame
        Complete customers in (customer, timestamp) order.
    sm : StageMap
    based_on : {"conversion", "activity"}
    freq : str
        ``"M"`` or ``"W"``.

    Returns
    -------
    pairs : ndarray of int64
        (customer number in order of appearance, period), sorted.
    last : int
        The log's last period (0 for an empty log).
    """
    key = period_key(ev["timestamp"], freq)
    last = key.max() if len(key) else 0
    m = conversion_mask(ev, sm) if based_on == "conversion" else np.ones(len(ev), bool)
    return _unique_pairs(_customer_codes(ev)[m], key[m]), last


def kpi_trends(events: pd.DataFrame, *, stage_map: StageMap | str | None = None, freq: str = "M",
               feedback: pd.DataFrame | None = None) -> pd.DataFrame:
    """KPIs per calendar month (``freq="M"``) or Monday week (``"W"``).

    Parameters
    ----------
    events : DataFrame or Partitioned
        The loaded event log, or a log partitioned on a Dask cluster (:func:`cjlib.engine.partition`).
    stage_map : StageMap, str or None
        The map (its conversion events), a YAML path, or None for the default map.
    freq : str, default "M"
        A pandas alias: ``"M"``/``"MS"``/``"ME"`` (calendar months) or ``"W"`` (weeks starting Monday).
    feedback : DataFrame, optional
        Loaded feedback, for ``csat`` and ``nps``.

    Returns
    -------
    DataFrame
        Index ``period``: ``active_customers`` (with any event), ``new_customers`` (first event in the
        log), ``converters`` (customers with a conversion event), ``conversion_rate`` (converters ÷ active),
        ``orders`` (conversion events), ``revenue``, ``aov`` (revenue ÷ orders with revenue), ``csat``
        (mean CSAT answer), ``nps`` (see :func:`cjlib.stats.nps`), ``days`` (calendar days of the period between the
        log's first and last event) and ``period_days`` (the period's length): the first and last period
        may be partial.
    """
    freq = period_freq(freq)
    sm = resolve_stage_map(stage_map)
    if _dist.is_partitioned(events):  # per-period counts and sums from the workers
        out, rev_sum, n_rev, (day0, day1) = _dist.trend_counts(events, sm, freq)
    else:
        out, rev_sum, n_rev, (day0, day1) = period_counts(ensure_sorted(events), sm, freq)
    out["conversion_rate"] = out["converters"] / out["active_customers"].where(out["active_customers"] > 0)
    if rev_sum is not None:
        out["revenue"] = rev_sum
        out["revenue"] = out["revenue"].fillna(0.0)
        out["aov"] = out["revenue"] / n_rev.reindex(out.index).where(lambda s: s > 0)
    if feedback is not None and len(feedback):
        fk = period_key(feedback["timestamp"], freq)
        scale = feedback_scale(feedback)
        score = feedback["score"].to_numpy(dtype=float)
        cs = scale == "csat"
        out["csat"] = pd.Series(score[cs], index=fk[cs]).groupby(level=0).mean()
        ns = scale == "nps"
        if ns.any():
            by_period = pd.Series(score[ns], index=fk[ns]).groupby(level=0)
            out["nps"] = pd.Series({k: nps(v.to_numpy())[0] for k, v in by_period})
    span = pd.Series(np.arange(day0, day1 + np.timedelta64(1, "D")))  # every calendar day of the log
    out["days"] = pd.Series(period_key(span, freq)).value_counts().reindex(out.index, fill_value=0).astype(int)
    if freq == "M":
        starts = out.index.to_numpy().astype("datetime64[M]")
        out["period_days"] = ((starts + 1).astype("datetime64[D]") - starts.astype("datetime64[D]")).astype(int)
    else:
        out["period_days"] = 7
    out.index = pd.Index(period_label(out.index, freq), name="period")
    return out

