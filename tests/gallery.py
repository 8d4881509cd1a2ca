"""A gallery of log shapes (DESIGN §6) and the rules every finding must pass on them.

Generator
    :func:`write_case` writes one complete case of a shape into a folder: the tables (CSV or Parquet,
    under the column names real exports use, mapped back to the data contract by a per-table
    ``columns:`` mapping), the shape's own ``stage_map.yml`` and a ``params.yaml`` whose paths are
    relative to itself, ready for ``python -m cjlib report -f params.yaml``. Every shape is generated
    from a seeded :func:`numpy.random.default_rng` (no downloads) and returns a :class:`Case` holding
    the roles the data supports and a few planted facts (exact counts the reports must reproduce).

    =================  ==================================================================================
    purchases_only     one ``purchase`` event with revenue over 18 months, most buyers buy once, a long
                       tail of repeaters (CDNOW-like); no channel, no cart.
    clickstream        6 months of web events (page → product → cart → checkout → purchase, ~2–3 %
                       buy); seconds to minutes within visits, days between visits; no revenue, no channel.
    order_lifecycle    order placed → approved → shipped → delivered → review, hours to days apart
                       (Olist-like): revenue on the placed event, an outcome-like ``order_status``, a
                       numeric zip-code prefix and a state per customer, review scores as feedback.
    b2b_leads          ~150 accounts, lead → MQL → SQL → opportunity → won over weeks to months, a few
                       lead sources as channels, a spend table.
    six_months         the synthetic sample (:mod:`cjlib.synth`) limited to a 6-month span.
    tiny               50 customers of the synthetic sample, CSV.
    every_table        every optional input: customers, CSAT and NPS feedback matched to stages, costs,
                       ``session_id``, an A/B ``variant`` and hierarchical channel names (``Email > …``).
    =================  ==================================================================================

Rules
    Each ``rule_*`` function takes finding texts (Markdown findings and chart titles, or lines of the
    index page) and returns the offending sentences; an empty list means the texts pass. They are
    unit-tested on hand-written good and bad sentences in ``tests/test_gallery.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

__all__ = ["SHAPES", "Case", "write_case", "sentences", "read_texts", "index_texts", "index_metric_values",
           "rule_no_undefined_words", "rule_no_dead_trend", "rule_no_repeated_subject",
           "rule_no_tied_ranking", "rule_no_unsupported_role", "rule_sections_say_why",
           "rule_index_values_defined", "check_texts"]


# =============================================================================================== cases
@dataclass
class Case:
    """One generated case: where its params file is, which roles its data supports, planted facts."""

    shape: str
    folder: Path
    params_path: Path
    has_revenue: bool
    has_channel: bool
    has_cart: bool
    facts: dict = field(default_factory=dict)


def _write_yaml(path: Path, obj) -> None:
    path.write_text(yaml.safe_dump(obj, sort_keys=False, allow_unicode=True))


def _params(folder: Path, *, events: str, customers: str = "", feedback: str = "", costs: str = "",
            columns: dict | None = None, seed: int = 0) -> Path:
    """Write ``params.yaml`` (paths relative to it) and return its path."""
    p = folder / "params.yaml"
    _write_yaml(p, {"events_path": events, "customers_path": customers, "feedback_path": feedback,
                    "costs_path": costs, "stage_map_path": "stage_map.yml", "columns": columns or "",
                    "seed": seed})
    return p


def _ts(t0: pd.Timestamp, seconds: np.ndarray) -> pd.Series:
    return pd.Series(t0 + pd.to_timedelta(np.round(seconds).astype(np.int64), unit="s"))


DAY = 86_400.0


# ---------------------------------------------------------------------------------- purchases only
def _purchases_only(folder: Path, rng: np.random.Generator) -> Case:
    """CDNOW-like: customers first buy in the first quarter, ~60 % never again, repeaters buy every
    ~2 months (exponential gaps) until they lapse; 18 months in all, one ``purchase`` event type."""
    n = 1500
    t0, span = pd.Timestamp("2023-01-01"), 547 * DAY
    first = rng.random(n) * 90 * DAY
    repeater = rng.random(n) < 0.40
    rows_c, rows_t = [], []
    for i in range(n):
        t = first[i]
        times = [t]
        if repeater[i]:
            life = rng.exponential(300 * DAY)
            while True:
                t += rng.exponential(60 * DAY) + DAY
                if t > first[i] + life or t >= span:
                    break
                times.append(t)
        rows_c += [i] * len(times)
        rows_t += times
    rows_c, rows_t = np.array(rows_c), np.array(rows_t)
    amount = np.round(np.exp(rng.normal(3.2, 0.7, len(rows_c))), 2)
    df = pd.DataFrame({
        "user_id": [f"U{c:05d}" for c in rows_c],
        "order_date": _ts(t0, rows_t).dt.strftime("%Y-%m-%d"),  # dates only, as in CDNOW
        "event_type": "purchase",
        "num_products": 1 + rng.poisson(0.8, len(rows_c)),
        "amount": amount,
    }).sort_values(["order_date", "user_id"], kind="stable")
    df.to_csv(folder / "transactions.csv", index=False)
    _write_yaml(folder / "stage_map.yml", {
        "stages": [{"name": "first_purchase", "events": ["purchase"]},
                   {"name": "repeat_purchase", "events": ["purchase"], "nth": 2}],
        "conversion_events": ["purchase"],
        "journeys": {"buying": {"steps": ["first_purchase", "repeat_purchase"]}},
        "default_journey": "buying",
    })
    # repeaters as the data shows them (two purchases on one day count twice, as the log has two rows)
    counts = df.groupby("user_id").size()
    params = _params(folder, events="transactions.csv", columns={
        "events": {"customer_id": "user_id", "timestamp": "order_date", "event": "event_type",
                   "revenue": "amount"}})
    return Case("purchases_only", folder, params, has_revenue=True, has_channel=False, has_cart=False,
                facts={"customers": int(len(counts)), "reached": {"repeat_purchase": int((counts >= 2).sum())}})


# -------------------------------------------------------------------------------------- clickstream
def _clickstream(folder: Path, rng: np.random.Generator) -> Case:
    """GA-like web clickstream: visits days apart, events seconds to minutes apart within a visit."""
    n = 1200
    t0, span = pd.Timestamp("2024-01-01"), 182 * DAY
    device = rng.choice(["desktop", "mobile", "tablet"], n, p=[0.45, 0.48, 0.07])
    country = rng.choice(["US", "GB", "DE", "FR", "CA", "IN"], n, p=[0.4, 0.15, 0.15, 0.1, 0.1, 0.1])
    cid, ts, ev, page = [], [], [], []
    for i in range(n):
        t = rng.random() * span * 0.9
        for _ in range(1 + rng.poisson(1.5)):
            if t >= span:
                break
            s = t
            steps = ["page_view"] * (1 + rng.poisson(1.2))
            if rng.random() < 0.55:
                steps += ["product_view"] * (1 + rng.poisson(1.0))
                if rng.random() < 0.18:
                    steps.append("add_to_cart")
                    if rng.random() < 0.35:
                        steps.append("begin_checkout")
                        if rng.random() < 0.33:
                            steps.append("purchase")
            for e in steps:
                cid.append(i)
                ts.append(s)
                ev.append(e)
                page.append(f"/p/{rng.integers(1, 400)}" if e == "product_view" else
                            ("/" if e == "page_view" else f"/{e.replace('_', '-')}"))
                s += rng.exponential(45.0) + 2.0
            t += rng.exponential(12 * DAY) + 0.2 * DAY
    cid = np.array(cid)
    df = pd.DataFrame({
        "user_pseudo_id": [f"{1_000_000_000 + 7919 * c}.{1_700_000_000 + c}" for c in cid],
        "event_time": _ts(t0, np.array(ts)).dt.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "event_name": ev,
        "page_location": page,
        "device_category": device[cid],
        "geo_country": country[cid],
    })
    df.to_parquet(folder / "events.parquet", index=False)
    _write_yaml(folder / "stage_map.yml", {
        "stages": [{"name": "visit", "events": ["page_view"]},
                   {"name": "browse", "events": ["product_view"]},
                   {"name": "basket", "events": ["add_to_cart", "begin_checkout"]},
                   {"name": "conversion", "events": ["purchase"]}],
        "conversion_events": ["purchase"],
        "cart_events": ["add_to_cart"],
        "journeys": {"shopping": {"steps": ["visit", "browse", "basket", "conversion"]},
                     "basket_flow": {"steps": ["product_view", "add_to_cart", "begin_checkout", "purchase"]}},
        "default_journey": "shopping",
        "checkout_journey": "basket_flow",
    })
    params = _params(folder, events="events.parquet", columns={
        "events": {"customer_id": "user_pseudo_id", "timestamp": "event_time", "event": "event_name"}})
    buyers = df.loc[df["event_name"] == "purchase", "user_pseudo_id"].nunique()
    return Case("clickstream", folder, params, has_revenue=False, has_channel=False, has_cart=True,
                facts={"customers": int(df["user_pseudo_id"].nunique()), "reached": {"conversion": int(buyers)}})


# ---------------------------------------------------------------------------------- order lifecycle
_STATES = ["SP", "RJ", "MG", "RS", "PR", "SC", "BA", "DF", "GO", "ES"]


def _order_lifecycle(folder: Path, rng: np.random.Generator) -> Case:
    """Olist-like orders: placed → approved (minutes to a day) → shipped (1–5 days) → delivered (3–20
    days) → review (1–10 days after delivery, 75 %). 3 % are canceled after placing, 2 % never arrive;
    ``order_status`` is each order's final status (an outcome-like column)."""
    n = 1500
    t0, span = pd.Timestamp("2017-01-01"), 600 * DAY
    n_orders = 1 + (rng.random(n) < 0.09) * (1 + rng.poisson(0.3, n))
    rows, reviews = [], []
    oid = 0
    for i in range(n):
        t = rng.random() * span * 0.9
        for _ in range(n_orders[i]):
            oid += 1
            u = rng.random()
            status = "canceled" if u < 0.03 else ("shipped" if u < 0.05 else "delivered")
            value = float(np.round(np.exp(rng.normal(4.6, 0.6)), 2))
            steps = [("order_placed", t)]
            if status != "canceled":
                ta = t + rng.exponential(6 * 3600) + 600
                ts_ = ta + rng.uniform(1, 5) * DAY
                steps += [("order_approved", ta), ("order_shipped", ts_)]
                if status == "delivered":
                    td = ts_ + rng.uniform(3, 20) * DAY
                    steps.append(("order_delivered", td))
                    if rng.random() < 0.75:
                        tr = td + rng.uniform(1, 10) * DAY
                        steps.append(("review_written", tr))
                        late = td - t > 15 * DAY
                        score = int(np.clip(rng.normal(3.0 if late else 4.4, 1.0), 1, 5).round())
                        reviews.append((i, tr, score))
            for e, te in steps:
                rows.append((i, f"{oid:08x}", te, e, value if e == "order_placed" else np.nan, status))
            t += rng.exponential(120 * DAY) + 10 * DAY
    ev = pd.DataFrame(rows, columns=["c", "order_id", "t", "event_name", "payment_value", "order_status"])
    ev = ev[ev["t"] < span + 40 * DAY]
    uid = np.array([f"{(c * 2654435761) % (1 << 32):08x}{c:04d}" for c in range(n)])
    ev.insert(0, "customer_unique_id", uid[ev["c"].to_numpy()])
    ev["order_purchase_timestamp"] = _ts(t0, ev["t"].to_numpy()).dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()
    ev = ev.drop(columns=["c", "t"])[["customer_unique_id", "order_id", "order_purchase_timestamp",
                                      "event_name", "payment_value", "order_status"]]
    ev.to_csv(folder / "order_events.csv", index=False)
    state = rng.choice(_STATES, n, p=np.array([40, 13, 12, 6, 5, 4, 4, 3, 2, 2]) / 91)
    pd.DataFrame({"customer_unique_id": uid, "customer_zip_code_prefix": rng.integers(1000, 99990, n),
                  "customer_state": state}).to_csv(folder / "customers.csv", index=False)
    rv = pd.DataFrame(reviews, columns=["c", "t", "review_score"])
    pd.DataFrame({"customer_unique_id": uid[rv["c"].to_numpy()],
                  "review_creation_date": _ts(t0, rv["t"].to_numpy()).dt.strftime("%Y-%m-%d %H:%M:%S"),
                  "review_score": rv["review_score"], "stage": "delivered"}).to_csv(folder / "reviews.csv",
                                                                                    index=False)
    _write_yaml(folder / "stage_map.yml", {
        "stages": [{"name": "ordered", "events": ["order_placed"]},
                   {"name": "approved", "events": ["order_approved"]},
                   {"name": "shipped", "events": ["order_shipped"]},
                   {"name": "delivered", "events": ["order_delivered"]},
                   {"name": "reviewed", "events": ["review_written"]},
                   {"name": "repeat_order", "events": ["order_placed"], "nth": 2}],
        "conversion_events": ["order_placed"],
        "journeys": {"fulfilment": {"steps": ["ordered", "approved", "shipped", "delivered", "reviewed"]},
                     "order_flow": {"steps": ["order_placed", "order_approved", "order_shipped",
                                              "order_delivered"]}},
        "default_journey": "fulfilment",
        "checkout_journey": "order_flow",
    })
    params = _params(folder, events="order_events.csv", customers="customers.csv", feedback="reviews.csv",
                     columns={"events": {"customer_id": "customer_unique_id",
                                         "timestamp": "order_purchase_timestamp", "event": "event_name",
                                         "revenue": "payment_value"},
                              "customers": {"customer_id": "customer_unique_id"},
                              "feedback": {"customer_id": "customer_unique_id",
                                           "timestamp": "review_creation_date", "score": "review_score"}})
    placed = (ev["event_name"] == "order_placed").sum()
    delivered = (ev["event_name"] == "order_delivered").sum()
    return Case("order_lifecycle", folder, params, has_revenue=True, has_channel=False, has_cart=False,
                facts={"customers": int(ev["customer_unique_id"].nunique()),
                       "delivered_share_of_orders": float(delivered / placed),
                       "outcome_words": ["order_status", "canceled"], "id_words": ["zip_code", "zip code"]})


