"""What a Dask run reads (issue 19): CSV logs, Hive-partitioned folders, exports refused, and the warning on
customers sharing no id with the events — each against the in-process loader on the same data.

The cluster is the session's 2-worker ``LocalCluster`` (tests/conftest.py). Skipped when the ``dask``
extra is not installed.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from cjlib import engine, synth  # noqa: E402
from cjlib.engine import load as dload  # noqa: E402
from cjlib.errors import DataError, DataWarning  # noqa: E402
from cjlib.io import load_events, load_inputs  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import gallery  # noqa: E402

DATA = Path(__file__).parent / "data"
_ROW = engine.core._ROW


@pytest.fixture(scope="module")
def client(local_cluster):
    with distributed.Client(local_cluster) as c:
        yield c
    cached = engine.core._CLIENTS.pop(local_cluster.scheduler_address, None)  # load_inputs(dask_address=…)'s
    if cached is not None:
        cached.close()


@pytest.fixture(autouse=True)
def _no_saved_log(monkeypatch):
    monkeypatch.delenv(dload.SHUFFLED_ENV, raising=False)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def _rows(parted) -> pd.DataFrame:
    """A Dask log's rows in the loader's order, as a pandas frame."""
    out = parted.ddf.compute()
    return out.sort_values(_ROW).drop(columns=_ROW).reset_index(drop=True)


def _split(df: pd.DataFrame, folder: Path, pieces: int = 3, name: str = "part{}.csv", cuts=None) -> Path:
    """``df`` in input order as a folder of CSV files (``cuts``: the row where each file after the first starts)."""
    folder.mkdir(parents=True, exist_ok=True)
    bounds = np.r_[0, cuts if cuts is not None else np.linspace(0, len(df), pieces + 1)[1:-1].astype(int), len(df)]
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        df.iloc[a:b].to_csv(folder / name.format(i), index=False)
    return folder


def _error(fn, *args, **kw) -> DataError:
    with pytest.raises(DataError) as e:
        _quiet(fn, *args, **kw)
    return e.value


def _same_error(here: DataError, there: DataError) -> None:
    """The same failure: column, rule, message (with the count over every file) and example rows."""
    assert (there.column, there.rule, there.message, there.examples) == \
        (here.column, here.rule, here.message, here.examples)








# =================================================================================================== CSV
@pytest.fixture(scope="module")
def day_first_log() -> pd.DataFrame:
    """A synthetic log written as CSV would hold it: day-first text timestamps, text ids; the rows whose day
    is at most 12 (they read two ways) first, so a first file cut from them proves no order by itself."""
    ev = synth.generate(120, seed=1).events
    ev = ev.iloc[np.argsort(ev["timestamp"].dt.day.to_numpy() > 12, kind="stable")].reset_index(drop=True)
    return ev.assign(timestamp=ev["timestamp"].dt.strftime("%d/%m/%Y %H:%M:%S"))


@pytest.mark.parametrize("form", ["file", "folder", "glob", "gzip"])
def test_csv_log_is_the_loaders(client, tmp_path, day_first_log, form):
    ev = day_first_log
    single = tmp_path / "events.csv"
    ev.to_csv(single, index=False)
    local = _quiet(load_events, single)
    # the first file proves no order (every day <= 12, read two ways): only the whole log decides day-first
    early = int((ev["timestamp"].str[:2].astype(int) <= 12).sum())
    cuts = [early // 2, early + 10] if form != "file" else None
    with pytest.raises(DataError, match="rule ambiguous_timestamp"):
        load_events(_split(ev.iloc[:early // 2], tmp_path / "first", pieces=1) / "part0.csv")
    if form == "gzip":
        source = _split(ev, tmp_path / "csv", name="part{}.csv.gz", cuts=cuts)
    else:
        folder = _split(ev, tmp_path / "csv", cuts=cuts) if form != "file" else None
        source = {"file": single, "folder": folder, "glob": f"{folder}/*.csv"}[form]
    parted, facts = _quiet(dload.read_log, str(source), client=client)
    pd.testing.assert_frame_equal(_rows(parted), local)
    assert (facts.events, facts.customers) == (len(local), local["customer_id"].nunique())
    assert facts.first_event == local["timestamp"].min().isoformat()


CSV_SHAPES = ["purchases_only", "order_lifecycle", "b2b_leads", "tiny"]




@pytest.mark.parametrize("shape", CSV_SHAPES)
def test_csv_inputs_and_profile_equal_in_process(local_cluster, client, tmp_path, shape, monkeypatch):
    monkeypatch.setattr("cjlib.profiling._RANK_LIMIT", 50)  # the exact median gap by several narrowing passes
    kw = gallery.case_inputs(shape, tmp_path)
    assert kw["events_path"].endswith(".csv")
    a = _quiet(load_inputs, **kw)
    b = _quiet(load_inputs, **kw, dask_address=local_cluster.scheduler_address)
    assert isinstance(b.events, engine.Partitioned)
    assert b.summary() == a.summary() and b.date_range == a.date_range
    assert gallery.profile_differences(a, b) == []
    assert a.profile.events == len(a.events) > 0
    # the same log as a folder of three CSV files: the same inputs
    raw = pd.read_csv(kw["events_path"], dtype=str)  # as written, to split it
    folder = _split(raw, tmp_path / "split")
    c = _quiet(load_inputs, **{**kw, "events_path": str(folder)}, dask_address=local_cluster.scheduler_address)
    assert c.summary() == a.summary() and gallery.profile_differences(a, c) == []


def test_csv_columns_typed_as_one_read_types_them(client, tmp_path):
    """Per file, pandas types a column by that file's values; the log is typed as one read of every row:
    empty in one file and integers in another → floats; numbers in one, text in another → text as written."""
    ev = gallery.mixed_types_log()  # zip empty then integers, plan numbers then text, vip booleans with gaps
    single = tmp_path / "events.csv"
    ev.to_csv(single, index=False)
    local = _quiet(load_events, single)
    folder = _split(ev, tmp_path / "csv", cuts=[2, 4])
    assert pd.read_csv(folder / "part0.csv")["zip"].isna().all()  # the case: per file the types differ
    parted, _ = _quiet(dload.read_log, str(folder), client=client)
    there = _rows(parted)
    pd.testing.assert_frame_equal(there, local)
    assert there["plan"].tolist()[:3] == local["plan"].tolist()[:3] and "1.50" in set(there["plan"])
    assert local["customer_id"].iloc[0] == "007"  # ids as written


@pytest.mark.parametrize("case", ["bad_timestamp", "missing_column", "negative_revenue", "mixed_orders",
                                  "two_ways"])
def test_csv_errors_are_the_loaders(client, tmp_path, day_first_log, case):
    ev = day_first_log.copy()
    if case == "bad_timestamp":
        ev.loc[[10, len(ev) - 5], "timestamp"] = "not a time"
    elif case == "missing_column":
        ev = ev.drop(columns=["event"])
    elif case == "negative_revenue":
        ev.loc[[3, len(ev) - 2], "revenue"] = -1.0
    elif case == "mixed_orders":  # the first third proves day-first, a late row month-first
        ev.loc[len(ev) - 3, "timestamp"] = "01/25/2025 10:00:00"
    elif case == "two_ways":
        ev["timestamp"] = ev["timestamp"].str.replace(r"^(\d\d)", lambda m: f"{int(m[1]) % 12 + 1:02d}", regex=True)
    single = tmp_path / "events.csv"
    ev.to_csv(single, index=False)
    here = _error(load_events, single)
    there = _error(dload.read_log, str(single), client=client)
    assert str(there) == str(here)  # one file: the very same line (file, column, rule, count, examples)
    folder = _split(ev, tmp_path / "csv")
    _same_error(here, _error(dload.read_log, str(folder), client=client))  # every file counted
    rule = {"bad_timestamp": "parseable_timestamp", "missing_column": "missing_column",
            "negative_revenue": "non_negative_revenue", "mixed_orders": "consistent_timestamp",
            "two_ways": "ambiguous_timestamp"}[case]
    assert here.rule == rule
    if case == "bad_timestamp":
        assert here.message.startswith("2 value(s)") and f"row {len(ev) - 5}:" in str(here)


def test_csv_refusals(client, tmp_path, day_first_log):
    folder = _split(day_first_log, tmp_path / "csv", pieces=2)
    pd.read_csv(folder / "part1.csv").drop(columns=["channel"]).to_csv(folder / "part1.csv", index=False)
    e = _error(dload.read_log, str(folder), client=client)
    assert (e.rule, e.column) == ("schema_mismatch", "channel") and "part1.csv" in e.message
    split = _split(day_first_log, tmp_path / "headerless", pieces=2)  # an export cut after its header line
    pd.read_csv(split / "part1.csv").to_csv(split / "part1.csv", index=False, header=False)
    e = _error(dload.read_log, str(split), client=client)
    assert e.rule == "schema_mismatch" and "part1.csv" in e.message and "\n" not in str(e)
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    assert _error(dload.read_log, str(tmp_path / "x.xlsx"), client=client).rule == "file_type"
    (tmp_path / "empty").mkdir()
    assert _error(dload.read_log, str(tmp_path / "empty"), client=client).rule == "empty_input"
    day_first_log.iloc[:0].to_csv(tmp_path / "header_only.csv", index=False)
    here, there = (_error(fn, str(tmp_path / "header_only.csv"), **kw)
                   for fn, kw in ((load_events, {}), (dload.read_log, {"client": client})))
    assert str(there) == str(here) and here.rule == "empty_input"


# ================================================================================== Hive-partitioned
@pytest.fixture
def hive_folder(tmp_path) -> tuple[Path, pd.DataFrame]:
    """A synthetic log written as ``events/date=YYYY-MM/country=XX/part-0.parquet`` (keys not in the files)."""
    ev = synth.generate(150, seed=2).events.reset_index(drop=True)
    country = np.array(["FR", "DE", "12"])[pd.factorize(ev["customer_id"])[0] % 3]
    month = ev["timestamp"].dt.strftime("%Y-%m")
    root = tmp_path / "events"
    for (m, c), rows in ev.groupby([month, country], sort=True).groups.items():
        d = root / f"month={m}" / f"country={c}"
        d.mkdir(parents=True)
        ev.loc[rows].to_parquet(d / "part-0.parquet", index=False)
    empty = root / "month=2099-01" / "country=FR"  # a partition holding no row
    empty.mkdir(parents=True)
    ev.iloc[:0].to_parquet(empty / "part-0.parquet", index=False)
    return root, ev


def test_hive_folder_keeps_its_keys_as_the_loader_does(client, hive_folder, local_cluster):
    root, ev = hive_folder
    local = _quiet(load_events, root)
    assert {"month", "country"} <= set(local.columns)  # the loader keeps partition keys as columns …
    assert isinstance(local["country"].dtype, pd.CategoricalDtype)  # … as categoricals
    parted, facts = _quiet(dload.read_log, str(root), client=client)
    there = _rows(parted)
    pd.testing.assert_frame_equal(there, local)  # same columns, dtypes (categories in order), rows, order
    assert list(there["country"].cat.categories) == list(local["country"].cat.categories)
    assert facts.events == len(local) > 0
    a = _quiet(load_inputs, events_path=str(root))
    b = _quiet(load_inputs, events_path=str(root), dask_address=local_cluster.scheduler_address)
    assert b.summary() == a.summary() and gallery.profile_differences(a, b) == []


def test_hive_keys_survive_save_and_open(client, hive_folder, tmp_path):
    root, _ = hive_folder
    parted, facts = _quiet(dload.read_log, str(root), client=client)
    saved = dload.save_log(parted, facts, str(tmp_path / "shuffled"))
    reopened, _ = dload.open_log(saved, client=client)
    pd.testing.assert_frame_equal(_rows(reopened), _rows(parted))


# ============================================================================================ exports
@pytest.mark.parametrize("fmt", ["ga4", "segment"])
def test_exports_are_refused_with_the_line_that_converts_them(local_cluster, client, tmp_path, fmt):
    src = {"ga4": DATA / "ga4" / "events.parquet", "segment": DATA / "segment" / "events.jsonl.gz"}[fmt]
    e = _error(load_inputs, events_path=str(src), events_format=fmt, dask_address=local_cluster.scheduler_address)
    assert (e.rule, e.file, e.parameter) == ("dask_format", str(src), "events_format")
    assert "\n" not in str(e)
    line = str(e).split("convert it once with ", 1)[1].split(" and run on events.parquet")[0]
    args = shlex.split(line)
    assert args[:2] == ["python", "-c"]
    subprocess.run([sys.executable, *args[1:]], cwd=tmp_path, check=True, capture_output=True)  # it works as given
    a = _quiet(load_inputs, events_path=str(src), events_format=fmt)
    b = _quiet(load_inputs, events_path=str(tmp_path / "events.parquet"), dask_address=local_cluster.scheduler_address)
    assert b.summary() == a.summary() and a.summary()["events"] > 0


# ========================================================================== customers sharing no id
@pytest.mark.parametrize("shared", [False, True])
def test_customers_sharing_no_id_warn_on_dask_as_in_process(local_cluster, client, tmp_path, shared):
    ev = synth.generate(60, seed=4).events
    ev.to_parquet(tmp_path / "events.parquet", index=False)
    ids = ["x1", "x2", "x3", "x4"] + (list(ev["customer_id"].iloc[:1]) if shared else [])
    pd.DataFrame({"customer_id": ids, "plan": "a"}).to_csv(tmp_path / "customers.csv", index=False)
    kw = {"events_path": str(tmp_path / "events.parquet"), "customers_path": str(tmp_path / "customers.csv")}

    def warned(**extra) -> list[str]:
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            load_inputs(**kw, **extra)
        return [str(w.message) for w in got if issubclass(w.category, DataWarning) and "no customer_id" in str(w.message)]

    here, there = warned(), warned(dask_address=local_cluster.scheduler_address)
    assert there == here and len(here) == (0 if shared else 1)
    if not shared:
        first = sorted(ev["customer_id"].unique())[:3]
        assert f"events: {first[0]!r}, {first[1]!r}, {first[2]!r}, …; customers: 'x1', 'x2', 'x3'" in here[0]


def test_shared_ids_counts_on_the_workers(client, tmp_path):
    ev = synth.generate(40, seed=5).events
    parted = engine.partition(ev, client=client, npartitions=3)
    some = ev["customer_id"].drop_duplicates().iloc[[7]]
    assert dload.shared_ids(parted, pd.Series(["nobody"]))[0] is False
    hit, first = dload.shared_ids(parted, some)
    assert hit is True and list(first) == sorted(ev["customer_id"].unique())[:3]


# ============================================================== epoch timestamps: one unit for the log
T0 = pd.Timestamp("2025-03-01 09:00:00")
_SCALE = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def _epoch_log(units: tuple[str, ...], rows: int = 6, gap: bool = False) -> list[pd.DataFrame]:
    """One frame per file: ``rows`` events a minute apart from T0, the timestamps written as integers in
    that file's unit (``gap``: the first file's second time missing, so CSV types that file's column float)."""
    out = []
    for f, unit in enumerate(units):
        secs = T0.value // 10**9 + 60 * np.arange(f * rows, (f + 1) * rows)
        ts = pd.Series(secs * _SCALE[unit], dtype="Int64" if gap else "int64")
        if gap and f == 0:
            ts.iloc[1] = pd.NA
        out.append(pd.DataFrame({"customer_id": [f"c{(f * rows + i) % 4}" for i in range(rows)],
                                 "timestamp": ts, "event": "page_view"}))
    return out


