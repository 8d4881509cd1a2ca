"""Tests for cjlib.attribution: reference cross-checks, hand-computed cases, edge cases, planted truth."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from cjlib import attribution as A
from cjlib import effects as E
from cjlib.attribution import paths as AP
from cjlib.errors import DataError, DataWarning

DATA = Path(__file__).parent / "data" / "attribution"
RTOL = 1e-9  # the reference files are printed to 10 significant digits


def _paths(rows):
    """A paths table from (path, conversions, nulls[, value]) tuples."""
    cols = ["path", "conversions", "nulls", "value"][: len(rows[0])]
    df = pd.DataFrame(rows, columns=cols)
    for c in cols[1:]:
        df[c] = df[c].astype(float)
    return df


@pytest.fixture(scope="module")
def paths20k():
    return A.read_paths(DATA / "paths_20k_seed42.csv")


@pytest.fixture(scope="module")
def tiny():
    return A.read_paths(DATA / "tiny.csv")


def _close(ours: pd.Series, ref: pd.Series, rtol=RTOL):
    ours = ours.reindex(ref.index)
    assert not ours.isna().any(), "channels differ"
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=rtol, atol=0)


# ---------------------------------------------------------------------------------------------- read_paths
def test_read_paths_ca_format(paths20k):
    assert len(paths20k) == 20_000
    assert list(paths20k.columns) == ["path", "conversions", "nulls", "value"]
    assert paths20k.conversions.sum() == 24_639
    assert paths20k.nulls.sum() == 199_538
    assert " > " in paths20k.path.iloc[0]


def test_read_paths_trims_drops_empty_names_and_reads_our_csv(tmp_path):
    text = "path;total_conversions;total_conversion_value;total_null\n" \
           " Paid Search >> Éclair  > ;1;5.5;2\n > ;0;0;4\nx;0;0;1\n"
    p = A.read_paths(io.StringIO(text))
    assert p.path.tolist() == ["Paid Search > Éclair", "x"]  # empty names dropped, then the empty path
    assert p.value.tolist() == [5.5, 0.0]
    f = tmp_path / "ours.csv"
    p.to_csv(f, index=False)
    back = A.read_paths(f)
    pd.testing.assert_frame_equal(back, p)


def test_read_paths_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        A.read_paths(tmp_path / "nope.csv")
    f = tmp_path / "bad.csv"
    f.write_text("path,conversions\na,1\n")
    with pytest.raises(DataError, match="nulls"):
        A.read_paths(f)
    f.write_text("path,conversions,nulls\na,-1,0\n")
    with pytest.raises(DataError, match="non-negative"):
        A.read_paths(f)


# ---------------------------------------------------------------------------------------------- heuristics
def test_heuristics_match_channelattribution(paths20k):
    h = A.heuristic(paths20k)
    ca = pd.read_csv(DATA / "ca_nsim1e7_heuristic.csv", index_col=0)
    for ours, ref in [("first_touch", "first_touch_conversions"), ("last_touch", "last_touch_conversions"),
                      ("linear", "linear_touch_conversions"), ("first_touch_value", "first_touch_value"),
                      ("last_touch_value", "last_touch_value"), ("linear_value", "linear_touch_value")]:
        _close(h[ours], ca[ref])
    om = pd.read_csv(DATA / "other_models.csv", index_col=0)
    _close(h["position_based"], om["position_based_40_20_40_conversions"])
    _close(h["position_based_value"], om["position_based_40_20_40_value"])
    for m in A.HEURISTIC_MODELS:
        assert h[m].sum() == pytest.approx(24_639, rel=1e-12)


def test_heuristics_by_hand():
    p = _paths([("a > a > b", 3, 0, 30), ("a > b > c > d", 10, 1, 100), ("e", 1, 0, 7), ("f", 0, 5, 0)])
    h = A.heuristic(p)
    assert h.first_touch.to_dict() == {"a": 13, "b": 0, "c": 0, "d": 0, "e": 1, "f": 0}
    assert h.last_touch.to_dict() == {"a": 0, "b": 3, "c": 0, "d": 10, "e": 1, "f": 0}
    assert h.linear["a"] == pytest.approx(2 + 2.5) and h.linear["b"] == pytest.approx(1 + 2.5)
    # 40/20/40: a>a>b → a .4+.2, b .4; a>b>c>d → a .4, b .1, c .1, d .4
    assert h.position_based.to_dict() == pytest.approx({"a": 1.8 + 4, "b": 1.2 + 1, "c": 1, "d": 4, "e": 1, "f": 0})
    assert h.position_based_value["a"] == pytest.approx(18 + 40)
    two = A.heuristic(_paths([("a > b", 2, 0)]))
    assert two.position_based.tolist() == [1.0, 1.0]
    assert "first_touch_value" not in two.columns
    with pytest.raises(ValueError, match="models must be among"):
        A.heuristic(p, models=["nope"])


# ---------------------------------------------------------------------------------------------- Markov
@pytest.mark.parametrize("order", [1, 2, 3])
def test_markov_exact_matches_reference(paths20k, order):
    ref = pd.read_csv(DATA / f"exact_markov_o{order}.csv", index_col=0)
    summary = json.loads((DATA / "exact_summary.json").read_text())[f"o{order}"]
    chain = A.markov_chain(paths20k, order=order, horizon="ca")
    ca = chain.table
    _close(ca.removal_effect, ref.removal_effects_conversion)
    _close(ca.conversions, ref.total_conversions)
    _close(ca.removal_effect_value, ref.removal_effects_conversion_value)
    _close(ca.value, ref.total_conversion_value)
    assert chain.n_states == summary["n_states"] and chain.order == order
    assert chain.horizon == summary["horizon"]
    assert chain.p_conversion == pytest.approx(summary["p_conv"], rel=RTOL)
    assert_frame_equal(A.markov(paths20k, order=order, horizon="ca"), ca)
    inf_chain = A.markov_chain(paths20k, order=order)  # default: infinite horizon
    inf = inf_chain.table
    _close(inf.removal_effect, ref.removal_effects_conversion_infinite_horizon)
    _close(inf.conversions, ref.total_conversions_infinite_horizon)
    # the infinite-horizon absorbing chain conserves flow: P(conversion) = conversions / journeys
    assert inf_chain.p_conversion == pytest.approx(24_639 / (24_639 + 199_538), rel=1e-12)
    # ChannelAttribution's 10^7 simulated walks agree within their Monte-Carlo noise
    sim = pd.read_csv(DATA / f"ca_nsim1e7_markov_o{order}.csv", index_col=0)
    re = ca.removal_effect.reindex(sim.index)
    assert np.abs(re - sim.removal_effects_conversion).max() < 0.003
    conv = ca.conversions.reindex(sim.index)
    assert (np.abs(conv / sim.total_conversions - 1)).max() < 0.01


@pytest.mark.parametrize("order", [1, 2, 3])
def test_markov_ca_horizon_without_nulls(paths20k, order):
    summary = json.loads((DATA / "exact_summary.json").read_text())[f"nonull_o{order}"]
    m = A.markov_chain(paths20k.assign(nulls=0.0), order=order, horizon="ca")
    assert m.n_states == summary["n_states"]
    assert m.horizon == summary["horizon"]
    assert m.p_conversion == pytest.approx(summary["p_conv"], rel=RTOL)


def test_transition_matrix_matches_reference(paths20k):
    ref = pd.read_csv(DATA / "exact_transition_o1.csv")
    tm = A.transition_matrix(paths20k)
    assert tm[["channel_from", "channel_to"]].equals(ref[["channel_from", "channel_to"]])
    np.testing.assert_allclose(tm["count"], ref["count"], rtol=RTOL)
    np.testing.assert_allclose(tm.transition_probability, ref.transition_probability, rtol=RTOL)
    assert tm.groupby("channel_from").transition_probability.sum().to_numpy() == pytest.approx(1.0)
    tm3 = A.transition_matrix(paths20k, order=3)
    assert tm3.channel_from.nunique() == 1016


def test_markov_tiny_by_hand(tiny):
    # tiny.csv by hand: start→a 3/8, b 1/8, c 3/8 (+ c alone 1/8 → null); a→b 3/4, a→null 1/4 ...
    ref = pd.read_csv(DATA / "tiny_exact_markov_o1.csv", index_col=0)
    m = A.markov(tiny)
    assert A.markov_chain(tiny).p_conversion == pytest.approx(0.5, rel=1e-12)
    assert m.removal_effect.to_dict() == pytest.approx({"a": 0.8, "b": 1.0, "c": 4 / 15}, rel=1e-12)
    _close(m.removal_effect, ref.removal_effect)
    _close(m.conversions, ref.total_conversions)
    _close(m.removal_effect_value, ref.removal_effect_value)
    _close(m.value, ref.total_conversion_value)


def test_markov_order3_one_state_paths(tiny):
    # at order 3 every tiny path is a single state: P(conv) = 4/8; removing a leaves (b) 1/8 → RE .75,
    # removing b leaves nothing converting → 1, removing c leaves (a,b) + (b) = 2/8 → .5
    m = A.markov(tiny, order=3)
    assert A.markov_chain(tiny, order=3).n_states == 6
    assert m.removal_effect.to_dict() == pytest.approx({"a": 0.75, "b": 1.0, "c": 0.5}, rel=1e-12)
    assert m.conversions.to_dict() == pytest.approx({"a": 4 / 3, "b": 16 / 9, "c": 8 / 9}, rel=1e-12)
    for h in ("infinite", "ca", 2):
        assert A.markov(tiny, order=3, horizon=h).removal_effect["a"] == pytest.approx(0.75)


def test_markov_edge_cases(tiny):
    # single-channel paths; a channel seen only on non-converting paths gets 0 from every model
    p = _paths([("a", 1, 1), ("b", 0, 1), ("a > a", 1, 0)])
    m = A.markov(p)
    assert A.markov_chain(p).p_conversion == pytest.approx(0.5)  # 2 of 4 journeys
    assert m.conversions.to_dict() == {"a": 2.0, "b": 0.0}
    assert A.heuristic(p).loc["b"].eq(0).all()
    assert A.shapley(p).shapley["b"] == 0
    withd = pd.concat([tiny, _paths([("d", 0, 3, 0)])], ignore_index=True)
    md = A.markov(withd)
    assert md.conversions["d"] == 0 and md.removal_effect["d"] == 0
    assert md.conversions.drop("d").to_dict() == pytest.approx(A.markov(tiny).conversions.to_dict())
    # zero conversions: a clear error, not NaN
    with pytest.raises(DataError, match="no conversions|none"):
        A.markov(_paths([("a > b", 0, 3), ("b", 0, 1)]))
    # empty paths are dropped (with a warning when they carried conversions)
    with pytest.warns(DataWarning, match="conversions on paths without any channel"):
        me = A.markov(pd.concat([tiny, _paths([(" > ", 5, 1, 9)])], ignore_index=True))
    assert me.conversions.sum() == pytest.approx(4)
    # rows with neither conversions nor nulls are ignored
    m0 = A.markov(pd.concat([tiny, _paths([("a > z", 0, 0, 0)])], ignore_index=True))
    assert m0.removal_effect.drop("z").to_dict() == pytest.approx(A.markov(tiny).removal_effect.to_dict())
    with pytest.raises(ValueError, match="order must be"):
        A.markov(tiny, order=0)
    with pytest.raises(ValueError, match="horizon must be"):
        A.markov(tiny, horizon="ChannelAttribution")


def test_markov_names_with_spaces_unicode_and_300_channels():
    p = _paths([("Paid Search > Ünïcødé 📱", 2, 1), ("Ünïcødé 📱", 0, 2), ("Paid Search", 1, 1)])
    m = A.markov(p, order=2)
    assert set(m.index) == {"Paid Search", "Ünïcødé 📱"}
    assert m.conversions.sum() == pytest.approx(3)
    rng = np.random.default_rng(1)
    names = np.array([f"ch {i:03d}" for i in range(300)], dtype=object)
    lens = rng.integers(1, 6, 3000)
    rows = [(" > ".join(rng.choice(names, k)), int(rng.integers(0, 3)), int(rng.integers(0, 5))) for k in lens]
    big = _paths(rows)
    for h in ("infinite", "ca"):
        mb = A.markov(big, horizon=h)
        assert len(mb) == 300
        assert mb.conversions.sum() == pytest.approx(big.conversions.sum())
        assert np.isfinite(mb.to_numpy()).all()


# ---------------------------------------------------------------------------------------------- Shapley
def test_simplified_shapley_matches_reference(paths20k):
    s = A.shapley(paths20k)
    om = pd.read_csv(DATA / "other_models.csv", index_col=0)
    _close(s.shapley, om.simplified_shapley_conversions)
    _close(s.shapley_value, om.simplified_shapley_value)


def test_exact_shapley_three_channels_by_hand():
    p = _paths([("a", 1, 1, 10), ("b", 0, 2, 0), ("a > b", 2, 0, 4), ("c", 1, 3, 6)])
    # v(S) = conversions of paths with channel set ⊆ S: v(a)=1, v(b)=0, v(c)=1, v(ab)=3, v(ac)=2, v(bc)=1,
    # v(abc)=4; averaging marginal contributions over the 6 orders gives a 2, b 1, c 1
    ex = A.shapley(p, method="exact")
    assert ex.shapley.to_dict() == pytest.approx({"a": 2.0, "b": 1.0, "c": 1.0}, rel=1e-12)
    assert ex.shapley.to_dict() == pytest.approx(A.shapley(p).shapley.to_dict(), rel=1e-12)
    assert ex.shapley_value.to_dict() == pytest.approx({"a": 12.0, "b": 2.0, "c": 6.0}, rel=1e-12)
    # v(S) = conversion rate of paths ⊆ S: v(a)=1/2, v(b)=0, v(c)=1/4, v(ab)=1/2, v(ac)=1/3, v(bc)=1/6,
    # v(abc)=2/5 → phi a 41/120, b 1/120, c 6/120 (sum 2/5), rescaled to the 4 conversions (× 10)
    rate = A.shapley(p, method="exact", characteristic="conversion_rate")
    assert rate.shapley.to_dict() == pytest.approx({"a": 41 / 12, "b": 1 / 12, "c": 0.5}, rel=1e-12)


def test_exact_shapley_limits(paths20k):
    ex = A.shapley(paths20k, method="exact")  # 10 channels: 1024 coalitions
    np.testing.assert_allclose(ex.shapley, A.shapley(paths20k).shapley, rtol=1e-9)
    many = _paths([(" > ".join(f"c{i}" for i in range(16)), 1, 0)])
    with pytest.raises(ValueError, match="limited to 15 channels"):
        A.shapley(many, method="exact")
    with pytest.raises(ValueError, match="method must be"):
        A.shapley(many, method="banzhaf")


# ---------------------------------------------------------------------------------------------- event logs
def _events():
    """A hand-made log; times are days after 2025-01-01 10:00."""
    rows = [  # customer, day, event, channel, revenue
        ("A", 0, "page_view", "email", None),
        ("A", 1, "ad_click", "social", None),
        ("A", 40, "product_view", "paid_search", None),
        ("A", 41, "purchase", "paid_search", 50.0),
        ("A", 42, "page_view", "direct", None),
        ("A", 43, "purchase", "direct", 20.0),
        ("A", 44, "page_view", "email", None),
        ("B", 0, "ad_click", "display", None),
        ("B", 2, "page_view", "display", None),
        ("B", 3, "product_view", "display", None),
        ("C", 5, "purchase", None, 10.0),
        ("D", 0, "ad_click", "social", None),
        ("D", 1, "product_view", "email", None),
        ("D", 2, "purchase", "email", 30.0),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "day", "event", "channel", "revenue"])
    df["timestamp"] = pd.Timestamp("2025-01-01 10:00") + pd.to_timedelta(df.pop("day"), unit="D")
    df["event"] = df["event"].astype("category")
    df["channel"] = df["channel"].astype("category")
    return df[["customer_id", "timestamp", "event", "channel", "revenue"]]


def _as_dict(pt):
    cols = [c for c in ("conversions", "nulls", "value") if c in pt.columns]
    return {r.path: tuple(getattr(r, c) for c in cols) for r in pt.itertuples()}


def test_paths_from_events_conversions_lookback_and_tails():
    ev = _events()
    before = ev.copy()
    jp = A.journey_paths(ev)
    pt = jp.table
    pd.testing.assert_frame_equal(ev, before)  # the caller's frame is not modified
    # A: 1st purchase keeps only the touch within 30 days (day 40); the 2nd only touches since the 1st;
    # A's touch after its last purchase and B's touches are non-converting tails; C's purchase has no touch
    assert _as_dict(pt) == {
        "direct": (1, 0, 20.0),
        "display > display > display": (0, 1, 0.0),
        "email": (0, 1, 0.0),
        "paid_search": (1, 0, 50.0),
        "social > email": (1, 0, 30.0),
    }
    assert pt.path.tolist() == sorted(pt.path)
    assert jp.conversions_without_touches == 1
    assert (jp.journeys, jp.converting_journeys) == (5, 3)
    pd.testing.assert_frame_equal(A.paths_from_events(ev), pt)
    longer = A.paths_from_events(ev, window="41D")
    assert "email > social > paid_search" in set(longer.path)
    assert _as_dict(A.paths_from_events(ev, window=None))["email > social > paid_search"] == (1, 0, 50.0)
    # tail lookback is measured from the customer's last touch: B's day-0 touch is 3 days before it
    short = A.paths_from_events(ev, window="2D")
    assert "display > display" in set(short.path)
    # the log's order does not matter; identical paths are aggregated
    shuffled = ev.sample(frac=1, random_state=3).reset_index(drop=True)
    pd.testing.assert_frame_equal(A.paths_from_events(shuffled), pt)
    twice = pd.concat([ev, ev.assign(customer_id=ev.customer_id + "2")], ignore_index=True)
    assert _as_dict(A.paths_from_events(twice))["paid_search"] == (2, 0, 100.0)
    collapsed = A.paths_from_events(ev, collapse_repeats=True)
    assert "display" in set(collapsed.path)
    ev_touch = A.paths_from_events(ev, touch_col="event", conversion_events=["purchase"])
    assert "ad_click > product_view" in set(ev_touch.path)
    with pytest.raises(ValueError, match="window must be"):
        A.paths_from_events(ev, window="soon")
    with pytest.raises(DataError, match="column 'medium'"):
        A.paths_from_events(ev, touch_col="medium")


def test_paths_from_events_long_and_many_journeys_match_plain_strings():
    """Journeys longer than the exact integer encoding (18 touches with 8 channels) and thousands of short
    ones: the table equals a plain ``groupby`` of each journey's joined channel names."""
    rng = np.random.default_rng(11)
    channels = ["affiliate", "direct", "display", "email", "organic", "paid", "referral", "social"]
    rows = []
    for c in range(1500):
        n_touch = int(rng.choice([1, 2, 3, 25, 40], p=[0.4, 0.3, 0.2, 0.06, 0.04]))
        if c % 7 == 0:
            n_touch = 25  # many customers share long paths of one channel pattern
            seq = ["email", "social"] * 12 + ["direct"]
        else:
            seq = list(rng.choice(channels, n_touch))
        for i, ch in enumerate(seq):
            rows.append((f"c{c:04d}", i, "ad_click", ch, np.nan))
        if rng.random() < 0.5:
            rows.append((f"c{c:04d}", n_touch, "purchase", None, 10.0))
    # two 20-touch paths that differ only in the order of their last two touches
    for c, tail in (("x1", ["social", "direct"]), ("x2", ["direct", "social"])):
        rows += [(c, i, "ad_click", ch, np.nan) for i, ch in enumerate(["email"] * 18 + tail)]
    ev = pd.DataFrame(rows, columns=["customer_id", "minute", "event", "channel", "revenue"])
    ev["timestamp"] = pd.Timestamp("2025-01-01") + pd.to_timedelta(ev.pop("minute"), unit="min")
    got = A.paths_from_events(ev, window=None)
    # reference: every customer is one journey (all touches precede its only purchase)
    touches = ev[ev["event"] == "ad_click"]
    path = touches.groupby("customer_id", sort=True)["channel"].agg(" > ".join)
    conv = ev.groupby("customer_id")["event"].apply(lambda e: (e == "purchase").any()).reindex(path.index)
    ref = pd.DataFrame({"path": path.to_numpy(), "conversions": conv.to_numpy().astype(float),
                        "nulls": (~conv.to_numpy()).astype(float), "value": np.where(conv, 10.0, 0.0)})
    ref = ref.groupby("path", sort=True, as_index=False).sum()
    assert (ref["path"].str.count(">") >= 24).sum() >= 2  # long paths are in the case
    pd.testing.assert_frame_equal(got.reset_index(drop=True), ref, check_dtype=False)


