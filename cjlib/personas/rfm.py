"""Rule-based RFM segments: the fallback when no number of personas is stable."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjlib.errors import DataWarning

#: Rule-based RFM segments in order: (name, definition, rule on the scores R, F, M and purchases n).
#: Scores are quintiles 1–5 of the customers' percentile ranks (ties share a score): R from the days since
#: the last purchase (5 = most recent; RFM's recency is of buying, not of any visit), F from the number of
#: purchases, M from revenue. The first rule a customer meets
#: names them. A customer without a purchase is a "Prospect" (every other segment presumes buying), and
#: "often" also needs two purchases or more: where most customers never bought or bought once, a one-time
#: buyer's F score is high.
RFM_SEGMENTS: tuple[tuple[str, str, object], ...] = (
    ("Prospects", "no purchase yet",
     lambda R, F, M, n: n == 0),
    ("Champions", "bought recently, often and for the most (R ≥ 4, F ≥ 4, M ≥ 4, 2+ purchases)",
     lambda R, F, M, n: (R >= 4) & (F >= 4) & (M >= 4) & (n >= 2)),
    ("Loyal customers", "buy often and not long ago (R ≥ 3, F ≥ 3, 2+ purchases)",
     lambda R, F, M, n: (R >= 3) & (F >= 3) & (n >= 2)),
    ("New customers", "one recent purchase (R ≥ 4, one purchase)",
     lambda R, F, M, n: (R >= 4) & (n == 1)),
    ("Potential loyalists", "recent, not yet frequent (R ≥ 3)",
     lambda R, F, M, n: R >= 3),
    ("At risk", "used to buy often, not lately (R ≤ 2, F ≥ 3, 2+ purchases)",
     lambda R, F, M, n: (R <= 2) & (F >= 3) & (n >= 2)),
    ("Hibernating", "few purchases, a while ago (R = 2)",
     lambda R, F, M, n: R == 2),
    ("Lost", "few purchases, long ago (R = 1)",
     lambda R, F, M, n: R == 1),
)


def _score(values: pd.Series) -> np.ndarray:
    """Quintile score 1–5 from the percentile rank (ties share a rank, so equal values share a score)."""
    pct = values.astype(float).rank(method="average", pct=True).fillna(0.5).to_numpy()
    return np.clip(np.ceil(pct * 5), 1, 5).astype(int)


def purchase_recency(features: pd.DataFrame) -> pd.Series:
    """Days from each customer's last purchase to the cutoff: RFM's *R*. ``days_since_last_purchase`` when
    the feature table has it; on a log whose only events are purchases (every event a conversion, so
    ``n_purchases == n_events``) ``recency_days`` is the same; NaN for customers without a purchase.

    Parameters
    ----------
    features : DataFrame
        :func:`cjlib.features.customer_features` rows.

    Returns
    -------
    Series
        Days since the last purchase (NaN without one).

    Warns
    -----
    DataWarning
        When neither column tells when a customer last bought and ``recency_days`` (any event) stands in:
        it ranks a customer who browsed yesterday but last bought a year ago as a recent buyer.

    Examples
    --------
    >>> purchase_recency(pd.DataFrame({"recency_days": [2.0, 5.0], "n_purchases": [1, 0], "n_events": [1, 0]}))
    0    2.0
    1    NaN
    dtype: float64
    """
    n = features["n_purchases"].fillna(0)
    if "days_since_last_purchase" in features:
        return features["days_since_last_purchase"].astype(float).where(n > 0)
    if "n_events" in features and "recency_days" in features and (n == features["n_events"]).all():
        return features["recency_days"].astype(float).where(n > 0).rename(None)
    warnings.warn("RFM recency falls back to the last event of any kind: the feature table has no "
                  "days_since_last_purchase", DataWarning, stacklevel=2)
    return features["recency_days"].astype(float).where(n > 0).rename(None)


def rfm_labels(features: pd.DataFrame) -> tuple[np.ndarray, list[str], bool]:
    """Rule-based RFM segments (:data:`RFM_SEGMENTS`) of :func:`persona_features` rows.

    Returns segment numbers (0 = first non-empty segment in rule order), the names of the non-empty
    segments in that order, and whether revenue was used (without revenue: RF segments, M ignored).
    Customers without a purchase are "Prospects"; a segment that says "often" needs 2+ purchases.

    Parameters
    ----------
    features : DataFrame
        One row per customer with ``n_purchases``, the days since the last purchase
        (:func:`purchase_recency`) and optionally ``monetary``, used when it holds more than one distinct
        value.

    Returns
    -------
    labels : ndarray of int
        Segment number of each row, into ``names``.
    names : list of str
        The non-empty segments' names, in rule order.
    used_revenue : bool
        Whether ``monetary`` was scored.

    Examples
    --------
    >>> f = pd.DataFrame({"days_since_last_purchase": [1.0, 2, 300, 400, 3, None], "n_purchases": [9, 8, 9, 1, 1, 0],
    ...                   "monetary": [900.0, 800, 700, 10, 20, 0]})
    >>> lab, names, used_m = rfm_labels(f)
    >>> [names[i] for i in lab], used_m
    (['Champions', 'Champions', 'At risk', 'Lost', 'Potential loyalists', 'Prospects'], True)
    """
    n = features["n_purchases"].fillna(0).to_numpy()
    R = _score(-purchase_recency(features).where(n > 0))  # prospects score 3 (NaN) and meet the first rule
    F = _score(features["n_purchases"])
    has_m = "monetary" in features and features["monetary"].notna().any() and features["monetary"].nunique() > 1
    M = _score(features["monetary"].fillna(0)) if has_m else np.full(len(features), 5)
    seg = np.full(len(features), -1)
    for i, (_, _, rule) in enumerate(RFM_SEGMENTS):
        hit = (seg < 0) & np.asarray(rule(R, F, M, n), dtype=bool)
        seg[hit] = i
    seg[seg < 0] = len(RFM_SEGMENTS) - 1
    present = sorted(set(seg.tolist()))
    lut = {s: j for j, s in enumerate(present)}
    return np.array([lut[s] for s in seg]), [RFM_SEGMENTS[s][0] for s in present], bool(has_m)


def rfm_definitions(names: Sequence[str], *, revenue: bool = True) -> pd.DataFrame:
    """The definition of each RFM segment shown (index segment name), for the report's table.

    Parameters
    ----------
    names : sequence of str
        Segment names of :data:`RFM_SEGMENTS`, in the order shown.
    revenue : bool, default True
        Whether revenue was used; ``False`` drops the monetary conditions from the texts.

    Returns
    -------
    DataFrame
        Index ``segment`` (``names``), column ``definition``.
    """
    d = {n: text for n, text, _ in RFM_SEGMENTS}
    out = pd.DataFrame({"definition": [d[n] for n in names]}, index=pd.Index(list(names), name="segment"))
    if not revenue:
        out["definition"] = out["definition"].str.replace(", M ≥ 4", "", regex=False).str.replace(
            " and for the most", "", regex=False)
    return out


