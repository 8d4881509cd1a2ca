"""Loaders: formats, column mapping, conventions and every validation rule."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import cjlib
from cjlib import DataError, DataWarning
from cjlib.io import (
    ensure_sorted,
    load_costs,
    load_customers,
    load_events,
    load_feedback,
    parse_columns,
)


def test_order_ties_keep_input_order_and_types(write_csv, tiny_events):
    ev = load_events(write_csv(tiny_events))
    assert ev["customer_id"].tolist() == ["a"] * 5 + ["b"] * 3
    # a's two events at 2025-01-02 09:00 keep input order: add_to_cart before purchase
    assert ev["event"].astype(str).tolist()[:5] == ["page_view", "add_to_cart", "purchase", "purchase", "review"]
    assert isinstance(ev["event"].dtype, pd.CategoricalDtype)
    assert isinstance(ev["channel"].dtype, pd.CategoricalDtype)
    assert ev["revenue"].sum() == 50.0
    assert isinstance(ev.index, pd.RangeIndex)
    assert ev["timestamp"].dt.tz is None


def test_parquet_file_folder_and_csv_agree(tmp_path, write_csv, tiny_events):
    a = load_events(write_csv(tiny_events))
    df = tiny_events.assign(timestamp=pd.to_datetime(tiny_events["timestamp"]))
    df.to_parquet(tmp_path / "e.parquet")
    (tmp_path / "parts").mkdir()
    df.iloc[:4].to_parquet(tmp_path / "parts" / "p0.parquet")
    df.iloc[4:].to_parquet(tmp_path / "parts" / "p1.parquet")
    for path in (tmp_path / "e.parquet", tmp_path / "parts"):
        b = load_events(path)
        pd.testing.assert_frame_equal(
            a[["customer_id", "event", "revenue"]].astype({"event": str}),
            b[["customer_id", "event", "revenue"]].astype({"event": str}))
        assert (a["timestamp"].to_numpy() == b["timestamp"].to_numpy()).all()


def test_timezones_become_naive_utc(write_csv):
    df = pd.DataFrame({"customer_id": ["a", "a", "a"], "event": ["page_view"] * 3,
                       "timestamp": ["2025-03-01T12:00:00+02:00", "2025-03-01 11:00:00", "2025-03-01T10:30:00Z"]})
    ev = load_events(write_csv(df))
    assert ev["timestamp"].dt.strftime("%H:%M").tolist() == ["10:00", "10:30", "11:00"]


@pytest.mark.parametrize("unit,scale", [("s", 1), ("ms", 10**3), ("us", 10**6)])
def test_integer_epochs(write_csv, unit, scale):
    t = pd.Timestamp("2025-06-01 12:00:00").value // 10**9
    df = pd.DataFrame({"customer_id": [1, 1], "event": ["page_view"] * 2, "timestamp": [t * scale, (t + 60) * scale]})
    ev = load_events(write_csv(df))
    assert ev["timestamp"].iloc[0] == pd.Timestamp("2025-06-01 12:00:00")
    assert ev["timestamp"].iloc[1] == pd.Timestamp("2025-06-01 12:01:00")


def test_column_mapping_dict_text_and_file(tmp_path, write_csv, tiny_events):
    theirs = tiny_events.rename(columns={"customer_id": "user_pseudo_id", "timestamp": "event_timestamp",
                                         "event": "event_name"})
    path = write_csv(theirs)
    mapping = {"customer_id": "user_pseudo_id", "timestamp": "event_timestamp", "event": "event_name"}
    (tmp_path / "cols.yml").write_text("customer_id: user_pseudo_id\ntimestamp: event_timestamp\nevent: event_name\n")
    for cols in (mapping, "{customer_id: user_pseudo_id, timestamp: event_timestamp, event: event_name}",
                 '{"customer_id": "user_pseudo_id", "timestamp": "event_timestamp", "event": "event_name"}',
                 str(tmp_path / "cols.yml")):
        ev = load_events(path, columns=cols)
        assert {"customer_id", "timestamp", "event"} <= set(ev.columns)
        assert len(ev) == 8
    with pytest.raises(DataError, match="user_id"):
        load_events(path, columns={"customer_id": "user_id"})
    assert parse_columns("") == {}


def _err(path, loader=load_events, **kw) -> DataError:
    with pytest.raises(DataError) as info:
        loader(path, **kw)
    return info.value


def test_missing_and_empty_files(tmp_path):
    e = _err(tmp_path / "nope.csv")
    assert e.rule == "file_exists" and "nope.csv" in str(e)
    (tmp_path / "empty.csv").write_text("")
    assert _err(tmp_path / "empty.csv").rule == "empty_input"
    (tmp_path / "header.csv").write_text("customer_id,timestamp,event\n")
    assert _err(tmp_path / "header.csv").rule == "empty_input"
    (tmp_path / "x.xlsx").write_text("x")
    assert _err(tmp_path / "x.xlsx").rule == "file_type"


def test_missing_required_column(write_csv, tiny_events):
    e = _err(write_csv(tiny_events.drop(columns="timestamp")))
    assert (e.column, e.rule) == ("timestamp", "missing_column")
    assert "events.csv" in str(e) and "\n" not in str(e)


def test_unparseable_timestamp_names_rows(write_csv, tiny_events):
    bad = tiny_events.copy()
    bad.loc[[2, 5], "timestamp"] = ["yesterday", "31/02/2025 25:00"]
    e = _err(write_csv(bad))
    assert (e.column, e.rule) == ("timestamp", "parseable_timestamp")
    assert "2 value(s)" in str(e) and "yesterday" in str(e) and len(e.examples) == 2


def test_negative_revenue(write_csv, tiny_events):
    e = _err(write_csv(tiny_events.assign(revenue=[None, None, None, -5.0, None, 20.0, None, None])))
    assert (e.column, e.rule) == ("revenue", "non_negative_revenue")
    assert "-5.0" in str(e) and "row 3" in str(e)


def test_null_ids_and_events(write_csv, tiny_events):
    e = _err(write_csv(tiny_events.assign(customer_id=[None, "a", "a", "a", "b", "a", "a", "b"])))
    assert (e.column, e.rule) == ("customer_id", "not_null")
    e = _err(write_csv(tiny_events.assign(event=["page_view", None, "x", "x", "x", "x", "x", "x"])))
    assert (e.column, e.rule) == ("event", "not_null")


def test_duplicates_dropped_by_default_and_kept_on_request(write_csv, tiny_events):
    path = write_csv(pd.concat([tiny_events, tiny_events.iloc[[1, 3]]]))
    with pytest.warns(DataWarning, match="2 exact duplicate"):
        ev = load_events(path)
    assert len(ev) == 8 and ev.attrs["duplicates_dropped"] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        kept = load_events(path, keep_duplicates=True)
    assert len(kept) == 10 and kept.attrs["duplicates"] == 2


def test_duplicates_interleaved_with_ties_match_pandas(tmp_path):
    """Copies of a row separated by other rows at the same instant, shuffled input: the loader drops
    exactly what ``drop_duplicates`` drops and keeps the first copy's place in input order."""
    rng = np.random.default_rng(3)
    m = 2500  # 2,500 rows over 60 customers x 30 hours: most rows share their instant with another
    base = pd.DataFrame({
        "customer_id": rng.choice([f"c{i:03d}" for i in range(60)], m),
        "timestamp": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 30, m), unit="h"),
        "event": rng.choice(["page_view", "product_view", "add_to_cart", "purchase"], m),
        "channel": rng.choice(["email", "direct", "social"], m),
        "revenue": rng.choice([0.0, 10.0], m),
    })
    df = pd.concat([base, base.sample(700, replace=True, random_state=2)])
    df = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    n = len(df)
    want = df.drop_duplicates()
    want = want.sort_values(["customer_id", "timestamp"], kind="stable", ignore_index=True)
    df.to_parquet(tmp_path / "e.parquet")
    with pytest.warns(DataWarning, match=f"{n - len(want):,} exact duplicate"):
        got = load_events(tmp_path / "e.parquet")
    assert n - len(want) > 100  # the case is not vacuous
    pd.testing.assert_frame_equal(got.astype({"event": str, "channel": str}),
                                  want.astype({"event": str, "channel": str}), check_dtype=False)