def test_paths_from_events_stage_mode():
    ev = _events()
    # awareness → consideration: A's touches before its first product view are > 30 days old
    jp = A.journey_paths(ev, stage="awareness>consideration")
    assert _as_dict(jp.table) == {"display > display": (1, 0, 0.0), "social": (1, 0, 0.0)}
    assert jp.conversions_without_touches == 1
    pt = A.paths_from_events(ev, stage=("awareness", "consideration"), window=None)
    assert _as_dict(pt) == {"display > display": (1, 0, 0.0), "email > social": (1, 0, 0.0),
                            "social": (1, 0, 0.0)}
    # purchase → retention (2nd purchase, per the stage map's nth): touches from the first purchase on
    pt = A.paths_from_events(ev, stage="purchase>retention")
    assert _as_dict(pt) == {"email": (0, 1, 0.0), "paid_search > direct": (1, 0, 20.0)}
    with pytest.raises(ValueError, match="stage names must be among"):
        A.paths_from_events(ev, stage="awareness>delight")
    with pytest.raises(ValueError, match="must come after"):
        A.paths_from_events(ev, stage="purchase>awareness")


def test_time_decay_by_hand():
    td = A.time_decay(_events(), half_life="1D")
    # D: social 2 days and email 1 day before the purchase → weights 1/4 and 1/2 → 1/3 and 2/3
    assert td.time_decay.to_dict() == pytest.approx(
        {"direct": 1, "display": 0, "email": 2 / 3, "paid_search": 1, "social": 1 / 3})
    assert td.time_decay_value["email"] == pytest.approx(20.0)
    assert td.time_decay.sum() == pytest.approx(3)
    with pytest.raises(ValueError, match="half_life"):
        A.time_decay(_events(), half_life=None)


