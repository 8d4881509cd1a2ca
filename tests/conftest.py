"""Shared fixtures: tiny hand-made logs and small synthetic samples (cached per session)."""

from __future__ import annotations

import os

import pandas as pd
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("CJLIB_STRICT_FINDINGS", "1")  # a NaN or a zero-to-zero trend in a finding fails the test

collect_ignore = ["data"]  # fixture files and the scripts that made them (make_fixture.py) are not tests


@pytest.fixture(scope="session")
def cdnow_events() -> pd.DataFrame:
    """The CDNOW master log (tests/data/cdnow, 23,570 customers) as a cjlib event log, every row a purchase,
    as it is: no row dropped (lifetimes keeps the 255 exact duplicates too). Shared: do not modify it."""
    from pathlib import Path

    raw = pd.read_csv(Path(__file__).parent / "data" / "cdnow" / "CDNOW_master.txt.gz", sep=r"\s+", header=0,
                      names=["customer_id", "date", "number_of_cds", "revenue"],
                      dtype={"customer_id": str, "date": str})
    return pd.DataFrame({"customer_id": raw["customer_id"],
                         "timestamp": pd.to_datetime(raw["date"], format="%Y%m%d"),
                         "event": "purchase", "revenue": raw["revenue"].astype(float)})


@pytest.fixture
def write_csv(tmp_path):
    """Write a DataFrame (or rows) to a CSV in tmp_path and return its path."""

    def _write(df: pd.DataFrame | dict, name: str = "events.csv"):
        df = pd.DataFrame(df)
        path = tmp_path / name
        df.to_csv(path, index=False)
        return path

    return _write


@pytest.fixture
def tiny_events() -> pd.DataFrame:
    """Two customers, eight events, known order and ties (input order matters for ties)."""
    return pd.DataFrame({
        "customer_id": ["b", "a", "a", "a", "b", "a", "a", "b"],
        "timestamp": ["2025-01-01 10:00", "2025-01-02 09:00", "2025-01-01 08:00", "2025-01-02 09:00",
                      "2025-01-01 09:00", "2025-01-05 12:00", "2025-01-09 12:00", "2025-01-03 00:00"],
        "event": ["page_view", "add_to_cart", "page_view", "purchase", "ad_click", "purchase", "review",
                  "product_view"],
        "channel": ["social", "email", "organic_search", "email", "social", "direct", "email", "social"],
        "revenue": [None, None, None, 30.0, None, 20.0, None, None],
    })


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory):
    """A written synthetic sample of 400 customers (folder with events.parquet …)."""
    from cjlib.synth import generate

    folder = tmp_path_factory.mktemp("sample")
    generate(n_customers=400, seed=3).write(folder)
    return folder


@pytest.fixture(scope="session")
def local_cluster():
    """A ``distributed.LocalCluster`` of 2 worker processes with 1 thread each, shared by the Dask tests
    (skipped when the ``dask`` extra is not installed)."""
    import warnings

    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=40)
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def client(local_cluster):
    """A ``distributed.Client`` on :func:`local_cluster`, one per test module."""
    import warnings

    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cl = distributed.Client(local_cluster)
    yield cl
    cl.close()
