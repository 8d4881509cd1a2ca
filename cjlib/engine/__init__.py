"""Run per-customer kernels in process (pandas) or on a Dask cluster, with the same results.

Every journey kernel in cjlib is a function of a frame holding *complete* customers, ordered by
(customer_id, timestamp, input order), returning either per-customer rows, per-event values or additive
counts. :func:`run` exploits that: with ``engine="pandas"`` it calls the kernel once on the whole log;
with ``engine="dask"`` it shuffles the log by ``customer_id`` (each partition then holds complete
customers), restores the loader's order (customer, timestamp, input position) inside every partition,
runs the same kernel on each partition and merges the partial results — concatenated (per-customer or
per-event outputs, put back in the input's order) or summed (additive counts). No second implementation.

The public wrappers (:func:`sessionize`, :func:`stage_reached`, :func:`funnel_units`, :func:`funnel`,
:func:`transition_counts`, :func:`customer_features`, :func:`paths_from_events`, :func:`journey_paths`)
take ``engine=`` and return exactly what the pandas functions return on the same log (see their notes for the few
log-wide parameters — the features cutoff, a funnel's totals — that are fixed before the partitions run).

Dask input: pass a ``dask.dataframe.DataFrame`` (implies ``engine="dask"``), e.g. from
:func:`read_events` on a Parquet folder on shared storage, or a :class:`Partitioned` log from
:func:`partition` to shuffle once and run several analyses on the persisted partitions. Where the work
runs: ``client=`` (a ``distributed.Client``), ``address="tcp://scheduler:8786"`` (a client is opened and
reused), else the active distributed client, else Dask's default scheduler. In a notebook with a
``dask_address``, ``report.load`` returns the log as a :class:`Partitioned` read, validated and shuffled
by the workers (:func:`cjlib.engine.load.read_log`, or the log the runner saved once for the run:
:func:`cjlib.engine.load.open_log`), and :func:`distribute` passes it through; :func:`run_on` gives the
choice as keyword arguments for a single call.

Modules: :mod:`~cjlib.engine.core` (clients, the shuffle, :func:`run` and its merges),
:mod:`~cjlib.engine.load` (a Dask run's log: read and validated on the workers, saved and reopened) and
:mod:`~cjlib.engine.wrappers` (one wrapper per analysis function; the kernels stay in their analysis).

The engine leaves the workers' allocator to Dask's configuration: README, "Running on a Dask cluster: the
workers' memory allocator",
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

from cjlib.engine.core import (
    ENGINES,
    REDUCES,
    Partitioned,
    distribute,
    get_client,
    partition,
    read_events,
    run,
    run_on,
)
from cjlib.engine.wrappers import (
    customer_features,
    funnel,
    funnel_units,
    journey_paths,
    paths_from_events,
    sessionize,
    stage_reached,
    transition_counts,
)

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
    "transition_counts",
    "customer_features",
    "paths_from_events",
    "journey_paths",
]
