"""The channel-effects section of 02 (:mod:`cjlib.effects`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjlib.effects import MIN_ADVANCED
from cjlib.findings import (
    is_number,
    join,
    number,
    times,
)
from cjlib.findings.attribution.common import _differ, _range, _spread, transition_label
from cjlib.findings.attribution.stages import _names


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
    # as printed (two decimals): an interval shown as "1.00–1.68" does not read as clear of 1
    return round(float(f.loc[c, "lower"]), 2) > 1 if above else round(float(f.loc[c, "upper"]), 2) < 1


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
    top, bottom = comp[comp >= comp.max() - 0.005], comp[comp <= comp.min() + 0.005]  # print alike: a tie
    if _differ(comp.min(), comp.max()) and (len(top) > 1 or len(bottom) > 1):
        why = []
        for x, end, above in ((top, "highest", True), (bottom, "lowest", False)):
            if len(x) > 1:
                why.append(f"{_names(list(x.index))} tie for the {end} ({times(x.iloc[0], 2)})")
            elif not _outside_one(f, x.index[0], above):
                why.append(f"the {end}, {x.index[0]}'s ({times(x.iloc[0], 2)}), has an interval that includes 1×")
        return (f"- **{transition_label(t)}**: the channels' effects range over "
                f"{_range(comp.min(), comp.max(), '.2f')}×, but no one channel is named: {'; '.join(why)}.")
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
                     f"{number(min_sessions)} or more visits advance customers there, or fewer than "
                     f"{number(MIN_ADVANCED)} of their visits do).")
    return lines


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
    'At no stage do visits from two or more channels (each with 1,000 visits or more, `min_touches`) move customers on, at least 30 times in all.'
    """
    return "" if len(transitions) else (f"At no stage do visits from two or more channels (each with "
                                        f"{min_touches:,} visits or more, `min_touches`) move customers on, at least "
                                        f"{MIN_ADVANCED} times in all.")


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
