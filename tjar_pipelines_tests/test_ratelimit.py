"""The per-store token bucket, on a fake clock."""

from __future__ import annotations

import pytest

from tjar_pipelines.client.ratelimit import BucketRegistry, TokenBucket
from tjar_pipelines_tests.conftest import FakeClock


def bucket(
    clock: FakeClock, rate: float = 2.0, burst: int = 3, window: float = 60.0
) -> TokenBucket:
    return TokenBucket(
        rate=rate, burst=burst, window=window, clock=clock.monotonic, sleep=clock.sleep
    )


def test_burst_then_steady_rate():
    clock = FakeClock()
    b = bucket(clock)
    waits = [b.acquire() for _ in range(7)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:] == pytest.approx([0.5] * 4)


def test_adapts_to_the_limit_the_store_advertises():
    clock = FakeClock()
    b = bucket(clock, rate=100.0, burst=10, window=60.0)
    b.observe({"x-ratelimit-limit": "60", "x-ratelimit-remaining": "0"})
    assert b.rate == pytest.approx(1.0)
    assert b.acquire() == pytest.approx(1.0)  # the store says nothing is left: wait a token


def test_remaining_caps_the_tokens():
    clock = FakeClock()
    b = bucket(clock, rate=1.0, burst=10)
    b.observe({"x-ratelimit-remaining": "2"})
    assert [b.acquire() for _ in range(3)] == pytest.approx([0.0, 0.0, 1.0])


def test_junk_headers_change_nothing():
    b = bucket(FakeClock())
    b.observe({"x-ratelimit-limit": "lots", "x-ratelimit-remaining": ""})
    assert b.rate == 2.0


def test_pause_holds_everyone():
    clock = FakeClock()
    b = bucket(clock)
    b.pause(4.0)
    assert b.acquire() == pytest.approx(4.0)


def test_registry_shares_one_bucket_per_key():
    registry = BucketRegistry()
    clock = FakeClock()
    one = registry.get("acme", lambda: bucket(clock))
    assert registry.get("acme", lambda: bucket(clock)) is one
    assert registry.get("other", lambda: bucket(clock)) is not one
