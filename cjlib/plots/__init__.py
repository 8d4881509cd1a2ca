"""One visual theme for every report, and the figures shared by notebooks.

Analysis-specific figures live beside this file (``cjlib.plots.funnel`` …). Every plotting function
takes its data as a DataFrame plus column names, draws on ``ax`` (or a new Axes) and returns the Axes;
the caller passes a title that states the finding.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

__all__ = ["set_theme", "palette", "new_ax", "finish", "set_title", "stage_funnel", "percent_axis"]

PALETTE = "colorblind"
FIGSIZE = (9, 4.5)
#: families tried, glyph by glyph, after the theme's sans-serif font (matplotlib >= 3.6 falls back along
#: ``font.family``): Chinese, Japanese and Arabic channel or persona names draw as text, not boxes, when
#: one of them is installed (e.g. Debian's fonts-noto-cjk); the missing ones are skipped in silence
FONT_FALLBACK = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans Arabic", "WenQuanYi Zen Hei",
                 "Arial Unicode MS")


class _MissingFallbackFont(logging.Filter):
    """Drops matplotlib's "findfont: Font family 'X' not found." for the :data:`FONT_FALLBACK` families only
    (one line per family and text size otherwise); every other font warning still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == "findfont: Font family %r not found." and isinstance(record.args, tuple)
                    and len(record.args) == 1 and record.args[0] in FONT_FALLBACK)


_FONT_FILTER = _MissingFallbackFont()


def _add_installed_fallback_fonts() -> list[str]:
    """Make matplotlib see :data:`FONT_FALLBACK` fonts installed after its font cache was built.

    matplotlib lists the system's fonts once and caches the list, so a font installed later (``apt-get
    install fonts-noto-cjk``) stays unknown until the cache is deleted. When no fallback family is known,
    the files fontconfig (``fc-list``) holds for those families are added; without fontconfig, or with none
    of the families installed, nothing changes.

    Returns
    -------
    list of str
        The font files added (empty when none was needed or found).
    """
    import shutil
    import subprocess

    from matplotlib import font_manager

    if {f.name for f in font_manager.fontManager.ttflist} & set(FONT_FALLBACK):
        return []
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        out = subprocess.run([fc_list, "--format", "%{family}\t%{file}\n"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    wanted = set(FONT_FALLBACK)
    paths = sorted({file for line in out.splitlines() if "\t" in line
                    for family, file in [line.split("\t", 1)] if wanted & set(family.split(","))})
    added = []
    for path in paths:
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):  # an unreadable file: skipped
            continue
        added.append(path)
    return added


def set_theme() -> None:
    """Set the cjlib theme (seaborn whitegrid, readable sizes, report-width figures, crisp PNGs, and a font
    fallback list, :data:`FONT_FALLBACK`, for Chinese, Japanese and Arabic text in data).

    Inside a Jupyter kernel it also selects the inline backend, so figures reach the notebook (and the
    HTML report) even when ``MPLBACKEND=Agg`` is set in the environment, and makes every pandas table it
    shows escape HTML in cells and labels (:func:`cjlib.safety.escape_stylers`): data never becomes markup.
    """
    from cjlib.safety import escape_stylers

    escape_stylers()
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell":
            shell.run_line_magic("matplotlib", "inline")
    except ImportError:  # pragma: no cover - IPython is a dependency of ipykernel
        pass
    font_log = logging.getLogger("matplotlib.font_manager")
    if _FONT_FILTER not in font_log.filters:
        font_log.addFilter(_FONT_FILTER)
    _add_installed_fallback_fonts()
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook",
                  rc={"figure.figsize": FIGSIZE, "figure.dpi": 100, "savefig.dpi": 110,
                      "axes.titlesize": 13, "axes.titleweight": "bold", "axes.titlelocation": "left",
                      "axes.labelsize": 11, "legend.frameon": False,
                      # data reaches titles and tick labels: a channel named "$5 off" is text, not math
                      "text.parse_math": False,
                      "font.family": ["sans-serif", *FONT_FALLBACK]})


def palette(levels: Sequence, name: str = PALETTE) -> dict:
    """A stable colour per level: levels are sorted, so colours do not drift between runs.

    Parameters
    ----------
    levels : Sequence
        The levels to colour (turned to ``str``).
    name : str
        A seaborn palette name (default ``PALETTE``, ``"colorblind"``).

    Returns
    -------
    dict
        Level (``str``) → RGB tuple, in sorted order.
    """
    ordered = sorted(map(str, levels))
    return dict(zip(ordered, sns.color_palette(name, len(ordered)), strict=True))


