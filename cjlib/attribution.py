"""Channel and stage attribution: heuristics, exact Markov chains, Shapley values, bootstrap intervals.

The central table is the **paths table**: one row per distinct journey path with columns

``path``
    the touches in order, joined by ``" > "`` (``"email > search > email"``);
``conversions``
    how many journeys along this path converted;
``nulls``
    how many did not;
``value`` (optional)
    the total conversion value of the converting journeys.

:func:`read_paths` reads it from our CSV or from ChannelAttribution's ``;``-separated format;
:func:`paths_from_events` builds it from an event log (for all conversions or for one stage transition).

Every model takes a paths table and returns a DataFrame indexed by ``channel``:

- :func:`heuristic` — first touch, last touch, linear, position based (40/20/40);
- :func:`markov` — removal effects of an order-k Markov chain, solved exactly (sparse linear algebra, no
  simulation), with the textbook infinite horizon or ChannelAttribution's step limit;
- :func:`shapley` — the simplified Shapley value and an exact coalition Shapley value;
- :func:`time_decay` — from an event log, since it needs timestamps.

:func:`bootstrap` adds confidence intervals to any of them, :func:`stage_attribution` runs a model on every
stage transition of the stage map, :func:`stage_contribution` attributes conversions to touchpoint events
summed by stage, and :func:`cost_per_conversion` joins channel spend.

Channel names may hold spaces and any Unicode character except ``>`` (the separator). Surrounding spaces
are trimmed and empty names dropped; a path left without channels is dropped (with a
:class:`~cjlib.errors.DataWarning` when it carried conversions).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import factorial
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from cjlib.errors import DataError, DataWarning

__all__ = [
    "SEP",
    "read_paths",
    "paths_from_events",
    "heuristic",
    "markov",
    "transition_matrix",
    "shapley",
    "time_decay",
    "compare_models",
    "bootstrap",
    "stage_transitions",
    "stage_attribution",
    "stage_contribution",
    "cost_per_conversion",
    "HEURISTIC_MODELS",
    "MODELS",
]

SEP = " > "
START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
HEURISTIC_MODELS = ("first_touch", "last_touch", "linear", "position_based")
MODELS = HEURISTIC_MODELS + ("markov", "shapley")
MAX_EXACT_SHAPLEY_CHANNELS = 15


# ============================================================================================ paths table
def _check_paths(paths: pd.DataFrame, name: str = "paths") -> None:
    if not isinstance(paths, pd.DataFrame):
        raise TypeError(f"{name} must be a paths DataFrame (path, conversions, nulls[, value]), got {type(paths)}")
    missing = [c for c in ("path", "conversions", "nulls") if c not in paths.columns]
    if missing:
        raise DataError(f"{name} lacks columns {missing}; a paths table has path, conversions, nulls[, value]",
                        column=missing[0], rule="missing_column")
    for c in ("conversions", "nulls") + (("value",) if "value" in paths.columns else ()):
        v = pd.to_numeric(paths[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isfinite(v) | (v < 0)
        if bad.any():
            rows = [f"{p!r}: {x}" for p, x in zip(paths["path"].to_numpy()[bad][:5], paths[c].to_numpy()[bad][:5])]
            raise DataError(f"{name}.{c} must be finite and non-negative", column=c, rule="non_negative",
                            examples=rows)


def read_paths(file: str | Path) -> pd.DataFrame:
    """Read a paths table from our CSV or from ChannelAttribution's ``;``-separated format.

    Parameters
    ----------
    file : str or Path
        Relative paths are taken from the project root. Two layouts are recognised by their header:

        - ChannelAttribution: ``path;total_conversions;total_conversion_value;total_null`` (the value
          column is optional), channels joined by ``>``;
        - ours: comma-separated ``path,conversions,nulls[,value]``, channels joined by ``" > "``.

    Returns
    -------
    DataFrame
        Columns ``path`` (channels joined by ``" > "``, names trimmed, empty names dropped),
        ``conversions``, ``nulls`` (float) and ``value`` when the file has values. Rows whose path has no
        channel left are dropped. Row order is the file's.

    Examples
    --------
    >>> import io
    >>> read_paths(io.StringIO("path;total_conversions;total_null\\na>b;1;2\\n")).path.tolist()
    ['a > b']
    """
    from cjlib.paths import resolve

    src = file if hasattr(file, "read") else resolve(file)
    if not hasattr(src, "read") and not Path(src).is_file():
        raise DataError("paths file not found", file=str(src), rule="file_exists")
    head = src.readline() if hasattr(src, "read") else Path(src).open(encoding="utf-8").readline()
    if hasattr(src, "read"):
        src.seek(0)
    sep = ";" if head.count(";") > head.count(",") else ","
    raw = pd.read_csv(src, sep=sep, dtype={0: str}, keep_default_na=False, na_values={"": []})
    cols = {c: c.strip() for c in raw.columns}
    raw = raw.rename(columns=cols)
    rename = {"total_conversions": "conversions", "total_null": "nulls", "total_conversion_value": "value"}
    raw = raw.rename(columns=rename)
    missing = [c for c in ("path", "conversions", "nulls") if c not in raw.columns]
    if missing:
        raise DataError(f"not a paths file: lacks {missing}", file=str(file), column=missing[0],
                        rule="missing_column")
    out = pd.DataFrame({"path": _normalise_path_strings(raw["path"].astype(str).to_numpy(dtype=object))})
    for c in ("conversions", "nulls", "value"):
        if c in raw.columns:
            out[c] = pd.to_numeric(raw[c], errors="coerce").astype(float)
    try:
        _check_paths(out, "paths")
    except DataError as exc:
        raise DataError(exc.message, file=str(file), column=exc.column, rule=exc.rule,
                        examples=exc.examples) from None
    keep = out["path"].to_numpy() != ""
    return out[keep].reset_index(drop=True)


def _normalise_path_strings(strings: np.ndarray) -> np.ndarray:
    """Re-join each path's trimmed, non-empty channel names with ``" > "`` (vectorized over tokens)."""
    p = _tokenize(strings)
    return _join_paths(p.tok, p.pid, len(strings), p.channels)


