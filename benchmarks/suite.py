"""Whole-suite benchmark rows: ``python -m cjlib report`` (all five notebooks) on a benchmark log, in process
and with ``dask_address`` pointing at a two-worker ``LocalCluster``, with the peak memory of the report
processes (the runner and each notebook's kernel) and of the workers.

Called by ``benchmarks/run.py`` (``BENCH_SKIP=suite`` skips both runs, ``suite-dask`` only the cluster run);
``.venv/bin/python benchmarks/suite.py 1M [inprocess|dask]`` runs one suite alone and prints its row.

Memory: a thread reads ``VmHWM`` (the kernel's own peak resident set, so a short spike between two reads is
not missed) from ``/proc/<pid>/status`` of the runner and of every process below it (papermill's kernels are
the runner's children) every 0.2 s, and the sum of their ``VmRSS`` (what the machine that writes the
reports must hold at once). A kernel's last fraction of a second before it exits can escape the reads, so
the kernel figures are lower bounds within that slack. The workers' peak is their ``VmHWM`` read through the
client at the end of the suite (the cluster serves only this run).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / "cache"
# events only, as in the measurement (customers, feedback and costs switched off)
EVENTS_ONLY = ["-p", "customers_path", "", "-p", "feedback_path", "", "-p", "costs_path", ""]
POLL_S = 0.2


def _status_kb(pid: int, key: str) -> int:
    """A ``/proc/<pid>/status`` field in kB (0 when the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class TreePeak:
    """Peak memory of a process and its descendants, read in a background thread until :meth:`stop`.

    ``runner_mb`` is the root's ``VmHWM``; ``kernels`` the ``VmHWM`` of each descendant whose command line
    runs ``ipykernel`` in the order they appeared (one per notebook: the runner runs them one after the
    other); ``total_mb`` the largest sampled sum of ``VmRSS`` over the whole tree.
    """

    def __init__(self, pid: int):
        import psutil

        self.root = psutil.Process(pid)
        self.hwm: dict[int, int] = {}
        self.kernels: list[int] = []
        self.total_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        import psutil

        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        for p in procs:
            hwm = _status_kb(p.pid, "VmHWM:")
            if not hwm:
                continue
            if p.pid not in self.kernels and p.pid != self.root.pid:
                try:  # asked on every poll: a fresh fork shows its parent's command line until it runs the kernel
                    if "ipykernel" in " ".join(p.cmdline()):
                        self.kernels.append(p.pid)
                        self.hwm[p.pid] = 0  # what was read before the exec was the fork's, not the kernel's
                except psutil.Error:
                    pass
            self.hwm[p.pid] = max(self.hwm.get(p.pid, 0), hwm)
            total += _status_kb(p.pid, "VmRSS:")
        self.total_kb = max(self.total_kb, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poll()
            self._stop.wait(POLL_S)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def runner_mb(self) -> float:
        return self.hwm.get(self.root.pid, 0) / 1024

    @property
    def kernel_mb(self) -> list[float]:
        return [self.hwm[k] / 1024 for k in self.kernels]

    @property
    def total_mb(self) -> float:
        return self.total_kb / 1024


def _kill_tree(proc: subprocess.Popen) -> None:
    """End the runner this benchmark started and the processes below it (its kernels), by process id."""
    import psutil

    try:
        below = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        below = []
    for p in [*below, psutil.Process(proc.pid)] if proc.poll() is None else below:
        try:
            p.kill()
        except psutil.Error:
            pass


def run_suite(events_path: Path, out: Path, dask_address: str = "", timeout: float | None = None) -> dict:
    """Run all five reports once on ``events_path`` into ``out`` (emptied first): wall seconds, per-notebook
    seconds / own cell seconds / status / kernel peak, the runner's own seconds (loading and pre-validating
    the inputs, the index), and peak memory. Never raises for a failed report: it is recorded; a run past
    ``timeout`` seconds is ended (the runner and its kernels) and recorded as timed out."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = [sys.executable, "-m", "cjlib", "report", "--out", str(out), "-p", "events_path", str(events_path),
           *EVENTS_ONLY]
    if dask_address:
        cmd += ["-p", "dask_address", dask_address]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = TreePeak(proc.pid)
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_tree(proc)
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t
    peak.stop()
    notebooks: dict[str, dict] = {}
    names = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    kernels = peak.kernel_mb
    for i, name in enumerate(names):
        nb: dict = {"kernel_peak_mb": round(kernels[i], 1) if i < len(kernels) else None}
        metrics, error = out / f"{name}.metrics.json", out / f"{name}.error.json"
        if metrics.exists():
            doc = json.loads(metrics.read_text())
            cells = json.loads((out / f"{name}.ipynb").read_text())["cells"]
            own = sum(float(c.get("metadata", {}).get("papermill", {}).get("duration") or 0.0) for c in cells)
            nb.update(status="ok", seconds=float(doc["seconds"]), own_s=round(own, 2), metrics=doc["metrics"])
        elif error.exists():
            doc = json.loads(error.read_text())
            nb.update(status="failed", seconds=float(doc.get("seconds") or 0.0), error=doc.get("error", ""))
        else:
            nb.update(status="not run", seconds=0.0)
        notebooks[name] = nb
    res = {"wall_s": wall, "returncode": proc.returncode, "notebooks": notebooks,
           "runner_own_s": wall - sum(nb["seconds"] for nb in notebooks.values()),
           "runner_peak_mb": peak.runner_mb, "kernel_peak_mb": max(kernels, default=float("nan")),
           "tree_peak_mb": peak.total_mb}
    res["report_peak_mb"] = max(res["runner_peak_mb"], res["kernel_peak_mb"])
    failed = {k: v.get("error", v["status"]) for k, v in notebooks.items() if v["status"] != "ok"}
    if timed_out:
        done = [k for k, v in notebooks.items() if v["status"] != "not run"]
        failed["runner"] = (f"timed out after {timeout:.0f} s (ended by the benchmark; notebooks finished: "
                            f"{', '.join(done) or 'none'})")
    elif proc.returncode:
        last = (stderr.strip().splitlines() or stdout.strip().splitlines() or ["no output"])[-1]
        failed["runner"] = f"exit status {proc.returncode}: {last}"
    res["failed"] = failed
    return res


def worker_peaks_mb(client) -> list[float]:
    """Every worker's peak resident set (``VmHWM``, MB)."""
    def hwm() -> float:
        return _status_kb(os.getpid(), "VmHWM:") / 1024

    return sorted(client.run(hwm).values())


def run_suite_dask(events_path: Path, out: Path, config: dict | None = None, timeout: float | None = None) -> dict:
    """:func:`run_suite` with ``dask_address`` set to a fresh ``LocalCluster`` (2 worker processes, 1 thread
    each, Dask's configuration updated by ``config``); adds ``worker_peak_mb`` (each worker's ``VmHWM``).
    A cluster that does not start is recorded as the failure."""
    saved = dict(os.environ)  # the nannies write their pre-spawn variables into os.environ: undo that after
    try:
        import dask
        from distributed import Client, LocalCluster

        with dask.config.set(config or {}):
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=40)
        client = Client(cluster)
    except Exception as exc:  # noqa: BLE001 - recorded, the benchmark goes on
        os.environ.clear()
        os.environ.update(saved)
        return {"wall_s": float("nan"), "failed": {"cluster": f"{type(exc).__name__}: {exc}"}, "notebooks": {}}
    try:
        res = run_suite(events_path, out, cluster.scheduler_address, timeout=timeout)
        try:
            res["worker_peak_mb"] = worker_peaks_mb(client)
        except Exception as exc:  # noqa: BLE001 - a worker lost at the end: say so
            res["worker_peak_mb"] = []
            res["failed"]["workers"] = f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
        cluster.close()
        os.environ.clear()
        os.environ.update(saved)
    return res


def _close(x, y, rtol: float) -> bool:
    """Equal JSON values: numbers to ``rtol`` (relative), dicts and lists element by element, others exactly."""
    if isinstance(x, bool) or isinstance(y, bool):
        return x == y
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return x == y or (math.isfinite(x) and math.isfinite(y) and abs(x - y) <= rtol * max(abs(x), abs(y)))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_close(x[k], y[k], rtol) for k in x)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_close(a, b, rtol) for a, b in zip(x, y))
    return x == y


