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
  ``"purchase"`` by the first purchase only. Prefix a name with ``"event:"`` or ``"stage:"`` to choose
  explicitly (``"event:purchase"`` is every purchase event, as an event-level checkout funnel usually
  means); labels drop the prefix. A bare name that is both a stage and an event keeps the stage
  meaning but raises one :class:`~cjlib.errors.DataWarning` per call naming the ``event:`` form. Stage labels are always computed on the customer's whole history,
  also when ``unit="session"``.
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
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjlib.errors import DataError, DataWarning
from cjlib.io import ensure_sorted
from cjlib.journeys import assign_stages, customer_groups, customer_starts, session_keys
from cjlib.stagemap import StageMap, load_stage_map
from cjlib.stats import holm, two_proportion_test, wilson_interval

__all__ = [
    "MODES",
    "UNITS",
    "CartAbandonment",
    "DropoffFlows",
    "ambiguous_steps",
    "cart_abandonment",
    "cart_outcomes",
    "compare_segments",
    "conversion_by_cohort",
    "conversion_step",
    "dropoff_drivers",
    "dropper_end_share",
    "friction",
    "funnel",
    "funnel_units",
    "holm",
    "largest_drop",
    "parse_steps",
    "resolve_checkout",
    "resolve_journey",
    "segment_columns",
    "time_to_convert",
    "two_proportion_test",
    "where_droppers_go",
    "wilson_interval",
    "worst_friction",
    "worst_segment",
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
        raise ValueError(f"window must be None or a duration like '7D' or pd.Timedelta(days=7), got {window!r}")  # noqa: TRY004
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


def _strip(name: str) -> str:
    return name.split(":", 1)[1] if name.startswith(("event:", "stage:")) else name


def _step_label(step) -> str:
    return _strip(step) if isinstance(step, str) else " | ".join(_strip(x) for x in step)


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


def ambiguous_steps(steps, stage_map: StageMap | None = None) -> list[str]:
    """The bare step names that are both a stage and an event of the stage map (they mean the stage).

    Examples
    --------
    >>> ambiguous_steps(["awareness", "purchase", "event:purchase", ["review", "retention"]])
    ['purchase']
    """
    sm = stage_map or load_stage_map()
    amb = set(sm.ambiguous_names())
    names = [n for s in _normalize_steps(steps) for n in s if n in amb]
    return list(dict.fromkeys(names))


def _warn_ambiguous(norm, sm: StageMap, stacklevel: int = 3) -> None:
    amb = set(sm.ambiguous_names())
    names = list(dict.fromkeys(n for s in norm for n in s if n in amb))
    if names:
        forms = ", ".join(f"'event:{n}'" for n in names)
        warnings.warn(f"steps: {', '.join(repr(n) for n in names)} is both a stage and an event; a bare name counts "
                      f"the stage (when the customer reaches it, e.g. a first purchase only), not every such event. "
                      f"Write {forms} for every such event, or 'stage:NAME' to say the stage.",
                      DataWarning, stacklevel=stacklevel)


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
    ev_codes = cat.cat.codes.to_numpy().astype(np.int64)  # int64: other analyses index with it
    stage_names = sm.stage_names
    known = set(sm.known_events) | set(ev_cats.tolist())
    for s in norm:
        for name in s:
            if name.startswith(("event:", "stage:")):
                kind, _, bare = name.partition(":")
                if kind == "stage" and bare not in stage_names:
                    raise ValueError(f"steps: unknown stage {bare!r} in {name!r}; stages are {stage_names}")
                if kind == "event" and bare not in known:
                    raise ValueError(f"steps: unknown event {bare!r} in {name!r}: not in the data or the stage map")
            elif name not in stage_names and name not in known:
                raise ValueError(
                    f"steps: unknown step name {name!r}: not a stage ({', '.join(stage_names)}) and not an event "
                    f"in the data or the stage map"
                )
    _warn_ambiguous(norm, sm, stacklevel=5)

    def is_stage(name):
        return name.startswith("stage:") or (name in stage_names and not name.startswith("event:"))

    def bare(name):
        return name.split(":", 1)[1] if name.startswith(("event:", "stage:")) else name

    need_stage = any(is_stage(name) for s in norm for name in s)
    stage_codes = assign_stages(ev, sm).cat.codes.to_numpy() if need_stage else None
    n, k = len(ev), len(norm)
    member = np.zeros((n, k), dtype=bool, order="F")  # column k contiguous: rows satisfying step k
    for j, s in enumerate(norm):
        ev_names = [bare(x) for x in s if not is_stage(x)]
        st_names = [bare(x) for x in s if is_stage(x)]
        if ev_names:
            lut = np.r_[np.isin(ev_cats, ev_names), False]  # the last slot answers code -1 (missing)
            member[:, j] |= lut[ev_codes]
        if st_names:
            member[:, j] |= np.isin(stage_codes, [stage_names.index(x) for x in st_names])
    ustart = None
    if unit == "customer":
        ustart, ucode = customer_groups(ev)
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
    ts = ev["timestamp"].to_numpy().astype("datetime64[ns]", copy=False).view(np.int64)
    if ustart is None:
        ustart = np.flatnonzero(np.r_[True, ucode[1:] != ucode[:-1]]) if len(ucode) else np.zeros(0, np.int64)
    return _Prepared(ev, ucode.astype(np.int64, copy=False), ustart, ts, ev_codes, ev_cats, member,
                     _labels(norm), norm, unit)


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


def _links(prep: _Prepared, src: np.ndarray, usrc: np.ndarray, k: int) -> np.ndarray:
    """For each row in ``src`` (units ``usrc``), the index into the rows of step ``k`` of the first such
    row after it in the same unit, -1 when there is none."""
    mask = prep.member[:, k]
    n = len(mask)
    unit_last = np.r_[prep.unit_start[1:] - 1, n - 1] if len(prep.unit_start) else np.zeros(0, np.int64)
    if len(src) > n // 16:  # many sources: one running count over the log beats a binary search each
        count = np.cumsum(mask, dtype=np.int32 if n < 2**31 - 1 else np.int64)  # step-k rows up to here
        j, end = count[src], count[unit_last]
    else:
        dst = np.flatnonzero(mask)
        j = np.searchsorted(dst, src, side="right")
        end = np.searchsorted(dst, unit_last, side="right")  # per unit: one past its last row of step k
    return np.where(j < end[usrc], j, -1).astype(np.int64, copy=False)


def _attempts_ordered(prep: _Prepared, window: int | None):
    """Ordered mode by chains: for every row of step k-1, the next row of step k in the same unit.

    Greedy ordered matching from an attempt follows these links, so the links are found once per row and
    the chain times once per step-2 row; an attempt's level is then how many of its chain's times fall
    within its window. Returns (step-1 rows, their units, level per attempt, positions of chosen attempts).
    """
    unit, ts = prep.unit, prep.ts
    K = prep.member.shape[1]
    rows = [np.flatnonzero(prep.member[:, k]) for k in range(K)]
    A = rows[0]
    ua = unit[A]
    nxt = [None] + [_links(prep, rows[k - 1], ua if k == 1 else unit[rows[k - 1]], k) for k in range(1, K)]
    lev = np.ones(len(A), np.int64)
    if K > 1 and len(A):
        # chain times from each step-2 row, with a last (sentinel) slot that link -1 picks: never reached
        n2 = len(rows[1])
        j = np.arange(n2)
        big = np.iinfo(np.int64).max
        limit = ts[A] + min(window, big - 1 - int(ts.max())) if window is not None else np.full(len(A), big - 1)
        j1 = nxt[1]
        for k in range(1, K):
            t = np.full(n2 + 1, big, np.int64)
            ok = j >= 0
            t[:-1][ok] = ts[rows[k][j[ok]]]
            lev += t[j1] <= limit
            if k + 1 < K:
                nj = np.full(n2, -1, np.int64)
                nj[ok] = nxt[k + 1][j[ok]]
                j = nj

    def positions(chosen: np.ndarray, lev_chosen: np.ndarray) -> np.ndarray:
        out = np.full((len(chosen), K), -1, np.int64)
        out[:, 0] = A[chosen]
        j = nxt[1][chosen] if K > 1 else None
        for k in range(1, K):
            have = lev_chosen > k
            out[have, k] = rows[k][j[have]]
            if k + 1 < K:
                nj = np.full(len(j), -1, np.int64)
                nj[have] = nxt[k + 1][j[have]]
                j = nj
        return out

    return A, ua, lev, positions


def _attempts_generic(prep: _Prepared, window: int | None, mode: str):
    """Strict and any modes: every attempt searched step by step. Same return as :func:`_attempts_ordered`."""
    unit, ts, member = prep.unit, prep.ts, prep.member
    n, K = member.shape
    A = np.flatnonzero(member[:, 0])
    ua = unit[A]
    limit = ts[A] + window if window is not None else np.full(len(A), _BIG)
    pos = np.full((len(A), K), -1, dtype=np.int64)
    pos[:, 0] = A
    alive = np.ones(len(A), bool)
    for k in range(1, K):
        if mode == "strict":
            cand = A + k
            inb = cand < n
            cand = np.where(inb, cand, 0)
            ok = alive & inb & (unit[cand] == ua) & member[cand, k] & (ts[cand] <= limit)
        else:
            pk = np.flatnonzero(member[:, k])
            idx = np.searchsorted(pk, A, side="right")
            inb = idx < len(pk)
            cand = pk[np.minimum(idx, max(len(pk) - 1, 0))] if len(pk) else np.zeros(len(A), np.int64)
            ok = alive & inb & (unit[cand] == ua) & (ts[cand] <= limit)
        pos[:, k] = np.where(ok, cand, -1)
        alive = ok
    # the prefix property holds by construction: once a step fails, later ones are -1
    lev = (pos >= 0).sum(axis=1) if len(A) else np.zeros(0, np.int64)
    return A, ua, lev, lambda chosen, _lev: pos[chosen]


def _match(prep: _Prepared, window: int | None, mode: str) -> _Match:
    _check_choice("mode", mode, MODES)
    ts = prep.ts
    n, K = prep.member.shape
    U = len(prep.unit_start)
    if mode == "ordered":
        A, ua, lev_a, positions = _attempts_ordered(prep, window)
    else:
        A, ua, lev_a, positions = _attempts_generic(prep, window, mode)
    level = np.zeros(U, np.int64)
    chosen_pos = np.full((U, K), -1, np.int64)
    first_entry = np.full(U, -1, np.int64)
    if len(A):
        gstart = np.flatnonzero(np.r_[True, ua[1:] != ua[:-1]])
        gunits = ua[gstart]
        gmax = np.maximum.reduceat(lev_a, gstart)
        level[gunits] = gmax
        first_entry[gunits] = A[gstart]
        best = np.flatnonzero(lev_a == np.repeat(gmax, np.diff(np.r_[gstart, len(A)])))
        ub = ua[best]
        chosen = best[np.r_[True, ub[1:] != ub[:-1]]]  # earliest attempt reaching the unit's furthest step
        chosen_pos[ua[chosen]] = positions(chosen, lev_a[chosen])
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
    cols = {"customer_id": prep.ev["customer_id"].array.take(us).to_numpy()}  # not the whole column to NumPy
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
    seg = _segment_values(m, cols) if cols else None
    return funnel_table(m.level, m.done, m.prep.labels, seg, mode=mode, unit=unit, window=window)


def funnel_table(level: np.ndarray, done: np.ndarray, labels: list[str], segments: pd.DataFrame | None = None,
                 *, mode: str, unit: str, window) -> pd.DataFrame:
    """The funnel table from per-unit results: ``level`` (steps reached), ``done`` (completion time per step,
    ns) and optional ``segments`` (one row per unit, one column per ``by`` column).

    :func:`funnel` calls it on one frame; :mod:`cjlib.engine` on the per-unit rows merged from partitions,
    so both engines share one summary.
    """
    U = len(level)
    if segments is None:
        out = pd.DataFrame(_summarize(level, done, labels, U))
        out.attrs["units_total"] = int(U)
    else:
        cols = list(segments.columns)
        codes, keys = _groups(segments, cols)
        parts, totals = [], {}
        for g in range(len(keys)):
            sel = codes == g
            part = pd.DataFrame(_summarize(level[sel], done[sel], labels, int(sel.sum())))
            for c in reversed(cols):
                part.insert(0, c, keys[c].iloc[g])
            parts.append(part)
            key = keys.iloc[g, 0] if len(cols) == 1 else tuple(keys.iloc[g])
            totals[key] = int(sel.sum())
        out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            columns=cols + list(_summarize(level[:0], done[:0], labels, 0)))
        out.attrs["units_total"] = int(U)
        out.attrs["units_total_by"] = totals
    out.attrs.update(mode=mode, unit=unit, window=None if window is None else str(pd.Timedelta(window)),
                     steps=list(labels))
    return out


