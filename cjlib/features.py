"""Customer features: one row of behaviour (and attributes) per customer, as of a cutoff.

:func:`customer_features` is shared by persona clustering (``cjlib.personas``) and churn prediction
(``cjlib.churn``). It is leakage-safe by construction: only events (and feedback) strictly before
``cutoff`` count, and recency and tenure are measured at ``cutoff``. Everything is computed with numpy
over customer codes (``np.bincount``, group boundaries), never a Python callback per customer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjlib.io import categories_used, ensure_sorted
from cjlib.journeys import assign_stages, customer_groups, session_keys
from cjlib.stagemap import StageMap, load_stage_map

__all__ = ["as_cutoff", "customer_features", "excluded_attributes", "feature_name", "without_attributes"]

_NS_PER_DAY = 86_400 * 10**9


def feature_name(value: object) -> str:
    """A column-name-safe form of a category value (``"Paid Search"`` → ``"paid_search"``).

    Parameters
    ----------
    value : object
        The category value (taken as its ``str``).

    Returns
    -------
    str
        Lower case, each run of other characters than letters and digits (of any script) made one ``_``,
        none at either end; ``"blank"`` when nothing is left.

    Examples
    --------
    >>> feature_name("Paid Search")
    'paid_search'
    >>> feature_name(" -- "), feature_name("百度推广")
    ('blank', '百度推广')
    """
    text = re.sub(r"[\W_]+", "_", str(value).strip().lower()).strip("_")
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
        Column → ``"id"`` (an identifier or code), ``"outcome"`` (restates the outcome) or
        ``"experiment"`` (a ``variant`` column: an A/B assignment, random by design), in the customer
        table's column order; empty when nothing is left out.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> cu = pd.DataFrame({"customer_id": ["a"], "zip_prefix": [1001], "status": ["won"], "age": [30],
    ...                    "variant": ["B"]})
    >>> excluded_attributes(cu, SimpleNamespace(id_like=("zip_prefix",), outcome_like=("status",)))
    {'zip_prefix': 'id', 'status': 'outcome', 'variant': 'experiment'}
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
        elif c == "variant":
            out[c] = "experiment"
    return out


def without_attributes(customers: pd.DataFrame | None, exclude: Sequence[str] | None) -> pd.DataFrame | None:
    """The customer table without the ``exclude`` columns (``None`` stays ``None``; not modified).

    For callers that cannot pass ``exclude=`` through (e.g. :func:`cjlib.engine.customer_features`).

    Parameters
    ----------
    customers : DataFrame or None
        The customer attributes.
    exclude : sequence of str or None
        Columns to drop; names the table lacks are ignored, and ``customer_id`` is always kept.

    Returns
    -------
    DataFrame or None
        A copy without those columns, or ``customers`` itself when it is ``None`` or ``exclude`` is empty.
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
    return as_cutoff(cutoff)


