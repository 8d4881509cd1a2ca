"""Tests for cjlib.funnel: hand-computed cases, a property test against a per-unit reference, planted truth."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cjlib import funnel as F
from cjlib.io import ensure_sorted

T0 = pd.Timestamp("2025-03-01 09:00")
PV, ATC, BC, BUY, SEARCH = "product_view", "add_to_cart", "begin_checkout", "purchase", "search"


def log(rows, **extra):
    """rows: (customer, minutes after T0, event[, extra values...])."""
    df = pd.DataFrame(rows, columns=["customer_id", "minutes", "event", *extra.get("cols", [])])
    df["timestamp"] = (T0 + pd.to_timedelta(df.pop("minutes"), unit="min")).astype("datetime64[us]")
    df["event"] = df["event"].astype("category")
    return df


def reached(df):
    return df["reached"].tolist()


# ------------------------------------------------------------------------------------------------ modes
@pytest.fixture
def modes_log():
    return log([
        ("x", 0, PV), ("x", 1, SEARCH), ("x", 2, ATC), ("x", 3, BC),   # in order, with an event between
        ("y", 0, PV), ("y", 1, ATC), ("y", 2, BC),                      # in order, back to back
        ("z", 0, PV), ("z", 1, BC), ("z", 2, ATC),                      # steps 2 and 3 swapped
        ("w", 0, ATC), ("w", 1, BC),                                    # never enters
    ])


def test_modes_differ(modes_log):
    steps = [PV, ATC, BC]
    assert reached(F.funnel(modes_log, steps, mode="ordered")) == [3, 3, 2]
    assert reached(F.funnel(modes_log, steps, mode="strict")) == [3, 1, 1]
    assert reached(F.funnel(modes_log, steps, mode="any")) == [3, 3, 3]


def test_columns_and_rates(modes_log):
    out = F.funnel(modes_log, [PV, ATC, BC])
    assert list(out.columns) == ["step", "reached", "conversion_from_start", "conversion_from_previous", "dropped",
                                 "drop_off_rate", "median_time_from_previous", "p90_time_from_previous"]
    assert out.attrs == {}  # no metadata on the table: the fitted Funnel says how many units there are
    assert F.Funnel(modes_log, [PV, ATC, BC]).units_total == 4
    np.testing.assert_allclose(out["conversion_from_start"], [1, 1, 2 / 3])
    assert np.isnan(out["conversion_from_previous"][0]) and np.isnan(out["drop_off_rate"][0])
    np.testing.assert_allclose(out["conversion_from_previous"][1:], [1, 2 / 3])
    assert out["dropped"].tolist() == [0, 0, 1]
    np.testing.assert_allclose(out["drop_off_rate"][2], 1 / 3)
    # ATC: x 2 min, y 1 min, z 2 min (ATC after the swapped BC) -> median 2 min, p90 = 2 min
    assert out["median_time_from_previous"][1] == pd.Timedelta(minutes=2)
    # BC: x 1 min, y 1 min
    assert out["median_time_from_previous"][2] == pd.Timedelta(minutes=1)
    assert pd.isna(out["median_time_from_previous"][0])


def test_any_mode_time_is_completion_increment(modes_log):
    out = F.funnel(modes_log[modes_log.customer_id == "z"], [PV, ATC, BC], mode="any")
    # z: PV 0, BC 1, ATC 2 -> steps 1..2 done at 2 min, steps 1..3 done at 2 min too
    assert out["median_time_from_previous"].tolist()[1:] == [pd.Timedelta(minutes=2), pd.Timedelta(0)]


def test_no_mutation_and_unsorted_input(modes_log):
    shuffled = modes_log.sample(frac=1, random_state=1)
    before = shuffled.copy()
    a = F.funnel(shuffled, [PV, ATC, BC])
    pd.testing.assert_frame_equal(shuffled, before)
    pd.testing.assert_frame_equal(a, F.funnel(modes_log, [PV, ATC, BC]))


# ----------------------------------------------------------------------------------------------- window
def test_window_boundary_is_inclusive():
    ev = log([("a", 0, PV), ("a", 60, ATC)])
    assert reached(F.funnel(ev, [PV, ATC], window="1h")) == [1, 1]
    assert reached(F.funnel(ev, [PV, ATC], window=pd.Timedelta(minutes=59))) == [1, 0]
    assert reached(F.funnel(ev, [PV, ATC], window="0s")) == [1, 0]


def test_window_measured_from_step_one():
    ev = log([("a", 0, PV), ("a", 30, ATC), ("a", 70, BC)])
    assert reached(F.funnel(ev, [PV, ATC, BC], window="1h")) == [1, 1, 0]
    assert reached(F.funnel(ev, [PV, ATC, BC], window="70min")) == [1, 1, 1]


def test_second_attempt_reaches_further():
    day = 24 * 60
    ev = log([("a", 0, PV), ("a", 10 * day, PV), ("a", 10 * day + 720, ATC), ("b", 0, PV), ("b", 5 * day, ATC)])
    out = F.funnel(ev, [PV, ATC], window="2D")
    assert reached(out) == [2, 1]                       # a counts once, b's ATC is outside the window
    assert out["median_time_from_previous"][1] == pd.Timedelta(hours=12)  # from a's second attempt
    units = F.funnel_units(ev, [PV, ATC], window="2D")
    assert units.loc[0, "entered_at"] == T0 + pd.Timedelta(days=10)
    assert units.loc[0, "first_entered_at"] == T0
    assert reached(F.funnel(ev, [PV, ATC])) == [2, 2]   # unbounded: both convert from the first attempt


def test_earliest_attempt_reaching_the_max_gives_the_times():
    # both attempts reach step 2; the first one (PV at 0 -> ATC at 50) is the one reported
    ev = log([("a", 0, PV), ("a", 40, PV), ("a", 50, ATC)])
    out = F.funnel(ev, [PV, ATC], window="1h")
    assert out["median_time_from_previous"][1] == pd.Timedelta(minutes=50)


# ------------------------------------------------------------------------------------------------- ties
def test_ties_keep_input_order():
    before = log([("a", 0, ATC), ("a", 0, PV)])
    assert reached(F.funnel(before, [PV, ATC])) == [1, 0]
    after = log([("a", 0, PV), ("a", 0, ATC)])
    out = F.funnel(after, [PV, ATC], mode="strict")
    assert reached(out) == [1, 1]
    assert out["median_time_from_previous"][1] == pd.Timedelta(0)


def test_same_row_cannot_satisfy_two_ordered_steps():
    ev = log([("a", 0, PV), ("a", 1, ATC)])
    assert reached(F.funnel(ev, [PV, PV])) == [1, 0]
    ev2 = log([("a", 0, PV), ("a", 1, PV)])
    out = F.funnel(ev2, [PV, PV])
    assert reached(out) == [1, 1] and out["step"].tolist() == [PV, f"{PV} (2)"]


# ------------------------------------------------------------------------------------------------ units
def test_session_unit_sessionized():
    ev = log([("a", 0, PV), ("a", 120, ATC), ("b", 0, PV), ("b", 10, ATC)])
    assert reached(F.funnel(ev, [PV, ATC])) == [2, 2]
    out = F.funnel(ev, [PV, ATC], unit="session")
    assert reached(out) == [2, 1] and F.Funnel(ev, [PV, ATC], unit="session").units_total == 3


def test_session_unit_with_session_id():
    ev = log([("a", 0, PV, "s1"), ("a", 120, ATC, "s1"), ("b", 0, PV, "t1"), ("b", 5, SEARCH, "t2"),
              ("b", 10, ATC, "t1")], cols=["session_id"])
    out = F.funnel(ev, [PV, ATC], unit="session")
    assert reached(out) == [2, 2] and F.Funnel(ev, [PV, ATC], unit="session").units_total == 3
    # strict is judged within the session: b's t2 event does not break t1
    assert reached(F.funnel(ev, [PV, ATC], unit="session", mode="strict")) == [2, 2]
    assert reached(F.funnel(ev, [PV, ATC], unit="customer", mode="strict")) == [2, 1]


# ------------------------------------------------------------------------------------- stages and lists
def test_stage_steps_and_retention():
    ev = log([
        ("a", 0, "page_view"), ("a", 1, PV), ("a", 2, BUY), ("a", 500, BUY),
        ("b", 0, "ad_click"), ("b", 1, BUY),
        ("c", 0, PV),
    ])
    out = F.funnel(ev, ["awareness", "consideration", "purchase", "retention"])
    assert reached(out) == [2, 1, 1, 1]
    assert out["median_time_from_previous"][3] == pd.Timedelta(minutes=498)
    assert reached(F.funnel(ev, ["purchase", "retention"])) == [2, 1]
    # the event name 'purchase' is any purchase; the stage 'purchase' is the first one only
    assert reached(F.funnel(ev, [BUY, "retention"])) == [2, 1]


def test_list_of_names_step():
    ev = log([("a", 0, SEARCH), ("a", 1, BUY), ("b", 0, PV), ("b", 1, BUY), ("c", 0, "page_view"), ("c", 1, BUY)])
    out = F.funnel(ev, [[PV, SEARCH], BUY])
    assert reached(out) == [2, 2] and out["step"][0] == "product_view | search"


def test_by_segments():
    ev = log([("a", 0, PV, "mobile"), ("a", 1, ATC, "mobile"), ("b", 0, PV, "mobile"),
              ("c", 0, PV, "desktop"), ("c", 3, ATC, "desktop"), ("d", 0, SEARCH, "desktop")], cols=["device"])
    out = F.funnel(ev, [PV, ATC], by="device")
    assert out["device"].tolist() == ["desktop", "desktop", "mobile", "mobile"]
    assert reached(out) == [1, 1, 2, 1]
    f = F.Funnel(ev, [PV, ATC])
    assert f.units_total == 4 and f.units_by("device").to_dict() == {"desktop": 2, "mobile": 2}


def test_bad_parameters():
    ev = log([("a", 0, PV)])
    with pytest.raises(ValueError, match="steps: unknown step name 'nope'"):
        F.funnel(ev, [PV, "nope"])
    with pytest.raises(ValueError, match="steps must be a non-empty"):
        F.funnel(ev, [])
    with pytest.raises(ValueError, match="window must not be negative"):
        F.funnel(ev, [PV], window="-1D")
    with pytest.raises(ValueError, match="window must be"):
        F.funnel(ev, [PV], window=3)
    with pytest.raises(ValueError, match="mode must be one of"):
        F.funnel(ev, [PV], mode="loose")
    with pytest.raises(ValueError, match="unit must be one of"):
        F.funnel(ev, [PV], unit="device")
    with pytest.raises(ValueError, match="by: column 'device'"):
        F.funnel(ev, [PV], by="device")


# ------------------------------------------------------------------------- reference implementation
def reference(events, steps, window, mode):
    """Deliberately simple per-customer funnel: brute force over index combinations."""
    ev = ensure_sorted(events)
    w = None if window is None else pd.Timedelta(window)
    K = len(steps)
    levels, gaps = [], {k: [] for k in range(1, K)}
    for _, g in ev.groupby("customer_id", sort=False):
        names = [str(e) for e in g["event"]]
        ts = list(g["timestamp"])
        n = len(names)

        def ok(i, k, names=names):
            return names[i] in steps[k]

        best, best_times = 0, None
        for i in range(n):  # attempts in order: the first reaching a new maximum wins ties
            if not ok(i, 0):
                continue

            def inwin(j, ts=ts, i=i):
                return w is None or ts[j] - ts[i] <= w

            lvl, times = 1, [ts[i]]
            if mode == "ordered":
                for L in range(K, 1, -1):
                    found = None
                    for rest in itertools.combinations(range(i + 1, n), L - 1):
                        if all(ok(j, k + 1) and inwin(j) for k, j in enumerate(rest)):
                            found = rest
                            break
                    if found:
                        lvl, times = L, [ts[i]] + [ts[j] for j in found]
                        break
            elif mode == "strict":
                for k in range(1, K):
                    j = i + k
                    if j < n and ok(j, k) and inwin(j):
                        lvl, times = k + 1, times + [ts[j]]
                    else:
                        break
            else:
                for k in range(1, K):
                    js = [j for j in range(i + 1, n) if ok(j, k) and inwin(j)]
                    if not js:
                        break
                    lvl, times = k + 1, times + [max(times[-1], ts[js[0]])]
            if lvl > best:
                best, best_times = lvl, times
        levels.append(best)
        for k in range(1, best):
            gaps[k].append(best_times[k] - best_times[k - 1])
    reached_ = [sum(lv >= k + 1 for lv in levels) for k in range(K)]
    med = [pd.NaT] + [pd.Series(gaps[k]).median() if gaps[k] else pd.NaT for k in range(1, K)]
    return reached_, med


@st.composite
def random_logs(draw):
    names = [PV, ATC, BC, SEARCH]
    rows = []
    for c in range(draw(st.integers(1, 6))):
        t = 0
        for _ in range(draw(st.integers(0, 8))):
            t += draw(st.sampled_from([0, 0, 1, 2, 5]))
            rows.append((f"c{c}", t, draw(st.sampled_from(names))))
    return rows


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=random_logs(), window=st.sampled_from([None, "0min", "2min", "5min"]),
       mode=st.sampled_from(["ordered", "strict", "any"]),
       steps=st.sampled_from([[PV, ATC, BC], [PV, ATC], [PV, [ATC, SEARCH], BC], [PV, PV, ATC]]))
def test_matches_reference(rows, window, mode, steps):
    if not rows:
        return
    ev = log(rows)
    sets = [{s} if isinstance(s, str) else set(s) for s in steps]
    exp_reached, exp_med = reference(ev, sets, window, mode)
    out = F.funnel(ev, steps, window=window, mode=mode)
    assert reached(out) == exp_reached
    got = out["median_time_from_previous"].tolist()
    for g, e in zip(got, exp_med):
        assert (pd.isna(g) and pd.isna(e)) or g == e


def test_event_prefix_overrides_stage():
    ev = log([("a", 0, BC), ("a", 1, BUY), ("a", 60, BC), ("a", 61, BUY)])
    units = F.funnel(ev, [BC, "event:purchase"], unit="session")
    assert reached(units) == [2, 2] and units["step"].tolist() == [BC, "purchase"]
    # the stage 'purchase' is the first purchase only: the second session's purchase is 'retention'
    assert reached(F.funnel(ev, [BC, BUY], unit="session")) == [2, 1]
    with pytest.raises(ValueError, match="unknown stage 'nope'"):
        F.funnel(ev, ["stage:nope"])


# ------------------------------------------------------------------------------------------ statistics
def test_wilson_interval_hand_value():
    lo, hi = F.wilson_interval(8, 10)
    assert float(lo) == pytest.approx(0.4902, abs=1e-4) and float(hi) == pytest.approx(0.9433, abs=1e-4)
    lo, hi = F.wilson_interval(np.array([0, 5]), np.array([10, 0]))
    assert lo[0] == 0 and hi[0] == pytest.approx(0.2775, abs=1e-4) and np.isnan(lo[1])


def test_holm_hand_example():
    # sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    np.testing.assert_allclose(F.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(F.holm([0.5, np.nan, 0.6]), [1.0, np.nan, 1.0])


def test_two_proportion_test_hand_value():
    # 30/100 vs 50/100: pooled 0.4, se = sqrt(0.24 * 0.02) = 0.069282, z = -2.88675
    z, p = F.two_proportion_test(30, 100, 50, 100)
    assert float(z) == pytest.approx(-2.886751, abs=1e-5) and float(p) == pytest.approx(0.003892, abs=1e-5)


def test_compare_segments_hand_counts():
    rows = []
    for i in range(10):
        rows += [(f"m{i}", 0, PV, "mobile")] + ([(f"m{i}", 1, ATC, "mobile")] if i < 2 else [])
        rows += [(f"d{i}", 0, PV, "desktop")] + ([(f"d{i}", 1, ATC, "desktop")] if i < 8 else [])
    ev = log(rows, cols=["device"])
    out = F.compare_segments(ev, [PV, ATC], "device")
    assert out["device"].tolist() == ["desktop", "mobile"]
    assert out["converted"].tolist() == [8, 2] and out["units"].tolist() == [10, 10]
    _z, p = F.two_proportion_test(2, 10, 8, 10)
    assert out.loc[1, "p_value"] == pytest.approx(float(p))
    assert out.loc[1, "p_adjusted"] == pytest.approx(min(1, 2 * float(p)))
    assert out.loc[0, "ci_low"] == pytest.approx(0.4902, abs=1e-4)
    ctl = F.compare_segments(ev, [PV, ATC], "device", control="desktop")
    assert np.isnan(ctl.loc[0, "p_value"]) and ctl.loc[1, "ratio"] == pytest.approx(0.25)


# -------------------------------------------------------------------------------------------- drivers
def test_dropoff_drivers_planted():
    rows = []
    spec = [(SEARCH, True, 30), (SEARCH, False, 10), ("add_to_wishlist", True, 10), ("add_to_wishlist", False, 30)]
    i = 0
    for event, buys, count in spec:
        for _ in range(count):
            rows += [(f"c{i}", 0, PV), (f"c{i}", 1, event)] + ([(f"c{i}", 2, BUY)] if buys else [])
            i += 1
    ev = log(rows)
    drv = F.dropoff_drivers(ev, [PV, "event:purchase"], min_support=5)
    out = drv.table.set_index("event")
    assert out.loc[SEARCH, "odds_ratio"] == pytest.approx(31 * 31 / (11 * 11))
    assert out.loc["add_to_wishlist", "odds_ratio"] == pytest.approx(11 * 11 / (31 * 31))
    assert out.loc[SEARCH, "rate_with"] == pytest.approx(0.75) and out.loc[SEARCH, "units_with"] == 40
    assert list(out.index) == [SEARCH, "add_to_wishlist"]  # product_view / purchase are step events
    assert (drv.units, drv.converted, drv.from_step, drv.to_step) == (80, 40, PV, BUY)  # planted: 30 + 10 buy
    assert F.dropoff_drivers(ev, [PV, "event:purchase"], min_support=41).table.empty


# -------------------------------------------------------------------------------- flows, times, cohorts
def test_where_droppers_go():
    ev = log([("a", 0, PV), ("a", 1, SEARCH), ("a", 2, PV), ("b", 0, PV), ("b", 1, ATC), ("c", 0, PV), ("c", 1, SEARCH),
              ("c", 2, PV), ("c", 3, "page_view"), ("c", 4, SEARCH)])
    res = F.where_droppers_go(ev, [PV, ATC], depth=3)
    assert res.paths.values.tolist() == [
        [PV, "search > product_view > (end)", 1, 0.5], [PV, "search > product_view > page_view", 1, 0.5]]
    flows = {(s, t): c for s, t, c in res.flows.values.tolist()}
    assert flows[("dropped after product_view", "1: search")] == 2
    assert flows[("2: product_view", "3: (end)")] == 1 and flows[("2: product_view", "3: page_view")] == 1


def test_time_to_convert(modes_log):
    out = F.time_to_convert(modes_log, [PV, ATC, BC])
    assert out["customer_id"].tolist() == ["x", "y"]
    assert out["time_to_convert"].tolist() == [pd.Timedelta(minutes=3), pd.Timedelta(minutes=2)]
    assert out["hours"].tolist() == pytest.approx([0.05, 2 / 60])
    part = F.time_to_convert(modes_log, [PV, ATC, BC], to_step=ATC)
    assert len(part) == 3 and F.Funnel(modes_log, [PV, ATC, BC]).table()["reached"].iloc[0] == 3


def test_conversion_by_cohort():
    day = 24 * 60  # T0 is Saturday 2025-03-01: weeks of Mon 24 Feb and Mon 3 Mar
    ev = log([("a", 0, PV), ("a", 5, ATC), ("b", 10, PV), ("c", 3 * day, PV), ("c", 3 * day + 1, ATC),
              ("d", 20 * day, SEARCH)])
    out = F.conversion_by_cohort(ev, [PV, ATC], freq="W", window="1D")
    assert out["cohort"].tolist() == [pd.Timestamp("2025-02-24"), pd.Timestamp("2025-03-03")]
    assert out["units"].tolist() == [2, 1] and out["converted"].tolist() == [1, 1]
    assert out["complete"].tolist() == [True, True]
    with pytest.raises(ValueError, match="freq must be"):
        F.conversion_by_cohort(ev, [PV, ATC], freq="day")


def test_friction():
    ev = log([("a", 0, BC), ("a", 1, "payment_error"), ("a", 2, BC), ("a", 3, BUY),
              ("b", 0, BC), ("b", 1, "payment_error"),
              ("c", 0, BC), ("c", 1, BUY)])
    out = F.friction(ev, [BC, "event:purchase"], long_dwell="2min").table.iloc[0]
    assert out["units"] == 3 and out["conversion"] == pytest.approx(2 / 3)
    assert out["error_units"] == 2 and out["conversion_if_error"] == pytest.approx(0.5)
    # a's first checkout opens the chosen attempt, so its retry is a loop; a dwelt 3 min > 2 min
    assert out["loop_units"] == 1 and out["conversion_if_loop"] == 1.0
    assert out["long_dwell_units"] == 1 and out["dwell_threshold"] == pd.Timedelta(minutes=2)
    auto = F.friction(ev, [BC, "event:purchase"]).table.iloc[0]
    assert auto["dwell_threshold"] == pd.Timedelta(minutes=2.8)  # p90 of converters' 3 and 1 min
    assert F.friction(ev, [BC, "event:purchase"]).error_events == ("payment_error",)


def test_cart_abandonment_and_recovery():
    day = 24 * 60
    ev = log([
        ("a", 0, ATC), ("a", 3 * day, BUY),                  # abandoned, recovered after 3 days
        ("b", 0, ATC), ("b", 5, BUY),                        # bought in the session
        ("c", 0, ATC), ("c", 10 * day, BUY),                 # abandoned, purchase too late
        ("d", 0, ATC), ("d", 5, ATC), ("d", 7 * day + 5, BUY),  # recovered exactly at the 7-day limit
    ])
    res = F.cart_abandonment(ev, window="7D")
    assert (res.carts, res.abandoned, res.recovered) == (4, 3, 2)
    assert res.abandonment_rate == pytest.approx(0.75) and res.recovery_rate == pytest.approx(2 / 3)
    assert res.cart_event == (ATC,) and res.purchase_event == (BUY,)
    assert res.table["time_to_recovery"].dropna().tolist() == [pd.Timedelta(days=3), pd.Timedelta(days=7)]
    assert res.window == pd.Timedelta(days=7)
    assert F.cart_abandonment(ev, window="2D").recovered == 0
    with pytest.raises(ValueError, match="window must be positive"):
        F.cart_abandonment(ev, window="0D")


# ------------------------------------------------------------------------------------------ planted
def test_planted_mobile_checkout_friction():
    synth = pytest.importorskip("cjlib.synth")
    d = synth.generate(n_customers=3000, seed=0)
    ev = ensure_sorted(d.events.assign(event=d.events["event"].astype("category")))
    fr = d.params["friction"]
    out = F.compare_segments(ev, [fr["from_step"], "event:" + fr["to_step"]], fr["column"], unit="session",
                             window="1h")
    worst = out.loc[out["rate"].idxmin()]
    assert worst[fr["column"]] == fr["value"]
    assert worst["p_adjusted"] < 0.01 and worst["ratio"] < 1
    assert worst["ratio"] == pytest.approx(fr["multiplier"], abs=0.08)


def test_plots_return_labelled_axes(modes_log):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cjlib.plots import funnel as P

    steps = [PV, ATC, BC]
    seg = modes_log.assign(device=np.where(modes_log["customer_id"].isin(["x", "y"]), "a", "b"))
    axes = [
        P.funnel_bars(F.funnel(modes_log, steps), title="funnel"),
        P.segment_comparison(F.compare_segments(seg, steps, "device", to_step=BC), by="device", title="segments"),
        P.time_to_convert_hist(F.time_to_convert(modes_log, steps), title="ttc"),
        P.cohort_conversion(F.conversion_by_cohort(modes_log, steps, window="1h"), to_step=BC, title="cohorts"),
    ]
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    plt.close("all")


# ------------------------------------------------------------------- issue 14: roles, not positions or names
def _map(**over):
    from cjlib.stagemap import stage_map_from_dict

    spec = {
        "stages": [{"name": "lead", "events": ["lead_created"]}, {"name": "won", "events": ["closed_won"]}],
        "conversion_events": ["closed_won"],
        "journeys": {"pipeline": ["lead", "won"], "quick": ["lead_created", "closed_won"]},
        "default_journey": "pipeline",
    }
    spec.update(over)
    return stage_map_from_dict(spec)


def test_resolve_journey_uses_the_maps_default_and_names_the_journeys_on_a_bad_name():
    sm = _map()
    assert F.resolve_journey("", stage_map=sm) == ("pipeline", ["lead", "won"])
    assert F.resolve_journey("quick", stage_map=sm) == ("quick", ["lead_created", "closed_won"])
    assert F.resolve_journey("", stage_map=_map(default_journey=None)) == ("stages", ["lead", "won"])
    with pytest.raises(ValueError, match=r"journey 'purchase' is not a journey of the stage map.*: pipeline, quick$") as e:
        F.resolve_journey("purchase", stage_map=sm)
    assert "\n" not in str(e.value)
    # the checkout funnel: the map's role, or none
    assert F.resolve_checkout("", stage_map=sm) == (None, None)
    assert F.resolve_checkout("", stage_map=_map(checkout_journey="quick")) == ("quick", ["lead_created", "closed_won"])
    with pytest.raises(ValueError, match="checkout_journey 'checkout' is not a journey"):
        F.resolve_checkout("checkout", stage_map=sm)


def test_cart_events_come_from_the_cart_role_not_from_the_checkout_journeys_second_step():
    from cjlib.stagemap import load_stage_map, stage_map_from_dict

    base = load_stage_map()
    spec = {"stages": [{"name": s.name, "events": list(s.events), "nth": s.nth} for s in base.stages],
            "conversion_events": ["purchase"], "other_events": list(base.other_events),
            # step 2 is search, the last step a begin_checkout: neither is the cart or the purchase
            "journeys": {"checkout": [PV, SEARCH, ATC, BC]}, "cart_events": [ATC]}
    sm = stage_map_from_dict(spec)
    ev = log([("a", 0, SEARCH), ("a", 1, ATC), ("a", 2, BC), ("b", 0, ATC), ("b", 3, BUY)])
    res = F.cart_abandonment(ev, stage_map=sm, window="7D")
    assert res.cart_event == (ATC,) and res.purchase_event == (BUY,)
    assert (res.carts, res.abandoned) == (2, 1)  # a leaves its cart, b buys
    spec.pop("cart_events")
    with pytest.raises(ValueError, match="declares no cart events"):
        F.cart_abandonment(ev, stage_map=stage_map_from_dict(spec))


def test_step_that_is_both_stage_and_event_warns_once_naming_the_event_form():
    from cjlib.errors import DataWarning

    ev = log([("a", 0, PV), ("a", 1, BUY), ("a", 2, PV), ("a", 3, BUY)])
    with pytest.warns(DataWarning, match="'event:purchase'") as rec:
        out = F.funnel(ev, [PV, "purchase"])
    assert len([w for w in rec if issubclass(w.category, DataWarning)]) == 1
    assert reached(out) == [1, 1]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        F.funnel(ev, [PV, "event:purchase"])
        F.funnel(ev, [PV, "stage:purchase"])
    assert F.ambiguous_steps([PV, "purchase", ["retention", "purchase"], "event:purchase"]) == ["purchase"]


def test_parse_steps_and_conversion_step():
    assert F.parse_steps(" a, b|c ,, event:d ") == ["a", ["b", "c"], "event:d"]
    assert F.parse_steps("") == []
    sm = _map()
    assert F.conversion_step(["lead", "won"], stage_map=sm) == "won"
    assert F.conversion_step(["lead_created", "event:closed_won"], stage_map=sm) == "closed_won"
    assert F.conversion_step(["won", "lead"], stage_map=sm) is None  # the conversion is step 1: nothing after it converts


def test_segment_columns_default_to_the_profile_candidates():
    from types import SimpleNamespace

    prof = SimpleNamespace(segment_candidates=("plan", "region", "acquisition_channel"))
    ev_cols, cu_cols = ["customer_id", "event", "channel", "device"], ["plan", "region"]
    assert F.segment_columns("", prof, ev_cols, cu_cols) == (["plan", "region", "acquisition_channel"], [])
    assert F.segment_columns("device, nope", prof, ev_cols, cu_cols) == (["device"], ["nope"])
    assert F.segment_columns("acquisition_channel", prof, ["event"], ()) == ([], ["acquisition_channel"])


def _cmp(col, rows):
    return pd.DataFrame(rows, columns=["from_step", "to_step", col, "units", "converted", "rate", "ci_low", "ci_high",
                                       "rate_comparison", "ratio", "p_adjusted", "significant"])


def test_worst_segment_needs_size_significance_and_no_tie():
    dev = _cmp("device", [("a", "b", "mobile", 500, 100, 0.2, 0.17, 0.24, 0.4, 0.5, 1e-5, True),
                          ("a", "b", "tablet", 40, 2, 0.05, 0.01, 0.17, 0.4, 0.125, 1e-3, True),   # too small
                          ("a", "b", "desktop", 900, 360, 0.4, 0.37, 0.43, 0.2, 2.0, 1e-5, True)])
    w = F.worst_segment({"device": dev}, min_units=100)
    assert (w["level"], w["ratio"], w["units"], w["rate_rest"]) == ("mobile", 0.5, 500, 0.4)
    assert F.worst_segment({"device": dev}, to_step="zzz", min_units=100) is None
    assert F.worst_segment({"device": dev}, min_units=30)["level"] == "tablet"
    tie = _cmp("plan", [("a", "b", "free", 300, 60, 0.2, 0.16, 0.25, 0.4, 0.5, 1e-4, True)])
    assert F.worst_segment({"device": dev, "plan": tie}, min_units=100) is None  # 0.5 against 0.5: a tie
    ns = dev.assign(significant=False)
    assert F.worst_segment({"device": ns}, min_units=10) is None


def test_largest_drop_and_worst_friction_guards():
    tab = pd.DataFrame({"step": ["a", "b", "c", "d"], "reached": [1000, 400, 300, 1],
                        "dropped": [0, 600, 100, 299], "drop_off_rate": [np.nan, 0.6, 0.25, 299 / 300]})
    d = F.largest_drop(tab, min_units=30)
    assert (d["from_step"], d["to_step"], d["units"], d["dropped"], d["excluded"]) == ("c", "d", 300, 299, 0)
    # c holds 5 units only: c → d is left out (and counted), a → b is the largest of the rest
    d = F.largest_drop(tab.assign(reached=[1000, 400, 5, 1]), min_units=30)
    assert (d["from_step"], d["to_step"], d["drop_off_rate"], d["excluded"]) == ("a", "b", 0.6, 1)
    tie = pd.DataFrame({"step": ["a", "b", "c"], "reached": [100, 50, 25], "dropped": [0, 50, 25],
                        "drop_off_rate": [np.nan, 0.5, 0.5]})
    assert F.largest_drop(tie) is None
    assert F.largest_drop(tie.iloc[:2]) is None  # one transition: nothing to be largest among
    fr = pd.DataFrame([{"from_step": "a", "to_step": "b", "units": 1000,
                        "loop_units": 500, "loop_rate": 0.5, "conversion_if_loop": 0.17, "conversion_if_no_loop": 0.18,
                        "error_units": 200, "error_rate": 0.2, "conversion_if_error": 0.2, "conversion_if_no_error": 0.8,
                        "long_dwell_units": 10, "long_dwell_rate": 0.01, "conversion_if_long_dwell": 0.0,
                        "conversion_if_no_long_dwell": 0.9}])
    w = F.worst_friction(fr, min_units=50)
    assert (w["signal"], w["units"], w["conversion_with"]) == ("error", 200, 0.2)  # long dwell: 10 units only
    assert F.worst_friction(fr.assign(error_units=20), min_units=50) is None  # the loop gap (17 vs 18 %) is noise


def test_cart_outcomes_per_group():
    tab = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "abandoned": [True, True, False, True],
                        "recovered": [True, False, False, False]})
    out = F.cart_outcomes(tab, pd.Series({"a": "x", "b": "x", "c": "y"}), "device")
    assert out.loc["all"].tolist() == [1, 1, 2, 4]
    assert out.loc["device = x"].tolist() == [0, 1, 1, 2] and out.loc["device = y"].tolist() == [1, 0, 0, 1]
    assert list(out.columns) == ["purchased", "recovered", "lost", "carts"]


# ------------------------------------------------------------------------------------------ fitted Funnel
@pytest.fixture
def fitted_log():
    rows = []
    for i in range(40):
        c, dev = f"c{i:02d}", ("mobile" if i % 3 else "desktop")
        rows += [(c, 0, PV, dev), (c, 1, SEARCH, dev)]
        if i % 2:
            rows += [(c, 2, ATC, dev), (c, 3, "payment_error", dev)]
        if i % 4 == 1:
            rows += [(c, 5, ATC, dev), (c, 7 + i, BC, dev), (c, 9 + i, BUY, dev)]
    return log(rows, cols=["device"])


def test_funnel_methods_equal_the_one_call_functions(fitted_log):
    from pandas.testing import assert_frame_equal

    steps, kw = [PV, ATC, BC, "event:purchase"], dict(window="1D", mode="ordered", unit="customer")
    f = F.Funnel(fitted_log, steps, **kw)
    assert f.labels == [PV, ATC, BC, BUY] and (f.window, f.mode, f.unit) == ("1D", "ordered", "customer")
    assert_frame_equal(f.table(), F.funnel(fitted_log, steps, **kw))
    assert_frame_equal(f.table(by="device"), F.funnel(fitted_log, steps, by="device", **kw))
    assert_frame_equal(f.units(), F.funnel_units(fitted_log, steps, **kw))
    assert_frame_equal(f.compare("device"), F.compare_segments(fitted_log, steps, "device", **kw))
    assert_frame_equal(f.compare("device", control="desktop", to_step=BUY),
                       F.compare_segments(fitted_log, steps, "device", control="desktop", to_step=BUY, **kw))
    a, b = f.drivers(min_support=2), F.dropoff_drivers(fitted_log, steps, min_support=2, **kw)
    assert_frame_equal(a.table, b.table)
    assert (a.units, a.converted, a.from_step, a.to_step) == (b.units, b.converted, b.from_step, b.to_step) == (40, 10, PV, BUY)
    a, b = f.flows(depth=2, top=3), F.where_droppers_go(fitted_log, steps, depth=2, top=3, **kw)
    assert_frame_equal(a.paths, b.paths)
    assert_frame_equal(a.flows, b.flows)
    assert a.droppers == b.droppers == 30
    a, b = f.friction(), F.friction(fitted_log, steps, **kw)
    assert_frame_equal(a.table, b.table)
    assert a.error_events == b.error_events == ("payment_error",)
    assert_frame_equal(f.time_to_convert(to_step=BC), F.time_to_convert(fitted_log, steps, to_step=BC, **kw))
    assert_frame_equal(f.cohorts(freq="W"), F.conversion_by_cohort(fitted_log, steps, freq="W", **kw))
    # planted: 20 of 40 add to cart, 10 check out and buy (i % 4 == 1)
    assert f.table()["reached"].tolist() == [40, 20, 10, 10]


def test_funnel_matches_once(fitted_log, monkeypatch):
    from cjlib.funnel import matching

    calls = []
    real = matching._match
    monkeypatch.setattr(matching, "_match", lambda *a, **k: calls.append(1) or real(*a, **k))
    f = F.Funnel(fitted_log, [PV, ATC, BC], window="1D")
    f.table(), f.table(by="device"), f.compare("device"), f.drivers(min_support=2), f.flows(), f.friction()
    f.time_to_convert(), f.cohorts(freq="MS"), f.units()
    assert len(calls) == 1
    F.funnel(fitted_log, [PV, ATC, BC], window="1D")
    assert len(calls) == 2
