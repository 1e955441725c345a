"""Parsing Tjar JSON into typed records: money, time zones, missing and unknown fields."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tjar_pipelines.client import Order, Product, Webhook
from tjar_pipelines.client.records import money, timestamp

ORDER = {
    "id": 684,
    "identifier": 684,
    "order_id": "260684",
    "name": "Budi Doremi",
    "email": "topun2018@gmail.com",
    "phone": "966512341222",
    "address": None,
    "customer": {"id": 1, "name": "بودي", "email": "c@example.sa", "mobile": "966512341222"},
    "city": None,
    "country": "أفغانستان",
    "total_amount": 15.5,
    "formatted_total_amount": "15.50 <sar></sar>",
    "coupon": "FREE50",
    "coupon_discounted": 13.5,
    "status": {
        "value": "Pending",
        "label": {"ar": "قيد الانتظار", "en": "Pending"},
        "color": "warning",
    },
    "payment_status": {"value": "pending", "label": {"ar": "قيد الانتظار", "en": "Pending"}},
    "payment_gateway": {"value": "tjar-pay", "label": {"ar": "Tjar Pay", "en": "Tjar Pay"}},
    "transaction_id": "tjar-pay::cGw6Jsl0DU",
    "order_details": [
        {
            "id": 112,
            "name": "قميص",
            "qty": 2,
            "price": 5,
            "weight": 1,
            "type": 1,
            "type_label": "مادي",
            "options": {"is_booking": False, "product_options_cost": 0},
            "discount": 0,
            "tax": 0,
            "subtotal": 10,
        },
        {
            "id": 211,
            "name": "Spa booking",
            "qty": 1,
            "price": "120.00",
            "type": 3,
            "options": {"is_booking": True, "booking": {"date": "2026-05-01"}},
            "subtotal": "120.00",
        },
    ],
    "created_at": "2026-05-10 00:10:00",
    "updated_at": "2026-05-10 01:00:00",
    "brand_new_field": {"x": 1},
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (15.5, Decimal("15.5")),
        (79.99, Decimal("79.99")),
        (0.1, Decimal("0.1")),
        (15, Decimal(15)),
        ("15.50", Decimal("15.50")),
        (" 1,234.50 ", Decimal("1234.50")),
        ("", None),
        ("abc", None),
        ("NaN", None),
        (None, None),
        (True, None),
        ({"amount": 1}, None),
    ],
)
def test_money(raw, expected):
    assert money(raw) == expected


def test_timestamps_are_store_local_in_and_utc_out():
    assert timestamp("2026-05-10 00:10:00", "Asia/Riyadh") == dt.datetime(
        2026, 5, 9, 21, 10, tzinfo=dt.UTC
    )
    assert timestamp("2026-05-10 00:10:00", "America/New_York") == dt.datetime(
        2026, 5, 10, 4, 10, tzinfo=dt.UTC
    )
    assert timestamp("2026-05-10T00:10:00+02:00", "Asia/Riyadh") == dt.datetime(
        2026, 5, 9, 22, 10, tzinfo=dt.UTC
    )
    assert timestamp("2026-05-10T00:10:00Z", "Asia/Riyadh") == dt.datetime(
        2026, 5, 10, 0, 10, tzinfo=dt.UTC
    )
    for junk in (None, "", "yesterday", 1715300000):
        assert timestamp(junk, "Asia/Riyadh") is None


def test_order_fields():
    order = Order.from_api(ORDER, store="acme", timezone="Asia/Riyadh")
    assert order.identifier == "684" and order.order_number == "260684"
    assert (order.status, order.payment_status, order.payment_gateway) == (
        "Pending",
        "pending",
        "tjar-pay",
    )
    assert order.total_amount == Decimal("15.5") and order.coupon_discount == Decimal("13.5")
    assert order.customer_id == "1" and order.customer_name == "بودي"
    assert order.country == "أفغانستان" and order.city is None
    assert order.created_at == dt.datetime(2026, 5, 9, 21, 10, tzinfo=dt.UTC)
    assert order.order_date == dt.date(2026, 5, 10)  # the store's day, not UTC's
    assert order.raw["brand_new_field"] == {"x": 1}
    first, booking = order.items
    assert (first.line_number, first.product_id, first.name, first.qty) == (1, "112", "قميص", 2)
    assert first.subtotal == Decimal(10) and not first.is_booking
    assert booking.is_booking and booking.price == Decimal("120.00") and booking.tax is None


def test_order_with_almost_nothing():
    order = Order.from_api({"id": "A-9"}, store="acme", timezone="Asia/Riyadh")
    assert order.identifier == "A-9" and order.items == () and order.created_at is None
    assert order.order_date is None and order.total_amount is None and order.status is None
    fallback = Order.from_api(
        {"id": 1}, store="acme", timezone="UTC", fallback_date=dt.date(2026, 1, 2)
    )
    assert fallback.order_date == dt.date(2026, 1, 2)


def test_order_without_identifier_is_refused():
    with pytest.raises(ValueError, match="identifier"):
        Order.from_api({"total_amount": 1}, store="acme", timezone="UTC")


def test_customer_fields_fall_back_to_the_order_level():
    order = Order.from_api(
        {"id": 1, "name": "N", "email": "e@x", "phone": "9665"}, store="a", timezone="UTC"
    )
    assert (order.customer_name, order.customer_email, order.customer_mobile) == (
        "N",
        "e@x",
        "9665",
    )


@pytest.mark.parametrize(
    ("payload", "language", "names"),
    [
        ({"name": {"ar": "حذاء رياضي", "en": "Sports Shoe"}}, "en", ("Sports Shoe", "حذاء رياضي")),
        ({"name": "حذاء رياضي"}, "ar", (None, "حذاء رياضي")),
        ({"name": "Sports Shoe"}, "en", ("Sports Shoe", None)),
        ({}, "en", (None, None)),
    ],
)
def test_product_names(payload, language, names):
    product = Product.from_api({"id": 195, **payload}, store="a", timezone="UTC", language=language)
    assert (product.name_en, product.name_ar) == names


def test_product_fields_old_and_new_snapshots():
    new = {
        "id": 195,
        "identifier": 195,
        "type": "physical",
        "type_id": 1,
        "price": 79.99,
        "sale_price": "49.99",
        "stock": 130,
        "is_unlimited": False,
        "is_published": 1,
        "created_at": "2026-03-04 02:52:41",
        "updated_at": "2026-03-04 02:52:41",
    }
    product = Product.from_api(new, store="a", timezone="Asia/Riyadh", language="en")
    assert product.price == Decimal("79.99") and product.sale_price == Decimal("49.99")
    assert product.stock == 130 and product.is_unlimited is False and product.is_published is True
    assert product.created_at == dt.datetime(2026, 3, 3, 23, 52, 41, tzinfo=dt.UTC)
    legacy = Product.from_api({"id": 1, "type": "مادي"}, store="a", timezone="UTC", language="ar")
    assert legacy.type == "مادي" and legacy.type_id is None and legacy.stock is None


def test_webhook_secret_is_wrapped_and_kept_out_of_raw():
    hook = Webhook.from_api(
        {"id": 3, "url": "https://x", "events": ["order.created"], "secret": "whsec_abc"}
    )
    assert hook.secret is not None and hook.secret.reveal() == "whsec_abc"
    assert "secret" not in hook.raw and "whsec_abc" not in repr(hook)


def test_a_lone_surrogate_in_a_text_field_becomes_a_replacement_character(caplog):
    """The standard library reads "\\ud800" alone into a string no UTF-8 file can hold; the
    products of such a store failed to write."""
    import json

    from tjar_pipelines.lake.tables import products_table

    body = json.loads('{"id": "7\\udfff", "name": {"en": "a\\ud800b", "ar": "\\u0642\\udc00"}}')
    product = Product.from_api(body, store="acme", timezone="UTC", language="en")
    assert (product.identifier, product.name_en, product.name_ar) == (
        "7\ufffd",
        "a\ufffdb",
        "ق\ufffd",
    )
    [row] = products_table([product], dt.datetime.now(dt.UTC)).to_pylist()
    assert (row["name_en"], row["name_ar"]) == ("a\ufffdb", "ق\ufffd")
    assert "store acme: product 7\ufffd holds text that is not valid Unicode" in caplog.text


def test_a_lone_surrogate_in_an_order_line_is_reported_with_its_order_and_line(caplog):
    import json

    from tjar_pipelines.lake.tables import orders_table

    body = json.loads(
        '{"identifier": 55, "order_details": [{"id": 900, "name": "ok"},'
        ' {"id": 901, "name": "a\\ud800b"}]}'
    )
    order = Order.from_api(body, store="acme", timezone="Asia/Riyadh")
    _, items = orders_table([order], dt.datetime.now(dt.UTC))
    assert items.column("name").to_pylist() == ["ok", "a\ufffdb"]
    assert "store acme: order 55 holds text that is not valid Unicode" in caplog.text
    assert "store acme: order 55 line 2 holds text" in caplog.text
    assert "900" not in caplog.text and "901" not in caplog.text  # product ids, not the order's
