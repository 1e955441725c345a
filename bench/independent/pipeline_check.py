"""Acceptance run of the whole tjar-pipelines sync against the independent fake Tjar server.

Usage: /path/to/repo/.venv/bin/python bench/independent/pipeline_check.py [--shapes none,meta,salla]
       [--keep] [--dagster-home] [--seed N] [--churn-interval S] [--fault-rate P] [--delete-products]

1. starts bench/independent/server.py (extended here by LiveStore) in a thread on 127.0.0.1:<ephemeral>;
2. writes a store registry, sets the key variables, runs `tjar-pipelines sync --from --to` as a
   subprocess while a churn thread creates orders, changes statuses/totals/lines of old and new
   orders and updates/creates products;
3. stops the churn and runs the same sync again ("the scheduled sweep");
4. compares DuckDB (read-only) with the server's final truth; then runs the sync a third time
   and checks nothing changed; scans sync output, DuckDB and the lake for API keys.
Exit code 0 when everything passed.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server import PAY, STATUSES, TS_FMT, Config, StoreState, TjarServer  # noqa: E402

import duckdb  # noqa: E402  (from /work/main/.venv)

CLI = os.path.join(os.path.dirname(sys.executable), "tjar-pipelines")
UTC = dt.UTC
T_START = time.perf_counter()

AR_ITEMS = ["قميص قطني", "حذاء رياضي نايك", "عطر عود", "تمر سكري", "Nike Sports Shoe", "Gift card بطاقة هدية"]
AR_CITIES = [None, "الرياض", "جدة", "Riyadh", "مكة المكرمة"]
LINE_TYPES = [(1, "physical", "مادي"), (1, "physical", "مادي"), (2, "digital", "رقمي"), (3, "booking", "حجز")]


# ---------------------------------------------------------------------------------------------
# Server extension: richer order lines, Arabic text, and live changes
# ---------------------------------------------------------------------------------------------
EPS_TAX, EPS_DISC = Decimal("0.004"), Decimal("0.006")  # "12.344" -> 12.34, 3.936 -> 3.94


class LiveStore(StoreState):
    """StoreState with Arabic line names, line types/booking, boundary times, and mutation helpers."""

    def _build(self) -> None:
        super()._build()
        # 00:00:00 / 23:59:59 store-local on every 4th day, plus both edges of any DST-change day
        now = self.now_local()
        today = now.date()
        days = {today - dt.timedelta(days=d) for d in range(0, self.history_days, 4)}
        for d in range(self.history_days):
            day = today - dt.timedelta(days=d)
            a = dt.datetime.combine(day, dt.time(0, 0), tzinfo=self.tz).utcoffset()
            b = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=self.tz).utcoffset()
            if a != b:
                days.add(day)
                self.dst_days.append(day)
        for day in sorted(days):
            for t in (dt.datetime.combine(day, dt.time(0, 0, 0)), dt.datetime.combine(day, dt.time(23, 59, 59))):
                if t < now - dt.timedelta(seconds=30) and self.valid_local(t):
                    o = self._new_order(t)
                    self.orders[o["identifier"]] = o

    def __post_init__(self) -> None:
        self.dst_days: list[dt.date] = []
        super().__post_init__()

    def _m(self, d: Decimal | None, as_str: bool, ident: int | None = None) -> Any:  # type: ignore[override]
        if d is None or ident is None:
            return StoreState._m(d, as_str)
        if ident % 11 == 0 and not as_str:  # PHP float noise: 1 ulp above, e.g. 15.500000000000002
            return math.nextafter(float(d), math.inf)
        if ident % 13 == 0 and as_str:
            return f"{d:.3f}"  # "15.500"
        return StoreState._m(d, as_str)

    def _new_order(self, created_local: dt.datetime, ident: int | None = None) -> dict[str, Any]:
        o = super()._new_order(created_local, ident)
        for it in o["items"]:
            it["name"] = self.rng.choice(AR_ITEMS)
            t = self.rng.choice(LINE_TYPES)
            it["type"] = t
            it["is_booking"] = t[1] == "booking"
        o["city"] = self.rng.choice(AR_CITIES)
        o["customer_name"] = self.rng.choice(["Budi Doremi", "محمد العتيبي", "سارة القحطاني"])
        return o

    def _render_order(self, o: dict[str, Any], lang: str) -> dict[str, Any]:
        d = super()._render_order(o, lang)
        ident, s = o["identifier"], o["_money_str"]
        if ident % 17 == 0:  # 3-decimal amounts (not halves): must round to the halala
            for line, it in zip(d["order_details"], o["items"], strict=True):
                line["tax"] = f"{it['tax'] + EPS_TAX:.3f}"
                line["discount"] = float(it["discount"] + EPS_DISC)
        if ident % 11 == 0 or ident % 13 == 0:
            d["total_amount"] = self._m(o["total"], s, ident)
            for line, it in zip(d["order_details"], o["items"], strict=True):
                for f in ("price", "subtotal") if ident % 17 == 0 else ("price", "subtotal", "tax", "discount"):
                    line[f] = self._m(it[f], s, ident)
        d["name"] = o.get("customer_name", d["name"])
        d["customer"]["name"] = d["name"]
        for line, it in zip(d["order_details"], o["items"], strict=True):
            t = it.get("type", LINE_TYPES[0])
            line["type"] = t[0]
            line["type_label"] = t[2] if lang == "ar" else t[1]
            line["options"]["is_booking"] = it["is_booking"]
            line["options"]["booking"] = {"date": "2026-12-01", "slot": "10:00"} if it["is_booking"] else None
            if it["is_booking"]:
                line["options"]["product_options"] = [{"label": "اللون", "value": "أحمر", "type": "radio", "cost": 5}]
        return d

    def _render_product(self, p: dict[str, Any], lang: str) -> dict[str, Any]:
        d = super()._render_product(p, lang)
        pid = p["identifier"]
        d["name"] = {"ar": p.get("name_ar", f"منتج {pid}"), "en": p.get("name_en", f"Product {pid}")}
        d["type"] = p.get("type", "physical")
        d["type_id"] = p.get("type_id", 1)
        d["is_unlimited"] = p.get("is_unlimited", False)
        d["is_published"] = p.get("is_published", True)
        d["product_options"] = [
            {"type": "radio", "title": {"ar": "اللون", "en": "Colour"}, "sub_title": {"ar": "", "en": ""},
             "options": {"ar": {"أزرق": 5, "أحمر": 4}, "en": {"Blue": 5, "Red": 4}},
             "is_required": True, "multi_select": False}
        ] if pid % 2 else []
        return d

    # -- live changes (caller holds self.lock) -------------------------------------------------
    def mutate_order(self, rng: random.Random) -> str:
        ids = list(self.orders)
        now = self.now_local()
        if rng.random() < 0.5:  # bias towards old orders (> 7 days)
            old = [i for i in ids if (now - self.orders[i]["_created"]).days > 7]
            ids = old or ids
        o = self.orders[rng.choice(ids)]
        what = []
        st = rng.choice([s for s in STATUSES if s != o["status"]])
        o["status"] = st
        what.append("status")
        if rng.random() < 0.5:
            o["payment_status"] = rng.choice([p for p in PAY if p != o["payment_status"]])
            what.append("payment")
        if rng.random() < 0.5:
            delta = Decimal(rng.randint(-900, 9000)).scaleb(-2)
            o["total"] = max(Decimal("0.00"), o["total"] + delta)
            what.append("total")
        if rng.random() < 0.2:
            it = rng.choice(o["items"])
            it["qty"] += 1
            it["subtotal"] = it["price"] * it["qty"]
            o["total"] += it["price"]
            what.append("line")
        if rng.random() < 0.1:
            o["_money_str"] = not o["_money_str"]
        o["_updated"] = max(now, o["_created"])
        return o["identifier"], "+".join(what)

    def mutate_product(self, rng: random.Random) -> int:
        p = self.products[rng.choice(list(self.products))]
        p["price"] = self._money(1, 5000)
        p["sale_price"] = self._money(1, 100) if rng.random() < 0.6 else None
        p["stock"] = rng.randint(0, 300)
        if rng.random() < 0.3:
            p["name_ar"] = f"منتج محدث {p['identifier']} {rng.randint(1, 99)}"
        p["_updated"] = self.now_local()
        return p["identifier"]

    def delete_product(self, rng: random.Random) -> int:
        pid = rng.choice(list(self.products))
        del self.products[pid]
        return pid

    def new_product(self, rng: random.Random) -> int:
        pid = max(self.products) + 3
        now = self.now_local()
        self.products[pid] = {
            "identifier": pid, "_created": now, "_updated": now, "_money_str": rng.random() < 0.5,
            "price": self._money(1, 5000), "sale_price": None, "stock": rng.randint(0, 50),
            "name_ar": f"منتج جديد {pid}", "name_en": f"New product {pid}", "type": "digital", "type_id": 2,
            "is_unlimited": True,
        }
        return pid


class Churn(threading.Thread):
    def __init__(self, stores: list[LiveStore], seed: int, interval: float, delete_products: bool) -> None:
        super().__init__(daemon=True)
        self.delete_products = delete_products
        self.touched: set[tuple[str, tuple[str, str]]] = set()
        self.stores, self.rng, self.interval = stores, random.Random(seed), interval
        self.stop_evt = threading.Event()
        self.stats: dict[str, Counter] = {s.slug: Counter() for s in stores}

    def run(self) -> None:
        while not self.stop_evt.is_set():
            for st in self.stores:
                with st.lock:
                    r = self.rng.random()
                    c = self.stats[st.slug]
                    if r < 0.25:
                        n = self.rng.randint(1, 3)
                        for i in st.add_arrivals(n):
                            self.touched.add(("o", (st.slug, str(i))))
                        c["new_orders"] += n
                    elif r < 0.75:
                        i, kind = st.mutate_order(self.rng)
                        self.touched.add(("o", (st.slug, str(i))))
                        c["order_changes"] += 1
                        for k in kind.split("+"):
                            c[f"  {k}"] += 1
                    elif r < 0.93:
                        i = st.mutate_product(self.rng)
                        self.touched.add(("p", (st.slug, str(i))))
                        c["product_changes"] += 1
                    elif r < 0.97 and self.delete_products:
                        i = st.delete_product(self.rng)
                        self.touched.add(("p", (st.slug, str(i))))
                        c["deleted_products"] += 1
                    else:
                        i = st.new_product(self.rng)
                        self.touched.add(("p", (st.slug, str(i))))
                        c["new_products"] += 1
            self.stop_evt.wait(self.interval)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def q2(d: Any) -> Decimal | None:
    if d is None:
        return None
    return Decimal(str(d)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def run_sync(name: str, env: dict[str, str], args: list[str], logdir: Path, timeout: float) -> dict[str, Any]:
    cmd = [CLI, "sync", *args]
    t0 = time.perf_counter()
    out_p, err_p = logdir / f"{name}.stdout", logdir / f"{name}.stderr"
    with open(out_p, "wb") as out, open(err_p, "wb") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            rc = "timeout"
    return {"name": name, "cmd": " ".join(cmd[1:]), "rc": rc, "seconds": time.perf_counter() - t0,
            "stdout": out_p.read_text(errors="replace"), "stderr": err_p.read_text(errors="replace")}


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [name]).fetchone()[0])


def snapshot_tables(db: Path) -> dict[str, Any]:
    """Full contents of every table/view except synced_at-like columns (for idempotency)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables order by 1").fetchall()]
        for t in names:
            cols = [r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_name = ? order by ordinal_position",
                [t]).fetchall()]
            skip = [c for c in cols if c.lower() in ("synced_at",) or c.lower().endswith("_synced_at")]
            keep = [c for c in cols if c not in skip]
            rows = con.execute(f"select {', '.join(chr(34) + c + chr(34) for c in keep)} from \"{t}\"").fetchall()
            out[t] = {"skipped": skip, "cols": keep, "rows": Counter(tuple(map(_hashable, r)) for r in rows)}
        return out
    finally:
        con.close()


