"""Run the independent fake Tjar server against tjar_pipelines.client and compare with ground truth.

Usage: /path/to/repo/.venv/bin/python bench/independent/check.py [-v] [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import itertools
import logging
import os
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Callable
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server import Config, StoreState, TjarServer  # noqa: E402

from tjar_pipelines.client import (  # noqa: E402
    ClientSettings,
    Secret,
    StoreConnection,
    TjarAuthError,
    TjarClient,
    TjarNotFoundError,
)

ANCHOR = dt.datetime(2026, 3, 20, 9, 37, 11, tzinfo=dt.UTC)  # NY straddles the 2026-03-08 DST change
STORES = {
    "acme": ("Asia/Riyadh", "sk-acme-S3CR3T-9f8e7d6c5b4a"),
    "loja": ("America/Sao_Paulo", "sk-loja-S3CR3T-0a1b2c3d4e5f"),
    "nyc": ("America/New_York", "sk-nyc-S3CR3T-a1a2a3a4a5a6"),
}
TIMEOUT = 60.0
VERBOSE = "-v" in sys.argv

# ---- log capture (secret scan) --------------------------------------------------------
LOG = io.StringIO()
_h = logging.StreamHandler(LOG)
_h.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
logging.getLogger().addHandler(_h)
logging.getLogger().setLevel(logging.DEBUG)
for noisy in ("httpcore", "asyncio"):
    logging.getLogger(noisy).setLevel(logging.WARNING)
EXC_TEXTS: list[str] = []
store_notes: dict[str, Any] = {}


@dataclass
class Result:
    name: str
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def fail(self, msg: str) -> None:
        self.ok = False
        self.problems.append(msg)


def make_store(slug: str, cfg: Config, seed: int, n_orders: int = 300) -> StoreState:
    tzname, key = STORES[slug]
    return StoreState(slug, key, ZoneInfo(tzname), ANCHOR, n_orders=n_orders, seed=seed, config=cfg)


def make_client(server: TjarServer, store: StoreState, key: str | None = None, **kw: Any) -> TjarClient:
    conn = StoreConnection(
        slug=store.slug,
        base_url=f"http://127.0.0.1:{server.port}/s/{store.slug}/api/core/v1",
        api_key=Secret(key or store.key),
        api_key_env=f"TJAR_{store.slug.upper()}_API_KEY",
        language="en",
        timezone=str(store.tz),
    )
    settings = ClientSettings(requests_per_second=1000, burst=100, max_attempts=10,
                              backoff_base=0.01, backoff_cap=0.05, **kw)
    return TjarClient(conn, settings, now=store.now_utc)


def with_watchdog(store: StoreState, fn: Callable[[], Any]) -> Any:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["v"] = fn()
        except BaseException as e:  # noqa: BLE001
            box["e"] = e
            box["tb"] = traceback.format_exc()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(TIMEOUT)
    if t.is_alive():
        store.dead = True  # every request now gets 401, so the client stops
        t.join(30)
        raise TimeoutError(f"client still running after {TIMEOUT}s (server answered 401 to stop it); "
                           f"list requests so far: {store.list_requests}")
    if "e" in box:
        EXC_TEXTS.append(str(box["e"]))
        raise box["e"]
    return box["v"]


def d2(v: Any) -> Decimal | None:
    return None if v is None else Decimal(v)


def check_order_fields(res: Result, store: StoreState, o: Any, where: str) -> None:
    t = store.orders.get(int(o.identifier))
    if t is None:
        res.fail(f"{where}: order {o.identifier} unknown to the store")
        return
    errs = []
    if o.total_amount != t["total"] or not isinstance(o.total_amount, Decimal):
        errs.append(f"total_amount {o.total_amount!r} != {t['total']}")
    if o.coupon_discount != t["coupon_discounted"]:
        errs.append(f"coupon_discount {o.coupon_discount!r} != {t['coupon_discounted']}")
    ident = int(o.identifier)
    drift = store.config.drift
    no_created = drift and ident % 17 == 0
    no_updated = drift and ident % 10 == 0
    want_status = "OnHold" if drift and ident % 7 == 0 else t["status"][0]
    if no_created:
        if o.created_at is not None:
            errs.append(f"created_at {o.created_at!r} although the field was missing")
        if o.order_date not in (None, t["_created"].date()):
            errs.append(f"order_date {o.order_date!r} although created_at was missing")
        store_notes.setdefault("missing_created_at", (o.order_date, o.created_at))
    else:
        if o.order_date != t["_created"].date():
            errs.append(f"order_date {o.order_date} != {t['_created'].date()}")
        if o.created_at != store.local_to_utc(t["_created"]):
            errs.append(f"created_at {o.created_at!r} != {store.local_to_utc(t['_created'])}")
    if no_updated:
        if o.updated_at is not None:
            errs.append(f"updated_at {o.updated_at!r} although the field was missing")
    elif o.updated_at != store.local_to_utc(t["_updated"]):
        errs.append(f"updated_at {o.updated_at!r} != {store.local_to_utc(t['_updated'])}")
    if o.status != want_status:
        errs.append(f"status {o.status!r} != {want_status!r}")
    if len(o.items) != len(t["items"]):
        errs.append(f"{len(o.items)} items != {len(t['items'])}")
    else:
        for a, b in zip(o.items, t["items"], strict=True):
            for f_a, f_b in (("price", "price"), ("subtotal", "subtotal"), ("tax", "tax"), ("discount", "discount")):
                va = getattr(a, f_a)
                if va != b[f_b] or not isinstance(va, Decimal):
                    errs.append(f"item.{f_a} {va!r} != {b[f_b]}")
            if a.qty != b["qty"]:
                errs.append(f"item.qty {a.qty} != {b['qty']}")
    if errs:
        res.fail(f"{where}: order {o.identifier}: " + "; ".join(errs[:4]))


def compare_sets(res: Result, label: str, got: list[str], want_exact: set[int] | None,
                 lo: set[int] | None = None, hi: set[int] | None = None) -> None:
    dup = [k for k, c in Counter(got).items() if c > 1]
    if dup:
        res.fail(f"{label}: {len(dup)} duplicate identifiers, e.g. {sorted(dup)[:8]}")
    s = {int(x) for x in got}
    res.info[f"{label}_n"] = len(got)
    if want_exact is not None:
        res.info[f"{label}_truth"] = len(want_exact)
        if s != want_exact:
            res.fail(f"{label}: got {len(s)} distinct vs truth {len(want_exact)}; "
                     f"missing {sorted(want_exact - s)[:10]} ({len(want_exact - s)}), "
                     f"extra {sorted(s - want_exact)[:10]} ({len(s - want_exact)})")
    if lo is not None and not lo <= s:
        res.fail(f"{label}: {len(lo - s)} orders that existed at scan start are missing: {sorted(lo - s)[:10]}")
    if hi is not None and not s <= hi:
        res.fail(f"{label}: {len(s - hi)} ids not in the final store set: {sorted(s - hi)[:10]}")
    if lo is not None and hi is not None:
        res.info[f"{label}_range"] = f"{len(lo)}..{len(hi)}"


def fmt_trace(trace: list[dict[str, Any]]) -> list[str]:
    return [f"#{e['n']} page={e['page']} status={e['status']} +{len(e['new'])} total={e['total']} {e['query']}"
            for e in trace]


def run_scenario(server: TjarServer, name: str, slug: str, cfg: Config, seed: int,
                 windows: list[tuple[str, int, int]] | None = None, n_orders: int = 300,
                 prep: Callable[[StoreState], None] | None = None, client_kw: dict[str, Any] | None = None,
                 do_products: bool = True, do_details: bool = True) -> Result:
    res = Result(name)
    t0 = time.monotonic()
    store = make_store(slug, cfg, seed, n_orders)
    server.stores[slug] = store
    if prep:
        prep(store)
    today = store.today()
    windows = windows or [("W1", 20, 0), ("W2", 30, 10)]
    try:
        with make_client(server, store, **(client_kw or {})) as client:
            for label, a, b in windows:
                df, dtt = today - dt.timedelta(days=a), today - dt.timedelta(days=b)
                start = store.ids_in_window(df, dtt)
                lr0 = store.list_requests
                try:
                    orders = with_watchdog(store, lambda: list(client.iter_orders(df, dtt)))
                except Exception as e:  # noqa: BLE001
                    res.fail(f"{label} [{df}..{dtt}] raised {type(e).__name__}: {e}")
                    if VERBOSE:
                        res.problems.append(f"{label} request trace:\n          " + "\n          ".join(
                            fmt_trace(store.trace[lr0:])))
                    continue
                final = store.ids_in_window(df, dtt)
                res.info[f"{label}_reqs"] = store.list_requests - lr0
                trace = store.trace[lr0:]
                got = [o.identifier for o in orders]
                gotset = {int(x) for x in got}
                # index of the last request during which orders of this window arrived
                arr_idx = [k for k, e in enumerate(trace) if set(e["new"]) & final]
                last_arr = arr_idx[-1] if arr_idx else -1
                heads_ok = [k for k, e in enumerate(trace) if e["page"] == 1 and e["status"] == 200]
                seen_by_head = bool(heads_ok) and heads_ok[-1] >= last_arr
                if cfg.arrivals == "never" and start != final:
                    compare_sets(res, label, got, None, lo=start, hi=final)
                    # informational: arrivals already visible in the last good head response but not returned
                    if heads_ok:
                        vis = {i for e in trace[:heads_ok[-1] + 1] for i in e["new"]} & final
                        res.info[f"{label}_dropped_visible"] = len(vis - gotset)
                elif seen_by_head or last_arr < 0:
                    compare_sets(res, label, got, final)
                else:
                    # orders arrived during a request after the client's last page-1 read: only the
                    # changing `total` could reveal them, so the exact answer is not well defined
                    late = {i for e in trace[(heads_ok[-1] + 1 if heads_ok else 0):] for i in e["new"]} & final
                    compare_sets(res, label, got, None, lo=final - late, hi=final)
                    missed = late - gotset
                    if missed:
                        res.info[f"{label}_late_missed"] = len(missed)
                        res.notes.append(f"{label}: {len(missed)} orders arrived during a request after the client's "
                                         f"last page-1 read and were not returned (the reported total had grown "
                                         f"to {trace[-1]['total']})")
                if not res.ok and VERBOSE:
                    res.problems.append(f"{label} request trace:\n          " + "\n          ".join(
                        fmt_trace(trace)))
                for o in orders:
                    check_order_fields(res, store, o, label)
                    if o.order_date is None and cfg.drift and int(o.identifier) % 17 == 0:
                        continue  # created_at was missing on purpose
                    if not (df <= (o.order_date or dt.date.min) <= dtt):
                        res.fail(f"{label}: order {o.identifier} order_date {o.order_date} outside window")
            if do_products:
                try:
                    prods = with_watchdog(store, lambda: list(client.iter_products()))
                    compare_sets(res, "P", [p.identifier for p in prods], set(store.products))
                    for p in prods:
                        t = store.products.get(int(p.identifier))
                        want_c = None if cfg.drift and t and int(p.identifier) % 4 == 0 else \
                            (store.local_to_utc(t["_created"]) if t else None)
                        if t and (p.price != t["price"] or p.sale_price != t["sale_price"]
                                  or p.created_at != want_c):
                            res.fail(f"P: product {p.identifier} price {p.price!r}/{p.sale_price!r}/{p.created_at} "
                                     f"!= {t['price']}/{t['sale_price']}/{store.local_to_utc(t['_created'])}")
                except Exception as e:  # noqa: BLE001
                    res.fail(f"products raised {type(e).__name__}: {e}")
            if do_details:
                ids = sorted(store.orders)[:2] + store.arrived[-1:]
                for i in ids:
                    try:
                        o = with_watchdog(store, lambda i=i: client.get_order(i))
                        if o.identifier != str(i):
                            res.fail(f"get_order({i}) returned identifier {o.identifier!r}")
                        check_order_fields(res, store, o, f"get_order({i})")
                    except Exception as e:  # noqa: BLE001
                        res.fail(f"get_order({i}) raised {type(e).__name__}: {e}")
                pid = sorted(store.products)[3]
                try:
                    p = with_watchdog(store, lambda: client.get_product(str(pid)))
                    if p.identifier != str(pid) or p.price != store.products[pid]["price"]:
                        res.fail(f"get_product({pid}) -> {p.identifier} {p.price!r}")
                except Exception as e:  # noqa: BLE001
                    res.fail(f"get_product({pid}) raised {type(e).__name__}: {e}")
                for fn, arg in ((client.get_order, 999999), (client.get_product, 999998)):
                    try:
                        with_watchdog(store, lambda fn=fn, arg=arg: fn(arg))
                        res.fail(f"{fn.__name__}({arg}) on an unknown id did not raise")
                    except TjarNotFoundError:
                        pass
                    except Exception as e:  # noqa: BLE001
                        res.fail(f"{fn.__name__}({arg}) raised {type(e).__name__} instead of TjarNotFoundError: {e}")
    except Exception as e:  # noqa: BLE001
        res.fail(f"harness/client crash {type(e).__name__}: {e}\n{traceback.format_exc()}")
    res.info["arrived"] = len(store.arrived)
    res.info["faults"] = len(store.log)
    res.seconds = time.monotonic() - t0
    return res


def matrix(server: TjarServer, only: str | None) -> list[Result]:
    out = []
    seed = 100
    for slug in ("acme", "loja"):
        for shape, clamp, faults, arr in itertools.product(("data", "meta", "salla", "none"), (None, 25),
                                                           (False, True), ("stop", "never")):
            seed += 1
            name = f"{slug}/{shape}/clamp={clamp or '-'}/faults={'on' if faults else 'off'}/arrivals={arr}"
            if only and only not in name:
                continue
            cfg = Config(pagination=shape, max_per_page=clamp, faults=faults, arrivals=arr)
            out.append(run_scenario(server, name, slug, cfg, seed))
            report_line(out[-1])
    return out


def extras(server: TjarServer, only: str | None) -> list[Result]:
    out: list[Result] = []

    def go(name: str, slug: str, cfg: Config, **kw: Any) -> None:
        if only and only not in name:
            return
        out.append(run_scenario(server, name, slug, cfg, 900 + len(out), **kw))
        report_line(out[-1])

    # DST store, every shape with clamp+faults+arrivals
    for shape in ("data", "meta", "salla", "none"):
        go(f"X nyc(DST)/{shape}/clamp=30/faults=on/arrivals=stop", "nyc",
           Config(pagination=shape, max_per_page=30, faults=True, arrivals="stop"))
    # a burst of 60 new orders (> 2 clamped pages) between two requests
    for shape in ("data", "meta", "salla", "none"):
        go(f"X burst60/{shape}/clamp=25", "acme",
           Config(pagination=shape, max_per_page=25, arrivals="burst", burst_at=3, burst_size=60))
        go(f"X burst60-at-req1/{shape}/clamp=25", "acme",
           Config(pagination=shape, max_per_page=25, arrivals="burst", burst_at=1, burst_size=60))
    # exactly one page of new orders between two requests: page 2 then repeats page 1 row for row
    for shape in ("data", "meta", "salla", "none"):
        go(f"X burst=page-size(25 at req 2)/{shape}/clamp=25", "acme",
           Config(pagination=shape, max_per_page=25, arrivals="burst", burst_at=2, burst_size=25),
           windows=[("W1", 20, 0)], do_products=False, do_details=False)
        go(f"X burst=page-size(100 at req 2)/{shape}/no clamp", "acme",
           Config(pagination=shape, arrivals="burst", burst_at=2, burst_size=100),
           windows=[("W1", 20, 0)], do_products=False, do_details=False)
    for shape in ("data", "none"):
        go(f"X burst=2*page-size(50 at req 3)/{shape}/clamp=25", "acme",
           Config(pagination=shape, max_per_page=25, arrivals="burst", burst_at=3, burst_size=50),
           windows=[("W1", 20, 0)], do_products=False, do_details=False)
        go(f"X burst=page-size+1(26 at req 2)/{shape}/clamp=25", "acme",
           Config(pagination=shape, max_per_page=25, arrivals="burst", burst_at=2, burst_size=26),
           windows=[("W1", 20, 0)], do_products=False, do_details=False)
    # arrivals on every list request, up to 25 at a time (a whole clamped page)
    for shape in ("data", "none"):
        go(f"X never-heavy(1-25 per request)/{shape}/clamp=25", "acme",
           Config(pagination=shape, max_per_page=25, arrivals="never", arrival_max=25))
    # legal §15 drift: missing timestamps, unknown status values, unknown extra fields
    for shape in ("data", "none"):
        go(f"X drift(missing created_at/updated_at, unknown statuses, extra fields)/{shape}/clamp=25", "acme",
           Config(pagination=shape, max_per_page=25, arrivals="stop", faults=True, drift=True))
    # Laravel default links (no query string kept), Salla links [] PHP-ism
    go("X meta/links-without-query/clamp=25/arrivals=stop", "acme",
       Config(pagination="meta", max_per_page=25, arrivals="stop", links_keep_query=False))
    go("X salla/links=[]/clamp=25/arrivals=stop", "acme",
       Config(pagination="salla", max_per_page=25, arrivals="stop", salla_links_empty_list=True))
    # truncated 200 bodies
    go("X garbled-200/data/clamp=25/faults=on", "acme",
       Config(pagination="data", max_per_page=25, faults=True, p_garble=0.08, arrivals="stop"))
    # other windows: single day today, into the future, entirely in the future (empty), whole history
    for shape in ("data", "none"):
        go(f"X windows/{shape}/clamp=25/arrivals=stop", "loja",
           Config(pagination=shape, max_per_page=25, arrivals="stop"),
           windows=[("today", 0, 0), ("to+2", 3, -2), ("future", -1, -5), ("all", 400, -1), ("d20", 20, 20)])

    # window whose size is an exact multiple of the clamp (last page full, no metadata)
    def exact_multiple(s: StoreState) -> None:
        today = s.today()
        n = len(s.ids_in_window(today - dt.timedelta(days=20), today))
        s.add_arrivals((-n) % 25 or 25)
    for shape in ("none", "data", "salla"):
        go(f"X window=k*clamp/{shape}/clamp=25", "acme", Config(pagination=shape, max_per_page=25),
           prep=exact_multiple, windows=[("W1", 20, 0)], do_details=False)
    # tiny store: fewer rows than one clamped page; empty store
    go("X small-store(boundary orders only)/none/clamp=25", "acme", Config(pagination="none", max_per_page=25),
       n_orders=0, windows=[("all", 400, -1)])
    # client asks for per_page smaller than the clamp; server default page size when per_page absent
    go("X per_page=10/meta/clamp=25/arrivals=never", "acme",
       Config(pagination="meta", max_per_page=25, arrivals="never"), client_kw={"per_page": 10})
    return out


def auth_and_secret_checks(server: TjarServer) -> list[Result]:
    out = []
    res = Result("X wrong key -> TjarAuthError, no secret in message")
    store = make_store("acme", Config(), 5)
    server.stores["acme"] = store
    wrong = "sk-WRONG-should-not-leak-1234"
    try:
        with make_client(server, store, key=wrong) as c:
            list(c.iter_orders(store.today(), store.today()))
        res.fail("no exception with a wrong key")
    except TjarAuthError as e:
        msg = str(e)
        EXC_TEXTS.append(msg)
        res.info["message"] = msg
        if wrong in msg or store.key in msg:
            res.fail(f"secret in the error message: {msg}")
        if "TJAR_ACME_API_KEY" not in msg:
            res.fail(f"message does not name the env var: {msg}")
    except Exception as e:  # noqa: BLE001
        res.fail(f"raised {type(e).__name__} instead of TjarAuthError: {e}")
    out.append(res)
    report_line(res)
    return out


def report_line(r: Result) -> None:
    status = ("PASS" if not r.notes else "PASS*") if r.ok else "FAIL"
    keys = [k for k in r.info if k.endswith(("_n", "_truth", "_range", "_reqs", "_late_missed", "_dropped_visible"))]
    keys += ["arrived", "faults"]
    info = " ".join(f"{k}={r.info[k]}" for k in keys if k in r.info)
    print(f"{status:5s} {r.seconds:5.2f}s  {r.name:62s} {info}", flush=True)
    for p in r.problems:
        print(f"      - {p}", flush=True)
    for p in r.notes:
        print(f"      * {p}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only")
    ap.add_argument("-v", action="store_true", help="print the list-request trace of failing windows")
    ap.add_argument("--no-extras", action="store_true")
    args = ap.parse_args()
    server = TjarServer({})
    server.start()
    t0 = time.monotonic()
    results = matrix(server, args.only)
    if not args.no_extras:
        results += extras(server, args.only)
        if not args.only:
            results += auth_and_secret_checks(server)
    # secrets anywhere in logs or exception texts?
    sec = Result("X no API key in DEBUG logs / exception texts")
    blob = LOG.getvalue() + "\n".join(EXC_TEXTS)
    for slug, (_, key) in STORES.items():
        if key in blob:
            i = blob.index(key)
            sec.fail(f"key of {slug} found: ...{blob[max(0, i - 120):i + 40]!r}")
    if "sk-WRONG-should-not-leak-1234" in blob:
        sec.fail("wrong key found in logs/exceptions")
    sec.info["log_bytes"] = len(LOG.getvalue())
    with open(os.path.join(tempfile.gettempdir(), "tjar-independent-check.log"), "w") as fh:
        fh.write(LOG.getvalue())
    for r in results:
        if "message" in r.info:
            print(f"      {r.name}: {r.info['message']!r}")
    results.append(sec)
    report_line(sec)
    n_fail = sum(not r.ok for r in results)
    print(f"\n{len(results) - n_fail}/{len(results)} passed in {time.monotonic() - t0:.1f}s")
    server.shutdown()
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
