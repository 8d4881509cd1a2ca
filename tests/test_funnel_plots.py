"""Figures of cjlib.plots.funnel, and the 03_dropoff report end to end against cjlib.funnel."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from cjlib import funnel as F  # noqa: E402
from cjlib.plots import funnel as P  # noqa: E402

T0 = pd.Timestamp("2025-03-01 09:00")
PV, ATC, BC, BUY = "product_view", "add_to_cart", "begin_checkout", "purchase"
CHECKOUT = [PV, ATC, BC, "event:purchase"]


def _log(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "minutes", "event", "device"])
    df["timestamp"] = T0 + pd.to_timedelta(df.pop("minutes"), unit="min")
    df["event"] = df["event"].astype("category")
    return df


@pytest.fixture
def small_log():
    rows = []
    for i in range(40):
        dev = "mobile" if i % 2 else "desktop"
        rows += [(f"c{i}", 0, PV, dev), (f"c{i}", 1, "search", dev)]
        if i % 4 != 3:
            rows += [(f"c{i}", 2, ATC, dev), (f"c{i}", 3, BC, dev)]
            if dev == "desktop" or i % 8 == 1:
                rows += [(f"c{i}", 4, BUY, dev)]
            else:
                rows += [(f"c{i}", 4, "payment_error", dev), (f"c{i}", 5, BC, dev)]
    return _log(rows)


def _close():
    plt.close("all")


def test_dropoff_flow_draws_every_node_with_labels(small_log):
    flows = F.where_droppers_go(small_log, CHECKOUT, depth=2).flows
    ax = P.dropoff_flow(flows, title="where they go")
    texts = [t.get_text() for t in ax.texts]
    # the droppers after begin_checkout all hit a payment error next: one node per column, counts shown
    n_bc = int(flows.loc[flows["source"] == "dropped after begin_checkout", "count"].sum())
    assert f"begin_checkout  {n_bc:,}" in texts
    assert any(t.startswith("payment_error  ") for t in texts)
    assert ax.get_title() == "where they go" and ax.get_xlabel()
    assert len(ax.patches) >= len(flows)  # one band per link plus the node boxes
    with pytest.raises(ValueError, match="source, target and count"):
        P.dropoff_flow(pd.DataFrame({"a": [1]}))
    _close()


def test_dropoff_flow_merges_small_nodes():
    flows = pd.DataFrame({"source": ["dropped after x"] * 4, "target": ["1: a", "1: b", "1: c", "1: d"],
                          "count": [100, 50, 10, 10]})
    ax = P.dropoff_flow(flows, max_nodes=2)
    texts = [t.get_text() for t in ax.texts]
    assert "other  20" in texts and "a  100" in texts and "b  50" in texts
    _close()


def test_segment_gaps_cells(small_log):
    cmp = F.compare_segments(small_log, CHECKOUT, "device")
    ax = P.segment_gaps(cmp, title="gaps")
    img = ax.images[0].get_array()
    assert img.shape == (2, 3)  # desktop/mobile × three transitions
    mobile_buy = cmp[(cmp["device"] == "mobile") & (cmp["to_step"] == "purchase")].iloc[0]
    assert img[1, 2] == pytest.approx(np.log2(mobile_buy["ratio"]))
    assert ax.get_xlabel() and ax.get_ylabel() == "device"
    _close()


def test_driver_forest_friction_and_cart_figures(small_log):
    drv = F.dropoff_drivers(small_log, CHECKOUT, min_support=2)
    ax = P.driver_forest(drv, title="drivers")
    assert ax.get_xscale() == "log" and len(ax.get_yticklabels()) == len(drv)
    fr = F.friction(small_log, CHECKOUT)
    ax = P.friction_signals(fr, title="friction")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any("begin_checkout → purchase\nerror" in lab for lab in labels)
    cart = F.cart_abandonment(small_log.assign(session_id=small_log["customer_id"]))
    tab = pd.DataFrame({"purchased": [cart.carts - cart.abandoned], "recovered": [cart.recovered],
                        "lost": [cart.abandoned - cart.recovered]}, index=["all"])
    ax = P.cart_outcomes(tab, recovery_days=7, title="carts")
    widths = [p.get_width() for p in ax.patches]
    assert sum(widths) == pytest.approx(1.0)
    for a in plt.get_fignums():
        for x in plt.figure(a).axes:
            assert x.get_xlabel() and x.get_title()
    _close()


# ------------------------------------------------------------------------------------ report end to end
def _sample(folder, n, seed, drop=()):
    from cjlib.synth import generate

    d = generate(n_customers=n, seed=seed)
    d.write(folder)
    if drop:
        d.events.drop(columns=list(drop)).to_parquet(folder / "events.parquet", index=False)
    return folder


def test_dropoff_report_metrics_match_cjlib(tmp_path):
    import cjlib
    from cjlib.report import run_reports
    from cjlib.scorecard import customer_segments

    folder = _sample(tmp_path / "data", 1500, 7)
    params = {"events_path": str(folder / "events.parquet"), "customers_path": str(folder / "customers.parquet"),
              "feedback_path": "", "costs_path": "", "min_segment_units": 30}
    out = tmp_path / "out"
    [res] = run_reports(["03_dropoff"], params, out_dir=out, progress=None)
    assert res.status == "ok", res.error
    m = res.metrics
    data = cjlib.load_inputs(events_path=params["events_path"], customers_path=params["customers_path"])
    ev, sm = data.events, data.stage_map
    main = F.funnel(ev, list(sm.journey("purchase").steps), window="30D", unit="customer")
    assert [r["step"] for r in m["funnel"]] == main["step"].tolist()
    assert [r["reached"] for r in m["funnel"]] == main["reached"].tolist()
    assert [r["conversion_from_start"] for r in m["funnel"]] == pytest.approx(main["conversion_from_start"].tolist())
    assert m["overall_conversion"] == pytest.approx(main["conversion_from_start"].iloc[-1])
    assert m["largest_drop_step"] == main.loc[main["drop_off_rate"].iloc[1:].idxmax(), "step"]
    chk = F.funnel(ev, CHECKOUT, window="30D", unit="session")
    assert [r["reached"] for r in m["checkout_funnel"]] == chk["reached"].tolist()
    assert m["checkout_overall_conversion"] == pytest.approx(chk["conversion_from_start"].iloc[-1])
    # worst segment into purchase: the lowest significant ratio over the device and acquisition-channel tests
    segs = ev.join(customer_segments(ev, columns=["acquisition_channel"]), on="customer_id")
    cands = []
    for col in ("device", "acquisition_channel"):
        c = F.compare_segments(segs, CHECKOUT, col, window="30D", unit="session")
        c = c[(c["to_step"] == "purchase") & c["significant"] & (c["units"] >= 30) & (c["ratio"] < 1)]
        cands += [(r.ratio, col, r[col], r.rate, r.p_adjusted) for _, r in c.iterrows()]
    ratio, col, level, rate, p_adj = min(cands)
    w = m["worst_segment"]
    assert (w["column"], w["level"]) == (col, level) == ("device", "mobile")  # the planted friction
    assert w["ratio"] == pytest.approx(ratio) and w["rate"] == pytest.approx(rate)
    assert w["p_adjusted"] == pytest.approx(p_adj, abs=1e-12) and w["p_adjusted"] < 0.01
    cart = F.cart_abandonment(ev, recovery_days=7)
    assert m["cart_abandonment_rate"] == pytest.approx(cart.abandonment_rate)
    assert m["cart_recovery_rate"] == pytest.approx(cart.recovery_rate)
    ttc = F.time_to_convert(ev, list(sm.journey("purchase").steps), to_step="purchase", window="30D")
    assert m["median_hours_to_convert"] == pytest.approx(ttc["hours"].median())
    # customer-level tables go to CSV, the HTML shows aggregates only
    units = pd.read_csv(out / "dropoff_funnel_units.csv")
    assert len(units) == main.attrs["units_total"]
    html = (out / "03_dropoff.html").read_text()
    assert str(units["customer_id"].iloc[0]) not in html


def test_dropoff_report_without_optional_inputs_or_segment_columns(tmp_path):
    from cjlib.report import run_reports

    folder = _sample(tmp_path / "data", 300, 2, drop=("device", "channel"))
    params = {"events_path": str(folder / "events.parquet"), "customers_path": "", "feedback_path": "",
              "costs_path": ""}
    [res] = run_reports(["03_dropoff"], params, out_dir=tmp_path / "out", progress=None)
    assert res.status == "ok", res.error
    assert res.metrics["worst_segment"] is None and res.metrics["worst_segments"] == []
    html = (tmp_path / "out" / "03_dropoff.html").read_text()
    assert "No <code>device</code> column" in html and "segment breakdown is left out" in html
