"""Per-customer journey kernels: sessions, stages, stage progression, ordered paths.

All functions take an event log ordered by (customer, timestamp) — what :func:`cjlib.load_events`
returns — and work on whole customers, so the same code runs on one frame or on partitions that hold
complete customers. They sort nothing and call no Python function per customer: group boundaries are
found once and numpy does the rest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlib.io import _arrow, neighbours_differ
from cjlib.io import _is_sorted as is_sorted
from cjlib.stagemap import StageMap, load_stage_map

__all__ = [
    "channel_transitions",
    "customer_starts",
    "customer_groups",
    "sessionize",
    "session_keys",
    "assign_stages",
    "stage_reached",
    "stage_progress",
    "furthest_stage",
    "customer_paths",
]


def customer_starts(events: pd.DataFrame, col: str = "customer_id") -> np.ndarray:
    """Boolean array, True on the first row of each customer (rows must be grouped by customer).

    Parameters
    ----------
    events : DataFrame
        Rows grouped by ``col``.
    col : str, default "customer_id"
        The column whose value changes mark a new customer.

    Returns
    -------
    ndarray of bool
        One flag per row (the first row is always True).

    Examples
    --------
    >>> customer_starts(pd.DataFrame({"customer_id": ["a", "a", "b"]})).tolist()
    [True, False, True]
    """
    starts = np.ones(len(events), dtype=bool)
    starts[1:] = neighbours_differ(events[col])
    return starts


def customer_groups(events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(first row of each customer, customer number 0..C-1 of each row)`` for rows grouped by customer,
    without hashing the ids.

    Parameters
    ----------
    events : DataFrame
        Rows grouped by ``customer_id``.

    Returns
    -------
    starts : ndarray of int64
        Position of each customer's first row, in row order.
    codes : ndarray of int64
        Customer number of each row (numbered in order of appearance).

    Examples
    --------
    >>> starts, codes = customer_groups(pd.DataFrame({"customer_id": ["a", "a", "b"]}))
    >>> starts.tolist(), codes.tolist()
    ([0, 2], [0, 0, 1])
    """
    starts = np.flatnonzero(customer_starts(events)) if len(events) else np.zeros(0, np.int64)
    codes = np.repeat(np.arange(len(starts), dtype=np.int64), np.diff(np.r_[starts, len(events)]))
    return starts, codes


def _occurrence(group_start: np.ndarray) -> np.ndarray:
    """1-based position of each row within its group, given a group-start mask."""
    pos = np.arange(len(group_start))
    first = np.maximum.accumulate(np.where(group_start, pos, 0))
    return pos - first + 1


def sessionize(events: pd.DataFrame, window: str | pd.Timedelta = "30min") -> pd.Series:
    """Number the sessions: a new session starts at a customer's first event and after any gap > ``window``.

    Parameters
    ----------
    events : DataFrame
        Ordered by (customer_id, timestamp).
    window : str or Timedelta, default "30min"
        Inactivity that ends a session. A gap of exactly ``window`` stays in the session.

    Returns
    -------
    Series of int64
        Session number per event, 0, 1, 2 … in row order, aligned with ``events.index``, named ``session``.

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...     "timestamp": pd.to_datetime(["2025-01-01 10:00", "2025-01-01 10:20", "2025-01-01 11:00",
    ...                                  "2025-01-01 10:05"]), "event": ["x"] * 4})
    >>> sessionize(ev).tolist()
    [0, 0, 1, 2]
    """
    gap_ns = pd.Timedelta(window).value
    ts = events["timestamp"].to_numpy().astype("datetime64[ns]", copy=False).view(np.int64)
    new = customer_starts(events)
    if len(ts) > 1:
        new[1:] |= (ts[1:] - ts[:-1]) > gap_ns
    session = np.cumsum(new, dtype=np.int64)
    session -= 1
    return pd.Series(session, index=events.index, name="session", copy=False)


def _runs_repeat(cust: np.ndarray, ids: pd.Series) -> bool:
    """Whether two runs of one customer carry the same session id (``True`` when it cannot tell cheaply).

    Arrow sorts the runs by (customer, id) and compares neighbours: no hashing of the ids.
    """
    arr = _arrow(ids)
    if arr is None or arr.null_count or len(ids) < 2:
        return len(ids) >= 2
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.table({"c": pa.array(cust), "s": arr})
    order = pc.sort_indices(table, sort_keys=[("c", "ascending"), ("s", "ascending")])
    c, s = table["c"].take(order), table["s"].take(order)
    n = len(order)
    same = pc.and_(pc.equal(c.slice(1), c.slice(0, n - 1)), pc.equal(s.slice(1), s.slice(0, n - 1)))
    return bool(pc.any(same).as_py())


