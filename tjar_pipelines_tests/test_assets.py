"""The Dagster assets end to end: simulator over HTTP, real Parquet and DuckDB in temp dirs."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from tjar_pipelines.simulator import Faults
from tjar_pipelines.simulator.store import FIRST_ORDER_ID
from tjar_pipelines_tests.conftest import ANCHOR, expected_ids, sim_config, spec

FIRST, LAST = dt.date(2026, 4, 15), dt.date(2026, 5, 11)


def stored_orders(p, store: str) -> dict[str, tuple]:
    rows = p.query(
        "SELECT identifier, status, total_amount, order_date, item_count FROM orders "
        "WHERE store = ?",
        [store],
    )
    return {r[0]: r[1:] for r in rows}


def test_full_sync_equals_the_simulator(pipeline):
    p = pipeline(
        sim_config(spec("acme", money_as_strings=True), spec("zen", timezone="Asia/Dubai"))
    )
    for store in ("acme", "zen"):
        assert p.sync_orders(store, FIRST, LAST).success
        assert p.sync_store_job("products_job", store).success
        assert p.sync_store_job("sales_job", store).success
    for store in ("acme", "zen"):
        sim = p.server.simulator.stores[store]
        got = stored_orders(p, store)
        assert set(got) == expected_ids(p.server, store, FIRST, LAST)
        for ident, (status, total, day, items) in got.items():
            truth = sim.order(int(ident) - FIRST_ORDER_ID, "en")
            assert status == truth["status"]["value"]
            assert total == Decimal(str(truth["total_amount"])).quantize(Decimal("0.01"))
            assert day == dt.date.fromisoformat(truth["created_at"][:10])
            assert items == len(truth["order_details"])
        [(lines,)] = p.query("SELECT count(*) FROM order_items WHERE store = ?", [store])
        assert lines == sum(
            len(sim.order(int(i) - FIRST_ORDER_ID, "en")["order_details"]) for i in got
        )
        products = p.query("SELECT identifier, price FROM products WHERE store = ?", [store])
        assert len(products) == 25
    # one row per (store, identifier), everywhere
    assert p.query("SELECT count(*) - count(DISTINCT (store, identifier)) FROM orders") == [(0,)]
    daily = p.query(
        "SELECT sum(orders) + sum(cancelled_orders) FROM daily_sales WHERE store='acme'"
    )
    assert daily == [(len(stored_orders(p, "acme")),)]
    types = dict(
        p.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'orders'"
        )
    )
    assert types["total_amount"] == "DECIMAL(18,2)"
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE" and types["raw"] == "JSON"


def test_rerunning_a_partition_changes_nothing(pipeline):
    p = pipeline()
    day = dt.date(2026, 5, 2)
    columns = "identifier, status, total_amount, created_at, updated_at, raw::VARCHAR"
    results = []
    for _ in range(3):
        assert p.sync_orders("acme", day, day).success
        results.append(sorted(p.query(f"SELECT {columns} FROM orders")))
    assert results[0] == results[1] == results[2]
    assert len(results[0]) == len(expected_ids(p.server, "acme", day, day)) > 0


def test_order_at_local_midnight_lands_on_its_local_day(pipeline):
    riyadh = dt.timezone(dt.timedelta(hours=3))
    last_second = dt.datetime(2026, 5, 10, 23, 59, 59, tzinfo=riyadh)
    p = pipeline(sim_config(anchor=last_second.astimezone(dt.UTC)))
    store = p.server.simulator.stores["acme"]
    late = store.create_order(last_second.timestamp())
    early = store.create_order(last_second.timestamp() + 1)
    assert p.sync_orders("acme", dt.date(2026, 5, 10), dt.date(2026, 5, 11)).success
    placed = dict(p.query("SELECT identifier, order_date FROM orders"))
    assert placed[str(late)] == dt.date(2026, 5, 10)
    assert placed[str(early)] == dt.date(2026, 5, 11)
    [(created,)] = p.query("SELECT created_at FROM orders WHERE identifier = ?", [str(late)])
    assert created == last_second


def test_arabic_and_unknown_fields_survive_in_raw(pipeline, monkeypatch):
    p = pipeline(sim_config(faults=Faults(extra_fields=True), default_language="ar"))
    day = dt.date(2026, 5, 3)
    assert p.sync_orders("acme", day, day).success
    rows = p.query(
        "SELECT raw->>'country', raw->'x_added_later'->>'note', customer_name FROM orders"
    )
    assert rows and all(note == "unknown field" for _, note, _ in rows)
    assert {country for country, _, _ in rows} <= {"Saudi Arabia", "United Arab Emirates", "Egypt"}
    assert any(any("\u0600" <= ch <= "\u06ff" for ch in name or "") for _, _, name in rows)
    names = p.query("SELECT name FROM order_items")
    assert names


def test_parallel_runs_with_an_analyst_session_open(pipeline):
    p = pipeline(sim_config(spec("acme"), spec("zen")))
    assert p.sync_orders("acme", FIRST, FIRST).success  # creates the views once
    analyst = subprocess.Popen(
        [sys.executable, "-c", ANALYST, str(p.data_dir / "tjar.duckdb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert analyst.stdout and analyst.stdin
        assert analyst.stdout.readline().strip() == "open"
        # Two runs in parallel, each in its own process as Dagster's run launcher does it.
        script = Path(sys.executable).with_name("tjar-pipelines")
        runs = [
            subprocess.Popen(
                [
                    str(script),
                    "sync",
                    "--store",
                    store,
                    "--from",
                    str(FIRST),
                    "--to",
                    str(LAST),
                    "--assets",
                    "orders,order_items",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for store in ("acme", "zen")
        ]
        try:
            outputs = [run.communicate(timeout=120)[0] for run in runs]
        finally:
            for run in runs:
                run.kill()
                run.wait(timeout=10)
        assert [run.returncode for run in runs] == [0, 0], outputs
        analyst.stdin.write("count\n")
        analyst.stdin.flush()
        seen = json.loads(analyst.stdout.readline())
        expected = {s: len(expected_ids(p.server, s, FIRST, LAST)) for s in ("acme", "zen")}
        assert seen == expected
    finally:
        analyst.kill()
        analyst.wait(timeout=10)


ANALYST = """
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
print("open", flush=True)
for line in sys.stdin:
    rows = con.execute("SELECT store, count(*) FROM orders GROUP BY store").fetchall()
    print(json.dumps(dict(rows)), flush=True)
