"""Stage scorecard, stage measures, retention, trends, segments, journey scores and the map figure.

Hand-computed cases, an independent plain-pandas recomputation on a synthetic sample, and planted truths.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from cjlib import scorecard as sc
from cjlib.plots import journey_map as jm
from cjlib.stagemap import load_stage_map
from cjlib.synth import generate

SM = load_stage_map()


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture
def hand() -> pd.DataFrame:
    """Four customers; every number below is worked out by hand in the tests."""
    rows = [
        ("c1", "2025-01-01 10:00", "page_view", "email", None),
        ("c1", "2025-01-02 10:00", "product_view", "email", None),
        ("c1", "2025-01-03 10:00", "purchase", "email", 100.0),
        ("c1", "2025-02-10 00:00", "purchase", "direct", 50.0),
        ("c1", "2025-02-15 00:00", "review", "email", None),
        ("c2", "2025-01-05 00:00", "ad_click", "social", None),
        ("c2", "2025-01-05 00:01", "product_view", "social", None),
        ("c2", "2025-01-20 00:00", "purchase", "social", 30.0),
        ("c3", "2025-01-10 00:00", "page_view", "social", None),
        ("c4", "2025-02-01 00:00", "ad_click", "display", None),
        ("c4", "2025-02-01 00:05", "page_view", "display", None),
        ("c4", "2025-03-01 00:00", "product_view", "direct", None),
        ("c4", "2025-03-02 00:00", "purchase", "direct", 20.0),
        ("c4", "2025-04-05 00:00", "purchase", "direct", 40.0),
        ("c4", "2025-04-06 00:00", "purchase", "direct", 10.0),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event", "channel", "revenue"])
    return df.assign(timestamp=pd.to_datetime(df["timestamp"]), event=df["event"].astype("category"),
                     channel=df["channel"].astype("category"))


@pytest.fixture
def hand_feedback() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["c1", "c2", "c4", "c1", "c2", "c3", "c4", "c4"],
        "timestamp": pd.to_datetime(["2025-01-04", "2025-01-21", "2025-03-03", "2025-02-20", "2025-02-01",
                                     "2025-01-11", "2025-04-07", "2025-01-01"]),
        "score": [5, 3, 4, 10, 9, 3, 7, 2],
        "scale": ["csat", "csat", "csat", "nps", "nps", "nps", "nps", "csat"],
        "stage": ["purchase", "purchase", "purchase", "advocacy", "advocacy", "advocacy", "advocacy",
                  "consideration"],
    })


@pytest.fixture(scope="module")
def synth():
    return generate(n_customers=1500, seed=1)


# ------------------------------------------------------------------------------ an independent oracle
def reference_stages(ev: pd.DataFrame, sm, feedback=None) -> pd.DataFrame:
    """Stage table in plain pandas: per-customer cumcount for the nth rule, groupby-min, per-pair loops."""
    ev = ev.sort_values(["customer_id", "timestamp"], kind="stable").reset_index(drop=True)
    name = ev["event"].astype(str)
    base = {}
    for s in sm.stages:
        if s.nth == 1:
            for e in s.events:
                base.setdefault(e, s.name)
    stage = name.map(base)
    for s in sm.stages:
        if s.nth > 1:
            is_e = name.isin(s.events)
            occ = is_e.astype(int).groupby(ev["customer_id"]).cumsum()
            stage = stage.mask(is_e & (occ >= s.nth), s.name)
    ev = ev.assign(stage=stage)
    first = ev.dropna(subset=["stage"]).groupby(["customer_id", "stage"])["timestamp"].min().unstack()
    names = sm.stage_names
    out = {}
    for i, s in enumerate(names):
        ta = first[s] if s in first else pd.Series(dtype="datetime64[ns]")
        row = {"reached": int(ta.notna().sum()),
               "revenue": float(ev.loc[ev["stage"] == s, "revenue"].sum())}
        if i + 1 < len(names):
            # moving on: the first event of the next stage at or after the first of this one
            nb = ev[ev["stage"] == names[i + 1]][["customer_id", "timestamp"]]
            nb = nb[nb["timestamp"] >= nb["customer_id"].map(ta).to_numpy()]
            tb = nb.groupby("customer_id")["timestamp"].min().reindex(ta.index)
            ok = ta.notna() & tb.notna()
            row["conversion_to_next"] = ok.sum() / ta.notna().sum()
            row["median_days_to_next"] = ((tb - ta)[ok].dt.total_seconds() / 86400).median()
        else:
            row["conversion_to_next"] = row["median_days_to_next"] = np.nan
        if feedback is not None:
            f = feedback[(feedback["scale"] == "csat") & (feedback["stage"] == s)]["score"]
            row["satisfaction"] = f.mean() if len(f) else np.nan
        out[s] = row
    return pd.DataFrame(out).T


# --------------------------------------------------------------------------------------- stage KPIs
def test_stage_kpis_by_hand(hand, hand_feedback):
    k = sc.stage_kpis(hand, stage_map=SM, feedback=hand_feedback)
    assert k["reached"].tolist() == [4, 3, 3, 2, 1]
    # awareness → consideration: c1 after 1 d, c2 after 1 min, c4 after 28 d; c3 never
    assert k.loc["awareness", "conversion_to_next"] == 0.75
    assert k.loc["awareness", "median_days_to_next"] == pytest.approx(1.0)
    assert k.loc["consideration", "conversion_to_next"] == 1.0
    # purchase → retention: c1 (37 d 14 h), c4 (34 d) of c1, c2, c4
    assert k.loc["purchase", "conversion_to_next"] == pytest.approx(2 / 3)
    assert k.loc["purchase", "median_days_to_next"] == pytest.approx((37 + 14 / 24 + 34) / 2)
    assert k.loc["retention", "conversion_to_next"] == 0.5
    assert k.loc["purchase", "revenue"] == 150.0 and k.loc["retention", "revenue"] == 100.0
    # CSAT: purchase 5, 3, 4 → 4 with t interval 4 ± t(0.975, 2) × 1/√3
    assert k.loc["purchase", "satisfaction"] == 4.0 and k.loc["purchase", "satisfaction_n"] == 3
    half = 4.302652729911275 / np.sqrt(3)
    assert k.loc["purchase", "satisfaction_lo"] == pytest.approx(4 - half)
    assert k.loc["purchase", "satisfaction_hi"] == pytest.approx(4 + half)
    # NPS at advocacy: 10, 9 promoters; 3 detractor; 7 passive → 50 − 25 = 25
    assert k.loc["advocacy", "nps"] == pytest.approx(25.0) and k.loc["advocacy", "nps_n"] == 4
    # satisfaction index: csat (s−1)/4×100 → purchase 100, 50, 75; consideration csat 2 → 25
    assert k.loc["purchase", "satisfaction_index"] == pytest.approx(75.0)
    assert k.loc["consideration", "satisfaction_index"] == pytest.approx(25.0)
    assert np.isnan(k.loc["consideration", "satisfaction_index_lo"])  # one answer: no interval
    assert k.loc["consideration", "top_touchpoint"] == "product_view"
    assert k.loc["awareness", "top_touchpoint"] in {"page_view"} and k.loc["awareness", "top_touchpoint_share"] == 0.6
    assert k.loc["purchase", "top_channel"] == "direct"  # c4's first purchase on direct, c1 email, c2 social…
    assert k.loc["purchase", "top_channel_share"] == pytest.approx(1 / 3)


def test_stage_kpis_unit_and_order_independent(hand):
    a = sc.stage_kpis(hand, stage_map=SM)
    shuffled = hand.sample(frac=1, random_state=0).astype({"timestamp": "datetime64[us]"})
    b = sc.stage_kpis(shuffled, stage_map=SM)
    pd.testing.assert_frame_equal(a, b)


def test_stage_kpis_equal_independent_computation_on_synth(synth):
    k = sc.stage_kpis(synth.events, stage_map=SM, feedback=synth.feedback)
    ref = reference_stages(synth.events, SM, synth.feedback)
    for col in ["reached", "conversion_to_next", "median_days_to_next", "revenue", "satisfaction"]:
        np.testing.assert_allclose(k[col].to_numpy(float), ref[col].to_numpy(float), rtol=1e-9, err_msg=col)
    assert k["reached"].iloc[0] == synth.events["customer_id"].nunique()


def test_stage_kpis_equal_independent_computation_on_hand(hand, hand_feedback):
    k = sc.stage_kpis(hand, stage_map=SM, feedback=hand_feedback)
    ref = reference_stages(hand, SM, hand_feedback)
    for col in ["reached", "conversion_to_next", "median_days_to_next", "revenue", "satisfaction"]:
        np.testing.assert_allclose(k[col].to_numpy(float), ref[col].to_numpy(float), err_msg=col)


def test_stage_touchpoints(hand):
    t = sc.stage_touchpoints(hand, stage_map=SM, by="event", top=None)
    aw = t[t["stage"] == "awareness"].set_index("value")
    assert aw["events"].to_dict() == {"page_view": 3, "ad_click": 2}
    assert aw.loc["page_view", "rank"] == 1 and aw.loc["ad_click", "share"] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="by must be a column"):
        sc.stage_touchpoints(hand.drop(columns="channel"), stage_map=SM, by="channel")


def test_feedback_stage_fallbacks(hand, hand_feedback):
    by_touch = hand_feedback.drop(columns="stage").assign(touchpoint=["purchase"] * 3 + ["review"] * 4
                                                          + ["product_view"])
    assert sc.feedback_stages(by_touch, stage_map=SM).astype(str).tolist() == hand_feedback["stage"].tolist()
    by_time = hand_feedback.drop(columns="stage")
    st = sc.feedback_stages(by_time, stage_map=SM, events=hand).astype(object).tolist()
    # c1 on 01-04: last staged event the purchase of 01-03; c4 on 01-01: before any event → NaN
    assert st[0] == "purchase" and st[3] == "advocacy" and st[5] == "awareness" and pd.isna(st[7])


# ------------------------------------------------------------------------------------ NPS and measures
def test_nps_by_hand():
    assert sc.nps([10, 9, 8, 7, 6, 0])[0] == pytest.approx(0.0)
    v, lo, hi, n = sc.nps([10, 10, 9, 7, 3])
    assert (v, n) == (pytest.approx(40.0), 5)
    se = 100 * np.sqrt((0.6 + 0.2 - 0.4**2) / 5)
    assert lo == pytest.approx(40 - 1.959963984540054 * se) and hi == pytest.approx(40 + 1.959963984540054 * se)
    assert np.isnan(sc.nps([])[0])


def test_stage_measures_by_hand(hand, hand_feedback):
    costs = pd.DataFrame({"channel": ["social", "display"], "period": ["2025-01", "2025-02"], "spend": [10.0, 30.0]})
    m = sc.stage_measures(hand, stage_map=SM, feedback=hand_feedback, costs=costs).set_index("measure")
    v = m["value"]
    assert v["reach"] == 4 and v["reach_share"] == 1.0
    assert v["new_customers_per_month"] == pytest.approx(4 / 4)  # 4 customers over Jan–Apr
    # awareness events: display 2, social 2, email 1 → a tie at 2/5, broken by name
    assert v["top_channel_share"] == pytest.approx(2 / 5) and "display" in m.loc["top_channel_share", "note"]
    # consideration events per session (sessions split by 30 min gaps): c1 two sessions of 1, c2 one of 1, c4 one of 1
    assert v["engagement_per_session"] == 1.0
    # ad sessions: c2's (reaches product_view in the session) and c4's (does not) → 1/2
    assert v["click_through"] == 0.5
    # clicks: ad_click on social (1, Jan) and display (1, Feb): spend 40 / 2
    assert v["cost_per_click"] == pytest.approx(20.0)
    assert v["conversion_rate"] == 0.75 and v["orders"] == 6
    assert v["revenue"] == 250.0 and v["aov"] == pytest.approx(250 / 6)
    # conversions in the costed months (Jan, Feb): c1 ×2, c2 → 40 / 3
    assert v["cost_per_conversion"] == pytest.approx(40 / 3)
    # repeat purchase: c1 and c4 of c1, c2, c4
    assert v["repeat_purchase_rate"] == pytest.approx(2 / 3)
    assert v["review"] == 1 and v["referral"] == 0 and m.loc["review", "n"] == 1
    assert m.loc["review", "note"] == "events, from 1 customer"  # the count a reader sees (n is no column)
    assert v["nps"] == pytest.approx(25.0) and m.loc["nps", "stage"] == "advocacy"
    assert set(m["unit"]) <= {"share", "count", "rate", "money", "points"}
    assert len(sc.format_measures(m.reset_index())) == len(m)


def test_channel_costs_by_hand(hand):
    costs = pd.DataFrame({"channel": ["social", "display"], "period": ["2025-01", "2025-02"], "spend": [10.0, 30.0]})
    cc = sc.channel_costs(hand, costs, stage_map=SM)
    assert isinstance(cc, sc.ChannelCosts) and cc.clicks_are == "ad events"
    t = cc.table
    # ad clicks in Jan/Feb: social (c2, Jan) and display (c4, Feb); conversions there: social 1 (c2), display 0
    assert t.loc["social"].tolist() == [10.0, 1, 1, 10.0, 10.0]
    assert t.loc["display", ["clicks", "conversions", "cost_per_click"]].tolist() == [1, 0, 30.0]
    assert np.isnan(t.loc["display", "cost_per_conversion"])
    assert sc.channel_costs(hand, costs, stage_map=SM, ad_events=[]).clicks_are == "sessions"


def test_stage_measures_missing_inputs_drop_rows(hand):
    m = sc.stage_measures(hand.drop(columns="channel"), stage_map=SM)
    assert not {"top_channel_share", "cost_per_click", "cost_per_conversion", "nps"} & set(m["measure"])
    assert {"reach", "conversion_rate", "repeat_purchase_rate"} <= set(m["measure"])
    costs = pd.DataFrame({"channel": ["social"], "spend": [5.0]})
    m2 = sc.stage_measures(hand.drop(columns="channel"), stage_map=SM, costs=costs)  # costs but no channel: no cost rows
    assert "cost_per_click" not in set(m2["measure"])
    m3 = sc.stage_measures(hand.drop(columns="revenue"), stage_map=SM)
    assert "aov" not in set(m3["measure"])


def test_stage_roles_follow_the_map_not_the_names():
    from cjlib.stagemap import stage_map_from_dict

    sm = stage_map_from_dict({"stages": [{"name": "see", "events": ["visit"]},
                                         {"name": "try", "events": ["trial"]},
                                         {"name": "pay", "events": ["order"]},
                                         {"name": "again", "events": ["order"], "nth": 3},
                                         {"name": "tell", "events": ["share"]}],
                              "conversion_events": ["order"]})
    assert sc.stage_roles(stage_map=sm) == {"see": "awareness", "try": "consideration", "pay": "purchase",
                                  "again": "retention", "tell": "advocacy"}
    # a subscription: renewals are their own conversion event, in the stage after subscribing (nth 1)
    sub = stage_map_from_dict({"stages": [{"name": "installed", "events": ["install"]},
                                          {"name": "subscribed", "events": ["subscribe"]},
                                          {"name": "renewed", "events": ["renew"]},
                                          {"name": "referred", "events": ["invite"]}],
                               "conversion_events": ["subscribe", "renew"]})
    assert sc.stage_roles(stage_map=sub) == {"installed": "awareness", "subscribed": "purchase",
                                             "renewed": "retention", "referred": "advocacy"}


# ------------------------------------------------------------------------------ retention and trends
def test_cohort_retention_by_hand(hand):
    r = sc.cohort_retention(hand, stage_map=SM, based_on="conversion").set_index(["cohort", "offset"])
    # Jan cohort: c1 (Jan, Feb), c2 (Jan); Mar cohort: c4 (Mar, Apr); log ends in April
    assert r["retained"].to_dict() == {("2025-01", 0): 2, ("2025-01", 1): 1, ("2025-01", 2): 0,
                                       ("2025-01", 3): 0, ("2025-03", 0): 1, ("2025-03", 1): 1}
    assert r.loc[("2025-01", 1), "share"] == 0.5 and r.loc[("2025-03", 0), "customers"] == 1
    a = sc.cohort_retention(hand, stage_map=SM, based_on="activity").set_index(["cohort", "offset"])
    assert a.loc["2025-01", "retained"].tolist() == [3, 1, 0, 0]
    assert a.loc["2025-02", "retained"].tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="based_on"):
        sc.cohort_retention(hand, stage_map=SM, based_on="orders")


def test_kpi_trends_by_hand(hand, hand_feedback):
    t = sc.kpi_trends(hand, stage_map=SM, freq="M", feedback=hand_feedback)
    assert t.index.tolist() == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert t["active_customers"].tolist() == [3, 2, 1, 1]
    assert t["new_customers"].tolist() == [3, 1, 0, 0]
    assert t["orders"].tolist() == [2, 1, 1, 2]
    assert t["conversion_rate"].tolist() == pytest.approx([2 / 3, 0.5, 1.0, 1.0])
    assert t["revenue"].tolist() == [130.0, 50.0, 20.0, 50.0]
    assert t["csat"]["2025-01"] == pytest.approx((5 + 3 + 2) / 3)
    assert t["period_days"].tolist() == [31, 28, 31, 30]
    assert t["days"].tolist() == [31, 28, 31, 6]  # the log ends on 04-06
    w = sc.kpi_trends(hand, stage_map=SM, freq="W")
    assert w.index[0] == "2024-12-30" and w["orders"].sum() == 6
    with pytest.raises(ValueError, match="freq"):
        sc.kpi_trends(hand, stage_map=SM, freq="D")
    # pandas' month aliases mean the same calendar months; the map may be given as its YAML path
    ms = sc.kpi_trends(hand, stage_map=str(SM.source), freq="MS")
    pd.testing.assert_frame_equal(ms, sc.kpi_trends(hand, stage_map=SM, freq="M"))
    assert sc.cohort_retention(hand, stage_map=SM, freq="ME").equals(sc.cohort_retention(hand, stage_map=SM))


def test_stage_map_is_keyword_only(hand):
    for call in (lambda: sc.stage_roles(SM), lambda: sc.stage_touchpoints(hand, SM),
                 lambda: sc.stage_measures(hand, SM), lambda: sc.cohort_retention(hand, SM),
                 lambda: sc.kpi_trends(hand, SM), lambda: sc.feedback_stages(hand, SM)):
        with pytest.raises(TypeError):
            call()


# ------------------------------------------------------------------------------------------ segments
def test_customer_segments_and_pain_points(hand):
    hand = hand.assign(device=hand["customer_id"].map({"c1": "desktop", "c2": "desktop", "c3": "mobile",
                                                       "c4": "mobile"}))
    seg = sc.customer_segments(hand)
    # the profile's segment candidates: event columns, then acquisition_channel (issue 14)
    assert seg.columns.tolist() == ["device", "acquisition_channel"]
    assert seg["acquisition_channel"].to_dict() == {"c1": "email", "c2": "social", "c3": "social", "c4": "display"}
    conv = sc.segment_conversion(hand, seg, stage_map=SM)
    row = conv[(conv["segment"] == "device") & (conv["level"] == "mobile") & (conv["stage"] == "awareness")].iloc[0]
    # mobile: c3 never moves on, c4 does → 1/2 against 3/4 overall
    assert (row["reached"], row["moved"], row["conversion_to_next"], row["gap"]) == (2, 1, 0.5, -0.25)
    pains = sc.pain_points(conv, min_customers=1)
    # social (c2 moves on, c3 not) ties mobile at 1/2 on awareness: a tie names no pain point (issue 14)
    assert "awareness" not in pains.index
    # consideration (c1, c2, c4 all move on): nobody is below the stage, so no pain point either
    assert "consideration" not in pains.index and "advocacy" not in pains.index
    # purchase → retention 2/3 overall: c2 (social, desktop) does not come back; desktop 1/2 (c1, c2) vs
    # social 0/1: social is the unique worst at -2/3
    assert pains.loc["purchase", "level"] == "social" and pains.loc["purchase", "gap"] == pytest.approx(-2 / 3)
    untied = sc.pain_points(conv[~((conv["segment"] == "device") & (conv["level"] == "mobile"))], min_customers=1)
    assert untied.loc["awareness", "level"] == "social" and untied.loc["awareness", "gap"] == -0.25
    assert sc.pain_points(conv, min_customers=10).empty
    cust = pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"], "persona": ["a", "a", "b", "b"],
                         "age": [30, 40, 50, 60]})
    seg2 = sc.customer_segments(hand, by=["persona", "acquisition_channel"], customers=cust)
    assert seg2["persona"].tolist() == ["a", "a", "b", "b"]
    assert sc.customer_segments(hand, customers=cust).columns.tolist() == ["persona", "device", "acquisition_channel"]
    with pytest.raises(ValueError, match="by: "):
        sc.customer_segments(hand, by=["nope"])
    assert sc.customer_segments(hand.drop(columns=["channel", "device"])).shape[1] == 0


def test_customer_segments_default_to_the_profile_candidates(hand):
    """Issue 14 obs. 4: an order_status column became a segment ("delivered journeys work best … and
    delivered worst"). With no columns named, segments are the profile's candidates: an outcome-like
    column (its value changes along each customer's journey) and an id-like code are never picked."""
    import cjlib

    status = {"page_view": "browsing", "product_view": "browsing", "ad_click": "browsing", "purchase": "paid",
              "review": "reviewed"}
    ev = hand.assign(order_status=hand["event"].astype(str).map(status),
                     device=hand["customer_id"].map({"c1": "desktop", "c2": "desktop", "c3": "mobile", "c4": "mobile"}))
    cust = pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"], "plan": ["free", "pro", "free", "pro"],
                         "zip_prefix": [10234, 22871, 30455, 49012]})
    prof = cjlib.profile(cjlib.Inputs(ev.sort_values(["customer_id", "timestamp"]), cust, None, None, SM))
    assert "order_status" in prof.outcome_like and "zip_prefix" in prof.id_like
    seg = sc.customer_segments(ev, customers=cust, profile=prof)
    assert seg.columns.tolist() == ["plan", "device", "acquisition_channel"] == list(prof.segment_candidates)
    assert sc.customer_segments(ev, customers=cust).columns.tolist() == seg.columns.tolist()  # profiled itself
    with pytest.warns(UserWarning, match="order_status is used as asked.*outcome-like"):
        named = sc.customer_segments(ev, by=["order_status"], customers=cust, profile=prof)
    assert named["order_status"].to_dict() == {"c1": "browsing", "c2": "browsing", "c3": "browsing", "c4": "browsing"}


