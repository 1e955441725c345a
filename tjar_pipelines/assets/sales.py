"""Analyst assets: ``daily_sales`` and ``product_sales`` per store, computed from the lake."""

from __future__ import annotations

import dagster as dg

from tjar_pipelines.ingest import build_sales
from tjar_pipelines.metadata import markdown_table
from tjar_pipelines.resources import LakeResource

BY_STORE = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="store")
UPSTREAM = [
    dg.AssetDep("orders", partition_mapping=BY_STORE),
    dg.AssetDep("order_items", partition_mapping=BY_STORE),
]


def _materialize(context: dg.AssetExecutionContext, lake: LakeResource, table: str):
    storage = lake.lake()
    lake.warehouse().ensure_views()
    rows = 0
    preview: list[dict[str, object]] = []
    for store in context.partition_keys:
        report = build_sales(storage, store, table)
        rows += report.rows[table]
        preview += report.preview
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "stores": list(context.partition_keys),
            "recent" if table == "daily_sales" else "top_products": markdown_table(
                [{k: str(v) for k, v in row.items()} for row in preview[:14]]
            ),
        }
    )


def build_sales_assets(partitions: dg.StaticPartitionsDefinition) -> list[dg.AssetsDefinition]:
    @dg.asset(
        name="daily_sales",
        description="Per store and store-local day: orders, revenue, items sold, average order "
        "value (cancelled orders excluded) and cancelled orders.",
        group_name="analytics",
        kinds={"duckdb", "parquet"},
        owners=["team:analytics"],
        partitions_def=partitions,
        deps=UPSTREAM,
    )
    def daily_sales(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        return _materialize(context, lake, "daily_sales")

    @dg.asset(
        name="product_sales",
        description="Per store and product: orders, quantity and revenue over all synced days "
        "(cancelled orders excluded), first and last day sold.",
        group_name="analytics",
        kinds={"duckdb", "parquet"},
        owners=["team:analytics"],
        partitions_def=partitions,
        deps=UPSTREAM,
    )
    def product_sales(
        context: dg.AssetExecutionContext, lake: LakeResource
    ) -> dg.MaterializeResult:
        return _materialize(context, lake, "product_sales")

    return [daily_sales, product_sales]
