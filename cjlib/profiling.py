"""The data profile: what a log holds and which analyses it supports, computed once at load.

Every automatic choice in cjlib reads it — which columns may be segments or features, whether the
checkout funnel counts sessions or customers, default windows, which report sections run — so no
default assumes the shape of the synthetic sample. ``cjlib.profile(data)`` (or ``data.profile``) returns a frozen
:class:`DataProfile`; ``profile.why_not(role)`` is the one sentence a report prints where a section
cannot be shown.

Roles
    ``revenue`` (a revenue column with a positive total), ``channel`` (a channel column with 2+ values),
    ``sessions`` (a ``session_id`` column, or gaps that look like web visits: most consecutive events of
    a customer within 30 minutes), ``conversions`` (a conversion event of the stage map occurs),
    ``carts`` (the stage map declares cart events, they occur, and so do conversions), ``checkout`` (the
    stage map declares a checkout journey), ``customers``, ``feedback``, ``feedback_stages`` (feedback
    ``stage`` values that match the stage map), ``costs`` (channel costs and a channel column),
    ``variant`` (a ``variant`` column with 2+ values), ``repeat`` (customers with a second conversion).

Column kinds
    *id-like*: identifiers and codes that must never be clustered as numbers or compared as segments —
    near-unique values (order ids), or integer codes (zip-code prefixes) by name or by shape.
    *outcome-like*: values that change along a customer's journey in step with the events (an
    ``order_status`` that reads ``delivered`` once the order is delivered), values that name the
    journey's events or stages, values that the conversion determines, or a column named as an outcome
    (``status``, ``outcome``, ``result``, ``churn``, ``converted``, ``label``, ``target``) — a segment
    taken from them restates the outcome. A user may still name one explicitly; reports then warn.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from cjlib.validation import check_choice

__all__ = ["DataProfile", "profile", "ROLES", "CONTRACT_COLUMNS"]

ROLES = ("revenue", "channel", "sessions", "conversions", "carts", "checkout", "customers", "feedback",
         "feedback_stages", "costs", "variant", "repeat")
# columns with a meaning in the data contract: never segments, features or id/outcome candidates
CONTRACT_COLUMNS = frozenset({"customer_id", "timestamp", "event", "channel", "revenue", "session_id", "cost"})
SESSION_GAP = pd.Timedelta("30min")
MAX_SEGMENT_LEVELS = 12

_ID_NAME = re.compile(r"(^|_)(id|ids|uuid|guid|key|code|zip|zipcode|postal|postcode|prefix|number|num|no|"
                      r"phone|sku|ean|isbn|ip)($|_)", re.I)
_OUTCOME_NAME = re.compile(r"(^|_)(status|outcome|result|churn|churned|converted|conversion|label|target)($|_)",
                           re.I)
_MONEY_NAME = re.compile(r"(revenue|price|amount|value|spend|cost|income|salary|total)", re.I)

_WHY = {
    "revenue": "the events carry no revenue (no `revenue` column, or it is zero throughout)",
    "channel": "the events have no `channel` column with two or more channels",
    "sessions": "the log has no `session_id` and its events are not minutes apart like web visits",
    "conversions": "no conversion event of the stage map ({conv}) occurs in the data",
    "carts": "the stage map declares no cart event (`cart_events`), or none occurs together with a conversion",
    "checkout": "the stage map declares no checkout journey (`checkout_journey`)",
    "customers": "no customer table was given (customers_path is empty)",
    "feedback": "no satisfaction feedback was given (feedback_path is empty)",
    "feedback_stages": "no feedback `stage` value matches a stage of the stage map",
    "costs": "no channel costs were given, or the events have no channel to match them",
    "variant": "there is no `variant` column with two or more groups",
    "repeat": "no customer converts a second time",
}


@dataclass(frozen=True)
class DataProfile:
    """What one event log holds (see the module docstring for roles and column kinds).

    Attributes
    ----------
    customers, events : int
    first_event, last_event : Timestamp
    span_days : float
        Days from the first to the last event.
    events_per_customer : float
        Median events per customer.
    median_gap : Timedelta or None
        Median time between a customer's consecutive events (``None``: nobody has two events).
    share_gaps_within_session : float
        Share of those gaps of at most 30 minutes (NaN when there are none).
    event_counts : mapping
        Events per event name, most frequent first.
    unknown_events : tuple of str
        Event names the stage map does not know.
    stages_seen : tuple of str
        Stages of the stage map that at least one customer reaches (``nth`` occurrences of its events).
    converters : int
        Customers with at least one conversion event.
    conversion_gap : Timedelta or None
        95th percentile, over converters, of the time from a customer's first event to their first
        conversion (``None`` without converters).
    conversion_gap_median : Timedelta or None
        The median of the same times.
    activity_gap_days : float
        80th percentile of the days between a customer's consecutive active days (NaN when nobody comes
        back on a second day): :func:`cjlib.churn.activity_gap_days` with any event as activity. The churn
        report fits its window from it (:func:`cjlib.churn.plan_window`).
    roles : mapping of str to bool
    id_like, outcome_like : tuple of str
        Event or customer columns of each kind.
    segment_candidates : tuple of str
        Columns usable as segments by default: text columns with 2–12 values that are neither id-like
        nor outcome-like (customer columns, ``persona`` first, then event columns), then
        ``acquisition_channel`` when there is a channel.
    """

    customers: int
    events: int
    first_event: pd.Timestamp
    last_event: pd.Timestamp
    span_days: float
    events_per_customer: float
    median_gap: pd.Timedelta | None
    share_gaps_within_session: float
    event_counts: Mapping[str, int]
    unknown_events: tuple[str, ...]
    stages_seen: tuple[str, ...]
    converters: int
    conversion_gap: pd.Timedelta | None
    conversion_gap_median: pd.Timedelta | None
    activity_gap_days: float
    roles: Mapping[str, bool]
    id_like: tuple[str, ...] = ()
    outcome_like: tuple[str, ...] = ()
    segment_candidates: tuple[str, ...] = ()
    conversion_events: tuple[str, ...] = field(default=(), repr=False)

    def supports(self, role: str) -> bool:
        """Whether the data supports ``role`` (one of :data:`ROLES`)."""
        return bool(self.roles[check_choice("role", role, ROLES)])

    def why_not(self, role: str) -> str:
        """One sentence on why ``role`` is not supported ('' when it is)."""
        if self.supports(role):
            return ""
        text = _WHY[role].format(conv=", ".join(self.conversion_events) or "none declared")
        return text[0].upper() + text[1:] + "."

    @property
    def purchases_only(self) -> bool:
        """Whether every event in the log is a conversion event (a transaction history)."""
        return bool(self.event_counts) and set(self.event_counts) <= set(self.conversion_events)

    @property
    def checkout_unit(self) -> str:
        """The unit a checkout funnel counts: ``"session"`` when the log has web visits, else ``"customer"``."""
        return "session" if self.roles["sessions"] else "customer"

    def default_window(self) -> str:
        """A funnel conversion window that fits the data: 30 days, the common default of funnel tools,
        unless the typical customer takes longer than that to convert (median first event → first
        conversion over 30 days, as in B2B cycles); then the 95th percentile of that time, in whole days."""
        if self.conversion_gap_median is None or self.conversion_gap_median <= pd.Timedelta(days=30):
            return "30D"
        return f"{math.ceil(self.conversion_gap / pd.Timedelta(days=1))}D"

    def lines(self) -> list[str]:
        """What the data supports and does not, one short line each (for the index and findings)."""
        yes = [r for r in ROLES if self.roles[r]]
        no = [r for r in ROLES if not self.roles[r]]
        out = [f"{self.events:,} events from {self.customers:,} customers over {self.span_days:,.0f} days"]
        out.append("has: " + (", ".join(yes) if yes else "none of the optional roles"))
        if no:
            out.append("lacks: " + ", ".join(no))
        return out


# ---------------------------------------------------------------------------------------------- helpers
def _is_text(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(s.dtype) or s.dtype == object


def _is_integer_valued(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        return False
    v = s.dropna().to_numpy(dtype=float)
    return len(v) > 0 and bool(np.all(np.isfinite(v)) and np.all(v == np.round(v)))


def _id_like(s: pd.Series, n_entities: int) -> bool:
    """Identifiers and codes: near-unique text, or integer codes by name or by shape."""
    name = str(s.name)
    nunique = int(s.nunique(dropna=True))
    if nunique < 2:
        return False
    if _is_text(s):
        return nunique > 50 and nunique >= 0.5 * max(1, min(n_entities, s.notna().sum()))
    if not _is_integer_valued(s):
        return False
    if _ID_NAME.search(name):
        return True
    v = s.dropna().to_numpy(dtype=float)
    codes = (np.mean(v >= 1000) >= 0.9) and nunique >= 20 and nunique >= 0.1 * len(v)
    return bool(codes and not _MONEY_NAME.search(name))


def _reached(names: pd.Series, codes: np.ndarray, n_cust: int, stage) -> bool:
    """Whether some customer has at least ``stage.nth`` of the stage's events."""
    hit = names.isin(stage.events).to_numpy()
    if stage.nth == 1:
        return bool(hit.any())
    return bool(hit.any() and np.bincount(codes[hit], minlength=n_cust).max() >= stage.nth)


