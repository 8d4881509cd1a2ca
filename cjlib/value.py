"""Customer value: the Gamma-Gamma spend model beside BG/NBD, expected value, CLV and value at risk.

BG/NBD (:mod:`cjlib.bgnbd`) predicts how many purchases a customer will make; the Gamma-Gamma model of
Fader, Hardie & Lee (2005) predicts how much each will be worth. A customer's spends per occasion vary
around a personal mean: ``z ~ Gamma(p, ν)`` with ``ν ~ Gamma(q, γ)`` across customers, so the population
mean spend is ``p·γ / (q − 1)`` and a customer's expected spend is a weighted average of that mean and
their own observed mean ``z̄`` over ``x`` repeat purchases:
``E[M | x, z̄] = p·(γ + x·z̄) / (p·x + q − 1)``. The model assumes the spend does not depend on how often
a customer buys; :func:`spend_frequency_correlation` measures how far the data agree.

:func:`spend_summary` adds the mean repeat spend to :func:`cjlib.bgnbd.rfm_summary`;
:func:`fit_gamma_gamma` fits the spend model by maximum likelihood; :func:`customer_value` combines both
models into expected purchases, expected value, discounted CLV and the value if the customer stays
active; :func:`value_at_risk` weighs that value by a churn probability.

Reference: P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), RFM and CLV: using iso-value curves for
customer base analysis, *Journal of Marketing Research* 42(4), 415–430, and the note "The Gamma-Gamma
model of monetary value" (Fader & Hardie, 2013). On the 946 repeat buyers of the 2,357-customer CDNOW
sample they report p = 6.25, q = 3.74, γ = 15.44; ``tests/test_value.py`` reproduces them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from cjlib.bgnbd import (
    BGNBD,
    TIME_UNITS,
    FittedParams,
    _is_partitioned,
    positive_mle,
    rfm_summary,
    unknown_errors,
)
from cjlib.validation import duration

__all__ = ["MIN_REPEAT_CUSTOMERS", "GammaGamma", "customer_value", "fit_gamma_gamma", "horizon_days",
           "spend_frequency_correlation", "spend_summary", "value_at_risk"]

MIN_REPEAT_CUSTOMERS = 20
_GG_PARAMS = ("p", "q", "gamma")
STEP_DAYS = 30


def _spend_arrays(frequency, monetary_value) -> tuple[np.ndarray, np.ndarray]:
    """``(x, z̄)`` as float arrays, checked; ``z̄`` is set to 0 where ``x = 0`` (it is not used there)."""
    x, m = np.broadcast_arrays(np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float))
    if not np.isfinite(x).all() or (x < 0).any() or (np.abs(x - np.round(x)) > 1e-9).any():
        raise ValueError("frequency (x, repeat purchases) must be non-negative integers")
    rep = x > 0
    if not np.isfinite(m[rep]).all():
        raise ValueError("monetary_value must be a finite number for every customer with a repeat purchase")
    if (m[rep] < 0).any():
        raise ValueError("monetary_value (mean spend per repeat purchase) must not be negative")
    return x, np.where(rep, m, 0.0)


def _gg_ll_terms(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per-customer log-density of the mean spend ``z̄`` of ``x > 0`` purchases (Fader & Hardie 2013)."""
    p, q, gamma = params
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(gamma)
            + (px - 1.0) * np.log(m) + px * np.log(x) - (px + q) * np.log(gamma + x * m))


