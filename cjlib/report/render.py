"""HTML of an executed notebook (:func:`render_html`): code hidden unless asked for, no metrics or
stderr outputs, no external scripts; one nbconvert exporter per setting, warmed up once per run."""

from __future__ import annotations

import functools
import re

from cjlib.report.notebook import CHART_MIME, METRICS_MIME


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

    Data reaches the page already escaped (:func:`cjlib.report.finding`, and every table through
    :func:`cjlib.plots.set_theme`); nbconvert's ``sanitize_html`` stays off because it drops every ``<th>``
    (table headers and index labels) and the tables' ``<style>`` (nbconvert 7.17).

    Parameters
    ----------
    nb : NotebookNode
        The executed notebook (not changed).
    keep_code : bool, default False
        Show code cells and stderr outputs.
    title : str, optional
        The page title; default the notebook's first ``# heading``.

    Returns
    -------
    str
        The page.
    """
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
