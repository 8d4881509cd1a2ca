"""A folder or glob of CSV files read in process (``cjlib.load_events``, ``cjlib.load_inputs``) gives the log
that the one CSV holding all their rows gives, and the log a Dask run reads from the same files: same
columns, dtypes, rows, order, and the same DataError for the same bad row."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cjlib import synth
from cjlib.errors import DataError
from cjlib.io import load_events, load_inputs
from cjlib.reading import column_names

sys.path.insert(0, str(Path(__file__).parent))
import gallery  # noqa: E402


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def _error(fn, *args, **kw) -> DataError:
    with pytest.raises(DataError) as e:
        _quiet(fn, *args, **kw)
    return e.value


def _split(path: Path, folder: Path, cuts: list[int], name: str = "part{}.csv") -> Path:
    """The CSV ``path`` as files holding its rows in order, each with the header; ``cuts``: the row where each
    file after the first starts. Values are copied as written (no NA guessing)."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    folder.mkdir(parents=True, exist_ok=True)
    for i, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(raw)])):
        raw.iloc[a:b].to_csv(folder / name.format(i), index=False)
    return folder










@pytest.fixture(scope="module")
def day_first_log() -> pd.DataFrame:
    """A synthetic log as CSV holds it: day-first text timestamps; the rows whose day is at most 12 (they
    read two ways) first, so the first file proves no order by itself: only the whole log decides."""
    ev = synth.generate(120, seed=1).events
    ev = ev.iloc[np.argsort(ev["timestamp"].dt.day.to_numpy() > 12, kind="stable")].reset_index(drop=True)
    return ev.assign(timestamp=ev["timestamp"].dt.strftime("%d/%m/%Y %H:%M:%S"))


# ============================================================================ in process: as one file
@pytest.mark.parametrize("shape", ["order_lifecycle", "b2b_leads"])
@pytest.mark.parametrize("form", ["folder", "glob", "gzip"])
def test_gallery_log_in_three_files_loads_as_the_one_file(tmp_path, shape, form):
    kw = gallery.case_inputs(shape, tmp_path / "case")
    single = Path(kw["events_path"])
    n = len(pd.read_csv(single, dtype=str))
    name = "part{}.csv.gz" if form == "gzip" else "part{}.csv"
    folder = _split(single, tmp_path / "split", [n // 3, 2 * n // 3], name)
    source = f"{folder}/*.csv" if form == "glob" else str(folder)
    columns = (kw["columns"] or {}).get("events")
    one = _quiet(load_events, single, columns)
    three = _quiet(load_events, source, columns)
    pd.testing.assert_frame_equal(three, one)  # columns, dtypes, rows, order
    assert len(one) > 100
    a = _quiet(load_inputs, **kw)
    b = _quiet(load_inputs, **{**kw, "events_path": source})
    pd.testing.assert_frame_equal(b.events, a.events)
    assert b.summary() == a.summary() and gallery.profile_differences(a, b) == []


def test_day_month_order_is_decided_over_every_file(tmp_path, day_first_log):
    ev = day_first_log
    single = tmp_path / "events.csv"
    ev.to_csv(single, index=False)
    early = int((ev["timestamp"].str[:2].astype(int) <= 12).sum())
    folder = _split(single, tmp_path / "csv", [early // 2, early + 10])
    with pytest.raises(DataError, match="rule ambiguous_timestamp"):  # the first file alone proves no order
        load_events(folder / "part0.csv")
    one = _quiet(load_events, single)
    three = _quiet(load_events, folder)
    pd.testing.assert_frame_equal(three, one)
    assert set(three["timestamp"].dt.strftime("%d/%m/%Y %H:%M:%S")) == set(ev["timestamp"])  # read day-first


def test_columns_typed_as_one_read_types_them(tmp_path):
    """Per file pandas types a column by that file's values; the log is typed as one read of every row."""
    ev = gallery.mixed_types_log()  # zip empty then integers, plan numbers then text, vip booleans with gaps
    single = tmp_path / "events.csv"
    ev.to_csv(single, index=False)
    folder = _split(single, tmp_path / "csv", [2, 4])
    assert pd.read_csv(folder / "part0.csv")["zip"].isna().all()  # the case: per file the types differ
    one = _quiet(load_events, single)
    three = _quiet(load_events, folder)
    pd.testing.assert_frame_equal(three, one)
    assert three["zip"].dtype == np.float64 and three["zip"].tolist()[3:] == [75001.0, 12.0, 3.0]
    assert set(three["plan"].dropna()) == {"1", "2", "1.50", "gold", "3"}  # text as written, not 1.5
    assert three["customer_id"].iloc[0] == "007"


_KINDS = {"empty": st.just(""), "int": st.integers(-5, 99).map(str),
          "float": st.floats(-10, 10, allow_nan=False).map(lambda x: f"{x:.2f}"),
          "text": st.sampled_from(["a", "gold", "x y"]), "bool": st.sampled_from(["True", "False"]),
          "boolgap": st.sampled_from(["True", "False", ""]), "any": st.sampled_from(["", "1", "2.5", "b", "True"])}


@st.composite
def _files(draw):
    """2–4 CSV files of 0–5 rows; per file, the extra column ``x`` holds one kind of value."""
    files = []
    for _ in range(draw(st.integers(2, 4))):
        n = draw(st.integers(0, 5))
        kind = draw(st.sampled_from(sorted(_KINDS)))
        rows = [{"customer_id": draw(st.sampled_from(["1", "02", "b"])),
                 "timestamp": f"2025-03-{draw(st.integers(1, 28)):02d} 10:{draw(st.integers(0, 59)):02d}",
                 "event": draw(st.sampled_from(["view", "buy"])),
                 "x": draw(_KINDS[kind])} for _ in range(n)]
        files.append(rows)
    return files


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=_files())
def test_random_split_logs_load_as_their_one_file(tmp_path_factory, files):
    """Brute-force reference: a log split at random, each file's column typed differently, loads as one
    file holding every row (or fails with the same error)."""
    d = tmp_path_factory.mktemp("split")
    cols = ["customer_id", "timestamp", "event", "x"]
    for i, rows in enumerate(files):
        pd.DataFrame(rows, columns=cols).to_csv(d / f"part{i}.csv", index=False)
    pd.DataFrame([r for rows in files for r in rows], columns=cols).to_csv(d / "all.csv.txt", index=False)
    try:
        one = _quiet(load_events, d / "all.csv.txt")
    except DataError as e:
        three = _error(load_events, f"{d}/part*.csv")
        assert (three.rule, three.column, three.message, three.examples) == (e.rule, e.column, e.message, e.examples)
        return
    pd.testing.assert_frame_equal(_quiet(load_events, f"{d}/part*.csv"), one)


def test_a_glob_of_parquet_files_loads_as_their_folder(tmp_path):
    ev = synth.generate(80, seed=6).events.sample(frac=1.0, random_state=0).reset_index(drop=True)
    folder = tmp_path / "pq"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(ev)), 3)):
        ev.iloc[rows].to_parquet(folder / f"part{i}.parquet", index=False)
    whole = _quiet(load_events, folder)
    pd.testing.assert_frame_equal(_quiet(load_events, f"{folder}/*.parquet"), whole)
    assert len(whole) == len(ev.drop_duplicates())


