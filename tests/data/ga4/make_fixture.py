"""Write the GA4 BigQuery-export fixture: ``python tests/data/ga4/make_fixture.py`` (deterministic).

:func:`simulate` makes a small shop's visits (devices, sessions with one traffic source each, logins and
purchases, six months); :func:`ga4_rows` writes them as rows of GA4's ``events_YYYYMMDD`` tables, with
the field names, types and nesting of the BigQuery export schema (``README.md`` says where each field and
rule comes from). ``tests/data/segment/make_fixture.py`` writes the same kind of visits as Segment
messages. The planted story (:data:`STORY`): a visitor browses anonymously in two sessions, logs in in a
third and buys — one customer whose path holds the two anonymous touches.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 21
START = np.datetime64("2025-01-01T00:00:00", "us")
DAYS = 181  # 2025-01-01 .. 2025-06-30
HOST = "https://shop.example.com"

# traffic sources: (label, source, medium, campaign, referrer, gclid, weight) — GA4 channel in the README
TOUCHES = [
    ("paid_search", "google", "cpc", "spring_sale", None, None, 0.13),
    ("google_ads_auto", None, None, None, "https://www.google.com/", "Cj0KCQiA", 0.05),  # auto-tagged ad click
    ("organic_search", None, None, None, "https://www.google.com/", None, 0.20),
    ("email", "newsletter", "email", "weekly_digest", None, None, 0.14),
    ("paid_social", "facebook", "cpc", "retargeting_q1", None, None, 0.09),
    ("organic_social", None, None, None, "https://l.instagram.com/", None, 0.07),
    ("referral", None, None, None, "https://blog.example.org/best-shoes", None, 0.07),
    ("affiliate", "partnerhub", "affiliate", "summer_partners", None, None, 0.05),
    ("direct", None, None, None, None, None, 0.20),
]
PRODUCTS = [("SKU-101", "Trail runner", "Shoes", 89.0), ("SKU-102", "Road runner", "Shoes", 119.0),
            ("SKU-201", "Rain jacket", "Apparel", 149.0), ("SKU-202", "Running tee", "Apparel", 29.0),
            ("SKU-301", "Socks (3 pack)", "Accessories", 15.0), ("SKU-302", "Cap", "Accessories", 22.0)]
DEVICES = [("desktop", "Windows", "Chrome", 0.5), ("mobile", "iOS", "Safari", 0.35), ("tablet", "Android", "Chrome", 0.15)]
COUNTRIES = [("Germany", "Berlin", 0.45), ("France", "Paris", 0.3), ("Spain", "Madrid", 0.25)]

# the planted story: pseudo id, user id, and its sessions (day offset, hour, touch label, logged in, buys)
STORY = {
    "user_pseudo_id": "900000001.1736500000",
    "user_id": "U90001",
    "sessions": [(10, 9, "paid_social", False, False), (12, 20, "organic_search", False, False),
                 (14, 19, "email", True, True)],
    "revenue": 178.0,  # two Trail runners at 89.0
}


def _pick(rng, weights) -> int:
    w = np.asarray(weights, dtype=float)
    return int(rng.choice(len(w), p=w / w.sum()))


def simulate(seed: int = SEED, n_devices: int = 330) -> list[dict]:
    """Visits of ``n_devices`` devices: a list of sessions, each a dict with the device's ids, the touch,
    the start time and the events (name, seconds after the start, items bought or viewed)."""
    rng = np.random.default_rng(seed)
    n_users = 180
    sessions = []
    for _ in range(n_devices):
        first_day = float(rng.uniform(0, DAYS * 0.7))
        pseudo = f"{int(rng.integers(10**8, 10**9))}.{int((START + np.timedelta64(int(first_day * 86400), 's')).astype('datetime64[s]').astype(int))}"
        has_account = rng.random() < 0.6
        user = f"U{int(rng.integers(0, n_users)) + 1:05d}" if has_account else None
        n_sessions = int(rng.geometric(0.35)) + int(rng.random() < 0.5)
        login_at = int(rng.integers(0, n_sessions)) if user else None
        device, country = DEVICES[_pick(rng, [x[3] for x in DEVICES])], COUNTRIES[_pick(rng, [x[2] for x in COUNTRIES])]
        buy_rate = float(rng.choice([0.05, 0.2, 0.45], p=[0.5, 0.3, 0.2]))
        day = first_day
        for s in range(n_sessions):
            if day >= DAYS:
                break
            logged_in = login_at is not None and s >= login_at
            sessions.append(_session(rng, pseudo, user if logged_in else None, logged_in and s == login_at,
                                     s, day, device, country, buy_rate * (2 if logged_in else 1)))
            day += float(rng.exponential(14.0)) + 0.2
    sessions += _story()
    sessions.sort(key=lambda x: (x["start"], x["user_pseudo_id"]))
    return sessions


def _session(rng, pseudo, user, logs_in, number, day, device, country, buy_rate) -> dict:
    touch = TOUCHES[_pick(rng, [t[-1] for t in TOUCHES])]
    start = START + np.timedelta64(int(day * 86400e6), "us")
    views = 1 + int(rng.poisson(1.5))
    events, t = [], 0.0
    if number == 0:
        events.append(("first_visit", t, None))
    events += [("session_start", t, None), ("page_view", t, None)]
    for _ in range(views):
        t += float(rng.exponential(40)) + 3
        events.append(("view_item", t, [PRODUCTS[int(rng.integers(0, len(PRODUCTS)))]]))
        events.append(("user_engagement", t + 1.0, None))  # GA4 logs engagement as the page loses focus
    if logs_in:
        t += 20
        events.append(("login", t, None))
    if rng.random() < 0.45:
        item = events[-1][2] or [PRODUCTS[0]]
        t += float(rng.exponential(30)) + 5
        events.append(("add_to_cart", t, item))
        if rng.random() < 0.7:
            t += float(rng.exponential(60)) + 10
            events.append(("begin_checkout", t, item))
            if rng.random() < min(buy_rate * 2.2, 0.95):
                t += float(rng.exponential(90)) + 20
                events.append(("purchase", t, item))
    t += float(rng.exponential(30)) + 2
    events.append(("user_engagement", t, None))
    return {"user_pseudo_id": pseudo, "user_id": user, "logs_in": logs_in, "number": number, "start": start,
            "touch": touch, "device": device, "country": country, "events": events}


def _story() -> list[dict]:
    """The planted anonymous → login → purchase visitor (no randomness)."""
    touch = {t[0]: t for t in TOUCHES}
    out = []
    for number, (day, hour, label, logged_in, _buys) in enumerate(STORY["sessions"]):
        events = ([("first_visit", 0.0, None)] if number == 0 else []) + [
            ("session_start", 0.0, None), ("page_view", 0.0, None), ("view_item", 30.0, [PRODUCTS[0]])]
        if logged_in:
            events += [("login", 60.0, None), ("add_to_cart", 90.0, [PRODUCTS[0]]),
                       ("begin_checkout", 120.0, [PRODUCTS[0]]), ("purchase", 180.0, [PRODUCTS[0]])]
        events.append(("user_engagement", 200.0, None))
        start = START + np.timedelta64(day * 86400 + hour * 3600, "s").astype("timedelta64[us]")
        out.append({"user_pseudo_id": STORY["user_pseudo_id"], "user_id": STORY["user_id"] if logged_in else None,
                    "logs_in": logged_in, "number": number, "start": start, "touch": touch[label],
                    "device": DEVICES[0], "country": COUNTRIES[0], "events": events, "quantity": 2})
    return out


# ============================================================================================ GA4 rows
def _param(key: str, value) -> dict:
    v = {"string_value": None, "int_value": None, "float_value": None, "double_value": None}
    if isinstance(value, str):
        v["string_value"] = value
    elif isinstance(value, (int, np.integer)):
        v["int_value"] = int(value)
    else:
        v["double_value"] = float(value)
    return {"key": key, "value": v}


def ga4_rows(sessions: list[dict]) -> list[dict]:
    """The sessions as GA4 export rows (one per event), in the export's field order."""
    rows, txn = [], 0
    for s in sessions:
        label, source, medium, campaign, referrer, gclid, _ = s["touch"]
        sid = int(s["start"].astype("datetime64[s]").astype(int))
        query = "&".join(f"utm_{k}={v}" for k, v in (("source", source), ("medium", medium), ("campaign", campaign)) if v)
        query += ("&" if query else "") + f"gclid={gclid}" if gclid else ""
        landing = f"{HOST}/{'?' + query if query else ''}"
        user_id = None if s["logs_in"] else s["user_id"]  # in the login session, known from the login on
        for name, offset, items in s["events"]:
            if name == "login":
                user_id = s["user_id"]
            ts = s["start"] + np.timedelta64(int(offset * 1e6), "us")
            first = name in ("first_visit", "session_start", "page_view")  # the landing's events carry the source
            page = landing if first else f"{HOST}/product/{items[0][0].lower()}" if items else f"{HOST}/account"
            params = [_param("ga_session_id", sid), _param("ga_session_number", s["number"] + 1),
                      _param("page_location", page), _param("engagement_time_msec", int(offset * 1000) + 100)]
            if name == "page_view" and referrer:
                params.append(_param("page_referrer", referrer))
            if first and source:
                params += [_param("source", source), _param("medium", medium), _param("campaign", campaign)]
            ecommerce, out_items = None, []
            if items:
                qty = s.get("quantity", 1)
                out_items = [{"item_id": i[0], "item_name": i[1], "item_category": i[2], "price": i[3],
                              "quantity": qty, "item_revenue": i[3] * qty if name == "purchase" else None}
                             for i in items]
                value = float(sum(i[3] * qty for i in items))
                params += [_param("currency", "EUR"), _param("value", value)]
                ecommerce = {"total_item_quantity": qty * len(items), "purchase_revenue_in_usd": None,
                             "purchase_revenue": None, "shipping_value": None, "tax_value": None,
                             "unique_items": len(items), "transaction_id": None}
                if name == "purchase":
                    txn += 1
                    ecommerce.update(purchase_revenue=value, purchase_revenue_in_usd=round(value * 1.08, 2),
                                     shipping_value=0.0, tax_value=round(value * 0.19 / 1.19, 2),
                                     transaction_id=f"T{txn:05d}")
                    params.append(_param("transaction_id", f"T{txn:05d}"))
            cts = None
            if first and (source or gclid):
                cts = {"manual_campaign_id": None, "manual_campaign_name": campaign, "manual_source": source,
                       "manual_medium": medium, "manual_term": None, "manual_content": None, "gclid": gclid,
                       "dclid": None, "srsltid": None}
            device, os_, browser, _ = s["device"]
            rows.append({
                "event_date": str(ts.astype("datetime64[D]")).replace("-", ""),
                "event_timestamp": int(ts.astype(np.int64)),
                "event_name": name,
                "event_params": params,
                "event_previous_timestamp": None,
                "event_value_in_usd": None,
                "event_bundle_sequence_id": len(rows) + 1,
                "event_server_timestamp_offset": 512,
                "user_id": user_id,
                "user_pseudo_id": s["user_pseudo_id"],
                "user_first_touch_timestamp": int(s["user_pseudo_id"].split(".")[1]) * 1_000_000,
                "device": {"category": device, "operating_system": os_,
                           "web_info": {"browser": browser, "hostname": HOST.split("//")[1]}},
                "geo": {"country": s["country"][0], "city": s["country"][1]},
                "traffic_source": None,  # filled per user below: the user's first source
                "collected_traffic_source": cts,
                "ecommerce": ecommerce,
                "items": out_items,
                "platform": "WEB",
                "stream_id": "1234567890",
            })
    first_touch = {}
    for s in sessions:  # sorted by start: the device's first session
        first_touch.setdefault(s["user_pseudo_id"], s["touch"])
    for r in rows:
        _, source, medium, campaign, referrer, gclid, _ = first_touch[r["user_pseudo_id"]]
        host = referrer.split("//")[1].strip("/").removeprefix("www.") if referrer else None
        r["traffic_source"] = {"name": campaign or ("(organic)" if host else "(direct)"),
                               "medium": medium or ("cpc" if gclid else "referral" if host else "(none)"),
                               "source": source or ("google" if gclid else host or "(direct)")}
    return rows


