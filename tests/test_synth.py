"""Tests for cjlib.synth: schemas, invariants, determinism and recovery of the planted truth."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score, roc_auc_score
from sklearn.preprocessing import StandardScaler

from cjlib import synth
from cjlib.stagemap import load_stage_map

CHANNELS = {
    "paid_search",
    "organic_search",
    "social",
    "display",
    "email",
    "direct",
    "referral",
    "affiliate",
}
CHANNEL_GROUPS = {
    "paid_search": "paid",
    "display": "paid",
    "affiliate": "paid",
    "social": "social",
    "email": "owned",
    "direct": "owned",
    "organic_search": "organic",
    "referral": "organic",
}


@pytest.fixture(scope="module")
def data() -> synth.SyntheticData:
    return synth.generate(4000, seed=0)


@pytest.fixture(scope="module")
def big() -> synth.SyntheticData:
    return synth.generate(12000, seed=5)


def _with_persona(d: synth.SyntheticData) -> pd.DataFrame:
    return d.events.merge(d.truth[["customer_id", "persona"]], on="customer_id", how="left")


# --------------------------------------------------------------------------------------------------
# Schemas and invariants
# --------------------------------------------------------------------------------------------------
def test_schemas(data):
    e = data.events
    assert list(e.columns) == [
        "customer_id",
        "timestamp",
        "event",
        "channel",
        "revenue",
        "session_id",
        "device",
    ]
    assert isinstance(e.index, pd.RangeIndex) and e.index.start == 0
    assert pd.api.types.is_datetime64_dtype(e["timestamp"]) and e["timestamp"].dt.tz is None
    assert e["revenue"].dtype == np.float64
    for col in ("customer_id", "event", "channel", "session_id", "device"):
        assert pd.api.types.is_string_dtype(e[col]), col
    assert e["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert set(e["channel"]) == CHANNELS
    assert set(e["device"]) == {"desktop", "mobile", "tablet"}
    assert (e.groupby("customer_id")["device"].nunique() == 1).all()
    assert e["timestamp"].min() >= pd.Timestamp("2025-01-01")
    assert e["timestamp"].max() < pd.Timestamp("2026-01-01")

    c = data.customers
    assert list(c.columns) == ["customer_id", "age", "gender", "region", "signup_date", "plan"]
    assert len(c) == 4000 and c["customer_id"].is_unique
    assert pd.api.types.is_integer_dtype(c["age"]) and c["age"].between(18, 85).all()
    assert set(c["gender"]) == {"female", "male", "other"}
    assert 4 <= c["region"].nunique() <= 5
    assert set(c["plan"]) == {"free", "basic", "premium"}
    assert pd.api.types.is_datetime64_dtype(c["signup_date"])
    assert set(e["customer_id"]) == set(
        c["customer_id"]
    )  # everyone has at least their first session

    f = data.feedback
    assert list(f.columns) == ["customer_id", "timestamp", "score", "scale", "stage", "touchpoint"]
    assert pd.api.types.is_integer_dtype(f["score"])
    csat, nps = f[f["scale"] == "csat"], f[f["scale"] == "nps"]
    assert csat["score"].between(1, 5).all() and nps["score"].between(0, 10).all()
    assert set(f["stage"]) <= set(load_stage_map().stage_names)
    assert set(f["touchpoint"]) <= load_stage_map().known_events
    # about 30 % of purchases get a CSAT, about 10 % of customers an NPS
    n_purchase_csat = (f["stage"] == "purchase").sum()
    assert 0.25 < n_purchase_csat / (e["event"] == "purchase").sum() < 0.35
    assert 0.08 < len(nps) / len(c) < 0.12

    t = data.truth
    assert list(t.columns) == [
        "customer_id",
        "persona",
        "acquisition_channel",
        "device",
        "churned",
        "churn_time",
        "delivery_issue",
        "satisfaction",
    ]
    assert t["churned"].dtype == bool and t["delivery_issue"].dtype == bool
    assert t["churn_time"].isna().eq(~t["churned"]).all()
    assert set(t["persona"]) == set(synth.PERSONAS)
    assert 0.12 < t["delivery_issue"].mean() < 0.18

    json.dumps(data.params)  # serializable
    for key in (
        "personas",
        "channel_effects",
        "friction",
        "churn",
        "start",
        "end",
        "seed",
        "n_customers",
    ):
        assert key in data.params
    assert data.params["friction"] == {
        "column": "device",
        "value": "mobile",
        "from_step": "begin_checkout",
        "to_step": "purchase",
        "multiplier": 0.45,
    }


def test_events_sorted_and_known(data):
    e = data.events
    key = pd.DataFrame({"c": e["customer_id"], "t": e["timestamp"]})
    assert key.equals(key.sort_values(["c", "t"], kind="stable").reset_index(drop=True))
    assert set(e["event"]) <= load_stage_map().known_events
    assert set(e["event"]) == set(synth.EVENTS)


def test_sessions_reproduced_by_30_minute_gap(data):
    e = data.events
    gap = e["timestamp"].diff()
    new = (e["customer_id"] != e["customer_id"].shift()) | (gap > pd.Timedelta(minutes=30))
    sessionized = new.cumsum()
    # one-to-one mapping between the sessionized ids and session_id
    pairs = pd.DataFrame({"a": sessionized, "b": e["session_id"]}).drop_duplicates()
    assert pairs["a"].is_unique and pairs["b"].is_unique
    assert e["session_id"].nunique() == sessionized.nunique()
    same = ~new.to_numpy()
    assert (gap[same] >= pd.Timedelta(seconds=10)).all() and (
        gap[same] <= pd.Timedelta(minutes=10)
    ).all()
    assert (
        gap[new & (e["customer_id"] == e["customer_id"].shift())] >= pd.Timedelta(hours=2)
    ).all()
    # a session uses one channel; the first session's channel is the acquisition channel
    assert (e.groupby("session_id")["channel"].nunique() == 1).all()
    first = e.groupby("customer_id", sort=True)["channel"].first()
    truth = data.truth.set_index("customer_id")["acquisition_channel"]
    assert first.sort_index().equals(truth.loc[first.index].sort_index().rename("channel"))


def test_entry_events(data):
    e = data.events
    first = e.groupby("session_id").first()
    regular = first[~first["event"].isin(["review", "referral", "support_contact"])]
    ad = regular["channel"].isin(["paid_search", "social", "display", "affiliate"])
    assert (regular.loc[ad, "event"] == "ad_click").all()
    assert (regular.loc[~ad, "event"] == "page_view").all()


def test_revenue_exactly_on_purchases(data):
    e = data.events
    purchase = e["event"] == "purchase"
    assert (e.loc[purchase, "revenue"] > 0).all()
    assert e.loc[~purchase, "revenue"].isna().all()


def test_no_events_after_churn(data):
    e = data.events.merge(data.truth[["customer_id", "churned", "churn_time"]], on="customer_id")
    ch = e[e["churned"]]
    assert len(ch) > 0
    assert (ch["timestamp"] < ch["churn_time"]).all()
    assert (
        data.feedback.merge(data.truth, on="customer_id")
        .query("churned")
        .eval("timestamp < churn_time")
        .all()
    )
    # non-churners keep coming back: most of those first seen early are active in the last 3 months
    last = data.events.groupby("customer_id")["timestamp"].max()
    t = data.truth.set_index("customer_id")
    loyal_stayers = t.index[(~t["churned"]) & (t["persona"] == "loyal_premium")]
    assert (last.loc[loyal_stayers] >= pd.Timestamp("2025-10-01")).mean() > 0.8


def test_costs_cover_paid_channels(data):
    c = data.costs
    assert list(c.columns) == ["channel", "period", "spend"]
    assert {"paid_search", "social", "display", "affiliate"} <= set(c["channel"])
    assert set(c["period"]) == {f"2025-{m:02d}" for m in range(1, 13)}
    assert (c["spend"] >= 0).all() and c["spend"].dtype == np.float64
    # spend follows the sessions each channel brought, at distinct costs per visit
    e = data.events
    sessions = e.groupby("session_id").first()
    visits = sessions["channel"].value_counts()
    total = c.groupby("channel")["spend"].sum()
    cpv = total / visits.reindex(total.index)
    for ch, expected in data.params["cost_per_visit"].items():
        assert cpv[ch] == pytest.approx(expected, rel=0.08)


def test_volume(data):
    per_customer = len(data.events) / len(data.customers)
    assert 15 <= per_customer <= 30


# --------------------------------------------------------------------------------------------------
# Determinism and I/O
# --------------------------------------------------------------------------------------------------
def test_deterministic():
    a, b, c = synth.generate(300, seed=3), synth.generate(300, seed=3), synth.generate(300, seed=4)
    for name in ("events", "customers", "feedback", "costs", "truth"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.params == b.params
    assert not a.events.equals(c.events)
    assert not a.truth.equals(c.truth)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_customers"):
        synth.generate(0)
    with pytest.raises(ValueError, match="end"):
        synth.generate(10, start="2025-01-01", end="2024-01-01")


def test_write_round_trip(tmp_path):
    d = synth.generate(200, seed=1)
    out = tmp_path / "sample"
    d.write(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "events.parquet",
            "customers.parquet",
            "feedback.parquet",
            "costs.csv",
            "truth.parquet",
            "truth.json",
        ]
    )
    for name in ("events", "customers", "feedback", "truth"):
        got = pd.read_parquet(out / f"{name}.parquet")
        pd.testing.assert_frame_equal(got, getattr(d, name), check_dtype=False)
    costs = pd.read_csv(out / "costs.csv", dtype={"period": str})
    pd.testing.assert_frame_equal(costs, d.costs, check_dtype=False)
    assert json.loads((out / "truth.json").read_text()) == d.params


def test_main_writes_sample(tmp_path):
    assert synth.main(["--customers", "50", "--seed", "2", "--out", str(tmp_path / "s")]) == 0
    ev = pd.read_parquet(tmp_path / "s" / "events.parquet")
    pd.testing.assert_frame_equal(ev, synth.generate(50, seed=2, variant_split=0.5).events, check_dtype=False)


# --------------------------------------------------------------------------------------------------
# Planted-truth recovery
# --------------------------------------------------------------------------------------------------
def _persona_features(d: synth.SyntheticData) -> pd.DataFrame:
    e = d.events
    g = e.groupby("customer_id")
    feats = pd.DataFrame(
        {
            "n_sessions": g["session_id"].nunique(),
            "n_events": g.size(),
            "n_purchases": e.assign(p=e["event"].eq("purchase")).groupby("customer_id")["p"].sum(),
            "mean_revenue": g["revenue"].mean(),
        }
    )
    feats["events_per_session"] = feats["n_events"] / feats["n_sessions"]
    sessions = e.drop_duplicates("session_id")
    share = pd.crosstab(
        sessions["customer_id"], sessions["channel"].map(CHANNEL_GROUPS), normalize="index"
    )
    feats = feats.join(share.add_prefix("share_")).drop(columns="n_events")
    cust = d.customers.set_index("customer_id")
    feats = feats.join(cust[["age"]]).join(pd.get_dummies(cust["plan"], prefix="plan", dtype=float))
    return feats.fillna(0.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_personas_recoverable(seed):
    d = synth.generate(3000, seed=seed)
    feats = _persona_features(d)
    x = StandardScaler().fit_transform(np.log1p(feats.to_numpy(dtype=float)))
    labels = KMeans(n_clusters=4, n_init=10, random_state=0).fit_predict(x)
    truth = d.truth.set_index("customer_id").loc[feats.index, "persona"]
    assert adjusted_rand_score(truth, labels) >= 0.85


def test_mobile_checkout_friction(big):
    """Sessions reaching begin_checkout end in a purchase at 0.80 off mobile and 0.45 × that on mobile."""
    e = big.events
    s = (
        e.assign(c=e["event"].eq("begin_checkout"), p=e["event"].eq("purchase"))
        .groupby("session_id")
        .agg(device=("device", "first"), c=("c", "any"), p=("p", "any"))
    )
    s = s[s["c"]]
    rate = s.groupby(s["device"] == "mobile")["p"].mean()
    planted = big.params["friction"]["multiplier"]
    assert rate[False] == pytest.approx(big.params["p_purchase_after_checkout"], abs=0.03)
    assert rate[True] / rate[False] == pytest.approx(planted, abs=0.05)
    errors = e[e["event"] == "payment_error"]
    assert (errors["device"] == "mobile").mean() > 0.8
    # purchases never happen without a begin_checkout earlier in the same session
    first_checkout = e[e["event"] == "begin_checkout"].groupby("session_id")["timestamp"].min()
    buys = e[e["event"] == "purchase"]
    assert (buys["timestamp"].to_numpy() > first_checkout.loc[buys["session_id"]].to_numpy()).all()


def test_channel_effect_on_conversion(big):
    """Within a persona, a channel's consideration→purchase conversion follows its planted multiplier."""
    e = _with_persona(big)
    mult = big.params["channel_effects"]["consideration->purchase"]
    consider = {"product_view", "search", "add_to_wishlist", "add_to_cart", "begin_checkout"}
    s = (
        e.assign(c=e["event"].isin(consider), p=e["event"].eq("purchase"))
        .groupby("session_id")
        .agg(
            channel=("channel", "first"),
            persona=("persona", "first"),
            c=("c", "any"),
            p=("p", "any"),
        )
    )
    s = s[s["c"] & (s["persona"] == "bargain_hunter")]
    conv = s.groupby("channel")["p"].mean()
    assert mult["email"] > mult["paid_search"] > mult["affiliate"]
    assert conv["email"] > conv["paid_search"] > conv["affiliate"]
    assert conv["email"] / conv["affiliate"] == pytest.approx(
        mult["email"] / mult["affiliate"], rel=0.25
    )
    # awareness→consideration: display (0.6) sessions reach consideration less often than social (1.3)
    s_all = (
        e.assign(c=e["event"].isin(consider))
        .groupby("session_id")
        .agg(
            channel=("channel", "first"),
            persona=("persona", "first"),
            entry=("event", "first"),
            c=("c", "any"),
        )
    )
    sn = s_all[(s_all["persona"] == "social_newcomer") & (s_all["entry"] == "ad_click")]
    reach = sn.groupby("channel")["c"].mean()
    ratio = big.params["channel_effects"]["awareness->consideration"]
    assert reach["social"] / reach["display"] == pytest.approx(
        ratio["social"] / ratio["display"], rel=0.2
    )


