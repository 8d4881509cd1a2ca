"""The scorecard on a :class:`cjlib.engine.Partitioned` log: the per-customer kernels and the merges.

Each public scorecard function that reads events dispatches here when it is given a partitioned log
(Dask mode). What it needs from the events is computed on the workers, per partition of complete
customers (:func:`cjlib.engine.run`): per-customer rows (stage reached and when, first values, first and
conversion times, revenue) concatenated, or additive tallies (events, sessions, customers per stage,
channel, period …) summed. The report process then finishes with the scorecard's own code, so the
results equal the in-process ones (counts exactly; sums of money to rounding).

The engine is imported inside the functions: ``cjlib.engine`` imports the funnel, which imports the
scorecard.
"""

from __future__ import annotations

import weakref
from functools import partial

import numpy as np
import pandas as pd

from cjlib.journeys import assign_stages, customer_starts, stage_progress
from cjlib.partitioned import columns, is_partitioned  # noqa: F401 (used through this module)
from cjlib.scorecard._common import conversion_mask
from cjlib.stagemap import StageMap

# ================================================================================================ routing
_MEMO: dict[int, tuple] = {}  # id(Partitioned) -> (weak reference, {key: (stage map, result)})


def _forget(key: int, _ref) -> None:
    _MEMO.pop(key, None)


def memo(events, key: tuple, sm: StageMap, compute):
    """``compute()`` once per partitioned log, key and stage map: 00 asks for the stage times, the
    touchpoint counts and the retention counts several times, and each answer is a pass over the cluster.

    Parameters
    ----------
    events : Partitioned
        The log (immutable: persisted partitions); the entry goes when it does.
    key : tuple
        What is computed (name and arguments).
    sm : StageMap
        The map it was computed with (compared by identity).
    compute : callable
        Computes the result.

    Returns
    -------
    object
        The result (callers must not modify it).
    """
    entry = _MEMO.get(id(events))
    if entry is None or entry[0]() is not events:
        ref = weakref.ref(events, partial(_forget, id(events)))
        entry = _MEMO[id(events)] = (ref, {})
    got = entry[1].get(key)
    if got is None or got[0] is not sm:
        got = entry[1][key] = (sm, compute())
    return got[1]


def _run(events, kernel, reduce: str, **kwargs):
    from cjlib.engine.core import run

    return run(events, kernel, reduce=reduce, **kwargs)


def per_customer(events, kernel, **kwargs) -> pd.DataFrame:
    """A per-customer kernel's rows over the whole partitioned log, in the loader's customer order.

    Parameters
    ----------
    events : Partitioned
    kernel : callable
        ``kernel(ev, **kwargs)`` returning rows indexed by ``customer_id``.
    **kwargs
        Passed to the kernel.

    Returns
    -------
    DataFrame
        The rows of every partition, sorted by ``customer_id`` (the order :func:`cjlib.io.ensure_sorted`
        gives in process).
    """
    out = _run(events, kernel, "concat", **kwargs)
    return out.sort_index(kind="stable")


def tally(events, kernel, **kwargs) -> pd.Series:
    """An additive kernel's counts summed over the partitions.

    Parameters
    ----------
    events : Partitioned
    kernel : callable
        ``kernel(ev, **kwargs)`` returning a float Series on a 3-level (kind, a, b) text index.
    **kwargs
        Passed to the kernel.

    Returns
    -------
    Series
        Summed by key (empty when no partition counted anything).
    """
    out = _run(events, kernel, "sum", **kwargs)
    if out is None:
        return pd.Series(dtype=float, index=pd.MultiIndex.from_tuples([], names=["kind", "a", "b"]))
    return out


def _series(rows: dict) -> pd.Series:
    idx = pd.MultiIndex.from_tuples(list(rows), names=["kind", "a", "b"]) if rows else \
        pd.MultiIndex.from_tuples([], names=["kind", "a", "b"])
    return pd.Series(np.array(list(rows.values()), dtype=float), index=idx)


