"""Run history: every successful run's metrics.json kept append-only, and this run against the last.

The runner (:mod:`cjlib.report.runner`) moves a copy of each new ``<name>.metrics.json`` to
``<out>/history/<name>/<sequence>_<started>.metrics.json`` inside the same journaled commit as the report
(:func:`new_entry` names it), so an entry appears exactly when its report does and a failed report adds
none. Entries are never rewritten or deleted. The index (:func:`cjlib.report.write_index`) compares each
report's current metrics.json with the run before it (:func:`previous_run`, :func:`compare`): the change of
every headline metric, flagged when it leaves the metric's interval or, without one, passes a relative
threshold; whether the data or the parameters changed in between.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HISTORY_DIR = "history"
DEFAULT_THRESHOLD = 0.10
PERCENT_WORDS = ("rate", "conversion", "share")  # a float in [0, 1] under such a name is shown as a percentage

_ENTRY = re.compile(r"^(\d+)_(\d{8}T\d{6}Z)?.*\.metrics\.json$")


def entries(out_dir: str | Path, name: str) -> list[Path]:
    """The history entries of one report, oldest first.

    Parameters
    ----------
    out_dir : str or Path
        The reports' folder (``--out``).
    name : str
        The report (``"03_dropoff"``).

    Returns
    -------
    list of Path
        ``<out_dir>/history/<name>/NNNNNN_<started>.metrics.json`` files in sequence order; other files in
        that folder are ignored.

    Examples
    --------
    >>> import tempfile
    >>> entries(tempfile.mkdtemp(), "03_dropoff")
    []
    """
    folder = Path(out_dir) / HISTORY_DIR / name
    found = [(int(m.group(1)), p) for p in folder.glob("*.metrics.json") if (m := _ENTRY.match(p.name))]
    return [p for _, p in sorted(found)]


def new_entry(out_dir: str | Path, name: str, started: dt.datetime | str) -> Path:
    """Where the next history entry of a report goes: one past the highest sequence number, never an
    existing file (call it under the run's lock on ``out_dir``).

    Parameters
    ----------
    out_dir : str or Path
        The reports' folder.
    name : str
        The report.
    started : datetime or str
        When the run started (ISO text as in metrics.json, or a datetime); it names the file, the sequence
        number orders it.

    Returns
    -------
    Path
        ``<out_dir>/history/<name>/<sequence, 6 digits>_<YYYYmmddTHHMMSSZ>.metrics.json`` (not created).

    Examples
    --------
    >>> import tempfile
    >>> new_entry(tempfile.mkdtemp(), "03_dropoff", "2026-11-30T11:17:55+00:00").name
    '000001_20261130T111755Z.metrics.json'
    """
    taken = entries(out_dir, name)
    return _entry_path(out_dir, name, int(_ENTRY.match(taken[-1].name).group(1)) + 1 if taken else 1, started)


def _entry_path(out_dir: str | Path, name: str, seq: int, started: dt.datetime | str) -> Path:
    when = dt.datetime.fromisoformat(started) if isinstance(started, str) else started
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return Path(out_dir) / HISTORY_DIR / name / f"{seq:06d}_{when:%Y%m%dT%H%M%SZ}.metrics.json"


def stage_entries(out_dir: str | Path, name: str, started: dt.datetime | str, text: str,
                  staging: str | Path) -> list[tuple[Path, Path]]:
    """Stage a successful run's history entry for the report's commit (call it under the run's lock).

    Parameters
    ----------
    out_dir : str or Path
        The reports' folder.
    name : str
        The report.
    started : datetime or str
        When the run started.
    text : str
        The run's metrics.json, exactly as it is written to ``<name>.metrics.json``.
    staging : str or Path
        The run's staging folder, where the entry is written before the commit moves it.

    Returns
    -------
    list of (staged file, history entry)
        The moves to add to the commit: this run's entry; first, when the report has no history yet but
        a ``<name>.metrics.json`` from before history was kept, that one (so the first run with history
        already compares with it).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> [b.name for _, b in stage_entries(out, "r", "2026-01-02T00:00:00+00:00", "{}", out)]
    ['000001_20260102T000000Z.metrics.json']
    >>> _ = (out / "r.metrics.json").write_text('{"started": "2026-01-01T00:00:00+00:00"}')
    >>> [b.name for _, b in stage_entries(out, "r", "2026-01-02T00:00:00+00:00", "{}", out)]
    ['000001_20260101T000000Z.metrics.json', '000002_20260102T000000Z.metrics.json']
    """
    from cjlib.report.notebook import _atomic_write

    staging, moves = Path(staging), []
    taken = entries(out_dir, name)
    if not taken:
        try:
            before = (Path(out_dir) / f"{name}.metrics.json").read_text()
            then = dt.datetime.fromisoformat(json.loads(before)["started"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no earlier run, or not a readable one
        else:
            _atomic_write(staging / f"{name}.history-before.json", before)
            moves.append((staging / f"{name}.history-before.json", _entry_path(out_dir, name, 1, then)))
    _atomic_write(staging / f"{name}.history.json", text)  # the same bytes: previous_run finds it by them
    seq = int(_ENTRY.match(taken[-1].name).group(1)) + 1 if taken else len(moves) + 1
    moves.append((staging / f"{name}.history.json", _entry_path(out_dir, name, seq, started)))
    return moves


def _read(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def previous_run(out_dir: str | Path, name: str) -> dict | None:
    """The metrics.json of the run before the report's current one, from its history.

    Parameters
    ----------
    out_dir : str or Path
        The reports' folder.
    name : str
        The report; its current run is ``<out_dir>/<name>.metrics.json``.

    Returns
    -------
    dict or None
        The history entry just before the one equal to the current metrics.json (byte for byte); when no
        entry equals it (a report written before history was kept), the latest entry that started before
        it. None when there is no current run or no earlier one (the first run).

    Examples
    --------
    >>> import tempfile
    >>> previous_run(tempfile.mkdtemp(), "03_dropoff") is None
    True
    """
    current_path = Path(out_dir) / f"{name}.metrics.json"
    try:
        current = current_path.read_bytes()
    except OSError:
        return None
    found = entries(out_dir, name)
    for i in range(len(found) - 1, -1, -1):
        try:
            same = found[i].read_bytes() == current
        except OSError:
            continue
        if same:
            return next((d for p in reversed(found[:i]) if (d := _read(p)) is not None), None)
    try:
        started = dt.datetime.fromisoformat(json.loads(current)["started"]).astimezone(dt.UTC)
    except (ValueError, KeyError, TypeError):
        return None
    for p in reversed(found):
        m = _ENTRY.match(p.name)
        if m.group(2) and dt.datetime.strptime(m.group(2), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC) < started:
            if (doc := _read(p)) is not None:
                return doc
    return None


@dataclass(frozen=True)
class Delta:
    """One headline metric against the previous run.

    Parameters
    ----------
    key : str
        The metric's name in metrics.json.
    value, previous : number, str or None
        This run's and the previous run's value (None: not recorded then).
    change : float or None
        ``value - previous`` when both are numbers, else None.
    relative : float or None
        ``change / |previous|``; None when the previous value is 0 or not a number.
    percent : bool
        Both values are shares in [0, 1] under a rate/conversion/share name: ``text`` is in percentage points.
    flagged : bool
        The change is outside the metric's interval or, without one, beyond the threshold.
    reason : str
        Why it is flagged, a plain sentence; ``""`` when not flagged.
    text : str
        The change as the index shows it (``"+2.1 pp"``, ``"+1,204 (+6.2%)"``, ``"unchanged"``,
        ``"was retention"``, cut at 60 characters, ``"new"``); not escaped.
    """

    key: str
    value: Any
    previous: Any
    change: float | None
    relative: float | None
    percent: bool
    flagged: bool
    reason: str
    text: str


@dataclass(frozen=True)
class Comparison:
    """A run against the one before it.

    Parameters
    ----------
    previous_started : str or None
        When the previous run started (ISO text, ``""`` if it does not say); None for the first run (no
        deltas then).
    data_changed : bool or None
        The data fingerprint differs; None when either run does not record one.
    parameters : tuple of (name, previous value, value)
        The parameters whose values differ (one absent in a run has None there), in the current run's order.
    versions : tuple of str
        ``(previous, current)`` cjlib versions when both runs record one and they differ, else ``()``.
    deltas : tuple of Delta
        One per headline metric, in the card's order.
    threshold : float
        The relative change flagged for metrics without an interval.
    """

    previous_started: str | None
    data_changed: bool | None
    parameters: tuple[tuple[str, Any, Any], ...]
    versions: tuple[str, ...]
    deltas: tuple[Delta, ...]
    threshold: float


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


_BOUNDS = ("_low", "_high", "_ci_low", "_ci_high")


def headline(metrics: Mapping[str, Any], limit: int = 8) -> list[tuple[str, Any]]:
    """The metrics an index card shows: the first ``limit`` numbers and strings, in recording order; the
    ends of a shown number's interval (``<key>_low``, ``<key>_ci_high`` …) are not rows of their own, the
    card shows them beside the number (:func:`interval`).

    Parameters
    ----------
    metrics : mapping
        The ``metrics`` of a metrics.json.
    limit : int, default 8
        How many.

    Returns
    -------
    list of (str, value)

    Examples
    --------
    >>> headline({"n": 3, "funnel": [1, 2], "ok": True, "rate": 0.5, "rate_low": 0.4, "rate_high": 0.6})
    [('n', 3), ('rate', 0.5)]
    """
    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
    bounds = {f"{k}{b}" for k in scalars for b in _BOUNDS if interval(metrics, k) is not None}
    return [(k, v) for k, v in scalars.items() if k not in bounds][:limit]


def interval(metrics: Mapping[str, Any], key: str) -> tuple[float, float] | None:
    """The interval metrics.json records for a metric, if any.

    Parameters
    ----------
    metrics : mapping
        The ``metrics`` of a metrics.json.
    key : str
        The metric.

    Returns
    -------
    (low, high) or None
        From sibling keys ``<key>_low``/``<key>_high``, ``<key>_ci_low``/``<key>_ci_high``, or a two-number
        list ``<key>_ci``/``<key>_interval``; None when none is there or its ends are not finite numbers.

    Examples
    --------
    >>> interval({"lift": 0.1, "lift_ci_low": 0.02, "lift_ci_high": 0.18}, "lift")
    (0.02, 0.18)
    >>> interval({"lift": 0.1}, "lift") is None
    True
    """
    pairs = [(metrics.get(f"{key}_low"), metrics.get(f"{key}_high")),
             (metrics.get(f"{key}_ci_low"), metrics.get(f"{key}_ci_high"))]
    for k in (f"{key}_ci", f"{key}_interval"):
        v = metrics.get(k)
        if isinstance(v, (list, tuple)) and len(v) == 2:
            pairs.append(tuple(v))
    for lo, hi in pairs:
        if _number(lo) and _number(hi) and lo <= hi:
            return float(lo), float(hi)
    return None


def _is_percent(key: str, *values: Any) -> bool:
    return (any(w in key for w in PERCENT_WORDS)
            and all(isinstance(v, float) and 0 <= v <= 1 for v in values))


def _signed(d: float, percent: bool, integer: bool) -> str:
    if percent:
        return f"{d * 100:+.1f} pp"
    if integer:
        return f"{int(d):+,}"
    return f"{d:+,.3g}" if abs(d) < 1000 else f"{d:+,.0f}"


def _value_text(v: Any, percent: bool) -> str:
    if percent:
        return f"{v:.1%}"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def delta(key: str, value: Any, previous: Any, *, current_metrics: Mapping[str, Any] | None = None,
          previous_metrics: Mapping[str, Any] | None = None, threshold: float = DEFAULT_THRESHOLD) -> Delta:
    """One metric's change since the previous run, and whether it stands out.

    Parameters
    ----------
    key : str
        The metric's name.
    value, previous : number, str or None
        This run's and the previous run's value.
    current_metrics, previous_metrics : mapping, optional
        The two runs' ``metrics``, where the metric's interval is looked up (:func:`interval`).
    threshold : float, default 0.10
        A relative change beyond it (``|change| > threshold × |previous|``) is flagged, for a metric without
        an interval; a change from 0 is beyond any threshold.

    Returns
    -------
    Delta
        Flagged, with an interval, when the previous value lies outside this run's interval (or, when only
        the previous run has one, this value outside the previous interval).

    Examples
    --------
    >>> delta("conversion_rate", 0.25, 0.20).text
    '+5.0 pp'
    >>> d = delta("n_customers", 1100, 1000)
    >>> d.text, d.flagged
    ('+100 (+10.0%)', False)
    >>> delta("auc", 0.7, 0.8, current_metrics={"auc_low": 0.65, "auc_high": 0.75}).reason
    'the last run (0.8) is outside this run’s interval 0.65–0.75'
    """
    if not (_number(value) and _number(previous)):
        if previous is None or (isinstance(previous, float) and not math.isfinite(previous)):
            text = "new"
        elif value == previous:
            text = "unchanged"
        else:
            was = _value_text(previous, False) if _number(previous) else str(previous)
            text = "was " + (was if len(was) <= 60 else was[:59] + "…")
        return Delta(key, value, previous, None, None, False, False, "", text)
    change = value - previous
    relative = change / abs(previous) if previous != 0 else None
    percent = _is_percent(key, value, previous)
    integer = isinstance(value, int) and isinstance(previous, int)
    if change == 0:
        return Delta(key, value, previous, 0, 0.0 if previous else None, percent, False, "", "unchanged")
    text = _signed(change, percent, integer)
    if relative is not None and not percent:
        text += f" ({relative:+.1%})"
    reason = ""
    here = interval(current_metrics or {}, key)
    there = interval(previous_metrics or {}, key)
    if here is not None:
        if not here[0] <= previous <= here[1]:
            reason = (f"the last run ({_value_text(previous, percent)}) is outside this run’s interval "
                      f"{_value_text(here[0], percent)}–{_value_text(here[1], percent)}")
    elif there is not None:
        if not there[0] <= value <= there[1]:
            reason = (f"this run is outside the last run’s interval "
                      f"{_value_text(there[0], percent)}–{_value_text(there[1], percent)}")
    elif relative is None:
        reason = "it was 0 in the last run"
    elif abs(relative) > threshold:
        reason = f"it changed by {relative:+.1%}, more than {threshold * 100:g}%"
    return Delta(key, value, previous, change, relative, percent, bool(reason), reason, text)


def compare(current: Mapping[str, Any], previous: Mapping[str, Any] | None, *,
            threshold: float = DEFAULT_THRESHOLD) -> Comparison:
    """A run's metrics.json against the previous run's.

    Parameters
    ----------
    current : mapping
        This run's metrics.json.
    previous : mapping or None
        The previous run's (:func:`previous_run`); None: the first run.
    threshold : float, default 0.10
        The relative change flagged for a metric without an interval (see :func:`delta`).

    Returns
    -------
    Comparison
        No deltas for the first run.

    Examples
    --------
    >>> a = {"started": "2026-01-01T00:00:00+00:00", "parameters": {"window": "30D"},
    ...      "data": {"fingerprint": "x"}, "metrics": {"n_customers": 100}}
    >>> b = {**a, "parameters": {"window": "7D"}, "metrics": {"n_customers": 90}}
    >>> c = compare(b, a)
    >>> c.parameters, c.data_changed, c.deltas[0].text
    ((('window', '30D', '7D'),), False, '-10 (-10.0%)')
    """
    if not 0 <= threshold < math.inf:
        raise ValueError(f"threshold must be a number >= 0, not {threshold!r}")
    if previous is None:
        return Comparison(None, False, (), (), (), threshold)
    cur_m, prev_m = current.get("metrics") or {}, previous.get("metrics") or {}
    cur_p, prev_p = current.get("parameters") or {}, previous.get("parameters") or {}
    params = tuple((k, prev_p.get(k), cur_p.get(k)) for k in [*cur_p, *(k for k in prev_p if k not in cur_p)]
                   if prev_p.get(k) != cur_p.get(k))
    fp_now = (current.get("data") or {}).get("fingerprint")
    fp_then = (previous.get("data") or {}).get("fingerprint")
    was, now = previous.get("cjlib_version"), current.get("cjlib_version")
    versions = (str(was), str(now)) if was and now and was != now else ()
    deltas = tuple(delta(k, v, prev_m.get(k), current_metrics=cur_m, previous_metrics=prev_m, threshold=threshold)
                   for k, v in headline(cur_m))
    changed = None if fp_now is None or fp_then is None else fp_now != fp_then
    return Comparison(str(previous.get("started") or ""), changed, params, versions, deltas,
                      threshold)
