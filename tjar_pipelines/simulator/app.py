"""The Tjar simulator as an ASGI app: many stores, each under ``/s/{slug}/api/core/v1``."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tjar_pipelines.client import WEBHOOK_EVENTS
from tjar_pipelines.simulator.config import SimulatorConfig
from tjar_pipelines.simulator.store import SimStore, stable_seed

API = "/s/{slug}/api/core/v1"
MESSAGES = {
    "orders": {"en": "Orders retrieved successfully", "ar": "تم استرجاع طلبات المنتجات بنجاح"},
    "order": {"en": "Order details retrieved successfully", "ar": "تم استرجاع تفاصيل الطلب بنجاح"},
    "products": {"en": "Products retrieved successfully", "ar": "تم استرجاع المنتجات بنجاح"},
    "product": {
        "en": "Product details retrieved successfully",
        "ar": "تم استرجاع تفاصيل المنتج بنجاح",
    },
    "webhooks": {"en": "Webhooks retrieved successfully", "ar": "تم استرجاع الويب هوك بنجاح"},
    "webhook": {"en": "Webhook saved successfully", "ar": "تم حفظ الويب هوك بنجاح"},
}
KNOWN_EVENTS = frozenset(WEBHOOK_EVENTS)


def dumps(body: object) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(dumps(body), status, headers=headers, media_type="application/json")


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"status": "error", "message": message}, status, headers)


def validation_error(errors: dict[str, list[str]]) -> Response:
    first = next(iter(errors.values()))[0]
    return json_response({"message": first, "errors": errors}, 422)


class Simulator:
    """All simulated stores plus the behaviour knobs; :attr:`app` serves them over HTTP."""

    def __init__(
        self,
        config: SimulatorConfig,
        *,
        clock: Callable[[], float] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Builds every store's data.

        Args:
            config: Stores and knobs.
            clock: Wall clock (epoch seconds) that stamps orders created while serving;
                by default it starts at the anchor and runs in real time.
            monotonic: Clock of the rate-limit windows; tests share a fake one with the client.
        """
        self.config = config
        self.monotonic = monotonic
        anchor = config.anchor or dt.datetime.now(dt.UTC)
        if anchor.tzinfo is None:
            anchor = anchor.replace(tzinfo=dt.UTC)
        if clock is None:
            started, anchor_epoch = time.monotonic(), anchor.timestamp()
            clock = lambda: anchor_epoch + time.monotonic() - started  # noqa: E731
        self.clock = clock
        self.stores = {s.slug: SimStore(s, seed=config.seed, anchor=anchor) for s in config.stores}
        self.fault_rng = random.Random(stable_seed(config.seed, "faults"))
        self.stats: dict[str, int] = {
            "requests": 0,
            "429": 0,
            "500": 0,
            "garbled": 0,
            "reset": 0,
            "webhooks_sent": 0,
            "webhooks_failed": 0,
        }
        self.deliveries: list[dict[str, Any]] = []
        self.live_paused = False
        """Set to hold live mode: no changes and no new deliveries until cleared."""
        self.before_list: Callable[[SimStore, int], None] | None = None
        """Test hook, called with the store and the page before each ``GET /orders`` answer."""
        routes = [
            Route(f"{API}/orders", self.list_orders, methods=["GET"]),
            Route(f"{API}/orders/{{ident}}", self.get_order, methods=["GET"]),
            Route(f"{API}/products", self.list_products, methods=["GET"]),
            Route(f"{API}/products/{{ident}}", self.get_product, methods=["GET"]),
            Route(f"{API}/webhooks", self.list_webhooks, methods=["GET"]),
            Route(f"{API}/webhooks", self.create_webhook, methods=["POST"]),
            Route(f"{API}/webhooks/{{ident}}", self.delete_webhook, methods=["DELETE"]),
            Route("/_sim/health", self.health, methods=["GET"]),
            Route("/_sim/stores", self.list_stores, methods=["GET"]),
        ]
        self.app = Starlette(routes=routes, lifespan=self._lifespan)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        task = None
        if self.config.live is not None:
            from tjar_pipelines.simulator.live import run_live

            task = asyncio.create_task(run_live(self, self.config.live))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # The gate every API request passes: tenancy, auth, rate limit, latency, injected 500s.

    async def _gate(self, request: Request) -> tuple[SimStore, str] | Response:
        self.stats["requests"] += 1
        store = self.stores.get(request.path_params["slug"])
        if store is None:
            return error(404, "Not found")
        if request.headers.get("authorization") != f"Bearer {store.spec.api_key}":
            return error(401, "Unauthenticated.")
        faults = self.config.faults
        if faults.rate_limit > 0:
            now = self.monotonic()
            if now - store.window_start >= faults.rate_window:
                store.window_start, store.window_count = now, 0
            store.window_count += 1
            remaining = faults.rate_limit - store.window_count
            headers = {
                "X-RateLimit-Limit": str(faults.rate_limit),
                "X-RateLimit-Remaining": str(max(remaining, 0)),
            }
            if remaining < 0:
                self.stats["429"] += 1
                if faults.retry_after:
                    wait = store.window_start + faults.rate_window - now
                    headers["Retry-After"] = str(max(1, math.ceil(wait)))
                return error(429, "Too Many Attempts.", headers)
            request.state.rate_headers = headers
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.error_rate > 0 and self.fault_rng.random() < faults.error_rate:
            self.stats["500"] += 1
            return error(500, "Server Error")
        lang = request.headers.get("accept-language", "")[:2].lower()
        return store, lang if lang in ("en", "ar") else self.config.default_language

    def _ok(self, request: Request, body: dict[str, Any], status: int = 200) -> Response:
        headers = getattr(request.state, "rate_headers", None)
        payload = dumps(body)
        faults = self.config.faults
        if faults.garble_rate > 0 and self.fault_rng.random() < faults.garble_rate:
            self.stats["garbled"] += 1
            payload = payload[: max(1, len(payload) // 2)]
        if faults.reset_rate > 0 and self.fault_rng.random() < faults.reset_rate:
            self.stats["reset"] += 1
            return _broken_response(payload, status, headers)
        return Response(payload, status, headers=headers, media_type="application/json")

    def _decorate(self, obj: dict[str, Any], store: SimStore, ident: int) -> dict[str, Any]:
        faults = self.config.faults
        if faults.extra_fields:
            obj["x_added_later"] = {"note": "unknown field", "n": ident}
        if faults.drop_created_at_rate > 0:
            chance = random.Random(stable_seed(store.seed, "drop", ident)).random()
            if chance < faults.drop_created_at_rate:
                obj.pop("created_at", None)
        return obj

    # Pagination

    def _page_request(self, request: Request) -> tuple[int, int] | Response:
        errors: dict[str, list[str]] = {}
        page = _int_param(request, "page", 1)
        per_page = _int_param(request, "per_page", self.config.default_per_page)
        if page is None or page < 1:
            errors["page"] = ["The page must be an integer of at least 1."]
        if per_page is None or per_page < 1:
            errors["per_page"] = ["The per page must be an integer of at least 1."]
        if errors or page is None or per_page is None:
            return validation_error(errors)
        return page, min(per_page, self.config.max_per_page)

    def _past_end(self, page: int, per_page: int, total: int) -> Response | None:
        """The error answer for a page past the list's last, if the store answers so."""
        if page == 1 or (page - 1) * per_page < total or self.config.past_end == "empty":
            return None
        if self.config.past_end == "404":
            return error(404, "Not found")
        return validation_error({"page": [f"The page must not be greater than {page - 1}."]})

    def _list_body(
        self,
        request: Request,
        key: str,
        items: list[dict[str, Any]],
        page: int,
        per_page: int,
        total: int,
        lang: str,
    ) -> dict[str, Any]:
        last_page = max(1, math.ceil(total / per_page))
        next_url = (
            str(request.url.include_query_params(page=page + 1)) if page < last_page else None
        )
        prev_url = str(request.url.include_query_params(page=page - 1)) if page > 1 else None
        body: dict[str, Any] = {"status": "success", "message": MESSAGES[key][lang]}
        shape = self.config.pagination
        data: dict[str, Any] = {key: items}
        if shape == "data":
            data["pagination"] = {
                "current_page": page,
                "last_page": last_page,
                "per_page": per_page,
                "total": total,
            }
        body["data"] = data
        if shape == "meta":
            start = (page - 1) * per_page
            body["meta"] = {
                "current_page": page,
                "from": start + 1 if items else None,
                "last_page": last_page,
                "path": str(request.url.remove_query_params(["page"])),
                "per_page": per_page,
                "to": start + len(items) if items else None,
                "total": total,
            }
            body["links"] = {"next": next_url, "prev": prev_url}
        elif shape == "salla":
            body["pagination"] = {
                "count": len(items),
                "total": total,
                "perPage": per_page,
                "currentPage": page,
                "totalPages": last_page,
                "links": {"next": next_url, "previous": prev_url},
            }
        return body

    # Orders

    async def list_orders(self, request: Request) -> Response:
        gate = await self._gate(request)
        if isinstance(gate, Response):
            return gate
        store, lang = gate
        paging = self._page_request(request)
        if isinstance(paging, Response):
            return paging
        page, per_page = paging
        dates: dict[str, dt.date | None] = {}
        for name in ("date_from", "date_to"):
            raw = request.query_params.get(name)
            try:
                dates[name] = dt.date.fromisoformat(raw) if raw else None
            except ValueError:
                return validation_error({name: [f"The {name} is not a valid date (YYYY-MM-DD)."]})
        if self.before_list is not None:
            self.before_list(store, page)
            if request.headers.get("authorization") != f"Bearer {store.spec.api_key}":
                return error(401, "Unauthenticated.")
        with store.lock:
            for _ in range(self.config.faults.orders_per_list_request):
                store.create_order(self.clock())
            lo, hi = store.order_range(dates["date_from"], dates["date_to"])
            total = hi - lo
            start = (page - 1) * per_page
            if self.config.list_order == "newest":
                positions = range(hi - 1 - start, max(hi - 1 - start - per_page, lo - 1), -1)
            else:
                positions = range(lo + start, min(lo + start + per_page, hi))
            items = [self._decorate(store.order(p, lang), store, p) for p in positions]
        if past_end := self._past_end(page, per_page, total):
            return past_end
        return self._ok(
            request, self._list_body(request, "orders", items, page, per_page, total, lang)
        )

    async def get_order(self, request: Request) -> Response:
        gate = await self._gate(request)
        if isinstance(gate, Response):
            return gate
        store, lang = gate
        pos = store.position(_ident(request))
        if pos is None:
            return error(404, "Not found")
        order = self._decorate(store.order(pos, lang), store, pos)
        return self._ok(
            request, {"status": "success", "message": MESSAGES["order"][lang], "data": order}
        )

    # Products

    async def list_products(self, request: Request) -> Response:
        gate = await self._gate(request)
        if isinstance(gate, Response):
            return gate
        store, lang = gate
        paging = self._page_request(request)
        if isinstance(paging, Response):
            return paging
        page, per_page = paging
        indexes = store.product_indexes()
        published = request.query_params.get("is_published")
        products = [store.product(n, lang) for n in indexes]
        if published in ("0", "1"):
            products = [p for p in products if p["is_published"] == (published == "1")]
        if self.config.list_order == "newest":
            products.sort(key=lambda p: (p["created_at"], p["identifier"]), reverse=True)
        if past_end := self._past_end(page, per_page, len(products)):
            return past_end
        start = (page - 1) * per_page
        items = [
            self._decorate(p, store, p["identifier"]) for p in products[start : start + per_page]
        ]
        body = self._list_body(request, "products", items, page, per_page, len(products), lang)
        return self._ok(request, body)

    async def get_product(self, request: Request) -> Response:
        gate = await self._gate(request)
        if isinstance(gate, Response):
            return gate
        store, lang = gate
        ident = _ident(request)
        index = store.product_index(ident)
        if index is None:
            return error(404, "Not found")
        product = self._decorate(store.product(index, lang), store, ident)
        body = {"status": "success", "message": MESSAGES["product"][lang], "data": product}
        return self._ok(request, body)

    # Webhooks

    async def list_webhooks(self, request: Request) -> Response:
        gate = await self._gate(request)
        if isinstance(gate, Response):
            return gate
        store, lang = gate
        hooks = [{k: v for k, v in h.items() if k != "secret"} for h in store.webhooks.values()]
        body = self._list_body(request, "webhooks", hooks, 1, max(len(hooks), 1), len(hooks), lang)
        return self._ok(request, body)

    async def create_webhook(self, request: Request) -> Response:
        gate = await self._gate(request)
        if isinstance(gate, Response):
            return gate
        store, lang = gate
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return validation_error({"body": ["The body must be JSON."]})
        if not isinstance(payload, dict):
            return validation_error({"body": ["The body must be a JSON object."]})
        errors: dict[str, list[str]] = {}
        name, url, events = payload.get("name"), payload.get("url"), payload.get("events")
        if not isinstance(name, str) or not name.strip():
            errors["name"] = ["The name field is required."]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            errors["url"] = ["The url must be a valid URL."]
        if not isinstance(events, list) or not events:
            errors["events"] = ["The events field is required."]
        elif unknown := [e for e in events if e not in KNOWN_EVENTS]:
            errors["events"] = [f"Unknown events: {', '.join(map(str, unknown))}."]
        if len(store.webhooks) >= self.config.webhook_capacity:
            errors["url"] = [f"Webhook capacity of {self.config.webhook_capacity} reached."]
        if errors:
            return validation_error(errors)
        assert isinstance(name, str) and isinstance(url, str) and isinstance(events, list)
        hook = store.add_webhook(name, url, [str(e) for e in events])
        body = {"status": "success", "message": MESSAGES["webhook"][lang], "data": hook}
        return self._ok(request, body, 201)

    async def delete_webhook(self, request: Request) -> Response:
        gate = await self._gate(request)
        if isinstance(gate, Response):
            return gate
        store, lang = gate
        with store.lock:
            if store.webhooks.pop(_ident(request), None) is None:
                return error(404, "Not found")
        return self._ok(
            request, {"status": "success", "message": MESSAGES["webhook"][lang], "data": None}
        )

    # Operator endpoints (not part of the Tjar API)

    async def health(self, request: Request) -> Response:
        return json_response({"status": "ok", "stores": sorted(self.stores), **self.stats})

    async def list_stores(self, request: Request) -> Response:
        return json_response(
            [
                {
                    "slug": slug,
                    "timezone": s.spec.timezone,
                    "orders": s.order_count,
                    "products": len(s.product_indexes()),
                    "base_path": API.format(slug=slug),
                }
                for slug, s in self.stores.items()
            ]
        )


class ConnectionBroken(Exception):
    """Raised mid-body on purpose: the server drops the connection half-way (a reset)."""


def _broken_response(payload: bytes, status: int, headers: dict[str, str] | None) -> Response:
    async def half_then_break() -> AsyncIterator[bytes]:
        yield payload[: len(payload) // 2]
        raise ConnectionBroken("simulated connection reset")

    length = {"content-length": str(len(payload))}
    return StreamingResponse(
        half_then_break(),
        status,
        headers={**(headers or {}), **length},
        media_type="application/json",
    )


def _int_param(request: Request, name: str, default: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return None


def _ident(request: Request) -> int:
    try:
        return int(request.path_params["ident"])
    except ValueError:
        return -1
