"""The runner behind ``python -m cjlib report`` (:func:`run_reports`).

It validates the parameters against the notebooks' ``parameters`` cells and loads the inputs once (bad
input stops the run before any report is touched), then for each notebook (:func:`_run_one`): papermill
executes it in a staging folder, nbconvert renders HTML, and ``<name>.html``, ``<name>.ipynb``,
``<name>.metrics.json`` and the report's CSV exports are moved into place together through a journal
(:func:`_commit`; a run killed mid-way is finished by the next one, :func:`_recover`) — a failed notebook
never replaces the last good report. The same commit adds a copy of the new metrics.json to the report's
append-only history (``history/<name>/``, :mod:`cjlib.report.history`), from which the index shows each
headline's change since the previous run. One run at a time writes to a folder: a run locks its output
folder and its export folders (:class:`_FolderLocks`) and a second run into any of them stops at once, so
the recovery of a killed run's leftovers never touches a live run's files.

With ``dask_address`` the runner never holds the events: the workers read, validate and shuffle the log
once (:func:`cjlib.engine.load.read_log`), it is saved as a Parquet folder for the run
(:func:`_save_shared_log`, ``CJLIB_DASK_SCRATCH`` or the output folder) and every notebook opens it
(``CJLIB_SHUFFLED_LOG``) instead of reading and shuffling again; the folder goes at the end of the run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cjlib._version import __version__
from cjlib.parameters import ParameterError
from cjlib.paths import NOTEBOOKS_DIR, resolve
from cjlib.reading import _is_glob, _local_path
from cjlib.report.history import DEFAULT_THRESHOLD, HISTORY_DIR, stage_entries
from cjlib.report.index import write_index
from cjlib.report.notebook import (
    EXPORTS_MANIFEST,
    STAGED_SUFFIX,
    STAGING_ENV,
    _atomic_write,
    _umask,
    read_metrics,
    to_jsonable,
)
from cjlib.report.params import (
    _scrub,
    _shown_parameters,
    effective_parameters,
    list_notebooks,
    notebook_parameters,
    validate_parameters,
)
from cjlib.report.render import _description, _title, _warm_up_renderer, render_html

DATA_PARAMS = ("events_path", "customers_path", "feedback_path", "costs_path", "stage_map_path", "channel_rules_path")


def fingerprint(paths: Iterable[str | Path]) -> str:
    """SHA-256 over the content of the given files (folders: every file in them, sorted; a glob: the files it
    matches).

    Parameters
    ----------
    paths : iterable of str or Path
        Files or folders (relative: :func:`cjlib.paths.resolve`); ``""`` entries are skipped.

    Returns
    -------
    str
        The first 16 hex digits: the same files give the same fingerprint.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = f.write_text("x")
    >>> fingerprint([f, ""]) == fingerprint([f]) and len(fingerprint([f])) == 16
    True
    """
    h = hashlib.sha256()
    for p in paths:
        if not p:
            continue
        if "://" in str(p):  # an fsspec URL (s3://…, file://…): its files read through fsspec
            _hash_url(h, str(p))
            continue
        if _is_glob(str(p)) and not resolve(p).exists():  # a glob (exports/*.csv): the files it matches
            files = [Path(f) for f in sorted(glob.glob(_local_path(str(p))))]
        else:
            p = resolve(p)
            files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            h.update(str(f.name).encode())
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]


def _hash_url(h, url: str) -> None:
    """:func:`fingerprint` of an fsspec URL: a file, a folder (every file in it, sorted) or a glob."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    files = sorted(fs.glob(root)) if _is_glob(root) else sorted(fs.find(root)) if fs.isdir(root) else [root]
    for f in files:
        h.update(f.rsplit("/", 1)[-1].encode())
        with fs.open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)


@dataclass(frozen=True)
class ReportResult:
    """What happened to one notebook in a run.

    Parameters
    ----------
    name : str
        The notebook's name (``"03_dropoff"``).
    status : {"ok", "failed"}
    seconds : float
        Run time.
    error : str, default ""
        The one-line error of a failed notebook.
    metrics : dict
        What the notebook recorded.
    """

    name: str
    status: str  # "ok" or "failed"
    seconds: float
    error: str = ""
    metrics: dict = field(default_factory=dict)


