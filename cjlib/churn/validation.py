"""Validation runs: out of time, customer-split cross-validation, and :func:`validate` choosing between them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cjlib.bgnbd import BGNBD
from cjlib.churn.dataset import _labelled
from cjlib.churn.distributed import release_memory
from cjlib.churn.evaluation import _evaluate
from cjlib.churn.models import (
    ENSEMBLE,
    MODELS,
    MeanProbability,
    _bgnbd_column,
    _threads,
    choose_model,
    fit_note,
    fit_rows,
    make_model,
)
from cjlib.churn.window import (
    MIN_CLASS,
    WindowPlan,
    _as_activity,
    _as_cutoff,
    _as_window,
    _or_reason,
)
from cjlib.errors import DataError
from cjlib.stagemap import StageMap

N_SPLITS = 5  # customer-split folds when the history holds no out-of-time check
_TRAINING = "out-of-time training set"  # how a failure of the earlier (training) window starts


@dataclass(frozen=True)
class ChurnResult:
    """A validation run: the fitted models, the held-out scores, their evaluation and the model chosen.

    Attributes
    ----------
    model : str
        The chosen model (``"gbm"``, ``"logistic"``, ``"bgnbd"`` or ``"ensemble"``); see ``reason``.
    models : dict
        Kind → fitted model (a Pipeline; for ``"ensemble"`` the :class:`~cjlib.churn.models.MeanProbability`
        of the other two): trained at ``train_cutoff`` (out of time) or on the first fold's training
        customers (cross-validation).
    bgnbd : BGNBD or None
        The BG/NBD baseline fitted on the activity occasions before ``cutoff`` (None when it cannot be
        fitted; ``info["bgnbd_why"]`` says why). It uses no label, so cross-validation fits it once.
    X_train, y_train, X_test, y_test : DataFrame / Series
        Out of time: the training set at ``train_cutoff`` and the test set at ``cutoff`` (test columns
        aligned to training). Cross-validation: both are the data set at ``cutoff``.
    scores : DataFrame
        Held-out customers × ``logistic``, ``gbm``, ``bgnbd``, ``ensemble`` (the mean of the first two):
        predicted churn probabilities (out of fold under cross-validation).
    metrics : DataFrame
        Index model, :func:`classification_metrics` columns.
    cutoff : Timestamp
    train_cutoff : Timestamp or None
        None under cross-validation.
    window : Timedelta
        The churn window (whole days; :attr:`window_days` is the count).
    activity_events : list of str or None
    design : {"out_of_time", "cross_validation"}
    reason : str
        One sentence: why ``model`` was chosen (:func:`choose_model`).
    explain_index : Index or None
        The held-out customers explanations use with ``fitted`` (the first fold under cross-validation;
        None = every test customer).
    """

    model: str
    models: dict
    bgnbd: BGNBD | None
    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series
    scores: pd.DataFrame
    metrics: pd.DataFrame
    cutoff: pd.Timestamp
    train_cutoff: pd.Timestamp | None
    window: pd.Timedelta
    activity_events: list | None = None
    info: dict = field(default_factory=dict)
    design: str = "out_of_time"
    reason: str = ""
    explain_index: pd.Index | None = None

    @property
    def window_days(self) -> int:
        """The churn window in whole days."""
        return int(self.window / pd.Timedelta(days=1))

    @property
    def fitted(self):
        """The fitted model to explain: the chosen model's, or boosting's when BG/NBD is chosen."""
        return self.models[self.model if self.model in self.models else "gbm"]

    @property
    def explained(self) -> str:
        """The kind :attr:`fitted` is."""
        return self.model if self.model in self.models else "gbm"

    @property
    def X_explain(self) -> pd.DataFrame:
        """Held-out features for :attr:`fitted` (permutation importance, partial dependence)."""
        return self.X_test if self.explain_index is None else self.X_test.loc[self.explain_index]

    @property
    def y_explain(self) -> pd.Series:
        return self.y_test if self.explain_index is None else self.y_test.loc[self.explain_index]

    @property
    def chosen(self) -> pd.Series:
        """The chosen model's row of :attr:`metrics` (ROC AUC, PR AUC, Brier, …)."""
        return self.metrics.loc[self.model]

    @property
    def base_rate(self) -> float:
        """Share of the held-out customers who churned."""
        return float(self.chosen["base_rate"])

    @property
    def probability(self) -> pd.Series:
        """The chosen model's churn probability per held-out customer."""
        return self.scores[self.model].rename("churn_probability")

    @property
    def bgnbd_summary(self) -> dict | None:
        """``{"r", "alpha", "a", "b", "time_unit", "standard_errors", "roc_auc"}`` of the baseline (for ``report.record``);
        None when BG/NBD could not be fitted."""
        if self.bgnbd is None:
            return None
        return {**self.bgnbd.params, "time_unit": self.bgnbd.time_unit,
                "standard_errors": dict(self.bgnbd.standard_errors),
                "roc_auc": float(self.metrics.loc["bgnbd", "roc_auc"])}



