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
