"""The loader's validation without pandera (schema._passes) against the pandera schema itself: on random small
tables with nulls, negative, infinite and absurd amounts and every numeric dtype, the fast path returns the
frame pandera returns, and a table the fast path does not pass gets pandera's own DataError."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cjlib.errors import DataError
from cjlib.io import schema

AMOUNTS = [0.0, 1.5, 12.0, -0.5, np.nan, np.inf, -np.inf, 1e15, 9.9e14]
DTYPES = ["float64", "float32", "int64", "uint8", "object", "Int64"]


def _pandera(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """The schema's verdict alone (what _validate did before the fast path)."""
    import pandera.pandas as pa

    try:
        return schema._schema(table).validate(df, lazy=True)
    except pa.errors.SchemaErrors:
        return None


def _column(values: list, dtype: str) -> pd.Series:
    s = pd.Series(values, dtype="float64")
    if dtype in ("int64", "uint8"):
        if s.isna().any() or not np.isfinite(s).all() or (dtype == "uint8" and ((s < 0) | (s > 255)).any()):
            return s  # not representable: stays float
        return s.astype(dtype)
    if dtype == "Int64":
        return s.where(np.isfinite(s)).round().astype("Int64")
    if dtype == "object":
        return s.astype(object)
    return s.astype(dtype)


@st.composite
def tables(draw):
    table = draw(st.sampled_from(["events", "customers", "feedback", "costs"]))
    n = draw(st.integers(1, 6))
    df = pd.DataFrame({c: draw(st.lists(st.sampled_from(["a", "b", None]) if c != "timestamp" else
                                        st.sampled_from([pd.Timestamp("2025-01-01"), pd.NaT]),
                                        min_size=n, max_size=n))
                       for c in schema.REQUIRED[table] if c not in ("spend", "score")})
    for col, nullable, _ in schema._NUMERIC[table]:
        if nullable and draw(st.booleans()):
            continue  # an optional amount column left out
        values = draw(st.lists(st.sampled_from(AMOUNTS + [3.0, 4.0]), min_size=n, max_size=n))
        df[col] = _column(values, draw(st.sampled_from(DTYPES)))
    return table, df


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_fast_path_agrees_with_pandera(case):
    table, df = case
    want = _pandera(df.copy(), table)
    if want is None:  # pandera rejects: so must the loader, with pandera's error
        assert schema._passes(df, table) is None
        with pytest.raises(DataError):
            schema._validate(df, table, "f.parquet")
        return
    got = schema._validate(df.copy(), table, "f.parquet")
    pd.testing.assert_frame_equal(got, want)


def test_fast_path_hand_cases():
    ok = pd.DataFrame({"customer_id": ["a", "b"], "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02"]),
                       "event": ["x", "y"], "revenue": np.array([0, 7], dtype="int64")})
    coerced = schema._passes(ok, "events")
    assert list(coerced) == ["revenue"] and coerced["revenue"].dtype == np.float64
    out = schema._validate(ok, "events", "f")
    assert out["revenue"].tolist() == [0.0, 7.0] and out["revenue"].dtype == np.float64
    nan_ok = ok.assign(revenue=[np.nan, 1.0])
    assert schema._validate(nan_ok, "events", "f") is nan_ok  # nothing to coerce: the frame itself
    for bad, rule in (([-1.0, 1.0], "non_negative_revenue"), ([np.inf, 1.0], "finite_revenue"),
                      ([1e15, 1.0], "finite_revenue")):
        assert schema._passes(ok.assign(revenue=bad), "events") is None
        with pytest.raises(DataError) as err:
            schema._validate(ok.assign(revenue=bad), "events", "f")
        assert err.value.rule == rule
    with pytest.raises(DataError) as err:
        schema._validate(ok.assign(event=["x", None]), "events", "f")
    assert err.value.rule == "not_null" and err.value.column == "event"
