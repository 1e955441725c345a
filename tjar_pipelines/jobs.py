"""Asset jobs: one per partitioning, since a job's assets share one partitions definition."""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,  # the type define_asset_job returns; not exported by dagster
)

orders_job = dg.define_asset_job(
    "orders_job",
    selection=dg.AssetSelection.assets("orders", "order_items"),
    description="Sync orders and order items of the selected stores and days.",
)
products_job = dg.define_asset_job(
    "products_job",
    selection=dg.AssetSelection.assets("products"),
    description="Sync the catalogue of the selected stores.",
)
sales_job = dg.define_asset_job(
    "sales_job",
    selection=dg.AssetSelection.assets("daily_sales", "product_sales"),
    description="Recompute daily_sales and product_sales of the selected stores.",
)


def freshness_job(checks: dg.AssetChecksDefinition) -> UnresolvedAssetJobDefinition:
    """Only the per-store freshness checks, so staleness shows even when syncs stop running."""
    return dg.define_asset_job(
        "freshness_job",
        selection=dg.AssetSelection.checks(checks),
        description="Check that every store's orders were synced recently.",
    )
