"""Timestamp columns to timezone-naive UTC, with one day/month order for the whole column.

The loaders (:mod:`cjlib.io`) parse every timestamp column here. A value such as ``02/01/2025`` reads as
2 January or 1 February; pandas and dateutil decide that row by row, so a column mixes both orders
without a word. Here the order is decided once per column: a value whose first field is above 12
(``25/01/2025``) proves the column day-first, one whose second field is above 12 proves it month-first;
proof of both, or of neither while some value reads two ways, raises :class:`cjlib.DataError` and the
user names the order with ``timestamp_format``.

``timestamp_format`` is ``None`` (decide from the data), ``"dayfirst"``, ``"monthfirst"`` or a strftime
format (``"%d/%m/%Y %H:%M:%S"``) that every text value must match.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from cjlib.errors import DataError, row_examples

__all__ = ["parse_timestamps", "check_timestamp_format", "ORDERS"]

ORDERS = ("dayfirst", "monthfirst")
# day and month (either order), then the year (4 or 2 digits), then anything (a time, an offset)
_DAY_MONTH_NAMED = r"^\s*(?P<a>\d{1,2})[/.\-](?P<b>\d{1,2})[/.\-](?P<y>\d{4}|\d{2})(?P<rest>\D.*)?$"
_HOW = ("set timestamp_format to dayfirst, monthfirst or a strftime format such as '%d/%m/%Y %H:%M:%S' "
        "(in the column mapping, e.g. columns: {events: {timestamp_format: dayfirst}}, or "
        "timestamp_format= of the loaders)")


def check_timestamp_format(value: object, file: str | None = None) -> str | None:
    """``value`` if it is a valid ``timestamp_format`` (``None``, ``"dayfirst"``, ``"monthfirst"`` or a
    strftime format holding ``%``), else :class:`DataError` (rule ``timestamp_format``).

    Parameters
    ----------
    value : object
        The requested format.
    file : str, optional
        The file named in the error.

    Returns
    -------
    str or None
        ``"dayfirst"``/``"monthfirst"`` (lower-cased), the strftime format as given, or ``None`` for
        ``None`` or blank text.

    Examples
    --------
    >>> check_timestamp_format("dayfirst"), check_timestamp_format("%d/%m/%Y"), check_timestamp_format("")
    ('dayfirst', '%d/%m/%Y', None)
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and (value.strip().lower() in ORDERS or "%" in value):
        return value.strip().lower() if value.strip().lower() in ORDERS else value
    raise DataError(f"timestamp_format must be dayfirst, monthfirst or a strftime format such as "
                    f"'%d/%m/%Y %H:%M:%S', got {value!r}", file=file, parameter="timestamp_format",
                    rule="timestamp_format")


def parse_timestamps(raw: pd.Series, *, timestamp_format: str | None = None, file: str | None = None,
                     column: str = "timestamp") -> pd.Series:
    """Parse a timestamp column to timezone-naive UTC.

    Offsets and time zones are converted to UTC and dropped; naive values are taken to be UTC; integer
    epochs are read in s, ms, us or ns by their magnitude, one unit for the whole column (values of two
    units' ranges raise :class:`DataError`, rule ``consistent_timestamp``: :func:`_epoch_unit`); day/month
    text follows one order for the whole column (see the module). A missing or unparseable value raises
    :class:`DataError` (rule ``parseable_timestamp``) naming ``file``, ``column`` and up to five rows.

    Parameters
    ----------
    raw : Series
        Text, numbers (epochs) or datetimes (with or without a time zone).
    timestamp_format : str, optional
        ``"dayfirst"``, ``"monthfirst"`` or a strftime format (checked by :func:`check_timestamp_format`);
        by default the day/month order is inferred from the values.
    file : str, optional
        The file named in errors.
    column : str, default "timestamp"
        The column named in errors.

    Returns
    -------
    Series of datetime64
        Naive UTC times, indexed like ``raw``.

    Examples
    --------
    >>> s = pd.Series(["02/01/2025 08:00", "25/01/2025 09:30"])
    >>> parse_timestamps(s).dt.strftime("%Y-%m-%d").tolist()  # 25/01 proves the column day-first
    ['2025-01-02', '2025-01-25']
    >>> parse_timestamps(pd.Series(["02/01/2025"]), timestamp_format="monthfirst").iloc[0]
    Timestamp('2025-02-01 00:00:00')
    """
    return _parse(raw, check_timestamp_format(timestamp_format, file), file, column)


