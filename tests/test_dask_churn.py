"""04_churn on a log shuffled by customer (cjlib.engine.Partitioned) gives the in-process results.

Every function the churn notebook calls with ``data.events`` — ``churn.plan_window_or_reason``,
``churn.validate_or_reason``, ``at_risk.fit_value_or_reason`` and ``at_risk.at_risk_list_or_reason`` — and the
per-customer steps under them (labels, features at a cutoff, activity gaps, BG/NBD and spend summaries, the
active customers) run on the partitions of a two-worker ``LocalCluster`` and are compared with the pandas
run on the same log: tables exactly, every fitted number exactly (the models see the same per-customer
tables in the same order). Logs: the synthetic sample with customers and feedback, purchase activity too,
and the gallery's every_table (session ids, hierarchical channels, CSAT and NPS) and purchases_only shapes.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal, assert_index_equal, assert_series_equal

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import gallery  # noqa: E402

from cjlib import at_risk, churn, engine  # noqa: E402
from cjlib.bgnbd import rfm_summary  # noqa: E402
from cjlib.churn import distributed as dist  # noqa: E402
from cjlib.errors import DataError  # noqa: E402
from cjlib.findings import churn as say  # noqa: E402


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


@pytest.fixture(scope="module")
def synth_both(tmp_path_factory, client):
    """(inputs, the same inputs with the events partitioned on the cluster)."""
    data = gallery.load_synth(tmp_path_factory.mktemp("dask_churn"), 600, seed=5, costs=False)
    parted = engine.partition(data.events, client=client, npartitions=3)
    return data, _on_cluster(data, parted)


def _on_cluster(data, parted):
    out = dataclasses.replace(data, events=parted)
    out.__dict__["profile"] = data.profile  # the profile from worker aggregates is the load step's
    return out


@pytest.fixture(scope="module", params=["every_table", "purchases_only"])
def case_both(request, tmp_path_factory, client):
    data = gallery.load_case(request.param, tmp_path_factory.mktemp("dask_churn_case"))
    parted = engine.partition(data.events, client=client, npartitions=3)
    return request.param, data, _on_cluster(data, parted)


def _notebook(data, activity, output_dir="."):
    """The churn notebook's calls with events, in its order, with its defaults (model auto, seed 0)."""
    left_out = list(say.features_left_out(data.customers, data.profile)[0])
    plan, why = churn.plan_window_or_reason(data.events, 0, cutoff="", activity_events=activity)
    assert plan is not None, why
    res, why = churn.validate_or_reason(data.events, plan, activity_events=activity, customers=data.customers,
                                        feedback=data.feedback, stage_map=data.stage_map, model="auto", seed=0,
                                        exclude=left_out)
    assert res is not None, why
    value, _ = at_risk.fit_value_or_reason(data, plan, horizon=365, discount_rate=0.1)
    risk, why = at_risk.at_risk_list_or_reason(data.events, plan, model=res.model, activity_events=activity,
                                               customers=data.customers, feedback=data.feedback,
                                               stage_map=data.stage_map, exclude=left_out,
                                               features=list(res.X_test.columns[:8]), seed=0)
    assert risk is not None, why
    if value is not None:
        risk = at_risk.add_value(risk, value)
    personas, why = churn.personas_or_reason(data, output_dir=str(output_dir), personas_path="", seed=0)
    assert personas is not None, why
    by_persona = churn.churn_by_segment(res.y_test, personas.persona.astype(str).rename("persona"),
                                        prob=res.probability)
    return plan, res, value, risk, by_persona


def _same_result(a, b):
    """Two ChurnResults are the same run: data sets, held-out scores, metrics, choice, BG/NBD fit."""
    assert (a.model, a.reason, a.design, a.cutoff, a.train_cutoff, a.window) == \
           (b.model, b.reason, b.design, b.cutoff, b.train_cutoff, b.window)
    for name in ("X_train", "X_test", "scores", "metrics"):
        assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    assert_series_equal(a.y_train, b.y_train)
    assert_series_equal(a.y_test, b.y_test)
    assert a.bgnbd_summary == b.bgnbd_summary
    assert (a.explain_index is None) == (b.explain_index is None)


def test_the_notebook_calls_give_the_in_process_results(synth_both, tmp_path):
    data, on_cluster = synth_both
    plan_a, res_a, value_a, risk_a, persona_a = _notebook(data, None, tmp_path)  # no 01 output: personas fitted
    plan_b, res_b, value_b, risk_b, persona_b = _notebook(on_cluster, None, tmp_path)
    assert plan_a == plan_b
    assert plan_a.design == "out_of_time" and plan_a.window_days >= 7
    _same_result(res_a, res_b)
    assert res_a.y_test.sum() >= 10 and (1 - res_a.y_test).sum() >= 10  # both classes: a real model
    assert value_a.summary() == value_b.summary()
    assert value_a.purchase_events == value_b.purchase_events == ["purchase"]
    assert_frame_equal(value_a.customers, value_b.customers, check_exact=True)
    assert_frame_equal(risk_a.table, risk_b.table, check_exact=True)
    assert (risk_a.as_of, risk_a.trained_at, risk_a.n_trained) == (risk_b.as_of, risk_b.trained_at, risk_b.n_trained)
    assert len(risk_a.table) > 20
    assert_frame_equal(persona_a, persona_b, check_exact=True)  # churn by persona (personas fitted as 01 does)
    assert len(persona_a) >= 2


