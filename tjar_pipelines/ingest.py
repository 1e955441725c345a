"""Reads a store through the client and writes lake slices: the work behind the assets.

No Dagster here; the assets call these functions and report what they return.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tjar_pipelines.client import Order, TjarClient
from tjar_pipelines.lake.files import Lake
from tjar_pipelines.lake.tables import orders_table, products_table

log = logging.getLogger("tjar_pipelines.ingest")


@dataclass(frozen=True, slots=True)
class Window:
    """One list scan: the days asked for, the orders kept, and what the store reported."""

    first: dt.date
    last: dt.date
    rows: int
    reported_total: int | None


@dataclass(slots=True)
class SyncReport:
    """What one sync of one store did, for run metadata and checks."""

    store: str
    rows: dict[str, int] = field(default_factory=dict)
    windows: list[Window] = field(default_factory=list)
    pages: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    outside_window: int = 0
    seconds: float = 0.0
    preview: list[dict[str, object]] = field(default_factory=list)


def day_ranges(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Contiguous ``(first, last)`` runs of the given days, in order."""
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if ranges and ranges[-1][1] + dt.timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def windows(first: dt.date, last: dt.date, size: int) -> list[tuple[dt.date, dt.date]]:
    """``first..last`` cut into consecutive ``(first, last)`` windows of at most ``size`` days."""
    cuts = []
    while first <= last:
        end = min(last, first + dt.timedelta(days=size - 1))
        cuts.append((first, end))
        first = end + dt.timedelta(days=1)
    return cuts


class DayBuffers:
    """The orders of one window, by day, spilled to temporary Parquet files as they pile up.

    Memory holds at most ``spill_rows`` orders; the rest wait in ``.spool`` files beside their
    slice (a name the lake's ``*.parquet`` globs never match) until the window is complete.
    """

    def __init__(
        self, lake: Lake, store: str, days: Sequence[dt.date], synced_at: dt.datetime,
        spill_rows: int,
    ) -> None:  # fmt: skip
        self._lake, self._store, self._synced_at = lake, store, synced_at
        self._spill_rows = spill_rows
        self.orders: dict[dt.date, list[Order]] = {day: [] for day in days}
        self._spooled: dict[dt.date, list[tuple[Path, Path]]] = {day: [] for day in days}
        self._buffered = 0

    def add(self, order: Order, day: dt.date) -> None:
        self.orders[day].append(order)
        self._buffered += 1
        if self._buffered >= self._spill_rows:
            self._spill()

    def _spill(self) -> None:
        for day, orders in self.orders.items():
            if not orders:
                continue
            folder = self._lake.slice_path("orders", self._store, day).parent
            folder.mkdir(parents=True, exist_ok=True)
            stem = folder / f".{uuid.uuid4().hex}"
            parts = (stem.with_suffix(".orders.spool"), stem.with_suffix(".items.spool"))
            self._spooled[day].append(parts)  # recorded first, so discard() finds a half pair
            for table, path in zip(orders_table(orders, self._synced_at), parts, strict=True):
                pq.write_table(table, path)
            self.orders[day] = []
        self._buffered = 0

    def tables(self, day: dt.date) -> tuple[pa.Table, pa.Table]:
        """Everything gathered for ``day``: its ``orders`` and ``order_items`` rows."""
        orders_t, items_t = orders_table(self.orders[day], self._synced_at)
        if not self._spooled[day]:
            return orders_t, items_t
        spooled = self._spooled[day]
        return (
            pa.concat_tables([*(pq.read_table(o) for o, _ in spooled), orders_t]),
            pa.concat_tables([*(pq.read_table(i) for _, i in spooled), items_t]),
        )

    def discard(self) -> None:
        for parts in self._spooled.values():
            for path in (p for pair in parts for p in pair):
                path.unlink(missing_ok=True)


