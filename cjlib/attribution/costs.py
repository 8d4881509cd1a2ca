"""Channel spend joined to attributed conversions: cost per conversion and return on spend."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlib.attribution.distributed import log_time_range
from cjlib.errors import DataError


def cost_per_conversion(attributed: pd.DataFrame, costs: pd.DataFrame) -> pd.DataFrame:
    """Cost per attributed conversion and return on spend, per model and channel.

    Parameters
    ----------
    attributed : DataFrame
        Indexed by channel. Either one column of conversions per model with optional ``<model>_value``
        columns (:func:`compare_models`, :func:`heuristic`, :func:`shapley`, :func:`time_decay`), or a
        :func:`markov` result (``conversions``, ``value``, ``removal_effect``: named ``markov``).
    costs : DataFrame
        Columns ``channel`` and ``spend`` (optional ``period``; spend is summed over periods).

    Returns
    -------
    DataFrame
        Tidy: ``model``, ``channel``, ``conversions``, ``spend`` (NaN for channels without cost rows),
        ``cost_per_conversion`` (spend / conversions; NaN without spend or conversions), ``value`` and
        ``roi`` (value / spend) when values exist. Channels of ``attributed`` and ``costs``, sorted.
    """
    if not isinstance(attributed, pd.DataFrame) or not isinstance(costs, pd.DataFrame):
        raise TypeError("attributed and costs must be DataFrames")
    for c in ("channel", "spend"):
        if c not in costs.columns:
            raise DataError(f"costs lack the column {c!r}", column=c, rule="missing_column")
    spend = costs.groupby(costs["channel"].astype(str), observed=True)["spend"].sum()
    if "conversions" in attributed.columns:
        name = "markov" if "removal_effect" in attributed.columns else "model"
        pairs = [(name, "conversions", "value" if "value" in attributed.columns else None)]
    else:
        skip = {"removal_effect", "removal_effect_value", "value"}
        pairs = [(c, c, f"{c}_value" if f"{c}_value" in attributed.columns else None)
                 for c in attributed.columns if not str(c).endswith("_value") and c not in skip]
    if not pairs:
        raise ValueError("attributed has no conversions columns")
    idx = attributed.index.astype(str)
    channels = sorted(set(idx) | set(spend.index))
    frames = []
    for model, ccol, vcol in pairs:
        conv = pd.Series(attributed[ccol].to_numpy(float), index=idx).reindex(channels).fillna(0.0)
        sp_ = spend.reindex(channels).astype(float)
        f = pd.DataFrame({"model": model, "channel": channels, "conversions": conv.to_numpy(),
                          "spend": sp_.to_numpy()})
        f["cost_per_conversion"] = np.where(f.conversions > 0, f.spend / f.conversions.where(f.conversions > 0), np.nan)
        if vcol is not None:
            f["value"] = pd.Series(attributed[vcol].to_numpy(float), index=idx).reindex(channels).fillna(0.0).to_numpy()
            f["roi"] = np.where(f.spend > 0, f.value / f.spend.where(f.spend > 0), np.nan)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def spend_in_range(events: pd.DataFrame, costs: pd.DataFrame) -> pd.DataFrame:
    """The cost rows of the months the events cover (rows without ``period`` are all kept).

    Parameters
    ----------
    events : DataFrame or Partitioned
        The event log (its ``timestamp`` range; on a cluster, the workers' first and last timestamps).
    costs : DataFrame
        Channel spend, optionally with ``period`` (``YYYY-MM`` first).

    Returns
    -------
    DataFrame
        The rows of ``costs`` kept (``costs`` itself when nothing is filtered).
    """
    if "period" not in costs.columns:
        return costs
    n, first, last = log_time_range(events)
    if not n:
        return costs
    months = pd.period_range(first, last, freq="M").astype(str)
    return costs[costs["period"].astype(str).str[:7].isin(months)]


def cost_table(cpc: pd.DataFrame, model: str) -> pd.DataFrame:
    """Paid channels × models: spend, cost per conversion under each model, and ``model``'s return on spend.

    Parameters
    ----------
    cpc : DataFrame
        A :func:`cost_per_conversion` result.
    model : str
        The model whose spend and return on spend are shown.

    Returns
    -------
    DataFrame
        Indexed by channel (channels with spend): ``spend``, ``cost/conv. <model>`` per model and, when
        ``cpc`` has ``roi``, ``return on spend (<model>)``.
    """
    paid = cpc[cpc["spend"].notna()]
    tab = paid.pivot(index="channel", columns="model", values="cost_per_conversion")[list(dict.fromkeys(paid["model"]))]
    tab.columns = [f"cost/conv. {c}" for c in tab.columns]
    one = paid[paid["model"] == model].set_index("channel")
    tab.insert(0, "spend", one["spend"].reindex(tab.index))
    if "roi" in one.columns:
        tab[f"return on spend ({model})"] = one["roi"].reindex(tab.index)
    return tab
