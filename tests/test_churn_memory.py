"""Issue 19: the churn steps that bound the report process's memory give the numbers of the one-call versions.

Churn models predict in blocks of rows (:class:`cjlib.churn.models.BlockPipeline`), the at-risk list scores and
explains its customers a block at a time, and its training set goes before the scoring set is built. Each test
shrinks the block so a small log spans many blocks (odd sizes: no block divides the log) and compares with the
one-call result exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from cjlib import at_risk, churn
from cjlib.churn import models
from cjlib.churn.validation import _align, _align_to, _layout
from cjlib.synth import generate


@pytest.fixture(scope="module")
def sample():
    return generate(1500, seed=5)


@pytest.fixture(scope="module")
def dataset(sample):
    return churn.make_dataset(sample.events, cutoff="2025-09-01", window=60, customers=sample.customers,
                              feedback=sample.feedback)


@pytest.mark.parametrize("kind", ["logistic", "gbm"])
@pytest.mark.parametrize("rows", [16, 112, 400])  # multiples of 16, as PREDICT_ROWS (see its note)
def test_block_predictions_are_the_one_call_predictions(dataset, kind, rows, monkeypatch):
    X, y = dataset
    assert len(X) > 3 * 400  # every block size below spans several blocks, the last one short
    with threadpool_limits(1):  # as cjlib fits and scores (churn.models._threads)
        pipe = churn.make_model(kind, X, seed=0).fit(X, y)
        whole = Pipeline.predict_proba(pipe, X)
        monkeypatch.setattr(models, "PREDICT_ROWS", rows)
        blocks = pipe.predict_proba(X)
        assert np.array_equal(blocks, whole)
        assert np.array_equal(pipe.predict(X), Pipeline.predict(pipe, X))
        if kind == "logistic":
            assert np.array_equal(pipe.decision_function(X), Pipeline.decision_function(pipe, X))
    assert isinstance(pipe, Pipeline) and blocks.shape == (len(X), 2)
    assert 0.0 < whole[:, 1].min() < whole[:, 1].max() < 1.0  # real probabilities, not a constant


def test_block_pipeline_offers_only_what_its_last_step_offers(dataset):
    """Scorers pick decision_function when hasattr says so: calibrated boosting has none, logistic has one."""
    X, y = dataset
    gbm = churn.make_model("gbm", X, seed=0).fit(X.head(600), y.head(600))
    logistic = churn.make_model("logistic", X, seed=0).fit(X.head(600), y.head(600))
    assert not hasattr(gbm, "decision_function") and hasattr(logistic, "decision_function")
    assert hasattr(gbm, "predict_proba")
    assert type(churn.make_model("gbm", X, seed=0)) is models.BlockPipeline


def test_align_from_a_layout_is_align(dataset):
    X, _ = dataset
    X_tr = X.assign(channel_share_email=np.nan)  # a training column with no value stays NaN
    X_te = X.drop(columns=["n_purchases", "device"]).head(40)  # the test period lacks two columns
    X_te = X_te.assign(channel_share_email=np.nan)  # and has no value of one the training set has none of
    a, b = _align(X_te, X_tr), _align_to(X_te, _layout(X_tr))
    pd.testing.assert_frame_equal(a, b)
    assert list(b.columns) == list(X_tr.columns)
    assert (b["n_purchases"] == 0).all() and b["device"].isna().all()  # numbers absent mean 0; text stays NaN
    assert b["channel_share_email"].isna().all()
    valued = _layout(X_tr)[1]
    assert "n_purchases" in valued and "channel_share_email" not in valued and "device" not in valued


@pytest.mark.parametrize("model", ["gbm", "ensemble"])
def test_at_risk_list_in_blocks_is_the_one_call_list(sample, model, monkeypatch):
    d = sample
    plan = churn.plan_window(d.events)
    kw = {"model": model, "customers": d.customers, "feedback": d.feedback, "seed": 0,
          "features": ["recency_days", "frequency", "device", "activity_days_recent", "sessions"]}
    one = at_risk.at_risk_list(d.events, plan, **kw)
    assert len(one.table) > 400
    monkeypatch.setattr(at_risk, "PREDICT_ROWS", 128)
    monkeypatch.setattr(models, "PREDICT_ROWS", 128)
    blocks = at_risk.at_risk_list(d.events, plan, **kw)
    pd.testing.assert_frame_equal(blocks.table, one.table)
    assert (blocks.n_trained, blocks.n_fitted) == (one.n_trained, one.n_fitted)
    assert one.table["reason_1"].notna().sum() > 100  # reasons were given, so they were compared


def test_at_risk_list_fits_the_sample_of_a_large_training_set(sample, monkeypatch):
    """A training set past MAX_FIT_CUSTOMERS is cut to its sample before the scoring set is built: the same
    sample, the same fit, as cutting it at the fit."""
    d = sample
    plan = churn.plan_window(d.events)
    limit = 300
    monkeypatch.setattr(models.fit_rows, "__defaults__", None)
    monkeypatch.setattr(models.fit_rows, "__kwdefaults__", {"seed": 0, "limit": limit})
    ar = at_risk.at_risk_list(d.events, plan, model="logistic", seed=0, features=["recency_days"])
    X_tr, y_tr = churn.make_dataset(d.events, cutoff=ar.trained_at, window=plan.window)
    rows = np.sort(np.random.default_rng(0).choice(len(X_tr), size=limit, replace=False))
    assert ar.n_trained == len(X_tr) > limit and ar.n_fitted == limit
    with threadpool_limits(1):
        pipe = churn.make_model("logistic", X_tr, seed=0).fit(X_tr.iloc[rows], y_tr.iloc[rows])
    active = ar.table.index.sort_values()  # scored in customer order, as the list scores them
    X_now = _align(churn.features_at(d.events, as_of=plan.as_of, window=plan.window), X_tr).loc[active]
    with threadpool_limits(1):
        p = pd.Series(pipe.predict_proba(X_now)[:, 1], index=active)
    assert np.array_equal(ar.table["churn_probability"].to_numpy(), p.loc[ar.table.index].to_numpy())


@pytest.mark.parametrize("kind", ["roc", "pr"])
def test_curve_points_are_the_drawn_ones(kind):
    """Kept points are points of scikit-learn's curve; every full point lies within CURVE_STEP (each axis) of the
    last kept point at or before it; 40,000 customers keep a few thousand points, not 40,000."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    from cjlib.churn.evaluation import CURVE_STEP

    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 40_000)
    s = y * 0.3 + rng.random(40_000)  # continuous scores: every customer is a threshold
    t = churn.curve_table(y, {"m": s}, kind=kind)
    if kind == "roc":
        fx, fy, _ = roc_curve(y, s)
        kx, ky = t["fpr"].to_numpy(), t["tpr"].to_numpy()
    else:
        fy, fx, _ = precision_recall_curve(y, s, drop_intermediate=True)  # what is thinned (straight stretches out)
        kx, ky = t["recall"].to_numpy(), t["precision"].to_numpy()
    assert 100 < len(kx) < 5_000 < len(fx)
    full = np.column_stack([fx, fy])
    pos = np.array([np.flatnonzero((full == p).all(axis=1))[0] for p in np.column_stack([kx, ky])])
    assert pos[0] == 0 and pos[-1] == len(fx) - 1 and (np.diff(pos) > 0).all()  # on the curve, in order
    last = pos[np.searchsorted(pos, np.arange(len(fx)), side="right") - 1]
    assert np.abs(full - full[last]).max() < CURVE_STEP


