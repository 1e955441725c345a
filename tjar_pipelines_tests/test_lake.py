"""The Parquet lake and the DuckDB views: atomic slices, schemas, and a locked database."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tjar_pipelines.lake.files import Lake, hold_lock
from tjar_pipelines.lake.tables import ORDERS
from tjar_pipelines.lake.warehouse import Warehouse

DAY = dt.date(2026, 5, 1)


def rows(*idents: str) -> pa.Table:
    return pa.Table.from_pylist(
        [{"store": "acme", "identifier": i, "order_date": DAY} for i in idents], schema=ORDERS
    )


def test_a_slice_is_replaced_whole(tmp_path):
    lake = Lake(tmp_path)
    path = lake.write_slice("orders", rows("1", "2"), "acme", DAY)
    assert path == tmp_path / "lake" / "orders" / "store=acme" / "date=2026-05-01" / "part.parquet"
    lake.write_slice("orders", rows("3"), "acme", DAY)
    assert pq.read_table(path).column("identifier").to_pylist() == ["3"]
    lake.write_slice("orders", rows(), "acme", DAY)
    assert pq.read_table(path).num_rows == 0
    assert [p.name for p in path.parent.iterdir()] == ["part.parquet"]


def test_slices_written_together_are_left_as_they_were_when_one_fails(tmp_path):
    """An orders slice is never newer than its order_items: until both are written whole,
    neither replaces its slice, and no temporary file stays."""
    from tjar_pipelines.lake.tables import ORDER_ITEMS

    lake = Lake(tmp_path)
    paths = lake.write_slices(
        {"orders": rows("1"), "order_items": ORDER_ITEMS.empty_table()}, "acme", DAY
    )

    def failing_items():
        yield ORDER_ITEMS.empty_table()
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space"):
        lake.write_slices({"orders": rows("2"), "order_items": failing_items()}, "acme", DAY)
    assert pq.read_table(paths["orders"]).column("identifier").to_pylist() == ["1"]
    for path in paths.values():
        assert [p.name for p in path.parent.iterdir()] == ["part.parquet"]


def test_a_slice_its_rename_and_a_new_day_folder_are_synced_to_disk(tmp_path, monkeypatch):
    """A reported materialization must outlive a power cut: the file, the rename (its folder)
    and the new folders of a first slice of a day (their parents) are synced."""
    import os

    from tjar_pipelines.lake import files

    synced: list[str] = []
    fsync = os.fsync

    def recording(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        fsync(fd)

    lake = Lake(tmp_path)
    lake.write_slice("orders", rows("1"), "acme", DAY)  # the store's folder exists
    monkeypatch.setattr(files.os, "fsync", recording)
    path = lake.write_slice("orders", rows("2"), "acme", DAY + dt.timedelta(days=1))
    day_folder, store_folder = path.parent, path.parent.parent
    assert str(day_folder) in synced and str(store_folder) in synced
    assert any(s.startswith(str(day_folder / ".part.parquet.")) for s in synced)


def test_slices_are_cast_to_the_table_schema(tmp_path):
    lake = Lake(tmp_path)
    loose = pa.table(
        {
            name: pa.nulls(1, type=field.type)
            for name, field in zip(ORDERS.names, ORDERS, strict=True)
        }
    )
    assert pq.read_table(lake.write_slice("orders", loose, "acme", DAY)).schema.equals(ORDERS)
    with pytest.raises(ValueError, match="need a day"):
        lake.slice_path("orders", "acme")
    with pytest.raises(ValueError, match="unknown lake table"):
        lake.table_dir("customers")


def test_views_work_before_any_sync_and_are_written_once(tmp_path):
    warehouse = Warehouse(Lake(tmp_path))
    assert warehouse.ensure_views() is True
    assert warehouse.ensure_views() is False
    with warehouse.connect() as con:
        for table in ("orders", "order_items", "products", "daily_sales", "product_sales"):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchall() == [(0,)]


def test_a_database_held_by_another_writer_gives_a_clear_error(tmp_path):
    warehouse = Warehouse(Lake(tmp_path), lock_timeout=0.3, sleep=lambda _: None)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(warehouse.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(RuntimeError, match="held open by another process"):
            warehouse.ensure_views()
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert warehouse.ensure_views() is True
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM orders").fetchall() == [(0,)]


HOLDER = """
import duckdb, sys
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
"""


def test_syncs_of_one_store_take_turns_and_others_do_not_wait(tmp_path):
    """Lake.syncing: a second sync of the same store and table says it waits, then waits;
    another store, or another table of the same store, goes at once. A process that dies
    holding it (here: a child killed) lets the next one in."""
    import threading

    lake = Lake(tmp_path)
    order: list[str] = []
    waited = threading.Event()

    def second() -> None:
        with lake.syncing("orders", "acme", waiting=waited.set):
            order.append("second")

    with lake.syncing("orders", "acme"):
        with lake.syncing("orders", "zen"), lake.syncing("products", "acme"):
            pass  # neither waits for the held lock
        thread = threading.Thread(target=second)
        thread.start()
        assert waited.wait(10)
        order.append("first")
    thread.join(10)
    assert order == ["first", "second"]
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_AND_WAIT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        holder.kill()
        holder.wait(10)
        with lake.syncing("orders", "acme", waiting=lambda: pytest.fail("still locked")):
            pass
    finally:
        holder.kill()
        holder.wait(10)


def test_a_sync_waits_for_a_held_store_a_bounded_time_then_says_who_holds_it(tmp_path):
    from tjar_pipelines.lake.files import StoreBusyError

    lake = Lake(tmp_path)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with lake.syncing("orders", "acme"):
        with pytest.raises(StoreBusyError) as err:
            with lake.syncing("orders", "acme", timeout_s=60, sleep=sleep, clock=lambda: now[0]):
                pytest.fail("entered a held lock")
    assert 60 <= now[0] <= 61
    assert "store acme: another run has been syncing its orders for over 60 s" in str(
        err.value
    ) and "orders-acme.lock" in str(err.value)
    with lake.syncing("orders", "acme", waiting=lambda: pytest.fail("still locked")):
        pass


def test_sales_builds_of_one_store_take_turns(tmp_path, monkeypatch):
    import threading

    from tjar_pipelines import ingest

    lake = Lake(tmp_path)
    waited = threading.Event()
    monkeypatch.setattr(ingest, "_waiting", lambda store, what: waited.set())
    with lake.syncing("daily_sales", "acme"):
        build = threading.Thread(target=ingest.build_sales, args=(lake, "acme", "daily_sales"))
        build.start()
        assert waited.wait(10)
        assert not lake.slice_path("daily_sales", "acme").exists()
    build.join(10)
    assert lake.slice_path("daily_sales", "acme").exists()


LOCK_AND_WAIT = """
import sys, time
from tjar_pipelines.lake.files import Lake
with Lake(sys.argv[1]).syncing("orders", "acme"):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_sweep_removes_only_old_leftovers(tmp_path):
    import os
    import time

    lake = Lake(tmp_path)
    folder = lake.slice_path("orders", "acme", DAY).parent
    folder.mkdir(parents=True)
    old, fresh = folder / ".part.parquet.abc.tmp", folder / ".part.parquet.def.tmp"
    old_spool, fresh_spool = lake.spool_dir("acme") / "abc", lake.spool_dir("acme") / "def"
    for path in (old_spool, fresh_spool):
        (path / "rows").mkdir(parents=True)
        (path / "orders.parquet").write_bytes(b"z")
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    for path in (old, old_spool):
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    running = lake.spool_dir("acme") / "running"  # a sync that has run for over an hour
    running.mkdir()
    lock = hold_lock(running)
    os.utime(running, (time.time() - 7200, time.time() - 7200))
    assert lake.sweep("acme") == 2
    assert not old.exists() and fresh.exists()
    assert not old_spool.exists() and (fresh_spool / "orders.parquet").exists()
    assert running.exists(), "a spool whose lock is held is in use, however old"
    lock.close()  # as when its process dies
    assert lake.sweep("acme") == 1 and not running.exists()


def test_product_sales_names_a_product_the_same_whatever_the_row_order(tmp_path):
    from tjar_pipelines.ingest import build_sales
    from tjar_pipelines.lake.tables import ORDER_ITEMS

    lake = Lake(tmp_path)
    lake.ensure()
    lake.write_slice("orders", rows("1", "2"), "acme", DAY)
    lines = [
        {"store": "acme", "order_identifier": order, "line_number": 1, "product_id": "7",
         "name": name, "qty": 1, "order_date": DAY}
        for order, name in (("1", "Dates"), ("2", "Gift card"))
    ]  # fmt: skip
    names = set()
    for ordered in (lines, lines[::-1]):
        lake.write_slice(
            "order_items", pa.Table.from_pylist(ordered, schema=ORDER_ITEMS), "acme", DAY
        )
        build_sales(lake, "acme", "product_sales")
        names |= {
            r["name"] for r in pq.read_table(lake.slice_path("product_sales", "acme")).to_pylist()
        }
    assert names == {"Gift card"}  # the latest line (order 2) names it, in both orders