def test_parquet_categories_sorted_like_astype(tmp_path, tiny_events):
    df = tiny_events.assign(timestamp=pd.to_datetime(tiny_events["timestamp"]))
    df.to_parquet(tmp_path / "e.parquet")  # event and channel stored dictionary-encoded, in order of appearance
    ev = load_events(tmp_path / "e.parquet")
    for col in ("event", "channel"):
        assert ev[col].cat.categories.tolist() == sorted(set(tiny_events[col]))
        assert ev[col].astype(str).tolist() == load_events_csv_order(tiny_events, col)


def load_events_csv_order(df: pd.DataFrame, col: str) -> list[str]:
    d = df.assign(timestamp=pd.to_datetime(df["timestamp"]))
    return d.sort_values(["customer_id", "timestamp"], kind="stable")[col].astype(str).tolist()


def test_neighbour_comparison_memo_follows_the_array():
    from cjlib.io import neighbours_differ

    a = pd.Series(["a", "a", "b", "c", "c"], dtype="str")
    assert neighbours_differ(a).tolist() == [False, True, True, False]
    b = a.copy()
    b.iloc[1] = "z"  # a new Arrow array: the memo of ``a`` must not answer for it
    assert neighbours_differ(b).tolist() == [True, True, True, False]
    assert neighbours_differ(a).tolist() == [False, True, True, False]
    frame = pd.DataFrame({"customer_id": b, "timestamp": pd.Timestamp(0)})
    assert ensure_sorted(frame)["customer_id"].tolist() == ["a", "b", "c", "c", "z"]


