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
    assert s.loc["a"].tolist() == [1, 7.0, 14.0, True]
    assert s.loc["b"].tolist() == [1, 1.0, 10.0, True]
    assert s.loc["c"].tolist() == [0, 0.0, 5.0, True]
    p = rfm_summary(ev, cutoff="2025-01-15", activity_events=["purchase"], time_unit="weeks")
    assert p.loc["b"].tolist() == [0, 0.0, pytest.approx(9 / 7), True]
    assert p.loc["c"].tolist() == [0, 0.0, pytest.approx(5 / 7), False]  # never bought: zero at first event


# ---------------------------------------------------------------------------------------------- churn
from cjlib import churn  # noqa: E402
from cjlib.errors import DataError  # noqa: E402
from cjlib.synth import generate  # noqa: E402


def _log(rows):
    ev = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event"])
    ev["timestamp"] = pd.to_datetime(ev["timestamp"])
    return ev


@pytest.fixture
def hand_log():
    # cutoff 2025-02-01, window 10 days: [2025-02-01 00:00, 2025-02-11 00:00)
    return _log([
        ("a", "2025-01-05 10:00", "page_view"),
        ("a", "2025-02-01 00:00", "page_view"),   # exactly at the cutoff: inside the window -> active
        ("b", "2025-01-10 10:00", "purchase"),
        ("b", "2025-02-11 00:00", "purchase"),    # exactly at the window end: outside -> churned
        ("c", "2025-01-31 23:59", "page_view"),
        ("c", "2025-02-10 23:59", "page_view"),   # last minute of the window -> active (any event)
        ("d", "2025-02-03 12:00", "purchase"),    # first seen inside the window: excluded
        ("e", "2025-01-20 09:00", "purchase"),
        ("e", "2025-02-05 09:00", "page_view"),   # active, but made no purchase in the window
        ("f", "2025-01-02 08:00", "page_view"),
        ("f", "2025-03-01 08:00", "page_view"),   # data beyond the window
    ])


def test_labels_window_start_inclusive_end_exclusive(hand_log):
    y = churn.label_customers(hand_log, cutoff="2025-02-01", window=10)
    assert y.to_dict() == {"a": 0, "b": 1, "c": 0, "e": 0, "f": 1}
    yp = churn.label_customers(hand_log, cutoff="2025-02-01", window=10, activity_events=["purchase"])
    assert yp.to_dict() == {"a": 1, "b": 1, "c": 1, "e": 1, "f": 1}
    # the same window one day longer catches b's purchase at 2025-02-11 00:00
    assert churn.label_customers(hand_log, cutoff="2025-02-01", window=11,
                                 activity_events="purchase").to_dict()["b"] == 0


def test_make_dataset_by_hand(hand_log):
    X, y = churn.make_dataset(hand_log, cutoff="2025-02-01", window=10)
    assert list(X.index) == ["a", "b", "c", "e", "f"]  # d has no event before the cutoff
    assert X.index.equals(y.index) and y.tolist() == [0, 1, 0, 0, 1]
    assert X.loc["c", "recency_days"] == pytest.approx(1 / 1440)  # one minute before the cutoff
    assert X.loc["a", "n_events"] == 1 and X.loc["b", "n_purchases"] == 1
    assert X.loc["f", "activity_days"] == 1 and X.loc["f", "activity_days_recent"] == 0  # 30 days > 10
    assert "activity_recency_days" not in X.columns  # would repeat recency_days
    # purchase churn: everyone churns in this tiny log -> a clear error instead of a one-class data set
    with pytest.raises(DataError, match="single_class|all 5 customers are churned"):
        churn.make_dataset(hand_log, cutoff="2025-02-01", window=10, activity_events=["purchase"])
    Xp, yp = churn.make_dataset(hand_log, cutoff="2025-02-01", window=11, activity_events=["purchase"])
    assert yp.to_dict() == {"a": 1, "b": 0, "c": 1, "e": 1, "f": 1}
    assert Xp.loc["b", "activity_recency_days"] == pytest.approx(21 + 14 / 24)
    assert np.isnan(Xp.loc["a", "activity_recency_days"])  # never purchased


