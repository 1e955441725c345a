"""Sync stores now, through the same Dagster definitions the UI and the schedules use.

Orders are synced in runs of a month per store (a few days left over join the last month),
then products, then the analyst assets.
Runs go to the Dagster instance of DAGSTER_HOME when it is set (so they show in the UI), else
to a throwaway one. Prints each run as it goes (its stores and days, then the rows written per
table and the seconds taken, or why it failed, and the run's warnings), then the rows per store.
Exits non-zero if any run failed; Ctrl-C (or the run's termination) stops the sync at the run
it interrupts, with exit code 130.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import re
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from tjar_pipelines.assets.run_log import into_run_log
from tjar_pipelines.cli_options import add_stores_and_days, check_day_range

ASSETS = ("orders", "order_items", "products", "daily_sales", "product_sales")


@dataclass(frozen=True, slots=True)
class Step:
    """One run: a job over some stores (and, for orders, some days)."""

    stores: tuple[str, ...]
    job: str
    first: dt.date | None = None
    last: dt.date | None = None

    @property
    def who(self) -> str:
        """The run's stores: ``acme``, or ``demo-1..demo-3`` for neighbours of the registry."""
        return self.stores[0] if len(self.stores) == 1 else f"{self.stores[0]}..{self.stores[-1]}"

    def label(self, width: int = 12) -> str:
        days = f" {self.first}..{self.last}" if self.first else ""
        return f"{self.who:<{width}} {self.job:<13}{days}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_stores_and_days(
        parser,
        stores="store to sync (repeatable; default: every store)",
        first="first day of orders (default: each store's start_date)",
        last="last day of orders (default: each store's today)",
    )
    parser.add_argument(
        "--assets",
        default=",".join(ASSETS),
        metavar="NAME,...",
        help="comma-separated assets to sync (default: all of them)",
    )


def plan(registry, stores: Sequence[str], assets: set[str], first, last, now) -> list[Step]:
    """The runs that sync ``assets`` of ``stores``, in order.

    Stores that sit next to each other in the registry share runs (a run covers a rectangle
    of days x stores, and reads its stores at the same time); each block of neighbours gets
    its own runs.
    """
    from tjar_pipelines.assets.orders import MAX_DAYS_PER_RUN
    from tjar_pipelines.ingest import windows

    order = registry.slugs
    groups: list[tuple[str, ...]] = []
    previous = -2
    for position in sorted({order.index(s) for s in stores}):
        if position == previous + 1:
            groups[-1] += (order[position],)
        else:
            groups.append((order[position],))
        previous = position
    steps: list[Step] = []
    for group in groups:
        members = [registry.get(slug) for slug in group]
        if assets & {"orders", "order_items"}:
            start = first or min(m.start_date for m in members)
            end = last or max(now.astimezone(ZoneInfo(m.timezone)).date() for m in members)
            steps += [
                Step(group, "orders_job", a, b) for a, b in windows(start, end, MAX_DAYS_PER_RUN)
            ]
        if "products" in assets:
            steps.append(Step(group, "products_job"))
        if assets & {"daily_sales", "product_sales"}:
            steps.append(Step(group, "sales_job"))
    return steps