def _align(X_te: pd.DataFrame, X_tr: pd.DataFrame) -> pd.DataFrame:
    """Test columns in the training order; a column the test period lacks (a channel) means zero of it."""
    return _align_to(X_te, _layout(X_tr))


def _layout(X_tr: pd.DataFrame) -> tuple[list, list]:
    """What :func:`_align_to` needs of a training set: its columns, and the numeric ones it has values of."""
    valued = [c for c in X_tr.columns if pd.api.types.is_numeric_dtype(X_tr[c]) and not X_tr[c].isna().all()]
    return list(X_tr.columns), valued


def _align_to(X_te: pd.DataFrame, layout: tuple[list, list]) -> pd.DataFrame:
    """:func:`_align` from the training set's :func:`_layout` (the training set itself may be gone)."""
    columns, valued = layout
    X_te = X_te.reindex(columns=columns)
    for c in valued:
        if X_te[c].isna().all():
            X_te[c] = 0
    return X_te


def _with_ensemble(fitted: dict, scores: dict) -> tuple[dict, dict]:
    """Add the ensemble: the mean of the feature models' held-out probabilities, and of the fitted models.

    Under cross-validation the mean of out-of-fold probabilities is what fitting the ensemble in each fold
    would give (its members are those same fits), so it costs no fit of its own.
    """
    fitted = {**fitted, ENSEMBLE: MeanProbability.of_fitted([(k, fitted[k]) for k in MODELS])}
    return fitted, {**scores, ENSEMBLE: np.mean([scores[k] for k in MODELS], axis=0)}


def _result(events, model: str, fitted: dict, scores: dict, X_train, y_train, X_test, y_test, *, cutoff,
            train_cutoff, window, activity, design: str, explain_index=None, info=None) -> ChurnResult:
    """Add the ensemble and the BG/NBD baseline to the held-out ``scores``, evaluate them all and choose the
    model."""
    fitted, scores = _with_ensemble(fitted, scores)
    bg, bgm, bg_info = _bgnbd_column(events, cutoff, window, activity, X_test.index)
    if bg is not None:
        scores = {**{k: v for k, v in scores.items() if k != ENSEMBLE}, "bgnbd": bg, ENSEMBLE: scores[ENSEMBLE]}
    scores, metrics = _evaluate(scores, y_test, X_test.index)
    chosen, reason = choose_model(metrics, model)
    release_memory(events)  # the data sets' merges, the fits and the scoring
    if (info or {}).get("fit_customers"):  # a large log's feature models saw a sample: the report says so
        reason += fit_note(info["fit_customers"], info["training_customers"])
    return ChurnResult(model=chosen, models=fitted, bgnbd=bgm, X_train=X_train, y_train=y_train, X_test=X_test,
                       y_test=y_test, scores=scores, metrics=metrics, cutoff=cutoff, train_cutoff=train_cutoff,
                       window=pd.Timedelta(days=window), activity_events=activity,
                       info={**bg_info, **(info or {})},
                       design=design, reason=reason, explain_index=explain_index)


