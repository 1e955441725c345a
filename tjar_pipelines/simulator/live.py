"""Live mode: stores that keep changing while served, and announce it with signed webhooks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
from typing import TYPE_CHECKING, Any

import httpx

from tjar_pipelines.simulator.catalog import STATUSES
from tjar_pipelines.simulator.config import LiveMode
from tjar_pipelines.simulator.store import FIRST_ORDER_ID, SimStore, stable_seed

if TYPE_CHECKING:
    from tjar_pipelines.simulator.app import Simulator

log = logging.getLogger("tjar_pipelines.simulator")

CANCELLED = 4


def sign(secret: str, body: bytes) -> str:
    """The §15 signature header value: ``sha256=<lowercase hex HMAC-SHA256(secret, body)>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def envelope(
    store: SimStore, delivery_id: str, event: str, data: dict[str, Any], now: float
) -> bytes:
    """A §15 webhook body: ``{id, event, store, created_at, data}``."""
    body = {
        "id": delivery_id,
        "event": event,
        "store": store.spec.domain,
        "created_at": store.local(now),
        "data": data,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def change_store(
    store: SimStore, rng: random.Random, live: LiveMode, now: float
) -> tuple[str, dict]:
    """Makes one change to the store; returns the event name and the changed order or product."""
    if rng.random() < live.product_share:
        index = rng.choice(store.product_indexes())
        store.touch_product(store.products[index]["ident"], now)
        return "product.updated", store.product(index, "en")
    if rng.random() < live.new_order_share or store.order_count == 0:
        ident = store.create_order(now)
        event = "order.created"
    else:
        recent = max(0, store.order_count - 200)
        ident = FIRST_ORDER_ID + rng.randrange(recent, store.order_count)
        status = rng.randrange(1, len(STATUSES))
        store.change_status(ident, status, now)
        event = "order.cancelled" if status == CANCELLED else "order.status.updated"
    pos = store.position(ident)
    assert pos is not None
    return event, store.order(pos, "en")


async def deliver(
    sim: Simulator,
    http: httpx.AsyncClient,
    url: str,
    secret: str,
    event: str,
    delivery_id: str,
    body: bytes,
) -> bool:
    """Posts one delivery, retrying non-2xx answers and timeouts three times with backoff."""
    headers = {
        "Content-Type": "application/json",
        "X-Tjar-Event": event,
        "X-Tjar-Delivery": delivery_id,
        "X-Tjar-Signature": sign(secret, body),
    }
    for attempt in range(4):
        try:
            response = await http.post(url, content=body, headers=headers)
            if 200 <= response.status_code < 300:
                sim.stats["webhooks_sent"] += 1
                sim.deliveries.append(
                    {"id": delivery_id, "event": event, "url": url, "status": response.status_code}
                )
                return True
        except (httpx.HTTPError, OSError) as exc:
            log.info("webhook %s to %s failed: %s", delivery_id, url, type(exc).__name__)
        await asyncio.sleep(0.25 * 2**attempt)
    sim.stats["webhooks_failed"] += 1
    return False


async def run_live(sim: Simulator, live: LiveMode) -> None:
    """Changes every store once per ``live.interval`` and sends the matching webhooks."""
    rng = random.Random(stable_seed(sim.config.seed, "live"))
    in_flight: set[asyncio.Task[bool]] = set()
    async with httpx.AsyncClient(timeout=5.0) as http:
        try:
            await _change_and_announce(sim, live, rng, http, in_flight)
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)


async def _change_and_announce(
    sim: Simulator,
    live: LiveMode,
    rng: random.Random,
    http: httpx.AsyncClient,
    in_flight: set[asyncio.Task[bool]],
) -> None:
    """Changes every store once per ``live.interval`` and starts its deliveries."""
    while True:
        await asyncio.sleep(live.interval)
        if sim.live_paused:
            continue
        for store in sim.stores.values():
            now = sim.clock()
            with store.lock:
                event, order = change_store(store, rng, live, now)
            delivery_id = store.new_delivery_id(rng)
            body = envelope(store, delivery_id, event, order, now)
            targets: list[tuple[str, str]] = []
            if live.webhook_url:
                targets.append(
                    (
                        live.webhook_url.replace("{slug}", store.spec.slug),
                        store.spec.webhook_secret,
                    )
                )
            targets += [
                (hook["url"], hook["secret"])
                for hook in list(store.webhooks.values())
                if event in hook["events"]
            ]
            copies = 2 if rng.random() < live.duplicate_rate else 1
            for url, secret in targets:
                for _ in range(copies):
                    task = asyncio.create_task(
                        deliver(sim, http, url, secret, event, delivery_id, body)
                    )
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
