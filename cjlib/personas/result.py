"""The fitted persona model (:class:`PersonaResult`): assignments, profile, map and persona cards."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from cjlib.personas.features import INACTIVE_WINDOW, _prepare_cat, persona_features
from cjlib.personas.rfm import rfm_labels
from cjlib.personas.text import percent
from cjlib.validation import duration

#: a persona's stall is named only when at least this share of it stops there (1 % is no pain point)
MIN_STALL = 0.10
#: the inactive share is shown only on a log at least this many times as long as the inactivity window: on a
#: 92-day log almost nobody can be inactive for 90 days, so "0% inactive for 90 days" says nothing
MIN_SPAN_WINDOWS = 2.0


def inactive_shown(features: pd.DataFrame, window: str | pd.Timedelta) -> bool:
    """Whether the log is long enough for the share inactive for ``window`` to mean something: its span
    (the longest ``tenure_days``, first event to the cutoff) is at least :data:`MIN_SPAN_WINDOWS` windows,
    so a customer can have been active and then silent for the whole window.

    Parameters
    ----------
    features : DataFrame
        The customer features (``tenure_days``; without it the span is unknown and the share is shown).
    window : str or Timedelta
        The inactivity window (``"90D"``).

    Returns
    -------
    bool
        True when the inactive share is worth showing.

    Examples
    --------
    >>> inactive_shown(pd.DataFrame({"tenure_days": [92.0, 40.0]}), "90D")
    False
    >>> inactive_shown(pd.DataFrame({"tenure_days": [365.0]}), "90D")
    True
    """
    days = duration("window", window, allow_none=False) / pd.Timedelta(days=1)
    if "tenure_days" not in features or not features["tenure_days"].notna().any():
        return True
    return float(features["tenure_days"].max()) >= MIN_SPAN_WINDOWS * days


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
        ``ari_mean``, ``ari_min`` (bootstrap stability), ``min_share``, ``admissible``, ``chosen``.
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
        components.
    features_ : DataFrame
        The features used (with the :func:`persona_features` columns added).
    columns_ : dict
        ``{"numeric": [...], "categorical": [...]}`` clustered on.
    pipeline_, model_ :
        The fitted scikit-learn transform pipeline and clustering model (model labels are not persona
        numbers; ``mapping_[model_label]`` is).
    params : dict
        The settings of the fit (``k``, ``k_range`` as used, ``method``, ``min_share`` …).
    kind_ : str
        ``"kmeans"``, ``"gmm"`` or ``"rfm"`` (rule-based RFM segments: no k was stable).
    rule_ : str
        The rule that chose k (``"admissible: …"``, ``"fallback: …"``, ``"fixed k"``, or ``"rfm: …"``).
    tried_ : tuple of str
        The clustering methods scored (``("kmeans", "gmm")`` when the mixture was tried as well).
    explained_variance_ratio_ : tuple of float
        The share of the variance each axis of ``embedding_`` holds.
    left_out_ : dict
        Customer attributes (and columns named in ``include``) not clustered on → why: ``"30 values, more
        than the 20 a column may have"`` (one-hot levels of a many-valued column would outweigh behaviour),
        ``"one value"``, ``"no value"`` or ``"a date"``.
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
    rule_: str = ""
    tried_: tuple[str, ...] = ()
    explained_variance_ratio_: tuple[float, ...] = ()
    left_out_: dict = field(default_factory=dict)

    def sizes(self) -> pd.Series:
        """Customers per persona.

        Returns
        -------
        Series
            Index the persona names (persona order), values the number of customers (0 for an empty one).
        """
        counts = self.labels_.value_counts().reindex(range(self.k_), fill_value=0).to_numpy()
        return pd.Series(counts, index=self.names_)

    def profile_columns(self) -> list[str]:
        """The profile columns a report shows.

        Returns
        -------
        list of str
            The numeric features clustered on, every categorical level (``<column>=<level>``), then total
            spend and recency when the profile has them.
        """
        z = self.profile_["z"]
        shown = [c for c in self.columns_["numeric"] if c in z.columns]
        shown += [c for c in z.columns if "=" in str(c)]
        shown += [c for c in ("monetary", "recency_days") if c in z.columns and c not in shown]
        return shown

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

    def cards(self, *, inactive_window: str | pd.Timedelta = INACTIVE_WINDOW) -> pd.DataFrame:
        """One row per persona (index ``persona``, persona order): a marketer's persona sheet.

        Columns: ``name``, ``customers``, ``share`` (of customers), ``revenue_share``, ``conversion_rate``
        (share with ≥ 1 purchase), ``aov`` (revenue per order), ``sessions_per_30d`` (median),
        ``typical_age`` (median, where it sets the persona apart) and ``typical_<attribute>`` for each
        categorical attribute clustered on (gender, region, plan …): the level most over-represented in
        the persona against all customers, as ``"gold (37% vs 15% of all)"`` (None when no level is 10
        points more common; reports label it "over-represented <attribute>", not "typical"), ``goals``
        (the two stages that make up most of their events; one under 0.5 % of them is left out), ``pain_point`` (the stage most of them stall at: the most common furthest stage
        short of the last; None when every one of them reached the last stage),
        ``preferred_channels`` (the two channels with the largest session share),
        ``satisfaction`` (mean CSAT) and ``nps`` (mean NPS) when feedback was used, ``churn_rate`` (share
        with ``recency_days`` longer than ``inactive_window`` at the cutoff: a proxy for churned customers;
        NaN on a log shorter than :data:`MIN_SPAN_WINDOWS` windows, see :func:`inactive_shown`). Shares
        print as ``"<1%"`` / ``">99%"`` where rounding would say 0 % / 100 % (:func:`cjlib.personas.text.percent`);
        a stall under :data:`MIN_STALL` of the persona is no pain point.

        Parameters
        ----------
        inactive_window : str or Timedelta, default "90D"
            How long without an event counts as inactive for ``churn_rate``.

        Returns
        -------
        DataFrame
        """
        inactive_days = duration("inactive_window", inactive_window, allow_none=False) / pd.Timedelta(days=1)
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
            # a stage under half a percent of their events is not what they do most ("booked (0%)")
            rows["goals"] = [", ".join(f"{stage_cols[j].removeprefix('share_')} ({percent(means.iloc[i, j])})"
                                       for j in top[i] if means.iloc[i, j] >= 0.005) or None
                             for i in range(len(means))]
        if "furthest_stage_name" in f:
            stages = list(f["furthest_stage_name"].cat.categories)
            # every persona gets a row (a log where nobody reaches a stage crosstabs to an empty table)
            ct = pd.crosstab(self.labels_, f["furthest_stage_name"]).reindex(
                index=range(k), columns=stages, fill_value=0)
            stall = ct[stages[:-1]] if len(stages) > 1 else ct
            share = stall.max(axis=1).to_numpy(float) / size if stages else np.zeros(k)
            # a stall is named only where it holds a meaningful share of the persona (never "stalls at x (1%)"
            # beside "100% convert": 99 % of them went past it)
            rows["pain_point"] = [f"stalls at {s} ({percent(p)})" if p >= MIN_STALL else None
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
        if "recency_days" in f and inactive_shown(f, inactive_window):
            inactive = (f["recency_days"] > inactive_days).to_numpy(float)
            rows["churn_rate"] = np.bincount(lab, weights=inactive, minlength=k) / size
        elif "recency_days" in f:  # the log is too short for the window to show anything
            rows["churn_rate"] = np.nan
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
        out.append(f"{lvl} ({percent(within.iloc[i][lvl])} vs {percent(overall[lvl])} of all)")
    return out


