"""Recording headline numbers from notebooks, and running notebooks into HTML reports.

Inside a notebook
    :func:`record` stores a headline number (it travels in the executed notebook as an output of its own
    MIME type, so any runner — ours, plain papermill — can read it back with :func:`read_metrics`);
    :func:`finding` shows a Markdown finding; :func:`export_csv` writes customer-level tables under
    ``output_dir``; :func:`pseudonymize` hides ids where a report shows examples.

The runner (``python -m cjlib report``, :func:`run_reports`)
    validates the parameters against the notebooks' ``parameters`` cells and loads the inputs once (bad
    input stops the run before any report is touched), then for each notebook: papermill executes it,
    nbconvert renders HTML (code hidden unless ``keep_code``), and ``<name>.html``, ``<name>.ipynb`` and
    ``<name>.metrics.json`` are written atomically (temporary file, then rename) — a failed notebook never
    replaces the last good report. ``index.html`` links every report with its status, run time,
    parameters, data range and headline metrics.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import html
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cjlib._version import __version__
from cjlib.paths import NOTEBOOKS_DIR, resolve

__all__ = [
    "load",
    "record",
    "record_all",
    "finding",
    "chart_title",
    "left_out",
    "read_findings",
    "FindingError",
    "export_csv",
    "pseudonymize",
    "read_metrics",
    "fingerprint",
    "notebook_parameters",
    "validate_parameters",
    "run_reports",
    "ReportResult",
    "ParameterError",
    "METRICS_MIME",
]

METRICS_MIME = "application/vnd.cjlib.metrics+json"
CHART_MIME = "application/vnd.cjlib.chart+json"
STRICT_ENV = "CJLIB_STRICT_FINDINGS"
DATA_PARAMS = ("events_path", "customers_path", "feedback_path", "costs_path", "stage_map_path", "channel_rules_path")


from cjlib.parameters import ParameterError  # noqa: E402  (defined there, re-exported here)

STAGING_ENV = "CJLIB_STAGING"  # set by the runner for each kernel: export_csv stages its files there


# ------------------------------------------------------------------------------------- in the notebook
def to_jsonable(value: Any) -> Any:
    """Convert numpy/pandas values to plain JSON types (NaN → None, timestamps → ISO text)."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, pd.DataFrame):
        return to_jsonable(value.to_dict(orient="records"))
    if isinstance(value, pd.Series):
        return to_jsonable(value.to_dict())
    if isinstance(value, (list, tuple, np.ndarray)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, pd.Timedelta):
        return None if pd.isna(value) else value.total_seconds()
    if value is None or isinstance(value, str):
        return value
    if value is pd.NaT or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return None
    return str(value)


def load(params: Mapping[str, Any]):
    """A report's inputs from its parameters: what every notebook does before its first section.

    Checks the parameters' ranges and choices (as the CLI does), loads the event log and the optional
    tables with the shared data parameters, checks the names that need the stage map (``journey``,
    ``checkout_journey``) and, when ``dask_address`` is set, that the ``dask`` extra is installed, so a bad
    parameter fails here and not halfway through the report.

    Parameters
    ----------
    params : Mapping
        The notebook's parameters; ``globals()`` works (only known names are read). ``events_path`` is
        required; the other shared data parameters default to ``""`` (switched off).

    Returns
    -------
    Inputs
        As :func:`cjlib.load_inputs` returns it.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> path = tempfile.mkdtemp() + "/events.csv"
    >>> pd.DataFrame({"customer_id": ["a", "a"], "timestamp": ["2025-01-01", "2025-01-02"],
    ...               "event": ["page_view", "purchase"]}).to_csv(path, index=False)
    >>> load({"events_path": path}).summary()["events"]
    2
    """
    from cjlib import engine, parameters
    from cjlib.io import load_inputs

    parameters.check(params)
    get = params.get
    data = load_inputs(events_path=params["events_path"], customers_path=get("customers_path", ""),
                       feedback_path=get("feedback_path", ""), costs_path=get("costs_path", ""),
                       columns=get("columns", ""), stage_map_path=get("stage_map_path", ""),
                       start_date=get("start_date", ""), end_date=get("end_date", ""),
                       events_format=get("events_format", "table"), channel_rules=get("channel_rules_path", ""))
    parameters.check_with_stage_map(params, data.stage_map)
    engine.run_on(get("dask_address", ""))
    return data


