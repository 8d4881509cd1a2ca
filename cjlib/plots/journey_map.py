"""Figures of the journey map report: the map itself, the journey-score ranking, KPI trends, cohort retention.

:func:`journey_map` draws one figure with the stages as columns and a row per kind of information; rows
whose data is missing (no feedback, no channel column, no segments) are left out, and the caller's notes
say why at the foot of the figure. Texts are shortened to fit their column, so labels never overlap at
report width (the figure is 12 in wide: 1280 px at the report's resolution).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

from cjlib.plots import finish, new_ax, palette, set_title

__all__ = ["journey_map", "kpi_trend_grid", "retention_heatmap", "score_ranking", "trend_labels"]

MAP_WIDTH = 12.0  # inches
_LEFT = 0.12  # figure fraction kept for the row labels
_INK, _MUTED, _BAND = "#1f2933", "#7b8794", "#3b75af"


def _fit(text: str, n: int) -> str:
    """Shorten ``text`` to ``n`` characters with an ellipsis."""
    text = str(text)
    return text if len(text) <= n else text[: max(n - 1, 1)] + "…"


def _days(d: float) -> str:
    if not np.isfinite(d):
        return "–"
    if d < 1:
        return f"{d * 24:.0f} h" if d * 24 >= 1 else f"{d * 1440:.0f} min"
    return f"{d:.1f} d" if d < 10 else f"{d:.0f} d"


def _money(v: float) -> str:
    if not np.isfinite(v) or v == 0:
        return ""
    for div, suf in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suf}"
    return f"{v:.0f}"


def _row_label(ax, text: str) -> None:
    ax.text(-0.01, 0.5, text, transform=ax.transAxes, ha="right", va="center", fontsize=10,
            fontweight="bold", color=_INK, linespacing=1.25)


def _blank(ax, n: int) -> None:
    ax.set_xlim(0, n)
    ax.set_yticks([])
    ax.set_xticks([])
    ax.grid(False)
    for sp in ax.spines.values():
        sp.set_visible(False)
    for x in range(1, n):
        ax.axvline(x, color="#d9e2ec", lw=0.8, zorder=0)


def _list_cell(table: pd.DataFrame | None, stage: str, maxc: int, top: int) -> str:
    if table is None:
        return ""
    rows = table[table["stage"] == stage].sort_values("rank").head(top)
    if not len(rows):
        return "–"
    return "\n".join(f"{_fit(v, maxc - 5)} {s:.0%}" for v, s in zip(rows["value"], rows["share"], strict=True))


def _funnel_row(ax, kpis: pd.DataFrame, stages: list[str], xs: np.ndarray, maxc: int) -> None:
    """Bars of customers reached per stage, the share moving on and the median time between stages."""
    n = len(stages)
    reached = kpis["reached"].to_numpy(float)
    top_v = reached.max() if len(reached) and reached.max() > 0 else 1.0
    h = reached / top_v
    ax.set_ylim(-0.32, 1.62)
    ax.bar(xs, h, width=0.5, color=_BAND, alpha=0.85, zorder=2)
    share = kpis["reached_share"].to_numpy(float)
    rev = kpis["revenue"].to_numpy(float) if "revenue" in kpis.columns else None
    for i in range(n):
        ax.text(xs[i], 1.56, _fit(stages[i], maxc).upper(), ha="center", va="top", fontsize=11,
                fontweight="bold", color=_INK)
        ax.text(xs[i], h[i] + 0.04, f"{int(reached[i]):,}\n{share[i]:.0%} of customers", ha="center",
                va="bottom", fontsize=9.5, color=_INK, linespacing=1.15)
        if rev is not None:  # no revenue column: the log has no revenue, say nothing per stage
            money = _money(rev[i])
            ax.text(xs[i], -0.06, f"revenue {money}" if money else "no revenue", ha="center", va="top",
                    fontsize=9, color=_MUTED)
        if i + 1 < n:
            c = kpis["conversion_to_next"].iloc[i]
            d = kpis["median_days_to_next"].iloc[i]
            ax.annotate("", xy=(i + 1.2, 0.42), xytext=(i + 0.8, 0.42),
                        arrowprops={"arrowstyle": "-|>", "color": _MUTED, "lw": 1.2})
            ax.text(i + 1, 0.5, f"{c:.0%}" if np.isfinite(c) else "–", ha="center", va="bottom",
                    fontsize=10, fontweight="bold", color=_INK)
            ax.text(i + 1, 0.34, _days(d), ha="center", va="top", fontsize=9, color=_MUTED)
    _row_label(ax, "Reach &\nconversion\n(→ moved on,\nmedian time)")


def _list_row(ax, kind: str, table: pd.DataFrame | None, stages: list[str], xs: np.ndarray, maxc: int,
              top: int) -> None:
    """The top touchpoints or channels of each stage, with their shares."""
    ax.set_ylim(0, 1)
    for i, s in enumerate(stages):
        ax.text(xs[i], 0.5, _list_cell(table, s, maxc, top), ha="center", va="center", fontsize=9.5,
                color=_INK, linespacing=1.3)
    _row_label(ax, "Top\ntouchpoints" if kind == "touchpoints" else "Top\nchannels")


def _emotion_row(ax, kpis: pd.DataFrame, xs: np.ndarray, maxc: int) -> None:
    """The satisfaction index per stage with its interval, CSAT and NPS beside it."""
    n = len(xs)
    y = kpis["satisfaction_index"].to_numpy(float)
    lo = kpis.get("satisfaction_index_lo", kpis["satisfaction_index"]).to_numpy(float)
    hi = kpis.get("satisfaction_index_hi", kpis["satisfaction_index"]).to_numpy(float)
    ok = np.isfinite(y)
    lo_f, hi_f = np.where(np.isfinite(lo), lo, y), np.where(np.isfinite(hi), hi, y)
    ymin, ymax = np.nanmin(lo_f[ok]), np.nanmax(hi_f[ok])
    pad = max((ymax - ymin) * 0.45, 4.0)
    ax.set_ylim(ymin - pad, ymax + pad * 1.3)
    for i in range(n - 1):  # solid between neighbouring stages with feedback, dotted across gaps
        j = next((k for k in range(i + 1, n) if ok[k]), None)
        if ok[i] and j is not None:
            ax.plot([xs[i], xs[j]], [y[i], y[j]], color="#c2410c", lw=2 if j == i + 1 else 1,
                    ls="-" if j == i + 1 else ":", zorder=2)
    ax.plot(xs[ok], y[ok], color="#c2410c", lw=0, marker="o", zorder=3)
    ax.errorbar(xs[ok], y[ok], yerr=[y[ok] - lo_f[ok], hi_f[ok] - y[ok]], fmt="none",
                ecolor="#c2410c", elinewidth=1.5, capsize=4, zorder=3)
    for i in range(n):
        if not ok[i]:
            ax.text(xs[i], ymin - pad * 0.85, "no feedback", ha="center", va="bottom", fontsize=9,
                    color=_MUTED)
            continue
        extra = []
        if "satisfaction" in kpis.columns and np.isfinite(kpis["satisfaction"].iloc[i]):
            extra.append(f"CSAT {kpis['satisfaction'].iloc[i]:.2f}")
        if "nps" in kpis.columns and np.isfinite(kpis["nps"].iloc[i]):
            extra.append(f"NPS {kpis['nps'].iloc[i]:+.0f}")
        label = f"{y[i]:.0f}" + (f" · {_fit(' · '.join(extra), maxc - 6)}" if extra else "")
        ax.text(xs[i], hi_f[i] + pad * 0.15, label, ha="center", va="bottom", fontsize=9.5, color=_INK)
    ax.set_yticks([])
    _row_label(ax, "Emotion\n(satisfaction\n0–100, 95% CI)")


def _pain_row(ax, pains: pd.DataFrame, stages: list[str], xs: np.ndarray, maxc: int) -> None:
    """Each stage's pain point (muted and marked n.s. when its Holm-adjusted p, else its p, is 0.05 or more)."""
    ax.set_ylim(0, 1)
    for i, s in enumerate(stages):
        if s in pains.index:
            p = pains.loc[s]
            who = f"{p['segment']} = {p['level']}"
            if len(who) > maxc - 4:
                who = f"{_fit(p['segment'], maxc)}\n= {_fit(p['level'], maxc - 2)}"
            pv = next((p[c] for c in ("p_adjusted", "p_value") if c in p.index), np.nan)  # Holm-adjusted first
            sig = bool(np.isfinite(pv) and pv < 0.05)
            what = (f"{p['conversion_to_next']:.0%} vs {p['overall']:.0%} ({100 * p['gap']:+.0f} pp"
                    f"{'' if sig else ', n.s.'})")
            ax.text(xs[i], 0.5, f"{who}\n{what}", ha="center", va="center", fontsize=9.5,
                    color="#a61b1b" if sig else _MUTED, linespacing=1.3)
        else:
            ax.text(xs[i], 0.5, "–", ha="center", va="center", fontsize=9.5, color=_MUTED)
    _row_label(ax, "Pain point\n(worst conv. out,\ngap; n.s.: Holm\np ≥ 0.05)")