def test_clear_errors(hand_log):
    with pytest.raises(DataError, match="outside the data"):
        churn.make_dataset(hand_log, cutoff="2024-12-01", window=10)
    with pytest.raises(DataError, match="outside the data"):
        churn.make_dataset(hand_log, cutoff="2025-03-02", window=10)
    with pytest.raises(DataError, match="runs past the end of the data"):
        churn.make_dataset(hand_log, cutoff="2025-02-25", window=10)
    with pytest.raises(DataError, match="no events at all in the churn window"):
        churn.make_dataset(hand_log, cutoff="2025-02-12", window=10)
    with pytest.raises(DataError, match="all 5 customers are churned"):
        churn.make_dataset(hand_log, cutoff="2025-02-01", window=10, activity_events=["purchase"])
    with pytest.raises(ValueError, match="window must be a positive whole number of days"):
        churn.make_dataset(hand_log, cutoff="2025-02-01", window=0)
    with pytest.raises(ValueError, match="window must be a positive whole number of days"):
        churn.label_customers(hand_log, cutoff="2025-02-01", window="36h")
    with pytest.raises(ValueError, match=r"activity_events \['buy'\] do not occur"):
        churn.make_dataset(hand_log, cutoff="2025-02-01", window=10, activity_events=["buy"])
    with pytest.raises(ValueError, match="cutoff must be a date"):
        churn.make_dataset(hand_log, cutoff="not a date", window=10)
    with pytest.raises(ValueError, match="model kind must be one of"):
        churn.make_model("forest")
    with pytest.raises(DataError, match="single class"):
        churn.classification_metrics([1, 1, 1], [0.2, 0.5, 0.9])


def test_default_cutoff_covers_the_window(hand_log):
    cut = churn.default_cutoff(hand_log, 10)
    assert cut == pd.Timestamp("2025-02-20")  # midnight after the last event day (03-02) − 10 days
    churn.label_customers(hand_log, cutoff=cut, window=10)


