"""03 (drop-off) follow-ups on edge logs: a funnel step the log has no event of (missing data, not a drop-off),
time to convert for one or a few units, long dwell that goes with not moving on by construction, and a
period comparison whose previous period is empty because entries stopped long before. Every test fails on
the code before its fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from cjlib import funnel as F
from cjlib.findings import dropoff as D
from cjlib.io import load_inputs


def _load(folder: Path, rows: list[tuple]) -> object:
    """The log ``rows`` (customer_id, timestamp, event, revenue) written as CSV and loaded with the default map."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["customer_id", "timestamp", "event", "revenue"]).to_csv(folder / "ev.csv", index=False)
    return load_inputs(events_path=str(folder / "ev.csv"), customers_path="", feedback_path="", costs_path="")


# the lead's three.csv: page views, one cart, purchases (customer c twice: retention), no review or referral
THREE = [("a", "2025-01-01", "page_view", 0), ("a", "2025-01-06", "purchase", 10), ("b", "2025-01-11", "page_view", 0),
         ("c", "2025-01-16", "page_view", 0), ("c", "2025-01-21", "add_to_cart", 0), ("c", "2025-01-26", "purchase", 5),
         ("a", "2025-01-31", "purchase", 7), ("b", "2025-02-05", "page_view", 0), ("c", "2025-02-10", "page_view", 0),
         ("c", "2025-02-15", "purchase", 3)]


# ============================================================ 1. a step with no event in the log is not a drop-off
def test_default_journey_ends_at_its_last_stage_with_events(tmp_path):
    # three.csv: 03 said "Funnel conversion awareness → advocacy: 0.0%" on a log with no review or referral
    inp = _load(tmp_path, THREE)
    sm = inp.stage_map
    assert F.report_steps("", "", stage_map=sm) == ("purchase", list(sm.journeys["purchase"].steps))  # no profile
    name, steps = F.report_steps("", "", stage_map=sm, profile=inp.profile)
    assert (name, steps) == ("purchase", ["awareness", "consideration", "stage:purchase", "retention"])
    # a journey named by the user stays whole; so do steps
    assert F.report_steps("", "purchase", stage_map=sm, profile=inp.profile)[1][-1] == "advocacy"
    assert F.report_steps("page_view, review", "", stage_map=sm, profile=inp.profile) == ("custom", ["page_view", "review"])
    assert F.absent_steps(["awareness", "advocacy", "event:review"], stage_map=sm, profile=inp.profile) == [
        "advocacy", "review"]
    w = F.fit_window(inp.events, steps, window="auto", profile=inp.profile, stage_map=sm)
    assert (w.absent, w.dropped) == ((), ("advocacy",))
    cap = D.funnel_caption(name, mode="ordered", unit="customer", window=w.window, fit=w)
    assert ("The journey's last stage advocacy is left out: the log has no event of it, so nobody could reach it, "
            "which is missing data, not a drop-off.") in cap
    assert "only 1 customer reached retention at any time" in cap  # was "only 1 customers"


def test_a_given_step_without_events_is_said_in_the_caption_and_the_findings(tmp_path):
    # sametime.csv: every event at one instant, no product view (consideration) and no review (advocacy)
    rows = [(f"u{i}", "2025-03-01 12:00:00", "page_view", 0) for i in range(6)]
    rows += [(f"u{i}", "2025-03-01 12:00:00", "purchase", 5) for i in range(3)]
    inp = _load(tmp_path, rows)
    sm = inp.stage_map
    steps = list(sm.journeys["purchase"].steps)
    w = F.fit_window(inp.events, steps, window="auto", profile=inp.profile, stage_map=sm)
    assert w.absent == ("consideration", "advocacy") and w.dropped == ()
    cap = D.funnel_caption("purchase", mode="ordered", unit="customer", window=w.window, fit=w)
    assert ("The log has no event of steps consideration and advocacy: nobody can reach them, nor any step after "
            "them in order, so the funnel's zeros from there on are missing data, not a drop-off.") in cap
    main = F.Funnel(inp.events, steps, window=w.window, stage_map=sm).table()
    line = D.funnel_line(main, F.largest_drop(main), name="purchase", unit="customer", window=w.window, absent=w.absent)
    assert line == ("Funnel conversion (purchase, awareness → advocacy in order): not measured, the log has no event "
                    "of consideration and advocacy (missing data, not a drop-off).")
    assert "0.0%" not in line
    # without the fit the old bullet stays (a notebook that does not pass it)
    assert "**0.0%**" in D.funnel_line(main, None, name="purchase", unit="customer", window=w.window)


# ================================================================== 2. time to convert of one or a few units
def _ttc(hours) -> pd.DataFrame:
    h = np.asarray(hours, float)
    return pd.DataFrame({"hours": h, "time_to_convert": pd.to_timedelta(h, unit="h")})


