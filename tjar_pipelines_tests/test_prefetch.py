"""The page prefetcher: calls in order, errors handed over, nothing left to hold the process."""

from __future__ import annotations

import threading

import pytest

from tjar_pipelines.client.prefetch import Prefetcher


def test_calls_run_in_order_on_one_daemon_thread_and_hand_over_errors():
    prefetcher = Prefetcher()
    threads: list[threading.Thread] = []

    def page(number: int) -> int:
        threads.append(threading.current_thread())
        if number == 3:
            raise RuntimeError("store acme: page 3 failed")
        return number * 10

    futures = [prefetcher.submit(page, n) for n in (1, 2, 3)]
    assert [f.result(10) for f in futures[:2]] == [10, 20]
    with pytest.raises(RuntimeError, match="page 3 failed"):
        futures[2].result(10)
    prefetcher.shutdown()
    assert len(set(threads)) == 1 and threads[0].daemon
    threads[0].join(10)
    assert not threads[0].is_alive()


def test_shutdown_cancels_what_has_not_begun_without_waiting_for_what_has():
    prefetcher = Prefetcher()
    begun, release = threading.Event(), threading.Event()

    def waiting() -> str:  # a Retry-After wait, say
        begun.set()
        release.wait(60)
        return "late"

    under_way = prefetcher.submit(waiting)
    assert begun.wait(10)
    queued = prefetcher.submit(lambda: "never")
    prefetcher.shutdown()  # returns at once
    assert queued.cancelled()
    assert not under_way.done()
    release.set()
    assert under_way.result(10) == "late"
