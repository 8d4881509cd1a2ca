"""The stage scorecard: per journey stage, who reached it, who moved on, how fast, revenue, satisfaction."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlib.journeys import assign_stages, stage_reached
from cjlib.stagemap import StageMap, load_stage_map

__all__ = ["stage_kpis"]


def stage_kpis(
    events: pd.DataFrame,
    stage_map: StageMap | None = None,
    *,
    feedback: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per stage, in journey order.

    Columns
    -------
    reached : customers with at least one event of the stage.
    reached_share : ``reached`` ÷ customers in the log.
    conversion_to_next : share of ``reached`` who reached the next stage at or after their first event
        of this stage (NaN for the last stage).
    median_days_to_next : median days from first reaching this stage to first reaching the next, over
        the customers counted in ``conversion_to_next``.
    events : events of the stage; revenue : revenue on the stage's events.
    satisfaction : mean CSAT (1–5) of feedback rows whose ``stage`` is this stage, when feedback with a
        ``stage`` column is given; satisfaction_n : how many such rows.

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "timestamp": pd.to_datetime(
    ...     ["2025-01-01", "2025-01-03", "2025-01-02"]), "event": ["page_view", "product_view", "page_view"]})
    >>> stage_kpis(ev).loc["awareness", ["reached", "conversion_to_next", "median_days_to_next"]].tolist()
    [2.0, 0.5, 2.0]
    """
    sm = stage_map or load_stage_map()
    reached = stage_reached(events, sm)
    n_customers = len(reached)
    t = reached.to_numpy()
    rows = []
    stage = assign_stages(events, sm)
    by_stage = events.assign(_stage=stage).groupby("_stage", observed=False)
    counts = by_stage.size()
    revenue = by_stage["revenue"].sum() if "revenue" in events.columns else pd.Series(0.0, index=counts.index)
    sat = None
    if feedback is not None and "stage" in feedback.columns:
        csat = feedback.loc[feedback.get("scale", pd.Series("csat", index=feedback.index)) == "csat"]
        sat = csat.groupby("stage")["score"].agg(["mean", "size"])
    for i, name in enumerate(sm.stage_names):
        has = ~np.isnat(t[:, i])
        row = {"stage": name, "reached": int(has.sum()),
               "reached_share": has.sum() / n_customers if n_customers else np.nan}
        if i + 1 < len(sm.stage_names):
            nxt = ~np.isnat(t[:, i + 1])
            moved = has & nxt & (t[:, i + 1] >= t[:, i])
            row["conversion_to_next"] = moved.sum() / has.sum() if has.sum() else np.nan
            gaps = (t[moved, i + 1] - t[moved, i]) / np.timedelta64(1, "D")
            row["median_days_to_next"] = float(np.median(gaps)) if len(gaps) else np.nan
        else:
            row["conversion_to_next"] = np.nan
            row["median_days_to_next"] = np.nan
        row["events"] = int(counts.get(name, 0))
        row["revenue"] = float(revenue.get(name, 0.0))
        if sat is not None and name in sat.index:
            row["satisfaction"], row["satisfaction_n"] = float(sat.loc[name, "mean"]), int(sat.loc[name, "size"])
        else:
            row["satisfaction"], row["satisfaction_n"] = np.nan, 0
        rows.append(row)
    out = pd.DataFrame(rows).set_index("stage")
    return out
