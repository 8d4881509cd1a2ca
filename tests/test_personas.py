"""fit_personas: planted-persona recovery, determinism, subsample stability, input variants, degenerate cases."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from cjlib import synth
from cjlib.features import customer_features
from cjlib.personas import fit_personas
from cjlib.plots import personas as persona_plots

PLANTED_NAMES = {"loyal_premium": "High-value loyalists", "bargain_hunter": "Bargain hunters",
                 "window_shopper": "Window shoppers", "social_newcomer": "Social newcomers"}


@functools.cache
def _data(seed: int, n: int = 3000):
    d = synth.generate(n, seed)
    f = customer_features(d.events, customers=d.customers, feedback=d.feedback)
    truth = d.truth.set_index("customer_id")["persona"].reindex(f.index)
    return d, f, truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_planted_personas(seed):
    _, f, truth = _data(seed)
    r = fit_personas(f, n_boot=10, seed=0)
    assert r.k_ == 4
    ari = adjusted_rand_score(truth, r.labels_)
    assert ari >= 0.8, ari
    # each planted persona's majority cluster carries the matching rule-based name
    majority = pd.crosstab(truth, r.persona_).idxmax(axis=1)
    assert {p: majority[p] for p in PLANTED_NAMES} == PLANTED_NAMES
    assert r.stability_["ari_mean"] >= 0.8
    assert bool(r.scores_.loc[4, "chosen"]) and r.scores_["chosen"].sum() == 1
    cards = r.cards()
    assert cards["name"].tolist() == r.names_
    assert cards["revenue_share"].is_monotonic_decreasing
    assert cards["share"].sum() == pytest.approx(1.0)
    # a trait shows the persona's share against the whole base
    assert cards.loc[0, "typical_plan"].startswith("premium (")


def test_deterministic_and_subsample_keeps_names():
    _, f, _ = _data(0)
    a = fit_personas(f, n_boot=5, seed=3)
    b = fit_personas(f, n_boot=5, seed=3)
    pd.testing.assert_series_equal(a.labels_, b.labels_)
    assert a.names_ == b.names_
    pd.testing.assert_frame_equal(a.scores_, b.scores_)
    pd.testing.assert_frame_equal(a.profile_, b.profile_)
    sub = f.sample(frac=0.9, random_state=11)
    s = fit_personas(sub, n_boot=5, seed=3)
    assert s.k_ == a.k_
    # match personas by overlap on the shared customers: matched personas keep their names
    both = pd.crosstab(a.persona_.loc[sub.index], s.persona_)
    for name in a.names_:
        assert both.loc[name].idxmax() == name
    assert adjusted_rand_score(a.labels_.loc[sub.index], s.labels_) >= 0.9


def test_events_only_and_purchases_only():
    d, _, truth = _data(1)
    f = customer_features(d.events)
    r = fit_personas(f, k_range=(2, 6), n_boot=5)
    assert r.k_ >= 2 and len(r.names_) == len(set(r.names_)) == r.k_
    assert adjusted_rand_score(truth.reindex(f.index), r.labels_) > 0.5
    assert "typical_plan" not in r.cards().columns
    buys = d.events.loc[d.events["event"] == "purchase"].reset_index(drop=True)
    fp = customer_features(buys)
    rp = fit_personas(fp, k_range=(2, 4), n_boot=3)
    cards = rp.cards()
    assert len(cards) == rp.k_ and (cards["conversion_rate"] == 1.0).all()
    assert cards["revenue_share"].sum() == pytest.approx(1.0)


def test_gmm_and_quantile_run():
    _, f, truth = _data(2)
    g = fit_personas(f, method="gmm", k=4, n_boot=2)
    assert g.k_ == 4 and g.scores_["bic"].notna().all()
    assert adjusted_rand_score(truth, g.labels_) > 0.5
    q = fit_personas(f, transform="quantile", k=4, n_boot=0)
    assert q.k_ == 4 and np.isnan(q.stability_["ari_mean"])


def test_include_exclude():
    _, f, _ = _data(0)
    r = fit_personas(f, k=3, n_boot=0, include="age,aov,plan")
    assert r.columns_ == {"numeric": ["age", "aov"], "categorical": ["plan"]}
    r = fit_personas(f, k=3, n_boot=0, exclude=["gender", "region"])
    assert "gender" not in r.columns_["categorical"]
    with pytest.raises(ValueError, match="include names columns"):
        fit_personas(f, include=["nope"])


def test_degenerate_inputs():
    _, f, _ = _data(0)
    with pytest.raises(ValueError, match="at least 2 customers"):
        fit_personas(f.iloc[:1])
    with pytest.raises(ValueError, match="k=5 personas need at least 5"):
        fit_personas(f.iloc[:3], k=5)
    r = fit_personas(f.iloc[:4], n_boot=2)  # auto caps k_range at customers - 1
    assert r.k_ in (2, 3)
    const = pd.DataFrame({"aov": [1.0] * 10, "sessions_per_30d": [2.0] * 10},
                         index=pd.Index(list("abcdefghij"), name="customer_id"))
    with pytest.raises(ValueError, match="constant|no usable"):
        fit_personas(const)
    with pytest.raises(ValueError, match="method"):
        fit_personas(f, method="dbscan")
    with pytest.raises(ValueError, match="k must be"):
        fit_personas(f, k="four")
    with pytest.raises(ValueError, match="k_range"):
        fit_personas(f, k_range=(1, 3))


def test_plots_return_axes():
    import matplotlib.pyplot as plt

    _, f, _ = _data(0)
    r = fit_personas(f, k_range=(3, 5), n_boot=2)
    for ax in (persona_plots.k_selection(r.scores_, title="t"),
               persona_plots.profile_heatmap(r.profile_["z"], title="t"),
               persona_plots.persona_map(r.embedding_, r.persona_, explained=r.explained_variance_ratio_, title="t"),
               persona_plots.persona_cards(r.cards(), title="t")):
        assert ax.get_title() == "t"
    plt.close("all")


def test_profiled_id_and_outcome_columns_never_enter_the_clustering():
    """obs 5: a numeric zip-code prefix was clustered as a number; with the profile's exclusions it is not."""
    import cjlib
    from cjlib.features import excluded_attributes

    d, _, _ = _data(0)
    conv = d.events.loc[d.events["event"] == "purchase", "customer_id"].unique()
    customers = d.customers.assign(
        customer_zip_code_prefix=np.random.default_rng(0).integers(1000, 99999, len(d.customers)),
        status=np.where(d.customers["customer_id"].isin(conv), "customer", "lead"))
    prof = cjlib.profile(cjlib.Inputs(d.events, customers, d.feedback, None, cjlib.load_stage_map()))
    left_out = excluded_attributes(customers, prof)
    assert set(left_out) == {"customer_zip_code_prefix", "status"}
    naive = fit_personas(customer_features(d.events, customers=customers, feedback=d.feedback), k=4, n_boot=0)
    assert "customer_zip_code_prefix" in naive.columns_["numeric"] and "status" in naive.columns_["categorical"]
    f = customer_features(d.events, customers=customers, feedback=d.feedback, exclude=list(left_out))
    r = fit_personas(f, n_boot=10, seed=0)
    used = r.columns_["numeric"] + r.columns_["categorical"]
    assert "customer_zip_code_prefix" not in used and "status" not in used
    # the planted personas are still recovered
    truth = d.truth.set_index("customer_id")["persona"].reindex(f.index)
    assert r.k_ == 4 and adjusted_rand_score(truth, r.labels_) >= 0.8


