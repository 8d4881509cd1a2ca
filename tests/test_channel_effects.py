"""Channel effects on stage transitions: hand cases, the maximum-likelihood fit, planted truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from cjlib.effects import _two_way_poisson, channel_effects
from cjlib.io import ensure_sorted
from cjlib.synth import generate


def _log(rows):
    """rows: (customer, minute, event, channel) → a sorted event log with one session per hour."""
    df = pd.DataFrame(rows, columns=["customer_id", "minute", "event", "channel"])
    df["timestamp"] = pd.Timestamp("2025-01-01") + pd.to_timedelta(df.pop("minute"), unit="min")
    return ensure_sorted(df.assign(event=df["event"].astype("category")))


def test_sessions_population_and_outcome_by_hand():
    ev = _log([
        # a: visit 1 by social, views a product (advances awareness → consideration)
        ("a", 0, "page_view", "social"), ("a", 1, "product_view", "social"),
        # a: visit 2 by email buys (consideration → purchase)
        ("a", 120, "page_view", "email"), ("a", 121, "purchase", "email"),
        # b: visit by display does not go further; visit 2 by email views
        ("b", 0, "ad_click", "display"), ("b", 200, "page_view", "email"), ("b", 201, "product_view", "email"),
    ])
    r = channel_effects(ev, transitions=["awareness>consideration", "consideration>purchase"])
    aw = r[r.transition == "awareness > consideration"].set_index("channel")
    assert aw["sessions"].to_dict() == {"social": 1, "email": 1, "display": 1}
    assert aw["advanced"].to_dict() == {"social": 1, "email": 1, "display": 0}
    # unadjusted: rate ÷ overall rate (2/3)
    assert aw.loc["social", "effect_unadjusted"] == pytest.approx(1.5)
    co = r[r.transition == "consideration > purchase"].set_index("channel")
    assert co["sessions"].to_dict() == {"email": 1} and co.loc["email", "advanced"] == 1


def test_adjustment_undoes_simpson():
    """Within each segment email doubles the rate; the crude ratio is reversed by who uses email."""
    rng_rows = []
    def add(seg, channel, n, k):
        for i in range(n):
            cid = f"{seg}{channel}{i}"
            rng_rows.append((cid, 0, "product_view", "direct"))  # an earlier visit: now considering
            rng_rows.append((cid, 120, "product_view", channel))
            if i < k:
                rng_rows.append((cid, 121, "purchase", channel))
    add("lo", "email", 400, 40)    # low-propensity segment uses email: 10 %
    add("lo", "social", 100, 5)    # 5 %
    add("hi", "email", 100, 60)    # high-propensity segment: 60 %
    add("hi", "social", 400, 120)  # 30 %
    ev = _log(rng_rows)
    seg = pd.Series({c: c[:2] for c in ev["customer_id"].unique()})
    crude = channel_effects(ev, transitions=["consideration>purchase"]).set_index("channel")
    adj = channel_effects(ev, by=seg, transitions=["consideration>purchase"]).set_index("channel")
    assert crude.loc["email", "effect"] < crude.loc["social", "effect"]  # 100/500 vs 125/500
    assert set(crude.index) == {"email", "social"}  # the first visits are awareness-stage sessions
    assert adj.loc["email", "effect"] / adj.loc["social", "effect"] == pytest.approx(2.0, rel=1e-6)
    # session-weighted mean of the effects is 1
    assert np.average(crude["effect"], weights=crude["sessions"]) == pytest.approx(1.0)


def test_iterative_fit_is_the_maximum_likelihood():
    rng = np.random.default_rng(4)
    seg = rng.integers(0, 3, 600)
    ch = rng.integers(0, 4, 600)
    y = (rng.random(600) < np.array([0.1, 0.3, 0.5])[seg] * np.array([0.5, 1.0, 1.2, 0.8])[ch]).astype(float)
    eb = _two_way_poisson(seg, ch, y, 3, 4)

    def nll(theta):
        a, b = theta[:3], np.r_[0.0, theta[3:]]
        mu = np.exp(a[seg] + b[ch])
        return float(np.sum(mu - y * np.log(mu)))

    fit = minimize(nll, np.zeros(6), method="BFGS", options={"gtol": 1e-10})
    b = np.exp(np.r_[0.0, fit.x[3:]])
    assert eb / eb[0] == pytest.approx(b / b[0], rel=1e-4)


@pytest.fixture(scope="module")
def planted():
    d = generate(n_customers=12000, seed=5)
    ev = ensure_sorted(d.events.assign(event=d.events["event"].astype("category")))
    return d, ev


def _planted_session_effects(params, transition):
    fx = params["channel_effects"]
    aw = fx["awareness->consideration"]
    if transition == "awareness > consideration":
        return aw
    # a customer already considering must view a product again in the visit, then add to cart
    return {c: aw[c] * fx["consideration->purchase"][c] for c in aw}


@pytest.mark.parametrize("transition", ["awareness > consideration", "consideration > purchase"])
def test_planted_channel_effects_come_out_in_the_planted_order(planted, transition):
    d, ev = planted
    personas = d.truth.set_index("customer_id")["persona"]
    got = channel_effects(ev, by=personas, transitions=[transition.replace(" ", "")]).set_index("channel")
    truth = _planted_session_effects(d.params, transition)
    est = got["effect"]
    # every pair whose planted effects differ by 25 % or more is ordered as planted
    for a in truth:
        for b in truth:
            if truth[a] >= 1.25 * truth[b]:
                assert est[a] > est[b], (a, b, est[a], est[b])
    # and the strength is recovered: relative effects within 25 % of the planted ones
    rel_est = est / est["direct"]
    for c, v in truth.items():
        assert rel_est[c] == pytest.approx(v / truth["direct"], rel=0.25), c
    # without the adjustment the confounding shows (who uses referral drives its crude rate down)
    crude = channel_effects(ev, transitions=[transition.replace(" ", "")]).set_index("channel")["effect"]
    if transition == "consideration > purchase":
        assert crude["referral"] < crude["direct"] and est["referral"] > est["direct"]


def test_bootstrap_is_seeded_and_covers(planted):
    _, ev = planted
    sub = ev[ev["customer_id"] < "C002000"].reset_index(drop=True)
    a = channel_effects(sub, transitions=["awareness>consideration"], n_boot=30, seed=1)
    b = channel_effects(sub, transitions=["awareness>consideration"], n_boot=30, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert ((a["lower"] <= a["effect"]) & (a["effect"] <= a["upper"])).all()


def test_bad_arguments(planted):
    _, ev = planted
    with pytest.raises(ValueError, match="by 'nope'"):
        channel_effects(ev.head(100), by="nope")
    with pytest.raises(ValueError, match="stage names"):
        channel_effects(ev.head(100), transitions=["awareness>nowhere"])


def test_planted_order_with_personas_found_from_the_data(planted):
    """The notebook's path: personas fitted by cjlib.personas (not the planted labels) as the adjustment."""
    from cjlib.features import customer_features
    from cjlib.personas import fit_personas

    d, ev = planted
    fitted = fit_personas(customer_features(ev, customers=d.customers), k=4, n_boot=2, seed=0)
    got = channel_effects(ev, by=fitted.persona_.astype(str), transitions=["consideration>purchase"])
    est = got.set_index("channel")["effect"]
    truth = _planted_session_effects(d.params, "consideration > purchase")
    for a in truth:
        for b in truth:
            if truth[a] >= 1.25 * truth[b]:
                assert est[a] > est[b], (a, b, est[a], est[b])
