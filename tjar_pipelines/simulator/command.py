"""Serve simulated Tjar stores on 127.0.0.1, each under /s/{slug}/api/core/v1.

Store N of ``--stores`` is ``demo-N``; its API key is ``sim-key-demo-N`` and its webhook secret
``sim-whsec-demo-N``. With ``--slug`` the stores get those names (keys ``sim-key-{slug}``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import sys

from tjar_pipelines.serving import bind, uvicorn_server
from tjar_pipelines.simulator.app import Simulator
from tjar_pipelines.simulator.config import (
    PAGINATION_SHAPES,
    Faults,
    LiveMode,
    SimulatorConfig,
    StoreSpec,
    demo_stores,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (0 = any free port)")
    parser.add_argument("--stores", type=int, default=3, help="number of demo stores")
    parser.add_argument("--slug", action="append", default=[], help="store slug (repeatable)")
    parser.add_argument("--orders", type=int, default=500, help="orders per store at start")
    parser.add_argument("--products", type=int, default=40, help="products per store")
    parser.add_argument("--history-days", type=int, default=60, help="days the orders span")
    parser.add_argument("--timezone", help="time zone of every store (default: varies)")
    parser.add_argument("--seed", type=int, default=7, help="seed of all data and faults")
    parser.add_argument("--anchor", help="store-local end of the history, YYYY-MM-DDTHH:MM:SS")
    parser.add_argument(
        "--pagination",
        choices=PAGINATION_SHAPES,
        default="data",
        help="shape of pagination metadata",
    )
    parser.add_argument("--max-per-page", type=int, default=100, help="silent per_page clamp")
    parser.add_argument("--list-order", choices=("newest", "oldest"), default="newest")
    parser.add_argument("--money-as-strings", action="store_true", help="all stores send '15.50'")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of 500 answers")
    parser.add_argument("--garble-rate", type=float, default=0.0, help="share of cut-off bodies")
    parser.add_argument(
        "--reset-rate",
        type=float,
        default=0.0,
        help="share of answers whose connection drops mid-body",
    )
    parser.add_argument("--rate-limit", type=int, default=0, help="requests per window per store")
    parser.add_argument("--rate-window", type=float, default=1.0, help="seconds per window")
    parser.add_argument("--no-retry-after", action="store_true", help="429 without Retry-After")
    parser.add_argument(
        "--churn", type=int, default=0, help="new orders created before each GET /orders answer"
    )
    parser.add_argument("--extra-fields", action="store_true", help="add unknown fields")
    parser.add_argument("--live", action="store_true", help="change stores and send webhooks")
    parser.add_argument("--live-interval", type=float, default=1.0, help="seconds per change")
    parser.add_argument("--webhook-url", help="live-mode target; {slug} becomes the store slug")
    parser.add_argument(
        "--duplicate-rate", type=float, default=0.0, help="share of webhook deliveries sent twice"
    )
    parser.add_argument("--log-level", default="warning")


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
    try:
        config = config_from_args(args)
        simulator = Simulator(config)
        sock = bind(args.host, args.port)
    except (ValueError, OSError) as exc:
        print(f"tjar-pipelines simulator: {exc}", file=sys.stderr)
        return 2
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