def test_sizes_profile_columns_and_inactive_window():
    _, f, _ = _data(0)
    r = fit_personas(f, k=4, n_boot=0)
    sizes = r.sizes()
    assert list(sizes.index) == r.names_ and sizes.sum() == len(f)
    assert sizes.iloc[0] == (r.labels_ == 0).sum()
    shown = r.profile_columns()
    assert shown[: len(r.columns_["numeric"])] == [c for c in r.columns_["numeric"] if c in r.profile_["z"].columns]
    assert "monetary" in shown and "recency_days" in shown
    # churn_rate counts customers without an event for longer than the window, per persona
    for window, days in (("90D", 90.0), (pd.Timedelta(days=30), 30.0)):
        rate = r.cards(inactive_window=window)["churn_rate"]
        by_hand = (r.features_["recency_days"] > days).groupby(r.labels_.to_numpy()).mean()
        np.testing.assert_allclose(rate.to_numpy(), by_hand.reindex(range(r.k_)).to_numpy())
    with pytest.raises(ValueError, match="inactive_window"):
        r.cards(inactive_window="soon")


def test_rule_tried_and_explained_variance_are_fields():
    _, f, _ = _data(0)
    r = fit_personas(f, k=4, n_boot=0)
    assert r.rule_ == "fixed k" and r.tried_ == ("kmeans",)
    assert len(r.explained_variance_ratio_) == 2 and 0 < sum(r.explained_variance_ratio_) <= 1
    assert r.explained_variance_ratio_[0] >= r.explained_variance_ratio_[1]
    assert not r.embedding_.attrs