def record(key: str, value: Any) -> None:
    """Record a headline number under ``key`` for ``metrics.json`` (shown as one plain line in Jupyter).

    Values must be JSON-like: numbers, strings, lists and dicts of them; numpy/pandas values are
    converted (NaN becomes null). Recording the same key twice keeps the last value.
    """
    from IPython.display import display

    payload = {key: to_jsonable(value)}
    text = f"recorded {key} = {json.dumps(payload[key])[:200]}"
    display({METRICS_MIME: payload, "text/plain": text}, raw=True)


def record_all(metrics: Mapping[str, Any]) -> None:
    """:func:`record` each key of ``metrics`` in order (a section's metrics from one cjlib call)."""
    for key, value in metrics.items():
        record(key, value)


class FindingError(ValueError):
    """A finding or chart title that says something undefined (NaN, inf, a trend between two zeros)."""


def _checked(text: str, what: str) -> str:
    """``text`` without its lines that :func:`cjlib.findings.problems` flags.

    With ``CJLIB_STRICT_FINDINGS=1`` (the test suite sets it) a flagged line raises
    :class:`FindingError` instead, so a bug that lets NaN through fails the tests rather than a reader.
    """
    from cjlib.findings import problems

    bad = problems(text)
    if not bad:
        return text
    if os.environ.get(STRICT_ENV) == "1":
        raise FindingError(f"{what} not earned ({'; '.join(bad)}): {text[:300]!r}")
    import warnings

    warnings.warn(f"{what} left out, it is not earned ({'; '.join(bad)})", stacklevel=3)
    return "\n".join(line for line in text.split("\n") if not problems(line))


def finding(text: str, *, trusted: bool = False) -> None:
    """Show a finding as Markdown (write it as an f-string from the numbers, never typed in).

    Lines that state an undefined value (NaN, inf, None, a trend between two zeros) are left out with a
    warning — or raise :class:`FindingError` when ``CJLIB_STRICT_FINDINGS=1``.

    The text is data-derived, so it is escaped (:func:`cjlib.safety.escape_markdown`): HTML, links,
    images, autolinks and math show as the characters they are, while ``**bold**``, ``*italic*``, code
    spans and bullets keep their formatting. ``trusted=True`` shows ``text`` as Markdown as it is — only
    for text with nothing from data in it.
    """
    from IPython.display import Markdown, display

    from cjlib.safety import escape_markdown

    text = _checked(text, "finding")
    if text.strip():
        display(Markdown(text if trusted else escape_markdown(text)))


_LEFT_OUT: dict[str, str] = {}


def left_out(section: str, reason: str) -> None:
    """Say in one sentence why a section is not shown for this data, and record it for the index.

    The sentence reads "*{section} is not shown:* {reason}"; ``metrics.json`` keeps every section left out
    in this kernel under ``left_out`` (section → reason), and the index lists them per report.
    """
    reason = reason.strip()
    _LEFT_OUT[section] = reason
    finding(f"*{section[:1].upper() + section[1:]} is not shown:* {reason}")
    record("left_out", dict(_LEFT_OUT))


def chart_title(title: str) -> None:
    """Check a chart title like a finding and keep it in the executed notebook (under its own MIME type,
    not shown in the HTML) so :func:`read_findings` returns titles with the findings."""
    _checked(title, "chart title")
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    if get_ipython() is None:
        return
    from IPython.display import display

    display({CHART_MIME: {"title": title}}, raw=True)


def read_findings(nb: Any) -> list[str]:
    """Every finding (Markdown output) and chart title of an executed notebook, in order.

    ``nb`` is a path or a NotebookNode (papermill's output, or ``reports/<name>.ipynb``). A finding reads
    as it was written: the escaping :func:`finding` added is undone (:func:`cjlib.safety.unescape_markdown`).
    """
    import nbformat

    from cjlib.safety import unescape_markdown

    if not hasattr(nb, "cells"):
        nb = nbformat.read(str(nb), as_version=4)
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if CHART_MIME in data:
                payload = data[CHART_MIME]
                out.append((json.loads(payload) if isinstance(payload, str) else payload)["title"])
            elif "text/markdown" in data:
                md = data["text/markdown"]
                out.append(unescape_markdown("".join(md) if isinstance(md, list) else md))
    return out


def _umask() -> int:
    """The process umask (read without changing it where /proc allows)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``path`` whole or not at all (a hidden ``.NAME.*.tmp`` file, then a rename), with the mode a
    plain ``open`` gives (0666 less the umask; ``mkstemp`` alone would make it 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


STAGED_SUFFIX = ".cjlib-staged"
EXPORTS_MANIFEST = "exports.jsonl"


def export_csv(df: pd.DataFrame, output_dir: str | Path, name: str, *, index: bool = True) -> Path:
    """Write a customer-level table to ``output_dir/name``, spreadsheet-safe
    (:func:`cjlib.safety.spreadsheet_safe`: text cells that a spreadsheet would run as a formula get a
    leading ``'``); return that path.

    Alone (JupyterLab, plain papermill) the file is written atomically in place. Under the runner
    (``python -m cjlib report`` sets ``CJLIB_STAGING`` to the report's staging folder) it is written to a
    hidden ``.NAME.<run>.cjlib-staged`` file beside its target and listed in the staging folder, and the
    runner moves it into place with the report's HTML, notebook and metrics — or deletes it when the
    notebook fails — so a report and its exports are replaced together or not at all.
    """
    from cjlib.safety import spreadsheet_safe

    path = resolve(output_dir) / name
    text = spreadsheet_safe(df).to_csv(index=index)  # a cell like "=HYPERLINK(…)" never runs as a formula
    staging = os.environ.get(STAGING_ENV, "")
    if not staging or not Path(staging).is_dir():
        _atomic_write(path, text)
        return path
    staged = path.parent / f".{path.name}.{Path(staging).name.lstrip('.')}{STAGED_SUFFIX}"
    _atomic_write(staged, text)
    with open(Path(staging) / EXPORTS_MANIFEST, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"staged": str(staged), "target": str(path)}) + "\n")
    return path


def pseudonymize(ids: Iterable, length: int = 10, *, key: bytes | str | None = None) -> pd.Series:
    """Keyed pseudonyms for ids shown in reports: the first ``length`` hex digits of HMAC-SHA256(key, id).

    ``key`` defaults to the project's secret (:func:`cjlib.safety.pseudonym_key`: ``CJLIB_PSEUDONYM_KEY``,
    else ``.cjlib/pseudonym.key`` at the project root, created once with random bytes), so the same id
    gets the same pseudonym in every run of a project, and nobody without the key can recompute one from
    an id (``C000001``) — unlike a hash with a constant salt.
    """
    import hmac

    from cjlib.safety import pseudonym_key

    key = pseudonym_key() if key is None else key
    key = key.encode() if isinstance(key, str) else bytes(key)
    vals = [str(v) for v in ids]
    out = [hmac.new(key, v.encode(), hashlib.sha256).hexdigest()[:length] for v in vals]
    return pd.Series(out, index=vals if not isinstance(ids, pd.Series) else ids.index, name="pseudonym")


def read_metrics(nb: Any) -> dict:
    """Collect the values :func:`record` stored in an executed notebook (a path or a NotebookNode)."""
    import nbformat

    if not hasattr(nb, "cells"):
        nb = nbformat.read(str(nb), as_version=4)
    out: dict = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if METRICS_MIME in data:
                payload = data[METRICS_MIME]
                out.update(json.loads(payload) if isinstance(payload, str) else payload)
    return out


def fingerprint(paths: Iterable[str | Path]) -> str:
    """SHA-256 over the content of the given files (folders: every file in them, sorted); '' entries skipped."""
    h = hashlib.sha256()
    for p in paths:
        if not p:
            continue
        p = resolve(p)
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            h.update(str(f.name).encode())
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]


# ------------------------------------------------------------------------------------------ parameters
def list_notebooks(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Notebooks the runner knows: ``NN_name.ipynb`` in ``folder``, in name order."""
    return sorted(p for p in folder.glob("*.ipynb") if re.match(r"\d\d_", p.name))


def notebook_parameters(path: str | Path) -> dict[str, dict]:
    """The parameters a notebook declares: name → {default, type, help} (from its ``parameters`` cell)."""
    import logging

    import papermill as pm

    problems: list[str] = []

    class _Catch(logging.Handler):
        def emit(self, rec: logging.LogRecord) -> None:
            problems.append(rec.getMessage())

    log = logging.getLogger("papermill")
    handler, propagate = _Catch(logging.WARNING), log.propagate
    log.addHandler(handler)
    log.propagate = False  # papermill would print the warning on stderr; we raise instead
    try:
        params = pm.inspect_notebook(str(path))
    finally:
        log.removeHandler(handler)
        log.propagate = propagate
    if problems:
        raise ParameterError(f"{Path(path).name}: parameters cell: {problems[0]} "
                             "(one 'name: type = value  # comment' per line; no '=' in the comment)")
    out = {}
    for name, info in params.items():
        default = info.get("default")
        try:
            default = json.loads(default) if default is not None else None
        except (TypeError, json.JSONDecodeError):
            import ast

            try:
                default = ast.literal_eval(default)
            except (ValueError, SyntaxError):
                pass
        out[name] = {"default": default, "type": info.get("inferred_type_name") or "None",
                     "help": info.get("help", "")}
    return out


def _coerce(name: str, value: Any, typ: str) -> Any:
    """Coerce a parameter value (CLI text or a YAML value) to the declared type, or raise."""
    import yaml

    typ = typ.split("[")[0].strip().lower()
    if isinstance(value, str) and typ not in {"str", "none", ""}:
        try:
            value = yaml.safe_load(value) if value.strip() else value
        except yaml.YAMLError:
            pass
    ok = True
    if typ == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif typ == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif typ == "bool":
        ok = isinstance(value, bool)
    elif typ == "list":
        value = list(value) if isinstance(value, tuple) else value
        ok = isinstance(value, list)
    elif typ == "dict":
        ok = isinstance(value, dict)
    elif typ == "str":
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        elif value is None:
            value = ""
        elif not isinstance(value, str):
            value = str(value)
    if not ok:
        raise ParameterError(f"parameter '{name}' must be {typ}, got {value!r}")
    return value


def validate_parameters(notebooks: list[Path], params: Mapping[str, Any]) -> dict[str, dict]:
    """Check and type parameters for each notebook; return notebook name → parameters to inject.

    Each parameter goes to every selected notebook that declares it. A name no selected notebook
    declares, a value of the wrong type, or one outside the range or choices :mod:`cjlib.parameters`
    knows for its name (checked on each notebook's defaults overlaid with the given values, so
    ``k_min <= k_max`` holds either way) raises :class:`ParameterError` with a one-line message. A
    mapping for a ``str`` parameter (``columns`` from a params file) is passed on as JSON text, which
    :func:`cjlib.io.parse_columns` reads back; ``columns`` is checked to be a flat or per-table mapping.
    """
    declared = {nb.stem: notebook_parameters(nb) for nb in notebooks}
    known = sorted({n for d in declared.values() for n in d})
    for name in params:
        if name not in known:
            raise ParameterError(f"unknown parameter '{name}': no selected notebook declares it "
                                 f"(declared: {', '.join(known)})")
    out = {}
    for nb, decl in declared.items():
        out[nb] = {k: _coerce(k, v, decl[k]["type"]) for k, v in params.items() if k in decl}
    if params.get("columns"):
        _check_columns(params["columns"])
    from cjlib.parameters import problems

    bad: list[str] = []  # ranges, choices and cross-field rules on each notebook's defaults + given values
    for nb, decl in declared.items():
        bad += [p for p in problems({**{k: d["default"] for k, d in decl.items()}, **out[nb]}) if p not in bad]
    if bad:
        raise ParameterError("; ".join(bad))
    return out


def _check_columns(value: Any) -> None:
    """Raise :class:`ParameterError` unless ``value`` is a column mapping (flat or per table, a dict, YAML/JSON
    text or a file) that :func:`cjlib.io.parse_columns` accepts."""
    from cjlib.io import parse_columns

    try:
        parse_columns(value)
    except ValueError as exc:
        raise ParameterError(f"parameter 'columns': {exc} (a flat mapping such as {{customer_id: user_pseudo_id}} "
                             "or one per table such as {events: {event: event_name}, customers: {...}})") from None


def effective_parameters(path: Path, injected: Mapping[str, Any]) -> dict:
    """Declared defaults overlaid with the injected values."""
    merged = {k: v["default"] for k, v in notebook_parameters(path).items()}
    merged.update(injected)
    return merged


# -------------------------------------------------------------------------------------------- rendering
def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, flags=re.M)
            if m:
                return m.group(1).strip()
    return "Report"


