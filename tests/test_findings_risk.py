"""04 churn and customer value on log shapes nobody built it for — a grocery-delivery app (weekly orders,
a ``delivery_pass`` subscription, daily app opens, a churn hazard planted after ``delivery_late``) and a
weekly-aggregated export (dates only, every event on a Monday) with its variants: ten days, every
customer's last event on the export day, one bot among normal customers, a last week cut mid-week. Each
false or unearned sentence is pinned on a hand-made case; every test fails on the code before its fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
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
    and one with 300,000 visit rows), ``partial`` (the last week holds only the 3 of 7 days exported:
    each of its rows kept with probability 3/7)."""
    rng = np.random.default_rng(seed + 1)
    if variant == "bot":
        df = weekly_rows(seed, n=2000)
        last = pd.Timestamp(df["week"].max())
        bot_weeks = (last - pd.to_timedelta(rng.integers(0, 104, 300_000) * 7, unit="D")).strftime("%Y-%m-%d")
        df = pd.concat([df, pd.DataFrame({"customer": "BOT", "week": bot_weeks, "event": "visit",
                                          "revenue": np.nan})], ignore_index=True)
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
