"""Bad and unusual inputs at the loader level, kept with their expected outcome (issue 15).

Every bad case must raise :class:`cjlib.DataError` (a ``ValueError``) whose message is one line naming the
file (or the parameter) and the column, with its rule; every unusual-but-valid case must load to the right
answer. Property-based cases (hypothesis) check that day/month text is never read one way for some rows and
the other way for others, and that amounts are accepted exactly when finite, non-negative and below 1e15.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cjlib
from cjlib import DataError, DataWarning
from cjlib.io import MAX_AMOUNT, _validate
from cjlib.timestamps import parse_timestamps

HEAD = "customer_id,timestamp,event,channel,revenue\n"
OK_ROWS = "a,2025-01-01 10:00,page_view,email,\na,2025-01-02 11:00,purchase,email,30\n"


def _events(rows: str = "", head: str = HEAD) -> str:
    return head + OK_ROWS + rows


def _parts(folder: Path, *frames: pd.DataFrame) -> None:
    folder.mkdir()
    for i, f in enumerate(frames):
        f.to_parquet(folder / f"day={i + 1}.parquet")


_FRAME = pd.DataFrame({"customer_id": ["a", "b"], "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02"]),
                       "event": ["page_view", "purchase"], "channel": ["email", "social"],
                       "revenue": [None, 12.5]})
_MAP = "stages:\n  - name: awareness\n    events: [page_view]\nconversion_events: purchase\n"

# id: (files: name -> text | bytes | callable(path)), load_inputs keywords (paths relative to the folder),
#     expected rule, text the message must hold (besides the file, checked for every case naming one)
CASES = {
    # timestamps: never one order for some rows and the other for the rest
    "ddmm_every_value_ambiguous": (
        {"events.csv": HEAD + "a,02/01/2025 00:12:16,page_view,email,\na,03/01/2025 09:00:00,purchase,email,5\n"},
        {"events_path": "events.csv"}, "ambiguous_timestamp", ["column 'timestamp'", "timestamp_format"]),
    "ddmm_and_mmdd_in_one_column": (
        {"events.csv": HEAD + "a,25/01/2025 00:12:16,page_view,email,\na,01/25/2025 09:00:00,purchase,email,5\n"},
        {"events_path": "events.csv"}, "consistent_timestamp", ["column 'timestamp'", "'25/01/2025 00:12:16'",
                                                               "'01/25/2025 09:00:00'"]),
    "strftime_format_not_met": (
        {"events.csv": _events()}, {"events_path": "events.csv", "timestamp_format": "%d/%m/%Y %H:%M:%S"},
        "parseable_timestamp", ["column 'timestamp'", "%d/%m/%Y %H:%M:%S", "2025-01-01 10:00"]),
    "timestamp_format_not_a_format": (
        {"events.csv": _events()}, {"events_path": "events.csv", "columns": {"timestamp_format": "sometimes"}},
        "column_mapping", ["timestamp_format", "dayfirst, monthfirst"]),
    "timestamp_format_keyword_not_a_format": (
        {"events.csv": _events()}, {"events_path": "events.csv", "timestamp_format": "yyyy-mm-dd"},
        "timestamp_format", ["parameter 'timestamp_format'", "'yyyy-mm-dd'"]),
    "day_31_of_february": (
        {"events.csv": _events("b,31/02/2025 10:00,page_view,email,\nb,13/01/2025 10:00,page_view,email,\n")},
        {"events_path": "events.csv"}, "parseable_timestamp", ["'31/02/2025 10:00'"]),
    # values
    "revenue_inf": ({"events.csv": _events("b,2025-01-03,purchase,email,inf\n")}, {"events_path": "events.csv"},
                    "finite_revenue", ["column 'revenue'", "revenue=inf"]),
    "revenue_1e300": ({"events.csv": _events("b,2025-01-03,purchase,email,1e300\n")},
                      {"events_path": "events.csv"}, "finite_revenue", ["1e+300"]),
    "cost_inf": ({"events.csv": "customer_id,timestamp,event,cost\na,2025-01-01,page_view,inf\n"},
                 {"events_path": "events.csv"}, "finite_cost", ["column 'cost'"]),
    "score_inf": ({"events.csv": _events(), "feedback.csv": "customer_id,timestamp,score\na,2025-01-01,inf\n"},
                  {"events_path": "events.csv", "feedback_path": "feedback.csv"}, "finite_score",
                  ["feedback.csv", "column 'score'"]),
    "spend_1e300": ({"events.csv": _events(), "costs.csv": "channel,spend\nemail,1e300\n"},
                    {"events_path": "events.csv", "costs_path": "costs.csv"}, "finite_spend", ["costs.csv"]),
    "duplicated_header": ({"events.csv": "customer_id,timestamp,event,event\na,2025-01-01,page_view,email\n"},
                          {"events_path": "events.csv"}, "duplicate_header", ["column 'event'", "columns 3, 4"]),
    "duplicated_header_gzip": (
        {"events.csv.gz": lambda p: pd.DataFrame([["a", "2025-01-01", "page_view", "email"]],
                                                 columns=["customer_id", "timestamp", "event", "channel"])
         .to_csv(p, index=False, header=["customer_id", "timestamp", "event", "timestamp"])},
        {"events_path": "events.csv.gz"}, "duplicate_header", ["column 'timestamp'"]),
    "duplicated_header_customers": (
        {"events.csv": _events(), "customers.csv": "customer_id,plan,plan\na,free,pro\n"},
        {"events_path": "events.csv", "customers_path": "customers.csv"}, "duplicate_header",
        ["customers.csv", "column 'plan'"]),
    "partition_without_channel": (
        {"parts": lambda p: _parts(p, _FRAME, _FRAME.drop(columns="channel"))}, {"events_path": "parts"},
        "schema_mismatch", ["column 'channel'", "day=2.parquet", "day=1.parquet"]),
    "partition_with_ids_cast": (
        {"parts": lambda p: _parts(p, _FRAME, _FRAME.assign(customer_id=[1, 2]))}, {"events_path": "parts"},
        "schema_mismatch", ["column 'customer_id'", "numbers in day=2.parquet", "text in day=1.parquet"]),
    # costs
    "cost_period_not_a_month": ({"events.csv": _events(), "costs.csv": "channel,period,spend\nemail,Jan 2025,5\n"},
                                {"events_path": "events.csv", "costs_path": "costs.csv"}, "period_format",
                                ["column 'period'", "period='Jan 2025'"]),
    "cost_period_month_13": ({"events.csv": _events(), "costs.csv": "channel,period,spend\nemail,2025-13,5\n"},
                             {"events_path": "events.csv", "costs_path": "costs.csv"}, "period_format", ["2025-13"]),
    "cost_period_missing": ({"events.csv": _events(), "costs.csv": "channel,period,spend\nemail,,5\n"},
                            {"events_path": "events.csv", "costs_path": "costs.csv"}, "period_format", ["row 0"]),
    # encodings: the file is named, not only "'utf-8' codec can't decode"
    "events_latin1": ({"events.csv": _events("b,2025-01-03,page_view,caf\xe9,\n").encode("latin-1")},
                      {"events_path": "events.csv"}, "encoding", ["not UTF-8", "0xe9"]),
    "stage_map_latin1": ({"events.csv": _events(), "map.yml": _MAP.replace("awareness", "d\xe9couverte")
                          .encode("latin-1")},
                         {"events_path": "events.csv", "stage_map_path": "map.yml"}, "encoding",
                         ["stage map", "not UTF-8"]),
    "columns_file_binary": ({"events.csv": _events(), "cols.yml": b"\xff\xfe\x00\x01binary"},
                            {"events_path": "events.csv", "columns": "cols.yml"}, "encoding",
                            ["column mapping", "parameter 'columns'"]),
    # parameters of the loaders
    "columns_not_a_mapping": ({"events.csv": _events()}, {"events_path": "events.csv", "columns": 123},
                              "column_mapping", ["columns must be a mapping", "123"]),
    "columns_unknown_table": ({"events.csv": _events()},
                              {"events_path": "events.csv", "columns": {"event": {"customer_id": "uid"}}},
                              "column_mapping", ["table 'event'"]),
    "columns_file_missing": ({"events.csv": _events()}, {"events_path": "events.csv", "columns": "cols.yml"},
                             "file_exists", ["cols.yml", "parameter 'columns'"]),
    "columns_yaml_broken": ({"events.csv": _events(), "cols.yml": "events: {event: [unclosed\n"},
                            {"events_path": "events.csv", "columns": "cols.yml"}, "column_mapping",
                            ["cols.yml", "not valid YAML"]),
    "start_date_not_a_date": ({"events.csv": _events()}, {"events_path": "events.csv", "start_date": "soon"},
                              "parseable_date", ["parameter 'start_date'", "'soon'"]),
    "start_date_day_month": ({"events.csv": _events()}, {"events_path": "events.csv", "start_date": "01/02/2025"},
                             "parseable_date", ["parameter 'start_date'", "2025-01-31"]),
    "end_date_a_number": ({"events.csv": _events()}, {"events_path": "events.csv", "end_date": 5},
                          "parseable_date", ["parameter 'end_date'"]),
    "start_after_end": ({"events.csv": _events()},
                        {"events_path": "events.csv", "start_date": "2025-06-01", "end_date": "2025-01-01"},
                        "date_range", ["start_date '2025-06-01'", "end_date '2025-01-01'"]),
    "events_path_empty": ({}, {"events_path": ""}, "file_exists", ["events_path is required"]),
    "events_path_not_a_path": ({}, {"events_path": 42}, "file_exists", ["parameter 'events_path'", "int 42"]),
    "customers_path_not_a_path": ({"events.csv": _events()}, {"events_path": "events.csv", "customers_path": 7},
                                  "file_exists", ["parameter 'customers_path'"]),
    "stage_map_is_a_folder": ({"events.csv": _events(), "maps/x.yml": _MAP},
                              {"events_path": "events.csv", "stage_map_path": "maps"}, "file_exists", ["folder"]),
    "every_event_unknown_to_the_map": ({"events.csv": HEAD + "a,2025-01-01,teleport,email,\nb,2025-01-02,warp,,\n"},
                                       {"events_path": "events.csv"}, "known_events",
                                       ["none of the 2 event names", "'teleport'", "stage_map_path"]),
    "stage_map_journeys_a_list": ({"events.csv": _events(), "map.yml": _MAP + "journeys: [a, b]\n"},
                                  {"events_path": "events.csv", "stage_map_path": "map.yml"}, "stage_map",
                                  ["'journeys' must map"]),
}


def _write(folder: Path, files: dict) -> None:
    for name, content in files.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(p)
        elif isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_data_error_naming_file_and_rule(case, tmp_path):
    files, kwargs, rule, needles = CASES[case]
    _write(tmp_path, files)
    kw = {k: str(tmp_path / v) if k.endswith("_path") and isinstance(v, str) and v else v for k, v in kwargs.items()}
    if isinstance(kw.get("columns"), str):
        kw["columns"] = str(tmp_path / kw["columns"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        with pytest.raises(DataError) as info:
            cjlib.load_inputs(**kw)
    err, text = info.value, str(info.value)
    assert isinstance(err, ValueError)
    assert err.rule == rule, text
    assert "\n" not in text and len(text) < 600, text
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text!r}"
    named = [Path(v).name for k, v in kw.items() if k in ("events_path", "customers_path", "feedback_path",
                                                             "costs_path", "stage_map_path") and isinstance(v, str) and v]
    assert err.file or err.parameter, text
    if err.file:
        assert any(n in text for n in named + ["cols.yml"]), text


# --------------------------------------------------------------------------------- unusual but valid input
def test_a_day_above_12_makes_the_whole_column_day_first(tmp_path):
    """The issue's case: 35 % of rows were read month-first. One value with day 25 decides for all."""
    rng = np.random.default_rng(5)
    times = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 120 * 86400, 400), unit="s")
    times = pd.DatetimeIndex([pd.Timestamp("2025-01-02 00:12:16"), *times])  # first: read 1 Feb per row
    df = pd.DataFrame({"customer_id": rng.choice(list("abcdefgh"), 401), "event": "page_view",
                       "timestamp": times.strftime("%d/%m/%Y %H:%M:%S")})
    df.to_csv(tmp_path / "events.csv", index=False)
    got = cjlib.load_events(tmp_path / "events.csv", keep_duplicates=True)
    want = df.assign(timestamp=pd.to_datetime(times)).sort_values(["customer_id", "timestamp"], kind="stable")
    assert (got["timestamp"].to_numpy() == want["timestamp"].to_numpy()).all()
    assert df["timestamp"].iloc[0] == "02/01/2025 00:12:16"
    assert pd.Timestamp("2025-01-02 00:12:16") in set(got["timestamp"])
    assert (times.day <= 12).mean() > 0.3  # the rows a per-row guess got wrong are there


