"""Sentences and chart titles of the churn report (04), built only from what the numbers earn.

- "calibrated" only when the Brier score beats always predicting the base rate and no decile is off
  by more than :data:`MAX_CALIBRATION_GAP`; otherwise the gap is stated plainly;
- a chosen model that ranks churners worse than the logistic baseline or BG/NBD is said to be worse;
- a ROC AUC above :data:`LEAKAGE_AUC`, or a customer attribute carrying most of the importance, gets a
  leakage warning naming the feature;
- "drives" only for features whose permutation importance is clearly above zero
  (:func:`drivers`); partial dependence only for features that move the prediction;
- churn by persona names the most and least churning persona only from an earned ranking.

``sentences`` holds the sentence builders (``comparison`` those of the model comparison), ``titles`` the chart titles, ``value`` the persona, at-risk and
value sentences and titles, ``sections`` each section's metrics (for ``report.record_all``) and paragraphs;
every public name is re-exported here.
"""

from __future__ import annotations

from cjlib.findings.churn.sections import (
    activity_text,
    at_risk_method,
    at_risk_metrics,
    driver_metrics,
    features_left_out,
    label_findings,
    label_metrics,
    model_findings,
    model_metrics,
    persona_metrics,
    plan_metrics,
    summary,
    value_metrics,
)
from cjlib.findings.churn.sentences import (
    AUC_TOLERANCE,
    DOMINANT_SHARE,
    LEAKAGE_AUC,
    MAX_CALIBRATION_GAP,
    METHOD,
    MIN_DROP,
    MIN_MOVE,
    NAMES,
    NO_MODEL,
    UNIDENTIFIED,
    auc_margin,
    auc_se,
    bgnbd_sentence,
    calibrated,
    calibration_sentence,
    chance_sentence,
    choice_sentence,
    dominant_feature,
    drivers,
    drivers_sentence,
    explained_sentence,
    label_sentence,
    leakage_warning,
    lift_sentence,
    model_sentence,
    moving_features,
    no_model_sentence,
    plan_sentence,
    rate_text,
    recent_sentence,
    summary_lines,
    unidentified,
    worse_than_baselines,
)
from cjlib.findings.churn.titles import (
    calibration_title,
    gains_title,
    importance_title,
    lift_title,
    pdp_title,
    pr_title,
    roc_title,
)
from cjlib.findings.churn.value import (
    at_risk_sentence,
    persona_sentence,
    ranking_sentence,
    value_at_risk_title,
    value_sentence,
    value_title,
)

__all__ = [
    "AUC_TOLERANCE",
    "DOMINANT_SHARE",
    "LEAKAGE_AUC",
    "MAX_CALIBRATION_GAP",
    "METHOD",
    "MIN_DROP",
    "MIN_MOVE",
    "NAMES",
    "NO_MODEL",
    "UNIDENTIFIED",
    "activity_text",
    "at_risk_method",
    "at_risk_metrics",
    "at_risk_sentence",
    "auc_margin",
    "auc_se",
    "bgnbd_sentence",
    "calibrated",
    "calibration_sentence",
    "calibration_title",
    "chance_sentence",
    "choice_sentence",
    "dominant_feature",
    "driver_metrics",
    "drivers",
    "drivers_sentence",
    "explained_sentence",
    "features_left_out",
    "gains_title",
    "importance_title",
    "label_findings",
    "label_metrics",
    "label_sentence",
    "leakage_warning",
    "lift_sentence",
    "lift_title",
    "model_findings",
    "model_metrics",
    "model_sentence",
    "moving_features",
    "no_model_sentence",
    "pdp_title",
    "persona_metrics",
    "persona_sentence",
    "plan_metrics",
    "plan_sentence",
    "pr_title",
    "ranking_sentence",
    "rate_text",
    "recent_sentence",
    "roc_title",
    "summary",
    "summary_lines",
    "unidentified",
    "value_at_risk_title",
    "value_metrics",
    "value_sentence",
    "value_title",
    "worse_than_baselines",
]
