"""Figure of this period against the last (:func:`cjlib.funnel.compare_periods`).

The function draws on ``ax`` (a new figure when ``None``), labels its axes with units, sets the title the
caller passes (a title that states the finding) and returns the Axes.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from cjlib.plots import finish, new_ax

__all__ = ["period_differences"]

_RISE, _FALL, _SAME = "#55A868", "#C44E52", "#8C8C8C"


def period_differences(data: pd.DataFrame, *, confidence: float = 0.95, title: str | None = None, ax=None):
    """Change in conversion per transition, current − previous period, in percentage points, with intervals.

    One row per transition (top: the first in the table), a dot at the difference and a line over its
    interval; green for a Holm-significant rise, red for a fall, grey otherwise. The tick label gives the
    two rates. Transitions a period has no unit for are not drawn; the title wraps at 75 characters.

    Parameters
    ----------
    data : DataFrame
        :attr:`cjlib.funnel.PeriodComparison.table` (``from_step``, ``to_step``, ``rate_previous``,
        ``rate_current``, ``difference``, ``ci_low``, ``ci_high``, ``significant``).
    confidence : float, default 0.95
        The intervals' level, for the axis label.
    title : str, optional
        The title (a finding; the caller computes it).
    ax : Axes, optional
        Draw here; a new figure when ``None``.

    Returns
    -------
    Axes
    """
    d = data[data["difference"].notna()].iloc[::-1]
    ax = new_ax(ax, figsize=(9, 1.6 + 0.6 * max(len(d), 1)))
    y = np.arange(len(d))
    sig = d["significant"].to_numpy(dtype=bool)
    up = d["difference"].to_numpy() > 0
    colors = np.where(sig & up, _RISE, np.where(sig, _FALL, _SAME))
    ax.hlines(y, 100 * d["ci_low"], 100 * d["ci_high"], color=colors, lw=2)
    ax.scatter(100 * d["difference"], y, color=colors, zorder=3, s=45)
    ax.axvline(0.0, color="black", lw=1)
    ax.set_ylim(-0.6, len(d) - 0.4)
    labels = [f"{a} → {b}\n{r0:.1%} → {r1:.1%}" for a, b, r0, r1 in
              zip(d["from_step"], d["to_step"], d["rate_previous"], d["rate_current"])]
    ax.set_yticks(y, labels)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(f"change in conversion, current − previous period (pp, {confidence:.0%} CI; coloured: "
                  "Holm-significant)")
    ax.set_ylabel("transition (previous → current rate)")
    return finish(ax, "\n".join(textwrap.wrap(title, 75)) if title else None)
