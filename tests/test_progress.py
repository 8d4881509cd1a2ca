"""Progress bars (cjlib.progress): on for a person watching, off in reports and tests, numbers unchanged."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from cjlib import progress as P

HEADLESS_ENV = ("CJLIB_PROGRESS", "CJLIB_STAGING", "JPY_SESSION_NAME", "PYTEST_CURRENT_TEST")


@pytest.fixture
def on(monkeypatch):
    monkeypatch.setenv("CJLIB_PROGRESS", "1")


@pytest.fixture
def off(monkeypatch):
    monkeypatch.setenv("CJLIB_PROGRESS", "0")


class _Tty(io.StringIO):
    def isatty(self):
        return True


class _Recorder:
    """Stands in for tqdm: records each bar's total, label, steps and closing."""

    def __init__(self):
        self.bars = []

    def __call__(self, total, desc, file):
        rec = self

        class _B:
            def __init__(self):
                self.total, self.desc, self.n, self.closed = total, desc, 0, False
                rec.bars.append(self)

            def update(self, n=1):
                self.n += n

            def close(self):
                self.closed = True

        return _B()

    def done(self):
        return [(b.desc, b.total, b.n) for b in self.bars if b.closed]


@pytest.fixture
def recorder(monkeypatch):
    rec = _Recorder()
    monkeypatch.setattr(P, "_bar", rec)
    return rec


# ------------------------------------------------------------------------------------------- the switch
def test_env_var_overrides_and_the_runner_wins(monkeypatch):
    monkeypatch.delenv("CJLIB_STAGING", raising=False)
    for value, expected in [("1", True), ("true", True), (" On ", True), ("yes", True),
                            ("0", False), ("false", False), ("off", False), ("no", False)]:
        monkeypatch.setenv("CJLIB_PROGRESS", value)
        assert P.progress_enabled() is expected, value
    monkeypatch.setenv("CJLIB_PROGRESS", "maybe")  # not a switch: the automatic choice (off under pytest)
    assert P.progress_enabled() is False
    monkeypatch.setenv("CJLIB_PROGRESS", "1")
    monkeypatch.setenv("CJLIB_STAGING", "/tmp/x")  # a report the runner writes: never, whatever the variable says
    assert P.progress_enabled() is False


def test_runner_variable_is_the_one_the_runner_sets():
    from cjlib.report import STAGING_ENV

    assert P._RUNNER_ENV == STAGING_ENV