def journey_map(
    kpis: pd.DataFrame,
    *,
    touchpoints: pd.DataFrame | None = None,
    channels: pd.DataFrame | None = None,
    pains: pd.DataFrame | None = None,
    title: str | None = None,
    notes: Sequence[str] = (),
    top: int = 3,
    fig=None,
):
    """The journey map: stages as columns; rows for reach and conversion, touchpoints, channels, emotion, pain.

    Parameters
    ----------
    kpis : DataFrame
        :func:`cjlib.scorecard.stage_kpis` (index ``stage``): ``reached``, ``reached_share``,
        ``conversion_to_next``, ``median_days_to_next``, ``revenue`` (drop it for a log without
        revenue: no revenue line is drawn); the emotion row uses
        ``satisfaction_index`` with ``_lo``/``_hi`` and shows ``satisfaction`` (CSAT) and ``nps`` beside it.
    touchpoints, channels : DataFrame, optional
        :func:`cjlib.scorecard.stage_touchpoints` by event / by channel; None leaves the row out.
    pains : DataFrame, optional
        :func:`cjlib.scorecard.pain_points` (index ``stage``); None leaves the row out. A pain point
        whose ``p_adjusted`` (else ``p_value``) is 0.05 or more is drawn muted and marked "n.s." (within chance).
    title : str, optional
        The finding the map shows. notes : lines printed at the foot (why a row is missing …).
    top : int, default 3
        Touchpoints / channels listed per stage.

    Returns
    -------
    matplotlib Figure
        The emotion row is left out when no stage has a satisfaction value.
    """
    stages = list(kpis.index.astype(str))
    n = len(stages)
    col_in = MAP_WIDTH * (1 - _LEFT - 0.01) / max(n, 1)
    maxc = max(int(col_in * 72 / (0.62 * 9.5)), 8)  # characters that fit a column at 9.5 pt
    has_emotion = "satisfaction_index" in kpis.columns and kpis["satisfaction_index"].notna().any()
    rows = [("funnel", 2.4)]
    if touchpoints is not None:
        rows.append(("touchpoints", 0.35 + 0.22 * top))
    if channels is not None:
        rows.append(("channels", 0.35 + 0.22 * top))
    if has_emotion:
        rows.append(("emotion", 1.9))
    if pains is not None:
        rows.append(("pain", 0.9))
    height = sum(h for _, h in rows) + 1.0 + 0.18 * len(notes)
    if fig is None:
        fig = plt.figure(figsize=(MAP_WIDTH, height))
    top_frac = 1 - 0.75 / height
    bottom_frac = (0.15 + 0.2 * len(notes)) / height
    gs = fig.add_gridspec(len(rows), 1, height_ratios=[h for _, h in rows], left=_LEFT, right=0.99,
                          top=top_frac, bottom=bottom_frac, hspace=0.18)
    xs = np.arange(n) + 0.5
    for r, (kind, _) in enumerate(rows):
        ax = fig.add_subplot(gs[r])
        _blank(ax, n)
        if kind == "funnel":
            _funnel_row(ax, kpis, stages, xs, maxc)
        elif kind in ("touchpoints", "channels"):
            _list_row(ax, kind, touchpoints if kind == "touchpoints" else channels, stages, xs, maxc, top)
        elif kind == "emotion":
            _emotion_row(ax, kpis, xs, maxc)
        elif kind == "pain":
            _pain_row(ax, pains, stages, xs, maxc)
    if title:
        set_title(fig, "\n".join(textwrap.wrap(title, 110)), x=0.01, y=1 - 0.12 / height, ha="left", va="top",
                     fontsize=13, fontweight="bold", color=_INK)
    for k, note in enumerate(notes):
        fig.text(0.01, (0.08 + 0.2 * (len(notes) - 1 - k)) / height, _fit(note, 150), fontsize=9,
                 color=_MUTED, ha="left", va="bottom")
    return fig