def test_personas_differ_as_planted(big):
    e = _with_persona(big)
    per = (
        e.assign(p=e["event"].eq("purchase"))
        .groupby("persona")
        .agg(sessions=("session_id", "nunique"), purchases=("p", "sum"), aov=("revenue", "mean"))
    )
    per["customers"] = big.truth["persona"].value_counts()
    per["sessions_pc"] = per["sessions"] / per["customers"]
    assert per["aov"].idxmax() == "loyal_premium" and per["aov"].idxmin() == "bargain_hunter"
    assert (
        per["sessions_pc"].idxmax() == "loyal_premium"
        and per["sessions_pc"].idxmin() == "social_newcomer"
    )
    churn = big.truth.groupby("persona")["churned"].mean()
    assert churn.idxmax() == "social_newcomer" and churn.idxmin() == "loyal_premium"


def test_churners_less_satisfied(big):
    f = big.feedback.merge(
        big.truth[["customer_id", "churned", "delivery_issue"]], on="customer_id"
    )
    csat = f[f["scale"] == "csat"]
    by_churn = csat.groupby("churned")["score"].mean()
    assert by_churn[True] < by_churn[False] - 0.2
    by_issue = csat[csat["stage"] == "purchase"].groupby("delivery_issue")["score"].mean()
    assert by_issue[True] < by_issue[False] - 0.5
    nps = f[f["scale"] == "nps"].groupby("churned")["score"].mean()
    assert nps[True] < nps[False]
    # delivery issues produce support contacts
    sc = big.events[big.events["event"] == "support_contact"].merge(big.truth, on="customer_id")
    assert sc["delivery_issue"].mean() > 0.7


