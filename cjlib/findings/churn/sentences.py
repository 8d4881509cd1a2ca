"""The churn report's sentences (see :mod:`cjlib.findings.churn`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cjlib.churn import NAMES as MODEL_NAMES
from cjlib.findings import (
    MIN_GROUP,
    is_number,
    join,
    number,
    pct,
    times,
)

MAX_CALIBRATION_GAP = 0.05  # largest decile gap (observed − predicted) that still reads "calibrated"
LEAKAGE_AUC = 0.98  # a validation ROC AUC above this is suspicious
DOMINANT_SHARE = 0.5  # a customer attribute carrying more than this share of the importance is suspicious
MIN_DROP = 0.005  # permutation importance (drop in ROC AUC) a driver must exceed, and twice its std
MIN_MOVE = 0.02  # change in average predicted churn across a feature's range that counts as moving it
AUC_TOLERANCE = 0.005  # ROC AUCs closer than this are on par
NAMES = {"gbm": "gradient boosting", "logistic": "the logistic baseline", "bgnbd": "BG/NBD"}

#: Why a section that needs the model is left out when no model could be fitted.
NO_MODEL = "no churn model could be fitted for this data (the reason is given under the label definition)."

UNIDENTIFIED = 1e4  # a shape or scale parameter past this has run to its boundary: no spread left to fit

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


def rate_text(x) -> str:
    """A rate as a percentage with one decimal under 10 % (``0.004`` → ``"0.4%"``), else none.

    Parameters
    ----------
    x : float
        A rate (a share between 0 and 1).

    Returns
    -------
    str
        The percentage (``"0.4%"``, ``"12%"``); :class:`cjlib.findings.Unearned` is raised when ``x`` is
        not a finite number.

    Examples
    --------
    >>> rate_text(0.004), rate_text(0.1234)
    ('0.4%', '12%')
    """
    return pct(x, 1 if abs(float(x)) < 0.1 else 0) if is_number(x) else pct(x)


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
    return f"{plan.reason} {design}"


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


# ------------------------------------------------------------------------------------------ models
def worse_than_baselines(metrics: pd.DataFrame, model: str) -> str | None:
    """A plain sentence when ``model`` ranks churners worse (ROC AUC lower by more than
    :data:`AUC_TOLERANCE`) than the logistic baseline or BG/NBD, which then did better than the model
    that scores the at-risk list.

    Parameters
    ----------
    metrics : DataFrame
        Index model (``"logistic"``, ``"gbm"``, ``"bgnbd"``) with a ``roc_auc`` column
        (:attr:`cjlib.churn.ChurnResult.metrics`).
    model : str
        The model that scores the at-risk list.

    Returns
    -------
    str or None
        The sentence, or ``None`` when ``model``'s ROC AUC is not a number or no other model's is higher
        by more than :data:`AUC_TOLERANCE`.

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


def dominant_feature(imp: pd.DataFrame | None, *, share: float = DOMINANT_SHARE) -> tuple[str, float] | None:
    """The feature carrying more than ``share`` of the positive permutation importance, with its share.

    Parameters
    ----------
    imp : DataFrame or None
        :func:`cjlib.churn.permutation_importance_table` (index feature, ``importance``); negative and
        missing importances count as 0.
    share : float
        The share of the positive importance the top feature must exceed (default ``DOMINANT_SHARE``, 0.5).

    Returns
    -------
    tuple of (str, float) or None
        ``(feature, its share)``, or ``None`` when ``imp`` is None or empty, no importance is positive, or
        the top feature's share is not above ``share``.

    Examples
    --------
    >>> top, share = dominant_feature(pd.DataFrame({"importance": [0.03, 0.01, -0.002]}, index=["a", "b", "c"]))
    >>> top, round(share, 3)
    ('a', 0.75)
    """
    if imp is None or imp.empty:
        return None
    pos = imp["importance"].astype(float).clip(lower=0).fillna(0.0)
    total = float(pos.sum())
    if total <= 0:
        return None
    top = pos.idxmax()
    return (str(top), float(pos[top] / total)) if pos[top] / total > share else None