# ================================================================================== errors as one file
@pytest.mark.parametrize("case", ["bad_timestamp", "negative_revenue", "mixed_orders", "duplicate_header",
                                  "encoding"])
def test_a_bad_row_in_the_second_file_is_the_one_files_error(tmp_path, day_first_log, case):
    ev = day_first_log.copy()
    n = len(ev)
    cuts = [n // 3, 2 * n // 3]
    bad = [n // 3 + 5, n - 4]  # in the second file, and in the third
    if case == "bad_timestamp":
        ev.loc[bad, "timestamp"] = "not a time"
    elif case == "negative_revenue":
        ev.loc[bad, "revenue"] = -1.0
    elif case == "mixed_orders":  # the log proves day-first, a row of the second file month-first
        ev.loc[bad[0], "timestamp"] = "01/25/2025 10:00:00"
    single = tmp_path / "events.csv"
    ev.to_csv(single, index=False)
    folder = _split(single, tmp_path / "csv", cuts)
    if case in ("duplicate_header", "encoding"):
        second = folder / "part1.csv"
        text = second.read_bytes()
        if case == "duplicate_header":
            second.write_bytes(text.replace(b",channel,", b",event,", 1))
        else:
            second.write_bytes(text.replace(b"\n", "\nx\u00e9".encode("latin-1"), 1) + b"\n")
        e = _error(load_events, folder)
        assert e.file == str(second) and e.rule == case
        return
    here, three = _error(load_events, single), _error(load_events, folder)
    assert (three.column, three.rule, three.message, three.examples) == \
        (here.column, here.rule, here.message, here.examples)
    assert three.file == str(folder)
    if case == "bad_timestamp":  # counted over every file; rows numbered from the log's first row
        assert here.message.startswith("2 value(s)") and f"row {bad[0]}:" in str(three)


def test_files_naming_different_columns_are_refused(tmp_path, day_first_log):
    single = tmp_path / "events.csv"
    day_first_log.to_csv(single, index=False)
    folder = _split(single, tmp_path / "csv", [40, 80])
    pd.read_csv(folder / "part1.csv").drop(columns=["channel"]).to_csv(folder / "part1.csv", index=False)
    e = _error(load_events, folder)
    assert (e.rule, e.column, e.file) == ("schema_mismatch", "channel", str(folder))
    assert f"missing from {folder / 'part1.csv'} but present in {folder / 'part0.csv'}" in e.message
    headerless = _split(single, tmp_path / "headerless", [40])  # an export cut after its header line
    pd.read_csv(headerless / "part1.csv").to_csv(headerless / "part1.csv", index=False, header=False)
    e = _error(load_events, headerless)
    assert e.rule == "schema_mismatch" and "part1.csv" in e.message and "\n" not in str(e)


def test_folder_and_glob_refusals(tmp_path, day_first_log):
    (tmp_path / "empty").mkdir()
    e = _error(load_events, tmp_path / "empty")
    assert (e.rule, e.message) == ("empty_input", "events folder holds no .parquet or .csv files")
    e = _error(load_events, f"{tmp_path}/nothing*.csv")
    assert (e.rule, e.file) == ("file_exists", f"{tmp_path}/nothing*.csv")
    (tmp_path / "mixed").mkdir()
    day_first_log.to_csv(tmp_path / "mixed" / "a.csv", index=False)
    (tmp_path / "mixed" / "b.xlsx").write_bytes(b"PK")
    assert _error(load_events, f"{tmp_path}/mixed/*").rule == "file_type"
    headers = tmp_path / "headers"
    headers.mkdir()
    for i in range(2):
        day_first_log.iloc[:0].to_csv(headers / f"p{i}.csv", index=False)
    e = _error(load_events, headers)
    assert (e.rule, e.message, e.file) == ("empty_input", "events file has no rows", str(headers))


def test_hidden_files_are_skipped_and_files_read_in_name_order(tmp_path, day_first_log):
    single = tmp_path / "events.csv"
    day_first_log.to_csv(single, index=False)
    folder = _split(single, tmp_path / "csv", [30, 60], name="p{}.csv")
    (folder / "sub").mkdir()
    (folder / "p2.csv").rename(folder / "sub" / "z.csv")  # in a subfolder: read after p0, p1
    (folder / "_SUCCESS.csv").write_text("garbage\n")
    (folder / ".part.csv").write_text("garbage\n")
    pd.testing.assert_frame_equal(_quiet(load_events, folder), _quiet(load_events, single))
    assert column_names(folder) == list(day_first_log.columns)
    assert column_names(f"{folder}/p*.csv") == list(day_first_log.columns)


def test_a_flat_mapping_is_checked_against_the_folders_columns(tmp_path, day_first_log):
    raw = day_first_log.rename(columns={"customer_id": "user"})
    single = tmp_path / "events.csv"
    raw.to_csv(single, index=False)
    folder = _split(single, tmp_path / "csv", [50])
    data = _quiet(load_inputs, events_path=str(folder), columns={"customer_id": "user"})
    assert data.summary()["events"] == len(_quiet(load_events, single, {"customer_id": "user"}))
    e = _error(load_inputs, events_path=str(folder), columns={"customer_id": "usr"})
    assert e.rule == "missing_column" and "no input has such a column (csv: user, timestamp," in e.message


# ================================================================================ in process and Dask
@pytest.fixture(scope="module")
def client(local_cluster):
    """A client on the session's cluster; the client ``load_inputs(dask_address=…)`` cached is closed too."""
    distributed = pytest.importorskip("distributed")
    from cjlib import engine

    with distributed.Client(local_cluster) as c:
        yield c
    cached = engine.core._CLIENTS.pop(local_cluster.scheduler_address, None)
    if cached is not None:
        cached.close()


@pytest.fixture
def _no_saved_log(monkeypatch):
    pytest.importorskip("distributed")
    from cjlib.engine import load as dload

    monkeypatch.delenv(dload.SHUFFLED_ENV, raising=False)


def _dask_rows(parted) -> pd.DataFrame:
    from cjlib.engine.core import _ROW

    return parted.ddf.compute().sort_values(_ROW).drop(columns=_ROW).reset_index(drop=True)


@pytest.mark.parametrize("shape", ["order_lifecycle", "tiny"])
def test_in_process_and_dask_read_the_same_folder_alike(local_cluster, client, tmp_path, shape, monkeypatch,
                                                        _no_saved_log):
    from cjlib.engine import load as dload

    monkeypatch.setattr("cjlib.profiling._RANK_LIMIT", 50)  # the exact median gap by several narrowing passes
    kw = gallery.case_inputs(shape, tmp_path / "case")
    n = len(pd.read_csv(kw["events_path"], dtype=str))
    folder = str(_split(Path(kw["events_path"]), tmp_path / "split", [n // 3, 2 * n // 3]))
    columns = (kw["columns"] or {}).get("events")
    here = _quiet(load_events, folder, columns)
    parted, facts = _quiet(dload.read_log, folder, columns=columns, client=client)
    pd.testing.assert_frame_equal(_dask_rows(parted), here)
    assert facts.events == len(here)
    a = _quiet(load_inputs, **{**kw, "events_path": folder})
    b = _quiet(load_inputs, **{**kw, "events_path": folder}, dask_address=local_cluster.scheduler_address)
    assert b.summary() == a.summary() and b.date_range == a.date_range
    assert gallery.profile_differences(a, b) == []


@pytest.mark.parametrize("case", ["bad_timestamp", "negative_revenue", "header_mismatch"])
def test_a_bad_second_file_fails_alike_in_process_and_on_dask(client, tmp_path, day_first_log, case,
                                                              _no_saved_log):
    from cjlib.engine import load as dload

    ev = day_first_log.copy()
    n = len(ev)
    if case == "bad_timestamp":
        ev.loc[n // 2, "timestamp"] = "31/31/2025 10:00:00"
    elif case == "negative_revenue":
        ev.loc[n // 2, "revenue"] = -5.0
    single = tmp_path / "events.csv"
    ev.to_csv(single, index=False)
    folder = _split(single, tmp_path / "csv", [n // 3, 2 * n // 3])
    if case == "header_mismatch":
        pd.read_csv(folder / "part1.csv").drop(columns=["revenue"]).to_csv(folder / "part1.csv", index=False)
    here = _error(load_events, folder)
    there = _error(dload.read_log, str(folder), client=client)
    assert str(there) == str(here)  # file, column, rule, count and example rows
    assert here.rule == {"bad_timestamp": "parseable_timestamp", "negative_revenue": "non_negative_revenue",
                         "header_mismatch": "schema_mismatch"}[case]
    if case != "header_mismatch":
        assert f"row {n // 2}:" in str(here)  # the row's place in the whole log


def test_a_file_of_no_row_types_nothing_in_process_and_on_dask(client, tmp_path, _no_saved_log):
    """A header-only file adds no row, so it does not make a column of booleans or integers a column with
    gaps: the log is typed as the one file of every row types it, here and on Dask."""
    from cjlib.engine import load as dload

    cols = ["customer_id", "timestamp", "event", "vip", "n"]
    pd.DataFrame(columns=cols).to_csv(tmp_path / "p0.csv", index=False)
    pd.DataFrame([["1", "2025-03-01 10:00", "view", "True", 3], ["2", "2025-03-02 10:00", "buy", "False", 4]],
                 columns=cols).to_csv(tmp_path / "p1.csv", index=False)
    pd.read_csv(tmp_path / "p1.csv").to_csv(tmp_path / "all.csv.txt", index=False)
    one = _quiet(load_events, tmp_path / "all.csv.txt")
    here = _quiet(load_events, f"{tmp_path}/p*.csv")
    pd.testing.assert_frame_equal(here, one)
    assert (here["vip"].dtype, here["n"].dtype) == (np.dtype(bool), np.dtype(np.int64))
    parted, _ = _quiet(dload.read_log, f"{tmp_path}/p*.csv", client=client)
    pd.testing.assert_frame_equal(_dask_rows(parted), one)


def test_a_glob_is_fingerprinted_by_the_files_it_matches(tmp_path):
    # a report run on events_path 'exports/*.csv' fingerprints the matched files (equal to the folder holding just
    # them; a changed matched file changes it, a file the glob does not match does not)
    from cjlib.report.runner import fingerprint

    for i in range(2):
        (tmp_path / f"part{i}.csv").write_text(f"customer_id,timestamp,event\nc{i},2025-01-0{i + 1},purchase\n")
    glob_fp = fingerprint([str(tmp_path / "*.csv")])
    assert glob_fp == fingerprint([tmp_path])
    (tmp_path / "notes.txt").write_text("not matched")
    assert fingerprint([str(tmp_path / "*.csv")]) == glob_fp != fingerprint([tmp_path])
    (tmp_path / "part1.csv").write_text("customer_id,timestamp,event\nc9,2025-01-09,purchase\n")
    assert fingerprint([str(tmp_path / "*.csv")]) != glob_fp
