"""Data-quality checks, evaluated on the slices a run has just written.

Each check reads back what is stored (not what was meant to be stored) for exactly the
partitions of the run, and names those partitions in its metadata.
"""

import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb

from tjar_pipelines.ingest import SyncReport
from tjar_pipelines.lake.files import Lake
from tjar_pipelines.resources import LakeResource

ORDER_CHECKS = (
    dg.AssetCheckSpec(
        "unique_order_identifier",
        asset="orders",
        description="No order is stored twice: one row per (store, identifier) in the "
        "partitions the run just wrote.",
    ),
    dg.AssetCheckSpec(
        "order_keys_not_null",
        asset="orders",
        description="Every order the run just wrote has its store, identifier and "
        "order_date (none of them null).",
    ),
    dg.AssetCheckSpec(
        "order_fields_readable",
        asset="orders",
        description="Warning only: every order the run just wrote whose JSON has a status, "
        "total_amount or created_at has it in its column too; a value of a shape the pipeline "
        "cannot read (the store's API changed) is stored as null, and sales would miscount it.",
    ),
    dg.AssetCheckSpec(
        "matches_api_total",
        asset="orders",
        description="Warning only: the orders written for each date window equal the total "
        "the store's API reported for it; a difference means orders were missed or the "
        "store's count is off.",
    ),
    dg.AssetCheckSpec(
        "unique_order_line",
        asset="order_items",
        description="No order line is stored twice: one row per (store, order_identifier, "
        "line_number) in the partitions the run just wrote.",
    ),
    dg.AssetCheckSpec(
        "lines_match_orders",
        asset="order_items",
        description="Every order the run just wrote has as many lines stored as its "
        "item_count says, and no line is stored without its order: orders and their lines "
        "were written together.",
    ),
)
PRODUCT_CHECKS = (
    dg.AssetCheckSpec(
        "unique_product_identifier",
        asset="products",
        description="Every product of the synced stores is stored once, with its store and "
        "identifier (none of them null).",
    ),
)


# The checks' DuckDB: one thread and 64 MB, beyond which it spills to a temporary folder, so
# that checking a run of millions of rows takes bounded memory (unbounded, the checks of a run
# of 1,000,000 orders took 208 MB, within this limit 103 MB; 10 million distinct keys still
# pass within it, more slowly; measured). Less than 64 MB runs out of memory instead of spilling.
CHECK_DUCKDB = {"threads": 1, "memory_limit": "64MB", "preserve_insertion_order": False}


@contextlib.contextmanager
def _connect() -> Iterator[duckdb.DuckDBPyConnection]:
    with (
        tempfile.TemporaryDirectory(prefix="tjar-checks-") as scratch,
        duckdb.connect(config={**CHECK_DUCKDB, "temp_directory": scratch}) as con,
    ):
        yield con


def _files(lake: Lake, table: str, slices: Mapping[str, Sequence[dt.date | None]]) -> list[str]:
    return [
        str(path)
        for store, days in slices.items()
        for day in days
        if (path := lake.slice_path(table, store, day)).exists()
    ]


def _query(files: list[str], sql: str) -> tuple[int, ...]:
    if not files:
        return (0, 0, 0)
    with _connect() as con:
        [row] = con.execute(sql.replace("$files", "read_parquet($f)"), {"f": files}).fetchall()
    return tuple(int(v or 0) for v in row)


