"""Sentences and chart titles of the churn report (04), built only from what the numbers earn.

- "calibrated" only when the Brier score beats always predicting the base rate and no decile is off
  by more than :data:`MAX_CALIBRATION_GAP`; otherwise the gap is stated plainly;
- a chosen model that ranks churners worse than the logistic baseline or BG/NBD is said to be worse;
- a ROC AUC of :data:`LEAKAGE_AUC` or more gets a leakage warning;
- "drives" only for features whose permutation importance is clearly above zero
  (:func:`drivers`); partial dependence only for features that move the prediction;
- churn by persona names the most and least churning persona only from an earned ranking.
"""

from __future__ import annotations

from collections.abc import Mapping

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
    rates_differ,
    times,
)
from cjlib.findings.personas import noun, two_rates

__all__ = [
    "METHOD",
    "AUC_TOLERANCE",
    "LEAKAGE_AUC",
    "MAX_CALIBRATION_GAP",
    "MIN_DROP",
    "MIN_MOVE",
    "at_risk_sentence",
    "bgnbd_sentence",
    "calibrated",
    "calibration_title",
    "calibration_sentence",
    "drivers",
    "drivers_sentence",
    "gains_title",
    "importance_title",
    "label_sentence",
    "leakage_warning",
    "lift_sentence",
    "lift_title",
    "model_sentence",
    "moving_features",
    "no_model_sentence",
    "no_window_sentence",
    "pdp_title",
    "persona_sentence",
    "pr_title",
    "rate_text",
    "roc_title",
    "summary_lines",
    "window_sentence",
    "worse_than_baselines",
]

MAX_CALIBRATION_GAP = 0.05  # largest decile gap (observed − predicted) that still reads "calibrated"
LEAKAGE_AUC = 0.99  # a validation ROC AUC at or above this is suspicious
MIN_DROP = 0.005  # permutation importance (drop in ROC AUC) a driver must exceed, and twice its std
MIN_MOVE = 0.02  # change in average predicted churn across a feature's range that counts as moving it
AUC_TOLERANCE = 0.005  # ROC AUCs closer than this are on par
NAMES = {"gbm": "gradient boosting", "logistic": "the logistic baseline", "bgnbd": "BG/NBD"}