def test_unknown_events_warn_and_count(write_csv, tiny_events):
    path = write_csv(tiny_events.assign(event=["page_view", "teleport", "teleport", "purchase", "x", "x", "x",
                                               "review"]))
    with pytest.warns(DataWarning, match=r"5 event\(s\) of 2 name\(s\)"):
        ev = load_events(path)
    assert ev.attrs["unknown_events"] == {"x": 3, "teleport": 2}


def test_other_tables(tmp_path, write_csv):
    cust = load_customers(write_csv({"customer_id": ["a", "b"], "age": [30, 40],
                                     "signup_date": ["2025-01-01", "2025-02-01"]}, "c.csv"))
    assert cust["signup_date"].dtype.kind == "M"
    e = _err(write_csv({"customer_id": ["a", "a"]}, "dup.csv"), load_customers)
    assert (e.column, e.rule) == ("customer_id", "unique")
    fb = load_feedback(write_csv({"customer_id": ["a", "b"], "timestamp": ["2025-01-01", "2025-01-02"],
                                  "score": [5, 9], "scale": ["csat", "NPS"]}, "f.csv"))
    assert fb["scale"].tolist() == ["csat", "nps"]
    e = _err(write_csv({"customer_id": ["a"], "timestamp": ["2025-01-01"], "score": [7]}, "f2.csv"), load_feedback)
    assert e.rule == "score_range"
    costs = load_costs(write_csv({"channel": ["email"], "spend": [10.5]}, "k.csv"))
    assert costs["spend"].iloc[0] == 10.5
    e = _err(write_csv({"channel": ["email"], "spend": [-1]}, "k2.csv"), load_costs)
    assert e.rule == "non_negative_spend"


def test_ensure_sorted_is_stable_and_idempotent(tiny_events):
    df = tiny_events.assign(timestamp=pd.to_datetime(tiny_events["timestamp"]))
    s = ensure_sorted(df)
    assert ensure_sorted(s) is s
    expected = df.reset_index().sort_values(["customer_id", "timestamp", "index"])["index"].tolist()
    assert s["event"].tolist() == df["event"].iloc[expected].tolist()


def test_load_inputs_switches_and_date_filter(small_sample):
    d = cjlib.load_inputs(events_path=str(small_sample / "events.parquet"), customers_path="",
                          feedback_path=str(small_sample / "feedback.parquet"), costs_path="",
                          start_date="2025-03-01", end_date="2025-06-01")
    assert d.customers is None and d.costs is None and d.feedback is not None
    assert d.events["timestamp"].min() >= pd.Timestamp("2025-03-01")
    assert d.events["timestamp"].max() < pd.Timestamp("2025-06-01")
    assert d.feedback["timestamp"].max() < pd.Timestamp("2025-06-01")
    assert d.summary()["events"] == len(d.events)
    with pytest.raises(DataError, match="no events"):
        cjlib.load_inputs(events_path=str(small_sample / "events.parquet"), start_date="2030-01-01")