def _description(nb) -> str:
    """The first paragraph after the title: what the report answers, for the index."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and re.search(r"^#\s", cell.source, flags=re.M):
            rest = re.sub(r"^#\s+.+$", "", cell.source, count=1, flags=re.M).strip()
            return rest.split("\n\n")[0].replace("\n", " ").strip()
    return ""


@functools.lru_cache(maxsize=2)
def _exporter(keep_code: bool):
    """One HTML exporter per setting, reused: its templates are loaded and compiled once per process."""
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab", exclude_input=not keep_code,
                        exclude_input_prompt=not keep_code, exclude_output_prompt=True)


def _warm_up_renderer(keep_code: bool) -> None:
    """Render a one-cell notebook so nbconvert's start-up (imports, templates, Markdown and output
    renderers, BeautifulSoup's entity table) is paid once per run, before the first report's clock starts."""
    import nbformat

    v4 = nbformat.v4
    cell = v4.new_code_cell("1", outputs=[v4.new_output("display_data", data={"text/html": "<b>1 &amp; 2</b>",
                                                                                 "text/plain": "1"})])
    render_html(v4.new_notebook(cells=[v4.new_markdown_cell("# Warm-up\n\n*one* `cell`"), cell]),
                keep_code=keep_code)


def render_html(nb, *, keep_code: bool = False, title: str | None = None) -> str:
    """HTML of an executed notebook: code hidden (unless ``keep_code``), no metrics or stderr outputs,
    no external scripts (works offline).

    Data reaches the page already escaped (:func:`finding`, and every table through
    :func:`cjlib.plots.set_theme`); nbconvert's ``sanitize_html`` stays off because it drops every ``<th>``
    (table headers and index labels) and the tables' ``<style>`` (nbconvert 7.17)."""
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = [
            o for o in cell.get("outputs", [])
            if METRICS_MIME not in o.get("data", {}) and CHART_MIME not in o.get("data", {})
            and not (o.get("output_type") == "stream" and o.get("name") == "stderr" and not keep_code)
        ]
    body, _ = _exporter(keep_code).from_notebook_node(nb, resources={"metadata": {"name": title or _title(nb)}})
    # require.js, MathJax and Mermaid come from a CDN; reports need none of them and must work offline
    body = re.sub(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>', "", body)
    return re.sub(r'<script type="module">(?:(?!</script>).)*?https?://(?:(?!</script>).)*</script>', "",
                  body, flags=re.S)


# -------------------------------------------------------------------------------------------- the runner
@dataclass
class ReportResult:
    """What happened to one notebook in a run."""

    name: str
    status: str  # "ok" or "failed"
    seconds: float
    error: str = ""
    metrics: dict = field(default_factory=dict)


def _data_summary(params: Mapping[str, Any]) -> dict:
    """Load every input once (validating it) and describe it: fingerprint, range, counts."""
    return _load_data(params)[0]


def _load_data(params: Mapping[str, Any], checks: Iterable[Mapping[str, Any]] = ()):
    """Load every input once (validating it): its summary (fingerprint, range, counts) and the stage map.

    ``checks`` are the effective parameters of the chosen notebooks: the rules that need the data (a given
    churn window must fit the log, see :func:`cjlib.churn.plan_window`) are checked here, while it is loaded,
    so a bad one stops the run before anything is written."""
    import warnings

    from cjlib.io import load_inputs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = load_inputs(**{k: params.get(k, "") for k in
                                ("events_path", "customers_path", "feedback_path", "costs_path",
                                 "columns", "stage_map_path", "start_date", "end_date", "events_format")},
                             channel_rules=params.get("channel_rules_path") or None)
    for p in checks:
        _check_churn_window(inputs, p)
    summary = inputs.summary()
    summary["fingerprint"] = fingerprint(params.get(k, "") for k in DATA_PARAMS)
    return summary, inputs.stage_map


def _check_churn_window(inputs, params: Mapping[str, Any]) -> None:
    """A given ``churn_window_days`` (or ``cutoff``) that does not fit the log: the one-line DataError of
    :func:`cjlib.churn.plan_window`, naming the longest window that fits."""
    window, cutoff = params.get("churn_window_days"), params.get("cutoff")
    if "churn_window_days" not in params or not (window or cutoff):
        return  # no churn notebook, or the window is fitted to the data (the notebook says why if none fits)
    from cjlib.churn import plan_window

    activity = [e.strip() for e in str(params.get("activity_events") or "").split(",") if e.strip()] or None
    plan_window(inputs.events, window or None, cutoff=cutoff or None, activity_events=activity)


# ------------------------------------------------------------------------- paths shown, output checks
def _shown_path(value: str, bases: Iterable[Path] = ()) -> str:
    """A path as reports show it: relative to the first of ``bases`` (the params file's folder, the
    current folder), the project root or the output folder that holds it, else its name alone — never
    the machine's absolute path."""
    from cjlib.paths import PROJ_ROOT

    if not isinstance(value, str) or not value or not os.path.isabs(os.path.expanduser(value)):
        return value
    p = Path(os.path.expanduser(value))
    for base in [*bases, PROJ_ROOT]:
        base = Path(base)
        if base == Path(base.anchor) or base == Path.home():  # '/' or ~ would show the whole path
            continue
        try:
            return str(p.relative_to(base)) or "."
        except ValueError:
            continue
    return p.name or value


def _scrub(text: str, bases: Iterable[Path] = ()) -> str:
    """``text`` with the absolute paths of the known folders (params file, cwd, project, home) cut."""
    from cjlib.paths import PROJ_ROOT

    for base in sorted({str(b) for b in [*bases, PROJ_ROOT, Path.cwd()] if str(b) not in ("", "/")},
                       key=len, reverse=True):
        text = text.replace(base.rstrip("/") + "/", "")
    home = str(Path.home())
    return text.replace(home + "/", "~/") if home not in ("", "/") else text


def _shown_parameters(params: Mapping[str, Any], bases: Iterable[Path]) -> dict:
    from cjlib.cli import PATH_PARAMS

    return {k: _shown_path(v, bases) if k in PATH_PARAMS or k.endswith("_path") or k == "columns" else v
            for k, v in params.items()}


def _check_writable(folder: Path, what: str) -> None:
    """Raise :class:`ParameterError` (nothing written) unless ``folder`` is or can be made a writable folder."""
    if folder.exists() and not folder.is_dir():
        raise ParameterError(f"{what} {folder}: is a file, not a folder")
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ParameterError(f"{what} {folder}: cannot be created, {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ParameterError(f"{what} {folder}: " + ("not writable" if probe == folder else
                                                     f"cannot be created, {probe} is not writable"))


