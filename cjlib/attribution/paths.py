"""The paths table: path strings, reading one from a file, and building one from an event log.

A paths table has one row per distinct journey path: ``path`` (touches joined by ``" > "``; a ``>`` inside
a channel name is written ``\\>``, see :func:`join_path`), ``conversions``, ``nulls`` and optionally
``value``. :func:`read_paths` reads it from our CSV or ChannelAttribution's format; :func:`paths_from_events`
builds it from an event log, for all conversions or for one stage transition. Every model parses it with
:func:`_parse` into token arrays (:class:`_Paths`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cjlib.errors import DataError, DataWarning
from cjlib.io import categories_used, ensure_sorted
from cjlib.journeys import customer_groups

SEP = " > "


# placeholders for the escapes while a path string is split on ">" (private-use characters; others are
# tried when the data itself holds these)
_PLACEHOLDERS = ("\ue000", "\ue001", "\uf8fe", "\uf8ff", "\U000f0000", "\U000f0001")


def _escape(name: str) -> str:
    """A channel name as written inside a path string: ``\\`` → ``\\\\``, ``>`` → ``\\>``."""
    return name.replace("\\", "\\\\").replace(">", "\\>") if ("\\" in name or ">" in name) else name


def join_path(channels: Sequence[str]) -> str:
    """A path string from channel names (any strings; ``>`` and ``\\`` inside a name are escaped).

    Parameters
    ----------
    channels : sequence of str
        Channel names in path order.

    Returns
    -------
    str

    Examples
    --------
    >>> join_path(["Email > Newsletter", "search"])
    'Email \\\\> Newsletter > search'
    """
    return SEP.join(_escape(str(c)) for c in channels)


def split_path(path: str) -> list[str]:
    """The channel names of a path string (escapes undone, names trimmed, empty names dropped).

    Parameters
    ----------
    path : str
        A path string (:func:`join_path`).

    Returns
    -------
    list of str

    Examples
    --------
    >>> split_path(join_path(["Email > Newsletter", "a\\\\b", "search"]))
    ['Email > Newsletter', 'a\\\\b', 'search']
    """
    t = _tokenize(np.array([path], dtype=object))
    return [str(x) for x in t.channels[t.tok]]


def path_length(paths: pd.DataFrame | pd.Series) -> np.ndarray:
    """Touches on each row's path (channel names may hold ``>``: escapes are read, not counted).

    Parameters
    ----------
    paths : DataFrame or Series
        A paths table (its ``path`` column) or path strings.

    Returns
    -------
    ndarray of int64

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
            bs, gt = _free_placeholders(lambda c, part=part: pc.any(pc.match_substring(part, c)).as_py())
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


def _distinct_pairs(p: _Paths) -> tuple[np.ndarray, np.ndarray]:
    """(path id, channel) of each distinct channel on each path."""
    C = max(len(p.channels), 1)
    key = np.sort(pd.unique(p.pid.astype(np.int64) * C + p.tok))
    return key // C, key % C


def _share(x: np.ndarray) -> np.ndarray:
    s = x.sum()
    return x / s if s > 0 else np.zeros_like(x)


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


@dataclass(frozen=True)
class _Log:
    """The columns of a sorted event log that journeys are built from, as arrays (one entry per row)."""

    n: int
    customer: np.ndarray  # customer code of each row (0..n_customers-1, non-decreasing)
    customer_start: np.ndarray  # first row of each customer
    ts: np.ndarray  # exact integer ns
    event_codes: np.ndarray
    event_names: np.ndarray  # object, code → name
    touch_codes: np.ndarray  # -1 where the row has no touch
    touch_names: np.ndarray  # object, code → name
    revenue: np.ndarray | None  # NaN → 0; None when the log has no revenue column

    @property
    def n_customers(self) -> int:
        return len(self.customer_start)

    @property
    def has_touch(self) -> np.ndarray:
        return self.touch_codes >= 0

    def is_event(self, names) -> np.ndarray:
        """Rows whose event is one of ``names`` (matched over the distinct names, then their codes)."""
        hit = np.isin(self.event_names, np.asarray(list(names), dtype=object))
        return hit[self.event_codes] & (self.event_codes >= 0) if len(hit) else np.zeros(self.n, bool)