# ---------------------------------------------------------------------------------------------- bootstrap
@pytest.mark.parametrize("model", ["markov", "linear", "shapley"])
def test_bootstrap_deterministic_and_covers_estimate(paths20k, model):
    b1 = A.bootstrap(paths20k, model=model, n_boot=40, seed=7)
    b2 = A.bootstrap(paths20k, model=model, n_boot=40, seed=7)
    pd.testing.assert_frame_equal(b1, b2)
    assert not b1.equals(A.bootstrap(paths20k, model=model, n_boot=40, seed=8))
    assert ((b1.lower <= b1.estimate) & (b1.estimate <= b1.upper)).all()
    assert (b1.upper - b1.lower).gt(0).all()
    # intervals are about 2 × 1.96 sd wide, a few percent of the estimate with 224k journeys
    assert ((b1.upper - b1.lower) / b1.estimate).lt(0.2).all()
    if model == "markov":
        ref = A.markov(paths20k)
        np.testing.assert_allclose(b1.estimate.to_numpy(), ref.conversions.to_numpy(), rtol=1e-12)


def test_bootstrap_options(tiny):
    b = A.bootstrap(tiny, model="markov", n_boot=30, seed=0, order=2, horizon="ca", value=True)
    assert b.estimate.to_dict() == pytest.approx(A.markov(tiny, order=2, horizon="ca").value.to_dict())
    with pytest.raises(ValueError, match="model must be one of"):
        A.bootstrap(tiny, model="magic")
    with pytest.raises(ValueError, match="confidence must be"):
        A.bootstrap(tiny, confidence=95)
    with pytest.raises(TypeError, match="unknown model arguments"):
        A.bootstrap(tiny, n_boot=2, orders=2)


