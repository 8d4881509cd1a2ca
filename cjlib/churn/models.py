"""The churn models (one scikit-learn Pipeline each), the BG/NBD baseline and the choice between them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import available_if

from cjlib.bgnbd import BGNBD, fit_bgnbd, rfm_summary
from cjlib.churn.window import _as_activity, _as_cutoff, _as_window
from cjlib.errors import DataError
from cjlib.validation import check_choice

MODELS = ("logistic", "gbm")  # the feature models validation fits
ENSEMBLE = "ensemble"  # the mean of their probabilities: no fit of its own




def _threads(n_threads: int | None):
    """Limit OpenMP/BLAS threads while fitting and predicting (``None``: leave them as they are).

    The data sets are small; on a busy machine parallel OpenMP threads in gradient boosting spin and
    slow a fit down more than tenfold, so the functions here default to one thread.
    """
    from contextlib import nullcontext

    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime first, or the limit would miss it)
    from threadpoolctl import threadpool_limits

    if n_threads is None:
        return nullcontext()
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)) or n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer or None, got {n_threads!r}")
    return threadpool_limits(limits=int(n_threads))



MAX_FIT_CUSTOMERS = 100_000  # a feature model's training set beyond this is a random sample of it (large logs only)


def fit_rows(n: int, *, seed: int = 0, limit: int = MAX_FIT_CUSTOMERS) -> np.ndarray | None:
    """Which of ``n`` training customers a feature model is fitted on: all up to ``limit``, else a random
    ``limit`` of them (seeded, in their order).

    Gradient boosting with its calibration folds costs time in proportion to the rows; past
    :data:`MAX_FIT_CUSTOMERS` customers a larger training set changes the fitted churn probabilities
    little but the run's time a lot (380,000 customers: 3.8 times the fit). Every customer is still
    scored and evaluated; the report says when a sample was fitted (:func:`fit_note`).

    Parameters
    ----------
    n : int
        Customers in the training set.
    seed : int, default 0
    limit : int, default :data:`MAX_FIT_CUSTOMERS`

    Returns
    -------
    ndarray or None
        Sorted positions, or None for every customer.

    Examples
    --------
    >>> fit_rows(20_000) is None
    True
    >>> len(fit_rows(10, limit=4)), bool((np.diff(fit_rows(10, limit=4)) > 0).all())
    (4, True)
    """
    if n <= limit:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def fit_note(n_fitted: int | None, n_training: int) -> str:
    """The sentence saying a feature model was fitted on a sample (``""`` when it saw every customer).

    Parameters
    ----------
    n_fitted : int or None
        Customers fitted on (None: all of them).
    n_training : int
        Customers in the training set.

    Returns
    -------
    str

    Examples
    --------
    >>> print(fit_note(100_000, 380_000).strip())
    The feature models were fitted on a random 100,000 of the 380,000 training customers, as every fit on more than 100,000 is (the at-risk list's refit too), which keeps the run fast; every customer is scored and evaluated.
    """
    if n_fitted is None or n_fitted >= n_training:
        return ""
    return (f" The feature models were fitted on a random {n_fitted:,} of the {n_training:,} training customers, "
            f"as every fit on more than {MAX_FIT_CUSTOMERS:,} is (the at-risk list's refit too), which keeps the "
            f"run fast; every customer is scored and evaluated.")


# ------------------------------------------------------------------------------------------ models
class MeanProbability(ClassifierMixin, BaseEstimator):
    """A classifier whose churn probability is the mean of its members' (soft voting, equal weights).

    ``fit`` fits a clone of each member on the same data; :meth:`of_fitted` wraps members already fitted
    (validation averages the logistic and boosting models it fitted anyway). The mean of calibrated
    probabilities stays on the probability scale.

    Parameters
    ----------
    estimators : list of (str, estimator)
        Named members with ``predict_proba``.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> X, y = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]}), pd.Series([0, 0, 0, 1])
    >>> m = MeanProbability([("prior", DummyClassifier(strategy="prior")),
    ...                      ("uniform", DummyClassifier(strategy="uniform"))]).fit(X, y)
    >>> m.predict_proba(X)[0].tolist()
    [0.625, 0.375]
    """

    def __init__(self, estimators: list):
        self.estimators = estimators

    @classmethod
    def of_fitted(cls, estimators: list) -> MeanProbability:
        """The mean of members already fitted on the same data (nothing is refitted).

        Parameters
        ----------
        estimators : list of (str, fitted estimator)

        Returns
        -------
        MeanProbability
        """
        m = cls(estimators)
        m.estimators_ = [e for _, e in estimators]
        m.classes_ = m.estimators_[0].classes_
        return m

    def fit(self, X, y):
        """Fit a clone of every member on ``X``, ``y``.

        Parameters
        ----------
        X : DataFrame
        y : array-like of 0/1

        Returns
        -------
        MeanProbability
            Itself, fitted.
        """
        from sklearn.base import clone

        self.estimators_ = [clone(e).fit(X, y) for _, e in self.estimators]
        self.classes_ = self.estimators_[0].classes_
        return self

    def predict_proba(self, X) -> np.ndarray:
        """The members' mean class probabilities.

        Parameters
        ----------
        X : DataFrame

        Returns
        -------
        ndarray of shape (n, 2)
        """
        return np.mean([e.predict_proba(X) for e in self.estimators_], axis=0)

    def predict(self, X) -> np.ndarray:
        """The class with the higher mean probability.

        Parameters
        ----------
        X : DataFrame

        Returns
        -------
        ndarray
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