def _first_of(values: pd.Series, starts: np.ndarray) -> pd.Series:
    return values.iloc[starts].reset_index(drop=True)


def _text_codes(s: pd.Series) -> np.ndarray:
    """Non-negative codes, equal where ``s.astype(str)`` is equal (a categorical through its few categories;
    a missing value gets a code of its own, the loaded ``event`` has none)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        names = np.r_[pd.Index(s.cat.categories).astype(str).to_numpy(dtype=object), np.array(["nan"], dtype=object)]
        return pd.factorize(names)[0][s.cat.codes.to_numpy()]  # code -1 (missing) takes the last: "nan"
    return pd.factorize(s.astype(str), use_na_sentinel=False)[0]


def _changes_within_customer(s: pd.Series, codes: np.ndarray, starts: np.ndarray) -> float:
    """Share of customers with 2+ non-null values whose value changes along their events."""
    ok = s.notna().to_numpy()
    cust = codes[ok]
    if len(cust) < 2:
        return 0.0
    f, _ = pd.factorize(s[ok])  # the same equality as factorizing the values as objects
    same_c = cust[1:] == cust[:-1]
    changed = same_c & (f[1:] != f[:-1])
    multi = np.unique(cust[1:][same_c])
    if len(multi) == 0:
        return 0.0
    return float(len(np.unique(cust[1:][changed])) / len(multi))


def _mirrors_event(s: pd.Series, event: pd.Series) -> float:
    """Share of rows whose value is the commonest value for that row's event (1.0: the column restates
    the event)."""
    ok = s.notna().to_numpy()
    n = int(ok.sum())
    if n == 0:
        return 0.0
    e = _text_codes(event)[ok]
    v = _text_codes(s)[ok]
    ne, nv = int(e.max()) + 1, int(v.max()) + 1
    key = e.astype(np.int64) * nv + v
    if ne * nv <= 4 * n + 1024:
        top = np.bincount(key, minlength=ne * nv).reshape(ne, nv).max(axis=1).sum()
    else:
        keys, counts = np.unique(key, return_counts=True)
        grp = keys // nv
        top = np.maximum.reduceat(counts, np.flatnonzero(np.r_[True, grp[1:] != grp[:-1]])).sum()
    return float(top / n)


def _echoes_journey(s: pd.Series, vocabulary: set[str]) -> bool:
    """Whether most rows hold a value that names an event or a stage (``delivered`` beside an
    ``order_delivered`` event): the column narrates the journey rather than describing the customer."""
    counts = s.dropna().astype(str).value_counts()
    if counts.empty:
        return False
    levels = counts.groupby(counts.index.str.lower().str.strip()).sum()
    words = [w.lower() for w in vocabulary]
    echo = [v for v in levels.index if len(v) >= 3 and any(v == w or v in w.replace("-", "_").split("_")
                                                              or (len(v) >= 5 and v in w) for w in words)]
    return bool(levels[echo].sum() >= 0.5 * counts.sum()) if echo else False


def _determined_by_conversion(labels: pd.Series, converted: pd.Series, min_level: int = 20) -> bool:
    """Whether conversion is (almost) a function of the label: levels with a 0 % or 100 % rate hold at
    least 90 % of the labelled customers, while the overall rate is neither 0 nor 1."""
    d = pd.DataFrame({"l": labels.to_numpy(), "c": converted.to_numpy()}).dropna()
    if d.empty or d["l"].nunique() < 2:
        return False
    rate = d["c"].mean()
    if not 0.02 < rate < 0.98:
        return False
    g = d.groupby("l")["c"].agg(["mean", "size"])
    g = g[g["size"] >= min_level]
    pure = g[(g["mean"] == 0) | (g["mean"] == 1)]["size"].sum()
    # both outcomes must be pure somewhere, or one level carrying everyone is no signal
    return bool(len(g) >= 2 and pure >= 0.9 * len(d) and (g["mean"] == 0).any() and (g["mean"] == 1).any())


def _conversion_waits(ts, starts, codes, conv, n_cust) -> tuple[pd.Timedelta | None, pd.Timedelta | None]:
    """95th percentile and median wait from a customer's first event to their first conversion (None: none)."""
    if not conv.any():
        return None, None
    t_first = ts[starts]
    first_conv_row = np.full(n_cust, -1, np.int64)
    rows = np.flatnonzero(conv)
    first_conv_row[codes[rows][::-1]] = rows[::-1]
    has = first_conv_row >= 0
    waits = (ts[first_conv_row[has]] - t_first[has]).astype(np.int64)
    return pd.Timedelta(int(np.quantile(waits, 0.95))), pd.Timedelta(int(np.median(waits)))


