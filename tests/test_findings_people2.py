"""01 personas follow-ups on the hotel log (tests/test_findings_people.py) and a log where every customer
bought once at the same instant: attributes the clustering leaves out are named, a card's over-represented
level is not called typical, one RFM segment reads in the singular everywhere, and chart text in Chinese
or Arabic gets a font fallback. Every test fails on the code before its fix."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest

TOO_MANY = "30 values, more than the 20 a column may have"


# ================================================================================ the one-segment log
def same_instant(n: int = 80, alone: int = 2) -> pd.DataFrame:
    """A log where every customer bought once at the same instant (the lead's edge case "sametime"): one
    purchase per customer, all at 2025-03-01 12:00, revenue 0; all but ``alone`` customers view a page too.
    k-means can only split off the ``alone`` customers (under 5 %: no k is admissible), and RFM rules put
    every customer in one segment ("Potential loyalists": the same top recency, one purchase)."""
    t = pd.Timestamp("2025-03-01 12:00")
    rows = []
    for i in range(n):
        if i >= alone:
            rows.append((f"u{i}", t, "page_view", 0.0))
        rows.append((f"u{i}", t, "purchase", 0.0))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "event", "revenue"])


def _one_segment(folder):
    """01's fit on the same-instant log, loaded as the report loads it (default stage map)."""
    import cjlib
    from cjlib.personas import fit_for_inputs

    same_instant().to_csv(folder / "sametime.csv", index=False)
    data = cjlib.load_inputs(events_path=str(folder / "sametime.csv"), customers_path="", feedback_path="",
                             costs_path="")
    return fit_for_inputs(data, seed=0)


# ========================================================================= 1. attributes not clustered
def _attribute_features(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Two planted behaviour groups (visits per month 1 vs 8, order value 20 vs 200) and four attributes:
    country (30 values, noise), tier (3 values, noise), a signup date and a constant plan."""
    rng = np.random.default_rng(seed)
    g = np.arange(n) % 2
    return pd.DataFrame({
        "sessions": np.where(g == 0, 3, 24) + rng.integers(0, 2, n), "tenure_days": np.full(n, 90.0),
        "n_purchases": np.where(g == 0, 1, 6), "aov": np.where(g == 0, 20.0, 200.0) + rng.normal(0, 2, n),
        "country": [f"c{j:02d}" for j in rng.integers(0, 30, n)],
        "tier": rng.choice(["none", "silver", "gold"], n),
        "signup": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
        "plan": "basic"}, index=pd.Index([f"c{i}" for i in range(n)], name="customer_id")), g


def test_attributes_left_out_of_clustering_are_named_with_why():
    # hotel: the 30-value country column was silently not clustered (20 levels at most); 01 now says so
    from cjlib.findings.personas import k_findings, k_sentence
    from cjlib.personas import fit_personas

    f, _ = _attribute_features()
    r = fit_personas(f, k=2, n_boot=0, seed=0)
    assert r.left_out_ == {"country": TOO_MANY, "signup": "a date", "plan": "one value"}
    assert "country" not in r.columns_["categorical"] and r.columns_["categorical"] == ["tier"]
    assert not [c for c in r.profile_["z"].columns if str(c).startswith("country=")]
    text = k_findings(r, has_revenue=True)
    assert (f"Not clustered on: country ({TOO_MANY}), signup (a date) and plan (one value)." in text)
    # without anything left out, no such sentence
    rows = pd.DataFrame({"silhouette": [0.5], "ari_mean": [0.9], "ari_min": [0.8], "admissible": [True],
                         "chosen": [True]}, index=pd.Index([2], name="k"))
    assert "Not clustered" not in k_sentence(rows, ["aov"], [], rule="fixed k", left_out={})


def test_a_many_valued_attribute_is_dropped_not_grouped_and_personas_follow_behaviour():
    # the decision: a 30-value column is left out, not cut to its 19 most common levels + "other"; the
    # planted behaviour groups come back exactly, and no persona is made of a country
    from sklearn.metrics import adjusted_rand_score

    from cjlib.personas import fit_personas

    f, g = _attribute_features()
    r = fit_personas(f, k=2, n_boot=0, seed=0)
    assert adjusted_rand_score(g, r.labels_.to_numpy()) == 1.0
    # a column named in include is clustered whatever its number of values (the user asked for it)
    r2 = fit_personas(f, include=["aov", "country"], k=2, n_boot=0, seed=0)
    assert r2.columns_["categorical"] == ["country"] and r2.left_out_ == {}


def test_hotel_log_names_country_as_not_clustered(tmp_path):
    import cjlib
    from cjlib.findings.personas import k_findings
    from cjlib.personas import fit_for_inputs
    from tests.test_findings_people import hotel_bookings

    params = hotel_bookings(tmp_path, n=800)
    data = cjlib.load_inputs(events_path=str(tmp_path / "events.parquet"),
                             customers_path=str(tmp_path / "customers.parquet"),
                             feedback_path=str(tmp_path / "feedback.parquet"), costs_path="",
                             stage_map_path=str(tmp_path / "stage_map.yml"))
    assert params.exists()
    r = fit_for_inputs(data, seed=0, k=2)
    assert r.left_out_ == {"country": TOO_MANY}
    assert r.columns_["categorical"] == ["loyalty_tier"]
    assert f"Not clustered on: country ({TOO_MANY})." in k_findings(r, has_revenue=True)


# ====================================================================== 2. over-represented, not typical
def test_card_level_is_labelled_over_represented_not_typical():
    # hotel: "typical loyalty tier: platinum (21% vs 5% of all)" — platinum is the level most over-represented
    # in Champions, not their most common one; the card and the table now say "over-represented"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cjlib.personas.result import _distinguishing_level
    from cjlib.plots.personas import persona_cards, styled

    # persona 0: 14 none, 6 platinum (30% vs 8/100 = 8% of all); persona 1: 78 none, 2 platinum
    labels = pd.Series([0] * 20 + [1] * 80)
    tier = pd.Series(["none"] * 14 + ["platinum"] * 6 + ["none"] * 78 + ["platinum"] * 2)
    levels = _distinguishing_level(labels, tier, 2)
    assert levels == ["platinum (30% vs 8% of all)", None]  # "none" (70%) is persona 0's most common level

    cards = pd.DataFrame({"name": ["Champions", "Lost"], "customers": [20, 80], "share": [0.2, 0.8],
                          "revenue_share": [0.6, 0.4], "typical_loyalty_tier": levels},
                         index=pd.RangeIndex(2, name="persona"))
    header = list(styled(cards).data.columns)
    assert "over-represented loyalty tier" in header and "typical_loyalty_tier" not in header
    ax = persona_cards(cards)
    texts = [t.get_text() for t in ax.texts]
    assert "over-represented loyalty tier:" in texts and not [t for t in texts if t.startswith("loyalty tier")]
    assert "platinum (30% vs 8% of all)" in texts
    plt.close(ax.figure)


# ================================================================================ 3. one segment (n = 1)
def test_one_rfm_segment_reads_in_the_singular(tmp_path):
    # sametime: "How each of the 1 segments differs …", "The 1 segments: size", "1 segments on the two main
    # axes" — one segment holds every customer, so the titles say that (and why the chart shows nothing apart)
    from cjlib.findings.personas import (
        cards_title,
        heatmap_title,
        journey_title,
        k_findings,
        k_title,
        map_title,
        stability_sentence,
        summary,
    )

    r = _one_segment(tmp_path)
    assert r.kind_ == "rfm" and r.k_ == 1 and r.names_ == ["Potential loyalists"]
    state = "rfm"
    z, shown, sizes = r.profile_["z"], r.profile_columns(), r.sizes()
    assert float(z.abs().max().max()) == 0.0  # the one segment is the average
    assert heatmap_title(z, shown, sizes, state=state) == \
        "One segment holds every customer, so nothing sets it apart from the average customer"
    cards = r.cards()
    assert cards_title(cards, has_revenue=False, state=state) == "One segment holds every customer"
    assert map_title(1, r.explained_variance_ratio_, state=state) == (
        "One segment holds every customer, so the map shows only how customers spread on the two main axes "
        "of variation (100% of the variance shown)")
    assert map_title(1, (), state=state) == ("One segment holds every customer, so the map shows only how "
                                             "customers spread on the two main axes of variation")
    journey = pd.DataFrame({"awareness": [0.5], "purchase": [1.0]}, index=["Potential loyalists"])
    assert journey_title(journey, "purchase", sizes, state=state) == \
        "One segment holds every customer, so this is the share of all customers reaching each stage"
    assert k_title(r.scores_, rule=r.rule_, n_groups=1) == \
        "No number of personas is stable, so customers are shown in one RFM segment"
    one = stability_sentence(r.scores_, r.params, rule=r.rule_, tried=r.tried_, n_groups=1)
    assert one.endswith("so customers are shown in transparent rule-based RFM segments instead, and here every "
                        "customer falls in one segment (definition below).")
    assert stability_sentence(r.scores_, r.params, rule=r.rule_, tried=r.tried_, n_groups=5).endswith(
        "so customers are shown in transparent rule-based RFM segments instead (definitions below).")
    texts = [k_findings(r, has_revenue=False), summary(r, cards, has_revenue=False)]
    assert all("1 segments" not in t and "definitions below" not in t for t in texts)
    assert "every customer falls in one segment (definition below)" in texts[1]


def test_two_or_more_groups_keep_their_plural_titles():
    from cjlib.findings.personas import cards_title, heatmap_title, map_title

    z = pd.DataFrame({"aov": [0.0, 0.0]}, index=["A", "B"])
    assert heatmap_title(z, ["aov"], {"A": 50, "B": 50}, state="rfm") == \
        "How each of the 2 segments differs from the average customer (in standard deviations)"
    assert map_title(2, (0.5, 0.25), state="stable") == \
        "2 personas on the two main axes of variation (75% of the variance shown)"
    cards = pd.DataFrame({"name": ["A", "B"], "customers": [10, 10], "share": [0.5, 0.5]})
    assert cards_title(cards, has_revenue=False, state="unstable") == "The 2 groups: size"


def test_shared_personas_label_singular():
    from cjlib.personas import SharedPersonas

    one = pd.Series(pd.Categorical(["Lost"] * 3, categories=["Lost"], ordered=True))
    two = pd.Series(pd.Categorical(["A", "B"], categories=["A", "B"], ordered=True))
    assert SharedPersonas(one, "rfm", "fit").label == "1 RFM segment"
    assert SharedPersonas(one, "stable", "fit").label == "1 persona"
    assert SharedPersonas(two, "unstable", "fit").label == "2 groups"
    assert SharedPersonas(two, "rfm", "fit").label == "2 RFM segments"


# ==================================================================================== 4. font fallback
def _cjk_installed() -> bool:
    import shutil
    import subprocess

    fc = shutil.which("fc-list")
    if fc is None:
        return False
    out = subprocess.run([fc, ":family=Noto Sans CJK SC"], capture_output=True, text=True).stdout
    return bool(out.strip())


def _draw(text: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cjlib import plots

    ax = plots.new_ax()
    ax.bar([text, "email"], [2, 1])
    plots.finish(ax, f"{text} brings most visits")
    ax.figure.canvas.draw()
    plt.close(ax.figure)


def test_theme_sets_a_font_fallback_without_findfont_warnings(caplog):
    # without any fallback font installed, matplotlib logs "findfont: Font family 'Noto Sans CJK SC' not
    # found." once per family and text size (146 lines for one chart): only those lines are filtered
    import matplotlib

    from cjlib import plots

    with matplotlib.rc_context():  # the theme's settings end with the test (other tests' titles are centred)
        plots.set_theme()
        fam = list(matplotlib.rcParams["font.family"])
        assert fam[0] == "sans-serif" and fam[1:] == list(plots.FONT_FALLBACK)
        assert "Noto Sans CJK SC" in fam and "Noto Sans Arabic" in fam
        with caplog.at_level(logging.WARNING, logger="matplotlib.font_manager"):
            _draw("百度推广")
    assert not [r for r in caplog.records if "findfont" in r.getMessage()
                and any(f in r.getMessage() for f in plots.FONT_FALLBACK)]
    # other font warnings still pass the filter
    record = logging.LogRecord("matplotlib.font_manager", logging.WARNING, __file__, 1,
                               "findfont: Font family %r not found.", ("Comic Sans XYZ",), None)
    assert plots._FONT_FILTER.filter(record)
    record.args = ("Noto Sans CJK SC",)
    assert not plots._FONT_FILTER.filter(record)


@pytest.mark.skipif(not _cjk_installed(), reason="needs fonts-noto-cjk (apt-get install fonts-noto-cjk)")
def test_chinese_channel_name_draws_with_an_installed_cjk_font():
    # with fonts-noto-cjk installed (even after matplotlib cached its font list), no glyph is missing
    import matplotlib
    from matplotlib import font_manager

    from cjlib import plots

    with matplotlib.rc_context(), warnings.catch_warnings(record=True) as caught:
        plots.set_theme()
        assert "Noto Sans CJK SC" in {f.name for f in font_manager.fontManager.ttflist}
        warnings.simplefilter("always")
        _draw("百度推广")
    assert not [w for w in caught if "missing from font" in str(w.message)]


def test_eight_persona_cards_wrap_and_no_label_runs_into_its_value():
    # hotel: eight RFM segments side by side in 18 inches left 2.2 inches a card: "buy at least once:" ran
    # into "100%" and "over-represented loyalty tier:" into "platinum (21% vs 5% of all)"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cjlib.plots.personas import persona_cards

    names = ["Prospects", "Champions", "Loyal customers", "New customers", "Potential loyalists", "At risk",
             "Hibernating", "Lost"]
    cards = pd.DataFrame({"name": names, "customers": [100] * 8, "share": [0.125] * 8,
                          "revenue_share": [0.0] + [1 / 7] * 7, "conversion_rate": [0.0] + [1.0] * 7,
                          "aov": [np.nan] + [412.0] * 7,
                          "typical_loyalty_tier": [None, "platinum (21% vs 5% of all)"] + [None] * 6,
                          "goals": ["searching (84%), stayed (6%)"] * 8, "pain_point": ["stalls at stayed (37%)"] * 8,
                          "preferred_channels": ["ch_11, ch_23"] * 8, "churn_rate": [0.5] * 8})
    ax = persona_cards(cards)
    assert ax.get_ylim() == (0.0, 2.0) and ax.get_xlim() == (0.0, 4.0)  # two rows of four
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_text()]
    labels = [t for t in texts if t.get_text().endswith(":")]
    values = [t for t in texts if not t.get_text().endswith(":") and t.get_text() not in names]
    assert len(labels) >= 8 * 5
    for lab in labels:
        lb = lab.get_window_extent(renderer)
        for val in values:
            vb = val.get_window_extent(renderer)
            assert not lb.overlaps(vb), (lab.get_text(), val.get_text())
    long = next(t for t in labels if t.get_text() == "over-represented loyalty tier:")
    value = next(t for t in values if t.get_text() == "platinum (21% vs 5% of all)")
    assert value.get_position()[1] < long.get_position()[1]  # on the next line
    plt.close(fig)


def test_forty_channel_shares_are_counted_not_listed_in_the_k_sentence():
    # hotel: "Tried clustering on 46 numeric feature(s) …: sessions_per_30d, …, channel_share_ccc…(200 c)…,
    # channel_share_ch_00, … channel_share_百度推广, loyalty_tier." — forty machine names in one sentence
    from cjlib.findings.personas import k_sentence

    rows = pd.DataFrame({"silhouette": [0.1], "ari_mean": [0.5], "ari_min": [0.3], "admissible": [False],
                         "chosen": [False]}, index=pd.Index([2], name="k"))
    chans = [f"channel_share_ch_{i:02d}" for i in range(40)]
    t = k_sentence(rows, ["aov", *chans, "csat_mean"], ["loyalty_tier"], rule="rfm: no k passed",
                   left_out={"country": TOO_MANY})
    assert t == ("Tried clustering on 42 numeric feature(s) and 1 categorical attribute(s): aov, the share of "
                 "visits from each of 40 channels, csat_mean, loyalty_tier. Not clustered on: country "
                 f"({TOO_MANY}).")
    few = k_sentence(rows, ["aov", "channel_share_email", "channel_share_sms"], [], rule="rfm: no k passed")
    assert few.endswith(": aov, channel_share_email, channel_share_sms.")


def test_a_stage_of_none_of_their_events_is_not_what_they_do_most():
    # hotel: Prospects "do most: searching (100%), booked (0%)" — they never booked
    from cjlib.personas import fit_personas

    n = 200
    g = np.arange(n) % 2
    rng = np.random.default_rng(1)
    f = pd.DataFrame({"sessions": np.where(g == 0, 2, 20) + rng.integers(0, 2, n), "tenure_days": 60.0,
                      "n_purchases": np.where(g == 0, 0, 3), "aov": np.where(g == 0, 0.0, 50.0),
                      "share_searching": np.where(g == 0, 1.0, 0.7), "share_booked": np.where(g == 0, 0.0, 0.3)},
                     index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    r = fit_personas(f, k=2, n_boot=0, seed=0)
    goals = dict(zip(r.cards()["conversion_rate"], r.cards()["goals"]))
    assert goals == {0.0: "searching (100%)", 1.0: "searching (70%), booked (30%)"}
