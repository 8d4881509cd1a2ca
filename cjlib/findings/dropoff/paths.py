"""Sentences, chart titles and metrics of 03's "Paths around a step" (:func:`cjlib.funnel.paths_around`), each
earned by the numbers or not written: no commonest event or path from a tie or a group under ``min_units``,
no share of fewer than ``min_units`` units, no converters-against-droppers claim that chance explains."""

from __future__ import annotations

import pandas as pd

from cjlib.findings import leader, number, pct, rates_differ, share
from cjlib.findings.dropoff.sentences import unit_word

__all__ = ["paths_metrics", "paths_title", "step_matrix_title", "paths_titles", "paths_findings", "no_paths",
           "largest_step_gap"]

_OTHER_PATHS = "(other paths)"


def _is_label(name) -> bool:
    """A label the paths add (``(end)``, ``(start)``, ``(reached …)``, ``(other)``, ``(unknown)``), not an event."""
    return str(name).startswith("(") and str(name).endswith(")")


def _ordinal(k: int) -> str:
    k = int(k)
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _end_label(p) -> str:
    return "(start)" if p.direction == "backward" else "(end)"


def _first_position(p) -> pd.Series:
    """Units per label at position 1 (from the step matrix's shares)."""
    if p.matrix.empty:
        return pd.Series(dtype=float)
    return (p.matrix[1] * p.anchor_units).round()


def largest_step_gap(p, *, min_units: int = 30, alpha: float = 0.05, tolerance: float = 1e-9) -> dict | None:
    """The event and position where converters' and droppers' step matrices differ most, when it is earned.

    Events that satisfy a funnel step are left out (converters do them by definition, so their gap says
    nothing new). Earned when both groups have at least ``min_units`` units, one cell (an event, not an end
    label) has the largest absolute difference (no tie within ``tolerance``), and the two shares differ beyond chance (two-
    proportion test at ``alpha`` divided by the number of cells compared, a Bonferroni bound for picking the
    largest of many).

    Parameters
    ----------
    p : PathsAround
        A :func:`cjlib.funnel.paths_around` result (unfiltered, so it holds both groups).
    min_units : int, default 30
        Smallest group compared.
    alpha : float, default 0.05
        Family-wise significance level.
    tolerance : float, default 1e-9
        Differences closer than this tie.

    Returns
    -------
    dict or None
        ``event``, ``position``, ``difference`` (converters − droppers), ``converted_share``,
        ``dropped_share``, ``converted_units``, ``dropped_units``.
    """
    nc = int(p.converted_units)
    nd = int(p.anchor_units) - nc
    if nc < max(min_units, 1) or nd < max(min_units, 1):
        return None
    diff = p.outcome_difference
    diff = diff.loc[[i for i in diff.index if not _is_label(i) and i not in set(p.step_events)]]
    if diff.empty:
        return None
    stacked = diff.stack()
    mag = stacked.abs().sort_values(ascending=False, kind="stable")
    if len(mag) > 1 and mag.iloc[0] - mag.iloc[1] <= tolerance or mag.iloc[0] <= tolerance:
        return None
    event, pos = mag.index[0]
    a = float(p.converted_matrix[pos].get(event, 0.0))
    b = float(p.dropped_matrix[pos].get(event, 0.0))
    if not rates_differ(a, nc, b, nd, alpha=alpha / max(len(stacked), 1)):
        return None
    return {"event": str(event), "position": int(pos), "difference": a - b, "converted_share": a,
            "dropped_share": b, "converted_units": nc, "dropped_units": nd}


