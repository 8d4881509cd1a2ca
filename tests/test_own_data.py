"""A user's own files: CSV dialects spreadsheets write, and a params file that names only the events.

- A ``;``-separated CSV (spreadsheets in many locales) with decimal commas, a ``|``-separated one and a
  UTF-8 file with a byte-order mark read as the same log as the plain comma CSV.
- A run given only ``events_path`` never joins the bundled sample's customers, feedback or spend to another
  log's customers (the notebooks' defaults point at ``data/sample``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import cjlib
from cjlib.paths import PROJ_ROOT, SAMPLE_DIR
from cjlib.report.notebook import load


def _log(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"customer_id": [f"c{i}" for i in rng.integers(0, 60, n)],
                       "timestamp": (pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 90 * 86400, n),
                                                                                   unit="s")).astype(str),
                       "event": rng.choice(["page_view", "add_to_cart", "purchase"], n, p=[0.6, 0.3, 0.1]),
                       "channel": rng.choice(["Email, weekly", "Paid Search", "Organic"], n)})
    df["revenue"] = np.where(df["event"] == "purchase", rng.integers(100, 9999, n) / 100, 0.0)
    return df


def _events(path) -> pd.DataFrame:
    ev = cjlib.load_inputs(events_path=str(path)).events
    return ev.sort_values(["customer_id", "timestamp", "event"]).reset_index(drop=True)


@pytest.mark.parametrize("dialect", ["semicolon_decimal_comma", "pipe", "bom"])
def test_spreadsheet_csv_dialects_read_as_the_plain_csv(tmp_path, dialect):
    df = _log()
    df.to_csv(tmp_path / "plain.csv", index=False)
    path = tmp_path / f"{dialect}.csv"
    if dialect == "semicolon_decimal_comma":
        df.to_csv(path, index=False, sep=";", decimal=",")
        text = path.read_text()
        assert "Email, weekly" in text and len(re.findall(r";\d+,\d+\n", text)) > 20  # decimal commas
    elif dialect == "pipe":
        df.to_csv(path, index=False, sep="|")
    else:
        df.to_csv(path, index=False, encoding="utf-8-sig")
        assert path.read_bytes()[:3] == b"\xef\xbb\xbf"
    got, want = _events(path), _events(tmp_path / "plain.csv")
    pd.testing.assert_frame_equal(got, want)
    assert got["revenue"].sum() == pytest.approx(df["revenue"].sum())  # 12,5 read as 12.5, not as text
    assert cjlib.reading.column_names(path) == list(df.columns)


def test_semicolon_file_keeps_text_that_only_looks_like_decimals(tmp_path):
    # a customer id such as '12,5' is mixed with plain ids: the column is text, not numbers
    df = pd.DataFrame({"customer_id": ["12,5", "a7", "12,5"], "timestamp": ["2025-01-01", "2025-01-02", "2025-01-03"],
                       "event": ["page_view", "purchase", "purchase"], "revenue": ["0", "3,25", "1,5"]})
    df.to_csv(tmp_path / "e.csv", index=False, sep=";")
    ev = _events(tmp_path / "e.csv")
    assert sorted(ev["customer_id"].unique()) == ["12,5", "a7"]
    assert ev["revenue"].tolist() == [0.0, 1.5, 3.25]


def test_load_never_joins_the_samples_tables_to_another_log(tmp_path):
    _log().to_csv(tmp_path / "events.csv", index=False)
    data = load({"events_path": str(tmp_path / "events.csv"),
                 "customers_path": "data/sample/customers.parquet", "feedback_path": "data/sample/feedback.parquet",
                 "costs_path": "data/sample/costs.csv"})
    s = data.summary()
    assert (s["has_customers"], s["has_feedback"], s["has_costs"], s["customers"]) == (False, False, False, 60)
    # the sample's own events keep the sample's tables
    assert load({"events_path": str(SAMPLE_DIR / "events.parquet"),
                 "customers_path": "data/sample/customers.parquet"}).summary()["has_customers"] is True


def test_cli_params_file_with_only_events_reports_the_tables_switched_off(tmp_path):
    _log().to_csv(tmp_path / "events.csv", index=False)
    (tmp_path / "p.yaml").write_text("events_path: events.csv\ncosts_path: ''\n")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "cjlib", "report", "00_journey_map", "-f", str(tmp_path / "p.yaml"),
                        "--out", str(out)], cwd=PROJ_ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "00_journey_map.metrics.json").read_text())
    params = m["parameters"]
    assert (params["customers_path"], params["feedback_path"], params["costs_path"]) == ("", "", "")
    assert params["stage_map_path"].endswith("stage_map.yml")  # the generic stage map stays


def test_churn_models_fit_when_a_customer_attribute_is_missing_for_everyone():
    # a customers table that shares no id with the events (or an attribute only later customers have):
    # the attribute is all missing in training; 04 stopped with "Found array with 0 feature(s)"
    from cjlib import churn

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"recency_days": rng.uniform(0, 60, 200), "segment": pd.Series([None] * 200, dtype=object)})
    y = pd.Series((X["recency_days"] + rng.normal(0, 10, 200) > 30).astype(int))
    for kind in ("logistic", "gbm"):
        p = churn.make_model(kind, X, seed=0).fit(X, y).predict_proba(X)[:, 1]
        assert np.isfinite(p).all() and np.corrcoef(p, X["recency_days"])[0, 1] > 0.5
