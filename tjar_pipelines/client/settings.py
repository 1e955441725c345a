"""How the client reaches one store, and the tunables where Tjar's docs are silent (§15)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tjar_pipelines.client.secret import Secret

Language = Literal["en", "ar"]
OnTotalMismatch = Literal["error", "warn"]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def check_timezone(name: str, store: str) -> None:
    """Raises a clear ``ValueError`` unless ``name`` is an IANA time zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"store {store}: timezone {name!r} is not an IANA time zone name "
            "(for example Asia/Riyadh)"
        ) from exc


def default_base_url(domain: str) -> str:
    """The documented API base of a store: ``https://{domain}/api/core/v1``."""
    return f"https://{domain.strip().rstrip('/')}/api/core/v1"


@dataclass(frozen=True, slots=True)
class StoreConnection:
    """Everything needed to call one store.

    Attributes:
        slug: Short stable name of the store, used in logs, errors and partition keys.
        base_url: API base, ``https://{domain}/api/core/v1`` unless overridden.
        api_key: The store's API key (never printed).
        api_key_env: Name of the environment variable the key came from, so errors can say
            which variable to fix. ``None`` when the key was passed in code.
        language: ``Accept-Language`` sent to the store; localized fields follow it.
        timezone: IANA zone the store writes its timestamps and date filters in.
    """

    slug: str
    base_url: str
    api_key: Secret
    api_key_env: str | None = None
    language: Language = "en"
    timezone: str = "Asia/Riyadh"

    def __post_init__(self) -> None:
        if not _SLUG.match(self.slug):
            raise ValueError(
                f"store slug {self.slug!r} is invalid: use 1-63 characters of a-z, 0-9, '_' "
                "or '-', starting with a letter or digit"
            )
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"store {self.slug}: base_url {self.base_url!r} must start with https:// "
                "(or http:// for a local simulator)"
            )
        if self.language not in ("en", "ar"):
            raise ValueError(f"store {self.slug}: language must be 'en' or 'ar'")
        check_timezone(self.timezone, self.slug)


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Tunables of the client. Defaults follow §15 of the API notes; all can change per store.

    Attributes:
        per_page: Page size asked for. The server may clamp it; the client notices and adapts.
        connect_timeout: Seconds to open a connection.
        read_timeout: Seconds to wait for a response once the request is sent.
        max_connections: Pooled connections to the store.
        max_attempts: Sends per request before a typed error is raised (1 = no retry).
        backoff_base: First backoff in seconds; doubles each attempt, with full jitter.
        backoff_cap: Longest single backoff in seconds.
        max_retry_after: Longest ``Retry-After`` honoured, in seconds; longer waits fail fast.
        requests_per_second: Request rate until the store advertises its own limit.
        burst: Requests that may go out back to back (no more than the store's limit, once
            it says it).
        rate_limit_window: Seconds that ``X-RateLimit-Limit`` counts over (Laravel: 60).
        page_param: Name of the page-number query parameter.
        per_page_param: Name of the page-size query parameter.
        date_from_param: Name of the inclusive first-day filter.
        date_to_param: Name of the inclusive last-day filter.
        live_window_days: A date window ending this many days before the store's today or
            later can still receive new orders, so its scan is re-checked at the head.
        max_consistency_rounds: Re-scans allowed when the reported total does not add up.
        on_total_mismatch: ``error`` fails the scan if the total still disagrees after the
            re-scans; ``warn`` logs and returns what was read.
        max_pages: Safety stop for one scan, against a server that never ends its pages.
        prefetch: Request the next page while the current one is being processed, when the
            store says (or a full page suggests) there is one.
    """

    per_page: int = 100
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_connections: int = 8
    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_retry_after: float = 300.0
    requests_per_second: float = 10.0
    burst: int = 10
    rate_limit_window: float = 60.0
    page_param: str = "page"
    per_page_param: str = "per_page"
    date_from_param: str = "date_from"
    date_to_param: str = "date_to"
    live_window_days: int = 1
    max_consistency_rounds: int = 4
    on_total_mismatch: OnTotalMismatch = "error"
    max_pages: int = 100_000
    prefetch: bool = True
    extra_headers: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if not 0 < self.requests_per_second < math.inf or self.burst < 1:
            raise ValueError("requests_per_second must be > 0 (and finite) and burst >= 1")
        if self.on_total_mismatch not in ("error", "warn"):
            raise ValueError("on_total_mismatch must be 'error' or 'warn'")
        positive = ("connect_timeout", "read_timeout", "rate_limit_window")
        at_least_one = ("per_page", "max_attempts", "max_connections", "max_pages")
        not_negative = (
            "backoff_base", "backoff_cap", "max_retry_after", "live_window_days",
            "max_consistency_rounds",
        )  # fmt: skip
        for name in (*positive, *not_negative):
            if getattr(self, name) == math.inf:  # "wait for ever" hangs a run: say a number
                raise ValueError(f"{name} must be a finite number")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be more than 0")
        for name in at_least_one:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in not_negative:
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("page_param", "per_page_param", "date_from_param", "date_to_param"):
            if not getattr(self, name).strip():
                raise ValueError(f"{name} must name a query parameter")