# ---------------------------------------------------------------------------------------------- stages, costs
def test_stage_attribution_and_contribution_by_hand():
    ev = _events()
    with pytest.warns(DataWarning, match="retention>advocacy has no conversions"):
        res = A.stage_attribution(ev, model="last_touch", window=None)
    sa = res.table
    assert list(sa.columns) == ["transition", "channel", "conversions", "share", "journeys", "touches",
                                "conversion_rate", "lift"]
    assert res.skipped == ("retention>advocacy",) and res.model == "last_touch"
    # lift: awareness → consideration has 3 conversions over 5 touches (0.6 a touch); social earns 2 on 2
    # touches (1 a touch: ×5/3), display 1 on 2 (×5/6), email 0 on 1
    ac = sa[sa.transition == "awareness>consideration"].set_index("channel")["lift"]
    assert ac.to_dict() == pytest.approx({"display": 5 / 6, "email": 0.0, "social": 5 / 3})
    # purchase → retention: 1 conversion over 3 touches; direct's one touch converts: ×3
    assert sa[sa.transition == "purchase>retention"].set_index("channel").loc["direct", "lift"] == pytest.approx(3)
    got = {(r.transition, r.channel): r.conversions for r in sa.itertuples() if r.conversions}
    assert got == {("awareness>consideration", "display"): 1, ("awareness>consideration", "social"): 2,
                   ("consideration>purchase", "email"): 1, ("consideration>purchase", "paid_search"): 1,
                   ("purchase>retention", "direct"): 1}
    assert sa.groupby("transition").share.sum().to_numpy() == pytest.approx(1.0)
    assert res.p_conversion["awareness>consideration"] == 1.0
    # consideration → purchase: B's three display touches (from its product view) never convert
    cp = sa[sa.transition == "consideration>purchase"].set_index("channel")
    assert cp.loc["display", "touches"] == 1 and cp.loc["display", "conversions"] == 0
    sc = A.stage_contribution(ev, model="linear").table
    # touches are events: D's ad_click (awareness) and product_view (consideration) share its purchase,
    # A's two purchases each have one touch (product_view, page_view)
    assert sc.set_index("stage").conversions.to_dict() == pytest.approx({"awareness": 1.5, "consideration": 1.5})
    assert sc.share.sum() == pytest.approx(1)


def test_cost_per_conversion():
    attributed = pd.DataFrame({"last_touch": [4.0, 0.0, 6.0], "last_touch_value": [40.0, 0.0, 30.0],
                               "linear": [5.0, 1.0, 4.0]}, index=pd.Index(["a", "b", "c"], name="channel"))
    costs = pd.DataFrame({"channel": ["a", "a", "b", "d"], "period": ["2025-01", "2025-02", "2025-01", "2025-01"],
                          "spend": [10.0, 10.0, 5.0, 7.0]})
    t = A.cost_per_conversion(attributed, costs).set_index(["model", "channel"])
    assert t.loc[("last_touch", "a"), "cost_per_conversion"] == 5.0
    assert t.loc[("last_touch", "a"), "roi"] == 2.0
    assert np.isnan(t.loc[("last_touch", "b"), "cost_per_conversion"])  # spend, no conversions
    assert np.isnan(t.loc[("last_touch", "c"), "spend"])  # no cost rows
    assert t.loc[("linear", "b"), "cost_per_conversion"] == 5.0
    assert t.loc[("linear", "d"), "conversions"] == 0
    assert np.isnan(t.loc[("linear", "a"), "roi"])  # linear has no value column here
    m = A.markov(A.read_paths(DATA / "tiny.csv"))
    tm = A.cost_per_conversion(m, pd.DataFrame({"channel": ["a"], "spend": [3.1]}))
    assert tm.model.unique().tolist() == ["markov"]
    assert tm.set_index("channel").loc["a", "cost_per_conversion"] == pytest.approx(3.1 / m.conversions["a"])


