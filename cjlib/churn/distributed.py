"""The churn steps on a log shuffled by customer (:class:`cjlib.engine.Partitioned`).

Every churn step that reads the events is per customer — labels, features at a cutoff, the BG/NBD and
spend summaries, the gaps between active days, who was active in a window — so its pandas function runs
as a kernel on each partition of complete customers (:func:`cjlib.engine.run`) and the report process
only merges the per-customer rows (sorted by ``customer_id``, as the pandas functions sort them) or sums
counts. The models, BG/NBD and Gamma-Gamma are then fitted on those tables by the same code as in
process, so a Partitioned log gives the loaded frame's results. What the kernels cannot see from one
partition — the first and last event, which events and channels occur before a cutoff — comes from
:func:`facts`, gathered once per log.
"""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from cjlib.engine.core import Partitioned, _log_wide, run
from cjlib.errors import DataError
from cjlib.partitioned import columns, is_partitioned

__all__ = ["LogFacts", "any_between", "check_columns", "columns", "facts", "gap_counts", "is_partitioned",
           "merge_features", "per_customer", "percentile_of_counts", "release_memory", "run"]


def release_memory(events=None) -> None:
    """Give the memory a churn step freed back to the system, when ``events`` is a Partitioned log.

    Merging the partitions' per-customer rows and scoring 380,000 customers free hundreds of MB in many
    pieces; glibc's heap and pyarrow's pool keep such pieces for reuse, so the report process's resident
    set would stay at the step's peak and every later step would start from there. After a step this
    collects Python's garbage, then returns pyarrow's unused pool memory and trims the C heap
    (``malloc_trim``, glibc only). It changes no number. With a loaded frame it does nothing: that
    process holds the whole log anyway, and the in-process run keeps its speed.

    Parameters
    ----------
    events : DataFrame or Partitioned, optional
        The step's log (``None``: release in any case).
    """
    if events is not None and not is_partitioned(events):
        return
    gc.collect()
    try:
        import pyarrow

        pyarrow.default_memory_pool().release_unused()
    except ImportError:  # pragma: no cover - pandas' string columns bring pyarrow
        pass
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # another C library (musl): nothing to trim
            pass


def check_columns(events, required: Sequence[str] = ("customer_id", "timestamp", "event")) -> None:
    """:func:`cjlib.validation.check_events` for a Partitioned log: the first required column it lacks is a
    ``DataError`` (rule ``missing_column``).

    Parameters
    ----------
    events : DataFrame or Partitioned
    required : sequence of str, default the event log's three required columns
    """
    have = set(columns(events))
    for col in required:
        if col not in have:
            raise DataError("required column is missing", column=col, rule="missing_column")


@dataclass(frozen=True)
class LogFacts:
    """What one partition cannot know: the log's size and span, and when each event and channel first occurs.

    Attributes
    ----------
    n_rows : int
    first, last : Timestamp
        The first and last event (NaT for an empty log).
    event_first : dict
        Event name (str) → its first timestamp.
    channel_first : dict or None
        Channel (str) → its first timestamp; None when the log has no ``channel`` column.
    """

    n_rows: int
    first: pd.Timestamp
    last: pd.Timestamp
    event_first: dict
    channel_first: dict | None

    def events_before(self, cut: pd.Timestamp | None = None) -> set[str]:
        """Names of the events that occur (before ``cut`` when given)."""
        return {e for e, t in self.event_first.items() if cut is None or t < cut}

    def channels_before(self, cut: pd.Timestamp) -> list[str] | None:
        """The channels seen before ``cut``, sorted (None without a channel column)."""
        if self.channel_first is None:
            return None
        return sorted(c for c, t in self.channel_first.items() if t < cut)


def _first_seen(part: pd.DataFrame, col: str) -> dict:
    if len(part) == 0:
        return {}
    g = part.groupby(col, sort=False, observed=True)["timestamp"].min()  # missing values are not a group
    return {str(k): pd.Timestamp(v) for k, v in g.items()}


