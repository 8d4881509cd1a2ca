"""Churn figures: ROC and precision–recall curves, calibration, lift and gains, drivers.

Every function takes the tidy tables :mod:`cjlib.churn` returns, draws on ``ax`` (or a new Axes) and
returns the Axes; the caller passes a title that states the finding. :func:`styled` formats the tables
the churn report displays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlib.plots import finish, new_ax, palette, percent_axis

__all__ = ["FORMATS", "calibration_curve", "gains_chart", "importance_bars", "lift_chart",
           "partial_dependence_lines", "pr_curves", "roc_curves", "styled", "value_at_risk_bars",
           "value_distribution"]


def _colors(models) -> dict:
    return palette(pd.unique(pd.Series(list(models), dtype="str")))


def _rates_square(ax, *, legend: str, top: float = 1.01) -> None:
    """Both axes rates from 0 to 100 % (the y axis up to ``top``, room for a curve at 1), legend at ``legend``."""
    ax.set_xlim(0, 1)
    ax.set_ylim(0, top)
    ax.legend(loc=legend)
    percent_axis(ax, "x")
    percent_axis(ax, "y")


#: Display formats of the columns churn tables carry (:func:`styled`).
FORMATS = {
    "n": "{:,}", "base_rate": "{:.1%}", "roc_auc": "{:.3f}", "pr_auc": "{:.3f}", "brier": "{:.4f}",
    "brier_base": "{:.4f}", "top_decile_lift": "{:.2f}", "top_decile_capture": "{:.1%}",
    "customers": "{:,}", "churners": "{:,}", "churn_rate": "{:.1%}", "share_of_churners": "{:.1%}",
    "mean_predicted": "{:.1%}", "mean_probability": "{:.1%}", "churn_probability": "{:.1%}",
    "value_at_risk": "{:,.0f}", "value_at_risk_share": "{:.1%}",
}


def styled(table: pd.DataFrame, *, na_rep: str | None = None):
    """``table`` for display, each column of :data:`FORMATS` it has formatted (rates as %, counts with commas).

    Parameters
    ----------
    table : DataFrame
        Model metrics, churn by segment, the at-risk summary or examples.
    na_rep : str, optional
        How missing values show (e.g. ``"–"``).

    Returns
    -------
    pandas.io.formats.style.Styler

    Examples
    --------
    >>> styled(pd.DataFrame({"customers": [1200], "churn_rate": [0.25]})).to_html().count("25.0%")
    1
    """
    return table.style.format({c: f for c, f in FORMATS.items() if c in table.columns}, na_rep=na_rep)


def _model_curves(data: pd.DataFrame, model: str, x: str, y: str, auc: dict | None, area: str, ax):
    """One line per model in its colour, labelled with its ``area`` value from ``auc`` when given."""
    ax = new_ax(ax, figsize=(6, 5))
    colors = _colors(data[model])
    for name, d in data.groupby(model, sort=True):
        label = f"{name} ({area} {auc[name]:.3f})" if auc and name in auc else str(name)
        ax.plot(d[x], d[y], color=colors[str(name)], label=label, lw=2)
    return ax


def roc_curves(data: pd.DataFrame, *, model: str = "model", fpr: str = "fpr", tpr: str = "tpr",
               auc: dict | None = None, title: str | None = None, ax=None):
    """ROC curve per model with the chance diagonal; ``auc`` (model → value) goes into the legend.

    Parameters
    ----------
    data : pandas.DataFrame
        ROC points of one or more models, stacked.
    model, fpr, tpr : str
        Column names of the model, false-positive and true-positive rates (default ``"model"``, ``"fpr"``, ``"tpr"``).
    auc : dict, optional
        Model → area, shown in the legend (default ``None``: names only).
    title : str, optional
        The chart's title, stating the finding (default ``None``).
    ax : matplotlib.axes.Axes, optional
        An Axes to draw on (default ``None``: a new one).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = _model_curves(data, model, fpr, tpr, auc, "AUC", ax)
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="chance (AUC 0.5)")
    _rates_square(ax, legend="lower right")
    return finish(ax, title, "active customers flagged (false-positive rate)", "churners caught (true-positive rate)")


