"""Sentences and chart titles of the stage-attribution report (``notebooks/02_stage_attribution``).

Every function takes result frames of :mod:`cjlib.attribution` and returns the text a report may show:
``str`` or ``None`` (not earned: write nothing), a list of Markdown lines, or — for chart titles — a
neutral description when the finding is not earned, so a chart always has a true title. Guards (from
:mod:`cjlib.findings`): a share of attributed conversions needs at least ``min_conversions`` of them; no
most/least/cheapest/dearest from a tie, from channels under ``min_touches`` touches (sessions) or under
``min_conversions`` attributed conversions; no ratio from zero; NaN never reaches text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cjlib.findings import is_number, join, leader, number, pct, ranking, rate, share, times

__all__ = [
    "MIN_CONVERSIONS",
    "transition_label",
    "data_sentence",
    "journeys_finding",
    "journeys_title",
    "MODELS_METHOD",
    "model_title",
    "markov_lines",
    "transition_title",
    "STAGE_METHOD",
    "stage_share_title",
    "stage_lift_title",
    "stage_lines",
    "effects_method",
    "effects_title",
    "effects_lines",
    "CONTRIBUTION_METHOD",
    "contribution_title",
    "cost_title",
    "cost_finding",
    "summary_lines",
]

MIN_CONVERSIONS = 30  # fewest attributed conversions a share, a leader or a cost may be stated from

MODELS_METHOD = ("Attributed conversions per channel under each model, with 95% bootstrap intervals (journeys "
                 "resampled with replacement). The Markov model's removal effects are solved exactly from the "
                 "absorbing chain, not simulated. Time decay has no interval: it needs the touches' timestamps, "
                 "which the resampled paths do not carry.")
STAGE_METHOD = ("Each stage transition of the stage map is attributed on its own: a customer's journey starts when "
                "it reaches the source stage and converts when it reaches the target. The first heatmap shows each "
                "channel's share of the transition's attributed conversions (volume); the second its attributed "
                "conversions per touch against the transition's average (lift: ×1 = average, above 1 moves "
                "customers forward more than its touches' share).")
CONTRIBUTION_METHOD = ("The same model with the events themselves as touches (conversion events excluded), summed "
                       "by the stage each event belongs to.")


def transition_label(t: str) -> str:
    """``"awareness>consideration"`` or ``"awareness > consideration"`` → ``"awareness → consideration"``."""
    a, _, b = str(t).partition(">")
    return f"{a.strip()} → {b.strip()}"


def _source(t: str) -> str:
    return str(t).partition(">")[0].strip()


def _stage_name(stage: str) -> str:
    return "Touchpoints of no stage" if stage == "(other)" else f"{stage[:1].upper()}{stage[1:]} touchpoints"


# -------------------------------------------------------------------------------------------- data, journeys
def data_sentence(summary: Mapping, *, conversion_events: Sequence[str], touch_col: str, lookback: str,
                  markov_order: int, n_bootstrap: int, has_touch: bool, has_conversions: bool) -> str:
    """The opening line: what the log holds and how journeys are built from it."""
    text = (f"**Data:** {number(summary['events'])} events from {number(summary['customers'])} customers, "
            f"{str(summary['first_event'])[:10]} to {str(summary['last_event'])[:10]}.")
    if has_conversions:
        text += f" Conversions are {join(conversion_events, 'or')} events"
        text += (f"; touches are `{touch_col}` values up to {lookback} before each conversion; Markov order "
                 f"{markov_order}; {n_bootstrap} bootstrap replicates." if has_touch else ".")
    return text


def journeys_finding(js: pd.DataFrame, *, touch_col: str, lookback: str, distinct_paths: int,
                     conversions_without_touches: int = 0) -> str | None:
    """``**N journeys** from the log: …`` from :func:`cjlib.attribution.journey_summary`."""
    n_conv, n_null = float(js.loc["converting", "journeys"]), float(js.loc["not converting", "journeys"])
    if n_conv + n_null <= 0:
        return None
    text = (f"**{number(n_conv + n_null)} journeys** from the log: {number(n_conv)} end in a conversion and "
            f"{number(n_null)} do not ({pct(n_conv / (n_conv + n_null), 1)} convert), over "
            f"{number(distinct_paths)} distinct paths of {touch_col} touches.")
    m_conv, m_null = js.loc["converting", "mean touches"], js.loc["not converting", "mean touches"]
    if is_number(m_conv) and is_number(m_null):
        text += (f" Converting journeys have {number(m_conv, '.1f')} touches on average, the others "
                 f"{number(m_null, '.1f')}.")
    if conversions_without_touches:
        text += f" {number(conversions_without_touches)} conversions had no touch within {lookback} and are left out."
    return text


def journeys_title(js: pd.DataFrame) -> str:
    """The path-length chart's title: whether converting journeys are longer."""
    m_conv, m_null = js.loc["converting", "mean touches"], js.loc["not converting", "mean touches"]
    if not (is_number(m_conv) and is_number(m_null)) or round(m_conv, 1) == round(m_null, 1):
        return "Touches per journey, converting and not converting"
    longer = "more" if m_conv > m_null else "fewer"
    return (f"Converting journeys have {longer} touches ({number(m_conv, '.1f')} against "
            f"{number(m_null, '.1f')} on average)")