@pytest.mark.parametrize("sep", ["/", ".", "-"])
def test_day_month_separators_and_iso_in_one_column(tmp_path, sep):
    path = tmp_path / "events.csv"
    path.write_text(HEAD + f"a,02{sep}01{sep}2025 08:00,page_view,email,\na,2025-01-03T10:00:00+02:00,page_view,email,\n"
                           f"a,13{sep}01{sep}25 09:00,page_view,email,\n")
    ts = cjlib.load_events(path)["timestamp"].tolist()
    assert ts == [pd.Timestamp("2025-01-02 08:00"), pd.Timestamp("2025-01-03 08:00"), pd.Timestamp("2025-01-13 09:00")]


def test_partitions_differing_in_width_or_empty_columns(tmp_path):
    """Partitions differing only in width read as one widened schema; an all-null column in one warns."""
    _parts(tmp_path / "w", _FRAME, _FRAME.assign(revenue=[1, 2]))
    ev = cjlib.load_events(tmp_path / "w", keep_duplicates=True)
    assert sorted(ev["revenue"].dropna().tolist()) == [1.0, 2.0, 12.5]
    _parts(tmp_path / "n", _FRAME, _FRAME.assign(channel=[None, None], customer_id=["c", "d"]))
    with pytest.warns(DataWarning, match=r"'channel' holds no value in 1 of 2 partition file\(s\) \(day=2.parquet\)"):
        ev = cjlib.load_events(tmp_path / "n")
    assert ev["channel"].isna().sum() == 2


