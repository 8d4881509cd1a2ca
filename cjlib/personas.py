"""Persona clustering: customer features → transforms → clusters → named, ordered persona cards.

:func:`fit_personas` takes the table of :func:`cjlib.features.customer_features`, transforms it inside a
scikit-learn pipeline (signed log1p + standard scaling by default, ``"quantile"`` as an option, one-hot
for categorical attributes), clusters it with k-means (or a Gaussian mixture), chooses the number of
personas from the data, orders and names the personas deterministically, and returns a
:class:`PersonaResult` (learned attributes end in ``_``).

Which features are clustered (``include=None``)
    Behaviour *intensities*, not lifetime totals: sessions per 30 days, events per session, purchases per
    session, average order value (0 without purchases), furthest stage, channel mix, satisfaction, plus
    every customer attribute (numeric columns, and text/categorical columns with 2–20 levels). Totals
    (events, purchases, revenue), recency and tenure grow with how long and how recently a customer has
    been known: they describe *when* a customer is in the lifecycle (churn uses them), not *who* they are,
    and would split every persona into old and new customers. Stage shares are left out because they
    mostly restate session length (events per session) and purchase propensity. Every numeric feature
    still appears in the profile. Constant and all-missing columns are dropped.

How k is chosen (``k="auto"``)
    For each k in ``k_range``: silhouette on a seeded sample of at most 3,000 customers, inertia (k-means)
    or BIC (mixture), the smallest persona's share, and stability: ``n_boot`` bootstrap refits (each on a
    resample of at most 3,000 customers), each predicting every customer, compared with the full fit by
    the adjusted Rand index (mean and minimum). A k is *admissible* when its smallest persona holds at
    least ``min_share`` of the customers and its mean bootstrap ARI is at least ``min_stability``.
    Among admissible k-means fits the k with the highest ``silhouette × ARI mean`` wins (separation
    weighted by reproducibility: silhouette alone favours few clusters and drifts with the sample); for
    the mixture the lowest BIC among admissible k wins. When no k is admissible, the k with the highest
    ``silhouette × ARI mean`` among those meeting ``min_share`` is
    used, else the smallest k; ``scores_.attrs["rule"]`` says which branch applied.

Order and names
    Personas are sorted by revenue share (descending), then size (descending), then their centroid, so
    persona 0 is always the most valuable. Names come from ordered rules on the profile (see
    :data:`NAME_RULES`): each rule takes the best-scoring unnamed persona that meets its condition, so a
    name follows the behaviour, not the cluster number; a persona no rule fits is named after its
    strongest trait ("High email share"), made unique with a number if needed.

Degenerate input
    Fewer than 2 customers, an integer ``k`` larger than the number of customers, a ``k_range`` that
    does not fit the data, or features that are all constant raise ``ValueError`` with the reason.
    ``k="auto"`` caps ``k_range`` at (customers − 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    QuantileTransformer,
    StandardScaler,
)
from threadpoolctl import threadpool_limits

__all__ = ["ASSIGNMENTS_FILE", "rfm_definitions", "DEFAULT_BEHAVIOUR", "NAME_RULES", "NotClusterable", "PURCHASE_BEHAVIOUR", "PersonaResult",
           "RFM_SEGMENTS", "SharedPersonas", "assignments", "fit_for_inputs", "fit_personas", "persona_features",
           "personas_for", "rfm_labels"]

METHODS = ("kmeans", "gmm")
TRANSFORMS = ("log", "quantile", "standard")
DEFAULT_BEHAVIOUR = ("sessions_per_30d", "events_per_session", "purchases_per_session", "aov",
                     "furthest_stage", "csat_mean", "nps_mean")
#: purchase behaviour: what personas cluster on for purchases-only logs and logs without web visits
#: (recency, frequency, monetary value, tenure, regularity; never session artefacts)
PURCHASE_BEHAVIOUR = ("recency_days", "n_purchases", "aov", "tenure_days", "days_between_purchases")
# columns customer_features produces that are not customer attributes
_BEHAVIOUR_PREFIXES = ("share_", "channel_share_", "n_")
_BEHAVIOUR_COLS = {"recency_days", "tenure_days", "frequency", "sessions", "events_per_session", "monetary",
                   "aov", "days_to_first_purchase", "furthest_stage", "furthest_stage_name", "csat_mean",
                   "nps_mean", "sessions_per_30d", "purchases_per_session", "revenue_per_30d",
                   "days_between_purchases"}
MAX_LEVELS = 20
SILHOUETTE_SAMPLE = 3000
BOOT_SAMPLE = 3000
INACTIVE_DAYS = 90


# ------------------------------------------------------------------------------------------- features
def persona_features(features: pd.DataFrame) -> pd.DataFrame:
    """Add the intensity columns personas cluster on (a new frame; the input is not modified).

    - ``sessions_per_30d``: ``sessions / max(tenure_days, 30) × 30`` (a customer known for less than 30
      days is not credited with a monthly rate from a single day).
    - ``purchases_per_session``: ``n_purchases / sessions``.
    - ``revenue_per_30d``: ``monetary / max(tenure_days, 30) × 30`` (NaN without revenue).
    - ``aov`` with 0 for customers without purchases (instead of NaN).

    Columns whose inputs are missing are skipped.
    """
    out = {}
    if {"sessions", "tenure_days"} <= set(features.columns):
        out["sessions_per_30d"] = features["sessions"] / np.maximum(features["tenure_days"], 30.0) * 30.0
    if {"n_purchases", "sessions"} <= set(features.columns):
        out["purchases_per_session"] = features["n_purchases"] / features["sessions"].where(features["sessions"] > 0)
    if {"monetary", "tenure_days"} <= set(features.columns):
        out["revenue_per_30d"] = features["monetary"] / np.maximum(features["tenure_days"], 30.0) * 30.0
    if "aov" in features.columns and "n_purchases" in features.columns:
        out["aov"] = features["aov"].where(features["n_purchases"] > 0, 0.0)
    if {"n_purchases", "tenure_days", "recency_days"} <= set(features.columns):
        # span from the first to the last event over the gaps between purchases: the purchase interval on a
        # purchases-only log; a one-time buyer's interval is the time since that purchase (no second yet)
        k = features["n_purchases"]
        span = (features["tenure_days"] - features["recency_days"]).clip(lower=0)
        out["days_between_purchases"] = (span / (k - 1).where(k > 1)).fillna(features["tenure_days"])
    return features.assign(**out)


def _is_attribute(col: str) -> bool:
    return col not in _BEHAVIOUR_COLS and not col.startswith(_BEHAVIOUR_PREFIXES)


def _select(f: pd.DataFrame, include, exclude, purchase: bool = False) -> tuple[list[str], list[str]]:
    """Numeric and categorical columns to cluster on."""
    def split(s):
        if s is None:
            return None
        if isinstance(s, str):
            return [x.strip() for x in s.split(",") if x.strip()]
        return list(s)

    include, exclude = split(include), split(exclude) or []
    for name, cols in (("include", include or []), ("exclude", exclude)):
        unknown = [c for c in cols if c not in f.columns]
        if unknown:
            raise ValueError(f"{name} names columns the features do not have: {unknown} "
                             f"(columns: {', '.join(map(str, f.columns))})")
    if include:
        cols = list(include)
    elif purchase:
        cols = [c for c in PURCHASE_BEHAVIOUR if c in f.columns]
        cols += [c for c in f.columns if _is_attribute(str(c))]
    else:
        cols = [c for c in DEFAULT_BEHAVIOUR if c in f.columns]
        cols += [c for c in f.columns if str(c).startswith("channel_share_")]
        cols += [c for c in f.columns if _is_attribute(str(c))]
    cols = [c for c in cols if c not in exclude]
    num, cat = [], []
    for c in cols:
        s = f[c]
        if pd.api.types.is_bool_dtype(s.dtype):
            cat.append(c)
        elif pd.api.types.is_numeric_dtype(s.dtype):
            if s.notna().any() and s.nunique(dropna=True) > 1:
                num.append(c)
        elif pd.api.types.is_datetime64_any_dtype(s.dtype) or isinstance(s.dtype, pd.DatetimeTZDtype):
            continue
        else:
            levels = s.nunique(dropna=True)
            if 2 <= levels <= MAX_LEVELS or (include and c in include and levels >= 2):
                cat.append(c)
    return num, cat


def _signed_log1p(x):
    x = np.asarray(x, dtype=float)
    return np.sign(x) * np.log1p(np.abs(x))


def _pipeline(num: list[str], cat: list[str], transform: str, n: int, seed: int) -> Pipeline:
    if transform == "log":
        scale = [FunctionTransformer(_signed_log1p, feature_names_out="one-to-one"), StandardScaler()]
    elif transform == "quantile":
        scale = [QuantileTransformer(n_quantiles=max(2, min(1000, n)), output_distribution="normal",
                                     random_state=seed), StandardScaler()]
    else:
        scale = [StandardScaler()]
    parts = []
    if num:
        parts.append(("num", make_pipeline(SimpleImputer(strategy="median"), *scale), num))
    if cat:
        parts.append(("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                           OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                                           StandardScaler()), cat))
    return Pipeline([("columns", ColumnTransformer(parts, sparse_threshold=0.0))])


def _prepare_cat(f: pd.DataFrame, cat: list[str]) -> pd.DataFrame:
    """Categoricals as object text with NaN kept missing (the imputer fills them)."""
    if not cat:
        return f
    out = {}
    for c in cat:
        text = f[c].astype(str).to_numpy(dtype=object)
        text[f[c].isna().to_numpy()] = np.nan
        out[c] = text
    return f.assign(**out)


# ---------------------------------------------------------------------------------------- clustering
def _model(method: str, k: int, seed: int, n_init: int):
    if method == "kmeans":
        return KMeans(n_clusters=k, n_init=n_init, random_state=seed)
    return GaussianMixture(n_components=k, covariance_type="diag", n_init=max(1, n_init // 3),
                           reg_covar=1e-3, random_state=seed)


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
        aris.append(adjusted_rand_score(labels, bm.predict(X)))
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


# ----------------------------------------------------------------------------------------- RFM rules
#: Rule-based RFM segments in order: (name, definition, rule on the scores R, F, M and purchases). Scores
#: are quintiles 1–5 of the customers' percentile ranks (ties share a score): R from recency (5 = most
#: recent), F from the number of purchases, M from revenue. The first rule a customer meets names them.
RFM_SEGMENTS: tuple[tuple[str, str, object], ...] = (
    ("Champions", "bought recently, often and for the most (R ≥ 4, F ≥ 4, M ≥ 4)",
     lambda R, F, M, n: (R >= 4) & (F >= 4) & (M >= 4)),
    ("Loyal customers", "buy often and not long ago (R ≥ 3, F ≥ 3)",
     lambda R, F, M, n: (R >= 3) & (F >= 3)),
    ("New customers", "one recent purchase (R ≥ 4, one purchase)",
     lambda R, F, M, n: (R >= 4) & (n == 1)),
    ("Potential loyalists", "recent, not yet frequent (R ≥ 3)",
     lambda R, F, M, n: R >= 3),
    ("At risk", "used to buy often, not lately (R ≤ 2, F ≥ 3)",
     lambda R, F, M, n: (R <= 2) & (F >= 3)),
    ("Hibernating", "few purchases, a while ago (R = 2)",
     lambda R, F, M, n: R == 2),
    ("Lost", "few purchases, long ago (R = 1)",
     lambda R, F, M, n: R == 1),
)


def _score(values: pd.Series) -> np.ndarray:
    """Quintile score 1–5 from the percentile rank (ties share a rank, so equal values share a score)."""
    pct = values.astype(float).rank(method="average", pct=True).fillna(0.5).to_numpy()
    return np.clip(np.ceil(pct * 5), 1, 5).astype(int)


def rfm_labels(features: pd.DataFrame) -> tuple[np.ndarray, list[str], bool]:
    """Rule-based RFM segments (:data:`RFM_SEGMENTS`) of :func:`persona_features` rows.

    Returns segment numbers (0 = first non-empty segment in rule order), the names of the non-empty
    segments in that order, and whether revenue was used (without revenue: RF segments, M ignored).

    Examples
    --------
    >>> f = pd.DataFrame({"recency_days": [1.0, 2, 300, 400, 3], "n_purchases": [9, 8, 9, 1, 1],
    ...                   "monetary": [900.0, 800, 700, 10, 20]})
    >>> lab, names, used_m = rfm_labels(f)
    >>> [names[i] for i in lab], used_m
    (['Champions', 'Champions', 'At risk', 'Lost', 'New customers'], True)
    """
    R = _score(-features["recency_days"])
    n = features["n_purchases"].fillna(0).to_numpy()
    F = _score(features["n_purchases"])
    has_m = "monetary" in features and features["monetary"].notna().any() and features["monetary"].nunique() > 1
    M = _score(features["monetary"].fillna(0)) if has_m else np.full(len(features), 5)
    seg = np.full(len(features), -1)
    for i, (_, _, rule) in enumerate(RFM_SEGMENTS):
        hit = (seg < 0) & np.asarray(rule(R, F, M, n), dtype=bool)
        seg[hit] = i
    seg[seg < 0] = len(RFM_SEGMENTS) - 1
    present = sorted(set(seg.tolist()))
    lut = {s: j for j, s in enumerate(present)}
    return np.array([lut[s] for s in seg]), [RFM_SEGMENTS[s][0] for s in present], bool(has_m)


def rfm_definitions(names: Sequence[str], *, revenue: bool = True) -> pd.DataFrame:
    """The definition of each RFM segment shown (index segment name), for the report's table."""
    d = {n: text for n, text, _ in RFM_SEGMENTS}
    out = pd.DataFrame({"definition": [d[n] for n in names]}, index=pd.Index(list(names), name="segment"))
    if not revenue:
        out["definition"] = out["definition"].str.replace(", M ≥ 4", "", regex=False).str.replace(
            " and for the most", "", regex=False)
    return out