def _write(frames: list[pd.DataFrame], folder: Path, kind: str) -> tuple[Path, Path]:
    """The frames as a folder of files (one each) and as one file of all their rows."""
    folder.mkdir(parents=True)
    for i, df in enumerate(frames):
        getattr(df, f"to_{kind}")(folder / f"part{i}.{kind}", index=False)
    single = folder.parent / f"all.{kind}"
    getattr(pd.concat(frames, ignore_index=True), f"to_{kind}")(single, index=False)
    return folder, single


@pytest.mark.parametrize("kind", ["parquet", "csv"])
@pytest.mark.parametrize("units", [("ms", "ms"), ("s", "ms"), ("ms", "s", "ms"), ("us", "ns"), ("ns", "ns")])
def test_epoch_unit_is_one_decision_over_every_file(client, tmp_path, kind, units):
    """Each file alone is a valid log in its own unit (a worker deciding from its file reads it right); the
    files together mix units, which the loader refuses for one column: the Dask run refuses it too, with
    the loader's error counted over every file. One unit throughout: the same log, the right times."""
    folder, single = _write(_epoch_log(units), tmp_path / "parts", kind)
    for f in sorted(folder.iterdir()):  # every file alone reads, in process and on Dask
        assert _quiet(load_events, f)["timestamp"].min() >= T0
    if len(set(units)) > 1:
        here = _error(load_events, folder)
        assert here.message == _error(load_events, single).message  # the folder is its one file
        there = _error(dload.read_log, str(folder), client=client)
        assert str(there) == str(here)
        n = {u: 6 * units.count(u) for u in dict.fromkeys(units)}
        assert here.rule == "consistent_timestamp" and here.column == "timestamp"
        first, second = sorted(n, key=list(_SCALE).index)
        assert f"mixes epoch units: {n[first]} value(s) in the range of" in here.message
        # the first two rows of each unit, labelled by their place in the whole log
        rows = {u: [i for i, x in enumerate(np.repeat(units, 6)) if x == u][:2] for u in (first, second)}
        assert [int(e.split(":")[0][4:]) for e in here.examples] == rows[first] + rows[second]
    else:
        here = _quiet(load_events, folder)
        pd.testing.assert_frame_equal(here, _quiet(load_events, single))
        assert here["timestamp"].min() == T0 and here["timestamp"].max() == T0 + pd.Timedelta(minutes=6 * len(units) - 1)
        parted, _ = _quiet(dload.read_log, str(folder), client=client)
        pd.testing.assert_frame_equal(_rows(parted), here)


