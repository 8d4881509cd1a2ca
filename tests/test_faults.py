"""Faults: a run killed (SIGKILL) or interrupted (SIGINT) leaves every report whole, old or new; the next run
clears what a killed run left and writes an index that matches the disk."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from cjlib.paths import PROJ_ROOT
from cjlib.report.notebook import EXPORTS_MANIFEST, STAGED_SUFFIX, STAGING_ENV

REPORTS = ("00_journey_map", "03_dropoff")


def _start(data: Path, out: Path, *names: str) -> subprocess.Popen:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "cjlib", "report", *(names or REPORTS), "-p", "events_path", str(data / "events.parquet"),
         "-p", "customers_path", str(data / "customers.parquet"), "-p", "feedback_path", "", "-p", "costs_path", "",
         "--out", str(out)], cwd=PROJ_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _files(out: Path, name: str) -> list[Path]:
    """A report's files: HTML, notebook, metrics.json and the exports its metrics.json lists."""
    m = json.loads((out / f"{name}.metrics.json").read_text())
    return [out / f"{name}.html", out / f"{name}.ipynb", out / f"{name}.metrics.json",
            *(out / e for e in m.get("exports", []))]


def _hashes(out: Path, name: str) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in _files(out, name)}


def _whole(out: Path, name: str) -> None:
    for p in _files(out, name):
        if p.suffix == ".html":
            assert p.read_text().rstrip().endswith("</html>"), p
        elif p.suffix == ".ipynb":
            nbformat.read(p, as_version=4)
        elif p.suffix == ".json":
            json.loads(p.read_text())
        else:
            pd.read_csv(p)


def _mark_old(out: Path) -> dict[str, dict[str, str]]:
    """Make every report file distinct from what a new run writes (so old and new tell apart by hash)."""
    for name in REPORTS:
        for p in _files(out, name):
            if p.suffix == ".html":
                text = p.read_text()
                cut = text.rindex("</html>")
                p.write_text(text[:cut] + "<!-- old -->" + text[cut:])
            elif p.suffix in (".ipynb", ".json"):
                doc = json.loads(p.read_text())
                doc.setdefault("metadata", {})["old"] = True
                if "started" in doc:  # and an index written from it shows it
                    doc["started"] = "2000-01-01T00:00:00+00:00"
                p.write_text(json.dumps(doc))
            else:
                p.write_text(p.read_text() + "\n")
    return {name: _hashes(out, name) for name in REPORTS}


def _state(out: Path, old: dict, name: str) -> str:
    """'old' or 'new' — a mix of the two fails."""
    _whole(out, name)
    now = _hashes(out, name)
    if now == old[name]:
        return "old"
    same = {f for f in now if old[name].get(f) == now[f]}
    assert not same, f"{name}: a mix of old and new files: {sorted(same)} unchanged"
    return "new"


def _index_matches_disk(out: Path) -> None:
    from cjlib.report import _when

    index = (out / "index.html").read_text()
    for name in REPORTS:
        m = json.loads((out / f"{name}.metrics.json").read_text())
        assert f'href="{name}.html"' in index
        assert _when(m["started"]) in index, f"{name}: the index does not show the run on disk"


def _hidden(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith(".") and p.name != ".cjlib.lock")


def _wait(pred, proc: subprocess.Popen, timeout: float = 90) -> None:
    t0 = time.monotonic()
    while not pred():
        assert proc.poll() is None, f"the run ended before the fault point: {proc.communicate()}"
        assert time.monotonic() - t0 < timeout, "fault point not reached"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    from cjlib.synth import generate

    root = tmp_path_factory.mktemp("faults")
    generate(300, seed=1).write(root / "data")
    proc = _start(root / "data", root / "base")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert json.loads((root / "base" / "03_dropoff.metrics.json").read_text())["exports"]  # 03 has exports
    return root, _mark_old(root / "base")


