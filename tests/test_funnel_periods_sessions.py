"""cjlib.funnel.periods on session funnels: a session's attempt ends with its session, so only sessions still
running at the data's end (inside their window) are censored, and the current period is the last full one
before the data's last 30 minutes (or the window, when shorter). Hand-computed logs, a brute-force
reference on random small logs, and the Dask path on a log with running sessions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cjlib import funnel as F
from cjlib.findings import dropoff as D
from cjlib.findings import problems
from cjlib.io import ensure_sorted

PV, ATC, BC, BUY, SEARCH = "product_view", "add_to_cart", "begin_checkout", "purchase", "search"
GAP = pd.Timedelta("30min")


def day_log(rows, session_id=None):
    """rows: (customer, timestamp text, event)."""
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event"])
    df["timestamp"] = pd.to_datetime(df["timestamp"], format="mixed")
    if session_id is not None:
        df["session_id"] = session_id
    return df


def marathon(customer, start, stop, every="20min", first=PV, then=SEARCH):
    """A session with an event every 20 minutes from ``start`` to ``stop``: one session (gaps under 30 min)."""
    times = pd.date_range(start, stop, freq=every)
    return [(customer, str(t), first if i == 0 else then) for i, t in enumerate(times)]


# ------------------------------------------------------------------------------------------ by hand
def hand_log():
    """Daily periods. The data ends 2025-01-04 12:00, so the current day is 01-03 (the last full day before
    11:30) and the previous one 01-02; with a 30-day window the customers' rule cannot hold two days."""
    rows = [("z", "2025-01-01 00:00", ATC)]
    rows += [("a", "2025-01-02 10:00", PV), ("a", "2025-01-02 10:10", BUY)]   # previous, converts
    rows += [("b", "2025-01-02 15:00", PV)]                                   # previous, drops (session over)
    rows += [("c", "2025-01-03 09:00", PV), ("c", "2025-01-03 09:20", BUY)]   # current, converts
    rows += [("d", "2025-01-03 20:00", PV)]                                   # current, drops
    rows += [("h", "2025-01-03 12:00", PV), ("h", "2025-01-03 14:00", BUY)]   # buys in a later session: drops
    rows += marathon("e", "2025-01-03 23:00", "2025-01-04 11:40")             # current, still running at the end
    rows += [("f", "2025-01-04 08:00", PV), ("f", "2025-01-04 08:05", BUY)]   # after the current day
    rows += [("g", "2025-01-04 11:30", PV), ("g", "2025-01-04 12:00", BUY)]   # after it, running at the end
    return day_log(rows)


def test_sessions_over_long_before_the_end_count_with_a_long_window():
    ev = hand_log()
    fn = F.Funnel(ev, [PV, "event:purchase"], window="30D", unit="session")
    pc = F.compare_periods(fn, freq="1D")
    assert (pc.previous_start, pc.current_start, pc.current_end, pc.end) == (
        pd.Timestamp("2025-01-02"), pd.Timestamp("2025-01-03"), pd.Timestamp("2025-01-04"),
        pd.Timestamp("2025-01-04 12:00"))
    assert pc.reached["previous"].tolist() == [2, 1]   # a, b
    assert pc.reached["current"].tolist() == [3, 1]    # c, d, h; e still running at the end is left out
    assert pc.censored == 3 and pc.in_both == 0        # e (running), f and g (after the current day)
    assert pc.note == (
        "A session's attempt ends with the session (after 30 minutes without an event) or with its 30-day "
        "conversion window, whichever comes first, so only sessions still running at the data's end "
        "(2025-01-04 12:00) could still move: 3 sessions are left out, entering on or after 2025-01-04 (after the "
        "current period) or still running at the end inside their window.")
    assert F.period_freq("auto", fn) == "1D"
    # customers with the same window: their windows are all open, no two days fit
    with pytest.raises(F.ShortSpan, match="minus the 30-day conversion window"):
        F.compare_periods(F.Funnel(ev, [PV, "event:purchase"], window="30D"), freq="1D")


def test_the_section_says_who_was_left_out_and_why():
    pc = F.compare_periods(F.Funnel(hand_log(), [PV, "event:purchase"], window="30D", unit="session"), freq="1D")
    text = D.period_findings(pc, name="shop")
    assert ("3 sessions entered the shop funnel in 2025-01-03 and 2 in 2025-01-02. Each period counts the attempts "
            "that start in it, a step counting when reached in the same session, within 30 days of step 1. A "
            "session's attempt ends with the session") in text
    assert "3 sessions are left out" in text and problems(text) == []