def _join_paths(tok: np.ndarray, pid: np.ndarray, n: int, names: np.ndarray) -> np.ndarray:
    """Join token codes per path id into ``" > "`` strings; ``pid`` must be sorted."""
    out = np.full(n, "", dtype=object)
    if len(tok) == 0:
        return out
    lab = np.asarray(names, dtype=object)[tok]
    starts = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])
    is_last = np.r_[pid[1:] != pid[:-1], True]
    pieces = np.where(is_last, lab, lab + SEP)
    out[pid[starts]] = np.add.reduceat(pieces, starts)
    return out


@dataclass(frozen=True)
class _Tokens:
    channels: np.ndarray  # sorted channel names (object)
    tok: np.ndarray  # channel code of each touch, paths concatenated in row order
    pid: np.ndarray  # row (path) of each touch, non-decreasing
    n: int


def _tokenize(strings: np.ndarray) -> _Tokens:
    """Split path strings on ``>`` into channel codes: one join, one split, one factorize."""
    n = len(strings)
    strings = [s if isinstance(s, str) else "" for s in strings]
    counts = np.fromiter((s.count(">") for s in strings), dtype=np.int64, count=n) + 1
    toks = ">".join(strings).split(">") if n else []
    codes, uniq = pd.factorize(np.asarray(toks, dtype=object))
    stripped = np.array([u.strip() for u in uniq], dtype=object)
    names = np.unique(stripped[stripped != ""]).astype(object) if len(stripped) else np.array([], dtype=object)
    lookup = np.where(stripped != "", np.searchsorted(names, stripped), -1) if len(stripped) else np.array([], int)
    tok = lookup[codes] if len(codes) else np.array([], dtype=np.int64)
    pid = np.repeat(np.arange(n, dtype=np.int64), counts)
    keep = tok >= 0
    return _Tokens(names, tok[keep].astype(np.int64), pid[keep], n)


