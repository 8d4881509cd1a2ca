"""Argument checks every analysis shares: choices, durations, event logs and stage maps.

One rule each and one error format that starts with the parameter's name, so ``mode``, ``window`` or
``stage_map`` is refused the same way by the funnel, the scorecard, attribution and churn::

    mode must be one of ['ordered', 'strict', 'any'], got 'loose'
    window must be a duration like '7D' or pd.Timedelta(days=7), got 'soon'

A missing event-log column is a :class:`~cjlib.errors.DataError` (rule ``missing_column``), because it is
the data, not the call, that is wrong.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cjlib.errors import DataError

__all__ = ["check_choice", "check_events", "duration", "duration_ns", "resolve_stage_map"]

EVENT_COLUMNS = ("customer_id", "timestamp", "event")
_DURATION_TYPES = (str, pd.Timedelta, _dt.timedelta, np.timedelta64)


def check_choice(name: str, value, choices: Sequence):
    """``value`` when it is one of ``choices``, else ``ValueError`` naming the parameter.

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : object
        The value given.
    choices : sequence
        The allowed values.

    Returns
    -------
    object
        ``value`` unchanged.

    Examples
    --------
    >>> check_choice("mode", "strict", ("ordered", "strict", "any"))
    'strict'
    >>> check_choice("mode", "loose", ("ordered", "strict", "any"))
    Traceback (most recent call last):
    ...
    ValueError: mode must be one of ['ordered', 'strict', 'any'], got 'loose'
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def duration(name: str, value, *, allow_none: bool = True, positive: bool = False) -> pd.Timedelta | None:
    """``value`` as a :class:`pandas.Timedelta` (a string like ``"7D"``/``"12h"``, a timedelta or Timedelta).

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : str, Timedelta, datetime.timedelta, numpy.timedelta64 or None
    allow_none : bool, default True
        ``None`` means "no limit" and is returned as is; ``False`` refuses it.
    positive : bool, default False
        Refuse zero as well as negative durations.

    Returns
    -------
    Timedelta or None

    Examples
    --------
    >>> duration("window", "7D")
    Timedelta('7 days 00:00:00')
    >>> duration("window", "-1h")
    Traceback (most recent call last):
    ...
    ValueError: window must not be negative, got '-1h'
    """
    what = f"{name} must be {'None or ' if allow_none else ''}a duration like '7D' or pd.Timedelta(days=7)"
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"{what}, got None")
    if isinstance(value, bool) or not isinstance(value, _DURATION_TYPES):
        raise ValueError(f"{what}, got {value!r}")
    try:
        td = pd.Timedelta(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what}, got {value!r}") from exc
    if pd.isna(td):
        raise ValueError(f"{what}, got {value!r}")
    if td < pd.Timedelta(0) or (positive and td == pd.Timedelta(0)):
        raise ValueError(f"{name} must {'be positive' if positive else 'not be negative'}, got {value!r}")
    return td


def duration_ns(name: str, value, *, positive: bool = False) -> int | None:
    """:func:`duration` in integer nanoseconds (``None`` stays ``None``).

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : str, Timedelta, datetime.timedelta, numpy.timedelta64 or None
        As for :func:`duration`.
    positive : bool, default False
        Refuse zero as well as negative durations.

    Returns
    -------
    int or None
        The duration in nanoseconds, or ``None`` for ``None``.

    Examples
    --------
    >>> duration_ns("window", "1s")
    1000000000
    """
    td = duration(name, value, positive=positive)
    return None if td is None else int(td.value)


def check_events(events, columns: Iterable[str] = EVENT_COLUMNS, *, name: str = "events") -> pd.DataFrame:
    """``events`` when it is a DataFrame holding ``columns``, else ``TypeError`` / :class:`DataError`.

    The error names the file the frame was read from (``events.attrs["source"]``) when the loader recorded it.

    Parameters
    ----------
    events : object
        The argument to check.
    columns : iterable of str, default EVENT_COLUMNS
        Columns it must hold (:class:`DataError`, rule ``missing_column``, on the first one missing).
    name : str, default "events"
        The parameter's name, for the ``TypeError`` message.

    Returns
    -------
    DataFrame
        ``events`` unchanged.

    Examples
    --------
    >>> check_events(pd.DataFrame({"customer_id": [1], "timestamp": [pd.Timestamp(0)]}))
    Traceback (most recent call last):
    ...
    cjlib.errors.DataError: column 'event': rule missing_column: required column is missing
    """
    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"{name} must be a DataFrame, got {type(events).__name__}")
    for col in columns:
        if col not in events.columns:
            raise DataError("required column is missing", file=events.attrs.get("source"), column=col,
                            rule="missing_column")
    return events


def resolve_stage_map(given):
    """The :class:`~cjlib.stagemap.StageMap` a ``stage_map=`` argument names: the map itself, a YAML path, or ``None`` (default map).

    Parameters
    ----------
    given : StageMap, str, Path or None
        The argument; another type raises ``TypeError``.

    Returns
    -------
    StageMap
        ``given`` itself, the map read by :func:`~cjlib.stagemap.load_stage_map`, or the default map
        (``None`` or ``""``).

    Examples
    --------
    >>> resolve_stage_map(None).stage_names[0]
    'awareness'
    """
    from cjlib.stagemap import StageMap, load_stage_map

    if given is None or isinstance(given, (str, Path)):
        return load_stage_map(given or None)
    if not isinstance(given, StageMap):
        raise TypeError(f"stage_map must be a StageMap, a path or None, got {type(given).__name__}")
    return given
