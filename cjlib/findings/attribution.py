"""Sentences and chart titles of the stage-attribution report (``notebooks/02_stage_attribution``).

Every function takes result frames of :mod:`cjlib.attribution` and returns the text a report may show:
``str`` or ``None`` (not earned: write nothing), a list of Markdown lines, or — for chart titles — a
neutral description when the finding is not earned, so a chart always has a true title. Guards (from
:mod:`cjlib.findings`): a share of attributed conversions needs at least ``min_conversions`` of them; no
most/least/cheapest/dearest from a tie, from channels under ``min_touches`` touches (sessions) or under
``min_conversions`` attributed conversions; no ratio from zero; NaN never reaches text. Two numbers are only
called different when they differ materially (:data:`MATERIAL`, ×1.1, and for conversions by at least
:data:`HANDFUL`); a leader must lead its runner-up that clearly; values that print alike are a tie; a claim
about what a channel does ("assists", "moves customers forward more") needs that and, where an interval
exists, an interval that excludes no effect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cjlib.findings import (
    is_number,
    join,
    leader,
    number,
    pct,
    ranking,
    rate,
    see_above,
    share,
    times,
)

__all__ = [
    "MIN_CONVERSIONS",
    "MATERIAL",
    "HANDFUL",
    "channel_left_out",
    "said_above",
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
    "left_out_once",
    "leave_out",
    "no_paths_reason",
    "no_stages_reason",
    "no_effects_reason",
    "no_contribution_reason",
    "data_metrics",
    "journeys_metrics",
    "model_metrics",
    "markov_finding",
    "transition_metrics",
    "order_note",
    "stage_metrics",
    "stage_finding",
    "persona_metrics",
    "effects_intro",
    "effects_metrics",
    "effects_finding",
    "contribution_metrics",
    "cost_metrics",
    "cost_model",
    "missing_metrics",
    "summary_finding",
]

MIN_CONVERSIONS = 30  # fewest attributed conversions a share, a leader or a cost may be stated from
MATERIAL = 1.1  # two numbers differ materially when the larger is at least this many times the smaller
HANDFUL = 5  # attributed conversions: a gap smaller than this is not a difference worth a sentence

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
    """``"awareness>consideration"`` or ``"awareness > consideration"`` → ``"awareness → consideration"``.

    Parameters
    ----------
    t : str
        A transition, ``"a>b"`` or ``"a > b"``.

    Returns
    -------
    str
    """
    a, _, b = str(t).partition(">")
    return f"{a.strip()} → {b.strip()}"


def _source(t: str) -> str:
    return str(t).partition(">")[0].strip()


def _stage_name(stage: str) -> str:
    return "Touchpoints of no stage" if stage == "(other)" else f"{stage[:1].upper()}{stage[1:]} touchpoints"


# -------------------------------------------------------------------------------------------- guards
def _differ(a, b, *, gap: float = 0.0, ratio: float = MATERIAL) -> bool:
    """Whether ``a`` and ``b`` (non-negative) differ materially: the larger is at least ``ratio`` times the
    smaller and at least ``gap`` above it (a zero against a positive number differs when the gap holds)."""
    if not (is_number(a) and is_number(b)):
        return False
    lo, hi = sorted((float(a), float(b)))
    return hi - lo >= gap and hi > 0 and (lo <= 0 or hi / lo >= ratio)


def _clear_leader(values: pd.Series, sizes=None, *, min_size: float = 0, gap: float = 0.0,
                  ratio: float = MATERIAL) -> tuple[str, float] | None:
    """The one group whose value leads every other eligible group materially (see :func:`_differ`)."""
    v = pd.to_numeric(pd.Series(values), errors="coerce").astype(float)
    v = v[np.isfinite(v.to_numpy())]
    if sizes is not None:
        v = v[pd.to_numeric(pd.Series(sizes).reindex(v.index), errors="coerce").fillna(0) >= min_size]
    if len(v) < 2:
        return None
    top = v.sort_values(ascending=False, kind="stable")
    if not _differ(top.iloc[0], top.iloc[1], gap=gap, ratio=ratio):
        return None
    return str(top.index[0]), float(top.iloc[0])


def _spread(values: pd.Series, sizes=None, *, min_size: float = 0, digits: int = 2, gap: float = 0.0,
            higher_is_better: bool = True):
    """A :func:`ranking` whose ends differ materially and do not print alike (``digits``), else ``None``."""
    r = ranking(values, sizes, min_size=min_size, higher_is_better=higher_is_better, tolerance=0.5 * 10 ** -digits)
    if r is None or r.best is None or r.worst is None or not _differ(r.best_value, r.worst_value, gap=gap):
        return None
    return r


def _most(values: pd.Series, *, tolerance: float, largest: bool = True) -> str | None:
    """The one label with the largest (smallest) value among ``values`` (already filtered to the eligible
    ones): the only one, or a leader no other comes within ``tolerance`` of."""
    v = values.dropna()
    if len(v) == 1:
        return str(v.index[0])
    r = ranking(v, min_size=0, higher_is_better=largest, tolerance=tolerance) if len(v) else None
    return None if r is None or r.best is None else str(r.best)


def _range(lo, hi, fmt: str = ",.0f") -> str:
    """``"60–70"``, or one number when both ends print alike."""
    a, b = number(lo, fmt), number(hi, fmt)
    return a if a == b else f"{a}–{b}"


def _alike(frame: pd.DataFrame, *, gap: float = HANDFUL) -> str | None:
    """How every row's values (columns: models) agree: ``"the same"`` when they print alike, ``"alike"``
    when none differs materially (:func:`_differ` with ``gap``), else ``None``."""
    if frame.empty or not np.isfinite(frame.to_numpy(float)).all():
        return None
    lo, hi = frame.min(axis=1), frame.max(axis=1)
    if all(number(a) == number(b) for a, b in zip(lo, hi)):
        return "the same"
    return None if any(_differ(a, b, gap=gap) for a, b in zip(lo, hi)) else "alike"


def said_above(section: str) -> str:
    """The one sentence under a section heading whose reason :func:`channel_left_out` gave once above.

    Parameters
    ----------
    section : str
        The section's name.

    Returns
    -------
    str

    Examples
    --------
    >>> said_above("model comparison")
    '*Not shown (model comparison):* see why under *Journeys built from the log* above.'
    """
    return see_above(section, "Journeys built from the log")


def channel_left_out(reasons: Mapping[str, str], *, group: str = "channel attribution") -> tuple[list[tuple[str, str]], set[str]]:
    """Sections left out for one shared reason, said once for the group.

    Parameters
    ----------
    reasons : mapping
        Section name → why it cannot run ('' when it can), in report order.
    group : str
        What the sections together are ("channel attribution").

    Returns
    -------
    (list of (section, reason), set of str)
        For each reason shared by two or more sections, one ``(f"{group} (sec1, sec2, …)", reason)`` for
        :func:`cjlib.report.left_out`; and the sections that entry covers (each says nothing more).

    Examples
    --------
    >>> groups, covered = channel_left_out({"model comparison": "No channel.", "stage attribution": "No channel.",
    ...                                     "cost per conversion": ""})
    >>> groups, sorted(covered)
    ([('channel attribution (model comparison, stage attribution)', 'No channel.')], ['model comparison', 'stage attribution'])
    """
    by_reason: dict[str, list[str]] = {}
    for section, why in reasons.items():
        if why:
            by_reason.setdefault(why, []).append(section)
    groups = [(f"{group} ({', '.join(secs)})", why) for why, secs in by_reason.items() if len(secs) > 1]
    covered = {sec for why, secs in by_reason.items() if len(secs) > 1 for sec in secs}
    return groups, covered


# -------------------------------------------------------------------------------------------- data, journeys
def data_sentence(summary: Mapping, *, conversion_events: Sequence[str], touch_col: str, window: str,
                  markov_order: int, n_bootstrap: int, has_touch: bool, has_conversions: bool) -> str:
    """The opening line: what the log holds and how journeys are built from it.

    Parameters
    ----------
    summary : mapping
        :meth:`cjlib.io.Inputs.summary`.
    conversion_events : sequence of str
        The stage map's conversion events.
    touch_col : str
        The column whose values are the touches.
    window : str
        How far before a conversion touches count.
    markov_order, n_bootstrap : int
        The report's Markov order and bootstrap replicates.
    has_touch, has_conversions : bool
        Whether the channel sections and the conversions sections run.

    Returns
    -------
    str
    """
    text = (f"**Data:** {number(summary['events'])} event{'s' * (summary['events'] != 1)} "
            f"from {number(summary['customers'])} customer{'s' * (summary['customers'] != 1)}, "
            f"{str(summary['first_event'])[:10]} to {str(summary['last_event'])[:10]}.")
    if has_conversions:
        text += f" Conversions are {join(conversion_events, 'or')} events"
        text += (f"; touches are `{touch_col}` values up to {window} before each conversion; Markov order "
                 f"{markov_order}; {n_bootstrap} bootstrap replicates." if has_touch else ".")
    return text


def journeys_finding(js: pd.DataFrame, *, touch_col: str, window: str, distinct_paths: int,
                     conversions_without_touches: int = 0) -> str | None:
    """``**N journeys** from the log: …`` from :func:`cjlib.attribution.journey_summary`.

    Parameters
    ----------
    js : DataFrame
        :func:`cjlib.attribution.journey_summary` output.
    touch_col : str
        The column whose values are the touches.
    window : str
        How far before a conversion touches count.
    distinct_paths : int
        Rows of the paths table.
    conversions_without_touches : int, default 0
        Conversions left out for want of a touch.

    Returns
    -------
    str or None
        None without any journey.
    """
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
        text += f" {number(conversions_without_touches)} conversions had no touch within {window} and are left out."
    return text


def journeys_title(js: pd.DataFrame) -> str:
    """The path-length chart's title: whether converting journeys are longer.

    Parameters
    ----------
    js : DataFrame
        :func:`cjlib.attribution.journey_summary` output.

    Returns
    -------
    str
    """
    m_conv, m_null = js.loc["converting", "mean touches"], js.loc["not converting", "mean touches"]
    if not (is_number(m_conv) and is_number(m_null)) or not _differ(round(m_conv, 1), round(m_null, 1)):
        return "Touches per journey, converting and not converting"
    longer = "more" if m_conv > m_null else "fewer"
    return (f"Converting journeys have {longer} touches ({number(m_conv, '.1f')} against "
            f"{number(m_null, '.1f')} on average)")


# -------------------------------------------------------------------------------------------- models
def _top_channel(attributed: pd.DataFrame, models: Sequence[str], total: float,
                 min_conversions: int) -> tuple[str, bool] | None:
    """(channel earning materially the most on average over the models, whether it leads under every model)."""
    if share(0, total, min_total=min_conversions) is None or attributed.empty:
        return None
    conv = attributed[list(models)]
    top = _clear_leader(conv.mean(axis=1), gap=HANDFUL)
    if top is None:
        return None
    every = all((lead := leader(conv[m].round(), min_size=0)) is not None and lead[0] == top[0] for m in models)
    return str(top[0]), every


def _top_phrase(attributed: pd.DataFrame, models: Sequence[str], total: float, top: tuple[str, bool]) -> str:
    conv = attributed[list(models)].loc[top[0]]
    return (f"{top[0]} earns the most conversions {'under every model' if top[1] else 'on average over the models'} "
            f"({_range(conv.min(), conv.max())} of {number(total)})")


def _agreement(attributed: pd.DataFrame, models: Sequence[str]) -> str | None:
    """A clause saying the models agree on every channel, when they do (None otherwise)."""
    if len(models) < 2:
        return None
    how = _alike(attributed[list(models)])
    if how == "the same":
        return "every model gives each channel the same credit"
    if how == "alike":
        return f"the models differ by less than 10% (or {HANDFUL} conversions) on every channel"
    return None


def model_title(attributed: pd.DataFrame, models: Sequence[str], total: float, *,
                min_conversions: int = MIN_CONVERSIONS) -> str:
    """The model-comparison chart's title: the leading channel (only when it leads materially) and where the
    models disagree most (only when they disagree materially), or that they agree.

    Parameters
    ----------
    attributed : DataFrame
        Channel × model conversions (``ModelComparison.attributed``).
    models : sequence of str
        The models compared.
    total : float
        The conversions shared out.
    min_conversions : int, default MIN_CONVERSIONS
        Fewest attributed conversions a claim is made from.

    Returns
    -------
    str
    """
    top = _top_channel(attributed, models, total, min_conversions)
    parts = [_top_phrase(attributed, models, total, top)] if top is not None else []
    conv = attributed[list(models)]
    low, high = conv.min(axis=1), conv.max(axis=1)
    material = [c for c in conv.index if _differ(low[c], high[c], gap=HANDFUL)]
    spread = (high[material] / low[material].where(low[material] > 0)).fillna(np.inf)  # from 0: no end
    vary = (_most(spread, tolerance=0.05)  # ratios that print alike (one decimal) are a tie
            if np.isfinite(spread.to_numpy()).all() else None)
    if vary is not None and low[vary] >= min_conversions:
        parts.append(f"models disagree most on {vary} ({times(spread[vary])})")
    agree = _agreement(attributed, models) if share(0, total, min_total=min_conversions) is not None else None
    if agree is not None:
        parts.append(agree)
    if not parts:
        return "Attributed conversions per channel under each model"
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] if top is None else text


def _against_last_touch(attributed: pd.DataFrame, min_conversions: int) -> str | None:
    """Markov against last touch: the channel Markov credits materially more (it assists journeys others
    close) and the one it credits materially less (it closes journeys others open); or that they agree."""
    lt, mv = attributed["last_touch"], attributed["markov"]
    ratio = (mv / lt.where(lt > 0)).dropna()
    ratio = ratio[lt.reindex(ratio.index) >= min_conversions]
    up = ratio[[r >= MATERIAL and mv[c] - lt[c] >= HANDFUL for c, r in ratio.items()]]
    down = ratio[[r <= 1 / MATERIAL and lt[c] - mv[c] >= HANDFUL for c, r in ratio.items()]]
    best = _most(up, tolerance=0.005)  # ratios that print alike (two decimals) are a tie
    worst = _most(down, tolerance=0.005, largest=False)
    clauses = []
    if best is not None:
        clauses.append(f"**{best}** {times(ratio[best], 2)} ({number(lt[best])} → {number(mv[best])}: it assists "
                       "journeys others close)")
    if worst is not None:
        clauses.append(f"**{worst}** {times(ratio[worst], 2)} ({number(lt[worst])} → {number(mv[worst])}: it "
                       "closes journeys others open)")
    if clauses:
        return f"- Against last touch, Markov credits {' and '.join(clauses)}."
    how = _alike(attributed[["last_touch", "markov"]])
    if how == "the same":
        return "- Markov gives every channel the same credit as last touch."
    if how == "alike":
        return f"- Markov and last touch differ by less than 10% (or {HANDFUL} conversions) on every channel."
    return None


def markov_lines(mk: pd.DataFrame, attributed: pd.DataFrame, *, models: Sequence[str], order: int,
                 interval: pd.DataFrame | None = None, min_conversions: int = MIN_CONVERSIONS) -> list[str]:
    """Markov findings: P(conversion), the largest removal effect, Markov against last touch, the widest
    interval. Lines are left out when not earned.

    Parameters
    ----------
    mk : DataFrame
        :func:`cjlib.attribution.markov` output.
    attributed : DataFrame
        Channel × model conversions.
    models : sequence of str
        The models compared.
    order : int
        The Markov order.
    interval : DataFrame, optional
        :func:`cjlib.attribution.bootstrap` of ``markov``.
    min_conversions : int, default MIN_CONVERSIONS
        Fewest attributed conversions a claim is made from.

    Returns
    -------
    list of str
    """
    p = mk.attrs.get("p_conversion")
    total = float(mk["conversions"].sum())
    lines = []
    if not is_number(p):
        return lines
    first = (f"- The Markov chain (order {order}, {number(mk.attrs.get('n_states', 0))} states) converts "
             f"**{pct(p, 1)}** of journeys from the start")
    big = (leader(mk["removal_effect"], min_size=0, tolerance=0.0005)
           if share(0, total, min_total=min_conversions) is not None else None)
    if big is not None:
        first += (f"; without **{big[0]}** it would convert {pct(p * (1 - big[1]), 1)} "
                  f"(removal effect {pct(big[1], 1)})")
    lines.append(first + ".")
    if {"markov", "last_touch"} <= set(models) and share(0, total, min_total=min_conversions) is not None:
        line = _against_last_touch(attributed, min_conversions)
        if line is not None:
            lines.append(line)
    if interval is not None and len(interval):
        est = interval["estimate"]
        width = ((interval["upper"] - interval["lower"]) / est.where(est > 0)).dropna()
        widest = _clear_leader(width, est, min_size=min_conversions)
        if widest is not None:
            w = widest[0]
            lines.append(f"- The widest Markov interval, relative to its estimate, is {w}'s "
                         f"({number(interval.loc[w, 'lower'])}–{number(interval.loc[w, 'upper'])} around "
                         f"{number(interval.loc[w, 'estimate'])}).")
    return lines


def transition_title(tm: pd.DataFrame, *, min_journeys: int = MIN_CONVERSIONS) -> str:
    """The transition heatmap's title: after which channel journeys convert most and least often, and
    which channel most journeys start with.

    Parameters
    ----------
    tm : DataFrame
        :func:`cjlib.attribution.transition_matrix` output.
    min_journeys : int, default MIN_CONVERSIONS
        Fewest journeys leaving a channel for it to be ranked.

    Returns
    -------
    str
    """
    out_of = tm.groupby("channel_from")["count"].sum()
    to_conv = tm[tm["channel_to"] == "(conversion)"].set_index("channel_from")["transition_probability"]
    to_conv = to_conv.reindex(out_of.drop("(start)", errors="ignore").index).fillna(0.0)
    parts = []
    r = _spread(to_conv, out_of, min_size=min_journeys)
    if r is not None:
        parts.append(f"Journeys convert most often straight after {r.best} ({pct(r.best_value)}) and least after "
                     f"{r.worst} ({pct(r.worst_value)})")
    starts = tm[tm["channel_from"] == "(start)"].set_index("channel_to")["transition_probability"]
    first = leader(starts, min_size=0, tolerance=0.005) if out_of.get("(start)", 0) >= min_journeys else None
    if first is not None:
        parts.append(f"{pct(first[1])} start with {first[0]}")
    return "; ".join(parts) if parts else "Transition probabilities between channels (first-order chain)"


# -------------------------------------------------------------------------------------------- stages
def _earned(fr: pd.DataFrame, min_conversions: int) -> bool:
    return share(0, fr["conversions"].sum(), min_total=min_conversions) is not None


def _leaders(table: pd.DataFrame, min_conversions: int) -> dict[str, tuple[str, float]]:
    """Per transition with enough conversions, the one channel whose share leads every other materially."""
    out = {}
    for t, fr in table.groupby("transition", sort=False):
        f = fr.set_index("channel")
        lead = _clear_leader(f["conversions"], gap=HANDFUL) if _earned(fr, min_conversions) else None
        if lead is not None:
            out[t] = (lead[0], float(f.loc[lead[0], "share"]))
    return out


def stage_share_title(sa, *, min_conversions: int = MIN_CONVERSIONS) -> str:
    """The stage × channel share heatmap's title (``sa``, a :class:`cjlib.attribution.StageAttribution`):
    the channel leading most transitions.

    Parameters
    ----------
    sa : StageAttribution
        :func:`cjlib.attribution.stage_attribution` output.
    min_conversions : int, default MIN_CONVERSIONS
        Fewest attributed conversions a claim is made from.

    Returns
    -------
    str
    """
    leaders = _leaders(sa.table, min_conversions)
    n = sa.table["transition"].nunique()
    n_earned = sum(_earned(fr, min_conversions) for _, fr in sa.table.groupby("transition", sort=False))
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
    """Most and least lift among channels with ``min_touches`` touches, when they differ materially."""
    if not _earned(fr, min_conversions):
        return None
    f = fr.set_index("channel")
    return _spread(f["lift"], f["touches"], min_size=min_touches)


def _lifts_alike(fr: pd.DataFrame, min_touches: int, min_conversions: int) -> str | None:
    """``"per touch, no channel …"`` when two or more channels have ``min_touches`` touches and none moves
    customers forward materially more than another (None otherwise)."""
    f = fr.set_index("channel")
    lift = f.loc[f["touches"] >= min_touches, "lift"].dropna()
    if not _earned(fr, min_conversions) or len(lift) < 2 or _differ(lift.min(), lift.max()):
        return None
    return (f"per touch, no channel moves customers forward materially more than another "
            f"({_range(lift.min(), lift.max(), '.2f')}× the average)")


def stage_lift_title(sa, focus: str | None, *, min_touches: int,
                     min_conversions: int = MIN_CONVERSIONS) -> str:
    """The lift heatmap's title: per touch, which channel moves customers through ``focus`` most and least
    (``sa``: a :class:`cjlib.attribution.StageAttribution`).

    Parameters
    ----------
    sa : StageAttribution
        :func:`cjlib.attribution.stage_attribution` output.
    focus : str or None
        The transition the title is about (:func:`cjlib.attribution.focus_transition`).
    min_touches : int
        Fewest touches a channel needs to be ranked.
    min_conversions : int, default MIN_CONVERSIONS
        Fewest attributed conversions a claim is made from.

    Returns
    -------
    str
    """
    fr = sa.table[sa.table["transition"] == focus]
    r = _lift_ranking(fr, min_touches, min_conversions) if len(fr) else None
    if r is None:
        return "Attributed conversions per touch, against each transition's average"
    return (f"Per touch, {r.best} moves customers from {transition_label(focus)} most ({times(r.best_value, 2)} "
            f"the average) and {r.worst} least ({times(r.worst_value, 2)})")


def stage_lines(sa, *, min_touches: int, min_conversions: int = MIN_CONVERSIONS) -> list[str]:
    """One line per stage transition of a :class:`cjlib.attribution.StageAttribution`: how many move on, who
    earns the most credit, who moves most per touch.

    Parameters
    ----------
    sa : StageAttribution
        :func:`cjlib.attribution.stage_attribution` output.
    min_touches : int
        Fewest touches a channel needs to be ranked.
    min_conversions : int, default MIN_CONVERSIONS
        Fewest attributed conversions a claim is made from.

    Returns
    -------
    list of str
    """
    lines = []
    leaders = _leaders(sa.table, min_conversions)
    for t, fr in sa.table.groupby("transition", sort=False):
        rate = sa.p_conversion.get(t)
        line = f"- **{transition_label(t)}**"
        if is_number(rate):
            line += f" ({pct(rate)} of the customers at {_source(t)} with a touch move on)"
        if not _earned(fr, min_conversions):
            n_c = fr["conversions"].sum()
            lines.append(f"{line}: {number(n_c)} attributed conversion{'' if round(n_c) == 1 else 's'}, too few to "
                         "compare channels.")
            continue
        clauses = [f"{leaders[t][0]} earns {pct(leaders[t][1])} of the credit" if t in leaders else
                   "no channel earns materially more of the credit than every other"]
        r = _lift_ranking(fr, min_touches, min_conversions)
        alike = _lifts_alike(fr, min_touches, min_conversions)
        if r is not None:
            clauses.append(f"per touch, {r.best} moves customers forward most ({times(r.best_value, 2)} the average) "
                           f"and {r.worst} least ({times(r.worst_value, 2)})")
        elif alike is not None:
            clauses.append(alike)
        lines.append(f"{line}: {'; '.join(clauses)}.")
    skipped = list(sa.skipped)
    if skipped:
        lines.append(f"- {join([transition_label(t) for t in skipped])}: no customer with a touch moves on, so "
                     f"{'it is' if len(skipped) == 1 else 'they are'} not attributed.")
    return lines


# -------------------------------------------------------------------------------------------- channel effects
def effects_method(adjusted_by: str) -> str:
    """What the channel-effects section measures (shown only when it runs).

    Parameters
    ----------
    adjusted_by : str
        What visits are compared within (``Adjustment.label``).

    Returns
    -------
    str
    """
    text = ("Attribution shares out conversions; it does not say what a channel *does*, and it is confounded by "
            "who uses each channel (if loyal buyers arrive by email, email is credited with their loyalty). Here "
            "the unit is a visit: of the visits by customers at a stage, how often does a visit from each channel "
            "move the customer to the next stage")
    if adjusted_by.startswith("nothing"):
        return text + " (×1.3 means 30 % more often than an average visit). Intervals: bootstrap over customers."
    return (text + f", **compared with visits by similar customers** ({adjusted_by}; a Poisson model with segment "
            "and channel factors, fitted by maximum likelihood; ×1.3 means 30 % more often than an average visit "
            "by the same kind of customer). Intervals: bootstrap over customers.")


def _comparable(fr: pd.DataFrame, min_sessions: int) -> pd.DataFrame:
    """The channels whose effect the data can identify: ``min_sessions`` or more visits in segments another
    channel also reaches (``compared`` of :func:`cjlib.attribution.channel_effects`; all when it is absent)."""
    f = fr.set_index("channel")
    return f[f["compared"] >= max(min_sessions, 1)] if "compared" in f.columns else f


def _outside_one(f: pd.DataFrame, c: str, above: bool) -> bool:
    """Whether channel ``c``'s interval lies wholly above (below) 1."""
    if not {"lower", "upper"} <= set(f.columns) or not (is_number(f.loc[c, "lower"]) and is_number(f.loc[c, "upper"])):
        return False
    return f.loc[c, "lower"] > 1 if above else f.loc[c, "upper"] < 1