def _data_summary(params: Mapping[str, Any]) -> dict:
    """Load every input once (validating it) and describe it: fingerprint, range, counts."""
    return _load_data(params)[0]


def _load_data(params: Mapping[str, Any], checks: Iterable[Mapping[str, Any]] = ()):
    """Load every input once (validating it): its summary (fingerprint, range, counts), the stage map and
    the inputs.

    ``checks`` are the effective parameters of the chosen notebooks: the rules that need the data (a given
    churn window must fit the log, see :func:`cjlib.churn.plan_window`) are checked here, while it is loaded,
    so a bad one stops the run before anything is written. With ``dask_address`` the workers read, validate
    and shuffle the events (:func:`cjlib.engine.load.read_log`): this process holds only their counts."""
    import warnings

    from cjlib.io import load_inputs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = load_inputs(**{k: params.get(k, "") for k in
                                ("events_path", "customers_path", "feedback_path", "costs_path",
                                 "columns", "stage_map_path", "start_date", "end_date", "events_format")},
                             channel_rules=params.get("channel_rules_path") or None,
                             dask_address=_dask_address(params))
    for p in checks:
        _check_churn_window(inputs, p)
    summary = inputs.summary()
    paths = [params.get(k, "") for k in DATA_PARAMS]
    from cjlib.engine.core import Partitioned

    if isinstance(inputs.events, Partitioned):  # a worker reads the files: this process may not see them
        summary["fingerprint"] = inputs.events.client.submit(fingerprint, [_local_path(str(p)) if p else "" for p in paths],
                                                             pure=False).result()
    else:
        summary["fingerprint"] = fingerprint(paths)
    return summary, inputs.stage_map, inputs


def _dask_address(params: Mapping[str, Any]) -> str:
    from cjlib import engine

    return engine.run_on(params.get("dask_address") or "").get("address", "")


SCRATCH_ENV = "CJLIB_DASK_SCRATCH"  # where a Dask run saves its shuffled log (default: the output folder)


def _save_shared_log(inputs, out: Path) -> tuple[str | None, str | None]:
    """In a Dask run, the shuffled log saved once as a Parquet folder (one file per partition) in a run-scoped
    place every worker can write and read — ``$CJLIB_DASK_SCRATCH`` (shared storage, e.g. ``s3://…``) or the
    output folder — and named to the notebooks' kernels by ``CJLIB_SHUFFLED_LOG``: (folder, the variable's
    previous value); ``(None, None)`` in process."""
    from cjlib.engine.core import Partitioned

    if not isinstance(inputs.events, Partitioned):
        return None, None
    import uuid

    from cjlib.engine.load import SHUFFLED_ENV, save_log

    base = os.environ.get(SCRATCH_ENV) or str(out)
    folder = f"{base.rstrip('/')}/.shuffled.staging.{uuid.uuid4().hex[:12]}"
    previous = os.environ.get(SHUFFLED_ENV)
    try:
        save_log(inputs.events, inputs.log, folder)
    except BaseException:
        _drop_shared_log(folder, previous)
        raise
    os.environ[SHUFFLED_ENV] = folder  # the kernels inherit it: report.load opens this log
    return folder, previous


def _drop_shared_log(folder: str | None, previous: str | None) -> None:
    """Remove a run's saved log and restore ``CJLIB_SHUFFLED_LOG``."""
    if folder is None:
        return
    import fsspec

    from cjlib.engine.load import SHUFFLED_ENV

    if previous is None:
        os.environ.pop(SHUFFLED_ENV, None)
    else:
        os.environ[SHUFFLED_ENV] = previous
    fs, root = fsspec.core.url_to_fs(folder)
    with contextlib.suppress(OSError):
        fs.rm(root, recursive=True)


