"""The webhook sensor, and webhooks end to end: simulator → receiver → queue → sensor → runs."""

from __future__ import annotations

import datetime as dt
import time

import dagster as dg
import pytest

from tjar_pipelines.serving import ThreadedServer, bind
from tjar_pipelines.simulator import LiveMode
from tjar_pipelines.simulator.store import FIRST_ORDER_ID
from tjar_pipelines.webhooks.queue import NewEvent, WebhookQueue
from tjar_pipelines.webhooks.receiver import create_app
from tjar_pipelines_tests.conftest import expected_ids, sim_config, spec


def tick(p, cursor: str | None, defs: dg.Definitions | None = None) -> dg.SensorResult:
    defs = defs or p.defs()
    sensor = defs.resolve_sensor_def("tjar_webhook_sensor")
    with dg.build_sensor_context(
        cursor=cursor, instance=p.instance, repository_def=defs.get_repository_def()
    ) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def seq(cursor: str | None) -> int:
    """The last event a cursor says the sensor read (after its queue file's name)."""
    return int((cursor or "0").rpartition(":")[2])


def order_event(
    n: int, store: str, created_at: str, name: str = "order.status.updated"
) -> NewEvent:
    payload = (
        f'{{"id":"d{n}","event":"{name}","data":{{"identifier":{n},"created_at":"{created_at}"}}}}'
    )
    return NewEvent(store, f"d{n}", name, payload)


def test_a_tick_requests_each_touched_partition_once(pipeline):
    p = pipeline(sim_config(spec("acme"), spec("zen", timezone="Asia/Dubai")))
    with WebhookQueue(p.settings().queue_path) as queue:
        queue.append(
            [
                order_event(1, "acme", "2026-05-09 23:59:59"),
                order_event(2, "acme", "2026-05-09 08:00:00", "order.created"),
                order_event(3, "acme", "2026-05-10 00:00:01"),
                order_event(4, "zen", "2026-05-09 23:59:59", "order.cancelled"),
                NewEvent(
                    "acme",
                    "p1",
                    "product.updated",
                    '{"id":"p1","event":"product.updated","data":{}}',
                ),
                NewEvent(
                    "acme",
                    "x1",
                    "customer.created",
                    '{"id":"x1","event":"customer.created","data":{}}',
                ),
            ]
        )
    result = tick(p, None)
    requests = sorted((r.job_name, str(r.partition_key)) for r in result.run_requests or [])
    assert requests == [
        ("orders_job", "2026-05-09|acme"),
        ("orders_job", "2026-05-09|zen"),
        ("orders_job", "2026-05-10|acme"),
        ("products_job", "acme"),
    ]
    assert seq(result.cursor) == 6
    with WebhookQueue(p.settings().queue_path) as queue:
        assert [r[4] for r in queue.dead_letters()] == ["unknown event 'customer.created'"]
    retried = tick(p, None)
    assert sorted(r.run_key or "" for r in retried.run_requests or []) == sorted(
        r.run_key or "" for r in result.run_requests or []
    )
    assert not tick(p, result.cursor).run_requests
    assert tick(p, result.cursor).cursor == result.cursor


def test_events_of_a_store_added_later_are_read_once_the_sensor_knows_it(pipeline):
    """The receiver got the new stores.yaml before the code location was reloaded: the zen
    store's events went to the dead letters, and come back when the sensor knows the store."""
    from tjar_pipelines.definitions import build_definitions
    from tjar_pipelines.stores import Registry

    p = pipeline(sim_config(spec("acme"), spec("zen")))
    registry = p.registry()
    before = build_definitions(Registry(registry.stores[:1]), p.settings())
    with WebhookQueue(p.settings().queue_path) as queue:
        queue.append([order_event(1, "zen", "2026-05-09 12:00:00")])
    first = tick(p, None, before)
    assert not first.run_requests and seq(first.cursor) == 1
    after = tick(p, first.cursor)
    assert [str(r.partition_key) for r in after.run_requests or []] == ["2026-05-09|zen"]
    assert seq(after.cursor) == 2
    with WebhookQueue(p.settings().queue_path) as queue:
        assert queue.dead_letters() == []


@pytest.mark.parametrize("events", [3, 8])
def test_a_replaced_queue_file_is_read_from_its_start(pipeline, events):
    """A new queue file numbers its events from 1 again: the sensor's cursor, at 5 in the old
    file, would hide the new file's first five (all 3, or 5 of 8) and their runs' keys would
    be taken for the old ones'."""
    p = pipeline()
    path = p.settings().queue_path
    with WebhookQueue(path) as queue:
        queue.append([order_event(n, "acme", "2026-05-09 12:00:00") for n in range(5)])
    old = tick(p, None)
    assert seq(old.cursor) == 5
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    with WebhookQueue(path) as queue:
        queue.append([order_event(n, "acme", "2026-05-10 12:00:00") for n in range(events)])
    result = tick(p, old.cursor)
    [request] = result.run_requests or []
    assert str(request.partition_key) == "2026-05-10|acme"
    assert request.tags["tjar/webhook_events"] == str(events)
    assert seq(result.cursor) == events and request.run_key not in {
        r.run_key for r in old.run_requests or []
    }
    # A cursor of the previous version (a bare number) beyond the file is caught too.
    assert seq(tick(p, "500").cursor) == events


