"""Any model by name: :func:`compare_models` side by side, :func:`bootstrap` intervals, :func:`parse_models`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cjlib.attribution.heuristic import HEURISTIC_MODELS, _heuristic_frame, _heuristic_weights
from cjlib.attribution.markov import (
    _Chain,
    _markov_from,
    _states,
    _validate_horizon,
    markov,
    markov_chain,
)
from cjlib.attribution.paths import _distinct_pairs, _parse, _Paths
from cjlib.attribution.shapley import _simplified_shapley, shapley
from cjlib.errors import DataError
from cjlib.progress import progress

MODELS = HEURISTIC_MODELS + ("markov", "shapley")


def _check_model(model: str) -> None:
    if model not in MODELS:
        raise ValueError(f"model must be one of {list(MODELS)}, got {model!r}")


def _attribute(p: _Paths, model: str, *, chain: _Chain | None = None, order: int = 1,
               horizon="infinite", shapley_method: str = "simplified") -> tuple[np.ndarray, np.ndarray | None]:
    """Attributed conversions (and value) per channel of ``p.channels`` under ``model``."""
    if model in HEURISTIC_MODELS:
        f = _heuristic_frame(p, [model])
        return f[model].to_numpy(), (f[f"{model}_value"].to_numpy() if p.value is not None else None)
    if model == "shapley":
        f = _simplified_shapley(p) if shapley_method == "simplified" else shapley(p, method=shapley_method)
        return f["shapley"].to_numpy(), (f["shapley_value"].to_numpy() if "shapley_value" in f else None)
    ch = chain if chain is not None else _states(p, order)
    f = _markov_from(p, ch, horizon).table
    return f["conversions"].to_numpy(), (f["value"].to_numpy() if "value" in f else None)


def compare_models(paths: pd.DataFrame, models: Sequence[str] = MODELS, *, order: int = 1,
                   horizon: str | int = "infinite") -> pd.DataFrame:
    """Attributed conversions per channel under several models, side by side.

    Parameters
    ----------
    paths : DataFrame
        A paths table.
    models : sequence of str
        Among ``first_touch``, ``last_touch``, ``linear``, ``position_based``, ``markov``, ``shapley``
        (simplified).
    order, horizon
        Passed to :func:`markov`.

    Returns
    -------
    DataFrame
        Indexed by ``channel``: one column of conversions per model and ``<model>_value`` columns when
        ``paths`` has ``value`` (:func:`markov` itself gives P(conversion) and the removal effects).
    """
    models = list(models)
    for m in models:
        _check_model(m)
    _validate_horizon(horizon)
    p = _parse(paths)
    cols, vals = {}, {}
    for m in models:
        if m == "markov":
            f = markov(p, order=order, horizon=horizon)
            cols[m], vals[m] = f["conversions"].to_numpy(), (f["value"].to_numpy() if "value" in f else None)
        else:
            cols[m], vals[m] = _attribute(p, m)
    out = pd.DataFrame(cols, index=pd.Index(p.channels.astype(str), name="channel"))
    for m in models:
        if vals[m] is not None:
            out[f"{m}_value"] = vals[m]
    return out


def _resample(p: _Paths, rng: np.random.Generator) -> _Paths:
    cells = np.r_[p.conv, p.nulls]
    total = int(round(cells.sum()))
    draw = rng.multinomial(total, cells / cells.sum()).astype(float)
    conv, nulls = draw[: p.n], draw[p.n:]
    value = None
    if p.value is not None:
        per = np.divide(p.value, p.conv, out=np.zeros_like(p.value), where=p.conv > 0)
        value = per * conv
    return p.with_counts(conv, nulls, value)


def _linear_operator(p: _Paths, model: str) -> sp.csr_matrix:
    """(channels × paths) matrix: attributed conversions = operator @ conversions per path."""
    C = len(p.channels)
    if model == "shapley":
        pid, ch = _distinct_pairs(p)
        k = np.bincount(pid, minlength=p.n).astype(float)
        return sp.csr_matrix((1.0 / k[pid], (ch, pid)), shape=(C, p.n))
    w = _heuristic_weights(p)[model]
    return sp.csr_matrix((w, (p.tok, p.pid)), shape=(C, p.n))


def bootstrap(paths: pd.DataFrame, model: str = "markov", n_boot: int = 200, seed: int = 0, confidence: float = 0.95,
              *, value: bool = False, **kw) -> pd.DataFrame:
    """Bootstrap confidence intervals of attributed conversions (or value) for any model.

    Journeys are the resampling unit: each replicate draws as many journeys as the table holds, with
    replacement, multinomially over the (path, converted) and (path, not converted) cells in proportion to
    their counts; a resampled path keeps its mean value per conversion. The model is refitted on each
    replicate (for Markov the state space is built once). Percentile intervals.

    Parameters
    ----------
    paths : DataFrame
        A paths table with integer counts (fractional counts are resampled on their rounded total).
    model : str, default "markov"
        One of ``first_touch``, ``last_touch``, ``linear``, ``position_based``, ``markov``, ``shapley``.
    n_boot : int, default 200
        Number of replicates.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`; same data + parameters + seed → same numbers.
    confidence : float, default 0.95
        Coverage of the percentile interval, in (0, 1).
    value : bool, default False
        Bootstrap the attributed value instead of conversions (needs ``value`` in ``paths``).
    **kw
        Passed to the model: ``order``, ``horizon`` (Markov), ``shapley_method`` (Shapley).

    Returns
    -------
    DataFrame
        Indexed by ``channel``: ``estimate`` (the model on the full data), ``lower``, ``upper``, ``std``.
        A replicate without conversions is skipped (a :class:`~cjlib.errors.DataError` when every one is).
    """
    _check_model(model)
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not (isinstance(confidence, float) and 0 < confidence < 1):
        raise ValueError(f"confidence must be a float in (0, 1), got {confidence!r}")
    unknown = set(kw) - {"order", "horizon", "shapley_method"}
    if unknown:
        raise TypeError(f"unknown model arguments {sorted(unknown)}; accepted: order, horizon, shapley_method")
    if "horizon" in kw:
        _validate_horizon(kw["horizon"])
    p = _parse(paths)
    if value and p.value is None:
        raise ValueError("value=True needs a 'value' column in paths")
    chain = _states(p, kw.get("order", 1)) if model == "markov" else None
    pick = 1 if value else 0
    est = _attribute(p, model, chain=chain, **kw)[pick]
    # heuristics and the simplified Shapley value are linear in the counts: one sparse operator
    op = None
    if model in HEURISTIC_MODELS or (model == "shapley" and kw.get("shapley_method", "simplified") == "simplified"):
        op = _linear_operator(p, model)
    rng = np.random.default_rng(seed)
    reps = []
    for _ in progress(range(n_boot), desc=f"bootstrap ({model})"):
        q = _resample(p, rng)
        if op is not None:
            reps.append(op @ (q.value if value else q.conv))
            continue
        try:
            reps.append(_attribute(q, model, chain=chain, **kw)[pick])
        except DataError:
            continue  # a replicate without conversions has nothing to attribute
    if not reps:
        raise DataError("every bootstrap replicate lacked conversions", rule="no_conversions")
    R = np.vstack(reps)
    a = (1 - confidence) / 2
    out = pd.DataFrame({"estimate": est, "lower": np.quantile(R, a, axis=0), "upper": np.quantile(R, 1 - a, axis=0),
                        "std": R.std(axis=0, ddof=1) if len(R) > 1 else np.zeros(len(est))},
                       index=pd.Index(p.channels.astype(str), name="channel"))
    return out


def parse_models(models: str | Sequence[str]) -> list[str]:
    """The models of a comma-separated list (``"markov,linear"``), in order, without repeats.

    ``time_decay`` is accepted besides :data:`MODELS`. Raises ``ValueError`` naming the accepted models.

    Parameters
    ----------
    models : str or sequence of str
        Comma-separated model names, or a sequence of them.

    Returns
    -------
    list of str

    Examples
    --------
    >>> parse_models("markov, linear,markov")
    ['markov', 'linear']
    """
    items = models.split(",") if isinstance(models, str) else list(models)
    out = list(dict.fromkeys(str(m).strip() for m in items if str(m).strip()))
    known = list(MODELS) + ["time_decay"]
    if not out or set(out) - set(known):
        raise ValueError(f"models must be a comma-separated list of {known}, got {models!r}")
    return out


@dataclass(frozen=True)
class ModelComparison:
    """Every requested model on one paths table, with intervals (:func:`model_comparison`).

    Attributes
    ----------
    attributed : DataFrame
        Indexed by ``channel``: one column of attributed conversions per model, in the order asked, then
        the ``<model>_value`` columns there are.
    markov : MarkovChain
        :func:`~cjlib.attribution.markov_chain` of the paths (removal effects, P(conversion)).
    intervals : dict of str to DataFrame
        :func:`bootstrap` result per model of the paths table (every model but ``time_decay``).
    models : tuple of str
        The models, in the order asked.
    conversions : float
        The conversions with at least one touch (what every model shares out).
    """

    attributed: pd.DataFrame
    markov: pd.DataFrame
    intervals: dict
    models: tuple
    conversions: float


def model_comparison(events: pd.DataFrame, paths: pd.DataFrame, *, models: str | Sequence[str] = MODELS,
                     order: int = 1, half_life: str | pd.Timedelta = "7D", window: str | pd.Timedelta | None = "30D",
                     touch_col: str = "channel", stage_map=None, n_boot: int = 100, seed: int = 0) -> ModelComparison:
    """The report's model comparison: every model side by side, Markov removal effects, bootstrap intervals.

    Parameters
    ----------
    events : DataFrame
        The event log ``paths`` was built from (``time_decay`` needs its timestamps).
    paths : DataFrame
        :func:`~cjlib.attribution.paths_from_events` of ``events`` with the same ``window`` and ``touch_col``.
    models : str or sequence of str
        As :func:`parse_models` reads them; ``time_decay`` is computed from ``events``.
    order : int, default 1
        Markov order (for ``markov`` and its intervals).
    half_life : str or Timedelta, default "7D"
        Of ``time_decay``.
    window : str, Timedelta or None, default "30D"
        How far before a conversion touches count (``time_decay``; ``paths`` was built with it).
    touch_col : str, default "channel"
        The column whose values are the touches.
    stage_map : StageMap or path, optional
    n_boot : int, default 100
        Bootstrap replicates per model.
    seed : int, default 0

    Returns
    -------
    ModelComparison

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b", "b"], "event": ["page_view", "purchase"] * 2,
    ...                    "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01", "2025-01-03"]),
    ...                    "channel": ["email", None, "search", None]})
    >>> from cjlib.attribution import paths_from_events
    >>> paths = paths_from_events(ev, window="30D")
    >>> model_comparison(ev, paths, models="last_touch,time_decay", n_boot=5).attributed
             last_touch  time_decay
    channel
    email           1.0         1.0
    search          1.0         1.0
    """
    from cjlib.attribution.heuristic import time_decay

    model_list = parse_models(models)
    path_models = [m for m in model_list if m in MODELS]
    attributed = compare_models(paths, path_models, order=order)
    if "time_decay" in model_list:
        td = time_decay(events, half_life, window=window, touch_col=touch_col, stage_map=stage_map)
        attributed = attributed.join(td, how="outer").fillna(0.0)
    attributed = attributed[model_list + [f"{m}_value" for m in model_list if f"{m}_value" in attributed.columns]]
    intervals = {m: bootstrap(paths, m, n_boot=n_boot, seed=seed, **({"order": order} if m == "markov" else {}))
                 for m in path_models}
    return ModelComparison(attributed, markov_chain(paths, order=order), intervals, tuple(model_list),
                           float(paths["conversions"].sum()))
