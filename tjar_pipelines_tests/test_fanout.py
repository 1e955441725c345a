"""Stores of one run at once: every store tried, failures named, a termination acted on at once."""

from __future__ import annotations

import _thread
import threading

import dagster as dg
import pytest

from tjar_pipelines.assets.fanout import INTERRUPTED, per_store
from tjar_pipelines.client import TjarAuthError


def test_results_come_in_the_order_of_the_stores_at_most_max_workers_at_once():
    running, most = [0], [0]
    lock = threading.Lock()

    def work(store: str) -> str:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        threading.Event().wait(0.01)
        with lock:
            running[0] -= 1
        return store.upper()

    stores = [f"s{n}" for n in range(7)]
    assert per_store(stores, work, max_workers=3) == [s.upper() for s in stores]
    assert 1 <= most[0] <= 3


def test_every_store_is_tried_and_the_failure_names_each_failed_one():
    tried: list[str] = []

    def work(store: str) -> str:
        tried.append(store)
        if store == "bad":
            raise RuntimeError("store bad: the store answered 500 five times")
        if store == "denied":
            raise TjarAuthError(
                "rejected", store="denied", method="GET", path="/orders", advice="Fix the key."
            )
        return store

    with pytest.raises(dg.Failure) as caught:
        per_store(["a", "bad", "b", "denied"], work, max_workers=2)
    assert sorted(tried) == ["a", "b", "bad", "denied"]
    assert caught.value.description is not None
    assert caught.value.description.startswith("2 of 4 stores failed (store bad: ")
    assert "[store denied] GET /orders: rejected" in caught.value.description
    assert caught.value.allow_retries  # one of them was transient


def test_a_terminated_run_goes_on_at_once_and_starts_no_other_store():
    """Dagster terminates a run by interrupting its thread. A store waiting (for another run's
    lock on it, say) must not hold the run, nor may the stores not yet begun start."""
    started, release = threading.Event(), threading.Event()
    begun: list[str] = []
    threads: list[threading.Thread] = []

    def work(store: str) -> str:
        begun.append(store)
        threads.append(threading.current_thread())
        started.set()
        release.wait(60)
        return store

    def terminate() -> None:
        assert started.wait(60)
        _thread.interrupt_main()

    terminator = threading.Thread(target=terminate)
    terminator.start()
    try:
        with pytest.raises(dg.Failure) as caught:
            per_store(["waiting", "next"], work, max_workers=1)
        assert threads[0].is_alive()  # the interrupt did not wait for the store
        assert caught.value.description == INTERRUPTED
        assert not caught.value.allow_retries  # Dagster would run the step again
        assert isinstance(caught.value.__cause__, KeyboardInterrupt)
    finally:
        release.set()
        terminator.join(60)
        for thread in threads:
            thread.join(60)
    assert begun == ["waiting"]
    assert all(thread.daemon for thread in threads)