def _log_arrays(events: pd.DataFrame, touch_col: str) -> _Log:
    ev = ensure_sorted(events)
    customer_start, customer = customer_groups(ev)
    ecodes, enames = _factorize(ev["event"])
    tcodes, tnames = _factorize(ev[touch_col])
    revenue = None
    if "revenue" in ev.columns:
        revenue = np.nan_to_num(ev["revenue"].to_numpy(dtype=float, na_value=np.nan), nan=0.0)
    return _Log(n=len(ev), customer=customer, customer_start=customer_start,
                ts=ev["timestamp"].to_numpy().astype("datetime64[ns]", copy=False).view(np.int64),
                event_codes=ecodes, event_names=np.asarray(pd.Index(enames).astype(str), dtype=object),
                touch_codes=tcodes, touch_names=np.asarray(tnames.astype(str), dtype=object), revenue=revenue)


@dataclass(frozen=True)
class _Touches:
    """Which touch rows make journeys: those before a conversion (``converting``, keyed by the conversion's
    row ``target``) and those of customers after their last conversion (``tail``)."""

    converting: np.ndarray  # row mask: a touch of a converting journey, within the window of its conversion
    target: np.ndarray  # per row: the row of the conversion its converting journey ends at
    tail: np.ndarray  # row mask: a touch with no later conversion (window not applied yet)
    conversion_rows: np.ndarray  # sorted rows of every conversion


def _conversion_touches(log: _Log, conversion_events: tuple[str, ...], window: int) -> _Touches:
    """Conversion mode: each conversion ends the journey of the touches since the previous one."""
    rows = np.arange(log.n)
    is_conv = log.is_event(conversion_events)
    is_touch = log.has_touch & ~is_conv
    # next conversion row at or after each row (n where none), and whether it is the same customer's
    candidate = np.where(is_conv, rows, log.n)
    next_conv = np.minimum.accumulate(candidate[::-1])[::-1] if log.n else candidate
    customer_end = np.r_[log.customer_start[1:], log.n][log.customer]
    has_next = next_conv < customer_end
    t_conv = log.ts[np.minimum(next_conv, max(log.n - 1, 0))]
    return _Touches(converting=is_touch & has_next & (t_conv - log.ts <= window), target=next_conv,
                    tail=is_touch & ~has_next, conversion_rows=np.flatnonzero(is_conv))


def _stage_touches(log: _Log, sm, stage, window: int) -> _Touches:
    """Stage mode: from the row reaching the source stage up to the row reaching the target stage."""
    src, tgt = (sm.stage(s) for s in _parse_stage(stage, sm))
    src_row = _occurrence_rows(log.is_event(src.events), log.customer, log.n_customers, src.nth)
    tgt_row = _occurrence_rows(log.is_event(tgt.events), log.customer, log.n_customers, tgt.nth)
    at_risk = (src_row >= 0) & ((tgt_row < 0) | (tgt_row > src_row))
    converted = at_risk & (tgt_row >= 0)  # per customer
    rows = np.arange(log.n)
    target = tgt_row[log.customer]
    after_source = log.has_touch & at_risk[log.customer] & (rows >= src_row[log.customer])
    before_target = after_source & converted[log.customer] & (rows < target)
    t_target = log.ts[np.maximum(target, 0)]
    return _Touches(converting=before_target & (t_target - log.ts <= window), target=target,
                    tail=after_source & ~converted[log.customer], conversion_rows=tgt_row[converted])


