"""Sentences and titles of the journey map report (cjlib.findings.journey_map), on hand-made frames.

Each test pins a way 00's findings went wrong on real logs (issue 14, obs. 4–8): garbled subjects, trends
between zeros or from partial periods, revenue sentences without revenue, rankings from ties, tiny groups
or zero denominators, measures named alike but defined unlike 03's, feedback dropped silently.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import cjlib
from cjlib import scorecard as sc
from cjlib.findings import journey_map as fj
from cjlib.findings import problems
from cjlib.plots import journey_map as jm
from cjlib.stagemap import load_stage_map, stage_map_from_dict

SM = load_stage_map()
NB00 = Path(__file__).resolve().parents[1] / "notebooks" / "00_journey_map.ipynb"


def kpis_frame(reached, share, days=None, revenue=None, sat=None, sat_n=None):
    """A stage_kpis-like frame over stages s0, s1, … (the last stage's share/days are NaN)."""
    n = len(reached)
    idx = pd.Index([f"s{i}" for i in range(n)], name="stage")
    out = pd.DataFrame({"reached": reached, "conversion_to_next": list(share) + [np.nan],
                        "median_days_to_next": list(days or [1.0] * (n - 1)) + [np.nan]}, index=idx)
    out["reached_share"] = out["reached"] / max(reached)
    if revenue is not None:
        out["revenue"] = revenue
    out["satisfaction_index"] = sat if sat is not None else np.nan
    out["satisfaction_index_n"] = sat_n if sat_n is not None else 0
    out["satisfaction_index_lo"] = out["satisfaction_index"] - 2
    out["satisfaction_index_hi"] = out["satisfaction_index"] + 2
    return out


@pytest.fixture
def hand() -> pd.DataFrame:
    rows = [
        ("c1", "2025-01-01 10:00", "page_view", "email", None),
        ("c1", "2025-01-02 10:00", "product_view", "email", None),
        ("c1", "2025-01-03 10:00", "purchase", "email", 100.0),
        ("c1", "2025-02-10 00:00", "purchase", "direct", 50.0),
        ("c2", "2025-01-05 00:00", "ad_click", "social", None),
        ("c2", "2025-01-20 00:00", "purchase", "social", 30.0),
        ("c3", "2025-01-10 00:00", "page_view", "social", None),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event", "channel", "revenue"])
    return df.assign(timestamp=pd.to_datetime(df["timestamp"]))


def inputs(ev, sm=SM, customers=None, feedback=None, costs=None):
    return cjlib.Inputs(ev.sort_values(["customer_id", "timestamp"]).reset_index(drop=True), customers,
                        feedback, costs, sm)


# ------------------------------------------------------------------------------- obs 6: garbled findings
def _scores(conv_a=0.6, conv_b=0.2, score_a=100.0, score_b=0.0, n=(60, 60), seg="device"):
    return pd.DataFrame({"segment": [seg, seg], "level": ["desktop", "mobile"], "customers": list(n),
                         "conversion": [conv_a, conv_b], "score": [score_a, score_b],
                         "score_conversion": [100.0, 0.0], "score_speed": [np.nan, np.nan]})


def test_journey_score_line_names_the_segment_not_a_measure():
    """'Journey score: email (cost_per_conversion) scores 93' — the segment, never a loop's last key."""
    measures = pd.DataFrame({"measure": ["conversion_rate", "aov", "cost_per_conversion"],
                             "value": [0.3, 90.0, 2.0], "n": [100, 30, 40]})
    pick = fj.score_pick(_scores())
    lines = fj.finding_lines(kpis_frame([100, 50], [0.5]), measures, customers=100, overall=0.3, pick=pick)
    score = [ln for ln in lines if "Journey score" in ln]
    assert score == ["- Journey score by device: desktop scores 100, mobile 0; desktop customers convert "
                     "3.0× as often."]
    assert "- Blended cost per conversion 2.00 (over 40 conversions in the costed months)." in lines
    assert "- **30.0%** of the 100 customers converted at any time." in lines


def test_journey_score_ratio_never_over_zero_conversion():
    """'mobile customers convert 25041736.2× as often' came from dividing by a floor of 1e-9."""
    pick = fj.score_pick(_scores(conv_b=0.0))
    line = [ln for ln in fj.finding_lines(kpis_frame([10, 5], [0.5]), pd.DataFrame(), customers=10, pick=pick)
            if "Journey score" in ln][0]
    assert line == "- Journey score by device: desktop scores 100, mobile 0."


def test_score_pick_refuses_ties_small_groups_and_single_levels():
    assert fj.score_pick(_scores(score_a=50.0, score_b=50.0)) is None
    assert fj.score_pick(_scores(n=(60, 10)), min_customers=50) is None
    one = _scores().iloc[:1]
    assert fj.score_pick(one) is None
    assert fj.score_title(None) == ("Journey score per segment level: no level stands out (the levels tie or "
                                    "differ within chance)")
    # clickstream: 3% of 600 against 0% of 76 converting is within chance (p = 0.13), so no best/worst
    assert fj.score_pick(_scores(conv_a=0.03, conv_b=0.0, n=(600, 76))) is None
    assert fj.score_pick(_scores(conv_a=0.03, conv_b=0.0, n=(6000, 760)))["best"].name == "desktop"
    # the segment with the larger conversion spread is headlined, if its ends are earned
    two = pd.concat([_scores(conv_a=0.5, conv_b=0.4), _scores(conv_a=0.9, conv_b=0.1, seg="plan")])
    pick = fj.score_pick(two)
    assert pick["segment"] == "plan" and (pick["best"].name, pick["worst"].name) == ("desktop", "mobile")
    assert fj.score_title(pick) == "By plan, desktop journeys score best (100; 90% convert) and mobile worst (0; 10%)"


def test_trend_title_never_between_zeros_nor_from_partial_or_tiny_periods():
    t = pd.DataFrame({"conversion_rate": [0.0, 0.0, 0.0], "active_customers": [100, 1200, 1200],
                      "days": [30, 28, 31], "period_days": [31, 28, 31]},
                     index=pd.Index(["2016-11", "2016-12", "2017-01"], name="period"))
    title = fj.trend_title(t, "M")
    assert "0.0% (" not in title and problems(title) == []
    assert title == "Active customers held at 1,200 per month from 2016-12 to 2017-01"  # 2016-11 is partial
    t2 = t.assign(conversion_rate=[0.5, 0.02, 0.04])   # 24 of 1,200 against 48 of 1,200: p = 0.004
    assert fj.trend_title(t2, "M") == "Conversion rose from 2.0% (2016-12) to 4.0% (2017-01) of active customers per month"
    # the same rates over 50 customers each are within chance; a 2-customer month starts no trend (Olist)
    t3 = t2.assign(active_customers=[100, 50, 50])
    assert fj.trend_title(t3, "M") == ("Conversion was 2.0% (2016-12) and 4.0% (2017-01) of active customers "
                                       "per month: no change beyond chance")
    t4 = pd.concat([t2.assign(days=[31, 28, 31]).iloc[:1].assign(active_customers=2, conversion_rate=1.0), t2.iloc[1:]])
    assert fj.trend_title(t4, "M").startswith("Conversion rose from 2.0% (2016-12)")
    one_full = t.assign(days=[30, 28, 30])
    assert fj.trend_title(one_full, "M") == ("KPIs per month: fewer than two full months with 30+ active customers, "
                                             "so no trend")
    nan_ends = t.assign(conversion_rate=[np.nan] * 3, active_customers=[0, 0, 0])
    assert "no trend" in fj.trend_title(nan_ends, "W")


def test_no_revenue_sentence_without_revenue_and_no_stage_from_a_tie():
    """'Revenue: 0 in total, 0 from awareness events' on a log with no revenue."""
    k = kpis_frame([10, 5, 2], [0.5, 0.4], revenue=[0.0, 0.0, 0.0])
    assert not any("Revenue" in ln for ln in fj.finding_lines(k, pd.DataFrame(), customers=10, revenue=False))
    assert not any("Revenue" in ln for ln in fj.finding_lines(k, pd.DataFrame(), customers=10, revenue=True))
    tie = kpis_frame([10, 5, 2], [0.5, 0.4], revenue=[0.0, 40.0, 40.0])
    assert "- Revenue: 80 in total." in fj.finding_lines(tie, pd.DataFrame(), customers=10)
    lead = kpis_frame([10, 5, 2], [0.5, 0.4], revenue=[0.0, 60.0, 40.0])
    assert "- Revenue: 100 in total, 60 of it on s1-stage events." in fj.finding_lines(lead, pd.DataFrame(), customers=10)


def test_leak_never_from_a_tie_or_a_stage_nobody_reaches():
    tie = kpis_frame([100, 50, 25], [0.5, 0.5])
    assert fj.leak(tie) is None
    assert fj.map_title(tie, overall=0.2) == "20% of customers convert"
    # s2 is reached by nobody: its 'NaN' is no candidate; s1 → s2 at 0 % stands alone against s0 → s1
    k = kpis_frame([100, 40, 0, 0], [0.4, 0.0, np.nan])
    lk = fj.leak(k)
    assert (lk["from"], lk["to"], lk["share"], lk["only"]) == ("s1", "s2", 0.0, False)
    # but a stage whose events never occur in the log is no leak target
    assert fj.leak(k, seen=["s0", "s1"])["only"] is True
    assert fj.map_title(k, seen=["s0", "s1"]) == "Of customers who reached s0, 40% ever reach s1"
    assert fj.leak(kpis_frame([0, 0], [np.nan])) is None
    assert fj.map_title(kpis_frame([0, 0], [np.nan])) == "The journey: customers reached at each of 2 stages"


def test_map_title_names_a_pain_point_only_when_unique_and_significant():
    k = kpis_frame([100, 50, 10], [0.5, 0.2])
    pains = pd.DataFrame({"segment": ["plan", "device"], "level": ["free", "mobile"], "gap": [-0.3, -0.1],
                          "p_value": [0.001, 0.01], "conversion_to_next": [0.2, 0.1], "overall": [0.5, 0.2],
                          "reached": [40, 40]}, index=pd.Index(["s0", "s1"], name="stage"))
    assert fj.map_title(k, overall=0.1, pains=pains) == (
        "10% of customers convert; the biggest leak is s1 → s2 (20% ever move on); "
        "the sorest point is plan = free out of s0 (-30 pp)")
    assert "sorest" not in fj.map_title(k, pains=pains.assign(gap=[-0.2, -0.2]))
    assert "sorest" not in fj.map_title(k, pains=pains.assign(p_value=[0.3, 0.2]))
    assert "device = mobile" in fj.map_title(k, pains=pains.assign(p_value=[0.3, 0.01]))
    assert fj.map_title(k, overall=1.0, purchases_only=True).startswith("The biggest leak")


def test_pain_lines_state_p_values_and_skip_undefined_rows():
    pains = pd.DataFrame({"segment": ["plan", "state"], "level": ["free", "BA"], "gap": [-0.378, np.nan],
                          "p_value": [0.0001, np.nan], "conversion_to_next": [0.136, np.nan],
                          "overall": [0.514, 1.0], "reached": [601, 62]},
                         index=pd.Index(["purchase", "approved"], name="stage"))
    text = fj.pain_lines(pains)
    assert text.splitlines()[1] == ("- **purchase**: of plan = free customers who reached purchase, 13.6% moved on, "
                                    "against 51.4% of all (-37.8 pp, 601 customers, p < 0.001).")
    assert "approved" not in text and problems(text) == []
    assert fj.pain_lines(pains.iloc[1:]) is None


def test_lowest_satisfaction_never_from_ties_or_few_answers():
    k = kpis_frame([100, 50, 10], [0.5, 0.2], sat=[70.0, 60.0, 60.0], sat_n=[100, 100, 100])
    assert not any("Satisfaction" in ln for ln in fj.finding_lines(k, pd.DataFrame(), customers=100))
    k2 = kpis_frame([100, 50, 10], [0.5, 0.2], sat=[70.0, 60.0, 40.0], sat_n=[100, 100, 5])
    assert "- Satisfaction is lowest at **s1** (60/100, 95% CI 58–62)." in fj.finding_lines(k2, pd.DataFrame(),
                                                                                          customers=100)


def test_cost_sentence_skips_zero_conversions_and_ties():
    cc = pd.DataFrame({"spend": [100.0, 50.0, 30.0], "conversions": [10, 0, 3],
                       "cost_per_conversion": [10.0, np.nan, 10.0]}, index=pd.Index(["a", "b", "c"], name="channel"))
    cc = sc.ChannelCosts(cc, "sessions")
    assert fj.cost_sentence(cc) == "**Costs:** 180 spent on 3 channels; b had no conversion to cost. Clicks are sessions."
    # a log without web visits: its 'sessions' are not clicks worth naming
    assert fj.cost_sentence(cc, sessions=False) == "**Costs:** 180 spent on 3 channels; b had no conversion to cost."
    cc.table.loc["c", "cost_per_conversion"] = 20.0
    # c's 20.00 comes from 3 conversions: too few to call it the dearest (b2b: 'paid_search 14,169' from 2)
    assert fj.cost_sentence(cc) == "**Costs:** 180 spent on 3 channels; b had no conversion to cost. Clicks are sessions."
    # 10 against 3 conversions at 10.00 and 20.00 each are within chance of each other: no cheapest or dearest
    assert fj.cost_sentence(cc, min_conversions=3) == ("**Costs:** 180 spent on 3 channels; costs per conversion run from "
                                                       "10.00 (a) to 20.00 (c), within chance of each other; b had no "
                                                       "conversion to cost. Clicks are sessions.")


def test_measure_lines_never_from_zero_denominators():
    m = pd.DataFrame({"measure": ["cost_per_conversion", "repeat_purchase_rate", "aov", "nps"],
                      "value": [np.nan, np.nan, np.nan, np.nan], "n": [0, 0, 0, 0]})
    lines = fj.finding_lines(kpis_frame([10, 5], [0.5]), m, customers=10)
    assert all(problems(ln) == [] for ln in lines)
    assert not any(w in " ".join(lines) for w in ("cost per conversion", "buy again", "order value", "NPS"))


def test_retention_title_never_from_zero_customers():
    ret = pd.DataFrame({"cohort": ["2025-01"], "offset": [0], "customers": [5], "retained": [5], "share": [1.0]})
    assert fj.retention_title(ret) is None
    ret2 = pd.DataFrame({"cohort": ["2025-01", "2025-01"], "offset": [0, 1], "customers": [40, 40],
                         "retained": [40, 10], "share": [1.0, 0.25]})
    assert fj.retention_title(ret2) == "25% of 40 customers convert again in the month after their first conversion (by monthly cohort)"


# ---------------------------------------------------------------------------- obs 7: one name, one number
def test_definition_line_says_ever_in_any_order_and_why_03_differs(hand):
    k = sc.stage_kpis(hand, stage_map=SM)
    line = fj.definition_line(k, sc.stage_roles(stage_map=SM))
    # c1 and c2 reached purchase, only c1 bought again: 50 %
    assert "of customers who ever reached purchase, 50% ever reached retention afterwards, at any time" in line
    assert "in order within its conversion window" in line and "months after the first" in line
    assert fj.definition_line(kpis_frame([10, 0], [0.0]), seen=["s0"]) is None  # one stage occurs: no step
    other = fj.definition_line(kpis_frame([10, 5], [0.5]))
    assert "of customers who ever reached s0, 50% ever reached s1" in other and "months" not in other
    assert fj.map_notes(k) == ["Arrows: of customers who ever reached a stage, the share who ever reached the "
                               "next one (any time after), and the median time between."]
    notes = fj.map_notes(k, [("Revenue", "x."), ("The emotion row", "y."), ("The pain-point row", "z.")])
    assert notes[1] == "Not drawn for this data: the emotion and pain-point rows (why: see the notes above the map)."
    assert all(len(n) <= 150 for n in notes)  # the map shortens longer notes


def test_notebook_metrics_keys_do_not_reuse_03s_names(hand):
    kpis = sc.stage_kpis(hand, stage_map=SM)
    measures = sc.stage_measures(hand, stage_map=SM)
    m = fj.scorecard_metrics(kpis, measures, cjlib.profile(inputs(hand)))
    first = m["stages"][0]
    assert first["reached_next_share"] == kpis["conversion_to_next"].iloc[0] and "conversion_to_next" not in first
    assert first["median_days_to_reach_next"] == kpis["median_days_to_next"].iloc[0]


# --------------------------------------------------------------------------- obs 8: unmatched feedback
def test_unmatched_feedback_is_said_in_one_sentence():
    fb = pd.DataFrame({"customer_id": ["a"] * 5, "score": [4] * 5,
                       "stage": ["checkout", "checkout", "delivery", "purchase", "after-sales"]})
    s = fj.feedback_unmatched_sentence(fb, SM.stage_names, unmatched=4)
    assert s == fj.feedback_unmatched_sentence(fb, SM.stage_names)  # counted here when not given
    assert s == ("4 of 5 feedback rows name a stage the stage map lacks (checkout (2), after-sales (1) and "
                 "delivery (1)); they are left out of the satisfaction measures.")
    assert fj.feedback_unmatched_sentence(fb[fb["stage"] == "purchase"], SM.stage_names) is None
    assert fj.feedback_unmatched_sentence(fb.drop(columns="stage"), SM.stage_names) is None


# ------------------------------------------------------------------------- obs 5: sections left out
def test_left_out_sections_follow_the_profile(hand):
    full = cjlib.profile(inputs(hand))
    assert [s for s, _ in fj.left_out_sections(full)] == ["The cost section (cost per click, cost per conversion)",
                                                          "The satisfaction view (emotion row, CSAT and NPS)"]
    costs = pd.DataFrame({"channel": ["email"], "spend": [10.0]})
    assert [s for s, _ in fj.left_out_sections(cjlib.profile(inputs(hand, costs=costs)))] == [
        "The satisfaction view (emotion row, CSAT and NPS)"]
    bare = cjlib.profile(inputs(hand.drop(columns=["channel", "revenue"])))
    out = dict(fj.left_out_sections(bare))
    assert out["Revenue"] == bare.why_not("revenue")
    assert out["The channel view (channel row, channel mix and costs)"] == bare.why_not("channel")
    # every customer buys once: no retention curve
    once = hand[~((hand["customer_id"] == "c1") & (hand["timestamp"] > "2025-02-01"))]
    assert "The retention curve" in dict(fj.left_out_sections(cjlib.profile(inputs(once))))
    assert "The retention curve" not in dict(fj.left_out_sections(cjlib.profile(inputs(once)),
                                                                  retention_based_on="activity"))
    views = hand[hand["event"] == "page_view"]
    v = dict(fj.left_out_sections(cjlib.profile(inputs(views))))
    assert v["Stage-to-stage conversion"] == "only one stage of the stage map occurs in the data (awareness)."
    assert "The conversion view (overall conversion, journey scores, conversion trend, retention curve)" in v
    assert "The retention curve" not in v  # said once, under conversions
    assert not fj.retention_runs(cjlib.profile(inputs(views)))
    assert fj.retention_runs(cjlib.profile(inputs(views)), "activity") and fj.retention_runs(full)
    fb = pd.DataFrame({"customer_id": ["c1"], "timestamp": pd.to_datetime(["2025-01-04"]), "score": [4],
                       "stage": ["delivery"]})
    got = dict(fj.left_out_sections(cjlib.profile(inputs(hand, feedback=fb)), stage_satisfaction=False,
                                    unmatched="1 of 1 feedback rows name a stage the stage map lacks."))
    assert got["The emotion row"] == "1 of 1 feedback rows name a stage the stage map lacks."


def test_segments_left_out_reasons():
    none = pd.DataFrame(index=pd.Index(["a"], name="customer_id"))
    assert fj.segments_left_out(none, pd.DataFrame(), pd.DataFrame(), min_customers=50)[0][0] == \
        "The segment comparison (pain points and journey scores)"
    seg = pd.DataFrame({"device": ["x"]}, index=none.index)
    got = dict(fj.segments_left_out(seg, pd.DataFrame(), pd.DataFrame(), min_customers=50))
    assert set(got) == {"The pain-point row", "The journey-score chart"} and "50+" in got["The journey-score chart"]
    small = pd.DataFrame({"reached": [10, 20]})
    got = dict(fj.segments_left_out(seg, pd.DataFrame(), pd.DataFrame(), min_customers=50, seg_conv=small,
                                    conversions=False))
    assert got == {"The pain-point row": "no segment level has 50+ customers at any stage (min_segment_customers)."}
    got = dict(fj.segments_left_out(seg, pd.DataFrame(), pd.DataFrame(), min_customers=50, stages=False,
                                    conversions=False))
    assert got == {"The pain-point row": "only one stage occurs in the data, so no segment moves between stages."}


def test_journey_map_draws_two_stages_nobody_reaching_and_no_channel():
    sm = stage_map_from_dict({"stages": [{"name": "first_purchase", "events": ["purchase"]},
                                         {"name": "repeat_purchase", "events": ["purchase"], "nth": 2}],
                              "conversion_events": ["purchase"]})
    ev = pd.DataFrame({"customer_id": ["a", "b", "c"], "event": ["purchase"] * 3,
                       "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"])})
    k = sc.stage_kpis(ev, stage_map=sm)  # nobody reaches repeat_purchase
    assert k["reached"].tolist() == [3, 0]
    fig = jm.journey_map(k.drop(columns="revenue", errors="ignore"), touchpoints=sc.stage_touchpoints(ev, stage_map=sm),
                         title=fj.map_title(k, overall=1.0, purchases_only=True), notes=fj.map_notes(k))
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert len(fig.axes) == 2 and "FIRST_PURCHASE" in texts and "0%" in texts
    assert not any("revenue" in t for t in texts)  # no revenue column: no revenue line at all
    assert fig._suptitle.get_text() == "Of customers who reached first_purchase, 0% ever reach repeat_purchase"
    plt.close("all")