def test_time_to_convert_of_one_unit_is_its_time_not_a_half():
    one = _ttc([240.0])
    assert D.time_to_convert_title(one, unit="customer", from_step="awareness", to_step="purchase") == (
        "The one customer who reaches purchase in the funnel does so 10.0 days after awareness")
    s = D.time_to_convert_sentence(one, unit="customer", from_step="awareness", to_step="purchase", window="30D")
    assert "Half" not in s and "median" not in s.split("(too few")[0]
    assert "the one customer who reaches purchase in the funnel does so 10.0 days after awareness (too few" in s
    assert D.time_to_convert_line(one, from_step="awareness", to_step="purchase") == (
        "Funnel time: the one customer who reaches purchase does so 10.0 days after awareness (not within a day).")
    few = _ttc([2.0, 48.0, 240.0])
    assert D.time_to_convert_title(few, unit="customer", from_step="awareness", to_step="purchase") == (
        "The 3 customers who reach purchase in the funnel take 2.0 h to 10.0 days from awareness")
    assert D.time_to_convert_line(few, from_step="a", to_step="b").endswith("(1 of the 3 within a day).")
    many = _ttc(np.arange(1, 11) * 12.0)  # 10 units: the median is earned again
    assert D.time_to_convert_title(many, unit="customer", from_step="a", to_step="b").startswith(
        "Half of the 10 customers who reach b in the funnel do so within")


# ============================================================================ 3. long dwell is not a driver
def test_long_dwell_is_counted_not_named_the_worst_friction(tmp_path):
    # subscription app 03: "Worst friction: 42% of customers at installed (841) meet long dwell before trial; 14% of
    # them move on against 92% without it" — the threshold is set by converters, non-movers keep dwelling
    from test_findings_reader2 import subscription_app

    p = subscription_app(tmp_path)
    cfg = yaml.safe_load(p.read_text())
    inp = load_inputs(events_path=str(tmp_path / cfg["events_path"]), columns=cfg["columns"],
                      stage_map_path=str(tmp_path / "stage_map.yml"))
    _, steps = F.report_steps("", "", stage_map=inp.stage_map)
    w = F.fit_window(inp.events, steps, window="auto", profile=inp.profile, stage_map=inp.stage_map)
    fr = F.Funnel(inp.events, steps, window=w.window, stage_map=inp.stage_map).friction()
    row = fr.table.iloc[0]
    assert (row["from_step"], int(row["long_dwell_units"])) == ("installed", 841)
    # the old comparison, by construction: kept on request only
    old = F.worst_friction(fr.table, min_units=50, signals=F.FRICTION_SIGNALS)
    assert old["signal"] == "long dwell" and round(old["conversion_with"], 2) == 0.14
    assert F.worst_friction(fr.table, min_units=50) is None  # no loop or error event in this log
    text = D.friction_findings(fr, None, unit="customer", min_units=50)
    assert "against" not in text and "Worst friction" not in text
    assert ("**Long dwell** (longer than 9 in 10 converters took to reach the next step, or for a unit that left, "
            "until its last event): at installed → trial 841 customers (42% of those at installed) dwelt over "
            "2.4 days and 14% of them reached trial;") in text
    assert "long dwell goes with not moving on by construction" in text


def test_worst_friction_brute_force_over_random_tables_never_names_long_dwell():
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(200, 2000))
        rec = {"from_step": "a", "to_step": "b", "units": n}
        for s in F.FRICTION_SIGNALS:
            k = int(rng.integers(0, n))
            rec.update({f"{s}_units": k, f"{s}_rate": k / n, f"conversion_if_{s}": rng.random(),
                        f"conversion_if_no_{s}": rng.random()})
        tab = pd.DataFrame([rec])
        w = F.worst_friction(tab, min_units=50)
        assert w is None or w["signal"] in ("loop", "error")
        # brute force: the named signal is the compared one with the largest significant gap
        cand = [s for s in ("loop", "error") if rec[f"{s}_units"] >= 50 and n - rec[f"{s}_units"] >= 50
                and rec[f"conversion_if_no_{s}"] > rec[f"conversion_if_{s}"]]
        if w is not None:
            assert w["signal"] in cand
            assert w["gap"] == max(rec[f"conversion_if_no_{s}"] - rec[f"conversion_if_{s}"] for s in
                                   [c for c in cand if c == w["signal"]])


