"""The funnel matcher: step parsing and validation, and the vectorized match of every unit's attempts.

The rules are those of :mod:`cjlib.funnel`. :func:`_run` prepares the log once (unit order, per-row step
membership) and matches it; every analysis of the package summarises the :class:`_Match` it returns.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from cjlib.errors import DataWarning
from cjlib.io import ensure_sorted
from cjlib.journeys import assign_stages, customer_groups, session_keys
from cjlib.stagemap import StageMap, load_stage_map
from cjlib.validation import check_choice, check_events, duration_ns

MODES = ("ordered", "strict", "any")
UNITS = ("customer", "session")
_NAT = np.iinfo(np.int64).min  # int64 view of NaT
_BIG = np.iinfo(np.int64).max
_RESERVED = {"customer_id", "session", "steps_reached", "last_step", "entered_at", "converted",
             "window_end", "first_entered_at", "entry_step"}


# ------------------------------------------------------------------------------------------ validation
_check_choice = check_choice  # the old private names, still used by cjlib.engine


def _parse_window(window, name: str = "window") -> int | None:
    """The window in ns (int) or ``None``; rejects negative and unparseable values."""
    return duration_ns(name, window)


def _check_positive(name: str, value) -> None:
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_events(events: pd.DataFrame) -> None:
    check_events(events)


def _strip(name: str) -> str:
    return name.split(":", 1)[1] if name.startswith(("event:", "stage:")) else name


def _step_label(step) -> str:
    return _strip(step) if isinstance(step, str) else " | ".join(_strip(x) for x in step)


def _unmark(name: str) -> str:
    """A name without its optional-step mark (a trailing ``"?"``)."""
    return name[:-1].rstrip() if name.endswith("?") else name


def _names(s, what: str = "steps") -> tuple[str, ...]:
    """One step (or exclusion) as a tuple of names; raises on anything else."""
    if isinstance(s, str):
        return (s,)
    if isinstance(s, Sequence) and len(s) > 0 and all(isinstance(x, str) for x in s):
        return tuple(s)
    raise ValueError(f"{what}: each step must be a name or a non-empty list of names, got {s!r}")


def _normalize_steps(steps) -> list[tuple[str, ...]]:
    """The steps as tuples of names, optional-step marks (a trailing ``"?"``) removed."""
    if isinstance(steps, str) or not isinstance(steps, Sequence) or len(steps) == 0:
        raise ValueError(f"steps must be a non-empty list of event names, stage names or lists of names, got {steps!r}")
    out = []
    for s in steps:
        out.append(tuple(_unmark(x) for x in _names(s)))
    return out


def _marked_optional(steps) -> list[bool]:
    """Per step: written with a trailing ``"?"`` (a list step: any of its names)."""
    return [any(x.endswith("?") for x in _names(s)) for s in steps]


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


def ambiguous_steps(steps, *, stage_map: StageMap | None = None) -> list[str]:
    """The bare step names that are both a stage and an event of the stage map (they mean the stage).

    Parameters
    ----------
    steps : list
        Funnel steps.
    stage_map : StageMap, optional
        Default ``data/stage_map.yml``.

    Returns
    -------
    list of str
        In order of first appearance.

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
    xmember: np.ndarray | None = None  # (n, X) bool: row is an event of exclusion x (funnel options), else None


