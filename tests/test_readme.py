"""The README's examples run as written: params files, commands, the Python snippet and plain papermill.

The examples are read from README.md itself and run in a temporary folder holding small files with
exactly the README's file and column names (a synthetic log renamed), so an example that stops working
fails here. One report runs through ``python -m cjlib report`` and one notebook twice through papermill;
every other command is checked in process (parameters validated, inputs loaded).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cjlib.paths import DATA_DIR, NOTEBOOKS_DIR, PROJ_ROOT

README = (PROJ_ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent
N_MINE, N_SAMPLE = 300, 200  # customers in the user's files and in the stand-in for data/sample


def section(title: str) -> str:
    """The text of the README section whose heading starts with ``title``."""
    m = re.search(rf"^## {re.escape(title)}.*?$(.*?)(?=^## |\Z)", README, flags=re.M | re.S)
    assert m, f"README has no section {title!r}"
    return m.group(1)


def blocks(text: str, lang: str) -> list[str]:
    """The fenced code blocks of one language in ``text``."""
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.M | re.S)


def commands(block: str) -> list[str]:
    """The command lines of a bash block, comments stripped."""
    return [ln.split("  #")[0].strip() for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]


PARAMS = {yaml_text.splitlines()[0].split()[1]: yaml.safe_load(yaml_text)
          for yaml_text in blocks(section("Running on your own data"), "yaml")}


def _table_files(params: dict, mine) -> dict[str, pd.DataFrame]:
    """Each input file a params example names, holding the synthetic tables under the example's names.

    A flat mapping renames every events column it names and ``customer_id`` in the other tables (as the
    README says: ``users.csv`` has ``user_pseudo_id``, the spend file keeps the contract's names); a
    per-table mapping renames each table by its part.
    """
    cols = params["columns"]
    per_table = all(isinstance(v, dict) for v in cols.values())
    out = {}
    for table, key in (("events", "events_path"), ("customers", "customers_path"), ("feedback", "feedback_path"),
                       ("costs", "costs_path")):
        if not params.get(key):
            continue
        if per_table:
            part = cols.get(table, {})
        else:
            part = cols if table == "events" else {k: v for k, v in cols.items() if k == "customer_id"}
        df = getattr(mine, table)
        part = {k: v for k, v in part.items() if k in df.columns or table == "events"}
        assert set(part) <= set(df.columns), (table, part)
        out[params[key]] = df.rename(columns={k: v for k, v in part.items()})
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder laid out as the README assumes: the params files, their inputs, ``my_stage_map.yml``,
    ``data/sample/`` (what ``make data`` writes) and ``notebooks/``."""
    from cjlib.synth import generate

    d = tmp_path_factory.mktemp("readme")
    generate(n_customers=N_SAMPLE, seed=4).write(d / "data" / "sample")
    (d / "notebooks").symlink_to(NOTEBOOKS_DIR, target_is_directory=True)
    mine = generate(n_customers=N_MINE, seed=3)
    assert set(PARAMS) == {"my_data.yaml", "my_data_per_table.yaml"}
    for name, params in PARAMS.items():
        (d / name).write_text(yaml.safe_dump(params, sort_keys=False))
        for rel, df in _table_files(params, mine).items():
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            df.to_parquet(d / rel) if rel.endswith(".parquet") else df.to_csv(d / rel, index=False)
        shutil.copy(DATA_DIR / "stage_map.yml", d / params["stage_map_path"])
    return d


@pytest.fixture
def dry_run(monkeypatch):
    """``run_reports`` replaced by its checks: parameters validated for the chosen notebooks, inputs loaded."""
    from cjlib import report

    calls = []

    def run(names, params, **kw):
        chosen = [p for p in report.list_notebooks()
                  if not names or any(n in (p.stem, p.stem.split("_")[0]) for n in names)]
        per_nb = report.validate_parameters(chosen, params)
        summary = report._data_summary(report.effective_parameters(chosen[0], per_nb[chosen[0].stem]))
        calls.append({"names": [p.stem for p in chosen], "params": params, "data": summary})
        return []

    monkeypatch.setattr(report, "run_reports", run)
    return calls


def _cli(line: str) -> list[str]:
    args = shlex.split(line)
    assert args[:3] == [".venv/bin/python", "-m", "cjlib"], line
    return args[3:]


def test_params_examples_load_every_table(workdir, monkeypatch):
    """Both params files of "Running on your own data" load: ids match across tables, costs keep channels."""
    import cjlib

    monkeypatch.chdir(workdir)
    for name, params in PARAMS.items():
        data = cjlib.load_inputs(**params)
        assert data.events["customer_id"].nunique() == N_MINE, name
        assert data.events["customer_id"].isin(data.customers["customer_id"]).all(), name
        assert {"channel", "event", "timestamp"} <= set(data.events.columns)
        assert data.costs["spend"].sum() > 0 and set(data.costs["channel"]) <= set(data.events["channel"])
        assert data.events["timestamp"].min() >= pd.Timestamp(params.get("start_date", "1970-01-01"))


def test_bash_commands_of_running_on_your_own_data(workdir, monkeypatch, dry_run):
    from cjlib import cli

    monkeypatch.chdir(workdir)
    lines = [ln for b in blocks(section("Running on your own data"), "bash") for ln in commands(b)]
    assert len(lines) == 2
    for line in lines:
        assert cli.main(_cli(line)) == 0, line
    everything, dropoff = dry_run
    assert everything["names"] == [p.stem for p in sorted(NOTEBOOKS_DIR.glob("0*_*.ipynb"))]
    assert dropoff["names"] == ["03_dropoff"] and dropoff["params"]["window"] == "7D"
    for call in dry_run:
        assert call["params"]["events_path"] == str(workdir / "exports" / "ga4_events.parquet")
        assert call["data"]["customers"] == N_MINE and call["data"]["has_customers"] and call["data"]["has_costs"]
    # the per-table example and the -p forms the README names
    assert cli.main(["report", "03", "-f", "my_data_per_table.yaml"]) == 0
    assert dry_run[-1]["data"]["customers"] == N_MINE and dry_run[-1]["data"]["has_channel"]
    texts = re.findall(r"`-p columns ([^`]+)`", section("Running on your own data"))
    assert texts[0] == "'{events: {event: event_name}}'"
    line = "report 03 -f my_data.yaml -p columns " + texts[0]
    assert cli.main(shlex.split(line)) == 2  # it replaces the whole mapping: customer_id is not mapped any more


def test_python_snippet_of_jupyterlab(workdir, monkeypatch):
    """The snippet reads ``data/sample/`` from the folder it runs in (here the stand-in sample), and the
    fitted Funnel answers on the same units as the one-call funnel."""
    (code,) = blocks(section("In JupyterLab"), "python")
    monkeypatch.chdir(workdir)
    scope: dict = {}
    exec(compile(code, "README", "exec"), scope)
    assert scope["data"].events["customer_id"].nunique() == N_SAMPLE
    result = scope["by_device"]
    assert isinstance(result, pd.DataFrame) and len(result) > 0
    devices = set(pd.read_parquet(workdir / "data" / "sample" / "events.parquet")["device"])
    assert set(result["device"]) == devices and len(result) == 4 * len(devices)  # one row per device and step
    entered = result.groupby("device")["reached"].first()
    assert 0 < entered.sum() <= N_SAMPLE
    # compare: per device and transition, the units at a step and those that went on are the funnel's
    cmp = scope["devices"].assign(to_step=lambda d: d["to_step"].astype(str))
    reached = result.set_index(["device", "step"])["reached"]
    for r in cmp.itertuples():
        assert (r.units, r.converted) == (reached[(r.device, r.from_step)], reached[(r.device, r.to_step)])
    assert int(scope["monthly"]["units"].sum()) == int(entered.sum())  # every entered unit in one cohort
    at_cart = scope["fn"].table().set_index("step")["reached"]["add_to_cart"]
    assert int(scope["after"]["units"].sum()) == at_cart  # every unit at the anchor is on one path
    kept, plain = scope["strict"].table()["reached"].to_numpy(), scope["fn"].table()["reached"].to_numpy()
    assert kept[0] == plain[0] and (kept <= plain).all() and kept[-1] < plain[-1]  # errors stop some buyers


def test_report_runs_from_my_data_yaml(workdir):
    """The README's first command, with one report named to keep it short, exits 0 on the user's files."""
    line = commands(blocks(section("Running on your own data"), "bash")[0])[0]
    args = _cli(line)
    assert args[0] == "report"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    res = subprocess.run([sys.executable, "-m", "cjlib", "report", "00", *args[1:]], cwd=workdir, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    m = json.loads((workdir / "reports" / "mine" / "00_journey_map.metrics.json").read_text())
    assert m["status"] == "ok" and m["data"]["customers"] == N_MINE
    assert m["metrics"]["n_customers"] == N_MINE


def test_plain_papermill_example(workdir):
    """The scheduling section's papermill block, run as written where ``make data`` has run (the fixture
    wrote ``data/sample/``): defaults read the sample; ``-f my_data.yaml`` reads the user's files."""
    (block,) = [b for b in blocks(section("Scheduling"), "bash") if "papermill" in b]
    lines = commands(block)
    assert lines[0] == "make data"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    printed = {}
    for line in lines[1:]:
        args = shlex.split(line)
        exe = {"papermill": str(BIN / "papermill"), "python": sys.executable}[args[0]]
        extra = ["--no-progress-bar"] if args[0] == "papermill" else []
        res = subprocess.run([exe, *args[1:], *extra], cwd=workdir, env=env, capture_output=True, text=True,
                             timeout=300)
        assert res.returncode == 0, (line, res.stderr[-2000:])
        printed[args[0]] = res.stdout
    from cjlib.report import read_metrics

    assert read_metrics(workdir / "out.ipynb")["n_customers"] == N_SAMPLE
    assert f"'n_customers': {N_SAMPLE}," in printed["python"]  # read_metrics printed the recorded numbers
    assert read_metrics(workdir / "mine.ipynb")["n_customers"] == N_MINE


def test_dask_worker_configuration_line_unsets_the_trim_threshold(monkeypatch):
    """The Dask section's YAML is what the nannies apply: MALLOC_TRIM_THRESHOLD_ leaves the workers' environment
    (glibc's adaptive thresholds), the other pre-spawn variables stay; the DASK_ environment form it warns about
    is lower-cased by Dask and leaves Dask's 65536 in place."""
    dask = pytest.importorskip("dask")
    nanny = pytest.importorskip("distributed.nanny")
    text = section("Running on a Dask cluster")
    (block,) = blocks(text, "yaml")
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)  # an OS variable would override the config
    key = "distributed.nanny.pre-spawn-environ"
    default = nanny._get_env_variables(key)
    assert default["MALLOC_TRIM_THRESHOLD_"] == "65536"
    with dask.config.set(dask.config.merge(dask.config.config, yaml.safe_load(block))):  # as a YAML file merges
        env = nanny._get_env_variables(key)
    assert "MALLOC_TRIM_THRESHOLD_" not in env
    assert {k: v for k, v in default.items() if k != "MALLOC_TRIM_THRESHOLD_"} == env
    assert 'dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})' in text
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        assert nanny._get_env_variables(key) == env
    name = "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__MALLOC_TRIM_THRESHOLD_"
    assert name in text
    with dask.config.set(dask.config.merge(dask.config.config, dask.config.collect_env({name: "None"}))):
        assert nanny._get_env_variables(key)["MALLOC_TRIM_THRESHOLD_"] == "65536"
