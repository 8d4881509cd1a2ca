"""The engine's plumbing: where Dask runs (:func:`get_client`, :func:`run_on`, :func:`distribute`), the
shuffle of a log into partitions of complete, ordered customers (:func:`partition`, :func:`read_events`),
and :func:`run`, which calls a per-customer kernel once in process or on every partition and merges the
partial results (concatenated in the input's order, or summed)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cjlib import journeys as _jour
from cjlib.validation import check_choice

ENGINES = ("pandas", "dask")
REDUCES = ("concat", "sum")
_ROW = "__cj_row"    # global input position carried through the shuffle
_ORDER = "__cj_order"
_ROWS_PER_PARTITION = 1_500_000
_TASK_SHUFFLE_MAX_PARTITIONS = 64
_CLIENTS: dict[str, Any] = {}


# ============================================================================================== plumbing
def _is_dask(obj) -> bool:
    mod = type(obj).__module__
    return mod.startswith(("dask.", "dask_expr")) and hasattr(obj, "npartitions")


@dataclass(frozen=True)
class Partitioned:
    """An event log shuffled by ``customer_id`` and persisted: each partition holds complete customers
    in (customer_id, timestamp, input order), with the input position in a private column.

    Build it with :func:`partition`; every wrapper accepts it in place of ``events``, so the shuffle is
    paid once for several analyses.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        The ordered, persisted partitions.
    client : distributed.Client, optional
        The client they live on (None: Dask's default scheduler).
    n_rows : int, optional
        Rows of a pandas input.
    source_index : pandas.Index, optional
        A pandas input's index: per-event results come back on it.
    """

    ddf: Any  # dask.dataframe.DataFrame
    client: Any = None
    n_rows: int | None = None
    source_index: pd.Index | None = None  # a pandas input's index: per-event results come back on it

    @property
    def npartitions(self) -> int:
        """Partitions of the shuffled log."""
        return self.ddf.npartitions

    def __len__(self) -> int:
        """Rows of the log (known for a loaded or a pandas log; a Dask frame's rows are not counted)."""
        if self.n_rows is None:
            raise TypeError("the rows of a Partitioned log built from a Dask frame are not counted")
        return int(self.n_rows)

    @property
    def columns(self) -> pd.Index:
        """The log's columns (as the loaded frame has them; the private row position left out)."""
        return self.ddf.columns.drop(_ROW, errors="ignore")


def get_client(client=None, address: str | None = None):
    """The ``distributed.Client`` to use.

    Parameters
    ----------
    client : distributed.Client, optional
        Returned as it is when given.
    address : str, optional
        A scheduler address such as ``"tcp://10.0.0.5:8786"``: a client is opened for it once and reused.

    Returns
    -------
    distributed.Client or None
        ``client``, else the one for ``address``, else the active client, else ``None`` (Dask's default
        scheduler).

    Examples
    --------
    >>> get_client(client="given")
    'given'
    """
    if client is not None:
        return client
    if address:
        if address not in _CLIENTS or _CLIENTS[address].status in ("closed", "closing"):
            from distributed import Client

            _CLIENTS[address] = Client(address)
        return _CLIENTS[address]
    try:
        from distributed import get_client as _active

        return _active()
    except (ImportError, ValueError):
        return None


def run_on(address: str | None = "") -> dict[str, str]:
    """The keyword arguments that send a wrapper to a Dask scheduler, from a notebook's ``dask_address``.

    Parameters
    ----------
    address : str or None, default ""
        A scheduler address such as ``"tcp://10.0.0.5:8786"``; ``""`` (or only spaces, or None) means
        in process.

    Returns
    -------
    dict
        ``{}`` for in process (the wrappers then call the pandas functions themselves, unchanged), else
        ``{"engine": "dask", "address": address}`` (surrounding spaces removed). Pass it as ``**kwargs``
        to any wrapper; an empty address is never passed on, since any ``address`` means Dask.

    Raises
    ------
    ImportError
        An address is given but the ``dask`` extra (``dask[dataframe]``, ``distributed``) is not installed.
    TypeError
        ``address`` is not a string.

    Notes
    -----
    Nothing connects here: the first wrapper call opens (and caches) the client, so an unreachable
    scheduler fails at that call.

    Examples
    --------
    >>> run_on("")
    {}
    >>> run_on(" tcp://10.0.0.5:8786 ")
    {'engine': 'dask', 'address': 'tcp://10.0.0.5:8786'}
    """
    if address is not None and not isinstance(address, str):
        raise TypeError(f"address must be a str such as 'tcp://host:8786', got {type(address).__name__}")
    address = (address or "").strip()
    if not address:
        return {}
    _require_dask()  # a missing extra fails here, before any analysis runs
    try:
        import distributed  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("a Dask scheduler address needs the dask extra: pip install 'cjlib[dask]'") from exc
    return {"engine": "dask", "address": address}


def distribute(events, address: str | None = "", *, client=None, npartitions: int | None = None):
    """The event log the wrappers should work on, from a notebook's ``dask_address``.

    Parameters
    ----------
    events : pandas DataFrame or Partitioned
        The loaded event log.
    address : str or None, default ""
        A scheduler address such as ``"tcp://10.0.0.5:8786"``; ``""`` (or only spaces, or None) means
        in process.
    client, npartitions : optional
        As for :func:`partition`.

    Returns
    -------
    DataFrame or Partitioned
        ``events`` itself for an empty address or a :class:`Partitioned` log (what ``report.load`` gives a
        Dask run) (every wrapper then calls the pandas function on it,
        unchanged); else ``events`` sent to that scheduler once, shuffled by customer and persisted
        (:func:`partition`), so every wrapper call after it reuses one transfer and one shuffle.
        Per-event results come back on ``events.index`` either way.

    Raises
    ------
    ImportError, TypeError
        As :func:`run_on`. An unreachable scheduler fails here (Dask's connect timeout).

    Examples
    --------
    >>> from cjlib import synth
    >>> ev = synth.generate(50, seed=1).events
    >>> distribute(ev, "") is ev
    True
    """
    kw = run_on(address)
    if not kw or isinstance(events, Partitioned):  # a Dask run's log (report.load) is shuffled already
        return events
    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"events must be a pandas DataFrame, got {type(events).__name__}")
    return partition(events, client=client, address=kw["address"], npartitions=npartitions)


def _local_scheduler():
    """Dask's scheduler for work without a ``distributed`` client: the configured one, except a
    ``"dask.distributed"`` left in the configuration by a client that has since closed (Dask would then
    refuse to run: "no Client active"), which falls back to the threaded scheduler."""
    import dask

    chosen = dask.config.get("scheduler", None)
    return "threads" if chosen in ("dask.distributed", "distributed") else chosen


def _require_dask():
    try:
        import dask  # noqa: F401
        import dask.dataframe as dd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("engine='dask' needs the dask extra: pip install 'cjlib[dask]'") from exc
    return dd


def _number_rows(part: pd.DataFrame, partition_info=None) -> pd.DataFrame:
    """Tag rows with a global position: partition number in the high bits, row in the low bits."""
    k = 0 if partition_info is None else int(partition_info["number"])
    return part.assign(**{_ROW: (np.int64(k) << np.int64(40)) + np.arange(len(part), dtype=np.int64)})


_CATEGORICAL = ("event", "channel")  # few distinct values: shuffled and stored as categoricals


def _categorize(part: pd.DataFrame) -> pd.DataFrame:
    """``event`` and ``channel`` as categoricals with sorted categories, as :func:`cjlib.load_events`
    gives them (the shuffle then moves one-byte codes instead of strings)."""
    cats = {}
    for c in _CATEGORICAL:
        if c not in part.columns:
            continue
        dt = part[c].dtype
        if not isinstance(dt, pd.CategoricalDtype):
            cats[c] = part[c].astype("category")
        elif not dt.categories.is_monotonic_increasing:  # a union of partitions' categories
            cats[c] = part[c].cat.reorder_categories(dt.categories.sort_values())
    return part.assign(**cats) if cats else part


def _prepare_partition(part: pd.DataFrame, partition_info=None) -> pd.DataFrame:
    """Before the shuffle: the global row tag (:func:`_number_rows`) and the categoricals."""
    return _categorize(_number_rows(part, partition_info))


def _order_partition(part: pd.DataFrame) -> pd.DataFrame:
    """Inside a shuffled partition: the loader's order, (customer, timestamp, input position), by one
    sort and one take (event and channel are categoricals, so the take moves small codes)."""
    part = _categorize(part)
    cust, uniques = pd.factorize(part["customer_id"], sort=False)
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[pd.Index(uniques).argsort()] = np.arange(len(uniques))  # each customer's place in sorted order
    keys = (part[_ROW].to_numpy(), part["timestamp"].to_numpy(), rank[cust])
    if _in_order(*keys):  # a log read in the loader's order (sorted files): nothing to move
        return _plain_strings(part.reset_index(drop=True))
    order = np.lexsort(keys)
    # strings converted once here rather than in every call on the partition: the Arrow arrays then stay the
    # same objects across calls, so their memoized structure (customer starts, sorted check:
    # cjlib.io.neighbours_differ) is computed once per partition
    return _plain_strings(part.iloc[order].reset_index(drop=True))


def _in_order(*keys: np.ndarray) -> bool:
    """Whether rows are already in ``np.lexsort(keys)`` order (last key first) with no two rows equal on
    every key — then that order is the identity."""
    if len(keys[0]) < 2:
        return True
    later = np.zeros(len(keys[0]) - 1, dtype=bool)  # decided: this row comes after the previous one
    for key in reversed(keys):
        step = key[1:] - key[:-1] if key.dtype.kind != "M" else key[1:].view(np.int64) - key[:-1].view(np.int64)
        if (~later & (step < 0)).any():
            return False
        later |= step > 0
    return bool(later.all())


def _plain_strings(part: pd.DataFrame) -> pd.DataFrame:
    """Dask's ``string[pyarrow]`` columns (missing = NA) as pandas' default ``str`` (missing = NaN), the
    dtype :func:`cjlib.load_events` gives and the kernels expect."""
    nastr = {c: "str" for c, t in part.dtypes.items() if isinstance(t, pd.StringDtype) and t.na_value is pd.NA}
    return part.astype(nastr) if nastr else part


def _default_npartitions(n_rows: int, client) -> int:
    workers = len(client.scheduler_info().get("workers", {})) if client is not None else 2
    return max(workers, 2, math.ceil(n_rows / _ROWS_PER_PARTITION))


def partition(events, *, client=None, address: str | None = None, npartitions: int | None = None,
              persist: bool = True, shuffle_method: str | None = None) -> Partitioned:
    """Shuffle an event log by ``customer_id`` into partitions of complete, ordered customers.

    Parameters
    ----------
    events : pandas or Dask DataFrame, or Partitioned
        The event log (``customer_id``, ``timestamp``, ``event`` …). A pandas frame is sent to the
        cluster; a Dask frame (e.g. :func:`read_events`) stays where it is.
    client, address : optional
        Where to run (see :func:`get_client`).
    npartitions : int, optional
        Partitions after the shuffle; default max(2, workers, rows / 1.5 M) for a pandas frame and the
        input's partition count for a Dask frame.
    persist : bool, default True
        Keep the shuffled partitions in (cluster) memory.
    shuffle_method : {"tasks", "p2p"}, optional
        Dask's shuffle algorithm. Default: ``"tasks"`` up to 64 partitions (measured on 10 M events, 10
        partitions, 2 local workers: 5.0 s against 8.8 s for ``"p2p"``), Dask's default (``"p2p"``, which
        scales to many partitions and spills to disk) beyond.

    Returns
    -------
    Partitioned

    Notes
    -----
    No shuffle when the rows already come grouped (``shuffle_method`` and ``npartitions`` left to their
    defaults): a pandas frame sorted by customer (as :func:`cjlib.load_events` gives it) is cut at
    customer boundaries, and Dask partitions whose ids rise from one partition to the next (files exported
    sorted by customer) keep their rows, a customer cut between files moving whole to the first partition
    that holds it. Measured on the 10 M-event benchmark folder (11 files, 2 local workers): 1.2–1.5 s
    against 3.2 s with the shuffle. Anything else is shuffled.
    """
    if isinstance(events, Partitioned):
        return events
    dd = _require_dask()
    client = get_client(client, address)
    n_rows = None
    if isinstance(events, pd.DataFrame):
        n_rows = len(events)
        nparts = npartitions or _default_npartitions(n_rows, client)
        src = events.reset_index(drop=True)
        src = src.assign(**{_ROW: np.arange(len(src), dtype=np.int64)})
        grouped = shuffle_method is None and src["customer_id"].is_monotonic_increasing  # as load_events orders it
        if client is not None:  # send the pieces once, rather than embedding them in the task graph
            bounds = np.linspace(0, len(src), min(nparts, max(len(src), 1)) + 1).astype(int)
            if grouped:  # cut at the first row of a customer: the pieces hold complete customers
                bounds = src["customer_id"].searchsorted(src["customer_id"].to_numpy()[np.minimum(bounds, len(src) - 1)])
                bounds = np.r_[np.unique(bounds[:-1]), len(src)] if len(src) else np.zeros(2, int)
            futs = client.scatter([src.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:])])
            ddf = dd.from_delayed(futs, meta=src.iloc[:0], verify_meta=False)
        else:
            ddf = dd.from_pandas(src, npartitions=nparts)
            grouped = False
    elif _is_dask(events):
        nparts = npartitions or max(events.npartitions, 2)
        from dask.dataframe.utils import clear_known_categories

        meta = _prepare_partition(events._meta)
        meta = clear_known_categories(meta, cols=[c for c in _CATEGORICAL if c in meta.columns])
        ddf = events.map_partitions(_prepare_partition, meta=meta)
    else:
        raise TypeError(f"events must be a pandas or Dask DataFrame, got {type(events).__name__}")
    for col in ("customer_id", "timestamp", "event"):
        if col not in ddf.columns:
            raise ValueError(f"events must have a {col!r} column (columns: {list(ddf.columns)})")
    shuffled = None
    if n_rows is not None and grouped:
        shuffled = ddf
    elif n_rows is None and nparts == ddf.npartitions and shuffle_method is None:
        ddf, shuffled = _regrouped(ddf, client)  # files already sorted by customer: no shuffle
    if shuffled is None:
        if shuffle_method is None and max(nparts, ddf.npartitions) <= _TASK_SHUFFLE_MAX_PARTITIONS:
            shuffle_method = "tasks"
        shuffled = ddf.shuffle(on="customer_id", npartitions=nparts, shuffle_method=shuffle_method)
    meta = _order_partition(shuffled._meta)
    ordered = shuffled.map_partitions(_order_partition, meta=meta)
    if persist:
        ordered = _persist(ordered, client)
    return Partitioned(ordered, client, n_rows, events.index if isinstance(events, pd.DataFrame) else None)