# --------------------------------------------------------------------------------------- property-based
_DATES = st.lists(st.datetimes(min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
                               max_value=pd.Timestamp("2035-12-31").to_pydatetime()), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dates=_DATES, day_first=st.booleans(), sep=st.sampled_from(["/", ".", "-"]))
def test_day_month_text_is_read_right_or_stopped(dates, day_first, sep):
    """Rendered day-first or month-first, a column parses to exactly its dates, or stops as ambiguous
    exactly when no value has a day above 12 and some value reads two ways; never a silent mix."""
    ts = pd.Series(pd.to_datetime(dates)).dt.floor("s")
    fmt = f"%d{sep}%m{sep}%Y %H:%M:%S" if day_first else f"%m{sep}%d{sep}%Y %H:%M:%S"
    text = ts.dt.strftime(fmt)
    decided = (ts.dt.day > 12).any()
    two_ways = ((ts.dt.day <= 12) & (ts.dt.day != ts.dt.month)).any()
    try:
        got = parse_timestamps(text, file="x.csv")
    except DataError as err:
        assert err.rule == "ambiguous_timestamp" and not decided and two_ways
        order = "dayfirst" if day_first else "monthfirst"
        assert (parse_timestamps(text, timestamp_format=order) == ts).all()  # the user's answer is honoured
        return
    assert decided or not two_ways
    assert (got == ts).all()