def _check_churn_window(inputs, params: Mapping[str, Any]) -> None:
    """A given ``churn_window_days`` (or ``cutoff``) that does not fit the log: the one-line DataError of
    :func:`cjlib.churn.plan_window`, naming the longest window that fits."""
    window, cutoff = params.get("churn_window_days"), params.get("cutoff")
    if "churn_window_days" not in params or not (window or cutoff):
        return  # no churn notebook, or the window is fitted to the data (the notebook says why if none fits)
    from cjlib.churn import plan_window

    activity = [e.strip() for e in str(params.get("activity_events") or "").split(",") if e.strip()] or None
    from cjlib.engine.core import Partitioned

    if isinstance(inputs.events, Partitioned):
        try:
            plan_window(inputs.events, window or None, cutoff=cutoff or None, activity_events=activity)
        except (TypeError, AttributeError, NotImplementedError):
            return  # plan_window does not read a Partitioned log yet: the notebook checks the window
        return
    plan_window(inputs.events, window or None, cutoff=cutoff or None, activity_events=activity)


def _check_writable(folder: Path, what: str) -> None:
    """Raise :class:`ParameterError` (nothing written) unless ``folder`` is or can be made a writable folder."""
    if folder.exists() and not folder.is_dir():
        raise ParameterError(f"{what} {folder}: is a file, not a folder")
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ParameterError(f"{what} {folder}: cannot be created, {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ParameterError(f"{what} {folder}: " + ("not writable" if probe == folder else
                                                     f"cannot be created, {probe} is not writable"))


# ------------------------------------------------------------------------------------- the transaction
LOCK_NAME = ".cjlib.lock"


class RunLockedError(ParameterError):
    """Another live run holds the lock on a folder this run writes to."""


class _FolderLocks:
    """Exclusive locks (``fcntl.flock`` on ``FOLDER/.cjlib.lock``) on every folder a run writes to — its
    ``--out``, each export folder (``output_dir``) and any folder a killed run's journal moves files into —
    held until :meth:`release`.

    A run never waits: a folder another live run holds stops it at once with one line
    (:class:`RunLockedError`, exit 2: no report was run). A lock dies with the process holding it (also on
    SIGKILL; the kernels do not inherit it), so a killed run's folders are free at once and whatever is
    staged in a folder this run holds is a dead run's: :func:`_recover` may clear it all. Folders are told apart by device and inode (a
    second path to a locked folder is that folder). The lock file is never deleted: a deleted lock file
    would let two runs each lock a file of that name.
    """

    def __init__(self) -> None:
        self._held: dict[tuple[int, int], Any] = {}

    def take(self, folder: Path, hint: str, *, create: bool = True) -> bool:
        """Lock ``folder`` (one this run holds already: nothing to do) or raise :class:`RunLockedError`
        ending with ``hint``; ``create=False`` writes nothing: only a folder with a lock file is locked.
        Returns whether the folder is locked now."""
        import fcntl

        try:
            st = folder.stat()
            key = (st.st_dev, st.st_ino)
            if key in self._held:
                return True
            try:
                fd, writable = os.open(folder / LOCK_NAME, os.O_RDWR | (os.O_CREAT if create else 0), 0o666), True
            except PermissionError:  # another user's lock file: reading is enough to lock it
                fd, writable = os.open(folder / LOCK_NAME, os.O_RDONLY), False
        except FileNotFoundError:
            return False
        fh = os.fdopen(fd, "r+" if writable else "r")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = fh.read().strip()
            fh.close()
            raise RunLockedError(f"another report run is writing to {folder} ({who or 'lock held'}); "
                                 f"{hint}") from None
        if writable:  # who holds it, for the message of a run it stops
            fh.truncate()
            fh.write(f"pid {os.getpid()} since {dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()}\n")
            fh.flush()
        self._held[key] = fh
        return True

    def release(self) -> None:
        """Release every lock (closing the file releases it; the file stays)."""
        for fh in self._held.values():
            fh.close()
        self._held.clear()


def _hint(what: str) -> str:
    return f"wait for it to finish or use another {what}"


