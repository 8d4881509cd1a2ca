"""cjlib.scorecard on a partitioned log (Dask mode of 00_journey_map) equals the in-process scorecard.

Every scorecard function 00 calls with events is run twice on the same loaded log: on the pandas frame
(in process) and on the log shuffled by customer onto a two-worker ``LocalCluster``
(:func:`cjlib.engine.partition`, 3 partitions). Counts must be equal exactly, rates and money to 1e-9
relative. Logs: the synthetic sample with customers, feedback and costs; the same feedback without a
stage or touchpoint (placed by the events); the gallery's clickstream (no revenue, no channel) and
every_table (``session_id``, hierarchical channels, costs by month). Skipped without the dask extra.
"""

from __future__ import annotations

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import gallery  # noqa: E402

import cjlib  # noqa: E402
from cjlib import engine  # noqa: E402
from cjlib import scorecard as sc  # noqa: E402
from cjlib.scorecard import distributed as dist  # noqa: E402

RTOL = 1e-9


@pytest.fixture(scope="module", params=["synth", "clickstream", "every_table"])
def both(request, tmp_path_factory, client):
    """(inputs, the same events partitioned on the cluster)."""
    tmp = tmp_path_factory.mktemp("dask_scorecard")
    data = gallery.load_synth(tmp, 600, seed=11) if request.param == "synth" else gallery.load_case(request.param, tmp)
    return data, engine.partition(data.events, client=client, npartitions=3)


def _eq(a, b):
    if isinstance(a, pd.DataFrame):
        assert_frame_equal(a, b, check_exact=False, rtol=RTOL)
    else:
        assert_series_equal(a, b, check_exact=False, rtol=RTOL)


def test_partitioned_is_recognised(both):
    data, parted = both
    assert dist.is_partitioned(parted) and not dist.is_partitioned(data.events)
    assert dist.columns(parted) == list(data.events.columns)


def test_stage_kpis_and_touchpoints(both):
    data, parted = both
    sm, fb = data.stage_map, data.feedback
    a = sc.stage_kpis(data.events, stage_map=sm, feedback=fb)
    b = sc.stage_kpis(parted, stage_map=sm, feedback=fb)
    _eq(a, b)
    staged = cjlib.journeys.assign_stages(data.events, stage_map=sm).notna().sum()
    assert a["reached"].iloc[0] > 0 and a["events"].sum() == staged > 0
    for by in ["event"] + (["channel"] if "channel" in data.events.columns else []):
        a = sc.stage_touchpoints(data.events, stage_map=sm, by=by)
        _eq(a, sc.stage_touchpoints(parted, stage_map=sm, by=by))
        assert len(a)
    with pytest.raises(ValueError, match="by must be a column"):
        sc.stage_touchpoints(parted, stage_map=sm, by="nope")


def test_stage_measures_and_channel_costs(both):
    data, parted = both
    sm, fb = data.stage_map, data.feedback
    costs = data.costs if "channel" in data.events.columns else None
    a = sc.stage_measures(data.events, stage_map=sm, feedback=fb, costs=costs)
    b = sc.stage_measures(parted, stage_map=sm, feedback=fb, costs=costs)
    _eq(a, b)
    assert len(a) >= len(sm.stage_names)
    if costs is not None:
        ca = sc.channel_costs(data.events, costs, stage_map=sm)
        cb = sc.channel_costs(parted, costs, stage_map=sm)
        assert ca.clicks_are == cb.clicks_are
        _eq(ca.table, cb.table)
        assert ca.table["clicks"].sum() > 0
        # the sessions path (no ad events): clicks are session starts in the costed months
        ca = sc.channel_costs(data.events, costs, stage_map=sm, ad_events=[])
        cb = sc.channel_costs(parted, costs, stage_map=sm, ad_events=[])
        assert ca.clicks_are == cb.clicks_are == "sessions"
        _eq(ca.table, cb.table)


def test_segments_conversion_and_scores(both):
    data, parted = both
    sm, fb = data.stage_map, data.feedback
    prof = data.profile
    for by in (None, ["acquisition_channel"] if "channel" in data.events.columns else None):
        a = sc.customer_segments(data.events, by=by, customers=data.customers, profile=prof)
        b = sc.customer_segments(parted, by=by, customers=data.customers, profile=prof)
        _eq(a, b)
        assert len(a) == data.events["customer_id"].nunique()
        ca = sc.segment_conversion(data.events, a, stage_map=sm)
        _eq(ca, sc.segment_conversion(parted, a, stage_map=sm))
        ja = sc.journey_scores(data.events, a, stage_map=sm, feedback=fb, min_customers=20)
        _eq(ja, sc.journey_scores(parted, a, stage_map=sm, feedback=fb, min_customers=20))


def test_retention_and_trends(both):
    data, parted = both
    sm, fb = data.stage_map, data.feedback
    for based_on in ("conversion", "activity"):
        for freq in ("M", "W"):
            a = sc.cohort_retention(data.events, stage_map=sm, based_on=based_on, freq=freq)
            _eq(a, sc.cohort_retention(parted, stage_map=sm, based_on=based_on, freq=freq))
    assert a["customers"].iloc[0] > 0
    for freq in ("M", "W"):
        a = sc.kpi_trends(data.events, stage_map=sm, freq=freq, feedback=fb)
        _eq(a, sc.kpi_trends(parted, stage_map=sm, freq=freq, feedback=fb))
        assert a["active_customers"].sum() >= data.events["customer_id"].nunique()


def test_feedback_placed_by_events(both):
    """Feedback naming neither stage nor touchpoint is placed by each customer's latest staged event."""
    data, parted = both
    if data.feedback is None:
        pytest.skip("no feedback in this log")
    fb = data.feedback.drop(columns=[c for c in ("stage", "touchpoint") if c in data.feedback.columns])
    a = sc.feedback_stages(fb, stage_map=data.stage_map, events=data.events)
    b = sc.feedback_stages(fb, stage_map=data.stage_map, events=parted)
    assert_series_equal(a, b)
    assert a.notna().sum() > 0
    _eq(sc.stage_kpis(data.events, stage_map=data.stage_map, feedback=fb),
        sc.stage_kpis(parted, stage_map=data.stage_map, feedback=fb))


def test_retention_tie_order_planted():
    """Hand-made log: the (cohort, offset) counts tie, so the in-process order is value_counts' order of
    first appearance; the partitioned merge must rebuild it (here without a cluster: the default scheduler)."""
    ts = pd.to_datetime(["2025-01-05", "2025-02-05", "2025-01-07", "2025-03-07", "2025-02-01"])
    ev = pd.DataFrame({"customer_id": ["b", "b", "c", "c", "a"], "timestamp": ts,
                       "event": ["purchase"] * 5})
    ev = cjlib.io.ensure_sorted(ev)
    parted = engine.partition(ev, npartitions=2)
    a = sc.cohort_retention(ev, based_on="conversion")
    b = sc.cohort_retention(parted, based_on="conversion")
    _eq(a, b)
    # cohort 2025-01 has b and c (2 customers); b back in February, c in March
    jan = a[a["cohort"] == "2025-01"].set_index("offset")
    assert jan["customers"].tolist() == [2, 2, 2] and jan["retained"].tolist() == [2, 1, 1]
    assert a.loc[a["cohort"] == "2025-02", "customers"].tolist() == [1, 1]
