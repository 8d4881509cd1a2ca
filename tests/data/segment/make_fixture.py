"""Write the Segment / RudderStack fixture: ``python tests/data/segment/make_fixture.py`` (deterministic).

The visits come from the GA4 fixture's simulator (``tests/data/ga4/make_fixture.py``, another seed); here
they become Segment messages with the field names, types and nesting of the Segment Spec (``README.md``
says where each comes from): ``page`` calls for page views, ``track`` calls for actions, an ``identify``
call at each login (``userId`` beside ``anonymousId``), an ``alias`` call (``previousId`` → ``userId``)
instead for some users, ``context.campaign`` from the landing page's UTM parameters and
``context.page.referrer``. Written as gzipped newline-delimited JSON, as Segment's S3 destination does.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 8
_spec = importlib.util.spec_from_file_location("ga4_fixture", HERE.parent / "ga4" / "make_fixture.py")
ga4 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ga4)

# the tracking plan's track event names (snake_case, the names of cjlib's default stage map)
TRACK = {"view_item": "product_view", "add_to_cart": "add_to_cart", "begin_checkout": "begin_checkout",
         "purchase": "purchase"}
STORY = {"anonymousId": "a1b2c3d4-0000-4000-8000-000000000001", "userId": "U90001", "revenue": 178.0}


def _iso(ts: np.datetime64) -> str:
    return str(ts.astype("datetime64[ms]")) + "Z"


def messages(seed: int = SEED) -> list[dict]:
    """The simulated sessions as Segment messages, in time order."""
    rng = np.random.default_rng(seed)
    sessions = ga4.simulate(seed, n_devices=300)
    anon = {}
    aliased = set()
    out = []
    for s in sessions:
        device = s["user_pseudo_id"]
        if device not in anon:
            anon[device] = (STORY["anonymousId"] if device == ga4.STORY["user_pseudo_id"] else
                            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}".format(*(int(rng.integers(0, 16 ** k))
                                                                           for k in (8, 4, 3, 3, 12))))
        anonymous_id = anon[device]
        label, source, medium, campaign, referrer, gclid, _ = s["touch"]
        query = "&".join(f"utm_{k}={v}" for k, v in (("source", source), ("medium", medium), ("campaign", campaign)) if v)
        query += ("&" if query else "") + f"gclid={gclid}" if gclid else ""
        landing = f"{ga4.HOST}/{'?' + query if query else ''}"
        user = None if s["logs_in"] else s["user_id"]
        page, page_referrer = landing, referrer
        for name, offset, items in s["events"]:
            ts = s["start"] + np.timedelta64(int(offset * 1e6), "us")
            if name == "login":
                user = s["user_id"]
                use_alias = user not in aliased and rng.random() < 0.3
                if use_alias:
                    aliased.add(user)
                    out.append(_message(rng, "alias", ts, None, user, page, page_referrer, query, s,
                                        previousId=anonymous_id))
                else:
                    out.append(_message(rng, "identify", ts, anonymous_id, user, page, page_referrer, query, s,
                                        traits={"plan": "member"}))
                continue
            if name == "page_view":
                out.append(_message(rng, "page", ts, anonymous_id, user, page, page_referrer, query, s,
                                    name="Home", properties={"url": page, "path": "/", "referrer": page_referrer,
                                                             "title": "Shop"}))
            elif name in TRACK:
                qty = s.get("quantity", 1)
                products = [{"product_id": i[0], "name": i[1], "category": i[2], "price": i[3], "quantity": qty}
                            for i in items]
                props = {"product_id": items[0][0], "price": items[0][3]} if name == "view_item" else \
                    {"products": products}
                if name == "purchase":
                    value = float(sum(p["price"] * p["quantity"] for p in products))
                    props = {"order_id": f"O{len(out):06d}", "revenue": value, "total": value, "shipping": 0.0,
                             "tax": round(value * 0.19 / 1.19, 2), "currency": "EUR", "products": products}
                if name == "view_item":  # a product page: the next calls happen on it, referred by the shop
                    page_referrer, page = page, f"{ga4.HOST}/product/{items[0][0].lower()}"
                    out.append(_message(rng, "page", ts, anonymous_id, user, page, page_referrer, query, s,
                                        name="Product", properties={"url": page, "referrer": page_referrer}))
                out.append(_message(rng, "track", ts + np.timedelta64(1, "s"), anonymous_id, user, page,
                                    page_referrer, query, s, event=TRACK[name], properties=props))
            # session_start, first_visit and user_engagement are GA4's own: Segment has none
    out.sort(key=lambda m: (m["timestamp"], m["messageId"]))
    return out


def _message(rng, kind, ts, anonymous_id, user_id, page, referrer, query, s, **fields) -> dict:
    """One Segment message with the common fields (Spec: Common fields) and the call's own ones."""
    device, os_, browser, _ = s["device"]
    context = {"library": {"name": "analytics.js", "version": "4.1.0"},
               "page": {"url": page, "path": "/" + page.split("/", 3)[3].split("?")[0], "referrer": referrer,
                        "search": ("?" + query) if query and page.endswith(query) else ""},
               "userAgent": f"Mozilla/5.0 ({os_}) {browser}", "locale": "en-US",
               "device": {"type": device}, "location": {"country": s["country"][0], "city": s["country"][1]}}
    label, source, medium, campaign, *_ = s["touch"]
    if source and query and page.endswith(query):  # analytics.js reads utm_* from the current page's URL
        context["campaign"] = {"source": source, "medium": medium, "name": campaign}
    msg = {"type": kind, "messageId": "ajs-" + "".join(f"{int(x):x}" for x in rng.integers(0, 16, 16)),
           "anonymousId": anonymous_id, "userId": user_id, "timestamp": _iso(ts), "context": context}
    if kind == "alias":
        msg.pop("anonymousId")
    msg.update(fields)
    return msg


def write(folder: Path = HERE) -> Path:
    """Write every message to ``events.jsonl.gz`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "events.jsonl.gz"
    with gzip.GzipFile(path, "wb", mtime=0, compresslevel=9) as f:
        f.write("".join(json.dumps(m, separators=(",", ":")) + "\n" for m in messages()).encode())
    return path


if __name__ == "__main__":
    p = write()
    print(p, p.stat().st_size, "bytes")
