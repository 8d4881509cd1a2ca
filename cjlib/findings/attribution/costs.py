"""The cost-per-conversion section of 02."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjlib.findings import (
    join,
    number,
    rate,
    times,
)
from cjlib.findings.attribution.common import MIN_CONVERSIONS, _spread


def _paid(cpc: pd.DataFrame, model: str) -> pd.DataFrame:
    return cpc[(cpc["model"] == model) & cpc["spend"].notna()].set_index("channel")


def _unranked_end(m: pd.DataFrame, r, min_conversions: int, *, higher_is_better: bool):
    """Whether a paid channel under ``min_conversions`` attributed conversions does worse than the ranking's
    worst (``r.worst``; ``m`` the model's paid channels). ``None``: none does, the worst stands. Else
    ``(channel, value, conversions)`` when one does beyond doubt — its cost even at ``min_conversions``
    conversions (spend ÷ ``min_conversions``) is above the worst's, or its return with the missing conversions
    at the ranked channels' mean value is below it — and ``(None, None, names)`` when it may (the worst is
    then not named). A channel of spend and no attributed conversion has an unbounded cost and a return of 0."""
    if r is None or r.worst is None:
        return None
    conv = m["conversions"].fillna(0.0)
    small = m[(conv < min_conversions) & (m["spend"] > 0)]
    if small.empty:
        return None
    if higher_is_better:  # return on spend
        val = small["value"].fillna(0.0) / small["spend"]
        ranked = m[conv >= min_conversions]
        vbar = ranked["value"].sum() / ranked["conversions"].sum() if ranked["conversions"].sum() > 0 else 0.0
        bound = (small["value"].fillna(0.0) + (min_conversions - conv[small.index]) * vbar) / small["spend"]
        worse = val < r.worst_value
        sure = bound < r.worst_value
    else:  # cost per conversion
        val = (small["spend"] / conv[small.index].where(conv[small.index] > 0)).fillna(np.inf)
        worse = val > r.worst_value
        sure = small["spend"] / min_conversions > r.worst_value
    if not worse.any():
        return None
    if worse.sum() == 1 and sure[worse].all():
        c = str(worse[worse].index[0])
        return c, float(val[c]), float(conv[c])
    return None, None, [str(c) for c in worse[worse].index]


def _cost_ranking(cpc: pd.DataFrame, model: str, min_conversions: int):
    """The cheapest and dearest attributed conversion: a :class:`cjlib.findings.Ranking` and, for the dearest,
    :func:`_unranked_end` (a paid channel of too few conversions may be dearer than every ranked one)."""
    m = _paid(cpc, model)
    r = _spread(m["cost_per_conversion"], m["conversions"], min_size=min_conversions, higher_is_better=False)
    return r, _unranked_end(m, r, min_conversions, higher_is_better=False)


def _few(conversions: float) -> str:
    n = number(conversions)
    return "no attributed conversion" if n == "0" else f"{n} attributed conversion{'s' if n != '1' else ''}"


def dearest_phrase(r, extra, *, each: str = " each") -> str:
    """The dearest end of a cost ranking (``r``, ``extra`` of :func:`_cost_ranking`), or why it is not named.

    Parameters
    ----------
    r : Ranking
        The ranking of the paid channels with enough attributed conversions.
    extra : tuple or None
        :func:`_unranked_end` of the channels with too few.
    each : str
        Appended to a named channel's cost.

    Returns
    -------
    str
        ``"display the dearest (331.81 each)"``; ``"paid_social the dearest (992.99 each, from 23 attributed
        conversions)"``; or ``"the dearest cannot be named: paid_social has too few attributed conversions to
        place (23)"``.
    """
    if extra is None:
        return f"{r.worst} the dearest ({number(r.worst_value, ',.2f')}{each})"
    c, v, n = extra
    if c is None:
        return f"the dearest cannot be named: {join(n)} {'has' if len(n) == 1 else 'have'} too few attributed conversions to place"
    if not np.isfinite(v):
        return f"{c} the dearest (its spend buys {_few(n)})"
    return f"{c} the dearest ({number(v, ',.2f')}{each}, from {_few(n)})"


def cost_title(cpc: pd.DataFrame, model: str, *, min_conversions: int = MIN_CONVERSIONS) -> str:
    """The cost chart's title: the cheapest and dearest attributed conversion under ``model`` (the dearest
    may be a channel of fewer than ``min_conversions`` conversions whose spend would make it the dearest even
    at that many; it is not named when one such channel may or may not be).

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
    r, extra = _cost_ranking(cpc, model, min_conversions)
    if r is None or r.best is None:
        return "Spend per attributed conversion, by channel and model"
    head = f"Under {model} attribution, a conversion from {r.best} costs {number(r.best_value, ',.2f')}"
    if extra is not None and extra[0] is None:
        return head
    worst, value, n = (r.worst, r.worst_value, None) if extra is None else extra
    if not np.isfinite(value):
        return head + f"; {worst}'s spend buys {_few(n)}"
    title = head + f"; from {worst} {number(value, ',.2f')}"
    ratio = rate(value, r.best_value)
    note = [times(ratio, 0 if ratio >= 10 else 1)] if ratio is not None else []
    note += [_few(n)] if n is not None else []
    return title + (f" ({', '.join(note)})" if note else "")


def cost_finding(cpc: pd.DataFrame, model: str, *, has_revenue: bool,
                 min_conversions: int = MIN_CONVERSIONS) -> str | None:
    """``**Costs:** spend on paid channels``, and return on spend when revenue is known and earned (the
    lowest may be a paid channel of fewer than ``min_conversions`` conversions when it stays lowest with the
    missing conversions at the ranked channels' mean value; it is not named when it may or may not be).

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
        if r is not None and r.best is not None:
            extra = _unranked_end(m, r, min_conversions, higher_is_better=True)
            head = (text + f". Return on spend (attributed revenue ÷ spend, {model}) is highest for {r.best} "
                    f"({times(r.best_value)})")
            if extra is None:
                return head + f" and lowest for {r.worst} ({times(r.worst_value)})."
            c, v, n = extra
            if c is None:
                return head + (f"; the lowest cannot be named: {join(n)} {'has' if len(n) == 1 else 'have'} too "
                               "few attributed conversions to place.")
            return head + f" and lowest for {c} ({times(v)}, from {_few(n)})."
    return text + "."


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