def _prepare(events, steps, unit, stage_map, exclude_names=()) -> _Prepared:
    _check_events(events)
    _check_choice("unit", unit, UNITS)
    norm = _normalize_steps(steps)
    xnorm = [tuple(x) for x in exclude_names]
    sm = stage_map or load_stage_map()
    ev = ensure_sorted(events)
    cat = ev["event"] if isinstance(ev["event"].dtype, pd.CategoricalDtype) else ev["event"].astype("category")
    ev_cats = np.asarray(cat.cat.categories.astype(str))
    ev_codes = cat.cat.codes.to_numpy().astype(np.int64)  # int64: other analyses index with it
    stage_names = sm.stage_names
    known = set(sm.known_events) | set(ev_cats.tolist())
    for what, sets in (("steps", norm), ("exclude", xnorm)):
        for s in sets:
            for name in s:
                if name.startswith(("event:", "stage:")):
                    kind, _, bare = name.partition(":")
                    if kind == "stage" and bare not in stage_names:
                        raise ValueError(f"{what}: unknown stage {bare!r} in {name!r}; stages are {stage_names}")
                    if kind == "event" and bare not in known:
                        raise ValueError(f"{what}: unknown event {bare!r} in {name!r}: not in the data or the stage map")
                elif name not in stage_names and name not in known:
                    raise ValueError(
                        f"{what}: unknown step name {name!r}: not a stage ({', '.join(stage_names)}) and not an event "
                        f"in the data or the stage map"
                    )
    _warn_ambiguous(norm + xnorm, sm, stacklevel=5)

    def is_stage(name):
        return name.startswith("stage:") or (name in stage_names and not name.startswith("event:"))

    def bare(name):
        return name.split(":", 1)[1] if name.startswith(("event:", "stage:")) else name

    need_stage = any(is_stage(name) for s in norm + xnorm for name in s)
    stage_codes = assign_stages(ev, stage_map=sm).cat.codes.to_numpy() if need_stage else None
    n = len(ev)

    def membership(sets):
        out = np.zeros((n, len(sets)), dtype=bool, order="F")  # column k contiguous: rows satisfying step k
        for j, s in enumerate(sets):
            ev_names = [bare(x) for x in s if not is_stage(x)]
            st_names = [bare(x) for x in s if is_stage(x)]
            if ev_names:
                lut = np.r_[np.isin(ev_cats, ev_names), False]  # the last slot answers code -1 (missing)
                out[:, j] |= lut[ev_codes]
            if st_names:
                out[:, j] |= np.isin(stage_codes, [stage_names.index(x) for x in st_names])
        return out

    member = membership(norm)
    xmember = membership(xnorm) if xnorm else None
    ustart = None
    if unit == "customer":
        ustart, ucode = customer_groups(ev)
    else:
        ucode = session_keys(ev).to_numpy()
        if len(ucode) > 1 and (np.diff(ucode) < 0).any():  # interleaved sessions: make them contiguous
            order = np.argsort(ucode, kind="stable")
            ev = ev.iloc[order].reset_index(drop=True)  # pandas carries attrs (the source file) along
            ucode, ev_codes, member = ucode[order], ev_codes[order], member[order]
            xmember = xmember[order] if xmember is not None else None
        # renumber 0..U-1 in row order
        new = np.ones(len(ucode), bool)
        new[1:] = ucode[1:] != ucode[:-1]
        ucode = np.cumsum(new) - 1
    ts = ev["timestamp"].to_numpy().astype("datetime64[ns]", copy=False).view(np.int64)
    if ustart is None:
        ustart = np.flatnonzero(np.r_[True, ucode[1:] != ucode[:-1]]) if len(ucode) else np.zeros(0, np.int64)
    return _Prepared(ev, ucode.astype(np.int64, copy=False), ustart, ts, ev_codes, ev_cats, member,
                     _labels(norm), norm, unit, xmember)


@dataclass(frozen=True)
class _Match:
    """One funnel matched over a log: per unit, its chosen attempt.

    A unit is *at* step k when ``pos[:, k] >= 0`` (:attr:`at_step`): without funnel options that is
    ``level >= k + 1``; with optional steps or an open funnel it is not (an optional step may be skipped,
    an open funnel's unit may enter after step 1), so code that asks "who is at step k" reads ``at_step``.
    """

    prep: _Prepared
    level: np.ndarray        # per unit, 0..K: 1-based position of the furthest (required) step reached
    pos: np.ndarray          # (U, K) row matched to each step in the chosen attempt, -1 when none
    done: np.ndarray         # (U, K) completion time ns, _NAT when not reached
    first_entry: np.ndarray  # per unit row of the first step-1 event (open: of any required step), -1 when none
    end: np.ndarray          # per unit end of the observed span (ns): conversion, window end or last event
    window: int | None
    mode: str
    optional: tuple = ()     # per step: optional (empty: no optional step)
    exclusions: tuple = ()   # ((names, from, to), ...): 0-based step range of each exclusion
    open: bool = False       # units may enter at any step
    entry: np.ndarray | None = None  # per unit 0-based entry step of the chosen attempt, -1 when none

    @property
    def at_step(self) -> np.ndarray:
        """(U, K) bool: the unit is at step k in its chosen attempt (reached it; an optional step: did it)."""
        return self.pos >= 0

    @property
    def entry_step(self) -> np.ndarray:
        """Per unit, the 0-based step its chosen attempt entered at (0 unless open), -1 for units never in."""
        return self.entry if self.entry is not None else np.where(self.level >= 1, 0, -1)

    @property
    def has_options(self) -> bool:
        """Whether optional steps, exclusions or an open entry shape this match."""
        return any(self.optional) or bool(self.exclusions) or self.open


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


