"""The paths table: path strings, reading one from a file, and the helpers every model parses it with.

A paths table has one row per distinct journey path: ``path`` (touches joined by ``" > "``; a ``>`` inside
a channel name is written ``\\>``, see :func:`join_path`), ``conversions``, ``nulls`` and optionally
``value``. :func:`read_paths` reads it from our CSV or ChannelAttribution's format;
:func:`~cjlib.attribution.journeys.paths_from_events` builds it from an event log, for all conversions or for
one stage transition. Every model parses it with :func:`_parse` into token arrays (:class:`_Paths`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cjlib.attribution.distributed import log_columns, log_distinct
from cjlib.errors import DataError, DataWarning

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


def touch_problem(events: pd.DataFrame, touch_col: str, profile=None) -> str:
    """Why ``touch_col`` cannot carry channel attribution for this log, in one sentence ('' when it can).

    It can when the column exists and holds at least two distinct values (with ``touch_col="channel"``
    and a data profile, the profile's ``channel`` role decides and words the reason).

    Parameters
    ----------
    events : DataFrame or Partitioned
        The event log (on a cluster: distinct values counted by the workers).
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
    if touch_col not in log_columns(events):
        return f"the events have no `{touch_col}` column (set `touch_col` or map a column with `columns`)"
    n = log_distinct(events, touch_col)
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
