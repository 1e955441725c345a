"""Independent fake Tjar store server (stdlib only), written from /work/shared/tjar-api.md.

Multi-store by path prefix: /s/{slug}/api/core/v1/...
Endpoints: GET /orders, GET /orders/{identifier}, GET /products, GET /products/{identifier}.

Every store keeps its own ground truth (``StoreState.orders`` / ``products``) and a
mutable ``Config`` that the test harness switches between scenarios.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

UTC = dt.UTC
TS_FMT = "%Y-%m-%d %H:%M:%S"

STATUSES = [
    ("Pending", "قيد الانتظار", "warning"),
    ("Processing", "قيد المعالجة", "info"),
    ("Shipped", "تم الشحن", "primary"),
    ("Delivered", "تم التوصيل", "success"),
    ("Cancelled", "ملغي", "danger"),
]
PAY = [("pending", "قيد الانتظار", "warning"), ("paid", "مدفوع", "success"), ("failed", "فشل", "danger")]


@dataclass
class Config:
    pagination: str = "data"  # data | meta | salla | none
    max_per_page: int | None = None  # silent clamp
    default_per_page: int = 15
    faults: bool = False
    p429: float = 0.07
    p500: float = 0.07
    p_garble: float = 0.0  # 200 with a cut-off JSON body
    arrivals: str = "off"  # off | stop | never | burst
    arrival_prob: float = 0.6  # per list request, for "stop"
    arrival_max: int = 5  # 1..arrival_max new orders per arrival event
    arrival_stop_after: int = 6  # list requests (counted per store) with possible arrivals, for "stop"
    burst_at: int = 3  # list request number for "burst"
    burst_size: int = 60
    links_keep_query: bool = True  # links.next carries date_from/date_to/per_page
    salla_links_empty_list: bool = False  # PHP-ism: "links": [] when there is no link
    rate_headers: bool = True
    drift: bool = False  # legal §15 drift: missing created_at/updated_at, unknown statuses, extra fields
    seed: int = 0


@dataclass
class StoreState:
    slug: str
    key: str
    tz: ZoneInfo
    anchor_utc: dt.datetime
    n_orders: int = 300
    n_products: int = 60
    history_days: int = 35
    seed: int = 1
    config: Config = field(default_factory=Config)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.t0 = time.monotonic()
        self.rng = random.Random(self.seed)
        self.orders: dict[int, dict[str, Any]] = {}
        self.products: dict[int, dict[str, Any]] = {}
        self.next_id = 1000
        self.list_requests = 0
        self.requests = 0
        self.arrived: list[int] = []
        self.log: list[str] = []
        self.trace: list[dict[str, Any]] = []  # one entry per GET /orders list request
        self.dead = False  # watchdog: answer 401 to everything so a stuck client stops
        self._build()

    # ---- clock ------------------------------------------------------------------
    def now_utc(self) -> dt.datetime:
        return (self.anchor_utc + dt.timedelta(seconds=time.monotonic() - self.t0)).replace(microsecond=0)

    def now_local(self) -> dt.datetime:
        return self.now_utc().astimezone(self.tz).replace(tzinfo=None)

    def today(self) -> dt.date:
        return self.now_local().date()

    def local_to_utc(self, naive: dt.datetime) -> dt.datetime:
        return naive.replace(tzinfo=self.tz).astimezone(UTC)

    def valid_local(self, naive: dt.datetime) -> bool:
        """False for local times in a DST gap or fold (ill-defined UTC)."""
        a = naive.replace(tzinfo=self.tz, fold=0)
        b = naive.replace(tzinfo=self.tz, fold=1)
        if a.utcoffset() != b.utcoffset():
            return False
        back = a.astimezone(UTC).astimezone(self.tz).replace(tzinfo=None)
        return back == naive

    # ---- data -------------------------------------------------------------------
    def _money(self, lo: float, hi: float) -> Decimal:
        cents = self.rng.randint(int(lo * 100), int(hi * 100))
        r = self.rng.random()
        if r < 0.15:
            cents -= cents % 100  # whole amount
        elif r < 0.3:
            cents -= cents % 10  # one decimal (15.5)
        return Decimal(cents).scaleb(-2)

    def _new_order(self, created_local: dt.datetime, ident: int | None = None) -> dict[str, Any]:
        rng = self.rng
        if ident is None:
            ident = self.next_id
            self.next_id += 1
        else:
            self.next_id = max(self.next_id, ident + 1)
        items = []
        for ln in range(rng.randint(1, 3)):
            price = self._money(0.5, 2500)
            qty = rng.randint(1, 4)
            items.append(
                {
                    "id": rng.randint(1, 500),
                    "price": price,
                    "qty": qty,
                    "subtotal": price * qty,
                    "discount": Decimal("0") if rng.random() < 0.7 else self._money(0, 20),
                    "tax": self._money(0, 50),
                    "weight": Decimal(rng.randint(0, 40)) / 4,
                    "name": f"Item {ln}",
                    "is_booking": rng.random() < 0.1,
                }
            )
        total = sum((i["subtotal"] for i in items), Decimal("0")) + self._money(0, 30)
        st = rng.choice(STATUSES)
        ps = rng.choice(PAY)
        updated = created_local + dt.timedelta(minutes=rng.randint(0, 600))
        return {
            "identifier": ident,
            "_created": created_local,
            "_updated": updated,
            "_money_str": rng.random() < 0.5,
            "total": total,
            "coupon": rng.choice([None, "FREE50", "RAMADAN"]),
            "coupon_discounted": self._money(0, 40),
            "status": st,
            "payment_status": ps,
            "city": rng.choice([None, "Riyadh", "Jeddah"]),
            "items": items,
        }

    def _build(self) -> None:
        rng = self.rng
        now = self.now_local()
        today = now.date()
        start = now - dt.timedelta(days=self.history_days)
        span = int((now - start).total_seconds()) - 60
        times: list[dt.datetime] = []
        while len(times) < self.n_orders:
            t = start + dt.timedelta(seconds=rng.randint(0, span))
            if self.valid_local(t):
                times.append(t)
        # boundary cases around the standard test windows (today-20 .. today, today-30 .. today-10)
        for d in (20, 10, 30, 31, 21, 9, 1, 0):
            day = today - dt.timedelta(days=d)
            for t in (
                dt.datetime.combine(day, dt.time(0, 0, 0)),
                dt.datetime.combine(day, dt.time(23, 59, 59)),
                dt.datetime.combine(day, dt.time(0, 0, 1)),
            ):
                if t < now - dt.timedelta(seconds=30) and self.valid_local(t):
                    times.append(t)
        # ties: several orders in the same second
        for _ in range(4):
            t = times[rng.randrange(len(times))]
            times.extend([t] * rng.randint(2, 5))
        times.sort()
        # identifiers mostly follow creation, a few are swapped (imports)
        ids = list(range(1, len(times) + 1))
        for _ in range(10):
            i, j = rng.randrange(len(ids)), rng.randrange(len(ids))
            ids[i], ids[j] = ids[j], ids[i]
        for t, i in zip(times, ids, strict=True):
            o = self._new_order(t, ident=100 + i)
            self.orders[o["identifier"]] = o
        for k in range(self.n_products):
            pid = 10 + k * 3
            created = now - dt.timedelta(days=rng.randint(1, 200), seconds=rng.randint(0, 86000))
            while not self.valid_local(created):
                created += dt.timedelta(hours=2)
            self.products[pid] = {
                "identifier": pid,
                "_created": created,
                "_updated": created + dt.timedelta(days=rng.randint(0, 5)),
                "_money_str": rng.random() < 0.5,
                "price": self._money(1, 5000),
                "sale_price": self._money(1, 100) if rng.random() < 0.7 else None,
                "stock": rng.randint(0, 300),
            }
        # products with the same created_at (tie on the product list too)
        some = list(self.products.values())[:4]
        for p in some:
            p["_created"] = some[0]["_created"]

    def add_arrivals(self, n: int) -> list[int]:
        now = self.now_local()
        new = []
        for _ in range(n):
            o = self._new_order(now)
            self.orders[o["identifier"]] = o
            new.append(o["identifier"])
        self.arrived.extend(new)
        return new

    # ---- ground truth -----------------------------------------------------------
    def ids_in_window(self, date_from: dt.date | None, date_to: dt.date | None) -> set[int]:
        with self.lock:
            return {
                i
                for i, o in self.orders.items()
                if (date_from is None or o["_created"].date() >= date_from)
                and (date_to is None or o["_created"].date() <= date_to)
            }

    # ---- rendering --------------------------------------------------------------
    @staticmethod
    def _m(d: Decimal | None, as_str: bool) -> Any:
        if d is None:
            return None
        if as_str:
            return f"{d:.2f}"
        if d == d.to_integral_value():
            return int(d)
        return float(d)

    def render_order(self, o: dict[str, Any], lang: str) -> dict[str, Any]:
        d = self._render_order(o, lang)
        if self.config.drift:
            i = o["identifier"]
            if i % 10 == 0:
                del d["updated_at"]
            if i % 17 == 0:
                del d["created_at"]
            if i % 7 == 0:
                d["status"] = {"value": "OnHold", "label": {"ar": "معلق", "en": "On hold"}, "color": "dark"}
                d["payment_status"] = {"value": "partially_refunded", "label": {"ar": "x", "en": "y"}}
            d["loyalty"] = {"points": i % 13, "tier": None}
            d["order_details"][0]["new_line_field"] = [1, 2]
        return d

    def _render_order(self, o: dict[str, Any], lang: str) -> dict[str, Any]:
        s = o["_money_str"]
        st = o["status"]
        ps = o["payment_status"]
        ident = o["identifier"]
        return {
            "id": ident,
            "identifier": ident,
            "order_id": f"26{ident:04d}",
            "name": "Budi Doremi",
            "email": f"c{ident}@example.com",
            "phone": "966512341222",
            "address": None,
            "customer": {"id": ident % 37, "name": "Budi", "email": "b@example.com", "mobile": "966512341222",
                         "avatar": "https://x/no-image.jpg"},
            "city": o["city"],
            "state": None,
            "country": "السعودية" if lang == "ar" else "Saudi Arabia",
            "zipcode": None,
            "full_address": "Saudi Arabia",
            "total_amount": self._m(o["total"], s),
            "formatted_total_amount": f"{o['total']:.2f} <sar></sar>",
            "coupon": o["coupon"],
            "coupon_discounted": self._m(o["coupon_discounted"], s),
            "status": {"value": st[0], "label": {"ar": st[1], "en": st[0]}, "color": st[2]},
            "payment_status": {"value": ps[0], "label": {"ar": ps[1], "en": ps[0].title()}, "color": ps[2]},
            "payment_gateway": {"value": "tjar-pay", "label": {"ar": "Tjar Pay", "en": "Tjar Pay"}},
            "transaction_id": None if ident % 3 == 0 else f"tjar-pay::{ident:08x}",
            "order_details": [
                {
                    "id": it["id"],
                    "name": it["name"],
                    "qty": it["qty"],
                    "price": self._m(it["price"], s),
                    "weight": self._m(it["weight"], False),
                    "type": 1,
                    "type_label": "مادي" if lang == "ar" else "physical",
                    "options": {
                        "image": "https://x/i.png",
                        "used_categories": {"category": [{"id": 2, "label": "Pakaian"}], "subcategory": []},
                        "product_options_cost": 0,
                        "product_options": [],
                        "dimensions": {"h": 0, "l": 0, "w": 0},
                        "is_booking": it["is_booking"],
                        "booking": None,
                    },
                    "discount": self._m(it["discount"], s),
                    "tax": self._m(it["tax"], s),
                    "subtotal": self._m(it["subtotal"], s),
                }
                for it in o["items"]
            ],
            "created_at": o["_created"].strftime(TS_FMT),
            "updated_at": o["_updated"].strftime(TS_FMT),
        }

    def render_product(self, p: dict[str, Any], lang: str) -> dict[str, Any]:
        d = self._render_product(p, lang)
        if self.config.drift:
            if p["identifier"] % 4 == 0:
                del d["created_at"]
                del d["updated_at"]
            d["variants"] = [{"id": 1, "color": "red", "size": "M", "stock": 3, "price": "1.50"}]
        return d

    def _render_product(self, p: dict[str, Any], lang: str) -> dict[str, Any]:
        s = p["_money_str"]
        pid = p["identifier"]
        return {
            "id": pid,
            "identifier": pid,
            "name": {"ar": f"منتج {pid}", "en": f"Product {pid}"},
            "summary": {"ar": "ملخص", "en": "summary"},
            "description": {"ar": "<p>وصف</p>", "en": "<p>desc</p>"},
            "type": "physical",
            "type_id": 1,
            "price": self._m(p["price"], s),
            "sale_price": self._m(p["sale_price"], s),
            "is_refundable": True,
            "min_purchase": 1,
            "max_purchase": 5,
            "image": "https://x/p.png",
            "is_published": True,
            "stock": p["stock"],
            "is_unlimited": False,
            "ratings": None,
            "created_at": p["_created"].strftime(TS_FMT),
            "updated_at": p["_updated"].strftime(TS_FMT),
            "product_options": [],
        }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: "TjarServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _send(self, code: int, body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None) -> None:
        if getattr(self, "_entry", None) is not None:
            self._entry["status"] = code
            self._entry = None
        data = raw if raw is not None else (b"" if body is None else json.dumps(body, ensure_ascii=False).encode())
        self.send_response(code)
        ctype = "application/json" if raw is None else "text/html"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        try:
            self._get()
        except Exception as e:  # pragma: no cover - debugging aid
            import traceback

            traceback.print_exc()
            self._send(500, {"status": "error", "message": f"fake server bug: {e}"})

    def _get(self) -> None:
        self._entry: dict[str, Any] | None = None
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        # s/{slug}/api/core/v1/<resource>[/<id>]
        if len(parts) < 6 or parts[0] != "s" or parts[2:5] != ["api", "core", "v1"]:
            self._send(404, {"status": "error", "message": "Not found"})
            return
        store = self.server.stores.get(parts[1])
        if store is None:
            self._send(404, {"status": "error", "message": "Not found"})
            return
        auth = self.headers.get("Authorization", "")
        if auth != f"Bearer {store.key}" or store.dead:
            self._send(401, {"status": "error", "message": "Unauthenticated."})
            return
        lang = (self.headers.get("Accept-Language") or "en")[:2]
        rest = parts[5:]
        q = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        cfg = store.config
        with store.lock:
            store.requests += 1
            is_list = rest == ["orders"]
            if is_list:
                store.list_requests += 1
                before = len(store.arrived)
                self._maybe_arrive(store)
                self._entry = {"n": store.list_requests, "query": url.query, "page": self._int(q.get("page"), 1),
                               "new": store.arrived[before:], "status": None,
                               "total": len(store.ids_in_window(
                                   dt.date.fromisoformat(q["date_from"]) if q.get("date_from") else None,
                                   dt.date.fromisoformat(q["date_to"]) if q.get("date_to") else None))}
                store.trace.append(self._entry)
            # faults (after arrivals: orders keep being created whatever we answer)
            if cfg.faults:
                r = store.rng.random()
                if r < cfg.p429:
                    ra = store.rng.choice(["0", "0", "1", None, None])
                    h = {"Retry-After": ra} if ra is not None else {}
                    store.log.append(f"429 ra={ra} {self.path}")
                    self._send(429, {"message": "Too Many Attempts."}, h)
                    return
                if r < cfg.p429 + cfg.p500:
                    kind = store.rng.choice(["json", "html", "empty"])
                    code = store.rng.choice([500, 500, 502, 503])
                    store.log.append(f"{code} {kind} {self.path}")
                    if kind == "json":
                        self._send(code, {"status": "error", "message": "Server Error"})
                    elif kind == "html":
                        self._send(code, None, raw=b"<html><body>Bad Gateway</body></html>")
                    else:
                        self._send(code, None)
                    return
            hdrs = {"X-RateLimit-Limit": "100000", "X-RateLimit-Remaining": str(max(0, 100000 - store.requests))} \
                if cfg.rate_headers else {}
            if rest == ["orders"]:
                body = self._list_orders(store, q, lang)
            elif rest == ["products"]:
                body = self._list_products(store, q, lang)
            elif len(rest) == 2 and rest[0] in ("orders", "products"):
                try:
                    ident = int(rest[1])
                except ValueError:
                    ident = -1
                coll = store.orders if rest[0] == "orders" else store.products
                obj = coll.get(ident)
                if obj is None:
                    self._send(404, {"status": "error", "message": "Not found"}, hdrs)
                    return
                data = store.render_order(obj, lang) if rest[0] == "orders" else store.render_product(obj, lang)
                msg = ("تم استرجاع تفاصيل الطلب بنجاح" if lang == "ar" else "Order details retrieved successfully") \
                    if rest[0] == "orders" else "Product details retrieved successfully"
                body = {"status": "success", "message": msg, "data": data}
            else:
                self._send(404, {"status": "error", "message": "Not found"}, hdrs)
                return
            if cfg.faults and store.rng.random() < cfg.p_garble:
                raw = json.dumps(body, ensure_ascii=False).encode()
                store.log.append(f"garble {self.path}")
                if getattr(self, "_entry", None) is not None:
                    self._entry["status"] = "garbled"
                    self._entry = None
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                cut = raw[: max(1, len(raw) // 3)]
                self.send_header("Content-Length", str(len(cut)))
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(cut)
                return
            self._send(200, body, hdrs)

    def _maybe_arrive(self, store: StoreState) -> None:
        cfg = store.config
        n = store.list_requests
        if cfg.arrivals == "stop":
            if n <= cfg.arrival_stop_after and store.rng.random() < cfg.arrival_prob:
                store.add_arrivals(store.rng.randint(1, cfg.arrival_max))
        elif cfg.arrivals == "never":
            store.add_arrivals(store.rng.randint(1, cfg.arrival_max))
        elif cfg.arrivals == "burst":
            if n == cfg.burst_at:
                store.add_arrivals(cfg.burst_size)

    @staticmethod
    def _int(v: str | None, default: int) -> int:
        try:
            return int(v) if v not in (None, "") else default
        except ValueError:
            return default

    def _page(self, store: StoreState, q: dict[str, str], items: list[dict[str, Any]], key: str,
              resource: str, msg: str, render) -> dict[str, Any]:
        cfg = store.config
        per = max(1, self._int(q.get("per_page"), cfg.default_per_page))
        if cfg.max_per_page is not None:
            per = min(per, cfg.max_per_page)
        page = max(1, self._int(q.get("page"), 1))
        total = len(items)
        last = max(1, math.ceil(total / per))
        chunk = items[(page - 1) * per: page * per]
        data: dict[str, Any] = {key: [render(x) for x in chunk]}
        host = self.headers.get("Host", "127.0.0.1")
        base = f"http://{host}/s/{store.slug}/api/core/v1/{resource}"

        def link(p: int) -> str:
            qq = dict(q) if cfg.links_keep_query else {}
            qq["page"] = str(p)
            return f"{base}?{urlencode(qq)}"

        nxt = link(page + 1) if page < last else None
        prv = link(page - 1) if page > 1 else None
        body: dict[str, Any] = {"status": "success", "message": msg, "data": data}
        if cfg.pagination == "data":
            data["pagination"] = {"current_page": page, "last_page": last, "per_page": per, "total": total}
        elif cfg.pagination == "meta":
            body["meta"] = {"current_page": page, "last_page": last, "per_page": per, "total": total}
            body["links"] = {"next": nxt, "prev": prv}
        elif cfg.pagination == "salla":
            links: Any = {"next": nxt, "previous": prv}
            if cfg.salla_links_empty_list:
                links = {k: v for k, v in links.items() if v is not None} or []
            body["pagination"] = {"count": len(chunk), "total": total, "perPage": per, "currentPage": page,
                                  "totalPages": last, "links": links}
        elif cfg.pagination == "none":
            pass
        else:  # pragma: no cover
            raise ValueError(cfg.pagination)
        return body

    def _list_orders(self, store: StoreState, q: dict[str, str], lang: str) -> dict[str, Any]:
        def day(v: str | None) -> dt.date | None:
            return dt.date.fromisoformat(v) if v else None

        df, dtt = day(q.get("date_from")), day(q.get("date_to"))
        rows = [o for o in store.orders.values()
                if (df is None or o["_created"].date() >= df) and (dtt is None or o["_created"].date() <= dtt)]
        rows.sort(key=lambda o: (o["_created"], o["identifier"]), reverse=True)
        msg = "تم استرجاع طلبات المنتجات بنجاح" if lang == "ar" else "Orders retrieved successfully"
        return self._page(store, q, rows, "orders", "orders", msg, lambda o: store.render_order(o, lang))

    def _list_products(self, store: StoreState, q: dict[str, str], lang: str) -> dict[str, Any]:
        rows = sorted(store.products.values(), key=lambda p: (p["_created"], p["identifier"]), reverse=True)
        return self._page(store, q, rows, "products", "products", "Products retrieved successfully",
                          lambda p: store.render_product(p, lang))


class TjarServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, stores: dict[str, StoreState], addr: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        self.stores = stores
        super().__init__(addr, Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> threading.Thread:
        t = threading.Thread(target=self.serve_forever, daemon=True)
        t.start()
        return t


if __name__ == "__main__":  # manual run: python server.py [port]
    import sys

    anchor = dt.datetime(2026, 3, 20, 9, 37, tzinfo=UTC)
    stores = {
        "acme": StoreState("acme", "KEY-acme", ZoneInfo("Asia/Riyadh"), anchor),
        "loja": StoreState("loja", "KEY-loja", ZoneInfo("America/Sao_Paulo"), anchor, seed=2),
    }
    srv = TjarServer(stores, ("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    print(f"serving on http://127.0.0.1:{srv.port}/s/{{acme,loja}}/api/core/v1", flush=True)
    srv.serve_forever()
