"""04 churn and customer value on log shapes nobody built it for — a grocery-delivery app (weekly orders,
a ``delivery_pass`` subscription, daily app opens, a churn hazard planted after ``delivery_late``) and a
weekly-aggregated export (dates only, every event on a Monday) with its variants: ten days, every
customer's last event on the export day, one bot among normal customers, a last week cut mid-week. Each
false or unearned sentence is pinned on a hand-made case; every test fails on the code before its fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

DAY = 86_400.0


# ======================================================================================= the shapes
def _write(folder: Path, events: pd.DataFrame, stage_map: dict, **extra) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    events.to_parquet(folder / "events.parquet", index=False)
    params = {"events_path": "events.parquet", "customers_path": "", "feedback_path": "", "costs_path": "",
              "stage_map_path": "stage_map.yml", "seed": 0, **extra}
    (folder / "stage_map.yml").write_text(yaml.safe_dump(stage_map, sort_keys=False))
    p = folder / "params.yaml"
    p.write_text(yaml.safe_dump(params, sort_keys=False))
    return p


GROCERY_STAGES = {
    "stages": [{"name": "open app", "events": ["app_open"]},
               {"name": "order", "events": ["order"]},
               {"name": "repeat order", "events": ["order"], "nth": 2},
               {"name": "delivery pass", "events": ["delivery_pass"]}],
    "conversion_events": ["order"],
    "other_events": ["delivery_late"],
    "journeys": {"shop": {"steps": ["open app", "order", "repeat order"]}},
    "default_journey": "shop",
}


def grocery(folder: str | Path, seed: int = 0, n: int = 4000, days: int = 304) -> Path:
    """Grocery delivery over 10 months: customers join over the first 8 months; while active they open
    the app on ~70 % of days and order every 4–10 days (revenue 20–150); 12 % of orders are followed
    (hours later) by ``delivery_late``; 25 % buy a ``delivery_pass`` (9.99 every 30 days). The weekly
    churn hazard is 2 % (1 % with the pass) and four times that for eight weeks after a late delivery —
    the planted driver. Returns the params file's path."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2024-01-01")
    cid, ts, ev, rev = [], [], [], []

    def add(i, t, e, r=np.nan):
        cid.append(i), ts.append(t), ev.append(e), rev.append(r)

    for i in range(n):
        start = rng.random() * days * 0.8
        has_pass = rng.random() < 0.25
        pass_day = start + rng.random() * 20 if has_pass else np.inf
        d, next_order, late_until = start, start + rng.random() * 3, -1.0
        next_pass = pass_day
        while d < days:
            if rng.random() < 0.7:
                add(i, d * DAY + rng.random() * 50_000 + 25_000, "app_open")
            if d >= next_pass:
                add(i, d * DAY + 30_000 + rng.random() * 1000, "delivery_pass", 9.99)
                next_pass += 30
            if d >= next_order:
                t = d * DAY + 40_000 + rng.random() * 30_000
                add(i, t, "order", float(np.round(rng.uniform(20, 150), 2)))
                if rng.random() < 0.12:
                    add(i, t + 3600 * (2 + rng.random() * 5), "delivery_late")
                    late_until = d + 56
                next_order = d + rng.integers(4, 11)
            h = (0.01 if d >= pass_day else 0.02) * (4 if d < late_until else 1)
            if rng.random() < h / 7:
                break
            d += 1
    t = t0 + pd.to_timedelta(np.round(ts).astype(np.int64), unit="s")
    ev_df = pd.DataFrame({"customer_id": [f"G{c:05d}" for c in cid], "timestamp": t, "event": ev,
                          "revenue": rev}).sort_values("timestamp", kind="stable")
    ev_df = ev_df[ev_df["timestamp"] < t0 + pd.Timedelta(days=days)]
    return _write(Path(folder), ev_df, GROCERY_STAGES)


WEEKLY_STAGES = {
    "stages": [{"name": "visit", "events": ["visit"]},
               {"name": "purchase", "events": ["purchase"]},
               {"name": "repeat purchase", "events": ["purchase"], "nth": 2}],
    "conversion_events": ["purchase"],
    "journeys": {"buying": {"steps": ["visit", "purchase", "repeat purchase"]}},
    "default_journey": "buying",
}