def test_a_running_session_counts_once_its_window_has_closed():
    """With a 2-hour window, e (entered 01-03 23:00, running at the end) had its window closed at 01:00."""
    fn = F.Funnel(hand_log(), [PV, "event:purchase"], window="2h", unit="session")
    pc = F.compare_periods(fn, freq="1D")
    assert (pc.previous_start, pc.current_start) == (pd.Timestamp("2025-01-02"), pd.Timestamp("2025-01-03"))
    assert pc.reached["current"].tolist() == [4, 1] and pc.censored == 2  # e counts, dropping; f and g left out


def test_the_session_gap_decides_running():
    """A session whose last event is exactly 30 minutes before the end is over (a later event would start a
    new one); 29 minutes before, it is still running."""
    base = [("z", "2025-01-01 00:00", ATC), ("a", "2025-01-02 10:00", PV), ("a", "2025-01-02 10:05", BUY)]
    for last, current, censored in (("2025-01-04 11:30", [1, 0], 0), ("2025-01-04 11:31", [0, 0], 1)):
        rows = base + marathon("x", "2025-01-03 23:50", "2025-01-04 11:10") + [("x", last, SEARCH)]
        rows += [("end", "2025-01-04 12:00", ATC)]
        pc = F.compare_periods(F.Funnel(day_log(rows), [PV, "event:purchase"], window="30D", unit="session"),
                               freq="1D")
        assert (pc.previous_start, pc.current_start) == (pd.Timestamp("2025-01-02"), pd.Timestamp("2025-01-03"))
        assert pc.reached["previous"].tolist() == [1, 1]
        assert (pc.reached["current"].tolist(), pc.censored) == (current, censored), last


def test_session_id_sessions_use_the_same_timeout():
    rows = [("z", "2025-01-01 00:00", ATC), ("a", "2025-01-02 10:00", PV), ("a", "2025-01-02 10:05", BUY),
            ("b", "2025-01-03 10:00", PV), ("b", "2025-01-04 11:50", SEARCH),   # one session id: running
            ("c", "2025-01-03 11:00", PV), ("c", "2025-01-03 16:00", BUY),      # one session id: over, converts
            ("end", "2025-01-04 12:00", ATC)]
    ev = day_log(rows, session_id=["z1", "a1", "a1", "b1", "b1", "c1", "c1", "e1"])
    pc = F.compare_periods(F.Funnel(ev, [PV, "event:purchase"], window="30D", unit="session"), freq="1D")
    assert pc.reached["current"].tolist() == [1, 1] and pc.censored == 1  # c counts; b is left out


def test_without_a_window_a_session_is_not_cut_at_its_period_end():
    rows = [("z", "2025-01-01 00:00", ATC),
            ("a", "2025-01-02 23:50", PV), ("a", "2025-01-03 00:10", BUY),  # crosses midnight in one session
            ("b", "2025-01-03 10:00", PV), ("b", "2025-01-03 10:05", BUY),
            ("end", "2025-01-04 12:00", ATC)]
    ev = day_log(rows)
    pc = F.compare_periods(F.Funnel(ev, [PV, "event:purchase"], unit="session"), freq="1D")
    assert (pc.previous_start, pc.current_start) == (pd.Timestamp("2025-01-02"), pd.Timestamp("2025-01-03"))
    assert pc.reached["previous"].tolist() == [1, 1] and pc.reached["current"].tolist() == [1, 1]
    assert pc.censored == 0 and "there being no conversion window" in pc.note
    cust = F.compare_periods(F.Funnel(ev, [PV, "event:purchase"]), freq="1D")  # customers: cut at midnight
    assert cust.reached["previous"].tolist() == [1, 0]


def test_short_window_sessions_keep_the_window_rule():
    """A window shorter than the session gap closes first: the customers' rule and sentence."""
    rows = [("z", "2025-01-01 00:00", ATC), ("a", "2025-01-02 10:00", PV), ("a", "2025-01-02 10:05", BUY),
            ("b", "2025-01-03 10:00", PV), ("c", "2025-01-03 23:55", PV), ("c", "2025-01-04 00:03", BUY),
            ("end", "2025-01-04 00:05", ATC)]
    pc = F.compare_periods(F.Funnel(day_log(rows), [PV, "event:purchase"], window="10min", unit="session"),
                           freq="1D")
    assert pc.current_start == pd.Timestamp("2025-01-02") and pc.censored == 2  # stop 23:55 on 01-03: b and c
    assert pc.reached["current"].tolist() == [1, 1]
    assert pc.note == ("Only sessions whose 10-minute conversion window had closed by the data's end (2025-01-04) "
                       "are counted: 2 sessions entering on or after 2025-01-03 are left out, their window still open.")


