"""The stage scorecard: per journey stage, who reached it, who moved on, how fast, what it earned, how it felt.

Everything here reads the stage map; no event name is hard-coded. The issue's stage-specific measures
(awareness: reach …; purchase: conversion rate, orders …) are attached to stages by their *role*, found
from the map by :func:`stage_roles`: the first stage is the awareness role, the stage holding the
conversion events (``nth == 1``) the purchase role, stages in between consideration, the stage holding
the conversion events with ``nth > 1`` retention, and the stages after those advocacy.

Functions
---------
stage_kpis           one row per stage: reached, conversion to next, median days to next, revenue,
                     satisfaction (CSAT, NPS, a 0–100 index, each with its interval), top touchpoint/channel
stage_touchpoints    the top events (touchpoints) or channels of each stage
stage_satisfaction   CSAT, NPS and the 0–100 satisfaction index per stage, with confidence intervals
stage_measures       the stage-specific measures, as a tidy long table
cohort_retention     the retention curve by monthly (or weekly) cohort
kpi_trends           KPIs by week or month
customer_segments    one segment label per customer and segment column (acquisition channel, device …)
segment_conversion   stage conversion per segment level, its gap to all customers and a p-value
pain_points          per stage, the segment level with the worst conversion out of it
journey_scores       a composite journey score per segment level (documented in its docstring)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from cjlib.io import ensure_sorted
from cjlib.journeys import assign_stages, session_keys, stage_reached
from cjlib.stagemap import StageMap, load_stage_map
from cjlib.stats import nps, two_proportion_test

__all__ = [
    "SCORE_COMPONENTS",
    "channel_costs",
    "cohort_retention",
    "customer_segments",
    "feedback_stages",
    "format_measures",
    "journey_scores",
    "kpi_trends",
    "nps",
    "pain_points",
    "satisfaction_index",
    "segment_conversion",
    "stage_kpis",
    "stage_measures",
    "stage_roles",
    "stage_satisfaction",
    "stage_touchpoints",
]

FREQS = ("M", "W")
_UNITS = {"reach_share": "share", "top_channel_share": "share", "sessions_with_stage": "share",
          "click_through": "share", "conversion_rate": "share", "repeat_purchase_rate": "share",
          "retention_m1": "share", "retention_m3": "share", "new_customers_per_month": "count",
          "engagement_per_session": "rate", "cost_per_click": "money", "cost_per_conversion": "money",
          "revenue": "money", "aov": "money", "nps": "points"}
# component → (column in journey_scores, True when higher is better)
SCORE_COMPONENTS = {
    "conversion": ("conversion", True),
    "speed": ("days_to_convert", False),
    "satisfaction": ("satisfaction", True),
    "value": ("revenue_per_customer", True),
}


# ------------------------------------------------------------------------------------------- helpers
def _check_choice(name: str, value, choices: Sequence) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def _progress(reached: pd.DataFrame):
    """Per stage i: has_i (reached), moved_i (reached i+1 at/after i) and days from i to i+1 (NaN if not)."""
    t = reached.to_numpy().astype("datetime64[ns]")
    has = ~np.isnat(t)
    n_st = t.shape[1]
    moved = np.zeros_like(has)
    days = np.full(has.shape, np.nan)
    for i in range(n_st - 1):
        m = has[:, i] & has[:, i + 1]
        m[m] = t[m, i + 1] >= t[m, i]
        moved[:, i] = m
        days[m, i] = (t[m, i + 1] - t[m, i]) / np.timedelta64(1, "D")
    return has, moved, days


def _period_key(ts: pd.Series, freq: str) -> np.ndarray:
    """Integer period of each timestamp: months since 1970-01 (``M``) or Monday-weeks since 1970-01-05 (``W``)."""
    a = ts.to_numpy().astype("datetime64[ns]")
    if freq == "M":
        return a.astype("datetime64[M]").astype(np.int64)
    return (a.astype("datetime64[D]").astype(np.int64) - 4) // 7


def _period_label(keys, freq: str) -> list[str]:
    keys = np.asarray(keys, dtype=np.int64)
    if freq == "M":
        return [str(k) for k in keys.astype("datetime64[M]")]
    return [str(k) for k in (keys * 7 + 4).astype("datetime64[D]")]


def _conversion_mask(events: pd.DataFrame, sm: StageMap) -> np.ndarray:
    return events["event"].astype(str).isin(list(sm.conversion_events)).to_numpy()


def _t_interval(mean, sd, n, confidence):
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)) * np.asarray(sd) / np.sqrt(n)
    half = np.where(n > 1, half, np.nan)
    return np.asarray(mean) - half, np.asarray(mean) + half


# ----------------------------------------------------------------------------------------- stage roles
def stage_roles(stage_map: StageMap | None = None) -> dict[str, str]:
    """The role of each stage: ``awareness``, ``consideration``, ``purchase``, ``retention`` or ``advocacy``.

    Found from the map, not from stage names: the stage listing a conversion event with ``nth == 1`` is
    *purchase*, one listing a conversion event with ``nth > 1`` is *retention*, the first stage is
    *awareness* (unless it is the purchase stage), stages before purchase are *consideration* and stages
    after purchase and retention are *advocacy*.

    Examples
    --------
    >>> stage_roles()
    {'awareness': 'awareness', 'consideration': 'consideration', 'purchase': 'purchase', 'retention': 'retention', 'advocacy': 'advocacy'}
    """
    sm = stage_map or load_stage_map()
    conv = set(sm.conversion_events)
    purchase = next((i for i, s in enumerate(sm.stages) if s.nth == 1 and conv & set(s.events)), None)
    retention = next((i for i, s in enumerate(sm.stages) if s.nth > 1 and conv & set(s.events)), None)
    last_money = max(i for i in (purchase, retention, -1) if i is not None)
    roles = {}
    for i, s in enumerate(sm.stages):
        if i == purchase:
            role = "purchase"
        elif i == retention:
            role = "retention"
        elif i == 0:
            role = "awareness"
        elif purchase is None or i < purchase:
            role = "consideration"
        elif i > last_money:
            role = "advocacy"
        else:
            role = "consideration"
        roles[s.name] = role
    return roles


# ---------------------------------------------------------------------------------------- satisfaction
def satisfaction_index(feedback: pd.DataFrame) -> pd.Series:
    """Every feedback score on one 0–100 scale: CSAT ``(score − 1) / 4 × 100``, NPS ``score / 10 × 100``.

    Rows without ``scale`` are CSAT (the loader's rule).
    """
    scale = feedback["scale"].astype(str).str.lower() if "scale" in feedback.columns else "csat"
    s = feedback["score"].astype(float)
    return pd.Series(np.where(scale == "nps", s / 10 * 100, (s - 1) / 4 * 100), index=feedback.index,
                     name="satisfaction_index")


def feedback_stages(feedback: pd.DataFrame, stage_map: StageMap | None = None,
                    events: pd.DataFrame | None = None) -> pd.Series:
    """The stage of each feedback row.

    From the ``stage`` column when present (names not in the map become NaN); else from ``touchpoint``
    (the event's stage in the map); else, when ``events`` are given, the stage of the customer's latest
    staged event at or before the feedback time; else NaN.
    """
    sm = stage_map or load_stage_map()
    names = sm.stage_names
    if "stage" in feedback.columns:
        st = feedback["stage"].astype("string")
    elif "touchpoint" in feedback.columns:
        st = feedback["touchpoint"].astype("string").map(sm.event_to_stage)
    elif events is not None and len(feedback):
        ev = ensure_sorted(events)
        stage = assign_stages(ev, sm)
        keep = stage.notna().to_numpy()
        right = pd.DataFrame({"_k": ev.loc[keep, "customer_id"].astype(str).to_numpy(),
                              "_t": ev.loc[keep, "timestamp"].to_numpy().astype("datetime64[ns]"),
                              "_s": stage[keep].astype(str).to_numpy()}).sort_values("_t", kind="stable")
        left = pd.DataFrame({"_k": feedback["customer_id"].astype(str).to_numpy(),
                             "_t": feedback["timestamp"].to_numpy().astype("datetime64[ns]"),
                             "_i": np.arange(len(feedback))}).sort_values("_t", kind="stable")
        m = pd.merge_asof(left, right, on="_t", by="_k", direction="backward").sort_values("_i")
        st = pd.Series(m["_s"].to_numpy(), index=feedback.index, dtype="string")
    else:
        st = pd.Series(pd.NA, index=feedback.index, dtype="string")
    st = st.where(st.isin(names))
    return pd.Series(pd.Categorical(st.astype(object).where(st.notna(), None), categories=names, ordered=True),
                     index=feedback.index, name="stage")


def stage_satisfaction(feedback: pd.DataFrame | None, stage_map: StageMap | None = None, *,
                       events: pd.DataFrame | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """CSAT, NPS and the 0–100 satisfaction index per stage, with ``confidence`` intervals.

    Returns
    -------
    DataFrame
        Index ``stage`` (every stage, in order). ``csat`` (mean 1–5), ``csat_lo``/``csat_hi`` (t interval),
        ``csat_n``; ``nps`` (points, see :func:`nps`), ``nps_lo``/``nps_hi``, ``nps_n``; ``index``
        (mean :func:`satisfaction_index` over every scale, 0–100), ``index_lo``/``index_hi`` (t interval),
        ``index_n``. NaN / 0 where a stage has no feedback (or ``feedback`` is None).
    """
    sm = stage_map or load_stage_map()
    cols = ["csat", "csat_lo", "csat_hi", "csat_n", "nps", "nps_lo", "nps_hi", "nps_n",
            "index", "index_lo", "index_hi", "index_n"]
    out = pd.DataFrame(np.nan, index=pd.Index(sm.stage_names, name="stage"), columns=cols)
    for c in ("csat_n", "nps_n", "index_n"):
        out[c] = 0
    if feedback is None or not len(feedback):
        return out
    st = feedback_stages(feedback, sm, events)
    scale = (feedback["scale"].astype(str).str.lower() if "scale" in feedback.columns
             else pd.Series("csat", index=feedback.index))
    df = pd.DataFrame({"stage": st, "scale": scale.to_numpy(), "score": feedback["score"].astype(float),
                       "index": satisfaction_index(feedback)}).dropna(subset=["stage"])
    for col, sub in (("csat", df[df["scale"] == "csat"].rename(columns={"score": "v"})),
                     ("index", df.rename(columns={"index": "v"}))):
        g = sub.groupby("stage", observed=True)["v"].agg(["mean", "std", "size"])
        lo, hi = _t_interval(g["mean"], g["std"], g["size"], confidence)
        out.loc[g.index.astype(str), [col, f"{col}_lo", f"{col}_hi"]] = np.c_[g["mean"], lo, hi]
        out.loc[g.index.astype(str), f"{col}_n"] = g["size"].to_numpy()
    n_sub = df[df["scale"] == "nps"]
    if len(n_sub):
        codes = n_sub["stage"].astype(str).to_numpy()
        prom = pd.Series(n_sub["score"].to_numpy() >= 9).groupby(codes).agg(["mean", "size"])
        det = pd.Series(n_sub["score"].to_numpy() <= 6).groupby(codes).mean()
        p, d, n = prom["mean"], det.reindex(prom.index), prom["size"]
        val = 100 * (p - d)
        se = 100 * np.sqrt(np.maximum(p + d - (p - d) ** 2, 0) / n)
        z = stats.norm.ppf(0.5 + confidence / 2)
        out.loc[prom.index, ["nps", "nps_lo", "nps_hi"]] = np.c_[val, val - z * se, val + z * se]
        out.loc[prom.index, "nps_n"] = n.to_numpy()
    return out


# ---------------------------------------------------------------------------------------- stage tables
def stage_touchpoints(events: pd.DataFrame, stage_map: StageMap | None = None, *, by: str = "event",
                      top: int | None = 3) -> pd.DataFrame:
    """The most frequent values of ``by`` (``"event"``: touchpoints; ``"channel"``: channel mix) per stage.

    Parameters
    ----------
    by : str, default "event"
        An event-log column.
    top : int or None, default 3
        Rows kept per stage (None keeps all).

    Returns
    -------
    DataFrame
        Columns ``stage`` (in journey order), ``value``, ``events`` (count), ``share`` (of the stage's
        events with a value), ``rank`` (1 = most frequent; ties broken by value name).
    """
    if by not in events.columns:
        raise ValueError(f"by must be a column of events ({', '.join(map(str, events.columns))}), got {by!r}")
    sm = stage_map or load_stage_map()
    ev = ensure_sorted(events)
    stage = assign_stages(ev, sm)
    df = pd.DataFrame({"stage": stage, "value": ev[by].astype("string")}).dropna()
    counts = df.groupby(["stage", "value"], observed=True).size().rename("events").reset_index()
    counts["value"] = counts["value"].astype(str)
    counts["share"] = counts["events"] / counts.groupby("stage", observed=True)["events"].transform("sum")
    counts = counts.sort_values(["stage", "events", "value"], ascending=[True, False, True], kind="stable")
    counts["rank"] = counts.groupby("stage", observed=True).cumcount() + 1
    if top is not None:
        counts = counts[counts["rank"] <= top]
    counts["stage"] = counts["stage"].astype(str)
    return counts.reset_index(drop=True)


def stage_kpis(
    events: pd.DataFrame,
    stage_map: StageMap | None = None,
    *,
    feedback: pd.DataFrame | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per stage, in journey order.

    Columns
    -------
    reached : customers with at least one event of the stage.
    reached_share : ``reached`` ÷ customers in the log.
    conversion_to_next : share of ``reached`` who reached the next stage at or after their first event
        of this stage (NaN for the last stage).
    median_days_to_next : median days from first reaching this stage to first reaching the next, over
        the customers counted in ``conversion_to_next``.
    events : events of the stage; revenue : revenue on the stage's events.
    satisfaction : mean CSAT (1–5) of feedback rows of this stage (see :func:`feedback_stages`);
        satisfaction_n : how many such rows; satisfaction_lo / satisfaction_hi : its t interval.
    nps, nps_lo, nps_hi, nps_n : NPS (points) of the stage's NPS answers (see :func:`nps`).
    satisfaction_index, satisfaction_index_lo/_hi/_n : mean of every answer on one 0–100 scale
        (:func:`satisfaction_index`), the emotion curve.
    top_touchpoint, top_touchpoint_share : the stage's most frequent event and its share of the stage's
        events; top_channel, top_channel_share : the same for ``channel`` (absent without that column).

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "timestamp": pd.to_datetime(
    ...     ["2025-01-01", "2025-01-03", "2025-01-02"]), "event": ["page_view", "product_view", "page_view"]})
    >>> stage_kpis(ev).loc["awareness", ["reached", "conversion_to_next", "median_days_to_next"]].tolist()
    [2.0, 0.5, 2.0]
    """
    sm = stage_map or load_stage_map()
    events = ensure_sorted(events)
    reached = stage_reached(events, sm)
    n_customers = len(reached)
    has, moved, days = _progress(reached)
    stage = assign_stages(events, sm)
    by_stage = events.assign(_stage=stage).groupby("_stage", observed=False)
    counts = by_stage.size()
    revenue = by_stage["revenue"].sum() if "revenue" in events.columns else pd.Series(0.0, index=counts.index)
    n_has = has.sum(axis=0)
    n_moved = moved.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        conv = np.where(n_has > 0, n_moved / np.maximum(n_has, 1), np.nan)
    med = np.array([np.median(days[moved[:, i], i]) if n_moved[i] else np.nan for i in range(has.shape[1])])
    conv[-1] = med[-1] = np.nan
    out = pd.DataFrame({
        "reached": n_has.astype(int),
        "reached_share": n_has / n_customers if n_customers else np.nan,
        "conversion_to_next": conv,
        "median_days_to_next": med,
        "events": counts.reindex(sm.stage_names, fill_value=0).to_numpy().astype(int),
        "revenue": revenue.reindex(sm.stage_names, fill_value=0.0).to_numpy().astype(float),
    }, index=pd.Index(sm.stage_names, name="stage"))
    sat = stage_satisfaction(feedback, sm, events=events, confidence=confidence)
    out["satisfaction"] = sat["csat"]
    out["satisfaction_n"] = sat["csat_n"].astype(int)
    out["satisfaction_lo"], out["satisfaction_hi"] = sat["csat_lo"], sat["csat_hi"]
    for c in ("nps", "nps_lo", "nps_hi"):
        out[c] = sat[c]
    out["nps_n"] = sat["nps_n"].astype(int)
    out["satisfaction_index"] = sat["index"]
    out["satisfaction_index_lo"], out["satisfaction_index_hi"] = sat["index_lo"], sat["index_hi"]
    out["satisfaction_index_n"] = sat["index_n"].astype(int)
    for by, name in (("event", "top_touchpoint"), ("channel", "top_channel")):
        if by not in events.columns:
            continue
        top = stage_touchpoints(events, sm, by=by, top=1).set_index("stage")
        out[name] = top["value"].reindex(out.index).astype(object)
        out[f"{name}_share"] = top["share"].reindex(out.index).astype(float)
    return out


# ------------------------------------------------------------------------------------ stage measures
def _ad_events(sm: StageMap, ad_events) -> list[str]:
    if ad_events is not None:
        return list(ad_events)
    first = sm.stages[0].events
    return [e for e in first if re.search(r"(^|_)ad(s)?(_|$)", e)]


def channel_costs(events: pd.DataFrame, costs: pd.DataFrame, stage_map: StageMap | None = None, *,
                  ad_events: Sequence[str] | None = None, gap: str = "30min") -> pd.DataFrame:
    """Spend, clicks and conversions per costed channel, over the periods the costs cover.

    Clicks are the channel's ad events (see :func:`stage_measures`); without ad events, its sessions
    (visits). Conversions are the conversion events on the channel. With a ``period`` column
    (``YYYY-MM``) only events in those months count.

    Returns
    -------
    DataFrame
        Index ``channel``: ``spend``, ``clicks``, ``conversions``, ``cost_per_click``,
        ``cost_per_conversion`` (NaN where the denominator is 0); attrs ``clicks_are`` ("ad events" or
        "sessions").
    """
    if "channel" not in events.columns:
        raise ValueError("events need a 'channel' column to relate costs to clicks")
    sm = stage_map or load_stage_map()
    ev = ensure_sorted(events)
    keep = np.ones(len(ev), bool)
    if "period" in costs.columns:
        months = set(costs["period"].astype(str).str[:7])
        keep = np.isin(np.array(_period_label(_period_key(ev["timestamp"], "M"), "M")), list(months))
    ch = ev["channel"].astype("string").to_numpy()
    ads = _ad_events(sm, ad_events)
    name = ev["event"].astype(str).to_numpy()
    if ads:
        click = keep & np.isin(name, ads)
        clicks = pd.Series(ch[click]).value_counts()
        clicks_are = "ad events"
    else:
        sess = session_keys(ev, gap).to_numpy()
        first = np.r_[True, sess[1:] != sess[:-1]]
        clicks = pd.Series(ch[keep & first]).value_counts()
        clicks_are = "sessions"
    conv = pd.Series(ch[keep & _conversion_mask(ev, sm)]).value_counts()
    spend = costs.assign(channel=costs["channel"].astype(str)).groupby("channel")["spend"].sum()
    out = pd.DataFrame({"spend": spend})
    out["clicks"] = clicks.reindex(out.index, fill_value=0).astype(int)
    out["conversions"] = conv.reindex(out.index, fill_value=0).astype(int)
    out["cost_per_click"] = out["spend"] / out["clicks"].where(out["clicks"] > 0)
    out["cost_per_conversion"] = out["spend"] / out["conversions"].where(out["conversions"] > 0)
    out.index.name = "channel"
    out.attrs["clicks_are"] = clicks_are
    return out


def stage_measures(
    events: pd.DataFrame,
    stage_map: StageMap | None = None,
    *,
    feedback: pd.DataFrame | None = None,
    costs: pd.DataFrame | None = None,
    ad_events: Sequence[str] | None = None,
    gap: str = "30min",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The stage-specific measures, where the data has them, as a tidy long table.

    By stage role (:func:`stage_roles`):

    - awareness: ``reach`` (customers), ``reach_share``, ``new_customers_per_month`` (mean over the
      months of the log, by each customer's first event), ``top_channel_share`` (channel mix: the
      largest channel's share of the stage's events; needs ``channel``).
    - consideration: ``engagement_per_session`` (mean events of the stage per session that has one),
      ``sessions_with_stage`` (share of sessions), ``click_through`` (of sessions with an ad event, the
      share that also hold an event of this stage; needs ad events), ``cost_per_click`` (spend ÷ clicks
      over the costed channels that have clicks, :func:`channel_costs`; needs costs and ``channel``).
    - purchase: ``conversion_rate`` (customers with a conversion event ÷ customers), ``orders``
      (conversion events), ``revenue`` (on conversion events), ``aov`` (revenue ÷ orders with revenue),
      ``cost_per_conversion`` (total spend ÷ conversion events in the costed months, blended).
    - retention: ``repeat_purchase_rate`` (customers who reached this stage ÷ those who reached the
      purchase stage), ``retention_m1`` / ``retention_m3`` (cohort-size-weighted share of customers
      converting again 1 / 3 months after their first conversion, :func:`cohort_retention`).
    - advocacy: one row per event of the stage (count; ``n`` = customers doing it), and ``nps`` over every
      NPS answer in the feedback (with interval).

    Ad events are ``ad_events`` or, by default, the first stage's events whose name has an ``ad`` word
    (``ad_click``, ``ads_view``).

    Returns
    -------
    DataFrame
        Columns ``stage``, ``role``, ``measure``, ``value``, ``lo``, ``hi`` (interval where one exists),
        ``n`` (the denominator or sample size), ``unit`` (share, count, rate, money, points) and ``note``.
    """
    sm = stage_map or load_stage_map()
    ev = ensure_sorted(events)
    roles = stage_roles(sm)
    rows: list[dict] = []

    def add(stage, measure, value, n=np.nan, note="", lo=np.nan, hi=np.nan):
        rows.append({"stage": stage, "role": roles[stage], "measure": measure, "value": float(value),
                     "lo": float(lo), "hi": float(hi), "n": float(n), "unit": _UNITS.get(measure, "count"),
                     "note": note})

    reached = stage_reached(ev, sm)
    n_cust = len(reached)
    has = reached.notna()
    stage = assign_stages(ev, sm)
    scode = stage.cat.codes.to_numpy()
    ev_name = ev["event"].astype(str).to_numpy()
    conv_mask = _conversion_mask(ev, sm)
    sess = session_keys(ev, gap).to_numpy()
    n_sessions = len(np.unique(sess))
    ads = [a for a in _ad_events(sm, ad_events) if a in set(ev_name)]
    spend_months = None
    if costs is not None and "channel" in ev.columns:
        cc = channel_costs(ev, costs, sm, ad_events=ad_events, gap=gap)
        total_spend = float(cc["spend"].sum())
        if "period" in costs.columns:
            spend_months = set(costs["period"].astype(str).str[:7])
    else:
        cc = None
    purchase_stage = next((s for s, r in roles.items() if r == "purchase"), None)
    for i, name in enumerate(sm.stage_names):
        role = roles[name]
        in_stage = scode == i
        if role == "awareness":
            add(name, "reach", has[name].sum(), n_cust, "customers who reached the stage")
            add(name, "reach_share", has[name].mean() if n_cust else np.nan, n_cust, "of customers in the log")
            first_month = _period_key(ev["timestamp"], "M")[np.r_[True, ev["customer_id"].to_numpy()[1:]
                                                                   != ev["customer_id"].to_numpy()[:-1]]]
            all_months = _period_key(ev["timestamp"], "M")
            span = int(all_months.max() - all_months.min() + 1) if len(all_months) else 0
            add(name, "new_customers_per_month", len(first_month) / span if span else np.nan, span,
                f"mean over {span} month(s), by first event")
            if "channel" in ev.columns:
                mix = stage_touchpoints(ev, sm, by="channel", top=1)
                top = mix[mix["stage"] == name]
                if len(top):
                    add(name, "top_channel_share", top["share"].iloc[0], top["events"].iloc[0],
                        f"{top['value'].iloc[0]} (channel mix)")
        elif role == "consideration":
            s_in = sess[in_stage]
            if len(s_in):
                per = np.bincount(np.unique(s_in, return_inverse=True)[1])
                add(name, "engagement_per_session", per.mean(), len(per),
                    "events of the stage per session that has one")
                add(name, "sessions_with_stage", len(per) / n_sessions, n_sessions, "share of sessions")
            if ads:
                ad_sess = np.unique(sess[np.isin(ev_name, ads)])
                st_sess = np.unique(s_in)
                add(name, "click_through", np.isin(ad_sess, st_sess).mean(), len(ad_sess),
                    f"sessions with {'/'.join(ads)} that reach this stage")
            if cc is not None:
                clicked = cc[cc["clicks"] > 0]
                clicks = int(clicked["clicks"].sum())
                add(name, "cost_per_click", clicked["spend"].sum() / clicks if clicks else np.nan, clicks,
                    f"spend ÷ {cc.attrs['clicks_are']}, costed channels")
        elif role == "purchase":
            converters = ev.loc[conv_mask, "customer_id"].nunique()
            add(name, "conversion_rate", converters / n_cust if n_cust else np.nan, n_cust,
                f"customers with {'/'.join(sm.conversion_events)}")
            orders = int(conv_mask.sum())
            add(name, "orders", orders, converters, "conversion events")
            if "revenue" in ev.columns:
                rev = ev.loc[conv_mask, "revenue"]
                add(name, "revenue", rev.sum(), orders, "on conversion events")
                add(name, "aov", rev.sum() / rev.notna().sum() if rev.notna().any() else np.nan,
                    int(rev.notna().sum()), "revenue per order")
            if cc is not None:
                m = conv_mask
                if spend_months is not None:
                    lab = np.array(_period_label(_period_key(ev["timestamp"], "M"), "M"))
                    m = m & np.isin(lab, list(spend_months))
                k = int(m.sum())
                add(name, "cost_per_conversion", total_spend / k if k else np.nan, k,
                    "spend ÷ conversions in costed months")
        elif role == "retention":
            if purchase_stage is not None:
                base = int(has[purchase_stage].sum())
                add(name, "repeat_purchase_rate", has[name].sum() / base if base else np.nan, base,
                    f"reached {name} ÷ reached {purchase_stage}")
            ret = cohort_retention(ev, sm, based_on="conversion")
            for k in (1, 3):
                r = ret[ret["offset"] == k]
                if len(r) and r["customers"].sum():
                    add(name, f"retention_m{k}", r["retained"].sum() / r["customers"].sum(),
                        r["customers"].sum(), f"converting again {k} month(s) after the first")
        elif role == "advocacy":
            ev_st = ev_name[in_stage]
            cust_st = ev["customer_id"].to_numpy()[in_stage]
            for e in sm.stage(name).events:
                m = ev_st == e
                add(name, e, m.sum(), len(pd.unique(cust_st[m])), "events (n = customers)")
    if feedback is not None and len(feedback) and "scale" in feedback.columns:
        adv = [s for s, r in roles.items() if r == "advocacy"]
        sc = feedback.loc[feedback["scale"].astype(str).str.lower() == "nps", "score"]
        if len(sc):
            v, lo, hi, n = nps(sc, confidence)
            add(adv[-1] if adv else sm.stage_names[-1], "nps", v, n,
                "% promoters − % detractors, 95% CI", lo, hi)
    return pd.DataFrame(rows, columns=["stage", "role", "measure", "value", "lo", "hi", "n", "unit", "note"])


def format_measures(measures: pd.DataFrame) -> pd.DataFrame:
    """:func:`stage_measures` as text for a report table: stage, measure, value (formatted by unit), note."""
    def fmt(r):
        v = r["value"]
        if not np.isfinite(v):
            return "–"
        text = {"share": f"{v:.1%}", "money": f"{v:,.2f}", "points": f"{v:+.1f}",
                "rate": f"{v:,.2f}"}.get(r["unit"], f"{v:,.0f}")
        if np.isfinite(r["lo"]) and np.isfinite(r["hi"]):
            text += f" ({r['lo']:+.1f} to {r['hi']:+.1f})" if r["unit"] == "points" else f" ({r['lo']:.3g}–{r['hi']:.3g})"
        return text
    out = measures.assign(value=measures.apply(fmt, axis=1) if len(measures) else [],
                          measure=measures["measure"].str.replace("_", " "))
    return out[["stage", "measure", "value", "note"]].set_index(["stage", "measure"])


# --------------------------------------------------------------------------------- retention & trends
def cohort_retention(events: pd.DataFrame, stage_map: StageMap | None = None, *,
                     based_on: str = "conversion", freq: str = "M") -> pd.DataFrame:
    """The retention curve by cohort.

    ``based_on="conversion"``: a customer's cohort is the period of their first conversion event, and
    they are retained in period offset ``k`` when they have a conversion event in period cohort + k.
    ``based_on="activity"``: the same with any event. Offset 0 is 1 by construction. Only offsets whose
    period is not after the log's last period are listed (the last one may be partial).

    Returns
    -------
    DataFrame
        Columns ``cohort`` (``YYYY-MM``, or the week's Monday for ``freq="W"``), ``offset`` (int),
        ``customers`` (cohort size), ``retained``, ``share``; sorted by cohort and offset.
    """
    _check_choice("based_on", based_on, ("conversion", "activity"))
    _check_choice("freq", freq, FREQS)
    sm = stage_map or load_stage_map()
    ev = ensure_sorted(events)
    key = _period_key(ev["timestamp"], freq)
    last = key.max() if len(key) else 0
    m = _conversion_mask(ev, sm) if based_on == "conversion" else np.ones(len(ev), bool)
    cust = pd.factorize(ev["customer_id"])[0][m]
    k = key[m]
    pairs = np.unique(np.c_[cust, k], axis=0) if len(k) else np.empty((0, 2), np.int64)
    cohort = pd.Series(pairs[:, 1]).groupby(pairs[:, 0]).transform("min").to_numpy()
    offset = pairs[:, 1] - cohort
    tab = pd.DataFrame({"cohort": cohort, "offset": offset}).value_counts().rename("retained")
    sizes = tab.xs(0, level="offset") if len(tab) else pd.Series(dtype=int)
    rows = [(c, o) for c in sizes.index for o in range(int(last - c) + 1)]
    idx = pd.MultiIndex.from_tuples(rows, names=["cohort", "offset"])
    out = tab.reindex(idx, fill_value=0).reset_index()
    out["customers"] = sizes.reindex(out["cohort"]).to_numpy()
    out["share"] = out["retained"] / out["customers"]
    out["cohort"] = _period_label(out["cohort"], freq)
    return out[["cohort", "offset", "customers", "retained", "share"]]


def kpi_trends(events: pd.DataFrame, stage_map: StageMap | None = None, *, freq: str = "M",
               feedback: pd.DataFrame | None = None) -> pd.DataFrame:
    """KPIs per calendar month (``freq="M"``) or Monday week (``"W"``).

    Returns
    -------
    DataFrame
        Index ``period``: ``active_customers`` (with any event), ``new_customers`` (first event in the
        log), ``converters`` (customers with a conversion event), ``conversion_rate`` (converters ÷ active),
        ``orders`` (conversion events), ``revenue``, ``aov`` (revenue ÷ orders with revenue), ``csat``
        (mean CSAT answer), ``nps`` (see :func:`nps`), ``days`` (calendar days of the period between the
        log's first and last event) and ``period_days`` (the period's length): the first and last period
        may be partial.
    """
    _check_choice("freq", freq, FREQS)
    sm = stage_map or load_stage_map()
    ev = ensure_sorted(events)
    key = _period_key(ev["timestamp"], freq)
    cust = pd.factorize(ev["customer_id"])[0]
    conv = _conversion_mask(ev, sm)
    first = np.r_[True, cust[1:] != cust[:-1]] if len(cust) else np.zeros(0, bool)
    periods = np.arange(key.min(), key.max() + 1)
    df = pd.DataFrame({"k": key, "c": cust})
    out = pd.DataFrame(index=periods)
    out["active_customers"] = df.drop_duplicates().groupby("k").size()
    out["new_customers"] = pd.Series(key[first]).value_counts()
    out["converters"] = df[conv].drop_duplicates().groupby("k").size()
    out["orders"] = pd.Series(key[conv]).value_counts()
    out = out.fillna(0).astype(int)
    out["conversion_rate"] = out["converters"] / out["active_customers"].where(out["active_customers"] > 0)
    if "revenue" in ev.columns:
        rev = ev["revenue"].to_numpy(dtype=float)
        out["revenue"] = pd.Series(np.nan_to_num(rev[conv]), index=key[conv]).groupby(level=0).sum()
        out["revenue"] = out["revenue"].fillna(0.0)
        n_rev = pd.Series(~np.isnan(rev[conv]), index=key[conv]).groupby(level=0).sum()
        out["aov"] = out["revenue"] / n_rev.reindex(out.index).where(lambda s: s > 0)
    if feedback is not None and len(feedback):
        fk = _period_key(feedback["timestamp"], freq)
        scale = (feedback["scale"].astype(str).str.lower().to_numpy() if "scale" in feedback.columns
                 else np.full(len(feedback), "csat"))
        score = feedback["score"].to_numpy(dtype=float)
        cs = scale == "csat"
        out["csat"] = pd.Series(score[cs], index=fk[cs]).groupby(level=0).mean()
        ns = scale == "nps"
        if ns.any():
            g = pd.DataFrame({"p": score[ns] >= 9, "d": score[ns] <= 6}, index=fk[ns]).groupby(level=0).mean()
            out["nps"] = 100 * (g["p"] - g["d"])
    ts = ev["timestamp"].to_numpy().astype("datetime64[D]")
    span = pd.Series(np.arange(ts.min(), ts.max() + np.timedelta64(1, "D")))  # every calendar day of the log
    out["days"] = pd.Series(_period_key(span, freq)).value_counts().reindex(out.index, fill_value=0).astype(int)
    if freq == "M":
        starts = out.index.to_numpy().astype("datetime64[M]")
        out["period_days"] = ((starts + 1).astype("datetime64[D]") - starts.astype("datetime64[D]")).astype(int)
    else:
        out["period_days"] = 7
    out.index = pd.Index(_period_label(out.index, freq), name="period")
    return out


# --------------------------------------------------------------------------------------------- segments
def customer_segments(
    events: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    customers: pd.DataFrame | None = None,
    max_levels: int = 12,
    profile=None,
    stage_map: StageMap | None = None,
) -> pd.DataFrame:
    """One segment label per customer and segment column.

    An event-log column gives each customer's value on their first event with a value (``channel``
    becomes ``acquisition_channel``); a ``customers`` column (``persona``, ``plan`` …) is taken as is.

    Parameters
    ----------
    columns : list of str, optional
        Event or customer columns (``"acquisition_channel"`` means ``channel``). Default: the data
        profile's ``segment_candidates`` (text columns with 2 to 12 values that are neither id-like nor
        outcome-like, customer columns first, then event columns, then ``acquisition_channel``; see
        :class:`cjlib.DataProfile`) with at most ``max_levels`` values, and a ``persona`` column of
        ``customers`` first when present. A named column the profile finds id-like or outcome-like is
        used, with a warning.
    customers : DataFrame, optional
        Customer attributes with ``customer_id``.
    profile : DataProfile, optional
        The profile of the loaded inputs (``data.profile``); computed from ``events``, ``customers`` and
        ``stage_map`` when not given and ``columns`` is None.
    stage_map : StageMap, optional
        Used only to compute the profile (default map when None).

    Returns
    -------
    DataFrame
        Index ``customer_id`` (every customer in the log, in log order), one column per segment (str,
        NaN when unknown).
    """
    ev = ensure_sorted(events)
    skip = {"customer_id", "event", "session_id", "timestamp", "revenue", "cost"}
    ids = pd.Index(pd.unique(ev["customer_id"]), name="customer_id")

    def is_label(s: pd.Series) -> bool:
        ok = isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(s.dtype) \
            or s.dtype == object
        return ok and 2 <= s.nunique() <= max_levels

    if columns is None:
        if profile is None:
            from cjlib.io import Inputs
            from cjlib.profiling import profile as _profile

            profile = _profile(Inputs(ev, customers, None, None, stage_map or load_stage_map()))
        columns = list(profile.segment_candidates)
        if customers is not None and "persona" in customers.columns:
            columns = ["persona"] + [c for c in columns if c != "persona"]
        columns = [c for c in columns if _segment_source(c, ev, customers, skip) is not None
                   and is_label(_segment_values(c, ev, customers))]
    elif profile is not None:
        odd = [c for c in columns if c in set(profile.id_like) | set(profile.outcome_like)]
        if odd:
            import warnings

            from cjlib.findings.journey_map import named_segment_warning

            warnings.warn(named_segment_warning(odd, profile), UserWarning, stacklevel=2)
    cols = []
    for c in columns:
        src = _segment_source(c, ev, customers, skip)
        if src is None:
            avail = [x for x in ev.columns if x not in skip] + (
                [x for x in customers.columns if x != "customer_id"] if customers is not None else [])
            raise ValueError(f"columns: {c!r} is neither an event nor a customer column "
                             f"(available: {', '.join(map(str, avail))})")
        cols.append(src)
    out = pd.DataFrame(index=ids)
    for src, c in cols:
        if src == "event":
            first = ev.groupby("customer_id", sort=False, observed=True)[c].first()
            name = "acquisition_channel" if c == "channel" else c
            out[name] = first.reindex(ids).astype("string").to_numpy()
        else:
            vals = customers.drop_duplicates("customer_id").set_index("customer_id")[c]
            vals.index = vals.index.astype(ids.dtype) if len(vals) else vals.index
            out[c] = vals.reindex(ids).astype("string").to_numpy()
    return out


def _segment_source(c: str, ev: pd.DataFrame, customers: pd.DataFrame | None, skip) -> tuple[str, str] | None:
    """Where segment column ``c`` comes from: ``("event", column)``, ``("customer", column)`` or None."""
    src = "channel" if c == "acquisition_channel" else c
    if src in ev.columns and src not in skip:
        return "event", src
    if customers is not None and c in customers.columns and c != "customer_id":
        return "customer", c
    return None


def _segment_values(c: str, ev: pd.DataFrame, customers: pd.DataFrame | None) -> pd.Series:
    kind, col = _segment_source(c, ev, customers, set())
    return ev[col] if kind == "event" else customers[col]


def segment_conversion(events: pd.DataFrame, segments: pd.DataFrame, stage_map: StageMap | None = None
                       ) -> pd.DataFrame:
    """Conversion out of each stage per segment level, against all customers of the stage.

    Parameters
    ----------
    segments : DataFrame
        From :func:`customer_segments` (index ``customer_id``, one column per segment).

    Returns
    -------
    DataFrame
        Columns ``segment``, ``level``, ``stage``, ``reached``, ``moved``, ``conversion_to_next``,
        ``median_days_to_next``, ``overall`` (the stage's conversion over all customers), ``gap``
        (``conversion_to_next − overall``), ``p_value`` (two-proportion z test, level against the rest
        of the stage's customers). The last stage has no conversion out and is left out.
    """
    sm = stage_map or load_stage_map()
    ev = ensure_sorted(events)
    reached = stage_reached(ev, sm)
    has, moved, days = _progress(reached)
    names = sm.stage_names[:-1]
    n_has, n_moved = has.sum(axis=0), moved.sum(axis=0)
    seg = segments.reindex(reached.index)
    parts = []
    for col in seg.columns:
        lab = seg[col].to_numpy(dtype=object)
        ok = pd.notna(lab)
        if not ok.any():
            continue
        h = pd.DataFrame(has[ok, :-1], columns=names).groupby(lab[ok]).sum()
        mv = pd.DataFrame(moved[ok, :-1], columns=names).groupby(lab[ok]).sum()
        md = pd.DataFrame(np.where(moved[ok, :-1], days[ok, :-1], np.nan), columns=names).groupby(lab[ok]).median()
        long = pd.DataFrame({"reached": h.stack(), "moved": mv.stack(), "median_days_to_next": md.stack()})
        long.index.names = ["level", "stage"]
        long = long.reset_index()
        long.insert(0, "segment", col)
        parts.append(long)
    cols = ["segment", "level", "stage", "reached", "moved", "conversion_to_next", "median_days_to_next",
            "overall", "gap", "p_value"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    out["reached"], out["moved"] = out["reached"].astype(int), out["moved"].astype(int)
    i = out["stage"].map({s: k for k, s in enumerate(names)}).to_numpy()
    out["conversion_to_next"] = out["moved"] / out["reached"].where(out["reached"] > 0)
    out["overall"] = n_moved[i] / np.maximum(n_has[i], 1)
    out["gap"] = out["conversion_to_next"] - out["overall"]
    out["p_value"] = two_proportion_test(out["moved"], out["reached"], n_moved[i] - out["moved"], n_has[i] - out["reached"])[1]
    out["stage"] = pd.Categorical(out["stage"], categories=names, ordered=True)
    out = out.sort_values(["stage", "segment", "level"], kind="stable").reset_index(drop=True)
    out["stage"] = out["stage"].astype(str)
    return out[cols]


def pain_points(seg_conv: pd.DataFrame, *, min_customers: int = 30) -> pd.DataFrame:
    """Per stage, the segment level with the worst conversion out of it (the most negative gap).

    Only levels with at least ``min_customers`` customers at the stage and a conversion below the
    stage's (``gap < 0``) are candidates. A stage whose worst gap is shared by two or more levels (a
    tie) has no pain point: naming one of them would be arbitrary. Returns one row per stage that has
    a pain point, columns as :func:`segment_conversion`, index ``stage`` (in journey order).
    """
    if min_customers < 1:
        raise ValueError(f"min_customers must be a positive integer, got {min_customers!r}")
    c = seg_conv[(seg_conv["reached"] >= min_customers) & (seg_conv["gap"] < 0)].dropna(subset=["gap"])
    if not len(c):
        return seg_conv.iloc[0:0].set_index("stage")
    c = c.sort_values(["gap", "segment", "level"], kind="stable")
    lowest = c.groupby("stage", sort=False)["gap"].transform("min")
    tied = (c["gap"] == lowest).groupby(c["stage"], sort=False).transform("sum") > 1
    c = c[~tied]
    order = list(dict.fromkeys(seg_conv["stage"]))
    out = c.drop_duplicates("stage").set_index("stage")
    return out.reindex([s for s in order if s in out.index])


def journey_scores(
    events: pd.DataFrame,
    segments: pd.DataFrame,
    stage_map: StageMap | None = None,
    *,
    feedback: pd.DataFrame | None = None,
    min_customers: int = 30,
    min_levels: int = 2,
    method: str = "rank",
) -> pd.DataFrame:
    """A journey score per segment level: how well the journey works for that group of customers.

    Components, per level (see ``SCORE_COMPONENTS``):

    - conversion: share of the level's customers with a conversion event (higher is better);
    - speed: median days from a customer's first event to their first conversion (lower is better);
    - satisfaction: mean :func:`satisfaction_index` (0–100) of the level's feedback (higher is better;
      absent without feedback);
    - value: revenue per customer (higher is better; absent without ``revenue``).

    The score compares the levels of one segment column. ``method="rank"`` (default): each component
    is turned into a percentile rank among the levels, ``(rank − 1) / (levels − 1) × 100`` with the best
    level at 100 and the worst at 0 (a single level gets 50), and the score is the mean of the available
    components' ranks. ``method="zscore"``: the mean of the components' z-scores across levels (signed so
    that higher is better), × 10 + 50. A level better on every component is ranked first by both.

    Returns
    -------
    DataFrame
        Columns ``segment``, ``level``, ``customers``, ``conversion``, ``days_to_convert``,
        ``satisfaction``, ``revenue_per_customer``, one ``score_<component>`` per component, ``score``,
        ``rank`` (1 = best within the segment); sorted by segment then rank. Levels with fewer than
        ``min_customers`` customers are left out, and so is a segment with fewer than ``min_levels``
        such levels (a score compares levels: one level alone has nothing to be compared with).
    """
    _check_choice("method", method, ("rank", "zscore"))
    sm = stage_map or load_stage_map()
    ev = ensure_sorted(events)
    conv = _conversion_mask(ev, sm)
    first_ts = ev.groupby("customer_id", sort=False, observed=True)["timestamp"].min()
    conv_ts = ev.loc[conv].groupby("customer_id", sort=False, observed=True)["timestamp"].min()
    per = pd.DataFrame(index=first_ts.index)
    per["converted"] = per.index.isin(conv_ts.index)
    per["days_to_convert"] = (conv_ts.reindex(per.index) - first_ts) / pd.Timedelta(days=1)
    if "revenue" in ev.columns:
        per["revenue"] = ev.groupby("customer_id", sort=False, observed=True)["revenue"].sum().reindex(per.index)
    sat = None
    if feedback is not None and len(feedback):
        sat = pd.DataFrame({"customer_id": feedback["customer_id"].to_numpy(),
                            "v": satisfaction_index(feedback).to_numpy()})
    seg = segments.reindex(per.index)
    parts = []
    for col in seg.columns:
        lab = seg[col]
        ok = lab.notna().to_numpy()
        g = per[ok].groupby(lab[ok].to_numpy())
        t = pd.DataFrame({"customers": g.size(), "conversion": g["converted"].mean(),
                          "days_to_convert": g["days_to_convert"].median()})
        t["satisfaction"] = np.nan
        if sat is not None:
            fl = lab.reindex(sat["customer_id"].to_numpy()).to_numpy(dtype=object)
            okf = pd.notna(fl)
            if okf.any():
                t["satisfaction"] = pd.Series(sat["v"].to_numpy()[okf]).groupby(fl[okf]).mean()
        t["revenue_per_customer"] = g["revenue"].mean() if "revenue" in per.columns else np.nan
        t = t[t["customers"] >= min_customers]
        if not len(t) or len(t) < min_levels:
            continue
        scores = {}
        for comp, (c, higher) in SCORE_COMPONENTS.items():
            v = t[c]
            if v.isna().all():
                continue
            signed = v if higher else -v
            if method == "rank":
                n = signed.notna().sum()
                r = signed.rank(method="average")
                scores[comp] = (r - 1) / (n - 1) * 100 if n > 1 else r * 0 + 50
            else:
                sd = signed.std(ddof=0)
                scores[comp] = ((signed - signed.mean()) / sd if sd > 0 else signed * 0) * 10 + 50
        for comp in SCORE_COMPONENTS:
            t[f"score_{comp}"] = scores.get(comp, np.nan)
        t["score"] = pd.DataFrame(scores).mean(axis=1)
        t.index.name = "level"
        t = t.reset_index()
        t.insert(0, "segment", col)
        t = t.sort_values(["score", "level"], ascending=[False, True], kind="stable")
        t["rank"] = np.arange(1, len(t) + 1)
        parts.append(t)
    if not parts:
        return pd.DataFrame(columns=["segment", "level", "customers", "conversion", "days_to_convert",
                                     "satisfaction", "revenue_per_customer",
                                     *[f"score_{c}" for c in SCORE_COMPONENTS], "score", "rank"])
    return pd.concat(parts, ignore_index=True)
