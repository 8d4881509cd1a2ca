"""Moving on from a stage when events come out of stage order (issue 19, brief G).

A customer moves on from a stage when they have an event of the next stage at or after their first event
of this one, whenever their first event of the next stage was. Before, the first times were compared, so
a customer who opened a product page from an email and then the home page counted as never moving on
from the visit stage even when they browsed again after it (the ecom log's "sorest point is email out of
visit"). Hand-worked cases, a brute-force per-customer loop on random small logs, the pain points agreeing
with the stage table, and the Dask kernel equal to the in-process one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cjlib import scorecard as sc
from cjlib.journeys import stage_progress, stage_reached
from cjlib.scorecard._common import progress
from cjlib.stagemap import load_stage_map

SM = load_stage_map()  # awareness (page_view, ad_click …), consideration (product_view), purchase,
# retention (2nd purchase), advocacy (review)


@pytest.fixture
def out_of_order() -> pd.DataFrame:
    """Three email customers who browse before their first visit-stage event, two social ones in order."""
    rows = [
        ("e1", "2025-01-01", "product_view", "email"),  # browses, visits, browses again: moves on (1 day)
        ("e1", "2025-01-02", "page_view", "email"),
        ("e1", "2025-01-03", "product_view", "email"),
        ("e2", "2025-01-01", "product_view", "email"),  # browses only before visiting: does not move on
        ("e2", "2025-01-02", "page_view", "email"),
        ("e3", "2025-01-01", "product_view", "email"),  # moves on 3 days after the visit, then buys
        ("e3", "2025-01-02", "page_view", "email"),
        ("e3", "2025-01-05", "product_view", "email"),
        ("e3", "2025-01-06", "purchase", "email"),
        ("s1", "2025-01-01", "page_view", "social"),  # in order: moves on (1 day)
        ("s1", "2025-01-02", "product_view", "social"),
        ("s2", "2025-01-01", "page_view", "social"),  # never browses
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event", "channel"])
    return df.assign(timestamp=pd.to_datetime(df["timestamp"]), event=df["event"].astype("category"),
                     channel=df["channel"].astype("category"))


def test_stage_progress_by_hand(out_of_order):
    p = stage_progress(out_of_order, stage_map=SM)
    assert list(p.index) == ["e1", "e2", "e3", "s1", "s2"]
    pd.testing.assert_frame_equal(p["reached"], stage_reached(out_of_order, stage_map=SM), check_names=False)
    nxt = p[("next", "awareness")]
    assert nxt.dt.strftime("%m-%d").fillna("-").tolist() == ["01-03", "-", "01-05", "01-02", "-"]
    # e3 bought after browsing: consideration → purchase on 01-06; nobody has a next after the last stage
    assert p.loc["e3", ("next", "consideration")] == pd.Timestamp("2025-01-06")
    assert p[("next", "advocacy")].isna().all()
    has, moved, days = progress(p)
    assert moved[:, 0].tolist() == [True, False, True, True, False]
    assert np.nan_to_num(days[:, 0], nan=-1).tolist() == [1.0, -1, 3.0, 1.0, -1]


def test_stage_table_and_pain_points_by_hand(out_of_order):
    k = sc.stage_kpis(out_of_order, stage_map=SM)
    # awareness: e1, e3, s1 of 5 move on (the first-time comparison counted s1 only: 1/5)
    assert k.loc["awareness", "conversion_to_next"] == pytest.approx(3 / 5)
    assert k.loc["awareness", "median_days_to_next"] == 1.0
    # consideration: four browse (e1..e3 before visiting, s1 after); only e3 buys after browsing
    assert k.loc["consideration", "reached"] == 4 and k.loc["consideration", "conversion_to_next"] == 0.25
    seg = sc.customer_segments(out_of_order, by=["acquisition_channel"])
    conv = sc.segment_conversion(out_of_order, seg, stage_map=SM).set_index(["level", "stage"])
    # email 2/3 (e2 does not move on) against 3/5; social 1/2 (s2 never browses)
    assert conv.loc[("email", "awareness"), ["reached", "moved"]].tolist() == [3, 2]
    assert conv.loc[("social", "awareness"), ["reached", "moved"]].tolist() == [2, 1]
    assert conv.loc[("social", "awareness"), "gap"] == pytest.approx(1 / 2 - 3 / 5)
    assert conv.loc[("email", "awareness"), "median_days_to_next"] == 2.0  # e1 1 day, e3 3 days
    pains = sc.pain_points(conv.reset_index(), min_customers=1)
    # the sorest point out of awareness is social (−10 pp), not email (0/3 by first times, −20 pp)
    assert pains.loc["awareness", "level"] == "social"
    assert pains.loc["awareness", "gap"] == pytest.approx(-0.1)


# ------------------------------------------------------------------------- brute force on random logs
EVENTS = ["page_view", "product_view", "purchase", "review", "login"]  # login belongs to no stage


@st.composite
def logs(draw):
    n = draw(st.integers(1, 40))
    cust = draw(st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), min_size=n, max_size=n))
    day = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))  # few days: many ties
    ev = draw(st.lists(st.sampled_from(EVENTS), min_size=n, max_size=n))
    df = pd.DataFrame({"customer_id": cust, "timestamp": pd.Timestamp("2025-01-01") + pd.to_timedelta(day, "D"),
                       "event": ev})
    df = df.sort_values(["customer_id", "timestamp"], kind="stable").reset_index(drop=True)
    return df.assign(event=df["event"].astype("category"))


def brute_force(ev: pd.DataFrame):
    """Per customer, in a Python loop: first time of each stage and whether an event of the next stage
    comes at or after it (the nth rule: the 2nd purchase on is retention)."""
    names = SM.stage_names
    stage_of = {"page_view": "awareness", "product_view": "consideration", "review": "advocacy"}
    first, moved, days = {}, {}, {}
    for c, g in ev.groupby("customer_id", sort=False):
        stages, n_buy = [], 0
        for e in g["event"].astype(str):
            if e == "purchase":
                n_buy += 1
                stages.append("purchase" if n_buy == 1 else "retention")
            else:
                stages.append(stage_of.get(e))
        times = list(g["timestamp"])
        f = {s: min((t for t, x in zip(times, stages) if x == s), default=None) for s in names}
        first[c] = f
        for i, s in enumerate(names[:-1]):
            later = [t for t, x in zip(times, stages) if x == names[i + 1] and f[s] is not None and t >= f[s]]
            moved[c, s] = bool(later)
            days[c, s] = (min(later) - f[s]) / pd.Timedelta(days=1) if later else np.nan
    return first, moved, days


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ev=logs())
def test_progress_against_brute_force(ev):
    first, moved_bf, days_bf = brute_force(ev)
    p = stage_progress(ev, stage_map=SM)
    has, moved, days = progress(p)
    names = SM.stage_names
    for r, c in enumerate(p.index):
        for i, s in enumerate(names):
            assert has[r, i] == (first[c][s] is not None)
            if i + 1 < len(names):
                assert moved[r, i] == moved_bf[c, s], (c, s)
                assert np.isnan(days[r, i]) if np.isnan(days_bf[c, s]) else days[r, i] == days_bf[c, s]
            else:
                assert not moved[r, i]
    # the pain points' rates add up to the stage table's: one definition of moving on
    k = sc.stage_kpis(ev, stage_map=SM)
    seg = pd.DataFrame({"half": np.where(p.index.isin(["a", "b", "c"]), "abc", "def")}, index=p.index)
    conv = sc.segment_conversion(ev, seg, stage_map=SM)
    tot = conv.groupby("stage")[["reached", "moved"]].sum()
    for s in names[:-1]:
        n_moved = sum(moved_bf[c, s] for c in p.index)
        assert tot.loc[s, "moved"] == n_moved
        assert tot.loc[s, "reached"] == k.loc[s, "reached"]
        if k.loc[s, "reached"]:
            assert k.loc[s, "conversion_to_next"] == pytest.approx(n_moved / k.loc[s, "reached"])


# --------------------------------------------------------------------------------------- on Dask
def test_dask_progress_equals_in_process(out_of_order, client):
    pytest.importorskip("dask.dataframe")
    from cjlib import engine
    from cjlib.scorecard import distributed as dist

    ev = pd.concat([out_of_order.assign(customer_id=out_of_order["customer_id"] + f"_{k}") for k in range(4)])
    ev = ev.sort_values(["customer_id", "timestamp"], kind="stable").reset_index(drop=True)
    ev["event"] = ev["event"].astype("category")
    parted = engine.partition(ev, client=client, npartitions=3)
    pd.testing.assert_frame_equal(dist.stage_table(parted, SM), stage_progress(ev, stage_map=SM))
    pd.testing.assert_frame_equal(dist.reached(parted, SM), stage_reached(ev, stage_map=SM))
    seg = sc.customer_segments(ev, by=["acquisition_channel"])
    pd.testing.assert_frame_equal(sc.segment_conversion(parted, seg, stage_map=SM),
                                  sc.segment_conversion(ev, seg, stage_map=SM))
    assert sc.stage_kpis(parted, stage_map=SM).loc["awareness", "conversion_to_next"] == pytest.approx(3 / 5)
