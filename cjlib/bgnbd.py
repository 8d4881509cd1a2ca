"""The BG/NBD customer-base model (Fader, Hardie & Lee 2005), fitted by maximum likelihood.

A customer buys as a Poisson process with rate λ ~ Gamma(r, α) while alive and, after each purchase,
drops out with probability p ~ Beta(a, b). Each customer is summarized by ``x`` (repeat purchases after
the first), ``t_x`` (time of the last purchase, from the first) and ``T`` (time from the first purchase
to the end of observation), all in one time unit.

:func:`fit_bgnbd` maximizes the closed-form log-likelihood (``scipy.special.gammaln``, optimized over
log-parameters) and attaches standard errors from the Hessian (:func:`hessian_standard_errors`). The
fitted :class:`BGNBD` gives P(alive), expected purchases in a future window (also given alive) and the
probability of **no** purchase in that window, which is the churn score we use. Raw P(alive) ranks
one-time buyers badly: with ``x = 0`` the model says P(alive) = 1 (in BG/NBD nobody drops out
before a repeat purchase), so a one-time buyer seen a year ago outranks a frequent buyer who paused.
P(no purchase in the window) combines P(alive) with the posterior purchase rate and ranks them sensibly.

:func:`rfm_summary` turns an event log into ``(x, t_x, T)`` at a cutoff; with
``observation_end="last_day"`` it is lifetimes' ``summary_data_from_transaction_data(..., freq="D",
observation_period_end=<the last day before the cutoff>)`` (checked on the CDNOW master log,
``tests/data/cdnow/README.md``).

Reference: P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), "Counting your customers" the easy way: an
alternative to the Pareto/NBD model, *Marketing Science* 24(2), 275–284. On the 2,357-customer CDNOW
sample (39-week calibration) they report r = 0.243, α = 4.414, a = 0.793, b = 2.426;
``tests/test_churn.py`` reproduces them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special

from cjlib.validation import check_choice

__all__ = ["BGNBD", "OBSERVATION_ENDS", "TIME_UNITS", "FittedParams", "bgnbd_log_likelihood", "fit_bgnbd",
           "hessian_standard_errors", "positive_mle", "rfm_summary", "unknown_errors"]

TIME_UNITS = {"days": 1.0, "weeks": 7.0}
OBSERVATION_ENDS = ("cutoff", "last_day")
_PARAMS = ("r", "alpha", "a", "b")


def positive_mle(neg_ll: Callable[[np.ndarray], float], start: Sequence[float]
                 ) -> tuple[np.ndarray, float, bool, np.ndarray]:
    """Minimize a negative log-likelihood over positive parameters, with Hessian standard errors.

    The search runs on log-parameters (clipped to ±30): L-BFGS-B, then a Nelder–Mead polish whose
    tolerance on the objective is relative to its size (an absolute one is unreachable); the better of
    the two is kept. BG/NBD (:func:`fit_bgnbd`) and Gamma-Gamma (:func:`cjlib.value.fit_gamma_gamma`)
    share it.

    Parameters
    ----------
    neg_ll : callable
        Negative log-likelihood of the natural (positive) parameter vector.
    start : sequence of float
        Starting values, natural scale.

    Returns
    -------
    (estimate, minimum, converged, standard_errors)
        ``converged`` when either optimizer reported success; standard errors from
        :func:`hessian_standard_errors` (NaN when the Hessian is not positive definite).
    """
    def nll(theta: np.ndarray) -> float:
        val = neg_ll(np.exp(np.clip(theta, -30, 30)))
        return float(val) if np.isfinite(val) else 1e300

    res = optimize.minimize(nll, np.log(np.asarray(start, dtype=float)), method="L-BFGS-B",
                            options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9})
    res2 = optimize.minimize(nll, res.x, method="Nelder-Mead",
                             options={"maxiter": 3000, "xatol": 1e-8, "fatol": 1e-11 * max(1.0, abs(res.fun))})
    best = res2 if res2.fun <= res.fun else res
    est = np.exp(best.x)
    return est, float(best.fun), bool(res.success or res2.success), hessian_standard_errors(neg_ll, est)


def hessian_standard_errors(neg_ll: Callable[[np.ndarray], float], params: Sequence[float], *,
                            rel_step: float = 1e-4) -> np.ndarray:
    """Standard errors from the inverse Hessian of a negative log-likelihood at its minimum.

    The Hessian is taken in the natural (positive) parameters by central differences with steps
    ``rel_step × |param|``; the standard errors are the square roots of the diagonal of its inverse (the
    asymptotic covariance of the maximum-likelihood estimate).

    Parameters
    ----------
    neg_ll : callable
        The negative log-likelihood of a parameter vector (natural parameters, all positive).
    params : sequence of float
        The maximum-likelihood estimate.
    rel_step : float, default 1e-4
        Relative step of the central differences.

    Returns
    -------
    ndarray
        One standard error per parameter, all NaN when the Hessian is not finite or not positive
        definite (the estimate is not a strict interior minimum, e.g. on a flat ridge).

    Examples
    --------
    A normal sample's mean has standard error σ/√n and its standard deviation σ/√(2n):

    >>> z = np.array([1.0, 2.0, 4.0, 5.0])
    >>> nll = lambda p: len(z) * np.log(p[1]) + ((z - p[0]) ** 2).sum() / (2 * p[1] ** 2)
    >>> se = hessian_standard_errors(nll, [3.0, np.sqrt(2.5)])
    >>> [round(float(v), 4) for v in se], round(float(np.sqrt(2.5 / 4)), 4), round(float(np.sqrt(2.5 / 8)), 4)
    ([0.7906, 0.559], 0.7906, 0.559)
    """
    theta = np.asarray(params, dtype=float)
    k = len(theta)
    h = rel_step * np.maximum(np.abs(theta), 1e-8)

    def f(i: int, si: int, j: int = 0, sj: int = 0) -> float:
        p = theta.copy()
        p[i] += si * h[i]
        p[j] += sj * h[j]
        return float(neg_ll(p))

    f0 = float(neg_ll(theta))
    hess = np.empty((k, k))
    for i in range(k):
        hess[i, i] = (f(i, 1) - 2.0 * f0 + f(i, -1)) / h[i] ** 2
        for j in range(i):
            hess[i, j] = hess[j, i] = (f(i, 1, j, 1) - f(i, 1, j, -1) - f(i, -1, j, 1)
                                       + f(i, -1, j, -1)) / (4.0 * h[i] * h[j])
    nan = np.full(k, np.nan)
    if not np.isfinite(hess).all():
        return nan
    try:
        chol = np.linalg.cholesky(hess)
    except np.linalg.LinAlgError:
        return nan
    inv_chol = np.linalg.inv(chol)
    return np.sqrt((inv_chol ** 2).sum(axis=0))


def _is_partitioned(events) -> bool:
    """Whether ``events`` is a log shuffled by customer (the engine is imported only when it is not a frame)."""
    if isinstance(events, pd.DataFrame):
        return False
    from cjlib.engine.core import Partitioned

    return isinstance(events, Partitioned)


def _as_arrays(x, t_x, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    x, t_x, T = np.broadcast_arrays(x, t_x, T)
    if not (np.isfinite(x).all() and np.isfinite(t_x).all() and np.isfinite(T).all()):
        raise ValueError("frequency, recency and T must be finite numbers")
    if (x < 0).any() or (np.abs(x - np.round(x)) > 1e-9).any():
        raise ValueError("frequency (x, repeat purchases) must be non-negative integers")
    if (t_x < 0).any() or (t_x > T + 1e-9).any():
        raise ValueError("recency (t_x) must satisfy 0 <= t_x <= T")
    if ((x == 0) & (t_x != 0)).any():
        raise ValueError("recency (t_x) must be 0 for customers with frequency 0")
    return x, t_x, T


def _ll_terms(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood of BG/NBD (Fader, Hardie & Lee 2005, eq. 6)."""
    r, alpha, a, b = params
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b)
          - special.gammaln(a + b + x))
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                      - (r + x) * np.log(alpha + t_x), -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def bgnbd_log_likelihood(params: Sequence[float], frequency, recency, T) -> float:
    """Total BG/NBD log-likelihood of ``params = (r, alpha, a, b)`` on ``(x, t_x, T)`` data.

    Parameters
    ----------
    params : sequence of float
        ``(r, alpha, a, b)``.
    frequency, recency, T : array-like
        Per customer: repeat purchases ``x`` (non-negative integers), the time of the last one ``t_x``
        (0 when ``x`` is 0) and the observation length ``T`` (``0 <= t_x <= T``); broadcast together.

    Returns
    -------
    float
        The sum of the customers' log-likelihoods.

    Raises
    ------
    ValueError
        Non-finite inputs, a non-integer or negative ``x``, or ``t_x`` outside ``[0, T]``.
    """
    x, t_x, T = _as_arrays(frequency, recency, T)
    return float(_ll_terms(np.asarray(params, dtype=float), x, t_x, T).sum())