# -------------------------------------------------------------------------------------------- models
def _top_channel(attributed: pd.DataFrame, models: Sequence[str], total: float,
                 min_conversions: int) -> tuple[str, bool] | None:
    """(channel earning the most on average over the models, whether it leads under every model)."""
    if share(0, total, min_total=min_conversions) is None or attributed.empty:
        return None
    conv = attributed[list(models)]
    top = leader(conv.mean(axis=1), min_size=0)
    if top is None:
        return None
    every = all((lead := leader(conv[m], min_size=0)) is not None and lead[0] == top[0] for m in models)
    return str(top[0]), every


def model_title(attributed: pd.DataFrame, models: Sequence[str], total: float, *,
                min_conversions: int = MIN_CONVERSIONS) -> str:
    """The model-comparison chart's title: the leading channel and where the models disagree most."""
    top = _top_channel(attributed, models, total, min_conversions)
    if top is None:
        return "Attributed conversions per channel under each model"
    conv = attributed[list(models)]
    name, every = top
    title = (f"{name} earns the most conversions {'under every model' if every else 'on average over the models'} "
             f"({number(conv.loc[name].min())}–{number(conv.loc[name].max())} of {number(total)})")
    low = conv.min(axis=1)
    spread = (conv.max(axis=1) / low.where(low > 0)).dropna()
    vary = leader(spread, low, min_size=min_conversions)
    if vary is not None and vary[1] > 1:
        title += f"; models disagree most on {vary[0]} ({times(vary[1])})"
    return title


def markov_lines(mk: pd.DataFrame, attributed: pd.DataFrame, *, models: Sequence[str], order: int,
                 interval: pd.DataFrame | None = None, min_conversions: int = MIN_CONVERSIONS) -> list[str]:
    """Markov findings: P(conversion), the largest removal effect, Markov against last touch, the widest
    interval. Lines are left out when not earned."""
    p = mk.attrs.get("p_conversion")
    total = float(mk["conversions"].sum())
    lines = []
    if not is_number(p):
        return lines
    first = (f"- The Markov chain (order {order}, {number(mk.attrs.get('n_states', 0))} states) converts "
             f"**{pct(p, 1)}** of journeys from the start")
    big = leader(mk["removal_effect"], min_size=0) if share(0, total, min_total=min_conversions) is not None else None
    if big is not None:
        first += (f"; without **{big[0]}** it would convert {pct(p * (1 - big[1]), 1)} "
                  f"(removal effect {pct(big[1], 1)})")
    lines.append(first + ".")
    if {"markov", "last_touch"} <= set(models):
        lt = attributed["last_touch"]
        ratio = (attributed["markov"] / lt.where(lt > 0)).dropna()
        r = ranking(ratio, lt, min_size=min_conversions)
        if r is not None and r.best is not None and r.best_value > 1:
            text = (f"- Against last touch, Markov credits **{r.best}** {times(r.best_value, 2)} "
                    f"({number(lt[r.best])} → {number(attributed.loc[r.best, 'markov'])}: it assists journeys "
                    "others close)")
            if r.worst is not None and r.worst_value < 1:
                text += f" and **{r.worst}** {times(r.worst_value, 2)}"
            lines.append(text + ".")
    if interval is not None and len(interval):
        est = interval["estimate"]
        width = ((interval["upper"] - interval["lower"]) / est.where(est > 0)).dropna()
        widest = leader(width, est, min_size=min_conversions)
        if widest is not None:
            w = widest[0]
            lines.append(f"- The widest Markov interval, relative to its estimate, is {w}'s "
                         f"({number(interval.loc[w, 'lower'])}–{number(interval.loc[w, 'upper'])} around "
                         f"{number(interval.loc[w, 'estimate'])}).")
    return lines