@dataclass(frozen=True)
class _Paths:
    """A parsed paths table: tokens plus per-path counts; paths without touches or journeys removed."""

    channels: np.ndarray
    tok: np.ndarray
    pid: np.ndarray
    starts: np.ndarray
    lens: np.ndarray
    conv: np.ndarray
    nulls: np.ndarray
    value: np.ndarray | None

    @property
    def n(self) -> int:
        return len(self.lens)

    def with_counts(self, conv: np.ndarray, nulls: np.ndarray, value: np.ndarray | None) -> _Paths:
        return _Paths(self.channels, self.tok, self.pid, self.starts, self.lens, conv, nulls, value)


def _parse(paths: pd.DataFrame) -> _Paths:
    if isinstance(paths, _Paths):
        return paths
    _check_paths(paths)
    t = _tokenize(paths["path"].to_numpy(dtype=object))
    conv = paths["conversions"].to_numpy(dtype=float)
    nulls = paths["nulls"].to_numpy(dtype=float)
    value = paths["value"].to_numpy(dtype=float) if "value" in paths.columns else None
    lens = np.bincount(t.pid, minlength=t.n)
    keep_path = (lens > 0) & (conv + nulls > 0)
    lost = conv[(lens == 0)].sum()
    if lost > 0:
        warnings.warn(f"{lost:g} conversions on paths without any channel were dropped", DataWarning,
                      stacklevel=3)
    if not keep_path.all():
        newid = np.cumsum(keep_path) - 1
        keep_tok = keep_path[t.pid]
        tok, pid = t.tok[keep_tok], newid[t.pid[keep_tok]]
        lens, conv, nulls = lens[keep_path], conv[keep_path], nulls[keep_path]
        value = value[keep_path] if value is not None else None
    else:
        tok, pid = t.tok, t.pid
    starts = np.r_[0, np.cumsum(lens)[:-1]].astype(np.int64) if len(lens) else np.zeros(0, np.int64)
    return _Paths(t.channels, tok, pid, starts, lens, conv, nulls, value)


# ============================================================================================ heuristics
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


def _distinct_pairs(p: _Paths) -> tuple[np.ndarray, np.ndarray]:
    """(path id, channel) of each distinct channel on each path."""
    C = max(len(p.channels), 1)
    key = np.unique(p.pid * C + p.tok)
    return key // C, key % C


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


# ============================================================================================ Markov
@dataclass(frozen=True)
class _Chain:
    """Order-k state sequences of a parsed paths table and the transition structure (counts-free)."""

    order: int
    channels: np.ndarray
    state_digits: np.ndarray  # (n_states, order) channel codes, -1 padding for states shorter than order
    pair_from: np.ndarray  # unique transient→transient pairs (0 = start, s+1 = state s)
    pair_to: np.ndarray
    pair_inv: np.ndarray  # pair index of each transition occurrence
    occ_pid: np.ndarray  # path of each transition occurrence
    last_state: np.ndarray  # transient index (≥1) of each path's last state
    horizon: int  # ChannelAttribution's step limit: longest collapsed path + 1

    @property
    def n_transient(self) -> int:
        return len(self.state_digits) + 1