def test_release_memory_runs_only_for_a_partitioned_log(sample, monkeypatch):
    """A loaded frame keeps the in-process run as it was (no collection, no trim); a Partitioned log (or no
    log) collects Python's garbage and trims the heap; on a non-glibc system the trim is skipped quietly."""
    from cjlib.churn import distributed

    calls = []
    monkeypatch.setattr(distributed.gc, "collect", lambda: calls.append("gc") or 0)
    distributed.release_memory(sample.events)
    assert calls == []
    monkeypatch.setattr(distributed, "is_partitioned", lambda events: True)
    distributed.release_memory(sample.events)
    distributed.release_memory()
    assert calls == ["gc", "gc"]
    import ctypes

    def no_libc(name):
        raise OSError(name)

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    distributed.release_memory()
    assert calls == ["gc", "gc", "gc"]


def test_validation_tables_share_one_index_per_data_set(sample):
    """Labels, scores and the BG/NBD table reuse their features' index object (no copy of the ids)."""
    plan = churn.plan_window(sample.events)
    r = churn.validate(sample.events, plan, seed=0)
    assert r.design == "out_of_time"
    assert r.y_test.index is r.X_test.index and r.y_train.index is r.X_train.index
    assert r.scores.index is r.X_test.index and r.info["bgnbd_scores"].index is r.X_test.index
    X, y = churn.make_dataset(sample.events, cutoff=plan.cutoff, window=plan.window)
    assert y.index is X.index and y.index.equals(churn.label_customers(sample.events, cutoff=plan.cutoff,
                                                                       window=plan.window).index)
