"""``products``: each store's whole catalogue, partitioned by store."""

from collections.abc import Iterator

import dagster as dg

from tjar_pipelines.assets.failures import no_retry_for_permanent_errors
from tjar_pipelines.assets.fanout import per_store
from tjar_pipelines.assets.run_log import into_run_log
from tjar_pipelines.checks import PRODUCT_CHECKS, product_check_results
from tjar_pipelines.ingest import SyncReport, sync_products
from tjar_pipelines.metadata import sync_metadata
from tjar_pipelines.resources import LakeResource, TjarResource


def build_product_assets(
    partitions: dg.StaticPartitionsDefinition, retry_policy: dg.RetryPolicy | None = None
) -> dg.AssetsDefinition:
    @dg.asset(
        name="products",
        description="One row per product per store: the store's whole catalogue as of the "
        "last sync; partitioned by store.",
        group_name="raw",
        kinds={"python", "parquet", "duckdb"},
        owners=["team:data-engineering"],
        partitions_def=partitions,
        check_specs=PRODUCT_CHECKS,
        retry_policy=retry_policy,
    )
    def products(
        context: dg.AssetExecutionContext, tjar: TjarResource, lake: LakeResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        storage = lake.lake()
        lake.warehouse().ensure_views()
        stores = list(context.partition_keys)

        def sync(store: str) -> SyncReport:
            with no_retry_for_permanent_errors(), tjar.get_client(store) as client:
                return sync_products(client, storage)

        with into_run_log(context.log, context.instance.managed_python_loggers):
            reports = per_store(stores, sync, max_workers=tjar.max_concurrent_stores)
        yield dg.MaterializeResult(metadata=sync_metadata(reports, "products"))
        yield from product_check_results(storage, stores)

    return products
