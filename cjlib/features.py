"""Customer features: one row of behaviour (and attributes) per customer, as of a cutoff.

:func:`customer_features` is shared by persona clustering (``cjlib.personas``) and churn prediction
(``cjlib.churn``). It is leakage-safe by construction: only events (and feedback) strictly before
``cutoff`` count, and recency and tenure are measured at ``cutoff``. Everything is computed with numpy
over customer codes (``np.bincount``, group boundaries), never a Python callback per customer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjlib.io import categories_used, ensure_sorted
from cjlib.journeys import assign_stages, customer_groups, session_keys
from cjlib.stagemap import StageMap, load_stage_map

__all__ = ["customer_features", "excluded_attributes", "feature_name", "without_attributes"]

_NS_PER_DAY = 86_400 * 10**9


def feature_name(value: object) -> str:
    """A column-name-safe form of a category value (``"Paid Search"`` → ``"paid_search"``)."""
    text = re.sub(r"[^0-9a-zA-Z]+", "_", str(value).strip().lower()).strip("_")
    return text or "blank"


def excluded_attributes(customers: pd.DataFrame | None, profile) -> dict[str, str]:
    """Customer attribute columns that must never become features, each with why.

    Parameters
    ----------
    customers : DataFrame or None
        The customer table (``None``: nothing to exclude).
    profile : DataProfile
        The data profile (:func:`cjlib.profile`); its ``id_like`` and ``outcome_like`` columns are left
        out.

    Returns
    -------
    dict
        Column → ``"id"`` (an identifier or code) or ``"outcome"`` (restates the outcome), in the
        customer table's column order; empty when nothing is left out.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> cu = pd.DataFrame({"customer_id": ["a"], "zip_prefix": [1001], "status": ["won"], "age": [30]})
    >>> excluded_attributes(cu, SimpleNamespace(id_like=("zip_prefix",), outcome_like=("status",)))
    {'zip_prefix': 'id', 'status': 'outcome'}
    """
    if customers is None:
        return {}
    ids, outcomes = set(profile.id_like), set(profile.outcome_like)
    out = {}
    for c in customers.columns:
        if c == "customer_id":
            continue
        if c in ids:
            out[c] = "id"
        elif c in outcomes:
            out[c] = "outcome"
    return out


def without_attributes(customers: pd.DataFrame | None, exclude: Sequence[str] | None) -> pd.DataFrame | None:
    """The customer table without the ``exclude`` columns (``None`` stays ``None``; not modified).

    For callers that cannot pass ``exclude=`` through (e.g. :func:`cjlib.engine.customer_features`).
    """
    if customers is None or not exclude:
        return customers
    return customers.drop(columns=[c for c in exclude if c in customers.columns and c != "customer_id"])


def _as_ns(values) -> np.ndarray:
    """Timestamps (any unit) as int64 nanoseconds since the epoch (a view when already in ns)."""
    return np.asarray(values).astype("datetime64[ns]", copy=False).view(np.int64)


def _present(values: pd.Series) -> list[str]:
    """The distinct non-missing values as strings (for a categorical, the categories that occur)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return [str(c) for c in values.cat.categories[categories_used(values)]]
    return [str(v) for v in pd.unique(values.dropna())]