def _journeys(events, *, conversion_events, window, touch_col, stage, stage_map, collapse_repeats) -> _Journeys:
    """Touches grouped into journeys (see :func:`paths_from_events` for the two modes)."""
    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"events must be a DataFrame, got {type(events)}")
    for c in ("customer_id", "timestamp", "event", touch_col):
        if c not in events.columns:
            raise DataError(f"events lack the column {c!r}", column=c, rule="missing_column")
    window = _timedelta_ns(window, "window")
    sm = _stage_map(stage_map)
    log = _log_arrays(events, touch_col)
    if stage is None:
        conv_ev = sm.conversion_events if conversion_events is None else (
            (conversion_events,) if isinstance(conversion_events, str) else tuple(conversion_events))
        if not conv_ev:
            raise ValueError("conversion_events must name at least one event")
        touches = _conversion_touches(log, conv_ev, window)
    else:
        touches = _stage_touches(log, sm, stage, window)
    # a non-converting journey: a customer's tail touches within the window of the last of them
    tail = touches.tail
    last_tail_ts = np.full(log.n_customers, int(log.ts.min()) if log.n else 0, dtype=np.int64)
    np.maximum.at(last_tail_ts, log.customer[tail], log.ts[tail])
    in_tail = tail & (last_tail_ts[log.customer] - log.ts <= window)
    # journey key of each row: its conversion's row, or n + customer for the non-converting journey
    key = np.where(touches.converting, touches.target, log.n + log.customer)
    selected = np.flatnonzero(touches.converting | in_tail)
    return _group_journeys(log, key, selected, touches.conversion_rows, last_tail_ts, collapse_repeats)


def _group_journeys(log: _Log, key: np.ndarray, selected: np.ndarray, conversion_rows: np.ndarray,
                    last_tail_ts: np.ndarray, collapse_repeats: bool) -> _Journeys:
    """Order the selected touch rows into journeys by key (rows < n: a conversion's row) and describe each."""
    order = selected[np.argsort(key[selected], kind="stable")]
    k, tok, touch_ts = key[order], log.touch_codes[order].astype(np.int64), log.ts[order]
    if collapse_repeats and len(k):
        keep = np.r_[True, (k[1:] != k[:-1]) | (tok[1:] != tok[:-1])]
        k, tok, touch_ts = k[keep], tok[keep], touch_ts[keep]
    new_journey = np.r_[True, k[1:] != k[:-1]] if len(k) else np.zeros(0, bool)  # k is sorted: journeys are runs
    jid, journey_key = np.cumsum(new_journey) - 1, k[new_journey]
    converted = journey_key < log.n
    conv_row = journey_key[converted]  # conversion_rows is sorted: search it for each converting journey
    at = np.searchsorted(conversion_rows, conv_row) if len(conversion_rows) else np.zeros(0, int)
    row = conversion_rows[at]
    value = np.zeros(len(journey_key))
    end = np.zeros(len(journey_key), dtype=np.int64)
    cust = np.zeros(len(journey_key), dtype=np.int64)
    if log.revenue is not None:
        value[converted] = log.revenue[row]
    end[converted] = log.ts[row]
    cust[converted] = log.customer[row]
    cust[~converted] = journey_key[~converted] - log.n
    end[~converted] = last_tail_ts[cust[~converted]]
    without = int(len(conversion_rows) - converted.sum())
    return _Journeys(log.touch_names, tok, jid.astype(np.int64), touch_ts, converted,
                     value if log.revenue is not None else None, end, cust, without)