"""


def test_failed_run_leaves_the_old_slices(pipeline):
    p = pipeline()
    assert p.sync_orders("acme", FIRST, LAST).success
    lake = p.data_dir / "lake" / "orders" / "store=acme"
    before = {f: f.read_bytes() for f in sorted(lake.rglob("*.parquet"))}
    assert len(before) == (LAST - FIRST).days + 1
    store = p.server.simulator.stores["acme"]
    store.change_status(FIRST_ORDER_ID + 250, 4, ANCHOR.timestamp())
    p.server.simulator.config = p.server.simulator.config.__class__(
        **{**_fields(p.server.simulator.config), "faults": Faults(error_rate=1.0)}
    )
    result = p.sync_orders("acme", FIRST, LAST, raise_on_error=False)
    assert not result.success
    after = {f: f.read_bytes() for f in sorted(lake.rglob("*.parquet"))}
    assert after == before
    assert not list(p.data_dir.rglob("*.tmp"))


def _kill_when(proc: subprocess.Popen[bytes], condition, timeout: float = 60.0) -> bool:
    """SIGKILLs ``proc`` as soon as ``condition()`` holds; returns whether it did before exit."""
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if condition():
                proc.kill()
                return True
            time.sleep(0.0005)
        return False
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_killed_syncs_leave_readable_slices_and_the_next_run_completes(pipeline):
    """SIGKILL real `tjar-pipelines sync` processes while they read pages and while they
    replace slices: the lake is never torn and the next run completes."""
    p = pipeline(sim_config(spec(orders=3000, history_days=40), faults=Faults(latency_ms=5)))
    first = dt.date(2026, 4, 1)
    assert p.sync_orders("acme", first, LAST).success
    script = Path(sys.executable).with_name("tjar-pipelines")
    ids = sorted(expected_ids(p.server, "acme", first, LAST))
    lake = p.data_dir / "lake"
    stats = p.server.simulator.stats

    def sync() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(script), "sync", "--store", "acme", "--from", str(first), "--to", str(LAST)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def writing() -> bool:
        return any(lake.rglob(".part.parquet.*.tmp"))

    phases = {}
    for read_pages in (1, 10, 25):
        served = stats["requests"]
        phases[f"reading page {read_pages}"] = _kill_when(
            sync(), lambda n=read_pages, s=served: stats["requests"] - s >= n
        )
    for _ in range(3):
        phases["replacing slices"] = _kill_when(sync(), writing) or phases.get("replacing slices")
    assert all(phases.values()), phases
    assert sorted(r[0] for r in p.query("SELECT identifier FROM orders")) == ids
    assert p.sync_orders("acme", first, LAST).success
    assert sorted(r[0] for r in p.query("SELECT identifier FROM orders")) == ids


def _fields(config):
    import dataclasses

    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


def test_materializations_report_metadata_without_secrets(pipeline):
    p = pipeline()
    result = p.sync_orders("acme", FIRST, dt.date(2026, 4, 17))
    assert result.success
    events = result.get_asset_materialization_events()
    meta = events[0].step_materialization_data.materialization.metadata
    for name in (
        "dagster/row_count",
        "pages",
        "requests",
        "retries",
        "throttled_429",
        "duration_s",
        "preview",
    ):
        assert name in meta
    text = repr([e.event_specific_data for e in result.all_events])
    assert "sim-key-acme" not in text
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["unique_order_identifier"] and checks["order_keys_not_null"]
    assert checks["matches_api_total"] and checks["unique_order_line"]
    assert checks["lines_match_orders"] and checks["order_fields_readable"]
    # Freshness is freshness_job's: syncing one store must not judge the stores it skipped.
    assert not [name for name in checks if name.startswith("fresh_")]


def test_missing_key_names_the_variable_and_store(pipeline, monkeypatch):
    p = pipeline()
    monkeypatch.delenv("TJAR_ACME_API_KEY")
    result = p.sync_orders("acme", FIRST, FIRST, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = str(failure.step_failure_data.error)
    assert "TJAR_ACME_API_KEY" in message and "store acme" in message


def test_definitions_load_and_name_every_asset(pipeline):
    p = pipeline(sim_config(spec("acme"), spec("zen")))
    defs = p.defs()
    dg.Definitions.validate_loadable(defs)
    keys = sorted(k.to_user_string() for k in defs.resolve_all_asset_keys())
    assert keys == ["daily_sales", "order_items", "orders", "product_sales", "products"]
    assert {s.name for s in defs.schedules or []} == {
        "orders_hourly",
        "orders_nightly_reconciliation",
        "products_daily",
        "sales_hourly",
        "freshness_hourly",
    }


def test_one_failing_store_does_not_stop_the_others(pipeline, monkeypatch):
    from tjar_pipelines.schedules import RANGE_END, RANGE_START, order_day_key

    p = pipeline(sim_config(spec("acme"), spec("zen")))
    monkeypatch.delenv("TJAR_ZEN_API_KEY")
    tags = {RANGE_START: order_day_key(FIRST, "acme"), RANGE_END: order_day_key(LAST, "zen")}
    result = (
        p.defs()
        .resolve_job_def("orders_job")
        .execute_in_process(instance=p.instance, tags=tags, raise_on_error=False)
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = str(failure.step_failure_data.error)
    assert "1 of 2 stores failed" in message and "TJAR_ZEN_API_KEY" in message
    assert message.count("store zen") == 1, message  # named once, not once per layer
    assert set(stored_orders(p, "acme")) == expected_ids(p.server, "acme", FIRST, LAST)
    assert stored_orders(p, "zen") == {}


def test_max_concurrent_stores_reads_one_store_at_a_time(pipeline, monkeypatch):
    """``TJAR_MAX_CONCURRENT_STORES=1``: the stores of a run are read one after the other,
    which bounds a sync's memory to one store's (measured in the README)."""
    import threading

    from tjar_pipelines.assets import orders
    from tjar_pipelines.definitions import build_definitions
    from tjar_pipelines.schedules import RANGE_END, RANGE_START, order_day_key
    from tjar_pipelines.settings import Settings

    p = pipeline(sim_config(spec("acme"), spec("bee"), spec("zen")))
    monkeypatch.setenv("TJAR_MAX_CONCURRENT_STORES", "1")
    lock, active, most = threading.Lock(), [0], [0]

    def counted(*args, **kwargs):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            return sync_order_days(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    sync_order_days = orders.sync_order_days
    monkeypatch.setattr(orders, "sync_order_days", counted)
    defs = build_definitions(p.registry(), Settings.from_env())
    tags = {RANGE_START: order_day_key(FIRST, "acme"), RANGE_END: order_day_key(LAST, "zen")}
    result = defs.resolve_job_def("orders_job").execute_in_process(instance=p.instance, tags=tags)
    assert result.success and most[0] == 1
    for store in ("acme", "bee", "zen"):
        assert set(stored_orders(p, store)) == expected_ids(p.server, store, FIRST, LAST)


def test_a_window_of_many_batches_goes_through_the_spool_and_writes_every_order(pipeline):
    from tjar_pipelines.ingest import sync_order_days
    from tjar_pipelines.lake.files import Lake
    from tjar_pipelines.lake.warehouse import Warehouse
    from tjar_pipelines_tests.conftest import sim_client

    p = pipeline()
    lake = Lake(p.data_dir)
    Warehouse(lake).ensure_views()
    days = [FIRST + dt.timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
    with sim_client(p.server) as client:
        report = sync_order_days(client, lake, days, batch_rows=7)
    ids = sorted(r[0] for r in p.query("SELECT identifier FROM orders") or [])
    assert ids == sorted(expected_ids(p.server, "acme", FIRST, LAST))
    assert report.rows["orders"] == len(ids)
    [(lines,)] = p.query("SELECT count(*) FROM order_items")
    assert lines == report.rows["order_items"] > len(ids)
    assert not list(lake.spool_dir("acme").iterdir())


def test_a_day_whose_items_fail_to_write_keeps_its_orders_and_items_as_they_were(
    pipeline, monkeypatch
):
    """Writing a day's lines fails (a full disk, say): the run fails, and that day's orders
    slice keeps what it held, as its lines do, instead of orders without their lines."""
    from tjar_pipelines.ingest import sync_order_days
    from tjar_pipelines.lake import files
    from tjar_pipelines.lake.files import Lake
    from tjar_pipelines.lake.tables import ORDER_ITEMS, ORDERS
    from tjar_pipelines.lake.warehouse import Warehouse
    from tjar_pipelines_tests.conftest import sim_client

    p = pipeline()
    lake = Lake(p.data_dir)
    Warehouse(lake).ensure_views()
    days = [LAST - dt.timedelta(days=n) for n in range(4, -1, -1)]
    failing = days[2]
    lake.write_slices(
        {"orders": ORDERS.empty_table(), "order_items": ORDER_ITEMS.empty_table()},
        "acme",
        failing,
    )
    write = files.Lake._write_temporary

    def full_disk(path, schema, pieces):
        if path == lake.slice_path("order_items", "acme", failing):
            raise OSError("No space left on device")
        return write(path, schema, pieces)

    monkeypatch.setattr(files.Lake, "_write_temporary", staticmethod(full_disk))
    with sim_client(p.server) as client, pytest.raises(OSError, match="No space"):
        sync_order_days(client, lake, days)
    assert p.query(f"SELECT count(*) FROM orders WHERE order_date = '{failing}'") == [(0,)]
    [(mismatched,)] = p.query(
        "SELECT count(*) FROM orders o WHERE o.item_count <> "
        "(SELECT count(*) FROM order_items i WHERE i.store = o.store "
        "AND i.order_identifier = o.identifier)"
    )
    assert mismatched == 0
    assert p.query("SELECT count(*) FROM orders")[0][0] > 0  # the days before were written


def test_a_sync_that_reads_a_store_later_also_writes_it_later(pipeline, monkeypatch):
    """A nightly sync has read a month and not yet written it; a merchant cancels an order of
    it, and the webhook's sync of that day starts. That one waits for the nightly sync, so the
    cancellation is what stays (without the store's lock it was written first, then the
    nightly sync's older read put the old status back)."""
    import threading

    from tjar_pipelines import ingest
    from tjar_pipelines.ingest import sync_order_days
    from tjar_pipelines.lake.files import Lake
    from tjar_pipelines.lake.warehouse import Warehouse
    from tjar_pipelines_tests.conftest import sim_client

    p = pipeline()
    store = p.server.simulator.stores["acme"]
    day = dt.date(2026, 4, 25)
    pos = next(
        n
        for n in range(*store.order_range(day, day))
        if store.order(n, "en")["status"]["value"] != "Cancelled"
    )
    ident = str(FIRST_ORDER_ID + pos)
    lake = Lake(p.data_dir)
    Warehouse(lake).ensure_views()
    nightly_has_read, go_on = threading.Event(), threading.Event()
    write_slices = Lake.write_slices

    def paused_write(self, data, slug, when=None):
        if "orders" in data and when == day and not nightly_has_read.is_set():
            nightly_has_read.set()
            assert go_on.wait(60)
        return write_slices(self, data, slug, when)

    monkeypatch.setattr(Lake, "write_slices", paused_write)
    monkeypatch.setattr(ingest, "_waiting", lambda store, what: go_on.set())
    month = [FIRST + dt.timedelta(days=n) for n in range(26)]

    def nightly() -> None:
        with sim_client(p.server) as client:
            sync_order_days(client, lake, month)

    def webhook() -> None:
        try:
            with sim_client(p.server) as client:
                sync_order_days(client, lake, [day])
        finally:
            go_on.set()

    first = threading.Thread(target=nightly)
    first.start()
    assert nightly_has_read.wait(60)
    store.change_status(int(ident), 4, time.time())
    second = threading.Thread(target=webhook)
    second.start()
    first.join(60)
    second.join(60)
    assert store.order(pos, "en")["status"]["value"] == "Cancelled"
    [(status,)] = p.query("SELECT status FROM orders WHERE identifier = ?", [ident])
    assert status == "Cancelled"


def test_orders_without_created_at_are_placed_on_one_day_once(tmp_path):
    import httpx
    import pyarrow.parquet as pq

    from tjar_pipelines.ingest import sync_order_days
    from tjar_pipelines.lake.files import Lake
    from tjar_pipelines_tests.conftest import mock_client, order_json

    dated = order_json(1, created_at="2026-05-01 10:00:00")
    undated = order_json(2)
    del undated["created_at"]
    # The store lists the undated order under every day it is asked for: it must still be
    # stored once, on the first day it shows up under.
    listed = {
        ("2026-05-01", "2026-05-02"): [undated, dated],
        ("2026-05-01", "2026-05-01"): [undated, dated],
        ("2026-05-02", "2026-05-02"): [undated],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        orders = listed[(request.url.params["date_from"], request.url.params["date_to"])]
        pagination = {"current_page": 1, "last_page": 1, "per_page": 100, "total": len(orders)}
        data = {"orders": orders, "pagination": pagination}
        return httpx.Response(200, json={"status": "success", "message": "ok", "data": data})

    lake = Lake(tmp_path)
    days = [dt.date(2026, 5, 1), dt.date(2026, 5, 2)]
    with mock_client(handler) as client:
        report = sync_order_days(client, lake, days)
    stored = {
        day: sorted(pq.read_table(lake.slice_path("orders", "acme", day))["identifier"].to_pylist())
        for day in days
    }
    assert stored == {days[0]: ["1", "2"], days[1]: []}
    assert report.rows["orders"] == 2
