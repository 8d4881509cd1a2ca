"""The report runner end to end: index, HTML without code, metrics.json, failures, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from cjlib.paths import PROJ_ROOT
from cjlib.report import (
    METRICS_MIME,
    ParameterError,
    _coerce,
    pseudonymize,
    read_metrics,
    to_jsonable,
    validate_parameters,
)

NB00 = PROJ_ROOT / "notebooks" / "00_journey_map.ipynb"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _run(*args, cwd=None, env_extra=None):
    env = {**os.environ, "MPLBACKEND": "Agg", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "cjlib", *args], capture_output=True, text=True,
                          cwd=cwd or PROJ_ROOT, env=env, timeout=600)


def _sample_args(folder: Path) -> list[str]:
    return ["-p", "events_path", str(folder / "events.parquet"), "-p", "customers_path",
            str(folder / "customers.parquet"), "-p", "feedback_path", str(folder / "feedback.parquet"),
            "-p", "costs_path", str(folder / "costs.csv")]


@pytest.fixture(scope="module")
def good_run(small_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    res = _run("report", "00_journey_map", *_sample_args(small_sample), "--out", str(out))
    return res, out


def test_run_writes_index_html_ipynb_and_metrics(good_run, small_sample):
    res, out = good_run
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("00_journey_map")]
    assert len(lines) == 1 and " ok " in lines[0]  # one progress line per notebook
    for f in ("index.html", "00_journey_map.html", "00_journey_map.ipynb", "00_journey_map.metrics.json"):
        assert (out / f).exists(), f
    m = json.loads((out / "00_journey_map.metrics.json").read_text())
    assert {"report", "title", "status", "cjlib_version", "started", "seconds", "parameters", "data",
            "metrics"} <= set(m)
    assert {"fingerprint", "first_event", "last_event", "events", "customers"} <= set(m["data"])
    ev = pd.read_parquet(small_sample / "events.parquet")
    assert m["data"]["events"] == len(ev)
    assert m["metrics"]["n_customers"] == ev["customer_id"].nunique()
    buyers = ev.loc[ev["event"] == "purchase", "customer_id"].nunique()
    assert m["metrics"]["overall_conversion"] == pytest.approx(buyers / ev["customer_id"].nunique())
    # paths shown without the machine's folders: outside the cwd and the project, by their name
    assert m["parameters"]["events_path"] == "events.parquet"
    assert m["parameters"]["output_dir"] == out.name
    assert m["parameters"]["stage_map_path"] == "data/stage_map.yml"
    for f in ("00_journey_map.metrics.json", "index.html", "00_journey_map.html"):
        text = (out / f).read_text()
        assert str(small_sample) not in text and str(out) not in text and str(PROJ_ROOT) not in text, f
    assert (out / "index.html").stat().st_mode & 0o777 == 0o666 & ~_umask()  # not 0600


def test_html_has_no_code_and_shows_headline(good_run):
    _, out = good_run
    page = (out / "00_journey_map.html").read_text()
    m = json.loads((out / "00_journey_map.metrics.json").read_text())
    assert "import cjlib" not in page and "class=\"jp-CodeMirrorEditor" not in page and "stage_kpis(" not in page and "report.record" not in page
    assert "data:image/png" in page  # charts embedded: works offline
    assert "cdnjs" not in page and METRICS_MIME not in page
    assert f"{m['metrics']['n_customers']:,}" in page
    index = (out / "index.html").read_text()
    assert 'href="00_journey_map.html"' in index and "status ok" in index
    assert f"{m['metrics']['n_customers']:,}" in index


def test_keep_code_renders_inputs(good_run):
    from cjlib.report import render_html

    _, out = good_run
    executed = nbformat.read(out / "00_journey_map.ipynb", as_version=4)
    assert 'class="highlight' in render_html(executed, keep_code=True)
    assert 'class="highlight' not in render_html(executed, keep_code=False)


def test_same_parameters_same_metrics(good_run, small_sample, tmp_path):
    _, out = good_run
    res = _run("report", "00_journey_map", *_sample_args(small_sample), "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    a = json.loads((out / "00_journey_map.metrics.json").read_text())
    b = json.loads((tmp_path / "00_journey_map.metrics.json").read_text())
    for d in (a, b):
        d.pop("started"), d.pop("seconds")
        d["parameters"].pop("output_dir")
    assert a == b


@pytest.mark.parametrize("case,needle", [
    ("missing", "file_exists"),
    ("empty", "empty_input"),
    ("no_timestamp", "timestamp"),
    ("bad_timestamp", "parseable_timestamp"),
    ("negative_revenue", "non_negative_revenue"),
])
def test_bad_input_one_line_no_traceback_old_report_kept(good_run, small_sample, tmp_path, case, needle):
    _, out = good_run
    before = (out / "00_journey_map.html").read_bytes()
    ev = pd.read_parquet(small_sample / "events.parquet").head(200)
    path = tmp_path / "events.csv"
    if case == "empty":
        path.write_text("")
    elif case == "no_timestamp":
        ev.drop(columns="timestamp").to_csv(path, index=False)
    elif case == "bad_timestamp":
        ev.astype({"timestamp": str}).assign(timestamp=lambda d: d["timestamp"].where(d.index != 7, "soon")
                                             ).to_csv(path, index=False)
    elif case == "negative_revenue":
        ev.assign(revenue=ev["revenue"].fillna(0) - 1).to_csv(path, index=False)
    res = _run("report", "00_journey_map", "-p", "events_path", str(path), "--out", str(out))
    assert res.returncode == 2
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in res.stderr
    assert str(path) in err[0] and needle in err[0]
    assert (out / "00_journey_map.html").read_bytes() == before




def _tiny_notebooks(folder: Path, broken: str | None = None) -> Path:
    """A fast notebook declaring the data parameters (and optionally a broken twin)."""
    folder.mkdir(parents=True, exist_ok=True)
    params = nbformat.v4.new_code_cell('events_path: str = "data/sample/events.parquet"  # events\n'
                                       'seed: int = 0  # seed')
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny"), nbformat.v4.new_code_cell("from cjlib import report"),
                params, nbformat.v4.new_code_cell("report.record('seed_seen', seed)")]
    nbformat.write(nb, folder / "00_tiny.ipynb")
    if broken:
        nb.cells.append(nbformat.v4.new_code_cell(broken))
        nbformat.write(nb, folder / "01_broken.ipynb")
    return folder


def test_failing_notebook_keeps_old_html_and_marks_index(small_sample, tmp_path):
    from cjlib.report import run_reports

    nbdir = _tiny_notebooks(tmp_path / "nb", broken="raise RuntimeError('planted failure')")
    out = tmp_path / "out"
    out.mkdir()
    (out / "01_broken.html").write_text("<html>last good</html>")
    (out / "01_broken.metrics.json").write_text(json.dumps(
        {"title": "Broken", "started": "2025-01-01T00:00:00", "seconds": 1.0, "metrics": {}, "data": {}}))
    lines = []
    results = run_reports(None, {"events_path": str(small_sample / "events.parquet"), "seed": 5}, out_dir=out,
                          notebooks_dir=nbdir, progress=lines.append)
    assert [r.status for r in results] == ["ok", "failed"]
    assert results[0].metrics == {"seed_seen": 5}
    assert "RuntimeError: planted failure" in results[1].error
    assert (out / "01_broken.html").read_text() == "<html>last good</html>"
    assert (out / "01_broken.failed.ipynb").exists() and not list(out.glob(".*.tmp"))
    index = (out / "index.html").read_text()
    assert "status failed" in index and "planted failure" in index and "last good report is kept" in index
    assert len(lines) == 2 and lines[1].startswith("01_broken") and "failed" in lines[1]


def test_cli_exit_status_1_on_failed_notebook(small_sample, tmp_path, monkeypatch):
    from cjlib import cli, report

    nbdir = _tiny_notebooks(tmp_path / "nb", broken="1/0")
    real = report.run_reports
    monkeypatch.setattr(report, "run_reports", lambda *a, **k: real(*a, notebooks_dir=nbdir, **k))
    code = cli.main(["report", "-p", "events_path", str(small_sample / "events.parquet"),
                     "--out", str(tmp_path / "out")])
    assert code == 1
    err = json.loads((tmp_path / "out" / "01_broken.error.json").read_text())["error"]
    assert "ZeroDivisionError" in err
    assert (tmp_path / "out" / "00_tiny.html").exists()


def test_params_file_and_relative_paths(small_sample, tmp_path, monkeypatch):
    """Paths in a params file are relative to the file; on the command line, to the working directory."""
    from cjlib import cli, report

    seen = {}
    monkeypatch.setattr(report, "run_reports", lambda names, params, **k: seen.update(params) or [])
    pf = tmp_path / "params.yaml"
    pf.write_text("events_path: data/events.parquet\ncustomers_path: ''\nseed: 3\n")
    monkeypatch.chdir(small_sample)
    assert cli.main(["report", "-f", str(pf), "-p", "feedback_path", "feedback.parquet"]) == 0
    assert seen == {"events_path": str(tmp_path / "data" / "events.parquet"), "customers_path": "", "seed": 3,
                    "feedback_path": str(small_sample / "feedback.parquet")}


def test_per_table_columns_from_a_params_file_and_the_cli(tmp_path, monkeypatch):
    """A nested ``columns:`` mapping in a params file, or as text after ``-p``, reaches every notebook as text
    that reads back as the same mapping; a mapping file is found from the params file or from the cwd."""
    from cjlib import cli, report
    from cjlib.io import parse_columns

    seen = {}
    monkeypatch.setattr(report, "run_reports", lambda names, params, **k: seen.update(params) or [])
    pf = tmp_path / "params.yaml"
    pf.write_text("columns:\n  events: {customer_id: user_pseudo_id, event: event_name}\n"
                  "  customers:\n    customer_id: user_pseudo_id\n")
    assert cli.main(["report", "00", "-f", str(pf)]) == 0
    nested = {"events": {"customer_id": "user_pseudo_id", "event": "event_name"},
              "customers": {"customer_id": "user_pseudo_id"}}
    assert seen["columns"] == nested
    injected = validate_parameters([NB00], seen)["00_journey_map"]["columns"]
    assert isinstance(injected, str) and parse_columns(injected) == nested
    assert cli.main(["report", "00", "-p", "columns", "{events: {event: event_name}}"]) == 0
    assert parse_columns(validate_parameters([NB00], seen)["00_journey_map"]["columns"]) == {
        "events": {"event": "event_name"}}
    (tmp_path / "sub").mkdir()
    pf.write_text("columns: cols.yml\n")
    monkeypatch.chdir(tmp_path / "sub")
    assert cli.main(["report", "00", "-f", str(pf)]) == 0
    assert seen["columns"] == str(tmp_path / "cols.yml")  # relative to the params file
    assert cli.main(["report", "00", "-p", "columns", "cols.yml"]) == 0
    assert seen["columns"] == str(tmp_path / "sub" / "cols.yml")  # relative to where you stand


def test_columns_parameter_is_checked_up_front():
    with pytest.raises(ParameterError, match="parameter 'columns': .*table 'event'; tables are events, customers"):
        validate_parameters([NB00], {"columns": {"event": {"event": "event_name"}}})
    with pytest.raises(ParameterError, match="parameter 'columns': columns must be a mapping"):
        validate_parameters([NB00], {"columns": ["customer_id", "user_pseudo_id"]})


def test_churn_hints_name_the_report_parameter():
    """The 04_churn report's parameter is churn_window_days: the error hints must say so."""
    from cjlib import churn
    from cjlib.errors import DataError

    ev = pd.DataFrame({"customer_id": ["a", "a", "b", "b"], "event": ["page_view"] * 4,
                       "timestamp": pd.to_datetime(["2025-01-01", "2025-03-01", "2025-01-05", "2025-03-30"])})
    with pytest.raises(DataError, match="window_past_data") as info:
        churn.make_dataset(ev, cutoff="2025-03-15", window=30)
    assert "on or before 2025-03-01 00:00:00 or a shorter churn window (the report's churn_window_days" in str(
        info.value)
    both_active = ev.assign(timestamp=pd.to_datetime(["2025-01-01", "2025-03-02", "2025-01-05", "2025-03-03"]))
    with pytest.raises(DataError, match="all 2 customers are active") as info:  # both in [Mar 1, Mar 4)
        churn.make_dataset(both_active, cutoff="2025-03-01", window=3)
    assert "change cutoff, churn_window_days (window in cjlib.churn) or activity_events" in str(info.value)


