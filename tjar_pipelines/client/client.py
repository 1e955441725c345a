"""The Tjar API client of one store."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import platform
import random
import ssl
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal, overload
from urllib.parse import quote

import httpx

from tjar_pipelines import __version__
from tjar_pipelines.client.errors import TjarError, TjarPaginationError, TjarResponseError
from tjar_pipelines.client.pagination import Page, PageShapeError, parse_page
from tjar_pipelines.client.prefetch import Prefetcher
from tjar_pipelines.client.ratelimit import SHARED_BUCKETS, BucketRegistry, Sleep, TokenBucket
from tjar_pipelines.client.raw_records import RawRecord, decode_list_body
from tjar_pipelines.client.records import (
    Order,
    Product,
    Webhook,
    local_date,
    record_identifier,
)
from tjar_pipelines.client.retrying import Params, Requester, RequestStats, store_says
from tjar_pipelines.client.seen import SeenIds
from tjar_pipelines.client.settings import ClientSettings, StoreConnection

log = logging.getLogger("tjar_pipelines.client")

USER_AGENT = (
    f"tjar-pipelines/{__version__} (+https://github.com/tjar-pipelines/tjar_pipelines) "
    f"httpx/{httpx.__version__} python/{platform.python_version()}"
)

_CLAMPS_SEEN: set[tuple[str, str, int]] = set()
# What a store may answer for a page past the end of a list instead of an empty one: read as
# the end where the pages do not say how many there are.
PAST_END_STATUSES = frozenset({400, 404, 422})

WEBHOOK_EVENTS = (
    "order.created",
    "order.updated",
    "order.status.updated",
    "order.cancelled",
    "product.created",
    "product.updated",
    "product.deleted",
)


@dataclass(frozen=True, slots=True)
class ScanResult:
    """How the last list scan went.

    Attributes:
        distinct: Distinct records returned.
        reported_total: The ``total`` the store reported at the end (``None`` if it never does).
        pages: Pages read, re-reads included.
    """

    distinct: int
    reported_total: int | None
    pages: int


@dataclass(slots=True)
class _Totals:
    """The ``total`` a store reported on the first and on the last page of one pass.

    ``lowest`` is the lowest it reported on any page: below ``first`` when records were deleted
    during the pass.
    """

    first: int | None = None
    last: int | None = None
    lowest: int | None = None
    pages: int = 0

    @property
    def shrank(self) -> bool:
        """Whether records were deleted during the pass.

        The records after a deleted one moved up a page, so one may have slipped past the
        reader, while a deleted record read earlier still counts.
        """
        return self.first is not None and self.lowest is not None and self.lowest < self.first


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The TLS settings of every client: httpx's defaults, built once per process.

    Building them takes about 20 ms of CPU, and a sync opens a client per store and run.
    """
    return httpx.create_ssl_context()