def _states(p: _Paths, order: int) -> _Chain:
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    C = len(p.channels)
    B = C + 1
    if float(B) ** order > 2.0**62:
        raise ValueError(f"order={order} with {C} channels is too large to encode the states")
    n_tok = len(p.tok)
    pos = np.arange(n_tok) - p.starts[p.pid]
    L = p.lens[p.pid]
    is_start = np.where(L >= order, pos <= L - order, pos == 0)
    j = np.flatnonzero(is_start)
    code = np.zeros(len(j), dtype=np.int64)
    for i in range(order):
        idx = j + i
        valid = (pos[j] + i) < L[j]
        digit = np.where(valid, p.tok[np.minimum(idx, max(n_tok - 1, 0))] + 1, 0)
        code = code * B + digit
    spid = p.pid[j]
    # collapse consecutive identical states within a path
    keep = np.r_[True, (spid[1:] != spid[:-1]) | (code[1:] != code[:-1])]
    code, spid = code[keep], spid[keep]
    uniq, sid = np.unique(code, return_inverse=True)
    digits = np.empty((len(uniq), order), dtype=np.int64)
    rem = uniq.copy()
    for i in range(order - 1, -1, -1):
        digits[:, i] = rem % B - 1
        rem //= B
    t = sid + 1  # transient index
    first = np.r_[True, spid[1:] != spid[:-1]]
    last = np.r_[spid[1:] != spid[:-1], True]
    # transitions: (start) → first state, and state → next state within a path
    frm = np.where(first, 0, np.r_[0, t[:-1]])
    to = t
    n_t = len(uniq) + 1
    key = frm * n_t + to
    ukey, inv = np.unique(key, return_inverse=True)
    n_states_per_path = np.bincount(spid, minlength=p.n)
    horizon = int(n_states_per_path.max()) + 1 if p.n else 1
    return _Chain(order, p.channels, digits, ukey // n_t, ukey % n_t, inv, spid, t[last], horizon)


@dataclass(frozen=True)
class _Probs:
    Q: sp.csr_matrix  # transient → transient probabilities
    r_conv: np.ndarray  # transient → (conversion)
    r_null: np.ndarray
    r_value: np.ndarray  # r_conv × mean value per conversion of paths ending in the state
    counts: sp.csr_matrix
    conv_counts: np.ndarray
    null_counts: np.ndarray


def _probabilities(ch: _Chain, p: _Paths) -> _Probs:
    n_t = ch.n_transient
    w = p.conv + p.nulls
    pair_counts = np.bincount(ch.pair_inv, weights=w[ch.occ_pid], minlength=len(ch.pair_from))
    counts = sp.csr_matrix((pair_counts, (ch.pair_from, ch.pair_to)), shape=(n_t, n_t))
    conv_c = np.bincount(ch.last_state, weights=p.conv, minlength=n_t)
    null_c = np.bincount(ch.last_state, weights=p.nulls, minlength=n_t)
    tot = np.asarray(counts.sum(axis=1)).ravel() + conv_c + null_c
    inv = np.divide(1.0, tot, out=np.zeros_like(tot), where=tot > 0)
    Q = sp.diags(inv) @ counts
    r_conv = conv_c * inv
    if p.value is not None:
        val_c = np.bincount(ch.last_state, weights=p.value, minlength=n_t)
        rate = np.divide(val_c, conv_c, out=np.zeros_like(val_c), where=conv_c > 0)
        r_value = r_conv * rate
    else:
        r_value = r_conv * 0.0
    return _Probs(Q.tocsr(), r_conv, null_c * inv, r_value, counts, conv_c, null_c)


def _keep_mask(ch: _Chain, c: int) -> np.ndarray:
    """Transient states kept when channel ``c`` is removed (the start state always is)."""
    return np.r_[True, ~(ch.state_digits == c).any(axis=1)]


def _absorb_infinite(ch: _Chain, pr: _Probs) -> np.ndarray:
    """P(conversion) and expected value from (start), full chain then each channel removed: (C+1, 2)."""
    n_t = ch.n_transient
    A = (sp.identity(n_t, format="csc") - pr.Q.tocsc()).tocsc()
    b = np.column_stack([pr.r_conv, pr.r_value])
    out = np.empty((len(ch.channels) + 1, 2))
    out[0] = splu(A).solve(b)[0]
    for c in range(len(ch.channels)):
        keep = _keep_mask(ch, c)
        idx = np.flatnonzero(keep)
        sub = A[idx][:, idx].tocsc()
        out[c + 1] = splu(sub).solve(np.ascontiguousarray(b[idx]))[0]
    return out


def _absorb_horizon(ch: _Chain, pr: _Probs, steps: int) -> np.ndarray:
    """As :func:`_absorb_infinite`, walks stopped after ``steps`` states (unabsorbed = no conversion)."""
    n_t = ch.n_transient
    C = len(ch.channels)
    QT = pr.Q.T.tocsr()
    out = np.empty((C + 1, 2))
    chunk = max(1, min(C + 1, 4_000_000 // max(n_t, 1)))
    scenarios = np.arange(C + 1)  # 0 = nothing removed, c+1 = channel c removed
    for lo in range(0, C + 1, chunk):
        sc = scenarios[lo:lo + chunk]
        M = np.column_stack([np.ones(n_t, bool) if s == 0 else _keep_mask(ch, s - 1) for s in sc])
        V = np.zeros((n_t, len(sc)))
        V[0] = 1.0
        acc_c = np.zeros(len(sc))
        acc_v = np.zeros(len(sc))
        for _ in range(steps):
            V = (QT @ V) * M  # one more state visited; removed states send the walk to (null)
            acc_c += pr.r_conv @ V
            acc_v += pr.r_value @ V
        out[sc, 0] = acc_c
        out[sc, 1] = acc_v
    return out


def _validate_horizon(horizon) -> None:
    if not (horizon in ("infinite", "ca") or (isinstance(horizon, (int, np.integer)) and not isinstance(horizon, bool)
                                               and horizon >= 1)):
        raise ValueError(f"horizon must be 'infinite', 'ca' or a positive integer number of states, got {horizon!r}")


def markov(paths: pd.DataFrame, order: int = 1, horizon: str | int = "infinite") -> pd.DataFrame:
    """Markov-chain attribution by removal effects, computed exactly from the absorbing chain.

    States are sliding windows of ``order`` consecutive channels of each path (a path shorter than
    ``order`` is one state); consecutive identical states collapse (``a > a > b`` is ``a, b`` at order 1).
    Each path adds its ``conversions + nulls`` to every transition along it, starting from ``(start)``; its
    last state adds ``conversions`` to ``(conversion)`` and ``nulls`` to ``(null)``. Transition
    probabilities are the row-normalised counts.

    ``P(conversion)`` is the absorption probability into ``(conversion)`` from ``(start)``, found by
    solving ``(I - Q) x = r`` with a sparse LU factorisation (no simulation, deterministic). Removing
    channel ``c`` sends every state containing ``c`` to ``(null)``; its removal effect is
    ``RE_c = 1 - P(conversion | c removed) / P(conversion)`` and its attributed conversions are
    ``RE_c / sum(RE) * total conversions``.

    Value (when ``paths`` has ``value``): as in ChannelAttribution, a walk converting from state ``s``
    earns the mean value per conversion of the paths ending in ``s``. ``removal_effect_value`` is the
    relative loss of expected value when ``c`` is removed and ``value`` is
    ``removal_effect_value / sum(removal_effect_value) * total value``.

    Parameters
    ----------
    paths : DataFrame
        A paths table.
    order : int, default 1
        Markov order k ≥ 1.
    horizon : {"infinite", "ca"} or int, default "infinite"
        ``"infinite"``: the textbook absorbing chain. ``"ca"``: ChannelAttribution's step limit — a walk
        is stopped after H states, H = the longest collapsed path (in states) + 1, and a stopped walk
        counts as not converting; computed exactly by H sparse matrix-vector steps. These are the values
        ChannelAttribution's simulation converges to. An int sets H directly.

    Returns
    -------
    DataFrame
        Indexed by ``channel`` (sorted by name): ``removal_effect``, ``conversions`` and, with values,
        ``removal_effect_value``, ``value``. ``attrs``: ``p_conversion`` (under the chosen horizon),
        ``n_states`` (transient states including ``(start)``), ``horizon`` (H), ``order``, ``model``.

    Raises
    ------
    DataError
        When the paths hold no conversions.

    Examples
    --------
    >>> t = pd.DataFrame({"path": ["a > b", "b", "a"], "conversions": [1.0, 1, 0], "nulls": [1.0, 0, 2]})
    >>> round(markov(t).attrs["p_conversion"], 3)
    0.4
    """
    _validate_horizon(horizon)
    p = _parse(paths)
    ch = _states(p, order)
    return _markov_from(p, ch, horizon)


def _markov_from(p: _Paths, ch: _Chain, horizon) -> pd.DataFrame:
    total_conv = p.conv.sum()
    if not total_conv > 0:
        raise DataError("markov attribution needs at least one conversion; the paths have none",
                        column="conversions", rule="no_conversions")
    pr = _probabilities(ch, p)
    if horizon == "infinite":
        res = _absorb_infinite(ch, pr)
        H = ch.horizon
    else:
        H = ch.horizon if horizon == "ca" else int(horizon)
        res = _absorb_horizon(ch, pr, H)
    base = res[0]
    if not base[0] > 0:
        raise DataError("no conversion is reachable within the horizon", rule="no_conversions")
    re = np.clip(1.0 - res[1:, 0] / base[0], 0.0, None)
    out = pd.DataFrame({"removal_effect": re, "conversions": _share(re) * total_conv},
                       index=pd.Index(ch.channels.astype(str), name="channel"))
    if p.value is not None:
        re_v = np.clip(1.0 - res[1:, 1] / base[1], 0.0, None) if base[1] > 0 else np.zeros(len(re))
        out["removal_effect_value"] = re_v
        out["value"] = _share(re_v) * p.value.sum()
    out.attrs.update(p_conversion=float(base[0]), n_states=int(ch.n_transient), horizon=int(H),
                     order=int(ch.order), model="markov", horizon_kind=str(horizon))
    return out


def _share(x: np.ndarray) -> np.ndarray:
    s = x.sum()
    return x / s if s > 0 else np.zeros_like(x)


def _state_names(ch: _Chain) -> np.ndarray:
    names = np.asarray(ch.channels, dtype=object)
    out = np.empty(len(ch.state_digits), dtype=object)
    for i, row in enumerate(ch.state_digits):
        out[i] = SEP.join(names[d] for d in row if d >= 0)
    return out


def transition_matrix(paths: pd.DataFrame, order: int = 1) -> pd.DataFrame:
    """The tidy transition table of the order-k Markov chain :func:`markov` solves.

    Parameters
    ----------
    paths : DataFrame
        A paths table.
    order : int, default 1
        Markov order; a state of order > 1 is named by its channels joined by ``" > "``.

    Returns
    -------
    DataFrame
        Columns ``channel_from``, ``channel_to``, ``count``, ``transition_probability`` — one row per
        observed transition, including ``(start)`` → first state and last state → ``(conversion)`` /
        ``(null)``; sorted by (``channel_from``, ``channel_to``). Probabilities sum to 1 per
        ``channel_from``.
    """
    p = _parse(paths)
    ch = _states(p, order)
    pr = _probabilities(ch, p)
    names = np.r_[np.array([START], dtype=object), _state_names(ch)]
    coo = pr.counts.tocoo()
    tot = np.asarray(pr.counts.sum(axis=1)).ravel() + pr.conv_counts + pr.null_counts
    frm = [names[coo.row]]
    to = [names[coo.col]]
    cnt = [coo.data]
    src = [coo.row]
    for absorbing, c in ((CONVERSION, pr.conv_counts), (NULL, pr.null_counts)):
        nz = np.flatnonzero(c > 0)
        frm.append(names[nz])
        to.append(np.full(len(nz), absorbing, dtype=object))
        cnt.append(c[nz])
        src.append(nz)
    src = np.concatenate(src)
    cnt = np.concatenate(cnt)
    out = pd.DataFrame({"channel_from": np.concatenate(frm).astype(str), "channel_to": np.concatenate(to).astype(str),
                        "count": cnt, "transition_probability": cnt / tot[src]})
    out = out[out["count"] > 0]
    return out.sort_values(["channel_from", "channel_to"], kind="stable").reset_index(drop=True)


# ============================================================================================ Shapley
def _simplified_shapley(p: _Paths) -> pd.DataFrame:
    C = len(p.channels)
    pid, ch = _distinct_pairs(p)
    k = np.bincount(pid, minlength=p.n).astype(float)
    out = {"shapley": np.bincount(ch, weights=p.conv[pid] / k[pid], minlength=C)}
    if p.value is not None:
        out["shapley_value"] = np.bincount(ch, weights=p.value[pid] / k[pid], minlength=C)
    return pd.DataFrame(out, index=pd.Index(p.channels.astype(str), name="channel"))


def _coalition_values(p: _Paths, characteristic: str) -> tuple[np.ndarray, np.ndarray | None]:
    """v(S) for every coalition bitmask S (and the value-weighted v for ``conversions``)."""
    C = len(p.channels)
    pid, ch = _distinct_pairs(p)
    mask = np.bincount(pid, weights=(1 << ch).astype(float), minlength=p.n).astype(np.int64)
    size = 1 << C

    def zeta(f: np.ndarray) -> np.ndarray:  # g(S) = sum over T ⊆ S of f(T)
        g = f.copy()
        for i in range(C):
            bit = 1 << i
            idx = np.arange(size)
            has = (idx & bit) != 0
            g[has] += g[idx[has] ^ bit]
        return g

    conv = zeta(np.bincount(mask, weights=p.conv, minlength=size))
    if characteristic == "conversions":
        val = zeta(np.bincount(mask, weights=p.value, minlength=size)) if p.value is not None else None
        return conv, val
    n = zeta(np.bincount(mask, weights=p.conv + p.nulls, minlength=size))
    rate = np.divide(conv, n, out=np.zeros_like(conv), where=n > 0)
    return rate, None


def _shapley_from_v(v: np.ndarray, C: int) -> np.ndarray:
    size = 1 << C
    idx = np.arange(size)
    pop = np.array([bin(i).count("1") for i in range(size)]) if size <= 1 << 16 else None
    w = np.array([factorial(s) * factorial(C - s - 1) / factorial(C) for s in range(C)])
    phi = np.empty(C)
    for i in range(C):
        bit = 1 << i
        S = idx[(idx & bit) == 0]
        phi[i] = np.sum(w[pop[S]] * (v[S | bit] - v[S]))
    return phi


def shapley(paths: pd.DataFrame, method: str = "simplified", *,
            characteristic: str = "conversions") -> pd.DataFrame:
    """Shapley-value attribution.

    ``method="simplified"``: each path's conversions (and value) are split equally over its *distinct*
    channels (``a > b > a``: a ½, b ½).

    ``method="exact"``: the Shapley value of a cooperative game over the channels, computed over all
    2^n coalitions (n ≤ 15 channels). The characteristic function v(S) of a coalition S is

    - ``characteristic="conversions"`` (default): the conversions of the paths whose channel set is a subset
      of S — what the journeys would still deliver if only the channels in S existed. This game is a sum of
      unanimity games (one per path), so its Shapley value equals the simplified one; the exact
      computation confirms it and is the baseline for other characteristic functions.
    - ``characteristic="conversion_rate"``: the conversion rate (conversions / journeys) of the paths whose
      channel set is a subset of S (0 when there are none). The Shapley values (which sum to the overall
      rate) are rescaled to sum to the total conversions.

    Parameters
    ----------
    paths : DataFrame
        A paths table.
    method : {"simplified", "exact"}
    characteristic : {"conversions", "conversion_rate"}
        The characteristic function for ``method="exact"``.

    Returns
    -------
    DataFrame
        Indexed by ``channel``: ``shapley`` (attributed conversions) and, with values and
        ``characteristic="conversions"``, ``shapley_value``.

    Raises
    ------
    ValueError
        For ``method="exact"`` with more than 15 channels.
    """
    if method not in ("simplified", "exact"):
        raise ValueError(f"method must be 'simplified' or 'exact', got {method!r}")
    if characteristic not in ("conversions", "conversion_rate"):
        raise ValueError(f"characteristic must be 'conversions' or 'conversion_rate', got {characteristic!r}")
    p = _parse(paths)
    if method == "simplified":
        return _simplified_shapley(p)
    C = len(p.channels)
    if C > MAX_EXACT_SHAPLEY_CHANNELS:
        raise ValueError(f"exact Shapley is limited to {MAX_EXACT_SHAPLEY_CHANNELS} channels (2^n coalitions); "
                         f"the paths have {C}. Use method='simplified'.")
    index = pd.Index(p.channels.astype(str), name="channel")
    if C == 0:
        return pd.DataFrame({"shapley": np.zeros(0)}, index=index)
    v, val = _coalition_values(p, characteristic)
    phi = _shapley_from_v(v, C)
    if characteristic == "conversion_rate":
        phi = _share(phi) * p.conv.sum() if phi.sum() > 0 else phi * 0
    out = pd.DataFrame({"shapley": phi}, index=index)
    if val is not None:
        out["shapley_value"] = _shapley_from_v(val, C)
    out.attrs.update(model="shapley", method=method, characteristic=characteristic)
    return out
