"""The webhook sensor: queued Tjar events become runs of exactly the partitions they touch."""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from tjar_pipelines.jobs import orders_job, products_job
from tjar_pipelines.partitions import DAY_TIMEZONE
from tjar_pipelines.schedules import order_day_key
from tjar_pipelines.settings import Settings
from tjar_pipelines.stores import Registry
from tjar_pipelines.webhooks.queue import WebhookQueue
from tjar_pipelines.webhooks.routing import UNKNOWN_STORE, Target, Touched, route

MAX_EVENTS_PER_TICK = 50_000
# Runs that have not begun reading the store: a change made before one starts is read by it.
WAITING = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
]
# A run is created and launched in moments; one not queued after this long (its launch was
# lost with a daemon, say) may never start, so it covers nothing.
STUCK_AFTER = dt.timedelta(minutes=10)


def waiting_partitions(
    instance: dg.DagsterInstance, now: dt.datetime | None = None
) -> set[tuple[str, str]]:
    """The single-partition runs of the webhook sensor's jobs that wait to start.

    As ``(job name, partition key)``; see :data:`WAITING` and :data:`STUCK_AFTER`.
    """
    now = now or dt.datetime.now(dt.UTC)
    waiting: set[tuple[str, str]] = set()
    for job in (orders_job.name, products_job.name):
        filters = dg.RunsFilter(job_name=job, statuses=WAITING)
        for record in instance.get_run_records(filters=filters):
            run = record.dagster_run
            created = record.create_timestamp
            if created.tzinfo is None:  # the run storages keep UTC
                created = created.replace(tzinfo=dt.UTC)
            if run.status != dg.DagsterRunStatus.QUEUED and now - created > STUCK_AFTER:
                continue
            if key := run.tags.get("dagster/partition"):
                waiting.add((job, key))
    return waiting


def run_request(target: Target, touched: Touched, queue_id: str) -> dg.RunRequest:
    """One run for all of a tick's events on one partition.

    The run key names the queue file, the partition and the last event it covers, so a retried
    tick (same events, same cursor) asks for the same run and Dagster launches it once, and a
    new queue file's events, numbered from 1 again, are not taken for ones already run.
    """
    tags = {
        "tjar/webhook_events": str(touched.events),
        "tjar/webhook_seq": f"{touched.first_seq}-{touched.last_seq}",
    }
    if target.kind == "orders":
        assert target.day is not None
        return dg.RunRequest(
            job_name=orders_job.name,
            partition_key=order_day_key(target.day, target.store),
            run_key=f"webhook:{queue_id}:orders:{target.store}:{target.day}:{touched.last_seq}",
            tags=tags,
        )
    return dg.RunRequest(
        job_name=products_job.name,
        partition_key=target.store,
        run_key=f"webhook:{queue_id}:products:{target.store}:{touched.last_seq}",
        tags=tags,
    )


def build_webhook_sensor(registry: Registry, settings: Settings) -> dg.SensorDefinition:
    @dg.sensor(
        name="tjar_webhook_sensor",
        jobs=[orders_job, products_job],
        minimum_interval_seconds=settings.webhook_sensor_interval,
        description="Turns the Tjar webhooks queued by `tjar-pipelines webhooks serve` into runs "
        "of exactly the orders (store, day) and products (store) partitions they touch; the "
        "runs re-read those from the API. Turn it on once the receiver runs.",
    )
    def tjar_webhook_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        queue_id, _, seq = (context.cursor or "").rpartition(":")
        cursor = int(seq) if seq else 0
        with WebhookQueue(settings.queue_path) as queue:
            # A cursor names its queue file (a cursor of an older version, a bare number, is
            # checked against the file's numbers instead): a new file numbers from 1 again.
            if (queue_id and queue_id != queue.queue_id) or cursor > queue.last_seq():
                context.log.warning(
                    f"the webhook queue {settings.queue_path} is not the file the sensor read "
                    f"up to event {cursor}: it was replaced; reading it from its start"
                )
                cursor = 0
            # Events of stores this code location did not know yet (the receiver had the new
            # stores.yaml first) went to the dead letters: now that it knows them, read them.
            queue.requeue(registry.slugs, UNKNOWN_STORE)
            events = queue.read_after(cursor, MAX_EVENTS_PER_TICK)
            latest = dt.datetime.now(ZoneInfo(DAY_TIMEZONE)).date()  # the newest day partition
            routing = route(events, registry, latest)
            # Dead letters are written before the cursor moves past them.
            queue.dead_letter(routing.dead)
            # Only events a finished tick routed go: this tick's may be read again if it fails.
            queue.prune(settings.webhook_retention_days, read_up_to=cursor)
        if routing.dead:
            context.log.warning(
                f"{len(routing.dead)} webhook events went to the dead letters, e.g. "
                f"{routing.dead[0][1]}; see `tjar-pipelines webhooks dead-letters`"
            )
        requests = [run_request(t, hit, queue.queue_id) for t, hit in routing.targets.items()]
        # A partition whose run has not started yet needs no second one: that run reads these
        # changes too. So a busy store's runs do not pile up one per tick behind its lock.
        waiting = waiting_partitions(context.instance) if requests else set()
        covered = [r for r in requests if (r.job_name, r.partition_key) in waiting]
        if covered:
            context.log.info(
                f"{len(covered)} partitions touched again have a run waiting to start, which "
                f"reads their changes: no new run for them, e.g. {covered[0].partition_key}"
            )
            requests = [r for r in requests if (r.job_name, r.partition_key) not in waiting]
        read = max(cursor, routing.last_seq)
        return dg.SensorResult(run_requests=requests, cursor=f"{queue.queue_id}:{read}")

    return tjar_webhook_sensor
