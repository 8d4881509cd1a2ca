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

Channel names may be any string, ``>`` included (hierarchical names such as ``"Email > Newsletter"``). In a
``path`` string a ``>`` inside a name is written ``\\>`` and a backslash ``\\\\`` (:func:`join_path`,
:func:`split_path`), so ``"Email \\> Newsletter > Paid \\> Search"`` is the two channels ``Email >
Newsletter`` and ``Paid > Search``; every result names the channels exactly as in the data (the escapes
are undone when the paths are parsed). Surrounding spaces are trimmed and empty names dropped; a path left
without channels is dropped (with a :class:`~cjlib.errors.DataWarning` when it carried conversions).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from math import factorial
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from cjlib.errors import DataError, DataWarning
from cjlib.io import categories_used, ensure_sorted
from cjlib.journeys import assign_stages, customer_groups, customer_starts, session_keys

__all__ = [
    "SEP",
    "join_path",
    "split_path",
    "path_length",
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
    "channel_effects",
    "cost_per_conversion",
    "parse_models",
    "touch_problem",
    "journey_summary",
    "removal_effects",
    "focus_transition",
    "shown_effects",
    "spend_in_range",
    "cost_table",
    "Adjustment",
    "adjustment",
    "HEURISTIC_MODELS",
    "MODELS",
]

SEP = " > "
START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
HEURISTIC_MODELS = ("first_touch", "last_touch", "linear", "position_based")
MODELS = HEURISTIC_MODELS + ("markov", "shapley")
MAX_EXACT_SHAPLEY_CHANNELS = 15


# ============================================================================================ paths table
# placeholders for the escapes while a path string is split on ">" (private-use characters; others are
# tried when the data itself holds these)
_PLACEHOLDERS = ("\ue000", "\ue001", "\uf8fe", "\uf8ff", "\U000f0000", "\U000f0001")


def _escape(name: str) -> str:
    """A channel name as written inside a path string: ``\\`` → ``\\\\``, ``>`` → ``\\>``."""
    return name.replace("\\", "\\\\").replace(">", "\\>") if ("\\" in name or ">" in name) else name


def join_path(channels: Sequence[str]) -> str:
    """A path string from channel names (any strings; ``>`` and ``\\`` inside a name are escaped).

    Examples
    --------
    >>> join_path(["Email > Newsletter", "search"])
    'Email \\\\> Newsletter > search'
    """
    return SEP.join(_escape(str(c)) for c in channels)


def split_path(path: str) -> list[str]:
    """The channel names of a path string (escapes undone, names trimmed, empty names dropped).

    Examples
    --------
    >>> split_path(join_path(["Email > Newsletter", "a\\\\b", "search"]))
    ['Email > Newsletter', 'a\\\\b', 'search']
    """
    t = _tokenize(np.array([path], dtype=object))
    return [str(x) for x in t.channels[t.tok]]


def path_length(paths: pd.DataFrame | pd.Series) -> np.ndarray:
    """Touches on each row's path (channel names may hold ``>``: escapes are read, not counted).

    Examples
    --------
    >>> path_length(pd.Series([join_path(["Email > Newsletter", "b"]), "a", ""])).tolist()
    [2, 1, 0]
    """
    strings = paths["path"] if isinstance(paths, pd.DataFrame) else paths
    return _tokenize(strings).lens.astype(np.int64)


def _check_paths(paths: pd.DataFrame, name: str = "paths") -> None:
    if not isinstance(paths, pd.DataFrame):
        raise TypeError(f"{name} must be a paths DataFrame (path, conversions, nulls[, value]), got {type(paths)}")
    missing = [c for c in ("path", "conversions", "nulls") if c not in paths.columns]
    if missing:
        raise DataError(f"{name} lacks columns {missing}; a paths table has path, conversions, nulls[, value]",
                        column=missing[0], rule="missing_column")
    for c in ("conversions", "nulls") + (("value",) if "value" in paths.columns else ()):
        col = paths[c]
        if isinstance(col.dtype, np.dtype) and col.dtype.kind == "f":
            v = col.to_numpy()  # already float64/32: no conversion
        else:
            v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
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
        Relative paths are resolved by :func:`cjlib.paths.resolve` (the current folder, else the project root). Two layouts are recognised by their header:

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
    raw = pd.read_csv(src, sep=sep, dtype={"path": str}, keep_default_na=False)
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
    """Join token codes per path id into ``" > "`` strings (names escaped); ``pid`` must be sorted."""
    out = np.full(n, "", dtype=object)
    if len(tok) == 0:
        return out
    names = np.array([_escape(str(x)) for x in names] + [""], dtype=object)[:-1]  # small: one per channel
    starts = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow ships with the environment
        lab = np.asarray(names, dtype=object)[tok]
        pieces = np.where(np.r_[pid[1:] != pid[:-1], True], lab, lab + SEP)
        out[pid[starts]] = np.add.reduceat(pieces, starts)
        return out
    # one list of labels per path, joined by Arrow: no Python string per touch
    labels = pa.DictionaryArray.from_arrays(pa.array(np.asarray(tok, dtype=np.int32)),
                                            pa.array([str(x) for x in names], pa.string())).dictionary_decode()
    lists = pa.LargeListArray.from_arrays(pa.array(np.r_[starts, len(tok)].astype(np.int64)), labels)
    out[pid[starts]] = pc.binary_join(lists, SEP).to_numpy(zero_copy_only=False)
    return out


@dataclass(frozen=True)
class _Tokens:
    channels: np.ndarray  # sorted channel names (object)
    tok: np.ndarray  # channel code of each touch, paths concatenated in row order
    pid: np.ndarray  # row (path) of each touch, non-decreasing
    lens: np.ndarray  # touches per row
    n: int


_TOKEN_CHUNK = 1 << 18