def sync_order_days(
    client: TjarClient,
    lake: Lake,
    days: Sequence[dt.date],
    *,
    max_window_days: int = 31,
    spill_rows: int = 5_000,
) -> SyncReport:
    """Replaces the ``orders`` and ``order_items`` slices of ``days`` for the client's store.

    Days are read in contiguous windows of at most ``max_window_days`` (one list scan each),
    and every day of a window is written, empty or not, once the whole window has been read:
    a failure while reading leaves every slice of the window as it was, and each slice is
    replaced in one atomic step, so a failure while writing leaves each slice old or new.
    Memory stays bounded by ``spill_rows`` parsed orders (about 10 kB each) however large the
    window (see :class:`DayBuffers`).
    """
    started = time.perf_counter()
    report = SyncReport(store=client.store)
    before = (client.stats.requests, client.stats.retries, client.stats.throttled)
    synced_at = dt.datetime.now(dt.UTC)
    lake.sweep(client.store)
    scans = [
        window
        for first, last in day_ranges(days)
        for window in windows(first, last, max_window_days)
    ]
    for first, last in scans:
        buffers = DayBuffers(lake, client.store, _days(first, last), synced_at, spill_rows)
        try:
            _sync_window(client, lake, buffers, first, last, report)
        finally:
            buffers.discard()
    if report.outside_window:
        log.warning(
            "store %s: %d orders listed for %s..%s were created on other local days; check "
            "the store's timezone in the registry",
            client.store,
            report.outside_window,
            scans[0][0] if scans else "?",
            scans[-1][1] if scans else "?",
        )
    _finish(report, client, before, started)
    return report


def _sync_window(
    client: TjarClient,
    lake: Lake,
    buffers: DayBuffers,
    first: dt.date,
    last: dt.date,
    report: SyncReport,
) -> None:
    undated: set[str] = set()
    kept = 0
    for order in client.iter_orders(first, last):
        if order.order_date is None:
            undated.add(order.identifier)
        elif order.order_date in buffers.orders:
            buffers.add(order, order.order_date)
            kept += 1
            if len(report.preview) < 5:
                report.preview.append(_preview(order))
        else:
            report.outside_window += 1
    scan = client.last_scan
    if undated:
        kept += _place_undated(client, buffers, undated)
    report.windows.append(Window(first, last, kept, scan.reported_total if scan else None))
    report.pages += scan.pages if scan else 0
    for day in buffers.orders:
        orders_t, items_t = buffers.tables(day)
        lake.write_slice("orders", orders_t, client.store, day)
        lake.write_slice("order_items", items_t, client.store, day)
        report.rows["orders"] = report.rows.get("orders", 0) + orders_t.num_rows
        report.rows["order_items"] = report.rows.get("order_items", 0) + items_t.num_rows


def _place_undated(client: TjarClient, buffers: DayBuffers, undated: set[str]) -> int:
    """The store sent orders without ``created_at``: re-read day by day to learn their day."""
    log.warning(
        "store %s: %d orders came without created_at; reading %d days one by one to place them",
        client.store,
        len(undated),
        len(buffers.orders),
    )
    placed = 0
    for day in list(buffers.orders):
        for order in client.iter_orders(day, day):
            if order.identifier in undated and order.created_at is None:
                buffers.add(replace(order, order_date=day), day)
                undated.discard(order.identifier)
                placed += 1
    if undated:
        raise RuntimeError(
            f"store {client.store}: orders {sorted(undated)[:5]} have no created_at and could "
            "not be placed on a day; nothing was written for these days"
        )
    return placed


def sync_products(client: TjarClient, lake: Lake) -> SyncReport:
    """Replaces the store's ``products`` slice with its whole catalogue."""
    started = time.perf_counter()
    report = SyncReport(store=client.store)
    before = (client.stats.requests, client.stats.retries, client.stats.throttled)
    products = list(client.iter_products())
    table = products_table(products, dt.datetime.now(dt.UTC))
    lake.write_slice("products", table, client.store)
    scan = client.last_scan
    report.rows["products"] = table.num_rows
    report.pages = scan.pages if scan else 0
    report.windows.append(
        Window(dt.date.min, dt.date.max, table.num_rows, scan.reported_total if scan else None)
    )
    report.preview = [
        {
            "identifier": p.identifier,
            "name_en": p.name_en,
            "name_ar": p.name_ar,
            "price": str(p.price),
        }
        for p in products[:5]
    ]
    _finish(report, client, before, started)
    return report


