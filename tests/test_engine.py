"""cjlib.engine: the Dask engine gives exactly the in-process (pandas) results.

A ``distributed.LocalCluster`` (2 worker processes, 1 thread each) runs every wrapped operation on a
synthetic log of about 1 M events (``cjlib.synth``, 38 000 customers), shuffled by customer once
(:func:`cjlib.engine.partition`) and compared with the pandas functions on the loaded log. Two smaller
checks cover the other entry points: a pandas frame with ``engine="dask"`` and a Dask DataFrame read
from a Parquet folder. Skipped when the ``dask`` extra is not installed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import cjlib  # noqa: E402
from cjlib import attribution, engine, features, funnel, journeys, synth  # noqa: E402
from cjlib.io import ensure_sorted  # noqa: E402

N_CUSTOMERS = 38_000  # ≈ 1.0 M events
STEPS = ["product_view", "add_to_cart", "begin_checkout", "event:purchase"]


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    folder = tmp_path_factory.mktemp("engine")
    synth.generate(N_CUSTOMERS, seed=3).events.to_parquet(folder / "events.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = cjlib.load_events(folder / "events.parquet")
    return ev


@pytest.fixture(scope="module")
def parted(log, client):
    return engine.partition(log, client=client, npartitions=4)


def test_log_is_about_a_million_events(log, parted):
    assert 900_000 < len(log) < 1_150_000
    assert parted.npartitions == 4
    # every customer lives in exactly one partition
    ids = [set(p) for p in parted.client.gather(
        parted.client.compute([d["customer_id"].unique() for d in parted.ddf.to_delayed()]))]
    assert sum(len(s) for s in ids) == log["customer_id"].nunique()


def test_sessionize(log, parted):
    assert_series_equal(engine.sessionize(parted), journeys.sessionize(log))


def test_stage_reached(log, parted):
    assert_frame_equal(engine.stage_reached(parted), journeys.stage_reached(log))


@pytest.mark.parametrize("unit", ["customer", "session"])
def test_funnel(log, parted, unit):
    want = funnel.funnel(log, STEPS, window="7D", unit=unit)
    got = engine.funnel(parted, STEPS, window="7D", unit=unit)
    assert_frame_equal(got, want)
    assert got.attrs == want.attrs


def test_funnel_by_segment(log, parted):
    want = funnel.funnel(log, ["awareness", "consideration", "purchase"], window="30D", by="device")
    got = engine.funnel(parted, ["awareness", "consideration", "purchase"], window="30D", by="device")
    assert_frame_equal(got, want)
    assert got.attrs == want.attrs


def test_funnel_units(log, parted):
    assert_frame_equal(engine.funnel_units(parted, STEPS, window="7D", mode="strict"),
                       funnel.funnel_units(log, STEPS, window="7D", mode="strict"))


def test_transition_counts(log, parted):
    want = engine.transition_counts(log)
    assert_frame_equal(engine.transition_counts(parted), want)
    # independent check: consecutive channels within a customer, counted with pandas
    nxt = log.groupby("customer_id", sort=False)["channel"].shift(-1)
    pairs = pd.DataFrame({"a": log["channel"].astype(str), "b": nxt.astype(str)})[nxt.notna().to_numpy()]
    direct = pairs.value_counts().sort_index()
    assert np.array_equal(want["count"].to_numpy(), direct.to_numpy())
    assert want["count"].sum() == len(log) - log["customer_id"].nunique()


def test_customer_features(log, parted):
    assert_frame_equal(engine.customer_features(parted), features.customer_features(log))


@pytest.mark.parametrize("stage", [None, "purchase>retention"])
def test_paths_from_events(log, parted, stage):
    want_paths = attribution.journey_paths(log, stage=stage)
    got_paths = engine.journey_paths(parted, stage=stage)
    want, got = want_paths.table, got_paths.table
    # counts are exact; revenue sums are added in another order across partitions
    assert_frame_equal(got.drop(columns="value"), want.drop(columns="value"), check_exact=True)
    np.testing.assert_allclose(got["value"], want["value"], rtol=1e-12)
    assert got_paths.conversions_without_touches == want_paths.conversions_without_touches
    assert_frame_equal(engine.paths_from_events(parted, stage=stage), got)


def test_journey_paths_sums_conversions_without_touches(log, client):
    """Customers whose touches are blanked convert without a touch: the partitions' counts add up."""
    small = log[log["customer_id"].isin(log["customer_id"].unique()[:2000])].reset_index(drop=True)
    codes = pd.factorize(small["customer_id"])[0]
    small["channel"] = small["channel"].where(codes % 3 != 0)
    want = attribution.journey_paths(small)
    got = engine.journey_paths(small, engine="dask", client=client, npartitions=3)
    assert want.conversions_without_touches > 0
    assert got.conversions_without_touches == want.conversions_without_touches
    assert (got.journeys, got.converting_journeys) == (want.journeys, want.converting_journeys)


