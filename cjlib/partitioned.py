"""What a function that takes ``events`` needs to know about a log shuffled onto a cluster, without importing
:mod:`cjlib.engine` (whose wrappers import the analyses: importing it from them would be circular).

Every analysis that accepts a :class:`cjlib.engine.Partitioned` log dispatches on :func:`is_partitioned`.
"""

from __future__ import annotations

__all__ = ["is_partitioned", "columns", "map_large_blocks"]


def is_partitioned(events) -> bool:
    """Whether ``events`` is a :class:`cjlib.engine.Partitioned` log (checked by type name, so the engine is
    not imported).

    Parameters
    ----------
    events : object
        What a function was given as ``events``.

    Returns
    -------
    bool

    Examples
    --------
    >>> import pandas as pd
    >>> is_partitioned(pd.DataFrame())
    False
    """
    t = type(events)
    return t.__name__ == "Partitioned" and t.__module__ == "cjlib.engine.core"


def columns(events) -> list[str]:
    """The columns of a pandas log or of a partitioned one (whose private row column
    :attr:`cjlib.engine.Partitioned.columns` leaves out).

    Parameters
    ----------
    events : DataFrame or Partitioned
        The event log.

    Returns
    -------
    list of str

    Examples
    --------
    >>> import pandas as pd
    >>> columns(pd.DataFrame(columns=["customer_id", "event"]))
    ['customer_id', 'event']
    """
    return list(events.columns)


MMAP_THRESHOLD = 1 << 20  # bytes: blocks from 1 MiB up get their own mapping


def map_large_blocks(threshold: int = MMAP_THRESHOLD) -> bool:
    """Have the C heap give every block of ``threshold`` bytes or more its own memory mapping, returned to the
    system when freed (glibc's ``mallopt(M_MMAP_THRESHOLD)``); what a report's process calls in a Dask run.

    The report's process then holds per-unit tables and aggregates that come and go step by step. glibc
    raises its mapping threshold each time a large block is freed, so later large arrays land in the heap,
    whose freed pieces are kept for reuse: the resident set stays at its highest point and every later
    step starts from there (03 at 10 M events: 1.36 GB peak; with the threshold fixed, 1.05 GB). A fixed
    threshold costs page faults on each large allocation, which matters only for a process that does the
    per-event work itself, so the in-process run does not call this. No number changes.

    Parameters
    ----------
    threshold : int, default 1 MiB
        The smallest block that gets its own mapping.

    Returns
    -------
    bool
        Whether the C library took the setting (``False`` off glibc, e.g. macOS or musl).
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(-3, int(threshold)))  # -3: M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # another C library: nothing to set
        return False
