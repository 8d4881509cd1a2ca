"""cjlib.findings.churn: 04's sentences and titles on hand-made frames (unearned calibration, a model
worse than its baselines, near-perfect AUC, noisy importances, flat partial dependence, tied personas,
no BG/NBD)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cjlib.errors import DataError
from cjlib.findings import churn as say
from cjlib.findings import problems


def _metrics(auc: dict, brier=0.10, brier_base=0.16, base=0.2):
    m = pd.DataFrame({"roc_auc": auc}).assign(pr_auc=0.5, brier=brier, brier_base=brier_base, base_rate=base)
    m.index.name = "model"
    return m


def test_calibration_claimed_only_when_earned():
    # issue 16's clickstream: Brier ten times the base rate's, a 73-point gap, yet "calibrated to within 73%"
    t = say.calibration_title(0.73, 0.130, 0.014, "gbm")
    assert "calibrated" not in t and "73.0 percentage points" in t and "no better than always predicting" in t
    assert "calibrated" not in say.calibration_title(0.03, 0.20, 0.16, "gbm")  # small gaps, but worse Brier
    assert "calibrated" not in say.calibration_title(0.06, 0.10, 0.16, "gbm")  # good Brier, a 6-point gap
    assert say.calibration_title(0.05, 0.10, 0.16, "gbm") == "gbm is calibrated to within 5.0 percentage points in every decile"
    assert say.calibration_sentence(0.117, 0.22, 0.25).startswith("Probabilities are not calibrated: a decile is off by up to 11.7")
    assert say.calibration_sentence(0.02, 0.03, 0.06).startswith("Probabilities are calibrated to within 2.0 percentage points")
    assert not say.calibrated(np.nan, 0.1, 0.2)


def test_worse_than_baselines_and_leakage():
    m = _metrics({"logistic": 0.737, "gbm": 0.680, "bgnbd": 0.718})
    assert say.worse_than_baselines(m, "gbm") == (
        "gbm, which scores the at-risk list, ranks churners worse than the logistic baseline (ROC AUC 0.680 "
        "against 0.737) and BG/NBD (0.718).")
    assert say.worse_than_baselines(m, "logistic") is None
    # within the tolerance is on par, not worse; no BG/NBD row is fine
    assert say.worse_than_baselines(_metrics({"logistic": 0.803, "gbm": 0.800}), "gbm") is None
    assert say.worse_than_baselines(_metrics({"logistic": 0.82, "gbm": 0.80}), "gbm").endswith("(ROC AUC 0.800 against 0.820).")
    assert say.leakage_warning(_metrics({"logistic": 0.98, "gbm": 0.999}), "gbm").startswith(
        "**Warning:** a validation ROC AUC of 0.999 is suspiciously close to perfect: a feature")
    assert say.leakage_warning(_metrics({"logistic": 0.97, "gbm": 0.981}), "gbm") is not None  # above 0.98
    assert say.leakage_warning(_metrics({"logistic": 0.97, "gbm": 0.98}), "gbm") is None
    # one feature carrying most of the importance: named; a customer attribute warns even at a modest AUC,
    # cjlib's own event features (recency: 73 % of the importance on CDNOW) do not
    imp = pd.DataFrame({"importance": [0.30, 0.05, 0.05, -0.01]}, index=["status", "recency_days", "age", "x"])
    assert say.dominant_feature(imp) == ("status", pytest.approx(0.75))
    modest = _metrics({"logistic": 0.80, "gbm": 0.82})
    assert say.leakage_warning(modest, "gbm", imp, attributes=["status", "age"]) == (
        "**Warning:** one customer attribute drives the churn model, and status carries 75% of the importance: it "
        "probably restates the label (an outcome recorded after the cutoff, or activity certain to follow) — check "
        "it before trusting the at-risk list, and leave it out if it is not known at the cutoff.")
    assert say.leakage_warning(modest, "gbm", imp.rename(index={"status": "recency"}), attributes=["age"]) is None
    assert say.dominant_feature(imp.assign(importance=[0.1, 0.1, 0.05, 0.0])) is None  # 40 %: not most


def test_model_sentence_and_roc_title():
    m = _metrics({"logistic": 0.80, "gbm": 0.84, "bgnbd": 0.78})
    p = {"r": 1.54, "alpha": 63.7, "a": 0.5, "b": 2.0, "time_unit": "days"}
    s = say.model_sentence(m, "gbm", bgnbd_params=p)
    assert "reaches ROC AUC 0.780: gbm is better by 0.060." in s and not problems(s)
    # BG/NBD not fitted: no BG/NBD clause, and its own sentence says why
    m2 = _metrics({"logistic": 0.80, "gbm": 0.84})
    assert "BG/NBD" not in say.model_sentence(m2, "gbm", bgnbd_params=None)
    assert say.bgnbd_sentence("no customer has a repeat transaction.") == (
        "BG/NBD cannot be fitted on this log, so it is not compared: no customer has a repeat transaction.")
    assert say.bgnbd_sentence(None) is None
    assert say.roc_title(m) == "gbm ranks churners best (ROC AUC 0.840; logistic 0.800, bgnbd 0.780)"
    assert say.roc_title(_metrics({"logistic": 0.909, "gbm": 0.908, "bgnbd": 0.888})) == (
        "logistic and gbm rank churners alike (ROC AUC 0.909 and 0.908), above bgnbd 0.888")
    assert say.roc_title(_metrics({"logistic": 0.80, "gbm": 0.802})) == "The models rank churners alike (ROC AUC logistic 0.800, gbm 0.802)"
    assert say.pr_title(_metrics({"gbm": 0.8}, base=0.004), "gbm") == "PR AUC 0.500 for gbm against a base rate of 0.4%"


def test_drivers_only_when_clearly_above_zero():
    imp = pd.DataFrame({"importance": [0.05, 0.012, 0.004, 0.02, -0.01],
                        "std": [0.01, 0.008, 0.0, 0.001, 0.002]},
                       index=["csat_mean", "noisy", "tiny", "recency_days", "harmful"])
    assert say.drivers(imp) == ["csat_mean", "recency_days"]
    assert say.importance_title(imp) == "csat_mean drives the churn prediction, then recency_days"
    flat = pd.DataFrame({"importance": [0.003, 0.001], "std": [0.001, 0.0]}, index=["a", "b"])
    assert say.drivers(flat) == []
    assert say.importance_title(flat) == "No feature clearly drives the churn prediction (largest drop in ROC AUC when shuffled: 0.003)"
    pdp = pd.DataFrame({"feature": ["recency_days"] * 3 + ["aov"] * 3,
                        "value": [1, 2, 3, 1, 2, 3],
                        "churn_probability": [0.51, 0.55, 0.62, 0.40, 0.45, 0.41]})
    assert list(say.moving_features(pdp).index) == ["recency_days"]  # aov's ends differ by 1 point only
    assert say.pdp_title(pdp) == "Predicted churn moves most with recency_days: 51% → 62%"
    s = say.drivers_sentence(imp, pdp)
    assert s == ("**Top drivers** (drop in ROC AUC when shuffled): csat_mean (0.050), recency_days (0.020). "
                 "Partial dependence, low → high end of the 5–95 % range: recency_days 51% → 62%.")
    s2 = say.drivers_sentence(flat, pdp.iloc[3:])
    assert s2.startswith("**No clear driver:**") and "Partial dependence" not in s2
    assert say.pdp_title(pdp.iloc[3:]).startswith("No feature shown moves the average predicted churn by 2%")
    assert say.pdp_title(pdp.iloc[:0]).startswith("No feature shown moves")


def test_persona_sentence_earned_ranking_only():
    by = pd.DataFrame({"customers": [400, 300, 12, 50], "churn_rate": [0.76, 0.33, 0.95, 0.5],
                       "mean_predicted": [0.70, 0.40, 0.5, 0.5]},
                      index=pd.Index(["Social newcomers", "Loyalists", "Tiny", "unknown"], name="persona"))
    assert say.persona_sentence(by) == (
        "**Social newcomers** churn most (76%), **Loyalists** least (33%); the model's mean prediction per "
        "persona is within 45.0 percentage points of the observed rate.")
    # a tie for the most: only the least is named; unstable groups are called so
    tie = by.assign(churn_rate=[0.5, 0.33, 0.5, 0.5]).drop(index=["Tiny"])
    tie.loc["Other"] = [200, 0.5, 0.5]
    text = say.persona_sentence(tie, state="unstable")
    assert text.startswith("**Loyalists** churn least (33%)") and text.endswith("(these groups are not stable personas).")
    # RFM segments (recency at the data's end, inside the churn window): no prediction yardstick, and said why
    assert say.persona_sentence(by, state="rfm") == (
        "**Social newcomers** churn most (76%), **Loyalists** least (33%) (RFM segments score recency at the data's "
        "end, inside the churn window, so they partly restate who churned).")
    # everyone alike and no predictions: nothing to say
    same = pd.DataFrame({"customers": [100, 100], "churn_rate": [0.4, 0.4]}, index=["A", "B"])
    assert say.persona_sentence(same) is None
    # 86.1 % against 86.0 % over 11,000 and 12,000 customers (CDNOW) is within chance: no most/least
    near = pd.DataFrame({"customers": [11000, 12000], "churn_rate": [0.861, 0.860]}, index=["A", "B"])
    assert say.persona_sentence(near) is None
    # one side tied: the named group must differ from the others together (24 of 40 vs 50 %: chance)
    one = pd.DataFrame({"customers": [40, 300, 300], "churn_rate": [0.6, 0.5, 0.5]}, index=["S", "T", "U"])
    assert say.persona_sentence(one) is None
    assert say.persona_sentence(one.assign(customers=[400, 300, 300])) == "**S** churn most (60%)."


def test_plan_choice_and_no_model_sentences():
    cut = pd.Timestamp("2025-04-01")
    oot = SimpleNamespace(reason="The churn window is 28 days, as given.", design="out_of_time", window_days=28,
                          cutoff=cut, train_cutoff=pd.Timestamp("2025-03-04"))
    assert say.plan_sentence(oot) == ("The churn window is 28 days, as given. **Validation:** out of time — trained "
                                      "on the window from 2025-03-04 and tested on the window from 2025-04-01, "
                                      "which the model never saw.")
    cv = SimpleNamespace(**{**vars(oot), "design": "cross_validation", "train_cutoff": None})
    assert "**Validation:** 5-fold cross-validation over customers at the cutoff 2025-04-01" in say.plan_sentence(cv, n_splits=5)
    m = _metrics({"logistic": 0.771, "gbm": 0.772, "bgnbd": 0.746})
    assert say.choice_sentence(m, "gbm", "R.") == ("R. Logistic regression is on par with it (within 0.005 ROC AUC), "
                                                   "so the choice among them matters little.")
    assert say.choice_sentence(m, "bgnbd", "R.") == "R."
    exc = DataError("all 50 customers are active in the window", column="event", rule="single_class")
    assert say.no_model_sentence(exc) == "all 50 customers are active in the window."


def test_summary_lines():
    m = _metrics({"logistic": 0.737, "gbm": 0.680, "bgnbd": 0.718}, brier=0.13, brier_base=0.014, base=0.55)
    lift = pd.DataFrame({"lift": [1.59, 1.2, 1.1], "cum_customers_share": [0.1, 0.2, 0.3],
                         "cum_churners_share": [0.16, 0.3, 0.42]})
    imp = pd.DataFrame({"importance": [0.004], "std": [0.001]}, index=["recency_days"])
    lines = say.summary_lines(base_rate=0.55, n_scored=971, activity="event of any kind", window=42,
                              cutoff=pd.Timestamp("2025-05-20"), metrics=m, model="gbm", max_gap=0.73, lift=lift,
                              imp=imp, persona=None)
    text = "\n".join(lines)
    assert "calibrated to within" not in text and "not calibrated" in text
    assert "ranks churners worse than the logistic baseline" in text
    assert "No feature clearly drives the prediction." in text and "By persona" not in text
    assert "the riskiest 30% hold 42% of all churners" in text
    assert not problems(text)
    with pytest.raises(ValueError):  # an undefined lift never reaches text
        say.lift_title(lift.assign(lift=np.nan))


def test_section_metrics_and_paragraphs():
    plan = SimpleNamespace(as_of=pd.Timestamp("2025-07-01"), window_days=42, cutoff=pd.Timestamp("2025-05-20"),
                           reason="The churn window is 42 days, as given.", design="out_of_time",
                           train_cutoff=pd.Timestamp("2025-04-08"))
    assert say.plan_metrics(plan) == {"as_of": "2025-07-01", "churn_window_days_used": 42}
    assert say.plan_metrics(None) == {}
    m = _metrics({"logistic": 0.737, "gbm": 0.680, "bgnbd": 0.718}).assign(top_decile_lift=2.5)
    y = pd.Series([1, 0, 0, 0], index=list("abcd"))
    res = SimpleNamespace(model="logistic", reason="R.", metrics=m, chosen=m.loc["logistic"], base_rate=0.2,
                          design="out_of_time", y_test=y, y_train=y, train_cutoff=plan.train_cutoff,
                          X_test=pd.DataFrame(index=y.index, columns=["f1", "f2"]), info={},
                          bgnbd_summary=None)
    assert say.label_metrics(res) == {"n_customers_scored": 4, "base_rate": 0.2, "validation": "out_of_time"}
    mm = say.model_metrics(res)
    assert (mm["chosen_model"], mm["roc_auc"], mm["brier"], mm["baseline"]) == ("logistic", 0.737, 0.10, {"bgnbd": None})
    text = say.label_findings(plan, res, activity=["purchase"], customers=None, feedback=None)
    parts = text.split("\n\n")
    assert parts[0] == say.METHOD["label"] and parts[1].startswith("The churn window is 42 days, as given.")
    assert parts[2].startswith("**Label:** no purchase in the 42 days from 2025-05-20. **25%** of the 4 customers")
    assert len(say.model_findings(res).split("\n\n")) == 2  # no BG/NBD line without a reason for its absence
    imp = pd.DataFrame({"importance": [0.05, 0.001], "std": [0.001, 0.001]}, index=["recency_days", "age"])
    assert say.driver_metrics(res, imp, customers=pd.DataFrame(columns=["customer_id", "age"])) == {
        "top_features": ["recency_days", "age"], "drivers": ["recency_days"], "leakage_warning": None}
    by = pd.DataFrame({"churn_rate": [0.5, 0.25]}, index=["A", "B"])
    assert say.persona_metrics(["A", "B"], by) == {"persona_names": ["A", "B"],
                                                   "churn_by_persona": {"A": 0.5, "B": 0.25}}
    ar = SimpleNamespace(as_of=plan.as_of, table=pd.DataFrame({"value_at_risk": [3.0, 4.5]}), rank_by="risk",
                         window_days=42)
    assert say.at_risk_metrics(ar) == {"as_of": "2025-07-01", "n_at_risk_list": 2, "rank_by": "risk"}
    assert say.at_risk_method(has_value=True, rank_by="risk") == say.METHOD["risk"] + "\n\n" + say.METHOD["value"]
    assert say.at_risk_method(has_value=False, rank_by="risk") == say.METHOD["risk"]
    lift = pd.DataFrame({"lift": [1.59, 1.2, 1.1], "cum_customers_share": [0.1, 0.2, 0.3],
                         "cum_churners_share": [0.16, 0.3, 0.42]})
    text = say.summary(res, plan, activity=None, max_gap=0.01, lift=lift, imp=imp, at_risk=ar, with_value=True)
    assert "had no event of any kind in the 42 days after 2025-05-20" in text
    assert "**Act on:** 2 customers active in the last 42 days" in text and "7.50 of value at risk" in text
    assert not problems(text)


def test_features_left_out_names_them():
    cu = pd.DataFrame({"customer_id": ["a"], "zip_prefix": [1001], "age": [30]})
    left, text = say.features_left_out(cu, SimpleNamespace(id_like=("zip_prefix",), outcome_like=()))
    assert left == {"zip_prefix": "id"} and "zip_prefix" in text
    assert say.features_left_out(None, SimpleNamespace(id_like=(), outcome_like=())) == ({}, "")
    assert say.activity_text(["purchase", "signup"]) == "purchase or signup"


def test_at_risk_sentence_says_when_the_refit_saw_a_sample():
    from cjlib.at_risk import AtRisk
    from cjlib.findings.churn.value import at_risk_sentence

    table = pd.DataFrame({"churn_probability": [0.9, 0.5], "risk_decile": [1, 2]},
                         index=pd.Index(["a", "b"], name="customer_id"))
    kw = dict(table=table, as_of=pd.Timestamp("2026-01-01"), trained_at=pd.Timestamp("2025-11-13"),
              model="gbm", window=pd.Timedelta(days=49), n_trained=250_000)
    full = at_risk_sentence(AtRisk(**kw), "list.csv", model_name="boosting")
    assert "(from 2025-11-13, 250,000 customers), and ranked" in full
    sampled = at_risk_sentence(AtRisk(**kw, n_fitted=100_000), "list.csv", model_name="boosting")
    assert "(from 2025-11-13, 250,000 customers; fitted on a random 100,000 of them), and ranked" in sampled
    assert "mean predicted churn of 90%" in sampled
