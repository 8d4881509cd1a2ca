"""The data profile: roles, column kinds and data-fitted defaults on hand-made logs of several shapes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cjlib
from cjlib import churn
from cjlib.stagemap import stage_map_from_dict

ORDER_MAP = stage_map_from_dict({
    "stages": [{"name": "ordered", "events": ["order_placed"]}, {"name": "delivered", "events": ["order_delivered"]},
               {"name": "reviewed", "events": ["review"]}],
    "conversion_events": ["order_delivered"],
})


def _inputs(events, customers=None, feedback=None, costs=None, sm=None):
    ev = cjlib.io.ensure_sorted(events.sort_values(["customer_id", "timestamp"], kind="stable").reset_index(drop=True))
    return cjlib.Inputs(ev, customers, feedback, costs, sm or cjlib.load_stage_map())


def _clicks():
    """Two customers: a web visit with a purchase (gaps of minutes), one visit without."""
    t = pd.Timestamp("2025-03-01 10:00")
    rows = [("a", t, "page_view"), ("a", t + pd.Timedelta("2min"), "product_view"),
            ("a", t + pd.Timedelta("5min"), "add_to_cart"), ("a", t + pd.Timedelta("9min"), "purchase"),
            ("b", t, "page_view"), ("b", t + pd.Timedelta("1min"), "product_view"),
            ("b", t + pd.Timedelta("3D"), "page_view")]
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "event"])


def test_clickstream_roles_and_counts():
    p = cjlib.profile(_inputs(_clicks()))
    assert (p.customers, p.events, p.converters) == (2, 7, 1)
    # gaps: a 2, 3, 4 min; b 1 min, 3 days → 4 of 5 within 30 minutes
    assert p.share_gaps_within_session == pytest.approx(0.8)
    assert p.median_gap == pd.Timedelta("3min")
    assert p.roles["sessions"] and p.checkout_unit == "session"
    assert p.supports("carts") and p.supports("conversions") and p.supports("checkout")
    assert not p.supports("revenue") and not p.supports("channel") and not p.supports("repeat")
    assert p.why_not("revenue").startswith("The events carry no revenue")
    assert p.why_not("conversions") == ""
    assert p.conversion_gap == pd.Timedelta("9min") and p.default_window() == "30D"
    assert p.stages_seen == ("awareness", "consideration", "purchase")
    assert p.unknown_events == () and not p.purchases_only


def test_order_lifecycle_unit_idlike_and_outcome_columns():
    rng = np.random.default_rng(0)
    rows, cust = [], []
    for i in range(120):
        t = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
        delivered = i % 3 != 0
        steps = [("order_placed", "created")] + ([("order_delivered", "delivered")] if delivered else [])
        for k, (e, status) in enumerate(steps):
            rows.append((f"c{i}", t + pd.Timedelta(days=4 * k), e, status))
        cust.append((f"c{i}", int(rng.integers(1000, 99999)), ["SP", "RJ", "MG"][i % 3] if i % 2 else "SP",
                     "delivered" if delivered else "canceled"))
    ev = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event", "order_status"])
    cu = pd.DataFrame(cust, columns=["customer_id", "customer_zip_code_prefix", "state", "final_status"])
    p = cjlib.profile(_inputs(ev, customers=cu, sm=ORDER_MAP))
    assert p.checkout_unit == "customer" and not p.roles["sessions"]   # events days apart, not web visits
    assert "customer_zip_code_prefix" in p.id_like
    assert "order_status" in p.outcome_like      # mirrors the event, changes along the journey
    assert "final_status" in p.outcome_like      # determines the conversion exactly
    assert p.segment_candidates == ("state",)
    assert p.converters == 80 and p.conversion_gap == pd.Timedelta(days=4)


def test_purchases_only_windows_and_repeat():
    # 40 customers buying every 20 days for 200 days; 40 buying once
    rows = [(f"r{i}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=20 * k + i % 5), "purchase", 10.0)
            for i in range(40) for k in range(10)]
    rows += [(f"o{i}", pd.Timestamp("2024-02-01") + pd.Timedelta(days=i), "purchase", 5.0) for i in range(40)]
    ev = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event", "revenue"])
    p = cjlib.profile(_inputs(ev))
    assert p.purchases_only and p.supports("revenue") and p.supports("repeat")
    assert not p.supports("carts")          # no add_to_cart in the data
    assert p.activity_gap_days == 20.0 == churn.activity_gap_days(ev)  # one definition
    assert churn.plan_window(ev).window_days == 21     # 20 days rounded up to whole weeks
    assert p.conversion_gap == pd.Timedelta(0) and p.default_window() == "30D"


def test_slow_cycles_get_a_longer_window_and_short_spans_a_shorter_churn_window():
    # B2B: conversion 60-120 days after the first touch
    rows = []
    for i in range(30):
        t = pd.Timestamp("2024-01-01") + pd.Timedelta(days=i)
        rows += [(f"a{i}", t, "page_view"), (f"a{i}", t + pd.Timedelta(days=60 + 2 * i), "purchase")]
    p = cjlib.profile(_inputs(pd.DataFrame(rows, columns=["customer_id", "timestamp", "event"])))
    waits = np.array([60 + 2 * i for i in range(30)], float)
    assert p.conversion_gap_median == pd.Timedelta(days=float(np.median(waits)))
    assert p.default_window() == f"{int(np.ceil(np.quantile(waits, 0.95)))}D"
    # churn window: the gaps (60-118 days, 80th percentile 106.4 → 112) exceed half the 148-day span → capped
    plan = churn.plan_window(pd.DataFrame(rows, columns=["customer_id", "timestamp", "event"]))
    assert (plan.window_days, plan.longest_days, plan.design) == (74, 74, "cross_validation")  # 148 days / 2
    assert "capped at the longest that fits" in plan.reason


def test_channel_variant_costs_and_feedback_stage_roles():
    ev = _clicks().assign(channel=["email", "email", "email", "email", "search", "search", "search"],
                          variant=["A"] * 4 + ["B"] * 3, revenue=[0, 0, 0, 30.0, 0, 0, 0])
    fb = pd.DataFrame({"customer_id": ["a"], "timestamp": [pd.Timestamp("2025-03-02")], "score": [4],
                       "stage": ["Purchase"]})   # no stage is called "Purchase"
    costs = pd.DataFrame({"channel": ["email"], "spend": [10.0]})
    p = cjlib.profile(_inputs(ev, feedback=fb, costs=costs))
    assert p.supports("channel") and p.supports("variant") and p.supports("costs") and p.supports("revenue")
    assert p.supports("feedback") and not p.supports("feedback_stages")
    assert "variant" not in p.segment_candidates and p.segment_candidates[-1] == "acquisition_channel"
    with pytest.raises(ValueError, match="role must be one of"):
        p.supports("cart")


def test_a_final_status_repeated_on_every_event_is_outcome_like():
    """An order's final state copied onto each of its events never changes within the customer, yet it
    narrates the journey ("delivered" beside order_delivered) and must not become a segment."""
    rows = []
    for i in range(60):
        t = pd.Timestamp("2024-01-01") + pd.Timedelta(days=i)
        final = "delivered" if i % 4 else "shipped"
        steps = ["order_placed", "order_shipped"] + (["order_delivered"] if final == "delivered" else [])
        rows += [(f"c{i}", t + pd.Timedelta(days=2 * k), e, final, "web" if i % 2 else "app")
                 for k, e in enumerate(steps)]
    ev = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event", "final_state", "platform"])
    sm = stage_map_from_dict({"stages": [{"name": "ordered", "events": ["order_placed"]},
                                         {"name": "shipped", "events": ["order_shipped"]},
                                         {"name": "delivered", "events": ["order_delivered"]}],
                              "conversion_events": ["order_placed"]})
    p = cjlib.profile(_inputs(ev, sm=sm))
    assert p.outcome_like == ("final_state",) and p.segment_candidates == ("platform",)
