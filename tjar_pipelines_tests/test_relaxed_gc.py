"""The collector is relaxed while any scan runs and exactly restored when the last one ends;
a command's start runs without collections and leaves what it built frozen."""

from __future__ import annotations

import gc
import threading

import pytest

from tjar_pipelines.relaxed_gc import frozen_start, relaxed_gc


def test_nested_and_concurrent_scans_restore_the_collector_once_the_last_ends() -> None:
    before = gc.get_threshold()
    inner_entered, release = threading.Event(), threading.Event()

    def other_scan() -> None:
        with relaxed_gc():
            inner_entered.set()
            release.wait(10)

    with relaxed_gc(threshold=12_345):
        assert gc.get_threshold()[0] == 12_345
        assert gc.get_freeze_count() > 0
        thread = threading.Thread(target=other_scan)
        thread.start()
        assert inner_entered.wait(10)
        with relaxed_gc():
            assert gc.get_threshold()[0] == 12_345
    # The other scan still runs: still relaxed.
    assert gc.get_threshold()[0] == 12_345
    release.set()
    thread.join(10)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_an_error_in_the_block_still_restores_the_collector() -> None:
    before = gc.get_threshold()
    try:
        with relaxed_gc():
            raise KeyError("boom")
    except KeyError:
        pass
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cycles_made_during_the_scan_are_collected_after_it() -> None:
    class Node:
        other: object = None

    with relaxed_gc():
        a, b = Node(), Node()
        a.other, b.other = b, a
        alive = [a]
    del a, b, alive
    gc.collect()
    assert not any(isinstance(o, Node) for o in gc.get_objects())


def test_a_start_runs_without_collections_and_freezes_what_it_made() -> None:
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    frozen_before = gc.get_freeze_count()
    gc.callbacks.append(count)
    try:
        with frozen_start():
            assert not gc.isenabled()
            kept = [[n] for n in range(50_000)]  # would start dozens of collections
        assert collections == []
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen_before + len(kept)
        # A scan hands everything back to the collector when it ends.
        with relaxed_gc():
            pass
        assert gc.get_freeze_count() == 0
    finally:
        gc.callbacks.remove(count)
        gc.unfreeze()


def test_a_failed_start_freezes_nothing_and_restores_the_collector() -> None:
    gc.unfreeze()
    with pytest.raises(KeyError), frozen_start():
        raise KeyError("boom")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_start_leaves_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with frozen_start():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
