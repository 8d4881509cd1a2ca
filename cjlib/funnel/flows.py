"""After the last step: where droppers go, and the friction (loops, errors, long dwell) on the way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjlib.funnel.matching import _check_positive, _Match, _parse_window, _run, _transition_spans
from cjlib.funnel.tables import _quantiles_int
from cjlib.stagemap import StageMap, load_stage_map
from cjlib.stats import two_proportion_test


# ------------------------------------------------------------------------------------ where droppers go
@dataclass(frozen=True)
class DropoffFlows:
    """Where units go after the last funnel step they reached.

    Attributes
    ----------
    paths : DataFrame
        ``last_step``, ``path`` (the next ``depth`` events joined by ``" > "``, ending in ``"(end)"`` when the
        unit has fewer events), ``units``, ``share`` (of the droppers at that step), the top ``top`` paths
        per last step, most frequent first.
    flows : DataFrame
        Sankey links ``source``, ``target``, ``count``: from ``"dropped after <step>"`` to
        ``"1: <event>"``, then ``"1: <event>"`` to ``"2: <event>"`` … (node names carry the depth so the
        graph is acyclic; ``"k: (end)"`` when the journey ends). All droppers are counted, not only the
        top paths.
    droppers : int
        Units that reached step 1 but not the last step.
    """

    paths: pd.DataFrame
    flows: pd.DataFrame
    droppers: int


def where_droppers_go(
    events: pd.DataFrame,
    steps: Sequence,
    *,
    window=None,
    mode: str = "ordered",
    unit: str = "customer",
    stage_map: StageMap | None = None,
    depth: int = 3,
    top: int = 10,
) -> DropoffFlows:
    """The next events of units that entered the funnel but did not finish it.

    A dropper is a unit that reached step 1 but not the last step; its last step is the furthest step
    reached (:func:`funnel` rules) and its path is the next ``depth`` events of the unit after the event
    matched to that step in the chosen attempt (any time later, not limited to the window; in session
    units, within the session).

    Parameters
    ----------
    events, steps, window, mode, unit, stage_map
        As in :func:`cjlib.funnel.funnel`.
    depth : int, default 3
        Events followed after the last step reached.
    top : int, default 10
        Paths kept per last step in ``paths``.

    Returns
    -------
    DropoffFlows
    """
    _check_depth_top(depth, top)
    return _flows(_run(events, steps, window, mode, unit, stage_map), depth=depth, top=top)


def _check_depth_top(depth, top) -> None:
    _check_positive("depth", depth)
    _check_positive("top", top)


def _flow_units(m: _Match, depth: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Per dropper (in unit order): its unit number, its last step's label, and its next ``depth`` events
    (``cols[d]``: the d-th event's name, ``"(end)"`` where the unit's events stop, None after that)."""
    prep = m.prep
    K = len(prep.labels)
    units = np.flatnonzero((m.level >= 1) & (m.level < K))
    last = m.level[units] - 1
    at = m.pos[units, last]
    n = len(prep.ts)
    unit_end = np.r_[prep.unit_start[1:], n][units]
    names = np.r_[prep.ev_cats.astype(object), np.array(["(unknown)"], dtype=object)]
    cols = {}
    alive = np.ones(len(units), bool)
    for d in range(1, depth + 1):
        r = at + d
        has = alive & (r < unit_end)
        code = np.where(has, prep.ev_codes[np.minimum(r, n - 1)] if n else 0, -2)
        lab = np.where(code == -2, "(end)", names[np.where(code >= 0, code, len(names) - 1)])
        cols[d] = np.where(alive, lab, None)
        alive = has
    return units, np.asarray(prep.labels, dtype=object)[last], cols


def _flows(m: _Match, *, depth: int, top: int) -> DropoffFlows:
    _check_depth_top(depth, top)
    _, last_lab, cols = _flow_units(m, depth)
    return _flow_summary(m.prep.labels, last_lab, cols, depth=depth, top=top)