def unknown_errors(names: Sequence[str]):
    """A dataclass field defaulting to a NaN standard error per parameter (a model built by hand).

    Parameters
    ----------
    names : sequence of str
        The parameter names.

    Returns
    -------
    dataclasses.Field
        A field whose default factory gives ``{name: nan}`` for each name.
    """
    return field(default_factory=lambda: dict.fromkeys(names, float("nan")))


class FittedParams:
    """What every fitted model here shares: ``params``, its parameters by the names in ``PARAM_NAMES``."""

    PARAM_NAMES: tuple[str, ...] = ()

    @property
    def params(self) -> dict[str, float]:
        """The fitted parameters, in :attr:`PARAM_NAMES` order."""
        return {k: getattr(self, k) for k in self.PARAM_NAMES}


@dataclass(frozen=True)
class BGNBD(FittedParams):
    """A fitted BG/NBD model.

    Attributes
    ----------
    r, alpha : float
        Gamma heterogeneity of the purchase rate λ (shape ``r``, rate ``alpha`` in ``time_unit``).
    a, b : float
        Beta heterogeneity of the dropout probability p after each purchase.
    time_unit : str
        Unit of ``t_x``, ``T`` and every horizon (``"days"`` or ``"weeks"``).
    log_likelihood : float
        Maximized log-likelihood.
    n_customers : int
        Customers the model was fitted on.
    converged : bool
        Whether the optimizer reported success.
    standard_errors : dict of str to float
        Asymptotic standard errors of ``r``, ``alpha``, ``a``, ``b`` from the inverse Hessian of the
        negative log-likelihood at the estimate (:func:`hessian_standard_errors`); NaN when the Hessian is
        not positive definite, and NaN by default for a model built by hand.
    """

    r: float
    alpha: float
    a: float
    b: float
    time_unit: str
    log_likelihood: float
    n_customers: int
    converged: bool
    standard_errors: dict[str, float] = unknown_errors(_PARAMS)

    PARAM_NAMES = _PARAMS  # params: {"r", "alpha", "a", "b"}

    def _dead_odds(self, x, t_x, T) -> np.ndarray:
        """Odds (dead after the last purchase) : (alive), 0 for ``x = 0``."""
        with np.errstate(divide="ignore", over="ignore"):
            log_odds = (np.log(self.a) - np.log(np.maximum(self.b + x - 1, 1e-300))
                        + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x)))
            return np.where(x > 0, np.exp(log_odds), 0.0)

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """P(alive at ``T`` | x, t_x, T).

        Equals 1 whenever ``x = 0``: in BG/NBD dropout happens only after a repeat purchase, so one-time
        buyers all look alive however long ago they bought. Do not rank churn risk by it; use
        :meth:`p_no_purchase`.
        """
        x, t_x, T = _as_arrays(frequency, recency, T)
        return 1.0 / (1.0 + self._dead_odds(x, t_x, T))

    def _if_alive(self, t: float, x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """The numerator of eq. 10: E[purchases in (T, T + t] | alive at T, x, T]."""
        t = float(t)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        num = 1.0 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
        return (a + b + x - 1) / (a - 1) * num

    def expected_purchases(self, t: float, frequency, recency, T) -> np.ndarray:
        """E[purchases in (T, T + t] | x, t_x, T] (Fader, Hardie & Lee 2005, eq. 10)."""
        x, t_x, T = _as_arrays(frequency, recency, T)
        return self._if_alive(t, x, T) / (1.0 + self._dead_odds(x, t_x, T))

    def expected_purchases_if_alive(self, t: float, frequency, recency, T) -> np.ndarray:
        """E[purchases in (T, T + t] | alive at T, x, t_x, T] = :meth:`expected_purchases` / :meth:`p_alive`.

        The denominator of Fader, Hardie & Lee (2005) eq. 10 is 1 / P(alive); without it the expectation
        is the one for a customer known to be alive: given alive, λ ~ Gamma(r + x, α + T) and
        p ~ Beta(a, b + x), and an alive customer buys (1 − exp(−λ p t)) / p times on average. It does not
        depend on ``t_x`` (recency only tells whether the customer is alive). This is what a customer is
        worth to keep; multiplying it by P(churn) gives the value at risk without discounting twice.
        """
        x, _, T = _as_arrays(frequency, recency, T)
        return self._if_alive(t, x, T)

    def p_no_purchase(self, t: float, frequency, recency, T) -> np.ndarray:
        """P(no purchase in (T, T + t] | x, t_x, T): the BG/NBD churn score for a window of length ``t``.

        A customer makes no purchase in the window when dead at ``T``, or alive at ``T`` with no purchase
        from a Poisson process whose rate has the posterior Gamma(r + x, α + T) (dropout only happens at
        purchases, so an alive customer with no purchase stays alive):
        ``(1 − P(alive)) + P(alive) · ((α + T) / (α + T + t)) ** (r + x)``.
        """
        x, t_x, T = _as_arrays(frequency, recency, T)
        pa = 1.0 / (1.0 + self._dead_odds(x, t_x, T))
        stay = np.exp((self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + T + float(t))))
        return (1.0 - pa) + pa * stay


def fit_bgnbd(frequency, recency, T, *, time_unit: str = "weeks", x0: Sequence[float] | None = None) -> BGNBD:
    """Fit BG/NBD by maximum likelihood.

    Parameters
    ----------
    frequency, recency, T : array-like
        Per customer: repeat purchases ``x``, time of the last purchase ``t_x`` and length of observation
        ``T`` (both measured from the first purchase, in ``time_unit``).
    time_unit : {"days", "weeks"}, default "weeks"
        The unit of ``recency`` and ``T`` (stored on the result; α is per this unit).
    x0 : sequence of 4 floats, optional
        Starting ``(r, alpha, a, b)`` (default ``(1, mean T, 1, 1)``).

    Returns
    -------
    BGNBD
        The fitted model, with Hessian standard errors in ``standard_errors``.

    Raises
    ------
    ValueError
        On bad ``(x, t_x, T)`` values, an unknown ``time_unit``, fewer than 2 customers, or no customer
        with a repeat transaction (the likelihood has no maximum then).

    Notes
    -----
    The negative log-likelihood is minimized over ``log(r, alpha, a, b)`` with L-BFGS-B and polished
    with Nelder–Mead, so parameters stay positive without bounds.

    Examples
    --------
    >>> m = fit_bgnbd([2, 1, 0, 0, 3], [30.4, 1.7, 0, 0, 20.0], [38.9, 38.9, 38.9, 38.9, 38.0])
    >>> round(m.p_alive(0, 0, 10).item(), 3)
    1.0
    """
    check_choice("time_unit", time_unit, sorted(TIME_UNITS))
    x, t_x, T = _as_arrays(frequency, recency, T)
    x, t_x, T = x.ravel(), t_x.ravel(), T.ravel()
    if len(x) < 2:
        raise ValueError(f"BG/NBD needs at least 2 customers, got {len(x)}")
    if (T <= 0).all():
        raise ValueError("T must be positive for some customers")
    if not (x > 0).any():
        raise ValueError("no customer has a repeat transaction (every frequency is 0), so BG/NBD cannot be "
                         "fitted: its repeat-rate and drop-out parameters are not identified")
    # Aggregate identical (x, t_x, T) rows: same likelihood, fewer evaluations.
    keys, counts = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    ux, ut, uT = keys.T
    w = counts.astype(float)

    start = x0 if x0 is not None else [1.0, max(float(T.mean()), 1e-3), 1.0, 1.0]
    est, minimum, converged, se = positive_mle(lambda p: -(w * _ll_terms(p, ux, ut, uT)).sum(), start)
    r, alpha, a, b = (float(v) for v in est)
    return BGNBD(r=r, alpha=alpha, a=a, b=b, time_unit=time_unit, log_likelihood=-minimum, n_customers=len(x),
                 converged=converged, standard_errors={k: float(v) for k, v in zip(_PARAMS, se)})


def rfm_summary(
    events: pd.DataFrame,
    *,
    cutoff: str | pd.Timestamp,
    activity_events: Sequence[str] | None = None,
    time_unit: str = "days",
    customer_ids: Sequence | pd.Index | None = None,
    observation_end: str = "cutoff",
) -> pd.DataFrame:
    """Per-customer ``(x, t_x, T)`` from the events before ``cutoff``, for BG/NBD.

    Transactions are the distinct calendar days with an activity event (several events on one day are
    one transaction, as in the CDNOW data). ``x`` is the number of such days after the first, ``t_x`` the
    time from the first to the last (both taken at the start of their day), ``T`` the time from the first
    to the end of observation (``observation_end``). Customers with events but no activity event before
    ``cutoff`` (e.g. never purchased, for purchase churn) get ``x = 0`` with their first event of any kind
    as time zero.

    Parameters
    ----------
    events : DataFrame or Partitioned
        Event log with ``customer_id``, ``timestamp``, ``event``; a log shuffled by customer
        (:class:`cjlib.engine.Partitioned`) is summarized partition by partition.
    cutoff : str or Timestamp
        Only events strictly before it are used.
    activity_events : sequence of str, optional
        Events that count as transactions (default: every event).
    time_unit : {"days", "weeks"}, default "days"
        Unit of ``t_x`` and ``T``.
    customer_ids : sequence, optional
        Rows to return, in this order (default: every customer with an event before ``cutoff``, sorted).
    observation_end : {"cutoff", "last_day"}, default "cutoff"
        Where ``T`` ends. ``"cutoff"``: at ``cutoff`` itself. ``"last_day"``: at the start of the last day
        before ``cutoff``, like ``t_x`` — one day less for a midnight cutoff, so a purchase on the last
        observed day has ``t_x = T``. ``"last_day"`` is the convention of Fader, Hardie & Lee's CDNOW
        summary (T = 38.86 weeks = 272 days for a 1 January buyer over the 39 weeks to 30 September) and of
        lifetimes' ``summary_data_from_transaction_data`` with ``observation_period_end`` = the last day.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``: ``frequency`` (int), ``recency``, ``T`` (float, in ``time_unit``) and
        ``has_activity`` (False for customers with no activity event before ``cutoff``).
    """
    check_choice("time_unit", time_unit, sorted(TIME_UNITS))
    check_choice("observation_end", observation_end, OBSERVATION_ENDS)
    cutoff = pd.Timestamp(cutoff)
    if _is_partitioned(events):  # per customer: each partition's rows, in customer order
        from cjlib.churn.distributed import per_customer

        out = per_customer(events, rfm_summary, cutoff=cutoff, activity_events=activity_events,
                           time_unit=time_unit, observation_end=observation_end)
        return out if customer_ids is None else out.reindex(pd.Index(customer_ids, name="customer_id"))
    end = cutoff if observation_end == "cutoff" else (cutoff - pd.Timedelta(1, "ns")).floor("D")
    ts = events["timestamp"]
    before = (ts < cutoff).to_numpy()
    ev = events.loc[before, ["customer_id", "timestamp", "event"]]
    unit_s = TIME_UNITS[time_unit] * 86_400.0
    first_any = ev.groupby("customer_id", sort=True, observed=True)["timestamp"].min()
    if activity_events is not None:
        ev = ev[ev["event"].astype(str).isin(list(activity_events)).to_numpy()]
    day = ev["timestamp"].dt.floor("D")
    days = pd.DataFrame({"customer_id": ev["customer_id"].to_numpy(), "day": day.to_numpy()}).drop_duplicates()
    g = days.groupby("customer_id", sort=True, observed=True)["day"]
    first, last, n = g.min(), g.max(), g.size()
    out = pd.DataFrame(index=first_any.index)
    out.index.name = "customer_id"
    first = first.reindex(out.index)
    # time zero: the first activity day, or (no activity) the first event's day
    zero = first.fillna(first_any.dt.floor("D"))
    last = last.reindex(out.index).fillna(zero)
    n = n.reindex(out.index).fillna(0).astype(np.int64)
    out["frequency"] = np.maximum(n.to_numpy() - 1, 0)
    out["recency"] = (last - zero).dt.total_seconds().to_numpy() / unit_s
    out["T"] = (end - zero).dt.total_seconds().to_numpy() / unit_s
    out["has_activity"] = (n > 0).to_numpy()
    if customer_ids is not None:
        out = out.reindex(pd.Index(customer_ids, name="customer_id"))
    return out
