"""The engine's wrappers: each analysis function of cjlib that works customer by customer, on either engine,
with the same result as the pandas function. The kernels are the analyses' own functions; a wrapper only
routes them (:func:`cjlib.engine.run`) and merges what the partitions return."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjlib import attribution as _attr
from cjlib import features as _feat
from cjlib import funnel as _fun
from cjlib import journeys as _jour
from cjlib.engine.core import _log_wide, run
from cjlib.funnel import matching as _match
from cjlib.stagemap import StageMap, load_stage_map
from cjlib.validation import check_choice, duration

_SEG = "__cj_by__"


def _in_process(events, engine: str, client, address) -> bool:
    """Whether a wrapper calls the pandas function itself: ``engine="pandas"`` on a pandas frame, no client, no
    address (anything else goes through :func:`cjlib.engine.run`, which checks it)."""
    return engine == "pandas" and isinstance(events, pd.DataFrame) and client is None and address is None


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
        The event log (:func:`cjlib.load_events`), a Dask frame (:func:`cjlib.engine.read_events`) or a
        log shuffled once by :func:`cjlib.engine.partition` / :func:`cjlib.engine.distribute`.
    window : str or Timedelta, default "30min"
        Inactivity that starts a new session (as :func:`cjlib.journeys.sessionize`).
    engine : {"pandas", "dask"}, default "pandas"
        ``"dask"`` runs on customer-shuffled partitions; a Dask DataFrame, a
        :class:`~cjlib.engine.Partitioned`, ``client`` or ``address`` implies it.
    client, address : optional
        Where Dask runs (see :func:`cjlib.engine.get_client`).
    npartitions : int, optional
        Partitions of the shuffle (see :func:`cjlib.engine.partition`).

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
    if _in_process(events, engine, client, address):
        return _jour.sessionize(events, window)
    starts = run(events, _session_starts, engine="dask", client=client, address=address,
                 npartitions=npartitions, window=window)
    return pd.Series(np.cumsum(starts.to_numpy()) - 1, index=starts.index, name="session", dtype=np.int64)


def stage_reached(events, *, stage_map: StageMap | None = None, engine: str = "pandas", client=None,
                  address: str | None = None, npartitions: int | None = None) -> pd.DataFrame:
    """:func:`cjlib.journeys.stage_reached` on either engine (customers in order of first appearance).

    Parameters
    ----------
    events : pandas DataFrame, Dask DataFrame or Partitioned
        The event log (:func:`cjlib.load_events`), a Dask frame (:func:`cjlib.engine.read_events`) or a
        log shuffled once by :func:`cjlib.engine.partition` / :func:`cjlib.engine.distribute`.
    stage_map : StageMap, optional
        Keyword-only; default the project's stage map.
    engine : {"pandas", "dask"}, default "pandas"
        ``"dask"`` runs on customer-shuffled partitions; a Dask DataFrame, a
        :class:`~cjlib.engine.Partitioned`, ``client`` or ``address`` implies it.
    client, address : optional
        Where Dask runs (see :func:`cjlib.engine.get_client`).
    npartitions : int, optional
        Partitions of the shuffle (see :func:`cjlib.engine.partition`).

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
    out = run(events, _jour.stage_reached, engine=engine, client=client, address=address,
              npartitions=npartitions, stage_map=sm)
    out.columns = pd.Index(sm.stage_names, name="stage")
    return out


def _units_kernel(ev: pd.DataFrame, *, steps, window, mode, unit, stage_map, by, options) -> pd.DataFrame:
    m = _fun._run(ev, steps, window, mode, unit, stage_map, **options)
    out = _fun._unit_frame(m)
    if by:
        seg = _fun._segment_values(m, by)
        for c in by:
            out[_SEG + c] = seg[c].to_numpy()
    return out


def _funnel_options(steps, mode, optional, exclude, open) -> dict:
    """The funnel options checked up front (before any partition runs), as the kernel's keyword arguments."""
    opt, excl = _match._optional_flags(steps, optional), _match._exclusions(steps, exclude)
    if not isinstance(open, (bool, np.bool_)):
        raise ValueError(f"open must be True or False, got {open!r}")
    _match._check_options(mode, opt, excl, bool(open))
    return {"optional": optional, "exclude": exclude, "open": bool(open)}