def _hashable(v: Any) -> Any:
    if isinstance(v, (list, dict)):
        return json.dumps(v, sort_keys=True, default=str)
    return v


# ---------------------------------------------------------------------------------------------
# Comparison with truth
# ---------------------------------------------------------------------------------------------
def expected(stores: dict[str, LiveStore], first: dt.date, last: dt.date, langs: dict[str, str]) -> dict[str, Any]:
    orders, items, products = {}, {}, {}
    for slug, st in stores.items():
        ar = langs[slug] == "ar"
        with st.lock:
            for i, o in st.orders.items():
                if not (first <= o["_created"].date() <= last):
                    continue
                key = (slug, str(i))
                orders[key] = {
                    "status": o["status"][0],
                    "payment_status": o["payment_status"][0],
                    "total_amount": q2(o["total"]),
                    "order_date": o["_created"].date(),
                    "created_at": st.local_to_utc(o["_created"]),
                    "updated_at": st.local_to_utc(o["_updated"]),
                    "coupon": o["coupon"],
                    "coupon_discount": q2(o["coupon_discounted"]),
                    "item_count": len(o["items"]),
                    "order_number": f"26{i:04d}",
                    "payment_gateway": "tjar-pay",
                    "customer_name": o.get("customer_name", "Budi Doremi"),
                    "country": "السعودية" if ar else "Saudi Arabia",
                    "city": o["city"],
                    "transaction_id": None if i % 3 == 0 else f"tjar-pay::{i:08x}",
                }
                e3 = i % 17 == 0
                items[key] = [
                    {"product_id": it["id"], "name": it["name"], "qty": it["qty"], "price": q2(it["price"]),
                     "subtotal": q2(it["subtotal"]),
                     "discount": q2(it["discount"] + (EPS_DISC if e3 else 0)),
                     "tax": q2(it["tax"] + (EPS_TAX if e3 else 0)),
                     "type": it.get("type", LINE_TYPES[0])[0],
                     "type_label": it.get("type", LINE_TYPES[0])[2 if ar else 1],
                     "is_booking": it["is_booking"], "weight": float(it["weight"]),
                     "order_date": o["_created"].date()}
                    for it in o["items"]
                ]
            for pid, p in st.products.items():
                products[(slug, str(pid))] = {
                    "price": q2(p["price"]), "sale_price": q2(p["sale_price"]), "stock": p["stock"],
                    "name_ar": p.get("name_ar", f"منتج {pid}"), "name_en": p.get("name_en", f"Product {pid}"),
                    "updated_at": st.local_to_utc(p["_updated"]),
                    "created_at": st.local_to_utc(p["_created"]),
                    "type": p.get("type", "physical"), "type_id": p.get("type_id", 1),
                    "is_unlimited": p.get("is_unlimited", False), "is_published": p.get("is_published", True),
                }
    return {"orders": orders, "items": items, "products": products}


