"""The simulation of :mod:`cjlib.synth`: customers, their sessions, the in-session journey, the sessions
after purchases (reviews, referrals, support contacts) and the final timeline of events.

Every step draws from the one generator it is given, in a fixed order: the same seed gives the same sample.
Times are whole seconds since the start of the simulated range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjlib.synth.config import (
    _AB_TEST,
    _ADVOCACY,
    _CHECKOUT,
    _CHURN,
    _DAY,
    _DELIVERY_ISSUE_RATE,
    _DELIVERY_SATISFACTION_SHIFT,
    _FIRST_SEEN_SHARE,
    _FRICTION,
    _GENDER_P,
    _MAX_EVENT_GAP,
    _MAX_VIEWS,
    _MIN_EVENT_GAP,
    _MIN_SESSION_GAP,
    _P_PURCHASE_AFTER_CHECKOUT,
    _REGION_P,
    _REVENUE_SIGMA,
    _SATISFACTION_SD,
    _SUPPORT,
    AD_CLICK,
    AD_ENTRY_CHANNELS,
    ADD_TO_CART,
    BEGIN_CHECKOUT,
    CHANNELS,
    DEVICES,
    GENDERS,
    PAGE_VIEW,
    PAYMENT_ERROR,
    PERSONAS,
    PRODUCT_VIEW,
    PURCHASE,
    REFERRAL,
    REGIONS,
    REVIEW,
    SEARCH,
    SUPPORT_CONTACT,
    WISHLIST,
    _channel_multipliers,
    _spec_array,
    _spec_matrix,
)


# --------------------------------------------------------------------------------------------------
# Array helpers
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


# --------------------------------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Customers:
    """One entry per customer (arrays of codes and seconds); ``stop`` is the exclusive end of activity."""

    persona: np.ndarray
    age: np.ndarray
    gender: np.ndarray
    region: np.ndarray
    plan: np.ndarray
    device: np.ndarray
    acquisition: np.ndarray
    delivery: np.ndarray
    satisfaction: np.ndarray
    first_seen: np.ndarray
    churn_at: np.ndarray
    churned: np.ndarray
    stop: np.ndarray
    variant: np.ndarray | None = None  # codes into VARIANTS (0 control, 1 treatment); None: no A/B test

    @property
    def mobile(self) -> np.ndarray:
        return self.device == DEVICES.index("mobile")

    @property
    def treated(self) -> np.ndarray:
        """Whether each customer is in the treatment (all False without an A/B test)."""
        return np.zeros(len(self.persona), bool) if self.variant is None else self.variant == 1


def _draw_variants(seed: int, n: int, treatment_share: float | None) -> np.ndarray | None:
    """The A/B assignment of ``n`` customers (1 = treatment with probability ``treatment_share``), drawn
    from a stream of its own so that it shifts no other draw; ``None`` when ``treatment_share`` is None."""
    if treatment_share is None:
        return None
    u = np.random.default_rng([seed, _AB_TEST["stream"]]).random(n)
    return (u < treatment_share).astype(np.int8)


def _draw_customers(rng: np.random.Generator, n: int, span: int, variant: np.ndarray | None = None) -> _Customers:
    """Persona, attributes, latent satisfaction, delivery issue, first visit and churn of ``n`` customers
    (``variant``: their A/B assignment, drawn elsewhere, or None)."""
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
    plan = _draw_categorical(rng, _spec_matrix("plan"), persona)
    device = _draw_categorical(rng, _spec_matrix("device"), persona)
    acquisition = _draw_categorical(rng, _spec_matrix("acquisition"), persona)

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
    churn_at = first_seen + life
    churned = churn_at < span
    return _Customers(
        persona=persona,
        age=age,
        gender=gender,
        region=region,
        plan=plan,
        device=device,
        acquisition=acquisition,
        delivery=delivery,
        satisfaction=satisfaction,
        first_seen=first_seen,
        churn_at=churn_at,
        churned=churned,
        stop=np.where(churned, churn_at, span),
        variant=variant,
    )


# --------------------------------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Sessions:
    """Sessions (``cust``, ``start``, ``channel``) and their events (``session``: index into the sessions,
    ``code``, ``offset`` in seconds from the session start, ``revenue``), events sorted by session."""

    cust: np.ndarray
    start: np.ndarray
    channel: np.ndarray
    session: np.ndarray
    code: np.ndarray
    offset: np.ndarray
    revenue: np.ndarray


def _regular_sessions(rng: np.random.Generator, customers: _Customers) -> _Sessions:
    """Sessions at each customer's rate until churn or the end, with their in-session journeys and revenue.

    The first session starts at ``first_seen`` on the acquisition channel; later ones use return channels.
    """
    persona, first_seen, stop = customers.persona, customers.first_seen, customers.stop
    rate = _spec_array("sessions_per_30d")[persona] * rng.gamma(6.0, 1 / 6.0, len(persona))
    n_sess = 1 + rng.poisson(rate * (stop - first_seen) / (30 * _DAY))
    cust = np.repeat(np.arange(len(persona)), n_sess)
    first = _group_starts(cust)
    lo = first_seen[cust]
    start = np.where(first, lo, lo + (rng.random(len(cust)) * (stop[cust] - lo)).astype(np.int64))
    start = start[np.lexsort((start, cust))]  # the first session (at first_seen) stays first
    channel = np.where(
        first,
        customers.acquisition[cust],
        _draw_categorical(rng, _spec_matrix("returning"), persona[cust]),
    )
    session, code = _simulate_sessions(rng, persona[cust], channel, customers.mobile[cust], customers.treated[cust])
    offset = _offsets(rng, session)
    revenue = np.full(len(session), np.nan)
    buy = np.flatnonzero(code == PURCHASE)
    revenue[buy] = _order_values(rng, _spec_array("aov")[persona[cust[session[buy]]]])
    return _Sessions(cust, start, channel, session, code, offset, revenue)


def _order_values(rng: np.random.Generator, aov: np.ndarray) -> np.ndarray:
    """Lognormal order values with mean ``aov`` (rounded to cents, at least 0.50)."""
    noise = _REVENUE_SIGMA * rng.standard_normal(len(aov))
    return np.round(np.exp(np.log(aov) - _REVENUE_SIGMA**2 / 2 + noise), 2).clip(0.5, None)


def _days_later(rng: np.random.Generator, times: np.ndarray, delay_days) -> np.ndarray:
    """``times`` plus a uniform delay between ``delay_days[0]`` and ``delay_days[1]`` days."""
    lo, hi = delay_days
    return times + (rng.uniform(lo, hi, len(times)) * _DAY).astype(np.int64)


def _after_purchase_sessions(
    rng: np.random.Generator, customers: _Customers, regular: _Sessions
) -> _Sessions:
    """Advocacy sessions (a review, a referral or both) and support sessions (one or two contacts) after
    purchases: advocacy grows with satisfaction, support with a delivery issue."""
    buy = np.flatnonzero(regular.code == PURCHASE)
    b_cust = regular.cust[regular.session[buy]]
    b_time = regular.start[regular.session[buy]] + regular.offset[buy]
    sat = customers.satisfaction[b_cust]
    p_review = 1 / (1 + np.exp(-(_ADVOCACY["review_intercept"] + _ADVOCACY["review_slope"] * sat)))
    review = rng.random(len(buy)) < p_review
    referral = rng.random(len(buy)) < _ADVOCACY["referral_share"] * p_review
    adv_time = _days_later(rng, b_time, _ADVOCACY["delay_days"])
    p_sup = np.where(
        customers.delivery[b_cust],
        _SUPPORT["p_after_purchase_delivery_issue"],
        _SUPPORT["p_after_purchase_other"],
    )
    support = rng.random(len(buy)) < p_sup
    support2 = support & (rng.random(len(buy)) < _SUPPORT["p_second_contact"])
    sup_time = _days_later(rng, b_time, _SUPPORT["delay_days"])

    # advocacy sessions then support sessions; events listed in session order
    a_idx, u_idx = np.flatnonzero(review | referral), np.flatnonzero(support)
    xa = np.arange(len(a_idx))
    xu = len(a_idx) + np.arange(len(u_idx))
    n_review, n_referral, n_second = (
        review[a_idx].sum(),
        referral[a_idx].sum(),
        support2[u_idx].sum(),
    )
    session = np.concatenate([xa[review[a_idx]], xa[referral[a_idx]], xu, xu[support2[u_idx]]])
    code = np.concatenate(
        [
            np.full(n_review, REVIEW),
            np.full(n_referral, REFERRAL),
            np.full(len(u_idx) + n_second, SUPPORT_CONTACT),
        ]
    ).astype(np.int8)
    rank = np.concatenate(
        [np.zeros(n_review), np.ones(n_referral), np.zeros(len(u_idx)), np.ones(n_second)]
    )
    o = np.lexsort((rank, session))
    session, code = session[o], code[o]
    return _Sessions(
        cust=np.concatenate([b_cust[a_idx], b_cust[u_idx]]),
        start=np.concatenate([adv_time[a_idx], sup_time[u_idx]]),
        channel=np.concatenate(
            [
                np.full(len(a_idx), CHANNELS.index(_ADVOCACY["channel"])),
                np.full(len(u_idx), CHANNELS.index(_SUPPORT["channel"])),
            ]
        ),
        session=session,
        code=code,
        offset=_offsets(rng, session),
        revenue=np.full(len(session), np.nan),
    )


# --------------------------------------------------------------------------------------------------
# The timeline
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Timeline:
    """The kept events sorted by (customer, time): ``session`` numbers sessions in customer/time order."""

    cust: np.ndarray
    time: np.ndarray
    code: np.ndarray
    revenue: np.ndarray
    channel: np.ndarray
    session: np.ndarray


def _push_apart(cust: np.ndarray, start: np.ndarray, duration: np.ndarray):
    """Session starts pushed later so each starts at least 2 h after the previous one of its customer ends.

    Returns the final starts and each session's position in customer/time order.
    """
    s_order = np.lexsort((np.arange(len(cust)), start, cust))
    rank = np.empty_like(s_order)
    rank[s_order] = np.arange(len(s_order))
    cust_o, start_o, dur_o = cust[s_order], start[s_order], duration[s_order]
    shift = _within_group_cumsum_exclusive(dur_o + _MIN_SESSION_GAP, _group_starts(cust_o))
    pushed = pd.Series(start_o - shift).groupby(cust_o).cummax().to_numpy() + shift
    final = np.empty_like(pushed)
    final[s_order] = pushed
    return final, rank


def _timeline(customers: _Customers, regular: _Sessions, extra: _Sessions) -> _Timeline:
    """All sessions placed in time, events cut at churn or the end of the range, sorted."""
    cust = np.concatenate([regular.cust, extra.cust])
    channel = np.concatenate([regular.channel, extra.channel])
    e_sess = np.concatenate([regular.session, len(regular.cust) + extra.session])
    e_code = np.concatenate([regular.code, extra.code])
    e_off = np.concatenate([regular.offset, extra.offset])
    e_rev = np.concatenate([regular.revenue, extra.revenue])
    duration = np.zeros(len(cust), dtype=np.int64)
    np.maximum.at(duration, e_sess, e_off)
    start, rank = _push_apart(cust, np.concatenate([regular.start, extra.start]), duration)

    e_cust = cust[e_sess]
    e_time = start[e_sess] + e_off
    keep = e_time < customers.stop[e_cust]
    e_sess, e_code, e_rev, e_cust, e_time = (
        a[keep] for a in (e_sess, e_code, e_rev, e_cust, e_time)
    )
    o = np.lexsort((e_time, e_cust))
    e_sess, e_code, e_rev, e_cust, e_time = (a[o] for a in (e_sess, e_code, e_rev, e_cust, e_time))
    # session numbers in customer/time order, only for sessions that kept events
    sess_no = np.cumsum(_group_starts(rank[e_sess])) - 1
    return _Timeline(e_cust, e_time, e_code, e_rev, channel[e_sess], sess_no)


# --------------------------------------------------------------------------------------------------
# The in-session state machine
# --------------------------------------------------------------------------------------------------
def _simulate_sessions(rng, persona, channel, mobile, treated=None):
    """Event sequences of all regular sessions at once (loops over journey steps, never over sessions).

    Parameters
    ----------
    rng : numpy.random.Generator
    persona, channel : ndarray of int
        Persona and channel code of each session.
    mobile : ndarray of bool
        Whether the session's customer is on mobile.
    treated : ndarray of bool, optional
        Whether the session's customer is in the A/B treatment (its begin_checkout probability after
        add_to_cart gains the planted lift); default none.

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
    p = _spec_array("p_checkout")[persona[carted]]
    if treated is not None:
        p = np.minimum(p + _AB_TEST["lift"] * treated[carted], 1.0)
    checking = carted[rng.random(len(carted)) < p]

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
