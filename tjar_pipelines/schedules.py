"""Schedules covering every store of the registry, with run keys derived from the tick time."""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,  # the type define_asset_job returns; not exported by dagster
)

from tjar_pipelines.assets.orders import MAX_DAYS_PER_RUN
from tjar_pipelines.ingest import windows
from tjar_pipelines.jobs import orders_job, products_job, sales_job
from tjar_pipelines.settings import Settings
from tjar_pipelines.stores import Registry, Store

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def order_day_key(day: dt.date, slug: str) -> str:
    return dg.MultiPartitionKey({"date": day.isoformat(), "store": slug})


def order_run_requests(
    registry: Registry, tick: dt.datetime, days_back: int, kind: str
) -> list[dg.RunRequest]:
    """Runs covering each store's today and ``days_back``: one per month of days (``windows``)."""
    requests = []
    for store in registry.stores:
        today = tick.astimezone(ZoneInfo(store.timezone)).date()
        first = max(today - dt.timedelta(days=days_back), store.start_date)
        for start, end in windows(first, today, MAX_DAYS_PER_RUN):
            requests.append(_order_request(store, start, end, f"{kind}:{tick.isoformat()}"))
    return requests


def _order_request(store: Store, first: dt.date, last: dt.date, tick: str) -> dg.RunRequest:
    run_key = f"{tick}:{store.slug}:{first}:{last}"
    if first == last:
        return dg.RunRequest(run_key=run_key, partition_key=order_day_key(first, store.slug))
    return dg.RunRequest(
        run_key=run_key,
        tags={
            RANGE_START: order_day_key(first, store.slug),
            RANGE_END: order_day_key(last, store.slug),
        },
    )


def store_run_requests(registry: Registry, tick: dt.datetime, kind: str) -> list[dg.RunRequest]:
    return [
        dg.RunRequest(run_key=f"{kind}:{tick.isoformat()}:{s.slug}", partition_key=s.slug)
        for s in registry.stores
    ]


def build_schedules(
    registry: Registry, settings: Settings, freshness: UnresolvedAssetJobDefinition
) -> list[dg.ScheduleDefinition]:
    @dg.schedule(
        job=orders_job,
        cron_schedule="5 * * * *",
        name="orders_hourly",
        description=f"Every hour: syncs each store's orders of today and the "
        f"{settings.lookback_days} days before it, in the store's time zone (changes to older "
        "orders are only found by re-reading their day).",
    )
    def orders_hourly(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        return order_run_requests(
            registry, context.scheduled_execution_time, settings.lookback_days, "hourly"
        )

    @dg.schedule(
        job=orders_job,
        cron_schedule="30 0 * * *",
        execution_timezone="Asia/Riyadh",
        name="orders_nightly_reconciliation",
        description=f"Every night: re-syncs each store's orders of the last "
        f"{settings.reconcile_days} days, to catch late status and payment changes.",
    )
    def orders_nightly(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        return order_run_requests(
            registry, context.scheduled_execution_time, settings.reconcile_days, "nightly"
        )

    @dg.schedule(
        job=products_job,
        cron_schedule="0 3 * * *",
        execution_timezone="Asia/Riyadh",
        name="products_daily",
        description="Every night: syncs each store's whole product catalogue.",
    )
    def products_daily(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        return store_run_requests(registry, context.scheduled_execution_time, "products")

    @dg.schedule(
        job=sales_job,
        cron_schedule="35 * * * *",
        name="sales_hourly",
        description="Every hour, half an hour after orders_hourly: recomputes daily_sales and "
        "product_sales of each store from the lake.",
    )
    def sales_hourly(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        return store_run_requests(registry, context.scheduled_execution_time, "sales")

    @dg.schedule(
        job=freshness,
        cron_schedule="50 * * * *",
        name="freshness_hourly",
        description="Every hour: runs the per-store freshness checks, so a store whose orders "
        "stopped syncing shows a failed check.",
    )
    def freshness_hourly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return dg.RunRequest(run_key=f"freshness:{context.scheduled_execution_time.isoformat()}")

    return [orders_hourly, orders_nightly, products_daily, sales_hourly, freshness_hourly]
