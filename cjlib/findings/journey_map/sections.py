"""What the journey map report's sections record and say: the findings bullets, each section's metrics
dict (for :func:`cjlib.report.record_all`), its lines and tables."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np  # noqa: F401  (the doctests use np)
import pandas as pd

from cjlib.findings import (
    MIN_GROUP,
    is_number,
    join,
    leader,
    number,
    pct,
    rate,
    times,
)
from cjlib.findings.journey_map.sentences import (
    _days,
    data_sentence,
    feedback_unmatched_sentence,
    leak,
    left_out_sections,
    named_segment_warning,
)


# ------------------------------------------------------------------------------------------- findings
def finding_lines(kpis: pd.DataFrame, measures: pd.DataFrame, *, customers: int, overall=None,
                  conversion_events: Sequence[str] = (), seen: Sequence[str] | None = None,
                  revenue: bool = True, purchases_only: bool = False, pick: dict | None = None,
                  min_answers: int = MIN_GROUP) -> list[str]:
    """The Findings section's bullets, each only when earned.

    Parameters
    ----------
    kpis, measures : DataFrame
        :func:`cjlib.scorecard.stage_kpis` and :func:`cjlib.scorecard.stage_measures`.
    customers : int
        Customers in the log.
    overall : float, optional
        Share with a conversion event (default ``None``: no conversion bullet).
    conversion_events : sequence of str
        The conversion event names, quoted in the conversion bullet (default ``()``).
    seen : sequence of str, optional
        The profile's ``stages_seen``, for :func:`leak` (default ``None``).
    revenue : bool
        Whether the data has revenue (the profile's ``revenue`` role); without it no revenue sentence.
    purchases_only : bool
        Whether the log holds only purchases; the conversion bullet says so (default ``False``).
    pick : dict, optional
        :func:`score_pick` (default ``None``: no journey-score bullet).
    min_answers : int
        Fewest feedback answers a stage needs to be named lowest (default ``MIN_GROUP``, 30).

    Returns
    -------
    list of str
        Markdown bullets (``"- …"``), each only when earned; may be empty.
    """
    m = measures.set_index("measure")["value"] if len(measures) else pd.Series(dtype=float)
    n = measures.set_index("measure")["n"] if len(measures) else pd.Series(dtype=float)
    lines = []
    if is_number(overall):
        what = f" ({join(conversion_events, 'or')})" if conversion_events else ""
        lines.append(f"- **{pct(overall, 1)}** of the {number(customers)} customers converted{what} at any time"
                     + (" (a purchases-only log: every customer has a purchase)." if purchases_only else "."))
    lk = leak(kpis, seen)
    if lk is not None:
        after = f", after a median of {_days(lk['days'])}" if is_number(lk["days"]) else ""
        head = "The only step" if lk["only"] else (
            f"Among stages reached by {MIN_GROUP}+ customers, the largest drop is" if lk["scoped"]
            else "The largest drop is")
        lines.append(f"- {head} **{lk['from']} → {lk['to']}**: of customers who ever reached {lk['from']}, "
                     f"{pct(lk['share'], 1)} ever reached {lk['to']}{after}.")
    if revenue and "revenue" in kpis.columns and is_number(kpis["revenue"].sum()) and kpis["revenue"].sum() > 0:
        text = f"- Revenue: {number(kpis['revenue'].sum())} in total"
        earning = kpis["revenue"][kpis["revenue"] > 0]
        top = (earning.index[0], earning.iloc[0]) if len(earning) == 1 else leader(earning, min_size=0)
        if top is not None:
            share = "all" if len(earning) == 1 else number(top[1])
            text += f", {share} of it on {top[0]}-stage events"
        lines.append(text + ".")
    if revenue and is_number(m.get("aov")):
        lines.append(f"- Average order value {number(m['aov'], ',.2f')}.")
    if is_number(m.get("repeat_purchase_rate")) and n.get("repeat_purchase_rate", 0) > 0:
        lines.append(f"- {pct(m['repeat_purchase_rate'], 1)} of buyers ever buy again "
                     f"(of {number(n['repeat_purchase_rate'])} who bought).")
    if is_number(m.get("cost_per_conversion")) and n.get("cost_per_conversion", 0) > 0:
        lines.append(f"- Blended cost per conversion {number(m['cost_per_conversion'], ',.2f')} "
                     f"(over {number(n['cost_per_conversion'])} conversions in the costed months).")
    if "satisfaction_index" in kpis.columns:
        low = leader(kpis["satisfaction_index"], kpis.get("satisfaction_index_n"), min_size=min_answers,
                     largest=False)
        if low is not None:
            lo, hi = kpis.loc[low[0], "satisfaction_index_lo"], kpis.loc[low[0], "satisfaction_index_hi"]
            ci = f", 95% CI {number(lo)}–{number(hi)}" if is_number(lo) and is_number(hi) else ""
            lines.append(f"- Satisfaction is lowest at **{low[0]}** ({number(low[1])}/100{ci}).")
    if is_number(m.get("nps")):
        lines.append(f"- NPS is {number(m['nps'], '+.0f')} points (of {number(n['nps'])} answers).")
    if pick is not None:
        b, w = pick["best"], pick["worst"]
        ratio = rate(b["conversion"], w["conversion"])
        more = f"; {b.name} customers convert {times(ratio)} as often" if ratio is not None and ratio > 1 else ""
        lines.append(f"- Journey score by {pick['segment']}: {b.name} scores {number(b['score'])}, {w.name} "
                     f"{number(w['score'])}{more}.")
    return lines


# ------------------------------------------------------------------------------------ report sections
def data_metrics(data) -> dict:
    """The data section's metrics (:func:`cjlib.report.record_all`): ``stitched_ids`` (an export's
    stitched ids, None for a table), ``n_events``, ``n_customers``.

    Parameters
    ----------
    data : cjlib.Inputs

    Returns
    -------
    dict

    Examples
    --------
    >>> import cjlib
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "event": ["page_view", "purchase", "page_view"],
    ...                    "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"])})
    >>> data_metrics(cjlib.Inputs(ev, None, None, None, cjlib.load_stage_map()))
    {'stitched_ids': None, 'n_events': 3, 'n_customers': 2}
    """
    summary = data.summary()
    return {"stitched_ids": data.stitched_ids, "n_events": summary["events"], "n_customers": summary["customers"]}


def _unmatched(data) -> str | None:
    return feedback_unmatched_sentence(data.feedback, data.stage_map.stage_names,
                                       unmatched=getattr(data, "unmatched_stages", None))


def data_lines(data) -> list[str]:
    """The data section's findings: what reading an export did (:func:`cjlib.findings.source_lines`), the
    data sentence, and a note on feedback rows whose stage the map lacks.

    Parameters
    ----------
    data : cjlib.Inputs

    Returns
    -------
    list of str
    """
    from cjlib.findings import source_lines

    lines = [*source_lines(data), data_sentence(data.summary())]
    unmatched = _unmatched(data)
    return lines + ([f"*Note:* {unmatched}"] if unmatched else [])


def scorecard_metrics(kpis: pd.DataFrame, measures: pd.DataFrame, profile) -> dict:
    """The scorecard section's metrics: ``overall_conversion`` (the purchase stage's ``conversion_rate``
    measure; None when the data has no conversions) and ``stages`` (one dict per stage).

    Parameters
    ----------
    kpis, measures : DataFrame
        :func:`cjlib.scorecard.stage_kpis` (``revenue`` dropped when the data has none) and
        :func:`cjlib.scorecard.stage_measures`.
    profile : DataProfile
        ``data.profile`` (its ``conversions`` role).

    Returns
    -------
    dict

    Examples
    --------
    >>> from types import SimpleNamespace as N
    >>> kpis = pd.DataFrame({"reached": [4, 2], "conversion_to_next": [0.5, np.nan], "median_days_to_next":
    ...                      [1.5, np.nan], "satisfaction": [np.nan, 4.0]}, index=pd.Index(["see", "buy"], name="stage"))
    >>> measures = pd.DataFrame({"measure": ["conversion_rate"], "value": [0.5]})
    >>> m = scorecard_metrics(kpis, measures, N(supports=lambda role: True))
    >>> m["overall_conversion"], [(d["stage"], d["reached"], float(d["reached_next_share"])) for d in m["stages"]]
    (0.5, [('see', 4, 0.5), ('buy', 2, nan)])
    """
    overall = (float(measures.set_index("measure")["value"]["conversion_rate"])
               if profile.supports("conversions") else None)
    stages = [{"stage": s, "reached": int(r.reached), "reached_next_share": r.conversion_to_next,
               "median_days_to_reach_next": r.median_days_to_next, "revenue": r.get("revenue"),
               "satisfaction": r.satisfaction} for s, r in kpis.iterrows()]
    return {"overall_conversion": overall, "stages": stages}


def scorecard_left_out(data, kpis: pd.DataFrame, *, retention_based_on: str = "conversion") -> list[tuple[str, str]]:
    """:func:`left_out_sections` for loaded inputs: stage satisfaction read from ``kpis``, the emotion
    row's reason from :func:`feedback_unmatched_sentence`.

    Parameters
    ----------
    data : cjlib.Inputs
    kpis : DataFrame
        :func:`cjlib.scorecard.stage_kpis`.
    retention_based_on : str
        The retention curve's basis.

    Returns
    -------
    list of (section, reason)
    """
    return left_out_sections(data.profile, stage_satisfaction=bool(kpis["satisfaction_index"].notna().any()),
                             retention_based_on=retention_based_on, unmatched=_unmatched(data))


def scorecard_table(kpis: pd.DataFrame):
    """The stage scorecard as a formatted table: reach, conversion to next, time to next, revenue (when
    ``kpis`` has it) and satisfaction (when any stage has a value).

    Parameters
    ----------
    kpis : DataFrame
        :func:`cjlib.scorecard.stage_kpis`.

    Returns
    -------
    pandas Styler
    """
    shown = ["reached", "reached_share", "conversion_to_next", "median_days_to_next"]
    shown += ["revenue"] if "revenue" in kpis.columns else []
    shown += ["satisfaction", "satisfaction_n", "nps", "satisfaction_index"] if kpis["satisfaction_index"].notna().any() else []
    table = kpis[shown].rename(columns={"conversion_to_next": "reached_next_share (ever)",
                                        "median_days_to_next": "median_days_to_reach_next"})
    return table.style.format(
        {"reached": "{:,}", "reached_share": "{:.1%}", "reached_next_share (ever)": "{:.1%}",
         "median_days_to_reach_next": "{:.1f}", "revenue": "{:,.0f}", "satisfaction": "{:.2f}",
         "satisfaction_n": "{:,}", "nps": "{:+.0f}", "satisfaction_index": "{:.0f}"}, na_rep="–")


def segment_request(segment_columns: str, profile) -> tuple[list[str] | None, str]:
    """The segment columns a comma-separated parameter names (None: let the profile choose), and a note
    (``""`` when none) on named columns the profile finds id-like or outcome-like.

    Parameters
    ----------
    segment_columns : str
        The ``segment_columns`` notebook parameter.
    profile : DataProfile

    Returns
    -------
    (list of str or None, str)

    Examples
    --------
    >>> from types import SimpleNamespace as N
    >>> segment_request(" plan, device ,", N(id_like=(), outcome_like=()))
    (['plan', 'device'], '')
    >>> segment_request("", N(id_like=(), outcome_like=()))
    (None, '')
    """
    columns = [c.strip() for c in segment_columns.split(",") if c.strip()] or None
    warning = named_segment_warning(columns, profile) if columns else ""
    return columns, f"*Note:* {warning}" if warning else ""


def pain_metrics(pains: pd.DataFrame) -> dict:
    """The pain-point section's metrics: ``pain_points``, one dict per stage of :func:`cjlib.scorecard.pain_points`.

    Parameters
    ----------
    pains : DataFrame

    Returns
    -------
    dict
    """
    return {"pain_points": [{"stage": s, "segment": r.segment, "level": r.level,
                             "reached_next_share": r.conversion_to_next, "overall": r.overall,
                             "gap": r.gap, "p_value": r.p_value} for s, r in pains.iterrows()]}


def cost_table(costs, *, sessions: bool = True):
    """:func:`cjlib.scorecard.channel_costs` as a formatted table; clicks counted as 30-minute sessions
    are left out when the log has no web visits (``sessions=False``: the profile's ``sessions`` role).

    Parameters
    ----------
    costs : ChannelCosts
        :func:`cjlib.scorecard.channel_costs`.
    sessions : bool, default True

    Returns
    -------
    pandas Styler
    """
    cc = costs.table
    if costs.clicks_are == "sessions" and not sessions:
        cc = cc.drop(columns=["clicks", "cost_per_click"])
    fmt = {"spend": "{:,.0f}", "clicks": "{:,}", "conversions": "{:,}", "cost_per_click": "{:,.2f}",
           "cost_per_conversion": "{:,.2f}"}
    return cc.style.format({k: v for k, v in fmt.items() if k in cc.columns}, na_rep="–")


def score_metrics(scores: pd.DataFrame) -> dict:
    """The journey-score section's metrics: ``journey_scores``, one dict per level of
    :func:`cjlib.scorecard.journey_scores`.

    Parameters
    ----------
    scores : DataFrame

    Returns
    -------
    dict
    """
    return {"journey_scores": [{"segment": r.segment, "level": r.level, "customers": r.customers,
                                "score": r.score, "rank": r.rank, "conversion": r.conversion,
                                "days_to_convert": r.days_to_convert, "satisfaction": r.satisfaction,
                                "revenue_per_customer": r.revenue_per_customer} for r in scores.itertuples()]}


def scores_not_shown(seg_left: Sequence[tuple[str, str]]) -> str:
    """The journey-score heading's one sentence when no score is shown: the journey scores' own reason
    among :func:`segments_left_out` (the journey-score chart's, or the whole segment comparison's — never
    the pain-point row's, which says why pain points are missing), else that no level is large enough.

    Parameters
    ----------
    seg_left : sequence of tuple of (str, str)
        :func:`segments_left_out` pairs.

    Returns
    -------
    str
        The sentence.

    Examples
    --------
    >>> scores_not_shown([])
    '*Journey scores are not shown:* no segment level is large enough to score.'
    >>> scores_not_shown([("The pain-point row", "no level converts worse."),
    ...                   ("The journey-score chart", "no segment has two levels with 50+ customers.")])
    '*Journey scores are not shown:* no segment has two levels with 50+ customers.'
    """
    own = [why for section, why in seg_left if section != "The pain-point row"]
    return "*Journey scores are not shown:* " + (own[0] if own else "no segment level is large enough to score.")