def test_parameter_validation():
    with pytest.raises(ParameterError, match="unknown parameter 'bogus'"):
        validate_parameters([NB00], {"bogus": 1})
    with pytest.raises(ParameterError, match="parameter 'seed' must be int"):
        validate_parameters([NB00], {"seed": "abc"})
    assert validate_parameters([NB00], {"seed": "7"})["00_journey_map"]["seed"] == 7
    assert _coerce("columns", {"customer_id": "uid"}, "str") == '{"customer_id": "uid"}'
    assert _coerce("x", "0.5", "float") == 0.5
    assert _coerce("x", "[1, 2]", "list") == [1, 2]
    with pytest.raises(ParameterError):
        _coerce("x", "yes please", "bool")


def test_cli_bad_parameter_is_one_line(tmp_path):
    res = _run("report", "00", "-p", "nope", "1", "--out", str(tmp_path))
    assert res.returncode == 2 and "unknown parameter 'nope'" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not list(tmp_path.iterdir())
    res = _run("report", "99_missing", "--out", str(tmp_path))
    assert res.returncode == 2 and "unknown report" in res.stderr


def test_helpers():
    import numpy as np

    assert to_jsonable({"a": np.int64(3), "b": np.nan, "c": pd.Timestamp("2025-01-01"), "d": [np.float32(0.5)]}
                       ) == {"a": 3, "b": None, "c": "2025-01-01T00:00:00", "d": [0.5]}
    p = pseudonymize(["c1", "c2", "c1"], key="s" * 32)
    assert p.iloc[0] == p.iloc[2] != p.iloc[1] and len(p.iloc[0]) == 10
    assert (pseudonymize(["c1"], key="t" * 32).iloc[0]) != p.iloc[0]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output(
        "display_data", data={METRICS_MIME: {"x": 1}, "text/plain": "recorded"})])]
    assert read_metrics(nb) == {"x": 1}


