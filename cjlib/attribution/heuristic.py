"""Rule-based attribution: first touch, last touch, linear, position based, and time decay (from events)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjlib.attribution.distributed import is_partitioned, log_columns, time_decay_merged
from cjlib.attribution.journeys import _check_columns, _journeys
from cjlib.attribution.paths import _NO_LIMIT, _parse, _Paths, _stage_map, _timedelta_ns

HEURISTIC_MODELS = ("first_touch", "last_touch", "linear", "position_based")


def _heuristic_weights(p: _Paths) -> dict[str, np.ndarray]:
    """Per-touch share of its path's conversion for each heuristic model."""
    n_tok = len(p.tok)
    pos = np.arange(n_tok) - p.starts[p.pid]
    L = p.lens[p.pid]
    first = (pos == 0).astype(float)
    last = (pos == L - 1).astype(float)
    linear = 1.0 / L
    mid = np.where(L > 2, 0.2 / np.maximum(L - 2, 1), 0.0)
    pb = np.where(L == 1, 1.0, np.where(L == 2, 0.5, np.where((pos == 0) | (pos == L - 1), 0.4, mid)))
    return {"first_touch": first, "last_touch": last, "linear": linear, "position_based": pb}


def heuristic(paths: pd.DataFrame, *, models: Sequence[str] = HEURISTIC_MODELS) -> pd.DataFrame:
    """Rule-based attribution: first touch, last touch, linear and position based (40/20/40).

    Each path's conversions (and value) are shared among its touches, repeats included:

    - ``first_touch`` / ``last_touch``: all to the first / last touch;
    - ``linear``: equally over the touches (``a > a > b``: a ⅔, b ⅓);
    - ``position_based``: 40 % to the first touch, 40 % to the last, 20 % split equally over the touches in
      between; a one-touch path gives 100 %, a two-touch path 50/50.

    Parameters
    ----------
    paths : DataFrame
        A paths table (``path``, ``conversions``, ``nulls``, optional ``value``).
    models : sequence of str
        Which of ``first_touch``, ``last_touch``, ``linear``, ``position_based`` to compute.

    Returns
    -------
    DataFrame
        Indexed by ``channel`` (sorted by name; channels seen only on non-converting paths get 0), one
        column of attributed conversions per model and, when ``paths`` has ``value``, ``<model>_value``.
        Each column sums to the total conversions (value).

    Examples
    --------
    >>> t = pd.DataFrame({"path": ["a > b", "b"], "conversions": [2.0, 1.0], "nulls": [0.0, 3.0]})
    >>> heuristic(t)["first_touch"].to_dict()
    {'a': 2.0, 'b': 1.0}
    """
    models = list(models)
    bad = [m for m in models if m not in HEURISTIC_MODELS]
    if bad:
        raise ValueError(f"models must be among {list(HEURISTIC_MODELS)}, got {bad}")
    p = _parse(paths)
    return _heuristic_frame(p, models)


def _heuristic_frame(p: _Paths, models: Sequence[str]) -> pd.DataFrame:
    C = len(p.channels)
    w = _heuristic_weights(p)
    cols = {}
    for m in models:
        cols[m] = np.bincount(p.tok, weights=w[m] * p.conv[p.pid], minlength=C)
    if p.value is not None:
        for m in models:
            cols[f"{m}_value"] = np.bincount(p.tok, weights=w[m] * p.value[p.pid], minlength=C)
    return pd.DataFrame(cols, index=pd.Index(p.channels.astype(str), name="channel"))


def time_decay(
    events: pd.DataFrame,
    half_life: str | pd.Timedelta = "7D",
    *,
    conversion_events: Sequence[str] | str | None = None,
    window: str | pd.Timedelta | None = "30D",
    touch_col: str = "channel",
    stage: str | tuple[str, str] | None = None,
    stage_map=None,
) -> pd.DataFrame:
    """Time-decay attribution: touches closer to the conversion earn more.

    Journeys are built exactly as in :func:`paths_from_events` (same parameters). A touch ``Δ`` before its
    journey's conversion gets weight ``2 ** (-Δ / half_life)``; each conversion (and its value) is split
    over its journey's touches in proportion to their weights.

    Parameters
    ----------
    events : DataFrame or Partitioned
        Event log (see :func:`paths_from_events`); on a partitioned log each partition's sums are added by
        channel.
    half_life : str or Timedelta, default "7D"
        A touch this long before the conversion weighs half as much as one at the conversion.
    window : str, Timedelta or None, default "30D"
        How far before the conversion touches count (``window`` of :func:`paths_from_events`).
    conversion_events, touch_col, stage, stage_map
        As in :func:`paths_from_events`.

    Returns
    -------
    DataFrame
        Indexed by ``channel`` (every touch value seen in a journey, sorted): ``time_decay`` and, when the
        events have ``revenue``, ``time_decay_value``. Sums to the conversions with at least one touch.
    """
    hl = _timedelta_ns(half_life, "half_life")
    if hl == _NO_LIMIT:
        raise ValueError("half_life must be a finite duration")
    if is_partitioned(events):  # per customer on the workers, the partitions' sums added by channel
        _check_columns(events, touch_col)
        _timedelta_ns(window, "window")
        cols = ["time_decay"] + (["time_decay_value"] if "revenue" in log_columns(events) else [])
        empty = pd.DataFrame({c: pd.Series(dtype=float) for c in cols}, index=pd.Index([], dtype=object, name="channel"))
        return time_decay_merged(events, empty, half_life=half_life, conversion_events=conversion_events,
                                 window=window, touch_col=touch_col, stage=stage, stage_map=_stage_map(stage_map))
    j = _journeys(events, conversion_events=conversion_events, window=window, touch_col=touch_col,
                  stage=stage, stage_map=stage_map, collapse_repeats=False)
    conv_touch = j.converted[j.jid]
    w = np.where(conv_touch, np.exp2(-(j.end_ts[j.jid] - j.touch_ts).astype(float) / hl), 0.0)
    tot = np.bincount(j.jid, weights=w, minlength=len(j.converted))
    share = np.divide(w, tot[j.jid], out=np.zeros_like(w), where=tot[j.jid] > 0)
    seen = np.unique(j.tok)
    out = pd.DataFrame({"time_decay": np.bincount(j.tok, weights=share, minlength=len(j.names))[seen]},
                       index=pd.Index(j.names[seen].astype(str), name="channel"))
    if j.value is not None:
        out["time_decay_value"] = np.bincount(j.tok, weights=share * j.value[j.jid], minlength=len(j.names))[seen]
    return out