def transition_title(tm: pd.DataFrame, *, min_journeys: int = MIN_CONVERSIONS) -> str:
    """The transition heatmap's title: after which channel journeys convert most and least often, and
    which channel most journeys start with."""
    out_of = tm.groupby("channel_from")["count"].sum()
    to_conv = tm[tm["channel_to"] == "(conversion)"].set_index("channel_from")["transition_probability"]
    to_conv = to_conv.reindex(out_of.drop("(start)", errors="ignore").index).fillna(0.0)
    parts = []
    r = ranking(to_conv, out_of, min_size=min_journeys)
    if r is not None and r.best is not None and r.worst is not None:
        parts.append(f"Journeys convert most often straight after {r.best} ({pct(r.best_value)}) and least after "
                     f"{r.worst} ({pct(r.worst_value)})")
    starts = tm[tm["channel_from"] == "(start)"].set_index("channel_to")["transition_probability"]
    first = leader(starts, min_size=0) if out_of.get("(start)", 0) >= min_journeys else None
    if first is not None:
        parts.append(f"{pct(first[1])} start with {first[0]}")
    return "; ".join(parts) if parts else "Transition probabilities between channels (first-order chain)"


# -------------------------------------------------------------------------------------------- stages
def _earned(fr: pd.DataFrame, min_conversions: int) -> bool:
    return share(0, fr["conversions"].sum(), min_total=min_conversions) is not None


def _leaders(sa: pd.DataFrame, min_conversions: int) -> dict[str, tuple[str, float]]:
    """Per transition with enough conversions, the one channel with the largest share (no ties)."""
    out = {}
    for t, fr in sa.groupby("transition", sort=False):
        lead = leader(fr.set_index("channel")["share"], min_size=0) if _earned(fr, min_conversions) else None
        if lead is not None:
            out[t] = lead
    return out


def stage_share_title(sa: pd.DataFrame, *, min_conversions: int = MIN_CONVERSIONS) -> str:
    """The stage × channel share heatmap's title: the channel leading most transitions."""
    leaders = _leaders(sa, min_conversions)
    n = sa["transition"].nunique()
    n_earned = sum(_earned(fr, min_conversions) for _, fr in sa.groupby("transition", sort=False))
    if not leaders:
        return "Each channel's share of each stage transition's attributed conversions"
    counts = pd.Series([c for c, _ in leaders.values()]).value_counts()
    top = leader(counts, min_size=0) if len(counts) > 1 else (counts.index[0], counts.iloc[0])
    if top is None or (int(top[1]) == 1 and len(leaders) == 1):
        return "; ".join(f"{c} earns the largest share of {transition_label(t)}" for t, (c, _) in leaders.items())
    name, k = top
    others = {t: c for t, (c, _) in leaders.items() if c != name}
    enough = f"with {min_conversions} or more attributed conversions"
    where = ("every transition" if k == n else f"{int(k)} of {n} transitions" if n_earned == n else
             f"every transition {enough} ({int(k)} of {n})" if k == n_earned else
             f"{int(k)} of the {n_earned} transitions {enough}")
    title = f"{name} earns the largest share of {where}"
    if others:
        title += "; " + ", ".join(f"{c} of {transition_label(t)}" for t, c in others.items())
    return title