def _named_effects(fr: pd.DataFrame, min_sessions: int) -> tuple[str | None, str | None]:
    """(channel whose visits move customers on materially more often than average, one materially less
    often): only when the highest and lowest identified effects differ materially, each only when its
    interval excludes 1."""
    f = _comparable(fr, min_sessions)
    r = _spread(f["effect"]) if len(f) > 1 else None
    if r is None:
        return None, None
    hi = r.best if r.best_value > 1 and _outside_one(f, r.best, True) else None
    lo = r.worst if r.worst_value < 1 and _outside_one(f, r.worst, False) else None
    return hi, lo


def _unidentified(fr: pd.DataFrame, min_sessions: int, adjusted_by: str) -> str | None:
    """Why the adjusted effects at this transition cannot be compared (None when they can)."""
    if len(_comparable(fr, min_sessions)) > 1:
        return None
    if "compared" in fr.columns and (fr["compared"] == 0).all():
        return (f"each segment ({adjusted_by}) visits through one channel only, so the adjustment cannot separate "
                "what a channel does from who uses it")
    return (f"fewer than two channels have {number(min_sessions)} or more visits in segments ({adjusted_by}) that "
            "another channel also reaches, so the adjustment cannot separate what a channel does from who uses it")


def effects_title(shown: pd.DataFrame, key: str | None, adjusted_by: str, *, min_sessions: int = 0) -> str:
    """The channel-effects heatmap's title for the transition ``key``: the channels whose effect is
    materially above (below) average with an interval excluding 1, else a neutral description.

    Parameters
    ----------
    shown : DataFrame
        The rows :func:`cjlib.effects.shown_effects` shows.
    key : str or None
        The transition the title is about.
    adjusted_by : str
        What visits are compared within.
    min_sessions : int, default 0
        Fewest visits a channel needs.

    Returns
    -------
    str
    """
    fr = shown[shown["transition"] == key] if key is not None else shown.iloc[:0]
    neutral = "How often a visit from each channel moves customers to the next stage, against the average visit"
    if fr.empty:
        return neutral
    if _unidentified(fr, min_sessions, adjusted_by) is not None:
        return f"{neutral}: adjusted for {adjusted_by}, the channels cannot be told apart from their customers"
    hi, lo = _named_effects(fr, min_sessions)
    if hi is None and lo is None:
        return neutral
    f = fr.set_index("channel")
    lead = f"Adjusted for {adjusted_by}, a" if not adjusted_by.startswith("nothing") else "A"
    where = transition_label(key).replace(" → ", " to ")
    if hi is not None:
        title = f"{lead} visit from {hi} moves customers from {where} {times(f.loc[hi, 'effect'], 2)} as often as average"
        return title + (f"; one from {lo} {times(f.loc[lo, 'effect'], 2)}" if lo is not None else "")
    return f"{lead} visit from {lo} moves customers from {where} only {times(f.loc[lo, 'effect'], 2)} as often as average"


