"""The API key never shows: not in reprs, errors, logs, or what the client returns."""

from __future__ import annotations

import datetime as dt
import logging
import pickle

import httpx
import pytest

from tjar_pipelines.client import ClientSettings, Secret, StoreConnection, TjarError
from tjar_pipelines.simulator import Faults
from tjar_pipelines_tests.conftest import (
    API_KEY,
    FakeClock,
    mock_client,
    sim_client,
    sim_config,
    spec,
)


def test_secret_never_formats_itself():
    secret = Secret(API_KEY)
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", "%s" % secret):  # noqa: UP031
        assert API_KEY not in shown
    assert secret.reveal() == API_KEY
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(ValueError):
        Secret("")


def test_connection_and_client_reprs_hide_the_key():
    connection = StoreConnection(
        slug="acme", base_url="https://acme.tjar.sa/api/core/v1", api_key=Secret(API_KEY)
    )
    assert API_KEY not in repr(connection) and API_KEY not in str(connection)
    with mock_client(lambda request: httpx.Response(200, json={})) as client:
        assert API_KEY not in repr(client)


def test_key_is_absent_from_logs_errors_and_records(simulator, caplog):
    """A whole faulty scan at DEBUG, httpx and httpcore included, never prints the key."""
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    faults = Faults(error_rate=0.2, garble_rate=0.1, rate_limit=4, rate_window=1.0)
    config = sim_config(spec(api_key=API_KEY), faults=faults, max_per_page=10)
    server = simulator(config, monotonic=clock.monotonic)
    settings = ClientSettings(
        max_attempts=8, requests_per_second=1e4, burst=100, rate_limit_window=1
    )
    errors: list[str] = []
    with sim_client(server, settings=settings, clock=clock) as client:
        records = [repr(o) for o in client.iter_orders(dt.date(2026, 4, 1), dt.date(2026, 5, 11))]
        records += [repr(p) for p in client.iter_products()]
        for call in (lambda: client.get_order(424242), lambda: client.get_product("x")):
            try:
                call()
            except TjarError as exc:
                errors += [str(exc), repr(exc), repr(exc.args)]
    assert server.simulator.stats["500"] > 0 and server.simulator.stats["429"] > 0
    assert "Authorization" in caplog.text or "HTTP Request" in caplog.text  # debug logs were on
    assert API_KEY not in caplog.text
    assert len(errors) == 6 and not any(API_KEY in text for text in errors)
    assert records and not any(API_KEY in text for text in records)


def test_auth_error_message_has_no_key():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, json={"message": f"bad token {request.headers['authorization']}"}
        )

    with mock_client(handler) as client, pytest.raises(TjarError) as err:
        client.get_order(1)
    # A store that echoes the header back does not get the key into our message.
    assert "General Settings" in str(err.value)
    assert API_KEY not in str(err.value)
    assert "bad token ***" in str(err.value)