# ------------------------------------------------------------------------------------------ funnel options
def _optional_flags(steps, optional=None) -> tuple:
    """Per step: optional, from the ``"?"`` marks of ``steps`` and the ``optional`` argument (1-based step
    numbers or labels); ``()`` when no step is optional. The first and the last step cannot be optional."""
    norm = _normalize_steps(steps)
    labels = _labels(norm)
    flags = _marked_optional(steps)
    if optional is not None:
        items = [optional] if isinstance(optional, (str, int, np.integer)) else list(optional)
        for x in items:
            flags[_step_index(x, labels, norm, "optional")] = True
    if not any(flags):
        return ()
    bad = [labels[k] for k in (0, len(labels) - 1) if flags[k]]
    if bad:
        raise ValueError(f"optional: the first and the last step cannot be optional, got {', '.join(map(repr, bad))}")
    return tuple(flags)


def _exclusions(steps, exclude=None) -> tuple:
    """The exclusions as ``((names, lo, hi), ...)``: names a tuple, ``lo < hi`` 0-based steps.

    ``exclude`` is a name, a list of names (any of which), or a list of such items and tuples
    ``(names, from_step, to_step)`` (steps as 1-based numbers or labels); an item without a range spans
    the whole funnel.
    """
    if exclude is None:
        return ()
    norm = _normalize_steps(steps)
    labels = _labels(norm)
    items = [exclude] if isinstance(exclude, (str, tuple)) else list(exclude)
    out = []
    for x in items:
        if isinstance(x, tuple):
            if len(x) != 3:
                raise ValueError(f"exclude: a range is (names, from_step, to_step), got {x!r}")
            names, a, b = x
            lo = _step_index(a, labels, norm, "exclude: from_step")
            hi = _step_index(b, labels, norm, "exclude: to_step")
        else:
            names, lo, hi = x, 0, len(norm) - 1
        if hi <= lo:
            raise ValueError(f"exclude: {names!r} needs a later to_step than from_step: the range covers the steps "
                             f"between them, got {labels[lo]!r} → {labels[hi]!r}")
        out.append((_names(names, "exclude"), lo, hi))
    return tuple(out)


def _check_options(mode: str, optional: tuple, exclusions: tuple, open_: bool) -> None:
    if mode == "any" and (any(optional) or exclusions or open_):
        raise ValueError("mode 'any' takes no optional steps, exclusions or open entry: they are defined for "
                         "mode='ordered' (all three) and mode='strict' (exclusions and open entry)")
    if mode == "strict" and any(optional):
        raise ValueError("optional steps need mode='ordered': in strict mode every step follows the previous one "
                         "back to back, so a skipped step has no place")


def _next_row(rows: np.ndarray, unit: np.ndarray, src: np.ndarray) -> np.ndarray:
    """For each row in ``src``, the first row of sorted ``rows`` after it in the same unit, else ``_BIG``."""
    if not len(rows) or not len(src):
        return np.full(len(src), _BIG, np.int64)
    j = np.searchsorted(rows, src, side="right")
    cand = rows[np.minimum(j, len(rows) - 1)]
    return np.where((j < len(rows)) & (unit[cand] == unit[src]), cand, _BIG)