def _with_interval(f: pd.DataFrame, c: str) -> str:
    text = times(f.loc[c, "effect"], 2)
    if {"lower", "upper"} <= set(f.columns) and is_number(f.loc[c, "lower"]) and is_number(f.loc[c, "upper"]):
        text += f" ({_range(f.loc[c, 'lower'], f.loc[c, 'upper'], '.2f')})"
    return text


def _unadjusted_gap(f: pd.DataFrame) -> str | None:
    """``"X 1.23× and Y 0.78×"`` when the unadjusted effects differ materially."""
    if "effect_unadjusted" not in f.columns:
        return None
    r = _spread(f["effect_unadjusted"])
    return None if r is None else f"{r.best} {times(r.best_value, 2)} and {r.worst} {times(r.worst_value, 2)}"


def _effect_line(fr: pd.DataFrame, t: str, min_sessions: int, adjusted_by: str) -> str:
    f = fr.set_index("channel")
    adjusted = not adjusted_by.startswith("nothing")
    hi, lo = _named_effects(fr, min_sessions)
    named = [c for c in (hi, lo) if c is not None]
    if named:
        line = f"- **{transition_label(t)}**: " + ", ".join(f"{c} {_with_interval(f, c)}" for c in named)
        un = [f.loc[c, "effect_unadjusted"] for c in named] if "effect_unadjusted" in f.columns else []
        if adjusted and all(is_number(u) for u in un) and not np.allclose(un, [f.loc[c, "effect"] for c in named]):
            line += "; unadjusted " + ", ".join(f"{c} {times(u, 2)}" for c, u in zip(named, un))
        return line + "."
    comp = _comparable(fr, min_sessions)["effect"].dropna()
    if _spread(comp) is None:
        line = (f"- **{transition_label(t)}**: no channel's visits move customers on materially more or less often "
                f"than another's ({_range(comp.min(), comp.max(), '.2f')}×)")
        gap = _unadjusted_gap(f) if adjusted else None
        if gap is not None:
            line += f"; unadjusted, {gap}: the gap comes from which customers use each channel"
        return line + "."
    return (f"- **{transition_label(t)}**: the channels' effects differ, but no channel's interval excludes the "
            "average visit's (1×).")