def metric_differences(a: dict, b: dict, rtol: float = 1e-9) -> list[str]:
    """Metric names whose values differ between two runs' ``metrics`` (numbers, also inside lists and dicts,
    to ``rtol`` relative; everything else exactly)."""
    return [key for key in sorted(set(a) | set(b)) if key not in a or key not in b or not _close(a[key], b[key], rtol)]


def _r(x, nd=1):
    return None if x is None or (isinstance(x, float) and x != x) else round(x, nd)


def suite_rows(size: str, inproc: dict, on_dask: dict | None) -> list[dict]:
    """Result rows (the format of ``results/latest.json`` plus detail keys) for the suite runs."""
    rows = [{
        "op": "report suite in process (5 notebooks)", "size": size, "cjlib_s": _r(inproc["wall_s"], 2),
        "baseline": "issue target 4 min", "baseline_s": 240.0, "ratio": _r(inproc["wall_s"] / 240, 3),
        "cjlib_peak_mb": _r(inproc.get("report_peak_mb")), "runner_peak_mb": _r(inproc.get("runner_peak_mb")),
        "kernel_peak_mb": _r(inproc.get("kernel_peak_mb")), "tree_peak_mb": _r(inproc.get("tree_peak_mb")),
        "runner_own_s": _r(inproc.get("runner_own_s"), 2), "failed": inproc["failed"],
    }]
    for name, nb in inproc["notebooks"].items():
        rows.append({"op": f"report {name} in process", "size": size, "cjlib_s": _r(nb["seconds"], 2),
                     "baseline": "", "baseline_s": None, "ratio": None, "cjlib_peak_mb": nb.get("kernel_peak_mb"),
                     "own_s": nb.get("own_s"), "status": nb["status"], "error": nb.get("error", "")})
    if on_dask is None:
        return rows
    ok = not on_dask["failed"]
    wall = on_dask["wall_s"]
    rep = on_dask.get("report_peak_mb")
    rows.append({
        "op": "report suite on Dask (2 local workers)", "size": size, "cjlib_s": _r(wall, 2),
        "baseline": "report suite in process", "baseline_s": _r(inproc["wall_s"], 2),
        "ratio": _r(wall / inproc["wall_s"], 3) if ok else None, "cjlib_peak_mb": _r(rep),
        "report_peak_ratio": _r(rep / inproc["report_peak_mb"], 3) if ok and rep else None,
        "runner_peak_mb": _r(on_dask.get("runner_peak_mb")), "kernel_peak_mb": _r(on_dask.get("kernel_peak_mb")),
        "tree_peak_mb": _r(on_dask.get("tree_peak_mb")),
        "worker_peak_mb": [_r(w) for w in on_dask.get("worker_peak_mb", [])],
        "runner_own_s": _r(on_dask.get("runner_own_s"), 2), "failed": on_dask["failed"],
    })
    for name, nb in on_dask["notebooks"].items():
        base = inproc["notebooks"].get(name, {})
        both = nb["status"] == "ok" and base.get("status") == "ok"
        rows.append({
            "op": f"report {name} on Dask", "size": size,
            "cjlib_s": None if nb["status"] == "not run" else _r(nb["seconds"], 2),
            "baseline": f"report {name} in process", "baseline_s": _r(base.get("seconds"), 2),
            "ratio": _r(nb["seconds"] / base["seconds"], 3) if both and base["seconds"] else None,
            "cjlib_peak_mb": nb.get("kernel_peak_mb"), "own_s": nb.get("own_s"), "status": nb["status"],
            "error": nb.get("error", ""),
            "metrics_differing": metric_differences(nb["metrics"], base["metrics"]) if both else None,
            "metrics_not_bitwise": metric_differences(nb["metrics"], base["metrics"], 0.0) if both else None,
        })
    return rows