def _funnel_units_frame(events, steps, window, mode, unit, stage_map, by, engine, client, address,
                        npartitions, options=None) -> pd.DataFrame:
    duration("window", window)
    check_choice("mode", mode, _fun.MODES)
    check_choice("unit", unit, _fun.UNITS)
    sm = stage_map or load_stage_map()
    out = run(events, _units_kernel, engine=engine, client=client, address=address,
              npartitions=npartitions, steps=steps, window=window, mode=mode, unit=unit, stage_map=sm,
              by=by, options=options or {})
    if unit == "session":
        out["session"] = np.arange(len(out), dtype=np.int64)
    labels = _fun._labels(_fun._normalize_steps(steps))
    out["last_step"] = out["last_step"].astype(pd.CategoricalDtype(labels, ordered=True))
    if "entry_step" in out.columns:
        out["entry_step"] = out["entry_step"].astype(pd.CategoricalDtype(labels, ordered=True))
    return out


def funnel_units(events, steps: Sequence, *, window=None, mode: str = "ordered", unit: str = "customer",
                 stage_map: StageMap | None = None, optional=None, exclude=None, open: bool = False,
                 engine: str = "pandas", client=None, address: str | None = None,
                 npartitions: int | None = None) -> pd.DataFrame:
    """:func:`cjlib.funnel.funnel_units` on either engine: one row per unit, in (customer, session)
    order (sessions renumbered 0..U-1 over the whole log, as in process).

    Parameters
    ----------
    events : pandas DataFrame, Dask DataFrame or Partitioned
        The event log (:func:`cjlib.load_events`), a Dask frame (:func:`cjlib.engine.read_events`) or a
        log shuffled once by :func:`cjlib.engine.partition` / :func:`cjlib.engine.distribute`.
    steps : list
        Funnel steps, as :func:`cjlib.funnel.funnel_units` takes them.
    window : str or Timedelta, optional
        Time from a unit's first step within which the later steps count (None: no limit).
    mode : {"ordered", "strict", "any"}, default "ordered"
    unit : {"customer", "session"}, default "customer"
    stage_map : StageMap, optional
        Keyword-only; default the project's stage map.
    optional, exclude, open
        Funnel options, as :func:`cjlib.funnel.funnel_units` takes them (each partition's matcher applies
        them to its complete units, so the rows equal the in-process ones).
    engine : {"pandas", "dask"}, default "pandas"
        ``"dask"`` runs on customer-shuffled partitions; a Dask DataFrame, a
        :class:`~cjlib.engine.Partitioned`, ``client`` or ``address`` implies it.
    client, address : optional
        Where Dask runs (see :func:`cjlib.engine.get_client`).
    npartitions : int, optional
        Partitions of the shuffle (see :func:`cjlib.engine.partition`).

    Returns
    -------
    DataFrame
        As :func:`cjlib.funnel.funnel_units` returns it.
    """
    if _in_process(events, engine, client, address):
        return _fun.funnel_units(events, steps, window=window, mode=mode, unit=unit, stage_map=stage_map,
                                 optional=optional, exclude=exclude, open=open)
    options = _funnel_options(steps, mode, optional, exclude, open)
    return _funnel_units_frame(events, steps, window, mode, unit, stage_map, None, engine, client, address,
                               npartitions, options)


def _ns(col: pd.Series) -> np.ndarray:
    return col.to_numpy().astype("datetime64[ns]").view(np.int64)


