"""The one place that reads the process environment for configuration (not secrets)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the registry and the data live, and how far the hourly sync looks back.

    Attributes:
        stores_file: The store registry (``TJAR_STORES_FILE``, default ``stores.yaml``).
        data_dir: Lake and database root (``TJAR_DATA_DIR``, default ``data``).
        lookback_days: Days before today the hourly sync re-reads (``TJAR_LOOKBACK_DAYS``, 3).
        reconcile_days: Days the nightly reconciliation re-reads (``TJAR_RECONCILE_DAYS``, 30).
        run_retries: Dagster retries of a run that failed on transient trouble, after the
            client's own retries (``TJAR_RUN_RETRIES``, 2).
        webhook_retention_days: Days queued webhook events and dead letters are kept
            (``TJAR_WEBHOOK_RETENTION_DAYS``, 7).
        webhook_sensor_interval: Seconds between two ticks of the webhook sensor
            (``TJAR_WEBHOOK_SENSOR_INTERVAL``, 30).
        requests_per_second: Requests per second per store until the store advertises its
            own limit (``TJAR_REQUESTS_PER_SECOND``, 10).
        rate_limit_window: Seconds a store's ``X-RateLimit-Limit`` counts over
            (``TJAR_RATE_LIMIT_WINDOW``, 60 as in Laravel).
        max_concurrent_stores: Stores of one run read and written at the same time
            (``TJAR_MAX_CONCURRENT_STORES``, 16). Each takes its own memory (about 60 MB for
            a large store while its orders are read and written): 1 bounds a sync's memory
            lowest, at the cost of its time.
    """

    stores_file: Path
    data_dir: Path
    lookback_days: int = 3
    reconcile_days: int = 30
    run_retries: int = 2
    webhook_retention_days: int = 7
    webhook_sensor_interval: int = 30
    requests_per_second: float = 10.0
    rate_limit_window: float = 60.0
    max_concurrent_stores: int = 16

    @property
    def queue_path(self) -> Path:
        """The webhook queue, ``{data_dir}/webhooks.sqlite3``."""
        return self.data_dir / "webhooks.sqlite3"

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            stores_file=Path(os.environ.get("TJAR_STORES_FILE", "stores.yaml")),
            data_dir=Path(os.environ.get("TJAR_DATA_DIR", "data")),
            lookback_days=_int_env("TJAR_LOOKBACK_DAYS", 3),
            reconcile_days=_int_env("TJAR_RECONCILE_DAYS", 30),
            run_retries=_int_env("TJAR_RUN_RETRIES", 2),
            webhook_retention_days=_int_env("TJAR_WEBHOOK_RETENTION_DAYS", 7),
            webhook_sensor_interval=_int_env("TJAR_WEBHOOK_SENSOR_INTERVAL", 30),
            requests_per_second=_positive_env("TJAR_REQUESTS_PER_SECOND", 10.0),
            rate_limit_window=_positive_env("TJAR_RATE_LIMIT_WINDOW", 60.0),
            max_concurrent_stores=_int_env("TJAR_MAX_CONCURRENT_STORES", 16, minimum=1),
        )


def _int_env(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r} must be a whole number") from exc
    if value < minimum:
        least = f"at least {minimum}" if minimum else "not negative"
        raise ValueError(f"{name} must be {least}")
    return value


def _positive_env(name: str, default: float) -> float:
    """A rate or a duration: any positive number (``0.5`` requests per second is a real limit)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r} must be a number") from exc
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a positive number")
    return value