def out_of_time_validation(
    events: pd.DataFrame,
    *,
    cutoff: str | pd.Timestamp,
    window,
    activity_events: Sequence[str] | None = None,
    customers: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    stage_map: StageMap | None = None,
    model: str = "auto",
    class_weight: str | None = None,
    seed: int = 0,
    n_threads: int | None = 1,
    exclude: Sequence[str] | None = None,
    min_class: int = MIN_CLASS,
) -> ChurnResult:
    """Train at ``cutoff − window``, test at ``cutoff``; compare logistic, GBM, BG/NBD and the ensemble.

    The training labels come from ``[cutoff − window, cutoff)``, so nothing at or after ``cutoff``
    is used to fit; the test set's features are also from before ``cutoff`` and its labels from the
    window after it. Both feature models are fitted (the logistic baseline is cheap), the ensemble is
    their mean and BG/NBD stands beside them; :func:`choose_model` picks the one the result's :attr:`ChurnResult.probability` uses.

    Parameters
    ----------
    events, cutoff, activity_events, customers, feedback, stage_map, exclude
        As in :func:`make_dataset`.
    window : int, str or Timedelta
        The churn window: days, ``"90D"`` or a Timedelta of whole days (``window_days`` of
        :func:`make_dataset`).
    model : {"auto", "gbm", "logistic", "bgnbd", "ensemble"}, default "auto"
        See :func:`choose_model`.
    class_weight : {None, "balanced"}, default None
        See :func:`make_model`.
    seed : int, default 0
    n_threads : int or None, default 1
        OpenMP/BLAS threads while fitting (``None`` leaves the library defaults).
    min_class : int, default :data:`MIN_CLASS`
        Fewest churned and fewest active customers each of the two data sets must hold: fewer cannot
        fit a calibrated model (3-fold calibration, early stopping) or evaluate one.

    Returns
    -------
    ChurnResult
        BG/NBD is left out (``bgnbd`` None, no ``bgnbd`` score or metrics row, the reason in
        ``info["bgnbd_why"]``) when it cannot be fitted, e.g. no customer has a repeat activity day.

    Raises
    ------
    DataError
        As :func:`make_dataset`, for either cutoff (e.g. no events before ``cutoff − window``,
        rule ``cutoff_outside_data``); rule ``too_few_per_class`` when a data set holds fewer than
        ``min_class`` churned or active customers.
    """
    cut = _as_cutoff(cutoff)
    window = _as_window(window)
    train_cut = cut - pd.Timedelta(days=window)
    activity = _as_activity(activity_events, events)
    kw = {"window": window, "activity_events": activity, "customers": customers, "feedback": feedback,
          "stage_map": stage_map, "exclude": exclude}
    X_te, y_te = _labelled(events, "test", cutoff=cut, min_class=min_class, **kw)
    try:
        X_tr, y_tr = _labelled(events, "training", cutoff=train_cut, min_class=min_class, **kw)
    except DataError as exc:
        raise DataError(f"{_TRAINING} at cutoff − churn_window_days (window in cjlib.churn) "
                        f"= {train_cut}: {exc.message}",
                        column=exc.column, rule=exc.rule) from exc
    X_te = _align(X_te, X_tr)
    release_memory(events)  # the test set's columns before alignment
    fitted, scores = {}, {}
    rows = fit_rows(len(X_tr), seed=seed)
    X_fit, y_fit = (X_tr, y_tr) if rows is None else (X_tr.iloc[rows], y_tr.iloc[rows])
    with _threads(n_threads):
        for kind in MODELS:
            pipe = make_model(kind, X_tr, class_weight=class_weight, seed=seed).fit(X_fit, y_fit)
            fitted[kind] = pipe
            scores[kind] = pipe.predict_proba(X_te)[:, 1]
    return _result(events, model, fitted, scores, X_tr, y_tr, X_te, y_te, cutoff=cut, train_cutoff=train_cut,
                   window=window, activity=activity, design="out_of_time",
                   info=None if rows is None else {"fit_customers": len(rows), "training_customers": len(X_tr)})