def effects_lines(shown: pd.DataFrame, transitions: Sequence[str], skipped: Sequence[str], *,
                  min_sessions: int, adjusted_by: str = "") -> list[str]:
    """One line per transition shown: the channels whose visits move customers on materially more (less)
    often than average, with intervals and the unadjusted effects; or that no channel's does; or why the
    adjustment cannot tell channels apart (said once when that holds at every transition). A last line for
    the transitions left out.

    Parameters
    ----------
    shown, transitions, skipped
        :func:`cjlib.effects.shown_effects` output.
    min_sessions : int
        Fewest visits a channel needs.
    adjusted_by : str
        What visits are compared within.

    Returns
    -------
    list of str
    """
    lines, why = [], {}
    for t in transitions:
        fr = shown[shown["transition"] == t]
        if fr.empty:
            continue
        why[t] = _unidentified(fr, min_sessions, adjusted_by or "segments")
        if why[t] is None:
            lines.append(_effect_line(fr, t, min_sessions, adjusted_by))
    reasons = set(why.values())
    if len(why) > 1 and len(reasons) == 1 and None not in reasons:
        lines = [f"- At every transition, {reasons.pop()}."]
    else:
        lines = [f"- **{transition_label(t)}**: {w}." if w is not None else lines.pop(0) for t, w in why.items()]
    if skipped:
        lines.append(f"\n*Left out:* {join([transition_label(t) for t in skipped])} (fewer than two channels with "
                     f"{number(min_sessions)} or more visits advance customers there).")
    return lines


