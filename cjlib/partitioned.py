"""What a function that takes ``events`` needs to know about a log shuffled onto a cluster, without importing
:mod:`cjlib.engine` (whose wrappers import the analyses: importing it from them would be circular).

Every analysis that accepts a :class:`cjlib.engine.Partitioned` log dispatches on :func:`is_partitioned`.
"""

from __future__ import annotations

__all__ = ["is_partitioned", "columns"]


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
