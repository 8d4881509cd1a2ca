"""Churn prediction: leakage-free data sets, calibrated models, honest evaluation and an action list.

The label
    At a ``cutoff``, a customer who had at least one event before it is **churned** (``y = 1``) when they
    have no *activity event* in ``[cutoff, cutoff + window)`` — the start is inclusive, the end
    exclusive. Activity is any event by default; ``activity_events=["purchase"]`` gives purchase churn.
    Customers with no event before ``cutoff`` are not in the data set.

Leakage-free by construction
    :func:`make_dataset` hands :func:`cjlib.features.customer_features` only the events (and feedback)
    strictly before ``cutoff``, so changing or deleting anything at or after ``cutoff`` cannot change
    ``X``. Out-of-time validation (:func:`out_of_time_validation`) trains at ``cutoff − window`` —
    whose labels end at ``cutoff`` — and tests at ``cutoff``: the model never sees the test window.

Models (:func:`make_model`)
    ``"logistic"``: median imputation (+ missing indicators), standardization, one-hot encoding and an
    L2 logistic regression. ``"gbm"``: the same encoding and a regularized
    :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (shallow trees, L2, early stopping) wrapped
    in :class:`~sklearn.calibration.CalibratedClassifierCV` (sigmoid, 3 folds). Every preprocessing step
    lives inside the returned :class:`~sklearn.pipeline.Pipeline`. ``"ensemble"``: the mean of the two
    models' probabilities (:class:`MeanProbability`); validation scores it from the fits it already made,
    and it drives the list only when it ranks churners better than both of its members.

    Class imbalance: we do **not** reweight or resample by default. Reweighting moves the predicted
    probabilities away from the real churn rate, and churn is rarely rare enough to need it; instead
    the evaluation is imbalance-aware (PR AUC beside the base rate, lift by decile, stratified folds).
    ``class_weight="balanced"`` is available; the model is then always wrapped in
    ``CalibratedClassifierCV`` so the probabilities are calibrated back to the observed rate.

The customer-base baseline
    BG/NBD (:mod:`cjlib.bgnbd`) fitted on the activity occasions before ``cutoff``; its score is
    P(no activity in the window). Raw P(alive) is *not* used: it equals 1 for every customer without a
    repeat occasion (BG/NBD lets customers drop out only after a repeat purchase), so it ranks one-time
    buyers as the safest customers however long ago they bought.

Explanations
    :func:`permutation_importance_table` (drop in ROC AUC when a feature is shuffled),
    :func:`partial_dependence_table` (average predicted churn as one feature varies) and
    :func:`risk_table`: per customer, the churn probability and the top reasons — the features whose
    replacement by a typical value (median for numbers, most frequent value for categories) lowers this
    customer's predicted churn probability the most (a local perturbation, model-agnostic).

Large logs
    Every function that reads the events also takes a log shuffled by customer
    (:class:`cjlib.engine.Partitioned`, a report's events with ``dask_address``): labels, features, the
    gaps between active days and the BG/NBD summaries are per-customer kernels run on its partitions
    (:mod:`cjlib.churn.distributed`), and the models are fitted on the merged per-customer tables in the
    calling process, so the results equal the in-process ones. A feature model's training set of more than
    :data:`MAX_FIT_CUSTOMERS` customers is a seeded random sample of it (:func:`fit_rows`); every customer is
    still scored, and the choice sentence says so (:func:`fit_note`).

Modules
    ``window`` (the churn window, cutoffs and :func:`plan_window`), ``dataset`` (labels and features at a
    cutoff), ``models`` (the pipelines, the BG/NBD baseline, :func:`choose_model`), ``evaluation`` (lift,
    calibration, AUCs), ``validation`` (:class:`ChurnResult` and the validation runs), ``explain``
    (importance, partial dependence, per-customer reasons) and ``distributed`` (the same steps on a
    Partitioned log). Every public name is re-exported here.
"""

from __future__ import annotations

from cjlib.churn.dataset import features_at, label_customers, make_dataset
from cjlib.churn.evaluation import (
    calibration_by_model,
    calibration_table,
    classification_metrics,
    curve_table,
    lift_by_model,
    lift_table,
    max_calibration_gap,
    recent_roc_auc,
)
from cjlib.churn.explain import (
    churn_by_segment,
    drivers,
    partial_dependence_table,
    permutation_importance_table,
    personas_or_reason,
    risk_table,
    top_numeric,
)
from cjlib.churn.models import (
    AUC_TIE,
    CANDIDATES,
    ENSEMBLE,
    MAX_FIT_CUSTOMERS,
    MODELS,
    NAMES,
    MeanProbability,
    bgnbd_scores,
    choose_model,
    fit_note,
    fit_rows,
    make_model,
)
from cjlib.churn.validation import (
    N_SPLITS,
    ChurnResult,
    cross_validation,
    out_of_time_validation,
    validate,
    validate_or_reason,
)
from cjlib.churn.window import (
    DESIGNS,
    GAP_PERCENTILE,
    MIN_CLASS,
    MIN_WINDOW_DAYS,
    TAIL_SHARE,
    WindowPlan,
    activity_gap_days,
    activity_list,
    default_cutoff,
    last_week_share,
    plan_window,
    plan_window_or_reason,
)

__all__ = [
    "AUC_TIE",
    "CANDIDATES",
    "ChurnResult",
    "DESIGNS",
    "ENSEMBLE",
    "GAP_PERCENTILE",
    "MIN_CLASS",
    "MIN_WINDOW_DAYS",
    "MAX_FIT_CUSTOMERS",
    "MODELS",
    "MeanProbability",
    "NAMES",
    "N_SPLITS",
    "TAIL_SHARE",
    "WindowPlan",
    "activity_gap_days",
    "activity_list",
    "bgnbd_scores",
    "calibration_by_model",
    "calibration_table",
    "choose_model",
    "churn_by_segment",
    "classification_metrics",
    "cross_validation",
    "curve_table",
    "default_cutoff",
    "drivers",
    "features_at",
    "fit_note",
    "fit_rows",
    "label_customers",
    "last_week_share",
    "lift_by_model",
    "lift_table",
    "make_dataset",
    "make_model",
    "max_calibration_gap",
    "out_of_time_validation",
    "partial_dependence_table",
    "permutation_importance_table",
    "personas_or_reason",
    "plan_window",
    "plan_window_or_reason",
    "recent_roc_auc",
    "risk_table",
    "top_numeric",
    "validate",
    "validate_or_reason",
]