def part(t: pd.Series, kind: str) -> pd.Series:
    """The (a, b) → value counts of one kind from a :func:`tally`.

    Parameters
    ----------
    t : Series
        From :func:`tally`.
    kind : str

    Returns
    -------
    Series
        Index (a, b); empty when the kind never occurred.
    """
    if not len(t) or kind not in t.index.get_level_values(0):
        return pd.Series(dtype=float, index=pd.MultiIndex.from_tuples([], names=["a", "b"]))
    return t.xs(kind, level=0)


def _one(t: pd.Series, kind: str, a: str = "", b: str = "") -> float:
    try:
        return float(t.loc[(kind, a, b)])
    except KeyError:
        return 0.0


# ======================================================================================== stage table
def _k_progress(ev: pd.DataFrame, *, stage_map: StageMap) -> pd.DataFrame:
    out = stage_progress(ev, stage_map=stage_map)
    out.columns = [f"c{i}" for i in range(out.shape[1])]  # flat names for the merge; stage_table restores them
    return out


def stage_table(events, sm: StageMap) -> pd.DataFrame:
    """:func:`cjlib.journeys.stage_progress` on a partitioned log, in the loader's customer order.

    Parameters
    ----------
    events : Partitioned
    sm : StageMap

    Returns
    -------
    DataFrame
        As :func:`cjlib.journeys.stage_progress`.
    """
    def compute():
        out = per_customer(events, _k_progress, stage_map=sm)
        out.columns = pd.MultiIndex.from_product([["reached", "next"], sm.stage_names], names=["what", "stage"])
        return out

    return memo(events, ("progress",), sm, compute)


def reached(events, sm: StageMap) -> pd.DataFrame:
    """:func:`cjlib.journeys.stage_reached` on a partitioned log, in the loader's customer order (from the
    same pass as :func:`stage_table`).

    Parameters
    ----------
    events : Partitioned
    sm : StageMap

    Returns
    -------
    DataFrame
        As :func:`cjlib.journeys.stage_reached`.
    """
    out = stage_table(events, sm)["reached"]
    out.columns = pd.Index(sm.stage_names, name="stage")
    return out


def _k_stage(ev: pd.DataFrame, *, stage_map: StageMap, by: list, revenue: bool) -> pd.Series:
    from cjlib.scorecard.kpis import _touch_counts

    rows: dict = {}
    if not len(ev):
        return _series(rows)
    if not by:
        stage = assign_stages(ev, stage_map=stage_map)
        codes = stage.cat.codes.to_numpy()
        for i, n in enumerate(np.bincount(codes[codes >= 0], minlength=len(stage_map.stage_names))):
            rows[("events", str(i), "")] = n
        if revenue:
            rev = ev.assign(_stage=stage).groupby("_stage", observed=True)["revenue"].sum()
            for s, v in rev.items():
                rows[("revenue", s, "")] = v
    for col in by:  # the in-process counting code, on this partition
        c = _touch_counts(ev, stage_map, col)
        for i, v, n in zip(c["stage"].cat.codes, c["value"].astype(str), c["events"]):
            rows[(col, str(i), v)] = n
    return _series(rows)


def stage_totals(events, sm: StageMap) -> tuple[pd.Series, pd.Series]:
    """Events and revenue per stage on a partitioned log (:func:`cjlib.scorecard.stage_kpis`).

    Parameters
    ----------
    events : Partitioned
    sm : StageMap

    Returns
    -------
    counts, revenue : Series
        Indexed by stage name (every stage); revenue 0.0 everywhere without a ``revenue`` column.
    """
    has_rev = "revenue" in columns(events)
    t = tally(events, _k_stage, stage_map=sm, by=[], revenue=has_rev)
    ev_n = part(t, "events")
    counts = pd.Series([int(ev_n.get((str(i), ""), 0)) for i in range(len(sm.stage_names))],
                       index=pd.Index(sm.stage_names, name="_stage"))
    rev = part(t, "revenue")
    revenue = pd.Series([float(rev.get((s, ""), 0.0)) for s in sm.stage_names], index=counts.index)
    return counts, revenue


