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

Modules: :mod:`~cjlib.report.notebook` (what notebooks call), :mod:`~cjlib.report.params` (parameters
of the notebooks), :mod:`~cjlib.report.render` (HTML), :mod:`~cjlib.report.runner` (the run, its
staging and journal), :mod:`~cjlib.report.index` (``index.html``), :mod:`~cjlib.report.history` (the
run history and this run against the last). Every name but history's is importable from ``cjlib.report``;
the CLI looks :func:`run_reports` up here at call time.
"""

from __future__ import annotations

from cjlib.parameters import ParameterError
from cjlib.report.index import _when, write_index  # noqa: F401  (_when and the other private names: for tests)
from cjlib.report.notebook import (
    _LEFT_OUT,  # noqa: F401  (the sections this kernel left out; a test swaps it)
    CHART_MIME,
    METRICS_MIME,
    STAGING_ENV,
    STRICT_ENV,
    FindingError,
    _atomic_write,  # noqa: F401
    chart_title,
    export_csv,
    finding,
    left_out,
    load,
    pseudonymize,
    read_findings,
    read_metrics,
    record,
    record_all,
    show,
    to_jsonable,
)
from cjlib.report.params import (
    _coerce,  # noqa: F401
    effective_parameters,
    list_notebooks,
    notebook_parameters,
    validate_parameters,
)
from cjlib.report.render import render_html
from cjlib.report.runner import (
    ReportResult,
    RunLockedError,
    _data_summary,  # noqa: F401
    _recover,  # noqa: F401
    fingerprint,
    run_reports,
)

__all__ = [
    "load",
    "record",
    "record_all",
    "show",
    "finding",
    "chart_title",
    "left_out",
    "read_findings",
    "FindingError",
    "export_csv",
    "pseudonymize",
    "read_metrics",
    "to_jsonable",
    "fingerprint",
    "list_notebooks",
    "notebook_parameters",
    "validate_parameters",
    "effective_parameters",
    "render_html",
    "run_reports",
    "write_index",
    "ReportResult",
    "RunLockedError",
    "ParameterError",
    "METRICS_MIME",
    "CHART_MIME",
    "STAGING_ENV",
    "STRICT_ENV",
]
