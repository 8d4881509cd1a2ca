"""Funnel options (issue 20): optional steps, exclusions, open funnels.

A plain-Python reference walks every attempt of every unit as the rules of :mod:`cjlib.funnel`
("Funnel options") state them; random small logs (hypothesis) compare it with the vectorized matcher per
unit (:func:`cjlib.funnel.funnel_units`) and in the table, with and without a window, alone and combined.
Hand-computed cases pin the semantics; the default path stays as it was.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from cjlib import funnel as F
from cjlib.io import ensure_sorted

T0 = pd.Timestamp("2025-03-01 09:00")
PV, ATC, BC, SEARCH, SUP, ERR = "product_view", "add_to_cart", "begin_checkout", "search", "support_contact", \
    "payment_error"


def log(rows):
    """rows: (customer, minutes after T0, event)."""
    df = pd.DataFrame(rows, columns=["customer_id", "minutes", "event"])
    df["timestamp"] = (T0 + pd.to_timedelta(df.pop("minutes"), unit="min")).astype("datetime64[us]")
    df["event"] = df["event"].astype("category")
    return df


# ------------------------------------------------------------------------------------------ the reference
def _sets(steps):
    return [{s.rstrip("?")} if isinstance(s, str) else {x.rstrip("?") for x in s} for s in steps]


def reference_unit(names, ts, sets, optional, exclusions, open_, window, mode):
    """One unit: (steps_reached, entry step or -1, per step the matched time or None).

    ``sets``: per step the names that satisfy it; ``optional``: per step bool; ``exclusions``: (names,
    lo, hi) with 0-based steps; every attempt is walked from its first row, one step at a time.
    """
    K = len(sets)
    req = [k for k in range(K) if not optional[k]]
    n = len(names)
    w = None if window is None else pd.Timedelta(window)

    def covers(lo, hi, a, b):  # the exclusion's step range overlaps the gap between required steps a < b
        return lo < b and a < hi

    attempts = []
    for e in range(len(req) if open_ else 1):
        for i in range(n):
            if names[i] not in sets[req[e]]:
                continue
            rows = {req[e]: i}
            cur = i
            for t in range(e + 1, len(req)):
                if mode == "ordered":
                    nxt = next((j for j in range(cur + 1, n) if names[j] in sets[req[t]]), None)
                else:
                    nxt = cur + 1 if cur + 1 < n and names[cur + 1] in sets[req[t]] else None
                if nxt is None or (w is not None and ts[nxt] - ts[i] > w):
                    break
                if any(covers(lo, hi, req[t - 1], req[t]) and any(names[j] in xs for j in range(cur + 1, nxt))
                       for xs, lo, hi in exclusions):
                    break  # the unit leaves the funnel at step t-1
                rows[req[t]] = nxt
                cur = nxt
            attempts.append((e, -max(rows), i, rows))  # lowest entry, furthest step, earliest
    if not attempts:
        return 0, -1, [None] * K
    e, _, i, rows = min(attempts, key=lambda a: a[:3])
    for o in range(K):
        if not optional[o]:
            continue
        r = max(k for k in req if k < o)
        s = min(k for k in req if k > o)
        if r not in rows:
            continue
        stop = rows.get(s, n)
        for xs, lo, hi in exclusions:
            if covers(lo, hi, r, s):
                stop = min([stop] + [j for j in range(rows[r] + 1, n) if names[j] in xs])
        for j in range(rows[r] + 1, stop):
            if names[j] in sets[o]:
                if w is None or ts[j] - ts[i] <= w:
                    rows[o] = j
                break
    last = max(k for k in rows if not optional[k])
    return last + 1, req[e], [ts[rows[k]] if k in rows else None for k in range(K)]


def reference(events, steps, *, optional=(), exclusions=(), open_=False, window=None, mode="ordered"):
    ev = ensure_sorted(events)
    sets = _sets(steps)
    flags = [isinstance(s, str) and s.endswith("?") for s in steps]
    for k in optional:
        flags[k - 1] = True
    out = []
    for cid, g in ev.groupby("customer_id", sort=True):
        out.append((cid, *reference_unit([str(x) for x in g["event"]], list(g["timestamp"]), sets, flags,
                                         exclusions, open_, window, mode)))
    return out, flags


def reference_table(units, flags):
    """reached, entered_here, conversion_from_previous, dropped and median time per step, in plain Python."""
    K = len(flags)
    at = [[t is not None for t in times] for _, _, _, times in units]
    rows = []
    for k in range(K):
        reached = sum(a[k] for a in at)
        entered = sum(1 for _, _, e, _ in units if e == k)
        if k == 0:
            rows.append((reached, entered, np.nan, 0, pd.NaT))
            continue
        p = max(j for j in range(k) if not flags[j])
        base = sum(a[p] for a in at)
        both = [u for u, a in zip(units, at) if a[p] and a[k]]
        gaps = [u[3][k] - u[3][p] for u in both]
        rate = len(both) / base if base else np.nan
        rows.append((reached, entered, rate, 0 if flags[k] else base - len(both),
                     pd.Series(gaps).median() if gaps else pd.NaT))
    return rows


@st.composite
def random_logs(draw):
    names = [PV, ATC, BC, SEARCH, SUP]
    rows = []
    for c in range(draw(st.integers(1, 6))):
        t = 0
        for _ in range(draw(st.integers(0, 9))):
            t += draw(st.sampled_from([0, 0, 1, 2, 5]))
            rows.append((f"c{c}", t, draw(st.sampled_from(names))))
    return rows


STEPS = [[PV, ATC, BC], [PV, ATC + "?", BC], [PV, SEARCH + "?", ATC + "?", BC], [PV, [ATC, SEARCH], BC, ATC],
         [PV, PV, ATC], [ATC, BC]]
EXCLUSIONS = [(), ((SUP,), 0, None), ((SUP,), 1, 2), ((SEARCH, SUP), 0, 1), ((SUP,), 0, 1), ((ATC,), 0, None)]


def _options(excl, K):
    """An EXCLUSIONS item as the reference's exclusions and as the API's ``exclude`` (None: skip the case)."""
    if not excl:
        return (), None
    names, lo, hi = excl
    hi = K - 1 if hi is None else hi
    if hi >= K or lo >= hi:
        return None
    ref = [(set(names), lo, hi)]
    api = list(names) if (lo, hi) == (0, K - 1) else [(list(names), lo + 1, hi + 1)]
    return ref, api


def _check(rows, steps, excl, open_, window, mode):
    ev = log(rows)
    opts = _options(excl, len(steps))
    if opts is None:
        return
    exclusions, exclude = opts
    kw = dict(window=window, mode=mode, exclude=exclude, open=open_)
    if mode != "ordered" and any(isinstance(s, str) and s.endswith("?") for s in steps):
        with pytest.raises(ValueError, match="optional steps need mode='ordered'"):
            F.funnel_units(ev, steps, **kw)
        return
    units, flags = reference(ev, steps, exclusions=exclusions, open_=open_, window=window, mode=mode)
    got = F.funnel_units(ev, steps, **kw)
    labels = F.Funnel(ev, steps).labels
    assert got["customer_id"].tolist() == [u[0] for u in units]
    assert got["steps_reached"].tolist() == [u[1] for u in units]
    if open_:
        assert [(-1 if pd.isna(x) else labels.index(x)) for x in got["entry_step"]] == [u[2] for u in units]
    for k, lab in enumerate(labels):
        want = [pd.NaT if u[3][k] is None else u[3][k] for u in units]
        assert [pd.NaT if pd.isna(x) else x for x in got[lab]] == want, lab
    table = F.funnel(ev, steps, **kw)
    want = reference_table(units, flags)
    assert table["reached"].tolist() == [r[0] for r in want]
    if open_:
        assert table["entered_here"].tolist() == [r[1] for r in want]
    np.testing.assert_allclose(table["conversion_from_previous"].to_numpy(float), [r[2] for r in want])
    assert table["dropped"].tolist() == [r[3] for r in want]
    for g, e in zip(table["median_time_from_previous"], [r[4] for r in want]):
        assert (pd.isna(g) and pd.isna(e)) or g == e
    assert (table["conversion_from_previous"].dropna() <= 1).all()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=random_logs(), steps=st.sampled_from(STEPS), excl=st.sampled_from(EXCLUSIONS),
       open_=st.booleans(), window=st.sampled_from([None, "0min", "2min", "5min"]),
       mode=st.sampled_from(["ordered", "ordered", "strict"]))
def test_matches_reference(rows, steps, excl, open_, window, mode):
    if rows:
        _check(rows, steps, excl, open_, window, mode)


# ------------------------------------------------------------------------------------------ hand cases
def test_exclusion_stops_the_attempt_at_the_step_before_it():
    ev = log([
        ("a", 0, PV), ("a", 1, SUP), ("a", 2, ATC), ("a", 3, BC),    # support between steps 1 and 2
        ("b", 0, PV), ("b", 1, ATC), ("b", 2, SUP), ("b", 3, BC),    # support between steps 2 and 3
        ("c", 0, PV), ("c", 1, SUP), ("c", 2, PV), ("c", 3, ATC),    # a new attempt after the support contact
        ("d", 0, PV), ("d", 1, ATC), ("d", 2, BC), ("d", 3, SUP),    # support after converting
    ])
    whole = F.funnel_units(ev, [PV, ATC, BC], exclude=SUP)
    assert whole["steps_reached"].tolist() == [1, 2, 2, 3]
    # only between steps 2 and 3: a and c go through
    ranged = F.funnel_units(ev, [PV, ATC, BC], exclude=[(SUP, 2, 3)])
    assert ranged["steps_reached"].tolist() == [3, 2, 2, 3]
    # the same range by labels; the step's own row is not "between"
    assert F.funnel_units(ev, [PV, ATC, BC], exclude=[(SUP, ATC, BC)])["steps_reached"].tolist() == [3, 2, 2, 3]
    table = F.funnel(ev, [PV, ATC, BC], exclude=SUP)
    assert table["reached"].tolist() == [4, 3, 1] and table["dropped"].tolist() == [0, 1, 2]
    # c's chosen attempt is its second (the first stopped at step 1)
    assert whole.loc[2, "entered_at"] == T0 + pd.Timedelta(minutes=2)
    assert whole.loc[2, "first_entered_at"] == T0


def test_optional_step_counts_when_done_and_never_blocks():
    ev = log([
        ("a", 0, PV), ("a", 1, SEARCH), ("a", 2, ATC),                # did the optional search
        ("b", 0, PV), ("b", 1, ATC), ("b", 2, SEARCH),                # searched only after the next step
        ("c", 0, PV), ("c", 5, SEARCH),                               # searched, never reached step 3
        ("d", 0, PV), ("d", 9, SEARCH),                               # searched after the window
    ])
    u = F.funnel_units(ev, [PV, SEARCH + "?", ATC], window="5min")
    assert u["steps_reached"].tolist() == [3, 3, 1, 1]
    assert u[SEARCH].notna().tolist() == [True, False, True, False]
    t = F.funnel(ev, [PV, SEARCH + "?", ATC], window="5min")
    assert t["optional"].tolist() == [False, True, False]
    assert t["reached"].tolist() == [4, 2, 2] and t["dropped"].tolist() == [0, 0, 2]
    assert t["conversion_from_previous"].tolist()[1:] == [0.5, 0.5]  # both of the units at step 1
    assert np.isnan(t["drop_off_rate"].iloc[1])
    # the required steps' rows are the funnel without the optional step, column for column
    plain = F.funnel(ev, [PV, ATC], window="5min")
    assert_frame_equal(t.drop(columns="optional").iloc[[0, 2]].reset_index(drop=True), plain)
    # optional= by number or label gives the same; the mark and the argument agree
    assert_frame_equal(F.funnel(ev, [PV, SEARCH, ATC], window="5min", optional=[2]), t)
    assert_frame_equal(F.funnel(ev, [PV, SEARCH, ATC], window="5min", optional=SEARCH), t)


def test_open_funnel_counts_units_from_their_entry_step():
    ev = log([
        ("a", 0, PV), ("a", 1, ATC), ("a", 2, BC),
        ("b", 0, ATC), ("b", 1, BC),                                  # enters at step 2
        ("c", 0, BC),                                                 # enters at step 3
        ("d", 0, ATC),                                                # enters at step 2, goes no further
        ("e", 0, PV), ("e", 1, BC),                                   # has step 1: counted as closed
        ("f", 0, BC), ("f", 1, BC),                                   # enters at step 3 (its first row)
    ])
    u = F.funnel_units(ev, [PV, ATC, BC], open=True)
    assert u["entry_step"].tolist() == [PV, ATC, BC, ATC, PV, BC]
    assert u["steps_reached"].tolist() == [3, 3, 3, 2, 1, 3]
    assert u["entered_at"].tolist()[-1] == T0
    t = F.funnel(ev, [PV, ATC, BC], open=True)
    assert t["reached"].tolist() == [2, 3, 4]                          # more units at step 3 than at step 2
    assert t["entered_here"].tolist() == [2, 2, 2]
    # of the 2 units at step 1, 1 went on (a); of the 3 at step 2, 2 (a, b): never count(k+1) / count(k)
    assert t["conversion_from_previous"].tolist()[1:] == [0.5, 2 / 3]
    assert t["conversion_from_start"].tolist() == [1.0, 0.5, 0.5]
    assert t["dropped"].tolist() == [0, 1, 1]
    # the closed funnel: the same units at step 1, with the same progress; the open one adds b, c, d, f
    closed = F.funnel(ev, [PV, ATC, BC])
    assert closed["reached"].tolist() == [2, 1, 1]
    assert (t["reached"] >= closed["reached"]).all()


def test_open_funnel_comparison_counts_the_units_at_each_from_step():
    ev = log([(c, 0, ATC) for c in "abc"] + [(c, 1, BC) for c in "ab"] + [("d", 0, PV), ("d", 1, ATC)]
             + [("e", 0, PV)])
    ev["device"] = np.where(ev["customer_id"].isin(["a", "d"]), "mobile", "desktop")
    f = F.Funnel(ev, [PV, ATC, BC], open=True)
    cmp = f.compare("device")
    first = cmp[cmp["from_step"] == PV].set_index("device")
    assert first["units"].to_dict() == {"desktop": 1, "mobile": 1}      # d and e only
    second = cmp[cmp["from_step"] == ATC].set_index("device")
    assert second["units"].to_dict() == {"desktop": 2, "mobile": 2} and second["converted"].sum() == 2


def test_no_option_in_effect_gives_the_default_results():
    from cjlib import synth

    ev = synth.generate(400, seed=2).events
    steps = [PV, ATC, BC, "event:purchase"]
    for mode in ("ordered", "strict"):
        want = F.funnel_units(ev, steps, window="7D", mode=mode)
        # an exclusion event the log never has: the options path gives the default rows
        got = F.funnel_units(ev, steps, window="7D", mode=mode, exclude="login")
        assert_frame_equal(got, want)
        assert_frame_equal(F.funnel(ev, steps, window="7D", mode=mode, exclude=[]),
                           F.funnel(ev, steps, window="7D", mode=mode))
    # strict mode: nothing lies between two matched rows, an exclusion never stops an attempt
    assert_frame_equal(F.funnel(ev, steps, mode="strict", exclude=SEARCH), F.funnel(ev, steps, mode="strict"))


def test_sample_sized_log_required_counts_equal_the_funnel_without_optional_steps():
    from cjlib import synth

    ev = synth.generate(2000, seed=0).events
    with_opt = F.funnel(ev, [PV, SEARCH + "?", ATC, BC + "?", "event:purchase"], window="30D")
    plain = F.funnel(ev, [PV, ATC, "event:purchase"], window="30D")
    req = with_opt[~with_opt["optional"]].drop(columns="optional").reset_index(drop=True)
    assert_frame_equal(req, plain)
    assert 0 < with_opt.loc[1, "reached"] < with_opt.loc[0, "reached"]


def test_bad_options_name_the_parameter():
    ev = log([("a", 0, PV), ("a", 1, ATC), ("a", 2, BC)])
    with pytest.raises(ValueError, match="first and the last step cannot be optional"):
        F.funnel(ev, [PV + "?", ATC, BC])
    with pytest.raises(ValueError, match="first and the last step cannot be optional"):
        F.funnel(ev, [PV, ATC], optional=[2])
    with pytest.raises(ValueError, match="mode 'any'"):
        F.funnel(ev, [PV, ATC], mode="any", open=True)
    with pytest.raises(ValueError, match="optional steps need mode='ordered'"):
        F.funnel(ev, [PV, ATC + "?", BC], mode="strict")
    with pytest.raises(ValueError, match="exclude: unknown step name 'nope'"):
        F.funnel(ev, [PV, ATC], exclude="nope")
    with pytest.raises(ValueError, match="later to_step"):
        F.funnel(ev, [PV, ATC, BC], exclude=[(SUP, 3, 2)])
    with pytest.raises(ValueError, match="exclude: from_step must be a step number 1..3"):
        F.funnel(ev, [PV, ATC, BC], exclude=[(SUP, 0, 2)])
    with pytest.raises(ValueError, match="open must be True or False"):
        F.funnel(ev, [PV, ATC], open="yes")


def test_parse_steps_and_parse_exclude():
    assert F.parse_steps("product_view, search?, add_to_cart|begin_checkout?") == \
        [PV, SEARCH + "?", [ATC, BC + "?"]]
    assert F.parse_exclude("support_contact@2-3, payment_error|login, search") == \
        [(SUP, 2, 3), [ERR, "login"], SEARCH]
    assert F.parse_exclude("") == []
    for bad in ("support_contact@3-2", "support_contact@2", "@1-2", "x@a-b"):
        with pytest.raises(ValueError, match="exclude"):
            F.parse_exclude(bad)
    # a list step with a marked name is optional as a whole
    ev = log([("a", 0, PV), ("a", 1, BC)])
    t = F.funnel(ev, F.parse_steps("product_view, add_to_cart|search?, begin_checkout"))
    assert t["optional"].tolist() == [False, True, False] and t["step"].tolist()[1] == "add_to_cart | search"


def test_dask_gives_the_in_process_results():
    pytest.importorskip("dask.dataframe")
    from cjlib import engine, synth

    ev = synth.generate(300, seed=1).events
    steps = [PV, SEARCH + "?", ATC, BC, "event:purchase"]
    for kw in (dict(exclude=[(SUP, 1, 4)]), dict(open=True), dict(exclude=ERR, open=True, window="30D")):
        assert_frame_equal(engine.funnel(ev, steps, engine="dask", npartitions=3, by="device", **kw),
                           F.funnel(ev, steps, by="device", **kw))
        got = engine.funnel_units(ev, steps, engine="dask", npartitions=3, unit="session", **kw)
        assert_frame_equal(got, F.funnel_units(ev, steps, unit="session", **kw))
    with pytest.raises(ValueError, match="mode 'any'"):  # checked before any partition runs
        engine.funnel(ev, steps[:1] + steps[2:], engine="dask", mode="any", open=True)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=random_logs(), steps=st.sampled_from(STEPS), window=st.sampled_from([None, "2min"]))
def test_open_funnel_keeps_every_unit_of_the_closed_funnel(rows, steps, window):
    """A unit with a step-1 event counts in the open funnel exactly as in the closed one."""
    if not rows:
        return
    ev = log(rows)
    closed = F.funnel_units(ev, steps, window=window)
    opened = F.funnel_units(ev, steps, window=window, open=True)
    same = closed["first_entered_at"].notna().to_numpy()
    assert_frame_equal(opened.loc[same].drop(columns=["entry_step", "first_entered_at"]),
                       closed.loc[same].drop(columns="first_entered_at"))
    later = opened.loc[~same, "entry_step"]
    assert (later.isna() | (later != later.cat.categories[0])).all()  # the others enter after step 1
