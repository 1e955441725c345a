"""Asset jobs: one per partitioning, since a job's assets share one partitions definition."""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,  # the type define_asset_job returns; not exported by dagster
)

from tjar_pipelines.checks import ORDER_CHECKS

orders_job = dg.define_asset_job(
    "orders_job",
    # The orders' own checks, not every store's freshness check: syncing one store must not
    # fail the freshness of the stores it did not touch (freshness_job runs those).
    selection=dg.AssetSelection.assets("orders", "order_items").without_checks()
    | dg.AssetSelection.checks(*(spec.key for spec in ORDER_CHECKS)),
    description="Reads the orders and order lines of the selected (store, day) partitions "
    "from the Tjar API, replaces those days in the lake and DuckDB, and checks them.",
)
products_job = dg.define_asset_job(
    "products_job",
    selection=dg.AssetSelection.assets("products"),
    description="Reads the whole product catalogue of the selected stores from the Tjar API "
    "and replaces it in the lake and DuckDB.",
)
sales_job = dg.define_asset_job(
    "sales_job",
    selection=dg.AssetSelection.assets("daily_sales", "product_sales"),
    description="Recomputes daily_sales and product_sales of the selected stores from the "
    "orders already in the lake (no API calls).",
)


def freshness_job(checks: dg.AssetChecksDefinition) -> UnresolvedAssetJobDefinition:
    """Only the per-store freshness checks, so staleness shows even when syncs stop running."""
    return dg.define_asset_job(
        "freshness_job",
        selection=dg.AssetSelection.checks(checks),
        description="Runs only the per-store freshness checks of orders: a store whose orders "
        "were not synced recently gets a failed check.",
    )
