"""Figures of cjlib.plots.funnel, and the 03_dropoff report end to end against cjlib.funnel."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from cjlib import funnel as F  # noqa: E402
from cjlib.findings import dropoff as D  # noqa: E402
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
    ax = P.segment_gaps(cmp, by="device", title="gaps")
    img = ax.images[0].get_array()
    assert img.shape == (2, 3)  # desktop/mobile × three transitions
    mobile_buy = cmp[(cmp["device"] == "mobile") & (cmp["to_step"] == "purchase")].iloc[0]
    assert img[1, 2] == pytest.approx(np.log2(mobile_buy["ratio"]))
    assert ax.get_xlabel() and ax.get_ylabel() == "device"
    _close()


def test_driver_forest_friction_and_cart_figures(small_log):
    drv = F.dropoff_drivers(small_log, CHECKOUT, min_support=2).table
    ax = P.driver_forest(drv, title="drivers")
    assert ax.get_xscale() == "log" and len(ax.get_yticklabels()) == len(drv)
    fr = F.friction(small_log, CHECKOUT).table
    ax = P.friction_signals(fr, title="friction")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any("begin_checkout → purchase\nerror" in lab for lab in labels)
    cart = F.cart_abandonment(small_log.assign(session_id=small_log["customer_id"]))
    tab = pd.DataFrame({"purchased": [cart.carts - cart.abandoned], "recovered": [cart.recovered],
                        "lost": [cart.abandoned - cart.recovered]}, index=["all"])
    ax = P.cart_outcomes(tab, window="7D", title="carts")
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
    ev, sm, prof = data.events, data.stage_map, data.profile
    # the defaults come from the stage map's roles and the data profile
    steps = list(sm.journey(sm.default_journey).steps)
    w = F.fit_window(ev, steps, window="auto", profile=prof, stage_map=sm)  # widened to reach the last step
    assert prof.default_window() == "30D" and w.fitted and w.unfitted == "30D"
    assert m["funnel_window"] == w.window and m["checkout_unit"] == prof.checkout_unit == "session"
    main = F.funnel(ev, steps, window=w.window, unit="customer")
    assert [r["step"] for r in m["funnel"]] == main["step"].tolist()
    assert [r["reached"] for r in m["funnel"]] == main["reached"].tolist()
    assert [r["conversion_from_start"] for r in m["funnel"]] == pytest.approx(main["conversion_from_start"].tolist())
    # 03's funnel conversion has its own key: overall_conversion is 00's "ever, in any order" measure
    assert "overall_conversion" not in m and "checkout_overall_conversion" not in m
    assert m["funnel_conversion"] == pytest.approx(main["conversion_from_start"].iloc[-1])
    assert m["largest_drop_step"] == main.loc[main["drop_off_rate"].iloc[1:].idxmax(), "step"]
    chk = F.funnel(ev, CHECKOUT, window="30D", unit="session")
    assert [r["reached"] for r in m["checkout_funnel"]] == chk["reached"].tolist()
    assert m["checkout_funnel_conversion"] == pytest.approx(chk["conversion_from_start"].iloc[-1])
    # worst segment into purchase over the profile's segment columns (the same 00 uses), picked by cjlib
    cols = list(prof.segment_candidates)
    assert "device" in cols and "acquisition_channel" in cols
    segs = F.report_segments(ev, profile=prof, customers=data.customers)
    assert segs.columns == cols and segs.variant is None
    joined = ev.join(customer_segments(ev, by=[c for c in cols if c not in ev.columns], customers=data.customers),
                     on="customer_id")
    pd.testing.assert_frame_equal(segs.events, joined)
    cmp = {c: F.compare_segments(segs.events, CHECKOUT, c, window="30D", unit="session") for c in cols}
    expected = D.segment_metrics(cmp, ["product_view", "add_to_cart", "begin_checkout", "purchase"],
                                 min_units=30)["worst_segment"]
    assert expected == F.worst_segment(cmp, to_step="purchase", min_units=30)
    worst = m["worst_segment"]
    assert (worst["column"], worst["level"]) == (expected["column"], expected["level"]) == ("device", "mobile")  # planted
    assert worst["ratio"] == pytest.approx(expected["ratio"]) and worst["rate"] == pytest.approx(expected["rate"])
    assert worst["p_adjusted"] == pytest.approx(expected["p_adjusted"], abs=1e-12) and worst["p_adjusted"] < 0.01
    cart = F.cart_abandonment(ev, window="7D")
    assert m["cart_abandonment_rate"] == pytest.approx(cart.abandonment_rate)
    assert m["cart_recovery_rate"] == pytest.approx(cart.recovery_rate)
    ttc = F.time_to_convert(ev, list(sm.journey("purchase").steps), to_step="purchase", window=w.window)
    assert m["funnel_median_hours_to_convert"] == pytest.approx(ttc["hours"].median())
    # customer-level tables go to CSV, the HTML shows aggregates only
    units = pd.read_csv(out / "dropoff_funnel_units.csv")
    assert len(units) == F.Funnel(ev, steps, window=w.window).units_total
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
    assert "the segment breakdown" in res.metrics["left_out"]
    html = (tmp_path / "out" / "03_dropoff.html").read_text()
    assert "segment breakdown is not shown" in html
    # a column named explicitly that the data lacks is said once
    [res] = run_reports(["03_dropoff"], {**params, "segments": "device"}, out_dir=tmp_path / "out2", progress=None)
    assert res.status == "ok", res.error
    assert "No <code>device</code> column" in (tmp_path / "out2" / "03_dropoff.html").read_text()


def test_dropoff_notebook_has_no_functions():
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).parents[1] / "notebooks" / "03_dropoff.ipynb").read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert not [line for src in code for line in src.splitlines() if line.lstrip().startswith(("def ", "lambda", "class "))]
    assert all(c.get("execution_count") is None and not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")


def _roles_case(tmp_path, **stage_map_over):
    """The sample with a stage map whose journeys are not called purchase/checkout and which declares no cart
    and no checkout role (the roles observation 2 and 3 of issue 14 are about)."""
    import yaml

    folder = _sample(tmp_path / "data", 600, 3)
    sm = {"stages": [{"name": "awareness", "events": ["ad_click", "page_view"]},
                     {"name": "consideration", "events": ["product_view", "search", "add_to_wishlist", "add_to_cart",
                                                          "begin_checkout"]},
                     {"name": "buying", "events": ["purchase"]},
                     {"name": "loyalty", "events": ["review", "referral"]}],
          "conversion_events": ["purchase"], "other_events": ["payment_error", "support_contact"],
          # the second step of "shop" is begin_checkout and its last a review: neither is a cart or a purchase
          "journeys": {"lifecycle": ["awareness", "consideration", "buying"],
                       "shop": ["product_view", "begin_checkout", "event:purchase", "review"]},
          "default_journey": "lifecycle"}
    sm.update(stage_map_over)
    (folder / "map.yml").write_text(yaml.safe_dump(sm))
    return {"events_path": str(folder / "events.parquet"), "customers_path": str(folder / "customers.parquet"),
            "feedback_path": "", "costs_path": "", "stage_map_path": str(folder / "map.yml")}


def test_dropoff_report_follows_the_stage_maps_roles(tmp_path):
    from cjlib.report import run_reports

    params = _roles_case(tmp_path)
    [res] = run_reports(["03_dropoff"], params, out_dir=tmp_path / "out", progress=None)
    assert res.status == "ok", res.error
    m = res.metrics
    assert [r["step"] for r in m["funnel"]] == ["awareness", "consideration", "buying"]  # default_journey
    assert "checkout_funnel" not in m
    # no cart role: no cart section, no cart metric for the index
    assert "cart_abandonment_rate" not in m and "cart_recovery_rate" not in m
    assert set(m["left_out"]) >= {"the checkout funnel", "cart abandonment"}
    assert "cart_events" in m["left_out"]["cart abandonment"] and "checkout_journey" in m["left_out"]["the checkout funnel"]
    html = (tmp_path / "out" / "03_dropoff.html").read_text()
    assert html.count("use the main funnel instead") == 1
    # the checkout role, named in the map, is followed; a journey name the map lacks stops with one line
    params = _roles_case(tmp_path / "b", checkout_journey="shop", cart_events=["add_to_cart"])
    [res] = run_reports(["03_dropoff"], params, out_dir=tmp_path / "out2", progress=None)
    assert res.status == "ok", res.error
    assert [r["step"] for r in res.metrics["checkout_funnel"]] == ["product_view", "begin_checkout", "purchase", "review"]
    ev = pd.read_parquet(params["events_path"])
    from cjlib.stagemap import load_stage_map

    cart = F.cart_abandonment(ev, window="7D", stage_map=load_stage_map(params["stage_map_path"]))
    assert cart.cart_event == ("add_to_cart",)
    assert res.metrics["cart_abandonment_rate"] == pytest.approx(cart.abandonment_rate)
    # ... checked before anything runs or is written (issue 15: a parameter error, exit 2)
    from cjlib.report import ParameterError

    with pytest.raises(ParameterError, match=r"journey 'purchase' is not a journey of the stage map.*lifecycle, shop"):
        run_reports(["03_dropoff"], {**params, "journey": "purchase"}, out_dir=tmp_path / "out3", progress=None)
    assert not (tmp_path / "out3").exists()
