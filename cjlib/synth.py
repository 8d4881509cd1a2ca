"""Synthetic customer journeys with a planted truth: the sample data and the test oracle.

:func:`generate` simulates an online shop over a date range and returns a :class:`SyntheticData` with
the event log, customer attributes, satisfaction feedback, monthly channel spend and the *truth* that
produced them, so every analysis can be checked against what was planted.

What is planted (all numbers are in ``SyntheticData.params``):

* **Four personas.** ``loyal_premium`` (20 %: older, premium plan, desktop, arrives by email/direct,
  many sessions, buys often, high order values, rarely churns); ``bargain_hunter`` (30 %: paid search,
  affiliate and email, basic plan, buys at medium rates with small baskets); ``window_shopper`` (30 %:
  organic search and social, free plan, views many products per session, almost never buys);
  ``social_newcomer`` (20 %: young, mobile, social and display ads, few short sessions, churns fast).
* **Sessions.** A customer is first seen at a time uniform over the first 80 % of the range; that
  session's channel is the acquisition channel. Further sessions arrive at the persona's rate until
  the customer churns (or the range ends) and use return channels (direct, email, organic heavier).
  Sessions of one customer are at least 2 hours apart; events inside a session are 10 s to 10 min apart,
  so sessionizing on a 30-minute gap reproduces ``session_id`` exactly.
* **In-session journey.** Entry (``ad_click`` for paid_search/social/display/affiliate, else
  ``page_view``) → product views (with ``search`` and ``add_to_wishlist`` interleaved) →
  ``add_to_cart`` → ``begin_checkout`` → ``purchase``, with exits at each step. The persona sets the
  base probabilities; the session's channel multiplies the awareness→consideration probability (the
  chance to view a product after entry) and the consideration→purchase probability (applied at the
  ``add_to_cart`` step, so it scales the whole consideration→purchase conversion). Purchases carry a
  lognormal revenue around the persona's order value.
* **Checkout friction.** A session that reaches ``begin_checkout`` ends in a purchase with probability
  0.80 for every persona on desktop and tablet, and 0.45 × 0.80 = 0.36 on ``mobile`` (a session-level
  rate). Failing mobile checkouts usually emit ``payment_error`` and are sometimes retried (failing
  again); some successful mobile checkouts hit a ``payment_error`` before the attempt that works.
* **Satisfaction, delivery issues and churn.** Each customer has a latent satisfaction (persona mean +
  noise) lowered by a delivery issue (about 15 % of customers; they contact support after purchases).
  The churn hazard is constant in time and grows with low satisfaction, a delivery issue and the
  persona; a churner has no event after ``churn_time``, non-churners stay active to the end.
* **Advocacy.** After a purchase a ``review`` (own session, channel email, 2–10 days later) follows
  with a probability rising with satisfaction; a ``referral`` follows more rarely.
* **Feedback.** CSAT (1–5) after about 30 % of purchases, driven by satisfaction, lower after a
  delivery issue or a payment error; CSAT after about 5 % of sessions with product views; NPS (0–10)
  from about 10 % of customers at a random time while they are active.
* **Costs.** Monthly spend for paid_search, social, display, affiliate and email: the sessions each
  brought times a channel-specific cost per visit, with a little noise.

Run ``python -m cjlib.synth --customers 20000 --seed 0 --out data/sample`` to write the sample data.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cjlib.paths import resolve

__all__ = ["CHANNELS", "EVENTS", "PAID_CHANNELS", "PERSONAS", "SyntheticData", "generate", "main"]

# --------------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------------
EVENTS = (
    "ad_click",
    "page_view",
    "product_view",
    "search",
    "add_to_wishlist",
    "add_to_cart",
    "begin_checkout",
    "purchase",
    "review",
    "referral",
    "payment_error",
    "support_contact",
)
(
    AD_CLICK,
    PAGE_VIEW,
    PRODUCT_VIEW,
    SEARCH,
    WISHLIST,
    ADD_TO_CART,
    BEGIN_CHECKOUT,
    PURCHASE,
    REVIEW,
    REFERRAL,
    PAYMENT_ERROR,
    SUPPORT_CONTACT,
) = range(len(EVENTS))

CHANNELS = (
    "paid_search",
    "organic_search",
    "social",
    "display",
    "email",
    "direct",
    "referral",
    "affiliate",
)
AD_ENTRY_CHANNELS = (
    "paid_search",
    "social",
    "display",
    "affiliate",
)  # sessions start with ad_click
PAID_CHANNELS = ("paid_search", "social", "display", "affiliate", "email")  # channels with spend
DEVICES = ("desktop", "mobile", "tablet")
GENDERS = ("female", "male", "other")
REGIONS = ("north", "south", "east", "west", "central")
PLANS = ("free", "basic", "premium")

PERSONAS = ("loyal_premium", "bargain_hunter", "window_shopper", "social_newcomer")

_DAY = 86_400
_MIN_SESSION_GAP = 2 * 3600  # seconds between the last event of a session and the next session
_MIN_EVENT_GAP, _MAX_EVENT_GAP = 10, 600  # seconds between events of one session
_MAX_VIEWS = 40

# Persona specifications. Channel and categorical probabilities are listed in the order of the
# vocabularies above; they are stored in params as {name: probability} dicts.
_PERSONA_SPECS: dict[str, dict] = {
    "loyal_premium": {
        "weight": 0.20,
        "age_mean": 55.0,
        "age_sd": 7.0,
        "plan": (0.01, 0.04, 0.95),
        "device": (0.70, 0.20, 0.10),
        "acquisition": (0.02, 0.08, 0.01, 0.01, 0.40, 0.40, 0.07, 0.01),
        "returning": (0.01, 0.05, 0.01, 0.01, 0.46, 0.44, 0.01, 0.01),
        "sessions_per_30d": 0.9,
        "p_consider": 0.90,
        "p_more_views": 0.45,
        "p_search": 0.30,
        "p_wishlist": 0.10,
        "p_cart": 0.50,
        "p_checkout": 0.85,
        "aov": 120.0,
        "satisfaction_mean": 0.8,
        "churn_hazard_per_day": 0.0012,
    },
    "bargain_hunter": {
        "weight": 0.30,
        "age_mean": 41.0,
        "age_sd": 6.0,
        "plan": (0.03, 0.94, 0.03),
        "device": (0.45, 0.45, 0.10),
        "acquisition": (0.45, 0.03, 0.01, 0.05, 0.08, 0.02, 0.01, 0.35),
        "returning": (0.35, 0.03, 0.01, 0.03, 0.25, 0.03, 0.01, 0.29),
        "sessions_per_30d": 0.7,
        "p_consider": 0.85,
        "p_more_views": 0.60,
        "p_search": 0.50,
        "p_wishlist": 0.25,
        "p_cart": 0.30,
        "p_checkout": 0.75,
        "aov": 35.0,
        "satisfaction_mean": 0.2,
        "churn_hazard_per_day": 0.0025,
    },
    "window_shopper": {
        "weight": 0.30,
        "age_mean": 31.0,
        "age_sd": 4.5,
        "plan": (0.88, 0.10, 0.02),
        "device": (0.35, 0.50, 0.15),
        "acquisition": (0.03, 0.66, 0.06, 0.02, 0.02, 0.04, 0.16, 0.01),
        "returning": (0.02, 0.66, 0.05, 0.02, 0.03, 0.06, 0.15, 0.01),
        "sessions_per_30d": 0.6,
        "p_consider": 0.90,
        "p_more_views": 0.80,
        "p_search": 0.30,
        "p_wishlist": 0.30,
        "p_cart": 0.06,
        "p_checkout": 0.50,
        "aov": 60.0,
        "satisfaction_mean": 0.0,
        "churn_hazard_per_day": 0.0025,
    },
    "social_newcomer": {
        "weight": 0.20,
        "age_mean": 22.0,
        "age_sd": 3.0,
        "plan": (0.94, 0.05, 0.01),
        "device": (0.15, 0.80, 0.05),
        "acquisition": (0.02, 0.03, 0.65, 0.28, 0.005, 0.005, 0.005, 0.005),
        "returning": (0.02, 0.04, 0.62, 0.22, 0.02, 0.06, 0.01, 0.01),
        "sessions_per_30d": 0.5,
        "p_consider": 0.50,
        "p_more_views": 0.35,
        "p_search": 0.10,
        "p_wishlist": 0.10,
        "p_cart": 0.12,
        "p_checkout": 0.60,
        "aov": 45.0,
        "satisfaction_mean": -0.4,
        "churn_hazard_per_day": 0.0070,
    },
}

# Channel multipliers per stage transition (channels not listed: 1.0).
_CHANNEL_EFFECTS = {
    "awareness->consideration": {
        "social": 1.3,
        "display": 0.6,
        "organic_search": 1.1,
        "email": 1.1,
    },
    "consideration->purchase": {
        "email": 1.6,
        "paid_search": 1.3,
        "referral": 1.4,
        "display": 0.5,
        "social": 0.7,
    },
}

_FRICTION = {
    "column": "device",
    "value": "mobile",
    "from_step": "begin_checkout",
    "to_step": "purchase",
    "multiplier": 0.45,
}
_P_PURCHASE_AFTER_CHECKOUT = (
    0.80  # per checkout session, every persona and non-mobile device; mobile × 0.45
)
# Per session that reaches begin_checkout; the friction multiplier applies to this session-level rate.
_CHECKOUT = {
    "p_payment_error_on_fail": {"mobile": 0.85, "other": 0.10},
    "p_retry_after_error": 0.30,
    "p_error_before_success": {"mobile": 0.25, "other": 0.02},
}
_REVENUE_SIGMA = 0.45

_SATISFACTION_SD = 0.8
_DELIVERY_ISSUE_RATE = 0.15
_DELIVERY_SATISFACTION_SHIFT = -1.0
# log hazard = log(persona base) + beta_satisfaction * satisfaction + beta_delivery * delivery_issue
_CHURN = {"beta_satisfaction": -0.8, "beta_delivery_issue": 0.5}

# P(review after a purchase) = sigmoid(intercept + slope * satisfaction); referral = share × that.
_ADVOCACY = {
    "review_intercept": -1.3,
    "review_slope": 1.2,
    "referral_share": 0.30,
    "delay_days": [2, 10],
    "channel": "email",
}
_SUPPORT = {
    "p_after_purchase_delivery_issue": 0.60,
    "p_after_purchase_other": 0.03,
    "p_second_contact": 0.35,
    "delay_days": [1, 6],
    "channel": "direct",
}

_FEEDBACK = {
    "purchase_csat_rate": 0.30,
    "purchase_csat": {
        "intercept": 3.5,
        "satisfaction": 0.9,
        "delivery_issue": -0.6,
        "payment_error": -0.7,
        "noise_sd": 0.6,
    },
    "view_csat_rate": 0.05,
    "view_csat": {"intercept": 3.7, "satisfaction": 0.6, "noise_sd": 0.8},
    "nps_rate": 0.10,
    "nps": {"intercept": 6.5, "satisfaction": 2.0, "noise_sd": 1.2},
}

_COST_PER_VISIT = {
    "paid_search": 1.20,
    "social": 0.55,
    "display": 0.30,
    "affiliate": 0.90,
    "email": 0.05,
}
_COST_NOISE_SD = 0.05

_GENDER_P = (0.49, 0.48, 0.03)
_REGION_P = (0.25, 0.20, 0.20, 0.20, 0.15)
_FIRST_SEEN_SHARE = 0.80


# --------------------------------------------------------------------------------------------------
# Result container
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SyntheticData:
    """Synthetic journeys and the truth that produced them.

    Attributes
    ----------
    events : DataFrame
        ``customer_id`` (str), ``timestamp`` (datetime64, naive), ``event`` (str), ``channel`` (str),
        ``revenue`` (float64, > 0 on purchases, NaN elsewhere), ``session_id`` (str, globally unique),
        ``device`` (str, fixed per customer); sorted by (customer_id, timestamp), RangeIndex.
    customers : DataFrame
        ``customer_id``, ``age`` (int), ``gender``, ``region``, ``signup_date`` (datetime64), ``plan``.
    feedback : DataFrame
        ``customer_id``, ``timestamp``, ``score`` (int), ``scale`` ("csat" 1–5 or "nps" 0–10),
        ``stage`` (stage name), ``touchpoint`` (event name).
    costs : DataFrame
        ``channel``, ``period`` ("YYYY-MM"), ``spend`` (float) for the paid channels.
    truth : DataFrame
        One row per customer: ``customer_id``, ``persona``, ``acquisition_channel``, ``device``,
        ``churned`` (bool), ``churn_time`` (NaT unless churned), ``delivery_issue`` (bool),
        ``satisfaction`` (latent float).
    params : dict
        The planted parameters, JSON-serializable.
    """

    events: pd.DataFrame
    customers: pd.DataFrame
    feedback: pd.DataFrame
    costs: pd.DataFrame
    truth: pd.DataFrame
    params: dict

    def write(self, folder: str | Path) -> None:
        """Write every table into ``folder`` (created if needed), each file atomically.

        Writes ``events.parquet``, ``customers.parquet``, ``feedback.parquet``, ``costs.csv``,
        ``truth.parquet`` and ``truth.json`` (the params). Each file is written to a temporary file in
        the same folder and moved into place with :func:`os.replace`.

        Parameters
        ----------
        folder : str or Path
            Target folder; relative paths are resolved by :func:`cjlib.paths.resolve`.
        """
        out = resolve(folder)
        out.mkdir(parents=True, exist_ok=True)
        writers = {
            "events.parquet": lambda p: self.events.to_parquet(p, index=False),
            "customers.parquet": lambda p: self.customers.to_parquet(p, index=False),
            "feedback.parquet": lambda p: self.feedback.to_parquet(p, index=False),
            "costs.csv": lambda p: self.costs.to_csv(p, index=False),
            "truth.parquet": lambda p: self.truth.to_parquet(p, index=False),
            "truth.json": lambda p: Path(p).write_text(json.dumps(self.params, indent=2) + "\n"),
        }
        umask = os.umask(0)
        os.umask(umask)
        for name, write in writers.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
            os.close(fd)
            try:
                write(tmp)
                os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; use the usual mode
                os.replace(tmp, out / name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------
def _draw_categorical(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One categorical draw per row, row ``i`` using ``probs[rows[i]]`` (vectorized inverse CDF)."""
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(len(rows))
    return (u[:, None] >= cum[rows]).sum(axis=1).clip(0, probs.shape[1] - 1)


