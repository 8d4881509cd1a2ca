"""Fitting personas: parameters checked, features transformed, k chosen, personas ordered, profiled,
named and mapped (:func:`fit_personas`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

from cjlib.personas.features import (
    METHODS,
    SILHOUETTE_SAMPLE,
    TRANSFORMS,
    _pipeline,
    _prepare_cat,
    _select_with_reasons,
    persona_features,
)
from cjlib.personas.naming import _name_rows, _names
from cjlib.personas.result import PersonaResult
from cjlib.personas.rfm import rfm_labels
from cjlib.personas.selection import _search
from cjlib.validation import check_choice


class NotClusterable(ValueError):
    """The data cannot be clustered into personas with these settings (too few or identical customers,
    no usable feature); the message says why in one clause. Bad parameters raise plain ``ValueError``."""


def fit_personas(
    features: pd.DataFrame,
    *,
    k: int | str = "auto",
    k_range: Sequence[int] = (2, 8),
    method: str = "kmeans",
    transform: str = "log",
    include: Sequence[str] | str | None = None,
    exclude: Sequence[str] | str | None = None,
    min_share: float = 0.05,
    min_stability: float = 0.8,
    min_stability_worst: float = 0.7,
    n_boot: int = 20,
    seed: int = 0,
    purchase_behaviour: bool = False,
    fallback: bool = True,
    purchase: bool = True,
) -> PersonaResult:
    """Cluster customers into named personas (see the module docstring for every rule).

    Parameters
    ----------
    features : DataFrame
        From :func:`cjlib.features.customer_features`, indexed by ``customer_id``.
    k : int or "auto", default "auto"
        Number of personas, or ``"auto"`` to choose it in ``k_range``.
    k_range : (int, int), default (2, 8)
        Smallest and largest k tried (inclusive). With an integer ``k`` only that k is scored.
    method : {"kmeans", "gmm"}, default "kmeans"
        k-means, or a diagonal-covariance Gaussian mixture (k chosen by BIC among admissible k).
    transform : {"log", "quantile", "standard"}, default "log"
        Numeric transform before standard scaling: signed log1p, a normal quantile transform, or none.
    include, exclude : list of str or comma-separated str, optional
        Columns to cluster on instead of the default set / to leave out.
    min_share : float, default 0.05
        A k whose smallest persona holds less than this share of customers is not admissible.
    min_stability : float, default 0.8
        A k whose mean bootstrap ARI is below this is not admissible.
    min_stability_worst : float, default 0.7
        A k whose worst bootstrap refit agrees below this ARI is not admissible.
    n_boot : int, default 20
        Bootstrap refits per k (0 switches stability off: every k counts as stable).
    seed : int, default 0
        Seeds every random step (model initialisation, samples, bootstrap).
    purchase_behaviour : bool, default False
        Cluster on purchase behaviour (:data:`PURCHASE_BEHAVIOUR`: recency, purchases, order value, tenure,
        days between purchases) plus attributes instead of web behaviour: for purchases-only logs and logs
        without web visits, where sessions are artefacts of the 30-minute rule.
    fallback : bool, default True
        With ``k="auto"``: when no k-means k passes the stability bar, try a Gaussian mixture; when none
        passes either, return rule-based RFM segments (:data:`RFM_SEGMENTS`; ``kind_ == "rfm"``,
        ``rule_`` starts with ``"rfm"``).
    purchase : bool, default True
        Whether converting is buying (:func:`cjlib.personas.text.is_purchase`); when false no persona name
        says buying ("buyers", "big spenders", "bargain", "shoppers"): a converting persona is "converters".

    Returns
    -------
    PersonaResult

    Raises
    ------
    NotClusterable
        The data cannot be clustered with these settings: fewer than 2 customers, k (or ``k_range``) larger
        than the (distinct) customers, or no usable (non-constant) feature. A subclass of ``ValueError``;
        the message is one clause a report can show.
    ValueError
        Bad parameter values.
    """
    lo, hi = _check_parameters(method, transform, min_share, n_boot, k_range)
    if not isinstance(features, pd.DataFrame):
        raise TypeError("features must be a DataFrame from cjlib.features.customer_features")
    n = len(features)
    ks, hi = _candidate_ks(k, lo, hi, n, k_range)

    f = persona_features(features)
    num, cat, unclustered = _select_with_reasons(f, include, exclude, purchase_behaviour)
    if not num and not cat:
        raise NotClusterable("no usable feature: every selected column is constant or missing "
                             "(check include/exclude, or the data has no variation to cluster)")
    pipe = _pipeline(num, cat, transform, n, seed)
    X = np.asarray(pipe.fit_transform(_prepare_cat(f, cat)), dtype=float)
    ks = _distinct_ks(X, ks, k, lo)

    scores, fits, chosen, kind, rule, tried = _search(X, ks, k, method, seed, n_boot, min_share,
                                                      min_stability, min_stability_worst, fallback)
    rev = f["monetary"].fillna(0).to_numpy(float) if "monetary" in f else np.zeros(n)
    if kind == "rfm":
        model, (labels, names, _) = None, rfm_labels(f)
        kk = len(names)
        mapping = np.arange(kk, dtype=np.int64)
    else:
        model, raw = fits[chosen]
        kk = chosen
        mapping = _persona_order(X, raw, rev, kk)
        labels = mapping[raw]
    z, med = _profile(f, cat, labels, kk)
    if kind != "rfm":
        helper = f.assign(_converted=(f["n_purchases"] > 0) if "n_purchases" in f else False,
                          _revenue=rev, _orders=f.get("n_purchases", 0))
        name_rows = _name_rows(pd.concat({"z": z}, axis=1), helper, labels, kk)
        names = _names(name_rows, z, rules=not purchase_behaviour, purchase=purchase)
    z.index = med.index = pd.Index(names, name="persona")
    profile = pd.concat({"z": z, "median": med}, axis=1, names=["statistic", "feature"])

    index = features.index
    persona = pd.Series(pd.Categorical.from_codes(labels, categories=names, ordered=True), index=index,
                        name="persona")
    if kind == "rfm":
        stab = {"ari_mean": None, "ari_min": None}
        sil = _rfm_silhouette(X, labels, seed)
    else:
        stab = {"ari_mean": float(scores.loc[chosen, "ari_mean"]), "ari_min": float(scores.loc[chosen, "ari_min"])}
        sil = float(scores.loc[chosen, "silhouette"])
    embedding, explained = _embedding(X, index, seed)
    return PersonaResult(
        labels_=pd.Series(labels, index=index, name="persona"), persona_=persona, names_=list(names),
        k_=int(kk), scores_=scores, stability_=stab, silhouette_=sil, profile_=profile,
        embedding_=embedding, features_=f, columns_={"numeric": num, "categorical": cat},
        pipeline_=pipe, model_=model, mapping_=mapping,
        params={"k": k, "k_range": (lo, hi), "method": method, "transform": transform, "min_share": min_share,
                "min_stability": min_stability, "min_stability_worst": min_stability_worst, "n_boot": n_boot,
                "seed": seed, "purchase_behaviour": purchase_behaviour, "purchase": purchase},
        kind_=kind, rule_=rule, tried_=tried, explained_variance_ratio_=explained,
        left_out_=unclustered,
    )


def _check_parameters(method, transform, min_share, n_boot, k_range) -> tuple[int, int]:
    """Check :func:`fit_personas`' settings (``ValueError`` naming the parameter); returns ``k_range``."""
    check_choice("method", method, METHODS)
    check_choice("transform", transform, TRANSFORMS)
    if not 0 <= min_share < 1:
        raise ValueError(f"min_share must be in [0, 1), got {min_share!r}")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative integer, got {n_boot!r}")
    try:
        lo, hi = (int(v) for v in k_range)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"k_range must be two integers (smallest, largest), got {k_range!r}") from exc
    if lo < 2 or hi < lo:
        raise ValueError(f"k_range must satisfy 2 <= smallest <= largest, got {k_range!r}")
    return lo, hi