def pr_curves(data: pd.DataFrame, *, base_rate: float, model: str = "model", recall: str = "recall",
              precision: str = "precision", auc: dict | None = None, title: str | None = None, ax=None):
    """Precision–recall curve per model with the base rate (a random score's precision) as a line.

    Parameters
    ----------
    data : pandas.DataFrame
        Precision–recall points of one or more models, stacked.
    base_rate : float
        The churn base rate, drawn as a horizontal line.
    model, recall, precision : str
        Column names (default ``"model"``, ``"recall"``, ``"precision"``).
    auc : dict, optional
        Model → area, shown in the legend (default ``None``: names only).
    title : str, optional
        The chart's title, stating the finding (default ``None``).
    ax : matplotlib.axes.Axes, optional
        An Axes to draw on (default ``None``: a new one).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = _model_curves(data, model, recall, precision, auc, "PR AUC", ax)
    ax.axhline(base_rate, color="grey", ls="--", lw=1, label=f"base rate {base_rate:.1%}")
    _rates_square(ax, legend="lower left")
    return finish(ax, title, "churners caught (recall)", "flagged who churn (precision)")


def calibration_curve(data: pd.DataFrame, *, model: str | None = "model", predicted: str = "mean_predicted",
                      observed: str = "observed_rate", title: str | None = None, ax=None):
    """Observed churn rate against mean predicted probability per bin, with the diagonal of perfection.

    ``data`` is :func:`cjlib.churn.calibration_table` output, stacked with a ``model`` column for several
    models (``model=None`` for one table).

    Parameters
    ----------
    data : pandas.DataFrame
        :func:`cjlib.churn.calibration_table`, one or several models stacked.
    model : str or None
        The model column; ``None`` or a missing column draws one line named "model" (default ``"model"``).
    predicted, observed : str
        Columns of the bin's mean predicted probability and observed churn rate
        (default ``"mean_predicted"``, ``"observed_rate"``).
    title : str, optional
        The chart's title, stating the finding (default ``None``).
    ax : matplotlib.axes.Axes, optional
        An Axes to draw on (default ``None``: a new one).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = new_ax(ax, figsize=(6, 5))
    groups = [("model", data)] if model is None or model not in data.columns else list(data.groupby(model, sort=True))
    colors = _colors([g for g, _ in groups])
    for name, d in groups:
        ax.plot(d[predicted], d[observed], marker="o", color=colors[str(name)], label=str(name), lw=2)
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="perfectly calibrated")
    _rates_square(ax, legend="upper left", top=1.0)
    return finish(ax, title, "predicted churn probability (bin mean)", "observed churn rate")


def lift_chart(data: pd.DataFrame, *, lift: str = "lift", title: str | None = None, ax=None):
    """Lift per score decile (1 = highest risk) as bars, with the no-model line at 1.

    Parameters
    ----------
    data : pandas.DataFrame
        :func:`cjlib.churn.lift_table`; the index is the score bin (1 = highest risk).
    lift : str
        The lift column (default ``"lift"``).
    title : str, optional
        The chart's title, stating the finding (default ``None``).
    ax : matplotlib.axes.Axes, optional
        An Axes to draw on (default ``None``: a new one).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = new_ax(ax)
    d = data.reset_index()
    bins = d.iloc[:, 0].astype(int)
    bars = ax.bar(bins.astype(str), d[lift], color=palette(["lift"])["lift"])
    ax.axhline(1.0, color="grey", ls="--", lw=1, label="no model (lift 1)")
    for b, v in zip(bars, d[lift], strict=True):
        ax.text(b.get_x() + b.get_width() / 2, v, f"{v:.2f}×", ha="center", va="bottom", fontsize=9)
    ax.legend(loc="upper right")
    ax.grid(axis="x", visible=False)
    return finish(ax, title, "risk decile (1 = highest predicted churn)", "lift (churn rate ÷ base rate)")


def gains_chart(data: pd.DataFrame | dict, *, base_rate: float | None = None,
                customers: str = "cum_customers_share", churners: str = "cum_churners_share",
                title: str | None = None, ax=None):
    """Cumulative gains: share of churners captured against share of customers contacted (by risk).

    ``data`` is a :func:`cjlib.churn.lift_table` or a dict model → lift table. With ``base_rate`` the
    perfect model's curve is drawn too.

    Parameters
    ----------
    data : pandas.DataFrame or dict
        A :func:`cjlib.churn.lift_table`, or model → lift table for one line each.
    base_rate : float, optional
        The churn base rate; when given (and not 0) the perfect model's curve is drawn (default ``None``).
    customers, churners : str
        Columns of the cumulative shares of customers and of churners
        (default ``"cum_customers_share"``, ``"cum_churners_share"``).
    title : str, optional
        The chart's title, stating the finding (default ``None``).
    ax : matplotlib.axes.Axes, optional
        An Axes to draw on (default ``None``: a new one).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = new_ax(ax, figsize=(6, 5))
    tables = data if isinstance(data, dict) else {"model": data}
    colors = _colors(tables)
    for name, d in tables.items():
        ax.plot(np.r_[0, d[customers]], np.r_[0, d[churners]], marker="o", color=colors[str(name)],
                label=str(name), lw=2)
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="random")
    if base_rate:
        ax.plot([0, base_rate, 1], [0, 1, 1], color="grey", ls=":", lw=1, label="perfect")
    _rates_square(ax, legend="lower right")
    return finish(ax, title, "customers contacted, highest risk first", "churners captured (cumulative gains)")