def _tokenize(strings) -> _Tokens:
    """Split path strings on ``>`` into channel codes (Arrow kernels when pyarrow is installed)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow ships with the environment
        return _tokenize_python(np.asarray(strings, dtype=object))
    if isinstance(strings, pd.Series) and hasattr(strings.array, "__arrow_array__"):
        arr = pa.chunked_array(strings.array.__arrow_array__())
    else:
        values = np.asarray(strings, dtype=object)
        arr = pa.chunked_array([pa.array(values, type=pa.large_string(), from_pandas=True)])
    n = len(arr)
    glob: dict[str, int] = {}  # trimmed name → raw code, across chunks
    chunks = []  # (raw code of each distinct token of the chunk, token → its distinct token)
    counts = np.zeros(n, dtype=np.int64)
    for lo in range(0, n, _TOKEN_CHUNK):  # chunks bound Arrow's transient memory
        part = pc.fill_null(arr.slice(lo, _TOKEN_CHUNK), "")
        lists = pc.split_pattern(part, ">")
        enc = pc.list_flatten(lists).combine_chunks().dictionary_encode()
        distinct = enc.dictionary.to_pylist()
        escaped = any("\\" in u for u in distinct)  # rare: only then split again with the escapes undone
        if escaped:
            bs, gt = _free_placeholders(lambda c: pc.any(pc.match_substring(part, c)).as_py())
            part = pc.replace_substring(pc.replace_substring(part, "\\\\", bs), "\\>", gt)
            lists = pc.split_pattern(part, ">")
            enc = pc.list_flatten(lists).combine_chunks().dictionary_encode()
            distinct = [u.replace(bs, "\\").replace(gt, ">") for u in enc.dictionary.to_pylist()]
        counts[lo:lo + len(lists)] = pc.list_value_length(lists).to_numpy()
        distinct = [u.strip() for u in distinct]
        gmap = np.array([glob.setdefault(u, len(glob)) for u in distinct], dtype=np.int32)
        chunks.append((gmap, enc.indices.to_numpy(zero_copy_only=False)))
        del lists, enc
    return _encode_tokens(chunks, np.array(list(glob), dtype=object), counts, n)


def _free_placeholders(occurs) -> tuple[str, str]:
    """Two placeholder characters the strings do not hold (``occurs(char)`` tells whether they do)."""
    free = [c for c in _PLACEHOLDERS if not occurs(c)]
    if len(free) < 2:  # pragma: no cover - data holding four private-use characters
        raise DataError("path strings hold every placeholder character cjlib uses to undo escapes",
                        column="path", rule="placeholder", examples=list(_PLACEHOLDERS))
    return free[0], free[1]


def _encode_tokens(chunks: list[tuple[np.ndarray, np.ndarray]], stripped: np.ndarray, counts: np.ndarray,
                   n: int) -> _Tokens:
    """Channel codes of the touches from per-chunk raw codes, dropping empty names.

    Each chunk is ``(raw code into stripped of each local token id, local token id of each touch)``;
    the channels are the sorted non-empty ``stripped`` names, and one gather per touch maps it to its code.
    """
    names = np.unique(stripped[stripped != ""]).astype(object) if len(stripped) else np.array([], dtype=object)
    lookup = np.where(stripped != "", np.searchsorted(names, stripped), -1) if len(stripped) else np.array([], int)
    n_tok = int(counts.sum())
    idt = _index_dtype(n_tok)
    tok = np.empty(n_tok, dtype=idt)
    at = 0
    for gmap, idx in chunks:
        np.take(lookup[gmap].astype(idt), idx, out=tok[at:at + len(idx)])
        at += len(idx)
    pid = np.repeat(np.arange(n, dtype=idt), counts)
    if not (stripped == "").any():  # no empty name: every touch is kept
        return _Tokens(names, tok, pid, counts, n)
    keep = tok >= 0
    tok, pid = tok[keep], pid[keep]
    return _Tokens(names, tok, pid, np.bincount(pid, minlength=n), n)


def _index_dtype(n: int):
    """int32 indices while they fit (halves memory on millions of touches), else int64."""
    return np.int32 if n < 2**31 - 1 else np.int64


def _tokenize_python(strings: np.ndarray) -> _Tokens:
    """Pure-Python fallback of :func:`_tokenize`: one join, one split, one factorize."""
    n = len(strings)
    strings = [s if isinstance(s, str) else "" for s in strings]
    bs = gt = None
    if any("\\" in s for s in strings):
        bs, gt = _free_placeholders(lambda c: any(c in s for s in strings))
        strings = [s.replace("\\\\", bs).replace("\\>", gt) for s in strings]
    counts = np.fromiter((s.count(">") for s in strings), dtype=np.int64, count=n) + 1
    toks = ">".join(strings).split(">") if n else []
    codes, uniq = pd.factorize(np.asarray(toks, dtype=object))
    stripped = [u.strip() for u in uniq]
    if bs is not None:
        stripped = [u.replace(bs, "\\").replace(gt, ">") for u in stripped]
    stripped = np.array(stripped + [""], dtype=object)[:-1]
    return _encode_tokens([(np.arange(len(uniq), dtype=np.int32), codes)], stripped, counts, n)


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
    t = _tokenize(paths["path"])
    conv = paths["conversions"].to_numpy(dtype=float)
    nulls = paths["nulls"].to_numpy(dtype=float)
    value = paths["value"].to_numpy(dtype=float) if "value" in paths.columns else None
    lens = t.lens
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
    key = np.sort(pd.unique(p.pid.astype(np.int64) * C + p.tok))
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
    pop = np.zeros(size, dtype=np.int64)
    for i in range(C):
        pop += (idx >> i) & 1
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


# ============================================================================================ event logs
def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(values, sort=True)``; a categorical's own codes when its categories are sorted."""
    if isinstance(values.dtype, pd.CategoricalDtype) and values.cat.categories.is_monotonic_increasing \
            and categories_used(values).all():
        return values.cat.codes.to_numpy().astype(np.int64), values.cat.categories
    return pd.factorize(values, sort=True)


_NO_LIMIT = np.iinfo(np.int64).max


def _timedelta_ns(value, name: str) -> int:
    """A positive duration in integer nanoseconds (``None``: no limit)."""
    if value is None:
        return int(_NO_LIMIT)
    try:
        td = pd.Timedelta(value)
    except (ValueError, TypeError):
        raise ValueError(f"{name} must be a duration such as '30D' or '12h' (or None), got {value!r}") from None
    if td <= pd.Timedelta(0):
        raise ValueError(f"{name} must be positive, got {value!r}")
    return int(td.value)


def _stage_map(stage_map):
    from cjlib.stagemap import StageMap, load_stage_map

    if stage_map is None or isinstance(stage_map, (str, Path)):
        return load_stage_map(stage_map or None)
    if not isinstance(stage_map, StageMap):
        raise TypeError(f"stage_map must be a StageMap, a path or None, got {type(stage_map)}")
    return stage_map


def _parse_stage(stage, sm) -> tuple[str, str]:
    if isinstance(stage, str):
        parts = [s.strip() for s in stage.replace("->", ">").split(">")]
    else:
        parts = list(stage)
    if len(parts) != 2 or not all(isinstance(s, str) for s in parts):
        raise ValueError(f"stage must be 'source>target' or a (source, target) tuple, got {stage!r}")
    names = sm.stage_names
    bad = [s for s in parts if s not in names]
    if bad:
        raise ValueError(f"stage names must be among {names}, got {bad}")
    if names.index(parts[1]) <= names.index(parts[0]):
        raise ValueError(f"stage target {parts[1]!r} must come after source {parts[0]!r} in {names}")
    return parts[0], parts[1]


def _occurrence_rows(mask: np.ndarray, grp: np.ndarray, n_groups: int, nth: int) -> np.ndarray:
    """Per customer, the row of the ``nth`` True of ``mask`` (-1 when there is none)."""
    cs = np.cumsum(mask)
    first = np.r_[True, grp[1:] != grp[:-1]] if len(grp) else np.zeros(0, bool)
    before = (cs - mask)[first]  # count before each customer's first row
    occ = cs - before[grp]
    rows = np.flatnonzero(mask & (occ == nth))
    out = np.full(n_groups, -1, dtype=np.int64)
    out[grp[rows]] = rows
    return out