#: What each section of 04 computes, shown (as a finding) only when the section runs.
METHOD = {
    "label": ("A customer seen before the cutoff is **churned** when they have no activity event in the window "
              "`[cutoff, cutoff + churn window)` (start inclusive, end exclusive); customers first seen after the "
              "cutoff are not scored. Features use only events and feedback before the cutoff, so the future "
              "cannot leak in. Out-of-time validation: the models are trained one window earlier (features "
              "before `cutoff − churn window`, labels from the window ending at the cutoff) and tested at the "
              "cutoff."),
    "models": ("Logistic regression (the baseline) and regularized gradient boosting, each with all preprocessing "
               "inside one fitted pipeline, against BG/NBD fitted on the activity days before the cutoff. The "
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
    "risk": ("Every customer seen before the cutoff, scored by the chosen model, with up to three reasons: the "
             "drivers whose replacement by a typical value (median, or most frequent value) lowers that "
             "customer's predicted churn the most. The full list is written to CSV under `output_dir`; this "
             "report shows only aggregates and a few pseudonymized examples."),
}


def rate_text(x) -> str:
    """A rate as a percentage with one decimal under 10 % (``0.004`` → ``"0.4%"``), else none."""
    return pct(x, 1 if abs(float(x)) < 0.1 else 0) if is_number(x) else pct(x)


# ------------------------------------------------------------------------------------------ window
def window_sentence(plan) -> str | None:
    """One sentence when the window asked for does not fit the log and a fitted one is used instead.

    Parameters
    ----------
    plan : WindowPlan
        From :func:`cjlib.churn.plan_window`.

    Examples
    --------
    >>> from types import SimpleNamespace as N
    >>> print(window_sentence(N(changed=True, requested_days=90, window_days=42, span_days=181.0, needed_days=270.0)))
    The 90-day churn window does not fit this log: it covers 181 days, and a history, a training window and a test window of 90 days need 270; the window used is 42 days, from the gaps between customers' active days.
    """
    if not plan.changed:
        return None
    return (f"The {plan.requested_days}-day churn window does not fit this log: it covers "
            f"{number(plan.span_days)} days, and a history, a training window and a test window of "
            f"{plan.requested_days} days need {number(plan.needed_days)}; the window used is "
            f"{plan.window_days} days, from the gaps between customers' active days.")


def no_window_sentence(plan) -> str:
    """Why no churn model is shown when no window fits (the reason for ``report.left_out``)."""
    return (f"the log covers {number(plan.span_days)} days, too short for a history, a training window and a "
            f"test window of {plan.requested_days} days ({number(plan.needed_days)} days), and no shorter "
            f"window fitted from the customers' activity gaps fits either.")


def no_model_sentence(exc) -> str:
    """Why the churn model cannot be fitted, from the ``DataError`` that stopped it (for
    ``report.left_out``)."""
    msg = getattr(exc, "message", None) or str(exc)
    msg = msg.strip().rstrip(".")
    return f"{msg}."


# ------------------------------------------------------------------------------------------ label
def label_sentence(*, activity: str, window_days: int, cutoff: pd.Timestamp, y_test: pd.Series,
                   train_cutoff: pd.Timestamp, y_train: pd.Series, n_features: int, has_customers: bool,
                   has_feedback: bool) -> str:
    """The label line: churn definition, base rate in the test and training windows, features."""
    return (f"**Label:** no {activity} in the {window_days} days from {cutoff:%Y-%m-%d}. "
            f"**{rate_text(y_test.mean())}** of the {number(len(y_test))} customers seen before the cutoff "
            f"churned (training period from {train_cutoff:%Y-%m-%d}: {rate_text(y_train.mean())} of "
            f"{number(len(y_train))}). {number(n_features)} features per customer"
            f"{'' if has_customers else ', no customer attributes'}{'' if has_feedback else ', no feedback'}.")


# ------------------------------------------------------------------------------------------ models
def worse_than_baselines(metrics: pd.DataFrame, model: str) -> str | None:
    """A plain sentence when ``model`` ranks churners worse (ROC AUC lower by more than
    :data:`AUC_TOLERANCE`) than the logistic baseline or BG/NBD, which then did better than the model
    that scores the at-risk list.

    Examples
    --------
    >>> m = pd.DataFrame({"roc_auc": [0.737, 0.680, 0.718]}, index=["logistic", "gbm", "bgnbd"])
    >>> print(worse_than_baselines(m, "gbm"))
    gbm, which scores the at-risk list, ranks churners worse than the logistic baseline (ROC AUC 0.680 against 0.737) and BG/NBD (0.718).
    """
    auc = metrics["roc_auc"]
    mine = auc.get(model)
    if not is_number(mine):
        return None
    better = [k for k in ("logistic", "gbm", "bgnbd")
              if k != model and is_number(auc.get(k)) and auc[k] - mine > AUC_TOLERANCE]
    if not better:
        return None
    first, rest = better[0], better[1:]
    text = (f"{model}, which scores the at-risk list, ranks churners worse than {NAMES[first]} "
            f"(ROC AUC {number(mine, '.3f')} against {number(auc[first], '.3f')})")
    if rest:
        text += " and " + join(f"{NAMES[k]} ({number(auc[k], '.3f')})" for k in rest)
    return text + "."


def leakage_warning(metrics: pd.DataFrame, model: str) -> str | None:
    """A one-sentence warning when ``model``'s ROC AUC is :data:`LEAKAGE_AUC` or more."""
    auc = metrics["roc_auc"].get(model)
    if not is_number(auc) or auc < LEAKAGE_AUC:
        return None
    return (f"**Warning:** a ROC AUC of {number(auc, '.3f')} is suspiciously close to perfect: a feature "
            f"probably restates the label (an outcome recorded before the cutoff, or activity that is "
            f"certain to follow), so check the top drivers before trusting the at-risk list.")


def model_sentence(metrics: pd.DataFrame, model: str, *, bgnbd_params: Mapping | None = None) -> str:
    """ROC AUC, PR AUC and Brier of ``model`` against the base rate, and BG/NBD beside it."""
    c = metrics.loc[model]
    text = (f"**{model}** reaches ROC AUC **{number(c['roc_auc'], '.3f')}** and PR AUC "
            f"{number(c['pr_auc'], '.3f')} (base rate {rate_text(c['base_rate'])}); Brier "
            f"{number(c['brier'], '.4f')} against {number(c['brier_base'], '.4f')} for always predicting the "
            f"base rate.")
    if "bgnbd" in metrics.index and bgnbd_params:
        p = bgnbd_params
        gain = c["roc_auc"] - metrics.loc["bgnbd", "roc_auc"]
        verdict = ("better by " + number(gain, ".3f") if gain > AUC_TOLERANCE else
                   "on par" if gain > -AUC_TOLERANCE else "worse by " + number(-gain, ".3f"))
        text += (f" BG/NBD (r = {number(p['r'], '.3g')}, α = {number(p['alpha'], '.3g')} "
                 f"{p.get('time_unit', 'days')}, a = {number(p['a'], '.3g')}, b = {number(p['b'], '.3g')}) "
                 f"reaches ROC AUC {number(metrics.loc['bgnbd', 'roc_auc'], '.3f')}: {model} is {verdict}.")
    return text


def bgnbd_sentence(why: str | None) -> str | None:
    """One sentence when BG/NBD could not be fitted (``why`` from ``ChurnResult.info["bgnbd_why"]``)."""
    if not why:
        return None
    return f"BG/NBD cannot be fitted on this log, so it is not compared: {why.strip().rstrip('.')}."


def roc_title(metrics: pd.DataFrame) -> str:
    """Title of the ROC chart: the model that ranks churners best, or that they rank alike."""
    auc = metrics["roc_auc"]
    listed = ", ".join(f"{k} {number(v, '.3f')}" for k, v in auc.items() if is_number(v))
    r = ranking(auc, None, tolerance=AUC_TOLERANCE)
    if r is None:
        return f"The models rank churners alike (ROC AUC {listed})"
    if r.best is not None:
        rest = ", ".join(f"{k} {number(v, '.3f')}" for k, v in auc.items() if k != r.best and is_number(v))
        return f"{r.best} ranks churners best (ROC AUC {number(r.best_value, '.3f')}; {rest})"
    v = auc[[is_number(x) for x in auc]].astype(float)
    top = [k for k in v.index if v[k] >= v.max() - AUC_TOLERANCE]
    rest = ", ".join(f"{k} {number(v[k], '.3f')}" for k in v.index if k not in top)
    return (f"{join(top)} rank churners best and alike (ROC AUC "
            f"{', '.join(number(v[k], '.3f') for k in top)}; {rest})")


def pr_title(metrics: pd.DataFrame, model: str) -> str:
    """Title of the precision–recall chart: the chosen model's PR AUC against the base rate."""
    c = metrics.loc[model]
    return f"PR AUC {number(c['pr_auc'], '.3f')} for {model} against a base rate of {rate_text(c['base_rate'])}"


# ------------------------------------------------------------------------------------------ calibration
def calibrated(max_gap, brier, brier_base) -> bool:
    """Whether the probabilities earn "calibrated": Brier below the base-rate Brier and no decile off by
    more than :data:`MAX_CALIBRATION_GAP`."""
    return (is_number(max_gap) and is_number(brier) and is_number(brier_base)
            and float(brier) < float(brier_base) and abs(float(max_gap)) <= MAX_CALIBRATION_GAP)


def _points(gap) -> str:
    return f"{number(abs(float(gap)) * 100, '.1f')} percentage points"


def calibration_title(max_gap, brier, brier_base, model: str) -> str:
    """Title of the calibration chart: "calibrated to within …" only when earned, else the gap.

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


def calibration_sentence(max_gap, brier, brier_base) -> str:
    """The calibration line of the findings (calibrated only when earned)."""
    if calibrated(max_gap, brier, brier_base):
        return (f"Probabilities are calibrated to within {_points(max_gap)} per decile (Brier "
                f"{number(brier, '.4f')} against {number(brier_base, '.4f')} for the base rate).")
    text = f"Probabilities are not calibrated: a decile is off by up to {_points(max_gap)}"
    if float(brier) >= float(brier_base):
        text += (f" and the Brier score ({number(brier, '.4f')}) is no better than always predicting the base "
                 f"rate ({number(brier_base, '.4f')})")
    return text + "; read them as a ranking, not as churn chances."


# ------------------------------------------------------------------------------------------ lift
def lift_title(lift: pd.DataFrame) -> str:
    """Title of the lift chart: the top decile's churn rate over the base rate."""
    return f"The top decile churns at {times(lift['lift'].iloc[0], 2)} the base rate"


def gains_title(lift: pd.DataFrame, model: str, *, top: int = 3) -> str:
    """Title of the gains chart: the share of churners the riskiest ``top`` deciles reach."""
    share = lift["cum_customers_share"].iloc[top - 1]
    return (f"Contacting the riskiest {pct(share)} reaches {pct(lift['cum_churners_share'].iloc[top - 1])} of "
            f"churners ({model})")


def lift_sentence(lift: pd.DataFrame, *, top: int = 3) -> str:
    """The lift line of the findings."""
    return (f"The riskiest {pct(lift['cum_customers_share'].iloc[0])} churn at {times(lift['lift'].iloc[0], 2)} "
            f"the base rate; the riskiest {pct(lift['cum_customers_share'].iloc[top - 1])} hold "
            f"{pct(lift['cum_churners_share'].iloc[top - 1])} of all churners.")


# ------------------------------------------------------------------------------------------ drivers
def drivers(imp: pd.DataFrame, *, min_drop: float = MIN_DROP) -> list[str]:
    """Features whose permutation importance is clearly above zero: a mean drop in ROC AUC above
    ``min_drop`` and above twice its standard deviation, in importance order.

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


def importance_title(imp: pd.DataFrame) -> str:
    """Title of the importance chart: the earned drivers, or that no feature clearly drives it."""
    d = drivers(imp)
    if d:
        return f"{d[0]} drives the churn prediction" + (f", then {join(d[1:3])}" if len(d) > 1 else "")
    top = imp["importance"].astype(float)
    top = top[np.isfinite(top)]
    if len(top):
        return (f"No feature clearly drives the churn prediction (largest drop in ROC AUC when shuffled: "
                f"{number(top.max(), '.3f')})")
    return "No feature clearly drives the churn prediction"


def moving_features(pdp: pd.DataFrame, *, min_move: float = MIN_MOVE) -> pd.DataFrame:
    """Per feature of a partial-dependence table, the average predicted churn at the low and high end
    (``first``, ``last``), only for features whose ends differ by at least ``min_move``; steepest first."""
    if pdp.empty:
        return pd.DataFrame(columns=["first", "last"])
    ends = pdp.groupby("feature", sort=False)["churn_probability"].agg(["first", "last"])
    move = (ends["last"] - ends["first"]).abs()
    return ends[move >= min_move].loc[lambda e: (e["last"] - e["first"]).abs().sort_values(
        ascending=False, kind="stable").index]


def pdp_title(pdp: pd.DataFrame) -> str:
    """Title of the partial-dependence chart: the feature that moves predicted churn most, if one does."""
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


def drivers_sentence(imp: pd.DataFrame, pdp: pd.DataFrame, *, top: int = 5) -> str:
    """The drivers line: earned drivers with their drop in ROC AUC, and partial dependence for the
    features that move the prediction."""
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


# ------------------------------------------------------------------------------------------ personas
def _beyond_chance(t: pd.DataFrame, r) -> bool:
    """Whether the named side(s) of a churn ranking differ beyond chance: most against least when both
    are named, else the one named group against all the others together."""
    n = t["customers"].astype(float)
    if r.best is not None and r.worst is not None:
        return rates_differ(r.best_value, n[r.best], r.worst_value, n[r.worst])
    name = r.best if r.best is not None else r.worst
    rest = t.drop(index=name)
    n_rest = float(rest["customers"].sum())
    rate_rest = float((rest["churn_rate"] * rest["customers"]).sum() / n_rest) if n_rest else float("nan")
    return rates_differ(t.loc[name, "churn_rate"], n[name], rate_rest, n_rest)


def persona_sentence(by_persona: pd.DataFrame, *, state: str = "stable", min_size: int = MIN_GROUP) -> str | None:
    """Churn by persona: who churns most and least (only from an earned ranking of personas with at
    least ``min_size`` scored customers), and how close the mean prediction is per persona.

    Parameters
    ----------
    by_persona : DataFrame
        :func:`cjlib.churn.churn_by_segment` (index persona; ``customers``, ``churn_rate``, optional
        ``mean_predicted``). The ``"unknown"`` row is never named.
    state : str
        Stability of the persona fit (:func:`cjlib.findings.personas.stability_state`).
    """
    t = by_persona.drop(index=["unknown"], errors="ignore")
    what = noun(state)
    r = ranking(t["churn_rate"], t["customers"], min_size=min_size)
    if r is not None and not _beyond_chance(t, r):
        r = None  # most and least within chance of each other (86.1 % against 86.0 %): no ranking
    parts = []
    if r is not None and r.best is not None and r.worst is not None:
        rates = two_rates(r.best_value, r.worst_value)
        if rates is not None:
            parts.append(f"**{r.best}** churn most ({rates[0]}), **{r.worst}** least ({rates[1]})")
    elif r is not None and r.best is not None:
        parts.append(f"**{r.best}** churn most ({rate_text(r.best_value)})")
    elif r is not None and r.worst is not None:
        parts.append(f"**{r.worst}** churn least ({rate_text(r.worst_value)})")
    if "mean_predicted" in t:
        dev = (t["mean_predicted"] - t["churn_rate"]).abs().max()
        if is_number(dev):
            parts.append(f"the model's mean prediction per {what[:-1]} is within {_points(dev)} of the "
                         f"observed rate")
    if not parts:
        return None
    text = "; ".join(parts)
    text = text[0].upper() + text[1:] if not text.startswith("**") else text
    if state != "stable":
        text += f" (these {what} are not stable personas)"
    return text + "."


def at_risk_sentence(risk: pd.DataFrame, file_name: str) -> str:
    """Where the at-risk list went (the file name only: no machine path in a report) and the top
    decile's mean predicted churn."""
    top = risk.loc[risk["risk_decile"] == 1, "churn_probability"]
    return (f"The at-risk list of {number(len(risk))} customers is in `{file_name}` in the output folder. "
            f"The {number(len(top))} customers of the top decile have a mean predicted churn of "
            f"{rate_text(top.mean())}.")


def summary_lines(*, base_rate: float, n_scored: int, activity: str, window_days: int, cutoff: pd.Timestamp,
                  metrics: pd.DataFrame, model: str, max_gap, lift: pd.DataFrame, imp: pd.DataFrame,
                  persona: str | None = None) -> list[str]:
    """The Findings section of 04 as Markdown bullets (each earned; see the module docstring)."""
    c = metrics.loc[model]
    others = ", ".join(f"{NAMES[k] if k == 'bgnbd' else k} {number(metrics.loc[k, 'roc_auc'], '.3f')}"
                       for k in metrics.index if k != model)
    lines = [f"- **{rate_text(base_rate)}** of {number(n_scored)} customers had no {activity} in the "
             f"{window_days} days after {cutoff:%Y-%m-%d}.",
             f"- Trained one window earlier and tested out of time, **{model}** ranks churners with ROC AUC "
             f"**{number(c['roc_auc'], '.3f')}** ({others}); PR AUC {number(c['pr_auc'], '.3f')} against a base "
             f"rate of {rate_text(base_rate)}."]
    for extra in (worse_than_baselines(metrics, model), leakage_warning(metrics, model)):
        if extra:
            lines.append(f"- {extra}")
    lines.append(f"- {calibration_sentence(max_gap, c['brier'], c['brier_base'])}")
    lines.append(f"- {lift_sentence(lift)}")
    d = drivers(imp)
    lines.append(f"- Strongest drivers: {join(d[:3])}." if d else "- No feature clearly drives the prediction.")
    if persona:
        lines.append(f"- By persona: {persona if persona.startswith('**') else persona[0].lower() + persona[1:]}")
    return lines