def test_epochs_with_a_gap_and_start_end_agree(client, local_cluster, tmp_path):
    """A CSV file with a missing time is the loader's error on both; one with a fractional millisecond reads
    floats, its neighbour integers: one unit still, and the dates filter alike."""
    frames = _epoch_log(("ms", "ms"), gap=True)
    folder, _ = _write(frames, tmp_path / "gap", "csv")
    here = _error(load_events, folder)
    assert (here.rule, here.column, here.examples[0][:6]) == ("not_null", "timestamp", "row 1:")
    assert str(_error(dload.read_log, str(folder), client=client)) == str(here)
    frames[0]["timestamp"] = frames[0]["timestamp"].astype("Float64")
    frames[0].loc[1, "timestamp"] = frames[0].loc[0, "timestamp"] + 30_000.5
    folder, _ = _write(frames, tmp_path / "filled", "csv")
    assert pd.read_csv(folder / "part0.csv")["timestamp"].dtype == np.float64  # the case: floats, then integers
    assert pd.read_csv(folder / "part1.csv")["timestamp"].dtype == np.int64
    kw = {"events_path": str(folder), "start_date": "2025-03-01T09:03", "end_date": "2025-03-01T09:09"}
    a = _quiet(load_inputs, **kw)
    b = _quiet(load_inputs, **kw, dask_address=local_cluster.scheduler_address)
    assert b.summary() == a.summary() and a.summary()["events"] == 6
    assert a.date_range == ("2025-03-01T09:03:00", "2025-03-01T09:08:00")


