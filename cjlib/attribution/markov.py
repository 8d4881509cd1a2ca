"""Markov-chain attribution: removal effects of an order-k chain, solved exactly with sparse linear algebra.

The infinite horizon is the textbook absorption probability; an integer horizon (or ``"ca"``) is
ChannelAttribution's step limit. :func:`transition_matrix` shows the chain, :func:`removal_effects` the
result as a report table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from cjlib.attribution.paths import _parse, _Paths, _share, join_path
from cjlib.errors import DataError

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"


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


def _windows(p: _Paths, order: int, B: int, cdt) -> tuple[np.ndarray, np.ndarray]:
    """Order-k states of every path: (path of each state, base-B code of its channels, digit 0 = blank).

    A path of L ≥ k touches has the L - k + 1 windows of k consecutive touches, a shorter one the single
    state of its L touches followed by blanks. The code of the window at every touch comes from k shifted
    slices of the concatenated tokens (no per-window gathers); windows crossing into the next path are
    dropped, and each short path's state is written at its first touch.
    """
    k = order - 1
    n_tok = len(p.tok)
    digit = p.tok.astype(cdt) + 1
    code = np.zeros(n_tok, dtype=cdt)
    m = max(n_tok - k, 0)
    roll = code[:m]
    for i in range(order):  # roll[g] = code of the window starting at touch g
        roll *= B
        roll += digit[i:i + m]
    take = np.zeros(n_tok, dtype=bool)
    np.equal(p.pid[k:], p.pid[:m], out=take[:m])  # the window ends in its own path
    short = np.flatnonzero(p.lens < order)
    if len(short):
        first, lens = p.starts[short], p.lens[short]
        sc = np.zeros(len(short), dtype=cdt)
        for i in range(order):
            sc *= B
            sc += np.where(i < lens, digit[np.minimum(first + i, n_tok - 1)], 0).astype(cdt)
        code[first] = sc
        take[first] = True
    return p.pid[take], code[take]


def _states(p: _Paths, order: int) -> _Chain:
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    C = len(p.channels)
    B = C + 1
    if float(B) ** order > 2.0**62:
        raise ValueError(f"order={order} with {C} channels is too large to encode the states")
    cdt = np.int32 if float(B) ** order < 2.0**31 else np.int64
    if order == 1:  # a state is a touch: no windows to build
        spid = p.pid
        code = p.tok.astype(cdt) + 1
    else:
        spid, code = _windows(p, order, B, cdt)
    # collapse consecutive identical states within a path
    first = np.r_[True, spid[1:] != spid[:-1]]
    keep = first.copy()
    keep[1:] |= code[1:] != code[:-1]
    code, spid, first = code[keep], spid[keep], first[keep]
    del keep
    space = B**order
    if space <= max(1 << 24, 2 * len(code)):  # small code space: a dense lookup, no hashing or sorting
        present = np.zeros(space, dtype=bool)
        present[code] = True
        uniq = np.flatnonzero(present).astype(np.int64)
        if len(uniq) == space - 1 and not present[0]:  # every state occurs (order 1): its code is its index
            t = code
        else:
            t = (np.cumsum(present, dtype=cdt))[code]  # transient index: 1 + rank among the present codes
        del present
    else:
        sid, uniq = pd.factorize(code, sort=True)  # hash-based: O(n), sorts only the distinct states
        t = sid + 1
        del sid
    del code
    digits = np.empty((len(uniq), order), dtype=np.int64)
    rem = uniq.copy()
    for i in range(order - 1, -1, -1):
        digits[:, i] = rem % B - 1
        rem //= B
    n_t = len(uniq) + 1
    kdt = np.int32 if n_t * n_t < 2**31 else np.int64
    t = t.astype(kdt, copy=False)  # transient index, 0 = (start)
    starts = np.flatnonzero(first)
    last = np.r_[starts[1:], len(t)] - 1
    # transitions: (start) → first state, and state → next state within a path
    key = np.empty(len(t), dtype=kdt)
    key[0:1] = 0
    np.multiply(t[:-1], n_t, out=key[1:])
    key[starts] = 0
    key += t
    if n_t * n_t <= max(1 << 24, 2 * len(key)):  # dense: mark the present pairs, no hashing or sorting
        present = np.zeros(n_t * n_t, dtype=bool)
        present[key] = True
        ukey = np.flatnonzero(present).astype(np.int64)
        inv = (np.cumsum(present, dtype=kdt) - 1)[key]
        del present
    else:
        inv, ukey = pd.factorize(key, sort=True)
    horizon = int(np.diff(np.r_[starts, len(t)]).max()) + 1 if p.n else 1
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


@dataclass(frozen=True)
class MarkovChain:
    """The Markov attribution of :func:`markov_chain`: the table of :func:`markov` and the chain's figures.

    Attributes
    ----------
    table : DataFrame
        :func:`markov`'s result: ``removal_effect``, ``conversions`` (and ``removal_effect_value``,
        ``value``) per channel.
    p_conversion : float
        P(conversion) from ``(start)`` under the chosen horizon.
    n_states : int
        Transient states, ``(start)`` included.
    horizon : int
        H, the step limit (under ``"infinite"``: the longest collapsed path in states + 1, for reference).
    order : int
        Markov order k.
    """

    table: pd.DataFrame
    p_conversion: float
    n_states: int
    horizon: int
    order: int


def markov_chain(paths: pd.DataFrame, order: int = 1, horizon: str | int = "infinite") -> MarkovChain:
    """:func:`markov` with the fitted chain's figures (P(conversion), states, horizon) beside its table.

    Parameters
    ----------
    paths : DataFrame
        A paths table.
    order : int, default 1
        Markov order k ≥ 1.
    horizon : {"infinite", "ca"} or int, default "infinite"
        As in :func:`markov`.

    Returns
    -------
    MarkovChain

    Raises
    ------
    DataError
        When the paths hold no conversions.

    Examples
    --------
    >>> t = pd.DataFrame({"path": ["a > b", "b", "a"], "conversions": [1.0, 1, 0], "nulls": [1.0, 0, 2]})
    >>> round(markov_chain(t).p_conversion, 3)
    0.4
    """
    _validate_horizon(horizon)
    p = _parse(paths)
    return _markov_from(p, _states(p, order), horizon)


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

    A channel seen only on non-converting paths gets 0 unless its states lead into states that convert on
    other paths (at order 1, ``x > a`` never converting still earns ``x`` credit when ``a`` converts
    elsewhere): the chain pools transitions across paths. Heuristics and Shapley always give it 0.

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
        ``removal_effect_value``, ``value``. P(conversion), the number of states and the horizon are
        :func:`markov_chain`'s fields.

    Raises
    ------
    DataError
        When the paths hold no conversions.

    Examples
    --------
    >>> t = pd.DataFrame({"path": ["a > b", "b", "a"], "conversions": [1.0, 1, 0], "nulls": [1.0, 0, 2]})
    >>> markov(t)["removal_effect"].round(3).to_dict()
    {'a': 0.667, 'b': 1.0}
    """
    return markov_chain(paths, order=order, horizon=horizon).table