def _finish(
    report: SyncReport, client: TjarClient, before: tuple[int, int, int], started: float
) -> None:
    report.requests = client.stats.requests - before[0]
    report.retries = client.stats.retries - before[1]
    report.throttled = client.stats.throttled - before[2]
    report.seconds = time.perf_counter() - started


def _preview(order: Order) -> dict[str, object]:
    return {
        "identifier": order.identifier,
        "order_date": str(order.order_date),
        "status": order.status,
        "total_amount": str(order.total_amount),
        "items": len(order.items),
    }


DAILY_SALES_SQL = """
    WITH o AS (SELECT * FROM read_parquet($orders, union_by_name = true) WHERE store = $store),
         i AS (SELECT * FROM read_parquet($items, union_by_name = true) WHERE store = $store),
         items_per_order AS (
             SELECT order_identifier, sum(qty) AS qty FROM i GROUP BY order_identifier)
    SELECT o.store,
           o.order_date,
           count(*) FILTER (WHERE NOT cancelled) AS orders,
           coalesce(sum(total_amount) FILTER (WHERE NOT cancelled), 0)::DECIMAL(18,2) AS revenue,
           coalesce(sum(q.qty) FILTER (WHERE NOT cancelled), 0)::BIGINT AS items_sold,
           round(coalesce(sum(total_amount) FILTER (WHERE NOT cancelled), 0)
                 / greatest(count(*) FILTER (WHERE NOT cancelled), 1), 2)::DECIMAL(18,2)
               AS avg_order_value,
           count(*) FILTER (WHERE cancelled) AS cancelled_orders
    FROM (SELECT *, lower(coalesce(status, '')) IN ('cancelled', 'canceled') AS cancelled FROM o) o
    LEFT JOIN items_per_order q ON q.order_identifier = o.identifier
    WHERE o.order_date IS NOT NULL
    GROUP BY ALL
    ORDER BY o.order_date
"""

PRODUCT_SALES_SQL = """
    WITH o AS (SELECT * FROM read_parquet($orders, union_by_name = true) WHERE store = $store),
         i AS (SELECT * FROM read_parquet($items, union_by_name = true) WHERE store = $store)
    SELECT i.store,
           i.product_id,
           arg_max(i.name, i.order_date) AS name,
           count(DISTINCT i.order_identifier) AS orders,
           coalesce(sum(i.qty), 0)::BIGINT AS qty_sold,
           coalesce(sum(i.subtotal), 0)::DECIMAL(18,2) AS revenue,
           min(i.order_date) AS first_sold,
           max(i.order_date) AS last_sold
    FROM i JOIN o ON o.identifier = i.order_identifier
    WHERE lower(coalesce(o.status, '')) NOT IN ('cancelled', 'canceled')
    GROUP BY ALL
    ORDER BY revenue DESC
"""


def build_sales(lake: Lake, store: str, table: str) -> SyncReport:
    """Recomputes ``daily_sales`` or ``product_sales`` of a store from its lake slices."""
    started = time.perf_counter()
    sql = {"daily_sales": DAILY_SALES_SQL, "product_sales": PRODUCT_SALES_SQL}[table]
    lake.ensure()
    with duckdb.connect() as con:
        # The zero-row schema files keep the query valid for a store with no slices yet.
        params = {
            "orders": [
                lake.store_glob("orders", store),
                str(lake.table_dir("orders") / "_schema.parquet"),
            ],
            "items": [
                lake.store_glob("order_items", store),
                str(lake.table_dir("order_items") / "_schema.parquet"),
            ],
            "store": store,
        }
        result = con.sql(sql, params=params).to_arrow_table()
    assert result is not None
    lake.write_slice(table, result, store)
    report = SyncReport(store=store, rows={table: result.num_rows})
    report.preview = result.slice(max(0, result.num_rows - 7)).to_pylist()
    report.seconds = time.perf_counter() - started
    return report
