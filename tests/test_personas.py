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
               persona_plots.persona_map(r.embedding_, r.persona_, title="t"),
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
