"""Dagster resources: configuration only; the client and the lake do the work."""

from __future__ import annotations

import os
from functools import lru_cache

import dagster as dg
from pydantic import Field

from tjar_pipelines.client import ClientSettings, TjarClient
from tjar_pipelines.lake.files import Lake
from tjar_pipelines.lake.warehouse import Warehouse
from tjar_pipelines.stores import Registry, load_registry


@lru_cache(maxsize=8)
def _registry(path: str, mtime_ns: int) -> Registry:
    return load_registry(path)


class TjarResource(dg.ConfigurableResource):
    """Access to every Tjar store of the registry; :meth:`get_client` gives one store's client.

    API keys are read from the environment variables the registry names, when a client is
    made, so they never enter the run config, logs or metadata.
    """

    stores_file: str = Field(
        default="stores.yaml", description="Path of the store registry (stores.yaml)."
    )
    requests_per_second: float = Field(
        default=10.0,
        description="Requests per second per store until the store advertises its own limit.",
    )
    burst: int = Field(default=10, description="Requests per store that may go back to back.")
    rate_limit_window: float = Field(
        default=60.0, description="Seconds a store's X-RateLimit-Limit counts over."
    )
    per_page: int = Field(default=100, description="Page size asked for (stores may clamp it).")
    max_attempts: int = Field(default=6, description="Sends per request before the run fails.")
    read_timeout: float = Field(default=30.0, description="Seconds to wait for an answer.")
    max_concurrent_stores: int = Field(
        default=16, description="Stores of one run that are read at the same time."
    )

    def registry(self) -> Registry:
        path = os.fspath(self.stores_file)
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            mtime = 0
        return _registry(path, mtime)

    def client_settings(self) -> ClientSettings:
        return ClientSettings(
            requests_per_second=self.requests_per_second,
            burst=self.burst,
            rate_limit_window=self.rate_limit_window,
            per_page=self.per_page,
            max_attempts=self.max_attempts,
            read_timeout=self.read_timeout,
        )

    def get_client(self, slug: str) -> TjarClient:
        """A client of store ``slug``; use it as a context manager.

        Raises:
            RegistryError: The store is not in the registry.
            MissingSecretError: Its API key variable is not set.
        """
        store = self.registry().get(slug)
        return TjarClient(store.connection(), store.client_settings(self.client_settings()))


class LakeResource(dg.ConfigurableResource):
    """The Parquet lake and the DuckDB database of views over it, under one data directory."""

    data_dir: str = Field(default="data", description="Root of the lake and of tjar.duckdb.")

    def lake(self) -> Lake:
        return Lake(self.data_dir)

    def warehouse(self) -> Warehouse:
        return Warehouse(self.lake())