def funnel(events, steps: Sequence, *, window=None, mode: str = "ordered", unit: str = "customer",
           by: str | Sequence[str] | None = None, stage_map: StageMap | None = None, optional=None,
           exclude=None, open: bool = False, engine: str = "pandas", client=None, address: str | None = None,
           npartitions: int | None = None) -> pd.DataFrame:
    """:func:`cjlib.funnel.funnel` on either engine.

    Each partition matches its units (:func:`cjlib.funnel.funnel_units`, plus the segment of each unit
    with ``by``); the funnel table is then computed from the merged per-unit rows with the funnel
    module's own summary, so it equals the in-process table.

    Parameters
    ----------
    events : pandas DataFrame, Dask DataFrame or Partitioned
        The event log (:func:`cjlib.load_events`), a Dask frame (:func:`cjlib.engine.read_events`) or a
        log shuffled once by :func:`cjlib.engine.partition` / :func:`cjlib.engine.distribute`.
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
    optional, exclude, open
        Funnel options, as :func:`cjlib.funnel.funnel` takes them.
    engine : {"pandas", "dask"}, default "pandas"
        ``"dask"`` runs on customer-shuffled partitions; a Dask DataFrame, a
        :class:`~cjlib.engine.Partitioned`, ``client`` or ``address`` implies it.
    client, address : optional
        Where Dask runs (see :func:`cjlib.engine.get_client`).
    npartitions : int, optional
        Partitions of the shuffle (see :func:`cjlib.engine.partition`).

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
    if _in_process(events, engine, client, address):
        return _fun.funnel(events, steps, window=window, mode=mode, unit=unit, by=by, stage_map=stage_map,
                           optional=optional, exclude=exclude, open=open)
    cols = [] if by is None else ([by] if isinstance(by, str) else list(by))
    if by is not None and not cols:
        raise ValueError("by must be a column name or a non-empty list of column names")
    options = _funnel_options(steps, mode, optional, exclude, open)
    units = _funnel_units_frame(events, steps, window, mode, unit, stage_map, cols, engine, client, address,
                                npartitions, options)
    labels = list(units["last_step"].cat.categories)
    level = units["steps_reached"].to_numpy()
    done = (np.column_stack([_ns(units[lab]) for lab in labels]) if labels
            else np.zeros((len(units), 0), np.int64))
    seg = pd.DataFrame({c: units[_SEG + c].to_numpy() for c in cols}) if cols else None
    entry = units["entry_step"].cat.codes.to_numpy().astype(np.int64) if open else None
    return _fun.funnel_table(level, done, labels, seg, mode=mode, unit=unit, window=window,
                             optional=_match._optional_flags(steps, optional) or None, entry=entry)


def transition_counts(events, *, touch_col: str = "channel", engine: str = "pandas", client=None,
                      address: str | None = None, npartitions: int | None = None) -> pd.DataFrame:
    """:func:`cjlib.journeys.channel_transitions` on either engine: partial counts summed over partitions.

    Parameters
    ----------
    events : pandas DataFrame, Dask DataFrame or Partitioned
        The event log (:func:`cjlib.load_events`), a Dask frame (:func:`cjlib.engine.read_events`) or a
        log shuffled once by :func:`cjlib.engine.partition` / :func:`cjlib.engine.distribute`.
    touch_col : str, default "channel"
        The column whose consecutive values are counted.
    engine : {"pandas", "dask"}, default "pandas"
        ``"dask"`` runs on customer-shuffled partitions; a Dask DataFrame, a
        :class:`~cjlib.engine.Partitioned`, ``client`` or ``address`` implies it.
    client, address : optional
        Where Dask runs (see :func:`cjlib.engine.get_client`).
    npartitions : int, optional
        Partitions of the shuffle (see :func:`cjlib.engine.partition`).

    Returns
    -------
    DataFrame
        Index (``channel_from``, ``channel_to``) sorted, column ``count`` (int64); empty when no customer
        has two touches.
    """
    out = run(events, _jour.channel_transitions, engine=engine, client=client, address=address,
              npartitions=npartitions, reduce="sum", touch_col=touch_col)
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
        The event log (:func:`cjlib.load_events`), a Dask frame (:func:`cjlib.engine.read_events`) or a
        log shuffled once by :func:`cjlib.engine.partition` / :func:`cjlib.engine.distribute`.
    customers, feedback : DataFrame, optional
        Customer attributes and satisfaction feedback, as :func:`cjlib.features.customer_features` takes them.
    cutoff : timestamp-like, optional
        Features use events before it; default the log's last event + 1 s.
    stage_map : StageMap, optional
        Keyword-only; default the project's stage map.
    engine : {"pandas", "dask"}, default "pandas"
        ``"dask"`` runs on customer-shuffled partitions; a Dask DataFrame, a
        :class:`~cjlib.engine.Partitioned`, ``client`` or ``address`` implies it.
    client, address : optional
        Where Dask runs (see :func:`cjlib.engine.get_client`).
    npartitions : int, optional
        Partitions of the shuffle (see :func:`cjlib.engine.partition`).

    Returns
    -------
    DataFrame
        One row per customer, as :func:`cjlib.features.customer_features` returns it.
    """
    if _in_process(events, engine, client, address):
        return _feat.customer_features(events, customers=customers, feedback=feedback, cutoff=cutoff,
                                       stage_map=stage_map)
    sm = stage_map or load_stage_map()
    if cutoff is None:
        mx = _log_wide(events, lambda d: d["timestamp"].max() if len(d) else pd.NaT, client)
        mx = [m for m in (mx if isinstance(mx, list) else [mx]) if not pd.isna(m)]
        if not mx:
            raise ValueError("events is empty: give a cutoff or a non-empty event log")
        cutoff = pd.Timestamp(max(mx)) + pd.Timedelta(seconds=1)
    out = run(events, _features_kernel, engine="dask", client=client, address=address,
              npartitions=npartitions, customers=customers, feedback=feedback, cutoff=cutoff, stage_map=sm)
    # a partition that never saw a channel / other event lacks its column: 0, in the in-process order
    share = sorted(c for c in out.columns if c.startswith("channel_share_"))
    counts = [f"n_{_feat.feature_name(e)}" for e in sm.other_events if f"n_{_feat.feature_name(e)}" in out.columns]
    base = [c for c in out.columns if c not in share and c not in counts]
    base_names = _BASE_FEATURES | {f"share_{_feat.feature_name(s)}" for s in sm.stage_names}  # this map's stages
    first_attr = next((i for i, c in enumerate(base) if c not in base_names), len(base))
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
    "monetary", "aov", "days_to_first_purchase", "days_since_last_purchase", "furthest_stage", "furthest_stage_name",
} | {f"share_{s}" for s in ("awareness", "consideration", "purchase", "retention", "advocacy")}