def test_purchase_activity_and_the_bgnbd_list(synth_both):
    """Purchase churn: the plan, the data set (what both validation designs fit on) and BG/NBD's list."""
    data, on_cluster = synth_both
    ev, pt = data.events, on_cluster.events
    plan = churn.plan_window(ev, 14, activity_events=["purchase"])
    assert plan == churn.plan_window(pt, 14, activity_events=["purchase"])
    kw = dict(cutoff=plan.cutoff, window=plan.window, activity_events=["purchase"], customers=data.customers,
              feedback=data.feedback, exclude=["variant"])
    (Xa, ya), (Xb, yb) = churn.make_dataset(ev, **kw), churn.make_dataset(pt, **kw)
    assert_frame_equal(Xa, Xb, check_exact=True)
    assert_series_equal(ya, yb)
    assert "activity_recency_days" in Xa.columns and "variant" not in Xa.columns
    a = at_risk.at_risk_list(ev, plan, model="bgnbd", activity_events=["purchase"])
    b = at_risk.at_risk_list(pt, plan, model="bgnbd", activity_events=["purchase"])
    assert_frame_equal(a.table, b.table, check_exact=True)
    assert a.n_trained == b.n_trained > 0


def test_per_customer_steps_on_gallery_shapes(case_both):
    shape, data, on_cluster = case_both
    ev, pt = data.events, on_cluster.events
    activity = ["purchase"] if shape == "purchases_only" else None
    plan = churn.plan_window(ev, activity_events=activity)
    assert plan == churn.plan_window(pt, activity_events=activity)
    kw = dict(window=plan.window, activity_events=activity, customers=data.customers, feedback=data.feedback,
              stage_map=data.stage_map)
    Xa = churn.features_at(ev, as_of=plan.cutoff, **kw)
    Xb = churn.features_at(pt, as_of=plan.cutoff, **kw)
    assert_frame_equal(Xa, Xb, check_exact=True)
    if shape == "every_table":  # hierarchical channel names, every feedback scale: their columns are there
        assert any(c.startswith("channel_share_") for c in Xa.columns)
        assert {"csat_mean", "nps_mean"} <= set(Xa.columns)
    ya = churn.label_customers(ev, cutoff=plan.cutoff, window=plan.window, activity_events=activity)
    assert_series_equal(ya, churn.label_customers(pt, cutoff=plan.cutoff, window=plan.window,
                                                  activity_events=activity))
    assert 0 < ya.sum() < len(ya)
    a = churn.bgnbd_scores(ev, cutoff=plan.cutoff, window=plan.window, activity_events=activity)[0]
    b = churn.bgnbd_scores(pt, cutoff=plan.cutoff, window=plan.window, activity_events=activity)[0]
    assert_frame_equal(a, b, check_exact=True)
    for end in ("cutoff", "last_day"):
        assert_frame_equal(rfm_summary(ev, cutoff=plan.as_of, observation_end=end),
                           rfm_summary(pt, cutoff=plan.as_of, observation_end=end), check_exact=True)
    assert_index_equal(at_risk.active_customers(ev, as_of=plan.as_of, window=plan.window),
                       at_risk.active_customers(pt, as_of=plan.as_of, window=plan.window))
    if data.profile.supports("revenue"):
        va, vb = at_risk.fit_value(ev, as_of=plan.as_of), at_risk.fit_value(pt, as_of=plan.as_of)
        assert va.summary() == vb.summary()
        assert_frame_equal(va.customers, vb.customers, check_exact=True)


def test_errors_are_the_same_sentences(synth_both):
    data, on_cluster = synth_both
    ev, pt = data.events, on_cluster.events
    first = ev["timestamp"].min()
    for fn, kw in [(churn.make_dataset, dict(cutoff=first - pd.Timedelta(days=1), window=30)),
                   (churn.make_dataset, dict(cutoff=ev["timestamp"].max() - pd.Timedelta(days=3), window=30)),
                   (churn.plan_window, dict(window=5000)),
                   (churn.features_at, dict(as_of=first, window=30))]:
        with pytest.raises(DataError) as a:
            fn(ev, **kw)
        with pytest.raises(DataError) as b:
            fn(pt, **kw)
        assert str(a.value) == str(b.value)
    with pytest.raises(ValueError, match=r"activity_events \['nope'\] do not occur") as a:
        churn.plan_window(pt, activity_events=["nope"])
    with pytest.raises(ValueError) as b:
        churn.plan_window(ev, activity_events=["nope"])
    assert str(a.value) == str(b.value)
    short = first + pd.Timedelta(days=3)  # too short for any window: the report's sentence, not an error
    plan, why = churn.plan_window_or_reason(type(pt)(pt.ddf.loc[pt.ddf["timestamp"] < short], pt.client))
    assert plan is None and why.startswith("the log covers 4 days")
    assert (plan, why) == churn.plan_window_or_reason(ev[ev["timestamp"] < short])


