"""The report's conversion window fitted to the journey: ``window="auto"`` reaches the journey's last step.

A 30-day window is the common default of funnel tools, and the data profile widens it when the typical
customer takes longer to convert. Neither looks at the funnel's own last step: on a subscription
(install → trial → subscribe → a renewal a month later) no customer can renew within 30 days of
installing, and the funnel would show a drop-off that only the window made. :func:`fit_window` matches the
funnel once with no time limit and measures, for each step, how long the units that reached it took from
step 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from cjlib.validation import duration

QUANTILE = 0.95  # the share of the units reaching the last step that the fitted window holds
MIN_REACHED = 20  # fewer units reaching the last step: too few to fit a window to, the default stays
KEEP_SHARE = 0.9  # "auto" keeps the default when it already holds this share of the units reaching the last step
SPAN_SHARE = 0.5  # a fitted window is at most this share of the data's span, so most entrants' windows close


@dataclass(frozen=True)
class WindowChoice:
    """The funnel's conversion window and why (:func:`fit_window`).

    Attributes
    ----------
    window : str or None
        The window the funnel uses (``None``: no time limit).
    asked : str
        The ``window`` parameter as written (``"auto"``, a duration, or ``""``).
    default : str or None
        With ``"auto"``: the data profile's window (30 days unless converting takes longer), the floor.
    fitted : bool
        ``"auto"`` widened the default to reach the last step.
    capped : bool
        The fitted window was cut to half the data's span (``cap``).
    cap : str or None
        Half the data's span in whole days (``"auto"`` only; None without a profile).
    absent : tuple of str
        Steps no event of the log can match (:func:`cjlib.funnel.absent_steps`; empty without a profile):
        nobody reaches them for want of data, not by dropping out.
    dropped : tuple of str
        When ``steps`` are the stage map's default journey cut short: the stages after them, none of whose
        events occur in the log (:func:`cjlib.funnel.report_steps` left them out).
    unit : str
        ``"customer"`` or ``"session"``.
    reach : DataFrame
        One row per step after the first: ``step``, ``reached`` (units reaching it with no time limit),
        ``within`` (of those, within ``window`` of step 1; all of them when there is no window),
        ``within_default`` (within ``default``; NaN without one), ``days_q`` (the 95th percentile of
        the days from step 1, NaN when nobody reached it).
    """

    window: str | None
    asked: str
    default: str | None
    fitted: bool
    unit: str
    first_step: str
    reach: pd.DataFrame
    capped: bool = False
    cap: str | None = None
    absent: tuple = ()
    dropped: tuple = ()

    @property
    def unfitted(self) -> str | None:
        """The window before any widening: the default with ``"auto"``, else the window as given. A
        checkout funnel takes this one: a checkout is a visit's few steps, not the whole journey."""
        return self.default if self.fitted else self.window

    @property
    def last(self) -> pd.Series:
        """The ``reach`` row of the last step."""
        return self.reach.iloc[-1]

    @property
    def short_step(self) -> pd.Series | None:
        """The first step most of whose reachers (more than half) reached it outside the window, else None."""
        r = self.reach
        bad = r[(r["reached"] > 0) & (2 * r["within"] < r["reached"])]
        return None if bad.empty else bad.iloc[0]


def _days(td: pd.Timedelta) -> str:
    return f"{max(1, math.ceil(td / pd.Timedelta(days=1)))}D"


