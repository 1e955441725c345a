"""Knobs of the Tjar simulator: which stores it serves and how badly it behaves."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from tjar_pipelines.client.settings import check_timezone

PaginationShape = Literal["data", "meta", "salla", "none"]
PAGINATION_SHAPES: tuple[PaginationShape, ...] = ("data", "meta", "salla", "none")
ListOrder = Literal["newest", "oldest"]
PastEnd = Literal["empty", "404", "422"]
PAST_END: tuple[PastEnd, ...] = ("empty", "404", "422")


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """One simulated store.

    Attributes:
        slug: Served under ``/s/{slug}/api/core/v1``.
        api_key: The bearer key this store accepts (a key of another store is refused).
        webhook_secret: Signs the webhooks this store sends in live mode.
        orders: Orders created before the simulator starts.
        products: Products in the catalogue.
        history_days: The orders are spread over this many days up to the anchor.
        timezone: Zone of the store's timestamps and date filters.
        money_as_strings: Send amounts as ``"15.50"`` instead of ``15.5``.
    """

    slug: str
    api_key: str
    webhook_secret: str
    orders: int = 500
    products: int = 40
    history_days: int = 60
    timezone: str = "Asia/Riyadh"
    money_as_strings: bool = False

    def __post_init__(self) -> None:
        check_timezone(self.timezone, self.slug)
        if self.orders < 0 or self.products < 1 or self.history_days < 1:
            raise ValueError(
                f"store {self.slug}: needs orders >= 0, products >= 1 and history_days >= 1"
            )

    @property
    def domain(self) -> str:
        return f"{self.slug}.tjar.test"


@dataclass(frozen=True, slots=True)
class Faults:
    """Misbehaviour injected into every store, deterministic for a given seed.

    Attributes:
        latency_ms: Added to every API answer.
        error_rate: Share of API requests answered 500.
        garble_rate: Share of list/detail requests answered 200 with a cut-off JSON body.
        reset_rate: Share of list/detail answers whose connection breaks half-way through
            the body (the client sees the connection drop).
        rate_limit: Requests a store accepts per ``rate_window`` seconds; 0 turns limits off.
        rate_window: Length of the fixed rate-limit window in seconds.
        retry_after: Whether a 429 carries ``Retry-After``.
        orders_per_list_request: New orders created just before each ``GET /orders`` is
            answered, so a client paging through the list sees it shift under it.
        extra_fields: Add unknown fields to every object (schema drift).
        drop_created_at_rate: Share of orders served without ``created_at``.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    garble_rate: float = 0.0
    reset_rate: float = 0.0
    rate_limit: int = 0
    rate_window: float = 1.0
    retry_after: bool = True
    orders_per_list_request: int = 0
    extra_fields: bool = False
    drop_created_at_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class LiveMode:
    """Live mode: the stores keep changing while served, and send signed webhooks.

    Attributes:
        interval: Seconds between two changes of each store.
        webhook_url: Where every store posts its events; ``{slug}`` is replaced by the store slug.
            Webhooks registered through the API receive their events too.
        product_share: Share of changes that update a product (``product.updated``).
        new_order_share: Share of order changes that create an order (the rest change a
            status: ``order.status.updated`` or ``order.cancelled``).
        duplicate_rate: Share of deliveries sent twice (at-least-once delivery).
    """

    interval: float = 1.0
    webhook_url: str | None = None
    product_share: float = 0.1
    new_order_share: float = 0.5
    duplicate_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """The whole simulator.

    Attributes:
        stores: The stores served.
        seed: Seeds all generated data and injected faults.
        anchor: Instant the generated history ends at (naive means UTC); ``None`` means now.
            The simulator's clock starts there, so orders created while serving follow it.
        pagination: Shape of list pagination metadata (``data``, ``meta``, ``salla``, ``none``).
        max_per_page: Larger ``per_page`` requests are silently clamped to this.
        default_per_page: Page size when the request gives none.
        list_order: ``newest`` first (the default of §15) or ``oldest`` first.
        past_end: What a list answers for a page past its last (§15 does not know): an
            ``empty`` list, or an error, ``404`` or ``422``.
        default_language: Language when the request sends no ``Accept-Language``.
        webhook_capacity: Webhooks a store accepts before answering 422.
        faults: Injected misbehaviour.
        live: Live mode, or ``None`` for a store that only changes when told to.
    """

    stores: tuple[StoreSpec, ...]
    seed: int = 7
    anchor: dt.datetime | None = None
    pagination: PaginationShape = "data"
    max_per_page: int = 100
    default_per_page: int = 20
    list_order: ListOrder = "newest"
    past_end: PastEnd = "empty"
    default_language: str = "ar"
    webhook_capacity: int = 5
    faults: Faults = field(default_factory=Faults)
    live: LiveMode | None = None

    def __post_init__(self) -> None:
        if self.pagination not in PAGINATION_SHAPES:
            raise ValueError(f"pagination must be one of {PAGINATION_SHAPES}")
        if self.past_end not in PAST_END:
            raise ValueError(f"past_end must be one of {PAST_END}")
        slugs = [s.slug for s in self.stores]
        if len(set(slugs)) != len(slugs):
            raise ValueError("store slugs must be unique")


def demo_stores(count: int = 3, orders: int = 500, products: int = 40) -> tuple[StoreSpec, ...]:
    """The built-in demo stores ``demo-1``…``demo-N`` with keys ``sim-key-demo-N``."""
    zones = ("Asia/Riyadh", "Asia/Dubai", "Africa/Cairo", "Europe/Istanbul")
    return tuple(
        StoreSpec(
            slug=f"demo-{n}",
            api_key=f"sim-key-demo-{n}",
            webhook_secret=f"sim-whsec-demo-{n}",
            orders=orders,
            products=products,
            timezone=zones[(n - 1) % len(zones)],
            money_as_strings=n % 2 == 0,
        )
        for n in range(1, count + 1)
    )
