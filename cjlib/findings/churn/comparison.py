"""The churn report's model-comparison sentences: which model drives the list and why, how it compares with
BG/NBD and with chance, and the leakage warning (see :mod:`cjlib.findings.churn`)."""

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
)

LEAKAGE_AUC = 0.98  # a validation ROC AUC above this is suspicious
DOMINANT_SHARE = 0.5  # a customer attribute carrying more than this share of the importance is suspicious
AUC_TOLERANCE = 0.005  # ROC AUCs closer than this are on par
NAMES = {"gbm": "gradient boosting", "logistic": "the logistic baseline", "bgnbd": "BG/NBD"}
UNIDENTIFIED = 1e4  # a shape or scale parameter past this has run to its boundary: no spread left to fit


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
                    attributes=(), recent: Mapping | None = None) -> str | None:
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
    recent : mapping, optional
        :func:`cjlib.churn.recent_roc_auc` (``n_recent``, ``roc_auc_recent``). When the near-perfect ROC AUC
        does not hold among the customers active before the cutoff (at most :data:`LEAKAGE_AUC` there) and
        no customer attribute dominates, the score comes from customers long gone, which any recency
        feature ranks first: the sentence says so and gives the ROC AUC among the active ones instead of
        suspecting a leak (default ``None``).

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
    if high and not attr and recent and is_number(recent.get("roc_auc_recent")) \
            and recent["roc_auc_recent"] <= LEAKAGE_AUC:
        n = int(metrics.loc[model, "n"]) if "n" in metrics.columns else None
        of = f"of the {number(n)} customers scored, " if n else ""
        pred, obs = recent.get("mean_predicted_recent"), recent.get("churn_rate_recent")
        among = (f" and the mean predicted churn {rate_text(pred)} against {rate_text(obs)} observed"
                 if is_number(pred) and is_number(obs) else "")
        carries = (f" {dom[0]} carries {pct(dom[1])} of the importance, from events before the cutoff only."
                   if dom is not None else "")
        return (f"**Warning:** the validation ROC AUC of {number(auc, '.3f')} comes mostly from customers who had "
                f"long stopped before the cutoff: {of}{number(recent['n_recent'])} were active in the window "
                f"before it, and among them the ROC AUC is {number(recent['roc_auc_recent'], '.3f')}{among} — "
                f"the at-risk list holds only such customers, so expect that accuracy.{carries}")
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
        BG/NBD comparison (its fit alone when ``model`` is BG/NBD) is added only when given and ``metrics`` has
        a ``bgnbd`` row (default ``None``).

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
        text += (f" Its fit: {fit}." if model == "bgnbd" else  # not "bgnbd is on par" with itself
                 f" BG/NBD ({fit}) reaches ROC AUC {number(metrics.loc['bgnbd', 'roc_auc'], '.3f')}: "
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


def recent_sentence(metrics: pd.DataFrame, model: str, recent: Mapping | None) -> str | None:
    """The ranking among the customers active in the window before the cutoff — the kind the at-risk list
    holds — when it is clearly worse than over every customer scored (who include customers long gone,
    whom recency alone ranks first), so the headline ROC AUC is not read as the list's.

    Parameters
    ----------
    metrics : DataFrame
        Index model with ``roc_auc`` (and ``n``).
    model : str
        The chosen model.
    recent : mapping or None
        :func:`cjlib.churn.recent_roc_auc`.

    Returns
    -------
    str or None
        The sentence; ``None`` without numbers, with fewer than ``MIN_GROUP`` active customers or as many as
        scored, when the gap is at most ``4 × AUC_TOLERANCE``, or when the ROC AUC is above
        :data:`LEAKAGE_AUC` (the leakage warning then says it).

    Examples
    --------
    >>> m = pd.DataFrame({"roc_auc": [0.939], "n": [1466]}, index=["bgnbd"])
    >>> r = {"n_recent": 460, "churn_rate_recent": 0.274, "mean_predicted_recent": 0.372, "roc_auc_recent": 0.712}
    >>> print(recent_sentence(m, "bgnbd", r))
    Among the 460 customers active in the window before the cutoff — the kind the at-risk list holds — the ROC AUC is 0.712 (27% of them churned; 37% predicted on average): the 0.939 over all 1,466 also counts customers long gone before the cutoff, whom recency alone ranks first.
    """
    auc = metrics["roc_auc"].get(model)
    if not recent or not (is_number(auc) and is_number(recent.get("roc_auc_recent"))) or auc > LEAKAGE_AUC:
        return None
    n = int(metrics.loc[model, "n"]) if "n" in metrics.columns else None
    k = recent["n_recent"]
    if k < MIN_GROUP or (n is not None and k >= n) or auc - recent["roc_auc_recent"] <= 4 * AUC_TOLERANCE:
        return None
    rates = [f"{rate_text(recent['churn_rate_recent'])} of them churned"] if is_number(
        recent.get("churn_rate_recent")) else []
    if rates and is_number(recent.get("mean_predicted_recent")):
        rates.append(f"{rate_text(recent['mean_predicted_recent'])} predicted on average")
    over = f"all {number(n)}" if n else "every customer scored"
    return (f"Among the {number(k)} customers active in the window before the cutoff — the kind the at-risk list "
            f"holds — the ROC AUC is {number(recent['roc_auc_recent'], '.3f')}"
            f"{' (' + '; '.join(rates) + ')' if rates else ''}: the {number(auc, '.3f')} over {over} also counts "
            f"customers long gone before the cutoff, whom recency alone ranks first.")