def test_churn_predictable_at_cutoff(big):
    """Recency, frequency, mean CSAT and support contacts before end − 90 days predict later inactivity."""
    end = pd.Timestamp(big.params["end"])
    cutoff = end - pd.Timedelta(days=90)
    e = big.events
    before, after = e[e["timestamp"] < cutoff], e[e["timestamp"] >= cutoff]
    g = before.groupby("customer_id")
    x = pd.DataFrame(
        {
            "recency": (cutoff - g["timestamp"].max()).dt.total_seconds() / 86400,
            "frequency": g["session_id"].nunique(),
            "support": before.assign(s=before["event"].eq("support_contact"))
            .groupby("customer_id")["s"]
            .sum(),
        }
    )
    fb = big.feedback[(big.feedback["timestamp"] < cutoff) & (big.feedback["scale"] == "csat")]
    x["csat"] = fb.groupby("customer_id")["score"].mean()
    x["has_csat"] = x["csat"].notna().astype(float)
    x["csat"] = x["csat"].fillna(x["csat"].mean())
    y = ~x.index.isin(after["customer_id"].unique())
    model = LogisticRegression(max_iter=1000).fit(np.log1p(x), y)
    auc = roc_auc_score(y, model.predict_proba(np.log1p(x))[:, 1])
    assert auc > 0.75