def leakage_warning(metrics: pd.DataFrame, model: str, imp: pd.DataFrame | None = None,
                    attributes=()) -> str | None:
    """A visible warning when the validation score looks too good to be true, naming the feature.

    It fires when ``model``'s ROC AUC is above :data:`LEAKAGE_AUC`, or when one **customer attribute**
    (``attributes``: columns of the customers table, a static snapshot that may have been recorded after
    the cutoff) carries more than :data:`DOMINANT_SHARE` of the importance. cjlib's own event features
    use only events before the cutoff, so they cannot leak the future by construction; recency
    legitimately carries most of the importance when the label is "no activity" (73 % on CDNOW), so
    dominance alone would cry wolf.

    Parameters
    ----------
    metrics : DataFrame
        Index model with a ``roc_auc`` column (:attr:`cjlib.churn.ChurnResult.metrics`).
    model : str
        The model that scores the at-risk list.
    imp : DataFrame, optional
        :func:`cjlib.churn.permutation_importance_table` of the explained model; its
        :func:`dominant_feature` is named (default ``None``: no feature named).
    attributes : sequence of str
        Columns of the customers table (default ``()``).

    Returns
    -------
    str or None
        The **Warning:** sentence, naming the dominant feature when there is one; ``None`` when the ROC AUC
        is not above :data:`LEAKAGE_AUC` and no customer attribute dominates.

    Examples
    --------
    >>> m = pd.DataFrame({"roc_auc": [0.999]}, index=["gbm"])
    >>> imp = pd.DataFrame({"importance": [0.4, 0.01]}, index=["order_status", "recency_days"])
    >>> print(leakage_warning(m, "gbm", imp))
    **Warning:** a validation ROC AUC of 0.999 is suspiciously close to perfect, and order_status carries 98% of the importance: it probably restates the label (an outcome recorded after the cutoff, or activity certain to follow) — check it before trusting the at-risk list, and leave it out if it is not known at the cutoff.
    """
    auc = metrics["roc_auc"].get(model)
    dom = dominant_feature(imp)
    high = is_number(auc) and auc > LEAKAGE_AUC
    attr = dom is not None and dom[0] in set(attributes)
    if not high and not attr:
        return None
    lead = (f"**Warning:** a validation ROC AUC of {number(auc, '.3f')} is suspiciously close to perfect"
            if high else "**Warning:** one customer attribute drives the churn model")
    if dom is not None:
        return (f"{lead}, and {dom[0]} carries {pct(dom[1])} of the importance: it probably restates the label "
                f"(an outcome recorded after the cutoff, or activity certain to follow) — check it before "
                f"trusting the at-risk list, and leave it out if it is not known at the cutoff.")
    return (f"{lead}: a feature probably restates the label (an outcome recorded after the cutoff, or activity "
            f"certain to follow), so check the top drivers before trusting the at-risk list.")


def auc_se(auc, n, base_rate) -> float | None:
    """The standard error of a ROC AUC over ``n`` customers of whom ``base_rate`` churned (Hanley and
    McNeil, 1982), or ``None`` when a number is missing or a class is empty.

    Parameters
    ----------
    auc : float
        The ROC AUC.
    n : int
        Customers scored.
    base_rate : float
        Share of them that churned.

    Returns
    -------
    float or None
        The standard error.

    Examples
    --------
    >>> round(auc_se(0.571, 29, 18 / 29), 3), auc_se(0.8, 0, 0.5)
    (0.11, None)
    """
    if not (is_number(auc) and is_number(n) and is_number(base_rate)):
        return None
    a = float(auc)
    n1 = round(float(base_rate) * float(n))
    n0 = round(float(n)) - n1
    if n1 < 1 or n0 < 1:
        return None
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0)
    return float(np.sqrt(max(var, 0.0)))


def auc_margin(metrics: pd.DataFrame, *models: str) -> float:
    """The gap two ROC AUCs of ``metrics`` must exceed to differ beyond chance: 1.96 × the standard error of
    their difference (each :func:`auc_se`, taken as independent — conservative for scores of the same
    customers), never less than :data:`AUC_TOLERANCE`. Without ``n`` and ``base_rate`` columns, the tolerance.

    Parameters
    ----------
    metrics : DataFrame
        Index model; ``roc_auc`` and, for the sampling error, ``n`` and ``base_rate``.
    *models : str
        The models compared (their standard errors add).

    Returns
    -------
    float
        The margin.

    Examples
    --------
    >>> m = pd.DataFrame({"roc_auc": [0.571, 0.49], "n": [29, 29], "base_rate": [0.62, 0.62]}, index=["logistic", "bgnbd"])
    >>> round(auc_margin(m, "logistic", "bgnbd"), 2), auc_margin(m[["roc_auc"]], "logistic", "bgnbd")
    (0.31, 0.005)
    """
    if not {"n", "base_rate"} <= set(metrics.columns):
        return AUC_TOLERANCE
    se = [auc_se(metrics.loc[k, "roc_auc"], metrics.loc[k, "n"], metrics.loc[k, "base_rate"]) for k in models]
    if any(e is None for e in se):
        return AUC_TOLERANCE
    return max(AUC_TOLERANCE, 1.96 * float(np.sqrt(sum(e * e for e in se))))


