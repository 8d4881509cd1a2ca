"""The suite on a Dask cluster (issue 19): inputs read, validated and shuffled by the workers, one shuffle
per run, and the five notebooks run with ``dask_address`` against the in-process run on the same log.

The cluster is the session's 2-worker ``LocalCluster`` (tests/conftest.py). Logs come from
``cjlib.synth`` and from the gallery shapes (tests/gallery.py), written as Parquet (a Dask run reads
Parquet). Skipped when the ``dask`` extra is not installed.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from cjlib import engine, journeys, synth  # noqa: E402
from cjlib.engine import load as dload  # noqa: E402
from cjlib.errors import DataError  # noqa: E402
from cjlib.io import load_events, load_inputs  # noqa: E402
from cjlib.paths import PROJ_ROOT  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import gallery  # noqa: E402
from test_golden_metrics import differences  # noqa: E402


@pytest.fixture(scope="module")
def client(local_cluster):
    with distributed.Client(local_cluster) as c:
        yield c
    cached = engine.core._CLIENTS.pop(local_cluster.scheduler_address, None)  # load_inputs(dask_address=…)'s
    if cached is not None:
        cached.close()


def _as_folder(ev: pd.DataFrame, folder: Path, pieces: int = 3) -> Path:
    """``ev`` in input order as a Parquet folder of ``pieces`` files."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, rows in enumerate(np.array_split(np.arange(len(ev)), pieces)):
        ev.iloc[rows].to_parquet(folder / f"part.{i}.parquet", index=False)
    return folder






# ============================================================================================ read_log
@pytest.fixture(scope="module")
def dup_log(tmp_path_factory):
    """A synthetic log with 7 exact duplicates, as a 3-file Parquet folder."""
    ev = pd.read_parquet(_written(tmp_path_factory, 600, 4) / "events.parquet")
    return _as_folder(pd.concat([ev, ev.iloc[[5, 900, 901, 4000, 4000, 7000, 12000]]]),
                      tmp_path_factory.mktemp("dup") / "events")


def _written(tmp_path_factory, n: int, seed: int, **kw) -> Path:
    folder = tmp_path_factory.mktemp(f"synth{n}_{seed}")
    synth.generate(n, seed=seed, **kw).write(folder)
    return folder


def test_read_log_equals_load_events(client, dup_log):
    with pytest.warns(Warning, match="dropped 7 exact duplicate"):
        local = load_events(dup_log)
    with pytest.warns(Warning, match="dropped 7 exact duplicate"):
        parted, facts = dload.read_log(str(dup_log), client=client)
    assert (facts.events, facts.customers, facts.duplicates) == (len(local), local["customer_id"].nunique(), 7)
    assert facts.first_event == local["timestamp"].min().isoformat()
    assert facts.event_counts == {str(k): int(v) for k, v in local["event"].value_counts().sort_index().items()}
    # per customer (sorted customers) and per event (the loader's order) the same results
    assert engine.run(parted, journeys.stage_reached).equals(journeys.stage_reached(local))
    sess = engine.sessionize(parted)  # per event: in the loader's order
    pd.testing.assert_series_equal(sess, journeys.sessionize(local), check_names=False)
    # saved and opened again: no second shuffle, the same log
    saved = dload.save_log(parted, facts, str(dup_log.parent / "shuffled"))
    files = sorted(Path(saved).glob("part.*.parquet"))
    assert len(files) == parted.npartitions
    for f in files:  # complete customers per file, in the loader's order
        part = pd.read_parquet(f)
        assert part[engine.core._ROW].is_monotonic_increasing
    reopened, facts2 = dload.open_log(saved, client=client)
    assert facts2 == facts
    assert engine.run(reopened, journeys.stage_reached).equals(journeys.stage_reached(local))


@pytest.mark.parametrize("case", ["negative_revenue", "missing_column", "unparseable", "not_parquet"])
def test_worker_errors_are_the_loaders(client, tmp_path, case):
    ev = synth.generate(120, seed=1).events.reset_index(drop=True)
    if case == "negative_revenue":  # bad rows in two files: one error, counted over both
        ev.loc[[3, 2000, 2001], "revenue"] = -1.0
    elif case == "missing_column":
        ev = ev.drop(columns=["event"])
    elif case == "unparseable":
        ev["timestamp"] = ev["timestamp"].astype(str)
        ev.loc[[10, len(ev) - 5], "timestamp"] = "not a time"
    folder = _as_folder(ev, tmp_path / "events")
    if case == "not_parquet":  # CSV is read now (tests/test_dask_load.py); another type is refused
        (tmp_path / "events.xlsx").write_bytes(b"PK")
        with pytest.raises(DataError, match="rule file_type: unsupported file type '.xlsx'"):
            dload.read_log(str(tmp_path / "events.xlsx"), client=client)
        return
    with pytest.raises(DataError) as here:
        load_events(folder)
    with pytest.raises(DataError) as there:
        dload.read_log(str(folder), client=client)
    assert str(there.value) == str(here.value)  # file, column, rule, count and example rows
    if case == "negative_revenue":
        assert "3 value(s) are negative" in str(here.value) and "row 2000" in str(here.value)


