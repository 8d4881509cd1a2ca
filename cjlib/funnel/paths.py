"""Paths around a step or an event: what units do after (or before) it, up to ``depth`` events, with counts that
agree with the funnel.

The anchor is a funnel step (the row the funnel matched to that step in each unit's chosen attempt, so the units
at the anchor are exactly the funnel's ``reached`` at that step), any event (each unit's first occurrence of it),
or the span between two steps (:func:`paths_around`). A unit's path is the events after the anchor (forward) or
before it (backward), in the unit (customer or session, the funnel's unit); with ``collapse_repeats`` each run
of one event repeated back to back shows once. Forward paths end in ``"(end)"`` when the unit's events stop,
backward ones in ``"(start)"`` when its first event is reached. Every summary counts every unit at the anchor
once: the paths table (top paths plus ``"(other paths)"``), the flows at position 1 and each column of the step
matrix all add up to :attr:`PathsAround.anchor_units`.

The walk is vectorized like :mod:`cjlib.funnel.flows`: runs of repeated events are found once over the log
(their first rows), and the k-th collapsed event after an anchor is the k-th run start after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjlib.funnel.matching import (
    _check_positive,
    _Match,
    _step_index,
    _transition,
    _transition_spans,
)
from cjlib.validation import check_choice, check_events

__all__ = ["PathsAround", "paths_around", "event_paths", "step_matrix_difference", "DIRECTIONS", "MAX_DEPTH"]

DIRECTIONS = ("forward", "backward")
MAX_DEPTH = 20
END, START, OTHER_PATHS, OTHER = "(end)", "(start)", "(other paths)", "(other)"


@dataclass(frozen=True)
class PathsAround:
    """The paths of the units at an anchor (:func:`paths_around`).

    Attributes
    ----------
    paths : DataFrame
        ``path`` (the events after the anchor, or before it in time order, joined by ``" > "``; ``"(end)"`` /
        ``"(start)"`` where the unit's events stop, ``"(reached <step>)"`` where a ``between`` span reaches its
        second step), ``units``, ``share`` (of :attr:`anchor_units`): the ``top`` commonest paths, most units
        first (ties by path), then one ``"(other paths)"`` row summing the rest when there is a rest.
        ``units`` sums to :attr:`anchor_units`.
    flows : DataFrame
        ``position`` (1..depth: steps away from the anchor), ``source`` (the anchor at position 1, else the
        event at the previous position), ``target``, ``units``. Per position the ``top`` commonest events
        are kept and the rest is ``"(other)"``; a unit whose path stopped has no later link. The links at
        position 1 sum to :attr:`anchor_units`.
    matrix : DataFrame
        The step matrix: index ``event`` (events, then ``"(other)"`` never, then the end labels), columns
        ``position`` 1..depth, the share of the units at the anchor whose event at that position is the row's
        (a unit whose path stopped counts under its end label at every later position), so each column sums
        to 1. Empty without units.
    anchor : str
        The step label, the event, or ``"<step a> → <step b>"``.
    anchor_kind : str
        ``"step"``, ``"event"`` or ``"between"``.
    anchor_units : int
        Units at the anchor (after the ``converted`` filter, if any).
    direction : str
        ``"forward"`` or ``"backward"``.
    depth : int
        Events followed from the anchor.
    unit : str
        ``"customer"`` or ``"session"``.
    collapse_repeats : bool
        Whether runs of a repeated event show once.
    group : str or None
        ``"converted"`` or ``"dropped"`` when the units were filtered by reaching the funnel's last step.
    reached : int or None
        With ``between``: units at the anchor whose span reaches the second step; else ``None``.
    converted_units : int
        Units at the anchor that reached the funnel's last step (converters); the others are droppers.
    converted_matrix, dropped_matrix : DataFrame
        The step matrix of the converters and of the droppers at the anchor (each column sums to 1; empty
        without such units); :attr:`outcome_difference` is the first minus the second.
    step_events : tuple of str
        The events that satisfy a step of the funnel somewhere in the log (converters do these by definition,
        so a comparison may want to look past them).
    """

    paths: pd.DataFrame
    flows: pd.DataFrame
    matrix: pd.DataFrame
    anchor: str
    anchor_kind: str
    anchor_units: int
    direction: str
    depth: int
    unit: str
    collapse_repeats: bool
    group: str | None = None
    reached: int | None = None
    converted_units: int = 0
    converted_matrix: pd.DataFrame | None = None
    dropped_matrix: pd.DataFrame | None = None
    step_events: tuple = ()

    @property
    def outcome_difference(self) -> pd.DataFrame:
        """Converters' step matrix minus droppers' (:func:`step_matrix_difference`); empty when either group
        has no units."""
        return step_matrix_difference(self.converted_matrix, self.dropped_matrix)


# ------------------------------------------------------------------------------------------- validation
def _check_args(step, event, between, direction, depth, top, collapse_repeats, converted) -> None:
    given = [name for name, v in (("step", step), ("event", event), ("between", between)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"give one anchor: step, event or between, got {' and '.join(given)}")
    check_choice("direction", direction, DIRECTIONS)
    if not isinstance(depth, (int, np.integer)) or isinstance(depth, bool) or not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be an integer from 1 to {MAX_DEPTH}, got {depth!r}")
    _check_positive("top", top)
    if not isinstance(collapse_repeats, (bool, np.bool_)):
        raise ValueError(f"collapse_repeats must be True or False, got {collapse_repeats!r}")
    if converted is not None and not isinstance(converted, (bool, np.bool_)):
        raise ValueError(f"converted must be None, True or False, got {converted!r}")
    if between is not None:
        if isinstance(between, str) or not isinstance(between, Sequence) or len(between) != 2:
            raise ValueError(f"between must be a pair of steps (step_a, step_b), got {between!r}")
        if direction != "forward":
            raise ValueError("direction must be 'forward' with between (the span runs from step_a to step_b)")


# ------------------------------------------------------------------------------------------------ walk
def _run_starts(m: _Match) -> np.ndarray:
    """The first row of every run of one event repeated back to back within a unit (unit starts included)."""
    codes, n = m.prep.ev_codes, len(m.prep.ev_codes)
    new = np.ones(n, bool)
    if n > 1:
        new[1:] = codes[1:] != codes[:-1]
    new[m.prep.unit_start] = True
    return np.flatnonzero(new)


def _walk(m: _Match, anchor: np.ndarray, limit: np.ndarray, *, depth: int, backward: bool,
          collapse: bool) -> np.ndarray:
    """Rows of the 1st..depth-th event from each anchor row, -1 past the unit's events.

    Forward, ``limit`` is one past the last row a unit may use; backward, the first row it may use.
    """
    out = np.full((len(anchor), depth), -1, np.int64)
    if not len(anchor):
        return out
    step = -1 if backward else 1
    if collapse:
        starts = _run_starts(m)
        first = anchor + step
        # run starts after the run holding the 1st event (forward), or before the run holding it (backward)
        i0 = np.searchsorted(starts, first, side="right") - (1 if backward else 0)
    for k in range(1, depth + 1):
        if k == 1 or not collapse:
            rows = anchor + step * k
        else:
            j = i0 + step * (k - 1) if backward else i0 + (k - 2)
            ok = (j >= 0) & (j < len(starts))
            rows = np.where(ok, starts[np.clip(j, 0, max(len(starts) - 1, 0))], -1 if backward else _HUGE)
        valid = rows >= limit if backward else rows < limit
        out[:, k - 1] = np.where(valid, rows, -1)
    return out


_HUGE = np.iinfo(np.int64).max


# ---------------------------------------------------------------------------------------------- anchor
def _step_anchor(m: _Match, step):
    k = 0 if step is None else _step_index(step, m.prep.labels, m.prep.steps, "step")
    # the units at the step (without funnel options: level >= k + 1; a skipped optional step or an open
    # funnel's later entry leaves a unit without a row there, so without an anchor)
    units = np.flatnonzero(m.pos[:, k] >= 0)
    return m.prep.labels[k], units, m.pos[units, k]


def _event_anchor(m: _Match, event):
    cats = m.prep.ev_cats
    if not isinstance(event, str) or event not in set(cats.tolist()):
        shown = ", ".join(map(str, cats[:12])) + (" …" if len(cats) > 12 else "")
        raise ValueError(f"event must be an event name in the data ({shown}), got {event!r}")
    code = int(np.flatnonzero(cats == event)[0])
    rows = np.flatnonzero(m.prep.ev_codes == code)
    u = m.prep.unit[rows]
    first = np.r_[True, u[1:] != u[:-1]] if len(u) else np.zeros(0, bool)
    return event, u[first], rows[first]


def _unit_bounds(m: _Match, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(m.prep.ts)
    return m.prep.unit_start[units], np.r_[m.prep.unit_start[1:], n][units]


# ------------------------------------------------------------------------------------------- summaries
def _labels_matrix(m: _Match, rows: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per unit and position a label index: the event's code (``C``, the number of events, for a missing
    event), the unit's end label ``ends`` (an index past ``C``) where its path stops, -1 after that."""
    codes = m.prep.ev_codes[np.maximum(rows, 0)]
    lab = np.where(rows >= 0, np.where(codes >= 0, codes, len(m.prep.ev_cats)), -1)
    stopped = rows < 0
    first_stop = stopped & ~np.c_[np.zeros((len(rows), 1), bool), stopped[:, :-1]]
    return np.where(first_stop, ends[:, None], lab)


