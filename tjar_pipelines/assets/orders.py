"""``orders`` and ``order_items``: partitioned by store and store-local day, read together."""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence

import dagster as dg

from tjar_pipelines.assets.failures import no_retry_for_permanent_errors
from tjar_pipelines.assets.fanout import per_store
from tjar_pipelines.assets.run_log import into_run_log
from tjar_pipelines.checks import ORDER_CHECKS, order_check_results
from tjar_pipelines.ingest import SyncReport, sync_order_days
from tjar_pipelines.metadata import sync_metadata
from tjar_pipelines.resources import LakeResource, TjarResource

# A one-year backfill of one store becomes 12 runs of one month each: few runs, bounded memory.
MAX_DAYS_PER_RUN = 31
OWNERS = ["team:data-engineering"]


def days_by_store(
    partitions: dg.MultiPartitionsDefinition, keys: Sequence[str]
) -> dict[str, list[dt.date]]:
    """The run's (store, day) partitions, grouped by store."""
    grouped: dict[str, list[dt.date]] = defaultdict(list)
    for key in keys:
        dims = partitions.get_partition_key_from_str(key).keys_by_dimension
        grouped[dims["store"]].append(dt.date.fromisoformat(dims["date"]))
    return {store: sorted(days) for store, days in grouped.items()}


def build_order_assets(
    partitions: dg.MultiPartitionsDefinition, retry_policy: dg.RetryPolicy | None = None
) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name="tjar_orders",
        specs=[
            dg.AssetSpec(
                "orders",
                description="One row per order per store, as the Tjar API returns it; "
                "partitioned by store and the order's creation day in the store's time zone.",
                group_name="raw",
                kinds={"python", "parquet", "duckdb"},
                owners=OWNERS,
                metadata={"partition_expr": "(store, order_date)"},
            ),
            dg.AssetSpec(
                "order_items",
                description="One row per line of an order (a product and its quantity, "
                "price and discount), per store; partitioned like orders, by store and the "
                "order's creation day in the store's time zone.",
                group_name="raw",
                kinds={"python", "parquet", "duckdb"},
                owners=OWNERS,
                metadata={"partition_expr": "(store, order_date)"},
            ),
        ],
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_DAYS_PER_RUN),
        check_specs=ORDER_CHECKS,
        retry_policy=retry_policy,
    )
    def tjar_orders(
        context: dg.AssetExecutionContext, tjar: TjarResource, lake: LakeResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        """Reads each store's orders for the run's days and replaces those days' slices."""
        storage = lake.lake()
        lake.warehouse().ensure_views()
        slices = days_by_store(partitions, context.partition_keys)
        for store, days in slices.items():
            context.log.info(f"store {store}: syncing {len(days)} day(s), {days[0]}..{days[-1]}")

        def sync(store: str) -> SyncReport:
            with no_retry_for_permanent_errors(), tjar.get_client(store) as client:
                return sync_order_days(client, storage, slices[store])

        with into_run_log(context.log, context.instance.managed_python_loggers):
            reports = per_store(list(slices), sync, max_workers=tjar.max_concurrent_stores)
        yield dg.MaterializeResult(asset_key="orders", metadata=sync_metadata(reports, "orders"))
        yield dg.MaterializeResult(
            asset_key="order_items", metadata=sync_metadata(reports, "order_items")
        )
        yield from order_check_results(storage, slices, reports)

    return tjar_orders