def test_write_uses_regular_file_mode(tmp_path):
    synth.generate(20, seed=0).write(tmp_path)
    old = os.umask(0)
    os.umask(old)
    assert (tmp_path / "events.parquet").stat().st_mode & 0o777 == 0o666 & ~old
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_data_writes_the_sample(tmp_path):
    """`python -m cjlib data` (what `make data` runs) writes the tables; its options are not report options."""
    from cjlib import cli

    assert cli.main(["data", "--customers", "40", "--seed", "3", "--out", str(tmp_path / "s")]) == 0
    ev = pd.read_parquet(tmp_path / "s" / "events.parquet")
    assert ev["customer_id"].nunique() == 40 and (tmp_path / "s" / "customers.parquet").exists()


def test_same_draws_as_the_single_module_generator():
    """The package runs the random draws of the former single-module generator in the same order: these
    fingerprints were taken from cjlib/synth.py before the split (issue 18). Without an A/B test (the
    default since issue 20) every table is as before."""
    import hashlib

    d = synth.generate(300, seed=2)
    assert "variant" not in d.events.columns and "variant" not in d.truth.columns and d.params["ab_test"] is None

    def fingerprint(df):
        return hashlib.sha256(pd.util.hash_pandas_object(df, index=True).values.tobytes()).hexdigest()[:16]

    assert {name: fingerprint(getattr(d, name)) for name in ("events", "customers", "feedback", "costs", "truth")} == {
        "events": "2c21e175fbc88d1a", "customers": "13d20cb315d3d4c3", "feedback": "3723f2dec5593b2f",
        "costs": "fee9ead735a32d50", "truth": "6c6dcc58b97ce699"}
    assert (len(d.events), len(d.feedback)) == (7846, 153)