def test_error_message_is_one_line_with_at_most_five_examples(write_csv, tiny_events):
    bad = tiny_events.assign(timestamp=["nope\nnope"] * 8)
    e = _err(write_csv(bad))
    assert len(e.examples) == 5 and "\n" not in str(e)
    assert np.all([ex.startswith("row ") for ex in e.examples])


# ------------------------------------------------------------------------- column mapping across tables
def _their_tables(tmp_path, tiny_events):
    """events in GA4-like names; customers and feedback in the contract's names (as users have them)."""
    ev = tiny_events.rename(columns={"customer_id": "user_pseudo_id", "timestamp": "event_timestamp"})
    ev.to_csv(tmp_path / "events.csv", index=False)
    pd.DataFrame({"user_pseudo_id": ["a", "b"], "plan": ["free", "pro"]}).to_csv(tmp_path / "customers.csv",
                                                                                 index=False)
    pd.DataFrame({"customer_id": ["a", "b"], "timestamp": ["2025-01-03", "2025-01-04"], "score": [4, 2],
                  "stage": ["purchase", "consideration"]}).to_csv(tmp_path / "feedback.csv", index=False)
    return {k: str(tmp_path / f"{k}.csv") for k in ("events", "customers", "feedback")}


def test_flat_mapping_applies_only_where_a_table_has_the_column(tmp_path, tiny_events):
    p = _their_tables(tmp_path, tiny_events)
    d = cjlib.load_inputs(events_path=p["events"], customers_path=p["customers"], feedback_path=p["feedback"],
                          columns="{customer_id: user_pseudo_id, timestamp: event_timestamp}")
    assert d.events["customer_id"].tolist() == ["a"] * 5 + ["b"] * 3
    assert d.customers.columns.tolist() == ["customer_id", "plan"]  # renamed: customers has user_pseudo_id
    assert d.feedback["score"].tolist() == [4.0, 2.0]  # no event_timestamp there: its timestamp stays
    assert d.feedback["timestamp"].tolist() == [pd.Timestamp("2025-01-03"), pd.Timestamp("2025-01-04")]


def test_identity_mapping_is_a_no_op(tmp_path, write_csv, tiny_events):
    ev = write_csv(tiny_events)
    cust = write_csv({"customer_id": ["a", "b"], "plan": ["free", "pro"]}, "customers.csv")
    d = cjlib.load_inputs(events_path=str(ev), customers_path=str(cust),
                          columns={"timestamp": "timestamp", "customer_id": "customer_id"})
    assert len(d.events) == 8 and d.customers["plan"].tolist() == ["free", "pro"]


def test_flat_mapping_entry_no_table_has_is_an_error(tmp_path, tiny_events):
    p = _their_tables(tmp_path, tiny_events)
    with pytest.raises(DataError) as info:
        cjlib.load_inputs(events_path=p["events"], customers_path=p["customers"],
                          columns={"customer_id": "user_pseudo_id", "timestamp": "event_timestmp"})
    e = info.value
    assert (e.column, e.rule) == ("timestamp", "missing_column")
    assert "'event_timestmp'" in str(e) and "events.csv" in str(e) and "customers.csv" in str(e)


def test_per_table_mapping(tmp_path, tiny_events):
    p = _their_tables(tmp_path, tiny_events)
    nested = ("{events: {customer_id: user_pseudo_id, timestamp: event_timestamp},"
              " customers: {customer_id: user_pseudo_id}}")
    for cols in (nested, parse_columns(nested), json_text(parse_columns(nested))):
        d = cjlib.load_inputs(events_path=p["events"], customers_path=p["customers"], feedback_path=p["feedback"],
                              columns=cols)
        assert d.customers["customer_id"].tolist() == ["a", "b"] and len(d.events) == 8
    # per table, every entry must name a column of that table
    with pytest.raises(DataError, match="'user_pseudo_id' for 'customer_id'") as info:
        cjlib.load_inputs(events_path=p["events"], feedback_path=p["feedback"],
                          columns={"events": {"customer_id": "user_pseudo_id", "timestamp": "event_timestamp"},
                                   "feedback": {"customer_id": "user_pseudo_id"}})
    assert "feedback.csv" in str(info.value)
    with pytest.raises(ValueError, match="'event'.*events, customers, feedback, costs"):
        cjlib.load_inputs(events_path=p["events"], columns={"event": {"customer_id": "user_pseudo_id"}})
    with pytest.raises(ValueError, match="either flat .* or per table"):
        cjlib.load_inputs(events_path=p["events"], columns={"events": {"customer_id": "user_pseudo_id"},
                                                            "timestamp": "event_timestamp"})