def _parse(raw: pd.Series, fmt: str | None, file: str | None, column: str, unit: str | None = None) -> pd.Series:
    """:func:`parse_timestamps` with a checked format and, for epochs, the unit when the caller decided it
    over more than this column's values (a Dask run: :func:`_epoch_unit` over every file)."""
    s = raw
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        parsed = s.dt.tz_convert("UTC").dt.tz_localize(None)
    elif pd.api.types.is_datetime64_dtype(s.dtype):
        parsed = s
    elif _is_epoch(s, fmt):
        unit = unit or _epoch_unit([_epoch_evidence(s, column)], file, column)
        parsed = pd.to_datetime(s, unit=unit, errors="coerce")
    else:
        text = _as_text(s)
        with warnings.catch_warnings():  # "could not infer format" is expected for mixed inputs
            warnings.simplefilter("ignore", UserWarning)
            if fmt is not None and fmt not in ORDERS:
                parsed = pd.to_datetime(text, format=fmt, utc=True, errors="coerce")
            else:
                text = _day_month_to_iso(text, fmt, file, column)
                parsed = pd.to_datetime(text, utc=True, errors="coerce")
                retry = parsed.isna() & text.notna()
                if retry.any():  # mixed formats: parse the stragglers one format at a time
                    again = pd.to_datetime(text[retry], utc=True, errors="coerce", format="mixed")
                    # in the first pass's unit: nanosecond stragglers among whole seconds lose what is below it
                    parsed.loc[retry] = again.astype(parsed.dtype) if again.dtype != parsed.dtype else again
        parsed = parsed.dt.tz_localize(None)
    bad = parsed.isna().to_numpy()
    if bad.any():
        how = f" with timestamp_format {fmt!r}" if fmt else ""
        raise DataError(f"{int(bad.sum()):,} value(s) are missing or not a date/time{how}", file=file,
                        column=column, rule="parseable_timestamp",
                        examples=row_examples(raw.to_frame(column), bad, [column]))
    return parsed


def _as_text(s: pd.Series) -> pd.Series:
    """Values as strings (integers without a decimal point, so ``20250102`` meets ``%Y%m%d``)."""
    if pd.api.types.is_float_dtype(s.dtype) and bool(((s.dropna() % 1) == 0).all()):
        s = s.astype("Int64")
    return s.astype("string")


def _extract(text: pd.Series):
    """The four fields of :data:`_DAY_MONTH_NAMED` in each value (an Arrow struct array, null where a value does
    not match), by Arrow's vectorized regex (pandas would loop over the rows in Python)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(text.to_numpy(dtype=object, na_value=None), type=pa.large_string())
    return pc.extract_regex(arr, _DAY_MONTH_NAMED)


def _day_month_to_iso(text: pd.Series, order: str | None, file: str | None, column: str) -> pd.Series:
    """``text`` with every ``dd/mm/yyyy``-like value (slash, dot or dash) rewritten as ISO ``yyyy-mm-dd``
    in the one order the column proves (or ``order`` gives); other values unchanged."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = _extract(text)
    ok = found.is_valid().to_numpy(zero_copy_only=False)
    if not ok.any():
        return text
    found = found.filter(pa.array(ok))
    a, b, y = (pc.cast(found.field(g), pa.int64()).to_numpy() for g in ("a", "b", "y"))
    if order is None:
        order = _decide_order(text[ok], a, b, file, column)
    day, month = (a, b) if order == "dayfirst" else (b, a)
    two_digit = pc.utf8_length(found.field("y")).to_numpy() == 2
    year = np.where(two_digit, np.where(y < 69, 2000 + y, 1900 + y), y)
    valid = (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)

    def field(v: np.ndarray, width: int):
        return pc.utf8_lpad(pc.cast(pa.array(v), pa.large_string()), width=width, padding="0")

    date = pc.binary_join_element_wise(field(year, 4), field(month, 2), field(day, 2), pa.scalar("-", pa.large_string()))
    iso = pc.binary_join_element_wise(date, pc.fill_null(found.field("rest"), ""), pa.scalar("", pa.large_string()))
    iso = pd.Series(iso.to_numpy(zero_copy_only=False), index=text.index[ok], dtype="string")
    iso[~valid] = pd.NA  # no such month or day: reported as unparseable, with the value as written
    out = text.copy()
    out.loc[iso.index] = iso
    return out