def _activity_gap_days(ts, codes) -> float:
    """80th percentile of the days between a customer's consecutive active days (NaN: no repeat day)."""
    n = len(ts)
    day = ts.astype("datetime64[D]").astype(np.int64)
    new_day = np.r_[True, (codes[1:] != codes[:-1]) | (day[1:] != day[:-1])] if n else np.zeros(0, bool)
    d_codes, d_days = codes[new_day], day[new_day]
    d_same = d_codes[1:] == d_codes[:-1]
    day_gaps = (d_days[1:] - d_days[:-1])[d_same]
    return float(np.quantile(day_gaps, 0.8)) if len(day_gaps) else float("nan")


def _roles(data, ev, event_counts, within, converters, conv_per_cust, has_channel) -> dict[str, bool]:
    """Which of :data:`ROLES` the inputs support."""
    sm, customers, feedback, costs = data.stage_map, data.customers, data.feedback, data.costs
    revenue = "revenue" in ev.columns and float(pd.to_numeric(ev["revenue"], errors="coerce").fillna(0).sum()) > 0
    fb_stages = False
    if feedback is not None and "stage" in feedback.columns:
        fb_stages = bool(feedback["stage"].astype(str).isin(sm.stage_names).any())
    variant_cols = [s for s in (ev.get("variant"), None if customers is None else customers.get("variant"))
                    if s is not None]
    return {
        "revenue": revenue,
        "channel": has_channel,
        "sessions": "session_id" in ev.columns or (within == within and within >= 0.5),
        "conversions": converters > 0,
        "carts": bool(sm.cart_events) and bool(set(sm.cart_events) & set(event_counts)) and converters > 0,
        "checkout": sm.checkout_journey is not None,
        "customers": customers is not None,
        "feedback": feedback is not None and len(feedback) > 0,
        "feedback_stages": fb_stages,
        "costs": costs is not None and has_channel,
        "variant": any(s.nunique(dropna=True) >= 2 for s in variant_cols),
        "repeat": bool((conv_per_cust >= 2).any()),
    }


