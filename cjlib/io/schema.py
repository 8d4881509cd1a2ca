"""Validation of a loaded table: required columns, the pandera schema, timestamps, exact duplicates."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from cjlib.errors import DataError, DataWarning, row_examples
from cjlib.io.order import neighbours_differ
from cjlib.timestamps import parse_timestamps

REQUIRED = {
    "events": ["customer_id", "timestamp", "event"],
    "customers": ["customer_id"],
    "feedback": ["customer_id", "timestamp", "score"],
    "costs": ["channel", "spend"],
}
N_EXAMPLES = 5
MAX_AMOUNT = 1e15  # revenue, cost and spend must be finite and below this (in absolute value)


def _examples(df: pd.DataFrame, mask: np.ndarray | pd.Series, cols: list[str] | None = None) -> list[str]:
    return row_examples(df, mask, cols, N_EXAMPLES)


def _require(df: pd.DataFrame, table: str, file: str) -> None:
    for col in REQUIRED[table]:
        if col not in df.columns:
            raise DataError(
                f"required column is missing (columns present: {', '.join(map(str, df.columns[:12]))})",
                file=file,
                column=col,
                rule="missing_column",
            )


# ------------------------------------------------------------------------------------------- timestamps
def _to_utc_naive(raw: pd.Series, file: str, column: str, timestamp_format: str | None = None) -> pd.Series:
    """Parse a timestamp column to timezone-naive UTC (:func:`cjlib.timestamps.parse_timestamps`: one
    day/month order per column); unparseable or ambiguous values raise :class:`DataError`."""
    return parse_timestamps(raw, timestamp_format=timestamp_format, file=file, column=column)


# ------------------------------------------------------------------------------------------- validation
def _schema(table: str):
    import pandera.pandas as pa  # imported on first use: a valid table never needs it (see _passes)

    not_null = {c: pa.Column(nullable=False, required=True) for c in REQUIRED[table]}

    def amount(name: str, nullable: bool) -> pa.Column:  # ≥ 0, finite and below MAX_AMOUNT
        checks = [pa.Check.ge(0, error=f"non_negative_{name}"), pa.Check.lt(MAX_AMOUNT, error=f"finite_{name}")]
        return pa.Column(float, checks, nullable=nullable, required=not nullable, coerce=True)

    if table == "events":
        not_null["revenue"] = amount("revenue", True)
        not_null["cost"] = amount("cost", True)
    elif table == "feedback":
        not_null["score"] = pa.Column(float, pa.Check(lambda v: np.isfinite(v), error="finite_score"),
                                      nullable=False, coerce=True)
    elif table == "costs":
        not_null["spend"] = amount("spend", False)
    return pa.DataFrameSchema(not_null, name=table)


_RULES = {"not_nullable": "not_null", "coerce_dtype": "numeric", "dtype": "numeric"}
# the schema's numeric columns per table: (name, nullable, rule) with rule "amount" (0 <= x < MAX_AMOUNT, NaN
# allowed where nullable) or "finite"
_NUMERIC = {"events": [("revenue", True, "amount"), ("cost", True, "amount")],
            "feedback": [("score", False, "finite")], "costs": [("spend", False, "amount")], "customers": []}


def _passes(df: pd.DataFrame, table: str) -> dict | None:
    """The columns the schema would coerce to float (name → float64 values) when ``df`` passes every rule of
    :func:`_schema`, checked with plain vectorized NumPy; ``None`` when it may not (or its coercion is not a
    plain ``astype(float64)`` of a numeric column), so pandera decides and words the failure.

    The same rules as the schema: required columns not null; numeric columns of a NumPy integer or float
    type, ``0 <= x < MAX_AMOUNT`` (amounts; NaN passes where nullable, as pandera's checks skip nulls) or
    finite (scores). Importing pandera and running its backends costs about a second per process and copies
    the table; a valid log (the common case) needs neither.
    """
    if not df.columns.is_unique:
        return None
    if any(c not in df.columns or df[c].isna().any() for c in REQUIRED[table]):
        return None
    out = {}
    for col, nullable, rule in _NUMERIC[table]:
        if col not in df.columns:
            if not nullable:
                return None
            continue
        dtype = df[col].dtype
        if not (isinstance(dtype, np.dtype) and dtype.kind in "iuf"):
            return None
        v = df[col].to_numpy()
        if not nullable and dtype.kind == "f" and np.isnan(v).any():
            return None
        if rule == "amount" and ((v < 0).any() or (v >= MAX_AMOUNT).any()):  # NaN fails neither comparison
            return None
        if rule == "finite" and dtype.kind == "f" and not np.isfinite(v).all():
            return None
        if dtype != np.float64:
            out[col] = v.astype(np.float64)
    return out


def _validate(df: pd.DataFrame, table: str, file: str) -> pd.DataFrame:
    """Run the table's pandera schema; turn the first failure into a one-line :class:`DataError`.

    A table that passes every rule (checked first by :func:`_passes`) is returned without pandera: the
    same columns, the schema's numeric columns as float64."""
    coerced = _passes(df, table)
    if coerced is not None:
        if not coerced:
            return df
        out = df.assign(**coerced)
        out.attrs.update(df.attrs)
        return out
    import pandera.pandas as pa

    try:
        return _schema(table).validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
        first = fc.iloc[0]
        column = first["column"] if isinstance(first["column"], str) else None
        check = str(first["check"])
        rule = _RULES.get(check.split("(")[0], check.split("(")[0])
        n = int((fc["column"] == first["column"]).sum()) if column else len(fc)
        index = fc.loc[fc["column"] == first["column"], "index"].dropna()
        mask = df.index.isin(index.astype(int).tolist()) if len(index) else np.zeros(len(df), bool)
        what = {
            "not_null": "value(s) are missing",
            "numeric": "value(s) are not numbers",
            "non_negative_revenue": "value(s) are negative (revenue must be ≥ 0; a refund is its own event "
                                    "with its amount in another column, not negative revenue)",
            "non_negative_cost": "value(s) are negative (cost must be ≥ 0)",
            "non_negative_spend": "value(s) are negative (spend must be ≥ 0)",
            "finite_revenue": f"value(s) are infinite or absurd (revenue must be below {MAX_AMOUNT:.0e})",
            "finite_cost": f"value(s) are infinite or absurd (cost must be below {MAX_AMOUNT:.0e})",
            "finite_spend": f"value(s) are infinite or absurd (spend must be below {MAX_AMOUNT:.0e})",
            "finite_score": "value(s) are infinite",
        }.get(rule, f"value(s) fail {check}")
        raise DataError(f"{n:,} {what}", file=file, column=column, rule=rule,
                        examples=_examples(df, mask, list(dict.fromkeys(REQUIRED[table] + ([column] if column else []))))) from None


def _duplicated(df: pd.DataFrame) -> np.ndarray:
    """``df.duplicated()`` (later copies of an exact duplicate row) for events in the loader's order.

    Exact copies share customer and timestamp, so in (customer, timestamp) order they sit in runs of
    tied rows: only rows tied with a neighbour are candidates. Among those, a 64-bit row hash narrows
    the candidates, and only rows whose hashes collide are compared exactly.
    """
    n = len(df)
    ts = df["timestamp"].to_numpy()
    tie = ~neighbours_differ(df["customer_id"]) & (ts[1:] == ts[:-1])
    cand = np.zeros(n, dtype=bool)
    cand[1:] |= tie
    cand[:-1] |= tie
    dup = np.zeros(n, dtype=bool)
    rows = np.flatnonzero(cand)
    if len(rows):
        h = pd.util.hash_pandas_object(df.iloc[rows], index=False).to_numpy()
        rows = rows[pd.Series(h).duplicated(keep=False).to_numpy()]
        dup[rows] = df.iloc[rows].duplicated(keep="first").to_numpy()
    return dup


def dates_only(timestamps) -> bool:
    """Whether every timestamp falls on midnight: a log of dates without a time of day (CDNOW, weekly exports).

    There two rows alike in every column may be two real events of one day (two orders of the same amount),
    so the loader keeps exact duplicates of such a log (:func:`_dedupe`).

    Parameters
    ----------
    timestamps : array-like of datetime64
        The log's timestamps (missing ones are ignored).

    Returns
    -------
    bool
        True when there is at least one timestamp and every one is at 00:00:00.

    Examples
    --------
    >>> dates_only(pd.to_datetime(["2025-01-01", "2025-01-08"])), dates_only(pd.to_datetime(["2025-01-01 09:30"]))
    (True, False)
    """
    ts = pd.Series(timestamps).dropna()
    return bool(len(ts)) and bool((ts.to_numpy().astype("datetime64[ns]").astype(np.int64) % 86_400_000_000_000 == 0).all())


def _dedupe(df: pd.DataFrame, keep_duplicates: bool, file: str) -> pd.DataFrame:
    """Drop exact duplicate rows (export artefacts) unless kept: asked, or a log of dates only."""
    dup = _duplicated(df)
    n = int(dup.sum())
    keep = keep_duplicates or (n > 0 and dates_only(df["timestamp"]))
    if n and not keep:
        warnings.warn(f"{file}: dropped {n:,} exact duplicate row(s) (keep_duplicates=True keeps them)",
                      DataWarning, stacklevel=3)
        df = df.loc[~dup].reset_index(drop=True)
    df.attrs["duplicates"] = n
    df.attrs["duplicates_dropped"] = 0 if keep else n
    df.attrs["duplicates_kept"] = n if keep and not keep_duplicates else 0  # kept because dates only
    return df