def _lock_journal_targets(journal: Path, out: Path, locks: _FolderLocks) -> None:
    """Lock the folders outside ``out`` (export folders) a killed run's journal moves files into, so that
    finishing its commit never writes under a live run; a journal that cannot be read is left to
    :func:`_recover`."""
    try:
        targets = {Path(dst).parent for _, dst in json.loads(journal.read_text())["moves"]}
    except (OSError, ValueError, KeyError, TypeError):
        return
    history = out / HISTORY_DIR
    for folder in sorted(targets):
        if folder != out and history not in (folder, *folder.parents):
            locks.take(folder, f"the unfinished commit {journal} of a killed run moves files there: run again "
                               "when it is done")


def _commit(journal: Path, moves: list[tuple[Path, Path]], removes: list[Path]) -> None:
    """Replace a report's files together: write the journal (what moves where, what goes), then move and
    remove, then drop the journal. A run killed in between is finished by :func:`_recover` next time."""
    _atomic_write(journal, json.dumps({"moves": [[str(a), str(b)] for a, b in moves],
                                       "removes": [str(r) for r in removes]}))
    _replay(journal)


def _replay(journal: Path) -> None:
    """Finish the commit a journal describes (moves whose source is gone are done already)."""
    plan = json.loads(journal.read_text())
    for src, dst in plan["moves"]:
        if Path(src).exists():
            Path(dst).parent.mkdir(parents=True, exist_ok=True)  # history/<name>/ on a report's first run
            os.replace(src, dst)
    for r in plan["removes"]:
        Path(r).unlink(missing_ok=True)
    journal.unlink(missing_ok=True)


def _recover(out: Path, export_dirs: Iterable[Path], *, locks: _FolderLocks | None = None) -> None:
    """Clear what a killed run left in ``out`` (called holding the locks on ``out`` and ``export_dirs``, so
    whatever is staged there is a dead run's): finish its journaled commits (with ``locks``, first locking
    the export folders they move files into), then delete its staging folders with their staged exports
    (:func:`_clear_staged`), any other staged export and temporary files."""
    for journal in sorted(out.glob(".*.commit.json")):
        if locks is not None:
            _lock_journal_targets(journal, out, locks)
        try:
            _replay(journal)
        except (OSError, ValueError, KeyError):
            journal.unlink(missing_ok=True)
    for p in out.glob(".*"):
        if p.is_dir() and ".staging." in p.name:
            _clear_staged(p, {out, *export_dirs})
        elif p.is_file() and (p.name.endswith(".tmp") or re.match(r"\.\d\d_.*\.ipynb$", p.name)):
            p.unlink(missing_ok=True)
    for d in {out, *export_dirs}:
        for p in d.glob(f".*{STAGED_SUFFIX}*") if d.is_dir() else []:
            p.unlink(missing_ok=True)


def _clear_staged(staging: Path, dirs: Iterable[Path]) -> None:
    """Remove a staging folder, then every export staged for it: those its manifest lists and any file in
    ``dirs`` (or beside a listed one) named after it.

    The order pairs with :func:`cjlib.report.export_csv`, which lists a file in the folder, writes it, then
    deletes it itself if the folder is gone: a kernel that outlives its run (killed runner, lingering
    kernel) either finds the folder gone before or after writing, or wrote before the search here began.
    """
    import shutil

    listed = _staged_exports(staging, strict=False)
    for _ in range(5):  # a live kernel appending to the manifest can refill the folder while it goes
        shutil.rmtree(staging, ignore_errors=True)
        if not staging.exists():
            break
    for staged, _ in listed:
        staged.unlink(missing_ok=True)
    pattern = f".*.{glob.escape(staging.name.lstrip('.'))}{STAGED_SUFFIX}*"
    for d in {*dirs, *(staged.parent for staged, _ in listed)}:
        for p in d.glob(pattern) if d.is_dir() else []:
            p.unlink(missing_ok=True)


