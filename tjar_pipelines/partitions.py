"""Partitions: one per store, and one per store and day for orders."""

from __future__ import annotations

import dagster as dg

from tjar_pipelines.stores import Registry

# Day keys are store-local calendar days. The daily dimension runs on the zone that reaches a
# new day first (UTC+14), so every store's "today" exists as a partition whatever its zone.
DAY_TIMEZONE = "Etc/GMT-14"


def store_partitions(registry: Registry) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition(registry.slugs)


def store_day_partitions(registry: Registry) -> dg.MultiPartitionsDefinition:
    first = min((s.start_date for s in registry.stores), default=None)
    start = first.isoformat() if first else "2025-01-01"
    return dg.MultiPartitionsDefinition(
        {
            "date": dg.DailyPartitionsDefinition(
                start_date=start, timezone=DAY_TIMEZONE, end_offset=1
            ),
            "store": store_partitions(registry),
        }
    )