def order_check_results(
    lake: Lake, slices: Mapping[str, Sequence[dt.date]], reports: Sequence[SyncReport]
) -> list[dg.AssetCheckResult]:
    """Results of :data:`ORDER_CHECKS` for the (store, day) slices a run wrote."""
    checked = {store: [d.isoformat() for d in days] for store, days in slices.items()}
    orders = _files(lake, "orders", slices)
    items = _files(lake, "order_items", slices)
    rows, distinct, nulls = _query(
        orders,
        "SELECT count(*), count(DISTINCT (store, identifier)), count(*) FILTER "
        "(WHERE store IS NULL OR identifier IS NULL OR order_date IS NULL) FROM $files",
    )
    lines, distinct_lines, _ = _query(
        items,
        "SELECT count(*), count(DISTINCT (store, order_identifier, line_number)), 0 FROM $files",
    )
    mismatched_orders, orphan_lines = _lines_against_orders(orders, items)
    unreadable = _unreadable_fields(orders)
    windows = [
        {
            "store": r.store,
            "from": str(w.first),
            "to": str(w.last),
            "rows": w.rows,
            "reported": w.reported_total,
        }
        for r in reports
        for w in r.windows
    ]
    mismatched = [w for w in windows if w["reported"] is not None and w["rows"] != w["reported"]]
    return [
        dg.AssetCheckResult(
            check_name="unique_order_identifier",
            asset_key="orders",
            passed=rows == distinct,
            metadata={"rows": rows, "distinct": distinct, "partitions": checked},
        ),
        dg.AssetCheckResult(
            check_name="order_keys_not_null",
            asset_key="orders",
            passed=nulls == 0,
            metadata={"rows_with_null_keys": nulls, "partitions": checked},
        ),
        dg.AssetCheckResult(
            check_name="order_fields_readable",
            asset_key="orders",
            passed=not any(unreadable.values()),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                **{f"unreadable_{field}": n for field, n in unreadable.items()},
                "partitions": checked,
            },
        ),
        dg.AssetCheckResult(
            check_name="matches_api_total",
            asset_key="orders",
            passed=not mismatched,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "windows": len(windows),
                "without_total": sum(1 for w in windows if w["reported"] is None),
                "mismatched": mismatched[:20],
            },
        ),
        dg.AssetCheckResult(
            check_name="unique_order_line",
            asset_key="order_items",
            passed=lines == distinct_lines,
            metadata={"rows": lines, "distinct": distinct_lines, "partitions": checked},
        ),
        dg.AssetCheckResult(
            check_name="lines_match_orders",
            asset_key="order_items",
            passed=mismatched_orders == 0 and orphan_lines == 0,
            metadata={
                "orders_with_other_line_counts": mismatched_orders,
                "orders_missing_for_lines": orphan_lines,
                "partitions": checked,
            },
        ),
    ]


def _holds(path: str) -> str:
    """SQL: the order's JSON has a value at ``path``, neither null nor an empty string."""
    return (
        f"(coalesce(json_type(raw, '{path}'), 'NULL') <> 'NULL' "
        f"AND json_extract_string(raw, '{path}') <> '')"
    )


# Columns an analyst's sales depend on, and when the order's JSON holds a value for each. An
# enum is its ``value`` when it is an object (records.enum_value): an object without one is a
# shape the pipeline cannot read, ``{"value": null}`` a status of null.
READ_FIELDS = {
    "status": "CASE json_type(raw, '$.status') WHEN 'OBJECT' THEN "
    "json_type(raw, '$.status.value') IS NULL OR " + _holds("$.status.value") + " "
    "ELSE " + _holds("$.status") + " END",
    "total_amount": _holds("$.total_amount"),
    "created_at": _holds("$.created_at"),
}


def _unreadable_fields(orders: list[str]) -> dict[str, int]:
    """For each of :data:`READ_FIELDS`, the orders with a value the pipeline could not read.

    That is a value in the order's JSON (see :data:`READ_FIELDS`) while its column is null.

    Only rows with a null in one of the columns are looked into, so the orders' JSON is read
    for those alone (none, as a rule).
    """
    if not orders:
        return dict.fromkeys(READ_FIELDS, 0)
    counts = ", ".join(
        f"count(*) FILTER (WHERE {column} IS NULL AND ({holds}))"
        for column, holds in READ_FIELDS.items()
    )
    nulls = " OR ".join(f"{column} IS NULL" for column in READ_FIELDS)
    with _connect() as con:
        [row] = con.execute(
            f"SELECT {counts} FROM read_parquet($f) WHERE {nulls}", {"f": orders}
        ).fetchall()
    return {field: int(n or 0) for field, n in zip(READ_FIELDS, row, strict=True)}


def _lines_against_orders(orders: list[str], items: list[str]) -> tuple[int, int]:
    """Orders whose stored lines are not ``item_count`` of them, and lines without an order."""
    if not orders and not items:
        return 0, 0
    empty = (
        "SELECT NULL::VARCHAR AS store, NULL::VARCHAR AS identifier, 0 AS n, true AS here "
        "WHERE false"
    )
    heads = (
        "SELECT store, identifier, coalesce(item_count, 0) AS n, true AS here "
        "FROM read_parquet($orders)"
    )
    lines = (
        "SELECT store, order_identifier AS identifier, count(*) AS n, true AS here "
        "FROM read_parquet($items) GROUP BY ALL"
    )
    with _connect() as con:
        [(mismatched, orphans)] = con.execute(
            f"WITH o AS ({heads if orders else empty}), l AS ({lines if items else empty}) "
            "SELECT count(*) FILTER (WHERE o.here AND o.n <> coalesce(l.n, 0)),"
            " count(*) FILTER (WHERE l.here AND o.here IS NULL) "
            "FROM o FULL JOIN l ON o.store = l.store AND o.identifier = l.identifier",
            {name: files for name, files in (("orders", orders), ("items", items)) if files},
        ).fetchall()
    return int(mismatched or 0), int(orphans or 0)


