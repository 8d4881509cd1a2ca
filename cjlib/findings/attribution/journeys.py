"""The opening line and the journeys section of 02."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from cjlib.findings import (
    is_number,
    join,
    number,
    pct,
)
from cjlib.findings.attribution.common import _differ


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


def journeys_finding(js: pd.DataFrame, journey_paths, *, touch_col: str, window: str) -> str | None:
    """``**N journeys** from the log: …`` from :func:`cjlib.attribution.journey_summary`.

    Parameters
    ----------
    js : DataFrame
        :func:`cjlib.attribution.journey_summary` output.
    journey_paths : JourneyPaths
        :func:`cjlib.attribution.journey_paths` output (its distinct paths and the conversions it left out
        for want of a touch).
    touch_col : str
        The column whose values are the touches.
    window : str
        How far before a conversion touches count.

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
            f"{number(len(journey_paths.table))} distinct paths of {touch_col} touches.")
    m_conv, m_null = js.loc["converting", "mean touches"], js.loc["not converting", "mean touches"]
    if is_number(m_conv) and is_number(m_null):
        text += (f" Converting journeys have {number(m_conv, '.1f')} touches on average, the others "
                 f"{number(m_null, '.1f')}.")
    left_out = journey_paths.conversions_without_touches
    if left_out:
        text += f" {number(left_out)} conversions had no touch within {window} and are left out."
    why = same_credit_reason(journey_paths.table)
    if why:
        text += f" {why[:1].upper()}{why[1:]}."
    return text


def same_credit_reason(paths: pd.DataFrame) -> str | None:
    """Why the attribution models must give each channel the same credit, when the paths show it: every
    converting path touches one channel only (a single touch, or one channel repeated), so the rule-based
    models hand that channel the whole conversion; when the non-converting paths do too, the Markov chain and
    Shapley values can only agree. None when some converting path mixes channels.

    Parameters
    ----------
    paths : DataFrame
        The paths table (``path``: touches joined by ``" > "``, ``conversions``, ``nulls``).

    Returns
    -------
    str or None

    Examples
    --------
    >>> paths = pd.DataFrame({"path": ["a", "b > b", "a > b"], "conversions": [3.0, 2.0, 0.0],
    ...                       "nulls": [1.0, 0.0, 2.0]})
    >>> same_credit_reason(paths)
    'every converting journey touches one channel only (3 of 5 have a single touch), so first touch, last touch, linear, position-based and time decay give that channel the whole conversion'
    >>> same_credit_reason(paths.iloc[:2])
    'every journey touches one channel only (3 of 5 converting journeys have a single touch), so every model gives that channel the whole conversion'
    >>> same_credit_reason(paths.assign(conversions=[3.0, 2.0, 1.0])) is None
    True
    """
    from cjlib.attribution.paths import SEP

    touches = paths["path"].astype(str).str.split(SEP, regex=False)
    one = touches.map(lambda t: len(set(t)) == 1)
    is_conv = pd.to_numeric(paths["conversions"], errors="coerce").fillna(0) > 0
    if not is_conv.any() or not one[is_conv].all():
        return None
    n = float(paths.loc[is_conv, "conversions"].sum())
    single = float(paths.loc[is_conv & (touches.str.len() == 1), "conversions"].sum())
    every = bool(one.all())
    of = f"{number(n)} converting journeys" if every else number(n)
    each = "each converting journey" if every else "each"
    how = (f"{each} has a single touch" if single == n else f"{each} repeats one channel" if single == 0 else
           f"{number(single)} of {of} {'has' if single == 1 else 'have'} a single touch")
    if every:
        return (f"every journey touches one channel only ({how}), so every model gives that channel the whole "
                "conversion")
    return (f"every converting journey touches one channel only ({how}), so first touch, last touch, linear, "
            "position-based and time decay give that channel the whole conversion")


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
