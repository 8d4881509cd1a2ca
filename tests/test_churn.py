"""Tests for cjlib.bgnbd and cjlib.churn: published CDNOW fit, leakage, labels, evaluation, planted drivers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cjlib.bgnbd import BGNBD, bgnbd_log_likelihood, fit_bgnbd, rfm_summary

DATA = Path(__file__).parent / "data" / "cdnow"


def _sig3(v: float) -> float:
    return float(f"{v:.3g}")


# ---------------------------------------------------------------------------------------------- BG/NBD
@pytest.fixture(scope="module")
def cdnow():
    return pd.read_csv(DATA / "cdnow_customers_summary.csv")


@pytest.fixture(scope="module")
def cdnow_fit(cdnow):
    return fit_bgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"], time_unit="weeks")


def test_bgnbd_reproduces_fader_hardie_lee_cdnow(cdnow, cdnow_fit):
    assert len(cdnow) == 2357
    m = cdnow_fit
    # Fader, Hardie & Lee (2005): r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4
    assert _sig3(m.r) == 0.243
    assert _sig3(m.alpha) == 4.41
    assert _sig3(m.a) == 0.793
    assert _sig3(m.b) == 2.43
    assert round(m.alpha, 3) == 4.414 and round(m.b, 3) == 2.426
    assert m.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert m.converged and m.n_customers == 2357 and m.time_unit == "weeks"
    assert bgnbd_log_likelihood([m.r, m.alpha, m.a, m.b], cdnow["frequency"], cdnow["recency"],
                                cdnow["T"]) == pytest.approx(m.log_likelihood, rel=1e-12)


def test_bgnbd_conditional_expectations_match_the_paper(cdnow_fit):
    m = cdnow_fit
    # FHL 2005 §4: customer with x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in the next 39 weeks
    assert m.expected_purchases(39, 2, 30.43, 38.86).item() == pytest.approx(1.226, abs=5e-4)
    # P(alive) by hand: 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))**(r+x))
    odds = m.a / (m.b + 1) * ((m.alpha + 38.86) / (m.alpha + 30.43)) ** (m.r + 2)
    assert m.p_alive(2, 30.43, 38.86).item() == pytest.approx(1 / (1 + odds), rel=1e-12)
    # one-time buyers are "alive" with probability 1 whatever their age: why P(alive) ranks them badly
    assert np.all(m.p_alive([0, 0], [0, 0], [1.0, 500.0]) == 1.0)
    # P(no purchase) for x = 0: ((alpha+T)/(alpha+T+t))**r, rising with T
    p0 = m.p_no_purchase(39, [0, 0], [0, 0], [1.0, 38.0])
    assert p0[0] == pytest.approx(((m.alpha + 1) / (m.alpha + 40)) ** m.r, rel=1e-12)
    assert p0[1] > p0[0]


def test_bgnbd_p_no_purchase_matches_simulation():
    """Simulate the BG/NBD story and compare P(no purchase in the window) by group with the model's."""
    rng = np.random.default_rng(0)
    r, alpha, a, b = 0.6, 5.0, 0.8, 2.5
    n, T, t = 200_000, 30.0, 20.0
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    # simulate up to T + t: purchase times; after each (repeat) purchase drop out with prob p
    x = np.zeros(n, int)
    t_x = np.zeros(n)
    now = np.zeros(n)
    alive = np.ones(n, bool)
    future = np.zeros(n, int)
    active = np.ones(n, bool)
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1 / lam[idx])
        in_cal = now[idx] <= T
        in_win = (now[idx] > T) & (now[idx] <= T + t)
        c = idx[in_cal & alive[idx]]
        x[c] += 1
        t_x[c] = now[c]
        w = idx[in_win & alive[idx]]
        future[w] += 1
        done = idx[(now[idx] > T + t) | ~alive[idx]]
        active[done] = False
        buy = idx[(in_cal | in_win) & alive[idx]]
        alive[buy] = rng.random(len(buy)) >= p[buy]
        active[buy[~alive[buy]]] = False
    m = BGNBD(r=r, alpha=alpha, a=a, b=b, time_unit="weeks", log_likelihood=np.nan, n_customers=n,
              converged=True)
    score = m.p_no_purchase(t, x, t_x, np.full(n, T))
    bins = np.quantile(score, np.linspace(0, 1, 6))
    grp = np.clip(np.searchsorted(bins, score, side="right") - 1, 0, 4)
    for g in range(5):
        sel = grp == g
        assert (future[sel] == 0).mean() == pytest.approx(score[sel].mean(), abs=0.01)
    exp_n = m.expected_purchases(t, x, t_x, np.full(n, T))
    assert future.mean() == pytest.approx(exp_n.mean(), rel=0.03)


def test_rfm_summary_by_hand():
    ev = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "b", "c"],
        "timestamp": pd.to_datetime(["2025-01-01 08:00", "2025-01-01 20:00", "2025-01-08 10:00",
                                     "2025-01-20 10:00", "2025-01-05 00:00", "2025-01-06 00:00", "2025-01-10 00:00"]),
        "event": ["purchase", "purchase", "purchase", "purchase", "page_view", "purchase", "page_view"],
    })
    s = rfm_summary(ev, cutoff="2025-01-15", time_unit="days")
    # a: purchase days 01-01 (twice, one transaction), 01-08; 01-20 is after the cutoff
    assert s.loc["a"].tolist() == [1, 7.0, 14.0]
    assert s.loc["b"].tolist() == [1, 1.0, 10.0]
    assert s.loc["c"].tolist() == [0, 0.0, 5.0]
    p = rfm_summary(ev, cutoff="2025-01-15", activity_events=["purchase"], time_unit="weeks")
    assert p.loc["b"].tolist() == [0, 0.0, pytest.approx(9 / 7)]
    assert p.loc["c"].tolist() == [0, 0.0, pytest.approx(5 / 7)]  # never bought: zero at first event