def test_persona_specs_table_matches_params():
    """The persona table (one row per parameter) gives every persona its planted values in params."""
    p = synth.generate(20, seed=0).params["personas"]
    assert p["loyal_premium"]["aov"] == 120.0 and p["social_newcomer"]["churn_hazard_per_day"] == 0.007
    assert p["window_shopper"]["plan_probs"] == {"free": 0.88, "basic": 0.10, "premium": 0.02}
    assert p["bargain_hunter"]["acquisition_channel_probs"]["affiliate"] == 0.35
    assert sum(v["weight"] for v in p.values()) == pytest.approx(1.0)


def test_module_runs_as_a_script(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "cjlib.synth", "--customers", "30", "--seed", "1", "--out",
                          str(tmp_path / "s")], capture_output=True, text=True, check=True)
    assert "for 30 customers" in out.stdout and (tmp_path / "s" / "events.parquet").is_file()


# --------------------------------------------------------------------------------------------------
# The planted A/B test (issue 20)
# --------------------------------------------------------------------------------------------------
def _checkout_sessions(d: synth.SyntheticData) -> pd.DataFrame:
    """Sessions with an add_to_cart: variant and whether they went on to begin_checkout."""
    e = d.events
    s = (
        e.assign(a=e["event"].eq("add_to_cart"), c=e["event"].eq("begin_checkout"))
        .groupby("session_id")
        .agg(variant=("variant", "first"), a=("a", "any"), c=("c", "any"))
    )
    return s[s["a"]]


@pytest.fixture(scope="module")
def ab_big() -> synth.SyntheticData:
    return synth.generate(12000, seed=5, variant_split=0.5)


