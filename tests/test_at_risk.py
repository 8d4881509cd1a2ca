"""Acceptance tests of issue 16: the at-risk list as of the data's end, honest model choice, the leakage
warning, a window fitted to a short log, and CDNOW (library and CLI) against published references.

Planted truth comes from :func:`cjlib.synth.generate` (its ``truth`` and ``params["churn"]``); CDNOW numbers
from ``tests/data/cdnow/README.md`` (lifetimes 0.11.3 on the master log).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from cjlib import at_risk, churn
from cjlib.errors import DataError
from cjlib.findings import churn as say
from cjlib.synth import generate

DAY = pd.Timedelta(days=1)


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sample():
    return generate(3000, seed=3)


@pytest.fixture(scope="module")
def run(sample):
    """Window fitted to the gaps, validation, the list as of the data's end and permutation importance."""
    d = sample
    kw = {"customers": d.customers, "feedback": d.feedback, "seed": 0}
    plan = churn.plan_window(d.events)
    res = churn.validate(d.events, plan, **kw)
    ar = at_risk.at_risk_list(d.events, plan, model=res.model, **kw)
    imp = churn.permutation_importance_table(res.fitted, res.X_explain, res.y_explain, n_repeats=3,
                                             max_samples=3000)
    return SimpleNamespace(plan=plan, res=res, ar=ar, imp=imp)


@pytest.fixture(scope="module")
def valued(sample, run):
    fit = at_risk.fit_value(sample.events, as_of=run.plan.as_of)
    return fit, at_risk.add_value(run.ar, fit)


@pytest.fixture(scope="module")
def cdnow_run(cdnow_events):
    plan = churn.plan_window(cdnow_events, 273, cutoff="1997-10-01", activity_events=["purchase"])
    res = churn.validate(cdnow_events, plan, activity_events=["purchase"], seed=0)
    return plan, res


# ---------------------------------------------------------------------------------------------- 1. the sample
def test_list_holds_exactly_the_customers_active_in_the_last_window(sample, run):
    ev, plan, ar = sample.events, run.plan, run.ar
    w = pd.Timedelta(days=plan.window_days)
    assert ar.as_of == plan.as_of == ev["timestamp"].max().normalize() + DAY == pd.Timestamp("2026-01-01")
    assert ar.trained_at == ar.as_of - w and ar.window_days == plan.window_days and ar.window == plan.window == w
    # brute force: anyone with an event (any event is activity here) in [as_of - window, as_of)
    last = ev.groupby("customer_id")["timestamp"].max()
    active = set(last.index[last >= ar.as_of - w])
    assert set(ar.table.index) == active and ar.table.index.is_unique
    assert len(active) == 1101 and len(active) < ev["customer_id"].nunique()  # quiet customers are off it
    # and the list is not the validation set: it is scored later, on other customers' current state
    assert ar.as_of > run.res.cutoff and ar.model == run.res.model
    assert ar.n_trained == len(churn.label_customers(ev, cutoff=ar.trained_at, window=plan.window))
    t = ar.table
    assert t["churn_probability"].is_monotonic_decreasing and ar.rank_by == "risk"
    assert t["risk_rank"].tolist() == list(range(1, len(t) + 1))
    assert t["risk_decile"].value_counts().sort_index().tolist() == [111] + [110] * 9


def test_list_is_scored_as_of_the_data_end_by_the_model_refitted_on_the_latest_window(sample, run):
    d, ar, res = sample, run.ar, run.res
    # this sample's best model has features (checked: the ensemble 0.818, logistic 0.816, boosting 0.816)
    assert res.model == churn.ENSEMBLE
    kw = {"customers": d.customers, "feedback": d.feedback}
    X_tr, y_tr = churn.make_dataset(d.events, cutoff=ar.trained_at, window=ar.window_days, **kw)
    X_now = churn.features_at(d.events, as_of=ar.as_of, window=ar.window, **kw).loc[ar.table.index]
    assert set(X_now.columns) == set(X_tr.columns)
    with threadpool_limits(1):
        pipe = churn.make_model(res.model, X_tr, seed=0).fit(X_tr, y_tr)
        by_hand = pipe.predict_proba(X_now[X_tr.columns])[:, 1]
    np.testing.assert_allclose(ar.table["churn_probability"].to_numpy(), by_hand, rtol=0, atol=1e-9)
    # not the validation scores at the evaluation cutoff (whose outcome is already known)
    both = ar.table.index.intersection(res.scores.index)
    assert len(both) > 0.9 * len(ar.table)
    gap = (ar.table.loc[both, "churn_probability"] - res.scores.loc[both, res.model]).abs()
    assert gap.mean() > 0.05 and (gap > 0.01).mean() > 0.5
    # features are as of the data's end: nobody on the list has been quiet longer than the window
    assert X_now["recency_days"].max() <= ar.window_days


