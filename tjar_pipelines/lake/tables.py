"""Arrow schemas of the lake's tables, and records turned into Arrow tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pyarrow as pa

from tjar_pipelines.client import Order, Product
from tjar_pipelines.client.raw_records import raw_json
from tjar_pipelines.lake import arrays

MONEY = pa.decimal128(18, 2)
TIMESTAMP = pa.timestamp("us", tz="UTC")
CENT = Decimal("0.01")

ORDERS = pa.schema(
    [
        ("store", pa.string()),
        ("identifier", pa.string()),
        ("order_number", pa.string()),
        ("status", pa.string()),
        ("payment_status", pa.string()),
        ("payment_gateway", pa.string()),
        ("total_amount", MONEY),
        ("coupon", pa.string()),
        ("coupon_discount", MONEY),
        ("customer_id", pa.string()),
        ("customer_name", pa.string()),
        ("customer_email", pa.string()),
        ("customer_mobile", pa.string()),
        ("country", pa.string()),
        ("city", pa.string()),
        ("transaction_id", pa.string()),
        ("item_count", pa.int32()),
        ("created_at", TIMESTAMP),
        ("updated_at", TIMESTAMP),
        ("order_date", pa.date32()),
        ("synced_at", TIMESTAMP),
        ("raw", pa.string()),
    ]
)

ORDER_ITEMS = pa.schema(
    [
        ("store", pa.string()),
        ("order_identifier", pa.string()),
        ("line_number", pa.int32()),
        ("product_id", pa.string()),
        ("name", pa.string()),
        ("qty", pa.int64()),
        ("price", MONEY),
        ("discount", MONEY),
        ("tax", MONEY),
        ("subtotal", MONEY),
        ("options_cost", MONEY),
        ("weight", pa.float64()),
        ("type", pa.int32()),
        ("type_label", pa.string()),
        ("is_booking", pa.bool_()),
        ("order_date", pa.date32()),
        ("raw", pa.string()),
    ]
)

PRODUCTS = pa.schema(
    [
        ("store", pa.string()),
        ("identifier", pa.string()),
        ("name_en", pa.string()),
        ("name_ar", pa.string()),
        ("type", pa.string()),
        ("type_id", pa.int32()),
        ("price", MONEY),
        ("sale_price", MONEY),
        ("stock", pa.int64()),
        ("is_unlimited", pa.bool_()),
        ("is_published", pa.bool_()),
        ("created_at", TIMESTAMP),
        ("updated_at", TIMESTAMP),
        ("synced_at", TIMESTAMP),
        ("raw", pa.string()),
    ]
)

DAILY_SALES = pa.schema(
    [
        ("store", pa.string()),
        ("order_date", pa.date32()),
        ("orders", pa.int64()),
        ("revenue", MONEY),
        ("items_sold", pa.int64()),
        ("avg_order_value", MONEY),
        ("cancelled_orders", pa.int64()),
    ]
)

PRODUCT_SALES = pa.schema(
    [
        ("store", pa.string()),
        ("product_id", pa.string()),
        ("name", pa.string()),
        ("orders", pa.int64()),
        ("qty_sold", pa.int64()),
        ("revenue", MONEY),
        ("first_sold", pa.date32()),
        ("last_sold", pa.date32()),
    ]
)

SCHEMAS: Mapping[str, pa.Schema] = {
    "orders": ORDERS,
    "order_items": ORDER_ITEMS,
    "products": PRODUCTS,
    "daily_sales": DAILY_SALES,
    "product_sales": PRODUCT_SALES,
}


MAX_MONEY = Decimal("1e16")  # DECIMAL(18,2) holds 16 digits before the point


def cents(value: Decimal | None) -> Decimal | None:
    """Money rounded to the halala, as DECIMAL(18,2) holds it (the exact value stays in ``raw``).

    An amount DECIMAL(18,2) cannot hold is ``None`` here rather than a failed sync.
    """
    if value is None or not value.is_finite() or abs(value) >= MAX_MONEY:
        return None
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def bounded(value: int | None, bits: int) -> int | None:
    """``value`` if a signed ``bits``-bit column holds it, else ``None`` (``raw`` keeps it)."""
    limit = 1 << (bits - 1)
    return value if value is not None and -limit <= value < limit else None


def empty_columns(schema: pa.Schema) -> dict[str, list[Any]]:
    """One empty list per column of ``schema``, to gather rows into by column."""
    return {name: [] for name in schema.names}


def orders_table(orders: Iterable[Order], synced_at: dt.datetime) -> tuple[pa.Table, pa.Table]:
    """The ``orders`` and ``order_items`` rows of some orders (built column by column)."""
    o_cols = empty_columns(ORDERS)
    i_cols = empty_columns(ORDER_ITEMS)
    for o in orders:
        values = (
            o.store, o.identifier, o.order_number, o.status, o.payment_status,
            o.payment_gateway, cents(o.total_amount), o.coupon, cents(o.coupon_discount),
            o.customer_id, o.customer_name, o.customer_email, o.customer_mobile, o.country,
            o.city, o.transaction_id, len(o.items), o.created_at, o.updated_at, o.order_date,
            synced_at, raw_json(o.raw, store=o.store, record=f"order {o.identifier}"),
        )  # fmt: skip
        for column, value in zip(o_cols.values(), values, strict=True):
            column.append(value)
        for i in o.items:
            values = (
                o.store, i.order_identifier, i.line_number, i.product_id, i.name,
                bounded(i.qty, 64), cents(i.price), cents(i.discount), cents(i.tax),
                cents(i.subtotal), cents(i.options_cost),
                None if i.weight is None else float(i.weight), bounded(i.type, 32),
                i.type_label, i.is_booking, o.order_date,
                raw_json(i.raw, store=o.store, record=f"order {o.identifier} line {i.line_number}"),
            )  # fmt: skip
            for column, value in zip(i_cols.values(), values, strict=True):
                column.append(value)
    return arrays.table(o_cols, ORDERS), arrays.table(i_cols, ORDER_ITEMS)


def products_table(products: Iterable[Product], synced_at: dt.datetime) -> pa.Table:
    """The ``products`` rows of some products."""
    columns = empty_columns(PRODUCTS)
    for p in products:
        values = (
            p.store, p.identifier, p.name_en, p.name_ar, p.type, bounded(p.type_id, 32),
            cents(p.price), cents(p.sale_price), bounded(p.stock, 64), p.is_unlimited,
            p.is_published, p.created_at, p.updated_at, synced_at,
            raw_json(p.raw, store=p.store, record=f"product {p.identifier}"),
        )  # fmt: skip
        for column, value in zip(columns.values(), values, strict=True):
            column.append(value)
    return arrays.table(columns, PRODUCTS)
