"""What a notebook calls: its prologue (:func:`load`), headline numbers (:func:`record`,
:func:`record_all`), findings (:func:`finding`, :func:`left_out`, :func:`chart_title`), customer-level
exports (:func:`export_csv`) and pseudonyms (:func:`pseudonymize`); and the readers that get them back
from an executed notebook (:func:`read_metrics`, :func:`read_findings`).

A recorded number travels in the executed notebook as an output of its own MIME type, so any runner —
ours, plain papermill — can read it back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cjlib.paths import resolve

METRICS_MIME = "application/vnd.cjlib.metrics+json"
CHART_MIME = "application/vnd.cjlib.chart+json"
STRICT_ENV = "CJLIB_STRICT_FINDINGS"

STAGING_ENV = "CJLIB_STAGING"  # set by the runner for each kernel: export_csv stages its files there


def to_jsonable(value: Any) -> Any:
    """Convert numpy/pandas values to plain JSON types.

    Parameters
    ----------
    value : object
        A number, string, timestamp, timedelta, list, dict, Series or DataFrame (nested freely).

    Returns
    -------
    object
        The same value in JSON types: NaN and inf → None, timestamps → ISO text, timedeltas → seconds,
        a Series → dict, a DataFrame → list of row dicts, anything else → its text.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> to_jsonable({"n": np.int64(3), "rate": np.nan, "at": pd.Timestamp("2025-01-02"), "w": pd.Timedelta("1h")})
    {'n': 3, 'rate': None, 'at': '2025-01-02T00:00:00', 'w': 3600.0}
    """
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
        required; the other shared data parameters default to ``""`` (switched off), and the sample's
        optional tables are not joined to another log (:func:`cjlib.parameters.sample_tables_off`).

    Returns
    -------
    Inputs
        As :func:`cjlib.load_inputs` returns it. With ``dask_address`` set, ``events`` is a
        :class:`cjlib.engine.Partitioned`: the workers read, validate and shuffle the log (or open the one
        the runner shuffled for this run), and the notebook's process never holds the events.

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
    from cjlib.partitioned import map_large_blocks

    parameters.check(params)
    params = {**params, **parameters.sample_tables_off(params)}  # another log never gets the sample's tables
    get = params.get
    address = engine.run_on(get("dask_address", "")).get("address", "")  # the dask extra is checked first
    if address:  # this process holds per-unit tables only: large blocks go back to the system when freed
        map_large_blocks()
    data = load_inputs(events_path=params["events_path"], customers_path=get("customers_path", ""),
                       feedback_path=get("feedback_path", ""), costs_path=get("costs_path", ""),
                       columns=get("columns", ""), stage_map_path=get("stage_map_path", ""),
                       start_date=get("start_date", ""), end_date=get("end_date", ""),
                       events_format=get("events_format", "table"), channel_rules=get("channel_rules_path", ""),
                       dask_address=(get("dask_address", "") or "").strip() and address)
    parameters.check_with_stage_map(params, stage_map=data.stage_map)
    return data


def record(key: str, value: Any) -> None:
    """Record a headline number under ``key`` for ``metrics.json`` (shown as one plain line in Jupyter).

    Parameters
    ----------
    key : str
        The metric's name in ``metrics.json``. Recording the same key twice keeps the last value.
    value : object
        JSON-like: numbers, strings, lists and dicts of them; numpy/pandas values are converted by
        :func:`to_jsonable` (NaN becomes null).

    Returns
    -------
    None
        The value travels in the notebook as an output of MIME type ``METRICS_MIME``; :func:`read_metrics`
        reads it back.
    """
    from IPython.display import display

    payload = {key: to_jsonable(value)}
    text = f"recorded {key} = {json.dumps(payload[key])[:200]}"
    display({METRICS_MIME: payload, "text/plain": text}, raw=True)


def record_all(metrics: Mapping[str, Any]) -> None:
    """:func:`record` each key of ``metrics`` in order (a section's metrics from one cjlib call).

    Parameters
    ----------
    metrics : mapping
        Metric name → value, recorded in the mapping's order.

    Returns
    -------
    None
    """
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

    Parameters
    ----------
    text : str
        The finding; data-derived, so it is escaped (:func:`cjlib.safety.escape_markdown`): HTML, links,
        images, autolinks and math show as the characters they are, while ``**bold**``, ``*italic*``,
        code spans and bullets keep their formatting.
    trusted : bool, default False
        Show ``text`` as Markdown as it is — only for text with nothing from data in it.

    Returns
    -------
    None

    Raises
    ------
    FindingError
        A line is not earned and ``CJLIB_STRICT_FINDINGS=1``.
    """
    from IPython.display import Markdown, display

    from cjlib.safety import escape_markdown

    text = _checked(text, "finding")
    if text.strip():
        _show_drawn_figures()
        display(Markdown(text if trusted else escape_markdown(text)))


def show(obj: Any) -> None:
    """Display a table (or any object) after the charts drawn before it in the cell.

    Parameters
    ----------
    obj : object
        What to show: a DataFrame, a Styler, anything IPython displays.

    Returns
    -------
    None
        Charts already drawn in the cell are shown first, so the report reads in the cell's order;
        ``IPython.display.display`` alone would put them after the table.
    """
    from IPython.display import display

    _show_drawn_figures()
    display(obj)


def _show_drawn_figures() -> None:
    """In a notebook kernel, show and close the figures drawn so far.

    The inline backend shows a cell's figures when the cell ends, after everything the cell displayed, so
    a finding or table written after a chart would stand above it. Outside a kernel (tests, scripts)
    this does nothing.
    """
    import sys

    if "matplotlib.pyplot" not in sys.modules:
        return
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of ipykernel
        return
    shell = get_ipython()
    if shell is None or shell.__class__.__name__ != "ZMQInteractiveShell":
        return
    import matplotlib.pyplot as plt
    from IPython.display import display

    for num in plt.get_fignums():
        fig = plt.figure(num)
        display(fig)
        plt.close(fig)


_LEFT_OUT: dict[str, str] = {}


def left_out(section: str, reason: str) -> None:
    """Say in one sentence why a section is not shown for this data, and record it for the index.

    Parameters
    ----------
    section : str
        The section's name (its first letter is capitalized in the sentence).
    reason : str
        One sentence: why the data cannot support it.

    Returns
    -------
    None
        Shows "*{section} is not shown:* {reason}" and records every section left out in this kernel
        under ``left_out`` (section → reason); the index lists them per report.
    """
    from cjlib import report  # the package's dict (the one a test swaps for a fresh one)

    reason = reason.strip()
    report._LEFT_OUT[section] = reason
    finding(f"*{section[:1].upper() + section[1:]} is not shown:* {reason}")
    record("left_out", dict(report._LEFT_OUT))


def chart_title(title: str) -> None:
    """Check a chart title like a finding and keep it in the executed notebook.

    Parameters
    ----------
    title : str
        The title as the chart shows it.

    Returns
    -------
    None
        In a kernel, the title is kept under its own MIME type (not shown in the HTML), so
        :func:`read_findings` returns titles with the findings.

    Raises
    ------
    FindingError
        The title is not earned and ``CJLIB_STRICT_FINDINGS=1`` (otherwise a warning).
    """
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

    Parameters
    ----------
    nb : str, Path or NotebookNode
        A path, or papermill's output (``reports/<name>.ipynb`` is one).

    Returns
    -------
    list of str
        Each finding as it was written: the escaping :func:`finding` added is undone
        (:func:`cjlib.safety.unescape_markdown`).
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


def _atomic_write(path: Path, data) -> None:
    """Write ``path`` whole or not at all (a hidden ``.NAME.*.tmp`` file, then a rename), with the mode a
    plain ``open`` gives (0666 less the umask; ``mkstemp`` alone would make it 0600). ``data``: text, bytes,
    or a function that writes to the open binary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


STAGED_SUFFIX = ".cjlib-staged"
CSV_BLOCK_ROWS = 50_000  # rows export_csv turns into text at a time
EXPORTS_MANIFEST = "exports.jsonl"


def export_csv(df: pd.DataFrame, output_dir: str | Path, name: str, *, index: bool = True) -> Path:
    """Write a customer-level table to ``output_dir/name``, spreadsheet-safe.

    Text cells that a spreadsheet would run as a formula get a leading ``'``
    (:func:`cjlib.safety.spreadsheet_safe`). Alone (JupyterLab, plain papermill) the file is written
    atomically in place. Under the runner (``python -m cjlib report`` sets ``CJLIB_STAGING`` to the report's
    staging folder) it is listed in the staging folder, then written to a hidden ``.NAME.<run>.cjlib-staged``
    file beside its target, and the runner moves it into place with the report's HTML, notebook and metrics —
    or deletes it when the notebook fails — so a report and its exports are replaced together or not at all.
    Whoever removes a staging folder (the runner at the end of the report, or the next run clearing up after
    a killed one) removes the folder first and the staged files named after it second; a kernel that
    outlives its run finds the folder gone after writing and deletes its own file, so no staged file
    outlives its run whatever the order of the two (:func:`cjlib.report.runner._clear_staged`). Under the
    runner, a staging folder that is gone is an error: the export is never written in place of the last
    good report's.

    Parameters
    ----------
    df : DataFrame
        The table.
    output_dir : str or Path
        The folder (relative paths: :func:`cjlib.paths.resolve`).
    name : str
        The file's name, e.g. ``"at_risk.csv"``.
    index : bool, default True
        Write the index as the first column.

    Returns
    -------
    Path
        Where the file is (or will be, once the runner commits the report).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> path = export_csv(pd.DataFrame({"note": ["=1+1"]}), tempfile.mkdtemp(), "t.csv", index=False)
    >>> path.read_text().splitlines()
    ['note', "'=1+1"]
    """
    from cjlib.safety import spreadsheet_safe

    path = resolve(output_dir) / name

    def text(fh) -> None:  # a cell like "=HYPERLINK(…)" never runs as a formula; rows a block at a time, so
        for start in range(0, max(len(df), 1), CSV_BLOCK_ROWS):  # the whole file is never one string
            block = spreadsheet_safe(df.iloc[start:start + CSV_BLOCK_ROWS])
            fh.write(block.to_csv(index=index, header=start == 0).encode())
    staging = os.environ.get(STAGING_ENV, "")
    if not staging:
        _atomic_write(path, text)
        return path
    folder = Path(staging)
    staged = path.parent / f".{path.name}.{folder.name.lstrip('.')}{STAGED_SUFFIX}"
    try:  # listed first: the runner's clean-up knows the file before it exists ("a" needs the folder)
        with open(folder / EXPORTS_MANIFEST, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"staged": str(staged), "target": str(path)}) + "\n")
    except FileNotFoundError:
        raise RuntimeError(f"export_csv: the report's staging folder {folder} is gone (its run was stopped); "
                           f"{name} is not written") from None
    _atomic_write(staged, text)
    if not folder.is_dir():  # cleared while writing: the clean-up may have looked before the file existed
        staged.unlink(missing_ok=True)
        raise RuntimeError(f"export_csv: the report's staging folder {folder} was removed while {name} was "
                           "written (its run was stopped); the file is deleted")
    return path


def pseudonymize(ids: Iterable, length: int = 10, *, key: bytes | str | None = None) -> pd.Series:
    """Keyed pseudonyms for ids shown in reports: the first ``length`` hex digits of HMAC-SHA256(key, id).

    Parameters
    ----------
    ids : iterable
        The ids (any type; compared as text).
    length : int, default 10
        Hex digits kept.
    key : bytes or str, optional
        Default the project's secret (:func:`cjlib.safety.pseudonym_key`: ``CJLIB_PSEUDONYM_KEY``, else
        ``.cjlib/pseudonym.key`` at the project root, created once with random bytes), so the same id gets
        the same pseudonym in every run of a project, and nobody without the key can recompute one from an
        id — unlike a hash with a constant salt.

    Returns
    -------
    Series
        ``pseudonym`` per id, indexed by the ids as text (or by ``ids.index`` for a Series).

    Examples
    --------
    >>> pseudonymize(["C000001"], key="k").tolist() == pseudonymize(["C000001"], key="k").tolist()
    True
    >>> len(pseudonymize(["C000001", "C000002"], length=8, key="k").iloc[0])
    8
    """
    import hmac

    from cjlib.safety import pseudonym_key

    key = pseudonym_key() if key is None else key
    key = key.encode() if isinstance(key, str) else bytes(key)
    vals = [str(v) for v in ids]
    out = [hmac.new(key, v.encode(), hashlib.sha256).hexdigest()[:length] for v in vals]
    return pd.Series(out, index=vals if not isinstance(ids, pd.Series) else ids.index, name="pseudonym")


def read_metrics(nb: Any) -> dict:
    """Collect the values :func:`record` stored in an executed notebook.

    Parameters
    ----------
    nb : str, Path or NotebookNode
        A path, or papermill's output.

    Returns
    -------
    dict
        Metric name → value, in recording order (a key recorded twice keeps its last value).

    Examples
    --------
    >>> import nbformat
    >>> out = nbformat.v4.new_output("display_data", data={METRICS_MIME: {"n": 3}})
    >>> read_metrics(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=[out])]))
    {'n': 3}
    """
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