# ------------------------------------------------------------------------------------- the transaction
LOCK_NAME = ".cjlib.lock"


@contextlib.contextmanager
def _locked(out: Path):
    """Hold an exclusive lock on ``out`` (``out/.cjlib.lock``) for a run; a second run stops at once."""
    import fcntl

    fh = open(out / LOCK_NAME, "a+")  # noqa: SIM115
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            who = fh.read().strip()
            raise RunLockedError(f"another report run is writing to {out} ({who or 'lock held'}); "
                                 "wait for it to finish or use another --out") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()}\n")
        fh.flush()
        yield
    finally:
        fh.close()  # closing releases the lock; the empty-or-stale file stays (it is the lock's name)


class RunLockedError(ParameterError):
    """Another run holds the lock on the output folder."""


def _commit(journal: Path, moves: list[tuple[Path, Path]], removes: list[Path]) -> None:
    """Replace a report's files together: write the journal (what moves where, what goes), then move and
    remove, then drop the journal. A run killed in between is finished by :func:`_recover` next time."""
    _atomic_write(journal, json.dumps({"moves": [[str(a), str(b)] for a, b in moves],
                                       "removes": [str(r) for r in removes]}))
    _replay(journal)


def _replay(journal: Path) -> None:
    """Finish the commit a journal describes (moves whose source is gone are done already)."""
    plan = json.loads(journal.read_text())
    for src, dst in plan["moves"]:
        if Path(src).exists():
            os.replace(src, dst)
    for r in plan["removes"]:
        Path(r).unlink(missing_ok=True)
    journal.unlink(missing_ok=True)