@dataclass(frozen=True)
class GammaGamma(FittedParams):
    """A fitted Gamma-Gamma spend model.

    Attributes
    ----------
    p : float
        Shape of the Gamma distribution of one purchase's spend around a customer's mean.
    q, gamma : float
        Shape and rate of the Gamma heterogeneity of the spend scale ν across customers.
    log_likelihood : float
        Maximized log-likelihood.
    n_customers : int
        Customers the model was fitted on (those with a repeat purchase).
    converged : bool
        Whether the optimizer reported success.
    standard_errors : dict of str to float
        Asymptotic standard errors of ``p``, ``q``, ``gamma`` from the inverse Hessian of the negative
        log-likelihood (NaN when it is not positive definite, and by default for a model built by hand).
    """

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: int
    converged: bool
    standard_errors: dict[str, float] = unknown_errors(_GG_PARAMS)

    PARAM_NAMES = _GG_PARAMS  # params: {"p", "q", "gamma"}

    @property
    def mean_spend(self) -> float:
        """Population mean spend per purchase, ``p·γ / (q − 1)``; NaN when ``q ≤ 1`` (no finite mean)."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else float("nan")

    def conditional_expected_spend(self, frequency, monetary_value) -> np.ndarray:
        """E[spend per purchase | x, z̄] = p·(γ + x·z̄) / (p·x + q − 1).

        A credibility-weighted average of the population mean (weight ``(q − 1) / (p·x + q − 1)``) and the
        customer's own mean repeat spend ``z̄``; customers with ``x = 0`` get the population mean
        (:attr:`mean_spend`) whatever their ``monetary_value``.

        Parameters
        ----------
        frequency : array-like
            Repeat purchases ``x``.
        monetary_value : array-like
            Mean spend per repeat purchase ``z̄`` (ignored where ``x = 0``).

        Returns
        -------
        ndarray
            Expected spend of each customer's next purchases; NaN where ``p·x + q ≤ 1``.

        Examples
        --------
        >>> gg = GammaGamma(p=6.25, q=3.74, gamma=15.44, log_likelihood=float("nan"), n_customers=946,
        ...                 converged=True)
        >>> [round(float(v), 2) for v in gg.conditional_expected_spend([0, 2], [0.0, 30.0])]
        [35.22, 30.94]
        """
        x, m = _spend_arrays(frequency, monetary_value)
        den = self.p * x + self.q - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, self.p * (self.gamma + x * m) / np.where(den > 0, den, 1.0), np.nan)


def fit_gamma_gamma(frequency, monetary_value, *, x0: Sequence[float] | None = None) -> GammaGamma:
    """Fit the Gamma-Gamma spend model by maximum likelihood on the customers with a repeat purchase.

    Parameters
    ----------
    frequency : array-like
        Repeat purchases ``x`` per customer; customers with ``x = 0`` are left out of the fit.
    monetary_value : array-like
        Mean spend per repeat purchase ``z̄`` (as :func:`spend_summary` gives it).
    x0 : sequence of 3 floats, optional
        Starting ``(p, q, gamma)`` (default ``(1, 2, mean z̄)``).

    Returns
    -------
    GammaGamma
        The fitted model, with Hessian standard errors.

    Raises
    ------
    ValueError
        When fewer than :data:`MIN_REPEAT_CUSTOMERS` (20) customers have a repeat purchase, or when some
        of them have a mean spend of zero or less (the model is for positive spends: drop or correct
        them first), or on bad ``frequency`` values.

    Notes
    -----
    The negative log-likelihood is minimized over ``log(p, q, gamma)`` with L-BFGS-B and polished with
    Nelder–Mead, as in :func:`cjlib.bgnbd.fit_bgnbd`.
    """
    x, m = _spend_arrays(frequency, monetary_value)
    x, m = x.ravel(), m.ravel()
    rep = x > 0
    if rep.sum() < MIN_REPEAT_CUSTOMERS:
        raise ValueError(f"The Gamma-Gamma spend model needs at least {MIN_REPEAT_CUSTOMERS} customers with a "
                         f"repeat purchase; this data has {int(rep.sum())}.")
    if (m[rep] <= 0).any():
        raise ValueError(f"{int((m[rep] <= 0).sum())} customers with a repeat purchase have a mean spend of "
                         f"zero or less; the Gamma-Gamma spend model needs positive spends.")
    x, m = x[rep], m[rep]

    start = x0 if x0 is not None else [1.0, 2.0, float(m.mean())]
    est, minimum, converged, se = positive_mle(lambda prm: -_gg_ll_terms(prm, x, m).sum(), start)
    p, q, gamma = (float(v) for v in est)
    return GammaGamma(p=p, q=q, gamma=gamma, log_likelihood=-minimum, n_customers=len(x), converged=converged,
                      standard_errors={k: float(v) for k, v in zip(_GG_PARAMS, se)})


def spend_summary(
    events: pd.DataFrame,
    *,
    cutoff: str | pd.Timestamp,
    activity_events: Sequence[str] | None = None,
    customer_ids: Sequence | pd.Index | None = None,
    time_unit: str = "days",
    observation_end: str = "cutoff",
) -> pd.DataFrame:
    """:func:`cjlib.bgnbd.rfm_summary` plus each customer's mean spend per repeat purchase occasion.

    An occasion is a calendar day with an activity event, as in :func:`~cjlib.bgnbd.rfm_summary`; its
    spend is the sum of ``revenue`` over that day's activity events (missing revenue counts as 0). As in
    Fader, Hardie & Lee (2005) the first occasion is left out, so ``monetary_value`` is the mean over the
    ``x`` repeat occasions, and 0 for customers with ``x = 0``.

    Parameters
    ----------
    events : DataFrame or Partitioned
        Event log with ``customer_id``, ``timestamp``, ``event`` and a numeric ``revenue``; a log shuffled by
        customer (:class:`cjlib.engine.Partitioned`) is summarized partition by partition.
    cutoff : str or Timestamp
        Only events strictly before it are used.
    activity_events : sequence of str, optional
        Events that count as purchase occasions (default: every event).
    customer_ids : sequence, optional
        Rows to return, in this order (default: every customer with an event before ``cutoff``, sorted).
    time_unit : {"days", "weeks"}, default "days"
        Unit of ``recency`` and ``T``.
    observation_end : {"cutoff", "last_day"}, default "cutoff"
        Where ``T`` ends (see :func:`~cjlib.bgnbd.rfm_summary`).

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``: ``frequency``, ``recency``, ``T``, ``has_activity`` and
        ``monetary_value``.

    Raises
    ------
    ValueError
        When ``events`` has no numeric ``revenue`` column.

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...                    "timestamp": pd.to_datetime(["2025-01-01", "2025-01-03", "2025-01-03", "2025-01-02"]),
    ...                    "event": "purchase", "revenue": [50.0, 10.0, 20.0, 5.0]})
    >>> spend_summary(ev, cutoff="2025-01-10")[["frequency", "monetary_value"]]
                 frequency  monetary_value
    customer_id
    a                    1            30.0
    b                    0             0.0
    """
    if _is_partitioned(events):
        return _spend_on_partitions(events, cutoff=cutoff, activity_events=activity_events,
                                    customer_ids=customer_ids, time_unit=time_unit,
                                    observation_end=observation_end)
    if "revenue" not in events.columns:
        raise ValueError("spend_summary needs a revenue column in the events; this log has none.")
    if not pd.api.types.is_numeric_dtype(events["revenue"]):
        raise ValueError("the revenue column must hold numbers")
    out = rfm_summary(events, cutoff=cutoff, activity_events=activity_events, time_unit=time_unit,
                      customer_ids=customer_ids, observation_end=observation_end)
    ev = events.loc[(events["timestamp"] < pd.Timestamp(cutoff)).to_numpy(),
                    ["customer_id", "timestamp", "event", "revenue"]]
    if activity_events is not None:
        ev = ev[ev["event"].astype(str).isin(list(activity_events)).to_numpy()]
    daily = (pd.DataFrame({"customer_id": ev["customer_id"].to_numpy(),
                           "day": ev["timestamp"].dt.floor("D").to_numpy(),
                           "revenue": ev["revenue"].to_numpy(dtype=float, na_value=np.nan)})
             .groupby(["customer_id", "day"], sort=True, observed=True)["revenue"].sum())
    g = daily.groupby(level="customer_id", sort=True, observed=True)
    n = g.size()
    repeat_total = g.sum() - g.first()  # days are sorted within a customer: first() is the first occasion
    mean = (repeat_total / (n - 1)).where(n > 1, 0.0)
    out["monetary_value"] = mean.reindex(out.index).to_numpy()
    out.loc[out["frequency"].eq(0).to_numpy(), "monetary_value"] = 0.0
    return out


def _spend_on_partitions(events, *, cutoff, customer_ids, **kw) -> pd.DataFrame:
    """:func:`spend_summary` of a Partitioned log: each partition's customers, in customer order."""
    from cjlib.churn.distributed import per_customer

    revenue = events.ddf.dtypes.get("revenue")
    if revenue is None:
        raise ValueError("spend_summary needs a revenue column in the events; this log has none.")
    if not pd.api.types.is_numeric_dtype(revenue):
        raise ValueError("the revenue column must hold numbers")
    out = per_customer(events, spend_summary, cutoff=cutoff, **kw)
    return out if customer_ids is None else out.reindex(pd.Index(customer_ids, name="customer_id"))