def _facts_of(part: pd.DataFrame) -> tuple:
    ts = part["timestamp"]
    n = len(part)
    return (n, pd.Timestamp(ts.min()) if n else pd.NaT, pd.Timestamp(ts.max()) if n else pd.NaT,
            _first_seen(part, "event"), _first_seen(part, "channel") if "channel" in part.columns else None)


def _earliest(dicts: list[dict]) -> dict:
    out: dict = {}
    for d in dicts:
        for k, t in d.items():
            out[k] = t if k not in out else min(out[k], t)
    return out


_FACTS: dict[int, tuple] = {}  # id(Partitioned) → (weak reference, LogFacts): a persisted log never changes


def facts(events: Partitioned) -> LogFacts:
    """The :class:`LogFacts` of a Partitioned log (one pass over the partitions, then remembered).

    Parameters
    ----------
    events : Partitioned

    Returns
    -------
    LogFacts
    """
    key = id(events)
    hit = _FACTS.get(key)
    if hit is not None and hit[0]() is events:
        return hit[1]
    parts = _log_wide(events, _facts_of)
    firsts = [p[1] for p in parts if p[0]]
    lasts = [p[2] for p in parts if p[0]]
    chans = [p[4] for p in parts if p[4] is not None]
    out = LogFacts(n_rows=int(sum(p[0] for p in parts)), first=min(firsts) if firsts else pd.NaT,
                   last=max(lasts) if lasts else pd.NaT, event_first=_earliest([p[3] for p in parts]),
                   channel_first=_earliest(chans) if "channel" in columns(events) else None)
    _FACTS[key] = (weakref.ref(events, lambda _ref, k=key: _FACTS.pop(k, None)), out)
    return out


def _any_between(part: pd.DataFrame, start, end) -> bool:
    ts = part["timestamp"]
    return bool(((ts >= start) & (ts < end)).to_numpy().any())


