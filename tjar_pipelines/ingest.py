"""Reads a store through the client and writes lake slices: the work behind the assets.

No Dagster here; the assets call these functions and report what they return.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from tjar_pipelines.client import TjarClient
from tjar_pipelines.client.records import local_date, order_instants
from tjar_pipelines.lake.files import Lake
from tjar_pipelines.lake.spool import OrderSpool
from tjar_pipelines.lake.tables import products_table
from tjar_pipelines.relaxed_gc import relaxed_gc

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
    """``first..last`` cut into consecutive ``(first, last)`` windows of ``size`` days.

    A last window shorter than a quarter of ``size`` joins the one before: 33 days in windows
    of 31 are one window, not a month and a run (or a scan, with its requests) for two days.
    """
    cuts = []
    while first <= last:
        end = min(last, first + dt.timedelta(days=size - 1))
        cuts.append((first, end))
        first = end + dt.timedelta(days=1)
    if len(cuts) > 1 and (cuts[-1][1] - cuts[-1][0]).days + 1 < size // 4:
        cuts[-2:] = [(cuts[-2][0], cuts[-1][1])]
    return cuts


def sync_order_days(
    client: TjarClient,
    lake: Lake,
    days: Sequence[dt.date],
    *,
    max_window_days: int = 31,
    batch_rows: int = 2_000,
) -> SyncReport:
    """Replaces the ``orders`` and ``order_items`` slices of ``days`` for the client's store.

    Days are read in contiguous windows of ``max_window_days`` (one list scan each; a short
    last one joins the one before, see :func:`windows`),
    and every day of a window is written, empty or not, once the whole window has been read:
    a failure while reading leaves every slice of the window as it was, and each slice is
    replaced in one atomic step, so a failure while writing leaves each slice old or new.
    Memory holds two batches of orders (``batch_rows`` or 8 MB of JSON) while reading, and
    the decoded files of a few batches while writing (16 MB, or one batch if larger), however
    large the window or the day: the window's rows wait on local disk (see
    :class:`~tjar_pipelines.lake.spool.OrderSpool`). Syncs of the same store's orders take
    turns (:meth:`Lake.syncing`), so the one that reads later writes later.
    """
    started = time.perf_counter()
    report = SyncReport(store=client.store)
    before = (client.stats.requests, client.stats.retries, client.stats.throttled)
    scans = [
        window
        for first, last in day_ranges(days)
        for window in windows(first, last, max_window_days)
    ]
    folder = lake.spool_dir(client.store)
    timezone = client.connection.timezone
    with lake.syncing("orders", client.store, waiting=lambda: _waiting(client.store, "orders")):
        synced_at = dt.datetime.now(dt.UTC)
        lake.sweep(client.store)
        for first, last in scans:
            spool = OrderSpool(folder, client.store, timezone, synced_at, batch_rows=batch_rows)
            try:
                with relaxed_gc():
                    _sync_window(client, lake, spool, first, last, report)
            finally:
                spool.discard()
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
    spool: OrderSpool,
    first: dt.date,
    last: dt.date,
    report: SyncReport,
) -> None:
    timezone = client.connection.timezone
    undated: set[str] = set()
    for record in client.iter_order_records(first, last):
        created, updated = order_instants(record.head, timezone)
        day = local_date(created, timezone)
        if day is None:
            if first == last:  # a one-day window places its undated orders itself
                spool.add(record, created, updated, first)
            else:
                undated.add(record.identifier or "")
        elif first <= day <= last:
            spool.add(record, created, updated, day)
        else:
            report.outside_window += 1
    scan = client.last_scan
    if undated:
        _place_undated(client, spool, first, last, undated)
    report.pages += scan.pages if scan else 0
    written = 0  # the orders in the slices, as the total check must see what was stored
    for day in _days(first, last):
        orders_rows, items_rows = spool.day(day)
        counts = {"orders": [0], "order_items": [0]}
        lake.write_slices(
            {
                "orders": _counted(_previewed(orders_rows, report), counts["orders"]),
                "order_items": _counted(items_rows, counts["order_items"]),
            },
            client.store,
            day,
        )
        for table, count in counts.items():
            report.rows[table] = report.rows.get(table, 0) + count[0]
        written += counts["orders"][0]
    if spool.parsed_in_python:
        log.info(
            "store %s: %d orders of %s..%s had values of unusual shape; the Python records "
            "parsed them (slower than the bulk path)",
            client.store,
            spool.parsed_in_python,
            first,
            last,
        )
    report.windows.append(Window(first, last, written, scan.reported_total if scan else None))


def _counted(pieces: Iterator[pa.Table], count: list[int]) -> Iterator[pa.Table]:
    """``pieces``, adding up their rows in ``count[0]`` as they are written."""
    for piece in pieces:
        count[0] += piece.num_rows
        yield piece


def _previewed(pieces: Iterator[pa.Table], report: SyncReport) -> Iterator[pa.Table]:
    """``pieces``, keeping the first orders' key fields in ``report.preview`` on the way."""
    for piece in pieces:
        if len(report.preview) < 5:
            report.preview += _preview(piece, 5 - len(report.preview))
        yield piece


