"""``index.html`` (:func:`write_index`): a card per report from its ``metrics.json`` / ``error.json``,
with its status, run time, data range, headline metrics and their change since the previous run (from
``history/``, :mod:`cjlib.report.history`), sections left out and parameters."""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cjlib._version import __version__
from cjlib.paths import resolve
from cjlib.report.history import (
    DEFAULT_THRESHOLD,
    PERCENT_WORDS,
    Comparison,
    compare,
    headline,
    interval,
    previous_run,
)
from cjlib.report.notebook import _atomic_write
from cjlib.report.params import _shown_parameters

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1f2933;padding:0 1rem}h1{margin-bottom:.2rem}.sub{color:#52606d;margin-top:0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:1rem}
.card{border:1px solid #d9e2ec;border-radius:10px;padding:1rem 1.2rem;background:#fff}
.card h2{font-size:1.1rem;margin:.1rem 0 .4rem}.card a{color:#0b69a3;text-decoration:none}
.status{display:inline-block;font-size:.75rem;padding:.1rem .5rem;border-radius:8px;font-weight:600}
.ok{background:#e3f9e5;color:#207227}.failed{background:#ffe3e3;color:#a61b1b}
.missing{background:#f0f4f8;color:#52606d}table{border-collapse:collapse;font-size:.85rem;width:100%}
table{table-layout:fixed}td{padding:.15rem .3rem;border-top:1px solid #f0f4f8;vertical-align:top;
overflow-wrap:anywhere}td:first-child{color:#52606d;width:48%}.desc{color:#3e4c59;font-size:.88rem;margin:.2rem 0 .6rem}
details{font-size:.8rem;margin-top:.5rem}.d{color:#7b8794;font-size:.76rem;margin-left:.45rem;white-space:nowrap}
.d.flag{color:#b44d12;font-weight:600}.iv{color:#52606d;font-size:.8rem;white-space:nowrap}.since{color:#3e4c59;font-size:.8rem;margin:.1rem 0 .4rem}
.since b{color:#b44d12}.gone{color:#52606d;font-size:.82rem;margin:.5rem 0 0}.err{color:#a61b1b;font-size:.85rem;word-break:break-word}
"""


_PERCENT_WORDS = PERCENT_WORDS


def _when(iso: str) -> str:
    """'2026-11-22T23:09:52+00:00' → '2026-11-22 23:09 UTC'."""
    return iso[:16].replace("T", " ") + (" UTC" if iso.endswith(("+00:00", "Z")) else "")


def _fmt(v: Any, key: str = "") -> str:
    if isinstance(v, float) and 0 <= v <= 1 and any(w in key for w in _PERCENT_WORDS):
        return f"{v:.1%}"
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, list):
        return f"{len(v)} item(s)"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in list(v.items())[:4])
    return html.escape(str(v))


def _short(v: Any) -> str:
    """A parameter value in a sentence: ``''`` when empty, cut at 40 characters (escaped)."""
    text = "''" if v == "" else str(v)
    return html.escape(text if len(text) <= 40 else text[:39] + "…")


def _since(c: Comparison) -> str:
    """The card's line on the previous run: first run, or when it was and what changed (data, parameters)."""
    if c.previous_started is None:
        return '<p class="since">First run: no earlier run to compare with.</p>'
    when = html.escape(_when(c.previous_started)) if c.previous_started else "an earlier time"
    parts = [] if c.data_changed is None else ["data changed" if c.data_changed else "same data"]
    changed = [f"{html.escape(k)} {_short(a)} → {_short(b)}" for k, a, b in c.parameters
               if a is not None and b is not None]
    added = [f"{html.escape(k)} {_short(b)}" for k, a, b in c.parameters if a is None]
    gone = [html.escape(k) for k, a, b in c.parameters if b is None]
    parts += ([f"parameters changed: {'; '.join(changed)}"] if changed else
              [] if c.parameters else ["same parameters"])
    parts += [f"new parameters: {'; '.join(added)}"] if added else []
    parts += [f"parameters no longer taken: {', '.join(gone)}"] if gone else []
    if c.versions:
        parts.append(f"cjlib {html.escape(c.versions[0])} → {html.escape(c.versions[1])}")
    flagged = "; ".join(f"{html.escape(d.key.replace('_', ' '))}: {html.escape(d.reason)}" for d in c.deltas
                        if d.flagged)
    said = ", ".join(parts)
    return (f'<p class="since">Since the run of {when}: {said}{"" if said.endswith("…") else "."}'
            + (f" <b>⚑</b> {flagged}." if flagged else "") + "</p>")


def _interval(metrics: dict, key: str, value: Any) -> str:
    """A number's interval as the card shows it after the number, `` (low–high)``; ``""`` when none."""
    iv = interval(metrics, key) if isinstance(value, (int, float)) else None
    if iv is None:
        return ""
    share = isinstance(value, float) and all(0 <= x <= 1 for x in (value, *iv)) and any(w in key for w in PERCENT_WORDS)
    lo, hi = (f"{x:.1%}" if share else _fmt(float(x)) for x in iv)
    return f' <span class="iv">({lo}–{hi})</span>'


def _delta(c: Comparison, key: str) -> str:
    """The change of one headline metric, as a small span after its value (flagged ones stand out)."""
    d = next((d for d in c.deltas if d.key == key), None)
    if d is None:
        return ""
    if d.flagged:
        return f'<span class="d flag" title="{html.escape(d.reason, quote=True)}">{html.escape(d.text)} ⚑</span>'
    return f'<span class="d">{html.escape(d.text)}</span>'


def write_index(out_dir: str | Path, names: Iterable[str], *, threshold: float = DEFAULT_THRESHOLD) -> Path:
    """Write ``index.html``: a card per report from its metrics.json / error.json.

    Parameters
    ----------
    out_dir : str or Path
        The reports' folder.
    names : iterable of str
        The reports to show, in order (one without files shows as missing).
    threshold : float, default 0.10
        A headline metric without an interval whose relative change since the previous run (kept in
        ``history/``) is beyond it is flagged (:func:`cjlib.report.history.delta`).

    Returns
    -------
    Path
        The index written.

    Examples
    --------
    >>> import tempfile
    >>> write_index(tempfile.mkdtemp(), ["00_journey_map"]).read_text().count('class="status missing"')
    1
    """
    out = resolve(out_dir)
    cards = []
    for name in names:
        m_path, e_path = out / f"{name}.metrics.json", out / f"{name}.error.json"
        m = json.loads(m_path.read_text()) if m_path.exists() else None
        e = json.loads(e_path.read_text()) if e_path.exists() else None
        title = (m or {}).get("title", name)
        if e is not None:
            status = "failed"
        elif m is not None:
            status = "ok"
        else:
            status = "missing"
        head = (f'<a href="{name}.html">{html.escape(title)}</a>' if m else html.escape(title))
        rows = []
        if e is not None:
            rows.append(f'<p class="err">Failed {html.escape(_when(e["started"]))}: {html.escape(e["error"])}'
                        + (" — the last good report is kept." if m else "") + "</p>")
        if m is not None:
            d = m.get("data", {})
            info = [("run", f'{_when(m["started"])} ({m["seconds"]:.1f} s)'),
                    ("data", f'{d.get("first_event", "?")[:10]} → {d.get("last_event", "?")[:10]}, '
                             f'{_fmt(d.get("events", 0))} events, {_fmt(d.get("customers", 0))} customers')]
            shown = headline(m.get("metrics", {}))
            since = compare(m, previous_run(out, name), threshold=threshold)
            gone = m.get("metrics", {}).get("left_out") or {}
            if m.get("description"):
                rows.append(f'<p class="desc">{html.escape(m["description"])}</p>')
            rows.append(_since(since))
            cells = [(k, _fmt(v, k)) for k, v in info] + [(k, _fmt(v, k) + _interval(m["metrics"], k, v)
                                                           + _delta(since, k)) for k, v in shown]
            rows.append("<table>" + "".join(f"<tr><td>{html.escape(k.replace('_', ' '))}</td><td>{v}</td></tr>"
                                            for k, v in cells) + "</table>")
            if gone:  # one line of section names; each name's reason on hover and under "why"
                names = ", ".join(f'<span title="{html.escape(v, quote=True)}">{html.escape(k)}</span>'
                                  for k, v in gone.items())
                why = "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in gone.items())
                rows.append(f'<p class="gone">Not shown for this data: {names}.</p>'
                            f"<details><summary>why</summary><ul>{why}</ul></details>")
            ps = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
                         for k, v in _shown_parameters(m.get("parameters", {}), ()).items())
            rows.append(f"<details><summary>parameters</summary><table>{ps}</table></details>")
        cards.append(f'<div class="card"><span class="status {status}">{status}</span>'
                     f"<h2>{head}</h2>{''.join(rows)}</div>")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>cjlib reports</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{_CSS}</style>"
            f"</head><body><h1>Customer-journey reports</h1><p class='sub'>cjlib {__version__} · index "
            f"written {_when(now)}</p><div class='grid'>{''.join(cards)}</div></body></html>\n")
    path = out / "index.html"
    _atomic_write(path, page)
    return path