def any_between(events: Partitioned, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    """Whether any event falls in ``[start, end)`` (one pass over the timestamps).

    Parameters
    ----------
    events : Partitioned
    start, end : Timestamp

    Returns
    -------
    bool
    """
    return any(_log_wide(events, partial(_any_between, start=start, end=end)))


def per_customer(events: Partitioned, kernel: Callable[..., pd.DataFrame | pd.Series], **kw):
    """Run a per-customer kernel on every partition; its rows for all customers, sorted by ``customer_id``.

    Parameters
    ----------
    events : Partitioned
    kernel : callable
        ``kernel(part, **kw)`` returning rows (a DataFrame or a named Series) indexed by ``customer_id``; a
        partition with no row returns an empty one with that index name.
    **kw
        Passed to ``kernel``.

    Returns
    -------
    DataFrame
        The partitions' rows in ``customer_id`` order (a Series kernel's values as the column of its name).
    """
    # The partitions' rows are concatenated and sorted by customer here, not by run(), which would also
    # put them in input order first: one full copy fewer at the merge's peak (~100 MB per 380,000
    # customers × 30 features). Every customer is in one partition, so the sorted rows are run()'s.
    if not is_partitioned(events):  # a pandas or Dask frame: run() shuffles it by customer first
        out = run(events, kernel, reduce="concat", **kw)
    else:
        parts = [p.to_frame() if isinstance(p, pd.Series) else p
                 for p in _log_wide(events, partial(_on_partition, kernel=kernel, kw=kw))]
        parts = [p for p in parts if len(p)] or parts[:1]
        out = pd.concat(parts) if len(parts) > 1 else parts[0]
        del parts
    out = out.sort_index(kind="stable")
    out.index.name = "customer_id"
    return out


def _on_partition(part: pd.DataFrame, *, kernel: Callable, kw: dict):
    """``kernel`` on one partition as :func:`cjlib.engine.run` gives it: without the private row column, with
    pandas' default string columns."""
    from cjlib.engine.core import _ROW, _plain_strings

    return kernel(_plain_strings(part.drop(columns=[_ROW])), **kw)


def merge_features(X: pd.DataFrame, *, channels: list[str] | None, other: list[str]) -> pd.DataFrame:
    """The partitions' feature rows with the columns :func:`cjlib.features.customer_features` gives the
    whole log: a channel or other event one partition never saw is 0 there, and those columns stand
    after ``furthest_stage`` in the in-process order (channels sorted by name, then the stage map's
    other events).

    Parameters
    ----------
    X : DataFrame
        The concatenated per-partition features (missing columns NaN).
    channels : list of str or None
        The channels seen before the cutoff, sorted (None: no channel column).
    other : list of str
        The stage map's other events seen before the cutoff, in its order.

    Returns
    -------
    DataFrame
    """
    from cjlib.features import feature_name

    share: list[str] = []
    for c in channels or ():
        col = f"channel_share_{feature_name(c)}"
        while col in share:
            col += "_"
        share.append(col)
    counts = [f"n_{feature_name(e)}" for e in other]
    fill = {c: 0.0 for c in share if c not in X.columns or X[c].isna().any()}
    fill.update({c: 0 for c in counts if c not in X.columns or X[c].isna().any()})
    if fill:
        X = X.assign(**{c: (X[c].fillna(v) if c in X.columns else v) for c, v in fill.items()})
        X = X.astype({c: np.int64 for c in counts if c in fill})
    base = [c for c in X.columns if c not in share and c not in counts]
    at = base.index("furthest_stage") + 1 if "furthest_stage" in base else len(base)
    order = base[:at] + share + counts + base[at:]
    return X if list(X.columns) == order else X[order]  # no copy of a table already in order


def gap_counts(part: pd.DataFrame, gaps: Callable[[pd.DataFrame], np.ndarray], **kw) -> pd.DataFrame:
    """How often each gap occurs in one partition, for a histogram summed over partitions.

    Parameters
    ----------
    part : DataFrame
        One partition of complete customers.
    gaps : callable
        ``gaps(part, **kw)``: the partition's gaps as an array (e.g. days between active days).
    **kw
        Passed to ``gaps``.

    Returns
    -------
    DataFrame
        Index ``gap`` (sorted distinct values), column ``count``.
    """
    v, n = np.unique(gaps(part, **kw), return_counts=True)
    return pd.DataFrame({"count": n.astype(np.int64)}, index=pd.Index(v, name="gap"))


def percentile_of_counts(values: np.ndarray, counts: np.ndarray, percentile: float) -> float:
    """``np.percentile(np.repeat(values, counts), percentile)`` (linear) without the repeated array.

    The same arithmetic as numpy's: the virtual index ``(n − 1)·q``, its floor and next
    neighbour, and numpy's two-sided linear interpolation, so the result is bit-for-bit numpy's.

    Parameters
    ----------
    values : ndarray
        Distinct values, sorted ascending.
    counts : ndarray
        How often each occurs (positive).
    percentile : float
        In [0, 100].

    Returns
    -------
    float
        NaN when there is no value.

    Examples
    --------
    >>> percentile_of_counts(np.array([1.0, 4.0, 9.0]), np.array([2, 1, 3]), 80)
    9.0
    >>> float(np.percentile([1.0, 1.0, 4.0, 9.0, 9.0, 9.0], 35)) == percentile_of_counts(
    ...     np.array([1.0, 4.0, 9.0]), np.array([2, 1, 3]), 35)
    True
    """
    n = int(np.sum(counts))
    if n == 0:
        return float("nan")
    q = np.true_divide(percentile, 100)
    virtual = (n - 1) * q  # numpy's virtual index for method "linear"
    prev = np.floor(virtual)
    nxt = prev + 1
    if virtual >= n - 1:
        prev = nxt = -1
    elif virtual < 0:
        prev = nxt = 0
    gamma = virtual - prev
    ends = np.cumsum(counts)  # value k covers sorted positions [ends[k-1], ends[k])

    def at(i) -> float:
        i = int(i) % n
        return values[int(np.searchsorted(ends, i, side="right"))]

    a, b = at(prev), at(nxt)
    diff = b - a
    return float(b - diff * (1 - gamma)) if gamma >= 0.5 else float(a + diff * gamma)