def _step_index(step, labels: list[str], steps: list[tuple[str, ...]], name: str) -> int:
    """0-based index of a step given by label, name, list of names, or 1-based int."""
    if isinstance(step, (int, np.integer)) and not isinstance(step, bool):
        if not 1 <= step <= len(labels):
            raise ValueError(f"{name} must be a step number 1..{len(labels)} or a step label, got {step!r}")
        return int(step) - 1
    if isinstance(step, str) and step in labels:
        return labels.index(step)
    key = (step,) if isinstance(step, str) else tuple(step) if isinstance(step, Sequence) else None
    if key is not None and key in steps:
        return steps.index(key)
    raise ValueError(f"{name} must be one of the steps {labels} (or a step number), got {step!r}")


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
    m = _run(events, steps, window, mode, unit, stage_map)
    labels, norm = m.prep.labels, m.prep.steps
    K = len(labels)
    if from_step is None and to_step is None:
        if K < 2:
            raise ValueError("steps: segment comparison needs at least 2 steps")
        pairs = [(k - 1, k) for k in range(1, K)]
    else:
        a = 0 if from_step is None else _step_index(from_step, labels, norm, "from_step")
        b = K - 1 if to_step is None else _step_index(to_step, labels, norm, "to_step")
        if b <= a:
            raise ValueError(f"to_step must come after from_step, got {labels[a]!r} → {labels[b]!r}")
        pairs = [(a, b)]
    seg = _segment_values(m, cols)[col]
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
    out.attrs.update(units_total=len(m.level), confidence=confidence, alpha=alpha, by=col, mode=mode, unit=unit)
    return out