def _planted_scores_data():
    """Segment A beats B beats C on conversion, speed, satisfaction and value."""
    rows, fb = [], []
    spec = {"A": (1.0, 1, 100.0, 5), "B": (0.5, 5, 50.0, 3), "C": (0.25, 10, 20.0, 1)}
    for g, (rate, days, rev, csat) in spec.items():
        for i in range(40):
            cid = f"{g}{i:02d}"
            t0 = pd.Timestamp("2025-01-01") + pd.Timedelta(hours=i)
            rows.append((cid, t0, "page_view", None))
            if i < rate * 40:
                rows.append((cid, t0 + pd.Timedelta(days=days), "purchase", rev))
            fb.append((cid, t0 + pd.Timedelta(days=1), csat, "csat", "purchase"))
    ev = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event", "revenue"])
    feedback = pd.DataFrame(fb, columns=["customer_id", "timestamp", "score", "scale", "stage"])
    seg = pd.DataFrame({"grp": [c[0] for c in pd.unique(ev["customer_id"])]},
                       index=pd.Index(pd.unique(ev["customer_id"]), name="customer_id"))
    return ev, feedback, seg


@pytest.mark.parametrize("method", ["rank", "zscore"])
def test_journey_scores_planted_order(method):
    ev, fb, seg = _planted_scores_data()
    s = sc.journey_scores(ev, seg, stage_map=SM, feedback=fb, method=method, min_customers=10)
    assert s["level"].tolist() == ["A", "B", "C"] and s["rank"].tolist() == [1, 2, 3]
    a = s.iloc[0]
    assert a["conversion"] == 1.0 and a["days_to_convert"] == 1.0 and a["satisfaction"] == 100.0
    assert a["revenue_per_customer"] == 100.0
    assert s.iloc[1]["revenue_per_customer"] == pytest.approx(25.0)
    if method == "rank":
        assert s["score"].tolist() == [100.0, 50.0, 0.0]
    # without feedback the satisfaction component drops out and the order holds
    s2 = sc.journey_scores(ev, seg, stage_map=SM, method=method, min_customers=10)
    assert s2["level"].tolist() == ["A", "B", "C"] and s2["score_satisfaction"].isna().all()
    assert sc.journey_scores(ev, seg, stage_map=SM, min_customers=41).empty
    # a segment with one level large enough has nothing to be compared with: no score (issue 14)
    assert sc.journey_scores(ev, seg.replace({"grp": {"B": "A", "C": "A"}}), stage_map=SM, min_customers=10).empty