def touch_counts(events, sm: StageMap, by: str) -> pd.DataFrame:
    """Events per (stage, value of ``by``) on a partitioned log (:func:`cjlib.scorecard.stage_touchpoints`).

    Parameters
    ----------
    events : Partitioned
    sm : StageMap
    by : str
        An event-log column.

    Returns
    -------
    DataFrame
        ``stage`` (ordered categorical), ``value``, ``events`` (int64), sorted by stage and value.
    """
    def compute():
        t = part(tally(events, _k_stage, stage_map=sm, by=[by], revenue=False), by)
        codes = np.array([int(a) for a in t.index.get_level_values(0)], dtype=np.int64)
        vals = np.array(list(t.index.get_level_values(1)), dtype=object)
        out = pd.DataFrame({"stage": pd.Categorical.from_codes(codes, categories=sm.stage_names, ordered=True),
                            "value": vals, "events": t.to_numpy().astype(np.int64)})
        return out.sort_values(["stage", "value"], kind="stable").reset_index(drop=True)

    return memo(events, ("touch", by), sm, compute).copy()  # the caller adds columns


def _k_feedback_stage(ev: pd.DataFrame, *, feedback: pd.DataFrame, stage_map: StageMap) -> pd.DataFrame:
    from cjlib.scorecard.satisfaction import _stage_at_time

    ids = ev["customer_id"].astype(str)
    fb_ids = feedback["customer_id"].astype(str)
    fb = feedback[fb_ids.isin(pd.unique(ids)).to_numpy()]
    st = _stage_at_time(fb, ev, stage_map) if len(fb) and len(ev) else pd.Series([], dtype="string")
    return pd.DataFrame({"customer_id": fb["customer_id"].to_numpy(), "_i": fb["_i"].to_numpy(),
                         "_s": st.to_numpy()})


def stage_at_time(events, feedback: pd.DataFrame, sm: StageMap) -> pd.Series:
    """The stage of each customer's latest staged event at or before each feedback time, on a
    partitioned log (each partition places the feedback of its own customers).

    Parameters
    ----------
    events : Partitioned
    feedback : DataFrame
    sm : StageMap

    Returns
    -------
    Series
        ``string`` stage names on the index of ``feedback`` (NA where none).
    """
    fb = feedback[["customer_id", "timestamp"]].assign(_i=np.arange(len(feedback)))
    got = _run(events, _k_feedback_stage, "concat", feedback=fb, stage_map=sm)
    out = np.full(len(feedback), None, dtype=object)
    if len(got):
        s = got["_s"].astype(object)
        out[got["_i"].to_numpy(dtype=np.int64)] = s.where(s.notna(), None).to_numpy()
    return pd.Series(out, index=feedback.index, dtype="string")


# ====================================================================================== segments
def _k_first(ev: pd.DataFrame, *, cols: list) -> pd.DataFrame:
    if cols:
        return ev.groupby("customer_id", sort=False, observed=True)[cols].first()
    return pd.DataFrame(index=pd.Index(pd.unique(ev["customer_id"]), name="customer_id"))


def first_values(events, cols: list) -> pd.DataFrame:
    """Each customer's first non-missing value of each event column ``cols`` (every customer of the log).

    Parameters
    ----------
    events : Partitioned
    cols : list of str

    Returns
    -------
    DataFrame
        Index ``customer_id`` in the loader's order, one column per name in ``cols``.
    """
    return per_customer(events, _k_first, cols=list(cols))


def _distinct(part_: pd.DataFrame, col: str):
    return pd.unique(part_[col].dropna().astype(object))


