"""Attribution along the stage map: which channels move customers forward at each stage transition
(:func:`stage_attribution`), and how much each stage's touchpoints drive conversion (:func:`stage_contribution`)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjlib.attribution.journeys import paths_from_events
from cjlib.attribution.models import _attribute, _check_model
from cjlib.attribution.paths import (
    _distinct_pairs,
    _parse,
    _parse_stage,
    _share,
    _stage_map,
)
from cjlib.errors import DataWarning


@dataclass(frozen=True)
class StageAttribution:
    """What :func:`stage_attribution` returns.

    Attributes
    ----------
    table : DataFrame
        Tidy, one row per (transition, channel): see :func:`stage_attribution`.
    p_conversion : dict of str to float
        Each attributed transition's conversion rate (converting journeys / journeys), in stage order.
    skipped : tuple of str
        The transitions without a conversion (not in ``table``).
    model : str
        The attribution model.
    """

    table: pd.DataFrame
    p_conversion: dict
    skipped: tuple
    model: str


@dataclass(frozen=True)
class StageContribution:
    """What :func:`stage_contribution` returns.

    Attributes
    ----------
    table : DataFrame
        Columns ``stage``, ``conversions``, ``share``, one row per stage with touchpoints, in stage order
        (``"(other)"`` last); empty when no conversion has a touchpoint.
    conversions : float
        The conversions attributed (the denominator of ``share``).
    events_tied : bool
        Every event earned the same: the stage shares then only reflect how many events each stage lists.
    model : str
        The attribution model.
    """

    table: pd.DataFrame
    conversions: float
    events_tied: bool
    model: str


def stage_transitions(*, stage_map=None) -> list[tuple[str, str]]:
    """Consecutive stage pairs of the stage map: ``[("awareness", "consideration"), ...]``.

    Parameters
    ----------
    stage_map : StageMap or path, optional
        Default ``data/stage_map.yml``.

    Returns
    -------
    list of (str, str)
    """
    names = _stage_map(stage_map).stage_names
    return list(zip(names[:-1], names[1:]))


def stage_attribution(
    events: pd.DataFrame,
    *,
    model: str = "markov",
    stage_map=None,
    transitions: Sequence[str | tuple[str, str]] | None = None,
    window: str | pd.Timedelta | None = "30D",
    touch_col: str = "channel",
    warn: bool = True,
    **kw,
) -> StageAttribution:
    """Attribution of each stage transition: which channels move customers forward at each stage.

    For every transition (default: each consecutive pair of stages in the stage map), builds the stage-mode
    paths table (:func:`paths_from_events` with ``stage=``) and attributes its conversions with ``model``.
    Transitions without any conversion are skipped (with a :class:`~cjlib.errors.DataWarning` unless
    ``warn=False``) and listed in ``skipped``.

    Parameters
    ----------
    events : DataFrame
        Event log.
    model : str, default "markov"
        One of ``first_touch``, ``last_touch``, ``linear``, ``position_based``, ``markov``, ``shapley``.
    stage_map : StageMap or path, optional
    transitions : sequence, optional
        ``"source>target"`` strings or tuples; default :func:`stage_transitions`.
    window : str, Timedelta or None, default "30D"
        How far before the target stage touches count (``window`` of :func:`paths_from_events`).
    touch_col : str, default "channel"
        As in :func:`paths_from_events`.
    warn : bool, default True
        Warn about each transition skipped for want of a conversion (a report that names them passes False).
    **kw
        Passed to the model (``order``, ``horizon``, ``shapley_method``).

    Returns
    -------
    StageAttribution
        ``table``: tidy, one row per (transition, channel): ``transition`` ("source>target"), ``channel``,
        ``conversions`` (attributed), ``share`` (of the transition's conversions), ``journeys`` (journeys
        whose path holds the channel), ``touches`` (the channel's touches, counted once per journey),
        ``conversion_rate`` (``conversions / touches``: attributed conversions per touch), ``lift``
        (``conversion_rate`` over the transition's conversions per touch: 1 = average, 2 = a touch of
        this channel earns twice the average). Rows in transition order, channels sorted.
        ``p_conversion``: each transition's conversion rate (converting journeys / journeys); ``skipped``:
        the transitions without a conversion.
    """
    _check_model(model)
    sm = _stage_map(stage_map)
    trs = [_parse_stage(t, sm) for t in (transitions if transitions is not None else stage_transitions(stage_map=sm))]
    frames, rates, skipped = [], {}, []
    for src, tgt in trs:
        name = f"{src}>{tgt}"
        pt = paths_from_events(events, window=window, touch_col=touch_col, stage=(src, tgt), stage_map=sm)
        p = _parse(pt)
        if p.conv.sum() <= 0:
            if warn:
                warnings.warn(f"stage transition {name} has no conversions; skipped", DataWarning, stacklevel=2)
            skipped.append(name)
            continue
        conv, _ = _attribute(p, model, **kw)
        C = len(p.channels)
        w = (p.conv + p.nulls)[p.pid]
        pid_u, ch_u = _distinct_pairs(p)
        frames.append(pd.DataFrame({
            "transition": name, "channel": p.channels.astype(str), "conversions": conv,
            "share": _share(conv),
            "journeys": np.bincount(ch_u, weights=(p.conv + p.nulls)[pid_u], minlength=C),
            "touches": np.bincount(p.tok, weights=w, minlength=C),
        }))
        rates[name] = float(p.conv.sum() / (p.conv + p.nulls).sum())
    cols = ["transition", "channel", "conversions", "share", "journeys", "touches"]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {c: pd.Series(dtype=str if c in ("transition", "channel") else float) for c in cols})
    out["conversion_rate"] = np.divide(out["conversions"].to_numpy(float), out["touches"].to_numpy(float),
                                       out=np.zeros(len(out)), where=out["touches"].to_numpy(float) > 0)
    g = out.groupby("transition", sort=False)
    average = g["conversions"].transform("sum").to_numpy(float) / g["touches"].transform("sum").to_numpy(float)
    out["lift"] = out["conversion_rate"].to_numpy(float) / average  # every transition kept has conversions
    return StageAttribution(out, rates, tuple(skipped), model)


def stage_contribution(
    events: pd.DataFrame,
    *,
    model: str = "markov",
    stage_map=None,
    conversion_events: Sequence[str] | str | None = None,
    window: str | pd.Timedelta | None = "30D",
    **kw,
) -> StageContribution:
    """How much each journey stage's touchpoints contribute to conversion.

    Builds conversion-mode paths with events as the touches (:func:`paths_from_events` with
    ``touch_col="event"``; conversion events are never touches), attributes conversions to events with
    ``model``, and sums the events' conversions by their stage (the stage map's base stage of each event;
    events of no stage under ``"(other)"``).

    Parameters
    ----------
    events : DataFrame
        Event log.
    model : str, default "markov"
    stage_map : StageMap or path, optional
    conversion_events : str or sequence of str, optional
        As in :func:`paths_from_events`.
    window : str, Timedelta or None, default "30D"
        How far before a conversion touchpoints count (``window`` of :func:`paths_from_events`).
    **kw
        Passed to the model.

    Returns
    -------
    StageContribution
        ``table``: ``stage``, ``conversions``, ``share`` per stage with touchpoints; ``conversions``: the
        conversions attributed; ``events_tied``: every event earned the same.
    """
    _check_model(model)
    sm = _stage_map(stage_map)
    pt = paths_from_events(events, conversion_events=conversion_events, window=window, touch_col="event",
                           stage_map=sm)
    p = _parse(pt)
    if not p.conv.sum() > 0:  # nothing to attribute: an empty table, not a failure
        out = pd.DataFrame({"stage": pd.Series(dtype=str), "conversions": pd.Series(dtype=float),
                            "share": pd.Series(dtype=float)})
        return StageContribution(out, 0.0, False, model)
    conv, _ = _attribute(p, model, **kw)
    e2s = sm.event_to_stage
    stages = np.array([e2s.get(e, "(other)") for e in p.channels.astype(str)], dtype=object)
    s = pd.Series(conv, index=stages).groupby(level=0).sum()
    order = [x for x in sm.stage_names + ["(other)"] if x in s.index]
    s = s.reindex(order)
    out = pd.DataFrame({"stage": s.index.astype(str), "conversions": s.to_numpy(), "share": _share(s.to_numpy())})
    # every event earning the same: the stage shares only count each stage's events
    tied = bool(len(conv) > 1 and np.ptp(conv) <= 1e-9 * max(abs(conv).max(), 1.0))
    return StageContribution(out, float(p.conv.sum()), tied, model)


def _transition_ends(t: str) -> tuple[str, str]:
    """("a", "b") from ``"a>b"`` (:func:`stage_attribution`) or ``"a > b"`` (:func:`channel_effects`)."""
    a, _, b = str(t).partition(">")
    return a.strip(), b.strip()


def focus_transition(transitions: Sequence[str], conversion_stage: str | None) -> str | None:
    """The transition into the stage map's conversion stage (its declared role), else the first one.

    Parameters
    ----------
    transitions : sequence of str
        Transitions in report order.
    conversion_stage : str or None
        The stage map's conversion stage.

    Returns
    -------
    str or None
        None when there is no transition.

    Examples
    --------
    >>> focus_transition(["awareness>consideration", "consideration>purchase"], "purchase")
    'consideration>purchase'
    >>> focus_transition(["a > b"], None)
    'a > b'
    """
    transitions = list(transitions)
    hit = [t for t in transitions if conversion_stage is not None and _transition_ends(t)[1] == conversion_stage]
    return hit[0] if hit else (transitions[0] if transitions else None)