def _lift_ranking(fr: pd.DataFrame, min_touches: int, min_conversions: int):
    if not _earned(fr, min_conversions):
        return None
    f = fr.set_index("channel")
    return ranking(f["lift"], f["touches"], min_size=min_touches)


def stage_lift_title(sa: pd.DataFrame, focus: str | None, *, min_touches: int,
                     min_conversions: int = MIN_CONVERSIONS) -> str:
    """The lift heatmap's title: per touch, which channel moves customers through ``focus`` most and least."""
    fr = sa[sa["transition"] == focus]
    r = _lift_ranking(fr, min_touches, min_conversions) if len(fr) else None
    if r is None or r.best is None or r.worst is None:
        return "Attributed conversions per touch, against each transition's average"
    return (f"Per touch, {r.best} moves customers from {transition_label(focus)} most ({times(r.best_value, 2)} "
            f"the average) and {r.worst} least ({times(r.worst_value, 2)})")


def stage_lines(sa: pd.DataFrame, *, min_touches: int, min_conversions: int = MIN_CONVERSIONS) -> list[str]:
    """One line per stage transition: how many move on, who earns the most credit, who moves most per touch."""
    lines = []
    leaders = _leaders(sa, min_conversions)
    for t, fr in sa.groupby("transition", sort=False):
        rate = sa.attrs.get("p_conversion", {}).get(t)
        line = f"- **{transition_label(t)}**"
        if is_number(rate):
            line += f" ({pct(rate)} of the customers at {_source(t)} with a touch move on)"
        clauses = []
        if t in leaders:
            clauses.append(f"{leaders[t][0]} earns {pct(leaders[t][1])} of the credit")
        r = _lift_ranking(fr, min_touches, min_conversions)
        if r is not None and r.best is not None and r.worst is not None:
            clauses.append(f"per touch, {r.best} moves customers forward most ({times(r.best_value, 2)} the average) "
                           f"and {r.worst} least ({times(r.worst_value, 2)})")
        if not clauses:
            n_c = fr["conversions"].sum()
            clauses.append(f"{number(n_c)} attributed conversion{'' if round(n_c) == 1 else 's'}, too few to "
                           "compare channels")
        lines.append(f"{line}: {'; '.join(clauses)}.")
    skipped = list(sa.attrs.get("skipped", []))
    if skipped:
        lines.append(f"- {join([transition_label(t) for t in skipped])}: no customer with a touch moves on, so "
                     f"{'it is' if len(skipped) == 1 else 'they are'} not attributed.")
    return lines


# -------------------------------------------------------------------------------------------- channel effects
def effects_method(adjusted_by: str) -> str:
    """What the channel-effects section measures (shown only when it runs)."""
    text = ("Attribution shares out conversions; it does not say what a channel *does*, and it is confounded by "
            "who uses each channel (if loyal buyers arrive by email, email is credited with their loyalty). Here "
            "the unit is a visit: of the visits by customers at a stage, how often does a visit from each channel "
            "move the customer to the next stage")
    if adjusted_by.startswith("nothing"):
        return text + " (×1.3 means 30 % more often than an average visit). Intervals: bootstrap over customers."
    return (text + f", **compared with visits by similar customers** ({adjusted_by}; a Poisson model with segment "
            "and channel factors, fitted by maximum likelihood; ×1.3 means 30 % more often than an average visit "
            "by the same kind of customer). Intervals: bootstrap over customers.")


def _effect_ranking(fr: pd.DataFrame):
    f = fr.set_index("channel")
    return ranking(f["effect"], f["sessions"], min_size=0)


