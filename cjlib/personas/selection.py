"""Choosing the number of personas: every k scored (silhouette, inertia or BIC, smallest share, bootstrap
stability), the stability bar, the rule that picks k, and the fallbacks (a Gaussian mixture, then RFM)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from cjlib.personas.features import BOOT_SAMPLE, SILHOUETTE_SAMPLE
from cjlib.progress import progress


def _model(method: str, k: int, seed: int, n_init: int):
    if method == "kmeans":
        return KMeans(n_clusters=k, n_init=n_init, random_state=seed)
    return GaussianMixture(n_components=k, covariance_type="diag", n_init=max(1, n_init // 3),
                           reg_covar=1e-3, random_state=seed)


def _ari(labels: np.ndarray, other: np.ndarray) -> float:
    """:func:`sklearn.metrics.adjusted_rand_score` of two labelings by small non-negative integers, from a
    dense contingency table (one bincount instead of a sparse matrix): the same integer pair counts and the
    same formula, so the same float, about ten times faster at a few clusters."""
    a, b = np.asarray(labels, dtype=np.int64), np.asarray(other, dtype=np.int64)
    n = np.int64(len(a))
    kb = int(b.max()) + 1 if n else 1
    cont = np.bincount(a * kb + b, minlength=((int(a.max()) + 1) if n else 1) * kb).reshape(-1, kb)
    n_c, n_k = cont.sum(axis=1), cont.sum(axis=0)
    sum_squares = (cont**2).sum()
    tp = int(sum_squares - n)
    fp = int(cont.dot(n_k).sum() - sum_squares)
    fn = int(cont.T.dot(n_c).sum() - sum_squares)
    tn = int(n**2 - fp - fn - sum_squares)
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def _fit_k(X: np.ndarray, method: str, k: int, seed: int, n_boot: int) -> tuple[object, np.ndarray, dict]:
    n = len(X)
    model = _model(method, k, seed, 4).fit(X)
    labels = model.predict(X)
    rng = np.random.default_rng([seed, k])
    if n > SILHOUETTE_SAMPLE:
        idx = np.sort(rng.choice(n, SILHOUETTE_SAMPLE, replace=False))
    else:
        idx = np.arange(n)
    n_lab = len(np.unique(labels[idx]))
    sil = float(silhouette_score(X[idx], labels[idx])) if 2 <= n_lab <= len(idx) - 1 else np.nan
    aris = []
    m = min(n, BOOT_SAMPLE)
    for b in range(n_boot):
        boot = rng.integers(0, n, m)
        try:
            bm = _model(method, k, seed + 1 + b, 4).fit(X[boot])
        except ValueError:  # fewer distinct points than k in the resample
            aris.append(0.0)
            continue
        aris.append(_ari(labels, bm.predict(X)))
    shares = np.bincount(labels, minlength=k) / n
    row = {"silhouette": sil,
           "inertia": float(model.inertia_) if method == "kmeans" else np.nan,
           "bic": float(model.bic(X)) if method == "gmm" else np.nan,
           "ari_mean": float(np.mean(aris)) if aris else np.nan,
           "ari_min": float(np.min(aris)) if aris else np.nan,
           "min_share": float(shares.min())}
    return model, labels, row


def _admissible(scores: pd.DataFrame, min_share: float, min_stability: float, min_worst: float) -> pd.Series:
    """The stability bar: smallest share, bootstrap ARI mean and worst refit (NaN ARI = not checked)."""
    return ((scores["min_share"] >= min_share) & (scores["ari_mean"].fillna(1.0) >= min_stability)
            & (scores["ari_min"].fillna(1.0) >= min_worst))


def _choose(scores: pd.DataFrame, method: str, min_share: float, min_stability: float,
            min_worst: float = 0.0) -> tuple[int, str]:
    ok_share = scores["min_share"] >= min_share
    adm = scores[_admissible(scores, min_share, min_stability, min_worst)]
    if len(adm):
        if method == "gmm":
            best = adm["bic"].idxmin()
            return int(best), "admissible: lowest BIC"
        combo = adm["silhouette"] * adm["ari_mean"].fillna(1.0)
        return int(combo.idxmax()), "admissible: highest silhouette × bootstrap ARI mean"
    cand = scores[ok_share]
    if len(cand):
        combo = cand["silhouette"].fillna(0) * cand["ari_mean"].fillna(0)
        return int(combo.idxmax()), "fallback: no k was stable enough; best silhouette × ARI mean"
    return int(scores.index.min()), "fallback: no k met min_share; smallest k"


def _score_ks(X, ks, method, seed, n_boot):
    rows, fits = {}, {}
    with threadpool_limits(1):
        for kk in progress(ks, desc=f"personas: scoring k ({method})"):
            model, labels, row = _fit_k(X, method, kk, seed, n_boot)
            rows[kk], fits[kk] = row, (model, labels)
    scores = pd.DataFrame.from_dict(rows, orient="index")
    scores.index.name = "k"
    return scores, fits


def _search(X, ks, k, method, seed, n_boot, min_share, min_stability, min_worst, fallback):
    """Score every k; with ``k="auto"`` and ``fallback``, a Gaussian mixture and then RFM rules when no
    k-means k passes the stability bar.

    Returns (scores, fits, chosen k or None, kind, rule, tried): ``rule`` says which branch chose k (it
    starts with ``"rfm"`` for the RFM fallback) and ``tried`` the methods scored.
    """
    scores, fits = _score_ks(X, ks, method, seed, n_boot)
    auto = isinstance(k, str)
    adm = _admissible(scores, min_share, min_stability, min_worst)
    kind, switched, tried = method, False, (method,)
    if auto and fallback and n_boot > 0 and not adm.any():
        if method == "kmeans":
            g_scores, g_fits = _score_ks(X, ks, "gmm", seed, n_boot)
            g_adm = _admissible(g_scores, min_share, min_stability, min_worst)
            tried += ("gmm",)
            if g_adm.any():
                scores, fits, adm, kind, method, switched = g_scores, g_fits, g_adm, "gmm", "gmm", True
        if not adm.any():
            scores["admissible"] = False
            scores["chosen"] = False
            rule = "rfm: no k passed the stability bar with " + " or ".join(
                {"kmeans": "k-means", "gmm": "a Gaussian mixture"}[m] for m in tried)
            return scores, fits, None, "rfm", rule, tried
    chosen, rule = (ks[0], "fixed k") if not auto else _choose(scores, method, min_share, min_stability, min_worst)
    rule += " (Gaussian mixture: no k-means k was stable)" if switched else ""
    scores["admissible"] = adm
    scores["chosen"] = scores.index == chosen
    return scores, fits, chosen, kind, rule, tried