# -------------------------------------------------------------------------------------------- B2B
_SOURCES = ["webinar", "paid_search", "referral", "outbound"]


def _b2b_leads(folder: Path, rng: np.random.Generator) -> Case:
    """~150 accounts through a sales pipeline; weeks to months between steps; each account has a lead
    source and later touches come from a few channels; won deals carry the deal amount."""
    n = 150
    t0, span = pd.Timestamp("2022-07-01"), 540 * DAY
    steps = [("lead_created", 1.0, 0), ("became_mql", 0.72, 21), ("became_sql", 0.66, 30),
             ("opportunity_created", 0.72, 35), ("closed_won", 0.5, 60)]
    src_p = np.array([0.35, 0.3, 0.2, 0.15])
    rows = []
    for i in range(n):
        src = _SOURCES[rng.choice(4, p=src_p)]
        t = rng.random() * span * 0.6
        for k, (e, p, gap) in enumerate(steps):
            if k:
                if rng.random() > p * (1.15 if src == "referral" else 1.0):
                    if e == "closed_won" or rng.random() < 0.2:
                        rows.append((i, t + rng.uniform(7, 60) * DAY, "closed_lost", "outbound", np.nan))
                    break
                t += rng.gamma(2.0, gap / 2.0) * DAY + DAY
                # a few nurturing touches between steps
                for _ in range(rng.poisson(1.5)):
                    rows.append((i, t - rng.uniform(1, 10) * DAY, "email_click", "email", np.nan))
            ch = src if k == 0 else ("outbound" if e in ("became_sql", "opportunity_created") else
                                     rng.choice(["email", src]))
            amt = float(np.round(rng.lognormal(9.5, 0.6), -1)) if e == "closed_won" else np.nan
            rows.append((i, t, e, ch, amt))
    df = pd.DataFrame(rows, columns=["c", "t", "activity_type", "lead_source", "deal_amount"])
    df = df[df["t"] < span].sort_values(["c", "t"], kind="stable")
    df = df.assign(d=np.floor(df["t"] / DAY)).drop_duplicates(["c", "d", "activity_type"]).drop(columns="d")
    df.insert(0, "account_id", [f"ACC-{c:04d}" for c in df.pop("c")])
    df.insert(1, "activity_date", _ts(t0, df.pop("t").to_numpy()).dt.strftime("%Y-%m-%d").to_numpy())
    df.to_csv(folder / "crm_activities.csv", index=False)
    months = pd.period_range(t0, t0 + pd.Timedelta(seconds=span - 1), freq="M").astype(str)
    spend = [(s, m, float(np.round(rng.uniform(lo, hi), 2))) for s, lo, hi in
             (("webinar", 800, 1500), ("paid_search", 2000, 4000), ("email", 200, 400)) for m in months]
    pd.DataFrame(spend, columns=["source", "month", "amount"]).to_csv(folder / "marketing_spend.csv", index=False)
    _write_yaml(folder / "stage_map.yml", {
        "stages": [{"name": "lead", "events": ["lead_created"]},
                   {"name": "mql", "events": ["became_mql"]},
                   {"name": "sql", "events": ["became_sql"]},
                   {"name": "opportunity", "events": ["opportunity_created"]},
                   {"name": "customer", "events": ["closed_won"]}],
        "conversion_events": ["closed_won"],
        "other_events": ["email_click", "closed_lost"],
        "journeys": {"pipeline": {"steps": ["lead", "mql", "sql", "opportunity", "customer"]}},
        "default_journey": "pipeline",
    })
    params = _params(folder, events="crm_activities.csv", costs="marketing_spend.csv", columns={
        "events": {"customer_id": "account_id", "timestamp": "activity_date", "event": "activity_type",
                   "channel": "lead_source", "revenue": "deal_amount"},
        "costs": {"channel": "source", "period": "month", "spend": "amount"}})
    won = df.loc[df["activity_type"] == "closed_won", "account_id"].nunique()
    return Case("b2b_leads", folder, params, has_revenue=True, has_channel=True, has_cart=False,
                facts={"customers": int(df["account_id"].nunique()), "reached": {"customer": int(won)}})


