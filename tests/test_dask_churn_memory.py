"""Issue 19: per_customer merges the partitions' rows without run()'s reordering copy, and gives run()'s rows."""

from __future__ import annotations

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")

from cjlib import engine  # noqa: E402
from cjlib.churn import distributed as dist  # noqa: E402
from cjlib.churn.dataset import _labels, _past_features  # noqa: E402
from cjlib.stagemap import load_stage_map  # noqa: E402
from cjlib.synth import generate  # noqa: E402


def _one_channel_per_partition(part: pd.DataFrame) -> pd.DataFrame:
    """Rows whose columns differ between partitions (a channel only some partitions see) and hold ints."""
    ids = pd.Index(pd.unique(part["customer_id"].to_numpy()), name="customer_id")
    out = pd.DataFrame({"n": part.groupby("customer_id", sort=False).size().reindex(ids).to_numpy()}, index=ids)
    if "C000001" in ids:  # one partition only
        out["only_here"] = 1.5
    return out


def test_per_customer_gives_runs_rows(client):
    d = generate(400, seed=11)
    pt = engine.partition(d.events, client=client, npartitions=4)
    cut = pd.Timestamp("2025-10-01")
    for kernel, kw in [(_labels, {"cut": cut, "days": 30, "activity": None}),
                       (_past_features, {"cut": cut, "days": 30, "activity": None, "customers": None,
                                         "feedback": None, "stage_map": load_stage_map(), "exclude": None,
                                         "keep": None}),
                       (_one_channel_per_partition, {})]:
        got = dist.per_customer(pt, kernel, **kw)
        want = engine.run(pt, kernel, reduce="concat", **kw)
        want = (want.to_frame() if isinstance(want, pd.Series) else want).sort_index(kind="stable")
        want.index.name = "customer_id"
        assert len(got) == d.events["customer_id"].nunique() or kernel is not _one_channel_per_partition
        assert_frame_equal(got, want)
    assert got["only_here"].notna().sum() > 0 and got["only_here"].isna().sum() > 0  # the union of columns