def weekly_rows(seed: int = 0, n: int = 1500, weeks: int = 104, prefix: str = "W") -> pd.DataFrame:
    """A weekly-aggregated export's rows: one ``visit`` row per customer-week with a visit and one
    ``purchase`` row (revenue 10–400) per week with a purchase, dated on that week's Monday (a date, no
    time). Customers join over the first 80 % of the span, visit in a week with probability 0.2–0.8,
    buy in 30 % of visit weeks, and leave with a weekly hazard of 1.5 %."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2023-01-02")  # a Monday
    cid, wk, ev, rev = [], [], [], []
    for i in range(n):
        w = int(rng.integers(0, max(1, int(weeks * 0.8))))
        p = rng.uniform(0.2, 0.8)
        while w < weeks:
            if rng.random() < p:
                cid.append(i), wk.append(w), ev.append("visit"), rev.append(np.nan)
                if rng.random() < 0.3:
                    cid.append(i), wk.append(w), ev.append("purchase")
                    rev.append(float(np.round(np.exp(rng.normal(4.0, 0.8)).clip(10, 400), 2)))
            if rng.random() < 0.015:
                break
            w += 1
    return pd.DataFrame({"customer": [f"{prefix}{c:05d}" for c in cid],
                         "week": (t0 + pd.to_timedelta(np.array(wk) * 7, unit="D")).strftime("%Y-%m-%d"),
                         "event": ev, "revenue": rev})


def _weekly_params(folder: Path, df: pd.DataFrame, **extra) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / "weekly.csv", index=False)
    p = _write(folder, df.iloc[:0], WEEKLY_STAGES, **extra)
    (folder / "events.parquet").unlink()
    params = yaml.safe_load(p.read_text())
    params["events_path"] = "weekly.csv"
    params["columns"] = {"events": {"customer_id": "customer", "timestamp": "week"}}
    p.write_text(yaml.safe_dump(params, sort_keys=False))
    return p


def weekly(folder: str | Path, seed: int = 0, variant: str = "") -> Path:
    """The weekly export (1,500 customers, 2 years) or a variant: ``ten_days`` (the first 10 days of
    it), ``last_day`` (every customer also has a ``visit`` on the export day), ``bot`` (2,000 customers
    and one with 300,000 visit rows, each on its own ``page``), ``partial`` (the last week holds only the 3 of 7 days exported:
    each of its rows kept with probability 3/7)."""
    rng = np.random.default_rng(seed + 1)
    if variant == "bot":
        df = weekly_rows(seed, n=2000)
        last = pd.Timestamp(df["week"].max())
        bot_weeks = (last - pd.to_timedelta(rng.integers(0, 104, 300_000) * 7, unit="D")).strftime("%Y-%m-%d")
        df = pd.concat([df.assign(page="/"), pd.DataFrame({  # pages keep the bot's rows apart (no duplicates)
            "customer": "BOT", "week": bot_weeks, "event": "visit", "revenue": np.nan,
            "page": [f"/p/{i}" for i in range(300_000)]})], ignore_index=True)
    else:
        df = weekly_rows(seed)
    if variant == "ten_days":
        df = df[pd.to_datetime(df["week"]) < pd.to_datetime(df["week"]).min() + pd.Timedelta(days=10)]
    elif variant == "last_day":
        last = df["week"].max()
        df = pd.concat([df, pd.DataFrame({"customer": df["customer"].unique(), "week": last,
                                          "event": "visit", "revenue": np.nan})], ignore_index=True)
    elif variant == "partial":
        lastw = df["week"] == df["week"].max()
        df = df[~lastw | (rng.random(len(df)) < 3 / 7)]
    return _weekly_params(Path(folder), df.sort_values(["week", "customer"], kind="stable"))


# =============================================================================================== tests
def _weekly_events(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": df["customer"], "timestamp": pd.to_datetime(df["week"]),
                         "event": df["event"], "revenue": df["revenue"]}).sort_values(
        ["customer_id", "timestamp"], kind="stable").reset_index(drop=True)


def test_shapes_are_what_their_docstrings_say(tmp_path):
    g = pd.read_parquet(Path(grocery(tmp_path / "g", n=300)).parent / "events.parquet")
    assert set(g["event"]) == {"app_open", "order", "delivery_late", "delivery_pass"}
    orders = g.loc[g["event"] == "order", "revenue"]
    assert orders.between(20, 150).all() and (g["timestamp"].max() - g["timestamp"].min()).days <= 304
    w = pd.read_csv(Path(weekly(tmp_path / "w")).parent / "weekly.csv")
    assert (pd.to_datetime(w["week"]).dt.day_of_week == 0).all() and w["customer"].nunique() > 1400
    last = pd.read_csv(Path(weekly(tmp_path / "l", variant="last_day")).parent / "weekly.csv")
    assert last.loc[last["week"] == last["week"].max(), "customer"].nunique() == last["customer"].nunique()


def test_bgnbd_driving_the_list_is_not_said_to_be_on_par_with_itself():
    """weekly export: 'BG/NBD (r = 4.72, …) reaches ROC AUC 0.939: bgnbd is on par.' when BG/NBD was chosen."""
    from cjlib.findings.churn import model_sentence

    m = pd.DataFrame({"roc_auc": [0.931, 0.938, 0.939], "pr_auc": [0.97, 0.97, 0.977], "base_rate": [0.705] * 3,
                      "brier": [0.1, 0.09, 0.0951], "brier_base": [0.2081] * 3, "n": [1466] * 3},
                     index=["logistic", "gbm", "bgnbd"])
    p = {"r": 4.72, "alpha": 65.4, "a": 2.32, "b": 67.2, "time_unit": "days"}
    text = model_sentence(m, "bgnbd", bgnbd_params=p)
    assert "bgnbd is on par" not in text and "reaches ROC AUC 0.939:" not in text
    assert text.endswith("for always predicting the base rate. Its fit: r = 4.72, α = 65.4 days, a = 2.32, b = 67.2.")
    assert "BG/NBD (r = 4.72, α = 65.4 days, a = 2.32, b = 67.2) reaches ROC AUC 0.939: gbm is on par" in (
        model_sentence(m, "gbm", bgnbd_params=p))


def test_a_log_stamping_every_customer_on_its_last_day_says_so():
    """weekly export, every customer's last event on the export day: 'all 1,466 customers are active in
    [2024-12-03 00:00:00, 2024-12-24 00:00:00) … (window in cjlib.churn)' named neither the cause nor a fix."""
    from cjlib import churn
    from cjlib.errors import DataError

    df = weekly_rows(0, n=120)
    last = df["week"].max()
    df = pd.concat([df, pd.DataFrame({"customer": df["customer"].unique(), "week": last, "event": "visit",
                                      "revenue": np.nan})])
    ev = _weekly_events(df)
    cut = pd.Timestamp(last) + pd.Timedelta(days=1) - pd.Timedelta(days=21)
    with pytest.raises(DataError, match="single_class") as info:
        churn.make_dataset(ev, cutoff=cut, window=21)
    n = ev.loc[ev["timestamp"] < cut, "customer_id"].nunique()
    assert (f"every one of the {n:,} customers has an event on the log's last day ({last}), so no one can be "
            "seen to lapse in a window that ends there") in str(info.value)
    assert "00:00:00" not in str(info.value)
    one = (ev["customer_id"] == ev["customer_id"].iloc[0]) & (ev["timestamp"] == pd.Timestamp(last))
    one_short = ev.assign(timestamp=ev["timestamp"].mask(one, pd.Timestamp(last) - pd.Timedelta(days=7)))
    with pytest.raises(DataError, match="single_class") as info:  # not every customer: the plain sentence
        churn.make_dataset(one_short, cutoff=cut, window=21)
    assert "every one of" not in str(info.value) and "are active in the churn window [" in str(info.value)


