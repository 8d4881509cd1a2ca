"""customer_features: every column by hand on a small log, cutoff leakage, input variants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjlib import synth
from cjlib.features import customer_features, feature_name

CUTOFF = "2025-01-10"


@pytest.fixture
def hand_log() -> pd.DataFrame:
    rows = [
        # customer a: 3 sessions (10:00-10:20, next day, support), 2 purchases; one event after the cutoff
        ("a", "2025-01-01 10:00", "page_view", "organic_search", None),
        ("a", "2025-01-01 10:10", "product_view", "organic_search", None),
        ("a", "2025-01-01 10:20", "purchase", "organic_search", 30.0),
        ("a", "2025-01-03 09:00", "page_view", "email", None),
        ("a", "2025-01-03 09:05", "purchase", "email", 50.0),
        ("a", "2025-01-04 12:00", "support_contact", "direct", None),
        ("a", "2025-01-12 08:00", "review", "email", None),
        # customer b: a 39-minute gap opens a 2nd session; the last session has no channel; no purchase
        ("b", "2025-01-05 08:00", "ad_click", "social", None),
        ("b", "2025-01-05 08:01", "product_view", "social", None),
        ("b", "2025-01-05 08:40", "product_view", "social", None),
        ("b", "2025-01-09 23:59:59", "add_to_cart", None, None),
        # customer c: only at the cutoff → absent
        ("c", "2025-01-10 00:00", "payment_error", "direct", None),
        # customer d: a payment error then a purchase, one session
        ("d", "2025-01-02 12:00", "payment_error", "direct", None),
        ("d", "2025-01-02 12:10", "purchase", "direct", 20.0),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event", "channel", "revenue"])
    return df.assign(timestamp=pd.to_datetime(df["timestamp"], format="ISO8601"), revenue=df["revenue"].astype(float))


@pytest.fixture
def hand_feedback() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "d"],
        "timestamp": pd.to_datetime(["2025-01-02", "2025-01-05", "2025-01-06", "2025-01-11", "2025-01-09"]),
        "score": [4, 2, 9, 1, 3],
        "scale": ["csat", "csat", "nps", "csat", "nps"],
    })


def test_every_column_by_hand(hand_log, hand_feedback):
    customers = pd.DataFrame({"customer_id": ["a", "b", "z"], "age": [30, 40, 50],
                              "plan": ["premium", "free", "basic"]})
    f = customer_features(hand_log, customers=customers, feedback=hand_feedback, cutoff=CUTOFF)
    assert f.index.name == "customer_id"
    assert f.index.tolist() == ["a", "b", "d"]
    day = 1.0
    expected = {
        "recency_days": [5.5, 1 / 86400, 7.5 - 10 / 1440],
        "tenure_days": [8 + 14 / 24, 4 + 16 / 24, 7.5],
        "frequency": [3, 3, 1],
        "sessions": [3, 3, 1],
        "n_events": [6, 4, 2],
        "events_per_session": [2.0, 4 / 3, 2.0],
        "n_purchases": [2, 0, 1],
        "monetary": [80.0, 0.0, 20.0],
        "aov": [40.0, np.nan, 20.0],
        "days_to_first_purchase": [20 / 1440 * day, np.nan, 10 / 1440],
        "days_since_last_purchase": [6 + 14 / 24 + 55 / 1440, np.nan, 7 + 11 / 24 + 50 / 1440],  # RFM's R
        "share_awareness": [2 / 6, 1 / 4, 0.0],
        "share_consideration": [1 / 6, 3 / 4, 0.0],
        "share_purchase": [1 / 6, 0.0, 0.5],
        "share_retention": [1 / 6, 0.0, 0.0],
        "share_advocacy": [0.0, 0.0, 0.0],
        "furthest_stage": [3, 1, 2],
        "channel_share_direct": [1 / 3, 0.0, 1.0],
        "channel_share_email": [1 / 3, 0.0, 0.0],
        "channel_share_organic_search": [1 / 3, 0.0, 0.0],
        "channel_share_social": [0.0, 1.0, 0.0],
        "n_payment_error": [0, 0, 1],
        "n_support_contact": [1, 0, 0],
        "csat_mean": [3.0, np.nan, np.nan],
        "nps_mean": [9.0, np.nan, 3.0],
        "n_feedback": [3, 0, 1],
        "age": [30, 40, np.nan],
    }
    for col, values in expected.items():
        np.testing.assert_allclose(f[col].to_numpy(dtype=float), values, rtol=1e-12, atol=1e-12, err_msg=col)
    assert f["furthest_stage_name"].astype(str).tolist() == ["retention", "consideration", "purchase"]
    assert f["furthest_stage_name"].cat.ordered
    assert f["plan"].tolist()[:2] == ["premium", "free"] and pd.isna(f["plan"].iloc[2])
    channel_cols = [c for c in f.columns if c.startswith("channel_share_")]
    assert channel_cols == ["channel_share_direct", "channel_share_email", "channel_share_organic_search",
                            "channel_share_social"]
    for col in ("frequency", "sessions", "n_events", "n_purchases", "furthest_stage", "n_feedback"):
        assert pd.api.types.is_integer_dtype(f[col]), col


def test_default_cutoff_counts_every_event(hand_log):
    f = customer_features(hand_log)
    assert f.index.tolist() == ["a", "b", "c", "d"]
    assert f.loc["c", "recency_days"] == pytest.approx(2 + 8 / 24 + 1 / 86400)  # cutoff = last event + 1 s
    assert f.loc["a", "n_events"] == 7
    assert f.loc["a", "share_advocacy"] == pytest.approx(1 / 7)
    assert f.loc["a", "furthest_stage"] == 4
    assert "csat_mean" not in f.columns and "age" not in f.columns


def test_input_variants_give_the_same_features(hand_log, hand_feedback):
    ref = customer_features(hand_log, feedback=hand_feedback, cutoff=CUTOFF)
    before = hand_log.copy()
    shuffled = hand_log.sample(frac=1.0, random_state=3).set_axis(np.arange(100, 100 + len(hand_log)))
    us = hand_log.assign(timestamp=hand_log["timestamp"].astype("datetime64[us]"))
    cat = hand_log.assign(event=hand_log["event"].astype("category"),
                          channel=hand_log["channel"].astype("category"))
    for variant in (shuffled, us, cat):
        got = customer_features(variant, feedback=hand_feedback, cutoff=pd.Timestamp(CUTOFF))
        pd.testing.assert_frame_equal(got, ref)
    pd.testing.assert_frame_equal(hand_log, before)  # never mutates the caller's frame
    # integer ids: the same numbers under integer labels
    ints = hand_log.assign(customer_id=hand_log["customer_id"].map({"a": 1, "b": 2, "c": 3, "d": 4}))
    got = customer_features(ints, cutoff=CUTOFF)
    assert got.index.tolist() == [1, 2, 4]
    np.testing.assert_allclose(got["monetary"], [80.0, 0.0, 20.0])


def test_without_channel_revenue_or_other_events():
    ev = pd.DataFrame({"customer_id": ["x", "x", "y"],
                       "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"]),
                       "event": ["purchase", "purchase", "purchase"]})
    f = customer_features(ev)
    assert not any(c.startswith(("channel_share_", "n_payment", "n_support")) for c in f.columns)
    assert f["n_purchases"].tolist() == [2, 1]
    assert f["monetary"].isna().all() and f["aov"].isna().all()
    assert f["days_to_first_purchase"].tolist() == [0.0, 0.0]
    assert f["share_purchase"].tolist() == [0.5, 1.0] and f["share_retention"].tolist() == [0.5, 0.0]


def test_empty_before_cutoff_and_bad_cutoff(hand_log):
    f = customer_features(hand_log, cutoff="2024-01-01")
    assert len(f) == 0 and "recency_days" in f.columns
    with pytest.raises(ValueError, match="cutoff"):
        customer_features(hand_log, cutoff="not a date")
    with pytest.raises(ValueError, match="customer_id"):
        customer_features(hand_log.drop(columns="customer_id"))


def test_no_leakage_from_events_at_or_after_cutoff():
    data = synth.generate(400, seed=5)
    ev, fb = data.events, data.feedback
    cutoff = pd.Timestamp("2025-09-01")
    ref = customer_features(ev, customers=data.customers, feedback=fb, cutoff=cutoff)
    after = (ev["timestamp"] >= cutoff).to_numpy()
    assert after.sum() > 100
    # change everything at/after the cutoff: drop half, alter revenue and channels, add new customers
    changed = ev.copy()
    changed.loc[after, "revenue"] = 999.0
    changed.loc[after, "channel"] = "display"
    changed.loc[after, "event"] = "purchase"
    changed = changed.drop(index=np.flatnonzero(after)[::2])
    extra = pd.DataFrame({"customer_id": ["C999999", ref.index[0]], "timestamp": [cutoff, cutoff],
                          "event": ["purchase", "purchase"], "channel": ["email", "email"],
                          "revenue": [5.0, 5.0], "session_id": ["S_new1", "S_new2"],
                          "device": ["mobile", "mobile"]})
    changed = pd.concat([changed, extra], ignore_index=True)
    fb_changed = pd.concat([fb.loc[(fb["timestamp"] < cutoff).to_numpy()],
                            fb.assign(score=1).loc[(fb["timestamp"] >= cutoff).to_numpy()]], ignore_index=True)
    got = customer_features(changed, customers=data.customers, feedback=fb_changed, cutoff=cutoff)
    pd.testing.assert_frame_equal(got, ref)
    # and the cutoff matters: a later cutoff sees more
    later = customer_features(ev, cutoff="2025-12-01")
    assert len(later) > len(ref)


def test_feature_name():
    assert feature_name("Paid Search") == "paid_search"
    assert feature_name("  ") == "blank"


# ------------------------------------------------------------------ identifiers and outcomes (obs 5)
def _with_id_and_outcome(n: int = 600, seed: int = 4):
    """The synthetic sample with a numeric zip-code prefix and a ``status`` that restates conversion
    added to the customer table (as real CRM exports carry them)."""
    import cjlib

    d = synth.generate(n, seed)
    conv = d.events.loc[d.events["event"] == "purchase", "customer_id"].unique()
    rng = np.random.default_rng(seed)
    customers = d.customers.assign(
        customer_zip_code_prefix=rng.integers(1000, 99999, len(d.customers)),
        status=np.where(d.customers["customer_id"].isin(conv), "customer", "lead"))
    data = cjlib.Inputs(d.events, customers, d.feedback, None, cjlib.load_stage_map())
    return d, customers, data


def test_profile_marks_zip_prefix_and_status_and_features_leave_them_out():
    from cjlib.features import excluded_attributes, without_attributes

    d, customers, data = _with_id_and_outcome()
    left_out = excluded_attributes(customers, data.profile)
    assert left_out == {"customer_zip_code_prefix": "id", "status": "outcome"}
    # without exclude both would be features (so the test can fail) ...
    everything = customer_features(d.events, customers=customers)
    assert {"customer_zip_code_prefix", "status", "age", "plan"} <= set(everything.columns)
    # ... with it neither is, and the other attributes stay
    f = customer_features(d.events, customers=customers, exclude=list(left_out))
    assert "customer_zip_code_prefix" not in f.columns and "status" not in f.columns
    assert {"age", "plan", "gender"} <= set(f.columns)
    pd.testing.assert_frame_equal(f, everything.drop(columns=["customer_zip_code_prefix", "status"]))
    # the table-level helper gives the same features, and leaves the caller's table alone
    g = customer_features(d.events, customers=without_attributes(customers, list(left_out)))
    pd.testing.assert_frame_equal(f, g)
    assert "status" in customers.columns
    assert excluded_attributes(None, data.profile) == {} and without_attributes(None, ["status"]) is None


def test_as_cutoff_is_naive_utc_and_names_the_parameter():
    from cjlib.features import as_cutoff

    assert as_cutoff("2025-10-01T02:00+02:00") == pd.Timestamp("2025-10-01 00:00")
    assert as_cutoff(pd.Timestamp("2025-10-01")) == pd.Timestamp("2025-10-01")
    for bad in ("soon", None, float("nan")):
        with pytest.raises(ValueError, match="cutoff must be a date/time like '2025-10-01'"):
            as_cutoff(bad)
