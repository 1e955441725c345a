"""The report's numbers, read from the DuckDB database opened read-only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from tjar_pipelines.cli_options import check_day_range

NOT_CANCELLED = "lower(coalesce(o.status, '')) NOT IN ('cancelled', 'canceled')"


class ReportError(ValueError):
    """The report cannot be made as asked; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class StoreTotals:
    """One store's sums over the period, from ``daily_sales`` (cancelled orders excluded)."""

    store: str
    orders: int
    revenue: float
    items_sold: int
    cancelled: int


@dataclass(frozen=True, slots=True)
class Product:
    """A product's sales over the period in one store (cancelled orders excluded)."""

    store: str
    product_id: str
    name: str
    name_ar: str | None
    orders: int
    qty: int
    revenue: float


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything the page shows, already aggregated."""

    stores: tuple[str, ...]
    first: dt.date | None
    last: dt.date | None
    source: str
    generated: dt.datetime
    totals: tuple[StoreTotals, ...] = ()
    daily: tuple[tuple[str, dt.date, float], ...] = ()
    products: tuple[Product, ...] = ()
    statuses: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(t.orders or t.cancelled for t in self.totals) and not self.statuses


def load(
    database: Path,
    stores: Sequence[str],
    first: dt.date | None,
    last: dt.date | None,
    *,
    top: int = 10,
) -> ReportData:
    """Reads the report's numbers from ``database``, opened read-only.

    Raises:
        ReportError: A store has no data, or the database is unusable.
        ValueError: The period is reversed.
        FileNotFoundError: There is no database yet.
    """
    check_day_range(first, last)
    if not database.exists():
        raise FileNotFoundError(
            f"no database at {database}; run `tjar-pipelines sync` first, or set TJAR_DATA_DIR "
            "to the data directory your syncs write"
        )
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            return _query(con, str(database), stores, first, last, top)
    except duckdb.Error as exc:
        message = " ".join(str(exc).split())
        raise ReportError(
            f"cannot read {database} ({message}); if another process holds it for writing, "
            "run again once it is done, and if views are missing, run `tjar-pipelines sync`"
        ) from exc


def _query(
    con: duckdb.DuckDBPyConnection,
    source: str,
    wanted: Sequence[str],
    first: dt.date | None,
    last: dt.date | None,
    top: int,
) -> ReportData:
    known = [
        r[0]
        for r in con.execute(
            "SELECT store FROM orders UNION SELECT store FROM daily_sales ORDER BY 1"
        ).fetchall()
    ]
    for slug in wanted:
        if slug not in known:
            raise ReportError(
                f"store {slug!r} has no orders in {source} (stores with orders: "
                f"{', '.join(known) or 'none'}); check the slug, or run "
                f"`tjar-pipelines sync --store {slug}` first"
            )
    stores = sorted(set(wanted)) if wanted else known
    generated = dt.datetime.now(dt.UTC)
    [(low, high)] = con.execute(
        "SELECT min(order_date), max(order_date) FROM orders WHERE list_contains($s, store)",
        {"s": stores},
    ).fetchall()
    first, last = first or low, last or high
    if first is None or last is None:
        return ReportData(tuple(stores), first, last, source, generated)
    if first > last:  # one end given, the other from the data
        raise ReportError(
            f"the period {first}..{last} is reversed: the orders in {source} run from {low} "
            f"to {high}; choose --from and --to within them, or give both"
        )
    window = {"s": stores, "first": first, "last": last}
    in_window = "list_contains($s, store) AND order_date BETWEEN $first AND $last"
    totals = tuple(
        StoreTotals(s, int(o), float(r), int(i), int(c))
        for s, o, r, i, c in con.execute(
            "SELECT store, sum(orders), sum(revenue), sum(items_sold), sum(cancelled_orders) "
            f"FROM daily_sales WHERE {in_window} GROUP BY store ORDER BY store",
            window,
        ).fetchall()
    )
    daily = tuple(
        (s, d, float(r))
        for s, d, r in con.execute(
            f"SELECT store, order_date, revenue FROM daily_sales WHERE {in_window}", window
        ).fetchall()
    )
    statuses: dict[str, dict[str, int]] = {}
    for store, status, count in con.execute(
        f"SELECT store, coalesce(status, 'unknown'), count(*) FROM orders WHERE {in_window} "
        "GROUP BY ALL ORDER BY ALL",
        window,
    ).fetchall():
        statuses.setdefault(store, {})[status] = int(count)
    products = tuple(
        Product(s, pid, name_en or name or pid, name_ar, int(o), int(q), float(r))
        for s, pid, name, name_en, name_ar, o, q, r in con.execute(
            TOP_PRODUCTS_SQL, {**window, "top": top}
        ).fetchall()
    )
    return ReportData(
        tuple(stores), first, last, source, generated, totals, daily, products, statuses
    )


TOP_PRODUCTS_SQL = f"""
    WITH sold AS (
        SELECT i.store, coalesce(i.product_id, '(no id)') AS product_id,
               first(i.name ORDER BY i.order_date DESC, i.order_identifier DESC,
                     i.line_number DESC) AS name,
               count(DISTINCT i.order_identifier) AS orders, coalesce(sum(i.qty), 0) AS qty,
               coalesce(sum(i.subtotal), 0) AS revenue
        FROM order_items i
        JOIN orders o ON o.store = i.store AND o.identifier = i.order_identifier
        WHERE list_contains($s, i.store) AND i.order_date BETWEEN $first AND $last
          AND {NOT_CANCELLED}
        GROUP BY ALL)
    SELECT sold.store, sold.product_id, sold.name, p.name_en, p.name_ar, orders, qty, revenue
    FROM sold LEFT JOIN products p ON p.store = sold.store AND p.identifier = sold.product_id
    ORDER BY revenue DESC, sold.store, sold.product_id
    LIMIT $top"""


def period(data: ReportData) -> str:
    if data.first is None or data.last is None:
        return "no days with orders"
    return f"{data.first}..{data.last} ({(data.last - data.first).days + 1} days)"
