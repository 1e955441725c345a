"""Run metadata built from sync reports (no secrets: reports only hold counts and data)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from tjar_pipelines.ingest import SyncReport


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
