"""Tests for cjlib.value (Gamma-Gamma, customer value, value at risk) and the BG/NBD additions it uses.

References: the published Gamma-Gamma fit on the CDNOW sample (Fader, Hardie & Lee 2005, "RFM and CLV:
using iso-value curves"), and lifetimes 0.11.3 on the CDNOW master log's calibration period — numbers,
command and script in tests/data/cdnow/README.md.
"""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from cjlib import bgnbd as bgnbd_module
from cjlib import value as value_module
from cjlib.bgnbd import BGNBD, fit_bgnbd, hessian_standard_errors, rfm_summary
from cjlib.value import (
    GammaGamma,
    customer_value,
    fit_gamma_gamma,
    spend_frequency_correlation,
    spend_summary,
    value_at_risk,
)

DATA = Path(__file__).parent / "data" / "cdnow"
CUTOFF = "1997-10-01"


def _sig3(v: float) -> float:
    return float(f"{v:.3g}")


# Fader, Hardie & Lee (2005) BG/NBD fit on the 2,357-customer CDNOW sample, weeks (tests/test_churn.py)
FHL_WEEKS = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426, time_unit="weeks", log_likelihood=np.nan,
                  n_customers=2357, converged=True)
FHL_GG = GammaGamma(p=6.25, q=3.74, gamma=15.44, log_likelihood=np.nan, n_customers=946, converged=True)


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sample():
    """The 2,357-customer CDNOW sample with mean repeat spend (ID, x, t_x, T, zbar)."""
    d = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    return d.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"}).set_index("ID")


@pytest.fixture(scope="module")
def master_summaries(cdnow_events):
    """spend_summary at the 1997-10-01 cutoff, T to the last day and T to the cutoff."""
    return {end: spend_summary(cdnow_events, cutoff=CUTOFF, activity_events=["purchase"], observation_end=end)
            for end in ("last_day", "cutoff")}


@pytest.fixture(scope="module")
def master_fits(master_summaries):
    return {end: fit_bgnbd(s["frequency"], s["recency"], s["T"], time_unit="days")
            for end, s in master_summaries.items()}


# ---------------------------------------------------------------------------------------------- Gamma-Gamma
def test_gamma_gamma_reproduces_the_published_cdnow_fit(sample):
    assert len(sample) == 2357 and (sample["frequency"] > 0).sum() == 946
    gg = fit_gamma_gamma(sample["frequency"], sample["monetary_value"])
    # Fader, Hardie & Lee (2005): p = 6.25, q = 3.74, gamma = 15.44 on the 946 repeat buyers
    assert (_sig3(gg.p), _sig3(gg.q), _sig3(gg.gamma)) == (6.25, 3.74, 15.4)
    assert gg.converged and gg.n_customers == 946
    # lifetimes 0.11.3 GammaGammaFitter on the same data (tests/data/cdnow/README.md)
    assert gg.params == pytest.approx({"p": 6.248802, "q": 3.744588, "gamma": 15.447748}, rel=1e-5)
    assert gg.log_likelihood == pytest.approx(-4055.9232, abs=1e-3)
    assert gg.standard_errors == pytest.approx({"p": 1.189687, "q": 0.290166, "gamma": 4.159994}, rel=2e-3)
    assert gg.mean_spend == pytest.approx(gg.p * gg.gamma / (gg.q - 1), rel=1e-12)
    # the spend-frequency correlation the report states (Fader & Hardie report 0.11)
    assert spend_frequency_correlation(sample) == pytest.approx(0.1139, abs=5e-5)


def test_gamma_gamma_recovers_a_planted_model():
    rng = np.random.default_rng(7)
    p, q, gamma, n = 4.0, 5.0, 20.0, 4000
    x = rng.integers(1, 8, n)
    nu = rng.gamma(q, 1 / gamma, n)
    zbar = rng.gamma(p * x, 1 / (nu * x))  # the mean of x Gamma(p, nu) spends
    gg = fit_gamma_gamma(np.r_[x, [0, 0]], np.r_[zbar, [0.0, np.nan]])  # x = 0 rows are left out
    assert gg.n_customers == n
    for k, truth in {"p": p, "q": q, "gamma": gamma}.items():
        assert abs(gg.params[k] - truth) < 3 * gg.standard_errors[k], k
    assert gg.mean_spend == pytest.approx(p * gamma / (q - 1), rel=0.05)