def test_persona_journey_planted_shares():
    from cjlib.personas import persona_journey

    ev = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "c", "c"],
                       "event": ["page_view", "purchase", "page_view", "page_view", "product_view", "purchase"],
                       "timestamp": pd.to_datetime(["2025-01-01 00:00", "2025-01-02 00:00", "2025-01-01 00:00",
                                                    "2025-01-01 00:00", "2025-01-01 00:05", "2025-01-01 00:09"])})
    persona = pd.Series(pd.Categorical(["Buyers", "Browsers", "Buyers"], categories=["Buyers", "Browsers"],
                                       ordered=True), index=pd.Index(["a", "b", "c"], name="customer_id"))
    j = persona_journey(ev, persona, stage_map="data/stage_map.yml")
    assert list(j.index) == ["Buyers", "Browsers"] and j.index.name == "persona"
    assert j.loc["Buyers", "purchase"] == 1.0 and j.loc["Browsers", "purchase"] == 0.0
    assert j.loc["Buyers", "consideration"] == 0.5  # only c viewed a product (a bought from the entry page)


def test_fit_for_inputs_reads_k_as_the_notebook_gives_it(tmp_path):
    import cjlib
    from cjlib.personas import assignment_examples, assignments, fit_for_inputs

    d, _, _ = _data(0)
    ids = d.events["customer_id"].unique()[:600]
    d.events[d.events["customer_id"].isin(ids)].to_csv(tmp_path / "events.csv", index=False)
    data = cjlib.load_inputs(events_path=str(tmp_path / "events.csv"), customers_path="", feedback_path="",
                             costs_path="")
    r = fit_for_inputs(data, k=" 3 ", include="", exclude="", seed=0)
    assert r.k_ == 3 and r.params["k"] == 3
    table = assignments(r, "stable")
    ex = assignment_examples(table, n=2)
    assert len(ex) == 2 and ex.index.name == "customer (pseudonym)"
    assert list(ex["persona"]) == r.names_[:2] or set(ex["persona"]) <= set(r.names_)
    assert not set(ex.index) & set(table.index)  # ids never shown


def test_new_plots_and_tables():
    import matplotlib.pyplot as plt

    from cjlib import plots

    _, f, _ = _data(0)
    r = fit_personas(f, k=3, n_boot=0)
    j = pd.DataFrame({"awareness": [1.0, 1.0, 1.0], "purchase": [0.5, 0.2, 0.1]},
                     index=pd.Index(r.names_, name="persona"))
    ax = persona_plots.persona_journey(j, title="t")
    assert ax.get_title() == "t" and len(ax.get_lines()) == 3
    assert "0.35" not in persona_plots.styled(pd.DataFrame({"silhouette": [0.34567]})).to_html()
    assert "0.346" in persona_plots.styled(pd.DataFrame({"silhouette": [0.34567]})).to_html()
    html = persona_plots.styled(r.cards().assign(aov=np.nan, share=0.25)).to_html()
    assert "–" in html and "25.0%" in html
    # a given Axes is drawn on, its figure is not laid out by the plot
    fig, (a1, a2) = plt.subplots(1, 2)
    called = []
    fig.tight_layout = lambda *a, **k: called.append(1)
    assert persona_plots.persona_cards(r.cards(), title="t", ax=a1) is a1 and not called
    assert plots is not None
    plt.close("all")
