"""The asset checks pass on good slices and fail on bad ones."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pyarrow as pa

from tjar_pipelines.checks import (
    build_freshness_checks,
    order_check_results,
    product_check_results,
)
from tjar_pipelines.ingest import SyncReport, Window
from tjar_pipelines.lake.files import Lake
from tjar_pipelines.lake.tables import ORDER_ITEMS, ORDERS, PRODUCTS
from tjar_pipelines.resources import LakeResource

DAY = dt.date(2026, 5, 1)
NOW = dt.datetime.now(dt.UTC)


def orders(
    *idents: str | None,
    day: dt.date | None = DAY,
    synced: dt.datetime = NOW,
    lines: dict[str, int] | None = None,
) -> pa.Table:
    rows = [
        {
            "store": "acme",
            "identifier": i,
            "order_date": day,
            "synced_at": synced,
            "item_count": (lines or {}).get(i or "", 0),
        }
        for i in idents
    ]
    return pa.Table.from_pylist(rows, schema=ORDERS)


def items(*keys: tuple[str, int]) -> pa.Table:
    rows = [{"store": "acme", "order_identifier": o, "line_number": n} for o, n in keys]
    return pa.Table.from_pylist(rows, schema=ORDER_ITEMS)


def results(
    lake: Lake, reported: int | None = None, rows: int = 2
) -> dict[str, dg.AssetCheckResult]:
    report = SyncReport(store="acme", windows=[Window(DAY, DAY, rows, reported)])
    return {r.check_name or "": r for r in order_check_results(lake, {"acme": [DAY]}, [report])}


def test_good_slices_pass(tmp_path):
    lake = Lake(tmp_path)
    lake.write_slice("orders", orders("1", "2", lines={"1": 2, "2": 1}), "acme", DAY)
    lake.write_slice("order_items", items(("1", 1), ("1", 2), ("2", 1)), "acme", DAY)
    checks = results(lake, reported=2)
    assert all(c.passed for c in checks.values()), checks


def test_a_field_of_a_shape_the_pipeline_cannot_read_warns(tmp_path):
    """The store's API changed the shape of status and total_amount: the columns are null,
    and every other check passes; this one warns, counting them."""
    lake = Lake(tmp_path)
    table = orders("1", "2", "3").to_pylist()
    table[0]["raw"] = '{"status": {"key": "Cancelled"}, "total_amount": {"amount": "15.50"}}'
    table[1]["raw"] = '{"status": {"value": null}, "total_amount": ""}'  # nothing to read
    table[2].update(status="Pending", raw='{"status": {"value": "Pending"}}')
    lake.write_slice("orders", pa.Table.from_pylist(table, schema=ORDERS), "acme", DAY)
    check = results(lake)["order_fields_readable"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["unreadable_status"].value == 1
    assert check.metadata["unreadable_total_amount"].value == 1
    assert check.metadata["unreadable_created_at"].value == 0


def test_orders_and_lines_that_disagree_fail(tmp_path):
    """An order whose lines are not all stored, or lines whose order is not: the two tables
    were not written together."""
    lake = Lake(tmp_path)
    lake.write_slice("orders", orders("1", "2", lines={"1": 2, "2": 1}), "acme", DAY)
    lake.write_slice("order_items", items(("1", 1), ("3", 1)), "acme", DAY)
    check = results(lake)["lines_match_orders"]
    assert not check.passed
    assert check.metadata["orders_with_other_line_counts"].value == 2
    assert check.metadata["orders_missing_for_lines"].value == 1
    lake.write_slice("order_items", items(("1", 1), ("1", 2), ("2", 1)), "acme", DAY)
    assert results(lake)["lines_match_orders"].passed
    # An order without an identifier is not a line without its order.
    lake.write_slice("orders", orders("1", "2", None, lines={"1": 2, "2": 1}), "acme", DAY)
    check = results(lake)["lines_match_orders"]
    assert check.metadata["orders_missing_for_lines"].value == 0


def test_duplicates_nulls_and_a_wrong_total_fail(tmp_path):
    lake = Lake(tmp_path)
    lake.write_slice("orders", orders("1", "1", None), "acme", DAY)
    lake.write_slice("order_items", items(("1", 1), ("1", 1)), "acme", DAY)
    checks = results(lake, reported=5, rows=3)
    assert not checks["unique_order_identifier"].passed
    assert not checks["order_keys_not_null"].passed
    assert not checks["unique_order_line"].passed
    total = checks["matches_api_total"]
    assert not total.passed and total.severity == dg.AssetCheckSeverity.WARN
    lake.write_slice("orders", orders("1", day=None), "acme", DAY)
    assert not results(lake)["order_keys_not_null"].passed


def test_product_check(tmp_path):
    lake = Lake(tmp_path)
    good = pa.Table.from_pylist(
        [{"store": "acme", "identifier": "1"}, {"store": "acme", "identifier": "2"}],
        schema=PRODUCTS,
    )
    lake.write_slice("products", good, "acme")
    assert product_check_results(lake, ["acme"])[0].passed
    bad = pa.Table.from_pylist([{"store": "acme", "identifier": "1"}] * 2, schema=PRODUCTS)
    lake.write_slice("products", bad, "acme")
    assert not product_check_results(lake, ["acme"])[0].passed


def test_freshness_per_store_judges_its_local_today_and_yesterday(tmp_path):
    lake = Lake(tmp_path)
    zone = "Asia/Riyadh"
    today = NOW.astimezone(ZoneInfo(zone)).date()
    stale = NOW - dt.timedelta(hours=5)
    lake.write_slice("orders", orders("1", synced=stale), "acme", today - dt.timedelta(days=3))
    lake.write_slice("orders", orders("1"), "acme", today)
    lake.write_slice("orders", orders("1", synced=stale), "old-shop", today)
    # Just after local midnight: today's slice is not written yet, yesterday's is fresh.
    lake.write_slice("orders", orders("1"), "midnight", today - dt.timedelta(days=1))
    # The hourly sync stopped; a webhook run has just rewritten a day of last month.
    lake.write_slice("orders", orders("1", synced=stale), "masked", today)
    lake.write_slice("orders", orders("1"), "masked", today - dt.timedelta(days=20))
    # No orders these two days: empty slices, written by the hourly sync just now.
    lake.write_slice("orders", orders(), "quiet", today - dt.timedelta(days=1))
    lake.write_slice("orders", orders(), "quiet", today)
    stores = ["acme", "old-shop", "midnight", "masked", "quiet", "never"]
    checks = build_freshness_checks(dict.fromkeys(stores, zone), dt.timedelta(hours=2))
    result = dg.materialize(
        [checks],
        selection=dg.AssetSelection.all_asset_checks(),
        resources={"lake": LakeResource(data_dir=str(tmp_path))},
    )
    outcome = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert outcome == {
        "fresh_acme": True,
        "fresh_old_shop": False,
        "fresh_midnight": True,
        "fresh_masked": False,
        "fresh_quiet": True,
        "fresh_never": False,
    }


def test_a_run_larger_than_the_checks_memory_is_checked_exactly(tmp_path):
    """The checks' DuckDB has a memory limit: beyond it, it spills to disk instead of failing."""
    import duckdb

    lake = Lake(tmp_path)
    path = lake.slice_path("orders", "acme", DAY)
    path.parent.mkdir(parents=True)
    with duckdb.connect() as con:  # 3,000,000 identifiers and one of them twice
        con.execute(
            "COPY (SELECT 'acme' AS store, (i % 3000000)::VARCHAR AS identifier, "
            f"DATE '{DAY}' AS order_date, 0::INTEGER AS item_count, 'x' AS status, "
            "1::DECIMAL(18, 2) AS total_amount, now() AS created_at, '{}' AS raw "
            "FROM range(3000001) t(i)) "
            f"TO '{path}' (FORMAT parquet)"
        )
    lake.write_slice("order_items", items(), "acme", DAY)
    checks = results(lake, rows=3_000_001)
    unique = checks["unique_order_identifier"]
    assert not unique.passed
    assert unique.metadata["rows"].value == 3_000_001
    assert unique.metadata["distinct"].value == 3_000_000


def test_the_checks_duckdb_is_bounded_and_spills_outside_the_working_directory(tmp_path):
    import tempfile
    from pathlib import Path

    from tjar_pipelines.checks import _connect

    with _connect() as con:
        [(limit, threads, scratch)] = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads'), "
            "current_setting('temp_directory')"
        ).fetchall()
    assert (limit, threads) == ("61.0 MiB", 1)  # DuckDB's spelling of 64 MB
    assert Path(scratch).parent == Path(tempfile.gettempdir())
    assert not Path(scratch).exists()  # removed with the connection
