"""The sentences and chart titles of the journey map report (``00_journey_map``): each returns the text
a report may state, or ``None`` when the numbers do not earn it (see :mod:`cjlib.findings.journey_map`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cjlib.findings import (
    MIN_GROUP,
    duration,
    is_number,
    join,
    leader,
    number,
    pct,
    ranking,
    rate,
    rates_differ,
    trend,
)
from cjlib.stats import two_proportion_test

ALPHA = 0.05  # a pain point is named in the map's title only when its gap is significant at this level


# ------------------------------------------------------------------------------------------ helpers
def _days(d) -> str:
    """Days (a float) as minutes, hours or days."""
    return duration(pd.Timedelta(days=float(d)))


def _with_stage_of(kpis: pd.DataFrame, seen: Sequence[str] | None) -> pd.DataFrame:
    """Transitions stage → next stage: ``from``, ``to``, ``reached``, ``share``, ``days`` (one row each)."""
    names = list(kpis.index.astype(str))
    rows = []
    for i in range(len(names) - 1):
        rows.append({"from": names[i], "to": names[i + 1], "reached": float(kpis["reached"].iloc[i]),
                     "share": float(kpis["conversion_to_next"].iloc[i]),
                     "days": float(kpis["median_days_to_next"].iloc[i])})
    t = pd.DataFrame(rows, columns=["from", "to", "reached", "share", "days"])
    ok = (t["reached"] > 0) & np.isfinite(t["share"].to_numpy(float))
    if seen is not None:
        ok &= t["to"].isin(list(seen)) & t["from"].isin(list(seen))
    return t[ok].set_index(t["from"][ok] + " → " + t["to"][ok])


# --------------------------------------------------------------------------------------- data, notes
def data_sentence(summary: Mapping) -> str:
    """The data line: events, customers and dates (``Inputs.summary()``).

    Parameters
    ----------
    summary : Mapping
        ``Inputs.summary()``: ``events``, ``customers``, ``first_event``, ``last_event``.

    Returns
    -------
    str
        The ``**Data:**`` sentence (dates cut to ``YYYY-MM-DD``).
    """
    return (f"**Data:** {number(summary['events'])} event{'s' * (summary['events'] != 1)} "
            f"from {number(summary['customers'])} customer{'s' * (summary['customers'] != 1)}, "
            f"{str(summary['first_event'])[:10]} to {str(summary['last_event'])[:10]}.")


def named_segment_warning(columns: Sequence[str], profile) -> str:
    """One sentence on named segment columns the profile finds id-like or outcome-like ('' when none).

    Parameters
    ----------
    columns : sequence of str
        The segment columns the user named.
    profile : DataProfile
        ``data.profile`` (``id_like``, ``outcome_like``).

    Returns
    -------
    str
        The warning sentence, or ``""`` when no named column is id-like or outcome-like.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> p = SimpleNamespace(id_like=("zip_prefix",), outcome_like=("order_status",))
    >>> named_segment_warning(["plan"], p)
    ''
    >>> named_segment_warning(["order_status"], p)  # doctest: +NORMALIZE_WHITESPACE
    'Segment column order_status is used as asked, although the data profile finds it outcome-like (values that
    change along the journey or follow from the conversion): read its levels as a restatement of the outcome.'
    """
    ids = [c for c in columns if c in set(profile.id_like)]
    outs = [c for c in columns if c in set(profile.outcome_like) and c not in ids]
    named = ids + outs
    if not named:
        return ""
    one = len(named) == 1
    kinds, risks = [], []
    if ids:
        kinds.append(f"{'it' if one else join(ids)} id-like (an identifier or code)")
        risks.append("codes rather than groups of customers")
    if outs:
        kinds.append(f"{'it' if one else join(outs)} outcome-like (values that change along the journey or "
                     "follow from the conversion)")
        risks.append("a restatement of the outcome")
    return (f"Segment column{'' if one else 's'} {join(named)} {'is' if one else 'are'} used as asked, although "
            f"the data profile finds {' and '.join(kinds)}: read {'its' if one else 'their'} levels as "
            f"{' or '.join(risks)}.")


def feedback_unmatched_sentence(feedback: pd.DataFrame | None, stage_names: Sequence[str],
                                top: int = 3, *, unmatched: int | None = None) -> str | None:
    """How many feedback rows name a stage the stage map lacks, and which values (None when none).

    Parameters
    ----------
    feedback : DataFrame or None
        Loaded feedback (its ``stage`` column).
    stage_names : list of str
        The stage map's stages.
    top : int, default 3
        The most frequent unmatched values named.
    unmatched : int, optional
        The count :func:`cjlib.load_inputs` made (``Inputs.unmatched_stages``); counted here when None.

    Returns
    -------
    str or None

    Examples
    --------
    >>> fb = pd.DataFrame({"stage": ["purchase", "checkout", "checkout", "delivery", None]})
    >>> feedback_unmatched_sentence(fb, ["awareness", "purchase"])
    '3 of 5 feedback rows name a stage the stage map lacks (checkout (2) and delivery (1)); they are left out of the satisfaction measures.'
    """
    if feedback is None or "stage" not in feedback.columns or not len(feedback):
        return None
    st = feedback["stage"].dropna().astype(str)
    other = st[~st.isin(list(stage_names))]
    n = int(len(other) if unmatched is None else unmatched)
    if n <= 0 or not len(other):
        return None
    vc = other.value_counts().sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    shown = [f"{v} ({number(k)})" for v, k in vc.head(top).items()]
    more = f" and {len(vc) - top} more" if len(vc) > top else ""
    return (f"{number(n)} of {number(len(feedback))} feedback rows name a stage the stage map lacks "
            f"({join(shown) if not more else ', '.join(shown) + more}); they are left out of the "
            "satisfaction measures.")


def left_out_sections(profile, *, stage_satisfaction: bool = True, retention_based_on: str = "conversion",
                      unmatched: str | None = None) -> list[tuple[str, str]]:
    """The sections the data cannot support: ``(section, one-sentence reason)`` pairs, in report order.

    Parameters
    ----------
    profile : DataProfile
        ``data.profile`` (``supports``, ``why_not``, ``stages_seen``).
    stage_satisfaction : bool
        Whether any stage has a satisfaction value (``stage_kpis``' ``satisfaction_index``).
    retention_based_on : str
        The retention curve's basis: ``"conversion"`` needs repeat conversions.
    unmatched : str, optional
        :func:`feedback_unmatched_sentence`, added to the emotion row's reason.

    Returns
    -------
    list of tuple of (str, str)
        ``(section, reason)`` pairs; empty when the data supports every section.
    """
    out = []
    if len(profile.stages_seen) < 2:
        seen = join(profile.stages_seen) or "none"
        out.append(("Stage-to-stage conversion", f"only one stage of the stage map occurs in the data ({seen})."
                    if profile.stages_seen else "no event of the stage map occurs in the data."))
    if not profile.supports("conversions"):
        curve = ", retention curve" if retention_based_on == "conversion" else ""
        out.append((f"The conversion view (overall conversion, journey scores, conversion trend{curve})",
                    profile.why_not("conversions")))
    if not profile.supports("revenue"):
        out.append(("Revenue", profile.why_not("revenue")))
    if not profile.supports("channel"):
        out.append(("The channel view (channel row, channel mix and costs)", profile.why_not("channel")))
    elif not profile.supports("costs"):
        out.append(("The cost section (cost per click, cost per conversion)", profile.why_not("costs")))
    if not profile.supports("feedback"):
        out.append(("The satisfaction view (emotion row, CSAT and NPS)", profile.why_not("feedback")))
    elif not stage_satisfaction:
        out.append(("The emotion row", unmatched or "no feedback row could be matched to a stage of the stage map."))
    if retention_based_on == "conversion" and profile.supports("conversions") and not profile.supports("repeat"):
        out.append(("The retention curve", profile.why_not("repeat")))
    return out


def segments_left_out(by: pd.DataFrame, scores: pd.DataFrame, pains: pd.DataFrame, *,
                      min_customers: int, conversions: bool = True, stages: bool = True,
                      seg_conv: pd.DataFrame | None = None) -> list[tuple[str, str]]:
    """Why pain points or journey scores are not shown (``(section, reason)`` pairs; empty when both are).

    ``seg_conv`` (:func:`cjlib.scorecard.segment_conversion`) tells "no level is large enough" apart
    from "no large level converts below its stage without a tie". ``stages``: whether two or more
    stages occur (else no segment can move between stages, and that is the reason given).
    ``by`` is the segment table (:func:`cjlib.scorecard.customer_segments`).

    Parameters
    ----------
    by : pandas.DataFrame
        The segment table; with no columns, the whole segment comparison is left out.
    scores : pandas.DataFrame
        The journey scores (:func:`cjlib.scorecard.journey_scores`); empty means none is shown.
    pains : pandas.DataFrame
        The pain points (:func:`cjlib.scorecard.pain_points`); empty means none is shown.
    min_customers : int
        Smallest segment level counted (``min_segment_customers``), quoted in the reasons.
    conversions : bool
        Whether the data has conversions; without them no journey-score reason is given (default ``True``).
    stages : bool
        Whether two or more stages occur (default ``True``).
    seg_conv : pandas.DataFrame, optional
        :func:`cjlib.scorecard.segment_conversion` (default ``None``: assume some level is large enough).

    Returns
    -------
    list of tuple of (str, str)
        ``(section, reason)`` pairs; empty when pain points and scores are both shown.
    """
    if by.shape[1] == 0:
        return [("The segment comparison (pain points and journey scores)",
                 "no column can serve as a segment (a text column with 2–12 values that is neither an "
                 "identifier nor an outcome); name one in segment_columns.")]
    out = []
    if not len(pains) and not stages:
        out.append(("The pain-point row", "only one stage occurs in the data, so no segment moves between stages."))
    elif not len(pains):
        big = seg_conv is None or (seg_conv["reached"] >= min_customers).any()
        out.append(("The pain-point row",
                    f"no segment level with {min_customers:,}+ customers at a stage converts worse than all "
                    "customers there without a tie." if big else
                    f"no segment level has {min_customers:,}+ customers at any stage (min_segment_customers)."))
    if conversions and not len(scores):
        out.append(("The journey-score chart", f"no segment has two or more levels with {min_customers:,}+ "
                    "customers (min_segment_customers)."))
    return out


def definition_line(kpis: pd.DataFrame, roles: Mapping[str, str] | None = None,
                    seen: Sequence[str] | None = None) -> str | None:
    """The one-line definition of 00's stage measures, with the example that differs most from 03.

    The example is the purchase → retention step when the map has both roles (on the sample: 51 % here,
    18.7 % in 03's funnel), else the first step with a number between stages that occur (``seen``);
    None when there is no such step.

    Parameters
    ----------
    kpis : pandas.DataFrame
        :func:`cjlib.scorecard.stage_kpis`, one row per stage in map order (``reached``,
        ``conversion_to_next``, ``median_days_to_next``).
    roles : Mapping of str to str, optional
        Stage → role from the stage map (``"purchase"``, ``"retention"`` …) (default ``None``).
    seen : sequence of str, optional
        The profile's ``stages_seen``; steps into or out of a stage not in it are skipped (default ``None``:
        no such filter).

    Returns
    -------
    str or None
        The ``*How to read the stage numbers:*`` line, or ``None`` when no step between occurring stages
        has a number. With ``seen``, a last sentence names the stages nobody reaches and says the moves into
        them read 0 for what the log holds, which is no drop-off when the log does not record their events.
    """
    t = _with_stage_of(kpis, seen)
    if not len(t):
        return None
    names = list(kpis.index.astype(str))
    unseen = [x for x, n in zip(names, kpis["reached"]) if seen is not None and x not in seen and not n]
    none = "" if not unseen else (
        f" Nobody in this log reaches {join(unseen, 'or')}: the 0.0% moving on into "
        f"{'it' if len(unseen) == 1 else 'them'} is what the log holds, which is missing data, not a drop-off, "
        f"when the log does not record {'its' if len(unseen) == 1 else 'their'} events.")
    roles = dict(roles or {})
    buy = next((s for s, r in roles.items() if r == "purchase"), None)
    again = next((s for s, r in roles.items() if r == "retention"), None)
    key = f"{buy} → {again}" if buy and again and f"{buy} → {again}" in t.index else t.index[0]
    r = t.loc[key]
    later = (" — a second purchase months after the first counts here, but not in a funnel whose window closes "
             "before it"
             if key == f"{buy} → {again}" else "")
    return (f"*How to read the stage numbers:* a stage counts as reached whenever it was, in any order; moving on "
            f"counts an event of the next stage at or after the first of this one (one before it does not count) — "
            f"of customers who ever reached {r['from']}, {pct(r['share'])} ever reached {r['to']} afterwards, at "
            f"any time; the median time is from first reaching one stage to the first event of the next after it. "
            f"The drop-off report's funnel "
            f"counts a step only in order within its conversion window, so its step rates are lower where "
            f"customers take long{later}.{none}")


def map_notes(kpis: pd.DataFrame, left_out: Sequence[tuple[str, str]] = ()) -> list[str]:
    """Lines for the foot of the map: what an arrow means, and which rows are not drawn (their reasons
    are the report's left-out sentences above the map).

    Parameters
    ----------
    kpis : pandas.DataFrame
        :func:`cjlib.scorecard.stage_kpis` (not read: the notes do not depend on it).
    left_out : sequence of tuple of (str, str)
        :func:`left_out_sections` and :func:`segments_left_out` pairs (default ``()``).

    Returns
    -------
    list of str
        The arrow note, plus a line naming the rows not drawn when any is left out.
    """
    notes = ["Arrows: of customers who ever reached a stage, the share who ever reached the next one "
             "(any time after), and the median time between."]
    rows = {"The channel view (channel row, channel mix and costs)": "channel",
            "The satisfaction view (emotion row, CSAT and NPS)": "emotion", "The emotion row": "emotion",
            "The pain-point row": "pain-point",
            "The segment comparison (pain points and journey scores)": "pain-point"}
    missing = list(dict.fromkeys(rows[s] for s, _ in left_out if s in rows))
    if missing:
        notes.append(f"Not drawn for this data: the {join(missing)} row{'s' if len(missing) > 1 else ''} "
                     "(why: see the notes above the map).")
    return notes


# -------------------------------------------------------------------------------------- the map title
def _clear_of_runner_up(t: pd.DataFrame, label, min_customers: int) -> bool:
    """Whether the step ``label`` moves on less than the next-lowest eligible step beyond chance (a
    two-proportion test at ALPHA): 0 % of 40 repeat payers is no larger drop than 2.3 % of 3,470 players."""
    rest = t[(t.index != label) & (t["reached"] >= max(1, min_customers))]
    if rest.empty:
        return True
    r, x = rest.loc[rest["share"].idxmin()], t.loc[label]
    _, p = two_proportion_test(round(x["share"] * x["reached"]), x["reached"],
                               round(r["share"] * r["reached"]), r["reached"])
    return bool(p < ALPHA)


def leak(kpis: pd.DataFrame, seen: Sequence[str] | None = None, *, min_customers: int = MIN_GROUP) -> dict | None:
    """The step where the smallest share of customers moves on, when one earns the name.

    Steps from a stage nobody reaches, or into a stage whose events never occur (``seen``: the profile's
    ``stages_seen``), are not candidates. With one candidate it is returned with ``only=True`` (not a
    "biggest" leak); with two or more, only steps out of a stage reached by ``min_customers`` or more
    compete (0 % of one customer is no leak), two or more of them must, and the lowest share must be
    unique (no tie) and below the next-lowest beyond chance (two-proportion test, p < 0.05). ``scoped`` is ``True`` when a smaller stage was left out of the comparison.

    Parameters
    ----------
    kpis : pandas.DataFrame
        :func:`cjlib.scorecard.stage_kpis`, one row per stage in map order (``reached``,
        ``conversion_to_next``, ``median_days_to_next``).
    seen : sequence of str, optional
        The profile's ``stages_seen``; steps into or out of a stage not in it are skipped (default ``None``:
        no such filter).
    min_customers : int
        Fewest customers a stage needs for its step to be named the biggest leak (default ``MIN_GROUP``, 30).

    Returns
    -------
    dict or None
        ``from``, ``to``, ``share``, ``days`` (median days, NaN when nobody moved on), ``reached``, ``only``,
        ``scoped``.

    Examples
    --------
    >>> k = pd.DataFrame({"reached": [30, 25, 7, 1, 5], "conversion_to_next": [0.83, 0.28, 0.14, 0.0, np.nan],
    ...                   "median_days_to_next": [0.1, 16, 20, np.nan, np.nan]},
    ...                  index=["awareness", "consideration", "purchase", "retention", "advocacy"])
    >>> leak(k) is None   # only awareness has 30+ customers: no step is the biggest leak
    True
    >>> leak(k, min_customers=5) is None  # purchase's 14 % of 7 is not below consideration's 28 % of 25 beyond chance
    True
    >>> leak(k.assign(reached=[3000, 2500, 700, 100, 500]))["from"]  # 0 % of 100 against 14 % of 700
    'retention'
    """
    t = _with_stage_of(kpis, seen)
    if not len(t):
        return None
    if len(t) == 1:
        r = t.iloc[0]
        return {**r.to_dict(), "only": True, "scoped": False}
    lead = leader(t["share"], t["reached"], largest=False, min_size=max(1, min_customers))
    if lead is None or not _clear_of_runner_up(t, lead[0], min_customers):
        return None
    scoped = bool((t["reached"] < min_customers).any())
    return {**t.loc[lead[0]].to_dict(), "only": False, "scoped": scoped}


def map_title(kpis: pd.DataFrame, *, overall=None, pains: pd.DataFrame | None = None,
              seen: Sequence[str] | None = None, purchases_only: bool = False, alpha: float = ALPHA) -> str:
    """The journey map's title: overall conversion, the biggest leak, the sorest pain point — each only
    when earned; a plain description when none is.

    ``overall`` is the share of customers with a conversion event (None or NaN leaves it out; in a
    purchases-only log it is 100 % by construction and left out). The sorest pain point is the pain
    point with the most negative gap, unique and significant at ``alpha``.

    Parameters
    ----------
    kpis : pandas.DataFrame
        :func:`cjlib.scorecard.stage_kpis`, one row per stage in map order (``reached``,
        ``conversion_to_next``, ``median_days_to_next``).
    overall : float, optional
        Share of customers with a conversion event (default ``None``: left out).
    pains : pandas.DataFrame, optional
        :func:`cjlib.scorecard.pain_points` (``segment``, ``level``, ``gap``, ``p_value``) (default ``None``).
    seen : sequence of str, optional
        The profile's ``stages_seen``; steps into or out of a stage not in it are skipped (default ``None``:
        no such filter).
    purchases_only : bool
        Whether the log holds only purchases, so ``overall`` is left out (default ``False``).
    alpha : float
        Significance level for naming the sorest pain point (default ``ALPHA``, 0.05).

    Returns
    -------
    str
        The earned parts joined by ``"; "``, or the plain description when none is earned.
    """
    parts = []
    if is_number(overall) and not purchases_only:
        parts.append(f"{pct(overall)} of customers convert")
    lk = leak(kpis, seen)
    if lk is not None:
        if lk["only"]:
            parts.append(f"of customers who reached {lk['from']}, {pct(lk['share'])} ever reach {lk['to']}")
        else:
            among = f" among stages of {MIN_GROUP}+ customers" if lk["scoped"] else ""
            parts.append(f"the biggest leak{among} is {lk['from']} → {lk['to']} ({pct(lk['share'])} ever move on)")
    if pains is not None and len(pains):
        sig = pains[pd.to_numeric(pains[_p_col(pains)], errors="coerce") < alpha]
        lead = leader(sig["gap"], largest=False, min_size=0) if len(sig) > 1 else (
            (sig.index[0], float(sig["gap"].iloc[0])) if len(sig) == 1 else None)
        if lead is not None:
            p = sig.loc[lead[0]]
            parts.append(f"the sorest point is {p['segment']} = {p['level']} out of {lead[0]} "
                         f"({number(100 * p['gap'], '+.0f')} pp)")
    if not parts:
        return f"The journey: customers reached at each of {len(kpis)} stages"
    text = "; ".join(parts)
    return text[:1].upper() + text[1:]


def _p_col(pains: pd.DataFrame) -> str:
    """The p-value a pain point is judged by: Holm-adjusted when :func:`cjlib.scorecard.pain_points` gave it."""
    return "p_adjusted" if "p_adjusted" in pains.columns else "p_value"


def pain_lines(pains: pd.DataFrame) -> str | None:
    """The pain-point list (one bullet per stage of :func:`cjlib.scorecard.pain_points`), or None.

    Parameters
    ----------
    pains : pandas.DataFrame
        :func:`cjlib.scorecard.pain_points`, indexed by stage (``segment``, ``level``,
        ``conversion_to_next``, ``overall``, ``gap``, ``p_value``, ``reached``).

    Returns
    -------
    str or None
        The ``**Pain points**`` heading line and bullets, or ``None`` when no row has all its numbers.
    """
    lines = []
    for stage, r in pains.iterrows():
        if not (is_number(r["conversion_to_next"]) and is_number(r["overall"]) and is_number(r["gap"])):
            continue
        p, col = "", _p_col(pains)
        if is_number(r[col]):
            name = "Holm-adjusted p" if col == "p_adjusted" else "p"
            p = f", {f'{name} < 0.001' if r[col] < 0.001 else f'{name} = {r[col]:.3f}'}"
            p += ", within chance" if r[col] >= ALPHA else ""
        lines.append(f"- **{stage}**: of {r['segment']} = {r['level']} customers who reached {stage}, "
                     f"{pct(r['conversion_to_next'], 1)} moved on, against {pct(r['overall'], 1)} of all "
                     f"({number(100 * r['gap'], '+.1f')} pp, {number(r['reached'])} customers{p}).")
    if not lines:
        return None
    return "**Pain points** — the segment level with the worst conversion out of each stage:\n" + "\n".join(lines)


# ------------------------------------------------------------------------------ retention, costs, scores
def retention_runs(profile, based_on: str = "conversion") -> bool:
    """Whether the retention curve can be drawn at all: by conversion it needs repeat conversions (the
    reason it cannot is among :func:`left_out_sections`).

    Parameters
    ----------
    profile : DataProfile
        ``data.profile``.
    based_on : str
        The retention basis; only ``"conversion"`` needs conversions and repeats (default ``"conversion"``).

    Returns
    -------
    bool
        ``True`` when the curve can be drawn.
    """
    return based_on != "conversion" or (profile.supports("conversions") and profile.supports("repeat"))


def retention_title(ret: pd.DataFrame, based_on: str = "conversion", freq: str = "M") -> str | None:
    """The retention heat map's title: the share retained one period after the first (None when no
    cohort has a next period).

    Parameters
    ----------
    ret : pandas.DataFrame
        The retention table (``offset``, ``customers``, ``retained`` per cohort and offset).
    based_on : str
        ``"conversion"`` (convert again) or a visit basis (come back) (default ``"conversion"``).
    freq : str
        The cohort period; ``"W…"`` is weekly, anything else monthly (default ``"M"``).

    Returns
    -------
    str or None
        The title, or ``None`` when no cohort has a next period (no customers at offset 1).
    """
    nxt = ret[ret["offset"] == 1]
    n = float(nxt["customers"].sum()) if len(nxt) else 0.0
    share = rate(nxt["retained"].sum() if len(nxt) else 0, n)
    if share is None:
        return None
    unit = "week" if str(freq).startswith("W") else "month"
    what = "convert again" if based_on == "conversion" else "come back"
    first = "conversion" if based_on == "conversion" else "visit"
    return (f"{pct(share)} of {number(n)} customers {what} in the {unit} after their first {first} "
            f"(by {unit}ly cohort)")


def _costs_differ(cc: pd.DataFrame, a, b) -> bool:
    """Whether channels ``a`` and ``b`` convert per unit of spend differently beyond chance: given their
    conversions together, ``a``'s count against a binomial with its share of the two channels' spend
    (the exact conditional test of two Poisson rates), two-sided at ALPHA."""
    from scipy.stats import binomtest

    xa, xb = int(cc.loc[a, "conversions"]), int(cc.loc[b, "conversions"])
    sa, sb = float(cc.loc[a, "spend"]), float(cc.loc[b, "spend"])
    if xa + xb == 0 or sa + sb <= 0:
        return False
    return bool(binomtest(xa, xa + xb, sa / (sa + sb)).pvalue < ALPHA)


def cost_sentence(costs, *, sessions: bool = True, min_conversions: int = 10) -> str | None:
    """Spend, and the cheapest and dearest cost per conversion of :func:`cjlib.scorecard.channel_costs`
    (only channels with ``min_conversions``+ conversions are ranked — a cost per conversion from one or
    two conversions is noise; a tied side is not named, and neither side when the two ends' conversions
    per unit of spend do not differ beyond chance). ``sessions``: whether the log has web visits
    (the profile's ``sessions`` role); without them clicks counted as sessions are not mentioned.

    Parameters
    ----------
    costs : ChannelCosts
        :func:`cjlib.scorecard.channel_costs`.
    sessions : bool, default True
    min_conversions : int, default 10

    Returns
    -------
    str or None
    """
    cc = costs.table
    if not len(cc) or not is_number(cc["spend"].sum()):
        return None
    text = f"**Costs:** {number(cc['spend'].sum())} spent on {len(cc)} channel{'s' if len(cc) != 1 else ''}"
    r = ranking(cc["cost_per_conversion"], cc["conversions"], min_size=max(1, min_conversions),
                higher_is_better=False)
    sides = []
    if r is not None and r.best is not None and r.worst is not None and not _costs_differ(cc, r.best, r.worst):
        sides.append(f"costs per conversion run from {number(r.best_value, ',.2f')} ({r.best}) to "
                     f"{number(r.worst_value, ',.2f')} ({r.worst}), within chance of each other")
        r = None
    if r is not None and r.best is not None:
        sides.append(f"the cheapest conversions come from {r.best} ({number(r.best_value, ',.2f')} each)")
    if r is not None and r.worst is not None:
        sides.append(f"the dearest from {r.worst} ({number(r.worst_value, ',.2f')})")
    none = cc.index[cc["conversions"] == 0].tolist() if "conversions" in cc.columns else []
    if sides:
        text += "; " + ", ".join(sides)
    if none:
        text += f"; {join(map(str, none))} had no conversion{'s' if len(none) > 1 else ''} to cost"
    clicks = None if costs.clicks_are == "sessions" and not sessions else costs.clicks_are
    return text + "." + (f" Clicks are {clicks}." if clicks else "")


def score_pick(scores: pd.DataFrame, min_customers: int = MIN_GROUP) -> dict | None:
    """The segment whose journey scores to headline, with its earned best and worst level.

    Segments are tried by the spread of their levels' conversion (largest first, ties by name); the
    first whose best and worst score are each unique, and whose best and worst levels' conversion differ
    beyond chance (two-proportion test), is picked.

    Parameters
    ----------
    scores : pandas.DataFrame
        The journey scores (``segment``, ``level``, ``score``, ``conversion``, ``customers``).
    min_customers : int
        Smallest level that may be named best or worst (default ``MIN_GROUP``, 30).

    Returns
    -------
    dict or None
        ``segment``, ``best`` and ``worst`` (rows of ``scores``: ``level``, ``score``, ``conversion`` …).
    """
    if not len(scores):
        return None
    spread = (scores.groupby("segment")["conversion"].agg(lambda s: s.max() - s.min())
              .sort_index(kind="stable").sort_values(ascending=False, kind="stable"))
    for seg in spread.index:
        d = scores[scores["segment"] == seg].set_index("level")
        r = ranking(d["score"], d["customers"], min_size=min_customers)
        if r is not None and r.best is not None and r.worst is not None and rates_differ(
                d.loc[r.best, "conversion"], d.loc[r.best, "customers"],
                d.loc[r.worst, "conversion"], d.loc[r.worst, "customers"]):
            return {"segment": seg, "best": d.loc[r.best].rename(r.best), "worst": d.loc[r.worst].rename(r.worst)}
    return None


def score_definition(scores: pd.DataFrame) -> str | None:
    """How the journey score is made, naming only the components this data has (None without scores).

    Parameters
    ----------
    scores : pandas.DataFrame
        The journey scores; components are the ``score_*`` columns with a value.

    Returns
    -------
    str or None
        The definition sentence, or ``None`` when there are no scores or no component has a value.
    """
    what = {"conversion": "conversion (share who convert)",
            "speed": "speed (median days from first event to first conversion)",
            "satisfaction": "satisfaction (mean feedback on a 0–100 scale)",
            "value": "value (revenue per customer)"}
    have = [w for c, w in what.items() if f"score_{c}" in scores.columns and scores[f"score_{c}"].notna().any()]
    if not len(scores) or not have:
        return None
    return (f"Each segment level's score is the mean of its percentile ranks, among the levels of the same "
            f"segment, on {join(have)}: 100 = best level of its segment on every component, 0 = worst.")


def score_title(pick: dict | None) -> str:
    """The journey-score chart's title from :func:`score_pick`.

    Parameters
    ----------
    pick : dict or None
        :func:`score_pick`.

    Returns
    -------
    str
        The best/worst title, or the "no level stands out" title when ``pick`` is ``None``.
    """
    if pick is None:
        return "Journey score per segment level: no level stands out (the levels tie or differ within chance)"
    b, w = pick["best"], pick["worst"]
    return (f"By {pick['segment']}, {b.name} journeys score best ({number(b['score'])}; {pct(b['conversion'])} "
            f"convert) and {w.name} worst ({number(w['score'])}; {pct(w['conversion'])})")


# ------------------------------------------------------------------------------------------ KPI trend
def trend_title(trends: pd.DataFrame, freq: str = "M", *, conversions: bool = True,
                min_active: int = MIN_GROUP) -> str:
    """The KPI grid's title: how conversion (else active customers) moved from the first to the last
    full period with at least ``min_active`` active customers; "no trend" when fewer than two such
    periods, or when the ends are undefined or both 0; a change in conversion within chance (two-
    proportion test over the two periods' active customers) is not called a rise or a fall.

    The conversion trend starts at the first period in which anyone converted: the periods before it
    are a pipeline filling up (customers who entered at the log's start had not had the time to convert;
    a B2B log's first months read 0 %), not a conversion rate to rise from. The title says which
    periods it leaves out.

    Parameters
    ----------
    trends : pandas.DataFrame
        KPIs per period, indexed by period (``active_customers``, ``conversion_rate``; ``days`` and
        ``period_days`` mark full periods when present).
    freq : str
        The period; ``"W…"`` is weekly, anything else monthly (default ``"M"``).
    conversions : bool
        Whether to try conversion first (default ``True``); otherwise active customers only.
    min_active : int
        Fewest active customers a period needs to count (default ``MIN_GROUP``, 30).

    Returns
    -------
    str
        The title: a rise, fall or hold, a change within chance, or "no trend" with the reason.
    """
    unit = "week" if str(freq).startswith("W") else "month"
    full = trends[trends["days"] >= trends["period_days"]] if "period_days" in trends.columns else trends
    full = full[full["active_customers"] >= min_active]
    if len(full) < 2:
        return f"KPIs per {unit}: fewer than two full {unit}s with {min_active}+ active customers, so no trend"
    for col, label, fmt in (("conversion_rate", "Conversion", lambda v: pct(v, 1)),
                            ("active_customers", "Active customers", lambda v: number(v))):
        if col == "conversion_rate" and not conversions:
            continue
        per, ramp = full, ""
        if col == "conversion_rate":
            per, ramp = _after_first_conversion(trends, full, unit, min_active)
            if isinstance(per, str):
                return per
        p0, p1 = per.index[0], per.index[-1]
        a, b = per[col].iloc[0], per[col].iloc[-1]
        way = trend(a, b)
        if way is None:
            continue
        sa, sb = fmt(a), fmt(b)
        of = " of active customers" if col == "conversion_rate" else ""
        n0, n1 = per["active_customers"].iloc[0], per["active_customers"].iloc[-1]
        if col == "conversion_rate" and way != "held" and sa != sb and not rates_differ(a, n0, b, n1):
            return (f"{label} was {sa} ({p0}) and {sb} ({p1}){of} per {unit}: no change beyond chance{ramp}")
        if way == "held" or sa == sb:
            return f"{label} held at {sa}{of} per {unit} from {p0} to {p1}{ramp}"
        return f"{label} {way} from {sa} ({p0}) to {sb} ({p1}){of} per {unit}{ramp}"
    return f"KPIs per {unit}: no trend (the first and last full {unit}s have no defined value)"


def _after_first_conversion(trends: pd.DataFrame, full: pd.DataFrame, unit: str, min_active: int):
    """``(periods, note)``: the periods of ``full`` from the first period of ``trends`` with a conversion on,
    and the clause naming the full periods left out before it ("" when none); the "no trend" title instead
    when fewer than two periods remain although ``full`` had two."""
    rate = pd.to_numeric(trends["conversion_rate"], errors="coerce").to_numpy(dtype=float)
    converting = np.flatnonzero(np.nan_to_num(rate) > 0)
    if not len(converting):  # nobody ever converted: no rate to trend (the caller says so)
        return full, ""
    start = trends.index[converting[0]]
    pos = trends.index.get_indexer(full.index)
    left = full.index[pos < converting[0]]
    if not len(left):
        return full, ""
    per = full[pos >= converting[0]]
    before = left[0] if len(left) == 1 else f"{left[0]} to {left[-1]}"
    if len(per) < 2:
        return (f"KPIs per {unit}: fewer than two full {unit}s with {min_active}+ active customers from "
                f"{start}, the first {unit} with a conversion, so no trend ({before} left out: nobody in "
                "the log had converted yet)"), ""
    return per, f" ({before} left out: nobody in the log had converted yet)"