def label_stats(events, col: str) -> tuple[object, int]:
    """The dtype and the number of distinct values of an event column on a partitioned log.

    Parameters
    ----------
    events : Partitioned
    col : str

    Returns
    -------
    dtype, int
    """
    from cjlib.engine.core import _log_wide

    parts = _log_wide(events, partial(_distinct, col=col))
    vals = set()
    for p in parts:
        vals.update(p.tolist())
    return events.ddf.dtypes[col], len(vals)


def customer_outcomes(ev: pd.DataFrame, *, stage_map: StageMap) -> pd.DataFrame:
    """Per customer: first event time, first conversion time (NaT when none) and revenue (when the log has it).

    The kernel of :func:`cjlib.scorecard.journey_scores` (in process it runs on the whole log).

    Parameters
    ----------
    ev : DataFrame
        Complete customers in the loader's order.
    stage_map : StageMap
        Its conversion events count.

    Returns
    -------
    DataFrame
        Index ``customer_id`` (order of appearance): ``first_ts``, ``conv_ts`` and ``revenue``.
    """
    # the log is grouped by customer in time order: a customer's first row holds the first time, the first
    # conversion row the first conversion time (no hashing of ids)
    starts = customer_starts(ev)
    code = np.cumsum(starts, dtype=np.int64) - 1
    ts = ev["timestamp"].to_numpy()
    index = pd.Index(ev["customer_id"].array.take(np.flatnonzero(starts)), name="customer_id")
    conv = np.flatnonzero(conversion_mask(ev, stage_map))
    first_conv = conv[np.r_[True, code[conv][1:] != code[conv][:-1]]] if len(conv) else conv
    conv_ts = np.full(len(index), np.datetime64("NaT"), dtype=ts.dtype)
    conv_ts[code[first_conv]] = ts[first_conv]
    out = pd.DataFrame({"first_ts": ts[starts], "conv_ts": conv_ts}, index=index)
    if "revenue" in ev.columns:  # pandas' grouped sum (compensated, in row order), as by customer id
        out["revenue"] = ev["revenue"].groupby(code, sort=False).sum().to_numpy()
    return out


# ==================================================================================== periods
def _k_retention(ev: pd.DataFrame, *, stage_map: StageMap, based_on: str, freq: str) -> pd.DataFrame:
    from cjlib.scorecard.trends import retention_pairs

    cols = ["customer_id", "cohort", "offset", "n", "last"]
    if not len(ev):
        return pd.DataFrame({c: [] for c in cols})
    pairs, last = retention_pairs(ev, stage_map, based_on, freq)  # the in-process code, on this partition
    if not len(pairs):
        return pd.DataFrame({"customer_id": ev["customer_id"].iloc[:1].to_numpy(), "cohort": [-1], "offset": [-1],
                             "n": [0], "last": [last]})
    names = ev["customer_id"].array.take(np.flatnonzero(customer_starts(ev)))  # customer numbers → ids
    cohort = pd.Series(pairs[:, 1]).groupby(pairs[:, 0]).transform("min").to_numpy()
    df = pd.DataFrame({"c": pairs[:, 0], "cohort": cohort, "offset": pairs[:, 1] - cohort})
    # the customer who first has each (cohort, offset) in the loader's order: the value_counts tie order
    first = df.assign(cid=np.asarray(names.take(df["c"].to_numpy()), dtype=object)).groupby(
        ["cohort", "offset"], sort=False)
    out = first.agg(customer_id=("cid", "min"), n=("c", "size")).reset_index()
    out["last"] = last
    return out[cols]


def retention_counts(events, sm: StageMap, based_on: str, freq: str) -> tuple[pd.Series, int]:
    """:func:`cjlib.scorecard.cohort_retention`'s ``(cohort, offset)`` counts on a partitioned log, in the
    order ``DataFrame.value_counts`` gives them in process, and the log's last period.

    Parameters
    ----------
    events : Partitioned
    sm : StageMap
    based_on : str
    freq : str
        ``"M"`` or ``"W"``.

    Returns
    -------
    tab : Series
        ``retained`` on (cohort, offset), by count descending, ties in order of first appearance.
    last : int
    """
    tab, last = memo(events, ("retention", based_on, freq), sm,
                     lambda: _retention_counts(events, sm, based_on, freq))
    return tab.copy(), last