def test_ab_test_planted_at_one_step(ab_big):
    """Half the customers are treated; sessions with a cart reach begin_checkout about `lift` more often in
    treatment, and the step before (add_to_cart) and after (purchase) do not move."""
    big = ab_big
    e = big.events
    assert list(e.columns)[-2:] == ["device", "variant"] and pd.api.types.is_string_dtype(e["variant"])
    assert (e.groupby("customer_id")["variant"].nunique() == 1).all()
    ab = big.params["ab_test"]
    assert ab["from_step"] == "add_to_cart" and ab["to_step"] == "begin_checkout" and ab["unit"] == "customer"
    assert ab["levels"] == ["control", "treatment"] and ab["treatment_share"] == 0.5 and ab["lift"] == 0.06
    t = big.truth
    assert t["variant"].eq("treatment").mean() == pytest.approx(0.5, abs=0.015)
    # the truth agrees with the events, and the assignment is independent of the persona
    per_cust = big.events.groupby("customer_id")["variant"].first()
    assert (per_cust == t.set_index("customer_id")["variant"].loc[per_cust.index]).all()
    share = pd.crosstab(t["persona"], t["variant"], normalize="index")["treatment"]
    assert share.between(0.46, 0.54).all()

    s = _checkout_sessions(big)
    rate = s.groupby("variant")["c"].mean()
    # persona bases are 0.50-0.85 and the lift is added to each, so the difference is the lift
    assert rate["treatment"] - rate["control"] == pytest.approx(ab["lift"], abs=0.02)

    e = big.events
    sess = (
        e.assign(v=e["event"].eq("product_view"), a=e["event"].eq("add_to_cart"),
                 c=e["event"].eq("begin_checkout"), p=e["event"].eq("purchase"))
        .groupby("session_id")
        .agg(variant=("variant", "first"), v=("v", "any"), a=("a", "any"), c=("c", "any"), p=("p", "any"))
    )
    cart = sess[sess["v"]].groupby("variant")["a"].mean()
    buy = sess[sess["c"]].groupby("variant")["p"].mean()
    assert abs(cart["treatment"] - cart["control"]) < 0.01
    assert abs(buy["treatment"] - buy["control"]) < 0.015


def test_variant_split_plants_an_imbalance_and_only_the_assignment():
    """``variant_split`` sets the treatment share; the assignment stream is the same, so a customer in
    treatment at 0.5 stays in treatment at 0.52; without an A/B test nothing but the column goes."""
    a = synth.generate(6000, seed=3, variant_split=0.5)
    b = synth.generate(6000, seed=3, variant_split=0.52)
    ta, tb = (d.truth.set_index("customer_id")["variant"].eq("treatment") for d in (a, b))
    assert tb.mean() == pytest.approx(0.52, abs=0.015) and b.params["ab_test"]["treatment_share"] == 0.52
    assert not (ta & ~tb).any()  # u < 0.5 implies u < 0.52
    assert (tb & ~ta).sum() == pytest.approx(0.02 * 6000, rel=0.35)
    # everything drawn before the sessions is the same with and without a test
    none = synth.generate(6000, seed=3)
    pd.testing.assert_frame_equal(none.customers, a.customers)
    pd.testing.assert_frame_equal(none.truth, a.truth.drop(columns="variant"))
    assert "variant" not in none.events.columns and none.params["ab_test"] is None
    for bad in (0, 1, 1.5, -0.1, True, "half"):
        with pytest.raises(ValueError, match="variant_split"):
            synth.generate(20, variant_split=bad)


def test_cli_variant_split(tmp_path):
    """The command line (what writes the sample) plants the 50/50 test unless told otherwise."""
    assert synth.main(["--customers", "50", "--seed", "1", "--out", str(tmp_path / "s")]) == 0
    assert json.loads((tmp_path / "s" / "truth.json").read_text())["ab_test"]["treatment_share"] == 0.5
    assert synth.main(["--customers", "50", "--seed", "1", "--variant-split", "none", "--out", str(tmp_path / "a")]) == 0
    assert "variant" not in pd.read_parquet(tmp_path / "a" / "events.parquet").columns
    assert synth.main(["--customers", "50", "--seed", "1", "--variant-split", "0.3", "--out", str(tmp_path / "b")]) == 0
    assert json.loads((tmp_path / "b" / "truth.json").read_text())["ab_test"]["treatment_share"] == 0.3