def _check_rate(name: str, value: float, *, low: float, inclusive: bool) -> float:
    value = float(value)
    ok = np.isfinite(value) and (value >= low if inclusive else value > low)
    if not ok:
        raise ValueError(f"{name} must be a finite number {'>=' if inclusive else '>'} {low}, got {value!r}")
    return value


def horizon_days(horizon) -> float:
    """A value horizon in days: a number of days (int or float), ``"365D"`` or a Timedelta; > 0.

    Parameters
    ----------
    horizon : int, float, str or Timedelta
        The horizon; zero, negative or not a duration raises ``ValueError``.

    Returns
    -------
    float
        The horizon in days.

    Examples
    --------
    >>> horizon_days(365), horizon_days("26W"), horizon_days(pd.Timedelta(hours=36))
    (365.0, 182.0, 1.5)
    """
    if isinstance(horizon, (int, float, np.integer, np.floating)) and not isinstance(horizon, bool):
        return _check_rate("horizon", horizon, low=0.0, inclusive=False)
    td = duration("horizon", horizon, allow_none=False, positive=True)
    return td / pd.Timedelta(days=1)


def customer_value(bgnbd: BGNBD, gamma_gamma: GammaGamma, summary: pd.DataFrame, *, horizon=365,
                   discount_rate: float = 0.1) -> pd.DataFrame:
    """Expected purchases, spend, value and discounted CLV per customer over a horizon.

    Parameters
    ----------
    bgnbd : BGNBD
        Fitted purchase model; ``summary``'s ``recency`` and ``T`` must be in its ``time_unit``.
    gamma_gamma : GammaGamma
        Fitted spend model.
    summary : DataFrame
        :func:`spend_summary` output (``frequency``, ``recency``, ``T``, ``monetary_value``), finite values.
        Every row is valued as a customer whose first purchase started at time zero.
    horizon : float, str or Timedelta, default 365
        Length of the future window: days (a number), ``"365D"`` or a Timedelta (:func:`horizon_days`).
    discount_rate : float, default 0.1
        Annual discount rate for ``clv``.

    Returns
    -------
    DataFrame
        Indexed like ``summary``:

        - ``p_alive`` — BG/NBD P(alive at T);
        - ``expected_purchases`` — BG/NBD expected purchases in the horizon;
        - ``expected_spend`` — Gamma-Gamma expected spend per purchase;
        - ``expected_value`` — ``expected_purchases × expected_spend``, undiscounted;
        - ``clv`` — the same, discounted: the horizon is cut into 30-day steps (the last one shorter when
          the horizon is not a multiple of 30 days), step ``i = 1, 2, …`` brings its expected purchases ×
          ``expected_spend`` / (1 + monthly rate) ** i, with monthly rate = (1 + ``discount_rate``) ** (1/12)
          − 1 — each 30-day step counts as one month, as in lifetimes' ``customer_lifetime_value``;
        - ``value_if_active`` — expected purchases *given the customer is alive at T*
          (:meth:`~cjlib.bgnbd.BGNBD.expected_purchases_if_alive`) × ``expected_spend``, undiscounted: what
          keeping the customer is worth (see :func:`value_at_risk`).

    Raises
    ------
    ValueError
        On a non-positive ``horizon``, a ``discount_rate`` below 0, or missing or bad summary values.
    """
    days = horizon_days(horizon)
    discount_rate = _check_rate("discount_rate", discount_rate, low=0.0, inclusive=True)
    missing = [c for c in ("frequency", "recency", "T", "monetary_value") if c not in summary.columns]
    if missing:
        raise ValueError(f"summary lacks the column(s) {missing}; build it with spend_summary")
    unit = TIME_UNITS[bgnbd.time_unit]
    x, t_x, T = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    spend = gamma_gamma.conditional_expected_spend(x, summary["monetary_value"].to_numpy(dtype=float))
    purchases = bgnbd.expected_purchases(days / unit, x, t_x, T)
    # discounted: expected purchases in each 30-day step
    ends = np.minimum(np.arange(1, int(np.ceil(days / STEP_DAYS)) + 1) * STEP_DAYS, days)
    monthly = (1.0 + discount_rate) ** (1.0 / 12.0) - 1.0
    clv = np.zeros(len(x))
    before = np.zeros(len(x))
    for i, end in enumerate(ends, start=1):
        cum = bgnbd.expected_purchases(end / unit, x, t_x, T)
        clv += (cum - before) / (1.0 + monthly) ** i
        before = cum
    return pd.DataFrame({
        "p_alive": bgnbd.p_alive(x, t_x, T),
        "expected_purchases": purchases,
        "expected_spend": spend,
        "expected_value": purchases * spend,
        "clv": clv * spend,
        "value_if_active": bgnbd.expected_purchases_if_alive(days / unit, x, t_x, T) * spend,
    }, index=summary.index)


