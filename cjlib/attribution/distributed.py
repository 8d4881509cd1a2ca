"""Attribution and channel effects on a log shuffled onto a Dask cluster (:class:`cjlib.engine.Partitioned`).

The public functions of :mod:`cjlib.attribution`, :mod:`cjlib.effects` and :mod:`cjlib.personas` that read
events dispatch here when ``events`` is a ``Partitioned`` log. Each step is a per-customer kernel (the
analysis' own pandas code on a partition of complete customers) routed by :func:`cjlib.engine.run`:
per-customer or per-session rows are concatenated (and put in the in-process order), counts and sums are
added up; the report process then finishes with the same code as in process, so the results equal the
in-process ones (counts exactly, sums of floats to rounding).

The kernels are module-level functions (Dask pickles them to the workers); the ``log_*`` helpers answer
the small log-wide questions (columns, customers, time range) without gathering the events.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlib.partitioned import is_partitioned

_PRIVATE = "__cj_"  # the engine's private columns (the input position) are no column of the log


def log_columns(events) -> list[str]:
    """The columns of an event log, pandas or partitioned (the engine's private columns left out).

    Parameters
    ----------
    events : DataFrame or Partitioned
        The event log.

    Returns
    -------
    list of str

    Examples
    --------
    >>> log_columns(pd.DataFrame({"customer_id": [], "event": []}))
    ['customer_id', 'event']
    """
    cols = events.ddf.columns if is_partitioned(events) else events.columns
    return [c for c in cols if not str(c).startswith(_PRIVATE)]


def _run(events, kernel, reduce: str = "concat", **kwargs):
    from cjlib import engine

    return engine.run(events, kernel, reduce=reduce, **kwargs)


def _first_rows(ev: pd.DataFrame) -> pd.DataFrame:
    """Kernel: each customer once (the engine puts them in order of first appearance)."""
    return pd.DataFrame({"customer_id": pd.unique(ev["customer_id"])})


def log_customers(events) -> pd.Index:
    """The customers of an event log in order of first appearance (``pd.unique`` of ``customer_id``).

    Parameters
    ----------
    events : DataFrame or Partitioned
        The event log.

    Returns
    -------
    Index
        Named ``customer_id``.

    Examples
    --------
    >>> log_customers(pd.DataFrame({"customer_id": ["b", "a", "b"]})).tolist()
    ['b', 'a']
    """
    if not is_partitioned(events):
        return pd.Index(pd.unique(events["customer_id"]), name="customer_id")
    return pd.Index(_run(events, _first_rows)["customer_id"].to_numpy(), name="customer_id")


def _time_range(ev: pd.DataFrame) -> pd.Series:
    """Kernel (summed): events, and the first and last timestamp as int64 nanoseconds (min/max kept apart
    by sign so a sum of one value per partition is never needed: see :func:`log_time_range`)."""
    if not len(ev):
        return pd.Series(dtype=np.int64)
    ns = ev["timestamp"].to_numpy().astype("datetime64[ns]").view(np.int64)
    return pd.Series([len(ev)], index=pd.MultiIndex.from_tuples([(int(ns.min()), int(ns.max()))],
                                                                names=["first", "last"]), dtype=np.int64)


def log_time_range(events) -> tuple[int, pd.Timestamp | None, pd.Timestamp | None]:
    """Events in the log and its first and last timestamp.

    Parameters
    ----------
    events : DataFrame or Partitioned
        The event log.

    Returns
    -------
    (int, Timestamp or None, Timestamp or None)
        ``(0, None, None)`` for an empty log.

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "b"], "timestamp": pd.to_datetime(["2025-01-02", "2025-01-01"])})
    >>> log_time_range(ev)
    (2, Timestamp('2025-01-01 00:00:00'), Timestamp('2025-01-02 00:00:00'))
    """
    if not is_partitioned(events):
        if events.empty:
            return 0, None, None
        return len(events), events["timestamp"].min(), events["timestamp"].max()
    per = _run(events, _time_range, reduce="sum")  # one row per non-empty partition (its own range)
    if per is None or not len(per):
        return 0, None, None
    first = per.index.get_level_values("first").to_numpy()
    last = per.index.get_level_values("last").to_numpy()
    return int(per.sum()), pd.Timestamp(int(first.min())), pd.Timestamp(int(last.max()))


def _value_counts(ev: pd.DataFrame, *, col: str) -> pd.Series:
    """Kernel (summed): rows per non-missing value of ``col``."""
    vc = ev[col].value_counts(dropna=True)
    vc = vc[vc > 0]
    vc.index = pd.Index(vc.index.astype(str), name=col)
    return vc.astype(np.int64)


def log_distinct(events, col: str) -> int:
    """Distinct non-missing values of a column of the log.

    Parameters
    ----------
    events : DataFrame or Partitioned
        The event log.
    col : str
        A column of it.

    Returns
    -------
    int

    Examples
    --------
    >>> log_distinct(pd.DataFrame({"channel": ["a", None, "b", "a"]}), "channel")
    2
    """
    if not is_partitioned(events):
        return int(events[col].nunique(dropna=True))
    counts = _run(events, _value_counts, reduce="sum", col=col)
    return 0 if counts is None else int(len(counts))


def time_decay_kernel(ev: pd.DataFrame, **kw) -> pd.DataFrame:
    """Kernel (summed by channel): :func:`cjlib.attribution.time_decay` of a partition's customers.

    Parameters
    ----------
    ev : DataFrame
        Complete customers in (customer, timestamp) order.
    **kw
        As :func:`cjlib.attribution.time_decay` takes them.

    Returns
    -------
    DataFrame
        Indexed by ``channel``; each journey lies in one customer, so the sums over partitions are the
        log's.
    """
    from cjlib.attribution.heuristic import time_decay

    return time_decay(ev, **kw)


def time_decay_merged(events, empty: pd.DataFrame, **kw) -> pd.DataFrame:
    """:func:`cjlib.attribution.time_decay` on a partitioned log: the partitions' sums added by channel.

    Parameters
    ----------
    events : Partitioned
        The shuffled log.
    empty : DataFrame
        What the function returns when no journey has a touch (its columns and index name).
    **kw
        As :func:`cjlib.attribution.time_decay` takes them.

    Returns
    -------
    DataFrame
        As :func:`cjlib.attribution.time_decay` returns it (channels sorted).
    """
    out = _run(events, time_decay_kernel, reduce="sum", **kw)
    if out is None or not len(out):
        return empty
    out = out.reindex(columns=empty.columns)
    out.index = pd.Index(out.index.astype(str), name="channel")
    return out


def session_kernel(ev: pd.DataFrame, *, stage_map, touch_col: str, by: str | None) -> pd.DataFrame:
    """Kernel (concatenated): the session table of :func:`cjlib.effects.channel_effects` for a partition.

    Parameters
    ----------
    ev : DataFrame
        Complete customers in (customer, timestamp) order.
    stage_map : StageMap
    touch_col : str
    by : str or None
        A column of the events (labels per customer are applied in the report process).

    Returns
    -------
    DataFrame
        One row per session with a touch (``customer_id`` … ``segment``).
    """
    from cjlib.effects import _session_table

    if not len(ev):  # a partition without customers
        return pd.DataFrame({"customer_id": ev["customer_id"], "before": np.zeros(0, np.int64),
                             "after": np.zeros(0, np.int64), "channel": pd.Series(dtype="string"),
                             "segment": pd.Series(dtype=object)})
    return _session_table(ev, stage_map, touch_col, by)


def in_customer_order(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of a merged per-customer table in the order the in-process code gives them: customers in
    sorted order (as :func:`cjlib.io.ensure_sorted`), each customer's rows kept in their order.

    Parameters
    ----------
    table : DataFrame
        With a ``customer_id`` column; each customer's rows contiguous.

    Returns
    -------
    DataFrame
        Reindexed 0..n-1.

    Examples
    --------
    >>> t = pd.DataFrame({"customer_id": ["b", "b", "a"], "x": [1, 2, 3]})
    >>> in_customer_order(t)["x"].tolist()
    [3, 1, 2]
    """
    codes, uniques = pd.factorize(table["customer_id"], sort=False)
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[pd.Index(uniques).argsort()] = np.arange(len(uniques))
    order = np.argsort(rank[codes], kind="stable")
    if (order == np.arange(len(order))).all():
        return table.reset_index(drop=True)
    return table.iloc[order].reset_index(drop=True)