def as_cutoff(cutoff) -> pd.Timestamp:
    """``cutoff`` as a timezone-naive UTC Timestamp, or ``ValueError`` naming the parameter.

    Parameters
    ----------
    cutoff : str, datetime or Timestamp
        A timezone-aware value is converted to UTC first.

    Returns
    -------
    Timestamp

    Examples
    --------
    >>> as_cutoff("2025-10-01T02:00+02:00")
    Timestamp('2025-10-01 00:00:00')
    """
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
    events : DataFrame or Partitioned
        The event log (``customer_id``, ``timestamp``, ``event``; optional ``channel``, ``revenue``,
        ``session_id``), as :func:`cjlib.load_events` returns it. Not modified; sorted internally when
        it is not in (customer, timestamp) order. A log shuffled onto a cluster
        (:class:`cjlib.engine.Partitioned`) is handed to :func:`cjlib.engine.customer_features`.
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
        - ``days_since_last_purchase``: days from the last conversion event to ``cutoff`` (RFM's *R*; NaN
          when the customer never converted before ``cutoff``).
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
    from cjlib.attribution.distributed import is_partitioned

    if is_partitioned(events):  # on the workers (one row per customer back), equal to the in-process table
        from cjlib import engine

        return engine.customer_features(events, customers=without_attributes(customers, exclude),
                                        feedback=feedback, cutoff=cutoff, stage_map=stage_map)
    for col in ("customer_id", "timestamp", "event"):
        if col not in events.columns:
            raise ValueError(f"events must have a {col!r} column (columns: {list(events.columns)})")
    sm = stage_map or load_stage_map()
    cut = _cutoff_ts(cutoff, events)

    # columns that must not depend on the cutoff: other events and channels seen anywhere in the log
    event_names = set(_present(events["event"]))
    other = [e for e in sm.other_events if e in event_names]
    channels = sorted(_present(events["channel"])) if "channel" in events.columns else None

    keep = (events["timestamp"] < cut).to_numpy()
    ev = ensure_sorted(events if keep.all() else events.loc[keep].reset_index(drop=True))
    g = _Groups.of(ev)
    out = _activity_features(g, cut.as_unit("ns").value)
    is_event = _event_matcher(ev)
    out.update(_purchase_features(g, ev, is_event(sm.conversion_events), cut.as_unit("ns").value))
    stage_cols, furthest_name = _stage_features(g, ev, sm)
    out.update(stage_cols)

    frame = pd.DataFrame(out, index=g.index)
    frame.insert(frame.columns.get_loc("furthest_stage") + 1, "furthest_stage_name", furthest_name)
    extra = {**_channel_features(g, ev, channels),
             **{f"n_{feature_name(e)}": np.bincount(g.cust[is_event([e])], minlength=g.n) for e in other}}
    if extra:
        frame = pd.concat([frame, pd.DataFrame(extra, index=g.index)], axis=1)
    if feedback is not None:
        frame = frame.join(_feedback_features(feedback, cut, g.index))
    if customers is not None:
        frame = frame.join(_attributes(customers, frame, exclude))
    return frame


@dataclass(frozen=True)
class _Groups:
    """The customers of a sorted log: each row's customer code, the first row of each, sessions."""

    cust: np.ndarray
    starts: np.ndarray
    index: pd.Index
    ts: np.ndarray  # int64 ns
    sess: np.ndarray  # session code per row (codes never span customers)
    sess_first: np.ndarray  # first row of each session, in code order
    n_codes: int

    @property
    def n(self) -> int:
        return len(self.starts)

    @classmethod
    def of(cls, ev: pd.DataFrame) -> _Groups:
        starts, cust = customer_groups(ev)  # the log is sorted
        sess = session_keys(ev).to_numpy() if len(starts) else np.zeros(0, np.int64)
        n_codes = int(sess.max()) + 1 if len(sess) else 0
        return cls(cust, starts, pd.Index(ev["customer_id"].array.take(starts), name="customer_id"),
                   _as_ns(ev["timestamp"]), sess, _first_rows(sess, n_codes), n_codes)


def _activity_features(g: _Groups, cut_ns: int) -> dict[str, np.ndarray]:
    """Recency, tenure, sessions (= frequency), events and events per session."""
    n_ev = np.bincount(g.cust, minlength=g.n)
    if g.n:
        ends = np.r_[g.starts[1:], len(g.cust)] - 1
        first, last = g.ts[g.starts], g.ts[ends]
    else:
        first = last = np.zeros(0, np.int64)
    n_sess = np.bincount(g.cust[g.sess_first], minlength=g.n)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_session = n_ev / n_sess
    return {"recency_days": (cut_ns - last) / _NS_PER_DAY, "tenure_days": (cut_ns - first) / _NS_PER_DAY,
            "frequency": n_sess, "sessions": n_sess.copy(), "n_events": n_ev, "events_per_session": per_session}


def _event_matcher(ev: pd.DataFrame):
    """``is_event(names)``: a row mask of the events named, over categorical codes (no per-row strings)."""
    ev_cat = ev["event"].astype("category")
    ev_code = ev_cat.cat.codes.to_numpy()
    ev_names = np.asarray(ev_cat.cat.categories.astype(str), dtype=object)

    def is_event(names) -> np.ndarray:
        lut = np.isin(ev_names, list(names))
        return (ev_code >= 0) & lut[np.maximum(ev_code, 0)] if len(lut) else np.zeros(len(ev_code), bool)

    return is_event