def cross_validation(
    events: pd.DataFrame,
    *,
    cutoff: str | pd.Timestamp,
    window,
    activity_events: Sequence[str] | None = None,
    customers: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    stage_map: StageMap | None = None,
    model: str = "auto",
    class_weight: str | None = None,
    seed: int = 0,
    n_threads: int | None = 1,
    exclude: Sequence[str] | None = None,
    min_class: int = MIN_CLASS,
    n_splits: int = N_SPLITS,
) -> ChurnResult:
    """Customer-split cross-validation at ``cutoff``, for histories too short for an out-of-time check.

    The data set at ``cutoff`` (features from before it, labels from the window after it) is split into
    ``n_splits`` stratified folds of customers; each feature model is fitted on the other folds and
    scores the held-out one, so every customer gets an out-of-fold probability. BG/NBD uses no label
    and is fitted once on the occasions before ``cutoff``. Unlike the out-of-time check, the models are
    tested on the same period they were trained on, so drift between periods is not measured (the
    report says so).

    Parameters
    ----------
    As :func:`out_of_time_validation`, plus ``n_splits`` (default :data:`N_SPLITS`; fewer when a class
    holds fewer customers).

    Returns
    -------
    ChurnResult
        ``design="cross_validation"``, ``train_cutoff=None``; ``models`` are the first fold's and
        ``explain_index`` its held-out customers.
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    cut = _as_cutoff(cutoff)
    window = _as_window(window)
    activity = _as_activity(activity_events, events)
    X, y = _labelled(events, "cross-validation", cutoff=cut, window=window, min_class=min_class,
                     activity_events=activity, customers=customers, feedback=feedback, stage_map=stage_map,
                     exclude=exclude)
    folds = int(min(n_splits, y.sum(), len(y) - y.sum()))
    split = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y))
    scores = {k: np.empty(len(X)) for k in MODELS}
    fitted = {}
    with _threads(n_threads):
        for kind in MODELS:
            base = make_model(kind, X, class_weight=class_weight, seed=seed)
            for i, (tr, te) in enumerate(split):
                rows = fit_rows(len(tr), seed=seed)
                tr = tr if rows is None else tr[rows]
                pipe = clone(base).fit(X.iloc[tr], y.iloc[tr])
                scores[kind][te] = pipe.predict_proba(X.iloc[te])[:, 1]
                if i == 0:
                    fitted[kind] = pipe
    return _result(events, model, fitted, scores, X, y, X, y, cutoff=cut, train_cutoff=None, window=window,
                   activity=activity, design="cross_validation", explain_index=X.index[split[0][1]],
                   info={"n_splits": folds, **({} if fit_rows(len(split[0][0])) is None else
                                              {"fit_customers": fit_rows(len(split[0][0])).size,
                                               "training_customers": len(split[0][0])})})


def validate(events: pd.DataFrame, plan: WindowPlan, **kw) -> ChurnResult:
    """The validation ``plan`` calls for: :func:`out_of_time_validation` or :func:`cross_validation`.

    When the out-of-time training set cannot be built (e.g. the earlier window holds no event or one
    class), it falls back to cross-validation at the same cutoff; ``info["fallback"]`` says why and the
    result's ``design`` is ``"cross_validation"``.

    Parameters
    ----------
    events : DataFrame or Partitioned
    plan : WindowPlan
        From :func:`plan_window` (window, cutoff and design).
    **kw
        Passed on (``activity_events``, ``customers``, ``feedback``, ``stage_map``, ``model``, ``seed``,
        ``exclude``, …).

    Returns
    -------
    ChurnResult
        The run of the validation used (its ``design`` says which).
    """
    res = _validate(events, plan, **kw)
    release_memory(events)  # the run's transient tables, once its frames are gone
    return res


def _validate(events, plan: WindowPlan, **kw) -> ChurnResult:
    if plan.design == "out_of_time":
        try:
            return out_of_time_validation(events, cutoff=plan.cutoff, window=plan.window, **kw)
        except DataError as exc:
            if not exc.message.startswith(_TRAINING):
                raise  # the test set itself cannot be built: cross-validation on it cannot either
            res = cross_validation(events, cutoff=plan.cutoff, window=plan.window, **kw)
            res.info["fallback"] = exc.message
            return res
    return cross_validation(events, cutoff=plan.cutoff, window=plan.window, **kw)



def validate_or_reason(events: pd.DataFrame, plan: WindowPlan, **kw) -> tuple[ChurnResult | None, str | None]:
    """:func:`validate` for a report: the result, or ``None`` and the sentence saying why no model fits.

    Parameters
    ----------
    events : DataFrame or Partitioned
    plan : WindowPlan
    **kw
        As :func:`validate`.

    Returns
    -------
    (ChurnResult, None) or (None, str)
        The sentence is the ``DataError``'s message (e.g. too few churned customers in a window).
    """
    return _or_reason(validate, events, plan, **kw)
