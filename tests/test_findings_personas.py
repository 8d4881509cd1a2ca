"""cjlib.findings.personas: 01's sentences and titles on hand-made frames (ties, tiny groups, NaN,
unstable fits, no revenue)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjlib.findings import personas as say
from cjlib.findings import problems

PARAMS = {"k": "auto", "k_range": (2, 8), "min_stability": 0.8, "min_share": 0.05}


def _scores(rows: dict, chosen: int):
    s = pd.DataFrame.from_dict(rows, orient="index", columns=["silhouette", "ari_mean", "ari_min", "min_share"])
    s.index.name = "k"
    s["admissible"] = (s["min_share"] >= 0.05) & (s["ari_mean"].fillna(1.0) >= 0.8)
    s["chosen"] = s.index == chosen
    return s


STABLE = _scores({2: (0.30, 0.95, 0.90, 0.30), 3: (0.35, 0.92, 0.85, 0.20), 4: (0.20, 0.60, 0.10, 0.10)}, 3)
UNSTABLE = _scores({2: (0.08, 0.08, -0.10, 0.14), 3: (0.06, 0.40, 0.01, 0.10)}, 2)
UNSTABLE_RULE = "fallback: no k was stable enough; best silhouette × ARI mean"


def test_stability_state_and_sentence():
    assert say.stability_state(STABLE) == "stable" and say.noun("stable") == "personas"
    assert say.stability_sentence(STABLE, PARAMS) == (
        "The 3 personas are stable: bootstrap refits agree at ARI 0.92 on average, 0.85 at worst.")
    # obs 6 / issue 17: no admissible k -> the report says no stable set was found, never "stable"
    assert say.stability_state(UNSTABLE) == "unstable" and say.noun("unstable") == "groups"
    text = say.stability_sentence(UNSTABLE, PARAMS)
    assert text.startswith("No stable set of personas was found: no number of groups from 2 to 8 passes")
    assert "the 2 groups shown are not stable" in text and "ARI 0.08 on average, -0.10 at worst" in text
    assert " stable:" not in text and text.count(".") == text.count("0.") + 1  # one sentence
    # a fixed k that fails the bar
    fixed = _scores({3: (0.2, 0.5, 0.2, 0.2)}, 3)
    assert "the 3 groups asked for (k = 3) do not pass" in say.stability_sentence(fixed, {**PARAMS, "k": 3})
    # no bootstrap: unchecked, and no NaN reaches the text
    unchecked = _scores({3: (0.2, np.nan, np.nan, 0.2)}, 3)
    assert say.stability_state(unchecked) == "unchecked"
    t = say.stability_sentence(unchecked, {**PARAMS, "k": 3})
    assert "not checked" in t and not problems(t)
    assert say.k_title(unchecked) == "3 groups: silhouette 0.20, stability not checked"


def test_k_title_and_sentence():
    assert say.k_title(STABLE) == "3 personas: silhouette 0.35, refits agree at ARI 0.92 on average (worst 0.85)"
    assert say.k_title(UNSTABLE).startswith("2 groups: ")
    assert say.k_sentence(UNSTABLE, ["aov", "sessions_per_30d"], ["plan"], rule=UNSTABLE_RULE) == (
        "**k = 2** (fallback: no k was stable enough; best silhouette × ARI mean). Clustered on 2 numeric "
        "feature(s) and 1 categorical attribute(s): aov, sessions_per_30d, plan.")


def test_excluded_sentence():
    assert say.excluded_sentence({"customer_zip_code_prefix": "id"}) == (
        "Left out of the features: customer_zip_code_prefix (an identifier or code, not a quantity).")
    assert say.excluded_sentence({"a": "id", "status": "outcome", "b": "id"}) == (
        "Left out of the features: a (an identifier or code, not a quantity), status (it restates the outcome) "
        "and b (an identifier or code, not a quantity).")
    assert say.excluded_sentence({}) is None


def test_journey_title_never_ranks_a_tie_or_repeats_a_persona():
    sizes = {"Occasional buyers": 600, "Loyal": 300, "Browsers": 100}
    # obs 6: "100% of Occasional buyers reach ordered, 100% of Occasional buyers" (everyone converts)
    all_same = pd.DataFrame({"ordered": [1.0, 1.0, 1.0]}, index=list(sizes))
    assert say.journey_title(all_same, "ordered", sizes) == "Every persona reaches ordered at the same rate (100%)"
    one = pd.DataFrame({"ordered": [1.0]}, index=["Occasional buyers"])
    assert "Occasional buyers" not in say.journey_title(one, "ordered", {"Occasional buyers": 600})
    j = pd.DataFrame({"purchase": [0.62, 0.31, 0.45]}, index=list(sizes))
    assert say.journey_title(j, "purchase", sizes) == "62% of Occasional buyers reach purchase, against 31% of Loyal"
    # a tie for the top: only the bottom is named
    tie = pd.DataFrame({"purchase": [0.62, 0.62, 0.45]}, index=list(sizes))
    assert say.journey_title(tie, "purchase", sizes) == "Browsers reach purchase least often (45%)"
    # the extreme persona is too small to name: the ranking is among the others
    small = {"Occasional buyers": 600, "Loyal": 300, "Browsers": 12}
    j2 = pd.DataFrame({"purchase": [0.62, 0.31, 0.95]}, index=list(small))
    assert "Browsers" not in say.journey_title(j2, "purchase", small)
    # both ends print alike at 0 digits: one decimal; alike at one decimal: neutral
    close = pd.DataFrame({"purchase": [0.999, 0.996]}, index=["A", "B"])
    assert say.journey_title(close, "purchase", {"A": 50_000, "B": 50_000}) == ("99.9% of A reach purchase, "
                                                                              "against 99.6% of B")
    # the same two rates over 50 customers each are within chance: no most/least
    assert say.journey_title(close, "purchase", {"A": 50, "B": 50}) == "Share of each persona's customers reaching each stage"
    same = pd.DataFrame({"purchase": [1.0, 0.9996]}, index=["A", "B"])
    assert say.journey_title(same, "purchase", {"A": 50, "B": 50}) == "Share of each persona's customers reaching each stage"
    # no conversion stage declared, and unstable groups
    assert say.journey_title(j, None, sizes, state="unstable") == "Share of each group's customers reaching each stage"


def test_heatmap_title_ties_and_small_groups():
    z = pd.DataFrame({"aov": [1.2, -1.2], "channel_share_email": [0.3, -0.3]}, index=["A", "B"])
    # two equal groups: every z is ± the same, so no persona may be named, only the feature
    assert say.heatmap_title(z, ["aov", "channel_share_email"], {"A": 100, "B": 100}) == (
        "The personas differ most on order value (up to 1.2 SD from the average)")  # words, not column names
    z2 = pd.DataFrame({"aov": [0.4, -1.6], "channel_share_email": [2.1, -0.3]}, index=["A", "B"])
    assert say.heatmap_title(z2, ["aov", "channel_share_email"], {"A": 100, "B": 100}) == (
        "A stand out most on share of email visits (+2.1 SD)")
    # A is too small to name: B's strongest trait instead
    assert say.heatmap_title(z2, ["aov", "channel_share_email"], {"A": 5, "B": 100}) == "B stand out most on order value (-1.6 SD)"
    zero = pd.DataFrame({"aov": [0.0, 0.0]}, index=["A", "B"])
    assert say.heatmap_title(zero, ["aov"], {"A": 100, "B": 100}, state="unstable") == (
        "How each of the 2 groups differs from the average customer (in standard deviations)")


def _cards(rev_share, share=(0.5, 0.3, 0.2), customers=(500, 300, 200)):
    return pd.DataFrame({"name": ["A", "B", "C"], "customers": list(customers), "share": list(share),
                         "revenue_share": list(rev_share), "conversion_rate": [0.4, 0.2, np.nan],
                         "preferred_channels": ["email, search", "social, display", ""],
                         "pain_point": ["stalls at consideration (40%)", "stalls at awareness (70%)", None],
                         "churn_rate": [0.1, 0.5, 0.3]})


def test_cards_title_and_lines():
    assert say.cards_title(_cards([0.7, 0.2, 0.1]), has_revenue=True) == "A: 50% of customers bring 70% of revenue"
    # a tie for the largest revenue share: no leader
    assert say.cards_title(_cards([0.4, 0.4, 0.2]), has_revenue=True) == "The 3 personas: size and revenue share"
    # no revenue in the log: never "bring 0% of revenue"; the largest group instead
    t = say.cards_title(_cards([0.0, 0.0, 0.0]), has_revenue=False, state="unstable")
    assert t == "A: 50% of customers, the largest of the groups" and "revenue" not in t
    lines = say.card_lines(_cards([0.0, 0.0, 0.0]), has_revenue=False, inactive_window="90D")
    assert lines[0] == ("- **A**: 50% of customers, 40% convert at least once; come through email, search; "
                        "stalls at consideration (40%); 10% inactive for 90 days.")
    assert lines[2] == "- **C**: 20% of customers; 30% inactive for 90 days."  # NaN and empty parts left out
    assert all("revenue" not in line for line in lines)
    with_rev = say.card_lines(_cards([0.7, 0.2, 0.1]), has_revenue=True)
    assert with_rev[0].startswith("- **A**: 50% of customers, 70% of revenue, 40% convert")
    assert not any(problems(line) for line in lines + with_rev)


def test_map_title_and_data_sentence():
    assert say.map_title(4, [0.3, 0.12]) == "4 personas on the two main axes of variation (42% of the variance shown)"
    assert say.map_title(2, [np.nan, 0.1], state="unstable") == "2 groups on the two main axes of variation"
    assert say.data_sentence(1500, 7532, 23, has_customers=False, has_feedback=True) == (
        "**Data:** 1,500 customers with 7,532 events; 23 features per customer (no customer table: behaviour only).")


def test_two_rates():
    assert say.two_rates(0.5, 0.25) == ("50%", "25%")
    assert say.two_rates(0.5, 0.5) is None
    with pytest.raises(ValueError):
        say.two_rates(np.nan, 0.5)


def _result(scores, rule, *, state_kind="kmeans", tried=("kmeans",)):
    from types import SimpleNamespace

    return SimpleNamespace(scores_=scores, rule_=rule, tried_=tried, k_=int(scores.index[scores["chosen"]][0])
                           if scores["chosen"].any() else 5, kind_=state_kind, names_=["A", "B", "C"],
                           silhouette_=0.35, stability_={"ari_mean": 0.92, "ari_min": 0.85}, params=PARAMS,
                           columns_={"numeric": ["aov"], "categorical": ["plan"]})


def test_k_metrics_and_findings():
    r = _result(STABLE, "admissible: highest silhouette × bootstrap ARI mean")
    assert say.fit_state(r) == "stable"
    assert say.k_metrics(r) == {"n_personas": 3, "persona_kind": "kmeans", "persona_names": ["A", "B", "C"],
                                "personas_stable": True, "silhouette": 0.35, "stability_ari_mean": 0.92,
                                "stability_ari_min": 0.85}
    assert say.k_findings(r, has_revenue=True) == (
        "**k = 3** (admissible: highest silhouette × bootstrap ARI mean). Clustered on 1 numeric feature(s) and "
        "1 categorical attribute(s): aov, plan.\n\n"
        "The 3 personas are stable: bootstrap refits agree at ARI 0.92 on average, 0.85 at worst.")
    rfm = STABLE.assign(admissible=False, chosen=False)
    r = _result(rfm, "rfm: no k passed the stability bar with k-means or a Gaussian mixture",
                tried=("kmeans", "gmm"))
    assert say.fit_state(r) == "rfm" and say.k_metrics(r)["persona_kind"] == "rfm_segments"
    assert say.k_metrics(r)["personas_stable"] is False
    parts = say.k_findings(r, has_revenue=False).split("\n\n")
    assert len(parts) == 3 and "with k-means or a Gaussian mixture passes" in parts[1]
    assert parts[2].startswith("These are RF segments")
    assert say.k_title(rfm, rule=r.rule_).startswith("No number of personas is stable")


def test_summary_puts_stability_first_only_when_not_stable():
    cards = _cards([0.7, 0.2, 0.1])
    stable = say.summary(_result(STABLE, "x"), cards, has_revenue=True).split("\n")
    assert len(stable) == 4 and stable[0].startswith("- **A**: 50% of customers, 70% of revenue")
    assert stable[-1] == "- The 3 personas are stable: bootstrap refits agree at ARI 0.92 on average, 0.85 at worst."
    unstable = say.summary(_result(UNSTABLE, UNSTABLE_RULE), cards, has_revenue=True,
                           inactive_window="30D").split("\n")
    assert unstable[0].startswith("- No stable set of personas was found") and len(unstable) == 4
    assert unstable[1].endswith("10% inactive for 30 days.")


def test_section_metrics_and_sentences():
    from types import SimpleNamespace

    data = SimpleNamespace(events=pd.DataFrame({"x": range(7532)}), customers=None, feedback=pd.DataFrame())
    features = pd.DataFrame(np.zeros((1500, 23)))
    assert say.inputs_findings(data, features, {}) == (
        "**Data:** 1,500 customers with 7,532 events; 23 features per customer (no customer table: behaviour only).")
    two = say.inputs_findings(data, features, {"zip": "id"}).split("\n\n")
    assert two[1] == "Left out of the features: zip (an identifier or code, not a quantity)."
    assert say.inputs_metrics({"zip": "id"}) == {"features_left_out": {"zip": "id"}}
    m = say.cards_metrics(_cards([0.7, 0.2, 0.1]))["personas"]
    assert [p["name"] for p in m] == ["A", "B", "C"] and m[0]["revenue_share"] == 0.7
    assert m[1]["conversion_rate"] == 0.2 and np.isnan(m[2]["conversion_rate"])
    assert say.assignments_sentence(1234, "p.csv") == "Wrote 1,234 assignments to `p.csv` in the output folder."
