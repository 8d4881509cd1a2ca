"""01 on logs unlike the sample (session 28, people3): the mobile game, the content site, the hotel and the
weekly export. Shares never round to 0 % / 100 % they are not; no inactive share on a log too short for its
window; no "buyers" where converting is a newsletter sign-up; no stall of 1 %; no RFM journey title that
restates what a segment is. Every test fails on the code before this change."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_findings_life import content_site, mobile_game

from cjlib.findings import personas as say
from cjlib.io import load_inputs
from cjlib.personas import fit_for_inputs, fit_personas
from cjlib.personas.fitting import _profile
from cjlib.personas.naming import _name_rows, _names
from cjlib.personas.text import is_purchase, percent


def _inputs(params_path):
    folder = params_path.parent
    return load_inputs(events_path=str(folder / "events.parquet"), stage_map_path=str(folder / "stage_map.yml"))


# ---------------------------------------------------------------------------------- 1. <1% and >99%
def test_a_share_that_is_not_zero_or_whole_never_prints_0_or_100_percent():
    # mobile game: "Recent browsers: … 100% of revenue" beside "Typical browsers: … 0% of revenue, 1% convert"
    cards = pd.DataFrame({"name": ["Recent browsers", "Typical browsers"], "customers": [1600, 3400],
                          "share": [0.32, 0.68], "revenue_share": [0.9977, 0.0023],
                          "conversion_rate": [0.04, 0.004], "churn_rate": [0.0, 0.0]})
    lines = say.card_lines(cards, has_revenue=True)
    assert lines[0] == ("- **Recent browsers**: 32% of customers, >99% of revenue, 4% convert at least once; "
                        "0% inactive for 90 days.")
    assert lines[1] == ("- **Typical browsers**: 68% of customers, <1% of revenue, <1% convert at least once; "
                        "0% inactive for 90 days.")  # exactly 0 stays 0%
    assert say.cards_title(cards, has_revenue=True) == "Recent browsers: 32% of customers bring >99% of revenue"
    assert [percent(x) for x in (0.0, 0.004, 0.012, 0.994, 0.996, 1.0)] == ["0%", "<1%", "1%", "99%", ">99%", "100%"]


def test_percent_is_exact_at_the_ends():
    assert percent(0.0) == "0%" and percent(1.0) == "100%"
    assert percent(1e-9) == "<1%" and percent(1 - 1e-9) == ">99%"
    assert percent(0.0004, 1) == "<0.1%" and percent(0.9996, 1) == ">99.9%" and percent(0.123, 1) == "12.3%"


def test_journey_title_says_under_one_percent_not_zero():
    journey = pd.DataFrame({"subscriber": [1.0, 0.003]}, index=pd.Index(["Typical converters", "Drive-by visitors"]))
    sizes = {"Typical converters": 700, "Drive-by visitors": 1700}
    assert say.journey_title(journey, "subscriber", sizes) == ("100% of Typical converters reach subscriber, "
                                                               "against <1% of Drive-by visitors")


def test_mobile_game_cards_print_no_rounded_zero_revenue(tmp_path):
    params = mobile_game(tmp_path, n=2500)
    data = _inputs(params)
    r = fit_for_inputs(data, seed=0)
    cards = r.cards()
    rev = cards["revenue_share"].to_numpy(float)
    lines = say.card_lines(cards, has_revenue=True)
    for share, line in zip(rev, lines):
        if 0 < share < 0.005:
            assert "<1% of revenue" in line
        if 0.995 <= share < 1:
            assert ">99% of revenue" in line
        assert " 0% of revenue" not in line or share == 0
        assert "100% of revenue" not in line or share == 1
    # the planted truth: a few payers (about 3 % of players) hold all revenue
    assert data.events["revenue"].notna().any() and (rev > 0).sum() >= 1


# --------------------------------------------------------------- 2. inactive for 90 days on a 92-day log
def _log(span_days: int, n: int = 60, seed: int = 0) -> pd.DataFrame:
    """n customers over ``span_days``: half visit once early and buy, half visit often; revenue on purchases."""
    rng = np.random.default_rng(seed)
    rows = []
    t0 = pd.Timestamp("2024-01-01")
    for i in range(n):
        if i % 2:
            t = rng.random() * span_days * 0.3
            rows += [(f"c{i:03d}", t0 + pd.Timedelta(days=t), "page_view", np.nan),
                     (f"c{i:03d}", t0 + pd.Timedelta(days=t, minutes=3), "purchase", 40.0)]
        else:
            for v in range(6):
                t = span_days * (v + rng.random()) / 6
                rows.append((f"c{i:03d}", t0 + pd.Timedelta(days=t), "page_view", np.nan))
    rows.append(("c000", t0 + pd.Timedelta(days=span_days), "page_view", np.nan))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "event", "revenue"])


def _fit(events: pd.DataFrame):
    from cjlib.features import customer_features
    from cjlib.io import ensure_sorted

    ev = ensure_sorted(events.assign(event=events["event"].astype("category")))
    from cjlib.stagemap import load_stage_map

    f = customer_features(ev, stage_map=load_stage_map("data/stage_map.yml"))
    return fit_personas(f, k=2, n_boot=0, seed=0), f


def test_no_inactive_share_on_a_log_not_much_longer_than_the_window():
    # mobile game (92 days): "Recent browsers: … 0% inactive for 90 days" — nobody could be inactive that long
    r, f = _fit(_log(92))
    assert 85 < f["tenure_days"].max() <= 92
    cards = r.cards(inactive_window="90D")
    assert cards["churn_rate"].isna().all()
    assert not any("inactive" in line for line in say.card_lines(cards, has_revenue=True))
    # a 30-day window on the same log can be shown: 92 days hold three of them
    short = r.cards(inactive_window="30D")["churn_rate"]
    assert short.notna().all() and 0 < short.max() <= 1
    # a year's log keeps the 90-day share, and it counts who had no event for more than 90 days
    r, f = _fit(_log(365))
    cards = r.cards(inactive_window="90D")
    lab = r.labels_.to_numpy()
    want = [(f["recency_days"].to_numpy()[lab == j] > 90).mean() for j in range(r.k_)]
    assert cards["churn_rate"].tolist() == pytest.approx(want) and max(want) > 0
    assert all("inactive for 90 days" in line for line in say.card_lines(cards, has_revenue=True))


def test_cards_method_says_why_the_inactive_share_is_left_out():
    s = say.cards_method(revenue=True, channel=False, feedback=False, inactive=False)
    assert s == ("A persona sheet for marketing: size and revenue, who they are, what they do most (the stages "
                 "that make up most of their events) and where they stall (the most common furthest stage short "
                 "of the last). The share inactive for 90 days is left out: the log spans less than two such "
                 "windows, so almost nobody could have been inactive that long.")
    assert say.cards_method(revenue=True, channel=False, feedback=False).endswith("(a churn proxy).")


# ------------------------------------------------------------------ 3. no "buyers" on a sign-up site
def _named(groups, *, purchase: bool, rules: bool = False):
    rows, labels = [], []
    for g, (count, n, monetary, sessions) in enumerate(groups):
        for _ in range(count):
            rows.append({"recency_days": 10.0, "n_purchases": n, "monetary": monetary, "tenure_days": 365.0,
                         "sessions_per_30d": sessions, "events_per_session": 3.0})
            labels.append(g)
    f = pd.DataFrame(rows)
    labels = np.asarray(labels)
    k = int(labels.max()) + 1
    z, _ = _profile(f, [], labels, k)
    helper = f.assign(_converted=f["n_purchases"] > 0, _revenue=f["monetary"], _orders=f["n_purchases"])
    return _names(_name_rows(pd.concat({"z": z}, axis=1), helper, labels, k), z, rules=rules, purchase=purchase)


def test_names_say_converters_where_converting_is_not_buying():
    # content site: "Typical buyers: 9% of customers, 100% convert" — the conversion is a newsletter sign-up
    groups = [(20, 1, 0.0, 2.0), (60, 0, 0.0, 2.0)]
    assert _named(groups, purchase=True) == ["Typical buyers", "Typical browsers"]
    assert _named(groups, purchase=False) == ["Typical converters", "Typical browsers"]
    # the planted-style rule "Occasional buyers" (converting, visits rarer than the base's)
    rare = [(20, 1, 0.0, 0.5), (20, 1, 0.0, 4.0), (20, 0, 0.0, 4.0)]
    with_rules = _named(rare, purchase=False, rules=True)
    assert "Occasional converters" in with_rules
    assert not any(w in n.lower() for n in with_rules for w in ("buyer", "bargain", "spender", "shopper"))
    assert "Occasional buyers" in _named(rare, purchase=True, rules=True)


def test_no_value_words_without_purchases():
    # with revenue a low order value is "bargain buyers"; where converting is not buying no value word is used
    groups = [(20, 1, 10.0, 2.0), (20, 1, 200.0, 2.0), (40, 0, 0.0, 2.0)]
    bought = _named(groups, purchase=True)
    assert bought[0] == "Bargain buyers" and bought[1] == "Big spenders"
    signed = _named(groups, purchase=False)
    assert signed[:2] == ["Typical converters", "Typical converters 2"]


def test_is_purchase_reads_revenue_and_the_conversion_names():
    assert not is_purchase(["newsletter_signup", "subscriber"], revenue=False)
    assert is_purchase(["newsletter_signup"], revenue=True)
    assert is_purchase(["iap_purchase", "payer"], revenue=False) and is_purchase(["order_placed"], revenue=False)
    assert is_purchase(["purchase", "buy"], revenue=False) and not is_purchase(["trial_start", ""], revenue=False)


def test_content_site_personas_never_say_buyers(tmp_path):
    params = content_site(tmp_path, n=3000)
    data = _inputs(params)
    r = fit_for_inputs(data, seed=0)
    assert r.params["purchase"] is False
    names = " ".join(r.names_).lower()
    assert "buyer" not in names and "bargain" not in names and "spender" not in names and "shopper" not in names
    # the persona of converters is named for converting (planted: about 6 % of readers sign up)
    conv = r.cards()["conversion_rate"].to_numpy(float)
    assert any("converters" in n for n, c in zip(r.names_, conv) if c >= 0.5) or (conv < 0.5).all()


# ------------------------------------------------------------------------------ 4. a stall of 1 %
def test_a_stall_of_one_percent_is_no_pain_point():
    # weekly export: "Typical buyers: … 100% convert at least once; stalls at purchase (1%)"
    from cjlib.personas.result import MIN_STALL

    rng = np.random.default_rng(1)
    rows = []
    t0 = pd.Timestamp("2024-01-01")
    for i in range(200):  # 100 repeat buyers, one of whom bought once; 100 who browsed to a product page
        c = f"c{i:03d}"
        t = t0 + pd.Timedelta(days=float(rng.random() * 300))
        rows.append((c, t, "page_view", np.nan))
        if i < 100:
            rows.append((c, t + pd.Timedelta(minutes=2), "purchase", 30.0))
            if i != 0:  # and reviewed: the last stage (advocacy)
                rows.append((c, t + pd.Timedelta(days=20), "purchase", 30.0))
                rows.append((c, t + pd.Timedelta(days=21), "review", np.nan))
        else:
            rows.append((c, t + pd.Timedelta(minutes=1), "product_view", np.nan))
    r, f = _fit(pd.DataFrame(rows, columns=["customer_id", "timestamp", "event", "revenue"]))
    cards = r.cards()
    lab = r.labels_.to_numpy()
    stages = list(f["furthest_stage_name"].cat.categories)
    for j in range(r.k_):
        furthest = f["furthest_stage_name"].to_numpy()[lab == j]
        short = pd.Series(furthest[np.isin(furthest, stages[:-1])]).value_counts()
        top = short.max() / (lab == j).sum() if len(short) else 0.0
        if top >= MIN_STALL:
            assert cards.loc[j, "pain_point"] == f"stalls at {short.idxmax()} ({percent(top)})"
        else:
            assert pd.isna(cards.loc[j, "pain_point"])
    assert cards["pain_point"].fillna("-").sort_values().tolist() == ["-", "stalls at consideration (100%)"]
    assert not any("stalls at" in line and "(1%)" in line for line in say.card_lines(cards, has_revenue=True))


# ----------------------------------------------------- 5. an RFM title that restates the definition
def test_rfm_journey_title_does_not_restate_what_prospects_are():
    # hotel: "Prospects reach booked least often (0%)" — a Prospect has not booked, by definition
    journey = pd.DataFrame({"searching": [1.0, 1.0, 1.0], "booked": [0.0, 1.0, 1.0]},
                           index=pd.Index(["Prospects", "Champions", "Lost"], name="persona"))
    sizes = {"Prospects": 5500, "Champions": 300, "Lost": 900}
    title = say.journey_title(journey, "booked", sizes, state="rfm")
    assert "least often" not in title and "most often" not in title and "Prospects" not in title
    assert title == ("Share of each segment's customers reaching each stage (whether they reached booked is how "
                     "the segments are defined, so it is not compared)")
    # k-means personas are compared as before: their conversion is a finding, not a definition
    assert "0% of Prospects" in say.journey_title(journey.iloc[[1, 0]], "booked", sizes, state="stable")


def test_heatmap_title_says_conversions_where_converting_is_not_buying():
    # content site: "Typical converters stand out most on purchases per visit (+2.8 SD)" — a sign-up per visit
    z = pd.DataFrame({"purchases_per_session": [2.8, -0.3], "sessions_per_30d": [0.4, -0.1]},
                     index=pd.Index(["Typical converters", "Drive-by visitors"]))
    sizes = {"Typical converters": 700, "Drive-by visitors": 1700}
    shown = list(z.columns)
    assert say.heatmap_title(z, shown, sizes, purchase=False) == ("Typical converters stand out most on "
                                                                  "conversions per visit (+2.8 SD)")
    assert say.heatmap_title(z, shown, sizes) == "Typical converters stand out most on purchases per visit (+2.8 SD)"