def product_check_results(lake: Lake, stores: Sequence[str]) -> list[dg.AssetCheckResult]:
    files = _files(lake, "products", {s: [None] for s in stores})
    rows, distinct, nulls = _query(
        files,
        "SELECT count(*), count(DISTINCT (store, identifier)), "
        "count(*) FILTER (WHERE store IS NULL OR identifier IS NULL) FROM $files",
    )
    return [
        dg.AssetCheckResult(
            check_name="unique_product_identifier",
            asset_key="products",
            passed=rows == distinct and nulls == 0,
            metadata={
                "rows": rows,
                "distinct": distinct,
                "null_keys": nulls,
                "stores": list(stores),
            },
        )
    ]


def freshness_check_name(slug: str) -> str:
    return "fresh_" + slug.replace("-", "_")


def last_synced(lake: Lake, slug: str, days: Sequence[dt.date]) -> dt.datetime | None:
    """When the store's orders of ``days`` were last written, or None if never.

    That is the newest ``synced_at`` of their slices; a slice of a day without orders has no
    rows to say it, so its file's modification time (when the sync put it in place) does.
    """
    files = _files(lake, "orders", {slug: days})
    if not files:
        return None
    with _connect() as con:
        try:
            rows = con.execute(
                "SELECT filename, max(synced_at) FROM read_parquet($f, filename = true) "
                "GROUP BY filename",
                {"f": files},
            ).fetchall()
        except duckdb.IOException:  # a slice replaced or removed between the listing and now
            return None
    synced = {name: when for name, when in rows if when is not None}
    times = []
    for name in files:
        if name in synced:
            times.append(synced[name])
        else:
            with contextlib.suppress(FileNotFoundError):
                times.append(dt.datetime.fromtimestamp(os.stat(name).st_mtime, dt.UTC))
    return max(times, default=None)


def recent_days(timezone: str, now: dt.datetime) -> list[dt.date]:
    """The store's local today and yesterday.

    Every hourly sync writes them, and only their age says whether the sync keeps up: a run of
    an old day, from a webhook or a backfill, says nothing about today's orders.
    """
    today = now.astimezone(ZoneInfo(timezone)).date()
    return [today - dt.timedelta(days=1), today]


def build_freshness_checks(
    timezones: Mapping[str, str], max_age: dt.timedelta
) -> dg.AssetChecksDefinition:
    """One freshness check per store: its orders of its last two local days are recent.

    It passes when they were synced within ``max_age``.

    Args:
        timezones: Each store's slug and IANA zone.
        max_age: The oldest sync that passes.
    """
    specs = [
        dg.AssetCheckSpec(
            freshness_check_name(slug),
            asset="orders",
            description=f"Orders of store {slug} of its local today and yesterday were synced "
            f"within the last {max_age.total_seconds() / 3600:g} hours; fails if they never "
            "were.",
        )
        for slug in timezones
    ]

    @dg.multi_asset_check(specs=specs, can_subset=True, name="orders_freshness")
    def orders_freshness(context: dg.AssetCheckExecutionContext, lake: LakeResource):
        now = dt.datetime.now(dt.UTC)
        for slug, timezone in timezones.items():
            name = freshness_check_name(slug)
            if (
                dg.AssetCheckKey(dg.AssetKey("orders"), name)
                not in context.selected_asset_check_keys
            ):
                continue
            synced = last_synced(lake.lake(), slug, recent_days(timezone, now))
            age = None if synced is None else now - synced
            yield dg.AssetCheckResult(
                check_name=name,
                asset_key="orders",
                passed=age is not None and age <= max_age,
                metadata={
                    "store": slug,
                    "last_synced": str(synced) if synced else "never",
                    "age_minutes": round(age.total_seconds() / 60, 1) if age else -1,
                },
            )

    return orders_freshness