def test_compare_models(paths20k):
    cm = A.compare_models(paths20k, order=2)
    assert list(cm.columns[:6]) == list(A.MODELS)
    np.testing.assert_allclose(cm.markov, A.markov(paths20k, order=2).conversions, rtol=1e-12)
    assert cm[list(A.MODELS)].sum().to_numpy() == pytest.approx(24_639)
    assert "markov_value" in cm.columns


# ---------------------------------------------------------------------------------------------- planted truth
@pytest.fixture(scope="module")
def synth_data():
    synth = pytest.importorskip("cjlib.synth")
    return synth.generate(4000, seed=0)


@pytest.mark.parametrize("model", ["markov", "linear"])
def test_planted_channel_effects_consideration_to_purchase(synth_data, model):
    planted = synth_data.params["channel_effects"]["consideration->purchase"]
    sa = A.stage_attribution(synth_data.events, model=model, transitions=["consideration>purchase"]).table
    rate = sa.set_index("channel").conversion_rate  # attributed conversions per path touch
    hi = max(planted, key=planted.get)  # email 1.6
    lo = min(planted, key=planted.get)  # display 0.5
    assert planted[hi] > 1 > planted[lo]
    assert rate[hi] > 1.5 * rate[lo]
    assert rate["paid_search"] > rate["social"]  # 1.3 vs 0.7