def _place_undated(
    client: TjarClient, spool: OrderSpool, first: dt.date, last: dt.date, undated: set[str]
) -> None:
    """The store sent orders without ``created_at``: re-read day by day to learn their day."""
    log.warning(
        "store %s: %d orders came without created_at; reading %d days one by one to place them",
        client.store,
        len(undated),
        (last - first).days + 1,
    )
    timezone = client.connection.timezone
    for day in _days(first, last):
        for record in client.iter_order_records(day, day):
            created, updated = order_instants(record.head, timezone)
            ident = record.identifier or ""
            if created is None and ident in undated:
                spool.add(record, created, updated, day)
                undated.discard(ident)
    if undated:
        raise RuntimeError(
            f"store {client.store}: orders {sorted(undated)[:5]} have no created_at and could "
            "not be placed on a day; nothing was written for these days. Run again (they may "
            "have changed while read); if it persists, report these orders to Tjar support"
        )


def sync_products(client: TjarClient, lake: Lake) -> SyncReport:
    """Replaces the store's ``products`` slice with its whole catalogue."""
    started = time.perf_counter()
    report = SyncReport(store=client.store)
    before = (client.stats.requests, client.stats.retries, client.stats.throttled)
    with lake.syncing("products", client.store, waiting=lambda: _waiting(client.store, "products")):
        with relaxed_gc():
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


def _has_slices(lake: Lake, table: str, store: str) -> bool:
    folder = lake.store_dir(table, store)
    return folder.is_dir() and any(folder.rglob("*.parquet"))


def _waiting(store: str, what: str) -> None:
    log.info("store %s: another run is syncing its %s; waiting for it to finish", store, what)


def _finish(
    report: SyncReport, client: TjarClient, before: tuple[int, int, int], started: float
) -> None:
    report.requests = client.stats.requests - before[0]
    report.retries = client.stats.retries - before[1]
    report.throttled = client.stats.throttled - before[2]
    report.seconds = time.perf_counter() - started


def _preview(orders: pa.Table, count: int) -> list[dict[str, object]]:
    columns = ["identifier", "order_date", "status", "total_amount", "item_count"]
    return [
        {key: str(value) for key, value in row.items()}
        for row in orders.select(columns).slice(0, count).to_pylist()
    ]


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
           -- the name on its latest line; ties broken so every run picks the same one
           first(i.name ORDER BY i.order_date DESC, i.order_identifier DESC,
                 i.line_number DESC) AS name,
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
    # Two builds at once: the one that read the orders later writes later.
    with lake.syncing(table, store, waiting=lambda: _waiting(store, table)):
        with duckdb.connect() as con:
            # The zero-row schema files keep the query valid for a store with no slices yet
            # (DuckDB refuses a pattern that matches no file).
            params: dict[str, object] = {
                key: [
                    str(lake.table_dir(source) / "_schema.parquet"),
                    *([lake.store_glob(source, store)] if _has_slices(lake, source, store) else []),
                ]
                for key, source in (("orders", "orders"), ("items", "order_items"))
            }
            params["store"] = store
            result = con.sql(sql, params=params).to_arrow_table()
        assert result is not None
        lake.write_slice(table, result, store)
    report = SyncReport(store=store, rows={table: result.num_rows})
    report.preview = result.slice(max(0, result.num_rows - 7)).to_pylist()
    report.seconds = time.perf_counter() - started
    return report