# ---------------------------------------------------------------------------- obs 4: segment choice
def test_named_segment_warning_sentence():
    from types import SimpleNamespace

    p = SimpleNamespace(id_like=("zip_prefix",), outcome_like=("order_status",))
    assert fj.named_segment_warning(["plan"], p) == ""
    assert fj.named_segment_warning(["zip_prefix", "order_status"], p) == (
        "Segment columns zip_prefix and order_status are used as asked, although the data profile finds "
        "zip_prefix id-like (an identifier or code) and order_status outcome-like (values that change along the "
        "journey or follow from the conversion): read their levels as codes rather than groups of customers or "
        "a restatement of the outcome.")
    assert fj.named_segment_warning(["zip_prefix"], p) == (
        "Segment column zip_prefix is used as asked, although the data profile finds it id-like (an identifier "
        "or code): read its levels as codes rather than groups of customers.")


def test_data_sentence():
    s = {"events": 1234, "customers": 56, "first_event": "2025-01-01 00:00:00", "last_event": "2025-02-01"}
    assert fj.data_sentence(s) == "**Data:** 1,234 events from 56 customers, 2025-01-01 to 2025-02-01."


# ------------------------------------------------------------------------------------ obs 6: no def
def test_notebook_has_no_def_and_no_idxmin():
    cells = json.loads(NB00.read_text())["cells"]
    src = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "def " not in src and "idxmin" not in src and "idxmax" not in src
    assert all(c.get("execution_count") is None and not c.get("outputs") for c in cells if c["cell_type"] == "code")