def _staged_exports(staging: Path, *, strict: bool = True) -> list[tuple[Path, Path]]:
    """(staged, target) of each export the staging folder's manifest lists (the last line per target);
    ``strict=False`` skips lines a killed kernel left torn and reads a missing folder as empty."""
    manifest = staging / EXPORTS_MANIFEST
    try:
        lines = manifest.read_text().splitlines()
    except FileNotFoundError:
        return []
    rows = []
    for line in lines:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.append((Path(row["staged"]), Path(row["target"])))
        except (ValueError, KeyError, TypeError):
            if strict:
                raise
    return list({str(t): (s, t) for s, t in rows}.values())


def run_reports(
    names: Iterable[str] | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    out_dir: str | Path = "reports",
    keep_code: bool = False,
    notebooks_dir: str | Path = NOTEBOOKS_DIR,
    progress: Callable[[str], None] | None = print,
    path_bases: Iterable[str | Path] = (),
    delta_threshold: float = DEFAULT_THRESHOLD,
) -> list[ReportResult]:
    """Run notebooks into HTML reports (the engine of ``python -m cjlib report``).

    Parameters
    ----------
    names : list of str, optional
        Notebook names (``"00_journey_map"`` or ``"00"``); default every ``NN_*.ipynb`` in order.
    params : mapping, optional
        Parameter values; each goes to every selected notebook declaring it. Relative paths are resolved
        by :func:`cjlib.paths.resolve` in the notebooks' folder, so in effect from the project root (the
        CLI makes paths given on its command line or in a params file absolute first).
    out_dir : str or Path, default "reports"
        Where reports go; also the default ``output_dir`` parameter.
    keep_code : bool, default False
        Show code cells in the HTML.
    notebooks_dir : str or Path, default the project's ``notebooks/``
        Where the ``NN_name.ipynb`` notebooks are.
    progress : callable, default print
        Called with one line per finished report (name, status, seconds, error); None is silent.
    path_bases : folders, optional
        Paths in metrics.json and the index are shown relative to the first of these that holds them
        (the CLI gives the params file's folder and the current folder), else to the project root, else
        as their name: never as the machine's absolute path.
    delta_threshold : float, default 0.10
        On the index, a headline metric without an interval whose relative change since the report's
        previous run is beyond this (0.10: 10 %) is flagged; one with an interval is flagged when it leaves
        it (:func:`cjlib.report.history.delta`). 0 flags every change.

    Returns
    -------
    list of ReportResult

    Raises
    ------
    ParameterError, DataError
        Before any notebook runs and before any file is written (a bad or out-of-range parameter or
        ``delta_threshold``, an output folder that is a file or not writable). :class:`RunLockedError` (a
        ParameterError) when another live run writes to ``out_dir`` or to an export folder (``output_dir``):
        nothing is run and nothing written but the folders and their ``.cjlib.lock`` files.

    Notes
    -----
    Each report is a transaction: its kernel writes its CSV exports staged (see :func:`export_csv`), and
    only a notebook that succeeds has its HTML, notebook, metrics.json and exports moved into place,
    through a journal that the next run finishes if this one is killed mid-way. A failed or interrupted
    report keeps its last good files. The commit of a report that succeeds also adds its metrics.json to
    ``out_dir/history/<name>/`` (append-only: an entry is never rewritten or deleted; a failed report adds
    none). ``index.html`` is rewritten at the end, also after an interrupt, with each headline metric's
    change since the report's previous run.

    Two runs never write to one folder at once: a run holds a lock on ``out_dir`` and on each export folder
    from before it loads the data (folders run into before) or from when it creates them, to its end, and a
    second run into any of them stops at once rather than wait. Only then does it clear what a killed run
    left there (finishing the killed run's journaled commit first, locking the folders that commit writes
    to), so it never touches a live run's staged files.
    """
    out = resolve(out_dir)
    if (isinstance(delta_threshold, bool) or not isinstance(delta_threshold, (int, float))
            or not 0 <= delta_threshold < float("inf")):
        raise ParameterError(f"delta_threshold {delta_threshold!r}: must be a number >= 0 (a relative change, "
                             "0.1 = 10 %)")
    available = list_notebooks(resolve(notebooks_dir))
    if names:
        chosen = []
        for n in names:
            match = [p for p in available if p.stem == n or p.stem.split("_")[0] == n]
            if not match:
                raise ParameterError(f"unknown report '{n}' (reports: {', '.join(p.stem for p in available)})")
            chosen += [m for m in match if m not in chosen]
    else:
        chosen = available
    params = dict(params or {})
    per_nb = validate_parameters(chosen, params)
    for nb in chosen:
        if "output_dir" in notebook_parameters(nb) and "output_dir" not in per_nb[nb.stem]:
            per_nb[nb.stem]["output_dir"] = str(out)
    _check_writable(out, "--out")
    export_dirs = {resolve(p["output_dir"]) for p in per_nb.values() if p.get("output_dir")}
    for d in sorted(export_dirs - {out}):
        _check_writable(d, "parameter 'output_dir':")
    folders = {out: "--out", **{d: "output_dir" for d in sorted(export_dirs - {out})}}
    locks = _FolderLocks()
    try:
        for d, what in folders.items():  # a folder run into before: a second run stops before loading the data
            locks.take(d, _hint(what), create=False)
        # load and validate the data once, before anything is written
        first = effective_parameters(chosen[0], per_nb[chosen[0].stem])
        data, stage_map, inputs = _load_data(first, [effective_parameters(nb, per_nb[nb.stem]) for nb in chosen])
        from cjlib.parameters import check_with_stage_map

        for nb in chosen:
            check_with_stage_map(effective_parameters(nb, per_nb[nb.stem]), stage_map=stage_map)
        bases = [Path(b) for b in path_bases]
        _warm_up_renderer(keep_code)
        for d, what in folders.items():
            d.mkdir(parents=True, exist_ok=True)
            locks.take(d, _hint(what))
        _recover(out, export_dirs, locks=locks)
        shared = _save_shared_log(inputs, out)
        del inputs  # in process the kernels load their own; on Dask they open the saved log
        _release_memory()  # Arrow's pool keeps the freed log (~0.9 GB at 10M events) while the kernels run
        results: list[ReportResult] = []
        try:
            for nb_path in chosen:
                results.append(_run_one(nb_path, per_nb[nb_path.stem], out, keep_code=keep_code, data=data,
                                        bases=bases, locks=locks))
                if progress:
                    r = results[-1]
                    progress(f"{r.name:<24} {r.status:<6} {r.seconds:6.1f} s" + (f"  {r.error}" if r.error else ""))
        finally:  # also on an interrupt: the index shows what is on disk
            _drop_shared_log(*shared)
            write_index(out, [p.stem for p in available], threshold=delta_threshold)
    finally:
        locks.release()
    return results