def test_bgnbd_reasons_are_only_inputs_that_raise_the_risk():
    """weekly export scored by BG/NBD: 'days since last active day = 0 (typical 0)' was a reason — a value
    equal to the typical one cannot lower the risk when replaced by it."""
    from cjlib import at_risk, churn

    ev = _weekly_events(weekly_rows(0, n=600))
    plan = churn.plan_window(ev, 14)
    ar = at_risk.at_risk_list(ev, plan, model="bgnbd")
    t = ar.table
    bg, m = churn.bgnbd_scores(ev, cutoff=plan.as_of, window=14)
    bg = bg.reindex(t.index)
    since = bg["T"] - bg["recency"]
    typical = float(since.median())
    text = t["reason_1"].astype(object)
    assert not text.fillna("").str.contains(f"= {typical:,.0f} \\(typical {typical:,.0f}\\)").any()
    for cid in t.index[:50]:  # brute force: each listed reason lowers P(no activity) when set to typical
        x, tx, T = bg.loc[cid, ["frequency", "recency", "T"]].astype(float)
        p = float(m.p_no_purchase(14.0, np.array([x]), np.array([tx]), np.array([T]))[0])
        moved = float(m.p_no_purchase(14.0, np.array([x]), np.array([np.clip(T - typical, 0, T) if x > 0 else tx]),
                                      np.array([T]))[0])
        listed = any(str(t.loc[cid, f"reason_{k}"]).startswith("days since") for k in (1, 2))
        assert listed == (p - moved > 1e-4), cid
    assert (t["reason_1_effect"].dropna() > 0).all() and t["reason_1_effect"].notna().any()


