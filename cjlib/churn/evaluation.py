"""Evaluation of churn scores: lift and gains, calibration, ROC/PR AUC and curve points."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cjlib.errors import DataError
from cjlib.validation import check_choice


# ------------------------------------------------------------------------------------------ evaluation
def _check_scores(y_true, score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(float)
    s = np.asarray(score, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"y_true and score must be 1-d and of equal length, got {y.shape} and {s.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold 0/1 labels")
    if np.isnan(s).any():
        raise ValueError("score holds NaN")
    return y.astype(int), s


def lift_table(y_true, score, *, n_bins: int = 10) -> pd.DataFrame:
    """Lift and cumulative gains by score bin (decile by default), highest risk first.

    Customers are ranked by ``score`` from highest to lowest (ties keep their input order) and cut into
    ``n_bins`` groups of equal size (sizes differ by at most one; customer at rank ``i`` of ``n`` goes to
    bin ``floor(i * n_bins / n) + 1``).

    Parameters
    ----------
    y_true : array-like of 0/1
        1 = churned.
    score : array-like of float
        Higher = more at risk.
    n_bins : int, default 10

    Returns
    -------
    DataFrame
        Index ``bin`` (1 = highest scores): ``customers``, ``churners``, ``churn_rate``, ``lift``
        (churn_rate / base rate), ``cum_customers_share``, ``cum_churners_share`` (gains: share of all
        churners captured so far), ``cum_lift``, ``min_score``, ``max_score``.

    Examples
    --------
    >>> lift_table([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], n_bins=2)["lift"].tolist()
    [1.0, 1.0]
    """
    y, s = _check_scores(y_true, score)
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or not 1 <= n_bins <= len(y):
        raise ValueError(f"n_bins must be an integer between 1 and the number of customers, got {n_bins!r}")
    order = np.argsort(-s, kind="stable")
    n = len(y)
    b = np.arange(n) * n_bins // n  # 0-based bin by rank
    ys, ss = y[order], s[order]
    cnt = np.bincount(b, minlength=n_bins)
    ch = np.bincount(b, weights=ys, minlength=n_bins)
    base = y.mean()
    rate = ch / cnt
    out = pd.DataFrame({
        "customers": cnt,
        "churners": ch.astype(np.int64),
        "churn_rate": rate,
        "lift": rate / base if base > 0 else np.nan,
        "cum_customers_share": np.cumsum(cnt) / n,
        "cum_churners_share": np.cumsum(ch) / ch.sum() if ch.sum() > 0 else np.nan,
        "cum_lift": (np.cumsum(ch) / np.cumsum(cnt)) / base if base > 0 else np.nan,
        "min_score": pd.Series(ss).groupby(b).min().to_numpy(),
        "max_score": pd.Series(ss).groupby(b).max().to_numpy(),
    }, index=pd.RangeIndex(1, n_bins + 1, name="bin"))
    return out


def calibration_table(y_true, prob, *, n_bins: int = 10) -> pd.DataFrame:
    """Observed churn rate against mean predicted probability in equal-size bins of the prediction.

    Parameters
    ----------
    y_true : array-like
        0/1 churn labels (1-d).
    prob : array-like
        Predicted churn probabilities in [0, 1], as long as ``y_true``; no NaN.
    n_bins : int, default 10
        Number of bins; customers are split by rank of ``prob`` into bins of (nearly) equal size.

    Returns
    -------
    DataFrame
        Index ``bin`` (1 = lowest predictions): ``customers``, ``mean_predicted``, ``observed_rate``,
        ``gap`` (observed − predicted).
    """
    y, p = _check_scores(y_true, prob)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("prob must lie in [0, 1]")
    order = np.argsort(p, kind="stable")
    n = len(y)
    b = np.empty(n, np.int64)
    b[order] = np.arange(n) * n_bins // n
    cnt = np.bincount(b, minlength=n_bins)
    mp = np.bincount(b, weights=p, minlength=n_bins) / cnt
    obs = np.bincount(b, weights=y, minlength=n_bins) / cnt
    return pd.DataFrame({"customers": cnt, "mean_predicted": mp, "observed_rate": obs, "gap": obs - mp},
                        index=pd.RangeIndex(1, n_bins + 1, name="bin"))


def classification_metrics(y_true, prob, *, n_bins: int = 10) -> dict[str, float]:
    """ROC AUC, PR AUC (average precision) with the base rate, Brier score and top-bin lift.

    Parameters
    ----------
    y_true : array-like
        0/1 churn labels (1-d); both classes must occur (else :class:`DataError`).
    prob : array-like
        Predicted churn probabilities (or scores), as long as ``y_true``; no NaN.
    n_bins : int, default 10
        Number of bins of :func:`lift_table`; the top bin gives the lift and capture.

    Returns
    -------
    dict
        ``n``, ``base_rate`` (churn share: the PR AUC of a random score), ``roc_auc``, ``pr_auc``,
        ``brier``, ``brier_base`` (Brier of always predicting the base rate), ``top_decile_lift``,
        ``top_decile_capture`` (share of churners in the top bin).
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y, p = _check_scores(y_true, prob)
    if len(np.unique(y)) < 2:
        raise DataError("y_true holds a single class: AUCs are undefined", column="churned", rule="single_class")
    base = float(y.mean())
    lt = lift_table(y, p, n_bins=n_bins)
    return {
        "n": len(y),
        "base_rate": base,
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, np.clip(p, 0, 1))),
        "brier_base": base * (1 - base),
        "top_decile_lift": float(lt["lift"].iloc[0]),
        "top_decile_capture": float(lt["cum_churners_share"].iloc[0]),
    }