# ------------------------------------------------------------------------------------------- naming
#: Naming rules in priority order: (name, condition on a persona's profile row, score to prefer).
#: The profile row holds z-scores (``z_<feature>``) and persona-level rates: ``conversion_rate``,
#: ``conv_ratio`` (÷ overall), ``aov_ratio`` (revenue per order ÷ overall), ``top_channel``,
#: ``mobile_share`` (when a device column exists).
NAME_RULES: tuple[tuple[str, object, object], ...] = (
    ("High-value loyalists",
     lambda r: r["revenue_ratio"] >= 1.5 and r["conv_ratio"] >= 1.2,
     lambda r: r["revenue_ratio"]),
    ("Bargain hunters",
     lambda r: r["conv_ratio"] >= 0.6 and r["aov_ratio"] < 0.8,
     lambda r: r["conv_ratio"] - r["aov_ratio"]),
    ("Window shoppers",
     lambda r: r["conv_ratio"] < 0.5 and r["z_events_per_session"] > 0.2,
     lambda r: r["z_events_per_session"] - r["conv_ratio"]),
    ("Social newcomers",
     lambda r: r["top_channel"] in ("social", "display") and r["z_sessions_per_30d"] < 0,
     lambda r: -r["z_sessions_per_30d"]),
    ("Occasional buyers",
     lambda r: r["conv_ratio"] >= 0.8 and r["z_sessions_per_30d"] < 0,
     lambda r: -r["z_sessions_per_30d"]),
    ("Frequent browsers",
     lambda r: r["conv_ratio"] < 0.8 and r["z_sessions_per_30d"] > 0.3,
     lambda r: r["z_sessions_per_30d"]),
    ("Drive-by visitors",
     lambda r: r["conv_ratio"] < 0.5 and r["z_events_per_session"] < -0.2,
     lambda r: -r["z_events_per_session"]),
)


def _name_rows(profile: pd.DataFrame, f: pd.DataFrame, labels: np.ndarray, k: int) -> pd.DataFrame:
    """Per persona: the quantities the naming rules read."""
    conv = np.bincount(labels, weights=f["_converted"].to_numpy(float), minlength=k) / np.bincount(labels, minlength=k)
    overall_conv = f["_converted"].mean()
    rev = np.bincount(labels, weights=f["_revenue"].to_numpy(float), minlength=k)
    orders = np.bincount(labels, weights=f["_orders"].to_numpy(float), minlength=k)
    size = np.bincount(labels, minlength=k)
    per_cust = rev / np.maximum(size, 1)
    overall_per_cust = f["_revenue"].sum() / max(len(f), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        aov = np.where(orders > 0, rev / np.maximum(orders, 1), np.nan)
    overall_aov = f["_revenue"].sum() / f["_orders"].sum() if f["_orders"].sum() > 0 else np.nan
    rows = pd.DataFrame({
        "conversion_rate": conv,
        "conv_ratio": conv / overall_conv if overall_conv > 0 else np.zeros(k),
        "revenue_ratio": per_cust / overall_per_cust if overall_per_cust > 0 else np.zeros(k),
        "aov_ratio": aov / overall_aov if overall_aov and overall_aov > 0 else np.full(k, np.nan),
    })
    chan = [c for c in f.columns if str(c).startswith("channel_share_")]
    if chan:
        means = np.vstack([np.bincount(labels, weights=f[c].fillna(0).to_numpy(float), minlength=k) for c in chan]).T
        top = means.argmax(axis=1)
        rows["top_channel"] = [chan[i].removeprefix("channel_share_") for i in top]
        size_ = np.maximum(np.bincount(labels, minlength=k), 1)
        overall = f[chan].fillna(0).mean().to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            rows["top_channel_lift"] = [(means[j, i] / size_[j]) / overall[i] if overall[i] > 0 else 1.0
                                        for j, i in enumerate(top)]
    else:
        rows["top_channel"] = ""
        rows["top_channel_lift"] = 1.0
    if "n_purchases" in f:
        rows["median_purchases"] = f.groupby(labels)["n_purchases"].median().reindex(range(k)).to_numpy()
    z = profile["z"]
    for col in ("events_per_session", "sessions_per_30d"):
        rows[f"z_{col}"] = z[col].to_numpy() if col in z.columns else 0.0
    for c in z.columns:
        rows[f"z_{c}"] = z[c].to_numpy()
    return rows.fillna({"aov_ratio": 1.0})


def _descriptors(r: pd.Series) -> list[tuple[str, str, float]]:
    """Plain-word traits that set a persona apart: (kind, words, strength), strongest first."""
    def get(key, default=0.0):
        v = r.get(key, default)
        return default if v is None or (isinstance(v, float) and np.isnan(v)) else v

    out = []
    z_rec, z_n = float(get("z_recency_days")), float(get("z_n_purchases"))
    if z_rec >= 0.4:  # only lapsing is named: "active" would be untrue where most of a base has lapsed
        out.append(("recency", "lapsed", z_rec))
    elif z_rec <= -0.4:  # weaker: names a recent persona apart from a lapsed one ("New bargain buyers")
        out.append(("recency", "recent", -z_rec * 0.5))
    if z_n >= 0.4:
        out.append(("frequency", "frequent", z_n))
    elif get("median_purchases", 2) <= 1 and get("conversion_rate", 0) >= 0.5 and z_n <= -0.1:
        out.append(("frequency", "one-time", max(-z_n, 0.1) + 1.0))  # most bought once: a defining trait
    aov = float(get("aov_ratio", 1.0))
    if aov >= 1.3:
        out.append(("value", "big spenders", float(np.log(aov)) * 2))
    elif 0 < aov <= 0.77:
        out.append(("value", "bargain buyers", float(-np.log(aov)) * 2))
    lift, chan = float(get("top_channel_lift", 1.0)), str(get("top_channel", "") or "")
    if chan and lift >= 1.5:
        out.append(("channel", f"{chan.replace('_', ' ')}-led", float(np.log(lift))))
    return sorted(out, key=lambda t: (-t[2], t[0]))


def _compose(desc: list[tuple[str, str, float]], buyers: bool, n_traits: int) -> str:
    """A marketer's name from the strongest ``n_traits`` traits ("Frequent big spenders", "Lapsed regulars")."""
    pick = {kind: words for kind, words, _ in desc[:n_traits]}
    noun = pick.pop("value", None) or ("buyers" if buyers else "browsers")
    if pick.get("recency") == "lapsed" and pick.get("frequency") == "frequent" and noun == "buyers":
        pick.pop("frequency")
        noun = "regulars"
    if pick.get("recency") == "recent" and pick.get("frequency") == "one-time":
        pick.pop("frequency")
        pick["recency"] = "new"
    words = [pick[k] for k in ("recency", "frequency", "channel") if k in pick]
    name = " ".join([*words, noun])
    if not words and noun in ("buyers", "browsers"):
        name = "typical " + noun
    return name[0].upper() + name[1:]


def _names(rows: pd.DataFrame, z: pd.DataFrame, *, rules: bool = True) -> list[str]:
    """Persona names: the planted-style rules of :data:`NAME_RULES` first (``rules``), then a plain-words
    name from the traits that set each persona apart (never a raw feature name), unique across personas."""
    k = len(rows)
    names: list[str | None] = [None] * k
    for name, cond, score in (NAME_RULES if rules else ()):
        cands = []
        for i in range(k):
            if names[i] is not None:
                continue
            r = rows.iloc[i]
            try:
                if cond(r):
                    cands.append((-float(score(r)), i))
            except (KeyError, TypeError):
                continue
        if cands:
            names[min(cands)[1]] = name
    used = {n for n in names if n}
    for i in range(k):
        if names[i] is not None:
            continue
        r = rows.iloc[i]
        desc = _descriptors(r)
        buyers = float(r.get("conversion_rate", 1.0) or 0.0) >= 0.3
        cands = [_compose(desc, buyers, t) for t in (2, 3, 4)]
        name = next((c for c in cands if c not in used), None)
        if name is None:
            base, j = cands[0], 2
            name = f"{base} {j}"
            while name in used:
                j += 1
                name = f"{base} {j}"
        names[i] = name
        used.add(name)
    return names  # type: ignore[return-value]


# -------------------------------------------------------------------------------------------- result
@dataclass(frozen=True)
class PersonaResult:
    """A fitted persona model (learned attributes end in ``_``).

    Attributes
    ----------
    labels_ : Series of int
        Persona number per customer (index ``customer_id``); 0 is the persona with the largest revenue
        share.
    persona_ : Series of ordered categorical
        The persona name per customer, categories in persona order.
    names_ : list of str
        Persona names in persona order (``names_[i]`` names persona ``i``).
    k_ : int
        Number of personas.
    scores_ : DataFrame
        One row per k tried (index ``k``): ``silhouette``, ``inertia`` (k-means) or ``bic`` (mixture),
        ``ari_mean``, ``ari_min`` (bootstrap stability), ``min_share``, ``admissible``, ``chosen``; the
        ``rule`` that chose k is in ``scores_.attrs["rule"]``.
    stability_ : dict
        ``{"ari_mean": ..., "ari_min": ...}`` of the chosen k.
    silhouette_ : float
        Silhouette of the chosen k (on the seeded sample).
    profile_ : DataFrame
        Index persona name (persona order); columns a MultiIndex (``statistic``, ``feature``) with
        statistic ``"z"`` (persona mean minus overall mean, in overall standard deviations) and
        ``"median"``, over every numeric feature and one ``<column>=<level>`` share per categorical level.
    embedding_ : DataFrame
        ``pc1``, ``pc2`` per customer: the transformed features projected on their first two principal
        components (``embedding_.attrs["explained_variance_ratio"]``).
    features_ : DataFrame
        The features used (with the :func:`persona_features` columns added).
    columns_ : dict
        ``{"numeric": [...], "categorical": [...]}`` clustered on.
    pipeline_, model_ :
        The fitted scikit-learn transform pipeline and clustering model (model labels are not persona
        numbers; ``mapping_[model_label]`` is).
    """

    labels_: pd.Series
    persona_: pd.Series
    names_: list[str]
    k_: int
    scores_: pd.DataFrame
    stability_: dict
    silhouette_: float
    profile_: pd.DataFrame
    embedding_: pd.DataFrame
    features_: pd.DataFrame
    columns_: dict
    pipeline_: Pipeline
    model_: object
    mapping_: np.ndarray
    params: dict = field(default_factory=dict)
    kind_: str = "kmeans"

    def predict(self, features: pd.DataFrame) -> pd.Series:
        """Persona number for new customers' features (same columns as the fit)."""
        if self.kind_ == "rfm":  # the rules, scored on these customers' own quantiles
            lab, names, _ = rfm_labels(persona_features(features))
            return pd.Series([self.names_.index(names[j]) if names[j] in self.names_ else -1 for j in lab],
                             index=features.index, name="persona")
        f = _prepare_cat(persona_features(features), self.columns_["categorical"])
        X = self.pipeline_.transform(f)
        with threadpool_limits(1):
            raw = self.model_.predict(X)
        return pd.Series(self.mapping_[raw], index=features.index, name="persona")

    def cards(self, *, inactive_days: int = INACTIVE_DAYS) -> pd.DataFrame:
        """One row per persona (index ``persona``, persona order): a marketer's persona sheet.

        Columns: ``name``, ``customers``, ``share`` (of customers), ``revenue_share``, ``conversion_rate``
        (share with ≥ 1 purchase), ``aov`` (revenue per order), ``sessions_per_30d`` (median),
        ``typical_age`` (median) and ``typical_<attribute>`` (most common level) for each categorical
        attribute clustered on (gender, region, plan …), ``goals`` (the two stages that make up most of
        their events), ``pain_point`` (the stage most of them stall at: the most common furthest stage
        short of the last; None when every one of them reached the last stage),
        ``preferred_channels`` (the two channels with the largest session share),
        ``satisfaction`` (mean CSAT) and ``nps`` (mean NPS) when feedback was used, ``churn_rate`` (share
        with ``recency_days`` > ``inactive_days`` at the cutoff: a proxy for churned customers).
        """
        f = self.features_
        lab = self.labels_.to_numpy()
        k = self.k_
        size = np.bincount(lab, minlength=k)
        rows = pd.DataFrame({"name": self.names_, "customers": size, "share": size / size.sum()},
                            index=pd.RangeIndex(k, name="persona"))
        rev = f["monetary"].fillna(0).to_numpy(float) if "monetary" in f else np.zeros(len(f))
        tot = rev.sum()
        rev_k = np.bincount(lab, weights=rev, minlength=k)
        rows["revenue_share"] = rev_k / tot if tot > 0 else 0.0
        if "n_purchases" in f:
            buyers = (f["n_purchases"] > 0).to_numpy(float)
            orders = np.bincount(lab, weights=f["n_purchases"].to_numpy(float), minlength=k)
            rows["conversion_rate"] = np.bincount(lab, weights=buyers, minlength=k) / size
            with np.errstate(divide="ignore", invalid="ignore"):
                rows["aov"] = np.where(orders > 0, rev_k / np.maximum(orders, 1), np.nan)
        g = f.groupby(self.labels_.rename("persona"), sort=True)
        if "sessions_per_30d" in f:
            rows["sessions_per_30d"] = g["sessions_per_30d"].median()
        if "age" in f and pd.api.types.is_numeric_dtype(f["age"]):
            sd = f["age"].std(ddof=0)
            med = g["age"].median()
            # only where the persona's age sets it apart (mean ≥ 0.3 SD from the whole)
            apart = ((g["age"].mean() - f["age"].mean()).abs() >= 0.3 * sd) if sd > 0 else med * False
            rows["typical_age"] = med.where(apart)
        for c in self.columns_["categorical"]:
            rows[f"typical_{c}"] = _distinguishing_level(self.labels_, f[c], k)
        stage_cols = [c for c in f.columns if str(c).startswith("share_")]
        if stage_cols:
            means = g[stage_cols].mean()
            top = np.argsort(-means.to_numpy(), axis=1, kind="stable")[:, :2]
            rows["goals"] = [", ".join(f"{stage_cols[j].removeprefix('share_')} ({means.iloc[i, j]:.0%})"
                                       for j in top[i]) for i in range(len(means))]
        if "furthest_stage_name" in f:
            stages = list(f["furthest_stage_name"].cat.categories)
            # every persona gets a row (a log where nobody reaches a stage crosstabs to an empty table)
            ct = pd.crosstab(self.labels_, f["furthest_stage_name"]).reindex(
                index=range(k), columns=stages, fill_value=0)
            stall = ct[stages[:-1]] if len(stages) > 1 else ct
            share = stall.max(axis=1).to_numpy(float) / size if stages else np.zeros(k)
            # a persona none of whom stalls short of the last stage has no pain point (never "stalls at x (0%)")
            rows["pain_point"] = [f"stalls at {s} ({p:.0%})" if p > 0 else None
                                  for s, p in zip(stall.idxmax(axis=1) if stages else [None] * k, share)]
        chan = [c for c in f.columns if str(c).startswith("channel_share_")]
        if chan:
            means = g[chan].mean()
            top = np.argsort(-means.to_numpy(), axis=1, kind="stable")[:, :2]
            rows["preferred_channels"] = [", ".join(chan[j].removeprefix("channel_share_") for j in top[i])
                                          for i in range(len(means))]
        if "csat_mean" in f:
            rows["satisfaction"] = g["csat_mean"].mean()
        if "nps_mean" in f:
            rows["nps"] = g["nps_mean"].mean()
        if "recency_days" in f:
            inactive = (f["recency_days"] > inactive_days).to_numpy(float)
            rows["churn_rate"] = np.bincount(lab, weights=inactive, minlength=k) / size
        return rows


def _distinguishing_level(labels: pd.Series, values: pd.Series, k: int, *, min_gap: float = 0.10) -> list:
    """Per persona: the level of ``values`` most over-represented in it, as "level (x% vs y% of all)",
    or None when no level is at least ``min_gap`` more common in the persona than in the whole base
    (no "typical gender: female" on every card when the whole base is mostly female)."""
    text = values.astype(str).where(values.notna())
    ct = pd.crosstab(labels, text).reindex(range(k), fill_value=0)
    within = ct.div(ct.sum(axis=1).replace(0, np.nan), axis=0)
    overall = text.value_counts(normalize=True).reindex(ct.columns).fillna(0)
    gap = within - overall
    out = []
    for i in range(k):
        row = gap.iloc[i].dropna()
        if row.empty or row.max() < min_gap:
            out.append(None)
            continue
        lvl = sorted(row.index[row == row.max()])[0]
        out.append(f"{lvl} ({within.iloc[i][lvl]:.0%} vs {overall[lvl]:.0%} of all)")
    return out


# ------------------------------------------------------------------------------------------- fitting
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
        ``scores_.attrs["rule"]`` starts with ``"rfm"``).

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
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
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
    if not isinstance(features, pd.DataFrame):
        raise TypeError("features must be a DataFrame from cjlib.features.customer_features")
    n = len(features)
    if n < 2:
        raise NotClusterable(f"there {'is' if n == 1 else 'are'} {n} customer{'' if n == 1 else 's'}; "
                             "personas need at least 2 customers")
    if isinstance(k, str):
        if k != "auto":
            raise ValueError(f"k must be 'auto' or an integer >= 2, got {k!r}")
        hi = min(hi, n - 1)
        if hi < lo:
            raise NotClusterable(f"k_range {tuple(k_range)} does not fit {n} customers: the largest k is {n - 1}")
        ks = list(range(lo, hi + 1))
    else:
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2:
            raise ValueError(f"k must be 'auto' or an integer >= 2, got {k!r}")
        if k > n:
            raise NotClusterable(f"k={k} personas need at least {k} customers, got {n}")
        ks = [int(k)]

    f = persona_features(features)
    num, cat = _select(f, include, exclude, purchase_behaviour)
    if not num and not cat:
        raise NotClusterable("no usable feature: every selected column is constant or missing "
                         "(check include/exclude, or the data has no variation to cluster)")
    fx = _prepare_cat(f, cat)
    pipe = _pipeline(num, cat, transform, n, seed)
    X = np.asarray(pipe.fit_transform(fx), dtype=float)
    n_distinct = len(np.unique(np.round(X, 12), axis=0)) if X.shape[1] else 1
    if X.shape[1] == 0 or n_distinct < 2 or not (X.std(axis=0) > 1e-12).any():
        raise NotClusterable("the features are constant across customers: nothing to cluster")
    if max(ks) > n_distinct:
        if isinstance(k, str):
            ks = [kk for kk in ks if kk <= n_distinct]
            if not ks:
                raise NotClusterable(f"only {n_distinct} distinct customers: fewer than the smallest k {lo}")
        else:
            raise NotClusterable(f"k={k} personas need at least {k} distinct customers, got {n_distinct}")

    scores, fits, chosen, kind = _search(X, ks, k, method, seed, n_boot, min_share, min_stability,
                                         min_stability_worst, fallback)
    if kind == "rfm":
        model, (raw, rfm_names, _) = None, rfm_labels(f)
        kk = len(rfm_names)
        mapping = np.arange(kk, dtype=np.int64)
        labels = raw
        rev = f["monetary"].fillna(0).to_numpy(float) if "monetary" in f else np.zeros(n)
    else:
        model, raw = fits[chosen]
        # deterministic order: revenue share desc, size desc, centroid
        kk = chosen
        rev = f["monetary"].fillna(0).to_numpy(float) if "monetary" in f else np.zeros(n)
        rev_k = np.bincount(raw, weights=rev, minlength=kk)
        size_k = np.bincount(raw, minlength=kk)
        cent = np.vstack([X[raw == j].mean(axis=0) if size_k[j] else np.zeros(X.shape[1]) for j in range(kk)])
        keys = [(-round(rev_k[j], 6), -size_k[j], tuple(np.round(cent[j], 9))) for j in range(kk)]
        order = sorted(range(kk), key=lambda j: keys[j])
        mapping = np.empty(kk, dtype=np.int64)
        mapping[order] = np.arange(kk)
        labels = mapping[raw]

    # profile: z-scores and medians per persona
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

    helper = f.assign(_converted=(f["n_purchases"] > 0) if "n_purchases" in f else False,
                      _revenue=rev, _orders=f.get("n_purchases", 0))
    name_rows = _name_rows(pd.concat({"z": z}, axis=1), helper, labels, kk)
    names = rfm_names if kind == "rfm" else _names(name_rows, z, rules=not purchase_behaviour)
    z.index = med.index = pd.Index(names, name="persona")
    profile = pd.concat({"z": z, "median": med}, axis=1, names=["statistic", "feature"])

    index = features.index
    lab_s = pd.Series(labels, index=index, name="persona")
    persona = pd.Series(pd.Categorical.from_codes(labels, categories=names, ordered=True), index=index,
                        name="persona")
    n_comp = min(2, X.shape[1], n)
    pcs = PCA(n_components=n_comp, random_state=seed).fit(X)
    emb = pcs.transform(X)
    if n_comp < 2:
        emb = np.column_stack([emb, np.zeros(n)])
    # a deterministic sign: the largest loading of each component is positive
    for j in range(n_comp):
        if pcs.components_[j][np.argmax(np.abs(pcs.components_[j]))] < 0:
            emb[:, j] = -emb[:, j]
    embedding = pd.DataFrame(emb[:, :2], index=index, columns=["pc1", "pc2"])
    embedding.attrs["explained_variance_ratio"] = [float(v) for v in pcs.explained_variance_ratio_]
    if kind == "rfm":
        stab = {"ari_mean": None, "ari_min": None}
        n_lab = len(np.unique(labels))
        idx = np.sort(np.random.default_rng(seed).choice(n, min(n, SILHOUETTE_SAMPLE), replace=False))
        sil = (float(silhouette_score(X[idx], labels[idx]))
               if 2 <= len(np.unique(labels[idx])) <= len(idx) - 1 and n_lab >= 2 else float("nan"))
    else:
        stab = {"ari_mean": float(scores.loc[chosen, "ari_mean"]), "ari_min": float(scores.loc[chosen, "ari_min"])}
        sil = float(scores.loc[chosen, "silhouette"])
    return PersonaResult(
        labels_=lab_s, persona_=persona, names_=list(names), k_=int(kk), scores_=scores,
        stability_=stab, silhouette_=sil, profile_=profile,
        embedding_=embedding, features_=f, columns_={"numeric": num, "categorical": cat},
        pipeline_=pipe, model_=model, mapping_=mapping,
        params={"k": k, "k_range": (lo, hi), "method": method, "transform": transform, "min_share": min_share,
                "min_stability": min_stability, "min_stability_worst": min_stability_worst, "n_boot": n_boot,
                "seed": seed, "purchase_behaviour": purchase_behaviour},
        kind_=kind,
    )


def _score_ks(X, ks, method, seed, n_boot):
    rows, fits = {}, {}
    with threadpool_limits(1):
        for kk in ks:
            model, labels, row = _fit_k(X, method, kk, seed, n_boot)
            rows[kk], fits[kk] = row, (model, labels)
    scores = pd.DataFrame.from_dict(rows, orient="index")
    scores.index.name = "k"
    return scores, fits


def _search(X, ks, k, method, seed, n_boot, min_share, min_stability, min_worst, fallback):
    """Score every k; with ``k="auto"`` and ``fallback``, a Gaussian mixture and then RFM rules when no
    k-means k passes the stability bar. Returns (scores, fits, chosen k or None, kind)."""
    scores, fits = _score_ks(X, ks, method, seed, n_boot)
    auto = isinstance(k, str)
    adm = _admissible(scores, min_share, min_stability, min_worst)
    kind, switched = method, False
    if auto and fallback and n_boot > 0 and not adm.any():
        tried = [method]
        if method == "kmeans":
            g_scores, g_fits = _score_ks(X, ks, "gmm", seed, n_boot)
            g_adm = _admissible(g_scores, min_share, min_stability, min_worst)
            tried.append("gmm")
            if g_adm.any():
                scores, fits, adm, kind, method, switched = g_scores, g_fits, g_adm, "gmm", "gmm", True
        if not adm.any():
            scores["admissible"] = False
            scores["chosen"] = False
            scores.attrs["rule"] = "rfm: no k passed the stability bar with " + " or ".join(
                {"kmeans": "k-means", "gmm": "a Gaussian mixture"}[m] for m in tried)
            scores.attrs["tried"] = tried
            return scores, fits, None, "rfm"
    chosen, rule = (ks[0], "fixed k") if not auto else _choose(scores, method, min_share, min_stability, min_worst)
    scores["admissible"] = adm
    scores["chosen"] = scores.index == chosen
    scores.attrs["rule"] = rule + (" (Gaussian mixture: no k-means k was stable)" if switched else "")
    return scores, fits, chosen, kind


# ------------------------------------------------------------------------------- one model per run
#: the assignments file 01 writes in ``output_dir`` and 02/04 read
ASSIGNMENTS_FILE = "personas_assignments.csv"


def _hex(rgb) -> str:
    return "#" + "".join(f"{int(round(float(v) * 255)):02x}" for v in tuple(rgb)[:3])


def fit_for_inputs(data, *, features: pd.DataFrame | None = None, k: int | str = "auto",
                   k_range: Sequence[int] = (2, 8), method: str = "kmeans", include=None, exclude=None,
                   seed: int = 0) -> PersonaResult:
    """The run's persona model from loaded inputs (:func:`cjlib.load_inputs`): the one fit 01 shows and
    02/04 reproduce when 01's assignments are absent.

    Features are :func:`cjlib.features.customer_features` without the profile's id-like and outcome-like
    customer columns (or ``features`` when given, built the same way); purchase behaviour is clustered
    when the log is purchases-only or has no web visits (``data.profile``).
    """
    from cjlib.features import customer_features, excluded_attributes, without_attributes

    if features is None:
        left_out = excluded_attributes(data.customers, data.profile)
        features = customer_features(data.events, customers=without_attributes(data.customers, list(left_out)),
                                     feedback=data.feedback, stage_map=data.stage_map)
    purchase = bool(data.profile.purchases_only or not data.profile.supports("sessions"))
    return fit_personas(features, k=k, k_range=k_range, method=method, include=include, exclude=exclude,
                        seed=seed, purchase_behaviour=purchase)


def assignments(result: PersonaResult, state: str) -> pd.DataFrame:
    """The assignment table 01 exports (index ``customer_id``): ``persona_id`` (persona order),
    ``persona`` (name), ``color`` (hex, as in every chart) and ``state`` (``stable``, ``rfm``, …)."""
    from cjlib.plots.personas import persona_colors

    colors = {n: _hex(c) for n, c in persona_colors(result.names_).items()}
    names = result.persona_.astype(str)
    return pd.DataFrame({"persona_id": result.labels_, "persona": names, "color": names.map(colors),
                         "state": state}).rename_axis("customer_id")


@dataclass(frozen=True)
class SharedPersonas:
    """The run's personas as 02 and 04 use them.

    Attributes
    ----------
    persona : Series of ordered categorical
        Persona name per customer (index ``customer_id``), categories in persona order.
    state : str
        ``"stable"`` (personas), ``"rfm"`` (rule-based RFM segments), ``"unstable"`` or ``"unchecked"``.
    source : str
        ``"file"`` (read from 01's assignments or ``personas_path``) or ``"fit"``.
    """

    persona: pd.Series
    state: str
    source: str

    @property
    def names(self) -> list[str]:
        return list(self.persona.cat.categories)

    @property
    def label(self) -> str:
        """How a finding names the grouping ("4 personas", "5 RFM segments")."""
        n = len(self.names)
        return f"{n} RFM segments" if self.state == "rfm" else f"{n} {'personas' if self.state == 'stable' else 'groups'}"


def _read_assignments(path, ids: pd.Index) -> pd.Series | None:
    from pathlib import Path

    p = Path(path)
    t = pd.read_parquet(p) if p.suffix.lower() in (".parquet", ".pq") else pd.read_csv(p, dtype={"customer_id": str})
    if not {"customer_id", "persona"} <= set(t.columns):
        raise ValueError(f"{p.name} must have customer_id and persona columns (has {list(t.columns)})")
    t = t.assign(customer_id=t["customer_id"].astype(str), persona=t["persona"].astype(str))
    order = (t.groupby("persona")["persona_id"].min().sort_values().index.tolist() if "persona_id" in t
             else sorted(t["persona"].unique()))
    by_id = t.drop_duplicates("customer_id").set_index("customer_id")
    keys = pd.Index(ids.astype(str))
    if keys.isin(by_id.index).mean() < 0.9:
        return None
    values = by_id["persona"].reindex(keys).to_numpy()
    s = pd.Series(pd.Categorical(values, categories=order, ordered=True), index=ids, name="persona")
    s.attrs["state"] = str(by_id["state"].iloc[0]) if "state" in by_id and len(by_id) else "stable"
    return s


def personas_for(data, *, output_dir: str = "", personas_path: str = "", seed: int = 0,
                 features: pd.DataFrame | None = None) -> SharedPersonas:
    """The run's personas for 02 and 04: 01's assignments when present, else the same deterministic fit.

    Parameters
    ----------
    data : Inputs
        From :func:`cjlib.load_inputs`.
    output_dir : str
        Where 01 wrote :data:`ASSIGNMENTS_FILE` (used when it covers at least 90 % of the customers).
    personas_path : str
        A CSV/Parquet with ``customer_id`` and ``persona`` (optionally ``persona_id`` for the order and
        ``state``); takes precedence over ``output_dir``.
    seed : int
        Seed of the fit when no file is used (01's seed gives 01's personas).
    features : DataFrame, optional
        Customer features over the whole log, built as in 01 (else built here).

    Raises
    ------
    NotClusterable
        No file and the customers cannot be clustered.
    """
    from pathlib import Path

    from cjlib.findings.personas import stability_state
    from cjlib.paths import resolve

    ids = pd.Index(pd.unique(data.events["customer_id"]), name="customer_id")
    for path, explicit in ((personas_path, True), (output_dir and Path(resolve(output_dir)) / ASSIGNMENTS_FILE, False)):
        if path and (explicit or Path(path).is_file()):
            s = _read_assignments(resolve(path) if explicit else path, ids)
            if s is not None:
                return SharedPersonas(s, s.attrs.get("state", "stable"), "file")
    r = fit_for_inputs(data, features=features, seed=seed)
    return SharedPersonas(r.persona_, stability_state(r.scores_), "fit")
