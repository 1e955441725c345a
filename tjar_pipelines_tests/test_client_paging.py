"""The client against the simulator over real HTTP: every pagination shape, clamps, shifting."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from tjar_pipelines.client import ClientSettings, TjarClient
from tjar_pipelines.simulator import Faults
from tjar_pipelines.simulator.config import PAGINATION_SHAPES
from tjar_pipelines.simulator.store import FIRST_PRODUCT_ID
from tjar_pipelines_tests.conftest import FAST, expected_ids, sim_client, sim_config, spec

FIRST = dt.date(2026, 4, 1)
LAST = dt.date(2026, 5, 11)
MIDDLE = (dt.date(2026, 4, 25), dt.date(2026, 5, 1))


def _identifiers(client: TjarClient, reader: str, first: dt.date, last: dt.date) -> list[str]:
    """The orders' identifiers as ``reader`` (a method of the client) hands them over."""
    if reader == "iter_orders":
        return [o.identifier for o in client.iter_orders(first, last)]
    return [r.identifier or "" for r in client.iter_order_records(first, last)]


@pytest.mark.parametrize("reader", ["iter_orders", "iter_order_records"])
@pytest.mark.parametrize("order", ["newest", "oldest"])
@pytest.mark.parametrize("max_per_page", [100, 7])
@pytest.mark.parametrize("shape", PAGINATION_SHAPES)
def test_every_order_exactly_once(simulator, shape, max_per_page, order, reader):
    server = simulator(sim_config(pagination=shape, max_per_page=max_per_page, list_order=order))
    with sim_client(server) as client:
        for first, last in ((FIRST, LAST), MIDDLE):
            ids = _identifiers(client, reader, first, last)
            assert len(ids) == len(set(ids))
            assert set(ids) == expected_ids(server, "acme", first, last)
            assert ids


@pytest.mark.parametrize("shape", PAGINATION_SHAPES)
def test_every_product_exactly_once(simulator, shape):
    server = simulator(sim_config(spec(products=57), pagination=shape, max_per_page=10))
    with sim_client(server) as client:
        ids = [p.identifier for p in client.iter_products()]
    assert sorted(ids, key=int) == [str(FIRST_PRODUCT_ID + n) for n in range(57)]


@pytest.mark.parametrize("order", ["newest", "oldest"])
@pytest.mark.parametrize("shape", [s for s in PAGINATION_SHAPES if s != "none"])
def test_products_deleted_during_the_scan_let_no_other_slip_past(simulator, shape, order):
    """A product deleted after it was read moves the ones after it up a page, so one of them
    slips past the reader, while the deleted one still counts towards the total: the total
    went down, so the whole list is read again and every live product is returned once.
    (A store that reports no total gives no sign of a deletion: the next sync reads it.)"""
    server = simulator(sim_config(pagination=shape, list_order=order))
    store = server.simulator.stores["acme"]
    with sim_client(server, settings=ClientSettings(per_page=4, prefetch=False)) as client:
        ids: list[str] = []
        for n, product in enumerate(client.iter_products()):
            ids.append(product.identifier)
            if n in (5, 13):  # the second-to-last of pages 2 and 4: the next page shifts
                store.delete_product(int(product.identifier))
        live = {str(FIRST_PRODUCT_ID + n) for n in store.product_indexes()}
        assert len(ids) == len(set(ids))
        assert live <= set(ids) and len(live) == 23
        assert client.last_scan is not None and client.last_scan.reported_total == 23


@pytest.mark.parametrize("shape", PAGINATION_SHAPES)
def test_silent_clamp_is_noticed_and_costs_no_rows(simulator, shape, caplog):
    server = simulator(sim_config(pagination=shape, max_per_page=13))
    caplog.set_level(logging.DEBUG, logger="tjar_pipelines.client")
    with sim_client(server) as client:
        ids = {o.identifier for o in client.iter_orders(FIRST, LAST)}
        assert client._page_sizes == {"/orders": 13}
    assert ids == expected_ids(server, "acme", FIRST, LAST)
    assert "serves at most 13 records per page of /orders (asked for 100)" in caplog.text


@pytest.mark.parametrize("reader", ["iter_orders", "iter_order_records"])
@pytest.mark.parametrize("order", ["newest", "oldest"])
@pytest.mark.parametrize("shape", PAGINATION_SHAPES)
def test_orders_created_during_the_scan_are_all_returned_once(simulator, shape, order, reader):
    """New orders arriving between pages shift older ones; the result is still exact."""
    server = simulator(sim_config(pagination=shape, max_per_page=20, list_order=order))
    store = server.simulator.stores["acme"]
    today = dt.datetime.fromtimestamp(ANCHOR_EPOCH, store.zone).date()
    with sim_client(server) as client:
        ids: list[str] = []
        read = (
            (o.identifier for o in client.iter_orders(FIRST, today))
            if reader == "iter_orders"
            else (r.identifier or "" for r in client.iter_order_records(FIRST, today))
        )
        for n, ident in enumerate(read):
            ids.append(ident)
            if n in (5, 45, 130):
                for _ in range(7):
                    store.create_order(ANCHOR_EPOCH)
    assert len(ids) == len(set(ids))
    assert set(ids) == expected_ids(server, "acme", FIRST, today)
    assert store.order_count == 300 + 21


