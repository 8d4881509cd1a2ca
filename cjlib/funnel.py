"""Drop-off analysis: funnels with precise semantics, segment comparison, drivers, flows, friction.

Every function here works on an event log as :func:`cjlib.load_events` returns it (a user-made frame is
put in that order with :func:`cjlib.io.ensure_sorted`) and never mutates it. The core is one vectorized
matcher (:func:`funnel_units`) that finds, for every unit (customer or session), the furthest funnel step
reached and the times at which the steps were completed; :func:`funnel` and the other analyses summarise
its output.

Funnel rules (shared by every function that takes ``steps``)
------------------------------------------------------------
* **Steps.** Each step is an event name, a stage name from the stage map, or a list of names any of
  which satisfies the step. A name that is a stage name means the stage (stage names take precedence
  over event names): an event satisfies it when :func:`cjlib.journeys.assign_stages` labels it with that
  stage, so with the default map ``"retention"`` is satisfied by a customer's 2nd and later purchases and
  ``"purchase"`` by the first purchase only. Stage labels are always computed on the customer's whole
  history, also when ``unit="session"``.
* **Order.** Events are taken in the loader's order: (customer, timestamp, input order). Equal
  timestamps keep their input order, so of two events at the same instant the earlier row comes first
  and a step can be matched by an event at the same timestamp as the previous step, but never by the
  same row or an earlier row.
* **Attempts.** Every event satisfying step 1 starts an attempt. The conversion window is measured from
  that step-1 event: a later step counts when ``t_step - t_step1 <= window`` (the boundary is
  **inclusive**; ``window=None`` is unbounded).
* **Modes.** ``"ordered"``: step k is the earliest event satisfying step k after the event matched to
  step k-1 (other events may come between; greedy earliest matching is optimal). ``"strict"``: the event
  matched to step k must be the unit's very next event after the one matched to step k-1 (no other event
  of the unit in between). ``"any"``: step 1 opens the attempt and steps 2..K may come in any order after
  it, each matched by its earliest event after the step-1 event; a unit reaches step k when steps
  1..k are all present in the window. In ``"any"`` mode one event may satisfy several steps whose names
  overlap.
* **Furthest step.** A unit counts once, at the furthest step reached over all its attempts. Times are
  taken from the *earliest* attempt that reaches that furthest step.
* **Completion times.** A step's completion time is the latest matched time of steps 1..k (in ordered
  and strict mode simply the time of step k's event; in ``"any"`` mode the time by which steps 1..k were
  all done), so time from the previous step is never negative.
* **Units.** ``unit="customer"`` or ``"session"``: the data's ``session_id`` (per customer) when it has
  one, else :func:`cjlib.journeys.sessionize` with a 30-minute gap. All units in the data count in
  ``units_total``, including those that never reach step 1.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cjlib.errors import DataError
from cjlib.io import ensure_sorted
from cjlib.journeys import assign_stages, customer_starts, session_keys
from cjlib.stagemap import StageMap, load_stage_map

__all__ = [
    "funnel",
    "funnel_units",
    "wilson_interval",
    "holm",
    "two_proportion_test",
    "compare_segments",
    "dropoff_drivers",
    "DropoffFlows",
    "where_droppers_go",
    "time_to_convert",
    "conversion_by_cohort",
    "friction",
    "CartAbandonment",
    "cart_abandonment",
    "MODES",
    "UNITS",
]

MODES = ("ordered", "strict", "any")
UNITS = ("customer", "session")
_NAT = np.iinfo(np.int64).min  # int64 view of NaT
_BIG = np.iinfo(np.int64).max
_RESERVED = {"customer_id", "session", "steps_reached", "last_step", "entered_at", "converted",
             "window_end", "first_entered_at"}


# ------------------------------------------------------------------------------------------ validation
def _check_choice(name: str, value, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def _parse_window(window) -> int | None:
    """The window in ns (int) or ``None``; rejects negative and unparseable values."""
    if window is None:
        return None
    if isinstance(window, bool) or not isinstance(window, (str, pd.Timedelta, _dt.timedelta, np.timedelta64)):
        raise ValueError(f"window must be None or a duration like '7D' or pd.Timedelta(days=7), got {window!r}")
    try:
        td = pd.Timedelta(window)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"window must be None or a duration like '7D' or pd.Timedelta(days=7), got {window!r}") from exc
    if pd.isna(td):
        raise ValueError(f"window must be a duration, got {window!r}")
    if td < pd.Timedelta(0):
        raise ValueError(f"window must not be negative, got {window!r}")
    return int(td.value)


def _check_events(events: pd.DataFrame) -> None:
    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"events must be a DataFrame, got {type(events).__name__}")
    for col in ("customer_id", "timestamp", "event"):
        if col not in events.columns:
            raise DataError("required column is missing", file=events.attrs.get("source"), column=col,
                            rule="missing_column")


def _step_label(step) -> str:
    return step if isinstance(step, str) else " | ".join(step)


def _normalize_steps(steps) -> list[tuple[str, ...]]:
    if isinstance(steps, str) or not isinstance(steps, Sequence) or len(steps) == 0:
        raise ValueError(f"steps must be a non-empty list of event names, stage names or lists of names, got {steps!r}")
    out = []
    for s in steps:
        if isinstance(s, str):
            out.append((s,))
        elif isinstance(s, Sequence) and len(s) > 0 and all(isinstance(x, str) for x in s):
            out.append(tuple(s))
        else:
            raise ValueError(f"steps: each step must be a name or a non-empty list of names, got {s!r}")
    return out


def _labels(steps) -> list[str]:
    labels, seen = [], {}
    for s in steps:
        lab = _step_label(s if len(s) > 1 else s[0])
        base = lab
        if lab in seen or lab in _RESERVED:
            seen[base] = seen.get(base, 1) + 1
            lab = f"{base} ({seen[base]})"
        seen.setdefault(lab, 1)
        labels.append(lab)
    return labels


# ---------------------------------------------------------------------------------------------- matcher
@dataclass(frozen=True)
class _Prepared:
    """The event log in unit order plus per-row arrays shared by the analyses."""

    ev: pd.DataFrame          # rows in unit order (customer order for unit="customer"), RangeIndex
    unit: np.ndarray          # unit code per row, non-decreasing
    unit_start: np.ndarray    # first row of each unit
    ts: np.ndarray            # int64 ns per row
    ev_codes: np.ndarray      # event category code per row
    ev_cats: np.ndarray       # event category names (str)
    member: np.ndarray        # (n, K) bool: row satisfies step k
    labels: list
    steps: list
    unit_kind: str


def _prepare(events, steps, unit, stage_map) -> _Prepared:
    _check_events(events)
    _check_choice("unit", unit, UNITS)
    norm = _normalize_steps(steps)
    sm = stage_map or load_stage_map()
    ev = ensure_sorted(events)
    cat = ev["event"] if isinstance(ev["event"].dtype, pd.CategoricalDtype) else ev["event"].astype("category")
    ev_cats = np.asarray(cat.cat.categories.astype(str))
    ev_codes = cat.cat.codes.to_numpy().astype(np.int64)
    stage_names = sm.stage_names
    known = set(sm.known_events) | set(ev_cats.tolist())
    for s in norm:
        for name in s:
            if name not in stage_names and name not in known:
                raise ValueError(
                    f"steps: unknown step name {name!r}: not a stage ({', '.join(stage_names)}) and not an event "
                    f"in the data or the stage map"
                )
    need_stage = any(name in stage_names for s in norm for name in s)
    stage_codes = assign_stages(ev, sm).cat.codes.to_numpy() if need_stage else None
    n, k = len(ev), len(norm)
    member = np.zeros((n, k), dtype=bool)
    for j, s in enumerate(norm):
        ev_names = [x for x in s if x not in stage_names]
        st_names = [x for x in s if x in stage_names]
        if ev_names:
            lut = np.isin(ev_cats, ev_names)
            member[:, j] |= (ev_codes >= 0) & lut[np.maximum(ev_codes, 0)]
        if st_names:
            member[:, j] |= np.isin(stage_codes, [stage_names.index(x) for x in st_names])
    if unit == "customer":
        ucode = np.cumsum(customer_starts(ev)) - 1
    else:
        ucode = session_keys(ev).to_numpy()
        if len(ucode) > 1 and (np.diff(ucode) < 0).any():  # interleaved sessions: make them contiguous
            order = np.argsort(ucode, kind="stable")
            attrs = dict(ev.attrs)
            ev = ev.iloc[order].reset_index(drop=True)
            ev.attrs.update(attrs)
            ucode, ev_codes, member = ucode[order], ev_codes[order], member[order]
        # renumber 0..U-1 in row order
        new = np.ones(len(ucode), bool)
        new[1:] = ucode[1:] != ucode[:-1]
        ucode = np.cumsum(new) - 1
    ts = ev["timestamp"].to_numpy().astype("datetime64[ns]").astype(np.int64)
    ustart = np.flatnonzero(np.r_[True, ucode[1:] != ucode[:-1]]) if len(ucode) else np.zeros(0, np.int64)
    return _Prepared(ev, ucode.astype(np.int64), ustart, ts, ev_codes, ev_cats, member, _labels(norm), norm, unit)


@dataclass(frozen=True)
class _Match:
    prep: _Prepared
    level: np.ndarray        # per unit, 0..K
    pos: np.ndarray          # (U, K) row matched to each step in the chosen attempt, -1 when none
    done: np.ndarray         # (U, K) completion time ns, _NAT when not reached
    first_entry: np.ndarray  # per unit row of the first step-1 event, -1 when none
    end: np.ndarray          # per unit end of the observed span (ns): conversion, window end or last event
    window: int | None
    mode: str


def _match(prep: _Prepared, window: int | None, mode: str) -> _Match:
    _check_choice("mode", mode, MODES)
    unit, ts, member = prep.unit, prep.ts, prep.member
    n, K = member.shape
    U = len(prep.unit_start)
    A = np.flatnonzero(member[:, 0])
    ua = unit[A]
    limit = ts[A] + window if window is not None else np.full(len(A), _BIG)
    pos = np.full((len(A), K), -1, dtype=np.int64)
    pos[:, 0] = A
    alive = np.ones(len(A), bool)
    cur = A.copy()
    for k in range(1, K):
        if mode == "strict":
            cand = A + k
            inb = cand < n
            cand = np.where(inb, cand, 0)
            ok = alive & inb & (unit[cand] == ua) & member[cand, k] & (ts[cand] <= limit)
        else:
            pk = np.flatnonzero(member[:, k])
            start = cur if mode == "ordered" else A
            idx = np.searchsorted(pk, start, side="right")
            inb = idx < len(pk)
            cand = pk[np.minimum(idx, max(len(pk) - 1, 0))] if len(pk) else np.zeros(len(A), np.int64)
            ok = alive & inb & (unit[cand] == ua) & (ts[cand] <= limit)
        pos[:, k] = np.where(ok, cand, -1)
        cur = np.where(ok, cand, cur)
        alive = ok
    lev_a = (pos >= 0).sum(axis=1) if len(A) else np.zeros(0, np.int64)
    # the prefix property holds by construction: once a step fails, later ones are -1
    level = np.zeros(U, np.int64)
    chosen_pos = np.full((U, K), -1, np.int64)
    first_entry = np.full(U, -1, np.int64)
    if len(A):
        gstart = np.flatnonzero(np.r_[True, ua[1:] != ua[:-1]])
        gunits = ua[gstart]
        gmax = np.maximum.reduceat(lev_a, gstart)
        level[gunits] = gmax
        first_entry[gunits] = A[gstart]
        best = lev_a == np.repeat(gmax, np.diff(np.r_[gstart, len(A)]))
        cand_idx = np.flatnonzero(best)
        _, first = np.unique(ua[cand_idx], return_index=True)
        chosen = cand_idx[first]  # earliest attempt reaching the unit's furthest step
        chosen_pos[ua[chosen]] = pos[chosen]
    t = np.where(chosen_pos >= 0, ts[np.maximum(chosen_pos, 0)], _NAT)
    done = np.where(chosen_pos >= 0, np.maximum.accumulate(np.where(chosen_pos >= 0, t, _NAT), axis=1), _NAT)
    # end of the observed span
    unit_last = np.r_[prep.unit_start[1:] - 1, n - 1] if U else np.zeros(0, np.int64)
    last_ts = ts[unit_last] if U else np.zeros(0, np.int64)
    end = np.full(U, _NAT, np.int64)
    entered = level >= 1
    t1 = np.where(entered, t[:, 0], _NAT) if K else end
    if window is not None:
        end[entered] = t1[entered] + window
    else:
        end[entered] = last_ts[entered]
    conv = level == K
    end[conv] = done[conv, K - 1]
    return _Match(prep, level, chosen_pos, done, first_entry, end, window, mode)


def _run(events, steps, window, mode, unit, stage_map) -> _Match:
    w = _parse_window(window)
    _check_choice("mode", mode, MODES)
    prep = _prepare(events, steps, unit, stage_map)
    return _match(prep, w, mode)


def _to_ts(ns: np.ndarray) -> np.ndarray:
    return np.asarray(ns, dtype=np.int64).view("datetime64[ns]")


def _unit_frame(m: _Match, *, with_steps: bool = True) -> pd.DataFrame:
    prep = m.prep
    us = prep.unit_start
    K = len(prep.labels)
    cols = {"customer_id": prep.ev["customer_id"].to_numpy()[us]}
    if prep.unit_kind == "session":
        cols["session"] = np.arange(len(us), dtype=np.int64)
    cols["steps_reached"] = m.level
    labels = np.asarray(prep.labels + [None], dtype=object)
    cols["last_step"] = np.where(m.level > 0, labels[np.maximum(m.level - 1, 0)], None)
    cols["first_entered_at"] = _to_ts(np.where(m.first_entry >= 0, prep.ts[np.maximum(m.first_entry, 0)], _NAT))
    cols["entered_at"] = _to_ts(m.done[:, 0]) if K else _to_ts(np.full(len(us), _NAT))
    cols["converted"] = m.level == K
    cols["window_end"] = _to_ts(m.end)
    if with_steps:
        for k, lab in enumerate(prep.labels):
            cols[lab] = _to_ts(m.done[:, k])
    out = pd.DataFrame(cols)
    out["last_step"] = out["last_step"].astype(pd.CategoricalDtype(prep.labels, ordered=True))
    return out


def funnel_units(
    events: pd.DataFrame,
    steps: Sequence,
    *,
    window=None,
    mode: str = "ordered",
    unit: str = "customer",
    stage_map: StageMap | None = None,
) -> pd.DataFrame:
    """Per unit: the furthest funnel step reached and when each step was completed.

    The rules are the module's (see :mod:`cjlib.funnel`); :func:`funnel` summarises this table.

    Parameters
    ----------
    events : DataFrame
        The event log (``customer_id``, ``timestamp``, ``event``; ``session_id`` optional).
    steps : list
        Event names, stage names or lists of names (any of which satisfies the step).
    window : str, Timedelta or None
        Conversion window from each attempt's step-1 event, inclusive; ``None`` is unbounded.
    mode : {"ordered", "strict", "any"}
    unit : {"customer", "session"}
    stage_map : StageMap, optional
        Default ``data/stage_map.yml``.

    Returns
    -------
    DataFrame
        One row per unit in the data, in (customer, session) order: ``customer_id``, ``session`` (only for
        ``unit="session"``: a 0-based session number), ``steps_reached`` (0..K), ``last_step`` (ordered
        categorical of step labels, NaN for 0), ``first_entered_at`` (the unit's first step-1 event),
        ``entered_at`` (step 1 of the chosen attempt: the earliest attempt reaching the furthest step),
        ``converted`` (reached every step), ``window_end`` (end of the observed span: the completion of
        the last step for converters, else step-1 time + window, else the unit's last event; NaT for
        units that never entered) and one column per step label holding the completion time (NaT when
        not reached). Repeated labels get a `` (2)`` suffix. ``attrs``: ``steps`` (labels),
        ``units_total``, ``mode``, ``unit``, ``window``.
    """
    m = _run(events, steps, window, mode, unit, stage_map)
    out = _unit_frame(m)
    out.attrs.update(steps=list(m.prep.labels), units_total=len(out), mode=mode, unit=unit,
                     window=None if window is None else str(pd.Timedelta(window)))
    return out


# ---------------------------------------------------------------------------------------------- funnel
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
        if c in ("customer_id", "timestamp"):
            raise ValueError(f"by: {c!r} cannot be a segment column")
    return cols


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
            d = (done[sel, k] - done[sel, k - 1]).astype(np.float64)
            q = np.quantile(d, [0.5, 0.9])
            med[k], p90[k] = np.round(q).astype(np.int64)
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
) -> pd.DataFrame:
    """Conversion funnel: how many units reach each step, drop-off and time between steps.

    Rules
    -----
    * ``steps``: event names, stage names from the stage map (a stage step is satisfied by events whose
      :func:`cjlib.journeys.assign_stages` label is that stage, so ``"retention"`` is the 2nd purchase with
      the default map; stage names take precedence over event names), or lists of names any of which
      satisfies the step. Unknown names raise ``ValueError``.
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

    Returns
    -------
    DataFrame
        One row per step (per segment and step with ``by``; segment columns first) with

        - ``step``: the step label (lists joined with ``" | "``; repeated labels get ``" (2)"``);
        - ``reached``: units whose furthest step is this one or later;
        - ``conversion_from_start``: reached ÷ reached at step 1;
        - ``conversion_from_previous``: reached ÷ reached at the previous step (NaN for step 1);
        - ``dropped``: reached at the previous step − reached here (0 for step 1);
        - ``drop_off_rate``: 1 − conversion_from_previous (NaN for step 1);
        - ``median_time_from_previous``, ``p90_time_from_previous``: Timedelta quantiles (linear
          interpolation) of completion(k) − completion(k−1) over units reaching step k (NaT for step 1).

        ``attrs["units_total"]``: units in the data (for a rate over all units); with ``by`` also
        ``attrs["units_total_by"]`` (segment → units, keys are tuples for several columns).

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "event": ["product_view", "purchase", "product_view"],
    ...                    "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01"])})
    >>> funnel(ev, ["product_view", "purchase"])[["step", "reached"]].values.tolist()
    [['product_view', 2], ['purchase', 1]]
    """
    cols = _check_by(by, events) if by is not None else []
    m = _run(events, steps, window, mode, unit, stage_map)
    labels = m.prep.labels
    U = len(m.level)
    if not cols:
        out = pd.DataFrame(_summarize(m.level, m.done, labels, U))
        out.attrs["units_total"] = int(U)
    else:
        seg = _segment_values(m, cols)
        codes, keys = _groups(seg, cols)
        parts, totals = [], {}
        for g in range(len(keys)):
            sel = codes == g
            part = pd.DataFrame(_summarize(m.level[sel], m.done[sel], labels, int(sel.sum())))
            for c in reversed(cols):
                part.insert(0, c, keys[c].iloc[g])
            parts.append(part)
            key = keys.iloc[g, 0] if len(cols) == 1 else tuple(keys.iloc[g])
            totals[key] = int(sel.sum())
        out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            columns=cols + list(_summarize(m.level[:0], m.done[:0], labels, 0)))
        out.attrs["units_total"] = int(U)
        out.attrs["units_total_by"] = totals
    out.attrs.update(mode=mode, unit=unit, window=None if window is None else str(pd.Timedelta(window)),
                     steps=list(labels))
    return out
