"""Serve simulated Tjar stores on 127.0.0.1, each under /s/{slug}/api/core/v1.

Store N of ``--stores`` is ``demo-N``; its API key is ``sim-key-demo-N`` and its webhook secret
``sim-whsec-demo-N``. With ``--slug`` the stores get those names (keys ``sim-key-{slug}``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging

from tjar_pipelines.serving import bind, uvicorn_server
from tjar_pipelines.simulator.app import Simulator
from tjar_pipelines.simulator.config import (
    PAGINATION_SHAPES,
    PAST_END,
    Faults,
    LiveMode,
    SimulatorConfig,
    StoreSpec,
    demo_stores,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--host", default="127.0.0.1", metavar="ADDRESS", help="address to bind")
    add("--port", type=int, default=8000, metavar="PORT", help="port to bind (0 = any free port)")
    add("--stores", type=int, default=3, metavar="N", help="number of demo stores demo-1..demo-N")
    add(
        "--slug",
        action="append",
        default=[],
        metavar="SLUG",
        help="serve a store of this name instead of demo-N (repeatable)",
    )
    add("--orders", type=int, default=500, metavar="N", help="orders per store at start")
    add("--products", type=int, default=40, metavar="N", help="products per store")
    add("--history-days", type=int, default=60, metavar="N", help="days the orders span")
    add("--timezone", metavar="ZONE", help="IANA time zone of every store (default: varies)")
    add("--seed", type=int, default=7, metavar="N", help="seed of all data and faults")
    add(
        "--anchor",
        metavar="YYYY-MM-DDTHH:MM:SS",
        help="store-local end of the history (default: now)",
    )
    add(
        "--pagination",
        choices=PAGINATION_SHAPES,
        default="data",
        help="shape of the pagination metadata",
    )
    add("--max-per-page", type=int, default=100, metavar="N", help="silent per_page clamp")
    add(
        "--list-order",
        choices=("newest", "oldest"),
        default="newest",
        help="sort of the order and product lists",
    )
    add(
        "--past-end",
        choices=PAST_END,
        default="empty",
        help="answer to a page past the end of a list: an empty list or an error",
    )
    add("--money-as-strings", action="store_true", help="all stores send '15.50', not 15.5")
    add("--latency-ms", type=float, default=0.0, metavar="MS", help="delay of every answer")
    add("--error-rate", type=float, default=0.0, metavar="SHARE", help="share of 500 answers")
    add("--garble-rate", type=float, default=0.0, metavar="SHARE", help="share of cut-off bodies")
    add(
        "--reset-rate",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of answers whose connection drops mid-body",
    )
    add(
        "--rate-limit",
        type=int,
        default=0,
        metavar="N",
        help="requests per window per store (0 = no limit)",
    )
    add("--rate-window", type=float, default=1.0, metavar="SECONDS", help="seconds per window")
    add("--no-retry-after", action="store_true", help="answer 429 without Retry-After")
    add(
        "--churn",
        type=int,
        default=0,
        metavar="N",
        help="new orders created before each GET /orders answer",
    )
    add("--extra-fields", action="store_true", help="add unknown fields to every object")
    add("--live", action="store_true", help="keep changing the stores and send webhooks")
    add("--live-interval", type=float, default=1.0, metavar="SECONDS", help="seconds per change")
    add(
        "--webhook-url",
        metavar="URL",
        help="where live mode posts webhooks; {slug} becomes the store slug",
    )
    add(
        "--duplicate-rate",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of webhook deliveries sent twice",
    )
    add(
        "--log-level",
        default="warning",
        choices=("debug", "info", "warning", "error"),
        help="log level of the server",
    )


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    if args.slug:
        stores = tuple(
            StoreSpec(slug=s, api_key=f"sim-key-{s}", webhook_secret=f"sim-whsec-{s}")
            for s in args.slug
        )
    else:
        stores = demo_stores(args.stores)
    overrides: dict[str, object] = {
        "orders": args.orders,
        "products": args.products,
        "history_days": args.history_days,
    }
    if args.timezone:
        overrides["timezone"] = args.timezone
    if args.money_as_strings:
        overrides["money_as_strings"] = True
    stores = tuple(dataclasses.replace(s, **overrides) for s in stores)
    anchor = None
    if args.anchor:
        anchor = dt.datetime.fromisoformat(args.anchor)
    live = None
    if args.live:
        live = LiveMode(
            interval=args.live_interval,
            webhook_url=args.webhook_url,
            duplicate_rate=args.duplicate_rate,
        )
    return SimulatorConfig(
        stores=stores,
        seed=args.seed,
        anchor=anchor,
        pagination=args.pagination,
        max_per_page=args.max_per_page,
        list_order=args.list_order,
        past_end=args.past_end,
        faults=Faults(
            latency_ms=args.latency_ms,
            error_rate=args.error_rate,
            garble_rate=args.garble_rate,
            reset_rate=args.reset_rate,
            rate_limit=args.rate_limit,
            rate_window=args.rate_window,
            retry_after=not args.no_retry_after,
            orders_per_list_request=args.churn,
            extra_fields=args.extra_fields,
        ),
        live=live,
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    config = config_from_args(args)
    simulator = Simulator(config)
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    url = f"http://{host}:{port}"
    print(f"Tjar simulator listening on {url}", flush=True)
    for store in config.stores:
        print(
            f"  {store.slug}: {url}/s/{store.slug}/api/core/v1  "
            f"({simulator.stores[store.slug].order_count} orders, key {store.api_key})",
            flush=True,
        )
    uvicorn_server(simulator.app, args.log_level).run(sockets=[sock])
    return 0
