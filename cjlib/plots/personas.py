"""Persona figures: choosing k, the profile heatmap, the 2-D customer map, persona cards.

Each function takes tidy data (the tables of :class:`cjlib.personas.PersonaResult`), draws on ``ax`` (or
a new Axes) and returns the Axes; the caller passes a title that states the finding. Persona colours
follow persona order (``persona_colors``), so they stay stable between runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from cjlib.personas.text import percent
from cjlib.plots import PALETTE, finish, new_ax, percent_axis
from cjlib.plots.attribution import tick_label

__all__ = ["k_selection", "persona_cards", "persona_colors", "persona_journey", "persona_map", "profile_heatmap",
           "styled"]


def persona_colors(names: Sequence[str]) -> dict[str, tuple]:
    """One colour per persona, by persona order (persona 0 always gets the first colour).

    Parameters
    ----------
    names : sequence of str
        Persona names in persona order.

    Returns
    -------
    dict of str to tuple
        Name → RGB tuple from the ``PALETTE`` palette.
    """
    return dict(zip(names, sns.color_palette(PALETTE, max(len(names), 1)), strict=False))


def k_selection(scores: pd.DataFrame, *, k: str = "k", silhouette: str = "silhouette", ari_mean: str = "ari_mean",
                ari_min: str = "ari_min", chosen: str = "chosen", title: str | None = None, ax=None):
    """Silhouette (left axis) and bootstrap ARI mean with its minimum (right axis) against k.

    Parameters
    ----------
    scores : DataFrame
        ``PersonaResult.scores_``: one row per k (the index or a column named ``k``).
    k, silhouette, ari_mean, ari_min, chosen : str
        The columns (``chosen``: bool, the chosen k is marked).
    title : str, optional
    ax : Axes, optional

    Returns
    -------
    Axes
    """
    ax = new_ax(ax)
    d = scores.reset_index() if k not in scores.columns else scores
    ks = d[k].to_numpy()
    c1, c2 = sns.color_palette(PALETTE, 2)
    ax.plot(ks, d[silhouette], marker="o", color=c1, label="silhouette")
    ax.set_ylabel("silhouette (higher = better separated)", color=c1)
    ax2 = ax.twinx()
    ax2.plot(ks, d[ari_mean], marker="s", color=c2, label="bootstrap ARI mean")
    ax2.fill_between(ks, d[ari_min], d[ari_mean], color=c2, alpha=0.15, label="bootstrap ARI min–mean")
    ax2.set_ylim(min(0.0, float(np.nanmin(d[ari_min]))) if d[ari_min].notna().any() else 0, 1.02)
    ax2.set_ylabel("stability (adjusted Rand index)", color=c2)
    ax2.grid(False)
    if chosen in d and d[chosen].any():
        kc = int(d.loc[d[chosen].astype(bool), k].iloc[0])
        ax.axvline(kc, color="grey", ls="--", lw=1)
        ax.annotate(f"chosen k = {kc}", (kc, ax.get_ylim()[1]), xytext=(4, -14), textcoords="offset points",
                    fontsize=10, color="grey")
    ax.set_xticks(ks)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="lower left", fontsize=9)
    return finish(ax, title, "number of personas (k)", None)


def profile_heatmap(z: pd.DataFrame, *, features: Sequence[str] | None = None, limit: float = 2.0,
                    title: str | None = None, ax=None):
    """Personas (rows) × features (columns) z-scores, centred at 0 on a diverging palette.

    ``z`` is ``PersonaResult.profile_["z"]``; ``features`` picks and orders columns (default all);
    colours saturate at ±``limit`` standard deviations, cells show the value.

    Parameters
    ----------
    z : pandas.DataFrame
        Persona × feature z-scores.
    features : sequence of str, optional
        Columns to show, in order (default ``None``: all).
    limit : float
        Standard deviations at which colours saturate (default ``2.0``).
    title : str, optional
        The chart's title, stating the finding (default ``None``).
    ax : matplotlib.axes.Axes, optional
        An Axes to draw on (default ``None``: a new one).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    d = z[list(features)] if features is not None else z
    ax = new_ax(ax, figsize=(max(8, 0.55 * d.shape[1] + 3), 1.0 + 0.6 * d.shape[0]))
    # the cell text is the value rounded as shown, + 0.0 so a -0.04 reads "0.0", not "-0.0"
    sns.heatmap(d, ax=ax, cmap="RdBu_r", center=0, vmin=-limit, vmax=limit, annot=d.astype(float).round(1) + 0.0,
                fmt=".1f", annot_kws={"fontsize": 8}, linewidths=0.5,
                cbar_kws={"label": "z-score (SD from all customers)"})
    ax.set_xticklabels([tick_label(str(c).replace("channel_share_", "ch: ").replace("_", " ")) for c in d.columns],
                       rotation=60, ha="right")
    ax.tick_params(axis="y", rotation=0)
    return finish(ax, title, "", "")