_AMOUNTS = st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e15, 1e300, 0.0])),
                    min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(values=_AMOUNTS)
def test_revenue_is_accepted_exactly_when_finite_non_negative_and_bounded(values):
    df = pd.DataFrame({"customer_id": "a", "timestamp": "2025-01-01", "event": "purchase", "revenue": values})
    given_ = pd.Series(values, dtype=float).dropna()
    ok = bool(((given_ >= 0) & (given_ < MAX_AMOUNT)).all())
    try:
        out = _validate(df, "events", "x.csv")
    except DataError as err:
        neg, big = bool((given_ < 0).any()), bool((given_ >= MAX_AMOUNT).any())
        assert not ok and err.rule in {"non_negative_revenue", "finite_revenue"}
        assert err.rule == "finite_revenue" or neg
        assert err.rule == "non_negative_revenue" or big
        return
    assert ok and np.isfinite(out["revenue"].dropna()).all()


# ---------------------------------------------------------------------------------------- on the CLI
_CLI_PATHS = {"events_path", "customers_path", "feedback_path", "costs_path", "stage_map_path"}
# the cases a user can give on the command line (paths as text; '' and non-text paths are library calls —
# on the CLI an empty events_path is a parameter error, tested in test_parameters.py)
_CLI_CASES = [c for c, (_, kwargs, _, _) in CASES.items()
              if set(kwargs) <= _CLI_PATHS and all(isinstance(v, str) and v for v in kwargs.values())]


def _snapshot(folder: Path) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", _CLI_CASES)
def test_cli_prints_one_line_and_leaves_old_reports_intact(case, tmp_path, capsys):
    """Every loader case given through the CLI: exit 2, one line naming the rule, and an --out holding a
    previous run's reports is byte for byte the same afterwards (nothing written, nothing removed)."""
    from cjlib import cli

    files, kwargs, rule, needles = CASES[case]
    _write(tmp_path, files)
    args = [a for k, v in kwargs.items() for a in ("-p", k, str(tmp_path / v))]
    out = tmp_path / "reports"
    out.mkdir()
    for name, text in {"00_journey_map.html": "<p>old</p>", "00_journey_map.metrics.json": "{}",
                       "00_journey_map.ipynb": "{}", "index.html": "<p>old index</p>",
                       "dropoff_carts.csv": "customer_id\nC1\n"}.items():
        (out / name).write_text(text)
    before = _snapshot(out)
    assert cli.main(["report", "00", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and f"rule {rule}" in err, err
    assert all(n in err for n in needles), err
    assert _snapshot(out) == before