def test_automatic_choice(monkeypatch):
    monkeypatch.delenv("CJLIB_PROGRESS", raising=False)
    monkeypatch.delenv("CJLIB_STAGING", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert P.progress_enabled() is False  # under pytest
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # monkeypatch puts it back before pytest removes it
    monkeypatch.setattr(sys, "stderr", _Tty())
    assert P.progress_enabled() is True  # a terminal
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert P.progress_enabled() is False  # stderr piped to a file or a log
    monkeypatch.setattr(P, "_in_kernel", lambda: True)
    monkeypatch.setattr(sys, "stderr", _Tty())
    assert P.progress_enabled() is False  # a kernel no Jupyter server started (papermill, nbclient, nbval)
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/notebooks/01_personas.ipynb")
    assert P.progress_enabled() is True  # a notebook open in JupyterLab
    monkeypatch.setattr(P, "_in_kernel", lambda: False)
    assert P._in_kernel() is False


# -------------------------------------------------------------------------------------------- the bars
def test_progress_writes_a_bar_with_the_total_when_on(on):
    buf = io.StringIO()
    assert list(P.progress(range(7), desc="replicates", file=buf)) == list(range(7))
    text = buf.getvalue()
    assert "replicates:   0%" in text and "0/7" in text  # tqdm's text bar with the loop's length
    assert text.endswith("\r")  # and cleared at the end (leave=False): a saved notebook keeps no bar
    buf = io.StringIO()
    assert list(P.progress((c for c in "abc"), total=3, desc="gen", file=buf)) == ["a", "b", "c"]
    assert "0/3" in buf.getvalue()


def test_bars_reach_their_total_and_close(on, recorder):
    assert list(P.progress(range(7), desc="replicates")) == list(range(7))
    assert list(P.progress(iter("ab"), desc="no length")) == ["a", "b"]
    with P.progress_bar(total=4, desc="scoring") as bar:
        square = bar.counting(lambda x, *, k=1: k * x * x)
        assert [square(2), square(3, k=2)] == [4, 18]
        bar.update(2)
    assert recorder.done() == [("replicates", 7, 7), ("no length", None, 2), ("scoring", 4, 4)]


def test_progress_writes_nothing_when_off(off):
    buf = io.StringIO()
    items = [3, 1, 2]
    it = P.progress(items, desc="replicates", file=buf)
    assert list(it) == items and buf.getvalue() == ""
    with P.progress_bar(total=5, desc="x", file=buf) as bar:
        f = bar.counting(abs)
        assert f is abs  # the very function: nothing wraps it
        bar.update(2)
    assert buf.getvalue() == ""


def test_a_broken_loop_closes_its_bar(on, recorder):
    with pytest.raises(RuntimeError):
        for i in P.progress(range(5), desc="loop"):
            if i == 2:
                raise RuntimeError("stop")
    assert recorder.done() == [("loop", 5, 2)]


# ----------------------------------------------------------------------------- same numbers either way
def _paths() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    chans = ["search", "email", "social", "direct"]
    paths = [" > ".join(rng.choice(chans, rng.integers(1, 4))) for _ in range(40)]
    return pd.DataFrame({"path": paths, "conversions": rng.integers(0, 5, 40),
                         "nulls": rng.integers(0, 20, 40)}).drop_duplicates("path")


@pytest.mark.parametrize("model", ["markov", "linear"])
def test_bootstrap_same_numbers_with_a_bar(monkeypatch, capsys, model):
    from cjlib import attribution as A

    paths = _paths()
    monkeypatch.setenv("CJLIB_PROGRESS", "0")
    quiet = A.bootstrap(paths, model=model, n_boot=25, seed=3)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("CJLIB_PROGRESS", "1")
    shown = A.bootstrap(paths, model=model, n_boot=25, seed=3)
    err = capsys.readouterr().err
    assert f"bootstrap ({model}):   0%" in err and "0/25" in err
    pd.testing.assert_frame_equal(quiet, shown, check_exact=True)
    rec = _Recorder()
    monkeypatch.setattr(P, "_bar", rec)
    pd.testing.assert_frame_equal(quiet, A.bootstrap(paths, model=model, n_boot=25, seed=3), check_exact=True)
    assert rec.done() == [(f"bootstrap ({model})", 25, 25)]
    assert (quiet["upper"] > quiet["lower"]).any()  # real intervals, not an empty comparison


def test_k_search_same_numbers_with_a_bar(monkeypatch, capsys):
    from cjlib.features import customer_features
    from cjlib.personas import fit_personas
    from cjlib.synth import generate

    d = generate(300, 1)
    f = customer_features(d.events, customers=d.customers, feedback=d.feedback)
    monkeypatch.setenv("CJLIB_PROGRESS", "0")
    quiet = fit_personas(f, k_range=(2, 4), n_boot=2, seed=1)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("CJLIB_PROGRESS", "1")
    shown = fit_personas(f, k_range=(2, 4), n_boot=2, seed=1)
    err = capsys.readouterr().err
    assert "personas: scoring k (kmeans)" in err and "0/3" in err  # k = 2, 3, 4
    rec = _Recorder()
    monkeypatch.setattr(P, "_bar", rec)
    counted = fit_personas(f, k_range=(2, 4), n_boot=2, seed=1)
    assert rec.done()[0] == ("personas: scoring k (kmeans)", 3, 3)
    for other in (shown, counted):
        pd.testing.assert_frame_equal(quiet.scores_, other.scores_, check_exact=True)
        assert quiet.k_ == other.k_ and (quiet.labels_ == other.labels_).all()


def test_permutation_importance_same_numbers_with_a_bar(monkeypatch, capsys):
    from sklearn.inspection import permutation_importance

    from cjlib import churn

    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "noise": rng.normal(size=n),
                      "plan": rng.choice(["free", "pro"], n)})
    y = pd.Series((X["a"] + 0.5 * (X["plan"] == "pro") + rng.normal(scale=0.5, size=n) > 0.3).astype(int))
    model = churn.make_model("logistic", X, seed=0).fit(X, y)
    monkeypatch.setenv("CJLIB_PROGRESS", "0")
    quiet = churn.permutation_importance_table(model, X, y, n_repeats=3, max_samples=300, seed=5)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("CJLIB_PROGRESS", "1")
    shown = churn.permutation_importance_table(model, X, y, n_repeats=3, max_samples=300, seed=5)
    err = capsys.readouterr().err
    assert "permutation importance:   0%" in err and "0/13" in err  # the baseline, then 4 columns × 3 repeats
    pd.testing.assert_frame_equal(quiet, shown, check_exact=True)
    rec = _Recorder()
    monkeypatch.setattr(P, "_bar", rec)
    counted = churn.permutation_importance_table(model, X, y, n_repeats=3, max_samples=300, seed=5)
    assert rec.done() == [("permutation importance", 13, 13)]  # every scorer call counted, no more
    pd.testing.assert_frame_equal(quiet, counted, check_exact=True)
    # and what sklearn gives with its own "roc_auc" scorer, as before the bar
    ref = permutation_importance(model, X, y.to_numpy(), scoring="roc_auc", n_repeats=3, random_state=5,
                                 max_samples=300 / n, n_jobs=1)
    np.testing.assert_array_equal(quiet["importance"].reindex(X.columns).to_numpy(), ref.importances_mean)
    assert quiet.index[0] == "a"


