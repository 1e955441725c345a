"""The Dagster code location: the one place that assembles the definitions.

The store registry (``TJAR_STORES_FILE``) is read when Dagster loads the code location, not at
import; adding a store to it and reloading adds its partitions and schedule runs.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from tjar_pipelines.assets.failures import run_retry_policy
from tjar_pipelines.assets.orders import build_order_assets
from tjar_pipelines.assets.products import build_product_assets
from tjar_pipelines.assets.sales import build_sales_assets
from tjar_pipelines.checks import build_freshness_checks
from tjar_pipelines.jobs import freshness_job, orders_job, products_job, sales_job
from tjar_pipelines.partitions import store_day_partitions, store_partitions
from tjar_pipelines.resources import LakeResource, TjarResource
from tjar_pipelines.schedules import build_schedules
from tjar_pipelines.sensors import build_webhook_sensor
from tjar_pipelines.settings import Settings
from tjar_pipelines.stores import Registry, load_registry

FRESHNESS = dt.timedelta(hours=2)


def build_definitions(
    registry: Registry, settings: Settings, *, tjar: TjarResource | None = None
) -> dg.Definitions:
    """Everything Dagster needs for the stores of ``registry``."""
    by_store = store_partitions(registry)
    retries = run_retry_policy(settings.run_retries)
    freshness = build_freshness_checks({s.slug: s.timezone for s in registry.stores}, FRESHNESS)
    freshness_checks_job = freshness_job(freshness)
    return dg.Definitions(
        assets=[
            build_order_assets(store_day_partitions(registry), retries),
            build_product_assets(by_store, retries),
            *build_sales_assets(by_store),
        ],
        asset_checks=[freshness],
        jobs=[orders_job, products_job, sales_job, freshness_checks_job],
        schedules=build_schedules(registry, settings, freshness_checks_job),
        sensors=[build_webhook_sensor(registry, settings)],
        resources={
            "tjar": tjar
            or TjarResource(
                stores_file=str(settings.stores_file),
                requests_per_second=settings.requests_per_second,
                rate_limit_window=settings.rate_limit_window,
                max_concurrent_stores=settings.max_concurrent_stores,
            ),
            "lake": LakeResource(data_dir=str(settings.data_dir)),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    settings = Settings.from_env()
    return build_definitions(load_registry(settings.stores_file), settings)