def test_planted_churn_drivers_still_rank_high(sample, run):
    """The planted hazard (persona × satisfaction × delivery issue) orders the list; recency leads validation."""
    assert run.imp.index[0] == "recency_days"
    assert run.imp.loc["recency_days", "importance"] > 5 * run.imp["importance"].iloc[1]
    t = run.ar.table
    truth = sample.truth.set_index("customer_id").reindex(t.index)
    c = sample.params["churn"]
    log_hazard = (np.log(truth["persona"].map(c["base_hazard_per_day"]).astype(float))
                  + c["beta_satisfaction"] * truth["satisfaction"] + c["beta_delivery_issue"] * truth["delivery_issue"])
    assert spearmanr(log_hazard, t["churn_probability"])[0] > 0.45  # 0.53 here
    assert spearmanr(truth["satisfaction"], t["churn_probability"])[0] < -0.2  # -0.28
    by_persona = t["churn_probability"].groupby(truth["persona"]).mean()
    assert by_persona.idxmax() == "social_newcomer" and by_persona.idxmin() == "loyal_premium"
    # customers on the list who (in truth) already churned in the last window score higher than the rest
    assert roc_auc_score(truth["churned"], t["churn_probability"]) > 0.62  # 0.67 here
    # the top decile's reasons name planted drivers: recency and the persona's age and plan
    top = t[t["risk_decile"] == 1]
    named = pd.concat([top[f"reason_{k}"] for k in (1, 2, 3)]).dropna().str.split(" = ").str[0]
    assert {"age", "plan", "recency_days"} <= set(named.value_counts().index[:5])


def test_value_at_risk_ranks_the_list_differently(sample, run, valued):
    fit, var = valued
    t = var.table
    assert var.rank_by == "value_at_risk" and set(t.index) == set(run.ar.table.index)
    assert np.array_equal(t["value_at_risk"].to_numpy(),
                          t["churn_probability"].to_numpy() * t["value_if_active"].to_numpy())
    assert t["value_at_risk"].is_monotonic_decreasing
    assert t["value_rank"].tolist() == list(range(1, len(t) + 1))
    # listed customers who never bought before the data's end have no value to lose
    ev = sample.events
    buyers = set(ev.loc[(ev["revenue"].fillna(0) > 0) & (ev["timestamp"] < var.as_of), "customer_id"])
    never = ~t.index.isin(list(buyers))
    assert 0 < never.sum() < len(t) and (t.loc[never, "value_at_risk"] == 0).all()
    assert (t.loc[~never, "value_if_active"] > 0).all()
    # ranking by value at risk differs from ranking by risk, and holds more of the value at risk
    top = len(t) // 10
    ov = at_risk.ranking_overlap(t, top=top)
    assert ov["top"] == top == 110 and ov["shared"] < top / 2
    assert ov["value_share_by_value"] > 2 * ov["value_share_by_risk"]
    assert say.ranking_sentence(ov, var.rank_by).startswith("Ranking by value at risk instead of risk alone")
    # rank_by="risk": the same rows, sorted by probability
    by_risk = at_risk.add_value(run.ar, fit, rank_by="risk")
    assert by_risk.table["churn_probability"].is_monotonic_decreasing and by_risk.rank_by == "risk"
    pd.testing.assert_frame_equal(by_risk.table.sort_index(), t.sort_index())
    # per risk decile: the value at risk adds up to the list's total
    dec = at_risk.summary_by(t)
    assert dec["customers"].sum() == len(t) and dec.index.tolist() == list(range(1, 11))
    assert dec["value_at_risk"].sum() == pytest.approx(t["value_at_risk"].sum(), rel=1e-12)


