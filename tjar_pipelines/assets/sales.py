"""Analyst assets: ``daily_sales`` and ``product_sales`` per store, computed from the lake."""

import datetime as dt
import warnings
from collections.abc import Sequence

import dagster as dg
import pyarrow.parquet as pq

from tjar_pipelines.assets.run_log import into_run_log
from tjar_pipelines.ingest import build_sales
from tjar_pipelines.lake.files import Lake
from tjar_pipelines.metadata import markdown_table, revenue_chart
from tjar_pipelines.resources import LakeResource


def upstream() -> list[dg.AssetDep]:
    """The orders and order_items partitions of every day of the same store."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # stable in practice since 1.5
        by_store = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="store")
    return [
        dg.AssetDep("orders", partition_mapping=by_store),
        dg.AssetDep("order_items", partition_mapping=by_store),
    ]


def _materialize(context: dg.AssetExecutionContext, lake: LakeResource, table: str):
    storage = lake.lake()
    lake.warehouse().ensure_views()
    rows_by_store: dict[str, int] = {}
    preview: list[dict[str, object]] = []
    for store in context.partition_keys:
        with into_run_log(context.log, context.instance.managed_python_loggers):
            report = build_sales(storage, store, table)
        rows_by_store[store] = report.rows[table]
        preview += report.preview
    metadata = {
        "dagster/row_count": sum(rows_by_store.values()),
        "rows_by_store": rows_by_store,
        "recent" if table == "daily_sales" else "top_products": markdown_table(
            [{k: str(v) for k, v in row.items()} for row in preview[:14]]
        ),
    }
    if table == "daily_sales":
        metadata["revenue_chart"] = revenue_chart(_daily_revenue(storage, context.partition_keys))
    return dg.MaterializeResult(metadata=metadata)


def _daily_revenue(lake: Lake, stores: Sequence[str]) -> list[tuple[str, dt.date, float]]:
    """(store, day, revenue) of the ``daily_sales`` slices just written."""
    rows: list[tuple[str, dt.date, float]] = []
    for store in stores:
        table = pq.ParquetFile(lake.slice_path("daily_sales", store)).read(
            columns=["order_date", "revenue"]  # not pq.read_table: it imports pandas
        )
        days, revenue = table.column("order_date").to_pylist(), table.column("revenue").to_pylist()
        rows += [(store, day, float(amount)) for day, amount in zip(days, revenue, strict=True)]
    return rows


def build_sales_assets(partitions: dg.StaticPartitionsDefinition) -> list[dg.AssetsDefinition]:
    @dg.asset(
        name="daily_sales",
        description="Per store and store-local day: orders, revenue, items sold, average order "
        "value (cancelled orders excluded) and cancelled orders.",
        group_name="analytics",
        kinds={"duckdb", "parquet"},
        owners=["team:analytics"],
        partitions_def=partitions,
        deps=upstream(),
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
        deps=upstream(),
    )
    def product_sales(
        context: dg.AssetExecutionContext, lake: LakeResource
    ) -> dg.MaterializeResult:
        return _materialize(context, lake, "product_sales")

    return [daily_sales, product_sales]
