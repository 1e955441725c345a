"""Long variants of the fault and crash tests: `make soak` (not part of `make test`)."""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tjar_pipelines.client import TjarRetryableError
from tjar_pipelines.simulator import Faults
from tjar_pipelines_tests.conftest import expected_ids, sim_config, spec
from tjar_pipelines_tests.test_faults import read_under_faults

pytestmark = pytest.mark.soak
FIRST = dt.date(2026, 4, 1)


@pytest.mark.parametrize("seed", range(100, 140))
def test_all_faults_many_seeds(simulator, seed):
    faults = Faults(
        rate_limit=4,
        rate_window=1.0,
        error_rate=0.3,
        garble_rate=0.15,
        reset_rate=0.15,
        orders_per_list_request=2,
    )
    try:
        ids, before, after, _ = read_under_faults(
            simulator, faults, seed=seed, orders=3000, first=FIRST, attempts=15
        )
    except TjarRetryableError as exc:  # ~half the requests fail: 15 in a row can happen
        assert str(exc).startswith("[store acme] GET /orders") and exc.attempts == 15
        return
    assert len(ids) == len(set(ids))
    assert before <= set(ids) <= after


def test_sigkill_sync_at_twenty_random_moments(pipeline):
    p = pipeline(sim_config(spec(orders=6000, history_days=40), faults=Faults(latency_ms=3)))
    last = dt.date(2026, 5, 11)
    assert p.sync_orders("acme", FIRST, last).success
    ids = sorted(expected_ids(p.server, "acme", FIRST, last))
    script = Path(sys.executable).with_name("tjar-pipelines")
    rng = random.Random(7)
    for _ in range(20):
        proc = subprocess.Popen(
            [str(script), "sync", "--store", "acme", "--from", str(FIRST), "--to", str(last)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            assert proc.stdout is not None
            proc.stdout.readline()
            time.sleep(rng.uniform(0.0, 4.0))
        finally:
            proc.kill()
            proc.wait(timeout=10)
        assert sorted(r[0] for r in p.query("SELECT identifier FROM orders")) == ids
    assert p.sync_orders("acme", FIRST, last).success
    assert sorted(r[0] for r in p.query("SELECT identifier FROM orders")) == ids
