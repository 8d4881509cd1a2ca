"""Two report runs into one folder (one ``--out``, or one export folder ``output_dir`` under two ``--out``)
never damage each other: the second stops at once with one line (exit 2) while the first finishes whole;
runs into other folders go on side by side; a run killed mid-commit is finished by the next one, which
touches nothing else.

The runs are real ``python -m cjlib report`` processes (through a small driver that points them at test
notebooks) on the gallery's ``tiny`` log. A notebook waits on a gate file after staging its first export,
so a run is held at a known point while the others start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from cjlib.paths import PROJ_ROOT
from cjlib.report.notebook import STAGED_SUFFIX

DRIVER = '''
import json, os, signal, sys
from pathlib import Path
from cjlib import cli, report
from cjlib.report import runner

real = report.run_reports
report.run_reports = lambda *a, **k: real(*a, notebooks_dir=os.environ["TEST_NOTEBOOKS"], **k)
moves = int(os.environ.get("TEST_KILL_AFTER_MOVES", "-1"))
if moves >= 0:  # SIGKILL in the middle of the report's commit: after the journal and `moves` renames
    def _replay(journal):
        for src, dst in json.loads(Path(journal).read_text())["moves"][:moves]:
            os.replace(src, dst)
        os.kill(os.getpid(), signal.SIGKILL)
    runner._replay = _replay
sys.exit(cli.main(sys.argv[1:]))
'''


def _notebooks(folder: Path) -> Path:
    """00_gated: exports a.csv, waits for the file ``gate`` (when given), exports b.csv, records ``version``;
    01_plain: records a number, exports nothing (no ``output_dir``)."""
    folder.mkdir(parents=True, exist_ok=True)
    params = nbformat.v4.new_code_cell('events_path: str = "data/sample/events.parquet"  # events\n'
                                       'output_dir: str = "reports"  # exports\n'
                                       'version: str = "new"  # what the exports hold\n'
                                       'gate: str = ""  # wait for this file between the two exports')
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Gated"),
                nbformat.v4.new_code_cell("import os, time\nimport pandas as pd\nfrom cjlib import report"), params,
                nbformat.v4.new_code_cell(
                    "report.export_csv(pd.DataFrame({'v': [version]}), output_dir, 'a.csv', index=False)\n"
                    "t0 = time.monotonic()\n"
                    "while gate and not os.path.exists(gate) and time.monotonic() - t0 < 120:\n"
                    "    time.sleep(0.05)\n"
                    "report.export_csv(pd.DataFrame({'v': [version]}), output_dir, 'b.csv', index=False)\n"
                    "report.record('version', version)")]
    nbformat.write(nb, folder / "00_gated.ipynb")
    plain = nbformat.v4.new_code_cell('events_path: str = "data/sample/events.parquet"  # events')
    plain.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Plain"), nbformat.v4.new_code_cell("from cjlib import report"),
                plain, nbformat.v4.new_code_cell("report.record('rows', 1)")]
    nbformat.write(nb, folder / "01_plain.ipynb")
    return folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from gallery import write_case

    root = tmp_path_factory.mktemp("concurrent")
    case = write_case("tiny", root / "data")
    (root / "drive.py").write_text(DRIVER)
    return root, case.folder / "events.csv", _notebooks(root / "nb")


def _start(setup, out: Path, *, version: str = "", export_dir: Path | None = None, gate: Path | None = None,
           kill_after_moves: int | None = None, name: str = "00") -> subprocess.Popen:
    root, events, nbdir = setup
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1", "TEST_NOTEBOOKS": str(nbdir)}
    if kill_after_moves is not None:
        env["TEST_KILL_AFTER_MOVES"] = str(kill_after_moves)
    args = ["report", name, "-p", "events_path", str(events), "--out", str(out)]
    args += ["-p", "version", version] if version else []
    args += ["-p", "output_dir", str(export_dir)] if export_dir else []
    args += ["-p", "gate", str(gate)] if gate else []
    return subprocess.Popen([sys.executable, str(root / "drive.py"), *args], cwd=PROJ_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _staged(folder: Path, name: str) -> bool:
    return any(not p.name.endswith(".tmp") for p in folder.glob(f".{name}.*{STAGED_SUFFIX}"))


def _wait(pred, procs, timeout: float = 90) -> None:
    t0 = time.monotonic()
    while not pred():
        for p in procs:
            assert p.poll() is None, f"a run ended before its point: {p.communicate()}"
        assert time.monotonic() - t0 < timeout, "point not reached"
        time.sleep(0.05)


def _report(out: Path, exports: Path) -> dict:
    """What the report 00_gated on disk says and holds: its version, its exports' content, its HTML whole."""
    m = json.loads((out / "00_gated.metrics.json").read_text())
    assert (out / "00_gated.html").read_text().rstrip().endswith("</html>")
    nbformat.read(out / "00_gated.ipynb", as_version=4)
    listed = sorted(os.path.normpath(out / e) for e in m["exports"])
    assert listed == [str(exports / "a.csv"), str(exports / "b.csv")], listed
    return {"version": m["metrics"]["version"],
            **{f: pd.read_csv(exports / f)["v"].tolist() for f in ("a.csv", "b.csv")}}


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != ".cjlib.lock")


