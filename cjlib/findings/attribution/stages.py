"""The stage-attribution and stage-contribution sections of 02."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlib.findings import (
    is_number,
    join,
    leader,
    number,
    pct,
    share,
    times,
)
from cjlib.findings.attribution.common import (
    HANDFUL,
    MIN_CONVERSIONS,
    _clear_leader,
    _differ,
    _range,
    _source,
    _spread,
    _stage_name,
    transition_label,
)

STAGE_METHOD = ("Each stage transition of the stage map is attributed on its own: a customer's journey starts when "
                "it reaches the source stage and converts when it reaches the target. The first heatmap shows each "
                "channel's share of the transition's attributed conversions (volume); the second its attributed "
                "conversions per touch against the transition's average (lift: ×1 = average, above 1 moves "
                "customers forward more than its touches' share). A channel is said to move customers forward most "
                "(least) per touch only when its conversions per touch are clear of every other ranked channel's at "
                "95% (attributed conversions taken as Poisson counts); channels within that noise are named together.")


CONTRIBUTION_METHOD = ("The same model with the events themselves as touches (conversion events excluded), summed "
                       "by the stage each event belongs to.")


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


Z95 = 1.959964  # two-sided 95 %: the stated uncertainty of a per-touch "most" or "least"


def _apart(f: pd.DataFrame, a, b) -> bool:
    """Whether channels ``a`` and ``b`` convert per touch differently beyond Poisson noise on their attributed
    conversions (two-sided, 95 %)."""
    ca, cb = max(float(f.loc[a, "conversions"]), 0.0), max(float(f.loc[b, "conversions"]), 0.0)
    ta, tb = float(f.loc[a, "touches"]), float(f.loc[b, "touches"])
    se = np.sqrt(ca / ta ** 2 + cb / tb ** 2)
    return bool(se > 0 and abs(ca / ta - cb / tb) > Z95 * se)


def _lift_ends(fr: pd.DataFrame, min_touches: int, min_conversions: int):
    """``(top, bottom)``: the ranked channels within noise (:func:`_apart`) of the highest and of the lowest
    lift, each in lift order; None when :func:`_lift_ranking` names nobody."""
    if _lift_ranking(fr, min_touches, min_conversions) is None:
        return None
    f = fr.set_index("channel")
    f = f[(f["touches"] >= min_touches) & f["lift"].notna()].sort_values("lift", ascending=False, kind="stable")
    names = list(f.index)
    top = [c for c in names if c == names[0] or not _apart(f, names[0], c)]
    bottom = [c for c in reversed(names) if c == names[-1] or not _apart(f, names[-1], c)][::-1]
    return top, bottom, f["lift"]


LIST_AT_MOST = 6  # channels named in one list; a longer one names the first five and counts the rest


def _names(channels) -> str:
    """``join`` of the channels, or of the first five and ``"N others"`` past :data:`LIST_AT_MOST` (a log of
    forty channels listed 37 names in one tie)."""
    channels = list(channels)
    if len(channels) <= LIST_AT_MOST:
        return join(channels)
    return join([*channels[:LIST_AT_MOST - 1], f"{len(channels) - LIST_AT_MOST + 1} others"])


def _lift_clause(fr: pd.DataFrame, min_touches: int, min_conversions: int) -> tuple[str, bool] | None:
    """``("per touch, X moves customers forward most (…) and Y least (…)", False)`` with each end named only
    when it is clear of the other ranked channels beyond noise; tied ends are named together, in a sentence
    of their own (``True``: each name once in it, apart from the credit clause)."""
    ends = _lift_ends(fr, min_touches, min_conversions)
    if ends is None:
        return None
    top, bottom, lift = ends
    if set(top) == set(lift.index):
        every = join(list(lift.index)) if len(lift) <= LIST_AT_MOST else (
            f"the {len(lift)} channels with {number(min_touches)} or more touches")
        return (f"per touch, {every} cannot be told apart beyond noise "
                f"({_range(lift.min(), lift.max(), '.2f')}× the average)"), True
    if set(top) & set(bottom):  # the ends differ, but some channel is within noise of both
        hi, lo = top[0], bottom[-1]
        return (f"per touch, {hi} ({times(lift[hi], 2)} the average) moves customers forward more than {lo} "
                f"({times(lift[lo], 2)}) beyond noise, and {_names([c for c in lift.index if c in top and c in bottom])} "
                "cannot be told apart from either"), True
    if len(top) == 1 and len(bottom) == 1:
        return (f"per touch, {top[0]} moves customers forward most ({times(lift[top[0]], 2)} the average) and "
                f"{bottom[0]} least ({times(lift[bottom[0]], 2)})"), False
    most = (f"{top[0]} moves customers forward most ({times(lift[top[0]], 2)} the average)" if len(top) == 1 else
            f"the channels that move customers forward most, within noise of each other: {_names(top)} "
            f"({_range(lift[top].min(), lift[top].max(), '.2f')}× the average)")
    least = (f"{bottom[0]} least ({times(lift[bottom[0]], 2)})" if len(bottom) == 1 else
             f"least, too close to tell apart: {_names(bottom)} "
             f"({_range(lift[bottom].min(), lift[bottom].max(), '.2f')}×)")
    return f"per touch, {most}; {least}", True


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
    ends = _lift_ends(fr, min_touches, min_conversions) if len(fr) else None
    if ends is None or len(ends[0]) > 1 or len(ends[1]) > 1:
        return "Attributed conversions per touch, against each transition's average"
    (best,), (worst,), lift = ends
    return (f"Per touch, {best} moves customers from {transition_label(focus)} most ({times(lift[best], 2)} "
            f"the average) and {worst} least ({times(lift[worst], 2)})")


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
        lift = _lift_clause(fr, min_touches, min_conversions)
        alike = _lifts_alike(fr, min_touches, min_conversions)
        apart = ""
        if lift is not None and lift[1]:  # ties list names: a sentence of its own, each name once in it
            apart = f" {lift[0][:1].upper()}{lift[0][1:]}."
        elif lift is not None:
            clauses.append(lift[0])
        elif alike is not None:
            clauses.append(alike)
        lines.append(f"{line}: {'; '.join(clauses)}.{apart}")
    skipped = list(sa.skipped)
    if skipped:
        lines.append(f"- {join([transition_label(t) for t in skipped])}: no customer with a touch moves on, so "
                     f"{'it is' if len(skipped) == 1 else 'they are'} not attributed.")
    return lines


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