# ----------------------------------------------------------------------------------------- span helpers
def _span_rows(m: _Match, units: np.ndarray, start_pos: np.ndarray, end_ns: np.ndarray, end_pos: np.ndarray):
    """Rows of each unit strictly after ``start_pos`` up to ``end_ns`` (inclusive) and before ``end_pos``.

    Returns (rows, owner) with owner the index into ``units``. Vectorized by repeating ranges.
    """
    prep = m.prep
    n = len(prep.ts)
    unit_end = np.r_[prep.unit_start[1:], n][units]  # exclusive
    stop = np.minimum(unit_end, np.where(end_pos >= 0, end_pos, unit_end))
    # rows after start whose time <= end_ns: the last row with ts <= end_ns inside [start+1, stop)
    lo = start_pos + 1
    lengths = np.maximum(stop - lo, 0)
    owner = np.repeat(np.arange(len(units)), lengths)
    offs = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    rows = np.repeat(lo, lengths) + offs
    keep = prep.ts[rows] <= end_ns[owner]
    return rows[keep], owner[keep]


# ---------------------------------------------------------------------------------------- drop-off drivers
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
) -> pd.DataFrame:
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

    Returns
    -------
    DataFrame
        One row per event, sorted by odds ratio (highest first): ``event``, ``units_with``,
        ``rate_with`` (conversion of units that did it), ``rate_without``, ``odds_ratio``,
        ``log_odds_ratio``, ``ci_low``, ``ci_high`` (odds-ratio scale), ``direction`` ("positive" when the
        odds ratio > 1, else "negative"). ``attrs``: ``units`` (population), ``converted``.
    """
    if not isinstance(min_support, (int, np.integer)) or min_support < 1:
        raise ValueError(f"min_support must be a positive integer, got {min_support!r}")
    m = _run(events, steps, window, mode, unit, stage_map)
    prep = m.prep
    labels, norm = prep.labels, prep.steps
    K = len(labels)
    a_ = 0 if from_step is None else _step_index(from_step, labels, norm, "from_step")
    b_ = K - 1 if to_step is None else _step_index(to_step, labels, norm, "to_step")
    if b_ <= a_:
        raise ValueError(f"to_step must come after from_step, got {labels[a_]!r} → {labels[b_]!r}")
    units = np.flatnonzero(m.level >= a_ + 1)
    conv = m.level[units] >= b_ + 1
    start = m.pos[units, a_]
    end_pos = np.where(conv, m.pos[units, b_], -1)
    if m.window is not None:
        end_ns = np.where(conv, _BIG, prep.ts[m.pos[units, 0]] + m.window)
    else:
        end_ns = np.full(len(units), _BIG)
    rows, owner = _span_rows(m, units, start, end_ns, end_pos)
    if exclude_step_events:
        keep = ~prep.member[rows].any(axis=1)
        rows, owner = rows[keep], owner[keep]
    E = len(prep.ev_cats)
    codes = prep.ev_codes[rows]
    valid = codes >= 0
    key = np.unique(owner[valid].astype(np.int64) * E + codes[valid])
    did_owner, did_event = key // E, key % E
    with_all = np.bincount(did_event, minlength=E)
    with_conv = np.bincount(did_event, weights=conv[did_owner].astype(float), minlength=E)
    n_conv, n = int(conv.sum()), len(units)
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
        "event": prep.ev_cats[sel], "units_with": with_all[sel].astype(np.int64), "rate_with": rate_with[sel],
        "rate_without": rate_without[sel], "odds_ratio": np.exp(lor[sel]), "log_odds_ratio": lor[sel],
        "ci_low": np.exp(lor[sel] - 1.959964 * se[sel]), "ci_high": np.exp(lor[sel] + 1.959964 * se[sel]),
    })
    out["direction"] = np.where(out["odds_ratio"] > 1, "positive", "negative")
    out = out.sort_values("odds_ratio", ascending=False, kind="stable").reset_index(drop=True)
    out.attrs.update(units=n, converted=n_conv, from_step=labels[a_], to_step=labels[b_], min_support=min_support)
    return out


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
    """

    paths: pd.DataFrame
    flows: pd.DataFrame


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

    Returns
    -------
    DropoffFlows
    """
    if not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth must be a positive integer, got {depth!r}")
    if not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    m = _run(events, steps, window, mode, unit, stage_map)
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
    last_lab = np.asarray(prep.labels, dtype=object)[last]
    # paths
    path = pd.Series([""] * len(units), dtype=object)
    for d in range(1, depth + 1):
        part = pd.Series(cols[d], dtype=object)
        sep = np.where(d > 1, " > ", "")
        path = np.where(part.notna(), path + sep + part.fillna(""), path)
    pdf = pd.DataFrame({"last_step": last_lab, "path": np.asarray(path, dtype=object)})
    if len(pdf):
        counts = pdf.groupby(["last_step", "path"], sort=False).size().rename("units").reset_index()
        totals = counts.groupby("last_step")["units"].transform("sum")
        counts["share"] = counts["units"] / totals
        order = {lab: i for i, lab in enumerate(prep.labels)}
        counts["_o"] = counts["last_step"].map(order)
        counts = counts.sort_values(["_o", "units", "path"], ascending=[True, False, True], kind="stable")
        paths = counts.groupby("last_step", sort=False).head(top).drop(columns="_o").reset_index(drop=True)
    else:
        paths = pd.DataFrame({"last_step": [], "path": [], "units": [], "share": []})
    # flows
    links = []
    src = np.asarray(["dropped after " + s for s in last_lab], dtype=object)
    for d in range(1, depth + 1):
        tgt = cols[d]
        ok = pd.notna(tgt)
        tgt_name = np.where(ok, np.char.add(f"{d}: ", tgt.astype(str)) if len(tgt) else tgt, None)
        links.append(pd.DataFrame({"source": src[ok], "target": tgt_name[ok]}))
        src = tgt_name
    lf = pd.concat(links, ignore_index=True) if links else pd.DataFrame({"source": [], "target": []})
    flows = (lf.groupby(["source", "target"], sort=False).size().rename("count").reset_index()
             .sort_values("count", ascending=False, kind="stable").reset_index(drop=True))
    paths.attrs.update(droppers=len(units))
    return DropoffFlows(paths, flows)


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

    Returns
    -------
    DataFrame
        One row per unit that reached ``to_step``: ``customer_id`` (``session`` too for session units),
        ``started_at``, ``converted_at``, ``time_to_convert`` (Timedelta), ``hours`` (float).
        ``attrs``: ``units`` (reached from_step), ``converted``, ``from_step``, ``to_step``.
    """
    m = _run(events, steps, window, mode, unit, stage_map)
    labels, norm = m.prep.labels, m.prep.steps
    K = len(labels)
    a = 0 if from_step is None else _step_index(from_step, labels, norm, "from_step")
    b = K - 1 if to_step is None else _step_index(to_step, labels, norm, "to_step")
    if b <= a:
        raise ValueError(f"to_step must come after from_step, got {labels[a]!r} → {labels[b]!r}")
    sel = m.level >= b + 1
    uf = _unit_frame(m, with_steps=False)
    out = uf.loc[sel, [c for c in ("customer_id", "session") if c in uf.columns]].reset_index(drop=True)
    out["started_at"] = _to_ts(m.done[sel, a])
    out["converted_at"] = _to_ts(m.done[sel, b])
    out["time_to_convert"] = out["converted_at"] - out["started_at"]
    out["hours"] = out["time_to_convert"].dt.total_seconds() / 3600.0
    out.attrs.update(units=int((m.level >= a + 1).sum()), converted=int(sel.sum()), from_step=labels[a],
                     to_step=labels[b])
    return out


