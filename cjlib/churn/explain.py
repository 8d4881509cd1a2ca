"""Explanations of a fitted churn model: permutation importance, partial dependence, per-customer reasons."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjlib.churn.models import _threads
from cjlib.progress import progress_bar


# ------------------------------------------------------------------------------------------ explanations
def permutation_importance_table(model, X: pd.DataFrame, y, *, n_repeats: int = 5, max_samples: int = 5000,
                                 seed: int = 0, n_threads: int | None = 1) -> pd.DataFrame:
    """Drop in ROC AUC when each feature is shuffled (sklearn's permutation importance), largest first.

    Parameters
    ----------
    model : fitted Pipeline
    X, y : DataFrame, Series
        Held-out data (the test set), raw feature columns.
    n_repeats : int, default 5
    max_samples : int, default 5000
        Rows drawn (with ``seed``) from ``X`` to keep it fast.
    seed : int, default 0

    Returns
    -------
    DataFrame
        Index ``feature``: ``importance`` (mean AUC drop), ``std``, ``rank`` (1 = most important).
    """
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import get_scorer

    # the bar counts sklearn's scorer calls: the baseline, then each column × repeat
    with _threads(n_threads), progress_bar(total=1 + X.shape[1] * n_repeats, desc="permutation importance") as bar:
        r = permutation_importance(model, X, np.asarray(y), scoring=bar.counting(get_scorer("roc_auc")),
                                   n_repeats=n_repeats, random_state=seed,
                                   max_samples=min(max_samples, len(X)) / len(X), n_jobs=1)
    out = pd.DataFrame({"importance": r.importances_mean, "std": r.importances_std},
                       index=pd.Index(X.columns, name="feature"))
    out = out.sort_values(["importance", "std"], ascending=[False, True], kind="stable")
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def partial_dependence_table(model, X: pd.DataFrame, features: Sequence[str], *, grid_resolution: int = 20,
                             max_samples: int = 2000, seed: int = 0, n_threads: int | None = 1) -> pd.DataFrame:
    """Average predicted churn probability as each numeric feature varies over its 5–95 % range.

    The grid is the feature's observed (non-missing) values between its 5 % and 95 % quantiles, or
    ``grid_resolution`` evenly spaced points there when there are more. Non-numeric features are skipped.
    Uses ``sklearn.inspection.partial_dependence`` (brute force) on up to ``max_samples`` rows.

    Parameters
    ----------
    model : estimator
        A fitted classifier with ``predict_proba`` (e.g. a Pipeline of :mod:`cjlib.churn`).
    X : DataFrame
        The feature rows the model takes.
    features : sequence of str
        Columns of ``X`` to vary (a name not in ``X`` raises ``ValueError``).
    grid_resolution : int, default 20
        Most grid points per feature.
    max_samples : int, default 2000
        Rows averaged over: a random sample of ``X`` when it has more.
    seed : int, default 0
        Random state of that sample.
    n_threads : int or None, default 1
        OpenMP/BLAS threads for the predictions (None: leave them as they are).

    Returns
    -------
    DataFrame
        ``feature``, ``value``, ``churn_probability`` (long form).
    """
    from sklearn.inspection import partial_dependence

    Xs = X.sample(n=min(max_samples, len(X)), random_state=seed) if len(X) > max_samples else X
    parts = []
    for f in features:
        if f not in X.columns:
            raise ValueError(f"feature {f!r} is not a column of X")
        if not pd.api.types.is_numeric_dtype(X[f]) or X[f].nunique() < 2:
            continue
        Xf = Xs.astype({f: float}) if pd.api.types.is_integer_dtype(Xs[f]) else Xs  # sklearn refuses ints
        # the grid from the observed values only (sklearn's percentiles turn NaN when values are missing)
        vals = X[f].to_numpy(dtype=float)
        lo, hi = np.nanquantile(vals, [0.05, 0.95])
        uniq = np.unique(vals[np.isfinite(vals) & (vals >= lo) & (vals <= hi)])
        grid = uniq if len(uniq) <= grid_resolution else np.linspace(lo, hi, grid_resolution)
        if len(grid) < 2:
            continue
        with _threads(n_threads):
            pdp = partial_dependence(model, Xf, [f], custom_values={f: grid}, kind="average", method="brute")
        parts.append(pd.DataFrame({"feature": f, "value": np.asarray(pdp["grid_values"][0], dtype=float),
                                   "churn_probability": np.asarray(pdp["average"][0])}))
    if not parts:
        return pd.DataFrame(columns=["feature", "value", "churn_probability"])
    return pd.concat(parts, ignore_index=True)


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return "missing"
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
    return str(v)


def _fmt_all(values: np.ndarray) -> np.ndarray:
    """:func:`_fmt` of every value (an object array), each distinct number formatted once."""
    if values.dtype.kind == "f":  # distinct bit patterns: -0.0 and 0.0, or two NaNs, stay apart
        bits = np.ascontiguousarray(values).view(np.int64 if values.dtype.itemsize == 8 else np.int32)
        _, first, inv = np.unique(bits, return_index=True, return_inverse=True)
        return np.array([_fmt(values[i]) for i in first] + [""], dtype=object)[:-1][inv]
    if values.dtype.kind in "iub":
        _, first, inv = np.unique(values, return_index=True, return_inverse=True)
        return np.array([_fmt(values[i]) for i in first] + [""], dtype=object)[:-1][inv]
    return np.array([_fmt(v) for v in values] + [""], dtype=object)[:-1]


def risk_table(model, X: pd.DataFrame, *, top_n: int = 3, reference: pd.DataFrame | None = None,
               features: Sequence[str] | None = None, n_threads: int | None = 1) -> pd.DataFrame:
    """Per customer: churn probability, risk decile and the top reasons, highest risk first.

    A reason is a feature whose replacement by a *typical* value — the median (numbers) or most frequent
    value (categories) of ``reference`` — lowers this customer's predicted churn probability; its size
    is that drop (a local, one-feature-at-a-time perturbation; it works for any model, interactions are
    not split). Features whose replacement would *raise* the risk are never reasons.

    Parameters
    ----------
    model : fitted Pipeline
    X : DataFrame
        Customers to score (raw feature columns).
    top_n : int, default 3
        Reasons per customer.
    reference : DataFrame, optional
        Where the typical values come from (default ``X``).
    features : sequence of str, optional
        Candidate reason features (default: every column; the top features by permutation importance
        keep it fast and the reasons meaningful).
    n_threads : int or None, default 1
        OpenMP/BLAS threads while predicting.

    Returns
    -------
    DataFrame
        Index ``customer_id``: ``churn_probability``, ``risk_decile`` (1 = highest risk),
        ``reason_1`` … (text "feature = value (typical t)"), ``reason_1_effect`` … (drop in probability,
        NaN when fewer reasons), sorted by probability descending.
    """
    if top_n < 1:
        raise ValueError(f"top_n must be at least 1, got {top_n!r}")
    ref = X if reference is None else reference
    cols = list(features) if features is not None else list(X.columns)
    missing = [c for c in cols if c not in X.columns]
    if missing:
        raise ValueError(f"features {missing} are not columns of X")
    with _threads(n_threads):
        p, deltas, typical = _perturb(model, X, ref, cols)
    order = np.argsort(-deltas, axis=1, kind="stable")[:, :top_n]
    out = pd.DataFrame({"churn_probability": p}, index=X.index)
    rank = pd.Series(p, index=X.index).rank(ascending=False, method="first").to_numpy()
    out["risk_decile"] = ((rank - 1) * 10 // len(X) + 1).astype(np.int64)
    vals = {c: X[c].to_numpy() for c in cols}
    for k in range(min(top_n, len(cols))):
        j = order[:, k]
        eff = deltas[np.arange(len(X)), j]
        pos = eff > 1e-4
        text = np.empty(len(X), dtype=object)
        for jj in np.unique(j):  # each feature's rows at once, each distinct value formatted once
            rows = np.flatnonzero(j == jj)
            c = cols[jj]
            text[rows] = f"{c} = " + _fmt_all(vals[c][rows]) + f" (typical {_fmt(typical[c])})"
        out[f"reason_{k + 1}"] = pd.array(np.where(pos, text, None), dtype="str")
        out[f"reason_{k + 1}_effect"] = np.where(pos, eff, np.nan)
    out.index.name = "customer_id"
    return out.sort_values("churn_probability", ascending=False, kind="stable")


def _perturb(model, X: pd.DataFrame, ref: pd.DataFrame, cols: list[str]):
    """Predicted probability and, per feature, its drop when the feature is set to a typical value."""
    p = model.predict_proba(X)[:, 1]
    deltas = np.zeros((len(X), len(cols)))
    typical = {}
    for j, c in enumerate(cols):
        if pd.api.types.is_numeric_dtype(ref[c]):
            t = ref[c].median()
        else:
            mode = ref[c].mode(dropna=True)
            t = mode.iloc[0] if len(mode) else np.nan
        typical[c] = t
        same = (X[c] == t).to_numpy(dtype=bool, na_value=False)
        if same.all():
            continue
        Xm = X.copy()
        Xm[c] = pd.Series([t] * len(X), index=X.index).astype(X[c].dtype) if not pd.isna(t) else X[c]
        deltas[:, j] = p - model.predict_proba(Xm)[:, 1]
        deltas[same, j] = 0.0
    return p, deltas, typical


def churn_by_segment(y, by: pd.Series, *, prob: pd.Series | None = None) -> pd.DataFrame:
    """Churn rate (and mean predicted probability) per segment, e.g. persona.

    Parameters
    ----------
    y : Series of 0/1
        Churn label indexed by ``customer_id``.
    by : Series
        Segment per ``customer_id`` (e.g. persona); customers missing from it are grouped as ``"unknown"``.
    prob : Series, optional
        Predicted churn probability indexed like ``y``.

    Returns
    -------
    DataFrame
        Index = segment (sorted by name): ``customers``, ``churners``, ``churn_rate``,
        ``share_of_churners`` and, with ``prob``, ``mean_predicted``.
    """
    seg = by.reindex(y.index).astype("object").where(lambda s: s.notna(), "unknown").astype(str)
    df = pd.DataFrame({"segment": seg.to_numpy(), "y": np.asarray(y, dtype=float)}, index=y.index)
    if prob is not None:
        df["p"] = prob.reindex(y.index).to_numpy(dtype=float)
    g = df.groupby("segment", sort=True)
    out = pd.DataFrame({"customers": g.size(), "churners": g["y"].sum().astype(np.int64),
                        "churn_rate": g["y"].mean()})
    out["share_of_churners"] = out["churners"] / max(out["churners"].sum(), 1)
    if prob is not None:
        out["mean_predicted"] = g["p"].mean()
    out.index.name = by.name or "segment"
    return out


def top_numeric(importance: pd.DataFrame, X: pd.DataFrame, *, among: int = 8, n: int = 4) -> list[str]:
    """The first ``n`` numeric features among the ``among`` most important (for partial dependence).

    Parameters
    ----------
    importance : DataFrame
        Indexed by feature, most important first (:func:`permutation_importance_table`).
    X : DataFrame
        The features (their dtypes tell numbers from categories).
    among, n : int

    Returns
    -------
    list of str

    Examples
    --------
    >>> imp = pd.DataFrame(index=pd.Index(["device", "recency_days", "sessions"], name="feature"))
    >>> X = pd.DataFrame({"device": ["app"], "recency_days": [3.0], "sessions": [2]})
    >>> top_numeric(imp, X, n=1)
    ['recency_days']
    """
    return [f for f in importance.index[:among] if pd.api.types.is_numeric_dtype(X[f])][:n]


def drivers(result, *, seed: int = 0, n_repeats: int = 3, max_samples: int = 3000, top: int = 4,
            grid_resolution: int = 15, dependence_samples: int = 1000,
            n_threads: int | None = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What drives the explained model of a validation run: importance, then the top features' dependence.

    Parameters
    ----------
    result : ChurnResult
        Its :attr:`~ChurnResult.fitted` model is explained on its held-out customers
        (:attr:`~ChurnResult.X_explain`, :attr:`~ChurnResult.y_explain`).
    seed : int, default 0
    n_repeats, max_samples : int
        For :func:`permutation_importance_table`.
    top : int, default 4
        Partial dependence of the first ``top`` numeric features among the 8 most important
        (:func:`top_numeric`).
    grid_resolution, dependence_samples : int
        ``grid_resolution`` and ``max_samples`` of :func:`partial_dependence_table`.
    n_threads : int or None, default 1

    Returns
    -------
    (DataFrame, DataFrame)
        :func:`permutation_importance_table` and :func:`partial_dependence_table` (empty when no numeric
        feature varies).
    """
    imp = permutation_importance_table(result.fitted, result.X_explain, result.y_explain, n_repeats=n_repeats,
                                       max_samples=max_samples, seed=seed, n_threads=n_threads)
    pdp = partial_dependence_table(result.fitted, result.X_explain, top_numeric(imp, result.X_explain, n=top),
                                   grid_resolution=grid_resolution, max_samples=dependence_samples, seed=seed,
                                   n_threads=n_threads)
    return imp, pdp


def personas_or_reason(inputs, *, output_dir: str = "reports", personas_path: str = "",
                       seed: int = 0) -> tuple[object | None, str | None]:
    """The run's personas (:func:`cjlib.personas.personas_for`), or ``None`` and why they cannot be had.

    Parameters
    ----------
    inputs : Inputs
        The loaded inputs.
    output_dir, personas_path, seed
        As the report's parameters: ``personas_path``, else 01's assignments in ``output_dir``, else 01's
        deterministic fit.

    Returns
    -------
    (SharedPersonas, None) or (None, str)
    """
    from cjlib.churn.distributed import release_memory
    from cjlib.personas import personas_for

    try:
        return personas_for(inputs, output_dir=output_dir, personas_path=personas_path, seed=seed), None
    except ValueError as exc:
        return None, f"the customers cannot be clustered into personas: {exc}."
    finally:  # reading or fitting personas frees what it built (a Partitioned log: back to the system)
        release_memory(inputs.events)