@pytest.mark.parametrize("shape", PAGINATION_SHAPES)
def test_constant_arrivals_never_lose_or_duplicate(simulator, shape):
    """With orders arriving before every page, each order that existed at the start is read."""
    faults = Faults(orders_per_list_request=3)
    server = simulator(sim_config(pagination=shape, max_per_page=25, faults=faults))
    store = server.simulator.stores["acme"]
    today = dt.datetime.fromtimestamp(ANCHOR_EPOCH, store.zone).date()
    before = expected_ids(server, "acme", FIRST, today)
    with sim_client(server) as client:
        ids = [o.identifier for o in client.iter_orders(FIRST, today)]
    after = expected_ids(server, "acme", FIRST, today)
    assert len(ids) == len(set(ids))
    assert before <= set(ids) <= after
    assert len(after) > len(before)


def test_window_is_inclusive_by_store_local_day_around_midnight(simulator):
    server = simulator(sim_config(spec(orders=2000, timezone="Asia/Riyadh")))
    store = server.simulator.stores["acme"]
    near_midnight = 0
    with sim_client(server) as client:
        for day in (dt.date(2026, 4, 28), dt.date(2026, 4, 29)):
            orders = list(client.iter_orders(day, day))
            assert {o.identifier for o in orders} == expected_ids(server, "acme", day, day)
            for o in orders:
                assert o.order_date == day
                assert o.created_at is not None and o.created_at.utcoffset() == dt.timedelta(0)
                local = o.created_at.astimezone(store.zone)
                assert local.date() == day
                assert o.raw["created_at"] == local.strftime("%Y-%m-%d %H:%M:%S")
                near_midnight += (local.hour == 23 and local.minute >= 45) or local.hour == 0
    assert near_midnight > 0


def test_unknown_fields_and_missing_created_at_are_tolerated(simulator):
    faults = Faults(extra_fields=True, drop_created_at_rate=0.2)
    server = simulator(sim_config(faults=faults))
    day = dt.date(2026, 5, 2)
    with sim_client(server) as client:
        orders = list(client.iter_orders(day, day))
        many = list(client.iter_orders(FIRST, LAST))
    assert {o.identifier for o in orders} == expected_ids(server, "acme", day, day)
    missing = [o for o in orders if o.created_at is None]
    assert missing, "the knob should have dropped some created_at"
    assert all(o.order_date == day for o in orders)
    assert any(o.created_at is None and o.order_date is None for o in many)
    assert all("x_added_later" in o.raw for o in orders)


def test_per_page_is_configurable(simulator):
    server = simulator()
    with sim_client(server, settings=ClientSettings(per_page=9, requests_per_second=1e4)) as c:
        ids = {o.identifier for o in c.iter_orders(FIRST, LAST)}
    assert ids == expected_ids(server, "acme", FIRST, LAST)
    assert server.simulator.stats["requests"] >= len(ids) // 9


ANCHOR_EPOCH = sim_config().anchor.timestamp()  # type: ignore[union-attr]
_ = FAST


@pytest.mark.parametrize("past_end", ["404", "422"])
@pytest.mark.parametrize("max_per_page", [100, 7])
@pytest.mark.parametrize("shape", PAGINATION_SHAPES)
def test_a_store_that_answers_an_error_past_the_end_is_read_whole(
    simulator, shape, max_per_page, past_end, caplog
):
    """§15 does not know whether a page past the end is an empty list or an error; where the
    pages do not say how many there are, the client asks for one past the end. Windows of a
    day, of less than a page and of whole pages, and 14 products in pages of 7."""
    server = simulator(
        sim_config(
            spec(products=14), pagination=shape, max_per_page=max_per_page, past_end=past_end
        )
    )
    caplog.set_level(logging.INFO, "tjar_pipelines.client")
    with sim_client(server) as client:
        for first, last in ((FIRST, LAST), MIDDLE, (MIDDLE[0], MIDDLE[0])):
            ids = [o.identifier for o in client.iter_orders(first, last)]
            assert len(ids) == len(set(ids))
            assert set(ids) == expected_ids(server, "acme", first, last)
        products = [p.identifier for p in client.iter_products()]
    assert sorted(products, key=int) == [str(FIRST_PRODUCT_ID + n) for n in range(14)]
    ends = [r for r in caplog.records if "taken as the end of the list" in r.getMessage()]
    assert bool(ends) == (shape == "none")  # only a store without page counts is asked past