def _option_links(prep: _Prepared, mode: str, req: list, rows: list, xrows: list) -> list:
    """Per required gap i (1..R-1), for each row of required step i-1: the index into ``rows[i]`` of the row
    its attempt goes on to, -1 when none (no such row, or an exclusion row strictly between)."""
    unit, member = prep.unit, prep.member
    n = len(unit)
    links = [None]
    for i in range(1, len(req)):
        src = rows[i - 1]
        if mode == "ordered":
            j = _links(prep, src, unit[src], req[i])
        else:  # strict: the unit's very next row
            q = np.minimum(src + 1, max(n - 1, 0))
            ok = (src + 1 < n) & (unit[q] == unit[src]) & member[q, req[i]]
            j = np.where(ok, np.searchsorted(rows[i], q), -1)
        if xrows[i] is not None and len(src):
            q = rows[i][np.maximum(j, 0)] if len(rows[i]) else np.zeros(len(src), np.int64)
            j = np.where((j >= 0) & (_next_row(xrows[i], unit, src) >= q), j, -1)
        links.append(np.asarray(j, np.int64))
    return links


def _match_options(prep: _Prepared, window: int | None, mode: str, optional: tuple, exclusions: tuple,
                   open_: bool) -> _Match:
    """The matcher with funnel options (the rules of :mod:`cjlib.funnel`, "Funnel options")."""
    _check_options(mode, optional, exclusions, open_)
    unit, ts = prep.unit, prep.ts
    n, K = prep.member.shape
    U = len(prep.unit_start)
    opt = optional or (False,) * K
    req = [k for k in range(K) if not opt[k]]
    R = len(req)
    rows = [np.flatnonzero(prep.member[:, k]) for k in req]
    xrows = [None] * R  # per required gap: the rows of the exclusions that cover it
    for i in range(1, R):
        cols = [c for c, (_, lo, hi) in enumerate(exclusions) if lo < req[i] and req[i - 1] < hi]
        if cols:
            xrows[i] = np.flatnonzero(prep.xmember[:, cols].any(axis=1))
    links = _option_links(prep, mode, req, rows, xrows)
    big = _BIG - 1 - (int(ts.max()) if n else 0)
    w = None if window is None else min(window, big)
    parts = []
    for e in (range(R) if open_ else [0]):  # attempts entering at required step e
        S = rows[e]
        if not len(S):
            continue
        lim = ts[S] + w if w is not None else np.full(len(S), _BIG)
        P = np.full((len(S), R), -1, np.int64)
        P[:, e] = S
        lev = np.full(len(S), e + 1, np.int64)
        cur, alive = np.arange(len(S)), np.ones(len(S), bool)
        for i in range(e + 1, R):
            if not alive.any():
                break
            nj = np.where(alive, links[i][cur], -1)
            q = rows[i][np.maximum(nj, 0)] if len(rows[i]) else np.zeros(len(S), np.int64)
            alive = (nj >= 0) & (ts[q] <= lim)
            P[alive, i] = q[alive]
            lev += alive
            cur = np.where(alive, nj, 0)
        parts.append((unit[S], lev, np.full(len(S), e, np.int64), S, P))
    level = np.zeros(U, np.int64)
    entry = np.full(U, -1, np.int64)
    pos = np.full((U, K), -1, np.int64)
    first_entry = np.full(U, -1, np.int64)
    if parts:
        ua, lev, ent, row, P = (np.concatenate([p[i] for p in parts]) for i in range(5))
        order = np.lexsort((row, -lev, ent, ua))  # per unit: lowest entry, then furthest, then earliest
        first = order[np.r_[True, ua[order][1:] != ua[order][:-1]]]
        uu = ua[first]
        level[uu] = np.asarray(req)[lev[first] - 1] + 1
        entry[uu] = np.asarray(req)[ent[first]]
        pos[np.ix_(uu, req)] = P[first]
        by_row = np.lexsort((row, ua))
        first_entry[uu] = row[by_row[np.r_[True, ua[by_row][1:] != ua[by_row][:-1]]]]
    start_ts = np.where(entry >= 0, ts[np.maximum(pos[np.arange(U), np.maximum(entry, 0)], 0)], _NAT) if U else level
    for o in (k for k in range(K) if opt[k]):  # an optional step: done between its required neighbours
        i = max(i for i in range(R) if req[i] < o)
        r, s_ = req[i], req[i + 1]
        uu = np.flatnonzero(pos[:, r] >= 0)
        p = pos[uu, r]
        ro = _next_row(np.flatnonzero(prep.member[:, o]), unit, p)
        upper = np.where(pos[uu, s_] >= 0, pos[uu, s_], _BIG)
        if xrows[i + 1] is not None:
            upper = np.minimum(upper, _next_row(xrows[i + 1], unit, p))
        ok = ro < upper
        if w is not None:
            ok &= ts[np.minimum(ro, max(n - 1, 0))] <= start_ts[uu] + w
        pos[uu[ok], o] = ro[ok]
    done = np.where(pos >= 0, ts[np.maximum(pos, 0)], _NAT) if n else np.full((U, K), _NAT, np.int64)
    unit_last = np.r_[prep.unit_start[1:] - 1, n - 1] if U else np.zeros(0, np.int64)
    end = np.full(U, _NAT, np.int64)
    entered = level >= 1
    end[entered] = start_ts[entered] + window if window is not None else ts[unit_last[entered]]
    conv = level == K
    end[conv] = done[conv, K - 1]
    return _Match(prep, level, pos, done, first_entry, end, window, mode, optional, exclusions, open_, entry)