def _column_kinds(ev, customers, starts, codes, conv_per_cust, vocabulary, has_channel) -> tuple[list, list, list]:
    """(id-like, outcome-like, segment candidates) among the event columns (value at each customer's first
    event) and the customer columns."""
    n_cust = len(starts)
    converted = pd.Series(conv_per_cust > 0)
    id_like, outcome_like, candidates_ev, candidates_cu = [], [], [], []
    for c in ev.columns:
        if c in CONTRACT_COLUMNS:
            continue
        s = ev[c]
        if _id_like(s, n_cust):
            id_like.append(c)
            continue
        if not _is_text(s):
            continue
        changes = _changes_within_customer(s, codes, starts)
        mirrors = _mirrors_event(s, ev["event"])
        at_entry = _first_of(s, starts)
        if _OUTCOME_NAME.search(str(c)) or changes >= 0.5 or (mirrors >= 0.95 and changes > 0.2) \
                or _echoes_journey(s, vocabulary) or _determined_by_conversion(at_entry, converted):
            outcome_like.append(c)
        elif 2 <= s.nunique(dropna=True) <= MAX_SEGMENT_LEVELS:
            candidates_ev.append(c)
    if customers is not None:
        ids = pd.Index(ev["customer_id"].iloc[starts].to_numpy())
        conv_by_id = pd.Series(conv_per_cust > 0, index=ids)
        cu = customers.drop_duplicates("customer_id").set_index("customer_id")
        for c in cu.columns:
            if c in CONTRACT_COLUMNS:
                continue
            s = cu[c]
            if _id_like(s.rename(c), len(cu)):
                id_like.append(c)
                continue
            if not _is_text(s):
                continue
            lab = s.reindex(ids)
            if _OUTCOME_NAME.search(str(c)) or _echoes_journey(s, vocabulary) \
                    or _determined_by_conversion(lab, conv_by_id):
                outcome_like.append(c)
            elif 2 <= s.nunique(dropna=True) <= MAX_SEGMENT_LEVELS:
                candidates_cu.append(c)
    candidates_cu.sort(key=lambda c: c != "persona")
    segment_candidates = [c for c in candidates_cu + candidates_ev if c != "variant"]
    if has_channel:
        segment_candidates.append("acquisition_channel")
    return id_like, outcome_like, segment_candidates