def schema():
    """The export's Arrow schema (BigQuery STRING → string, INTEGER → int64, FLOAT → float64, RECORD →
    struct, REPEATED → list), for the fields the fixture writes."""
    import pyarrow as pa

    value = pa.struct([("string_value", pa.string()), ("int_value", pa.int64()), ("float_value", pa.float64()),
                       ("double_value", pa.float64())])
    return pa.schema([
        ("event_date", pa.string()), ("event_timestamp", pa.int64()), ("event_name", pa.string()),
        ("event_params", pa.list_(pa.struct([("key", pa.string()), ("value", value)]))),
        ("event_previous_timestamp", pa.int64()), ("event_value_in_usd", pa.float64()),
        ("event_bundle_sequence_id", pa.int64()), ("event_server_timestamp_offset", pa.int64()),
        ("user_id", pa.string()), ("user_pseudo_id", pa.string()), ("user_first_touch_timestamp", pa.int64()),
        ("device", pa.struct([("category", pa.string()), ("operating_system", pa.string()),
                              ("web_info", pa.struct([("browser", pa.string()), ("hostname", pa.string())]))])),
        ("geo", pa.struct([("country", pa.string()), ("city", pa.string())])),
        ("traffic_source", pa.struct([("name", pa.string()), ("medium", pa.string()), ("source", pa.string())])),
        ("collected_traffic_source", pa.struct([(k, pa.string()) for k in (
            "manual_campaign_id", "manual_campaign_name", "manual_source", "manual_medium", "manual_term",
            "manual_content", "gclid", "dclid", "srsltid")])),
        ("ecommerce", pa.struct([("total_item_quantity", pa.int64()), ("purchase_revenue_in_usd", pa.float64()),
                                 ("purchase_revenue", pa.float64()), ("shipping_value", pa.float64()),
                                 ("tax_value", pa.float64()), ("unique_items", pa.int64()),
                                 ("transaction_id", pa.string())])),
        ("items", pa.list_(pa.struct([("item_id", pa.string()), ("item_name", pa.string()),
                                      ("item_category", pa.string()), ("price", pa.float64()),
                                      ("quantity", pa.int64()), ("item_revenue", pa.float64())]))),
        ("platform", pa.string()), ("stream_id", pa.string()),
    ])