def _path_table(lab: np.ndarray, names: list[str], *, top: int, backward: bool, total: int) -> pd.DataFrame:
    cols = ["path", "units", "share"]
    if not len(lab):
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(cols, (object, np.int64, float), strict=True)})
    uniq, counts = np.unique(lab, axis=0, return_counts=True)
    text = []
    for row in uniq:
        toks = [names[x] for x in row if x >= 0]
        text.append(" > ".join(reversed(toks) if backward else toks))
    t = pd.DataFrame({"path": text, "units": counts.astype(np.int64)})
    t = t.sort_values(["units", "path"], ascending=[False, True], kind="stable").reset_index(drop=True)
    if len(t) > top:
        rest = int(t["units"].iloc[top:].sum())
        t = pd.concat([t.iloc[:top], pd.DataFrame({"path": [OTHER_PATHS], "units": [rest]})], ignore_index=True)
    t["share"] = t["units"] / total
    return t[cols]


def _top_per_position(lab: np.ndarray, top: int, n_events: int, other: int) -> np.ndarray:
    """``lab`` with the events outside each position's ``top`` commonest replaced by the ``"(other)"`` index
    ``other``; end labels (indices >= ``n_events``) are always kept."""
    out = lab.copy()
    for k in range(lab.shape[1]):
        col = lab[:, k]
        ev = col[(col >= 0) & (col < n_events)]
        if not len(ev):
            continue
        cnt = np.bincount(ev, minlength=n_events)
        order = np.lexsort((np.arange(n_events), -cnt))  # most units first, ties by code
        keep = np.zeros(n_events, bool)
        keep[order[:top]] = True
        keep &= cnt > 0
        drop = (col >= 0) & (col < n_events) & ~keep[np.clip(col, 0, n_events - 1)]
        out[drop, k] = other
    return out