# --------------------------------------------------------------------------------- headless notebooks
def _progress_notebook(folder: Path) -> Path:
    """A notebook whose loop has a bar, recording whether bars were on and where it ran."""
    folder.mkdir(parents=True, exist_ok=True)
    params = nbformat.v4.new_code_cell('events_path: str = "data/sample/events.parquet"  # events\n'
                                       'seed: int = 0  # seed')
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Progress"),
                nbformat.v4.new_code_cell("from cjlib import report\nfrom cjlib import progress as P"), params,
                nbformat.v4.new_code_cell("total = sum(P.progress(range(40), desc='PLANTEDBAR'))\n"
                                          "report.record('total', total)\n"
                                          "report.record('enabled', P.progress_enabled())\n"
                                          "report.record('in_kernel', P._in_kernel())")]
    nbformat.write(nb, folder / "00_progress.ipynb")
    return folder


def _outputs_text(nb_path: Path) -> str:
    nb = json.loads(nb_path.read_text())
    return json.dumps([c.get("outputs", []) for c in nb["cells"]]) + json.dumps(nb.get("metadata", {}))


def test_runner_report_has_no_progress_even_when_asked(small_sample, tmp_path, monkeypatch):
    """Under ``python -m cjlib report``: no bar text, no widget in the HTML or the notebook, even with
    CJLIB_PROGRESS=1 and a JupyterLab session's variable inherited (a run started from a Lab kernel)."""
    from cjlib.report import run_reports

    monkeypatch.setenv("CJLIB_PROGRESS", "1")
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/notebooks/x.ipynb")
    nbdir = _progress_notebook(tmp_path / "nb")
    out = tmp_path / "out"
    lines = []
    [r] = run_reports(None, {"events_path": str(small_sample / "events.parquet")}, out_dir=out,
                      notebooks_dir=nbdir, progress=lines.append)
    assert r.status == "ok", r.error
    assert r.metrics == {"total": 780, "enabled": False, "in_kernel": True}
    assert len(lines) == 1 and lines[0].startswith("00_progress")  # the runner's one line stays
    html, outputs = (out / "00_progress.html").read_text(), _outputs_text(out / "00_progress.ipynb")
    for text in (html, outputs):  # the HTML shows no code; the notebook's code is not its outputs
        assert "PLANTEDBAR" not in text and "it/s" not in text and "application/vnd.jupyter.widget" not in text


def _papermill(tmp_path: Path, env_extra: dict) -> tuple[dict, str]:
    nbdir = _progress_notebook(tmp_path / "nb")
    out = tmp_path / "out.ipynb"
    env = {k: v for k, v in os.environ.items() if k not in HEADLESS_ENV}
    env.update(env_extra)
    res = subprocess.run([sys.executable, "-m", "papermill", str(nbdir / "00_progress.ipynb"), str(out),
                          "-k", "python3", "--no-progress-bar"], capture_output=True, text=True, env=env,
                         timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    from cjlib.report import read_metrics

    return read_metrics(out), _outputs_text(out)


def test_plain_papermill_has_no_progress_and_the_variable_turns_it_on(tmp_path):
    metrics, text = _papermill(tmp_path / "auto", {})
    assert metrics == {"total": 780, "enabled": False, "in_kernel": True}
    assert "PLANTEDBAR" not in text
    # the check above can fail: asked for, a bar reaches the executed notebook
    metrics, text = _papermill(tmp_path / "forced", {"CJLIB_PROGRESS": "1"})
    assert metrics == {"total": 780, "enabled": True, "in_kernel": True}
    assert "PLANTEDBAR:   0%" in text and "0/40" in text
