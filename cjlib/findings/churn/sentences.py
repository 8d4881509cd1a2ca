"""The churn report's sentences (see :mod:`cjlib.findings.churn`): window, label, calibration, lift, drivers and
the Findings summary; the model comparison is in :mod:`cjlib.findings.churn.comparison`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlib.churn import TAIL_SHARE
from cjlib.findings import (
    MIN_GROUP,
    is_number,
    join,
    number,
    pct,
    times,
)
from cjlib.findings.churn.comparison import (  # noqa: F401 (re-exported: the model comparison lives there)
    AUC_TOLERANCE,
    DOMINANT_SHARE,
    LEAKAGE_AUC,
    NAMES,
    UNIDENTIFIED,
    auc_margin,
    auc_se,
    bgnbd_sentence,
    chance_sentence,
    choice_sentence,
    dominant_feature,
    explained_sentence,
    leakage_warning,
    model_sentence,
    rate_text,
    recent_sentence,
    unidentified,
    worse_than_baselines,
)

MAX_CALIBRATION_GAP = 0.05  # largest decile gap (observed − predicted) that still reads "calibrated"
MIN_DROP = 0.005  # permutation importance (drop in ROC AUC) a driver must exceed, and twice its std
MIN_MOVE = 0.02  # change in average predicted churn across a feature's range that counts as moving it

#: Why a section that needs the model is left out when no model could be fitted.
NO_MODEL = "no churn model could be fitted for this data (the reason is given under the label definition)."


#: What each section of 04 computes, shown (as a finding) only when the section runs.
METHOD = {
    "label": ("A customer seen before the cutoff is **churned** when they have no activity event in the window "
              "`[cutoff, cutoff + churn window)` (start inclusive, end exclusive); customers first seen after the "
              "cutoff are not scored. Features use only events and feedback before the cutoff, so the future "
              "cannot leak in. Validation is out of time when the history allows (trained one window earlier, "
              "tested at the cutoff), else cross-validation over customers at the cutoff."),
    "models": ("Logistic regression (the baseline) and regularized gradient boosting, each with all preprocessing "
               "inside one fitted pipeline, and their ensemble (the mean of the two predicted probabilities, "
               "chosen only when it ranks churners better than both), against BG/NBD fitted on the activity days before the cutoff. The "
               "classes are not reweighted — reweighting would push predicted probabilities away from the real "
               "churn rate; the boosting model is calibrated (sigmoid, 3 folds) and the evaluation is "
               "imbalance-aware: PR AUC beside the base rate (the PR AUC of a random score), lift by decile. "
               "BG/NBD's churn score is P(no activity in the window): raw P(alive) is 1 for every customer "
               "without a repeat visit, so it would rank one-time customers as the safest of all."),
    "calibration": ("Customers are cut into ten equal groups by predicted probability; a calibrated model's "
                    "groups lie on the diagonal (predicted = observed churn rate)."),
    "lift": ("Customers ranked by predicted churn, highest first, in ten equal groups. Lift is a group's churn "
             "rate over the base rate; gains is the share of all churners found by contacting the top groups."),
    "drivers": ("Permutation importance: how much the test ROC AUC drops when one feature is shuffled (held-out "
                "customers). Partial dependence: the average predicted churn as one feature varies, others as "
                "they are."),
    "personas": "The run's personas (01's, fitted on the whole log, so they also reflect behaviour after the "
                "cutoff): this describes who churned, it does not predict it.",
    "risk": ("The list is not the validation set: it holds the customers active in the last churn window, scored "
             "as of the data's end by the chosen model refitted on the latest window whose outcome is known. "
             "Reasons (up to three): the drivers whose replacement by a typical value (median, or most frequent "
             "value) lowers that customer's predicted churn the most. The full list is written to CSV under "
             "`output_dir`; this report shows only aggregates and a few pseudonymized examples."),
    "value": ("Value at risk = churn probability × the value the customer brings over the horizon if kept "
              "(BG/NBD's expected purchases given the customer is still active × Gamma-Gamma's expected spend). "
              "BG/NBD's plain expected value already discounts for dropout, so multiplying it by the churn "
              "probability would count the loss twice."),
}


# ------------------------------------------------------------------------------------------ window
def plan_sentence(plan, *, n_splits: int | None = None, design: str | None = None,
                  fallback: str | None = None) -> str:
    """How the window was chosen and which validation design the history allows (from the plan).

    Parameters
    ----------
    plan : WindowPlan
        From :func:`cjlib.churn.plan_window`.
    n_splits : int, optional
        Folds used under cross-validation.
    design, fallback : str, optional
        The design the validation ran (:attr:`cjlib.churn.ChurnResult.design`, default the plan's) and,
        when it fell back from out of time, why (``ChurnResult.info["fallback"]``).

    Returns
    -------
    str
        The plan's ``reason`` followed by the **Validation:** sentence (always written).

    Examples
    --------
    >>> from types import SimpleNamespace as N
    >>> import pandas as pd
    >>> p = N(reason="The churn window is 273 days, as given.", design="cross_validation", window_days=273,
    ...       cutoff=pd.Timestamp("1997-10-01"), train_cutoff=None)
    >>> print(plan_sentence(p, n_splits=5))
    The churn window is 273 days, as given. **Validation:** 5-fold cross-validation over customers at the cutoff 1997-10-01 — the history before it holds one 273-day window, not the two an out-of-time check needs (one to train on, one to test) — so the scores do not show how the model ages from one period to the next.
    """
    design = design or plan.design
    if design == "out_of_time":
        design = (f"**Validation:** out of time — trained on the window from {plan.train_cutoff:%Y-%m-%d} and "
                  f"tested on the window from {plan.cutoff:%Y-%m-%d}, which the model never saw.")
    else:
        folds = f"{n_splits}-fold " if n_splits else ""
        why = (f"the window before it cannot train a model ({fallback.split(': ', 1)[-1].strip().rstrip('.')})"
               if fallback else f"the history before it holds one {plan.window_days}-day window, not the two an "
               f"out-of-time check needs (one to train on, one to test)")
        design = (f"**Validation:** {folds}cross-validation over customers at the cutoff {plan.cutoff:%Y-%m-%d} "
                  f"— {why} — so the scores do not show how the model ages from one period to the next.")
    share = getattr(plan, "last_week_share", None)
    tail = "" if not (is_number(share) and share < TAIL_SHARE) else (
        f" **The last week looks cut short:** {pct(share)} as many customers were active in the log's last 7 days "
        f"as in a typical week before them (the median of the four before), so customers quiet then may look "
        f"churned only because the export stopped; if the last week is partial, set end_date to the end of the "
        f"last complete week.")
    return f"{plan.reason} {design}{tail}"


def no_model_sentence(exc) -> str:
    """Why the churn model cannot be fitted, from the ``DataError`` that stopped it (for
    ``report.left_out``).

    Parameters
    ----------
    exc : DataError or Exception
        The error that stopped the fit; its ``message`` attribute when set, else ``str(exc)``.

    Returns
    -------
    str
        The message, stripped, ending in exactly one full stop.

    Examples
    --------
    >>> no_model_sentence(ValueError(" too few customers before the cutoff.. "))
    'too few customers before the cutoff.'
    """
    msg = getattr(exc, "message", None) or str(exc)
    msg = msg.strip().rstrip(".")
    return f"{msg}."


# ------------------------------------------------------------------------------------------ label
def _days(window) -> int:
    """A churn window as its number of days (an int count, or a Timedelta of whole days)."""
    return int(window / pd.Timedelta(days=1)) if isinstance(window, pd.Timedelta) else int(window)


def label_sentence(*, activity: str, window, cutoff: pd.Timestamp, y_test: pd.Series,
                   train_cutoff: pd.Timestamp | None, y_train: pd.Series, n_features: int, has_customers: bool,
                   has_feedback: bool) -> str:
    """The label line: churn definition, base rate in the test (and out-of-time training) window, features.

    Parameters
    ----------
    activity : str
        What counts as activity (:func:`activity_text`).
    window : int or Timedelta
        The churn window (days, or a Timedelta of whole days).
    cutoff, train_cutoff : Timestamp
        Start of the test window and of the training window (None under cross-validation).
    y_test, y_train : Series of 0/1
        The labels of the two windows.
    n_features : int
    has_customers, has_feedback : bool
        Whether customer attributes and feedback fed the features.

    Returns
    -------
    str
    """
    train = ("" if train_cutoff is None else
             f" (training period from {train_cutoff:%Y-%m-%d}: {rate_text(y_train.mean())} of {number(len(y_train))})")
    return (f"**Label:** no {activity} in the {_days(window)} days from {cutoff:%Y-%m-%d}. "
            f"**{rate_text(y_test.mean())}** of the {number(len(y_test))} customers seen before the cutoff "
            f"churned{train}. {number(n_features)} features per customer"
            f"{'' if has_customers else ', no customer attributes'}{'' if has_feedback else ', no feedback'}.")


# ------------------------------------------------------------------------------------------ calibration
def calibrated(max_gap, brier, brier_base) -> bool:
    """Whether the probabilities earn "calibrated": Brier below the base-rate Brier and no decile off by
    more than :data:`MAX_CALIBRATION_GAP`.

    Parameters
    ----------
    max_gap : float
        The largest decile gap, observed − predicted (its absolute value is used;
        :func:`cjlib.churn.max_calibration_gap`).
    brier, brier_base : float
        The model's Brier score and that of always predicting the base rate.

    Returns
    -------
    bool
        ``True`` only when all three are numbers, ``brier < brier_base`` and ``|max_gap|`` is at most
        :data:`MAX_CALIBRATION_GAP`.

    Examples
    --------
    >>> calibrated(0.03, 0.10, 0.16), calibrated(0.03, 0.20, 0.16), calibrated(float("nan"), 0.10, 0.16)
    (True, False, False)
    """
    return (is_number(max_gap) and is_number(brier) and is_number(brier_base)
            and float(brier) < float(brier_base) and abs(float(max_gap)) <= MAX_CALIBRATION_GAP)


def _points(gap) -> str:
    return f"{number(abs(float(gap)) * 100, '.1f')} percentage points"


def calibration_sentence(max_gap, brier, brier_base) -> str:
    """The calibration line of the findings (calibrated only when earned).

    Parameters
    ----------
    max_gap : float
        The chosen model's largest decile gap (:func:`cjlib.churn.max_calibration_gap`).
    brier, brier_base : float
        The model's Brier score and that of always predicting the base rate.

    Returns
    -------
    str
        "Probabilities are calibrated …" when :func:`calibrated`, else "Probabilities are not
        calibrated …" (always written).
    """
    if calibrated(max_gap, brier, brier_base):
        return (f"Probabilities are calibrated to within {_points(max_gap)} per decile (Brier "
                f"{number(brier, '.4f')} against {number(brier_base, '.4f')} for the base rate).")
    text = f"Probabilities are not calibrated: a decile is off by up to {_points(max_gap)}"
    if float(brier) >= float(brier_base):
        text += (f" and the Brier score ({number(brier, '.4f')}) is no better than always predicting the base "
                 f"rate ({number(brier_base, '.4f')})")
    return text + "; read them as a ranking, not as churn chances."


# ------------------------------------------------------------------------------------------ lift
def lift_sentence(lift: pd.DataFrame, *, top: int = 3) -> str:
    """The lift line of the findings.

    Parameters
    ----------
    lift : DataFrame
        :func:`cjlib.churn.lift_table` (``lift``, ``cum_customers_share``, ``cum_churners_share``).
    top : int
        Riskiest deciles whose share of churners is given (default ``3``).

    Returns
    -------
    str
        The sentence (always written).
    """
    n = lift["customers"].iloc[0] if "customers" in lift.columns else None
    few = (f" ({number(n)} customer{'' if n == 1 else 's'})" if is_number(n) and n < MIN_GROUP else "")
    if "churn_rate" in lift.columns and lift["churn_rate"].iloc[0] >= 1.0:  # a small lift here is the ceiling
        head = (f"Every one of the riskiest {pct(lift['cum_customers_share'].iloc[0])}{few} churned "
                f"({times(lift['lift'].iloc[0], 2)} the base rate, the most any ranking can reach)")
    else:
        head = (f"The riskiest {pct(lift['cum_customers_share'].iloc[0])}{few} churn at "
                f"{times(lift['lift'].iloc[0], 2)} the base rate")
    return (f"{head}; the riskiest {pct(lift['cum_customers_share'].iloc[top - 1])} hold "
            f"{pct(lift['cum_churners_share'].iloc[top - 1])} of all churners.")


# ------------------------------------------------------------------------------------------ drivers
def drivers(imp: pd.DataFrame, *, min_drop: float = MIN_DROP) -> list[str]:
    """Features whose permutation importance is clearly above zero: a mean drop in ROC AUC above
    ``min_drop`` and above twice its standard deviation, in importance order.

    Parameters
    ----------
    imp : DataFrame
        :func:`cjlib.churn.permutation_importance_table` (index feature, ``importance``, optional ``std``;
        a missing std counts as 0).
    min_drop : float
        The mean drop in ROC AUC a driver must exceed (default ``MIN_DROP``, 0.005).

    Returns
    -------
    list of str
        The drivers' feature names, largest importance first; empty when no feature clears both bars.

    Examples
    --------
    >>> imp = pd.DataFrame({"importance": [0.05, 0.012, 0.004, 0.02], "std": [0.01, 0.008, 0.0, 0.001]},
    ...                    index=["csat_mean", "noisy", "tiny", "recency_days"])
    >>> drivers(imp)
    ['csat_mean', 'recency_days']
    """
    v = imp["importance"].astype(float)
    s = imp["std"].astype(float).fillna(0.0) if "std" in imp else pd.Series(0.0, index=imp.index)
    ok = np.isfinite(v) & (v > min_drop) & (v > 2 * s)
    return list(v[ok].sort_values(ascending=False, kind="stable").index)


def moving_features(pdp: pd.DataFrame, *, min_move: float = MIN_MOVE) -> pd.DataFrame:
    """Per feature of a partial-dependence table, the average predicted churn at the low and high end
    (``first``, ``last``), only for features whose ends differ by at least ``min_move``; steepest first.

    Parameters
    ----------
    pdp : DataFrame
        :func:`cjlib.churn.partial_dependence_table` (long form: ``feature``, ``value``,
        ``churn_probability``, each feature's grid from low to high).
    min_move : float
        The change between the two ends a feature must reach (default ``MIN_MOVE``, 0.02).

    Returns
    -------
    DataFrame
        Index feature, columns ``first`` and ``last``, ordered by the absolute change, largest first; empty
        (with those columns) when ``pdp`` is empty or no feature moves enough.

    Examples
    --------
    >>> pdp = pd.DataFrame({"feature": ["a", "a", "b", "b"], "value": [0, 1, 0, 1],
    ...                     "churn_probability": [0.2, 0.5, 0.3, 0.31]})
    >>> moving_features(pdp).to_dict("index")
    {'a': {'first': 0.2, 'last': 0.5}}
    """
    if pdp.empty:
        return pd.DataFrame(columns=["first", "last"])
    ends = pdp.groupby("feature", sort=False)["churn_probability"].agg(["first", "last"])
    move = (ends["last"] - ends["first"]).abs()
    return ends[move >= min_move].loc[lambda e: (e["last"] - e["first"]).abs().sort_values(
        ascending=False, kind="stable").index]


def drivers_sentence(imp: pd.DataFrame, pdp: pd.DataFrame, *, top: int = 5) -> str:
    """The drivers line: earned drivers with their drop in ROC AUC, and partial dependence for the
    features that move the prediction.

    Parameters
    ----------
    imp : DataFrame
        :func:`cjlib.churn.permutation_importance_table`.
    pdp : DataFrame
        :func:`cjlib.churn.partial_dependence_table`.
    top : int
        Most drivers listed (default ``5``).

    Returns
    -------
    str
        The **Top drivers** (or **No clear driver**) sentence, then the partial-dependence ends of the
        features that move the prediction when there are any (always written).
    """
    d = drivers(imp)[:top]
    if d:
        text = ("**Top drivers** (drop in ROC AUC when shuffled): "
                + ", ".join(f"{f} ({number(imp.loc[f, 'importance'], '.3f')})" for f in d) + ".")
    else:
        text = (f"**No clear driver:** shuffling any one feature lowers the ROC AUC by no more than "
                f"{MIN_DROP} or by less than twice its spread across repeats.")
    ends = moving_features(pdp)
    if not ends.empty:
        text += (" Partial dependence, low → high end of the 5–95 % range: "
                 + "; ".join(f"{f} {rate_text(r['first'])} → {rate_text(r['last'])}" for f, r in ends.iterrows())
                 + ".")
    return text


# ------------------------------------------------------------------------------------------ value
def _money(x) -> str:
    x = float(x)
    return number(x, ",.0f") if abs(x) >= 100 else number(x, ",.2f")


def summary_lines(*, base_rate: float, n_scored: int, activity: str, window, cutoff: pd.Timestamp,
                  metrics: pd.DataFrame, model: str, max_gap, lift: pd.DataFrame, imp: pd.DataFrame,
                  persona: str | None = None, design: str = "out_of_time", attributes=(),
                  at_risk=None, value_at_risk_total=None, recent=None) -> list[str]:
    """The Findings section of 04 as Markdown bullets (each earned; see the module docstring).

    Parameters
    ----------
    base_rate : float
    n_scored : int
    activity : str
        What counts as activity (:func:`activity_text`).
    window : int or Timedelta
        The churn window (days, or a Timedelta of whole days).
    cutoff : Timestamp
    metrics : DataFrame
        :attr:`cjlib.churn.ChurnResult.metrics`.
    model : str
        The chosen model.
    max_gap : float
        The chosen model's largest calibration gap.
    lift, imp : DataFrame
        :func:`cjlib.churn.lift_table` of the chosen model, :func:`cjlib.churn.permutation_importance_table`.
    persona : str, optional
        :func:`persona_sentence`.
    design : {"out_of_time", "cross_validation"}
    attributes : sequence of str
        Customer attribute columns (for the leakage warning).
    at_risk : AtRisk, optional
    value_at_risk_total : float, optional
    recent : mapping, optional
        :func:`cjlib.churn.recent_roc_auc` (for the leakage warning).

    Returns
    -------
    list of str
    """
    c = metrics.loc[model]
    others = ", ".join(f"{NAMES[k] if k == 'bgnbd' else k} {number(metrics.loc[k, 'roc_auc'], '.3f')}"
                       for k in metrics.index if k != model)
    how = ("Trained one window earlier and tested out of time" if design == "out_of_time" else
           "Cross-validated over customers at the cutoff")
    lines = [f"- **{rate_text(base_rate)}** of {number(n_scored)} customers had no {activity} in the "
             f"{_days(window)} days after {cutoff:%Y-%m-%d}.",
             f"- {how}, **{model}** ranks churners with ROC AUC **{number(c['roc_auc'], '.3f')}** ({others}); "
             f"PR AUC {number(c['pr_auc'], '.3f')} against a base rate of {rate_text(base_rate)}."]
    for extra in (chance_sentence(metrics, model), recent_sentence(metrics, model, recent)):
        if extra:
            lines.append(f"- {extra}")
    for extra in (worse_than_baselines(metrics, model), leakage_warning(metrics, model, imp, attributes, recent)):
        if extra:
            lines.append(f"- {extra}")
    lines.append(f"- {calibration_sentence(max_gap, c['brier'], c['brier_base'])}")
    lines.append(f"- {lift_sentence(lift)}")
    d = drivers(imp)
    lines.append(f"- Strongest drivers: {join(d[:3])}." if d else "- No feature clearly drives the prediction.")
    if persona:
        lines.append(f"- By persona: {persona if persona.startswith('**') else persona[0].lower() + persona[1:]}")
    if at_risk is not None:
        text = (f"- **Act on:** {number(len(at_risk.table))} customers active in the last {at_risk.window_days} days, "
                f"scored as of {at_risk.as_of:%Y-%m-%d}")
        if is_number(value_at_risk_total):
            text += f", with {_money(value_at_risk_total)} of value at risk in total (in the log's revenue units)"
        lines.append(text + ".")
    return lines


