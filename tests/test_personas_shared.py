"""Issue 17: purchases-only logs cluster on purchase behaviour; a numeric postal code never enters; RFM
fallback. (One set of names across 01, 02 and 04 is checked on every gallery shape: tests/test_gallery.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cjlib.personas import fit_personas, rfm_labels

ROOT = Path(__file__).resolve().parents[1]


def _purchase_log(n=1500, seed=0):
    """Customers who buy often and spend much, and one-time small buyers, over a year."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        loyal = i % 3 == 0
        k = rng.integers(5, 12) if loyal else 1
        days = np.sort(rng.uniform(0, 360, k))
        for t in days:
            rows.append((f"c{i}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=float(t)),
                         float(rng.gamma(5, 20 if loyal else 4))))
    ev = pd.DataFrame(rows, columns=["customer_id", "timestamp", "revenue"]).assign(event="purchase")
    return ev


def _features(ev, customers=None):
    from cjlib.features import customer_features
    return customer_features(ev, customers=customers)


def test_purchase_behaviour_features_and_plain_names():
    f = _features(_purchase_log())
    r = fit_personas(f, purchase_behaviour=True, n_boot=5, seed=0)
    assert "events_per_session" not in r.columns_["numeric"] and "sessions_per_30d" not in r.columns_["numeric"]
    assert {"recency_days", "n_purchases", "aov", "tenure_days", "days_between_purchases"} <= set(r.columns_["numeric"])
    assert r.kind_ == "kmeans" and 2 <= r.k_ <= 8 and r.stability_["ari_min"] >= 0.7
    assert len(set(r.names_)) == r.k_
    # the planted split: frequent big spenders vs one-time buyers, named in plain words
    assert any("frequent" in n.lower() for n in r.names_) and any("one-time" in n.lower() for n in r.names_)
    for n in r.names_:
        assert "_" not in n and "=" not in n and not n.startswith(("High ", "Low "))
    again = fit_personas(f, purchase_behaviour=True, n_boot=5, seed=0)
    assert again.names_ == r.names_


def test_numeric_postal_code_alone_never_enters_the_features(tmp_path):
    """A log whose only customer attribute is a numeric postal code: it is id-like and never clustered."""
    import cjlib
    from cjlib.personas import fit_for_inputs

    ev = _purchase_log(400)
    ids = ev["customer_id"].unique()
    cu = pd.DataFrame({"customer_id": ids, "zip_code": np.random.default_rng(1).integers(1000, 99999, len(ids))})
    ev.to_csv(tmp_path / "events.csv", index=False)
    cu.to_csv(tmp_path / "customers.csv", index=False)
    data = cjlib.load_inputs(events_path=str(tmp_path / "events.csv"), customers_path=str(tmp_path / "customers.csv"),
                             feedback_path="", costs_path="", stage_map_path=str(ROOT / "data" / "stage_map.yml"))
    r = fit_for_inputs(data, seed=0)
    used = r.columns_["numeric"] + r.columns_["categorical"]
    assert "zip_code" not in used and "zip_code" not in r.features_.columns
    assert "recency_days" in used  # purchases-only: purchase behaviour is clustered


def test_rfm_fallback_when_nothing_is_stable():
    """Uniform noise has no stable clusters: the fit falls back to RFM segments with their names."""
    rng = np.random.default_rng(0)
    n = 600
    f = pd.DataFrame({"recency_days": rng.uniform(0, 300, n), "tenure_days": rng.uniform(300, 400, n),
                      "n_purchases": rng.integers(1, 10, n), "monetary": rng.uniform(10, 500, n),
                      "x1": rng.normal(size=n), "x2": rng.normal(size=n), "x3": rng.normal(size=n)},
                     index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    r = fit_personas(f, include=["x1", "x2", "x3"], n_boot=8, seed=0, min_stability=0.99, min_stability_worst=0.99)
    assert r.kind_ == "rfm" and r.rule_.startswith("rfm")
    assert r.tried_ == ("kmeans", "gmm")
    lab, names, used_m = rfm_labels(f)
    assert r.names_ == names and used_m
    assert (r.labels_.to_numpy() == lab).all()
    from cjlib.findings.personas import stability_sentence, stability_state
    assert stability_state(r.scores_, rule=r.rule_) == "rfm"
    text = stability_sentence(r.scores_, r.params, rule=r.rule_, tried=r.tried_)
    assert "RFM segments" in text and "with k-means or a Gaussian mixture passes" in text