# ====================================================================================== inputs, profile
SHAPES = ["every_table", "order_lifecycle", "clickstream", "purchases_only", "b2b_leads"]


def _case_params(shape: str, folder: Path) -> dict:
    """A gallery case's data parameters, its events as Parquet (as written, CSV columns as text ids)."""
    import yaml

    case = gallery.write_case(shape, folder)
    params = yaml.safe_load(case.params_path.read_text())
    cols = params.get("columns") or {}
    ev = folder / params["events_path"]
    if ev.suffix == ".csv":
        id_col = (cols.get("events", cols) if isinstance(cols, dict) else {}).get("customer_id", "customer_id")
        pd.read_csv(ev, dtype={id_col: str}).to_parquet(folder / "events_as.parquet", index=False)
        params["events_path"] = "events_as.parquet"
    keep = ("events_path", "customers_path", "feedback_path", "costs_path", "columns", "stage_map_path",
            "start_date", "end_date")
    return {k: (str(folder / v) if k.endswith("_path") and v else v) for k, v in params.items() if k in keep}


@pytest.mark.parametrize("shape", SHAPES)
def test_inputs_and_profile_equal_in_process(local_cluster, client, tmp_path, shape, monkeypatch):
    monkeypatch.setattr("cjlib.profiling._RANK_LIMIT", 50)  # the exact median gap by several narrowing passes
    kw = _case_params(shape, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = load_inputs(**kw)
        b = load_inputs(**kw, dask_address=local_cluster.scheduler_address)
    assert isinstance(b.events, engine.Partitioned)
    assert b.summary() == a.summary() and b.date_range == a.date_range
    assert gallery.profile_differences(a, b) == []
    assert a.profile.events == len(a.events) > 0  # not two empty profiles


def test_runner_check_is_the_same_data_summary(local_cluster, client, tmp_path):
    from cjlib.report.runner import _load_data

    kw = _case_params("every_table", tmp_path)
    local, _, _ = _load_data(kw)
    remote, _, inputs = _load_data({**kw, "dask_address": local_cluster.scheduler_address})
    assert remote == local and isinstance(inputs.events, engine.Partitioned)


# ================================================================================ the five notebooks
N_CUSTOMERS = 3000
# notebooks whose Dask run does not yet equal the in-process run (helpers of issue 19 make their functions
# accept a Partitioned log; the lead removes a name here when its notebook passes)
NOT_YET: dict[str, str] = {}  # all five passed on the working tree of 12:50 UTC (with the helpers' changes)
NOTEBOOKS = ["00_journey_map", "01_personas", "02_stage_attribution", "03_dropoff", "04_churn"]
# RLIMIT_DATA of the Dask run's report side (the runner and every notebook kernel, which inherit it)
DATA_LIMIT = 1 << 30  # measured: the Dask side runs all five under it (a kernel peaks near 400 MB RSS)
_RUN = """
import json, resource, sys
from cjlib.cli import main
rc = main(sys.argv[2:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
open(sys.argv[1], "w").write(json.dumps({"rc": rc, "kernel_kb": peak[0], "runner_kb": peak[1]}))
"""


def _limit():  # in the child, before it execs: the report side may not hold the log
    resource.setrlimit(resource.RLIMIT_DATA, (DATA_LIMIT, DATA_LIMIT))


def _can_hide() -> bool:
    """Whether a child can run in its own mount namespace (root with CAP_SYS_ADMIN: ``unshare -m``)."""
    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _hidden(folder: Path, command: list[str]) -> list[str]:
    """``command`` run where ``folder`` is an empty tmpfs: the report side cannot read what it holds, while
    the workers (outside the namespace) read it as usual."""
    return ["unshare", "-m", "sh", "-c", 'mount -t tmpfs none "$0" && exec "$@"', str(folder), *command]


class _Tasks(distributed.diagnostics.plugin.SchedulerPlugin):
    """Finished tasks on the scheduler by key prefix."""

    def __init__(self):
        from collections import Counter

        self.done = Counter()

    def transition(self, key, start, finish, *args, **kwargs):
        if finish == "memory":
            from distributed.utils import key_split

            self.done[key_split(key)] += 1


@pytest.fixture(scope="module")
def suite(local_cluster, tmp_path_factory):
    """All five notebooks on one log, in process and on the cluster (each in a child process, at once)."""
    folder = _written(tmp_path_factory, N_CUSTOMERS, 0, variant_split=0.5)
    events = _as_folder(pd.read_parquet(folder / "events.parquet"), folder / "events", pieces=4)
    params = {"events_path": str(events), "customers_path": str(folder / "customers.parquet"),
              "feedback_path": str(folder / "feedback.parquet"), "costs_path": str(folder / "costs.csv")}
    args = [a for k, v in params.items() for a in ("-p", k, v)]
    outs = {m: tmp_path_factory.mktemp(m) for m in ("local", "dask")}
    env = {**os.environ, "MPLBACKEND": "Agg", "CJLIB_DASK_SCRATCH": str(tmp_path_factory.mktemp("scratch"))}
    hide = _can_hide()
    tasks = _Tasks()
    local_cluster.scheduler.add_plugin(tasks, name="cjlib-suite-tasks")
    children = {}
    for mode in ("local", "dask"):
        extra = ["-p", "dask_address", local_cluster.scheduler_address] if mode == "dask" else []
        command = [sys.executable, "-c", _RUN, str(outs[mode] / "peak.json"), "report", *args, *extra,
                   "--out", str(outs[mode])]
        children[mode] = subprocess.Popen(
            _hidden(events, command) if mode == "dask" and hide else command, cwd=PROJ_ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_limit if mode == "dask" else None)
    logs = {}
    try:
        for mode, child in children.items():
            logs[mode] = child.communicate(timeout=600)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
        local_cluster.scheduler.remove_plugin(name="cjlib-suite-tasks")
    runs = {}
    for mode, out in outs.items():
        runs[mode] = {}
        for name in NOTEBOOKS:
            ok, err = out / f"{name}.metrics.json", out / f"{name}.error.json"
            runs[mode][name] = json.loads(ok.read_text()) if ok.exists() else \
                {"status": "failed", "error": json.loads(err.read_text())["error"] if err.exists() else "no output"}
    peak = {m: json.loads((outs[m] / "peak.json").read_text()) if (outs[m] / "peak.json").exists() else {}
            for m in outs}
    return {"runs": runs, "peak": peak, "logs": logs, "scratch": env["CJLIB_DASK_SCRATCH"], "hidden": hide,
            "tasks": dict(tasks.done), "files": len(list(events.glob("*.parquet")))}


def _outcome(suite, name) -> str:
    """'ok', 'failed: <error>' or 'differs: <first differences>' of the Dask run of ``name``."""
    a, b = suite["runs"]["local"][name], suite["runs"]["dask"][name]
    if b.get("status") != "ok":
        return f"failed: {b.get('error')}"
    diffs = differences(a["metrics"], b["metrics"]) + differences(a["data"], b["data"], "data")
    return f"differs: {'; '.join(diffs[:8])}" if diffs else "ok"


def test_in_process_suite_runs(suite):
    bad = {n: r.get("error") for n, r in suite["runs"]["local"].items() if r.get("status") != "ok"}
    assert bad == {}, bad
    drop = suite["runs"]["local"]["03_dropoff"]["metrics"]
    assert drop["n_customers"] == N_CUSTOMERS and 0 < drop["funnel_conversion"] < 1


def test_report_side_memory(suite):
    """The Dask run's report side (the runner and each kernel) ran under RLIMIT_DATA; its peak RSS is shown."""
    peak = suite["peak"]
    print({m: {k: v for k, v in p.items()} for m, p in peak.items()})
    assert peak["dask"].get("rc") in (0, 1), suite["logs"]["dask"][1][-2000:]
    assert peak["dask"]["kernel_kb"] * 1024 < DATA_LIMIT


def test_one_shuffle_per_run_and_nothing_left(suite):
    assert suite["peak"]["dask"].get("rc") is not None, suite["logs"]["dask"][1][-2000:]
    done = suite["tasks"]
    # the workers read each file once (one validation, one shuffle per run) ...
    assert done.get("read_piece") == suite["files"], done  # (key_split drops the leading underscore)
    # ... and every notebook opened the saved log (one task per saved partition), none read the files again
    assert done.get("open_part", 0) >= len(NOTEBOOKS) * 2 and done["open_part"] % len(NOTEBOOKS) == 0, done
    # the saved log lived in the scratch folder for the run only
    assert list(Path(suite["scratch"]).iterdir()) == []


def test_report_side_never_saw_the_events(suite):
    """The Dask run's runner and kernels ran where the events folder is an empty tmpfs (a mount namespace):
    they could not have loaded the log, yet every report succeeded (see the tests below)."""
    if not suite["hidden"]:
        pytest.skip("no mount namespace here (needs root and unshare): only the RLIMIT_DATA cap applied")
    assert suite["peak"]["dask"]["rc"] in (0, 1), suite["logs"]["dask"][1][-3000:]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_dask_notebook_equals_in_process(suite, name):
    outcome = _outcome(suite, name)
    seconds = {m: suite["runs"][m][name].get("seconds") for m in ("local", "dask")}
    print(f"{name}: {outcome} (seconds {seconds})")
    if outcome != "ok" and name in NOT_YET:
        pytest.xfail(f"{NOT_YET[name]} — {outcome[:300]}")
    assert outcome == "ok"
