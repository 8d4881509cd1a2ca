"""The planted truth of :mod:`cjlib.synth`: vocabularies, persona specifications, channel effects, checkout
friction, churn, advocacy, support, feedback and cost parameters, and their JSON form (``_params``)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

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
VARIANTS = ("control", "treatment")  # the planted A/B test's levels (codes 0 and 1)

_DAY = 86_400
_MIN_SESSION_GAP = 2 * 3600  # seconds between the last event of a session and the next session
_MIN_EVENT_GAP, _MAX_EVENT_GAP = 10, 600  # seconds between events of one session
_MAX_VIEWS = 40

# Persona specifications, one row per parameter and one column per persona (in PERSONAS order):
# loyal_premium, bargain_hunter, window_shopper, social_newcomer.
_SCALARS = {
    "weight": (0.20, 0.30, 0.30, 0.20),
    "age_mean": (55.0, 41.0, 31.0, 22.0),
    "age_sd": (7.0, 6.0, 4.5, 3.0),
    "sessions_per_30d": (0.9, 0.7, 0.6, 0.5),
    "p_consider": (0.90, 0.85, 0.90, 0.50),
    "p_more_views": (0.45, 0.60, 0.80, 0.35),
    "p_search": (0.30, 0.50, 0.30, 0.10),
    "p_wishlist": (0.10, 0.25, 0.30, 0.10),
    "p_cart": (0.50, 0.30, 0.06, 0.12),
    "p_checkout": (0.85, 0.75, 0.50, 0.60),
    "aov": (120.0, 35.0, 60.0, 45.0),
    "satisfaction_mean": (0.8, 0.2, 0.0, -0.4),
    "churn_hazard_per_day": (0.0012, 0.0025, 0.0025, 0.0070),
}
# Categorical probabilities per persona, in the order of PLANS, DEVICES and CHANNELS; params store them
# as {name: probability} dicts.
_PROBABILITIES = {
    "plan": (
        (0.01, 0.04, 0.95),
        (0.03, 0.94, 0.03),
        (0.88, 0.10, 0.02),
        (0.94, 0.05, 0.01),
    ),
    "device": (
        (0.70, 0.20, 0.10),
        (0.45, 0.45, 0.10),
        (0.35, 0.50, 0.15),
        (0.15, 0.80, 0.05),
    ),
    "acquisition": (
        (0.02, 0.08, 0.01, 0.01, 0.40, 0.40, 0.07, 0.01),
        (0.45, 0.03, 0.01, 0.05, 0.08, 0.02, 0.01, 0.35),
        (0.03, 0.66, 0.06, 0.02, 0.02, 0.04, 0.16, 0.01),
        (0.02, 0.03, 0.65, 0.28, 0.005, 0.005, 0.005, 0.005),
    ),
    "returning": (
        (0.01, 0.05, 0.01, 0.01, 0.46, 0.44, 0.01, 0.01),
        (0.35, 0.03, 0.01, 0.03, 0.25, 0.03, 0.01, 0.29),
        (0.02, 0.66, 0.05, 0.02, 0.03, 0.06, 0.15, 0.01),
        (0.02, 0.04, 0.62, 0.22, 0.02, 0.06, 0.01, 0.01),
    ),
}
# Every persona's planted parameters: _PERSONA_SPECS[persona][key].
_PERSONA_SPECS: dict[str, dict] = {
    name: {key: column[i] for key, column in (_SCALARS | _PROBABILITIES).items()}
    for i, name in enumerate(PERSONAS)
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

# The planted A/B test: each customer is assigned once (customer-level randomization), from a random
# stream of its own (numpy's default_rng([seed, stream])), so drawing the assignment moves no other draw;
# the treatment adds `lift` to the session-level probability of one step: begin_checkout after
# add_to_cart (persona base p_checkout 0.50 to 0.85). Nothing else depends on the variant.
_AB_TEST = {
    "column": "variant",
    "levels": list(VARIANTS),
    "control": "control",
    "treatment": "treatment",
    "unit": "customer",
    "from_step": "add_to_cart",
    "to_step": "begin_checkout",
    "lift": 0.06,
    "lift_unit": "session",
    "stream": 0xAB,
}

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


def _spec_array(key: str) -> np.ndarray:
    """One persona parameter as a float array indexed by persona code.

    Parameters
    ----------
    key : str
        A key of ``_PERSONA_SPECS`` holding a number (``"aov"``, ``"p_cart"`` …).

    Returns
    -------
    ndarray
        ``_PERSONA_SPECS[p][key]`` for every persona in :data:`PERSONAS` order.

    Examples
    --------
    >>> _spec_array("weight").tolist()
    [0.2, 0.3, 0.3, 0.2]
    """
    return np.array([_PERSONA_SPECS[p][key] for p in PERSONAS], dtype=float)


def _spec_matrix(key: str) -> np.ndarray:
    """One persona probability vector per row (``"plan"``, ``"device"``, ``"acquisition"``, ``"returning"``).

    Parameters
    ----------
    key : str
        A key of ``_PERSONA_SPECS`` holding a probability vector.

    Returns
    -------
    ndarray
        Shape (number of personas, number of categories).

    Examples
    --------
    >>> _spec_matrix("device").shape
    (4, 3)
    """
    return np.array([_PERSONA_SPECS[p][key] for p in PERSONAS])


def _channel_multipliers(transition: str) -> np.ndarray:
    effects = _CHANNEL_EFFECTS[transition]
    return np.array([effects.get(c, 1.0) for c in CHANNELS])


def _ab_params(variant_split: float | None) -> dict | None:
    """The planted A/B test (``None`` without one): :data:`_AB_TEST` and the treatment share."""
    if variant_split is None:
        return None
    return {**_AB_TEST, "treatment_share": float(variant_split),
            "assignment": f"default_rng([seed, {_AB_TEST['stream']}]).random(n) < treatment_share"}


def _params(n: int, seed: int, t0: pd.Timestamp, t1: pd.Timestamp, variant_split: float | None = None) -> dict:
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
                "ab_test": _ab_params(variant_split),
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