# ===================================================================== 4. a period empty because entries stopped
def test_empty_previous_period_says_when_entries_stopped(tmp_path):
    # CDNOW: "no customer entered the funnel in the previous period (1997-08-01 to 1997-08-31)" — every customer
    # first buys in Q1 1997; the log runs to mid 1998 on repeat purchases
    rng = np.random.default_rng(0)
    rows = []
    for i in range(300):
        t = pd.Timestamp("2024-01-01") + pd.Timedelta(days=float(rng.random() * 60))
        rows.append((f"c{i}", t, "page_view", 0))
        rows.append((f"c{i}", t + pd.Timedelta(hours=2), "purchase", 5))
        for _ in range(int(rng.integers(0, 4))):
            rows.append((f"c{i}", t + pd.Timedelta(days=float(rng.random() * 300)), "purchase", 5))
    rows.append(("z", pd.Timestamp("2024-12-31"), "purchase", 5))
    inp = _load(tmp_path, [(c, str(t), e, r) for c, t, e, r in rows])
    steps = ["event:page_view", "event:purchase"]
    fm = F.Funnel(inp.events, steps, window="30D", stage_map=inp.stage_map)
    last = max(t for _, t, e, _ in rows if e == "page_view")
    pc, why = F.report_periods(fm, "month")
    assert pc is None
    assert why.startswith("no customer entered the funnel in the previous period (")
    assert f": entries stop after {last:%Y-%m-%d}, the last day a customer entered it, so there is no conversion" in why


def test_00_names_a_stage_nobody_reaches_instead_of_a_bare_zero(tmp_path):
    # three.csv 00: the scorecard showed retention → advocacy 0.0% with no word that the log has no advocacy event
    from cjlib import scorecard as sc
    from cjlib.findings import journey_map as fj

    inp = _load(tmp_path, THREE)
    kpis = sc.stage_kpis(inp.events, stage_map=inp.stage_map)
    assert float(kpis.loc["retention", "conversion_to_next"]) == 0.0 and kpis.loc["advocacy", "reached"] == 0
    line = fj.definition_line(kpis, sc.stage_roles(stage_map=inp.stage_map), inp.profile.stages_seen)
    assert line.endswith(" Nobody in this log reaches advocacy: the 0.0% moving on into it is what the log holds, "
                         "which is missing data, not a drop-off, when the log does not record its events.")
    assert "Nobody" not in fj.definition_line(kpis, sc.stage_roles(stage_map=inp.stage_map))  # no profile: as before


def test_one_cart_is_not_given_a_share():
    # three.csv 03: "1 cart sessions (add_to_cart); 1 abandoned (... 100.0%); 1 of them recovered ... (100.0%)" and
    # "100% of 1 carts are abandoned, 100% of those 1 recovered within 7 days."
    from types import SimpleNamespace

    cart = SimpleNamespace(carts=1, abandoned=1, recovered=1, abandonment_rate=1.0, recovery_rate=1.0,
                           cart_event=("add_to_cart",), purchase_event=("purchase",), window=pd.Timedelta(days=7),
                           table=pd.DataFrame({"time_to_recovery": pd.to_timedelta(["5D"])}))
    assert D.cart_sentence(cart) == (
        "1 cart session (add_to_cart); 1 abandoned (no purchase later in the session); it was recovered by a "
        "purchase within 7 days. Median time to recovery: 5.0 days. The cart table is in `dropoff_carts.csv`.")
    assert D.cart_line(cart) == "The one cart is abandoned and recovered within 7 days."
    two = SimpleNamespace(**{**vars(cart), "carts": 2, "abandonment_rate": 0.5})
    assert D.cart_line(two) == "50% of 2 carts are abandoned, 100% of those 1 recovered within 7 days."


def test_no_droppers_says_nobody_entered_when_nobody_did(tmp_path):
    # three.csv 03: "Where droppers go is not shown: no customer that entered the funnel dropped out of it." — the
    # checkout funnel had no entrant (no product view), while 2 of 3 customers left the main funnel
    inp = _load(tmp_path, THREE)
    chk = F.Funnel(inp.events, list(inp.stage_map.journeys["checkout"].steps), window="30D",
                   stage_map=inp.stage_map).table()
    assert int(chk["reached"].iloc[0]) == 0
    assert D.no_droppers("customer", chk) == (
        "no customer entered the funnel (nobody reached product_view | view_item), so nobody could drop out of it.")
    assert D.no_droppers("customer") == "no customer that entered the funnel dropped out of it."


def test_empty_period_of_a_funnel_nobody_ever_entered(tmp_path):
    # the lead's oneevent.csv (page views only): the checkout funnel's previous period was "empty" — nobody ever entered
    rows = [(f"c{i % 40}", str(pd.Timestamp("2025-01-01") + pd.Timedelta(hours=i * 17)), "page_view", 0) for i in range(150)]
    inp = _load(tmp_path, rows)
    fm = F.Funnel(inp.events, ["product_view", "add_to_cart"], window="30D", stage_map=inp.stage_map)
    pc, why = F.report_periods(fm, "month")
    assert pc is None and why.endswith("): no customer entered it at any time, so there is no conversion to compare.")
