"""Who drops off and what goes with it: segment comparison, the worst segment, drop-off drivers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjlib.funnel.matching import _check_positive, _Match, _run, _transition, _transition_spans
from cjlib.funnel.tables import _check_by, _segment_values
from cjlib.stagemap import StageMap
from cjlib.stats import holm, two_proportion_test, wilson_interval


# ------------------------------------------------------------------------------------ segment comparison
def compare_segments(
    events: pd.DataFrame,
    steps: Sequence,
    by: str,
    *,
    from_step=None,
    to_step=None,
    control=None,
    window=None,
    mode: str = "ordered",
    unit: str = "customer",
    stage_map: StageMap | None = None,
    confidence: float = 0.95,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Conversion per segment with Wilson intervals and Holm-corrected two-proportion tests.

    For a transition ``from_step → to_step`` the population of a segment is its units that reached
    ``from_step`` and the conversion is the share of them that reached ``to_step`` (both by the funnel
    rules of :func:`funnel`, so with ``from_step`` > 1 this is the conditional step conversion). Each
    segment is tested against the rest of the units (all other segments pooled) or, with ``control``,
    against the control segment (an A/B variant is just a segment). All p-values in the result form one
    family for the Holm correction.

    Parameters
    ----------
    events, steps, window, mode, unit, stage_map
        As in :func:`funnel`.
    by : str
        Segment column (value on the unit's first step-1 event; units with a missing value are left out).
    from_step, to_step : step label, step number (1-based) or name, optional
        Both ``None``: every consecutive transition (step k-1 → k) plus nothing else. Only ``to_step``:
        from step 1. Only ``from_step``: to the last step.
    control : optional
        A level of ``by`` to compare against; it gets NaN test statistics itself.
    confidence : float, default 0.95
        Of the Wilson intervals.
    alpha : float, default 0.05
        ``significant`` is ``p_adjusted < alpha``.

    Returns
    -------
    DataFrame
        One row per transition and segment: ``from_step``, ``to_step``, the segment column, ``units``
        (reached from_step), ``converted``, ``rate``, ``ci_low``, ``ci_high``, ``comparison`` ("rest" or
        the control level), ``rate_comparison``, ``difference`` (rate − comparison), ``ratio``
        (rate ÷ comparison), ``z``, ``p_value`` (two-sided), ``p_adjusted`` (Holm) and ``significant``.
    """
    cols = _check_by(by, events)
    if len(cols) != 1:
        raise ValueError("by must be a single column name for compare_segments")
    col = cols[0]
    return _compare(_run(events, steps, window, mode, unit, stage_map), col, from_step=from_step, to_step=to_step,
                    control=control, confidence=confidence, alpha=alpha)


def _compare(m: _Match, col: str, *, from_step, to_step, control, confidence: float, alpha: float) -> pd.DataFrame:
    labels = m.prep.labels
    K = len(labels)
    if from_step is None and to_step is None:
        if K < 2:
            raise ValueError("steps: segment comparison needs at least 2 steps")
        pairs = [(k - 1, k) for k in range(1, K)]
    else:
        pairs = [_transition(m, from_step, to_step)]
    seg = _segment_values(m, [col])[col]
    codes, uniq = pd.factorize(seg, sort=True, use_na_sentinel=True)
    levels = list(uniq)
    if control is not None and control not in levels:
        raise ValueError(f"control must be one of the {col!r} levels {levels}, got {control!r}")
    G = len(levels)
    rows = []
    for a, b in pairs:
        base = m.level >= a + 1
        conv = m.level >= b + 1
        valid = codes >= 0
        n = np.bincount(codes[valid & base], minlength=G).astype(np.int64)
        x = np.bincount(codes[valid & conv], minlength=G).astype(np.int64)
        if control is None:
            n2, x2 = n.sum() - n, x.sum() - x
            comp = np.array(["rest"] * G, dtype=object)
        else:
            ci = levels.index(control)
            n2, x2 = np.full(G, n[ci]), np.full(G, x[ci])
            comp = np.array([control] * G, dtype=object)
        z, p = two_proportion_test(x, n, x2, n2)
        if control is not None:
            z[ci] = p[ci] = np.nan
        lo, hi = wilson_interval(x, n, confidence)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(n > 0, x / n, np.nan)
            rate2 = np.where(n2 > 0, x2 / n2, np.nan)
            ratio = rate / rate2
        rows.append(pd.DataFrame({
            "from_step": labels[a], "to_step": labels[b], col: levels, "units": n, "converted": x,
            "rate": rate, "ci_low": lo, "ci_high": hi, "comparison": comp, "rate_comparison": rate2,
            "difference": rate - rate2, "ratio": ratio, "z": z, "p_value": p,
        }))
    out = pd.concat(rows, ignore_index=True)
    out["p_adjusted"] = holm(out["p_value"].to_numpy())
    out["significant"] = out["p_adjusted"].to_numpy() < alpha
    return out