# Rows a churn model transforms and scores at once. A power of two, so each block starts where a BLAS
# kernel's group of rows (4, 8 or 16 at a time) would start in one call over all rows: the logistic dot
# products, and so the probabilities, are then the one call's bit for bit (blocks of 7 rows are not).
PREDICT_ROWS = 16_384  # the scoring's transient copies (object array of a block with a text column, imputed,
# indicator and scaled arrays) grow with the block; 16,384 rows keep them to tens of MB


def _final_has(attr: str):
    """Whether the last step has ``attr`` (so a scorer that asks ``hasattr`` gets Pipeline's answer)."""
    def check(self) -> bool:
        getattr(self.steps[-1][1], attr)
        return True
    return check


class BlockPipeline(Pipeline):
    """A scikit-learn Pipeline that predicts :data:`PREDICT_ROWS` rows at a time.

    Scoring 380,000 customers in one call makes every preprocessing step hold its own float64 copy of
    all of them (imputed, indicators, scaled: ~0.5 GB at 10 M events); in blocks of rows only one
    block's copies exist at once. Every step is row by row (imputation and scaling with fitted values,
    one-hot, trees, the sigmoid calibration, the logistic dot product), so with one BLAS thread (as cjlib
    scores) the probabilities are the ones a single call gives, bit for bit (``tests/test_churn_memory.py``;
    see :data:`PREDICT_ROWS`). Fitting is unchanged.

    Parameters
    ----------
    steps : list of (str, estimator)
        As :class:`sklearn.pipeline.Pipeline` (its other parameters too).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]}), pd.Series([0, 0, 1, 1])
    >>> pipe = BlockPipeline([("model", LogisticRegression())]).fit(X, y)
    >>> bool(np.array_equal(pipe.predict_proba(X), pipe.steps[-1][1].predict_proba(X)))
    True
    """

    def _in_blocks(self, method: str, X, **params):
        call = getattr(super(), method)
        n = X.shape[0]
        if n <= PREDICT_ROWS:
            return call(X, **params)
        take = X.iloc if isinstance(X, (pd.DataFrame, pd.Series)) else X
        return np.concatenate([call(take[i:i + PREDICT_ROWS], **params) for i in range(0, n, PREDICT_ROWS)])

    @available_if(_final_has("predict_proba"))
    def predict_proba(self, X, **params) -> np.ndarray:
        """Class probabilities, :data:`PREDICT_ROWS` rows at a time.

        Parameters
        ----------
        X : DataFrame
        **params
            As :meth:`sklearn.pipeline.Pipeline.predict_proba`.

        Returns
        -------
        ndarray of shape (n, 2)
        """
        return self._in_blocks("predict_proba", X, **params)

    @available_if(_final_has("decision_function"))
    def decision_function(self, X, **params) -> np.ndarray:
        """The final step's decision function, :data:`PREDICT_ROWS` rows at a time.

        Parameters
        ----------
        X : DataFrame
        **params
            As :meth:`sklearn.pipeline.Pipeline.decision_function`.

        Returns
        -------
        ndarray
        """
        return self._in_blocks("decision_function", X, **params)

    @available_if(_final_has("predict"))
    def predict(self, X, **params) -> np.ndarray:
        """Predicted classes, :data:`PREDICT_ROWS` rows at a time.

        Parameters
        ----------
        X : DataFrame
        **params
            As :meth:`sklearn.pipeline.Pipeline.predict`.

        Returns
        -------
        ndarray
        """
        return self._in_blocks("predict", X, **params)