_TOTALS = "\x00totals"  # the row of a partition's paths table that carries its count (no path has this name)


def _paths_kernel(ev: pd.DataFrame, **kw) -> pd.DataFrame:
    jp = _attr.journey_paths(ev, **kw)
    out = jp.table.set_index("path")
    tot = pd.DataFrame({c: [0.0] for c in out.columns}, index=pd.Index([_TOTALS], name="path"))
    tot["nulls"] = float(jp.conversions_without_touches)  # summed with the paths, taken out after
    return pd.concat([out, tot])


def journey_paths(events, *, conversion_events: Sequence[str] | str | None = None,
                  window: str | pd.Timedelta | None = "30D", touch_col: str = "channel",
                  stage: str | tuple[str, str] | None = None, stage_map=None, collapse_repeats: bool = False,
                  engine: str = "pandas", client=None, address: str | None = None,
                  npartitions: int | None = None):
    """:func:`cjlib.attribution.journey_paths` on either engine: each partition builds its paths table, the
    tables are summed by path (conversions, nulls, value) and sorted by path, and the partitions'
    conversions without touches are summed.

    Parameters
    ----------
    events : pandas DataFrame, Dask DataFrame or Partitioned
        The event log (:func:`cjlib.load_events`), a Dask frame (:func:`cjlib.engine.read_events`) or a
        log shuffled once by :func:`cjlib.engine.partition` / :func:`cjlib.engine.distribute`.
    conversion_events, touch_col, stage, collapse_repeats
        As :func:`cjlib.attribution.paths_from_events` takes them.
    window : str or Timedelta, optional, default "30D"
        How far back from a conversion touches count (``window`` of
        :func:`cjlib.attribution.paths_from_events`); None: no limit.
    stage_map : StageMap, optional
        Keyword-only; default the project's stage map.
    engine : {"pandas", "dask"}, default "pandas"
        ``"dask"`` runs on customer-shuffled partitions; a Dask DataFrame, a
        :class:`~cjlib.engine.Partitioned`, ``client`` or ``address`` implies it.
    client, address : optional
        Where Dask runs (see :func:`cjlib.engine.get_client`).
    npartitions : int, optional
        Partitions of the shuffle (see :func:`cjlib.engine.partition`).

    Returns
    -------
    JourneyPaths
        As :func:`cjlib.attribution.journey_paths` returns it.

    Examples
    --------
    >>> from cjlib import synth
    >>> ev = synth.generate(60, seed=1).events
    >>> a, b = journey_paths(ev), journey_paths(ev, engine="dask")
    >>> a.table.equals(b.table), a.conversions_without_touches == b.conversions_without_touches
    (True, True)
    """
    kw = dict(conversion_events=conversion_events, window=window, touch_col=touch_col, stage=stage,
              stage_map=stage_map, collapse_repeats=collapse_repeats)
    if _in_process(events, engine, client, address):
        return _attr.journey_paths(events, **kw)
    summed = run(events, _paths_kernel, engine="dask", client=client, address=address,
                 npartitions=npartitions, reduce="sum", **kw)
    table = summed.drop(index=_TOTALS).reset_index()
    return _attr.JourneyPaths(table, int(summed.loc[_TOTALS, "nulls"]))


def paths_from_events(events, *, conversion_events: Sequence[str] | str | None = None,
                      window: str | pd.Timedelta | None = "30D", touch_col: str = "channel",
                      stage: str | tuple[str, str] | None = None, stage_map=None, collapse_repeats: bool = False,
                      engine: str = "pandas", client=None, address: str | None = None,
                      npartitions: int | None = None) -> pd.DataFrame:
    """:func:`cjlib.attribution.paths_from_events` on either engine: the ``table`` of :func:`journey_paths`.

    Parameters
    ----------
    events : pandas DataFrame, Dask DataFrame or Partitioned
        As :func:`journey_paths` takes it.
    conversion_events, window, touch_col, stage, stage_map, collapse_repeats, engine, client, address, npartitions
        As :func:`journey_paths` takes them.

    Returns
    -------
    DataFrame
        The paths table of :func:`cjlib.attribution.paths_from_events`.
    """
    return journey_paths(events, conversion_events=conversion_events, window=window, touch_col=touch_col,
                         stage=stage, stage_map=stage_map, collapse_repeats=collapse_repeats, engine=engine,
                         client=client, address=address, npartitions=npartitions).table