def _recover(out: Path, export_dirs: Iterable[Path]) -> None:
    """Clear what a killed run left in ``out`` (called under the lock): finish its journaled commits, then
    delete its staging folders, staged exports and temporary files."""
    import shutil

    for journal in sorted(out.glob(".*.commit.json")):
        try:
            _replay(journal)
        except (OSError, ValueError, KeyError):
            journal.unlink(missing_ok=True)
    for p in out.glob(".*"):
        if p.is_dir() and ".staging." in p.name:
            shutil.rmtree(p, ignore_errors=True)
        elif p.is_file() and (p.name.endswith(".tmp") or re.match(r"\.\d\d_.*\.ipynb$", p.name)):
            p.unlink(missing_ok=True)
    for d in {out, *export_dirs}:
        for p in d.glob(f".*{STAGED_SUFFIX}*") if d.is_dir() else []:
            p.unlink(missing_ok=True)


def _staged_exports(staging: Path) -> list[tuple[Path, Path]]:
    manifest = staging / EXPORTS_MANIFEST
    if not manifest.exists():
        return []
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    return list({r["target"]: (Path(r["staged"]), Path(r["target"])) for r in rows}.values())


def run_reports(
    names: Iterable[str] | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    out_dir: str | Path = "reports",
    keep_code: bool = False,
    notebooks_dir: str | Path = NOTEBOOKS_DIR,
    progress: Callable[[str], None] | None = print,
    path_bases: Iterable[str | Path] = (),
) -> list[ReportResult]:
    """Run notebooks into HTML reports (the engine of ``python -m cjlib report``).

    Parameters
    ----------
    names : list of str, optional
        Notebook names (``"00_journey_map"`` or ``"00"``); default every ``NN_*.ipynb`` in order.
    params : mapping, optional
        Parameter values; each goes to every selected notebook declaring it. Relative paths are resolved
        by :func:`cjlib.paths.resolve` in the notebooks' folder, so in effect from the project root (the
        CLI makes paths given on its command line or in a params file absolute first).
    out_dir : str or Path, default "reports"
        Where reports go; also the default ``output_dir`` parameter.
    keep_code : bool, default False
        Show code cells in the HTML.
    path_bases : folders, optional
        Paths in metrics.json and the index are shown relative to the first of these that holds them
        (the CLI gives the params file's folder and the current folder), else to the project root, else
        as their name: never as the machine's absolute path.

    Returns
    -------
    list of ReportResult

    Raises
    ------
    ParameterError, DataError
        Before any notebook runs and before any file is written (a bad or out-of-range parameter, an
        output folder that is a file or not writable, another run holding the lock on ``out_dir``).

    Notes
    -----
    Each report is a transaction: its kernel writes its CSV exports staged (see :func:`export_csv`), and
    only a notebook that succeeds has its HTML, notebook, metrics.json and exports moved into place,
    through a journal that the next run finishes if this one is killed mid-way. A failed or interrupted
    report keeps its last good files. ``index.html`` is rewritten at the end, also after an interrupt.
    """
    out = resolve(out_dir)
    available = list_notebooks(resolve(notebooks_dir))
    if names:
        chosen = []
        for n in names:
            match = [p for p in available if p.stem == n or p.stem.split("_")[0] == n]
            if not match:
                raise ParameterError(f"unknown report '{n}' (reports: {', '.join(p.stem for p in available)})")
            chosen += [m for m in match if m not in chosen]
    else:
        chosen = available
    params = dict(params or {})
    per_nb = validate_parameters(chosen, params)
    for nb in chosen:
        if "output_dir" in notebook_parameters(nb) and "output_dir" not in per_nb[nb.stem]:
            per_nb[nb.stem]["output_dir"] = str(out)
    _check_writable(out, "--out")
    export_dirs = {resolve(p["output_dir"]) for p in per_nb.values() if p.get("output_dir")}
    for d in sorted(export_dirs - {out}):
        _check_writable(d, "parameter 'output_dir':")
    # load and validate the data once, before anything is written
    first = effective_parameters(chosen[0], per_nb[chosen[0].stem])
    data, stage_map = _load_data(first, [effective_parameters(nb, per_nb[nb.stem]) for nb in chosen])
    from cjlib.parameters import check_with_stage_map

    for nb in chosen:
        check_with_stage_map(effective_parameters(nb, per_nb[nb.stem]), stage_map)
    bases = [Path(b) for b in path_bases]

    _warm_up_renderer(keep_code)

    out.mkdir(parents=True, exist_ok=True)
    results: list[ReportResult] = []
    with _locked(out):
        _recover(out, export_dirs)
        try:
            for nb_path in chosen:
                results.append(_run_one(nb_path, per_nb[nb_path.stem], out, keep_code=keep_code, data=data,
                                        bases=bases))
                if progress:
                    r = results[-1]
                    progress(f"{r.name:<24} {r.status:<6} {r.seconds:6.1f} s" + (f"  {r.error}" if r.error else ""))
        finally:  # also on an interrupt: the index shows what is on disk
            write_index(out, [p.stem for p in available])
    return results