def run(args: argparse.Namespace) -> int:
    from tjar_pipelines.relaxed_gc import frozen_start

    assets = {a.strip() for a in args.assets.split(",") if a.strip()}
    if unknown := assets - set(ASSETS):
        raise ValueError(f"unknown assets {sorted(unknown)}; choose from {', '.join(ASSETS)}")
    check_day_range(args.first, args.last)
    with frozen_start():
        import dagster as dg

        from tjar_pipelines.definitions import build_definitions
        from tjar_pipelines.schedules import RANGE_END, RANGE_START, order_day_key
        from tjar_pipelines.settings import Settings
        from tjar_pipelines.stores import load_registry

        settings = Settings.from_env()
        registry = load_registry(settings.stores_file)
        stores = args.store or registry.slugs
        for slug in stores:
            registry.get(slug)
        defs = build_definitions(registry, settings)
        instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
        throwaway = instance is None
        instance = instance or dg.DagsterInstance.ephemeral()
    steps = plan(registry, stores, assets, args.first, args.last, dt.datetime.now(dt.UTC))
    width = max((len(step.who) for step in steps), default=0)
    # Dagster logs a failed step with its traceback; without --verbose the FAILED line says it.
    verbose = getattr(args, "verbose", False)
    log_level = "WARNING" if verbose else "CRITICAL"
    rows: dict[tuple[str, str], int] = defaultdict(int)
    failed = attempted = 0
    interrupted = False
    started = time.perf_counter()
    print(f"Syncing {len(stores)} store(s) in {len(steps)} run(s) into {settings.data_dir}/")
    for n, step in enumerate(steps, start=1):
        # The run's stores and days first, so a long run shows what it is busy with.
        print(f"[{n}/{len(steps)}] {step.label(width)}  ", end="", flush=True)
        job = defs.resolve_job_def(step.job)
        selection = [dg.AssetKey(a) for a in sorted(assets)] if step.job == "sales_job" else None
        kwargs: dict = {
            "instance": instance,
            "raise_on_error": False,
            "run_config": {"loggers": {"console": {"config": {"log_level": log_level}}}},
        }
        if step.first and step.last:
            kwargs["tags"] = {
                RANGE_START: order_day_key(step.first, step.stores[0]),
                RANGE_END: order_day_key(step.last, step.stores[-1]),
            }
        elif len(step.stores) == 1:
            kwargs["partition_key"] = step.stores[0]
        else:
            kwargs["tags"] = {RANGE_START: step.stores[0], RANGE_END: step.stores[-1]}
        if selection:
            kwargs["asset_selection"] = [
                k for k in selection if k.path[0] in ("daily_sales", "product_sales")
            ]
        t0 = time.perf_counter()
        with (
            _planned_once_per_asset() if throwaway else contextlib.nullcontext(),
            _warnings() as warnings,
        ):
            result = job.execute_in_process(**kwargs)
        took = time.perf_counter() - t0
        counts: dict[tuple[str, str], int] = {}
        for event in result.get_asset_materialization_events():
            materialization = event.step_materialization_data.materialization
            table = materialization.asset_key.path[-1]
            by_store = materialization.metadata.get("rows_by_store")
            # A ranged run reports one event per partition, each with the run's totals.
            for store, count in (getattr(by_store, "value", None) or {}).items():
                counts[(store, table)] = int(count)
        for key, count in counts.items():
            rows[key] += count
        if result.success:
            totals: dict[str, int] = defaultdict(int)
            for (_, table), count in counts.items():
                totals[table] += count
            shown = ", ".join(f"{k} {v}" for k, v in totals.items())
            print(f"ok  {shown} ({took:.1f}s)", flush=True)
        else:
            failed += 1
            reason = _failure(result)
            print(f"FAILED ({took:.1f}s): {reason}", flush=True)
            interrupted = reason == INTERRUPTED
        for warning in [] if verbose else warnings:  # --verbose: Dagster's log shows them
            print(f"    warning: {warning}", flush=True)
        attempted = n
        if interrupted:
            break
    print(_summary(rows, stores, assets))
    elapsed = time.perf_counter() - started
    print(
        f"{attempted - failed} of {len(steps)} runs succeeded in {elapsed:.1f}s"
        + (f"; interrupted, {len(steps) - attempted} not started" if interrupted else "")
    )
    if interrupted:
        return 130  # as a shell reports a command that Ctrl-C ended
    return 1 if failed else 0


@contextlib.contextmanager
def _planned_once_per_asset() -> Iterator[None]:
    """Dagster announces a run's planned materializations once per asset, not per partition.

    That is about 1 ms less per partition of a ranged run. Only for the throwaway instance:
    in a real one, the per-partition events are what marks the partitions of a failed run as
    failed in the UI.
    """
    name = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
    before = os.environ.get(name)
    os.environ[name] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


INTERRUPTED = "interrupted (Ctrl-C, or the run was terminated): the sync stops here"
_INTERRUPTS = ("DagsterExecutionInterruptedError", "KeyboardInterrupt")


def _failure(result) -> str:
    """The error of the run's first failed step on one line, as ``Failure: <message>``.

    ``INTERRUPTED`` when any step was interrupted: the slices the run had replaced stay, the
    others are as they were.
    """
    errors = [
        event.step_failure_data.error
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error
    ]
    if any(cause.cls_name in _INTERRUPTS for error in errors for cause in _chain(error)):
        return INTERRUPTED
    if not errors:
        return "run failed (--verbose shows Dagster's log of it)"
    error = errors[0]
    while error.cause is not None and "DagsterExecutionStepExecutionError" in error.cls_name:
        error = error.cause
    message = " ".join(error.message.split())
    # The message starts with the exception's dotted class path; the name is enough.
    message = re.sub(rf"^[\w.]*\b{re.escape(error.cls_name)}: ", "", message)
    return f"{error.cls_name}: {message}"


def _chain(error):
    """The error and the errors it was raised from, outermost first."""
    while error is not None:
        yield error
        error = error.cause


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(" ".join(record.getMessage().split()))


@contextlib.contextmanager
def _warnings() -> Iterator[list[str]]:
    """The warnings the client and the lake log during the block, one line each.

    Retries, orders listed under other days...: without ``--verbose`` the run's console logger
    hides them (see ``log_level``), so the sync prints them under the run's line once it ends.
    """
    kept = _Kept()
    warnings = logging.Logger("tjar_pipelines.sync", logging.WARNING)  # not registered
    warnings.addHandler(kept)
    with into_run_log(warnings):
        yield kept.lines


def _summary(rows: dict[tuple[str, str], int], stores: Sequence[str], assets: set[str]) -> str:
    tables = [a for a in ASSETS if a in assets]
    width = max([12, *(len(s) + 2 for s in stores)])
    header = f"{'store':<{width}}" + "".join(f"{t:>14}" for t in tables)
    lines = [
        f"{s:<{width}}" + "".join(f"{rows.get((s, t), 0):>14}" for t in tables) for s in stores
    ]
    return "\n".join([header, "-" * len(header), *lines])
