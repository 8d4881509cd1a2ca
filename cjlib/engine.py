"""Run per-customer kernels in process (pandas) or on a Dask cluster, with the same results.

Every journey kernel in cjlib is a function of a frame holding *complete* customers, ordered by
(customer_id, timestamp, input order), returning either per-customer rows, per-event values or additive
counts. :func:`run` exploits that: with ``engine="pandas"`` it calls the kernel once on the whole log;
with ``engine="dask"`` it shuffles the log by ``customer_id`` (each partition then holds complete
customers), restores the loader's order (customer, timestamp, input position) inside every partition,
runs the same kernel on each partition and merges the partial results — concatenated (per-customer or
per-event outputs, put back in the input's order) or summed (additive counts). No second implementation.

The public wrappers (:func:`sessionize`, :func:`stage_reached`, :func:`funnel_units`, :func:`funnel`,
:func:`transition_counts`, :func:`customer_features`, :func:`paths_from_events`) take ``engine=`` and
return exactly what the pandas functions return on the same log (see their notes for the few
log-wide parameters — the features cutoff, a funnel's totals — that are fixed before the partitions run).

Dask input: pass a ``dask.dataframe.DataFrame`` (implies ``engine="dask"``), e.g. from
:func:`read_events` on a Parquet folder on shared storage, or a :class:`Partitioned` log from
:func:`partition` to shuffle once and run several analyses on the persisted partitions. Where the work
runs: ``client=`` (a ``distributed.Client``), ``address="tcp://scheduler:8786"`` (a client is opened and
reused), else the active distributed client, else Dask's default scheduler. Notebooks turn their
``dask_address`` parameter into the log their wrapped calls take with :func:`distribute` (the loaded
frame itself in process, else shuffled onto the cluster once); :func:`run_on` gives the same choice as
keyword arguments for a single call.

The engine leaves the workers' allocator to Dask's configuration: README, "Running on a Dask cluster",
shows the one line (``distributed.nanny.pre-spawn-environ``) that gives the workers glibc's adaptive
thresholds, as the in-process run has.

Examples
--------
>>> from cjlib import engine, synth
>>> ev = synth.generate(300, seed=1).events
>>> a = engine.stage_reached(ev)                   # pandas, in process
>>> b = engine.stage_reached(ev, engine="dask")     # Dask's default scheduler, 2+ partitions
>>> a.equals(b)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cjlib import attribution as _attr
from cjlib import features as _feat
from cjlib import funnel as _fun
from cjlib import journeys as _jour
from cjlib.stagemap import StageMap, load_stage_map
from cjlib.validation import check_choice, duration

__all__ = [
    "ENGINES",
    "REDUCES",
    "Partitioned",
    "partition",
    "read_events",
    "run",
    "get_client",
    "run_on",
    "distribute",
    "sessionize",
    "stage_reached",
    "funnel_units",
    "funnel",
    "channel_transitions",
    "transition_counts",
    "customer_features",
    "paths_from_events",
]

ENGINES = ("pandas", "dask")
REDUCES = ("concat", "sum")
_ROW = "__cj_row"    # global input position carried through the shuffle
_ORDER = "__cj_order"
_SEG = "__cj_by__"
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
        return self.ddf.npartitions


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
    events : pandas DataFrame
        The loaded event log.
    address : str or None, default ""
        A scheduler address such as ``"tcp://10.0.0.5:8786"``; ``""`` (or only spaces, or None) means
        in process.
    client, npartitions : optional
        As for :func:`partition`.

    Returns
    -------
    DataFrame or Partitioned
        ``events`` itself for an empty address (every wrapper then calls the pandas function on it,
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
    if not kw:
        return events
    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"events must be a pandas DataFrame, got {type(events).__name__}")
    return partition(events, client=client, address=kw["address"], npartitions=npartitions)


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
    order = np.lexsort((part[_ROW].to_numpy(), part["timestamp"].to_numpy(), rank[cust]))
    # strings converted once here rather than in every call on the partition: the Arrow arrays then stay the
    # same objects across calls, so their memoized structure (customer starts, sorted check:
    # cjlib.io.neighbours_differ) is computed once per partition
    return _plain_strings(part.iloc[order].reset_index(drop=True))


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
        if client is not None:  # send the pieces once, rather than embedding them in the task graph
            bounds = np.linspace(0, len(src), min(nparts, max(len(src), 1)) + 1).astype(int)
            futs = client.scatter([src.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:])])
            ddf = dd.from_delayed(futs, meta=src.iloc[:0], verify_meta=False)
        else:
            ddf = dd.from_pandas(src, npartitions=nparts)
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
    if shuffle_method is None and max(nparts, ddf.npartitions) <= _TASK_SHUFFLE_MAX_PARTITIONS:
        shuffle_method = "tasks"
    shuffled = ddf.shuffle(on="customer_id", npartitions=nparts, shuffle_method=shuffle_method)
    meta = _order_partition(shuffled._meta)
    ordered = shuffled.map_partitions(_order_partition, meta=meta)
    if persist:
        ordered = client.persist(ordered) if client is not None else ordered.persist()
    return Partitioned(ordered, client, n_rows, events.index if isinstance(events, pd.DataFrame) else None)


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
        out = out.copy()
        out.index = pd.Index(rows)  # per event: global input position
        return out
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


def _sum_reduce(parts: list) -> pd.DataFrame | pd.Series:
    parts = [p for p in parts if p is not None and len(p)]
    if not parts:
        return None
    cat = pd.concat(parts)
    levels = list(range(cat.index.nlevels))
    return cat.groupby(level=levels, sort=True, observed=True).sum()


def _concat_reduce(parts: list, original_index=None):
    parts = [p for p in parts if p is not None]
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
    kernel: Callable,
    events,
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
    kernel : callable
        ``kernel(events, **kwargs)`` on a frame of complete customers in (customer, timestamp, input)
        order. It returns per-event values (a Series/DataFrame aligned with the frame's index),
        per-customer rows (indexed by ``customer_id`` or with a ``customer_id`` column) or, with
        ``reduce="sum"``, additive counts indexed by what they count.
    events : pandas DataFrame, Dask DataFrame or Partitioned
        A Dask frame or a :class:`Partitioned` implies ``engine="dask"``.
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
    The kernel's result for the whole log. With ``engine="pandas"`` the kernel runs once on ``events``
    as given (``reduce="sum"`` additionally sorts and sums by index, like the Dask merge).
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
        parts = list(dask.compute(*tasks))
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
    return cl.gather(cl.compute(parts)) if cl is not None else list(dask.compute(*parts))


# ============================================================================================= wrappers
def _session_starts(ev: pd.DataFrame, window) -> pd.Series:
    s = _jour.sessionize(ev, window).to_numpy()
    new = np.ones(len(s), dtype=bool)
    new[1:] = s[1:] != s[:-1]
    return pd.Series(new, index=ev.index, name="session")


def sessionize(events, *, window: str | pd.Timedelta = "30min", engine: str = "pandas", client=None,
               address: str | None = None, npartitions: int | None = None) -> pd.Series:
    """:func:`cjlib.journeys.sessionize` on either engine (session numbers 0, 1, 2 … in input order).

    The partitions return where sessions start; the numbering is a running count over the input order,
    so the numbers equal the in-process ones on a log in (customer, timestamp) order.

    Parameters
    ----------
        events : pandas DataFrame, Dask DataFrame or Partitioned
            The event log (:func:`cjlib.load_events`), a Dask frame (:func:`read_events`) or a log shuffled
            once by :func:`partition` / :func:`distribute`.
    window : str or Timedelta, default "30min"
        Inactivity that starts a new session (as :func:`cjlib.journeys.sessionize`).
        engine : {"pandas", "dask"}, default "pandas"
            ``"dask"`` runs on customer-shuffled partitions; a Dask DataFrame, a :class:`Partitioned`,
            ``client`` or ``address`` implies it.
        client, address : optional
            Where Dask runs (see :func:`get_client`).
        npartitions : int, optional
            Partitions of the shuffle (see :func:`partition`).

    Returns
    -------
    Series
        ``session`` (int64) per event, on the input's index.

    Examples
    --------
    >>> from cjlib import synth
    >>> ev = synth.generate(30, seed=1).events
    >>> sessionize(ev, window="30min").equals(sessionize(ev, window="30min", engine="dask"))
    True
    """
    if engine == "pandas" and isinstance(events, pd.DataFrame) and client is None and address is None:
        return _jour.sessionize(events, window)
    starts = run(_session_starts, events, engine="dask", client=client, address=address,
                 npartitions=npartitions, window=window)
    return pd.Series(np.cumsum(starts.to_numpy()) - 1, index=starts.index, name="session", dtype=np.int64)


def stage_reached(events, *, stage_map: StageMap | None = None, engine: str = "pandas", client=None,
                  address: str | None = None, npartitions: int | None = None) -> pd.DataFrame:
    """:func:`cjlib.journeys.stage_reached` on either engine (customers in order of first appearance).

    Parameters
    ----------
        events : pandas DataFrame, Dask DataFrame or Partitioned
            The event log (:func:`cjlib.load_events`), a Dask frame (:func:`read_events`) or a log shuffled
            once by :func:`partition` / :func:`distribute`.
    stage_map : StageMap, optional
        Keyword-only; default the project's stage map.
        engine : {"pandas", "dask"}, default "pandas"
            ``"dask"`` runs on customer-shuffled partitions; a Dask DataFrame, a :class:`Partitioned`,
            ``client`` or ``address`` implies it.
        client, address : optional
            Where Dask runs (see :func:`get_client`).
        npartitions : int, optional
            Partitions of the shuffle (see :func:`partition`).

    Returns
    -------
    DataFrame
        One row per customer, one column per stage (the first time the customer reached it), columns named
        ``stage``.

    Examples
    --------
    >>> from cjlib import synth
    >>> ev = synth.generate(30, seed=1).events
    >>> list(stage_reached(ev).columns)
    ['awareness', 'consideration', 'purchase', 'retention', 'advocacy']
    """
    sm = stage_map or load_stage_map()
    out = run(_jour.stage_reached, events, engine=engine, client=client, address=address,
              npartitions=npartitions, stage_map=sm)
    out.columns = pd.Index(sm.stage_names, name="stage")
    return out


def _units_kernel(ev: pd.DataFrame, *, steps, window, mode, unit, stage_map, by) -> pd.DataFrame:
    m = _fun._run(ev, steps, window, mode, unit, stage_map)
    out = _fun._unit_frame(m)
    if by:
        seg = _fun._segment_values(m, by)
        for c in by:
            out[_SEG + c] = seg[c].to_numpy()
    return out


def _funnel_units_frame(events, steps, window, mode, unit, stage_map, by, engine, client, address,
                        npartitions) -> pd.DataFrame:
    duration("window", window)
    check_choice("mode", mode, _fun.MODES)
    check_choice("unit", unit, _fun.UNITS)
    sm = stage_map or load_stage_map()
    out = run(_units_kernel, events, engine=engine, client=client, address=address,
              npartitions=npartitions, steps=steps, window=window, mode=mode, unit=unit, stage_map=sm,
              by=by)
    if unit == "session":
        out["session"] = np.arange(len(out), dtype=np.int64)
    labels = _fun._labels(_fun._normalize_steps(steps))
    out["last_step"] = out["last_step"].astype(pd.CategoricalDtype(labels, ordered=True))
    out.attrs.update(steps=list(labels), units_total=len(out), mode=mode, unit=unit,
                     window=None if window is None else str(pd.Timedelta(window)))
    return out


def funnel_units(events, steps: Sequence, *, window=None, mode: str = "ordered", unit: str = "customer",
                 stage_map: StageMap | None = None, engine: str = "pandas", client=None,
                 address: str | None = None, npartitions: int | None = None) -> pd.DataFrame:
    """:func:`cjlib.funnel.funnel_units` on either engine: one row per unit, in (customer, session)
    order (sessions renumbered 0..U-1 over the whole log, as in process).

    Parameters
    ----------
        events : pandas DataFrame, Dask DataFrame or Partitioned
            The event log (:func:`cjlib.load_events`), a Dask frame (:func:`read_events`) or a log shuffled
            once by :func:`partition` / :func:`distribute`.
    steps : list
        Funnel steps, as :func:`cjlib.funnel.funnel_units` takes them.
    window : str or Timedelta, optional
        Time from a unit's first step within which the later steps count (None: no limit).
    mode : {"ordered", "strict", "any"}, default "ordered"
    unit : {"customer", "session"}, default "customer"
    stage_map : StageMap, optional
        Keyword-only; default the project's stage map.
        engine : {"pandas", "dask"}, default "pandas"
            ``"dask"`` runs on customer-shuffled partitions; a Dask DataFrame, a :class:`Partitioned`,
            ``client`` or ``address`` implies it.
        client, address : optional
            Where Dask runs (see :func:`get_client`).
        npartitions : int, optional
            Partitions of the shuffle (see :func:`partition`).

    Returns
    -------
    DataFrame
        As :func:`cjlib.funnel.funnel_units` returns it (``attrs`` included).
    """
    if engine == "pandas" and isinstance(events, pd.DataFrame) and client is None and address is None:
        return _fun.funnel_units(events, steps, window=window, mode=mode, unit=unit, stage_map=stage_map)
    return _funnel_units_frame(events, steps, window, mode, unit, stage_map, None, engine, client, address,
                               npartitions)


def _ns(col: pd.Series) -> np.ndarray:
    return col.to_numpy().astype("datetime64[ns]").view(np.int64)


def funnel(events, steps: Sequence, *, window=None, mode: str = "ordered", unit: str = "customer",
           by: str | Sequence[str] | None = None, stage_map: StageMap | None = None,
           engine: str = "pandas", client=None, address: str | None = None,
           npartitions: int | None = None) -> pd.DataFrame:
    """:func:`cjlib.funnel.funnel` on either engine.

    Each partition matches its units (:func:`cjlib.funnel.funnel_units`, plus the segment of each unit
    with ``by``); the funnel table is then computed from the merged per-unit rows with the funnel
    module's own summary, so it equals the in-process table.

    Parameters
    ----------
        events : pandas DataFrame, Dask DataFrame or Partitioned
            The event log (:func:`cjlib.load_events`), a Dask frame (:func:`read_events`) or a log shuffled
            once by :func:`partition` / :func:`distribute`.
    steps : list
        Funnel steps, as :func:`cjlib.funnel.funnel` takes them.
    window : str or Timedelta, optional
        Time from a unit's first step within which the later steps count (None: no limit).
    mode : {"ordered", "strict", "any"}, default "ordered"
    unit : {"customer", "session"}, default "customer"
    by : str or list of str, optional
        Segment column(s) to break the funnel down by.
    stage_map : StageMap, optional
        Keyword-only; default the project's stage map.
        engine : {"pandas", "dask"}, default "pandas"
            ``"dask"`` runs on customer-shuffled partitions; a Dask DataFrame, a :class:`Partitioned`,
            ``client`` or ``address`` implies it.
        client, address : optional
            Where Dask runs (see :func:`get_client`).
        npartitions : int, optional
            Partitions of the shuffle (see :func:`partition`).

    Returns
    -------
    DataFrame
        The funnel table of :func:`cjlib.funnel.funnel`.

    Examples
    --------
    >>> from cjlib import synth
    >>> ev = synth.generate(60, seed=1).events
    >>> steps = ["awareness", "consideration", "stage:purchase"]
    >>> funnel(ev, steps, window="30D").equals(funnel(ev, steps, window="30D", engine="dask"))
    True
    """
    if engine == "pandas" and isinstance(events, pd.DataFrame) and client is None and address is None:
        return _fun.funnel(events, steps, window=window, mode=mode, unit=unit, by=by, stage_map=stage_map)
    cols = [] if by is None else ([by] if isinstance(by, str) else list(by))
    if by is not None and not cols:
        raise ValueError("by must be a column name or a non-empty list of column names")
    units = _funnel_units_frame(events, steps, window, mode, unit, stage_map, cols, engine, client, address,
                                npartitions)
    labels = units.attrs["steps"]
    level = units["steps_reached"].to_numpy()
    done = (np.column_stack([_ns(units[lab]) for lab in labels]) if labels
            else np.zeros((len(units), 0), np.int64))
    seg = pd.DataFrame({c: units[_SEG + c].to_numpy() for c in cols}) if cols else None
    return _fun.funnel_table(level, done, labels, seg, mode=mode, unit=unit, window=window)


def channel_transitions(events: pd.DataFrame, col: str = "channel") -> pd.DataFrame:
    """Counts of consecutive touches ``a → b`` within each customer (the per-customer kernel).

    A touch is a row with a non-missing ``col``; rows must be in (customer, timestamp) order, as
    :func:`cjlib.load_events` returns them. Repeats count (``email → email``).

    Parameters
    ----------
    events : DataFrame
        The event log, grouped by customer in time order.
    col : str, default "channel"
        The column whose consecutive values are counted.

    Returns
    -------
    DataFrame
        Index (``channel_from``, ``channel_to``) sorted, column ``count`` (int64), observed pairs only.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "b"],
    ...                    "channel": ["email", "email", "search", "search", "email"]})
    >>> channel_transitions(ev)["count"].to_dict()
    {('email', 'email'): 1, ('email', 'search'): 1, ('search', 'email'): 1}
    """
    vals = events[col]
    if isinstance(vals.dtype, pd.CategoricalDtype):  # the loader's categoricals: their codes, no hashing
        codes, names = vals.cat.codes.to_numpy(), vals.cat.categories
    else:
        codes, names = pd.factorize(vals, sort=True)
    keep = codes >= 0
    cust = np.cumsum(_jour.customer_starts(events))  # rows are grouped by customer
    c, k = codes[keep].astype(np.int64), cust[keep]
    same = k[1:] == k[:-1]
    C = max(len(names), 1)
    counts = np.bincount(c[:-1][same] * C + c[1:][same], minlength=C * C) if len(c) > 1 else np.zeros(C * C, int)
    nz = np.flatnonzero(counts)
    names = np.asarray(pd.Index(names).astype(str), dtype=object)
    idx = pd.MultiIndex.from_arrays([names[nz // C], names[nz % C]], names=["channel_from", "channel_to"])
    return pd.DataFrame({"count": counts[nz].astype(np.int64)}, index=idx).sort_index()


def transition_counts(events, *, col: str = "channel", engine: str = "pandas", client=None,
                      address: str | None = None, npartitions: int | None = None) -> pd.DataFrame:
    """:func:`channel_transitions` on either engine: partial counts summed over partitions.

    Parameters
    ----------
        events : pandas DataFrame, Dask DataFrame or Partitioned
            The event log (:func:`cjlib.load_events`), a Dask frame (:func:`read_events`) or a log shuffled
            once by :func:`partition` / :func:`distribute`.
    col : str, default "channel"
        The column whose consecutive values are counted.
        engine : {"pandas", "dask"}, default "pandas"
            ``"dask"`` runs on customer-shuffled partitions; a Dask DataFrame, a :class:`Partitioned`,
            ``client`` or ``address`` implies it.
        client, address : optional
            Where Dask runs (see :func:`get_client`).
        npartitions : int, optional
            Partitions of the shuffle (see :func:`partition`).

    Returns
    -------
    DataFrame
        Index (``channel_from``, ``channel_to``) sorted, column ``count`` (int64); empty when no customer
        has two touches.
    """
    out = run(channel_transitions, events, engine=engine, client=client, address=address,
              npartitions=npartitions, reduce="sum", col=col)
    if out is None:
        idx = pd.MultiIndex.from_arrays([[], []], names=["channel_from", "channel_to"])
        return pd.DataFrame({"count": np.zeros(0, np.int64)}, index=idx)
    return out.astype({"count": np.int64})


def _features_kernel(ev: pd.DataFrame, **kw) -> pd.DataFrame:
    return _feat.customer_features(ev, **kw)


def customer_features(events, *, customers: pd.DataFrame | None = None, feedback: pd.DataFrame | None = None,
                      cutoff=None, stage_map: StageMap | None = None, engine: str = "pandas", client=None,
                      address: str | None = None, npartitions: int | None = None) -> pd.DataFrame:
    """:func:`cjlib.features.customer_features` on either engine.

    The default cutoff (last event + 1 s) is taken over the whole log before the partitions run, and
    columns a partition lacks (a channel none of its customers used) are filled with 0, so the table
    equals the in-process one (rows in customer-id order).

    Parameters
    ----------
        events : pandas DataFrame, Dask DataFrame or Partitioned
            The event log (:func:`cjlib.load_events`), a Dask frame (:func:`read_events`) or a log shuffled
            once by :func:`partition` / :func:`distribute`.
    customers, feedback : DataFrame, optional
        Customer attributes and satisfaction feedback, as :func:`cjlib.features.customer_features` takes them.
    cutoff : timestamp-like, optional
        Features use events before it; default the log's last event + 1 s.
    stage_map : StageMap, optional
        Keyword-only; default the project's stage map.
        engine : {"pandas", "dask"}, default "pandas"
            ``"dask"`` runs on customer-shuffled partitions; a Dask DataFrame, a :class:`Partitioned`,
            ``client`` or ``address`` implies it.
        client, address : optional
            Where Dask runs (see :func:`get_client`).
        npartitions : int, optional
            Partitions of the shuffle (see :func:`partition`).

    Returns
    -------
    DataFrame
        One row per customer, as :func:`cjlib.features.customer_features` returns it.
    """
    if engine == "pandas" and isinstance(events, pd.DataFrame) and client is None and address is None:
        return _feat.customer_features(events, customers=customers, feedback=feedback, cutoff=cutoff,
                                       stage_map=stage_map)
    sm = stage_map or load_stage_map()
    if cutoff is None:
        mx = _log_wide(events, lambda d: d["timestamp"].max() if len(d) else pd.NaT, client)
        mx = [m for m in (mx if isinstance(mx, list) else [mx]) if not pd.isna(m)]
        if not mx:
            raise ValueError("events is empty: give a cutoff or a non-empty event log")
        cutoff = pd.Timestamp(max(mx)) + pd.Timedelta(seconds=1)
    out = run(_features_kernel, events, engine="dask", client=client, address=address,
              npartitions=npartitions, customers=customers, feedback=feedback, cutoff=cutoff, stage_map=sm)
    # a partition that never saw a channel / other event lacks its column: 0, in the in-process order
    share = sorted(c for c in out.columns if c.startswith("channel_share_"))
    counts = [f"n_{_feat.feature_name(e)}" for e in sm.other_events if f"n_{_feat.feature_name(e)}" in out.columns]
    base = [c for c in out.columns if c not in share and c not in counts]
    first_attr = next((i for i, c in enumerate(base) if c not in _BASE_FEATURES), len(base))
    cols = base[:first_attr] + share + counts + base[first_attr:]
    out = out[cols]
    fill = {c: 0 for c in share + counts if out[c].isna().any()}
    if fill:
        out = out.fillna(fill)
        out = out.astype({c: np.int64 for c in counts if c in fill})
    out = out.sort_index(kind="stable")
    return out


_BASE_FEATURES = {
    "recency_days", "tenure_days", "frequency", "sessions", "n_events", "events_per_session", "n_purchases",
    "monetary", "aov", "days_to_first_purchase", "furthest_stage", "furthest_stage_name",
} | {f"share_{s}" for s in ("awareness", "consideration", "purchase", "retention", "advocacy")}


def _paths_kernel(ev: pd.DataFrame, **kw) -> pd.DataFrame:
    p = _attr.paths_from_events(ev, **kw)
    out = p.set_index("path").assign(__journeys=0.0)
    # the journey counts travel as one extra row keyed by a name no path can have (paths are summed)
    tot = pd.DataFrame({c: [0.0] for c in out.columns}, index=pd.Index(["\x00totals"], name="path"))
    tot["__journeys"] = float(p.attrs.get("journeys", 0))
    tot["conversions"] = float(p.attrs.get("converting_journeys", 0))
    tot["nulls"] = float(p.attrs.get("conversions_without_touches", 0))
    return pd.concat([out, tot])


def paths_from_events(events, *, conversion_events: Sequence[str] | str | None = None,
                      lookback: str | pd.Timedelta | None = "30D", touch_col: str = "channel",
                      stage: str | tuple[str, str] | None = None, stage_map=None, collapse_repeats: bool = False,
                      engine: str = "pandas", client=None, address: str | None = None,
                      npartitions: int | None = None) -> pd.DataFrame:
    """:func:`cjlib.attribution.paths_from_events` on either engine: each partition builds its paths
    table, the tables are summed by path (conversions, nulls, value) and sorted by path; ``attrs`` hold
    the summed journey counts.

    Parameters
    ----------
        events : pandas DataFrame, Dask DataFrame or Partitioned
            The event log (:func:`cjlib.load_events`), a Dask frame (:func:`read_events`) or a log shuffled
            once by :func:`partition` / :func:`distribute`.
    conversion_events, lookback, touch_col, stage, collapse_repeats
        As :func:`cjlib.attribution.paths_from_events` takes them.
    stage_map : StageMap, optional
        Keyword-only; default the project's stage map.
        engine : {"pandas", "dask"}, default "pandas"
            ``"dask"`` runs on customer-shuffled partitions; a Dask DataFrame, a :class:`Partitioned`,
            ``client`` or ``address`` implies it.
        client, address : optional
            Where Dask runs (see :func:`get_client`).
        npartitions : int, optional
            Partitions of the shuffle (see :func:`partition`).

    Returns
    -------
    DataFrame
        The paths table of :func:`cjlib.attribution.paths_from_events`.
    """
    kw = dict(conversion_events=conversion_events, lookback=lookback, touch_col=touch_col, stage=stage,
              stage_map=stage_map, collapse_repeats=collapse_repeats)
    if engine == "pandas" and isinstance(events, pd.DataFrame) and client is None and address is None:
        return _attr.paths_from_events(events, **kw)
    summed = run(_paths_kernel, events, engine="dask", client=client, address=address,
                 npartitions=npartitions, reduce="sum", **kw)
    tot = summed.loc["\x00totals"]
    out = summed.drop(index="\x00totals").drop(columns="__journeys").reset_index()
    out.attrs.update(journeys=int(tot["__journeys"]), converting_journeys=int(tot["conversions"]),
                     conversions_without_touches=int(tot["nulls"]), touch_col=touch_col,
                     stage=None if stage is None else str(stage),
                     lookback=None if lookback is None else str(lookback))
    return out