def test_conditional_expected_spend_by_hand():
    gg = FHL_GG
    pop = 6.25 * 15.44 / 2.74  # 35.2190...
    assert gg.mean_spend == pytest.approx(pop, rel=1e-12)
    got = gg.conditional_expected_spend([0, 0, 2, 10], [np.nan, 99.0, 30.0, 30.0])
    # x = 0: the population mean whatever the recorded spend; x = 2, zbar = 30: 6.25 (15.44 + 60) / 15.24
    assert got[:2].tolist() == [pytest.approx(pop)] * 2
    assert got[2] == pytest.approx(6.25 * 75.44 / 15.24, rel=1e-12) == pytest.approx(30.9383, abs=1e-4)
    # a credibility-weighted average that moves toward the customer's own mean as x grows
    w = 6.25 * 10 / (6.25 * 10 + 2.74)
    assert got[3] == pytest.approx(w * 30 + (1 - w) * pop, rel=1e-12)
    assert abs(got[3] - 30) < abs(got[2] - 30)
    heavy = GammaGamma(p=2.0, q=0.8, gamma=10.0, log_likelihood=np.nan, n_customers=1, converged=True)
    assert np.isnan(heavy.mean_spend)  # q <= 1: no finite population mean
    assert np.isnan(heavy.conditional_expected_spend(0, 0.0)).all()
    with pytest.raises(ValueError, match="must not be negative"):
        gg.conditional_expected_spend([1], [-5.0])


def test_fit_gamma_gamma_refuses_with_a_sentence():
    with pytest.raises(ValueError, match="at least 20 customers with a repeat purchase; this data has 19"):
        fit_gamma_gamma([1] * 19 + [0] * 50, [10.0] * 19 + [0.0] * 50)
    with pytest.raises(ValueError, match="1 customers with a repeat purchase have a mean spend of zero or less"):
        fit_gamma_gamma([2] * 30, [10.0] * 29 + [0.0])
    with pytest.raises(ValueError, match="non-negative integers"):
        fit_gamma_gamma([1.5] * 30, [10.0] * 30)


# ---------------------------------------------------------------------------------------------- Hessian SEs
def test_hessian_standard_errors_not_positive_definite_is_nan():
    # a saddle and a flat direction: no standard errors, not an exception
    assert np.isnan(hessian_standard_errors(lambda p: p[0] ** 2 - p[1] ** 2, [1.0, 1.0])).all()
    assert np.isnan(hessian_standard_errors(lambda p: (p[0] - 1.0) ** 2, [1.0, 2.0])).all()
    # a quadratic with known inverse: H = [[2, 1], [1, 2]] -> inverse diag 2/3
    se = hessian_standard_errors(lambda p: p[0] ** 2 + p[1] ** 2 + p[0] * p[1], [1.0, 1.0])
    assert se == pytest.approx([np.sqrt(2 / 3)] * 2, rel=1e-6)
    m = BGNBD(r=1, alpha=1, a=1, b=1, time_unit="days", log_likelihood=np.nan, n_customers=1, converged=True)
    assert set(m.standard_errors) == {"r", "alpha", "a", "b"} and np.isnan(list(m.standard_errors.values())).all()


# ---------------------------------------------------------------------------------------------- BG/NBD if alive
def test_expected_purchases_if_alive_identity_and_integral():
    m = FHL_WEEKS
    x, t_x, T = np.array([0, 2, 2, 7]), np.array([0, 30.43, 5.0, 38.0]), np.array([20.0, 38.86, 38.86, 38.86])
    alive = m.expected_purchases_if_alive(39, x, t_x, T)
    # Fader, Hardie & Lee (2005) eq. 10 divided by its 1 / P(alive) denominator
    assert alive * m.p_alive(x, t_x, T) == pytest.approx(m.expected_purchases(39, x, t_x, T), rel=1e-12)
    assert alive[1] == alive[2] and alive[2] > m.expected_purchases(39, 2, 5.0, 38.86)  # t_x only moves P(alive)
    # By hand: given alive, lambda ~ Gamma(r + x, alpha + T) and p ~ Beta(a, b + x); an alive customer
    # buys (1 - exp(-lambda p t)) / p times on average, and E over lambda of exp(-lambda p t) is
    # ((alpha + T) / (alpha + T + p t)) ** (r + x).
    for xi, Ti, got in zip(x, T, alive):
        def integrand(p, xi=xi, Ti=Ti):
            stay = ((m.alpha + Ti) / (m.alpha + Ti + p * 39)) ** (m.r + xi)
            return (1 - stay) / p * stats.beta.pdf(p, m.a, m.b + xi)
        want, _ = integrate.quad(integrand, 0, 1, limit=200)
        assert got == pytest.approx(want, rel=1e-6)
    # paper's customer (x = 2, t_x = 30.43, T = 38.86): 1.226 expected; given alive, by P(alive)
    assert alive[1] == pytest.approx(1.226 / m.p_alive(2, 30.43, 38.86).item(), rel=5e-4)