def paths_metrics(p, *, top: int = 5, min_units: int = 30) -> dict:
    """What the section records (prefixed ``paths_``): the anchor, direction, depth, unit, units at the anchor
    and among them converters, the share whose path stops at once, the top paths, and the earned largest gap
    between converters' and droppers' step matrices.

    Parameters
    ----------
    p : PathsAround
        A :func:`cjlib.funnel.paths_around` result.
    top : int, default 5
        Paths recorded (``"(other paths)"`` is never one).
    min_units : int, default 30
        As in :func:`largest_step_gap`.

    Returns
    -------
    dict
        JSON-serializable; ``paths_end_share`` is ``None`` without units.

    Examples
    --------
    >>> from cjlib.funnel import Funnel, paths_around
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "event": ["search", "purchase", "search"],
    ...                    "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01"])})
    >>> m = paths_metrics(paths_around(Funnel(ev, ["search", "event:purchase"]), depth=2))
    >>> m["paths_anchor_units"], m["paths_end_share"], m["paths_top"][0]
    (2, 0.5, {'path': '(end)', 'units': 1, 'share': 0.5})
    """
    first = _first_position(p)
    end = first.get(_end_label(p), 0.0)
    rows = p.paths[p.paths["path"] != _OTHER_PATHS].head(top)
    return {
        "paths_anchor": p.anchor,
        "paths_direction": p.direction,
        "paths_depth": int(p.depth),
        "paths_unit": p.unit,
        "paths_anchor_units": int(p.anchor_units),
        "paths_converted_units": int(p.converted_units),
        "paths_end_share": float(end / p.anchor_units) if p.anchor_units else None,
        "paths_top": [{"path": str(r.path), "units": int(r.units), "share": float(r.share)}
                      for r in rows.itertuples(index=False)],
        "paths_largest_gap": largest_step_gap(p, min_units=min_units),
    }


def paths_title(p, *, min_units: int = 30) -> str | None:
    """Title of the flow chart: the share of units whose path stops at once, and the commonest first event
    when one leads (among events of ``min_units`` units or more).

    Parameters
    ----------
    p : PathsAround
        A :func:`cjlib.funnel.paths_around` result.
    min_units : int, default 30
        Smallest number of units a share is taken of, and an event needs to be named the commonest.

    Returns
    -------
    str or None
        ``None`` without units.
    """
    n = int(p.anchor_units)
    if n < 1:
        return None
    units = unit_word(p.unit, n)
    fwd = p.direction == "forward"
    first = _first_position(p)
    if p.anchor_kind == "between":
        a, b = p.anchor.split(" → ", 1)
        got = share(p.reached, n, min_total=min_units)
        head = (f"{pct(got)} of the {number(n)} {units} at {a} reach {b}" if got is not None
                else f"The events of the {number(n)} {units} at {a} on the way to {b}")
        where = f"after {a}"
    else:
        end = share(first.get(_end_label(p), 0.0), n, min_total=min_units)
        if end is None or end < 0.005:  # "0% have no further event" says nothing
            head = f"The {'next' if fwd else 'previous'} {p.depth} events of the {number(n)} {units} at {p.anchor}"
        elif fwd:
            head = f"{pct(end)} of the {number(n)} {units} at {p.anchor} have no further event"
        else:
            head = f"For {pct(end)} of the {number(n)} {units} at {p.anchor} it is their first event"
        where = "after it" if fwd else "right before it"
    events = first[[not _is_label(i) for i in first.index]]
    top = leader(events, events, min_size=min_units)
    if top is None:
        return head
    return f"{head}; the commonest event {where} is {top[0]} ({pct(top[1] / n)})"


def step_matrix_title(p, *, min_units: int = 30) -> str | None:
    """Title of the converters − droppers heatmap: the largest earned gap (:func:`largest_step_gap`), else a
    plain description; ``None`` when a group has no units (nothing to compare).

    Parameters
    ----------
    p : PathsAround
        A :func:`cjlib.funnel.paths_around` result.
    min_units : int, default 30
        As in :func:`largest_step_gap`.

    Returns
    -------
    str or None
    """
    nc = int(p.converted_units)
    nd = int(p.anchor_units) - nc
    if nc < 1 or nd < 1:
        return None
    where = "after" if p.direction == "forward" else "before"
    anchor = p.anchor.split(" → ", 1)[0] if p.anchor_kind == "between" else p.anchor
    gap = largest_step_gap(p, min_units=min_units)
    if gap is None:
        return (f"Converters ({number(nc)}) against droppers ({number(nd)}) by position {where} {anchor}: "
                f"besides the funnel's own steps, no single gap stands out")
    more = "more" if gap["difference"] > 0 else "less"
    return (f"Besides the funnel's own steps, converters' {_ordinal(gap['position'])} event {where} {anchor} is "
            f"{gap['event']} {more} often than droppers' ({pct(gap['converted_share'])} against "
            f"{pct(gap['dropped_share'])})")


