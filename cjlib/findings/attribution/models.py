"""The model comparison, Markov and transition-probability sections of 02."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjlib.findings import (
    is_number,
    leader,
    number,
    pct,
    share,
    times,
)
from cjlib.findings.attribution.common import (
    HANDFUL,
    MATERIAL,
    MIN_CONVERSIONS,
    _alike,
    _clear_leader,
    _differ,
    _most,
    _range,
    _spread,
)
from cjlib.findings.attribution.journeys import same_credit_reason

MODELS_METHOD = ("Attributed conversions per channel under each model, with 95% bootstrap intervals (journeys "
                 "resampled with replacement). The Markov model's removal effects are solved exactly from the "
                 "absorbing chain, not simulated. Time decay has no interval: it needs the touches' timestamps, "
                 "which the resampled paths do not carry.")


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
                min_conversions: int = MIN_CONVERSIONS, paths: pd.DataFrame | None = None) -> str:
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
    paths : DataFrame, optional
        The paths table: when every model gives the same credit because every converting path touches one
        channel only, the title says so (:func:`~cjlib.findings.attribution.journeys.same_credit_reason`).

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
        why = same_credit_reason(paths) if paths is not None and agree.endswith("the same credit") else None
        parts.append(f"{agree}, as every converting journey touches one channel only" if why else agree)
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


def markov_lines(mk, attributed: pd.DataFrame, *, models: Sequence[str], order: int,
                 interval: pd.DataFrame | None = None, min_conversions: int = MIN_CONVERSIONS) -> list[str]:
    """Markov findings: P(conversion), the largest removal effect, Markov against last touch, the widest
    interval. Lines are left out when not earned.

    Parameters
    ----------
    mk : MarkovChain
        :func:`cjlib.attribution.markov_chain` output.
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
    p = mk.p_conversion
    total = float(mk.table["conversions"].sum())
    lines = []
    if not is_number(p):
        return lines
    first = (f"- The Markov chain (order {order}, {number(mk.n_states)} states) converts "
             f"**{pct(p, 1)}** of journeys from the start")
    big = (leader(mk.table["removal_effect"], min_size=0, tolerance=0.0005)
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
    """The transition heatmap's title: after which channel journeys convert most and least often (among
    channels with ``min_journeys`` steps out of them, said when a smaller one is left out), and which
    channel most journeys start with.

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
        # the heatmap shows every channel: when a smaller one was left out of the ranking, say so, or a
        # channel drawn at 0 % contradicts "least after <a channel at 3 %>"
        small = (out_of.reindex(to_conv.index).fillna(0) < min_journeys).any()
        head = f"Of channels with {min_journeys}+ journey steps out, journeys" if small else "Journeys"
        parts.append(f"{head} convert most often straight after {r.best} ({pct(r.best_value)}) and least after "
                     f"{r.worst} ({pct(r.worst_value)})")
    starts = tm[tm["channel_from"] == "(start)"].set_index("channel_to")["transition_probability"]
    first = leader(starts, min_size=0, tolerance=0.005) if out_of.get("(start)", 0) >= min_journeys else None
    if first is not None:
        parts.append(f"{pct(first[1])} start with {first[0]}")
    return "; ".join(parts) if parts else "Transition probabilities between channels (first-order chain)"


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
            "p_conversion": comparison.markov.p_conversion,
            "removal_effect": comparison.markov.table["removal_effect"].to_dict(),
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
