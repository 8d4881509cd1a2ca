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
        assert_series_equal(engine.sessionize(parted), journeys.sessionize(small))  # per event, sorted back


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


# ---------------------------------------------------------------- files already sorted by customer: no shuffle
def test_regroup_plan_by_hand():
    """(rows, first id, last id, rows of the first id) per partition → (rows to drop, heads to append)."""
    from cjlib.engine.core import _regroup_plan

    # b straddles 0|1; c fills partition 2 and runs on into 3: partition 1 owns it
    runs = [(3, "a", "b", 1), (2, "b", "c", 1), (2, "c", "c", 2), (2, "c", "d", 1)]
    assert _regroup_plan(runs) == [(0, [(1, 1)]), (1, [(2, 2), (3, 1)]), (2, []), (1, [])]
    # an empty partition in between, no shared customer: nothing moves
    assert _regroup_plan([(3, "a", "b", 1), (0, None, None, 0), (2, "c", "d", 1)]) == [(0, []), (0, []), (0, [])]
    # an empty partition between the two halves of a customer
    assert _regroup_plan([(2, "a", "b", 1), (0, None, None, 0), (3, "b", "c", 2)]) == [(0, [(2, 2)]), (0, []), (2, [])]
    assert _regroup_plan([(3, "a", "c", 1), (2, "b", "d", 1)]) is None  # overlap beyond one customer
    assert _regroup_plan([(3, "a", "c", 1), None]) is None  # a partition not sorted by customer


def test_sorted_run_reads_ids_as_values():
    """A partition's place in a customer-sorted log: rows, first id, last id, rows of the first id; None when
    the ids are not rising by value (a categorical's own category order does not count) or one is missing."""
    from cjlib.engine.core import _sorted_run

    assert _sorted_run(pd.DataFrame({"customer_id": ["a", "a", "b", "c", "c"]})) == (5, "a", "c", 2)
    assert _sorted_run(pd.DataFrame({"customer_id": [7, 9, 9]})) == (3, 7, 9, 1)
    assert _sorted_run(pd.DataFrame({"customer_id": pd.Categorical(["b", "b", "a"], categories=["b", "a"])})) is None
    assert _sorted_run(pd.DataFrame({"customer_id": ["a", "b", "a"]})) is None  # a customer twice
    assert _sorted_run(pd.DataFrame({"customer_id": ["a", None, "b"]})) is None
    assert _sorted_run(pd.DataFrame({"customer_id": pd.Series([], dtype=str)})) == (0, None, None, 0)


def test_in_order_is_lexsorts_identity():
    """Brute force on random small keys: True exactly when np.lexsort would leave the rows where they are
    and no two rows tie on every key."""
    from cjlib.engine.core import _in_order

    rng = np.random.default_rng(0)
    for _ in range(2000):
        n = int(rng.integers(0, 7))
        keys = [rng.integers(0, 3, n) for _ in range(3)]
        identity = bool((np.lexsort(keys) == np.arange(n)).all()) and len(set(zip(*keys))) == n
        assert _in_order(*keys) == identity, keys
    stamps = np.array(["2025-01-02", "2025-01-01"], dtype="datetime64[ns]")
    assert not _in_order(np.array([0, 1]), stamps, np.array([0, 0]))
    assert _in_order(np.array([0, 1]), stamps, np.array([0, 1]))


def test_per_event_merge_against_a_sort():
    """Per-event partial results, as runs or as positions, in order or shuffled: the merge gives the values
    in input-position order."""
    from cjlib.engine.core import _per_event_merge, _PerEvent

    rng = np.random.default_rng(1)
    for _ in range(300):
        n = int(rng.integers(1, 40))
        pos = np.sort(rng.choice(10 * n, n, replace=False)).astype(np.int64)
        order = rng.permutation(n) if rng.random() < 0.5 else np.arange(n)
        cuts = np.sort(rng.choice(np.arange(1, n + 1), int(rng.integers(0, min(n, 4))), replace=False)) if n > 1 else []
        parts = []
        for chunk in np.split(order, cuts):
            vals = pd.Series(pos[chunk] * 10, name="v")
            parts.append(_PerEvent.of(vals, pos[chunk]))
        got = _per_event_merge(parts)
        assert got.tolist() == list(pos * 10)
        assert got.index.equals(pd.RangeIndex(n))


def test_files_sorted_by_customer_are_regrouped_not_shuffled(log, client, tmp_path):
    """A log sorted by customer, cut into Parquet files at arbitrary rows (a customer in three files, an
    empty file): each partition is the run of customers its file starts, boundary customers moved to the
    first file holding them, and every result equals the in-process one."""
    ids = log["customer_id"].unique()[:3000]
    small = log[log["customer_id"].isin(ids)].reset_index(drop=True)
    sizes = small.groupby("customer_id", sort=False).size()
    big = sizes[sizes >= 6].index[len(sizes) // 3 // 10]  # a customer with 6+ events, a third of the way in
    at = int(np.flatnonzero(small["customer_id"].to_numpy() == big)[0])
    cuts = [at // 2, at + 2, at + 4, at + 4, len(small) - 17]  # the fourth file is empty
    bounds = [0, *cuts, len(small)]
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        small.iloc[a:b].astype({"event": str, "channel": str}).to_parquet(tmp_path / f"part-{k}.parquet")
    ddf = engine.read_events(str(tmp_path / "*.parquet"), client=client)
    parted = engine.partition(ddf, client=client)
    assert parted.npartitions == 6
    held = [p.compute()["customer_id"].unique().tolist() for p in parted.ddf.to_delayed()]
    assert [c for h in held for c in h] == sorted(ids)  # consecutive runs of customers, in file order
    first_file = small.iloc[: cuts[0]]["customer_id"].unique().tolist()
    assert held[0] == first_file  # its last customer, cut in two, came back whole
    assert held[2] == [] and held[3] == []  # the third file held only part of `big`, owned by the second
    assert_series_equal(engine.sessionize(parted), journeys.sessionize(small))
    assert_frame_equal(engine.stage_reached(parted), journeys.stage_reached(small))
    assert_frame_equal(engine.funnel(parted, STEPS, window="7D"), funnel.funnel(small, STEPS, window="7D"))
    assert_frame_equal(engine.customer_features(parted), features.customer_features(small))
    assert_frame_equal(engine.paths_from_events(parted), attribution.paths_from_events(small),
                       check_exact=False, rtol=1e-12)
