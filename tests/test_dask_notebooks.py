"""Notebooks on a Dask cluster: ``-p dask_address tcp://…`` gives the same reports as in process.

A ``distributed.LocalCluster`` (2 worker processes, 1 thread each) stands in for a cluster. 03_dropoff
(main and checkout funnels, per-customer funnel units) and 01_personas (customer features) run twice on
sample data from ``cjlib.synth`` (the generator and seed of ``make data``, 5 000 customers to keep the
four notebook runs near a minute on 2 cores): with the README's command, ``python -m cjlib report … -p
dask_address <scheduler>``, in a child process, and meanwhile in process through the runner. The recorded
metrics, the data summary and the customer-level CSV exports must be identical, and the scheduler must
have run the per-customer kernels (so the cluster run really went through the cluster). Skipped when the
``dask`` extra is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pytest.importorskip("papermill")

from distributed.diagnostics.plugin import SchedulerPlugin  # noqa: E402
from distributed.utils import key_split  # noqa: E402

from cjlib import engine, synth  # noqa: E402
from cjlib.paths import PROJ_ROOT  # noqa: E402
from cjlib.report import list_notebooks, notebook_parameters, run_reports  # noqa: E402

N_CUSTOMERS = 5_000
NOTEBOOKS = ["01_personas", "03_dropoff"]
# calls a notebook sends through cjlib.engine (each runs the kernel on every partition)
ROUTED_CALLS = {"01_personas": 1, "03_dropoff": 3}  # customer_features; funnel × 2, funnel_units
EXPORTS = {"01_personas": ["personas_assignments.csv"], "03_dropoff": ["dropoff_funnel_units.csv"]}
TIMING = {"started", "seconds"}


class _KernelTasks(SchedulerPlugin):
    """Counts finished tasks on the scheduler by key prefix (``apply``: ``engine._apply``, a kernel run on
    one partition)."""

    def __init__(self):
        self.done: Counter = Counter()
        self.shuffles: set = set()  # distinct task-shuffle outputs: one name per shuffle

    def transition(self, key, start, finish, *args, **kwargs):
        if finish == "memory":
            self.done[key_split(key)] += 1
            if key_split(key) == "taskshuffle":
                self.shuffles.add(key[0] if isinstance(key, tuple) else key)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """Like ``make data`` (``cjlib.synth``, seed 0) with fewer customers; written afresh, so the test does
    not depend on data/sample/."""
    folder = tmp_path_factory.mktemp("dask_sample")
    synth.generate(n_customers=N_CUSTOMERS, seed=0).write(folder)
    return {"events_path": str(folder / "events.parquet"), "customers_path": str(folder / "customers.parquet"),
            "feedback_path": str(folder / "feedback.parquet"), "costs_path": str(folder / "costs.csv")}


@pytest.fixture(scope="module")
def cluster(local_cluster):
    tasks = _KernelTasks()
    local_cluster.scheduler.add_plugin(tasks, name="cjlib-test-kernel-tasks")
    yield local_cluster, tasks
    local_cluster.scheduler.remove_plugin(name="cjlib-test-kernel-tasks")


def _metrics_json(out, names):
    return {n: json.loads((out / f"{n}.metrics.json").read_text()) for n in names}


@pytest.fixture(scope="module")
def runs(sample, cluster, tmp_path_factory):
    """The README's command on the cluster (a child process), and the runner in process meanwhile."""
    cl, tasks = cluster
    local_out, dask_out = tmp_path_factory.mktemp("in_process"), tmp_path_factory.mktemp("on_dask")
    args = [a for k, v in sample.items() for a in ("-p", k, v)]
    child = subprocess.Popen(
        [sys.executable, "-m", "cjlib", "report", *NOTEBOOKS, "-p", "dask_address", cl.scheduler_address, *args,
         "--out", str(dask_out)], cwd=PROJ_ROOT, env={**os.environ, "MPLBACKEND": "Agg"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        results = run_reports(NOTEBOOKS, sample, out_dir=local_out, progress=None)
        stdout, stderr = child.communicate(timeout=300)
    except BaseException:
        child.kill()
        child.communicate()
        raise
    assert [r.status for r in results] == ["ok"] * len(NOTEBOOKS), [r.error for r in results]
    assert child.returncode == 0, stdout + stderr
    return dict(local=_metrics_json(local_out, NOTEBOOKS), on_dask=_metrics_json(dask_out, NOTEBOOKS),
                local_out=local_out, dask_out=dask_out, address=cl.scheduler_address, tasks=Counter(tasks.done),
                shuffles=len(tasks.shuffles))


def test_every_notebook_declares_dask_address_alike():
    decl = {nb.stem: notebook_parameters(nb).get("dask_address") for nb in list_notebooks()}
    assert all(d is not None for d in decl.values()), decl
    assert {(d["type"], d["default"]) for d in decl.values()} == {("str", "")}


def test_the_cluster_ran_the_kernels(runs):
    # every routed call runs its kernel (engine._apply, key prefix "apply") on at least one partition
    assert runs["tasks"]["apply"] >= sum(ROUTED_CALLS.values())
    # and the run shuffled the log once (the runner; every notebook opens the saved log), however many
    # notebooks and calls
    assert runs["shuffles"] == 1


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_dask_report_equals_in_process(runs, name):
    a, b = runs["local"][name], runs["on_dask"][name]
    assert b["parameters"]["dask_address"] == runs["address"] and a["parameters"]["dask_address"] == ""
    # the same numbers: every recorded metric, exactly
    assert b["metrics"] == a["metrics"]
    assert b["data"] == a["data"]
    skip = TIMING | {"parameters"}
    assert {k: v for k, v in b.items() if k not in skip} == {k: v for k, v in a.items() if k not in skip}
    other = {"dask_address", "output_dir"}
    assert {k: v for k, v in b["parameters"].items() if k not in other} == \
           {k: v for k, v in a["parameters"].items() if k not in other}
    # and the customer-level exports, byte for byte
    for csv in EXPORTS[name]:
        assert (runs["dask_out"] / csv).read_bytes() == (runs["local_out"] / csv).read_bytes(), csv


def test_metrics_are_real_numbers(runs):
    """Guard against comparing two empty reports: the headline numbers are there and plausible."""
    drop, personas = runs["local"]["03_dropoff"]["metrics"], runs["local"]["01_personas"]["metrics"]
    assert drop["n_customers"] == N_CUSTOMERS and drop["n_events"] > 20 * N_CUSTOMERS
    assert [r["reached"] for r in drop["funnel"]] == sorted((r["reached"] for r in drop["funnel"]), reverse=True)
    assert 0 < drop["funnel_conversion"] < 1 and 0 < drop["checkout_funnel_conversion"] < 1
    assert drop["worst_segment"]["level"] == "mobile"  # the planted checkout friction
    assert personas["n_personas"] >= 2
    assert sum(p["share"] for p in personas["personas"]) == pytest.approx(1.0)


def test_distribute_in_process_is_the_frame_itself():
    ev = synth.generate(50, seed=1).events
    assert engine.distribute(ev, "") is ev and engine.distribute(ev, "  ") is ev and engine.distribute(ev, None) is ev
    with pytest.raises(TypeError, match="address must be a str"):
        engine.distribute(ev, 8786)


def test_run_on():
    assert engine.run_on("") == {} and engine.run_on("   ") == {} and engine.run_on(None) == {}
    assert engine.run_on(" tcp://10.0.0.5:8786\n") == {"engine": "dask", "address": "tcp://10.0.0.5:8786"}
    with pytest.raises(TypeError, match="address must be a str"):
        engine.run_on(8786)
