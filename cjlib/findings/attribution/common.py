"""Guards shared by the sentences of 02 (material differences, clear leaders, spreads) and the way a section
that cannot run is said (:func:`leave_out`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cjlib.findings import (
    is_number,
    number,
    ranking,
    see_above,
)

MIN_CONVERSIONS = 30  # fewest attributed conversions a share, a leader or a cost may be stated from


MATERIAL = 1.1  # two numbers differ materially when the larger is at least this many times the smaller


HANDFUL = 5  # attributed conversions: a gap smaller than this is not a difference worth a sentence


def transition_label(t: str) -> str:
    """``"awareness>consideration"`` or ``"awareness > consideration"`` → ``"awareness → consideration"``.

    Parameters
    ----------
    t : str
        A transition, ``"a>b"`` or ``"a > b"``.

    Returns
    -------
    str
    """
    a, _, b = str(t).partition(">")
    return f"{a.strip()} → {b.strip()}"


def _source(t: str) -> str:
    return str(t).partition(">")[0].strip()


def _stage_name(stage: str) -> str:
    return "Touchpoints of no stage" if stage == "(other)" else f"{stage[:1].upper()}{stage[1:]} touchpoints"


def _differ(a, b, *, gap: float = 0.0, ratio: float = MATERIAL) -> bool:
    """Whether ``a`` and ``b`` (non-negative) differ materially: the larger is at least ``ratio`` times the
    smaller and at least ``gap`` above it (a zero against a positive number differs when the gap holds)."""
    if not (is_number(a) and is_number(b)):
        return False
    lo, hi = sorted((float(a), float(b)))
    return hi - lo >= gap and hi > 0 and (lo <= 0 or hi / lo >= ratio)


def _clear_leader(values: pd.Series, sizes=None, *, min_size: float = 0, gap: float = 0.0,
                  ratio: float = MATERIAL) -> tuple[str, float] | None:
    """The one group whose value leads every other eligible group materially (see :func:`_differ`)."""
    v = pd.to_numeric(pd.Series(values), errors="coerce").astype(float)
    v = v[np.isfinite(v.to_numpy())]
    if sizes is not None:
        v = v[pd.to_numeric(pd.Series(sizes).reindex(v.index), errors="coerce").fillna(0) >= min_size]
    if len(v) < 2:
        return None
    top = v.sort_values(ascending=False, kind="stable")
    if not _differ(top.iloc[0], top.iloc[1], gap=gap, ratio=ratio):
        return None
    return str(top.index[0]), float(top.iloc[0])


def _spread(values: pd.Series, sizes=None, *, min_size: float = 0, digits: int = 2, gap: float = 0.0,
            higher_is_better: bool = True):
    """A :func:`ranking` whose ends differ materially and do not print alike (``digits``), else ``None``."""
    r = ranking(values, sizes, min_size=min_size, higher_is_better=higher_is_better, tolerance=0.5 * 10 ** -digits)
    if r is None or r.best is None or r.worst is None or not _differ(r.best_value, r.worst_value, gap=gap):
        return None
    return r


def _most(values: pd.Series, *, tolerance: float, largest: bool = True) -> str | None:
    """The one label with the largest (smallest) value among ``values`` (already filtered to the eligible
    ones): the only one, or a leader no other comes within ``tolerance`` of."""
    v = values.dropna()
    if len(v) == 1:
        return str(v.index[0])
    r = ranking(v, min_size=0, higher_is_better=largest, tolerance=tolerance) if len(v) else None
    return None if r is None or r.best is None else str(r.best)


def _range(lo, hi, fmt: str = ",.0f") -> str:
    """``"60–70"``, or one number when both ends print alike."""
    a, b = number(lo, fmt), number(hi, fmt)
    return a if a == b else f"{a}–{b}"


def _alike(frame: pd.DataFrame, *, gap: float = HANDFUL) -> str | None:
    """How every row's values (columns: models) agree: ``"the same"`` when they print alike, ``"alike"``
    when none differs materially (:func:`_differ` with ``gap``), else ``None``."""
    if frame.empty or not np.isfinite(frame.to_numpy(float)).all():
        return None
    lo, hi = frame.min(axis=1), frame.max(axis=1)
    if all(number(a) == number(b) for a, b in zip(lo, hi)):
        return "the same"
    return None if any(_differ(a, b, gap=gap) for a, b in zip(lo, hi)) else "alike"


def said_above(section: str) -> str:
    """The one sentence under a section heading whose reason :func:`channel_left_out` gave once above.

    Parameters
    ----------
    section : str
        The section's name.

    Returns
    -------
    str

    Examples
    --------
    >>> said_above("model comparison")
    '*Not shown (model comparison):* see why under *Journeys built from the log* above.'
    """
    return see_above(section, "Journeys built from the log")


def channel_left_out(reasons: Mapping[str, str], *, group: str = "channel attribution") -> tuple[list[tuple[str, str]], set[str]]:
    """Sections left out for one shared reason, said once for the group.

    Parameters
    ----------
    reasons : mapping
        Section name → why it cannot run ('' when it can), in report order.
    group : str
        What the sections together are ("channel attribution").

    Returns
    -------
    (list of (section, reason), set of str)
        For each reason shared by two or more sections, one ``(f"{group} (sec1, sec2, …)", reason)`` for
        :func:`cjlib.report.left_out`; and the sections that entry covers (each says nothing more).

    Examples
    --------
    >>> groups, covered = channel_left_out({"model comparison": "No channel.", "stage attribution": "No channel.",
    ...                                     "cost per conversion": ""})
    >>> groups, sorted(covered)
    ([('channel attribution (model comparison, stage attribution)', 'No channel.')], ['model comparison', 'stage attribution'])
    """
    by_reason: dict[str, list[str]] = {}
    for section, why in reasons.items():
        if why:
            by_reason.setdefault(why, []).append(section)
    groups = [(f"{group} ({', '.join(secs)})", why) for why, secs in by_reason.items() if len(secs) > 1]
    covered = {sec for why, secs in by_reason.items() if len(secs) > 1 for sec in secs}
    return groups, covered


# what 02 records per section and says where a section cannot run: one call per section in the notebook

# section key of channel_left_out → (name report.left_out gives it, name said_above gives it; None: nothing)
_SECTIONS = {
    "journey summary": ("journey summary", None),
    "model comparison": ("model comparison", "model comparison"),
    "transitions": ("transition heatmap", "transition probabilities"),
    "stage attribution": ("stage attribution", "stage attribution"),
    "channel effects": ("channel-effect estimate", "channel effects"),
    "stage contribution": ("stage contribution", None),
    "cost per conversion": ("cost per conversion", "cost per conversion"),
}


def left_out_once(reasons: Mapping[str, str]) -> set[str]:
    """:func:`cjlib.report.left_out` once for each reason that two or more sections share
    (:func:`channel_left_out`); returns the sections it covered, for :func:`leave_out`.

    Parameters
    ----------
    reasons : mapping
        Section → why it cannot run ('' when it can), in report order.

    Returns
    -------
    set of str
    """
    from cjlib import report

    groups, covered = channel_left_out(reasons)
    for section, reason in groups:
        report.left_out(section, reason)
    return covered


def leave_out(section: str, reason: str, covered: set[str] | frozenset[str] = frozenset()) -> None:
    """Say in the report that ``section`` is not shown: :func:`cjlib.report.left_out` with ``reason``, or,
    when the reason was already said once for the group (``covered`` of :func:`channel_left_out`), only
    :func:`said_above` (the journey summary then says nothing more).

    Parameters
    ----------
    section : str
        One of ``journey summary``, ``model comparison``, ``transitions``, ``stage attribution``,
        ``channel effects``, ``stage contribution``, ``cost per conversion``.
    reason : str
        Why it cannot run, one sentence.
    covered : set of str
        The sections whose reason :func:`channel_left_out` gave for the group.

    Returns
    -------
    None
        Writes to the report.
    """
    from cjlib import report

    if section not in _SECTIONS:
        raise ValueError(f"section must be one of {list(_SECTIONS)}, got {section!r}")
    name, said_as = _SECTIONS[section]
    if section not in covered:
        report.left_out(name, reason)
    elif said_as is not None:
        report.finding(said_above(said_as))