def _flow_summary(labels: list, last_lab: np.ndarray, cols: dict, *, depth: int, top: int) -> DropoffFlows:
    """:class:`DropoffFlows` from :func:`_flow_units` (droppers in any order)."""
    return _flow_tables(labels, *_flow_counts(last_lab, cols, depth=depth), top=top)


def _flow_counts(last_lab: np.ndarray, cols: dict, *, depth: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The droppers of :func:`_flow_units` counted: per (``last_step``, ``path``) ``units``, per flow link
    (``source``, ``target``) ``count``, and the number of droppers. Counts of disjoint sets of units add up
    (:func:`_add_flow_counts`), so partitions of a log count their own droppers."""
    path = pd.Series([""] * len(last_lab), dtype=object)
    for d in range(1, depth + 1):
        part = pd.Series(cols[d], dtype=object)
        sep = np.where(d > 1, " > ", "")
        path = np.where(part.notna(), path + sep + part.fillna(""), path)
    pdf = pd.DataFrame({"last_step": np.asarray(last_lab, dtype=object), "path": np.asarray(path, dtype=object)})
    counts = pdf.groupby(["last_step", "path"], sort=False).size().rename("units").reset_index()
    links = []
    src = np.asarray(["dropped after " + s for s in last_lab], dtype=object)
    for d in range(1, depth + 1):
        tgt = cols[d]
        ok = pd.notna(tgt)
        tgt_name = np.where(ok, np.char.add(f"{d}: ", tgt.astype(str)) if len(tgt) else tgt, None)
        links.append(pd.DataFrame({"source": src[ok], "target": tgt_name[ok]}, dtype=object))
        src = tgt_name
    lf = pd.concat(links, ignore_index=True) if links else pd.DataFrame({"source": [], "target": []}, dtype=object)
    return counts, lf.groupby(["source", "target"], sort=False).size().rename("count").reset_index(), len(last_lab)


def _add_flow_counts(parts: list) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """:func:`_flow_counts` of disjoint sets of droppers, added up."""
    def add(i: int, keys: list) -> pd.DataFrame:
        frame = pd.concat([p[i] for p in parts], ignore_index=True)
        return frame.groupby(keys, sort=False)[frame.columns[-1]].sum().reset_index()

    return add(0, ["last_step", "path"]), add(1, ["source", "target"]), sum(p[2] for p in parts)


def _flow_tables(labels: list, counts: pd.DataFrame, links: pd.DataFrame, droppers: int, *, top: int) -> DropoffFlows:
    """:class:`DropoffFlows` from :func:`_flow_counts`: paths ordered by last step, units (descending) and
    path; flow links by count (descending), source and target, so the result does not depend on unit order."""
    if len(counts):
        counts = counts.assign(units=counts["units"].astype(np.int64))
        counts["share"] = counts["units"] / counts.groupby("last_step")["units"].transform("sum")
        order = {lab: i for i, lab in enumerate(labels)}
        counts["_o"] = counts["last_step"].map(order)
        counts = counts.sort_values(["_o", "units", "path"], ascending=[True, False, True], kind="stable")
        paths = counts.groupby("last_step", sort=False).head(top).drop(columns="_o").reset_index(drop=True)
    else:
        paths = pd.DataFrame({"last_step": [], "path": [], "units": [], "share": []})
    flows = (links.assign(count=links["count"].astype(np.int64))
             .sort_values(["count", "source", "target"], ascending=[False, True, True], kind="stable")
             .reset_index(drop=True))
    return DropoffFlows(paths, flows, droppers=int(droppers))


# ----------------------------------------------------------------------------------------- friction
@dataclass(frozen=True)
class Friction:
    """Friction signals per transition (:func:`friction`).

    Attributes
    ----------
    table : DataFrame
        One row per transition: ``from_step``, ``to_step``, ``units``, ``conversion`` (share reaching
        step k), and for each signal s in (loop, error, long_dwell): ``{s}_units``, ``{s}_rate`` (share of
        units), ``conversion_if_{s}``, ``conversion_if_no_{s}``; plus ``dwell_threshold`` (Timedelta).
    error_events : tuple of str
        The events counted as errors.
    """

    table: pd.DataFrame
    error_events: tuple

def _error_events(seen: np.ndarray, sm: StageMap, error_events) -> list[str]:
    """The error events given, else the map's and the data's (``seen``: its event names) with "error" in the name."""
    if error_events is not None:
        return [error_events] if isinstance(error_events, str) else list(error_events)
    names = set(sm.other_events) | set(seen.tolist())
    return sorted(e for e in names if "error" in e.lower())


def friction(
    events: pd.DataFrame,
    steps: Sequence,
    *,
    window=None,
    mode: str = "ordered",
    unit: str = "customer",
    stage_map: StageMap | None = None,
    error_events: str | Sequence[str] | None = None,
    long_dwell=None,
) -> Friction:
    """Friction signals per transition: loops (repeated steps), long dwell and error events.

    For each transition k-1 → k the population is the units that reached step k-1. A unit's *segment*
    is the span strictly after its step-(k-1) event (chosen attempt) up to its step-k event (exclusive)
    when it reached step k, else up to the end of its observed span (window end, or its last event).

    * **loop**: the segment holds another event satisfying step k-1 (the unit repeated the step);
    * **error**: the segment holds an error event (default: events of the stage map's ``other_events``
      or of the data whose name contains ``"error"``);
    * **long dwell**: time in the segment (to the step-k event, else to the last event of the segment)
      exceeds ``long_dwell``; by default the 90th percentile of the time converters took for that
      transition (so it flags units slower than 9 in 10 converters).

    Parameters
    ----------
    events, steps, window, mode, unit, stage_map
        As in :func:`cjlib.funnel.funnel`.
    error_events : str or list of str, optional
        The error events (default: see above).
    long_dwell : str or Timedelta, optional
        A fixed dwell threshold instead of the converters' 90th percentile.

    Returns
    -------
    Friction
    """
    sm = stage_map or load_stage_map()
    return _friction(_run(events, steps, window, mode, unit, sm), sm, error_events=error_events, long_dwell=long_dwell)


def _friction(m: _Match, sm: StageMap, *, error_events, long_dwell) -> Friction:
    if len(m.prep.labels) < 2:
        raise ValueError("steps: friction needs at least 2 steps")
    dwell_fixed = None if long_dwell is None else _parse_window(long_dwell, "long_dwell")
    errs = _error_events(m.prep.ev_cats, sm, error_events)
    return _friction_table(m.prep.labels, _friction_units(m, errs), errs, dwell_fixed)


def _friction_units(m: _Match, errs: list[str]) -> list[tuple]:
    """Per transition k-1 → k, per unit at step k-1: (moved on, looped, met an error, dwell in ns)."""
    prep = m.prep
    err_lut = np.isin(prep.ev_cats, errs)
    is_err = (prep.ev_codes >= 0) & err_lut[np.maximum(prep.ev_codes, 0)]
    out = []
    for k in range(1, len(prep.labels)):
        units, conv, start, end_pos, r, own = _transition_spans(m, k - 1, k)
        loop = np.bincount(own[prep.member[r, k - 1]], minlength=len(units)) > 0
        err = np.bincount(own[is_err[r]], minlength=len(units)) > 0
        seg_last = np.full(len(units), -1, np.int64)
        np.maximum.at(seg_last, own, r)
        t_from = prep.ts[start]
        t_to = np.where(conv, prep.ts[np.maximum(end_pos, 0)],
                        np.where(seg_last >= 0, prep.ts[np.maximum(seg_last, 0)], t_from))
        out.append((conv, loop, err, t_to - t_from))
    return out


def _friction_table(labels: list, spans: list[tuple], errs: list[str], dwell_fixed) -> Friction:
    """:class:`Friction` from :func:`_friction_units` (units in any order: every figure is a count or share)."""
    rows = []
    for k, (conv, loop, err, dwell) in enumerate(spans, start=1):
        if dwell_fixed is not None:
            thr = dwell_fixed
        else:
            conv_dwell = dwell[conv]
            thr = _quantiles_int(conv_dwell, (0.9,))[0] if len(conv_dwell) else None
        longd = dwell > thr if thr is not None else np.zeros(len(conv), bool)
        rec = {"from_step": labels[k - 1], "to_step": labels[k], "units": len(conv),
               "conversion": conv.mean() if len(conv) else np.nan}
        for name, flag in (("loop", loop), ("error", err), ("long_dwell", longd)):
            rec[f"{name}_units"] = int(flag.sum())
            rec[f"{name}_rate"] = flag.mean() if len(conv) else np.nan
            rec[f"conversion_if_{name}"] = conv[flag].mean() if flag.any() else np.nan
            rec[f"conversion_if_no_{name}"] = conv[~flag].mean() if (~flag).any() else np.nan
        rec["dwell_threshold"] = pd.Timedelta(thr, unit="ns") if thr is not None else pd.NaT
        rows.append(rec)
    return Friction(pd.DataFrame(rows), error_events=tuple(errs))


FRICTION_SIGNALS = ("loop", "error", "long_dwell")
COMPARED_SIGNALS = ("loop", "error")  # long dwell goes with not moving on by construction (worst_friction)


def worst_friction(table: pd.DataFrame, *, min_units: int = 50, alpha: float = 0.05,
                   tolerance: float = 1e-9, signals: Sequence[str] = COMPARED_SIGNALS) -> dict | None:
    """The friction signal of a :func:`friction` table that goes with the largest fall in moving on.

    A signal at a transition counts when at least ``min_units`` units met it and ``min_units`` did not,
    units with it move on less often than units without it, and the difference is significant (two-
    proportion z-test, ``p < alpha``; the signals are few, so no correction). A tie for the largest gap
    names nothing. Long dwell is not compared by default: moving on ends a dwell and a unit that never
    moves on keeps dwelling (past a threshold set by the units that moved on), so long dwell goes with
    not moving on by construction.

    Parameters
    ----------
    table : DataFrame
        :attr:`Friction.table`.
    min_units : int, default 50
        Units that must meet, and not meet, a signal.
    alpha : float, default 0.05
        Significance level of the two-proportion test.
    tolerance : float, default 1e-9
        Gaps closer than this are a tie.
    signals : list of str, default ("loop", "error")
        The signals compared (of :data:`FRICTION_SIGNALS`).

    Returns
    -------
    dict or None
        ``signal`` ("loop", "error", "long dwell"), ``from_step``, ``to_step``, ``units`` (met it),
        ``share`` (of the units at from_step), ``conversion_with``, ``conversion_without``, ``gap``.
    """
    rows = []
    for _, r in table.iterrows():
        for s in signals:
            n, a, b = r[f"{s}_units"], r[f"conversion_if_{s}"], r[f"conversion_if_no_{s}"]
            n2 = r["units"] - n
            if not (n >= min_units and n2 >= min_units and np.isfinite(a) and np.isfinite(b) and b > a):
                continue
            _, p = two_proportion_test(np.array([round(a * n)]), np.array([n]), np.array([round(b * n2)]), np.array([n2]))
            if p[0] < alpha:
                rows.append(dict(signal=s.replace("_", " "), from_step=r["from_step"], to_step=r["to_step"],
                                 units=int(n), share=float(r[f"{s}_rate"]), conversion_with=float(a),
                                 conversion_without=float(b), gap=float(b - a), p_value=float(p[0])))
    if not rows:
        return None
    rows.sort(key=lambda x: -x["gap"])
    if len(rows) > 1 and rows[0]["gap"] - rows[1]["gap"] <= tolerance:
        return None
    return rows[0]


def dropper_end_share(flows: pd.DataFrame) -> float | None:
    """Share of dropped units whose next event after dropping is none (``(end)``) in
    :attr:`DropoffFlows.flows`; ``None`` without droppers.

    Parameters
    ----------
    flows : DataFrame
        :attr:`DropoffFlows.flows`.

    Returns
    -------
    float or None
    """
    first = flows[flows["target"].astype(str).str.startswith("1: ")]
    total = first["count"].sum()
    if not total:
        return None
    return float(first.loc[first["target"] == "1: (end)", "count"].sum() / total)