def test_journey_map_mutes_pain_points_within_chance():
    k = kpis_frame([100, 50, 10], [0.5, 0.2])
    pains = pd.DataFrame({"segment": ["plan", "device"], "level": ["free", "mobile"], "gap": [-0.3, -0.05],
                          "p_value": [0.001, 0.4], "conversion_to_next": [0.2, 0.15], "overall": [0.5, 0.2],
                          "reached": [40, 40]}, index=pd.Index(["s0", "s1"], name="stage"))
    fig = jm.journey_map(k, pains=pains)
    texts = {t.get_text(): t.get_color() for t in fig.axes[-1].texts}
    assert texts["plan = free\n20% vs 50% (-30 pp)"] == "#a61b1b"
    assert texts["device = mobile\n15% vs 20% (-5 pp, n.s.)"] == jm._MUTED
    plt.close("all")


# ----------------------------------------------------------------------- the notebook's section functions
def test_data_metrics_and_lines(hand):
    fb = pd.DataFrame({"customer_id": ["c1", "c2"], "timestamp": pd.to_datetime(["2025-01-02", "2025-01-06"]),
                       "score": [4, 5], "stage": ["purchase", "checkout"]})
    data = cjlib.Inputs(inputs(hand).events, None, fb, None, SM, None, 1)
    customers = hand["customer_id"].nunique()
    assert fj.data_metrics(data) == {"stitched_ids": None, "n_events": len(hand), "n_customers": customers}
    lines = fj.data_lines(data)
    assert lines[0].startswith(f"**Data:** {len(hand)} events from {customers} customers")
    assert lines[1] == ("*Note:* 1 of 2 feedback rows name a stage the stage map lacks (checkout (1)); they are "
                        "left out of the satisfaction measures.")
    assert len(fj.data_lines(inputs(hand))) == 1


def test_scorecard_metrics_overall_and_stages():
    kpis = kpis_frame([10, 4], [0.4])
    kpis["satisfaction"] = [4.5, np.nan]
    measures = pd.DataFrame({"measure": ["reach", "conversion_rate"], "value": [10.0, 0.25]})
    yes = type("P", (), {"supports": staticmethod(lambda role: True)})()
    no = type("P", (), {"supports": staticmethod(lambda role: role != "conversions")})()
    m = fj.scorecard_metrics(kpis, measures, yes)
    assert m["overall_conversion"] == 0.25 and [d["reached"] for d in m["stages"]] == [10, 4]
    assert m["stages"][0]["satisfaction"] == 4.5 and m["stages"][0]["revenue"] is None
    assert fj.scorecard_metrics(kpis, measures, no)["overall_conversion"] is None


def test_scorecard_left_out_and_table(hand):
    kpis = sc.stage_kpis(hand, stage_map=SM)
    left = dict(fj.scorecard_left_out(inputs(hand), kpis, retention_based_on="conversion"))
    assert "The satisfaction view (emotion row, CSAT and NPS)" in left
    table = fj.scorecard_table(kpis.drop(columns="revenue")).data
    assert list(table.columns) == ["reached", "reached_share", "reached_next_share (ever)",
                                   "median_days_to_reach_next"]
    assert table["reached"].tolist() == kpis["reached"].tolist()