def _retention_counts(events, sm: StageMap, based_on: str, freq: str) -> tuple[pd.Series, int]:
    got = _run(events, _k_retention, "concat", stage_map=sm, based_on=based_on, freq=freq)
    last = int(got["last"].max()) if len(got) else 0
    got = got[got["offset"] >= 0]
    idx = pd.MultiIndex.from_tuples([], names=["cohort", "offset"])
    if not len(got):
        return pd.Series([], index=idx, dtype=np.int64, name="retained"), last
    got = got.astype({"cohort": np.int64, "offset": np.int64, "n": np.int64})
    g = got.groupby(["cohort", "offset"])
    tab = pd.DataFrame({"n": g["n"].sum(), "first": g["customer_id"].min()}).reset_index()
    first_rank = pd.Index(tab["first"].unique().tolist()).sort_values().get_indexer(tab["first"])
    tab = tab.assign(_r=first_rank).sort_values(["_r", "offset"], kind="stable")
    out = pd.Series(tab["n"].to_numpy(), index=pd.MultiIndex.from_arrays(
        [tab["cohort"].to_numpy(), tab["offset"].to_numpy()], names=["cohort", "offset"]), name="retained")
    return out.sort_values(ascending=False, kind="stable"), last


def _k_trends(ev: pd.DataFrame, *, stage_map: StageMap, freq: str, revenue: bool) -> pd.Series:
    from cjlib.scorecard.trends import period_counts

    rows: dict = {}
    if not len(ev):
        return _series(rows)
    out, rev_sum, n_rev, days = period_counts(ev, stage_map, freq)  # the in-process code, on this partition
    counts = {c: out[c] for c in out.columns}
    if revenue:
        counts["revenue"], counts["n_rev"] = rev_sum, n_rev
    for name, s in counts.items():
        for k, v in s.items():
            rows[(name, str(int(k)), "")] = v
    for d in days:
        rows[("day", str(int(d.astype(np.int64))), "")] = 1
    return _series(rows)


def trend_counts(events, sm: StageMap, freq: str) -> tuple[pd.DataFrame, pd.Series | None, pd.Series | None,
                                                           tuple[np.datetime64, np.datetime64]]:
    """:func:`cjlib.scorecard.kpi_trends`' per-period counts on a partitioned log.

    Parameters
    ----------
    events : Partitioned
    sm : StageMap
    freq : str
        ``"M"`` or ``"W"``.

    Returns
    -------
    out : DataFrame
        Index every period from the first to the last: ``active_customers``, ``new_customers``,
        ``converters``, ``orders`` (int).
    revenue, n_rev : Series or None
        Revenue and orders with revenue per period with conversions (None without ``revenue``).
    days : (datetime64[D], datetime64[D])
        The log's first and last day.
    """
    has_rev = "revenue" in columns(events)
    t = tally(events, _k_trends, stage_map=sm, freq=freq, revenue=has_rev)

    def series(kind):
        p = part(t, kind)
        return pd.Series(p.to_numpy(), index=np.array([int(a) for a in p.index.get_level_values(0)], np.int64))

    day = series("day").index
    keys = series("active_customers").index
    out = pd.DataFrame(index=np.arange(keys.min(), keys.max() + 1))
    for c in ("active_customers", "new_customers", "converters", "orders"):
        out[c] = series(c)
    out = out.fillna(0).astype(int)
    rev = series("revenue") if has_rev else None
    n_rev = series("n_rev").astype(np.int64) if has_rev else None
    return out, rev, n_rev, (np.datetime64(int(day.min()), "D"), np.datetime64(int(day.max()), "D"))
