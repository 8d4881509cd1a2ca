""":func:`cjlib.scorecard.stage_measures` on a :class:`cjlib.engine.Partitioned` log.

One additive kernel (:func:`_k_measures`) counts, per partition of complete customers, what the role
measures read from the events: events and sessions per stage, sessions, ad sessions and the ad sessions
that reach each stage, converters, orders, revenue on conversion events, events and customers per
advocacy event, events per month. Sessions and customers never span partitions, so the sums equal the
whole log's counts; the measures are then formed as in :mod:`cjlib.scorecard.measures` (same rows, same
notes, same denominators).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlib.journeys import assign_stages, session_keys
from cjlib.scorecard import distributed as _dist
from cjlib.scorecard._common import conversion_mask, period_key, text_values
from cjlib.stagemap import StageMap

__all__ = ["stage_measures"]


def _k_measures(ev: pd.DataFrame, *, stage_map: StageMap, ads: list, session_window, cost_months,
                advocacy: list) -> pd.Series:
    """Additive counts for the role measures, on complete customers (a 3-level text index, float values)."""
    from cjlib.scorecard.measures import _month_labels

    rows: dict = {}
    if not len(ev):
        return _dist._series(rows)
    scode = assign_stages(ev, stage_map=stage_map).cat.codes.to_numpy()
    name = text_values(ev["event"])
    sess = session_keys(ev, session_window).to_numpy()  # 0 … K−1 in this partition
    n_sess = int(sess.max()) + 1
    ids = ev["customer_id"].to_numpy()
    months = period_key(ev["timestamp"], "M")
    rows[("month", str(int(months.min())), "")] = rows[("month", str(int(months.max())), "")] = 1
    rows[("sessions", "", "")] = n_sess
    for a in ads:
        rows[("ad_name", a, "")] = int((name == a).sum())
    ad_sess = (np.flatnonzero(np.bincount(sess[np.isin(name, ads)], minlength=n_sess)) if ads
               else np.empty(0, np.int64))
    rows[("ad_sessions", "", "")] = len(ad_sess)
    for i in range(len(stage_map.stage_names)):
        s_in = sess[scode == i]
        if len(s_in):
            in_stage = np.bincount(s_in, minlength=n_sess)
            rows[("stage_events", str(i), "")] = len(s_in)
            rows[("stage_sessions", str(i), "")] = int((in_stage > 0).sum())
            rows[("ad_sess_stage", str(i), "")] = int((in_stage[ad_sess] > 0).sum())
    conv = conversion_mask(ev, stage_map)
    rows[("converters", "", "")] = ev.loc[conv, "customer_id"].nunique()
    rows[("orders", "", "")] = int(conv.sum())
    if "revenue" in ev.columns:
        rev = ev.loc[conv, "revenue"]
        rows[("conv_revenue", "", "")] = rev.sum()
        rows[("conv_rev_n", "", "")] = int(rev.notna().sum())
    if cost_months is not None:
        rows[("conv_costed", "", "")] = int((conv & np.isin(_month_labels(ev), cost_months)).sum())
    for i, e in advocacy:
        m = (scode == i) & (name == e)
        rows[("adv_events", str(i), e)] = int(m.sum())
        rows[("adv_customers", str(i), e)] = len(pd.unique(ids[m]))
    return _dist._series(rows)


def _awareness(log, t, name: str, i: int) -> None:
    from cjlib.scorecard.kpis import stage_touchpoints

    has = log.has
    n_cust = len(has)
    log.add(name, "reach", has[name].sum(), n_cust, "customers who reached the stage")
    log.add(name, "reach_share", has[name].mean() if n_cust else np.nan, n_cust, "of customers in the log")
    months = [int(a) for a in _dist.part(t, "month").index.get_level_values(0)]
    span = int(max(months) - min(months) + 1) if months else 0
    log.add(name, "new_customers_per_month", n_cust / span if span else np.nan, span,
            f"mean over {span} month(s), by first event")
    if "channel" in _dist.columns(log.ev):
        mix = stage_touchpoints(log.ev, stage_map=log.sm, by="channel", top=1)
        top = mix[mix["stage"] == name]
        if len(top):
            log.add(name, "top_channel_share", top["share"].iloc[0], top["events"].iloc[0],
                    f"{top['value'].iloc[0]} (channel mix)")


def _consideration(log, t, name: str, i: int) -> None:
    n_in = int(_dist._one(t, "stage_events", str(i)))
    if n_in:
        n_sess_in = int(_dist._one(t, "stage_sessions", str(i)))
        n_sessions = int(_dist._one(t, "sessions"))
        log.add(name, "engagement_per_session", n_in / n_sess_in, n_sess_in,
                "events of the stage per session that has one")
        log.add(name, "sessions_with_stage", n_sess_in / n_sessions, n_sessions, "share of sessions")
    if log.ads:
        n_ad = int(_dist._one(t, "ad_sessions"))
        log.add(name, "click_through", int(_dist._one(t, "ad_sess_stage", str(i))) / n_ad, n_ad,
                f"sessions with {'/'.join(log.ads)} that reach this stage")
    if log.cc is not None:
        clicked = log.cc.table[log.cc.table["clicks"] > 0]
        clicks = int(clicked["clicks"].sum())
        log.add(name, "cost_per_click", clicked["spend"].sum() / clicks if clicks else np.nan, clicks,
                f"spend ÷ {log.cc.clicks_are}, costed channels")


def _purchase(log, t, name: str, i: int) -> None:
    n_cust = len(log.has)
    converters = int(_dist._one(t, "converters"))
    log.add(name, "conversion_rate", converters / n_cust if n_cust else np.nan, n_cust,
            f"customers with {'/'.join(log.sm.conversion_events)}")
    orders = int(_dist._one(t, "orders"))  # without revenue they are conversions, not orders (as in process)
    log.add(name, "orders" if "revenue" in _dist.columns(log.ev) else "conversions", orders, converters,
            "conversion events")
    if "revenue" in _dist.columns(log.ev):
        rev, n_rev = _dist._one(t, "conv_revenue"), int(_dist._one(t, "conv_rev_n"))
        log.add(name, "revenue", rev, orders, "on conversion events")
        log.add(name, "aov", rev / n_rev if n_rev else np.nan, n_rev, "revenue per order")
    if log.cc is not None:
        k = int(_dist._one(t, "conv_costed")) if "period" in log.costs.columns else orders
        log.add(name, "cost_per_conversion", float(log.cc.table["spend"].sum()) / k if k else np.nan, k,
                "spend ÷ conversions in costed months")


def _retention(log, t, name: str, i: int) -> None:
    from cjlib.scorecard.measures import (
        _retention as in_process,  # the same rows: the per-customer table
    )

    in_process(log, name, i)


def _advocacy(log, t, name: str, i: int) -> None:
    for e in log.sm.stage(name).events:
        n = int(_dist._one(t, "adv_customers", str(i), e))
        log.add(name, e, _dist._one(t, "adv_events", str(i), e), n, f"events, from {n:,} customer{'' if n == 1 else 's'}")


_BY_ROLE = {"awareness": _awareness, "consideration": _consideration, "purchase": _purchase,
            "retention": _retention, "advocacy": _advocacy}


def stage_measures(events, sm: StageMap, *, feedback: pd.DataFrame | None = None, costs: pd.DataFrame | None = None,
                   ad_events=None, session_window="30min", confidence: float = 0.95) -> pd.DataFrame:
    """:func:`cjlib.scorecard.stage_measures` on a partitioned log (same table as in process).

    Parameters
    ----------
    events : Partitioned
        A log partitioned on a Dask cluster (:func:`cjlib.engine.partition`).
    sm : StageMap
    feedback, costs : DataFrame, optional
        As :func:`cjlib.scorecard.stage_measures` takes them.
    ad_events : list of str, optional
    session_window : str or Timedelta, default "30min"
    confidence : float, default 0.95

    Returns
    -------
    DataFrame
        As :func:`cjlib.scorecard.stage_measures`.
    """
    from cjlib.scorecard.measures import _ad_events, _Log, _with_nps, channel_costs
    from cjlib.scorecard.roles import stage_roles

    roles = stage_roles(stage_map=sm)
    cands = _ad_events(sm, ad_events)
    has_channel = "channel" in _dist.columns(events)
    cc = (channel_costs(events, costs, stage_map=sm, ad_events=ad_events, session_window=session_window)
          if costs is not None and has_channel else None)
    cost_months = (sorted(set(costs["period"].astype(str).str[:7]))
                   if cc is not None and "period" in costs.columns else None)
    advocacy = [(i, e) for i, s in enumerate(sm.stage_names) if roles[s] == "advocacy" for e in sm.stage(s).events]
    t = _dist.tally(events, _k_measures, stage_map=sm, ads=cands, session_window=session_window,
                    cost_months=cost_months, advocacy=advocacy)
    ads = [a for a in cands if _dist._one(t, "ad_name", a) > 0]
    log = _Log(ev=events, sm=sm, roles=roles, has=_dist.reached(events, sm).notna(), scode=None, ev_name=None,
               conv_mask=None, sess=None, ads=ads, cc=cc, costs=costs, rows=[])
    for i, name in enumerate(sm.stage_names):
        _BY_ROLE[roles[name]](log, t, name, i)
    return _with_nps(log, feedback, confidence)
