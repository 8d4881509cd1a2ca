"""The cost-per-conversion section of 02."""

from __future__ import annotations

from collections.abc import Sequence

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