CURVE_STEP = 1e-3  # curve points closer than this (on either 0–1 axis) to the one before are not drawn apart


def curve_table(y_true, scores: Mapping[str, np.ndarray] | pd.DataFrame, *, kind: str = "roc") -> pd.DataFrame:
    """ROC or precision–recall curve points for several scores, in long form for plotting.

    Parameters
    ----------
    y_true : array-like of 0/1
    scores : mapping or DataFrame
        Score name → scores (higher = more at risk).
    kind : {"roc", "pr"}, default "roc"

    Returns
    -------
    DataFrame
        ``model``, and ``fpr``, ``tpr`` (ROC) or ``recall``, ``precision`` (PR). Only the points a chart
        can tell apart are kept (:func:`_drawn`): the first, the last, and each point that enters a new
        cell of a 1,000 × 1,000 grid over the unit square (scikit-learn's ``drop_intermediate`` first
        removes points inside straight stretches). The line drawn through them stays within 1/1,000 of
        each axis of the full curve — under a pixel — while 380,000 held-out customers give a few
        thousand points per model instead of up to 380,000.

    Examples
    --------
    >>> t = curve_table([0, 0, 1, 1], {"m": [0.1, 0.4, 0.35, 0.8]})
    >>> t[["fpr", "tpr"]].to_numpy().tolist()
    [[0.0, 0.0], [0.0, 0.5], [0.5, 0.5], [0.5, 1.0], [1.0, 1.0]]
    """
    from sklearn.metrics import precision_recall_curve, roc_curve

    check_choice("kind", kind, ("roc", "pr"))
    parts = []
    for name in scores:
        y, s = _check_scores(y_true, np.asarray(scores[name]))
        if kind == "roc":
            a, b, _ = roc_curve(y, s)
            keep = _drawn(a, b)
            parts.append(pd.DataFrame({"model": name, "fpr": a[keep], "tpr": b[keep]}))
        else:
            prec, rec, _ = precision_recall_curve(y, s, drop_intermediate=True)
            keep = _drawn(rec, prec)
            parts.append(pd.DataFrame({"model": name, "recall": rec[keep], "precision": prec[keep]}))
    return pd.concat(parts, ignore_index=True)


def _drawn(x: np.ndarray, y: np.ndarray, step: float = CURVE_STEP) -> np.ndarray:
    """Which points of a curve in the unit square a chart can tell apart: the first and last, and every
    point whose ``step`` grid cell differs from the point before's."""
    cx, cy = np.floor(np.asarray(x) / step), np.floor(np.asarray(y) / step)
    keep = np.ones(len(cx), dtype=bool)
    keep[1:] = (cx[1:] != cx[:-1]) | (cy[1:] != cy[:-1])
    keep[-1] = True
    return keep


def _evaluate(scores: dict, y: pd.Series, index: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame]:
    scores = pd.DataFrame(scores, index=index)
    metrics = pd.DataFrame({k: classification_metrics(y, scores[k]) for k in scores}).T
    metrics.index.name = "model"
    metrics["n"] = metrics["n"].astype(np.int64)
    return scores, metrics