def json_text(mapping) -> str:
    import json

    return json.dumps(mapping)


# ----------------------------------------------------------------------------------------- sample files
def test_missing_sample_file_says_run_make_data(monkeypatch, tmp_path):
    from cjlib.paths import SAMPLE_DIR

    monkeypatch.chdir(tmp_path)  # as papermill run from another folder: the default resolves to the project
    e = _err("data/sample/not_generated.parquet")
    assert e.rule == "file_exists" and str(SAMPLE_DIR / "not_generated.parquet") in str(e)
    assert "run `make data` first" in str(e)
    e = _err(SAMPLE_DIR / "also_missing.csv", load_customers)
    assert "run `make data` first" in str(e)
    assert "make data" not in str(_err(tmp_path / "elsewhere.csv"))  # the user's own file: no such hint


# ------------------------------------------------------------------------------- feedback stage names
def test_feedback_stages_not_in_the_stage_map_warn_and_count(write_csv, tiny_events):
    ev = write_csv(tiny_events)
    fb = write_csv({"customer_id": ["a", "a", "b", "b", "b"],
                    "timestamp": ["2025-01-02", "2025-01-03", "2025-01-03", "2025-01-04", "2025-01-05"],
                    "score": [4, 5, 3, 2, 1],
                    "stage": ["Purchase", "purchase", "checkout", "Purchase", None]}, "feedback.csv")
    with pytest.warns(DataWarning) as rec:
        d = cjlib.load_inputs(events_path=str(ev), feedback_path=str(fb))
    text = " ".join(str(w.message) for w in rec if "stage" in str(w.message))
    assert "3 of 5 feedback row(s)" in text and "'Purchase' (2)" in text and "'checkout' (1)" in text
    assert "awareness, consideration, purchase, retention, advocacy" in text
    assert d.unmatched_stages == 3
    fb_ok = write_csv({"customer_id": ["a"], "timestamp": ["2025-01-02"], "score": [4], "stage": ["purchase"]},
                      "fb_ok.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        d = cjlib.load_inputs(events_path=str(write_csv(tiny_events.iloc[[0, 1, 3]], "ev_known.csv")),
                              feedback_path=str(fb_ok))
    assert d.unmatched_stages == 0


# ---------------------------------------------------------------------------------------- relative paths
def test_relative_paths_from_the_current_directory_else_the_project_root(monkeypatch, tmp_path):
    from cjlib.paths import PROJ_ROOT, resolve

    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "events.csv").write_text("x\n")
    monkeypatch.chdir(tmp_path)
    assert resolve("exports/events.csv") == tmp_path / "exports" / "events.csv"
    assert resolve("data/stage_map.yml") == PROJ_ROOT / "data" / "stage_map.yml"  # a notebook default
    assert resolve("exports/missing.csv") == PROJ_ROOT / "exports" / "missing.csv"
    assert resolve(tmp_path / "abs.csv") == tmp_path / "abs.csv"
    monkeypatch.chdir(PROJ_ROOT / "notebooks")  # where nbval and JupyterLab start
    assert resolve("data/stage_map.yml") == PROJ_ROOT / "data" / "stage_map.yml"


def test_mapping_onto_an_existing_name_and_switched_off_tables(tmp_path, tiny_events):
    p = _their_tables(tmp_path, tiny_events)
    both = tiny_events.assign(user_pseudo_id=tiny_events["customer_id"])
    both.to_csv(tmp_path / "both.csv", index=False)
    with pytest.raises(DataError) as info:
        cjlib.load_inputs(events_path=str(tmp_path / "both.csv"), columns={"customer_id": "user_pseudo_id"})
    e = info.value
    assert (e.column, e.rule) == ("customer_id", "duplicate_column") and "both.csv" in str(e)
    # a per-table part for a table that is switched off is ignored; unlisted tables keep their names
    d = cjlib.load_inputs(events_path=p["events"], feedback_path=p["feedback"],
                          columns={"events": {"customer_id": "user_pseudo_id", "timestamp": "event_timestamp"},
                                   "customers": {"customer_id": "no_such_column"}})
    assert d.customers is None and d.feedback["customer_id"].tolist() == ["a", "b"]