# -------------------------------------------------------------------------------- synthetic shapes
_SAMPLE_STAGE_MAP = {
    "stages": [
        {"name": "awareness", "events": ["ad_click", "page_view"]},
        {"name": "consideration", "events": ["product_view", "search", "add_to_wishlist", "add_to_cart",
                                             "begin_checkout"]},
        {"name": "purchase", "events": ["purchase"]},
        {"name": "retention", "events": ["purchase"], "nth": 2},
        {"name": "advocacy", "events": ["review", "referral"]},
    ],
    "conversion_events": ["purchase"],
    "cart_events": ["add_to_cart"],
    "other_events": ["payment_error", "support_contact"],
    "journeys": {"purchase": {"steps": ["awareness", "consideration", "stage:purchase", "retention", "advocacy"]},
                 "checkout": {"steps": ["product_view", "add_to_cart", "begin_checkout", "event:purchase"]}},
    "default_journey": "purchase",
    "checkout_journey": "checkout",
}


def _synth(n: int, seed: int, start: str, end: str):
    from cjlib.synth import generate

    return generate(n, seed=seed, start=start, end=end)


def _six_months(folder: Path, rng: np.random.Generator) -> Case:
    """The synthetic sample's shape over 2025-01-01 → 2025-07-01 (Parquet, contract column names)."""
    data = _synth(1000, int(rng.integers(1 << 31)), "2025-01-01", "2025-07-01")
    data.events.to_parquet(folder / "events.parquet", index=False)
    data.customers.to_parquet(folder / "customers.parquet", index=False)
    data.feedback.to_parquet(folder / "feedback.parquet", index=False)
    data.costs.to_csv(folder / "costs.csv", index=False)
    _write_yaml(folder / "stage_map.yml", _SAMPLE_STAGE_MAP)
    params = _params(folder, events="events.parquet", customers="customers.parquet",
                     feedback="feedback.parquet", costs="costs.csv")
    return Case("six_months", folder, params, has_revenue=True, has_channel=True, has_cart=True,
                facts={"customers": int(data.events["customer_id"].nunique())})


