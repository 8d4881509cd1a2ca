"""Any model by name: :func:`compare_models` side by side, :func:`bootstrap` intervals, :func:`parse_models`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cjlib.attribution.heuristic import HEURISTIC_MODELS, _heuristic_frame, _heuristic_weights
from cjlib.attribution.markov import _Chain, _markov_from, _states, _validate_horizon, markov
from cjlib.attribution.paths import _distinct_pairs, _parse, _Paths
from cjlib.attribution.shapley import _simplified_shapley, shapley
from cjlib.errors import DataError

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
    f = _markov_from(p, ch, horizon)
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
        ``paths`` has ``value``. ``attrs["p_conversion"]`` when Markov is among the models.
    """
    models = list(models)
    for m in models:
        _check_model(m)
    _validate_horizon(horizon)
    p = _parse(paths)
    cols, vals = {}, {}
    attrs = {}
    for m in models:
        if m == "markov":
            f = markov(p, order=order, horizon=horizon)
            attrs.update(p_conversion=f.attrs["p_conversion"], order=order, horizon=str(horizon))
            cols[m], vals[m] = f["conversions"].to_numpy(), (f["value"].to_numpy() if "value" in f else None)
        else:
            cols[m], vals[m] = _attribute(p, m)
    out = pd.DataFrame(cols, index=pd.Index(p.channels.astype(str), name="channel"))
    for m in models:
        if vals[m] is not None:
            out[f"{m}_value"] = vals[m]
    out.attrs.update(attrs)
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


def bootstrap(paths: pd.DataFrame, model: str = "markov", n_boot: int = 200, seed: int = 0, ci: float = 0.95,
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
    ci : float, default 0.95
        Coverage of the percentile interval, in (0, 1).
    value : bool, default False
        Bootstrap the attributed value instead of conversions (needs ``value`` in ``paths``).
    **kw
        Passed to the model: ``order``, ``horizon`` (Markov), ``shapley_method`` (Shapley).

    Returns
    -------
    DataFrame
        Indexed by ``channel``: ``estimate`` (the model on the full data), ``lower``, ``upper``, ``std``.
        ``attrs``: ``model``, ``n_boot``, ``ci``, ``seed``, ``failed`` (replicates without conversions,
        skipped).
    """
    _check_model(model)
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not (isinstance(ci, float) and 0 < ci < 1):
        raise ValueError(f"ci must be a float in (0, 1), got {ci!r}")
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
    failed = 0
    for _ in range(n_boot):
        q = _resample(p, rng)
        if op is not None:
            reps.append(op @ (q.value if value else q.conv))
            continue
        try:
            reps.append(_attribute(q, model, chain=chain, **kw)[pick])
        except DataError:
            failed += 1
    if not reps:
        raise DataError("every bootstrap replicate lacked conversions", rule="no_conversions")
    R = np.vstack(reps)
    a = (1 - ci) / 2
    out = pd.DataFrame({"estimate": est, "lower": np.quantile(R, a, axis=0), "upper": np.quantile(R, 1 - a, axis=0),
                        "std": R.std(axis=0, ddof=1) if len(R) > 1 else np.zeros(len(est))},
                       index=pd.Index(p.channels.astype(str), name="channel"))
    out.attrs.update(model=model, n_boot=int(n_boot), ci=float(ci), seed=int(seed), failed=failed,
                     column="value" if value else "conversions")
    return out


def parse_models(models: str | Sequence[str]) -> list[str]:
    """The models of a comma-separated list (``"markov,linear"``), in order, without repeats.

    ``time_decay`` is accepted besides :data:`MODELS`. Raises ``ValueError`` naming the accepted models.

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