def _run(events, steps, window, mode, unit, stage_map, *, optional=None, exclude=None, open=False) -> _Match:
    w = _parse_window(window)
    _check_choice("mode", mode, MODES)
    opt = _optional_flags(steps, optional)
    excl = _exclusions(steps, exclude)
    if not isinstance(open, (bool, np.bool_)):
        raise ValueError(f"open must be True or False, got {open!r}")
    _check_options(mode, opt, excl, bool(open))
    prep = _prepare(events, steps, unit, stage_map, [names for names, _, _ in excl])
    if not (opt or excl or open):
        return _match(prep, w, mode)
    return _match_options(prep, w, mode, opt, excl, bool(open))


_NOT_SEGMENTS = ("customer_id", "timestamp", "session_id")  # columns no funnel breaks down by


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
    if m.open:
        cols["entry_step"] = np.where(m.entry_step >= 0, labels[np.maximum(m.entry_step, 0)], None)
    cols["first_entered_at"] = _to_ts(np.where(m.first_entry >= 0, prep.ts[np.maximum(m.first_entry, 0)], _NAT))
    if m.open:  # the entry step's time
        e = m.entry_step
        cols["entered_at"] = _to_ts(np.where(e >= 0, m.done[np.arange(len(e)), np.maximum(e, 0)], _NAT))
    else:
        cols["entered_at"] = _to_ts(m.done[:, 0]) if K else _to_ts(np.full(len(us), _NAT))
    cols["converted"] = m.level == K
    cols["window_end"] = _to_ts(m.end)
    if with_steps:
        for k, lab in enumerate(prep.labels):
            cols[lab] = _to_ts(m.done[:, k])
    out = pd.DataFrame(cols)
    out["last_step"] = out["last_step"].astype(pd.CategoricalDtype(prep.labels, ordered=True))
    if m.open:
        out["entry_step"] = out["entry_step"].astype(pd.CategoricalDtype(prep.labels, ordered=True))
    return out