def chance_sentence(metrics: pd.DataFrame, model: str) -> str | None:
    """That ``model``'s ROC AUC is within chance of a random ranking (0.5) on this many customers, when its
    95 % interval (:func:`auc_se`) reaches 0.5; ``None`` otherwise, or without ``n`` and ``base_rate``.

    Parameters
    ----------
    metrics : DataFrame
        Index model; ``roc_auc``, ``n``, ``base_rate``.
    model : str
        The chosen model.

    Returns
    -------
    str or None
        The sentence, or ``None`` when the ranking is better than chance (or cannot be judged).

    Examples
    --------
    >>> m = pd.DataFrame({"roc_auc": [0.571], "n": [29], "base_rate": [0.62]}, index=["logistic"])
    >>> print(chance_sentence(m, "logistic"))
    On 29 customers a ROC AUC of 0.571 is within chance of a random ranking (0.5; 95% interval 0.356–0.786): the at-risk list's order is not shown to beat a random one.
    """
    if not {"n", "base_rate"} <= set(metrics.columns):
        return None
    c = metrics.loc[model]
    se = auc_se(c["roc_auc"], c["n"], c["base_rate"])
    if se is None or float(c["roc_auc"]) - 1.96 * se > 0.5:
        return None
    lo, hi = max(0.0, float(c["roc_auc"]) - 1.96 * se), min(1.0, float(c["roc_auc"]) + 1.96 * se)
    return (f"On {number(c['n'])} customers a ROC AUC of {number(c['roc_auc'], '.3f')} is within chance of a random "
            f"ranking (0.5; 95% interval {number(lo, '.3f')}–{number(hi, '.3f')}): the at-risk list's order is not "
            "shown to beat a random one.")


def choice_sentence(metrics: pd.DataFrame, model: str, reason: str) -> str:
    """Why ``model`` drives the list (``reason`` from :func:`cjlib.churn.choose_model`), and which models
    rank churners on par with it (ROC AUC within :data:`AUC_TOLERANCE`, or within the sampling error of
    the two AUCs, :func:`auc_margin`), so a tiny lead, or one chance explains, is not read as a real one.

    Parameters
    ----------
    metrics : DataFrame
        Index model with a ``roc_auc`` column (:attr:`cjlib.churn.ChurnResult.metrics`).
    model : str
        The chosen model.
    reason : str
        :attr:`cjlib.churn.ChurnResult.reason`.

    Returns
    -------
    str
        ``reason`` alone when no other model is on par or ``reason`` already names a tie ("as well as"),
        else ``reason`` followed by the sentence naming the models on par.
    """
    auc = metrics["roc_auc"]
    margin = {k: auc_margin(metrics, model, k) for k in auc.index if k != model and is_number(auc[k])}
    par = [k for k, m in margin.items() if abs(auc[k] - auc[model]) <= m]
    if not par or " as well as " in reason:  # choose_model already named the models it ties with
        return reason
    names = join(MODEL_NAMES[k] for k in par)
    gaps = {k: abs(auc[k] - auc[model]) for k in par}
    chance = [k for k in par if gaps[k] > AUC_TOLERANCE]
    within = (f"within {AUC_TOLERANCE} ROC AUC" if not chance else
              f"within chance: a ROC AUC gap of up to {number(max(gaps.values()), '.3f')}, where chance alone "
              f"allows {number(min(margin[k] for k in chance), '.3f')} on {number(metrics.loc[model, 'n'])} customers")
    return reason + (f" {names[0].upper() + names[1:]} {'is' if len(par) == 1 else 'are'} on par with it "
                     f"({within}), so the choice among them matters little.")


def explained_sentence(res) -> str | None:
    """When BG/NBD drives the list, whose drivers the report shows instead (BG/NBD has no features).

    Parameters
    ----------
    res : ChurnResult
        :func:`cjlib.churn.validate`'s result (its ``model`` and ``explained``).

    Returns
    -------
    str or None
        The sentence, or ``None`` when the chosen model is the one explained (not BG/NBD).
    """
    if res.explained == res.model:
        return None
    return (f"BG/NBD has no features to explain; the drivers below are those of {MODEL_NAMES[res.explained]}, "
            f"the best feature model.")