def _markov_from(p: _Paths, ch: _Chain, horizon) -> MarkovChain:
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
    return MarkovChain(out, float(base[0]), int(ch.n_transient), int(H), int(ch.order))


def _state_names(ch: _Chain) -> np.ndarray:
    names = np.asarray(ch.channels, dtype=object)
    if ch.order == 1:  # a state is one channel: its name as in the data
        return names[ch.state_digits[:, 0]]
    out = np.empty(len(ch.state_digits), dtype=object)
    for i, row in enumerate(ch.state_digits):
        out[i] = join_path(names[d] for d in row if d >= 0)
    return out


def transition_matrix(paths: pd.DataFrame, order: int = 1) -> pd.DataFrame:
    """The tidy transition table of the order-k Markov chain :func:`markov` solves.

    Parameters
    ----------
    paths : DataFrame
        A paths table.
    order : int, default 1
        Markov order; a state of order 1 is named by its channel, one of order > 1 by its channels as a
        path string (:func:`join_path`).

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


def removal_effects(mk: pd.DataFrame, interval: pd.DataFrame | None = None) -> pd.DataFrame:
    """The Markov removal effects as a table, largest first.

    Parameters
    ----------
    mk : DataFrame
        A :func:`markov` result.
    interval : DataFrame, optional
        A :func:`bootstrap` result for ``markov`` (adds ``lower`` and ``upper``).

    Returns
    -------
    DataFrame
        Indexed by channel: ``removal effect``, ``attributed conversions``, ``share`` (of all attributed
        conversions; NaN without any), optional ``lower``/``upper``; sorted by removal effect, then name.
    """
    total = float(mk["conversions"].sum())
    out = pd.DataFrame({"removal effect": mk["removal_effect"], "attributed conversions": mk["conversions"],
                        "share": mk["conversions"] / total if total > 0 else np.nan})
    if interval is not None:
        out["lower"] = interval["lower"].reindex(out.index)
        out["upper"] = interval["upper"].reindex(out.index)
    out = out.rename_axis("channel").reset_index()
    out = out.sort_values(["removal effect", "channel"], ascending=[False, True], kind="stable")
    return out.set_index("channel")
