"""Figures for the drop-off analysis (:mod:`cjlib.funnel`).

Each function draws on ``ax`` (a new figure when ``None``), labels its axes with units, sets the title
the caller passes (a title that states the finding) and returns the Axes.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, PercentFormatter

from cjlib.plots import finish, new_ax, percent_axis

__all__ = ["cart_outcomes", "cohort_conversion", "driver_forest", "dropoff_flow", "friction_signals", "funnel_bars",
           "funnel_table", "paths_table", "segment_comparison", "segment_gaps", "time_to_convert_hist"]


def _ax(ax, figsize=(8, 4.5)):
    return new_ax(ax, figsize)


def _legend_below(ax, ncol: int):
    """A legend centred under the x-axis label, whatever the figure height."""
    fig_h = ax.figure.get_size_inches()[1] * ax.get_position().height
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.75 / max(fig_h, 0.5)), ncol=ncol)


def _dur(t) -> str:
    """A duration as minutes, hours or days; ``"–"`` when undefined."""
    from cjlib.findings import duration

    return "–" if t is None or pd.isna(t) else duration(t)


def _segment_column(data: pd.DataFrame, by: str) -> str:
    """``by``, checked to name a column of a :func:`cjlib.funnel.compare_segments` result."""
    if by not in data.columns:
        raise ValueError(f"by must name the segment column of data, got {by!r}")
    return by


def funnel_table(data: pd.DataFrame):
    """A :func:`cjlib.funnel.funnel` table styled for a report: counts with separators, rates as
    percentages, times as minutes/hours/days, ``–`` where a value is undefined, no index.

    Parameters
    ----------
    data : DataFrame
        A :func:`cjlib.funnel.funnel` table.

    Returns
    -------
    Styler
    """
    fmt = {"reached": "{:,}", "conversion_from_start": "{:.1%}", "conversion_from_previous": "{:.1%}",
           "dropped": "{:,}", "drop_off_rate": "{:.1%}", "median_time_from_previous": _dur,
           "p90_time_from_previous": _dur, "entered_here": "{:,}",
           "optional": lambda v: "optional" if v else ""}
    return data.style.format({k: v for k, v in fmt.items() if k in data.columns}, na_rep="–").hide(axis="index")


def paths_table(paths: pd.DataFrame):
    """:attr:`cjlib.funnel.DropoffFlows.paths` styled for a report: counts with separators, shares as
    percentages, no index.

    Parameters
    ----------
    paths : DataFrame
        :attr:`cjlib.funnel.DropoffFlows.paths`.

    Returns
    -------
    Styler
    """
    return paths.style.format({"units": "{:,}", "share": "{:.1%}"}).hide(axis="index")


def funnel_bars(data: pd.DataFrame, *, title: str | None = None, ax=None):
    """Horizontal bars of units reached per step, annotated with conversion from start and drop-off.

    ``data`` is :func:`cjlib.funnel.funnel` output without ``by`` (columns ``step``, ``reached``,
    ``conversion_from_start``, ``drop_off_rate``).

    Parameters
    ----------
    data : DataFrame
    title : str, optional
        The title (a finding; the caller computes it).
    ax : Axes, optional
        Draw here; a new figure when ``None``.

    Returns
    -------
    Axes
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
    return finish(ax, title)


def segment_comparison(data: pd.DataFrame, *, by: str, title: str | None = None, ax=None):
    """Conversion rate per segment with Wilson-interval whiskers; significant segments are marked ``*``.

    ``data`` is :func:`cjlib.funnel.compare_segments` output for one transition (filter it first when it
    holds several); ``by`` is the segment column.

    Parameters
    ----------
    data : DataFrame
        One transition of :func:`cjlib.funnel.compare_segments`.
    by : str
        The segment column.
    title : str, optional
        The title (a finding; the caller computes it).
    ax : Axes, optional
        Draw here; a new figure when ``None``.

    Returns
    -------
    Axes
    """
    ax = _ax(ax)
    seg = _segment_column(data, by)
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
    return finish(ax, title)