def _tiny(folder: Path, rng: np.random.Generator) -> Case:
    """50 customers of the synthetic sample over 4 months, events and customers as CSV."""
    data = _synth(50, int(rng.integers(1 << 31)), "2025-03-01", "2025-07-01")
    data.events.to_csv(folder / "events.csv", index=False)
    data.customers.to_csv(folder / "customers.csv", index=False)
    _write_yaml(folder / "stage_map.yml", _SAMPLE_STAGE_MAP)
    params = _params(folder, events="events.csv", customers="customers.csv")
    return Case("tiny", folder, params, has_revenue=True, has_channel=True, has_cart=True,
                facts={"customers": int(data.events["customer_id"].nunique())})


_HIER = {"paid_search": "Paid > Search", "display": "Paid > Display", "social": "Social > Organic",
         "email": "Email > Newsletter", "organic_search": "Organic > Search", "direct": "Direct",
         "referral": "Referral > Partner", "affiliate": "Paid > Affiliate"}


def _every_table(folder: Path, rng: np.random.Generator) -> Case:
    """Every optional table and column, under a Segment-like export's names: customers, CSAT and NPS
    feedback matched to stages, costs, ``session_id``, an A/B ``variant`` per customer and hierarchical
    channel names containing ``>``."""
    data = _synth(900, int(rng.integers(1 << 31)), "2025-01-01", "2025-09-01")
    ev = data.events.copy()
    ids = ev["customer_id"].astype(str).unique()
    variant = pd.Series(rng.choice(["control", "new_checkout"], len(ids)), index=ids)
    ev["channel"] = ev["channel"].astype(str).map(_HIER)
    ev["variant"] = variant.reindex(ev["customer_id"].astype(str)).to_numpy()
    ev = ev.rename(columns={"customer_id": "user_id", "timestamp": "event_time", "event": "event_type",
                            "channel": "marketing_channel", "revenue": "order_value"})
    ev.to_parquet(folder / "events.parquet", index=False)
    data.customers.rename(columns={"customer_id": "user_id"}).to_parquet(folder / "customers.parquet",
                                                                         index=False)
    data.feedback.rename(columns={"customer_id": "user_id", "timestamp": "submitted_at", "score": "rating",
                                  "scale": "survey"}).to_csv(folder / "feedback.csv", index=False)
    costs = data.costs.copy()
    costs["channel"] = costs["channel"].astype(str).map(_HIER)
    costs.rename(columns={"channel": "marketing_channel", "spend": "cost", "period": "month"}).to_csv(
        folder / "costs.csv", index=False)
    sm = json.loads(json.dumps(_SAMPLE_STAGE_MAP))
    sm["journeys"] = {"lifecycle": sm["journeys"]["purchase"], "cart_to_order": sm["journeys"]["checkout"]}
    sm["default_journey"], sm["checkout_journey"] = "lifecycle", "cart_to_order"
    _write_yaml(folder / "stage_map.yml", sm)
    params = _params(folder, events="events.parquet", customers="customers.parquet", feedback="feedback.csv",
                     costs="costs.csv", columns={
                         "events": {"customer_id": "user_id", "timestamp": "event_time", "event": "event_type",
                                    "channel": "marketing_channel", "revenue": "order_value"},
                         "customers": {"customer_id": "user_id"},
                         "feedback": {"customer_id": "user_id", "timestamp": "submitted_at", "score": "rating",
                                      "scale": "survey"},
                         "costs": {"channel": "marketing_channel", "spend": "cost", "period": "month"}})
    return Case("every_table", folder, params, has_revenue=True, has_channel=True, has_cart=True,
                facts={"customers": int(len(ids)), "channels": sorted(set(_HIER.values()))})


