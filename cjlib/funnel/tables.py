"""The funnel table, time to convert and entry cohorts: summaries of one match."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjlib.funnel.matching import (
    _NAT,
    _NOT_SEGMENTS,
    _Match,
    _run,
    _step_index,
    _to_ts,
    _transition,
    _unit_frame,
)
from cjlib.stagemap import StageMap
from cjlib.stats import wilson_interval


def _segment_values(m: _Match, by: list[str]) -> pd.DataFrame:
    """The segment of each unit: the value on its first step-1 event, else on its first event."""
    prep = m.prep
    row = np.where(m.first_entry >= 0, m.first_entry, prep.unit_start)
    return pd.DataFrame({c: prep.ev[c].to_numpy()[row] for c in by})


def _check_by(by, events: pd.DataFrame) -> list[str]:
    if by is None:
        return []
    cols = [by] if isinstance(by, str) else list(by)
    if not cols:
        raise ValueError("by must be a column name or a non-empty list of column names")
    for c in cols:
        if c not in events.columns:
            raise ValueError(f"by: column {c!r} is not in the events (columns: {', '.join(map(str, events.columns))})")
        if c in _NOT_SEGMENTS:
            raise ValueError(f"by: {c!r} cannot be a segment column (it identifies a customer, an instant or a session)")
    return cols


def _quantiles_int(values: np.ndarray, qs) -> list[int]:
    """Linear-interpolation quantiles (numpy's default) of int64 durations, exact to the nanosecond."""
    v = np.sort(np.asarray(values, dtype=np.int64))
    out = []
    for q in qs:
        h = (len(v) - 1) * q
        lo = int(np.floor(h))
        hi = min(lo + 1, len(v) - 1)
        out.append(int(v[lo]) + round((h - lo) * (int(v[hi]) - int(v[lo]))))
    return out


def _summarize(level: np.ndarray, done: np.ndarray, labels: list[str], units_total: int) -> dict:
    K = len(labels)
    reached = np.array([(level >= k + 1).sum() for k in range(K)], dtype=np.int64)
    prev = np.r_[np.nan, reached[:-1]].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        from_start = reached / reached[0] if reached[0] else np.full(K, np.nan)
        from_prev = np.where(prev > 0, reached / prev, np.nan)
    from_prev[0] = np.nan
    dropped = np.r_[0, reached[:-1] - reached[1:]].astype(np.int64)
    drop_rate = 1.0 - from_prev
    med = np.full(K, _NAT, np.int64)
    p90 = np.full(K, _NAT, np.int64)
    for k in range(1, K):
        sel = level >= k + 1
        if sel.any():
            med[k], p90[k] = _quantiles_int(done[sel, k] - done[sel, k - 1], (0.5, 0.9))
    return {
        "step": labels,
        "reached": reached,
        "conversion_from_start": from_start,
        "conversion_from_previous": from_prev,
        "dropped": dropped,
        "drop_off_rate": drop_rate,
        "median_time_from_previous": pd.to_timedelta(med.view("m8[ns]")),
        "p90_time_from_previous": pd.to_timedelta(p90.view("m8[ns]")),
    }


def _summarize_options(done: np.ndarray, labels: list[str], optional, entry) -> dict:
    """:func:`_summarize` with funnel options: a unit is at step k when it has a completion time there."""
    K = len(labels)
    at = done != _NAT
    opt = list(optional) if optional else [False] * K
    prev = [-1] + [max(j for j in range(k) if not opt[j]) for k in range(1, K)]
    reached = at.sum(axis=0).astype(np.int64)
    cont = np.array([0] + [(at[:, prev[k]] & at[:, k]).sum() for k in range(1, K)], dtype=np.int64)
    base = np.array([np.nan] + [reached[prev[k]] for k in range(1, K)], dtype=float)
    first = np.array([(at[:, 0] & at[:, k]).sum() for k in range(K)], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        from_start = first / reached[0] if reached[0] else np.full(K, np.nan)
        from_prev = np.where(base > 0, cont / base, np.nan)
    from_prev[0] = np.nan
    isopt = np.asarray(opt, bool)
    dropped = np.where(isopt, 0, np.r_[0, (base[1:] - cont[1:])]).astype(np.int64)
    drop_rate = np.where(isopt, np.nan, 1.0 - from_prev)
    med = np.full(K, _NAT, np.int64)
    p90 = np.full(K, _NAT, np.int64)
    for k in range(1, K):
        sel = at[:, prev[k]] & at[:, k]
        if sel.any():
            med[k], p90[k] = _quantiles_int(done[sel, k] - done[sel, prev[k]], (0.5, 0.9))
    out = {"step": labels}
    if optional:
        out["optional"] = isopt
    out["reached"] = reached
    if entry is not None:
        e = np.asarray(entry)
        out["entered_here"] = np.bincount(e[e >= 0], minlength=K).astype(np.int64)
    out.update({
        "conversion_from_start": from_start,
        "conversion_from_previous": from_prev,
        "dropped": dropped,
        "drop_off_rate": drop_rate,
        "median_time_from_previous": pd.to_timedelta(med.view("m8[ns]")),
        "p90_time_from_previous": pd.to_timedelta(p90.view("m8[ns]")),
    })
    return out


def _groups(seg: pd.DataFrame, cols: list[str]):
    """(codes per unit, DataFrame of group keys); units with a missing segment value get code -1."""
    if len(cols) == 1:
        codes, uniq = pd.factorize(seg[cols[0]], sort=True, use_na_sentinel=True)
        keys = pd.DataFrame({cols[0]: uniq})
        return codes, keys
    mi = pd.MultiIndex.from_frame(seg[cols])
    codes, uniq = pd.factorize(mi, sort=True, use_na_sentinel=True)
    miss = seg[cols].isna().any(axis=1).to_numpy()
    codes = np.where(miss, -1, codes)
    keys = pd.DataFrame(list(uniq), columns=cols)
    return codes, keys


def funnel(
    events: pd.DataFrame,
    steps: Sequence,
    *,
    window=None,
    mode: str = "ordered",
    unit: str = "customer",
    by: str | Sequence[str] | None = None,
    stage_map: StageMap | None = None,
    optional=None,
    exclude=None,
    open: bool = False,
) -> pd.DataFrame:
    """Conversion funnel: how many units reach each step, drop-off and time between steps.

    Rules
    -----
    * ``steps``: event names, stage names from the stage map (a stage step is satisfied by events whose
      :func:`cjlib.journeys.assign_stages` label is that stage, so ``"retention"`` is the 2nd purchase with
      the default map; stage names take precedence over event names, so ``"purchase"`` is the *first*
      purchase — write ``"event:purchase"`` for every purchase event, ``"stage:x"`` to force a stage), or
      lists of names any of which satisfies the step. Unknown names raise ``ValueError``.
    * Rows are taken in (customer, timestamp, input order): equal timestamps keep the input order. A step
      is matched by a row strictly after the row matched to the previous step (possibly at the same
      timestamp).
    * Every step-1 event starts an attempt; ``window`` is measured from that step-1 event and is
      inclusive (``t - t_step1 <= window`` counts).
    * ``mode="ordered"``: each next step is the earliest matching event after the previous match;
      ``"strict"``: it must be the unit's very next event; ``"any"``: step 1 opens the attempt and steps
      2..K may occur in any order after it within the window (step k is reached when steps 1..k are all
      present; one event may satisfy several steps whose names overlap).
    * A unit counts once, at the furthest step over all its attempts. Times come from the earliest
      attempt that reaches that furthest step; step k's completion time is the latest of the times of
      steps 1..k (in ordered/strict mode, the time of step k).
    * ``unit="session"`` uses ``session_id`` (per customer) when present, else 30-minute sessions; in
      strict mode "next event" is the next event of the same session.
    * ``by``: a unit's segment is the value of the column(s) on its first step-1 event (its first event if
      it never enters). Units with a missing segment value are left out of the segmented rows.
    * Funnel options (``optional``, ``exclude``, ``open``): the rules of :mod:`cjlib.funnel`, "Funnel
      options". With optional steps the table gets an ``optional`` column, with ``open=True`` an
      ``entered_here`` column, and the rates read "of the units at the previous (required) step".

    Parameters
    ----------
    events : DataFrame
        Event log as :func:`cjlib.load_events` returns it (any order is accepted; it is sorted first).
    steps : list
        The funnel steps (at least one).
    window : str, Timedelta or None, default None
        Conversion window (``"7D"``, ``pd.Timedelta(hours=1)``); must not be negative.
    mode : {"ordered", "strict", "any"}, default "ordered"
    unit : {"customer", "session"}, default "customer"
    by : str or list of str, optional
        Segment column(s) of ``events``; the result gets one row per segment and step.
    stage_map : StageMap, optional
        Default ``data/stage_map.yml``.
    optional : list of int or str, optional
        Optional steps (1-based numbers or labels), besides those written ``"name?"``.
    exclude : str, list or tuple, optional
        Exclusion events: names, or ``(names, from_step, to_step)`` tuples (see :mod:`cjlib.funnel`).
    open : bool, default False
        Units may enter at any step.

    Returns
    -------
    DataFrame
        One row per step (per segment and step with ``by``; segment columns first) with

        - ``step``: the step label (lists joined with ``" | "``; repeated labels get ``" (2)"``);
        - ``optional`` (only when a step is optional): the step may be skipped;
        - ``reached``: units at this step: whose furthest step is this one or later (an optional step:
          who did it; an open funnel: who entered here or earlier and got this far);
        - ``entered_here`` (only with ``open=True``): units whose chosen attempt entered at this step;
        - ``conversion_from_start``: of the units at step 1, the share at this step;
        - ``conversion_from_previous``: of the units at the previous step (with optional steps: the
          previous required step), the share at this step (NaN for step 1); never above 1;
        - ``dropped``: units at the previous (required) step who are not at this one (0 for step 1 and
          for optional steps: skipping one drops no one);
        - ``drop_off_rate``: 1 − conversion_from_previous (NaN for step 1 and optional steps);
        - ``median_time_from_previous``, ``p90_time_from_previous``: Timedelta quantiles (linear
          interpolation) of completion(k) − completion(previous (required) step) over units at both
          (NaT for step 1).

        Units in the data (for a rate over all units) and per segment: :attr:`Funnel.units_total`,
        :meth:`Funnel.units_by`.

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "event": ["product_view", "purchase", "product_view"],
    ...                    "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01"])})
    >>> funnel(ev, ["product_view", "purchase"])[["step", "reached"]].values.tolist()
    [['product_view', 2], ['purchase', 1]]
    """
    cols = _check_by(by, events) if by is not None else []
    m = _run(events, steps, window, mode, unit, stage_map, optional=optional, exclude=exclude, open=open)
    return _table(m, cols, window)


def _table(m: _Match, cols: list[str], window) -> pd.DataFrame:
    """The funnel table of a match (``cols``: checked segment columns, ``window`` as the caller gave it)."""
    seg = _segment_values(m, cols) if cols else None
    return funnel_table(m.level, m.done, m.prep.labels, seg, mode=m.mode, unit=m.prep.unit_kind, window=window,
                        optional=m.optional or None, entry=m.entry_step if m.open else None)


def funnel_table(steps_reached: np.ndarray, done: np.ndarray, labels: list[str], by: pd.DataFrame | None = None,
                 *, mode: str | None = None, unit: str | None = None, window=None, optional=None,
                 entry=None) -> pd.DataFrame:
    """The funnel table from per-unit results.

    :func:`funnel` calls it on one frame; :mod:`cjlib.engine` on the per-unit rows merged from partitions,
    so both engines share one summary.

    Parameters
    ----------
    steps_reached : array of int
        Per unit, the furthest step reached (0..K).
    done : array of int, shape (units, K)
        Completion time of each step in ns (NaT's int64 where not reached).
    labels : list of str
        The step labels.
    by : DataFrame, optional
        The segment of each unit: one row per unit, one column per segment column.
    mode, unit, window
        Not used (the table carries no metadata); accepted for :mod:`cjlib.engine`'s call.
    optional : sequence of bool, optional
        Per step: optional (adds the ``optional`` column; a unit is then at a step when ``done`` has a
        time there).
    entry : array of int, optional
        Per unit, the 0-based entry step of an open funnel (-1: never entered); adds ``entered_here``.

    Returns
    -------
    DataFrame
        As :func:`funnel`.
    """
    level = steps_reached
    opts = bool(optional and any(optional)) or entry is not None

    def summary(sel):
        if opts:
            return _summarize_options(done[sel], labels, optional if optional and any(optional) else None,
                                      None if entry is None else np.asarray(entry)[sel])
        return _summarize(level[sel], done[sel], labels, int(np.count_nonzero(sel)))

    if by is None:
        return pd.DataFrame(summary(slice(None)) if opts else _summarize(level, done, labels, len(level)))
    cols = list(by.columns)
    codes, keys = _groups(by, cols)
    parts = []
    for g in range(len(keys)):
        sel = codes == g
        part = pd.DataFrame(summary(sel))
        for c in reversed(cols):
            part.insert(0, c, keys[c].iloc[g])
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=cols + list(summary(np.zeros(len(level), bool))))


# -------------------------------------------------------------------------------------- time to convert
def time_to_convert(
    events: pd.DataFrame,
    steps: Sequence,
    *,
    from_step=None,
    to_step=None,
    window=None,
    mode: str = "ordered",
    unit: str = "customer",
    stage_map: StageMap | None = None,
) -> pd.DataFrame:
    """Time from ``from_step`` (default step 1) to ``to_step`` (default the last step) per converting unit.

    Times come from the chosen attempt of :func:`funnel` (the earliest attempt reaching the furthest
    step), as completion(to_step) − completion(from_step).

    Parameters
    ----------
    events, steps, window, mode, unit, stage_map
        As in :func:`cjlib.funnel.funnel`.
    from_step, to_step : step label, step number (1-based) or name, optional
        The transition (default step 1 → the last step).

    Returns
    -------
    DataFrame
        One row per unit that reached ``to_step``: ``customer_id`` (``session`` too for session units),
        ``started_at``, ``converted_at``, ``time_to_convert`` (Timedelta), ``hours`` (float).
    """
    return _time_to_convert(_run(events, steps, window, mode, unit, stage_map), from_step, to_step)


def _time_to_convert(m: _Match, from_step, to_step) -> pd.DataFrame:
    a, b = _transition(m, from_step, to_step)
    sel = (m.pos[:, a] >= 0) & (m.pos[:, b] >= 0)  # without options: level >= b + 1
    uf = _unit_frame(m, with_steps=False)
    out = uf.loc[sel, [c for c in ("customer_id", "session") if c in uf.columns]].reset_index(drop=True)
    out["started_at"] = _to_ts(m.done[sel, a])
    out["converted_at"] = _to_ts(m.done[sel, b])
    out["time_to_convert"] = out["converted_at"] - out["started_at"]
    out["hours"] = out["time_to_convert"].dt.total_seconds() / 3600.0
    return out


# ------------------------------------------------------------------------------------------ cohorts
def conversion_by_cohort(
    events: pd.DataFrame,
    steps: Sequence,
    *,
    freq: str = "W",
    to_step=None,
    window=None,
    mode: str = "ordered",
    unit: str = "customer",
    stage_map: StageMap | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Conversion by entry cohort: units grouped by the week or month of their first step-1 event.

    A unit converts when it reaches ``to_step`` (default the last step) by the rules of :func:`funnel`.
    Weeks start on Monday. With a window, a cohort is ``complete`` when the window of each of its units
    (from its first step-1 event) closed by the last timestamp in the data; without a window no cohort
    can be known complete and ``complete`` is False. Recent cohorts have had less time to convert: read
    their rates as lower bounds.

    Parameters
    ----------
    events, steps, window, mode, unit, stage_map
        As in :func:`cjlib.funnel.funnel`.
    freq : {"W", "M", "MS"}, default "W"
        Pandas alias of the cohort period: weeks from Monday, or calendar months.
    to_step : step label, step number (1-based) or name, optional
        The step that counts as converted (default the last step).
    confidence : float, default 0.95
        Of the Wilson intervals.

    Returns
    -------
    DataFrame
        ``cohort`` (period start, Timestamp), ``units``, ``converted``, ``rate``, ``ci_low``, ``ci_high``
        (Wilson), ``complete``.
    """
    _freq_code(freq)
    return _cohorts(_run(events, steps, window, mode, unit, stage_map), freq, to_step, confidence)


_PERIODS = {"W": "W-SUN", "W-SUN": "W-SUN", "M": "M", "MS": "M", "ME": "M"}


def _freq_code(freq) -> str:
    """The period of a pandas alias: weeks from Monday (``"W"``), calendar months (``"M"``, ``"MS"``)."""
    code = _PERIODS.get(str(freq).upper())
    if code is None:
        raise ValueError(f"freq must be one of {list(_PERIODS)}, got {freq!r}")
    return code


def _cohorts(m: _Match, freq, to_step, confidence: float) -> pd.DataFrame:
    freq_code = _freq_code(freq)
    labels, norm = m.prep.labels, m.prep.steps
    b = len(labels) - 1 if to_step is None else _step_index(to_step, labels, norm, "to_step")
    entered = m.first_entry >= 0
    first_ts = _to_ts(m.prep.ts[m.first_entry[entered]])
    cohort = pd.PeriodIndex(pd.DatetimeIndex(first_ts), freq=freq_code).start_time
    conv = m.pos[entered, b] >= 0  # reached to_step (without options: level >= b + 1)
    df = pd.DataFrame({"cohort": cohort, "converted": conv})
    if m.window is not None:
        data_end = m.prep.ts.max()
        df["closed"] = (m.prep.ts[m.first_entry[entered]] + m.window) <= data_end
    else:
        df["closed"] = False
    g = df.groupby("cohort", sort=True)
    out = pd.DataFrame({"units": g.size(), "converted": g["converted"].sum().astype(np.int64),
                        "complete": g["closed"].all()}).reset_index()
    out["rate"] = out["converted"] / out["units"]
    out["ci_low"], out["ci_high"] = wilson_interval(out["converted"].to_numpy(), out["units"].to_numpy(), confidence)
    return out[["cohort", "units", "converted", "rate", "ci_low", "ci_high", "complete"]]


def largest_drop(table: pd.DataFrame, *, min_units: int = 30, tolerance: float = 1e-9) -> dict | None:
    """The transition of a :func:`funnel` table that loses the largest share of its units, or ``None``.

    Transitions whose previous step has fewer than ``min_units`` units are left out (``excluded`` counts
    them, so a sentence can say "among steps of 30+ units"); a tie for the largest drop, or fewer than two
    eligible transitions (nothing to be largest among), names nothing.

    Parameters
    ----------
    table : DataFrame
        A :func:`funnel` table without ``by``.
    min_units : int, default 30
        Transitions from a step with fewer units are left out.
    tolerance : float, default 1e-9
        Drop rates closer than this are a tie.

    Returns
    -------
    dict or None
        ``from_step``, ``to_step``, ``units`` (reached the previous step), ``dropped``, ``drop_off_rate``,
        ``excluded``, ``min_units``.
    """
    rows, excluded = [], 0
    req = [k for k in range(len(table)) if not ("optional" in table.columns and table["optional"].iloc[k])]
    for i in range(1, len(req)):  # optional steps drop no one: transitions between required steps
        prev, r = table.iloc[req[i - 1]], table.iloc[req[i]]
        if int(prev["reached"]) >= max(min_units, 1) and np.isfinite(r["drop_off_rate"]):
            rows.append(dict(from_step=prev["step"], to_step=r["step"], units=int(prev["reached"]),
                             dropped=int(r["dropped"]), drop_off_rate=float(r["drop_off_rate"])))
        else:
            excluded += 1
    if len(rows) < 2:
        return None
    rows.sort(key=lambda x: -x["drop_off_rate"])
    if rows[0]["drop_off_rate"] - rows[1]["drop_off_rate"] <= tolerance:
        return None
    return {**rows[0], "excluded": excluded, "min_units": min_units}


