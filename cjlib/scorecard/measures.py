"""The stage-specific measures (reach, engagement, conversion, repeat purchase, advocacy) and costs per channel."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjlib.io import ensure_sorted
from cjlib.journeys import assign_stages, session_keys, stage_reached
from cjlib.scorecard import distributed as _dist
from cjlib.scorecard._common import (
    UNITS,
    conversion_mask,
    feedback_scale,
    period_key,
    period_label,
    text_values,
)
from cjlib.scorecard.kpis import stage_touchpoints
from cjlib.scorecard.roles import stage_roles
from cjlib.scorecard.trends import cohort_retention
from cjlib.stagemap import StageMap
from cjlib.stats import nps
from cjlib.validation import resolve_stage_map

__all__ = ["ChannelCosts", "channel_costs", "format_measures", "stage_measures"]

MEASURE_COLUMNS = ["stage", "role", "measure", "value", "lo", "hi", "n", "unit", "note"]


def _ad_events(sm: StageMap, ad_events) -> list[str]:
    if ad_events is not None:
        return list(ad_events)
    first = sm.stages[0].events
    return [e for e in first if re.search(r"(^|_)ad(s)?(_|$)", e)]


def _month_labels(ev: pd.DataFrame) -> np.ndarray:
    return np.array(period_label(period_key(ev["timestamp"], "M"), "M"))


@dataclass(frozen=True)
class ChannelCosts:
    """:func:`channel_costs`: the table per costed channel and what its clicks count."""

    table: pd.DataFrame  # index channel: spend, clicks, conversions, cost_per_click, cost_per_conversion
    clicks_are: str  # "ad events" or "sessions" (the log has no ad events)


def channel_costs(events: pd.DataFrame, costs: pd.DataFrame, *, stage_map: StageMap | str | None = None,
                  ad_events: Sequence[str] | None = None, session_window: str = "30min") -> ChannelCosts:
    """Spend, clicks and conversions per costed channel, over the periods the costs cover.

    Clicks are the channel's ad events (see :func:`stage_measures`); without ad events, its sessions
    (visits). Conversions are the conversion events on the channel; one without a channel counts for the
    customer's latest channel before it (an app's purchase for the install's source). With a ``period`` column
    (``YYYY-MM``) only events in those months count.

    Parameters
    ----------
    events : DataFrame or Partitioned
        The loaded event log (or a log partitioned on a Dask cluster, :func:`cjlib.engine.partition`),
        with ``channel``.
    costs : DataFrame
        ``channel``, ``spend`` and optionally ``period``.
    stage_map : StageMap, str or None
        The map (conversion events, first stage's ad events), a YAML path, or None for the default map.
    ad_events : list of str, optional
        The ad events; default: the first stage's events named with an ``ad`` word.
    session_window : str or Timedelta, default "30min"
        Inactivity that starts a new session (clicks without ad events are sessions).

    Returns
    -------
    ChannelCosts
        ``table``, index ``channel``: ``spend``, ``clicks``, ``conversions``, ``cost_per_click``,
        ``cost_per_conversion`` (NaN where the denominator is 0); ``clicks_are`` ("ad events" or
        "sessions").
    """
    if "channel" not in _dist.columns(events):
        raise ValueError("events need a 'channel' column to relate costs to clicks")
    sm = resolve_stage_map(stage_map)
    months = sorted(set(costs["period"].astype(str).str[:7])) if "period" in costs.columns else None
    ads = _ad_events(sm, ad_events)
    clicks_are = "ad events" if ads else "sessions"
    if _dist.is_partitioned(events):
        t = _dist.tally(events, _channel_counts, stage_map=sm, months=months, ads=ads,
                        session_window=session_window)
        clicks, conv = (_dist.part(t, k).droplevel(1) for k in ("clicks", "conversions"))
    else:
        clicks, conv = _channel_counts(ensure_sorted(events), stage_map=sm, months=months, ads=ads,
                                       session_window=session_window, tally=False)
    spend = costs.assign(channel=costs["channel"].astype(str)).groupby("channel")["spend"].sum()
    out = pd.DataFrame({"spend": spend})
    out["clicks"] = clicks.reindex(out.index, fill_value=0).astype(int)
    out["conversions"] = conv.reindex(out.index, fill_value=0).astype(int)
    out["cost_per_click"] = out["spend"] / out["clicks"].where(out["clicks"] > 0)
    out["cost_per_conversion"] = out["spend"] / out["conversions"].where(out["conversions"] > 0)
    out.index.name = "channel"
    return ChannelCosts(out, clicks_are)


def _channel_counts(ev: pd.DataFrame, *, stage_map: StageMap, months, ads: list, session_window,
                    tally: bool = True):
    """Clicks and conversions per channel (:func:`channel_costs`); with ``tally`` as one additive Series
    (the kernel of a partitioned log)."""
    keep = np.ones(len(ev), bool)
    if months is not None:
        keep = np.isin(_month_labels(ev), list(months))
    ch = text_values(ev["channel"], "string")
    name = text_values(ev["event"])
    if ads:
        click = keep & np.isin(name, ads)
        clicks = pd.Series(ch[click]).value_counts()
    else:
        sess = session_keys(ev, session_window).to_numpy()
        first = np.r_[True, sess[1:] != sess[:-1]]
        clicks = pd.Series(ch[keep & first]).value_counts()
    conv = pd.Series(_carried(ev, ch)[keep & conversion_mask(ev, stage_map)]).value_counts()
    if not tally:
        return clicks, conv
    return _dist._series({**{("clicks", str(c), ""): n for c, n in clicks.items()},
                          **{("conversions", str(c), ""): n for c, n in conv.items()}})


def _carried(ev: pd.DataFrame, ch: np.ndarray) -> np.ndarray:
    """``ch`` with each missing channel taken from the customer's latest event with one before it (rows in
    the loader's order): a conversion without a channel — a mobile app's purchase, whose install carried
    the source — counts for the channel that brought the customer."""
    missing = pd.isna(ch)
    if not missing.any() or missing.all():
        return ch
    ids = ev["customer_id"].to_numpy()
    i = np.arange(len(ch))
    start = np.maximum.accumulate(np.where(np.r_[True, ids[1:] != ids[:-1]], i, 0))
    last = np.maximum.accumulate(np.where(missing, -1, i))
    fill = missing & (last >= start)
    out = ch.copy()
    out[fill] = ch[last[fill]]
    return out


@dataclass
class _Log:
    """What every role's measures read from the log, computed once."""

    ev: pd.DataFrame
    sm: StageMap
    roles: dict
    has: pd.DataFrame
    scode: np.ndarray
    ev_name: np.ndarray
    conv_mask: np.ndarray
    sess: np.ndarray
    ads: list
    cc: ChannelCosts | None
    costs: pd.DataFrame | None
    rows: list

    def add(self, stage, measure, value, n=np.nan, note="", lo=np.nan, hi=np.nan):
        self.rows.append({"stage": stage, "role": self.roles[stage], "measure": measure, "value": float(value),
                          "lo": float(lo), "hi": float(hi), "n": float(n), "unit": UNITS.get(measure, "count"),
                          "note": note})


def _awareness(log: _Log, name: str, i: int) -> None:
    ev, has = log.ev, log.has
    n_cust = len(has)
    log.add(name, "reach", has[name].sum(), n_cust, "customers who reached the stage")
    log.add(name, "reach_share", has[name].mean() if n_cust else np.nan, n_cust, "of customers in the log")
    ids = ev["customer_id"].to_numpy()
    all_months = period_key(ev["timestamp"], "M")
    first_month = all_months[np.r_[True, ids[1:] != ids[:-1]]]
    span = int(all_months.max() - all_months.min() + 1) if len(all_months) else 0
    log.add(name, "new_customers_per_month", len(first_month) / span if span else np.nan, span,
            f"mean over {span} month(s), by first event")
    if "channel" in ev.columns:
        mix = stage_touchpoints(ev, stage_map=log.sm, by="channel", top=1)
        top = mix[mix["stage"] == name]
        if len(top):
            log.add(name, "top_channel_share", top["share"].iloc[0], top["events"].iloc[0],
                    f"{top['value'].iloc[0]} (channel mix)")


def _consideration(log: _Log, name: str, i: int) -> None:
    # session numbers are 0 … K−1 (journeys.session_keys): sets of sessions as counts per number
    s_in = log.sess[log.scode == i]
    n_sessions = int(log.sess.max()) + 1 if len(log.sess) else 0
    in_stage = np.bincount(s_in, minlength=n_sessions)
    if len(s_in):
        per = in_stage[in_stage > 0]
        log.add(name, "engagement_per_session", per.mean(), len(per), "events of the stage per session that has one")
        log.add(name, "sessions_with_stage", len(per) / n_sessions, n_sessions, "share of sessions")
    if log.ads:
        ad_sess = np.flatnonzero(np.bincount(log.sess[np.isin(log.ev_name, log.ads)], minlength=n_sessions))
        log.add(name, "click_through", (in_stage[ad_sess] > 0).mean(), len(ad_sess),
                f"sessions with {'/'.join(log.ads)} that reach this stage")
    if log.cc is not None:
        clicked = log.cc.table[log.cc.table["clicks"] > 0]
        clicks = int(clicked["clicks"].sum())
        log.add(name, "cost_per_click", clicked["spend"].sum() / clicks if clicks else np.nan, clicks,
                f"spend ÷ {log.cc.clicks_are}, costed channels")


def _purchase(log: _Log, name: str, i: int) -> None:
    ev, conv_mask, n_cust = log.ev, log.conv_mask, len(log.has)
    converters = ev.loc[conv_mask, "customer_id"].nunique()
    log.add(name, "conversion_rate", converters / n_cust if n_cust else np.nan, n_cust,
            f"customers with {'/'.join(log.sm.conversion_events)}")
    orders = int(conv_mask.sum())  # without revenue (a newsletter sign-up) they are conversions, not orders
    log.add(name, "orders" if "revenue" in ev.columns else "conversions", orders, converters, "conversion events")
    if "revenue" in ev.columns:
        rev = ev.loc[conv_mask, "revenue"]
        log.add(name, "revenue", rev.sum(), orders, "on conversion events")
        log.add(name, "aov", rev.sum() / rev.notna().sum() if rev.notna().any() else np.nan,
                int(rev.notna().sum()), "revenue per order")
    if log.cc is not None:
        m = conv_mask
        if "period" in log.costs.columns:
            m = m & np.isin(_month_labels(ev), list(set(log.costs["period"].astype(str).str[:7])))
        k = int(m.sum())
        log.add(name, "cost_per_conversion", float(log.cc.table["spend"].sum()) / k if k else np.nan, k,
                "spend ÷ conversions in costed months")


def _retention(log: _Log, name: str, i: int) -> None:
    purchase_stage = next((s for s, r in log.roles.items() if r == "purchase"), None)
    if purchase_stage is not None:
        base = int(log.has[purchase_stage].sum())
        log.add(name, "repeat_purchase_rate", log.has[name].sum() / base if base else np.nan, base,
                f"reached {name} ÷ reached {purchase_stage}")
    ret = cohort_retention(log.ev, stage_map=log.sm, based_on="conversion")
    for k in (1, 3):
        r = ret[ret["offset"] == k]
        if len(r) and r["customers"].sum():
            log.add(name, f"retention_m{k}", r["retained"].sum() / r["customers"].sum(),
                    r["customers"].sum(), f"converting again {k} month(s) after the first")


def _advocacy(log: _Log, name: str, i: int) -> None:
    in_stage = log.scode == i
    ev_st = log.ev_name[in_stage]
    cust_st = log.ev["customer_id"].to_numpy()[in_stage]
    for e in log.sm.stage(name).events:
        m = ev_st == e
        n = len(pd.unique(cust_st[m]))
        log.add(name, e, m.sum(), n, f"events, from {n:,} customer{'' if n == 1 else 's'}")


_BY_ROLE = {"awareness": _awareness, "consideration": _consideration, "purchase": _purchase,
            "retention": _retention, "advocacy": _advocacy}


def stage_measures(
    events: pd.DataFrame,
    *,
    stage_map: StageMap | str | None = None,
    feedback: pd.DataFrame | None = None,
    costs: pd.DataFrame | None = None,
    ad_events: Sequence[str] | None = None,
    session_window: str = "30min",
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

    Parameters
    ----------
    events : DataFrame or Partitioned
        The loaded event log, or a log partitioned on a Dask cluster (:func:`cjlib.engine.partition`).
    stage_map : StageMap, str or None
        The map, a YAML path, or None for the default map.
    feedback, costs : DataFrame, optional
        Loaded feedback (for ``nps``) and costs (for the cost measures; need ``channel`` in the log).
    ad_events : list of str, optional
        The ad events (default above).
    session_window : str or Timedelta, default "30min"
        Inactivity that starts a new session, when the log has no ``session_id``.
    confidence : float, default 0.95
        Level of the NPS interval.

    Returns
    -------
    DataFrame
        Columns ``stage``, ``role``, ``measure``, ``value``, ``lo``, ``hi`` (interval where one exists),
        ``n`` (the denominator or sample size), ``unit`` (share, count, rate, money, points) and ``note``.
    """
    sm = resolve_stage_map(stage_map)
    if _dist.is_partitioned(events):
        from cjlib.scorecard.distributed_measures import stage_measures as _on_partitions

        return _on_partitions(events, sm, feedback=feedback, costs=costs, ad_events=ad_events,
                              session_window=session_window, confidence=confidence)
    ev = ensure_sorted(events)
    roles = stage_roles(stage_map=sm)
    ev_name = text_values(ev["event"])
    cc = (channel_costs(ev, costs, stage_map=sm, ad_events=ad_events, session_window=session_window)
          if costs is not None and "channel" in ev.columns else None)
    log = _Log(ev=ev, sm=sm, roles=roles, has=stage_reached(ev, stage_map=sm).notna(),
               scode=assign_stages(ev, stage_map=sm).cat.codes.to_numpy(), ev_name=ev_name,
               conv_mask=conversion_mask(ev, sm), sess=session_keys(ev, session_window).to_numpy(),
               ads=[a for a in _ad_events(sm, ad_events) if a in set(ev_name)], cc=cc, costs=costs, rows=[])
    for i, name in enumerate(sm.stage_names):
        _BY_ROLE[roles[name]](log, name, i)
    return _with_nps(log, feedback, confidence)


def _with_nps(log: _Log, feedback: pd.DataFrame | None, confidence: float) -> pd.DataFrame:
    """The measures table, with ``nps`` over every NPS answer of the feedback on the last advocacy stage."""
    if feedback is not None and len(feedback):
        adv = [s for s, r in log.roles.items() if r == "advocacy"]
        sc = feedback.loc[feedback_scale(feedback) == "nps", "score"]
        if len(sc):
            v, lo, hi, n = nps(sc, confidence)
            log.add(adv[-1] if adv else log.sm.stage_names[-1], "nps", v, n,
                    f"% promoters − % detractors, {confidence:.0%} CI", lo, hi)
    return pd.DataFrame(log.rows, columns=MEASURE_COLUMNS)


def format_measures(measures: pd.DataFrame) -> pd.DataFrame:
    """:func:`stage_measures` as text for a report table: stage, measure, value (formatted by unit), note.

    Parameters
    ----------
    measures : DataFrame
        :func:`stage_measures`'s table (``stage``, ``measure``, ``value``, ``lo``, ``hi``, ``unit``,
        ``note``, …).

    Returns
    -------
    DataFrame
        Index (``stage``, ``measure`` with ``_`` as spaces), columns ``value`` (text: a share as a
        percentage, money and rates with two decimals, points signed, counts whole, ``–`` when not
        finite, the interval in brackets when known) and ``note``.
    """
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

