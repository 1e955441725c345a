"""Typed records parsed from Tjar JSON, tolerant of missing and unknown fields.

Money is ``Decimal`` (from JSON numbers or numeric strings), timestamps are timezone-aware UTC
(Tjar sends store-local ``YYYY-MM-DD HH:MM:SS`` without a zone), and every record keeps the
JSON it was parsed from in ``raw``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from tjar_pipelines.client.secret import Secret

Json = Mapping[str, Any]


def money(value: object) -> Decimal | None:
    """A JSON amount as ``Decimal``: ``15.5``, ``"15.50"`` and ``15`` all work; junk is ``None``."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # repr() is the shortest string that round-trips, so 79.99 stays exactly 79.99.
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if not text:
            return None
        try:
            amount = Decimal(text)
        except InvalidOperation:
            return None
        return amount if amount.is_finite() else None
    return None


def integer(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def boolean(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes"):
            return True
        if lowered in ("0", "false", "no"):
            return False
    return None


LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # in a str, every surrogate is alone


def _unicode(value: str) -> str:
    r"""``value`` with each lone surrogate as U+FFFD, as ``raw`` keeps it.

    The standard library reads a JSON escape from ``\ud800`` to ``\udfff`` standing alone
    into a string no UTF-8 file can hold, which failed the whole store's write.
    """
    return value if value.isascii() else LONE_SURROGATE.sub("\ufffd", value)


def text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _unicode(value)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    return None


def identifier(value: object) -> str | None:
    """Identifiers are integers in most examples and strings in some: keep them as text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return _unicode(value.strip())
    return None


def record_identifier(payload: Json) -> str | None:
    """A record's ``identifier``, or its ``id`` where it has none (``None`` if neither)."""
    return identifier(payload.get("identifier")) or identifier(payload.get("id"))


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def timestamp(value: object, timezone: str) -> dt.datetime | None:
    """A Tjar timestamp as aware UTC.

    ``YYYY-MM-DD HH:MM:SS`` without a zone is read in the store's zone; ISO 8601 with an offset
    keeps its offset. Anything unreadable is ``None``.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_zone(timezone))
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 pushed past the range
        return None


def local_date(instant: dt.datetime | None, timezone: str) -> dt.date | None:
    """The calendar day of ``instant`` in the store's zone."""
    return None if instant is None else instant.astimezone(_zone(timezone)).date()


def enum_value(value: object) -> str | None:
    """``{"value": "Pending", "label": {...}}`` or a plain string, as the string."""
    if isinstance(value, Mapping):
        return text(value.get("value"))
    return text(value)


def localized(value: object, language: str) -> tuple[str | None, str | None]:
    """A ``{ar, en}`` object, or a plain string in the request language, as ``(en, ar)``."""
    if isinstance(value, Mapping):
        return text(value.get("en")), text(value.get("ar"))
    plain = text(value)
    return (plain, None) if language == "en" else (None, plain)


def _mapping(value: object) -> Json:
    return value if isinstance(value, Mapping) else {}


def order_instants(payload: Json, timezone: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """An order's ``created_at`` and ``updated_at`` as aware UTC (``None`` when unreadable)."""
    return (
        timestamp(payload.get("created_at"), timezone),
        timestamp(payload.get("updated_at"), timezone),
    )


def order_lines(payload: Json) -> list[tuple[int, Json]]:
    """An order's lines (``order_details[]`` objects) with their 1-based positions."""
    details = payload.get("order_details")
    if not isinstance(details, list):
        return []
    return [(n, line) for n, line in enumerate(details, start=1) if isinstance(line, Mapping)]


def order_line_count(payload: Json) -> int:
    """How many lines :func:`order_lines` finds in an order, without listing them."""
    details = payload.get("order_details")
    if not isinstance(details, list):
        return 0
    return sum(1 for line in details if isinstance(line, Mapping))


@dataclass(frozen=True, slots=True)
class OrderItem:
    """One line of an order (``order_details[]``)."""

    order_identifier: str
    line_number: int
    product_id: str | None
    name: str | None
    qty: int | None
    price: Decimal | None
    discount: Decimal | None
    tax: Decimal | None
    subtotal: Decimal | None
    weight: Decimal | None
    type: int | None
    type_label: str | None
    is_booking: bool
    options_cost: Decimal | None
    raw: Json

    @classmethod
    def from_api(cls, payload: Json, *, order_identifier: str, line_number: int) -> OrderItem:
        """Parses one ``order_details[]`` entry; ``line_number`` is its 1-based position."""
        options = _mapping(payload.get("options"))
        return cls(
            order_identifier=order_identifier,
            line_number=line_number,
            product_id=identifier(payload.get("product_id")) or identifier(payload.get("id")),
            name=text(payload.get("name")) or localized(payload.get("name"), "en")[0],
            qty=integer(payload.get("qty")),
            price=money(payload.get("price")),
            discount=money(payload.get("discount")),
            tax=money(payload.get("tax")),
            subtotal=money(payload.get("subtotal")),
            weight=money(payload.get("weight")),
            type=integer(payload.get("type")),
            type_label=text(payload.get("type_label")),
            is_booking=bool(
                boolean(options.get("is_booking")) or boolean(payload.get("is_booking"))
            ),
            options_cost=money(options.get("product_options_cost")),
            raw=payload,
        )


@dataclass(frozen=True, slots=True)
class Order:
    """One order of a store.

    ``created_at``/``updated_at`` are UTC; ``order_date`` is the creation day in the store's zone,
    the day the list filter and the ``orders`` partitions use. When the store sent no readable
    ``created_at``, ``created_at`` is ``None`` and ``order_date`` is the day of the window the
    order was listed under if that window was a single day, else ``None``.
    """

    store: str
    identifier: str
    order_number: str | None
    status: str | None
    payment_status: str | None
    payment_gateway: str | None
    total_amount: Decimal | None
    coupon: str | None
    coupon_discount: Decimal | None
    customer_id: str | None
    customer_name: str | None
    customer_email: str | None
    customer_mobile: str | None
    country: str | None
    city: str | None
    transaction_id: str | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    order_date: dt.date | None
    items: tuple[OrderItem, ...]
    raw: Json

    @classmethod
    def from_api(
        cls,
        payload: Json,
        *,
        store: str,
        timezone: str,
        fallback_date: dt.date | None = None,
    ) -> Order:
        """Parses an order object as ``GET /orders`` and ``GET /orders/{id}`` return it.

        Raises:
            ValueError: The object has no usable ``identifier`` (nor ``id``).
        """
        ident = record_identifier(payload)
        if ident is None:
            raise ValueError("order without identifier")
        customer = _mapping(payload.get("customer"))
        created, updated = order_instants(payload, timezone)
        return cls(
            store=store,
            identifier=ident,
            order_number=text(payload.get("order_id")),
            status=enum_value(payload.get("status")),
            payment_status=enum_value(payload.get("payment_status")),
            payment_gateway=enum_value(payload.get("payment_gateway")),
            total_amount=money(payload.get("total_amount")),
            coupon=text(payload.get("coupon")),
            coupon_discount=money(payload.get("coupon_discounted")),
            customer_id=identifier(customer.get("id")),
            customer_name=text(customer.get("name")) or text(payload.get("name")),
            customer_email=text(customer.get("email")) or text(payload.get("email")),
            customer_mobile=text(customer.get("mobile")) or text(payload.get("phone")),
            country=text(payload.get("country")),
            city=text(payload.get("city")),
            transaction_id=text(payload.get("transaction_id")),
            created_at=created,
            updated_at=updated,
            order_date=local_date(created, timezone) or fallback_date,
            items=tuple(
                OrderItem.from_api(line, order_identifier=ident, line_number=n)
                for n, line in order_lines(payload)
            ),
            raw=payload,
        )


@dataclass(frozen=True, slots=True)
class Product:
    """One product of a store, as ``GET /products`` and ``GET /products/{id}`` return it."""

    store: str
    identifier: str
    name_en: str | None
    name_ar: str | None
    type: str | None
    type_id: int | None
    price: Decimal | None
    sale_price: Decimal | None
    stock: int | None
    is_unlimited: bool | None
    is_published: bool | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    raw: Json

    @classmethod
    def from_api(cls, payload: Json, *, store: str, timezone: str, language: str) -> Product:
        """Parses a product object.

        Raises:
            ValueError: The object has no usable ``identifier`` (nor ``id``).
        """
        ident = record_identifier(payload)
        if ident is None:
            raise ValueError("product without identifier")
        name_en, name_ar = localized(payload.get("name"), language)
        return cls(
            store=store,
            identifier=ident,
            name_en=name_en,
            name_ar=name_ar,
            type=text(payload.get("type")),
            type_id=integer(payload.get("type_id")),
            price=money(payload.get("price")),
            sale_price=money(payload.get("sale_price")),
            stock=integer(payload.get("stock")),
            is_unlimited=boolean(payload.get("is_unlimited")),
            is_published=boolean(payload.get("is_published")),
            created_at=timestamp(payload.get("created_at"), timezone),
            updated_at=timestamp(payload.get("updated_at"), timezone),
            raw=payload,
        )


_SECRET_KEYS = ("secret", "signing_secret", "webhook_secret")


@dataclass(frozen=True, slots=True)
class Webhook:
    """A webhook subscription of a store.

    ``secret`` is only present when the store returns it (on registration); ``raw`` never holds it.
    """

    identifier: str
    name: str | None
    url: str | None
    events: tuple[str, ...]
    is_active: bool | None
    secret: Secret | None
    raw: Json

    @classmethod
    def from_api(cls, payload: Json) -> Webhook:
        ident = record_identifier(payload)
        if ident is None:
            raise ValueError("webhook without id")
        secret_text = next(
            (value for key in _SECRET_KEYS if isinstance(value := payload.get(key), str) and value),
            None,
        )
        events = payload.get("events")
        return cls(
            identifier=ident,
            name=text(payload.get("name")),
            url=text(payload.get("url")),
            events=tuple(e for e in events if isinstance(e, str))
            if isinstance(events, list)
            else (),
            is_active=boolean(payload.get("is_active")),
            secret=Secret(secret_text) if secret_text else None,
            raw={k: v for k, v in payload.items() if k not in _SECRET_KEYS},
        )