def paths_titles(p, *, min_units: int = 30) -> tuple[str | None, str | None]:
    """Both titles of :func:`cjlib.plots.paths.paths_figure`; when converters and droppers cannot be compared
    (one group is empty), the flow chart's title says so and the second is ``None``.

    Parameters
    ----------
    p : PathsAround
        A :func:`cjlib.funnel.paths_around` result.
    min_units : int, default 30
        As in :func:`paths_title` and :func:`step_matrix_title`.

    Returns
    -------
    tuple of (str or None, str or None)
    """
    flow, matrix = paths_title(p, min_units=min_units), step_matrix_title(p, min_units=min_units)
    if flow is not None and matrix is None:
        who = "converted" if p.converted_units == 0 else "dropped"
        flow += f"; no {unit_word(p.unit, 1)} {who}, so converters and droppers are not compared"
    return flow, matrix


def paths_findings(p, *, min_units: int = 30) -> str:
    """How to read the paths, and the commonest path when one leads.

    Parameters
    ----------
    p : PathsAround
        A :func:`cjlib.funnel.paths_around` result.
    min_units : int, default 30
        Units a path needs to be named the commonest.

    Returns
    -------
    str
    """
    n = int(p.anchor_units)
    if n < 1:
        return no_paths(p)
    unit, units = p.unit, unit_word(p.unit, n)
    runs = ", each run of a repeated event shown once" if p.collapse_repeats else ""
    if p.anchor_kind == "between":
        a, b = p.anchor.split(" → ", 1)
        text = (f"The first {p.depth} events between {a} and {b} of each of the {number(n)} {units} at {a}{runs}; "
                f"`(reached {b})`: the {unit} got to {b}, `(end)`: it had no more events in the funnel's window.")
    else:
        side, what = ("next", "after") if p.direction == "forward" else ("previous", "before")
        count = "the funnel's count at that step" if p.anchor_kind == "step" else "each at its first such event"
        end = "`(end)`: the {} had no more events" if p.direction == "forward" else "`(start)`: the {} had no earlier event"
        text = (f"The {side} {p.depth} events {what} {p.anchor} of each of the {number(n)} {units} there ({count})"
                f"{runs}; {end.format(unit)}.")
    named = p.paths[p.paths["path"] != _OTHER_PATHS].set_index("path")["units"]
    top = leader(named, named, min_size=min_units)
    if top is not None:
        said = f"{number(top[1])} {unit_word(unit, int(top[1]))}, {pct(top[1] / n)}"
        if top[0] in ("(end)", "(start)"):
            none = {"step": ": no further event", "event": ": no further event", "between": ""}[p.anchor_kind]
            none = ": no earlier event" if top[0] == "(start)" else none
            text += f" The commonest path is none at all{none} ({said})."
        else:
            text += f" The commonest path is {top[0]} ({said})."
    return text


def no_paths(p) -> str:
    """Why there are no paths: no unit at the anchor.

    Parameters
    ----------
    p : PathsAround
        A :func:`cjlib.funnel.paths_around` result without units.

    Returns
    -------
    str
    """
    anchor = p.anchor.split(" → ", 1)[0] if p.anchor_kind == "between" else p.anchor
    verb = "has the event" if p.anchor_kind == "event" else "reached"
    return f"no {p.unit} {verb} {anchor}, so there are no paths around it."

