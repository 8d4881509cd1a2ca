"""Shapley-value attribution: the simplified value (credit split over a path's distinct channels) and the
exact coalition value (up to ``MAX_EXACT_SHAPLEY_CHANNELS`` channels)."""

from __future__ import annotations

from math import factorial

import numpy as np
import pandas as pd

from cjlib.attribution.paths import _distinct_pairs, _parse, _Paths, _share

MAX_EXACT_SHAPLEY_CHANNELS = 15


def _simplified_shapley(p: _Paths) -> pd.DataFrame:
    C = len(p.channels)
    pid, ch = _distinct_pairs(p)
    k = np.bincount(pid, minlength=p.n).astype(float)
    out = {"shapley": np.bincount(ch, weights=p.conv[pid] / k[pid], minlength=C)}
    if p.value is not None:
        out["shapley_value"] = np.bincount(ch, weights=p.value[pid] / k[pid], minlength=C)
    return pd.DataFrame(out, index=pd.Index(p.channels.astype(str), name="channel"))


def _coalition_values(p: _Paths, characteristic: str) -> tuple[np.ndarray, np.ndarray | None]:
    """v(S) for every coalition bitmask S (and the value-weighted v for ``conversions``)."""
    C = len(p.channels)
    pid, ch = _distinct_pairs(p)
    mask = np.bincount(pid, weights=(1 << ch).astype(float), minlength=p.n).astype(np.int64)
    size = 1 << C

    def zeta(f: np.ndarray) -> np.ndarray:  # g(S) = sum over T ⊆ S of f(T)
        g = f.copy()
        for i in range(C):
            bit = 1 << i
            idx = np.arange(size)
            has = (idx & bit) != 0
            g[has] += g[idx[has] ^ bit]
        return g

    conv = zeta(np.bincount(mask, weights=p.conv, minlength=size))
    if characteristic == "conversions":
        val = zeta(np.bincount(mask, weights=p.value, minlength=size)) if p.value is not None else None
        return conv, val
    n = zeta(np.bincount(mask, weights=p.conv + p.nulls, minlength=size))
    rate = np.divide(conv, n, out=np.zeros_like(conv), where=n > 0)
    return rate, None


def _shapley_from_v(v: np.ndarray, C: int) -> np.ndarray:
    size = 1 << C
    idx = np.arange(size)
    pop = np.zeros(size, dtype=np.int64)
    for i in range(C):
        pop += (idx >> i) & 1
    w = np.array([factorial(s) * factorial(C - s - 1) / factorial(C) for s in range(C)])
    phi = np.empty(C)
    for i in range(C):
        bit = 1 << i
        S = idx[(idx & bit) == 0]
        phi[i] = np.sum(w[pop[S]] * (v[S | bit] - v[S]))
    return phi


def shapley(paths: pd.DataFrame, method: str = "simplified", *,
            characteristic: str = "conversions") -> pd.DataFrame:
    """Shapley-value attribution.

    ``method="simplified"``: each path's conversions (and value) are split equally over its *distinct*
    channels (``a > b > a``: a ½, b ½).

    ``method="exact"``: the Shapley value of a cooperative game over the channels, computed over all
    2^n coalitions (n ≤ 15 channels). The characteristic function v(S) of a coalition S is

    - ``characteristic="conversions"`` (default): the conversions of the paths whose channel set is a subset
      of S — what the journeys would still deliver if only the channels in S existed. This game is a sum of
      unanimity games (one per path), so its Shapley value equals the simplified one; the exact
      computation confirms it and is the baseline for other characteristic functions.
    - ``characteristic="conversion_rate"``: the conversion rate (conversions / journeys) of the paths whose
      channel set is a subset of S (0 when there are none). The Shapley values (which sum to the overall
      rate) are rescaled to sum to the total conversions.

    Parameters
    ----------
    paths : DataFrame
        A paths table.
    method : {"simplified", "exact"}
    characteristic : {"conversions", "conversion_rate"}
        The characteristic function for ``method="exact"``.

    Returns
    -------
    DataFrame
        Indexed by ``channel``: ``shapley`` (attributed conversions) and, with values and
        ``characteristic="conversions"``, ``shapley_value``.

    Raises
    ------
    ValueError
        For ``method="exact"`` with more than 15 channels.
    """
    if method not in ("simplified", "exact"):
        raise ValueError(f"method must be 'simplified' or 'exact', got {method!r}")
    if characteristic not in ("conversions", "conversion_rate"):
        raise ValueError(f"characteristic must be 'conversions' or 'conversion_rate', got {characteristic!r}")
    p = _parse(paths)
    if method == "simplified":
        return _simplified_shapley(p)
    C = len(p.channels)
    if C > MAX_EXACT_SHAPLEY_CHANNELS:
        raise ValueError(f"exact Shapley is limited to {MAX_EXACT_SHAPLEY_CHANNELS} channels (2^n coalitions); "
                         f"the paths have {C}. Use method='simplified'.")
    index = pd.Index(p.channels.astype(str), name="channel")
    if C == 0:
        return pd.DataFrame({"shapley": np.zeros(0)}, index=index)
    v, val = _coalition_values(p, characteristic)
    phi = _shapley_from_v(v, C)
    if characteristic == "conversion_rate":
        phi = _share(phi) * p.conv.sum() if phi.sum() > 0 else phi * 0
    out = pd.DataFrame({"shapley": phi}, index=index)
    if val is not None:
        out["shapley_value"] = _shapley_from_v(val, C)
    return out
