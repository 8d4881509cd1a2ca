"""Attribution figures: model comparison with intervals, transition and stage × channel heatmaps, costs.

Every figure takes the tidy result of a :mod:`cjlib.attribution` call (its column names are arguments, with
the result's names as defaults), draws on ``ax`` (or a new Axes from :func:`cjlib.plots.new_ax`) and returns
the Axes, titled (the caller passes the title that states the finding), labelled and laid out by
:func:`cjlib.plots.finish`. The ``style_*`` functions format the tables the report shows beside them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cjlib.plots import finish, new_ax, palette

__all__ = ["model_comparison", "transition_heatmap", "stage_channel_heatmap", "cost_bars", "path_lengths",
           "stage_lift_heatmap", "stage_contribution_bars", "style_journeys", "style_removal_effects",
           "style_cost_table"]

_VALUE_SUFFIX = "_value"


def _transition_label(t) -> str:
    """``"a>b"`` or ``"a > b"`` → ``"a → b"`` (stage names, split at the first ``>``)."""
    a, _, b = str(t).partition(">")
    return f"{a.strip()} → {b.strip()}"


def tick_label(value, width: int = 32) -> str:
    r"""A data value as a tick label: line breaks and tabs made spaces, cut to ``width`` characters with
    "…" (a 200-character channel name would push the plot off its figure).

    Parameters
    ----------
    value : object
        The label (taken as its ``str``).
    width : int, default 32
        Most characters kept.

    Returns
    -------
    str

    Examples
    --------
    >>> tick_label("line\nbreak"), tick_label("c" * 200, 8)
    ('line break', 'ccccccc…')
    """
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _rows_figsize(n_rows: int) -> tuple[float, float]:
    """A report-wide heatmap with one band per row (stage transitions)."""
    return (11, 2.4 + 0.9 * n_rows)


def _legend_outside(ax, title: str) -> None:
    """The legend to the right of the plot (many bars: it would hide some inside)."""
    ax.legend(title=title, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)


def model_comparison(
    data: pd.DataFrame,
    *,
    models: Sequence[str] | None = None,
    intervals: Mapping[str, pd.DataFrame] | None = None,
    ylabel: str = "attributed conversions",
    title: str | None = None,
    legend_outside: bool = False,
    ax=None,
):
    """Grouped bars of attributed conversions per channel, one bar per model, with interval whiskers.

    Parameters
    ----------
    data : DataFrame
        Indexed by channel, one column per model (:func:`cjlib.attribution.compare_models`);
        ``*_value`` columns are ignored unless named in ``models``.
    models : sequence of str, optional
        Columns to draw, in order (default: every column not ending in ``_value``).
    intervals : mapping of model → DataFrame, optional
        :func:`cjlib.attribution.bootstrap` results (``lower``, ``upper`` indexed by channel) drawn as
        whiskers on that model's bars.
    ylabel, title : str
    legend_outside : bool, default False
        Put the legend to the right of the plot (a new figure is then 12 × 5.5 inches).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    models = list(models) if models is not None else [c for c in data.columns if not str(c).endswith(_VALUE_SUFFIX)]
    missing = [m for m in models if m not in data.columns]
    if missing:
        raise ValueError(f"models {missing} are not columns of data; columns are {list(data.columns)}")
    ax = new_ax(ax, figsize=(12, 5.5) if legend_outside else None)
    channels = list(data.index.astype(str))
    x = np.arange(len(channels))
    width = 0.8 / max(len(models), 1)
    colors = palette(models)
    for i, m in enumerate(models):
        h = data[m].to_numpy(dtype=float)
        pos = x - 0.4 + width * (i + 0.5)
        ax.bar(pos, h, width=width, label=str(m), color=colors[str(m)])
        if intervals and m in intervals:
            iv = intervals[m].reindex(data.index)
            lo = np.clip(h - iv["lower"].to_numpy(float), 0, None)
            hi = np.clip(iv["upper"].to_numpy(float) - h, 0, None)
            ax.errorbar(pos, h, yerr=np.vstack([lo, hi]), fmt="none", ecolor="black", elinewidth=1, capsize=2)
    ax.set_xticks(x)
    ax.set_xticklabels([tick_label(c) for c in channels], rotation=30, ha="right")
    if legend_outside:
        _legend_outside(ax, "model")
    else:
        ax.legend(title="model", ncols=min(len(models), 3))
    return finish(ax, title, "channel", ylabel)