def _run_one(nb_path: Path, injected: dict, out: Path, *, keep_code: bool, data: dict,
             bases: list[Path]) -> ReportResult:
    """Execute one notebook in its staging folder and commit its files, or record its failure."""
    import shutil

    import papermill as pm

    name = nb_path.stem
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    t0 = time.perf_counter()
    staging = Path(tempfile.mkdtemp(dir=out, prefix=f".{name}.staging."))
    tmp_nb = staging / f"{name}.ipynb"
    journal = out / f".{name}.commit.json"
    previous_env = os.environ.get(STAGING_ENV)
    os.environ[STAGING_ENV] = str(staging)  # the kernel inherits it: export_csv stages there
    try:
        # no save after every cell (papermill's default writes the growing notebook twice per cell);
        # papermill still writes it at the end, and before raising on a failed cell
        executed = pm.execute_notebook(str(nb_path), str(tmp_nb), parameters=injected, kernel_name="python3",
                                       cwd=str(nb_path.parent), progress_bar=False, log_output=False,
                                       request_save_on_cell_execute=False,
                                       extra_arguments=["--IPKernelApp.log_level=ERROR"],
                                       shutdown_kernel="immediate")
        title = _title(executed)
        page = render_html(_scrubbed_parameters(executed, bases) if keep_code else executed,
                           keep_code=keep_code, title=title)
        seconds = round(time.perf_counter() - t0, 2)
        metrics = read_metrics(executed)
        exports = _staged_exports(staging)
        old_exports = _previous_exports(out, name)
        doc = {
            "report": name, "title": title, "description": _description(executed), "status": "ok",
            "cjlib_version": __version__, "started": started.isoformat(), "seconds": seconds,
            "parameters": _shown_parameters(effective_parameters(nb_path, injected), bases),
            "data": data, "metrics": metrics,
            "exports": [os.path.relpath(t, out) for _, t in exports],
        }
        _atomic_write(staging / f"{name}.html", page)
        _atomic_write(staging / f"{name}.metrics.json", json.dumps(to_jsonable(doc), indent=2) + "\n")
        os.chmod(tmp_nb, 0o666 & ~_umask())
        new_targets = {Path(os.path.normpath(t)) for _, t in exports}
        _commit(journal, [(staging / f"{name}.html", out / f"{name}.html"), (tmp_nb, out / f"{name}.ipynb"),
                          *exports, (staging / f"{name}.metrics.json", out / f"{name}.metrics.json")],
                [out / f"{name}.error.json", out / f"{name}.failed.ipynb",
                 *(p for p in old_exports if p not in new_targets)])
        return ReportResult(name, "ok", seconds, metrics=metrics)
    except Exception as exc:  # a failed notebook: record it, keep the last good report, go on
        seconds = round(time.perf_counter() - t0, 2)
        error = _scrub(_error_line(exc), bases)
        if tmp_nb.exists() and tmp_nb.stat().st_size:
            os.chmod(tmp_nb, 0o666 & ~_umask())
            os.replace(tmp_nb, out / f"{name}.failed.ipynb")
        _atomic_write(out / f"{name}.error.json", json.dumps(
            {"report": name, "status": "failed", "error": error, "started": started.isoformat(),
             "seconds": seconds}, indent=2) + "\n")
        return ReportResult(name, "failed", seconds, error=error)
    finally:  # every exit, an interrupt included: finish a journaled commit, drop what was staged
        if previous_env is None:
            os.environ.pop(STAGING_ENV, None)
        else:
            os.environ[STAGING_ENV] = previous_env
        if journal.exists():
            _replay(journal)
        for staged, _ in _staged_exports(staging):
            staged.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)