@dataclass(frozen=True)
class _Journeys:
    """Touches grouped into journeys, from an event log."""

    names: np.ndarray  # touch labels (object), code → name
    tok: np.ndarray  # code of each touch, journeys contiguous, in time order
    jid: np.ndarray  # journey of each touch (0..n_journeys-1, non-decreasing)
    touch_ts: np.ndarray  # ns
    converted: np.ndarray  # per journey
    value: np.ndarray | None
    end_ts: np.ndarray  # conversion time (ns) of converting journeys, last touch of the others
    customer: np.ndarray  # customer code of each journey
    conversions_without_touches: int


def _journeys(events, *, conversion_events, lookback, touch_col, stage, stage_map, collapse_repeats) -> _Journeys:
    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"events must be a DataFrame, got {type(events)}")
    for c in ("customer_id", "timestamp", "event", touch_col):
        if c not in events.columns:
            raise DataError(f"events lack the column {c!r}", column=c, rule="missing_column")
    look = _timedelta_ns(lookback, "lookback")
    sm = _stage_map(stage_map)
    ev = ensure_sorted(events)
    n = len(ev)
    gstart, grp = customer_groups(ev)  # first row of each customer, customer of each row
    n_groups = len(gstart)
    ts = ev["timestamp"].to_numpy().astype("datetime64[ns]", copy=False).view(np.int64)  # exact integer ns
    ecodes, enames = _factorize(ev["event"])
    enames = np.asarray(pd.Index(enames).astype(str), dtype=object)

    def is_event(names) -> np.ndarray:  # over the distinct event names, then their codes
        hit = np.isin(enames, np.asarray(list(names), dtype=object))
        return hit[ecodes] & (ecodes >= 0) if len(hit) else np.zeros(n, bool)

    tail_init = int(ts.min()) if n else 0
    touch = ev[touch_col]
    tcodes, tnames = _factorize(touch)
    tnames = np.asarray(tnames.astype(str), dtype=object)
    has_touch = tcodes >= 0
    has_rev = "revenue" in ev.columns
    revenue = ev["revenue"].to_numpy(dtype=float, na_value=np.nan) if has_rev else np.zeros(n)
    revenue = np.nan_to_num(revenue, nan=0.0)
    rows = np.arange(n)

    if stage is None:
        conv_ev = sm.conversion_events if conversion_events is None else (
            (conversion_events,) if isinstance(conversion_events, str) else tuple(conversion_events))
        if not conv_ev:
            raise ValueError("conversion_events must name at least one event")
        is_conv = is_event(conv_ev)
        is_touch = has_touch & ~is_conv
        # next conversion row at or after each row, within the same customer
        cand = np.where(is_conv, rows, n)
        nxt = np.minimum.accumulate(cand[::-1])[::-1] if n else cand
        nxt_ok = nxt < np.r_[gstart[1:], n][grp]  # the next conversion is the same customer's
        conv_rows = np.flatnonzero(is_conv)
        # converting touches: before the next conversion, after the previous one, within lookback
        t_conv = ts[np.minimum(nxt, max(n - 1, 0))]
        in_conv = is_touch & nxt_ok & (t_conv - ts <= look)
        # non-converting tails: touches after the customer's last conversion, within lookback of its last touch
        tail = is_touch & ~nxt_ok
        last_tail_ts = np.full(n_groups, tail_init, dtype=np.int64)
        np.maximum.at(last_tail_ts, grp[tail], ts[tail])
        in_tail = tail & (last_tail_ts[grp] - ts <= look)
        key = np.where(in_conv, nxt, n + grp)
        sel = np.flatnonzero(in_conv | in_tail)
        j_conv_rows = conv_rows
        j_end = ts[conv_rows]
        j_value = revenue[conv_rows]
        j_cust = grp[conv_rows]
        conv_key = conv_rows
    else:
        src, tgt = _parse_stage(stage, sm)
        s_src, s_tgt = sm.stage(src), sm.stage(tgt)
        r_src = _occurrence_rows(is_event(s_src.events), grp, n_groups, s_src.nth)
        r_tgt = _occurrence_rows(is_event(s_tgt.events), grp, n_groups, s_tgt.nth)
        at_risk = (r_src >= 0) & ((r_tgt < 0) | (r_tgt > r_src))
        converted_c = at_risk & (r_tgt >= 0)
        rs = r_src[grp]
        rt = r_tgt[grp]
        base = has_touch & at_risk[grp] & (rows >= rs)
        conv_touch = base & converted_c[grp] & (rows < rt)
        t_tgt = ts[np.maximum(rt, 0)]
        in_conv = conv_touch & (t_tgt - ts <= look)
        tail = base & ~converted_c[grp]
        last_tail_ts = np.full(n_groups, tail_init, dtype=np.int64)
        np.maximum.at(last_tail_ts, grp[tail], ts[tail])
        in_tail = tail & (last_tail_ts[grp] - ts <= look)
        key = np.where(in_conv, rt, n + grp)
        sel = np.flatnonzero(in_conv | in_tail)
        j_conv_rows = r_tgt[converted_c]
        j_end = ts[j_conv_rows]
        j_value = revenue[j_conv_rows]
        j_cust = np.flatnonzero(converted_c)
        conv_key = j_conv_rows

    order = sel[np.argsort(key[sel], kind="stable")]
    k = key[order]
    tok = tcodes[order].astype(np.int64)
    t_ts = ts[order]
    if collapse_repeats and len(k):
        keep = np.r_[True, (k[1:] != k[:-1]) | (tok[1:] != tok[:-1])]
        k, tok, t_ts = k[keep], tok[keep], t_ts[keep]
    new_j = np.r_[True, k[1:] != k[:-1]] if len(k) else np.zeros(0, bool)  # k is sorted: journeys are runs
    jid, ukeys = np.cumsum(new_j) - 1, k[new_j]
    is_c = ukeys < n
    # journey attributes
    pos_conv = np.searchsorted(conv_key, ukeys[is_c]) if len(conv_key) else np.zeros(0, int)
    value = np.zeros(len(ukeys))
    end = np.zeros(len(ukeys), dtype=np.int64)
    cust = np.zeros(len(ukeys), dtype=np.int64)
    value[is_c] = j_value[pos_conv]
    end[is_c] = j_end[pos_conv]
    cust[is_c] = j_cust[pos_conv]
    cust[~is_c] = ukeys[~is_c] - n
    end[~is_c] = last_tail_ts[cust[~is_c]]
    without = int(len(j_conv_rows) - is_c.sum())
    return _Journeys(tnames, tok, jid.astype(np.int64), t_ts, is_c, value if has_rev else None, end, cust, without)


