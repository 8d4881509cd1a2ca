"""A fitted funnel: the matcher runs once, every analysis of the same funnel reads its match.

``Funnel(events, steps, window=..., mode=..., unit=...)`` is what a report does when it asks several
questions of one funnel (the table, segments, drivers, flows, friction, time to convert, cohorts): the
one-call functions of :mod:`cjlib.funnel` each match the log again, the methods here do not, and give
exactly what those functions give.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from cjlib.funnel import distributed as _on_partitions
from cjlib.funnel.distributed import is_partitioned
from cjlib.funnel.flows import DropoffFlows, Friction, _flows, _friction
from cjlib.funnel.matching import _Match, _run, _transition, _unit_frame
from cjlib.funnel.segments import Drivers, _compare, _drivers
from cjlib.funnel.tables import _check_by, _cohorts, _segment_values, _table, _time_to_convert
from cjlib.stagemap import StageMap
from cjlib.stats import holm
from cjlib.validation import resolve_stage_map

__all__ = ["Funnel"]


def _required_view(m: _Match) -> _Match:
    """The match seen through its required steps only (optional steps dropped, ``level`` renumbered):
    segment comparison, drivers, flows and friction read transitions between required steps."""
    if not any(m.optional):
        return m
    K = len(m.optional)
    req = [k for k in range(K) if not m.optional[k]]
    lut = np.zeros(K + 1, np.int64)
    lut[np.asarray(req) + 1] = np.arange(1, len(req) + 1)
    prep = replace(m.prep, member=np.asfortranarray(m.prep.member[:, req]), labels=[m.prep.labels[k] for k in req],
                   steps=[m.prep.steps[k] for k in req])
    entry = np.where(m.entry_step >= 0, lut[m.entry_step + 1] - 1, -1)
    return replace(m, prep=prep, level=lut[m.level], pos=m.pos[:, req], done=m.done[:, req], optional=(),
                   exclusions=(), entry=entry)


def _compare_open(m: _Match, col: str, **kw) -> pd.DataFrame:
    """:func:`_compare` for an open funnel: each transition counts the units at its from-step only (a unit
    that entered later is not at it), Holm's correction over all transitions as :func:`_compare` does."""
    from_step, to_step, alpha = kw.pop("from_step"), kw.pop("to_step"), kw.pop("alpha")
    K = len(m.prep.labels)
    if from_step is None and to_step is None:
        if K < 2:
            raise ValueError("steps: segment comparison needs at least 2 steps")
        pairs = [(k - 1, k) for k in range(1, K)]
    else:
        pairs = [_transition(m, from_step, to_step)]
    parts = [_compare(replace(m, level=np.where(m.pos[:, a] >= 0, m.level, 0)), col, from_step=a + 1,
                      to_step=b + 1, alpha=alpha, **kw) for a, b in pairs]
    out = pd.concat(parts, ignore_index=True)
    out["p_adjusted"] = holm(out["p_value"].to_numpy())
    out["significant"] = out["p_adjusted"].to_numpy() < alpha
    return out