def _stage_matrix(frame: pd.DataFrame, value: str, transition: str, channel: str) -> pd.DataFrame:
    """Transition × channel matrix of ``value``, transitions in the frame's order and labelled ``a → b``."""
    missing = [c for c in (transition, channel, value) if c not in frame.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the frame; columns are {list(frame.columns)}")
    order = list(dict.fromkeys(frame[transition]))
    mat = frame.pivot(index=transition, columns=channel, values=value).reindex(order)
    mat.index = [_transition_label(t) for t in mat.index]
    return mat


def _label_grid(ax, mat: pd.DataFrame, im, cbar_label: str):
    """Tick labels from ``mat``'s columns and index, no grid, a labelled colour bar (returned)."""
    ax.set_xticks(np.arange(mat.shape[1]))
    ax.set_xticklabels([tick_label(c) for c in mat.columns], rotation=45, ha="right")
    ax.set_yticks(np.arange(mat.shape[0]))
    ax.set_yticklabels([tick_label(c, 40) for c in mat.index])
    ax.grid(False)
    cb = ax.figure.colorbar(im, ax=ax)
    cb.set_label(cbar_label)
    return cb


def _heatmap(mat: pd.DataFrame, ax, *, cmap: str, fmt: str, cbar_label: str, annotate: bool):
    im = ax.imshow(mat.to_numpy(dtype=float), aspect="auto", cmap=cmap)
    _label_grid(ax, mat, im, cbar_label)
    if annotate:
        vals = mat.to_numpy(dtype=float)
        finite = vals[np.isfinite(vals)]
        mid = (finite.max() + finite.min()) / 2 if finite.size else 0
        _write_cells(ax, vals, lambda v: format(v, fmt), lambda v: v > mid)
    return ax


def _write_cells(ax, vals: np.ndarray, text, dark) -> None:
    """Write ``text(v)`` in every finite cell of a heatmap, white where ``dark(v)`` (the colour is deep), else
    black."""
    for (r, c), v in np.ndenumerate(vals):
        if np.isfinite(v):
            ax.text(c, r, text(v), ha="center", va="center", fontsize=8, color="white" if dark(v) else "black")


def transition_heatmap(transitions: pd.DataFrame, *, source: str = "channel_from", target: str = "channel_to",
                       probability: str = "transition_probability", annotate: bool = True,
                       title: str | None = None, ax=None):
    """Heatmap of transition probabilities (rows: from, columns: to).

    Parameters
    ----------
    transitions : DataFrame
        :func:`cjlib.attribution.transition_matrix` output (``channel_from``, ``channel_to``,
        ``transition_probability``); best at order 1.
    source, target, probability : str
        The columns of the state a step leaves, the state it reaches and its probability.
    annotate : bool, default True
        Write the probabilities in the cells (as percentages).
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    mat = transitions.pivot(index=source, columns=target, values=probability)
    rows = ["(start)"] + sorted(r for r in mat.index if r != "(start)")
    cols = sorted(c for c in mat.columns if not str(c).startswith("(")) + [
        c for c in ("(conversion)", "(null)") if c in mat.columns]
    mat = mat.reindex(index=[r for r in rows if r in mat.index], columns=cols) * 100
    ax = new_ax(ax, figsize=(11, 7.5))
    _heatmap(mat, ax, cmap="Blues", fmt=".0f", cbar_label="transition probability (%)", annotate=annotate)
    return finish(ax, title, "to", "from")


def stage_channel_heatmap(stage_attr: pd.DataFrame, *, value: str = "share", transition: str = "transition",
                          channel: str = "channel", annotate: bool = True, title: str | None = None, ax=None):
    """Heatmap of stage transition × channel (the share of each transition's conversions by default).

    Parameters
    ----------
    stage_attr : DataFrame
        The ``table`` of :func:`cjlib.attribution.stage_attribution`.
    value : str, default "share"
        Column to show: ``share``, ``conversions`` or ``conversion_rate``.
    transition, channel : str
        The columns naming the stage transition (``"a>b"``) and the channel.
    annotate : bool, default True
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    if value not in ("share", "conversions", "conversion_rate"):
        raise ValueError(f"value must be 'share', 'conversions' or 'conversion_rate', got {value!r}")
    mat = _stage_matrix(stage_attr, value, transition, channel)
    pct = value in ("share", "conversion_rate")
    if pct:
        mat = mat * 100
    label = {"share": "share of the transition's conversions (%)", "conversions": "attributed conversions",
             "conversion_rate": "attributed conversions per touch (%)"}[value]
    ax = new_ax(ax, figsize=_rows_figsize(len(mat)))
    _heatmap(mat, ax, cmap="viridis", fmt=".0f" if value != "conversion_rate" else ".1f", cbar_label=label,
             annotate=annotate)
    return finish(ax, title, "channel", "stage transition")


def cost_bars(costs: pd.DataFrame, *, metric: str = "cost_per_conversion", channel: str = "channel",
              model: str = "model", title: str | None = None, ax=None, log: bool = False,
              legend_outside: bool = False):
    """Grouped bars of cost per attributed conversion (or ROI) per channel and model.

    Parameters
    ----------
    costs : DataFrame
        :func:`cjlib.attribution.cost_per_conversion` output.
    metric : {"cost_per_conversion", "roi"}
    channel, model : str
        The columns naming the channel and the attribution model.
    title : str, optional
    ax : matplotlib Axes, optional
    log : bool, default False
        A log-scaled y axis with plain tick labels (costs of channels differ by orders of magnitude).
    legend_outside : bool, default False
        The legend to the right of the plot (a new figure is then 12 × 5 inches).

    Returns
    -------
    matplotlib Axes
    """
    if metric not in ("cost_per_conversion", "roi"):
        raise ValueError(f"metric must be 'cost_per_conversion' or 'roi', got {metric!r}")
    if metric not in costs.columns:
        raise ValueError(f"costs has no {metric!r} column")
    wide = costs.pivot(index=channel, columns=model, values=metric).dropna(how="all")
    ax = model_comparison(wide, models=list(dict.fromkeys(costs[model])), ylabel=
                          "spend per attributed conversion" if metric == "cost_per_conversion"
                          else "attributed value / spend", title=title, legend_outside=legend_outside,
                          ax=new_ax(ax, figsize=(12, 5) if legend_outside else None))
    if log and np.isfinite(wide.to_numpy(dtype=float)).any() and (wide.to_numpy(dtype=float) > 0).any():
        ax.set_yscale("log")
        lo, hi = ax.get_ylim()
        ax.set_yticks([t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
                       if lo <= t <= hi])
        ax.yaxis.set_major_formatter("{x:g}")
        ax.yaxis.set_minor_formatter("")
        ax.set_ylabel(f"{ax.get_ylabel()}\n(log scale)")
    return finish(ax)


def path_lengths(paths: pd.DataFrame, *, max_touches: int = 10, path: str = "path", converting: str = "conversions",
                 not_converting: str = "nulls", title: str | None = None, ax=None):
    """Share of converting and of non-converting journeys by number of touches (bars side by side).

    Parameters
    ----------
    paths : DataFrame
        A paths table (``path``, ``conversions``, ``nulls``; channel names may hold ``>``).
    max_touches : int, default 10
        Longer journeys are pooled into one ``max_touches+`` bar.
    path, converting, not_converting : str
        The columns of the path string and of its converting and non-converting journeys.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    if isinstance(max_touches, bool) or not isinstance(max_touches, (int, np.integer)) or max_touches < 1:
        raise ValueError(f"max_touches must be a positive integer, got {max_touches!r}")
    from matplotlib.ticker import PercentFormatter

    from cjlib.attribution import path_length

    n = np.minimum(path_length(paths[path]), max_touches)
    ax = new_ax(ax)
    x = np.arange(1, max_touches + 1)
    colors = palette(["converting", "not converting"])
    for i, (col, label) in enumerate(((converting, "converting"), (not_converting, "not converting"))):
        w = paths[col].to_numpy(dtype=float)
        share = np.bincount(n, weights=w, minlength=max_touches + 1)[1:] / max(w.sum(), 1e-300)
        ax.bar(x + (i - 0.5) * 0.4, share, width=0.4, label=f"{label} ({w.sum():,.0f})", color=colors[label])
    ax.set_xticks(x)
    ax.set_xticklabels([str(v) for v in x[:-1]] + [f"{max_touches}+"])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(title="journeys")
    return finish(ax, title, "touches in the journey", "share of journeys")


def stage_lift_heatmap(stage_attr: pd.DataFrame, *, value: str = "lift", transition: str = "transition",
                       channel: str = "channel", annotate: bool = True, title: str | None = None, ax=None):
    """Heatmap of stage transition × channel for a ratio centred at 1 (blue above 1, red below).

    Parameters
    ----------
    stage_attr : DataFrame
        One row per (transition, channel) with a ratio column: the ``table`` of
        :func:`cjlib.attribution.stage_attribution` (``lift``: a channel's attributed conversions per touch ÷
        the transition's), or :func:`cjlib.effects.channel_effects` (``effect``).
    value : str, default "lift"
        The ratio column to show (1 = average).
    transition, channel : str
        The columns naming the stage transition and the channel.
    annotate : bool, default True
        Write ``×ratio`` in the cells.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    from matplotlib.colors import LogNorm

    mat = _stage_matrix(stage_attr, value, transition, channel)
    vals = mat.to_numpy(dtype=float)
    pos = vals[np.isfinite(vals) & (vals > 0)]
    span = float(np.clip(np.max(np.abs(np.log(pos))) if pos.size else np.log(2), np.log(1.5), np.log(4)))
    shown = np.where(np.isfinite(vals) & (vals > 0), vals, np.nan)
    ax = new_ax(ax, figsize=_rows_figsize(len(mat)))
    im = ax.imshow(shown, aspect="auto", cmap="RdBu", norm=LogNorm(vmin=np.exp(-span), vmax=np.exp(span)))
    cb = _label_grid(ax, mat, im, f"{value} (× transition average, log scale)")
    ticks = [t for t in (0.25, 0.5, 0.67, 1, 1.5, 2, 4) if np.exp(-span) <= t <= np.exp(span)]
    cb.set_ticks(ticks, labels=[f"×{t:g}" for t in ticks])
    cb.minorticks_off()
    if annotate:
        _write_cells(ax, vals, lambda v: f"×{v:.2f}", lambda v: v > 0 and abs(np.log(v)) > 0.6 * span)
    return finish(ax, title, "channel", "stage transition")


def stage_contribution_bars(contrib: pd.DataFrame, *, stage: str = "stage", share: str = "share",
                            conversions: str = "conversions", title: str | None = None, ax=None):
    """Horizontal bars: each stage's share of the attributed conversions, labelled with the conversions.

    Parameters
    ----------
    contrib : DataFrame
        The ``table`` of :func:`cjlib.attribution.stage_contribution`, in stage order.
    stage, share, conversions : str
        The columns holding the stage name, its share (0–1) and its attributed conversions.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    from matplotlib.ticker import PercentFormatter

    missing = [c for c in (stage, conversions, share) if c not in contrib.columns]
    if missing:
        raise ValueError(f"contrib lacks columns {missing}")
    ax = new_ax(ax, figsize=(9, 1.2 + 0.6 * len(contrib)))
    stages = contrib[stage].astype(str).tolist()
    colors = palette(stages)
    y = np.arange(len(stages))
    shares = contrib[share].to_numpy(dtype=float)
    ax.barh(y, shares, color=[colors[s] for s in stages])
    for yi, s, c in zip(y, shares, contrib[conversions].to_numpy(dtype=float)):
        ax.text(s, yi, f"  {s:.1%} ({c:,.0f})", va="center", fontsize=10)
    ax.set_yticks(y)
    ax.set_yticklabels(stages)
    ax.invert_yaxis()
    ax.set_xlim(0, max(float(shares.max()) if len(shares) else 0, 0.01) * 1.3)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(axis="y", visible=False)
    return finish(ax, title, "share of attributed conversions (attributed conversions in brackets)", "stage of the touchpoint")


# -------------------------------------------------------------------------------------------- tables
def style_journeys(js: pd.DataFrame):
    """:func:`cjlib.attribution.journey_summary` as a formatted table (counts, one decimal, percent).

    Parameters
    ----------
    js : DataFrame
        :func:`cjlib.attribution.journey_summary` output.

    Returns
    -------
    pandas Styler
    """
    return js.style.format({"journeys": "{:,.0f}", "distinct paths": "{:,.0f}", "mean touches": "{:.1f}",
                            "median touches": "{:.0f}", "one-touch share": "{:.1%}"}, na_rep="–")


def style_removal_effects(table: pd.DataFrame):
    """:func:`cjlib.attribution.removal_effects` as a formatted table.

    Parameters
    ----------
    table : DataFrame
        :func:`cjlib.attribution.removal_effects` output.

    Returns
    -------
    pandas Styler
    """
    return table.style.format({"removal effect": "{:.1%}", "attributed conversions": "{:,.0f}", "share": "{:.1%}",
                               "lower": "{:,.0f}", "upper": "{:,.0f}"}, na_rep="–")


def style_cost_table(table: pd.DataFrame, *, spend: str = "spend"):
    """:func:`cjlib.attribution.cost_table` as a formatted table (whole ``spend``, two decimals elsewhere).

    Parameters
    ----------
    table : DataFrame
        :func:`cjlib.attribution.cost_table` output.
    spend : str, default "spend"
        The spend column (whole numbers).

    Returns
    -------
    pandas Styler
    """
    return table.style.format({c: "{:,.0f}" if c == spend else "{:,.2f}" for c in table.columns}, na_rep="–")