def test_a_near_perfect_auc_from_long_gone_customers_is_not_called_a_leak():
    """grocery: 'a validation ROC AUC of 0.996 is suspiciously close to perfect, and recency_days carries 80%
    of the importance: it probably restates the label (an outcome recorded after the cutoff…)' — recency uses
    events before the cutoff only; the score came from customers long gone (0.860 among the active ones)."""
    from cjlib.findings.churn import leakage_warning

    m = pd.DataFrame({"roc_auc": [0.996], "n": [3994]}, index=["gbm"])
    imp = pd.DataFrame({"importance": [0.4, 0.1]}, index=["recency_days", "activity_days_recent"])
    recent = {"n_recent": 1609, "churn_rate_recent": 0.046, "mean_predicted_recent": 0.052, "roc_auc_recent": 0.8596}
    assert leakage_warning(m, "gbm", imp, recent=recent) == (
        "**Warning:** the validation ROC AUC of 0.996 comes mostly from customers who had long stopped before the "
        "cutoff: of the 3,994 customers scored, 1,609 were active in the window before it, and among them the ROC "
        "AUC is 0.860 and the mean predicted churn 5.2% against 4.6% observed — the at-risk list holds only such "
        "customers, so expect that accuracy. recency_days carries 80% of the importance, from events before the "
        "cutoff only.")
    # near perfect among the active ones too, or an attribute dominating: still a suspected leak
    assert "restates the label" in leakage_warning(m, "gbm", imp, recent={**recent, "roc_auc_recent": 0.995})
    assert "restates the label" in leakage_warning(m, "gbm", imp.rename(index={"recency_days": "status"}),
                                                   attributes=["status"], recent=recent)
    assert "restates the label" in leakage_warning(m, "gbm", imp)


def test_the_grocery_report_gives_the_auc_among_active_customers(tmp_path):
    """End to end on the grocery shape (small): metrics.json holds n_recent and roc_auc_recent and the
    warning, when there is one, prints them as recorded."""
    from cjlib import churn
    from cjlib.findings.churn import driver_metrics

    ev = pd.read_parquet(Path(grocery(tmp_path / "g", n=800)).parent / "events.parquet")
    ev = ev.sort_values(["customer_id", "timestamp"], kind="stable").reset_index(drop=True)
    plan = churn.plan_window(ev)
    res = churn.validate(ev, plan)
    imp = churn.permutation_importance_table(res.models["gbm"], res.X_test, res.y_test, n_repeats=2)
    d = driver_metrics(res, imp)
    recent = res.X_test["activity_days_recent"] > 0
    from sklearn.metrics import roc_auc_score
    assert d["n_recent"] == int(recent.sum()) < len(res.X_test)
    assert d["mean_predicted_recent"] == pytest.approx(res.scores[res.model][recent].mean())
    assert d["churn_rate_recent"] == pytest.approx(res.y_test[recent].mean())
    assert d["roc_auc_recent"] == pytest.approx(roc_auc_score(res.y_test[recent], res.scores[res.model][recent]))
    if d["leakage_warning"] and "long stopped" in d["leakage_warning"]:
        assert f"among them the ROC AUC is {d['roc_auc_recent']:.3f}" in d["leakage_warning"]


