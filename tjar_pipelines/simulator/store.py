"""The state of one simulated store: its orders, products and webhooks.

Orders are not held as JSON: the store keeps their creation times (sorted) and any changes, and
builds each order object from a seed when it is served, so a store of a million orders costs
tens of megabytes and starts in about a second.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import random
import secrets
import threading
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from tjar_pipelines.simulator import catalog
from tjar_pipelines.simulator.config import StoreSpec

FIRST_ORDER_ID = 1001
FIRST_PRODUCT_ID = 101
MIDNIGHT_SHARE = 0.06  # orders placed within 15 minutes of local midnight


def stable_seed(*parts: object) -> int:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(slots=True)
class OrderChange:
    status: int
    payment: int
    updated: int


class SimStore:
    """One store's data. Thread-safe: served by the event loop, changed by tests and live mode."""

    def __init__(self, spec: StoreSpec, *, seed: int, anchor: dt.datetime) -> None:
        self.spec = spec
        self.zone = ZoneInfo(spec.timezone)
        self.seed = stable_seed(seed, spec.slug)
        self.lock = threading.RLock()
        end = int(anchor.timestamp())
        start = end - spec.history_days * 86400
        rng = random.Random(stable_seed(self.seed, "orders"))
        created = []
        for _ in range(spec.orders):
            if rng.random() < MIDNIGHT_SHARE:
                day = dt.datetime.fromtimestamp(rng.randrange(start, end), self.zone).date()
                midnight = dt.datetime.combine(day, dt.time(), self.zone).timestamp()
                moment = int(midnight) + rng.randrange(-900, 900)
                created.append(min(max(moment, start), end - 1))
            else:
                created.append(rng.randrange(start, end))
        created.sort()
        self.created: list[int] = created
        self.changes: dict[int, OrderChange] = {}
        self.products: list[dict[str, Any]] = []
        self.deleted_products: set[int] = set()
        prng = random.Random(stable_seed(self.seed, "products"))
        for n in range(spec.products):
            ts = self.local(start - 86400 * prng.randrange(1, 400))
            self.products.append({"ident": FIRST_PRODUCT_ID + n, "created": ts, "updated": ts})
        self._catalogue: list[dict[str, Any]] | None = None
        self.webhooks: dict[int, dict[str, Any]] = {}
        self._next_webhook = 1
        self.window_start = 0.0
        self.window_count = 0

    # Time

    def local(self, epoch: float) -> str:
        return dt.datetime.fromtimestamp(epoch, self.zone).strftime("%Y-%m-%d %H:%M:%S")

    def day_start(self, day: dt.date) -> int:
        return int(dt.datetime.combine(day, dt.time(), self.zone).timestamp())

    # Orders

    @property
    def order_count(self) -> int:
        return len(self.created)

    def order_range(self, date_from: dt.date | None, date_to: dt.date | None) -> tuple[int, int]:
        """Positions ``[lo, hi)`` of the orders created on those local days (inclusive)."""
        with self.lock:
            lo = (
                0
                if date_from is None
                else bisect.bisect_left(self.created, self.day_start(date_from))
            )
            if date_to is None:
                hi = len(self.created)
            else:
                nxt = self.day_start(date_to + dt.timedelta(days=1))
                hi = bisect.bisect_left(self.created, nxt)
            return lo, hi

    def position(self, ident: int) -> int | None:
        pos = ident - FIRST_ORDER_ID
        return pos if 0 <= pos < len(self.created) else None

    def _order_rng(self, pos: int) -> random.Random:
        """The order's own random stream: the same order is built the same way every time."""
        return random.Random(self.seed * 1_000_003 + pos)

    def _default_state(self, pos: int, rng: random.Random) -> OrderChange:
        age_days = (self.created[-1] - self.created[pos]) / 86400
        if age_days > 7:
            status = rng.choice((3, 3, 3, 3, 2, 4))
        else:
            status = rng.choice((0, 1, 1, 2, 4))
        payment = {0: 0, 4: rng.choice((2, 3))}.get(status, 1)
        return OrderChange(status, payment, self.created[pos] + rng.randrange(0, 3 * 86400))

    def order(self, pos: int, lang: str) -> dict[str, Any]:
        """The order at ``pos`` as the API serves it."""
        rng = self._order_rng(pos)
        created = self.created[pos]
        state = self.changes.get(pos) or self._default_state(pos, rng)
        return catalog.build_order(
            rng,
            FIRST_ORDER_ID + pos,
            self._products_for_orders(),
            self.local(created),
            self.local(max(created, state.updated)),
            state.status,
            state.payment,
            self.spec.money_as_strings,
            lang,
        )

    def create_order(self, now: float) -> int:
        """Adds an order created at ``now`` (or just after the newest); returns its identifier."""
        with self.lock:
            moment = max(int(now), self.created[-1] if self.created else int(now))
            self.created.append(moment)
            pos = len(self.created) - 1
            self.changes[pos] = OrderChange(0, 0, moment)
            return FIRST_ORDER_ID + pos

    def change_status(self, ident: int, status: int, now: float) -> None:
        with self.lock:
            pos = self.position(ident)
            if pos is None:
                raise KeyError(ident)
            rng = self._order_rng(pos)
            current = self.changes.get(pos) or self._default_state(pos, rng)
            payment = {0: 0, 4: 3}.get(status, 1)
            self.changes[pos] = OrderChange(status, payment, max(int(now), current.updated + 1))

    # Products

    def _products_for_orders(self) -> list[dict[str, Any]]:
        # Order lines only read a product's id, type, price, name and options: cache them.
        if self._catalogue is None:
            self._catalogue = [self.product(n, "en") for n in range(len(self.products))]
        return self._catalogue

    def product(self, index: int, lang: str) -> dict[str, Any]:
        entry = self.products[index]
        rng = random.Random(stable_seed(self.seed, "product", entry["ident"]))
        return catalog.build_product(
            rng,
            entry["ident"],
            entry["created"],
            entry["updated"],
            self.spec.money_as_strings,
            lang,
        )

    def product_indexes(self) -> list[int]:
        """Positions of the live products, oldest first."""
        return [n for n, e in enumerate(self.products) if e["ident"] not in self.deleted_products]

    def product_index(self, ident: int) -> int | None:
        index = ident - FIRST_PRODUCT_ID
        if 0 <= index < len(self.products) and ident not in self.deleted_products:
            return index
        return None

    def delete_product(self, ident: int) -> None:
        """Takes a live product off the list, as deleting it in the dashboard would."""
        with self.lock:
            if self.product_index(ident) is None:
                raise KeyError(ident)
            self.deleted_products.add(ident)

    def touch_product(self, ident: int, now: float) -> None:
        with self.lock:
            index = self.product_index(ident)
            if index is None:
                raise KeyError(ident)
            self.products[index]["updated"] = self.local(now)
            self._catalogue = None

    # Webhooks

    def add_webhook(self, name: str, url: str, events: list[str]) -> dict[str, Any]:
        with self.lock:
            ident = self._next_webhook
            self._next_webhook += 1
            hook = {
                "id": ident,
                "identifier": ident,
                "name": name,
                "url": url,
                "events": events,
                "is_active": True,
                "secret": f"whsec_{secrets.token_hex(16)}",
            }
            self.webhooks[ident] = hook
            return hook

    def new_delivery_id(self, rng: random.Random) -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