# ---------------------------------------------------------------------------------------- drop-off drivers
@dataclass(frozen=True)
class Drivers:
    """Events that go with converting or dropping (:func:`dropoff_drivers`).

    Attributes
    ----------
    table : DataFrame
        One row per event, highest odds ratio first: ``event``, ``units_with``, ``rate_with``,
        ``rate_without``, ``odds_ratio``, ``log_odds_ratio``, ``ci_low``, ``ci_high``, ``direction``.
    units : int
        The population: units that reached ``from_step``.
    converted : int
        Of them, units that reached ``to_step``.
    from_step, to_step : str
        The transition's step labels.
    min_support : int
        Events done by fewer units are left out of ``table``.
    events_seen : int or None
        Distinct events (other than step events when those are excluded) done by any unit in its span,
        before ``min_support`` (0: nothing but the funnel's own steps happened; None: not counted).
    """

    table: pd.DataFrame
    units: int
    converted: int
    from_step: str
    to_step: str
    min_support: int
    events_seen: int | None = None

def dropoff_drivers(
    events: pd.DataFrame,
    steps: Sequence,
    *,
    from_step=None,
    to_step=None,
    window=None,
    mode: str = "ordered",
    unit: str = "customer",
    stage_map: StageMap | None = None,
    min_support: int = 30,
    exclude_step_events: bool = True,
) -> Drivers:
    """Which events go with converting or dropping: smoothed odds ratios per event.

    Population: units that reached ``from_step`` (default step 1). A unit *converts* when it reaches
    ``to_step`` (default the last step). For each unit, the events seen strictly after its ``from_step``
    event (of the chosen attempt, see :func:`funnel`) up to its conversion (exclusive) — or, for units that
    did not convert, up to the window end (inclusive) or, without a window, to the unit's last event —
    are collected as a set (doing an event twice counts once). With ``exclude_step_events`` rows that
    satisfy any funnel step are ignored (they would explain conversion tautologically).

    For each event: a = converters who did it, b = non-converters who did it, c = converters who did
    not, d = non-converters who did not; odds ratio ``(a+1)(d+1) / ((b+1)(c+1))`` (+1 smoothing), with a
    Woolf 95 % interval on the log scale from the same smoothed counts. Events done by fewer than
    ``min_support`` units are dropped. Note: non-converters are observed for longer than converters
    (their span runs to the window end), so events typical of idle browsing lean negative; read the
    ratios as associations, not effects.

    Parameters
    ----------
    events, steps, window, mode, unit, stage_map
        As in :func:`cjlib.funnel.funnel`.
    from_step, to_step : step label, step number (1-based) or name, optional
        The transition (default step 1 → the last step).
    min_support : int, default 30
        Events done by fewer units are left out.
    exclude_step_events : bool, default True
        Ignore rows that satisfy a funnel step.

    Returns
    -------
    Drivers
        ``table`` has one row per event, sorted by odds ratio (highest first): ``event``, ``units_with``,
        ``rate_with`` (conversion of units that did it), ``rate_without``, ``odds_ratio``,
        ``log_odds_ratio``, ``ci_low``, ``ci_high`` (odds-ratio scale), ``direction`` ("positive" when the
        odds ratio > 1, else "negative"); ``units`` and ``converted`` count the population.
    """
    _check_positive("min_support", min_support)
    return _drivers(_run(events, steps, window, mode, unit, stage_map), from_step=from_step, to_step=to_step,
                    min_support=min_support, exclude_step_events=exclude_step_events)


def _driver_counts(m: _Match, *, from_step, to_step, exclude_step_events: bool) -> tuple:
    """The additive counts of :func:`_drivers`: (from index, to index, units with each event, converters with
    each event, units, converters); summed over partitions of complete units they are the whole log's."""
    prep = m.prep
    a_, b_ = _transition(m, from_step, to_step)
    span = _transition_spans(m, a_, b_)
    units, conv, rows, owner = span.units, span.conv, span.rows, span.owner
    if exclude_step_events:
        keep = ~prep.member[rows].any(axis=1)
        rows, owner = rows[keep], owner[keep]
    E = len(prep.ev_cats)
    codes = prep.ev_codes[rows]
    valid = codes >= 0
    key = np.unique(owner[valid].astype(np.int64) * E + codes[valid])
    did_owner, did_event = key // E, key % E
    with_all = np.bincount(did_event, minlength=E).astype(np.int64)
    with_conv = np.bincount(did_event, weights=conv[did_owner].astype(float), minlength=E)
    return a_, b_, with_all, with_conv, len(units), int(conv.sum())