def effects_title(shown: pd.DataFrame, key: str | None, adjusted_by: str) -> str:
    """The channel-effects heatmap's title for the transition ``key``."""
    r = _effect_ranking(shown[shown["transition"] == key]) if key is not None else None
    if r is None or r.best is None or r.worst is None:
        return "How often a visit from each channel moves customers to the next stage, against the average visit"
    lead = f"Adjusted for {adjusted_by}, a" if not adjusted_by.startswith("nothing") else "A"
    return (f"{lead} visit from {r.best} moves customers from {transition_label(key).replace(' → ', ' to ')} "
            f"{times(r.best_value, 2)} as often as average; one from {r.worst} {times(r.worst_value, 2)}")


def _with_interval(f: pd.DataFrame, c: str) -> str:
    text = times(f.loc[c, "effect"], 2)
    if {"lower", "upper"} <= set(f.columns) and is_number(f.loc[c, "lower"]) and is_number(f.loc[c, "upper"]):
        text += f" ({number(f.loc[c, 'lower'], '.2f')}–{number(f.loc[c, 'upper'], '.2f')})"
    return text


def effects_lines(shown: pd.DataFrame, transitions: Sequence[str], skipped: Sequence[str], *,
                  min_sessions: int) -> list[str]:
    """One line per transition shown (highest and lowest effect, adjusted and not) and one for those left out."""
    lines = []
    for t in transitions:
        fr = shown[shown["transition"] == t]
        r = _effect_ranking(fr)
        if r is None or r.best is None or r.worst is None:
            continue
        f = fr.set_index("channel")
        hi, lo = r.best, r.worst
        line = f"- **{transition_label(t)}**: {hi} {_with_interval(f, hi)}, {lo} {_with_interval(f, lo)}"
        uh, ul = f.loc[hi, "effect_unadjusted"], f.loc[lo, "effect_unadjusted"]
        if is_number(uh) and is_number(ul) and not np.allclose([uh, ul], [f.loc[hi, "effect"], f.loc[lo, "effect"]]):
            line += f"; unadjusted {hi} {times(uh, 2)}, {lo} {times(ul, 2)}"
        lines.append(line + ".")
    if skipped:
        lines.append(f"\n*Left out:* {join([transition_label(t) for t in skipped])} (fewer than two channels with "
                     f"{number(min_sessions)} or more visits advance customers there).")
    return lines


# -------------------------------------------------------------------------------------------- contribution
def contribution_title(contrib: pd.DataFrame, model: str, *, min_conversions: int = MIN_CONVERSIONS) -> str:
    """The stage-contribution chart's title: the stage whose touchpoints earn the largest share, stated only
    from at least ``min_conversions`` attributed conversions and without a tie."""
    total = contrib.attrs.get("conversions", contrib["conversions"].sum() if len(contrib) else 0)
    tied = contrib.attrs.get("events_tied", False)  # shares would only count each stage's events
    lead = leader(contrib.set_index("stage")["conversions"], min_size=0) if len(contrib) and not tied else None
    part = share(lead[1], total, min_total=min_conversions) if lead is not None else None
    if part is None:
        return f"Attributed conversions by the stage of the touchpoint ({model})"
    return f"{_stage_name(str(lead[0]))} earn {pct(part)} of the attributed conversions ({model})"


# -------------------------------------------------------------------------------------------- costs
def _paid(cpc: pd.DataFrame, model: str) -> pd.DataFrame:
    return cpc[(cpc["model"] == model) & cpc["spend"].notna()].set_index("channel")


def _cost_ranking(cpc: pd.DataFrame, model: str, min_conversions: int):
    m = _paid(cpc, model)
    return ranking(m["cost_per_conversion"], m["conversions"], min_size=min_conversions, higher_is_better=False)


def cost_title(cpc: pd.DataFrame, model: str, *, min_conversions: int = MIN_CONVERSIONS) -> str:
    """The cost chart's title: the cheapest and dearest attributed conversion under ``model``."""
    r = _cost_ranking(cpc, model, min_conversions)
    if r is None or r.best is None or r.worst is None:
        return "Spend per attributed conversion, by channel and model"
    title = (f"Under {model} attribution, a conversion from {r.best} costs {number(r.best_value, ',.2f')}; from "
             f"{r.worst} {number(r.worst_value, ',.2f')}")
    ratio = rate(r.worst_value, r.best_value)
    return title + (f" ({times(ratio, 0 if ratio >= 10 else 1)})" if ratio is not None else "")