def test_value_names_the_paid_events_and_prints_no_e_notation(tmp_path):
    """grocery: 'Gamma-Gamma … from the 3,885 repeat buyers (p = 4.29 (± 0.19), q = 183 (± 22), γ = 3.43e+03
    (± 5.4e+02)' — e-notation in prose, and the delivery_pass renewals silently counted as purchases."""
    from cjlib import at_risk
    from cjlib.findings.churn import value_metrics
    from cjlib.findings.churn.value import value_sentence

    ev = pd.read_parquet(Path(grocery(tmp_path / "g", n=600)).parent / "events.parquet")
    fit = at_risk.fit_value(ev, as_of=ev["timestamp"].max().normalize() + pd.Timedelta(days=1))
    text = value_sentence(fit)
    assert "e+0" not in text
    assert text.count(" A purchase is a day with revenue from delivery_pass or order.") == 1
    assert value_metrics(fit)["value_models"]["purchase_events"] == ["delivery_pass", "order"]
    g = fit.gamma_gamma
    gamma = float(f"{g.gamma:.3g}")
    se = float(f"{g.standard_errors['gamma']:.2g}")
    shown = (f"{gamma:,.0f}" if gamma >= 100 else f"{gamma:.3g}") + " (± " + (f"{se:,.0f}" if se >= 10 else f"{se:.2g}")
    assert f"γ = {shown})" in text
    one = ev[ev["event"] != "delivery_pass"]
    assert "A purchase is" not in value_sentence(at_risk.fit_value(one, as_of=ev["timestamp"].max()))


def test_a_last_week_cut_mid_week_is_said():
    """weekly export cut mid-week: 74 % churned against 70 % for the full export, with no word that the label
    window ends in a partial week. Brute force: the share is distinct customers of the last 7 days over the
    median of the four 7-day blocks before."""
    from cjlib import churn
    from cjlib.findings.churn import plan_metrics, plan_sentence

    full = weekly_rows(0)
    lastw = full["week"] == full["week"].max()
    cut = full[~lastw | (np.random.default_rng(1).random(len(full)) < 3 / 7)]
    for df, flagged in ((full, False), (cut, True)):
        ev = _weekly_events(df)
        plan = churn.plan_window(ev)
        end = plan.as_of
        blocks = [ev.loc[(ev["timestamp"] >= end - pd.Timedelta(days=7 * (k + 1)))
                         & (ev["timestamp"] < end - pd.Timedelta(days=7 * k)), "customer_id"].nunique()
                  for k in range(5)]
        share = blocks[0] / np.median(blocks[1:])
        assert plan.last_week_share == pytest.approx(share)
        assert plan_metrics(plan)["last_week_active_share"] == pytest.approx(share)
        text = plan_sentence(plan)
        assert ("**The last week looks cut short:**" in text) == flagged
        if flagged:
            assert f" {share:.0%} as many customers were active in the log's last 7 days" in text
    assert np.isnan(churn.last_week_share(_weekly_events(full[full["week"] < "2023-01-20"]), "2023-01-24"))
    short = _weekly_events(full[full["week"] < "2023-02-01"])  # under 35 days: not measured, plans compare equal
    assert churn.plan_window(short).last_week_share is None and churn.plan_window(short) == churn.plan_window(short)
    assert "last_week_active_share" in plan_metrics(churn.plan_window(short))


def test_a_top_decile_at_the_ceiling_says_every_one_churned():
    """weekly export (70 % churn): 'The riskiest 10% churn at 1.42× the base rate' for every model — 1.42 is
    the most a ranking can reach at that base rate (every one of them churned), which the sentence hid."""
    from cjlib import churn
    from cjlib.findings.churn import lift_sentence, lift_title

    y = np.r_[np.ones(700), np.zeros(300)]
    ceiling = churn.lift_table(y, np.r_[np.linspace(1, 0.5, 700), np.linspace(0.4, 0, 300)])
    assert lift_sentence(ceiling) == ("Every one of the riskiest 10% churned (1.43× the base rate, the most any "
                                      "ranking can reach); the riskiest 30% hold 43% of all churners.")
    assert lift_title(ceiling) == "Every customer of the top decile churned: 1.43× the base rate"
    below = churn.lift_table(y, np.r_[np.linspace(1, 0.5, 690), np.full(10, 0.3), np.linspace(0.4, 0, 290),
                                      np.full(10, 2.0)])
    assert lift_sentence(below).startswith("The riskiest 10% churn at 1.29× the base rate")


