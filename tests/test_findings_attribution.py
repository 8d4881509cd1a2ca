"""Sentences and titles of 02 (cjlib.findings.attribution) and the report helpers of cjlib.attribution, on
hand-made frames: ties, tiny counts, zero denominators, NaN, missing roles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjlib import attribution as A
from cjlib import effects as E
from cjlib.findings import attribution as F
from cjlib.findings import problems


def _attributed(rows: dict, models=("last_touch", "markov")) -> pd.DataFrame:
    return pd.DataFrame(rows, index=pd.Index(list(models), name="model")).T.rename_axis("channel")


def _sa(rows, p=None, skipped=()):
    """A StageAttribution; rows: (transition, channel, conversions, touches)."""
    df = pd.DataFrame(rows, columns=["transition", "channel", "conversions", "touches"])
    g = df.groupby("transition", sort=False)
    df["share"] = df["conversions"] / g["conversions"].transform("sum")
    df["conversion_rate"] = df["conversions"] / df["touches"]
    df["lift"] = df["conversion_rate"] / (g["conversions"].transform("sum") / g["touches"].transform("sum"))
    return A.StageAttribution(df, p or {t: 0.5 for t in df["transition"].unique()}, tuple(skipped), "markov")


# ---------------------------------------------------------------------------------------------- models
def test_model_title_names_the_leader_only_when_earned():
    att = _attributed({"email": [60.0, 70.0], "search": [40.0, 30.0]})
    assert F.model_title(att, ["last_touch", "markov"], 100) == (
        "email earns the most conversions under every model (60–70 of 100); models disagree most on search (1.3×)")
    # a tie in the mean: no leader
    tie = _attributed({"email": [60.0, 40.0], "search": [40.0, 60.0]})
    assert F.model_title(tie, ["last_touch", "markov"], 100) == "Attributed conversions per channel under each model"
    # a handful of conversions: nothing is ranked
    few = _attributed({"email": [6.0, 7.0], "search": [4.0, 3.0]})
    assert F.model_title(few, ["last_touch", "markov"], 10) == "Attributed conversions per channel under each model"
    # a channel with no last-touch credit gives no ratio (no ×inf), and one under 30 conversions none either
    zero = _attributed({"email": [100.0, 70.0], "display": [0.0, 30.0]})
    assert F.model_title(zero, ["last_touch", "markov"], 100) == (
        "email earns the most conversions under every model (70–100 of 100)")


def test_markov_lines_against_last_touch_and_guards():
    table = pd.DataFrame({"removal_effect": [0.5, 0.2], "conversions": [60.0, 40.0]},
                         index=pd.Index(["email", "display"], name="channel"))
    mk = A.MarkovChain(table, p_conversion=0.4, n_states=3, horizon=3, order=1)
    att = _attributed({"email": [70.0, 60.0], "display": [30.0, 40.0]})
    lines = F.markov_lines(mk, att, models=["last_touch", "markov"], order=1)
    assert lines[0] == ("- The Markov chain (order 1, 3 states) converts **40.0%** of journeys from the start; "
                        "without **email** it would convert 20.0% (removal effect 50.0%).")
    assert lines[1] == ("- Against last touch, Markov credits **display** 1.33× (30 → 40: it assists journeys others "
                        "close) and **email** 0.86× (70 → 60: it closes journeys others open).")
    # tied removal effects and a channel under 30 last-touch conversions: neither is named
    mk2 = A.MarkovChain(table.assign(removal_effect=[0.3, 0.3]), p_conversion=0.4, n_states=3, horizon=3, order=1)
    att2 = _attributed({"email": [90.0, 80.0], "display": [10.0, 20.0]})
    assert F.markov_lines(mk2, att2, models=["last_touch", "markov"], order=1) == [
        "- The Markov chain (order 1, 3 states) converts **40.0%** of journeys from the start.",
        "- Against last touch, Markov credits **email** 0.89× (90 → 80: it closes journeys others open)."]
    mk3 = A.MarkovChain(table, p_conversion=float("nan"), n_states=3, horizon=3, order=1)
    assert F.markov_lines(mk3, att, models=["markov"], order=1) == []


def test_transition_title_needs_journeys_and_no_tie():
    tm = pd.DataFrame({"channel_from": ["(start)", "(start)", "a", "a", "b", "b"],
                       "channel_to": ["a", "b", "(conversion)", "(null)", "(conversion)", "(null)"],
                       "count": [60, 40, 30, 30, 10, 30]})
    tm["transition_probability"] = tm["count"] / tm.groupby("channel_from")["count"].transform("sum")
    assert F.transition_title(tm) == ("Journeys convert most often straight after a (50%) and least after b (25%); "
                                      "60% start with a")
    small = tm.assign(count=tm["count"] // 10)
    assert F.transition_title(small) == "Transition probabilities between channels (first-order chain)"


# ---------------------------------------------------------------------------------------------- stages
def test_stage_titles_and_lines():
    sa = _sa([("a>b", "email", 40.0, 100), ("a>b", "display", 10.0, 100),
              ("b>c", "email", 20.0, 50), ("b>c", "display", 20.0, 150),
              ("c>d", "email", 2.0, 200), ("c>d", "display", 1.0, 200)], skipped=["d>e"])
    # b>c ties on share, c>d has 3 conversions: only a>b is earned
    assert F.stage_share_title(sa) == "email earns the largest share of a → b"
    assert F.stage_lift_title(sa, "b>c", min_touches=100) == (
        "Attributed conversions per touch, against each transition's average")  # email has 50 touches
    assert F.stage_lift_title(sa, "b>c", min_touches=50) == (
        "Per touch, email moves customers from b → c most (2.00× the average) and display least (0.67×)")
    lines = F.stage_lines(sa, min_touches=100)
    assert lines == [
        "- **a → b** (50% of the customers at a with a touch move on): email earns 80% of the credit; per touch, "
        "email moves customers forward most (1.60× the average) and display least (0.40×).",
        # 40 conversions are enough to share, but email and display earn 20 each and only display has 100 touches
        "- **b → c** (50% of the customers at b with a touch move on): no channel earns materially more of the credit "
        "than every other.",
        "- **c → d** (50% of the customers at c with a touch move on): 3 attributed conversions, too few to compare "
        "channels.",
        "- d → e: no customer with a touch moves on, so it is not attributed."]
    assert not any(problems(x) for x in lines)


def test_stage_share_title_counts_only_earned_transitions():
    sa = _sa([("a>b", "email", 40.0, 100), ("a>b", "display", 10.0, 100),
              ("b>c", "email", 30.0, 100), ("b>c", "display", 5.0, 100),
              ("c>d", "email", 1.0, 100), ("c>d", "display", 2.0, 100)])
    assert F.stage_share_title(sa) == (
        "email earns the largest share of every transition with 30 or more attributed conversions (2 of 3)")
    sa2 = _sa([("a>b", "email", 40.0, 100), ("a>b", "display", 10.0, 100),
               ("b>c", "email", 30.0, 100), ("b>c", "display", 5.0, 100),
               ("c>d", "email", 10.0, 100), ("c>d", "display", 30.0, 100), ("d>e", "email", 1.0, 100)])
    assert F.stage_share_title(sa2) == (
        "email earns the largest share of 2 of the 3 transitions with 30 or more attributed conversions; display "
        "of c → d")


# ---------------------------------------------------------------------------------------------- effects
def test_effects_title_and_lines():
    shown = pd.DataFrame({"transition": ["a > b"] * 3, "channel": ["email", "display", "social"],
                          "sessions": [200, 300, 150], "advanced": [50, 20, 30], "rate": [0.25, 0.07, 0.2],
                          "effect": [1.5, 0.5, 1.0], "effect_unadjusted": [2.0, 0.4, 1.1],
                          "lower": [1.2, 0.3, np.nan], "upper": [1.8, 0.7, np.nan]})
    assert F.effects_title(shown, "a > b", "4 personas") == (
        "Adjusted for 4 personas, a visit from email moves customers from a to b 1.50× as often as average; one "
        "from display 0.50×")
    assert F.effects_title(shown, "a > b", E.NO_ADJUSTMENT).startswith("A visit from email")
    lines = F.effects_lines(shown, ["a > b"], ["b > c"], min_sessions=100)
    assert lines[0] == ("- **a → b**: email 1.50× (1.20–1.80), display 0.50× (0.30–0.70); unadjusted email 2.00×, "
                        "display 0.40×.")
    assert "b → c" in lines[1]
    tie = shown.assign(effect=[1.0, 1.0, 1.0])
    assert F.effects_title(tie, "a > b", "x").startswith("How often a visit")
    assert F.effects_lines(tie, ["a > b"], [], min_sessions=100, adjusted_by="4 personas") == [
        "- **a → b**: no channel's visits move customers on materially more or less often than another's (1.00×); "
        "unadjusted, email 2.00× and display 0.40×: the gap comes from which customers use each channel."]
    assert "compared with visits by similar customers" not in F.effects_method(E.NO_ADJUSTMENT)
    assert "4 personas" in F.effects_method("4 personas")


# ---------------------------------------------------------------------------------------------- contribution
def test_contribution_title_needs_30_conversions_and_a_leader():
    c = pd.DataFrame({"stage": ["awareness", "consideration", "(other)"], "conversions": [10.0, 25.0, 5.0]})
    c["share"] = c["conversions"] / 40
    assert F.contribution_title(A.StageContribution(c, 40.0, False, "markov"), "markov") == (
        "Consideration touchpoints earn 62% of the attributed conversions (markov)")
    few = c.assign(conversions=c["conversions"] / 20)  # about one attributed conversion per bar
    assert F.contribution_title(A.StageContribution(few, 2.0, False, "markov"), "markov") == (
        "Attributed conversions by the stage of the touchpoint (markov)")
    tied = A.StageContribution(c.copy(), 40.0, True, "markov")
    assert F.contribution_title(tied, "markov").startswith("Attributed conversions by")
    other = c.assign(conversions=[5.0, 5.0, 30.0])
    assert F.contribution_title(A.StageContribution(other, 40.0, False, "linear"), "linear").startswith(
        "Touchpoints of no stage earn 75%")
    empty = A.StageContribution(c.iloc[:0], 0.0, False, "markov")
    assert F.contribution_title(empty, "markov").startswith("Attributed conversions by")


def test_stage_contribution_empty_and_tied_events():
    ev = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "b"],
                       "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-01",
                                                    "2025-01-02"]),
                       "event": ["page_view", "product_view", "purchase", "page_view", "product_view"]})
    c = A.stage_contribution(ev, model="markov")
    # every converting path holds both events: each earns the same, and the flag says so
    assert c.events_tied and c.conversions == 1.0
    none = A.stage_contribution(ev[ev["event"] != "purchase"], model="markov")
    assert none.table.empty and none.conversions == 0.0


# ---------------------------------------------------------------------------------------------- costs
def _cpc():
    att = pd.DataFrame({"markov": [100.0, 40.0, 5.0, 50.0], "markov_value": [1000.0, 200.0, 50.0, 0.0]},
                       index=pd.Index(["email", "search", "display", "direct"], name="channel"))
    costs = pd.DataFrame({"channel": ["email", "search", "display"], "spend": [100.0, 400.0, 500.0]})
    return A.cost_per_conversion(att, costs)


def test_cost_title_and_finding_skip_tiny_channels():
    cpc = _cpc()
    # display: 5 conversions for 500 of spend, 100.00 each: dearer than search even had it earned 30 (16.67 each)
    assert F.cost_title(cpc, "markov") == (
        "Under markov attribution, a conversion from email costs 1.00; from display 100.00 (100×, 5 attributed "
        "conversions)")
    assert F.cost_finding(cpc, "markov", has_revenue=True) == (
        "**Costs:** 1,000 spent on 3 paid channels (direct carries no spend). Return on spend (attributed revenue ÷ "
        "spend, markov) is highest for email (10.0×); the lowest cannot be named: display has too few attributed "
        "conversions to place.")
    assert F.cost_finding(cpc, "markov", has_revenue=False) == (
        "**Costs:** 1,000 spent on 3 paid channels (direct carries no spend).")
    one = cpc[cpc["channel"].isin(["email", "display"])]
    assert F.cost_title(one, "markov") == "Spend per attributed conversion, by channel and model"
    tab = A.cost_table(cpc, "markov")
    assert tab.loc["search", "spend"] == 400 and tab.loc["search", "cost/conv. markov"] == 10.0
    assert tab.loc["email", "return on spend (markov)"] == 10.0


# ---------------------------------------------------------------------------------------------- journeys, summary
def test_journey_summary_and_sentences():
    t = pd.DataFrame({"path": [A.join_path(["Email > News", "b"]), "b", "a > b > c"],
                      "conversions": [3.0, 1.0, 0.0], "nulls": [0.0, 2.0, 2.0]})
    js = A.journey_summary(t)
    assert js.loc["converting"].to_dict() == pytest.approx(
        {"journeys": 4, "distinct paths": 2, "mean touches": 1.75, "median touches": 2, "one-touch share": 0.25})
    assert js.loc["not converting", "mean touches"] == 2.0
    text = F.journeys_finding(js, A.JourneyPaths(t, 2), touch_col="channel", window="30D")
    assert text == ("**8 journeys** from the log: 4 end in a conversion and 4 do not (50.0% convert), over 3 distinct "
                    "paths of channel touches. Converting journeys have 1.8 touches on average, the others 2.0. 2 "
                    "conversions had no touch within 30D and are left out.")
    assert F.journeys_title(js) == "Converting journeys have fewer touches (1.8 against 2.0 on average)"
    only_conv = A.journey_summary(t.assign(nulls=0.0))
    assert np.isnan(only_conv.loc["not converting", "mean touches"])
    assert "on average" not in F.journeys_finding(only_conv, A.JourneyPaths(t, 0), touch_col="channel", window="30D")
    assert F.journeys_title(only_conv) == "Touches per journey, converting and not converting"
    assert F.summary_lines(js=js) == ["- 8 journeys, 50.0% converting."]
    assert F.summary_lines() == []


def test_data_sentence_without_conversions_or_touches():
    s = {"events": 1000, "customers": 50, "first_event": "2025-01-01T00:00", "last_event": "2025-02-01T00:00"}
    kw = dict(conversion_events=["purchase", "renewal"], touch_col="channel", window="30D", markov_order=1,
              n_bootstrap=10)
    assert F.data_sentence(s, has_touch=False, has_conversions=False, **kw) == (
        "**Data:** 1,000 events from 50 customers, 2025-01-01 to 2025-02-01.")
    assert F.data_sentence(s, has_touch=False, has_conversions=True, **kw).endswith(
        "Conversions are purchase or renewal events.")


# ---------------------------------------------------------------------------------------------- helpers
def test_report_helpers():
    assert A.parse_models("markov, time_decay,markov") == ["markov", "time_decay"]
    with pytest.raises(ValueError, match="comma-separated list"):
        A.parse_models("markov,lasso")
    ev = pd.DataFrame({"customer_id": ["a"], "timestamp": pd.to_datetime(["2025-01-01"]), "event": ["x"],
                       "source": ["email"]})
    assert "no `medium` column" in A.touch_problem(ev, "medium")
    assert "one value" in A.touch_problem(ev, "source")
    assert A.touch_problem(pd.concat([ev, ev.assign(source="ads")]), "source") == ""
    assert A.focus_transition(["a > b", "b > purchase", "purchase > c"], "purchase") == "b > purchase"
    assert A.focus_transition([], "purchase") is None
    eff = pd.DataFrame({"transition": ["x"] * 3 + ["y"] * 2, "channel": ["a", "b", "c", "a", "b"],
                        "sessions": [200, 150, 20, 300, 300], "advanced": [10, 5, 3, 4, 0]})
    shown, moving, skipped = E.shown_effects(eff, 100, min_advanced=15)
    assert moving == ["x"] and skipped == ["y"] and shown["channel"].tolist() == ["a", "b"]


def test_adjustment_falls_back_with_a_reason():
    ev = pd.DataFrame({"customer_id": ["a", "b"], "device": ["m", "d"]})
    assert E.adjustment(ev, "").by is None and E.adjustment(ev, "").note == ""
    assert E.adjustment(ev, "device").by == "device"
    with pytest.raises(ValueError, match=r"by \(the report's adjust_for\) must be"):
        E.adjustment(ev, "plan")
    tiny = E.adjustment(ev, "persona", features=pd.DataFrame({"x": [1.0, 2.0]}, index=["a", "b"]))
    assert tiny.by is None and tiny.label == E.NO_ADJUSTMENT and "fewer than 100" in tiny.note
    flat = pd.DataFrame({"orders": np.ones(150)}, index=[f"c{i}" for i in range(150)])
    bad = E.adjustment(ev, "persona", features=flat)  # constant features: fit_personas refuses
    assert bad.by is None and "cannot be fitted" in bad.note


# ---------------------------------------------------------------------------------------------- ties, ratio 1.0
def test_equal_models_print_one_number_and_say_they_agree():
    # every customer keeps one channel: every model gives the same credit, and two channels tie for the top
    att = _attributed({"organic": [161.0, 161.0 + 1e-12], "paid_search": [161.0, 161.0 - 1e-12],
                       "social": [55.0, 55.0], "direct": [18.0, 18.0]})
    assert F.model_title(att, ["last_touch", "markov"], 395) == "Every model gives each channel the same credit"
    assert F.summary_lines(attributed=att, models=["last_touch", "markov"]) == []
    # a clear leader whose range has equal ends prints one number, and no disagreement is claimed
    lead = _attributed({"organic": [200.0, 200.0], "social": [55.0, 55.0]})
    assert F.model_title(lead, ["last_touch", "markov"], 255) == (
        "organic earns the most conversions under every model (200 of 255); every model gives each channel the "
        "same credit")
    assert F.summary_lines(attributed=lead, models=["last_touch", "markov"]) == [
        "- **organic** earns the most conversions under every model (200 of 255)."]
    # 1.04× and a 3-conversion spread: alike, not "disagree most"
    near = _attributed({"organic": [200.0, 203.0], "social": [55.0, 57.0]})
    assert F.model_title(near, ["last_touch", "markov"], 255) == (
        "organic earns the most conversions under every model (200–203 of 255); the models differ by less than 10% "
        "(or 5 conversions) on every channel")
    # a leader 4% ahead of the runner-up is not "the most"
    close = _attributed({"organic": [100.0, 100.0], "search": [96.0, 96.0]})
    assert F.model_title(close, ["last_touch", "markov"], 196) == "Every model gives each channel the same credit"


def test_markov_against_last_touch_needs_a_material_difference():
    table = pd.DataFrame({"removal_effect": [0.3425531914893618, 0.3425531914893616], "conversions": [161.0, 161.0]},
                         index=pd.Index(["organic", "paid_search"], name="channel"))
    mk = A.MarkovChain(table, p_conversion=0.453, n_states=4, horizon=3, order=1)
    same = _attributed({"organic": [161.0, 161.0], "paid_search": [161.0, 161.0 - 1e-9]})
    # tied removal effects (equal up to float noise): nobody is "the" channel without which…; equal credit assists nothing
    assert F.markov_lines(mk, same, models=["last_touch", "markov"], order=1) == [
        "- The Markov chain (order 1, 4 states) converts **45.3%** of journeys from the start.",
        "- Markov gives every channel the same credit as last touch."]
    # 1.05× (+3): alike, not "assists"
    near = _attributed({"organic": [60.0, 63.0], "paid_search": [100.0, 97.0]})
    assert F.markov_lines(mk, near, models=["last_touch", "markov"], order=1)[1] == (
        "- Markov and last touch differ by less than 10% (or 5 conversions) on every channel.")
    # ≥ 1.1× but only 4 conversions more: not named either way
    small_gap = _attributed({"organic": [35.0, 39.0], "paid_search": [100.0, 96.0]})
    assert not any("assists" in x or "closes" in x for x in
                   F.markov_lines(mk, small_gap, models=["last_touch", "markov"], order=1))


def test_stage_lifts_and_shares_are_not_ranked_from_near_ties():
    sa = _sa([("a>b", "email", 50.0, 200), ("a>b", "display", 48.0, 200),   # lift 1.02 vs 0.98, shares 51/49 %
              ("b>c", "email", 60.0, 200), ("b>c", "display", 60.0, 200),   # exact tie
              ("c>d", "email", 80.0, 200), ("c>d", "display", 40.0, 200), ("c>d", "social", 30.0, 50)])
    assert F.stage_lift_title(sa, "a>b", min_touches=100) == (
        "Attributed conversions per touch, against each transition's average")
    lines = F.stage_lines(sa, min_touches=100)
    assert lines[0] == (
        "- **a → b** (50% of the customers at a with a touch move on): no channel earns materially more of the "
        "credit than every other; per touch, no channel moves customers forward materially more than another "
        "(0.98–1.02× the average).")
    assert lines[1] == (
        "- **b → c** (50% of the customers at b with a touch move on): no channel earns materially more of the "
        "credit than every other; per touch, no channel moves customers forward materially more than another "
        "(1.00× the average).")
    # social has the highest lift (0.6 per touch against 150 / 450: 1.80×) but only 50 touches: never named "most"
    assert lines[2] == (
        "- **c → d** (50% of the customers at c with a touch move on): email earns 53% of the credit; per touch, "
        "email moves customers forward most (1.20× the average) and display least (0.60×).")
    assert F.stage_share_title(sa) == "email earns the largest share of c → d"
    assert F.summary_lines(sa=sa, min_touches=100) == [
        "- c → d: email earns the most credit; email moves customers forward most per touch (1.20×)."]


def _effects(effect, lower, upper, compared=(500, 500, 500), unadjusted=(1.3, 0.8, 1.0)):
    return pd.DataFrame({"transition": ["checkout > buy"] * 3, "channel": ["organic", "paid_search", "social"],
                         "sessions": [500, 500, 500], "advanced": [100, 90, 95], "rate": [0.2, 0.18, 0.19],
                         "effect": effect, "effect_unadjusted": list(unadjusted), "lower": lower, "upper": upper,
                         "compared": list(compared)})


def test_channel_effects_are_named_only_when_material_and_clear_of_one():
    # ratio 1.0: nothing named, one sentence says so, with the unadjusted gap explained by the adjustment
    flat = _effects([1.0, 1.0, 1.0], [1.0, 1.0, 0.98], [1.0, 1.04, 1.02])
    neutral = "How often a visit from each channel moves customers to the next stage, against the average visit"
    assert F.effects_title(flat, "checkout > buy", "5 personas", min_sessions=100) == neutral
    assert F.effects_lines(flat, ["checkout > buy"], [], min_sessions=100, adjusted_by="5 personas") == [
        "- **checkout → buy**: no channel's visits move customers on materially more or less often than another's "
        "(1.00×); unadjusted, organic 1.30× and paid_search 0.80×: the gap comes from which customers use each "
        "channel."]
    # material, but only organic's interval excludes 1: organic named, paid_search (interval 0.7–1.1) not
    mixed = _effects([1.3, 0.9, 1.0], [1.1, 0.7, 0.9], [1.5, 1.1, 1.1])
    assert F.effects_title(mixed, "checkout > buy", "5 personas", min_sessions=100) == (
        "Adjusted for 5 personas, a visit from organic moves customers from checkout to buy 1.30× as often as average")
    assert F.effects_lines(mixed, ["checkout > buy"], [], min_sessions=100, adjusted_by="5 personas") == [
        "- **checkout → buy**: organic 1.30× (1.10–1.50)."]
    # material but every interval includes 1
    wide = _effects([1.3, 0.8, 1.0], [0.9, 0.5, 0.8], [1.7, 1.1, 1.2])
    assert F.effects_title(wide, "checkout > buy", "x", min_sessions=100) == neutral
    assert "no channel's interval excludes" in F.effects_lines(wide, ["checkout > buy"], [], min_sessions=100)[0]


def test_channel_effects_say_once_when_segments_and_channels_coincide():
    # each persona visits through one channel: the adjusted effect (1.00×, interval 1.00–1.00) is not identified
    one = _effects([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0], compared=(0, 0, 0))
    two = pd.concat([one, one.assign(transition="cart > checkout")], ignore_index=True)
    assert F.effects_lines(two, ["cart > checkout", "checkout > buy"], [], min_sessions=100,
                           adjusted_by="5 personas") == [
        "- At every transition, each segment (5 personas) visits through one channel only, so the adjustment "
        "cannot separate what a channel does from who uses it."]
    assert F.effects_title(one, "checkout > buy", "5 personas", min_sessions=100).endswith(
        "adjusted for 5 personas, the channels cannot be told apart from their customers")
    # one transition identified, one not: each says its own
    mixed = pd.concat([one.assign(transition="cart > checkout"),
                       _effects([1.3, 0.7, 1.0], [1.1, 0.5, 0.9], [1.5, 0.9, 1.1])], ignore_index=True)
    lines = F.effects_lines(mixed, ["cart > checkout", "checkout > buy"], [], min_sessions=100, adjusted_by="5 personas")
    assert lines == [
        "- **cart → checkout**: each segment (5 personas) visits through one channel only, so the adjustment cannot "
        "separate what a channel does from who uses it.",
        "- **checkout → buy**: organic 1.30× (1.10–1.50), paid_search 0.70× (0.50–0.90); unadjusted organic 1.30×, "
        "paid_search 0.80×."]


def test_channel_effects_count_sessions_shared_with_another_channel():
    rows = []
    for i in range(6):  # customers c0-c2 are segment s1 and visit by email; c3-c5 are s2 and visit by ads
        ch = "email" if i < 3 else "ads"
        rows += [(f"c{i}", 0, "page_view", ch), (f"c{i}", 1, "product_view", ch)]
    ev = pd.DataFrame(rows, columns=["customer_id", "minute", "event", "channel"])
    ev["timestamp"] = pd.Timestamp("2025-01-01") + pd.to_timedelta(ev["minute"], unit="min")
    ev["seg"] = np.where(ev["customer_id"] < "c3", "s1", "s2")
    eff = E.channel_effects(ev, by="seg", transitions=["awareness>consideration"],
                            stage_map="data/stage_map.yml")
    assert eff["compared"].tolist() == [0, 0]
    mixed = ev.assign(seg="all")
    eff2 = E.channel_effects(mixed, by="seg", transitions=["awareness>consideration"],
                             stage_map="data/stage_map.yml").set_index("channel")
    assert eff2["compared"].to_dict() == {"ads": 3, "email": 3}


def test_channel_sections_left_out_once_for_one_reason():
    no_channel = "The events have no `channel` column with two or more channels."
    groups, covered = F.channel_left_out({"journey summary": no_channel, "model comparison": no_channel,
                                          "transitions": no_channel, "stage attribution": no_channel,
                                          "channel effects": no_channel, "cost per conversion": no_channel})
    assert groups == [("channel attribution (journey summary, model comparison, transitions, stage attribution, "
                       "channel effects, cost per conversion)", no_channel)]
    assert len(covered) == 6
    # different reasons: each section keeps its own
    groups, covered = F.channel_left_out({"journey summary": "", "stage attribution": "", "cost per conversion":
                                          "No channel costs were given."})
    assert groups == [] and covered == set()


# ---------------------------------------------------------------------------------------------- report sections
def test_stage_metrics_by_hand():
    # a>b: email 6 conversions on 60 touches, search 4 on 400 (10 over 460 → average 1/46 a touch)
    sa = _sa([("a>b", "email", 6.0, 60.0), ("a>b", "search", 4.0, 400.0), ("b>c", "email", 1.0, 10.0),
              ("b>c", "search", 2.0, 150.0)], p={"a>b": 0.25, "b>c": 0.1})
    m = F.stage_metrics(sa, min_touches=100)
    assert m["top_channel_by_stage"] == {"a>b": "email", "b>c": "search"}
    # email has fewer than 100 touches: only search can be the most effective
    assert m["most_effective_channel_by_stage"] == {"a>b": "search", "b>c": "search"}
    assert m["stage_attribution"] == {"a>b": {"email": 6.0, "search": 4.0}, "b>c": {"email": 1.0, "search": 2.0}}
    assert m["stage_lift"]["a>b"] == pytest.approx({"email": 0.1 * 46, "search": 0.01 * 46})
    assert m["stage_p_conversion"] == {"a>b": 0.25, "b>c": 0.1}
    assert F.stage_finding(sa, "markov", min_touches=100).startswith("**Stage attribution (markov):**\n- **")


def test_section_metrics_and_reasons():
    assert F.data_metrics({"events": 5, "customers": 2}) == {"n_events": 5, "n_customers": 2}
    js = pd.DataFrame({"journeys": [3.0, 7.0], "mean touches": [2.5, 1.0]},
                      index=pd.Index(["converting", "not converting"], name="journeys"))
    assert F.journeys_metrics(js, pd.DataFrame({"path": ["a", "b"]})) == {"journeys": {
        "converting": 3.0, "not_converting": 7.0, "distinct_paths": 2, "mean_touches_converting": 2.5,
        "mean_touches_not_converting": 1.0}}
    assert F.no_paths_reason(pd.DataFrame({"conversions": [1.0]}), touch_col="channel", window="30D") == ""
    assert F.no_stages_reason(A.StageAttribution(pd.DataFrame(), {}, (), "markov"), touch_col="medium") == (
        "No customer with a `medium` touch moves on at any stage transition of the stage map.")
    assert F.no_effects_reason(["a > b"], min_touches=100) == ""
    assert F.no_contribution_reason(A.StageContribution(pd.DataFrame(), 0.0, False, "markov"), window="14D") == (
        "No conversion has a touchpoint event within 14D before it.")
    assert F.order_note(1) is None and "uses order 2" in F.order_note(2)
    assert F.missing_metrics(paths=True, stages=False) == {"top_channel_by_stage": {}}
    assert F.missing_metrics(paths=True, stages=True) == {}
    assert F.cost_model(["shapley"]) == "shapley"
    cpc = pd.DataFrame({"model": ["m", "m"], "channel": ["x", "y"], "spend": [10.0, np.nan],
                        "cost_per_conversion": [2.0, np.nan], "roi": [3.0, np.nan]})
    assert F.cost_metrics(cpc, has_revenue=False) == {"cost_per_conversion": {"m": {"x": 2.0}}}


def test_model_metrics_and_summary_from_a_comparison():
    from cjlib.attribution import ModelComparison

    att = _attributed({"email": [60.0, 70.0], "search": [40.0, 30.0]})
    table = pd.DataFrame({"conversions": [70.0, 30.0], "removal_effect": [0.8, 0.3]},
                         index=pd.Index(["email", "search"], name="channel"))
    mk = A.MarkovChain(table, p_conversion=0.4, n_states=3, horizon=3, order=1)
    iv = pd.DataFrame({"estimate": [70.0, 30.0], "lower": [60.0, 20.0], "upper": [80.0, 40.0]}, index=table.index)
    c = ModelComparison(att, mk, {"markov": iv}, ("last_touch", "markov"), 100.0)
    m = F.model_metrics(c)
    assert m["attribution"] == {"last_touch": {"email": 60.0, "search": 40.0}, "markov": {"email": 70.0, "search": 30.0}}
    assert m["p_conversion"] == 0.4 and m["removal_effect"] == {"email": 0.8, "search": 0.3}
    assert m["intervals"] == {"markov": {"email": [60.0, 80.0], "search": [20.0, 40.0]}}
    assert F.markov_finding(c, order=1) == "\n".join(F.markov_lines(mk, att, models=c.models, order=1, interval=iv))
    assert F.summary_finding(comparison=c) == "\n".join(F.summary_lines(mk=mk, attributed=att, models=list(c.models)))
    assert F.summary_finding() == "*No finding is earned on this data:* the sections above say why."


def test_leave_out_says_once_what_a_group_shares(monkeypatch):
    from cjlib import report

    said = []
    monkeypatch.setattr(report, "left_out", lambda section, reason: said.append(("left_out", section, reason)))
    monkeypatch.setattr(report, "finding", lambda text: said.append(("finding", text)))
    covered = F.left_out_once({"journey summary": "No channel.", "model comparison": "No channel.",
                               "stage contribution": ""})
    assert covered == {"journey summary", "model comparison"}
    F.leave_out("journey summary", "No channel.", covered)  # covered, and says nothing more
    F.leave_out("model comparison", "No channel.", covered)
    F.leave_out("channel effects", "Too few visits.", covered)
    assert said == [("left_out", "channel attribution (journey summary, model comparison)", "No channel."),
                    ("finding", F.said_above("model comparison")),
                    ("left_out", "channel-effect estimate", "Too few visits.")]
    with pytest.raises(ValueError, match="section must be one of"):
        F.leave_out("heatmap", "x")


def test_persona_and_effects_metrics():
    adj = E.Adjustment("device", "device")
    assert F.persona_metrics(adj) == {}
    assert F.persona_metrics(E.Adjustment(None, "2 personas", names=("A", "B"))) == {"persona_names": ["A", "B"]}
    assert F.effects_intro(E.Adjustment(None, E.NO_ADJUSTMENT, "too few")) == (
        F.effects_method(E.NO_ADJUSTMENT) + " *Note:* too few.")
