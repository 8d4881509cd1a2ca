"""The whole-suite benchmark's own arithmetic (benchmarks/suite.py): peak memory of a process tree, metric
comparison, and rows that record a failed Dask suite instead of crashing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
suite = pytest.importorskip("suite")

# a parent holding ~50 MB that starts a child holding ~150 MB ("ipykernel" in its command line, like a kernel)
CHILD = "import time; b = bytearray(150 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.5)  # ipykernel"
PARENT = (f"import subprocess, sys, time; a = bytearray(50 * 2**20); a[::4096] = b'x' * len(a[::4096]); "
          f"time.sleep(0.5); subprocess.run([sys.executable, '-c', {CHILD!r}]); time.sleep(0.3)")


def test_tree_peak_sees_runner_and_kernel():
    proc = subprocess.Popen([sys.executable, "-c", PARENT])
    peak = suite.TreePeak(proc.pid)
    proc.wait()
    time.sleep(0.1)
    peak.stop()
    assert len(peak.kernels) == 1
    assert 50 <= peak.runner_mb < 140, peak.runner_mb  # interpreter (~10-30 MB) + 50 MB
    assert 150 <= peak.kernel_mb[0] < 240, peak.kernel_mb
    assert peak.total_mb >= peak.runner_mb + 140  # both alive at once while the child held its memory


def test_metric_differences():
    a = {"n": 10, "rate": 0.1, "name": "x", "flag": True, "gone": 1}
    b = {"n": 10, "rate": 0.1 * (1 + 1e-12), "name": "y", "flag": True, "new": 2}
    assert suite.metric_differences(a, b) == ["gone", "name", "new"]
    assert suite.metric_differences({"r": 0.1}, {"r": 0.1 * (1 + 1e-6)}) == ["r"]
    assert suite.metric_differences({"r": None}, {"r": None}) == []


def test_failed_dask_suite_is_recorded():
    inproc = {"wall_s": 200.0, "failed": {}, "report_peak_mb": 1000.0, "runner_peak_mb": 900.0,
              "kernel_peak_mb": 1000.0, "tree_peak_mb": 1800.0, "runner_own_s": 20.0,
              "notebooks": {"00_x": {"status": "ok", "seconds": 100.0, "own_s": 98.0, "kernel_peak_mb": 1000.0,
                                     "metrics": {"n": 1}},
                            "01_y": {"status": "ok", "seconds": 80.0, "own_s": 79.0, "kernel_peak_mb": 900.0,
                                     "metrics": {"n": 2}}}}
    dask = {"wall_s": 150.0, "failed": {"01_y": "TypeError: no"}, "report_peak_mb": 200.0, "runner_peak_mb": 150.0,
            "kernel_peak_mb": 200.0, "tree_peak_mb": 330.0, "runner_own_s": 10.0, "worker_peak_mb": [700.0, 800.0],
            "notebooks": {"00_x": {"status": "ok", "seconds": 120.0, "own_s": 118.0, "kernel_peak_mb": 200.0,
                                   "metrics": {"n": 1}},
                          "01_y": {"status": "failed", "seconds": 5.0, "error": "TypeError: no",
                                   "kernel_peak_mb": 150.0}}}
    rows = {r["op"]: r for r in suite.suite_rows("1M", inproc, dask)}
    whole = rows["report suite on Dask (2 local workers)"]
    assert whole["ratio"] is None and whole["report_peak_ratio"] is None  # a failed suite gets no ratio
    assert whole["failed"] == {"01_y": "TypeError: no"} and whole["worker_peak_mb"] == [700.0, 800.0]
    assert rows["report 00_x on Dask"]["ratio"] == 1.2 and rows["report 00_x on Dask"]["metrics_differing"] == []
    assert rows["report 01_y on Dask"]["ratio"] is None and rows["report 01_y on Dask"]["status"] == "failed"
    assert rows["report suite in process (5 notebooks)"]["ratio"] == round(200 / 240, 3)
    assert "FAILED" in suite.describe(list(rows.values()))
    ok = dict(dask, failed={}, notebooks={"00_x": dask["notebooks"]["00_x"]})
    whole = {r["op"]: r for r in suite.suite_rows("1M", inproc, ok)}["report suite on Dask (2 local workers)"]
    assert whole["ratio"] == 0.75 and whole["report_peak_ratio"] == 0.2


def test_metric_differences_nested():
    a = {"stages": [{"stage": "x", "share": 0.3, "n": 3}], "m": {"a": 1.0}}
    assert suite.metric_differences(a, {"stages": [{"stage": "x", "share": 0.3 * (1 + 1e-13), "n": 3}],
                                        "m": {"a": 1.0}}) == []
    assert suite.metric_differences(a, {"stages": [{"stage": "x", "share": 0.31, "n": 3}], "m": {"a": 1.0}}) \
        == ["stages"]
    assert suite.metric_differences(a, {"stages": a["stages"], "m": {"a": 1.0, "b": 2}}) == ["m"]


def test_hung_suite_is_ended_and_recorded(tmp_path, monkeypatch):
    import psutil

    fake = tmp_path / "python"  # stands in for the interpreter: a runner that starts a child and hangs
    fake.write_text("#!/bin/sh\nsleep 60 &\necho $! > \"$(dirname \"$0\")/child.pid\"\nsleep 60\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake))
    monkeypatch.setattr(suite, "ROOT", tmp_path)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "00_a.ipynb").write_text("{}")
    t = time.perf_counter()
    res = suite.run_suite(tmp_path / "events", tmp_path / "out", timeout=1.5)
    assert time.perf_counter() - t < 20
    assert res["failed"]["runner"].startswith("timed out after 2 s") and "finished: none" in res["failed"]["runner"]
    assert res["notebooks"]["00_a"]["status"] == "not run"
    child = int((tmp_path / "child.pid").read_text())
    time.sleep(0.2)
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE
