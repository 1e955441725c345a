from __future__ import annotations

import datetime as dt
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from tjar_pipelines.client import ClientSettings, Secret, StoreConnection, TjarClient
from tjar_pipelines.client.ratelimit import BucketRegistry
from tjar_pipelines.simulator import SimulatorConfig, SimulatorServer, StoreSpec
from tjar_pipelines.simulator.store import FIRST_ORDER_ID
from tjar_pipelines.stores import env_name

API_KEY = "tjar_live_9f8e7d6c5b4a39281706"  # looks like a real key, so a leak is easy to spot
KEY_ENV = "TJAR_ACME_API_KEY"
FAST = ClientSettings(requests_per_second=10_000, burst=1_000)


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it; records every sleep."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def spec(slug: str = "acme", **overrides: Any) -> StoreSpec:
    values: dict[str, Any] = {
        "slug": slug,
        "api_key": f"sim-key-{slug}",
        "webhook_secret": f"sim-whsec-{slug}",
        "orders": 300,
        "products": 25,
        "history_days": 20,
    }
    values.update(overrides)
    return StoreSpec(**values)


ANCHOR = dt.datetime(2026, 5, 10, 21, 30, tzinfo=dt.UTC)


def sim_config(*stores: StoreSpec, **overrides: Any) -> SimulatorConfig:
    values: dict[str, Any] = {"stores": stores or (spec(),), "anchor": ANCHOR}
    values.update(overrides)
    return SimulatorConfig(**values)


@pytest.fixture
def simulator() -> Iterator[Callable[..., SimulatorServer]]:
    """Starts simulators on 127.0.0.1 and ephemeral ports; stops them all afterwards."""
    servers: list[SimulatorServer] = []

    def start(config: SimulatorConfig | None = None, **kwargs: Any) -> SimulatorServer:
        server = SimulatorServer(config or sim_config(), **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def sim_client(
    server: SimulatorServer,
    slug: str = "acme",
    *,
    settings: ClientSettings = FAST,
    clock: FakeClock | None = None,
    language: str = "en",
    now: dt.datetime = ANCHOR,
    real_time: bool = False,
) -> TjarClient:
    """A client of one simulated store, with its own rate-limit buckets and fake sleeps (real
    ones with ``real_time``)."""
    store = server.simulator.stores[slug]
    clock = clock or FakeClock()
    connection = StoreConnection(
        slug=slug,
        base_url=server.base_url(slug),
        api_key=Secret(store.spec.api_key),
        api_key_env=f"TJAR_{slug.upper()}_API_KEY",
        language=language,  # type: ignore[arg-type]
        timezone=store.spec.timezone,
    )
    return TjarClient(
        connection,
        settings,
        sleep=time.sleep if real_time else clock.sleep,
        clock=time.monotonic if real_time else clock.monotonic,
        now=lambda: now,
        rng=random.Random(1),
        buckets=BucketRegistry(),
    )


def expected_ids(server: SimulatorServer, slug: str, first: dt.date, last: dt.date) -> set[str]:
    """Orders of the store created on local days ``first..last``, from the raw creation times."""
    store = server.simulator.stores[slug]
    with store.lock:
        created = list(store.created)
    return {
        str(FIRST_ORDER_ID + pos)
        for pos, epoch in enumerate(created)
        if first <= dt.datetime.fromtimestamp(epoch, store.zone).date() <= last
    }


Handler = Callable[[httpx.Request], httpx.Response]


def mock_client(
    handler: Handler,
    *,
    settings: ClientSettings = FAST,
    clock: FakeClock | None = None,
    slug: str = "acme",
) -> TjarClient:
    """A client whose HTTP goes to ``handler`` (httpx.MockTransport) for edge cases."""
    clock = clock or FakeClock()
    connection = StoreConnection(
        slug=slug,
        base_url="https://acme.tjar.sa/api/core/v1",
        api_key=Secret(API_KEY),
        api_key_env=KEY_ENV,
    )
    return TjarClient(
        connection,
        settings,
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
        clock=clock.monotonic,
        rng=random.Random(3),
        buckets=BucketRegistry(),
        now=lambda: ANCHOR,
    )


def orders_page(
    ids: list[int], *, page: int = 1, last_page: int | None = None, total: int | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {"orders": [order_json(i) for i in ids]}
    if last_page is not None:
        data["pagination"] = {
            "current_page": page,
            "last_page": last_page,
            "per_page": 100,
            "total": total if total is not None else len(ids),
        }
    return {"status": "success", "message": "ok", "data": data}


def order_json(ident: int, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": ident,
        "identifier": ident,
        "order_id": f"26{ident:04d}",
        "total_amount": 15.5,
        "status": {"value": "Pending", "label": {"ar": "قيد الانتظار", "en": "Pending"}},
        "created_at": "2026-05-10 12:00:00",
        "updated_at": "2026-05-10 12:30:00",
        "order_details": [],
    }
    body.update(fields)
    return body


class Pipeline:
    """A store registry on a running simulator, its Dagster definitions and a temp data dir."""

    def __init__(self, server: SimulatorServer, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        import yaml

        self.server = server
        self.data_dir = tmp / "data"
        self.stores_file = tmp / "stores.yaml"
        entries = []
        for slug, store in server.simulator.stores.items():
            env = env_name(slug, "API_KEY")
            monkeypatch.setenv(env, store.spec.api_key)
            monkeypatch.setenv(
                env.replace("_API_KEY", "_WEBHOOK_SECRET"), store.spec.webhook_secret
            )
            entries.append(
                {
                    "slug": slug,
                    "domain": store.spec.domain,
                    "api_key_env": env,
                    "webhook_secret_env": env.replace("_API_KEY", "_WEBHOOK_SECRET"),
                    "base_url": server.base_url(slug),
                    "timezone": store.spec.timezone,
                    "start_date": "2026-04-01",
                }
            )
        self.stores_file.write_text(yaml.safe_dump({"stores": entries}))
        monkeypatch.setenv("TJAR_STORES_FILE", str(self.stores_file))
        monkeypatch.setenv("TJAR_DATA_DIR", str(self.data_dir))
        monkeypatch.setenv("TJAR_RUN_RETRIES", "0")
        self.instance = dg.DagsterInstance.ephemeral()

    def settings(self):
        from tjar_pipelines.settings import Settings

        return Settings(stores_file=self.stores_file, data_dir=self.data_dir, run_retries=0)

    def registry(self):
        from tjar_pipelines.stores import load_registry

        return load_registry(self.stores_file)

    def defs(self) -> dg.Definitions:
        from tjar_pipelines.definitions import build_definitions

        return build_definitions(self.registry(), self.settings())

    def sync_orders(self, store: str, first: dt.date, last: dt.date, **kwargs: Any):
        from tjar_pipelines.schedules import RANGE_END, RANGE_START, order_day_key

        tags = {RANGE_START: order_day_key(first, store), RANGE_END: order_day_key(last, store)}
        return (
            self.defs()
            .resolve_job_def("orders_job")
            .execute_in_process(instance=self.instance, tags=tags, **kwargs)
        )

    def sync_store_job(self, job: str, store: str, **kwargs: Any):
        return (
            self.defs()
            .resolve_job_def(job)
            .execute_in_process(instance=self.instance, partition_key=store, **kwargs)
        )

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        import duckdb

        with duckdb.connect(str(self.data_dir / "tjar.duckdb"), read_only=True) as con:
            return con.execute(sql, params).fetchall()


@pytest.fixture
def pipeline(simulator, tmp_path, monkeypatch) -> Callable[..., Pipeline]:
    def make(config: SimulatorConfig | None = None, **kwargs: Any) -> Pipeline:
        return Pipeline(simulator(config, **kwargs), tmp_path, monkeypatch)

    return make


ARTIFACTS = Path(__file__).resolve().parent.parent / "data" / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep screenshots for people to look at (ignored by git, kept between runs)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (`.ci/run` runs apt-get install chromium).

    Per module: Playwright's event loop, left running, upsets later in-process Dagster runs.
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        advice = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
        if os.environ.get("TJAR_REQUIRE_BROWSER"):  # set by .ci/run: CI never skips these
            pytest.fail(advice)
        pytest.skip(advice)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()