def persona_map(embedding: pd.DataFrame, persona: pd.Series, *, x: str = "pc1", y: str = "pc2",
                explained: Sequence[float] = (), max_points: int = 5000, seed: int = 0,
                title: str | None = None, ax=None):
    """Customers on two principal components, coloured by persona (a seeded sample of ``max_points``).

    Parameters
    ----------
    embedding : DataFrame
        ``PersonaResult.embedding_``: columns ``x`` and ``y`` per customer.
    persona : Series
        ``PersonaResult.persona_`` (ordered categorical, its categories give the colour order).
    x, y : str
        The columns drawn.
    explained : sequence of float
        The share of the variance of each axis (``PersonaResult.explained_variance_ratio_``), shown in
        the axis labels; empty leaves it out.
    max_points : int, default 5000
        At most this many customers are drawn (a sample seeded by ``seed``).
    title : str, optional
    ax : Axes, optional

    Returns
    -------
    Axes
    """
    ax = new_ax(ax)
    d = embedding.assign(persona=persona.to_numpy())
    if len(d) > max_points:
        d = d.sample(max_points, random_state=seed)
    names = list(persona.cat.categories) if hasattr(persona, "cat") else sorted(map(str, persona.unique()))
    colors = persona_colors(names)
    for name in names:
        part = d[d["persona"] == name]
        ax.scatter(part[x], part[y], s=8, alpha=0.5, color=colors[name], label=name, linewidths=0)
        if len(part):
            ax.annotate(name, (part[x].median(), part[y].median()), fontsize=10, fontweight="bold",
                        ha="center", bbox={"boxstyle": "round,pad=0.2", "fc": "white", "alpha": 0.7, "lw": 0})
    evr = list(explained)
    xl = f"{x} ({evr[0]:.0%} of variance)" if len(evr) > 0 else x
    yl = f"{y} ({evr[1]:.0%} of variance)" if len(evr) > 1 else y
    ax.legend(markerscale=2, fontsize=9, loc="best")
    return finish(ax, title, xl, yl)


_CARD_FIELDS = (("share", "customers", "{:.0%}"), ("revenue_share", "revenue", "{:.0%}"),
                ("conversion_rate", "converted", "{:.0%}"), ("aov", "order value", "{:,.0f}"),
                ("typical_age", "typical age", "{:.0f}"),
                ("goals", "do most", "{}"), ("pain_point", "pain point", "{}"),
                ("preferred_channels", "channels", "{}"), ("satisfaction", "CSAT", "{:.2f}"),
                ("churn_rate", "inactive 90 d", "{:.0%}"))


CARDS_PER_ROW = 4  # more cards wrap to a new row (eight side by side left each card too narrow to read)
_LONG_LABEL = 18  # a longer label ("over-represented loyalty tier:") puts its value on the next line


