"""The stage table: per stage, who reached it, who moved on, how fast, what it earned, how it felt."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlib.io import ensure_sorted
from cjlib.journeys import assign_stages, stage_progress
from cjlib.scorecard import distributed as _dist
from cjlib.scorecard._common import progress
from cjlib.scorecard.satisfaction import stage_satisfaction
from cjlib.stagemap import StageMap
from cjlib.validation import resolve_stage_map

__all__ = ["stage_kpis", "stage_touchpoints"]


def _touch_counts(ev: pd.DataFrame, sm: StageMap, by: str) -> pd.DataFrame:
    """Events per (stage, value of ``by``): ``stage`` (ordered categorical), ``value``, ``events``; a
    categorical column is counted on its codes (no text per event)."""
    stage = assign_stages(ev, stage_map=sm)
    col = ev[by]
    if not isinstance(col.dtype, pd.CategoricalDtype):
        df = pd.DataFrame({"stage": stage, "value": col.astype("string")}).dropna()
        return df.groupby(["stage", "value"], observed=True).size().rename("events").reset_index()
    sc, vc = stage.cat.codes.to_numpy().astype(np.int64), col.cat.codes.to_numpy().astype(np.int64)
    ok = (sc >= 0) & (vc >= 0)
    k = len(col.cat.categories)
    n = np.bincount(sc[ok] * k + vc[ok], minlength=len(sm.stage_names) * k)
    nz = np.flatnonzero(n)
    return pd.DataFrame({"stage": pd.Categorical.from_codes(nz // k, categories=sm.stage_names, ordered=True),
                         "value": col.cat.categories.astype("string")[nz % k],
                         "events": n[nz].astype(np.int64)})


def stage_touchpoints(events: pd.DataFrame, *, stage_map: StageMap | str | None = None, by: str = "event",
                      top: int | None = 3) -> pd.DataFrame:
    """The most frequent values of ``by`` (``"event"``: touchpoints; ``"channel"``: channel mix) per stage.

    Parameters
    ----------
    events : DataFrame or Partitioned
        The loaded event log, or a log partitioned on a Dask cluster (:func:`cjlib.engine.partition`).
    stage_map : StageMap, str or None
        The map, a YAML path, or None for the default map.
    by : str, default "event"
        An event-log column.
    top : int or None, default 3
        Rows kept per stage (None keeps all).

    Returns
    -------
    DataFrame
        Columns ``stage`` (in journey order), ``value``, ``events`` (count), ``share`` (of the stage's
        events with a value), ``rank`` (1 = most frequent; ties broken by value name).
    """
    cols = _dist.columns(events)
    if by not in cols:
        raise ValueError(f"by must be a column of events ({', '.join(map(str, cols))}), got {by!r}")
    sm = resolve_stage_map(stage_map)
    if _dist.is_partitioned(events):
        counts = _dist.touch_counts(events, sm, by)
    else:
        counts = _touch_counts(ensure_sorted(events), sm, by)
    counts["value"] = counts["value"].astype(str)
    counts["share"] = counts["events"] / counts.groupby("stage", observed=True)["events"].transform("sum")
    counts = counts.sort_values(["stage", "events", "value"], ascending=[True, False, True], kind="stable")
    counts["rank"] = counts.groupby("stage", observed=True).cumcount() + 1
    if top is not None:
        counts = counts[counts["rank"] <= top]
    counts["stage"] = counts["stage"].astype(str)
    return counts.reset_index(drop=True)


def stage_kpis(
    events: pd.DataFrame,
    *,
    stage_map: StageMap | str | None = None,
    feedback: pd.DataFrame | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per stage, in journey order.

    Parameters
    ----------
    events : DataFrame or Partitioned
        The loaded event log, or a log partitioned on a Dask cluster (:func:`cjlib.engine.partition`).
    stage_map : StageMap, str or None
        The map, a YAML path, or None for the default map (still positional here: callers outside the
        journey map pass it so).
    feedback : DataFrame, optional
        Loaded feedback, for the satisfaction columns.
    confidence : float, default 0.95
        Level of the satisfaction intervals.

    Returns
    -------
    DataFrame
        Index ``stage``; the columns below.

    Columns
    -------
    reached : customers with at least one event of the stage.
    reached_share : ``reached`` ÷ customers in the log.
    conversion_to_next : share of ``reached`` with an event of the next stage at or after their first
        event of this stage, whenever they first reached the next one (NaN for the last stage; see
        :func:`cjlib.journeys.stage_progress`).
    median_days_to_next : median days from first reaching this stage to that first event of the next,
        over the customers counted in ``conversion_to_next``.
    events : events of the stage; revenue : revenue on the stage's events.
    satisfaction : mean CSAT (1–5) of feedback rows of this stage (see :func:`feedback_stages`);
        satisfaction_n : how many such rows; satisfaction_lo / satisfaction_hi : its t interval.
    nps, nps_lo, nps_hi, nps_n : NPS (points) of the stage's NPS answers (see :func:`cjlib.stats.nps`).
    satisfaction_index, satisfaction_index_lo/_hi/_n : mean of every answer on one 0–100 scale
        (:func:`satisfaction_index`), the emotion curve.
    top_touchpoint, top_touchpoint_share : the stage's most frequent event and its share of the stage's
        events; top_channel, top_channel_share : the same for ``channel`` (absent without that column).

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "timestamp": pd.to_datetime(
    ...     ["2025-01-01", "2025-01-03", "2025-01-02"]), "event": ["page_view", "product_view", "page_view"]})
    >>> stage_kpis(ev).loc["awareness", ["reached", "conversion_to_next", "median_days_to_next"]].tolist()
    [2.0, 0.5, 2.0]
    """
    sm = resolve_stage_map(stage_map)
    if _dist.is_partitioned(events):  # per-customer stage times and per-stage sums from the workers
        table = _dist.stage_table(events, sm)
        counts, revenue = _dist.stage_totals(events, sm)
    else:
        events = ensure_sorted(events)
        table = stage_progress(events, stage_map=sm)
        stage = assign_stages(events, stage_map=sm)
        by_stage = events.assign(_stage=stage).groupby("_stage", observed=False)
        counts = by_stage.size()
        revenue = by_stage["revenue"].sum() if "revenue" in events.columns else pd.Series(0.0, index=counts.index)
    n_customers = len(table)
    has, moved, days = progress(table)
    n_has = has.sum(axis=0)
    n_moved = moved.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        conv = np.where(n_has > 0, n_moved / np.maximum(n_has, 1), np.nan)
    med = np.array([np.median(days[moved[:, i], i]) if n_moved[i] else np.nan for i in range(has.shape[1])])
    conv[-1] = med[-1] = np.nan
    out = pd.DataFrame({
        "reached": n_has.astype(int),
        "reached_share": n_has / n_customers if n_customers else np.nan,
        "conversion_to_next": conv,
        "median_days_to_next": med,
        "events": counts.reindex(sm.stage_names, fill_value=0).to_numpy().astype(int),
        "revenue": revenue.reindex(sm.stage_names, fill_value=0.0).to_numpy().astype(float),
    }, index=pd.Index(sm.stage_names, name="stage"))
    sat = stage_satisfaction(feedback, stage_map=sm, events=events, confidence=confidence)
    out["satisfaction"] = sat["csat"]
    out["satisfaction_n"] = sat["csat_n"].astype(int)
    out["satisfaction_lo"], out["satisfaction_hi"] = sat["csat_lo"], sat["csat_hi"]
    for c in ("nps", "nps_lo", "nps_hi"):
        out[c] = sat[c]
    out["nps_n"] = sat["nps_n"].astype(int)
    out["satisfaction_index"] = sat["index"]
    out["satisfaction_index_lo"], out["satisfaction_index_hi"] = sat["index_lo"], sat["index_hi"]
    out["satisfaction_index_n"] = sat["index_n"].astype(int)
    for by, name in (("event", "top_touchpoint"), ("channel", "top_channel")):
        if by not in _dist.columns(events):
            continue
        top = stage_touchpoints(events, stage_map=sm, by=by, top=1).set_index("stage")
        out[name] = top["value"].reindex(out.index).astype(object)
        out[f"{name}_share"] = top["share"].reindex(out.index).astype(float)
    return out