def _persist(collection, client):
    """A Dask collection persisted on ``client``, or by Dask's local scheduler without one."""
    return client.persist(collection) if client is not None else collection.persist(scheduler=_local_scheduler())


def _sorted_run(part: pd.DataFrame) -> tuple:
    """A partition's place in a log sorted by customer: (rows, first id, last id, rows of the first id),
    or None when its ids are not in non-decreasing order (or one is missing)."""
    if not len(part):
        return (0, None, None, 0)
    codes, uniques = pd.factorize(part["customer_id"], sort=False)  # faster than comparing every row's text
    uniques = pd.Index(np.asarray(uniques))  # values, compared as the partitions will be (not category order)
    if codes[0] < 0 or (np.diff(codes) < 0).any() or not uniques.is_monotonic_increasing:
        return None  # a missing id (code -1) is first, or ids go back (a customer twice, or out of order)
    return (len(part), uniques[0], uniques[-1], int(np.searchsorted(codes, 0, side="right")))


def _regroup(part: pd.DataFrame, drop: int, *heads: pd.DataFrame) -> pd.DataFrame:
    """A partition without its first ``drop`` rows (a customer an earlier partition owns), with the first
    rows of the next partitions (its last customer's) appended."""
    if drop:
        part = part.iloc[drop:]
    return pd.concat([part, *heads], ignore_index=True) if heads else part.reset_index(drop=True)