def _purchase_features(g: _Groups, ev: pd.DataFrame, is_conv: np.ndarray, cut_ns: int) -> dict[str, np.ndarray]:
    """Purchases, revenue (monetary), average order value and days to the first purchase."""
    n = g.n
    n_purch = np.bincount(g.cust[is_conv], minlength=n)
    if "revenue" in ev.columns:
        rev = pd.to_numeric(ev["revenue"], errors="coerce").to_numpy(dtype=float)
        paid = np.flatnonzero(~np.isnan(rev) & (rev != 0))  # most events carry no revenue
        monetary = np.bincount(g.cust[paid], weights=rev[paid], minlength=n).astype(float)
    else:
        monetary = np.full(n, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        aov = np.where(n_purch > 0, monetary / np.maximum(n_purch, 1), np.nan)
    first_conv = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_conv, g.cust[is_conv], g.ts[is_conv])
    first = g.ts[g.starts] if n else np.zeros(0, np.int64)
    last_conv = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last_conv, g.cust[is_conv], g.ts[is_conv])
    return {"n_purchases": n_purch, "monetary": monetary, "aov": aov,
            "days_to_first_purchase": np.where(n_purch > 0, (first_conv - first) / _NS_PER_DAY, np.nan),
            "days_since_last_purchase": np.where(n_purch > 0, (cut_ns - np.where(n_purch > 0, last_conv, cut_ns))
                                                 / _NS_PER_DAY, np.nan)}


def _stage_features(g: _Groups, ev: pd.DataFrame, sm: StageMap) -> tuple[dict[str, np.ndarray], pd.Categorical]:
    """Each stage's share of the customer's events, the furthest stage reached (code and name)."""
    names = sm.stage_names
    n, n_st = g.n, len(names)
    n_ev = np.bincount(g.cust, minlength=n)
    stage = assign_stages(ev, stage_map=sm).cat.codes.to_numpy() if n else np.zeros(0, np.int8)
    has = stage >= 0
    counts = np.bincount(g.cust[has].astype(np.int64) * n_st + stage[has], minlength=n * n_st).reshape(n, n_st)
    out = {f"share_{feature_name(name)}": counts[:, j] / np.maximum(n_ev, 1) for j, name in enumerate(names)}
    reached = counts > 0
    furthest = np.where(reached.any(axis=1), n_st - 1 - np.argmax(reached[:, ::-1], axis=1), -1)
    out["furthest_stage"] = furthest.astype(np.int64)
    return out, pd.Categorical.from_codes(furthest, categories=names, ordered=True)


def _channel_features(g: _Groups, ev: pd.DataFrame, channels: list[str] | None) -> dict[str, np.ndarray]:
    """Channel mix over sessions: the channel of each session's first event with a known channel."""
    if channels is None:
        return {}
    ch_cat = ev["channel"].astype("category")
    lut = pd.Index(channels).get_indexer(ch_cat.cat.categories.astype(str))  # own codes → `channels`
    ch_code = np.r_[lut, -1][ch_cat.cat.codes.to_numpy()]  # the last slot answers code -1 (missing channel)
    known = ch_code >= 0
    rows = g.sess_first if known.all() else np.flatnonzero(known)[_first_rows(g.sess[known], g.n_codes)]
    n, k = g.n, len(channels)
    cc = np.bincount(g.cust[rows].astype(np.int64) * k + ch_code[rows], minlength=n * k).reshape(n, k)
    denom = np.maximum(cc.sum(axis=1), 1)
    out: dict[str, np.ndarray] = {}
    for j, c in enumerate(channels):
        col = f"channel_share_{feature_name(c)}"
        while col in out:
            col += "_"
        out[col] = cc[:, j] / denom
    return out


def _attributes(customers: pd.DataFrame, frame: pd.DataFrame, exclude: Sequence[str] | None) -> pd.DataFrame:
    """The customer table's columns aligned to ``frame``'s customers (``_attr`` on a name clash)."""
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
        return attrs
    return attrs.reindex(frame.index)


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