# ================================================================== checks made after the start/end dates
def _dated_inputs(tmp_path) -> tuple[dict, pd.DataFrame, str]:
    """A log whose early customers (every event before the start date) are the only ones the customers table
    shares, and whose channel 'fax' only they used (the costs name it): both warnings depend on the dates."""
    ev = synth.generate(60, seed=4).events
    start = ev["timestamp"].quantile(0.5).normalize()
    last = ev.groupby("customer_id")["timestamp"].max()
    early = sorted(last.index[last < start])
    assert len(early) >= 2 and (last >= start).any()
    ev = ev.assign(channel=ev["channel"].astype(str).where(~ev["customer_id"].isin(early[:1]), "fax"))
    ev.to_parquet(tmp_path / "events.parquet", index=False)
    pd.DataFrame({"customer_id": ["x1", early[0], "x2"], "plan": "a"}).to_csv(tmp_path / "customers.csv", index=False)
    pd.DataFrame({"channel": ["fax"], "spend": [10.0]}).to_csv(tmp_path / "costs.csv", index=False)
    kw = {"events_path": str(tmp_path / "events.parquet"), "customers_path": str(tmp_path / "customers.csv"),
          "costs_path": str(tmp_path / "costs.csv")}
    return kw, ev, start.strftime("%Y-%m-%d")


