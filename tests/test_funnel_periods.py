"""Tests for cjlib.funnel.periods: hand-computed periods and intervals, a property test against a per-unit
reference, censoring, a too-short span, and a planted change found on synthetic data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cjlib import funnel as F
from cjlib import synth
from cjlib.findings import dropoff as D
from cjlib.findings import problems
from cjlib.io import ensure_sorted
from cjlib.report import to_jsonable

T0 = pd.Timestamp("2025-03-01 09:00")
PV, ATC, BC, BUY, SEARCH, SUPPORT = "product_view", "add_to_cart", "begin_checkout", "purchase", "search", "support_contact"


def log(rows):
    """rows: (customer, minutes after T0, event)."""
    df = pd.DataFrame(rows, columns=["customer_id", "minutes", "event"])
    df["timestamp"] = (T0 + pd.to_timedelta(df.pop("minutes"), unit="min")).astype("datetime64[us]")
    df["event"] = df["event"].astype("category")
    return df


def day_log(rows):
    """rows: (customer, timestamp text, event)."""
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event"])
    df["timestamp"] = pd.to_datetime(df["timestamp"], format="mixed")
    return df


# ------------------------------------------------------------------------------ hand-computed comparison
def newcombe_log():
    """Weekly periods of 2025-01-06 and 2025-01-13 (window 1 day, data to 2025-01-22): the previous week has
    80 entrants of whom 48 purchase, the current week 70 of whom 56 (Newcombe 1998, Table II: 56/70 vs 48/80)."""
    rows = [("first", "2025-01-06 00:00", ATC)]  # the data starts with the week; not an entrant
    for i in range(80):
        rows.append((f"p{i}", f"2025-01-07 {i % 24:02d}:00", PV))
        if i < 48:
            rows.append((f"p{i}", f"2025-01-08 {i % 24:02d}:00", BUY))  # 24 h later: on the window's edge
    for i in range(70):
        rows.append((f"c{i}", f"2025-01-14 {i % 24:02d}:00", PV))
        if i < 56:
            rows.append((f"c{i}", f"2025-01-14 {i % 24:02d}:30", BUY))
    rows += [("late", "2025-01-21 12:00", PV), ("last", "2025-01-22 00:00", ATC)]
    return day_log(rows)


def test_newcombe_example_by_hand():
    fn = F.Funnel(newcombe_log(), [PV, "event:purchase"], window="1D")
    pc = F.compare_periods(fn, freq="W")
    # data end 2025-01-22 minus the 1-day window: 2025-01-21 (a Tuesday); the last full week ends Monday 01-20
    assert (pc.previous_start, pc.current_start, pc.current_end) == (
        pd.Timestamp("2025-01-06"), pd.Timestamp("2025-01-13"), pd.Timestamp("2025-01-20"))
    assert pc.reached["previous"].tolist() == [80, 48] and pc.reached["current"].tolist() == [70, 56]
    row = pc.table.iloc[0]
    assert (row["units_previous"], row["converted_previous"], row["units_current"], row["converted_current"]) == (
        80, 48, 70, 56)
    assert row["difference"] == pytest.approx(0.2)
    assert row["ci_low"] == pytest.approx(0.0524, abs=5e-5) and row["ci_high"] == pytest.approx(0.3339, abs=5e-5)
    pooled = 104 / 150
    z = (56 / 70 - 48 / 80) / math.sqrt(pooled * (1 - pooled) * (1 / 70 + 1 / 80))
    assert row["z"] == pytest.approx(z) and row["p_value"] == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert row["p_adjusted"] == pytest.approx(row["p_value"]) and bool(row["significant"])  # a family of one
    assert pc.censored == 1 and pc.in_both == 0  # "late" entered on 2025-01-21, its window open at the end


def test_holm_over_transitions_and_rates():
    """Three steps: transitions 1→2, 2→3 and 1→3 form one family of three tests."""
    rows = [("z0", "2025-01-01", PV)]
    for i in range(40):  # previous: 40 enter, 30 add, 15 buy; current: 40 enter, 20 add, 16 buy
        rows.append((f"p{i}", "2025-01-02", PV))
        if i < 30:
            rows.append((f"p{i}", "2025-01-02 01:00", ATC))
        if i < 15:
            rows.append((f"p{i}", "2025-01-02 02:00", BUY))
        rows.append((f"c{i}", "2025-01-12", PV))
        if i < 20:
            rows.append((f"c{i}", "2025-01-12 01:00", ATC))
        if i < 16:
            rows.append((f"c{i}", "2025-01-12 02:00", BUY))
    rows.append(("end", "2025-01-22", PV))
    pc = F.compare_periods(F.Funnel(day_log(rows), [PV, ATC, "event:purchase"], window="1D"), freq="10D")
    assert (pc.previous_start, pc.current_start, pc.current_end) == (
        pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-11"), pd.Timestamp("2025-01-21"))
    t = pc.table
    assert list(zip(t["from_step"], t["to_step"])) == [(PV, ATC), (ATC, BUY), (PV, BUY)]
    assert t["units_previous"].tolist() == [41, 30, 41] and t["converted_previous"].tolist() == [30, 15, 15]
    assert t["units_current"].tolist() == [40, 20, 40] and t["converted_current"].tolist() == [20, 16, 16]
    np.testing.assert_allclose(t["difference"], [20 / 40 - 30 / 41, 16 / 20 - 15 / 30, 16 / 40 - 15 / 41])
    p = t["p_value"].to_numpy()
    order = np.argsort(p)
    expected = np.minimum(1, np.maximum.accumulate(np.array([3, 2, 1]) * p[order]))
    np.testing.assert_allclose(t["p_adjusted"].to_numpy()[order], expected)
    assert t["significant"].tolist() == (t["p_adjusted"] < 0.05).tolist()


# ------------------------------------------------------------------------------------------- censoring
def test_a_unit_entering_inside_the_last_window_is_left_out():
    ev = day_log([
        ("a", "2025-01-01", PV), ("a", "2025-01-02", BUY),       # previous period, converts
        ("b", "2025-01-08", PV), ("b", "2025-01-12", BUY),       # current period, converts 4 days later (window 5D)
        ("c", "2025-01-13", PV),                                 # current period, drops
        ("d", "2025-01-16", PV), ("d", "2025-01-17", BUY),       # after the current period: window open at the end
        ("e", "2025-01-20", PV),
    ])
    pc = F.compare_periods(F.Funnel(ev, [PV, "event:purchase"], window="5D"), freq="7D")
    assert (pc.previous_start, pc.current_start, pc.current_end) == (
        pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-08"), pd.Timestamp("2025-01-15"))
    assert pc.reached["previous"].tolist() == [1, 1] and pc.reached["current"].tolist() == [2, 1]
    assert pc.censored == 2  # d and e
    assert "2 customers entering on or after 2025-01-15 are left out" in pc.note
    # the same log with a 10-day window: the current period ends 10 days before the last event
    with pytest.raises(ValueError, match="cannot hold two full 7-day periods"):
        F.compare_periods(F.Funnel(ev, [PV, "event:purchase"], window="10D"), freq="7D")


def test_without_a_window_a_step_counts_only_before_its_period_ends():
    ev = day_log([
        ("a", "2025-01-01", PV), ("a", "2025-01-09", BUY),  # converts after its (previous) period ended
        ("b", "2025-01-09", PV), ("b", "2025-01-10", BUY),  # converts inside the current period
        ("c", "2025-01-15", PV),                            # the last event: the current period ends here
    ])
    pc = F.compare_periods(F.Funnel(ev, [PV, "event:purchase"]), freq="7D")
    assert (pc.previous_start, pc.current_start, pc.current_end) == (
        pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-08"), pd.Timestamp("2025-01-15"))
    assert pc.reached["previous"].tolist() == [1, 0] and pc.reached["current"].tolist() == [1, 1]
    assert pc.window is None and pc.censored == 1 and "period not over" in pc.note


def test_a_unit_in_both_periods_counts_in_both():
    ev = day_log([("a", "2025-01-01", PV), ("a", "2025-01-02", BUY), ("a", "2025-01-09", PV),
                  ("b", "2025-01-10", PV), ("z", "2025-01-16", ATC)])
    pc = F.compare_periods(F.Funnel(ev, [PV, "event:purchase"], window="1D"), freq="7D")
    assert pc.reached["previous"].tolist() == [1, 1] and pc.reached["current"].tolist() == [2, 0]
    assert pc.in_both == 1


def test_end_can_be_given():
    ev = newcombe_log()
    pc = F.compare_periods(F.Funnel(ev, [PV, "event:purchase"], window="1D"), freq="4D", end="2025-01-16")
    assert (pc.end, pc.previous_start, pc.current_start, pc.current_end) == (
        pd.Timestamp("2025-01-16"), pd.Timestamp("2025-01-07"), pd.Timestamp("2025-01-11"), pd.Timestamp("2025-01-15"))
    assert pc.reached["previous"].tolist() == [80, 48] and pc.reached["current"].tolist() == [70, 56]
    aware = F.compare_periods(F.Funnel(ev, [PV, "event:purchase"], window="1D"), freq="4D",
                              end=pd.Timestamp("2025-01-16 01:00", tz="Europe/Paris"))  # 00:00 UTC
    assert aware.end == pd.Timestamp("2025-01-16")


def test_calendar_months():
    rows = [("a", "2025-01-01 10:00", PV), ("a", "2025-01-02", BUY), ("b", "2025-02-10", PV), ("z", "2025-03-31", ATC)]
    pc = F.compare_periods(F.Funnel(day_log(rows), [PV, "event:purchase"], window="2D"), freq="MS")
    assert (pc.previous_start, pc.current_start, pc.current_end) == (
        pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01"), pd.Timestamp("2025-03-01"))
    assert pc.calendar == "M" and pc.reached["previous"].tolist() == [1, 1] and pc.reached["current"].tolist() == [1, 0]


# ---------------------------------------------------------------------------------- too short, bad input
def test_too_short_span_gives_the_reason():
    ev = day_log([("a", "2025-01-01", PV), ("a", "2025-01-02", BUY), ("b", "2025-01-20", PV)])
    fn = F.Funnel(ev, [PV, "event:purchase"], window="7D")
    with pytest.raises(ValueError, match=r"freq='MS': the data cannot hold two full months"):
        F.compare_periods(fn, freq="MS")
    pc, why = F.report_periods(fn, "month")
    assert pc is None and why.startswith("the data cannot hold two full months") and "7-day conversion window" in why
    assert F.period_freq("auto", fn) == "1D"  # 2025-01-11 and 12 fit before 2025-01-13 (the end minus 7 days)
    pc, why = F.report_periods(fn, "auto")
    assert pc is None and "no customer entered the funnel in the previous period (2025-01-11 to 2025-01-11)" in why
    short = F.Funnel(ev.iloc[:2], [PV, "event:purchase"], window="7D")
    assert F.period_freq("auto", short) is None
    pc, why = F.report_periods(short, "auto")
    assert pc is None and why == ("the data (2025-01-01 to 2025-01-02) cannot hold two full days (the shortest periods "
                                  "compared) before the last 7-day conversion window, still open at its end.")
    assert F.report_periods(fn, "") == (None, "compare_period is '' (switched off).")
    empty = F.Funnel(ev.iloc[:0], [PV, "event:purchase"], window="7D")
    assert F.report_periods(empty, "auto") == (None, "the data has no events.")
    with pytest.raises(F.ShortSpan, match="no events"):
        F.compare_periods(empty, freq="1D")
    instant = F.Funnel(ev.assign(timestamp=pd.Timestamp("2025-01-01")), [PV, "event:purchase"], window="7D")
    assert F.report_periods(instant, "auto")[1].startswith("the data (2025-01-01 to 2025-01-01) cannot hold two")


def test_bad_arguments():
    ev = newcombe_log()
    fn = F.Funnel(ev, [PV, "event:purchase"], window="1D")
    with pytest.raises(ValueError, match="freq must be a positive duration like '30D' or a calendar alias"):
        F.compare_periods(fn, freq="fortnight")
    with pytest.raises(ValueError, match="freq must be a positive duration"):
        F.compare_periods(fn, freq="-7D")
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        F.compare_periods(fn, confidence=95)
    with pytest.raises(ValueError, match="at least 2 steps"):
        F.compare_periods(F.Funnel(ev, [PV]), freq="7D")
    with pytest.raises(TypeError, match="fitted cjlib.funnel.Funnel"):
        F.compare_periods(ev)
    with pytest.raises(ValueError, match="open funnels cannot be compared"):
        F.compare_periods(F.Funnel(ev, [PV, "event:purchase"], window="1D", open=True), freq="7D")


def test_period_freq_of_the_parameter():
    fn = F.Funnel(newcombe_log(), [PV, "event:purchase"], window="1D")
    assert [F.period_freq(x, fn) for x in ("day", "Week", "month", "14D", "", "auto")] == [
        "1D", "W", "MS", "14D", None, "W"]  # 2025-01-06 to 01-22 holds two weeks, not two months


# ------------------------------------------------------------------------------ options of the matcher
def test_exclusions_stop_an_attempt_in_its_period():
    ev = day_log([
        ("a", "2025-01-01", PV), ("a", "2025-01-01 01:00", SUPPORT), ("a", "2025-01-01 02:00", BUY),
        ("b", "2025-01-02", PV), ("b", "2025-01-02 02:00", BUY),
        ("c", "2025-01-08", PV), ("c", "2025-01-08 02:00", BUY),
        ("z", "2025-01-16", ATC),
    ])
    plain = F.compare_periods(F.Funnel(ev, [PV, "event:purchase"], window="1D"), freq="7D")
    excl = F.compare_periods(F.Funnel(ev, [PV, "event:purchase"], window="1D", exclude=[SUPPORT]), freq="7D")
    assert plain.reached["previous"].tolist() == [2, 2] and excl.reached["previous"].tolist() == [2, 1]
    assert excl.reached["current"].tolist() == [1, 1]


def test_optional_step_pairs_with_the_required_step_before_it():
    ev = day_log([("a", "2025-01-01", PV), ("a", "2025-01-01 01:00", SEARCH), ("a", "2025-01-01 02:00", BUY),
                  ("b", "2025-01-02", PV), ("b", "2025-01-02 02:00", BUY),
                  ("c", "2025-01-08", PV), ("z", "2025-01-16", ATC)])
    pc = F.compare_periods(F.Funnel(ev, [PV, SEARCH, "event:purchase"], window="1D", optional=[2]), freq="7D")
    t = pc.table
    assert list(zip(t["from_step"], t["to_step"])) == [(PV, SEARCH), (PV, BUY)]
    assert t["converted_previous"].tolist() == [1, 2] and t["units_previous"].tolist() == [2, 2]
    assert pc.reached["previous"].tolist() == [2, 1, 2]


# ------------------------------------------------------------------------- property test: a reference
def reference_at(ev, steps, window, mode, lo, hi, cut):
    """Per customer, steps reached by its best attempt among those starting in [lo, hi): plain Python."""
    w = None if window is None else pd.Timedelta(window)
    out = {}
    for cid, g in ensure_sorted(ev).groupby("customer_id", sort=False):
        names, ts = [str(e) for e in g["event"]], list(g["timestamp"])
        best = 0
        for i in range(len(names)):
            if names[i] not in steps[0] or not lo <= ts[i] < hi:
                continue
            level, prev = 1, i
            for k in range(1, len(steps)):  # "any": every later step after the step-1 event, in any order
                cands = [prev + 1] if mode == "strict" else range((i if mode == "any" else prev) + 1, len(names))
                nxt = next((j for j in cands if j < len(names) and names[j] in steps[k]
                            and (w is None or ts[j] - ts[i] <= w) and not (cut and ts[j] >= hi)), None)
                if nxt is None:
                    break
                level, prev = k + 1, nxt
            best = max(best, level)
        out[cid] = best
    return [sum(v >= k + 1 for v in out.values()) for k in range(len(steps))]


@st.composite
def random_logs(draw):
    names = [PV, ATC, BC, SEARCH]
    rows = []
    for c in range(draw(st.integers(1, 6))):
        t = draw(st.integers(0, 10))
        for _ in range(draw(st.integers(1, 10))):
            t += draw(st.sampled_from([0, 1, 2, 5]))
            rows.append((f"c{c}", t, draw(st.sampled_from(names))))
    return rows


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=random_logs(), window=st.sampled_from([None, "0min", "2min", "5min"]),
       mode=st.sampled_from(["ordered", "strict", "any"]), freq=st.sampled_from(["3min", "5min", "10min"]),
       steps=st.sampled_from([[PV, ATC, BC], [PV, ATC], [PV, [ATC, SEARCH], BC], [PV, PV, ATC]]))
def test_matches_reference(rows, window, mode, freq, steps):
    ev = log(rows)
    first, last = ev["timestamp"].min(), ev["timestamp"].max()
    stop = last - (pd.Timedelta(window) if window else pd.Timedelta(0))
    length = pd.Timedelta(freq)
    fn = F.Funnel(ev, steps, window=window, mode=mode)
    if stop - 2 * length < first:
        with pytest.raises(ValueError, match="cannot hold two full"):
            F.compare_periods(fn, freq=freq)
        return
    pc = F.compare_periods(fn, freq=freq)
    assert (pc.previous_start, pc.current_start, pc.current_end) == (stop - 2 * length, stop - length, stop)
    sets = [{s} if isinstance(s, str) else set(s) for s in steps]
    cut = window is None
    assert pc.reached["previous"].tolist() == reference_at(ev, sets, window, mode, stop - 2 * length, stop - length, cut)
    assert pc.reached["current"].tolist() == reference_at(ev, sets, window, mode, stop - length, stop, cut)
    t = pc.table
    assert ((t["converted_current"] <= t["units_current"]) & (t["converted_previous"] <= t["units_previous"])).all()


# ------------------------------------------------------------------------------------ planted change
@pytest.fixture(scope="module")
def sample_events():
    return synth.generate(3000, seed=3).events


CHECKOUT = [[PV, "view_item"], ATC, BC, "event:purchase"]


def test_planted_drop_in_the_last_period_is_found(sample_events):
    ev = sample_events
    rng = np.random.default_rng(0)
    nov = (ev["event"] == BUY) & (ev["timestamp"] >= "2025-11-01") & (ev["timestamp"] < "2025-12-01")
    drop = nov.to_numpy() & (rng.random(len(ev)) < 0.5)  # half of November's purchases never happen
    planted = ev.loc[~drop].reset_index(drop=True)
    fn = F.Funnel(planted, CHECKOUT, window="30D", unit="session")
    pc = F.compare_periods(fn, freq="MS")
    assert (pc.previous_start, pc.current_start) == (pd.Timestamp("2025-10-01"), pd.Timestamp("2025-11-01"))
    last = pc.table.set_index(["from_step", "to_step"]).loc[(BC, BUY)]
    assert last["difference"] < -0.2 and last["ci_high"] < 0 and bool(last["significant"])
    overall = pc.table.set_index(["from_step", "to_step"]).loc[(f"{PV} | view_item", BUY)]
    assert overall["difference"] < 0 and bool(overall["significant"])
    # the steps before the purchase did not change
    untouched = pc.table[pc.table["to_step"] != BUY]
    assert not untouched["significant"].any()


def test_unplanted_months_do_not_differ_at_the_purchase(sample_events):
    pc = F.compare_periods(F.Funnel(sample_events, CHECKOUT, window="30D", unit="session"), freq="MS")
    assert not pc.table.loc[pc.table["to_step"] == BUY, "significant"].any()


# ------------------------------------------------------------------------------- findings and the chart
def newcombe_comparison(**kw):
    return F.compare_periods(F.Funnel(newcombe_log(), [PV, "event:purchase"], window="1D"), freq="W", **kw)


def test_period_labels():
    pc = newcombe_comparison()
    assert (D.period_label(pc, "previous"), D.period_label(pc)) == ("the week of 2025-01-06", "the week of 2025-01-13")
    ev = newcombe_log()
    days = F.compare_periods(F.Funnel(ev, [PV, "event:purchase"], window="1D"), freq="4D", end="2025-01-16")
    assert D.period_label(days, "previous") == "2025-01-07 – 2025-01-10"
    one = F.compare_periods(F.Funnel(ev, [PV, "event:purchase"], window="1D"), freq="1D")
    assert D.period_label(one) == "2025-01-20"
    hours = F.compare_periods(F.Funnel(ev, [PV, "event:purchase"], window="90min"), freq="90min")
    assert D.period_label(hours) == "2025-01-21 21:00 – 2025-01-21 22:30"
    rows = [("a", "2025-01-01 10:00", PV), ("a", "2025-01-02", BUY), ("b", "2025-02-10", PV), ("z", "2025-03-31", ATC)]
    months = F.compare_periods(F.Funnel(day_log(rows), [PV, "event:purchase"], window="2D"), freq="MS")
    assert (D.period_label(months, "previous"), D.period_label(months)) == ("January 2025", "February 2025")
    with pytest.raises(ValueError, match="which must be"):
        D.period_label(pc, "next")


def test_an_earned_change_is_written_with_its_interval():
    pc = newcombe_comparison()
    title = D.period_title(pc)
    assert title == ("product_view → purchase conversion rose 20.0 pp in the week of 2025-01-13 against the week of "
                     "2025-01-06")
    text = D.period_findings(pc, name="checkout")
    assert "70 customers entered the checkout funnel in the week of 2025-01-13 and 80 in the week of 2025-01-06" in text
    assert ("- product_view → purchase rose 20.0 pp, from 60.0% to 80.0% (95% CI of the change +5.2 to +33.4 pp; "
            "Holm-adjusted p = 0.008)") in text
    assert "1 customer entering on or after 2025-01-20 is left out" in text
    assert D.period_line(pc) == ("**This period against the last:** in the week of 2025-01-13 against the week of "
                                 "2025-01-06, product_view → purchase rose 20.0 pp (Holm-significant).")
    assert problems(text) == [] and problems(title) == []


def test_no_claim_from_small_groups_or_chance():
    pc = newcombe_comparison()
    title, text = D.period_title(pc, min_units=100), D.period_findings(pc, min_units=100)
    assert title == ("Conversion per transition in the week of 2025-01-13 against the week of 2025-01-06: too few "
                     "customers to judge a change")
    assert "rose" not in text and text.endswith("Too few customers to judge a change in the week of 2025-01-13 "
                                                "against the week of 2025-01-06: every transition has fewer than 100 "
                                                "at its first step in a period.")
    assert D.period_line(pc, min_units=100) is None
    # three steps, the last transition small: judged ones speak, the small one is named as not judged
    rows = [("z0", "2025-01-01", ATC), ("end", "2025-01-22", ATC)]
    for i in range(60):
        rows += [(f"p{i}", "2025-01-02", PV), (f"c{i}", "2025-01-12", PV)]
        if i < 10:
            rows += [(f"p{i}", "2025-01-02 01:00", BC), (f"c{i}", "2025-01-12 01:00", BC)]
        if i < 2:
            rows += [(f"p{i}", "2025-01-02 02:00", BUY)]
        if i < 9:
            rows += [(f"c{i}", "2025-01-12 02:00", BUY)]
    small = F.compare_periods(F.Funnel(day_log(rows), [PV, BC, "event:purchase"], window="1D"), freq="10D")
    t = small.table.set_index(["from_step", "to_step"])
    assert t.loc[(BC, BUY), "significant"] and not t.loc[(PV, BC), "significant"]  # 2/10 → 9/10: p_adj < 0.05
    text = D.period_findings(small)
    assert "begin_checkout → purchase rose" not in text and "none of the 2 transitions judged" in text
    assert "1 transition with fewer than 30 customers at its first step in a period is not judged." in text
    assert D.period_title(small).startswith("No step's conversion changed beyond chance")
    rows = [("z0", "2025-01-01", ATC), ("end", "2025-01-22", ATC)]
    for i in range(60):  # 30 of 60 convert in both periods
        rows += [(f"p{i}", "2025-01-02", PV), (f"c{i}", "2025-01-12", PV)]
        if i % 2:
            rows += [(f"p{i}", "2025-01-02 01:00", BUY), (f"c{i}", "2025-01-12 01:00", BUY)]
    same = F.compare_periods(F.Funnel(day_log(rows), [PV, "event:purchase"], window="1D"), freq="10D")
    assert same.table["difference"].tolist() == [0.0]
    assert D.period_findings(same).count("No step's conversion changed beyond chance in 2025-01-11 – 2025-01-20 "
                                         "against 2025-01-01 – 2025-01-10: none of the 1 transition judged has a "
                                         "Holm-adjusted p-value below 0.05.") == 1


def test_metrics_are_json_and_carry_the_numbers():
    m = D.period_metrics(newcombe_comparison())["period_comparison"]
    js = to_jsonable(m)
    assert js["previous_start"] == "2025-01-06T00:00:00" and js["current_end"] == "2025-01-20T00:00:00"
    assert js["reached"] == [{"step": PV, "previous": 80, "current": 70}, {"step": BUY, "previous": 48, "current": 56}]
    tr = js["transitions"][0]
    assert (tr["difference"], round(tr["ci_low"], 4), round(tr["ci_high"], 4), tr["significant"]) == (
        pytest.approx(0.2), 0.0524, 0.3339, True)
    assert js["censored"] == 1 and js["in_both"] == 0 and js["freq"] == "W"


def test_section_writer_records_or_leaves_out(monkeypatch):
    from cjlib import report

    calls = []
    monkeypatch.setattr(report, "record_all", lambda m: calls.append(("record", list(m))))
    monkeypatch.setattr(report, "finding", lambda t: calls.append(("finding", t[:40])))
    monkeypatch.setattr(report, "left_out", lambda s, r: calls.append(("left_out", s, r)))
    D.period_report(newcombe_comparison(), None, name="checkout")
    assert calls == [("record", ["period_comparison"]), ("finding", "**This period against the last:** 70 cus")]
    calls.clear()
    D.period_report(None, "compare_period is '' (switched off).")
    assert calls == [("left_out", "this period against the last", "compare_period is '' (switched off).")]


def test_a_bad_parameter_is_an_error_not_a_left_out_section():
    fn = F.Funnel(newcombe_log(), [PV, "event:purchase"], window="1D")
    with pytest.raises(ValueError, match="freq must be a positive duration"):
        F.report_periods(fn, "fortnight")
    pc, why = F.report_periods(F.Funnel(newcombe_log(), [PV, "event:purchase"], window="1D", open=True), "week")
    assert pc is None and why.startswith("the funnel is open")
    pc, why = F.report_periods(F.Funnel(newcombe_log(), [PV]), "week")
    assert pc is None and "single step" in why


def test_chart_draws_each_transition_with_its_interval():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cjlib.plots import periods as pp

    pc = newcombe_comparison()
    ax = pp.period_differences(pc.table, title=D.period_title(pc))
    dots = ax.collections[-1].get_offsets()
    assert dots.tolist() == [[pytest.approx(20.0), 0.0]]
    seg = ax.collections[0].get_segments()[0]
    assert seg[0][0] == pytest.approx(5.24, abs=0.01) and seg[1][0] == pytest.approx(33.39, abs=0.01)
    assert ax.get_yticklabels()[0].get_text() == "product_view → purchase\n60.0% → 80.0%"
    assert ax.get_title().replace("\n", " ") == D.period_title(pc)
    empty = pc.table.assign(difference=np.nan)
    assert len(pp.period_differences(empty).collections[-1].get_offsets()) == 0
    plt.close("all")
