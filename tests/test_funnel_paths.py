"""Paths around a step or an event (cjlib.funnel.paths): hand-computed cases, a plain-Python reference on random
small logs (hypothesis), and the acceptance invariant on a synthetic log: the units on the paths are the
funnel's units at the anchor step, for every direction, depth and unit."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cjlib
from cjlib.funnel import Funnel
from cjlib.funnel.paths import (
    END,
    OTHER_PATHS,
    START,
    event_paths,
    paths_around,
    step_matrix_difference,
)
from cjlib.io import ensure_sorted
from cjlib.journeys import session_keys

T0 = pd.Timestamp("2025-01-01")


def _log(rows):
    """rows: (customer, minute, event[, session]) → an event log."""
    cols = ["customer_id", "minute", "event", "session_id"][: len(rows[0])]
    df = pd.DataFrame(rows, columns=cols)
    df["timestamp"] = T0 + pd.to_timedelta(df.pop("minute"), unit="min")
    return df


# ------------------------------------------------------------------------------------------ hand cases
HAND = _log([
    ("a", 0, "view"), ("a", 1, "search"), ("a", 2, "search"), ("a", 3, "view"), ("a", 4, "cart"), ("a", 5, "buy"),
    ("b", 0, "search"), ("b", 1, "view"), ("b", 2, "view"), ("b", 3, "exit"),
    ("c", 0, "view"), ("c", 9, "cart"),
    ("d", 0, "search"),
])


def test_forward_from_a_step_by_hand():
    f = Funnel(HAND, ["view", "cart", "buy"])
    p = paths_around(f, step="view", depth=3)
    got = dict(zip(p.paths["path"], p.paths["units"], strict=True))
    # a: search (x2 collapsed) > view > cart; b: view (repeat after the anchor) > exit > (end); c: cart > (end)
    assert got == {"search > view > cart": 1, "view > exit > (end)": 1, "cart > (end)": 1}
    assert p.anchor_units == 3 == int(f.table()["reached"].iloc[0])
    assert p.paths["share"].tolist() == pytest.approx([1 / 3] * 3)
    raw = paths_around(f, step="view", depth=3, collapse_repeats=False)
    assert set(raw.paths["path"]) == {"search > search > view", "view > exit > (end)", "cart > (end)"}


def test_backward_and_event_anchor_by_hand():
    f = Funnel(HAND, ["view", "cart", "buy"])
    p = paths_around(f, step="cart", direction="backward", depth=4)
    # written in time order, ending right before the anchor: a's run of searches shows once
    assert dict(zip(p.paths["path"], p.paths["units"], strict=True)) == {
        "(start) > view > search > view": 1, "(start) > view": 1}
    e = event_paths(HAND, "search", depth=2)
    # the anchor is not part of the path: a's second search is its first event after the anchor
    assert dict(zip(e.paths["path"], e.paths["units"], strict=True)) == {
        "search > view": 1, "view > exit": 1, "(end)": 1}
    assert e.anchor_units == 3 and e.anchor_kind == "event"
    b = event_paths(HAND, "view", direction="backward", depth=1, collapse_repeats=False)
    assert dict(zip(b.paths["path"], b.paths["units"], strict=True)) == {"(start)": 2, "search": 1}


def test_between_two_steps_states_which_units_reached_the_second():
    f = Funnel(HAND, ["view", "cart", "buy"], window="5min")
    p = paths_around(f, between=("view", "buy"), depth=5)
    # a reaches buy: the span is search, search, view, cart; c does not: its span is cut at the window end
    # (minute 5 after its view), so the cart at minute 9 is outside and nothing is left
    assert dict(zip(p.paths["path"], p.paths["units"], strict=True)) == {
        "search > view > cart > (reached buy)": 1, "view > exit > (end)": 1, "(end)": 1}
    assert p.reached == 1 and p.anchor == "view → buy" and p.anchor_units == 3
    with pytest.raises(ValueError, match="direction"):
        paths_around(f, between=("view", "buy"), direction="backward")


def test_other_row_flows_and_step_matrix_by_hand():
    f = Funnel(HAND, ["view", "cart", "buy"])
    p = paths_around(f, step=1, depth=2, top=1)
    # three distinct paths with one unit each: the first by name is kept, the other two are summed
    assert p.paths["path"].tolist() == ["cart > (end)", OTHER_PATHS]
    assert p.paths["units"].tolist() == [1, 2]
    fl = p.flows
    first = fl[fl["position"] == 1]
    assert first["units"].sum() == 3 and set(first["source"]) == {"view"}
    # top=1 per position: at position 1 the tie cart/search/view keeps 'cart' (first by name), the rest is (other)
    assert dict(zip(first["target"], first["units"], strict=True)) == {"cart": 1, "(other)": 2}
    second = fl[fl["position"] == 2]
    assert dict(zip(zip(second["source"], second["target"]), second["units"], strict=True)) == {
        ("cart", END): 1, ("(other)", "exit"): 1, ("(other)", "(other)"): 1}  # position 2: exit/view tie, exit kept
    mat = p.matrix
    assert mat.sum().tolist() == pytest.approx([1.0, 1.0])
    assert mat.loc[END].tolist() == pytest.approx([0.0, 1 / 3])  # c's path ended at position 2
    assert mat.loc["cart", 1] == pytest.approx(1 / 3)


def test_step_matrix_difference_of_converters_and_droppers():
    f = Funnel(HAND, ["view", "cart", "buy"])
    conv = paths_around(f, step=1, depth=2, converted=True)
    drop = paths_around(f, step=1, depth=2, converted=False)
    assert (conv.anchor_units, drop.anchor_units, conv.group, drop.group) == (1, 2, "converted", "dropped")
    d = step_matrix_difference(conv, drop)
    # position 1: converter a → search (1.0); droppers b → view, c → cart (0.5 each)
    assert d[1].to_dict() == pytest.approx({"search": 1.0, "view": -0.5, "cart": -0.5, "exit": 0.0, END: 0.0})
    assert d.sum().tolist() == pytest.approx([0.0, 0.0])
    whole = paths_around(f, step=1, depth=2)  # the same comparison, carried by the unfiltered result
    assert whole.converted_units == 1
    pd.testing.assert_frame_equal(whole.outcome_difference, d)
    pd.testing.assert_frame_equal(whole.converted_matrix, conv.matrix)
    with pytest.raises(ValueError, match="same anchor"):
        step_matrix_difference(conv, paths_around(f, step=2, depth=2))


def test_arguments_are_checked():
    f = Funnel(HAND, ["view", "cart", "buy"])
    for kwargs, msg in [({"depth": 0}, "depth"), ({"depth": 21}, "depth"), ({"direction": "up"}, "direction"),
                        ({"top": 0}, "top"), ({"event": "nope"}, "event"), ({"step": "nope"}, "step"),
                        ({"step": 1, "event": "view"}, "one anchor"), ({"between": ("cart", "view")}, "after"),
                        ({"collapse_repeats": "yes"}, "collapse_repeats")]:
        with pytest.raises(ValueError, match=msg):
            paths_around(f, **kwargs)
    with pytest.raises(ValueError, match="event must be an event name"):
        event_paths(HAND, "nope")
    with pytest.raises(ValueError, match="direction"):
        event_paths(HAND, "view", direction="sideways")


def test_no_units_at_the_anchor():
    f = Funnel(HAND, ["view", "cart", "buy"])
    p = paths_around(f, step="buy", depth=3, converted=False)
    assert p.anchor_units == 0 and p.paths.empty and p.flows.empty and p.matrix.empty
    assert step_matrix_difference(p, paths_around(f, step="buy", depth=3)).empty


# ------------------------------------------------------------------------------------- the reference
def _units(ev: pd.DataFrame, unit: str) -> list[pd.DataFrame]:
    key = ev["customer_id"].astype(str) if unit == "customer" else session_keys(ev)
    return [g for _, g in ev.groupby(key.to_numpy(), sort=False)]


def _match_rows(g: pd.DataFrame, steps: list[str], window) -> list[int]:
    """Ordered greedy matching per attempt; the earliest attempt reaching the furthest step; its matched rows
    (positions in ``g``)."""
    ev, ts = g["event"].astype(str).tolist(), g["timestamp"].tolist()
    best: list[int] = []
    for i, e in enumerate(ev):
        if e != steps[0]:
            continue
        rows, j = [i], i
        for s in steps[1:]:
            nxt = next((x for x in range(j + 1, len(ev)) if ev[x] == s), None)
            if nxt is None or (window is not None and ts[nxt] - ts[i] > pd.Timedelta(window)):
                break
            rows.append(nxt)
            j = nxt
        if len(rows) > len(best):
            best = rows
    return best


def _walk(seq: list[str], depth: int, collapse: bool, end: str) -> list[str]:
    out: list[str] = []
    for e in seq:
        if collapse and out and out[-1] == e:
            continue
        out.append(e)
    return out[:depth] if len(out) >= depth else out + [end]


def reference(ev, steps, *, window, unit, depth, collapse, direction="forward", step=None, event=None,
              between=None, converted=None) -> Counter:
    ev = ensure_sorted(ev)
    out: Counter = Counter()
    for g in _units(ev, unit):
        names = g["event"].astype(str).tolist()
        rows = _match_rows(g, steps, window)
        if converted is not None and (len(rows) == len(steps)) != converted:
            continue
        if between is not None:
            a, b = steps.index(between[0]), steps.index(between[1])
            if len(rows) <= a:
                continue
            if len(rows) > b:
                span, end = names[rows[a] + 1: rows[b]], f"(reached {between[1]})"
            else:
                limit = g["timestamp"].iloc[rows[0]] + pd.Timedelta(window) if window else pd.Timestamp.max
                span = [e for e, t in zip(names[rows[a] + 1:], g["timestamp"].iloc[rows[a] + 1:], strict=True)
                        if t <= limit]
                end = END
            out[" > ".join(_walk(span, depth, collapse, end))] += 1
            continue
        if event is not None:
            at = names.index(event) if event in names else None
        else:
            k = steps.index(step)
            at = rows[k] if len(rows) > k else None
        if at is None:
            continue
        if direction == "forward":
            path = _walk(names[at + 1:], depth, collapse, END)
        else:
            path = _walk(names[:at][::-1], depth, collapse, START)[::-1]
        out[" > ".join(path)] += 1
    return out


def _got(p) -> Counter:
    return Counter(dict(zip(p.paths["path"], p.paths["units"].astype(int), strict=True)))


EVENTS = ["a", "b", "c", "d"]


@st.composite
def random_logs(draw):
    n = draw(st.integers(1, 30))
    rows = [(draw(st.sampled_from("pqrs")), draw(st.integers(0, 12)), draw(st.sampled_from(EVENTS)),
             draw(st.sampled_from([1, 2]))) for _ in range(n)]
    rows += [("z", i, e, 1) for i, e in enumerate(EVENTS)]  # every step name is in the data
    return _log(rows)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ev=random_logs(), window=st.sampled_from([None, "3min"]), unit=st.sampled_from(["customer", "session"]),
       depth=st.integers(1, 6), collapse=st.booleans(), direction=st.sampled_from(["forward", "backward"]),
       step=st.sampled_from(["a", "b", "c"]), converted=st.sampled_from([None, True, False]))
def test_step_paths_match_the_reference(ev, window, unit, depth, collapse, direction, step, converted):
    steps = ["a", "b", "c"]
    f = Funnel(ev, steps, window=window, unit=unit)
    p = paths_around(f, step=step, direction=direction, depth=depth, collapse_repeats=collapse, top=10_000,
                     converted=converted)
    assert _got(p) == reference(ev, steps, window=window, unit=unit, depth=depth, collapse=collapse,
                                direction=direction, step=step, converted=converted)
    if converted is None:  # the acceptance invariant: the units on the paths are the funnel's units at the step
        assert p.anchor_units == int(f.table()["reached"].iloc[steps.index(step)])
    assert p.paths["units"].sum() == p.anchor_units
    assert p.flows.loc[p.flows["position"] == 1, "units"].sum() == p.anchor_units
    if p.anchor_units:
        assert np.allclose(p.matrix.sum().to_numpy(), 1.0)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ev=random_logs(), window=st.sampled_from([None, "3min"]), unit=st.sampled_from(["customer", "session"]),
       depth=st.integers(1, 6), collapse=st.booleans(), direction=st.sampled_from(["forward", "backward"]),
       event=st.sampled_from(EVENTS), between=st.sampled_from([("a", "b"), ("a", "c"), ("b", "c")]))
def test_event_and_between_paths_match_the_reference(ev, window, unit, depth, collapse, direction, event, between):
    steps = ["a", "b", "c"]
    f = Funnel(ev, steps, window=window, unit=unit)
    p = paths_around(f, event=event, direction=direction, depth=depth, collapse_repeats=collapse, top=10_000)
    assert _got(p) == reference(ev, steps, window=window, unit=unit, depth=depth, collapse=collapse,
                                direction=direction, event=event)
    e = event_paths(ev, event, direction=direction, depth=depth, collapse_repeats=collapse, unit=unit, top=10_000)
    assert _got(e) == _got(p)
    s = paths_around(f, between=between, depth=depth, collapse_repeats=collapse, top=10_000)
    assert _got(s) == reference(ev, steps, window=window, unit=unit, depth=depth, collapse=collapse, between=between)
    assert s.anchor_units == int(f.table()["reached"].iloc[steps.index(between[0])])


def _brute_flows_and_matrix(p_paths: Counter, depth: int, backward: bool):
    """Flows at positions 1..depth and the step matrix from whole paths (top large enough: nothing merged)."""
    links, cells = Counter(), Counter()
    total = sum(p_paths.values())
    for path, n in p_paths.items():
        toks = path.split(" > ")
        toks = toks[::-1] if backward else toks
        for k, t in enumerate(toks, start=1):
            links[(k, "X" if k == 1 else toks[k - 2], t)] += n
        for k in range(1, depth + 1):
            cells[(toks[min(k, len(toks)) - 1], k)] += n / total
    return links, cells


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ev=random_logs(), depth=st.integers(1, 5), direction=st.sampled_from(["forward", "backward"]))
def test_flows_and_step_matrix_match_the_paths(ev, depth, direction):
    f = Funnel(ev, ["a", "b"], unit="customer")
    p = paths_around(f, step="a", direction=direction, depth=depth, top=10_000)
    links, cells = _brute_flows_and_matrix(_got(p), depth, direction == "backward")
    got = Counter({(r.position, "X" if r.position == 1 else r.source, r.target): r.units
                   for r in p.flows.itertuples()})
    assert got == links
    mat = {(e, k): v for (e, k), v in p.matrix.stack().items() if v > 0}
    assert mat.keys() == cells.keys() and all(mat[c] == pytest.approx(cells[c]) for c in cells)


# ------------------------------------------------------------------------------- the synthetic log
@pytest.fixture(scope="module")
def synth_events():
    return cjlib.synth.generate(1500, 3).events


@pytest.mark.parametrize("unit", ["customer", "session"])
def test_counts_agree_with_the_funnel_on_a_synthetic_log(synth_events, unit):
    steps = [["product_view", "view_item"], "add_to_cart", "begin_checkout", "event:purchase"]
    f = Funnel(synth_events, steps, window="30D", unit=unit)
    reached = f.table()["reached"].astype(int).tolist()
    for k, label in enumerate(f.labels):
        for direction in ("forward", "backward"):
            for depth in (1, 5, 20):
                for collapse in (True, False):
                    p = paths_around(f, step=label, direction=direction, depth=depth, collapse_repeats=collapse, top=8)
                    assert p.anchor_units == reached[k]
                    assert p.paths["units"].sum() == reached[k]
                    assert p.flows.loc[p.flows["position"] == 1, "units"].sum() == reached[k]
                    assert np.allclose(p.matrix.sum().to_numpy(), 1.0)
                    assert len(p.paths) <= 9 and (p.paths["units"].iloc[:-1].diff().dropna() <= 0).all()
        conv, drop = (paths_around(f, step=label, depth=5, converted=c) for c in (True, False))
        assert conv.anchor_units + drop.anchor_units == reached[k]
        assert conv.anchor_units == reached[-1]
        whole = paths_around(f, step=label, depth=5)
        pd.testing.assert_frame_equal(whole.outcome_difference, step_matrix_difference(conv, drop))
    # a session unit's paths stop with the session: none is longer than its session
    if unit == "session":
        p = paths_around(f, step=1, depth=20, collapse_repeats=False, top=10_000)
        longest = session_keys(ensure_sorted(synth_events)).value_counts().max()
        assert p.paths["path"].str.count(" > ").max() + 1 <= longest


# ------------------------------------------------------------------------------ findings and figures
def _planted(groups):
    """groups: list of (count, [events after 'view']); each unit starts with 'view' one minute apart."""
    rows, i = [], 0
    for count, evs in groups:
        for _ in range(count):
            rows += [(f"u{i:04d}", t, e) for t, e in enumerate(["view", *evs])]
            i += 1
    return _log(rows)


def test_flow_title_names_the_commonest_event_only_when_it_leads():
    from cjlib.findings.dropoff import paths_title

    f = Funnel(_planted([(40, ["search"]), (35, ["cart"]), (10, [])]), ["view", "cart"])
    p = paths_around(f, depth=2)
    assert paths_title(p) == ("12% of the 85 customers at view have no further event; the commonest event after it "
                              "is search (47%)")
    tie = paths_around(Funnel(_planted([(40, ["search"]), (40, ["cart"]), (10, [])]), ["view", "cart"]), depth=2)
    assert paths_title(tie) == "11% of the 90 customers at view have no further event"
    small = paths_around(Funnel(HAND, ["view", "cart", "buy"]), depth=2)  # 3 units: no share, no leader
    assert paths_title(small) == "The next 2 events of the 3 customers at view"
    # before cart: always view, so no unit starts at cart (a 0% share is not stated) and one event leads nothing
    back = paths_around(f, step="cart", direction="backward", depth=2)
    assert paths_title(back) == "The previous 2 events of the 35 customers at cart"
    first = paths_around(f, step="view", direction="backward", depth=2)
    assert paths_title(first) == "For 100% of the 85 customers at view it is their first event"


def test_step_matrix_title_and_gap_are_earned():
    from cjlib.findings.dropoff import (
        largest_step_gap,
        paths_metrics,
        paths_titles,
        step_matrix_title,
    )

    steps = ["view", "buy"]
    planted = _planted([(40, ["wish", "buy"]), (30, ["search"]), (10, ["wish"]), (10, [])])
    p = paths_around(Funnel(planted, steps), depth=2)
    gap = largest_step_gap(p)
    assert (gap["event"], gap["position"], gap["converted_units"], gap["dropped_units"]) == ("wish", 1, 40, 50)
    assert gap["difference"] == pytest.approx(1.0 - 0.2)
    assert step_matrix_title(p) == ("Besides the funnel's own steps, converters' 1st event after view is wish more "
                                    "often than droppers' (100% against 20%)")
    m = paths_metrics(p, top=2)
    assert m["paths_anchor_units"] == 90 and m["paths_converted_units"] == 40
    assert m["paths_end_share"] == pytest.approx(10 / 90)
    assert m["paths_top"] == [{"path": "wish > buy", "units": 40, "share": pytest.approx(40 / 90)},
                              {"path": "search > (end)", "units": 30, "share": pytest.approx(30 / 90)}]
    assert m["paths_largest_gap"] == gap
    # a tie between two cells names nothing (wish +0.9 against search −0.9)
    tie = paths_around(Funnel(_planted([(40, ["wish", "buy"]), (45, ["search"]), (5, ["wish"])]), steps), depth=2)
    assert largest_step_gap(tie) is None
    assert step_matrix_title(tie) == ("Converters (40) against droppers (50) by position after view: besides the "
                                      "funnel's own steps, no single gap stands out")
    # a group under min_units names nothing; one without units is not compared at all
    few = paths_around(Funnel(_planted([(5, ["wish", "buy"]), (40, ["search"]), (10, [])]), steps), depth=2)
    assert largest_step_gap(few) is None and largest_step_gap(few, min_units=5) is not None
    none = paths_around(Funnel(_planted([(50, ["search"])]), ["view", "event:purchase"]), depth=2)  # none bought
    assert step_matrix_title(none) is None
    flow, matrix = paths_titles(none)
    assert matrix is None and flow.endswith("; no customer converted, so converters and droppers are not compared")


def test_reading_guide_and_left_out_sentence():
    from cjlib.findings import problems
    from cjlib.findings.dropoff import no_paths, paths_findings

    p = paths_around(Funnel(_planted([(40, ["search"]), (35, ["cart"]), (10, [])]), ["view", "cart"]), depth=2)
    text = paths_findings(p)
    assert text == ("The next 2 events after view of each of the 85 customers there (the funnel's count at that step), "
                    "each run of a repeated event shown once; `(end)`: the customer had no more events. The commonest "
                    "path is search > (end) (40 customers, 47%).")
    ends = paths_around(Funnel(_planted([(20, ["search"]), (35, ["cart"]), (50, [])]), ["view", "cart"]), depth=2)
    assert paths_findings(ends).endswith("The commonest path is none at all: no further event (50 customers, 48%).")
    empty = paths_around(Funnel(HAND, ["view", "cart", "buy"]), step="buy", converted=False)
    assert no_paths(empty) == "no customer reached buy, so there are no paths around it."
    assert paths_findings(empty) == no_paths(empty)
    assert not problems(text)


def test_figures_draw_what_the_numbers_say():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from cjlib.plots.paths import path_flow, paths_figure, step_matrix_heatmap

    f = Funnel(_planted([(40, ["wish", "buy"]), (30, ["search"]), (10, ["wish"]), (10, [])]), ["view", "buy"])
    p = paths_around(f, depth=2)
    ax = path_flow(p.flows, title="t")
    nodes = [r for r in ax.patches if isinstance(r, Rectangle)]
    heights = {round(r.get_x(), 3): [] for r in nodes}
    for r in nodes:
        heights[round(r.get_x(), 3)].append(r.get_height())
    cols = [sorted(v, reverse=True) for _, v in sorted(heights.items())]
    # the anchor column is as tall as the column of first events (90 units), the second one lacks the 10 ended
    assert sum(cols[0]) == pytest.approx(sum(cols[1]))
    assert sorted(cols[1]) == pytest.approx(sorted(np.array([50, 30, 10]) * cols[0][0] / 90))
    plt.close("all")
    hm = step_matrix_heatmap(p.outcome_difference, direction="backward", title="t")
    img = hm.images[0].get_array()
    assert np.allclose(img, p.outcome_difference.to_numpy()[:, ::-1] * 100)
    assert [t.get_text() for t in hm.get_xticklabels()] == ["−2", "−1"]
    plt.close("all")
    assert len(paths_figure(p.flows, p.outcome_difference, titles=("a", "b")).axes) == 3  # flow, heatmap, colour bar
    assert len(paths_figure(p.flows, p.outcome_difference.iloc[:0], titles=("a", None)).axes) == 1
    plt.close("all")


@pytest.mark.parametrize("mode", ["strict", "any"])
def test_counts_agree_with_the_funnel_in_every_mode(synth_events, mode):
    steps = [["product_view", "view_item"], "add_to_cart", "begin_checkout", "event:purchase"]
    f = Funnel(synth_events, steps, window="7D", mode=mode, unit="session")
    reached = f.table()["reached"].astype(int).tolist()
    for k in range(len(steps)):
        for direction in ("forward", "backward"):
            p = paths_around(f, step=k + 1, direction=direction, depth=3, top=4)
            assert p.anchor_units == p.paths["units"].sum() == reached[k]
            assert p.flows.loc[p.flows["position"] == 1, "units"].sum() == reached[k]


@pytest.mark.parametrize("options", [{"optional": 2}, {"open": True}, {"exclude": "payment_error"}])
def test_counts_agree_with_a_funnel_with_options(synth_events, options):
    steps = [["product_view", "view_item"], "add_to_cart", "begin_checkout", "event:purchase"]
    f = Funnel(synth_events, steps, window="7D", unit="customer", **options)
    reached = f.table()["reached"].astype(int).tolist()
    for k in range(len(steps)):
        p = paths_around(f, step=k + 1, depth=3, top=4)
        assert p.anchor_units == p.paths["units"].sum() == reached[k]
        assert p.flows.loc[p.flows["position"] == 1, "units"].sum() == reached[k]