def test_the_roc_auc_among_active_customers_is_given_when_clearly_lower():
    """weekly export: 'bgnbd ranks churners with ROC AUC 0.939' — over every customer seen in two years, most
    long gone; among the 460 active before the cutoff (the list's kind) it is 0.712, which nothing said."""
    from cjlib.findings.churn import recent_sentence

    m = pd.DataFrame({"roc_auc": [0.939], "n": [1466]}, index=["bgnbd"])
    r = {"n_recent": 460, "churn_rate_recent": 0.274, "mean_predicted_recent": 0.372, "roc_auc_recent": 0.712}
    assert recent_sentence(m, "bgnbd", r) == (
        "Among the 460 customers active in the window before the cutoff — the kind the at-risk list holds — the "
        "ROC AUC is 0.712 (27% of them churned; 37% predicted on average): the 0.939 over all 1,466 also counts "
        "customers long gone before the cutoff, whom recency alone ranks first.")
    assert recent_sentence(m, "bgnbd", {**r, "roc_auc_recent": 0.925}) is None  # within 0.02: nothing to add
    assert recent_sentence(m, "bgnbd", {**r, "n_recent": 29}) is None  # too few to say
    assert recent_sentence(m.assign(roc_auc=0.996), "bgnbd", r) is None  # the leakage warning says it
    assert recent_sentence(m, "bgnbd", {}) is None


def test_the_weekly_report_states_the_active_customers_auc(tmp_path):
    """End to end on the weekly export (600 customers): the model paragraph holds the sentence with the
    numbers metrics.json records."""
    from cjlib import churn
    from cjlib.findings.churn import driver_metrics, model_findings

    ev = _weekly_events(weekly_rows(0, n=600))
    res = churn.validate(ev, churn.plan_window(ev))
    imp = churn.permutation_importance_table(res.models["gbm"], res.X_test, res.y_test, n_repeats=2)
    d = driver_metrics(res, imp)
    assert res.metrics.loc[res.model, "roc_auc"] - d["roc_auc_recent"] > 0.02  # the shape's point
    assert (f"Among the {d['n_recent']:,} customers active in the window before the cutoff — the kind the at-risk "
            f"list holds — the ROC AUC is {d['roc_auc_recent']:.3f}") in model_findings(res)


def test_value_without_a_finite_mean_spend_says_so_and_counts_only_valued_buyers(cdnow_events):
    # mobile game with whales: Gamma-Gamma's q fell to 0.42 (≤ 1: no finite population mean spend); 04 stopped
    # with "number nan is not a finite number", then titled the value chart "No buyer is expected to spend
    # anything" while 38 repeat buyers had values
    import dataclasses
    import re

    from cjlib import at_risk
    from cjlib.findings.churn.value import value_sentence, value_title

    fit = at_risk.fit_value(cdnow_events, as_of="1997-10-01")
    heavy = dataclasses.replace(fit, gamma_gamma=dataclasses.replace(fit.gamma_gamma, q=0.42))
    assert not np.isfinite(heavy.gamma_gamma.mean_spend)
    text = value_sentence(heavy)
    assert re.search(r"q = 0\.42 \(± [0-9.]+\) is at most 1: spend per purchase is so uneven between customers "
                     r"that the model has no finite average, so customers without a repeat purchase get no expected "
                     r"spend and no value", text)
    assert "nan" not in text.lower()
    values = pd.Series([90.0, 5, 5, 0, 0, 0, 0, 0, 0, 0] + [np.nan] * 5)
    assert value_title(values, pd.Timedelta(days=365)) == ("The top 10% of the 10 buyers with a value hold 90% "
                                                           "of the value expected in the next 365 days")
    assert value_title(pd.Series([np.nan] * 3), pd.Timedelta(days=365)) == "Value expected in the next 365 days"
