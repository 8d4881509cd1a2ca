"""The statistics every analysis shares: binomial intervals, the two-proportion test and the interval of a
difference of two proportions, Holm's correction, NPS.

One definition each, so a rate's interval or a difference's p-value means the same thing in the scorecard,
the funnel and the written findings.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["holm", "nps", "proportion_difference", "two_proportion_test", "wilson_interval"]


def wilson_interval(successes, trials, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion (vectorized).

    Parameters
    ----------
    successes, trials : int or array of int
        Counts; ``trials == 0`` gives NaN bounds.
    confidence : float, default 0.95

    Returns
    -------
    (lower, upper) : arrays of float

    Examples
    --------
    >>> lo, hi = wilson_interval(8, 10)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.4902, 0.9433)
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        denom = 1 + z**2 / n
        center = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        lo = np.where(n > 0, np.clip(center - half, 0, 1), np.nan)
        hi = np.where(n > 0, np.clip(center + half, 0, 1), np.nan)
    return lo, hi


def holm(p_values) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1; NaN stays NaN and is not counted).

    Parameters
    ----------
    p_values : array-like of float
        The raw p-values (NaN allowed).

    Returns
    -------
    ndarray of float
        The adjusted p-values, in the input's order and shape.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, 0.005]).round(3).tolist()
    [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = len(q)
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


def two_proportion_test(x1, n1, x2, n2) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided pooled two-proportion z-test (vectorized): returns (z, p_value).

    NaN when either group is empty; z = 0, p = 1 when the pooled rate is 0 or 1.

    Parameters
    ----------
    x1, n1 : array-like
        Successes and size of the first group.
    x2, n2 : array-like
        Successes and size of the second group (all four broadcast together).

    Returns
    -------
    z : ndarray
        ``(x1/n1 − x2/n2) / se`` with the pooled standard error (positive when group 1's rate is higher).
    p_value : ndarray
        Two-sided p-value.

    Examples
    --------
    >>> z, p = two_proportion_test(30, 100, 20, 100)
    >>> round(float(z), 3), round(float(p), 4)
    (1.633, 0.1025)
    """
    x1, n1, x2, n2 = (np.asarray(v, dtype=float) for v in (x1, n1, x2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x1 + x2) / (n1 + n2)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        z = np.where(se > 0, (x1 / n1 - x2 / n2) / se, 0.0)
    empty = (n1 <= 0) | (n2 <= 0)
    z = np.where(empty, np.nan, z)
    p = np.where(empty, np.nan, 2 * stats.norm.sf(np.abs(z)))
    return z, p


def proportion_difference(x1, n1, x2, n2, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference of two independent proportions ``x1/n1 − x2/n2`` with Newcombe's hybrid score interval.

    Method 10 of Newcombe (1998), "Interval estimation for the difference between independent proportions:
    comparison of eleven methods", *Statistics in Medicine* 17, 873–890: with ``(l1, u1)`` and ``(l2, u2)``
    the Wilson score intervals of ``p1`` and ``p2`` (no continuity correction),

    ``low = d − sqrt((p1 − l1)² + (u2 − p2)²)``, ``high = d + sqrt((u1 − p1)² + (p2 − l2)²)``, ``d = p1 − p2``.

    Unlike the Wald interval it stays inside [−1, 1] and keeps its coverage near 0 and 1 and for small groups.
    Vectorized: the four counts broadcast together.

    Parameters
    ----------
    x1, n1 : int or array of int
        Successes and size of the first group.
    x2, n2 : int or array of int
        Successes and size of the second group.
    confidence : float, default 0.95
        Confidence level of the interval.

    Returns
    -------
    (diff, low, high) : arrays of float
        ``p1 − p2`` and its interval; all NaN where either group is empty.

    Examples
    --------
    Newcombe's (1998) Table II example, 56/70 against 48/80:

    >>> d, lo, hi = proportion_difference(56, 70, 48, 80)
    >>> round(float(d), 4), round(float(lo), 4), round(float(hi), 4)
    (0.2, 0.0524, 0.3339)
    """
    x1, n1, x2, n2 = (np.asarray(v, dtype=float) for v in (x1, n1, x2, n2))
    l1, u1 = wilson_interval(x1, n1, confidence)
    l2, u2 = wilson_interval(x2, n2, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1 = np.where(n1 > 0, x1 / n1, np.nan)
        p2 = np.where(n2 > 0, x2 / n2, np.nan)
    d = p1 - p2
    low = np.clip(d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), -1, 1)  # clip: rounding at d = ±1
    high = np.clip(d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2), -1, 1)
    return d, low, high


def nps(scores, confidence: float = 0.95) -> tuple[float, float, float, int]:
    """Net Promoter Score of 0–10 scores: % promoters (9–10) − % detractors (0–6), in points (−100…100).

    Returns ``(nps, lo, hi, n)``; the interval is the normal (Wald) interval of the mean of the per-answer
    values +100 / 0 / −100, whose variance is ``100² × (p + d − (p − d)²) / n``.

    Parameters
    ----------
    scores : array-like of float
        0–10 answers.
    confidence : float, default 0.95
        Confidence level of the interval.

    Returns
    -------
    tuple of (float, float, float, int)
        ``(nps, lo, hi, n)``; all NaN and ``n = 0`` without scores.

    Examples
    --------
    >>> nps([10, 9, 8, 3])[0]
    25.0
    """
    s = np.asarray(scores, dtype=float)
    n = len(s)
    if not n:
        return np.nan, np.nan, np.nan, 0
    p, d = float(np.mean(s >= 9)), float(np.mean(s <= 6))
    value = 100 * (p - d)
    se = 100 * np.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
    z = stats.norm.ppf(0.5 + confidence / 2)
    return value, value - z * se, value + z * se, n
