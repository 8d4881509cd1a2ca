"""Segments: one label per customer, conversion per segment level, pain points and journey scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjlib.io import ensure_sorted
from cjlib.journeys import stage_progress
from cjlib.scorecard import distributed as _dist
from cjlib.scorecard._common import progress
from cjlib.scorecard.satisfaction import satisfaction_index
from cjlib.stagemap import StageMap
from cjlib.stats import holm, two_proportion_test
from cjlib.validation import check_choice, resolve_stage_map

__all__ = ["SCORE_COMPONENTS", "customer_segments", "journey_scores", "pain_points", "segment_conversion"]

# component → (column in journey_scores, True when higher is better)
SCORE_COMPONENTS = {
    "conversion": ("conversion", True),
    "speed": ("days_to_convert", False),
    "satisfaction": ("satisfaction", True),
    "value": ("revenue_per_customer", True),
}


def customer_segments(
    events: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    customers: pd.DataFrame | None = None,
    max_levels: int = 12,
    profile=None,
    stage_map: StageMap | str | None = None,
) -> pd.DataFrame:
    """One segment label per customer and segment column.

    An event-log column gives each customer's value on their first event with a value (``channel``
    becomes ``acquisition_channel``); a ``customers`` column (``persona``, ``plan`` …) is taken as is.

    Parameters
    ----------
    events : DataFrame or Partitioned
        The loaded event log, or a log partitioned on a Dask cluster (:func:`cjlib.engine.partition`).
    by : list of str, optional
        Event or customer columns (``"acquisition_channel"`` means ``channel``). Default: the data
        profile's ``segment_candidates`` (text columns with 2 to 12 values that are neither id-like nor
        outcome-like, customer columns first, then event columns, then ``acquisition_channel``; see
        :class:`cjlib.DataProfile`) with at most ``max_levels`` values, and a ``persona`` column of
        ``customers`` first when present. A named column the profile finds id-like or outcome-like is
        used, with a warning.
    customers : DataFrame, optional
        Customer attributes with ``customer_id``.
    profile : DataProfile, optional
        The profile of the loaded inputs (``data.profile``); computed from ``events``, ``customers`` and
        ``stage_map`` when not given and ``by`` is None.
    max_levels : int, default 12
        The most values a default segment column may have.
    stage_map : StageMap, str or None
        Used only to compute the profile (default map when None).

    Returns
    -------
    DataFrame
        Index ``customer_id`` (every customer in the log, in log order), one column per segment (str,
        NaN when unknown).
    """
    parted = _dist.is_partitioned(events)
    ev = events if parted else ensure_sorted(events)
    skip = {"customer_id", "event", "session_id", "timestamp", "revenue", "cost"}
    ev_cols = _dist.columns(ev)
    first_all = None
    if parted:  # each customer's first value of every event column that could be a segment
        first_all = _dist.first_values(ev, [c for c in ev_cols if c not in skip])
        ids = pd.Index(first_all.index, name="customer_id")
    else:
        ids = pd.Index(pd.unique(ev["customer_id"]), name="customer_id")

    def is_label(c: str) -> bool:
        kind, col = _segment_source(c, ev_cols, customers, set())
        if kind == "event" and parted:
            dtype, n = _dist.label_stats(ev, col)
        else:
            s = ev[col] if kind == "event" else customers[col]
            dtype, n = s.dtype, None
        ok = isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype) \
            or pd.api.types.is_object_dtype(dtype)
        return ok and 2 <= (s.nunique() if n is None else n) <= max_levels

    columns = by
    if columns is None:
        if profile is None:
            from cjlib.io import Inputs
            from cjlib.profiling import profile as _profile

            profile = _profile(Inputs(ev, customers, None, None, resolve_stage_map(stage_map)))
        columns = list(profile.segment_candidates)
        if customers is not None and "persona" in customers.columns:
            columns = ["persona"] + [c for c in columns if c != "persona"]
        columns = [c for c in columns if _segment_source(c, ev_cols, customers, skip) is not None and is_label(c)]
    elif profile is not None:
        odd = [c for c in columns if c in set(profile.id_like) | set(profile.outcome_like)]
        if odd:
            import warnings

            from cjlib.findings.journey_map import named_segment_warning

            warnings.warn(named_segment_warning(odd, profile), UserWarning, stacklevel=2)
    cols = []
    for c in columns:
        src = _segment_source(c, ev_cols, customers, skip)
        if src is None:
            avail = [x for x in ev_cols if x not in skip] + (
                [x for x in customers.columns if x != "customer_id"] if customers is not None else [])
            raise ValueError(f"by: {c!r} is neither an event nor a customer column "
                             f"(available: {', '.join(map(str, avail))})")
        cols.append(src)
    out = pd.DataFrame(index=ids)
    for src, c in cols:
        if src == "event":
            first = first_all[c] if parted else ev.groupby("customer_id", sort=False, observed=True)[c].first()
            name = "acquisition_channel" if c == "channel" else c
            out[name] = first.reindex(ids).astype("string").to_numpy()
        else:
            vals = customers.drop_duplicates("customer_id").set_index("customer_id")[c]
            vals.index = vals.index.astype(ids.dtype) if len(vals) else vals.index
            out[c] = vals.reindex(ids).astype("string").to_numpy()
    return out


def _segment_source(c: str, ev_cols: list, customers: pd.DataFrame | None, skip) -> tuple[str, str] | None:
    """Where segment column ``c`` comes from: ``("event", column)``, ``("customer", column)`` or None."""
    src = "channel" if c == "acquisition_channel" else c
    if src in ev_cols and src not in skip:
        return "event", src
    if customers is not None and c in customers.columns and c != "customer_id":
        return "customer", c
    return None


def segment_conversion(events: pd.DataFrame, by: pd.DataFrame, *,
                       stage_map: StageMap | str | None = None) -> pd.DataFrame:
    """Conversion out of each stage per segment level, against all customers of the stage.

    A customer moves on from a stage as in :func:`cjlib.scorecard.stage_kpis`' ``conversion_to_next`` (an
    event of the next stage at or after their first event of this one: :func:`cjlib.journeys.stage_progress`),
    so a level's rates and the stage table's agree.

    Parameters
    ----------
    events : DataFrame or Partitioned
        The loaded event log, or a log partitioned on a Dask cluster (:func:`cjlib.engine.partition`).
    by : DataFrame
        From :func:`customer_segments` (index ``customer_id``, one column per segment).
    stage_map : StageMap, str or None
        The map, a YAML path, or None for the default map.

    Returns
    -------
    DataFrame
        Columns ``segment``, ``level``, ``stage``, ``reached``, ``moved``, ``conversion_to_next``,
        ``median_days_to_next``, ``overall`` (the stage's conversion over all customers), ``gap``
        (``conversion_to_next − overall``), ``p_value`` (two-proportion z test, level against the rest
        of the stage's customers). The last stage has no conversion out and is left out.
    """
    sm = resolve_stage_map(stage_map)
    table = _dist.stage_table(events, sm) if _dist.is_partitioned(events) else \
        stage_progress(ensure_sorted(events), stage_map=sm)
    has, moved, days = progress(table)
    names = sm.stage_names[:-1]
    n_has, n_moved = has.sum(axis=0), moved.sum(axis=0)
    seg = by.reindex(table.index)
    parts = []
    for col in seg.columns:
        lab = seg[col].to_numpy(dtype=object)
        ok = pd.notna(lab)
        if not ok.any():
            continue
        h = pd.DataFrame(has[ok, :-1], columns=names).groupby(lab[ok]).sum()
        mv = pd.DataFrame(moved[ok, :-1], columns=names).groupby(lab[ok]).sum()
        md = pd.DataFrame(np.where(moved[ok, :-1], days[ok, :-1], np.nan), columns=names).groupby(lab[ok]).median()
        long = pd.DataFrame({"reached": h.stack(), "moved": mv.stack(), "median_days_to_next": md.stack()})
        long.index.names = ["level", "stage"]
        long = long.reset_index()
        long.insert(0, "segment", col)
        parts.append(long)
    cols = ["segment", "level", "stage", "reached", "moved", "conversion_to_next", "median_days_to_next",
            "overall", "gap", "p_value"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    out["reached"], out["moved"] = out["reached"].astype(int), out["moved"].astype(int)
    i = out["stage"].map({s: k for k, s in enumerate(names)}).to_numpy()
    out["conversion_to_next"] = out["moved"] / out["reached"].where(out["reached"] > 0)
    out["overall"] = n_moved[i] / np.maximum(n_has[i], 1)
    out["gap"] = out["conversion_to_next"] - out["overall"]
    out["p_value"] = two_proportion_test(out["moved"], out["reached"], n_moved[i] - out["moved"], n_has[i] - out["reached"])[1]
    out["stage"] = pd.Categorical(out["stage"], categories=names, ordered=True)
    out = out.sort_values(["stage", "segment", "level"], kind="stable").reset_index(drop=True)
    out["stage"] = out["stage"].astype(str)
    return out[cols]


def pain_points(seg_conv: pd.DataFrame, *, min_customers: int = 30) -> pd.DataFrame:
    """Per stage, the segment level with the worst conversion out of it (the most negative gap).

    Only levels with at least ``min_customers`` customers at the stage and a conversion below the
    stage's (``gap < 0``) are candidates. A stage whose worst gap is shared by two or more levels (a
    tie) has no pain point: naming one of them would be arbitrary.

    Parameters
    ----------
    seg_conv : DataFrame
        From :func:`segment_conversion`.
    min_customers : int, default 30
        The smallest level (customers at the stage) that can be a pain point.

    Returns
    -------
    DataFrame
        One row per stage that has a pain point, columns as :func:`segment_conversion` plus ``p_adjusted``
        (Holm over the levels of ``min_customers`` or more of every stage in ``seg_conv``: the pain point
        is the worst of many, so its raw p-value overstates it), index ``stage`` (in journey order).
    """
    if min_customers < 1:
        raise ValueError(f"min_customers must be a positive integer, got {min_customers!r}")
    big = (seg_conv["reached"] >= min_customers).to_numpy()
    adj = np.full(len(seg_conv), np.nan)
    adj[big] = holm(seg_conv["p_value"].to_numpy(float)[big])
    seg_conv = seg_conv.assign(p_adjusted=adj)
    c = seg_conv[(seg_conv["reached"] >= min_customers) & (seg_conv["gap"] < 0)].dropna(subset=["gap"])
    if not len(c):
        return seg_conv.iloc[0:0].set_index("stage")
    c = c.sort_values(["gap", "segment", "level"], kind="stable")
    lowest = c.groupby("stage", sort=False)["gap"].transform("min")
    tied = (c["gap"] == lowest).groupby(c["stage"], sort=False).transform("sum") > 1
    c = c[~tied]
    order = list(dict.fromkeys(seg_conv["stage"]))
    out = c.drop_duplicates("stage").set_index("stage")
    return out.reindex([s for s in order if s in out.index])


def journey_scores(
    events: pd.DataFrame,
    by: pd.DataFrame,
    *,
    stage_map: StageMap | str | None = None,
    feedback: pd.DataFrame | None = None,
    min_customers: int = 30,
    min_levels: int = 2,
    method: str = "rank",
) -> pd.DataFrame:
    """A journey score per segment level: how well the journey works for that group of customers.

    Components, per level (see ``SCORE_COMPONENTS``):

    - conversion: share of the level's customers with a conversion event (higher is better);
    - speed: median days from a customer's first event to their first conversion (lower is better);
    - satisfaction: mean :func:`satisfaction_index` (0–100) of the level's feedback (higher is better;
      absent without feedback);
    - value: revenue per customer (higher is better; absent without ``revenue``).

    The score compares the levels of one segment column. ``method="rank"`` (default): each component
    is turned into a percentile rank among the levels, ``(rank − 1) / (levels − 1) × 100`` with the best
    level at 100 and the worst at 0 (a single level gets 50), and the score is the mean of the available
    components' ranks. ``method="zscore"``: the mean of the components' z-scores across levels (signed so
    that higher is better), × 10 + 50. A level better on every component is ranked first by both.

    Parameters
    ----------
    events : DataFrame or Partitioned
        The loaded event log, or a log partitioned on a Dask cluster (:func:`cjlib.engine.partition`).
    by : DataFrame
        From :func:`customer_segments`.
    stage_map : StageMap, str or None
        The map (its conversion events), a YAML path, or None for the default map.
    feedback : DataFrame, optional
        Loaded feedback, for the satisfaction component.
    min_customers, min_levels : int
        The smallest level scored, and the fewest levels a segment needs to be scored.
    method : {"rank", "zscore"}
        How components become scores (above).

    Returns
    -------
    DataFrame
        Columns ``segment``, ``level``, ``customers``, ``conversion``, ``days_to_convert``,
        ``satisfaction``, ``revenue_per_customer``, one ``score_<component>`` per component, ``score``,
        ``rank`` (1 = best within the segment); sorted by segment then rank. Levels with fewer than
        ``min_customers`` customers are left out, and so is a segment with fewer than ``min_levels``
        such levels (a score compares levels: one level alone has nothing to be compared with).
    """
    check_choice("method", method, ("rank", "zscore"))
    sm = resolve_stage_map(stage_map)
    # per customer: first event, first conversion, revenue (the kernel runs on the workers in Dask mode)
    outcomes = (_dist.per_customer(events, _dist.customer_outcomes, stage_map=sm) if _dist.is_partitioned(events)
                else _dist.customer_outcomes(ensure_sorted(events), stage_map=sm))
    per = pd.DataFrame(index=outcomes.index)
    per["converted"] = outcomes["conv_ts"].notna().to_numpy()
    per["days_to_convert"] = (outcomes["conv_ts"] - outcomes["first_ts"]) / pd.Timedelta(days=1)
    if "revenue" in outcomes.columns:
        per["revenue"] = outcomes["revenue"]
    sat = None
    if feedback is not None and len(feedback):
        sat = pd.DataFrame({"customer_id": feedback["customer_id"].to_numpy(),
                            "v": satisfaction_index(feedback).to_numpy()})
    seg = by.reindex(per.index)
    parts = []
    for col in seg.columns:
        lab = seg[col]
        ok = lab.notna().to_numpy()
        g = per[ok].groupby(lab[ok].to_numpy())
        t = pd.DataFrame({"customers": g.size(), "conversion": g["converted"].mean(),
                          "days_to_convert": g["days_to_convert"].median()})
        t["satisfaction"] = np.nan
        if sat is not None:
            fl = lab.reindex(sat["customer_id"].to_numpy()).to_numpy(dtype=object)
            okf = pd.notna(fl)
            if okf.any():
                t["satisfaction"] = pd.Series(sat["v"].to_numpy()[okf]).groupby(fl[okf]).mean()
        t["revenue_per_customer"] = g["revenue"].mean() if "revenue" in per.columns else np.nan
        t = t[t["customers"] >= min_customers]
        if not len(t) or len(t) < min_levels:
            continue
        scores = {}
        for comp, (c, higher) in SCORE_COMPONENTS.items():
            v = t[c]
            if v.isna().all():
                continue
            signed = v if higher else -v
            if method == "rank":
                n = signed.notna().sum()
                r = signed.rank(method="average")
                scores[comp] = (r - 1) / (n - 1) * 100 if n > 1 else r * 0 + 50
            else:
                sd = signed.std(ddof=0)
                scores[comp] = ((signed - signed.mean()) / sd if sd > 0 else signed * 0) * 10 + 50
        for comp in SCORE_COMPONENTS:
            t[f"score_{comp}"] = scores.get(comp, np.nan)
        t["score"] = pd.DataFrame(scores).mean(axis=1)
        t.index.name = "level"
        t = t.reset_index()
        t.insert(0, "segment", col)
        t = t.sort_values(["score", "level"], ascending=[False, True], kind="stable")
        t["rank"] = np.arange(1, len(t) + 1)
        parts.append(t)
    if not parts:
        return pd.DataFrame(columns=["segment", "level", "customers", "conversion", "days_to_convert",
                                     "satisfaction", "revenue_per_customer",
                                     *[f"score_{c}" for c in SCORE_COMPONENTS], "score", "rank"])
    return pd.concat(parts, ignore_index=True)