def paths_from_events(
    events: pd.DataFrame,
    *,
    conversion_events: Sequence[str] | str | None = None,
    window: str | pd.Timedelta | None = "30D",
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
    (in the log's order) and after the customer's previous conversion, no earlier than ``window`` before
    it. Each customer's touches after its last conversion (all touches for a customer who never converted),
    no earlier than ``window`` before the last of them, make one non-converting journey. A conversion with
    no touch in its window makes an empty journey, which is dropped (counted in
    :attr:`JourneyPaths.conversions_without_touches` of :func:`journey_paths`).

    **Stage mode** (``stage="source>target"`` or ``(source, target)``, stage names of the stage map). A
    customer enters at the row where it reaches the source stage (the first event listed under it, or its
    ``nth`` occurrence: ``purchase>retention`` starts at the first purchase and converts at the second).
    The converting journey is the touches from that row (inclusive) up to the row reaching the target
    stage (exclusive), within ``window`` before the target; a customer that never reaches the target
    makes a non-converting journey of its touches from the source row on, within ``window`` of its last
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
    window : str, Timedelta or None, default "30D"
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
        Every model takes it; :func:`journey_paths` returns it with the conversions left out.
    """
    return journey_paths(events, conversion_events=conversion_events, window=window, touch_col=touch_col,
                         stage=stage, stage_map=stage_map, collapse_repeats=collapse_repeats).table


@dataclass(frozen=True)
class JourneyPaths:
    """What :func:`journey_paths` returns: the paths table and the conversions it leaves out.

    Attributes
    ----------
    table : DataFrame
        The paths table of :func:`paths_from_events` (``path``, ``conversions``, ``nulls``, optional
        ``value``), the one every model takes.
    conversions_without_touches : int
        Conversions with no touch in their window: empty journeys, in no path.
    """

    table: pd.DataFrame
    conversions_without_touches: int

    @property
    def converting_journeys(self) -> int:
        """Journeys that end in a conversion (the table's ``conversions``, summed)."""
        return int(self.table["conversions"].sum())

    @property
    def journeys(self) -> int:
        """Journeys in the table, converting or not (each is one path's ``conversions`` or ``nulls``)."""
        return self.converting_journeys + int(self.table["nulls"].sum())


def journey_paths(
    events: pd.DataFrame,
    *,
    conversion_events: Sequence[str] | str | None = None,
    window: str | pd.Timedelta | None = "30D",
    touch_col: str = "channel",
    stage: str | tuple[str, str] | None = None,
    stage_map=None,
    collapse_repeats: bool = False,
) -> JourneyPaths:
    """:func:`paths_from_events` with the number of conversions it leaves out for want of a touch.

    Parameters
    ----------
    events : DataFrame
        Event log after :func:`cjlib.load_events`.
    conversion_events, window, touch_col, stage, stage_map, collapse_repeats
        As :func:`paths_from_events` takes them.

    Returns
    -------
    JourneyPaths
        ``table`` (the paths table) and ``conversions_without_touches``.

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "event": ["ad_click", "purchase", "purchase"],
    ...                    "channel": ["email", None, None],
    ...                    "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"])})
    >>> jp = journey_paths(ev, conversion_events="purchase")
    >>> jp.table["path"].tolist(), jp.journeys, jp.conversions_without_touches
    (['email'], 1, 1)
    """
    if not isinstance(collapse_repeats, bool):
        raise ValueError(f"collapse_repeats must be True or False, got {collapse_repeats!r}")
    _timedelta_ns(window, "window")  # a bad value is named as this function's parameter
    j = _journeys(events, conversion_events=conversion_events, window=window, touch_col=touch_col,
                  stage=stage, stage_map=stage_map, collapse_repeats=collapse_repeats)
    return JourneyPaths(_paths_table(j), int(j.conversions_without_touches))


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


def _paths_table(j: _Journeys) -> pd.DataFrame:
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
    return df.sort_values("path", kind="stable", ignore_index=True)


def touch_problem(events: pd.DataFrame, touch_col: str, profile=None) -> str:
    """Why ``touch_col`` cannot carry channel attribution for this log, in one sentence ('' when it can).

    It can when the column exists and holds at least two distinct values (with ``touch_col="channel"``
    and a data profile, the profile's ``channel`` role decides and words the reason).

    Parameters
    ----------
    events : DataFrame
        The event log.
    touch_col : str
        The column whose values are the touches.
    profile : Profile, optional
        The data profile (:func:`cjlib.profile`).

    Returns
    -------
    str
        One sentence, or '' when the column can carry attribution.
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

    Parameters
    ----------
    paths : DataFrame
        A paths table.

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
