"""Churn ROC AUC on the CDNOW master log: the experiments behind 04's candidates (issue 16).

``.venv/bin/python benchmarks/churn_cdnow.py`` (about a minute on one core). The split is the acceptance
split of issue 16 and ``tests/test_at_risk.py``: purchases only, cutoff 1997-10-01, a 273-day window,
features from the purchases before the cutoff (the report's own :func:`cjlib.churn.make_dataset`),
5-fold customer-split cross-validation with the report's folds (``StratifiedKFold(5, shuffle=True,
random_state=0)``). Every added feature uses only purchases before the cutoff; BG/NBD is fitted without
labels on all of them (no label is used, so fitting it outside the folds leaks nothing).

Each row prints the pooled out-of-fold ROC AUC (what the report shows) and the mean ± sd of the five
folds' AUCs. The last rows refit the report's models with five other fold seeds: the pooled AUC's spread
over fold assignments.

``--ceiling`` adds the experiments that ask whether more data, more label information or another model
family would lift the AUC (session 28, all below 0.774): a learning curve (training on 25–100 % of each
training fold), training rows from six earlier cutoffs two weeks apart (the same customers' labels over
overlapping windows), a discrete-time hazard model that also learns *when* the first purchase in the window
came, random forests and extra trees, and the master log's number of CDs per order (a column cjlib's event
log does not carry; asked only to see whether the data holds more signal).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, SplineTransformer, StandardScaler
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cjlib import churn  # noqa: E402
from cjlib.churn.models import _bgnbd_column  # noqa: E402

CUT, WINDOW, ACTIVITY = pd.Timestamp("1997-10-01"), 273, ["purchase"]


def load(*, cds: bool = False) -> pd.DataFrame:
    """The master log as a cjlib event log (with ``cds``: plus the number of CDs of each order)."""
    raw = pd.read_csv(ROOT / "tests" / "data" / "cdnow" / "CDNOW_master.txt.gz", sep=r"\s+", header=0,
                      names=["customer_id", "date", "number_of_cds", "revenue"],
                      dtype={"customer_id": str, "date": str})
    out = pd.DataFrame({"customer_id": raw["customer_id"],
                        "timestamp": pd.to_datetime(raw["date"], format="%Y%m%d"),
                        "event": "purchase", "revenue": raw["revenue"].astype(float)})
    return out.assign(number_of_cds=raw["number_of_cds"]) if cds else out


def recent_and_gaps(ev: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """Purchase days and spend in the last 30/60/90/180 days before the cutoff; gaps between purchase days."""
    past = ev[ev["timestamp"] < CUT]
    days = (past.assign(day=past["timestamp"].dt.floor("D")).groupby(["customer_id", "day"])["revenue"].sum()
            .reset_index())
    out = pd.DataFrame(index=index)
    age = (CUT - days["day"]).dt.days
    for k in (30, 60, 90, 180):
        recent = days[age <= k].groupby("customer_id")
        out[f"days_last_{k}"] = recent.size().reindex(index).fillna(0)
        out[f"spend_last_{k}"] = recent["revenue"].sum().reindex(index).fillna(0)
    gap = days.groupby("customer_id")["day"].diff().dt.days
    g = gap.groupby(days["customer_id"])
    out["gap_mean"], out["gap_last"], out["gap_max"] = (g.mean().reindex(index), g.last().reindex(index),
                                                        g.max().reindex(index))
    last = days.groupby("customer_id")["day"].max().reindex(index)
    out["recency_over_mean_gap"] = (CUT - last).dt.days / out["gap_mean"]
    return out


def fortnights(ev: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """Purchases in each of the 20 fortnights before the cutoff (the whole history, coarsely)."""
    past = ev[ev["timestamp"] < CUT]
    w = pd.crosstab(past["customer_id"], ((CUT - past["timestamp"]).dt.days // 14).clip(upper=19))
    return w.reindex(index).fillna(0).rename(columns=lambda c: f"fortnight_{c}")


def _signed_log(a):
    return np.sign(a) * np.log1p(np.abs(a))


def log_logistic(_X):
    return make_pipeline(SimpleImputer(strategy="median", add_indicator=True), FunctionTransformer(_signed_log),
                         StandardScaler(), LogisticRegression(max_iter=3000))


def spline_logistic(_X):
    return make_pipeline(SimpleImputer(strategy="median", add_indicator=True), FunctionTransformer(_signed_log),
                         SplineTransformer(n_knots=6, degree=3), StandardScaler(), LogisticRegression(max_iter=3000))


def slow_boosting(_X):
    return HistGradientBoostingClassifier(learning_rate=0.03, max_iter=2000, max_leaf_nodes=7, min_samples_leaf=100,
                                          l2_regularization=1.0, early_stopping=True, validation_fraction=0.15,
                                          n_iter_no_change=30, random_state=0)


def out_of_fold(X: pd.DataFrame, y: pd.Series, model, split) -> np.ndarray:
    base = churn.make_model(model, X, seed=0) if isinstance(model, str) else model(X)
    oof = np.empty(len(X))
    with threadpool_limits(1):
        for tr, te in split:
            oof[te] = clone(base).fit(X.iloc[tr], y.iloc[tr]).predict_proba(X.iloc[te])[:, 1]
    return oof


def row(name: str, y: pd.Series, score: np.ndarray, split) -> dict:
    folds = [roc_auc_score(y.iloc[te], score[te]) for _, te in split]
    r = {"experiment": name, "pooled_auc": roc_auc_score(y, score), "fold_mean": np.mean(folds),
         "fold_sd": np.std(folds, ddof=1)}
    print(f"{name:72s} {r['pooled_auc']:.4f}   {r['fold_mean']:.4f} ± {r['fold_sd']:.4f}", flush=True)
    return r


def main() -> pd.DataFrame:
    t0 = time.perf_counter()
    ev = load()
    X, y = churn.make_dataset(ev, cutoff=CUT, window=WINDOW, activity_events=ACTIVITY)
    bg_score, _, info = _bgnbd_column(ev, CUT, WINDOW, ACTIVITY, X.index)
    bg = info["bgnbd_scores"].reindex(X.index)
    B = bg[["p_alive", "expected_activity", "p_no_activity"]].add_prefix("bgnbd_")
    E, F = recent_and_gaps(ev, X.index), fortnights(ev, X.index)
    rfm = X[["recency_days", "tenure_days", "activity_days", "monetary", "n_events"]]
    split = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    print(f"{len(X):,} customers, churn rate {y.mean():.4f}\n{'experiment':72s} pooled   folds mean ± sd")
    rows = [row("BG/NBD P(no purchase in the window) (the report's baseline score)", y, bg_score, split),
            row("BG/NBD expected purchases in the window (negated)", y, -bg["expected_activity"].to_numpy(), split)]
    oof = {}
    for name, Xe, model in [
        ("logistic, report features (the report's logistic)", X, "logistic"),
        ("boosting, report features (the report's boosting)", X, "gbm"),
        ("logistic, RFM only (recency, T, purchase days, spend, rows)", rfm, "logistic"),
        ("boosting, RFM only", rfm, "gbm"),
        ("logistic + BG/NBD P(alive), expected purchases, P(no purchase)", X.join(B), "logistic"),
        ("boosting + BG/NBD features", X.join(B), "gbm"),
        ("logistic + purchases/spend in last 30/60/90/180 d, gap statistics", X.join(E), "logistic"),
        ("boosting + last 30/60/90/180 d, gap statistics", X.join(E), "gbm"),
        ("boosting + BG/NBD + last-k-days + gaps", X.join(E).join(B), "gbm"),
        ("signed-log logistic, report features", X, log_logistic),
        ("signed-log logistic + BG/NBD expected purchases", X.join(B[["bgnbd_expected_activity"]]), log_logistic),
        ("signed-log logistic + BG/NBD + last-k-days + gaps", X.join(E).join(B), log_logistic),
        ("signed-log spline logistic, RFM only", rfm, spline_logistic),
        ("slow boosting (lr 0.03, 7 leaves, no calibration), everything", X.join(E).join(B), slow_boosting),
        ("boosting + 20 fortnightly purchase counts", X.join(F), "gbm"),
        ("signed-log logistic, everything + fortnightly counts", X.join(E).join(B).join(F), log_logistic),
    ]:
        oof[name] = out_of_fold(Xe, y, model, split)
        rows.append(row(name, y, oof[name], split))
    lo, g = oof["logistic, report features (the report's logistic)"], oof["boosting, report features (the report's boosting)"]
    rows.append(row("ensemble: mean of the report's logistic and boosting (04's 4th candidate)", y, (lo + g) / 2, split))
    rows.append(row("mean of signed-log logistic (everything) and boosting", y,
                    (oof["signed-log logistic + BG/NBD + last-k-days + gaps"] + g) / 2, split))
    spread = []
    for seed in range(1, 6):
        sp = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y))
        ls, gs = out_of_fold(X, y, "logistic", sp), out_of_fold(X, y, "gbm", sp)
        spread.append([roc_auc_score(y, ls), roc_auc_score(y, gs), roc_auc_score(y, (ls + gs) / 2)])
    s = np.array(spread)
    print(f"pooled AUC over fold seeds 1-5: logistic {s[:, 0].mean():.4f} ± {s[:, 0].std(ddof=1):.4f}, boosting "
          f"{s[:, 1].mean():.4f} ± {s[:, 1].std(ddof=1):.4f}, ensemble {s[:, 2].mean():.4f} ± {s[:, 2].std(ddof=1):.4f}"
          f" ({time.perf_counter() - t0:.0f} s)")
    return pd.DataFrame(rows)


def _fit_score(model, X_train, y_train, X_test) -> np.ndarray:
    with threadpool_limits(1):
        return clone(model).fit(X_train, y_train).predict_proba(X_test)[:, 1]


def ceiling() -> pd.DataFrame:
    """The ``--ceiling`` rows: does more data, more label information or another model family help?"""
    ev = load(cds=True)
    X, y = churn.make_dataset(ev, cutoff=CUT, window=WINDOW, activity_events=ACTIVITY)
    split = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    rng, rows = np.random.default_rng(0), []
    print(f"{'experiment':72s} pooled   folds mean ± sd")
    for name in ("logistic", "gbm"):  # learning curve: a flat curve means more customers would not help
        base = churn.make_model(name, X, seed=0)
        for frac in (0.25, 0.5, 0.75, 1.0):
            oof = np.empty(len(X))
            for tr, te in split:
                sub = rng.choice(tr, int(len(tr) * frac), replace=False)
                oof[te] = _fit_score(base, X.iloc[sub], y.iloc[sub], X.iloc[te])
            rows.append(row(f"{name}, trained on {frac:.0%} of each training fold", y, oof, split))
    # earlier cutoffs: the training customers' rows at 6 cutoffs 2 weeks apart (windows end inside the log)
    earlier = [churn.make_dataset(ev, cutoff=CUT - pd.Timedelta(days=14 * k), window=WINDOW,
                                  activity_events=ACTIVITY) for k in range(7)]
    for name in ("logistic", "gbm"):
        base, oof = churn.make_model(name, X, seed=0), np.empty(len(X))
        for tr, te in split:
            keep = [(Xk.reindex(columns=X.columns)[Xk.index.isin(X.index[tr])], yk[yk.index.isin(X.index[tr])])
                    for Xk, yk in earlier]
            oof[te] = _fit_score(base, pd.concat([k[0] for k in keep]), pd.concat([k[1] for k in keep]),
                                 X.iloc[te])
        rows.append(row(f"{name}, training rows from 7 cutoffs 2 weeks apart", y, oof, split))
    rows.append(row("discrete-time hazard boosting (9 monthly intervals), P(no purchase)", y,
                    _hazard(ev, X, y, split), split))
    rfm = X[["recency_days", "tenure_days", "frequency", "n_events", "monetary", "aov"]]
    for name, model in [("random forest, 100-customer leaves, RFM", RandomForestClassifier(
                            300, min_samples_leaf=100, max_features=None, n_jobs=1, random_state=0)),
                        ("extra trees, 50-customer leaves, RFM + last-k-days + gaps", ExtraTreesClassifier(
                            300, min_samples_leaf=50, n_jobs=1, random_state=0))]:
        Xe = rfm if "gaps" not in name else rfm.join(recent_and_gaps(ev, X.index)).fillna(-1)
        rows.append(row(name, y, out_of_fold(Xe, y, lambda _X, m=model: m, split), split))
    past = ev[ev["timestamp"] < CUT].groupby("customer_id")["number_of_cds"]
    cds = pd.DataFrame({"cds_sum": past.sum(), "cds_mean": past.mean(), "cds_max": past.max()}).reindex(X.index)
    rows.append(row("boosting + number of CDs (sum, mean, max per order)", y,
                    out_of_fold(X.join(cds), y, "gbm", split), split))
    return pd.DataFrame(rows)


def _hazard(ev: pd.DataFrame, X: pd.DataFrame, y: pd.Series, split, intervals: int = 9) -> np.ndarray:
    """Boosting on customer × interval rows (at risk until the first purchase after the cutoff); the churn
    score is the predicted probability of surviving every interval."""
    after = ev[ev["timestamp"] >= CUT].groupby("customer_id")["timestamp"].min()
    first = np.floor((after - CUT).dt.days / (WINDOW / intervals)).reindex(X.index)
    model = HistGradientBoostingClassifier(learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=80,
                                           max_iter=400, early_stopping=True, random_state=0)
    oof = np.empty(len(X))
    for tr, te in split:
        f, Xi = first.iloc[tr], X.iloc[tr]
        at_risk = [(Xi[f.isna() | (f >= j)].assign(interval=j), (f[f.isna() | (f >= j)] == j).astype(int))
                   for j in range(intervals)]
        with threadpool_limits(1):
            m = clone(model).fit(pd.concat([a[0] for a in at_risk]), pd.concat([a[1] for a in at_risk]))
            oof[te] = sum(np.log1p(-m.predict_proba(X.iloc[te].assign(interval=j))[:, 1])
                          for j in range(intervals))
    return oof


if __name__ == "__main__":
    ceiling() if "--ceiling" in sys.argv[1:] else main()