# -------------------------------------------------------------------------------------------- contribution
def contribution_title(contrib, model: str, *, min_conversions: int = MIN_CONVERSIONS) -> str:
    """The stage-contribution chart's title (``contrib``: a :class:`cjlib.attribution.StageContribution`): the
    stage whose touchpoints earn the largest share, stated only from at least ``min_conversions`` attributed
    conversions and without a tie.

    Parameters
    ----------
    contrib : StageContribution
        :func:`cjlib.attribution.stage_contribution` output.
    model : str
        The model, named in the title.
    min_conversions : int, default MIN_CONVERSIONS
        Fewest attributed conversions a claim is made from.

    Returns
    -------
    str
    """
    table, total = contrib.table, contrib.conversions
    tied = contrib.events_tied  # shares would only count each stage's events
    lead = _clear_leader(table.set_index("stage")["conversions"], gap=HANDFUL) if len(table) and not tied else None
    part = share(lead[1], total, min_total=min_conversions) if lead is not None else None
    if part is None:
        return f"Attributed conversions by the stage of the touchpoint ({model})"
    return f"{_stage_name(str(lead[0]))} earn {pct(part)} of the attributed conversions ({model})"


# -------------------------------------------------------------------------------------------- costs
def _paid(cpc: pd.DataFrame, model: str) -> pd.DataFrame:
    return cpc[(cpc["model"] == model) & cpc["spend"].notna()].set_index("channel")


def _cost_ranking(cpc: pd.DataFrame, model: str, min_conversions: int):
    m = _paid(cpc, model)
    return _spread(m["cost_per_conversion"], m["conversions"], min_size=min_conversions, higher_is_better=False)


def cost_title(cpc: pd.DataFrame, model: str, *, min_conversions: int = MIN_CONVERSIONS) -> str:
    """The cost chart's title: the cheapest and dearest attributed conversion under ``model``.

    Parameters
    ----------
    cpc : DataFrame
        :func:`cjlib.attribution.cost_per_conversion` output.
    model : str
        The model whose costs are stated.
    min_conversions : int, default MIN_CONVERSIONS
        Fewest attributed conversions a claim is made from.

    Returns
    -------
    str
    """
    r = _cost_ranking(cpc, model, min_conversions)
    if r is None:
        return "Spend per attributed conversion, by channel and model"
    title = (f"Under {model} attribution, a conversion from {r.best} costs {number(r.best_value, ',.2f')}; from "
             f"{r.worst} {number(r.worst_value, ',.2f')}")
    ratio = rate(r.worst_value, r.best_value)
    return title + (f" ({times(ratio, 0 if ratio >= 10 else 1)})" if ratio is not None else "")