def test_killed_and_interrupted_runs_leave_reports_whole_and_the_next_run_recovers(baseline):
    root, old = baseline
    outs = {k: root / k for k in ("kill_after_first", "kill_during_second", "int_during_second")}
    for out in outs.values():
        shutil.copytree(root / "base", out)
    procs = {k: _start(root / "data", out) for k, out in outs.items()}

    def first_written(out):  # 00's new metrics.json is in place
        return lambda: json.loads((out / "00_journey_map.metrics.json").read_text()).get("metadata") is None

    def second_staged(out):  # 03 runs and has staged some exports
        return lambda: any((d / "exports.jsonl").exists() for d in out.glob(".03_dropoff.staging.*"))

    faults = {"kill_after_first": (first_written, signal.SIGKILL), "kill_during_second": (second_staged, signal.SIGKILL),
              "int_during_second": (second_staged, signal.SIGINT)}
    pending = dict(faults)
    t0 = time.monotonic()
    while pending:  # the three runs go on together; each gets its signal at its point
        for k, (point, sig) in list(pending.items()):
            if point(outs[k])():
                procs[k].send_signal(sig)
                del pending[k]
            else:
                assert procs[k].poll() is None, f"{k}: the run ended before its fault point: {procs[k].communicate()}"
        assert time.monotonic() - t0 < 120, f"fault points not reached: {list(pending)}"
        time.sleep(0.02)
    results = {k: (p.wait(timeout=60), p.communicate()[1]) for k, p in procs.items()}

    assert results["kill_after_first"][0] == -signal.SIGKILL
    assert results["kill_during_second"][0] == -signal.SIGKILL
    code, err = results["int_during_second"]
    assert code == 130 and err.strip().splitlines()[-1].startswith("error: interrupted"), err
    assert "Traceback" not in err

    # every report whole, and old or new as the fault point says
    assert [_state(outs["kill_after_first"], old, n) for n in REPORTS] in (["new", "old"], ["new", "new"])
    for k in ("kill_during_second", "int_during_second"):
        assert [_state(outs[k], old, n) for n in REPORTS] == ["new", "old"], k
    # after SIGINT: no temporary file or staging folder left, and the index shows what is on disk
    out = outs["int_during_second"]
    assert _hidden(out) == [] and not list(out.glob("*.tmp")), _hidden(out)
    _index_matches_disk(out)
    # after SIGKILL the staging folder (and its staged exports) stay behind …
    out = outs["kill_during_second"]
    assert any(".staging." in h for h in _hidden(out)) and not _index_matches_disk_quietly(out)

    # … until the next run (here of 00 only) clears them and writes an index that matches the disk
    proc = _start(root / "data", out, "00")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert _hidden(out) == [], _hidden(out)
    assert [_state(out, old, n) for n in REPORTS] == ["new", "old"]
    _index_matches_disk(out)


def _index_matches_disk_quietly(out: Path) -> bool:
    try:
        _index_matches_disk(out)
    except AssertionError:
        return False
    return True


def test_a_commit_cut_short_is_finished_by_the_next_run(tmp_path):
    """SIGKILL between the renames of a commit: the journal says what moves; the next run finishes it."""
    from cjlib.report import _atomic_write, _recover

    out = tmp_path / "out"
    staging = out / ".03_dropoff.staging.x"
    staging.mkdir(parents=True)
    for f in ("03_dropoff.html", "03_dropoff.metrics.json", "a.csv"):
        (out / f).write_text("old")
        (staging / f).write_text("new")
    moves = [(staging / f, out / f) for f in ("03_dropoff.html", "a.csv", "03_dropoff.metrics.json")]
    (out / "03_dropoff.error.json").write_text("{}")
    _atomic_write(out / ".03_dropoff.commit.json", json.dumps(
        {"moves": [[str(a), str(b)] for a, b in moves], "removes": [str(out / "03_dropoff.error.json")]}))
    os.replace(*moves[0])  # killed after the first rename
    (out / ".index.html.abc.tmp").write_text("")
    _recover(out, [out])
    assert {f: (out / f).read_text() for f in ("03_dropoff.html", "03_dropoff.metrics.json", "a.csv")} == {
        "03_dropoff.html": "new", "03_dropoff.metrics.json": "new", "a.csv": "new"}
    assert sorted(p.name for p in out.iterdir()) == ["03_dropoff.html", "03_dropoff.metrics.json", "a.csv"]


