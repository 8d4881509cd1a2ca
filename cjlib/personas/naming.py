"""Persona names: planted-style rules on each persona's profile first, then plain words from the traits
that set a persona apart, unique across personas."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlib.personas.features import INACTIVE_WINDOW

#: Naming rules in priority order: (name, condition on a persona's profile row, score to prefer).
#: The profile row holds z-scores (``z_<feature>``) and persona-level rates: ``conversion_rate``,
#: ``conv_ratio`` (÷ overall), ``aov_ratio`` (revenue per order ÷ overall), ``top_channel``,
#: ``mobile_share`` (when a device column exists), ``median_purchases`` (a "loyalist" typically buys twice or more).
NAME_RULES: tuple[tuple[str, object, object], ...] = (
    ("High-value loyalists",
     lambda r: r["revenue_ratio"] >= 1.5 and r["conv_ratio"] >= 1.2 and r.get("median_purchases", 2) >= 2,
     lambda r: r["revenue_ratio"]),
    ("Bargain hunters",
     lambda r: r["conv_ratio"] >= 0.6 and r["aov_ratio"] < 0.8,
     lambda r: r["conv_ratio"] - r["aov_ratio"]),
    ("Window shoppers",
     lambda r: r["conv_ratio"] < 0.5 and r["z_events_per_session"] > 0.2,
     lambda r: r["z_events_per_session"] - r["conv_ratio"]),
    ("Social newcomers",
     lambda r: r["top_channel"] in ("social", "display") and r["z_sessions_per_30d"] < 0,
     lambda r: -r["z_sessions_per_30d"]),
    ("Occasional buyers",  # visits materially rarer than the base's (a z of -0.33 was 1.5 against 1.8 a month)
     lambda r: r["conv_ratio"] >= 0.8 and r["z_sessions_per_30d"] <= -0.4,
     lambda r: -r["z_sessions_per_30d"]),
    ("Frequent browsers",
     lambda r: r["conv_ratio"] < 0.8 and r["z_sessions_per_30d"] > 0.3,
     lambda r: r["z_sessions_per_30d"]),
    ("Drive-by visitors",
     lambda r: r["conv_ratio"] < 0.5 and r["z_events_per_session"] < -0.2,
     lambda r: -r["z_events_per_session"]),
)


BUYERS = 0.5  # a persona is "buyers" when most of it bought (48 % converting was "Social-led buyers"), else "browsers"

#: where converting is not buying (a sign-up, a trial): the rule names that say buying, as neutral words;
#: the rules that need revenue ("High-value loyalists", "Bargain hunters") are not tried
NOT_BUYING = {"Occasional buyers": "Occasional converters", "Window shoppers": "Engaged browsers"}
_REVENUE_RULES = ("High-value loyalists", "Bargain hunters")


def _name_rows(profile: pd.DataFrame, f: pd.DataFrame, labels: np.ndarray, k: int) -> pd.DataFrame:
    """Per persona: the quantities the naming rules read."""
    conv = np.bincount(labels, weights=f["_converted"].to_numpy(float), minlength=k) / np.bincount(labels, minlength=k)
    overall_conv = f["_converted"].mean()
    rev = np.bincount(labels, weights=f["_revenue"].to_numpy(float), minlength=k)
    orders = np.bincount(labels, weights=f["_orders"].to_numpy(float), minlength=k)
    size = np.bincount(labels, minlength=k)
    per_cust = rev / np.maximum(size, 1)
    overall_per_cust = f["_revenue"].sum() / max(len(f), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        aov = np.where(orders > 0, rev / np.maximum(orders, 1), np.nan)
    overall_aov = f["_revenue"].sum() / f["_orders"].sum() if f["_orders"].sum() > 0 else np.nan
    rows = pd.DataFrame({
        "conversion_rate": conv,
        "conv_ratio": conv / overall_conv if overall_conv > 0 else np.zeros(k),
        "revenue_ratio": per_cust / overall_per_cust if overall_per_cust > 0 else np.zeros(k),
        "aov_ratio": aov / overall_aov if overall_aov and overall_aov > 0 else np.full(k, np.nan),
    })
    chan = [c for c in f.columns if str(c).startswith("channel_share_")]
    if chan:
        means = np.vstack([np.bincount(labels, weights=f[c].fillna(0).to_numpy(float), minlength=k) for c in chan]).T
        top = means.argmax(axis=1)
        rows["top_channel"] = [chan[i].removeprefix("channel_share_") for i in top]
        size_ = np.maximum(np.bincount(labels, minlength=k), 1)
        overall = f[chan].fillna(0).mean().to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            rows["top_channel_lift"] = [(means[j, i] / size_[j]) / overall[i] if overall[i] > 0 else 1.0
                                        for j, i in enumerate(top)]
    else:
        rows["top_channel"] = ""
        rows["top_channel_lift"] = 1.0
    if "n_purchases" in f:
        rows["median_purchases"] = f.groupby(labels)["n_purchases"].median().reindex(range(k)).to_numpy()
    if "recency_days" in f:  # the cards' churn proxy: no event for longer than INACTIVE_WINDOW at the cutoff
        inactive = (f["recency_days"] > pd.Timedelta(INACTIVE_WINDOW) / pd.Timedelta(days=1)).to_numpy(float)
        rows["inactive_share"] = np.bincount(labels, weights=inactive, minlength=k) / np.maximum(size, 1)
    z = profile["z"]
    for col in ("events_per_session", "sessions_per_30d"):
        rows[f"z_{col}"] = z[col].to_numpy() if col in z.columns else 0.0
    for c in z.columns:
        rows[f"z_{c}"] = z[c].to_numpy()
    return rows.fillna({"aov_ratio": 1.0})


def _descriptors(r: pd.Series) -> list[tuple[str, str, float]]:
    """Plain-word traits that set a persona apart: (kind, words, strength), strongest first.

    A trait is named only when it sets the persona apart (its z-score or ratio) *and* is true of its
    typical member, so a name never contradicts the persona's card:

    - "frequent": purchases well above the base (``z_n_purchases`` ≥ 0.4) and a median of at least two
      purchases (a persona of one-time buyers among non-buyers is not "frequent");
    - "one-time": most bought exactly once (median ≤ 1, at least half converted, purchases below the base);
    - "lapsed" / "recent": recency well above / below the base (``z_recency_days`` ≥ 0.4 / ≤ −0.4) and
      more / fewer than half the persona inactive for ``INACTIVE_WINDOW`` (``inactive_share``, the cards'
      churn proxy; unknown → neither);
    - "big spenders" / "bargain buyers": revenue per order ≥ 1.3× / ≤ 0.77× the base's;
    - "<channel>-led": the persona's top channel at ≥ 1.5× its share in the whole base.
    """
    def get(key, default=0.0):
        v = r.get(key, default)
        return default if v is None or (isinstance(v, float) and np.isnan(v)) else v

    out = []
    z_rec, z_n = float(get("z_recency_days")), float(get("z_n_purchases"))
    inactive = float(get("inactive_share", np.nan))
    if z_rec >= 0.4 and inactive > 0.5:  # "active" would be untrue where most of a base has lapsed
        out.append(("recency", "lapsed", z_rec))
    elif z_rec <= -0.4 and inactive < 0.5:  # weaker: tells a recent persona from a lapsed one ("New …")
        out.append(("recency", "recent", -z_rec * 0.5))
    if z_n >= 0.4 and get("median_purchases", 0) >= 2:
        out.append(("frequency", "frequent", z_n))
    elif get("median_purchases", 2) <= 1 and get("conversion_rate", 0) >= 0.5 and z_n <= -0.1:
        out.append(("frequency", "one-time", max(-z_n, 0.1) + 1.0))  # most bought once: a defining trait
    aov = float(get("aov_ratio", 1.0))
    if aov >= 1.3:
        out.append(("value", "big spenders", float(np.log(aov)) * 2))
    elif 0 < aov <= 0.77:
        out.append(("value", "bargain buyers", float(-np.log(aov)) * 2))
    lift, chan = float(get("top_channel_lift", 1.0)), str(get("top_channel", "") or "")
    if chan and lift >= 1.5:
        out.append(("channel", f"{chan.replace('_', ' ')}-led", float(np.log(lift))))
    return sorted(out, key=lambda t: (-t[2], t[0]))


def _compose(desc: list[tuple[str, str, float]], buyers: bool, n_traits: int, *, purchase: bool = True) -> str:
    """A marketer's name from the strongest ``n_traits`` traits ("Frequent big spenders", "Lapsed regulars");
    where converting is not buying (``purchase`` false) a converting persona is "converters" and no value
    word is used."""
    pick = {kind: words for kind, words, _ in desc[:n_traits]}
    value = pick.pop("value", None)  # "bargain buyers" / "big spenders" only of a persona that mostly buys
    word = "buyers" if purchase else "converters"
    noun = (value if buyers and purchase else None) or (word if buyers else "browsers")
    if pick.get("recency") == "lapsed" and pick.get("frequency") == "frequent" and noun == word:
        pick.pop("frequency")
        noun = "regulars"
    if pick.get("recency") == "recent" and pick.get("frequency") == "one-time":
        pick.pop("frequency")
        pick["recency"] = "new"
    words = [pick[k] for k in ("recency", "frequency", "channel") if k in pick]
    name = " ".join([*words, noun])
    if not words and noun in (word, "browsers"):
        name = "typical " + noun
    return name[0].upper() + name[1:]


def _names(rows: pd.DataFrame, z: pd.DataFrame, *, rules: bool = True, purchase: bool = True) -> list[str]:
    """Persona names: the planted-style rules of :data:`NAME_RULES` first (``rules``), then a plain-words
    name from the traits that set each persona apart (never a raw feature name), unique across personas.
    Where converting is not buying (``purchase`` false) no name says buying (:data:`NOT_BUYING`)."""
    k = len(rows)
    names: list[str | None] = [None] * k
    for name, cond, score in (NAME_RULES if rules else ()):
        if not purchase:
            if name in _REVENUE_RULES:
                continue
            name = NOT_BUYING.get(name, name)
        cands = []
        for i in range(k):
            if names[i] is not None:
                continue
            r = rows.iloc[i]
            try:
                if cond(r):
                    cands.append((-float(score(r)), i))
            except (KeyError, TypeError):
                continue
        if cands:
            names[min(cands)[1]] = name
    used = {n for n in names if n}
    for i in range(k):
        if names[i] is not None:
            continue
        r = rows.iloc[i]
        desc = _descriptors(r)
        buyers = float(r.get("conversion_rate", 1.0) or 0.0) >= BUYERS  # true of the typical member
        cands = [_compose(desc, buyers, t, purchase=purchase) for t in (2, 3, 4)]
        name = next((c for c in cands if c not in used), None)
        if name is None:
            base, j = cands[0], 2
            name = f"{base} {j}"
            while name in used:
                j += 1
                name = f"{base} {j}"
        names[i] = name
        used.add(name)
    return names  # type: ignore[return-value]