def _stop(procs) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_a_second_run_into_a_busy_folder_stops_at_once_and_runs_elsewhere_go_on(setup, tmp_path):
    """Run A (--out a) and run B (--out b, exports in x) are held after staging their first export. Then:
    C into A's --out and D (--out d) exporting into B's x stop at once with one line, exit 2, before A and B
    move on; E into other folders runs side by side to the end. A and B finish whole with their own files."""
    gate = tmp_path / "gate"
    a, b, x, d, e = (tmp_path / n for n in ("a", "b", "x", "d", "e"))
    first = {"A": _start(setup, a, version="A", gate=gate), "B": _start(setup, b, version="B", export_dir=x, gate=gate)}
    procs = list(first.values())
    try:
        _wait(lambda: _staged(a, "a.csv") and _staged(x, "a.csv"), procs)
        second = {"C": _start(setup, a, version="C"), "D": _start(setup, d, version="D", export_dir=x),
                  "E": _start(setup, e, version="E")}
        procs += second.values()
        done = {k: p.communicate(timeout=90) + (p.returncode,) for k, p in second.items()}
        assert all(p.poll() is None for p in first.values())  # A and B still held at their gate
        assert _staged(a, "a.csv") and _staged(x, "a.csv")  # their staged exports untouched
        gate.write_text("")
        done |= {k: p.communicate(timeout=90) + (p.returncode,) for k, p in first.items()}
    finally:
        _stop(procs)
    for k, busy in (("C", a), ("D", x)):
        _, err, code = done[k]
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1, (k, err)
        assert lines[0].startswith(f"error: another report run is writing to {busy} (pid "), lines
    for k in ("A", "B", "E"):
        assert done[k][2] == 0, (k, done[k][1])
    assert _report(a, a) == {"version": "A", "a.csv": ["A"], "b.csv": ["A"]}
    assert _report(b, x) == {"version": "B", "a.csv": ["B"], "b.csv": ["B"]}
    assert _report(e, e) == {"version": "E", "a.csv": ["E"], "b.csv": ["E"]}
    assert not d.exists() or _hidden(d) == [] and not list(d.glob("00_gated*"))  # D wrote no report
    for folder in (a, b, x, e):
        assert _hidden(folder) == [], (folder, _hidden(folder))


@pytest.mark.parametrize("moves", [3])  # 1 rename (only the HTML new) ran too; kept out for make test's time
def test_a_run_killed_mid_commit_is_finished_by_the_next_run_and_nothing_else_is_touched(setup, tmp_path,
                                                                                          moves):
    """SIGKILL after the journal and ``moves`` of the commit's renames (1: only the HTML is new; 3: the HTML,
    the notebook and a.csv): the disk holds a mix until the next run into the folder (of another report),
    which finishes the commit — the report and its exports in x all new — and leaves a user's own hidden
    files alone."""
    out, x = tmp_path / "out", tmp_path / "x"
    p = _start(setup, out, version="old", export_dir=x)
    _, err = p.communicate(timeout=90)
    assert p.returncode == 0, err
    for folder in (out, x):
        (folder / ".keep").write_text("mine")
    p = _start(setup, out, version="new", export_dir=x, kill_after_moves=moves)
    p.communicate(timeout=90)
    assert p.returncode == -signal.SIGKILL
    assert (out / ".00_gated.commit.json").exists()
    assert _report(out, x)["a.csv"] == (["new"] if moves >= 3 else ["old"])  # half committed
    assert json.loads((out / "00_gated.metrics.json").read_text())["metrics"]["version"] == "old"

    p = _start(setup, out, name="01")  # another report, exporting nowhere: its recovery alone touches x
    _, err = p.communicate(timeout=90)
    assert p.returncode == 0, err
    assert _report(out, x) == {"version": "new", "a.csv": ["new"], "b.csv": ["new"]}
    history = sorted((out / "history" / "00_gated").iterdir())
    assert [json.loads(h.read_text())["metrics"]["version"] for h in history] == ["old", "new"]
    for folder in (out, x):
        assert _hidden(folder) == [".keep"] and (folder / ".keep").read_text() == "mine"


