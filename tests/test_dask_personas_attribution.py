"""01_personas and 02_stage_attribution on a partitioned log (Dask mode) equal the in-process results.

Every function 01 and 02 call with events is run twice on the same loaded log: on the pandas frame (in
process) and on the log shuffled by customer onto a two-worker ``LocalCluster`` (:func:`cjlib.engine.partition`,
3 partitions). Counts must be equal exactly, rates and sums of floats to 1e-9 relative; bootstraps with
the same seed must give the same intervals (they resample the same per-journey / per-session table).
Logs: the synthetic sample with customers, feedback and costs (A/B split), and the gallery's every_table
(hierarchical channel names with ``>``, costs by month, ``session_id``) and b2b_leads (few accounts, lead
sources as channels). Skipped without the dask extra.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import gallery  # noqa: E402

from cjlib import attribution as A  # noqa: E402
from cjlib import effects as E  # noqa: E402
from cjlib import engine, synth  # noqa: E402
from cjlib.attribution import distributed as dist  # noqa: E402
from cjlib.errors import DataError  # noqa: E402
from cjlib.features import customer_features, excluded_attributes, without_attributes  # noqa: E402
from cjlib.personas import fit_for_inputs, persona_journey, personas_for  # noqa: E402

RTOL = 1e-9


@pytest.fixture(scope="module", params=["synth", "every_table", "b2b_leads"])
def both(request, tmp_path_factory, client):
    """(inputs, the same inputs with the events partitioned on the cluster)."""
    tmp = tmp_path_factory.mktemp("dask_0102")
    data = gallery.load_synth(tmp, 500, seed=11) if request.param == "synth" else gallery.load_case(request.param, tmp)
    parted = engine.partition(data.events, client=client, npartitions=3)
    on_cluster = dataclasses.replace(data, events=parted)
    on_cluster.__dict__["profile"] = data.profile  # the profile is the load helper's (from worker aggregates)
    return data, on_cluster


def _eq(a, b):
    if isinstance(a, pd.DataFrame):
        assert_frame_equal(a, b, check_exact=False, rtol=RTOL)
    else:
        assert_series_equal(a, b, check_exact=False, rtol=RTOL)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def test_log_wide_helpers(both):
    data, dd = both
    ev, pt = data.events, dd.events
    assert dist.is_partitioned(pt) and not dist.is_partitioned(ev)
    assert dist.log_columns(pt) == list(ev.columns)
    assert dist.log_customers(pt).equals(pd.Index(pd.unique(ev["customer_id"]), name="customer_id"))
    assert dist.log_time_range(pt) == (len(ev), ev["timestamp"].min(), ev["timestamp"].max())
    for col in ("event", "channel"):
        assert dist.log_distinct(pt, col) == ev[col].nunique() > 1


def test_touch_problem(both):
    data, dd = both
    for col in ("channel", "event", "no_such_column"):
        assert A.touch_problem(dd.events, col) == A.touch_problem(data.events, col)
    assert A.touch_problem(dd.events, "channel", dd.profile) == A.touch_problem(data.events, "channel", data.profile)
    assert A.touch_problem(dd.events, "no_such_column").startswith("the events have no")


def test_touch_problem_one_value(client):
    ev = synth.generate(60, seed=2).events.assign(channel="email")
    pt = engine.partition(ev, client=client, npartitions=2)
    assert A.touch_problem(pt, "channel") == A.touch_problem(ev, "channel") != ""


def test_journey_paths_and_model_comparison(both):
    data, dd = both
    kw = dict(window="30D", touch_col="channel", stage_map=data.stage_map)
    a, b = A.journey_paths(data.events, **kw), A.journey_paths(dd.events, **kw)
    assert b.table["path"].tolist() == a.table["path"].tolist()
    assert b.conversions_without_touches == a.conversions_without_touches
    assert b.journeys == a.journeys > 0
    _eq(a.table, b.table)
    assert_frame_equal(A.paths_from_events(dd.events, **kw), a.table, check_exact=False, rtol=RTOL)
    mc = dict(models=A.MODELS + ("time_decay",), order=1, half_life="7D", window="30D", touch_col="channel",
              stage_map=data.stage_map, n_boot=20, seed=3)
    ca, cb = A.model_comparison(data.events, a.table, **mc), A.model_comparison(dd.events, b.table, **mc)
    _eq(ca.attributed, cb.attributed)
    assert ca.conversions == cb.conversions
    assert set(ca.intervals) == set(cb.intervals)
    for m in ca.intervals:
        _eq(ca.intervals[m], cb.intervals[m])
    _eq(ca.markov.table, cb.markov.table)


def test_time_decay_sums_to_conversions(both):
    data, dd = both
    a = A.time_decay(data.events, "3D", window="14D", stage_map=data.stage_map)
    b = A.time_decay(dd.events, "3D", window="14D", stage_map=data.stage_map)
    _eq(a, b)
    jp = A.journey_paths(data.events, window="14D", stage_map=data.stage_map)
    assert b["time_decay"].sum() == pytest.approx(jp.table["conversions"].sum(), rel=1e-12)


def test_time_decay_no_journey(client):
    ev = synth.generate(40, seed=5).events
    ev = ev[~ev["event"].isin(["purchase"])]  # no conversion: every journey non-converting
    pt = engine.partition(ev, client=client, npartitions=2)
    a, b = A.time_decay(ev, conversion_events="no_such_event"), A.time_decay(pt, conversion_events="no_such_event")
    assert (a["time_decay"] == 0).all() and (b["time_decay"] == 0).all()
    assert list(a.columns) == list(b.columns)


def test_missing_touch_column_is_a_data_error(both):
    _, dd = both
    with pytest.raises(DataError, match="no_such"):
        A.journey_paths(dd.events, touch_col="no_such")
    with pytest.raises(DataError, match="no_such"):
        A.time_decay(dd.events, touch_col="no_such")


def test_stage_attribution_and_contribution(both):
    data, dd = both
    kw = dict(model="markov", stage_map=data.stage_map, window="30D", touch_col="channel", order=1, warn=False)
    a, b = A.stage_attribution(data.events, **kw), A.stage_attribution(dd.events, **kw)
    assert len(a.table) > 0
    _eq(a.table, b.table)
    assert a.skipped == b.skipped
    assert a.p_conversion.keys() == b.p_conversion.keys()
    assert all(b.p_conversion[t] == pytest.approx(v, rel=RTOL) for t, v in a.p_conversion.items())
    for model in ("markov", "linear"):
        ca = A.stage_contribution(data.events, model=model, stage_map=data.stage_map, window="30D")
        cb = A.stage_contribution(dd.events, model=model, stage_map=data.stage_map, window="30D")
        _eq(ca.table, cb.table)
        assert (ca.conversions, ca.events_tied) == (cb.conversions, cb.events_tied)


def test_spend_in_range(both):
    data, dd = both
    if data.costs is None:
        pytest.skip("no costs in this case")
    a, b = A.spend_in_range(data.events, data.costs), A.spend_in_range(dd.events, data.costs)
    assert_frame_equal(a, b)
    # a month filter that bites: the events of the first two months only
    first = data.events["timestamp"].min().to_period("M")
    keep = data.events["timestamp"] < (first + 2).to_timestamp()
    ev2 = data.events[keep]
    pt2 = engine.partition(ev2, client=dd.events.client, npartitions=2)
    costs = pd.DataFrame({"channel": ["a", "a", "b"], "spend": [1.0, 2.0, 3.0],
                          "period": [str(first), str(first + 2), str(first + 1)]})
    assert A.spend_in_range(pt2, costs)["spend"].tolist() == A.spend_in_range(ev2, costs)["spend"].tolist() == [1.0, 3.0]


def test_channel_effects_segments(both):
    data, dd = both
    ev, pt = data.events, dd.events
    labels = pd.Series(np.where(np.arange(len(dist.log_customers(ev))) % 3 == 0, "x", "y"),
                       index=dist.log_customers(ev))
    labels = labels.iloc[5:]  # a few customers without a label: their sessions are left out
    col = "variant" if "variant" in ev.columns else None
    for by in (None, labels) + ((col,) if col else ()):
        kw = dict(by=by, stage_map=data.stage_map, touch_col="channel", n_boot=15, seed=4)
        a, b = E.channel_effects(ev, **kw), E.channel_effects(pt, **kw)
        assert len(a) > 0
        _eq(a, b)  # intervals too: the bootstrap resamples the same session table in the same order
    with pytest.raises(ValueError, match="not a column"):
        E.channel_effects(pt, by="no_such_column", stage_map=data.stage_map)
    with pytest.raises(ValueError, match="touch_col"):
        E.channel_effects(pt, touch_col="no_such_column", stage_map=data.stage_map)


def test_session_table_order_on_unsorted_input(client):
    """The session table comes back in the in-process order even when the pandas input was not sorted."""
    ev = synth.generate(150, seed=8).events.sample(frac=1.0, random_state=1).reset_index(drop=True)
    pt = engine.partition(ev, client=client, npartitions=3)
    a = E.channel_effects(ev, n_boot=10, seed=1)
    b = E.channel_effects(pt, n_boot=10, seed=1)
    _eq(a, b)


def _assignments_file(data, folder):
    """An assignments file as 01 writes it: three personas dealt round-robin over the customers."""
    from cjlib.personas import ASSIGNMENTS_FILE

    ids = dist.log_customers(data.events)
    pid = np.arange(len(ids)) % 3
    names = np.array(["Loyal", "Browsers", "New"])[pid]
    pd.DataFrame({"customer_id": ids, "persona_id": pid, "persona": names, "state": "stable"}).to_csv(
        folder / ASSIGNMENTS_FILE, index=False)
    return str(folder)


def test_adjustment(both, tmp_path):
    data, dd = both
    for by in ("", "channel"):
        assert E.adjustment(dd.events, by, customers=data.customers) == E.adjustment(data.events, by,
                                                                                       customers=data.customers)
    with pytest.raises(ValueError, match="adjust_for"):
        E.adjustment(dd.events, "no_such_column", customers=data.customers)
    out = _assignments_file(data, tmp_path)  # 01's personas: read back for the customers the workers hold
    a = _quiet(E.adjustment, data.events, "persona", data=data, output_dir=out, seed=0)
    b = _quiet(E.adjustment, dd.events, "persona", data=dd, output_dir=out, seed=0)
    assert (a.label, a.note, a.names) == (b.label, b.note, b.names)
    if len(dist.log_customers(data.events)) >= E.MIN_PERSONA_CUSTOMERS:
        assert a.names == ("Loyal", "Browsers", "New")
        assert_series_equal(a.by, b.by)
    else:
        assert a.by is None and b.by is None and "fewer than" in b.note


def test_personas(both, tmp_path, request):
    data, dd = both
    left = excluded_attributes(data.customers, data.profile)
    kw = dict(customers=without_attributes(data.customers, list(left)), feedback=data.feedback,
              stage_map=data.stage_map)
    fa, fb = customer_features(data.events, **kw), customer_features(dd.events, **kw)
    _eq(fa, fb[list(fa.columns)])
    if request.node.callspec.params["both"] == "synth":  # the fit: sklearn on the per-customer table, same code
        ra = _quiet(fit_for_inputs, data, seed=1, k_range=(2, 3))
        rb = _quiet(fit_for_inputs, dd, seed=1, k_range=(2, 3))
        assert_series_equal(ra.persona_, rb.persona_)
        _eq(ra.scores_, rb.scores_)
        ja = persona_journey(data.events, ra.persona_, stage_map=data.stage_map)
        jb = persona_journey(dd.events, rb.persona_, stage_map=data.stage_map)
        assert_frame_equal(ja, jb)  # counts over counts: exact
    out = _assignments_file(data, tmp_path)
    sa, sb = personas_for(data, output_dir=out), personas_for(dd, output_dir=out)
    assert_series_equal(sa.persona, sb.persona)
    assert (sb.state, sb.source, sb.names) == ("stable", "file", ["Loyal", "Browsers", "New"])
    assert list(fb.columns) == list(fa.columns)  # also for a stage map other than the default one


def test_persona_journey_hand_computed(client):
    """Customers a, b buy; c only views; d is in no persona: Buyers 2/2 purchase, Browsers 0/1."""
    ev = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c", "d"],
                       "event": ["page_view", "purchase", "product_view", "purchase", "page_view", "purchase"],
                       "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01", "2025-01-03",
                                                    "2025-01-01", "2025-01-01"])})
    p = pd.Series(pd.Categorical(["Buyers", "Buyers", "Browsers"], categories=["Buyers", "Browsers", "Empty"],
                                 ordered=True), index=pd.Index(["a", "b", "c"], name="customer_id"))
    pt = engine.partition(ev, client=client, npartitions=2)
    out = persona_journey(pt, p, stage_map="data/stage_map.yml")
    assert out.loc["Buyers", "purchase"] == 1.0 and out.loc["Browsers", "purchase"] == 0.0
    assert out.loc["Buyers", "consideration"] == 0.5 and out.loc["Browsers", "awareness"] == 1.0
    assert out.loc["Empty"].isna().all()
    assert_frame_equal(out, persona_journey(ev, p, stage_map="data/stage_map.yml"))