# ------------------------------------------------------------------------------------------ cohorts
def conversion_by_cohort(
    events: pd.DataFrame,
    steps: Sequence,
    *,
    freq: str = "week",
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

    Returns
    -------
    DataFrame
        ``cohort`` (period start, Timestamp), ``units``, ``converted``, ``rate``, ``ci_low``, ``ci_high``
        (Wilson), ``complete``.
    """
    freq_code = {"week": "W-SUN", "w": "W-SUN", "month": "M", "m": "M"}.get(str(freq).lower())
    if freq_code is None:
        raise ValueError(f"freq must be 'week' or 'month', got {freq!r}")
    m = _run(events, steps, window, mode, unit, stage_map)
    labels, norm = m.prep.labels, m.prep.steps
    b = len(labels) - 1 if to_step is None else _step_index(to_step, labels, norm, "to_step")
    entered = m.first_entry >= 0
    first_ts = _to_ts(m.prep.ts[m.first_entry[entered]])
    cohort = pd.PeriodIndex(pd.DatetimeIndex(first_ts), freq=freq_code).start_time
    conv = m.level[entered] >= b + 1
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
    out = out[["cohort", "units", "converted", "rate", "ci_low", "ci_high", "complete"]]
    out.attrs.update(freq=freq, to_step=labels[b])
    return out


# ----------------------------------------------------------------------------------------- friction
def _error_events(prep: _Prepared, sm: StageMap, error_events) -> list[str]:
    if error_events is not None:
        return [error_events] if isinstance(error_events, str) else list(error_events)
    names = set(sm.other_events) | set(prep.ev_cats.tolist())
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
) -> pd.DataFrame:
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

    Returns
    -------
    DataFrame
        One row per transition: ``from_step``, ``to_step``, ``units``, ``conversion`` (share reaching
        step k), and for each signal s in (loop, error, long_dwell): ``{s}_units``, ``{s}_rate`` (share of
        units), ``conversion_if_{s}``, ``conversion_if_no_{s}``; plus ``dwell_threshold`` (Timedelta) and
        ``attrs["error_events"]``.
    """
    sm = stage_map or load_stage_map()
    m = _run(events, steps, window, mode, unit, sm)
    prep = m.prep
    K = len(prep.labels)
    if K < 2:
        raise ValueError("steps: friction needs at least 2 steps")
    dwell_fixed = None if long_dwell is None else _parse_window(long_dwell)
    errs = _error_events(prep, sm, error_events)
    err_lut = np.isin(prep.ev_cats, errs)
    is_err = (prep.ev_codes >= 0) & err_lut[np.maximum(prep.ev_codes, 0)]
    rows = []
    for k in range(1, K):
        units = np.flatnonzero(m.level >= k)
        conv = m.level[units] >= k + 1
        start = m.pos[units, k - 1]
        end_pos = np.where(conv, m.pos[units, k], -1)
        if m.window is not None:
            end_ns = np.where(conv, _BIG, prep.ts[m.pos[units, 0]] + m.window)
        else:
            end_ns = np.full(len(units), _BIG)
        r, own = _span_rows(m, units, start, end_ns, end_pos)
        loop = np.bincount(own[prep.member[r, k - 1]], minlength=len(units)) > 0
        err = np.bincount(own[is_err[r]], minlength=len(units)) > 0
        seg_last = np.full(len(units), -1, np.int64)
        np.maximum.at(seg_last, own, r)
        t_from = prep.ts[start]
        t_to = np.where(conv, prep.ts[np.maximum(end_pos, 0)],
                        np.where(seg_last >= 0, prep.ts[np.maximum(seg_last, 0)], t_from))
        dwell = t_to - t_from
        if dwell_fixed is not None:
            thr = dwell_fixed
        else:
            conv_dwell = dwell[conv]
            thr = _quantiles_int(conv_dwell, (0.9,))[0] if len(conv_dwell) else None
        longd = dwell > thr if thr is not None else np.zeros(len(units), bool)
        rec = {"from_step": prep.labels[k - 1], "to_step": prep.labels[k], "units": len(units),
               "conversion": conv.mean() if len(units) else np.nan}
        for name, flag in (("loop", loop), ("error", err), ("long_dwell", longd)):
            rec[f"{name}_units"] = int(flag.sum())
            rec[f"{name}_rate"] = flag.mean() if len(units) else np.nan
            rec[f"conversion_if_{name}"] = conv[flag].mean() if flag.any() else np.nan
            rec[f"conversion_if_no_{name}"] = conv[~flag].mean() if (~flag).any() else np.nan
        rec["dwell_threshold"] = pd.Timedelta(thr, unit="ns") if thr is not None else pd.NaT
        rows.append(rec)
    out = pd.DataFrame(rows)
    out.attrs.update(error_events=errs)
    return out


# --------------------------------------------------------------------------------- cart abandonment
@dataclass(frozen=True)
class CartAbandonment:
    """Cart abandonment and recovery.

    Attributes
    ----------
    carts : int
        Sessions with at least one cart event.
    abandoned : int
        Cart sessions without a purchase event after their first cart event in the same session.
    abandonment_rate : float
        abandoned ÷ carts (NaN without carts).
    recovered : int
        Abandoned carts followed by a purchase of the same customer within ``recovery_days`` of the
        session's last cart event (inclusive).
    recovery_rate : float
        recovered ÷ abandoned.
    recovery_days : float
    cart_event, purchase_event : tuple of str
    table : DataFrame
        One row per cart session: ``customer_id``, ``session``, ``cart_at`` (first cart event),
        ``last_cart_at``, ``abandoned``, ``recovered``, ``recovered_at``, ``time_to_recovery``.
    """

    carts: int
    abandoned: int
    abandonment_rate: float
    recovered: int
    recovery_rate: float
    recovery_days: float
    cart_event: tuple
    purchase_event: tuple
    table: pd.DataFrame


def cart_abandonment(
    events: pd.DataFrame,
    *,
    cart_event: str | Sequence[str] | None = None,
    purchase_event: str | Sequence[str] | None = None,
    recovery_days: float = 7,
    stage_map: StageMap | None = None,
) -> CartAbandonment:
    """Cart abandonment rate and later recovery.

    A *cart* is a session (the data's ``session_id``, else 30-minute sessions) with a cart event. It is
    *abandoned* when no purchase event follows its first cart event in the same session. An abandoned
    cart is *recovered* when the customer makes a purchase event within ``recovery_days`` days
    (inclusive) after the session's last cart event (necessarily in a later session).

    Parameters
    ----------
    cart_event, purchase_event : str or list of str, optional
        Event names. Defaults come from the stage map's roles: ``cart_events`` and
        ``conversion_events`` (never from a journey's step positions). Without a cart event (none given
        and none declared) a :class:`ValueError` says so in one sentence.
    recovery_days : float, default 7
        Must be positive.
    """
    sm = stage_map or load_stage_map()
    _check_events(events)
    if isinstance(recovery_days, bool) or not isinstance(recovery_days, (int, float)) or not recovery_days > 0:
        raise ValueError(f"recovery_days must be a positive number, got {recovery_days!r}")

    def names(value, default, param):
        v = default if value is None else value
        out = (v,) if isinstance(v, str) else tuple(v)
        if not out or not all(isinstance(x, str) for x in out):
            raise ValueError(f"{param} must be an event name or a list of names, got {value!r}")
        return out

    if cart_event is None and not sm.cart_events:
        raise ValueError("the stage map declares no cart events (cart_events), so no event marks a cart")
    carts = names(sm.cart_events if cart_event is None else cart_event, None, "cart_event")
    buys = names(sm.conversion_events if purchase_event is None else purchase_event, None, "purchase_event")
    ev = ensure_sorted(events)
    sess = session_keys(ev).to_numpy()
    ev_names = ev["event"].astype(str).to_numpy()
    is_cart = np.isin(ev_names, carts)
    is_buy = np.isin(ev_names, buys)
    ts = ev["timestamp"].to_numpy().astype("datetime64[ns]").astype(np.int64)
    cust = np.cumsum(customer_starts(ev)) - 1
    n = len(ev)
    # first / last cart per session (session codes need not be contiguous: use unique over codes)
    cidx = np.flatnonzero(is_cart)
    s_of = sess[cidx]
    uniq_s, first_i = np.unique(s_of, return_index=True)
    last_i = len(s_of) - 1 - np.unique(s_of[::-1], return_index=True)[1]
    first_row, last_row = cidx[first_i], cidx[last_i]
    # a purchase in the same session after the first cart: last purchase row per session > first cart row
    bidx = np.flatnonzero(is_buy)
    last_buy = np.full(sess.max() + 1 if n else 0, -1, np.int64)
    if len(bidx):
        np.maximum.at(last_buy, sess[bidx], bidx)
    abandoned = last_buy[uniq_s] < first_row
    # recovery: first purchase of the customer after the last cart row (rows are customer-time ordered)
    j = np.searchsorted(bidx, last_row, side="right")
    has = j < len(bidx)
    nxt = bidx[np.minimum(j, max(len(bidx) - 1, 0))] if len(bidx) else np.zeros(len(last_row), np.int64)
    limit = int(pd.Timedelta(days=recovery_days).value)
    rec = abandoned & has & (cust[nxt] == cust[last_row]) & (ts[nxt] - ts[last_row] <= limit)
    rec_at = np.where(rec, ts[nxt], _NAT)
    table = pd.DataFrame({
        "customer_id": ev["customer_id"].to_numpy()[first_row],
        "session": uniq_s.astype(np.int64),
        "cart_at": _to_ts(ts[first_row]),
        "last_cart_at": _to_ts(ts[last_row]),
        "abandoned": abandoned,
        "recovered": rec,
        "recovered_at": _to_ts(rec_at),
    })
    table["time_to_recovery"] = table["recovered_at"] - table["last_cart_at"]
    table = table.sort_values(["customer_id", "cart_at"], kind="stable").reset_index(drop=True)
    n_c, n_a, n_r = len(table), int(abandoned.sum()), int(rec.sum())
    return CartAbandonment(
        carts=n_c, abandoned=n_a, abandonment_rate=n_a / n_c if n_c else float("nan"), recovered=n_r,
        recovery_rate=n_r / n_a if n_a else float("nan"), recovery_days=float(recovery_days),
        cart_event=carts, purchase_event=buys, table=table,
    )


# ------------------------------------------------------------------------------- report choices (03_dropoff)
def parse_steps(text: str) -> list:
    """Steps from a comma-separated parameter: ``"a, b|c, d"`` → ``["a", ["b", "c"], "d"]`` (``[]`` when empty).

    Examples
    --------
    >>> parse_steps("product_view, add_to_cart|begin_checkout, event:purchase")
    ['product_view', ['add_to_cart', 'begin_checkout'], 'event:purchase']
    """
    out = []
    for part in (x.strip() for x in str(text).split(",")):
        if part:
            alts = [a.strip() for a in part.split("|") if a.strip()]
            out.append(alts if len(alts) > 1 else alts[0])
    return out


def _journey_error(param: str, name: str, sm: StageMap) -> ValueError:
    where = f" ({sm.source})" if sm.source else ""
    known = ", ".join(sorted(sm.journeys))
    if not known:
        return ValueError(f"{param} {name!r}: the stage map{where} names no journeys (leave {param} empty)")
    return ValueError(f"{param} {name!r} is not a journey of the stage map{where}; its journeys are: {known}")


def resolve_journey(stage_map: StageMap, journey: str = "") -> tuple[str, list]:
    """The main funnel's name and steps for a ``journey`` parameter.

    ``""`` means the stage map's ``default_journey``, else every stage in order (named ``"stages"``).
    A name the map does not have raises a one-line :class:`ValueError` naming the map's journeys.

    Returns
    -------
    (name, steps)
    """
    name = (journey or "").strip() or stage_map.default_journey
    if not name:
        return "stages", list(stage_map.stage_names)
    if name not in stage_map.journeys:
        raise _journey_error("journey", name, stage_map)
    return name, list(stage_map.journeys[name].steps)


def resolve_checkout(stage_map: StageMap, checkout_journey: str = "") -> tuple[str | None, list | None]:
    """The checkout funnel's name and steps: ``""`` means the map's ``checkout_journey`` role.

    ``(None, None)`` when the parameter is empty and the map declares no checkout journey; a name the map
    does not have raises a one-line :class:`ValueError` naming the map's journeys.
    """
    name = (checkout_journey or "").strip() or stage_map.checkout_journey
    if not name:
        return None, None
    if name not in stage_map.journeys:
        raise _journey_error("checkout_journey", name, stage_map)
    return name, list(stage_map.journeys[name].steps)


def conversion_step(steps: Sequence, stage_map: StageMap | None = None) -> str | None:
    """The label of the first step after step 1 that a conversion event satisfies (an event step naming
    a conversion event, or a stage listing one); ``None`` when no later step does (then there is no
    conversion inside the funnel to time, only the reach of its last step).

    Examples
    --------
    >>> conversion_step(["awareness", "consideration", "purchase", "retention"])
    'purchase'
    >>> conversion_step(["page_view", "product_view"]) is None
    True
    """
    sm = stage_map or load_stage_map()
    norm = _normalize_steps(steps)
    labels = _labels(norm)
    conv = set(sm.conversion_events)
    stages = sm.stage_names

    def converts(name: str) -> bool:
        kind, bare = (name.split(":", 1) if name.startswith(("event:", "stage:")) else ("", name))
        if kind == "stage" or (kind == "" and bare in stages):
            return bool(conv & set(sm.stage(bare).events))
        return bare in conv

    for k in range(1, len(norm)):
        if any(converts(n) for n in norm[k]):
            return labels[k]
    return None


def segment_columns(segments: str, profile, events_columns, customer_columns=()) -> tuple[list[str], list[str]]:
    """The segment columns for a ``segments`` parameter, and the named ones the data lacks.

    ``""`` means ``profile.segment_candidates`` (the columns 00_journey_map uses). A named column is
    usable when it is an event or customer column, or ``acquisition_channel`` with a ``channel`` column.

    Returns
    -------
    (usable, missing) : lists of column names
    """
    ev_cols, cu_cols = set(events_columns), set(customer_columns or ())

    def usable(c):
        return c in ev_cols or c in cu_cols or (c == "acquisition_channel" and "channel" in ev_cols)

    wanted = [c.strip() for c in str(segments or "").split(",") if c.strip()]
    if not wanted:
        return [c for c in profile.segment_candidates if usable(c)], []
    wanted = list(dict.fromkeys(wanted))
    return [c for c in wanted if usable(c)], [c for c in wanted if not usable(c)]


def worst_segment(comparisons: Mapping[str, pd.DataFrame], to_step=None, *, min_units: int = 100,
                  tolerance: float = 1e-9) -> dict | None:
    """The significant segment level with the lowest ratio to the rest, or ``None``.

    Over the :func:`compare_segments` results of several columns (column → frame), rows count when they
    are significant, have at least ``min_units`` units at the transition, convert less than the rest
    (``ratio < 1``) and, with ``to_step``, end at that step. Two rows tied for the lowest ratio (within
    ``tolerance``) name nothing: a tie is never called the worst.

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


def cart_outcomes(table: pd.DataFrame, labels: pd.Series | None = None, column: str | None = None) -> pd.DataFrame:
    """Cart outcomes per group: ``purchased`` (in the session), ``recovered`` (later), ``lost``, ``carts``.

    Parameters
    ----------
    table : DataFrame
        :attr:`CartAbandonment.table`.
    labels : Series, optional
        customer_id → segment level; adds a row ``"{column} = {level}"`` per level after the ``"all"`` row
        (carts of customers without a level count only in ``"all"``).
    column : str, optional
        The segment's name for the row labels.
    """
    groups = {"all": table}
    if labels is not None:
        lab = table["customer_id"].map(labels)
        groups.update({f"{column} = {k}": g for k, g in table.groupby(lab, sort=True)})
    out = {k: {"purchased": int((~g["abandoned"]).sum()), "recovered": int(g["recovered"].sum()),
               "lost": int((g["abandoned"] & ~g["recovered"]).sum())} for k, g in groups.items()}
    res = pd.DataFrame.from_dict(out, orient="index", columns=["purchased", "recovered", "lost"])
    res["carts"] = res.sum(axis=1)
    return res


def largest_drop(table: pd.DataFrame, *, min_units: int = 30, tolerance: float = 1e-9) -> dict | None:
    """The transition of a :func:`funnel` table that loses the largest share of its units, or ``None``.

    Transitions whose previous step has fewer than ``min_units`` units are left out (``excluded`` counts
    them, so a sentence can say "among steps of 30+ units"); a tie for the largest drop, or fewer than two
    eligible transitions (nothing to be largest among), names nothing.

    Returns
    -------
    dict or None
        ``from_step``, ``to_step``, ``units`` (reached the previous step), ``dropped``, ``drop_off_rate``,
        ``excluded``, ``min_units``.
    """
    rows, excluded = [], 0
    for k in range(1, len(table)):
        prev, r = table.iloc[k - 1], table.iloc[k]
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


FRICTION_SIGNALS = ("loop", "error", "long_dwell")


def worst_friction(table: pd.DataFrame, *, min_units: int = 50, alpha: float = 0.05,
                   tolerance: float = 1e-9) -> dict | None:
    """The friction signal of a :func:`friction` table that goes with the largest fall in moving on.

    A signal at a transition counts when at least ``min_units`` units met it and ``min_units`` did not,
    units with it move on less often than units without it, and the difference is significant (two-
    proportion z-test, ``p < alpha``; the signals are few, so no correction). A tie for the largest gap
    names nothing.

    Returns
    -------
    dict or None
        ``signal`` ("loop", "error", "long dwell"), ``from_step``, ``to_step``, ``units`` (met it),
        ``share`` (of the units at from_step), ``conversion_with``, ``conversion_without``, ``gap``.
    """
    rows = []
    for _, r in table.iterrows():
        for s in FRICTION_SIGNALS:
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
    :attr:`DropoffFlows.flows`; ``None`` without droppers."""
    first = flows[flows["target"].astype(str).str.startswith("1: ")]
    total = first["count"].sum()
    if not total:
        return None
    return float(first.loc[first["target"] == "1: (end)", "count"].sum() / total)