def test_reasons_name_the_session_clock():
    rows = [("a", "2025-01-01 10:00", PV), ("a", "2025-01-01 10:05", BUY), ("b", "2025-01-02 12:10", PV)]
    fn = F.Funnel(day_log(rows), [PV, "event:purchase"], window="30D", unit="session")
    with pytest.raises(F.ShortSpan, match="minus 30 minutes, so that every session counted could have ended"):
        F.compare_periods(fn, freq="1D")
    assert F.period_freq("auto", fn) is None
    pc, why = F.report_periods(fn, "auto")
    assert pc is None and why == ("the data (2025-01-01 to 2025-01-02) cannot hold two full days (the shortest "
                                  "periods compared) before its last 30 minutes, in which a session may still be "
                                  "running at its end.")


# ------------------------------------------------------------------------------- brute-force reference
def sessions_of(ev):
    """(customer, session number) -> list of (timestamp, event): a new session after a gap > 30 minutes."""
    out = {}
    for cid, g in ensure_sorted(ev).groupby("customer_id", sort=False):
        n, prev = 0, None
        for t, e in zip(g["timestamp"], g["event"]):
            if prev is not None and t - prev > GAP:
                n += 1
            out.setdefault((cid, n), []).append((t, str(e)))
            prev = t
    return out


def best_level(evs, steps, w, mode, lo, hi):
    """The furthest step of the best attempt starting in [lo, hi), and whether such an attempt exists."""
    names, ts = [e for _, e in evs], [t for t, _ in evs]
    best = 0
    for i in range(len(names)):
        if names[i] not in steps[0] or not lo <= ts[i] < hi:
            continue
        level, prev = 1, i
        for k in range(1, len(steps)):
            cands = [prev + 1] if mode == "strict" else range((i if mode == "any" else prev) + 1, len(names))
            nxt = next((j for j in cands if j < len(names) and names[j] in steps[k]
                        and (w is None or ts[j] - ts[i] <= w)), None)
            if nxt is None:
                break
            level, prev = k + 1, nxt
        best = max(best, level)
    return best


def reference(ev, steps, window, mode, bounds, end):
    """(reached previous, reached current, censored) by the rule in plain Python."""
    w = None if window is None else pd.Timedelta(window)
    p0, c0, c1 = bounds
    prev, cur, left = [0] * len(steps), [0] * len(steps), 0
    for evs in sessions_of(ev).values():
        running = evs[-1][0] > end - GAP
        starts = [t for t, e in evs if e in steps[0]]
        # still moving in a period: running at the end, with an attempt there whose window is open
        mp, mc = (running and any(lo <= t < hi and (w is None or t > end - w) for t in starts)
                  for lo, hi in ((p0, c0), (c0, c1)))
        lp = 0 if mp else best_level(evs, steps, w, mode, p0, c0)
        lc = 0 if mc else best_level(evs, steps, w, mode, c0, c1)
        for k in range(len(steps)):
            prev[k] += lp >= k + 1
            cur[k] += lc >= k + 1
        out = any(c1 <= t <= end for t in starts) or mp or mc
        left += out and lc == 0
    return prev, cur, left