def session_keys(events: pd.DataFrame, window: str | pd.Timedelta = "30min") -> pd.Series:
    """Session number per event: from the data's ``session_id`` when it has one, else :func:`sessionize`.

    With ``session_id``, sessions are numbered by (customer, session_id) in order of first appearance
    (rows with a missing ``session_id`` form one session per customer). On a log in the loader's order
    only the first row of each run of equal (customer, session_id) is hashed: a session interleaved with
    another one still gets one number.

    Parameters
    ----------
    events : DataFrame
        Events with ``customer_id`` and ``timestamp`` (and optionally ``session_id``); without
        ``session_id`` ordered by (customer_id, timestamp) as :func:`sessionize` requires.
    window : str or Timedelta, default "30min"
        Passed to :func:`sessionize` when there is no ``session_id`` (unused otherwise).

    Returns
    -------
    Series of int64
        Session number of each event, aligned with ``events.index``, named ``session``.
    """
    if "session_id" not in events.columns:
        return sessionize(events, window)
    n = len(events)
    sid = events["session_id"]
    if n and is_sorted(events):
        cust_start = customer_starts(events)
        boundary = cust_start.copy()
        boundary[1:] |= neighbours_differ(sid)
        run_start = np.flatnonzero(boundary)
        cust = np.cumsum(cust_start)[run_start]
        first = sid.take(run_start)
        if not _runs_repeat(cust, first):  # the usual case: every run is a session of its own
            run_code = np.arange(len(run_start), dtype=np.int64)
        else:
            sess, sess_names = pd.factorize(first, sort=False)
            run_code, _ = pd.factorize(cust * (len(sess_names) + 1) + sess, sort=False)
        codes = np.repeat(run_code.astype(np.int64), np.diff(np.r_[run_start, n]))
    else:
        cust, _ = pd.factorize(events["customer_id"], sort=False)
        sess, sess_names = pd.factorize(sid, sort=False)
        codes, _ = pd.factorize(cust.astype(np.int64) * (len(sess_names) + 1) + sess, sort=False)
    return pd.Series(codes.astype(np.int64, copy=False), index=events.index, name="session")


def assign_stages(events: pd.DataFrame, *, stage_map: StageMap | None = None) -> pd.Series:
    """Stage of each event, as an ordered categorical (NaN for events that belong to no stage).

    An event belongs to the stage that lists it; occurrences from the ``nth`` on of an event listed
    under a stage with ``nth > 1`` belong to that stage instead (with the default map, a customer's
    first purchase is *purchase*, the second and later are *retention*).

    Parameters
    ----------
    events : DataFrame
        Events with ``event``, grouped by customer in time order (as loaded).
    stage_map : StageMap, optional
        The stages and their events (default: :func:`load_stage_map`).

    Returns
    -------
    Series
        Ordered categorical of the stage names, aligned with ``events.index``, named ``stage``.
    """
    sm = stage_map or load_stage_map()
    names = sm.stage_names
    cat = events["event"].astype("category")
    cats = cat.cat.categories.astype(str)
    # stage code per event category; the last slot answers category code -1 (missing event)
    base = np.array([names.index(sm.event_to_stage[c]) if c in sm.event_to_stage else -1 for c in cats] + [-1],
                    dtype=np.int8 if len(names) < 127 else np.int64)
    codes = cat.cat.codes.to_numpy()
    stage = base[codes]
    ustart = np.flatnonzero(customer_starts(events))
    for s in sm.stages:
        if s.nth == 1:
            continue
        in_set = np.isin(cats, list(s.events))
        mask = (codes >= 0) & in_set[np.maximum(codes, 0)]
        idx = np.flatnonzero(mask)
        if not len(idx):
            continue
        # group start within the masked rows: first masked row of each customer
        cust_id = np.searchsorted(ustart, idx, side="right")
        gstart = np.ones(len(idx), bool)
        gstart[1:] = cust_id[1:] != cust_id[:-1]
        occ = _occurrence(gstart)
        stage[idx[occ >= s.nth]] = names.index(s.name)
    return pd.Series(pd.Categorical.from_codes(stage, categories=names, ordered=True),
                     index=events.index, name="stage")