def model_sentence(metrics: pd.DataFrame, model: str, *, bgnbd_params: Mapping | None = None) -> str:
    """ROC AUC, PR AUC and Brier of ``model`` against the base rate, and BG/NBD beside it.

    Parameters
    ----------
    metrics : DataFrame
        :attr:`cjlib.churn.ChurnResult.metrics`: ``roc_auc``, ``pr_auc``, ``base_rate``, ``brier``,
        ``brier_base`` per model.
    model : str
        The model described.
    bgnbd_params : mapping, optional
        :attr:`cjlib.churn.ChurnResult.bgnbd_summary` (``r``, ``alpha``, ``a``, ``b``, ``time_unit``); the
        BG/NBD comparison is added only when given and ``metrics`` has a ``bgnbd`` row (default ``None``).

    Returns
    -------
    str
        The sentence (always written); a gap to BG/NBD within the sampling error of the two AUCs
        (:func:`auc_margin`) is on par, not better or worse.
    """
    c = metrics.loc[model]
    text = (f"**{model}** reaches ROC AUC **{number(c['roc_auc'], '.3f')}** and PR AUC "
            f"{number(c['pr_auc'], '.3f')} (base rate {rate_text(c['base_rate'])}); Brier "
            f"{number(c['brier'], '.4f')} against {number(c['brier_base'], '.4f')} for always predicting the "
            f"base rate.")
    if "bgnbd" in metrics.index and bgnbd_params:
        p = bgnbd_params
        gain = c["roc_auc"] - metrics.loc["bgnbd", "roc_auc"]
        margin = auc_margin(metrics, model, "bgnbd")
        verdict = ("better by " + number(gain, ".3f") if gain > margin else
                   "worse by " + number(-gain, ".3f") if gain < -margin else
                   "on par" if abs(gain) <= AUC_TOLERANCE else
                   f"on par within chance (a gap of {number(abs(gain), '.3f')} where chance alone allows up to "
                   f"{number(margin, '.3f')} on {number(c['n'])} customers)")
        ab = ("a and b at their boundary" if unidentified(p["a"], p["b"]) else
              f"a = {number(p['a'], '.3g')}, b = {number(p['b'], '.3g')}")
        fit = (f"r = {number(p['r'], '.3g')}, α = {number(p['alpha'], '.3g')} {p.get('time_unit', 'days')}, {ab}"
               if not unidentified(p["r"], p["alpha"]) else
               # r = 1.26e+06, α = 4.62e+07 days are no estimates: the fit ran off to its boundary
               "its parameters ran to their boundary: the data do not pin them down")
        text += (f" BG/NBD ({fit}) reaches ROC AUC {number(metrics.loc['bgnbd', 'roc_auc'], '.3f')}: "
                 f"{model} is {verdict}.")
    return text


def bgnbd_sentence(why: str | None) -> str | None:
    """One sentence when BG/NBD could not be fitted (``why`` from ``ChurnResult.info["bgnbd_why"]``).

    Parameters
    ----------
    why : str or None
        Why BG/NBD could not be fitted (``ChurnResult.info["bgnbd_why"]``).

    Returns
    -------
    str or None
        The sentence, or ``None`` when ``why`` is empty or None (BG/NBD was fitted).
    """
    if not why:
        return None
    return f"BG/NBD cannot be fitted on this log, so it is not compared: {why.strip().rstrip('.')}."


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
    return (f"The riskiest {pct(lift['cum_customers_share'].iloc[0])}{few} churn at {times(lift['lift'].iloc[0], 2)} "
            f"the base rate; the riskiest {pct(lift['cum_customers_share'].iloc[top - 1])} hold "
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


def unidentified(*params, se: tuple = ()) -> bool:
    """Whether heterogeneity parameters ran to a boundary (past :data:`UNIDENTIFIED`, or a shape below its
    inverse) or are swamped by their standard errors (``se``, same order): the data cannot pin them down,
    so they are not printed as estimates.

    Parameters
    ----------
    *params : float
        The heterogeneity parameters (``a, b`` of BG/NBD, ``q, gamma`` of Gamma-Gamma).
    se : tuple of float
        Their standard errors in the same order; missing or NaN ones are skipped (default ``()``).

    Returns
    -------
    bool
        ``True`` when a parameter is above :data:`UNIDENTIFIED` or below its inverse, or smaller than its
        standard error.

    Examples
    --------
    >>> unidentified(2.0, 3.0), unidentified(2.0, 3e5), unidentified(2.0, 3.0, se=(5.0, None))
    (False, True, True)
    """
    return (any(v > UNIDENTIFIED or v < 1.0 / UNIDENTIFIED for v in params)
            or any(is_number(e) and e > v for v, e in zip(params, se)))


def summary_lines(*, base_rate: float, n_scored: int, activity: str, window, cutoff: pd.Timestamp,
                  metrics: pd.DataFrame, model: str, max_gap, lift: pd.DataFrame, imp: pd.DataFrame,
                  persona: str | None = None, design: str = "out_of_time", attributes=(),
                  at_risk=None, value_at_risk_total=None) -> list[str]:
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
    chance = chance_sentence(metrics, model)
    if chance:
        lines.append(f"- {chance}")
    for extra in (worse_than_baselines(metrics, model), leakage_warning(metrics, model, imp, attributes)):
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


