"""Figures of the paths around a step (:func:`cjlib.funnel.paths_around`): a flow chart by position and a
step-matrix heatmap.

Each function draws on ``ax`` (a new figure when ``None``), labels its axes with units, sets the title the
caller passes (a title that states the finding) and returns the Axes.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from cjlib.plots import finish, new_ax, palette

__all__ = ["path_flow", "step_matrix_heatmap", "paths_figure"]

_SPECIAL = ("(other)", "(end)", "(start)")
_GREY = {"(other)": (0.78, 0.78, 0.78, 1.0), "(end)": (0.55, 0.55, 0.55, 1.0), "(start)": (0.55, 0.55, 0.55, 1.0)}


def _wrapped(title: str | None, ax) -> str | None:
    """The title in lines that fit the figure's width (the theme's bold 13 pt: about 9 characters an inch)."""
    if not title:
        return title
    inches = ax.figure.get_size_inches()[0] * ax.get_position().width
    return "\n".join(textwrap.wrap(title, max(int(inches * 9), 40)))


def _short(text: str, n: int = 24) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def _is_end(name: str) -> bool:
    return name in ("(end)", "(start)") or name.startswith("(reached ")


def _merge_small(fl: pd.DataFrame, max_nodes: int) -> pd.DataFrame:
    """Per position keep the ``max_nodes`` biggest events (end labels always), the rest become ``(other)``;
    a source is renamed as the same event was at the previous position."""
    keep: dict[int, set] = {}
    for k, g in fl.groupby("position", sort=True):
        tot = g.groupby("target", sort=False)["units"].sum()
        ev = tot[[not _is_end(n) and n != "(other)" for n in tot.index]]
        ev = ev.sort_values(ascending=False, kind="stable")
        keep[k] = set(ev.index[:max_nodes]) | {n for n in tot.index if _is_end(n)}
    out = fl.copy()
    out["target"] = [t if t in keep[k] else "(other)" for k, t in zip(out["position"], out["target"], strict=True)]
    out["source"] = [s if k == 1 or s in keep[k - 1] else "(other)"
                     for k, s in zip(out["position"], out["source"], strict=True)]
    return out.groupby(["position", "source", "target"], sort=False)["units"].sum().reset_index()


def path_flow(data: pd.DataFrame, *, direction: str = "forward", max_nodes: int = 6, title: str | None = None,
              ax=None):
    """A static flow chart (Sankey-like bands by position) of :attr:`cjlib.funnel.PathsAround.flows`.

    The anchor stands in the first column (the last one for backward paths); each next column holds the
    events at that many steps from it, bands from one column to the next are as wide as the units that
    moved so, and a column is shorter than the one before by the units whose path stopped (``(end)`` /
    ``(start)``). Per column the ``max_nodes`` biggest events are drawn and the rest merge into ``(other)``.

    Parameters
    ----------
    data : DataFrame
        :attr:`cjlib.funnel.PathsAround.flows` (``position``, ``source``, ``target``, ``units``).
    direction : {"forward", "backward"}, default "forward"
        As the paths were computed: backward paths are drawn right to left, ending at the anchor.
    max_nodes : int, default 6
        Events drawn per position.
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

    if not {"position", "source", "target", "units"} <= set(data.columns):
        raise ValueError("data must have position, source, target and units columns (PathsAround.flows)")
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be one of ['forward', 'backward'], got {direction!r}")
    ax = new_ax(ax, figsize=(12, 6))
    fl = _merge_small(data[["position", "source", "target", "units"]], max_nodes) if len(data) else data
    depth = int(fl["position"].max()) if len(fl) else 0
    anchor = str(fl.loc[fl["position"] == 1, "source"].iloc[0]) if len(fl) else ""
    nodes: dict[tuple[int, str], float] = {(0, anchor): float(fl.loc[fl["position"] == 1, "units"].sum())}
    for (k, t), v in fl.groupby(["position", "target"], sort=False)["units"].sum().items():
        nodes[(int(k), t)] = float(v)
    scale = 0.9 / max(max(nodes.values(), default=1.0), 1.0)
    gap = 0.1 / max(max_nodes + 2, 1)
    ypos = {}
    for k in range(depth + 1):
        col = sorted([n for n in nodes if n[0] == k],
                     key=lambda n: (_is_end(n[1]), n[1] == "(other)", -nodes[n], n[1]))
        y = 1.0
        for n in col:
            h = nodes[n] * scale
            ypos[n] = (y - h, y)
            y -= h + gap
    names = sorted({n[1] for n in nodes if n[0] > 0 and not _is_end(n[1]) and n[1] != "(other)"})
    color = dict(palette(names))
    color.update(_GREY)
    other = (0.3, 0.3, 0.3, 1.0)

    def colour(name: str):
        return color.get(name, _GREY["(end)"] if _is_end(name) else other)

    def x(k: int) -> float:
        return depth - k if direction == "backward" else k

    w = 0.035
    src_off = {n: ypos[n][1] for n in nodes}
    tgt_off = {n: ypos[n][1] for n in nodes}
    links = [((int(r.position) - 1, r.source), (int(r.position), r.target), r.units * scale)
             for r in fl.itertuples(index=False)]
    links.sort(key=lambda lk: (lk[0][0], -ypos[lk[0]][1], -ypos[lk[1]][1]))
    for s, t, c in links:
        s_top, t_top = src_off[s], tgt_off[t]
        src_off[s] -= c
        tgt_off[t] -= c
        x0, x1 = (x(s[0]) + w, x(t[0]) - w) if direction == "forward" else (x(s[0]) - w, x(t[0]) + w)
        xm = (x0 + x1) / 2
        verts = [(x0, s_top), (xm, s_top), (xm, t_top), (x1, t_top), (x1, t_top - c), (xm, t_top - c),
                 (xm, s_top - c), (x0, s_top - c), (x0, s_top)]
        codes = [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4, Path.LINETO, Path.CURVE4, Path.CURVE4,
                 Path.CURVE4, Path.CLOSEPOLY]
        ax.add_patch(mpatches.PathPatch(Path(verts, codes), facecolor=colour(t[1]), alpha=0.35, lw=0))
    for n, (lo, hi) in ypos.items():
        k, name = n
        ax.add_patch(mpatches.Rectangle((x(k) - w, lo), 2 * w, hi - lo, lw=0,
                                        facecolor=(0.25, 0.25, 0.25, 1.0) if k == 0 else colour(name)))
        if hi - lo >= 0.012:
            label = f"{_short(name)}  {int(nodes[n]):,}"
            left = (k == 0) == (direction == "forward")
            ax.text(x(k) + (-1 if left else 1) * (w + 0.02), (lo + hi) / 2, label, ha="right" if left else "left",
                    va="center", fontsize=9 if k == 0 else 8.5)
    ax.set_xlim(-0.95, depth + 0.8)
    ax.set_ylim(min([v[0] for v in ypos.values()] + [0]) - 0.02, 1.02)
    sign = "+" if direction == "forward" else "−"
    ax.set_xticks([x(k) for k in range(depth + 1)], ["anchor"] + [f"{sign}{k}" for k in range(1, depth + 1)])
    ax.set_yticks([])
    ax.grid(False)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    where = "after" if direction == "forward" else "before"
    end = "(end): no more events" if direction == "forward" else "(start): no earlier event"
    ax.set_xlabel(f"events {where} {_short(anchor, 40)}   ·   {end}   ·   band height ∝ units")
    ax.set_ylabel("")
    return finish(ax, _wrapped(title, ax))