SHAPES: dict[str, Callable[[Path, np.random.Generator], Case]] = {
    "purchases_only": _purchases_only,
    "clickstream": _clickstream,
    "order_lifecycle": _order_lifecycle,
    "b2b_leads": _b2b_leads,
    "six_months": _six_months,
    "tiny": _tiny,
    "every_table": _every_table,
}


def write_case(shape: str, folder: str | Path, seed: int = 0) -> Case:
    """Write the case ``shape`` (a key of :data:`SHAPES`) into ``folder``; same seed, same files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    offset = sorted(SHAPES).index(shape)
    return SHAPES[shape](folder, np.random.default_rng([seed, offset]))


def case_inputs(shape: str, folder: str | Path, seed: int = 0) -> dict:
    """:func:`write_case` into ``folder``: the keyword arguments of ``cjlib.io.load_inputs`` its params file gives
    (paths made absolute, ``columns`` and ``stage_map_path`` included)."""
    import yaml

    case = write_case(shape, folder, seed=seed)
    p = yaml.safe_load(case.params_path.read_text())
    paths = {k: str(case.folder / p[k]) if p.get(k) else "" for k in
             ("events_path", "customers_path", "feedback_path", "costs_path")}
    return {**paths, "columns": p["columns"] or None, "stage_map_path": str(case.folder / "stage_map.yml")}


def load_case(shape: str, folder: str | Path, seed: int = 3):
    """:func:`write_case` into ``folder``, loaded as a report would (``cjlib.io.load_inputs``, warnings quiet)."""
    import warnings

    from cjlib.io import load_inputs

    kw = case_inputs(shape, Path(folder) / shape, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_inputs(**kw)


def load_synth(folder: str | Path, customers: int, *, seed: int, costs: bool = True):
    """A synthetic sample with an A/B test (customers, feedback and, with ``costs``, spend) written into
    ``folder`` and loaded as a report would (warnings quiet)."""
    import warnings

    from cjlib import synth
    from cjlib.io import load_inputs

    d = synth.generate(customers, seed=seed, variant_split=0.5)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    d.events.to_parquet(folder / "events.parquet")
    d.customers.to_parquet(folder / "customers.parquet")
    d.feedback.to_parquet(folder / "feedback.parquet")
    if costs:
        d.costs.to_csv(folder / "costs.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_inputs(events_path=str(folder / "events.parquet"), customers_path=str(folder / "customers.parquet"),
                           feedback_path=str(folder / "feedback.parquet"),
                           costs_path=str(folder / "costs.csv") if costs else "")


def profile_differences(a, b) -> list[str]:
    """The fields of two loaded inputs' data profiles that differ (NaN equals NaN; dicts compare in order,
    other values by type and value): ``[]`` when a log loaded two ways profiles alike."""
    import dataclasses
    import math

    def same(x, y) -> bool:
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            return True
        if hasattr(x, "items"):
            return list(x.items()) == list(y.items())
        return type(x) is type(y) and x == y

    pa, pb = ({f.name: getattr(p.profile, f.name) for f in dataclasses.fields(p.profile)} for p in (a, b))
    return [k for k in pa if not same(pa[k], pb[k])]


def mixed_types_log() -> pd.DataFrame:
    """Six CSV rows whose columns pandas types differently per file when cut after rows 2 and 4: ``zip`` is
    empty in the first file and integers after, ``plan`` numbers then text, ``vip`` booleans with gaps; a
    customer id with a leading zero."""
    return pd.DataFrame({"customer_id": ["007", "b", "c", "007", "d", "e"],
                         "timestamp": [f"2025-01-0{i + 1} 10:00" for i in range(6)],
                         "event": ["page_view"] * 6,
                         "zip": ["", "", "75001", "", "12", "3"],
                         "plan": ["1", "2", "1.50", "gold", "3", ""],
                         "vip": ["True", "", "False", "True", "", ""]})


# ============================================================================================== texts
def _plain(text: str) -> str:
    """Markdown → plain text: emphasis, code marks, link targets, bullets and heading marks removed."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(?<!\w)[*_`]{1,3}(?=\S)|(?<=\S)[*_`]{1,3}(?!\w)", "", text)
    text = re.sub(r"^\s*(?:[-+]|\d+\.|#+)\s+", "", text, flags=re.M)
    return text