class Funnel:
    """One funnel matched once over an event log (the rules of :mod:`cjlib.funnel`).

    Parameters
    ----------
    events : DataFrame or cjlib.engine.Partitioned
        The event log as :func:`cjlib.load_events` returns it; segment columns that :meth:`table` or
        :meth:`compare` break down by must be columns of it. A log shuffled by customer
        (:class:`cjlib.engine.Partitioned`) is matched on its partitions (:mod:`cjlib.funnel.distributed`):
        the report's process keeps per-unit results only, and every method gives what it gives in process.
    steps : list
        Event names, stage names or lists of names (any of which satisfies the step).
    window : str, Timedelta or None, default None
        Conversion window from each attempt's step-1 event, inclusive; ``None`` is unbounded.
    mode : {"ordered", "strict", "any"}, default "ordered"
    unit : {"customer", "session"}, default "customer"
    stage_map : StageMap or path, optional
        Default ``data/stage_map.yml``.
    optional : list of int or str, optional
        Optional steps (1-based numbers or labels), besides steps written ``"name?"``.
    exclude : str, list or tuple, optional
        Exclusion events: names, or ``(names, from_step, to_step)`` tuples (:mod:`cjlib.funnel`).
    open : bool, default False
        Units may enter at any step.

    Notes
    -----
    With optional steps, :meth:`compare`, :meth:`drivers`, :meth:`flows` and :meth:`friction` read the
    transitions between required steps (an optional step is not a place one drops off; its events are
    candidate drivers, so :meth:`drivers` says whether doing it goes with converting); :meth:`table`,
    :meth:`units`, :meth:`time_to_convert` and :meth:`cohorts` show every step. In an open funnel a
    transition counts the units at its from-step (entered there or earlier).

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "event": ["product_view", "purchase", "product_view"],
    ...                    "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01"])})
    >>> f = Funnel(ev, ["product_view", "event:purchase"], window="7D")
    >>> f.labels
    ['product_view', 'purchase']
    >>> f.table()["reached"].tolist()
    [2, 1]
    >>> f.time_to_convert()["hours"].tolist()
    [24.0]

    Funnel options: ``c`` enters the open funnel at its cart; ``a`` skips the optional search.

    >>> ev = pd.DataFrame({"customer_id": list("aabcc"), "event": ["product_view", "add_to_cart", "product_view",
    ...                    "add_to_cart", "purchase"], "timestamp": pd.date_range("2025-01-01", periods=5, freq="h")})
    >>> t = Funnel(ev, ["product_view", "search?", "add_to_cart", "event:purchase"], open=True).table()
    >>> t[["step", "optional", "reached", "entered_here", "conversion_from_previous"]].values.tolist()
    [['product_view', False, 2, 2, nan], ['search', True, 0, 0, 0.0], ['add_to_cart', False, 2, 1, 0.5], ['purchase', False, 1, 0, 0.5]]
    """

    __slots__ = ("_match", "_stage_map", "_window", "_exclude", "_parted")

    def __init__(self, events: pd.DataFrame, steps: Sequence, *, window=None, mode: str = "ordered",
                 unit: str = "customer", stage_map: StageMap | None = None, optional=None, exclude=None,
                 open: bool = False) -> None:
        sm = resolve_stage_map(stage_map)
        self._parted = None  # fitted on a cjlib.engine.Partitioned log: what its event-level methods rerun
        if is_partitioned(events):
            self._match, self._parted = _on_partitions.fit(events, steps, window=window, mode=mode, unit=unit,
                                                           stage_map=sm, optional=optional, exclude=exclude, open=open)
        else:
            self._match: _Match = _run(events, steps, window, mode, unit, sm, optional=optional, exclude=exclude,
                                       open=open)
        self._stage_map = sm
        self._window = window
        self._exclude = exclude

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in (("optional", self.optional), ("exclude", self._exclude),
                                                    ("open", self.open)) if v)
        return (f"Funnel(steps={self.labels!r}, window={self._window!r}, mode={self.mode!r}, unit={self.unit!r}"
                f"{opts}, units={len(self._match.level)})")

    @property
    def optional(self) -> list[str]:
        """The labels of the optional steps (empty when every step is required)."""
        return [lab for lab, o in zip(self._match.prep.labels, self._match.optional) if o]

    @property
    def open(self) -> bool:
        """Whether units may enter at any step."""
        return self._match.open

    @property
    def options(self) -> dict:
        """The funnel options in words' terms: ``optional`` (labels), ``exclusions`` (as :attr:`exclusions`)
        and ``open``; a caption takes them as keyword arguments."""
        return {"optional": self.optional, "exclusions": self.exclusions, "open": self.open}

    @property
    def exclusions(self) -> list[tuple]:
        """The exclusions as ``(names, from_label, to_label)``: events that stop an attempt between those steps."""
        labels = self._match.prep.labels
        return [(list(names), labels[lo], labels[hi]) for names, lo, hi in self._match.exclusions]

    @property
    def labels(self) -> list[str]:
        """The step labels (lists joined with ``" | "``, repeated labels suffixed ``" (2)"``)."""
        return list(self._match.prep.labels)

    @property
    def mode(self) -> str:
        """The matching mode."""
        return self._match.mode

    @property
    def unit(self) -> str:
        """``"customer"`` or ``"session"``."""
        return self._match.prep.unit_kind

    @property
    def window(self):
        """The conversion window as given (``None`` is unbounded)."""
        return self._window

    @property
    def units_total(self) -> int:
        """Units in the data, including those that never reach step 1 (for a rate over all units)."""
        return len(self._match.level)

    def units_by(self, by: str | Sequence[str]) -> pd.Series:
        """Units in the data per segment of ``by`` (the value on the unit's first step-1 event, else its
        first event; units with a missing value are left out), named ``units``, indexed by the levels.

        Parameters
        ----------
        by : str or list of str
            Segment column(s) of the events the funnel was fitted on.

        Returns
        -------
        Series
        """
        cols = _check_by(by, self._match.prep.ev)
        seg = _segment_values(self._match, cols)
        return seg.groupby(cols if len(cols) > 1 else cols[0], sort=True).size().rename("units")

    def units(self) -> pd.DataFrame:
        """Per unit, the furthest step and the completion times: :func:`cjlib.funnel.funnel_units`.

        Returns
        -------
        DataFrame
            As :func:`cjlib.funnel.funnel_units`.
        """
        return _unit_frame(self._match)

    def table(self, by: str | Sequence[str] | None = None) -> pd.DataFrame:
        """The funnel table, per segment of ``by`` when given: :func:`cjlib.funnel.funnel`.

        Parameters
        ----------
        by : str or list of str, optional
            Segment column(s) of the events the funnel was fitted on.

        Returns
        -------
        DataFrame
            As :func:`cjlib.funnel.funnel`.
        """
        cols = _check_by(by, self._match.prep.ev) if by is not None else []
        return _table(self._match, cols, self._window)

    def compare(self, by: str, *, from_step=None, to_step=None, control=None, confidence: float = 0.95,
                alpha: float = 0.05) -> pd.DataFrame:
        """Conversion per level of ``by`` with intervals and Holm-corrected tests:
        :func:`cjlib.funnel.compare_segments`.

        Parameters
        ----------
        by : str
            A segment column of the events the funnel was fitted on.
        from_step, to_step, control, confidence, alpha
            As in :func:`cjlib.funnel.compare_segments`.

        Returns
        -------
        DataFrame
        """
        cols = _check_by(by, self._match.prep.ev)
        if len(cols) != 1:
            raise ValueError("by must be a single column name for compare_segments")
        m = _required_view(self._match)
        compare = _compare_open if m.open else _compare
        return compare(m, cols[0], from_step=from_step, to_step=to_step, control=control, confidence=confidence,
                       alpha=alpha)

    def drivers(self, *, from_step=None, to_step=None, min_support: int = 30,
                exclude_step_events: bool = True) -> Drivers:
        """Events that go with converting or dropping: :func:`cjlib.funnel.dropoff_drivers`.

        Parameters
        ----------
        from_step, to_step, min_support, exclude_step_events
            As in :func:`cjlib.funnel.dropoff_drivers`.

        Returns
        -------
        Drivers
        """
        if self._parted is not None:
            return _on_partitions.drivers(self, from_step=from_step, to_step=to_step, min_support=min_support,
                                          exclude_step_events=exclude_step_events)
        return _drivers(_required_view(self._match), from_step=from_step, to_step=to_step, min_support=min_support,
                        exclude_step_events=exclude_step_events)

    def flows(self, *, depth: int = 3, top: int = 10) -> DropoffFlows:
        """Where the droppers go next: :func:`cjlib.funnel.where_droppers_go`.

        Parameters
        ----------
        depth, top
            As in :func:`cjlib.funnel.where_droppers_go`.

        Returns
        -------
        DropoffFlows
        """
        if self._parted is not None:
            return _on_partitions.flows(self, depth=depth, top=top)
        return _flows(_required_view(self._match), depth=depth, top=top)

    def friction(self, *, error_events: str | Sequence[str] | None = None, long_dwell=None) -> Friction:
        """Loops, errors and long dwell per transition: :func:`cjlib.funnel.friction`.

        Parameters
        ----------
        error_events, long_dwell
            As in :func:`cjlib.funnel.friction`.

        Returns
        -------
        Friction
        """
        if self._parted is not None:
            return _on_partitions.friction(self, error_events=error_events, long_dwell=long_dwell)
        return _friction(_required_view(self._match), self._stage_map, error_events=error_events, long_dwell=long_dwell)

    def time_to_convert(self, *, from_step=None, to_step=None) -> pd.DataFrame:
        """Time from ``from_step`` to ``to_step`` per converting unit: :func:`cjlib.funnel.time_to_convert`.

        Parameters
        ----------
        from_step, to_step
            As in :func:`cjlib.funnel.time_to_convert`.

        Returns
        -------
        DataFrame
        """
        return _time_to_convert(self._match, from_step, to_step)

    def cohorts(self, *, freq: str = "W", to_step=None, confidence: float = 0.95) -> pd.DataFrame:
        """Conversion by entry cohort: :func:`cjlib.funnel.conversion_by_cohort`.

        Parameters
        ----------
        freq : {"W", "M", "MS"}, default "W"
        to_step, confidence
            As in :func:`cjlib.funnel.conversion_by_cohort`.

        Returns
        -------
        DataFrame
        """
        return _cohorts(self._match, freq, to_step, confidence)

    def paths(self, *, step=None, event=None, between=None, direction: str = "forward", depth: int = 5,
              top: int = 10, collapse_repeats: bool = True, converted=None):
        """Paths around a step, an event or between two steps: :func:`cjlib.funnel.paths_around`.

        Parameters
        ----------
        step, event, between, direction, depth, top, collapse_repeats, converted
            As in :func:`cjlib.funnel.paths_around`.

        Returns
        -------
        PathsAround
        """
        from cjlib.funnel.paths import paths_around  # paths imports this module

        return paths_around(self, step=step, event=event, between=between, direction=direction, depth=depth,
                            top=top, collapse_repeats=collapse_repeats, converted=converted)

    def compare_periods(self, *, freq="30D", end=None, confidence: float = 0.95):
        """This period against the last: :func:`cjlib.funnel.compare_periods`.

        Parameters
        ----------
        freq, end, confidence
            As in :func:`cjlib.funnel.compare_periods`.

        Returns
        -------
        PeriodComparison
        """
        from cjlib.funnel.periods import compare_periods  # periods imports this module

        return compare_periods(self, freq=freq, end=end, confidence=confidence)