# ------------------------------------------------------------------- CLI: one line, exit 2, nothing written
def _capture_params(monkeypatch):
    from cjlib import report

    seen = {}
    monkeypatch.setattr(report, "run_reports", lambda names, params, **k: seen.update(params) or [])
    return seen


def test_cli_takes_values_that_start_with_a_dash(monkeypatch):
    from cjlib import cli

    seen = _capture_params(monkeypatch)
    assert cli.main(["report", "03", "-p", "control", "-1", "-p", "window", "-7D", "--out", "x"]) == 0
    assert seen == {"control": "-1", "window": "-7D"}


@pytest.mark.parametrize("content,needle", [
    (b"seed: [1, 2\nwindow: 7D\n", "not valid YAML at line"),
    (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not a UTF-8 text file"),
    (b"- a\n- b\n", "must be a YAML mapping"),
])
def test_cli_bad_params_file_is_one_line(tmp_path, capsys, content, needle):
    from cjlib import cli

    pf = tmp_path / "params.yaml"
    pf.write_bytes(content)
    out = tmp_path / "out"
    assert cli.main(["report", "00", "-f", str(pf), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(pf) in err[0] and needle in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("case", ["file", "under_file", "unwritable"])
def test_cli_unusable_out_is_one_line(tmp_path, capsys, case):
    from cjlib import cli

    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    out = {"file": blocker, "under_file": blocker / "reports"}.get(case, tmp_path / "ro" / "reports")
    if case == "unwritable":
        if os.geteuid() == 0:
            pytest.skip("root writes anywhere")
        (tmp_path / "ro").mkdir(mode=0o500)
    before = sorted(tmp_path.rglob("*"))
    assert cli.main(["report", "00", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --out") and str(out) in err[0], err
    assert sorted(tmp_path.rglob("*")) == before and blocker.read_text() == "a file"


def test_second_run_on_a_locked_out_stops_in_one_line(small_sample, tmp_path, capsys, monkeypatch):
    import fcntl

    from cjlib import cli, report

    nbdir = _tiny_notebooks(tmp_path / "nb")
    real = report.run_reports
    monkeypatch.setattr(report, "run_reports", lambda *a, **k: real(*a, notebooks_dir=nbdir, **k))
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".cjlib.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code = cli.main(["report", "-p", "events_path", str(small_sample / "events.parquet"), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "another report run is writing to" in err[0], err
    assert sorted(p.name for p in out.iterdir()) == [".cjlib.lock"]


# ---------------------------------------------------------------------- a report is a transaction
def _exporting_notebooks(folder: Path, fail: bool) -> Path:
    """One notebook exporting two CSVs (a.csv, and b.csv unless ``drop_b``), then failing if ``fail``."""
    folder.mkdir(parents=True, exist_ok=True)
    params = nbformat.v4.new_code_cell('events_path: str = "data/sample/events.parquet"  # events\n'
                                       'output_dir: str = "reports"  # exports\n'
                                       'version: str = "new"  # what the exports hold\n'
                                       'drop_b: bool = False  # leave b.csv out')
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Exports"),
                nbformat.v4.new_code_cell("import pandas as pd\nfrom cjlib import report"), params,
                nbformat.v4.new_code_cell("report.export_csv(pd.DataFrame({'v': [version]}), output_dir, 'a.csv')\n"
                                          "if not drop_b:\n"
                                          "    report.export_csv(pd.DataFrame({'v': [version]}), output_dir, 'b.csv')\n"
                                          "report.record('version', version)")]
    if fail:
        nb.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('planted failure after the exports')"))
    nbformat.write(nb, folder / "00_exports.ipynb")
    return folder


def test_failed_report_keeps_its_last_good_exports(small_sample, tmp_path):
    from cjlib.report import run_reports

    out = tmp_path / "out"
    ev = str(small_sample / "events.parquet")
    good = run_reports(None, {"events_path": ev, "version": "old"}, out_dir=out,
                       notebooks_dir=_exporting_notebooks(tmp_path / "ok", fail=False), progress=None)
    assert [r.status for r in good] == ["ok"]
    old = {f: (out / f).read_bytes() for f in ("a.csv", "b.csv", "00_exports.html", "00_exports.metrics.json")}
    assert json.loads(old["00_exports.metrics.json"])["exports"] == ["a.csv", "b.csv"]
    assert (out / "a.csv").stat().st_mode & 0o777 == 0o666 & ~_umask()

    bad = run_reports(None, {"events_path": ev, "version": "new"}, out_dir=out,
                      notebooks_dir=_exporting_notebooks(tmp_path / "fail", fail=True), progress=None)
    assert [r.status for r in bad] == ["failed"] and "planted failure" in bad[0].error
    assert {f: (out / f).read_bytes() for f in old} == old  # the exports were staged, then dropped
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".cjlib.lock"]

    again = run_reports(None, {"events_path": ev, "version": "newer", "drop_b": True}, out_dir=out,
                        notebooks_dir=_exporting_notebooks(tmp_path / "ok", fail=False), progress=None)
    assert [r.status for r in again] == ["ok"]
    assert "newer" in (out / "a.csv").read_text() and not (out / "b.csv").exists()  # b.csv went with its report
    assert not (out / "00_exports.error.json").exists()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".cjlib.lock"]


def test_export_csv_alone_writes_in_place(tmp_path, monkeypatch):
    from cjlib import report

    monkeypatch.delenv(report.STAGING_ENV, raising=False)
    path = report.export_csv(pd.DataFrame({"a": [1]}), tmp_path, "x.csv", index=False)
    assert path == tmp_path / "x.csv" and path.read_text() == "a\n1\n"


def test_report_reads_in_the_cells_order(tmp_path):
    """A chart drawn before a finding or a table stands above them in the report, as in the code (the inline
    backend alone would show a cell's figures after everything else the cell displayed)."""
    import papermill as pm

    src = ("import matplotlib.pyplot as plt\nimport pandas as pd\nfrom cjlib import plots, report\n"
           "plots.set_theme()\n"
           "ax = plots.new_ax(); ax.plot([1, 2]); plots.finish(ax, 'First chart')\n"
           "report.finding('After the first chart.')\n"
           "report.show(pd.DataFrame({'a': [1]}))\n"
           "ax = plots.new_ax(); ax.plot([2, 1]); plots.finish(ax, 'Second chart')\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "order.ipynb")
    done = pm.execute_notebook(str(tmp_path / "order.ipynb"), str(tmp_path / "out.ipynb"), progress_bar=False,
                               cwd=str(tmp_path))
    kinds = []
    for out in done.cells[0].outputs:
        data = out.get("data", {})
        kind = ("chart" if "image/png" in data else "finding" if "text/markdown" in data
                else "table" if "text/html" in data else None)
        if kind:
            kinds.append(kind)
    assert kinds == ["chart", "finding", "table", "chart"]


def test_export_csv_writes_blocks_of_rows_as_one_csv(tmp_path, monkeypatch):
    # written a block of rows at a time, the file is byte for byte the one-string CSV (header once, every row,
    # formulas neutralised in every block, the index named once)
    from cjlib.report import notebook as nbmod
    from cjlib.safety import spreadsheet_safe

    df = pd.DataFrame({"customer": [f"c{i}" for i in range(23)], "note": ["=1+1", "ok", "-x"] * 7 + ["+", "@a"],
                       "score": np.linspace(0, 1, 23)}, index=pd.RangeIndex(23, name="rank"))
    monkeypatch.setattr(nbmod, "CSV_BLOCK_ROWS", 5)
    for index in (True, False):
        path = nbmod.export_csv(df, tmp_path, f"t{index}.csv", index=index)
        assert path.read_text() == spreadsheet_safe(df).to_csv(index=index)
    empty = nbmod.export_csv(df.iloc[:0], tmp_path, "empty.csv", index=False)
    assert empty.read_text() == "customer,note,score\n"
