"""Run metadata built from sync reports (no secrets: reports only hold counts and data)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from tjar_pipelines import charts
from tjar_pipelines.ingest import SyncReport

CHART_DAYS = 30
CHART_STORES = 8


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> dg.MetadataValue:
    if not rows:
        return dg.MetadataValue.md("_no rows_")
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def sync_metadata(reports: Sequence[SyncReport], table: str) -> dict[str, Any]:
    """Rows, pages, requests, retries, 429s, duration and a preview, summed over stores."""
    return {
        "dagster/row_count": sum(r.rows.get(table, 0) for r in reports),
        "rows_by_store": {r.store: r.rows.get(table, 0) for r in reports},
        "pages": sum(r.pages for r in reports),
        "requests": sum(r.requests for r in reports),
        "retries": sum(r.retries for r in reports),
        "throttled_429": sum(r.throttled for r in reports),
        "duration_s": round(sum(r.seconds for r in reports), 3),
        "preview": markdown_table([row for r in reports for row in r.preview][:10]),
    }


def revenue_chart(rows: Sequence[tuple[str, dt.date, float]]) -> dg.MetadataValue:
    """Revenue per day of the run's stores over the last 30 days with sales, as a markdown image.

    The days run up to the last day with sales and start 29 days earlier, or at the first day
    with sales if that is later (days before it were never synced, so they are not shown as
    zero). The image is an SVG ``data:`` URI (the UI's markdown allows them for images), about
    1 KB per store; with many stores, only the ``CHART_STORES`` with the most revenue get a line.
    """
    if not rows:
        return dg.MetadataValue.md("_no sales yet_")
    days = [day for _, day, _ in rows]
    last = max(days)
    first = max(last - dt.timedelta(days=CHART_DAYS - 1), min(days))
    recent = [row for row in rows if row[1] >= first]
    revenue: dict[str, float] = {}
    for store, _, amount in recent:
        revenue[store] = revenue.get(store, 0.0) + amount
    every = sorted({store for store, _, _ in rows})
    shown = sorted(sorted(every, key=lambda s: -revenue.get(s, 0.0))[:CHART_STORES])
    uri = charts.revenue_chart_data_uri(charts.daily_series(recent, first, last, shown))
    note = f" (the {len(shown)} of {len(every)} stores with the most)" if shown != every else ""
    when = f"{first} to {last}" if first < last else f"on {last}"
    return dg.MetadataValue.md(
        f"**Revenue per day, SAR, {when}**{note}\n\n![Revenue per day per store]({uri})"
    )