def _previous_exports(out: Path, name: str) -> list[Path]:
    """The exports the report's current metrics.json lists (they go when the new version has not them)."""
    try:
        listed = json.loads((out / f"{name}.metrics.json").read_text()).get("exports", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [Path(os.path.normpath(out / p)) for p in listed if isinstance(p, str)]


def _scrubbed_parameters(nb, bases: list[Path]):
    """A copy of ``nb`` whose injected-parameters cell shows paths without the machine's folders."""
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = _scrub(cell.source, bases)
    return nb


def _error_line(exc: Exception) -> str:
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(exc).__name__}: {exc}"
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return " ".join(text.split())[:500]


# ---------------------------------------------------------------------------------------------- index
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
details{font-size:.8rem;margin-top:.5rem}.gone{color:#52606d;font-size:.82rem;margin:.5rem 0 0}.err{color:#a61b1b;font-size:.85rem;word-break:break-word}
"""


_PERCENT_WORDS = ("rate", "conversion", "share")


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


def write_index(out_dir: str | Path, names: Iterable[str]) -> Path:
    """Write ``index.html``: a card per report from its metrics.json / error.json."""
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
            headline = [(k, v) for k, v in m.get("metrics", {}).items()
                        if isinstance(v, (int, float, str)) and not isinstance(v, bool)][:8]
            gone = m.get("metrics", {}).get("left_out") or {}
            if m.get("description"):
                rows.append(f'<p class="desc">{html.escape(m["description"])}</p>')
            rows.append("<table>" + "".join(f"<tr><td>{html.escape(k.replace('_', ' '))}</td><td>{_fmt(v, k)}</td></tr>"
                                            for k, v in info + headline) + "</table>")
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