def _first_stage_rows(events: pd.DataFrame, sm: StageMap):
    """Row of each customer's first event of each stage (``len(events)`` where none), with what it used.

    Returns ``first`` (customers × stages, int64), the stage code and customer number of each row, the
    timestamps (datetime64[ns]) and the customers in order of appearance."""
    stage = assign_stages(events, stage_map=sm)
    codes = stage.cat.codes.to_numpy()
    ts = events["timestamp"].to_numpy().astype("datetime64[ns]", copy=False)
    n_st = len(sm.stages)
    n = len(events)
    if is_sorted(events):  # customers from group starts: no hashing of ids
        ustart, cust_codes = customer_groups(events)
        custs = events["customer_id"].array.take(ustart)
    else:
        cust_codes, custs = pd.factorize(events["customer_id"], sort=False)
    # first occurrence of each (customer, stage): rows are time-ordered within a customer
    rows = np.flatnonzero(codes >= 0)
    first = np.full(len(custs) * n_st, n, dtype=np.int64)
    np.minimum.at(first, cust_codes[rows] * n_st + codes[rows], rows)
    return first.reshape(len(custs), n_st), codes, cust_codes, ts, custs


def _row_times(rows: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """``ts[rows]`` where a row exists (``rows < len(ts)``), NaT elsewhere."""
    n = len(ts)
    if not n:
        return np.full(rows.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    return np.where(rows < n, ts[np.minimum(rows, n - 1)], np.datetime64("NaT")).astype("datetime64[ns]")


def stage_reached(events: pd.DataFrame, *, stage_map: StageMap | None = None) -> pd.DataFrame:
    """When each customer first reached each stage.

    Parameters
    ----------
    events : DataFrame
        Events with ``customer_id``, ``timestamp`` and ``event``, in time order within each customer
        (as loaded).
    stage_map : StageMap, optional
        The stages and their events (default: :func:`load_stage_map`).

    Returns
    -------
    DataFrame
        Index ``customer_id`` (every customer in the log), one column per stage in journey order holding
        the timestamp of the first event of that stage (NaT when never reached). Reaching a later stage
        does not fill earlier ones: a customer who buys without a recorded product view has NaT under
        consideration. :func:`furthest_stage` summarises it.
    """
    sm = stage_map or load_stage_map()
    first, _, _, ts, custs = _first_stage_rows(events, sm)
    return pd.DataFrame(_row_times(first, ts), index=pd.Index(custs, name="customer_id"),
                        columns=pd.Index(sm.stage_names, name="stage"))


def stage_progress(events: pd.DataFrame, *, stage_map: StageMap | None = None) -> pd.DataFrame:
    """When each customer first reached each stage, and when they moved on from it to the next.

    A customer moves on from a stage when they have an event of the next stage at or after their first
    event of this stage, whenever their first event of the next stage was: a customer who opens a
    product page from an email, then the home page, then another product page has moved on from the
    visit stage to browsing (their second product view follows the visit); one whose only product view
    came before any visit has not.

    Parameters
    ----------
    events : DataFrame
        Events with ``customer_id``, ``timestamp`` and ``event``, in time order within each customer
        (as loaded).
    stage_map : StageMap, optional
        The stages and their events (default: :func:`load_stage_map`).

    Returns
    -------
    DataFrame
        Index ``customer_id`` (every customer in the log, as :func:`stage_reached`), columns a two-level
        index (``what``, ``stage``): ``("reached", stage)`` as :func:`stage_reached`, and ``("next",
        stage)`` the time of the customer's first event of the next stage at or after their first event
        of ``stage`` (NaT when there is none, and throughout for the last stage).

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "a"], "timestamp": pd.to_datetime(
    ...     ["2025-01-01", "2025-01-02", "2025-01-03"]), "event": ["product_view", "page_view", "product_view"]})
    >>> p = stage_progress(ev)
    >>> str(p.loc["a", ("reached", "consideration")].date()), str(p.loc["a", ("next", "awareness")].date())
    ('2025-01-01', '2025-01-03')
    """
    sm = stage_map or load_stage_map()
    first, codes, cust_codes, ts, custs = _first_stage_rows(events, sm)
    n_cust, n_st = first.shape
    t_first = _row_times(first, ts)
    # a row of stage s ≥ 1 moves its customer on from stage s − 1 when it is at or after their first s − 1
    rows = np.flatnonzero(codes >= 1)
    prev = cust_codes[rows] * n_st + codes[rows] - 1
    t_prev = t_first.reshape(-1)[prev]
    ok = ~np.isnat(t_prev) & (ts[rows] >= t_prev)
    nxt = np.full(n_cust * n_st, len(events), dtype=np.int64)
    np.minimum.at(nxt, prev[ok], rows[ok])
    cols = pd.MultiIndex.from_product([["reached", "next"], sm.stage_names], names=["what", "stage"])
    return pd.DataFrame(np.hstack([t_first, _row_times(nxt.reshape(n_cust, n_st), ts)]),
                        index=pd.Index(custs, name="customer_id"), columns=cols)


def furthest_stage(reached: pd.DataFrame) -> pd.Series:
    """The furthest stage each customer reached (ordered categorical; NaN if none), from :func:`stage_reached`.

    Parameters
    ----------
    reached : DataFrame
        :func:`stage_reached`'s table: one column per stage in journey order, NaT where not reached.

    Returns
    -------
    Series
        The name of the last column the customer has a time in, as an ordered categorical of the
        stages, indexed like ``reached``, named ``furthest_stage``.
    """
    arr = reached.notna().to_numpy()
    any_ = arr.any(axis=1)
    last = arr.shape[1] - 1 - np.argmax(arr[:, ::-1], axis=1)
    codes = np.where(any_, last, -1)
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(reached.columns), ordered=True),
                     index=reached.index, name="furthest_stage")