def paths_from_events(
    events: pd.DataFrame,
    *,
    conversion_events: Sequence[str] | str | None = None,
    lookback: str | pd.Timedelta | None = "30D",
    touch_col: str = "channel",
    stage: str | tuple[str, str] | None = None,
    stage_map=None,
    collapse_repeats: bool = False,
) -> pd.DataFrame:
    """Build a paths table from an event log.

    A *touch* is an event row with a non-missing ``touch_col`` (the channel, or with ``touch_col="event"``
    the event itself). Consecutive duplicate touches are kept (``email > email > search``); the Markov
    model collapses repeats itself, and ``collapse_repeats=True`` collapses them here.

    **Conversion mode** (``stage=None``). Rows whose ``event`` is a conversion event are conversions and
    never touches. Each conversion makes one converting journey: the customer's touches that come before it
    (in the log's order) and after the customer's previous conversion, no earlier than ``lookback`` before
    it. Each customer's touches after its last conversion (all touches for a customer who never converted),
    no earlier than ``lookback`` before the last of them, make one non-converting journey. A conversion with
    no touch in its window makes an empty journey, which is dropped (counted in
    ``attrs["conversions_without_touches"]``).

    **Stage mode** (``stage="source>target"`` or ``(source, target)``, stage names of the stage map). A
    customer enters at the row where it reaches the source stage (the first event listed under it, or its
    ``nth`` occurrence: ``purchase>retention`` starts at the first purchase and converts at the second).
    The converting journey is the touches from that row (inclusive) up to the row reaching the target
    stage (exclusive), within ``lookback`` before the target; a customer that never reaches the target
    makes a non-converting journey of its touches from the source row on, within ``lookback`` of its last
    touch. Customers that never reach the source stage, or reach the target at or before it, are left out.
    Every touch row counts here, conversion events included (the first purchase's channel is a touch of
    purchase → retention).

    Parameters
    ----------
    events : DataFrame
        Event log after :func:`cjlib.load_events` (``customer_id``, ``timestamp``, ``event``,
        ``touch_col``, optional ``revenue``). Sorted by (customer, timestamp) here if it is not already;
        never modified.
    conversion_events : str or sequence of str, optional
        Conversion mode only; default: the stage map's ``conversion_events``.
    lookback : str, Timedelta or None, default "30D"
        How far before the conversion (or the last touch) touches count; ``None`` for no limit.
    touch_col : str, default "channel"
        The column whose values are the touches (any strings: a ``>`` or ``\\`` in a value is escaped
        in ``path``, see :func:`join_path`).
    stage : str or tuple, optional
        Restrict to one stage transition (see above).
    stage_map : StageMap or path, optional
        Default ``data/stage_map.yml``.
    collapse_repeats : bool, default False
        Collapse consecutive identical touches within a journey.

    Returns
    -------
    DataFrame
        The paths table: ``path``, ``conversions``, ``nulls`` and ``value`` (the converting journeys'
        revenue; only when ``events`` has ``revenue``), identical paths aggregated, sorted by ``path``.
        ``attrs``: ``journeys``, ``converting_journeys``, ``conversions_without_touches``, ``touch_col``,
        ``stage``, ``lookback``.
    """
    if not isinstance(collapse_repeats, bool):
        raise ValueError(f"collapse_repeats must be True or False, got {collapse_repeats!r}")
    j = _journeys(events, conversion_events=conversion_events, lookback=lookback, touch_col=touch_col,
                  stage=stage, stage_map=stage_map, collapse_repeats=collapse_repeats)
    return _paths_table(j, dict(touch_col=touch_col, stage=None if stage is None else str(stage),
                                lookback=None if lookback is None else str(lookback)))