def funnel_units(
    events: pd.DataFrame,
    steps: Sequence,
    *,
    window=None,
    mode: str = "ordered",
    unit: str = "customer",
    stage_map: StageMap | None = None,
    optional=None,
    exclude=None,
    open: bool = False,
) -> pd.DataFrame:
    """Per unit: the furthest funnel step reached and when each step was completed.

    The rules are the module's (see :mod:`cjlib.funnel`, also for the funnel options ``optional``,
    ``exclude`` and ``open``); :func:`funnel` summarises this table.

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
    optional : list of int or str, optional
        Optional steps (1-based numbers or labels), besides those written with a trailing ``"?"``.
    exclude : str, list or tuple, optional
        Exclusion events: a name (event or stage) or list of names, or ``(names, from_step, to_step)``
        for the steps between two steps; a list of such items.
    open : bool, default False
        Units may enter the funnel at any step.

    Returns
    -------
    DataFrame
        One row per unit in the data, in (customer, session) order: ``customer_id``, ``session`` (only for
        ``unit="session"``: a 0-based session number), ``steps_reached`` (0..K: the 1-based position of
        the furthest step reached, never an optional step), ``last_step`` (ordered categorical of step
        labels, NaN for 0), ``entry_step`` (only with ``open=True``: the step the chosen attempt entered
        at), ``first_entered_at`` (the unit's first step-1 event; open funnels: first event of any
        required step),
        ``entered_at`` (step 1 of the chosen attempt: the earliest attempt reaching the furthest step;
        open funnels: its entry step),
        ``converted`` (reached every step), ``window_end`` (end of the observed span: the completion of
        the last step for converters, else entry time + window, else the unit's last event; NaT for
        units that never entered) and one column per step label holding the completion time (NaT when
        not reached, skipped or before the entry step). Repeated labels get a `` (2)`` suffix.

    Examples
    --------
    A search between steps stops ``a`` at step 1; ``b`` skips the optional step 2 (``c`` never enters):

    >>> ev = pd.DataFrame({"customer_id": list("aaaabbcc"), "timestamp": pd.date_range("2025-01-01", periods=8, freq="h"),
    ...                    "event": ["product_view", "search", "add_to_cart", "purchase", "product_view", "purchase",
    ...                              "add_to_cart", "purchase"]})
    >>> u = funnel_units(ev, ["product_view", "add_to_cart?", "event:purchase"], exclude="search")
    >>> u[["customer_id", "steps_reached", "converted"]].values.tolist()
    [['a', 1, False], ['b', 3, True], ['c', 0, False]]

    In an open funnel a unit may enter at any step (``c`` enters at its cart; ``b`` has a step-1 event,
    so it counts as the closed funnel counts it):

    >>> u = funnel_units(ev, ["product_view", "add_to_cart", "event:purchase"], open=True)
    >>> u["entry_step"].tolist(), u["steps_reached"].tolist()
    (['product_view', 'product_view', 'add_to_cart'], [3, 1, 3])
    """
    return _unit_frame(_run(events, steps, window, mode, unit, stage_map, optional=optional, exclude=exclude,
                            open=open))




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



# ----------------------------------------------------------------------------------------- span helpers
def _transition(m: _Match, from_step, to_step) -> tuple[int, int]:
    """0-based (from, to) step indices of a transition: step 1 and the last step by default; ``to_step`` must
    come after ``from_step``."""
    labels, norm = m.prep.labels, m.prep.steps
    a = 0 if from_step is None else _step_index(from_step, labels, norm, "from_step")
    b = len(labels) - 1 if to_step is None else _step_index(to_step, labels, norm, "to_step")
    if b <= a:
        raise ValueError(f"to_step must come after from_step, got {labels[a]!r} → {labels[b]!r}")
    return a, b


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


class _Spans(NamedTuple):
    """The units at the start of a transition and the rows each one saw on its way (:func:`_transition_spans`)."""

    units: np.ndarray  # units that reached the from-step
    conv: np.ndarray  # per unit: reached the to-step
    start: np.ndarray  # per unit: the row of its from-step event (chosen attempt)
    end_pos: np.ndarray  # per unit: the row of its to-step event, -1 when not reached
    rows: np.ndarray  # the span rows (:func:`_span_rows`)
    owner: np.ndarray  # per span row: the index into ``units``


def _transition_spans(m: _Match, a: int, b: int) -> _Spans:
    """The span of every unit that reached step ``a`` (0-based) toward step ``b``: the rows strictly after its
    step-``a`` event up to its step-``b`` event (exclusive) when it got there, else up to the window end
    (inclusive) or, without a window, its last event."""
    units = np.flatnonzero(m.pos[:, a] >= 0)  # at step a (without options: level >= a + 1)
    conv = m.pos[units, b] >= 0
    start = m.pos[units, a]
    end_pos = np.where(conv, m.pos[units, b], -1)
    if m.window is not None:
        entry = m.pos[units, m.entry_step[units]]  # the attempt's first row (step 1 unless open)
        end_ns = np.where(conv, _BIG, m.prep.ts[entry] + m.window)
    else:
        end_ns = np.full(len(units), _BIG)
    rows, owner = _span_rows(m, units, start, end_ns, end_pos)
    return _Spans(units, conv, start, end_pos, rows, owner)