def sentences(texts: Iterable[str]) -> list[str]:
    """Split finding texts into sentences (one per line of a list, then at '. ', '! ', '? ')."""
    out = []
    for t in texts:
        for line in _plain(str(t)).splitlines():
            for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(\"'“])", line.strip()):
                s = s.strip()
                if s:
                    out.append(s)
    return out


def _markdown_outputs(nb) -> list[str]:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            md = o.get("data", {}).get("text/markdown")
            if md:
                out.append(md if isinstance(md, str) else "".join(md))
    return out


def read_texts(ipynb: str | Path) -> list[str]:
    """A report's finding texts: :func:`cjlib.report.read_findings` when cjlib has it (Markdown findings and
    chart titles), else the executed notebook's Markdown display outputs."""
    from cjlib import report

    reader = getattr(report, "read_findings", None)
    if reader is not None:
        return [str(t) for t in reader(Path(ipynb))]
    import nbformat

    return _markdown_outputs(nbformat.read(str(ipynb), as_version=4))


def _soup(html_text: str):
    from bs4 import BeautifulSoup

    return BeautifulSoup(html_text, "html.parser")


def index_metric_values(index_html: str) -> list[tuple[str, str, str]]:
    """(report card title, metric name, shown value) of every row of the index's headline tables
    (parameters, in their <details>, left out)."""
    rows = []
    for card in _soup(index_html).select("div.card"):
        title = card.find("h2").get_text(" ", strip=True) if card.find("h2") else ""
        for table in card.find_all("table"):
            if table.find_parent("details"):
                continue
            for tr in table.find_all("tr"):
                tds = tr.find_all("td")
                if len(tds) == 2:
                    rows.append((title, tds[0].get_text(" ", strip=True), tds[1].get_text(" ", strip=True)))
    return rows


def index_texts(index_html: str) -> list[str]:
    """The index page's visible text as sentences to check: notes and 'metric: value' lines (parameters,
    each report's static description and failure lines left out: they repeat the user's input, the
    notebook's fixed introduction and an error the exit-status test reports)."""
    soup = _soup(index_html)
    for d in soup.find_all(["details", "style", "script"]):
        d.decompose()
    out = [p.get_text(" ", strip=True) for p in soup.find_all("p")
           if not {"desc", "err", "sub"} & set(p.get("class") or [])]
    out += [f"{name}: {value}." for _, name, value in index_metric_values(index_html)]
    return [t for t in out if t]


# ============================================================================================== rules
_UNDEFINED = re.compile(r"(?<![\w.])(?:nan|NaN|NAN|-?inf|-?Inf|NaT|<NA>|None(?!\s+of\b))(?![\w])")


def rule_no_undefined_words(texts: Iterable[str]) -> list[str]:
    """Sentences showing ``nan``, ``NaN``, ``inf``, ``None``, ``NaT`` or ``<NA>`` as a word ('None of …'
    in prose is fine)."""
    return [s for s in sentences(texts) if _UNDEFINED.search(s)]


_NUM = r"[-+]?[$€£]?\d[\d,]*(?:\.\d+)?\s?%?"
_VOID = {"nan", "none", "n/a", "na", "–", "-", "—", "–%", "-%", "inf", "nat", "undefined"}