def _path_groups(tok: np.ndarray, jid: np.ndarray, n_j: int, n_names: int) -> tuple[np.ndarray, np.ndarray]:
    """Group journeys with the same touch sequence: (group per journey, one journey per group).

    A sequence of up to ``lmax`` touches is read as an integer in base ``n_names + 1`` (digits are the
    touch codes + 1, so the encoding is exact and unique); only longer sequences are compared as joined
    strings. ``jid`` must be sorted and every journey must have a touch.
    """
    if n_j == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    base = n_names + 1
    lmax = max(int(62 // np.log2(base)) - 1, 0)
    starts = np.flatnonzero(np.r_[True, jid[1:] != jid[:-1]])
    length = np.diff(np.r_[starts, len(tok)])
    pos = np.arange(len(tok)) - np.repeat(starts, length)
    short = length <= lmax
    power = np.array([base**i for i in range(max(lmax, 1))], dtype=np.int64)
    digit = np.where(short[jid], (tok + 1) * power[np.minimum(pos, len(power) - 1)], 0)
    key = np.add.reduceat(digit, starts)
    group = np.empty(n_j, np.int64)
    g_short, first_short = np.unique(key[short], return_index=True)
    group[short] = np.searchsorted(g_short, key[short])
    long_j = np.flatnonzero(~short)
    reps = np.flatnonzero(short)[first_short]
    if len(long_j):
        t = np.isin(jid, long_j)
        text = _join_paths(tok[t], jid[t], n_j, np.arange(n_names).astype(str))[long_j]
        g_long, _ = pd.factorize(text)
        group[long_j] = len(g_short) + g_long
        _, first_long = np.unique(g_long, return_index=True)
        reps = np.r_[reps, long_j[first_long]]
    return group, reps


def _paths_table(j: _Journeys, attrs: dict) -> pd.DataFrame:
    n_j = len(j.converted)
    group, reps = _path_groups(j.tok, j.jid, n_j, len(j.names))
    keep = np.zeros(n_j, bool)
    keep[reps] = True
    t = keep[j.jid]  # touches of one journey per distinct path: only those are joined into strings
    strings = _join_paths(j.tok[t], j.jid[t], n_j, j.names)[reps]
    G = len(reps)
    df = pd.DataFrame({"path": strings,
                       "conversions": np.bincount(group, weights=j.converted.astype(float), minlength=G),
                       "nulls": np.bincount(group, weights=(~j.converted).astype(float), minlength=G)})
    if j.value is not None:
        df["value"] = np.bincount(group, weights=np.where(j.converted, j.value, 0.0), minlength=G)
    out = df.sort_values("path", kind="stable", ignore_index=True)
    out.attrs.update(journeys=int(n_j), converting_journeys=int(j.converted.sum()),
                     conversions_without_touches=int(j.conversions_without_touches), **attrs)
    return out


def time_decay(
    events: pd.DataFrame,
    half_life: str | pd.Timedelta = "7D",
    *,
    conversion_events: Sequence[str] | str | None = None,
    lookback: str | pd.Timedelta | None = "30D",
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
    events : DataFrame
        Event log (see :func:`paths_from_events`).
    half_life : str or Timedelta, default "7D"
        A touch this long before the conversion weighs half as much as one at the conversion.
    conversion_events, lookback, touch_col, stage, stage_map
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
    j = _journeys(events, conversion_events=conversion_events, lookback=lookback, touch_col=touch_col,
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
    out.attrs.update(model="time_decay", half_life=str(half_life))
    return out


# ============================================================================================ model runner
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


# ============================================================================================ stages
def stage_transitions(stage_map=None) -> list[tuple[str, str]]:
    """Consecutive stage pairs of the stage map: ``[("awareness", "consideration"), ...]``."""
    names = _stage_map(stage_map).stage_names
    return list(zip(names[:-1], names[1:]))


def stage_attribution(
    events: pd.DataFrame,
    *,
    model: str = "markov",
    stage_map=None,
    transitions: Sequence[str | tuple[str, str]] | None = None,
    lookback: str | pd.Timedelta | None = "30D",
    touch_col: str = "channel",
    **kw,
) -> pd.DataFrame:
    """Attribution of each stage transition: which channels move customers forward at each stage.

    For every transition (default: each consecutive pair of stages in the stage map), builds the stage-mode
    paths table (:func:`paths_from_events` with ``stage=``) and attributes its conversions with ``model``.
    Transitions without any conversion are skipped with a :class:`~cjlib.errors.DataWarning`.

    Parameters
    ----------
    events : DataFrame
        Event log.
    model : str, default "markov"
        One of ``first_touch``, ``last_touch``, ``linear``, ``position_based``, ``markov``, ``shapley``.
    stage_map : StageMap or path, optional
    transitions : sequence, optional
        ``"source>target"`` strings or tuples; default :func:`stage_transitions`.
    lookback, touch_col
        As in :func:`paths_from_events`.
    **kw
        Passed to the model (``order``, ``horizon``, ``shapley_method``).

    Returns
    -------
    DataFrame
        Tidy, one row per (transition, channel): ``transition`` ("source>target"), ``channel``,
        ``conversions`` (attributed), ``share`` (of the transition's conversions), ``journeys`` (journeys
        whose path holds the channel), ``touches`` (the channel's touches, counted once per journey),
        ``conversion_rate`` (``conversions / touches``: attributed conversions per touch), ``lift``
        (``conversion_rate`` over the transition's conversions per touch: 1 = average, 2 = a touch of
        this channel earns twice the average). Rows in transition order, channels sorted.
        ``attrs["p_conversion"]``: each transition's conversion rate (converting journeys / journeys);
        ``attrs["skipped"]``: the transitions without a conversion.
    """
    _check_model(model)
    sm = _stage_map(stage_map)
    trs = [_parse_stage(t, sm) for t in (transitions if transitions is not None else stage_transitions(sm))]
    frames, rates, skipped = [], {}, []
    for src, tgt in trs:
        name = f"{src}>{tgt}"
        pt = paths_from_events(events, lookback=lookback, touch_col=touch_col, stage=(src, tgt), stage_map=sm)
        p = _parse(pt)
        if p.conv.sum() <= 0:
            warnings.warn(f"stage transition {name} has no conversions; skipped", DataWarning, stacklevel=2)
            skipped.append(name)
            continue
        conv, _ = _attribute(p, model, **kw)
        C = len(p.channels)
        w = (p.conv + p.nulls)[p.pid]
        pid_u, ch_u = _distinct_pairs(p)
        frames.append(pd.DataFrame({
            "transition": name, "channel": p.channels.astype(str), "conversions": conv,
            "share": _share(conv),
            "journeys": np.bincount(ch_u, weights=(p.conv + p.nulls)[pid_u], minlength=C),
            "touches": np.bincount(p.tok, weights=w, minlength=C),
        }))
        rates[name] = float(p.conv.sum() / (p.conv + p.nulls).sum())
    cols = ["transition", "channel", "conversions", "share", "journeys", "touches"]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {c: pd.Series(dtype=str if c in ("transition", "channel") else float) for c in cols})
    out["conversion_rate"] = np.divide(out["conversions"].to_numpy(float), out["touches"].to_numpy(float),
                                       out=np.zeros(len(out)), where=out["touches"].to_numpy(float) > 0)
    g = out.groupby("transition", sort=False)
    average = g["conversions"].transform("sum").to_numpy(float) / g["touches"].transform("sum").to_numpy(float)
    out["lift"] = out["conversion_rate"].to_numpy(float) / average  # every transition kept has conversions
    out.attrs.update(model=model, p_conversion=rates, skipped=skipped)
    return out


def _two_way_poisson(seg: np.ndarray, ch: np.ndarray, y: np.ndarray, n_seg: int, n_ch: int,
                     tol: float = 1e-10, max_iter: int = 1000) -> np.ndarray:
    """Channel factors of the Poisson model ``E[y] = exp(a_segment + b_channel)`` (maximum likelihood).

    Alternates the two closed-form score equations (iterative proportional fitting): each segment's
    factor matches its observed total given the channel factors, and each channel's factor matches its
    observed total given the segment factors. Returns ``exp(b)`` scaled so the session-weighted mean is 1.
    """
    y_seg = np.bincount(seg, y, n_seg)
    y_ch = np.bincount(ch, y, n_ch)
    n_per_ch = np.bincount(ch, minlength=n_ch).astype(float)
    eb = np.ones(n_ch)
    for _ in range(max_iter):
        ea = y_seg / np.maximum(np.bincount(seg, eb[ch], n_seg), 1e-300)
        new = y_ch / np.maximum(np.bincount(ch, ea[seg], n_ch), 1e-300)
        new /= np.average(new, weights=n_per_ch)
        if np.max(np.abs(new - eb)) < tol:
            eb = new
            break
        eb = new
    return np.where(n_per_ch > 0, eb, np.nan)  # a channel without sessions has no effect to speak of


def _session_table(events: pd.DataFrame, sm, touch_col: str, adjust_for) -> pd.DataFrame:
    """One row per session with a touch: customer, channel, furthest stage before and at its end, segment."""
    ev = ensure_sorted(events)
    if touch_col not in ev.columns:
        raise ValueError(f"touch_col {touch_col!r} is not a column of events")
    code = assign_stages(ev, sm).cat.codes.to_numpy().astype(np.int64)
    cust = np.cumsum(customer_starts(ev)) - 1
    # furthest stage reached so far: a running maximum that restarts at each customer
    furthest = np.maximum.accumulate(code + (len(sm.stage_names) + 1) * cust) - (len(sm.stage_names) + 1) * cust
    before = np.r_[-1, furthest[:-1]]
    before[customer_starts(ev)] = -1
    frame = pd.DataFrame({"session": session_keys(ev).to_numpy(), "customer_id": ev["customer_id"].to_numpy(),
                          "channel": ev[touch_col].astype("string").to_numpy(), "before": before,
                          "after": furthest})
    g = frame.groupby("session", sort=False)
    out = g.agg(customer_id=("customer_id", "first"), before=("before", "first"), after=("after", "max"))
    out["channel"] = g["channel"].first()  # first non-missing touch of the session
    out = out[out["channel"].notna()]
    if adjust_for is None:
        out["segment"] = "all"
    elif isinstance(adjust_for, str):
        if adjust_for not in ev.columns:
            raise ValueError(f"adjust_for {adjust_for!r} is not a column of events; pass a Series of "
                             "segment labels indexed by customer_id, or None")
        first = ev.groupby("customer_id", sort=False)[adjust_for].first()
        out["segment"] = first.reindex(out["customer_id"]).to_numpy()
    else:
        labels = pd.Series(adjust_for)
        out["segment"] = labels.reindex(out["customer_id"]).to_numpy()
    return out[out["segment"].notna()].reset_index(drop=True)


def channel_effects(
    events: pd.DataFrame,
    *,
    adjust_for: str | pd.Series | None = None,
    transitions: Sequence[str | tuple[str, str]] | None = None,
    stage_map=None,
    touch_col: str = "channel",
    n_boot: int = 0,
    seed: int = 0,
    ci: float = 0.95,
) -> pd.DataFrame:
    """How much more likely a visit from each channel moves a customer to the next stage, adjusted for who
    uses the channel.

    Attribution models share out conversions; they do not say what a channel *does*, and they are
    confounded by who uses it: if loyal buyers arrive by email, email gets credit their loyalty earned.
    This estimator answers the causal-style question per stage transition *source → target*:

    - the units are sessions (visits) with a touch, of customers whose furthest stage at the start of the
      session is *source* (for the first transition: nothing reached yet, or the first stage);
    - a session *advances* when the customer's furthest stage at its end is *target* or beyond;
    - the channel of a session is its first non-missing ``touch_col`` value;
    - the model is Poisson with multiplicative segment and channel factors,
      ``E[advanced] = exp(a_segment + b_channel)``, fitted by maximum likelihood (iterative proportional
      fitting), so each channel is compared with other channels *within the same segment*
      (``adjust_for``: a customer-level column of ``events``, or a Series of labels indexed by customer, e.g.
      personas from :func:`cjlib.personas.fit_personas`; ``None`` gives plain rate ratios);
    - ``effect`` is the channel factor scaled so the session-weighted average is 1: 1.3 means a visit from
      that channel advances customers 30 % more often than an average visit by similar customers.

    Parameters
    ----------
    events : DataFrame
        Event log (ordered by customer and time, or it is sorted).
    adjust_for : str, Series or None
        Segments to compare within (see above).
    transitions : sequence, optional
        ``"source>target"`` strings or tuples; default every consecutive pair of stages.
    stage_map : StageMap or path, optional
    touch_col : str, default "channel"
    n_boot : int, default 0
        Bootstrap replicates over customers for ``lower``/``upper`` (percentile intervals); 0 skips them.
    seed : int, default 0
    ci : float, default 0.95

    Returns
    -------
    DataFrame
        ``transition, channel, sessions, advanced, rate, effect, effect_unadjusted, compared`` (+ ``lower,
        upper`` with ``n_boot``), channels sorted by effect within each transition; ``attrs["adjust_for"]``.
        ``compared`` counts the channel's sessions in segments where another channel also has sessions: only
        those separate the channel's effect from its segment's (a channel whose customers are all of segments
        no other channel reaches has ``compared == 0`` and an ``effect`` the data cannot identify).
    """
    sm = _stage_map(stage_map)
    names = sm.stage_names
    pairs = [_parse_stage(t, sm) for t in (transitions or stage_transitions(sm))]
    table = _session_table(events, sm, touch_col, adjust_for)
    rng = np.random.default_rng(seed)
    rows = []
    for src, tgt in pairs:
        i, j = names.index(src), names.index(tgt)
        pop = table[(table["before"] == i) | ((table["before"] < 0) & (i == 0))]
        if pop.empty:
            continue
        y = (pop["after"].to_numpy() >= j).astype(float)
        seg, _ = pd.factorize(pop["segment"], sort=True)
        ch, chn = pd.factorize(pop["channel"], sort=True)
        n_seg, n_ch = seg.max() + 1, len(chn)
        effect = _two_way_poisson(seg, ch, y, n_seg, n_ch)
        sessions = np.bincount(ch, minlength=n_ch)
        advanced = np.bincount(ch, y, n_ch)
        rate = advanced / np.maximum(sessions, 1)
        # sessions in segments where another channel also has visits: only those compare channels
        pairs_sc = np.unique(seg.astype(np.int64) * n_ch + ch)
        mixed = np.bincount(pairs_sc // n_ch, minlength=n_seg) > 1
        res = pd.DataFrame({"transition": f"{src} > {tgt}", "channel": chn.astype(str), "sessions": sessions,
                            "advanced": advanced.astype(np.int64), "rate": rate, "effect": effect,
                            "effect_unadjusted": rate / y.mean() if y.mean() > 0 else np.nan,
                            "compared": np.bincount(ch, mixed[seg].astype(float), n_ch).astype(np.int64)})
        if n_boot:
            cust_codes, _ = pd.factorize(pop["customer_id"])
            n_cust = cust_codes.max() + 1
            order = np.argsort(cust_codes, kind="stable")
            starts = np.searchsorted(cust_codes[order], np.arange(n_cust))
            sizes = np.bincount(cust_codes, minlength=n_cust)
            boots = np.empty((n_boot, n_ch))
            for b in range(n_boot):
                pick = rng.integers(0, n_cust, n_cust)
                rows_b = order[np.repeat(starts[pick], sizes[pick]) + _ranges(sizes[pick])]
                boots[b] = _two_way_poisson(seg[rows_b], ch[rows_b], y[rows_b], n_seg, n_ch)
            alpha = (1 - ci) / 2
            res["lower"], res["upper"] = np.nanquantile(boots, alpha, axis=0), np.nanquantile(boots, 1 - alpha, axis=0)
        rows.append(res.sort_values("effect", ascending=False, kind="stable"))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["transition", "channel", "sessions", "advanced", "rate", "effect", "effect_unadjusted", "compared"])
    out.attrs["adjust_for"] = adjust_for if isinstance(adjust_for, str) or adjust_for is None else "labels"
    return out


def _ranges(sizes: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(size)`` for each size: [2, 3] → [0, 1, 0, 1, 2]."""
    ends = np.cumsum(sizes)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - sizes, sizes)


def stage_contribution(
    events: pd.DataFrame,
    *,
    model: str = "markov",
    stage_map=None,
    conversion_events: Sequence[str] | str | None = None,
    lookback: str | pd.Timedelta | None = "30D",
    **kw,
) -> pd.DataFrame:
    """How much each journey stage's touchpoints contribute to conversion.

    Builds conversion-mode paths with events as the touches (:func:`paths_from_events` with
    ``touch_col="event"``; conversion events are never touches), attributes conversions to events with
    ``model``, and sums the events' conversions by their stage (the stage map's base stage of each event;
    events of no stage under ``"(other)"``).

    Parameters
    ----------
    events : DataFrame
        Event log.
    model : str, default "markov"
    stage_map : StageMap or path, optional
    conversion_events, lookback
        As in :func:`paths_from_events`.
    **kw
        Passed to the model.

    Returns
    -------
    DataFrame
        Columns ``stage``, ``conversions``, ``share``, one row per stage with touchpoints, in stage order
        (``"(other)"`` last); empty when no conversion has a touchpoint. ``attrs["conversions"]``: the
        conversions attributed (the denominator of ``share``); ``attrs["events_tied"]``: every event earned
        the same (the stage shares then only reflect how many events each stage lists).
    """
    _check_model(model)
    sm = _stage_map(stage_map)
    pt = paths_from_events(events, conversion_events=conversion_events, lookback=lookback, touch_col="event",
                           stage_map=sm)
    p = _parse(pt)
    if not p.conv.sum() > 0:  # nothing to attribute: an empty table, not a failure
        out = pd.DataFrame({"stage": pd.Series(dtype=str), "conversions": pd.Series(dtype=float),
                            "share": pd.Series(dtype=float)})
        out.attrs.update(model=model, conversions=0.0)
        return out
    conv, _ = _attribute(p, model, **kw)
    e2s = sm.event_to_stage
    stages = np.array([e2s.get(e, "(other)") for e in p.channels.astype(str)], dtype=object)
    s = pd.Series(conv, index=stages).groupby(level=0).sum()
    order = [x for x in sm.stage_names + ["(other)"] if x in s.index]
    s = s.reindex(order)
    out = pd.DataFrame({"stage": s.index.astype(str), "conversions": s.to_numpy(), "share": _share(s.to_numpy())})
    # every event earning the same: the stage shares only count each stage's events
    out.attrs.update(model=model, conversions=float(p.conv.sum()),
                     events_tied=bool(len(conv) > 1 and np.ptp(conv) <= 1e-9 * max(abs(conv).max(), 1.0)))
    return out


# ============================================================================================ costs
def cost_per_conversion(attributed: pd.DataFrame, costs: pd.DataFrame) -> pd.DataFrame:
    """Cost per attributed conversion and return on spend, per model and channel.

    Parameters
    ----------
    attributed : DataFrame
        Indexed by channel. Either one column of conversions per model with optional ``<model>_value``
        columns (:func:`compare_models`, :func:`heuristic`, :func:`shapley`, :func:`time_decay`), or a
        :func:`markov` result (``conversions``, ``value``; the model is named by ``attrs["model"]``).
    costs : DataFrame
        Columns ``channel`` and ``spend`` (optional ``period``; spend is summed over periods).

    Returns
    -------
    DataFrame
        Tidy: ``model``, ``channel``, ``conversions``, ``spend`` (NaN for channels without cost rows),
        ``cost_per_conversion`` (spend / conversions; NaN without spend or conversions), ``value`` and
        ``roi`` (value / spend) when values exist. Channels of ``attributed`` and ``costs``, sorted.
    """
    if not isinstance(attributed, pd.DataFrame) or not isinstance(costs, pd.DataFrame):
        raise TypeError("attributed and costs must be DataFrames")
    for c in ("channel", "spend"):
        if c not in costs.columns:
            raise DataError(f"costs lack the column {c!r}", column=c, rule="missing_column")
    spend = costs.groupby(costs["channel"].astype(str), observed=True)["spend"].sum()
    if "conversions" in attributed.columns:
        name = str(attributed.attrs.get("model", "model"))
        pairs = [(name, "conversions", "value" if "value" in attributed.columns else None)]
    else:
        skip = {"removal_effect", "removal_effect_value", "value"}
        pairs = [(c, c, f"{c}_value" if f"{c}_value" in attributed.columns else None)
                 for c in attributed.columns if not str(c).endswith("_value") and c not in skip]
    if not pairs:
        raise ValueError("attributed has no conversions columns")
    idx = attributed.index.astype(str)
    channels = sorted(set(idx) | set(spend.index))
    frames = []
    for model, ccol, vcol in pairs:
        conv = pd.Series(attributed[ccol].to_numpy(float), index=idx).reindex(channels).fillna(0.0)
        sp_ = spend.reindex(channels).astype(float)
        f = pd.DataFrame({"model": model, "channel": channels, "conversions": conv.to_numpy(),
                          "spend": sp_.to_numpy()})
        f["cost_per_conversion"] = np.where(f.conversions > 0, f.spend / f.conversions.where(f.conversions > 0), np.nan)
        if vcol is not None:
            f["value"] = pd.Series(attributed[vcol].to_numpy(float), index=idx).reindex(channels).fillna(0.0).to_numpy()
            f["roi"] = np.where(f.spend > 0, f.value / f.spend.where(f.spend > 0), np.nan)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


# ============================================================================================ report helpers
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


def touch_problem(events: pd.DataFrame, touch_col: str, profile=None) -> str:
    """Why ``touch_col`` cannot carry channel attribution for this log, in one sentence ('' when it can).

    It can when the column exists and holds at least two distinct values (with ``touch_col="channel"``
    and a data profile, the profile's ``channel`` role decides and words the reason).
    """
    if touch_col == "channel" and profile is not None:
        return profile.why_not("channel")
    if touch_col not in events.columns:
        return f"the events have no `{touch_col}` column (set `touch_col` or map a column with `columns`)"
    n = events[touch_col].nunique(dropna=True)
    if n < 2:
        return f"the `{touch_col}` column holds {'one value' if n == 1 else 'no value'}: there is nothing to compare"
    return ""


def journey_summary(paths: pd.DataFrame) -> pd.DataFrame:
    """Converting and non-converting journeys of a paths table, side by side.

    Returns
    -------
    DataFrame
        Index ``journeys`` (``converting``, ``not converting``); columns ``journeys``, ``distinct paths``
        (paths with at least one such journey), ``mean touches``, ``median touches``, ``one-touch share``
        (NaN for a kind without journeys).

    Examples
    --------
    >>> t = pd.DataFrame({"path": ["a > b", "a"], "conversions": [3.0, 1.0], "nulls": [0.0, 2.0]})
    >>> journey_summary(t).loc["converting", ["journeys", "mean touches"]].tolist()
    [4.0, 1.75]
    """
    p = _parse(paths)
    L = p.lens.astype(float)
    rows = {}
    for label, w in (("converting", p.conv), ("not converting", p.nulls)):
        n = float(w.sum())
        order = np.argsort(L, kind="stable")
        cum = np.cumsum(w[order])
        median = float(L[order][np.searchsorted(cum, n / 2)]) if n > 0 else np.nan
        rows[label] = {"journeys": n, "distinct paths": float((w > 0).sum()),
                       "mean touches": float((L * w).sum() / n) if n > 0 else np.nan,
                       "median touches": median,
                       "one-touch share": float(w[L == 1].sum() / n) if n > 0 else np.nan}
    return pd.DataFrame(rows).T.rename_axis("journeys")


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


def _transition_ends(t: str) -> tuple[str, str]:
    """("a", "b") from ``"a>b"`` (:func:`stage_attribution`) or ``"a > b"`` (:func:`channel_effects`)."""
    a, _, b = str(t).partition(">")
    return a.strip(), b.strip()


def focus_transition(transitions: Sequence[str], conversion_stage: str | None) -> str | None:
    """The transition into the stage map's conversion stage (its declared role), else the first one.

    Examples
    --------
    >>> focus_transition(["awareness>consideration", "consideration>purchase"], "purchase")
    'consideration>purchase'
    >>> focus_transition(["a > b"], None)
    'a > b'
    """
    transitions = list(transitions)
    hit = [t for t in transitions if conversion_stage is not None and _transition_ends(t)[1] == conversion_stage]
    return hit[0] if hit else (transitions[0] if transitions else None)


def shown_effects(effects: pd.DataFrame, min_sessions: int) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The :func:`channel_effects` rows a report can show.

    A channel needs ``min_sessions`` sessions; a transition is shown when visits from at least two such
    channels advance customers (otherwise there is nothing to compare).

    Returns
    -------
    (DataFrame, list of str, list of str)
        The rows shown, the transitions shown, and the transitions left out, in the input's order.
    """
    big = effects[effects["sessions"] >= min_sessions]
    moving = [t for t, fr in big.groupby("transition", sort=False) if (fr["advanced"] > 0).sum() > 1]
    skipped = [t for t in pd.unique(effects["transition"]) if t not in moving]
    return big[big["transition"].isin(moving)].reset_index(drop=True), moving, skipped


def spend_in_range(costs: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """The cost rows of the months the events cover (rows without ``period`` are all kept)."""
    if "period" not in costs.columns or events.empty:
        return costs
    months = pd.period_range(events["timestamp"].min(), events["timestamp"].max(), freq="M").astype(str)
    return costs[costs["period"].astype(str).str[:7].isin(months)]


def cost_table(cpc: pd.DataFrame, model: str) -> pd.DataFrame:
    """Paid channels × models: spend, cost per conversion under each model, and ``model``'s return on spend.

    Parameters
    ----------
    cpc : DataFrame
        A :func:`cost_per_conversion` result.
    model : str
        The model whose spend and return on spend are shown.

    Returns
    -------
    DataFrame
        Indexed by channel (channels with spend): ``spend``, ``cost/conv. <model>`` per model and, when
        ``cpc`` has ``roi``, ``return on spend (<model>)``.
    """
    paid = cpc[cpc["spend"].notna()]
    tab = paid.pivot(index="channel", columns="model", values="cost_per_conversion")[list(dict.fromkeys(paid["model"]))]
    tab.columns = [f"cost/conv. {c}" for c in tab.columns]
    one = paid[paid["model"] == model].set_index("channel")
    tab.insert(0, "spend", one["spend"].reindex(tab.index))
    if "roi" in one.columns:
        tab[f"return on spend ({model})"] = one["roi"].reindex(tab.index)
    return tab


@dataclass(frozen=True)
class Adjustment:
    """What :func:`channel_effects` compares visits within.

    Attributes
    ----------
    segments : str, Series or None
        Passed as ``adjust_for``.
    label : str
        How a finding names it ("4 personas", "device", "nothing (plain rate ratios)").
    note : str
        One sentence on why the requested adjustment fell back to none ('' when it did not).
    names : tuple of str
        The persona (or RFM segment) names in persona order when adjusted for the run's personas.
    """

    segments: object
    label: str
    note: str = ""
    names: tuple = ()


NO_ADJUSTMENT = "nothing (plain rate ratios)"


def _unadjusted(why: str) -> Adjustment:
    """No adjustment, with the one clause saying why (shared by the persona paths of :func:`adjustment`)."""
    return Adjustment(None, NO_ADJUSTMENT, f"{why}, so visits are compared without adjustment")


def _run_personas(events, data, output_dir, personas, seed, min_customers) -> Adjustment:
    """Adjust for the run's shared personas (see :func:`adjustment`)."""
    n = int(events["customer_id"].nunique())
    if n < min_customers:
        return _unadjusted(f"personas are not fitted on {n:,} customers (fewer than {min_customers})")
    from cjlib.personas import personas_for

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            shared = personas if personas is not None else personas_for(data, output_dir=output_dir, seed=seed)
    except ValueError as exc:
        return _unadjusted(f"personas cannot be fitted on this log ({exc})")
    if shared.state not in ("stable", "rfm"):
        return Adjustment(None, NO_ADJUSTMENT, "no stable set of personas was found on this log, so visits are "
                          "compared without adjustment")
    return Adjustment(shared.persona.astype(str), shared.label, names=tuple(shared.names))
MIN_PERSONA_CUSTOMERS = 100


def adjustment(adjust_for: str, events: pd.DataFrame, *, customers: pd.DataFrame | None = None,
               features: pd.DataFrame | None = None, seed: int = 0,
               min_customers: int = MIN_PERSONA_CUSTOMERS, data=None, output_dir: str = "",
               personas=None) -> Adjustment:
    """Resolve the ``adjust_for`` parameter of a report into segments for :func:`channel_effects`.

    Parameters
    ----------
    adjust_for : str
        ``"persona"`` (fitted here from ``features``), a column of ``events`` or ``customers``, or ``""``.
    events : DataFrame
    customers : DataFrame, optional
    features : DataFrame, optional
        :func:`cjlib.features.customer_features` of the customers, for ``"persona"``.
    seed : int
    min_customers : int, default 100
        Personas are fitted only for at least this many customers.
    data, output_dir, personas :
        The run's personas (one model per run): ``personas`` (a :class:`cjlib.personas.SharedPersonas`),
        else :func:`cjlib.personas.personas_for` on ``data`` (01's assignments in ``output_dir`` when
        present, else 01's deterministic fit). Stable personas and RFM segments adjust; unstable groups
        do not. Without either, personas are fitted here from ``features`` (the former behaviour).

    Returns
    -------
    Adjustment
        Personas only when the fit succeeds with a stable solution (bootstrap ARI, as in 01); otherwise
        no adjustment, with a ``note`` saying why.

    Raises
    ------
    ValueError
        ``adjust_for`` is none of the above.
    """
    if not adjust_for:
        return Adjustment(None, NO_ADJUSTMENT)
    if adjust_for != "persona":
        if adjust_for in events.columns:
            return Adjustment(adjust_for, adjust_for)
        if customers is not None and adjust_for in customers.columns:
            return Adjustment(customers.set_index("customer_id")[adjust_for], adjust_for)
        raise ValueError(f"adjust_for must be 'persona', '' or a column of the events or customers, got {adjust_for!r}")
    if personas is not None or data is not None:
        return _run_personas(events, data, output_dir, personas, seed, min_customers)
    n = 0 if features is None else len(features)
    if n < min_customers:
        return _unadjusted(f"personas are not fitted on {n:,} customers (fewer than {min_customers})")
    from cjlib.personas import fit_personas

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = fit_personas(features, k="auto", n_boot=5, seed=seed)
    except ValueError as exc:
        return _unadjusted(f"personas cannot be fitted on this log ({exc})")
    if not str(fitted.scores_.attrs.get("rule", "")).startswith("admissible"):
        return Adjustment(None, NO_ADJUSTMENT, "no stable set of personas was found on this log, so visits are "
                          "compared without adjustment")
    return Adjustment(fitted.persona_.astype(str), f"{fitted.k_} personas")