def ndjson_line(row: dict) -> str:
    """A row as BigQuery writes it to newline-delimited JSON: INT64 values as JSON strings, ``<``, ``>`` and
    ``&`` as ``\\u003c`` … (BigQuery's export notes)."""
    import json

    def enc(v, t):
        import pyarrow as pa

        if v is None:
            return None
        if pa.types.is_struct(t):
            return {f.name: enc(v.get(f.name), f.type) for f in t}
        if pa.types.is_list(t):
            return [enc(x, t.value_type) for x in v]
        return str(v) if pa.types.is_integer(t) else v

    obj = {f.name: enc(row.get(f.name), f.type) for f in schema()}
    text = json.dumps(obj, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def write(folder: Path = HERE) -> list[Path]:
    """Write ``events.parquet`` (the whole export, one table) and ``events_20250115.json`` (one daily
    table as BigQuery's newline-delimited JSON) into ``folder``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = ga4_rows(simulate())
    table = pa.Table.from_pylist(rows, schema=schema())
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "events.parquet", compression="zstd", compression_level=19)
    day = [r for r in rows if r["event_date"] == "20250115"]
    (folder / "events_20250115.json").write_text("".join(ndjson_line(r) + "\n" for r in day))
    return [folder / "events.parquet", folder / "events_20250115.json"]


if __name__ == "__main__":
    for p in write():
        print(p, p.stat().st_size, "bytes")
