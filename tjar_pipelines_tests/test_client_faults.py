"""The client against a misbehaving simulator: rate limits, 5xx, garbled bodies, languages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tjar_pipelines.client import (
    ClientSettings,
    Secret,
    StoreConnection,
    TjarAuthError,
    TjarClient,
    TjarNotFoundError,
    TjarValidationError,
)
from tjar_pipelines.client.ratelimit import BucketRegistry
from tjar_pipelines.client.records import Order
from tjar_pipelines.simulator import Faults
from tjar_pipelines.simulator.config import PAGINATION_SHAPES
from tjar_pipelines_tests.conftest import FakeClock, expected_ids, sim_client, sim_config, spec

FIRST, LAST = dt.date(2026, 4, 1), dt.date(2026, 5, 11)


@pytest.mark.parametrize("retry_after", [True, False])
def test_rate_limited_store_is_read_completely(simulator, retry_after):
    """The simulator and the client share a fake clock, so waits cost no real time."""
    clock = FakeClock()
    faults = Faults(rate_limit=5, rate_window=1.0, retry_after=retry_after)
    server = simulator(sim_config(max_per_page=10, faults=faults), monotonic=clock.monotonic)
    settings = ClientSettings(
        requests_per_second=50, burst=5, rate_limit_window=1.0, max_attempts=8
    )
    with sim_client(server, settings=settings, clock=clock) as client:
        ids = {o.identifier for o in client.iter_orders(FIRST, LAST)}
    assert ids == expected_ids(server, "acme", FIRST, LAST)
    pages = -(-len(ids) // 10)
    assert server.simulator.stats["429"] <= 2, "the bucket should follow X-RateLimit-* headers"
    assert sum(clock.sleeps) >= (pages - 5) / 5 * 0.9  # paced at about 5 requests a second


def test_a_rate_limited_store_read_in_real_time_draws_at_most_one_429(simulator):
    """Over real HTTP on the real clock, where each request's round trip dates the store's
    windows: a guess that runs early costs one 429, after which windows are dated by answers.

    The windows are long against the round trips (0.5 s for 4 requests of ~10 ms), so a
    loaded host's delays stay small beside them.
    """
    first = dt.date(2026, 4, 26)
    faults = Faults(rate_limit=4, rate_window=0.5, latency_ms=10)
    server = simulator(sim_config(max_per_page=10, faults=faults))
    settings = ClientSettings(requests_per_second=8, burst=4, rate_limit_window=0.5)
    with sim_client(server, settings=settings, real_time=True) as client:
        ids = {o.identifier for o in client.iter_orders(first, LAST)}
    assert ids == expected_ids(server, "acme", first, LAST)
    assert len(ids) > 100  # 3 windows and more
    assert server.simulator.stats["429"] <= 1


@pytest.mark.parametrize("shape", PAGINATION_SHAPES)
def test_5xx_and_garbled_bodies_lose_nothing(simulator, shape):
    faults = Faults(error_rate=0.2, garble_rate=0.15)
    server = simulator(sim_config(pagination=shape, max_per_page=15, faults=faults))
    settings = ClientSettings(requests_per_second=1e4, burst=100, max_attempts=10)
    with sim_client(server, settings=settings) as client:
        ids = [o.identifier for o in client.iter_orders(FIRST, LAST)]
        products = {p.identifier for p in client.iter_products()}
    assert len(ids) == len(set(ids))
    assert set(ids) == expected_ids(server, "acme", FIRST, LAST)
    assert len(products) == 25
    stats = server.simulator.stats
    assert stats["500"] > 0 and stats["garbled"] > 0


def test_arabic_round_trip(simulator):
    server = simulator()
    day = dt.date(2026, 5, 3)
    with sim_client(server, language="ar") as ar, sim_client(server, language="en") as en:
        ar_orders = {o.identifier: o for o in ar.iter_orders(day, day)}
        en_orders = {o.identifier: o for o in en.iter_orders(day, day)}
        ar_products = list(ar.iter_products())
    assert ar_orders.keys() == en_orders.keys()
    countries = {o.country for o in ar_orders.values()}
    assert countries <= {"السعودية", "الإمارات", "مصر"}
    assert {o.country for o in en_orders.values()} <= {
        "Saudi Arabia",
        "United Arab Emirates",
        "Egypt",
    }
    assert any(
        line.type_label in ("مادي", "رقمي", "حجز", "خدمة")
        for o in ar_orders.values()
        for line in o.items
    )
    assert all(p.name_ar and p.name_en for p in ar_products)
    assert any("عطر عود" in (p.name_ar or "") for p in ar_products)
    store = server.simulator.stores["acme"]
    names = {o.customer_name for o in en_orders.values()}
    assert any(any("\u0600" <= ch <= "\u06ff" for ch in name or "") for name in names)
    assert all(o.raw == store.order(int(o.identifier) - 1001, "en") for o in en_orders.values())


def test_numbers_as_strings_parse_to_the_same_decimals(simulator):
    numeric = simulator(sim_config(spec(money_as_strings=False)))
    strings = simulator(sim_config(spec(money_as_strings=True)))
    day = dt.date(2026, 5, 3)
    with sim_client(numeric) as a, sim_client(strings) as b:
        left = {o.identifier: o for o in a.iter_orders(day, day)}
        right = {o.identifier: o for o in b.iter_orders(day, day)}
    assert left.keys() == right.keys() and left
    for ident, order in left.items():
        other = right[ident]
        assert isinstance(other.raw["total_amount"], str)
        assert order.total_amount == other.total_amount
        assert isinstance(other.total_amount, Decimal)
        assert [i.subtotal for i in order.items] == [i.subtotal for i in other.items]


def test_get_one_order_and_product(simulator):
    server = simulator()
    with sim_client(server) as client:
        order = client.get_order(1010)
        product = client.get_product(105)
        with pytest.raises(TjarNotFoundError, match=r"\[store acme\] GET /orders/99999"):
            client.get_order(99999)
        with pytest.raises(TjarNotFoundError):
            client.get_product("no such")
    assert isinstance(order, Order) and order.identifier == "1010" and order.items
    assert product.identifier == "105"


def test_key_of_another_store_is_rejected(simulator):
    server = simulator(sim_config(spec("acme"), spec("zen")))
    with sim_client(server, "zen") as good:
        assert good.get_order(1001).identifier == "1001"
    wrong = StoreConnection(
        slug="zen",
        base_url=server.base_url("zen"),
        api_key=Secret("sim-key-acme"),
        api_key_env="TJAR_ZEN_API_KEY",
    )
    with TjarClient(wrong, buckets=BucketRegistry()) as bad:
        with pytest.raises(TjarAuthError, match="TJAR_ZEN_API_KEY") as err:
            bad.get_order(1001)
    assert "sim-key-acme" not in str(err.value)


def test_webhook_registration_round_trip(simulator):
    server = simulator(sim_config(webhook_capacity=2))
    with sim_client(server) as client:
        hook = client.register_webhook(name="Order events", url="https://hooks.example.sa/tjar")
        assert hook.secret is not None and hook.secret.reveal().startswith("whsec_")
        listed = client.list_webhooks()
        assert [h.identifier for h in listed] == [hook.identifier]
        assert listed[0].secret is None and listed[0].url == "https://hooks.example.sa/tjar"
        assert "order.created" in listed[0].events
        client.register_webhook(name="second", url="https://x.example", events=["product.updated"])
        with pytest.raises(TjarValidationError, match="capacity") as err:
            client.register_webhook(name="third", url="https://y.example")
        assert "url" in err.value.errors
        client.delete_webhook(hook.identifier)
        assert len(client.list_webhooks()) == 1
        with pytest.raises(TjarValidationError, match="Unknown events"):
            client.register_webhook(name="bad", url="https://z.example", events=["order.exploded"])
        with pytest.raises(TjarNotFoundError):
            client.delete_webhook(hook.identifier)