def _run_one(nb_path: Path, injected: dict, out: Path, *, keep_code: bool, data: dict,
             bases: list[Path], locks: _FolderLocks | None = None) -> ReportResult:
    """Execute one notebook in its staging folder and commit its files, or record its failure."""
    import papermill as pm

    name = nb_path.stem
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    t0 = time.perf_counter()
    staging = Path(tempfile.mkdtemp(dir=out, prefix=f".{name}.staging."))
    tmp_nb = staging / f"{name}.ipynb"
    journal = out / f".{name}.commit.json"
    previous_env = os.environ.get(STAGING_ENV)
    os.environ[STAGING_ENV] = str(staging)  # the kernel inherits it: export_csv stages there
    try:
        # no save after every cell (papermill's default writes the growing notebook twice per cell);
        # papermill still writes it at the end, and before raising on a failed cell
        executed = pm.execute_notebook(str(nb_path), str(tmp_nb), parameters=injected, kernel_name="python3",
                                       cwd=str(nb_path.parent), progress_bar=False, log_output=False,
                                       request_save_on_cell_execute=False,
                                       extra_arguments=["--IPKernelApp.log_level=ERROR"],
                                       shutdown_kernel="immediate")
        title = _title(executed)
        page = render_html(_scrubbed_parameters(executed, bases) if keep_code else executed,
                           keep_code=keep_code, title=title)
        seconds = round(time.perf_counter() - t0, 2)
        metrics = read_metrics(executed)
        exports = _staged_exports(staging)
        old_exports = _previous_exports(out, name)
        doc = {
            "report": name, "title": title, "description": _description(executed), "status": "ok",
            "cjlib_version": __version__, "started": started.isoformat(), "seconds": seconds,
            "parameters": _shown_parameters(effective_parameters(nb_path, injected), bases),
            "data": data, "metrics": metrics,
            "exports": [os.path.relpath(t, out) for _, t in exports],
        }
        text = json.dumps(to_jsonable(doc), indent=2) + "\n"
        _atomic_write(staging / f"{name}.html", page)
        _atomic_write(staging / f"{name}.metrics.json", text)
        os.chmod(tmp_nb, 0o666 & ~_umask())
        new_targets = {Path(os.path.normpath(t)) for _, t in exports}
        _commit(journal, [(staging / f"{name}.html", out / f"{name}.html"), (tmp_nb, out / f"{name}.ipynb"),
                          *exports, *stage_entries(out, name, started, text, staging),
                          (staging / f"{name}.metrics.json", out / f"{name}.metrics.json")],
                [out / f"{name}.error.json", out / f"{name}.failed.ipynb",
                 *_removable([p for p in old_exports if p not in new_targets], locks)])
        return ReportResult(name, "ok", seconds, metrics=metrics)
    except Exception as exc:  # a failed notebook: record it, keep the last good report, go on
        seconds = round(time.perf_counter() - t0, 2)
        error = _scrub(_error_line(exc), bases)
        if tmp_nb.exists() and tmp_nb.stat().st_size:
            os.chmod(tmp_nb, 0o666 & ~_umask())
            os.replace(tmp_nb, out / f"{name}.failed.ipynb")
        _atomic_write(out / f"{name}.error.json", json.dumps(
            {"report": name, "status": "failed", "error": error, "started": started.isoformat(),
             "seconds": seconds}, indent=2) + "\n")
        return ReportResult(name, "failed", seconds, error=error)
    finally:  # every exit, an interrupt included: finish a journaled commit, drop what was staged
        if previous_env is None:
            os.environ.pop(STAGING_ENV, None)
        else:
            os.environ[STAGING_ENV] = previous_env
        if journal.exists():
            _replay(journal)
        export_dir = injected.get("output_dir")
        _clear_staged(staging, {out, *([resolve(export_dir)] if export_dir else [])})


