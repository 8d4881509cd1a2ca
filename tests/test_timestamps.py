"""Epoch timestamps take one unit per column (cjlib.timestamps): the unit whose magnitude range holds every
value, decided alike from the whole column (in process) and from each file's evidence (a Dask run)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cjlib.errors import DataError
from cjlib.timestamps import _epoch_evidence, _epoch_unit, parse_timestamps

T = pd.Timestamp("2025-06-01 12:00:00").value // 10**9  # seconds since 1970
SCALE = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


@pytest.mark.parametrize("unit", list(SCALE))
def test_one_unit_reads_every_value(unit):
    s = pd.Series([T * SCALE[unit], (T + 90) * SCALE[unit], np.nan])
    got = parse_timestamps(s.iloc[:2])
    assert got.tolist() == [pd.Timestamp("2025-06-01 12:00:00"), pd.Timestamp("2025-06-01 12:01:30")]
    e = pytest.raises(DataError, parse_timestamps, s).value  # a gap: unparseable, not a second unit
    assert e.rule == "parseable_timestamp" and e.examples == ["row 2: timestamp=nan"]


def test_two_units_are_refused_with_counts_and_the_first_rows_of_each():
    # the median (1.7e12, milliseconds) read the two seconds values as January 1970 without a word
    s = pd.Series([T * 1000, T, T * 1000 + 5, T + 60, T * 1000 + 9, float("inf")], index=range(10, 16))
    e = pytest.raises(DataError, parse_timestamps, s, file="f.csv").value
    assert (e.file, e.column, e.rule) == ("f.csv", "timestamp", "consistent_timestamp")
    assert e.message.startswith("the column mixes epoch units: 2 value(s) in the range of seconds (up to 1e11) "
                                "and 3 in the range of milliseconds (1e11 to 1e14)")
    assert e.examples == [f"row 11: timestamp={T}", f"row 13: timestamp={T + 60}",
                          f"row 10: timestamp={T * 1000}", f"row 12: timestamp={T * 1000 + 5}"]


def test_range_bounds():
    ev = _epoch_evidence(pd.Series([1e11, 1e11 + 1, -1e14, 1e14 + 1, 1e17, 1e17 + 1e3]))
    assert {u: n for u, (n, _) in ev.items()} == {"s": 1, "ms": 2, "us": 2, "ns": 1}
    assert _epoch_unit([_epoch_evidence(pd.Series([np.nan]))], None) == "s"  # nothing to decide


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(SCALE)), st.integers(0, 10**6)), min_size=1, max_size=30),
       st.lists(st.integers(0, 30), max_size=4))
def test_files_decide_as_their_one_column(values, cuts):
    """Brute force: the unit (or the error, examples and all) from each file's evidence is the whole column's."""
    s = pd.Series([(T + x) * SCALE[u] for u, x in values], dtype="int64")
    bounds = sorted({0, len(s), *[min(c, len(s)) for c in cuts]})
    files = [s.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    try:
        whole = _epoch_unit([_epoch_evidence(s)], "f")
    except DataError as err:
        whole = str(err)
    try:
        split = _epoch_unit([_epoch_evidence(f) for f in files], "f")
    except DataError as err:
        split = str(err)
    assert split == whole
    units = {u for u, _ in values}
    assert (whole in SCALE) == (len(units) == 1) and (len(units) > 1 or whole == units.pop())


def test_whole_seconds_mixed_with_nanosecond_fractions_parse():
    # a CSV mixing "00:00:00" with ".999999999" fractions stopped the loader with a TypeError (a
    # nanosecond straggler assigned into a microsecond column)
    got = parse_timestamps(pd.Series(["2025-01-01 00:00:00", "2025-01-01 16:47:59.999999999", "2025-01-02 08:00:00"]))
    assert got.tolist() == [pd.Timestamp("2025-01-01 00:00:00"), pd.Timestamp("2025-01-01 16:47:59.999999"),
                            pd.Timestamp("2025-01-02 08:00:00")]