def describe(rows: list[dict]) -> str:
    """The rows as printed lines."""
    lines = []
    for r in rows:
        mem = "" if r["cjlib_peak_mb"] is None else f"peak {r['cjlib_peak_mb']:.0f} MB"
        extra = ""
        if "runner_peak_mb" in r:
            extra = (f" (runner {r['runner_peak_mb']} MB, largest kernel {r['kernel_peak_mb']} MB, tree "
                     f"{r['tree_peak_mb']} MB, runner's own {r['runner_own_s']} s)")
        if r.get("worker_peak_mb"):
            extra += f" workers {r['worker_peak_mb']} MB"
        if r.get("report_peak_ratio") is not None:
            extra += f" report peak ÷ in process {r['report_peak_ratio']:.2f}"
        if r.get("ratio") is not None:
            extra += f" ratio {r['ratio']:.2f}"
        if r.get("failed") or r.get("error"):
            extra += f"  FAILED {r.get('failed') or r.get('error')}"
        if r.get("metrics_differing"):
            extra += f"  metrics differing from in process: {r['metrics_differing'][:8]}"
        lines.append(f"  {r['op']:<44} {r['size']:>4} {r['cjlib_s'] if r['cjlib_s'] is not None else 'nan':>8} s  "
                     f"{mem}{extra}")
    return "\n".join(lines)


def bench_suite(size: str, events_path: Path, rows: list, dask: bool = True) -> None:
    """Append the suite rows of ``size`` (the log at ``events_path``, a Parquet folder) to ``rows``."""
    print(f"\n== report suite, {size} events ({events_path.name}), in process", flush=True)
    inproc = run_suite(events_path, CACHE / f"suite_{size}_inprocess")
    on_dask = None
    if dask:
        print(f"== report suite, {size} events, on a two-worker LocalCluster", flush=True)
        # a hung Dask path must not hang the benchmark: BENCH_SUITE_TIMEOUT seconds, by default 4 x the
        # in-process suite (at least 10 min)
        limit = float(os.environ.get("BENCH_SUITE_TIMEOUT") or max(600.0, 4 * inproc["wall_s"]))
        on_dask = run_suite_dask(events_path, CACHE / f"suite_{size}_dask", timeout=limit)
    new = suite_rows(size, inproc, on_dask)
    print(describe(new), flush=True)
    rows.extend(new)


if __name__ == "__main__":  # one suite alone: python benchmarks/suite.py 1M [inprocess|dask]
    sys.path.insert(0, str(HERE))
    import run

    size = sys.argv[1] if len(sys.argv) > 1 else "1M"
    mode = sys.argv[2] if len(sys.argv) > 2 else "inprocess"
    path = run.parts_path(size)
    limit = float(os.environ.get("BENCH_SUITE_TIMEOUT") or 0) or None
    res = (run_suite_dask if mode == "dask" else run_suite)(path, CACHE / f"suite_{size}_{mode}", timeout=limit)
    res["notebooks"] = {k: {kk: vv for kk, vv in v.items() if kk != "metrics"} for k, v in res["notebooks"].items()}
    print(json.dumps(res, indent=1, default=str))