def _group_starts(keys: np.ndarray) -> np.ndarray:
    """Boolean mask of the first row of each run of equal ``keys`` (keys sorted)."""
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return first


def _within_group_cumsum_exclusive(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` over the previous rows of the same group (0 on group starts)."""
    total = np.cumsum(values)
    excl = total - values
    start_idx = np.flatnonzero(first)
    group_of = np.cumsum(first) - 1
    return excl - excl[start_idx][group_of]


def _event_gaps(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds between consecutive events of a session: 10 s plus an exponential, capped at 10 min."""
    return np.minimum(_MIN_EVENT_GAP + rng.exponential(70.0, n), _MAX_EVENT_GAP).astype(np.int64)


def _spec_array(key: str) -> np.ndarray:
    return np.array([_PERSONA_SPECS[p][key] for p in PERSONAS], dtype=float)


def _channel_multipliers(transition: str) -> np.ndarray:
    effects = _CHANNEL_EFFECTS[transition]
    return np.array([effects.get(c, 1.0) for c in CHANNELS])


def _take_str(labels, codes: np.ndarray) -> pd.Series:
    """A str Series of ``labels[codes]`` built through a categorical (fast for long arrays)."""
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(labels))).astype("str")


# --------------------------------------------------------------------------------------------------
# The in-session state machine
# --------------------------------------------------------------------------------------------------
def _simulate_sessions(rng, persona, channel, mobile):
    """Event sequences of all regular sessions at once (loops over journey steps, never over sessions).

    Parameters
    ----------
    rng : numpy.random.Generator
    persona, channel : ndarray of int
        Persona and channel code of each session.
    mobile : ndarray of bool
        Whether the session's customer is on mobile.

    Returns
    -------
    ev_session, ev_code : ndarray
        Session index and event code of every emitted event, sorted by session then journey order.
    """
    n = len(persona)
    pos = np.zeros(n, dtype=np.int64)
    out_s: list[np.ndarray] = []
    out_p: list[np.ndarray] = []
    out_e: list[np.ndarray] = []

    def emit(idx: np.ndarray, code: int) -> None:
        if len(idx):
            out_s.append(idx)
            out_p.append(pos[idx].copy())
            out_e.append(np.full(len(idx), code, dtype=np.int8))
            pos[idx] += 1

    all_idx = np.arange(n)
    ad_entry = np.isin(channel, [CHANNELS.index(c) for c in AD_ENTRY_CHANNELS])
    emit(all_idx[ad_entry], AD_CLICK)
    emit(all_idx[~ad_entry], PAGE_VIEW)

    # awareness -> consideration
    p = (
        _spec_array("p_consider")[persona]
        * _channel_multipliers("awareness->consideration")[channel]
    )
    considering = all_idx[rng.random(n) < np.minimum(p, 0.98)]

    # product views with searches and wishlists interleaved
    p_search, p_wish, p_more = (_spec_array(k) for k in ("p_search", "p_wishlist", "p_more_views"))
    alive = considering
    for step in range(_MAX_VIEWS):
        if not len(alive):
            break
        pa = persona[alive]
        emit(alive[rng.random(len(alive)) < p_search[pa]], SEARCH)
        emit(alive, PRODUCT_VIEW)
        emit(alive[rng.random(len(alive)) < p_wish[pa]], WISHLIST)
        if step + 1 < _MAX_VIEWS:
            alive = alive[rng.random(len(alive)) < p_more[pa]]

    # consideration -> purchase: the channel multiplier acts on the add_to_cart step
    pc = persona[considering]
    p = (
        _spec_array("p_cart")[pc]
        * _channel_multipliers("consideration->purchase")[channel[considering]]
    )
    carted = considering[rng.random(len(considering)) < np.minimum(p, 0.98)]
    emit(carted, ADD_TO_CART)
    checking = carted[rng.random(len(carted)) < _spec_array("p_checkout")[persona[carted]]]

    # checkout: the session's outcome is drawn first (mobile × the friction multiplier), then its attempts.
    # A failing session shows begin_checkout (+ payment_error, often on mobile) and is sometimes retried
    # (failing again); a succeeding session sometimes hits a payment_error before its successful attempt.
    mob = mobile[checking]
    p_buy = _P_PURCHASE_AFTER_CHECKOUT * np.where(mob, _FRICTION["multiplier"], 1.0)
    bought = rng.random(len(checking)) < p_buy
    p_err_fail = np.where(
        mob,
        _CHECKOUT["p_payment_error_on_fail"]["mobile"],
        _CHECKOUT["p_payment_error_on_fail"]["other"],
    )
    p_err_first = np.where(
        mob,
        _CHECKOUT["p_error_before_success"]["mobile"],
        _CHECKOUT["p_error_before_success"]["other"],
    )
    u = rng.random((3, len(checking)))
    # successful sessions
    ok = checking[bought]
    first_err = ok[u[0][bought] < p_err_first[bought]]
    emit(first_err, BEGIN_CHECKOUT)
    emit(first_err, PAYMENT_ERROR)
    emit(ok, BEGIN_CHECKOUT)
    emit(ok, PURCHASE)
    # failing sessions: up to two failed attempts
    failed = checking[~bought]
    errored = u[1][~bought] < p_err_fail[~bought]
    retry = errored & (u[2][~bought] < _CHECKOUT["p_retry_after_error"])
    emit(failed, BEGIN_CHECKOUT)
    emit(failed[errored], PAYMENT_ERROR)
    retried = failed[retry]
    emit(retried, BEGIN_CHECKOUT)
    emit(retried[rng.random(len(retried)) < p_err_fail[~bought][retry]], PAYMENT_ERROR)

    ev_s = np.concatenate(out_s)
    ev_p = np.concatenate(out_p)
    ev_e = np.concatenate(out_e)
    order = np.lexsort((ev_p, ev_s))
    return ev_s[order], ev_e[order]


def _offsets(rng, ev_session: np.ndarray) -> np.ndarray:
    """Seconds since session start of each event (events sorted by session)."""
    first = _group_starts(ev_session)
    gaps = _event_gaps(rng, len(ev_session))
    gaps[first] = 0
    return _within_group_cumsum_exclusive(gaps, first) + gaps


# --------------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------------
def generate(
    n_customers: int = 20_000,
    seed: int = 0,
    *,
    start: str | pd.Timestamp = "2025-01-01",
    end: str | pd.Timestamp = "2026-01-01",
    stage_map=None,
) -> SyntheticData:
    """Generate synthetic customer journeys with a planted truth.

    Parameters
    ----------
    n_customers : int, default 20_000
        Number of customers; about 20–25 events each on average.
    seed : int, default 0
        Seed of the single :func:`numpy.random.default_rng` every random step draws from.
    start, end : str or Timestamp
        The simulated range ``[start, end)``; every timestamp falls inside it.
    stage_map : StageMap, str or Path, optional
        Stage map every generated event must be known to (default ``data/stage_map.yml``).

    Returns
    -------
    SyntheticData
        Events, customers, feedback, costs, truth and the planted ``params``.

    Raises
    ------
    ValueError
        When ``n_customers`` is not a positive integer, ``end`` is not after ``start``, or the stage
        map does not know the generated events.

    Examples
    --------
    >>> data = generate(200, seed=1)
    >>> sorted(data.truth["persona"].unique())
    ['bargain_hunter', 'loyal_premium', 'social_newcomer', 'window_shopper']
    """
    if (
        isinstance(n_customers, bool)
        or not isinstance(n_customers, (int, np.integer))
        or n_customers < 1
    ):
        raise ValueError(f"n_customers must be a positive integer, got {n_customers!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    if t0.tzinfo is not None or t1.tzinfo is not None:
        raise ValueError("start and end must be timezone-naive (UTC) timestamps")
    if t1 <= t0 + pd.Timedelta(days=1):
        raise ValueError(f"end must be more than a day after start, got start={t0} end={t1}")
    _check_stage_map(stage_map)

    n = int(n_customers)
    rng = np.random.default_rng(seed)
    span = int((t1 - t0).total_seconds())

    # ---- customers ---------------------------------------------------------------------------
    weights = _spec_array("weight")
    persona = rng.choice(len(PERSONAS), size=n, p=weights / weights.sum())
    age = np.clip(
        np.round(
            _spec_array("age_mean")[persona]
            + _spec_array("age_sd")[persona] * rng.standard_normal(n)
        ),
        18,
        85,
    ).astype(np.int64)
    gender = rng.choice(len(GENDERS), size=n, p=_GENDER_P)
    region = rng.choice(len(REGIONS), size=n, p=_REGION_P)
    plan = _draw_categorical(rng, np.array([_PERSONA_SPECS[p]["plan"] for p in PERSONAS]), persona)
    device = _draw_categorical(
        rng, np.array([_PERSONA_SPECS[p]["device"] for p in PERSONAS]), persona
    )
    mobile = device == DEVICES.index("mobile")
    acq_probs = np.array([_PERSONA_SPECS[p]["acquisition"] for p in PERSONAS])
    ret_probs = np.array([_PERSONA_SPECS[p]["returning"] for p in PERSONAS])
    acquisition = _draw_categorical(rng, acq_probs, persona)

    delivery = rng.random(n) < _DELIVERY_ISSUE_RATE
    satisfaction = (
        _spec_array("satisfaction_mean")[persona]
        + _SATISFACTION_SD * rng.standard_normal(n)
        + _DELIVERY_SATISFACTION_SHIFT * delivery
    )
    hazard = _spec_array("churn_hazard_per_day")[persona] * np.exp(
        _CHURN["beta_satisfaction"] * satisfaction + _CHURN["beta_delivery_issue"] * delivery
    )

    first_seen = (rng.random(n) * _FIRST_SEEN_SHARE * span).astype(np.int64)
    life = np.ceil(rng.exponential(1.0, n) / hazard * _DAY).astype(np.int64).clip(1, None)
    churn_at = first_seen + life  # seconds since start
    churned = churn_at < span
    stop = np.where(churned, churn_at, span)  # exclusive end of activity

    # ---- regular sessions --------------------------------------------------------------------
    rate = _spec_array("sessions_per_30d")[persona] * rng.gamma(
        6.0, 1 / 6.0, n
    )  # heterogeneous rates
    n_sess = 1 + rng.poisson(rate * (stop - first_seen) / (30 * _DAY))
    s_cust = np.repeat(np.arange(n), n_sess)
    s_first = _group_starts(s_cust)
    lo = first_seen[s_cust]
    s_start = np.where(
        s_first, lo, lo + (rng.random(len(s_cust)) * (stop[s_cust] - lo)).astype(np.int64)
    )
    order = np.lexsort((s_start, s_cust))  # the first session (at first_seen) stays first
    s_start = s_start[order]
    s_channel = np.where(
        s_first, acquisition[s_cust], _draw_categorical(rng, ret_probs, persona[s_cust])
    )

    ev_s, ev_e = _simulate_sessions(rng, persona[s_cust], s_channel, mobile[s_cust])
    ev_off = _offsets(rng, ev_s)
    ev_rev = np.full(len(ev_s), np.nan)
    buy = np.flatnonzero(ev_e == PURCHASE)
    aov = _spec_array("aov")[persona[s_cust[ev_s[buy]]]]
    ev_rev[buy] = np.round(
        np.exp(
            np.log(aov) - _REVENUE_SIGMA**2 / 2 + _REVENUE_SIGMA * rng.standard_normal(len(buy))
        ),
        2,
    ).clip(0.5, None)

    # ---- advocacy and support sessions after purchases --------------------------------------
    b_sess = ev_s[buy]
    b_cust = s_cust[b_sess]
    b_time = s_start[b_sess] + ev_off[buy]
    sat_b = satisfaction[b_cust]
    p_review = 1 / (
        1 + np.exp(-(_ADVOCACY["review_intercept"] + _ADVOCACY["review_slope"] * sat_b))
    )
    review = rng.random(len(buy)) < p_review
    referral = rng.random(len(buy)) < _ADVOCACY["referral_share"] * p_review
    adv = review | referral
    lo_d, hi_d = _ADVOCACY["delay_days"]
    adv_time = b_time + (rng.uniform(lo_d, hi_d, len(buy)) * _DAY).astype(np.int64)

    p_sup = np.where(
        delivery[b_cust],
        _SUPPORT["p_after_purchase_delivery_issue"],
        _SUPPORT["p_after_purchase_other"],
    )
    support = rng.random(len(buy)) < p_sup
    support2 = support & (rng.random(len(buy)) < _SUPPORT["p_second_contact"])
    lo_d, hi_d = _SUPPORT["delay_days"]
    sup_time = b_time + (rng.uniform(lo_d, hi_d, len(buy)) * _DAY).astype(np.int64)

    # extra sessions: advocacy ones then support ones; events listed in session order
    a_idx, u_idx = np.flatnonzero(adv), np.flatnonzero(support)
    x_cust = np.concatenate([b_cust[a_idx], b_cust[u_idx]])
    x_start = np.concatenate([adv_time[a_idx], sup_time[u_idx]])
    x_channel = np.concatenate(
        [
            np.full(len(a_idx), CHANNELS.index(_ADVOCACY["channel"])),
            np.full(len(u_idx), CHANNELS.index(_SUPPORT["channel"])),
        ]
    )
    na = len(a_idx)
    xa = np.arange(na)
    xu = na + np.arange(len(u_idx))
    x_ev_s = np.concatenate([xa[review[a_idx]], xa[referral[a_idx]], xu, xu[support2[u_idx]]])
    x_ev_e = np.concatenate(
        [
            np.full(review[a_idx].sum(), REVIEW),
            np.full(referral[a_idx].sum(), REFERRAL),
            np.full(len(u_idx) + support2[u_idx].sum(), SUPPORT_CONTACT),
        ]
    ).astype(np.int8)
    x_rank = np.concatenate(
        [
            np.zeros(review[a_idx].sum()),
            np.ones(referral[a_idx].sum()),
            np.zeros(len(u_idx)),
            np.ones(support2[u_idx].sum()),
        ]
    )
    o = np.lexsort((x_rank, x_ev_s))
    x_ev_s, x_ev_e = x_ev_s[o], x_ev_e[o]
    x_off = _offsets(rng, x_ev_s)

    # ---- all sessions: order, then push later sessions so they start >= 2 h after the previous end
    S = len(s_cust)
    all_cust = np.concatenate([s_cust, x_cust])
    all_start = np.concatenate([s_start, x_start])
    all_channel = np.concatenate([s_channel, x_channel])
    e_sess = np.concatenate([ev_s, S + x_ev_s])
    e_code = np.concatenate([ev_e, x_ev_e])
    e_off = np.concatenate([ev_off, x_off])
    e_rev = np.concatenate([ev_rev, np.full(len(x_ev_s), np.nan)])
    duration = np.zeros(len(all_cust), dtype=np.int64)
    np.maximum.at(duration, e_sess, e_off)

    s_order = np.lexsort((np.arange(len(all_cust)), all_start, all_cust))
    rank = np.empty_like(s_order)
    rank[s_order] = np.arange(len(s_order))  # session -> position in customer/time order
    cust_o, start_o, dur_o = all_cust[s_order], all_start[s_order], duration[s_order]
    first_o = _group_starts(cust_o)
    shift = _within_group_cumsum_exclusive(dur_o + _MIN_SESSION_GAP, first_o)
    pushed = pd.Series(start_o - shift).groupby(cust_o).cummax().to_numpy() + shift
    start_final = np.empty_like(pushed)
    start_final[s_order] = pushed

    # ---- events: time, truncate at churn/end, sort -------------------------------------------
    e_cust = all_cust[e_sess]
    e_time = start_final[e_sess] + e_off
    keep = e_time < stop[e_cust]
    e_sess, e_code, e_rev, e_cust, e_time = (
        a[keep] for a in (e_sess, e_code, e_rev, e_cust, e_time)
    )
    o = np.lexsort((e_time, e_cust))
    e_sess, e_code, e_rev, e_cust, e_time = (a[o] for a in (e_sess, e_code, e_rev, e_cust, e_time))
    # session numbers in customer/time order, only for sessions that kept events
    e_rank = rank[e_sess]
    new_sess = _group_starts(e_rank)
    sess_no = np.cumsum(new_sess) - 1

    ids = np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 6))
    base_ns = t0.as_unit("ns").value

    def to_ts(seconds: np.ndarray) -> np.ndarray:
        return (base_ns + seconds.astype(np.int64) * 1_000_000_000).view("datetime64[ns]")

    n_out_sessions = int(sess_no[-1]) + 1 if len(sess_no) else 0
    sess_ids = np.char.add("S", np.char.zfill(np.arange(1, n_out_sessions + 1).astype(str), 7))
    events = pd.DataFrame(
        {
            "customer_id": _take_str(ids, e_cust),
            "timestamp": to_ts(e_time),
            "event": _take_str(EVENTS, e_code.astype(np.int64)),
            "channel": _take_str(CHANNELS, all_channel[e_sess]),
            "revenue": e_rev,
            "session_id": _take_str(sess_ids, sess_no),
            "device": _take_str(DEVICES, device[e_cust]),
        }
    )

    # ---- customers and truth -----------------------------------------------------------------
    customers = pd.DataFrame(
        {
            "customer_id": _take_str(ids, np.arange(n)),
            "age": age,
            "gender": _take_str(GENDERS, gender),
            "region": _take_str(REGIONS, region),
            "signup_date": pd.Series(to_ts(first_seen)).dt.floor("D"),
            "plan": _take_str(PLANS, plan),
        }
    )
    churn_ts = pd.Series(to_ts(np.where(churned, churn_at, 0)))
    truth = pd.DataFrame(
        {
            "customer_id": _take_str(ids, np.arange(n)),
            "persona": _take_str(PERSONAS, persona),
            "acquisition_channel": _take_str(CHANNELS, acquisition),
            "device": _take_str(DEVICES, device),
            "churned": churned,
            "churn_time": churn_ts.where(churned),
            "delivery_issue": delivery,
            "satisfaction": satisfaction,
        }
    )

    # ---- feedback ----------------------------------------------------------------------------
    feedback = _feedback(
        rng, e_cust, e_code, e_time, sess_no, stop, first_seen, satisfaction, delivery, ids, to_ts
    )

    # ---- costs ---------------------------------------------------------------------------------
    costs = _costs(rng, events, t0, t1)

    params = _params(n, seed, t0, t1)
    return SyntheticData(
        events=events,
        customers=customers,
        feedback=feedback,
        costs=costs,
        truth=truth,
        params=params,
    )


def _feedback(
    rng, e_cust, e_code, e_time, sess_no, stop, first_seen, satisfaction, delivery, ids, to_ts
):
    """CSAT after purchases and product-view sessions, NPS from a share of customers."""
    fb = _FEEDBACK
    parts = []

    def shortly_after(t, cust, lo, hi):
        delay = rng.uniform(lo, hi, len(t)).astype(np.int64)
        room = np.maximum((stop[cust] - t) // 2, 0)
        return t + np.minimum(delay, room)

    # payment errors per session (for the purchase CSAT)
    err_sessions = np.zeros(int(sess_no[-1]) + 1 if len(sess_no) else 0, dtype=bool)
    err_sessions[sess_no[e_code == PAYMENT_ERROR]] = True

    buy = np.flatnonzero(e_code == PURCHASE)
    buy = buy[rng.random(len(buy)) < fb["purchase_csat_rate"]]
    c = e_cust[buy]
    spec = fb["purchase_csat"]
    latent = (
        spec["intercept"]
        + spec["satisfaction"] * satisfaction[c]
        + spec["delivery_issue"] * delivery[c]
        + spec["payment_error"] * err_sessions[sess_no[buy]]
        + spec["noise_sd"] * rng.standard_normal(len(c))
    )
    parts.append(
        (
            c,
            shortly_after(e_time[buy], c, 600, 3 * _DAY),
            np.clip(np.round(latent), 1, 5),
            "csat",
            "purchase",
            "purchase",
        )
    )

    pv = np.flatnonzero(e_code == PRODUCT_VIEW)
    last_pv = pv[np.r_[sess_no[pv][1:] != sess_no[pv][:-1], True]] if len(pv) else pv
    last_pv = last_pv[rng.random(len(last_pv)) < fb["view_csat_rate"]]
    c = e_cust[last_pv]
    spec = fb["view_csat"]
    latent = (
        spec["intercept"]
        + spec["satisfaction"] * satisfaction[c]
        + spec["noise_sd"] * rng.standard_normal(len(c))
    )
    parts.append(
        (
            c,
            shortly_after(e_time[last_pv], c, 30, 1800),
            np.clip(np.round(latent), 1, 5),
            "csat",
            "consideration",
            "product_view",
        )
    )

    n = len(first_seen)
    c = np.flatnonzero(rng.random(n) < fb["nps_rate"])
    t = first_seen[c] + (rng.random(len(c)) * (stop[c] - first_seen[c])).astype(np.int64)
    spec = fb["nps"]
    latent = (
        spec["intercept"]
        + spec["satisfaction"] * satisfaction[c]
        + spec["noise_sd"] * rng.standard_normal(len(c))
    )
    parts.append((c, t, np.clip(np.round(latent), 0, 10), "nps", "advocacy", "review"))

    cust = np.concatenate([p[0] for p in parts])
    time = np.concatenate([p[1] for p in parts])
    score = np.concatenate([p[2] for p in parts]).astype(np.int64)
    kind = np.concatenate([np.full(len(p[0]), k) for k, p in enumerate(parts)])
    o = np.lexsort((kind, time, cust))
    scales, stages, touch = (np.array([p[i] for p in parts]) for i in (3, 4, 5))
    kind = kind[o]
    return pd.DataFrame(
        {
            "customer_id": _take_str(ids, cust[o]),
            "timestamp": to_ts(time[o]),
            "score": score[o],
            "scale": pd.array(scales[kind], dtype="str"),
            "stage": pd.array(stages[kind], dtype="str"),
            "touchpoint": pd.array(touch[kind], dtype="str"),
        }
    )


def _costs(rng, events: pd.DataFrame, t0: pd.Timestamp, t1: pd.Timestamp) -> pd.DataFrame:
    """Monthly spend per paid channel: sessions brought × cost per visit × lognormal noise."""
    periods = pd.period_range(t0, t1 - pd.Timedelta(seconds=1), freq="M").astype(str)
    first = _group_starts(events["session_id"].to_numpy())
    sess = events.loc[first, ["channel", "timestamp"]]
    sess = sess[sess["channel"].isin(PAID_CHANNELS)]
    counts = pd.crosstab(sess["channel"], sess["timestamp"].dt.strftime("%Y-%m")).reindex(
        index=list(PAID_CHANNELS), columns=list(periods), fill_value=0
    )
    cpv = np.array([_COST_PER_VISIT[c] for c in PAID_CHANNELS])[:, None]
    noise = np.exp(_COST_NOISE_SD * rng.standard_normal(counts.shape))
    spend = np.round(counts.to_numpy() * cpv * noise, 2)
    return pd.DataFrame(
        {
            "channel": pd.array(np.repeat(list(PAID_CHANNELS), len(periods)), dtype="str"),
            "period": pd.array(np.tile(list(periods), len(PAID_CHANNELS)), dtype="str"),
            "spend": spend.ravel().astype(float),
        }
    )


def _params(n: int, seed: int, t0: pd.Timestamp, t1: pd.Timestamp) -> dict:
    """The planted parameters as a JSON-serializable dict."""
    personas = {}
    for name in PERSONAS:
        s = _PERSONA_SPECS[name]
        personas[name] = {
            "weight": s["weight"],
            "age_mean": s["age_mean"],
            "age_sd": s["age_sd"],
            "plan_probs": dict(zip(PLANS, s["plan"])),
            "device_probs": dict(zip(DEVICES, s["device"])),
            "acquisition_channel_probs": dict(zip(CHANNELS, s["acquisition"])),
            "return_channel_probs": dict(zip(CHANNELS, s["returning"])),
            **{
                k: s[k]
                for k in (
                    "sessions_per_30d",
                    "p_consider",
                    "p_more_views",
                    "p_search",
                    "p_wishlist",
                    "p_cart",
                    "p_checkout",
                    "aov",
                    "satisfaction_mean",
                    "churn_hazard_per_day",
                )
            },
        }
    return json.loads(
        json.dumps(
            {
                "seed": int(seed),
                "n_customers": int(n),
                "start": t0.isoformat(),
                "end": t1.isoformat(),
                "events": list(EVENTS),
                "channels": list(CHANNELS),
                "personas": personas,
                "channel_effects": {
                    t: {c: float(_CHANNEL_EFFECTS[t].get(c, 1.0)) for c in CHANNELS}
                    for t in _CHANNEL_EFFECTS
                },
                "channel_effect_steps": {
                    "awareness->consideration": "entry -> product_view",
                    "consideration->purchase": "product_view -> add_to_cart",
                },
                "p_purchase_after_checkout": _P_PURCHASE_AFTER_CHECKOUT,
                "friction": dict(_FRICTION),
                "checkout": {"unit": "session", **_CHECKOUT},
                "revenue_sigma": _REVENUE_SIGMA,
                "sessions": {
                    "first_seen_share_of_range": _FIRST_SEEN_SHARE,
                    "min_gap_seconds": _MIN_SESSION_GAP,
                    "event_gap_seconds": [_MIN_EVENT_GAP, _MAX_EVENT_GAP],
                    "rate_heterogeneity": "gamma(shape=6, scale=1/6)",
                    "max_product_views": _MAX_VIEWS,
                    "ad_entry_channels": list(AD_ENTRY_CHANNELS),
                },
                "satisfaction": {
                    "noise_sd": _SATISFACTION_SD,
                    "delivery_issue_shift": _DELIVERY_SATISFACTION_SHIFT,
                },
                "delivery_issue_rate": _DELIVERY_ISSUE_RATE,
                "churn": {
                    "model": "constant hazard per day from first_seen: "
                    "base[persona] * exp(beta_satisfaction*satisfaction + beta_delivery_issue*delivery_issue)",
                    **_CHURN,
                    "base_hazard_per_day": {
                        p: _PERSONA_SPECS[p]["churn_hazard_per_day"] for p in PERSONAS
                    },
                },
                "advocacy": _ADVOCACY,
                "support": _SUPPORT,
                "feedback": _FEEDBACK,
                "cost_per_visit": _COST_PER_VISIT,
                "cost_noise_sd": _COST_NOISE_SD,
                "paid_channels": list(PAID_CHANNELS),
            }
        )
    )


def _check_stage_map(stage_map) -> None:
    from cjlib.stagemap import StageMap, load_stage_map

    sm = stage_map if isinstance(stage_map, StageMap) else load_stage_map(stage_map)
    unknown = sorted(set(EVENTS) - set(sm.known_events))
    if unknown:
        raise ValueError(
            f"stage_map does not know the generated events {unknown}; known: {sorted(sm.known_events)}"
        )


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Write a synthetic data set: ``python -m cjlib.synth --customers 20000 --seed 0 --out data/sample``.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success.
    """
    parser = argparse.ArgumentParser(
        prog="python -m cjlib.synth", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--customers", type=int, default=20_000, help="number of customers (default 20000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--start", default="2025-01-01", help="first day of the range (default 2025-01-01)"
    )
    parser.add_argument(
        "--end", default="2026-01-01", help="end of the range, exclusive (default 2026-01-01)"
    )
    parser.add_argument(
        "--out", default="data/sample", help="output folder (relative: the current folder if it exists there, else the project root)"
    )
    args = parser.parse_args(argv)
    data = generate(args.customers, args.seed, start=args.start, end=args.end)
    out = resolve(args.out)
    data.write(out)
    print(f"wrote {len(data.events):,} events for {len(data.customers):,} customers to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