class TjarClient:
    """Calls one store's API: paging, rate limiting, retries and parsing.

    Use it as a context manager (or call :meth:`close`) so its pooled connections are released.

    Example:
        >>> with TjarClient(connection) as client:
        ...     for order in client.iter_orders(dt.date(2026, 5, 1), dt.date(2026, 5, 31)):
        ...         print(order.identifier, order.total_amount)
    """

    def __init__(
        self,
        connection: StoreConnection,
        settings: ClientSettings | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Sleep = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        rng: random.Random | None = None,
        buckets: BucketRegistry = SHARED_BUCKETS,
    ) -> None:
        self.connection = connection
        self.settings = settings = settings or ClientSettings()
        self._now = now
        # The page size each list (path) turned out to serve, where it clamps per_page.
        self._page_sizes: dict[str, int] = {}
        self.last_scan: ScanResult | None = None
        """Set when a list scan (``iter_orders``, ``iter_products``…) has been read to the end."""
        headers = {
            "Accept": "application/json",
            "Accept-Language": connection.language,
            "User-Agent": USER_AGENT,
            **dict(settings.extra_headers),
            "Authorization": f"Bearer {connection.api_key.reveal()}",
        }
        self._http = httpx.Client(
            base_url=connection.base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_connections,
            ),
            transport=transport,
            verify=_tls_context(),
        )
        bucket = buckets.get(
            f"{connection.slug}|{connection.base_url}",
            lambda: TokenBucket(
                rate=settings.requests_per_second,
                burst=settings.burst,
                window=settings.rate_limit_window,
                clock=clock,
                sleep=sleep,
            ),
        )
        self._requester = Requester(connection, settings, self._http, bucket, sleep=sleep, rng=rng)

    def __repr__(self) -> str:
        return f"TjarClient(store={self.connection.slug!r}, base_url={self.connection.base_url!r})"

    def __enter__(self) -> TjarClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def stats(self) -> RequestStats:
        """Requests, retries and 429s of this client so far."""
        return self._requester.stats

    @property
    def store(self) -> str:
        return self.connection.slug

    def store_today(self) -> dt.date:
        """Today's date in the store's time zone."""
        today = local_date(self._now(), self.connection.timezone)
        assert today is not None
        return today

    # Orders

    def iter_orders(self, date_from: dt.date, date_to: dt.date) -> Iterator[Order]:
        """Every order created from ``date_from`` to ``date_to`` (inclusive, store-local days).

        Each order is yielded exactly once, even when the store receives orders while the pages
        are read (see :meth:`iter_raw`).

        Raises:
            ValueError: ``date_to`` is before ``date_from``.
            TjarError: The store could not be read completely.
        """
        fallback = date_from if date_from == date_to else None
        undated = 0
        for item in self.iter_order_payloads(date_from, date_to):
            order = self._order(item, fallback)
            undated += order.created_at is None
            yield order
        if undated:
            log.warning(
                "store %s: %d orders of %s..%s have no readable created_at; their order_date is %s",
                self.store,
                undated,
                date_from,
                date_to,
                f"the window's day {fallback}" if fallback else "unknown (None)",
            )

    def iter_order_payloads(self, date_from: dt.date, date_to: dt.date) -> Iterator[dict[str, Any]]:
        """The orders of :meth:`iter_orders` as the store's JSON objects, decoded, not parsed.

        Each object has a usable ``identifier`` (or ``id``).

        Raises:
            ValueError: ``date_to`` is before ``date_from``.
            TjarError: The store could not be read completely.
        """
        params, live = self._order_scan(date_from, date_to)
        return self.iter_raw("/orders", "orders", params=params, live=live)

    def iter_order_records(self, date_from: dt.date, date_to: dt.date) -> Iterator[RawRecord]:
        """The orders of :meth:`iter_orders` as the JSON the store sent, barely decoded.

        For bulk loads that parse many orders at once (the lake does it in DuckDB); each
        record has a usable ``identifier`` (or ``id``). See
        :mod:`tjar_pipelines.client.raw_records`.

        Raises:
            ValueError: ``date_to`` is before ``date_from``.
            TjarError: The store could not be read completely.
        """
        params, live = self._order_scan(date_from, date_to)
        return self.iter_raw("/orders", "orders", params=params, live=live, records=True)

    def _order_scan(self, date_from: dt.date, date_to: dt.date) -> tuple[Params, bool]:
        """The filters of ``GET /orders`` for the days, and whether orders can still arrive."""
        if date_to < date_from:
            raise ValueError(
                f"store {self.store}: date_to {date_to} is before date_from {date_from}"
            )
        params = {
            self.settings.date_from_param: date_from.isoformat(),
            self.settings.date_to_param: date_to.isoformat(),
        }
        live = date_to >= self.store_today() - dt.timedelta(days=self.settings.live_window_days)
        return params, live

    def get_order(self, order_identifier: str | int) -> Order:
        """One order by its ``identifier``.

        Raises:
            TjarNotFoundError: No such order in this store.
            TjarResponseError: The store's answer holds no order with an identifier.
        """
        return self._order(self._get_record(f"/orders/{_segment(order_identifier)}"), None)

    # Products

    def iter_products(self, *, filters: Params | None = None) -> Iterator[Product]:
        """Every product of the store, each exactly once.

        Args:
            filters: Extra query parameters of ``GET /products`` (``search``, ``is_published``…).
        """
        for item in self.iter_raw("/products", "products", params=filters or {}, live=True):
            yield self._product(item)

    def get_product(self, product_identifier: str | int) -> Product:
        """One product by its ``identifier``.

        Raises:
            TjarNotFoundError: No such product in this store.
            TjarResponseError: The store's answer holds no product with an identifier.
        """
        return self._product(self._get_record(f"/products/{_segment(product_identifier)}"))

    # Webhooks

    def list_webhooks(self) -> list[Webhook]:
        """The store's webhook subscriptions."""
        return [
            Webhook.from_api(item)
            for item in self.iter_raw("/webhooks", "webhooks", params={}, live=False)
        ]

    def register_webhook(
        self, *, name: str, url: str, events: Sequence[str] = WEBHOOK_EVENTS
    ) -> Webhook:
        """Subscribes ``url`` to ``events``; the result carries the secret if Tjar sends one.

        Raises:
            TjarValidationError: The store refused it (bad URL, unknown event, capacity reached).
        """
        body = self._requester.request(
            "POST", "/webhooks", json_body={"name": name, "url": url, "events": list(events)}
        )
        return Webhook.from_api(self._data_object(body, "POST", "/webhooks"))

    def delete_webhook(self, webhook_identifier: str | int) -> None:
        """Removes a webhook subscription."""
        self._requester.request("DELETE", f"/webhooks/{_segment(webhook_identifier)}")

    # Paging

    @overload
    def iter_raw(
        self,
        path: str,
        list_key: str,
        *,
        params: Params,
        live: bool,
        records: Literal[False] = False,
    ) -> Iterator[dict[str, Any]]: ...

    @overload
    def iter_raw(
        self, path: str, list_key: str, *, params: Params, live: bool, records: Literal[True]
    ) -> Iterator[RawRecord]: ...

    def iter_raw(
        self, path: str, list_key: str, *, params: Params, live: bool, records: bool = False
    ) -> Iterator[Any]:
        """Every record of a paged list, each exactly once, as the store's JSON objects.

        Page numbers are not a stable cursor: a record created while the pages are read pushes
        older ones onto later pages, and a record that moves up the list (if the store sorts by
        something that changes) can slip past the reader. So records are de-duplicated by
        ``identifier``, and when the store reports a ``total`` the scan is checked against it:

        * every record the store held when a pass began must have been read, which holds when
          the distinct records read reach the total reported on the pass's first page (records
          read in a pass all existed by then, as new records sort to the head);
        * if records arrived during the pass, the head of the list is read once more to pick
          them up (records arriving faster than that are left to the next sync);
        * if records that existed are missing, the head and then the whole list are read again,
          up to ``max_consistency_rounds`` times, before :class:`TjarPaginationError`;
        * if the total went down during a pass (records deleted), the count proves nothing
          (a deleted record read before still counts, and the records after it moved up a
          page, so one may have slipped past): the whole list is read again, until a pass
          sees no deletion. A deletion and an arrival between the same two pages leave the
          total as it was and go unseen; a record they made slip is read by the next sync.

        Without a ``total``, a ``live`` list (one that can still grow) has its head re-read once;
        a deletion then gives no sign, and a record it made slip is read by the next sync.

        Args:
            path: List endpoint, e.g. ``/orders``.
            list_key: Key of the records inside ``data``.
            params: Filters sent with every page.
            live: Whether records can appear in this list while it is read.
            records: Yield :class:`RawRecord` objects instead of decoded dicts.

        Raises:
            TjarPaginationError: The pages do not add up, so records could be missing.
        """
        self.last_scan = None
        seen = SeenIds()
        pages = 0

        def read(head_only: bool) -> Generator[Any, None, _Totals]:
            nonlocal pages
            totals = yield from self._read_pages(
                path, list_key, params, seen, head_only=head_only, records=records
            )
            pages += totals.pages
            self.last_scan = ScanResult(len(seen), totals.last, pages)
            return totals

        totals = yield from read(False)
        if totals.first is None or totals.last is None:
            if live:
                yield from read(True)
            return
        rounds = 0
        while rounds < self.settings.max_consistency_rounds and (
            totals.shrank or (totals.last is not None and len(seen) < totals.last)
        ):
            # Everything that existed when the pass began was read: only arrivals are missing,
            # and they sort to the head. Otherwise rows slipped past: read the head, then all.
            complete = totals.first is not None and len(seen) >= totals.first
            head_only = not totals.shrank and (complete or rounds == 0)
            log.info(
                "store %s: %s changed while it was read (%d read, total %s%s); re-reading %s",
                self.store,
                path,
                len(seen),
                totals.last,
                f", down from {totals.first}" if totals.shrank else "",
                "the head" if head_only else "everything",
            )
            totals = yield from read(head_only)
            rounds += 1
        if not totals.shrank and (totals.first is None or len(seen) >= totals.first):
            return
        problem = (
            f"read {len(seen)} distinct records but the store reports total {totals.first} "
            f"after {rounds} re-reads"
            if not totals.shrank
            else f"records were deleted while the list was read, in all {rounds + 1} passes"
        )
        if self.settings.on_total_mismatch == "error":
            raise TjarPaginationError(
                problem,
                store=self.store,
                method="GET",
                path=path,
                advice="Run again; if it persists and the store's total is known to be "
                "unreliable, add 'client: {on_total_mismatch: warn}' to its entry in "
                "stores.yaml (a scan that does not add up then replaces the window's slices "
                "with what it read, so compare a day with the store's dashboard first).",
            )
        log.warning("store %s: GET %s: %s", self.store, path, problem)

    def _read_pages(
        self,
        path: str,
        list_key: str,
        params: Params,
        seen: SeenIds,
        *,
        head_only: bool,
        records: bool,
    ) -> Generator[Any, None, _Totals]:
        """Reads pages from the first on; returns the totals the store reported on the way.

        A ``head_only`` read stops at the first page that holds nothing new.
        """
        settings = self.settings
        requested = settings.per_page
        totals = _Totals()
        decode = (
            functools.partial(decode_list_body, list_key=list_key, store=self.store)
            if records
            else None
        )

        def fetch(number: int) -> tuple[Params, dict[str, Any]]:
            query = {**params, settings.page_param: number, settings.per_page_param: requested}
            return query, self._requester.request("GET", path, params=query, decode=decode)

        pool = Prefetcher()
        try:
            return (
                yield from self._page_loop(
                    path, list_key, fetch, pool, seen, totals, head_only=head_only
                )
            )
        finally:
            # A consumer that stops early must not wait for a prefetch and its retries.
            pool.shutdown()

    def _page_loop(
        self,
        path: str,
        list_key: str,
        fetch: Callable[[int], tuple[Params, dict[str, Any]]],
        pool: Prefetcher,
        seen: SeenIds,
        totals: _Totals,
        *,
        head_only: bool,
    ) -> Generator[Any, None, _Totals]:
        settings = self.settings
        requested = settings.per_page
        previous_ids: list[str] | None = None
        probe_size: int | None = None
        probe_stale = False  # a page after a short one held nothing new
        repeats = 0
        counted = False  # the page before said whether more pages follow
        ahead: Future[tuple[Params, dict[str, Any]]] | None = None
        for page_number in range(1, settings.max_pages + 1):
            try:
                query, body = ahead.result() if ahead is not None else fetch(page_number)
            except TjarError as exc:
                if page_number == 1 or counted or exc.status not in PAST_END_STATUSES:
                    raise
                answer = self._past_end(fetch, page_number, path)
                if answer is None:
                    return totals
                query, body = answer
            ahead = None
            try:
                page = parse_page(body, list_key)
            except PageShapeError as exc:
                raise self._bad_body(path, query, f"{exc}{self._store_says(body)}") from exc
            totals.pages += 1
            if (
                settings.prefetch
                and not head_only
                and _more_expected(page, page_number, self._page_sizes.get(path, requested))
            ):
                # Overlap the store's work on the next page with ours on this one; if this
                # page turns out to be the last after all, one request was spent for nothing.
                ahead = pool.submit(fetch, page_number + 1)
            if page.total is not None:
                totals.last = page.total
                if totals.first is None:
                    totals.first = page.total
                if totals.lowest is None or page.total < totals.lowest:
                    totals.lowest = page.total
            ids: list[str] = []
            fresh = 0
            for item in page.items:
                ident = item.identifier if isinstance(item, RawRecord) else record_identifier(item)
                if ident is None:
                    raise self._bad_body(
                        path, query, f"a record of data.{list_key} has no identifier"
                    )
                ids.append(ident)
                if ident not in seen:
                    seen.add(ident)
                    fresh += 1
                    yield item
            # The same rows as the page before: either exactly a page of new records arrived
            # (a legal shift) or the store ignores `page`. A store that reports which page it
            # served settles it; otherwise only the latter keeps repeating.
            repeats = repeats + 1 if ids and ids == previous_ids else 0
            if page.current_page is not None:
                ignored = repeats > 0 and page.current_page != page_number
            else:
                ignored = repeats >= 3
            if ignored:
                raise TjarPaginationError(
                    f"page {page_number} holds the same records as the page before it",
                    store=self.store,
                    method="GET",
                    path=path,
                    advice=f"The store seems to ignore the '{settings.page_param}' parameter; "
                    "set its name as page_param under 'client:' in the store's entry of "
                    "stores.yaml.",
                )
            previous_ids = ids
            counted = page.last_page is not None or page.has_next is not None
            count = len(page.items)
            if page.per_page is not None and page.per_page < requested:
                self._learn_page_size(path, page.per_page, requested)
            if count == 0:
                return totals
            if probe_size is not None:
                # Nothing new after a short page: the store answers past the end with its last
                # page again, or exactly a page of arrivals shifted the list. Twice in a row
                # is the end; new records on the next page mean the server clamps per_page.
                if fresh == 0:
                    if probe_stale:
                        return totals
                    probe_stale = True
                else:
                    self._learn_page_size(path, probe_size, requested)
                    probe_size, probe_stale = None, False
            if head_only and fresh == 0:
                return totals
            if page.last_page is not None:
                if (page.current_page or page_number) >= page.last_page:
                    return totals
            elif page.has_next is not None:
                if not page.has_next:
                    return totals
            else:
                size = page.per_page or self._page_sizes.get(path)
                if size is not None:
                    if count < size:
                        return totals
                elif count < requested:
                    probe_size = count  # the end, or a silent clamp: the next page tells
        raise TjarPaginationError(
            f"more than max_pages={settings.max_pages} pages",
            store=self.store,
            method="GET",
            path=path,
            advice="The store never ended the list; if it really is that long, raise "
            "max_pages under 'client:' in the store's entry of stores.yaml.",
        )

    def _past_end(
        self, fetch: Callable[[int], tuple[Params, dict[str, Any]]], number: int, path: str
    ) -> tuple[Params, dict[str, Any]] | None:
        """Page ``number`` asked again after a 400, 404 or 422, or ``None`` for the end.

        Past the end of a list whose pages do not say how many there are, a store may answer
        an error instead of an empty list (§15 does not know which). Asked once more (a store
        being deployed may answer a 404 for a moment), a 400, 404 or 422 again is the end.
        """
        try:
            return fetch(number)
        except TjarError as again:
            if again.status not in PAST_END_STATUSES:
                raise
            log.warning(
                "store %s: GET %s: page %d answered %s twice; taken as the end of the list (its "
                "pages do not say how many there are: a store that limits how deep it pages "
                "would look the same)",
                self.store,
                path,
                number,
                again.problem,
            )
            return None

    def _learn_page_size(self, path: str, size: int, requested: int) -> None:
        if self._page_sizes.get(path) != size:
            # Once per process, store and list at WARNING: every run of a clamping store sees it.
            first_time = (self.store, path, size) not in _CLAMPS_SEEN
            _CLAMPS_SEEN.add((self.store, path, size))
            log.log(
                logging.WARNING if first_time else logging.DEBUG,
                "store %s serves at most %d records per page of %s (asked for %d); paging by %d",
                self.store,
                size,
                path,
                requested,
                size,
            )
            self._page_sizes[path] = size

    # Parsing

    def _get_object(self, path: str) -> Mapping[str, Any]:
        return self._data_object(self._requester.request("GET", path), "GET", path)

    def _get_record(self, path: str) -> Mapping[str, Any]:
        """The data object of ``GET path``, an order or a product: it must have an identifier."""
        data = self._get_object(path)
        if record_identifier(data) is None:
            raise self._changed_shape("the record has no identifier (nor id)", "GET", path)
        return data

    def _data_object(self, body: Mapping[str, Any], method: str, path: str) -> Mapping[str, Any]:
        data = body.get("data")
        if not isinstance(data, Mapping):
            raise self._changed_shape(
                "the answer has no data object" + self._store_says(body), method, path
            )
        return data

    def _store_says(self, body: Mapping[str, Any]) -> str:
        """What a 2xx answer that reports an error says, its key masked; else nothing.

        Some stores answer 200 with ``{"status": "error", "message": ...}``.
        """
        if body.get("status") != "error":
            return ""
        return store_says(body, self.connection.api_key.reveal())

    def _changed_shape(self, problem: str, method: str, path: str) -> TjarResponseError:
        return TjarResponseError(
            problem,
            store=self.store,
            method=method,
            path=path,
            advice="The store's answer changed shape; report it with the store's response.",
        )

    def _bad_body(self, path: str, query: Params, problem: str) -> TjarResponseError:
        return TjarResponseError(
            problem,
            store=self.store,
            method="GET",
            path=f"{path}?{httpx.QueryParams(dict(query))}",
            advice="The store's list answer changed shape; report it with the store's response.",
        )

    def _order(self, payload: Mapping[str, Any], fallback: dt.date | None) -> Order:
        return Order.from_api(
            payload,
            store=self.store,
            timezone=self.connection.timezone,
            fallback_date=fallback,
        )

    def _product(self, payload: Mapping[str, Any]) -> Product:
        return Product.from_api(
            payload,
            store=self.store,
            timezone=self.connection.timezone,
            language=self.connection.language,
        )


def _more_expected(page: Page, number: int, size: int) -> bool:
    if page.last_page is not None:
        return (page.current_page or number) < page.last_page
    if page.has_next is not None:
        return page.has_next
    return len(page.items) >= (page.per_page or size)


def _segment(value: str | int) -> str:
    return quote(str(value), safe="")