# ------------------------------------------------------------------------------- issue 15: bad input
DDMM = "customer_id,timestamp,event\na,02/01/2025 00:12:16,page_view\na,03/01/2025 09:00:00,purchase\n"


def test_timestamp_format_by_keyword_mapping_and_load_inputs(tmp_path, write_csv):
    """An all-ambiguous dd/mm column stops; each way of naming the order reads it, a table's own part of the
    mapping winning over the keyword of load_inputs."""
    (tmp_path / "ev.csv").write_text(DDMM)
    ev = str(tmp_path / "ev.csv")
    with pytest.raises(DataError, match="timestamp_format") as info:
        load_events(ev)
    assert (info.value.rule, info.value.column) == ("ambiguous_timestamp", "timestamp")
    jan = [pd.Timestamp("2025-01-02 00:12:16"), pd.Timestamp("2025-01-03 09:00:00")]
    feb = [pd.Timestamp("2025-02-01 00:12:16"), pd.Timestamp("2025-03-01 09:00:00")]
    assert load_events(ev, timestamp_format="dayfirst")["timestamp"].tolist() == jan
    assert load_events(ev, timestamp_format="%m/%d/%Y %H:%M:%S")["timestamp"].tolist() == feb
    assert load_events(ev, columns="{timestamp_format: monthfirst}")["timestamp"].tolist() == feb
    assert load_events(ev, columns={"events": {"timestamp_format": "dayfirst"}})["timestamp"].tolist() == jan
    assert cjlib.load_inputs(events_path=ev, timestamp_format="dayfirst").events["timestamp"].tolist() == jan
    d = cjlib.load_inputs(events_path=ev, timestamp_format="dayfirst",
                          columns={"events": {"timestamp_format": "monthfirst"}})
    assert d.events["timestamp"].tolist() == feb
    # a flat mapping's option reaches feedback too; ISO values there are unaffected by an order
    fb = write_csv({"customer_id": ["a", "a"], "timestamp": ["04/01/2025", "2025-01-05"], "score": [4, 5]}, "fb.csv")
    d = cjlib.load_inputs(events_path=ev, feedback_path=str(fb), columns={"timestamp_format": "dayfirst"})
    assert d.feedback["timestamp"].tolist() == [pd.Timestamp("2025-01-04"), pd.Timestamp("2025-01-05")]


def test_integer_event_ids_meet_text_customer_ids(write_csv):
    """Integer ids in events and text ids in customers: every table's ids become text, the events stay
    ordered, and customer attributes attach (this crashed with ``invalid literal for int()``)."""
    from cjlib.scorecard import customer_segments

    ev = write_csv({"customer_id": [10, 2, 2, 1], "timestamp": ["2025-01-01", "2025-01-02", "2025-01-03",
                                                                "2025-01-04"],
                    "event": ["page_view", "page_view", "purchase", "page_view"]}, "ev.csv")
    cu = write_csv({"customer_id": ["1", "x2", "10"], "plan": ["free", "pro", "pro"]}, "cu.csv")
    d = cjlib.load_inputs(events_path=str(ev), customers_path=str(cu))
    assert d.events["customer_id"].tolist() == ["1", "10", "2", "2"]
    assert d.customers["customer_id"].tolist() == ["1", "x2", "10"]
    seg = customer_segments(d.events, by=["plan"], customers=d.customers)
    assert seg.index.tolist() == ["1", "10", "2"]
    assert seg["plan"].iloc[:2].tolist() == ["free", "pro"] and pd.isna(seg["plan"].iloc[2])
    same = cjlib.load_inputs(events_path=str(ev), customers_path=str(write_csv({"customer_id": [1, 2]}, "c2.csv")))
    # ids in CSV are read as written, text: a leading zero survives, so exports join back to the source
    assert same.events["customer_id"].tolist() == ["1", "10", "2", "2"]
    zeros = write_csv({"customer_id": ["00017", "00017", "2"], "timestamp": ["2025-01-01", "2025-01-02", "2025-01-03"],
                       "event": ["page_view", "purchase", "page_view"]}, "z.csv")
    assert cjlib.load_events(str(zeros))["customer_id"].tolist() == ["00017", "00017", "2"]
    with pytest.warns(DataWarning, match="no customer_id matches"):
        cjlib.load_inputs(events_path=str(ev), customers_path=str(write_csv({"customer_id": ["z"]}, "c3.csv")))