def customer_paths(
    events: pd.DataFrame, col: str = "channel", *, sep: str = " > ", collapse: bool = False
) -> pd.Series:
    """Each customer's ordered sequence of ``col`` values joined by ``sep`` (missing values skipped).

    ``collapse=True`` merges consecutive repeats (``a > a > b`` → ``a > b``). Returns a Series indexed by
    ``customer_id``, in order of first appearance.

    Parameters
    ----------
    events : DataFrame
        Events with ``customer_id`` and ``col``, grouped by customer in time order.
    col : str, default "channel"
        The column whose values make the path.
    sep : str, default " > "
        Joins the values.
    collapse : bool, default False
        Merge consecutive repeats of a value.

    Returns
    -------
    Series of str
        One path per customer with at least one non-missing value, named ``<col>_path``.

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "a", "b"], "channel": ["x", "x", "y", None]})
    >>> customer_paths(ev, collapse=True).to_dict()
    {'a': 'x > y'}
    """
    vals = events[col]
    keep = vals.notna().to_numpy()
    sub = events.loc[keep, ["customer_id"]].assign(v=vals[keep].astype(str).to_numpy())
    if collapse and len(sub):
        same = (sub["customer_id"].to_numpy()[1:] == sub["customer_id"].to_numpy()[:-1]) & (
            sub["v"].to_numpy()[1:] == sub["v"].to_numpy()[:-1])
        sub = sub.loc[np.r_[True, ~same]]
    out = sub.groupby("customer_id", sort=False)["v"].agg(sep.join)
    out.name = f"{col}_path"
    return out


def channel_transitions(events: pd.DataFrame, touch_col: str = "channel") -> pd.DataFrame:
    """Counts of consecutive touches ``a → b`` within each customer (the per-customer kernel).

    A touch is a row with a non-missing ``touch_col``; rows must be in (customer, timestamp) order, as
    :func:`cjlib.load_events` returns them. Repeats count (``email → email``).

    Parameters
    ----------
    events : DataFrame
        The event log, grouped by customer in time order.
    touch_col : str, default "channel"
        The column whose consecutive values are counted.

    Returns
    -------
    DataFrame
        Index (``channel_from``, ``channel_to``) sorted, column ``count`` (int64), observed pairs only.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "b"],
    ...                    "channel": ["email", "email", "search", "search", "email"]})
    >>> channel_transitions(ev)["count"].to_dict()
    {('email', 'email'): 1, ('email', 'search'): 1, ('search', 'email'): 1}
    """
    vals = events[touch_col]
    if isinstance(vals.dtype, pd.CategoricalDtype):  # the loader's categoricals: their codes, no hashing
        codes, names = vals.cat.codes.to_numpy(), vals.cat.categories
    else:
        codes, names = pd.factorize(vals, sort=True)
    keep = codes >= 0
    cust = np.cumsum(customer_starts(events))  # rows are grouped by customer
    c, k = codes[keep].astype(np.int64), cust[keep]
    same = k[1:] == k[:-1]
    C = max(len(names), 1)
    counts = np.bincount(c[:-1][same] * C + c[1:][same], minlength=C * C) if len(c) > 1 else np.zeros(C * C, int)
    nz = np.flatnonzero(counts)
    names = np.asarray(pd.Index(names).astype(str), dtype=object)
    idx = pd.MultiIndex.from_arrays([names[nz // C], names[nz % C]], names=["channel_from", "channel_to"])
    return pd.DataFrame({"count": counts[nz].astype(np.int64)}, index=idx).sort_index()