_OWN_FIGURES: weakref.WeakSet = weakref.WeakSet()  # figures new_ax made: only these are laid out by finish


def new_ax(ax=None, figsize=None):
    """Return ``ax`` or a new Axes of the theme's size.

    Only a figure made here is laid out by :func:`finish`: an Axes the caller passed in belongs to the
    caller's figure (a grid of subplots, say), whose layout is the caller's to settle.

    Parameters
    ----------
    ax : matplotlib.axes.Axes, optional
        An Axes to draw on (default ``None``: make a new figure).
    figsize : tuple of float, optional
        Size of a new figure (default ``None``: ``FIGSIZE``, 9 × 4.5 in).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax`` itself, or the new Axes.
    """
    if ax is not None:
        return ax
    fig, ax = plt.subplots(figsize=figsize or FIGSIZE)
    _OWN_FIGURES.add(fig)
    return ax


def set_title(target, title: str, **kwargs) -> None:
    """Title an Axes (or a Figure: its suptitle) and hand the title to the report as a finding, so
    titles pass the same checks as written findings (:func:`cjlib.report.chart_title`).

    Parameters
    ----------
    target : matplotlib.axes.Axes or matplotlib.figure.Figure
        What to title; an object with ``suptitle`` (a Figure) gets a suptitle.
    title : str
        The title (a finding: it is checked by :func:`cjlib.report.chart_title`).
    **kwargs
        Passed to ``set_title`` or ``suptitle``.
    """
    from cjlib.report import chart_title

    chart_title(title)
    if hasattr(target, "suptitle"):
        target.suptitle(title, **kwargs)
    else:
        _fit(target.set_title(title, **kwargs), target.figure)


def _fit(text, fig) -> None:
    """Wrap a one-line title drawn wider than its figure onto as many lines as it needs (a long title
    otherwise squeezes the Axes to a sliver when the figure is laid out tightly). The title handed to
    the report (:func:`set_title`) stays one line."""
    import math
    import textwrap

    title = text.get_text()
    if not title or "\n" in title:
        return
    try:
        width = text.get_window_extent(renderer=fig.canvas.get_renderer()).width
    except (AttributeError, RuntimeError, ValueError):  # a canvas without a renderer: leave it
        return
    room = 0.8 * fig.get_figwidth() * fig.dpi  # centred over the Axes, which sits right of the y label
    if width <= room:
        return
    chars = max(20, math.floor(len(title) * room / width))
    text.set_text("\n".join(textwrap.wrap(title, chars)))


def finish(ax, title: str | None = None, xlabel: str | None = None, ylabel: str | None = None):
    """Set title and axis labels (those given), tighten the layout of a figure :func:`new_ax` made, return ``ax``.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The Axes drawn on.
    title : str, optional
        The title, set through :func:`set_title` (default ``None``: none set).
    xlabel, ylabel : str, optional
        Axis labels; ``None`` leaves a label as it is, ``""`` clears it (default ``None``).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.
    """
    if title:
        set_title(ax, title)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if ax.figure in _OWN_FIGURES:
        ax.figure.tight_layout()
    return ax


def percent_axis(ax, axis: str = "y"):
    """Format an axis holding rates (0–1) as percentages.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The Axes.
    axis : str
        ``"y"`` for the y axis, anything else for the x axis (default ``"y"``).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.
    """
    from matplotlib.ticker import PercentFormatter

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(PercentFormatter(1.0))
    return ax


def stage_funnel(data: pd.DataFrame, *, stage: str = "stage", reached: str = "reached",
                 title: str | None = None, ax=None):
    """Horizontal funnel: customers reaching each stage, with the share of the first stage.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per stage in funnel order; the stage may be a column or the index.
    stage, reached : str
        Column names of the stage and of the customers reaching it (default ``"stage"``, ``"reached"``).
    title : str, optional
        The chart's title (default ``None``).
    ax : matplotlib.axes.Axes, optional
        An Axes to draw on (default ``None``: a new one).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = new_ax(ax)
    d = data.reset_index() if stage not in data.columns else data
    top = float(d[reached].iloc[0]) or 1.0
    colors = sns.color_palette("Blues_r", len(d) + 2)[: len(d)]
    ax.barh(d[stage].astype(str), d[reached], color=colors)
    ax.invert_yaxis()
    for i, v in enumerate(d[reached]):
        ax.text(v, i, f"  {int(v):,} ({v / top:.0%})", va="center", fontsize=10)
    ax.set_xlim(0, top * 1.25)
    ax.grid(axis="y", visible=False)
    return finish(ax, title, "customers", "")