def _removable(paths: list[Path], locks: _FolderLocks | None) -> list[Path]:
    """The last report's exports its new version drops that the commit may delete: those in folders this run
    holds or can lock now (an export folder the report no longer uses). A folder another live run holds
    keeps its files — by now they may be that run's."""
    keep = []
    for folder in sorted({p.parent for p in paths}) if locks is not None else []:
        try:
            locks.take(folder, "")
        except RunLockedError:
            keep.append(folder)
    return [p for p in paths if p.parent not in keep]


def _release_memory() -> None:
    """Hand the memory of the pre-check's log back to the system: Arrow's allocator keeps freed read
    buffers for reuse, which the runner never needs again while the notebooks run."""
    import gc

    gc.collect()
    try:
        import pyarrow

        pyarrow.default_memory_pool().release_unused()
    except (ImportError, AttributeError):  # pragma: no cover - pyarrow is a dependency; very old versions lack it
        pass


def _previous_exports(out: Path, name: str) -> list[Path]:
    """The exports the report's current metrics.json lists (they go when the new version has not them)."""
    try:
        listed = json.loads((out / f"{name}.metrics.json").read_text()).get("exports", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [Path(os.path.normpath(out / p)) for p in listed if isinstance(p, str)]


def _scrubbed_parameters(nb, bases: list[Path]):
    """A copy of ``nb`` whose injected-parameters cell shows paths without the machine's folders."""
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = _scrub(cell.source, bases)
    return nb


def _error_line(exc: Exception) -> str:
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(exc).__name__}: {exc}"
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return " ".join(text.split())[:500]