def test_lift_and_gains_by_hand():
    y = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0]  # 4 churners in 10: base rate 0.4
    score = [0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    lt = churn.lift_table(y, score, n_bins=5)  # bins of 2, highest scores first
    assert lt["churners"].tolist() == [2, 1, 0, 1, 0]
    assert lt["churn_rate"].tolist() == [1.0, 0.5, 0.0, 0.5, 0.0]
    assert lt["lift"].tolist() == pytest.approx([2.5, 1.25, 0.0, 1.25, 0.0])
    assert lt["cum_churners_share"].tolist() == pytest.approx([0.5, 0.75, 0.75, 1.0, 1.0])
    assert lt["cum_customers_share"].tolist() == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert lt["cum_lift"].tolist() == pytest.approx([2.5, 1.875, 1.25, 1.25, 1.0])
    # unequal sizes: 10 customers in 3 bins -> ranks 0-3, 4-6, 7-9 (floor(i*3/10))
    assert churn.lift_table(y, score, n_bins=3)["customers"].tolist() == [4, 3, 3]
    # ties keep input order: the first of two equal scores ranks higher
    assert churn.lift_table([0, 1], [0.5, 0.5], n_bins=2)["churners"].tolist() == [0, 1]
    m = churn.classification_metrics(y, score, n_bins=5)
    assert m["base_rate"] == 0.4 and m["top_decile_lift"] == 2.5 and m["top_decile_capture"] == 0.5
    # ROC AUC by hand: pairs (churner, non-churner) ranked correctly: 6+6+5+3 = 20 of 24
    assert m["roc_auc"] == pytest.approx(20 / 24)
    assert m["brier"] == pytest.approx(np.mean((np.array(score) - np.array(y)) ** 2))


def test_calibration_table_by_hand():
    ct = churn.calibration_table([0, 0, 1, 0, 1, 1], [0.1, 0.2, 0.3, 0.6, 0.7, 0.8], n_bins=2)
    assert ct["mean_predicted"].tolist() == pytest.approx([0.2, 0.7])
    assert ct["observed_rate"].tolist() == pytest.approx([1 / 3, 2 / 3])


# ---------------------------------------------------------------------------------- on synthetic data
CUT, WINDOW = "2025-10-03", 90


@pytest.fixture(scope="module")
def synth():
    return generate(8000, seed=1)


@pytest.fixture(scope="module")
def synth_result(synth):
    return churn.out_of_time_validation(synth.events, cutoff=CUT, window=WINDOW, customers=synth.customers,
                                        feedback=synth.feedback, seed=0, model="gbm")


def test_leakage_events_at_or_after_cutoff_do_not_change_X(synth):
    d = synth
    X, _ = churn.make_dataset(d.events, cutoff=CUT, window=WINDOW, customers=d.customers,
                              feedback=d.feedback)
    ev = d.events.copy()
    after = (ev["timestamp"] >= pd.Timestamp(CUT)).to_numpy()
    rng = np.random.default_rng(0)
    # change every later event (name, channel, revenue, time within the later period), delete a third
    ev.loc[after, "event"] = rng.choice(["purchase", "support_contact", "review"], after.sum())
    ev.loc[after, "channel"] = "display"
    ev.loc[after, "revenue"] = 1e6
    ev.loc[after, "timestamp"] = ev.loc[after, "timestamp"] + pd.Timedelta(hours=1)
    keep = ~after | (rng.random(len(ev)) > 1 / 3)
    ev = ev.loc[keep].sample(frac=1.0, random_state=0).reset_index(drop=True)  # and shuffle the rows
    fb = d.feedback.copy()
    fb.loc[(fb["timestamp"] >= pd.Timestamp(CUT)).to_numpy(), "score"] = 1
    X2, _ = churn.make_dataset(ev, cutoff=CUT, window=WINDOW, customers=d.customers, feedback=fb)
    pd.testing.assert_frame_equal(X, X2)
    # an event 1 µs before the cutoff does change X
    ev3 = d.events.copy()
    i = np.flatnonzero((ev3["timestamp"] < pd.Timestamp(CUT)).to_numpy())[-1]
    ev3.loc[i, "timestamp"] = pd.Timestamp(CUT) - pd.Timedelta(microseconds=1)
    X3, _ = churn.make_dataset(ev3, cutoff=CUT, window=WINDOW, customers=d.customers, feedback=d.feedback)
    assert not X3.equals(X)


def test_out_of_time_split_and_bgnbd_baseline(synth_result):
    r = synth_result
    assert r.train_cutoff == pd.Timestamp(CUT) - pd.Timedelta(days=WINDOW)
    assert list(r.X_test.columns) == list(r.X_train.columns)
    assert r.metrics.loc["gbm", "roc_auc"] > 0.8
    # beats the customer-base baseline on ranking and on probability quality
    assert r.metrics.loc["gbm", "roc_auc"] > r.metrics.loc["bgnbd", "roc_auc"] + 0.015
    assert r.metrics.loc["gbm", "brier"] < r.metrics.loc["bgnbd", "brier"]
    assert r.metrics.loc["logistic", "roc_auc"] > r.metrics.loc["bgnbd", "roc_auc"]
    # calibrated: mean prediction near the observed rate, every decile within 6 points
    p, y = r.scores["gbm"], r.y_test
    assert p.mean() == pytest.approx(y.mean(), abs=0.03)
    ct = churn.calibration_table(y, p)
    assert ct["gap"].abs().max() < 0.06
    summary = r.bgnbd_summary
    assert set(summary) == {"r", "alpha", "a", "b", "time_unit", "standard_errors", "roc_auc"} and summary["time_unit"] == "days"
    assert all(0 < summary["standard_errors"][k] < summary[k] for k in ("r", "alpha", "a", "b"))


def test_planted_drivers_rank_among_top_features(synth, synth_result):
    r = synth_result
    imp = churn.permutation_importance_table(r.fitted, r.X_test, r.y_test, n_repeats=3, max_samples=4000)
    top = list(imp.index[:8])
    assert top[0] == "recency_days"
    # satisfaction (planted) shows through the feedback scores, the persona through age and plan
    assert {"csat_mean", "nps_mean"} <= set(top)
    assert {"age", "plan"} & set(top)
    # partial dependence on the feedback scores (mostly missing): higher satisfaction, lower predicted churn
    pdp = churn.partial_dependence_table(r.fitted, r.X_test, ["csat_mean", "nps_mean", "plan"], max_samples=1000)
    assert set(pdp["feature"]) == {"csat_mean", "nps_mean"} and pdp["value"].notna().all()
    ends = pdp.groupby("feature")["churn_probability"].agg(["first", "last"])
    assert (ends["first"] - ends["last"] > 0.03).all()
    # delivery issues (planted): customers with one get higher predicted churn than others of the persona
    t = synth.truth.set_index("customer_id").reindex(r.X_test.index)
    p = r.probability
    for persona in ("bargain_hunter", "loyal_premium"):
        sel = (t["persona"] == persona).to_numpy()
        issue = t["delivery_issue"].to_numpy(bool)
        assert p[sel & issue].mean() > p[sel & ~issue].mean() + 0.03
    # churn by persona: the planted fastest churners are the social newcomers
    by = churn.churn_by_segment(r.y_test, t["persona"], prob=p)
    assert by["churn_rate"].idxmax() == "social_newcomer" and by["mean_predicted"].idxmax() == "social_newcomer"
    assert by["customers"].sum() == len(r.y_test)


def test_purchases_only_log_beats_or_matches_bgnbd(synth):
    ev = synth.events.loc[synth.events["event"] == "purchase",
                          ["customer_id", "timestamp", "event", "revenue"]].reset_index(drop=True)
    r = churn.out_of_time_validation(ev, cutoff=CUT, window=f"{WINDOW}D", seed=0)
    assert r.metrics.loc["gbm", "roc_auc"] >= r.metrics.loc["bgnbd", "roc_auc"] - 0.005
    assert r.metrics.loc["logistic", "roc_auc"] >= r.metrics.loc["bgnbd", "roc_auc"]


def test_risk_table_reasons(synth_result):
    r = synth_result
    X = r.X_test.head(400)
    rt = churn.risk_table(r.fitted, X, top_n=2, reference=r.X_test,
                          features=["recency_days", "csat_mean", "age"])
    assert rt["churn_probability"].is_monotonic_decreasing and set(rt.index) == set(X.index)
    assert rt["churn_probability"].to_numpy() == pytest.approx(np.sort(r.probability.loc[X.index].to_numpy())[::-1])
    # the highest-risk customers' first reason: they have not been seen for long
    top = rt.head(20)
    assert top["reason_1"].str.startswith("recency_days").mean() >= 0.8
    assert (top["reason_1_effect"] > 0).all()
    assert set(rt["risk_decile"]) == set(range(1, 11))


# ------------------------------------------------------------------ ordinary histories (issue 14, obs 5)
def test_plan_window_by_hand():
    # a: active days 2025-01-01, 01-15 and 02-12 (gaps 14 and 28 days); b: one day; the log covers 180 days
    ev = pd.DataFrame({"customer_id": ["a", "a", "a", "a", "b"], "event": ["x"] * 5,
                       "timestamp": pd.to_datetime(["2025-01-01 00:00", "2025-01-15 09:00", "2025-01-15 18:00",
                                                    "2025-02-12 00:00", "2025-06-29 12:00"])})
    assert churn.activity_gap_days(ev) == pytest.approx(14 + 0.8 * 14)  # 80th percentile of (14, 28)
    p = churn.plan_window(ev)  # 25.2 days → 28 (whole weeks); 3 × 28 ≤ 180: out of time
    assert (p.window_days, p.design, p.given) == (28, "out_of_time", False)
    assert (p.cutoff, p.train_cutoff, p.as_of) == (pd.Timestamp("2025-06-02"), pd.Timestamp("2025-05-05"),
                                                   pd.Timestamp("2025-06-30"))
    assert p.span_days == pytest.approx(180.0) and p.longest_days == 90
    assert "80 % of the gaps between a customer's active days are 25 days or shorter" in p.reason
    # 60 days: 60 days of history before the training cutoff, exactly enough for out of time
    p60 = churn.plan_window(ev, 60)
    assert (p60.design, p60.train_cutoff, p60.given) == ("out_of_time", pd.Timestamp("2025-03-02"), True)
    # 61 to 90 days: cross-validation at the cutoff (one window before it, one after)
    p90 = churn.plan_window(ev, 90)
    assert (p90.design, p90.cutoff, p90.train_cutoff) == ("cross_validation", pd.Timestamp("2025-04-01"), None)
    with pytest.raises(DataError, match="churn_window_days 91 does not fit .* the longest window that fits is 90 days") as e:
        churn.plan_window(ev, 91)
    assert e.value.rule == "window_too_long"
    # a given cutoff: the longest window is the shorter of the history before it and the data after it
    pc = churn.plan_window(ev, 30, cutoff="2025-04-01")
    assert (pc.design, pc.cutoff, pc.train_cutoff, pc.longest_days) == ("out_of_time", pd.Timestamp("2025-04-01"),
                                                                       pd.Timestamp("2025-03-02"), 90)
    with pytest.raises(DataError, match="the longest window that fits is 60 days"):
        churn.plan_window(ev, 61, cutoff="2025-05-01")
    # the fitted window is capped at the longest that fits, and says so
    slow = ev.assign(timestamp=ev["timestamp"].where(ev.index != 3, pd.Timestamp("2025-06-10")))  # gaps 14, 146
    pcap = churn.plan_window(slow)
    assert (pcap.window_days, pcap.design) == (90, "cross_validation") and "capped at the longest" in pcap.reason
    # too short for any window: one clear error
    with pytest.raises(DataError, match="at least 7 days") as e:
        churn.plan_window(ev.assign(timestamp=pd.Timestamp("2025-01-01") + pd.to_timedelta(range(5), unit="h")))
    assert e.value.rule == "span_too_short"


def test_six_month_log_runs_with_a_fitted_window():
    """A 6-month log with a 90-day window failed (single_class); with no window given, it fits the gaps."""
    d = generate(1500, seed=2, start="2025-01-01", end="2025-07-01")
    with pytest.raises(DataError):
        churn.out_of_time_validation(d.events, cutoff=churn.default_cutoff(d.events, "90D"), window=90)
    plan = churn.plan_window(d.events)
    assert not plan.given and 7 <= plan.window_days < 90 and plan.window_days % 7 == 0
    assert plan.window_days >= churn.activity_gap_days(d.events)
    r = churn.validate(d.events, plan, customers=d.customers, feedback=d.feedback)
    assert r.design == plan.design and r.train_cutoff == plan.train_cutoff and 0.1 < r.y_test.mean() < 0.9
    assert r.metrics.loc[r.model, "roc_auc"] == r.metrics["roc_auc"].max() > 0.65


def test_eighteen_month_purchases_only_history_fits_the_default_window():
    """Purchases only over 18 months (first purchases in the first quarter, CDNOW-like): 90 days fit."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(1200):
        t = rng.random() * 90
        rows.append((f"c{i}", t))
        if rng.random() < 0.5:
            while (t := t + rng.exponential(45) + 1) < 547 and rng.random() > 0.08:
                rows.append((f"c{i}", t))
    ev = pd.DataFrame(rows, columns=["customer_id", "day"])
    ev = pd.DataFrame({"customer_id": ev["customer_id"], "event": "purchase", "revenue": 20.0,
                       "timestamp": pd.Timestamp("2023-01-01") + pd.to_timedelta(ev["day"], unit="D")})
    plan = churn.plan_window(ev, 90)
    assert plan.design == "out_of_time"
    r = churn.validate(ev, plan)
    assert len(r.y_test) == 1200 and r.bgnbd is not None
    assert r.metrics.loc["bgnbd", "roc_auc"] > 0.6 and r.metrics.loc["logistic", "roc_auc"] > 0.6


def test_too_few_of_a_class_and_bgnbd_without_repeats():
    # 40 visitors in early January; 15 make their first purchase in the training window, 12 others in the
    # test window, so nobody has two purchase days before the test cutoff
    day = pd.Timestamp("2025-01-01")
    rows = [(f"c{i:02d}", day + pd.Timedelta(days=i % 10), "page_view") for i in range(40)]
    rows += [(f"c{i:02d}", day + pd.Timedelta(days=21), "purchase") for i in range(15)]
    rows += [(f"c{i:02d}", day + pd.Timedelta(days=32), "purchase") for i in range(20, 32)]
    rows += [("z", day + pd.Timedelta(days=39), "page_view")]  # the data covers the test window
    ev = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event"])
    kw = {"cutoff": "2025-01-31", "window": pd.Timedelta(days=10), "activity_events": ["purchase"]}
    with pytest.raises(DataError, match=r"only 12 of the 40 customers stayed active; a churn model needs 13 "
                                        r"or more customers of each outcome \(churned, active\)"):
        churn.out_of_time_validation(ev, **kw, min_class=13)
    r = churn.out_of_time_validation(ev, **kw, min_class=10)
    assert (int(r.y_train.sum()), int(r.y_test.sum())) == (25, 28)
    # no customer has a second purchase day before the cutoff: BG/NBD cannot be fitted, and says why
    assert r.bgnbd is None and r.bgnbd_summary is None and "bgnbd" not in r.metrics.index
    assert list(r.scores.columns) == ["logistic", "gbm", "ensemble"] and "repeat transaction" in r.info["bgnbd_why"]
    with pytest.raises(ValueError, match="no customer has a repeat transaction"):
        fit_bgnbd([0, 0, 0], [0, 0, 0], [5.0, 3.0, 2.0])


def test_id_and_outcome_columns_never_become_churn_features(synth):
    """obs 5: a numeric zip-code prefix was used as a churn driver; excluded, it is not a feature."""
    import cjlib
    from cjlib.features import excluded_attributes

    d = synth
    conv = d.events.loc[d.events["event"] == "purchase", "customer_id"].unique()
    customers = d.customers.assign(
        customer_zip_code_prefix=np.random.default_rng(1).integers(1000, 99999, len(d.customers)),
        status=np.where(d.customers["customer_id"].isin(conv), "customer", "lead"))
    prof = cjlib.profile(cjlib.Inputs(d.events, customers, None, None, cjlib.load_stage_map()))
    left_out = excluded_attributes(customers, prof)
    assert left_out == {"customer_zip_code_prefix": "id", "status": "outcome"}
    X_all, _ = churn.make_dataset(d.events, cutoff=CUT, window=WINDOW, customers=customers)
    assert {"customer_zip_code_prefix", "status"} <= set(X_all.columns)
    X, y = churn.make_dataset(d.events, cutoff=CUT, window=WINDOW, customers=customers,
                              exclude=list(left_out) + ["device"])
    assert not {"customer_zip_code_prefix", "status", "device"} & set(X.columns)
    assert {"age", "plan", "recency_days"} <= set(X.columns)
    pd.testing.assert_frame_equal(X, X_all.drop(columns=["customer_zip_code_prefix", "status", "device"]))


def test_validate_falls_back_to_cross_validation_when_the_training_window_is_silent():
    """b2b-like: nobody is active in the earlier window, so out of time cannot train; validate says so and
    cross-validates at the same cutoff."""
    day = pd.Timestamp("2025-01-01")
    rows = [(f"c{i:02d}", day + pd.Timedelta(days=i % 25), "page_view") for i in range(60)]  # history: days 0-24
    rows += [(f"c{i:02d}", day + pd.Timedelta(days=70), "page_view") for i in range(25)]   # 25 active at day 70
    rows += [("z", day + pd.Timedelta(days=89), "page_view")]                                # the log ends on day 89
    ev = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event"])
    plan = churn.plan_window(ev, 30)
    assert (plan.design, plan.cutoff, plan.train_cutoff) == ("out_of_time", day + pd.Timedelta(days=60),
                                                             day + pd.Timedelta(days=30))
    r = churn.validate(ev, plan, seed=0)
    assert r.design == "cross_validation" and r.train_cutoff is None and r.info["n_splits"] == 5
    assert r.info["fallback"].startswith("out-of-time training set") and "no events at all" in r.info["fallback"]
    assert (len(r.y_test), int(r.y_test.sum())) == (60, 35)  # 60 seen before the cutoff, 35 quiet in the window


# ---------------------------------------------------------------------------------- the report's steps
def test_activity_list_and_plan_or_reason():
    assert churn.activity_list(" purchase, ,signup") == ["purchase", "signup"]
    assert churn.activity_list(["purchase"]) == ["purchase"]
    assert churn.activity_list("") is None and churn.activity_list(None) is None
    # 5 days of log: no 7-day window fits; fitted, it is a reason; given, it is a bad parameter
    ev = _log([("a", "2025-01-01", "page_view"), ("b", "2025-01-05", "page_view")])
    plan, why = churn.plan_window_or_reason(ev, 0, cutoff="")
    assert plan is None and why == ("the log covers 5 days: a churn model needs a window of at least 7 days of "
                                    "history before the cutoff and one after it.")
    with pytest.raises(DataError, match="span_too_short"):
        churn.plan_window_or_reason(ev, 7)
    ok = _log([("a", "2025-01-01", "x"), ("a", "2025-01-11", "x"), ("b", "2025-01-01", "x"),
               ("b", "2025-03-31", "x")])
    plan, why = churn.plan_window_or_reason(ok, 14, cutoff="")
    assert why is None and plan.window_days == 14 and plan.cutoff == pd.Timestamp("2025-03-18")


def test_validate_or_reason_says_why(hand_log):
    plan = churn.plan_window(hand_log, 10, cutoff="2025-02-01")
    res, why = churn.validate_or_reason(hand_log, plan)
    assert res is None and why.endswith(".") and "customers" in why


def test_calibration_and_lift_by_model_by_hand():
    y = [0, 1, 1, 0]
    cal = churn.calibration_by_model(y, {"a": [0.1, 0.9, 0.8, 0.3], "b": [0.5] * 4}, n_bins=2)
    assert list(cal.columns[:2]) == ["model", "bin"] and len(cal) == 4
    # a: bins (0.1, 0.3) observe 0 against 0.2, (0.8, 0.9) observe 1 against 0.85; b: 0.5 against 0.5
    assert churn.max_calibration_gap(cal, "a") == pytest.approx(0.2)
    assert churn.max_calibration_gap(cal, "b") == pytest.approx(0.0)
    lifts = churn.lift_by_model(y, {"a": [0.9, 0.8, 0.7, 0.1], "b": [0.1, 0.9, 0.8, 0.3]}, n_bins=2)
    assert lifts["a"]["lift"].tolist() == [1.0, 1.0] and lifts["b"]["lift"].tolist() == [2.0, 0.0]


def test_drivers_and_result_shortcuts(synth_result):
    r = synth_result
    assert r.chosen.equals(r.metrics.loc[r.model]) and r.base_rate == pytest.approx(r.y_test.mean())
    imp, pdp = churn.drivers(r, seed=0, n_repeats=2, max_samples=1500, top=2, dependence_samples=300)
    assert list(imp.index) == list(imp.sort_values("rank").index) and len(imp) == r.X_test.shape[1]
    top = churn.top_numeric(imp, r.X_test, n=2)
    assert len(top) == 2 and set(pdp["feature"]) <= set(top)
    imp_x = pd.DataFrame(index=["device", "recency_days", "sessions", "tenure_days"])
    X = pd.DataFrame({"device": ["app"], "recency_days": [1.0], "sessions": [2], "tenure_days": [9.0]})
    assert churn.top_numeric(imp_x, X, among=3, n=4) == ["recency_days", "sessions"]


# ------------------------------------------------------------------ the ensemble (issue 16, CDNOW experiments)
def test_ensemble_is_the_mean_of_its_members(synth_result):
    """Its held-out scores are the members' mean, its fitted model gives them, and building it with
    make_model and fitting it from scratch gives the same probabilities (same seed, same data)."""
    from threadpoolctl import threadpool_limits

    r = synth_result
    s = r.scores
    np.testing.assert_allclose(s["ensemble"], (s["logistic"] + s["gbm"]) / 2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.models["ensemble"].predict_proba(r.X_test)[:, 1], s["ensemble"], rtol=0, atol=1e-12)
    assert list(r.metrics.index) == ["logistic", "gbm", "bgnbd", "ensemble"]
    # a different model than either member: on this sample it ranks churners better than both
    auc = r.metrics["roc_auc"]
    assert auc["ensemble"] > max(auc["logistic"], auc["gbm"])
    X_tr, y_tr = r.X_train.head(3000), r.y_train.head(3000)
    with threadpool_limits(1):
        whole = churn.make_model("ensemble", X_tr, seed=0).fit(X_tr, y_tr).predict_proba(r.X_test.head(500))[:, 1]
        parts = [churn.make_model(k, X_tr, seed=0).fit(X_tr, y_tr).predict_proba(r.X_test.head(500))[:, 1]
                 for k in ("logistic", "gbm")]
    np.testing.assert_allclose(whole, (parts[0] + parts[1]) / 2, rtol=0, atol=1e-12)


def test_ensemble_is_chosen_only_when_it_ranks_better_than_both_members():
    m = pd.DataFrame({"roc_auc": [0.7710, 0.7717, 0.7466, 0.7725]}, index=["logistic", "gbm", "bgnbd", "ensemble"])
    model, why = churn.choose_model(m)
    # ahead of boosting by 0.0008 (> AUC_TIE): chosen, and both read apart at four decimals
    assert model == "ensemble" and why == (
        "The mean of logistic regression and boosting drives the list: it has the highest ROC AUC on validation "
        "(0.7725), within chance of logistic regression (0.7710) and boosting (0.7717); BG/NBD (0.7466) ranks "
        "worse.")
    # within AUC_TIE of logistic regression: the simpler model drives the list
    tie = m.assign(roc_auc=[0.7722, 0.7717, 0.7466, 0.7725])
    model, why = churn.choose_model(tie)
    assert model == "logistic" and "as well as the mean of logistic regression and boosting" in why
    # below a member: never chosen; asked for, the sentence says what beats it
    low = m.assign(roc_auc=[0.700, 0.681, 0.677, 0.699])
    assert churn.choose_model(low)[0] == "logistic"
    assert churn.choose_model(low, "ensemble") == (
        "ensemble", "The mean of logistic regression and boosting was asked for (parameter model) and is used, "
        "though it ranks churners worse on validation than logistic regression (ROC AUC 0.699 against 0.700).")
    # three decimals whenever they tell the models apart
    assert "validation (0.819), within chance of logistic regression (0.816)" in churn.choose_model(
        m.assign(roc_auc=[0.816, 0.815, 0.798, 0.819]))[1]


def test_choose_model_says_best_only_beyond_chance():
    # ecom (597 customers): 0.681 against 0.675 and 0.664 is within chance, so the sentence never says "best";
    # with 5,000 customers a 0.100 gap is beyond chance and a 0.005 one is not
    from cjlib.churn.models import choose_model

    small = pd.DataFrame({"roc_auc": [0.675, 0.681, 0.664], "n": [597] * 3, "base_rate": [0.3] * 3},
                         index=["logistic", "gbm", "bgnbd"])
    model, why = choose_model(small)
    assert model == "gbm" and "best" not in why
    assert why == ("Boosting drives the list: it has the highest ROC AUC on validation (0.681), within chance of "
                   "logistic regression (0.675) and BG/NBD (0.664).")
    big = pd.DataFrame({"roc_auc": [0.800, 0.700, 0.795], "n": [5000] * 3, "base_rate": [0.3] * 3},
                       index=["logistic", "gbm", "bgnbd"])
    assert choose_model(big)[1].endswith("within chance of BG/NBD (0.795); boosting (0.700) ranks worse.")
    clear = big.assign(roc_auc=[0.900, 0.700, 0.750])
    assert "ranks churners best on validation (ROC AUC 0.900" in choose_model(clear)[1]