def _first_rows(codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Row of the first occurrence of each code that occurs, in code order (``np.unique``'s
    ``return_index`` without sorting the rows)."""
    first = np.full(n_codes, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes), dtype=np.int64))
    return first[first < len(codes)]


def _cutoff_ts(cutoff, events: pd.DataFrame) -> pd.Timestamp:
    if cutoff is None:
        if len(events) == 0:
            raise ValueError("events is empty: give a cutoff or a non-empty event log")
        return pd.Timestamp(events["timestamp"].max()) + pd.Timedelta(seconds=1)
    try:
        ts = pd.Timestamp(cutoff)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cutoff must be a date/time like '2025-10-01' or a Timestamp, got {cutoff!r}") from exc
    if ts is pd.NaT or pd.isna(ts):
        raise ValueError(f"cutoff must be a date/time like '2025-10-01' or a Timestamp, got {cutoff!r}")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def customer_features(
    events: pd.DataFrame,
    *,
    customers: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    cutoff: str | pd.Timestamp | None = None,
    stage_map: StageMap | None = None,
    exclude: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row of behaviour features per customer, from events strictly before ``cutoff``.

    Parameters
    ----------
    events : DataFrame
        The event log (``customer_id``, ``timestamp``, ``event``; optional ``channel``, ``revenue``,
        ``session_id``), as :func:`cjlib.load_events` returns it. Not modified; sorted internally when
        it is not in (customer, timestamp) order.
    customers : DataFrame, optional
        Customer attributes with a ``customer_id`` column; every other column is joined as is.
    feedback : DataFrame, optional
        ``customer_id``, ``timestamp``, ``score`` and optional ``scale`` (``"csat"``/``"nps"``; without it
        every score is CSAT). Only rows strictly before ``cutoff`` count.
    cutoff : str or Timestamp, optional
        Only events (and feedback) with ``timestamp < cutoff`` count; recency and tenure are measured
        at ``cutoff``. Default: the last event time + 1 second (so every event counts).
    stage_map : StageMap, optional
        Stages, conversion events and other events (default ``data/stage_map.yml``).
    exclude : sequence of str, optional
        Customer attribute columns never to join: identifiers and codes (a zip-code prefix stored as a
        number) and outcome-like columns (a ``status`` that restates conversion). Reports fill it from
        the data profile (:func:`excluded_attributes`); names the customer table lacks are ignored.

    Returns
    -------
    DataFrame
        Index ``customer_id`` (customers with at least one event before ``cutoff``, in id order; a
        customer with none is absent). Columns, in this order:

        - ``recency_days``: days from the customer's last event to ``cutoff`` (float).
        - ``tenure_days``: days from the customer's first event to ``cutoff`` (float).
        - ``frequency``: number of sessions (the *F* of RFM, counted in sessions; int).
        - ``sessions``: number of sessions (same value as ``frequency``; sessions come from
          ``session_id`` when the log has one, else a 30-minute inactivity gap; int).
        - ``n_events``: number of events (int).
        - ``events_per_session``: ``n_events / sessions`` (float).
        - ``n_purchases``: number of conversion events (``stage_map.conversion_events``; int).
        - ``monetary``: total ``revenue`` over all events (0 when none; NaN for every customer when the
          log has no ``revenue`` column).
        - ``aov``: average order value, ``monetary / n_purchases`` (NaN without purchases).
        - ``days_to_first_purchase``: days from the first event to the first conversion event (NaN when
          the customer never converted before ``cutoff``).
        - ``share_<stage>``, one per stage in journey order: share of the customer's events that belong
          to the stage (:func:`cjlib.journeys.assign_stages`; events of no stage count in the
          denominator, so shares sum to ≤ 1).
        - ``furthest_stage``: index of the furthest stage with at least one event (0 = first stage,
          -1 = no stage event; int) and ``furthest_stage_name``, the same as an ordered categorical
          (NaN for -1).
        - ``channel_share_<channel>``, one per channel in the log (sorted, names made column-safe with
          :func:`feature_name`), only when the log has a ``channel`` column: share of the customer's
          sessions whose first event with a channel came from that channel (0 when the customer has no
          session with a known channel).
        - ``n_<event>``, one per event of ``stage_map.other_events`` that occurs in the log (e.g.
          ``n_payment_error``, ``n_support_contact``): how many such events (int).
        - With ``feedback``: ``csat_mean`` (mean CSAT score, NaN when none), ``nps_mean`` (mean NPS score,
          NaN when none) and ``n_feedback`` (feedback rows of any scale; int).
        - With ``customers``: every attribute column as given (a name that clashes with a feature gets
          the suffix ``_attr``); NaN for customers missing from the table.

    Raises
    ------
    ValueError
        Missing required columns, an unparseable ``cutoff``, or an empty log without ``cutoff``.

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "timestamp": pd.to_datetime(["2025-01-01 10:00", "2025-01-01 10:05", "2025-01-03 09:00"]),
    ...     "event": ["page_view", "purchase", "page_view"], "revenue": [None, 40.0, None]})
    >>> f = customer_features(ev, cutoff="2025-01-04")
    >>> f[["recency_days", "sessions", "n_purchases", "monetary"]].round(3).to_dict("index")["a"]
    {'recency_days': 2.58, 'sessions': 1, 'n_purchases': 1, 'monetary': 40.0}
    """
    for col in ("customer_id", "timestamp", "event"):
        if col not in events.columns:
            raise ValueError(f"events must have a {col!r} column (columns: {list(events.columns)})")
    sm = stage_map or load_stage_map()
    cut = _cutoff_ts(cutoff, events)
    cut_ns = cut.as_unit("ns").value

    # columns that must not depend on the cutoff: other events and channels seen anywhere in the log
    event_names = set(_present(events["event"]))
    other = [e for e in sm.other_events if e in event_names]
    channels = None
    if "channel" in events.columns:
        channels = sorted(_present(events["channel"]))

    keep = (events["timestamp"] < cut).to_numpy()
    ev = ensure_sorted(events if keep.all() else events.loc[keep].reset_index(drop=True))

    starts, cust = customer_groups(ev)  # the log is sorted
    n = len(starts)
    index = pd.Index(ev["customer_id"].array.take(starts), name="customer_id")
    out: dict[str, np.ndarray] = {}
    ts = _as_ns(ev["timestamp"])
    n_ev = np.bincount(cust, minlength=n)
    if n:
        ends = np.r_[starts[1:], len(cust)] - 1
        first, last = ts[starts], ts[ends]
    else:
        first = last = np.zeros(0, np.int64)
    out["recency_days"] = (cut_ns - last) / _NS_PER_DAY
    out["tenure_days"] = (cut_ns - first) / _NS_PER_DAY

    # sessions: unique session codes per customer (codes never span customers)
    sess = session_keys(ev).to_numpy() if n else np.zeros(0, np.int64)
    n_codes = int(sess.max()) + 1 if len(sess) else 0
    sess_first = _first_rows(sess, n_codes)
    n_sess = np.bincount(cust[sess_first], minlength=n)
    out["frequency"] = n_sess
    out["sessions"] = n_sess.copy()
    out["n_events"] = n_ev
    with np.errstate(divide="ignore", invalid="ignore"):
        out["events_per_session"] = n_ev / n_sess

    ev_cat = ev["event"].astype("category")  # categorical codes: no per-row Python strings
    ev_code = ev_cat.cat.codes.to_numpy()
    ev_names = np.asarray(ev_cat.cat.categories.astype(str), dtype=object)

    def is_event(names) -> np.ndarray:
        lut = np.isin(ev_names, list(names))
        return (ev_code >= 0) & lut[np.maximum(ev_code, 0)] if len(lut) else np.zeros(len(ev_code), bool)

    is_conv = is_event(sm.conversion_events)
    n_purch = np.bincount(cust[is_conv], minlength=n)
    out["n_purchases"] = n_purch
    if "revenue" in ev.columns:
        rev = pd.to_numeric(ev["revenue"], errors="coerce").to_numpy(dtype=float)
        paid = np.flatnonzero(~np.isnan(rev) & (rev != 0))  # most events carry no revenue
        monetary = np.bincount(cust[paid], weights=rev[paid], minlength=n).astype(float)
    else:
        monetary = np.full(n, np.nan)
    out["monetary"] = monetary
    with np.errstate(divide="ignore", invalid="ignore"):
        out["aov"] = np.where(n_purch > 0, monetary / np.maximum(n_purch, 1), np.nan)
    first_conv = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_conv, cust[is_conv], ts[is_conv])
    out["days_to_first_purchase"] = np.where(n_purch > 0, (first_conv - first) / _NS_PER_DAY, np.nan)

    # stage shares and the furthest stage
    names = sm.stage_names
    n_st = len(names)
    stage = assign_stages(ev, sm).cat.codes.to_numpy() if n else np.zeros(0, np.int8)
    has = stage >= 0
    counts = np.bincount(cust[has].astype(np.int64) * n_st + stage[has], minlength=n * n_st).reshape(n, n_st)
    for j, name in enumerate(names):
        out[f"share_{feature_name(name)}"] = counts[:, j] / np.maximum(n_ev, 1)
    reached = counts > 0
    furthest = np.where(reached.any(axis=1), n_st - 1 - np.argmax(reached[:, ::-1], axis=1), -1)
    out["furthest_stage"] = furthest.astype(np.int64)
    furthest_name = pd.Categorical.from_codes(furthest, categories=names, ordered=True)

    # channel mix over sessions (channel of each session's first event with a known channel)
    ch_cols: dict[str, np.ndarray] = {}
    if channels is not None:
        ch_cat = ev["channel"].astype("category")
        lut = pd.Index(channels).get_indexer(ch_cat.cat.categories.astype(str))  # own codes → `channels`
        raw = ch_cat.cat.codes.to_numpy()
        ch_code = np.r_[lut, -1][raw]  # the last slot answers code -1 (missing channel)
        known = ch_code >= 0
        rows = sess_first if known.all() else np.flatnonzero(known)[_first_rows(sess[known], n_codes)]
        k = len(channels)
        cc = np.bincount(cust[rows].astype(np.int64) * k + ch_code[rows], minlength=n * k).reshape(n, k)
        denom = np.maximum(cc.sum(axis=1), 1)
        used: set[str] = set()
        for j, c in enumerate(channels):
            col = f"channel_share_{feature_name(c)}"
            while col in used:
                col += "_"
            used.add(col)
            ch_cols[col] = cc[:, j] / denom

    other_cols = {f"n_{feature_name(e)}": np.bincount(cust[is_event([e])], minlength=n) for e in other}

    frame = pd.DataFrame(out, index=index)
    frame.insert(frame.columns.get_loc("furthest_stage") + 1, "furthest_stage_name", furthest_name)
    extra = {**ch_cols, **other_cols}
    if extra:
        frame = pd.concat([frame, pd.DataFrame(extra, index=index)], axis=1)

    if feedback is not None:
        frame = frame.join(_feedback_features(feedback, cut, index))
    if customers is not None:
        if "customer_id" not in customers.columns:
            raise ValueError("customers must have a 'customer_id' column")
        attrs = customers.drop_duplicates("customer_id").set_index("customer_id")
        attrs = attrs.drop(columns=[c for c in (exclude or ()) if c in attrs.columns])
        attrs = attrs.rename(columns={c: f"{c}_attr" for c in attrs.columns if c in frame.columns})
        # align on string ids when the two tables type the id differently (str vs int)
        if attrs.index.dtype != frame.index.dtype:
            attrs.index = attrs.index.astype(str)
            attrs = attrs.reindex(frame.index.astype(str))
            attrs.index = frame.index
        else:
            attrs = attrs.reindex(frame.index)
        frame = frame.join(attrs)
    return frame