def calibration_by_model(y_true, scores: Mapping[str, np.ndarray] | pd.DataFrame, *, n_bins: int = 10) -> pd.DataFrame:
    """:func:`calibration_table` of every score, stacked in long form with a ``model`` column.

    Parameters
    ----------
    y_true : array-like of 0/1
    scores : mapping or DataFrame
        Score name → predicted probabilities.
    n_bins : int, default 10

    Returns
    -------
    DataFrame
        ``model``, ``bin`` and the :func:`calibration_table` columns, one row per model and bin.

    Examples
    --------
    >>> cal = calibration_by_model([0, 1, 1, 0], {"a": [0.1, 0.9, 0.8, 0.3], "b": [0.5] * 4}, n_bins=2)
    >>> cal[["model", "bin", "mean_predicted", "observed_rate"]].round(3).values.tolist()
    [['a', 1, 0.2, 0.0], ['a', 2, 0.85, 1.0], ['b', 1, 0.5, 0.5], ['b', 2, 0.5, 0.5]]
    """
    return pd.concat({k: calibration_table(y_true, scores[k], n_bins=n_bins) for k in scores},
                     names=["model"]).reset_index()


def max_calibration_gap(calibration: pd.DataFrame, model: str) -> float:
    """The largest |observed − predicted| over ``model``'s bins of :func:`calibration_by_model`.

    Parameters
    ----------
    calibration : DataFrame
        :func:`calibration_by_model` (``model`` and ``gap`` columns).
    model : str

    Returns
    -------
    float

    Examples
    --------
    >>> cal = pd.DataFrame({"model": ["a", "a", "b"], "gap": [0.02, -0.07, 0.5]})
    >>> max_calibration_gap(cal, "a")
    0.07
    """
    return float(calibration.loc[calibration["model"] == model, "gap"].abs().max())


def lift_by_model(y_true, scores: Mapping[str, np.ndarray] | pd.DataFrame, *, n_bins: int = 10) -> dict[str, pd.DataFrame]:
    """Score name → :func:`lift_table` (for a gains chart comparing models).

    Parameters
    ----------
    y_true : array-like of 0/1
    scores : mapping or DataFrame
        Score name → scores (higher = more at risk).
    n_bins : int, default 10

    Returns
    -------
    dict of str to DataFrame

    Examples
    --------
    >>> lift_by_model([1, 0, 1, 0], {"a": [0.9, 0.8, 0.7, 0.1]}, n_bins=2)["a"]["lift"].tolist()
    [1.0, 1.0]
    """
    return {k: lift_table(y_true, scores[k], n_bins=n_bins) for k in scores}


def recent_roc_auc(res) -> dict:
    """The chosen model's ROC AUC among the customers active in the window before the cutoff — the kind
    of customer the at-risk list holds — beside the whole validation set's, which also counts customers
    long gone before the cutoff (near-certain churners that any recency feature ranks first).

    Parameters
    ----------
    res : ChurnResult
        :func:`cjlib.churn.validate`'s result: ``X_test`` needs ``activity_days_recent`` (the active days
        in the window before the cutoff), ``scores`` the chosen model's column.

    Returns
    -------
    dict
        ``n_recent`` (customers active in the window before the cutoff), ``churn_rate_recent``,
        ``mean_predicted_recent`` (the model's mean probability over them) and ``roc_auc_recent`` (NaN when
        that group is empty or holds one class); ``{}`` when ``X_test`` has no ``activity_days_recent``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> X = pd.DataFrame({"activity_days_recent": [0, 0, 2, 1, 3, 1]})
    >>> res = SimpleNamespace(X_test=X, y_test=pd.Series([1, 1, 1, 0, 0, 1]), model="gbm",
    ...                       scores=pd.DataFrame({"gbm": [0.9, 0.95, 0.6, 0.2, 0.3, 0.1]}))
    >>> {k: round(v, 3) for k, v in recent_roc_auc(res).items()}
    {'n_recent': 4, 'churn_rate_recent': 0.5, 'mean_predicted_recent': 0.3, 'roc_auc_recent': 0.5}
    """
    from sklearn.metrics import roc_auc_score

    if "activity_days_recent" not in res.X_test.columns:
        return {}
    recent = res.X_test["activity_days_recent"].to_numpy() > 0
    y = np.asarray(res.y_test, dtype=float)[recent]
    s = res.scores[res.model].to_numpy(dtype=float)[recent]
    auc = float(roc_auc_score(y, s)) if len(np.unique(y)) == 2 else float("nan")
    return {"n_recent": int(recent.sum()), "churn_rate_recent": float(y.mean()) if len(y) else float("nan"),
            "mean_predicted_recent": float(s.mean()) if len(s) else float("nan"), "roc_auc_recent": auc}