def _head(part: pd.DataFrame, n: int) -> pd.DataFrame:
    return part.iloc[:n]


def _regroup_plan(runs: list) -> list[tuple[int, list[tuple[int, int]]]] | None:
    """For partitions in customer order (:func:`_sorted_run` of each): per partition, the rows to drop
    from its start and the (partition, rows) heads to append, so that every customer lives in the first
    partition holding it. None when a partition is unsorted or two overlap beyond one boundary customer."""
    if any(r is None for r in runs):
        return None
    filled = [k for k, r in enumerate(runs) if r[0]]
    for a, b in zip(filled, filled[1:]):
        if not runs[a][2] <= runs[b][1]:  # (``not`` also refuses ids that do not compare, such as NaN)
            return None
    plan = [(0, []) for _ in runs]
    owner = None  # (partition, customer) whose rows continue into the next partitions
    for k in filled:
        n, first, last, n_first = runs[k]
        drop = 0
        if owner is not None and first == owner[1]:
            drop = n_first
            plan[owner[0]][1].append((k, n_first))
            if n_first == n:  # the whole partition is that customer: it goes on
                plan[k] = (n, [])
                continue
        plan[k] = (drop, plan[k][1])
        owner = (k, last)
    return plan


def _regrouped(ddf, client):
    """``ddf`` (prepared, persisted) and its partitions of complete customers without a shuffle when the
    files are sorted by customer id (partition after partition): a customer at a boundary moves to the
    first partition holding it. ``(ddf, None)`` when they are not, so the caller shuffles the persisted
    frame."""
    import dask
    import dask.dataframe as dd

    ddf = _persist(ddf, client)
    plan = _regroup_plan(_log_wide(ddf, _sorted_run, client))
    if plan is None:
        return ddf, None
    parts = ddf.to_delayed()
    regrouped = [dask.delayed(_regroup, pure=True)(d, drop, *(dask.delayed(_head, pure=True)(parts[j], n)
                                                               for j, n in heads))
                 for d, (drop, heads) in zip(parts, plan)]
    return ddf, dd.from_delayed(regrouped, meta=ddf._meta, verify_meta=False)


