"""A/B tests (cjlib.experiment, findings.dropoff.experiment, plots.experiment) and the Newcombe interval of
cjlib.stats: published and hand-computed numbers, a simulation of the MDE's power, brute-force counts on random
small logs, and the planted A/B test of cjlib.synth found at its step (issue 20)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from cjlib import synth
from cjlib.experiment import ab_test, minimum_detectable_effect, sample_ratio_mismatch
from cjlib.findings import problems
from cjlib.findings.dropoff import experiment as X
from cjlib.report.notebook import to_jsonable
from cjlib.stats import proportion_difference, wilson_interval

CHECKOUT = [["product_view", "view_item"], "add_to_cart", "begin_checkout", "event:purchase"]


# ------------------------------------------------------------------------------------------ Newcombe
@pytest.mark.parametrize("counts, interval", [
    # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (score, no continuity correction)
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
])
def test_newcombe_table_ii(counts, interval):
    d, lo, hi = proportion_difference(*counts)
    assert float(d) == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    assert (round(float(lo), 4), round(float(hi), 4)) == interval


def test_newcombe_by_hand_and_vectorized():
    # 56/70 vs 48/80 from the Wilson bounds, (x + z²/2 ± z sqrt(x(n-x)/n + z²/4)) / (n + z²) with z = 1.959964
    z = 1.959964

    def wilson(x, n):
        c, h = x + z * z / 2, z * np.sqrt(x * (n - x) / n + z * z / 4)
        return (c - h) / (n + z * z), (c + h) / (n + z * z)

    l1, u1 = wilson(56, 70)
    l2, u2 = wilson(48, 80)
    assert (l1, u1) == pytest.approx(tuple(float(v) for v in wilson_interval(56, 70)), abs=1e-6)
    assert (round(l1, 4), round(u1, 4), round(l2, 4), round(u2, 4)) == (0.6918, 0.8770, 0.4905, 0.7004)
    lo = 0.2 - np.sqrt((0.8 - l1) ** 2 + (u2 - 0.6) ** 2)
    hi = 0.2 + np.sqrt((u1 - 0.8) ** 2 + (0.6 - l2) ** 2)
    d, a, b = proportion_difference([56, 9, 1], [70, 10, 0], [48, 3, 1], [80, 10, 5])
    assert a[0] == pytest.approx(lo) and b[0] == pytest.approx(hi)
    assert (round(float(a[1]), 4), round(float(b[1]), 4)) == (0.1705, 0.8090)
    assert np.isnan([d[2], a[2], b[2]]).all()  # an empty group: no difference
    # a wider level gives a wider interval
    _, lo99, hi99 = proportion_difference(56, 70, 48, 80, confidence=0.99)
    assert lo99 < 0.0524 and hi99 > 0.3339
    with pytest.raises(ValueError, match="confidence"):
        proportion_difference(1, 2, 1, 2, confidence=95)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 400), st.integers(1, 400), st.data())
def test_newcombe_interval_brackets_the_difference(n1, n2, data):
    x1, x2 = data.draw(st.integers(0, n1)), data.draw(st.integers(0, n2))
    d, lo, hi = (float(v) for v in proportion_difference(x1, n1, x2, n2))
    assert -1 <= lo <= d <= hi <= 1
    # swapping the groups mirrors the interval
    d2, lo2, hi2 = (float(v) for v in proportion_difference(x2, n2, x1, n1))
    assert (d2, lo2, hi2) == pytest.approx((-d, -hi, -lo))


# ----------------------------------------------------------------------------------------------- MDE
def test_mde_by_hand():
    # (z_0.975 + z_0.8) × sqrt(p(1-p)(1/n1 + 1/n2)) = (1.959964 + 0.841621) × sqrt(0.25 × 0.002) = 0.062645
    a, r = minimum_detectable_effect(0.5, 1000, 1000)
    assert float(a) == pytest.approx(2.801585 * np.sqrt(0.25 * 0.002), abs=1e-6)
    assert float(a) == pytest.approx(0.062645, abs=1e-6) and float(r) == pytest.approx(0.12529, abs=1e-5)
    # 10 % control rate, 3,000 vs 1,000 units, alpha 0.01, power 0.9: (2.575829 + 1.281552) × sqrt(0.09 × 4/3000)
    a, r = minimum_detectable_effect(0.1, 3000, 1000, alpha=0.01, power=0.9)
    assert float(a) == pytest.approx(3.857381 * np.sqrt(0.09 * (1 / 3000 + 1 / 1000)), abs=1e-6)
    assert float(r) == pytest.approx(float(a) / 0.1)
    a, r = minimum_detectable_effect([0.0, 1.0, 0.3, 0.3], [100, 100, 0, 100], [100, 100, 100, 0])
    assert np.isnan(a).all() and np.isnan(r).all()  # no variance or an empty group: not defined
    with pytest.raises(ValueError, match="power"):
        minimum_detectable_effect(0.3, 10, 10, power=80)


def test_mde_has_its_power():
    """A true difference of the MDE is found (two-sided pooled z-test at 0.05) about 80 % of the time."""
    p, n = 0.3, 2000
    mde = float(minimum_detectable_effect(p, n, n)[0])
    rng = np.random.default_rng(0)
    x1 = rng.binomial(n, p, 20_000)
    x2 = rng.binomial(n, p + mde, 20_000)
    pooled = (x1 + x2) / (2 * n)
    z = (x2 - x1) / n / np.sqrt(pooled * (1 - pooled) * 2 / n)
    power = float(np.mean(np.abs(z) > stats.norm.ppf(0.975)))
    assert power == pytest.approx(0.8, abs=0.02)


# ----------------------------------------------------------------------------------------------- SRM
def test_srm_by_hand():
    # 52/48 of 20,000: chi2 = 2 × 400² / 10,000 = 32, p = P(chi2_1 > 32) = P(|Z| > √32) = erfc(4) = 1.5417e-8
    s = sample_ratio_mismatch({"control": 10_400, "treatment": 9_600})
    assert s.chi2 == pytest.approx(32.0) and s.p_value == pytest.approx(math.erfc(4.0), rel=1e-9) and s.mismatch
    assert s.p_value == pytest.approx(1.5417e-8, rel=1e-4)
    assert s.table["share"].tolist() == [0.52, 0.48] and s.table["expected_units"].tolist() == [10_000, 10_000]
    # 50.5/49.5: chi2 = 2 × 100² / 10,000 = 2, p = erfc(1) = 0.1573
    s = sample_ratio_mismatch({"control": 10_100, "treatment": 9_900})
    assert s.chi2 == pytest.approx(2.0) and s.p_value == pytest.approx(0.1573, abs=1e-4) and not s.mismatch
    # a planned 80/20 split met exactly; the same counts against an equal split are a mismatch
    assert sample_ratio_mismatch({"a": 800, "b": 200}, split={"a": 0.8, "b": 0.2}).p_value == pytest.approx(1.0)
    assert sample_ratio_mismatch({"a": 800, "b": 200}).mismatch
    # three variants: chi2 = (30² + 0 + 30²) / 1000 = 1.8 on 2 degrees of freedom
    s = sample_ratio_mismatch(pd.Series({"a": 1030, "b": 1000, "c": 970}))
    assert s.chi2 == pytest.approx(1.8) and s.p_value == pytest.approx(np.exp(-0.9)) and not s.mismatch
    # the threshold is a parameter: p = 0.157 is flagged at 0.2
    assert sample_ratio_mismatch({"control": 10_100, "treatment": 9_900}, threshold=0.2).mismatch
    for bad, match in (({"a": 5}, "two variants"), ({"a": 5, "b": -1}, "non-negative")):
        with pytest.raises(ValueError, match=match):
            sample_ratio_mismatch(bad)
    with pytest.raises(ValueError, match="split"):
        sample_ratio_mismatch({"a": 5, "b": 5}, split={"a": 1.0})


# ------------------------------------------------------------------------------------ ab_test by hand
def _log(rows):
    """rows: (customer, variant, events) → an event log, one event a minute."""
    out = []
    for c, v, evs in rows:
        for i, e in enumerate(evs):
            out.append({"customer_id": c, "variant": v, "event": e,
                        "timestamp": pd.Timestamp("2025-01-01") + pd.Timedelta(minutes=i)})
    return pd.DataFrame(out)


def test_ab_test_hand_counts():
    pv, cart, buy = "product_view", "add_to_cart", "purchase"
    ev = _log([("a1", "A", [pv, cart, buy]), ("a2", "A", [pv, cart]), ("a3", "A", [pv]), ("a4", "A", ["page_view"]),
               ("b1", "B", [pv, cart, buy]), ("b2", "B", [pv, cart, buy]), ("b3", "B", [pv, cart]),
               ("b4", "B", [pv]),
               ("m1", "A", [pv]), ("m1", "B", [cart])])  # m1 carries both variants: left out
    t = ab_test(ev, [pv, cart, "event:purchase"])
    assert t.control == "A" and t.mixed_units == 1 and t.units == 8
    assert t.srm.table["units"].tolist() == [4, 4] and t.srm.p_value == pytest.approx(1.0)
    r = t.rates.set_index(["kind", "to_step", "variant"])
    assert r.loc[("entry", pv, "A"), ["units", "converted"]].tolist() == [4, 3]
    assert r.loc[("entry", pv, "B"), ["units", "converted"]].tolist() == [4, 4]
    assert r.loc[("step", cart, "A"), ["units", "converted"]].tolist() == [3, 2]
    assert r.loc[("step", cart, "B"), ["units", "converted"]].tolist() == [4, 3]
    assert r.loc[("step", "purchase", "A"), ["units", "converted"]].tolist() == [2, 1]
    assert r.loc[("step", "purchase", "B"), ["units", "converted"]].tolist() == [3, 2]
    assert r.loc[("overall", "purchase", "A"), ["units", "converted"]].tolist() == [4, 1]
    assert r.loc[("overall", "purchase", "B"), ["units", "converted"]].tolist() == [4, 2]
    d = t.differences.set_index(["kind", "to_step"])
    assert d["variant"].eq("B").all() and d["control"].eq("A").all() and len(d) == 4
    row = d.loc[("overall", "purchase")]
    want = proportion_difference(2, 4, 1, 4)
    assert (row["difference"], row["ci_low"], row["ci_high"]) == pytest.approx(tuple(float(v) for v in want))
    assert row["difference"] == pytest.approx(0.25)
    assert row["mde"] == pytest.approx(float(minimum_detectable_effect(0.25, 4, 4)[0]))
    assert not t.differences["significant"].any()  # four customers a side prove nothing
    # control chosen explicitly flips the sign
    t2 = ab_test(ev, [pv, cart, "event:purchase"], control="B")
    assert t2.control == "B" and t2.differences["variant"].eq("A").all()
    assert t2.differences["difference"].to_numpy() == pytest.approx(-t.differences["difference"].to_numpy())
    with pytest.raises(ValueError, match="control must be one of"):
        ab_test(ev, [pv, cart], control="C")
    with pytest.raises(ValueError, match="by must name"):
        ab_test(ev, [pv, cart], by="arm")
    with pytest.raises(ValueError, match="at least two variants"):
        ab_test(ev.assign(variant="A"), [pv, cart])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C"]),
                          st.lists(st.sampled_from(["product_view", "add_to_cart", "purchase", "page_view"]),
                                   min_size=1, max_size=6)), min_size=3, max_size=25))
def test_ab_test_counts_match_a_brute_force_reference(customers):
    """Units and conversions per variant and transition equal a per-customer reference (ordered funnel, no
    window: a customer reaches step k when steps 1..k occur in order)."""
    rows = [(f"c{i:02d}", v, evs) for i, (v, evs) in enumerate(customers)]
    ev = _log(rows)
    if ev["variant"].nunique() < 2:
        return
    steps = ["product_view", "add_to_cart", "event:purchase"]
    t = ab_test(ev, steps)

    def reached(evs):
        k = 0
        for e in evs:
            if k < 3 and e == ["product_view", "add_to_cart", "purchase"][k]:
                k += 1
        return k

    ref = pd.DataFrame({"variant": [v for _, v, _ in rows], "k": [reached(evs) for _, _, evs in rows]})
    for kind, to_step, a, b in [("entry", "product_view", 0, 1), ("step", "add_to_cart", 1, 2),
                                ("step", "purchase", 2, 3), ("overall", "purchase", 0, 3)]:
        got = t.rates[(t.rates["kind"] == kind) & (t.rates["to_step"] == to_step)].set_index("variant")
        for v in sorted(ref["variant"].unique()):
            g = ref[ref["variant"] == v]
            assert got.loc[v, "units"] == (g["k"] >= a).sum() and got.loc[v, "converted"] == (g["k"] >= b).sum()
    assert t.srm.table["units"].sum() == len(rows)
    assert len(t.differences) == 4 * (ref["variant"].nunique() - 1)


# ------------------------------------------------------------------------------------- planted truth
@pytest.fixture(scope="module")
def planted():
    d = synth.generate(20_000, seed=0, variant_split=0.5)
    return d, ab_test(d.events, CHECKOUT, window="30D")


def test_planted_lift_found_at_its_step(planted):
    """The sample's A/B test: treatment raises begin_checkout after add_to_cart; 03's comparison finds it
    there, with the right sign, and nowhere else; the assignment passes the SRM check."""
    d, t = planted
    truth = d.params["ab_test"]
    assert not t.srm.mismatch and t.srm.p_value > 0.01 and t.mixed_units == 0
    assert t.control == truth["control"]
    found = t.found()
    assert len(found) == 1
    row = found.iloc[0]
    assert (row["from_step"], row["to_step"]) == (truth["from_step"], truth["to_step"])
    assert row["variant"] == truth["treatment"] and row["difference"] > 0 and row["ci_low"] > 0
    # a customer converts over several sessions, so the customer-level lift is smaller than the session lift
    assert 0.01 < row["difference"] < truth["lift"]
    assert row["mde"] < row["difference"]
    text = X.ab_findings(t)
    assert f"**Variant treatment converts {100 * row['difference']:.1f} pp better than control at add_to_cart → " \
           "begin_checkout**" in text
    assert "no sample-ratio mismatch" in text and not problems(text)
    assert X.ab_title(t).startswith("Variant treatment converts") and "begin_checkout" in X.ab_title(t)
    m = json.loads(json.dumps(to_jsonable(X.ab_metrics(t))))["ab_test"]
    assert m["srm"]["mismatch"] is False and [v["units"] for v in m["variants"]] == t.srm.table["units"].tolist()
    assert m["found"] == [{"variant": "treatment", "from_step": "add_to_cart", "to_step": "begin_checkout",
                           "difference": pytest.approx(row["difference"]), "ci_low": pytest.approx(row["ci_low"]),
                           "ci_high": pytest.approx(row["ci_high"])}]
    assert len(m["differences"]) == 5 and all("mde" in r for r in m["differences"])


def test_planted_imbalance_flagged():
    """52/48 on 20,000 customers is a sample-ratio mismatch: flagged, and no difference is read as an effect."""
    d = synth.generate(20_000, seed=0, variant_split=0.52)
    t = ab_test(d.events, CHECKOUT, window="30D")
    assert t.srm.mismatch and t.srm.p_value < 1e-6
    assert t.srm.table.set_index("variant")["share"]["treatment"] == pytest.approx(0.52, abs=0.01)
    text = X.ab_findings(t)
    assert "**Sample-ratio mismatch:**" in text and "cannot be trusted" in text
    assert "better than" not in text and "worse than" not in text
    assert X.ab_title(t).startswith("Sample-ratio mismatch")
    assert X.ab_metrics(t)["ab_test"]["found"] == [] and X.ab_metrics(t)["ab_test"]["srm"]["mismatch"]


def test_a_over_a_finds_nothing(planted):
    """Control split in two by customer id: no difference, and the text says what the test could detect."""
    d, _ = planted
    c = d.events[d.events["variant"] == "control"]
    c = c.assign(variant=np.where(c["customer_id"].str[-1].astype(int) % 2 == 0, "A", "B"))
    t = ab_test(c, CHECKOUT, window="30D")
    assert not t.srm.mismatch and not t.differences["significant"].any()
    text = X.ab_findings(t)
    assert "**No difference beyond chance** between B and A at any of the 5 comparisons" in text
    assert "better than" not in text and "worse than" not in text and not problems(text)
    assert X.ab_title(t) == "No transition differs from A beyond chance"


# ---------------------------------------------------------------------------------- findings by hand
def _ab(diffs: list[dict], *, units=(5000, 5000), mismatch=False):
    """An ABTest with the given difference rows (control A, variant B) and assignment counts."""
    from cjlib.experiment import ABTest

    srm = sample_ratio_mismatch({"A": units[0], "B": units[1]})
    assert srm.mismatch == mismatch
    rows = []
    for r in diffs:
        xc, nc, xt, nt = r["counts"]
        diff, lo, hi = (float(v) for v in proportion_difference(xt, nt, xc, nc))
        mde = float(minimum_detectable_effect(xc / nc, nc, nt)[0]) if 0 < xc < nc else np.nan
        rows.append({"kind": r.get("kind", "step"), "from_step": r["from"], "to_step": r["to"], "variant": "B",
                     "control": "A", "units_control": nc, "units": nt, "rate_control": xc / nc, "rate": xt / nt,
                     "difference": diff, "ci_low": lo, "ci_high": hi, "p_value": r["p"], "p_adjusted": r["p"],
                     "significant": r["p"] < 0.05 and (lo > 0 or hi < 0),
                     "mde": mde, "mde_relative": mde / (xc / nc) if mde == mde else np.nan})
    return ABTest("variant", "A", srm, pd.DataFrame(), pd.DataFrame(rows), 0, 0.95, 0.05, 0.8)


def test_no_better_sentence_when_the_interval_includes_zero():
    # 0.55 vs 0.50 on 200 a side: Newcombe interval -0.047 to 0.145 includes 0 (p = 0.32)
    ab = _ab([{"from": "x", "to": "y", "counts": (100, 200, 110, 200), "p": 0.32}])
    assert ab.differences["ci_low"].iloc[0] < 0 < ab.differences["ci_high"].iloc[0]
    text = X.ab_findings(ab)
    assert "better than" not in text and "**No difference beyond chance**" in text
    # the observed 5.0 pp is below the MDE (14.0 pp): the MDE clause is earned
    assert "no observed difference reaches the minimum detectable effect" in text
    assert "**Minimum detectable effect** (two-sided α = 0.05 for one comparison, 80% power" in text
    assert "14.0 pp at the transitions" in text
    # a Holm p just under 0.05 with an interval through 0 is not named either (both are required)
    ab = _ab([{"from": "x", "to": "y", "counts": (100, 200, 110, 200), "p": 0.049}])
    assert "better than" not in X.ab_findings(ab)


def test_difference_sentences_worse_and_several():
    ab = _ab([{"kind": "entry", "from": "(assigned)", "to": "x", "counts": (4000, 5000, 4010, 5000), "p": 0.8},
              {"from": "x", "to": "y", "counts": (2000, 4000, 1800, 4010), "p": 1e-5},
              {"from": "y", "to": "z", "counts": (1000, 2000, 1000, 1800), "p": 1e-4},
              {"kind": "overall", "from": "(assigned)", "to": "z", "counts": (1000, 5000, 1000, 5000), "p": 1.0}])
    text = X.ab_findings(ab)
    assert "**Variant B converts 5.1 pp worse than A at x → y** (44.9% against 50.0%; 95% CI -7.3 to -2.9 pp, " \
           "Holm-adjusted p < 0.001)." in text
    assert "**Variant B converts 5.6 pp better than A at y → z**" in text
    assert "The other 2 comparisons show no difference beyond chance." in text
    assert X.ab_title(ab) == "2 of 4 comparisons differ from A beyond chance"
    # MDE overall: 2.801585 × sqrt(0.2 × 0.8 × 2/5000) = 0.0224, 11% of 0.2
    assert "2.2 pp on overall conversion (11% of control's 20.0%)" in text and not problems(text)


def test_srm_sentence_and_mixed_units():
    ab = _ab([{"from": "x", "to": "y", "counts": (100, 200, 160, 200), "p": 1e-9}], units=(10_400, 9_600),
             mismatch=True)
    text = X.ab_findings(ab)
    assert text.startswith("**Sample-ratio mismatch:** 10,400 customers in A (52.0%) and 9,600 customers in B "
                           "(48.0%) against an equal split (χ² = 32.00, p < 0.001; flagged below p = 0.001).")
    assert "better than" not in text  # a 30 pp difference, but the groups are not comparable
    ok = _ab([{"from": "x", "to": "y", "counts": (100, 200, 100, 200), "p": 1.0}], units=(10_100, 9_900))
    assert "no sample-ratio mismatch (χ² = 2.00, p = 0.157;" in X.ab_findings(ok)
    from dataclasses import replace

    assert "3 customers whose events carry more than one variant are left out." in X.ab_findings(
        replace(ok, mixed_units=3))


def test_ab_left_out_says_why():
    ev = pd.DataFrame({"customer_id": ["a", "b", "c"], "variant": ["control", "control", None]})
    assert X.ab_left_out(ev, None, "variant") == "there is no `variant` column in the events or customers."
    assert X.ab_left_out(ev, None, "") == "no variant column is set (variant_column is empty)."
    assert X.ab_left_out(ev, "variant", "variant") == ("the `variant` column has one value (control): there is "
                                                       "nothing to compare.")
    assert X.ab_left_out(ev.assign(variant=None), "variant", "variant") == (
        "the `variant` column has no value: no customer is assigned a variant.")
    assert X.ab_left_out(ev.assign(variant=["A", "B", None]), "variant", "variant") is None


def test_ab_figures(planted):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cjlib.plots import experiment as xp

    _, t = planted
    ax = xp.ab_differences(t, title=X.ab_title(t))
    assert len(ax.get_yticklabels()) == 5 and ax.get_yticklabels()[-1].get_text().startswith("reaching ")
    assert "treatment − control" in ax.get_xlabel()
    html = xp.ab_table(t).to_html()
    assert "add_to_cart → begin_checkout" in html and "+2.9" in html
    plt.close("all")
