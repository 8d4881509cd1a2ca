"""The churn report's chart titles (see :mod:`cjlib.findings.churn`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlib.findings import (
    MIN_GROUP,
    is_number,
    join,
    leader,
    number,
    pct,
    ranking,
    times,
)
from cjlib.findings.churn.sentences import (
    AUC_TOLERANCE,
    MIN_MOVE,
    _points,
    auc_margin,
    calibrated,
    drivers,
    moving_features,
    rate_text,
)


def roc_title(metrics: pd.DataFrame) -> str:
    """Title of the ROC chart: the model that ranks churners best, or that they rank alike.

    Parameters
    ----------
    metrics : DataFrame
        Index model with a ``roc_auc`` column.

    Returns
    -------
    str
        The title (always written): the one model best by more than :data:`AUC_TOLERANCE` and the
        sampling error of the AUCs (:func:`auc_margin`, with ``n`` and ``base_rate`` columns), the models
        tied at the top, or that all rank churners alike (within chance, when the sampling error is what
        ties them).
    """
    auc = metrics["roc_auc"]
    listed = ", ".join(f"{k} {number(v, '.3f')}" for k, v in auc.items() if is_number(v))
    ok = [k for k, v in auc.items() if is_number(v)]
    top = max(ok, key=lambda k: float(auc[k])) if ok else None
    tol = auc_margin(metrics, top, top) if top is not None else AUC_TOLERANCE
    r = ranking(auc, None, tolerance=tol)
    if r is None:
        within = " within chance" if tol > AUC_TOLERANCE and ranking(auc, None, tolerance=AUC_TOLERANCE) else ""
        return f"The models rank churners alike{within} (ROC AUC {listed})"
    if r.best is not None:
        rest = ", ".join(f"{k} {number(v, '.3f')}" for k, v in auc.items() if k != r.best and is_number(v))
        return f"{r.best} ranks churners best (ROC AUC {number(r.best_value, '.3f')}; {rest})"
    v = auc[[is_number(x) for x in auc]].astype(float)
    top = [k for k in v.index if v[k] >= v.max() - tol]
    rest = ", ".join(f"{k} {number(v[k], '.3f')}" for k in v.index if k not in top)
    above = f", above {rest}" if rest else ""
    return f"{join(top)} rank churners alike (ROC AUC {join(number(v[k], '.3f') for k in top)}){above}"



def pr_title(metrics: pd.DataFrame, model: str) -> str:
    """Title of the precision–recall chart: the chosen model's PR AUC against the base rate.

    Parameters
    ----------
    metrics : DataFrame
        Index model with ``pr_auc`` and ``base_rate`` columns.
    model : str
        The chosen model.

    Returns
    -------
    str
        The title (always written).
    """
    c = metrics.loc[model]
    return f"PR AUC {number(c['pr_auc'], '.3f')} for {model} against a base rate of {rate_text(c['base_rate'])}"



def calibration_title(max_gap, brier, brier_base, model: str) -> str:
    """Title of the calibration chart: "calibrated to within …" only when earned, else the gap.

    Parameters
    ----------
    max_gap : float
        The model's largest decile gap (:func:`cjlib.churn.max_calibration_gap`).
    brier, brier_base : float
        The model's Brier score and that of always predicting the base rate.
    model : str
        The model named.

    Returns
    -------
    str
        The title (always written); the Brier clause is added when ``brier`` is not below ``brier_base``.

    Examples
    --------
    >>> calibration_title(0.032, 0.10, 0.16, "gbm")
    'gbm is calibrated to within 3.2 percentage points in every decile'
    >>> calibration_title(0.73, 0.13, 0.014, "gbm")
    "gbm's predicted churn is off by up to 73.0 percentage points in a decile, and its Brier score (0.1300) is no better than always predicting the base rate (0.0140)"
    """
    if calibrated(max_gap, brier, brier_base):
        return f"{model} is calibrated to within {_points(max_gap)} in every decile"
    text = f"{model}'s predicted churn is off by up to {_points(max_gap)} in a decile"
    if float(brier) >= float(brier_base):
        text += (f", and its Brier score ({number(brier, '.4f')}) is no better than always predicting the "
                 f"base rate ({number(brier_base, '.4f')})")
    return text



def lift_title(lift: pd.DataFrame) -> str:
    """Title of the lift chart: the top decile's churn rate over the base rate.

    Parameters
    ----------
    lift : DataFrame
        :func:`cjlib.churn.lift_table` (``lift`` column, riskiest decile first).

    Returns
    -------
    str
        The title (always written); a top decile of fewer than ``MIN_GROUP`` customers is given with its
        counts, so a lift from three customers does not read like one from thousands.

    Examples
    --------
    >>> lift_title(pd.DataFrame({"lift": [0.0], "customers": [3], "churners": [0]}))
    'The top decile (3 customers, 0 churned) churns at 0.00× the base rate'
    >>> lift_title(pd.DataFrame({"lift": [1.42], "customers": [147], "churners": [147], "churn_rate": [1.0]}))
    'Every customer of the top decile churned: 1.42× the base rate'
    """
    if "churn_rate" in lift.columns and lift["churn_rate"].iloc[0] >= 1.0:  # the ceiling, however small
        return f"Every customer of the top decile{_few(lift)} churned: {times(lift['lift'].iloc[0], 2)} the base rate"
    return f"The top decile{_few(lift)} churns at {times(lift['lift'].iloc[0], 2)} the base rate"


def _few(lift: pd.DataFrame) -> str:
    """`` (3 customers, 0 churned)`` when the top decile holds fewer than ``MIN_GROUP`` customers, else ``""``."""
    if "customers" not in lift.columns or "churners" not in lift.columns:
        return ""
    n = lift["customers"].iloc[0]
    if not is_number(n) or n >= MIN_GROUP:
        return ""
    return f" ({number(n)} customer{'' if n == 1 else 's'}, {number(lift['churners'].iloc[0])} churned)"



def gains_title(lift: pd.DataFrame, model: str, *, top: int = 3) -> str:
    """Title of the gains chart: the share of churners the riskiest ``top`` deciles reach.

    Parameters
    ----------
    lift : DataFrame
        :func:`cjlib.churn.lift_table` (``cum_customers_share``, ``cum_churners_share``).
    model : str
        The model named in parentheses.
    top : int
        Riskiest deciles contacted (default ``3``).

    Returns
    -------
    str
        The title (always written).
    """
    share = lift["cum_customers_share"].iloc[top - 1]
    return (f"Contacting the riskiest {pct(share)} reaches {pct(lift['cum_churners_share'].iloc[top - 1])} of "
            f"churners ({model})")



def importance_title(imp: pd.DataFrame) -> str:
    """Title of the importance chart: the earned drivers, or that no feature clearly drives it.

    Parameters
    ----------
    imp : DataFrame
        :func:`cjlib.churn.permutation_importance_table`.

    Returns
    -------
    str
        "<driver> drives the churn prediction, then …" (up to three :func:`drivers`), else "No feature
        clearly drives the churn prediction" with the largest drop when any importance is a number.
    """
    d = drivers(imp)
    if d:
        return f"{d[0]} drives the churn prediction" + (f", then {join(d[1:3])}" if len(d) > 1 else "")
    top = imp["importance"].astype(float)
    top = top[np.isfinite(top)]
    if len(top):
        return (f"No feature clearly drives the churn prediction (largest drop in ROC AUC when shuffled: "
                f"{number(top.max(), '.3f')})")
    return "No feature clearly drives the churn prediction"



def pdp_title(pdp: pd.DataFrame) -> str:
    """Title of the partial-dependence chart: the feature that moves predicted churn most, if one does.

    Parameters
    ----------
    pdp : DataFrame
        :func:`cjlib.churn.partial_dependence_table`.

    Returns
    -------
    str
        "Predicted churn moves most with <feature>: low → high" when one feature moves it most (the only
        one that moves it, or ahead of the next by more than :data:`AUC_TOLERANCE`), "Predicted churn moves
        with …" (up to three) on a tie, or that no feature moves it by :data:`MIN_MOVE` (always written).
    """
    ends = moving_features(pdp)
    if ends.empty:
        return (f"No feature shown moves the average predicted churn by {pct(MIN_MOVE)} or more across its "
                f"range")
    move = (ends["last"] - ends["first"]).abs()
    top = leader(move, None, tolerance=AUC_TOLERANCE) if len(move) > 1 else (move.index[0], move.iloc[0])
    if top is None:
        return f"Predicted churn moves with {join(ends.index[:3])}"
    f = top[0]
    return (f"Predicted churn moves most with {f}: {rate_text(ends.loc[f, 'first'])} → "
            f"{rate_text(ends.loc[f, 'last'])}")