def _split_columns(X: pd.DataFrame) -> tuple[list[str], list[str]]:
    num = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])]
    num += [c for c in X.columns if pd.api.types.is_bool_dtype(X[c])]
    cat = [c for c in X.columns if c not in num]
    return num, cat


def make_model(kind: str = "gbm", X: pd.DataFrame | None = None, *, class_weight: str | None = None,
               seed: int = 0):
    """An unfitted churn model: one scikit-learn Pipeline holding every preprocessing step.

    Parameters
    ----------
    kind : {"logistic", "gbm", "ensemble"}, default "gbm"
        L2 logistic regression, regularized histogram gradient boosting with sigmoid calibration, or
        their mean (:class:`MeanProbability` of the two pipelines).
    X : DataFrame, optional
        Training features, used only to tell numeric from categorical columns (default: numeric columns
        by dtype at fit time, everything else one-hot encoded).
    class_weight : {None, "balanced"}, default None
        ``None`` (the default) fits the data as it is, which keeps probabilities calibrated.
        ``"balanced"`` reweights the classes and always adds a 3-fold sigmoid calibration on top.
    seed : int, default 0
        Seed of every random step (boosting's validation split, calibration folds).

    Returns
    -------
    BlockPipeline or MeanProbability
        A :class:`~sklearn.pipeline.Pipeline` that predicts in blocks of rows: ``prep``
        (ColumnTransformer: median imputation with missing indicators and scaling for numbers, one-hot
        for categories) → ``model``; for ``"ensemble"`` the mean of the two pipelines.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    check_choice("model kind", kind, (*MODELS, ENSEMBLE))
    check_choice("class_weight", class_weight, (None, "balanced"))
    if kind == ENSEMBLE:
        return MeanProbability([(k, make_model(k, X, class_weight=class_weight, seed=seed)) for k in MODELS])
    if X is not None:
        num, cat = _split_columns(X)
        num_sel, cat_sel = num, cat
    else:
        num_sel = make_column_selector(dtype_include="number")
        cat_sel = make_column_selector(dtype_exclude="number")
    numeric = make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                            StandardScaler())
    categorical = make_pipeline(SimpleImputer(strategy="constant", fill_value="missing", keep_empty_features=True),
                                OneHotEncoder(handle_unknown="ignore", min_frequency=20, sparse_output=False))
    prep = ColumnTransformer([("num", numeric, num_sel), ("cat", categorical, cat_sel)],
                             verbose_feature_names_out=False)
    if kind == "logistic":
        est = LogisticRegression(C=1.0, max_iter=2000, class_weight=class_weight)
        calibrate = class_weight is not None
    else:
        est = HistGradientBoostingClassifier(learning_rate=0.1, max_iter=300, max_leaf_nodes=15,
                                             min_samples_leaf=40, l2_regularization=1.0, max_bins=63,
                                             early_stopping=True, validation_fraction=0.15,
                                             n_iter_no_change=20, class_weight=class_weight,
                                             random_state=seed)
        calibrate = True
    if calibrate:
        est = CalibratedClassifierCV(est, method="sigmoid",
                                     cv=StratifiedKFold(3, shuffle=True, random_state=seed))
    return BlockPipeline([("prep", prep), ("model", est)])



# the models validation compares and the list may use; ties go to the earlier (simpler) one
CANDIDATES = ("logistic", "gbm", "bgnbd", ENSEMBLE)
AUC_TIE = 0.0005  # ROC AUCs this close read the same at three decimals: the simpler model is chosen


def choose_model(metrics: pd.DataFrame, requested: str = "auto") -> tuple[str, str]:
    """The model for the at-risk list and the sentence saying why.

    ``"auto"`` takes the highest validation ROC AUC among the rows of ``metrics`` (logistic, boosting,
    BG/NBD, the ensemble; AUCs within :data:`AUC_TIE`, equal at three decimals, go to the first in that
    order, so the ensemble is chosen only when it ranks better than both of its members); the sentence says
    "best" only when the gap to every other model is beyond chance (:func:`cjlib.findings.churn.auc_margin`),
    and otherwise names the models within chance of it. A requested model is honoured, and the
    sentence says so whenever another model scored higher — a model worse than a baseline is never
    used silently.

    Parameters
    ----------
    metrics : DataFrame
        :attr:`ChurnResult.metrics` (index model, column ``roc_auc``).
    requested : {"auto", "gbm", "logistic", "bgnbd", "ensemble"}

    Returns
    -------
    (str, str)
        The model and one sentence.

    Examples
    --------
    >>> m = pd.DataFrame({"roc_auc": [0.737, 0.680, 0.718]}, index=["logistic", "gbm", "bgnbd"])
    >>> choose_model(m)[0]
    'logistic'
    >>> choose_model(m, "gbm")[1]
    'Boosting was asked for (parameter model) and is used, though it ranks churners worse on validation than logistic regression (ROC AUC 0.680 against 0.737) and BG/NBD (0.718).'
    """
    check_choice("model", requested, ("auto", *CANDIDATES))
    auc = metrics["roc_auc"].astype(float)
    order = [k for k in CANDIDATES if k in auc.index]
    top = max(auc[k] for k in order)
    best = next(k for k in order if auc[k] >= top - AUC_TIE)  # within display precision: the simpler model
    if requested == "auto":
        tied = [k for k in order if k != best and auc[k] >= top - AUC_TIE]
        if tied:
            return best, (f"{NAMES[best][0].upper() + NAMES[best][1:]} drives the list: it ranks churners as well as "
                          f"{' and '.join(NAMES[k] for k in tied)} on validation (ROC AUC {auc[best]:.3f}) and is the "
                          f"simpler model.")
        from cjlib.findings.churn.sentences import auc_margin  # the findings' own "beyond chance"

        rivals = [k for k in order if k != best]
        f = _digits(auc[best], [auc[k] for k in rivals])
        close = [k for k in rivals if auc[best] - auc[k] <= auc_margin(metrics, best, k)]
        vs = " and ".join(f"{NAMES[k]} ({auc[k]:{f}})" for k in rivals)
        lead = f"{NAMES[best][0].upper() + NAMES[best][1:]} drives the list: "
        if close:  # the highest AUC, but not beyond chance of these: never "best"
            near = " and ".join(f"{NAMES[k]} ({auc[k]:{f}})" for k in close)
            far = [k for k in rivals if k not in close]
            return best, (lead + f"it has the highest ROC AUC on validation ({auc[best]:{f}}), within chance of "
                          f"{near}" + (f"; {' and '.join(f'{NAMES[k]} ({auc[k]:{f}})' for k in far)} "
                                       f"rank{'s' if len(far) == 1 else ''} worse" if far else "") + ".")
        return best, (lead + f"it ranks churners best on validation (ROC AUC {auc[best]:{f}}"
                      + (f", against {vs})." if rivals else ")."))
    if requested not in auc.index:
        raise DataError(f"model {requested!r} could not be validated on this data", column="event",
                        rule="model_unavailable")
    better = [k for k in order if auc[k] > auc[requested] + 1e-12]
    name = NAMES[requested][0].upper() + NAMES[requested][1:]
    if not better:
        return requested, f"{name} was asked for and is also the best on validation (ROC AUC {auc[requested]:.3f})."
    first, rest = better[0], better[1:]
    f = _digits(auc[requested], [auc[k] for k in better])
    tail = "".join(f" and {NAMES[k]} ({auc[k]:{f}})" for k in rest)
    return requested, (f"{name} was asked for (parameter model) and is used, though it ranks churners worse on "
                       f"validation than {NAMES[first]} (ROC AUC {auc[requested]:{f}} against {auc[first]:{f}})"
                       f"{tail}.")


def _digits(value: float, others) -> str:
    """``".3f"``, or ``".4f"`` when ``value`` and one of ``others`` differ but read the same at three decimals
    (a model chosen over another by less than 0.001 must not read as equal to it)."""
    same = any(f"{value:.3f}" == f"{o:.3f}" and abs(value - o) > 1e-12 for o in others)
    return ".4f" if same else ".3f"


NAMES = {"logistic": "logistic regression", "gbm": "boosting", "bgnbd": "BG/NBD",
         ENSEMBLE: "the mean of logistic regression and boosting"}


def bgnbd_scores(events: pd.DataFrame, *, cutoff, window, activity_events=None,
                 customer_ids=None, time_unit: str = "days") -> tuple[pd.DataFrame, BGNBD]:
    """Fit BG/NBD on the activity occasions before ``cutoff`` and score the window after it.

    The model is fitted on the customers with at least one activity occasion before ``cutoff``; customers
    without one (for purchase churn: those who never bought) are scored as ``x = 0`` with their first
    event as time zero.

    Parameters
    ----------
    events : DataFrame or Partitioned
    cutoff : str or Timestamp
        Occasions strictly before it are the model's history.
    window : int, str or Timedelta
        The churn window after ``cutoff``: days, ``"90D"`` or a Timedelta of whole days.
    activity_events : sequence of str, optional
        Events that make an activity occasion (default: every event).
    customer_ids : Index, optional
        Customers to score (default: every customer with an event before ``cutoff``).
    time_unit : {"days", "weeks"}, default "days"

    Returns
    -------
    scores : DataFrame
        Indexed by ``customer_id``: ``frequency``, ``recency``, ``T``, ``has_activity``, ``p_alive``,
        ``expected_activity`` (expected activity days in the window) and ``p_no_activity`` (the churn
        score; raw P(alive) ranks one-time buyers as safe, so it is not used as the score).
    model : BGNBD
    """
    cut = _as_cutoff(cutoff)
    days = _as_window(window)
    activity = _as_activity(activity_events, events) if activity_events is not None else None
    # T ends on the last observed day, as in Fader, Hardie & Lee's CDNOW summaries and lifetimes
    rfm = rfm_summary(events, cutoff=cut, activity_events=activity, time_unit=time_unit,
                      customer_ids=customer_ids, observation_end="last_day")
    # fit on customers with at least one activity occasion (BG/NBD's customers: a first transaction);
    # customers without one (never purchased, for purchase churn) are scored as x = 0 from their first event
    fit_on = rfm[rfm["has_activity"]] if rfm["has_activity"].sum() >= 2 else rfm
    m = fit_bgnbd(fit_on["frequency"], fit_on["recency"], fit_on["T"], time_unit=time_unit)
    t = days / (7.0 if time_unit == "weeks" else 1.0)
    x, tx, T = rfm["frequency"], rfm["recency"], rfm["T"]
    out = rfm.assign(p_alive=m.p_alive(x, tx, T), expected_activity=m.expected_purchases(t, x, tx, T),
                     p_no_activity=m.p_no_purchase(t, x, tx, T))
    return out, m


def _bgnbd_column(events, cut, window, activity, index) -> tuple[np.ndarray | None, BGNBD | None, dict]:
    try:
        bg, bgm = bgnbd_scores(events, cutoff=cut, window=window, activity_events=activity,
                               customer_ids=index)
        if not np.isfinite(bg["p_no_activity"].to_numpy(dtype=float)).all():
            raise ValueError("BG/NBD gave undefined scores for some customers")
        if bg.index.equals(index):
            bg.index = index  # the held-out customers' index object, not a copy of it
        return bg["p_no_activity"].to_numpy(), bgm, {"bgnbd_scores": bg}
    except ValueError as exc:
        return None, None, {"bgnbd_why": str(exc)}