def test_a_backlog_older_than_the_retention_is_read_before_it_is_pruned(pipeline, monkeypatch):
    """More events than a tick reads, all older than the retention (the sensor was off for
    weeks): the ones the tick did not read stay for the next, which reads them."""
    from tjar_pipelines import sensors

    monkeypatch.setattr(sensors, "MAX_EVENTS_PER_TICK", 2)
    p = pipeline()
    weeks_ago = time.time() - 30 * 86400
    with WebhookQueue(p.settings().queue_path) as queue:
        days = ["2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04", "2026-05-05"]
        queue.append(
            [order_event(n, "acme", f"{day} 12:00:00") for n, day in enumerate(days)],
            now=weeks_ago,
        )
    cursor, keys = None, []
    for _ in range(4):
        result = tick(p, cursor)
        keys += [str(r.partition_key) for r in result.run_requests or []]
        cursor = result.cursor
    assert sorted(keys) == [f"{day}|acme" for day in days]


def test_a_backlog_that_goes_to_the_dead_letters_stays_there_to_be_requeued(pipeline):
    """Events older than the retention that a tick dead-letters are still listed after it."""
    p = pipeline()
    weeks_ago = time.time() - 30 * 86400
    with WebhookQueue(p.settings().queue_path) as queue:
        queue.append([NewEvent("acme", "d1", "shipment.created", "{}")], now=weeks_ago)
    tick(p, None)
    with WebhookQueue(p.settings().queue_path) as queue:
        assert [row[2] for row in queue.dead_letters()] == ["d1"]


def test_a_partition_whose_run_waits_to_start_gets_no_second_run(pipeline):
    """A busy store: its day's run waits in the queue (behind the store's lock, say) when
    more events touch the day. That run reads them too, so no run is added per tick; a run
    that has begun reading gets one after it."""
    p = pipeline()
    defs = p.defs()
    job = defs.resolve_job_def("orders_job")
    waiting, started = "2026-05-10|acme", "2026-05-11|acme"
    # NOT_STARTED: a queued run needs a code location's origin to be made in a test.
    for key, status in ((waiting, "NOT_STARTED"), (started, "STARTED")):
        p.instance.create_run_for_job(
            job_def=job, status=dg.DagsterRunStatus(status), tags={"dagster/partition": key}
        )
    with WebhookQueue(p.settings().queue_path) as queue:
        queue.append(
            [
                order_event(1, "acme", "2026-05-10 12:00:00"),
                order_event(2, "acme", "2026-05-11 12:00:00"),
                order_event(3, "acme", "2026-05-12 12:00:00"),
            ]
        )
    result = tick(p, None, defs)
    assert sorted(str(r.partition_key) for r in result.run_requests or []) == [
        started,
        "2026-05-12|acme",
    ]
    assert seq(result.cursor) == 3  # the waiting run's events are read: they ride on it
    # A run never launched (its launch lost) covers nothing once it is old.
    from tjar_pipelines.sensors import STUCK_AFTER, waiting_partitions

    later = dt.datetime.now(dt.UTC) + STUCK_AFTER + dt.timedelta(minutes=1)
    assert ("orders_job", waiting) in waiting_partitions(p.instance)
    assert waiting_partitions(p.instance, later) == set()


def test_ten_thousand_events_in_one_tick(pipeline):
    p = pipeline()
    with WebhookQueue(p.settings().queue_path) as queue:
        days = [f"2026-04-{d:02d} 12:00:00" for d in range(1, 31)]
        queue.append([order_event(n, "acme", days[n % 30]) for n in range(10_000)])
    result = tick(p, None)
    assert len(result.run_requests or []) == 30
    assert sum(int(r.tags["tjar/webhook_events"]) for r in result.run_requests or []) == 10_000


def test_webhooks_end_to_end(pipeline):
    """Live simulator → signed webhooks → receiver → sensor → runs → DuckDB equals the store."""
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    live = LiveMode(
        interval=0.05,
        webhook_url=f"http://127.0.0.1:{port}/webhooks/tjar/{{slug}}",
        product_share=0.2,
        duplicate_rate=0.3,
    )
    p = pipeline(sim_config(spec("acme"), spec("zen", timezone="Asia/Dubai"), live=live))
    sim = p.server.simulator
    with ThreadedServer(create_app(p.registry(), p.settings().queue_path), sock=sock) as receiver:
        with WebhookQueue(p.settings().queue_path) as queue:
            deadline = time.monotonic() + 30
            while queue.count() < 40:
                assert time.monotonic() < deadline, "deliveries did not arrive"
                time.sleep(0.05)
        sim.live_paused = True
        time.sleep(0.3)  # let deliveries already on the wire land
        assert receiver.url
    result = tick(p, None)
    touched_orders = {
        (slug, dt.datetime.fromtimestamp(store.created[pos], store.zone).date())
        for slug, store in sim.stores.items()
        for pos in store.changes
    }
    requested = {
        tuple(str(r.partition_key).split("|")[::-1])
        for r in result.run_requests or []
        if r.job_name == "orders_job"
    }
    assert requested == {(s, d.isoformat()) for s, d in touched_orders}
    for request in result.run_requests or []:
        job = p.defs().resolve_job_def(request.job_name or "")
        assert job.execute_in_process(
            instance=p.instance, partition_key=request.partition_key
        ).success
    for slug, day in touched_orders:
        store = sim.stores[slug]
        rows = dict(
            p.query(
                "SELECT identifier, status FROM orders WHERE store = ? AND order_date = ?",
                [slug, day],
            )
        )
        assert set(rows) == expected_ids(p.server, slug, day, day)
        for ident, status in rows.items():
            assert status == store.order(int(ident) - FIRST_ORDER_ID, "en")["status"]["value"]
    assert {s for (s,) in p.query("SELECT DISTINCT store FROM products")} <= {"acme", "zen"}