def _decide_order(values: pd.Series, a: np.ndarray, b: np.ndarray, file: str | None, column: str) -> str:
    """The day/month order the values prove, or :class:`DataError` when they prove both or neither."""
    day_first = (a > 12) & (a <= 31) & (b <= 12)
    month_first = (b > 12) & (b <= 31) & (a <= 12)
    frame = values.rename(column).to_frame()
    if day_first.any() and month_first.any():
        ex = row_examples(frame, day_first, [column], 2) + row_examples(frame, month_first, [column], 2)
        raise DataError(f"the column mixes day-first values (day above 12 first, {int(day_first.sum()):,} "
                        f"row(s)) and month-first values ({int(month_first.sum()):,} row(s)); {_HOW}",
                        file=file, column=column, rule="consistent_timestamp", examples=ex)
    if day_first.any():
        return "dayfirst"
    if month_first.any():
        return "monthfirst"
    two_ways = (a <= 12) & (b <= 12) & (a != b)
    if two_ways.any():
        raise DataError(f"day/month order cannot be told: {int(two_ways.sum()):,} value(s) read as a date either "
                        f"way and none has a day above 12; {_HOW}", file=file, column=column,
                        rule="ambiguous_timestamp", examples=row_examples(frame, two_ways, [column], 3))
    return "dayfirst"  # day == month, or no such date (reported as unparseable): the order changes nothing


# ================================================================================================ epochs
# the magnitude (absolute value) range of each unit's epochs: up to 1e11 seconds (the year 5138), then
# milliseconds, microseconds, nanoseconds. A value of one range read in a larger unit lands before March
# 1973; in a smaller one, past the year 2262 that pandas holds.
EPOCH_UNITS = ("s", "ms", "us", "ns")
_EPOCH_BOUNDS = np.array([1e11, 1e14, 1e17])
_EPOCH_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
_EPOCH_RANGES = {"s": "up to 1e11", "ms": "1e11 to 1e14", "us": "1e14 to 1e17", "ns": "above 1e17"}


def _is_epoch(s: pd.Series, fmt: str | None) -> bool:
    """Whether a column is read as epochs: numbers (not booleans), with no strftime format given."""
    return (pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
            and not isinstance(s.dtype, pd.DatetimeTZDtype) and not pd.api.types.is_datetime64_dtype(s.dtype)
            and (fmt is None or fmt in ORDERS))


def _epoch_evidence(s: pd.Series, column: str = "timestamp") -> dict:
    """Per unit, the values of ``s`` in its magnitude range: (count, the first two rows as examples, labelled
    by ``s``'s index). Missing values count in none. A Dask worker sends this for its file, and
    :func:`_epoch_unit` decides over every file's."""
    values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    seen = np.isfinite(values)  # missing and infinite values are reported as unparseable
    which = np.searchsorted(_EPOCH_BOUNDS, np.abs(values), side="left")  # 0: <= 1e11 (s), ... 3: > 1e17 (ns)
    out = {}
    for i, unit in enumerate(EPOCH_UNITS):
        m = seen & (which == i)
        first = np.flatnonzero(m)[:2]
        # an integral value is shown as an integer whatever the file's type (a CSV file with a gap reads floats)
        out[unit] = (int(m.sum()), [f"row {s.index[j]}: {column}="
                                    f"{int(values[j]) if values[j] % 1 == 0 else float(values[j])!r}" for j in first])
    return out


def _epoch_unit(evidence: list, file: str | None, column: str = "timestamp") -> str:
    """The one unit of a column's epochs (``evidence``: :func:`_epoch_evidence` per file, in file order):
    the unit whose range holds every value; values in the ranges of two units or more raise
    :class:`DataError` (rule ``consistent_timestamp``), counted over every file, with the first two rows
    of each unit as examples. No value at all: seconds (the missing values are reported as unparseable)."""
    n = {u: sum(e[u][0] for e in evidence) for u in EPOCH_UNITS}
    found = [u for u in EPOCH_UNITS if n[u]]
    if len(found) > 1:
        parts = [f"{n[u]:,} {'value(s) ' if not k else ''}in the range of {_EPOCH_NAMES[u]} ({_EPOCH_RANGES[u]})"
                 for k, u in enumerate(found)]
        examples = [x for u in found for x in [y for e in evidence for y in e[u][1]][:2]]
        raise DataError(f"the column mixes epoch units: {' and '.join(parts)}; no one unit reads them all as "
                        f"dates: write every value in one unit", file=file, column=column,
                        rule="consistent_timestamp", examples=examples[:5])
    return found[0] if found else "s"
