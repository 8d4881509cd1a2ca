"""Figures for the drop-off analysis (:mod:`cjlib.funnel`).

Each function draws on ``ax`` (a new figure when ``None``), labels its axes with units, sets the title
the caller passes (a title that states the finding) and returns the Axes.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

__all__ = ["cohort_conversion", "funnel_bars", "segment_comparison", "time_to_convert_hist"]


def _ax(ax, figsize=(8, 4.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def funnel_bars(data: pd.DataFrame, *, title: str | None = None, ax=None):
    """Horizontal bars of units reached per step, annotated with conversion from start and drop-off.

    ``data`` is :func:`cjlib.funnel.funnel` output without ``by`` (columns ``step``, ``reached``,
    ``conversion_from_start``, ``drop_off_rate``).
    """
    ax = _ax(ax)
    y = np.arange(len(data))[::-1]
    reached = data["reached"].to_numpy()
    ax.barh(y, reached, color="#4C72B0")
    top = max(int(reached.max()) if len(reached) else 1, 1)
    for yi, r, cs, dr in zip(y, reached, data["conversion_from_start"], data["drop_off_rate"]):
        text = f"{r:,} ({cs:.0%} of start)" if pd.notna(cs) else f"{r:,}"
        if pd.notna(dr):
            text += f"  ▼ {dr:.0%} dropped"
        ax.text(r + top * 0.01, yi, text, va="center", fontsize=9)
    ax.set_yticks(y, data["step"].astype(str))
    ax.set_xlim(0, top * 1.45)
    ax.set_xlabel("units reaching the step (count)")
    ax.set_ylabel("funnel step")
    if title:
        ax.set_title(title)
    return ax


def segment_comparison(data: pd.DataFrame, *, segment: str | None = None, title: str | None = None, ax=None):
    """Conversion rate per segment with Wilson-interval whiskers; significant segments are marked ``*``.

    ``data`` is :func:`cjlib.funnel.compare_segments` output for one transition (filter it first when it
    holds several); ``segment`` is the segment column (default ``data.attrs["by"]``).
    """
    ax = _ax(ax)
    seg = segment or data.attrs.get("by")
    if seg is None or seg not in data.columns:
        raise ValueError("segment must name the segment column of data")
    if "to_step" in data.columns and data[["from_step", "to_step"]].drop_duplicates().shape[0] > 1:
        raise ValueError("data holds several transitions: filter it to one (from_step, to_step) first")
    rate = data["rate"].to_numpy()
    x = np.arange(len(data))
    err = np.vstack([rate - data["ci_low"].to_numpy(), data["ci_high"].to_numpy() - rate])
    sig = data["significant"].to_numpy() if "significant" in data.columns else np.zeros(len(data), bool)
    colors = np.where(sig & (data["difference"].to_numpy() < 0), "#C44E52",
                      np.where(sig, "#55A868", "#4C72B0"))
    ax.bar(x, rate, color=colors, alpha=0.85)
    ax.errorbar(x, rate, yerr=err, fmt="none", ecolor="black", capsize=4, lw=1)
    for xi, r, s in zip(x, data["ci_high"], sig):
        if s:
            ax.text(xi, r + 0.01, "*", ha="center", va="bottom", fontsize=12)
    ax.set_xticks(x, data[seg].astype(str))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(seg)
    if "to_step" in data.columns and len(data):
        ax.set_ylabel(f"conversion {data['from_step'].iloc[0]} → {data['to_step'].iloc[0]} (%, 95 % CI)")
    else:
        ax.set_ylabel("conversion (%, 95 % CI)")
    if title:
        ax.set_title(title)
    return ax


def time_to_convert_hist(data: pd.DataFrame, *, bins: int = 40, log_scale: bool = True, title: str | None = None,
                         ax=None):
    """Histogram of hours to convert (:func:`cjlib.funnel.time_to_convert` output), median marked.

    ``log_scale`` puts hours on a log axis (conversion times usually span minutes to months).
    """
    ax = _ax(ax)
    h = data["hours"].to_numpy(dtype=float)
    h = h[np.isfinite(h)]
    if log_scale and len(h):
        pos = h[h > 0]
        lo = max(pos.min(), 1 / 60) if len(pos) else 1 / 60
        edges = np.geomspace(lo, max(h.max(), lo * 10), bins + 1)
        ax.hist(np.clip(h, lo, None), bins=edges, color="#4C72B0")
        ax.set_xscale("log")
    else:
        ax.hist(h, bins=bins, color="#4C72B0")
    if len(h):
        med = float(np.median(h))
        ax.axvline(max(med, 1 / 60) if log_scale else med, color="black", ls="--", lw=1,
                   label=f"median {med:.1f} h")
        ax.legend()
    ax.set_xlabel("time to convert (hours" + (", log scale)" if log_scale else ")"))
    ax.set_ylabel("converting units (count)")
    if title:
        ax.set_title(title)
    return ax


def cohort_conversion(data: pd.DataFrame, *, title: str | None = None, ax=None):
    """Conversion rate per entry cohort with a Wilson band (:func:`cjlib.funnel.conversion_by_cohort`).

    Incomplete cohorts (``complete`` False) are drawn hollow.
    """
    ax = _ax(ax)
    x = pd.to_datetime(data["cohort"])
    ax.fill_between(x, data["ci_low"], data["ci_high"], color="#4C72B0", alpha=0.2, label="95 % CI")
    ax.plot(x, data["rate"], color="#4C72B0", marker="o", label="conversion")
    if "complete" in data.columns and (~data["complete"]).any():
        inc = ~data["complete"].to_numpy()
        ax.plot(x[inc], data["rate"][inc], ls="none", marker="o", mfc="white", mec="#4C72B0",
                label="cohort still open")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("entry cohort (period start)")
    ax.set_ylabel(f"conversion to {data.attrs.get('to_step', 'last step')} (%)")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax
