"""What personas cluster on: the intensity columns added to the feature table, the columns selected
(behaviour, then attributes) and the scikit-learn transform pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    QuantileTransformer,
    StandardScaler,
)

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
                   "aov", "days_to_first_purchase", "days_since_last_purchase", "furthest_stage",
                   "furthest_stage_name", "csat_mean", "nps_mean", "sessions_per_30d", "purchases_per_session",
                   "revenue_per_30d", "days_between_purchases"}
MAX_LEVELS = 20
SILHOUETTE_SAMPLE = 3000
BOOT_SAMPLE = 3000
INACTIVE_WINDOW = "90D"  # no event for longer than this: inactive (the cards' churn proxy)


# ------------------------------------------------------------------------------------------- features
def persona_features(features: pd.DataFrame) -> pd.DataFrame:
    """Add the intensity columns personas cluster on (a new frame; the input is not modified).

    - ``sessions_per_30d``: ``sessions / max(tenure_days, 30) × 30`` (a customer known for less than 30
      days is not credited with a monthly rate from a single day).
    - ``purchases_per_session``: ``n_purchases / sessions``.
    - ``revenue_per_30d``: ``monetary / max(tenure_days, 30) × 30`` (NaN without revenue).
    - ``aov`` with 0 for customers without purchases (instead of NaN).

    Columns whose inputs are missing are skipped.

    Parameters
    ----------
    features : DataFrame
        One row per customer with (some of) ``sessions``, ``tenure_days``, ``n_purchases``, ``monetary``,
        ``aov`` and ``recency_days``.

    Returns
    -------
    DataFrame
        ``features`` with those columns added (or ``aov`` replaced), plus ``days_between_purchases``
        when ``n_purchases``, ``tenure_days`` and ``recency_days`` are there: the first-to-last-event
        span over ``n_purchases - 1`` (``tenure_days`` for fewer than two purchases).
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


def _select_with_reasons(f: pd.DataFrame, include, exclude,
                         purchase: bool = False) -> tuple[list[str], list[str], dict[str, str]]:
    """Numeric and categorical columns to cluster on, and the customer attributes (or columns named in
    ``include``) left out with why: ``"30 values, more than the 20 a column may have"``, ``"one value"``, ``"no value"``
    or ``"a date"``. Behaviour columns that are constant are dropped without a reason (they say nothing
    about the data's customers)."""
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
    num, cat, why = [], [], {}
    for c in cols:
        s = f[c]
        levels = s.nunique(dropna=True)
        if pd.api.types.is_bool_dtype(s.dtype):
            cat.append(c)
        elif pd.api.types.is_numeric_dtype(s.dtype):
            if levels > 1:
                num.append(c)
            else:
                why[c] = "one value" if levels else "no value"
        elif pd.api.types.is_datetime64_any_dtype(s.dtype) or isinstance(s.dtype, pd.DatetimeTZDtype):
            why[c] = "a date"
        elif 2 <= levels <= MAX_LEVELS or (include and c in include and levels >= 2):
            cat.append(c)
        else:
            why[c] = (f"{levels:,} values, more than the {MAX_LEVELS} a column may have" if levels > MAX_LEVELS
                      else "one value" if levels else "no value")
    reported = set(include or ()) | {c for c in cols if _is_attribute(str(c))}
    return num, cat, {c: w for c, w in why.items() if c in reported}


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

