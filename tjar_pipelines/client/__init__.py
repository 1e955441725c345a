"""A client for the Tjar store API (no Dagster here): paging, rate limits, retries, records."""

from tjar_pipelines.client.client import WEBHOOK_EVENTS, TjarClient
from tjar_pipelines.client.errors import (
    TjarAuthError,
    TjarClientRequestError,
    TjarError,
    TjarNotFoundError,
    TjarPaginationError,
    TjarRateLimitError,
    TjarResponseError,
    TjarRetryableError,
    TjarServerError,
    TjarTransportError,
    TjarValidationError,
)
from tjar_pipelines.client.records import Order, OrderItem, Product, Webhook
from tjar_pipelines.client.secret import Secret
from tjar_pipelines.client.settings import ClientSettings, StoreConnection, default_base_url

__all__ = [
    "WEBHOOK_EVENTS",
    "ClientSettings",
    "Order",
    "OrderItem",
    "Product",
    "Secret",
    "StoreConnection",
    "TjarAuthError",
    "TjarClient",
    "TjarClientRequestError",
    "TjarError",
    "TjarNotFoundError",
    "TjarPaginationError",
    "TjarRateLimitError",
    "TjarResponseError",
    "TjarRetryableError",
    "TjarServerError",
    "TjarTransportError",
    "TjarValidationError",
    "Webhook",
    "default_base_url",
]