def importance_bars(data: pd.DataFrame, *, importance: str = "importance", std: str | None = "std",
                    top: int = 12, title: str | None = None, ax=None):
    """Horizontal bars of the ``top`` features by permutation importance (drop in ROC AUC), with ±1 sd.

    Parameters
    ----------
    data : pandas.DataFrame
        Permutation importance, indexed by feature.
    importance : str
        The importance column (default ``"importance"``).
    std : str or None
        The standard-deviation column for error bars; ``None`` or a missing column draws none (default ``"std"``).
    top : int
        How many features to show, largest first (default ``12``).
    title : str, optional
        The chart's title, stating the finding (default ``None``).
    ax : matplotlib.axes.Axes, optional
        An Axes to draw on (default ``None``: a new one).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    d = data.sort_values(importance, ascending=False).head(top)
    ax = new_ax(ax, figsize=(8, 0.35 * len(d) + 1.5))
    xerr = d[std] if std and std in d.columns else None
    ax.barh([str(i) for i in d.index], d[importance], xerr=xerr, color=palette(["imp"])["imp"])
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    return finish(ax, title, "drop in ROC AUC when shuffled", "")


def partial_dependence_lines(data: pd.DataFrame, *, feature: str | None = None, value: str = "value",
                             prob: str = "churn_probability", title: str | None = None, ax=None):
    """Partial dependence: average predicted churn as a feature varies.

    With ``feature`` one feature on its own scale; without, every feature of ``data`` on a common x axis
    (position in that feature's 5–95 % range), one line each.

    Parameters
    ----------
    data : pandas.DataFrame
        :func:`cjlib.churn.partial_dependence_table` (a ``feature`` column plus ``value`` and probability).
    feature : str, optional
        The one feature to draw (default ``None``: every feature on a common axis).
    value, prob : str
        Columns of the feature value and the average predicted probability
        (default ``"value"``, ``"churn_probability"``).
    title : str, optional
        The chart's title, stating the finding (default ``None``).
    ax : matplotlib.axes.Axes, optional
        An Axes to draw on (default ``None``: a new one).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = new_ax(ax)
    if feature is not None:
        d = data[data["feature"] == feature]
        ax.plot(d[value], d[prob], lw=2, marker=".")
        xlabel = feature
    else:
        colors = _colors(data["feature"])
        for name, d in data.groupby("feature", sort=True):
            v = d[value].to_numpy(dtype=float)
            span = v.max() - v.min()
            x = (v - v.min()) / span if span > 0 else np.zeros_like(v)
            ax.plot(x, d[prob], lw=2, color=colors[str(name)],
                    label=f"{name} ({v.min():.3g} → {v.max():.3g})")
        ax.legend(loc="best", fontsize=9)
        percent_axis(ax, "x")
        xlabel = "position in the feature's 5–95 % range (low → high)"
    percent_axis(ax, "y")
    return finish(ax, title, xlabel, "average predicted churn probability")


def value_distribution(values: pd.Series, *, title: str | None = None, ax=None):
    """Cumulative share of total value held by the most valuable customers (a Lorenz-style curve).

    ``values`` is one value per customer (e.g. ``expected_value`` of :func:`cjlib.value.customer_value`);
    the x axis is the share of customers, most valuable first, the y axis the share of total value they
    hold. Skewed value bends the curve up sharply.

    Parameters
    ----------
    values : pandas.Series
        One value per customer (any array-like of numbers).
    title : str, optional
        The chart's title, stating the finding (default ``None``).
    ax : matplotlib.axes.Axes, optional
        An Axes to draw on (default ``None``: a new one).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = new_ax(ax, figsize=(6, 4.5))
    v = np.sort(np.asarray(values, dtype=float))[::-1]
    total = v.sum()
    x = np.arange(1, len(v) + 1) / len(v)
    y = np.cumsum(v) / total if total > 0 else np.zeros(len(v))
    ax.plot(np.r_[0, x], np.r_[0, y], lw=2, color=palette(["value"])["value"])
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="every customer alike")
    _rates_square(ax, legend="lower right")
    return finish(ax, title, "customers, most valuable first", "share of total expected value")


def value_at_risk_bars(data: pd.DataFrame, *, value: str = "value_at_risk", title: str | None = None, ax=None):
    """Horizontal bars of total value at risk per group (persona or risk decile), in the table's order.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per group (the index labels the bars).
    value : str
        The value-at-risk column (default ``"value_at_risk"``).
    title : str, optional
        The chart's title, stating the finding (default ``None``).
    ax : matplotlib.axes.Axes, optional
        An Axes to draw on (default ``None``: a new one).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax = new_ax(ax, figsize=(7, 0.45 * len(data) + 1.5))
    labels = [str(i) for i in data.index]
    ax.barh(labels[::-1], data[value].to_numpy(dtype=float)[::-1], color=palette(["value"])["value"])
    # few ticks with thousands separators: "0 25000 50000 …" ran together under long persona names
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    name = str(data.index.name or "")
    ylabel = "risk decile (1 = riskiest)" if name == "risk_decile" else name.replace("_", " ") or None
    return finish(ax, title, "value at risk (churn probability × value if kept)", ylabel)
