"""Schedules: one run request per store (or per month of days), with stable run keys."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from tjar_pipelines.definitions import build_definitions
from tjar_pipelines.schedules import RANGE_END, RANGE_START
from tjar_pipelines.settings import Settings
from tjar_pipelines.stores import parse_registry

REGISTRY = parse_registry(
    {
        "stores": [
            {
                "slug": "acme",
                "domain": "a.sa",
                "api_key_env": "A",
                "timezone": "Asia/Riyadh",
                "start_date": "2026-01-01",
            },
            {
                "slug": "zen",
                "domain": "z.sa",
                "api_key_env": "Z",
                "timezone": "America/New_York",
                "start_date": "2026-01-01",
            },
            {"slug": "new-shop", "domain": "n.sa", "api_key_env": "N", "start_date": "2026-05-09"},
        ]
    }
)
SETTINGS = Settings(stores_file=Path("stores.yaml"), data_dir=Path("data"))
TICK = dt.datetime(2026, 5, 10, 1, 5, tzinfo=dt.UTC)  # 04:05 in Riyadh, still May 9 in New York


def evaluate(
    name: str, tick: dt.datetime = TICK, settings: Settings = SETTINGS
) -> list[dg.RunRequest]:
    defs = build_definitions(REGISTRY, settings)
    schedule = defs.resolve_schedule_def(name)
    repository = defs.get_repository_def()
    with dg.build_schedule_context(
        scheduled_execution_time=tick, repository_def=repository
    ) as context:
        result = schedule.evaluate_tick(context)
    return list(result.run_requests or [])


def ranges(requests: list[dg.RunRequest]) -> dict[str, tuple[str, str]]:
    out = {}
    for r in requests:
        if r.partition_key:
            day, store = str(r.partition_key).split("|")
            out[store] = (day, day)
        else:
            start, end = r.tags[RANGE_START], r.tags[RANGE_END]
            out[start.split("|")[1]] = (start.split("|")[0], end.split("|")[0])
    return out


def test_hourly_covers_each_store_today_and_lookback_in_its_own_zone():
    requests = evaluate("orders_hourly")
    assert ranges(requests) == {
        "acme": ("2026-05-07", "2026-05-10"),
        "zen": ("2026-05-06", "2026-05-09"),
        "new-shop": ("2026-05-09", "2026-05-10"),  # never before the store's start_date
    }


def test_run_keys_are_stable_and_distinct():
    first, again = evaluate("orders_hourly"), evaluate("orders_hourly")
    assert [r.run_key for r in first] == [r.run_key for r in again]
    assert len({r.run_key for r in first}) == len(first) == 3
    later = evaluate("orders_hourly", TICK + dt.timedelta(hours=1))
    assert not {r.run_key for r in first} & {r.run_key for r in later}


def test_nightly_reconciliation_covers_thirty_days_in_one_run_per_store():
    requests = evaluate("orders_nightly_reconciliation")
    got = ranges(requests)
    assert got["acme"] == ("2026-04-10", "2026-05-10") and len(requests) == 3


@pytest.mark.parametrize("name", ["products_daily", "sales_hourly"])
def test_store_schedules_request_one_run_per_store(name):
    requests = evaluate(name)
    assert sorted(str(r.partition_key) for r in requests) == ["acme", "new-shop", "zen"]
    assert len({r.run_key for r in requests}) == 3


def test_a_long_lookback_is_split_into_month_runs():
    settings = Settings(
        stores_file=SETTINGS.stores_file, data_dir=SETTINGS.data_dir, lookback_days=70
    )
    requests = evaluate("orders_hourly", settings=settings)
    acme = [
        r for r in requests if (r.tags.get(RANGE_START) or str(r.partition_key)).endswith("acme")
    ]
    assert len(acme) == 3  # 71 days in runs of at most 31


def test_freshness_runs_every_hour_with_a_stable_key():
    [request] = evaluate("freshness_hourly")
    assert request.run_key == f"freshness:{TICK.isoformat()}"