def read_events(path: str, *, columns: Mapping[str, str] | None = None, client=None,
                address: str | None = None, **read_parquet_kwargs):
    """A Parquet event log (file, folder or glob — local or shared storage such as ``s3://``) as a
    Dask DataFrame for the ``engine="dask"`` wrappers.

    Validation beyond the column names and time zone is :func:`cjlib.load_events`'s job on data that fits in
    memory; run it on a sample first.

    Parameters
    ----------
    path : str
        A Parquet file, folder or glob every worker can read.
    columns : mapping, optional
        Column mapping from the contract's names to the file's (``{"customer_id": "user_pseudo_id"}``).
    client, address : optional
        The client to make active for the graph that follows (see :func:`get_client`).
    **read_parquet_kwargs
        Passed to :func:`dask.dataframe.read_parquet`.

    Returns
    -------
    dask.dataframe.DataFrame
        The log with the contract's column names and naive-UTC timestamps.
    """
    dd = _require_dask()
    get_client(client, address)  # make it the active client for the graph that follows
    ddf = dd.read_parquet(path, **read_parquet_kwargs)
    if columns:
        ddf = ddf.rename(columns={v: k for k, v in dict(columns).items()})
    ts = ddf._meta["timestamp"].dtype
    if isinstance(ts, pd.DatetimeTZDtype):
        ddf = ddf.assign(timestamp=ddf["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None))
    return ddf


# ================================================================================================= run
def _apply(part: pd.DataFrame, kernel: Callable, kwargs: dict, reduce: str):
    """Run ``kernel`` on one ordered partition and tag its output so the merge can restore order."""
    rows = part[_ROW].to_numpy()
    ev = _plain_strings(part.drop(columns=[_ROW]))  # a no-op on partition()'s output
    out = kernel(ev, **kwargs)
    if reduce == "sum" or len(ev) == 0:
        return out
    if isinstance(out, (pd.Series, pd.DataFrame)) and len(out) == len(ev) and out.index.equals(ev.index) \
            and out.index.name != "customer_id":
        return _PerEvent.of(out, rows)
    ids = None
    if isinstance(out, pd.DataFrame) and "customer_id" in out.columns:
        ids = out["customer_id"]
    elif out.index.name == "customer_id":
        ids = out.index
    if ids is not None:  # per customer: the customer's first input position
        starts = np.flatnonzero(_jour.customer_starts(ev))  # the partition is grouped by customer
        first = rows[starts]  # input position of its first row in (timestamp, input) order
        pos = pd.Index(ev["customer_id"].array.take(starts)).get_indexer(ids)
        out = out.copy() if isinstance(out, pd.DataFrame) else out.to_frame()
        out[_ORDER] = np.where(pos >= 0, first[np.maximum(pos, 0)], np.iinfo(np.int64).max)
    return out


@dataclass(frozen=True)
class _PerEvent:
    """A partition's per-event result with the global input positions of its rows, sent as runs of
    consecutive positions (``starts``, ``lengths``) when they are few — a partition of a log read in order
    is one or two runs — else sorted by position, with every row's position (``starts``, ``lengths``
    None), so that the caller's stable sort only merges one sorted run per partition."""

    values: Any  # Series or DataFrame on a RangeIndex
    starts: np.ndarray
    lengths: np.ndarray | None = None

    @classmethod
    def of(cls, out, rows: np.ndarray) -> _PerEvent:
        cut = np.flatnonzero(rows[1:] != rows[:-1] + 1) + 1
        values = out.reset_index(drop=True)
        if 2 * (len(cut) + 1) >= len(rows):  # a shuffled partition: sorted here, so the caller merges sorted runs
            order = np.argsort(rows, kind="stable")
            return cls(values.take(order).reset_index(drop=True), rows[order])
        bounds = np.r_[0, cut, len(rows)]
        return cls(values, rows[bounds[:-1]], np.diff(bounds))

    def positions(self) -> np.ndarray:
        """Every row's input position."""
        if self.lengths is None:
            return self.starts
        offsets = np.cumsum(self.lengths) - self.lengths
        return np.repeat(self.starts - offsets, self.lengths) + np.arange(int(self.lengths.sum()), dtype=np.int64)

    def indexed(self):
        """The values on their input positions."""
        return self.values.set_axis(pd.Index(self.positions()))

    def runs(self) -> tuple[np.ndarray, np.ndarray]:
        """(first, last) input position of each run of consecutive positions."""
        if self.lengths is None:
            return self.starts, self.starts
        return self.starts, self.starts + self.lengths - 1


def _per_event_merge(parts: list, original_index=None):
    """Per-event results of the partitions in the input's order: concatenated as they are when their runs
    already follow one another (a log read in order, not shuffled), else sorted by input position."""
    values = pd.concat([p.values for p in parts], ignore_index=True)
    firsts, lasts = (np.concatenate(x) for x in zip(*(p.runs() for p in parts)))
    if len(firsts) > 1 and not (firsts[1:] > lasts[:-1]).all():
        values = values.iloc[np.argsort(np.concatenate([p.positions() for p in parts]), kind="stable")]
    values.index = original_index if original_index is not None else pd.RangeIndex(len(values))
    return values


def _sum_reduce(parts: list) -> pd.DataFrame | pd.Series:
    parts = [p for p in parts if p is not None and len(p)]
    if not parts:
        return None
    cat = pd.concat(parts)
    levels = list(range(cat.index.nlevels))
    return cat.groupby(level=levels, sort=True, observed=True).sum()


def _concat_reduce(parts: list, original_index=None):
    parts = [p for p in parts if p is not None]
    if any(isinstance(p, _PerEvent) for p in parts):
        if all(isinstance(p, _PerEvent) or not len(p) for p in parts):
            return _per_event_merge([p for p in parts if isinstance(p, _PerEvent)], original_index)
        # per-customer rows that happened to match a partition's events one for one: merged as before
        parts = [p.indexed() if isinstance(p, _PerEvent) else p for p in parts]
    nonempty = [p for p in parts if len(p)] or parts[:1]
    if isinstance(nonempty[0], pd.DataFrame) and len(nonempty) > 1:
        # a column a partition lacks (a channel it never saw) → union of columns, first-seen order
        cols = list(dict.fromkeys(c for p in nonempty for c in p.columns))
        if any(list(p.columns) != cols for p in nonempty):
            nonempty = [p.reindex(columns=cols) for p in nonempty]
    out = pd.concat(nonempty)
    if isinstance(out, pd.DataFrame) and _ORDER in out.columns:
        order = np.argsort(out[_ORDER].to_numpy(), kind="stable")
        out = out.iloc[order].drop(columns=[_ORDER])
        if isinstance(out.index, pd.RangeIndex) or out.index.name != "customer_id":
            out = out.reset_index(drop=True)
        return out
    order = np.argsort(out.index.to_numpy(), kind="stable")  # per event: input order
    out = out.iloc[order]
    out.index = original_index if original_index is not None else pd.RangeIndex(len(out))
    return out


def run(
    events,
    kernel: Callable,
    *,
    engine: str = "pandas",
    client=None,
    address: str | None = None,
    npartitions: int | None = None,
    reduce: str = "concat",
    **kwargs,
):
    """Run a per-customer kernel on the whole log (pandas) or on customer-shuffled Dask partitions.

    Parameters
    ----------
    events : pandas DataFrame, Dask DataFrame or Partitioned
        A Dask frame or a :class:`Partitioned` implies ``engine="dask"``.
    kernel : callable
        ``kernel(events, **kwargs)`` on a frame of complete customers in (customer, timestamp, input)
        order. It returns per-event values (a Series/DataFrame aligned with the frame's index),
        per-customer rows (indexed by ``customer_id`` or with a ``customer_id`` column) or, with
        ``reduce="sum"``, additive counts indexed by what they count.
    engine : {"pandas", "dask"}, default "pandas"
    client, address : optional
        Where Dask runs (see :func:`get_client`); either implies ``engine="dask"``.
    npartitions : int, optional
        Partitions of the shuffle (see :func:`partition`).
    reduce : {"concat", "sum"}, default "concat"
        ``"concat"``: partial results are concatenated and put in the input's order (per-event results
        by row, per-customer results by each customer's first row). ``"sum"``: partial counts are
        summed by index (sorted).
    **kwargs
        Passed to ``kernel``.

    Returns
    -------
    object
        The kernel's result for the whole log. With ``engine="pandas"`` the kernel runs once on ``events``
        as given (``reduce="sum"`` additionally sorts and sums by index, like the Dask merge).

    Examples
    --------
    >>> from cjlib import journeys, synth
    >>> ev = synth.generate(40, seed=2).events
    >>> run(ev, journeys.stage_reached, engine="dask").equals(journeys.stage_reached(ev))
    True
    """
    check_choice("engine", engine, ENGINES)
    check_choice("reduce", reduce, REDUCES)
    use_dask = (engine == "dask" or isinstance(events, Partitioned) or _is_dask(events)
                or client is not None or address is not None)
    if not use_dask:
        if not isinstance(events, pd.DataFrame):
            raise TypeError(f"events must be a DataFrame, got {type(events).__name__}")
        out = kernel(events, **kwargs)
        return _sum_reduce([out]) if reduce == "sum" else out
    import dask

    original_index = events.index if isinstance(events, pd.DataFrame) else (
        events.source_index if isinstance(events, Partitioned) else None)
    parted = partition(events, client=client, address=address, npartitions=npartitions)
    client = get_client(client or parted.client, address)
    tasks = [dask.delayed(_apply, pure=False)(d, kernel, kwargs, reduce) for d in parted.ddf.to_delayed()]
    if client is not None:
        parts = client.gather(client.compute(tasks))
    else:
        parts = list(dask.compute(*tasks, scheduler=_local_scheduler()))
    if reduce == "sum":
        return _sum_reduce(parts)
    return _concat_reduce(parts, original_index)


def _log_wide(events, fn: Callable[[pd.DataFrame], Any], client=None):
    """A small log-wide quantity (max timestamp, distinct values) on pandas, Dask or partitioned input."""
    if isinstance(events, pd.DataFrame):
        return fn(events)
    ddf = events.ddf if isinstance(events, Partitioned) else events
    import dask

    parts = [dask.delayed(fn)(d) for d in ddf.to_delayed()]
    cl = get_client(client or (events.client if isinstance(events, Partitioned) else None))
    return cl.gather(cl.compute(parts)) if cl is not None else list(dask.compute(*parts, scheduler=_local_scheduler()))