def _warned(kw: dict) -> list[str]:
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        load_inputs(**kw)
    return [str(w.message) for w in got if issubclass(w.category, DataWarning)
            and ("no customer_id" in str(w.message) or "cost channel" in str(w.message))]


def test_shared_ids_and_cost_channels_are_checked_on_the_dated_log_alike(local_cluster, client, tmp_path):
    """The customers share ids, and the costs a channel, only with events before start_date: on the events
    the reports read they attach to no one, and both runs say so (in process checked the whole file)."""
    kw, ev, start = _dated_inputs(tmp_path)
    assert _warned(kw) == _warned({**kw, "dask_address": local_cluster.scheduler_address}) == []  # no dates
    dated = {**kw, "start_date": start}
    here, there = _warned(dated), _warned({**dated, "dask_address": local_cluster.scheduler_address})
    assert there == here and len(here) == 2
    kept = sorted(ev.loc[ev["timestamp"] >= pd.Timestamp(start), "customer_id"].unique())[:3]
    ids = ", ".join(map(repr, kept))
    assert f"no customer_id matches an event's (events: {ids}, …; customers: 'x1', " in here[0] + here[1]
    assert "1 cost channel(s) appear in no event ('fax')" in here[0] + here[1]


def test_dates_keeping_no_event_fail_alike(local_cluster, client, tmp_path):
    kw, ev, _ = _dated_inputs(tmp_path)
    dated = {**kw, "start_date": "2099-01-01", "end_date": "2099-02-01"}
    here = _error(load_inputs, **dated)
    there = _error(load_inputs, **dated, dask_address=local_cluster.scheduler_address)
    assert str(there) == str(here) and here.rule == "empty_input"
    assert "no events between start_date='2099-01-01' and end_date='2099-02-01'" in here.message