def test_log_facts(synth_both):
    data, on_cluster = synth_both
    ev, f = data.events, dist.facts(on_cluster.events)
    assert f is dist.facts(on_cluster.events)  # remembered: one pass per log
    assert (f.n_rows, f.first, f.last) == (len(ev), ev["timestamp"].min(), ev["timestamp"].max())
    firsts = ev.groupby(ev["event"].astype(str), observed=True)["timestamp"].min()
    assert f.event_first == firsts.to_dict()
    cut = ev["timestamp"].quantile(0.1)
    assert f.channels_before(cut) == sorted(ev.loc[ev["timestamp"] < cut, "channel"].dropna().astype(str).unique())
    assert dist.columns(on_cluster.events) == list(ev.columns)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 400), min_size=1, max_size=60), st.floats(0, 100),
       st.sampled_from([1, 2, 7, 1000]))
def test_percentile_of_counts_is_numpys(values, percentile, scale):
    arr = np.asarray(values, dtype=float) / scale
    v, n = np.unique(arr, return_counts=True)
    assert dist.percentile_of_counts(v, n, percentile) == float(np.percentile(arr, percentile))
    assert np.isnan(dist.percentile_of_counts(np.array([]), np.array([], dtype=int), 80))


def _extra_features_reference(ev, cut, window, activity, index):
    """The pandas groupby version _extra_features replaced (hashes every id), kept as the oracle."""
    act = ev if activity is None else ev[ev["event"].astype(str).isin(activity).to_numpy()]
    day = act["timestamp"].dt.floor("D")
    g = pd.DataFrame({"customer_id": act["customer_id"].to_numpy(), "day": day.to_numpy()})
    days = g.drop_duplicates().groupby("customer_id", sort=False).size().reindex(index).fillna(0)
    recent_from = cut - pd.Timedelta(days=window)
    recent = (g[g["day"] >= recent_from].drop_duplicates().groupby("customer_id", sort=False).size()
              .reindex(index).fillna(0))
    out = pd.DataFrame(index=index)
    last_ts = act.groupby("customer_id", sort=False)["timestamp"].max().reindex(index)
    if activity is not None:
        out["activity_recency_days"] = (cut - last_ts).dt.total_seconds() / 86_400.0
    out["activity_days"] = days.astype(np.int64)
    out["activity_days_recent"] = recent.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        span = np.maximum((cut - ev.groupby("customer_id", sort=False)["timestamp"].min().reindex(index))
                          .dt.total_seconds().to_numpy() / 86_400.0, 1.0)
    out["activity_days_per_30d"] = days.to_numpy() / span * 30.0
    if "device" in ev.columns:
        out["device"] = ev.groupby("customer_id", sort=False)["device"].last().reindex(index).astype("str")
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 40 * 86_400), st.sampled_from(["view", "purchase", "cart"]),
                          st.sampled_from(["app", "web", None])), min_size=1, max_size=50),
       st.sampled_from(["ns", "us", "s"]), st.sampled_from(["none", "str", "category"]), st.integers(1, 20),
       st.sampled_from([None, ["purchase"], ["purchase", "cart"]]))
def test_extra_features_equal_the_groupby_version(rows, unit, device, window, activity):
    from cjlib.churn.dataset import _extra_features
    from cjlib.io import ensure_sorted

    ev = pd.DataFrame(rows, columns=["c", "s", "event", "device"])
    ev = pd.DataFrame({"customer_id": "c" + ev["c"].astype(str),
                       "timestamp": (pd.Timestamp("2025-01-01") + pd.to_timedelta(ev["s"], unit="s")).dt.as_unit(unit),
                       "event": pd.Categorical(ev["event"]), "device": ev["device"]})
    ev = ev.drop(columns="device") if device == "none" else ev.astype({"device": device})
    cut = pd.Timestamp("2025-01-30")
    past = ensure_sorted(ev[ev["timestamp"] < cut].reset_index(drop=True))
    if len(past) == 0:
        return
    index = pd.Index(sorted(past["customer_id"].unique()), name="customer_id")
    assert_frame_equal(_extra_features(past, cut, window, activity, index),
                       _extra_features_reference(past, cut, window, activity, index), check_exact=True)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 0.5, 123.0])),
                max_size=30), st.lists(st.integers(-10**6, 10**6), max_size=30))
def test_risk_reason_values_format_as_one_by_one(floats, ints):
    from cjlib.churn.explain import _fmt, _fmt_all

    for arr in (np.asarray(floats, dtype=float), np.asarray(ints, dtype=np.int64), np.asarray(ints, dtype=bool),
                np.asarray([str(i) for i in ints] + [None], dtype=object)):
        assert _fmt_all(arr).tolist() == [_fmt(v) for v in arr]