def _zero_or_void(token: str) -> bool:
    t = token.strip().strip(",;:.").lower()
    if t in _VOID or t.rstrip("%") in _VOID:
        return True
    m = re.fullmatch(r"[-+]?[$€£]?(\d[\d,]*(?:\.\d+)?)\s?%?", t)
    return bool(m) and float(m.group(1).replace(",", "")) == 0.0


def rule_no_dead_trend(texts: Iterable[str]) -> list[str]:
    """Sentences stating a change 'from A (…) to B' where both ends are zero or undefined."""
    pat = re.compile(r"\bfrom\s+(\S+?)\s*(?:\([^)]*\)\s*)?\bto\s+(\S+?)(?=[\s,;.)]|$)", re.I)
    out = []
    for s in sentences(texts):
        if any(_zero_or_void(a) and _zero_or_void(b) for a, b in pat.findall(s)):
            out.append(s)
    return out


_POS = {"best", "most", "highest", "strongest", "cheapest", "largest", "biggest", "greatest"}
_NEG = {"worst", "least", "lowest", "weakest", "dearest", "smallest", "sorest", "fewest"}
_FILLER = set("""the a an and but while whereas of in on at by for to from with is are was were be it its their
this that these those journeys journey customers customer work works working does do performs perform converts
convert converted often straight after before channel channels segment segments level levels one ones earns earn
moves move forward loses lose lost conversion conversions rate rates has have scores score per touch touches
credit stage stages drop drops off more less than share average than""".split()) | _POS | _NEG


def _clauses(sentence: str) -> list[str]:
    return [c.strip() for c in re.split(r"[,;:]|\s+(?:and|but|while|whereas)\s+|\s+[–—]\s+", sentence) if c.strip()]


def _words(clause: str) -> list[str]:
    found = re.findall(r"[\w%.$€£×>-]+", re.sub(r"\([^)]*\)", " ", clause.lower()))
    return [w for w in (f.strip(".-") for f in found) if w]


def _subject_words(clause: str) -> tuple[str, ...]:
    """The content words of a clause: parentheses, numbers, function words and ranking words dropped."""
    return tuple(w for w in (w.strip(".") for w in _words(clause))
                 if w and w not in _FILLER and w not in _POS | _NEG and not re.fullmatch(r"[-+$€£×]?[\d.,]+%?×?", w))


def rule_no_repeated_subject(texts: Iterable[str]) -> list[str]:
    """Sentences that repeat themselves: one clause given twice (or a clause of three or more words that
    is the start of another, '100% of X reach a, 100% of X'), or one name given as both the best and the
    worst ('delivered journeys work best (…) and delivered worst (…)')."""
    out = []
    for s in sentences(texts):
        cl = [" ".join(_words(c)) for c in _clauses(s)]
        cl = [c for c in cl if c]
        repeated = False
        for i, a in enumerate(cl):
            for j, b in enumerate(cl):
                if i == j:
                    continue
                wa, wb = a.split(), b.split()
                if (a == b and len(wa) >= 2) or (len(wa) >= 3 and len(wb) > len(wa) and wb[: len(wa)] == wa):
                    repeated = True
        if not repeated:
            parts = _clauses(s)
            pos = [p for p in parts if set(_words(p)) & _POS]
            neg = [p for p in parts if set(_words(p)) & _NEG]
            sp = {_subject_words(p) for p in pos} - {()}
            sn = {_subject_words(p) for p in neg if p not in pos} - {()}
            # one name as both ends: the same words, or one name the start of the other ('delivered' and
            # 'delivered journeys'); 'Typical browsers' and 'Typical buyers' are two names
            repeated = any(a[:len(b)] == b or b[:len(a)] == a for a in sp for b in sn)
        if repeated:
            out.append(s)
    return out


_RANK = _POS | _NEG


def _numbers_in_order(text: str) -> list[tuple[str, float]]:
    """(kind, value) of each number in ``text`` in order: kind '%', '×', '$' or '' (dates, times and
    p-values left out)."""
    s = re.sub(r"\b\d{4}-\d{2}(?:-\d{2})?\b|\b\d{1,2}:\d{2}\b", " ", text)
    s = re.sub(r"\bp\s*[<=>≤]\s*[\d.e-]+", " ", s)
    out = []
    for m in re.finditer(r"(×\s?)?([$€£])?([-+]?\d[\d,]*(?:\.\d+)?)\s?(%|×|x\b)?", s):
        pre, cur, num, suf = m.groups()
        kind = "%" if suf == "%" else "×" if (pre or suf in ("×", "x")) else "$" if cur else ""
        out.append((kind, float(num.replace(",", ""))))
    return out


def rule_no_tied_ranking(texts: Iterable[str]) -> list[str]:
    """Ranking sentences (best/worst/most/least/highest/lowest/cheapest/dearest/strongest …) whose two
    compared numbers are equal as shown. With two ranking words, the compared numbers are the first
    number after each ('best (12%) … worst (12%)'); with one, the first number after it and the next
    number of the same kind in the same ';'-part ('loses the most: 37% against 37% for the rest')."""
    out = []
    rank = re.compile(r"(?<!\bat )\b(?:" + "|".join(sorted(_RANK)) + r")\b", re.I)  # 'at least 10' ranks nothing
    for s in sentences(texts):
        hits = list(rank.finditer(s))
        if not hits:
            continue
        tied = False
        if len(hits) >= 2:
            a = _numbers_in_order(s[hits[0].end():hits[1].start()])
            b = _numbers_in_order(s[hits[1].end():])
            tied = bool(a and b) and a[0] == b[0]
        if not tied:
            for h in hits:
                part = s[h.end():].split(";")[0]
                nums = _numbers_in_order(part)
                if nums:
                    same = [n for n in nums[1:] if n[0] == nums[0][0]]
                    tied = tied or (bool(same) and same[0] == nums[0])
        if tied:
            out.append(s)
    return out