# ---------------------------------------------------------------------------------------------- spend_summary
def _log():
    rows = [("a", "2025-01-01 08:00", "purchase", 10.0), ("a", "2025-01-01 20:00", "purchase", 5.0),
            ("a", "2025-01-03 09:00", "page_view", np.nan), ("a", "2025-01-05 10:00", "purchase", 40.0),
            ("a", "2025-01-09 10:00", "purchase", 20.0), ("a", "2025-01-09 11:00", "purchase", np.nan),
            ("a", "2025-01-20 10:00", "purchase", 100.0),  # after the cutoff
            ("b", "2025-01-05 00:00", "purchase", 7.0), ("c", "2025-01-02 00:00", "page_view", 3.0)]
    ev = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event", "revenue"])
    ev["timestamp"] = pd.to_datetime(ev["timestamp"])
    return ev


def test_spend_summary_by_hand():
    ev = _log()
    s = spend_summary(ev, cutoff="2025-01-15", activity_events=["purchase"])
    # a: purchase days 01-01 (10 + 5, the first occasion, left out), 01-05 (40), 01-09 (20 + missing)
    assert s.loc["a"].tolist() == [2, 8.0, 14.0, True, 30.0]
    assert s.loc["b"].tolist() == [0, 0.0, 10.0, True, 0.0]
    assert s.loc["c"].tolist() == [0, 0.0, 13.0, False, 0.0]
    assert list(s.columns) == ["frequency", "recency", "T", "has_activity", "monetary_value"]
    # every event an occasion: a's page-view day (no revenue) becomes a repeat occasion worth 0
    every = spend_summary(ev, cutoff="2025-01-15")
    assert every.loc["a", ["frequency", "monetary_value"]].tolist() == [3, 20.0]
    # T to the start of the last day before the cutoff; weeks; the requested rows in order
    last = spend_summary(ev, cutoff="2025-01-15", activity_events=["purchase"], observation_end="last_day",
                         time_unit="weeks", customer_ids=["b", "a"])
    assert last.index.tolist() == ["b", "a"]
    assert last.loc["a"].tolist() == [2, pytest.approx(8 / 7), pytest.approx(13 / 7), True, 30.0]
    assert ev.equals(_log())  # the caller's frame is untouched
    nullable = spend_summary(ev.astype({"revenue": "Float64"}), cutoff="2025-01-15", activity_events=["purchase"])
    assert nullable["monetary_value"].tolist() == s["monetary_value"].tolist()  # pd.NA counts as 0 like NaN
    with pytest.raises(ValueError, match="needs a revenue column"):
        spend_summary(ev.drop(columns="revenue"), cutoff="2025-01-15")
    with pytest.raises(ValueError, match="observation_end must be one of"):
        rfm_summary(ev, cutoff="2025-01-15", observation_end="end")


def test_rfm_and_spend_summary_match_lifetimes_on_cdnow_master(master_summaries):
    # lifetimes' summary_data_from_transaction_data, freq "D" (tests/data/cdnow/README.md)
    for end, T_sum in [("last_day", 5_399_736), ("cutoff", 5_423_306)]:
        s = master_summaries[end]
        rep = s[s["frequency"] > 0]
        assert (len(s), len(rep)) == (23_570, 9_451)
        assert (s["frequency"].sum(), s["recency"].sum(), s["T"].sum()) == (24_337, 1_129_644, T_sum)
        assert rep["monetary_value"].sum() == pytest.approx(336_714.287438, abs=1e-5)
        assert (rep["monetary_value"] <= 0).sum() == 1