def test_cost_period_is_a_month_and_unknown_cost_channels_warn(write_csv, tiny_events):
    k = write_csv({"channel": ["email", "email", "tv", "social"], "spend": [1, 2, 3, 4],
                   "period": ["2025-01", "2025/02", "2025-03-15", "2025-01-01T00:00:00"]}, "k.csv")
    assert load_costs(k)["period"].tolist() == ["2025-01", "2025-02", "2025-03", "2025-01"]
    with pytest.warns(DataWarning, match=r"1 cost channel\(s\) appear in no event \('tv'\)"):
        d = cjlib.load_inputs(events_path=str(write_csv(tiny_events)), costs_path=str(k))
    assert d.costs["spend"].sum() == 10
    e = _err(write_csv({"channel": ["email", "tv"], "spend": [1, 2], "period": ["2025-01", "Q1"]}, "k2.csv"),
             load_costs)
    assert (e.column, e.rule) == ("period", "period_format") and "row 1" in str(e) and "k2.csv" in str(e)


def test_errors_of_the_loaders_are_data_errors_naming_what(tmp_path, write_csv, tiny_events):
    ev = str(write_csv(tiny_events))
    for kwargs, rule, needle in [
        ({"events_path": ""}, "file_exists", "events_path is required"),
        ({"events_path": ev, "start_date": "2025-13-01"}, "parseable_date", "parameter 'start_date'"),
        ({"events_path": ev, "start_date": "2025-02-01", "end_date": "2025-02-01"}, "date_range", "end_date"),
        ({"events_path": ev, "columns": ["customer_id"]}, "column_mapping", "columns must be a mapping"),
    ]:
        with pytest.raises(DataError) as info:
            cjlib.load_inputs(**kwargs)
        assert info.value.rule == rule and needle in str(info.value), str(info.value)
    assert _err("").parameter == "events_path"
    assert _err(None, load_customers).parameter == "customers_path"
    (tmp_path / "latin.csv").write_bytes("customer_id,timestamp,event\nz\xe9,2025-01-01,x\n".encode("latin-1"))
    e = _err(tmp_path / "latin.csv")
    assert e.rule == "encoding" and "latin.csv" in str(e) and "UTF-8" in str(e)


def test_start_date_with_an_offset_is_taken_in_utc(small_sample):
    d = cjlib.load_inputs(events_path=str(small_sample / "events.parquet"), start_date="2025-03-01T02:00:00+02:00",
                          end_date="2025-03-02")
    assert d.events["timestamp"].min() >= pd.Timestamp("2025-03-01 00:00")


# ------------------------------------------------------------------------------------------- personas
def test_with_personas_joins_the_persona_column(write_csv):
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "plan": ["free", "pro", "free"]})
    path = write_csv({"customer_id": ["b", "a", "z"], "persona": ["bargain", "loyal", "ghost"],
                      "extra": [1, 2, 3]}, "personas.csv")
    out = cjlib.io.with_personas(customers, str(path))
    assert pd.isna(out["persona"].iloc[2])  # c has no persona; z, a persona without a customer, is not added
    assert out["persona"].iloc[:2].tolist() == ["loyal", "bargain"] and list(out.columns) == ["customer_id", "plan",
                                                                                              "persona"]
    alone = cjlib.io.with_personas(None, str(path))
    assert alone["customer_id"].tolist() == ["b", "a", "z"] and list(alone.columns) == ["customer_id", "persona"]
    assert cjlib.io.with_personas(customers, "") is customers
    with pytest.raises(DataError, match="persona"):
        cjlib.io.with_personas(customers, str(write_csv({"customer_id": ["a"]}, "no_persona.csv")))