def _feedback_features(feedback: pd.DataFrame, cut: pd.Timestamp, index: pd.Index) -> pd.DataFrame:
    """csat_mean, nps_mean, n_feedback per customer in ``index`` from feedback before ``cut``."""
    for col in ("customer_id", "timestamp", "score"):
        if col not in feedback.columns:
            raise ValueError(f"feedback must have a {col!r} column (columns: {list(feedback.columns)})")
    fb = feedback.loc[(feedback["timestamp"] < cut).to_numpy()]
    ids = fb["customer_id"]
    if ids.dtype != index.dtype:
        ids, lookup = ids.astype(str), index.astype(str)
    else:
        lookup = index
    pos = lookup.get_indexer(ids)
    inside = pos >= 0
    pos = pos[inside]
    score = pd.to_numeric(fb["score"], errors="coerce").to_numpy(dtype=float)[inside]
    scale = (fb["scale"].astype(str).str.lower().to_numpy()[inside] if "scale" in fb.columns
             else np.full(len(pos), "csat"))
    n = len(index)
    res = {}
    for name, which in (("csat_mean", "csat"), ("nps_mean", "nps")):
        m = (scale == which) & ~np.isnan(score)
        cnt = np.bincount(pos[m], minlength=n)
        tot = np.bincount(pos[m], weights=score[m], minlength=n)
        with np.errstate(divide="ignore", invalid="ignore"):
            res[name] = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
    res["n_feedback"] = np.bincount(pos, minlength=n)
    return pd.DataFrame(res, index=index)