OCOLS = ["status", "payment_status", "total_amount", "order_date", "created_at", "updated_at", "coupon",
         "coupon_discount", "item_count", "order_number", "payment_gateway", "customer_name", "country", "city",
         "transaction_id"]
ICOLS = ["product_id", "name", "qty", "price", "subtotal", "discount", "tax", "type", "type_label", "is_booking",
         "weight", "order_date"]
PCOLS = ["price", "sale_price", "stock", "name_ar", "name_en", "updated_at", "created_at", "type", "type_id",
         "is_unlimited", "is_published"]


def _norm(v: Any) -> Any:
    if isinstance(v, Decimal):
        return q2(v)
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.astimezone(UTC)
    return v


class Problems(list):
    """Messages, plus the (kind, key) of every row that differs."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[tuple[str, tuple[str, str]]] = set()

    def add(self, kind: str, key: tuple[str, str], msg: str) -> None:
        self.append(msg)
        self.keys.add((kind, key))


def compare(db: Path, exp: dict[str, Any], slugs: list[str]) -> tuple[Problems, dict[str, Any]]:
    problems = Problems()
    info: dict[str, Any] = {}
    con = duckdb.connect(str(db), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    try:
        # orders --------------------------------------------------------------------------
        rows = con.execute(
            f"select store, identifier::varchar, {', '.join(OCOLS)} from orders").fetchall()
        got: dict[tuple[str, str], dict[str, Any]] = {}
        dups = Counter((r[0], r[1]) for r in rows)
        for k, n in dups.items():
            if n > 1:
                problems.add("o", k, f"orders: duplicate row {k} x{n}")
        for r in rows:
            got[(r[0], r[1])] = dict(zip(OCOLS, map(_norm, r[2:])))
        e_orders = exp["orders"]
        missing = sorted(set(e_orders) - set(got))
        extra = sorted(set(got) - set(e_orders))
        for k in missing:
            problems.add("o", k, f"orders: missing {k} (created {e_orders[k]['order_date']})")
        for k in extra:
            problems.add("o", k, f"orders: unexpected {k} {got[k]}")
        field_diffs = Counter()
        for k in sorted(set(e_orders) & set(got)):
            for f, ev in e_orders[k].items():
                gv = got[k][f]
                if isinstance(ev, dt.datetime) and isinstance(gv, dt.datetime):
                    ok = ev == gv
                elif isinstance(ev, dt.date) and isinstance(gv, dt.datetime):
                    ok = False
                else:
                    ok = ev == gv
                if not ok:
                    field_diffs[f] += 1
                    problems.add("o", k, f"orders {k}: {f} expected {ev!r} got {gv!r}")
        info["orders"] = {s: sum(1 for k in got if k[0] == s) for s in slugs}
        info["orders_expected"] = {s: sum(1 for k in e_orders if k[0] == s) for s in slugs}

        # order_items ----------------------------------------------------------------------
        rows = con.execute(
            f"select store, order_identifier::varchar, line_number, {', '.join(ICOLS)}"
            " from order_items order by store, order_identifier, line_number").fetchall()
        gi: dict[tuple[str, str], list] = defaultdict(list)
        for r in rows:
            gi[(r[0], r[1])].append(r)
        e_items = exp["items"]
        for k in sorted(set(e_items) | set(gi)):
            el, gl = e_items.get(k), gi.get(k, [])
            if el is None:
                problems.add("o", k, f"order_items: lines for unknown order {k}: {len(gl)}")
                continue
            if len(el) != len(gl):
                problems.add("o", k, f"order_items {k}: line count expected {len(el)} got {len(gl)}")
                continue
            nums = [r[2] for r in gl]
            if nums != list(range(1, len(el) + 1)):
                problems.add("o", k, f"order_items {k}: line_number expected 1..{len(el)} got {nums}")
            for e, r in zip(el, gl, strict=True):
                g = dict(zip(ICOLS, map(_norm, r[3:])))
                if g["product_id"] is not None:
                    g["product_id"] = int(g["product_id"])
                for f, ev in e.items():
                    if g[f] != ev:
                        problems.add("o", k, f"order_items {k} line {r[2]}: {f} expected {ev!r} got {g[f]!r}")
        info["order_items"] = len(rows)
        info["order_items_expected"] = sum(len(v) for v in e_items.values())

        # products -------------------------------------------------------------------------
        rows = con.execute(
            f"select store, identifier::varchar, {', '.join(PCOLS)} from products").fetchall()
        gp = {}
        for k, n in Counter((r[0], r[1]) for r in rows).items():
            if n > 1:
                problems.add("p", k, f"products: duplicate row {k} x{n}")
        for r in rows:
            gp[(r[0], r[1])] = dict(zip(PCOLS, map(_norm, r[2:])))
        e_prod = exp["products"]
        for k in sorted(set(e_prod) - set(gp)):
            problems.add("p", k, f"products: missing {k}")
        for k in sorted(set(gp) - set(e_prod)):
            problems.add("p", k, f"products: unexpected {k}")
        for k in sorted(set(gp) & set(e_prod)):
            for f, ev in e_prod[k].items():
                if gp[k][f] != ev:
                    problems.add("p", k, f"products {k}: {f} expected {ev!r} got {gp[k][f]!r}")
        info["products"] = len(rows)
        info["products_expected"] = len(e_prod)
    finally:
        con.close()
    return problems, info


def scan_secrets(db: Path, data_dir: Path, texts: dict[str, str], keys: list[str]) -> list[str]:
    hits = []
    for name, text in texts.items():
        for k in keys:
            if k in text:
                hits.append(f"key {k[:7]}… in {name}")
    con = duckdb.connect(str(db), read_only=True)
    try:
        for t in ("orders", "order_items", "products", "daily_sales", "product_sales"):
            if not table_exists(con, t):
                continue
            cols = [r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_name = ?", [t]).fetchall()]
            for k in keys:
                cond = " or ".join(f"contains(\"{c}\"::varchar, ?)" for c in cols)
                n = con.execute(f"select count(*) from \"{t}\" where {cond}", [k] * len(cols)).fetchone()[0]
                if n:
                    hits.append(f"key {k[:7]}… in {n} rows of DuckDB {t}")
    finally:
        con.close()
    for p in data_dir.rglob("*"):
        if p.is_file():
            b = p.read_bytes()
            for k in keys:
                if k.encode() in b:
                    hits.append(f"key {k[:7]}… in file {p}")
    return hits


def edge_stats(stores: dict[str, LiveStore], first: dt.date, last: dt.date) -> dict[str, Any]:
    out = {}
    for slug, st in stores.items():
        os_ = [o for o in st.orders.values() if first <= o["_created"].date() <= last]
        out[slug] = {
            "00:00:00": sum(o["_created"].time() == dt.time(0, 0) for o in os_),
            "23:59:59": sum(o["_created"].time() == dt.time(23, 59, 59) for o in os_),
            "dst_days": [str(d) for d in st.dst_days],
            "money_as_str": sum(o["_money_str"] for o in os_),
            "ulp_floats": sum(o["identifier"] % 11 == 0 and not o["_money_str"] for o in os_),
            "3dp_strings": sum(o["identifier"] % 13 == 0 and o["_money_str"] for o in os_),
            "3dp_rounding": sum(o["identifier"] % 17 == 0 for o in os_),
            "booking_lines": sum(it["is_booking"] for o in os_ for it in o["items"]),
        }
    return out


def check_sales(db: Path, exp: dict[str, Any]) -> tuple[list[str], list[str]]:
    """daily_sales and product_sales against the truth (documented: cancelled orders excluded).

    Returns (problems, notes): counts, revenue and days are checked; the revenue definition of
    product_sales and items_sold are reported as notes.
    """
    con = duckdb.connect(str(db), read_only=True)
    try:
        ds = con.execute("select store, order_date, orders, revenue, items_sold, avg_order_value, cancelled_orders"
                         " from daily_sales").fetchall()
        ps = con.execute("select store, product_id, orders, qty_sold, revenue, first_sold, last_sold"
                         " from product_sales").fetchall()
    finally:
        con.close()
    problems, notes = [], []
    day: dict[tuple[str, dt.date], list] = defaultdict(list)
    for key, o in exp["orders"].items():
        day[(key[0], o["order_date"])].append((key, o))
    got = {(r[0], r[1]): r for r in ds}
    items_def = Counter()
    for k in sorted(set(day) | set(got)):
        t, g = day.get(k, []), got.get(k)
        live = [(key, o) for key, o in t if o["status"] != "Cancelled"]
        if g is None:
            problems.append(f"daily_sales: missing {k}")
            continue
        want = (len(live), sum((o["total_amount"] for _, o in live), Decimal(0)),
                len(t) - len(live))
        if (g[2], g[3], g[6]) != want:
            problems.append(f"daily_sales {k}: (orders, revenue, cancelled) expected {want} got {(g[2], g[3], g[6])}")
        if live and g[5] is not None and abs(g[5] - want[1] / len(live)) > Decimal("0.01"):
            problems.append(f"daily_sales {k}: avg_order_value {g[5]} vs {want[1] / len(live):.2f}")
        qty = sum(it["qty"] for key, _ in live for it in exp["items"][key])
        lines = sum(len(exp["items"][key]) for key, _ in live)
        items_def["sum(qty)" if g[4] == qty else "count(lines)" if g[4] == lines else "other"] += 1
    notes.append(f"daily_sales.items_sold matches per day: {dict(items_def)}")
    prod: dict[tuple[str, str], dict[str, Any]] = {}
    for key, o in exp["orders"].items():
        if o["status"] == "Cancelled":
            continue
        for it in exp["items"][key]:
            pk = (key[0], str(it["product_id"]))
            e = prod.setdefault(pk, {"orders": set(), "qty": 0, "sub": Decimal(0), "net": Decimal(0),
                                     "first": o["order_date"], "last": o["order_date"]})
            e["orders"].add(key)
            e["qty"] += it["qty"]
            e["sub"] += it["subtotal"]
            e["net"] += it["subtotal"] - it["discount"]
            e["first"] = min(e["first"], o["order_date"])
            e["last"] = max(e["last"], o["order_date"])
    gotp = {(r[0], r[1]): r for r in ps}
    rev_def = Counter()
    for k in sorted(set(prod) | set(gotp)):
        e, g = prod.get(k), gotp.get(k)
        if e is None or g is None:
            problems.append(f"product_sales: {'missing' if g is None else 'unexpected'} {k}")
            continue
        want = (len(e["orders"]), e["qty"], e["first"], e["last"])
        if (g[2], g[3], g[5], g[6]) != want:
            problems.append(f"product_sales {k}: (orders, qty, first, last) expected {want} got {(g[2], g[3], g[5], g[6])}")
        rev_def["sum(subtotal)" if g[4] == e["sub"] else "sum(subtotal-discount)" if g[4] == e["net"] else "other"] += 1
    notes.append(f"product_sales.revenue matches: {dict(rev_def)}")
    return problems, notes


# ---------------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="none,meta,salla", help="pagination of acme,nyc,kiwi")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--churn-interval", type=float, default=0.05)
    ap.add_argument("--orders", type=int, default=250)
    ap.add_argument("--history-days", type=int, default=35)
    ap.add_argument("--timeout", type=float, default=150.0)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--dagster-home", action="store_true", help="persist runs in a temp DAGSTER_HOME (scanned for keys)")
    ap.add_argument("--skip-third", action="store_true")
    ap.add_argument("--fault-rate", type=float, default=0.04, help="probability of a 429 and of a 5xx per request")
    ap.add_argument("--delete-products", action="store_true", help="the churn also deletes products")
    args = ap.parse_args()

    shapes = args.shapes.split(",")
    specs = [  # slug, tz, key, language, clamp, extra config
        ("acme", "Asia/Riyadh", "sk-acme-S3CR3T-9f8e7d6c5b4a", "ar", 25, {}),
        ("nyc", "America/New_York", "sk-nyc-S3CR3T-a1a2a3a4a5a6", "en", 50, {"links_keep_query": False}),
        ("kiwi", "Pacific/Auckland", "sk-kiwi-S3CR3T-77aa88bb99cc", "ar", 20, {"salla_links_empty_list": True}),
    ][: len(shapes)]
    root = Path(tempfile.mkdtemp(prefix="tjar-accept-"))
    data_dir, logdir = root / "data", root / "logs"
    logdir.mkdir()
    anchor = dt.datetime.now(UTC)
    stores: dict[str, LiveStore] = {}
    for n, ((slug, tz, key, lang, clamp, extra), shape) in enumerate(zip(specs, shapes, strict=True)):
        cfg = Config(pagination=shape, max_per_page=clamp, faults=True, p429=args.fault_rate, p500=args.fault_rate, seed=n, **extra)
        stores[slug] = LiveStore(slug, key, ZoneInfo(tz), anchor, n_orders=args.orders,
                                 history_days=args.history_days, seed=args.seed + n, config=cfg)
    server = TjarServer(stores, ("127.0.0.1", 0))
    server.start()
    port = server.port

    # range: every order of every store; --to = the latest "today" among the stores
    first = min(min(o["_created"].date() for o in st.orders.values()) for st in stores.values())
    last = max(st.today() for st in stores.values())
    reg = ["stores:"]
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    for slug, tz, key, lang, *_ in specs:
        var = f"TJAR_{slug.upper()}_API_KEY"
        env[var] = key
        reg += [f"  - slug: {slug}", f"    domain: {slug}.tjar.test", f"    api_key_env: {var}",
                f"    base_url: http://127.0.0.1:{port}/s/{slug}/api/core/v1", f"    timezone: {tz}",
                f"    language: {lang}", f"    start_date: {first.isoformat()}"]
    (root / "stores.yaml").write_text("\n".join(reg) + "\n")
    env.update(TJAR_STORES_FILE=str(root / "stores.yaml"), TJAR_DATA_DIR=str(data_dir), TJAR_RUN_RETRIES="0",
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", PYTHONUNBUFFERED="1")
    if args.dagster_home:
        (root / "dagster_home").mkdir()
        env["DAGSTER_HOME"] = str(root / "dagster_home")
    sync_args = ["--from", first.isoformat(), "--to", last.isoformat()]

    print(f"workdir {root}  server http://127.0.0.1:{port}  range {first}..{last}")
    for slug, st in stores.items():
        c = st.config
        print(f"  {slug:5} tz={st.tz.key:18} today={st.today()} pagination={c.pagination:5} clamp={c.max_per_page}"
              f" faults=429/5xx {c.p429:.0%}/{c.p500:.0%} orders={len(st.orders)} products={len(st.products)}"
              + ("" if c.links_keep_query else " links-without-query")
              + (" salla-links=[]" if c.salla_links_empty_list and c.pagination == "salla" else ""))

    results: list[tuple[str, bool, str]] = []
    syncs = []
    # 1: sync under churn ----------------------------------------------------------------------
    churn = Churn(list(stores.values()), args.seed, args.churn_interval, args.delete_products)
    churn.start()
    s1 = run_sync("sync1-under-churn", env, sync_args, logdir, args.timeout)
    churn.stop_evt.set()
    churn.join()
    syncs.append(s1)
    langs = {sp[0]: sp[3] for sp in specs}
    exp_after1 = expected(stores, first, last, langs)
    stale1 = Problems()
    if (data_dir / "tjar.duckdb").exists():
        stale1, info1 = compare(data_dir / "tjar.duckdb", exp_after1, list(stores))
    wrong_untouched = sorted(stale1.keys - churn.touched)
    # 2: the sweep -----------------------------------------------------------------------------
    s2 = run_sync("sync2-sweep", env, sync_args, logdir, args.timeout)
    syncs.append(s2)
    exp = expected(stores, first, last, langs)
    assert exp == exp_after1, "truth changed without churn?"
    db = data_dir / "tjar.duckdb"
    problems, info = compare(db, exp, list(stores)) if db.exists() else (Problems(), {})
    if not db.exists():
        problems.append("no tjar.duckdb")
    sales_problems, sales_notes = check_sales(db, exp) if db.exists() else (["no db"], [])
    snap2 = snapshot_tables(db) if db.exists() else {}
    # 3: idempotency ---------------------------------------------------------------------------
    s3 = None
    if not args.skip_third:
        s3 = run_sync("sync3-rerun", env, sync_args, logdir, args.timeout)
        syncs.append(s3)
    snap3 = snapshot_tables(db) if db.exists() and s3 else {}

    # secrets
    texts = {f"{s['name']} {k}": s[k] for s in syncs for k in ("stdout", "stderr")}
    keys = [sp[2] for sp in specs]
    hits = scan_secrets(db, data_dir, texts, keys) if db.exists() else []
    if args.dagster_home:
        for p in (root / "dagster_home").rglob("*"):
            if p.is_file():
                b = p.read_bytes()
                hits += [f"key {k[:7]}… in {p}" for k in keys if k.encode() in b]
    server_stats = {slug: {"requests": st.requests, "faults": len(st.log),
                           "429": sum(1 for x in st.log if x.startswith("429")),
                           "5xx": sum(1 for x in st.log if x[:1] == "5")} for slug, st in stores.items()}
    server.shutdown()
    server.server_close()

    # ---- report ------------------------------------------------------------------------------
    for s in syncs:
        results.append((f"{s['name']}: exit code 0", s["rc"] == 0, f"rc={s['rc']} {s['seconds']:.1f}s"))
    results.append(("sync 1 under churn: every row the churn did not touch is exact", not wrong_untouched,
                    f"{len(churn.touched)} rows touched, {len(stale1.keys)} rows stale after sync 1, "
                    f"{len(wrong_untouched)} wrong but untouched {wrong_untouched[:5]}"))
    results.append(("final DuckDB == server truth (orders, status, payment, total, order_date, lines, products)",
                    not problems, f"{len(problems)} differences"))
    results.append(("daily_sales / product_sales agree with truth (cancelled excluded, as documented)",
                    not sales_problems, f"{len(sales_problems)} differences"))
    if s3:
        diffs = []
        for t in sorted(set(snap2) | set(snap3)):
            a, b = snap2.get(t), snap3.get(t)
            if a is None or b is None:
                diffs.append(f"{t}: present only after {'sync3' if a is None else 'sync2'}")
                continue
            if a["cols"] != b["cols"]:
                diffs.append(f"{t}: columns changed {a['cols']} -> {b['cols']}")
                continue
            if a["rows"] != b["rows"]:
                only2, only3 = a["rows"] - b["rows"], b["rows"] - a["rows"]
                diffs.append(f"{t}: {sum(only2.values())} rows only after sync2, {sum(only3.values())} only after sync3;"
                             f" e.g. {list(only2)[:1]} vs {list(only3)[:1]}")
        skipped = {t: v["skipped"] for t, v in snap2.items()}
        results.append(("third sync changes nothing (all tables/views, minus synced_at)", not diffs,
                        f"tables={sorted(snap2)} rows={ {t: sum(v['rows'].values()) for t, v in snap2.items()} }"
                        f" excluded={skipped}"))
    results.append(("no API key in sync stdout/stderr, DuckDB columns, lake files"
                    + (", DAGSTER_HOME" if args.dagster_home else ""), not hits, "; ".join(hits) or "clean"))

    print("\nchurn during sync 1 (per store):")
    for slug, c in churn.stats.items():
        print(f"  {slug}: " + ", ".join(f"{k.strip()}={v}" for k, v in c.items()))
    print(f"server: {server_stats}")
    print(f"\nafter sync 1 (before the sweep): {len(stale1)} differences from the truth at that moment"
          f" (expected: changes made after a day was read)")
    kinds = Counter(p.split(":")[0].split(" (")[0].split(" ")[0] + ":" + (p.split(": ")[1].split(" ")[0] if ": " in p else "")
                    for p in stale1)
    if stale1:
        print("  by kind: " + ", ".join(f"{k}={v}" for k, v in kinds.most_common()))
    for s in syncs:
        print(f"\n--- {s['name']}  rc={s['rc']}  {s['seconds']:.1f}s  `tjar-pipelines {s['cmd']}`")
        print("    " + s["stdout"].rstrip().replace("\n", "\n    "))
        err = s["stderr"].strip()
        if err:
            lines = err.splitlines()
            print(f"    [stderr: {len(lines)} lines, {len(err)} chars; last 15:]")
            print("    " + "\n    ".join(lines[-15:]))
    print(f"\ncounts after sweep: {info}")
    print(f"edge cases in the truth: {edge_stats(stores, first, last)}")
    print("sales notes: " + "; ".join(sales_notes))
    print("\n==== scenario table ====")
    for name, ok, detail in results:
        print(f"{'PASS' if ok else 'FAIL'}  {name}  [{detail}]")
    if problems:
        print(f"\n{len(problems)} differences (first 60):")
        for p in problems[:60]:
            print("  " + p)
    if sales_problems:
        print(f"\n{len(sales_problems)} sales differences (first 20):")
        for p in sales_problems[:20]:
            print("  " + p)
    if s3 and diffs:
        print("\nidempotency differences:")
        for d in diffs:
            print("  " + d)
    print(f"\ntotal {time.perf_counter() - T_START:.1f}s; logs in {logdir}" + ("" if args.keep else " (removed)"))
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