def cost_finding(cpc: pd.DataFrame, model: str, *, has_revenue: bool,
                 min_conversions: int = MIN_CONVERSIONS) -> str | None:
    """``**Costs:** spend on paid channels``, and return on spend when revenue is known and earned."""
    m = _paid(cpc, model)
    if m.empty:
        return None
    unpaid = sorted(set(cpc.loc[cpc["model"] == model, "channel"]) - set(m.index))
    text = (f"**Costs:** {number(m['spend'].sum())} spent on {len(m)} paid channel{'s' if len(m) != 1 else ''}"
            + (f" ({join(unpaid)} {'carries' if len(unpaid) == 1 else 'carry'} no spend)" if unpaid else ""))
    if has_revenue and "roi" in m.columns and m.get("value", pd.Series(dtype=float)).sum() > 0:
        r = ranking(m["roi"], m["conversions"], min_size=min_conversions)
        if r is not None and r.best is not None and r.worst is not None:
            return (text + f". Return on spend (attributed revenue ÷ spend, {model}) is highest for {r.best} "
                    f"({times(r.best_value)}) and lowest for {r.worst} ({times(r.worst_value)}).")
    return text + "."


# -------------------------------------------------------------------------------------------- summary
def summary_lines(*, js: pd.DataFrame | None = None, mk: pd.DataFrame | None = None,
                  attributed: pd.DataFrame | None = None, models: Sequence[str] = (),
                  sa: pd.DataFrame | None = None, min_touches: int = 100, contrib: pd.DataFrame | None = None,
                  stage_model: str = "markov", cpc: pd.DataFrame | None = None, cost_model: str = "markov",
                  min_conversions: int = MIN_CONVERSIONS) -> list[str]:
    """The report's closing findings from whichever results exist (a missing one adds no line)."""
    lines = []
    if js is not None:
        n_conv, n_null = js.loc["converting", "journeys"], js.loc["not converting", "journeys"]
        if n_conv + n_null > 0:
            text = f"- {number(n_conv + n_null)} journeys, {pct(n_conv / (n_conv + n_null), 1)} converting"
            if mk is not None and is_number(mk.attrs.get("p_conversion")):
                text += f"; the Markov chain puts P(conversion) at {pct(mk.attrs['p_conversion'], 1)}"
            lines.append(text + ".")
    if attributed is not None and models:
        total = float(attributed[models[0]].sum())
        top = _top_channel(attributed, models, total, min_conversions)
        if top is not None:
            conv = attributed[list(models)].loc[top[0]]
            lines.append(f"- **{top[0]}** earns the most conversions "
                         f"{'under every model' if top[1] else 'on average over the models'} "
                         f"({number(conv.min())}–{number(conv.max())} of {number(total)}).")
    if sa is not None and len(sa):
        leaders = _leaders(sa, min_conversions)
        for t, fr in sa.groupby("transition", sort=False):
            r = _lift_ranking(fr, min_touches, min_conversions)
            clauses = [f"{leaders[t][0]} earns the most credit"] if t in leaders else []
            if r is not None and r.best is not None:
                clauses.append(f"{r.best} moves customers forward most per touch ({times(r.best_value, 2)})")
            if clauses:
                lines.append(f"- {transition_label(t)}: {'; '.join(clauses)}.")
    if contrib is not None and len(contrib):
        title = contribution_title(contrib, stage_model, min_conversions=min_conversions)
        if not title.startswith("Attributed conversions by"):
            lines.append(f"- {title.rsplit(' (', 1)[0]}.")
    if cpc is not None:
        r = _cost_ranking(cpc, cost_model, min_conversions)
        if r is not None and r.best is not None and r.worst is not None:
            lines.append(f"- Under {cost_model} attribution, {r.best} conversions are the cheapest "
                         f"({number(r.best_value, ',.2f')} each) and {r.worst} the dearest "
                         f"({number(r.worst_value, ',.2f')}).")
    return lines