def test_pandas_frame_with_engine_dask(log, client):
    small = log[log["customer_id"].isin(log["customer_id"].unique()[:2000])].reset_index(drop=True)
    assert_frame_equal(engine.stage_reached(small, engine="dask", client=client, npartitions=3),
                       journeys.stage_reached(small))
    assert_frame_equal(engine.run(small, journeys.stage_reached, engine="pandas"),
                       journeys.stage_reached(small))
    # both of Dask's shuffle algorithms (the default is "tasks" for few partitions)
    for method in ("p2p", "tasks"):
        parted = engine.partition(small, client=client, npartitions=3, shuffle_method=method)
        assert_frame_equal(engine.stage_reached(parted), journeys.stage_reached(small))


def test_ties_keep_input_order_across_the_shuffle(log, client):
    """Timestamps cut to the day (most events tie) and rows shuffled: inside each partition the order is
    (customer, timestamp, input position), as the loader's, so order-sensitive results are identical."""
    ids = log["customer_id"].unique()[:1500]
    small = log[log["customer_id"].isin(ids)].assign(timestamp=lambda d: d["timestamp"].dt.floor("D"))
    small = small.sample(frac=1.0, random_state=5).reset_index(drop=True)
    whole = ensure_sorted(small)
    ts = whole["timestamp"].to_numpy()
    same = whole["customer_id"].to_numpy()[1:] == whole["customer_id"].to_numpy()[:-1]
    assert (same & (ts[1:] == ts[:-1])).mean() > 0.5  # ties are the rule, not the exception
    kw = dict(engine="dask", client=client, npartitions=3)
    # per-customer rows come back in first-appearance order from the cluster, sorted in process
    got = engine.funnel_units(small, STEPS, window="7D", mode="strict", **kw)
    want = funnel.funnel_units(small, STEPS, window="7D", mode="strict")
    assert_frame_equal(got.sort_values("customer_id", ignore_index=True), want, check_like=False)
    assert_frame_equal(engine.paths_from_events(small, **kw), attribution.paths_from_events(small),
                       check_exact=False, rtol=1e-12)


def test_distribute_keeps_the_index_for_every_call(log, client):
    ev = log.iloc[:60_000].set_axis(pd.RangeIndex(60_000) * 3 + 7)  # not 0..n-1: per-event results keep it
    parted = engine.distribute(ev, client.scheduler.address, client=client)
    assert isinstance(parted, engine.Partitioned)
    assert_series_equal(engine.sessionize(parted), journeys.sessionize(ev))
    assert_frame_equal(engine.stage_reached(parted), journeys.stage_reached(ev))
    assert_frame_equal(engine.funnel(parted, STEPS, window="7D"), funnel.funnel(ev, STEPS, window="7D"))


@pytest.mark.parametrize("split", ["interleaved", "by_channel"])
def test_dask_dataframe_input(log, client, tmp_path, split):
    import dask.dataframe as dd

    small = log[log["customer_id"].isin(log["customer_id"].unique()[:3000])].reset_index(drop=True)
    # a Parquet folder of 3 files, rows of a customer spread over files; "by_channel": each file has its own
    # channels, the alphabetically last in the first file, so a shuffled partition's categories arrive unsorted
    if split == "interleaved":
        pieces = [small.iloc[k::3] for k in range(3)]
    else:
        rank = small["channel"].cat.codes.to_numpy()
        pieces = [small[rank % 3 == k] for k in (2, 1, 0)]
    for k, piece in enumerate(pieces):  # as text, like most exports: each partition finds its own categories
        piece.astype({"event": str, "channel": str}).to_parquet(tmp_path / f"part-{k}.parquet")
    ddf = engine.read_events(str(tmp_path / "*.parquet"), client=client)
    assert isinstance(ddf, dd.DataFrame)
    parted = engine.partition(ddf, client=client)
    for part in parted.ddf.to_delayed():
        cats = part.compute()["channel"].cat.categories
        assert cats.is_monotonic_increasing
    # in process: the same files read in the same order (ties at one timestamp keep file order)
    whole = ensure_sorted(pd.concat(pieces, ignore_index=True))
    assert_frame_equal(engine.transition_counts(parted), journeys.channel_transitions(whole))
    assert_frame_equal(engine.funnel(ddf, STEPS, window="7D", client=client),
                       funnel.funnel(whole, STEPS, window="7D"))
    assert_frame_equal(engine.customer_features(ddf, client=client), features.customer_features(whole))
    cut = "2025-10-01"
    assert_frame_equal(engine.customer_features(ddf, client=client, cutoff=cut),
                       features.customer_features(whole, cutoff=cut))


def test_run_validates_arguments(log):
    with pytest.raises(ValueError, match="engine must be one of"):
        engine.run(log, journeys.stage_reached, engine="spark")
    with pytest.raises(ValueError, match="reduce must be one of"):
        engine.run(log, journeys.stage_reached, reduce="max")


def test_a_closed_clients_scheduler_setting_does_not_stop_local_runs():
    """A ``distributed`` client that closed can leave ``scheduler: dask.distributed`` in Dask's configuration;
    without a live client the engine then runs on the threaded scheduler instead of refusing."""
    import dask

    from cjlib import journeys, synth

    ev = synth.generate(40, seed=2).events
    with dask.config.set(scheduler="dask.distributed"):
        assert engine.run(ev, journeys.stage_reached, engine="dask").equals(journeys.stage_reached(ev))