def _candidate_ks(k, lo: int, hi: int, n: int, k_range) -> tuple[list[int], int]:
    """The k to score for ``n`` customers and the largest k of the range (capped at n − 1 with "auto")."""
    if n < 2:
        raise NotClusterable(f"there {'is' if n == 1 else 'are'} {n} customer{'' if n == 1 else 's'}; "
                             "personas need at least 2 customers")
    if isinstance(k, str):
        if k != "auto":
            raise ValueError(f"k must be 'auto' or an integer >= 2, got {k!r}")
        hi = min(hi, n - 1)
        if hi < lo:
            raise NotClusterable(f"k_range {tuple(k_range)} does not fit {n} customers: the largest k is {n - 1}")
        return list(range(lo, hi + 1)), hi
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2:
        raise ValueError(f"k must be 'auto' or an integer >= 2, got {k!r}")
    if k > n:
        raise NotClusterable(f"k={k} personas need at least {k} customers, got {n}")
    return [int(k)], hi


def _distinct_ks(X: np.ndarray, ks: list[int], k, lo: int) -> list[int]:
    """The k that the distinct transformed customers allow (``NotClusterable`` when none)."""
    n_distinct = len(np.unique(np.round(X, 12), axis=0)) if X.shape[1] else 1
    if X.shape[1] == 0 or n_distinct < 2 or not (X.std(axis=0) > 1e-12).any():
        raise NotClusterable("the features are constant across customers: nothing to cluster")
    if max(ks) > n_distinct:
        if not isinstance(k, str):
            raise NotClusterable(f"k={k} personas need at least {k} distinct customers, got {n_distinct}")
        ks = [kk for kk in ks if kk <= n_distinct]
        if not ks:
            raise NotClusterable(f"only {n_distinct} distinct customers: fewer than the smallest k {lo}")
    return ks