def test_folder_locks_by_hand(tmp_path):
    """A lock per folder, whatever the path to it; ``create=False`` writes nothing; a held folder stops a
    second holder with the first's pid; released, it is free."""
    from cjlib.report.runner import LOCK_NAME, RunLockedError, _FolderLocks

    out, link = tmp_path / "out", tmp_path / "link"
    out.mkdir()
    link.symlink_to(out)
    first, second = _FolderLocks(), _FolderLocks()
    assert not first.take(out, "hint", create=False) and list(out.iterdir()) == []
    assert not first.take(tmp_path / "missing", "hint")
    assert first.take(out, "hint") and first.take(link, "hint")  # one folder, two paths: held once
    assert (out / LOCK_NAME).read_text().startswith(f"pid {os.getpid()} since ")
    with pytest.raises(RunLockedError, match=rf"^another report run is writing to {link} \(pid {os.getpid()} "
                                             r"since [^)]+\); hint$"):
        second.take(link, "hint", create=False)
    first.release()
    assert second.take(link, "hint", create=False)
    second.release()


def test_a_killed_runs_commit_into_a_busy_export_folder_waits_for_it(setup, tmp_path):
    """The next run into ``out`` finds a killed run's journal moving an export into x, which a live run
    holds: it stops with one line and touches nothing (journal, staged files, x as they were); once x is
    free, the next run finishes the commit."""
    import fcntl

    from cjlib.report import RunLockedError, _atomic_write, run_reports
    from cjlib.report.runner import LOCK_NAME

    _, events, nbdir = setup
    out, x = tmp_path / "out", tmp_path / "x"
    staging = out / ".00_gated.staging.k"
    staging.mkdir(parents=True)
    x.mkdir()
    (out / "00_gated.html").write_text("old")
    (staging / "00_gated.html").write_text("new")
    (x / "a.csv").write_text("old")
    staged = x / f".a.csv.00_gated.staging.k{STAGED_SUFFIX}"
    staged.write_text("new")
    moves = [(staging / "00_gated.html", out / "00_gated.html"), (staged, x / "a.csv")]
    journal = out / ".00_gated.commit.json"
    _atomic_write(journal, json.dumps({"moves": [[str(a), str(b)] for a, b in moves], "removes": []}))
    before = {p: p.read_bytes() for p in (journal, *[a for a, _ in moves], *[b for _, b in moves])}
    with open(x / LOCK_NAME, "a+") as held:  # a live run writing to x
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RunLockedError, match=rf"writing to {x} .*the unfinished commit {journal} of a killed"):
            run_reports(["01"], {"events_path": str(events)}, out_dir=out, notebooks_dir=nbdir, progress=None)
    assert {p: p.read_bytes() for p in before} == before and staging.is_dir()
    assert [r.status for r in run_reports(["01"], {"events_path": str(events)}, out_dir=out, notebooks_dir=nbdir,
                                          progress=None)] == ["ok"]
    assert (out / "00_gated.html").read_text() == "new" and (x / "a.csv").read_text() == "new"
    assert not journal.exists() and not staging.exists() and _hidden(x) == []


@pytest.mark.parametrize("busy", [False, True])
def test_exports_left_in_a_folder_a_live_run_holds_are_not_deleted(setup, tmp_path, busy):
    """A report whose exports move from x to y drops its old ones in x with its commit — unless a live run
    holds x by then (they may be that run's files now): those stay."""
    import fcntl

    from cjlib.report import run_reports
    from cjlib.report.runner import LOCK_NAME

    _, events, nbdir = setup
    out, x, y = tmp_path / "out", tmp_path / "x", tmp_path / "y"

    def run(folder, version):
        res = run_reports(["00"], {"events_path": str(events), "output_dir": str(folder), "version": version},
                          out_dir=out, notebooks_dir=nbdir, progress=None)
        assert [r.status for r in res] == ["ok"], res

    run(x, "old")
    with open(x / LOCK_NAME, "a+") as held:
        if busy:  # a live run writing to x
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        run(y, "new")
    assert _report(out, y) == {"version": "new", "a.csv": ["new"], "b.csv": ["new"]}
    assert sorted(p.name for p in x.iterdir() if p.name != LOCK_NAME) == (["a.csv", "b.csv"] if busy else [])
