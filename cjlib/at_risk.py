"""The at-risk list as of the data's end, ranked by value at risk: what a retention team acts on today.

Validation (:func:`cjlib.churn.validate`) answers *how good is the model*: it scores customers at a
cutoff whose outcome is already known. A retention team needs the customers who are still active **now**,
so the list is built from a second data set:

1. **Training**: the latest labelled window — features as of ``as_of − window`` and the label of
   the window ``[as_of − window, as_of)`` — where ``as_of`` is the end of the data (midnight after
   the last event day). The chosen model is refitted on it (BG/NBD, which needs no label, is refitted
   on every occasion before ``as_of``).
2. **Scoring**: features as of ``as_of`` for every customer *active in the last window* (an activity
   event in ``[as_of − window, as_of)``); customers quiet for the whole last window have already
   churned by the label's own definition and are not on the list.

:func:`add_value` joins customer value (BG/NBD purchases × Gamma-Gamma spend, :mod:`cjlib.value`) fitted
on the purchase occasions before ``as_of``, and ranks the list by **value at risk** = P(churn) × the
value the customer brings over the horizon if they stay (see :func:`cjlib.value.value_at_risk` for why
not × BG/NBD's expected value), or by risk alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjlib.bgnbd import BGNBD
from cjlib.churn import distributed as _dist
from cjlib.churn.dataset import _labelled, features_at
from cjlib.churn.explain import risk_table
from cjlib.churn.models import PREDICT_ROWS, _threads, bgnbd_scores, fit_rows, make_model
from cjlib.churn.validation import _align_to, _layout
from cjlib.churn.window import WindowPlan, _as_activity, _as_window, _or_reason
from cjlib.errors import DataError
from cjlib.stagemap import StageMap
from cjlib.validation import check_choice

__all__ = ["RANK_BY", "AtRisk", "ValueFit", "active_customers", "add_value", "at_risk_list",
           "at_risk_list_or_reason", "examples", "fit_value", "fit_value_or_reason", "ranking_overlap", "summary_by"]

RANK_BY = ("value_at_risk", "risk")
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class AtRisk:
    """The action list: customers active in the last window, scored as of the data's end.

    Attributes
    ----------
    table : DataFrame
        Index ``customer_id``: ``churn_probability``, ``risk_rank`` (1 = highest probability),
        ``risk_decile`` (1 = highest), ``reason_1`` … and ``reason_1_effect`` …; :func:`add_value` adds
        the value columns. Sorted by the ranking.
    as_of : Timestamp
        The end of the data; features use only events before it.
    trained_at : Timestamp
        Cutoff of the latest labelled window the model was refitted on (``as_of − window``).
    model : str
        ``"gbm"``, ``"logistic"``, ``"bgnbd"`` or ``"ensemble"``.
    window : Timedelta
        The churn window (whole days; :attr:`window_days` is the count).
    n_trained : int
        Customers in the training set.
    rank_by : str
        ``"risk"`` until :func:`add_value` ranks by value at risk.
    n_fitted : int or None
        Customers the refitted feature model saw when the training set was larger than
        :data:`cjlib.churn.MAX_FIT_CUSTOMERS` (a seeded random sample of it); None when it saw all of them.
    """

    table: pd.DataFrame
    as_of: pd.Timestamp
    trained_at: pd.Timestamp
    model: str
    window: pd.Timedelta
    n_trained: int
    rank_by: str = "risk"
    n_fitted: int | None = None

    @property
    def window_days(self) -> int:
        """The churn window in whole days."""
        return int(self.window / _DAY)


def active_customers(events: pd.DataFrame, *, as_of, window,
                     activity_events: Sequence[str] | None = None) -> pd.Index:
    """Customers with an activity event in ``[as_of − window, as_of)``, sorted.

    Parameters
    ----------
    events : DataFrame or Partitioned
    as_of : str or Timestamp
        End of the window (exclusive).
    window : int, str or Timedelta
        Days, ``"7D"`` or a Timedelta of whole days.
    activity_events : sequence of str, optional
        Events that count as activity (default: every event).

    Returns
    -------
    Index
        ``customer_id``, sorted.

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "b", "b"], "event": ["view", "view", "buy"],
    ...     "timestamp": pd.to_datetime(["2025-01-01 10:00", "2025-01-09 10:00", "2025-01-02 10:00"])})
    >>> list(active_customers(ev, as_of="2025-01-10", window="7D"))
    ['b']
    >>> list(active_customers(ev, as_of="2025-01-10", window=7, activity_events=["buy"]))
    []
    """
    end = pd.Timestamp(as_of)
    start = end - pd.Timedelta(days=_as_window(window))
    if _dist.is_partitioned(events):  # each partition flags its customers; the active ones, sorted
        flags = _dist.per_customer(events, _active_flags, start=start, end=end, activity_events=activity_events)
        return flags.index[flags["active"].to_numpy()]
    return _active(events, start, end, activity_events).sort_values()


def _active(events: pd.DataFrame, start, end, activity_events) -> pd.Index:
    ts = events["timestamp"]
    mask = ((ts >= start) & (ts < end)).to_numpy().copy()
    if activity_events:
        mask &= events["event"].astype(str).isin(list(activity_events)).to_numpy()
    return pd.Index(pd.unique(events["customer_id"].to_numpy()[mask]), name="customer_id")


def _active_flags(part: pd.DataFrame, *, start, end, activity_events) -> pd.DataFrame:
    """Every customer of a partition, flagged when active in ``[start, end)`` (a per-customer kernel: one
    row per customer, so no partition's answer is empty)."""
    ids = pd.Index(pd.unique(part["customer_id"].to_numpy()), name="customer_id")
    return pd.DataFrame({"active": ids.isin(_active(part, start, end, activity_events))}, index=ids)


def _bgnbd_reasons(bg: pd.DataFrame, m, t: float, top_n: int) -> pd.DataFrame:
    """BG/NBD's reasons are its inputs — days since the last active day and repeat active days — each
    listed, as for a feature model, only when setting it to the typical value (the median over ``bg``, the
    customers scored; repeat days only for a customer who has some) lowers that customer's P(no activity in ``t``) from model ``m``; larger drops first."""
    x, tx, T = (bg[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    since = T - tx
    typical_since, typical_x = float(np.median(since)), float(np.median(x))
    p = m.p_no_purchase(t, x, tx, T)
    tx_typ = np.clip(T - typical_since, 0.0, T)  # the last active day moved to the typical distance
    x_typ = np.full_like(x, np.round(typical_x))
    drops = np.column_stack([p - m.p_no_purchase(t, x, np.where(x > 0, tx_typ, tx), T),
                             np.where(x > 0, p - m.p_no_purchase(t, x_typ, np.where(x_typ > 0, tx, 0.0), T), 0.0)])
    drops[~np.isfinite(drops)] = 0.0
    texts = [np.array([f"days since last active day = {d:,.0f} (typical {typical_since:,.0f})" for d in since],
                      dtype=object),
             np.array([f"repeat active days = {v:,.0f} (typical {typical_x:,.0f})" for v in x], dtype=object)]
    order = np.argsort(-drops, axis=1, kind="stable")
    out = pd.DataFrame(index=bg.index)
    rows = np.arange(len(bg))
    for k in range(top_n):
        if k < 2:
            j = order[:, k]
            eff = drops[rows, j]
            pos = eff > 1e-4
            text = np.where(j == 0, texts[0], texts[1])
            out[f"reason_{k + 1}"] = pd.array(np.where(pos, text, None), dtype="str")
            out[f"reason_{k + 1}_effect"] = np.where(pos, eff, np.nan)
        else:
            out[f"reason_{k + 1}"] = pd.array([None] * len(bg), dtype="str")
            out[f"reason_{k + 1}_effect"] = np.nan
    return out


def at_risk_list(
    events: pd.DataFrame,
    plan: WindowPlan,
    *,
    model: str,
    activity_events: Sequence[str] | None = None,
    customers: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    stage_map: StageMap | None = None,
    exclude: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    top_n: int = 3,
    seed: int = 0,
    n_threads: int | None = 1,
    min_class: int = 10,
) -> AtRisk:
    """Refit ``model`` on the latest labelled window and score the customers active now.

    Parameters
    ----------
    events : DataFrame or Partitioned
    plan : WindowPlan
        From :func:`cjlib.churn.plan_window`: ``window`` and ``as_of`` (the data's end) are used;
        the evaluation cutoff is not.
    model : {"gbm", "logistic", "bgnbd", "ensemble"}
        The model validation chose (:attr:`cjlib.churn.ChurnResult.model`); ``"ensemble"`` refits both
        feature models and averages them.
    activity_events, customers, feedback, stage_map, exclude
        As in :func:`cjlib.churn.make_dataset`.
    features : sequence of str, optional
        Candidate reason features (default every column; the top features by importance keep it fast).
    top_n : int, default 3
        Reasons per customer.
    seed, n_threads, min_class
        As in :func:`cjlib.churn.out_of_time_validation`.

    Returns
    -------
    AtRisk
        Ranked by churn probability (``rank_by="risk"``); :func:`add_value` re-ranks by value at risk.

    Raises
    ------
    DataError
        When the latest labelled window has one class or fewer than ``min_class`` of one (rule
        ``single_class`` / ``too_few_per_class``), or nobody was active in the last window (rule
        ``no_active_customers``).
    """
    _dist.release_memory(events)  # what earlier report steps freed: this step's peak starts lower
    window = plan.window_days
    as_of = plan.as_of
    trained_at = as_of - pd.Timedelta(days=window)
    activity = _as_activity(activity_events, events)
    active = active_customers(events, as_of=as_of, window=window, activity_events=activity)
    if len(active) == 0:
        raise DataError(f"no customer was active in the last {window} days before {as_of:%Y-%m-%d}: there is "
                        f"nobody left to keep", column="timestamp", rule="no_active_customers")
    kw = {"activity_events": activity, "customers": customers, "feedback": feedback, "stage_map": stage_map,
          "exclude": exclude}
    rows = None  # the feature model's fitted sample (None: every training customer)
    if model == "bgnbd":
        # fitted on every customer seen before as_of (a fit on the active ones alone would see no dropout)
        bg, fitted = bgnbd_scores(events, cutoff=as_of, window=window, activity_events=activity)
        n_trained = int(bg["has_activity"].sum())
        bg = bg.reindex(active)
        table = pd.DataFrame({"churn_probability": bg["p_no_activity"].to_numpy()}, index=active)
        table = table.join(_bgnbd_reasons(bg, fitted, float(window), top_n))
    else:
        X_tr, y_tr = _labelled(events, "latest labelled", cutoff=trained_at, window=window, min_class=min_class,
                               **kw)
        rows = fit_rows(len(X_tr), seed=seed)  # a large log's training set: a random sample is fitted
        n_trained, layout = len(y_tr), _layout(X_tr)
        if rows is not None:  # only the sample is kept: the training set goes before the scoring set is built
            X_tr, y_tr = X_tr.iloc[rows], y_tr.iloc[rows]
        with _threads(n_threads):
            pipe = make_model(model, X_tr, seed=seed).fit(X_tr, y_tr)
        del X_tr, y_tr
        _dist.release_memory(events)
        X_now = _align_to(features_at(events, as_of=as_of, window=window, keep=active, **kw), layout)
        cols = [f for f in (features or layout[0]) if f in X_now.columns]
        table = _risk_table(pipe, X_now, top_n=top_n, features=cols, n_threads=n_threads)
    table = _ranked(table, "churn_probability")
    _dist.release_memory(events)
    return AtRisk(table=table, as_of=as_of, trained_at=trained_at, model=model, window=plan.window,
                  n_trained=n_trained, n_fitted=None if rows is None else len(rows))


def _risk_table(pipe, X: pd.DataFrame, **kw) -> pd.DataFrame:
    """:func:`cjlib.churn.risk_table` (without ``risk_decile``) in blocks of
    :data:`~cjlib.churn.models.PREDICT_ROWS` customers, the typical values taken from all of ``X``.

    Each reason perturbs a copy of the customers scored; a block at a time, only one block's copy exists.
    A customer's probability and reasons depend on their own row and the typical values only, and the
    blocks stand in ``X``'s order, so :func:`_ranked` gives the one-call ranking (ties too).
    """
    blocks = [risk_table(pipe, X.iloc[i:i + PREDICT_ROWS], reference=X, **kw).drop(columns="risk_decile")
              for i in range(0, len(X), PREDICT_ROWS)]
    return pd.concat(blocks) if len(blocks) > 1 else blocks[0]


def _ranked(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """Risk rank and decile (1 = highest probability), sorted by ``by`` descending (ties: higher risk first)."""
    p = table["churn_probability"]
    rank = p.rank(ascending=False, method="first").astype(np.int64)
    table = table.assign(risk_rank=rank, risk_decile=((rank - 1) * 10 // len(table) + 1).astype(np.int64))
    table = table.sort_values([by, "churn_probability"] if by != "churn_probability" else [by],
                              ascending=False, kind="stable")
    table.index.name = "customer_id"
    return table


@dataclass(frozen=True)
class ValueFit:
    """Customer value as of the data's end (:func:`add_value`).

    Attributes
    ----------
    bgnbd : BGNBD
        Fitted on the purchase occasions (days with revenue) before ``as_of``.
    gamma_gamma : cjlib.value.GammaGamma
        Fitted on the repeat buyers' mean spend per repeat occasion (repeat buyers whose repeat occasions
        all had zero revenue are left out of the fit, as lifetimes does; they are still valued).
    customers : DataFrame
        Every customer with a purchase before ``as_of``: :func:`cjlib.value.customer_value` columns plus
        ``frequency`` and ``monetary_value``.
    horizon : Timedelta
        The value horizon (:attr:`horizon_days` is its length in days, as metrics.json records it).
    discount_rate : float
    correlation : float
        Spend–frequency correlation among repeat buyers (Gamma-Gamma assumes none; NaN if undefined).
    purchase_events : list of str
        The events whose revenue makes the occasions.
    """

    bgnbd: BGNBD
    gamma_gamma: object
    customers: pd.DataFrame
    horizon: pd.Timedelta
    discount_rate: float
    correlation: float
    purchase_events: list

    @property
    def horizon_days(self) -> int | float:
        """The value horizon in days (an int when whole)."""
        days = self.horizon / _DAY
        return int(days) if float(days).is_integer() else float(days)

    def summary(self) -> dict:
        """Fitted parameters with standard errors, for metrics.json."""
        return {"bgnbd": {**self.bgnbd.params, "time_unit": self.bgnbd.time_unit,
                          "standard_errors": dict(self.bgnbd.standard_errors)},
                "gamma_gamma": {**self.gamma_gamma.params, "standard_errors": dict(self.gamma_gamma.standard_errors)},
                "horizon_days": self.horizon_days, "discount_rate": self.discount_rate,
                "spend_frequency_correlation": None if self.correlation != self.correlation else self.correlation,
                "purchase_events": list(self.purchase_events)}


def fit_value(events: pd.DataFrame, *, as_of, horizon=365, discount_rate: float = 0.1) -> ValueFit:
    """Fit BG/NBD and Gamma-Gamma on the purchase occasions before ``as_of`` and value every buyer.

    A purchase occasion is a customer's day with positive revenue (from the events that carry revenue).

    Parameters
    ----------
    events : DataFrame or Partitioned
    as_of : str or Timestamp
        Only purchase occasions before it count (the data's end, :attr:`cjlib.churn.WindowPlan.as_of`).
    horizon : float, str or Timedelta, default 365
        How far ahead value counts: days, ``"365D"`` or a Timedelta (:func:`cjlib.value.horizon_days`).
    discount_rate : float, default 0.1
        Yearly discount rate of the CLV.

    Returns
    -------
    ValueFit

    Raises
    ------
    ValueError
        A plain sentence when the log has no revenue or too few repeat buyers for the spend model.
    """
    from cjlib.bgnbd import fit_bgnbd
    from cjlib.value import (
        customer_value,
        fit_gamma_gamma,
        horizon_days,
        spend_frequency_correlation,
        spend_summary,
    )

    if "revenue" not in _dist.columns(events):
        raise ValueError("the log has no revenue, so customer value cannot be estimated")
    cut = pd.Timestamp(as_of)
    _dist.release_memory(events)  # what earlier report steps freed: this step's peak starts lower
    no_paid = "no event before the data's end carries revenue, so customer value cannot be estimated"
    if _dist.is_partitioned(events):  # the partitions' paid events and spend summaries
        counts = _dist.run(events, _paid_events, reduce="sum", cut=cut)
        if counts is None:
            raise ValueError(no_paid)
        purchase_events = sorted(counts.index.astype(str))
        summ = _dist.per_customer(events, _paid_spend, cut=cut)
    else:
        ev = _paid(events, cut)
        if len(ev) == 0:
            raise ValueError(no_paid)
        purchase_events = sorted(pd.unique(ev["event"].astype(str).to_numpy()))
        summ = spend_summary(ev, cutoff=cut, observation_end="last_day")
    bg = fit_bgnbd(summ["frequency"], summ["recency"], summ["T"], time_unit="days")
    spends = summ[(summ["frequency"] > 0) & (summ["monetary_value"] > 0)]  # repeat buyers who paid something
    gg = fit_gamma_gamma(spends["frequency"], spends["monetary_value"])
    val = customer_value(bg, gg, summ, horizon=horizon, discount_rate=discount_rate)
    val = summ[["frequency", "monetary_value"]].join(val)
    _dist.release_memory(events)
    return ValueFit(bgnbd=bg, gamma_gamma=gg, customers=val, horizon=pd.Timedelta(days=horizon_days(horizon)),
                    discount_rate=float(discount_rate), correlation=spend_frequency_correlation(summ),
                    purchase_events=purchase_events)


def _paid(events: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    """The events before ``cut`` with positive revenue (missing or unreadable revenue counts as none)."""
    rev = pd.to_numeric(events["revenue"], errors="coerce").fillna(0.0)
    paid = (rev > 0).to_numpy() & (events["timestamp"] < cut).to_numpy()
    return events.loc[paid, ["customer_id", "timestamp", "event"]].assign(revenue=rev[paid].to_numpy())


def _paid_events(part: pd.DataFrame, *, cut: pd.Timestamp) -> pd.DataFrame:
    """How many paid events of each name one partition holds (summed over partitions)."""
    names = _paid(part, cut)["event"].astype(str)
    return names.value_counts().rename_axis("event").to_frame("count")


def _paid_spend(part: pd.DataFrame, *, cut: pd.Timestamp) -> pd.DataFrame:
    """One partition's :func:`cjlib.value.spend_summary` of its paid events (a per-customer kernel)."""
    from cjlib.value import spend_summary

    ev = _paid(part, cut)
    if len(ev) == 0:
        return pd.DataFrame(index=pd.Index([], name="customer_id"))
    return spend_summary(ev, cutoff=cut, observation_end="last_day")


def add_value(at_risk: AtRisk, fit: ValueFit, *, rank_by: str = "value_at_risk") -> AtRisk:
    """Join customer value to the list and rank it by value at risk (or by risk).

    Customers on the list with no purchase before ``as_of`` have no value of their own: their value if
    active is the expected value of a new buyer is *not* assumed — it is 0 (they have bought nothing yet)
    and their value at risk is 0.

    Parameters
    ----------
    at_risk : AtRisk
    fit : ValueFit
    rank_by : {"value_at_risk", "risk"}, default "value_at_risk"

    Returns
    -------
    AtRisk
        ``table`` gains ``expected_value``, ``clv``, ``value_if_active``, ``value_at_risk`` and
        ``value_rank`` (1 = most value at risk) and is sorted by ``rank_by``.
    """
    from cjlib.value import value_at_risk

    check_choice("rank_by", rank_by, RANK_BY)
    t = at_risk.table.drop(columns=[c for c in ("expected_value", "clv", "value_if_active", "value_at_risk",
                                                "value_rank") if c in at_risk.table.columns])
    v = fit.customers.reindex(t.index)[["expected_value", "clv", "value_if_active"]].fillna(0.0)
    t = t.join(v)
    t["value_at_risk"] = value_at_risk(t["churn_probability"], t["value_if_active"])
    t["value_rank"] = t["value_at_risk"].rank(ascending=False, method="first").astype(np.int64)
    t = _ranked(t, "value_at_risk" if rank_by == "value_at_risk" else "churn_probability")
    return AtRisk(table=t, as_of=at_risk.as_of, trained_at=at_risk.trained_at, model=at_risk.model,
                  window=at_risk.window, n_trained=at_risk.n_trained, rank_by=rank_by, n_fitted=at_risk.n_fitted)


def ranking_overlap(table: pd.DataFrame, *, top: int | None = None) -> dict:
    """How the top ``top`` by value at risk differ from the top ``top`` by risk.

    Parameters
    ----------
    table : DataFrame
        :attr:`AtRisk.table` after :func:`add_value`.
    top : int, optional
        Customers compared (default: the riskiest tenth, counted as the decile table counts it: the
        customers of ``risk_decile`` 1).

    Returns
    -------
    dict
        ``top``, ``shared`` (customers in both), ``value_share_by_value`` and ``value_share_by_risk``
        (share of the list's total value at risk the two top groups hold; None when the total is 0).
    """
    if top is None:
        top = int((table["risk_decile"] == 1).sum())
    top = int(min(top, len(table)))
    by_value = table.nsmallest(top, "value_rank").index
    by_risk = table.nsmallest(top, "risk_rank").index
    total = float(table["value_at_risk"].sum())
    out = {"top": top, "shared": int(len(by_value.intersection(by_risk))), "value_share_by_value": None,
           "value_share_by_risk": None}
    if total > 0:
        out["value_share_by_value"] = float(table.loc[by_value, "value_at_risk"].sum()) / total
        out["value_share_by_risk"] = float(table.loc[by_risk, "value_at_risk"].sum()) / total
    return out


def summary_by(table: pd.DataFrame, by: pd.Series | str = "risk_decile") -> pd.DataFrame:
    """The list summarized per group: risk decile (default) or a label per customer (e.g. persona).

    Parameters
    ----------
    table : DataFrame
        :attr:`AtRisk.table`.
    by : str or Series
        A column of ``table``, or labels indexed by ``customer_id`` (customers without one are
        ``"unknown"``).

    Returns
    -------
    DataFrame
        Per group: ``customers``, ``mean_probability``, ``top_reason`` (the most frequent first reason's
        feature, "–" when none) and, when the table has value, ``value_at_risk`` (sum) and
        ``value_at_risk_share``; groups sorted by name (deciles 1…10).

    Examples
    --------
    >>> t = pd.DataFrame({"churn_probability": [0.9, 0.8, 0.1], "risk_decile": [1, 1, 2],
    ...                   "reason_1": ["recency_days = 90 (typical 20)", None, None]}, index=["a", "b", "c"])
    >>> summary_by(t)[["customers", "top_reason"]].to_dict("list")
    {'customers': [2, 1], 'top_reason': ['recency_days', '–']}
    """
    key = table[by] if isinstance(by, str) else by.reindex(table.index).astype(object).fillna("unknown").astype(str)
    name = by if isinstance(by, str) else (by.name or "group")
    feature = table["reason_1"].astype(object).where(table["reason_1"].notna()).str.split(" = ").str[0] \
        if "reason_1" in table else pd.Series(None, index=table.index, dtype=object)
    df = pd.DataFrame({"g": key.to_numpy(), "p": table["churn_probability"].to_numpy(),
                       "f": feature.to_numpy()}, index=table.index)
    if "value_at_risk" in table:
        df["v"] = table["value_at_risk"].to_numpy()
    g = df.groupby("g", sort=True)
    out = pd.DataFrame({"customers": g.size(), "mean_probability": g["p"].mean(),
                        "top_reason": g["f"].agg(lambda s: s.dropna().mode().iat[0] if s.notna().any() else "–")})
    if "v" in df:
        out["value_at_risk"] = g["v"].sum()
        total = float(df["v"].sum())
        out["value_at_risk_share"] = out["value_at_risk"] / total if total > 0 else np.nan
    out.index.name = name
    return out


def at_risk_list_or_reason(events: pd.DataFrame, plan: WindowPlan, **kw) -> tuple[AtRisk | None, str | None]:
    """:func:`at_risk_list` for a report: the list, or ``None`` and the sentence saying why there is none.

    Parameters
    ----------
    events : DataFrame or Partitioned
    plan : WindowPlan
    **kw
        As :func:`at_risk_list` (``model`` is required).

    Returns
    -------
    (AtRisk, None) or (None, str)
        The sentence is the ``DataError``'s message (e.g. nobody was active in the last window).
    """
    return _or_reason(at_risk_list, events, plan, **kw)


def fit_value_or_reason(inputs, plan: WindowPlan | None, *, horizon=365,
                        discount_rate: float = 0.1) -> tuple[ValueFit | None, str | None]:
    """:func:`fit_value` as of the plan's data end, or ``None`` and the sentence saying why not.

    Parameters
    ----------
    inputs : Inputs
        The loaded inputs (``events`` and the data ``profile``, which says whether revenue is usable).
    plan : WindowPlan or None
        ``None`` when no churn window fits the log (the value section is then left out too).
    horizon, discount_rate
        As :func:`fit_value`.

    Returns
    -------
    (ValueFit, None) or (None, str)
    """
    if plan is None:
        return None, "no churn window fits this log (the reason is given under the label definition)."
    if not inputs.profile.supports("revenue"):
        return None, inputs.profile.why_not("revenue")
    # BG/NBD purchases × Gamma-Gamma spend, fitted on the purchase days before the data's end
    return _or_reason(fit_value, inputs.events, as_of=plan.as_of, horizon=horizon, discount_rate=discount_rate,
                      errors=ValueError)


EXAMPLE_COLUMNS = ("churn_probability", "value_at_risk", "reason_1", "reason_2")


def examples(table: pd.DataFrame, *, n: int = 5) -> pd.DataFrame:
    """The first ``n`` customers of the list under pseudonyms, with their probability, value and reasons.

    Parameters
    ----------
    table : DataFrame
        :attr:`AtRisk.table`.
    n : int, default 5

    Returns
    -------
    DataFrame
        Index ``customer (pseudonym)`` (:func:`cjlib.report.pseudonymize`): the columns of
        :data:`EXAMPLE_COLUMNS` the table has.

    Examples
    --------
    >>> t = pd.DataFrame({"churn_probability": [0.9, 0.2], "reason_1": ["x = 1 (typical 0)", None]},
    ...                  index=pd.Index(["a", "b"], name="customer_id"))
    >>> ex = examples(t, n=1)
    >>> list(ex.columns), ex.index.name, "a" in ex.index
    (['churn_probability', 'reason_1'], 'customer (pseudonym)', False)
    """
    from cjlib.report import pseudonymize

    out = table.head(n)[[c for c in EXAMPLE_COLUMNS if c in table]].copy()
    out.index = pd.Index(pseudonymize(out.index).to_numpy(), name="customer (pseudonym)")
    return out