# ---------------------------------------------------------------------------------------------- BG/NBD vs lifetimes
def test_bgnbd_matches_lifetimes_on_cdnow_master_calibration(master_fits):
    """cjlib's rfm_summary + fit_bgnbd at cutoff 1997-10-01 against lifetimes 0.11.3's BetaGeoFitter.

    The published numbers from tests/data/cdnow/README.md. The acceptance is 2 %; they agree to 1e-4.
    """
    lifetimes = {
        # observation_period_end="1997-09-30": T to the last day, the published convention
        "last_day": ({"r": 0.251624, "alpha": 33.522616, "a": 0.723433, "b": 2.161087},
                     {"r": 0.004202, "alpha": 0.918785, "a": 0.053929, "b": 0.198589}),
        # observation_period_end="1997-10-01": T to the cutoff, cjlib's default
        "cutoff": ({"r": 0.250657, "alpha": 33.354679, "a": 0.746021, "b": 2.216007},
                   {"r": 0.004179, "alpha": 0.913866, "a": 0.055807, "b": 0.204288}),
    }
    for end, (params, ses) in lifetimes.items():
        m = master_fits[end]
        assert m.converged and m.n_customers == 23_570 and m.time_unit == "days"
        assert m.params == pytest.approx(params, rel=1e-4), end
        # Hessian standard errors (lifetimes: autograd Hessian in log-parameters, delta method)
        assert m.standard_errors == pytest.approx(ses, rel=2e-3), end


def test_gamma_gamma_and_clv_match_lifetimes_on_cdnow_master(master_summaries):
    s = master_summaries["last_day"]
    pos = s[s["monetary_value"] > 0]
    gg = fit_gamma_gamma(pos["frequency"], pos["monetary_value"])
    assert gg.n_customers == 9_450
    assert gg.params == pytest.approx({"p": 6.275359, "q": 3.624450, "gamma": 14.983689}, rel=1e-4)
    assert gg.standard_errors == pytest.approx({"p": 0.399698, "q": 0.090553, "gamma": 1.344036}, rel=2e-3)
    # lifetimes' customer_lifetime_value (12 steps of 30 days, monthly rate 1.1 ** (1/12) - 1) with its fits
    bg = BGNBD(r=0.251624, alpha=33.522616, a=0.723433, b=2.161087, time_unit="days", log_likelihood=np.nan,
               n_customers=23_570, converged=True)
    gl = GammaGamma(p=6.275359, q=3.624450, gamma=14.983689, log_likelihood=np.nan, n_customers=9_450,
                    converged=True)
    v = customer_value(bg, gl, s, horizon=360, discount_rate=0.1)
    assert v["clv"].sum() == pytest.approx(768_661.381114, rel=1e-6)
    assert v.loc["00001", "clv"] == pytest.approx(8.732770, rel=1e-6)


# ---------------------------------------------------------------------------------------------- customer_value
def test_customer_value_by_hand():
    m, gg = FHL_WEEKS, FHL_GG
    s = pd.DataFrame({"frequency": [2, 0], "recency": [30.43, 0.0], "T": [38.86, 20.0],
                      "monetary_value": [30.0, 0.0]}, index=pd.Index(["p", "new"], name="customer_id"))
    v = customer_value(m, gg, s, horizon=273, discount_rate=0.1)  # 39 weeks
    assert list(v.columns) == ["p_alive", "expected_purchases", "expected_spend", "expected_value", "clv",
                               "value_if_active"]
    assert v.index.equals(s.index)
    # the paper's customer expects 1.226 purchases in the next 39 weeks, at 6.25 (15.44 + 60) / 15.24 each
    assert v.loc["p", "expected_purchases"] == pytest.approx(1.226, abs=5e-4)
    assert v.loc["p", "expected_spend"] == pytest.approx(30.9383, abs=1e-4)
    assert v.loc["new", "expected_spend"] == pytest.approx(gg.mean_spend)
    assert v["expected_value"].tolist() == pytest.approx((v["expected_purchases"] * v["expected_spend"]).tolist())
    assert (v["value_if_active"] * v["p_alive"]).tolist() == pytest.approx(v["expected_value"].tolist())
    assert v.loc["new", "p_alive"] == 1.0
    # CLV by hand: 30-day steps ending at 30, 60, 75 days, step i discounted by (1 + monthly) ** i
    short = customer_value(m, gg, s.iloc[:1], horizon=75, discount_rate=0.1)
    monthly = 1.1 ** (1 / 12) - 1
    e = [m.expected_purchases(d / 7, 2, 30.43, 38.86).item() for d in (0, 30, 60, 75)]
    want = sum((e[i] - e[i - 1]) / (1 + monthly) ** i for i in (1, 2, 3)) * 30.9383
    assert short.loc["p", "clv"] == pytest.approx(want, rel=1e-5)
    assert short.loc["p", "clv"] < short.loc["p", "expected_value"]
    flat = customer_value(m, gg, s, horizon=75, discount_rate=0.0)
    assert flat["clv"].tolist() == pytest.approx(flat["expected_value"].tolist(), rel=1e-12)