def value_at_risk(churn_probability, value_if_active) -> pd.Series:
    """Value at risk = P(churn) × the customer's value if they stay active.

    BG/NBD's ``expected_value`` already discounts for dropout: it is P(alive) × (value if alive). Churn
    probability measures the same dropout, so P(churn) × ``expected_value`` would count the loss twice
    (a customer the model deems probably gone would count as having little value *and* little risk). What
    a retention team stands to lose by letting a customer go is the value they would bring if kept, so we
    weigh ``value_if_active`` (:func:`customer_value`) by the probability of losing it.

    Parameters
    ----------
    churn_probability : array-like or Series
        P(churn) per customer, in [0, 1].
    value_if_active : array-like or Series
        Value if the customer stays active, same customers in the same order (or a Series on the same
        index).

    Returns
    -------
    Series
        ``value_at_risk``, on the index of whichever input is a Series (a RangeIndex if neither is).

    Raises
    ------
    ValueError
        When the lengths or Series indexes differ, a probability is outside [0, 1] or missing, or a value
        is missing.

    Examples
    --------
    >>> value_at_risk(pd.Series([0.5, 0.1], index=["a", "b"]), [100.0, 300.0]).tolist()
    [50.0, 30.0]
    """
    series = [v for v in (churn_probability, value_if_active) if isinstance(v, pd.Series)]
    if len(series) == 2 and not series[0].index.equals(series[1].index):
        raise ValueError("churn_probability and value_if_active must have the same index")
    prob = np.asarray(churn_probability, dtype=float).ravel()
    val = np.asarray(value_if_active, dtype=float).ravel()
    if prob.shape != val.shape:
        raise ValueError(f"churn_probability has {len(prob)} values and value_if_active {len(val)}")
    if not (np.isfinite(prob).all() and ((prob >= 0) & (prob <= 1)).all()):
        raise ValueError("churn_probability must be a probability in [0, 1] for every customer")
    if not np.isfinite(val).all():
        raise ValueError("value_if_active must be a finite number for every customer")
    return pd.Series(prob * val, index=series[0].index if series else None, name="value_at_risk")


def spend_frequency_correlation(summary: pd.DataFrame) -> float:
    """Pearson correlation of ``frequency`` and ``monetary_value`` among customers with a repeat purchase.

    The Gamma-Gamma model assumes a customer's spend per purchase is independent of how often they buy;
    a correlation near 0 is consistent with that (Fader, Hardie & Lee report 0.11 on CDNOW).

    Parameters
    ----------
    summary : DataFrame
        One row per customer with ``frequency`` (repeat purchases) and ``monetary_value`` (mean spend
        per repeat purchase), as from :func:`spend_summary`.

    Returns
    -------
    float
        The correlation, NaN with fewer than 3 repeat customers or when either column is constant among
        them.
    """
    rep = summary.loc[summary["frequency"].to_numpy() > 0, ["frequency", "monetary_value"]].astype(float)
    if len(rep) < 3 or rep["frequency"].nunique() < 2 or rep["monetary_value"].nunique() < 2:
        return float("nan")
    return float(np.corrcoef(rep["frequency"], rep["monetary_value"])[0, 1])