def fit_window(events, steps: Sequence, *, window: str = "auto", profile=None, stage_map=None,
               mode: str = "ordered", unit: str = "customer", exclude=None, open: bool = False) -> WindowChoice:
    """The funnel's conversion window: ``"auto"`` fits it to the journey's last step; a duration stays as given.

    The funnel is matched once with no time limit. With ``"auto"`` the window is the data profile's
    (``profile.default_window()``: 30 days unless converting takes longer), widened to the 95th percentile
    of the time from step 1 to the last step among the units that reach it (whole days) when that is
    longer, at least 20 units reach it and the default holds fewer than 90 % of them, but at most half the data's span (``profile.span_days``), so that
    most units entering the funnel have their whole window inside the data. A window given as a duration is kept; ``reach`` then says how
    many of the units reaching each step did so inside it. ``""`` is no time limit.

    Parameters
    ----------
    events : DataFrame or Partitioned
        The loaded log.
    steps : list
        The funnel's steps (as :func:`cjlib.funnel.funnel` takes them).
    window : str, default "auto"
        The report's ``window`` parameter: ``"auto"``, a duration (``"7D"``) or ``""``.
    profile : DataProfile, optional
        ``data.profile``; without one the default is 30 days.
    stage_map : StageMap or path, optional
        As in :func:`cjlib.funnel.funnel`.
    mode, unit, exclude, open
        As in :class:`cjlib.funnel.Funnel`.

    Returns
    -------
    WindowChoice

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"customer_id": [1, 1, 2, 2, 3, 3], "event": ["a", "b"] * 3,
    ...                    "timestamp": pd.to_datetime(["2024-01-01", "2024-03-01"] * 2 + ["2024-01-01", "2024-01-02"])})
    >>> w = fit_window(ev, ["a", "b"], window="7D")
    >>> w.window, w.short_step["step"], int(w.last["reached"]), int(w.last["within"])
    ('7D', 'b', 3, 1)
    >>> fit_window(ev, ["a", "b"], window="auto").window  # 3 units reach b: too few to fit to (20)
    '30D'
    """
    from cjlib.funnel.fitted import Funnel  # fitted imports the package

    text = str(window or "").strip()
    auto = text.lower() == "auto"
    default = (profile.default_window() if profile is not None else "30D") if auto else None
    chosen = default if auto else (text or None)
    if chosen is not None:
        duration("window", chosen, allow_none=False, positive=True)
    f = Funnel(events, steps, window=None, mode=mode, unit=unit, stage_map=stage_map, exclude=exclude, open=open)
    m, rows = f._match, []  # per unit: the chosen attempt's step positions and completion times (ns)
    for k in range(1, len(f.labels)):
        sel = (m.pos[:, 0] >= 0) & (m.pos[:, k] >= 0)  # as time_to_convert(from_step=1, to_step=k + 1)
        t = pd.Series(pd.to_timedelta(m.done[sel, k] - m.done[sel, 0], unit="ns"))
        rows.append((f.labels[k], len(t), t.quantile(QUANTILE) if len(t) else pd.NaT, t))
    fitted = capped = False
    cap = None
    if auto and profile is not None:
        cap = f"{max(1, math.floor(SPAN_SHARE * profile.span_days))}D"
    if auto and rows and rows[-1][1] >= MIN_REACHED:
        q = _days(rows[-1][2])
        if cap is not None and pd.Timedelta(q) > pd.Timedelta(cap):
            q, capped = cap, True
        held = int((rows[-1][3] <= pd.Timedelta(default)).sum())
        if pd.Timedelta(q) > pd.Timedelta(default) and held < KEEP_SHARE * rows[-1][1]:
            chosen, fitted = q, True
        else:
            capped = False
    reach = pd.DataFrame({
        "step": [r[0] for r in rows],
        "reached": [r[1] for r in rows],
        "within": [int((r[3] <= pd.Timedelta(chosen)).sum()) if chosen else r[1] for r in rows],
        "within_default": [float((r[3] <= pd.Timedelta(default)).sum()) if default else float("nan") for r in rows],
        "days_q": [r[2] / pd.Timedelta(days=1) if r[1] else float("nan") for r in rows],
    })
    absent, dropped = _missing(steps, stage_map=stage_map, profile=profile)
    return WindowChoice(window=chosen, asked=text, default=default, fitted=fitted, unit=f.unit,
                        first_step=f.labels[0], reach=reach, capped=capped, cap=cap, absent=absent, dropped=dropped)


def _missing(steps, *, stage_map, profile) -> tuple[tuple, tuple]:
    """(steps with no event in the log, the default journey's stages cut off after ``steps``)."""
    from cjlib.funnel.journeys import absent_steps, resolve_journey, trailing_absent
    from cjlib.stagemap import StageMap, load_stage_map

    if profile is None or getattr(profile, "event_counts", None) is None:
        return (), ()
    sm = stage_map if isinstance(stage_map, StageMap) else load_stage_map(stage_map)
    absent = tuple(absent_steps(steps, stage_map=sm, profile=profile))
    full = resolve_journey("", stage_map=sm)[1]
    n = len(steps)
    if n < len(full) and list(full[:n]) == list(steps):
        gone = trailing_absent(full, stage_map=sm, profile=profile)
        return absent, tuple(gone) if len(gone) == len(full) - n else ()
    return absent, ()