# ------------------------------------------------- staged exports: a kill between the write and the manifest
def _killed_03_run(out: Path, exports: Path) -> Path:
    """What a 03 run killed while staging its exports leaves: its staging folder, whose manifest lists one
    staged export (written), one never written (killed between the line and the file) and a torn line; one
    export staged but not listed (killed between the file and its line); an export staged in another folder
    (``output_dir``), listed; and a staged file of an older run whose folder is gone."""
    staging = out / ".03_dropoff.staging.k1"
    staging.mkdir()
    tag = f"03_dropoff.staging.k1{STAGED_SUFFIX}"
    listed, unwritten, unlisted, elsewhere = (out / f".dropoff_carts.csv.{tag}", out / f".dropoff_funnel_units.csv.{tag}",
                                              out / f".dropoff_time_to_convert.csv.{tag}", exports / f".x.csv.{tag}")
    lines = [json.dumps({"staged": str(s), "target": str(s.parent / s.name.split(".03_dropoff")[0][1:])})
             for s in (listed, unwritten, elsewhere)]
    (staging / EXPORTS_MANIFEST).write_text("\n".join(lines) + '\n{"staged": "/tm')
    for p in (listed, unlisted, elsewhere, out / f".dropoff_carts.csv.03_dropoff.staging.gone{STAGED_SUFFIX}"):
        p.write_text("new\n")
    return staging


def test_a_run_killed_between_a_staged_write_and_its_manifest_line_is_cleared_by_the_next_run(baseline, tmp_path):
    """Deterministic: the killed run's leftovers are made by hand, then a real next run (of 00 only)."""
    root, old = baseline
    out, exports = tmp_path / "out", tmp_path / "exports"
    shutil.copytree(root / "base", out)
    exports.mkdir()
    _killed_03_run(out, exports)
    proc = _start(root / "data", out, "00")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert _hidden(out) == [] and list(exports.iterdir()) == []
    assert [_state(out, old, n) for n in REPORTS] == ["new", "old"]  # 03's last good exports untouched


@pytest.mark.parametrize("when", ["before the manifest line", "between the manifest line and the file",
                                  "after the file"])
@pytest.mark.parametrize("clearer", ["the next run", "the run's own end"])
def test_a_kernel_outliving_its_run_leaves_no_staged_export(tmp_path, monkeypatch, when, clearer):
    """A kernel still exporting when its staging folder is cleared (its runner killed, then the next run's
    recovery; or the runner's own clean-up on an interrupt) leaves no staged file, whatever the point, and
    never writes the export in place of the last good one."""
    from cjlib.report import notebook
    from cjlib.report.runner import _clear_staged, _recover

    out = tmp_path / "out"
    staging = out / ".03_dropoff.staging.k2"
    staging.mkdir(parents=True)
    (out / "a.csv").write_text("old\n")
    monkeypatch.setenv(STAGING_ENV, str(staging))

    def clear():
        _recover(out, [out]) if clearer == "the next run" else _clear_staged(staging, [out])

    real = notebook._atomic_write

    def write(path, data):
        if when == "between the manifest line and the file":
            assert json.loads((staging / EXPORTS_MANIFEST).read_text())["staged"] == str(path)
            clear()
        real(path, data)
        if when == "after the file":
            clear()

    monkeypatch.setattr(notebook, "_atomic_write", write)
    if when == "before the manifest line":
        clear()
    with pytest.raises(RuntimeError, match="staging folder .* (is gone|was removed while a.csv was written)"):
        notebook.export_csv(pd.DataFrame({"v": ["new"]}), out, "a.csv", index=False)
    assert sorted(p.name for p in out.iterdir()) == ["a.csv"] and (out / "a.csv").read_text() == "old\n"
    # and an export the kernel finished before the clean-up goes with the folder
    staging.mkdir()
    monkeypatch.setattr(notebook, "_atomic_write", real)
    notebook.export_csv(pd.DataFrame({"v": ["new"]}), out, "b.csv", index=False)
    assert len(_hidden(out)) == 2  # the staging folder and the staged b.csv
    clear()
    assert sorted(p.name for p in out.iterdir()) == ["a.csv"]