@st.composite
def random_logs(draw):
    names = [PV, ATC, BC, SEARCH]
    rows = []
    for c in range(1, draw(st.integers(1, 6))):
        t = draw(st.integers(0, 60))
        for _ in range(draw(st.integers(1, 10))):
            t += draw(st.sampled_from([0, 1, 10, 25, 30, 31, 50, 120]))
            rows.append((f"c{c}", t, draw(st.sampled_from(names))))
    # c0: one session (gaps of at most 30 minutes) from some time in the log to near or past its last event,
    # so that a session still running at the data's end often started inside a period
    last = max((r[1] for r in rows), default=0)
    t = draw(st.integers(0, last + 60))
    while True:
        rows.append(("c0", t, draw(st.sampled_from(names))))
        if t >= last + draw(st.sampled_from([-40, -20, 0, 10])):
            return rows
        t += draw(st.sampled_from([1, 10, 25, 30]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=random_logs(), window=st.sampled_from([None, "10min", "45min", "3h"]),
       mode=st.sampled_from(["ordered", "strict", "any"]), freq=st.sampled_from(["1h", "90min", "2h"]),
       steps=st.sampled_from([[PV, ATC, BC], [PV, ATC], [PV, [ATC, SEARCH], BC]]))
def test_matches_reference(rows, window, mode, freq, steps):
    df = pd.DataFrame(rows, columns=["customer_id", "minutes", "event"])
    df["timestamp"] = pd.Timestamp("2025-03-01 09:00") + pd.to_timedelta(df.pop("minutes"), unit="min")
    ev = df.astype({"event": "category"})
    first, end = ev["timestamp"].min(), ev["timestamp"].max()
    clock = GAP if window is None else min(pd.Timedelta(window), GAP)
    length = pd.Timedelta(freq)
    stop = (end - clock).floor("h" if length % pd.Timedelta("1h") == pd.Timedelta(0) else "min")
    fn = F.Funnel(ev, steps, window=window, mode=mode, unit="session")
    if stop - 2 * length < first:
        with pytest.raises(F.ShortSpan):
            F.compare_periods(fn, freq=freq)
        return
    pc = F.compare_periods(fn, freq=freq)
    bounds = (stop - 2 * length, stop - length, stop)
    assert (pc.previous_start, pc.current_start, pc.current_end) == bounds
    sets = [{s} if isinstance(s, str) else set(s) for s in steps]
    prev, cur, left = reference(ev, sets, window, mode, bounds, end)
    assert (pc.reached["previous"].tolist(), pc.reached["current"].tolist(), pc.censored) == (prev, cur, left)


# ------------------------------------------------------------------------------------------- on Dask
def test_dask_equals_in_process_with_running_sessions(client):
    from cjlib import engine

    rng = np.random.default_rng(7)
    rows = []
    for c in range(60):  # sessions through three days, some running at the data's end
        t = pd.Timestamp("2025-01-01") + pd.Timedelta(minutes=int(rng.integers(0, 3 * 24 * 60)))
        for _ in range(int(rng.integers(1, 12))):
            t += pd.Timedelta(minutes=int(rng.choice([1, 5, 20, 40, 200])))
            rows.append((f"c{c:02d}", str(t), str(rng.choice([PV, ATC, BC, BUY, SEARCH]))))
    rows += marathon("run", "2025-01-03 20:00", "2025-01-04 02:00")  # running at the end given below
    ev = ensure_sorted(day_log(rows).astype({"event": "category"}))
    end = pd.Timestamp("2025-01-04 02:10")  # before the last events: they count as running sessions
    parted = engine.partition(ev, client=client, npartitions=3)
    out = {}
    for window in ("30D", None, "2h"):
        a = F.compare_periods(F.Funnel(ev, [PV, ATC, "event:purchase"], window=window, unit="session"),
                              freq="12h", end=end)
        b = F.compare_periods(F.Funnel(parted, [PV, ATC, "event:purchase"], window=window, unit="session"),
                              freq="12h", end=end)
        assert (a.censored, a.in_both, a.current_start, a.note) == (b.censored, b.in_both, b.current_start, b.note)
        pd.testing.assert_frame_equal(a.reached, b.reached)
        pd.testing.assert_frame_equal(a.table, b.table)
        out[window] = a
    assert out["30D"].current_start == pd.Timestamp("2025-01-03 13:00")  # 01:40 floored to the hour, minus 12 h
    # "run" entered the current period at 20:00 and runs at the end: left out with 30 days, counted with 2 hours
    assert out["30D"].censored == out["2h"].censored + 1
    assert out["30D"].reached["current"].iloc[0] == out["2h"].reached["current"].iloc[0] - 1


def test_note_with_nothing_left_out_drops_the_count():
    """A period comparison that left no unit out says so instead of '0 customers … are left out' (the reader's
    subscription log printed '0 customers entering on or after 2024-07-01 are left out')."""
    from cjlib.funnel.periods import _note

    cur, end = pd.Timestamp("2024-07-01"), pd.Timestamp("2024-07-20")
    assert _note(pd.Timedelta("30D"), cur, end, 0, "customer") == (
        "Only customers whose 30-day conversion window had closed by the data's end (2024-07-20) are counted; "
        "no customer was left out.")
    assert _note(None, cur, end, 0, "customer") == (
        "Without a conversion window, a step counts only when reached before its period ended.")
    assert _note(pd.Timedelta("2h"), cur, end, 0, "session").endswith("could still move; none was left out.")
    assert "2 customers entering on or after 2024-07-01 are left out" in _note(pd.Timedelta("30D"), cur, end, 2,
                                                                              "customer")
