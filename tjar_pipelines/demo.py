"""Start the built-in simulator with a few demo stores and sync all of them through the client.

Every store's whole order history and catalogue is read, exactly as the pipeline reads a real
store, and a summary per store is printed. No real store or API key is needed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

from tjar_pipelines.client import ClientSettings, Secret, StoreConnection, TjarClient, TjarError
from tjar_pipelines.simulator import SimulatorConfig, SimulatorServer, StoreSpec, demo_stores


@dataclass(frozen=True, slots=True)
class StoreSummary:
    slug: str
    orders: int
    items: int
    products: int
    revenue: Decimal
    first_day: dt.date | None
    last_day: dt.date | None
    seconds: float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stores", type=int, default=3, help="number of demo stores")
    parser.add_argument("--orders", type=int, default=2000, help="orders per demo store")


def sync_store(server: SimulatorServer, spec: StoreSpec) -> StoreSummary:
    """Reads one simulated store completely, as the pipeline would."""
    connection = StoreConnection(
        slug=spec.slug,
        base_url=server.base_url(spec.slug),
        api_key=Secret(spec.api_key),
        timezone=spec.timezone,
    )
    started = time.perf_counter()
    with TjarClient(connection, ClientSettings(requests_per_second=500, burst=50)) as client:
        today = client.store_today()
        first = today - dt.timedelta(days=spec.history_days + 1)
        orders = items = 0
        revenue = Decimal(0)
        days: list[dt.date] = []
        for order in client.iter_orders(first, today):
            orders += 1
            items += len(order.items)
            revenue += order.total_amount or 0
            if order.order_date:
                days.append(order.order_date)
        products = sum(1 for _ in client.iter_products())
    return StoreSummary(
        spec.slug,
        orders,
        items,
        products,
        revenue,
        min(days, default=None),
        max(days, default=None),
        time.perf_counter() - started,
    )


def format_table(rows: Sequence[StoreSummary]) -> str:
    header = f"{'store':<10} {'orders':>7} {'items':>7} {'products':>8} {'revenue SAR':>14}  days"
    lines = [
        f"{r.slug:<10} {r.orders:>7} {r.items:>7} {r.products:>8} {r.revenue:>14,.2f}  "
        f"{r.first_day} .. {r.last_day}  ({r.seconds:.2f}s)"
        for r in rows
    ]
    return "\n".join([header, "-" * len(header), *lines])


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    specs = demo_stores(args.stores, orders=args.orders)
    started = time.perf_counter()
    with SimulatorServer(SimulatorConfig(stores=specs)) as server:
        print(f"Simulator with {len(specs)} demo stores on {server.url}", flush=True)
        try:
            with ThreadPoolExecutor(max_workers=len(specs)) as pool:
                rows = list(pool.map(lambda spec: sync_store(server, spec), specs))
        except TjarError as exc:
            print(f"demo failed: {exc}", file=sys.stderr)
            return 1
    print(format_table(rows))
    total = sum(r.orders for r in rows)
    print(f"Synced {total} orders of {len(rows)} stores in {time.perf_counter() - started:.2f}s")
    expected = sum(s.orders for s in specs)
    if total != expected:
        print(f"demo failed: expected {expected} orders, read {total}", file=sys.stderr)
        return 1
    return 0