def cost_finding(cpc: pd.DataFrame, model: str, *, has_revenue: bool,
                 min_conversions: int = MIN_CONVERSIONS) -> str | None:
    """``**Costs:** spend on paid channels``, and return on spend when revenue is known and earned.

    Parameters
    ----------
    cpc : DataFrame
        :func:`cjlib.attribution.cost_per_conversion` output.
    model : str
        The model whose costs are stated.
    has_revenue : bool
        Whether return on spend may be stated.
    min_conversions : int, default MIN_CONVERSIONS
        Fewest attributed conversions a claim is made from.

    Returns
    -------
    str or None
    """
    m = _paid(cpc, model)
    if m.empty:
        return None
    unpaid = sorted(set(cpc.loc[cpc["model"] == model, "channel"]) - set(m.index))
    text = (f"**Costs:** {number(m['spend'].sum())} spent on {len(m)} paid channel{'s' if len(m) != 1 else ''}"
            + (f" ({join(unpaid)} {'carries' if len(unpaid) == 1 else 'carry'} no spend)" if unpaid else ""))
    if has_revenue and "roi" in m.columns and m.get("value", pd.Series(dtype=float)).sum() > 0:
        r = _spread(m["roi"], m["conversions"], min_size=min_conversions, digits=1)
        if r is not None:
            return (text + f". Return on spend (attributed revenue ÷ spend, {model}) is highest for {r.best} "
                    f"({times(r.best_value)}) and lowest for {r.worst} ({times(r.worst_value)}).")
    return text + "."


# -------------------------------------------------------------------------------------------- summary
def summary_lines(*, js: pd.DataFrame | None = None, mk: pd.DataFrame | None = None,
                  attributed: pd.DataFrame | None = None, models: Sequence[str] = (),
                  sa=None, min_touches: int = 100, contrib=None,
                  stage_model: str = "markov", cpc: pd.DataFrame | None = None, cost_model: str = "markov",
                  min_conversions: int = MIN_CONVERSIONS) -> list[str]:
    """The report's closing findings from whichever results exist (a missing one adds no line); ``sa`` and
    ``contrib`` are a :class:`cjlib.attribution.StageAttribution` and :class:`~cjlib.attribution.StageContribution`.

    Parameters
    ----------
    js, mk, attributed, sa, contrib, cpc : optional
        The results that exist (journey summary, Markov, model comparison, stage attribution, stage
        contribution, cost per conversion).
    models : sequence of str
        The models compared.
    min_touches : int
        Fewest touches a channel needs to be ranked.
    stage_model, cost_model : str
        The models of the stage sections and of the costs.
    min_conversions : int, default MIN_CONVERSIONS
        Fewest attributed conversions a claim is made from.

    Returns
    -------
    list of str
    """
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
            lines.append(f"- **{top[0]}**{_top_phrase(attributed, models, total, top)[len(top[0]):]}.")
    if sa is not None and len(sa.table):
        leaders = _leaders(sa.table, min_conversions)
        for t, fr in sa.table.groupby("transition", sort=False):
            r = _lift_ranking(fr, min_touches, min_conversions)
            clauses = [f"{leaders[t][0]} earns the most credit"] if t in leaders else []
            if r is not None:
                clauses.append(f"{r.best} moves customers forward most per touch ({times(r.best_value, 2)})")
            if clauses:
                lines.append(f"- {transition_label(t)}: {'; '.join(clauses)}.")
    if contrib is not None and len(contrib.table):
        title = contribution_title(contrib, stage_model, min_conversions=min_conversions)
        if not title.startswith("Attributed conversions by"):
            lines.append(f"- {title.rsplit(' (', 1)[0]}.")
    if cpc is not None:
        r = _cost_ranking(cpc, cost_model, min_conversions)
        if r is not None:
            lines.append(f"- Under {cost_model} attribution, {r.best} conversions are the cheapest "
                         f"({number(r.best_value, ',.2f')} each) and {r.worst} the dearest "
                         f"({number(r.worst_value, ',.2f')}).")
    return lines


# -------------------------------------------------------------------------------------------- report sections
# what 02 records per section and says where a section cannot run: one call per section in the notebook

# section key of channel_left_out → (name report.left_out gives it, name said_above gives it; None: nothing)
_SECTIONS = {
    "journey summary": ("journey summary", None),
    "model comparison": ("model comparison", "model comparison"),
    "transitions": ("transition heatmap", "transition probabilities"),
    "stage attribution": ("stage attribution", "stage attribution"),
    "channel effects": ("channel-effect estimate", "channel effects"),
    "stage contribution": ("stage contribution", None),
    "cost per conversion": ("cost per conversion", "cost per conversion"),
}


def left_out_once(reasons: Mapping[str, str]) -> set[str]:
    """:func:`cjlib.report.left_out` once for each reason that two or more sections share
    (:func:`channel_left_out`); returns the sections it covered, for :func:`leave_out`.

    Parameters
    ----------
    reasons : mapping
        Section → why it cannot run ('' when it can), in report order.

    Returns
    -------
    set of str
    """
    from cjlib import report

    groups, covered = channel_left_out(reasons)
    for section, reason in groups:
        report.left_out(section, reason)
    return covered


def leave_out(section: str, reason: str, covered: set[str] | frozenset[str] = frozenset()) -> None:
    """Say in the report that ``section`` is not shown: :func:`cjlib.report.left_out` with ``reason``, or,
    when the reason was already said once for the group (``covered`` of :func:`channel_left_out`), only
    :func:`said_above` (the journey summary then says nothing more).

    Parameters
    ----------
    section : str
        One of ``journey summary``, ``model comparison``, ``transitions``, ``stage attribution``,
        ``channel effects``, ``stage contribution``, ``cost per conversion``.
    reason : str
        Why it cannot run, one sentence.
    covered : set of str
        The sections whose reason :func:`channel_left_out` gave for the group.

    Returns
    -------
    None
        Writes to the report.
    """
    from cjlib import report

    if section not in _SECTIONS:
        raise ValueError(f"section must be one of {list(_SECTIONS)}, got {section!r}")
    name, said_as = _SECTIONS[section]
    if section not in covered:
        report.left_out(name, reason)
    elif said_as is not None:
        report.finding(said_above(said_as))


def no_paths_reason(paths: pd.DataFrame, *, touch_col: str, window: str) -> str:
    """Why the paths table carries nothing to attribute ('' when a conversion has a touch).

    Parameters
    ----------
    paths : DataFrame
        The paths table.
    touch_col : str
        The column whose values are the touches.
    window : str
        How far before a conversion touches count.

    Returns
    -------
    str

    Examples
    --------
    >>> no_paths_reason(pd.DataFrame({"conversions": [0.0]}), touch_col="channel", window="30D")
    'No conversion has a `channel` touch within 30D before it.'
    """
    return "" if paths["conversions"].sum() > 0 else f"No conversion has a `{touch_col}` touch within {window} before it."


