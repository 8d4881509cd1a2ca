"""The churn report's sections: each one's metrics for ``report.record_all`` and its paragraphs."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from cjlib.churn import recent_roc_auc
from cjlib.findings import paragraphs
from cjlib.findings.churn.sentences import (
    METHOD,
    bgnbd_sentence,
    chance_sentence,
    choice_sentence,
    drivers,
    label_sentence,
    leakage_warning,
    model_sentence,
    plan_sentence,
    recent_sentence,
    summary_lines,
)


def activity_text(activity: Sequence[str] | None) -> str:
    """What counts as activity, for sentences: ``"purchase or signup"``, or ``"event of any kind"``.

    Parameters
    ----------
    activity : sequence of str or None
        :func:`cjlib.churn.activity_list` (``None``: any event).

    Returns
    -------
    str

    Examples
    --------
    >>> activity_text(["purchase", "signup"]), activity_text(None)
    ('purchase or signup', 'event of any kind')
    """
    return " or ".join(activity) if activity else "event of any kind"


def features_left_out(customers: pd.DataFrame | None, profile) -> tuple[dict[str, str], str]:
    """The customer columns never used as features (id-like, outcome-like) and the sentence naming them.

    Parameters
    ----------
    customers : DataFrame or None
    profile : DataProfile

    Returns
    -------
    (dict, str)
        :func:`cjlib.features.excluded_attributes` and its sentence (``""`` when nothing is left out).
    """
    from cjlib.features import excluded_attributes
    from cjlib.findings.personas import excluded_sentence

    left_out = excluded_attributes(customers, profile)
    return left_out, excluded_sentence(left_out) if left_out else ""


def plan_metrics(plan) -> dict:
    """``as_of`` (the data's end, the at-risk list's date), ``churn_window_days_used`` and
    ``last_week_active_share`` (a :class:`cjlib.churn.WindowPlan`'s ``last_week_share``, None when not
    measured); ``{}`` without a plan.

    Parameters
    ----------
    plan : WindowPlan or None

    Returns
    -------
    dict

    Examples
    --------
    >>> from types import SimpleNamespace as N
    >>> plan_metrics(N(as_of=pd.Timestamp("2025-07-01"), window_days=42))
    {'as_of': '2025-07-01', 'churn_window_days_used': 42}
    """
    if plan is None:
        return {}
    out = {"as_of": plan.as_of.strftime("%Y-%m-%d"), "churn_window_days_used": plan.window_days}
    if hasattr(plan, "last_week_share"):  # every WindowPlan has it
        share = plan.last_week_share
        out["last_week_active_share"] = None if share is None or share != share else float(share)
    return out


def label_metrics(res) -> dict:
    """``n_customers_scored``, ``base_rate`` and ``validation`` (the design) of a validation run.

    Parameters
    ----------
    res : ChurnResult

    Returns
    -------
    dict
    """
    return {"n_customers_scored": len(res.y_test), "base_rate": res.base_rate, "validation": res.design}


def label_findings(plan, res, *, activity: Sequence[str] | None, customers: pd.DataFrame | None,
                   feedback: pd.DataFrame | None) -> str:
    """The label section: how the label is made, how the window and design were chosen, the base rates.

    Parameters
    ----------
    plan : WindowPlan
    res : ChurnResult
    activity : sequence of str or None
        The activity events (``None``: any event).
    customers, feedback : DataFrame or None
        The optional inputs (the sentence says when one is missing).

    Returns
    -------
    str
        Markdown paragraphs.
    """
    return paragraphs(
        METHOD["label"],
        plan_sentence(plan, n_splits=res.info.get("n_splits"), design=res.design, fallback=res.info.get("fallback")),
        label_sentence(activity=activity_text(activity), window=plan.window_days, cutoff=plan.cutoff,
                       y_test=res.y_test, train_cutoff=res.train_cutoff, y_train=res.y_train,
                       n_features=res.X_test.shape[1], has_customers=customers is not None,
                       has_feedback=feedback is not None))


def model_metrics(res) -> dict:
    """The chosen model, why, its validation scores and the BG/NBD baseline's parameters.

    Parameters
    ----------
    res : ChurnResult

    Returns
    -------
    dict
        ``chosen_model``, ``chosen_model_why``, ``roc_auc``, ``pr_auc``, ``brier``, ``top_decile_lift``,
        ``baseline``.
    """
    c = res.chosen
    return {"chosen_model": res.model, "chosen_model_why": res.reason, "roc_auc": c["roc_auc"],
            "pr_auc": c["pr_auc"], "brier": c["brier"], "top_decile_lift": c["top_decile_lift"],
            "baseline": {"bgnbd": res.bgnbd_summary}}


def model_findings(res) -> str:
    """Which model drives the list and why, how the models compare, how it ranks the customers active before
    the cutoff when that differs (:func:`recent_sentence`), and why BG/NBD is missing if it is.

    Parameters
    ----------
    res : ChurnResult

    Returns
    -------
    str
        Markdown paragraphs.
    """
    return paragraphs(choice_sentence(res.metrics, res.model, res.reason),
                       model_sentence(res.metrics, res.model, bgnbd_params=res.bgnbd_summary),
                       chance_sentence(res.metrics, res.model),
                       recent_sentence(res.metrics, res.model, recent_roc_auc(res)),
                       bgnbd_sentence(res.info.get("bgnbd_why")))


def _attributes(customers: pd.DataFrame | None) -> list[str]:
    return [] if customers is None else list(customers.columns)


def driver_metrics(res, imp: pd.DataFrame, *, customers: pd.DataFrame | None = None) -> dict:
    """``top_features`` (ten), ``drivers`` (:func:`drivers`), the chosen model's ROC AUC among the customers
    active before the cutoff (:func:`cjlib.churn.recent_roc_auc`: ``n_recent``, ``churn_rate_recent``,
    ``roc_auc_recent``) and ``leakage_warning`` (None when none).

    Parameters
    ----------
    res : ChurnResult
    imp : DataFrame
        :func:`cjlib.churn.permutation_importance_table`.
    customers : DataFrame, optional
        The customer table (an attribute carrying most of the importance is a leakage suspect).

    Returns
    -------
    dict
    """
    recent = recent_roc_auc(res)
    return {"top_features": list(imp.index[:10]), "drivers": drivers(imp), **recent,
            "leakage_warning": leakage_warning(res.metrics, res.model, imp, _attributes(customers), recent)}


def persona_metrics(names, by_persona: pd.DataFrame) -> dict:
    """``persona_names`` and ``churn_by_persona`` (persona → churn rate).

    Parameters
    ----------
    names : list of str
        The personas' names.
    by_persona : DataFrame
        :func:`cjlib.churn.churn_by_segment` by persona.

    Returns
    -------
    dict
    """
    return {"persona_names": names, "churn_by_persona": by_persona["churn_rate"].to_dict()}


def value_metrics(fit) -> dict:
    """``value_models`` (fitted parameters) and ``expected_value_total`` of a :class:`cjlib.at_risk.ValueFit`.

    Parameters
    ----------
    fit : ValueFit

    Returns
    -------
    dict
    """
    return {"value_models": fit.summary(), "expected_value_total": fit.customers["expected_value"].sum()}


def at_risk_method(*, has_value: bool, rank_by: str) -> str:
    """How the at-risk list is made and ranked (value at risk needs customer value).

    Parameters
    ----------
    has_value : bool
        Whether customer value could be fitted.
    rank_by : {"value_at_risk", "risk"}
        The ranking asked for.

    Returns
    -------
    str
        Markdown paragraphs.

    Examples
    --------
    >>> at_risk_method(has_value=False, rank_by="value_at_risk").endswith("there is no value at risk.")
    True
    """
    if has_value:
        return paragraphs(METHOD["risk"], METHOD["value"])
    return paragraphs(METHOD["risk"], "The list is ranked by churn probability: without customer value there "
                                       "is no value at risk." if rank_by == "value_at_risk" else None)


def at_risk_metrics(at_risk) -> dict:
    """``as_of``, ``n_at_risk_list`` and ``rank_by`` of a :class:`cjlib.at_risk.AtRisk`.

    Parameters
    ----------
    at_risk : AtRisk

    Returns
    -------
    dict
    """
    return {"as_of": at_risk.as_of.strftime("%Y-%m-%d"), "n_at_risk_list": len(at_risk.table),
            "rank_by": at_risk.rank_by}


def summary(res, plan, *, activity: Sequence[str] | None, max_gap, lift: pd.DataFrame, imp: pd.DataFrame,
            persona: str | None = None, customers: pd.DataFrame | None = None, at_risk=None,
            with_value: bool = False) -> str:
    """The Findings section of 04 from a validation run and its plan (:func:`summary_lines`, one per line).

    Parameters
    ----------
    res : ChurnResult
    plan : WindowPlan
    activity : sequence of str or None
    max_gap : float
        The chosen model's largest calibration gap (:func:`cjlib.churn.max_calibration_gap`).
    lift, imp : DataFrame
        The chosen model's :func:`cjlib.churn.lift_table`; :func:`cjlib.churn.permutation_importance_table`.
    persona : str, optional
        :func:`persona_sentence`.
    customers : DataFrame, optional
    at_risk : AtRisk, optional
    with_value : bool, default False
        Whether the list carries value at risk (its total is then stated).

    Returns
    -------
    str
        Markdown bullets.
    """
    total = at_risk.table["value_at_risk"].sum() if at_risk is not None and with_value else None
    return "\n".join(summary_lines(
        base_rate=res.base_rate, n_scored=len(res.y_test), activity=activity_text(activity),
        window=plan.window_days, cutoff=plan.cutoff, metrics=res.metrics, model=res.model, max_gap=max_gap,
        lift=lift, imp=imp, persona=persona, design=res.design, attributes=_attributes(customers),
        at_risk=at_risk, value_at_risk_total=total, recent=recent_roc_auc(res)))