# ---------------------------------------------------------------------------------------------- profile
def profile(data) -> DataProfile:
    """Profile loaded inputs (a :class:`cjlib.Inputs`, e.g. from :func:`cjlib.load_inputs`).

    Parameters
    ----------
    data : Inputs
        ``events`` ordered by (customer, timestamp) as the loader returns them, or a
        :class:`cjlib.engine.Partitioned` log (a Dask run: the same profile from the workers' aggregates),
        optional ``customers``, ``feedback``, ``costs``, and the ``stage_map``.

    Returns
    -------
    DataProfile

    Examples
    --------
    >>> import cjlib
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "event": ["page_view", "purchase", "page_view"],
    ...                    "timestamp": pd.to_datetime(["2025-01-01 10:00", "2025-01-01 10:05", "2025-01-02 09:00"])})
    >>> p = cjlib.profile(cjlib.Inputs(ev, None, None, None, cjlib.load_stage_map()))
    >>> p.customers, p.converters, p.supports("revenue"), p.checkout_unit
    (2, 1, False, 'session')
    """
    from cjlib.engine.core import Partitioned
    from cjlib.io import ensure_sorted
    from cjlib.journeys import customer_groups

    if isinstance(data.events, Partitioned):  # a Dask run: from the workers' aggregates, equal to in process
        return _profile_partitioned(data)
    ev = ensure_sorted(data.events)
    sm = data.stage_map
    n = len(ev)
    starts, codes = customer_groups(ev)
    n_cust = len(starts)
    ts = ev["timestamp"].to_numpy().astype("datetime64[ns]")
    first, last = pd.Timestamp(ts.min()), pd.Timestamp(ts.max())
    same = codes[1:] == codes[:-1] if n > 1 else np.zeros(0, bool)
    gaps = (ts[1:] - ts[:-1])[same].astype(np.int64) if n > 1 else np.zeros(0, np.int64)
    median_gap = pd.Timedelta(int(np.median(gaps))) if len(gaps) else None
    within = float(np.mean(gaps <= SESSION_GAP.value)) if len(gaps) else float("nan")
    per_cust = np.diff(np.r_[starts, n])

    names = ev["event"].astype(str)
    counts = names.value_counts(sort=True)
    event_counts = MappingProxyType({str(k): int(v) for k, v in counts.items()})
    known = sm.known_events
    unknown = tuple(sorted(e for e in event_counts if e not in known))
    stages_seen = tuple(s.name for s in sm.stages if _reached(names, codes, n_cust, s))

    conv = names.isin(sm.conversion_events).to_numpy()
    conv_per_cust = np.bincount(codes[conv], minlength=n_cust) if n_cust else np.zeros(0, np.int64)
    converters = int((conv_per_cust > 0).sum())
    conversion_gap, conversion_gap_median = _conversion_waits(ts, starts, codes, conv, n_cust)
    has_channel = "channel" in ev.columns and ev["channel"].nunique(dropna=True) >= 2
    roles = _roles(data, ev, event_counts, within, converters, conv_per_cust, has_channel)
    vocabulary = set(event_counts) | set(sm.stage_names)
    id_like, outcome_like, segment_candidates = _column_kinds(ev, data.customers, starts, codes, conv_per_cust,
                                                              vocabulary, has_channel)

    return DataProfile(
        customers=n_cust, events=n, first_event=first, last_event=last,
        span_days=(last - first) / pd.Timedelta(days=1),
        events_per_customer=float(np.median(per_cust)) if n_cust else 0.0,
        median_gap=median_gap, share_gaps_within_session=within,
        event_counts=event_counts, unknown_events=unknown, stages_seen=stages_seen,
        converters=converters, conversion_gap=conversion_gap,
        conversion_gap_median=conversion_gap_median, activity_gap_days=_activity_gap_days(ts, codes),
        roles=MappingProxyType(roles), id_like=tuple(dict.fromkeys(id_like)),
        outcome_like=tuple(dict.fromkeys(outcome_like)),
        segment_candidates=tuple(dict.fromkeys(segment_candidates)),
        conversion_events=tuple(sm.conversion_events),
    )


# ================================================================================ on a Partitioned log
# A Dask run (cjlib.engine.Partitioned: complete customers per partition, in the loader's order): every
# quantity above is computed from per-partition aggregates and per-customer arrays the workers return, so
# the profile equals the in-process one without the events ever reaching this process.
_VC_CAP = 20_000  # a partition sends a column's value counts up to this many distinct values
_RANK_LIMIT = 1_000_000  # values fetched at once when selecting an exact order statistic


def _gaps(ev: pd.DataFrame) -> np.ndarray:
    """Times between a customer's consecutive events (ns), in an ordered partition."""
    from cjlib.journeys import customer_groups

    if len(ev) < 2:
        return np.zeros(0, np.int64)
    _, codes = customer_groups(ev)
    ts = ev["timestamp"].to_numpy().astype("datetime64[ns]")
    return (ts[1:] - ts[:-1])[codes[1:] == codes[:-1]].astype(np.int64)