def no_stages_reason(sa, *, touch_col: str) -> str:
    """Why a :class:`cjlib.attribution.StageAttribution` shows nothing ('' when a transition has attributed
    conversions).

    Parameters
    ----------
    sa : StageAttribution
        :func:`cjlib.attribution.stage_attribution` output.
    touch_col : str
        The column whose values are the touches.

    Returns
    -------
    str
    """
    return "" if len(sa.table) else (f"No customer with a `{touch_col}` touch moves on at any stage transition of the "
                               "stage map.")


def no_effects_reason(transitions: Sequence[str], *, min_touches: int) -> str:
    """Why channel effects show nothing ('' when ``transitions``, those :func:`cjlib.effects.shown_effects`
    shows, is not empty).

    Parameters
    ----------
    transitions : sequence of str
        The transitions shown.
    min_touches : int
        Fewest visits a channel needs.

    Returns
    -------
    str

    Examples
    --------
    >>> no_effects_reason([], min_touches=1000)
    'At no stage do visits from two or more channels (each with 1,000 visits or more, `min_touches`) move customers on.'
    """
    return "" if len(transitions) else (f"At no stage do visits from two or more channels (each with "
                                        f"{min_touches:,} visits or more, `min_touches`) move customers on.")


def no_contribution_reason(contrib, *, window: str) -> str:
    """Why a :class:`cjlib.attribution.StageContribution` shows nothing ('' when a conversion has a touchpoint).

    Parameters
    ----------
    contrib : StageContribution
        :func:`cjlib.attribution.stage_contribution` output.
    window : str
        How far before a conversion touchpoints count.

    Returns
    -------
    str
    """
    return "" if len(contrib.table) else f"No conversion has a touchpoint event within {window} before it."


def data_metrics(summary: Mapping) -> dict:
    """``n_events`` and ``n_customers`` of :meth:`cjlib.io.Inputs.summary`.

    Parameters
    ----------
    summary : mapping
        :meth:`cjlib.io.Inputs.summary`.

    Returns
    -------
    dict

    Examples
    --------
    >>> data_metrics({"events": 10, "customers": 3, "first_event": "2025-01-01"})
    {'n_events': 10, 'n_customers': 3}
    """
    return {"n_events": summary["events"], "n_customers": summary["customers"]}


def journeys_metrics(js: pd.DataFrame, paths: pd.DataFrame) -> dict:
    """``journeys``: converting and non-converting journeys, distinct paths, mean touches of each kind.

    Parameters
    ----------
    js : DataFrame
        :func:`cjlib.attribution.journey_summary` of ``paths``.
    paths : DataFrame
        The paths table.

    Returns
    -------
    dict
    """
    return {"journeys": {"converting": js.loc["converting", "journeys"],
                         "not_converting": js.loc["not converting", "journeys"], "distinct_paths": len(paths),
                         "mean_touches_converting": js.loc["converting", "mean touches"],
                         "mean_touches_not_converting": js.loc["not converting", "mean touches"]}}


def model_metrics(comparison) -> dict:
    """``attribution`` (model → channel → conversions), ``p_conversion`` (Markov), ``removal_effect`` and
    ``intervals`` (model → channel → [lower, upper]) of a :class:`cjlib.attribution.ModelComparison`.

    Parameters
    ----------
    comparison : ModelComparison
        :func:`cjlib.attribution.model_comparison` output.

    Returns
    -------
    dict
    """
    return {"attribution": {m: comparison.attributed[m].to_dict() for m in comparison.models},
            "p_conversion": comparison.markov.attrs["p_conversion"],
            "removal_effect": comparison.markov["removal_effect"].to_dict(),
            "intervals": {m: {c: [r.lower, r.upper] for c, r in iv.iterrows()}
                          for m, iv in comparison.intervals.items()}}


def markov_finding(comparison, *, order: int) -> str:
    """:func:`markov_lines` of a :class:`cjlib.attribution.ModelComparison`, one Markdown block.

    Parameters
    ----------
    comparison : ModelComparison
        :func:`cjlib.attribution.model_comparison` output.
    order : int
        The Markov order.

    Returns
    -------
    str
    """
    return "\n".join(markov_lines(comparison.markov, comparison.attributed, models=comparison.models, order=order,
                                  interval=comparison.intervals.get("markov")))


def transition_metrics(tm: pd.DataFrame) -> dict:
    """``p_conversion_after``: per channel, the probability that the next step is a conversion.

    Parameters
    ----------
    tm : DataFrame
        :func:`cjlib.attribution.transition_matrix` output.

    Returns
    -------
    dict

    Examples
    --------
    >>> tm = pd.DataFrame({"channel_from": ["a", "a"], "channel_to": ["(conversion)", "(null)"],
    ...                    "transition_probability": [0.25, 0.75]})
    >>> transition_metrics(tm)
    {'p_conversion_after': {'a': 0.25}}
    """
    to_conv = tm[tm["channel_to"] == "(conversion)"].set_index("channel_from")["transition_probability"]
    return {"p_conversion_after": to_conv.to_dict()}


def order_note(order: int) -> str | None:
    """The note under the first-order heatmap when the model's chain is of a higher order (else ``None``).

    Parameters
    ----------
    order : int
        The Markov order of the model.

    Returns
    -------
    str or None
    """
    if order <= 1:
        return None
    return f"*Note:* the heatmap shows the first-order chain for readability; the model above uses order {order}."


def stage_metrics(sa, *, min_touches: int) -> dict:
    """The stage-attribution metrics of 02.

    Parameters
    ----------
    sa : StageAttribution
        :func:`cjlib.attribution.stage_attribution` output (its table has the ``lift`` column).
    min_touches : int
        A channel with fewer touches in a transition is not named its most effective.

    Returns
    -------
    dict
        ``top_channel_by_stage`` (most attributed conversions), ``most_effective_channel_by_stage`` (highest
        lift among channels with ``min_touches`` touches), ``stage_attribution`` and ``stage_lift``
        (transition → channel → value), ``stage_p_conversion``.

    Examples
    --------
    >>> from cjlib.attribution import StageAttribution
    >>> table = pd.DataFrame({"transition": ["a>b", "a>b"], "channel": ["x", "y"], "conversions": [3.0, 1.0],
    ...                       "touches": [10.0, 200.0], "lift": [4.0, 0.5]})
    >>> m = stage_metrics(StageAttribution(table, {"a>b": 0.5}, (), "markov"), min_touches=100)
    >>> m["top_channel_by_stage"], m["most_effective_channel_by_stage"]
    ({'a>b': 'x'}, {'a>b': 'y'})
    """
    table = sa.table
    g = table.groupby("transition", sort=False)
    effective = table[table["touches"] >= min_touches].groupby("transition", sort=False)
    return {"top_channel_by_stage": {t: f.loc[f["conversions"].idxmax(), "channel"] for t, f in g},
            "most_effective_channel_by_stage": {t: f.loc[f["lift"].idxmax(), "channel"] for t, f in effective},
            "stage_attribution": {t: dict(zip(f["channel"], f["conversions"])) for t, f in g},
            "stage_lift": {t: dict(zip(f["channel"], f["lift"])) for t, f in g},
            "stage_p_conversion": sa.p_conversion}