def test_planted_mobile_friction_and_journey_score_on_synth(synth):
    seg = sc.customer_segments(synth.events, by=["device", "acquisition_channel"])
    conv = sc.segment_conversion(synth.events, seg, stage_map=SM)
    cons = conv[(conv["segment"] == "device") & (conv["stage"] == "consideration")].set_index("level")
    assert cons.loc["mobile", "conversion_to_next"] < cons.loc["desktop", "conversion_to_next"] - 0.1
    assert cons.loc["mobile", "p_value"] < 1e-3
    # the level rows add up to the stage totals
    k = sc.stage_kpis(synth.events, stage_map=SM)
    assert cons["reached"].sum() == k.loc["consideration", "reached"]
    scores = sc.journey_scores(synth.events, seg, stage_map=SM, feedback=synth.feedback)
    dev = scores[scores["segment"] == "device"].set_index("level")
    assert dev.loc["desktop", "rank"] < dev.loc["mobile", "rank"]


# --------------------------------------------------------------------------------------------- figures
def test_journey_map_drops_missing_rows(hand, hand_feedback):
    k = sc.stage_kpis(hand, stage_map=SM, feedback=hand_feedback)
    touch = sc.stage_touchpoints(hand, stage_map=SM)
    chans = sc.stage_touchpoints(hand, stage_map=SM, by="channel")
    seg = sc.customer_segments(hand)
    pains = sc.pain_points(sc.segment_conversion(hand, seg, stage_map=SM), min_customers=1)
    full = jm.journey_map(k, touchpoints=touch, channels=chans, pains=pains, title="t")
    assert len(full.axes) == 5
    bare = jm.journey_map(sc.stage_kpis(hand, stage_map=SM), touchpoints=touch, notes=["no feedback", "no channel"])
    assert len(bare.axes) == 2
    texts = [t.get_text() for t in bare.texts]
    assert "no feedback" in texts and "no channel" in texts
    ax = jm.score_ranking(sc.journey_scores(hand, seg, stage_map=SM, min_customers=1), title="s")
    assert ax.get_title() == "s"
    fig = jm.kpi_trend_grid(sc.kpi_trends(hand, stage_map=SM), {"orders": "orders", "nps": "NPS"})
    assert sum(a.get_visible() for a in fig.axes) == 1  # no NPS column without feedback
    jm.retention_heatmap(sc.cohort_retention(hand, stage_map=SM), title="r")
    plt.close("all")