def step_matrix_heatmap(data: pd.DataFrame, *, direction: str = "forward", max_rows: int = 12,
                        cbar_label: str | None = None, title: str | None = None, ax=None):
    """A step matrix (:attr:`cjlib.funnel.PathsAround.matrix`) or the difference of two
    (:func:`cjlib.funnel.step_matrix_difference`) as a heatmap, cells in percent (points for a difference).

    Parameters
    ----------
    data : DataFrame
        Rows events, columns positions 1..depth, shares (0–1) or differences of shares.
    direction : {"forward", "backward"}, default "forward"
        Labels the positions ``+k`` (after the anchor) or ``−k`` (before it; drawn from the earliest on the
        left, as :func:`path_flow` draws them).
    max_rows : int, default 12
        Rows drawn: those with the largest absolute value in any position, in the data's order.
    cbar_label : str, optional
        The colour bar's label (default: "share of units (%)", or "difference (percentage points)" when a
        value is negative).
    title : str, optional
        The title (a finding; the caller computes it).
    ax : Axes, optional
        Draw here; a new figure when ``None``.

    Returns
    -------
    Axes
    """
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be one of ['forward', 'backward'], got {direction!r}")
    mat = data.astype(float)
    if len(mat) > max_rows:
        big = mat.abs().max(axis=1).sort_values(ascending=False, kind="stable").index[:max_rows]
        mat = mat.loc[[i for i in mat.index if i in set(big)]]
    if direction == "backward":  # the earliest position on the left, as in path_flow
        mat = mat[mat.columns[::-1]]
    vals = mat.to_numpy() * 100
    ax = new_ax(ax, figsize=(9, 0.42 * max(len(mat), 3) + 1.6))
    diff = bool((vals < 0).any())
    lim = float(np.nanmax(np.abs(vals))) if vals.size else 1.0
    lim = lim or 1.0
    im = ax.imshow(vals, aspect="auto", cmap="RdBu" if diff else "Blues", vmin=-lim if diff else 0, vmax=lim)
    sign = "+" if direction == "forward" else "−"
    ax.set_xticks(np.arange(mat.shape[1]), [f"{sign}{c}" for c in mat.columns])
    ax.set_yticks(np.arange(mat.shape[0]), [_short(i, 28) for i in mat.index])
    ax.grid(False)
    cb = ax.figure.colorbar(im, ax=ax)
    cb.set_label(cbar_label or ("difference (percentage points)" if diff else "share of units (%)"))
    for (r, c), v in np.ndenumerate(vals):
        if np.isfinite(v):
            text = f"{v:+.0f}" if diff else f"{v:.0f}"
            ax.text(c, r, "0" if text in ("+0", "-0") else text, ha="center", va="center", fontsize=8,
                    color="white" if abs(v) > 0.6 * lim else "black")
    where = "after" if direction == "forward" else "before"
    return finish(ax, _wrapped(title, ax), xlabel=f"position {where} the anchor (events)", ylabel="")



