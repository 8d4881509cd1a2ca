"""The loaded log's order (customer, timestamp, input order) and its categoricals, with cheap checks."""

from __future__ import annotations

import weakref

import numpy as np
import pandas as pd


def _arrow(values: pd.Series):
    """The pyarrow array behind an Arrow-backed Series (pandas' default ``str``), else ``None``."""
    return getattr(values.array, "_pa_array", None)


# [weak reference to an Arrow array, its neighbours_differ, whether it is non-decreasing (None: not asked)]
_ID_STRUCTURE: list[list] = []
_ID_STRUCTURE_SIZE = 64  # a Dask worker holds several partitions, each with its own id array


def _arrow_structure(arr, order: bool = False) -> tuple[np.ndarray, bool | None]:
    """``(arr[i + 1] != arr[i], arr is non-decreasing)`` for a null-free Arrow array, memoized.

    Arrow arrays are immutable, so the answer for one array object never changes; the most recent answers
    (up to ``_ID_STRUCTURE_SIZE``) are kept by weak reference (the loader computes them, so every analysis
    on a loaded log skips the string comparisons). Order is worked out only when ``order`` asks for it, and
    only where neighbours differ.
    """
    _ID_STRUCTURE[:] = [e for e in _ID_STRUCTURE if e[0]() is not None]
    entry = next((e for e in _ID_STRUCTURE if e[0]() is arr), None)
    if entry is None:
        import pyarrow.compute as pc

        n = len(arr)
        differ = pc.not_equal(arr.slice(1), arr.slice(0, n - 1)).to_numpy(zero_copy_only=False)
        differ.flags.writeable = False
        entry = [weakref.ref(arr), differ, None]
        _ID_STRUCTURE.insert(0, entry)
        del _ID_STRUCTURE[_ID_STRUCTURE_SIZE:]
    if order and entry[2] is None:
        import pyarrow.compute as pc

        at = np.flatnonzero(entry[1])
        entry[2] = not pc.any(pc.less(arr.take(at + 1), arr.take(at))).as_py() if len(at) else True
    return entry[1], entry[2]


def neighbours_differ(values: pd.Series) -> np.ndarray:
    """``values[i + 1] != values[i]`` for each i, as a bool array of length ``len(values) - 1``.

    Arrow-backed strings are compared by Arrow's vectorized kernels, ten times faster than hashing them,
    and the answer is memoized per (immutable) Arrow array. The result may be read-only.

    Parameters
    ----------
    values : Series
        Any Series (an Arrow-backed string one without nulls takes the fast path).

    Returns
    -------
    ndarray of bool
        ``True`` where a value differs from the one before it (empty for fewer than two values).

    Examples
    --------
    >>> neighbours_differ(pd.Series(["a", "a", "b", "a"])).tolist()
    [False, True, True]
    """
    n = len(values)
    if n < 2:
        return np.zeros(0, dtype=bool)
    arr = _arrow(values)
    if arr is not None and arr.null_count == 0:
        return _arrow_structure(arr)[0]
    v = values.to_numpy()
    return v[1:] != v[:-1]


def _is_sorted(events: pd.DataFrame) -> bool:
    """Whether rows are ordered by (customer_id, timestamp) with a 0..n-1 RangeIndex (one linear pass)."""
    idx = events.index
    if not (isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1):
        return False
    ids = events["customer_id"]
    if len(ids) < 2:
        return True
    arr = _arrow(ids)
    if arr is not None:
        if arr.null_count:
            return False
        differ, ascending = _arrow_structure(arr, order=True)
        if not ascending:
            return False
    else:
        if ids.isna().any():
            return False
        v = ids.to_numpy()
        try:
            if (v[1:] < v[:-1]).any():
                return False
        except TypeError:  # ids of mixed types: let the sort decide
            return False
        differ = v[1:] != v[:-1]
    ts = events["timestamp"].to_numpy()
    return not ((ts[1:] < ts[:-1]) & ~differ).any()


def ensure_sorted(events: pd.DataFrame) -> pd.DataFrame:
    """Return ``events`` ordered by (customer_id, timestamp, current row order) with a fresh RangeIndex.

    Stable: rows with equal customer and timestamp keep their order. Returns the frame itself when it
    is already in that order (checked in one linear pass, without sorting).

    Parameters
    ----------
    events : DataFrame
        With ``customer_id`` and ``timestamp`` columns.

    Returns
    -------
    DataFrame
        ``events`` itself when already sorted, else a sorted copy (``attrs`` kept).
    """
    if _is_sorted(events):
        return events
    cust_codes, uniques = pd.factorize(events["customer_id"], sort=False)
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[pd.Index(uniques).argsort()] = np.arange(len(uniques))  # each customer's place in sorted order
    order = np.lexsort((events["timestamp"].to_numpy(), rank[cust_codes]))  # stable: ties keep row order
    attrs = dict(events.attrs)
    out = events.iloc[order].reset_index(drop=True)
    out.attrs.update(attrs)
    return out


def categories_used(values: pd.Series) -> np.ndarray:
    """For a categorical Series, whether each of its categories occurs (a bool per category; missing
    values count for none), without hashing the rows.

    Parameters
    ----------
    values : Series
        A categorical Series.

    Returns
    -------
    ndarray of bool
        One flag per category, in the order of ``values.cat.categories``.

    Examples
    --------
    >>> categories_used(pd.Series(["b", None], dtype=pd.CategoricalDtype(["a", "b"]))).tolist()
    [False, True]
    """
    n_cats = len(values.cat.categories)
    codes = values.cat.codes.to_numpy()
    if codes.dtype.itemsize <= 2:  # count codes directly; -1 (missing) lands past the categories
        return np.bincount(codes.view(f"u{codes.dtype.itemsize}"), minlength=n_cats)[:n_cats] > 0
    used = np.zeros(n_cats, dtype=bool)
    u = pd.unique(codes)
    used[u[u >= 0]] = True
    return used


def _as_category(values: pd.Series) -> pd.Series:
    """``values.astype("category")``: categories sorted, only values present. A column the reader already
    dictionary-encoded is re-ordered through its (few) categories instead of re-encoding every row."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype("category")
    cats = values.cat.categories
    codes = values.cat.codes.to_numpy()
    used = categories_used(values)
    try:
        keep = cats[used].sort_values()
    except TypeError:  # categories of mixed types
        return values.astype(object).astype("category")
    if keep.equals(cats):
        return values
    lut = np.full(len(cats) + 1, -1, dtype=codes.dtype)  # the last slot maps code -1 to -1
    lut[cats.get_indexer(keep)] = np.arange(len(keep))
    cat = pd.Categorical.from_codes(lut[codes], dtype=pd.CategoricalDtype(keep), validate=False)
    return pd.Series(cat, index=values.index, name=values.name)