_ROLE_WORDS = {
    "cart": re.compile(r"\b(?:carts?|basket abandon\w*|abandon\w*|checkout abandon\w*)\b", re.I),
    "revenue": re.compile(r"\b(?:revenue|sales value|order value|CLV|lifetime value|value at risk|ROI|"
                          r"return on (?:ad )?spend|ROAS|spend per|gamma-gamma|expected value)\b"
                          r"|[$€£]\s?\d", re.I),
    # channel attribution only: 02's stage contribution (the events themselves as touches) is not about
    # channels and may run on a log without one
    "channel": re.compile(r"\b(?:channels?|acquisition_channel|first[- ]touch|last[- ]touch|shapley|"
                          r"removal effect)\b", re.I),
}
_SAYS_WHY = re.compile(r"\b(?:no|not|without|none|skipped|left out|isn't|doesn't|cannot|can't|absent|"
                       r"declares? no|n/a)\b|^(?:Map|Add|Set|Declare|Provide|Give|Pass|Name)\b", re.I)


def rule_no_unsupported_role(texts: Iterable[str], *, has_cart: bool, has_revenue: bool,
                             has_channel: bool) -> list[str]:
    """Sentences about a role the data does not support — carts/abandonment without cart events,
    revenue or value without revenue, channels/attribution without a channel column. A sentence that
    says the section is left out and why (a negation, no number) or how to get it (an instruction such
    as 'Map a channel column …', no number) is the allowed exception; each ';'-part of a sentence is
    judged on its own ('Not shown: cart abandonment (no cart events); drivers (no event done by 50+
    customers)' passes)."""
    roles = [r for r, ok in (("cart", has_cart), ("revenue", has_revenue), ("channel", has_channel)) if not ok]
    out = []
    for s in sentences(texts):
        parts = [p.strip() for p in s.split(";") if p.strip()]
        if any(_ROLE_WORDS[r].search(p) and not (_SAYS_WHY.search(p) and not re.search(r"\d", p))
               for p in parts for r in roles):
            out.append(s)
    return out


def _html_stream(html_text: str) -> list[tuple[str, str]]:
    """The rendered report in document order: ('h1'…'h6', heading text) and ('content', what) for each
    piece of output content — text, an image, a table, an SVG or an iframe inside a code cell's output."""
    from bs4 import NavigableString, Tag

    soup = _soup(html_text)
    body = soup.body or soup
    stream: list[tuple[str, str]] = []

    def in_output(node) -> bool:
        return any("jp-OutputArea-output" in (p.get("class") or []) for p in node.parents if isinstance(p, Tag))

    def walk(node) -> None:
        for child in node.children:
            if isinstance(child, Tag):
                if child.name in ("script", "style"):
                    continue
                if re.fullmatch(r"h[1-6]", child.name):
                    stream.append((child.name, child.get_text(" ", strip=True).rstrip("¶").strip()))
                    continue
                if child.name in ("img", "svg", "table", "iframe", "canvas") and in_output(child):
                    stream.append(("content", child.name))
                    continue
                walk(child)
            elif isinstance(child, NavigableString) and child.strip() and in_output(child):
                stream.append(("content", child.strip()[:60]))

    walk(body)
    return stream


def rule_sections_say_why(html_text: str) -> list[str]:
    """Section headings (<h2>) followed by the next h1/h2 or the end with no output content between
    (no chart, table or computed sentence). A static explanation in the heading's own Markdown cell does
    not count: a skipped section must say, from the data, why it is empty."""
    stream = _html_stream(html_text)
    out = []
    for i, (kind, text) in enumerate(stream):
        if kind != "h2":
            continue
        j = i + 1
        has = False
        while j < len(stream) and stream[j][0] not in ("h1", "h2"):
            has = has or stream[j][0] == "content"
            j += 1
        if not has:
            out.append(text)
    return out


def rule_index_values_defined(index_html: str) -> list[str]:
    """Index metric rows whose value is undefined: nan, inf, None, '–%' or empty."""
    bad = re.compile(r"^\s*$|(?<![\w])(?:nan|NaN|-?inf|None|NaT|null)(?![\w])|[–—-]\s?%", re.I)
    return [f"{t}: {k} = {v!r}" for t, k, v in index_metric_values(index_html) if bad.search(v)]


def check_texts(texts: Iterable[str], case: Case) -> dict[str, list[str]]:
    """Every text rule over ``texts`` for ``case``'s roles: rule name → offending sentences."""
    texts = list(texts)
    return {
        "undefined word": rule_no_undefined_words(texts),
        "trend between zero/undefined ends": rule_no_dead_trend(texts),
        "repeated subject": rule_no_repeated_subject(texts),
        "ranking of ties": rule_no_tied_ranking(texts),
        "unsupported role": rule_no_unsupported_role(texts, has_cart=case.has_cart, has_revenue=case.has_revenue,
                                                     has_channel=case.has_channel),
    }