def test_bgnbd_list_is_fitted_on_every_customer_before_as_of(sample, run):
    """BG/NBD needs no label: the list's fit uses every customer seen before the data's end, not only those
    still active (fitted on survivors alone, nobody ever drops out: a = 0)."""
    ev, plan = sample.events, run.plan
    ar = at_risk.at_risk_list(ev, plan, model="bgnbd")
    everyone, model = churn.bgnbd_scores(ev, cutoff=plan.as_of, window=plan.window)
    assert model.n_customers == ev["customer_id"].nunique() == 3000 and model.a > 0.1
    assert ar.n_trained == 3000
    np.testing.assert_allclose(ar.table["churn_probability"].to_numpy(),
                               everyone["p_no_activity"].reindex(ar.table.index).to_numpy(), rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------------------------- 2. model choice
def test_model_choice_is_the_best_or_says_which_is_better(run):
    m = pd.DataFrame({"roc_auc": [0.737, 0.680, 0.718]}, index=["logistic", "gbm", "bgnbd"])
    assert churn.choose_model(m)[0] == "logistic"
    chosen, reason = churn.choose_model(m, "gbm")  # honoured, never silently
    assert chosen == "gbm" and "logistic regression" in reason and "0.680" in reason and "0.737" in reason
    assert "0.718" in reason  # BG/NBD beat it too
    assert say.choice_sentence(m, chosen, reason).startswith(reason)
    assert "0.680 against 0.737" in say.worse_than_baselines(m, "gbm")
    chosen, reason = churn.choose_model(m, "logistic")
    assert chosen == "logistic" and "also the best" in reason
    # ties go to the simpler model; BG/NBD may win
    tie = pd.DataFrame({"roc_auc": [0.8, 0.8, 0.7]}, index=["logistic", "gbm", "bgnbd"])
    assert churn.choose_model(tie)[0] == "logistic"
    assert churn.choose_model(tie.assign(roc_auc=[0.7, 0.71, 0.72]))[0] == "bgnbd"
    # AUCs that read the same at three decimals go to the simpler model, and the sentence says so
    near = tie.assign(roc_auc=[0.8000, 0.8004, 0.7])
    chosen, reason = churn.choose_model(near)
    assert chosen == "logistic" and "as well as boosting" in reason and "simpler" in reason
    assert say.choice_sentence(near, chosen, reason) == reason
    assert churn.choose_model(tie.assign(roc_auc=[0.8000, 0.8006, 0.7]))[0] == "gbm"
    # without BG/NBD (no repeat occasions) it cannot be asked for
    with pytest.raises(DataError, match="could not be validated"):
        churn.choose_model(m.drop(index="bgnbd"), "bgnbd")
    with pytest.raises(ValueError, match="model must be"):
        churn.choose_model(m, "forest")
    # on the sample log BG/NBD loses: asked for, it is used and the sentence says by how much
    real = run.res.metrics
    auc = real["roc_auc"]
    assert run.res.model == auc.idxmax() and auc["bgnbd"] < auc.max() - 0.01
    chosen, reason = churn.choose_model(real, "bgnbd")
    assert chosen == "bgnbd" and f"ROC AUC {auc['bgnbd']:.3f} against " in reason
    for k in ("logistic", "gbm"):  # both beat it here (0.814, 0.815 against 0.798): both are named
        assert f"{churn.NAMES[k]} (" in reason and f"{auc[k]:.3f}" in reason
    assert say.worse_than_baselines(real, "bgnbd") is not None


# ---------------------------------------------------------------------------------------------- 3. leakage
def test_a_clean_run_gets_no_leakage_warning(sample, run):
    # recency carries most of the importance, yet it is an event feature, not an attribute: no warning
    feature, share = say.dominant_feature(run.imp)
    # (0.64 with the ensemble explained; above 0.7 with boosting alone): beyond DOMINANT_SHARE either way
    assert feature == "recency_days" and share > 0.6 > say.DOMINANT_SHARE
    assert run.res.metrics["roc_auc"].max() < 0.9
    assert say.leakage_warning(run.res.metrics, run.res.model, run.imp, attributes=sample.customers.columns) is None


@pytest.mark.parametrize("noise", [0.02, 0.10])
def test_a_planted_leak_is_named(sample, noise):
    """A customer attribute that restates the label: "cancelled" for those who churn in the window, with
    a share ``noise`` of the customers flipped. Nearly exact, the ROC AUC passes 0.98; noisier, it stays
    below and the attribute's share of the importance gives it away."""
    d = sample
    plan = churn.plan_window(d.events, 150)  # one window before the cutoff: cross-validation on the label
    assert plan.design == "cross_validation"
    y = churn.label_customers(d.events, cutoff=plan.cutoff, window=150)
    churned = y.reindex(d.customers["customer_id"]).fillna(0).to_numpy().astype(bool)
    flip = np.random.default_rng(0).random(len(churned)) < noise
    leaky = d.customers.assign(status=np.where(churned ^ flip, "cancelled", "active"))
    res = churn.validate(d.events, plan, customers=leaky, feedback=d.feedback, seed=0)
    imp = churn.permutation_importance_table(res.fitted, res.X_explain, res.y_explain, n_repeats=2,
                                             max_samples=1500)
    auc = res.metrics.loc[res.model, "roc_auc"]
    feature, share = say.dominant_feature(imp)
    assert feature == "status" and share > 0.6
    warning = say.leakage_warning(res.metrics, res.model, imp, attributes=leaky.columns)
    assert warning is not None and warning.startswith("**Warning:**") and f"status carries {share:.0%}" in warning
    if noise < 0.05:  # 0.989: the score alone is suspicious
        assert auc > 0.98 and say.leakage_warning(res.metrics, res.model) is not None
    else:  # 0.96: only the attribute's dominance tells
        assert auc < 0.98 and warning.startswith("**Warning:** one customer attribute drives the churn model")
        assert say.leakage_warning(res.metrics, res.model, imp, attributes=d.customers.columns) is None


# ---------------------------------------------------------------------------------------------- 4. short log
def test_six_month_log_without_a_window_states_one_and_lists_customers():
    d = generate(1500, seed=2, start="2025-01-01", end="2025-07-01")
    plan = churn.plan_window(d.events)
    assert not plan.given and plan.reason.startswith(f"The churn window is {plan.window_days} days")
    assert plan.window_days < 90  # the old default that failed on this log
    res = churn.validate(d.events, plan, customers=d.customers, feedback=d.feedback, seed=0)
    ar = at_risk.at_risk_list(d.events, plan, model=res.model, customers=d.customers, feedback=d.feedback)
    assert ar.as_of == pd.Timestamp("2025-07-01") and len(ar.table) > 100
    last = d.events.groupby("customer_id")["timestamp"].max()
    assert set(ar.table.index) == set(last.index[last >= ar.as_of - pd.Timedelta(days=plan.window_days)])
    assert say.plan_sentence(plan, n_splits=res.info.get("n_splits")).startswith(plan.reason)


# ---------------------------------------------------------------------------------------------- 5. CDNOW
def test_cdnow_cross_validation_reaches_the_reference(cdnow_events, cdnow_run):
    plan, res = cdnow_run
    assert cdnow_events["customer_id"].nunique() == 23570
    assert (plan.design, plan.window_days, plan.longest_days) == ("cross_validation", 273, 273)
    assert plan.cutoff == pd.Timestamp("1997-10-01") and plan.as_of == pd.Timestamp("1998-07-01")
    assert res.design == "cross_validation" and res.info["n_splits"] == 5 and len(res.y_test) == 23570
    auc = res.metrics["roc_auc"]
    # measured: the ensemble 0.7725, boosting 0.7717, logistic 0.7710, BG/NBD P(no purchase) 0.7466;
    # references (issue 16): BG/NBD expected purchases 0.763, logistic on RFM 0.772. Issue 16 asks for
    # 0.775: not reached (the experiments behind the ensemble: benchmarks/churn_cdnow.py; its --ceiling rows
    # show a flat learning curve and no lift from earlier cutoffs, the repurchase's timing or other models)
    assert auc.to_dict() == pytest.approx({"logistic": 0.7710, "gbm": 0.7717, "bgnbd": 0.7466, "ensemble": 0.7725},
                                          abs=0.003)
    # the ensemble's scores are the mean of its members' out-of-fold probabilities
    np.testing.assert_allclose(res.scores["ensemble"], (res.scores["logistic"] + res.scores["gbm"]) / 2, atol=1e-12)
    assert res.model == "ensemble" and auc["ensemble"] > max(auc["logistic"], auc["gbm"]) + churn.AUC_TIE
    # four digits (0.772 both); the gaps to its members are within chance on 23,570 customers: never "best"
    assert "highest ROC AUC on validation (0.7725), within chance of" in res.reason and "best" not in res.reason
    with pytest.raises(DataError, match="the longest window that fits is 273 days") as e:
        churn.plan_window(cdnow_events, 274, cutoff="1997-10-01")
    assert e.value.rule == "window_too_long"


def test_cdnow_value_fit_matches_lifetimes_on_the_calibration_period(cdnow_events):
    # lifetimes 0.11.3 on the purchases before 1997-10-01, T to the last day (tests/data/cdnow/README.md);
    # fit_value's occasions are days with revenue > 0, lifetimes' any purchase day: a hair apart
    fit = at_risk.fit_value(cdnow_events, as_of="1997-10-01")
    assert fit.bgnbd.params == pytest.approx({"r": 0.251624, "alpha": 33.522616, "a": 0.723433, "b": 2.161087},
                                             rel=0.01)
    assert fit.gamma_gamma.params == pytest.approx({"p": 6.275359, "q": 3.624450, "gamma": 14.983689}, rel=0.005)
    assert fit.gamma_gamma.n_customers == pytest.approx(9450, abs=5)
    s = fit.summary()
    assert set(s["gamma_gamma"]["standard_errors"]) == {"p", "q", "gamma"}
    assert s["gamma_gamma"]["standard_errors"]["q"] == pytest.approx(0.090553, rel=0.02)
    # only the log before as_of counts: the later 9 months change nothing
    before = at_risk.fit_value(cdnow_events[cdnow_events["timestamp"] < "1997-10-01"], as_of="1997-10-01")
    assert before.gamma_gamma.params == fit.gamma_gamma.params and before.bgnbd.params == fit.bgnbd.params


# ---------------------------------------------------------------------------------------------- 6. the CLI
def _cdnow_case(folder: Path, events: pd.DataFrame, window: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "events.csv").exists():
        events.to_csv(folder / "events.csv", index=False)
    (folder / "stage_map.yml").write_text("stages:\n  - name: purchase\n    events: [purchase]\n"
                                          "conversion_events: [purchase]\n")
    (folder / "params.yaml").write_text(
        "events_path: events.csv\ncustomers_path: ''\nfeedback_path: ''\ncosts_path: ''\n"
        f"stage_map_path: stage_map.yml\ncutoff: \"1997-10-01\"\nchurn_window_days: {window}\n"
        "activity_events: purchase\n")
    return folder


def _cli(folder: Path, out: Path):
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    return subprocess.run([sys.executable, "-m", "cjlib", "report", "04_churn", "-f", "params.yaml", "--out",
                           str(out)], cwd=folder, env=env, capture_output=True, text=True, timeout=600)


def test_cli_runs_04_on_cdnow(cdnow_events, tmp_path):
    case = _cdnow_case(tmp_path / "case", cdnow_events, 273)
    proc = _cli(case, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    m = json.loads((tmp_path / "out" / "04_churn.metrics.json").read_text())["metrics"]
    assert m["validation"] == "cross_validation" and m["churn_window_days_used"] == 273
    assert m["as_of"] == "1998-07-01" and m["chosen_model"] in churn.CANDIDATES
    assert m["roc_auc"] >= 0.765 and m["roc_auc"] >= m["baseline"]["bgnbd"]["roc_auc"]
    assert m["chosen_model_why"]
    # the list: everyone who bought in the last 273 days, and the value at risk it carries
    risk = pd.read_csv(tmp_path / "out" / "churn_risk.csv")
    recent = cdnow_events.loc[cdnow_events["timestamp"] >= "1997-10-01", "customer_id"].nunique()
    assert m["n_at_risk_list"] == len(risk) == recent == 7058
    assert m["value_at_risk"] == pytest.approx(risk["value_at_risk"].sum(), rel=1e-9) and m["value_at_risk"] > 0
    assert risk["value_at_risk"].is_monotonic_decreasing and m["rank_by"] == "value_at_risk"
    assert set(m["value_models"]) >= {"bgnbd", "gamma_gamma"}
    for k in ("p", "q", "gamma"):
        assert m["value_models"]["gamma_gamma"][k] > 0 and m["value_models"]["gamma_gamma"]["standard_errors"][k] > 0
    assert m["ranking_overlap"]["shared"] < m["ranking_overlap"]["top"]


def test_cli_window_that_does_not_fit_is_one_line_and_writes_nothing(cdnow_events, tmp_path):
    case = _cdnow_case(tmp_path / "case", cdnow_events, 400)
    out = tmp_path / "out"
    proc = _cli(case, out)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "the longest window that fits is 273 days" in err[0] and "Traceback" not in proc.stderr
    assert not out.exists() or not list(out.iterdir())


# ---------------------------------------------------------------------------------------------- the report's steps
def test_ranking_overlap_defaults_to_the_riskiest_tenth():
    # 20 customers, risk decile 1 holds two (rows 0, 1); the top two by value are rows 1 and 2
    t = pd.DataFrame({"risk_decile": [1, 1] + [2] * 18, "risk_rank": range(1, 21),
                      "value_rank": [3, 1, 2] + list(range(4, 21)), "value_at_risk": [10.0, 30.0] + [5.0] * 18})
    out = at_risk.ranking_overlap(t)
    assert out["top"] == 2 and out["shared"] == 1  # by value: rows 1, 2; by risk: rows 0, 1
    assert out["value_share_by_value"] == pytest.approx(35 / 130) and out["value_share_by_risk"] == pytest.approx(40 / 130)
    assert at_risk.ranking_overlap(t, top=3)["top"] == 3


def test_examples_are_pseudonymized_and_keep_the_shown_columns(valued):
    _, ar = valued
    ex = at_risk.examples(ar.table, n=3)
    assert list(ex.columns) == ["churn_probability", "value_at_risk", "reason_1", "reason_2"]
    assert ex.index.name == "customer (pseudonym)" and len(ex) == 3
    assert not set(ex.index) & set(map(str, ar.table.index))
    assert ex["churn_probability"].tolist() == ar.table["churn_probability"].head(3).tolist()


def test_value_and_list_or_reason(sample, run):
    inputs = SimpleNamespace(events=sample.events, profile=SimpleNamespace(supports=lambda role: True))
    fit, why = at_risk.fit_value_or_reason(inputs, run.plan, horizon="180D")
    assert why is None and fit.horizon_days == 180 and fit.horizon == pd.Timedelta(days=180)
    assert at_risk.fit_value_or_reason(inputs, None) == (
        None, "no churn window fits this log (the reason is given under the label definition).")
    no_rev = SimpleNamespace(events=sample.events, profile=SimpleNamespace(
        supports=lambda role: False, why_not=lambda role: "the log has no revenue."))
    assert at_risk.fit_value_or_reason(no_rev, run.plan) == (None, "the log has no revenue.")
    quiet = sample.events[sample.events["timestamp"] < run.plan.as_of - 2 * pd.Timedelta(days=run.plan.window_days)]
    ar, why = at_risk.at_risk_list_or_reason(quiet, run.plan, model="logistic")
    assert ar is None and why.startswith(f"no customer was active in the last {run.plan.window_days} days")