def test_planted_stage_attribution_every_transition(synth_data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        sa = A.stage_attribution(synth_data.events, model="markov").table
    assert {"awareness>consideration", "consideration>purchase", "purchase>retention"} <= set(sa.transition)
    assert sa.groupby("transition").share.sum().to_numpy() == pytest.approx(1.0)
    planted = synth_data.params["channel_effects"]["awareness->consideration"]
    rate = sa[sa.transition == "awareness>consideration"].set_index("channel").conversion_rate
    assert rate[max(planted, key=planted.get)] > rate[min(planted, key=planted.get)]  # social 1.3 > display 0.6


# ---------------------------------------------------------------------------------------------- figures
def test_figures_draw(paths20k, tmp_path):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    from cjlib.plots import attribution as P

    cm = A.compare_models(paths20k)
    ax = P.model_comparison(cm, intervals={"markov": A.bootstrap(paths20k, n_boot=5)}, title="t")
    assert len(ax.patches) == 6 * 10
    ax = P.transition_heatmap(A.transition_matrix(paths20k))
    assert ax.get_ylabel() == "from"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        sa = A.stage_attribution(_events(), model="linear", window=None).table
    ax = P.stage_channel_heatmap(sa, value="conversion_rate")
    assert ax.get_yticklabels()[0].get_text() == "awareness → consideration"
    costs = A.cost_per_conversion(cm, pd.DataFrame({"channel": ["email", "video"], "spend": [100.0, 50.0]}))
    ax = P.cost_bars(costs, metric="roi")
    ax.figure.savefig(tmp_path / "x.png")
    plt.close("all")


@pytest.mark.parametrize("chunk", [7, 1 << 18])  # 7: the Arrow tokenizer's chunks split the table many times
def test_python_tokenizer_fallback_agrees(paths20k, monkeypatch, chunk):
    monkeypatch.setattr(AP, "_TOKEN_CHUNK", chunk)
    strings = np.r_[paths20k.path.to_numpy(dtype=object)[:500], np.array([" x >> y ", "", " > "], dtype=object)]
    a, b = AP._tokenize(pd.Series(strings)), AP._tokenize_python(strings)
    assert a.channels.tolist() == b.channels.tolist()
    for f in ("tok", "pid", "lens"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    # the three odd strings: " x >> y " keeps x and y (the empty name between is dropped), the others nothing
    assert a.lens[-3:].tolist() == [2, 0, 0]
    assert a.channels[a.tok[-2:]].tolist() == ["x", "y"]
    np.testing.assert_array_equal(a.lens, np.bincount(a.pid, minlength=len(strings)))


def test_lookback_boundary_is_inclusive_any_time_unit():
    ev = pd.DataFrame({"customer_id": [1, 1, 1], "event": ["page_view", "page_view", "purchase"],
                       "channel": ["a", "b", None], "revenue": [np.nan, np.nan, 5.0],
                       "timestamp": pd.to_datetime(["2025-01-01 00:00:00", "2025-01-01 00:00:01",
                                                    "2025-01-31 00:00:00"]).astype("datetime64[us]")})
    assert A.paths_from_events(ev, window="30D").path.tolist() == ["a > b"]
    assert A.paths_from_events(ev, window=pd.Timedelta("30D") - pd.Timedelta("1us")).path.tolist() == ["b"]


def test_order_k_states_by_hand():
    # windows never cross into the next path; a path shorter than k is one state; repeats collapse
    t = pd.DataFrame({"path": ["a > b > c", "d", "a > a > a > b", "c > d"],
                      "conversions": [1.0, 0, 2, 0], "nulls": [0.0, 1, 0, 3]})
    want = {2: [("(start)", "a > a", 2), ("(start)", "a > b", 1), ("(start)", "c > d", 3), ("(start)", "d", 1),
                ("a > a", "a > b", 2), ("a > b", "(conversion)", 2), ("a > b", "b > c", 1),
                ("b > c", "(conversion)", 1), ("c > d", "(null)", 3), ("d", "(null)", 1)],
            3: [("(start)", "a > a > a", 2), ("(start)", "a > b > c", 1), ("(start)", "c > d", 3),
                ("(start)", "d", 1), ("a > a > a", "a > a > b", 2), ("a > a > b", "(conversion)", 2),
                ("a > b > c", "(conversion)", 1), ("c > d", "(null)", 3), ("d", "(null)", 1)]}
    for k, rows in want.items():
        tm = A.transition_matrix(t, order=k)
        got = list(zip(tm.channel_from, tm.channel_to, tm["count"].astype(int)))
        assert sorted(got) == sorted(rows), k
        assert A.markov_chain(t, order=k, horizon="ca").horizon == 3  # two states on the longest path, + 1


# ---------------------------------------------------------------------------------------------- any channel string
def test_join_and_split_path_round_trip_any_name():
    names = ["Email > Newsletter", "Paid > Search", "a\\b", "ends\\", "\\>", "plain name", "ünï > cödé"]
    s = A.join_path(names)
    assert s == "Email \\> Newsletter > Paid \\> Search > a\\\\b > ends\\\\ > \\\\\\> > plain name > ünï \\> cödé"
    assert A.split_path(s) == names
    # a backslash before any other character is kept as it is (files written without escapes still read)
    assert A.split_path("a > b\\c > d") == ["a", "b\\c", "d"]


@pytest.mark.parametrize("chunk", [None, 1])
def test_escaped_paths_parse_to_the_names_in_python_and_arrow(monkeypatch, chunk):
    t = _paths([(A.join_path(["Email > Newsletter", "b"]), 2, 1), (A.join_path(["b", "Email > Newsletter"]), 1, 0),
                ("b", 0, 3)])
    if chunk:
        monkeypatch.setattr(AP, "_TOKEN_CHUNK", chunk)
    h = A.heuristic(t)
    assert h.index.tolist() == ["Email > Newsletter", "b"]
    assert h["first_touch"].to_dict() == {"Email > Newsletter": 2.0, "b": 1.0}
    monkeypatch.setattr(AP, "_tokenize", lambda s: AP._tokenize_python(np.asarray(s, dtype=object)))
    assert A.heuristic(t)["first_touch"].to_dict() == {"Email > Newsletter": 2.0, "b": 1.0}


def test_channels_with_separator_give_the_same_attribution_as_plain_names(synth_data):
    """A log whose channels hold '>' attributes exactly like the same log with plain names (renamed back)."""
    ev = synth_data.events[synth_data.events["customer_id"].isin(synth_data.events["customer_id"].unique()[:1500])]
    hier = {"email": "Email > Newsletter", "paid_search": "Paid > Search"}
    plain = {"email": "a", "paid_search": "b"}
    back = {"a": "Email > Newsletter", "b": "Paid > Search"}

    def renamed(mapping):
        ch = ev["channel"].astype("string")
        return ev.assign(channel=ch.replace(mapping).astype("category"))

    eh, ep = renamed(hier), renamed(plain)
    assert {"Email > Newsletter", "Paid > Search"} <= set(eh["channel"].dropna())

    def same(x: pd.DataFrame, y: pd.DataFrame):
        y = y.rename(index=back).sort_index()
        x = x.sort_index()
        assert x.index.tolist() == y.index.tolist()
        pd.testing.assert_frame_equal(x, y, rtol=1e-12, check_like=True)

    ph, pp = A.paths_from_events(eh), A.paths_from_events(ep)
    assert ph["conversions"].sum() == pp["conversions"].sum() > 100
    assert sorted(ph["path"].map(A.split_path).map(tuple)) == sorted(
        pp["path"].map(A.split_path).map(lambda p: tuple(back.get(c, c) for c in p)))
    same(A.compare_models(ph, order=2), A.compare_models(pp, order=2))
    same(A.markov(ph), A.markov(pp))
    same(A.time_decay(eh), A.time_decay(ep))
    # (replicates resample path rows, whose order follows the path strings: only the estimate is the same)
    same(A.bootstrap(ph, "markov", n_boot=5)[["estimate"]], A.bootstrap(pp, "markov", n_boot=5)[["estimate"]])
    tm_h, tm_p = A.transition_matrix(ph), A.transition_matrix(pp)
    tm_p = tm_p.replace({"channel_from": back, "channel_to": back})
    key = ["channel_from", "channel_to"]
    pd.testing.assert_frame_equal(tm_h.sort_values(key, ignore_index=True), tm_p.sort_values(key, ignore_index=True))
    assert "Email > Newsletter" in set(tm_h["channel_from"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        sa_h, sa_p = A.stage_attribution(eh).table, A.stage_attribution(ep).table
    idx = ["transition", "channel"]
    pd.testing.assert_frame_equal(sa_h.set_index(idx).sort_index(),
                                  sa_p.replace({"channel": back}).set_index(idx).sort_index())
    ce_h, ce_p = E.channel_effects(eh), E.channel_effects(ep)
    pd.testing.assert_frame_equal(ce_h.set_index(idx).sort_index(),
                                  ce_p.replace({"channel": back}).set_index(idx).sort_index())
    costs = pd.DataFrame({"channel": ["Email > Newsletter", "Paid > Search"], "spend": [100.0, 300.0]})
    cpc = A.cost_per_conversion(A.compare_models(ph), costs).set_index(["model", "channel"])
    mk = A.compare_models(pp)
    assert cpc.loc[("markov", "Paid > Search"), "cost_per_conversion"] == pytest.approx(300 / mk.loc["b", "markov"])
    assert cpc.loc[("markov", "Email > Newsletter"), "spend"] == 100.0


# ---------------------------------------------------------------------------------------------- report-level calls
def test_model_comparison_by_hand():
    """_events() at 30 days: converting paths paid_search (50), direct (20), social > email (30); tails email
    and display × 3; C's purchase has no touch. Time decay (7 days) splits D's conversion 2^(-1/7) : 2^(-2/7)."""
    ev = _events()
    paths = A.paths_from_events(ev, window="30D")
    c = A.model_comparison(ev, paths, models="last_touch,time_decay,markov", n_boot=20, seed=1)
    assert c.models == ("last_touch", "time_decay", "markov") and c.conversions == 3.0
    assert list(c.attributed.columns) == ["last_touch", "time_decay", "markov", "last_touch_value",
                                          "time_decay_value", "markov_value"]
    assert c.attributed["last_touch"].to_dict() == {"direct": 1.0, "display": 0.0, "email": 1.0, "paid_search": 1.0,
                                                    "social": 0.0}
    q = 2 ** (-1 / 7)
    assert c.attributed.loc["email", "time_decay"] == pytest.approx(1 / (1 + q), rel=1e-12)
    assert c.attributed.loc["social", "time_decay"] == pytest.approx(q / (1 + q), rel=1e-12)
    assert c.attributed.loc["social", "time_decay_value"] == pytest.approx(30 * q / (1 + q), rel=1e-12)
    assert c.attributed.loc["paid_search", "last_touch_value"] == 50.0
    assert set(c.intervals) == {"last_touch", "markov"}
    assert_frame_equal(c.markov.table, A.markov(paths))
    assert_frame_equal(c.intervals["markov"], A.bootstrap(paths, "markov", n_boot=20, seed=1, order=1))


def test_stage_attribution_warn_false_skips_quietly():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sa = A.stage_attribution(_events(), model="last_touch", window=None, warn=False)
    assert sa.skipped == ("retention>advocacy",)


def test_spend_in_range_keeps_the_months_the_events_cover():
    costs = pd.DataFrame({"channel": ["a", "a", "b", "b"], "period": ["2025-01", "2025-02", "2025-02-15", "2025-03"],
                          "spend": [1.0, 2.0, 3.0, 4.0]})
    ev = _events()  # 2025-01-01 to 2025-02-14
    assert A.spend_in_range(ev, costs)["spend"].tolist() == [1.0, 2.0, 3.0]
    flat = costs.drop(columns="period")
    assert A.spend_in_range(ev, flat) is flat


def test_figures_take_column_names_and_tables_are_formatted():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    from cjlib.plots import attribution as P

    frame = pd.DataFrame({"step": ["a>b", "a>b", "b>c"], "source": ["x", "y", "x"], "ratio": [2.0, 0.5, 1.0]})
    ax = P.stage_lift_heatmap(frame, value="ratio", transition="step", channel="source")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a → b", "b → c"]
    assert [t.get_text() for t in ax.texts] == ["×2.00", "×0.50", "×1.00"]
    bars = P.stage_contribution_bars(pd.DataFrame({"s": ["a", "b"], "part": [0.75, 0.25], "n": [3.0, 1.0]}),
                                     stage="s", share="part", conversions="n")
    assert [t.get_text().strip() for t in bars.texts] == ["75.0% (3)", "25.0% (1)"]
    with pytest.raises(ValueError, match="not in the frame"):
        P.stage_channel_heatmap(frame, value="share", transition="step", channel="source")
    plt.close("all")
    js = pd.DataFrame({"journeys": [1234.0], "distinct paths": [5.0], "mean touches": [2.25], "median touches": [2.0],
                       "one-touch share": [np.nan]}, index=["converting"])
    html = P.style_journeys(js).to_html()
    assert "1,234" in html and "2.2" in html and "–" in html
    tab = pd.DataFrame({"spend": [1500.0], "cost/conv. markov": [12.345]}, index=["email"])
    html = P.style_cost_table(tab).to_html()
    assert "1,500" in html and "12.35" in html


def test_bootstrap_skips_replicates_without_conversions():
    """One journey of 20 converts: a Markov replicate draws none with probability (19/20)^20 ≈ 36%; those are
    skipped, and the interval comes from the others."""
    t = _paths([("a > b", 1, 9), ("b", 0, 10)])
    iv = A.bootstrap(t, "markov", n_boot=50, seed=0)
    assert list(iv.columns) == ["estimate", "lower", "upper", "std"]
    assert np.isfinite(iv.to_numpy()).all() and (iv["lower"] <= iv["upper"]).all()
