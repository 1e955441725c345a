"""The webhook receiver: verifies each delivery, stores it durably, then answers 2xx.

Answers: 200 once stored (also for a delivery already stored: Tjar may send one twice),
401 bad or missing signature, 404 unknown store, 413 body over the limit, 408 body not sent
within the time limit, 400 not JSON or no
``id``/``event``/``data``, 503 when the store's webhook secret is not configured here (so Tjar
retries once it is). Every rejection is logged without secrets or bodies and counted on
``GET /healthz``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import threading
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tjar_pipelines.stores import MissingSecretError, Registry
from tjar_pipelines.webhooks.queue import NewEvent, WebhookQueue

log = logging.getLogger("tjar_pipelines.webhooks")

MAX_BODY = 1024 * 1024
BODY_TIMEOUT = 10.0
MAX_BATCH = 512

_Item = tuple[NewEvent, asyncio.Future[bool], asyncio.AbstractEventLoop]


class BatchWriter:
    """Appends deliveries from one thread, committing whatever has piled up in one transaction.

    Each caller awaits the commit of its own delivery, so a 2xx always follows an fsync, while
    concurrent deliveries share one fsync instead of paying one each.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._items: queue.Queue[_Item | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> None:
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="webhook-writer", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._thread is not None:
            self._items.put(None)
            self._thread.join(timeout=30)

    async def append(self, event: NewEvent) -> bool:
        if self._thread is None or not self._thread.is_alive():
            raise RuntimeError("the webhook queue writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._items.put((event, future, loop))
        return await future

    def _run(self) -> None:
        try:
            store = WebhookQueue(self._path)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        with store:
            while True:
                first = self._items.get()
                if first is None:
                    return
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        item = self._items.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        self._items.put(None)
                        break
                    batch.append(item)
                try:
                    fresh = store.append([event for event, _, _ in batch])
                except Exception as exc:  # the callers answer 503 and Tjar retries
                    log.exception("webhook queue write failed")
                    for _, future, loop in batch:
                        _dispatch(loop, future, None, exc)
                    continue
                for (_, future, loop), new in zip(batch, fresh, strict=True):
                    _dispatch(loop, future, new, None)


def _dispatch(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[bool],
    result: bool | None,
    error: BaseException | None,
) -> None:
    try:
        loop.call_soon_threadsafe(_settle, future, result, error)
    except RuntimeError:  # that caller's event loop is gone; the delivery is stored anyway
        pass


def _settle(future: asyncio.Future[bool], result: bool | None, error: BaseException | None) -> None:
    if future.done():  # the client went away; the delivery is stored all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(bool(result))


def create_app(
    registry: Registry,
    queue_path: Path,
    *,
    max_body: int = MAX_BODY,
    body_timeout: float = BODY_TIMEOUT,
) -> Starlette:
    """The receiver for the stores of ``registry``, storing into the queue at ``queue_path``.

    Args:
        registry: The stores whose deliveries are accepted.
        queue_path: The SQLite queue file.
        max_body: Larger bodies are answered 413.
        body_timeout: Seconds a client may take to send its body before a 408 (slow clients).
    """
    stores = {s.slug: s for s in registry.stores}
    writer = BatchWriter(queue_path)
    counts: Counter[str] = Counter()

    def reject(status: int, reason: str, slug: str, request: Request) -> JSONResponse:
        counts[reason] += 1
        log.warning(
            "webhook rejected: %s (%d) store=%s delivery=%s",
            reason,
            status,
            slug if slug in stores else repr(slug[:64]),  # the sender's text: no raw newlines
            request.headers.get("x-tjar-delivery", "-")[:64],
        )
        return JSONResponse({"status": "rejected", "reason": reason}, status)

    async def receive(request: Request) -> JSONResponse:
        slug = request.path_params["slug"]
        store = stores.get(slug)
        if store is None:
            return reject(404, "unknown_store", slug, request)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body:
            return reject(413, "too_large", slug, request)
        body = bytearray()
        try:
            async with asyncio.timeout(body_timeout):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > max_body:
                        return reject(413, "too_large", slug, request)
        except TimeoutError:
            return reject(408, "slow_body", slug, request)
        try:
            secret = store.webhook_secret()
        except MissingSecretError as exc:
            counts["no_secret"] += 1
            log.error("webhook for store %s cannot be verified: %s", slug, exc)
            return JSONResponse({"status": "unavailable", "reason": "no_secret"}, 503)
        if not store.signature.verify(
            secret.reveal(), bytes(body), request.headers.get(store.signature.header)
        ):
            return reject(401, "bad_signature", slug, request)
        try:
            text = body.decode("utf-8")  # what is stored and later parsed: UTF-8, no BOM
            payload = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            return reject(400, "not_json", slug, request)
        delivery = payload.get("id") if isinstance(payload, dict) else None
        event = payload.get("event") if isinstance(payload, dict) else None
        if (
            not isinstance(delivery, str | int)
            or isinstance(delivery, bool)
            or not str(delivery).strip()
            or not isinstance(event, str)
            or not event
            or not isinstance(payload.get("data"), dict)
        ):
            return reject(400, "missing_fields", slug, request)
        try:
            fresh = await writer.append(NewEvent(slug, str(delivery), event, text))
        except Exception:
            counts["store_failed"] += 1
            return JSONResponse({"status": "unavailable", "reason": "store_failed"}, 503)
        counts["stored" if fresh else "duplicate"] += 1
        return JSONResponse({"status": "stored" if fresh else "duplicate"})

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "stores": len(stores), "counts": dict(counts)})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(writer.start)
        try:
            yield
        finally:
            await asyncio.to_thread(writer.stop)

    app = Starlette(
        routes=[
            Route("/webhooks/tjar/{slug}", receive, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.counts = counts
    return app


def app_from_env() -> Starlette:
    """The receiver configured from ``TJAR_STORES_FILE`` and ``TJAR_DATA_DIR`` (for uvicorn)."""
    from tjar_pipelines.settings import Settings
    from tjar_pipelines.stores import load_registry

    settings = Settings.from_env()
    return create_app(load_registry(settings.stores_file), settings.queue_path)