def persona_cards(cards: pd.DataFrame, *, title: str | None = None, ax=None):
    """A persona sheet: one card per persona (name on a coloured band, then its key facts), at most
    :data:`CARDS_PER_ROW` cards a row.

    Parameters
    ----------
    cards : DataFrame
        ``PersonaResult.cards()``; missing columns are skipped.
    title : str, optional
    ax : Axes, optional
        Drawn on as given (its figure's layout is the caller's); else a new figure sized for the cards.

    Returns
    -------
    Axes
        Revenue and order value are left off when no persona has revenue (a log without revenue: "revenue 0%"
        and "order value 0" would read as customers who spend nothing). A label longer than 18 characters
        has its value on the next line, so a label never runs into its value.
    """
    n = len(cards)
    per_row = max(1, min(n, CARDS_PER_ROW))
    rows = max(1, -(-n // CARDS_PER_ROW))
    ax = new_ax(ax, figsize=(min(4.2 * per_row, 18), 4.6 * rows))
    ax.set_axis_off()
    ax.set_xlim(0, per_row)
    ax.set_ylim(0, rows)
    colors = persona_colors(list(cards["name"]))
    skip = _no_revenue(cards)
    fields = list(_CARD_FIELDS)
    at = fields.index(("typical_age", "typical age", "{:.0f}")) + 1
    fields[at:at] = [(c, _level_label(c), "{}") for c in cards.columns
                     if str(c).startswith("typical_") and c != "typical_age"]
    for i, (_, row) in enumerate(cards.iterrows()):
        x0, base = i % CARDS_PER_ROW + 0.03, rows - 1 - i // CARDS_PER_ROW
        ax.add_patch(plt.Rectangle((x0, base), 0.94, 1.0, fc="#f7f9fb", ec="#d9e2ec", lw=1))
        ax.add_patch(plt.Rectangle((x0, base + 0.88), 0.94, 0.12, fc=colors[row["name"]], ec="none"))
        ax.text(x0 + 0.04, base + 0.94, str(row["name"]), fontsize=12, fontweight="bold", va="center",
                color="white")
        # a share prints "<1%" / ">99%" where rounding would say 0 % or 100 % (34 payers are not "0%")
        shown = [(f"{label}:", tick_label(percent(row[col]) if fmt == "{:.0%}" else fmt.format(row[col]), 34))
                 for col, label, fmt in fields
                 if col in row.index and not pd.isna(row[col]) and col not in skip]
        lines = sum(2 if len(label) > _LONG_LABEL else 1 for label, _ in shown)
        step = min(0.063, 0.8 / max(lines, 1))
        y = base + 0.83
        for label, text in shown:
            ax.text(x0 + 0.04, y, label, fontsize=8.5, color="#52606d", va="top")
            if len(label) > _LONG_LABEL:
                y -= step
                ax.text(x0 + 0.08, y, text, fontsize=8.5, va="top")
            else:
                ax.text(x0 + 0.36, y, text, fontsize=8.5, va="top")
            y -= step
    return finish(ax, title)


def _level_label(col) -> str:
    """The words for a ``typical_<attribute>`` card column: the level most over-represented in the persona,
    not its most common one, so ``typical_loyalty_tier`` reads "over-represented loyalty tier"."""
    return "over-represented " + str(col).removeprefix("typical_").replace("_", " ")


def persona_journey(journey: pd.DataFrame, *, title: str | None = None, ax=None):
    """The share of each persona's customers reaching each stage: one line per persona, in its colour.

    Parameters
    ----------
    journey : DataFrame
        Persona (index, persona order) × stage (columns, stage order): shares 0–1
        (:func:`cjlib.personas.persona_journey`).
    title : str, optional
    ax : Axes, optional

    Returns
    -------
    Axes
    """
    ax = new_ax(ax)
    colors = persona_colors(list(journey.index))
    journey.T.plot(ax=ax, marker="o", color=[colors[n] for n in journey.index])
    percent_axis(ax)
    return finish(ax, title, "stage", "customers reaching the stage")


# number formats of the report's tables: the k scores and the persona cards
_FORMATS = {"silhouette": "{:.3f}", "inertia": "{:,.0f}", "bic": "{:,.0f}", "ari_mean": "{:.2f}",
            "ari_min": "{:.2f}", "min_share": "{:.1%}", "share": "{:.1%}", "revenue_share": "{:.1%}",
            "conversion_rate": "{:.1%}", "aov": "{:,.0f}", "sessions_per_30d": "{:.2f}", "typical_age": "{:.0f}",
            "satisfaction": "{:.2f}", "nps": "{:.1f}", "churn_rate": "{:.1%}", "customers": "{:,}"}


def styled(table: pd.DataFrame):
    """``PersonaResult.scores_`` or ``cards()`` formatted for a report: shares in %, silhouette to 3
    digits, ARI to 2, counts with thousands separators, – for a missing value; cards without any revenue
    lose their revenue share and order value columns; a card's ``typical_<attribute>`` (its most
    over-represented level, not its most common one) is headed "over-represented <attribute>".

    Parameters
    ----------
    table : DataFrame
        Columns it does not know are shown as they are.

    Returns
    -------
    pandas Styler
    """
    table = table.drop(columns=sorted(_no_revenue(table)))
    # a card's typical_<attribute> is its most over-represented level ("platinum (21% vs 5% of all)")
    table = table.rename(columns={c: _level_label(c) for c in table.columns
                                  if str(c).startswith("typical_") and c != "typical_age"})
    return table.style.format({k: v for k, v in _FORMATS.items() if k in table.columns}, na_rep="–")


def _no_revenue(cards: pd.DataFrame) -> set[str]:
    """``{"revenue_share", "aov"}`` (those present) when the cards carry a revenue share that is nowhere
    above zero — the log has no revenue — else the empty set."""
    if "revenue_share" not in cards.columns:
        return set()
    rev = pd.to_numeric(cards["revenue_share"], errors="coerce").fillna(0)
    return {"revenue_share", "aov"} & set(cards.columns) if not (rev > 0).any() else set()