def test_segment_request_parses_and_warns():
    p = type("P", (), {"id_like": ("zip",), "outcome_like": ()})()
    assert fj.segment_request("plan, device", p) == (["plan", "device"], "")
    cols, note = fj.segment_request("zip", p)
    assert cols == ["zip"] and note.startswith("*Note:* Segment column zip is used as asked")
    assert fj.segment_request(" , ", p) == (None, "")


def test_pain_and_score_metrics():
    pains = pd.DataFrame({"segment": ["plan"], "level": ["free"], "conversion_to_next": [0.2], "overall": [0.5],
                          "gap": [-0.3], "p_value": [0.01]}, index=pd.Index(["s0"], name="stage"))
    assert fj.pain_metrics(pains) == {"pain_points": [{"stage": "s0", "segment": "plan", "level": "free",
                                                       "reached_next_share": 0.2, "overall": 0.5, "gap": -0.3,
                                                       "p_value": 0.01}]}
    scores = _scores().assign(rank=[1, 2], days_to_convert=[3.0, 9.0], satisfaction=np.nan,
                              revenue_per_customer=[12.5, 4.0])
    got = fj.score_metrics(scores)["journey_scores"]
    assert [(d["level"], d["customers"], d["score"], d["rank"]) for d in got] == [("desktop", 60, 100.0, 1),
                                                                                  ("mobile", 60, 0.0, 2)]
    assert got[0]["revenue_per_customer"] == 12.5 and got[1]["days_to_convert"] == 9.0
    assert fj.scores_not_shown([("x", "why.")]) == "*Journey scores are not shown:* why."


def test_cost_table_drops_session_clicks_without_visits():
    cc = pd.DataFrame({"spend": [100.0], "clicks": [50], "conversions": [5], "cost_per_click": [2.0],
                       "cost_per_conversion": [20.0]}, index=pd.Index(["email"], name="channel"))
    cc = sc.ChannelCosts(cc, "sessions")
    assert "clicks" in fj.cost_table(cc).data.columns
    assert list(fj.cost_table(cc, sessions=False).data.columns) == ["spend", "conversions", "cost_per_conversion"]


def test_trend_labels_follow_the_data():
    labels = jm.trend_labels("M", conversions=True, revenue=True)
    assert labels["conversion_rate"] == "converters ÷ active (per month)" and "aov" in labels
    assert set(jm.trend_labels("W", conversions=False, revenue=False)) == {"active_customers", "csat", "nps"}
