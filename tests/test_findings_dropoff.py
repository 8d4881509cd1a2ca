"""Sentences and titles of 03_dropoff (cjlib.findings.dropoff) on hand-made frames: ties, tiny groups,
zero denominators, NaN and missing roles never reach text."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cjlib.findings import dropoff as D
from cjlib.findings import problems
from cjlib.funnel import Drivers


def _funnel(reached, steps=None):
    steps = steps or [f"s{i}" for i in range(len(reached))]
    r = np.array(reached, dtype=float)
    prev = np.r_[np.nan, r[:-1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = np.where(prev > 0, (prev - r) / prev, np.nan)
    return pd.DataFrame({"step": steps, "reached": reached, "dropped": np.r_[0, (prev - r)[1:]].astype(int),
                         "drop_off_rate": drop})


def test_window_text():
    assert D.window_text("30D") == "within 30 days of step 1"
    assert D.window_text("1D") == "within 1 day of step 1"
    assert D.window_text("253D") == "within 253 days of step 1"
    assert D.window_text("90min") == "within 90 minutes of step 1"
    assert D.window_text("") == D.window_text(None) == "with no time limit"


def test_funnel_title_names_the_measure_and_its_window_and_skips_an_empty_funnel():
    tab = _funnel([200, 100, 20], ["visit", "cart", "buy"])
    drop = {"from_step": "cart", "to_step": "buy", "units": 100, "dropped": 80, "drop_off_rate": 0.8, "excluded": 0,
            "min_units": 30}
    t = D.funnel_title(tab, drop, unit="customer", window="30D")
    assert t == ("Funnel conversion visit → buy: 10.0% of 200 customers, within 30 days; the largest drop is "
                 "cart → buy (80% leave)")
    assert "among steps of 30+ customers" in D.funnel_title(tab, {**drop, "excluded": 1}, unit="customer", window="30D")
    assert D.funnel_title(_funnel([0, 0, 0]), None, unit="customer", window="30D") is None
    assert D.funnel_line(_funnel([0, 0]), None, name="x", unit="customer", window=None) is None
    line = D.funnel_line(tab, None, name="shop", unit="session", window="7D")
    assert line == "Funnel conversion (shop, visit → buy in order, within 7 days of visit): **10.0%** of sessions."
    cap = D.funnel_caption("shop", mode="ordered", unit="customer", window="30D")
    assert "within 30 days of step 1" in cap and "in order" in cap and "00's stage reach" in cap


def test_checkout_title_needs_units_at_the_second_last_step():
    assert D.checkout_title(_funnel([10, 0, 0]), None, unit="session") is None
    t = D.checkout_title(_funnel([100, 50, 20], ["pv", "atc", "buy"]), None, unit="session")
    assert t == "60% of sessions that reach atc do not reach buy"


def test_cohort_title_never_a_trend_between_two_zeros():
    coh = pd.DataFrame({"cohort": pd.to_datetime(["2016-11-01", "2017-01-01", "2018-09-01"]), "units": [300, 400, 500],
                        "rate": [0.0, 0.1, 0.0], "complete": [True, True, True]})
    assert D.cohort_title(coh, to_step="purchase") is None  # "fell from 0.0% to 0.0%" was observation 6
    coh["rate"] = [0.30, 0.2, 0.25]
    # 90 of 300 against 125 of 500: p = 0.12, within chance
    assert D.cohort_title(coh, to_step="purchase") == ("Funnel conversion to purchase: 30.0% (2016-11-01 cohort) "
                                                        "and 25.0% (2018-09-01), no change beyond chance")
    t = D.cohort_title(coh.assign(units=[3000, 400, 5000]), to_step="purchase")
    assert t == "Funnel conversion to purchase fell from 30.0% (2016-11-01 cohort) to 25.0% (2018-09-01)"
    # small cohorts are not trend ends
    assert D.cohort_title(coh.assign(units=[300, 10, 10]), to_step="purchase") is None
    coh["rate"] = [0.2, np.nan, 0.2]
    assert "held at 20%" in D.cohort_title(coh, to_step="purchase")


def _cart(carts, abandoned, recovered, ttr=()):
    table = pd.DataFrame({"time_to_recovery": pd.to_timedelta(list(ttr) + [pd.NaT] * (carts - len(ttr)))})
    return SimpleNamespace(carts=carts, abandoned=abandoned, recovered=recovered,
                           abandonment_rate=abandoned / carts if carts else float("nan"),
                           recovery_rate=recovered / abandoned if abandoned else float("nan"),
                           cart_event=("add_to_cart",), purchase_event=("purchase",), table=table,
                           window=pd.Timedelta(days=7))


def test_cart_title_never_names_the_all_row_a_tie_or_a_small_group():
    cart = _cart(400, 276, 20)
    out = pd.DataFrame({"purchased": [124, 60, 61], "recovered": [20, 10, 10], "lost": [256, 130, 129]},
                       index=["all", "device = mobile", "device = desktop"])
    out["carts"] = out.sum(axis=1)
    t = D.cart_title(cart, out, min_units=30)
    assert t.startswith("69% of carts are abandoned, 7% of those recovered within 7 days")
    assert "loses the most" not in t  # 65.0 % against 64.5 %: within a point, a tie; "all" (64 %) is never a group


def test_cart_title_names_a_clear_leader_only():
    cart = _cart(400, 276, 20)
    out = pd.DataFrame({"purchased": [124, 40, 84], "recovered": [20, 10, 10], "lost": [256, 150, 106]},
                       index=["all", "device = mobile", "device = desktop"])
    out["carts"] = out.sum(axis=1)
    assert D.cart_title(cart, out).endswith("; device = mobile loses the most (75%)")
    assert "loses the most" not in D.cart_title(cart, out.iloc[:2])  # one group: nothing to rank
    assert "loses the most" not in D.cart_title(cart, out, min_units=250)  # groups too small
    # no carts: nothing; no abandoned carts: no recovery rate (0 of 0)
    assert D.cart_title(_cart(0, 0, 0), out.iloc[:1]) is None
    assert D.cart_sentence(_cart(0, 0, 0)) is None
    s = D.cart_sentence(_cart(50, 0, 0))
    assert "recovered" not in s and not problems(s)
    s = D.cart_sentence(_cart(50, 10, 2, [pd.Timedelta(days=1), pd.Timedelta(days=3)]))
    assert "2 of them recovered by a purchase within 7 days (20.0%). Median time to recovery: 2.0 days" in s


def test_time_to_convert_only_with_converters():
    empty = pd.DataFrame({"hours": [], "time_to_convert": pd.to_timedelta([])})
    for f in (D.time_to_convert_title, ):
        assert f(empty, unit="customer", from_step="a", to_step="b") is None
    assert D.time_to_convert_sentence(empty, unit="customer", from_step="a", to_step="b", window="30D") is None
    assert D.time_to_convert_line(empty, from_step="a", to_step="b") is None
    ttc = pd.DataFrame({"hours": [0.19, 2.0, 48.0]})
    ttc["time_to_convert"] = pd.to_timedelta(ttc["hours"], unit="h")
    s = D.time_to_convert_sentence(ttc, unit="customer", from_step="a", to_step="b", window="30D")
    # three customers: their times, not a median and a 90th percentile
    assert s.startswith("Funnel time to convert, from a to b") and \
        "the 3 customers who reach b in the funnel take 11.4 min to 2.0 days from a" in s and "00's time to convert" in s
    s = D.time_to_convert_sentence(ttc, unit="customer", from_step="a", to_step="b", window="30D", converts=False)
    assert s.startswith("Funnel time to reach the last step")
    assert D.time_to_convert_line(ttc, from_step="a", to_step="b") == \
        "Funnel time: the 3 customers who reach b take 11.4 min to 2.0 days from a (2 of the 3 within a day)."


def test_worst_segment_sentences():
    w = dict(column="device", level="mobile", from_step="bc", to_step="buy", units=6199, converted=2281,
             rate=0.368, ci_low=0.356, ci_high=0.38, rate_rest=0.802, ratio=0.459, p_adjusted=1e-9)
    s = D.worst_segment_sentence(w, to_step="buy", unit="session", min_units=100)
    assert s == ("**Worst segment into buy:** device = **mobile** — 36.8% of its 6,199 sessions at bc reach buy "
                 "(95 % CI 35.6%–38.0%) against 80.2% for the rest: 0.46× (p < 0.001, Holm).")
    none = D.worst_segment_sentence(None, to_step="buy", unit="session", min_units=100)
    assert none.startswith("No segment level of 100+ sessions converts significantly worse")
    assert D.worst_segment_sentence(None, to_step="buy", unit="session", min_units=100, any_segments=False) is None
    assert D.step_worst_line(w, w) is None  # the headline is not repeated
    assert D.segment_gaps_title(None, "plan", unit="customer", funnel="f", min_units=100) == \
        "By plan: no level of 100+ customers converts significantly worse than the rest (customers, f)"
    with pytest.raises(ValueError):  # NaN never reaches text
        D.worst_segment_sentence({**w, "rate": float("nan")}, to_step="buy", unit="session", min_units=100)


def test_drivers_need_an_interval_that_excludes_one():
    drv = pd.DataFrame({"event": ["email_click", "search", "closed_lost"], "odds_ratio": [3.0, 0.9, 0.05],
                        "ci_low": [1.5, 0.7, 0.01], "ci_high": [6.0, 1.1, 0.38], "rate_with": [0.5, 0.2, 0.0],
                        "rate_without": [0.2, 0.2, 0.26], "units_with": [60, 80, 70]})
    drv = Drivers(drv, units=150, converted=24, from_step="a", to_step="b", min_support=50)
    s = D.drivers_sentence(drv, unit="customer")
    assert "Strongest negative association: **closed_lost** (odds ratio 0.05" in s and "strongest positive: **email_click**" in s
    weak = replace(drv, table=drv.table.iloc[[1]])
    s = D.drivers_sentence(weak, unit="customer")
    assert "No event goes clearly with leaving" in s and "goes clearly with converting" in s
    assert D.drivers_line(weak) is None and "none clearly goes with leaving" in D.drivers_title(weak)
    empty = replace(drv, table=drv.table.iloc[:0])
    assert D.drivers_metrics(empty) == {} and list(D.drivers_metrics(drv)["drivers"]["event"]) == list(drv.table["event"])
    assert D.drivers_sentence(empty, unit="session") == \
        "No event was done by 50+ sessions between entry and conversion."


def test_flows_need_enough_droppers():
    flows = pd.DataFrame({"source": ["dropped after pv"] * 3, "target": ["1: (end)", "1: search", "1: pv"],
                          "count": [10, 5, 5]})
    assert D.flows_title(flows, 20, unit="session") is None and D.flows_line(flows) is None
    flows["count"] = [100, 60, 40]
    assert D.flows_title(flows, 200, unit="session") == \
        "50% of 200 dropped sessions do nothing more; the commonest next step after dropping at pv is search"
    flows["count"] = [100, 50, 50]  # search and pv tie for next
    assert D.flows_title(flows, 200, unit="session") == "50% of 200 dropped sessions do nothing more"


def test_friction_and_notes():
    assert D.friction_sentence(None, unit="session") is None and D.friction_line(None, unit="session") is None
    w = dict(signal="error", from_step="bc", to_step="buy", units=153, share=0.2, conversion_with=0.2,
             conversion_without=0.8, gap=0.6)
    assert D.friction_sentence(w, unit="session") == ("**Worst friction:** 20% of sessions at bc (153) meet **error** "
                                                      "before buy; 20% of them move on against 80% without it.")
    notes = D.segment_notes(["order_status", "zip", "plan", "nope"], ["order_status", "zip", "plan"], ["nope"],
                            id_like=["zip"], outcome_like=["order_status"])
    assert len(notes) == 3 and notes[0].startswith("No `nope` column")
    assert "restates the outcome" in notes[1] and "identifier" in notes[2]
    assert D.segment_notes([], ["plan"], [], outcome_like=["plan"], auto=True) == []
    assert D.ambiguity_note([]) is None and "`event:purchase`" in D.ambiguity_note(["purchase"])
    assert D.bullets([None, "a", None]) == "- a" and D.bullets([None]) is None


# ------------------------------------------------------------------------------- a section's metrics and notes
def test_section_metrics_hold_the_planted_numbers():
    t = pd.DataFrame({"step": ["pv", "add", "buy"], "reached": [80, 60, 20], "conversion_from_start": [1.0, 0.75, 0.25],
                      "dropped": [0, 20, 40], "drop_off_rate": [np.nan, 0.25, 40 / 60]})
    assert D.funnel_metrics(t, window="30D") == {
        "funnel": [{"step": "pv", "reached": 80, "conversion_from_start": 1.0},
                   {"step": "add", "reached": 60, "conversion_from_start": 0.75},
                   {"step": "buy", "reached": 20, "conversion_from_start": 0.25}],
        "funnel_conversion": 0.25, "funnel_window": "30D", "largest_drop_step": "buy"}
    nobody = t.assign(reached=[0, 0, 0])
    assert D.funnel_metrics(nobody, window=None)["funnel_conversion"] is None
    assert D.funnel_metrics(nobody, window=None)["largest_drop_step"] is None
    assert D.segment_findings(None, to_step="buy", unit="session", min_units=100, any_segments=False) == ""
    assert D.checkout_metrics(t, unit="session")["checkout_funnel_conversion"] == 0.25
    assert D.checkout_metrics(t, unit="session")["checkout_unit"] == "session"
    cart = _cart(40, 10, 4)
    assert D.cart_metrics(cart) == {"cart_abandonment_rate": 0.25, "cart_recovery_rate": 0.4}
    assert D.cart_metrics(_cart(0, 0, 0)) == {"cart_abandonment_rate": None, "cart_recovery_rate": None}
    assert "within 7 days" in D.cart_findings(cart) and "10 abandoned" in D.cart_findings(cart)
    ttc = pd.DataFrame({"hours": [1.0, 3.0, 8.0]})
    assert D.time_to_convert_metrics(ttc, converts=True) == {"funnel_median_hours_to_convert": 3.0}
    assert D.time_to_convert_metrics(ttc, converts=False) == {"funnel_median_hours_to_last_step": 3.0}
    assert D.time_to_convert_metrics(ttc.iloc[:0], converts=True) == {}
    coh = pd.DataFrame({"cohort": [pd.Timestamp("2025-01-01")], "units": [10], "converted": [3], "rate": [0.3],
                        "ci_low": [0.1], "ci_high": [0.6], "complete": [True]})
    assert list(D.cohort_metrics(coh)["cohort_conversion"].columns) == ["cohort", "units", "converted", "rate"]
    fr = SimpleNamespace(table=pd.DataFrame({"from_step": ["a"], "loop_units": [3], "dwell_threshold": [pd.NaT]}),
                         error_events=("payment_error",))
    assert list(D.friction_metrics(fr)["friction"].columns) == ["from_step", "loop_units"]
    text = D.friction_findings(fr, None, unit="session", min_units=50)
    assert "fewer than 50 units" in text and text.endswith("Error events: payment_error.")
    flows = SimpleNamespace(flows=pd.DataFrame({"source": ["dropped after pv"] * 2, "target": ["1: (end)", "1: x"],
                                                "count": [3, 1]}), droppers=4)
    assert D.flows_metrics(flows) == {"dropper_end_share": 0.75}


def test_segment_metrics_pick_the_worst_per_step():
    def cmp(to_step, ratio, level="mobile"):
        return dict(from_step="a", to_step=to_step, device=level, units=500, converted=100, rate=0.2, ci_low=0.17,
                    ci_high=0.24, rate_comparison=0.4, ratio=ratio, p_adjusted=0.001, significant=True)

    c = {"device": pd.DataFrame([cmp("b", 0.5), cmp("c", 0.8), cmp("c", 1.2, "desktop")])}
    m = D.segment_metrics(c, ["a", "b", "c"], min_units=100)
    assert m["worst_segment"]["to_step"] == "c" and m["worst_segment"]["ratio"] == 0.8
    assert [w["to_step"] for w in m["worst_segments"]] == ["b", "c"]
    assert len(D.worst_transition(c, m["worst_segment"])) == 2
    assert D.segment_metrics(c, ["a", "b", "c"], min_units=1000) == {"worst_segment": None, "worst_segments": []}
    assert D.segment_gaps_titles(c, unit="session", funnel="checkout", min_units=100)["device"].endswith(
        "(sessions, checkout funnel)")


def test_setup_findings_and_summary():
    data = SimpleNamespace(profile=SimpleNamespace(id_like=["zip"], outcome_like=[]), customers=None,
                           summary=lambda: {"events": 12, "customers": 3, "first_event": "2025-01-01T00:00",
                                            "last_event": "2025-02-01T00:00"})
    seg = SimpleNamespace(columns=["zip"], missing=["nope"])
    text = D.setup_findings(data, seg, "zip, nope", ambiguous=["purchase"])
    parts = text.split("\n\n")
    assert parts[0] == "**Data:** 12 events from 3 customers, 2025-01-01 to 2025-02-01."
    assert parts[1].startswith("*Note:* No `nope` column") and "identifier" in parts[2]
    assert "customers_path is empty" in parts[3] and "`event:purchase`" in parts[4] and len(parts) == 5
    assert D.paragraphs(None, "") == ""
    main = pd.DataFrame({"step": ["pv", "buy"], "reached": [100, 40], "dropped": [0, 60], "drop_off_rate": [np.nan, 0.6]})
    drv = Drivers(pd.DataFrame(columns=["event", "ci_low", "ci_high"]), units=100, converted=40, from_step="pv",
                  to_step="buy", min_support=30)
    flows = SimpleNamespace(flows=pd.DataFrame({"source": [], "target": [], "count": []}).astype({"target": str}))
    s = D.summary(main, name="shop", unit="customer", window="30D", checkout=None, checkout_unit="session",
                  segment_metrics={"worst_segment": None, "worst_segments": []}, drivers=drv,
                  friction=None, flows=flows, cart=None,
                  time_to_convert=pd.DataFrame({"hours": [], "time_to_convert": pd.to_timedelta([])}),
                  to_step="buy", converts=True)
    assert s == "- Funnel conversion (shop, pv → buy in order, within 30 days of pv): **40.0%** of customers."