def time_to_convert_hist(data: pd.DataFrame, *, bins: int = 40, log_scale: bool = True, title: str | None = None,
                         ax=None):
    """Histogram of hours to convert (:func:`cjlib.funnel.time_to_convert` output), median marked.

    ``log_scale`` puts hours on a log axis (conversion times usually span minutes to months).

    Parameters
    ----------
    data : DataFrame
        :func:`cjlib.funnel.time_to_convert`.
    bins : int, default 40
    log_scale : bool, default True
        Hours on a log axis.
    title : str, optional
        The title (a finding; the caller computes it).
    ax : Axes, optional
        Draw here; a new figure when ``None``.

    Returns
    -------
    Axes
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
    return finish(ax, title)


def cohort_conversion(data: pd.DataFrame, *, to_step: str | None = None, title: str | None = None, ax=None):
    """Conversion rate per entry cohort with a Wilson band (:func:`cjlib.funnel.conversion_by_cohort`);
    ``to_step`` names the step converted to on the y axis (default "last step").

    Incomplete cohorts (``complete`` False) are drawn hollow.

    Parameters
    ----------
    data : DataFrame
        :func:`cjlib.funnel.conversion_by_cohort`.
    to_step : str, optional
        The step converted to, for the axis label.
    title : str, optional
        The title (a finding; the caller computes it).
    ax : Axes, optional
        Draw here; a new figure when ``None``.

    Returns
    -------
    Axes
    """
    ax = _ax(ax)
    x = pd.to_datetime(data["cohort"])
    ax.fill_between(x, data["ci_low"], data["ci_high"], color="#4C72B0", alpha=0.2, label="95 % CI")
    ax.plot(x, data["rate"], color="#4C72B0", marker="o", label="conversion")
    if "complete" in data.columns and (~data["complete"]).any():
        inc = ~data["complete"].to_numpy()
        ax.plot(x[inc], data["rate"][inc], ls="none", marker="o", mfc="white", mec="#4C72B0",
                label="cohort still open")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))  # decimals from the range (game: 1.1–2.4 % read "2%, 2%, 1%")
    loc = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))
    ax.set_xlabel("entry cohort (period start)")
    ax.set_ylabel(f"conversion to {to_step or 'last step'} (%)")
    ax.legend()
    return finish(ax, title)


# ------------------------------------------------------------------------------------ segment gap grid
def segment_gaps(data: pd.DataFrame, *, by: str, title: str | None = None, ax=None):
    """Grid of segment levels × funnel transitions coloured by the ratio to the comparison group.

    ``data`` is :func:`cjlib.funnel.compare_segments` output with every transition (columns ``from_step``,
    ``to_step``, the segment column, ``rate``, ``ratio``, ``significant``). Each cell shows the conversion
    rate and the ratio to the rest (or the control); blue is better, red worse (log2 scale, capped at
    ½× and 2×); ``*`` marks Holm-significant differences.

    Parameters
    ----------
    data : DataFrame
        :func:`cjlib.funnel.compare_segments` with every transition.
    by : str
        The segment column.
    title : str, optional
        The title (a finding; the caller computes it).
    ax : Axes, optional
        Draw here; a new figure when ``None``.

    Returns
    -------
    Axes
    """
    from matplotlib.colors import TwoSlopeNorm

    seg = _segment_column(data, by)
    d = data.assign(transition=data["from_step"].astype(str) + " → " + data["to_step"].astype(str))
    cols = list(dict.fromkeys(d["transition"]))
    rows = sorted(d[seg].astype(str).unique())
    key = d[seg].astype(str)
    grid = np.full((len(rows), len(cols)), np.nan)
    text = np.full((len(rows), len(cols)), "", dtype=object)
    for r, c, rate, ratio, sig in zip(key, d["transition"], d["rate"], d["ratio"], d["significant"]):
        i, j = rows.index(r), cols.index(c)
        grid[i, j] = np.log2(ratio) if pd.notna(ratio) and ratio > 0 else np.nan
        rt = f"{rate:.0%}" if pd.notna(rate) else "–"
        text[i, j] = rt + (f"\n{ratio:.2f}×" if pd.notna(ratio) else "") + ("*" if sig else "")
    ax = _ax(ax, figsize=(min(3.2 + 2.6 * len(cols), 12), 1.2 + 0.55 * len(rows)))
    ax.imshow(grid, cmap="RdBu", norm=TwoSlopeNorm(0.0, -1.0, 1.0), aspect="auto")
    for i in range(len(rows)):
        for j in range(len(cols)):
            strong = pd.notna(grid[i, j]) and abs(grid[i, j]) > 0.6
            ax.text(j, i, text[i, j], ha="center", va="center", fontsize=9, color="white" if strong else "black")
    ax.set_xticks(np.arange(len(cols)), cols)
    ax.set_yticks(np.arange(len(rows)), rows)
    ax.grid(False)
    comp = data["comparison"].iloc[0] if "comparison" in data.columns and len(data) else "rest"
    ax.set_xlabel(f"funnel transition (cell: conversion %, ratio to {'the rest' if comp == 'rest' else comp}; "
                  "* Holm-significant)")
    ax.set_ylabel(seg)
    return finish(ax, title)


# ------------------------------------------------------------------------------------------ drivers
def driver_forest(data: pd.DataFrame, *, top: int = 12, title: str | None = None, ax=None):
    """Odds ratios of converting with their 95 % intervals (:func:`cjlib.funnel.dropoff_drivers`), log axis.

    The ``top`` events furthest from 1 (on the log scale) are shown, highest odds ratio on top.

    Parameters
    ----------
    data : DataFrame
        :attr:`cjlib.funnel.Drivers.table`.
    top : int, default 12
        Events shown (the strongest either way).
    title : str, optional
        The title (a finding; the caller computes it).
    ax : Axes, optional
        Draw here; a new figure when ``None``.

    Returns
    -------
    Axes
    """
    d = data.assign(_abs=data["log_odds_ratio"].abs()).nlargest(top, "_abs").sort_values("odds_ratio")
    ax = _ax(ax, figsize=(8, 1.2 + 0.4 * max(len(d), 1)))
    y = np.arange(len(d))
    colors = np.where(d["odds_ratio"] > 1, "#55A868", "#C44E52")
    ax.hlines(y, d["ci_low"], d["ci_high"], color="black", lw=1)
    ax.scatter(d["odds_ratio"], y, color=colors, zorder=3, s=40)
    ax.axvline(1.0, color="grey", ls="--", lw=1)
    ax.set_ylim(-0.6, len(d) - 0.4)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if round(v * 10) % 2 == 0 and v < 1 else ""))
    ax.set_yticks(y, [f"{e} ({n:,} units)" for e, n in zip(d["event"], d["units_with"])])
    ax.set_xlabel("odds ratio of converting, did the event vs did not (log scale, 95 % CI)")
    ax.set_ylabel("event seen before converting / leaving")
    return finish(ax, title)


# ------------------------------------------------------------------------------------------- friction
def friction_signals(data: pd.DataFrame, *, title: str | None = None, ax=None):
    """Conversion with and without each friction signal, per transition (:func:`cjlib.funnel.friction`).

    One pair of bars per (transition, signal) that occurs; the label gives the share of units with it. Long
    dwell is not drawn: it goes with not moving on by construction (:func:`cjlib.funnel.worst_friction`).

    Parameters
    ----------
    data : DataFrame
        :attr:`cjlib.funnel.Friction.table`.
    title : str, optional
        The title (a finding; the caller computes it).
    ax : Axes, optional
        Draw here; a new figure when ``None``.

    Returns
    -------
    Axes
    """
    rows = []
    for r in data.itertuples(index=False):
        for sig, name in (("loop", "loop"), ("error", "error")):
            if getattr(r, f"{sig}_units") > 0 and pd.notna(getattr(r, f"conversion_if_no_{sig}")):
                rows.append((f"{r.from_step} → {r.to_step}\n{name} ({getattr(r, f'{sig}_rate'):.0%} of units)",
                             getattr(r, f"conversion_if_{sig}"), getattr(r, f"conversion_if_no_{sig}")))
    ax = _ax(ax, figsize=(9, 1.2 + 0.55 * max(len(rows), 1)))
    y = np.arange(len(rows))[::-1]
    h = 0.38
    with_ = np.array([r[1] for r in rows], dtype=float)
    without = np.array([r[2] for r in rows], dtype=float)
    ax.barh(y + h / 2, with_, height=h, color="#C44E52", label="with the signal")
    ax.barh(y - h / 2, without, height=h, color="#4C72B0", label="without")
    for yi, a, b in zip(y, with_, without):
        ax.text(a + 0.01, yi + h / 2, f"{a:.0%}", va="center", fontsize=8)
        ax.text(b + 0.01, yi - h / 2, f"{b:.0%}", va="center", fontsize=8)
    ax.set_yticks(y, [r[0] for r in rows])
    ax.set_xlim(0, 1.12)
    percent_axis(ax, "x")
    _legend_below(ax, 2)
    return finish(ax, title, xlabel="conversion to the next step (%)", ylabel="transition and friction signal")


# ------------------------------------------------------------------------------------ cart abandonment
def cart_outcomes(data: pd.DataFrame, *, window=None, title: str | None = None, ax=None):
    """100 % bars of cart outcomes per group: bought in the session, recovered later, lost.

    ``data``: one row per group (index = label) with counts ``purchased``, ``recovered`` and ``lost``
    (:func:`cjlib.funnel.cart_outcomes`); ``window`` is the recovery window for the legend.

    Parameters
    ----------
    data : DataFrame
        :func:`cjlib.funnel.cart_outcomes`.
    window : str or Timedelta, optional
        The recovery window, for the legend.
    title : str, optional
        The title (a finding; the caller computes it).
    ax : Axes, optional
        Draw here; a new figure when ``None``.

    Returns
    -------
    Axes
    """
    ax = _ax(ax, figsize=(9, 1.4 + 0.5 * len(data)))
    tot = data[["purchased", "recovered", "lost"]].sum(axis=1).to_numpy(dtype=float)
    y = np.arange(len(data))[::-1]
    left = np.zeros(len(data))
    days = pd.Timedelta(window) / pd.Timedelta(days=1) if window is not None else None
    rec = "recovered later" + (f" (≤ {days:g} days)" if days else "")
    for col, label, color in (("purchased", "bought in the cart session", "#55A868"),
                              ("recovered", rec, "#DD8452"), ("lost", "lost", "#C44E52")):
        share = np.where(tot > 0, data[col].to_numpy(dtype=float) / np.maximum(tot, 1), 0)
        ax.barh(y, share, left=left, color=color, label=label)
        for yi, lft, sh in zip(y, left, share):
            if sh >= 0.04:
                ax.text(lft + sh / 2, yi, f"{sh:.0%}", ha="center", va="center", fontsize=9, color="white")
        left += share
    ax.set_yticks(y, [f"{i} ({int(t):,} carts)" for i, t in zip(data.index.astype(str), tot)])
    ax.set_xlim(0, 1)
    percent_axis(ax, "x")
    _legend_below(ax, 3)
    return finish(ax, title, xlabel="share of cart sessions (%)", ylabel="")


# ------------------------------------------------------------------------------------- dropper flows
def _flow_level(node: str) -> tuple[int, str]:
    if node.startswith("dropped after "):
        return 0, node
    head, _, rest = node.partition(": ")
    return (int(head), rest) if head.isdigit() else (0, node)


def dropoff_flow(data: pd.DataFrame, *, max_nodes: int = 6, min_share: float = 0.02, title: str | None = None,
                 ax=None):
    """A static Sankey of where droppers go (:attr:`cjlib.funnel.DropoffFlows.flows`): works offline.

    Columns are the funnel step a unit dropped after, then its 1st, 2nd … next event. Per column the
    ``max_nodes`` biggest nodes are drawn and the rest (and nodes under ``min_share`` of the column) are
    merged into ``other``; band widths are proportional to units; ``(end)`` means the journey (or
    session) ended.

    Parameters
    ----------
    data : DataFrame
        :attr:`cjlib.funnel.DropoffFlows.flows`.
    max_nodes : int, default 6
        Nodes kept per depth (the rest merge into "other").
    min_share : float, default 0.02
        Nodes below this share merge into "other".
    title : str, optional
        The title (a finding; the caller computes it).
    ax : Axes, optional
        Draw here; a new figure when ``None``.

    Returns
    -------
    Axes
    """
    import matplotlib.patches as mpatches
    from matplotlib.path import Path

    if not {"source", "target", "count"} <= set(data.columns):
        raise ValueError("data must have source, target and count columns (DropoffFlows.flows)")
    ax = _ax(ax, figsize=(12, 6))
    fl = data[["source", "target", "count"]].copy()
    fl["count"] = fl["count"].astype(float)
    # node totals: level-0 by outflow, others by inflow
    inflow = fl.groupby("target")["count"].sum()
    outflow = fl.groupby("source")["count"].sum()
    nodes = pd.Series({n: inflow.get(n, 0.0) for n in inflow.index})
    for n, v in outflow.items():
        if _flow_level(n)[0] == 0:
            nodes[n] = v
    lvl = {n: _flow_level(n)[0] for n in nodes.index}
    depth = max(lvl.values()) if lvl else 0
    # merge small nodes into "<k>: other"
    keep = {}
    for k in range(depth + 1):
        ns = nodes[[n for n in nodes.index if lvl[n] == k]].sort_values(ascending=False, kind="stable")
        tot = ns.sum()
        big = [n for n in ns.index[:max_nodes] if ns[n] >= min_share * tot or k == 0]
        for n in ns.index:
            keep[n] = n if n in big else (f"{k}: other" if k else "dropped (other)")
    fl["source"] = fl["source"].map(keep)
    fl["target"] = fl["target"].map(keep)
    fl = fl.groupby(["source", "target"], sort=False)["count"].sum().reset_index()
    nodes = nodes.groupby(nodes.index.map(keep)).sum()
    lvl = {n: _flow_level(n)[0] if not n.startswith("dropped (") else 0 for n in nodes.index}
    names = {n: (n.removeprefix("dropped after ") if lvl[n] == 0 else _flow_level(n)[1]) for n in nodes.index}

    def order_key(n):
        last = names[n] in ("(end)", "other")
        return (last, names[n] == "other", -nodes[n])

    totals = [nodes[[n for n in nodes.index if lvl[n] == k]].sum() for k in range(depth + 1)]
    scale = 0.9 / max(max(totals), 1.0)
    gap = 0.1 / max(max_nodes, 1)
    ypos = {}
    for k in range(depth + 1):
        col = sorted([n for n in nodes.index if lvl[n] == k], key=order_key)
        y = 1.0
        for n in col:
            h = nodes[n] * scale
            ypos[n] = (y - h, y)
            y -= h + gap
    events = sorted({names[n] for n in nodes.index if lvl[n] > 0} - {"(end)", "other"})
    cmap = plt.get_cmap("tab10")
    color = {e: cmap(i % 10) for i, e in enumerate(events)}
    color.update({"(end)": (0.6, 0.6, 0.6, 1.0), "other": (0.8, 0.8, 0.8, 1.0)})
    w = 0.035
    xs = {k: k for k in range(depth + 1)}
    src_off = {n: ypos[n][1] for n in nodes.index}
    tgt_off = {n: ypos[n][1] for n in nodes.index}
    fl["_so"] = fl["source"].map(lambda n: ypos[n][1])
    fl["_to"] = fl["target"].map(lambda n: ypos[n][1])
    for r in fl.sort_values(["_so", "_to"], ascending=[False, False], kind="stable").itertuples(index=False):
        s, t, c = r.source, r.target, r.count * scale
        x0, x1 = xs[lvl[s]] + w, xs[lvl[t]] - w
        s_top, t_top = src_off[s], tgt_off[t]
        src_off[s] -= c
        tgt_off[t] -= c
        xm = (x0 + x1) / 2
        verts = [(x0, s_top), (xm, s_top), (xm, t_top), (x1, t_top), (x1, t_top - c), (xm, t_top - c),
                 (xm, s_top - c), (x0, s_top - c), (x0, s_top)]
        codes = [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4, Path.LINETO, Path.CURVE4, Path.CURVE4,
                 Path.CURVE4, Path.CLOSEPOLY]
        tcol = color.get(names[t], (0.5, 0.5, 0.5, 1.0))
        ax.add_patch(mpatches.PathPatch(Path(verts, codes), facecolor=tcol, alpha=0.35, lw=0))
    for n in nodes.index:
        lo, hi = ypos[n]
        k = lvl[n]
        col = (0.3, 0.3, 0.3, 1.0) if k == 0 else color.get(names[n], (0.5, 0.5, 0.5, 1.0))
        ax.add_patch(mpatches.Rectangle((xs[k] - w, lo), 2 * w, hi - lo, facecolor=col, lw=0))
        if hi - lo >= 0.012:
            label = f"{names[n]}  {int(nodes[n]):,}"
            if k == 0:
                ax.text(xs[k] - w - 0.02, (lo + hi) / 2, label, ha="right", va="center", fontsize=9)
            else:
                ax.text(xs[k] + w + 0.02, (lo + hi) / 2, label, ha="left", va="center", fontsize=8.5)
    ax.set_xlim(-0.9, depth + 0.75)
    ax.set_ylim(min([v[0] for v in ypos.values()] + [0]) - 0.02, 1.02)
    ax.set_xticks(range(depth + 1), ["dropped after"] + [f"next event {k}" for k in range(1, depth + 1)])
    ax.set_yticks([])
    ax.grid(False)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel("position after the last funnel step reached (band width ∝ units)")
    ax.set_ylabel("units (stacked)")
    return finish(ax, title)