def score_ranking(scores: pd.DataFrame, *, title: str | None = None, ax=None, by: str = "segment",
                  level: str = "level", score: str = "score"):
    """Horizontal bars of the journey score per segment level, grouped by segment, best first.

    ``scores`` is :func:`cjlib.scorecard.journey_scores`. Segments are ordered by the spread of their
    scores (the most telling first); each level's bar carries its score.

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per segment level with its score.
    title : str, optional
        The chart's title, stating the finding (default ``None``).
    ax : matplotlib.axes.Axes, optional
        An Axes to draw on (default ``None``: a new one).
    by, level, score : str
        Columns of the segment, the level and the score (default ``"segment"``, ``"level"``, ``"score"``).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    d = scores.copy()
    spread = d.groupby(by)[score].agg(lambda s: s.max() - s.min()).sort_values(ascending=False)
    d["_o"] = d[by].map({s: i for i, s in enumerate(spread.index)})
    d = d.sort_values(["_o", score, level], ascending=[True, False, True], kind="stable")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.9 + 0.27 * len(d)))
    colors = palette(spread.index)
    labels = [f"{s}: {lv}" for s, lv in zip(d[by], d[level], strict=True)]
    y = np.arange(len(d))
    ax.barh(y, d[score], color=[colors[str(s)] for s in d[by]])
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    for yi, v in zip(y, d[score], strict=True):
        ax.text(v + 1, yi, f"{v:.0f}", va="center", fontsize=9)
    ax.set_xlim(0, 110)
    ax.grid(axis="y", visible=False)
    return finish(ax, title, "journey score (0 = worst, 100 = best level of its segment)", "")


def kpi_trend_grid(trends: pd.DataFrame, metrics: Mapping[str, str], *, title: str | None = None,
                   ncols: int = 2, rates: Sequence[str] = ("conversion_rate",)):
    """One small line chart per KPI over the periods of :func:`cjlib.scorecard.kpi_trends`.

    ``metrics`` maps a column to its axis label (with units). Columns in ``rates`` are shown as
    percentages. Periods the log covers only in part (``days < period_days``) are drawn hollow.
    Returns the Figure.

    Parameters
    ----------
    trends : pandas.DataFrame
        KPIs per period, indexed by period (``days`` and ``period_days`` mark part periods when present).
    metrics : Mapping of str to str
        Column → axis label; columns missing from ``trends`` or all-NaN are skipped.
    title : str, optional
        The chart's title, stating the finding (default ``None``).
    ncols : int
        Charts per row (default ``2``).
    rates : sequence of str
        Columns shown as percentages (default ``("conversion_rate",)``).

    Returns
    -------
    matplotlib.figure.Figure
        The grid's Figure.
    """
    metrics = {k: v for k, v in metrics.items() if k in trends.columns and trends[k].notna().any()}
    nrows = int(np.ceil(len(metrics) / ncols)) or 1
    fig, axes = plt.subplots(nrows, ncols, figsize=(12, 2.7 * nrows + 0.6), squeeze=False)
    x = np.arange(len(trends))
    full = (trends["days"].to_numpy() >= trends["period_days"].to_numpy() if "period_days" in trends.columns
            else np.ones(len(x), bool))
    step = max(1, int(np.ceil(len(x) / 8)))
    for ax, (col, label) in zip(axes.flat, metrics.items(), strict=False):
        v = trends[col].to_numpy(float)
        ax.plot(x, v, color=_BAND, lw=1.8)
        ax.scatter(x[full], v[full], color=_BAND, s=14, zorder=3)
        ax.scatter(x[~full], v[~full], facecolor="white", edgecolor=_BAND, s=18, zorder=3)
        ax.set_xticks(x[::step], [str(p) for p in trends.index[::step]], rotation=0, fontsize=8.5)
        ax.set_ylabel(label, fontsize=9.5)
        if col in rates:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))  # decimals from the range: 1.5–2.6 % is not "2%, 2%, 2%"
        ax.tick_params(axis="y", labelsize=8.5)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    if title:
        set_title(fig, title, x=0.01, ha="left", fontsize=13, fontweight="bold")
    fig.tight_layout()
    return fig


def retention_heatmap(ret: pd.DataFrame, *, title: str | None = None, ax=None, max_offset: int = 12):
    """Cohort × periods-since-first heat map of :func:`cjlib.scorecard.cohort_retention` shares.

    Parameters
    ----------
    ret : pandas.DataFrame
        The retention table (``cohort``, ``offset``, ``share``; ``customers`` at offset 0 gives the cohort size).
    title : str, optional
        The chart's title, stating the finding (default ``None``).
    ax : matplotlib.axes.Axes, optional
        An Axes to draw on (default ``None``: a new one).
    max_offset : int
        Last period after the first to show (default ``12``).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    grid = ret[(ret["offset"] >= 1) & (ret["offset"] <= max_offset)].pivot(
        index="cohort", columns="offset", values="share")
    sizes = ret[ret["offset"] == 0].set_index("cohort")["customers"]
    grid.index = [f"{c} (n={sizes.get(c, 0):,})" for c in grid.index]
    ax = new_ax(ax, figsize=(10, 0.9 + 0.32 * len(grid)))
    sns.heatmap(grid, annot=True, fmt=".0%", cmap="Blues", cbar=False, ax=ax, annot_kws={"fontsize": 8.5},
                linewidths=0.5, linecolor="white")
    ax.tick_params(axis="y", labelsize=9)
    ax.grid(False)
    return finish(ax, title, "periods since the cohort's first period", "cohort (size)")


def trend_labels(freq: str = "M", *, conversions: bool = True, revenue: bool = True) -> dict[str, str]:
    """The panels of :func:`kpi_trend_grid` for the journey map: KPI column → its label.

    Parameters
    ----------
    freq : str, default "M"
        The trends' period (``"W"``-like: weeks, else months), named in the conversion label.
    conversions : bool
        Whether conversion per period means something (conversions, and not a purchases-only log).
    revenue : bool
        Whether the data has revenue.

    Returns
    -------
    dict

    Examples
    --------
    >>> list(trend_labels("W", revenue=False).values())
    ['active customers', 'converters ÷ active (per week)', 'mean CSAT (1–5)', 'NPS (points)']
    """
    unit = "week" if str(freq).startswith("W") else "month"
    return {"active_customers": "active customers",
            **({"conversion_rate": f"converters ÷ active (per {unit})"} if conversions else {}),
            **({"revenue": "revenue (currency)", "aov": "average order value (currency)"} if revenue else {}),
            "csat": "mean CSAT (1–5)", "nps": "NPS (points)"}