# ============================================================================= fsspec URLs in process
def _url_sources(tmp_path: Path, day_first_log: pd.DataFrame) -> dict[str, tuple[str, Path | str]]:
    """Each form as a ``file://`` URL and as the local path it names: a CSV file, a CSV folder, a glob of CSV
    files, a Parquet folder, a Hive-partitioned Parquet folder."""
    ev = day_first_log
    csv_folder = _split(ev, tmp_path / "csv")
    single = tmp_path / "events.csv"
    ev.to_csv(single, index=False)
    parquet = tmp_path / "pq"
    parquet.mkdir()
    typed = synth.generate(80, seed=6).events
    typed.iloc[:150].to_parquet(parquet / "a.parquet", index=False)
    typed.iloc[150:].assign(revenue=typed["revenue"].iloc[150:].fillna(0).astype("int64")) \
        .to_parquet(parquet / "b.parquet", index=False)  # int64 here, double there: read widened
    hive = tmp_path / "hive"
    for dev, rows in typed.groupby("device").groups.items():
        (hive / f"device={dev}").mkdir(parents=True)
        typed.loc[rows].drop(columns="device").to_parquet(hive / f"device={dev}" / "part-0.parquet", index=False)
    forms = {"csv_file": single, "csv_folder": csv_folder, "csv_glob": f"{csv_folder}/*.csv", "parquet_folder": parquet,
             "hive_folder": hive}
    return {k: (f"file://{p}", p) for k, p in forms.items()}


@pytest.mark.parametrize("form", ["csv_file", "csv_folder", "csv_glob", "parquet_folder", "hive_folder"])
def test_a_url_reads_in_process_as_on_dask(local_cluster, client, tmp_path, day_first_log, form):
    """In process reads an fsspec URL as the local path it names, and as the Dask run reads the URL."""
    url, local = _url_sources(tmp_path, day_first_log)[form]
    here = _quiet(load_events, url)
    expected = _quiet(load_events, local)
    pd.testing.assert_frame_equal(here, expected)
    assert here.attrs["source"] == url
    parted, facts = _quiet(dload.read_log, url, client=client)
    pd.testing.assert_frame_equal(_rows(parted), here)
    assert facts.source == url
    a = _quiet(load_inputs, events_path=url)
    b = _quiet(load_inputs, events_path=url, dask_address=local_cluster.scheduler_address)
    assert b.summary() == a.summary() == _quiet(load_inputs, events_path=str(local)).summary()
    assert gallery.profile_differences(a, b) == []