def paths_figure(flows: pd.DataFrame, difference: pd.DataFrame | None = None, *, direction: str = "forward",
                 titles: tuple = (None, None), max_nodes: int = 6, max_rows: int = 10):
    """The flow chart (:func:`path_flow`) and, below it, the converters − droppers step matrix
    (:func:`step_matrix_heatmap`) in one figure; the heatmap only when ``difference`` has rows and
    ``titles[1]`` is given.

    Parameters
    ----------
    flows : DataFrame
        :attr:`cjlib.funnel.PathsAround.flows`.
    difference : DataFrame, optional
        :attr:`cjlib.funnel.PathsAround.outcome_difference` (or any :func:`cjlib.funnel.step_matrix_difference`).
    direction : {"forward", "backward"}, default "forward"
        As the paths were computed.
    titles : pair of str or None
        The flow chart's and the heatmap's titles (findings; the caller computes them).
    max_nodes, max_rows : int
        As in :func:`path_flow` and :func:`step_matrix_heatmap`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    both = difference is not None and len(difference) > 0 and titles[1] is not None
    rows = min(len(difference), max_rows) if both else 0
    heights = [6.0] + ([0.42 * max(rows, 3) + 1.6] if both else [])
    fig, axes = plt.subplots(len(heights), 1, figsize=(12, sum(heights) + 0.4 * len(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    path_flow(flows, direction=direction, max_nodes=max_nodes, title=titles[0], ax=axes[0, 0])
    if both:
        step_matrix_heatmap(difference, direction=direction, max_rows=max_rows, title=titles[1], ax=axes[1, 0],
                            cbar_label="converters − droppers (percentage points)")
    fig.tight_layout()
    return fig