def stage_finding(sa, model: str, *, min_touches: int) -> str:
    """``**Stage attribution (model):**`` followed by :func:`stage_lines`.

    Parameters
    ----------
    sa : StageAttribution
        :func:`cjlib.attribution.stage_attribution` output.
    model : str
        The model, named in the heading.
    min_touches : int
        Fewest touches a channel needs to be ranked.

    Returns
    -------
    str
    """
    return f"**Stage attribution ({model}):**\n" + "\n".join(stage_lines(sa, min_touches=min_touches))


def persona_metrics(adjustment) -> dict:
    """``persona_names`` when a :class:`cjlib.effects.Adjustment` used the run's personas (else nothing).

    Parameters
    ----------
    adjustment : Adjustment
        :func:`cjlib.effects.adjustment` output.

    Returns
    -------
    dict
    """
    return {"persona_names": list(adjustment.names)} if adjustment.names else {}


def effects_intro(adjustment) -> str:
    """:func:`effects_method` for a :class:`cjlib.effects.Adjustment`, with its note when it fell back.

    Parameters
    ----------
    adjustment : Adjustment
        :func:`cjlib.effects.adjustment` output.

    Returns
    -------
    str
    """
    return effects_method(adjustment.label) + (f" *Note:* {adjustment.note}." if adjustment.note else "")


def effects_metrics(shown: pd.DataFrame, adjusted_by: str) -> dict:
    """``channel_effects`` (transition → channel → effect) of the rows shown, and ``channel_effects_adjusted_for``.

    Parameters
    ----------
    shown : DataFrame
        The rows :func:`cjlib.effects.shown_effects` shows.
    adjusted_by : str
        What visits are compared within (``Adjustment.label``).

    Returns
    -------
    dict

    Examples
    --------
    >>> shown = pd.DataFrame({"transition": ["a > b"], "channel": ["x"], "effect": [1.5]})
    >>> effects_metrics(shown, "device")
    {'channel_effects': {'a > b': {'x': 1.5}}, 'channel_effects_adjusted_for': 'device'}
    """
    return {"channel_effects": {t: dict(zip(f["channel"], f["effect"])) for t, f in shown.groupby("transition", sort=False)},
            "channel_effects_adjusted_for": adjusted_by}


def effects_finding(shown: pd.DataFrame, transitions: Sequence[str], skipped: Sequence[str], *, adjusted_by: str,
                    min_sessions: int) -> str:
    """``**Channel effects, adjusted for …:**`` followed by :func:`effects_lines`.

    Parameters
    ----------
    shown, transitions, skipped
        :func:`cjlib.effects.shown_effects` output.
    adjusted_by : str
        What visits are compared within (``Adjustment.label``).
    min_sessions : int
        Fewest visits a channel needs.

    Returns
    -------
    str
    """
    return (f"**Channel effects, adjusted for {adjusted_by}:**\n"
            + "\n".join(effects_lines(shown, transitions, skipped, min_sessions=min_sessions, adjusted_by=adjusted_by)))


def contribution_metrics(contrib) -> dict:
    """``stage_contribution``: each stage's share of the attributed conversions (of a
    :class:`cjlib.attribution.StageContribution`).

    Parameters
    ----------
    contrib : StageContribution
        :func:`cjlib.attribution.stage_contribution` output.

    Returns
    -------
    dict

    Examples
    --------
    >>> from cjlib.attribution import StageContribution
    >>> table = pd.DataFrame({"stage": ["a", "b"], "conversions": [3.0, 1.0], "share": [0.75, 0.25]})
    >>> contribution_metrics(StageContribution(table, 4.0, False, "markov"))
    {'stage_contribution': {'a': 0.75, 'b': 0.25}}
    """
    return {"stage_contribution": dict(zip(contrib.table["stage"], contrib.table["share"]))}


def cost_metrics(cpc: pd.DataFrame, *, has_revenue: bool) -> dict:
    """``cost_per_conversion`` and, with revenue, ``roi`` (model → channel → value) of the paid channels.

    Parameters
    ----------
    cpc : DataFrame
        :func:`cjlib.attribution.cost_per_conversion` output.
    has_revenue : bool
        Whether the log's revenue supports a return on spend.

    Returns
    -------
    dict

    Examples
    --------
    >>> cpc = pd.DataFrame({"model": ["m", "m"], "channel": ["x", "y"], "spend": [10.0, None],
    ...                     "cost_per_conversion": [2.0, None], "roi": [3.0, None]})
    >>> cost_metrics(cpc, has_revenue=True)
    {'cost_per_conversion': {'m': {'x': 2.0}}, 'roi': {'m': {'x': 3.0}}}
    """
    paid = cpc[cpc["spend"].notna()]
    out = {"cost_per_conversion": {m: dict(zip(f["channel"], f["cost_per_conversion"]))
                                   for m, f in paid.groupby("model", sort=False)}}
    if "roi" in paid.columns and has_revenue:
        out["roi"] = {m: dict(zip(f["channel"], f["roi"])) for m, f in paid.groupby("model", sort=False)}
    return out


def cost_model(models: Sequence[str]) -> str:
    """The model whose costs the report states: Markov when compared, else the first model.

    Parameters
    ----------
    models : sequence of str
        The models compared, in order.

    Returns
    -------
    str

    Examples
    --------
    >>> cost_model(["linear", "markov"]), cost_model(["linear", "shapley"])
    ('markov', 'linear')
    """
    return "markov" if "markov" in models else models[0]


def missing_metrics(*, paths: bool, stages: bool) -> dict:
    """The empty values 02 records for sections that did not run (so every run's metrics have the keys).

    Parameters
    ----------
    paths : bool
        Whether the paths sections ran.
    stages : bool
        Whether stage attribution ran.

    Returns
    -------
    dict

    Examples
    --------
    >>> missing_metrics(paths=False, stages=True)
    {'attribution': {}, 'p_conversion': None}
    """
    out: dict = {}
    if not paths:
        out.update(attribution={}, p_conversion=None)
    if not stages:
        out["top_channel_by_stage"] = {}
    return out


def summary_finding(*, comparison=None, **kw) -> str:
    """The closing findings (:func:`summary_lines`; ``comparison``, a :class:`cjlib.attribution.ModelComparison`,
    gives ``mk``, ``attributed`` and ``models``), or one sentence saying none is earned.

    Parameters
    ----------
    comparison : ModelComparison, optional
        :func:`cjlib.attribution.model_comparison` output.
    **kw
        The other arguments of :func:`summary_lines`.

    Returns
    -------
    str
    """
    if comparison is not None:
        kw.update(mk=comparison.markov, attributed=comparison.attributed, models=list(comparison.models))
    lines = summary_lines(**kw)
    return "\n".join(lines) if lines else "*No finding is earned on this data:* the sections above say why."