def test_customer_value_respects_the_time_unit():
    weeks = FHL_WEEKS
    days = BGNBD(r=weeks.r, alpha=weeks.alpha * 7, a=weeks.a, b=weeks.b, time_unit="days",
                 log_likelihood=np.nan, n_customers=1, converged=True)
    s_w = pd.DataFrame({"frequency": [2, 0, 5], "recency": [30.43, 0.0, 10.0], "T": [38.86, 20.0, 12.0],
                        "monetary_value": [30.0, 0.0, 12.5]})
    s_d = s_w.assign(recency=s_w["recency"] * 7, T=s_w["T"] * 7)
    v_w = customer_value(weeks, FHL_GG, s_w, horizon=365, discount_rate=0.05)
    v_d = customer_value(days, FHL_GG, s_d, horizon=365, discount_rate=0.05)
    pd.testing.assert_frame_equal(v_w, v_d, rtol=1e-9)
    with pytest.raises(ValueError, match="horizon must be a finite number > 0"):
        customer_value(weeks, FHL_GG, s_w, horizon=0)
    with pytest.raises(ValueError, match="discount_rate must be a finite number >= 0"):
        customer_value(weeks, FHL_GG, s_w, discount_rate=-0.1)
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['monetary_value'\]"):
        customer_value(weeks, FHL_GG, s_w.drop(columns="monetary_value"))


# ---------------------------------------------------------------------------------------------- value at risk
def test_value_at_risk():
    idx = pd.Index(["a", "b", "c"], name="customer_id")
    var = value_at_risk(pd.Series([0.9, 0.2, 0.0], index=idx), pd.Series([10.0, 100.0, 50.0], index=idx))
    assert var.name == "value_at_risk" and var.index.equals(idx)
    assert var.tolist() == pytest.approx([9.0, 20.0, 0.0])
    # ranking by value at risk differs from ranking by risk: b (low risk, high value) comes first
    assert var.sort_values(ascending=False).index[0] == "b"
    assert value_at_risk([0.5], pd.Series([4.0], index=["z"])).index.tolist() == ["z"]
    with pytest.raises(ValueError, match="same index"):
        value_at_risk(pd.Series([0.5], index=["a"]), pd.Series([1.0], index=["b"]))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        value_at_risk([1.2], [1.0])
    with pytest.raises(ValueError, match="has 2 values and value_if_active 1"):
        value_at_risk([0.1, 0.2], [1.0])


def test_spend_frequency_correlation_edge_cases():
    s = pd.DataFrame({"frequency": [0, 1, 2, 3], "monetary_value": [0.0, 10.0, 20.0, 30.0]})
    assert spend_frequency_correlation(s) == pytest.approx(1.0)  # the x = 0 row is left out
    assert np.isnan(spend_frequency_correlation(s.iloc[:3]))
    assert np.isnan(spend_frequency_correlation(s.assign(monetary_value=5.0)))


@pytest.mark.parametrize("mod", [value_module, bgnbd_module], ids=lambda m: m.__name__)
def test_examples_run(mod):
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert res.failed == 0 and res.attempted > 0


def test_horizon_is_a_duration_or_days():
    from cjlib.value import horizon_days

    assert horizon_days(365) == 365.0 and horizon_days("26W") == 182.0
    assert horizon_days(pd.Timedelta(hours=36)) == 1.5 and horizon_days(12.5) == 12.5
    for bad in (0, -3, "0D", "-1D", "soon", None, float("inf")):
        with pytest.raises(ValueError, match="horizon must be"):
            horizon_days(bad)