def _persona_order(X: np.ndarray, raw: np.ndarray, rev: np.ndarray, kk: int) -> np.ndarray:
    """Persona number of each model label: revenue share descending, size descending, then centroid."""
    rev_k = np.bincount(raw, weights=rev, minlength=kk)
    size_k = np.bincount(raw, minlength=kk)
    cent = np.vstack([X[raw == j].mean(axis=0) if size_k[j] else np.zeros(X.shape[1]) for j in range(kk)])
    keys = [(-round(rev_k[j], 6), -size_k[j], tuple(np.round(cent[j], 9))) for j in range(kk)]
    order = sorted(range(kk), key=lambda j: keys[j])
    mapping = np.empty(kk, dtype=np.int64)
    mapping[order] = np.arange(kk)
    return mapping


def _profile(f: pd.DataFrame, cat: list[str], labels: np.ndarray, kk: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per persona (rows 0..kk−1): z-scores and medians of every numeric feature and categorical level."""
    prof_num = [c for c in f.columns if pd.api.types.is_numeric_dtype(f[c].dtype)
                and not pd.api.types.is_bool_dtype(f[c].dtype) and f[c].notna().any()]
    P = f[prof_num].astype(float)
    dummies = [pd.get_dummies(f[c].astype(str).where(f[c].notna()), prefix=c, prefix_sep="=", dtype=float)
               for c in cat]
    P = pd.concat([P, *dummies], axis=1) if dummies else P
    mu, sd = P.mean(), P.std(ddof=0).replace(0, np.nan)
    grouped = P.groupby(labels)
    z = ((grouped.mean() - mu) / sd).fillna(0.0).reindex(range(kk))
    med = grouped.median().reindex(range(kk))
    return z, med


def _embedding(X: np.ndarray, index: pd.Index, seed: int) -> tuple[pd.DataFrame, tuple[float, ...]]:
    """``pc1``, ``pc2``: the transformed features on their first two principal components, each signed so
    its largest loading is positive; and the share of the variance each component holds."""
    n = len(X)
    n_comp = min(2, X.shape[1], n)
    pcs = PCA(n_components=n_comp, random_state=seed).fit(X)
    emb = pcs.transform(X)
    if n_comp < 2:
        emb = np.column_stack([emb, np.zeros(n)])
    for j in range(n_comp):
        if pcs.components_[j][np.argmax(np.abs(pcs.components_[j]))] < 0:
            emb[:, j] = -emb[:, j]
    embedding = pd.DataFrame(emb[:, :2], index=index, columns=["pc1", "pc2"])
    return embedding, tuple(float(v) for v in pcs.explained_variance_ratio_)


def _rfm_silhouette(X: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """Silhouette of the RFM segments in the clustered feature space (on a seeded sample)."""
    n = len(X)
    n_lab = len(np.unique(labels))
    idx = np.sort(np.random.default_rng(seed).choice(n, min(n, SILHOUETTE_SAMPLE), replace=False))
    return (float(silhouette_score(X[idx], labels[idx]))
            if 2 <= len(np.unique(labels[idx])) <= len(idx) - 1 and n_lab >= 2 else float("nan"))
