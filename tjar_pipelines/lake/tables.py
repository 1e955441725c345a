"""Arrow schemas of the lake's tables, and records turned into Arrow tables."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pyarrow as pa

from tjar_pipelines.client import Order, Product

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


def cents(value: Decimal | None) -> Decimal | None:
    """Money rounded to the halala, as DECIMAL(18,2) holds it (the exact value stays in ``raw``)."""
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def raw_json(raw: Mapping[str, Any]) -> str:
    return json.dumps(raw, ensure_ascii=False, separators=(",", ":"), default=str)


def orders_table(orders: Iterable[Order], synced_at: dt.datetime) -> tuple[pa.Table, pa.Table]:
    """The ``orders`` and ``order_items`` rows of some orders."""
    order_rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    for o in orders:
        order_rows.append(
            {
                "store": o.store,
                "identifier": o.identifier,
                "order_number": o.order_number,
                "status": o.status,
                "payment_status": o.payment_status,
                "payment_gateway": o.payment_gateway,
                "total_amount": cents(o.total_amount),
                "coupon": o.coupon,
                "coupon_discount": cents(o.coupon_discount),
                "customer_id": o.customer_id,
                "customer_name": o.customer_name,
                "customer_email": o.customer_email,
                "customer_mobile": o.customer_mobile,
                "country": o.country,
                "city": o.city,
                "transaction_id": o.transaction_id,
                "item_count": len(o.items),
                "created_at": o.created_at,
                "updated_at": o.updated_at,
                "order_date": o.order_date,
                "synced_at": synced_at,
                "raw": raw_json(o.raw),
            }
        )
        item_rows.extend(
            {
                "store": o.store,
                "order_identifier": i.order_identifier,
                "line_number": i.line_number,
                "product_id": i.product_id,
                "name": i.name,
                "qty": i.qty,
                "price": cents(i.price),
                "discount": cents(i.discount),
                "tax": cents(i.tax),
                "subtotal": cents(i.subtotal),
                "options_cost": cents(i.options_cost),
                "weight": None if i.weight is None else float(i.weight),
                "type": i.type,
                "type_label": i.type_label,
                "is_booking": i.is_booking,
                "order_date": o.order_date,
                "raw": raw_json(i.raw),
            }
            for i in o.items
        )
    return (
        pa.Table.from_pylist(order_rows, schema=ORDERS),
        pa.Table.from_pylist(item_rows, schema=ORDER_ITEMS),
    )


def products_table(products: Iterable[Product], synced_at: dt.datetime) -> pa.Table:
    """The ``products`` rows of some products."""
    rows = [
        {
            "store": p.store,
            "identifier": p.identifier,
            "name_en": p.name_en,
            "name_ar": p.name_ar,
            "type": p.type,
            "type_id": p.type_id,
            "price": cents(p.price),
            "sale_price": cents(p.sale_price),
            "stock": p.stock,
            "is_unlimited": p.is_unlimited,
            "is_published": p.is_published,
            "created_at": p.created_at,
            "updated_at": p.updated_at,
            "synced_at": synced_at,
            "raw": raw_json(p.raw),
        }
        for p in products
    ]
    return pa.Table.from_pylist(rows, schema=PRODUCTS)
