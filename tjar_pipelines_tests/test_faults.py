"""Fault injection against the simulator: each run ends with exactly the store's data, or
fails naming the store and leaves what was stored before untouched."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from tjar_pipelines.client import ClientSettings, TjarTransportError
from tjar_pipelines.simulator import Faults
from tjar_pipelines_tests.conftest import FakeClock, expected_ids, sim_client, sim_config, spec

FIRST, LAST = dt.date(2026, 4, 15), dt.date(2026, 5, 11)


def read_under_faults(
    simulator, faults: Faults, *, seed: int, orders: int, first: dt.date, attempts: int
) -> tuple[list[str], set[str], set[str], dict[str, int]]:
    """Reads a faulty store through a client on a clock shared with the simulator.

    Returns:
        The identifiers read, those the store held before and after, and the fault counts.
    """
    clock = FakeClock()
    config = sim_config(
        spec(orders=orders, history_days=40), seed=seed, max_per_page=20, faults=faults
    )
    server = simulator(config, monotonic=clock.monotonic)
    burst = max(faults.rate_limit, 1)
    settings = ClientSettings(
        max_attempts=attempts, requests_per_second=100, burst=burst, rate_limit_window=1.0
    )
    store = server.simulator.stores["acme"]
    today = dt.datetime.fromtimestamp(config.anchor.timestamp(), store.zone).date()  # type: ignore[union-attr]
    before = expected_ids(server, "acme", first, today)
    with sim_client(server, settings=settings, clock=clock) as client:
        ids = [o.identifier for o in client.iter_orders(first, today)]
    return ids, before, expected_ids(server, "acme", first, today), server.simulator.stats


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_every_fault_at_once_loses_nothing(simulator, seed):
    """429 storms (fixed window), 5xx bursts, garbled 200s, connections dropped mid-body and
    orders arriving mid-scan."""
    faults = Faults(
        rate_limit=3,
        rate_window=1.0,
        error_rate=0.25,
        garble_rate=0.15,
        reset_rate=0.2,
        orders_per_list_request=1,
    )
    ids, before, after, stats = read_under_faults(
        simulator, faults, seed=seed, orders=600, first=FIRST, attempts=12
    )
    assert len(ids) == len(set(ids))
    assert before <= set(ids) <= after
    assert stats["429"] and stats["500"] and stats["garbled"] and stats["reset"]


def test_responses_slower_than_the_timeout_fail_naming_the_store(simulator):
    server = simulator(sim_config(faults=Faults(latency_ms=300)))
    settings = ClientSettings(read_timeout=0.05, max_attempts=3)
    with sim_client(server, settings=settings) as client:
        with pytest.raises(TjarTransportError, match=r"\[store acme\] GET /orders.*ReadTimeout"):
            list(client.iter_orders(FIRST, FIRST))


def test_a_key_revoked_mid_sync_fails_the_run_and_keeps_the_old_slices(pipeline):
    p = pipeline()
    assert p.sync_orders("acme", FIRST, LAST).success
    lake = p.data_dir / "lake" / "orders" / "store=acme"
    before = {f: f.read_bytes() for f in sorted(lake.rglob("*.parquet"))}

    def revoke_on_page_3(target, page: int) -> None:
        if page == 3:
            target.spec = dataclasses.replace(target.spec, api_key="revoked-in-the-dashboard")

    p.server.simulator.before_list = revoke_on_page_3
    result = p.sync_orders("acme", FIRST, LAST, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = str(failure.step_failure_data.error)
    assert "store acme" in message and "TJAR_ACME_API_KEY" in message and "rejected" in message
    assert {f: f.read_bytes() for f in sorted(lake.rglob("*.parquet"))} == before
    assert not [f for f in (p.data_dir / "spool").rglob("*") if f.is_file()]