def test_a_bad_file_at_a_url_fails_alike(client, tmp_path, day_first_log):
    ev = day_first_log.copy()
    ev.loc[len(ev) // 2, "timestamp"] = "31/31/2025 10:00:00"
    url = f"file://{_split(ev, tmp_path / 'csv')}"
    here = _error(load_events, url)
    assert str(_error(dload.read_log, url, client=client)) == str(here)
    assert (here.rule, here.file) == ("parseable_timestamp", url) and f"row {len(ev) // 2}:" in str(here)
    for missing in (f"file://{tmp_path}/nothing", f"file://{tmp_path}/nothing/*.csv"):
        here, there = _error(load_events, missing), _error(dload.read_log, missing, client=client)
        assert str(there) == str(here) and here.rule == "file_exists" and here.file == missing
    pq = tmp_path / "mixed"
    pq.mkdir()
    day_first_log.iloc[:10].to_parquet(pq / "a.parquet", index=False)
    day_first_log.iloc[10:].assign(revenue="x").to_parquet(pq / "b.parquet", index=False)  # numbers, then text
    here = _error(load_events, f"file://{pq}")
    assert (here.rule, here.column) == ("schema_mismatch", "revenue")
    assert str(_error(dload.read_log, f"file://{pq}", client=client)) == str(here)


def test_a_memory_url_reads_as_its_local_copy(tmp_path, day_first_log):
    """``memory://`` (this process's own fsspec store: no worker sees it, so in process only): a Parquet file,
    a CSV folder and a glob read as their local copies; the flat mapping is checked against its columns."""
    import fsspec

    fs = fsspec.filesystem("memory")
    root = f"/cjlib-test-{tmp_path.name}"
    try:
        local = _split(day_first_log, tmp_path / "csv")
        for f in sorted(local.iterdir()):
            fs.pipe(f"{root}/csv/{f.name}", f.read_bytes())
        typed = synth.generate(40, seed=7).events
        typed.to_parquet(tmp_path / "e.parquet", index=False)
        fs.pipe(f"{root}/e.parquet", (tmp_path / "e.parquet").read_bytes())
        for url, path in ((f"memory://{root}/csv", local), (f"memory://{root}/csv/*.csv", local),
                          (f"memory://{root}/e.parquet", tmp_path / "e.parquet")):
            pd.testing.assert_frame_equal(_quiet(load_events, url), _quiet(load_events, path))
        renamed = day_first_log.rename(columns={"customer_id": "user"})
        fs.pipe(f"{root}/renamed.csv", renamed.to_csv(index=False).encode())
        got = _quiet(load_inputs, events_path=f"memory://{root}/renamed.csv", columns={"customer_id": "user"})
        assert got.summary()["events"] == len(_quiet(load_events, local))
        e = _error(load_inputs, events_path=f"memory://{root}/renamed.csv", columns={"customer_id": "usr"})
        assert e.rule == "missing_column" and "no input has such a column (renamed.csv: user, " in e.message
    finally:
        fs.rm(root, recursive=True)


def test_epochs_in_one_csv_file_and_text_in_another_fail_alike(client, tmp_path):
    """One read of every row types the column text (numbers here, dates there), which is not epochs: the
    loader refuses the numbers as unparseable text; a Dask run read each file by its own type and took both."""
    frames = _epoch_log(("s", "s"))
    frames[1] = frames[1].assign(timestamp=pd.to_datetime(frames[1]["timestamp"], unit="s").dt.strftime("%Y-%m-%d %H:%M"))
    folder, single = _write(frames, tmp_path / "parts", "csv")
    here = _error(load_events, folder)
    assert str(_error(load_events, single)).replace(str(single), str(folder)) == str(here)  # as its one file
    assert here.rule == "parseable_timestamp" and here.examples[0] == f"row 0: timestamp='{frames[0]['timestamp'][0]}'"
    assert str(_error(dload.read_log, str(folder), client=client)) == str(here)


def test_event_codes_in_one_csv_file_and_names_in_another_read_alike(client, tmp_path):
    """Event names that are numbers in one file (``404``) and words in another are text in the whole log, as
    one read of every row gives them; a channel empty in one file takes the other files' values."""
    ev = synth.generate(30, seed=8).events.reset_index(drop=True)
    ev["event"] = ev["event"].astype(str)
    ev.loc[:29, "event"] = np.where(np.arange(30) % 2, "404", "500")
    ev["channel"] = ev["channel"].astype(str).where(ev.index >= 30)
    folder = _split(ev, tmp_path / "csv", cuts=[30, 60])
    assert pd.read_csv(folder / "part0.csv")["event"].dtype == np.int64  # the case: codes read as numbers
    assert pd.read_csv(folder / "part0.csv")["channel"].isna().all()
    single = tmp_path / "events.csv"
    ev.to_csv(single, index=False)
    here = _quiet(load_events, folder)
    pd.testing.assert_frame_equal(here, _quiet(load_events, single))
    assert {"404", "500"} <= set(here["event"].cat.categories)
    parted, _ = _quiet(dload.read_log, str(folder), client=client)
    pd.testing.assert_frame_equal(_rows(parted), here)


# ============================================================== random logs: in process against Dask
_T_FORMS = {"iso": lambda t: t.strftime("%Y-%m-%d %H:%M"), "dayfirst": lambda t: t.strftime("%d/%m/%Y %H:%M"),
            "s": lambda t: t.value // 10**9, "ms": lambda t: t.value // 10**6, "gap": lambda t: None}



def _random_files(draw) -> list[pd.DataFrame]:
    """2–4 files of 0–6 rows; per file, one form of timestamp (ISO, day-first text, epoch seconds or
    milliseconds, or a gap), of event name (words or numeric codes) and a channel or none."""
    from hypothesis import strategies as st

    files = []
    for _ in range(draw(st.integers(2, 4))):
        n = draw(st.integers(0, 6))
        form = draw(st.sampled_from(sorted(_T_FORMS)))
        codes = draw(st.booleans())
        channel = draw(st.booleans())
        rows = []
        for _ in range(n):
            t = pd.Timestamp("2025-03-01") + pd.Timedelta(minutes=draw(st.integers(0, 60 * 24 * 40)))
            rows.append({"customer_id": draw(st.sampled_from(["1", "02", "b"])),
                         "timestamp": _T_FORMS[form](t) if form != "gap" or draw(st.booleans()) else None,
                         "event": draw(st.sampled_from(["404", "500"] if codes else ["view", "buy"])),
                         "channel": draw(st.sampled_from(["web", "email"])) if channel else None})
        if form == "gap":  # a gap among epochs in seconds
            for r in rows:
                r["timestamp"] = None if r["timestamp"] is None else r["timestamp"].value // 10**9
        files.append(pd.DataFrame(rows, columns=["customer_id", "timestamp", "event", "channel"]))
    return files


def _outcome(fn, *args, **kw):
    """The frame read, or the error's one line (file named as given)."""
    try:
        return _quiet(fn, *args, **kw)
    except DataError as err:
        return str(err)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_random_logs_read_alike_in_process_and_on_dask(client, tmp_path_factory, kind):
    """Brute force: logs split at random, each file written in its own forms (as CSV, or as Parquet whose
    columns then differ in type between files), give the same frame (or the same error line) in process and
    on Dask."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))  # 150 passed once
    @given(st.composite(_random_files)())
    def check(files):
        d = tmp_path_factory.mktemp("random")
        for i, df in enumerate(files):
            if kind == "csv":
                df.to_csv(d / f"part{i}.csv", index=False)
            else:
                df.infer_objects().to_parquet(d / f"part{i}.parquet", index=False)
        here = _outcome(load_events, d)
        there = _outcome(dload.read_log, str(d), client=client)
        if isinstance(here, str) or isinstance(there, str):
            assert there == here
        else:
            pd.testing.assert_frame_equal(_rows(there[0]), here)

    check()


def test_duplicates_dropped_are_counted_alike_and_said(local_cluster, client, tmp_path):
    """Exact duplicate rows dropped on loading are counted in ``Inputs.summary()`` (the runner's metrics) the
    same way in process and on Dask, and 00/02's source line says so (4 here: one row twice more, two once)."""
    from cjlib.findings import source_lines

    ev = synth.generate(60, seed=4).events
    folder = tmp_path / "events"
    folder.mkdir()
    doubled = pd.concat([ev, ev.iloc[[3, 4, 40, 40]]], ignore_index=True)
    for k in range(2):
        doubled.iloc[k::2].to_parquet(folder / f"part-{k}.parquet", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        here = load_inputs(events_path=str(folder))
        there = load_inputs(events_path=str(folder), dask_address=local_cluster.scheduler_address)
    assert here.summary()["duplicates_dropped"] == there.summary()["duplicates_dropped"] == 4
    assert here.summary()["events"] == there.summary()["events"] == len(ev)
    assert source_lines(here)[0].startswith("4 exact duplicate event rows (every column equal) were dropped")
    clean = tmp_path / "clean.parquet"
    ev.to_parquet(clean, index=False)
    assert load_inputs(events_path=str(clean)).summary()["duplicates_dropped"] == 0


def test_a_log_of_dates_only_keeps_equal_rows_alike_in_process_and_on_dask(local_cluster, client, tmp_path):
    """Timestamps without a time of day (CDNOW, weekly exports): two rows equal in every column may be two
    orders of one day, so they are kept and counted as kept, in process and on Dask; one timestamp with a
    time of day makes them export duplicates again (dropped)."""
    from cjlib.findings import source_lines

    ev = synth.generate(60, seed=4).events
    ev = ev.assign(timestamp=ev["timestamp"].dt.floor("D"))  # dates only
    ev = ev.drop_duplicates(ignore_index=True)
    doubled = pd.concat([ev, ev.iloc[[3, 4, 40, 40]]], ignore_index=True)
    for name, log in [("dated", doubled), ("timed", doubled.assign(timestamp=doubled["timestamp"].where(
            doubled.index != 0, doubled["timestamp"] + pd.Timedelta(hours=9))))]:
        folder = tmp_path / name
        folder.mkdir()
        for k in range(2):
            log.iloc[k::2].to_parquet(folder / f"part-{k}.parquet", index=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            here = load_inputs(events_path=str(folder)).summary()
            there = load_inputs(events_path=str(folder), dask_address=local_cluster.scheduler_address).summary()
        got = [(s["events"], s["duplicates_dropped"], s["duplicates_kept"]) for s in (here, there)]
        assert got == [(len(ev) + 4, 0, 4)] * 2 if name == "dated" else [(len(ev), 4, 0)] * 2, name
    lines = source_lines(load_inputs(events_path=str(tmp_path / "dated")))
    assert lines == ["4 event rows repeat another in every column; the timestamps are dates only, so they are "
                     "kept as separate events of the same day."]


def test_cdnow_keeps_its_same_day_orders(cdnow_events, tmp_path):
    # the master log lists 255 orders equal to another of the same customer, day and amount: real orders
    path = tmp_path / "cdnow.parquet"
    cdnow_events.to_parquet(path, index=False)
    s = load_inputs(events_path=str(path)).summary()
    assert (s["events"], s["duplicates_dropped"], s["duplicates_kept"]) == (69659, 0, 255)