def _flow_table(lab: np.ndarray, names: list[str], anchor: str, top: int, n_events: int) -> pd.DataFrame:
    t = _top_per_position(lab.astype(np.int64), top, n_events, len(names))
    name_of = np.asarray(names + [OTHER, anchor], dtype=object)  # the anchor's code: len(names) + 1
    n = len(name_of)
    frames = []
    for k in range(t.shape[1]):  # links counted on codes (a few dozen), named once per distinct link
        tgt = t[:, k]
        ok = tgt != -1
        src = np.full(int(ok.sum()), n - 1, dtype=np.int64) if k == 0 else t[ok, k - 1]
        key, units = np.unique(src * n + tgt[ok], return_counts=True)
        frames.append(pd.DataFrame({"position": k + 1, "source": name_of[key // n], "target": name_of[key % n],
                                    "units": units.astype(np.int64)}))
    f = pd.concat(frames, ignore_index=True)
    f = f.groupby(["position", "source", "target"], sort=False)["units"].sum().reset_index()
    f["units"] = f["units"].astype(np.int64)
    return f.sort_values(["position", "units", "source", "target"], ascending=[True, False, True, True],
                         kind="stable").reset_index(drop=True)


def _step_matrix(lab: np.ndarray, names: list[str], n_events: int) -> pd.DataFrame:
    depth = lab.shape[1]
    cols = pd.Index(range(1, depth + 1), name="position")
    if not len(lab):
        return pd.DataFrame(index=pd.Index([], name="event", dtype=object), columns=cols, dtype=float)
    filled = lab.copy()
    for k in range(1, depth):  # a stopped path stays at its end label
        filled[:, k] = np.where(filled[:, k] < 0, filled[:, k - 1], filled[:, k])
    L = len(names)
    counts = np.stack([np.bincount(filled[:, k], minlength=L) for k in range(depth)], axis=1)
    used = np.flatnonzero(counts.sum(axis=1) > 0)
    ev = [i for i in used if i < n_events]
    ev.sort(key=lambda i: (-counts[i].sum(), names[i]))
    order = ev + [i for i in used if i >= n_events]
    return pd.DataFrame(counts[order] / len(lab), index=pd.Index([names[i] for i in order], name="event"),
                        columns=cols)


# ------------------------------------------------------------------------------------------------- API
def paths_around(funnel, *, step=None, event: str | None = None, between: Sequence | None = None,
                 direction: str = "forward", depth: int = 5, top: int = 10, collapse_repeats: bool = True,
                 converted: bool | None = None) -> PathsAround:
    """The paths of the units at a funnel step, at an event, or between two steps, up to ``depth`` events.

    Anchors (give at most one; none is the funnel's first step):

    * ``step``: a step label, name or 1-based number. The units are those that reached the step (the funnel
      table's ``reached``) and each one's anchor is the event the funnel matched to that step in its chosen
      attempt (the earliest attempt reaching its furthest step).
    * ``event``: an event name of the data. Each unit that has it is anchored at its first occurrence.
    * ``between=(step_a, step_b)``: the units that reached ``step_a``, and the events strictly after their
      ``step_a`` event up to their ``step_b`` event when they reached it (the path then ends in
      ``"(reached <step_b>)"``), else up to the funnel's window end from step 1 (inclusive; without a window,
      their last event), ending in ``"(end)"``. The spans of :func:`cjlib.funnel.friction`. Forward only.

    Paths stay inside the unit (a session unit's path ends with the session) and are not limited to the
    window, except with ``between``. The anchor event itself is not part of the path.

    Parameters
    ----------
    funnel : Funnel
        A fitted :class:`cjlib.funnel.Funnel`; its unit (customer or session) is the paths' unit.
    step : str, list or int, optional
        The anchor step.
    event : str, optional
        The anchor event.
    between : pair of steps, optional
        The anchor span ``(step_a, step_b)``; ``step_b`` after ``step_a``.
    direction : {"forward", "backward"}, default "forward"
        Events after the anchor, or before it (written in time order, ending right before the anchor).
    depth : int, default 5
        Events followed from the anchor, 1 to 20.
    top : int, default 10
        Paths kept in ``paths`` (the rest sum into ``"(other paths)"``) and events kept per position in
        ``flows`` (the rest are ``"(other)"``).
    collapse_repeats : bool, default True
        Show each run of one event repeated back to back once (``search > search > cart`` is
        ``search > cart``); the run counts as one of the ``depth`` events.
    converted : bool, optional
        Keep only the units at the anchor that reached the funnel's last step (``True``) or did not
        (``False``), e.g. for :func:`step_matrix_difference`.

    Returns
    -------
    PathsAround

    Examples
    --------
    >>> from cjlib.funnel import Funnel
    >>> ev = pd.DataFrame({"customer_id": ["a"] * 4 + ["b"] * 2,
    ...                    "event": ["product_view", "search", "search", "add_to_cart", "product_view", "purchase"],
    ...                    "timestamp": pd.Timestamp("2025-01-01") + pd.to_timedelta([0, 1, 2, 3, 0, 5], unit="min")})
    >>> p = paths_around(Funnel(ev, ["product_view", "add_to_cart"]), step=1, depth=3)
    >>> p.paths.to_dict("list")
    {'path': ['purchase > (end)', 'search > add_to_cart > (end)'], 'units': [1, 1], 'share': [0.5, 0.5]}
    >>> p.anchor_units, int(Funnel(ev, ["product_view", "add_to_cart"]).table()["reached"].iloc[0])
    (2, 2)
    """
    _check_args(step, event, between, direction, depth, top, collapse_repeats, converted)
    if getattr(funnel, "_parted", None) is not None:  # a Funnel fitted on a cjlib.engine.Partitioned log
        from cjlib.funnel.distributed import paths_around as _on_partitions

        return _on_partitions(funnel, step=step, event=event, between=between, direction=direction, depth=depth,
                              top=top, collapse_repeats=collapse_repeats, converted=converted)
    m: _Match = funnel._match
    part = _path_labels(m, step=step, event=event, between=between, direction=direction, depth=depth,
                        collapse_repeats=collapse_repeats, converted=converted)
    return _paths_result(part, m.prep.ev_cats, direction=direction, depth=depth, top=top,
                         collapse_repeats=collapse_repeats, converted=converted, unit=m.prep.unit_kind)


def _path_labels(m: _Match, *, step, event, between, direction, depth, collapse_repeats, converted) -> dict:
    """The units at the anchor as label rows (:func:`_labels_matrix`): ``lab``, ``conv`` (per unit: reached
    the last step), ``label``, ``kind``, ``reached`` (between: units that got there) and ``extra`` (the end
    label of ``between``), ``step_events``. Rows of partitions of complete units concatenate."""
    backward = direction == "backward"
    C = len(m.prep.ev_cats)
    reached, extra = None, []
    if between is not None:
        a, b = _transition(m, between[0], between[1])
        sp = _transition_spans(m, a, b)
        units, anchor, kind = sp.units, sp.start, "between"
        label = f"{m.prep.labels[a]} → {m.prep.labels[b]}"
        limit = anchor + 1
        np.maximum.at(limit, sp.owner, sp.rows + 1)
        extra = [f"(reached {m.prep.labels[b]})"]
        ends = np.where(sp.conv, C + 2, C + 1)
    else:
        if event is not None:
            label, units, anchor = _event_anchor(m, event)
            kind = "event"
        else:
            label, units, anchor = _step_anchor(m, step)
            kind = "step"
        lo, hi = _unit_bounds(m, units)
        limit = lo if backward else hi
        ends = np.full(len(units), C + 1, np.int64)
    if converted is not None:
        keep = (m.level[units] == len(m.prep.labels)) == bool(converted)
        units, anchor, limit, ends = units[keep], anchor[keep], limit[keep], ends[keep]
    if kind == "between":
        reached = int((ends == C + 2).sum())
    rows = _walk(m, anchor, limit, depth=depth, backward=backward, collapse=bool(collapse_repeats))
    return {"lab": _labels_matrix(m, rows, ends), "conv": m.level[units] == len(m.prep.labels), "label": label,
            "kind": kind, "reached": reached, "extra": extra, "step_events": _step_events(m)}


def _paths_result(part: dict, cats: np.ndarray, *, direction, depth, top, collapse_repeats, converted,
                  unit: str) -> PathsAround:
    """:class:`PathsAround` from :func:`_path_labels` (``cats``: the event names its labels index)."""
    backward = direction == "backward"
    C = len(cats)
    names = list(cats.astype(object)) + ["(unknown)", START if backward else END] + part["extra"]
    lab, conv, label = part["lab"], part["conv"], part["label"]
    group = None if converted is None else ("converted" if converted else "dropped")
    return PathsAround(
        paths=_path_table(lab, names, top=top, backward=backward, total=len(lab)),
        flows=_flow_table(lab, names, label, top, C + 1),
        matrix=_step_matrix(lab, names, C + 1),
        anchor=label, anchor_kind=part["kind"], anchor_units=len(lab), direction=direction, depth=int(depth),
        unit=unit, collapse_repeats=bool(collapse_repeats), group=group, reached=part["reached"],
        converted_units=int(conv.sum()), converted_matrix=_step_matrix(lab[conv], names, C + 1),
        dropped_matrix=_step_matrix(lab[~conv], names, C + 1), step_events=part["step_events"])


def _step_events(m: _Match) -> tuple:
    """Names of the events of the rows that satisfy some step."""
    codes = m.prep.ev_codes[m.prep.member.any(axis=1)]
    return tuple(str(x) for x in m.prep.ev_cats[np.unique(codes[codes >= 0])])


def event_paths(events: pd.DataFrame, event: str, *, direction: str = "forward", depth: int = 5, top: int = 10,
                collapse_repeats: bool = True, unit: str = "customer") -> PathsAround:
    """The paths of every unit after (or before) its first ``event``: :func:`paths_around` on a one-step funnel.

    Parameters
    ----------
    events : DataFrame
        The event log (``customer_id``, ``timestamp``, ``event``; ``session_id`` optional).
    event : str
        An event name of the data.
    direction, depth, top, collapse_repeats
        As in :func:`paths_around`.
    unit : {"customer", "session"}, default "customer"
        Paths per customer (their whole history) or per session.

    Returns
    -------
    PathsAround
        ``anchor_units`` is the number of units with the event.

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "a", "b"], "event": ["search", "product_view", "search", "search"],
    ...                    "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-01"])})
    >>> event_paths(ev, "product_view", direction="backward", depth=2).paths["path"].tolist()
    ['(start) > search']
    """
    from cjlib.funnel.fitted import Funnel

    check_events(events)
    check_choice("direction", direction, DIRECTIONS)
    cats = events["event"].astype("category").cat.categories
    if not isinstance(event, str) or event not in set(map(str, cats)):
        raise ValueError(f"event must be an event name in the data, got {event!r}")
    f = Funnel(events, [f"event:{event}"], unit=unit)
    return paths_around(f, event=event, direction=direction, depth=depth, top=top, collapse_repeats=collapse_repeats)


def step_matrix_difference(a: PathsAround | pd.DataFrame, b: PathsAround | pd.DataFrame) -> pd.DataFrame:
    """The step matrix of group ``a`` minus that of group ``b`` (share points; an event missing from one
    group counts 0 there).

    Parameters
    ----------
    a, b : PathsAround or DataFrame
        Two results of :func:`paths_around` from the same anchor, direction and depth (e.g.
        ``converted=True`` and ``converted=False``), or their :attr:`PathsAround.matrix`.

    Returns
    -------
    DataFrame
        Index ``event`` (the union, ``a``'s order first), columns ``position``; each column sums to 0.
        Empty when either group has no units.

    Examples
    --------
    >>> x = pd.DataFrame({1: [0.75, 0.25]}, index=pd.Index(["cart", "(end)"], name="event"))
    >>> y = pd.DataFrame({1: [0.5, 0.5]}, index=pd.Index(["(end)", "search"], name="event"))
    >>> step_matrix_difference(x, y)[1].to_dict()
    {'cart': 0.75, '(end)': -0.25, 'search': -0.5}
    """
    if isinstance(a, PathsAround) and isinstance(b, PathsAround):
        same = (a.anchor, a.direction, a.depth, a.unit, a.collapse_repeats) == \
            (b.anchor, b.direction, b.depth, b.unit, b.collapse_repeats)
        if not same:
            raise ValueError("a and b must come from the same anchor, direction, depth, unit and collapse_repeats")
    ma = a.matrix if isinstance(a, PathsAround) else a
    mb = b.matrix if isinstance(b, PathsAround) else b
    if list(ma.columns) != list(mb.columns):
        raise ValueError(f"a and b must have the same positions, got {list(ma.columns)} and {list(mb.columns)}")
    if ma.empty or mb.empty:
        return pd.DataFrame(index=pd.Index([], name="event", dtype=object), columns=ma.columns, dtype=float)
    idx = list(dict.fromkeys(list(ma.index) + list(mb.index)))
    out = ma.reindex(idx).fillna(0.0) - mb.reindex(idx).fillna(0.0)
    out.index.name, out.columns.name = "event", "position"
    return out