def _histogram(part: pd.DataFrame, intervals: list, bins: int) -> list:
    v = _gaps(part)
    out = []
    for a, b, width in intervals:
        x = v[(v >= a) & (v <= b)]
        out.append(np.bincount((x - a) // width, minlength=bins)[:bins] if len(x) else np.zeros(bins, np.int64))
    return out


def _values_in(part: pd.DataFrame, intervals: list) -> list:
    v = _gaps(part)
    return [np.sort(v[(v >= a) & (v <= b)]) for a, b in intervals]


def _order_stats(events, ranks: list[int], lo: int, hi: int, bins: int = 4096) -> dict[int, int]:
    """The values at 0-based ``ranks`` of every partition's gaps sorted together (exact): histograms narrow
    each rank's interval until it holds few enough values to fetch."""
    import functools

    from cjlib.engine.core import _log_wide

    state = {k: (lo, hi, 0) for k in ranks}  # interval [a, b] holding rank k; values below a
    while True:
        wide = sorted({(a, b) for a, b, _ in state.values() if b > a})
        counts = {}
        if wide:
            specs = [(a, b, -(-(b - a + 1) // bins)) for a, b in wide]
            hists = _log_wide(events, functools.partial(_histogram, intervals=specs, bins=bins))
            counts = {(a, b): (w, sum(h[i] for h in hists)) for i, (a, b, w) in enumerate(specs)}
        done = True
        for k, (a, b, below) in state.items():
            if (a, b) not in counts:
                continue
            width, hist = counts[(a, b)]
            if hist.sum() <= _RANK_LIMIT:
                continue
            cum = below + np.cumsum(hist)
            j = int(np.searchsorted(cum, k, side="right"))
            state[k] = (a + j * width, min(b, a + (j + 1) * width - 1), int(cum[j - 1]) if j else below)
            done = False
        if done:
            break
    wanted = sorted({(a, b) for a, b, _ in state.values()})
    vals = _log_wide(events, functools.partial(_values_in, intervals=wanted))
    merged = {iv: np.sort(np.concatenate([v[i] for v in vals])) for i, iv in enumerate(wanted)}
    return {k: int(merged[(a, b)][k - below]) for k, (a, b, below) in state.items()}


def _quantile_of_counts(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """``np.quantile`` (linear) of the values repeated by their counts, without building that array."""
    order = np.argsort(values, kind="stable")
    values, cum = values[order], np.cumsum(counts[order])
    n = int(cum[-1])
    virtual = (n - 1) * np.float64(q)  # numpy's "linear" method
    prev = np.floor(virtual)
    i, j = int(np.clip(prev, 0, n - 1)), int(np.clip(prev + 1, 0, n - 1))
    a, b = values[np.searchsorted(cum, i, side="right")], values[np.searchsorted(cum, j, side="right")]
    t = virtual - prev
    diff = b - a
    return float(b - diff * (1 - t)) if t >= 0.5 else float(a + diff * t)


def _column_part(s: pd.Series, ev: pd.DataFrame, codes, starts, full: bool) -> dict:
    """One column's aggregates over an ordered partition (see :func:`_column_kinds`)."""
    ok = s.notna().to_numpy()
    out = {"notna": int(ok.sum()), "text": _is_text(s), "vc": None, "ev": None, "hashes": None}
    vc = s.value_counts(dropna=True, sort=False)
    vc = vc[vc > 0]
    if full or len(vc) <= _VC_CAP:
        out["vc"] = vc
        if out["text"]:
            d = pd.DataFrame({"e": ev["event"].astype(str).to_numpy()[ok], "v": s.astype(str).to_numpy()[ok]})
            out["ev"] = d.groupby(["e", "v"], sort=False).size()
    else:
        out["hashes"] = np.unique(pd.util.hash_array(np.asarray(vc.index)))
    if not out["text"] and pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        v = s.dropna().to_numpy(dtype=float)
        out["integer"] = bool(np.all(np.isfinite(v)) and np.all(v == np.round(v)))
        out["big"], out["n"] = int((v >= 1000).sum()), len(v)
    if out["text"]:
        vals, cust = s.to_numpy()[ok], codes[ok]
        f, _ = pd.factorize(vals) if len(vals) else (np.zeros(0, np.int64), None)
        same = cust[1:] == cust[:-1]
        out["multi"] = len(np.unique(cust[1:][same]))
        out["changed"] = len(np.unique(cust[1:][same & (f[1:] != f[:-1])]))
        out["entry"] = s.iloc[starts].to_numpy()
    return out


def _profile_part(part: pd.DataFrame, conversions: tuple, stages: tuple, columns: tuple) -> dict:
    """Everything :func:`profile` needs from one ordered partition of complete customers (``stages``: each
    stage's (events, nth), as plain tuples a worker unpickles)."""
    from types import SimpleNamespace

    from cjlib.engine.core import _ROW
    from cjlib.journeys import customer_groups

    rows = part[_ROW].to_numpy()
    ev = part.drop(columns=[_ROW])
    n = len(ev)
    starts, codes = customer_groups(ev)
    n_cust = len(starts)
    ts = ev["timestamp"].to_numpy().astype("datetime64[ns]")
    gaps = _gaps(ev)
    names = ev["event"].astype(str)
    conv = names.isin(list(conversions)).to_numpy()
    conv_per_cust = np.bincount(codes[conv], minlength=n_cust) if n_cust else np.zeros(0, np.int64)
    waits = np.zeros(0, np.int64)
    if conv.any():
        first_conv_row = np.full(n_cust, -1, np.int64)
        at = np.flatnonzero(conv)
        first_conv_row[codes[at][::-1]] = at[::-1]
        has = first_conv_row >= 0
        waits = (ts[first_conv_row[has]] - ts[starts][has]).astype(np.int64)
    day = ts.astype("datetime64[D]").astype(np.int64)
    new_day = np.r_[True, (codes[1:] != codes[:-1]) | (day[1:] != day[:-1])] if n else np.zeros(0, bool)
    d_codes, d_days = codes[new_day], day[new_day]
    day_gaps = (d_days[1:] - d_days[:-1])[d_codes[1:] == d_codes[:-1]]
    by_name = pd.DataFrame({"e": names.to_numpy(), "r": rows}).groupby("e", sort=False)["r"].agg(["size", "min"])
    out = {
        "n": n, "ts": (ts.min(), ts.max()) if n else None, "gaps": len(gaps),
        "within": int((gaps <= SESSION_GAP.value).sum()), "gap_range": (gaps.min(), gaps.max()) if len(gaps) else None,
        "per_cust": np.diff(np.r_[starts, n]), "names": by_name,
        "stages": [_reached(names, codes, n_cust, SimpleNamespace(events=list(e), nth=k)) for e, k in stages],
        "conv_per_cust": conv_per_cust, "waits": waits,
        "day_gaps": pd.Series(day_gaps).value_counts(sort=False),
        "ids": ev["customer_id"].to_numpy()[starts],
        "channels": set(map(str, ev["channel"].dropna().unique())) if "channel" in ev.columns else set(),
        "revenue": float(pd.to_numeric(ev["revenue"], errors="coerce").fillna(0).sum()) if "revenue" in ev.columns
        else 0.0,
        "variant": list(pd.unique(ev["variant"].dropna())) if "variant" in ev.columns else [],
        "columns": {c: _column_part(ev[c], ev, codes, starts, False) for c in columns},
    }
    return out


def _full_column(part: pd.DataFrame, column: str) -> dict:
    from cjlib.engine.core import _ROW
    from cjlib.journeys import customer_groups

    ev = part.drop(columns=[_ROW])
    starts, codes = customer_groups(ev)
    return _column_part(ev[column], ev, codes, starts, True)


def _merged_columns(events, parts: list, n_cust: int, conv_per_cust, vocabulary) -> tuple[list, list, list]:
    """(id-like, outcome-like, segment candidates) among the event columns, as :func:`_column_kinds` finds
    them, from the partitions' column aggregates."""
    import functools

    from cjlib.engine.core import _log_wide

    converted = pd.Series(conv_per_cust > 0)
    id_like, outcome_like, candidates = [], [], []
    for c in parts[0]["columns"] if parts else []:
        cols = [p["columns"][c] for p in parts]
        if any(x["vc"] is None for x in cols):
            nunique = len(np.unique(np.concatenate([x["hashes"] if x["vc"] is None else
                                                    pd.util.hash_array(np.asarray(x["vc"].index)) for x in cols])))
        else:
            vc = pd.concat([x["vc"] for x in cols]).groupby(level=0, sort=False).sum()
            nunique = len(vc)
        notna = sum(x["notna"] for x in cols)
        text = cols[0]["text"]
        if nunique >= 2:
            if text:
                is_id = nunique > 50 and nunique >= 0.5 * max(1, min(n_cust, notna))
            elif "integer" in cols[0] and all(x["integer"] for x in cols) and sum(x["n"] for x in cols):
                n = sum(x["n"] for x in cols)
                codes = (sum(x["big"] for x in cols) / n >= 0.9) and nunique >= 20 and nunique >= 0.1 * n
                is_id = bool(_ID_NAME.search(str(c))) or bool(codes and not _MONEY_NAME.search(str(c)))
            else:
                is_id = False
            if is_id:
                id_like.append(c)
                continue
        if not text:
            continue
        if any(x["vc"] is None for x in cols):  # many values, yet no id: their counts are needed after all
            cols = [dict(x, **f) for x, f in zip(cols, _log_wide(events, functools.partial(_full_column, column=c)))]
        vc = pd.concat([x["vc"] for x in cols]).groupby(level=0, sort=False).sum()
        multi = sum(x["multi"] for x in cols)
        changes = float(sum(x["changed"] for x in cols) / multi) if multi else 0.0
        pairs = pd.concat([x["ev"] for x in cols]).groupby(level=[0, 1], sort=False).sum()
        mirrors = float(pairs.groupby(level=0).max().sum() / notna) if notna else 0.0
        entry = pd.Series(np.concatenate([x["entry"] for x in cols]))
        if _OUTCOME_NAME.search(str(c)) or changes >= 0.5 or (mirrors >= 0.95 and changes > 0.2) \
                or _echoes_counts(vc, vocabulary) or _determined_by_conversion(entry, converted):
            outcome_like.append(c)
        elif 2 <= nunique <= MAX_SEGMENT_LEVELS:
            candidates.append(c)
    return id_like, outcome_like, candidates


def _echoes_counts(vc: pd.Series, vocabulary: set[str]) -> bool:
    """:func:`_echoes_journey` from a column's value counts."""
    if vc.sum() == 0:
        return False
    levels = vc.groupby(pd.Index(vc.index.astype(str)).str.lower().str.strip(), sort=False).sum()
    words = [w.lower() for w in vocabulary]
    echo = [v for v in levels.index if len(v) >= 3 and any(v == w or v in w.replace("-", "_").split("_")
                                                              or (len(v) >= 5 and v in w) for w in words)]
    return bool(levels[echo].sum() >= 0.5 * vc.sum()) if echo else False


def _profile_partitioned(data) -> DataProfile:
    """:func:`profile` of inputs whose events are a :class:`cjlib.engine.Partitioned` log."""
    import functools

    from cjlib.engine.core import _log_wide

    ev_cols = [c for c in data.events.columns if c not in CONTRACT_COLUMNS]
    sm = data.stage_map
    stages = tuple((tuple(s.events), int(s.nth)) for s in sm.stages)
    parts = _log_wide(data.events, functools.partial(_profile_part, conversions=tuple(sm.conversion_events),
                                                     stages=stages, columns=tuple(ev_cols)))
    n = sum(p["n"] for p in parts)
    per_cust = np.concatenate([p["per_cust"] for p in parts])
    n_cust = len(per_cust)
    stamps = [p["ts"] for p in parts if p["ts"] is not None]
    first, last = pd.Timestamp(min(a for a, _ in stamps)), pd.Timestamp(max(b for _, b in stamps))
    n_gaps, within_n = sum(p["gaps"] for p in parts), sum(p["within"] for p in parts)
    median_gap = None
    if n_gaps:
        ranges = [p["gap_range"] for p in parts if p["gap_range"] is not None]
        ks = sorted({(n_gaps - 1) // 2, n_gaps // 2})
        got = _order_stats(data.events, ks, int(min(a for a, _ in ranges)), int(max(b for _, b in ranges)))
        median_gap = pd.Timedelta(int(np.mean(np.array([got[k] for k in ks], dtype=np.int64))))
    within = float(within_n / n_gaps) if n_gaps else float("nan")
    by_name = pd.concat([p["names"] for p in parts]).groupby(level=0, sort=False).agg({"size": "sum", "min": "min"})
    counts = by_name.sort_values("min")["size"].rename("count").sort_values(ascending=False)
    event_counts = MappingProxyType({str(k): int(v) for k, v in counts.items()})
    unknown = tuple(sorted(e for e in event_counts if e not in sm.known_events))
    stages_seen = tuple(s.name for i, s in enumerate(sm.stages) if any(p["stages"][i] for p in parts))
    conv_per_cust = np.concatenate([p["conv_per_cust"] for p in parts])
    converters = int((conv_per_cust > 0).sum())
    waits = np.concatenate([p["waits"] for p in parts])
    conversion_gap = conversion_gap_median = None
    if len(waits):
        conversion_gap = pd.Timedelta(int(np.quantile(waits, 0.95)))
        conversion_gap_median = pd.Timedelta(int(np.median(waits)))
    day_gaps = pd.concat([p["day_gaps"] for p in parts]).groupby(level=0).sum()
    day_gaps = day_gaps[day_gaps > 0]
    activity = _quantile_of_counts(day_gaps.index.to_numpy(np.int64), day_gaps.to_numpy(), 0.8) \
        if len(day_gaps) else float("nan")
    channels = set().union(*(p["channels"] for p in parts))
    has_channel = "channel" in data.events.columns and len(channels) >= 2
    variant = list(dict.fromkeys(v for p in parts for v in p["variant"]))
    stand_in = pd.DataFrame({  # the columns _roles reads, with the same totals and distinct values
        **({"revenue": pd.Series([sum(p["revenue"] for p in parts)])} if "revenue" in data.events.columns else {}),
        **({"session_id": pd.Series(["s"])} if "session_id" in data.events.columns else {}),
        **({"variant": pd.Series(variant, dtype=object)} if "variant" in data.events.columns else {})})
    roles = _roles(data, stand_in, event_counts, within, converters, conv_per_cust, has_channel)
    vocabulary = set(event_counts) | set(sm.stage_names)
    id_ev, out_ev, cand_ev = _merged_columns(data.events, parts, n_cust, conv_per_cust, vocabulary)
    ids = pd.DataFrame({"customer_id": np.concatenate([p["ids"] for p in parts])})
    id_cu, out_cu, cand = _column_kinds(ids, data.customers, np.arange(n_cust), None, conv_per_cust, vocabulary,
                                        False)
    segment_candidates = cand + [c for c in cand_ev if c != "variant"] + (["acquisition_channel"] if has_channel else [])
    return DataProfile(
        customers=n_cust, events=n, first_event=first, last_event=last,
        span_days=(last - first) / pd.Timedelta(days=1),
        events_per_customer=float(np.median(per_cust)) if n_cust else 0.0,
        median_gap=median_gap, share_gaps_within_session=within,
        event_counts=event_counts, unknown_events=unknown, stages_seen=stages_seen,
        converters=converters, conversion_gap=conversion_gap,
        conversion_gap_median=conversion_gap_median, activity_gap_days=activity,
        roles=MappingProxyType(roles), id_like=tuple(dict.fromkeys(id_ev + id_cu)),
        outcome_like=tuple(dict.fromkeys(out_ev + out_cu)),
        segment_candidates=tuple(dict.fromkeys(segment_candidates)),
        conversion_events=tuple(sm.conversion_events),
    )