def _driver_table(labels: list, cats: np.ndarray, counts: tuple, min_support: int) -> Drivers:
    """:class:`Drivers` from :func:`_driver_counts` (``cats``: the event names the counts are indexed by)."""
    a_, b_, with_all, with_conv, n, n_conv = counts
    a = with_conv
    b = with_all - with_conv
    c = n_conv - a
    d = (n - n_conv) - b
    with np.errstate(divide="ignore", invalid="ignore"):
        lor = np.log((a + 1) * (d + 1)) - np.log((b + 1) * (c + 1))
        se = np.sqrt(1 / (a + 1) + 1 / (b + 1) + 1 / (c + 1) + 1 / (d + 1))
        rate_with = np.where(with_all > 0, a / with_all, np.nan)
        rate_without = np.where(n - with_all > 0, c / (n - with_all), np.nan)
    sel = with_all >= min_support
    out = pd.DataFrame({
        "event": cats[sel], "units_with": with_all[sel].astype(np.int64), "rate_with": rate_with[sel],
        "rate_without": rate_without[sel], "odds_ratio": np.exp(lor[sel]), "log_odds_ratio": lor[sel],
        "ci_low": np.exp(lor[sel] - 1.959964 * se[sel]), "ci_high": np.exp(lor[sel] + 1.959964 * se[sel]),
    })
    out["direction"] = np.where(out["odds_ratio"] > 1, "positive", "negative")
    out = out.sort_values("odds_ratio", ascending=False, kind="stable").reset_index(drop=True)
    return Drivers(out, units=n, converted=n_conv, from_step=labels[a_], to_step=labels[b_], min_support=min_support,
                   events_seen=int((with_all > 0).sum()))


def _drivers(m: _Match, *, from_step, to_step, min_support: int, exclude_step_events: bool) -> Drivers:
    _check_positive("min_support", min_support)
    counts = _driver_counts(m, from_step=from_step, to_step=to_step, exclude_step_events=exclude_step_events)
    return _driver_table(m.prep.labels, m.prep.ev_cats, counts, min_support)


def worst_segment(comparisons: Mapping[str, pd.DataFrame], to_step=None, *, min_units: int = 100,
                  tolerance: float = 1e-9) -> dict | None:
    """The significant segment level with the lowest ratio to the rest, or ``None``.

    Over the :func:`compare_segments` results of several columns (column → frame), rows count when they
    are significant, have at least ``min_units`` units at the transition, convert less than the rest
    (``ratio < 1``) and, with ``to_step``, end at that step. Two rows tied for the lowest ratio (within
    ``tolerance``) name nothing: a tie is never called the worst.

    Parameters
    ----------
    comparisons : mapping of str to DataFrame
        Segment column → its :func:`compare_segments` result.
    to_step : str, optional
        Only transitions into this step.
    min_units : int, default 100
        Levels with fewer units at the transition are never named.
    tolerance : float, default 1e-9
        Ratios closer than this are a tie.

    Returns
    -------
    dict or None
        ``column``, ``level``, ``from_step``, ``to_step``, ``units``, ``converted``, ``rate``, ``ci_low``,
        ``ci_high``, ``rate_rest``, ``ratio``, ``p_adjusted``.
    """
    rows = []
    for col, c in comparisons.items():
        c = c[c["significant"] & (c["units"] >= min_units) & (c["ratio"] < 1) & np.isfinite(c["ratio"])]
        if to_step is not None:
            c = c[c["to_step"] == to_step]
        rows += [dict(column=col, level=r[col], from_step=r["from_step"], to_step=r["to_step"], units=int(r["units"]),
                      converted=int(r["converted"]), rate=float(r["rate"]), ci_low=float(r["ci_low"]),
                      ci_high=float(r["ci_high"]), rate_rest=float(r["rate_comparison"]), ratio=float(r["ratio"]),
                      p_adjusted=float(r["p_adjusted"])) for _, r in c.iterrows()]
    if not rows:
        return None
    rows.sort(key=lambda r: (r["ratio"], r["column"], str(r["level"])))
    if len(rows) > 1 and rows[1]["ratio"] - rows[0]["ratio"] <= tolerance:
        return None
    return rows[0]


