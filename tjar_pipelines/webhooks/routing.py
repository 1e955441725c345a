"""Which partition each queued webhook event touches (pure: no Dagster, no I/O)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from tjar_pipelines.client.records import local_date, timestamp
from tjar_pipelines.stores import Registry
from tjar_pipelines.webhooks.queue import QueuedEvent

# Every event of an order or a product touches its partition: the ones Tjar documents
# (client.WEBHOOK_EVENTS) and any it adds (an order.payment_status.updated, say).
ORDER_EVENT_PREFIX = "order."
PRODUCT_EVENT_PREFIX = "product."


@dataclass(frozen=True, slots=True)
class Target:
    """A partition to refresh: a (store, day) of orders, or a store's products."""

    kind: str  # "orders" or "products"
    store: str
    day: dt.date | None = None


@dataclass(slots=True)
class Touched:
    """The events of one tick that touch one partition."""

    first_seq: int
    last_seq: int
    events: int = 0


UNKNOWN_STORE = "is not in the registry"
"""The end of the dead-letter reason of an event whose store the sensor did not know."""


@dataclass(slots=True)
class Routing:
    """Every event of a tick either touches a partition or goes to the dead letters."""

    targets: dict[Target, Touched] = field(default_factory=dict)
    dead: list[tuple[QueuedEvent, str]] = field(default_factory=list)
    last_seq: int = 0


def route(
    events: Sequence[QueuedEvent], registry: Registry, latest_day: dt.date | None = None
) -> Routing:
    """Maps events to partitions, coalescing all events of one partition.

    Args:
        events: Queued events, oldest first.
        registry: The stores.
        latest_day: The last day that has a partition; later days go to the dead letters.
    """
    stores = {s.slug: s for s in registry.stores}
    routing = Routing()
    for event in events:
        routing.last_seq = max(routing.last_seq, event.seq)
        store = stores.get(event.store)
        if store is None:
            routing.dead.append((event, f"store {event.store!r} {UNKNOWN_STORE}"))
            continue
        if event.event.startswith(PRODUCT_EVENT_PREFIX):
            target = Target("products", store.slug)
        elif event.event.startswith(ORDER_EVENT_PREFIX):
            try:
                day = local_date(timestamp(event.created_at, store.timezone), store.timezone)
            except (ValueError, OverflowError):
                day = None
            if day is None:
                routing.dead.append((event, "order event without a readable data.created_at"))
                continue
            if latest_day is not None and day > latest_day:
                routing.dead.append((event, f"order created {day}, after the last partition"))
                continue
            if day < store.start_date:
                routing.dead.append((event, f"order created {day}, before start_date"))
                continue
            target = Target("orders", store.slug, day)
        else:
            routing.dead.append((event, f"unknown event {event.event!r}"))
            continue
        touched = routing.targets.get(target)
        if touched is None:
            touched = routing.targets[target] = Touched(event.seq, event.seq)
        touched.last_seq = event.seq
        touched.events += 1
    return routing
