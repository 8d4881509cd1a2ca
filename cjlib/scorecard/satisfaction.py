"""Satisfaction per stage: CSAT, NPS and one 0–100 index, each with its interval."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlib.io import ensure_sorted
from cjlib.journeys import assign_stages
from cjlib.scorecard import distributed as _dist
from cjlib.scorecard._common import feedback_scale, t_interval
from cjlib.stagemap import StageMap
from cjlib.stats import nps
from cjlib.validation import resolve_stage_map

__all__ = ["feedback_stages", "satisfaction_index", "stage_satisfaction"]


def satisfaction_index(feedback: pd.DataFrame) -> pd.Series:
    """Every feedback score on one 0–100 scale: CSAT ``(score − 1) / 4 × 100``, NPS ``score / 10 × 100``.

    Parameters
    ----------
    feedback : DataFrame
        ``score`` and, optionally, ``scale`` (``csat`` or ``nps``); rows without ``scale`` are CSAT (the
        loader's rule).

    Returns
    -------
    Series
        ``satisfaction_index`` on the index of ``feedback``.

    Examples
    --------
    >>> satisfaction_index(pd.DataFrame({"score": [5, 3, 7], "scale": ["csat", "csat", "nps"]})).tolist()
    [100.0, 50.0, 70.0]
    """
    scale = feedback_scale(feedback)
    s = feedback["score"].astype(float)
    return pd.Series(np.where(scale == "nps", s / 10 * 100, (s - 1) / 4 * 100), index=feedback.index,
                     name="satisfaction_index")


def _stage_at_time(feedback: pd.DataFrame, events: pd.DataFrame, sm: StageMap) -> pd.Series:
    """The stage of each customer's latest staged event at or before each feedback time."""
    if _dist.is_partitioned(events):
        return _dist.stage_at_time(events, feedback, sm)
    ev = ensure_sorted(events)
    stage = assign_stages(ev, stage_map=sm)
    keep = stage.notna().to_numpy()
    right = pd.DataFrame({"_k": ev.loc[keep, "customer_id"].astype(str).to_numpy(),
                          "_t": ev.loc[keep, "timestamp"].to_numpy().astype("datetime64[ns]"),
                          "_s": stage[keep].astype(str).to_numpy()}).sort_values("_t", kind="stable")
    left = pd.DataFrame({"_k": feedback["customer_id"].astype(str).to_numpy(),
                         "_t": feedback["timestamp"].to_numpy().astype("datetime64[ns]"),
                         "_i": np.arange(len(feedback))}).sort_values("_t", kind="stable")
    m = pd.merge_asof(left, right, on="_t", by="_k", direction="backward").sort_values("_i")
    return pd.Series(m["_s"].to_numpy(), index=feedback.index, dtype="string")


def feedback_stages(feedback: pd.DataFrame, *, stage_map: StageMap | str | None = None,
                    events: pd.DataFrame | None = None) -> pd.Series:
    """The stage of each feedback row.

    From the ``stage`` column when present (names not in the map become NaN); else from ``touchpoint``
    (the event's stage in the map); else, when ``events`` are given, the stage of the customer's latest
    staged event at or before the feedback time; else NaN.

    Parameters
    ----------
    feedback : DataFrame
        Loaded feedback (``customer_id``, ``timestamp``, ``score`` and ``stage`` or ``touchpoint``).
    stage_map : StageMap, str or None
        The map, a YAML path, or None for the default map.
    events : DataFrame or Partitioned, optional
        The event log (or a partitioned one, :func:`cjlib.engine.partition`), used when the feedback names neither stage nor touchpoint.

    Returns
    -------
    Series
        Ordered categorical ``stage`` (the map's stages) on the index of ``feedback``.
    """
    sm = resolve_stage_map(stage_map)
    names = sm.stage_names
    if "stage" in feedback.columns:
        st = feedback["stage"].astype("string")
    elif "touchpoint" in feedback.columns:
        st = feedback["touchpoint"].astype("string").map(sm.event_to_stage)
    elif events is not None and len(feedback):
        st = _stage_at_time(feedback, events, sm)
    else:
        st = pd.Series(pd.NA, index=feedback.index, dtype="string")
    st = st.where(st.isin(names))
    return pd.Series(pd.Categorical(st.astype(object).where(st.notna(), None), categories=names, ordered=True),
                     index=feedback.index, name="stage")


def stage_satisfaction(feedback: pd.DataFrame | None, *, stage_map: StageMap | str | None = None,
                       events: pd.DataFrame | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """CSAT, NPS and the 0–100 satisfaction index per stage, with ``confidence`` intervals.

    Parameters
    ----------
    feedback : DataFrame or None
        Loaded feedback; None gives the empty table.
    stage_map : StageMap, str or None
        The map, a YAML path, or None for the default map.
    events : DataFrame or Partitioned, optional
        The event log (or a partitioned one), to place feedback without ``stage``/``touchpoint`` (:func:`feedback_stages`).
    confidence : float, default 0.95
        Level of the intervals.

    Returns
    -------
    DataFrame
        Index ``stage`` (every stage, in order). ``csat`` (mean 1–5), ``csat_lo``/``csat_hi`` (t interval),
        ``csat_n``; ``nps`` (points, see :func:`cjlib.stats.nps`), ``nps_lo``/``nps_hi``, ``nps_n``;
        ``index`` (mean :func:`satisfaction_index` over every scale, 0–100), ``index_lo``/``index_hi``
        (t interval), ``index_n``. NaN / 0 where a stage has no feedback (or ``feedback`` is None).
    """
    sm = resolve_stage_map(stage_map)
    cols = ["csat", "csat_lo", "csat_hi", "csat_n", "nps", "nps_lo", "nps_hi", "nps_n",
            "index", "index_lo", "index_hi", "index_n"]
    out = pd.DataFrame(np.nan, index=pd.Index(sm.stage_names, name="stage"), columns=cols)
    for c in ("csat_n", "nps_n", "index_n"):
        out[c] = 0
    if feedback is None or not len(feedback):
        return out
    st = feedback_stages(feedback, stage_map=sm, events=events)
    df = pd.DataFrame({"stage": st, "scale": feedback_scale(feedback), "score": feedback["score"].astype(float),
                       "index": satisfaction_index(feedback)}).dropna(subset=["stage"])
    for col, sub in (("csat", df[df["scale"] == "csat"].rename(columns={"score": "v"})),
                     ("index", df.rename(columns={"index": "v"}))):
        g = sub.groupby("stage", observed=True)["v"].agg(["mean", "std", "size"])
        lo, hi = t_interval(g["mean"], g["std"], g["size"], confidence)
        out.loc[g.index.astype(str), [col, f"{col}_lo", f"{col}_hi"]] = np.c_[g["mean"], lo, hi]
        out.loc[g.index.astype(str), f"{col}_n"] = g["size"].to_numpy()
    n_sub = df[df["scale"] == "nps"]
    for stage, scores in n_sub.groupby(n_sub["stage"].astype(str), sort=True)["score"]:
        out.loc[stage, ["nps", "nps_lo", "nps_hi", "nps_n"]] = nps(scores.to_numpy(), confidence)
    return out
